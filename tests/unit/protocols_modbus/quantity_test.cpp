#include <catch2/catch.hpp>

#include <limits>

#include "protocols/common/quantity.hpp"

using ami::Quantity;

TEST_CASE("every quantity has a unique name that parses back") {
  for (const auto& q : ami::all_quantities()) {
    INFO(q.name);
    REQUIRE(ami::parse_quantity(q.name) == q.quantity);
    REQUIRE(ami::to_string(q.quantity) == q.name);
  }
  CHECK(ami::all_quantities().size() == ami::kQuantityCount);
  CHECK_FALSE(ami::parse_quantity("energy"));
  CHECK_FALSE(ami::parse_quantity(""));
  CHECK(ami::to_string(ami::info(Quantity::forward_active_energy).unit) == "Wh");
  CHECK(ami::to_string(ami::info(Quantity::frequency).unit) == "mHz");
}

TEST_CASE("CT and PT ratios scale each quantity the way a transformer does") {
  struct Row {
    Quantity q;
    std::int64_t expected;
  };
  // 7 units measured on the secondary, CT 40, PT 100.
  const Row rows[] = {
      {Quantity::forward_active_energy, 7 * 40 * 100}, {Quantity::reverse_reactive_energy, 7 * 40 * 100},
      {Quantity::active_power, 7 * 40 * 100},          {Quantity::voltage_l2, 7 * 100},
      {Quantity::current_l3, 7 * 40},                  {Quantity::power_factor, 7},
      {Quantity::frequency, 7},
  };
  for (const auto& row : rows) {
    INFO(ami::to_string(row.q));
    CHECK(ami::apply_transformer_ratios(row.q, 7, 40, 100) == row.expected);
  }
  CHECK(ami::apply_transformer_ratios(Quantity::active_power, -5, 2, 3) == -30);
}

TEST_CASE("transformer scaling refuses overflow and ratios below one") {
  const auto big = std::numeric_limits<std::int64_t>::max() / 2;
  CHECK_FALSE(ami::apply_transformer_ratios(Quantity::forward_active_energy, big, 3, 1));
  CHECK_FALSE(ami::apply_transformer_ratios(Quantity::forward_active_energy, 1, big, big));
  CHECK_FALSE(ami::apply_transformer_ratios(Quantity::voltage_l1, 1, 1, 0));
  CHECK_FALSE(ami::apply_transformer_ratios(Quantity::frequency, 1, -1, 1));
  CHECK(ami::apply_transformer_ratios(Quantity::forward_active_energy, big, 1, 2) == big * 2);
}
