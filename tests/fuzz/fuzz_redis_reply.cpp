// Bytes as whatever answers on a Redis port may send them: hiredis's reader building Herald's
// replies, the pub/sub classifier, and the subscriber's state machine fed with what comes out.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "herald/redis/error.hpp"
#include "herald/redis/pubsub_frame.hpp"
#include "herald/redis/reply_parser.hpp"
#include "herald/redis/subscription_state.hpp"

using namespace herald::redis;

namespace {

// A view that lies inside one of the reply's strings, as the classifier promises.
bool inside(const Reply& reply, std::string_view view) {
    if (view.empty()) return true;
    if (!reply.text.empty() && view.data() >= reply.text.data() &&
        view.data() + view.size() <= reply.text.data() + reply.text.size())
        return true;
    for (const Reply& element : reply.elements)
        if (inside(element, view)) return true;
    return false;
}

void drain(ReplyParser& parser, SubscriptionState& state, Clock::time_point now) {
    for (;;) {
        auto next = parser.next();
        if (!next) {
            // hiredis's errors are sticky: the connection is dropped, never read again.
            if (parser.next().has_value() || parser.error_text().empty()) __builtin_trap();
            return;
        }
        if (!*next) return;
        const Reply& reply = **next;
        PubSubFrame frame = classify_pubsub_frame(reply);
        if (!inside(reply, frame.channel) || !inside(reply, frame.payload)) __builtin_trap();
        if (frame.kind == PubSubFrame::Kind::message &&
            (reply.elements.size() != 3 || frame.channel.data() != reply.elements[1].text.data()))
            __builtin_trap();

        auto outcome = state.push_reply(reply, now);
        using Kind = SubscriptionState::Outcome::Kind;
        if (outcome.kind == Kind::message && !state.wants(outcome.channel)) __builtin_trap();
        if (outcome.kind == Kind::unexpected || outcome.kind == Kind::handshake_refused) {
            // What the subscriber does: drop the link, and start over on a new one.
            state.on_link_lost(make_error_code(RedisError::protocol_error));
            if (state.has_writes() || state.head_deadline()) __builtin_trap();
            state.begin_handshake({Command{"PING"}}, now);
        }
        state.take_writes();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte says where the rest is cut in two reads: replies split anywhere.
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::size_t cut = data[0] % (bytes.size() + 1);

    Clock::time_point now{};
    ReplyParser parser(64 * 1024);
    SubscriptionState state({std::chrono::seconds(2), 2});
    // A set of channels to resubscribe, so that confirmations have something to match.
    for (std::string_view channel : {"a", "b", "c"})
        state.subscribe(std::string(channel), {}, now);
    state.begin_handshake({Command{"PING"}}, now);
    state.take_writes();

    parser.feed(bytes.substr(0, cut));
    drain(parser, state, now);
    parser.feed(bytes.substr(cut));
    drain(parser, state, now);
    return 0;
}
