#include "herald/redis/reply_parser.hpp"

#include <hiredis/read.h>

#include <algorithm>
#include <new>
#include <string>
#include <utility>

#include "herald/redis/error.hpp"

namespace herald::redis {
namespace {

// The hooks below are called by hiredis's reader, C code: no exception may cross them. A null
// result tells the reader that memory ran out, which it turns into a (sticky) error.

// Puts a finished value where the reader is building: into its parent array, or, for a reply
// on its own, into a fresh root that next() takes over.
//
// Pointers into a parent's elements stay valid while the reader needs them: the reader only
// keeps pointers to the arrays still being filled, and each of those is the last element of
// its parent, which gets no new element until that child is finished.
void* place(const redisReadTask* task, Reply&& value) noexcept try {
    if (task->parent == nullptr) return new Reply(std::move(value));
    auto* parent = static_cast<Reply*>(task->parent->obj);
    // The reader fills arrays in order; anything else would mean a misunderstood reader.
    if (parent == nullptr || task->idx < 0 ||
        static_cast<std::size_t>(task->idx) != parent->elements.size())
        return nullptr;
    parent->elements.push_back(std::move(value));
    return &parent->elements.back();
} catch (const std::bad_alloc&) {
    return nullptr;
}

void* create_string(const redisReadTask* task, char* text, size_t length) noexcept try {
    Reply::Type type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
                       : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                          : Reply::Type::string;
    return place(task, Reply::with_text(type, std::string(text, length)));
} catch (const std::bad_alloc&) {
    return nullptr;
}

void* create_array(const redisReadTask* task, int count) noexcept try {
    Reply array = Reply::array({});
    // The count comes from the peer: reserve what a sane reply needs, grow past it as elements
    // really arrive.
    array.elements.reserve(static_cast<std::size_t>(std::clamp(count, 0, 1024)));
    return place(task, std::move(array));
} catch (const std::bad_alloc&) {
    return nullptr;
}

void* create_integer(const redisReadTask* task, long long value) noexcept {
    return place(task, Reply::number(value));
}

void* create_nil(const redisReadTask* task) noexcept {
    return place(task, Reply::nil());
}

// Only ever called on a root (a reply given up half-built, or left when the reader is freed);
// its elements go with it.
void free_reply(void* reply) noexcept {
    delete static_cast<Reply*>(reply);
}

redisReplyObjectFunctions reply_functions = {create_string, create_array, create_integer,
                                             create_nil, free_reply};

}  // namespace

struct ReplyParser::Reader {
    explicit Reader(std::size_t max_buffered)
        : raw(redisReaderCreateWithFunctions(&reply_functions)), max_buffered(max_buffered) {
        if (raw == nullptr) throw std::bad_alloc();
    }
    ~Reader() { redisReaderFree(raw); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    redisReader* raw;
    std::size_t max_buffered;
    // Set when Herald itself gives up on the stream (too large); hiredis's own errors are in
    // raw->err. Either is final.
    const char* own_error = nullptr;
};

ReplyParser::ReplyParser(std::size_t max_buffered_bytes)
    : reader_(std::make_unique<Reader>(max_buffered_bytes)) {}
ReplyParser::~ReplyParser() = default;
ReplyParser::ReplyParser(ReplyParser&& other) noexcept = default;
ReplyParser& ReplyParser::operator=(ReplyParser&& other) noexcept = default;

void ReplyParser::feed(std::string_view bytes) {
    if (reader_->own_error != nullptr || bytes.empty()) return;
    // A failed feed (out of memory) leaves the reader's own sticky error for next() to report.
    redisReaderFeed(reader_->raw, bytes.data(), bytes.size());
    // Bytes held but not yet consumed: the reply being built, which a peer could make grow
    // without end (a bulk string that never finishes).
    if (reader_->raw->len - reader_->raw->pos > reader_->max_buffered)
        reader_->own_error = "Reply larger than the limit";
}

boost::system::result<std::optional<Reply>> ReplyParser::next() {
    if (reader_->own_error != nullptr) return make_error_code(RedisError::protocol_error);
    void* raw_reply = nullptr;
    if (redisReaderGetReply(reader_->raw, &raw_reply) != REDIS_OK)
        return make_error_code(RedisError::protocol_error);
    if (raw_reply == nullptr) return std::optional<Reply>();
    std::unique_ptr<Reply> reply(static_cast<Reply*>(raw_reply));
    return std::optional<Reply>(std::move(*reply));
}

std::string_view ReplyParser::error_text() const {
    if (reader_->own_error != nullptr) return reader_->own_error;
    if (reader_->raw->err != 0) return reader_->raw->errstr;
    return {};
}

}  // namespace herald::redis
