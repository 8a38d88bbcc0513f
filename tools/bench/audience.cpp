#include "audience.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include "payload.hpp"

namespace herald::bench {

PublisherPool::PublisherPool(asio::any_io_executor executor, tcp::endpoint server,
                             std::chrono::milliseconds limit)
    : executor_(executor), server_(server), limit_(limit), wakeup_(executor), watching_(executor) {
    watching_.add();
    auto on_end = [this](std::exception_ptr) { watching_.done(); };
    asio::co_spawn(executor_, watch(), on_end);
}

RawHttpConnection& PublisherPool::add() {
    return connections_.emplace_back(executor_, server_);
}

std::vector<RawHttpConnection*> PublisherPool::all() {
    std::vector<RawHttpConnection*> all;
    for (auto& connection : connections_)
        all.push_back(&connection);
    return all;
}

awaitable<void> PublisherPool::stop() {
    stopped_ = true;
    for (auto& connection : connections_)
        connection.close();
    wakeup_.notify();
    co_await watching_.wait();
}

awaitable<void> PublisherPool::watch() {
    const std::int64_t limit_ns = std::chrono::nanoseconds(limit_).count();
    while (!stopped_) {
        const auto next_check = Clock::now() + std::chrono::milliseconds(250);
        co_await wakeup_.sleep_until(next_check);
        std::int64_t now = now_ns();
        for (auto& connection : connections_) {
            std::int64_t since = connection.busy_since_ns();
            if (since != 0 && now - since > limit_ns) connection.close();
        }
    }
}

awaitable<bool> wait_for_arrivals(ReceiveStats& stats, std::uint64_t timed, std::uint64_t ready,
                                  Clock::time_point deadline) {
    Wakeup wakeup(co_await asio::this_coro::executor);
    stats.wakeup = &wakeup;
    auto reached = [&] { return stats.timed >= timed && stats.ready >= ready; };
    while (!reached() && Clock::now() < deadline) {
        // Only a mark not reached yet may wake us, or every message would.
        stats.wake_at_timed = stats.timed < timed ? timed : ReceiveStats::never;
        stats.wake_at_ready = stats.ready < ready ? ready : ReceiveStats::never;
        co_await wakeup.sleep_until(deadline);
    }
    stats.wakeup = nullptr;
    stats.wake_at_timed = stats.wake_at_ready = ReceiveStats::never;
    co_return reached();
}

namespace {

struct ProbeState {
    std::vector<Subscriber*> targets;
    const Adapter& adapter;
    ErrorCounter& errors;
    std::vector<Subscriber*> reached;
    WaitGroup publishers;
};

// Publishes to targets[first], targets[first + stride], ... over one connection.
awaitable<void> probe_in_turn(std::shared_ptr<ProbeState> state, RawHttpConnection* connection,
                              std::size_t first, std::size_t stride) {
    for (std::size_t i = first; i < state->targets.size(); i += stride) {
        Subscriber* target = state->targets[i];
        connection->request().clear();
        state->adapter.append_publish(connection->request(), target->uid,
                                      probe_message(target->uid));
        HttpAnswer answer = co_await connection->exchange();
        if (answer.error) {
            state->errors.add("probe", answer.error);
        } else if (!answer.accepted()) {
            state->errors.add("probe", "HTTP " + std::to_string(answer.status));
        } else if (state->adapter.reached_someone(answer.status, answer.body)) {
            state->reached.push_back(target);
        }
    }
}

}  // namespace

awaitable<std::vector<Subscriber*>> publish_probes(std::vector<Subscriber*> targets,
                                                   std::vector<RawHttpConnection*> connections,
                                                   const Adapter& adapter, ErrorCounter& errors) {
    auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<ProbeState>(
        ProbeState{std::move(targets), adapter, errors, {}, WaitGroup(executor)});
    std::size_t stride = std::min(connections.size(), state->targets.size());
    state->publishers.add(int(stride));
    for (std::size_t i = 0; i < stride; ++i) {
        auto on_done = [state](std::exception_ptr failure) {
            if (failure) state->errors.add("probe", "unexpected exception");
            state->publishers.done();
        };
        asio::co_spawn(executor, probe_in_turn(state, connections[i], i, stride), on_done);
    }
    co_await state->publishers.wait();
    co_return std::move(state->reached);
}

std::vector<Subscriber*> ready_subscribers(std::vector<Subscriber>& subscribers) {
    std::vector<Subscriber*> ready;
    for (auto& subscriber : subscribers)
        if (subscriber.ready) ready.push_back(&subscriber);
    return ready;
}

awaitable<std::size_t> probe_until_ready(std::vector<Subscriber>& subscribers,
                                         std::vector<RawHttpConnection*> connections,
                                         const Adapter& adapter, ReceiveStats& stats,
                                         Clock::time_point deadline, ErrorCounter& errors) {
    for (;;) {
        std::vector<Subscriber*> pending;
        for (auto& subscriber : subscribers)
            if (subscriber.connection && !subscriber.ready && !subscriber.closing)
                pending.push_back(&subscriber);
        if (pending.empty() || Clock::now() >= deadline) break;
        auto reached = co_await publish_probes(pending, connections, adapter, errors);
        // Probes the server says it delivered should arrive soon; the others are re-probed
        // (their login is still on its way to the server).
        std::size_t expected = stats.ready;
        for (Subscriber* subscriber : reached)
            expected += subscriber->ready ? 0 : 1;
        const auto round_end = std::min(deadline, Clock::now() + std::chrono::seconds(1));
        co_await wait_for_arrivals(stats, 0, expected, round_end);
        if (reached.empty()) {
            const auto pause = std::chrono::milliseconds(50);
            co_await sleep_for(pause);
        }
    }
    std::size_t ready = 0;
    for (auto& subscriber : subscribers)
        ready += subscriber.ready ? 1 : 0;
    co_return ready;
}

std::vector<Subscriber> make_subscribers(const std::string& prefix, int first, int count) {
    std::vector<Subscriber> subscribers(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i)
        subscribers[i].uid = prefix + std::to_string(first + i);
    return subscribers;
}

}  // namespace herald::bench
