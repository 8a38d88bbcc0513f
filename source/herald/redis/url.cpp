#include "herald/redis/url.hpp"

#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace herald::redis {
namespace {

using Parsed = boost::system::result<RedisSettings, std::string>;

// Explicitly an error: RedisSettings is an aggregate, which C++20 can build from a string too.
Parsed failure(const char* text) {
    return Parsed(boost::system::in_place_error, text);
}

// A whole non-negative decimal number no larger than `most`.
std::optional<long> parse_number(std::string_view text, long most) {
    long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > most)
        return std::nullopt;
    return value;
}

}  // namespace

Parsed parse_redis_url(std::string_view url, std::optional<std::string> password_override) {
    // Every message below is fixed text: the URL itself may carry the password.
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return failure("redis URL is not a valid URL");
    const boost::urls::url_view& view = *parsed;

    if (view.scheme_id() == boost::urls::scheme::unknown && view.scheme() == "rediss")
        return failure("redis URL: rediss:// (TLS) is not supported");
    if (view.scheme() != "redis") return failure("redis URL must start with redis://");
    if (view.has_query() || view.has_fragment())
        return failure("redis URL must not have a query or a fragment");

    RedisSettings settings;
    switch (view.host_type()) {
        case boost::urls::host_type::ipv4:
        case boost::urls::host_type::name:
            settings.host = view.host();
            break;
        case boost::urls::host_type::ipv6:
            settings.host = view.host_address();  // without the brackets
            break;
        default:
            return failure("redis URL has no host");
    }
    if (settings.host.empty()) return failure("redis URL has no host");

    if (view.has_port()) {
        auto port = parse_number(view.port(), 65535);
        if (!port || *port == 0) return failure("redis URL has a bad port");
        settings.port = static_cast<std::uint16_t>(*port);
    }

    if (view.has_userinfo()) {
        // [user]:password. A bare "secret@" is ambiguous (user or password?): refused.
        if (!view.has_password()) return failure("redis URL user info must be [user]:password");
        settings.user = view.user();
        settings.password = view.password();
    }
    if (password_override) settings.password = std::move(*password_override);

    std::string_view path = view.encoded_path();
    // An authority that runs into the path ("h:12x") leaves a path without its slash.
    if (!path.empty() && path.front() != '/') return failure("redis URL is not a valid URL");
    if (!path.empty() && path != "/") {
        // Redis counts databases with an int; its default has 16 of them.
        auto db = parse_number(path.substr(1), 1'000'000);
        if (!db) return failure("redis URL has a bad database number");
        settings.db = static_cast<int>(*db);
    }
    return settings;
}

std::string describe(const RedisSettings& settings) {
    std::string text = "redis://";
    if (!settings.user.empty()) {
        text += settings.user;
        text += '@';
    }
    bool ipv6 = settings.host.find(':') != std::string::npos;
    if (ipv6) text += '[';
    text += settings.host;
    if (ipv6) text += ']';
    text += ':';
    text += std::to_string(settings.port);
    if (settings.db != 0) {
        text += '/';
        text += std::to_string(settings.db);
    }
    return text;
}

}  // namespace herald::redis
