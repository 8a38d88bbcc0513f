// What every connection's coroutines share. The Server owns all of it, and it outlives them.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "herald/access.hpp"
#include "herald/config.hpp"
#include "herald/connection.hpp"
#include "herald/hub.hpp"

namespace herald {

struct Context {
    const Config& config;
    const Access& access;
    Hub& hub;
    Clock::time_point started_at;
    boost::asio::ssl::context* tls = nullptr;  // every connection speaks TLS when set
};

}  // namespace herald
