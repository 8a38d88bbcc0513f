// The first frame of a WebSocket connection, as any client may send it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "herald/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view frame(reinterpret_cast<const char*>(data), size);
    auto login = herald::parse_login(frame);
    // What is accepted must be a uid the rest of the server can trust.
    if (login && herald::uid_error(login->uid)) __builtin_trap();
    return 0;
}
