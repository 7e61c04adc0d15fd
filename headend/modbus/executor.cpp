#include "headend/modbus/executor.hpp"

namespace ami::modbus {

Executor::Executor(ExecutorOptions options) : options_(options) {
  const std::size_t n = options_.workers == 0 ? 1 : options_.workers;
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

Executor::~Executor() {
  std::vector<Job> cancelled;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [key, channel] : channels_) {
      for (auto& job : channel->queue) cancelled.push_back(std::move(job));
      channel->queue.clear();
    }
    ready_.clear();
    queued_ = 0;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  for (auto& job : cancelled) {
    MeterReadResult r;
    r.outcome = MeterOutcome::cancelled;
    r.detail = "Modbus executor stopped";
    job.done(std::move(r));
  }
}

std::size_t Executor::channels() const {
  std::lock_guard lock(mutex_);
  return channels_.size();
}

void Executor::submit(const ChannelSpec& channel, MeterRequest request, Done done) {
  bool stopped = false;
  {
    std::lock_guard lock(mutex_);
    stopped = stopping_;
    if (!stopping_ && queued_ < options_.max_queued) {
      auto& slot = channels_[channel.key()];
      if (!slot) slot = std::make_unique<Channel>(Channel{channel, nullptr, {}});
      slot->queue.push_back(Job{std::move(request), std::move(done)});
      ++queued_;
      if (!slot->busy && slot->queue.size() == 1) ready_.push_back(slot.get());
      wake_.notify_one();
      return;
    }
  }
  MeterReadResult r;
  r.outcome = stopped ? MeterOutcome::cancelled : MeterOutcome::bad_request;
  r.detail = stopped ? "Modbus executor stopped" : "Modbus executor queue full";
  done(std::move(r));
}

void Executor::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    Channel* channel = ready_.front();
    ready_.pop_front();
    Job job = std::move(channel->queue.front());
    channel->queue.pop_front();
    --queued_;
    channel->busy = true;
    channel->last_used = ++ticks_;
    if (!channel->open) make_room_for_link(lock);
    lock.unlock();

    // Only this worker touches the channel's link while busy is set.
    if (!channel->link) channel->link = make_link(channel->spec, options_.link);
    const auto started = std::chrono::system_clock::now();
    const auto started_steady = std::chrono::steady_clock::now();
    MeterReadResult result = read_meter(*channel->link, job.request, plans_);
    result.started = started;
    result.elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_steady);
    const bool open_now = channel->link->connected();
    job.done(std::move(result));

    lock.lock();
    if (open_now != channel->open) {
      channel->open = open_now;
      open_now ? ++open_links_ : --open_links_;
    }
    release(channel);
  }
}

void Executor::release(Channel* channel) {
  channel->busy = false;
  if (!channel->queue.empty() && !stopping_) {
    ready_.push_back(channel);
    wake_.notify_one();
  }
}

void Executor::make_room_for_link(std::unique_lock<std::mutex>& lock) {
  if (open_links_ < options_.max_open_links) return;
  Channel* victim = nullptr;
  for (auto& [key, candidate] : channels_) {
    if (candidate->open && !candidate->busy && (victim == nullptr || candidate->last_used < victim->last_used))
      victim = candidate.get();
  }
  if (victim == nullptr) return;  // every open link is mid-transaction; the FD_SETSIZE guard still holds
  // Claim the victim like a job would, so no worker uses its link while it closes.
  victim->busy = true;
  lock.unlock();
  victim->link->close();
  lock.lock();
  victim->open = false;
  --open_links_;
  ++links_closed_idle_;
  release(victim);
}

std::uint64_t Executor::links_closed_idle() const {
  std::lock_guard lock(mutex_);
  return links_closed_idle_;
}

}  // namespace ami::modbus
