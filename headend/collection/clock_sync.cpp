#include "headend/collection/clock_sync.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "headend/collection/boundary_read.hpp"
#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::collection {
namespace {

constexpr std::uint8_t kFnWrite = 0x14;

std::string seconds_text(std::chrono::milliseconds d) { return fmt::format("{:+.1f} s", static_cast<double>(d.count()) / 1000.0); }

}  // namespace

std::string_view to_string(ClockVerdict verdict) {
  switch (verdict) {
    case ClockVerdict::in_tolerance: return "in_tolerance";
    case ClockVerdict::correct: return "correct";
    case ClockVerdict::flag_no_correction: return "flagged_correction_off";
    case ClockVerdict::flag_beyond_max: return "flagged_beyond_max_correction";
    case ClockVerdict::flag_corrected_recently: return "flagged_corrected_recently";
  }
  return "unknown";
}

ClockVerdict decide_clock(std::chrono::milliseconds skew, const ClockPolicy& policy,
                          std::optional<UtcMillis> last_correction, UtcMillis now) {
  const auto magnitude = std::chrono::abs(skew);
  if (magnitude <= policy.tolerance) return ClockVerdict::in_tolerance;
  if (!policy.correct) return ClockVerdict::flag_no_correction;
  if (magnitude > policy.max_correction) return ClockVerdict::flag_beyond_max;
  if (last_correction && now - *last_correction < policy.min_between_corrections)
    return ClockVerdict::flag_corrected_recently;
  return ClockVerdict::correct;
}

bool broadcast_allowed(const std::vector<BusMeterClock>& bus, const ClockPolicy& policy, std::string& why_not) {
  for (const auto& m : bus) {
    if (m.utc_offset_minutes != bus.front().utc_offset_minutes) {
      why_not = fmt::format("meters on the bus keep different UTC offsets ({} min, {} has {} min)",
                            bus.front().utc_offset_minutes, m.meter_id, m.utc_offset_minutes);
      return false;
    }
    if (m.skew && std::chrono::abs(*m.skew) > policy.max_correction) {
      why_not = fmt::format("meter {} on the bus is {} off, beyond max_correction {} s", m.meter_id,
                            seconds_text(*m.skew), policy.max_correction.count());
      return false;
    }
  }
  return true;
}

bool near_local_midnight(UtcMillis now, std::chrono::milliseconds skew, int utc_offset_minutes,
                         const ClockPolicy& policy) {
  using std::chrono::milliseconds;
  constexpr milliseconds day = std::chrono::hours{24};
  const milliseconds margin = policy.max_correction + std::chrono::seconds{60};
  const milliseconds offset = std::chrono::minutes{utc_offset_minutes};
  const auto too_close = [&](UtcMillis utc) {
    auto since_midnight = (utc.time_since_epoch() + offset) % day;
    if (since_midnight < milliseconds::zero()) since_midnight += day;
    return since_midnight < margin || day - since_midnight < margin;
  };
  return too_close(now) || too_close(now + skew);
}

dlt645::Frame make_clock_read_request(const dlt645::Address& address, std::uint32_t di) {
  return dlt645::make_read_request(address, di);
}

bool is_clock_read_reply(std::uint32_t di, const dlt645::Frame& reply) { return answers_read_of(di, reply); }

ClockFieldResult interpret_clock_reply(std::uint32_t di, const dlt645::Frame& reply) {
  ClockFieldResult result;
  auto decoded = decode_read_reply(di, reply);
  result.outcome = decoded.outcome;
  result.detail = std::move(decoded.detail);
  if (result.outcome != Outcome::ok) return result;
  if (!decoded.fields.front().available) {
    result.outcome = Outcome::bad_reply;
    result.detail = fmt::format("{:08X} value unusable: not available (all FF)", di);
    return result;
  }
  result.value = decoded.fields.front().time;
  return result;
}

std::optional<UtcMillis> meter_clock_utc(const dlt645::MeterDateTime& date, const dlt645::MeterDateTime& time,
                                         int utc_offset_minutes) {
  dlt645::MeterDateTime local = date;
  local.hour = time.hour;
  local.minute = time.minute;
  local.second = time.second;
  const auto utc = dlt645::to_utc(local, utc_offset_minutes);
  if (!utc) return std::nullopt;
  return UtcMillis{*utc} + std::chrono::milliseconds{500};
}

