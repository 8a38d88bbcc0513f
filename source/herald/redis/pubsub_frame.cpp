#include "herald/redis/pubsub_frame.hpp"

namespace herald::redis {
namespace {

// Redis sends channels and payloads as bulk strings; a channel-less unsubscribe (nil) only
// answers a bare UNSUBSCRIBE, which Herald never sends.
bool is_text(const Reply& reply) {
    return reply.type == Reply::Type::string;
}

}  // namespace

PubSubFrame classify_pubsub_frame(const Reply& reply) {
    using Kind = PubSubFrame::Kind;
    if (reply.type == Reply::Type::error) return {Kind::error, {}, reply.text, 0};
    // RESP2 answers PING with +PONG once a connection holds no subscription.
    if (reply.type == Reply::Type::status)
        return {reply.text == "PONG" ? Kind::pong : Kind::unexpected, {}, {}, 0};
    if (reply.type != Reply::Type::array || reply.elements.empty() || !is_text(reply.elements[0]))
        return {};

    const auto& parts = reply.elements;
    std::string_view kind = parts[0].text;
    if (kind == "message" && parts.size() == 3 && is_text(parts[1]) && is_text(parts[2]))
        return {Kind::message, parts[1].text, parts[2].text, 0};
    if ((kind == "subscribe" || kind == "unsubscribe") && parts.size() == 3 && is_text(parts[1]) &&
        parts[2].type == Reply::Type::integer && parts[2].integer >= 0)
        return {kind == "subscribe" ? Kind::subscribe : Kind::unsubscribe,
                parts[1].text,
                {},
                parts[2].integer};
    if (kind == "pong" && parts.size() == 2 && is_text(parts[1]))
        return {Kind::pong, {}, parts[1].text, 0};
    return {};
}

}  // namespace herald::redis
