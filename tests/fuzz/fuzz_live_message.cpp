// Bytes as anyone with access to Redis may publish them on a channel: the live payload's
// decoder and the channel-to-uid mapping refuse or accept, never crash, and whatever they
// accept comes back the same through the encoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "herald/cluster/keys.hpp"
#include "herald/cluster/live_message.hpp"

using namespace herald::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // Up to a first NUL, the channel and then the payload; without one, all payload on a
    // user's channel, so that most inputs reach the payload's parser.
    std::string channel = channel_of("fuzz");
    std::string_view payload = bytes;
    if (auto nul = bytes.find('\0'); nul != std::string_view::npos) {
        channel.assign(bytes.substr(0, nul));
        payload = bytes.substr(nul + 1);
    }
    if (auto uid = uid_of_channel(channel); uid && channel_of(*uid) != channel) __builtin_trap();

    auto decoded = decode_live_message(channel, payload);
    if (!decoded) {
        if (decoded.error().empty()) __builtin_trap();  // a refusal always says why
        return 0;
    }
    const LiveMessage& message = *decoded;
    if (message.seq == 0 || message.epoch.empty() || !message.body) __builtin_trap();
    // The body is the payload's tail as it came, and its text follows from its kind.
    if (!payload.ends_with(message.body->data_json)) __builtin_trap();
    if (body_kind(*message.body) == 'j' && message.body->text != message.body->data_json)
        __builtin_trap();

    auto again = decode_live_message(channel, encode_live_message(message));
    if (!again || again->uid != message.uid || again->epoch != message.epoch ||
        again->seq != message.seq || again->time_ms != message.time_ms ||
        again->body->text != message.body->text ||
        again->body->data_json != message.body->data_json)
        __builtin_trap();
    return 0;
}
