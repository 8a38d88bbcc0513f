// A stream layer under a WebSocket that gathers several frames into one system call.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "herald/net.hpp"

namespace herald {

// Beast 1.81 writes each WebSocket frame with its own write to the next layer: a connection with
// 64 messages queued makes 64 system calls. Under the WebSocket, this layer lets the writer
// *cork* the stream, write every frame it has queued (each is copied here and completes at once),
// then *flush* them all with one write.
//
// Beast's own writes (pongs, a close) take turns with the writer's under Beast's lock; any of
// them made while corked or flushing joins the gathered bytes, in order, and goes out with the
// flush, so nothing overtakes anything. Uncorked and with nothing gathered, a write goes straight
// to the next layer, as if this layer were not there.
//
// A close frame that Beast gathered while corked (its answer to the peer's close) goes out before
// the TCP shutdown that follows it: the teardown waits for the flush.
//
// An idle connection pays one pointer: the gathered bytes exist only from cork() to the end of
// flush().
template <typename Next>
class CorkedStream {
  public:
    using executor_type = typename Next::executor_type;
    using next_layer_type = Next;

    template <typename... Args>
    explicit CorkedStream(Args&&... args) : next_(std::forward<Args>(args)...) {}

    executor_type get_executor() noexcept { return next_.get_executor(); }
    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    // From now on, writes are gathered until flush(). Corking a corked stream changes nothing.
    void cork() {
        if (!gathered_) gathered_ = std::make_unique<Gathered>(get_executor());
    }

    // How many bytes wait for flush().
    std::size_t gathered() const { return gathered_ ? gathered_->bytes.size() : 0; }

    // Writes everything gathered in one write (more, if writes join it meanwhile), then lets
    // writes through again. Returns the first error; nothing gathered is an immediate success.
    // The caller's frames were all written through the WebSocket before, so Beast's lock is not
    // held by any of them, and none is written behind this one's back: a write during the flush
    // joins it.
    awaitable<error_code> flush() {
        if (!gathered_) co_return error_code{};
        gathered_->flushing = true;
        error_code error;
        std::string sending;
        while (!error && !gathered_->bytes.empty()) {
            sending.clear();
            sending.swap(gathered_->bytes);
            std::tie(error, std::ignore) =
                co_await asio::async_write(next_, asio::buffer(sending), use_nothrow);
        }
        // The buffers go: an idle connection keeps nothing. A teardown that waited goes now.
        gathered_->flushed.cancel();
        gathered_.reset();
        co_return error;
    }

    // The end of a WebSocket's close (Beast's, after its close frame): the TCP shutdown. A close
    // frame gathered while corked must go out first. During a flush, the teardown waits for it.
    // Before one, it sends what is gathered itself: the writer may be waiting on Beast's lock,
    // which Beast holds until its teardown is done, and would never get to flush. The writer's
    // later writes fail (the WebSocket is closed), and its flush finds nothing to send.
    template <typename Handler>
    void async_teardown_after_flush(boost::beast::role_type role, Handler&& handler) {
        using boost::beast::websocket::async_teardown;
        if (!gathered_) {
            async_teardown(role, next_, std::forward<Handler>(handler));
        } else if (gathered_->flushing) {
            gathered_->flushed.async_wait(
                [this, role, handler = std::forward<Handler>(handler)](error_code) mutable {
                    async_teardown(role, next_, std::move(handler));
                });
        } else {
            auto bytes = std::make_unique<std::string>(std::move(gathered_->bytes));
            gathered_->bytes.clear();
            asio::const_buffer sending = asio::buffer(*bytes);
            asio::async_write(
                next_, sending,
                [this, role, bytes = std::move(bytes), handler = std::forward<Handler>(handler)](
                    error_code, std::size_t) mutable {
                    async_teardown(role, next_, std::move(handler));
                });
        }
    }

    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return next_.async_read_some(buffers, std::forward<Token>(token));
    }

    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& buffers) {
                if (!gathered_) {
                    next_.async_write_some(buffers, std::move(handler));
                    return;
                }
                std::size_t size = asio::buffer_size(buffers);
                std::string& bytes = gathered_->bytes;
                std::size_t at = bytes.size();
                bytes.resize(at + size);
                asio::buffer_copy(asio::buffer(bytes.data() + at, size), buffers);
                // Completes as an asynchronous operation must: never inside the initiation.
                asio::post(next_.get_executor(),
                           asio::append(std::move(handler), error_code{}, size));
            },
            token, buffers);
    }

  private:
    // From cork() to the end of flush().
    struct Gathered {
        explicit Gathered(executor_type executor)
            : flushed(std::move(executor), asio::steady_timer::time_point::max()) {}
        std::string bytes;
        bool flushing = false;
        asio::steady_timer flushed;  // an event, not a time: a teardown waits for the flush
    };
    Next next_;
    std::unique_ptr<Gathered> gathered_;
};

// A WebSocket's close ends with the teardown of the layer under it: the one under this one.
template <typename Next>
void teardown(boost::beast::role_type role, CorkedStream<Next>& stream, error_code& error) {
    using boost::beast::websocket::teardown;
    teardown(role, stream.next_layer(), error);
}

template <typename Next, typename Handler>
void async_teardown(boost::beast::role_type role, CorkedStream<Next>& stream, Handler&& handler) {
    stream.async_teardown_after_flush(role, std::forward<Handler>(handler));
}

}  // namespace herald
