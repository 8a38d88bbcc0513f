// Herald's wire formats, as pure functions without sockets: the login frame, the publish
// requests, and the frames clients receive. Everything here parses untrusted input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

namespace herald {

inline constexpr std::size_t max_uid_size = 128;

// How a connection receives messages: the seed's raw text frames, or JSON envelopes.
enum class Protocol : std::uint8_t { seed, json };

// Where a resuming client left its stream: the messages after `seq` are wanted. Without an
// epoch, everything the server still keeps after `seq` (seq 0: all of it).
struct Since {
    std::optional<std::string> epoch;
    std::uint64_t seq = 0;
};

struct Login {
    std::string uid;    // empty when the login carries a token instead
    std::string token;  // a JWT, when logins are authenticated
    Protocol protocol = Protocol::seed;
    std::optional<Since> since;  // JSON protocol only
};

inline constexpr std::size_t max_token_size = 8 * 1024;

// The reason a login is refused; it becomes the WebSocket close reason, so it stays short.
using LoginError = std::string_view;

// Parses the first frame of a connection: {"uid":"123"}, {"token":"<jwt>"}, either with "v":1.
// Unknown members are ignored, so later protocol versions can add to the login. Whether a
// token is required, and what it says, is the session's business.
boost::system::result<Login, LoginError> parse_login(std::string_view frame);

// Why `uid` cannot name a user (empty, too long, control characters, not UTF-8), or nothing.
std::optional<std::string_view> uid_error(std::string_view uid);

// A publish: the message for each listed user. Duplicate uids are dropped, so each user
// receives the message once.
struct SendRequest {
    std::vector<std::string> uids;
    bool listed = false;         // given as a "uids" list, which is answered with each uid's seq
    boost::json::value message;  // a string is delivered as is, anything else as its JSON text
};

// GET /send?uid=U&message=M, from the request target (percent-decoding, '+' as space).
boost::system::result<SendRequest, std::string> parse_send_query(std::string_view target);

// The protocol that an upgrade with a Bearer token asks for in its request target: JSON with
// the parameter v=1 (the first v counts), the seed's otherwise.
Protocol upgrade_protocol(std::string_view target);

// POST /send with {"uid":"U","message":M} or {"uids":["U1","U2"],"message":M}.
boost::system::result<SendRequest, std::string> parse_send_body(std::string_view body);

// The content of one publish, immutable once built and shared by every user and connection it
// goes to: never copied per recipient.
struct MessageBody {
    std::string text;       // what a seed-protocol connection receives: a string as is, else JSON
    std::string data_json;  // the message as JSON text: the "data" of a JSON-protocol envelope
};
using MessageBodyPtr = std::shared_ptr<const MessageBody>;

MessageBodyPtr make_message(const boost::json::value& message);

// One message in one user's stream: its number there, its time, and the shared body. Kept in the
// stream's history and shared by the user's connections. A JSON-protocol connection sends
// `envelope_head`, the body's data_json and `envelope_tail` as one frame, so the body is not
// copied into each user's envelope.
// `{"type":"message","seq":17,"time":...,"data":`, held inline rather than in a std::string: a
// Delivery is made for every user of every publish, and this makes it one allocation, not two.
class EnvelopeHead {
  public:
    EnvelopeHead() = default;
    EnvelopeHead(std::uint64_t seq, std::int64_t time_ms);

    std::string_view view() const { return {bytes_.data(), size_}; }
    std::size_t size() const { return size_; }

  private:
    // The longest: 24 + 20 digits of seq + 8 + 20 characters of time + 8.
    std::array<char, 80> bytes_{};
    std::uint8_t size_ = 0;
};

struct Delivery {
    std::uint64_t seq = 0;
    std::int64_t time_ms = 0;
    EnvelopeHead envelope_head;
    MessageBodyPtr body;

    std::size_t size(Protocol protocol) const {
        return protocol == Protocol::seed ? body->text.size()
                                          : envelope_head.size() + body->data_json.size() + 1;
    }
};
using DeliveryPtr = std::shared_ptr<const Delivery>;
inline constexpr std::string_view envelope_tail = "}";

DeliveryPtr make_delivery(MessageBodyPtr body, std::uint64_t seq, std::int64_t time_ms);

// Where a JSON-protocol connection starts in its stream, told in its welcome.
struct StreamPosition {
    std::string epoch;              // changes whenever the stream's history could have been lost
    std::uint64_t seq = 0;          // the last message of the stream so far
    std::optional<bool> recovered;  // for a resuming login: whether every missed message follows
};

// {"type":"welcome","uid":"...","epoch":"...","seq":N[,"recovered":b],"ping_interval_ms":P}: sent
// to a JSON-protocol connection once it is registered, before any message. P is the keep-alive
// interval, at which the connection also gets `ping_frame` (a page cannot see WebSocket pings).
std::string welcome_frame(std::string_view uid, const StreamPosition& position,
                          std::int64_t ping_interval_ms);
inline constexpr std::string_view ping_frame = R"({"type":"ping"})";

// A command a JSON-protocol client sends after its login.
struct Command {
    enum class Kind { refresh, unknown } kind = Kind::unknown;
    std::string token;  // refresh: the new token
};
// Parses a frame sent after the login; an error is a close reason.
boost::system::result<Command, std::string_view> parse_command(std::string_view frame);

bool is_valid_utf8(std::string_view text);

}  // namespace herald
