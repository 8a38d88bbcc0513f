#include "herald/protocol.hpp"

#include <charconv>
#include <unordered_set>

#include <boost/beast/websocket/detail/utf8_checker.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/grammar/string_token.hpp>
#include <boost/url/parse.hpp>

namespace herald {
namespace json = boost::json;

namespace {

// Publishing to the same user twice in one request would deliver the message twice.
// The first occurrence of each uid is kept, in order.
void remove_duplicates(std::vector<std::string>& uids) {
    // The views point into `uids`, which is left untouched until `unique` is complete.
    std::unordered_set<std::string_view> seen;
    seen.reserve(uids.size());
    std::vector<std::string> unique;
    unique.reserve(uids.size());
    for (const auto& uid : uids)
        if (seen.insert(uid).second) unique.push_back(uid);
    uids = std::move(unique);
}

boost::system::result<json::object, std::string> parse_object(std::string_view text,
                                                              std::string_view what) {
    boost::system::error_code error;
    json::value value = json::parse(text, error);
    if (error) return std::string(what) + " is not valid JSON";
    if (!value.is_object()) return std::string(what) + " must be a JSON object";
    return std::move(value.as_object());
}

// Where Boost.URL's bulk decoder writes a decoded value: straight into the string that keeps it
// (std::string or json::string). Decoding through decode_view's iterator, a character at a time,
// cost more than parsing the whole request.
template <typename String>
struct DecodeInto : boost::urls::string_token::arg {
    using result_type = String;
    char* prepare(std::size_t size) override {
        text.resize(size);
        return text.data();
    }
    String result() noexcept { return std::move(text); }
    String text;
};

// A query value, percent-decoded with '+' as a space (the encoding of HTML forms).
template <typename String>
String decode_query_value(boost::urls::pct_string_view value) {
    boost::urls::encoding_opts form;
    form.space_as_plus = true;
    return value.decode(form, DecodeInto<String>{});
}

// Whether a query key, compared decoded, is `name` (a plain name: no '%', '+' or space). Keys
// without escapes, which is all of them in practice, are compared as they are.
bool key_is(boost::urls::pct_string_view key, std::string_view name) {
    if (key.decoded_size() == key.size()) return std::string_view(key.data(), key.size()) == name;
    return *key == name;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    // The same validator Beast applies to inbound text frames, so that what we send passes
    // every client's check too.
    return boost::beast::websocket::detail::check_utf8(text.data(), text.size());
}

const CloseReason* uid_refusal(std::string_view uid) {
    if (uid.empty()) return &close_reasons::uid_empty;
    if (uid.size() > max_uid_size) return &close_reasons::uid_too_long;
    for (std::size_t i = 0; i < uid.size(); ++i) {
        auto c = static_cast<unsigned char>(uid[i]);
        if (c < 0x20 || c == 0x7f) return &close_reasons::uid_control;
        // C1 controls, U+0080 to U+009F: C2 80 to C2 9F in UTF-8. A C2 byte is never inside
        // another character, so looking at pairs finds them whether or not the rest is UTF-8.
        if (c == 0xc2 && i + 1 < uid.size()) {
            auto next = static_cast<unsigned char>(uid[i + 1]);
            if (next >= 0x80 && next <= 0x9f) return &close_reasons::uid_control;
        }
    }
    if (!is_valid_utf8(uid)) return &close_reasons::uid_not_utf8;
    return nullptr;
}

std::optional<std::string_view> uid_error(std::string_view uid) {
    if (const CloseReason* refusal = uid_refusal(uid)) return refusal->reason;
    return std::nullopt;
}

std::optional<std::string_view> key_error(std::string_view key) {
    if (key.empty()) return "key is empty";
    if (key.size() > max_key_size) return "key is longer than 128 bytes";
    for (unsigned char c : key)
        if (c < 0x20 || c == 0x7f) return "key has control characters";
    if (!is_valid_utf8(key)) return "key is not valid UTF-8";
    return std::nullopt;
}

boost::system::result<Login, LoginError> parse_login(std::string_view frame) {
    boost::system::error_code error;
    json::value value = json::parse(frame, error);
    if (error) return &close_reasons::login_not_json;
    const json::object* login = value.if_object();
    if (login == nullptr) return &close_reasons::login_not_object;

    Login result;
    if (const json::value* version = login->if_contains("v")) {
        if (!version->is_int64() || version->as_int64() != 1)
            return &close_reasons::unsupported_version;
        result.protocol = Protocol::json;
    }
    if (const json::value* since = login->if_contains("since")) {
        if (result.protocol != Protocol::json) return &close_reasons::since_needs_json;
        const json::object* position = since->if_object();
        const json::value* seq = position ? position->if_contains("seq") : nullptr;
        if (seq == nullptr || !(seq->is_uint64() || (seq->is_int64() && seq->as_int64() >= 0)))
            return &close_reasons::since_needs_seq;
        Since wanted;
        wanted.seq =
            seq->is_uint64() ? seq->as_uint64() : static_cast<std::uint64_t>(seq->as_int64());
        if (const json::value* epoch = position->if_contains("epoch")) {
            if (!epoch->is_string() || epoch->as_string().size() > 64)
                return &close_reasons::since_epoch_not_string;
            wanted.epoch.emplace(epoch->as_string());
        }
        result.since = std::move(wanted);
    }
    if (const json::value* token = login->if_contains("token")) {
        if (!token->is_string() || token->as_string().empty() ||
            token->as_string().size() > max_token_size)
            return &close_reasons::token_not_string;
        result.token.assign(token->as_string());
    }
    const json::value* uid = login->if_contains("uid");
    if (uid == nullptr) {
        if (result.token.empty()) return &close_reasons::uid_missing;
        return result;
    }
    if (!uid->is_string()) return &close_reasons::uid_not_string;
    std::string_view text = uid->as_string();
    if (const CloseReason* refusal = uid_refusal(text)) return refusal;
    result.uid.assign(text);
    return result;
}

boost::system::result<Command, std::string_view> parse_command(std::string_view frame) {
    boost::system::error_code error;
    json::value value = json::parse(frame, error);
    if (error || !value.is_object()) return std::string_view("command is not a JSON object");
    Command command;
    const json::value* type = value.as_object().if_contains("type");
    if (type == nullptr || !type->is_string()) return std::string_view("command has no type");
    if (type->as_string() == "ack") {
        const json::value* seq = value.as_object().if_contains("seq");
        if (seq == nullptr || !seq->is_number()) return std::string_view("ack needs a seq");
        boost::system::error_code conversion;
        command.seq = seq->to_number<std::uint64_t>(conversion);
        if (conversion) return std::string_view("ack needs a seq");
        command.kind = Command::Kind::ack;
        return command;
    }
    if (type->as_string() != "refresh") return command;  // unknown commands are ignored
    command.kind = Command::Kind::refresh;
    const json::value* token = value.as_object().if_contains("token");
    if (token == nullptr || !token->is_string() || token->as_string().empty() ||
        token->as_string().size() > max_token_size)
        return std::string_view("refresh needs a token");
    command.token.assign(token->as_string());
    return command;
}

constexpr std::string_view wait_error = "wait must be \"ack\"";
constexpr std::string_view timeout_error = "timeout_ms must be a whole number of milliseconds";
constexpr std::string_view timeout_without_wait = "timeout_ms needs wait=ack";

boost::system::result<SendRequest, std::string> parse_send_query(std::string_view target) {
    // The whole target, not parse_query() on the part after '?': in Boost.URL 1.81 that one
    // reads its input as a C string, past the end of a view into the request head.
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return std::string("malformed request target");
    auto params = url->encoded_params();
    // One pass over the encoded parameters; the first of each name counts. Only the two values
    // wanted are decoded, once each, straight into the strings that keep them.
    std::optional<boost::urls::pct_string_view> uid, message, key, wait, timeout_ms;
    for (auto param : params) {
        if (!uid && key_is(param.key, "uid")) {
            if (!param.has_value) return std::string("uid is missing");
            uid = param.value;
        } else if (!message && key_is(param.key, "message")) {
            if (!param.has_value) return std::string("message is missing");
            message = param.value;
        } else if (!key && key_is(param.key, "key")) {
            if (!param.has_value) return std::string("key is empty");
            key = param.value;
        } else if (!wait && key_is(param.key, "wait")) {
            wait = param.value;
        } else if (!timeout_ms && key_is(param.key, "timeout_ms")) {
            timeout_ms = param.value;
        }
    }
    if (!uid) return std::string("uid is missing");
    if (!message) return std::string("message is missing");

    SendRequest request;
    request.uids.push_back(decode_query_value<std::string>(*uid));
    if (auto problem = uid_error(request.uids.front())) return std::string(*problem);
    auto text = decode_query_value<json::string>(*message);
    if (!is_valid_utf8(text)) return std::string("message is not valid UTF-8");
    request.message = std::move(text);
    if (key) {
        request.key = decode_query_value<std::string>(*key);
        if (auto problem = key_error(request.key)) return std::string(*problem);
    }
    if (wait) {
        if (decode_query_value<std::string>(*wait) != "ack") return std::string(wait_error);
        request.wait_for_ack = true;
    }
    if (timeout_ms) {
        std::string text = decode_query_value<std::string>(*timeout_ms);
        std::uint64_t value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || error != std::errc() || end != text.data() + text.size())
            return std::string(timeout_error);
        request.timeout_ms = value;
    }
    if (request.timeout_ms && !request.wait_for_ack) return std::string(timeout_without_wait);
    return request;
}

boost::system::result<std::string, std::string_view> parse_uid_query(std::string_view target) {
    auto url = boost::urls::parse_origin_form(target);
    using Uid = boost::system::result<std::string, std::string_view>;
    if (!url) return Uid(boost::system::in_place_error, "malformed request target");
    for (auto param : url->encoded_params()) {
        if (!key_is(param.key, "uid")) continue;
        if (!param.has_value) break;
        std::string uid = decode_query_value<std::string>(param.value);
        if (auto problem = uid_error(uid)) return Uid(boost::system::in_place_error, *problem);
        return Uid(boost::system::in_place_value, std::move(uid));
    }
    return Uid(boost::system::in_place_error, "uid is missing");
}

boost::system::result<EventStreamQuery, std::string_view> parse_event_stream_query(
    std::string_view target) {
    using Parsed = boost::system::result<EventStreamQuery, std::string_view>;
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return Parsed(boost::system::in_place_error, "malformed request target");
    EventStreamQuery query;
    bool version_seen = false;
    for (auto param : url->encoded_params()) {
        if (!version_seen && key_is(param.key, "v")) {
            version_seen = true;
            query.json_protocol = param.has_value && key_is(param.value, "1");
        } else if (!query.uid && key_is(param.key, "uid")) {
            query.uid = param.has_value ? decode_query_value<std::string>(param.value) : "";
        } else if (!query.token && key_is(param.key, "token")) {
            query.token = param.has_value ? decode_query_value<std::string>(param.value) : "";
        }
    }
    if (!query.json_protocol)
        return Parsed(boost::system::in_place_error, close_reasons::unsupported_version.reason);
    if (query.uid)
        if (auto problem = uid_error(*query.uid))
            return Parsed(boost::system::in_place_error, *problem);
    if (query.token && (query.token->empty() || query.token->size() > max_token_size))
        return Parsed(boost::system::in_place_error, close_reasons::token_not_string.reason);
    return query;
}

boost::system::result<Since, std::string_view> parse_last_event_id(std::string_view id) {
    using Parsed = boost::system::result<Since, std::string_view>;
    const Parsed malformed(boost::system::in_place_error, "malformed Last-Event-ID");
    Since since;
    // The last colon: what comes before it is the epoch, whatever it holds.
    auto colon = id.rfind(':');
    std::string_view seq = id;
    if (colon != std::string_view::npos) {
        std::string_view epoch = id.substr(0, colon);
        if (epoch.empty() || epoch.size() > 64) return malformed;
        for (unsigned char c : epoch)
            if (c <= 0x20 || c >= 0x7f) return malformed;
        since.epoch.emplace(epoch);
        seq = id.substr(colon + 1);
    }
    if (seq.empty() || seq.front() == '-' || seq.front() == '+') return malformed;
    auto [end, error] = std::from_chars(seq.data(), seq.data() + seq.size(), since.seq);
    if (error != std::errc() || end != seq.data() + seq.size()) return malformed;
    return since;
}

std::string event_id(std::string_view epoch, std::uint64_t seq) {
    std::string id(epoch);
    id += ':';
    id += std::to_string(seq);
    return id;
}

std::string close_event(const CloseReason& reason) {
    return json::serialize(
        json::object{{"type", "close"}, {"code", reason.code}, {"reason", reason.reason}});
}

Protocol upgrade_protocol(std::string_view target) {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return Protocol::seed;
    for (auto param : url->encoded_params()) {
        if (!key_is(param.key, "v")) continue;
        return param.has_value && key_is(param.value, "1") ? Protocol::json : Protocol::seed;
    }
    return Protocol::seed;
}

namespace {

// One publish as a JSON object: the POST body, or an entry of a batch.
boost::system::result<SendRequest, std::string> send_request_of(json::object* object) {
    SendRequest request;
    const json::value* uid = object->if_contains("uid");
    const json::value* uids = object->if_contains("uids");
    if (uid != nullptr && uids != nullptr) return std::string("give uid or uids, not both");
    if (uid != nullptr) {
        if (!uid->is_string()) return std::string("uid must be a string");
        request.uids.emplace_back(uid->as_string());
    } else if (uids != nullptr) {
        if (!uids->is_array()) return std::string("uids must be an array of strings");
        for (const json::value& each : uids->as_array()) {
            if (!each.is_string()) return std::string("uids must be an array of strings");
            request.uids.emplace_back(each.as_string());
        }
        if (request.uids.empty()) return std::string("uids is empty");
        request.listed = true;
    } else {
        return std::string("uid is missing");
    }
    for (const auto& each : request.uids)
        if (auto problem = uid_error(each)) return std::string(*problem);
    remove_duplicates(request.uids);

    json::value* message = object->if_contains("message");
    if (message == nullptr) return std::string("message is missing");
    request.message = std::move(*message);
    if (const json::value* key = object->if_contains("key")) {
        if (!key->is_string()) return std::string("key must be a string");
        request.key.assign(key->as_string());
        if (auto problem = key_error(request.key)) return std::string(*problem);
    }
    if (const json::value* wait = object->if_contains("wait")) {
        if (!wait->is_string() || wait->as_string() != "ack") return std::string(wait_error);
        request.wait_for_ack = true;
    }
    if (const json::value* timeout = object->if_contains("timeout_ms")) {
        boost::system::error_code conversion;
        std::uint64_t value =
            timeout->is_number() ? timeout->to_number<std::uint64_t>(conversion) : 0;
        if (!timeout->is_number() || conversion) return std::string(timeout_error);
        request.timeout_ms = value;
    }
    if (request.timeout_ms && !request.wait_for_ack) return std::string(timeout_without_wait);
    return request;
}

}  // namespace

boost::system::result<SendRequest, std::string> parse_send_body(std::string_view body) {
    auto object = parse_object(body, "body");
    if (!object) return object.error();
    if (object->contains("messages")) return std::string("a batch is not a single publish");
    return send_request_of(&*object);
}

boost::system::result<PublishBody, BatchError> parse_publish_body(std::string_view body,
                                                                  std::size_t max_batch) {
    auto object = parse_object(body, "body");
    if (!object) return BatchError{object.error()};
    json::value* messages = object->if_contains("messages");
    if (messages == nullptr) {
        auto one = send_request_of(&*object);
        if (!one) return BatchError{one.error()};
        return PublishBody(std::move(*one));
    }
    if (object->size() != 1) return BatchError{"a batch has its messages only"};
    if (!messages->is_array()) return BatchError{"messages must be an array of objects"};
    json::array& entries = messages->as_array();
    if (entries.empty()) return BatchError{"messages is empty"};
    if (entries.size() > max_batch)
        return BatchError{"more than " + std::to_string(max_batch) + " messages (--max-batch)"};
    // Every entry is checked before anything is published: one bad entry, and nothing of the
    // request is.
    BatchRequest batch;
    batch.entries.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (!entries[i].is_object()) return BatchError{"an entry must be a JSON object", i};
        auto entry = send_request_of(&entries[i].as_object());
        if (!entry) return BatchError{entry.error(), i};
        if (entry->wait_for_ack) return BatchError{"wait=ack is not taken in a batch", i};
        batch.entries.push_back(std::move(*entry));
    }
    return PublishBody(std::move(batch));
}

