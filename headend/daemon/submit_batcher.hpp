// Gathers finished jobs' store records on the io thread and hands them to the store writer in
// batches, so the writer thread wakes once per batch instead of once per read (docs/PERFORMANCE.md,
// "one writer wake-up per read"). A batch goes out when it holds max_records reads + attempts, or
// max_delay after its first record arrived, or when flush() is called (each cycle's end and
// graceful shutdown call it, so nothing a cycle reported is left behind).
//
// Threads: construct, add(), flush() and the destructor on the io_context's thread; `sink` is called
// there, synchronously, from add() or flush() or the batch timer. Errors: an exception from `sink`
// propagates out of add()/flush(); from the timer it goes to `on_error` (the records of that batch
// are then lost, like a failed submit()).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <vector>

#include "headend/runtime/asio.hpp"
#include "storage/types.hpp"

namespace ami::daemon {

struct SubmitBatchOptions {
  std::size_t max_records = 1000;              // reads + attempts per batch
  std::chrono::milliseconds max_delay{10};     // real time a record may wait for its batch
};

class SubmitBatcher {
 public:
  using Sink = std::function<void(std::vector<storage::BoundaryRead>, std::vector<storage::AttemptRecord>)>;

  SubmitBatcher(asio::any_io_executor executor, SubmitBatchOptions options, Sink sink,
                std::function<void(const std::exception&)> on_error);
  ~SubmitBatcher();
  SubmitBatcher(const SubmitBatcher&) = delete;
  SubmitBatcher& operator=(const SubmitBatcher&) = delete;

  // Moves the records out of `reads` and `attempts` and leaves both empty with their capacity, so
  // the caller can reuse them for the next job (no vector allocated per read).
  void add(std::vector<storage::BoundaryRead>& reads, std::vector<storage::AttemptRecord>& attempts);
  void add(std::vector<storage::BoundaryRead>&& reads, std::vector<storage::AttemptRecord>&& attempts) {
    add(reads, attempts);
  }
  // Hands the pending records to the sink now (nothing pending: no call).
  void flush();

  [[nodiscard]] std::size_t pending() const { return reads_.size() + attempts_.size(); }

 private:
  SubmitBatchOptions options_;
  Sink sink_;
  std::function<void(const std::exception&)> on_error_;
  std::vector<storage::BoundaryRead> reads_;
  std::vector<storage::AttemptRecord> attempts_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
};

}  // namespace ami::daemon
