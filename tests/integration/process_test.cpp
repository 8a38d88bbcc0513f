// The herald binary itself: its command line, its start-up line, and SIGTERM.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/token.hpp"
#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;
namespace http = client::http;

namespace {

// The herald binary as a child process, with its stderr on a pipe; optionally with a lower
// limit on open files.
class Child {
  public:
    explicit Child(std::vector<std::string> args, rlim_t open_files = 0) {
        int pipe_ends[2];
        BOOST_REQUIRE(pipe(pipe_ends) == 0);
        args.insert(args.begin(), HERALD_BINARY);
        std::vector<char*> argv;
        for (auto& arg : args)
            argv.push_back(arg.data());
        argv.push_back(nullptr);
        pid_ = fork();
        BOOST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Only async-signal-safe calls between fork and exec.
            if (open_files != 0) {
                rlimit limit{open_files, open_files};
                setrlimit(RLIMIT_NOFILE, &limit);
            }
            dup2(pipe_ends[1], STDERR_FILENO);
            dup2(pipe_ends[1], STDOUT_FILENO);
            close(pipe_ends[0]);
            close(pipe_ends[1]);
            execv(HERALD_BINARY, argv.data());
            _exit(127);
        }
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
    // Resident memory now, in KiB (/proc/<pid>/status).
    long rss_kib() const {
        std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
        return -1;
    }
    // CPU time used so far, user and system, in clock ticks (/proc/<pid>/stat).
    long cpu_ticks() const {
        std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string skip;
        for (int i = 0; i < 11; ++i)
            fields >> skip;  // state .. cmajflt
        long user = 0, system = 0;
        fields >> user >> system;
        return user + system;
    }
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

// Reads the start-up line and returns the endpoint it names.
awaitable<tcp::endpoint> started_on(int output_fd, std::string& log) {
    asio::posix::stream_descriptor output(co_await asio::this_coro::executor, dup(output_fd));
    // The start-up line names the port it really bound, and how many descriptors it may use.
    std::size_t end = co_await asio::async_read_until(output, asio::dynamic_buffer(log), "\n",
                                                      asio::use_awaitable);
    std::string line = log.substr(0, end);
    BOOST_TEST_MESSAGE("start-up line: " << line);
    BOOST_REQUIRE(line.find(" listening ") != std::string::npos);
    BOOST_TEST(line.find("max_fds=") != std::string::npos);
    auto port_at = line.find("port=");
    BOOST_REQUIRE(port_at != std::string::npos);
    co_return tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                            static_cast<std::uint16_t>(std::stoi(line.substr(port_at + 5))));
}

// Reads the start-up line of a server started with --log-format json; returns its endpoint.
awaitable<tcp::endpoint> started_on_json(int output_fd, std::string& log) {
    asio::posix::stream_descriptor output(co_await asio::this_coro::executor, dup(output_fd));
    std::size_t end = co_await asio::async_read_until(output, asio::dynamic_buffer(log), "\n",
                                                      asio::use_awaitable);
    auto line = boost::json::parse(log.substr(0, end)).as_object();
    BOOST_REQUIRE(line.at("event") == "listening");
    co_return tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                            static_cast<std::uint16_t>(line.at("port").as_int64()));
}

// A JSON-protocol login with a token: waits for the welcome.
awaitable<WebSocketClient> login_with_token(tcp::endpoint server, const std::string& token) {
    auto client = co_await WebSocketClient::connect(server);
    co_await client.send(R"({"token":")" + token + R"(","v":1})");
    auto welcome = co_await client.receive();
    BOOST_TEST(welcome.find(R"("type":"welcome")") != std::string::npos);
    co_return client;
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
        tcp::endpoint server = co_await started_on(child.output(), log);
        auto app = co_await WebSocketClient::login(server, "term", Protocol::json);
        child.signal(SIGTERM);
        auto reason = co_await app.wait_for_close();
        BOOST_TEST(reason.code == 1001);
    });
    BOOST_TEST(child.wait() == 0);
    log += read_all(child.output());
    BOOST_TEST(log.find("signal=SIGTERM") != std::string::npos);
    BOOST_TEST(log.find(" stopped") != std::string::npos);
    // Started with no keys: it says, once, that anyone may log in and publish.
    BOOST_TEST(log.find(" warn unauthenticated ") != std::string::npos);
}

