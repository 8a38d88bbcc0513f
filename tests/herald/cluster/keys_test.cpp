#include "herald/cluster/keys.hpp"

#include <set>

#include <boost/test/unit_test.hpp>

using namespace herald::cluster;

namespace {

// The hash tag Redis Cluster takes from a key: between the first '{' and the first '}' after
// it, if that is not empty; else the whole key.
std::string hash_tag(const std::string& key) {
    auto open = key.find('{');
    if (open == std::string::npos) return key;
    auto close = key.find('}', open + 1);
    if (close == std::string::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_keys)

BOOST_AUTO_TEST_CASE(a_users_keys_and_channel_carry_its_uid_in_one_hash_tag) {
    UserKeys keys = user_keys("123");
    BOOST_TEST(keys.meta == "herald:{u:123}:m");
    BOOST_TEST(keys.stream == "herald:{u:123}:l");
    BOOST_TEST(keys.presence == "herald:{u:123}:p");
    BOOST_TEST(keys.channel == "herald:{u:123}:c");
    BOOST_TEST(channel_of("123") == "herald:{u:123}:c");
    BOOST_TEST(idempotency_key("123", "job-7") == "herald:{u:123}:i:6a6f622d37");
}

BOOST_AUTO_TEST_CASE(every_name_of_a_user_hashes_to_the_same_slot_whatever_its_uid) {
    for (std::string uid : {"123", "a}b", "}", "a:b:c", "{x}", "é✓", "tail}:m"}) {
        UserKeys keys = user_keys(uid);
        std::string tag = hash_tag(keys.meta);
        BOOST_TEST(hash_tag(keys.stream) == tag, uid);
        BOOST_TEST(hash_tag(keys.presence) == tag, uid);
        BOOST_TEST(hash_tag(keys.channel) == tag, uid);
        BOOST_TEST(hash_tag(idempotency_key(uid, "k")) == tag, uid);
    }
}

BOOST_AUTO_TEST_CASE(no_two_users_share_a_name_even_with_idempotency_keys_made_to_collide) {
    // "a}:i:<hex>" as a uid, against user "a" with the idempotency key whose name would be the
    // same if keys were not written in hex.
    std::set<std::string> names;
    std::size_t made = 0;
    auto add = [&](const std::string& name) {
        names.insert(name);
        ++made;
    };
    for (std::string uid : {"a", "a}:i:x", "a}:i:78", "a}:m", "a}", "a}:i:78}:m"}) {
        UserKeys keys = user_keys(uid);
        add(keys.meta);
        add(keys.stream);
        add(keys.presence);
        for (std::string key : {"x}:m", "x", "78}:m", ""})
            add(idempotency_key(uid, key));
    }
    BOOST_TEST(names.size() == made);
}

BOOST_AUTO_TEST_CASE(the_uid_of_a_channel_is_what_channel_of_was_given) {
    for (std::string uid : {"123", "a}b", "}", ":", "a:b}:c", "}:c", "{u:x}", "é✓ 名前", "x\n y"}) {
        auto back = uid_of_channel(channel_of(uid));
        BOOST_REQUIRE_MESSAGE(back.has_value(), uid);
        BOOST_TEST(*back == uid);
    }
}

BOOST_AUTO_TEST_CASE(other_names_are_no_users_channel) {
    for (std::string channel :
         {"", "herald:{u:}:c", "herald:{u:123}:m", "herald:{u:123}", "herald:{u:123}:cc",
          "herald:{x:123}:c", "other:{u:123}:c", "herald:{u:123}:l", "herald:{u:", "}:c"}) {
        BOOST_TEST(!uid_of_channel(channel).has_value(), channel);
    }
}

BOOST_AUTO_TEST_SUITE_END()
