#include "support/redis_harness.hpp"

#include <variant>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/test/unit_test.hpp>

namespace herald::test {

using namespace asio::experimental::awaitable_operators;

redis::RedisSettings fast_settings(redis::RedisSettings base, std::string client_name) {
    base.client_name = std::move(client_name);
    base.timeout = milliseconds(500);
    base.reconnect_first = milliseconds(10);
    base.reconnect_most = milliseconds(200);
    base.health_check_interval = std::chrono::seconds(1);
    return base;
}

OwnerThreads::OwnerThreads(asio::io_context& io, int threads) : io_(io), running_(threads) {
    for (int t = 0; t < threads; ++t)
        threads_.emplace_back([this] {
            io_.run();
            std::lock_guard lock(mutex_);
            --running_;
            finished_.notify_all();
        });
}

OwnerThreads::~OwnerThreads() {
    if (!threads_.empty()) join(milliseconds(0));
}

bool OwnerThreads::join(milliseconds timeout) {
    bool finished = false;
    {
        std::unique_lock lock(mutex_);
        finished = finished_.wait_for(lock, timeout, [this] { return running_ == 0; });
    }
    if (!finished) io_.stop();
    for (auto& thread : threads_)
        thread.join();
    threads_.clear();
    return finished;
}

awaitable<bool> EventLog::wait_for(redis::LinkEvent event, milliseconds timeout) {
    asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
    for (;;) {
        auto outcome =
            co_await (channel_.async_receive(use_nothrow) || deadline.async_wait(use_nothrow));
        if (outcome.index() == 1) co_return false;
        auto [error, seen] = std::get<0>(outcome);
        if (error) co_return false;
        BOOST_TEST_MESSAGE("link event: " << redis::to_string(seen));
        if (seen == event) co_return true;
    }
}

awaitable<std::optional<MessageLog::Message>> MessageLog::next(milliseconds timeout) {
    asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
    auto outcome =
        co_await (channel_.async_receive(use_nothrow) || deadline.async_wait(use_nothrow));
    if (outcome.index() == 1) co_return std::nullopt;
    auto [error, message] = std::get<0>(outcome);
    if (error) co_return std::nullopt;
    co_return message;
}

std::string info_field(const RedisServer& server, const std::string& section,
                       const std::string& field) {
    auto info = server.command({"INFO", section});
    BOOST_REQUIRE(info.has_value());
    const std::string& text = info->text;
    auto at = text.find(field + ":");
    if (at == std::string::npos) return {};
    at += field.size() + 1;
    return text.substr(at, text.find("\r\n", at) - at);
}

}  // namespace herald::test
