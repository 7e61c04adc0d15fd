#include "headend/collection/backfill.hpp"

#include <algorithm>
#include <optional>

#include "headend/collection/boundary_read.hpp"
#include "headend/collection/freeze_read.hpp"

namespace ami::collection {
namespace {

ReadJob backfill_job(const MeterRef& meter, UtcSeconds start, UtcSeconds end, std::chrono::minutes interval,
                     UtcMillis now) {
  ReadJob job;
  job.meter = meter;
  job.boundary = end;
  job.interval = interval;
  job.records = static_cast<int>((end - start) / interval) + 1;
  job.source = storage::ReadSource::backfill;
  job.priority = Priority::backfill;
  job.not_before = now;
  job.retry_deadline = now + interval;
  return job;
}

// One run of consecutive missing boundaries first..last, in chunks that each start at the
// boundary before their first new one.
void plan_run(const MeterRef& meter, UtcSeconds first, UtcSeconds last, std::chrono::minutes interval,
              UtcMillis now, std::vector<ReadJob>& jobs) {
  const auto per_job = kMaxBoundaryRecords - 1;  // new boundaries per request; one record re-reads the start
  auto start = first - interval;
  while (start < last) {
    const auto end = std::min(start + interval * per_job, last);
    jobs.push_back(backfill_job(meter, start, end, interval, now));
    start = end;
  }
}

ReadJob freeze_job(const MeterRef& meter, UtcSeconds at, FreezeKind kind, std::chrono::minutes interval,
                   UtcMillis now) {
  ReadJob job = backfill_job(meter, at, at, interval, now);
  job.records = 1;
  job.freeze = kind;
  return job;
}

}  // namespace

std::vector<ReadJob> plan_freeze_reads(const MeterRef& meter, const std::vector<UtcSeconds>& boundaries,
                                       const BackfillOptions& options, UtcMillis now) {
  std::vector<ReadJob> jobs;
  if (!options.freezes) return jobs;
  const int offset = meter->utc_offset_minutes;
  for (const auto b : boundaries) {
    // Midnight is a whole hour too: the hourly freeze serves it while the meter keeps it.
    for (const auto kind : {FreezeKind::hourly, FreezeKind::daily}) {
      if (!freeze_back(kind, b, now, offset)) continue;
      jobs.push_back(freeze_job(meter, b, kind, options.interval, now));
      break;
    }
  }
  return jobs;
}

UtcSeconds backfill_window_start(UtcMillis now, const BackfillOptions& options) {
  return floor_to_interval(std::chrono::floor<std::chrono::seconds>(now - options.depth), options.interval);
}

std::vector<ReadJob> plan_backfill(const MeterRef& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
                                   const BackfillOptions& options, UtcMillis now,
                                   std::optional<std::chrono::seconds> profile_reach) {
  std::vector<ReadJob> jobs;
  const auto interval = options.interval;
  const auto window_start = backfill_window_start(now, options);
  // The oldest record the load profile surely still holds; a chunk starts there at the earliest.
  const std::chrono::seconds configured = options.load_profile_depth;
  const auto reach = std::min(configured, profile_reach.value_or(configured));
  const auto profile_oldest = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now - reach), interval) + interval;
  std::vector<UtcSeconds> to_freezes;  // missing boundaries the load profile cannot supply
  std::optional<UtcSeconds> known;  // the newest boundary known stored (or the window edge)
  if (stored.read_before_window || options.never_read) known = window_start;
  auto it = stored.boundaries.begin();
  std::optional<UtcSeconds> run_first;
  const auto close_run = [&](UtcSeconds last) {
    if (!run_first) return;
    auto first = *run_first;
    run_first.reset();
    for (; first <= last && first - interval < profile_oldest; first += interval)
      to_freezes.push_back(first);
    if (first <= last) plan_run(meter, first, last, interval, now, jobs);
  };
  if (!known) {
    if (it == stored.boundaries.end()) return jobs;  // never read: no gap to fill
    known = *it;
  }
  for (auto b = *known + interval; b < covered_from; b += interval) {
    while (it != stored.boundaries.end() && *it < b) ++it;
    if (it != stored.boundaries.end() && *it == b) {
      close_run(b - interval);
      continue;
    }
    if (!run_first) run_first = b;
  }
  close_run(covered_from - interval);
  for (auto& job : plan_freeze_reads(meter, to_freezes, options, now)) jobs.push_back(std::move(job));
  return jobs;
}

