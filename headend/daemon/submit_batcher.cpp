#include "headend/daemon/submit_batcher.hpp"

#include <iterator>

namespace ami::daemon {

SubmitBatcher::SubmitBatcher(asio::any_io_executor executor, SubmitBatchOptions options, Sink sink,
                             std::function<void(const std::exception&)> on_error)
    : options_(options), sink_(std::move(sink)), on_error_(std::move(on_error)), timer_(std::move(executor)) {}

SubmitBatcher::~SubmitBatcher() { timer_.cancel(); }

void SubmitBatcher::add(std::vector<storage::BoundaryRead>& reads, std::vector<storage::AttemptRecord>& attempts) {
  reads_.insert(reads_.end(), std::make_move_iterator(reads.begin()), std::make_move_iterator(reads.end()));
  attempts_.insert(attempts_.end(), std::make_move_iterator(attempts.begin()), std::make_move_iterator(attempts.end()));
  reads.clear();
  attempts.clear();
  if (pending() >= options_.max_records) {
    flush();
    return;
  }
  if (pending() == 0 || timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_after(options_.max_delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: flushed earlier (or destroyed)
    timer_armed_ = false;
    try {
      flush();
    } catch (const std::exception& e) {
      on_error_(e);
    }
  });
}

void SubmitBatcher::flush() {
  if (timer_armed_) {
    timer_armed_ = false;
    timer_.cancel();
  }
  if (pending() == 0) return;
  auto reads = std::move(reads_);
  auto attempts = std::move(attempts_);
  reads_.clear();
  attempts_.clear();
  reads_.reserve(reads.size());
  attempts_.reserve(attempts.size());
  sink_(std::move(reads), std::move(attempts));
}

}  // namespace ami::daemon
