#include "storage/types.hpp"

#include <array>
#include <functional>
#include <utility>

namespace ami::storage {

std::string_view to_string(EnergyChannel channel) {
  switch (channel) {
    case EnergyChannel::forward_active: return "forward_active";
    case EnergyChannel::reverse_active: return "reverse_active";
  }
  return "unknown";
}

std::string_view to_string(ReadSource source) {
  switch (source) {
    case ReadSource::scheduled: return "scheduled";
    case ReadSource::on_demand: return "on_demand";
    case ReadSource::backfill: return "backfill";
  }
  return "unknown";
}

std::string_view to_string(IntervalStatus status) {
  switch (status) {
    case IntervalStatus::actual: return "actual";
    case IntervalStatus::estimated: return "estimated";
    case IntervalStatus::suspect: return "suspect";
  }
  return "unknown";
}

std::optional<EnergyChannel> energy_channel_from_string(std::string_view text) {
  if (text == "forward_active") return EnergyChannel::forward_active;
  if (text == "reverse_active") return EnergyChannel::reverse_active;
  return std::nullopt;
}

std::optional<ReadSource> read_source_from_string(std::string_view text) {
  if (text == "scheduled") return ReadSource::scheduled;
  if (text == "on_demand") return ReadSource::on_demand;
  if (text == "backfill") return ReadSource::backfill;
  return std::nullopt;
}

namespace {

// IEC 61968-9 MeasuringPeriodKind codes for the interval lengths that have one.
int measuring_period_code(int interval_minutes) {
  constexpr std::array<std::pair<int, int>, 7> codes{{
      {10, 1}, {15, 2}, {1, 3}, {1440, 4}, {30, 5}, {5, 6}, {60, 7},
  }};
  for (const auto& [minutes, code] : codes) {
    if (minutes == interval_minutes) return code;
  }
  return 0;
}

// IEC 61968-9 FlowDirectionKind: forward 1, reverse 19.
int flow_direction_code(EnergyChannel channel) {
  return channel == EnergyChannel::reverse_active ? 19 : 1;
}

}  // namespace

std::string reading_type_cim(EnergyChannel channel, int interval_minutes) {
  // macroPeriod.aggregate.measuringPeriod.accumulation(4 delta).flowDirection.commodity(1
  // electricity secondary metered).measurementKind(12 energy). 8 zero fields .multiplier(0).unit(72 Wh).currency
  std::string code = "0.0.";
  code += std::to_string(measuring_period_code(interval_minutes));
  code += ".4.";
  code += std::to_string(flow_direction_code(channel));
  code += ".1.12.0.0.0.0.0.0.0.0.0.72.0";
  return code;
}

std::string idempotency_key(std::string_view meter_id, std::string_view reading_type_cim,
                            std::int64_t end_unix, std::uint32_t version) {
  std::string key;
  key.reserve(meter_id.size() + reading_type_cim.size() + 32);
  key.append(meter_id).append("|").append(reading_type_cim).append("|");
  key.append(std::to_string(end_unix)).append("|").append(std::to_string(version));
  return key;
}

std::string_view intern_attempt_text(std::string_view text) { return InternedString(text).view(); }

}  // namespace ami::storage
