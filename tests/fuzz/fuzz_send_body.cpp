// The body of POST /send, as any publisher may send it: a single publish or a batch.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_set>

#include "herald/protocol.hpp"

namespace {

void check(const herald::SendRequest& request) {
    // Every accepted uid is valid, and none is listed twice.
    std::unordered_set<std::string_view> seen;
    for (const auto& uid : request.uids)
        if (herald::uid_error(uid) || !seen.insert(uid).second) __builtin_trap();
    if (request.uids.empty()) __builtin_trap();
    auto message = herald::make_message(request.message);
    // Even an empty string is a JSON value, so the envelope always has data.
    if (message->data_json.empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    if (auto request = herald::parse_send_body(body)) check(*request);
    auto parsed = herald::parse_publish_body(body, 8);
    if (!parsed) {
        // A refused entry is one of the batch's.
        if (parsed.error().index && *parsed.error().index >= 8) __builtin_trap();
        return 0;
    }
    if (auto* one = std::get_if<herald::SendRequest>(&*parsed)) return check(*one), 0;
    const auto& batch = std::get<herald::BatchRequest>(*parsed);
    if (batch.entries.empty() || batch.entries.size() > 8) __builtin_trap();
    for (const auto& entry : batch.entries) {
        if (entry.wait_for_ack) __builtin_trap();
        check(entry);
    }
    return 0;
}
