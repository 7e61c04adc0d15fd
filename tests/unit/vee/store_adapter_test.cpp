#include <catch2/catch.hpp>

#include "storage/vee/store_adapter.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;
using ami::storage::BoundaryRead;
using ami::storage::EnergyChannel;
using ami::storage::IntervalRecord;
using ami::storage::IntervalStatus;
using ami::storage::MeterRecord;

namespace {

MeterRecord meter(std::string tags = "") {
  MeterRecord m;
  m.meter_id = "000000000001";
  m.ct_ratio = 2;
  m.pt_ratio = 3;
  m.tags = std::move(tags);
  return m;
}

BoundaryRead boundary_read(std::int64_t k, std::int64_t register_wh) {
  const auto r = snapshot_read(k, register_wh);
  BoundaryRead b;
  b.meter_id = "000000000001";
  b.boundary = r.boundary;
  b.register_wh = register_wh;
  b.collected_at = r.taken_at;
  return b;
}

// What the store's own derivation writes: version 1 per adjacent pair, suspect when negative.
IntervalRecord store_derived(std::int64_t k, std::int64_t reg_start, std::int64_t reg_end, std::int64_t multiplier) {
  IntervalRecord r;
  r.meter_id = "000000000001";
  r.end = at_interval(k);
  r.start = r.end - std::chrono::minutes{15};
  r.value_wh = (reg_end - reg_start) * multiplier;
  r.register_start_wh = reg_start;
  r.register_end_wh = reg_end;
  r.version = 1;
  if (r.value_wh < 0) {
    r.status = IntervalStatus::suspect;
    r.quality_codes = {"2.3.4"};
  }
  return r;
}

}  // namespace

TEST_CASE("store adapter: channel spec from the registry and its tags (table)", "[vee][adapter]") {
  struct Row {
    const char* tags;
    bool bidirectional;
    int integer_digits;
    int decimal_digits;
    bool problem;
  };
  const Row rows[] = {
      {"", false, 6, 2, false},
      {"district=north;bidirectional=true", true, 6, 2, false},
      {"bidirectional=0;dial=8+2", false, 8, 2, false},
      {"dial=5+1;feeder=F7", false, 5, 1, false},
      {"bidirectional=maybe", false, 6, 2, true},
      {"dial=6.2", false, 6, 2, true},
      {"dial=6+4", false, 6, 2, true},
  };
  for (const auto& row : rows) {
    CAPTURE(row.tags);
    std::string problem;
    const auto spec = channel_spec(meter(row.tags), EnergyChannel::reverse_active, &problem);
    CHECK(spec.multiplier == 6);
    CHECK(spec.channel == EnergyChannel::reverse_active);
    CHECK(spec.interval == std::chrono::minutes{15});
    CHECK(spec.bidirectional == row.bidirectional);
    CHECK(spec.dial.integer_digits == row.integer_digits);
    CHECK(spec.dial.decimal_digits == row.decimal_digits);
    CHECK(problem.empty() != row.problem);
    if (row.problem) CHECK(problem.find("000000000001") != std::string::npos);
  }
}

TEST_CASE("store adapter: interval <-> record keeps every field", "[vee][adapter]") {
  Interval iv = actual(3, 420, Flag::estimated | Flag::skipped_interval);
  iv.status = IntervalStatus::estimated;
  iv.method = ami::storage::EstimationMethod::like_day;
  iv.register_start_wh = 100;
  iv.version = 7;
  const auto spec = channel_spec(meter(), EnergyChannel::forward_active);
  const auto record = record_from_interval(iv, spec);
  CHECK(record.start == at_interval(2));
  CHECK(record.quality_codes == std::vector<std::string>{"2.4.4", "2.8.0"});
  const auto back = interval_from_record(record);
  CHECK(back.end == iv.end);
  CHECK(back.value_wh == 420);
  CHECK(back.flags == iv.flags);
  CHECK(back.method == iv.method);
  CHECK(back.status == iv.status);
  CHECK(back.version == 7);
  CHECK(back.register_start_wh == 100);
}

