// A single node's memory of Idempotency-Keys: per user, for a while, and bounded.
#include "herald/idempotency.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {
const Clock::time_point start = Clock::time_point() + 1h;
}

BOOST_AUTO_TEST_SUITE(idempotency)

BOOST_AUTO_TEST_CASE(a_key_is_remembered_per_user_until_its_ttl) {
    Idempotency remembered(1min, 100);
    remembered.remember("alice", "k", Remembered{7, 2}, start);
    auto again = remembered.find("alice", "k");
    BOOST_REQUIRE(again.has_value());
    BOOST_TEST(again->seq == 7u);
    BOOST_TEST(again->delivered == 2u);
    BOOST_TEST(!remembered.find("bob", "k").has_value());  // per user
    BOOST_TEST(!remembered.find("alice", "other").has_value());
    remembered.expire(start + 59s);
    BOOST_TEST(remembered.find("alice", "k").has_value());
    remembered.expire(start + 60s);
    BOOST_TEST(!remembered.find("alice", "k").has_value());
}

BOOST_AUTO_TEST_CASE(past_its_bound_the_oldest_keys_go_first) {
    Idempotency remembered(1h, 3);
    for (int i = 0; i < 5; ++i)
        remembered.remember("u", "k" + std::to_string(i), Remembered{std::uint64_t(i), 0},
                            start + 1s * i);
    BOOST_TEST(remembered.size() == 3u);
    BOOST_TEST(!remembered.find("u", "k0").has_value());
    BOOST_TEST(!remembered.find("u", "k1").has_value());
    BOOST_TEST(remembered.find("u", "k4").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
