#include "subscriber.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <iostream>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "payload.hpp"

namespace herald::bench {
namespace {

namespace beast = boost::beast;
using WebSocketStream = client::WebSocketClient::Stream;

}  // namespace

awaitable<error_code> dial(Subscriber& subscriber, const Adapter& adapter, DialPlan plan,
                           std::string login) {
    tcp::socket socket(co_await asio::this_coro::executor);
    error_code error;
    socket.open(plan.server.protocol(), error);
    if (error) co_return error;
    if (plan.source) {
        // Let connect() choose the port for the whole 4-tuple: bind() alone would reserve a
        // port per source address for every destination, and run out at ~28k.
        int on = 1;
        ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
        tcp::endpoint source(*plan.source, 0);
        socket.bind(source, error);
        if (error) co_return error;
    }
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(plan.timeout);
    auto [connect_error] = co_await stream.async_connect(plan.server, use_nothrow);
    if (connect_error) co_return connect_error;
    stream.socket().set_option(tcp::no_delay(true), error);

    WebSocketStream ws(std::move(stream));
    const std::string& host = adapter.host_header();
    std::string target = adapter.websocket_target(subscriber.uid);
    auto [handshake_error] = co_await ws.async_handshake(host, target, use_nothrow);
    if (handshake_error) co_return handshake_error;
    if (login.empty()) login = adapter.login_frame(subscriber.uid).value_or("");
    if (!login.empty()) {
        ws.text(true);
        auto [write_error, written] = co_await ws.async_write(asio::buffer(login), use_nothrow);
        if (write_error) co_return write_error;
    }
    // From here on only the server ends the connection, or close_hard().
    beast::get_lowest_layer(ws).expires_never();
    subscriber.connection.emplace(std::move(ws));
    co_return error;
}

namespace {

awaitable<void> receive(Subscriber& subscriber, ReceiveStats& stats) {
    WebSocketStream& ws = subscriber.connection->stream();
    beast::flat_buffer buffer;
    ++stats.open;
    for (;;) {
        auto [error, size] = co_await ws.async_read(buffer, use_nothrow);
        if (error) break;
        std::int64_t received_ns = now_ns();
        auto data = buffer.cdata();
        std::string_view frame(static_cast<const char*>(data.data()), data.size());
        stats.on_frame(subscriber, frame, received_ns);
        buffer.consume(size);
    }
    --stats.open;
    if (!subscriber.closing) ++stats.dropped;
}

void start_receiving(Subscriber& subscriber, ReceiveStats& stats,
                     const asio::any_io_executor& executor) {
    auto on_end = [](std::exception_ptr failure) {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& error) {
            std::cerr << "herald-bench: receive loop failed: " << error.what() << '\n';
        }
    };
    asio::co_spawn(executor, receive(subscriber, stats), on_end);
}

// What the dialing coroutines share; held by each of them, so it outlives the last.
struct DialState {
    std::vector<Subscriber>& subscribers;
    const Adapter& adapter;
    DialPlan plan;
    ReceiveStats& stats;
    ErrorCounter& errors;
    DialOutcome outcome;
    std::size_t next = 0;
    WaitGroup dialers;
};

awaitable<void> dial_in_turn(std::shared_ptr<DialState> state) {
    const DialPlan& plan = state->plan;
    DialOutcome& outcome = state->outcome;
    auto executor = co_await asio::this_coro::executor;
    while (state->next < state->subscribers.size()) {
        Subscriber& subscriber = state->subscribers[state->next++];
        if (Clock::now() >= plan.give_up_at || outcome.failed >= plan.max_failures) {
            ++outcome.skipped;
            continue;
        }
        error_code error = co_await dial(subscriber, state->adapter, plan);
        if (error) {
            ++outcome.failed;
            state->errors.add("dial", error);
            continue;
        }
        ++outcome.connected;
        outcome.last_connected_ns = now_ns();
        start_receiving(subscriber, state->stats, executor);
    }
}

}  // namespace

void ReceiveStats::on_frame(Subscriber& subscriber, std::string_view frame,
                            std::int64_t received_ns) {
    ++frames;
    for_each_message(frame, [&](std::string_view message) {
        ParsedMessage parsed = parse_message(message);
        switch (parsed.kind) {
            case ParsedMessage::Kind::timed:
                ++timed;
                if (record_latency) latency.add(received_ns - parsed.stamp_ns);
                break;
            case ParsedMessage::Kind::probe:
                ++probes;
                if (parsed.uid != subscriber.uid) {
                    ++misrouted;
                } else if (!subscriber.ready) {
                    subscriber.ready = true;
                    ++ready;
                }
                break;
            case ParsedMessage::Kind::malformed:
                ++malformed;
                break;
        }
    });
    if (wakeup && (timed >= wake_at_timed || ready >= wake_at_ready)) {
        wake_at_timed = wake_at_ready = never;
        wakeup->notify();
    }
}

awaitable<DialOutcome> dial_all(std::vector<Subscriber>& subscribers, const Adapter& adapter,
                                DialPlan plan, ReceiveStats& stats, ErrorCounter& errors) {
    auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<DialState>(
        DialState{subscribers, adapter, plan, stats, errors, {}, 0, WaitGroup(executor)});
    state->outcome.started_ns = now_ns();
    int dialers = std::max(1, std::min<int>(plan.concurrency, int(subscribers.size())));
    state->dialers.add(dialers);
    for (int i = 0; i < dialers; ++i) {
        auto on_done = [state](std::exception_ptr failure) {
            if (failure) state->errors.add("dial", "unexpected exception");
            state->dialers.done();
        };
        asio::co_spawn(executor, dial_in_turn(state), on_done);
    }
    co_await state->dialers.wait();
    state->outcome.finished_ns = now_ns();
    co_return state->outcome;
}

void close_hard(Subscriber& subscriber) {
    if (!subscriber.connection) return;
    subscriber.closing = true;
    auto& socket = beast::get_lowest_layer(subscriber.connection->stream()).socket();
    error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

awaitable<void> close_all(std::vector<Subscriber>& subscribers, ReceiveStats& stats) {
    for (auto& subscriber : subscribers)
        close_hard(subscriber);
    // Aborted reads complete on the next turns of the io_context.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (stats.open > 0 && Clock::now() < deadline) {
        const auto pause = std::chrono::milliseconds(1);
        co_await sleep_for(pause);
    }
    if (stats.open > 0) std::cerr << "herald-bench: receive loops did not end\n";
}

}  // namespace herald::bench
