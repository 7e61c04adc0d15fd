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
