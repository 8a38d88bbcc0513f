#include "herald/token.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "herald/close_reason.hpp"
#include "herald/protocol.hpp"

namespace herald {
namespace json = boost::json;

struct TokenVerifier::Key {
    enum class Kind { rsa, ec } kind;
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, &EVP_PKEY_free};
};

namespace {

using Bytes = std::vector<unsigned char>;

// Base64url without padding (RFC 7515), decoded by OpenSSL after the alphabet is mapped back
// to standard base64. Nothing outside the alphabet is accepted.
std::optional<Bytes> base64url_decode(std::string_view text) {
    std::string standard;
    standard.reserve(text.size() + 3);
    for (char c : text) {
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!(std::isalnum(static_cast<unsigned char>(c))))
            return std::nullopt;
        standard += c;
    }
    if (standard.size() % 4 == 1) return std::nullopt;
    std::size_t padding = (4 - standard.size() % 4) % 4;
    standard.append(padding, '=');
    Bytes decoded(standard.size() / 4 * 3 + 1);
    int length =
        EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char*>(standard.data()),
                        static_cast<int>(standard.size()));
    if (length < 0) return std::nullopt;
    decoded.resize(static_cast<std::size_t>(length) - padding);
    return decoded;
}

std::string base64url_encode(const unsigned char* data, std::size_t size) {
    std::string encoded(4 * ((size + 2) / 3) + 1, '\0');
    int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), data,
                                 static_cast<int>(size));
    encoded.resize(static_cast<std::size_t>(length));
    while (!encoded.empty() && encoded.back() == '=')
        encoded.pop_back();
    for (char& c : encoded) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return encoded;
}

std::optional<json::object> decode_json_part(std::string_view part) {
    auto bytes = base64url_decode(part);
    if (!bytes) return std::nullopt;
    boost::system::error_code error;
    json::value value = json::parse(
        std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), error);
    if (error || !value.is_object()) return std::nullopt;
    return std::move(value.as_object());
}

Bytes hmac_sha256(std::string_view key, std::string_view data) {
    Bytes mac(EVP_MAX_MD_SIZE);
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
    mac.resize(length);
    return mac;
}

bool verify_hs256(std::string_view secret, std::string_view signed_part, const Bytes& signature) {
    Bytes expected = hmac_sha256(secret, signed_part);
    // Constant time, so that the comparison tells an attacker nothing about the right MAC.
    return signature.size() == expected.size() &&
           CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

// JWS carries an ES256 signature as r || s (32 bytes each); OpenSSL verifies DER.
std::optional<Bytes> es256_signature_to_der(const Bytes& raw) {
    if (raw.size() != 64) return std::nullopt;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
    if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return std::nullopt;
    }
    int length = i2d_ECDSA_SIG(sig, nullptr);
    Bytes der(static_cast<std::size_t>(std::max(length, 0)));
    unsigned char* out = der.data();
    if (length <= 0 || i2d_ECDSA_SIG(sig, &out) != length) der.clear();
    ECDSA_SIG_free(sig);
    if (der.empty()) return std::nullopt;
    return der;
}

bool verify_with_public_key(EVP_PKEY* key, std::string_view signed_part, const Bytes& signature) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
    if (!context || EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) != 1)
        return false;
    return EVP_DigestVerify(context.get(), signature.data(), signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

// A NumericDate claim: a JSON number of seconds.
std::optional<std::int64_t> numeric_date(const json::value& value) {
    if (value.is_int64()) return value.as_int64();
    if (value.is_uint64() && value.as_uint64() <= INT64_MAX)
        return static_cast<std::int64_t>(value.as_uint64());
    if (value.is_double() && value.as_double() > -9e18 && value.as_double() < 9e18)
        return static_cast<std::int64_t>(value.as_double());
    return std::nullopt;
}

bool audience_matches(const json::value& aud, std::string_view expected) {
    if (aud.is_string()) return aud.as_string() == expected;
    if (aud.is_array())
        return std::any_of(aud.as_array().begin(), aud.as_array().end(),
                           [&](const json::value& each) {
                               return each.is_string() && each.as_string() == expected;
                           });
    return false;
}

}  // namespace

// The texts are the close table's: a refused token closes a login with the same words that an
// upgrade's 401 answers with.
std::string_view describe(TokenError error) {
    return close_reasons::token_refusal(error).reason;
}

TokenVerifier::TokenVerifier(TokenSettings settings, std::shared_ptr<const Key> key)
    : settings_(std::move(settings)), public_key_(std::move(key)) {}

