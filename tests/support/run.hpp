// Runs a client coroutine on the test thread, where Boost.Test's assertions are safe.
#pragma once

#include <chrono>
#include <exception>
#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/net.hpp"

namespace herald::test {

// Runs the coroutine that `body` returns on a fresh io_context until it finishes, and rethrows
// what it threw. Fails the test if it takes longer than `timeout`: every wait is bounded.
// `body` may capture by reference: it outlives the coroutine, whose frame is gone before run()
// returns.
inline void run(asio::io_context& io_context, const std::function<awaitable<void>()>& body,
                std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io_context, body(), [&](std::exception_ptr error) {
        done = true;
        failure = error;
        io_context.stop();  // other work (a hub's ticker, say) may never run out
    });
    io_context.run_for(timeout);
    BOOST_REQUIRE_MESSAGE(done, "the client coroutine did not finish in time");
    if (failure) std::rethrow_exception(failure);
}

inline void run(const std::function<awaitable<void>()>& body,
                std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) {
    asio::io_context io_context;
    run(io_context, body, timeout);
}

}  // namespace herald::test
