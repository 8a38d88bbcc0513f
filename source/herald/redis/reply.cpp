#include "herald/redis/reply.hpp"

#include <ostream>

namespace herald::redis {

// Redis's convention: an error's first word is its code (ERR, WRONGTYPE, NOSCRIPT, MOVED...).
std::string_view Reply::error_code() const {
    if (type != Type::error) return {};
    std::string_view all = text;
    return all.substr(0, all.find(' '));
}

std::ostream& operator<<(std::ostream& out, const Reply& reply) {
    switch (reply.type) {
        case Reply::Type::string:
            return out << '"' << reply.text << '"';
        case Reply::Type::status:
            return out << '+' << reply.text;
        case Reply::Type::error:
            return out << '-' << reply.text;
        case Reply::Type::integer:
            return out << ':' << reply.integer;
        case Reply::Type::nil:
            return out << "nil";
        case Reply::Type::array:
            out << '[';
            for (std::size_t i = 0; i < reply.elements.size(); ++i)
                out << (i == 0 ? "" : ", ") << reply.elements[i];
            return out << ']';
    }
    return out;
}

}  // namespace herald::redis
