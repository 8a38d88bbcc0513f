// The TCP link under both kinds of Redis connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/net.hpp"
#include "herald/redis/settings.hpp"

namespace herald::redis {

// Connects `socket` (closed on entry) to settings.host:port within settings.timeout, with TCP
// keepalive on and Nagle's delay off (commands are written whole, and a reply must not wait
// for an acknowledgement of the last one).
//
// A host that is an IP address is not resolved. A name is resolved first, without the
// timeout: getaddrinfo runs on Asio's resolver thread and cannot be interrupted, so stopping
// during a slow DNS lookup waits for it to return.
//
// `deadline` is the connect's timer: cancelling it (as stop does) ends the attempt with
// operation_aborted; its expiry ends it with RedisError::timeout.
awaitable<error_code> open_link(tcp::socket& socket, tcp::resolver& resolver,
                                asio::steady_timer& deadline, const RedisSettings& settings);

}  // namespace herald::redis
