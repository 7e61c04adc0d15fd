// What the embedded feed server needs from the staging store, as an interface so the server can be
// tested against an in-memory store and run against storage::StoreReader in the daemon.
//
// Threads: the feed server calls these only on its FeedStoreThread (feed_store_thread.hpp), one
// call at a time, which is what StoreReader requires; never on the io_context. read_feed() is one
// indexed range query; set_consumer_cursor() is a one-row write with an fsync that may wait for
// the writer's lock (bounded by the store's busy timeout); the server coalesces those.
// Errors: implementations throw std::exception on store failures; the server turns that into an
// Error(CODE_INTERNAL) for the one client involved (a failed cursor write is retried instead).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "feed/v1/feed.pb.h"
#include "protocols/common/clock.hpp"

namespace ami::storage {
class StoreReader;
}

namespace ami::feed {

class FeedStore {
 public:
  virtual ~FeedStore() = default;
  virtual std::uint64_t head_sequence() = 0;
  virtual std::vector<headend::feed::v1::IntervalReading> read_feed(std::uint64_t after_sequence,
                                                                    std::size_t limit) = 0;
  virtual std::optional<std::uint64_t> first_sequence_collected_at_or_after(UtcSeconds t) = 0;
  virtual std::optional<std::uint64_t> consumer_cursor(std::string_view consumer) = 0;
  virtual void set_consumer_cursor(std::string_view consumer, std::uint64_t sequence) = 0;
};

// The daemon's FeedStore: forwards to a StoreReader the caller owns (and keeps alive).
class StoreReaderFeedStore final : public FeedStore {
 public:
  explicit StoreReaderFeedStore(storage::StoreReader& reader) : reader_(reader) {}
  std::uint64_t head_sequence() override;
  std::vector<headend::feed::v1::IntervalReading> read_feed(std::uint64_t after_sequence, std::size_t limit) override;
  std::optional<std::uint64_t> first_sequence_collected_at_or_after(UtcSeconds t) override;
  std::optional<std::uint64_t> consumer_cursor(std::string_view consumer) override;
  void set_consumer_cursor(std::string_view consumer, std::uint64_t sequence) override;

 private:
  storage::StoreReader& reader_;
};

}  // namespace ami::feed
