#include "herald/token.hpp"

#include <boost/test/unit_test.hpp>

#include "support/jwt.hpp"

using namespace herald;
using namespace herald::test;
namespace json = boost::json;

namespace {

constexpr std::int64_t now = 1'800'000'000;
const std::string secret = "correct horse battery staple";

TokenVerifier verifier(TokenSettings settings) {
    auto made = TokenVerifier::create(std::move(settings));
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made.has_value() ? "" : made.error()));
    return std::move(*made);
}

json::object hs256() {
    return {{"alg", "HS256"}, {"typ", "JWT"}};
}

TokenError refusal(const TokenVerifier& v, const std::string& token) {
    auto claims = v.verify(token, now);
    BOOST_REQUIRE(claims.has_error());
    return claims.error();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokens)

BOOST_AUTO_TEST_CASE(a_minted_hs256_token_verifies_and_names_its_sub) {
    auto v = verifier({secret});
    auto claims = v.verify(mint_hs256_token(secret, "user-7", std::chrono::seconds(60), now), now);
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(claims->sub == "user-7");
    BOOST_TEST(*claims->exp == now + 60);
}

BOOST_AUTO_TEST_CASE(a_token_without_exp_is_refused_when_exp_is_required) {
    TokenSettings strict{secret};
    strict.require_exp = true;
    auto v = verifier(strict);
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "u"}}, secret)) == TokenError::no_exp));
    BOOST_TEST(describe(TokenError::no_exp) == "token has no exp");
    // Another fault is told first.
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"name", "u"}}, secret)) == TokenError::no_sub));
    BOOST_TEST(
        v.verify(sign_token(hs256(), {{"sub", "u"}, {"exp", now + 60}}, secret), now).has_value());
    // Allowed when not required: valid for ever.
    auto lenient = verifier({secret});
    auto claims = lenient.verify(sign_token(hs256(), {{"sub", "u"}}, secret), now);
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(!claims->accepted_until.has_value());
}

BOOST_AUTO_TEST_CASE(time_claims_are_checked_with_a_small_leeway) {
    auto v = verifier({secret});
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "u"}, {"exp", now - 31}}, secret)) ==
                TokenError::expired));
    BOOST_TEST(
        v.verify(sign_token(hs256(), {{"sub", "u"}, {"exp", now - 29}}, secret), now).has_value());
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "u"}, {"nbf", now + 31}}, secret)) ==
                TokenError::not_yet_valid));
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "u"}, {"exp", "tomorrow"}}, secret)) ==
                TokenError::malformed));
    // A connection is held to the same leeway as the login: closed only once it has passed.
    auto late = v.verify(sign_token(hs256(), {{"sub", "u"}, {"exp", now - 29}}, secret), now);
    BOOST_REQUIRE(late.has_value());
    BOOST_TEST(*late->accepted_until == now + 1);
    // The largest exp there is: accepted, and no overflow on the way.
    auto forever = v.verify(sign_token(hs256(), {{"sub", "u"}, {"exp", INT64_MAX}}, secret), now);
    BOOST_REQUIRE(forever.has_value());
    BOOST_TEST(*forever->accepted_until == INT64_MAX);
}

BOOST_AUTO_TEST_CASE(audience_and_issuer_are_checked_when_configured) {
    auto v = verifier({secret, "", "push", "https://login.example.com"});
    json::object good{
        {"sub", "u"}, {"aud", json::array{"other", "push"}}, {"iss", "https://login.example.com"}};
    BOOST_TEST(v.verify(sign_token(hs256(), good, secret), now).has_value());
    BOOST_TEST(
        (refusal(v,
                 sign_token(hs256(),
                            {{"sub", "u"}, {"aud", "other"}, {"iss", "https://login.example.com"}},
                            secret)) == TokenError::wrong_audience));
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "u"}, {"aud", "push"}, {"iss", "evil"}},
                                      secret)) == TokenError::wrong_issuer));
}

