// Billing feed throughput (issue 8, target >= 200,000 intervals/s to a local consumer).
//   BM_FeedEncodeBatch/<n>:   IntervalBatch of n intervals -> bytes + varint prefix (server side).
//   BM_FeedDecodeBatch/<n>:   bytes -> DelimitedReader -> ServerMessage (consumer side).
//   BM_FeedServerLoopback/<batch>/<store>: the daemon's FeedServer on 127.0.0.1 streams 200,000
//     intervals to a consumer in this process that decodes every batch and acknowledges it (the
//     server reads and encodes on its store thread and persists the acks as the consumer's durable
//     cursor in coalesced writes). store 0 = in-memory FeedStore (the server and wire alone),
//     store 1 = the real SQLite staging store (StoreReader::read_feed and set_consumer_cursor with
//     synchronous=FULL), pre-filled through StoreWriter.
// Items are intervals. Run: see docs/PERFORMANCE.md "Billing feed".
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "feed/v1/feed.pb.h"
#include "headend/feed/feed_server.hpp"
#include "headend/feed/feed_store.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/feed/delimited.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"

namespace {

namespace v1 = headend::feed::v1;
namespace asio = ami::asio;
using namespace std::chrono;

constexpr std::size_t kStreamIntervals = 200'000;
constexpr std::size_t kMeters = 10'000;

v1::IntervalReading make_interval(std::uint64_t sequence) {
  v1::IntervalReading r;
  const auto meter = sequence % kMeters;
  const auto end = 1767571200 + static_cast<std::int64_t>(sequence / kMeters + 1) * 900;
  r.set_sequence(sequence);
  r.set_meter_id("MTR" + std::to_string(100000 + meter));
  r.set_usage_point("UP-" + std::to_string(meter));
  r.set_kind(v1::READING_KIND_FORWARD_ACTIVE_ENERGY);
  r.set_reading_type_cim("0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0");
  r.set_start_unix(end - 900);
  r.set_end_unix(end);
  r.set_value_wh(static_cast<std::int64_t>(sequence % 1000));
  r.set_register_start_wh(123'456'000);
  r.set_register_end_wh(123'456'000 + r.value_wh());
  r.set_status(v1::INTERVAL_STATUS_ACTUAL);
  r.set_version(1);
  r.set_idempotency_key(r.meter_id() + "|" + r.reading_type_cim() + "|" + std::to_string(end) + "|1");
  r.set_collected_unix_ms(end * 1000 + 1800);
  r.set_source(v1::READ_SOURCE_SCHEDULED);
  return r;
}

std::string encode_batch(std::size_t n) {
  v1::ServerMessage message;
  auto* batch = message.mutable_batch();
  batch->set_daemon_id("bench");
  for (std::size_t i = 1; i <= n; ++i) *batch->add_intervals() = make_interval(i);
  batch->set_sequence(n);
  std::string out;
  ami::feed::append_delimited(message.SerializeAsString(), out);
  return out;
}

void BM_FeedEncodeBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<v1::IntervalReading> rows;
  for (std::size_t i = 1; i <= n; ++i) rows.push_back(make_interval(i));
  std::string wire;
  for (auto _ : state) {
    v1::ServerMessage message;
    auto* batch = message.mutable_batch();
    batch->set_daemon_id("bench");
    for (const auto& r : rows) *batch->add_intervals() = r;
    batch->set_sequence(n);
    wire.clear();
    ami::feed::append_delimited(message.SerializeAsString(), wire);
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}
BENCHMARK(BM_FeedEncodeBatch)->Arg(100)->Arg(1000);

void BM_FeedDecodeBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto wire = encode_batch(n);
  for (auto _ : state) {
    ami::feed::DelimitedReader reader(64 * 1024 * 1024);
    reader.feed(wire);
    std::string_view payload;
    if (reader.next(payload) != ami::feed::DelimitedReader::Status::message) state.SkipWithError("framing");
    v1::ServerMessage message;
    if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) state.SkipWithError("parse");
    benchmark::DoNotOptimize(message.batch().intervals_size());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}
BENCHMARK(BM_FeedDecodeBatch)->Arg(100)->Arg(1000);

// The feed server and the wire alone: rows come from memory.
class MemoryFeedStore final : public ami::feed::FeedStore {
 public:
  explicit MemoryFeedStore(std::size_t n) {
    for (std::size_t i = 1; i <= n; ++i) rows_.push_back(make_interval(i));
  }
  std::uint64_t head_sequence() override { return rows_.size(); }
  std::vector<v1::IntervalReading> read_feed(std::uint64_t after, std::size_t limit) override {
    std::vector<v1::IntervalReading> out;
    for (auto i = static_cast<std::size_t>(after); i < rows_.size() && out.size() < limit; ++i) out.push_back(rows_[i]);
    return out;
  }
  std::optional<std::uint64_t> first_sequence_collected_at_or_after(ami::UtcSeconds) override { return 1; }
  std::optional<std::uint64_t> consumer_cursor(std::string_view) override { return cursor_; }
  void set_consumer_cursor(std::string_view, std::uint64_t sequence) override { cursor_ = sequence; }

