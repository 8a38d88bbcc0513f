// The HTTP API against the real server: answers, errors and keep-alive.
#include <array>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using client::http_request;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;
using namespace asio::experimental::awaitable_operators;

namespace {

void check_error(const client::HttpResponse& response, unsigned status, std::string_view error) {
    BOOST_TEST(response.status == status);
    BOOST_TEST(response.headers[http::field::content_type] == "application/json");
    auto body = json::parse(response.body);
    BOOST_TEST(body.at("error").as_string() == error);
}

// Sends `request` as raw bytes and returns everything the server answers until it closes.
awaitable<std::string> raw_exchange(tcp::endpoint server, std::string request) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(server, asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    std::string answer;
    for (;;) {
        char chunk[4096];
        auto [error, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
        answer.append(chunk, n);
        if (error) co_return answer;
    }
}

// Writes `head` and then `body`, whatever the server answers meanwhile: what a client does that
// sends its whole request before it looks at the answer (Node's fetch, Python's urllib).
awaitable<void> upload(tcp::socket& socket, const std::string& head, const std::string& body,
                       error_code& result) {
    std::tie(result, std::ignore) =
        co_await asio::async_write(socket, asio::buffer(head), use_nothrow);
    if (result) co_return;
    std::tie(result, std::ignore) =
        co_await asio::async_write(socket, asio::buffer(body), use_nothrow);
}

// Reads what the server sends until it ends the connection; `result` says how it ended: eof for
// an orderly close, connection_reset when the answer may have been lost.
awaitable<void> read_until_closed(tcp::socket& socket, std::string& answer, error_code& result) {
    for (;;) {
        char chunk[4096];
        auto [error, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
        answer.append(chunk, n);
        if (error) {
            result = error;
            co_return;
        }
    }
}

struct UploadOutcome {
    std::string answer;
    error_code read_end;
    error_code write_end;
};

// A POST /send of `body_size` bytes, uploaded while the answer is read.
awaitable<UploadOutcome> post_while_uploading(tcp::endpoint server, std::size_t body_size) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(server, asio::use_awaitable);
    std::string head =
        "POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body_size) + "\r\n\r\n";
    std::string body(body_size, ' ');
    UploadOutcome outcome;
    co_await (upload(socket, head, body, outcome.write_end) &&
              read_until_closed(socket, outcome.answer, outcome.read_end));
    co_return outcome;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_api)

BOOST_AUTO_TEST_CASE(an_unknown_uid_gives_delivered_0) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto response = co_await http_request(server.endpoint(), http::verb::get,
                                              "/send?uid=nobody&message=hi");
        BOOST_TEST(response.status == 200u);
        BOOST_TEST(json::parse(response.body) == json::parse(R"({"delivered":0,"seq":1})"));
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("messages_published").as_int64() == 1);
        BOOST_TEST(stats.at("messages_delivered").as_int64() == 0);
    });
}

BOOST_AUTO_TEST_CASE(get_send_decodes_percent_escapes_and_plus) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto browser = co_await WebSocketClient::connect(server.endpoint());
        co_await browser.send(R"({"uid":"user 1"})");
        co_await send_until_delivered(server.endpoint(), "user 1", "probe");
        auto probe = co_await browser.receive();
        BOOST_TEST(probe == "probe");
        auto response = co_await http_request(server.endpoint(), http::verb::get,
                                              "/send?uid=user+1&message=50%25+done%2C+%E2%9C%93");
        BOOST_TEST(json::parse(response.body).at("delivered").as_int64() == 1);
        auto decoded = co_await browser.receive();
        BOOST_TEST(decoded == "50% done, \xE2\x9C\x93");
    });
}

