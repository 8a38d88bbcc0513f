// A self-signed certificate made at run time, and TLS clients for the tests.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "client/client.hpp"
#include "herald/net.hpp"

namespace herald::test {

// A P-256 key and a certificate for 127.0.0.1, valid for a day, written as PEM files into a
// fresh temporary folder (removed by the destructor).
class TestCertificate {
  public:
    TestCertificate();
    ~TestCertificate();
    const std::string& certificate_file() const { return certificate_file_; }
    const std::string& key_file() const { return key_file_; }
    // A client context that trusts this certificate and nothing else.
    boost::asio::ssl::context client_context() const;

  private:
    std::string folder_, certificate_file_, key_file_, certificate_pem_;
};

using TlsWebSocket =
    boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

// TCP connect, TLS handshake (verifying the server), then the WebSocket handshake on /ws.
awaitable<TlsWebSocket> connect_wss(tcp::endpoint server, boost::asio::ssl::context& tls);

// One HTTPS request on a connection of its own.
awaitable<client::HttpResponse> https_request(tcp::endpoint server, boost::asio::ssl::context& tls,
                                              client::http::verb method, std::string target,
                                              std::string body = {});

}  // namespace herald::test
