// An HTTP request as the server's router sees it: parsed by Beast with the server's limits, then
// answered by handle_request against a real hub, in memory, with no socket.
#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>

#include "herald/admission.hpp"
#include "herald/config.hpp"
#include "herald/http_api.hpp"
#include "herald/hub.hpp"
#include "herald/keep_alive.hpp"
#include "herald/local_engine.hpp"
#include "herald/metrics.hpp"

namespace {

struct Server {
    herald::Config config;
    herald::Access access = *herald::Access::create(config);
    boost::asio::io_context io_context;
    herald::Metrics metrics;
    herald::Admission admission{io_context.get_executor(), herald::admission_limits(config)};
    herald::Hub hub{io_context.get_executor(), herald::keep_alive_settings(config), metrics};
    herald::LocalEngine engine{hub, config, metrics};
    herald::AckGate ack_gate{config.max_ack_waiters};
    herald::Context context{config, access,  admission, hub,
                            engine, metrics, ack_gate,  herald::Clock::now()};
};

// One for the whole run: the hub's state carries over from input to input, as in a server.
Server& server() {
    static Server instance;
    return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace http = boost::beast::http;
    Server& s = server();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s.config.max_header_size));
    parser.body_limit(s.config.max_body);
    parser.eager(true);
    boost::system::error_code error;
    parser.put(boost::asio::buffer(data, size), error);
    if (error || !parser.is_done()) return 0;

    std::optional<herald::Response> response;
    auto answer = [](herald::Request request, herald::Context& context,
                     std::optional<herald::Response>& out) -> herald::awaitable<void> {
        out = co_await herald::handle_request(std::move(request), context);
    };
    boost::asio::co_spawn(s.io_context, answer(parser.release(), s.context, response),
                          [](std::exception_ptr failure) {
                              if (failure) __builtin_trap();  // handle_request must never throw
                          });
    s.io_context.restart();
    s.io_context.run();
    if (!response) __builtin_trap();
    // Every answer but a web page (/demo, /js/herald.js) or /metrics' text is JSON, and every error
    // says what went wrong in JSON.
    if (response->content_type() != "application/json") {
        if (response->result_int() >= 400) __builtin_trap();
        return 0;
    }
    auto body = boost::json::parse(response->body(), error);
    if (error || !body.is_object()) __builtin_trap();
    if (response->result_int() >= 400 && !body.as_object().contains("error")) __builtin_trap();
    return 0;
}