std::optional<dlt645::Frame> make_time_broadcast(UtcSeconds utc, int utc_offset_minutes) {
  return dlt645::make_broadcast_time_sync(dlt645::to_meter_time(utc, utc_offset_minutes));
}

dlt645::Frame make_time_set_request(const dlt645::Address& address, UtcSeconds utc, int utc_offset_minutes,
                                    const ClockPolicy& policy) {
  const auto local = dlt645::to_meter_time(utc, utc_offset_minutes);
  std::array<std::uint8_t, 3> value{};  // ss mm hh, BCD
  const int parts[] = {local.second, local.minute, local.hour};
  for (std::size_t i = 0; i < value.size(); ++i)
    dlt645::encode_bcd(static_cast<std::uint64_t>(parts[i]), std::span<std::uint8_t>(&value[i], 1));
  return dlt645::make_write_request(address, kDiMeterTime, policy.password, policy.operator_code, value);
}

bool is_write_reply(const dlt645::Frame& reply) {
  return reply.control.from_meter() && reply.control.function() == kFnWrite;
}

ReadJob ClockSupervisor::clock_job(const MeterRef& meter, std::uint32_t position, ClockCommand command,
                                   UtcSeconds boundary, UtcMillis now) const {
  ReadJob job;
  job.meter = meter;
  job.meter_index = position;
  job.boundary = boundary;
  job.clock = command;
  job.priority = Priority::scheduled;  // among the cycle's reads, so the reading is fresh
  job.not_before = now;
  job.retry_deadline = now;  // one attempt: a failed clock job is retried later, not in a loop
  return job;
}

MeterClockState& ClockSupervisor::at(std::uint32_t position) {
  if (position == kNoMeterIndex) return removed_ = MeterClockState{};
  if (position >= states_.size()) states_.resize(static_cast<std::size_t>(position) + 1);
  return states_[position];
}

void ClockSupervisor::remap(const std::vector<std::uint32_t>& previous) {
  std::vector<MeterClockState> moved(states_.empty() ? 0 : previous.size());
  for (std::size_t i = 0; i < moved.size(); ++i)
    if (previous[i] < states_.size()) moved[i] = states_[previous[i]];
  states_ = std::move(moved);
}

std::optional<ReadJob> ClockSupervisor::read_if_due(const MeterRef& meter, std::uint32_t position,
                                                    UtcSeconds boundary, UtcMillis now) {
  if (!policy_.enabled || meter->protocol != "dlt645-2007" || position == kNoMeterIndex) return std::nullopt;
  auto& s = at(position);
  if (s.in_flight) return std::nullopt;
  if (s.last_read_at && now - *s.last_read_at < policy_.read_every) return std::nullopt;
  if (s.last_read_attempt_at && (!s.last_read_at || *s.last_read_attempt_at > *s.last_read_at) &&
      now - *s.last_read_attempt_at < policy_.retry_failed_read_after)
    return std::nullopt;
  s.in_flight = true;
  s.last_read_attempt_at = now;
  return clock_job(meter, position, ClockCommand::read, boundary, now);
}

ClockSupervisor::FollowUp ClockSupervisor::on_report(const JobReport& report, std::uint32_t position,
                                                      const ClockBus& bus, UtcMillis now) {
  FollowUp out;
  // Every state this report may touch exists before any reference to one is taken (no resize later).
  std::uint32_t highest = position == kNoMeterIndex ? 0 : position;
  for (const auto& m : bus)
    if (m.position != kNoMeterIndex) highest = std::max(highest, m.position);
  if (highest >= states_.size()) states_.resize(static_cast<std::size_t>(highest) + 1);
  auto& s = at(position);
  s.in_flight = false;
  if (report.job.clock == ClockCommand::read) {
    on_reading(report, position, bus, now, out);
  } else {
    on_correction(report, position, bus, now, out);
  }
  return out;
}