BOOST_AUTO_TEST_CASE(post_send_delivers_strings_as_is_and_other_json_as_text) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto browser = co_await WebSocketClient::connect(server.endpoint());
        co_await browser.send(R"({"uid":"u1"})");
        co_await send_until_delivered(server.endpoint(), "u1", "probe");
        auto probe = co_await browser.receive();
        BOOST_TEST(probe == "probe");
        auto other = co_await WebSocketClient::login(server.endpoint(), "u2", Protocol::json);

        auto answer =
            co_await post_send(server.endpoint(), json::parse(R"({"uid":"u1","message":"as is"})"));
        BOOST_TEST(answer.at("delivered") == 1);
        auto as_is = co_await browser.receive();
        BOOST_TEST(as_is == "as is");

        answer = co_await post_send(
            server.endpoint(),
            json::parse(R"({"uids":["u1","u2","u1","ghost"],"message":{"order":17}})"));
        BOOST_TEST(answer.at("delivered") == 2);
        // Each user's own numbering: u2 and ghost had nothing before, u1 had its probes.
        BOOST_TEST(answer.at("seqs").at("u2") == 1);
        BOOST_TEST(answer.at("seqs").at("ghost") == 1);
        BOOST_TEST(answer.at("seqs").at("u1").as_int64() > 1);
        auto as_text = co_await browser.receive();
        BOOST_TEST(json::parse(as_text) == json::parse(R"({"order":17})"));
        auto as_envelope = co_await other.receive();
        BOOST_TEST(without_time(as_envelope) ==
                   json::parse(R"({"type":"message","seq":1,"data":{"order":17}})"));
    });
}

BOOST_AUTO_TEST_CASE(bad_requests_get_a_status_and_a_json_error) {
    Config config = test_config();
    config.max_body = 1000;
    config.max_header_size = 2048;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        check_error(co_await http_request(endpoint, http::verb::get, "/send?message=x"), 400,
                    "uid is missing");
        check_error(co_await http_request(endpoint, http::verb::get, "/send?uid=1"), 400,
                    "message is missing");
        check_error(co_await http_request(endpoint, http::verb::post, "/send", "{oops"), 400,
                    "body is not valid JSON");
        check_error(co_await http_request(endpoint, http::verb::post, "/send",
                                          R"({"uid":["1"],"message":1})"),
                    400, "uid must be a string");
        check_error(co_await http_request(endpoint, http::verb::get, "/nothing-here"), 404,
                    "no such endpoint");
        auto wrong_method = co_await http_request(endpoint, http::verb::delete_, "/send");
        check_error(wrong_method, 405, "method not allowed");
        BOOST_TEST(wrong_method.headers[http::field::allow] == "GET, POST");
        check_error(co_await http_request(endpoint, http::verb::post, "/stats", "{}"), 405,
                    "method not allowed");
        std::string too_large =
            json::serialize(json::object{{"uid", "1"}, {"message", std::string(2000, 'x')}});
        check_error(co_await http_request(endpoint, http::verb::post, "/send", too_large), 413,
                    "request body too large");
        check_error(co_await http_request(endpoint, http::verb::get, "/ws"), 426,
                    "this endpoint takes WebSocket upgrades only");

        std::string huge_head =
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(4000, 'f') + "\r\n\r\n";
        std::string answer = co_await raw_exchange(endpoint, huge_head);
        BOOST_TEST(answer.starts_with("HTTP/1.1 431"));
        BOOST_TEST(answer.find(R"({"error":"request head too large"})") != std::string::npos);

        answer = co_await raw_exchange(endpoint, "NONSENSE\r\n\r\n");
        BOOST_TEST(answer.starts_with("HTTP/1.1 400"));
        BOOST_TEST(answer.find(R"({"error":"malformed HTTP request"})") != std::string::npos);

        // And the server still serves.
        auto health = co_await http_request(endpoint, http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
    });
}

