// Event streams (GET /sse) against the real server, through a raw HTTP client: the answer's
// head, the welcome, messages with their ids, resume by Last-Event-ID, the logins, and every way
// the server ends a stream (a close event, then the end of the stream).
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/token.hpp"
#include "support/event_stream.hpp"
#include "support/jwt.hpp"
#include "support/server_fixture.hpp"
#include "support/tls.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace http = client::http;

namespace {

const std::string secret = "sse secret";

Config with_tokens() {
    Config config = test_config();
    config.token_secret = secret;
    return config;
}

std::string token_for(std::string_view uid) {
    return mint_hs256_token(secret, uid, 1h, seconds_since_epoch());
}

// Opens /sse?v=1&uid=U (dev mode) and reads the welcome; returns the client and the welcome.
struct Opened {
    EventStreamClient stream;
    StreamEvent welcome;
};
awaitable<Opened> open_stream(tcp::endpoint server, std::string uid, std::string headers = {}) {
    auto stream = co_await EventStreamClient::open(
        server, "/sse?v=1&uid=" + client::url_encode(uid), std::move(headers));
    BOOST_REQUIRE_EQUAL(stream.status(), 200u);
    auto welcome = co_await stream.next();
    BOOST_REQUIRE(welcome.has_value());
    BOOST_REQUIRE(welcome->json().at("type") == "welcome");
    co_return Opened{std::move(stream), std::move(*welcome)};
}

awaitable<void> publish_text(tcp::endpoint server, std::string uid, std::string text) {
    // Named first: no braced list inside a co_await expression (g++ 12).
    json::object body{{"uid", uid}, {"message", text}};
    co_await post_send(server, body);
}

// The seq of each message event, checking that its id is `epoch:seq`.
std::vector<std::uint64_t> seqs_of(const std::vector<StreamEvent>& events,
                                   const std::string& epoch) {
    std::vector<std::uint64_t> seqs;
    for (const auto& event : events) {
        auto data = event.json();
        if (data.at("type") != "message") continue;
        auto seq = data.at("seq").to_number<std::uint64_t>();
        BOOST_TEST((event.id == epoch + ":" + std::to_string(seq)));
        seqs.push_back(seq);
    }
    return seqs;
}

awaitable<std::vector<StreamEvent>> next_events(EventStreamClient& stream, std::size_t count) {
    std::vector<StreamEvent> events;
    while (events.size() < count) {
        auto event = co_await stream.next();
        BOOST_REQUIRE_MESSAGE(event.has_value(), "the stream ended after " << events.size());
        events.push_back(std::move(*event));
    }
    co_return events;
}

// The last event of a stream that the server ends, and the end after it.
awaitable<void> expect_close(EventStreamClient& stream, std::uint16_t code, std::string reason) {
    auto events = co_await stream.rest();
    BOOST_REQUIRE(!events.empty());
    json::value close = events.back().json();
    BOOST_TEST(close == (json::object{{"type", "close"}, {"code", code}, {"reason", reason}}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_stream)

BOOST_AUTO_TEST_CASE(the_stream_is_a_welcome_then_messages_with_their_ids) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto [stream, welcome] = co_await open_stream(server.endpoint(), "sse-a");
        // Correct HTTP for a stream: no length, never reused, not stored, not buffered by nginx.
        BOOST_TEST(stream.head().starts_with("HTTP/1.1 200 OK\r\n"));
        BOOST_TEST((stream.header("Content-Type") == std::string("text/event-stream")));
        BOOST_TEST((stream.header("Cache-Control") == std::string("no-store")));
        BOOST_TEST((stream.header("X-Accel-Buffering") == std::string("no")));
        BOOST_TEST((stream.header("Connection") == std::string("close")));
        BOOST_TEST(!stream.header("Content-Length").has_value());
        BOOST_TEST(!stream.header("Transfer-Encoding").has_value());

        json::object data = welcome.json().as_object();
        std::string epoch(data.at("epoch").as_string());
        BOOST_TEST(data.at("uid") == "sse-a");
        BOOST_TEST(data.at("seq") == 0);
        BOOST_TEST(data.at("ping_interval_ms") == 25000);
        BOOST_TEST(!data.contains("recovered"));   // a first login
        BOOST_TEST((welcome.id == epoch + ":0"));  // where a cut stream resumes from

        co_await publish_text(server.endpoint(), "sse-a", "Hello World");
        json::object job{{"uid", "sse-a"}, {"message", {{"job", 7}}}};
        co_await post_send(server.endpoint(), job);
        auto events = co_await next_events(stream, 2);
        BOOST_TEST(seqs_of(events, epoch) == (std::vector<std::uint64_t>{1, 2}),
                   boost::test_tools::per_element());
        BOOST_TEST(without_time(events[0].data) ==
                   json::parse(R"({"type":"message","seq":1,"data":"Hello World"})"));
        BOOST_TEST(events[1].json().at("data") == json::parse(R"({"job":7})"));

        // Counted as a connection, as WebSockets are.
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("connections") == 1);
        auto presence = co_await client::http_request(server.endpoint(), http::verb::get,
                                                      "/presence?uid=sse-a");
        BOOST_TEST(json::parse(presence.body).at("connections") == 1);
        stream.close();
        co_await wait_for_stat(server.endpoint(), "connections", 0);
    });
}

