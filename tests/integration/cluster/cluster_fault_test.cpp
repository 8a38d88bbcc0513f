// The cluster when Redis or a node fails: nothing answered 200 is lost, and nothing fails
// silently. Each case checks the invariant: every publish answered 200 reaches every live
// connection of its user exactly once and in seq order, or the client was told
// recovered:false.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "support/cluster.hpp"

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint64_t> seqs_of(const StreamReader& reader) {
    std::vector<std::uint64_t> seqs;
    for (const auto& message : reader.messages())
        seqs.push_back(message.seq);
    return seqs;
}

// Publishes until `count` were answered 200, on `node`; returns their seqs. Answers of 503 (Redis
// unreachable) are retried: they published nothing.
awaitable<std::vector<std::uint64_t>> publish_answered(tcp::endpoint node, std::string uid,
                                                       int count) {
    std::vector<std::uint64_t> seqs;
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int attempt = 0; static_cast<int>(seqs.size()) < count && attempt < 2000; ++attempt) {
        auto answer = co_await publish(node, uid, json::value(static_cast<int>(seqs.size())));
        if (answer.status == 200) {
            seqs.push_back(json::parse(answer.body).at("seq").to_number<std::uint64_t>());
            continue;
        }
        BOOST_REQUIRE_EQUAL(answer.status, 503u);
        pause.expires_after(20ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_REQUIRE_EQUAL(static_cast<int>(seqs.size()), count);
    co_return seqs;
}

// The value of an unlabelled sample in `node`'s /metrics, or -1 when it has none.
awaitable<double> metric(tcp::endpoint node, std::string name) {
    auto answer = co_await client::http_request(node, http::verb::get, "/metrics");
    BOOST_REQUIRE_EQUAL(answer.status, 200u);
    const std::string line_start = "\n" + name + " ";
    auto at = answer.body.find(line_start);
    if (at == std::string::npos) co_return -1;
    co_return std::stod(answer.body.substr(at + line_start.size()));
}

// Polls `node`'s /readyz until it answers `status`; fails after a bounded number of tries.
awaitable<void> wait_for_readiness(tcp::endpoint node, unsigned status) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto answer = co_await client::http_request(node, http::verb::get, "/readyz");
        if (answer.status == status) co_return;
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("/readyz never answered " << status);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_faults)

// What an operator sees of a Redis that stops answering: /readyz says so on every node (while
// /healthz does not), and the counters of /metrics move: refused publishes, then reconnects.
BOOST_AUTO_TEST_CASE(a_paused_redis_shows_in_readyz_and_metrics) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        co_await wait_for_readiness(cluster.node(0), 200);
        double errors_before =
            co_await metric(cluster.node(1), "herald_redis_publish_errors_total");
        double reconnects_before =
            co_await metric(cluster.node(1), "herald_redis_reconnects_total");
        BOOST_TEST(errors_before == 0);
        BOOST_TEST(reconnects_before == 0);

        cluster.redis().pause();
        co_await wait_until_unavailable(cluster.node(1));
        co_await wait_for_readiness(cluster.node(0), 503);
        co_await wait_for_readiness(cluster.node(1), 503);
        auto health = co_await client::http_request(cluster.node(1), http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
        double errors = co_await metric(cluster.node(1), "herald_redis_publish_errors_total");
        BOOST_TEST(errors >= 1);

        cluster.redis().resume();
        co_await wait_for_readiness(cluster.node(0), 200);
        co_await wait_for_readiness(cluster.node(1), 200);
        double reconnects = co_await metric(cluster.node(1), "herald_redis_reconnects_total");
        BOOST_TEST(reconnects >= 1);
    });
}