void BackfillTracker::mark_unfillable(std::uint32_t meter, const std::vector<UtcSeconds>& boundaries) {
  if (boundaries.empty()) return;
  auto& set = extra_at(meter).unfillable;
  set.insert(boundaries.begin(), boundaries.end());
  // Bounded: the window holds at most depth / interval boundaries; the oldest go first.
  const auto cap = static_cast<std::size_t>(options_.depth / options_.interval) + 1;
  while (set.size() > cap) set.erase(set.begin());
}

void BackfillTracker::set_profile_reach(std::uint32_t meter, std::optional<std::chrono::seconds> reach) {
  if (reach) {
    extra_at(meter).profile_reach = reach;
    return;
  }
  const auto it = extras_.find(meter);
  if (it == extras_.end()) return;
  it->second.profile_reach.reset();
  drop_extra_if_empty(meter);
}

void BackfillTracker::drop_extra_if_empty(std::uint32_t meter) {
  const auto it = extras_.find(meter);
  if (it != extras_.end() && it->second.unfillable.empty() && !it->second.profile_reach) extras_.erase(it);
}

const BackfillTracker::MeterBackfillExtra* BackfillTracker::find_extra(std::uint32_t meter) const {
  if (extras_.empty()) return nullptr;  // the usual case: no look-up at all
  const auto it = extras_.find(meter);
  return it == extras_.end() ? nullptr : &it->second;
}

void BackfillTracker::on_backfill_report(MeterBackfill& m, std::uint32_t meter, const JobReport& report) {
  const auto& job = report.job;
  const auto outcome = report.final_outcome();
  if (m.outstanding > 0) --m.outstanding;
  const auto now = report.attempts.empty() ? report.collected_at : report.attempts.back().started_at;
  // Age of the chunk's first record when the meter was asked for it.
  const auto age = std::chrono::floor<std::chrono::seconds>(now - (job.boundary - job.interval * (job.records - 1)));
  const auto reach = load_profile_reach(meter);
  if (outcome != Outcome::missing_record && outcome != Outcome::meter_error) {
    if (outcome == Outcome::ok && job.freeze == FreezeKind::none && reach && age > *reach)
      set_profile_reach(meter, std::nullopt);
    if (outcome != Outcome::ok && outcome != Outcome::cancelled) m.rescan = true;
    return;
  }
  if (job.freeze != FreezeKind::none) {
    // A freeze not taken yet (the meter's clock a little behind): asked again at the next scan.
    if (outcome == Outcome::missing_record && now - UtcMillis{job.boundary} < std::chrono::hours{1}) {
      m.rescan = true;
      return;
    }
    mark_unfillable(meter, {job.boundary});  // the meter has not this freeze either
    return;
  }
  // Refused (ERR): the memory does not reach that far. missing_record: it has records, not these.
  if (outcome == Outcome::meter_error) set_profile_reach(meter, std::min(age, reach.value_or(age)));
  // The chunk's first record re-reads the boundary before it, which belongs to the chunk before.
  std::vector<UtcSeconds> boundaries;
  for (int i = std::max(1, job.records - 1) - 1; i >= 0; --i) boundaries.push_back(job.boundary - job.interval * i);
  auto freezes = plan_freeze_reads(job.meter, boundaries, options_, now);
  std::vector<UtcSeconds> without_freeze;
  auto next = freezes.begin();
  for (const auto b : boundaries) {
    if (next != freezes.end() && next->boundary == b) {
      ++next;
      continue;
    }
    without_freeze.push_back(b);
  }
  mark_unfillable(meter, without_freeze);
  m.outstanding += static_cast<std::uint32_t>(freezes.size());
  for (auto& f : freezes) {
    f.meter_index = meter;
    follow_ups_.push_back(std::move(f));
  }
}

