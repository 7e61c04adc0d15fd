#include "headend/collection/scheduler.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "protocols/dlt645/messages.hpp"

namespace ami::collection {
namespace {

// FNV-1a: stable across runs and platforms, unlike std::hash.
std::uint64_t stable_hash(std::string_view text) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : text) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

bool has_ends(const std::vector<RegisterSnapshot>& snapshots, UtcSeconds start, UtcSeconds end,
              std::optional<std::int64_t> RegisterSnapshot::*channel, bool start_read_before) {
  bool have_start = start_read_before;
  bool have_end = false;
  for (const auto& s : snapshots) {
    if (!(s.*channel)) continue;
    have_start = have_start || s.boundary == start;
    have_end = have_end || s.boundary == end;
  }
  return have_start && have_end;
}

}  // namespace

bool is_load_profile_refusal(const JobReport& report) {
  const auto& job = report.job;
  if (job.clock != ClockCommand::none || job.freeze != FreezeKind::none || job.current_registers ||
      job.meter->protocol != "dlt645-2007" || report.final_outcome() != Outcome::meter_error)
    return false;
  // The ERR byte itself (the worker carries it), not the detail text worded from it.
  const auto& err = report.attempts.back().meter_err;
  return err && dlt645::decode_error_reasons(dlt645::Edition::v2007, *err).contains(dlt645::ErrorReason::no_requested_data);
}

bool is_load_profile_probe(UtcSeconds boundary) {
  return boundary.time_since_epoch() % std::chrono::hours{24} == std::chrono::seconds{0};
}

UtcSeconds first_boundary_at_or_after(UtcMillis now, std::chrono::minutes interval) {
  const auto ceil_seconds = std::chrono::ceil<std::chrono::seconds>(now);
  const auto floor = floor_to_interval(ceil_seconds, interval);
  return floor == ceil_seconds ? floor : floor + interval;
}

UtcMillis spread_slot(UtcSeconds boundary, const SchedulerOptions& options, std::string_view meter_id) {
  const auto window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.spread_window).count();
  const auto offset = window_ms > 0 ? static_cast<std::int64_t>(stable_hash(meter_id) %
                                                                  static_cast<std::uint64_t>(window_ms))
                                    : 0;
  return UtcMillis{boundary} + options.settle + std::chrono::milliseconds{offset};
}

Scheduler::Scheduler(asio::any_io_executor executor, Clock clock, SchedulerOptions options,
                     std::vector<MeterRef> meters, std::function<void(ReadJob)> dispatch,
                     std::function<void(const CycleReport&)> on_cycle)
    : clock_(clock),
      options_(options),
      meters_(std::move(meters)),
      dispatch_(std::move(dispatch)),
      on_cycle_(std::move(on_cycle)),
      timer_(std::move(executor)) {
  states_.resize(meters_.size());
  index_meters();
}

void Scheduler::index_meters() {
  if (meters_.size() >= kNoMeterIndex) throw std::length_error("scheduler: too many meters for a 32-bit index");
  by_id_.resize(meters_.size());
  for (std::size_t i = 0; i < meters_.size(); ++i) by_id_[i] = static_cast<std::uint32_t>(i);
  std::sort(by_id_.begin(), by_id_.end(),
            [this](std::uint32_t a, std::uint32_t b) { return meters_[a]->meter_id < meters_[b]->meter_id; });
  by_channel_.resize(meters_.size());
  for (std::size_t i = 0; i < meters_.size(); ++i) by_channel_[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(by_channel_.begin(), by_channel_.end(), [this](std::uint32_t a, std::uint32_t b) {
    return std::string_view(meters_[a]->channel_key) < std::string_view(meters_[b]->channel_key);
  });
}

std::span<const std::uint32_t> Scheduler::channel_positions(std::string_view channel_key) const {
  const auto key_of = [this](std::uint32_t i) { return std::string_view(meters_[i]->channel_key); };
  const auto first = std::lower_bound(by_channel_.begin(), by_channel_.end(), channel_key,
                                      [&](std::uint32_t i, std::string_view key) { return key_of(i) < key; });
  const auto last = std::upper_bound(first, by_channel_.end(), channel_key,
                                     [&](std::string_view key, std::uint32_t i) { return key < key_of(i); });
  return {first, last};
}

std::optional<std::size_t> Scheduler::index_of(std::string_view meter_id) const {
  const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), meter_id,
                                   [this](std::uint32_t i, std::string_view id) { return meters_[i]->meter_id < id; });
  if (it == by_id_.end() || meters_[*it]->meter_id != meter_id) return std::nullopt;
  return *it;
}

const MeterRef* Scheduler::find(std::string_view meter_id) const {
  const auto i = index_of(meter_id);
  return i ? &meters_[*i] : nullptr;
}

const MeterState* Scheduler::state_of(std::string_view meter_id) const {
  const auto i = index_of(meter_id);
  return i ? &states_[*i] : nullptr;
}

std::optional<std::uint32_t> Scheduler::position_of(const MeterRef& meter, std::uint32_t hint) const {
  if (hint < meters_.size() && meters_[hint] == meter) return hint;
  const auto i = index_of(meter->meter_id);
  if (!i) return std::nullopt;
  return static_cast<std::uint32_t>(*i);
}

// The job's position still names its meter unless the fleet changed since; then by id.
MeterState* Scheduler::state_for(const ReadJob& job) {
  const auto i = position_of(job.meter, job.meter_index);
  return i ? &states_[*i] : nullptr;
}

