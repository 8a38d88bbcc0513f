// Shutdown as it reaches one connection, on that connection's strand.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include "herald/net.hpp"

namespace herald {

// The listener calls request_stop() from anywhere; the request runs on the connection's strand.
// Each phase of a connection says what stopping means for it while it waits: an idle HTTP
// connection cancels its read, a WebSocket that has not logged in yet closes with 1001. A phase
// that installs nothing (a request being answered) simply finishes, and the connection checks
// stop_requested() before it waits again.
class StopSignal : public std::enable_shared_from_this<StopSignal> {
  public:
    // Uninstalls its action when it goes out of scope: the action refers to the waiting phase's
    // own locals.
    class [[nodiscard]] Scope {
      public:
        explicit Scope(StopSignal& signal) : signal_(&signal) {}
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        ~Scope() { signal_->action_ = nullptr; }

      private:
        StopSignal* signal_;
    };

    explicit StopSignal(asio::any_io_executor executor) : executor_(std::move(executor)) {}

    // Any thread.
    void request_stop() {
        asio::post(executor_, [self = shared_from_this()] {
            self->requested_ = true;
            self->interrupt();
        });
    }

    // The connection's strand only: runs the waiting phase's action, if one is installed,
    // without a stop request; for a deadline of that phase.
    void interrupt() {
        if (auto action = std::exchange(action_, nullptr)) action();
    }

    // The connection's strand only.
    bool stop_requested() const { return requested_; }
    Scope on_stop(std::function<void()> action) {
        action_ = std::move(action);
        return Scope(*this);
    }

  private:
    asio::any_io_executor executor_;
    bool requested_ = false;        // the connection's strand only
    std::function<void()> action_;  // the connection's strand only
};

}  // namespace herald
