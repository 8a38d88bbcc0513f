#include "herald/cluster/store_error.hpp"

#include <string>

namespace herald::cluster {
namespace {

class StoreCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "herald.cluster.store"; }

    std::string message(int value) const override {
        switch (static_cast<StoreError>(value)) {
            case StoreError::not_prepared:
                return "the stream store is not prepared on this redis link";
            case StoreError::redis_refused:
                return "redis refused the stream store's command";
            case StoreError::bad_reply:
                return "redis answered the stream store with an unexpected reply";
        }
        return "unknown stream store error";
    }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
    static const StoreCategory category;
    return category;
}

}  // namespace herald::cluster