BOOST_AUTO_TEST_CASE(forged_and_malformed_tokens_are_refused) {
    auto v = verifier({secret});
    std::string token = sign_token(hs256(), {{"sub", "alice"}}, secret);
    std::string forged = sign_token(hs256(), {{"sub", "alice"}}, "another secret");
    BOOST_TEST((refusal(v, forged) == TokenError::bad_signature));
    // The payload swapped for another user's, the signature kept.
    std::string swapped = token.substr(0, token.find('.') + 1) + base64url(R"({"sub":"mallory"})") +
                          token.substr(token.rfind('.'));
    BOOST_TEST((refusal(v, swapped) == TokenError::bad_signature));
    for (const std::string& bad :
         std::vector<std::string>{"", "a.b", "a.b.c.d", "!!.??.**", token + "=", "e30.e30."})
        BOOST_TEST((refusal(v, bad) == TokenError::malformed), "token " << bad);
    BOOST_TEST(
        (refusal(v, sign_token(hs256(), {{"user", "alice"}}, secret)) == TokenError::no_sub));
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", ""}}, secret)) == TokenError::no_sub));
    // A sub with a C1 control character (U+0085) names no user, as one with an ASCII control.
    BOOST_TEST(
        (refusal(v, sign_token(hs256(), {{"sub", "a\xc2\x85"}}, secret)) == TokenError::no_sub));
}

BOOST_AUTO_TEST_CASE(alg_none_and_algorithms_not_configured_are_refused) {
    auto v = verifier({secret});
    std::string none = base64url(R"({"alg":"none"})") + "." + base64url(R"({"sub":"alice"})") + ".";
    BOOST_TEST((refusal(v, none) == TokenError::unsupported_algorithm));
    BOOST_TEST((refusal(v, sign_token({{"alg", "HS512"}}, {{"sub", "a"}}, secret)) ==
                TokenError::unsupported_algorithm));
    KeyPair rsa = generate_rsa_key();
    BOOST_TEST((refusal(v, sign_token({{"alg", "RS256"}}, {{"sub", "a"}}, rsa.private_pem)) ==
                TokenError::unsupported_algorithm));
}

BOOST_AUTO_TEST_CASE(rs256_verifies_with_the_public_key_and_hs_rs_confusion_fails) {
    KeyPair rsa = generate_rsa_key();
    auto v = verifier({"", rsa.public_pem});
    auto claims = v.verify(sign_token({{"alg", "RS256"}}, {{"sub", "bob"}}, rsa.private_pem), now);
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(claims->sub == "bob");
    // An HMAC keyed with the (public) key text: the classic confusion attack.
    BOOST_TEST((refusal(v, sign_token(hs256(), {{"sub", "bob"}}, rsa.public_pem)) ==
                TokenError::unsupported_algorithm));
    KeyPair other = generate_rsa_key();
    BOOST_TEST((refusal(v, sign_token({{"alg", "RS256"}}, {{"sub", "bob"}}, other.private_pem)) ==
                TokenError::bad_signature));
    BOOST_TEST((refusal(v, sign_token({{"alg", "ES256"}}, {{"sub", "bob"}},
                                      generate_p256_key().private_pem)) ==
                TokenError::unsupported_algorithm));
}

BOOST_AUTO_TEST_CASE(es256_verifies_with_a_p256_key) {
    KeyPair ec = generate_p256_key();
    auto v = verifier({"", ec.public_pem});
    auto claims = v.verify(sign_token({{"alg", "ES256"}}, {{"sub", "carol"}}, ec.private_pem), now);
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(claims->sub == "carol");
    BOOST_TEST(
        (refusal(v, sign_token({{"alg", "ES256"}}, {{"sub", "carol"}},
                               generate_p256_key().private_pem)) == TokenError::bad_signature));
}

BOOST_AUTO_TEST_CASE(a_bad_public_key_is_refused_at_start) {
    BOOST_TEST(TokenVerifier::create({"", "not a key"}).has_error());
}

BOOST_AUTO_TEST_SUITE_END()
