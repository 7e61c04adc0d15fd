#include "headend/modbus/meter_resolver.hpp"

#include <charconv>

#include "headend/modbus/map_config.hpp"

namespace ami::modbus {

std::optional<ResolvedMeter> resolve_meter(const storage::MeterRecord& meter, const std::vector<RegisterMap>& user_maps,
                                           bool apply_ratios, std::string& error) {
  const std::string who = "meter " + meter.meter_id + ": ";
  std::string why;
  auto channel = parse_channel(meter.protocol, meter.channel, why);
  if (!channel) {
    error = who + "protocol/channel: " + why;
    return std::nullopt;
  }
  int unit = 0;
  const auto* end = meter.address.data() + meter.address.size();
  const auto [ptr, ec] = std::from_chars(meter.address.data(), end, unit);
  if (ec != std::errc{} || ptr != end || unit < 1 || unit > 247) {
    error = who + "address: '" + meter.address + "' is not a Modbus unit id 1..247";
    return std::nullopt;
  }
  const RegisterMap* map = find_map(user_maps, meter.model);
  if (map == nullptr) {
    error = who + "model: '" + meter.model +
            "' is neither a user map nor a built-in model (SDM630, SDM120, DTSU666, DDSU666, iEM3xxx, EM340)";
    return std::nullopt;
  }
  if (meter.ct_ratio < 1 || meter.pt_ratio < 1) {
    error = who + "ct_ratio/pt_ratio must be >= 1";
    return std::nullopt;
  }
  MeterRequest request{meter.meter_id, static_cast<std::uint8_t>(unit), map, apply_ratios ? meter.ct_ratio : 1,
                       apply_ratios ? meter.pt_ratio : 1};
  return ResolvedMeter{*channel, std::move(request)};
}

}  // namespace ami::modbus
