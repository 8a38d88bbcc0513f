#include "support/server_fixture.hpp"

#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace herald::test {

Config test_config() {
    Config config;
    config.address = "127.0.0.1";
    config.port = 0;
    config.threads = 2;
    config.log_level = LogLevel::warn;
    return config;
}

TestServer::TestServer(Config config) : server_(config) {
    set_log_level(config.log_level);
    endpoint_ = server_.start();
}

TestServer::~TestServer() {
    stop();
}

void TestServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    server_.stop();
    server_.wait();
}

std::int64_t delivered_of(const std::string& answer) {
    return boost::json::parse(answer).at("delivered").to_number<std::int64_t>();
}

boost::json::value without_time(const std::string& frame) {
    boost::json::value value = boost::json::parse(frame);
    auto& object = value.as_object();
    if (object.contains("time")) {
        BOOST_TEST(object.at("time").as_int64() > 1'700'000'000'000);
        object.erase("time");
    }
    return value;
}

awaitable<boost::json::object> get_stats(tcp::endpoint server) {
    auto response = co_await client::http_request(server, client::http::verb::get, "/stats");
    BOOST_REQUIRE_EQUAL(response.status, 200u);
    co_return boost::json::parse(response.body).as_object();
}

awaitable<void> wait_for_stat(tcp::endpoint server, std::string field, std::int64_t expected) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    std::int64_t seen = -1;
    for (int attempt = 0; attempt < 500; ++attempt) {
        auto stats = co_await get_stats(server);
        seen = stats.at(field).to_number<std::int64_t>();
        if (seen == expected) co_return;
        pause.expires_after(std::chrono::milliseconds(10));
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("/stats " << field << " stayed at " << seen << ", expected " << expected);
}

awaitable<void> send_until_delivered(tcp::endpoint server, std::string uid, std::string message,
                                     std::int64_t connections) {
    auto publisher = co_await client::HttpClient::connect(server);
    std::string target =
        "/send?uid=" + client::url_encode(uid) + "&message=" + client::url_encode(message);
    for (int attempt = 0; attempt < 10'000; ++attempt) {
        auto response = co_await publisher.get(target);
        BOOST_REQUIRE_EQUAL(response.status, 200u);
        auto delivered =
            boost::json::parse(response.body).at("delivered").to_number<std::int64_t>();
        if (delivered == connections) co_return;
        BOOST_REQUIRE_EQUAL(delivered, 0);  // nothing may reach only some of them
    }
    BOOST_FAIL("uid " << uid << " never had " << connections << " connections");
}

awaitable<boost::json::value> post_send(tcp::endpoint server, boost::json::value body,
                                        unsigned expected_status) {
    auto response = co_await client::http_request(server, client::http::verb::post, "/send",
                                                  boost::json::serialize(body));
    BOOST_REQUIRE_EQUAL(response.status, expected_status);
    co_return boost::json::parse(response.body);
}

awaitable<std::uint64_t> publish_progress(tcp::endpoint server, std::string uid, int count,
                                          std::optional<std::string> key, std::size_t pad) {
    auto publisher = co_await client::HttpClient::connect(server);
    const std::string padding(pad, 'p');
    std::uint64_t last_seq = 0;
    for (int i = 0; i < count; ++i) {
        boost::json::object body{
            {"uid", uid}, {"message", boost::json::object{{"progress", i}, {"pad", padding}}}};
        if (key) body["key"] = *key;
        auto answer = co_await publisher.post("/send", boost::json::serialize(body));
        if (answer.status != 200)
            throw std::runtime_error("publish " + std::to_string(i) + " answered " +
                                     std::to_string(answer.status) + ": " + answer.body);
        last_seq = boost::json::parse(answer.body).at("seq").to_number<std::uint64_t>();
    }
    co_return last_seq;
}

awaitable<std::vector<boost::json::object>> read_progress_until(client::WebSocketClient& client,
                                                                int last) {
    std::vector<boost::json::object> read;
    for (;;) {
        auto frame = boost::json::parse(co_await client.receive()).as_object();
        if (frame.at("type") != "message") continue;  // a ping
        read.push_back(std::move(frame));
        if (read.back().at("data").at("progress") == last) co_return read;
    }
}

awaitable<std::uint64_t> receive_and_ack(tcp::endpoint server, std::string uid, int count,
                                         std::optional<client::WebSocketClient>& connection) {
    connection.emplace(co_await client::WebSocketClient::connect(server));
    client::WebSocketClient& socket = *connection;
    std::string login = boost::json::serialize(
        boost::json::object{{"uid", uid}, {"v", 1}, {"since", boost::json::object{{"seq", 0}}}});
    co_await socket.send(login);
    auto welcome = boost::json::parse(co_await socket.receive());
    if (welcome.at("type") != "welcome") throw std::runtime_error("expected a welcome");
    std::uint64_t seq = 0;
    for (int read = 0; read < count;) {
        auto frame = boost::json::parse(co_await socket.receive());
        if (frame.at("type") != "message") continue;
        seq = frame.at("seq").to_number<std::uint64_t>();
        ++read;
    }
    std::string ack = boost::json::serialize(boost::json::object{{"type", "ack"}, {"seq", seq}});
    co_await socket.send(ack);
    co_return seq;
}

}  // namespace herald::test
