// The connection limits, and the tickets that give a place back when they go.
#include "herald/admission.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "support/run.hpp"

using namespace herald;
using herald::test::run;

namespace {

const auto here = asio::ip::make_address("127.0.0.1");
const auto there = asio::ip::make_address("10.0.0.7");

}  // namespace

BOOST_AUTO_TEST_SUITE(admission)

BOOST_AUTO_TEST_CASE(without_limits_everyone_is_admitted) {
    asio::io_context io_context;
    Admission admission(io_context.get_executor(), {0, 0});
    BOOST_TEST(!admission.limited());
    run(io_context, [&]() -> awaitable<void> {
        std::vector<Admission::Ticket> tickets;
        for (int i = 0; i < 100; ++i) {
            auto admitted = co_await admission.admit(here);
            BOOST_REQUIRE(admitted.has_value());
            tickets.push_back(std::move(*admitted));
        }
    });
}

BOOST_AUTO_TEST_CASE(the_server_limit_refuses_the_one_too_many_until_a_ticket_goes) {
    asio::io_context io_context;
    Admission admission(io_context.get_executor(), {2, 0});
    run(io_context, [&]() -> awaitable<void> {
        auto first = co_await admission.admit(here);
        auto second = co_await admission.admit(there);
        auto third = co_await admission.admit(here);
        BOOST_TEST(first.has_value());
        BOOST_TEST(second.has_value());
        BOOST_REQUIRE(third.has_error());
        BOOST_TEST((third.error() == Refusal::server_full));
        first = Admission::Ticket();  // the first connection ends
        auto fourth = co_await admission.admit(here);
        BOOST_TEST(fourth.has_value());
    });
}

BOOST_AUTO_TEST_CASE(the_address_limit_counts_each_address_apart) {
    asio::io_context io_context;
    Admission admission(io_context.get_executor(), {0, 1});
    run(io_context, [&]() -> awaitable<void> {
        auto first = co_await admission.admit(here);
        auto again = co_await admission.admit(here);
        auto other = co_await admission.admit(there);
        BOOST_TEST(first.has_value());
        BOOST_REQUIRE(again.has_error());
        BOOST_TEST((again.error() == Refusal::address_full));
        BOOST_TEST(other.has_value());
        {
            Admission::Ticket moved = std::move(*first);  // moved: given back once, by `moved`
        }
        auto after = co_await admission.admit(here);
        auto one_too_many = co_await admission.admit(here);
        BOOST_TEST(after.has_value());
        BOOST_TEST(one_too_many.has_error());
    });
}

BOOST_AUTO_TEST_SUITE_END()
