#include "payload.hpp"

#include <charconv>
#include <chrono>

namespace herald::bench {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void write_timed_message(std::string& out, std::int64_t stamp_ns, std::size_t size) {
    char digits[24];
    auto [end, error] = std::to_chars(digits, digits + sizeof digits, stamp_ns);
    out.clear();
    out += 'T';
    out.append(digits, end);
    out += '|';
    if (out.size() < size) out.append(size - out.size(), 'x');
}

std::string probe_message(std::string_view uid) {
    std::string message = "P|";
    message += uid;
    return message;
}

ParsedMessage parse_message(std::string_view message) {
    ParsedMessage parsed;
    if (message.size() >= 2 && message[0] == 'P' && message[1] == '|') {
        parsed.kind = ParsedMessage::Kind::probe;
        parsed.uid = message.substr(2);
        return parsed;
    }
    if (message.size() >= 2 && message[0] == 'T') {
        const char* first = message.data() + 1;
        const char* last = message.data() + message.size();
        auto [end, error] = std::from_chars(first, last, parsed.stamp_ns);
        if (error == std::errc{} && end != first && (end == last || *end == '|'))
            parsed.kind = ParsedMessage::Kind::timed;
    }
    return parsed;
}

}  // namespace herald::bench
