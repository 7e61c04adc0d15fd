// The embedded feed server: publishes the outbox to billing consumers over TCP, protobuf messages
// with a varint length prefix (protocols/feed/v1/feed.proto, docs/FEED.md).
//
// Per connection: the client sends Subscribe{consumer, token, resume}; the server answers
// Subscribed (or Error and closes), then streams IntervalBatch messages in sequence order with at
// most `window` batches unacknowledged (backpressure: the server reads the next batch from the store
// only when a window slot is free, so memory stays bounded whatever the consumer does). Ack{sequence}
// stores the consumer's durable cursor and frees the window slots of the batches it covers. When
// idle the server sends a Heartbeat every heartbeat_interval. Bad input (garbage, an oversize
// length prefix, an unknown consumer, a wrong token, an Ack beyond what was sent, no Subscribe in
// time) gets an Error message and that one connection is closed; other clients are unaffected.
//
// Threads: construct, call and destroy on the io_context's thread; notify_committed() wakes the
// sessions after the store committed new outbox rows (the daemon posts it from the writer thread).
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
  std::size_t batch_size = 100;
  std::chrono::milliseconds subscribe_timeout{10'000};
  std::chrono::milliseconds heartbeat_interval{5'000};
  std::size_t max_client_message = 64 * 1024;
};

class FeedSession;

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

  FeedStore& store_;
  FeedServerOptions options_;
  Clock clock_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::weak_ptr<FeedSession>> sessions_;
  bool stopped_ = false;
};

}  // namespace ami::feed
