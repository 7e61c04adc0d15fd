#include "headend/modbus/session.hpp"

#include <array>

#include "protocols/modbus/decode.hpp"
#include "protocols/modbus/pdu.hpp"

namespace ami::modbus {

std::shared_ptr<const ReadPlan> PlanCache::plan_for(const RegisterMap& map) {
  std::lock_guard lock(mutex_);
  auto& plan = plans_[&map];
  if (!plan) plan = std::make_shared<const ReadPlan>(plan_reads(map));
  return plan;
}

std::shared_ptr<const ReadPlan> PlanCache::split(const RegisterMap& map, const std::shared_ptr<const ReadPlan>& seen,
                                                 std::size_t block) {
  std::lock_guard lock(mutex_);
  auto& current = plans_[&map];
  // Another worker may have split (or re-planned) meanwhile: split from what the caller saw.
  auto next = std::make_shared<ReadPlan>(*seen);
  const auto ranges = register_ranges(map);
  if (!split_block_in_plan(*next, block, ranges)) return nullptr;
  if (current == seen) {
    current = next;
    ++splits_;
  }
  return next;
}

std::uint64_t PlanCache::splits() const {
  std::lock_guard lock(mutex_);
  return splits_;
}

std::string_view to_string(MeterOutcome o) {
  switch (o) {
    case MeterOutcome::ok: return "ok";
    case MeterOutcome::timeout: return "timeout";
    case MeterOutcome::unreachable: return "unreachable";
    case MeterOutcome::link_error: return "link_error";
    case MeterOutcome::meter_error: return "meter_error";
    case MeterOutcome::bad_reply: return "bad_reply";
    case MeterOutcome::bad_request: return "bad_request";
    case MeterOutcome::cancelled: return "cancelled";
  }
  return "?";
}

namespace {

MeterOutcome outcome_of(const TransactionResult& t) {
  switch (t.status) {
    case TransactionStatus::ok: return MeterOutcome::ok;
    case TransactionStatus::timeout: return MeterOutcome::timeout;
    case TransactionStatus::link_error: return MeterOutcome::link_error;
    case TransactionStatus::bad_reply: return MeterOutcome::bad_reply;
    case TransactionStatus::exception:
      return classify_exception(t.exception_code) == ExceptionClass::meter_unreachable ? MeterOutcome::unreachable
                                                                                      : MeterOutcome::meter_error;
  }
  return MeterOutcome::bad_reply;
}

std::string describe_block(const ReadBlock& b) {
  return "function " + std::to_string(static_cast<int>(b.function)) + " registers " + std::to_string(b.start) +
         "+" + std::to_string(b.count);
}

}  // namespace

MeterReadResult read_meter(Link& link, const MeterRequest& request, PlanCache& plans) {
  MeterReadResult result;
  if (request.map == nullptr) {
    result.detail = "meter " + request.meter_id + " has no register map";
    return result;
  }
  if (request.ct_ratio < 1 || request.pt_ratio < 1) {
    result.detail = "meter " + request.meter_id + ": CT and PT ratios must be >= 1";
    return result;
  }
  const RegisterMap& map = *request.map;
  auto plan = plans.plan_for(map);
  std::array<std::uint16_t, kMaxReadRegisters> registers{};
  std::vector<PointReading> decoded;
  decoded.reserve(map.points.size());

  for (std::size_t i = 0; i < plan->size();) {
    const ReadBlock& block = (*plan)[i];
    ++result.transactions;
    const auto t = link.read_registers(request.unit, block.function, block.start, block.count, registers);
    if (t.status == TransactionStatus::exception &&
        classify_exception(t.exception_code) == ExceptionClass::block_rejected) {
      if (auto next = plans.split(map, plan, i)) {
        plan = std::move(next);  // retry the first half at the same index
        continue;
      }
      result.unavailable.push_back(map.points[block.points.front()].name);
      ++i;
      continue;
    }
    if (t.status != TransactionStatus::ok) {
      result.outcome = outcome_of(t);
      result.detail = describe_block(block) + ": " + t.detail;
      return result;
    }
    decode_block(map, block, std::span<const std::uint16_t>(registers.data(), block.count), decoded);
    ++i;
  }

  result.outcome = MeterOutcome::ok;
  for (const PointReading& r : decoded) {
    const Point& point = map.points[r.point];
    if (r.value.status != ValueStatus::ok) {
      result.unavailable.push_back(point.name);
      continue;
    }
    const auto scaled = apply_transformer_ratios(r.quantity, r.value.value, request.ct_ratio, request.pt_ratio);
    if (!scaled) {
      result.unavailable.push_back(point.name);
      continue;
    }
    result.readings.push_back(CanonicalReading{r.quantity, *scaled});
  }
  return result;
}

}  // namespace ami::modbus
