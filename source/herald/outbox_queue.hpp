// The buffer behind a connection's outbox channel.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include <boost/asio/experimental/channel_traits.hpp>

#include "herald/net.hpp"

namespace herald {

// A FIFO that owns no memory while it is empty. Most connections are idle most of the time, and
// a message handed to a writer that is already waiting skips the buffer altogether, so the
// buffer only holds memory during a burst and gives it back once the burst is written.
template <typename T>
class OutboxQueue {
  public:
    OutboxQueue() = default;
    OutboxQueue(OutboxQueue&& other) noexcept
        : slots_(std::exchange(other.slots_, nullptr)),
          capacity_(std::exchange(other.capacity_, 0)),
          head_(std::exchange(other.head_, 0)),
          size_(std::exchange(other.size_, 0)) {}
    OutboxQueue& operator=(OutboxQueue&& other) noexcept {
        if (this != &other) {
            clear();
            slots_ = std::exchange(other.slots_, nullptr);
            capacity_ = std::exchange(other.capacity_, 0);
            head_ = std::exchange(other.head_, 0);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    ~OutboxQueue() { clear(); }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T& front() { return slot(head_); }
    T& back() { return slot(head_ + size_ - 1); }
    T& operator[](std::size_t index) { return slot(head_ + index); }

    void push_back(T value) {
        if (size_ == capacity_) grow();
        new (&slot(head_ + size_)) T(std::move(value));
        ++size_;
    }

    void pop_front() {
        std::destroy_at(&slot(head_));
        head_ = (head_ + 1) % capacity_;
        if (--size_ == 0) release();
    }

    // Takes out the item at `index`, keeping the order of the others (the later ones move up).
    void erase(std::size_t index) {
        for (std::size_t i = index; i + 1 < size_; ++i)
            slot(head_ + i) = std::move(slot(head_ + i + 1));
        std::destroy_at(&slot(head_ + size_ - 1));
        if (--size_ == 0) release();
    }

    void clear() {
        while (size_ != 0)
            pop_front();
    }

  private:
    static constexpr std::size_t first_capacity = 4;

    T& slot(std::size_t index) { return *std::launder(slots_ + index % capacity_); }

    void grow() {
        std::size_t capacity = capacity_ == 0 ? first_capacity : capacity_ * 2;
        T* slots = std::allocator<T>().allocate(capacity);
        for (std::size_t i = 0; i < size_; ++i) {
            new (slots + i) T(std::move(slot(head_ + i)));
            std::destroy_at(&slot(head_ + i));
        }
        if (slots_ != nullptr) std::allocator<T>().deallocate(slots_, capacity_);
        slots_ = slots;
        capacity_ = capacity;
        head_ = 0;
    }

    void release() {
        std::allocator<T>().deallocate(slots_, capacity_);
        slots_ = nullptr;
        capacity_ = 0;
        head_ = 0;
    }

    T* slots_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// Channel traits that put OutboxQueue behind a channel instead of std::deque, whose empty state
// already holds an allocation of more than 500 bytes.
template <typename... Signatures>
struct OutboxChannelTraits : asio::experimental::channel_traits<Signatures...> {
    template <typename... NewSignatures>
    struct rebind {
        using other = OutboxChannelTraits<NewSignatures...>;
    };

    template <typename Element>
    struct container {
        using type = OutboxQueue<Element>;
    };
};

}  // namespace herald