BOOST_AUTO_TEST_CASE(last_event_id_resumes_as_since_does_with_or_without_a_gap) {
    Config config = test_config();
    config.history_size = 3;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto [first, welcome] = co_await open_stream(server.endpoint(), "resumer");
        std::string epoch(welcome.json().at("epoch").as_string());
        for (int i = 1; i <= 2; ++i)
            co_await publish_text(server.endpoint(), "resumer", "m" + std::to_string(i));
        auto seen = co_await next_events(first, 2);
        std::string last_id = *seen.back().id;
        BOOST_TEST(last_id == epoch + ":2");
        first.close();
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        co_await publish_text(server.endpoint(), "resumer", "m3");  // missed

        // What a browser's EventSource sends after a drop: no gap, recovered.
        auto [back, back_welcome] = co_await open_stream(server.endpoint(), "resumer",
                                                         "Last-Event-ID: " + last_id + "\r\n");
        BOOST_TEST(back_welcome.json().at("recovered") == true);
        BOOST_TEST(back_welcome.json().at("seq") == 3);
        BOOST_TEST(!back_welcome.id.has_value());  // the replay follows: nothing to move past
        auto replayed = co_await next_events(back, 1);
        BOOST_TEST(seqs_of(replayed, epoch) == (std::vector<std::uint64_t>{3}),
                   boost::test_tools::per_element());
        back.close();

        // History keeps 3: after seq 1 of 6, 2 is gone; what is kept comes all the same.
        for (int i = 4; i <= 6; ++i)
            co_await publish_text(server.endpoint(), "resumer", "m" + std::to_string(i));
        auto [gap, gap_welcome] = co_await open_stream(server.endpoint(), "resumer",
                                                       "Last-Event-ID: " + epoch + ":1\r\n");
        BOOST_TEST(gap_welcome.json().at("recovered") == false);
        auto kept = co_await next_events(gap, 3);
        BOOST_TEST(seqs_of(kept, epoch) == (std::vector<std::uint64_t>{4, 5, 6}),
                   boost::test_tools::per_element());
        gap.close();

        // A bare seq cannot prove its stream: what follows it, recovered false.
        auto [bare, bare_welcome] =
            co_await open_stream(server.endpoint(), "resumer", "Last-Event-ID: 5\r\n");
        BOOST_TEST(bare_welcome.json().at("recovered") == false);
        auto after_five = co_await next_events(bare, 1);
        BOOST_TEST(seqs_of(after_five, epoch) == (std::vector<std::uint64_t>{6}),
                   boost::test_tools::per_element());
        bare.close();

        auto malformed = co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=resumer",
                                                          "Last-Event-ID: e:-1\r\n");
        BOOST_TEST(malformed.status() == 400u);
        BOOST_TEST(json::parse(malformed.body()).at("error") == "malformed Last-Event-ID");
    });
}

BOOST_AUTO_TEST_CASE(a_replay_past_the_outbox_ends_with_a_slow_consumer_close_event) {
    Config config = test_config();
    config.send_queue = 4;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        for (int i = 1; i <= 10; ++i)
            co_await publish_text(server.endpoint(), "behind", "m" + std::to_string(i));
        auto stream = co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=behind",
                                                       "Last-Event-ID: 0\r\n");
        BOOST_REQUIRE_EQUAL(stream.status(), 200u);
        auto events = co_await stream.rest();    // to the end of the stream
        BOOST_REQUIRE_EQUAL(events.size(), 6u);  // the welcome, what fits, the close
        BOOST_TEST(events.front().json().at("type") == "welcome");
        std::string epoch(events.front().json().at("epoch").as_string());
        std::vector<StreamEvent> messages(events.begin() + 1, events.end() - 1);
        BOOST_TEST(seqs_of(messages, epoch) == (std::vector<std::uint64_t>{1, 2, 3, 4}),
                   boost::test_tools::per_element());
        BOOST_TEST(events.back().json() ==
                   json::parse(R"({"type":"close","code":1008,"reason":"slow consumer"})"));
        co_await wait_for_stat(server.endpoint(), "slow_consumer_disconnects", 1);
    });
}

