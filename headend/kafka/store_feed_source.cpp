// The staging store behind the Kafka sink's FeedSource interface.
#include "headend/kafka/feed_source.hpp"
#include "storage/store_reader.hpp"

namespace ami::kafka {
namespace {

class StoreFeedSource final : public FeedSource {
 public:
  explicit StoreFeedSource(const std::filesystem::path& database) : reader_(database) {}

  std::vector<headend::feed::v1::IntervalReading> read_feed(std::uint64_t after_sequence,
                                                            std::size_t limit) override {
    return reader_.read_feed(after_sequence, limit);
  }
  std::optional<std::uint64_t> cursor(const std::string& name) override { return reader_.consumer_cursor(name); }
  void set_cursor(const std::string& name, std::uint64_t sequence) override {
    reader_.set_consumer_cursor(name, sequence);
  }

 private:
  storage::StoreReader reader_;
};

}  // namespace

std::unique_ptr<FeedSource> make_store_feed_source(const std::filesystem::path& database) {
  return std::make_unique<StoreFeedSource>(database);
}

}  // namespace ami::kafka
