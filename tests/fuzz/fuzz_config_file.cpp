// The --config file: an operator's file, but one that a deploy tool may have templated from
// anything, so the reader must refuse any text with a message, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json/parse.hpp>

#include "herald/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = herald::config_from_json(text);
    if (!config) {
        // A refusal always says what is wrong.
        if (config.error().empty()) __builtin_trap();
        return 0;
    }
    // What is accepted describes itself as JSON that reads back as the same settings.
    std::string described = herald::describe_config(*config);
    boost::system::error_code error;
    auto parsed = boost::json::parse(described, error);
    if (error || !parsed.is_object()) __builtin_trap();
    if (config->max_header_size > 1024 * 1024) __builtin_trap();
    if (config->http_timeout.count() <= 0) __builtin_trap();
    return 0;
}
