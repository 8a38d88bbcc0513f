// /metrics and /readyz against the real server: the exposition after known traffic, and the
// readiness probe through a drain.
#include <map>
#include <sstream>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using client::http_request;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;

namespace {

const std::string api_key = "metrics-test-key";

http::fields with_key() {
    http::fields fields;
    fields.set(http::field::authorization, "Bearer " + api_key);
    return fields;
}

// Each sample of an exposition by its name and labels as written: `name{labels}` -> value.
using Samples = std::map<std::string, double>;

Samples parse_samples(const std::string& text) {
    Samples samples;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto space = line.rfind(' ');
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

awaitable<Samples> scrape(tcp::endpoint server) {
    auto response = co_await http_request(server, http::verb::get, "/metrics", {}, with_key());
    BOOST_REQUIRE_EQUAL(response.status, 200u);
    BOOST_TEST(response.headers[http::field::content_type] ==
               "text/plain; version=0.0.4; charset=utf-8");
    co_return parse_samples(response.body);
}

// What a sample is now (0 when absent: a series shown only once it happened).
double value(const Samples& samples, const std::string& key) {
    auto found = samples.find(key);
    return found == samples.end() ? 0 : found->second;
}

// Scrapes until `key` has moved by `delta` from `before` (a session's end is counted after its
// socket closes, which no client can await); fails after a bounded number of scrapes.
awaitable<Samples> scrape_until(tcp::endpoint server, const Samples& before, std::string key,
                                double delta) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    Samples now;
    for (int attempt = 0; attempt < 500; ++attempt) {
        now = co_await scrape(server);
        if (value(now, key) - value(before, key) == delta) co_return now;
        pause.expires_after(std::chrono::milliseconds(10));
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL(key << " moved by " << value(now, key) - value(before, key) << ", expected "
                   << delta);
    co_return now;
}

Config keyed_config() {
    Config config = test_config();
    config.api_keys = {api_key};
    return config;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(the_counters_move_as_the_traffic_goes) {
    TestServer server(keyed_config());
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        Samples before = co_await scrape(at);
        BOOST_TEST(value(before, "herald_connections") == 0);
        BOOST_TEST(value(before, R"(herald_build_info{version="0.1.0"})") == 1);
        BOOST_TEST(value(before, "herald_nodes") == 1);
        BOOST_TEST(value(before, "process_open_fds") > 0);
        BOOST_TEST(value(before, "process_resident_memory_bytes") > 0);

        // Two connections of one user (one resuming with everything kept, one from an epoch
        // that is not the stream's), three publishes, a refused login.
        auto phone = co_await WebSocketClient::connect(at);
        co_await phone.send(R"({"uid":"m","v":1,"since":{"seq":0}})");
        std::string welcome = co_await phone.receive();
        BOOST_TEST(json::parse(welcome).at("recovered") == true);
        auto laptop = co_await WebSocketClient::connect(at);
        co_await laptop.send(R"({"uid":"m","v":1,"since":{"epoch":"gone","seq":3}})");
        welcome = co_await laptop.receive();
        BOOST_TEST(json::parse(welcome).at("recovered") == false);
        for (int i = 0; i < 3; ++i) {
            auto sent =
                co_await http_request(at, http::verb::get, "/send?uid=m&message=x", {}, with_key());
            BOOST_TEST(sent.status == 200u);
        }
        for (int i = 0; i < 3; ++i) {
            co_await phone.receive();
            co_await laptop.receive();
        }
        auto refused = co_await WebSocketClient::connect(at);
        co_await refused.send(R"({"user":"m"})");
        auto refusal = co_await refused.wait_for_close();
        BOOST_TEST(refusal.code == 1008);
        auto unauthorized = co_await http_request(at, http::verb::get, "/metrics");
        BOOST_TEST(unauthorized.status == 401u);
        auto unknown = co_await http_request(at, http::verb::get, "/wp-login.php");
        BOOST_TEST(unknown.status == 404u);
        co_await laptop.close();

        co_await scrape_until(at, before, R"(herald_disconnects_total{reason="client_close"})", 1);
        // The close is counted as it happens; the hub lets the connection go a step later.
        Samples after = co_await scrape_until(at, before, "herald_connections", 1);
        auto moved = [&](const std::string& key) { return value(after, key) - value(before, key); };
        BOOST_TEST(value(after, "herald_connections") == 1);
        BOOST_TEST(value(after, "herald_users") == 1);
        BOOST_TEST(value(after, "herald_streams") >= 1);
        BOOST_TEST(value(after, "herald_history_messages") == 3);
        BOOST_TEST(value(after, "herald_history_bytes") > 0);
        BOOST_TEST(moved("herald_messages_published_total") == 3);
        BOOST_TEST(moved("herald_messages_delivered_total") == 6);
        BOOST_TEST(moved("herald_connections_opened_total") == 2);
        BOOST_TEST(moved(R"(herald_resumes_total{recovered="true"})") == 1);
        BOOST_TEST(moved(R"(herald_resumes_total{recovered="false"})") == 1);
        BOOST_TEST(moved(R"(herald_logins_refused_total{reason="bad_login"})") == 1);
        BOOST_TEST(moved(R"(herald_disconnects_total{reason="slow_consumer"})") == 0);
        BOOST_TEST(moved(R"(herald_http_requests_total{endpoint="send",code="200"})") == 3);
        BOOST_TEST(moved(R"(herald_http_requests_total{endpoint="metrics",code="401"})") == 1);
        BOOST_TEST(moved(R"(herald_http_requests_total{endpoint="other",code="404"})") == 1);
        BOOST_TEST(moved(R"(herald_http_requests_total{endpoint="ws",code="101"})") == 3);
        BOOST_TEST(moved(R"(herald_http_requests_total{endpoint="metrics",code="200"})") >= 1);
        BOOST_TEST(moved("herald_publish_duration_seconds_count") == 3);
        BOOST_TEST(moved("herald_publish_duration_seconds_sum") > 0);
        BOOST_TEST(value(after, R"(herald_publish_duration_seconds_bucket{le="+Inf"})") ==
                   value(after, "herald_publish_duration_seconds_count"));
        // Sampled: the first write on each I/O thread at least, and never more than the writes.
        double lag_samples = moved("herald_delivery_lag_seconds_count");
        BOOST_TEST(lag_samples >= 1);
        BOOST_TEST(lag_samples <= 6);
        BOOST_TEST(value(after, R"(herald_delivery_lag_seconds_bucket{le="1"})") == lag_samples);
    });
}

BOOST_AUTO_TEST_CASE(a_slow_consumers_close_is_counted_once_by_its_slug) {
    Config config = keyed_config();
    config.send_queue = 1;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        Samples before = co_await scrape(at);
        // Three messages kept for a user who then resumes from the start: a replay longer than
        // its outbox, which is closed as a slow consumer after the first.
        for (int i = 0; i < 3; ++i)
            co_await http_request(at, http::verb::get, "/send?uid=slow&message=x", {}, with_key());
        auto slow = co_await WebSocketClient::connect(at);
        co_await slow.send(R"({"uid":"slow","v":1,"since":{"seq":0}})");
        auto reason = co_await slow.wait_for_close();
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "slow consumer");
        Samples after = co_await scrape_until(
            at, before, R"(herald_disconnects_total{reason="slow_consumer"})", 1);
        BOOST_TEST(value(after, R"(herald_disconnects_total{reason="client_close"})") ==
                   value(before, R"(herald_disconnects_total{reason="client_close"})"));
    });
}

