#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <set>

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

// Options for a fresh store in its own temporary directory, with VEE in the writer.
ami::storage::StoreOptions vee_store_options(const std::string& name) {
  ami::storage::StoreOptions options;
  options.path = ami::test::fresh_temp_dir(name) / "store.db";
  options.vee = VeeConfig{};
  return options;
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
  const auto options = vee_store_options("vee_writer_hook");
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
  // A cancelled pass (the daemon is stopping) ends before its next chunk and writes nothing more.
  std::atomic<bool> cancelled{true};
  pass.cancel = &cancelled;
  const auto skipped = writer.run_history_pass(pass);
  CHECK(skipped.chunks == 0);
  CHECK(skipped.intervals == 0);
  CHECK(writer.stats().head_sequence == head_before);
  cancelled = false;
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

namespace {

// Consumption for the re-anchoring tests: uneven, so an even spread over a gap never matches it.
std::int64_t reanchor_usage(EnergyChannel channel, std::int64_t k) {
  return channel == EnergyChannel::forward_active ? 20 + (k * 37) % 50 : 3 + (k * 13) % 7;
}

std::int64_t reanchor_register(EnergyChannel channel, std::int64_t k) {
  std::int64_t wh = channel == EnergyChannel::forward_active ? 100'000 : 5'000;
  for (std::int64_t j = 1; j <= k; ++j) wh += reanchor_usage(channel, j);
  return wh;
}

BoundaryRead reanchor_read(EnergyChannel channel, std::int64_t k) {
  auto r = read_at(k, reanchor_register(channel, k));
  r.channel = channel;
  return r;
}

constexpr std::array<EnergyChannel, 2> both_channels{EnergyChannel::forward_active, EnergyChannel::reverse_active};

}  // namespace

TEST_CASE("writer hook: out-of-order reads re-anchor the spans to their nearest stored reads, merged, each "
          "boundary looked up once",
          "[vee][writer][reanchor]") {
  WriterHook hook(VeeConfig{});
  const auto m = registry_row();
  // Stored: reads at 4 and 28 (an estimated gap between). This batch stores 16, then 8.
  std::map<std::int64_t, BoundaryRead> table;
  for (const std::int64_t k : {4, 28}) table[k] = reanchor_read(EnergyChannel::forward_active, k);
  for (const std::int64_t k : {16, 8}) {
    table[k] = reanchor_read(EnergyChannel::forward_active, k);
    hook.on_out_of_order_read(m, table[k]);
  }
  CHECK_FALSE(hook.empty());
  std::map<std::int64_t, int> lookups;
  const WriterHook::StoredReadLookup lookup = [&](const ami::storage::MeterRecord&, EnergyChannel channel,
                                                  ami::UtcSeconds boundary) -> std::optional<BoundaryRead> {
    const auto k = (boundary - at_interval(0)) / std::chrono::minutes{15};
    lookups[k] += 1;
    const auto it = table.find(k);
    if (channel != EnergyChannel::forward_active || it == table.end()) return std::nullopt;
    return it->second;
  };
  const auto pass = hook.take(lookup);
  CHECK(hook.empty());
  for (const auto& [k, count] : lookups) {
    INFO("boundary " << k);
    CHECK(count == 1);
    CHECK(k >= 4);
    CHECK(k <= 28);
  }
  // (4, 28] once each, prorated per sub-span between the reads 4, 8, 16 and 28.
  REQUIRE(pass.writes.size() == 24);
  std::map<std::int64_t, std::int64_t> sums;  // by the read that ends the sub-span
  for (std::size_t i = 0; i < pass.writes.size(); ++i) {
    const auto& w = pass.writes[i];
    CHECK(w.end == at_interval(5 + static_cast<std::int64_t>(i)));
    CHECK(w.status == IntervalStatus::estimated);
    CHECK(w.estimation_method == ami::storage::EstimationMethod::register_prorated_even);
    const auto k = (w.end - at_interval(0)) / std::chrono::minutes{15};
    sums[k <= 8 ? 8 : k <= 16 ? 16 : 28] += w.value_wh;
  }
  const auto delta = [](std::int64_t a, std::int64_t b) {
    return (reanchor_register(EnergyChannel::forward_active, b) - reanchor_register(EnergyChannel::forward_active, a)) *
           2;  // CT 2
  };
  CHECK(sums[8] == delta(4, 8));
  CHECK(sums[16] == delta(8, 16));
  CHECK(sums[28] == delta(16, 28));
  // Without a lookup (or with no out-of-order read) nothing is re-anchored.
  hook.on_out_of_order_read(m, table[8]);
  CHECK(hook.take().writes.empty());
}

TEST_CASE("writer hook: backfilled reads inside an estimated 6-hour gap supersede its estimates so every span "
          "between two actual reads adds up, on both channels",
          "[vee][writer][reanchor]") {
  struct Case {
    const char* name;
    std::vector<std::vector<std::int64_t>> batches;  // out-of-order boundaries per write batch
  };
  const std::vector<Case> cases{
      {"hourly anchors in one batch", {{8, 12, 16, 20, 24}}},
      {"a single read in the middle", {{16}}},
      {"hourly anchors in reverse order, one batch each", {{24}, {20}, {16}, {12}, {8}}},
      {"hourly anchors in reverse order in one batch", {{24, 20, 16, 12, 8}}},
      {"reads next to the actual intervals at both ends", {{5}, {27}}},
      {"a run of consecutive reads", {{9, 10, 11}}},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto options = vee_store_options("vee_reanchor");
      ami::storage::StoreWriter writer(options);
      writer.import_meters({registry_row()}, "test");
      const auto submit = [&](const std::vector<std::int64_t>& ks) {
        std::vector<BoundaryRead> batch;
        for (const auto k : ks)
          for (const auto channel : both_channels) batch.push_back(reanchor_read(channel, k));
        writer.submit(batch, {});
        writer.flush();
      };
      // Reads through k = 4, then silent (estimated after 4 hours), then back at k = 28: VEE has
      // estimated (4, 28] from the registers at 4 and 28.
      submit({0, 1, 2, 3, 4});
      REQUIRE(writer.estimate_silent(at_interval(16)).intervals > 0);
      submit({28});
      ami::storage::StoreReader reader(options.path);
      const auto latest_of = [&](EnergyChannel channel) {
        std::vector<Interval> versions;
        for (const auto& r : reader.intervals("000000000001", channel, at_interval(0), at_interval(28)))
          versions.push_back(interval_from_record(r));
        return std::pair{latest_versions(versions), versions};
      };
      std::map<EnergyChannel, std::vector<Interval>> before;
      for (const auto channel : both_channels) {
        before[channel] = latest_of(channel).first;
        REQUIRE(before[channel].size() == 28);
        CHECK(before[channel][10].status == IntervalStatus::estimated);  // (10, 11]: inside the gap
      }

      std::set<std::int64_t> stored_reads{0, 1, 2, 3, 4, 28};
      for (const auto& batch : c.batches) {
        submit(batch);
        stored_reads.insert(batch.begin(), batch.end());
      }

      for (const auto channel : both_channels) {
        INFO(ami::storage::to_string(channel));
        const auto [latest, versions] = latest_of(channel);
        REQUIRE(latest.size() == 28);
        std::int64_t span_sum = 0;
        for (std::size_t i = 0; i < latest.size(); ++i) {
          const auto& iv = latest[i];
          const auto k = static_cast<std::int64_t>(i) + 1;
          INFO("interval ending at k = " << k);
          REQUIRE(iv.end == at_interval(k));
          const auto expected = (reanchor_register(channel, k) - reanchor_register(channel, k - 1)) * 2;
          if (stored_reads.count(k - 1) == 1 && stored_reads.count(k) == 1) {
            CHECK(iv.status == IntervalStatus::actual);
            CHECK(iv.value_wh == expected);
          } else {
            CHECK(iv.status == IntervalStatus::estimated);
            CHECK(iv.method == ami::storage::EstimationMethod::register_prorated_even);
            CHECK(has(iv.flags, Flag::estimated));
            const auto codes = record_from_interval(iv, channel_spec(registry_row(), channel)).quality_codes;
            CHECK(std::find(codes.begin(), codes.end(), "2.8.0") != codes.end());  // head-end estimated
          }
          // Every span between two stored reads adds up to its register delta x CT.
          span_sum += iv.value_wh;
          if (stored_reads.count(k) == 1) {
            const auto from = *std::prev(stored_reads.find(k));
            CHECK(span_sum == (reanchor_register(channel, k) - reanchor_register(channel, from)) * 2);
            span_sum = 0;
          }
          // At most one new version per batch, and none where the batch changed nothing (over
          // several batches a value may change and come back).
          const auto& old = before[channel][i];
          const bool same = old.value_wh == iv.value_wh && old.status == iv.status && old.method == iv.method;
          CHECK(iv.version <= old.version + static_cast<std::int64_t>(c.batches.size()));
          if (!same) CHECK(iv.version > old.version);
          if (same && c.batches.size() == 1) CHECK(iv.version == old.version);
        }
        std::vector<RegisterRead> reads;
        for (const auto& r : reader.reads("000000000001", channel, at_interval(0), at_interval(28)))
          reads.push_back(register_read(r));
        CHECK(reads.size() == stored_reads.size());
        const auto report = check_invariant(channel_spec(registry_row(), channel), reads, versions, {}, VeeConfig{});
        for (const auto& v : report.violations) UNSCOPED_INFO(v.describe());
        CHECK(report.holds());
      }
    }
  }
}
