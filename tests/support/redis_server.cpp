#include "support/redis_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/net.hpp"
#include "herald/redis/command.hpp"
#include "herald/redis/error.hpp"
#include "herald/redis/reply_parser.hpp"

namespace herald::test {
namespace {

using redis::Reply;
using Replies = boost::system::result<std::vector<Reply>>;

constexpr const char* redis_binary = "/usr/bin/redis-server";

// A port the kernel just handed out and took back: free unless someone else grabs it first,
// which spawn() notices (the server exits) and retries.
std::uint16_t pick_free_port() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
}

// Sends `commands` on one connection and reads one reply per command.
awaitable<Replies> converse(std::uint16_t port, std::vector<redis::Command> commands) {
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [connect_error] = co_await socket.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_nothrow);
    if (connect_error) co_return connect_error;
    std::string wire;
    for (const auto& command : commands)
        wire += command.wire();
    auto [write_error, written] =
        co_await asio::async_write(socket, asio::buffer(wire), use_nothrow);
    if (write_error) co_return write_error;
    redis::ReplyParser parser;
    std::vector<Reply> replies;
    std::array<char, 4096> buffer;
    while (replies.size() < commands.size()) {
        auto [read_error, size] =
            co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
        if (read_error) co_return read_error;
        parser.feed(std::string_view(buffer.data(), size));
        for (;;) {
            auto next = parser.next();
            if (!next) co_return next.error();
            if (!*next) break;
            replies.push_back(std::move(**next));
        }
    }
    co_return replies;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
    char pattern[] = "/tmp/herald-redis-XXXXXX";
    BOOST_REQUIRE_MESSAGE(mkdtemp(pattern) != nullptr, "mkdtemp failed");
    directory_ = pattern;
    // Another process may take the port between the pick and redis's bind: then try another.
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = pick_free_port();
        if (spawn()) return;
    }
    BOOST_FAIL("redis-server did not start; see " << directory_ << "/redis.log");
}

RedisServer::~RedisServer() {
    if (pid_ > 0) reap(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

redis::RedisSettings RedisServer::settings() const {
    redis::RedisSettings settings;
    settings.host = "127.0.0.1";
    settings.port = port_;
    settings.password = options_.password;
    return settings;
}

bool RedisServer::spawn() {
    // No snapshots (--save ""): a test that wants data to survive a restart asks for AOF, and
    // no background save ever forks a copy of the server during a test.
    std::vector<std::string> args{redis_binary,
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  directory_,
                                  "--logfile",
                                  directory_ + "/redis.log",
                                  "--daemonize",
                                  "no",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  options_.append_only ? "yes" : "no"};
    if (!options_.password.empty()) {
        args.push_back("--requirepass");
        args.push_back(options_.password);
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);

    pid_t parent = getpid();
    int null_fd = open("/dev/null", O_RDWR);
    pid_ = fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        // Only async-signal-safe calls between fork and exec. The server dies with the test
        // process, even if that one is killed before its destructors run.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
        // Nothing else of the test process: a Herald socket left open in redis-server would keep
        // a client's connection alive after Herald closed it (a restart mid-test forks while
        // nodes hold connections).
        close_range(3, ~0U, 0);
        execv(redis_binary, argv.data());
        _exit(127);
    }
    close(null_fd);

    // Bounded poll: nothing to await but the server's first answer.
    for (int attempt = 0; attempt < 500; ++attempt) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;  // exited: the port was taken, or a bad flag
            return false;
        }
        auto pong = command({"PING"}, std::chrono::milliseconds(200));
        if (pong && (pong->text == "PONG" || pong->error_code() == "NOAUTH")) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reap(SIGKILL);
    BOOST_FAIL("redis-server did not answer PING within 10 s");
    return false;
}

void RedisServer::reap(int signal) {
    ::kill(pid_, signal);
    if (signal == SIGTERM) {
        // A clean shutdown (which writes the AOF) takes milliseconds; ten seconds is a hang.
        for (int attempt = 0; attempt < 1000; ++attempt) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid_, SIGKILL);
    }
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

void RedisServer::stop() {
    BOOST_REQUIRE(pid_ > 0);
    ::kill(pid_, SIGCONT);  // a paused server cannot act on SIGTERM
    reap(SIGTERM);
}

void RedisServer::kill() {
    BOOST_REQUIRE(pid_ > 0);
    reap(SIGKILL);
}

void RedisServer::pause() {
    BOOST_REQUIRE(pid_ > 0);
    ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
    BOOST_REQUIRE(pid_ > 0);
    ::kill(pid_, SIGCONT);
}

void RedisServer::restart() {
    BOOST_REQUIRE(pid_ <= 0);
    // The old server's port can linger in TIME_WAIT, but redis sets SO_REUSEADDR: the same
    // port binds at once.
    BOOST_REQUIRE_MESSAGE(spawn(), "redis-server did not restart on port " << port_);
}

boost::system::result<Reply> RedisServer::command(std::vector<std::string> arguments,
                                                  std::chrono::milliseconds timeout) const {
    std::vector<redis::Command> commands;
    if (!options_.password.empty()) commands.push_back(redis::Command{"AUTH", options_.password});
    commands.emplace_back(std::span<const std::string>(arguments));

    asio::io_context io;
    std::optional<Replies> outcome;
    asio::co_spawn(io, converse(port_, std::move(commands)),
                   [&](std::exception_ptr failure, Replies replies) {
                       if (failure) std::rethrow_exception(failure);
                       outcome = std::move(replies);
                   });
    io.run_for(timeout);
    if (!outcome) return make_error_code(redis::RedisError::timeout);
    if (!*outcome) return outcome->error();
    return std::move(outcome->value().back());
}

}  // namespace herald::test
