#include "herald/redis/command.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace herald::redis {
namespace {

template <typename Text>
std::string format(std::span<const Text> arguments) {
    if (arguments.empty()) throw std::invalid_argument("a redis command needs a name");
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    pointers.reserve(arguments.size());
    lengths.reserve(arguments.size());
    for (const auto& argument : arguments) {
        pointers.push_back(argument.data());
        lengths.push_back(argument.size());
    }
    char* encoded = nullptr;
    int length = redisFormatCommandArgv(&encoded, static_cast<int>(arguments.size()),
                                        pointers.data(), lengths.data());
    // hiredis allocated it with its own allocator: it frees it too.
    std::unique_ptr<char, decltype(&redisFreeCommand)> owned(encoded, &redisFreeCommand);
    if (length < 0 || encoded == nullptr) throw std::bad_alloc();
    return std::string(encoded, static_cast<std::size_t>(length));
}

}  // namespace

Command::Command(std::initializer_list<std::string_view> arguments)
    : wire_(format(std::span<const std::string_view>(arguments.begin(), arguments.size()))) {}

Command::Command(std::span<const std::string_view> arguments) : wire_(format(arguments)) {}

Command::Command(std::span<const std::string> arguments) : wire_(format(arguments)) {}

}  // namespace herald::redis
