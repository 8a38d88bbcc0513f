// Batch publishing against the real server: POST /send with {"messages":[...]}, every entry
// checked before any is published, answered entry by entry, and retried safely as a whole.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;

namespace {

constexpr std::string_view three_entries = R"({"messages":[
    {"uid":"a","message":1},
    {"uids":["a","b"],"message":{"progress":2},"key":"job"},
    {"uid":"a","message":"three"}]})";

awaitable<client::HttpResponse> post_batch(tcp::endpoint server, std::string_view body,
                                           http::fields headers = {}) {
    co_return co_await client::http_request(server, http::verb::post, "/send", std::string(body),
                                            std::move(headers));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(batch)

BOOST_AUTO_TEST_CASE(a_batch_is_published_in_order_and_answered_entry_by_entry) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto client = co_await WebSocketClient::connect(at);
        co_await client.send(R"({"uid":"a","v":1})");
        auto welcome = json::parse(co_await client.receive());
        BOOST_REQUIRE(welcome.at("type") == "welcome");

        auto answer = co_await post_batch(at, three_entries);
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"results":[
            {"delivered":1,"seq":1},
            {"delivered":1,"seqs":{"a":2,"b":1}},
            {"delivered":1,"seq":3}]})"));
        auto first = json::parse(co_await client.receive());
        BOOST_TEST(first.at("data") == 1);
        auto second = json::parse(co_await client.receive());
        BOOST_TEST(second.at("data") == json::parse(R"({"progress":2})"));
        BOOST_TEST(second.at("key") == "job");
        auto third = json::parse(co_await client.receive());
        BOOST_TEST(third.at("seq") == 3);
        BOOST_TEST(third.at("data") == "three");
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("messages_published") == 4);  // one per (message, user)
    });
}

BOOST_AUTO_TEST_CASE(one_bad_entry_refuses_the_batch_naming_its_index_and_publishes_nothing) {
    Config config = test_config();
    config.max_batch = 3;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto missing = co_await post_batch(
            at, R"({"messages":[{"uid":"a","message":1},{"message":2},{"uid":"c","message":3}]})");
        BOOST_TEST(missing.status == 400u);
        BOOST_TEST(json::parse(missing.body) ==
                   json::parse(R"({"error":"uid is missing","index":1})"));
        auto waiting =
            co_await post_batch(at, R"({"messages":[{"uid":"a","message":1,"wait":"ack"}]})");
        BOOST_TEST(json::parse(waiting.body) ==
                   json::parse(R"({"error":"wait=ack is not taken in a batch","index":0})"));
        auto not_object = co_await post_batch(at, R"({"messages":[{"uid":"a","message":1},7]})");
        BOOST_TEST(json::parse(not_object.body).at("index") == 1);
        auto too_many = co_await post_batch(
            at, R"({"messages":[{"uid":"a","message":1},{"uid":"a","message":2},)"
                R"({"uid":"a","message":3},{"uid":"a","message":4}]})");
        BOOST_TEST(too_many.status == 400u);
        BOOST_TEST(json::parse(too_many.body) ==
                   json::parse(R"x({"error":"more than 3 messages (--max-batch)"})x"));
        auto empty = co_await post_batch(at, R"({"messages":[]})");
        BOOST_TEST(json::parse(empty.body).at("error") == "messages is empty");
        auto mixed = co_await post_batch(at, R"({"messages":[{"uid":"a","message":1}],"uid":"b"})");
        BOOST_TEST(json::parse(mixed.body).at("error") == "a batch has its messages only");
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("messages_published") == 0);
    });
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_covers_the_whole_batch) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        http::fields headers;
        headers.set("Idempotency-Key", "batch-7");
        auto first = co_await post_batch(at, three_entries, headers);
        BOOST_TEST(first.status == 200u);
        auto retry = co_await post_batch(at, three_entries, headers);
        BOOST_TEST(retry.status == 200u);
        BOOST_TEST(json::parse(retry.body) == json::parse(first.body));
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("messages_published") == 4);  // the retry published nothing
    });
}

BOOST_AUTO_TEST_SUITE_END()
