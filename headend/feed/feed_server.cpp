#include "headend/feed/feed_server.hpp"

#include <algorithm>
#include <deque>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocols/feed/delimited.hpp"

namespace ami::feed {

namespace v1 = headend::feed::v1;

// One consumer connection. Two coroutines share it: read_loop (Subscribe, Acks) and write_loop
// (the only writer: queued control messages, batches, heartbeats). Both hold a shared_ptr.
class FeedSession : public std::enable_shared_from_this<FeedSession> {
 public:
  FeedSession(asio::ip::tcp::socket socket, FeedStore& store, const FeedServerOptions& options, Clock clock)
      : socket_(std::move(socket)),
        store_(store),
        options_(options),
        clock_(clock),
        reader_(options.max_client_message),
        wake_(socket_.get_executor()),
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

  void wake() { wake_.cancel(); }

  void close() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    wake_.cancel();
    subscribe_timer_.cancel();
  }

 private:
  enum class State { awaiting_subscribe, streaming, closing, closed };

  void queue(const v1::ServerMessage& message) {
    std::string out;
    append_delimited(message.SerializeAsString(), out);
    writes_.push_back(std::move(out));
    wake();
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
  }

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
    std::uint64_t next = 1;
    switch (subscribe.resume_case()) {
      case v1::Subscribe::kFromSequence: next = std::max<std::uint64_t>(subscribe.from_sequence(), 1); break;
      case v1::Subscribe::kFromTimeUnix: {
        const auto first = store_.first_sequence_collected_at_or_after(
            UtcSeconds{std::chrono::seconds{subscribe.from_time_unix()}});
        next = first ? *first : store_.head_sequence() + 1;
        break;
      }
      case v1::Subscribe::kFromCursor:
      case v1::Subscribe::RESUME_NOT_SET: {
        const auto cursor = store_.consumer_cursor(consumer_);
        next = cursor ? *cursor + 1 : 1;
        break;
      }
    }
    next_sequence_ = next;
    last_acked_ = next - 1;
    last_sent_ = next - 1;
    window_ = options_.max_unacked_batches;
    if (subscribe.max_unacked_batches() > 0) window_ = std::min<std::size_t>(window_, subscribe.max_unacked_batches());
    v1::ServerMessage reply;
    auto* subscribed = reply.mutable_subscribed();
    subscribed->set_daemon_id(options_.daemon_id);
    subscribed->set_resume_sequence(next);
    subscribed->set_head_sequence(store_.head_sequence());
    queue(reply);
    state_ = State::streaming;
    subscribe_timer_.cancel();
    spdlog::info("feed: consumer '{}' subscribed from {} ({}), resuming at sequence {}", consumer_, peer_,
                 subscribe.resume_case() == v1::Subscribe::kFromSequence   ? "from_sequence"
                 : subscribe.resume_case() == v1::Subscribe::kFromTimeUnix ? "from_time"
                                                                           : "from_cursor",
                 next);
  }

  void handle_ack(const v1::Ack& ack) {
    const auto sequence = ack.sequence();
    if (sequence > last_sent_) {
      fail(v1::Error::CODE_BAD_REQUEST, fmt::format("Ack {} is beyond the last sequence sent ({})", sequence, last_sent_));
      return;
    }
    if (sequence <= last_acked_) return;  // repeated or older ack: nothing new
    store_.set_consumer_cursor(consumer_, sequence);
    last_acked_ = sequence;
    while (!in_flight_.empty() && in_flight_.front() <= sequence) in_flight_.pop_front();
    wake();
  }

  void handle(const v1::ClientMessage& message) {
    try {
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
    } catch (const std::exception& e) {
      fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", e.what()));
    }
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<FeedSession> self) {
    std::array<char, 4096> buffer{};
    boost::system::error_code ec;
    while (self->state_ == State::awaiting_subscribe || self->state_ == State::streaming) {
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

  // Builds the next batch when a window slot is free and the store has rows after last_sent_.
  bool queue_next_batch() {
    if (state_ != State::streaming || in_flight_.size() >= window_) return false;
    std::vector<v1::IntervalReading> rows;
    try {
      rows = store_.read_feed(next_sequence_ - 1, options_.batch_size);
    } catch (const std::exception& e) {
      fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", e.what()));
      return true;
    }
    if (rows.empty()) return false;
    v1::ServerMessage message;
    auto* batch = message.mutable_batch();
    batch->set_daemon_id(options_.daemon_id);
    batch->set_published_unix_ms(clock_.now().time_since_epoch().count());
    for (auto& row : rows) *batch->add_intervals() = std::move(row);
    const auto last = batch->intervals(batch->intervals_size() - 1).sequence();
    batch->set_sequence(last);
    queue(message);
    in_flight_.push_back(last);
    last_sent_ = last;
    next_sequence_ = last + 1;
    return true;
  }

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
      if (self->queue_next_batch()) continue;
      self->wake_.expires_after(self->options_.heartbeat_interval);
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec && self->state_ == State::streaming) {
        v1::ServerMessage heartbeat;
        try {
          heartbeat.mutable_heartbeat()->set_head_sequence(self->store_.head_sequence());
        } catch (const std::exception& e) {
          self->fail(v1::Error::CODE_INTERNAL, fmt::format("store error: {}", e.what()));
          continue;
        }
        heartbeat.mutable_heartbeat()->set_server_unix_ms(self->clock_.now().time_since_epoch().count());
        self->queue(heartbeat);
      }
    }
  }

  asio::ip::tcp::socket socket_;
  FeedStore& store_;
  const FeedServerOptions options_;  // a copy: a session may outlive a stopped server by a few handlers
  Clock clock_;
  DelimitedReader reader_;
  asio::steady_timer wake_;
  asio::steady_timer subscribe_timer_;
  std::string peer_;
  State state_ = State::awaiting_subscribe;
  std::string consumer_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t last_sent_ = 0;
  std::uint64_t last_acked_ = 0;
  std::size_t window_ = 1;
  std::deque<std::uint64_t> in_flight_;  // last sequence of each unacknowledged batch
  std::deque<std::string> writes_;
};

FeedServer::FeedServer(asio::any_io_executor executor, FeedStore& store, FeedServerOptions options, Clock clock)
    : store_(store), options_(std::move(options)), clock_(clock), acceptor_(executor) {
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
    auto session = std::make_shared<FeedSession>(std::move(socket), store_, options_, clock_);
    std::erase_if(sessions_, [](const std::weak_ptr<FeedSession>& s) { return s.expired(); });
    sessions_.push_back(session);
    session->start();
  }
}

void FeedServer::notify_committed(std::uint64_t /*head_sequence*/) {
  for (const auto& weak : sessions_)
    if (auto session = weak.lock()) session->wake();
}

void FeedServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& weak : sessions_)
    if (auto session = weak.lock()) session->close();
  sessions_.clear();
}

std::size_t FeedServer::sessions() const {
  return static_cast<std::size_t>(
      std::count_if(sessions_.begin(), sessions_.end(), [](const auto& s) { return !s.expired(); }));
}

}  // namespace ami::feed
