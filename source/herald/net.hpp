// Namespace aliases and the completion token every coroutine in Herald uses.
#pragma once

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace herald {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;

// I/O completes as a tuple whose first element is the error: expected failures (a peer that
// resets, a timeout) are values to branch on, and exceptions stay reserved for bugs.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace herald