BOOST_AUTO_TEST_CASE(while_redis_is_paused_publishes_get_503_logins_1013_and_clients_stay) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("paused");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);

        cluster.redis().pause();
        auto refused = co_await publish(cluster.node(1), "paused", "lost?");
        BOOST_TEST(refused.status == 503u);
        BOOST_TEST(refused.headers[http::field::retry_after] == "1");
        co_await wait_until_unavailable(cluster.node(0));
        StreamReader late("late");
        bool late_joined = co_await late.join(cluster.node(0));
        BOOST_TEST(!late_joined);
        BOOST_TEST(late.closes().back() == "1013 try again later");
        auto health = co_await client::http_request(cluster.node(0), http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);

        cluster.redis().resume();
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        auto seqs = co_await publish_answered(cluster.node(1), "paused", 3);
        // A 503 says the outcome is unknown, not that nothing was stored: the publish refused
        // while Redis was paused may have run once Redis woke (hence Idempotency-Key). So the
        // client gets every seq up to the last answered, once and in order.
        bool got = co_await reader.read(seqs.back() - reader.last_seq(), 10s);
        BOOST_REQUIRE(got);  // still connected, and live again
        std::vector<std::uint64_t> every;
        for (std::uint64_t seq = 1; seq <= seqs.back(); ++seq)
            every.push_back(seq);
        BOOST_TEST(seqs_of(reader) == every, boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(messages_published_while_a_nodes_subscriptions_were_down_are_caught_up) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("killed");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        auto killed = cluster.redis().command({"CLIENT", "KILL", "TYPE", "pubsub"});
        BOOST_REQUIRE(killed.has_value());
        auto seqs = co_await publish_answered(cluster.node(1), "killed", 20);
        bool got = co_await reader.read(20);
        BOOST_REQUIRE(got);
        BOOST_TEST(seqs_of(reader) == seqs, boost::test_tools::per_element());
        BOOST_TEST(reader.connected());
    });
}

// The link from Redis to one node's subscribers stops passing anything while it stays open (a
// partition nobody is told about): the node's probe finds it, restarts it and catches up.
BOOST_AUTO_TEST_CASE(a_subscriber_link_that_silently_stops_delivering_is_found_and_caught_up) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("silenced");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        std::size_t links_before = cluster.link(0).links_accepted();
        cluster.link(0).silence_links("herald-node0-sub");
        auto seqs = co_await publish_answered(cluster.node(1), "silenced", 10);
        bool got = co_await reader.read(10, 15s);
        BOOST_REQUIRE_MESSAGE(got, "received " << reader.messages().size());
        BOOST_TEST(seqs_of(reader) == seqs, boost::test_tools::per_element());
        BOOST_TEST(cluster.link(0).links_accepted() > links_before);  // it reconnected
    });
}

// Redis restarted without its data: every stream begins anew (new epochs), so JSON-protocol
// clients are closed with 1012 and their resume says recovered:false; seed-mode clients keep
// receiving.
BOOST_AUTO_TEST_CASE(redis_restarted_without_its_data_gives_new_epochs_and_says_so) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("amnesia");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        auto browser = co_await WebSocketClient::connect(cluster.node(0));
        co_await browser.send(R"({"uid":"seed"})");
        co_await send_until_delivered(cluster.node(1), "seed", "probe");
        auto probe = co_await browser.receive();
        BOOST_TEST(probe == "probe");
        auto before = co_await publish_answered(cluster.node(1), "amnesia", 3);
        bool got = co_await reader.read(3);
        BOOST_REQUIRE(got);
        std::string old_epoch = reader.epoch();

        cluster.redis().kill();
        cluster.redis().restart();
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        auto after = co_await publish_answered(cluster.node(1), "amnesia", 2);
        BOOST_TEST(after.front() == 1u);  // numbered anew
        bool closed = co_await reader.read_until_closed();
        BOOST_REQUIRE(closed);
        BOOST_TEST(reader.closes().back() == "1012 stream reset");
        bool back = co_await reader.join_when_serving(cluster.node(1));
        BOOST_REQUIRE(back);
        BOOST_TEST(reader.epoch() != old_epoch);
        BOOST_TEST((reader.recoveries().back() == std::optional<bool>(false)));
        bool replayed = co_await reader.read(2);
        BOOST_REQUIRE(replayed);

        auto hello = co_await client::http_request(cluster.node(1), http::verb::get,
                                                   "/send?uid=seed&message=still%20here");
        BOOST_TEST(hello.status == 200u);
        std::string text;
        do {  // the probes of send_until_delivered may come first
            text = co_await browser.receive();
        } while (text == "probe");
        BOOST_TEST(text == "still here");

        // Redis lost the presence counts too. node0, new to the node list at its first heartbeat,
        // writes all its counts again then: long before the slow refresh of each user's count
        // (every 20 probe intervals, 6 s here) would have.
        asio::steady_timer pause(co_await asio::this_coro::executor);
        bool counted = false;
        for (int attempt = 0; attempt < 150 && !counted; ++attempt) {
            auto presence = co_await client::http_request(cluster.node(1), http::verb::get,
                                                          "/presence?uid=seed");
            counted = json::parse(presence.body).at("connections") == 1;
            if (counted) break;
            pause.expires_after(20ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        BOOST_TEST(counted);
    });
}

