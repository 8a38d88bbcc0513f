#include "herald/redis/error.hpp"

#include <string>

namespace herald::redis {
namespace {

class RedisCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "herald.redis"; }

    std::string message(int value) const override {
        switch (static_cast<RedisError>(value)) {
            case RedisError::not_connected:
                return "not connected to redis";
            case RedisError::timeout:
                return "redis did not answer in time";
            case RedisError::connection_lost:
                return "the redis connection was lost";
            case RedisError::protocol_error:
                return "redis protocol error";
            case RedisError::queue_full:
                return "too many redis commands are waiting";
            case RedisError::refused:
                return "redis refused the command";
        }
        return "unknown redis error";
    }
};

}  // namespace

const boost::system::error_category& redis_category() noexcept {
    static const RedisCategory category;
    return category;
}

}  // namespace herald::redis
