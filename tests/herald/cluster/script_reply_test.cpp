// The scripts' replies, built by hand, as the store reads them: every shape that is not what a
// script returns is an error, never a crash nor a half-read value.
#include "herald/cluster/script_reply.hpp"

#include <boost/test/unit_test.hpp>

#include "herald/cluster/scripts.hpp"
#include "herald/cluster/store_error.hpp"

using namespace herald;
using namespace herald::cluster;
using redis::Reply;

namespace {

Reply text(std::string value) {
    return Reply::string(std::move(value));
}
Reply number(std::int64_t value) {
    return Reply::number(value);
}

Reply entry(std::string id, std::string time, std::string kind, std::string data) {
    return Reply::array({text(std::move(id)),
                         Reply::array({text("t"), text(std::move(time)), text("k"),
                                       text(std::move(kind)), text("d"), text(std::move(data))})});
}

// {epoch, seq, first kept, entries}, as the read script returns it.
Reply read_reply(std::int64_t seq, std::int64_t evicted, std::vector<Reply> entries) {
    return Reply::array(
        {text("e1"), number(seq), number(evicted), Reply::array(std::move(entries))});
}

const error_code bad_reply = make_error_code(StoreError::bad_reply);
const error_code refused = make_error_code(StoreError::redis_refused);

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_script_reply)

BOOST_AUTO_TEST_CASE(a_publish_reply_is_an_outcome) {
    auto outcome = publish_outcome(Reply::array({text("e1"), number(7), number(3), number(0)}));
    BOOST_REQUIRE(outcome.has_value());
    BOOST_TEST(outcome->epoch == "e1");
    BOOST_TEST(outcome->seq == 7u);
    BOOST_TEST(outcome->delivered == 3u);
    BOOST_TEST(!outcome->duplicate);
    auto repeated = publish_outcome(Reply::array({text("e1"), number(7), number(3), number(1)}));
    BOOST_REQUIRE(repeated.has_value());
    BOOST_TEST(repeated->duplicate);
}

BOOST_AUTO_TEST_CASE(an_error_reply_is_a_refusal_and_never_a_success) {
    Reply oom = Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    BOOST_TEST(publish_outcome(oom).error() == refused);
    BOOST_TEST(stream_read(oom, std::nullopt).error() == refused);
    BOOST_TEST(count_reply(oom).error() == refused);
    BOOST_TEST(done_reply(oom).error() == refused);
}

BOOST_AUTO_TEST_CASE(publish_replies_of_the_wrong_shape_are_bad_replies) {
    const Reply wrong[] = {
        Reply::nil(),
        Reply::status("OK"),
        number(1),
        Reply::array({}),
        Reply::array({text("e1"), number(7), number(3)}),  // a nil in Lua cuts the array short
        Reply::array({text("e1"), number(7), number(3), number(0), number(0)}),
        Reply::array({number(1), number(7), number(3), number(0)}),
        Reply::array({text(""), number(7), number(3), number(0)}),
        Reply::array({text("e1"), text("7"), number(3), number(0)}),
        Reply::array({text("e1"), number(0), number(3), number(0)}),
        Reply::array({text("e1"), number(-7), number(3), number(0)}),
        Reply::array({text("e1"), number(7), number(-1), number(0)}),
        Reply::array({text("e1"), number(7), Reply::nil(), number(0)}),
        Reply::array({text("e1"), number(7), number(3), number(2)}),
        Reply::array({Reply::error("ERR nested"), number(7), number(3), number(0)}),
    };
    for (const Reply& reply : wrong)
        BOOST_TEST(publish_outcome(reply).error() == bad_reply, reply);
}

BOOST_AUTO_TEST_CASE(a_read_reply_gives_the_position_and_the_messages_in_order) {
    auto read = stream_read(read_reply(5, 3,
                                       {entry("4-0", "1700000000001", "s", R"("four")"),
                                        entry("5-0", "1700000000002", "j", R"({"n":5})")}),
                            Since{"e1", 3});
    BOOST_REQUIRE(read.has_value());
    BOOST_TEST(read->position.epoch == "e1");
    BOOST_TEST(read->position.seq == 5u);
    BOOST_TEST((read->position.recovered == std::optional<bool>(true)));
    BOOST_REQUIRE_EQUAL(read->messages.size(), 2u);
    BOOST_TEST(read->messages[0].seq == 4u);
    BOOST_TEST(read->messages[0].time_ms == 1700000000001);
    BOOST_TEST(read->messages[0].body->text == "four");
    BOOST_TEST(read->messages[0].body->data_json == R"("four")");
    BOOST_TEST(read->messages[1].seq == 5u);
    BOOST_TEST(read->messages[1].body->text == R"({"n":5})");
}