// The connections of `uid` that `node` counts across the cluster (/presence).
awaitable<std::int64_t> presence_of(tcp::endpoint node, std::string uid) {
    auto answer =
        co_await client::http_request(node, http::verb::get, "/presence?uid=" + std::move(uid));
    BOOST_REQUIRE_EQUAL(answer.status, 200u);
    co_return json::parse(answer.body).at("connections").to_number<std::int64_t>();
}

// Redis lost every key while the nodes' links stayed up (as after a failover to an empty
// replica, or a FLUSHALL): nothing failed that a node could notice, but its next heartbeat finds
// it missing from the node list, and it writes all its presence counts again at once. Each
// user's own slow refresh (every 20 probe intervals, 6 s here, at a time set by its uid's hash)
// would bring back 8 users within 3 s with a chance of 1 in 256.
BOOST_AUTO_TEST_CASE(a_node_that_redis_forgot_writes_all_its_presence_again) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        constexpr int users = 8;
        std::vector<WebSocketClient> browsers;
        for (int i = 0; i < users; ++i) {
            std::string uid = "forgotten-" + std::to_string(i);
            auto browser = co_await WebSocketClient::connect(cluster.node(0));
            co_await browser.send(R"({"uid":")" + uid + R"("})");
            co_await send_until_delivered(cluster.node(1), uid, "probe");
            auto probe = co_await browser.receive();
            BOOST_REQUIRE_EQUAL(probe, "probe");
            browsers.push_back(std::move(browser));
        }
        for (int i = 0; i < users; ++i) {
            std::int64_t counted =
                co_await presence_of(cluster.node(1), "forgotten-" + std::to_string(i));
            BOOST_REQUIRE_EQUAL(counted, 1);
        }

        auto flushed = cluster.redis().command({"FLUSHALL"});
        BOOST_REQUIRE(flushed.has_value());

        asio::steady_timer pause(co_await asio::this_coro::executor);
        int back = 0;
        for (int attempt = 0; attempt < 150 && back < users; ++attempt) {
            back = 0;
            for (int i = 0; i < users; ++i) {
                std::int64_t counted =
                    co_await presence_of(cluster.node(1), "forgotten-" + std::to_string(i));
                back += counted == 1;
            }
            if (back == users) break;
            pause.expires_after(20ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        BOOST_TEST(back == users);
    });
}

// Redis restarted without its data while one node could not reach it, and a message published
// in the new stream meanwhile: the node, back, reads that stream from its start (its old seq
// counts in the old epoch and says nothing of the new one), so its seed-mode client gets the
// message although its seq is below the last one the node had seen.
BOOST_AUTO_TEST_CASE(a_node_cut_off_while_redis_lost_its_data_reads_the_new_stream_from_its_start) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        auto browser = co_await WebSocketClient::connect(cluster.node(0));
        co_await browser.send(R"({"uid":"seed"})");
        co_await send_until_delivered(cluster.node(1), "seed", "probe");
        auto probe = co_await browser.receive();
        BOOST_TEST(probe == "probe");
        for (int i = 0; i < 3; ++i) {  // node0 has seen seq 3 at least
            auto sent = co_await client::http_request(cluster.node(1), http::verb::get,
                                                      "/send?uid=seed&message=old");
            BOOST_REQUIRE_EQUAL(sent.status, 200u);
            auto old = co_await browser.receive();
            BOOST_TEST(old == "old");
        }

        cluster.link(0).blackhole(TcpProxy::Direction::both);
        cluster.redis().kill();
        cluster.redis().restart();
        co_await wait_until_serving(cluster.node(1));
        auto fresh = co_await publish_answered(cluster.node(1), "seed", 1);
        BOOST_TEST(fresh.front() == 1u);  // the new stream's first
        cluster.link(0).restore();
        auto text = co_await browser.receive();
        BOOST_TEST(text == "0");  // publish_answered's first message
    });
}

// With appendonly, Redis keeps its data through a restart: whatever was answered 200 is still
// there, and a client either resumes it or is told.
BOOST_AUTO_TEST_CASE(redis_restarted_with_its_data_loses_nothing_answered) {
    TestCluster cluster({.nodes = 2, .redis = {.append_only = true}});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("durable");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        auto before = co_await publish_answered(cluster.node(1), "durable", 5);
        bool got = co_await reader.read(5);
        BOOST_REQUIRE(got);
        cluster.redis().stop();
        cluster.redis().restart();
        co_await wait_until_serving(cluster.node(1));
        auto after = co_await publish_answered(cluster.node(1), "durable", 3);
        // Either the node kept the epoch and the client receives 6..8 live, or the epoch changed
        // and the client is told (1012) and resumes with recovered:false and what is kept.
        bool more = co_await reader.read(3, 5s);
        if (!more) {
            BOOST_REQUIRE(!reader.connected());
            bool back = co_await reader.join_when_serving(cluster.node(1));
            BOOST_REQUIRE(back);
            BOOST_TEST((reader.recoveries().back() == std::optional<bool>(false)));
            bool replayed = co_await reader.read(after.size());
            BOOST_REQUIRE(replayed);
        }
        BOOST_TEST(reader.messages().back().seq == after.back());
    });
}

