// What every connection's coroutines share. The Server owns all of it, and it outlives them.
#pragma once

#include <atomic>

#include <boost/asio/ssl/context.hpp>

#include "herald/access.hpp"
#include "herald/ack_waiters.hpp"
#include "herald/admission.hpp"
#include "herald/config.hpp"
#include "herald/engine.hpp"
#include "herald/hub.hpp"
#include "herald/metrics.hpp"

namespace herald {

struct Context {
    const Config& config;
    const Access& access;
    Admission& admission;
    Hub& hub;
    Engine& engine;
    Metrics& metrics;
    AckGate& ack_gate;  // publishers waiting for an ack (wait=ack), bounded
    Clock::time_point started_at;
    boost::asio::ssl::context* tls = nullptr;  // every connection speaks TLS when set
    // True from a SIGTERM on (during --drain-delay, then the shutdown): /readyz answers 503.
    const std::atomic<bool>* draining = nullptr;
};

}  // namespace herald
