// The connection limits: how many WebSockets may be open, in all and per client address.
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include "herald/actor.hpp"
#include "herald/config.hpp"
#include "herald/net.hpp"

namespace herald {

struct AdmissionLimits {
    std::size_t connections;              // 0: no limit
    std::size_t connections_per_address;  // 0: no limit
};
AdmissionLimits admission_limits(const Config& config);

// Why a WebSocket may not open.
enum class Refusal { server_full, address_full };

// An actor on a strand of its own: it counts the WebSockets that are open against the limits.
// What it admits, it hands out as a ticket that gives the place back when it is destroyed, so
// that no path of a connection can forget to (a refused login, a shutdown, an error).
class Admission {
    struct Counts;

  public:
    // A place under the limits, given back on destruction. Empty (holding nothing) when there
    // are no limits.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& other) noexcept = default;
        Ticket& operator=(Ticket&& other) noexcept;
        ~Ticket() { give_back(); }

      private:
        friend class Admission;
        Ticket(std::shared_ptr<Counts> counts, asio::ip::address address)
            : counts_(std::move(counts)), address_(address) {}
        void give_back();

        std::shared_ptr<Counts> counts_;
        asio::ip::address address_;
    };

    Admission(asio::any_io_executor executor, AdmissionLimits limits);

    bool limited() const {
        return limits_.connections != 0 || limits_.connections_per_address != 0;
    }

    // A ticket for a WebSocket from `address`, or why it is refused. Without limits, an empty
    // ticket at once, without a trip to the strand.
    awaitable<boost::system::result<Ticket, Refusal>> admit(asio::ip::address address);

  private:
    // Shared with the tickets, which may outlive the server's own objects when a shutdown gives
    // up and destroys suspended connections: the strand's io_context then takes no more work,
    // and a ticket's post does nothing.
    struct Counts {
        explicit Counts(asio::any_io_executor executor) : strand(asio::make_strand(executor)) {}
        Strand strand;
        std::size_t open = 0;                                            // strand only
        std::unordered_map<asio::ip::address, std::size_t> per_address;  // strand only
    };

    AdmissionLimits limits_;
    std::shared_ptr<Counts> counts_;
};

}  // namespace herald