BackfillTracker::MeterBackfill& BackfillTracker::at(std::uint32_t meter) {
  if (meter >= meters_.size()) meters_.resize(static_cast<std::size_t>(meter) + 1);
  return meters_[meter];
}

const BackfillTracker::MeterBackfill* BackfillTracker::find(std::uint32_t meter) const {
  return meter < meters_.size() ? &meters_[meter] : nullptr;
}

void BackfillTracker::remap(const std::vector<std::uint32_t>& previous) {
  std::vector<MeterBackfill> moved(previous.size());
  std::unordered_map<std::uint32_t, MeterBackfillExtra> moved_extras;
  for (std::size_t i = 0; i < previous.size(); ++i) {
    if (previous[i] < meters_.size()) moved[i] = meters_[previous[i]];
    if (extras_.empty()) continue;
    if (const auto it = extras_.find(previous[i]); it != extras_.end())
      moved_extras.emplace(static_cast<std::uint32_t>(i), std::move(it->second));
  }
  meters_ = std::move(moved);
  extras_ = std::move(moved_extras);
}

bool BackfillTracker::on_report(std::uint32_t meter, const JobReport& report) {
  const auto& job = report.job;
  auto& m = at(meter);
  const auto outcome = report.final_outcome();
  if (job.source == storage::ReadSource::backfill) {
    on_backfill_report(m, meter, report);
    return false;
  }
  if (job.freeze == FreezeKind::none && !job.current_registers && !report.attempts.empty()) {
    const auto now = report.attempts.back().started_at;
    if (outcome == Outcome::meter_error) {
      // The meter refused its newest records: it has no load profile (or a transient refusal,
      // forgotten at its next good load-profile read); its gaps go straight to freezes. The
      // scheduler reads its registers in the same window (scheduler.hpp).
      set_profile_reach(meter, std::chrono::seconds{0});
    } else if (const auto reach = load_profile_reach(meter);
               outcome == Outcome::ok && reach && now - UtcMillis{job.boundary - job.interval * (job.records - 1)} > *reach) {
      set_profile_reach(meter, std::nullopt);  // it holds records older than the reach after all
    }
  }
  if (!report.ok()) {
    if (outcome != Outcome::cancelled) m.rescan = true;
    return false;
  }
  if ((m.scanned && !m.rescan) || m.outstanding > 0) return false;
  m.scanned = true;
  m.rescan = false;
  m.outstanding = 1;  // the scan itself
  return true;
}

void BackfillTracker::scan_done(std::uint32_t meter, std::size_t jobs_dispatched, bool failed) {
  auto& m = at(meter);
  if (m.outstanding > 0) --m.outstanding;
  m.outstanding += static_cast<std::uint32_t>(jobs_dispatched);
  if (failed) m.rescan = true;
}

std::vector<UtcSeconds> BackfillTracker::unfillable(std::uint32_t meter, UtcSeconds window_start) {
  const auto it = extras_.find(meter);
  if (it == extras_.end()) return {};
  auto& set = it->second.unfillable;
  set.erase(set.begin(), set.lower_bound(window_start));
  std::vector<UtcSeconds> result(set.begin(), set.end());
  drop_extra_if_empty(meter);
  return result;
}

std::optional<std::chrono::seconds> BackfillTracker::load_profile_reach(std::uint32_t meter) const {
  const auto* extra = find_extra(meter);
  return extra == nullptr ? std::nullopt : extra->profile_reach;
}

std::size_t BackfillTracker::outstanding(std::uint32_t meter) const {
  const auto* m = find(meter);
  return m == nullptr ? 0 : m->outstanding;
}

void add_unfillable(StoredBoundaries& stored, const std::vector<UtcSeconds>& unfillable) {
  auto& b = stored.boundaries;
  b.insert(b.end(), unfillable.begin(), unfillable.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
}

}  // namespace ami::collection