BOOST_AUTO_TEST_CASE(a_client_that_keeps_uploading_an_oversized_body_gets_its_413_every_time) {
    Config config = test_config();
    config.max_body = 1000;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        for (int attempt = 0; attempt < 20; ++attempt) {
            BOOST_TEST_CONTEXT("attempt " << attempt) {
                // 2 MiB: far more than the socket buffers hold, so that the server refuses while
                // the client is still writing.
                auto outcome = co_await post_while_uploading(server.endpoint(), 2 * 1024 * 1024);
                BOOST_TEST(outcome.answer.starts_with("HTTP/1.1 413"));
                BOOST_TEST(outcome.answer.find(R"({"error":"request body too large"})") !=
                           std::string::npos);
                // The server read the rest and closed in order: no reset, no broken pipe.
                BOOST_TEST(outcome.read_end == make_error_code(asio::error::eof),
                           outcome.read_end.message());
                BOOST_TEST(!outcome.write_end, outcome.write_end.message());
            }
        }
        auto health = co_await http_request(server.endpoint(), http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
    });
}

BOOST_AUTO_TEST_CASE(lingering_after_a_refusal_ends_at_the_close_timeout) {
    Config config = test_config();
    config.max_body = 1000;
    config.close_timeout = std::chrono::milliseconds(200);
    TestServer server(config);
    run([&]() -> awaitable<void> {
        // Announces a large body, sends a little of it, then neither sends nor closes.
        tcp::socket socket(co_await asio::this_coro::executor);
        co_await socket.async_connect(server.endpoint(), asio::use_awaitable);
        std::string request = "POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                              std::string(2000, ' ');
        co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
        std::string answer;
        error_code end;
        co_await read_until_closed(socket, answer, end);
        BOOST_TEST(answer.starts_with("HTTP/1.1 413"));
        // The answer is followed at once by the server's FIN: it stops sending, not reading.
        BOOST_TEST(end == make_error_code(asio::error::eof), end.message());
        auto answered = std::chrono::steady_clock::now();

        // It reads and drops what still comes until the close timeout; after that, a write is
        // refused (the server's kernel resets the connection). Polled, in bounded steps.
        error_code write_error;
        asio::steady_timer pace(co_await asio::this_coro::executor);
        for (int writes = 0; writes < 200 && !write_error; ++writes) {
            pace.expires_after(std::chrono::milliseconds(20));
            co_await pace.async_wait(asio::use_awaitable);
            std::tie(write_error, std::ignore) =
                co_await asio::async_write(socket, asio::buffer(request.data(), 100), use_nothrow);
        }
        auto lingered = std::chrono::steady_clock::now() - answered;
        BOOST_TEST_MESSAGE(
            "lingered " << std::chrono::duration_cast<std::chrono::milliseconds>(lingered).count()
                        << " ms; then " << write_error.message());
        BOOST_TEST(write_error.failed());
        BOOST_TEST(lingered >= std::chrono::milliseconds(150));
        BOOST_TEST(lingered < std::chrono::seconds(3));
    });
}

BOOST_AUTO_TEST_CASE(one_keep_alive_connection_carries_many_sends) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto app = co_await WebSocketClient::login(server.endpoint(), "k", Protocol::json);
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        for (int i = 0; i < 200; ++i) {
            auto response = co_await publisher.get("/send?uid=k&message=" + std::to_string(i));
            BOOST_REQUIRE_EQUAL(response.status, 200u);
            BOOST_TEST(response.headers[http::field::connection] != "close");
        }
        for (int i = 0; i < 200; ++i) {
            auto message = co_await app.receive();
            BOOST_TEST(json::parse(message).at("data").as_string() == std::to_string(i));
        }
        // A bad request on a keep-alive connection is answered, and the connection goes on.
        auto bad = co_await publisher.get("/send?uid=k");
        BOOST_TEST(bad.status == 400u);
        auto health = co_await publisher.get("/healthz");
        BOOST_TEST(health.status == 200u);
    });
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_honoured) {
    TestServer server;
    run([&]() -> awaitable<void> {
        tcp::socket socket(co_await asio::this_coro::executor);
        co_await socket.async_connect(server.endpoint(), asio::use_awaitable);
        std::string body = R"({"uid":"x","message":"y"})";
        std::string head =
            "POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: "
            "100-continue\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(head), asio::use_awaitable);
        std::string answer;
        co_await asio::async_read_until(socket, asio::dynamic_buffer(answer), "\r\n\r\n",
                                        asio::use_awaitable);
        BOOST_TEST(answer.starts_with("HTTP/1.1 100 Continue"));
        answer.clear();
        co_await asio::async_write(socket, asio::buffer(body), asio::use_awaitable);
        co_await asio::async_read_until(socket, asio::dynamic_buffer(answer),
                                        R"({"delivered":0,"seq":1})", asio::use_awaitable);
        BOOST_TEST(answer.starts_with("HTTP/1.1 200"));
    });
}