boost::system::result<TokenVerifier, std::string> TokenVerifier::create(TokenSettings settings) {
    std::shared_ptr<Key> key;
    if (!settings.public_key_pem.empty()) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(
            BIO_new_mem_buf(settings.public_key_pem.data(),
                            static_cast<int>(settings.public_key_pem.size())),
            &BIO_free);
        key = std::make_shared<Key>();
        key->pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
        if (!key->pkey) return std::string("the public key is not a PEM public key");
        if (EVP_PKEY_is_a(key->pkey.get(), "RSA")) {
            key->kind = Key::Kind::rsa;
        } else if (EVP_PKEY_is_a(key->pkey.get(), "EC")) {
            char group[64] = {};
            std::size_t length = 0;
            EVP_PKEY_get_utf8_string_param(key->pkey.get(), "group", group, sizeof group, &length);
            if (std::string_view(group) != "prime256v1")
                return std::string("an EC public key must be P-256 (ES256)");
            key->kind = Key::Kind::ec;
        } else {
            return std::string("the public key must be RSA (RS256) or P-256 EC (ES256)");
        }
    }
    return TokenVerifier(std::move(settings), std::move(key));
}

boost::system::result<TokenClaims, TokenError> TokenVerifier::verify(
    std::string_view token, std::int64_t now_seconds) const {
    auto first_dot = token.find('.');
    auto second_dot =
        first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos ||
        token.find('.', second_dot + 1) != std::string_view::npos)
        return TokenError::malformed;
    std::string_view signed_part = token.substr(0, second_dot);
    auto header = decode_json_part(token.substr(0, first_dot));
    auto payload = decode_json_part(token.substr(first_dot + 1, second_dot - first_dot - 1));
    auto signature = base64url_decode(token.substr(second_dot + 1));
    if (!header || !payload || !signature) return TokenError::malformed;

    const json::value* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string()) return TokenError::malformed;
    std::string_view algorithm = alg->as_string();
    bool verified = false;
    if (algorithm == "HS256" && !settings_.secret.empty()) {
        verified = verify_hs256(settings_.secret, signed_part, *signature);
    } else if (algorithm == "RS256" && public_key_ && public_key_->kind == Key::Kind::rsa) {
        verified = verify_with_public_key(public_key_->pkey.get(), signed_part, *signature);
    } else if (algorithm == "ES256" && public_key_ && public_key_->kind == Key::Kind::ec) {
        auto der = es256_signature_to_der(*signature);
        verified = der && verify_with_public_key(public_key_->pkey.get(), signed_part, *der);
    } else {
        return TokenError::unsupported_algorithm;
    }
    if (!verified) return TokenError::bad_signature;

    // Claims are looked at only once the signature holds.
    TokenClaims claims;
    std::int64_t leeway = settings_.leeway.count();
    if (const json::value* exp = payload->if_contains("exp")) {
        claims.exp = numeric_date(*exp);
        if (!claims.exp) return TokenError::malformed;
        // Written so that an exp near the largest number cannot overflow.
        if (now_seconds - leeway > *claims.exp) return TokenError::expired;
        claims.accepted_until = *claims.exp > INT64_MAX - leeway ? INT64_MAX : *claims.exp + leeway;
    }
    if (const json::value* nbf = payload->if_contains("nbf")) {
        auto not_before = numeric_date(*nbf);
        if (!not_before) return TokenError::malformed;
        if (now_seconds + leeway < *not_before) return TokenError::not_yet_valid;
    }
    if (!settings_.audience.empty()) {
        const json::value* aud = payload->if_contains("aud");
        if (aud == nullptr || !audience_matches(*aud, settings_.audience))
            return TokenError::wrong_audience;
    }
    if (!settings_.issuer.empty()) {
        const json::value* iss = payload->if_contains("iss");
        if (iss == nullptr || !iss->is_string() || iss->as_string() != settings_.issuer)
            return TokenError::wrong_issuer;
    }
    const json::value* sub = payload->if_contains("sub");
    if (sub == nullptr || !sub->is_string() || uid_error(sub->as_string()))
        return TokenError::no_sub;
    // Looked at last, so that a token with another fault is refused for that one.
    if (settings_.require_exp && !claims.exp) return TokenError::no_exp;
    claims.sub.assign(sub->as_string());
    return claims;
}

std::int64_t seconds_since_epoch() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string mint_hs256_token(std::string_view secret, std::string_view sub,
                             std::chrono::seconds ttl, std::int64_t now_seconds,
                             std::string_view audience, std::string_view issuer) {
    json::object claims{{"sub", sub}, {"iat", now_seconds}, {"exp", now_seconds + ttl.count()}};
    if (!audience.empty()) claims["aud"] = audience;
    if (!issuer.empty()) claims["iss"] = issuer;
    std::string header = json::serialize(json::object{{"alg", "HS256"}, {"typ", "JWT"}});
    std::string payload = json::serialize(claims);
    std::string signed_part =
        base64url_encode(reinterpret_cast<const unsigned char*>(header.data()), header.size()) +
        "." +
        base64url_encode(reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
    Bytes mac = hmac_sha256(secret, signed_part);
    return signed_part + "." + base64url_encode(mac.data(), mac.size());
}

}  // namespace herald