BOOST_AUTO_TEST_CASE(a_read_without_since_says_nothing_of_recovery) {
    auto read = stream_read(read_reply(5, 0, {}), std::nullopt);
    BOOST_REQUIRE(read.has_value());
    BOOST_TEST(!read->position.recovered.has_value());
    BOOST_TEST(read->messages.empty());
}

BOOST_AUTO_TEST_CASE(recovery_follows_the_single_nodes_rule) {
    // Kept 4 and 5 of 5: 3 was evicted.
    BOOST_TEST(recovered(Since{"e1", 3}, "e1", 5, 3));
    BOOST_TEST(recovered(Since{"e1", 5}, "e1", 5, 3));
    BOOST_TEST(!recovered(Since{"e1", 2}, "e1", 5, 3));  // 3 was evicted
    BOOST_TEST(!recovered(Since{"e1", 6}, "e1", 5, 3));  // beyond the stream
    BOOST_TEST(!recovered(Since{"e0", 3}, "e1", 5, 3));  // another epoch
    // A seq without an epoch cannot prove its stream: not recovered, but seq 0 needs no proof.
    BOOST_TEST(!recovered(Since{std::nullopt, 3}, "e1", 5, 3));
    BOOST_TEST(recovered(Since{std::nullopt, 0}, "e1", 5, 0));
    BOOST_TEST(!recovered(Since{std::nullopt, 0}, "e1", 5, 3));
    // Nothing kept: only a client that has everything has missed nothing.
    // A hole that a newer message with the same key left is no loss.
    BOOST_TEST(recovered(Since{"e1", 1}, "e1", 5, 1));
    BOOST_TEST(recovered(Since{"e1", 5}, "e1", 5, 5));
    BOOST_TEST(!recovered(Since{"e1", 4}, "e1", 5, 5));
    BOOST_TEST(recovered(Since{std::nullopt, 0}, "e1", 0, 0));  // a new stream
    BOOST_TEST(!recovered(Since{"e1", 18446744073709551615u}, "e1", 5, 3));
    // And through the reply: everything evicted.
    auto read = stream_read(read_reply(5, 5, {}), Since{"e1", 5});
    BOOST_REQUIRE(read.has_value());
    BOOST_TEST((read->position.recovered == std::optional<bool>(true)));
    read = stream_read(read_reply(5, 5, {}), Since{"e1", 4});
    BOOST_REQUIRE(read.has_value());
    BOOST_TEST((read->position.recovered == std::optional<bool>(false)));
}

BOOST_AUTO_TEST_CASE(read_replies_of_the_wrong_shape_are_bad_replies) {
    const Reply good = entry("4-0", "1", "s", R"("x")");
    const Reply wrong[] = {
        Reply::nil(),
        Reply::array({text("e1"), number(5), number(4)}),
        Reply::array({text("e1"), number(5), number(4), Reply::nil()}),
        Reply::array({text("e1"), number(5), number(4), text("entries")}),
        Reply::array({number(1), number(5), number(4), Reply::array({})}),
        Reply::array({text("e1"), number(-1), number(0), Reply::array({})}),
        read_reply(5, 6, {}),                             // evicted beyond the stream
        read_reply(5, 3, {Reply::nil()}),                 // an entry that is no entry
        read_reply(5, 3, {Reply::array({text("4-0")})}),  // no fields
        read_reply(5, 3, {Reply::array({text("4-0"), text("t")})}),
        read_reply(5, 3, {Reply::array({number(4), Reply::array({})})}),
        read_reply(5, 3, {entry("4-1", "1", "s", R"("x")")}),  // not an id the script writes
        read_reply(5, 3, {entry("4", "1", "s", R"("x")")}),
        read_reply(5, 3, {entry("0-0", "1", "s", R"("x")")}),
        read_reply(5, 3, {entry("x-0", "1", "s", R"("x")")}),
        read_reply(5, 3, {entry("4-0", "soon", "s", R"("x")")}),
        read_reply(5, 3, {entry("4-0", "-1", "s", R"("x")")}),
        read_reply(5, 3, {entry("4-0", "1", "q", R"("x")")}),
        read_reply(5, 3, {entry("4-0", "1", "s", "x")}),
        read_reply(5, 3, {entry("4-0", "1", "j", R"("x")")}),
        read_reply(5, 3, {entry("6-0", "1", "s", R"("x")")}),        // beyond the stream's seq
        read_reply(5, 3, {entry("3-0", "1", "s", R"("x")")}),        // evicted already
        read_reply(5, 3, {good, good}),                              // twice
        read_reply(5, 3, {entry("5-0", "1", "s", R"("x")"), good}),  // out of order
        read_reply(5, 3,
                   {Reply::array(
                       {text("4-0"), Reply::array({text("t"), text("1"), text("k"), text("s")})})}),
        read_reply(5, 3,
                   {Reply::array({text("4-0"), Reply::array({text("t"), text("1"), text("k"),
                                                             text("s"), text("d")})})}),
        read_reply(5, 3,
                   {Reply::array({text("4-0"), Reply::array({text("t"), number(1), text("k"),
                                                             text("s"), text("d"), text("1")})})}),
    };
    for (const Reply& reply : wrong)
        BOOST_TEST(stream_read(reply, Since{"e1", 3}).error() == bad_reply, reply);
}

