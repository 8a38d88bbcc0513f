#include "herald/tls.hpp"

#include <stdexcept>

namespace herald {

std::unique_ptr<boost::asio::ssl::context> make_tls_context(
    const std::string& certificate_chain_file, const std::string& private_key_file) {
    namespace ssl = boost::asio::ssl;
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code error;
    context->use_certificate_chain_file(certificate_chain_file, error);
    if (error)
        throw std::invalid_argument("--tls-cert: cannot use '" + certificate_chain_file +
                                    "': " + error.message());
    context->use_private_key_file(private_key_file, ssl::context::pem, error);
    if (error)
        throw std::invalid_argument("--tls-key: cannot use '" + private_key_file +
                                    "': " + error.message());
    return context;
}

}  // namespace herald
