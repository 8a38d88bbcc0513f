// One Redis command, encoded for the wire as it is made.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace herald::redis {

// Encoded at construction (hiredis's redisFormatCommandArgv), on the caller's thread, so that
// the connection only appends bytes. Arguments are binary-safe.
//
// A command has at least one argument, its name; an empty one is a bug (std::invalid_argument):
// Redis answers nothing to an empty RESP array, which would shift every reply after it.
class Command {
  public:
    Command(std::initializer_list<std::string_view> arguments);
    explicit Command(std::span<const std::string_view> arguments);
    explicit Command(std::span<const std::string> arguments);

    // The RESP2 encoding: *<n>\r\n then $<len>\r\n<arg>\r\n per argument.
    const std::string& wire() const { return wire_; }
    std::string take_wire() && { return std::move(wire_); }

  private:
    std::string wire_;
};

}  // namespace herald::redis
