#include "raw_http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/write.hpp>

#include "payload.hpp"

namespace herald::bench {
namespace {

constexpr std::size_t max_head_size = 64 * 1024;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// Decodes the chunked body starting at `input`; returns its encoded size, 0 while incomplete,
// or npos when malformed.
std::size_t decode_chunked(std::string_view input, std::string& body) {
    body.clear();
    std::size_t at = 0;
    for (;;) {
        auto line_end = input.find("\r\n", at);
        if (line_end == std::string_view::npos) return 0;
        std::size_t chunk = 0;
        auto [end, error] = std::from_chars(input.data() + at, input.data() + line_end, chunk, 16);
        if (error != std::errc{}) return std::string_view::npos;
        at = line_end + 2;
        if (chunk == 0) {
            // Trailer fields (rare) end with an empty line, as the head does.
            if (input.substr(at, 2) == "\r\n") return at + 2;
            auto trailer_end = input.find("\r\n\r\n", at);
            return trailer_end == std::string_view::npos ? 0 : trailer_end + 4;
        }
        if (input.size() < at + chunk + 2) return 0;
        body.append(input.substr(at, chunk));
        at += chunk + 2;
    }
}

}  // namespace

ParsedAnswer parse_answer(std::string_view input, std::string& chunked_body) {
    ParsedAnswer answer;
    std::size_t skipped = 0;  // informational answers before the real one
    for (;;) {
        auto head_end = input.find("\r\n\r\n");
        if (head_end == std::string_view::npos) {
            if (input.size() > max_head_size) answer.state = ParsedAnswer::State::malformed;
            return answer;
        }
        // "HTTP/1.1 200 OK"
        if (input.size() < 12 || input.substr(0, 7) != "HTTP/1.") {
            answer.state = ParsedAnswer::State::malformed;
            return answer;
        }
        auto [end, error] = std::from_chars(input.data() + 9, input.data() + 12, answer.status);
        if (error != std::errc{}) {
            answer.state = ParsedAnswer::State::malformed;
            return answer;
        }
        if (answer.status >= 100 && answer.status < 200) {
            skipped += head_end + 4;
            input.remove_prefix(head_end + 4);
            continue;
        }
        std::size_t content_length = 0;
        bool has_length = false, chunked = false;
        std::string_view fields = input.substr(0, head_end + 2);
        fields.remove_prefix(fields.find("\r\n") + 2);
        while (!fields.empty()) {
            auto line_end = fields.find("\r\n");
            std::string_view line = fields.substr(0, line_end);
            fields.remove_prefix(line_end + 2);
            auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string_view name = line.substr(0, colon);
            std::string_view value = trim(line.substr(colon + 1));
            if (equals_ignoring_case(name, "content-length")) {
                has_length =
                    std::from_chars(value.data(), value.data() + value.size(), content_length).ec ==
                    std::errc{};
            } else if (equals_ignoring_case(name, "transfer-encoding")) {
                chunked = equals_ignoring_case(value, "chunked");
            } else if (equals_ignoring_case(name, "connection")) {
                answer.close = equals_ignoring_case(value, "close");
            }
        }
        std::size_t body_start = head_end + 4;
        if (chunked) {
            std::size_t encoded = decode_chunked(input.substr(body_start), chunked_body);
            if (encoded == std::string_view::npos) answer.state = ParsedAnswer::State::malformed;
            if (encoded == 0 || encoded == std::string_view::npos) return answer;
            answer.body = chunked_body;
            answer.size = skipped + body_start + encoded;
        } else {
            // Without a length only 204 and 304 are complete; reading to the end of the
            // connection is not something a publisher needs.
            if (!has_length && answer.status != 204 && answer.status != 304) {
                answer.state = ParsedAnswer::State::malformed;
                return answer;
            }
            if (input.size() < body_start + content_length) return answer;
            answer.body = input.substr(body_start, content_length);
            answer.size = skipped + body_start + content_length;
        }
        answer.state = ParsedAnswer::State::complete;
        return answer;
    }
}

awaitable<error_code> RawHttpConnection::connect() {
    close();
    auto [error] = co_await socket_.async_connect(server_, use_nothrow);
    if (error) {
        close();
        co_return error;
    }
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    error_code connected;
    co_return connected;
}

void RawHttpConnection::close() {
    error_code ignored;
    socket_.close(ignored);
    input_.clear();
    consumed_ = 0;
}

awaitable<HttpAnswer> RawHttpConnection::exchange() {
    busy_since_ns_ = now_ns();
    bool may_retry = true;
    HttpAnswer answer = co_await exchange_once(may_retry);
    if (answer.error && may_retry) answer = co_await exchange_once(may_retry);
    busy_since_ns_ = 0;
    co_return answer;
}

awaitable<HttpAnswer> RawHttpConnection::exchange_once(bool& may_retry) {
    HttpAnswer answer;
    input_.erase(0, consumed_);
    consumed_ = 0;
    bool reused = socket_.is_open();
    if (!reused) {
        may_retry = false;  // a fresh connection that fails is not a stale keep-alive
        if (auto error = co_await connect(); error) {
            answer.error = error;
            co_return answer;
        }
    }
    auto [write_error, written] =
        co_await asio::async_write(socket_, asio::buffer(request_), use_nothrow);
    if (write_error) {
        close();
        answer.error = write_error;
        may_retry = reused;
        co_return answer;
    }
    bool received_any = false;
    for (;;) {
        ParsedAnswer parsed = parse_answer(input_, chunked_body_);
        if (parsed.state == ParsedAnswer::State::complete) {
            answer.status = parsed.status;
            answer.body = parsed.body;
            consumed_ = parsed.size;
            // The body stays readable: closing the socket keeps input_ until the next exchange.
            if (parsed.close) {
                error_code ignored;
                socket_.close(ignored);
            }
            may_retry = false;
            co_return answer;
        }
        if (parsed.state == ParsedAnswer::State::malformed) {
            close();
            answer.error = make_error_code(boost::system::errc::protocol_error);
            may_retry = false;
            co_return answer;
        }
        std::size_t old_size = input_.size();
        input_.resize(old_size + 4096);
        auto [read_error, read] = co_await socket_.async_read_some(
            asio::buffer(input_.data() + old_size, 4096), use_nothrow);
        input_.resize(old_size + read);
        if (read_error) {
            close();
            answer.error = read_error;
            may_retry = reused && !received_any;
            co_return answer;
        }
        received_any = true;
    }
}

}  // namespace herald::bench
