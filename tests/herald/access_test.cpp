#include "herald/access.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {
Access make(Config config) {
    auto access = Access::create(config);
    BOOST_REQUIRE(access.has_value());
    return std::move(*access);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(access_rules)

BOOST_AUTO_TEST_CASE(with_nothing_configured_everything_is_open) {
    Access access = make({});
    BOOST_TEST(access.open());
    BOOST_TEST(!access.tokens_required());
    BOOST_TEST(access.publisher_allowed("", ""));
    BOOST_TEST(access.origin_allowed("https://anywhere.example"));
}

BOOST_AUTO_TEST_CASE(api_keys_come_as_bearer_or_x_api_key) {
    Config config;
    config.api_keys = {"k1", "second-key"};
    Access access = make(config);
    BOOST_TEST(!access.open());
    BOOST_TEST(access.publisher_allowed("Bearer k1", ""));
    BOOST_TEST(access.publisher_allowed("bearer second-key", ""));
    BOOST_TEST(access.publisher_allowed("", "second-key"));
    BOOST_TEST(!access.publisher_allowed("", ""));
    BOOST_TEST(!access.publisher_allowed("Bearer k", ""));
    BOOST_TEST(!access.publisher_allowed("Basic k1", ""));
    BOOST_TEST(!access.publisher_allowed("", "k1x"));
}

BOOST_AUTO_TEST_CASE(origins_match_exactly_or_by_subdomain_pattern) {
    Config config;
    config.allowed_origins = {"https://app.example.com", "*.example.org", "https://*.corp.example"};
    Access access = make(config);
    BOOST_TEST(access.origin_allowed(""));  // a non-browser client sends none
    BOOST_TEST(access.origin_allowed("https://app.example.com"));
    BOOST_TEST(access.origin_allowed("HTTPS://APP.EXAMPLE.COM"));
    BOOST_TEST(!access.origin_allowed("https://app.example.com.evil.net"));
    BOOST_TEST(!access.origin_allowed("http://app.example.com"));
    BOOST_TEST(access.origin_allowed("http://shop.example.org"));
    BOOST_TEST(access.origin_allowed("https://a.b.example.org:8443"));
    BOOST_TEST(!access.origin_allowed("https://example.org"));
    BOOST_TEST(!access.origin_allowed("https://evilexample.org"));
    BOOST_TEST(access.origin_allowed("https://hr.corp.example"));
    BOOST_TEST(!access.origin_allowed("http://hr.corp.example"));
    BOOST_TEST(!access.origin_allowed("null"));
}

BOOST_AUTO_TEST_SUITE_END()
