// How a Redis request can fail short of an answer: the transport's errors, as error codes of
// their own category. An error *reply* from Redis is not among them: it is a Reply of type
// error, which the caller reads (NOSCRIPT, WRONGTYPE, ...).
#pragma once

#include <type_traits>

#include <boost/system/error_code.hpp>

namespace herald::redis {

enum class RedisError {
    // No connection is up (or it is still authenticating): the caller answers 503 at once
    // rather than queue work for a server that may be gone for minutes.
    not_connected = 1,
    // A reply (or the connect, or the handshake) came later than the timeout. The connection
    // was closed: replies are matched in order, so one late reply spoils all that follow it.
    timeout,
    // The connection broke (reset, closed by Redis, or stopped) before the reply came.
    connection_lost,
    // Redis sent something that is not RESP2, or a reply nobody asked for.
    protocol_error,
    // Too many commands are waiting to be written: failing fast beats queueing without bound.
    queue_full,
    // Redis answered a subscriber's command with an error (an ACL that forbids the channel).
    refused,
};

const boost::system::error_category& redis_category() noexcept;

inline boost::system::error_code make_error_code(RedisError error) noexcept {
    return {static_cast<int>(error), redis_category()};
}

}  // namespace herald::redis

template <>
struct boost::system::is_error_code_enum<herald::redis::RedisError> : std::true_type {};
