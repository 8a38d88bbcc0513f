// Login tokens: JSON Web Tokens signed with HS256, RS256 or ES256, verified with OpenSSL.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace herald {

struct TokenSettings {
    std::string secret;               // HS256 when not empty
    std::string public_key_pem;       // RS256 (an RSA key) or ES256 (a P-256 key) when not empty
    std::string audience;             // checked when not empty
    std::string issuer;               // checked when not empty
    std::chrono::seconds leeway{30};  // clock skew allowed for exp and nbf
    bool require_exp = false;         // refuse a token without exp (the server's default is on)
};

// What a verified token says.
struct TokenClaims {
    std::string sub;                  // the uid
    std::optional<std::int64_t> exp;  // seconds since the epoch
    // When the token stops being accepted: exp plus the leeway (seconds since the epoch), what
    // a connection's expiry is held to, so that a token accepted at login is not held to less.
    std::optional<std::int64_t> accepted_until;
};

// Why a token was refused; the text is a WebSocket close reason, and never echoes the token.
enum class TokenError {
    malformed,
    unsupported_algorithm,
    bad_signature,
    expired,
    not_yet_valid,
    wrong_audience,
    wrong_issuer,
    no_sub,
    no_exp,  // a token without exp where one is required
};
std::string_view describe(TokenError error);

// Verifies tokens against the configured keys, behind an algorithm allow-list: HS256 only with
// the secret, RS256 only with an RSA public key, ES256 only with an EC public key. So `alg:none`,
// other algorithms, and HS/RS confusion (an HMAC keyed with the public key) are all refused.
// Immutable once made, so any thread may verify at once.
class TokenVerifier {
  public:
    // Loads the public key, if any. The error names what is wrong with the settings.
    static boost::system::result<TokenVerifier, std::string> create(TokenSettings settings);

    boost::system::result<TokenClaims, TokenError> verify(std::string_view token,
                                                          std::int64_t now_seconds) const;

  private:
    struct Key;
    explicit TokenVerifier(TokenSettings settings, std::shared_ptr<const Key> key);

    TokenSettings settings_;
    std::shared_ptr<const Key> public_key_;  // null without a public key
};

// Wall-clock time as JWT claims count it.
std::int64_t seconds_since_epoch();

// An HS256 token for `sub`, valid from now for `ttl`: for development, and for backends that
// mint their users' tokens.
std::string mint_hs256_token(std::string_view secret, std::string_view sub,
                             std::chrono::seconds ttl, std::int64_t now_seconds,
                             std::string_view audience = {}, std::string_view issuer = {});

}  // namespace herald
