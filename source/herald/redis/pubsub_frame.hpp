// What a reply on a subscribed connection is: a message, a confirmation, a pong, or trouble.
#pragma once

#include <cstdint>
#include <string_view>

#include "herald/redis/reply.hpp"

namespace herald::redis {

struct PubSubFrame {
    enum class Kind {
        message,      // ["message", channel, payload]
        subscribe,    // ["subscribe", channel, count]: one per channel of a SUBSCRIBE
        unsubscribe,  // ["unsubscribe", channel, count]: likewise
        pong,         // ["pong", payload] while subscribed, +PONG when not
        error,        // -ERR ...: the answer to one whole command
        unexpected,   // anything else (pmessage, smessage, a stray value): out of step
    };

    Kind kind = Kind::unexpected;
    std::string_view channel;  // message, subscribe, unsubscribe
    std::string_view payload;  // message, pong; error: Redis's text
    std::int64_t count = 0;    // subscribe, unsubscribe: the connection's subscriptions now
};

// The views point into `reply`, which must outlive the frame.
PubSubFrame classify_pubsub_frame(const Reply& reply);

}  // namespace herald::redis
