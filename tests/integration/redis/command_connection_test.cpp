// The command connection against a real redis-server: pipelining under concurrency, the
// handshake, and what a paused, killed or unreachable server does to callers.
#include "herald/redis/command_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/redis/error.hpp"
#include "support/redis_harness.hpp"
#include "support/run.hpp"
#include "support/tcp_proxy.hpp"

using namespace herald;
using namespace herald::test;
using redis::CommandConnection;
using redis::LinkEvent;
using redis::RedisError;
using redis::Reply;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

namespace {

// A connection to `settings`, owned as a server would own it, with its events logged for the
// test thread. Members in the order that makes a failed test still wind down cleanly.
struct Connected {
    explicit Connected(redis::RedisSettings settings)
        : events(test_io.get_executor()), connection(owner_io.get_executor(), std::move(settings)) {
        connection.on_event(events.handler());
        connection.start();
        owner.emplace(owner_io);
    }

    // Stops the connection; true if its io_context then ran out of work in time.
    bool stop() {
        connection.stop();
        return owner->join();
    }

    asio::io_context test_io;
    EventLog events;
    asio::io_context owner_io;
    CommandConnection connection;
    std::optional<OwnerThreads> owner;  // last: it joins the threads before the rest goes
};

awaitable<Reply> require_reply(CommandConnection& connection, redis::Command command) {
    auto reply = co_await connection.exec(std::move(command));
    BOOST_REQUIRE_MESSAGE(reply.has_value(), reply.error().message());
    co_return std::move(*reply);
}

// exec() of a command built here, so that callers need no braced list in a co_await
// expression (g++ 12 cannot keep an initializer list's array across the co_await).
template <typename... Arguments>
awaitable<boost::system::result<Reply>> ask(CommandConnection& connection,
                                            const Arguments&... arguments) {
    return connection.exec(redis::Command{std::string_view(arguments)...});
}

// Likewise, and fails the test unless a reply came.
template <typename... Arguments>
awaitable<Reply> ask_ok(CommandConnection& connection, const Arguments&... arguments) {
    return require_reply(connection, redis::Command{std::string_view(arguments)...});
}

// A batch of commands, each given as its arguments.
std::vector<redis::Command> batch_of(const std::vector<std::vector<std::string>>& commands) {
    std::vector<redis::Command> batch;
    for (const auto& arguments : commands)
        batch.emplace_back(std::span<const std::string>(arguments));
    return batch;
}

awaitable<void> require_connected(EventLog& events) {
    bool connected = co_await events.wait_for(LinkEvent::connected, seconds(5));
    BOOST_REQUIRE_MESSAGE(connected, "the connection did not come up within 5 s");
}

milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_command_connection)

