// A real redis-server for tests: Debian's binary, on a free port, in a fresh directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/redis/reply.hpp"
#include "herald/redis/settings.hpp"

namespace herald::test {

struct RedisServerOptions {
    bool append_only = false;             // AOF on: what was written survives a kill and a restart
    std::string password;                 // requirepass
    std::vector<std::string> extra_args;  // more redis-server flags, e.g. {"--maxclients", "10"}
};

// Never a system service nor a fixed port: a child process of the test on a port that was free
// (another is tried if someone takes it first), with its own temporary directory for data and
// log, removed at the end. The child dies with the test (SIGKILL in the destructor, and the
// kernel's parent-death signal if the test process itself dies).
class RedisServer {
  public:
    explicit RedisServer(RedisServerOptions options = {});
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    std::uint16_t port() const { return port_; }
    const std::string& directory() const { return directory_; }
    bool running() const { return pid_ > 0; }

    // Settings that reach this server (its password included), for a client under test.
    redis::RedisSettings settings() const;

    // SIGTERM and wait for the exit: with AOF on, what was written is kept.
    void stop();
    // SIGKILL and wait: nothing gets a goodbye (no FIN before the process is gone: the kernel
    // closes its sockets).
    void kill();
    // SIGSTOP / SIGCONT: the process freezes with its sockets open; the kernel still accepts
    // connections into the listen backlog, but nothing answers.
    void pause();
    void resume();
    // Starts the server again on the same port and directory (after stop or kill), and waits
    // until it answers.
    void restart();

    // One command on a fresh connection (after AUTH when a password is set), for the test's
    // own set-up and checks. Blocking, on a private io_context, bounded by `timeout`.
    boost::system::result<redis::Reply> command(
        std::vector<std::string> arguments,
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  private:
    bool spawn();
    void wait_until_ready();
    void reap(int signal);

    RedisServerOptions options_;
    std::string directory_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace herald::test