// Polls /readyz until it answers `status` (the signal reaches the server in its own time);
// fails after a bounded number of polls.
awaitable<void> wait_for_readiness(tcp::endpoint server, unsigned status) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    unsigned seen = 0;
    for (int attempt = 0; attempt < 400; ++attempt) {
        auto answer = co_await client::http_request(server, http::verb::get, "/readyz");
        seen = answer.status;
        if (seen == status) co_return;
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("/readyz answered " << seen << ", expected " << status);
}

BOOST_AUTO_TEST_CASE(sigterm_with_a_drain_delay_drains_then_shuts_down_and_exits_0) {
    // The Kubernetes pattern: readiness fails at once, everything else is served for the delay,
    // then the usual shutdown.
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "2", "--drain-delay", "1s",
                 "--shutdown-timeout", "5s"});
    std::string log;
    auto signalled = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point closed;
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on(child.output(), log);
        co_await wait_for_readiness(server, 200);
        auto app = co_await WebSocketClient::login(server, "drain", Protocol::json);
        signalled = std::chrono::steady_clock::now();
        child.signal(SIGTERM);
        co_await wait_for_readiness(server, 503);
        auto ready = co_await client::http_request(server, http::verb::get, "/readyz");
        BOOST_TEST(boost::json::parse(ready.body) ==
                   boost::json::parse(R"({"status":"draining"})"));
        // Still served: publishes reach the connection, and new ones log in.
        auto sent =
            co_await client::http_request(server, http::verb::get, "/send?uid=drain&message=on");
        BOOST_TEST(sent.status == 200u);
        BOOST_TEST(delivered_of(sent.body) == 1);
        std::string message = co_await app.receive();
        BOOST_TEST(boost::json::parse(message).at("data") == "on");
        auto late = co_await WebSocketClient::login(server, "late", Protocol::json);
        // Then the shutdown: 1001 after the delay.
        auto reason = co_await app.wait_for_close();
        closed = std::chrono::steady_clock::now();
        BOOST_TEST(reason.code == 1001);
        auto late_reason = co_await late.wait_for_close();
        BOOST_TEST(late_reason.code == 1001);
    });
    BOOST_TEST(child.wait() == 0);
    auto exited = std::chrono::steady_clock::now();
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    BOOST_TEST(duration_cast<milliseconds>(closed - signalled).count() >= 1000);
    BOOST_TEST(duration_cast<milliseconds>(exited - signalled).count() < (1 + 5) * 1000);
    log += read_all(child.output());
    BOOST_TEST(log.find(" draining delay_ms=1000") != std::string::npos);
    BOOST_TEST(log.find(" stopped") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_second_signal_during_the_drain_delay_shuts_down_at_once) {
    Child child(
        {"--address", "127.0.0.1", "--port", "0", "--threads", "1", "--drain-delay", "10m"});
    std::string log;
    std::chrono::steady_clock::time_point second;
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on(child.output(), log);
        auto app = co_await WebSocketClient::login(server, "twice", Protocol::json);
        child.signal(SIGTERM);
        co_await wait_for_readiness(server, 503);
        second = std::chrono::steady_clock::now();
        child.signal(SIGINT);
        auto reason = co_await app.wait_for_close();
        BOOST_TEST(reason.code == 1001);
    });
    BOOST_TEST(child.wait() == 0);
    auto taken = std::chrono::steady_clock::now() - second;
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(taken).count() < 5000);
    log += read_all(child.output());
    BOOST_TEST(log.find("signal=SIGINT") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_logs_are_one_json_object_a_line_and_never_carry_secrets_or_messages) {
    const std::string api_key = "api-key-4ae1c0";
    const std::string secret = "token-secret-9f3b27";
    const std::string body_text = "body-text-5d2e11";
    const std::string query_text = "query-text-77c0aa";
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "2", "--log-format", "json",
                 "--log-level", "debug", "--api-key", api_key, "--token-secret", secret,
                 "--max-body", "1KiB", "--login-timeout", "300ms"});
    std::string log;
    std::string token = mint_hs256_token(secret, "json-user", std::chrono::seconds(600),
                                         seconds_since_epoch(), "", "");
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on_json(child.output(), log);
        http::fields with_key;
        with_key.set(http::field::authorization, "Bearer " + api_key);

        // Logins: the JSON protocol, and seed mode (no welcome: publish until it arrives).
        auto app = co_await login_with_token(server, token);
        auto seed = co_await WebSocketClient::connect(server);
        co_await seed.send(R"({"token":")" + token + R"("})");
        for (int attempt = 0; attempt < 200; ++attempt) {
            auto answer = co_await client::http_request(
                server, http::verb::post, "/send",
                R"({"uid":"json-user","message":")" + body_text + R"("})", with_key);
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
            if (delivered_of(answer.body) == 2) break;
        }
        BOOST_TEST((co_await seed.receive()).find(body_text) != std::string::npos);
        auto by_query = co_await client::http_request(
            server, http::verb::get, "/send?uid=json-user&message=" + query_text, "", with_key);
        BOOST_TEST(by_query.status == 200u);

        // Bad logins: a forged token, and a client that never logs in.
        auto forged = co_await WebSocketClient::connect(server);
        co_await forged.send(R"({"token":")" + token + "x" + R"("})");
        BOOST_TEST((co_await forged.wait_for_close()).code == 1008);
        auto silent = co_await WebSocketClient::connect(server);
        BOOST_TEST((co_await silent.wait_for_close()).reason == "login timeout");

        // HTTP errors: no key, a bad body, an unknown path, a body too large.
        auto no_key = co_await client::http_request(server, http::verb::get,
                                                    "/send?uid=u&message=" + query_text);
        BOOST_TEST(no_key.status == 401u);
        auto bad_body =
            co_await client::http_request(server, http::verb::post, "/send", "{oops", with_key);
        BOOST_TEST(bad_body.status == 400u);
        auto unknown =
            co_await client::http_request(server, http::verb::get, "/nowhere?x=" + query_text);
        BOOST_TEST(unknown.status == 404u);
        auto too_large = co_await client::http_request(server, http::verb::post, "/send",
                                                       std::string(2000, 'x'), with_key);
        BOOST_TEST(too_large.status == 413u);

        co_await seed.close();
        child.signal(SIGTERM);
        BOOST_TEST((co_await app.wait_for_close()).code == 1001);
    });
    BOOST_TEST(child.wait() == 0);
    log += read_all(child.output());

    static const std::regex rfc3339_ms(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
    static const std::set<std::string> levels{"debug", "info", "warn", "error"};
    std::set<std::string> events;
    std::istringstream lines(log);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
        BOOST_TEST_CONTEXT("line " << count << ": " << line) {
            error_code error;
            auto parsed = boost::json::parse(line, error);
            BOOST_REQUIRE(!error);
            BOOST_REQUIRE(parsed.is_object());
            const auto& object = parsed.as_object();
            BOOST_REQUIRE(object.contains("ts") && object.contains("level") &&
                          object.contains("event"));
            BOOST_TEST(std::regex_match(std::string(object.at("ts").as_string()), rfc3339_ms));
            BOOST_TEST(levels.count(std::string(object.at("level").as_string())) == 1u);
            // The first three keys, in that order.
            auto key = object.begin();
            BOOST_TEST((key++)->key() == "ts");
            BOOST_TEST((key++)->key() == "level");
            BOOST_TEST((key++)->key() == "event");
            events.insert(std::string(object.at("event").as_string()));
            for (const char* number : {"conn", "status", "port", "code"})
                if (object.contains(number)) BOOST_TEST(object.at(number).is_number(), number);
            for (const auto& hidden : {api_key, secret, token, body_text, query_text})
                BOOST_TEST(line.find(hidden) == std::string::npos, "leaks " << hidden);
        }
    }
    BOOST_TEST_MESSAGE(count << " JSON log lines");
    for (const char* event : {"listening", "login", "login_failed", "disconnect", "http_error",
                              "signal", "shutdown", "stopped"})
        BOOST_TEST(events.count(event) == 1u, "no " << event << " line");
}

