#include "bench/load/feed_probe.hpp"

#include "headend/feed/feed_client.hpp"

namespace ami::load {
namespace {

constexpr std::chrono::milliseconds kProbeIoTimeout{5000};
constexpr std::chrono::milliseconds kProbePoll{100};
constexpr std::chrono::milliseconds kProbeRetry{200};

}  // namespace

FeedProbe::FeedProbe(std::string host, std::uint16_t port, std::string consumer, std::string token, Clock clock)
    : host_(std::move(host)), port_(port), consumer_(std::move(consumer)), token_(std::move(token)), clock_(clock) {}

FeedProbe::~FeedProbe() { stop(); }

void FeedProbe::start() { thread_ = std::thread([this] { consume(); }); }

void FeedProbe::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::uint64_t FeedProbe::received_for(const std::vector<std::int64_t>& ends) const {
  const std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto end : ends) {
    const auto it = latency_ms_by_end_.find(end);
    if (it != latency_ms_by_end_.end()) n += it->second.size();
  }
  return n;
}

std::vector<double> FeedProbe::latencies_for(const std::vector<std::int64_t>& ends) const {
  const std::lock_guard lock(mutex_);
  std::vector<double> out;
  for (const auto end : ends) {
    const auto it = latency_ms_by_end_.find(end);
    if (it != latency_ms_by_end_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

std::string FeedProbe::last_error() const {
  const std::lock_guard lock(mutex_);
  return last_error_;
}

void FeedProbe::consume() {
  namespace v1 = headend::feed::v1;
  while (!stopping_) {
    try {
      feed::FeedClient client(host_, port_);
      client.connect(kProbeIoTimeout);
      v1::Subscribe subscribe;
      subscribe.set_consumer(consumer_);
      subscribe.set_token(token_);
      subscribe.set_from_cursor(true);
      client.subscribe(subscribe, kProbeIoTimeout);
      while (!stopping_) {
        const auto message = client.next(kProbePoll);
        if (!message || !message->has_batch()) continue;
        const auto arrived = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
        const auto& batch = message->batch();
        {
          const std::lock_guard lock(mutex_);
          for (const auto& interval : batch.intervals()) {
            const auto ended = clock_.to_real(UtcMillis{std::chrono::seconds{interval.end_unix()}});
            latency_ms_by_end_[interval.end_unix()].push_back(
                std::chrono::duration<double, std::milli>(arrived - ended).count());
          }
        }
        received_total_ += static_cast<std::uint64_t>(batch.intervals_size());
        client.ack(batch.sequence(), kProbeIoTimeout);
      }
    } catch (const std::exception& e) {
      ++errors_;
      {
        const std::lock_guard lock(mutex_);
        last_error_ = e.what();
      }
      std::this_thread::sleep_for(kProbeRetry);
    }
  }
}

}  // namespace ami::load
