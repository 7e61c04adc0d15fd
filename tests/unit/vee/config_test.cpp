#include <catch2/catch.hpp>

#include <functional>

#include "storage/vee/config.hpp"

using namespace ami::storage::vee;

TEST_CASE("config: defaults are valid", "[vee][config]") { CHECK_FALSE(validate(VeeConfig{}).has_value()); }

TEST_CASE("config: each bad field is named (table)", "[vee][config]") {
  struct Row {
    const char* field;
    std::function<void(VeeConfig&)> spoil;
  };
  const Row rows[] = {
      {"read_time_tolerance", [](VeeConfig& c) { c.read_time_tolerance = std::chrono::seconds{-1}; }},
      {"clock_jump_threshold", [](VeeConfig& c) { c.clock_jump_threshold = std::chrono::seconds{0}; }},
      {"max_register_wh_per_interval", [](VeeConfig& c) { c.max_register_wh_per_interval = 0; }},
      {"spike_factor", [](VeeConfig& c) { c.spike_factor = 0.5; }},
      {"min_history_days", [](VeeConfig& c) { c.min_history_days = 30; }},
      {"high_factor", [](VeeConfig& c) { c.high_factor = 1.0; }},
      {"low_factor", [](VeeConfig& c) { c.low_factor = 1.5; }},
      {"zero_run_intervals", [](VeeConfig& c) { c.zero_run_intervals = 0; }},
      {"like_days", [](VeeConfig& c) { c.like_days = 0; }},
      {"max_unanchored_intervals", [](VeeConfig& c) { c.max_unanchored_intervals = -1; }},
  };
  for (const auto& row : rows) {
    CAPTURE(row.field);
    VeeConfig config;
    row.spoil(config);
    const auto error = validate(config);
    REQUIRE(error.has_value());
    CHECK(error->find(std::string{"vee."} + row.field) != std::string::npos);
  }
}
