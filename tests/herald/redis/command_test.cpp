#include "herald/redis/command.hpp"

#include <stdexcept>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "herald/redis/handshake.hpp"

using namespace herald::redis;

namespace {

// A command's encoding, callable inside test macros (whose arguments split at bare commas).
std::string encoded(std::vector<std::string> arguments) {
    return Command(std::span<const std::string>(arguments)).wire();
}

std::string wire_of(const std::vector<Command>& commands) {
    std::string wire;
    for (const auto& command : commands)
        wire += command.wire();
    return wire;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_command)

BOOST_AUTO_TEST_CASE(a_command_is_encoded_as_an_array_of_bulk_strings) {
    BOOST_TEST(encoded({"GET", "key"}) == "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    BOOST_TEST(encoded({"PING"}) == "*1\r\n$4\r\nPING\r\n");
}

BOOST_AUTO_TEST_CASE(arguments_are_binary_safe) {
    using namespace std::string_literals;
    BOOST_TEST(encoded({"SET", "k", "a\r\n\0b"s}) ==
               "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n"s);
    BOOST_TEST(encoded({"SET", "k", ""}) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(commands_can_be_built_from_a_list_of_strings) {
    std::vector<std::string> arguments{"SUBSCRIBE", "a", "b"};
    BOOST_TEST(Command(arguments).wire() == encoded({"SUBSCRIBE", "a", "b"}));
}

BOOST_AUTO_TEST_CASE(a_command_without_a_name_is_a_bug) {
    std::vector<std::string> none;
    BOOST_CHECK_THROW(Command(std::span<const std::string>(none)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_handshake_without_settings_is_a_ping) {
    RedisSettings settings;
    BOOST_TEST(wire_of(handshake_commands(settings, true)) == encoded({"PING"}));
}

BOOST_AUTO_TEST_CASE(the_handshake_authenticates_selects_and_names_the_connection_then_pings) {
    RedisSettings settings;
    settings.user = "herald";
    settings.password = "pw";
    settings.db = 3;
    settings.client_name = "herald-a-cmd";
    std::string expected = encoded({"AUTH", "herald", "pw"}) + encoded({"SELECT", "3"}) +
                           encoded({"CLIENT", "SETNAME", "herald-a-cmd"}) + encoded({"PING"});
    BOOST_TEST(wire_of(handshake_commands(settings, true)) == expected);

    // A subscriber skips SELECT; a password alone authenticates the default user.
    settings.user.clear();
    expected = encoded({"AUTH", "pw"}) + encoded({"CLIENT", "SETNAME", "herald-a-cmd"}) +
               encoded({"PING"});
    BOOST_TEST(wire_of(handshake_commands(settings, false)) == expected);
}

BOOST_AUTO_TEST_CASE(the_first_error_of_the_handshake_is_named) {
    std::vector<Reply> good{Reply::status("OK"), Reply::status("PONG")};
    BOOST_TEST(!handshake_error(good).has_value());
    std::vector<Reply> bad{Reply::error("WRONGPASS invalid username-password pair"),
                           Reply::error("NOAUTH Authentication required.")};
    BOOST_TEST(handshake_error(bad).value() == "WRONGPASS invalid username-password pair");
}

BOOST_AUTO_TEST_SUITE_END()
