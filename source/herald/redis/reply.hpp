// A Redis reply as an owned value: what RESP2 can say, with no hiredis type in sight.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace herald::redis {

struct Reply {
    enum class Type : std::uint8_t {
        string,   // bulk string: binary-safe text
        array,    // elements
        integer,  // integer
        nil,      // a nil bulk string or a nil array (GET of a missing key)
        status,   // simple string: +OK, +PONG
        error,    // -ERR ..., -NOSCRIPT ...: Redis's answer, not a transport failure
    };

    Type type = Type::nil;
    std::string text;  // string, status, error
    std::int64_t integer = 0;
    std::vector<Reply> elements;

    static Reply string(std::string text) { return with_text(Type::string, std::move(text)); }
    static Reply status(std::string text) { return with_text(Type::status, std::move(text)); }
    static Reply error(std::string text) { return with_text(Type::error, std::move(text)); }
    static Reply number(std::int64_t value) {
        Reply reply;
        reply.type = Type::integer;
        reply.integer = value;
        return reply;
    }
    static Reply nil() { return Reply(); }
    static Reply array(std::vector<Reply> elements) {
        Reply reply;
        reply.type = Type::array;
        reply.elements = std::move(elements);
        return reply;
    }
    static Reply with_text(Type type, std::string text) {
        Reply reply;
        reply.type = type;
        reply.text = std::move(text);
        return reply;
    }

    bool is_error() const { return type == Type::error; }
    bool is_nil() const { return type == Type::nil; }

    // An error reply's code, its first word: "NOSCRIPT" for "NOSCRIPT No matching script...",
    // so that a caller can reload a script after EVALSHA. Empty for other types.
    std::string_view error_code() const;

    friend bool operator==(const Reply&, const Reply&) = default;
};

// For test failures and debugging only: prints strings in full, so never log a Reply.
std::ostream& operator<<(std::ostream& out, const Reply& reply);

}  // namespace herald::redis
