#include "storage/vee/register_delta.hpp"

namespace ami::storage::vee {

std::int64_t RegisterDial::resolution_wh() const {
  std::int64_t wh = 1000;
  for (int i = 0; i < decimal_digits && wh > 1; ++i) wh /= 10;
  return wh;
}

std::int64_t RegisterDial::max_wh() const {
  // Beyond 15 digits nothing real rolls over within int64 Wh: treat as unknown.
  const int decimals = decimal_digits < 0 ? 0 : (decimal_digits > 3 ? 3 : decimal_digits);
  if (integer_digits <= 0 || integer_digits + decimals > 15) return 0;
  std::int64_t counts = 1;
  for (int i = 0; i < integer_digits + decimals; ++i) counts *= 10;
  return (counts - 1) * resolution_wh();
}

std::int64_t RegisterDial::modulus_wh() const {
  const auto max = max_wh();
  return max == 0 ? 0 : max + resolution_wh();
}

namespace {

// One meter's register from start to end (no replacement in between).
RegisterDelta single_meter_delta(std::int64_t start_wh, std::int64_t end_wh, std::int64_t intervals,
                                 const ChannelSpec& spec, const VeeConfig& config) {
  const std::int64_t raw = end_wh - start_wh;
  const std::int64_t modulus = spec.dial.modulus_wh();
  RegisterDelta delta{DeltaKind::normal, raw, 0};

  if (spec.bidirectional) {
    if (modulus > 0 && raw > modulus / 2) {
      delta = {DeltaKind::rollover, raw - modulus, 0};
    } else if (modulus > 0 && raw < -modulus / 2) {
      delta = {DeltaKind::rollover, raw + modulus, 0};
    }
    if (delta.kind == DeltaKind::rollover) set(delta.flags, Flag::rollover);
    return delta;
  }

  if (raw >= 0) {
    if (modulus > 0 && raw > modulus / 2) {
      delta.register_wh = raw - modulus;  // went down through zero
    } else {
      return delta;
    }
  } else if (modulus > 0 && raw + modulus <= config.max_register_wh_per_interval * intervals) {
    delta = {DeltaKind::rollover, raw + modulus, 0};
    set(delta.flags, Flag::rollover);
    return delta;
  }
  if (!config.check_reverse) return delta;
  delta.kind = DeltaKind::reverse;
  set(delta.flags, Flag::reverse_rotation);
  return delta;
}

}  // namespace

RegisterDelta register_delta(std::int64_t start_wh, std::int64_t end_wh, std::int64_t intervals,
                             const ChannelSpec& spec, const VeeConfig& config,
                             const MeterEvent* replacement) {
  if (replacement == nullptr) return single_meter_delta(start_wh, end_wh, intervals, spec, config);

  RegisterDelta delta{DeltaKind::unknown, 0, 0};
  set(delta.flags, Flag::meter_replaced);
  if (!replacement->old_final_wh || !replacement->new_initial_wh) return delta;

  const auto before = single_meter_delta(start_wh, *replacement->old_final_wh, intervals, spec, config);
  const auto after = single_meter_delta(*replacement->new_initial_wh, end_wh, intervals, spec, config);
  delta.register_wh = before.register_wh + after.register_wh;
  delta.flags |= before.flags | after.flags;
  delta.kind = (before.kind == DeltaKind::reverse || after.kind == DeltaKind::reverse)
                   ? DeltaKind::reverse
                   : DeltaKind::replacement;
  return delta;
}

}  // namespace ami::storage::vee
