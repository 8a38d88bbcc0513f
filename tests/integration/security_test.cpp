// Authenticated logins and publishes, origins, connection limits and floods, against the real
// server. Every refusal is checked for its status or close code and reason, and for the server
// serving others afterwards.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/token.hpp"
#include "support/jwt.hpp"
#include "support/server_fixture.hpp"
#include "support/tls.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;

namespace {

const std::string secret = "integration secret";

Config with_tokens() {
    Config config = test_config();
    config.token_secret = secret;
    return config;
}

Config with_tls(Config config, const TestCertificate& certificate) {
    config.tls_cert = certificate.certificate_file();
    config.tls_key = certificate.key_file();
    return config;
}

std::string token_for(std::string_view uid, std::chrono::seconds ttl = 1h) {
    return mint_hs256_token(secret, uid, ttl, seconds_since_epoch());
}

std::string token_login(std::string_view token) {
    return json::serialize(json::object{{"token", token}, {"v", 1}});
}

// Logs in with `frame`, and returns the server's close reason if it refuses.
awaitable<std::string> refused_login(tcp::endpoint server, std::string frame) {
    auto client = co_await WebSocketClient::connect(server);
    co_await client.send(std::move(frame));
    auto reason = co_await client.wait_for_close();
    BOOST_TEST(reason.code == 1008);
    co_return std::string(reason.reason.data(), reason.reason.size());
}

awaitable<WebSocketClient> logged_in(tcp::endpoint server, std::string token) {
    auto client = co_await WebSocketClient::connect(server);
    co_await client.send(token_login(token));
    auto welcome = json::parse(co_await client.receive());
    BOOST_REQUIRE(welcome.at("type") == "welcome");
    co_return client;
}

awaitable<void> check_delivery(tcp::endpoint server, WebSocketClient& client, std::string uid,
                               http::fields headers = {}) {
    std::string body = json::serialize(json::object{{"uid", uid}, {"message", "for " + uid}});
    auto answer = co_await client::http_request(server, http::verb::post, "/send", body, headers);
    BOOST_TEST(delivered_of(answer.body) == 1);
    auto message = json::parse(co_await client.receive());
    BOOST_TEST(message.at("data").as_string() == "for " + uid);
}

http::fields header(http::field name, std::string value) {
    http::fields fields;
    fields.set(name, value);
    return fields;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(security)

BOOST_AUTO_TEST_CASE(an_hs256_token_logs_in_as_its_sub_and_bad_ones_are_refused) {
    TestServer server(with_tokens());
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        auto alice = co_await logged_in(endpoint, token_for("alice"));
        co_await check_delivery(endpoint, alice, "alice");

        std::string expired = mint_hs256_token(secret, "alice", 1s, seconds_since_epoch() - 3600);
        std::string forged = mint_hs256_token("not the secret", "alice", 1h, seconds_since_epoch());
        std::string none =
            base64url(R"({"alg":"none"})") + "." + base64url(R"({"sub":"alice"})") + ".";
        std::string early = sign_token(
            {{"alg", "HS256"}}, {{"sub", "alice"}, {"nbf", seconds_since_epoch() + 3600}}, secret);
        std::string no_sub = sign_token({{"alg", "HS256"}}, {{"name", "alice"}}, secret);
        struct Case {
            std::string frame;
            std::string_view reason;
        };
        const Case cases[] = {
            {R"({"uid":"alice"})", "token required"},
            {token_login(expired), "token expired"},
            {token_login(forged), "bad token signature"},
            {token_login(none), "token algorithm not allowed"},
            {token_login(early), "token not yet valid"},
            {token_login(no_sub), "token has no valid sub"},
            {token_login("garbage"), "malformed token"},
        };
        for (const auto& each : cases) {
            std::string reason = co_await refused_login(endpoint, each.frame);
            BOOST_TEST(reason == each.reason);
            BOOST_TEST(reason.find(each.frame) == std::string::npos);  // the token is not echoed
        }
        co_await check_delivery(endpoint, alice, "alice");
    });
}

