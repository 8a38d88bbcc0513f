// A set of items looked at in rounds, a slice at a time: the hub's keep-alive walk.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace herald {

// Items are visited in rounds, a slice at a time, while items come and go between slices: an
// item that stays for a whole round is visited exactly once in it, and one added during a round
// is visited in that round or the next. Adding, removing and each visit are O(1).
//
// Intrusive: an Item keeps its own place in the walk, in a `std::size_t walk_index` member that
// only this class touches. Items must stay put while they are in the walk.
template <typename Item>
class SlicedWalk {
  public:
    std::size_t size() const { return items_.size(); }
    // No item of the current round has been visited yet.
    bool round_begins() const { return cursor_ == 0; }
    // How many rounds have ended.
    std::uint64_t rounds() const { return rounds_; }

    void add(Item& item) {
        items_.push_back(&item);
        item.walk_index = items_.size() - 1;
    }

    // The items before the cursor are the ones this round has visited, and they stay so: a
    // gap there is filled by the last visited item, and that one's place by the last item.
    void remove(Item& item) {
        std::size_t gap = item.walk_index;
        if (gap < cursor_) {
            --cursor_;
            place(gap, items_[cursor_]);
            gap = cursor_;
        }
        if (gap != items_.size() - 1) place(gap, items_.back());
        items_.pop_back();
        if (cursor_ != 0 && cursor_ >= items_.size()) end_round();  // the rest of it has gone
    }

    // Visits the round's next `count` items, fewer if the round ends first; a round ends with
    // its last item, and the next call begins a new one. `visit` must not add or remove items.
    template <typename Visit>
    void walk(std::size_t count, Visit visit) {
        std::size_t end = std::min(items_.size(), cursor_ + count);
        for (; cursor_ < end; ++cursor_)
            visit(*items_[cursor_]);
        if (cursor_ >= items_.size()) end_round();
    }

    // Every item, outside of any round.
    template <typename Visit>
    void for_each(Visit visit) const {
        for (Item* item : items_)
            visit(*item);
    }

  private:
    void end_round() {
        cursor_ = 0;
        ++rounds_;
    }

    void place(std::size_t index, Item* item) {
        items_[index] = item;
        item->walk_index = index;
    }

    std::vector<Item*> items_;
    std::size_t cursor_ = 0;
    std::uint64_t rounds_ = 0;
};

}  // namespace herald
