// A publisher's HTTP/1.1 keep-alive connection that writes request bytes as they are and reads
// only what it needs of the answer (status, length, body). The load generator shares one core
// with everything it does, so the publishing path stays this lean (the peers' Go load
// generator does the same); client::HttpClient serves the rare requests where comfort wins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "herald/net.hpp"

namespace herald::bench {

struct HttpAnswer {
    error_code error;  // the exchange failed (after its one retry)
    unsigned status = 0;
    std::string_view body;  // valid until the connection's next exchange
    bool accepted() const { return !error && status >= 200 && status < 300; }
};

// One parse of the bytes received so far.
struct ParsedAnswer {
    enum class State { incomplete, complete, malformed } state = State::incomplete;
    unsigned status = 0;
    std::size_t size = 0;  // bytes of the whole answer, head and body
    std::string_view body;
    bool close = false;  // "Connection: close"
};

// Parses the answer at the start of `input`: Content-Length or chunked bodies; informational
// (1xx) answers are skipped. A chunked body is decoded into `chunked_body`.
ParsedAnswer parse_answer(std::string_view input, std::string& chunked_body);

class RawHttpConnection {
  public:
    RawHttpConnection(asio::any_io_executor executor, tcp::endpoint server)
        : socket_(std::move(executor)), server_(server) {}

    awaitable<error_code> connect();
    // The bytes of the next request; exchange() sends them.
    std::string& request() { return request_; }
    // Sends request() and reads its answer. A kept-alive connection the server closed while
    // idle fails before any byte of the answer: then it reconnects and tries once more.
    awaitable<HttpAnswer> exchange();
    void close();

    // When the exchange in flight started (now_ns()), or 0: for the watchdog.
    std::int64_t busy_since_ns() const { return busy_since_ns_; }

  private:
    awaitable<HttpAnswer> exchange_once(bool& may_retry);

    tcp::socket socket_;
    tcp::endpoint server_;
    std::string request_;
    std::string input_;  // received bytes; the first `consumed_` belong to the last answer
    std::size_t consumed_ = 0;
    std::string chunked_body_;
    std::int64_t busy_since_ns_ = 0;
};

}  // namespace herald::bench
