#include "headend/daemon/records.hpp"

#include <fmt/format.h>

#include "storage/registry.hpp"

namespace ami::daemon {

std::optional<collection::MeterTarget> TargetBuilder::build(const storage::MeterRecord& m,
                                                           std::vector<std::string>& skipped) {
  if (!m.enabled) return std::nullopt;
  collection::MeterTarget t;
  t.meter_id = m.meter_id;
  if (protocol_ != m.protocol) protocol_ = m.protocol;
  if (channel_ != m.channel) channel_ = m.channel;
  t.protocol = protocol_;
  t.channel_key = channel_;
  t.utc_offset_minutes = static_cast<std::int16_t>(m.utc_offset_minutes);  // validated: -720..840
  if (storage::is_dlt645(m.protocol)) {
    std::string error;
    const auto address = dlt645::Address::parse(m.address, error);
    if (!address) {
      skipped.push_back(fmt::format("meter {}: address '{}': {}", m.meter_id, m.address, error));
      return std::nullopt;
    }
    t.address = *address;
  }
  return t;
}

std::vector<collection::MeterTarget> to_targets(const std::vector<storage::MeterRecord>& meters,
                                                std::vector<std::string>& skipped) {
  std::vector<collection::MeterTarget> targets;
  TargetBuilder builder;
  for (const auto& m : meters)
    if (auto target = builder.build(m, skipped)) targets.push_back(std::move(*target));
  return targets;
}

void to_store_records(const collection::JobReport& report, std::vector<storage::BoundaryRead>& reads,
                      std::vector<storage::AttemptRecord>& attempts) {
  const auto& job = report.job;
  for (const auto& snapshot : report.snapshots) {
    const std::pair<storage::EnergyChannel, std::optional<std::int64_t>> channels[] = {
        {storage::EnergyChannel::forward_active, snapshot.forward_active_wh},
        {storage::EnergyChannel::reverse_active, snapshot.reverse_active_wh}};
    for (const auto& [channel, wh] : channels) {
      if (!wh) continue;
      storage::BoundaryRead read;
      read.meter_id = job.meter->meter_id;
      read.channel = channel;
      read.boundary = snapshot.boundary;
      read.register_wh = *wh;
      read.collected_at = report.collected_at;
      read.source = job.source;
      reads.push_back(std::move(read));
    }
  }
  for (const auto& a : report.attempts) {
    storage::AttemptRecord record;
    record.meter_id = job.meter->meter_id;
    record.channel = job.meter->channel_key;
    record.boundary = job.boundary;
    record.started_at = a.started_at;
    record.latency_ms = a.latency_ms;
    record.attempt = a.attempt;
    record.outcome = collection::to_string(a.outcome);  // static names: no copy per attempt
    record.category = collection::to_string(collection::category_of(a.outcome));
    record.detail = a.detail;
    record.source = job.source;
    attempts.push_back(std::move(record));
  }
}

std::string format_cycle_line(const collection::CycleReport& report, std::uint64_t feed_head) {
  constexpr std::size_t kListed = 5;
  std::string failed;
  for (std::size_t i = 0; i < report.failed.size() && i < kListed; ++i) {
    if (!failed.empty()) failed += ',';
    failed += fmt::format("{}({})", report.failed[i].meter_id, collection::to_string(report.failed[i].outcome));
  }
  if (report.failed.size() > kListed) failed += fmt::format(",+{} more", report.failed.size() - kListed);
  // A view, not `failed = "-"`: GCC 12 at -O2 warns (-Wrestrict, a false positive) on that assignment.
  const std::string_view failed_text = failed.empty() ? std::string_view("-") : std::string_view(failed);
  const double percent = report.meters > 0 ? 100.0 * report.meters_ok / report.meters : 100.0;
  return fmt::format("{} cycle {:>2}/{} read ({:.1f}%)  retries {}  failed: {}  intervals {}  feed head {}",
                     format_utc(report.boundary), report.meters_ok, report.meters, percent, report.retries(),
                     failed_text, report.intervals, feed_head);
}

}  // namespace ami::daemon
