// Herald's wire formats, as pure functions without sockets: the login frame, the publish
// requests, and the frames clients receive. Everything here parses untrusted input; the domain
// types it produces are in message.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include "herald/close_reason.hpp"
#include "herald/message.hpp"

namespace herald {

inline constexpr std::size_t max_uid_size = 128;

struct Login {
    std::string uid;    // empty when the login carries a token instead
    std::string token;  // a JWT, when logins are authenticated
    Protocol protocol = Protocol::seed;
    std::optional<Since> since;  // JSON protocol only
};

inline constexpr std::size_t max_token_size = 8 * 1024;

// The reason a login is refused: its entry of the close table.
using LoginError = const CloseReason*;

// Parses the first frame of a connection: {"uid":"123"}, {"token":"<jwt>"}, either with "v":1.
// Unknown members are ignored, so later protocol versions can add to the login. Whether a
// token is required, and what it says, is the session's business.
boost::system::result<Login, LoginError> parse_login(std::string_view frame);

// Why `uid` cannot name a user (empty, too long, control characters, not UTF-8), or nothing: as
// the close table's entry for a login, and as its text for an HTTP answer.
const CloseReason* uid_refusal(std::string_view uid);
std::optional<std::string_view> uid_error(std::string_view uid);

inline constexpr std::size_t max_key_size = 128;

// Why `key` cannot be a collapse key (the rules of a uid), or nothing.
std::optional<std::string_view> key_error(std::string_view key);

// A publish: the message for each listed user. Duplicate uids are dropped, so each user
// receives the message once.
struct SendRequest {
    std::vector<std::string> uids;
    bool listed = false;         // given as a "uids" list, which is answered with each uid's seq
    boost::json::value message;  // a string is delivered as is, anything else as its JSON text
    std::string key;             // the collapse key (MessageBody::key); empty: none
    // wait=ack: the answer waits for an acknowledgement, at most timeout_ms (when given; the
    // server's default otherwise, and never past its bound).
    bool wait_for_ack = false;
    std::optional<std::uint64_t> timeout_ms;
};

// GET /send?uid=U&message=M, from the request target (percent-decoding, '+' as space).
boost::system::result<SendRequest, std::string> parse_send_query(std::string_view target);

// GET /presence?uid=U: the uid, percent-decoded and checked as a login's.
boost::system::result<std::string, std::string_view> parse_uid_query(std::string_view target);

// The protocol that an upgrade with a Bearer token asks for in its request target: JSON with
// the parameter v=1 (the first v counts), the seed's otherwise.
Protocol upgrade_protocol(std::string_view target);

// POST /send with {"uid":"U","message":M} or {"uids":["U1","U2"],"message":M}.
boost::system::result<SendRequest, std::string> parse_send_body(std::string_view body);

// POST /send with {"messages":[entry, ...]}, each entry as a single publish's body (without
// wait=ack), at most max_batch of them.
struct BatchRequest {
    std::vector<SendRequest> entries;
};
// Why a body is refused; `index`, the entry at fault in a batch.
struct BatchError {
    std::string error;
    std::optional<std::size_t> index = std::nullopt;
};
using PublishBody = std::variant<SendRequest, BatchRequest>;
// A POST /send body: a single publish or a batch.
boost::system::result<PublishBody, BatchError> parse_publish_body(std::string_view body,
                                                                  std::size_t max_batch);

// POST /disconnect with {"uid":"U"} or {"uid":"U","reconnect":true}.
struct DisconnectRequest {
    std::string uid;
    bool reconnect = false;
};
boost::system::result<DisconnectRequest, std::string> parse_disconnect_body(std::string_view body);

// {"type":"welcome","uid":"...","epoch":"...","seq":N[,"recovered":b],"ping_interval_ms":P}: sent
// to a JSON-protocol connection once it is registered, before any message. P is the keep-alive
// interval, at which the connection also gets `ping_frame` (a page cannot see WebSocket pings).
std::string welcome_frame(std::string_view uid, const StreamPosition& position,
                          std::int64_t ping_interval_ms);
inline constexpr std::string_view ping_frame = R"({"type":"ping"})";

// GET /sse?v=1[&uid=U][&token=T]: what an event stream's URL says (the first of each name counts;
// values percent-decoded, '+' as space). The uid is checked as a login's; the token is not
// looked at here.
struct EventStreamQuery {
    bool json_protocol = false;  // v=1, the only protocol an event stream speaks
    std::optional<std::string> uid;
    std::optional<std::string> token;
};
boost::system::result<EventStreamQuery, std::string_view> parse_event_stream_query(
    std::string_view target);

// An event stream's Last-Event-ID, as its events' ids write it: "<epoch>:<seq>", or a bare
// "<seq>" (no epoch: what is kept after it, not a recovery).
boost::system::result<Since, std::string_view> parse_last_event_id(std::string_view id);
// The id of a message event: "<epoch>:<seq>".
std::string event_id(std::string_view epoch, std::uint64_t seq);
// {"type":"close","code":C,"reason":"R"}: the last event of an event stream that the server
// ends, with the close table's code and reason (what a WebSocket's close frame says).
std::string close_event(const CloseReason& reason);

// A command a JSON-protocol client sends after its login.
struct Command {
    enum class Kind { refresh, ack, unknown } kind = Kind::unknown;
    std::string token;      // refresh: the new token
    std::uint64_t seq = 0;  // ack: every message up to this seq was handled
};
// Parses a frame sent after the login; an error is a close reason.
boost::system::result<Command, std::string_view> parse_command(std::string_view frame);

bool is_valid_utf8(std::string_view text);

}  // namespace herald
