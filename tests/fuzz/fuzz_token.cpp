// A login token, and the commands that carry one, as any client may send them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "herald/protocol.hpp"
#include "herald/token.hpp"

namespace {

const herald::TokenVerifier& verifier() {
    static const herald::TokenVerifier instance = [] {
        herald::TokenSettings settings;
        settings.secret = "fuzzing secret";
        return *herald::TokenVerifier::create(settings);
    }();
    return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto claims = verifier().verify(text, 1'800'000'000);
    // Whatever passes names a uid the rest of the server can trust.
    if (claims && herald::uid_error(claims->sub)) __builtin_trap();
    auto command = herald::parse_command(text);
    if (command && command->kind == herald::Command::Kind::refresh && command->token.empty())
        __builtin_trap();
    return 0;
}
