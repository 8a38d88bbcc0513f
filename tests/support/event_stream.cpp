#include "support/event_stream.hpp"

#include <array>
#include <charconv>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>

namespace herald::test {
namespace beast = boost::beast;

boost::json::value StreamEvent::json() const {
    return boost::json::parse(data);
}

// The connection: plain, or TLS over it.
struct EventStreamClient::Transport {
    explicit Transport(asio::any_io_executor executor) : tcp(std::move(executor)) {}
    beast::tcp_stream tcp;
    std::optional<asio::ssl::stream<beast::tcp_stream&>> tls;

    awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer buffer) {
        if (tls) co_return co_await tls->async_read_some(buffer, use_nothrow);
        co_return co_await tcp.async_read_some(buffer, use_nothrow);
    }
    awaitable<std::tuple<error_code, std::size_t>> write(asio::const_buffer buffer) {
        if (tls) co_return co_await asio::async_write(*tls, buffer, use_nothrow);
        co_return co_await asio::async_write(tcp, buffer, use_nothrow);
    }
};

awaitable<EventStreamClient> EventStreamClient::open(tcp::endpoint server, std::string target,
                                                     std::string headers,
                                                     boost::asio::ssl::context* tls) {
    auto transport = std::make_shared<Transport>(co_await asio::this_coro::executor);
    transport->tcp.expires_after(std::chrono::seconds(10));
    co_await transport->tcp.async_connect(server, asio::use_awaitable);
    if (tls) {
        transport->tls.emplace(transport->tcp, *tls);
        transport->tls->set_verify_mode(asio::ssl::verify_peer);
        co_await transport->tls->async_handshake(asio::ssl::stream_base::client,
                                                 asio::use_awaitable);
    }
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                          "Accept: text/event-stream\r\n" + headers + "\r\n";
    auto [error, written] = co_await transport->write(asio::buffer(request));
    if (error) throw boost::system::system_error(error, "sending the request");

    EventStreamClient client(std::move(transport));
    std::size_t end;
    while ((end = client.buffer_.find("\r\n\r\n")) == std::string::npos)
        if (!co_await client.read_more(std::chrono::seconds(10)))
            throw std::runtime_error("the stream ended before the answer's head");
    client.head_ = client.buffer_.substr(0, end + 2);
    client.buffer_.erase(0, end + 4);
    std::string_view status_line(client.head_);
    status_line = status_line.substr(status_line.find(' ') + 1, 3);
    std::from_chars(status_line.data(), status_line.data() + status_line.size(), client.status_);
    if (client.status_ != 200) {
        std::size_t length = 0;
        if (auto value = client.header("Content-Length"))
            std::from_chars(value->data(), value->data() + value->size(), length);
        while (client.buffer_.size() < length)
            if (!co_await client.read_more(std::chrono::seconds(10))) break;
        client.body_ = client.buffer_.substr(0, length);
        client.buffer_.clear();
    }
    co_return client;
}

std::optional<std::string> EventStreamClient::header(std::string_view name) const {
    std::string_view rest(head_);
    rest.remove_prefix(rest.find("\r\n") + 2);  // the status line
    while (!rest.empty()) {
        std::string_view line = rest.substr(0, rest.find("\r\n"));
        rest.remove_prefix(std::min(rest.size(), line.size() + 2));
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (!beast::iequals(line.substr(0, colon), name)) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
            value.remove_prefix(1);
        return std::string(value);
    }
    return std::nullopt;
}

awaitable<bool> EventStreamClient::read_more(std::chrono::milliseconds timeout) {
    if (ended_) co_return false;
    std::array<char, 16 * 1024> piece;
    transport_->tcp.expires_after(timeout);
    auto [error, size] = co_await transport_->read_some(asio::buffer(piece));
    if (error == beast::error::timeout)
        throw boost::system::system_error(error, "no event in time");
    if (error) {
        ended_ = true;
        co_return false;
    }
    buffer_.append(piece.data(), size);
    co_return true;
}

awaitable<std::optional<StreamEvent>> EventStreamClient::next(bool comments,
                                                              std::chrono::milliseconds timeout) {
    for (;;) {
        std::size_t end;
        while ((end = buffer_.find("\n\n")) == std::string::npos)
            if (!co_await read_more(timeout)) co_return std::nullopt;
        std::string block = buffer_.substr(0, end + 1);
        buffer_.erase(0, end + 2);
        StreamEvent event;
        std::string_view rest(block);
        while (!rest.empty()) {
            std::string_view line = rest.substr(0, rest.find('\n'));
            rest.remove_prefix(line.size() + 1);
            if (line.starts_with(": ")) {
                event.comment = true;
                event.data.assign(line.substr(2));
            } else if (line.starts_with("id: ")) {
                event.id.emplace(line.substr(4));
            } else if (line.starts_with("data: ")) {
                if (!event.data.empty()) event.data += '\n';
                event.data.append(line.substr(6));
            } else {
                throw std::runtime_error("an event line of no known field: " + std::string(line));
            }
        }
        if (event.comment && !comments) continue;
        co_return event;
    }
}

awaitable<std::vector<StreamEvent>> EventStreamClient::rest(std::chrono::milliseconds timeout) {
    std::vector<StreamEvent> events;
    while (auto event = co_await next(false, timeout))
        events.push_back(std::move(*event));
    co_return events;
}

void EventStreamClient::close() {
    error_code ignored;
    transport_->tcp.socket().close(ignored);
}

}  // namespace herald::test
