// The body of POST /send, as any publisher may send it.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_set>

#include "herald/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto request = herald::parse_send_body(body);
    if (!request) return 0;
    // Every accepted uid is valid, and none is listed twice.
    std::unordered_set<std::string_view> seen;
    for (const auto& uid : request->uids)
        if (herald::uid_error(uid) || !seen.insert(uid).second) __builtin_trap();
    if (request->uids.empty()) __builtin_trap();
    auto message = herald::make_message(request->message);
    // Even an empty string is a JSON value, so the envelope always has data.
    if (message->data_json.empty()) __builtin_trap();
    return 0;
}
