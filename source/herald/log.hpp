// Structured log lines on stderr, one write per line so that lines from different threads never
// interleave: `time level event key=value ...` (text), or one JSON object a line (json).
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "herald/net.hpp"

namespace herald {

enum class LogLevel { debug, info, warn, error };

std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// text: `2026-11-25T10:54:15.811Z info login conn=1 uid=123`. json:
// `{"ts":"2026-11-25T10:54:15.811Z", "level":"info","event":"login","conn":1,"uid":"123"}`, numbers
// as JSON numbers, for log shippers that take JSON lines.
enum class LogFormat { text, json };

std::optional<LogFormat> parse_log_format(std::string_view name);
std::string_view log_format_name(LogFormat format);
// Set before the first line is written (the server's threads read it without a lock).
// `timestamps` false leaves the time out of text lines, for journald, which stamps each line
// itself; json lines always carry their `ts`.
void set_log_format(LogFormat format, bool timestamps = true);

// One `key=value` pair. Values that are not plain words are quoted and escaped, so a uid
// chosen by a client can never forge a field or a line.
//
// A field refers to its value and is only turned into text if its line is written: most lines
// (a login, a disconnect) are below the usual log level, and a connection should not pay for
// formatting an address nobody reads. Fields live as long as the call that logs them.
struct LogField {
    LogField(std::string_view key, std::string_view value) : key(key), value(value) {}
    LogField(std::string_view key, const char* value) : key(key), value(std::string_view(value)) {}
    LogField(std::string_view key, const std::string& value)
        : key(key), value(std::string_view(value)) {}
    template <std::integral Integer>
    LogField(std::string_view key, Integer value) : key(key) {
        if constexpr (std::is_signed_v<Integer>)
            this->value = static_cast<std::int64_t>(value);
        else
            this->value = static_cast<std::uint64_t>(value);
    }
    LogField(std::string_view key, const tcp::endpoint& endpoint) : key(key), value(&endpoint) {}
    LogField(std::string_view key, const error_code& error) : key(key), value(&error) {}

    std::string_view key;
    std::variant<std::string_view, std::int64_t, std::uint64_t, const tcp::endpoint*,
                 const error_code*>
        value;
};

void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

// The line, ending in a newline, that log() writes in the current format (for tests).
std::string format_log_line(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields);

// An info line written whatever the log level: the start-up line, which names the port a
// server on port 0 really bound and which tools and operators read.
void log_startup(std::string_view event, std::initializer_list<LogField> fields);

inline void log_debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    if (log_enabled(LogLevel::debug)) log(LogLevel::debug, event, fields);
}
inline void log_info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::info, event, fields);
}
inline void log_warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::warn, event, fields);
}
inline void log_error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::error, event, fields);
}

}  // namespace herald
