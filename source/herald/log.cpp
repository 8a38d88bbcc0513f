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
std::atomic<LogFormat> current_format{LogFormat::text};
std::atomic<bool> text_timestamps{true};

constexpr std::array<std::string_view, 4> level_names{"debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> format_names{"text", "json"};

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

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0 if it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view text) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    auto continuation = [&](std::size_t i) { return i < text.size() && (byte(i) & 0xc0) == 0x80; };
    unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
    if (lead >= 0xe0 && lead <= 0xef) {
        if (!continuation(1) || !continuation(2)) return 0;
        if (lead == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
        if (lead == 0xed && byte(1) >= 0xa0) return 0;  // a surrogate
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
        if (lead == 0xf0 && byte(1) < 0x90) return 0;   // overlong
        if (lead == 0xf4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
        return 4;
    }
    return 0;
}

// A JSON string. Values come from clients (a uid, a path), so control characters are escaped
// and bytes that are not UTF-8 become U+FFFD: every line stays one valid JSON object.
void append_json_string(std::string& line, std::string_view value) {
    line += '"';
    while (!value.empty()) {
        unsigned char c = static_cast<unsigned char>(value.front());
        std::size_t length = utf8_sequence_length(value);
        if (length == 0) {
            line += "\\ufffd";
            value.remove_prefix(1);
            continue;
        }
        if (c == '"' || c == '\\') {
            line += '\\';
            line += static_cast<char>(c);
        } else if (c < ' ' || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            line += escaped;
        } else {
            line.append(value.data(), length);
        }
        value.remove_prefix(length);
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

std::string endpoint_text(const tcp::endpoint& endpoint) {
    std::string text;
    append_endpoint(text, endpoint);
    return text;
}

void append_json_field_value(std::string& line, const LogField& field) {
    struct Append {
        std::string& line;
        void operator()(std::string_view text) const { append_json_string(line, text); }
        void operator()(std::int64_t number) const { append_number(line, number); }
        void operator()(std::uint64_t number) const { append_number(line, number); }
        void operator()(const tcp::endpoint* endpoint) const {
            append_json_string(line, endpoint_text(*endpoint));
        }
        void operator()(const error_code* error) const {
            append_json_string(line, error->message());
        }
    };
    std::visit(Append{line}, field.value);
}

// {"ts":...,"level":...,"event":...,<fields>}: the three keys first, in that order, so that a
// person reading raw lines finds them where the text format has them.
std::string json_line(LogLevel level, std::string_view event,
                      std::initializer_list<LogField> fields) {
    std::string line;
    line.reserve(160);
    line += R"({"ts":")";
    append_time(line);
    line += R"(","level":")";
    line += level_names[static_cast<std::size_t>(level)];
    line += R"(","event":)";
    append_json_string(line, event);
    for (const auto& field : fields) {
        line += ',';
        append_json_string(line, field.key);
        line += ':';
        append_json_field_value(line, field);
    }
    line += "}\n";
    return line;
}

std::string text_line(LogLevel level, std::string_view event,
                      std::initializer_list<LogField> fields) {
    std::string line;
    line.reserve(128);
    if (text_timestamps.load(std::memory_order_relaxed)) {
        append_time(line);
        line += ' ';
    }
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
    return line;
}

void write_line(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    std::string line = format_log_line(level, event, fields);
    // One write(2) per line: concurrent lines stay whole without a lock. A failed log write has
    // nowhere to be reported, so it is ignored.
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

std::string format_log_line(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields) {
    return current_format.load(std::memory_order_relaxed) == LogFormat::json
               ? json_line(level, event, fields)
               : text_line(level, event, fields);
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (std::size_t i = 0; i < level_names.size(); ++i)
        if (level_names[i] == name) return static_cast<LogLevel>(i);
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    return level_names[static_cast<std::size_t>(level)];
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
    for (std::size_t i = 0; i < format_names.size(); ++i)
        if (format_names[i] == name) return static_cast<LogFormat>(i);
    return std::nullopt;
}

std::string_view log_format_name(LogFormat format) {
    return format_names[static_cast<std::size_t>(format)];
}

void set_log_format(LogFormat format, bool timestamps) {
    current_format.store(format, std::memory_order_relaxed);
    text_timestamps.store(timestamps, std::memory_order_relaxed);
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