BOOST_AUTO_TEST_CASE(a_slow_reader_is_closed_as_a_slow_consumer_and_told_so_at_the_end) {
    Config config = test_config();
    config.send_queue = 8;
    config.send_queue_bytes = 256 * 1024;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto [stream, welcome] = co_await open_stream(server.endpoint(), "slow");
        // Not read: the socket's buffers fill, then the outbox, and the hub closes it.
        std::string big(60 * 1024, 'x');
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        std::string body = json::serialize(json::object{{"uid", "slow"}, {"message", big}});
        for (int published = 0;; ++published) {
            BOOST_REQUIRE_MESSAGE(published < 10'000, "never closed as a slow consumer");
            auto answer = co_await publisher.post("/send", body);
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
            if (delivered_of(answer.body) == 0) break;
        }
        co_await expect_close(stream, 1008, "slow consumer");
    });
}

BOOST_AUTO_TEST_CASE(a_token_logs_in_from_the_url_or_the_header_and_nothing_else_does) {
    TestServer server(with_tokens());
    run([&]() -> awaitable<void> {
        std::string token = token_for("alice");
        auto by_query =
            co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&token=" + token);
        BOOST_REQUIRE_EQUAL(by_query.status(), 200u);
        auto alice = co_await by_query.next();  // not inside BOOST_TEST: no co_await there
        BOOST_TEST(alice->json().at("uid") == "alice");

        auto by_header = co_await EventStreamClient::open(
            server.endpoint(), "/sse?v=1", "Authorization: Bearer " + token_for("bob") + "\r\n");
        BOOST_REQUIRE_EQUAL(by_header.status(), 200u);
        auto bob = co_await by_header.next();
        BOOST_TEST(bob->json().at("uid") == "bob");

        co_await publish_text(server.endpoint(), "alice", "for alice");
        auto message = co_await by_query.next();
        BOOST_TEST(message->json().at("data") == "for alice");

        // Refused with 401 and the close table's words: no token (a uid is no login once
        // tokens are configured), a bad one, one without exp.
        const std::vector<std::pair<std::string, std::string>> refused{
            {"/sse?v=1", "token required"},
            {"/sse?v=1&uid=alice", "token required"},
            {"/sse?v=1&token=not.a.jwt", "malformed token"},
            {"/sse?v=1&token=" + mint_hs256_token("another", "alice", 1h, seconds_since_epoch()),
             "bad token signature"},
            {"/sse?v=1&token=" + sign_token({{"alg", "HS256"}}, {{"sub", "alice"}}, secret),
             "token has no exp"},
        };
        for (const auto& [target, reason] : refused) {
            auto refusal = co_await EventStreamClient::open(server.endpoint(), target);
            BOOST_TEST(refusal.status() == 401u, target);
            BOOST_TEST(json::parse(refusal.body()).at("error").as_string() == reason, target);
        }
    });
}

BOOST_AUTO_TEST_CASE(dev_mode_takes_the_uid_of_the_url_and_refuses_what_is_not_one) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const std::vector<std::tuple<std::string, unsigned, std::string>> refused{
            {"/sse?v=1", 400, "uid is missing"},
            {"/sse?v=1&uid=", 400, "uid is empty"},
            {"/sse?v=1&uid=a%C2%85", 400, "uid has control characters"},
            {"/sse?uid=a", 400, "unsupported protocol version"},
            {"/sse?v=2&uid=a", 400, "unsupported protocol version"},
        };
        for (const auto& [target, status, reason] : refused) {
            auto refusal = co_await EventStreamClient::open(server.endpoint(), target);
            BOOST_TEST(refusal.status() == status, target);
            BOOST_TEST(json::parse(refusal.body()).at("error").as_string() == reason, target);
        }
        auto post = co_await client::http_request(server.endpoint(), http::verb::post,
                                                  "/sse?v=1&uid=a", "x");
        BOOST_TEST(post.status == 405u);
        // The server still serves streams after the refusals.
        auto [stream, welcome] = co_await open_stream(server.endpoint(), "after-refusals");
        BOOST_TEST(welcome.json().at("uid") == "after-refusals");
    });
}

