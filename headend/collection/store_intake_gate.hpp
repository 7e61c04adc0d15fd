// Back-pressure from the store writer to the gateway workers, without blocking the io thread
// ([collection] max_store_backlog, docs/COLLECTION.md "Store intake gate"). When the workers read
// faster than the writer stores, every read's records would otherwise wait in memory (in the
// writer's queue); StoreWriter's own bound blocks submit() on the io thread, which stalls every
// channel, timer and the feed. Instead a worker asks the gate before it starts a scheduled or
// backfill read: while the backlog (a callable the owner supplies: the items the writer has not yet
// taken into a transaction, StoreWriter::queued_items(), plus what the SubmitBatcher holds) is
// below `limit` it goes on at once; otherwise it waits here, as a coroutine, until the writer has
// caught up. Reads already started finish and are stored, so the backlog can exceed the limit by
// at most one job per worker. The transaction being written is not part of the backlog, so
// workers refill the queue while the writer writes (reading and writing overlap); the memory held
// is therefore bounded by about twice the limit: the queue plus the one transaction it became.
//
// Waking: on_progress() (the owner calls it when the writer took a batch or committed something)
// admits waiters in FIFO order while the backlog is below the limit; a re-check timer (`recheck`,
// real time) calls it too while anyone waits, so a progress signal the owner never sends can
// never wedge the workers. A worker that must not wait any longer (an on-demand read arrived, or it
// stops) withdraws: its admit() returns false. stop() releases every waiter (admit() returns true)
// and admits everything afterwards. A limit of 0 never waits.
//
// Threads: the io_context's thread only (admit, on_progress, withdraw, stop, the backlog callable's
// call). Destroy after every waiter is gone (after the workers' coroutines ended).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

#include "headend/runtime/asio.hpp"

namespace ami::collection {

class StoreIntakeGate {
 public:
  using Backlog = std::function<std::size_t()>;

  StoreIntakeGate(asio::any_io_executor executor, std::size_t limit, Backlog backlog,
                  std::chrono::milliseconds recheck = std::chrono::milliseconds{50})
      : limit_(limit), backlog_(std::move(backlog)), recheck_(recheck), recheck_timer_(std::move(executor)) {}
  StoreIntakeGate(const StoreIntakeGate&) = delete;
  StoreIntakeGate& operator=(const StoreIntakeGate&) = delete;

  // True when admitted (backlog below the limit, limit 0, or stopped); false when `who` withdrew
  // while waiting. `who` identifies the waiter for withdraw() (any address, e.g. the worker).
  asio::awaitable<bool> admit(const void* who = nullptr) {
    if (open_now()) co_return true;
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, who);
    waiters_.push_back(waiter);
    arm_recheck();
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return waiter->admitted;
  }

  // The writer made progress: admits waiters, first come first, while the backlog is below the limit.
  void on_progress() {
    while (!waiters_.empty() && (stopped_ || backlog_() < limit_)) wake_front();
  }

  // Ends `who`'s wait (its admit() returns false); no effect when it is not waiting.
  void withdraw(const void* who) {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if ((*it)->who != who) continue;
      (*it)->admitted = false;
      (*it)->timer.cancel();
      waiters_.erase(it);
      return;
    }
  }

  // Shutdown: releases every waiter and admits every later caller at once.
  void stop() {
    stopped_ = true;
    recheck_timer_.cancel();
    on_progress();
  }

  [[nodiscard]] std::size_t limit() const { return limit_; }
  [[nodiscard]] std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    Waiter(const asio::any_io_executor& executor, const void* waiter_id)
        : timer(executor, asio::steady_timer::time_point::max()), who(waiter_id) {}
    asio::steady_timer timer;
    const void* who;
    bool admitted = false;
  };

  // Nobody queued ahead (FIFO) and room, or no gate at all.
  [[nodiscard]] bool open_now() const {
    return limit_ == 0 || stopped_ || (waiters_.empty() && backlog_() < limit_);
  }

  void wake_front() {
    waiters_.front()->admitted = true;
    waiters_.front()->timer.cancel();
    waiters_.pop_front();
  }

  void arm_recheck() {
    if (recheck_armed_ || stopped_) return;
    recheck_armed_ = true;
    recheck_timer_.expires_after(recheck_);
    // The gate outlives its armed timer (destroyed after the workers): the handler may use `this`
    // unless the wait was aborted (the timer's destructor also aborts it).
    recheck_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      recheck_armed_ = false;
      on_progress();
      if (!waiters_.empty()) arm_recheck();
    });
  }

  std::size_t limit_;
  Backlog backlog_;
  std::chrono::milliseconds recheck_;
  asio::steady_timer recheck_timer_;
  bool recheck_armed_ = false;
  bool stopped_ = false;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace ami::collection
