#include "herald/message.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

namespace herald {
namespace json = boost::json;

MessageBodyPtr make_message(const json::value& message, std::string key) {
    auto body = std::make_shared<MessageBody>();
    body->data_json = json::serialize(message);
    if (const json::string* text = message.if_string())
        body->text.assign(text->data(), text->size());
    else
        body->text = body->data_json;
    body->data_prefix = data_prefix_of(key);
    body->key = std::move(key);
    return body;
}

std::string data_prefix_of(std::string_view key) {
    std::string prefix;
    if (!key.empty()) {
        prefix = R"("key":)";
        prefix += json::serialize(json::string(key));
        prefix += ',';
    }
    prefix += R"("data":)";
    return prefix;
}

EnvelopeHead::EnvelopeHead(std::uint64_t seq, std::int64_t time_ms) {
    char* out = bytes_.data();
    char* end = bytes_.data() + bytes_.size();
    auto append = [&](std::string_view text) { out = std::copy(text.begin(), text.end(), out); };
    append(R"({"type":"message","seq":)");
    out = std::to_chars(out, end, seq).ptr;
    append(R"(,"time":)");
    out = std::to_chars(out, end, time_ms).ptr;
    append(",");
    size_ = static_cast<std::uint8_t>(out - bytes_.data());
}

DeliveryPtr make_delivery(MessageBodyPtr body, std::uint64_t seq, std::int64_t time_ms) {
    return std::make_shared<const Delivery>(
        Delivery{seq, time_ms, EnvelopeHead(seq, time_ms), std::move(body)});
}

std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace herald
