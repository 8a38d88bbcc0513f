// Who a scenario publishes to, and through what: the publisher connections with their
// watchdog, probes that prove each subscriber is registered, and waits for arrivals.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "adapter.hpp"
#include "raw_http.hpp"
#include "result.hpp"
#include "subscriber.hpp"
#include "wakeup.hpp"

namespace herald::bench {

// The publishing connections of a process. A watchdog fails any exchange in flight longer than
// `limit` by closing its connection: the raw client has no timer per request, which would
// cost a timer operation per publish.
class PublisherPool {
  public:
    PublisherPool(asio::any_io_executor executor, tcp::endpoint server,
                  std::chrono::milliseconds limit);
    PublisherPool(const PublisherPool&) = delete;  // its watchdog refers to it
    PublisherPool& operator=(const PublisherPool&) = delete;

    // A new connection; it connects on its first exchange (or by connect()).
    RawHttpConnection& add();
    std::deque<RawHttpConnection>& connections() { return connections_; }
    std::vector<RawHttpConnection*> all();

    // Closes every connection and waits for the watchdog to end: it refers to the pool.
    awaitable<void> stop();

  private:
    awaitable<void> watch();

    asio::any_io_executor executor_;
    tcp::endpoint server_;
    std::chrono::milliseconds limit_;
    std::deque<RawHttpConnection> connections_;  // a deque: their addresses never change
    Wakeup wakeup_;
    WaitGroup watching_;
    bool stopped_ = false;
};

// Waits until `stats` counts at least `timed` timed messages and `ready` ready subscribers,
// or until `deadline`. Returns whether both marks were reached.
awaitable<bool> wait_for_arrivals(ReceiveStats& stats, std::uint64_t timed, std::uint64_t ready,
                                  Clock::time_point deadline);

// Publishes one probe to each of `targets`, spread over `connections` in parallel. Returns
// the targets whose publish the server answered as reaching someone.
awaitable<std::vector<Subscriber*>> publish_probes(std::vector<Subscriber*> targets,
                                                   std::vector<RawHttpConnection*> connections,
                                                   const Adapter& adapter, ErrorCounter& errors);

// Probes the connected subscribers that are not ready, again and again, until each has
// received a probe or `deadline` passes: a seed-protocol login has no acknowledgement, so a
// probe that arrives is the only proof that the server registered the uid. Returns the number
// of ready subscribers.
awaitable<std::size_t> probe_until_ready(std::vector<Subscriber>& subscribers,
                                         std::vector<RawHttpConnection*> connections,
                                         const Adapter& adapter, ReceiveStats& stats,
                                         Clock::time_point deadline, ErrorCounter& errors);

// The subscribers that are ready.
std::vector<Subscriber*> ready_subscribers(std::vector<Subscriber>& subscribers);

// `count` subscribers named <prefix><first>, <prefix><first+1>, ...
std::vector<Subscriber> make_subscribers(const std::string& prefix, int first, int count);

}  // namespace herald::bench
