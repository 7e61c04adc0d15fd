// The embedded feed server: publishes the outbox to billing consumers over TCP, protobuf messages
// with a varint length prefix (protocols/feed/v1/feed.proto, docs/FEED.md).
//
// Per connection: the client sends Subscribe{consumer, token, resume}; the server answers
// Subscribed (or Error and closes), then streams IntervalBatch messages in sequence order with at
// most `window` batches unacknowledged (backpressure: the server reads the next batch from the store
// only when a window slot is free, so memory stays bounded whatever the consumer does). Ack{sequence}
// frees the window slots of the batches it covers at once and becomes the consumer's durable cursor
// in a coalesced write (below). When idle the server sends a Heartbeat every heartbeat_interval.
// Bad input (garbage, an oversize length prefix, an unknown consumer, a wrong token, an Ack beyond
// what was sent, no Subscribe in time) gets an Error message and that one connection is closed;
// other clients are unaffected.
//
// Store work never runs on the io_context: every FeedStore call (outbox reads, batch encoding,
// cursor reads and writes, head lookups) runs on the server's FeedStoreThread and its result is
// posted back, so a slow disk delays the feed, not the collection engine sharing the io_context.
// Cursor durability: the newest Ack per consumer is persisted at most cursor_flush_interval after
// it arrived, or sooner once cursor_flush_acks acks are pending, and on stop(). A crash can
// therefore re-deliver what was acknowledged in roughly the last interval (at least once); it never
// skips anything, because a cursor is only ever set to a sequence the consumer acknowledged.
//
// Threads: construct, call and destroy on the io_context's thread; notify_committed(head) wakes the
// sessions after the store committed new outbox rows up to `head` (the daemon posts it from the
// writer thread); a session reads the store only if it has not read that far yet.
// stop() writes the pending cursors and joins the store thread (it blocks for that one write).
// Destroy only after the io_context has stopped running.
// Errors: the constructor throws boost::system::system_error when it cannot listen.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "headend/feed/feed_store.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::feed {

struct FeedConsumer {
  std::string name;
  std::string token;
};

struct FeedServerOptions {
  std::string daemon_id = "headend-1";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7700;  // 0: any free port (tests read port())
  std::vector<FeedConsumer> consumers;
  std::size_t max_unacked_batches = 4;  // a Subscribe may ask for fewer, never more
  std::size_t batch_size = 1000;  // intervals per IntervalBatch (~150 kB on the wire)
  std::chrono::milliseconds cursor_flush_interval{100};  // newest ack persisted at most this late
  std::size_t cursor_flush_acks = 32;                    // ... or once this many acks are pending
  std::chrono::milliseconds subscribe_timeout{10'000};
  std::chrono::milliseconds heartbeat_interval{5'000};
  std::size_t max_client_message = 64 * 1024;
};

class FeedSession;
class FeedStoreThread;
class ConsumerCursorBook;

class FeedServer {
 public:
  FeedServer(asio::any_io_executor executor, FeedStore& store, FeedServerOptions options, Clock clock);
  ~FeedServer();
  FeedServer(const FeedServer&) = delete;
  FeedServer& operator=(const FeedServer&) = delete;

  void start();  // spawns the accept loop
  void notify_committed(std::uint64_t head_sequence);
  void stop();   // closes the listener and every connection

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::size_t sessions() const;

 private:
  asio::awaitable<void> accept_loop();

  FeedServerOptions options_;
  Clock clock_;
  std::shared_ptr<FeedStoreThread> store_thread_;  // shared with the sessions
  std::shared_ptr<ConsumerCursorBook> cursors_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::weak_ptr<FeedSession>> sessions_;
  bool stopped_ = false;
};

}  // namespace ami::feed
