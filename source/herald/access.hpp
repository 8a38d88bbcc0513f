// Who may do what: login tokens, API keys for publishers, and the origins allowed to open a
// WebSocket. Built once from the configuration and immutable after, so any thread may ask.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/config.hpp"
#include "herald/token.hpp"

namespace herald {

class Access {
  public:
    // The error names what is wrong with the configured keys.
    static boost::system::result<Access, std::string> create(const Config& config);

    // Dev mode: neither logins nor publishes are authenticated.
    bool open() const { return !verifier_ && api_key_digests_.empty(); }

    // Logins must carry a token.
    bool tokens_required() const { return verifier_.has_value(); }
    boost::system::result<TokenClaims, TokenError> verify_token(std::string_view token) const;

    // A publishing or admin request carries a configured key, as `Authorization: Bearer <key>`
    // or `X-API-Key: <key>` (the two header values, empty when absent); always true when no key
    // is configured.
    bool publisher_allowed(std::string_view authorization, std::string_view api_key) const;

    // The upgrade's Origin may open a WebSocket: no Origin (a non-browser client), no configured
    // list, an exact match, or a host under a `*.example.com` pattern.
    bool origin_allowed(std::string_view origin) const;

  private:
    using Digest = std::array<unsigned char, 32>;

    std::optional<TokenVerifier> verifier_;
    std::vector<Digest> api_key_digests_;
    std::vector<std::string> allowed_origins_;
};

// The token of an `Authorization: Bearer <token>` header value, if it is one.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace herald
