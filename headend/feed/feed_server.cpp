#include "headend/feed/feed_server.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "headend/feed/feed_store_thread.hpp"
#include "protocols/feed/delimited.hpp"

namespace ami::feed {

namespace v1 = headend::feed::v1;

// The newest acknowledged sequence of each consumer, and its coalesced persistence: an ack only
// updates memory; a write of every changed cursor goes to the store thread when `flush_acks` acks
// are pending or `flush_interval` after the first pending one. At most one write is in flight; acks
// arriving meanwhile go into the next. io_context thread only.
class ConsumerCursorBook : public std::enable_shared_from_this<ConsumerCursorBook> {
 public:
  ConsumerCursorBook(asio::any_io_executor executor, std::shared_ptr<FeedStoreThread> store_thread,
                     std::chrono::milliseconds flush_interval, std::size_t flush_acks)
      : executor_(executor),
        store_thread_(std::move(store_thread)),
        flush_interval_(flush_interval),
        flush_acks_(std::max<std::size_t>(flush_acks, 1)),
        timer_(executor) {}

  // The newest ack seen by this server (persisted or not); nullopt: ask the store.
  [[nodiscard]] std::optional<std::uint64_t> latest(const std::string& consumer) const {
    const auto it = entries_.find(consumer);
    if (it == entries_.end()) return std::nullopt;
    return it->second.sequence;
  }

  void acknowledge(const std::string& consumer, std::uint64_t sequence) {
    auto& entry = entries_[consumer];
    entry.sequence = sequence;
    entry.dirty = true;
    if (++pending_acks_ >= flush_acks_) {
      flush();
    } else {
      arm_timer();
    }
  }

  // Writes every changed cursor in one job on the store thread, whether or not a write is in
  // flight (the store thread's FIFO keeps them in order); used by stop().
  void flush_all_now() {
    timer_.cancel();
    auto dirty = take_dirty();
    if (!dirty.empty()) submit(std::move(dirty));
  }

 private:
  struct Entry {
    std::uint64_t sequence = 0;
    bool dirty = false;
  };
  using Cursors = std::vector<std::pair<std::string, std::uint64_t>>;
  struct Failure {
    std::size_t index = 0;  // into Cursors
    std::string reason;
    bool retry = true;      // false: the store refused the value (std::invalid_argument)
  };
  using Failures = std::vector<Failure>;

  void arm_timer() {
    if (timer_armed_) return;
    timer_armed_ = true;
    timer_.expires_after(flush_interval_);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->timer_armed_ = false;
      self->flush();
    });
  }

  Cursors take_dirty() {
    Cursors dirty;
    for (auto& [name, entry] : entries_) {
      if (!entry.dirty) continue;
      dirty.emplace_back(name, entry.sequence);
      entry.dirty = false;
    }
    pending_acks_ = 0;
    return dirty;
  }

  void flush() {
    if (write_in_flight_) {
      flush_again_ = true;
      return;
    }
    timer_.cancel();
    timer_armed_ = false;
    auto dirty = take_dirty();
    if (dirty.empty()) return;
    write_in_flight_ = true;
    submit(std::move(dirty));
  }

  // Failures are per consumer: one bad write does not hold back the others.
  void submit(Cursors cursors) {
    store_thread_->submit(
        executor_,
        [cursors](FeedStore& store) {
          Failures failures;
          for (std::size_t i = 0; i < cursors.size(); ++i) {
            try {
              store.set_consumer_cursor(cursors[i].first, cursors[i].second);
            } catch (const std::invalid_argument& e) {
              failures.push_back({i, e.what(), false});  // the store refuses this cursor: retrying cannot help
            } catch (const std::exception& e) {
              failures.push_back({i, e.what(), true});
            }
          }
          return failures;
        },
        [self = shared_from_this(), cursors](StoreOutcome<Failures> outcome) {
          self->write_in_flight_ = false;
          if (outcome.value) {
            for (const auto& failure : *outcome.value) {
              const auto& [consumer, sequence] = cursors[failure.index];
              if (failure.retry) {
                self->retry_later(consumer, sequence, failure.reason);
              } else {
                self->drop(consumer, sequence, failure.reason);
              }
            }
          }
          if (self->flush_again_) {
            self->flush_again_ = false;
            self->flush();
          }
        });
  }

  // A failed write is retried with the next flush unless a newer ack already replaced it.
  void retry_later(const std::string& consumer, std::uint64_t sequence, const std::string& reason) {
    spdlog::warn("feed: storing consumer '{}' cursor {} failed ({}); retrying in {} ms", consumer, sequence, reason,
                 flush_interval_.count());
    auto& entry = entries_[consumer];
    if (entry.sequence == sequence && !entry.dirty) entry.dirty = true;
    arm_timer();
  }

  // A refused cursor is forgotten unless a newer ack replaced it, so latest() no longer hands a
  // sequence the store never accepted to the next from_cursor subscription.
  void drop(const std::string& consumer, std::uint64_t sequence, const std::string& reason) {
    spdlog::error("feed: storing consumer '{}' cursor {} refused ({}); dropped", consumer, sequence, reason);
    const auto it = entries_.find(consumer);
    if (it != entries_.end() && it->second.sequence == sequence && !it->second.dirty) entries_.erase(it);
  }

  asio::any_io_executor executor_;
  std::shared_ptr<FeedStoreThread> store_thread_;
  std::chrono::milliseconds flush_interval_;
  std::size_t flush_acks_;
  asio::steady_timer timer_;
  std::map<std::string, Entry> entries_;
  std::size_t pending_acks_ = 0;
  bool timer_armed_ = false;
  bool write_in_flight_ = false;
  bool flush_again_ = false;
};