 private:
  std::vector<v1::IntervalReading> rows_;
  std::optional<std::uint64_t> cursor_;
};

std::filesystem::path filled_store() {
  static const std::filesystem::path path = [] {
    const auto p = std::filesystem::temp_directory_path() / ("ami_bench_feed_" + std::to_string(::getpid()) + ".db");
    ami::storage::StoreOptions options;
    options.path = p;
    ami::storage::StoreWriter writer(options);
    std::vector<ami::storage::MeterRecord> meters(kMeters);
    for (std::size_t i = 0; i < kMeters; ++i) {
      meters[i].meter_id = "MTR" + std::to_string(100000 + i);
      meters[i].protocol = "dlt645-2007";
      meters[i].channel = "tcp://10.0.0.1:8899";
      meters[i].address = std::to_string(100000000000 + i);
      meters[i].usage_point = "UP-" + std::to_string(i);
    }
    writer.import_meters(meters, "bench");
    auto boundary = *ami::parse_utc("2026-01-05T00:00:00Z");
    // kStreamIntervals / kMeters intervals per meter need one boundary more than that of reads.
    for (std::size_t b = 0; b <= kStreamIntervals / kMeters; ++b, boundary += minutes{15}) {
      std::vector<ami::storage::BoundaryRead> reads(kMeters);
      for (std::size_t i = 0; i < kMeters; ++i) {
        reads[i].meter_id = meters[i].meter_id;
        reads[i].boundary = boundary;
        reads[i].register_wh = static_cast<std::int64_t>(b * 250 + i % 97);
        reads[i].collected_at = ami::UtcMillis{boundary} + milliseconds{1500};
      }
      writer.submit(std::move(reads), {});
    }
    writer.flush();
    return p;
  }();
  return path;
}

// Streams every interval once to a consumer that decodes and acks each batch; returns intervals.
std::size_t consume_all(asio::io_context& io, std::uint16_t port, std::size_t expected, std::size_t window) {
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  socket.set_option(asio::ip::tcp::no_delay(true));
  v1::ClientMessage subscribe;
  subscribe.mutable_subscribe()->set_consumer("bench");
  subscribe.mutable_subscribe()->set_token("bench-token");
  subscribe.mutable_subscribe()->set_from_sequence(1);
  subscribe.mutable_subscribe()->set_max_unacked_batches(static_cast<std::uint32_t>(window));
  std::string out;
  ami::feed::append_delimited(subscribe.SerializeAsString(), out);
  asio::write(socket, asio::buffer(out));

  ami::feed::DelimitedReader reader(64 * 1024 * 1024);
  std::vector<char> buffer(256 * 1024);
  std::size_t received = 0;
  v1::ServerMessage message;
  while (received < expected) {
    const auto n = socket.read_some(asio::buffer(buffer));
    reader.feed(std::string_view(buffer.data(), n));
    std::string_view payload;
    while (reader.next(payload) == ami::feed::DelimitedReader::Status::message) {
      if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
        throw std::runtime_error("bad server message");
      if (message.has_error()) throw std::runtime_error(message.error().message());
      if (!message.has_batch()) continue;
      received += static_cast<std::size_t>(message.batch().intervals_size());
      v1::ClientMessage ack;
      ack.mutable_ack()->set_sequence(message.batch().sequence());
      out.clear();
      ami::feed::append_delimited(ack.SerializeAsString(), out);
      asio::write(socket, asio::buffer(out));
    }
  }
  return received;
}

void BM_FeedServerLoopback(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  const bool sqlite = state.range(1) != 0;
  constexpr std::size_t kWindow = 8;

  std::unique_ptr<ami::storage::StoreReader> reader;
  std::unique_ptr<ami::feed::FeedStore> store;
  if (sqlite) {
    reader = std::make_unique<ami::storage::StoreReader>(filled_store());
    store = std::make_unique<ami::feed::StoreReaderFeedStore>(*reader);
  } else {
    store = std::make_unique<MemoryFeedStore>(kStreamIntervals);
  }
  const auto available = static_cast<std::size_t>(store->head_sequence());
  if (available < kStreamIntervals) {
    state.SkipWithError("store holds fewer intervals than the benchmark streams");
    return;
  }

  asio::io_context server_io;
  ami::feed::FeedServerOptions options;
  options.daemon_id = "bench";
  options.listen_port = 0;
  options.consumers = {{"bench", "bench-token"}};
  options.batch_size = batch_size;
  options.max_unacked_batches = kWindow;
  ami::feed::FeedServer server(server_io.get_executor(), *store, options, ami::Clock::real());
  server.start();
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });

  asio::io_context client_io;
  std::size_t total = 0;
  for (auto _ : state) total += consume_all(client_io, server.port(), kStreamIntervals, kWindow);

  asio::post(server_io, [&] { server.stop(); });
  guard.reset();
  server_io.stop();
  server_thread.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  state.counters["intervals_per_s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FeedServerLoopback)
    ->ArgsProduct({{100, 1000, 5000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace
