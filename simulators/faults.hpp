// Faults: how simulated meters and gateways misbehave, per meter or per gateway, at random with a
// rate or scheduled for a window of simulated time. Rules come from the fleet file or are
// injected into a running simulator (admin endpoint, admin.hpp).
//
// Decisions are deterministic: whether a rule fires on a request is a hash of (seed, rule id,
// target, request counter), so a run with the same fleet, seed and traffic misbehaves the same way.
// Ownership/threads: a FaultSet is shared by all buses of a process and guarded by its mutex
// (admin thread writes, bus threads read). parse_fault_rule() throws std::invalid_argument naming
// the bad field.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "protocols/common/clock.hpp"
#include "simulators/fleet.hpp"

namespace ami::sim {

enum class FaultKind : std::uint8_t {
  no_answer,           // the meter stays silent
  late_answer,         // the reply comes delay_ms (real) late, holding the bus
  bad_checksum,        // DL/T 645 reply with a wrong CS byte
  garbage,             // random bytes instead of the reply
  wrong_address,       // the reply comes from another address / unit id
  offline,             // the meter is gone for the window, then back (Modbus gateways answer 0x0B)
  clock_jump,          // the meter clock jumps by `seconds` when the rule is injected / its window starts
  modbus_exception_02, // the meter answers exception 0x02 (illegal data address)
  modbus_exception_0b, // the gateway answers exception 0x0B (target device failed to respond)
  refuse_connections,  // gateway: accepts and closes at once
  drop_connections,    // gateway: closes the connection instead of answering
  spike,               // the meter consumes `wh` extra, spread evenly over [from, until) (fleet file only)
};
std::string_view to_string(FaultKind k);
std::optional<FaultKind> parse_fault_kind(std::string_view text);

struct FaultRule {
  std::uint64_t id = 0;          // assigned by FaultSet::add
  FaultKind kind = FaultKind::no_answer;
  std::string target = "*";      // meter id (gw001-m0002), gateway id (gw001) or "*"
  double rate = 1.0;             // chance per request while active, 0..1
  std::optional<UtcSeconds> from;   // active window in simulated time (absent: always)
  std::optional<UtcSeconds> until;
  std::int64_t delay_ms = 0;     // late_answer
  std::int64_t seconds = 0;      // clock_jump
  std::int64_t wh = 0;           // spike: extra forward energy over the window
};

// {"kind":"no_answer","target":"gw001-m0002","rate":0.5,"from":"2026-...Z","until":"...","delay_ms":..,"seconds":..}
FaultRule parse_fault_rule(const nlohmann::json& j);
nlohmann::json to_json(const FaultRule& rule);

struct FaultCounters {
  std::uint64_t injected = 0;  // times a rule fired
};

// Spike rules change what a meter really consumes, so they belong to the register model (and the
// truth), not to request handling: each spike rule of `rules` is added to the MeterSpec::spikes of
// the meters it targets. Called once on the fleet of a fleet file, before anything reads it.
void apply_spikes(const std::vector<FaultRule>& rules, Fleet& fleet);

class FaultSet {
 public:
  explicit FaultSet(std::uint64_t seed) : seed_(seed) {}

  std::uint64_t add(FaultRule rule);
  bool remove(std::uint64_t id);
  void clear();
  [[nodiscard]] std::vector<FaultRule> rules() const;

  // The first rule of one of `kinds` that fires now for a request to `meter_id` on `gateway_id`
  // (`meter_id` empty for gateway-level decisions). `draw` is a per-target request counter.
  std::optional<FaultRule> decide(std::initializer_list<FaultKind> kinds, std::string_view gateway_id,
                                  std::string_view meter_id, UtcMillis now, std::uint64_t draw);
  // Clock jumps not yet applied to `meter_id`, marked applied (each rule jumps a meter once).
  std::vector<FaultRule> take_clock_jumps(std::string_view gateway_id, std::string_view meter_id, UtcMillis now);
  [[nodiscard]] std::uint64_t injected_total() const;

 private:
  friend void apply_spikes(const std::vector<FaultRule>& rules, Fleet& fleet);
  static bool targets(const FaultRule& rule, std::string_view gateway_id, std::string_view meter_id);
  static bool active(const FaultRule& rule, UtcMillis now);

  std::uint64_t seed_;
  mutable std::mutex mutex_;
  std::vector<FaultRule> rules_;
  std::set<std::pair<std::uint64_t, std::string>, std::less<>> jumps_applied_;  // (rule id, meter id)
  std::uint64_t next_id_ = 1;
  std::uint64_t injected_ = 0;
};

}  // namespace ami::sim