namespace {

// One batch read from the store and already encoded (varint prefix + ServerMessage) on the store thread.
struct EncodedBatch {
  std::string wire;
  std::uint64_t last_sequence = 0;  // 0: the store had nothing after the requested sequence
};

EncodedBatch read_encoded_batch(FeedStore& store, std::uint64_t after, std::size_t limit, const std::string& daemon_id,
                                const Clock& clock) {
  auto rows = store.read_feed(after, limit);
  EncodedBatch out;
  if (rows.empty()) return out;
  v1::ServerMessage message;
  auto* batch = message.mutable_batch();
  batch->set_daemon_id(daemon_id);
  batch->set_published_unix_ms(clock.now().time_since_epoch().count());
  batch->mutable_intervals()->Reserve(static_cast<int>(rows.size()));
  for (auto& row : rows) *batch->add_intervals() = std::move(row);
  out.last_sequence = batch->intervals(batch->intervals_size() - 1).sequence();
  batch->set_sequence(out.last_sequence);
  append_delimited(message.SerializeAsString(), out.wire);
  return out;
}

// Where a subscription starts, as the store thread works it out.
struct ResumePoint {
  std::uint64_t next_sequence = 1;
  std::uint64_t head_sequence = 0;
};

}  // namespace

// One consumer connection. Two coroutines share it: read_loop (Subscribe, Acks) and write_loop
// (the only writer: queued messages, in order). Both hold a shared_ptr, as does every store job in
// flight. Store results come back as handlers on the io_context; the session never blocks on them.
class FeedSession : public std::enable_shared_from_this<FeedSession> {
 public:
  FeedSession(asio::ip::tcp::socket socket, std::shared_ptr<FeedStoreThread> store_thread,
              std::shared_ptr<ConsumerCursorBook> cursors, const FeedServerOptions& options, Clock clock)
      : socket_(std::move(socket)),
        store_thread_(std::move(store_thread)),
        cursors_(std::move(cursors)),
        options_(options),
        clock_(clock),
        reader_(options.max_client_message),
        wake_(socket_.get_executor()),
        subscribed_(socket_.get_executor()),
        subscribe_timer_(socket_.get_executor()) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  }

  void start() {
    const auto executor = socket_.get_executor();
    subscribe_timer_.expires_after(options_.subscribe_timeout);
    subscribe_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->state_ != State::awaiting_subscribe) return;
      self->fail(v1::Error::CODE_BAD_REQUEST,
                 fmt::format("no Subscribe within {} ms", self->options_.subscribe_timeout.count()));
    });
    asio::co_spawn(executor, read_loop(shared_from_this()), asio::detached);
    asio::co_spawn(executor, write_loop(shared_from_this()), asio::detached);
  }

  // Outbox rows up to `head` are committed (a commit notification, or a heartbeat's head: a
  // commit by another process notifies nobody). Reads only when some of them were not read yet:
  // a commit is visible before its notification arrives, so a read may have returned it already.
  void on_committed(std::uint64_t head) {
    known_head_ = std::max(known_head_, head);
    if (head < next_sequence_) return;
    ++commits_seen_;
    caught_up_ = false;
    fetch_next_batch();
  }

  void close() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    wake_.cancel();
    subscribed_.cancel();
    subscribe_timer_.cancel();
  }

 private:
  enum class State { awaiting_subscribe, subscribing, streaming, closing, closed };

  void wake() { wake_.cancel(); }

  void queue_wire(std::string wire) {
    writes_.push_back(std::move(wire));
    wake();
  }

  void queue(const v1::ServerMessage& message) {
    std::string out;
    append_delimited(message.SerializeAsString(), out);
    queue_wire(std::move(out));
  }

  // Sends an Error, then closes once it is written. Reading stops at once.
  void fail(v1::Error::Code code, const std::string& text) {
    if (state_ == State::closing || state_ == State::closed) return;
    spdlog::warn("feed: client {} ({}): {}", peer_, consumer_.empty() ? "-" : consumer_, text);
    v1::ServerMessage message;
    message.mutable_error()->set_code(code);
    message.mutable_error()->set_message(text);
    queue(message);
    state_ = State::closing;
    subscribed_.cancel();
  }

  // Checks name and token here; where to resume is worked out on the store thread.
  void handle_subscribe(const v1::Subscribe& subscribe) {
    const auto it = std::find_if(options_.consumers.begin(), options_.consumers.end(),
                                 [&](const FeedConsumer& c) { return c.name == subscribe.consumer(); });
    if (it == options_.consumers.end()) {
      fail(v1::Error::CODE_UNKNOWN_CONSUMER, fmt::format("unknown consumer '{}'", subscribe.consumer()));
      return;
    }
    if (it->token != subscribe.token()) {
      fail(v1::Error::CODE_UNAUTHORIZED, fmt::format("wrong token for consumer '{}'", subscribe.consumer()));
      return;
    }
    consumer_ = subscribe.consumer();
    state_ = State::subscribing;
    subscribe_timer_.cancel();
    window_ = options_.max_unacked_batches;
    if (subscribe.max_unacked_batches() > 0) window_ = std::min<std::size_t>(window_, subscribe.max_unacked_batches());
    // The cursor book holds acks not yet persisted: it is newer than the store when it knows the consumer.
    const auto known_cursor = cursors_->latest(consumer_);
    store_thread_->submit(
        socket_.get_executor(),
        [subscribe, known_cursor, consumer = consumer_](FeedStore& store) {
          ResumePoint point;
          point.head_sequence = store.head_sequence();
          switch (subscribe.resume_case()) {
            case v1::Subscribe::kFromSequence:
              point.next_sequence = std::max<std::uint64_t>(subscribe.from_sequence(), 1);
              break;
            case v1::Subscribe::kFromTimeUnix: {
              const auto first = store.first_sequence_collected_at_or_after(
                  UtcSeconds{std::chrono::seconds{subscribe.from_time_unix()}});
              point.next_sequence = first ? *first : point.head_sequence + 1;
              break;
            }
            case v1::Subscribe::kFromCursor:
            case v1::Subscribe::RESUME_NOT_SET: {
              const auto cursor = known_cursor ? known_cursor : store.consumer_cursor(consumer);
              point.next_sequence = cursor ? *cursor + 1 : 1;
              break;
            }
          }
          return point;
        },
        [self = shared_from_this(), resume = subscribe.resume_case()](StoreOutcome<ResumePoint> outcome) {
          self->subscribed(resume, std::move(outcome));
        });
  }

  void subscribed(v1::Subscribe::ResumeCase resume, StoreOutcome<ResumePoint> outcome) {
    if (state_ != State::subscribing) return;
    if (!outcome.value) {
      fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", outcome.error));
      return;
    }
    const auto next = outcome.value->next_sequence;
    next_sequence_ = next;
    // Nothing beyond the head exists yet, so nothing beyond it counts as sent: an Ack for a
    // sequence past the head (a from_sequence ahead of the store) is refused, never stored.
    last_acked_ = last_sent_ = std::min<std::uint64_t>(next - 1, outcome.value->head_sequence);
    known_head_ = std::max(known_head_, outcome.value->head_sequence);
    v1::ServerMessage reply;
    auto* message = reply.mutable_subscribed();
    message->set_daemon_id(options_.daemon_id);
    message->set_resume_sequence(next);
    message->set_head_sequence(outcome.value->head_sequence);
    queue(reply);
    state_ = State::streaming;
    subscribed_.cancel();  // the read loop goes on with the Acks
    spdlog::info("feed: consumer '{}' subscribed from {} ({}), resuming at sequence {}", consumer_, peer_,
                 resume == v1::Subscribe::kFromSequence   ? "from_sequence"
                 : resume == v1::Subscribe::kFromTimeUnix ? "from_time"
                                                          : "from_cursor",
                 next);
    fetch_next_batch();
  }

  void handle_ack(const v1::Ack& ack) {
    const auto sequence = ack.sequence();
    if (sequence > last_sent_) {
      fail(v1::Error::CODE_BAD_REQUEST, fmt::format("Ack {} is beyond the last sequence sent ({})", sequence, last_sent_));
      return;
    }
    if (sequence <= last_acked_) return;  // repeated or older ack: nothing new
    last_acked_ = sequence;
    cursors_->acknowledge(consumer_, sequence);
    while (!in_flight_.empty() && in_flight_.front() <= sequence) in_flight_.pop_front();
    fetch_next_batch();
  }

  void handle(const v1::ClientMessage& message) {
    if (state_ == State::awaiting_subscribe) {
      if (!message.has_subscribe()) {
        fail(v1::Error::CODE_BAD_REQUEST, "the first message must be Subscribe");
        return;
      }
      handle_subscribe(message.subscribe());
    } else if (message.has_ack()) {
      handle_ack(message.ack());
    } else {
      fail(v1::Error::CODE_BAD_REQUEST, "only Ack is expected after Subscribe");
    }
  }

  // Reads the next batch on the store thread when a window slot is free and no read is in
  // flight. One read at a time keeps at most `window` batches (plus the one being read) in memory.
  void fetch_next_batch() {
    if (state_ != State::streaming || fetching_ || caught_up_ || in_flight_.size() >= window_) return;
    fetching_ = true;
    store_thread_->submit(
        socket_.get_executor(),
        [after = next_sequence_ - 1, limit = options_.batch_size, daemon_id = options_.daemon_id,
         clock = clock_](FeedStore& store) { return read_encoded_batch(store, after, limit, daemon_id, clock); },
        [self = shared_from_this(), commits = commits_seen_](StoreOutcome<EncodedBatch> outcome) {
          self->fetched(commits, std::move(outcome));
        });
  }

  void fetched(std::uint64_t commits_before_read, StoreOutcome<EncodedBatch> outcome) {
    fetching_ = false;
    if (state_ != State::streaming) return;
    if (!outcome.value) {
      fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", outcome.error));
      return;
    }
    if (outcome.value->last_sequence == 0) {
      // Nothing new; unless a commit arrived while reading, wait for the next one.
      caught_up_ = commits_before_read == commits_seen_;
      fetch_next_batch();
      return;
    }
    const auto last = outcome.value->last_sequence;
    queue_wire(std::move(outcome.value->wire));
    in_flight_.push_back(last);
    last_sent_ = last;
    next_sequence_ = last + 1;
    // Read up to every head notified so far: the next notification beyond it wakes the session,
    // without an empty read per commit to find that out.
    known_head_ = std::max(known_head_, last);
    if (last == known_head_) caught_up_ = true;
    fetch_next_batch();
  }

  void request_heartbeat() {
    if (state_ != State::streaming || heartbeat_pending_) return;
    heartbeat_pending_ = true;
    store_thread_->submit(
        socket_.get_executor(), [](FeedStore& store) { return store.head_sequence(); },
        [self = shared_from_this()](StoreOutcome<std::uint64_t> outcome) {
          self->heartbeat_pending_ = false;
          if (self->state_ != State::streaming) return;
          if (!outcome.value) {
            self->fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", outcome.error));
            return;
          }
          self->on_committed(*outcome.value);
          v1::ServerMessage heartbeat;
          heartbeat.mutable_heartbeat()->set_head_sequence(*outcome.value);
          heartbeat.mutable_heartbeat()->set_server_unix_ms(self->clock_.now().time_since_epoch().count());
          self->queue(heartbeat);
        });
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<FeedSession> self) {
    std::array<char, 4096> buffer{};
    boost::system::error_code ec;
    for (;;) {
      if (self->state_ == State::subscribing) {  // no Ack makes sense before Subscribed
        self->subscribed_.expires_at(asio::steady_timer::time_point::max());
        co_await self->subscribed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (self->state_ != State::awaiting_subscribe && self->state_ != State::streaming) co_return;
      std::string_view payload;
      switch (self->reader_.next(payload)) {
        case DelimitedReader::Status::message: {
          v1::ClientMessage message;
          if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
            self->fail(v1::Error::CODE_BAD_REQUEST, "message is not a valid ClientMessage");
          } else {
            self->handle(message);
          }
          continue;
        }
        case DelimitedReader::Status::too_large:
          self->fail(v1::Error::CODE_MESSAGE_TOO_LARGE,
                     fmt::format("message length prefix exceeds {} bytes", self->options_.max_client_message));
          continue;
        case DelimitedReader::Status::bad_prefix:
          self->fail(v1::Error::CODE_BAD_REQUEST, "malformed varint length prefix");
          continue;
        case DelimitedReader::Status::need_more: break;
      }
      const auto n =
          co_await self->socket_.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (self->state_ != State::closed && ec != asio::error::eof)
          spdlog::info("feed: client {} read error: {}", self->peer_, ec.message());
        if (self->state_ != State::closing) self->close();
        co_return;
      }
      self->reader_.feed(std::string_view(buffer.data(), n));
    }
  }

  // Writes what is queued, in order; after heartbeat_interval with nothing to write, a Heartbeat.
  static asio::awaitable<void> write_loop(std::shared_ptr<FeedSession> self) {
    boost::system::error_code ec;
    while (self->state_ != State::closed) {
      if (!self->writes_.empty()) {
        const std::string data = std::move(self->writes_.front());
        self->writes_.pop_front();
        co_await asio::async_write(self->socket_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          self->close();
          co_return;
        }
        continue;
      }
      if (self->state_ == State::closing) {
        self->close();
        co_return;
      }
      self->wake_.expires_after(self->options_.heartbeat_interval);
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) self->request_heartbeat();  // expired: nothing was written for a whole interval
    }
  }

  asio::ip::tcp::socket socket_;
  std::shared_ptr<FeedStoreThread> store_thread_;
  std::shared_ptr<ConsumerCursorBook> cursors_;
  const FeedServerOptions options_;  // a copy: a session may outlive a stopped server by a few handlers
  Clock clock_;
  DelimitedReader reader_;
  asio::steady_timer wake_;             // cancelled when something is queued for writing
  asio::steady_timer subscribed_;       // cancelled when the subscription is answered
  asio::steady_timer subscribe_timer_;  // Subscribe deadline
  std::string peer_;
  State state_ = State::awaiting_subscribe;
  std::string consumer_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t last_sent_ = 0;
  std::uint64_t last_acked_ = 0;
  std::size_t window_ = 1;
  std::deque<std::uint64_t> in_flight_;  // last sequence of each unacknowledged batch
  std::deque<std::string> writes_;
  bool fetching_ = false;           // a read_feed job is on the store thread
  bool caught_up_ = false;          // read up to known_head_ (or found nothing) and no commit arrived since
  std::uint64_t known_head_ = 0;    // newest head the store reported: Subscribe, notifications, heartbeats
  bool heartbeat_pending_ = false;  // a head lookup for a Heartbeat is on the store thread
  std::uint64_t commits_seen_ = 0;  // notify_committed() calls, to tell a stale empty read
};

