#include "headend/feed/feed_store.hpp"

#include "storage/store_reader.hpp"

namespace ami::feed {

std::uint64_t StoreReaderFeedStore::head_sequence() { return reader_.head_sequence(); }

std::vector<headend::feed::v1::IntervalReading> StoreReaderFeedStore::read_feed(std::uint64_t after_sequence,
                                                                                std::size_t limit) {
  return reader_.read_feed(after_sequence, limit);
}

std::optional<std::uint64_t> StoreReaderFeedStore::first_sequence_collected_at_or_after(UtcSeconds t) {
  return reader_.first_sequence_collected_at_or_after(t);
}

std::optional<std::uint64_t> StoreReaderFeedStore::consumer_cursor(std::string_view consumer) {
  return reader_.consumer_cursor(consumer);
}

void StoreReaderFeedStore::set_consumer_cursor(std::string_view consumer, std::uint64_t sequence) {
  reader_.set_consumer_cursor(consumer, sequence);
}

}  // namespace ami::feed
