#include "herald/access.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>

#include <boost/beast/core/string.hpp>

namespace herald {
namespace beast = boost::beast;
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
    return digest;
}

// Origins compare without regard to case (RFC 6454 serialises them lowercase, but not every
// client does).
bool host_ends_with(std::string_view host, std::string_view suffix) {
    return host.size() > suffix.size() &&
           beast::iequals(host.substr(host.size() - suffix.size()), suffix);
}

bool origin_matches(std::string_view origin, std::string_view pattern) {
    auto star = pattern.find("*.");
    if (star == std::string_view::npos) return beast::iequals(origin, pattern);
    // "*.example.com" matches any scheme; "https://*.example.com" only that one.
    std::string_view scheme = pattern.substr(0, star);
    std::string_view suffix = pattern.substr(star + 1);  // ".example.com"
    auto separator = origin.find("://");
    if (separator == std::string_view::npos) return false;
    if (!scheme.empty() && !beast::iequals(origin.substr(0, separator + 3), scheme)) return false;
    std::string_view host = origin.substr(separator + 3);
    host = host.substr(0, host.find(':'));  // without the port
    return host_ends_with(host, suffix);
}

}  // namespace

boost::system::result<Access, std::string> Access::create(const Config& config) {
    Access access;
    if (config.tokens_required()) {
        auto verifier = TokenVerifier::create(
            TokenSettings{config.token_secret, config.token_public_key_pem, config.token_audience,
                          config.token_issuer, std::chrono::seconds(30), config.token_require_exp});
        if (!verifier) return "--token-public-key: " + verifier.error();
        access.verifier_.emplace(std::move(*verifier));
    }
    // Only digests are kept: they compare in constant time whatever the keys' lengths.
    for (const auto& key : config.api_keys)
        access.api_key_digests_.push_back(sha256(key));
    access.allowed_origins_ = config.allowed_origins;
    return access;
}

boost::system::result<TokenClaims, TokenError> Access::verify_token(std::string_view token) const {
    return verifier_->verify(token, seconds_since_epoch());
}

bool Access::publisher_allowed(std::string_view authorization, std::string_view api_key) const {
    if (api_key_digests_.empty()) return true;
    std::optional<std::string_view> key = bearer_token(authorization);
    if (!key) {
        if (api_key.empty()) return false;
        key = api_key;
    }
    Digest offered = sha256(*key);
    bool allowed = false;
    // Every key is compared, so the time taken does not say which one came close.
    for (const auto& digest : api_key_digests_)
        allowed |= CRYPTO_memcmp(offered.data(), digest.data(), digest.size()) == 0;
    return allowed;
}

bool Access::origin_allowed(std::string_view origin) const {
    if (allowed_origins_.empty() || origin.empty()) return true;
    return std::any_of(allowed_origins_.begin(), allowed_origins_.end(),
                       [&](const std::string& pattern) { return origin_matches(origin, pattern); });
}

std::optional<std::string_view> bearer_token(std::string_view value) {
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size() || !beast::iequals(value.substr(0, scheme.size()), scheme))
        return std::nullopt;
    return value.substr(scheme.size());
}

}  // namespace herald
