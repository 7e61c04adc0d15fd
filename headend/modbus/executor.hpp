// The Modbus executor: a bounded pool of worker threads that run blocking Modbus reads (libmodbus
// or our RTU-over-TCP link) away from the daemon's io_context.
//
// - One Link per channel (gateway, bus, directly reached meter), created on first use.
// - One transaction at a time per channel: a channel's jobs run in submission order, each on
//   whichever worker is free; different channels run in parallel up to the worker count, and
//   channels with work are served round-robin so one busy gateway cannot starve the rest.
// - A timed-out meter costs its own timeout and a reconnect, nothing more: the other meters queued
//   on that channel run next on a fresh connection.
// - At most max_open_links connections stay open: before a channel connects, the least recently
//   used idle connection is closed (it reconnects on its next job).
//
// Threads: submit()/async_read() from any thread. `done` callbacks run on a worker thread (while
// that channel still counts as busy: keep them short, hand work off, never block on the executor);
// async_read() instead completes on the completion token's executor (e.g. use_awaitable in a
// coroutine on the io_context). The destructor stops: it waits for transactions in flight and
// completes every queued job with MeterOutcome::cancelled.
// Errors: never throws from submit (a full queue completes the job at once with bad_request).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "headend/modbus/channel_spec.hpp"
#include "headend/modbus/link.hpp"
#include "headend/modbus/session.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::modbus {

struct ExecutorOptions {
  std::size_t workers = 4;
  std::size_t max_queued = 100'000;  // jobs waiting across all channels
  LinkOptions link;
  // Open connections at most (one per channel); the least recently used idle one is closed to make
  // room. Keeps libmodbus descriptors below FD_SETSIZE (1024) with room for the rest of the daemon.
  std::size_t max_open_links = 512;
};

class Executor {
 public:
  using Done = std::function<void(MeterReadResult)>;

  explicit Executor(ExecutorOptions options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void submit(const ChannelSpec& channel, MeterRequest request, Done done);

  // Completion signature void(MeterReadResult); the handler runs on its associated executor.
  template <typename CompletionToken>
  auto async_read(const ChannelSpec& channel, MeterRequest request, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(MeterReadResult)>(
        [this](auto handler, const ChannelSpec& ch, MeterRequest req) {
          auto executor = asio::get_associated_executor(handler);
          auto work = asio::make_work_guard(executor);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          submit(ch, std::move(req), [shared, work, executor](MeterReadResult result) mutable {
            asio::post(executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
            work.reset();
          });
        },
        token, channel, std::move(request));
  }

  [[nodiscard]] PlanCache& plans() { return plans_; }
  [[nodiscard]] std::size_t channels() const;
  [[nodiscard]] std::uint64_t links_closed_idle() const;

 private:
  struct Job {
    MeterRequest request;
    Done done;
  };
  struct Channel {
    ChannelSpec spec;
    std::unique_ptr<Link> link;
    std::deque<Job> queue;
    bool busy = false;   // a worker owns the link (a transaction, or an idle close)
    bool open = false;   // the link held a connection after its last use
    std::uint64_t last_used = 0;
  };

  void work();
  // Called with the lock held before a channel without a connection runs a job.
  void make_room_for_link(std::unique_lock<std::mutex>& lock);
  void release(Channel* channel);  // lock held

  ExecutorOptions options_;
  PlanCache plans_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
  std::deque<Channel*> ready_;  // channels with queued jobs and no transaction in flight
  std::size_t queued_ = 0;
  std::size_t open_links_ = 0;
  std::uint64_t ticks_ = 0;
  std::uint64_t links_closed_idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ami::modbus