BOOST_AUTO_TEST_CASE(rs256_and_es256_tokens_log_in_with_the_public_key) {
    for (bool rsa : {true, false}) {
        KeyPair keys = rsa ? generate_rsa_key() : generate_p256_key();
        Config config = test_config();
        config.token_public_key_pem = keys.public_pem;
        config.token_audience = "herald";
        TestServer server(config);
        run([&]() -> awaitable<void> {
            json::object claims{
                {"sub", "bob"}, {"aud", "herald"}, {"exp", seconds_since_epoch() + 60}};
            std::string token =
                sign_token({{"alg", rsa ? "RS256" : "ES256"}}, claims, keys.private_pem);
            auto bob = co_await logged_in(server.endpoint(), token);
            co_await check_delivery(server.endpoint(), bob, "bob");
            // The same claims for another audience, and an HMAC keyed with the public key.
            json::object elsewhere{{"sub", "bob"}, {"aud", "another"}};
            std::string wrong_audience =
                sign_token({{"alg", rsa ? "RS256" : "ES256"}}, elsewhere, keys.private_pem);
            std::string audience_reason =
                co_await refused_login(server.endpoint(), token_login(wrong_audience));
            BOOST_TEST(audience_reason == "wrong token audience");
            std::string confused = sign_token({{"alg", "HS256"}}, claims, keys.public_pem);
            std::string confused_reason =
                co_await refused_login(server.endpoint(), token_login(confused));
            BOOST_TEST(confused_reason == "token algorithm not allowed");
        });
    }
}

BOOST_AUTO_TEST_CASE(a_bearer_header_on_the_upgrade_logs_in_without_a_login_frame) {
    TestServer server(with_tokens());
    run([&]() -> awaitable<void> {
        http::fields bearer = header(http::field::authorization, "Bearer " + token_for("dev-1"));
        auto device = co_await WebSocketClient::connect(server.endpoint(), "/ws?v=1", bearer);
        auto welcome = json::parse(co_await device.receive());
        BOOST_TEST(welcome.at("uid") == "dev-1");
        co_await check_delivery(server.endpoint(), device, "dev-1");

        bool refused = false;
        try {
            http::fields forged = header(http::field::authorization, "Bearer x.y.z");
            co_await WebSocketClient::connect(server.endpoint(), "/ws", forged);
        } catch (const std::exception&) {
            refused = true;  // 401 instead of 101
        }
        BOOST_TEST(refused);
    });
}

BOOST_AUTO_TEST_CASE(an_expired_token_closes_its_connection_unless_refreshed) {
    TestServer server(with_tokens());
    run([&]() -> awaitable<void> {
        // Both tokens end in about a second: their exp passed 29 s ago, and a connection has
        // the login's 30 s of leeway. One connection refreshes first.
        auto ending = [](std::string_view uid) {
            return mint_hs256_token(secret, uid, 1s, seconds_since_epoch() - 30);
        };
        std::string fresh_token = ending("fresh");
        std::string stale_token = ending("stale");
        auto refreshed = co_await logged_in(server.endpoint(), fresh_token);
        auto lapsing = co_await logged_in(server.endpoint(), stale_token);
        std::string refresh =
            json::serialize(json::object{{"type", "refresh"}, {"token", token_for("fresh", 1h)}});
        co_await refreshed.send(refresh);
        auto reason = co_await lapsing.wait_for_close();
        BOOST_TEST(reason.code == 1008);
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "token expired");
        co_await check_delivery(server.endpoint(), refreshed, "fresh");

        // A refresh must be for the same user.
        std::string hijack = json::serialize(
            json::object{{"type", "refresh"}, {"token", token_for("someone-else")}});
        co_await refreshed.send(hijack);
        auto other = co_await refreshed.wait_for_close();
        BOOST_TEST(std::string_view(other.reason.data(), other.reason.size()) ==
                   "refresh token is for another sub");
    });
}

BOOST_AUTO_TEST_CASE(a_token_without_exp_is_refused_unless_allowed_and_never_lifts_an_expiry) {
    std::string forever = sign_token({{"alg", "HS256"}}, {{"sub", "eternal"}}, secret);
    {
        TestServer server(with_tokens());  // --token-require-exp is on by default
        run([&]() -> awaitable<void> {
            std::string reason = co_await refused_login(server.endpoint(), token_login(forever));
            BOOST_TEST(reason == "token has no exp");
            bool refused = false;
            try {
                http::fields bearer = header(http::field::authorization, "Bearer " + forever);
                co_await WebSocketClient::connect(server.endpoint(), "/ws?v=1", bearer);
            } catch (const std::exception&) {
                refused = true;  // 401 instead of 101
            }
            BOOST_TEST(refused);
        });
    }
    Config config = with_tokens();
    config.token_require_exp = false;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto eternal = co_await logged_in(server.endpoint(), forever);
        co_await check_delivery(server.endpoint(), eternal, "eternal");
        // A connection whose token ends in about a second refreshes with one without exp: its
        // expiry stays, and it is closed all the same.
        std::string ending = mint_hs256_token(secret, "eternal", 1s, seconds_since_epoch() - 30);
        auto lapsing = co_await logged_in(server.endpoint(), ending);
        std::string refresh =
            json::serialize(json::object{{"type", "refresh"}, {"token", forever}});
        co_await lapsing.send(refresh);
        auto reason = co_await lapsing.wait_for_close();
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "token expired");
    });
}

