// The first frame of a WebSocket connection, as any client may send it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "herald/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view frame(reinterpret_cast<const char*>(data), size);
    auto login = herald::parse_login(frame);
    if (!login) return 0;
    // What is accepted names a uid the rest of the server can trust, or carries a token.
    if (login->uid.empty() ? login->token.empty() : herald::uid_error(login->uid).has_value())
        __builtin_trap();
    if (login->token.size() > herald::max_token_size) __builtin_trap();
    return 0;
}