BOOST_AUTO_TEST_CASE(stats_and_healthz_describe_the_hub) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto health = co_await http_request(server.endpoint(), http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
        auto app = co_await WebSocketClient::login(server.endpoint(), "s", Protocol::json);
        co_await post_send(server.endpoint(), json::parse(R"({"uids":["s","t"],"message":1})"));
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("connections").as_int64() == 1);
        BOOST_TEST(stats.at("users").as_int64() == 1);
        BOOST_TEST(stats.at("messages_published").as_int64() == 2);
        BOOST_TEST(stats.at("messages_delivered").as_int64() == 1);
        BOOST_TEST(stats.at("slow_consumer_disconnects").as_int64() == 0);
        BOOST_TEST(stats.at("uptime_seconds").as_int64() >= 0);
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(
    a_retry_with_the_same_idempotency_key_is_answered_as_before_and_not_delivered_again) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto browser = co_await WebSocketClient::login(server.endpoint(), "idem", Protocol::json);
        http::fields keyed;
        keyed.set("Idempotency-Key", "order-17-shipped");
        auto first = co_await http_request(server.endpoint(), http::verb::post, "/send",
                                           R"({"uid":"idem","message":"shipped"})", keyed);
        auto retry = co_await http_request(server.endpoint(), http::verb::post, "/send",
                                           R"({"uid":"idem","message":"other body"})", keyed);
        BOOST_TEST(first.status == 200u);
        BOOST_TEST(retry.body == first.body);  // the first attempt's answer: same seq, delivered
        auto fresh = co_await http_request(server.endpoint(), http::verb::get,
                                           "/send?uid=idem&message=next");
        BOOST_TEST(json::parse(fresh.body).at("seq") == 2);
        auto delivered = co_await browser.receive();
        auto next = co_await browser.receive();
        BOOST_TEST(json::parse(delivered).at("data") == "shipped");
        BOOST_TEST(json::parse(next).at("data") == "next");  // no second "shipped" between

        http::fields bad;
        bad.set("Idempotency-Key", "has space");
        auto refused = co_await http_request(server.endpoint(), http::verb::post, "/send",
                                             R"({"uid":"idem","message":"x"})", bad);
        check_error(refused, 400, "Idempotency-Key must be 1 to 128 visible ASCII characters");
    });
}

BOOST_AUTO_TEST_CASE(presence_counts_a_users_connections_and_stats_name_the_node) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto phone = co_await WebSocketClient::login(server.endpoint(), "present", Protocol::json);
        auto laptop = co_await WebSocketClient::login(server.endpoint(), "present", Protocol::json);
        auto answer =
            co_await http_request(server.endpoint(), http::verb::get, "/presence?uid=present");
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) ==
                   json::parse(R"({"uid":"present","connections":2,"acked_seq":0})"));
        auto nobody =
            co_await http_request(server.endpoint(), http::verb::get, "/presence?uid=nobody");
        BOOST_TEST(json::parse(nobody.body).at("connections") == 0);
        auto missing = co_await http_request(server.endpoint(), http::verb::get, "/presence");
        check_error(missing, 400, "uid is missing");
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("nodes") == 1);
        BOOST_TEST(stats.at("node").is_string());
    });
}