BOOST_AUTO_TEST_CASE(exec_returns_every_type_of_reply_and_error_replies_with_their_text) {
    RedisServer redis;
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        auto& connection = client.connection;
        BOOST_TEST(connection.connected());
        Reply set = co_await ask_ok(connection, "SET", "greeting", "hello");
        BOOST_TEST(set == Reply::status("OK"));
        Reply get = co_await ask_ok(connection, "GET", "greeting");
        BOOST_TEST(get == Reply::string("hello"));
        Reply missing = co_await ask_ok(connection, "GET", "missing");
        BOOST_TEST(missing.is_nil());
        Reply pushed = co_await ask_ok(connection, "RPUSH", "list", "a", "b");
        BOOST_TEST(pushed == Reply::number(2));
        Reply range = co_await ask_ok(connection, "LRANGE", "list", "0", "-1");
        BOOST_TEST(range == Reply::array({Reply::string("a"), Reply::string("b")}));
        Reply unknown = co_await ask_ok(connection, "NO-SUCH-COMMAND");
        BOOST_TEST(unknown.is_error());
        BOOST_TEST(unknown.error_code() == "ERR");
        // What a caller of EVALSHA looks for before it loads the script again.
        Reply no_script =
            co_await ask_ok(connection, "EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0");
        BOOST_TEST(no_script.error_code() == "NOSCRIPT");
        // An error in a batch is one reply among the others.
        auto commands = batch_of({{"INCR", "counter"}, {"INCR", "greeting"}, {"INCR", "counter"}});
        auto batch = co_await connection.exec_all(std::move(commands));
        BOOST_REQUIRE(batch.has_value());
        BOOST_REQUIRE_EQUAL(batch->size(), 3u);
        BOOST_TEST((*batch)[0] == Reply::number(1));
        BOOST_TEST((*batch)[1].is_error());
        BOOST_TEST((*batch)[2] == Reply::number(2));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(pipelined_batches_from_many_threads_are_answered_in_order) {
    RedisServer redis;
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> { co_await require_connected(client.events); });

    // 4 threads x 8 coroutines, each appending to its own list in batches of 3: every reply
    // says the list's length, so any reply out of order or given to the wrong caller shows.
    constexpr int workers = 8, batches = 40;
    auto worker = [&](std::string key, std::vector<std::string>& failures) -> awaitable<void> {
        for (int batch = 0; batch < batches; ++batch) {
            std::vector<redis::Command> commands;
            for (int i = 0; i < 3; ++i) {
                std::string value = std::to_string(3 * batch + i);
                commands.push_back(redis::Command{"RPUSH", key, value});  // no co_await here
            }
            auto replies = co_await client.connection.exec_all(std::move(commands));
            if (!replies) {
                failures.push_back(key + ": " + replies.error().message());
                co_return;
            }
            for (int i = 0; i < 3; ++i)
                if ((*replies)[i] != Reply::number(3 * batch + i + 1)) {
                    failures.push_back(key + ": a reply out of order");
                    co_return;
                }
        }
    };
    run_on_threads(4, [&](int t, std::vector<std::string>& failures) -> awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        std::vector<decltype(asio::co_spawn(executor, worker("", failures), asio::deferred))> tasks;
        for (int w = 0; w < workers; ++w)
            tasks.push_back(
                asio::co_spawn(executor, worker(thread_uid(t, w), failures), asio::deferred));
        auto group = asio::experimental::make_parallel_group(std::move(tasks));
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    });

    // And the lists hold their values in the order they were sent.
    std::vector<Reply> expected;
    for (int i = 0; i < 3 * batches; ++i)
        expected.push_back(Reply::string(std::to_string(i)));
    for (int t = 0; t < 4; ++t)
        for (int w = 0; w < workers; ++w) {
            auto list = redis.command({"LRANGE", thread_uid(t, w), "0", "-1"});
            BOOST_REQUIRE(list.has_value());
            BOOST_TEST((list->elements == expected), "list " << thread_uid(t, w));
        }
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_password_authenticates_the_default_user) {
    RedisServer redis({.password = "s3cret"});
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        Reply who = co_await ask_ok(client.connection, "ACL", "WHOAMI");
        BOOST_TEST(who == Reply::string("default"));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_user_and_password_authenticate_an_acl_user) {
    RedisServer redis;
    auto created =
        redis.command({"ACL", "SETUSER", "alice", "on", ">wonderland", "~*", "&*", "+@all"});
    BOOST_REQUIRE(created.has_value());
    BOOST_REQUIRE(*created == Reply::status("OK"));
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.user = "alice";
    settings.password = "wonderland";
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        Reply who = co_await ask_ok(client.connection, "ACL", "WHOAMI");
        BOOST_TEST(who == Reply::string("alice"));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(the_database_is_selected_and_the_name_shows_in_client_list) {
    RedisServer redis;
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.db = 3;
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        Reply info = co_await ask_ok(client.connection, "CLIENT", "INFO");
        BOOST_TEST(info.text.find(" db=3 ") != std::string::npos, info.text);
        co_await ask_ok(client.connection, "SET", "where", "db3");
    });
    auto list = redis.command({"CLIENT", "LIST"});
    BOOST_REQUIRE(list.has_value());
    BOOST_TEST(list->text.find("name=herald-test-cmd ") != std::string::npos, list->text);
    // The admin connection is in database 0: the key is not there.
    auto in_db0 = redis.command({"GET", "where"});
    BOOST_REQUIRE(in_db0.has_value());
    BOOST_TEST(in_db0->is_nil());
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_wrong_password_never_connects_and_requests_fail_at_once) {
    RedisServer redis({.password = "right"});
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.password = "wrong";
    Connected client(settings);
    // Redis's ACL LOG records the refused AUTH: then the connection has tried (bounded poll,
    // as there is no event for "refused": the connection reports nothing until it is up).
    bool refused = false;
    for (int attempt = 0; attempt < 250 && !refused; ++attempt) {
        auto log = redis.command({"ACL", "LOG"});
        BOOST_REQUIRE(log.has_value());
        refused = !log->elements.empty();
        if (!refused) std::this_thread::sleep_for(milliseconds(20));
    }
    BOOST_REQUIRE_MESSAGE(refused, "no refused AUTH in ACL LOG");
    BOOST_TEST(!client.connection.connected());
    run(client.test_io, [&]() -> awaitable<void> {
        auto start = Clock::now();
        auto reply = co_await ask(client.connection, "PING");
        BOOST_REQUIRE(reply.has_error());
        BOOST_TEST(reply.error() == make_error_code(RedisError::not_connected));
        BOOST_TEST(since(start) < milliseconds(100));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_paused_server_times_out_everything_in_flight_then_the_link_comes_back) {
    RedisServer redis;
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        auto& connection = client.connection;
        redis.pause();

        // Five callers at once: the first reply is late, so all five fail together.
        auto start = Clock::now();
        auto executor = co_await asio::this_coro::executor;
        auto set = [&](int i) { return ask(connection, "SET", "k", std::to_string(i)); };
        std::vector<decltype(asio::co_spawn(executor, set(0), asio::deferred))> calls;
        for (int i = 0; i < 5; ++i)
            calls.push_back(asio::co_spawn(executor, set(i), asio::deferred));
        auto group = asio::experimental::make_parallel_group(std::move(calls));
        auto [order, failures, replies] =
            co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        auto took = since(start);
        for (std::size_t i = 0; i < replies.size(); ++i) {
            BOOST_REQUIRE(!failures[i]);
            BOOST_REQUIRE(replies[i].has_error());
            BOOST_TEST(replies[i].error() == make_error_code(RedisError::timeout));
        }
        BOOST_TEST(took >= milliseconds(450));
        BOOST_TEST(took < milliseconds(1500));
        bool down = co_await client.events.wait_for(LinkEvent::disconnected, seconds(2));
        BOOST_REQUIRE(down);
        BOOST_TEST(!connection.connected());

        // Down: callers hear so at once instead of queueing.
        start = Clock::now();
        auto refused = co_await ask(connection, "PING");
        BOOST_TEST(refused.error() == make_error_code(RedisError::not_connected));
        BOOST_TEST(since(start) < milliseconds(100));

        redis.resume();
        co_await require_connected(client.events);
        Reply pong = co_await ask_ok(connection, "PING");
        BOOST_TEST(pong == Reply::status("PONG"));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_killed_server_is_reconnected_after_its_restart_without_its_data) {
    RedisServer redis;
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        co_await ask_ok(client.connection, "SET", "k", "v");
        redis.kill();
        bool down = co_await client.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        redis.restart();
        co_await require_connected(client.events);
        Reply value = co_await ask_ok(client.connection, "GET", "k");
        BOOST_TEST(value.is_nil());  // no persistence: a new, empty server
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_killed_server_with_aof_comes_back_with_its_data) {
    RedisServer redis({.append_only = true});
    Connected client(fast_settings(redis.settings(), "herald-test-cmd"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        co_await ask_ok(client.connection, "SET", "k", "v");
        redis.kill();
        bool down = co_await client.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        redis.restart();
        co_await require_connected(client.events);
        Reply value = co_await ask_ok(client.connection, "GET", "k");
        BOOST_TEST(value == Reply::string("v"));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_cut_link_is_reported_and_made_again) {
    RedisServer redis;
    TcpProxy proxy(redis.port());
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.port = proxy.port();
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        proxy.cut();
        bool down = co_await client.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        co_await require_connected(client.events);
        Reply pong = co_await ask_ok(client.connection, "PING");
        BOOST_TEST(pong == Reply::status("PONG"));
        BOOST_TEST(proxy.links_accepted() == 2u);
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(an_idle_link_that_went_silent_is_noticed_by_the_health_check) {
    RedisServer redis;
    TcpProxy proxy(redis.port());
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.port = proxy.port();
    settings.health_check_interval = milliseconds(200);
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        // Nobody asks anything: only the health check can find out.
        proxy.blackhole(TcpProxy::Direction::to_client);
        auto start = Clock::now();
        bool down = co_await client.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        BOOST_TEST(since(start) < milliseconds(1500));  // interval + timeout, and some slack
        proxy.restore();
        co_await require_connected(client.events);
        Reply pong = co_await ask_ok(client.connection, "PING");
        BOOST_TEST(pong == Reply::status("PONG"));
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(requests_over_the_queue_bound_fail_at_once) {
    RedisServer redis;
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.max_queued_commands = 4;
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        auto five = batch_of({{"PING"}, {"PING"}, {"PING"}, {"PING"}, {"PING"}});
        auto too_many = co_await client.connection.exec_all(std::move(five));
        BOOST_REQUIRE(too_many.has_error());
        BOOST_TEST(too_many.error() == make_error_code(RedisError::queue_full));
        auto four = batch_of({{"PING"}, {"PING"}, {"PING"}, {"PING"}});
        auto within = co_await client.connection.exec_all(std::move(four));
        BOOST_TEST(within.has_value());
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(stop_fails_what_is_in_flight_and_lets_the_owners_run_return) {
    RedisServer redis;
    auto settings = fast_settings(redis.settings(), "herald-test-cmd");
    settings.timeout = seconds(10);  // the stop, not the timeout, must end the request
    Connected client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_connected(client.events);
        redis.pause();
        auto executor = co_await asio::this_coro::executor;
        asio::experimental::channel<void(error_code, boost::system::result<Reply>)> done(executor,
                                                                                         1);
        auto start = Clock::now();
        asio::co_spawn(executor, ask(client.connection, "PING"),
                       [&](std::exception_ptr, boost::system::result<Reply> reply) {
                           done.try_send(error_code(), std::move(reply));
                       });
        // Two turns of this io_context: the request has then been handed to the connection's
        // strand, ahead of the stop below, so it is in flight when the stop comes.
        co_await asio::post(executor, asio::use_awaitable);
        co_await asio::post(executor, asio::use_awaitable);
        client.connection.stop();
        auto [error, reply] = co_await done.async_receive(use_nothrow);
        BOOST_REQUIRE(!error);
        BOOST_REQUIRE(reply.has_error());
        BOOST_TEST(reply.error() == make_error_code(RedisError::connection_lost));
        BOOST_TEST(since(start) < seconds(2));
        redis.resume();
    });
    BOOST_TEST(client.owner->join());
}

BOOST_AUTO_TEST_SUITE_END()
