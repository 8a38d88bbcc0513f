// redis://[[user]:password@]host[:port][/db], as operators write it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "herald/redis/settings.hpp"

namespace herald::redis {

// Fills the address part of RedisSettings (host, port, user, password, db) and leaves the rest
// at its defaults. The port defaults to 6379 and the database to 0; user and password are
// percent-decoded (a password with '@' or ':' is written %40, %3A).
//
// `password_override` replaces the URL's password: the caller passes HERALD_REDIS_PASSWORD
// there, so that the secret need not appear in a command line or a config file.
//
// The error text never repeats the URL nor any part of its user info: it may be logged.
boost::system::result<RedisSettings, std::string> parse_redis_url(
    std::string_view url, std::optional<std::string> password_override = std::nullopt);

// The settings' address for log lines and messages: redis://user@host:port/db, never the
// password.
std::string describe(const RedisSettings& settings);

}  // namespace herald::redis
