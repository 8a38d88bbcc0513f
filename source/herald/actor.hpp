// How callers reach an actor: state that belongs to one strand is only touched by requests run
// on that strand, so no mutex guards it.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>

#include "herald/net.hpp"

namespace herald {

using Strand = asio::strand<asio::any_io_executor>;

// Runs `request` on `strand` and completes with its result on the caller's executor. `request`
// is a plain callable, never a coroutine: an actor's step runs to its end without waiting, so
// that no other request sees its state half changed.
template <typename Request>
awaitable<std::invoke_result_t<Request&>> ask(const Strand& strand, Request request) {
    using Result = std::invoke_result_t<Request&>;
    auto initiate = [](auto handler, Strand strand, Request request) {
        // The caller's executor is kept busy until the answer is back on it.
        auto caller = asio::prefer(asio::get_associated_executor(handler),
                                   asio::execution::outstanding_work.tracked);
        // dispatch: when the strand is idle the request runs at once, on the caller's thread.
        asio::dispatch(strand, [handler = std::move(handler), request = std::move(request),
                                caller = std::move(caller)]() mutable {
            Result result = request();
            // post, never dispatch: the caller must not resume inside the strand, where it would
            // hold up every other request, and where a later request of its own would jump ahead
            // of the ones it had posted (a leave, say).
            asio::post(caller,
                       [handler = std::move(handler), result = std::move(result)]() mutable {
                           std::move(handler)(std::move(result));
                       });
        });
    };
    return asio::async_initiate<const asio::use_awaitable_t<>, void(Result)>(
        std::move(initiate), asio::use_awaitable, strand, std::move(request));
}

}  // namespace herald
