#include "herald/log.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace herald {
namespace {

std::atomic<LogLevel> current_level{LogLevel::info};

constexpr std::array<std::string_view, 4> level_names{"debug", "info", "warn", "error"};

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    for (unsigned char c : value)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    return false;
}

void append_value(std::string& line, std::string_view value) {
    if (!needs_quotes(value)) {
        line += value;
        return;
    }
    line += '"';
    for (unsigned char c : value) {
        if (c == '"' || c == '\\') {
            line += '\\';
            line += static_cast<char>(c);
        } else if (c < ' ' || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            line += escaped;
        } else {
            line += static_cast<char>(c);
        }
    }
    line += '"';
}

void append_time(std::string& line) {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(millis.count()));
    line += text;
}

void append_number(std::string& line, auto number) {
    char text[24];
    line.append(text, std::to_chars(std::begin(text), std::end(text), number).ptr);
}

void append_endpoint(std::string& line, const tcp::endpoint& endpoint) {
    auto address = endpoint.address();
    if (address.is_v6()) line += '[';
    line += address.to_string();
    if (address.is_v6()) line += ']';
    line += ':';
    append_number(line, endpoint.port());
}

void append_field_value(std::string& line, const LogField& field) {
    struct Append {
        std::string& line;
        void operator()(std::string_view text) const { append_value(line, text); }
        void operator()(std::int64_t number) const { append_number(line, number); }
        void operator()(std::uint64_t number) const { append_number(line, number); }
        void operator()(const tcp::endpoint* endpoint) const { append_endpoint(line, *endpoint); }
        void operator()(const error_code* error) const { append_value(line, error->message()); }
    };
    std::visit(Append{line}, field.value);
}

void write_line(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    std::string line;
    line.reserve(128);
    append_time(line);
    line += ' ';
    line += level_names[static_cast<std::size_t>(level)];
    line += ' ';
    line += event;
    for (const auto& field : fields) {
        line += ' ';
        line += field.key;
        line += '=';
        append_field_value(line, field);
    }
    line += '\n';
    // One write(2) per line: concurrent lines stay whole without a lock. A failed log write has
    // nowhere to be reported, so it is ignored.
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (std::size_t i = 0; i < level_names.size(); ++i)
        if (level_names[i] == name) return static_cast<LogLevel>(i);
    return std::nullopt;
}

void set_log_level(LogLevel level) {
    current_level.store(level, std::memory_order_relaxed);
}

bool log_enabled(LogLevel level) {
    return level >= current_level.load(std::memory_order_relaxed);
}

void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    if (log_enabled(level)) write_line(level, event, fields);
}

void log_startup(std::string_view event, std::initializer_list<LogField> fields) {
    write_line(LogLevel::info, event, fields);
}

}  // namespace herald
