#include "storage/vee/estimation.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

namespace ami::storage::vee {
namespace {

__extension__ using wide = __int128;  // total x weight may exceed int64

std::int64_t rounded_div(std::int64_t num, std::int64_t den) {
  // Round half away from zero; den > 0.
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

}  // namespace

std::vector<std::int64_t> prorate_even(std::int64_t total, std::size_t count) {
  return prorate(total, std::vector<std::int64_t>(count, 1));
}

std::vector<std::int64_t> prorate(std::int64_t total, std::span<const std::int64_t> weights) {
  std::vector<std::int64_t> parts(weights.size(), 0);
  if (weights.empty()) return parts;
  const bool usable = std::none_of(weights.begin(), weights.end(), [](auto w) { return w < 0; }) &&
                      std::any_of(weights.begin(), weights.end(), [](auto w) { return w > 0; });
  if (!usable) return prorate_even(total, weights.size());

  // Work on |total| so floors and remainders behave the same for negative totals.
  const bool negative = total < 0;
  const wide magnitude = negative ? -static_cast<wide>(total) : static_cast<wide>(total);
  const wide weight_sum = std::accumulate(weights.begin(), weights.end(), wide{0});
  std::vector<wide> remainders(weights.size());
  wide assigned = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const wide exact = magnitude * weights[i];
    parts[i] = static_cast<std::int64_t>(exact / weight_sum);
    remainders[i] = exact % weight_sum;
    assigned += parts[i];
  }
  auto leftover = static_cast<std::size_t>(magnitude - assigned);  // < weights.size()
  std::vector<std::size_t> order(weights.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
  for (std::size_t k = 0; k < leftover; ++k) parts[order[k]] += 1;
  if (negative) {
    for (auto& part : parts) part = -part;
  }
  return parts;
}

std::vector<std::int64_t> interpolate_linear(std::optional<std::int64_t> before,
                                             std::optional<std::int64_t> after, std::size_t count) {
  std::vector<std::int64_t> values(count, 0);
  if (!before && !after) return values;
  const std::int64_t from = before ? *before : *after;
  const std::int64_t to = after ? *after : *before;
  const auto steps = static_cast<std::int64_t>(count) + 1;
  for (std::size_t i = 0; i < count; ++i) {
    const auto k = static_cast<std::int64_t>(i) + 1;
    values[i] = from + rounded_div((to - from) * k, steps);
  }
  return values;
}

std::optional<std::int64_t> like_day_value(const Timeline& timeline, UtcSeconds end, int like_days) {
  using std::chrono::days;
  for (const auto step : {days{7}, days{1}}) {
    std::int64_t sum = 0;
    std::int64_t found = 0;
    for (int k = 1; k <= like_days; ++k) {
      if (const auto* iv = timeline.clean_actual_at(end - step * k)) {
        sum += iv->value_wh;
        ++found;
      }
    }
    if (found > 0) return rounded_div(sum, found);
  }
  return std::nullopt;
}

}  // namespace ami::storage::vee
