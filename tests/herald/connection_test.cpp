// A connection's outbox as the hub fills it: the dedup rule that lets a replay and the live
// messages overlap while a client resumes.
#include "herald/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "support/run.hpp"

using namespace herald;
using herald::test::run;

namespace {

DeliveryPtr numbered(std::uint64_t seq) {
    // Appended, not "m" + std::to_string(seq): g++ 12 warns falsely (-Wrestrict) about that.
    std::string text = "m";
    text += std::to_string(seq);
    return make_delivery(make_message(boost::json::string(text)), seq, 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connection)

BOOST_AUTO_TEST_CASE(a_message_whose_seq_was_already_queued_is_dropped) {
    asio::io_context io_context;
    auto connection =
        std::make_shared<Connection>(io_context.get_executor(), 1, Login{"u", {}, Protocol::json},
                                     tcp::endpoint{}, OutboxLimits{16, 1 << 20});
    // Live messages 3 and 4 arrived first; then the replay of 2..4; then live 5.
    std::vector<Connection::Enqueued> results;
    for (std::uint64_t seq : {3, 4, 2, 3, 4, 5})
        results.push_back(connection->enqueue(numbered(seq)));
    using E = Connection::Enqueued;
    BOOST_TEST(
        (results == std::vector<E>{E::yes, E::yes, E::passed, E::passed, E::passed, E::yes}));
    run(io_context, [&]() -> awaitable<void> {
        std::vector<std::uint64_t> sent;
        for (int i = 0; i < 3; ++i) {
            auto [error, outgoing] = co_await connection->receive();
            BOOST_REQUIRE(!error);
            connection->sent(outgoing);
            sent.push_back(outgoing.message->seq);
        }
        BOOST_TEST(sent == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(a_dropped_message_takes_no_room_in_the_outbox) {
    asio::io_context io_context;
    auto connection =
        std::make_shared<Connection>(io_context.get_executor(), 1, Login{"u", {}, Protocol::seed},
                                     tcp::endpoint{}, OutboxLimits{2, 1 << 20});
    BOOST_TEST((connection->enqueue(numbered(1)) == Connection::Enqueued::yes));
    for (int i = 0; i < 10; ++i)
        BOOST_TEST((connection->enqueue(numbered(1)) == Connection::Enqueued::passed));
    BOOST_TEST((connection->enqueue(numbered(2)) == Connection::Enqueued::yes));
    BOOST_TEST((connection->enqueue(numbered(3)) == Connection::Enqueued::full));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connection_hold)

// A join in a cluster: registered first, live messages held, then the replay read from the
// store and released ahead of them, each message once and in order.
BOOST_AUTO_TEST_CASE(a_held_connection_gets_its_replay_first_then_what_came_live_once_each) {
    asio::io_context io_context;
    auto connection =
        std::make_shared<Connection>(io_context.get_executor(), 1, Login{"u", {}, Protocol::json},
                                     tcp::endpoint{}, OutboxLimits{16, 1 << 20});
    connection->hold();
    for (std::uint64_t seq : {6, 7, 8})  // live while the replay was read
        BOOST_TEST((connection->enqueue(numbered(seq)) == Connection::Enqueued::yes));
    std::vector<DeliveryPtr> replay{numbered(4), numbered(5), numbered(6), numbered(7)};
    BOOST_TEST((connection->release(replay) == Connection::Enqueued::yes));
    BOOST_TEST((connection->enqueue(numbered(9)) == Connection::Enqueued::yes));  // live again
    run(io_context, [&]() -> awaitable<void> {
        std::vector<std::uint64_t> sent;
        for (int i = 0; i < 6; ++i) {
            auto [error, outgoing] = co_await connection->receive();
            BOOST_REQUIRE(!error);
            connection->sent(outgoing);
            sent.push_back(outgoing.message->seq);
        }
        BOOST_TEST(sent == (std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9}),
                   boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(a_hold_is_bounded_like_the_outbox) {
    asio::io_context io_context;
    auto connection =
        std::make_shared<Connection>(io_context.get_executor(), 1, Login{"u", {}, Protocol::seed},
                                     tcp::endpoint{}, OutboxLimits{2, 1 << 20});
    connection->hold();
    BOOST_TEST((connection->enqueue(numbered(1)) == Connection::Enqueued::yes));
    BOOST_TEST((connection->enqueue(numbered(2)) == Connection::Enqueued::yes));
    BOOST_TEST((connection->enqueue(numbered(3)) == Connection::Enqueued::full));
}

BOOST_AUTO_TEST_CASE(after_a_stream_reset_seq_one_is_new_again) {
    asio::io_context io_context;
    auto connection =
        std::make_shared<Connection>(io_context.get_executor(), 1, Login{"u", {}, Protocol::seed},
                                     tcp::endpoint{}, OutboxLimits{16, 1 << 20});
    BOOST_TEST((connection->enqueue(numbered(5)) == Connection::Enqueued::yes));
    BOOST_TEST((connection->enqueue(numbered(1)) == Connection::Enqueued::passed));
    connection->restart_numbering();
    BOOST_TEST((connection->enqueue(numbered(1)) == Connection::Enqueued::yes));
}

BOOST_AUTO_TEST_SUITE_END()