BOOST_AUTO_TEST_CASE(origins_and_connection_limits_apply_as_for_websockets) {
    Config config = test_config();
    config.allowed_origins = {"https://app.example.com"};
    config.max_connections = 1;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto elsewhere = co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=o",
                                                          "Origin: https://evil.example.com\r\n");
        BOOST_TEST(elsewhere.status() == 403u);
        auto [allowed, welcome] =
            co_await open_stream(server.endpoint(), "o", "Origin: https://app.example.com\r\n");
        // A page of that origin may read the stream.
        BOOST_TEST((allowed.header("Access-Control-Allow-Origin") ==
                    std::string("https://app.example.com")));
        auto full = co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=p");
        BOOST_TEST(full.status() == 503u);
        allowed.close();
        // The ticket goes back when the stream ends.
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        for (int attempt = 0;; ++attempt) {
            auto again = co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=p");
            if (again.status() == 200u) break;
            BOOST_REQUIRE_MESSAGE(attempt < 500, "the stream's place was never given back");
        }
    });
}

BOOST_AUTO_TEST_CASE(disconnect_ends_the_stream_with_its_close_event) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto [banned, welcome] = co_await open_stream(server.endpoint(), "banned");
        auto [other, other_welcome] = co_await open_stream(server.endpoint(), "relogin");
        auto answer = co_await client::http_request(server.endpoint(), http::verb::post,
                                                    "/disconnect", R"({"uid":"banned"})");
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"disconnected":1})"));
        co_await expect_close(banned, 1008, "disconnected");
        auto again =
            co_await client::http_request(server.endpoint(), http::verb::post, "/disconnect",
                                          R"({"uid":"relogin","reconnect":true})");
        BOOST_TEST(json::parse(again.body) == json::parse(R"({"disconnected":1})"));
        co_await expect_close(other, 1012, "reconnect");
    });
}

BOOST_AUTO_TEST_CASE(shutdown_ends_the_stream_with_its_close_event_after_what_was_queued) {
    TestServer server;
    std::thread stopping;
    run([&]() -> awaitable<void> {
        auto [stream, welcome] = co_await open_stream(server.endpoint(), "until-shutdown");
        co_await publish_text(server.endpoint(), "until-shutdown", "last words");
        // Stopped on another thread, as SIGTERM would, while this one reads to the end.
        stopping = std::thread([&server] { server.stop(); });
        auto events = co_await stream.rest();
        BOOST_REQUIRE_EQUAL(events.size(), 2u);
        BOOST_TEST(events[0].json().at("data") == "last words");
        BOOST_TEST(events[1].json() ==
                   json::parse(R"({"type":"close","code":1001,"reason":"server shutting down"})"));
    });
    stopping.join();
}

BOOST_AUTO_TEST_CASE(keep_alive_comments_come_at_the_ping_interval_and_keep_a_silent_peer) {
    Config config = test_config();
    config.ping_interval = 100ms;
    config.pong_timeout = 50ms;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto [stream, welcome] = co_await open_stream(server.endpoint(), "quiet");
        BOOST_TEST(welcome.json().at("ping_interval_ms") == 100);
        // The peer says nothing, ever; its reads of the pings are its only sign of life, and
        // the pong timeout (shorter than the interval) does not close it for its silence.
        for (int pings = 0; pings < 5;) {
            auto event = co_await stream.next(true, 2s);
            BOOST_REQUIRE(event.has_value());
            BOOST_REQUIRE(event->comment);
            BOOST_TEST(event->data == "ping");
            ++pings;
        }
        co_await publish_text(server.endpoint(), "quiet", "still here");
        for (;;) {
            auto event = co_await stream.next(true, 2s);
            BOOST_REQUIRE(event.has_value());
            if (event->comment) continue;
            BOOST_TEST(event->json().at("data") == "still here");
            break;
        }
    });
}

BOOST_AUTO_TEST_CASE(an_event_stream_works_over_tls) {
    TestCertificate certificate;
    Config config = test_config();
    config.tls_cert = certificate.certificate_file();
    config.tls_key = certificate.key_file();
    TestServer server(config);
    auto tls = certificate.client_context();
    run([&]() -> awaitable<void> {
        auto stream =
            co_await EventStreamClient::open(server.endpoint(), "/sse?v=1&uid=secure", {}, &tls);
        BOOST_REQUIRE_EQUAL(stream.status(), 200u);
        auto welcome = co_await stream.next();
        BOOST_TEST(welcome->json().at("uid") == "secure");
        auto answer = co_await https_request(server.endpoint(), tls, http::verb::post, "/send",
                                             R"({"uid":"secure","message":"over TLS"})");
        BOOST_TEST(answer.status == 200u);
        auto message = co_await stream.next();
        BOOST_TEST(message->json().at("data") == "over TLS");
        auto disconnect = co_await https_request(server.endpoint(), tls, http::verb::post,
                                                 "/disconnect", R"({"uid":"secure"})");
        BOOST_TEST(disconnect.status == 200u);
        co_await expect_close(stream, 1008, "disconnected");
    });
}

BOOST_AUTO_TEST_SUITE_END()
