#include "herald/cluster/script_reply.hpp"

#include <charconv>

#include "herald/cluster/live_message.hpp"
#include "herald/cluster/store_error.hpp"

namespace herald::cluster {
namespace {

using redis::Reply;

const error_code bad_reply = make_error_code(StoreError::bad_reply);

bool is_array(const Reply& reply, std::size_t size) {
    return reply.type == Reply::Type::array && reply.elements.size() == size;
}

// A non-negative integer reply (Lua's numbers come back as integers).
bool unsigned_of(const Reply& reply, std::uint64_t& value) {
    if (reply.type != Reply::Type::integer || reply.integer < 0) return false;
    value = static_cast<std::uint64_t>(reply.integer);
    return true;
}

bool epoch_of(const Reply& reply, std::string& epoch) {
    if (reply.type != Reply::Type::string || reply.text.empty()) return false;
    epoch = reply.text;
    return true;
}

template <typename Integer>
bool parse_decimal(std::string_view text, Integer& value) {
    if (text.empty() || text.front() == '-') return false;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

// A stream entry's id: "<seq>-0", as the publish script writes it.
bool seq_of_id(std::string_view id, std::uint64_t& seq) {
    if (!id.ends_with("-0")) return false;
    id.remove_suffix(2);
    return parse_decimal(id, seq) && seq > 0;
}

// One entry as XRANGE gives it: {id, {t, <ms>, k, <kind>, d, <data_json>[, K, <key>]}} (any
// order).
boost::system::result<StoredMessage> stored_message(const Reply& entry) {
    if (!is_array(entry, 2) || entry.elements[0].type != Reply::Type::string) return bad_reply;
    const Reply& fields = entry.elements[1];
    if (fields.type != Reply::Type::array || fields.elements.size() % 2 != 0) return bad_reply;
    StoredMessage message;
    if (!seq_of_id(entry.elements[0].text, message.seq)) return bad_reply;
    const std::string *time = nullptr, *kind = nullptr, *data = nullptr, *key = nullptr;
    for (std::size_t i = 0; i < fields.elements.size(); i += 2) {
        const Reply& name = fields.elements[i];
        const Reply& value = fields.elements[i + 1];
        if (name.type != Reply::Type::string || value.type != Reply::Type::string) return bad_reply;
        if (name.text == "t")
            time = &value.text;
        else if (name.text == "k")
            kind = &value.text;
        else if (name.text == "d")
            data = &value.text;
        else if (name.text == "K")
            key = &value.text;
    }
    if (!time || !kind || !data || !parse_decimal(*time, message.time_ms)) return bad_reply;
    auto body = decode_body(*kind, *data, key ? std::string_view(*key) : std::string_view());
    if (!body) return bad_reply;
    message.body = std::move(*body);
    return message;
}

}  // namespace

boost::system::result<PublishOutcome> publish_outcome(const Reply& reply) {
    if (reply.is_error()) return make_error_code(StoreError::redis_refused);
    if (!is_array(reply, 4)) return bad_reply;
    PublishOutcome outcome;
    std::uint64_t delivered = 0, duplicate = 0;
    if (!epoch_of(reply.elements[0], outcome.epoch) ||
        !unsigned_of(reply.elements[1], outcome.seq) || outcome.seq == 0 ||
        !unsigned_of(reply.elements[2], delivered) || !unsigned_of(reply.elements[3], duplicate) ||
        duplicate > 1)
        return bad_reply;
    outcome.delivered = static_cast<std::size_t>(delivered);
    outcome.duplicate = duplicate == 1;
    return outcome;
}

namespace {

// A read's position and messages; `evicted` is the last seq evicted (by count or age).
boost::system::result<StreamRead> parse_read(const Reply& reply, std::uint64_t& evicted) {
    if (reply.is_error()) return make_error_code(StoreError::redis_refused);
    if (!is_array(reply, 4)) return bad_reply;
    StreamRead read;
    const Reply& entries = reply.elements[3];
    if (!epoch_of(reply.elements[0], read.position.epoch) ||
        !unsigned_of(reply.elements[1], read.position.seq) ||
        !unsigned_of(reply.elements[2], evicted) || evicted > read.position.seq ||
        entries.type != Reply::Type::array)
        return bad_reply;
    read.messages.reserve(entries.elements.size());
    // In order, after what was evicted, and none beyond the stream's last seq: a reply that
    // breaks this would hand a client messages twice or out of order. Seqs may skip: a message
    // collapsed by a newer one with its key is not kept.
    std::uint64_t previous = evicted;
    for (const Reply& entry : entries.elements) {
        auto message = stored_message(entry);
        if (!message) return message.error();
        if (message->seq <= previous || message->seq > read.position.seq) return bad_reply;
        previous = message->seq;
        read.messages.push_back(std::move(*message));
    }
    return read;
}

void set_recovered(StreamRead& read, const Since& since, std::uint64_t evicted) {
    read.position.recovered = recovered(since, read.position.epoch, read.position.seq, evicted);
}

}  // namespace

boost::system::result<StreamRead> stream_read(const Reply& reply,
                                              const std::optional<Since>& since) {
    std::uint64_t evicted = 0;
    auto read = parse_read(reply, evicted);
    if (read && since) set_recovered(*read, *since, evicted);
    return read;
}

boost::system::result<std::size_t> count_reply(const Reply& reply) {
    if (reply.is_error()) return make_error_code(StoreError::redis_refused);
    std::uint64_t count = 0;
    if (!unsigned_of(reply, count)) return bad_reply;
    return static_cast<std::size_t>(count);
}

boost::system::result<HeartbeatReply> heartbeat_reply(const Reply& reply) {
    if (reply.is_error()) return make_error_code(StoreError::redis_refused);
    if (!is_array(reply, 3) || reply.elements[2].type != Reply::Type::array) return bad_reply;
    HeartbeatReply read;
    std::uint64_t alive = 0, revived = 0;
    if (!unsigned_of(reply.elements[0], alive) || alive == 0 ||
        !unsigned_of(reply.elements[1], revived) || revived > 1)
        return bad_reply;
    read.heartbeat.alive = static_cast<std::size_t>(alive);
    read.heartbeat.revived = revived == 1;
    for (const Reply& node : reply.elements[2].elements) {
        if (node.type != Reply::Type::string || node.text.empty()) return bad_reply;
        read.dead_nodes.append(node.text).push_back('\n');
    }
    return read;
}

boost::system::result<void> done_reply(const Reply& reply) {
    if (reply.is_error()) return make_error_code(StoreError::redis_refused);
    if (reply != Reply::number(1)) return bad_reply;
    return {};
}

bool recovered(const Since& since, std::string_view epoch, std::uint64_t last_seq,
               std::uint64_t evicted) {
    bool same_stream = !since.epoch || *since.epoch == epoch;
    // A seq without an epoch cannot prove which stream it counts in (seq 0, everything kept,
    // needs no proof): what is kept after it is read, but not as a recovery.
    bool proven = since.epoch || since.seq == 0;
    return same_stream && proven && since.seq <= last_seq && since.seq >= evicted;
}

std::optional<std::string> run_id_of(std::string_view info) {
    constexpr std::string_view label = "run_id:";
    std::size_t at = 0;
    while ((at = info.find(label, at)) != std::string_view::npos) {
        // At the start of a line only: not inside another field's name.
        if (at == 0 || info[at - 1] == '\n') {
            std::string_view rest = info.substr(at + label.size());
            std::string_view id = rest.substr(0, rest.find_first_of("\r\n"));
            if (id.empty()) return std::nullopt;
            return std::string(id);
        }
        at += label.size();
    }
    return std::nullopt;
}

}  // namespace herald::cluster
