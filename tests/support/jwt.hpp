// Test keys and tokens made with OpenSSL at run time: RS256 and ES256 signing for the tests,
// which the server itself never does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace herald::test {

struct KeyPair {
    std::string private_pem;
    std::string public_pem;
};

KeyPair generate_rsa_key();
KeyPair generate_p256_key();

std::string base64url(std::string_view bytes);

// A token with this header and these claims, signed with `private_pem` (RS256 or ES256 per
// the header's alg), or with `secret` for HS256, or unsigned for alg none.
std::string sign_token(const boost::json::object& header, const boost::json::object& claims,
                       const std::string& key);

}  // namespace herald::test
