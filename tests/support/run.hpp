// Runs a client coroutine on the test thread, where Boost.Test's assertions are safe.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

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

// The uid of client u of thread t in run_on_threads. Appended, not "t" + std::to_string(t):
// g++ 12 warns falsely (-Wrestrict) about a literal put in front of a temporary string.
inline std::string thread_uid(int t, int u) {
    std::string uid = "t";
    uid += std::to_string(t);
    uid += 'u';
    uid += std::to_string(u);
    return uid;
}

// Runs the coroutine that `body(t, failures)` returns for each t in [0, threads), each on a
// thread and an io_context of its own, then fails the test for whatever a thread recorded.
// Boost.Test is not thread-safe, so the threads only note what went wrong, as text; an
// exception or a timeout is noted too.
inline void run_on_threads(
    int threads, const std::function<awaitable<void>(int, std::vector<std::string>&)>& body,
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(60)) {
    std::vector<std::vector<std::string>> failures(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            asio::io_context io_context;
            bool done = false;
            asio::co_spawn(io_context, body(t, failures[t]), [&, t](std::exception_ptr error) {
                done = true;
                if (!error) return;
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    failures[t].push_back(e.what());
                }
            });
            io_context.run_for(timeout);
            if (!done) failures[t].push_back("timed out");
        });
    }
    for (auto& worker : workers)
        worker.join();
    for (int t = 0; t < threads; ++t)
        BOOST_TEST(failures[t].empty(),
                   "thread " << t << ": " << (failures[t].empty() ? "" : failures[t].front()));
}

}  // namespace herald::test
