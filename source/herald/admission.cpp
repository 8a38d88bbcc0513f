#include "herald/admission.hpp"

#include <optional>

namespace herald {

AdmissionLimits admission_limits(const Config& config) {
    return {config.max_connections, config.max_connections_per_ip};
}

Admission::Admission(asio::any_io_executor executor, AdmissionLimits limits)
    : limits_(limits), counts_(std::make_shared<Counts>(std::move(executor))) {}

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        give_back();
        counts_ = std::move(other.counts_);
        address_ = other.address_;
    }
    return *this;
}

void Admission::Ticket::give_back() {
    if (!counts_) return;
    Strand strand = counts_->strand;  // named first: the handler below takes counts_ away
    asio::post(strand, [counts = std::move(counts_), address = address_] {
        --counts->open;
        auto found = counts->per_address.find(address);
        if (found != counts->per_address.end() && --found->second == 0)
            counts->per_address.erase(found);
    });
}

awaitable<boost::system::result<Admission::Ticket, Refusal>> Admission::admit(
    asio::ip::address address) {
    using Admitted = boost::system::result<Ticket, Refusal>;
    if (!limited()) co_return Ticket();
    // Named, not a temporary in the co_await: g++ 12 destroys such a temporary twice.
    auto count = [limits = limits_, counts = counts_.get(), address]() -> std::optional<Refusal> {
        if (limits.connections != 0 && counts->open >= limits.connections)
            return Refusal::server_full;
        if (limits.connections_per_address != 0) {
            std::size_t& count = counts->per_address[address];
            if (count >= limits.connections_per_address) return Refusal::address_full;
            ++count;
        }
        ++counts->open;
        return std::nullopt;
    };
    std::optional<Refusal> refusal = co_await ask(counts_->strand, std::move(count));
    if (refusal) co_return Admitted(boost::system::in_place_error, *refusal);
    co_return Ticket(counts_, address);
}

}  // namespace herald