BOOST_AUTO_TEST_CASE(counts_and_acknowledgements_are_checked) {
    BOOST_TEST(count_reply(number(4)).value() == 4u);
    BOOST_TEST(count_reply(number(0)).value() == 0u);
    BOOST_TEST(count_reply(number(-1)).error() == bad_reply);
    BOOST_TEST(count_reply(text("4")).error() == bad_reply);
    BOOST_TEST(count_reply(Reply::nil()).error() == bad_reply);
    BOOST_TEST(done_reply(number(1)).has_value());
    BOOST_TEST(done_reply(number(0)).error() == bad_reply);
    BOOST_TEST(done_reply(Reply::status("OK")).error() == bad_reply);
}

BOOST_AUTO_TEST_CASE(a_heartbeat_reply_gives_the_live_count_and_the_dead_nodes_a_line_each) {
    auto beat = heartbeat_reply(
        Reply::array({number(2), number(0), Reply::array({text("x/1"), text("y z/2")})}));
    BOOST_REQUIRE(beat.has_value());
    BOOST_TEST(beat->heartbeat.alive == 2u);
    BOOST_TEST(!beat->heartbeat.revived);
    BOOST_TEST(beat->dead_nodes == "x/1\ny z/2\n");
    auto revived = heartbeat_reply(Reply::array({number(1), number(1), Reply::array({})}));
    BOOST_REQUIRE(revived.has_value());
    BOOST_TEST(revived->heartbeat.revived);
    BOOST_TEST(revived->dead_nodes.empty());

    BOOST_TEST(heartbeat_reply(Reply::error("OOM")).error() == refused);
    const std::vector<Reply> wrong{
        number(2),
        Reply::array({number(2), number(0)}),
        Reply::array({number(0), number(0), Reply::array({})}),  // not even itself alive
        Reply::array({number(2), number(2), Reply::array({})}),
        Reply::array({number(2), number(0), text("x")}),
        Reply::array({number(2), number(0), Reply::array({number(1)})}),
        Reply::array({number(2), number(0), Reply::array({text("")})}),
    };
    for (const Reply& reply : wrong)
        BOOST_TEST(heartbeat_reply(reply).error() == bad_reply, reply);
}

BOOST_AUTO_TEST_CASE(the_run_id_is_read_from_info_server) {
    std::string info =
        "# Server\r\nredis_version:7.0.15\r\nrun_id:858cc04051deb49fe89a3fa63ae14fc296a3ce83\r\n"
        "tcp_port:6379\r\n";
    BOOST_TEST(run_id_of(info).value() == "858cc04051deb49fe89a3fa63ae14fc296a3ce83");
    BOOST_TEST(run_id_of("# Server\r\nmaster_run_id:abc\r\nrun_id:def\r\n").value() == "def");
    BOOST_TEST(!run_id_of("# Server\r\nmaster_run_id:abc\r\n").has_value());
    BOOST_TEST(!run_id_of("run_id:\r\n").has_value());
    BOOST_TEST(!run_id_of("").has_value());
}

BOOST_AUTO_TEST_CASE(every_script_is_named_by_the_sha1_of_its_text_and_starts_with_its_flags) {
    for (std::size_t i = 0; i < script_count; ++i) {
        const Script& each = script(ScriptId(i));
        BOOST_TEST(each.sha1.size() == 40u, each.name);
        BOOST_TEST(each.text.starts_with("#!lua\n"), each.name);
    }
    BOOST_TEST(script(ScriptId::publish).name == "publish");
    BOOST_TEST(script(ScriptId::heartbeat).name == "heartbeat");
    // (That Redis names them so too, prepare() checks against SCRIPT LOAD's answers.)
    BOOST_TEST(script(ScriptId::publish).sha1 != script(ScriptId::read).sha1);
}

BOOST_AUTO_TEST_SUITE_END()