BOOST_AUTO_TEST_CASE(api_keys_guard_publishing_and_stats_but_not_health) {
    Config config = test_config();
    config.api_keys = {"publisher-key"};
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        auto app = co_await WebSocketClient::login(endpoint, "k", Protocol::json);
        auto missing =
            co_await client::http_request(endpoint, http::verb::get, "/send?uid=k&message=x");
        BOOST_TEST(missing.status == 401u);
        BOOST_TEST(json::parse(missing.body).at("error") == "a valid API key is required");
        BOOST_TEST(missing.headers[http::field::www_authenticate] == "Bearer");
        http::fields wrong_key = header(http::field::authorization, "Bearer nope");
        auto wrong = co_await client::http_request(endpoint, http::verb::get,
                                                   "/send?uid=k&message=x", {}, wrong_key);
        BOOST_TEST(wrong.status == 401u);
        auto stats = co_await client::http_request(endpoint, http::verb::get, "/stats");
        BOOST_TEST(stats.status == 401u);
        auto health = co_await client::http_request(endpoint, http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);

        http::fields bearer = header(http::field::authorization, "Bearer publisher-key");
        co_await check_delivery(endpoint, app, "k", bearer);
        http::fields x_api_key;
        x_api_key.set("X-API-Key", "publisher-key");
        co_await check_delivery(endpoint, app, "k", x_api_key);
    });
}

BOOST_AUTO_TEST_CASE(an_origin_not_allowed_gets_403) {
    Config config = test_config();
    config.allowed_origins = {"https://app.example.com", "*.example.org"};
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        for (std::string origin : {"https://app.example.com", "https://shop.example.org"}) {
            http::fields from = header(http::field::origin, origin);
            auto allowed = co_await WebSocketClient::connect(endpoint, "/ws", from);
            co_await allowed.close();
        }
        auto no_origin = co_await WebSocketClient::connect(endpoint);  // not a browser
        co_await no_origin.close();
        http::fields evil_upgrade;
        evil_upgrade.set(http::field::origin, "https://evil.example.net");
        evil_upgrade.set(http::field::upgrade, "websocket");
        evil_upgrade.set(http::field::connection, "upgrade");
        evil_upgrade.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
        evil_upgrade.set(http::field::sec_websocket_version, "13");
        auto answer =
            co_await client::http_request(endpoint, http::verb::get, "/ws", {}, evil_upgrade);
        BOOST_TEST(answer.status == 403u);
        BOOST_TEST(json::parse(answer.body).at("error") == "origin not allowed");
    });
}

BOOST_AUTO_TEST_CASE(connection_limits_refuse_with_503_and_429_and_let_go_when_freed) {
    Config config = test_config();
    config.max_connections = 3;
    config.max_connections_per_ip = 2;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        auto first = co_await WebSocketClient::login(endpoint, "a", Protocol::json);
        auto second = co_await WebSocketClient::login(endpoint, "b", Protocol::json);
        auto status_of_another = [&]() -> awaitable<unsigned> {
            client::WebSocketClient::Stream ws(co_await asio::this_coro::executor);
            co_await client::beast::get_lowest_layer(ws).async_connect(endpoint,
                                                                       asio::use_awaitable);
            client::websocket::response_type answer;
            // Refused or not, the status is what matters here.
            co_await ws.async_handshake(answer, "127.0.0.1", "/ws", use_nothrow);
            co_return answer.result_int();
        };
        unsigned per_address = co_await status_of_another();
        BOOST_TEST(per_address == 429u);                // two from 127.0.0.1 already
        co_await check_delivery(endpoint, first, "a");  // the others are untouched
        co_await first.close();
        // Freed once the server has seen the close; the hub releases it asynchronously.
        unsigned again = 429;
        for (int attempt = 0; attempt < 100 && again != 101; ++attempt)
            again = co_await status_of_another();
        BOOST_TEST(again == 101u);
        co_await check_delivery(endpoint, second, "b");
    });
}

BOOST_AUTO_TEST_CASE(over_max_connections_an_upgrade_gets_503) {
    Config config = test_config();
    config.max_connections = 1;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto only = co_await WebSocketClient::login(server.endpoint(), "only", Protocol::json);
        client::WebSocketClient::Stream ws(co_await asio::this_coro::executor);
        co_await client::beast::get_lowest_layer(ws).async_connect(server.endpoint(),
                                                                   asio::use_awaitable);
        client::websocket::response_type answer;
        auto [error] = co_await ws.async_handshake(answer, "127.0.0.1", "/ws", use_nothrow);
        BOOST_TEST((error == client::websocket::error::upgrade_declined));
        BOOST_TEST(answer.result_int() == 503u);
        BOOST_TEST(json::parse(answer.body()).at("error") == "server is at its connection limit");
        co_await check_delivery(server.endpoint(), only, "only");
    });
}