BOOST_AUTO_TEST_CASE(disconnect_closes_every_connection_of_the_user_and_no_other) {
    TestServer server;
    run([&]() -> awaitable<void> {
        // The seed's connection first: it has no welcome, so a probe tells when it is registered,
        // and only while it is the user's one connection can the probe's count say so.
        auto seed = co_await WebSocketClient::connect(server.endpoint());
        co_await seed.send(R"({"uid":"leaving"})");
        co_await send_until_delivered(server.endpoint(), "leaving", "probe", 1);
        co_await seed.receive();
        auto phone = co_await WebSocketClient::login(server.endpoint(), "leaving", Protocol::json);
        auto laptop = co_await WebSocketClient::login(server.endpoint(), "leaving", Protocol::json);
        auto other = co_await WebSocketClient::login(server.endpoint(), "staying", Protocol::json);

        auto answer = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                            R"({"uid":"leaving"})");
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"disconnected":3})"));
        // A named array, not a braced list: g++ 12 cannot keep one in a coroutine's frame.
        const std::array<WebSocketClient*, 3> closed_ones{&phone, &laptop, &seed};
        for (WebSocketClient* closed : closed_ones) {
            auto reason = co_await closed->wait_for_close();
            BOOST_TEST(reason.code == 1008);
            BOOST_TEST(std::string(reason.reason.data(), reason.reason.size()) == "disconnected");
        }
        // "staying" is still served; a user without connections gives 0.
        json::object hi{{"uid", "staying"}, {"message", "hi"}};
        auto delivered = co_await post_send(server.endpoint(), hi);
        BOOST_TEST(delivered.at("delivered") == 1);
        auto none = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                          R"({"uid":"leaving"})");
        BOOST_TEST(json::parse(none.body) == json::parse(R"({"disconnected":0})"));

        auto again = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                           R"({"uid":"staying","reconnect":true})");
        BOOST_TEST(json::parse(again.body) == json::parse(R"({"disconnected":1})"));
        co_await other.receive();  // "hi", queued before: sent first
        auto reason = co_await other.wait_for_close();
        BOOST_TEST(reason.code == 1012);
        BOOST_TEST(std::string(reason.reason.data(), reason.reason.size()) == "reconnect");
    });
}

BOOST_AUTO_TEST_CASE(disconnect_refuses_a_request_without_a_good_uid) {
    Config config = test_config();
    config.api_keys = {"admin-key"};
    TestServer server(config);
    run([&]() -> awaitable<void> {
        http::fields key;
        key.set(http::field::authorization, "Bearer admin-key");
        const std::vector<std::pair<std::string, std::string>> bad{
            {"not json", "body is not valid JSON"},
            {"[]", "body must be a JSON object"},
            {"{}", "uid is missing"},
            {R"({"uid":7})", "uid must be a string"},
            {R"({"uid":""})", "uid is empty"},
            {R"({"uid":"a\u0085"})", "uid has control characters"},
            {R"({"uid":"a","reconnect":"yes"})", "reconnect must be true or false"},
        };
        for (const auto& [body, error] : bad) {
            auto answer = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                                body, key);
            check_error(answer, 400, error);
        }
        auto keyless = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                             R"({"uid":"a"})");
        check_error(keyless, 401, "a valid API key is required");
        auto get =
            co_await http_request(server.endpoint(), http::verb::get, "/disconnect", {}, key);
        check_error(get, 405, "method not allowed");
        BOOST_TEST(get.headers[http::field::allow] == "POST");
        auto fine = co_await http_request(server.endpoint(), http::verb::post, "/disconnect",
                                          R"({"uid":"a"})", key);
        BOOST_TEST(fine.status == 200u);
    });
}
