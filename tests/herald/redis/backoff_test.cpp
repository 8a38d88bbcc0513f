#include "herald/redis/backoff.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald::redis;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_SUITE(redis_backoff)

BOOST_AUTO_TEST_CASE(waits_stay_under_a_bound_that_doubles_up_to_the_most) {
    Backoff backoff(milliseconds(100), milliseconds(5000), 42);
    milliseconds expected_ceiling(100);
    for (int attempt = 0; attempt < 20; ++attempt) {
        BOOST_TEST(backoff.ceiling() == expected_ceiling);
        auto wait = backoff.next();
        BOOST_TEST(wait.count() >= 0);
        BOOST_TEST(wait <= expected_ceiling);
        expected_ceiling = std::min(expected_ceiling * 2, milliseconds(5000));
    }
    BOOST_TEST(backoff.ceiling() == milliseconds(5000));
}

BOOST_AUTO_TEST_CASE(waits_are_spread_over_the_whole_range) {
    // Full jitter: at the ceiling, waits land both in the low and in the high quarter.
    Backoff backoff(milliseconds(1000), milliseconds(1000), 7);
    int low = 0, high = 0;
    for (int attempt = 0; attempt < 200; ++attempt) {
        auto wait = backoff.next();
        if (wait < milliseconds(250)) ++low;
        if (wait > milliseconds(750)) ++high;
    }
    BOOST_TEST(low > 20);
    BOOST_TEST(high > 20);
}

BOOST_AUTO_TEST_CASE(a_reset_starts_again_from_the_first_bound) {
    Backoff backoff(milliseconds(100), milliseconds(5000), 1);
    for (int attempt = 0; attempt < 10; ++attempt)
        backoff.next();
    backoff.reset();
    BOOST_TEST(backoff.ceiling() == milliseconds(100));
    BOOST_TEST(backoff.next() <= milliseconds(100));
}

BOOST_AUTO_TEST_SUITE_END()