BOOST_AUTO_TEST_CASE(an_inbound_flood_is_closed_with_1008) {
    Config config = test_config();
    config.max_inbound_rate = 5;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto flooder = co_await WebSocketClient::login(server.endpoint(), "flood", Protocol::json);
        auto calm = co_await WebSocketClient::login(server.endpoint(), "calm", Protocol::json);
        for (int i = 0; i < 50; ++i) {
            auto [error, n] =
                co_await flooder.stream().async_write(asio::buffer(std::string("x")), use_nothrow);
            if (error) break;
        }
        auto reason = co_await flooder.wait_for_close();
        BOOST_TEST(reason.code == 1008);
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) ==
                   "inbound rate limit exceeded");
        co_await check_delivery(server.endpoint(), calm, "calm");
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(the_seed_flow_and_a_token_login_work_over_tls) {
    TestCertificate certificate;
    TestServer server(with_tls(test_config(), certificate));
    auto client_tls = certificate.client_context();
    run([&]() -> awaitable<void> {
        auto endpoint = server.endpoint();
        // new WebSocket('wss://...'); ws.send('{"uid":"123"}'); curl https://.../send?...
        auto browser = co_await connect_wss(endpoint, client_tls);
        std::string login = R"({"uid":"123"})";
        co_await browser.async_write(asio::buffer(login), asio::use_awaitable);
        std::string hello;
        for (int attempt = 0; attempt < 1000; ++attempt) {
            auto answer = co_await https_request(endpoint, client_tls, http::verb::get,
                                                 "/send?uid=123&message=Hello%20World");
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
            if (delivered_of(answer.body) == 1) break;
        }
        boost::beast::flat_buffer buffer;
        co_await browser.async_read(buffer, asio::use_awaitable);
        BOOST_TEST(boost::beast::buffers_to_string(buffer.data()) == "Hello World");

        // A plain-text client on the TLS port gets nowhere, and the server goes on.
        auto plain = co_await client::HttpClient::connect(endpoint);
        bool refused = false;
        try {
            co_await plain.get("/healthz");
        } catch (const std::exception&) {
            refused = true;
        }
        BOOST_TEST(refused);
        auto health = co_await https_request(endpoint, client_tls, http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
    });
}

BOOST_AUTO_TEST_CASE(an_authenticated_login_works_over_tls) {
    TestCertificate certificate;
    TestServer server(with_tls(with_tokens(), certificate));
    auto client_tls = certificate.client_context();
    run([&]() -> awaitable<void> {
        auto app = co_await connect_wss(server.endpoint(), client_tls);
        std::string login = token_login(token_for("secure-user"));
        co_await app.async_write(asio::buffer(login), asio::use_awaitable);
        boost::beast::flat_buffer buffer;
        co_await app.async_read(buffer, asio::use_awaitable);
        auto welcome = json::parse(boost::beast::buffers_to_string(buffer.data()));
        BOOST_TEST(welcome.at("uid") == "secure-user");
        buffer.clear();
        std::string body = R"({"uid":"secure-user","message":"over TLS"})";
        auto answer =
            co_await https_request(server.endpoint(), client_tls, http::verb::post, "/send", body);
        BOOST_TEST(delivered_of(answer.body) == 1);
        co_await app.async_read(buffer, asio::use_awaitable);
        BOOST_TEST(json::parse(boost::beast::buffers_to_string(buffer.data())).at("data") ==
                   "over TLS");
    });
}

// A login cut short by its deadline ends only after the close is done: over TLS the close's
// writes refer to the stream that the session owns.
BOOST_AUTO_TEST_CASE(no_login_within_the_timeout_is_closed_with_1008_over_tls) {
    TestCertificate certificate;
    Config config = with_tls(test_config(), certificate);
    config.login_timeout = 200ms;
    TestServer server(config);
    auto client_tls = certificate.client_context();
    run([&]() -> awaitable<void> {
        auto idle = co_await connect_wss(server.endpoint(), client_tls);
        boost::beast::flat_buffer buffer;
        auto [error, size] = co_await idle.async_read(buffer, use_nothrow);
        BOOST_TEST((error == boost::beast::websocket::error::closed));
        BOOST_TEST(idle.reason().code == 1008);
        BOOST_TEST(std::string_view(idle.reason().reason.data(), idle.reason().reason.size()) ==
                   "login timeout");
        auto health =
            co_await https_request(server.endpoint(), client_tls, http::verb::get, "/healthz");
        BOOST_TEST(health.status == 200u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
