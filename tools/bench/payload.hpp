// What travels in a benchmark message, so that the receiver can check it and time it:
//   "T<send time in ns>|xxxx..."  a timed message, padded with 'x' to the message size;
//   "P|<uid>"                     a probe, proving that <uid> is registered.
// Only [0-9A-Za-z|] occur, so a message needs no escaping in JSON and is safe in a URL once
// '|' is percent-encoded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::bench {

// Nanoseconds on CLOCK_MONOTONIC, which is what std::chrono::steady_clock reads on Linux. Every
// process on this machine shares that clock, so a stamp written by one process (a conns worker,
// a publisher) can be subtracted from a reading in another.
std::int64_t now_ns();

// Overwrites `out` with a timed message stamped `stamp_ns`, padded to `size` bytes.
void write_timed_message(std::string& out, std::int64_t stamp_ns, std::size_t size);

std::string probe_message(std::string_view uid);

struct ParsedMessage {
    enum class Kind { timed, probe, malformed };
    Kind kind = Kind::malformed;
    std::int64_t stamp_ns = 0;  // timed
    std::string_view uid;       // probe
};

ParsedMessage parse_message(std::string_view message);

// Calls `on_message` for each message in a frame. seed-go's writer appends the messages queued
// for a connection to the frame it is writing, separated by '\n', so one frame may carry several.
template <typename OnMessage>
void for_each_message(std::string_view frame, OnMessage&& on_message) {
    while (!frame.empty()) {
        auto end = frame.find('\n');
        std::string_view message = frame.substr(0, end);
        if (!message.empty()) on_message(message);
        if (end == std::string_view::npos) break;
        frame.remove_prefix(end + 1);
    }
}

}  // namespace herald::bench
