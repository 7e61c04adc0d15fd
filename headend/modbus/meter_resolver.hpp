// Turns a registry row (storage::MeterRecord) into what the Modbus executor needs: the channel
// (gateway/bus) and the request (unit id, register map, CT/PT). Done once per meter when the
// daemon loads its registry.
//
// Pure; any thread. Never throws: std::nullopt plus an error naming the meter and the column.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "headend/modbus/channel_spec.hpp"
#include "headend/modbus/session.hpp"
#include "storage/types.hpp"

namespace ami::modbus {

struct ResolvedMeter {
  ChannelSpec channel;
  MeterRequest request;
};

// `apply_ratios`: true -> readings come back with CT x PT applied; false -> secondary-side values
// (the staging store keeps register_wh before CT x PT and applies the multiplier itself).
std::optional<ResolvedMeter> resolve_meter(const storage::MeterRecord& meter, const std::vector<RegisterMap>& user_maps,
                                           bool apply_ratios, std::string& error);

}  // namespace ami::modbus
