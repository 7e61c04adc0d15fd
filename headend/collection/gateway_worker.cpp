#include "headend/collection/gateway_worker.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "headend/collection/clock_sync_exchange.hpp"
#include "headend/collection/freeze_read_exchange.hpp"
#include "headend/collection/register_read.hpp"

namespace ami::collection {
bool JobQueue::slot_after(const Entry& a, const Entry& b) {
  return std::tie(a.job.not_before, a.sequence) > std::tie(b.job.not_before, b.sequence);
}

bool JobQueue::runs_after(const Entry& a, const Entry& b) {
  return std::tie(a.job.priority, a.job.boundary, a.job.not_before, a.sequence) >
         std::tie(b.job.priority, b.job.boundary, b.job.not_before, b.sequence);
}

void JobQueue::push(ReadJob job) {
  waiting_.push_back({std::move(job), next_sequence_++});
  std::push_heap(waiting_.begin(), waiting_.end(), slot_after);
}

namespace {
// A heap left empty gives its storage back when it held more than this many jobs: a cycle queues
// every meter of the gateway at once, and the heap it leaves (waiting_ once all are due, due_ once
// all ran) would otherwise keep a cycle's worth of jobs per gateway allocated for nothing.
constexpr std::size_t kJobQueueKeptCapacity = 64;

template <class Entry>  // JobQueue's private entry type, deduced
void release_if_emptied(std::vector<Entry>& heap) {
  if (heap.empty() && heap.capacity() > kJobQueueKeptCapacity) std::vector<Entry>().swap(heap);
}

// The due heap also shrinks while the gateway works through its cycle (at a quarter full it is
// reallocated to its size: amortised O(1) per job), so a gateway halfway through its reads no
// longer holds all of them.
template <class Entry>
void shrink_if_sparse(std::vector<Entry>& heap) {
  if (heap.capacity() > kJobQueueKeptCapacity && heap.size() < heap.capacity() / 4) heap.shrink_to_fit();
}

// A whole cycle coming due at once (zero spread window) grows the due heap by doubling: up to 2x
// the jobs (1.28x for 100 meters per gateway, measured ~23 B per meter behind 1,000 gateways).
// After such a bulk move the heap is fitted to its size: one copy per cycle, not per job.
template <class Entry>
void fit_after_bulk_move(std::vector<Entry>& heap, std::size_t moved) {
  if (moved > kJobQueueKeptCapacity && heap.capacity() > heap.size() + heap.size() / 8) heap.shrink_to_fit();
}
}  // namespace

std::optional<ReadJob> JobQueue::pop_due(UtcMillis now) {
  std::size_t moved = 0;
  while (!waiting_.empty() && waiting_.front().job.not_before <= now) {
    std::pop_heap(waiting_.begin(), waiting_.end(), slot_after);
    due_.push_back(std::move(waiting_.back()));
    waiting_.pop_back();
    std::push_heap(due_.begin(), due_.end(), runs_after);
    ++moved;
  }
  if (moved > 0) release_if_emptied(waiting_);
  fit_after_bulk_move(due_, moved);
  if (due_.empty()) return std::nullopt;
  std::pop_heap(due_.begin(), due_.end(), runs_after);
  ReadJob job = std::move(due_.back().job);
  due_.pop_back();
  release_if_emptied(due_);
  shrink_if_sparse(due_);
  return job;
}

namespace {
// An operator's on-demand read and meter clock work never wait for the store (StoreIntakeGate).
bool waits_for_store(const ReadJob& job) {
  return job.priority != Priority::on_demand && job.clock == ClockCommand::none;
}

// The ERR byte of an abnormal reply (the first DATA byte), none for a normal reply or a bare one.
std::optional<std::uint8_t> abnormal_reply_err_byte(const dlt645::Frame& reply) {
  if (!reply.control.abnormal() || reply.data.empty()) return std::nullopt;
  return reply.data.front();
}
}  // namespace

std::optional<UtcMillis> JobQueue::next_slot() const {
  if (waiting_.empty()) return std::nullopt;
  return waiting_.front().job.not_before;
}

GatewayWorker::GatewayWorker(asio::any_io_executor executor, Clock clock, std::unique_ptr<Dlt645Channel> channel,
                             RetryPolicy retry, std::function<void(JobReport)> on_report)
    : clock_(clock),
      channel_(std::move(channel)),
      retry_(retry),
      on_report_(std::move(on_report)),
      wake_(executor),
      retry_timer_(std::move(executor)) {}

void GatewayWorker::enqueue(ReadJob job) {
  const bool urgent = !waits_for_store(job);
  queue_.push(std::move(job));
  wake_.cancel();
  if (urgent && gate_ != nullptr) gate_->withdraw(this);  // it runs next, ahead of the held job
}

void GatewayWorker::stop() {
  stopping_ = true;
  wake_.cancel();
  retry_timer_.cancel();
  if (gate_ != nullptr) gate_->withdraw(this);
}

asio::awaitable<void> GatewayWorker::sleep_real(asio::steady_timer& timer, std::chrono::microseconds duration) {
  boost::system::error_code ec;
  timer.expires_after(duration);
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> GatewayWorker::run() {
  while (!stopping_) {
    if (queue_.empty()) {
      co_await sleep_real(wake_, std::chrono::hours{24});
      continue;
    }
    // The most urgent job whose slot has come; a backfill read may use the gap before the next
    // scheduled slot, and an on-demand read overtakes both.
    const auto now = clock_.now();
    auto job = queue_.pop_due(now);
    if (!job) {
      co_await sleep_real(wake_, clock_.real_wait(*queue_.next_slot() - now));
      continue;
    }
    if (gate_ != nullptr && waits_for_store(*job)) {
      // Not inside the && above: GCC 12 mishandles co_await in such expressions (see execute()).
      const bool admitted = co_await gate_->admit(this);
      if (!admitted) {
        queue_.push(std::move(*job));  // withdrawn: an on-demand read or stop() came first
        continue;
      }
    }
    std::optional<ConcurrencyLimit::Slot> slot;  // held for the whole job (all its attempts)
    if (limit_ != nullptr) slot.emplace(co_await limit_->acquire());
    if (stopping_) {
      queue_.push(std::move(*job));  // counted below as not started
      break;
    }
    co_await execute(std::move(*job));
  }
  if (!queue_.empty())
    spdlog::info("channel {}: stopping with {} queued read(s) not started", channel_->key(), queue_.size());
  channel_->close();
}

asio::awaitable<AttemptReport> GatewayWorker::attempt_load_profile(const ReadJob& job, JobReport& report) {
  AttemptReport a;
  const BoundaryRequest request{job.meter->address, job.meter->utc_offset_minutes, job.boundary, job.interval,
                               job.records};
  auto result = co_await channel_->transact(make_boundary_request(request),
                                            [&request](const dlt645::Frame& f) { return is_reply_to(request, f); },
                                            job.meter->response_timeout);
  a.latency_ms = result.latency_ms;
  a.outcome = result.outcome;
  a.detail = std::move(result.detail);
  if (result.outcome == Outcome::ok) {
    a.meter_err = abnormal_reply_err_byte(*result.reply);
    auto read = interpret_boundary_reply(request, *result.reply);
    a.outcome = read.outcome;
    a.detail = std::move(read.detail);
    report.snapshots = std::move(read.snapshots);
    report.collected_at = clock_.now();
  }
  co_return a;
}

asio::awaitable<AttemptReport> GatewayWorker::attempt_registers(const ReadJob& job, const RegisterReadSpec& spec,
                                                                JobReport& report) {
  AttemptReport a;
  RegisterSnapshot snapshot{job.boundary, std::nullopt, std::nullopt};
  for (const auto di : {spec.forward_di, spec.reverse_di}) {
    auto result = co_await channel_->transact(spec.request(job.meter->address, di),
                                              [&spec, di](const dlt645::Frame& f) { return spec.answers(di, f); },
                                              job.meter->response_timeout);
    a.latency_ms += result.latency_ms;
    a.outcome = result.outcome;
    a.detail = std::move(result.detail);
    if (result.outcome != Outcome::ok) co_return a;
    a.meter_err = abnormal_reply_err_byte(*result.reply);
    auto read = spec.interpret(di, *result.reply);
    a.outcome = read.outcome;
    a.detail = std::move(read.detail);
    if (read.outcome != Outcome::ok) co_return a;
    (di == spec.forward_di ? snapshot.forward_active_wh : snapshot.reverse_active_wh) = read.wh;
  }
  const auto collected = clock_.now();
  const auto latest = UtcMillis{job.boundary} + job.meter->register_tolerance;
  report.current = RegisterSnapshot{std::chrono::floor<std::chrono::seconds>(collected), snapshot.forward_active_wh,
                                    snapshot.reverse_active_wh};  // what an on-demand read shows
  if (job.source == storage::ReadSource::on_demand && (collected < UtcMillis{job.boundary} || collected > latest)) {
    report.collected_at = collected;  // the operator's "now", not a boundary reading
    co_return a;
  }
  if (collected < UtcMillis{job.boundary} || collected > latest) {
    a.outcome = Outcome::too_late;
    a.detail = fmt::format("registers read at {}, outside {} .. +{} s",
                           format_utc(std::chrono::floor<std::chrono::seconds>(collected)),
                           format_utc(job.boundary), job.meter->register_tolerance.count());
    co_return a;
  }
  report.snapshots.push_back(snapshot);
  report.collected_at = collected;
  co_return a;
}

asio::awaitable<void> GatewayWorker::execute(ReadJob job) {
  JobReport report;
  if (job.clock != ClockCommand::none) {  // meter clock work: one attempt (clock_sync_exchange.hpp)
    co_await run_clock_job(*channel_, clock_, clock_policy_, job, report);
    report.job = std::move(job);
    on_report_(std::move(report));
    co_return;
  }
  const int max_attempts = 1 + retry_.retries;
  const auto* register_spec = register_read_spec(job.meter->protocol);
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    AttemptReport a;
    const auto started = clock_.now();
    const bool registers = job.meter->protocol == "dlt645-1997" || job.current_registers;
    if (registers && register_spec != nullptr) {
      a = co_await attempt_registers(job, *register_spec, report);
    } else if (job.meter->protocol == "dlt645-2007") {
      // Not a ?: of two co_awaits: GCC 12 destroys such a temporary twice.
      if (job.freeze == FreezeKind::none) {
        a = co_await attempt_load_profile(job, report);
      } else {
        a = co_await attempt_freeze(*channel_, clock_, job, report);
      }
    } else {
      a.outcome = Outcome::unsupported;
      a.detail = "protocol " + job.meter->protocol + " is not collected over a DL/T 645 channel";
    }
    a.attempt = attempt;
    a.started_at = started;
    const bool done = a.outcome == Outcome::ok || a.outcome == Outcome::unsupported || a.outcome == Outcome::too_late;
    if (a.outcome != Outcome::ok)
      spdlog::debug("meter {} boundary {} attempt {}: {} ({})", job.meter->meter_id, format_utc(job.boundary), attempt,
                    to_string(a.outcome), a.detail);
    report.attempts.push_back(std::move(a));
    if (done || attempt == max_attempts || stopping_) break;
    if (clock_.now() >= job.retry_deadline) break;
    // A register read retried past the tolerance could only come back too_late.
    if ((job.meter->protocol == "dlt645-1997" || job.current_registers) && job.source != storage::ReadSource::on_demand &&
        clock_.now() >= UtcMillis{job.boundary} + job.meter->register_tolerance)
      break;
    co_await sleep_real(retry_timer_, retry_.backoff);
    if (stopping_) break;
  }
  report.job = std::move(job);
  on_report_(std::move(report));
}

}  // namespace ami::collection
