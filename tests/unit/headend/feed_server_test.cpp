#include <catch2/catch.hpp>

#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "headend/feed/feed_client.hpp"
#include "headend/feed/feed_server.hpp"

using namespace ami;
using namespace std::chrono_literals;
namespace v1 = headend::feed::v1;

namespace {

// An outbox in memory. The server calls it on its store thread; the test adds rows from its own
// thread, hence the mutex. Cursor writes are counted, can be made to fail, or held at a gate.
class MemoryFeedStore final : public feed::FeedStore {
 public:
  void add(int n) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      v1::IntervalReading r;
      const auto sequence = rows_.size() + 1;
      r.set_sequence(sequence);
      r.set_meter_id("m" + std::to_string(sequence % 3));
      r.set_kind(v1::READING_KIND_FORWARD_ACTIVE_ENERGY);
      r.set_start_unix(1767571200 + static_cast<std::int64_t>(sequence) * 900);
      r.set_end_unix(r.start_unix() + 900);
      r.set_value_wh(static_cast<std::int64_t>(sequence) * 10);
      r.set_status(v1::INTERVAL_STATUS_ACTUAL);
      r.set_version(1);
      r.set_collected_unix_ms(r.end_unix() * 1000 + 5000);
      rows_.push_back(r);
    }
  }
  std::uint64_t head_sequence() override {
    std::lock_guard lock(mutex_);
    return rows_.size();
  }
  std::vector<v1::IntervalReading> read_feed(std::uint64_t after, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    ++feed_reads_;
    std::vector<v1::IntervalReading> out;
    for (std::size_t i = after; i < rows_.size() && out.size() < limit; ++i) out.push_back(rows_[i]);
    return out;
  }
  std::optional<std::uint64_t> first_sequence_collected_at_or_after(UtcSeconds t) override {
    std::lock_guard lock(mutex_);
    for (const auto& r : rows_)
      if (r.collected_unix_ms() >= t.time_since_epoch().count() * 1000) return r.sequence();
    return std::nullopt;
  }
  std::optional<std::uint64_t> consumer_cursor(std::string_view consumer) override {
    std::lock_guard lock(mutex_);
    const auto it = cursors_.find(std::string(consumer));
    if (it == cursors_.end()) return std::nullopt;
    return it->second;
  }
  void set_consumer_cursor(std::string_view consumer, std::uint64_t sequence) override {
    std::unique_lock lock(mutex_);
    ++cursor_writes_;
    gate_changed_.wait(lock, [this] { return !cursor_gate_closed_; });
    if (failing_cursor_writes_ > 0) {
      --failing_cursor_writes_;
      throw std::runtime_error("disk I/O error (injected)");
    }
    if (refused_cursor_writes_ > 0) {
      --refused_cursor_writes_;
      throw std::invalid_argument("cursor beyond the head (injected)");
    }
    cursors_[std::string(consumer)] = sequence;
  }

  int cursor_writes() {
    std::lock_guard lock(mutex_);
    return cursor_writes_;
  }
  int feed_reads() {
    std::lock_guard lock(mutex_);
    return feed_reads_;
  }
  void fail_cursor_writes(int n) {
    std::lock_guard lock(mutex_);
    failing_cursor_writes_ = n;
  }
  // The store refuses the next n cursor writes as it refuses a sequence beyond its head.
  void refuse_cursor_writes(int n) {
    std::lock_guard lock(mutex_);
    refused_cursor_writes_ = n;
  }
  // While closed, a cursor write blocks (a disk that does not come back from fsync).
  void set_cursor_gate(bool closed) {
    {
      std::lock_guard lock(mutex_);
      cursor_gate_closed_ = closed;
    }
    gate_changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable gate_changed_;
  int cursor_writes_ = 0;
  int feed_reads_ = 0;
  int failing_cursor_writes_ = 0;
  int refused_cursor_writes_ = 0;
  bool cursor_gate_closed_ = false;
  std::vector<v1::IntervalReading> rows_;
  std::map<std::string, std::uint64_t> cursors_;
};

