// RESP2 bytes in, Replies out: hiredis's reader (0.14), without sockets.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include <boost/system/result.hpp>

#include "herald/redis/reply.hpp"

namespace herald::redis {

// One per connection: the reader keeps the part of a reply that has arrived so far.
//
// Errors are final: once hiredis's reader has failed (a byte that is not RESP2, arrays nested
// deeper than 7, a reply larger than `max_buffered_bytes`) it fails forever, and its
// connection must be dropped; next() keeps answering protocol_error.
//
// Replies are built straight into Herald's Reply through hiredis's reply-object hooks rather
// than converted from hiredis's own redisReply: its default array builder allocates the
// element count the peer announces (*2147483647 would ask for 16 GiB before a single element
// arrived), whereas these hooks only grow an array as its elements come.
class ReplyParser {
  public:
    explicit ReplyParser(std::size_t max_buffered_bytes = std::size_t{512} * 1024 * 1024);
    ~ReplyParser();
    ReplyParser(ReplyParser&& other) noexcept;
    ReplyParser& operator=(ReplyParser&& other) noexcept;

    // Adds bytes as they were read.
    void feed(std::string_view bytes);

    // The next whole reply; nothing while more bytes are needed; protocol_error for good.
    boost::system::result<std::optional<Reply>> next();

    // What hiredis said went wrong, once next() has failed (fixed text from hiredis, with at
    // most the one offending byte: nothing of a reply's content).
    std::string_view error_text() const;

  private:
    struct Reader;
    std::unique_ptr<Reader> reader_;
};

}  // namespace herald::redis
