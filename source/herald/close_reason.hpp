// The one table of the reasons Herald closes a WebSocket: code, reason text, and whether a client
// should come back. The reason texts are the contract that clients read (the JavaScript client
// in source/js keeps the same table); codes stay the standard ones (1008 and friends).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace herald {

enum class TokenError;

// What a client should do after the server closed its connection.
enum class Comeback : std::uint8_t {
    now,             // reconnect (with backoff) and resume: nothing is wrong with the client
    with_new_token,  // reconnect once it holds a fresh token
    never,           // the login or the client is refused: retrying cannot help
};

struct CloseReason {
    std::uint16_t code;
    std::string_view reason;  // sent in the close frame; never more than 123 bytes
    Comeback comeback;
    std::string_view slug;  // the label of the metrics that count it
};

namespace close_reasons {

// Closes of a connection in service.
inline constexpr CloseReason shutdown{1001, "server shutting down", Comeback::now, "shutdown"};
inline constexpr CloseReason slow_consumer{1008, "slow consumer", Comeback::now, "slow_consumer"};
inline constexpr CloseReason pong_timeout{1008, "pong timeout", Comeback::now, "pong_timeout"};
inline constexpr CloseReason token_expired{1008, "token expired", Comeback::with_new_token,
                                           "token_expired"};
inline constexpr CloseReason inbound_rate{1008, "inbound rate limit exceeded", Comeback::now,
                                          "inbound_rate"};
inline constexpr CloseReason refresh_for_another_sub{1008, "refresh token is for another sub",
                                                     Comeback::never, "bad_refresh"};
// The user's stream began anew (a cluster's Redis lost its data) or lost messages it cannot
// replay: the client comes back, resumes, and learns from `recovered` what it missed.
inline constexpr CloseReason stream_reset{1012, "stream reset", Comeback::now, "stream_reset"};
// The engine cannot serve the connection for now (a cluster's Redis is unreachable).
inline constexpr CloseReason try_again_later{1013, "try again later", Comeback::now,
                                             "try_again_later"};
// POST /disconnect: every connection of the user, on every node. Without "reconnect", for good
// (a logout everywhere, a ban): the client must not come back by itself. With it, the client
// comes back at once and logs in again, with a fresh token and so with fresh claims.
inline constexpr CloseReason disconnected{1008, "disconnected", Comeback::never, "disconnected"};
inline constexpr CloseReason reconnect{1012, "reconnect", Comeback::now, "reconnect"};

// Refused logins.
inline constexpr CloseReason login_timeout{1008, "login timeout", Comeback::now, "login_timeout"};
inline constexpr CloseReason login_not_text{1008, "login must be a text frame", Comeback::never,
                                            "bad_login"};
inline constexpr CloseReason login_not_json{1008, "login is not valid JSON", Comeback::never,
                                            "bad_login"};
inline constexpr CloseReason login_not_object{1008, "login must be a JSON object", Comeback::never,
                                              "bad_login"};
inline constexpr CloseReason unsupported_version{1008, "unsupported protocol version",
                                                 Comeback::never, "bad_login"};
inline constexpr CloseReason since_needs_json{1008, "since needs the JSON protocol (\"v\":1)",
                                              Comeback::never, "bad_login"};
inline constexpr CloseReason since_needs_seq{1008, "since needs a seq", Comeback::never,
                                             "bad_login"};
inline constexpr CloseReason since_epoch_not_string{1008, "since epoch must be a string",
                                                    Comeback::never, "bad_login"};
inline constexpr CloseReason token_not_string{1008, "token must be a non-empty string",
                                              Comeback::never, "bad_login"};
inline constexpr CloseReason uid_missing{1008, "uid is missing", Comeback::never, "bad_login"};
inline constexpr CloseReason uid_not_string{1008, "uid must be a string", Comeback::never,
                                            "bad_login"};
inline constexpr CloseReason uid_empty{1008, "uid is empty", Comeback::never, "bad_login"};
inline constexpr CloseReason uid_too_long{1008, "uid is longer than 128 bytes", Comeback::never,
                                          "bad_login"};
inline constexpr CloseReason uid_control{1008, "uid has control characters", Comeback::never,
                                         "bad_login"};
inline constexpr CloseReason uid_not_utf8{1008, "uid is not valid UTF-8", Comeback::never,
                                          "bad_login"};
inline constexpr CloseReason token_required{1008, "token required", Comeback::never,
                                            "token_required"};
inline constexpr CloseReason token_malformed{1008, "malformed token", Comeback::never, "bad_token"};
inline constexpr CloseReason token_algorithm{1008, "token algorithm not allowed", Comeback::never,
                                             "bad_token"};
inline constexpr CloseReason token_signature{1008, "bad token signature", Comeback::never,
                                             "bad_token"};
inline constexpr CloseReason token_not_yet_valid{1008, "token not yet valid", Comeback::never,
                                                 "bad_token"};
inline constexpr CloseReason token_audience{1008, "wrong token audience", Comeback::never,
                                            "bad_token"};
inline constexpr CloseReason token_issuer{1008, "wrong token issuer", Comeback::never, "bad_token"};
inline constexpr CloseReason token_no_sub{1008, "token has no valid sub", Comeback::never,
                                          "bad_token"};
// A token valid for ever, refused while --token-require-exp is on (the default).
inline constexpr CloseReason token_no_exp{1008, "token has no exp", Comeback::never, "bad_token"};

// Every entry, in the order of the README's table.
inline constexpr std::array all{
    // Closes of a connection in service.
    &shutdown,
    &slow_consumer,
    &pong_timeout,
    &token_expired,
    &inbound_rate,
    &refresh_for_another_sub,
    &stream_reset,
    &try_again_later,
    &disconnected,
    &reconnect,
    // Refused logins.
    &login_timeout,
    &login_not_text,
    &login_not_json,
    &login_not_object,
    &unsupported_version,
    &since_needs_json,
    &since_needs_seq,
    &since_epoch_not_string,
    &token_not_string,
    &uid_missing,
    &uid_not_string,
    &uid_empty,
    &uid_too_long,
    &uid_control,
    &uid_not_utf8,
    &token_required,
    &token_malformed,
    &token_algorithm,
    &token_signature,
    &token_not_yet_valid,
    &token_audience,
    &token_issuer,
    &token_no_sub,
    &token_no_exp,
};

// The close for a refused token (at login or on a refresh).
const CloseReason& token_refusal(TokenError error);

}  // namespace close_reasons
}  // namespace herald
