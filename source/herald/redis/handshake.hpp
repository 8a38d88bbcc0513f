// What makes a fresh TCP connection to Redis one of Herald's.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "herald/redis/command.hpp"
#include "herald/redis/reply.hpp"
#include "herald/redis/settings.hpp"

namespace herald::redis {

// In this order: AUTH (user and password, or the password alone) when a password is set;
// SELECT when `select_db` and the database is not 0 (a subscriber skips it: pub/sub ignores
// databases); CLIENT SETNAME when a name is set; and always a PING, so that a connection counts
// as up only after a whole round trip. All are sent in one write.
std::vector<Command> handshake_commands(const RedisSettings& settings, bool select_db);

// The text of the first error among the handshake's replies (WRONGPASS ..., ERR DB index is
// out of range): Redis never repeats a password in it, so it may be logged.
std::optional<std::string_view> handshake_error(const std::vector<Reply>& replies);

}  // namespace herald::redis
