// The pub/sub payload of a cluster: how a message published on one node reaches the others,
// and how a message body is stored in a user's stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "herald/message.hpp"

namespace herald::cluster {

// A message as it arrives on a user's channel: numbered in its stream under its epoch.
struct LiveMessage {
    std::string uid;
    std::string epoch;
    std::uint64_t seq = 0;
    std::int64_t time_ms = 0;
    MessageBodyPtr body;
};

// The payload, as the publish script writes it (and encode_live_message, its twin for tests):
//
//     herald2\n<epoch>\n<seq>\n<time_ms>\n<kind>\n<key>\n<data_json>
//
// a version line, then the stream position, then the body: its kind ('s' for a JSON string,
// 'j' for any other JSON value), its collapse key (empty: none; a key holds no control
// character), and its JSON text, to the end. Decimal integers; the epoch is
// printable ASCII without spaces. Lines, not JSON: the header is read without parsing the
// body, and the body is not escaped a second time.
inline constexpr std::string_view live_message_version = "herald2";

// The body's kind as stored: a string is delivered as its text, anything else as its JSON
// (make_message's rule), and serialized JSON starts with '"' exactly when it is a string.
char body_kind(const MessageBody& body);

// The body of a stored or live message from its kind and JSON text: for 's', the text is the
// JSON string decoded; for 'j', the JSON itself. Refused (with why, never with the body): an
// unknown kind, JSON that does not parse, or a kind that does not match the JSON.
boost::system::result<MessageBodyPtr, std::string> decode_body(std::string_view kind,
                                                               std::string_view data_json,
                                                               std::string_view key = {});

std::string encode_live_message(const LiveMessage& message);

// A command for every node that holds connections of a user, sent on the user's channel:
//
//     herald-control1\n<action>
//
// Its version line is not a message's, so it can never be taken for one: a node that knows only
// messages refuses it as an unknown payload version, and delivers nothing.
enum class ControlAction : std::uint8_t {
    disconnect,  // close the user's connections with 1008 "disconnected"
    reconnect,   // close them with 1012 "reconnect"
};
struct ControlMessage {
    std::string uid;
    ControlAction action = ControlAction::disconnect;
};
inline constexpr std::string_view control_message_version = "herald-control1";

std::string encode_control_message(ControlAction action);
// Whether `payload` is a control message (its version line), rather than a live message.
bool is_control_message(std::string_view payload);
// Refused with why when the channel is not a user's or the action is unknown.
boost::system::result<ControlMessage, std::string> decode_control_message(std::string_view channel,
                                                                          std::string_view payload);

// The message in `payload`, received on `channel` (which names its user). Refused with why
// (never quoting the body) when the channel is not a user's or anything in the payload is
// malformed: the version, a field, or the body.
boost::system::result<LiveMessage, std::string> decode_live_message(std::string_view channel,
                                                                    std::string_view payload);

}  // namespace herald::cluster
