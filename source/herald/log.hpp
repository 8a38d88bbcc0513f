// Structured log lines on stderr: `time level event key=value ...`, one write per line so that
// lines from different threads never interleave.
#pragma once

#include <concepts>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "herald/net.hpp"

namespace herald {

enum class LogLevel { debug, info, warn, error };

std::optional<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// One `key=value` pair. Values that are not plain words are quoted and escaped, so a uid
// chosen by a client can never forge a field or a line.
struct LogField {
    LogField(std::string_view key, std::string_view value) : key(key), value(value) {}
    LogField(std::string_view key, const char* value) : key(key), value(value) {}
    LogField(std::string_view key, const std::string& value) : key(key), value(value) {}
    LogField(std::string_view key, std::integral auto value)
        : key(key), value(std::to_string(value)) {}
    LogField(std::string_view key, const tcp::endpoint& endpoint);
    LogField(std::string_view key, const error_code& error) : key(key), value(error.message()) {}

    std::string_view key;
    std::string value;
};

void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

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
