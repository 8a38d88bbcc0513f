#include "herald/redis/url.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald::redis;

BOOST_AUTO_TEST_SUITE(redis_url)

BOOST_AUTO_TEST_CASE(a_bare_host_gets_the_default_port_no_auth_and_database_0) {
    auto settings = parse_redis_url("redis://cache.internal");
    BOOST_REQUIRE(settings.has_value());
    BOOST_TEST(settings->host == "cache.internal");
    BOOST_TEST(settings->port == 6379);
    BOOST_TEST(settings->user.empty());
    BOOST_TEST(settings->password.empty());
    BOOST_TEST(settings->db == 0);
}

BOOST_AUTO_TEST_CASE(every_part_of_the_url_is_read) {
    auto settings = parse_redis_url("redis://herald:s3cret@10.0.0.7:6380/4");
    BOOST_REQUIRE(settings.has_value());
    BOOST_TEST(settings->host == "10.0.0.7");
    BOOST_TEST(settings->port == 6380);
    BOOST_TEST(settings->user == "herald");
    BOOST_TEST(settings->password == "s3cret");
    BOOST_TEST(settings->db == 4);
}

BOOST_AUTO_TEST_CASE(a_password_without_a_user_authenticates_the_default_user) {
    auto settings = parse_redis_url("redis://:pw@localhost:7000/");
    BOOST_REQUIRE(settings.has_value());
    BOOST_TEST(settings->user.empty());
    BOOST_TEST(settings->password == "pw");
    BOOST_TEST(settings->db == 0);
}

BOOST_AUTO_TEST_CASE(user_info_is_percent_decoded) {
    auto settings = parse_redis_url("redis://a%40b:p%3Aw%40rd@h:1");
    BOOST_REQUIRE(settings.has_value());
    BOOST_TEST(settings->user == "a@b");
    BOOST_TEST(settings->password == "p:w@rd");
}

BOOST_AUTO_TEST_CASE(an_ipv6_host_loses_its_brackets) {
    auto settings = parse_redis_url("redis://[::1]:6390");
    BOOST_REQUIRE(settings.has_value());
    BOOST_TEST(settings->host == "::1");
    BOOST_TEST(settings->port == 6390);
    BOOST_TEST(describe(*settings) == "redis://[::1]:6390");
}

BOOST_AUTO_TEST_CASE(the_password_override_replaces_the_urls_password) {
    auto with_user = parse_redis_url("redis://herald:old@h:1", std::string("from-env"));
    BOOST_REQUIRE(with_user.has_value());
    BOOST_TEST(with_user->user == "herald");
    BOOST_TEST(with_user->password == "from-env");
    auto without = parse_redis_url("redis://h:1/2", std::string("from-env"));
    BOOST_REQUIRE(without.has_value());
    BOOST_TEST(without->user.empty());
    BOOST_TEST(without->password == "from-env");
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_with_a_reason) {
    struct Case {
        std::string_view url;
        std::string_view reason;
    };
    const Case cases[] = {
        {"", "redis URL is not a valid URL"},
        {"cache:6379", "redis URL must start with redis://"},
        {"http://h:1", "redis URL must start with redis://"},
        {"rediss://h:1", "redis URL: rediss:// (TLS) is not supported"},
        {"redis://h:0", "redis URL has a bad port"},
        {"redis://h:65536", "redis URL has a bad port"},
        {"redis://h:12x", "redis URL is not a valid URL"},
        {"redis://h:1/x", "redis URL has a bad database number"},
        {"redis://h:1/-1", "redis URL has a bad database number"},
        {"redis://h:1/1/2", "redis URL has a bad database number"},
        {"redis://h:1?db=2", "redis URL must not have a query or a fragment"},
        {"redis://secret@h:1", "redis URL user info must be [user]:password"},
        {"redis:///0", "redis URL has no host"},
    };
    for (const auto& each : cases) {
        BOOST_TEST_CONTEXT("url " << each.url) {
            auto settings = parse_redis_url(each.url);
            BOOST_REQUIRE(settings.has_error());
            BOOST_TEST(settings.error() == each.reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(secrets_never_appear_in_errors_nor_in_the_description) {
    const std::string_view bad[] = {"redis://u:hunter2@h:0",     "redis://u:hunter2@h:1/x",
                                    "redis://u:hunter2@h:1?x",   "rediss://u:hunter2@h:1",
                                    "redis://hunter2@h:1",       "redis://u:hunter2@h:1#f",
                                    "redis://u:hunter2@[zz]:1/", "hunter2"};
    for (auto url : bad) {
        auto settings = parse_redis_url(url);
        BOOST_REQUIRE(settings.has_error());
        BOOST_TEST(settings.error().find("hunter2") == std::string::npos, settings.error());
    }
    auto good = parse_redis_url("redis://u:hunter2@h:1/3", std::string("env-secret"));
    BOOST_REQUIRE(good.has_value());
    BOOST_TEST(describe(*good) == "redis://u@h:1/3");
}

BOOST_AUTO_TEST_SUITE_END()
