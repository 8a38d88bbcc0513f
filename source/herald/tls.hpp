// TLS: when --tls-cert and --tls-key are set, every connection on the port speaks TLS (https://
// and wss://), through Beast's ssl_stream over OpenSSL.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace herald {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// A server context with the certificate chain and private key of these PEM files; TLS 1.2 and
// later only. Throws std::invalid_argument naming the file that cannot be used.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(
    const std::string& certificate_chain_file, const std::string& private_key_file);

}  // namespace herald
