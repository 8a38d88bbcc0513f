// Herald's domain types: a message, its delivery as one numbered entry of a user's stream, and a
// position in a stream. Built by the server from input already checked; nothing here parses.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

namespace herald {

// How a connection receives messages: the seed's raw text frames, or JSON envelopes.
enum class Protocol : std::uint8_t { seed, json };

// Where a resuming client left its stream: the messages after `seq` are wanted. Without an
// epoch, everything the server still keeps after `seq` (seq 0: all of it).
struct Since {
    std::optional<std::string> epoch;
    std::uint64_t seq = 0;
};

// The content of one publish, immutable once built and shared by every user and connection it
// goes to: never copied per recipient.
struct MessageBody {
    std::string text;       // what a seed-protocol connection receives: a string as is, else JSON
    std::string data_json;  // the message as JSON text: the "data" of a JSON-protocol envelope
    // Progress that collapses: for one user, a message with key K makes older ones with K
    // obsolete (history keeps the latest per key; an outbox drops a queued, unwritten one).
    // Empty: no key.
    std::string key;
    // The envelope's members between the head and the data: `"key":"K","data":` or `"data":`.
    std::string data_prefix;
};
using MessageBodyPtr = std::shared_ptr<const MessageBody>;

// `"key":"K","data":`, or `"data":` without a key.
std::string data_prefix_of(std::string_view key);

// A string is delivered as is, anything else as its JSON text. `key`: see MessageBody::key.
MessageBodyPtr make_message(const boost::json::value& message, std::string key = {});

// `{"type":"message","seq":17,"time":...,`, held inline rather than in a std::string: a
// Delivery is made for every user of every publish, and this makes it one allocation, not two.
class EnvelopeHead {
  public:
    EnvelopeHead() = default;
    EnvelopeHead(std::uint64_t seq, std::int64_t time_ms);

    std::string_view view() const { return {bytes_.data(), size_}; }
    std::size_t size() const { return size_; }

  private:
    // The longest: 24 + 20 digits of seq + 8 + 20 characters of time + 1.
    std::array<char, 80> bytes_{};
    std::uint8_t size_ = 0;
};

inline constexpr std::string_view envelope_tail = "}";

// One message in one user's stream: its number there, its time, and the shared body. Kept in the
// stream's history and shared by the user's connections. A JSON-protocol connection sends
// json_parts() as one frame: the user's envelope around the shared body, which is not copied
// into each user's envelope.
struct Delivery {
    std::uint64_t seq = 0;
    std::int64_t time_ms = 0;
    EnvelopeHead envelope_head;
    MessageBodyPtr body;

    // {"type":"message","seq":S,"time":T,["key":"K",]"data":D}, in four pieces.
    std::array<std::string_view, 4> json_parts() const {
        return {envelope_head.view(), body->data_prefix, body->data_json, envelope_tail};
    }
    std::size_t size(Protocol protocol) const {
        return protocol == Protocol::seed ? body->text.size()
                                          : envelope_head.size() + body->data_prefix.size() +
                                                body->data_json.size() + envelope_tail.size();
    }
};
using DeliveryPtr = std::shared_ptr<const Delivery>;

DeliveryPtr make_delivery(MessageBodyPtr body, std::uint64_t seq, std::int64_t time_ms);

// Where a JSON-protocol connection starts in its stream, told in its welcome.
struct StreamPosition {
    std::string epoch;              // changes whenever the stream's history could have been lost
    std::uint64_t seq = 0;          // the last message of the stream so far
    std::optional<bool> recovered;  // for a resuming login: whether every missed message follows
};

// Milliseconds since 1970: the time a message carries.
std::int64_t wall_clock_ms();

}  // namespace herald
