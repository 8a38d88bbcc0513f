#include "support/cluster.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

namespace herald::test {
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

TestCluster::TestCluster(ClusterOptions options)
    : options_(std::move(options)), redis_(options_.redis) {
    for (std::size_t i = 0; i < options_.nodes; ++i)
        links_.push_back(std::make_unique<TcpProxy>(redis_.port()));
    nodes_.resize(options_.nodes);
    for (std::size_t i = 0; i < options_.nodes; ++i)
        start_node(i);
}

TestCluster::~TestCluster() {
    for (auto& node : nodes_)
        node.reset();  // stopped before the proxies and Redis go
}

Config TestCluster::config(std::size_t i) const {
    Config config = test_config();
    config.redis = "redis://127.0.0.1:" + std::to_string(links_[i]->port());
    config.redis_password = options_.redis.password;
    config.node_id = "node" + std::to_string(i);
    config.redis_timeout = 500ms;
    config.redis_probe_interval = 300ms;
    config.shutdown_timeout = 2s;
    if (options_.adjust) options_.adjust(config);
    return config;
}

void TestCluster::start_node(std::size_t i) {
    nodes_[i] = std::make_unique<TestServer>(config(i));
}

void TestCluster::stop_node(std::size_t i) {
    nodes_[i].reset();
}

awaitable<void> wait_until_serving(tcp::endpoint node) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto answer = co_await client::http_request(node, client::http::verb::get,
                                                    "/presence?uid=readiness-probe");
        if (answer.status == 200) co_return;
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("the node never came to serve");
}

awaitable<void> wait_until_unavailable(tcp::endpoint node) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto answer = co_await client::http_request(node, client::http::verb::get,
                                                    "/send?uid=unavailable-probe&message=x");
        if (answer.status == 503) co_return;
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("the node kept serving");
}

awaitable<client::HttpResponse> publish(tcp::endpoint node, std::string uid, json::value message,
                                        std::string key) {
    client::http::fields headers;
    if (!key.empty()) headers.set("Idempotency-Key", key);
    json::object body{{"uid", uid}, {"message", std::move(message)}};
    std::string text = json::serialize(body);
    co_return co_await client::http_request(node, client::http::verb::post, "/send",
                                            std::move(text), std::move(headers));
}

namespace {
// "1012 stream reset": a close frame as the tests compare it.
std::string close_text(const client::websocket::close_reason& reason) {
    return std::to_string(reason.code) + " " +
           std::string(reason.reason.data(), reason.reason.size());
}
}  // namespace

awaitable<bool> StreamReader::join(tcp::endpoint node) {
    json::object login{{"uid", uid_}, {"v", 1}};
    if (!epoch_.empty()) login["since"] = json::object{{"epoch", epoch_}, {"seq", last_seq_}};
    client_.emplace(co_await client::WebSocketClient::connect(node));
    co_await client_->send(json::serialize(login));
    client::Frame frame = co_await client_->read();
    if (frame.error) {
        closes_.push_back(close_text(client_->close_reason()));
        client_.reset();
        co_return false;
    }
    json::object welcome = json::parse(frame.data).as_object();
    BOOST_REQUIRE(welcome.at("type") == "welcome");
    std::string epoch(welcome.at("epoch").as_string());
    if (epoch != epoch_) last_seq_ = 0;  // another stream: every seq of it is new
    epoch_ = std::move(epoch);
    if (const json::value* recovered = welcome.if_contains("recovered"))
        recoveries_.push_back(recovered->as_bool());
    else
        recoveries_.push_back(std::nullopt);
    co_return true;
}

awaitable<bool> StreamReader::join_when_serving(tcp::endpoint node) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int attempt = 0; attempt < 200; ++attempt) {
        bool joined = co_await join(node);
        if (joined || closes_.empty() || closes_.back() != "1013 try again later") co_return joined;
        pause.expires_after(20ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    co_return false;
}

// Takes one frame: a message is kept unless its seq came already; false when the connection
// ended.
awaitable<bool> StreamReader::take(const client::Frame& frame) {
    if (frame.error) {
        closes_.push_back(close_text(client_->close_reason()));
        client_.reset();
        co_return false;
    }
    json::object message = json::parse(frame.data).as_object();
    if (message.at("type") != "message") co_return true;  // a ping
    auto seq = message.at("seq").to_number<std::uint64_t>();
    if (seq <= last_seq_) co_return true;
    last_seq_ = seq;
    messages_.push_back({epoch_, seq, message.at("data")});
    co_return true;
}

awaitable<bool> StreamReader::read(std::size_t count, std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(co_await asio::this_coro::executor);
    deadline.expires_after(timeout);
    std::size_t wanted = messages_.size() + count;
    while (client_ && messages_.size() < wanted) {
        auto next = co_await (client_->read() || deadline.async_wait(use_nothrow));
        if (next.index() == 1) co_return false;
        bool open = co_await take(std::get<0>(next));
        if (!open) co_return false;
    }
    co_return messages_.size() >= wanted;
}

awaitable<bool> StreamReader::read_until_closed(std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(co_await asio::this_coro::executor);
    deadline.expires_after(timeout);
    while (client_) {
        auto next = co_await (client_->read() || deadline.async_wait(use_nothrow));
        if (next.index() == 1) co_return false;
        co_await take(std::get<0>(next));
    }
    co_return true;
}

awaitable<void> StreamReader::leave() {
    if (!client_) co_return;
    co_await client_->close();
    client_.reset();
}

}  // namespace herald::test
