// Deterministic load model of one simulated meter: the true energy registers at any instant.
//
// Why closed form: a meter's memory (load profile, freezes) must be consistent for any simulated
// time and 100,000 meters must fit in < 1 KiB each, so nothing is stored per interval. Energy is
// counted per 15-minute slot of meter-local time:
//   E(k) = B(k) + h(k+1) - h(k)            [mWh, signed: > 0 import, < 0 export]
// B(k) = scale x a shared week shape (residential / commercial, weekday / weekend, optional
// rooftop solar, per-meter phase shift); h is a hash noise that is forced to 0 wherever B changes
// sign or the tariff changes, and is bounded so E(k) keeps the sign of B(k). Sums of the positive
// (forward) and negative (reverse) parts, in total and per tariff, then telescope, so a register
// at any instant costs a few table look-ups. Inside a slot energy accrues linearly per millisecond,
// so forward and reverse never both grow in the same minute and both are monotone non-decreasing.
//
// Ownership/threads: the week tables of the 24 variants (class x shift x solar) are built once on
// first use (thread-safe static) and read-only afterwards; LoadParams and LoadModel (~200 bytes)
// are immutable values any thread may use.
// Errors: none; inputs are validated when the fleet is built.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "protocols/common/clock.hpp"

namespace ami::sim {

inline constexpr int kTariffs = 4;  // 1 sharp, 2 peak, 3 flat, 4 valley
inline constexpr std::int64_t kSlotSeconds = 900;
inline constexpr int kSlotsPerDay = 96;
inline constexpr int kSlotsPerWeek = 7 * kSlotsPerDay;

enum class LoadClass : std::uint8_t { residential, commercial };
inline constexpr int kShiftVariants = 4;  // per-meter phase shift of 0..3 slots
inline constexpr int kSolarVariants = 3;  // 0 none, 1 small, 2 large rooftop array

std::string_view to_string(LoadClass c);

// Everything a meter's load depends on; derived from (seed, meter key) by make_load_params().
struct LoadParams {
  LoadClass load_class = LoadClass::residential;
  std::uint8_t shift_slots = 0;      // 0..kShiftVariants-1
  std::uint8_t solar = 0;            // 0..kSolarVariants-1
  std::uint16_t scale_percent = 100; // multiplies the shape
  std::uint64_t noise_key = 0;       // hash key of the noise h(k)
  std::int64_t initial_wh = 0;       // forward register at the model epoch; reverse starts at 0
  friend bool operator==(const LoadParams&, const LoadParams&) = default;
};

// Deterministic: same (seed, meter_key) -> same params; different keys or seeds differ.
LoadParams make_load_params(std::uint64_t seed, std::uint64_t meter_key);

// True internal registers in Wh (before the protocol's resolution), per tariff as well.
struct Registers {
  std::int64_t forward_wh = 0;
  std::int64_t reverse_wh = 0;
  std::array<std::int64_t, kTariffs> forward_tariff_wh{};
  std::array<std::int64_t, kTariffs> reverse_tariff_wh{};
  friend bool operator==(const Registers&, const Registers&) = default;
};

// The global time-of-use table: tariff (1..4) of a local time of day.
int tariff_of_local_slot(int slot_of_day);

class LoadModel {
 public:
  // Registers count from epoch() (UTC): before it they hold their epoch values.
  LoadModel(const LoadParams& params, int utc_offset_minutes);

  [[nodiscard]] Registers registers_at(UtcMillis t) const;
  // Signed active power in W during the slot containing t (> 0 import, < 0 export).
  [[nodiscard]] std::int64_t power_w_at(UtcMillis t) const;
  // Signed energy of local slot k in mWh (exposed for tests of the invariants).
  [[nodiscard]] std::int64_t slot_energy_mwh(std::int64_t k) const;
  [[nodiscard]] std::int64_t local_slot_of(UtcMillis t) const;
  [[nodiscard]] const LoadParams& params() const { return params_; }

  // The model epoch: registers are initial_wh / 0 there.
  static UtcSeconds epoch();

 private:
  struct Sums {
    std::int64_t forward = 0;  // mWh
    std::int64_t reverse = 0;
    std::array<std::int64_t, kTariffs> forward_tariff{};
    std::array<std::int64_t, kTariffs> reverse_tariff{};
  };
  [[nodiscard]] std::int64_t base_mwh(std::int64_t k) const;
  [[nodiscard]] std::int64_t noise_mwh(std::int64_t k) const;
  // Sums of slots [0, k) up to a constant that cancels in differences.
  [[nodiscard]] Sums sums_before(std::int64_t k) const;
  // Sums up to a local instant in ms since 1970-01-01 00:00 local (same constant as sums_before).
  [[nodiscard]] Sums sums_at(std::int64_t local_ms) const;

  LoadParams params_;
  std::int64_t offset_seconds_;
  const struct VariantTables* tables_;
  Sums epoch_sums_;  // sums_at(epoch), cached: every register read subtracts it
};

}  // namespace ami::sim
