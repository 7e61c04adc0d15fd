#include <catch2/catch.hpp>

#include <algorithm>

#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "storage/vee/invariant.hpp"
#include "storage/vee/store_adapter.hpp"
#include "storage/vee/versioning.hpp"
#include "storage/vee/writer_hook.hpp"
#include "tests/support/process.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;
using ami::storage::BoundaryRead;
using ami::storage::EnergyChannel;
using ami::storage::IntervalStatus;

namespace {

BoundaryRead read_at(std::int64_t k, std::int64_t register_wh) {
  BoundaryRead b;
  b.meter_id = "000000000001";
  b.boundary = at_interval(k);
  b.register_wh = register_wh;
  b.collected_at = std::chrono::time_point_cast<std::chrono::milliseconds>(b.boundary) + 2s;
  return b;
}

ami::storage::MeterRecord registry_row() {
  ami::storage::MeterRecord m;
  m.meter_id = "000000000001";
  m.protocol = "dlt645-2007";
  m.channel = "tcp://127.0.0.1:9600";
  m.address = "000000000001";
  m.model = "dlt645-generic";
  m.ct_ratio = 2;
  return m;
}

}  // namespace

TEST_CASE("writer hook: only spans that need VEE are passed, the store's own results are not rewritten",
          "[vee][writer]") {
  WriterHook hook(VeeConfig{});
  auto m = registry_row();
  const auto on = [&](const char* id, std::optional<BoundaryRead> previous, BoundaryRead read) {
    m.meter_id = id;
    read.meter_id = id;
    if (previous) previous->meter_id = id;
    hook.on_read(m, previous, read);
  };
  on("A", std::nullopt, read_at(0, 1'000));           // first read ever: nothing expected before it
  on("A", read_at(0, 1'000), read_at(1, 1'100));      // normal: the store's derivation is enough
  CHECK(hook.empty());
  on("A", read_at(1, 1'100), read_at(4, 1'400));      // gap closes
  on("B", read_at(4, 999'999'900), read_at(5, 100));  // rollover
  on("C", read_at(5, 2'000), read_at(6, 1'900));      // reverse: the store's suspect stands
  on("C", read_at(6, 1'900), read_at(2, 1'500));      // out of order: left to the store
  const auto pass = hook.take();
  CHECK(hook.empty());
  REQUIRE(pass.writes.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(pass.writes[static_cast<std::size_t>(i)].meter_id == "A");
    CHECK(pass.writes[static_cast<std::size_t>(i)].status == IntervalStatus::estimated);
    CHECK(pass.writes[static_cast<std::size_t>(i)].value_wh == 200);  // 100 register Wh x CT 2
  }
  CHECK(pass.writes[3].meter_id == "B");
  CHECK(pass.writes[3].status == IntervalStatus::actual);
  CHECK(pass.writes[3].value_wh == 400);
  CHECK(pass.writes[3].quality_codes == std::vector<std::string>{"2.6.1005"});
}

TEST_CASE("writer hook: StoreWriter with VEE stores estimates and rollover fixes with the reads", "[vee][writer]") {
  const auto dir = ami::test::fresh_temp_dir("vee_writer_hook");
  ami::storage::StoreOptions options;
  options.path = dir / "store.db";
  options.vee = VeeConfig{};
  {
    ami::storage::StoreWriter writer(options);
    writer.import_meters({registry_row()}, "test");
    writer.submit({read_at(0, 999'999'000), read_at(1, 999'999'500)}, {});
    writer.flush();
    // Next batch: boundaries 2 and 3 missed, 4 read (after the dial wrapped), 5 read, and the
    // backfilled 3 arrives in the same batch.
    writer.submit({read_at(4, 700), read_at(5, 900), read_at(3, 400)}, {});
    writer.flush();
  }
  ami::storage::StoreReader reader(options.path);
  auto all = reader.intervals("000000000001", EnergyChannel::forward_active, at_interval(0), at_interval(5));
  std::vector<Interval> versions;
  for (const auto& r : all) versions.push_back(interval_from_record(r));
  const auto latest = latest_versions(versions);
  REQUIRE(latest.size() == 5);
  CHECK(latest[0].value_wh == 1'000);  // (0, 1] actual
  // (1, 3]: the dial wrapped; 900 register Wh x CT 2, prorated between reads 1 and the backfilled 3.
  for (const std::size_t i : {std::size_t{1}, std::size_t{2}}) {
    CHECK(latest[i].status == IntervalStatus::estimated);
    CHECK(has(latest[i].flags, Flag::rollover));
    CHECK(latest[i].value_wh == 900);
  }
  CHECK(latest[3].status == IntervalStatus::actual);  // (3, 4] derived by the store from reads 3 and 4, kept
  CHECK(latest[3].value_wh == 600);
  CHECK(latest[3].version == 1);
  CHECK(latest[4].value_wh == 400);
  // The billing invariant over the stored reads.
  std::vector<RegisterRead> reads;
  for (const auto& r : reader.reads("000000000001", EnergyChannel::forward_active, at_interval(0), at_interval(5))) {
    reads.push_back(register_read(r));
  }
  const auto report = check_invariant(channel_spec(registry_row(), EnergyChannel::forward_active), reads, versions, {},
                                      VeeConfig{});
  for (const auto& v : report.violations) UNSCOPED_INFO(v.describe());
  CHECK(report.holds());
}

TEST_CASE("silent meters: estimates after the newest read, written once, superseded by the reads that come back",
          "[vee][writer][silent]") {
  const auto dir = ami::test::fresh_temp_dir("vee_silent");
  ami::storage::StoreOptions options;
  options.path = dir / "store.db";
  options.vee = VeeConfig{};
  ami::storage::StoreWriter writer(options);
  auto quiet = registry_row();
  quiet.meter_id = "000000000002";
  auto disabled = registry_row();
  disabled.meter_id = "000000000003";
  disabled.enabled = false;
  writer.import_meters({registry_row(), quiet, disabled}, "test");
  const auto reads_of = [](const std::string& id, std::int64_t from_k, std::int64_t to_k, std::int64_t wh_per) {
    std::vector<BoundaryRead> out;
    for (auto k = from_k; k <= to_k; ++k) {
      auto r = read_at(k, 10'000 + k * wh_per);
      r.meter_id = id;
      out.push_back(r);
    }
    return out;
  };
  // Meter 1 answers through k = 8; meter 2 only through k = 2 (silent after); meter 3 is disabled.
  writer.submit(reads_of("000000000001", 0, 8, 100), {});
  writer.submit(reads_of("000000000002", 0, 2, 100), {});
  writer.submit(reads_of("000000000003", 0, 2, 100), {});
  writer.flush();

  const auto first = writer.estimate_silent(at_interval(6));
  CHECK(first.channels == 1);
  CHECK(first.intervals == 4);  // (2, 6] of meter 2
  CHECK(writer.estimate_silent(at_interval(6)).intervals == 0);  // nothing new
  const auto later = writer.estimate_silent(at_interval(8));
  CHECK(later.intervals == 2);  // (6, 8]: the carried value is unchanged, so (2, 6] is not rewritten

  ami::storage::StoreReader reader(options.path);
  const auto latest_of = [&](const std::string& id) {
    std::vector<Interval> versions;
    for (const auto& r : reader.intervals(id, EnergyChannel::forward_active, at_interval(0), at_interval(20))) {
      versions.push_back(interval_from_record(r));
    }
    return latest_versions(versions);
  };
  auto silent = latest_of("000000000002");
  REQUIRE(silent.size() == 8);
  for (std::size_t i = 2; i < 8; ++i) {
    CHECK(silent[i].status == IntervalStatus::estimated);
    CHECK(has(silent[i].flags, Flag::estimated));
    CHECK(has(silent[i].flags, Flag::skipped_interval));
    CHECK(silent[i].method == ami::storage::EstimationMethod::linear_interpolation);
    CHECK(silent[i].value_wh == 200);  // 100 register Wh x CT 2 carried from the last actual interval
    CHECK(silent[i].version == 1);
  }
  CHECK(latest_of("000000000001").size() == 8);  // answered: no estimates
  CHECK(latest_of("000000000003").size() == 2);  // disabled: not estimated

  // Meter 2 comes back at k = 10 having used 1,600 register Wh since k = 2: the gap is re-derived
  // from the registers (exact), superseding every estimate, and the billing invariant holds.
  auto comeback = read_at(10, 10'000 + 200 + 1'600);
  comeback.meter_id = "000000000002";
  writer.submit({comeback}, {});
  writer.flush();
  auto back = registry_row();
  back.meter_id = "000000000002";
  std::vector<Interval> versions;
  for (const auto& r : reader.intervals("000000000002", EnergyChannel::forward_active, at_interval(0), at_interval(20))) {
    versions.push_back(interval_from_record(r));
  }
  const auto after = latest_versions(versions);
  REQUIRE(after.size() == 10);
  std::int64_t gap_sum = 0;
  for (std::size_t i = 2; i < 10; ++i) {
    CHECK(after[i].method == ami::storage::EstimationMethod::register_prorated_even);
    if (i < 8) CHECK(after[i].version == 2);  // the estimates of (2, 8] are superseded
    gap_sum += after[i].value_wh;
  }
  CHECK(gap_sum == 1'600 * 2);
  std::vector<RegisterRead> reads;
  for (const auto& r : reader.reads("000000000002", EnergyChannel::forward_active, at_interval(0), at_interval(20))) {
    reads.push_back(register_read(r));
  }
  const auto report =
      check_invariant(channel_spec(back, EnergyChannel::forward_active), reads, versions, {}, VeeConfig{});
  for (const auto& v : report.violations) UNSCOPED_INFO(v.describe());
  CHECK(report.holds());
  // Without VeeConfig nothing is estimated.
  const auto plain_dir = ami::test::fresh_temp_dir("vee_silent_off");
  ami::storage::StoreOptions plain;
  plain.path = plain_dir / "store.db";
  ami::storage::StoreWriter no_vee(plain);
  no_vee.import_meters({quiet}, "test");
  no_vee.submit(reads_of("000000000002", 0, 2, 100), {});
  CHECK(no_vee.estimate_silent(at_interval(6)).intervals == 0);
}

TEST_CASE("history pass: spike and zero-run flags on stored intervals, written once, in chunks, clean meters untouched",
          "[vee][writer][history]") {
  const auto dir = ami::test::fresh_temp_dir("vee_history_pass");
  ami::storage::StoreOptions options;
  options.path = dir / "store.db";
  options.vee = VeeConfig{};
  ami::storage::StoreWriter writer(options);
  std::vector<ami::storage::MeterRecord> meters;
  for (const char* id : {"000000000001", "000000000002", "000000000003"}) {
    auto m = registry_row();
    m.meter_id = id;
    meters.push_back(m);
  }
  writer.import_meters(meters, "test");
  // Two days of 15-minute reads, 100 register Wh per interval (x CT 2); meter 2 has a 5 kWh spike
  // in interval 150, meter 3 uses nothing for 5 hours from interval 160.
  constexpr std::int64_t last = 192;
  for (std::size_t i = 0; i < meters.size(); ++i) {
    std::vector<BoundaryRead> reads;
    std::int64_t reg = 50'000;
    for (std::int64_t k = 0; k <= last; ++k) {
      if (k > 0) reg += i == 1 && k == 150 ? 5'000 : i == 2 && k > 160 && k <= 180 ? 0 : 100;
      auto r = read_at(k, reg);
      r.meter_id = meters[i].meter_id;
      reads.push_back(r);
    }
    writer.submit(std::move(reads), {});
  }
  writer.flush();
  const auto head_before = writer.stats().head_sequence;

  ami::storage::HistoryPassOptions pass;
  pass.to = at_interval(last);
  pass.window = std::chrono::hours{24};
  pass.meters_per_chunk = 2;
  const auto first = writer.run_history_pass(pass);
  CHECK(first.meters == 3);
  CHECK(first.chunks == 2);
  CHECK(first.intervals == 1 + 20);  // the spike, the 20 zero intervals
  CHECK(writer.stats().head_sequence == head_before + 21);  // new versions are published
  CHECK(writer.run_history_pass(pass).intervals == 0);      // nothing changed since

  ami::storage::StoreReader reader(options.path);
  const auto latest_of = [&](const std::string& id) {
    std::vector<Interval> versions;
    for (const auto& r : reader.intervals(id, EnergyChannel::forward_active, at_interval(0), at_interval(last))) {
      versions.push_back(interval_from_record(r));
    }
    return latest_versions(versions);
  };
  for (const auto& iv : latest_of("000000000001")) {
    CHECK(iv.flags == 0);
    CHECK(iv.version == 1);
  }
  for (const auto& iv : latest_of("000000000002")) {
    const bool spike = iv.end == at_interval(150);
    CHECK(has(iv.flags, Flag::spike) == spike);
    CHECK(iv.status == IntervalStatus::actual);  // flagged for review, still billed
    CHECK(iv.value_wh == (spike ? 10'000 : 200));
    CHECK(iv.version == (spike ? 2U : 1U));
  }
  for (const auto& iv : latest_of("000000000003")) {
    const bool zero = iv.end > at_interval(160) && iv.end <= at_interval(180);
    CHECK(has(iv.flags, Flag::zero_usage) == zero);
  }
}
