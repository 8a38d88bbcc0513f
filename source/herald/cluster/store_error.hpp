// How the cluster's stream store fails beyond the transport (whose failures stay the Redis
// client's own codes: not_connected, timeout, connection_lost, ...).
#pragma once

#include <type_traits>

#include <boost/system/error_code.hpp>

namespace herald::cluster {

// Every one of them means that Redis cannot serve this request now: the caller answers 503 (or
// closes with 1013), never as if it had succeeded.
enum class StoreError {
    // prepare() has not succeeded on the current link yet: the store does not know which run of
    // Redis it talks to, so it cannot tell whether a stream's history survived.
    not_prepared = 1,
    // Redis answered with an error: out of memory (maxmemory with noeviction), a read-only
    // replica, a script that failed, a server still loading its data, ... The reply's text is
    // logged by the store (it never holds a message body).
    redis_refused,
    // Redis answered something the scripts never return: another program's keys under the same
    // names, or a Redis that is not what it claims.
    bad_reply,
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(StoreError error) noexcept {
    return {static_cast<int>(error), store_category()};
}

}  // namespace herald::cluster

template <>
struct boost::system::is_error_code_enum<herald::cluster::StoreError> : std::true_type {};
