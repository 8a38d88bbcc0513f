// Herald's wire formats, as pure functions without sockets: the login frame, the publish
// requests, and the frames clients receive. Everything here parses untrusted input.
#pragma once

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

struct Login {
    std::string uid;    // empty when the login carries a token instead
    std::string token;  // a JWT, when logins are authenticated
    Protocol protocol = Protocol::seed;
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
    boost::json::value message;  // a string is delivered as is, anything else as its JSON text
};

// GET /send?uid=U&message=M, from the request target (percent-decoding, '+' as space).
boost::system::result<SendRequest, std::string> parse_send_query(std::string_view target);
// POST /send with {"uid":"U","message":M} or {"uids":["U1","U2"],"message":M}.
boost::system::result<SendRequest, std::string> parse_send_body(std::string_view body);

// One published message, immutable once built and shared by every recipient: never copied
// per connection.
struct Message {
    std::string text;      // what a seed-protocol connection receives
    std::string envelope;  // what a JSON-protocol connection receives
    const std::string& frame(Protocol protocol) const {
        return protocol == Protocol::seed ? text : envelope;
    }
};
using MessagePtr = std::shared_ptr<const Message>;

MessagePtr make_message(const boost::json::value& message);

// {"type":"welcome","uid":"..."}: sent to a JSON-protocol connection once it is registered.
std::string welcome_frame(std::string_view uid);

// A command a JSON-protocol client sends after its login.
struct Command {
    enum class Kind { refresh, unknown } kind = Kind::unknown;
    std::string token;  // refresh: the new token
};
// Parses a frame sent after the login; an error is a close reason.
boost::system::result<Command, std::string_view> parse_command(std::string_view frame);

bool is_valid_utf8(std::string_view text);

}  // namespace herald
