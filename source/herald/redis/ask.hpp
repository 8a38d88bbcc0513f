// How a caller on any executor asks something of a connection that lives on its own strand.
#pragma once

#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "herald/net.hpp"

namespace herald::redis::detail {

// The completion a connection keeps for a caller: called on the connection's strand (now or
// much later), it hands the result to the caller's own executor. Posted, never run inline: the
// caller must not resume on the strand, where it would hold up the connection.
template <typename Result, typename Handler>
class ResumeCaller {
  public:
    explicit ResumeCaller(Handler handler)
        // The caller's executor counts as busy until the answer is back on it, so that its
        // io_context does not run out of work and return while it waits.
        : caller_(asio::prefer(asio::get_associated_executor(handler),
                               asio::execution::outstanding_work.tracked)),
          handler_(std::move(handler)) {}

    void operator()(Result result) {
        asio::post(caller_, [handler = std::move(handler_), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
        });
    }

  private:
    typename asio::prefer_result<asio::associated_executor_t<Handler>,
                                 asio::execution::outstanding_work_t::tracked_t>::type caller_;
    Handler handler_;
};

template <typename Result>
struct AskInitiation {
    template <typename Handler, typename Start>
    void operator()(Handler handler, asio::strand<asio::any_io_executor> strand,
                    Start start) const {
        // dispatch: when the strand is idle the request starts at once, on the caller's thread.
        asio::dispatch(strand, [handler = std::move(handler), start = std::move(start)]() mutable {
            std::move(start)(ResumeCaller<Result, Handler>(std::move(handler)));
        });
    }
};

// Runs `start(done)` on `strand`; the awaiting coroutine resumes, on its own executor, with
// the Result that `done` is eventually called with. `done` converts to an
// any_completion_handler<void(Result)>, so that the connection's sans-io state can keep it.
//
// Name the returned awaitable before awaiting it when `start` is a temporary: g++ 12
// mishandles temporaries with destructors inside a co_await expression.
template <typename Result, typename Start>
awaitable<Result> ask_on(asio::strand<asio::any_io_executor> strand, Start start) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(Result)>(
        AskInitiation<Result>{}, asio::use_awaitable, std::move(strand), std::move(start));
}

}  // namespace herald::redis::detail