BOOST_AUTO_TEST_CASE(check_config_prints_the_settings_as_json_or_the_problems) {
    Child child(
        {"check-config", "--port", "9100", "--api-key", "a-key-3c9d", "--log-format", "json"});
    std::string output = read_all(child.output());
    BOOST_TEST(child.wait() == 0);
    auto settings = boost::json::parse(output).as_object();
    BOOST_TEST(settings.at("port") == 9100);
    BOOST_TEST(settings.at("api-key") == boost::json::parse(R"(["***"])"));
    BOOST_TEST(output.find("a-key-3c9d") == std::string::npos);

    Child bad({"check-config", "--port", "x", "--token-public-key", "/nonexistent.pem"});
    std::string problems = read_all(bad.output());
    BOOST_TEST(bad.wait() == 2);
    BOOST_TEST(problems.find("--port: expected a number") != std::string::npos);
    BOOST_TEST(problems.find("--token-public-key: cannot read") != std::string::npos);

    // A key file that is there but is no key: found by the same checks as the server's.
    Child not_a_key({"check-config", "--token-public-key", "/etc/hostname"});
    std::string complaint = read_all(not_a_key.output());
    BOOST_TEST(not_a_key.wait() == 2);
    BOOST_TEST(complaint.find("--token-public-key") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(herald_token_mints_a_token_the_server_accepts) {
    Child child({"token", "--secret", "cli secret", "--uid", "cli-user", "--ttl", "10m"});
    std::string output = read_all(child.output());
    BOOST_TEST(child.wait() == 0);
    std::string token = output.substr(0, output.find('\n'));
    auto verifier = TokenVerifier::create({"cli secret"});
    BOOST_REQUIRE(verifier.has_value());
    auto claims = verifier->verify(token, seconds_since_epoch());
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(claims->sub == "cli-user");
    BOOST_TEST(*claims->exp - seconds_since_epoch() <= 600);

    Child missing({"token", "--uid", "x"});
    std::string complaint = read_all(missing.output());
    BOOST_TEST(missing.wait() == 2);
    BOOST_TEST(complaint.find("--secret") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(out_of_descriptors_it_refuses_with_503_keeps_serving_and_recovers) {
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "1"}, 64);
    std::string log;
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on(child.output(), log);
        auto publisher =
            co_await client::HttpClient::connect(server);  // opened while there is room
        std::vector<WebSocketClient> clients;
        std::string refusal;
        while (refusal.empty()) {
            BOOST_REQUIRE_LT(clients.size(), 64u);
            WebSocketClient::Stream ws(co_await asio::this_coro::executor);
            co_await client::beast::get_lowest_layer(ws).async_connect(server, asio::use_awaitable);
            client::websocket::response_type answer;  // kept: it is the refusal, if any
            auto [error] = co_await ws.async_handshake(answer, "127.0.0.1", "/ws", use_nothrow);
            if (error) {
                BOOST_TEST(answer.result_int() == 503u);
                refusal = answer.body();
                break;
            }
            WebSocketClient client(std::move(ws));
            co_await client.send(R"({"uid":"u)" + std::to_string(clients.size()) + R"(","v":1})");
            co_await client.receive();  // the welcome
            clients.push_back(std::move(client));
        }
        BOOST_TEST_MESSAGE(clients.size() << " connections held with 64 descriptors");
        BOOST_TEST(clients.size() >=
                   45u);  // the rest: stdio, epoll, timers, the listener, the reserve
        BOOST_TEST(refusal.find(R"({"error":"server is at its connection limit"})") !=
                   std::string::npos);

        // At the limit, with clients still knocking, it does not spin: a refusal costs little.
        long before = child.cpu_ticks();
        for (int i = 0; i < 20; ++i) {
            // Without a request, so that the refusal is not lost to a reset.
            tcp::socket knocking(co_await asio::this_coro::executor);
            co_await knocking.async_connect(server, asio::use_awaitable);
            std::string answer;
            co_await asio::async_read(knocking, asio::dynamic_buffer(answer), use_nothrow);
            BOOST_TEST(answer.starts_with("HTTP/1.1 503"));
        }
        asio::steady_timer window(co_await asio::this_coro::executor,
                                  std::chrono::milliseconds(500));
        co_await window.async_wait(asio::use_awaitable);
        long spent = child.cpu_ticks() - before;
        BOOST_TEST_MESSAGE("CPU while refusing at the limit: " << spent << " ticks in 0.5 s");
        BOOST_TEST(spent < 15);  // a spinning accept loop would use all 50

        // Those it holds are still served.
        auto answer = co_await publisher.get("/send?uid=u0&message=still+here");
        BOOST_TEST(delivered_of(answer.body) == 1);
        auto message = co_await clients.front().receive();
        BOOST_TEST(message.find("still here") != std::string::npos);

        // Once some leave, it accepts again.
        for (int i = 0; i < 5; ++i) {
            co_await clients.back().close();
            clients.pop_back();
        }
        bool accepted = false;
        for (int attempt = 0; attempt < 200 && !accepted; ++attempt) {
            try {
                auto again = co_await WebSocketClient::login(server, "again", Protocol::json);
                accepted = true;
            } catch (const std::exception&) {
                // refused while the server has not yet closed the departed sockets
            }
        }
        BOOST_TEST(accepted);
    });
    child.signal(SIGTERM);
    BOOST_TEST(child.wait() == 0);
    log += read_all(child.output());
    BOOST_TEST(log.find("accept_failed") != std::string::npos);
    BOOST_TEST(log.find("accept_recovered refused=") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_during_heavy_publishing_loses_nothing_it_accepted) {
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "2"});
    std::string log;
    constexpr int users = 20, publishers = 4, signal_after = 1000;
    std::vector<std::vector<int>> queued(users);    // per user: messages answered {"delivered":1}
    std::vector<std::vector<int>> received(users);  // per user: messages that arrived
    std::vector<unsigned> close_codes(users, 0);
    int answered_before_signal = 0, not_queued_before_signal = 0;
    bool signalled = false;
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on(child.output(), log);
        std::vector<WebSocketClient> clients;
        for (int u = 0; u < users; ++u)
            clients.push_back(
                co_await WebSocketClient::login(server, "u" + std::to_string(u), Protocol::json));

        auto publish = [&](int first) -> awaitable<void> {
            auto publisher = co_await client::HttpClient::connect(server);
            for (int n = first;; n += publishers) {
                int user = n % users;
                std::string body = R"({"uid":"u)" + std::to_string(user) + R"(","message":)" +
                                   std::to_string(n) + "}";
                client::HttpResponse answer;
                try {
                    answer = co_await publisher.post("/send", body);
                } catch (const std::exception&) {
                    co_return;  // the server closed this publisher's connection on its way out
                }
                BOOST_REQUIRE_EQUAL(answer.status, 200u);
                bool delivered = delivered_of(answer.body) == 1;
                if (delivered) queued[user].push_back(n);
                if (!signalled) {
                    ++answered_before_signal;
                    if (!delivered) ++not_queued_before_signal;
                    if (answered_before_signal == signal_after) {
                        child.signal(SIGTERM);
                        signalled = true;
                    }
                }
                if (!answer.headers[client::http::field::connection].empty() &&
                    answer.headers[client::http::field::connection] == "close")
                    co_return;
            }
        };
        auto receive = [&](int user) -> awaitable<void> {
            for (;;) {
                auto frame = co_await clients[user].read();
                if (frame.error) {
                    close_codes[user] = clients[user].close_reason().code;
                    co_return;
                }
                received[user].push_back(
                    static_cast<int>(boost::json::parse(frame.data).at("data").as_int64()));
            }
        };
        auto executor = co_await asio::this_coro::executor;
        std::vector<decltype(asio::co_spawn(executor, publish(0), asio::deferred))> tasks;
        for (int p = 0; p < publishers; ++p)
            tasks.push_back(asio::co_spawn(executor, publish(p), asio::deferred));
        for (int u = 0; u < users; ++u)
            tasks.push_back(asio::co_spawn(executor, receive(u), asio::deferred));
        co_await asio::experimental::make_parallel_group(std::move(tasks))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    });
    BOOST_TEST(child.wait() == 0);
    BOOST_TEST(signalled);
    BOOST_TEST(not_queued_before_signal == 0);
    std::size_t total = 0;
    for (int u = 0; u < users; ++u) {
        BOOST_TEST_CONTEXT("user " << u) {
            BOOST_TEST(close_codes[u] == 1001u);
            // Everything the server said it queued arrived, in the order it was queued.
            BOOST_TEST(received[u] == queued[u], boost::test_tools::per_element());
            total += received[u].size();
        }
    }
    BOOST_TEST_MESSAGE(total << " messages queued and received around the SIGTERM");
}

