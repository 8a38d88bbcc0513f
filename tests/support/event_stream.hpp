// A raw HTTP client for Herald's event streams (GET /sse): the request, the answer's head as it
// came, and the events one by one, over plain TCP or TLS.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json/value.hpp>

#include "herald/net.hpp"

namespace herald::test {

// One event as the stream sent it: a comment (": ping"), or an event with its data line and
// its id line, if any.
struct StreamEvent {
    bool comment = false;
    std::optional<std::string> id;
    std::string data;  // a comment's text, without the colon and the space

    boost::json::value json() const;  // the data, parsed
};

class EventStreamClient {
  public:
    // Connects, sends `GET <target>` with `headers` (whole lines, each ending in CRLF), and reads
    // the answer's head; a refusal's body too. Over TLS when `tls` is given (verifying the
    // server).
    static awaitable<EventStreamClient> open(tcp::endpoint server, std::string target,
                                             std::string headers = {},
                                             boost::asio::ssl::context* tls = nullptr);

    unsigned status() const { return status_; }
    // The head as it came (status line and header lines), for checks on the headers.
    const std::string& head() const { return head_; }
    // A header's value (the first with that name, compared without case); none when absent.
    std::optional<std::string> header(std::string_view name) const;
    // The body of a refusal (an answer other than 200).
    const std::string& body() const { return body_; }

    // The next event, skipping comments unless `comments`; none once the stream has ended (the
    // server closed the connection). Fails (throws) when nothing comes within `timeout`.
    awaitable<std::optional<StreamEvent>> next(
        bool comments = false, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Every event up to the end of the stream (comments skipped), within `timeout`.
    awaitable<std::vector<StreamEvent>> rest(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Closes this side.
    void close();

  private:
    struct Transport;
    explicit EventStreamClient(std::shared_ptr<Transport> transport)
        : transport_(std::move(transport)) {}
    // Reads more into buffer_; false at the end of the stream.
    awaitable<bool> read_more(std::chrono::milliseconds timeout);

    std::shared_ptr<Transport> transport_;
    std::string buffer_;
    std::string head_;
    std::string body_;
    unsigned status_ = 0;
    bool ended_ = false;
};

}  // namespace herald::test