FeedServer::FeedServer(asio::any_io_executor executor, FeedStore& store, FeedServerOptions options, Clock clock)
    : options_(std::move(options)),
      clock_(clock),
      store_thread_(std::make_shared<FeedStoreThread>(store)),
      cursors_(std::make_shared<ConsumerCursorBook>(executor, store_thread_, options_.cursor_flush_interval,
                                                    options_.cursor_flush_acks)),
      acceptor_(executor) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(options_.listen_host), options_.listen_port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

FeedServer::~FeedServer() { stop(); }

void FeedServer::start() {
  spdlog::info("feed: listening on {}:{} ({} consumer(s) configured)", options_.listen_host, port_,
               options_.consumers.size());
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

asio::awaitable<void> FeedServer::accept_loop() {
  boost::system::error_code ec;
  while (!stopped_) {
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) co_return;
    if (ec) {
      // E.g. out of descriptors: pause instead of spinning; established sessions keep running.
      spdlog::warn("feed: accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds{100});
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto session = std::make_shared<FeedSession>(std::move(socket), store_thread_, cursors_, options_, clock_);
    std::erase_if(sessions_, [](const std::weak_ptr<FeedSession>& s) { return s.expired(); });
    sessions_.push_back(session);
    session->start();
  }
}

void FeedServer::notify_committed(std::uint64_t head_sequence) {
  for (const auto& weak : sessions_)
    if (auto session = weak.lock()) session->on_committed(head_sequence);
}

void FeedServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& weak : sessions_)
    if (auto session = weak.lock()) session->close();
  sessions_.clear();
  cursors_->flush_all_now();
  store_thread_->stop();  // runs that last cursor write (and any read in flight), then joins
}

std::size_t FeedServer::sessions() const {
  return static_cast<std::size_t>(
      std::count_if(sessions_.begin(), sessions_.end(), [](const auto& s) { return !s.expired(); }));
}

}  // namespace ami::feed