void ClockSupervisor::on_reading(const JobReport& report, std::uint32_t position, const ClockBus& bus,
                                 UtcMillis now, FollowUp& out) {
  const auto& meter = report.job.meter;
  auto& s = at(position);
  if (!report.ok() || !report.meter_clock) return;  // tried again after retry_failed_read_after
  const auto skew = std::chrono::duration_cast<std::chrono::milliseconds>(*report.meter_clock - report.collected_at);
  s.last_read_at = now;
  s.skew = skew;
  const auto previous = s.verdict;
  s.verdict = decide_clock(skew, policy_, s.last_correction_at, now);
  const bool flagged = s.verdict != ClockVerdict::in_tolerance;
  if (flagged && previous != s.verdict)
    out.audit.push_back({"clock_sync", "meter_clock_flagged",
                         fmt::format("meter={} skew={} tolerance={} s max_correction={} s verdict={}", meter->meter_id,
                                     seconds_text(skew), policy_.tolerance.count(), policy_.max_correction.count(),
                                     to_string(s.verdict))});
  if (s.verdict != ClockVerdict::correct) return;
  if (policy_.method == ClockMethod::broadcast) {
    std::vector<BusMeterClock> clocks;
    for (const auto& m : bus)
      clocks.push_back({m.target->meter_id, m.target->utc_offset_minutes,
                        m.position == position ? s.skew : skew_of(m.position)});
    std::string why_not;
    if (!broadcast_allowed(clocks, policy_, why_not)) {
      s.verdict = ClockVerdict::flag_beyond_max;
      out.audit.push_back({"clock_sync", "meter_clock_not_corrected",
                           fmt::format("meter={} skew={} broadcast withheld: {}", meter->meter_id, seconds_text(skew),
                                       why_not)});
      return;
    }
  } else if (near_local_midnight(now, skew, meter->utc_offset_minutes, policy_)) {
    // The 14H write carries no date. Measured again after retry_failed_read_after, clear of midnight.
    out.audit.push_back({"clock_sync", "meter_clock_not_corrected",
                         fmt::format("meter={} skew={} time set withheld: near local midnight (within "
                                     "max_correction + 60 s; the 14H write carries no date)",
                                     meter->meter_id, seconds_text(skew))});
    s.last_read_at.reset();
    return;
  }
  s.in_flight = true;
  out.jobs.push_back(clock_job(meter, position,
                               policy_.method == ClockMethod::broadcast ? ClockCommand::broadcast : ClockCommand::set_time,
                               report.job.boundary, now));
}

void ClockSupervisor::on_correction(const JobReport& report, std::uint32_t position, const ClockBus& bus,
                                    UtcMillis now, FollowUp& out) {
  const auto& meter = report.job.meter;
  auto& s = at(position);
  const bool broadcast = report.job.clock == ClockCommand::broadcast;
  // The meter's clock when the time was sent, as last measured.
  const auto sent_at = report.clock_sent ? UtcMillis{*report.clock_sent} : now;
  const auto old_meter_time = s.skew ? std::optional<UtcMillis>(sent_at + *s.skew) : std::nullopt;
  const auto& last = report.attempts.empty() ? AttemptReport{} : report.attempts.back();
  out.audit.push_back(
      {"clock_sync", broadcast ? "meter_time_broadcast" : "meter_time_set",
       fmt::format("meter={} channel={} asked_by=clock_sync policy (skew {} beyond tolerance {} s, max correction {} s) "
                   "method={} old_meter_time={} new_time={} outcome={}{}{}",
                   meter->meter_id, meter->channel_key, s.skew ? seconds_text(*s.skew) : std::string("unknown"),
                   policy_.tolerance.count(), policy_.max_correction.count(), broadcast ? "broadcast_08H" : "write_14H",
                   old_meter_time ? format_utc_ms(*old_meter_time) : std::string("unknown"),
                   report.clock_sent ? format_utc(*report.clock_sent) : std::string("not sent"),
                   to_string(report.final_outcome()), last.detail.empty() ? "" : ": ", last.detail)});
  if (!report.ok()) return;  // the next due read measures again
  // A broadcast sets every meter on the bus: each counts as corrected and is measured afresh.
  for (const auto& m : bus) {
    if (!broadcast || m.position == position || m.position == kNoMeterIndex) continue;  // `s` below
    auto& other = at(m.position);
    other.last_correction_at = now;
    other.skew.reset();
    other.last_read_at.reset();
  }
  s.last_correction_at = now;
  s.skew.reset();
  s.last_read_at.reset();
  s.in_flight = true;
  out.jobs.push_back(clock_job(meter, position, ClockCommand::read, report.job.boundary, now));  // verify
}

std::optional<std::chrono::milliseconds> ClockSupervisor::skew_of(std::uint32_t position) const {
  return position < states_.size() ? states_[position].skew : std::nullopt;
}

const MeterClockState* ClockSupervisor::state(std::uint32_t position) const {
  return position < states_.size() ? &states_[position] : nullptr;
}

}  // namespace ami::collection