BOOST_AUTO_TEST_CASE(readyz_says_ready_then_draining_while_everything_else_is_served) {
    TestServer server(keyed_config());
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto ready = co_await http_request(at, http::verb::get, "/readyz");  // no key needed
        BOOST_TEST(ready.status == 200u);
        BOOST_TEST(json::parse(ready.body) == json::parse(R"({"status":"ready"})"));
        auto app = co_await WebSocketClient::login(at, "d", Protocol::json);

        server.server().drain();
        auto draining = co_await http_request(at, http::verb::get, "/readyz");
        BOOST_TEST(draining.status == 503u);
        BOOST_TEST(json::parse(draining.body) == json::parse(R"({"status":"draining"})"));
        // Draining serves as before: publishes, new logins, liveness.
        auto sent =
            co_await http_request(at, http::verb::get, "/send?uid=d&message=still", {}, with_key());
        BOOST_TEST(json::parse(sent.body).at("delivered") == 1);
        std::string message = co_await app.receive();
        BOOST_TEST(json::parse(message).at("data") == "still");
        auto late = co_await WebSocketClient::login(at, "late", Protocol::json);
        auto health = co_await http_request(at, http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
        auto wrong = co_await http_request(at, http::verb::post, "/readyz", "{}");
        BOOST_TEST(wrong.status == 405u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
