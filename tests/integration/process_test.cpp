// The herald binary itself: its command line, its start-up line, and SIGTERM.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

extern char** environ;

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;

namespace {

// The herald binary as a child process, with its stderr on a pipe.
class Child {
  public:
    explicit Child(std::vector<std::string> args) {
        int pipe_ends[2];
        BOOST_REQUIRE(pipe(pipe_ends) == 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDERR_FILENO);
        posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
        args.insert(args.begin(), HERALD_BINARY);
        std::vector<char*> argv;
        for (auto& arg : args)
            argv.push_back(arg.data());
        argv.push_back(nullptr);
        BOOST_REQUIRE(posix_spawn(&pid_, HERALD_BINARY, &actions, nullptr, argv.data(), environ) ==
                      0);
        posix_spawn_file_actions_destroy(&actions);
        close(pipe_ends[1]);
        output_ = pipe_ends[0];
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(output_);
    }

    int output() const { return output_; }
    void signal(int number) { kill(pid_, number); }
    // The exit status; -1 if it was killed by a signal.
    int wait() {
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

  private:
    pid_t pid_ = -1;
    int output_ = -1;
};

// Everything the child writes until it exits.
std::string read_all(int fd) {
    std::string text;
    char chunk[4096];
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;)
        text.append(chunk, static_cast<std::size_t>(n));
    return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(help_lists_the_flags_and_exits_0) {
    Child child({"--help"});
    std::string text = read_all(child.output());
    BOOST_TEST(child.wait() == 0);
    BOOST_TEST(text.find("--send-queue-bytes") != std::string::npos);
    BOOST_TEST(text.find("--shutdown-timeout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bad_flag_is_named_and_exits_2) {
    Child child({"--port", "nope"});
    std::string text = read_all(child.output());
    BOOST_TEST(child.wait() == 2);
    BOOST_TEST(text.find("--port") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_closes_clients_with_1001_and_exits_0) {
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "2"});
    std::string log;
    run([&]() -> awaitable<void> {
        asio::posix::stream_descriptor output(co_await asio::this_coro::executor,
                                              dup(child.output()));
        // The start-up line names the port it really bound, and how many descriptors it may use.
        std::size_t end = co_await asio::async_read_until(output, asio::dynamic_buffer(log), "\n",
                                                          asio::use_awaitable);
        std::string line = log.substr(0, end);
        BOOST_TEST_MESSAGE("start-up line: " << line);
        BOOST_REQUIRE(line.find(" listening ") != std::string::npos);
        BOOST_TEST(line.find("max_fds=") != std::string::npos);
        auto port_at = line.find("port=");
        BOOST_REQUIRE(port_at != std::string::npos);
        tcp::endpoint server(asio::ip::make_address("127.0.0.1"),
                             static_cast<std::uint16_t>(std::stoi(line.substr(port_at + 5))));

        auto app = co_await WebSocketClient::login(server, "term", Protocol::json);
        child.signal(SIGTERM);
        auto reason = co_await app.wait_for_close();
        BOOST_TEST(reason.code == 1001);
    });
    BOOST_TEST(child.wait() == 0);
    log += read_all(child.output());
    BOOST_TEST(log.find("signal=SIGTERM") != std::string::npos);
    BOOST_TEST(log.find(" stopped") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
