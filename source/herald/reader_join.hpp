// A coroutine run beside its spawner, which can wait for its end: a WebSocket's reader.
#pragma once

#include <exception>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "herald/connection.hpp"
#include "herald/log.hpp"
#include "herald/net.hpp"

namespace herald {

// The reader, run beside the writer as a coroutine of its own, and the writer's wait for its end:
// the reader uses the session's stream, so the session must not go before it.
//
// Why not one parallel group (`read_loop() || write_loop()`), which would say the same in a
// line: with 10,000 idle connections its extra coroutine frames and shared state cost 1.7 KiB per
// connection (8.86 KiB against 7.16), a quarter of all an idle connection holds. Why not a timer
// as the event: one is 120 bytes. The wait is the writer's completion handler parked in a small
// shared state, which the reader's completion holds: never the session.
class ReaderJoin {
  public:
    ReaderJoin() : state_(std::make_shared<State>()) {}

    // Starts `reader` on `executor`. When it ends, `connection` ends (its outbox takes no more,
    // which wakes a writer waiting for a message) and wait() completes; a failure, a bug, is
    // logged.
    void spawn(asio::any_io_executor executor, awaitable<void> reader,
               std::shared_ptr<Connection> connection) {
        asio::co_spawn(executor, std::move(reader), Done{state_, std::move(connection)});
    }

    bool done() const { return state_->done; }

    // Completes once the reader has ended. Not a coroutine: it hands back the operation itself.
    awaitable<void> wait() {
        return asio::async_initiate<const asio::use_awaitable_t<>, void()>(Park{state_},
                                                                           asio::use_awaitable);
    }

  private:
    // The writer's coroutine, parked until the reader ends; resumed through its own executor,
    // never inside the reader's completion.
    struct Waiter {
        virtual ~Waiter() = default;
        virtual void resume() = 0;
    };
    template <typename Handler>
    struct WaiterFor final : Waiter {
        explicit WaiterFor(Handler handler) : handler(std::move(handler)) {}
        void resume() override {
            auto executor = asio::get_associated_executor(handler);
            asio::post(executor, std::move(handler));
        }
        Handler handler;
    };
    struct State {
        bool done = false;
        std::unique_ptr<Waiter> waiter;
    };
    // Named types rather than lambda temporaries: g++ 12 destroys some capturing lambda
    // temporaries twice around coroutines.
    struct Done {
        std::shared_ptr<State> state;
        std::shared_ptr<Connection> connection;

        void operator()(std::exception_ptr failure) const {
            if (failure) {
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& error) {
                    log_error("reader_failed",
                              {{"conn", connection->id()}, {"error", error.what()}});
                }
            }
            state->done = true;
            connection->end();
            if (auto waiter = std::move(state->waiter)) waiter->resume();
        }
    };
    struct Park {
        std::shared_ptr<State> state;

        template <typename Handler>
        void operator()(Handler handler) const {
            auto waiter = std::make_unique<WaiterFor<Handler>>(std::move(handler));
            if (state->done) return waiter->resume();
            state->waiter = std::move(waiter);
        }
    };

    std::shared_ptr<State> state_;
};

}  // namespace herald