std::vector<std::uint32_t> Scheduler::set_meters(std::vector<MeterRef> meters) {
  std::vector<MeterState> states(meters.size());
  std::vector<std::uint32_t> previous(meters.size(), kNoMeterIndex);
  for (std::size_t i = 0; i < meters.size(); ++i) {
    const auto old = index_of(meters[i]->meter_id);
    if (!old) continue;
    previous[i] = static_cast<std::uint32_t>(*old);
    states[i] = states_[*old];
    // A changed registry row may be a reconfigured meter: probe its load profile again.
    if (meters_[*old] != meters[i]) states[i].no_load_profile = false;
  }
  meters_ = std::move(meters);
  states_ = std::move(states);
  index_meters();
  return previous;
}

void Scheduler::stop() {
  stopping_ = true;
  timer_.cancel();
}

asio::awaitable<void> Scheduler::run(std::optional<UtcSeconds> first) {
  next_ = first ? *first : first_boundary_at_or_after(clock_.now(), options_.interval);
  spdlog::info("scheduler: first boundary {}, {} meter(s), interval {} min", format_utc(*next_), meters_.size(),
               options_.interval.count());
  boost::system::error_code ec;
  while (!stopping_) {
    const auto now = clock_.now();
    if (now < UtcMillis{*next_}) {
      timer_.expires_after(clock_.real_wait(UtcMillis{*next_} - now));
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (static_cast<int>(outstanding_.size()) >= options_.max_outstanding_cycles) {
      // Woken by emit_completed_cycles() (or stop()).
      timer_.expires_after(std::chrono::hours{24});
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    const auto boundary = *next_;
    next_ = boundary + options_.interval;
    start_cycle(boundary);
  }
}

void Scheduler::start_cycle(UtcSeconds boundary) {
  auto& cycle = outstanding_[boundary];
  cycle.report.boundary = boundary;
  cycle.report.meters = static_cast<int>(meters_.size());
  cycle.pending = static_cast<int>(meters_.size());
  for (std::size_t i = 0; i < meters_.size(); ++i) {
    const auto& meter = meters_[i];
    ReadJob job;
    job.meter = meter;
    job.meter_index = static_cast<std::uint32_t>(i);
    job.boundary = boundary;
    job.interval = options_.interval;
    job.not_before = spread_slot(boundary, options_, meter->meter_id);
    job.retry_deadline = UtcMillis{boundary + options_.interval};
    job.current_registers = states_[i].no_load_profile && !is_load_profile_probe(boundary);
    if (job.current_registers) job.records = 1;
    dispatch_(std::move(job));
  }
  emit_completed_cycles();  // a fleet of zero meters completes at once
}

void Scheduler::on_job_report(const JobReport& report) {
  if (report.job.source == storage::ReadSource::backfill) return;  // old boundaries: not the meter's current state
  // A meter removed from the registry while its read was in flight keeps no state.
  MeterState removed;
  auto* found = state_for(report.job);
  auto& state = found == nullptr ? removed : *found;
  if (found != nullptr && is_load_profile_refusal(report)) {
    state.no_load_profile = true;
    if (read_registers_instead(report)) return;  // that read's report settles state and cycle
  }
  // A Modbus read brings only B; its interval's start is the previous cycle's successful read.
  const bool previous_read = state.last_success_boundary == report.job.boundary - report.job.interval;
  state.last_outcome = report.final_outcome();
  if (report.ok()) {
    // A load profile read after all (the midnight probe, an on-demand read): the meter has one.
    if (!report.job.current_registers && report.job.freeze == FreezeKind::none) state.no_load_profile = false;
    state.last_success = report.collected_at;
    state.last_success_boundary = report.job.boundary;
    state.consecutive_failures = 0;
  } else {
    ++state.consecutive_failures;
  }
  const auto it = outstanding_.find(report.job.boundary);
  if (it == outstanding_.end() || report.job.source != storage::ReadSource::scheduled) return;
  auto& cycle = it->second;
  cycle.report.attempts += static_cast<int>(report.attempts.size());
  if (report.ok()) {
    ++cycle.report.meters_ok;
  } else {
    const auto& last = report.attempts.empty() ? AttemptReport{} : report.attempts.back();
    cycle.report.failed.push_back({report.job.meter->meter_id, report.job.meter->channel_key, report.final_outcome(),
                                   last.detail});
  }
  const auto start = report.job.boundary - report.job.interval;
  for (auto channel : {&RegisterSnapshot::forward_active_wh, &RegisterSnapshot::reverse_active_wh}) {
    if (has_ends(report.snapshots, start, report.job.boundary, channel, previous_read)) ++cycle.report.intervals;
  }
  --cycle.pending;
  emit_completed_cycles();
}

bool Scheduler::read_registers_instead(const JobReport& refused) {
  const auto& job = refused.job;
  const auto now = clock_.now();
  const auto it = outstanding_.find(job.boundary);
  if (job.source != storage::ReadSource::scheduled || it == outstanding_.end() ||
      now >= UtcMillis{job.boundary} + job.meter->register_tolerance)
    return false;
  it->second.report.attempts += static_cast<int>(refused.attempts.size());
  ReadJob registers = job;
  registers.current_registers = true;
  registers.records = 1;
  registers.not_before = now;
  dispatch_(std::move(registers));
  return true;
}

void Scheduler::emit_completed_cycles() {
  bool emitted = false;
  while (!outstanding_.empty() && outstanding_.begin()->second.pending <= 0) {
    on_cycle_(outstanding_.begin()->second.report);
    outstanding_.erase(outstanding_.begin());
    emitted = true;
  }
  if (emitted) timer_.cancel();
}

}  // namespace ami::collection