BOOST_AUTO_TEST_CASE(churn_leaves_memory_where_it_was) {
    // Quiet logs: nobody drains the child's stderr pipe once it has started, and a full pipe
    // would block its logging.
    Child child({"--address", "127.0.0.1", "--port", "0", "--threads", "2", "--log-level", "warn"});
    std::string log;
    long warm = 0, after = 0;
    run([&]() -> awaitable<void> {
        tcp::endpoint server = co_await started_on(child.output(), log);
        // Rounds of 150 connections that log in, get a message and leave, half by a reset.
        auto round = [&]() -> awaitable<void> {
            std::vector<WebSocketClient> clients;
            for (int i = 0; i < 150; ++i)
                clients.push_back(co_await WebSocketClient::login(server, "c" + std::to_string(i),
                                                                  Protocol::json));
            auto publisher = co_await client::HttpClient::connect(server);
            for (int i = 0; i < 150; ++i) {
                auto answer =
                    co_await publisher.get("/send?uid=c" + std::to_string(i) + "&message=hello");
                BOOST_REQUIRE_EQUAL(delivered_of(answer.body), 1);
                co_await clients[i].receive();
            }
            for (std::size_t i = 0; i < clients.size(); ++i) {
                if (i % 2 == 0) {
                    co_await clients[i].close();
                } else {
                    auto& socket = client::beast::get_lowest_layer(clients[i].stream()).socket();
                    socket.set_option(asio::socket_base::linger(true, 0));
                    socket.close();
                }
            }
            co_await wait_for_stat(server, "connections", 0);
        };
        co_await round();  // warms up the allocator's pools
        warm = child.rss_kib();
        for (int i = 0; i < 4; ++i)
            co_await round();
        after = child.rss_kib();
    });
    BOOST_TEST_MESSAGE("server RSS after one churn round " << warm << " KiB, after five " << after
                                                           << " KiB");
#ifndef HERALD_SANITIZED  // sanitizers hold freed memory back (ASan's quarantine, TSan's shadow)
    BOOST_TEST(after <= warm + warm / 5);  // back near where it was: within 20%
#endif
    child.signal(SIGTERM);
    BOOST_TEST(child.wait() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
