#include "herald/redis/handshake.hpp"

#include <string>

namespace herald::redis {

std::vector<Command> handshake_commands(const RedisSettings& settings, bool select_db) {
    std::vector<Command> commands;
    // AUTH first: until it succeeds, a server with a password answers NOAUTH to the rest.
    if (!settings.password.empty()) {
        if (settings.user.empty())
            commands.push_back(Command{"AUTH", settings.password});
        else
            commands.push_back(Command{"AUTH", settings.user, settings.password});
    }
    if (select_db && settings.db != 0) {
        std::string db = std::to_string(settings.db);
        commands.push_back(Command{"SELECT", db});
    }
    if (!settings.client_name.empty())
        commands.push_back(Command{"CLIENT", "SETNAME", settings.client_name});
    commands.push_back(Command{"PING"});
    return commands;
}

std::optional<std::string_view> handshake_error(const std::vector<Reply>& replies) {
    for (const Reply& reply : replies)
        if (reply.is_error()) return reply.text;
    return std::nullopt;
}

}  // namespace herald::redis
