// The request target of GET /send, as any publisher may send it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "herald/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view target(reinterpret_cast<const char*>(data), size);
    auto request = herald::parse_send_query(target);
    if (!request) return 0;
    // One valid uid, and a message that any WebSocket client will accept as text.
    if (request->uids.size() != 1 || herald::uid_error(request->uids.front())) __builtin_trap();
    if (!herald::is_valid_utf8(request->message.as_string())) __builtin_trap();
    return 0;
}