boost::system::result<DisconnectRequest, std::string> parse_disconnect_body(std::string_view body) {
    // With in_place_error: the request, an aggregate whose first member is a string, would
    // otherwise take the error's text for its uid.
    using Parsed = boost::system::result<DisconnectRequest, std::string>;
    auto refused = [](std::string_view why) { return Parsed(boost::system::in_place_error, why); };
    auto object = parse_object(body, "body");
    if (!object) return refused(object.error());
    DisconnectRequest request;
    const json::value* uid = object->if_contains("uid");
    if (uid == nullptr) return refused("uid is missing");
    if (!uid->is_string()) return refused("uid must be a string");
    request.uid.assign(uid->as_string());
    if (auto problem = uid_error(request.uid)) return refused(*problem);
    if (const json::value* reconnect = object->if_contains("reconnect")) {
        if (!reconnect->is_bool()) return refused("reconnect must be true or false");
        request.reconnect = reconnect->as_bool();
    }
    return request;
}

std::string welcome_frame(std::string_view uid, const StreamPosition& position,
                          std::int64_t ping_interval_ms) {
    json::object welcome{
        {"type", "welcome"}, {"uid", uid}, {"epoch", position.epoch}, {"seq", position.seq}};
    if (position.recovered) welcome["recovered"] = *position.recovered;
    welcome["ping_interval_ms"] = ping_interval_ms;
    return json::serialize(welcome);
}

}  // namespace herald