// A node killed with SIGKILL mid-burst: its clients come back on another node and resume with no
// gap and no duplicate, and its presence stops counting once its heartbeat has stopped.
BOOST_AUTO_TEST_CASE(a_node_killed_mid_burst_loses_none_of_its_clients_messages) {
    TestCluster cluster({.nodes = 2});
    // node1 runs as a process of its own, so that it can be killed.
    cluster.stop_node(1);
    Config config = cluster.config(1);
    std::vector<std::string> args{"--address",
                                  "127.0.0.1",
                                  "--port",
                                  "0",
                                  "--redis",
                                  config.redis,
                                  "--node-id",
                                  "doomed",
                                  "--redis-probe-interval",
                                  "300ms",
                                  "--redis-timeout",
                                  "500ms",
                                  "--log-level",
                                  "warn"};
    int pipe_ends[2];
    BOOST_REQUIRE(pipe(pipe_ends) == 0);
    std::vector<char*> argv{const_cast<char*>(HERALD_BINARY)};
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t doomed = fork();
    BOOST_REQUIRE(doomed >= 0);
    if (doomed == 0) {
        dup2(pipe_ends[1], STDERR_FILENO);
        close_range(3, ~0U, 0);  // none of the test's sockets in the node
        execv(HERALD_BINARY, argv.data());
        _exit(127);
    }
    close(pipe_ends[1]);
    struct Reap {
        pid_t pid;
        int fd;
        ~Reap() {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            close(fd);
        }
    } reap{doomed, pipe_ends[0]};

    run([&]() -> awaitable<void> {
        asio::posix::stream_descriptor output(co_await asio::this_coro::executor,
                                              dup(pipe_ends[0]));
        std::string log;
        for (;;) {  // the start-up line names the port
            std::size_t end = co_await asio::async_read_until(output, asio::dynamic_buffer(log),
                                                              "\n", asio::use_awaitable);
            std::string line = log.substr(0, end);
            log.erase(0, end);
            auto at = line.find(" port=");
            if (line.find("listening") == std::string::npos || at == std::string::npos) continue;
            tcp::endpoint node(asio::ip::make_address("127.0.0.1"),
                               static_cast<std::uint16_t>(std::stoi(line.substr(at + 6))));
            co_await wait_until_serving(node);
            co_await wait_until_serving(cluster.node(0));

            StreamReader reader("survivor");
            bool joined = co_await reader.join(node);
            BOOST_REQUIRE(joined);
            constexpr int total = 200;
            std::vector<std::uint64_t> answered;
            bool done = false;
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [](tcp::endpoint publisher, std::vector<std::uint64_t>& answered,
                   bool& done) -> awaitable<void> {
                    answered = co_await publish_answered(publisher, "survivor", total);
                    done = true;
                }(cluster.node(0), answered, done),
                asio::detached);
            bool some = co_await reader.read(50);
            BOOST_REQUIRE(some);
            kill(reap.pid, SIGKILL);  // mid-burst
            co_await reader.read_until_closed();
            bool back = co_await reader.join_when_serving(cluster.node(0));
            BOOST_REQUIRE(back);
            BOOST_TEST((reader.recoveries().back() == std::optional<bool>(true)));
            asio::steady_timer pause(co_await asio::this_coro::executor);
            for (int attempt = 0; attempt < 1000 && !done; ++attempt) {
                pause.expires_after(10ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
            BOOST_REQUIRE(done);
            bool rest = co_await reader.read(total - reader.messages().size());
            BOOST_REQUIRE(rest);
            BOOST_TEST(seqs_of(reader) == answered, boost::test_tools::per_element());

            // The dead node's presence stops counting once its records expire.
            for (int attempt = 0; attempt < 500; ++attempt) {
                auto presence = co_await client::http_request(cluster.node(0), http::verb::get,
                                                              "/presence?uid=survivor");
                if (json::parse(presence.body).at("connections") == 1) co_return;
                pause.expires_after(20ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
            BOOST_FAIL("the killed node's presence never expired");
        }
    });
}

BOOST_AUTO_TEST_SUITE_END()
