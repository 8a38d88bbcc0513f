// The keep-alive walk's bookkeeping: every item present for a whole round is visited exactly
// once in it, whatever comes and goes between slices.
#include "herald/sliced_walk.hpp"

#include <list>
#include <map>
#include <random>
#include <set>

#include <boost/test/unit_test.hpp>

using herald::SlicedWalk;

namespace {

struct Item {
    int id;
    std::size_t walk_index = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sliced_walk)

BOOST_AUTO_TEST_CASE(a_round_visits_each_item_once_in_slices) {
    std::list<Item> items;  // a list: items stay put
    SlicedWalk<Item> walk;
    for (int i = 0; i < 10; ++i)
        walk.add(items.emplace_back(Item{i}));

    std::multiset<int> visited;
    int slices = 0;
    do {
        walk.walk(3, [&](Item& item) { visited.insert(item.id); });
        ++slices;
    } while (walk.rounds() == 0);
    BOOST_TEST(walk.round_begins());
    BOOST_TEST(slices == 4);
    BOOST_TEST(visited.size() == 10u);
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(visited.count(i) == 1u);
}

BOOST_AUTO_TEST_CASE(removing_a_visited_item_mid_round_skips_and_repeats_nobody) {
    std::list<Item> items;
    SlicedWalk<Item> walk;
    std::vector<Item*> added;
    for (int i = 0; i < 6; ++i) {
        Item& item = items.emplace_back(Item{i});
        walk.add(item);
        added.push_back(&item);
    }

    std::multiset<int> visited;
    walk.walk(3, [&](Item& item) { visited.insert(item.id); });  // visits 0, 1, 2
    walk.remove(*added[0]);                                      // a visited one
    walk.remove(*added[4]);                                      // one still to come
    walk.walk(10, [&](Item& item) { visited.insert(item.id); });
    BOOST_TEST(walk.round_begins());
    BOOST_TEST(walk.size() == 4u);
    std::multiset<int> expected{0, 1, 2, 3, 5};
    BOOST_TEST(visited == expected, boost::test_tools::per_element());
}

// Random adds, removes and slices: each item present from a round's start to its end is
// visited exactly once in that round, and no item is visited after it was removed.
BOOST_AUTO_TEST_CASE(random_churn_between_slices_keeps_the_round_exact) {
    std::mt19937 random(12345);
    std::list<Item> storage;
    std::map<int, Item*> present;
    SlicedWalk<Item> walk;
    int next_id = 0;
    for (int i = 0; i < 50; ++i) {
        Item& item = storage.emplace_back(Item{next_id++});
        walk.add(item);
        present[item.id] = &item;
    }

    for (int round = 0; round < 200; ++round) {
        std::set<int> throughout;  // present for the whole round so far
        for (auto& [id, item] : present)
            throughout.insert(id);
        std::multiset<int> visited;
        bool visited_a_removed_one = false;
        std::set<int> removed;
        const std::uint64_t this_round = walk.rounds();
        for (;;) {
            std::size_t slice = 1 + random() % 7;
            walk.walk(slice, [&](Item& item) {
                visited.insert(item.id);
                if (removed.count(item.id)) visited_a_removed_one = true;
            });
            if (walk.rounds() != this_round) break;
            // Churn between slices: remove a few, then add a few.
            for (int k = random() % 4; k > 0 && !present.empty(); --k) {
                auto it = present.begin();
                std::advance(it, random() % present.size());
                walk.remove(*it->second);
                removed.insert(it->first);
                throughout.erase(it->first);
                present.erase(it);
            }
            for (int k = random() % 4; k > 0; --k) {
                Item& item = storage.emplace_back(Item{next_id++});
                walk.add(item);
                present[item.id] = &item;
            }
            if (walk.rounds() != this_round) break;  // the removals took what it had left
        }
        BOOST_TEST(!visited_a_removed_one);
        for (int id : throughout)
            BOOST_TEST(visited.count(id) == 1u, "item " << id << " in round " << round);
        for (int id : visited)
            BOOST_TEST(visited.count(id) == 1u, "item " << id << " twice in round " << round);
    }
}

BOOST_AUTO_TEST_SUITE_END()