// A feed server on its own io thread, on a free loopback port.
struct ServerFixture {
  explicit ServerFixture(std::size_t window = 2, std::size_t batch = 3,
                         const std::function<void(feed::FeedServerOptions&)>& tweak = {}) {
    feed::FeedServerOptions options;
    options.daemon_id = "test-daemon";
    options.listen_port = 0;
    options.consumers = {{"billing", "s3cret"}, {"mdm", "other"}};
    options.max_unacked_batches = window;
    options.batch_size = batch;
    options.subscribe_timeout = 2s;
    options.heartbeat_interval = 200ms;
    options.max_client_message = 1024;
    if (tweak) tweak(options);
    server = std::make_unique<feed::FeedServer>(io.get_executor(), store, options,
                                                Clock::real());
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~ServerFixture() {
    store.set_cursor_gate(false);  // stop() waits for the store thread
    asio::post(io, [this] { server->stop(); });
    work.reset();
    io.stop();
    thread.join();
  }
  void publish(int n) {
    store.add(n);
    asio::post(io, [this] { server->notify_committed(store.head_sequence()); });
  }
  // Runs server->stop() on the io thread and waits for it (it writes the pending cursors).
  void stop_server() {
    std::promise<void> stopped;
    asio::post(io, [&] {
      server->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
  }
  std::unique_ptr<feed::FeedClient> client() {
    auto c = std::make_unique<feed::FeedClient>("127.0.0.1", server->port());
    c->connect(2s);
    return c;
  }

  MemoryFeedStore store;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<feed::FeedServer> server;
  std::thread thread;
};

v1::Subscribe subscribe(const std::string& consumer, const std::string& token) {
  v1::Subscribe s;
  s.set_consumer(consumer);
  s.set_token(token);
  return s;
}

// Next batch, skipping heartbeats; nullopt when none came within `timeout`.
std::optional<v1::IntervalBatch> next_batch(feed::FeedClient& c, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto m = c.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (!m) return std::nullopt;
    if (m->has_batch()) return m->batch();
    REQUIRE_FALSE(m->has_error());
  }
  return std::nullopt;
}

template <typename Predicate>
bool within_3s(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

bool wait_for_cursor(MemoryFeedStore& store, const std::string& consumer, std::uint64_t sequence) {
  return within_3s([&] { return store.consumer_cursor(consumer) == sequence; });
}

// Options for the cursor tests: when the server persists acknowledged cursors.
std::function<void(feed::FeedServerOptions&)> cursor_flush(std::chrono::milliseconds interval, std::size_t acks) {
  return [=](feed::FeedServerOptions& o) {
    o.cursor_flush_interval = interval;
    o.cursor_flush_acks = acks;
  };
}

std::unique_ptr<feed::FeedClient> subscribed_billing(ServerFixture& f) {
  auto c = f.client();
  c->subscribe(subscribe("billing", "s3cret"), 3s);
  return c;
}

v1::Error expect_error_then_close(feed::FeedClient& c) {
  const auto m = c.next(3s);
  REQUIRE(m);
  REQUIRE(m->has_error());
  CHECK_THROWS_WITH(c.next(3s), Catch::Contains("closed the connection"));
  return m->error();
}

}  // namespace

TEST_CASE("feed: unknown consumer and wrong token are refused with an Error", "[feed]") {
  ServerFixture f;
  auto a = f.client();
  CHECK_THROWS_WITH(a->subscribe(subscribe("nobody", "x"), 3s),
                    Catch::Contains("unknown consumer 'nobody'") && Catch::Contains("CODE_UNKNOWN_CONSUMER"));
  auto b = f.client();
  CHECK_THROWS_WITH(b->subscribe(subscribe("billing", "wrong"), 3s), Catch::Contains("CODE_UNAUTHORIZED"));
}

TEST_CASE("feed: batches flow in order within the window, acks move the durable cursor", "[feed]") {
  ServerFixture f(/*window=*/2, /*batch=*/3);
  f.publish(10);
  auto c = f.client();
  const auto subscribed = c->subscribe(subscribe("billing", "s3cret"), 3s);
  CHECK(subscribed.daemon_id() == "test-daemon");
  CHECK(subscribed.resume_sequence() == 1);
  CHECK(subscribed.head_sequence() == 10);

  const auto b1 = next_batch(*c, 3s);
  const auto b2 = next_batch(*c, 3s);
  REQUIRE(b1);
  REQUIRE(b2);
  CHECK(b1->intervals_size() == 3);
  CHECK(b1->intervals(0).sequence() == 1);
  CHECK(b1->sequence() == 3);
  CHECK(b2->intervals(0).sequence() == 4);
  // Window full (2 unacknowledged batches): nothing more until an ack, heartbeats only.
  CHECK_FALSE(next_batch(*c, 500ms));
  c->ack(3, 2s);
  const auto b3 = next_batch(*c, 3s);
  REQUIRE(b3);
  CHECK(b3->intervals(0).sequence() == 7);
  CHECK(wait_for_cursor(f.store, "billing", 3));
  c->ack(9, 2s);
  const auto b4 = next_batch(*c, 3s);
  REQUIRE(b4);
  CHECK(b4->intervals_size() == 1);
  CHECK(b4->sequence() == 10);
  c->ack(10, 2s);
  // New rows wake the session.
  f.publish(2);
  const auto b5 = next_batch(*c, 3s);
  REQUIRE(b5);
  CHECK(b5->intervals(0).sequence() == 11);
  c->ack(12, 2s);
  REQUIRE(wait_for_cursor(f.store, "billing", 12));
  c->close();
  // A new connection resumes after the durable cursor.
  auto again = f.client();
  CHECK(again->subscribe(subscribe("billing", "s3cret"), 3s).resume_sequence() == 13);
  CHECK_FALSE(next_batch(*again, 300ms));
  f.publish(1);
  const auto b6 = next_batch(*again, 3s);
  REQUIRE(b6);
  CHECK(b6->intervals(0).sequence() == 13);
}

TEST_CASE("feed: replay from a sequence or from a time", "[feed]") {
  ServerFixture f(4, 100);
  f.publish(6);
  auto by_sequence = f.client();
  auto s = subscribe("mdm", "other");
  s.set_from_sequence(5);
  CHECK(by_sequence->subscribe(s, 3s).resume_sequence() == 5);
  const auto batch = next_batch(*by_sequence, 3s);
  REQUIRE(batch);
  CHECK(batch->intervals_size() == 2);
  CHECK(batch->intervals(0).sequence() == 5);

  auto by_time = f.client();
  auto t = subscribe("billing", "s3cret");
  // Sequence k ends at base + (k + 1) * 900 and was collected 5 s later: 3 is the first at or after.
  t.set_from_time_unix(1767571200 + 4 * 900 + 1);
  CHECK(by_time->subscribe(t, 3s).resume_sequence() == 3);
}

TEST_CASE("feed: the store is read once per commit beyond what was sent, not again to find it empty", "[feed]") {
  ServerFixture f(/*window=*/8, /*batch=*/100);
  f.store.add(5);  // committed before the subscription: its head says how far to read
  auto c = f.client();
  REQUIRE(c->subscribe(subscribe("billing", "s3cret"), 3s).head_sequence() == 5);
  const auto first = next_batch(*c, 3s);
  REQUIRE(first);
  CHECK(first->sequence() == 5);
  f.publish(3);
  const auto second = next_batch(*c, 3s);
  REQUIRE(second);
  CHECK(second->intervals(0).sequence() == 6);
  // A notification for rows already sent (its commit was visible to the last read) reads nothing.
  asio::post(f.io, [&f] { f.server->notify_committed(8); });
  f.publish(1);  // posted after it: once its batch is here, the stale one was handled
  const auto third = next_batch(*c, 3s);
  REQUIRE(third);
  CHECK(third->intervals(0).sequence() == 9);
  CHECK(third->intervals_size() == 1);
  // One read per batch; an empty read after each batch (or for the stale notification) would
  // make this 4 or more.
  CHECK(f.store.feed_reads() == 3);
}

TEST_CASE("feed: garbage gets an Error and a close, other clients are unaffected", "[feed]") {
  ServerFixture f(4, 100);
  f.publish(2);
  auto good = f.client();
  good->subscribe(subscribe("billing", "s3cret"), 3s);
  REQUIRE(next_batch(*good, 3s));

  auto garbage = f.client();
  garbage->send_raw(std::string(6, '\xff').replace(0, 1, 1, '\x05'), 2s);  // 5 bytes that do not parse
  CHECK(expect_error_then_close(*garbage).code() == v1::Error::CODE_BAD_REQUEST);

  auto oversize = f.client();
  std::string prefix;
  feed::append_varint(1'000'000, prefix);
  oversize->send_raw(prefix, 2s);
  CHECK(expect_error_then_close(*oversize).code() == v1::Error::CODE_MESSAGE_TOO_LARGE);

  auto ack_first = f.client();
  v1::ClientMessage ack;
  ack.mutable_ack()->set_sequence(1);
  ack_first->send(ack, 2s);
  const auto e = expect_error_then_close(*ack_first);
  CHECK(e.code() == v1::Error::CODE_BAD_REQUEST);
  CHECK_THAT(e.message(), Catch::Contains("first message must be Subscribe"));

  good->ack(2, 2s);
  f.publish(1);
  const auto still = next_batch(*good, 3s);
  REQUIRE(still);
  CHECK(still->intervals(0).sequence() == 3);
}

TEST_CASE("feed: an ack beyond what was sent is a protocol error", "[feed]") {
  ServerFixture f(4, 100);
  f.publish(2);
  auto c = f.client();
  c->subscribe(subscribe("billing", "s3cret"), 3s);
  REQUIRE(next_batch(*c, 3s));
  c->ack(50, 2s);
  const auto e = expect_error_then_close(*c);
  CHECK(e.code() == v1::Error::CODE_BAD_REQUEST);
  CHECK_THAT(e.message(), Catch::Contains("Ack 50 is beyond the last sequence sent (2)"));
  CHECK_FALSE(f.store.consumer_cursor("billing"));
}

TEST_CASE("feed: a subscription from beyond the head cannot acknowledge past the head", "[feed]") {
  ServerFixture f(4, 100);
  f.publish(2);
  auto c = f.client();
  auto s = subscribe("billing", "s3cret");
  s.set_from_sequence(10);
  CHECK(c->subscribe(s, 3s).resume_sequence() == 10);
  // Sequences 3..9 do not exist yet: acknowledging them would skip them once they are committed.
  c->ack(9, 2s);
  const auto e = expect_error_then_close(*c);
  CHECK(e.code() == v1::Error::CODE_BAD_REQUEST);
  CHECK_THAT(e.message(), Catch::Contains("Ack 9 is beyond the last sequence sent (2)"));
  CHECK_FALSE(f.store.consumer_cursor("billing"));
  auto again = f.client();
  CHECK(again->subscribe(subscribe("billing", "s3cret"), 3s).resume_sequence() == 1);
}

TEST_CASE("feed: an idle subscription gets heartbeats with the head sequence", "[feed]") {
  ServerFixture f(4, 100);
  f.publish(1);
  auto c = f.client();
  c->subscribe(subscribe("billing", "s3cret"), 3s);
  REQUIRE(next_batch(*c, 3s));
  const auto m = c->next(3s);
  REQUIRE(m);
  REQUIRE(m->has_heartbeat());
  CHECK(m->heartbeat().head_sequence() == 1);
}

TEST_CASE("feed: acks are coalesced into few cursor writes, stop() persists the newest", "[feed][cursor]") {
  // No timer flush within the test: a write every 5 acks, and one at stop().
  ServerFixture f(1, 1, cursor_flush(60s, 5));
  f.publish(9);
  auto c = subscribed_billing(f);
  // Window 1: batch n+1 arrives only after the server handled the ack of batch n.
  const auto ack_through = [&](std::uint64_t last) {
    for (auto batch = next_batch(*c, 3s); batch; batch = next_batch(*c, 3s)) {
      c->ack(batch->sequence(), 2s);
      if (batch->sequence() == last) break;
    }
    const auto next = next_batch(*c, 3s);
    REQUIRE(next);
    CHECK(next->sequence() == last + 1);
    return *next;
  };
  const auto fifth = ack_through(4);
  CHECK(f.store.cursor_writes() == 0);
  CHECK_FALSE(f.store.consumer_cursor("billing"));
  c->ack(fifth.sequence(), 2s);
  CHECK(wait_for_cursor(f.store, "billing", 5));
  ack_through(8);
  CHECK(f.store.cursor_writes() == 1);  // 8 acks, one write
  CHECK(f.store.consumer_cursor("billing") == 5u);
  f.stop_server();
  CHECK(f.store.cursor_writes() == 2);
  CHECK(f.store.consumer_cursor("billing") == 8u);
}

TEST_CASE("feed: a reconnect resumes after the newest ack even before it is persisted", "[feed][cursor]") {
  ServerFixture f(4, 2, cursor_flush(60s, 100));
  f.publish(6);
  auto c = subscribed_billing(f);
  REQUIRE(next_batch(*c, 3s));
  REQUIRE(next_batch(*c, 3s));
  c->ack(4, 2s);
  REQUIRE(next_batch(*c, 3s));  // sent after the ack freed a slot: the ack was handled
  c->close();
  CHECK_FALSE(f.store.consumer_cursor("billing"));
  auto again = f.client();
  CHECK(again->subscribe(subscribe("billing", "s3cret"), 3s).resume_sequence() == 5);
}

TEST_CASE("feed: a cursor write stuck on the disk does not stall the io_context", "[feed][cursor]") {
  ServerFixture f(1, 2, cursor_flush(100ms, 1));
  f.publish(4);
  f.store.set_cursor_gate(true);
  auto c = subscribed_billing(f);
  REQUIRE(next_batch(*c, 3s));
  c->ack(2, 2s);
  REQUIRE(within_3s([&] { return f.store.cursor_writes() == 1; }));
  // The write is now blocked on the store thread. The io_context still runs handlers and answers
  // clients whose requests need no store: a refused subscription, a timer.
  auto intruder = f.client();
  CHECK_THROWS_WITH(intruder->subscribe(subscribe("billing", "wrong"), 3s), Catch::Contains("CODE_UNAUTHORIZED"));
  std::promise<void> ran;
  asio::post(f.io, [&] { ran.set_value(); });
  CHECK(ran.get_future().wait_for(3s) == std::future_status::ready);
  CHECK_FALSE(f.store.consumer_cursor("billing"));
  // The disk comes back: the cursor lands and streaming goes on.
  f.store.set_cursor_gate(false);
  CHECK(wait_for_cursor(f.store, "billing", 2));
  const auto next = next_batch(*c, 3s);
  REQUIRE(next);
  CHECK(next->intervals(0).sequence() == 3);
}

TEST_CASE("feed: a failed cursor write is retried, the consumer is not disturbed", "[feed][cursor]") {
  ServerFixture f(4, 3, cursor_flush(20ms, 1));
  f.publish(6);
  f.store.fail_cursor_writes(2);
  auto c = subscribed_billing(f);
  REQUIRE(next_batch(*c, 3s));
  c->ack(3, 2s);
  CHECK(wait_for_cursor(f.store, "billing", 3));
  CHECK(f.store.cursor_writes() >= 3);  // two failures, then the write that stuck
  const auto second = next_batch(*c, 3s);
  REQUIRE(second);
  CHECK(second->intervals(0).sequence() == 4);
}

TEST_CASE("feed: a cursor the store refuses is dropped, neither retried nor resumed from", "[feed][cursor]") {
  ServerFixture f(4, 3, cursor_flush(20ms, 1));
  f.publish(3);
  f.store.refuse_cursor_writes(1);
  auto c = subscribed_billing(f);
  REQUIRE(next_batch(*c, 3s));
  c->ack(3, 2s);
  REQUIRE(within_3s([&] { return f.store.cursor_writes() == 1; }));
  c->close();
  // Once the refusal is back on the io thread the book forgets 3: a from_cursor subscription asks
  // the store, which has no cursor, instead of resuming after a sequence that was never stored.
  CHECK(within_3s([&] {
    auto again = f.client();
    return again->subscribe(subscribe("billing", "s3cret"), 3s).resume_sequence() == 1;
  }));
  f.stop_server();  // writes whatever is still dirty: nothing
  CHECK(f.store.cursor_writes() == 1);
  CHECK_FALSE(f.store.consumer_cursor("billing"));
}

TEST_CASE("feed client: a send cut short by its timeout closes the connection", "[feed][client]") {
  // A peer that never reads: the kernel accepts the connection, the socket buffers fill up.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  feed::FeedClient c("127.0.0.1", acceptor.local_endpoint().port());
  c.connect(2s);
  const std::string big(64 * 1024 * 1024, 'x');  // far beyond what loopback buffers hold
  CHECK_THROWS_WITH(c.send_raw(big, 200ms), Catch::Contains("send timed out"));
  // Part of the bytes are on the wire: the connection is gone rather than left half-written.
  CHECK_THROWS_WITH(c.next(200ms), Catch::Contains("receive failed"));
}

TEST_CASE("feed client: messages trickling in across many next() timeouts all arrive whole", "[feed][client]") {
  // A server writing a few bytes at a time while the client polls with 1 ms timeouts: reads keep
  // completing around the deadlines, and every byte must reach the delimited reader in order.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  constexpr std::uint64_t kMessages = 300;
  std::thread server([&] {
    boost::system::error_code ignored;
    auto socket = acceptor.accept(ignored);
    std::string wire;
    for (std::uint64_t i = 1; i <= kMessages; ++i) {
      v1::ServerMessage m;
      m.mutable_heartbeat()->set_head_sequence(i);
      feed::append_delimited(m.SerializeAsString(), wire);
    }
    for (std::size_t at = 0; at < wire.size(); at += 3) {
      asio::write(socket, asio::buffer(wire.data() + at, std::min<std::size_t>(3, wire.size() - at)), ignored);
      if (ignored) return;  // the client gave up
      std::this_thread::sleep_for(50us);
    }
    std::this_thread::sleep_for(200ms);  // let the client read everything before the close
  });
  feed::FeedClient c("127.0.0.1", acceptor.local_endpoint().port());
  c.connect(2s);
  std::uint64_t expected = 1;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (expected <= kMessages && std::chrono::steady_clock::now() < give_up) {
    const auto m = c.next(1ms);
    if (!m) continue;
    if (!m->has_heartbeat() || m->heartbeat().head_sequence() != expected) break;
    ++expected;
  }
  c.close();
  server.join();
  CHECK(expected == kMessages + 1);
}
