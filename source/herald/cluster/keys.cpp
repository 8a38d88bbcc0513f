#include "herald/cluster/keys.hpp"

namespace herald::cluster {
namespace {

constexpr std::string_view prefix = "herald:{u:";
constexpr std::string_view channel_suffix = "}:c";

std::string name(std::string_view uid, std::string_view suffix) {
    std::string name;
    name.reserve(prefix.size() + uid.size() + suffix.size());
    name.append(prefix).append(uid).append(suffix);
    return name;
}

}  // namespace

UserKeys user_keys(std::string_view uid) {
    return {name(uid, "}:m"), name(uid, "}:l"),          name(uid, "}:p"),
            name(uid, "}:k"), name(uid, channel_suffix), name(uid, "}:w")};
}

std::string idempotency_key(std::string_view uid, std::string_view key) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string name = cluster::name(uid, "}:i:");
    name.reserve(name.size() + 2 * key.size());
    for (unsigned char byte : key) {
        name.push_back(digits[byte >> 4]);
        name.push_back(digits[byte & 0xf]);
    }
    return name;
}

std::string channel_of(std::string_view uid) {
    return name(uid, channel_suffix);
}

std::optional<std::string> uid_of_channel(std::string_view channel) {
    if (channel.size() <= prefix.size() + channel_suffix.size() || !channel.starts_with(prefix) ||
        !channel.ends_with(channel_suffix))
        return std::nullopt;
    channel.remove_prefix(prefix.size());
    channel.remove_suffix(channel_suffix.size());
    return std::string(channel);
}

}  // namespace herald::cluster