TEST_CASE("store adapter: vee_pass writes only what VEE changes", "[vee][adapter]") {
  PassInput in;
  in.meter = meter();
  in.from = at_interval(0);
  in.to = at_interval(6);
  // Registers: clean, then a rollover between 3 and 4, then a gap at 5 (read 6 present).
  const std::vector<std::int64_t> regs{999'999'000, 999'999'200, 999'999'500, 999'999'800, 100, -1, 700};
  for (std::int64_t k = 0; k < 7; ++k) {
    if (regs[static_cast<std::size_t>(k)] >= 0) in.reads.push_back(boundary_read(k, regs[static_cast<std::size_t>(k)]));
  }
  for (std::int64_t k = 1; k <= 4; ++k) {
    in.stored.push_back(store_derived(k, regs[static_cast<std::size_t>(k - 1)], regs[static_cast<std::size_t>(k)], 6));
  }
  const auto result = vee_pass(in, VeeConfig{});
  // Intervals 1..3 are the store's and unchanged; 4 becomes an actual rollover (v2); 5 and 6 are
  // the 600 register Wh between reads 4 and 6, prorated (v1).
  REQUIRE(result.writes.size() == 3);
  CHECK(result.writes[0].end == at_interval(4));
  CHECK(result.writes[0].status == IntervalStatus::actual);
  CHECK(result.writes[0].value_wh == 300 * 6);
  CHECK(result.writes[0].version == 2);
  CHECK(result.writes[0].quality_codes == std::vector<std::string>{"2.6.1005"});
  CHECK(result.writes[1].value_wh + result.writes[2].value_wh == 600 * 6);
  CHECK(result.writes[1].status == IntervalStatus::estimated);
  CHECK(result.writes[1].version == 1);

  // Running again over the store with those writes applied changes nothing.
  auto again = in;
  again.stored.insert(again.stored.end(), result.writes.begin(), result.writes.end());
  CHECK(vee_pass(again, VeeConfig{}).writes.empty());
}

TEST_CASE("store adapter: vee_batch groups bulk rows by meter and channel", "[vee][adapter]") {
  BatchInput batch;
  batch.from = at_interval(0);
  batch.to = at_interval(4);
  auto gappy = meter();
  auto clean = meter();
  clean.meter_id = "000000000002";
  batch.meters = {gappy, clean};
  for (std::int64_t k = 0; k <= 4; ++k) {
    auto b = boundary_read(k, 1'000 + 100 * k);
    b.meter_id = clean.meter_id;
    batch.reads.push_back(b);
    if (k == 0 || k == 4) batch.reads.push_back(boundary_read(k, 500 + 40 * k));  // gappy: reads 0 and 4 only
    auto stored = store_derived(k, 1'000 + 100 * (k - 1), 1'000 + 100 * k, 6);
    stored.meter_id = clean.meter_id;
    if (k > 0) batch.stored.push_back(stored);
  }
  // A replacement event for another channel of the gappy meter must not reach this channel.
  batch.events.push_back({gappy.meter_id, EnergyChannel::reverse_active,
                          MeterEvent{EventKind::meter_replaced, at_interval(2), {}, {}, std::nullopt, std::nullopt}});
  const auto result = vee_batch(batch, VeeConfig{});
  REQUIRE(result.writes.size() == 4);  // the clean meter's stored intervals are already right
  std::int64_t total = 0;
  for (const auto& w : result.writes) {
    CHECK(w.meter_id == gappy.meter_id);
    CHECK(w.channel == EnergyChannel::forward_active);
    CHECK(w.status == IntervalStatus::estimated);
    CHECK(w.estimation_method == ami::storage::EstimationMethod::register_prorated_even);
    total += w.value_wh;
  }
  CHECK(total == 160 * 6);
}

TEST_CASE("store adapter: needs_vee_pass triggers on what the store cannot derive alone (table)", "[vee][adapter]") {
  const VeeConfig config;
  const auto prev = boundary_read(4, 10'000);
  struct Row {
    const char* name;
    std::int64_t k;
    std::int64_t register_wh;
    ami::storage::ReadSource source;
    std::chrono::seconds clock_offset;
    bool first_read;
    bool needed;
  };
  using ami::storage::ReadSource;
  const Row rows[] = {
      {"next interval, normal rise", 5, 10'300, ReadSource::scheduled, 1s, false, false},
      {"no previous read", 5, 10'300, ReadSource::scheduled, 1s, true, false},
      {"gap closes", 7, 10'900, ReadSource::scheduled, 1s, false, true},
      {"backfill", 5, 10'300, ReadSource::backfill, 1s, false, true},
      {"register went down", 5, 9'000, ReadSource::scheduled, 1s, false, true},
      {"impossible rise", 5, 10'000 + 60'000, ReadSource::scheduled, 1s, false, true},
      {"meter clock an hour ahead", 5, 10'300, ReadSource::scheduled, 3600s, false, true},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto p = prev;
    p.meter_time = p.collected_at + 1s;
    auto read = boundary_read(row.k, row.register_wh);
    read.source = row.source;
    read.meter_time = read.collected_at + row.clock_offset;
    CHECK(needs_vee_pass(row.first_read ? nullptr : &p, read, std::chrono::minutes{15}, config) == row.needed);
  }
}
