#include "simulators/faults.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "simulators/hash.hpp"

namespace ami::sim {
namespace {

constexpr std::array<std::pair<FaultKind, std::string_view>, 12> kNames{{
    {FaultKind::no_answer, "no_answer"},
    {FaultKind::late_answer, "late_answer"},
    {FaultKind::bad_checksum, "bad_checksum"},
    {FaultKind::garbage, "garbage"},
    {FaultKind::wrong_address, "wrong_address"},
    {FaultKind::offline, "offline"},
    {FaultKind::clock_jump, "clock_jump"},
    {FaultKind::modbus_exception_02, "modbus_exception_02"},
    {FaultKind::modbus_exception_0b, "modbus_exception_0b"},
    {FaultKind::refuse_connections, "refuse_connections"},
    {FaultKind::drop_connections, "drop_connections"},
    {FaultKind::spike, "spike"},
}};

std::uint64_t hash_text(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

UtcSeconds parse_time_field(const nlohmann::json& j, const char* field) {
  if (!j.at(field).is_string()) throw std::invalid_argument(fmt::format("fault '{}' must be a UTC time string", field));
  const auto text = j.at(field).get<std::string>();
  const auto t = parse_utc(text);
  if (!t) throw std::invalid_argument(fmt::format("fault '{}': not a UTC time: '{}'", field, text));
  return *t;
}

}  // namespace

std::string_view to_string(FaultKind k) {
  for (const auto& [kind, name] : kNames)
    if (kind == k) return name;
  return "?";
}

std::optional<FaultKind> parse_fault_kind(std::string_view text) {
  for (const auto& [kind, name] : kNames)
    if (name == text) return kind;
  return std::nullopt;
}

FaultRule parse_fault_rule(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("a fault must be a JSON object");
  static constexpr std::array<std::string_view, 8> kFields{"kind",  "target",   "rate",    "from",
                                                           "until", "delay_ms", "seconds", "wh"};
  for (const auto& [key, value] : j.items())
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end())
      throw std::invalid_argument(fmt::format("fault: unknown field '{}'", key));
  if (!j.contains("kind") || !j.at("kind").is_string()) throw std::invalid_argument("fault: 'kind' is required");
  FaultRule rule;
  const auto kind_text = j.at("kind").get<std::string>();
  const auto kind = parse_fault_kind(kind_text);
  if (!kind) {
    std::string known;
    for (const auto& [k, name] : kNames) known += (known.empty() ? "" : ", ") + std::string(name);
    throw std::invalid_argument(fmt::format("fault: unknown kind '{}' (known: {})", kind_text, known));
  }
  rule.kind = *kind;
  if (j.contains("target")) {
    if (!j.at("target").is_string()) throw std::invalid_argument("fault 'target' must be a string");
    rule.target = j.at("target").get<std::string>();
  }
  if (j.contains("rate")) {
    if (!j.at("rate").is_number()) throw std::invalid_argument("fault 'rate' must be a number");
    rule.rate = j.at("rate").get<double>();
    if (!(rule.rate >= 0.0 && rule.rate <= 1.0))
      throw std::invalid_argument(fmt::format("fault 'rate' must be within 0..1, got {}", rule.rate));
  }
  if (j.contains("from")) rule.from = parse_time_field(j, "from");
  if (j.contains("until")) rule.until = parse_time_field(j, "until");
  if (rule.from && rule.until && *rule.until <= *rule.from)
    throw std::invalid_argument("fault 'until' must be after 'from'");
  for (const auto& [field, out] :
       {std::pair{"delay_ms", &rule.delay_ms}, std::pair{"seconds", &rule.seconds}, std::pair{"wh", &rule.wh}}) {
    if (!j.contains(field)) continue;
    if (!j.at(field).is_number_integer()) throw std::invalid_argument(fmt::format("fault '{}' must be an integer", field));
    *out = j.at(field).get<std::int64_t>();
  }
  if (rule.kind == FaultKind::late_answer && (rule.delay_ms <= 0 || rule.delay_ms > 600'000))
    throw std::invalid_argument("fault late_answer needs 'delay_ms' within 1..600000");
  if (rule.kind == FaultKind::clock_jump && rule.seconds == 0)
    throw std::invalid_argument("fault clock_jump needs a non-zero 'seconds'");
  if (rule.kind == FaultKind::spike && (rule.wh <= 0 || rule.wh > 10'000'000 || !rule.from || !rule.until ||
                                        *rule.until - *rule.from > std::chrono::days{31} || rule.rate != 1.0))
    throw std::invalid_argument(
        "fault spike needs 'wh' within 1..10000000, 'from' and 'until' at most 31 days apart, and no 'rate' below 1");
  return rule;
}

nlohmann::json to_json(const FaultRule& rule) {
  nlohmann::json j{{"id", rule.id}, {"kind", to_string(rule.kind)}, {"target", rule.target}, {"rate", rule.rate}};
  if (rule.from) j["from"] = format_utc(*rule.from);
  if (rule.until) j["until"] = format_utc(*rule.until);
  if (rule.kind == FaultKind::late_answer) j["delay_ms"] = rule.delay_ms;
  if (rule.kind == FaultKind::clock_jump) j["seconds"] = rule.seconds;
  if (rule.kind == FaultKind::spike) j["wh"] = rule.wh;
  return j;
}

void apply_spikes(const std::vector<FaultRule>& rules, Fleet& fleet) {
  for (const auto& rule : rules) {
    if (rule.kind != FaultKind::spike) continue;
    for (auto& gateway : fleet.gateways) {
      for (auto& meter : gateway.meters) {
        if (FaultSet::targets(rule, gateway.id, meter.id)) meter.spikes.push_back(Spike{*rule.from, *rule.until, rule.wh});
      }
    }
  }
}

std::uint64_t FaultSet::add(FaultRule rule) {
  std::lock_guard lock(mutex_);
  rule.id = next_id_++;
  rules_.push_back(std::move(rule));
  return rules_.back().id;
}

bool FaultSet::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(rules_.begin(), rules_.end(), [id](const FaultRule& r) { return r.id == id; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  return true;
}

void FaultSet::clear() {
  std::lock_guard lock(mutex_);
  rules_.clear();
  jumps_applied_.clear();
}

std::vector<FaultRule> FaultSet::rules() const {
  std::lock_guard lock(mutex_);
  return rules_;
}

bool FaultSet::targets(const FaultRule& rule, std::string_view gateway_id, std::string_view meter_id) {
  return rule.target == "*" || rule.target == gateway_id || (!meter_id.empty() && rule.target == meter_id);
}

bool FaultSet::active(const FaultRule& rule, UtcMillis now) {
  if (rule.from && now < UtcMillis{*rule.from}) return false;
  if (rule.until && now >= UtcMillis{*rule.until}) return false;
  return true;
}

std::optional<FaultRule> FaultSet::decide(std::initializer_list<FaultKind> kinds, std::string_view gateway_id,
                                          std::string_view meter_id, UtcMillis now, std::uint64_t draw) {
  std::lock_guard lock(mutex_);
  for (const auto& rule : rules_) {
    if (std::find(kinds.begin(), kinds.end(), rule.kind) == kinds.end()) continue;
    if (!targets(rule, gateway_id, meter_id) || !active(rule, now)) continue;
    if (rule.rate < 1.0) {
      const auto h = mix64(seed_ ^ mix64(rule.id) ^ hash_text(meter_id.empty() ? gateway_id : meter_id) ^ mix64(draw));
      const double u = static_cast<double>(h >> 11) / static_cast<double>(1ull << 53);
      if (u >= rule.rate) continue;
    }
    ++injected_;
    return rule;
  }
  return std::nullopt;
}

std::vector<FaultRule> FaultSet::take_clock_jumps(std::string_view gateway_id, std::string_view meter_id,
                                                  UtcMillis now) {
  std::lock_guard lock(mutex_);
  std::vector<FaultRule> out;
  for (const auto& rule : rules_) {
    if (rule.kind != FaultKind::clock_jump || !targets(rule, gateway_id, meter_id) || !active(rule, now)) continue;
    // Each rule jumps each meter once.
    if (!jumps_applied_.emplace(rule.id, std::string(meter_id)).second) continue;
    ++injected_;
    out.push_back(rule);
  }
  return out;
}

std::uint64_t FaultSet::injected_total() const {
  std::lock_guard lock(mutex_);
  return injected_;
}

}  // namespace ami::sim
