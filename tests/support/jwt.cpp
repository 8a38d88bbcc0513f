#include "support/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include <boost/json/serialize.hpp>

namespace herald::test {
namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(length));
}

KeyPair export_pair(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> private_bio(BIO_new(BIO_s_mem()), &BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> public_bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PrivateKey(private_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(public_bio.get(), key);
    KeyPair pair{bio_text(private_bio.get()), bio_text(public_bio.get())};
    EVP_PKEY_free(key);
    return pair;
}

std::vector<unsigned char> sign_with_private_key(const std::string& pem, std::string_view data) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    if (!key) throw std::runtime_error("not a private key");
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
    EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get());
    std::size_t length = 0;
    auto bytes = reinterpret_cast<const unsigned char*>(data.data());
    EVP_DigestSign(context.get(), nullptr, &length, bytes, data.size());
    std::vector<unsigned char> signature(length);
    EVP_DigestSign(context.get(), signature.data(), &length, bytes, data.size());
    signature.resize(length);
    return signature;
}

// OpenSSL's ECDSA signatures are DER; JWS wants r || s, 32 bytes each.
std::vector<unsigned char> der_to_raw(const std::vector<unsigned char>& der) {
    const unsigned char* in = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size()));
    std::vector<unsigned char> raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
}

}  // namespace

KeyPair generate_rsa_key() {
    return export_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
}

KeyPair generate_p256_key() {
    return export_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

std::string base64url(std::string_view bytes) {
    std::string encoded(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                 reinterpret_cast<const unsigned char*>(bytes.data()),
                                 static_cast<int>(bytes.size()));
    encoded.resize(static_cast<std::size_t>(length));
    while (!encoded.empty() && encoded.back() == '=')
        encoded.pop_back();
    for (char& c : encoded)
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    return encoded;
}

std::string sign_token(const boost::json::object& header, const boost::json::object& claims,
                       const std::string& key) {
    std::string signed_part =
        base64url(boost::json::serialize(header)) + "." + base64url(boost::json::serialize(claims));
    std::string_view alg = header.at("alg").as_string();
    std::vector<unsigned char> signature;
    if (alg == "HS256") {
        signature.resize(EVP_MAX_MD_SIZE);
        unsigned int length = 0;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(),
             signature.data(), &length);
        signature.resize(length);
    } else if (alg == "RS256") {
        signature = sign_with_private_key(key, signed_part);
    } else if (alg == "ES256") {
        signature = der_to_raw(sign_with_private_key(key, signed_part));
    }
    return signed_part + "." +
           base64url(
               std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size()));
}

}  // namespace herald::test
