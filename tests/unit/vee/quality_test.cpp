#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "storage/vee/quality.hpp"

using namespace ami::storage::vee;

TEST_CASE("quality codes: every flag has a distinct IEC 61968-9 head-end code", "[vee][quality]") {
  std::set<std::string> seen;
  for (const auto flag : all_flags()) {
    const std::string code{quality_code(flag)};
    CAPTURE(flag_name(flag));
    CHECK(code.rfind("2.", 0) == 0);  // system 2: head-end
    CHECK(seen.insert(code).second);
  }
  CHECK(seen.size() == 16);
}

TEST_CASE("quality codes: table of flags to codes", "[vee][quality]") {
  struct Row {
    Flag flag;
    const char* code;
  };
  const Row rows[] = {
      {Flag::skipped_interval, "2.4.4"},     {Flag::estimated, "2.8.0"},
      {Flag::reverse_rotation, "2.3.4"},     {Flag::usage_high, "2.6.3"},
      {Flag::usage_low, "2.6.4"},            {Flag::zero_usage, "2.6.1"},
      {Flag::clock_set_forward, "2.4.64"},   {Flag::clock_set_backward, "2.4.128"},
      {Flag::power_down, "2.2.32"},          {Flag::spike, "2.6.1003"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.code);
    CHECK(quality_code(row.flag) == row.code);
  }
}

TEST_CASE("quality codes: flags -> codes -> flags round trip, unknown codes ignored", "[vee][quality]") {
  const Flags flags = Flag::spike | Flag::estimated | Flag::power_down;
  auto codes = quality_codes(flags);
  CHECK(codes == std::vector<std::string>{"2.8.0", "2.6.1003", "2.2.32"});
  codes.push_back("1.4.4");  // an end-device code this library does not own
  CHECK(flags_from_codes(codes) == flags);
  CHECK(quality_codes(0).empty());
  CHECK(describe(flags) == "estimated,spike,power_down");
  CHECK(describe(0) == "none");
}
