// FeedSource: what the Kafka sink needs from the staging store, as an interface so the sink's
// delivery logic is tested without SQLite and the daemon plugs in the real store.
//
// Ownership/threads: the sink owns its FeedSource and calls it from its own thread only.
// Errors: implementations throw (e.g. storage::SqliteError); the sink catches, records the error,
// backs off and retries, so a busy or failing disk delays publication but loses nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "feed/v1/feed.pb.h"

namespace ami::kafka {

class FeedSource {
 public:
  virtual ~FeedSource() = default;
  // Up to `limit` published intervals with sequence > after_sequence, ascending by sequence.
  virtual std::vector<headend::feed::v1::IntervalReading> read_feed(std::uint64_t after_sequence,
                                                                    std::size_t limit) = 0;
  // The durable cursor `name` (last delivered sequence), nullopt when never set.
  virtual std::optional<std::uint64_t> cursor(const std::string& name) = 0;
  // Durably stores the cursor before returning.
  virtual void set_cursor(const std::string& name, std::uint64_t sequence) = 0;
};

// The staging store (storage::StoreReader::read_feed and its consumer cursors) as a FeedSource.
// Opens its own read connection on `database`; the constructor throws like StoreReader's.
std::unique_ptr<FeedSource> make_store_feed_source(const std::filesystem::path& database);

}  // namespace ami::kafka
