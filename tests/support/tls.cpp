#include "support/tls.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/system/system_error.hpp>

namespace herald::test {
namespace {

std::string pem_of(int (*write)(BIO*, const void*), const void* object) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    write(bio.get(), object);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

void throw_if(const error_code& error, const char* what) {
    if (error) throw boost::system::system_error(error, what);
}

}  // namespace

TestCertificate::TestCertificate() {
    std::string pattern = (std::filesystem::temp_directory_path() / "herald-tls-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    folder_ = pattern;
    certificate_file_ = folder_ + "/certificate.pem";
    key_file_ = folder_ + "/key.pem";

    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* certificate = X509_new();
    X509_set_version(certificate, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate), -60);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 24 * 3600);
    X509_set_pubkey(certificate, key);
    X509_NAME* name = X509_get_subject_name(certificate);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(certificate, name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "CA:TRUE"}}) {
        X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
        X509_add_ext(certificate, extension, -1);
        X509_EXTENSION_free(extension);
    }
    X509_sign(certificate, key, EVP_sha256());

    certificate_pem_ = pem_of(
        [](BIO* bio, const void* x) {
            return PEM_write_bio_X509(bio, static_cast<X509*>(const_cast<void*>(x)));
        },
        certificate);
    std::string key_pem = pem_of(
        [](BIO* bio, const void* k) {
            return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(const_cast<void*>(k)),
                                            nullptr, nullptr, 0, nullptr, nullptr);
        },
        key);
    X509_free(certificate);
    EVP_PKEY_free(key);
    std::ofstream(certificate_file_) << certificate_pem_;
    std::ofstream(key_file_) << key_pem;
}

TestCertificate::~TestCertificate() {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
}

boost::asio::ssl::context TestCertificate::client_context() const {
    boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
    context.add_certificate_authority(boost::asio::buffer(certificate_pem_));
    context.set_verify_mode(boost::asio::ssl::verify_peer);
    return context;
}

awaitable<TlsWebSocket> connect_wss(tcp::endpoint server, boost::asio::ssl::context& tls) {
    TlsWebSocket ws(co_await asio::this_coro::executor, tls);
    auto [connect_error] =
        co_await boost::beast::get_lowest_layer(ws).async_connect(server, use_nothrow);
    throw_if(connect_error, "connect");
    auto [tls_error] = co_await ws.next_layer().async_handshake(
        boost::asio::ssl::stream_base::client, use_nothrow);
    throw_if(tls_error, "TLS handshake");
    boost::beast::get_lowest_layer(ws).expires_never();
    auto [ws_error] = co_await ws.async_handshake("127.0.0.1", "/ws", use_nothrow);
    throw_if(ws_error, "websocket handshake");
    co_return ws;
}

awaitable<client::HttpResponse> https_request(tcp::endpoint server, boost::asio::ssl::context& tls,
                                              client::http::verb method, std::string target,
                                              std::string body) {
    namespace http = client::http;
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(co_await asio::this_coro::executor,
                                                              tls);
    auto [connect_error] =
        co_await boost::beast::get_lowest_layer(stream).async_connect(server, use_nothrow);
    throw_if(connect_error, "connect");
    auto [tls_error] =
        co_await stream.async_handshake(boost::asio::ssl::stream_base::client, use_nothrow);
    throw_if(tls_error, "TLS handshake");
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.body() = std::move(body);
    request.prepare_payload();
    auto [write_error, written] = co_await http::async_write(stream, request, use_nothrow);
    throw_if(write_error, "https write");
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    auto [read_error, read] = co_await http::async_read(stream, buffer, response, use_nothrow);
    throw_if(read_error, "https read");
    co_return client::HttpResponse{response.result_int(), std::move(response.body()), {}};
}

}  // namespace herald::test
