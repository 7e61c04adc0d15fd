// FeedStoreThread: the feed server's one dedicated thread for FeedStore calls, so that a slow disk
// (a consumer-cursor fsync, a large outbox read) never blocks the io_context that also runs the
// collection engine. Jobs run one at a time in submission order (FIFO), which is what a
// StoreReader needs (one thread at a time) and what keeps cursor writes in ack order.
//
// Ownership: FeedServer creates it (shared_ptr) and its sessions share it, so a session that
// outlives the server by a few handlers never submits into freed memory. The FeedStore is the
// caller's and must outlive stop().
// Threads: submit() and stop() from the io_context's thread (or after it stopped). `work` runs on
// the store thread and must only use what it captured by value plus the FeedStore it is given;
// `done` runs on `reply_to`.
// Errors: an exception thrown by `work` comes back as StoreOutcome::error (its what()); after
// stop() a submitted job is dropped without calling `done` (the server is closing every session).
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "headend/feed/feed_store.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::feed {

template <typename T>
struct StoreOutcome {
  std::optional<T> value;  // set when the job returned
  std::string error;       // what() of the exception the job threw, when it threw
};

class FeedStoreThread {
 public:
  explicit FeedStoreThread(FeedStore& store) : store_(store) {}
  ~FeedStoreThread() { stop(); }
  FeedStoreThread(const FeedStoreThread&) = delete;
  FeedStoreThread& operator=(const FeedStoreThread&) = delete;

  template <typename Work, typename Done>
  void submit(asio::any_io_executor reply_to, Work work, Done done) {
    using Result = std::invoke_result_t<Work&, FeedStore&>;
    if (stopped_) return;
    asio::post(pool_, [&store = store_, reply_to, work = std::move(work), done = std::move(done)]() mutable {
      StoreOutcome<Result> outcome;
      try {
        outcome.value.emplace(work(store));
      } catch (const std::exception& e) {
        outcome.error = e.what();
      }
      asio::post(reply_to, [done = std::move(done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
    });
  }

  // Runs the jobs already submitted, then joins the thread. Idempotent.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    pool_.join();
  }

 private:
  FeedStore& store_;
  asio::thread_pool pool_{1};
  bool stopped_ = false;
};

}  // namespace ami::feed
