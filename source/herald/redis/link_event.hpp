// What a Redis connection tells its owner about its link, e.g. for /readyz and to catch users
// up after an outage.
#pragma once

#include <string_view>

namespace herald::redis {

enum class LinkEvent {
    connected,     // the handshake is done: requests are accepted from now on
    disconnected,  // the link is gone: requests fail at once until the next `connected`
    // (subscriber only) every channel that was in the subscriber's set when the link came up
    // is subscribed again; messages published while it was down were lost, so catch up now.
    // Reported after every `connected`, even with no channels.
    resubscribed,
};

constexpr std::string_view to_string(LinkEvent event) {
    switch (event) {
        case LinkEvent::connected:
            return "connected";
        case LinkEvent::disconnected:
            return "disconnected";
        case LinkEvent::resubscribed:
            return "resubscribed";
    }
    return "unknown";
}

}  // namespace herald::redis
