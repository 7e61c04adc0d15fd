// A daemon-wide cap on concurrent reads over channels that each reach ONE meter directly over TCP
// (a gateway serialises its own bus; thousands of direct meters would otherwise open thousands of
// transactions at once). Workers of direct channels hold a slot for the duration of one job.
//
// Threads: the io_context's thread only (acquire, release, the Slot destructor). Waiters are woken
// in FIFO order. A limit of 0 never waits. Destroy after every waiter is gone (shutdown order).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include "headend/runtime/asio.hpp"

namespace ami::collection {

class ConcurrencyLimit {
 public:
  // Releases its slot when destroyed (also when the job's coroutine unwinds).
  class Slot {
   public:
    explicit Slot(ConcurrencyLimit* owner = nullptr) : owner_(owner) {}
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      if (owner_) owner_->release();
    }

   private:
    ConcurrencyLimit* owner_;
  };

  explicit ConcurrencyLimit(std::size_t limit) : limit_(limit) {}

  asio::awaitable<Slot> acquire() {
    if (limit_ == 0) co_return Slot{};
    while (in_use_ >= limit_) {
      auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                        asio::steady_timer::time_point::max());
      waiters_.push_back(timer);
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    ++in_use_;
    co_return Slot{this};
  }

  [[nodiscard]] std::size_t in_use() const { return in_use_; }
  [[nodiscard]] std::size_t waiting() const { return waiters_.size(); }

 private:
  void release() {
    --in_use_;
    if (waiters_.empty()) return;
    waiters_.front()->cancel();  // the woken waiter re-checks in_use_
    waiters_.pop_front();
  }

  std::size_t limit_;
  std::size_t in_use_ = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

}  // namespace ami::collection
