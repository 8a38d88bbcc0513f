#include "herald/cluster/live_message.hpp"

#include <charconv>
#include <memory>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "herald/cluster/keys.hpp"

namespace herald::cluster {
namespace json = boost::json;
namespace {

// Why a payload is refused, as the error of whichever result it is returned as. Built with
// in_place_error: a LiveMessage, an aggregate whose first member is a string, would otherwise
// take the text for its uid.
struct Refusal {
    std::string_view why;

    template <typename T>
    operator boost::system::result<T, std::string>() const {
        return {boost::system::in_place_error, std::string(why)};
    }
};

// Epochs are the scripts' 16 hex digits; anything printable is taken, within a bound, so that
// a peer running a later version may choose another form.
constexpr std::size_t max_epoch_size = 64;

bool printable_word(std::string_view text) {
    for (unsigned char c : text)
        if (c <= ' ' || c >= 0x7f) return false;
    return true;
}

template <typename Integer>
bool parse_integer(std::string_view text, Integer& value) {
    if (text.empty() || text.front() == '-') return false;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

// Cuts the next line off `rest`; false when there is no newline left.
bool next_line(std::string_view& rest, std::string_view& line) {
    auto end = rest.find('\n');
    if (end == std::string_view::npos) return false;
    line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    return true;
}

}  // namespace

char body_kind(const MessageBody& body) {
    return !body.data_json.empty() && body.data_json.front() == '"' ? 's' : 'j';
}

boost::system::result<MessageBodyPtr, std::string> decode_body(std::string_view kind,
                                                               std::string_view data_json,
                                                               std::string_view key) {
    if (kind != "s" && kind != "j") return Refusal{"unknown body kind"};
    // Parsed with the same limits as the HTTP API's (Boost.JSON's defaults), so that whatever
    // a node accepted for publishing, every node can read back. A small buffer on the stack
    // holds the parse of most messages.
    unsigned char buffer[1024];
    json::monotonic_resource resource(buffer, sizeof buffer);
    boost::system::error_code error;
    json::value value = json::parse(data_json, error, &resource);
    if (error) return Refusal{"body is not valid JSON"};
    const json::string* text = value.if_string();
    // And the kind must be the one body_kind() gives the text, which starts a string with its
    // quote, as make_message's JSON does (no blank before it): else the kind would change on
    // its way through another node.
    bool string_kind = kind == "s";
    if (string_kind != (text != nullptr) || string_kind != (data_json.front() == '"'))
        return Refusal{"body kind does not match its JSON"};
    for (unsigned char c : key)
        if (c < 0x20 || c == 0x7f) return Refusal{"bad key"};
    auto body = std::make_shared<MessageBody>();
    body->data_json.assign(data_json);  // as it was written: never serialized again
    if (text)
        body->text.assign(text->data(), text->size());
    else
        body->text = body->data_json;
    body->key.assign(key);
    body->data_prefix = data_prefix_of(key);
    return MessageBodyPtr(std::move(body));
}

std::string encode_live_message(const LiveMessage& message) {
    std::string payload;
    payload.reserve(live_message_version.size() + message.epoch.size() + 48 +
                    message.body->data_json.size());
    payload.append(live_message_version).push_back('\n');
    payload.append(message.epoch).push_back('\n');
    payload.append(std::to_string(message.seq)).push_back('\n');
    payload.append(std::to_string(message.time_ms)).push_back('\n');
    payload.push_back(body_kind(*message.body));
    payload.push_back('\n');
    payload.append(message.body->key).push_back('\n');
    payload.append(message.body->data_json);
    return payload;
}

namespace {
constexpr std::string_view disconnect_action = "disconnect";
constexpr std::string_view reconnect_action = "reconnect";
}  // namespace

std::string encode_control_message(ControlAction action) {
    std::string payload(control_message_version);
    payload.push_back('\n');
    payload.append(action == ControlAction::reconnect ? reconnect_action : disconnect_action);
    return payload;
}

bool is_control_message(std::string_view payload) {
    return payload.size() > control_message_version.size() &&
           payload.starts_with(control_message_version) &&
           payload[control_message_version.size()] == '\n';
}

boost::system::result<ControlMessage, std::string> decode_control_message(
    std::string_view channel, std::string_view payload) {
    ControlMessage message;
    auto uid = uid_of_channel(channel);
    if (!uid) return Refusal{"not a user's channel"};
    message.uid = std::move(*uid);
    if (!is_control_message(payload)) return Refusal{"unknown payload version"};
    std::string_view action = payload.substr(control_message_version.size() + 1);
    if (action == disconnect_action)
        message.action = ControlAction::disconnect;
    else if (action == reconnect_action)
        message.action = ControlAction::reconnect;
    else
        return Refusal{"unknown control action"};
    return message;
}

boost::system::result<LiveMessage, std::string> decode_live_message(std::string_view channel,
                                                                    std::string_view payload) {
    LiveMessage message;
    auto uid = uid_of_channel(channel);
    if (!uid) return Refusal{"not a user's channel"};
    message.uid = std::move(*uid);

    std::string_view rest = payload, version, epoch, seq, time, kind, key;
    if (!next_line(rest, version) || version != live_message_version)
        return Refusal{"unknown payload version"};
    if (!next_line(rest, epoch) || !next_line(rest, seq) || !next_line(rest, time) ||
        !next_line(rest, kind) || !next_line(rest, key))
        return Refusal{"payload header is cut short"};
    if (epoch.empty() || epoch.size() > max_epoch_size || !printable_word(epoch))
        return Refusal{"bad epoch"};
    message.epoch.assign(epoch);
    if (!parse_integer(seq, message.seq) || message.seq == 0) return Refusal{"bad seq"};
    if (!parse_integer(time, message.time_ms)) return Refusal{"bad time"};
    auto body = decode_body(kind, rest, key);
    if (!body) return {boost::system::in_place_error, body.error()};
    message.body = std::move(*body);
    return message;
}

}  // namespace herald::cluster
