// 30 simulated days of VEE through the real staging store, against `meter-sim truth`.
//
// What runs: meter-sim (the real executable) describes a fleet and prints each meter's true
// registers at every boundary; this harness plays the collection side (what the daemon would
// have read, with faults), feeds the reads to a real StoreWriter (with its in-transaction VEE
// on) day by day, runs the VEE pass
// (storage/vee/store_adapter.hpp) over each day with the stored history, writes the new versions
// back through StoreWriter::submit_intervals(), and at the end checks what the store holds:
//   - the billing invariant against the truth: between any two truthful reads the latest
//     versions add up to the true energy, exactly; and VEE's own check_invariant() holds;
//   - every injected fault is flagged with its code;
//   - a clean fleet gets no flags at all.
// Faults: rollover and replacement come from meter-sim's fleet file (its registers wrap and
// restart); gaps, backfill and the clock jump are collection faults played by this harness;
// the spike is meter-sim's spike fault (real consumption: its registers and its truth include it).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "storage/registry_csv.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "storage/vee/invariant.hpp"
#include "storage/vee/store_adapter.hpp"
#include "storage/vee/versioning.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace std::chrono_literals;
using ami::UtcMillis;
using ami::UtcSeconds;
using ami::storage::BoundaryRead;
using ami::storage::EnergyChannel;
using ami::storage::IntervalRecord;
using ami::storage::IntervalStatus;
using ami::storage::ReadSource;
namespace vee = ami::storage::vee;

constexpr std::int64_t kPerDay = 96;
constexpr int kDays = 30;
constexpr std::int64_t kBoundaries = kDays * kPerDay;  // boundaries 0..kBoundaries
const UtcSeconds kStart = *ami::parse_utc("2026-01-05T00:00:00Z");

UtcSeconds boundary(std::int64_t k) { return kStart + 15min * k; }
// m4 really consumes 9 kWh more inside the interval ending at boundary kSpikeEnd (meter-sim's
// spike fault): its registers and its truth both include it.
constexpr std::int64_t kSpikeEnd = 15 * kPerDay + 70;
constexpr std::int64_t kSpikeWh = 9'000;
std::int64_t index_of(UtcSeconds t) { return (t - kStart) / 15min; }

const EnergyChannel kChannels[] = {EnergyChannel::forward_active, EnergyChannel::reverse_active};

// True exposed registers per boundary, per channel (index 0 forward, 1 reverse).
struct Truth {
  std::array<std::vector<std::int64_t>, 2> registers;
  std::array<std::vector<std::int64_t>, 2> intervals;  // [k] = energy of (k-1, k], k >= 1
};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string cell; std::getline(in, cell, ',');) fields.push_back(cell);
  return fields;
}

Truth load_truth(const std::filesystem::path& fleet, const std::string& meter_id) {
  const auto csv = ami::test::run_and_capture(
      {(ami::test::bin_dir() / "meter-sim").string(), "truth", "--fleet", fleet.string(), "--meter", meter_id,
       "--from", ami::format_utc(boundary(0)), "--to", ami::format_utc(boundary(kBoundaries)), "--format", "csv"});
  Truth truth;
  for (auto& v : truth.intervals) v.push_back(0);
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    const auto f = split_csv(line);
    REQUIRE(f.size() == 5);
    auto& target = f[0] == "boundary" ? truth.registers : truth.intervals;
    target[0].push_back(std::stoll(f[3]));
    target[1].push_back(std::stoll(f[4]));
  }
  REQUIRE(truth.registers[0].size() == static_cast<std::size_t>(kBoundaries + 1));
  REQUIRE(truth.intervals[0].size() == static_cast<std::size_t>(kBoundaries + 1));
  return truth;
}

// The collection faults of one meter, as the harness plays them.
struct CollectionPlan {
  struct Gap {
    std::int64_t from;  // first missing boundary
    std::int64_t to;    // first boundary read again
    bool backfilled;    // the missing reads arrive the next day from the meter's memory
  };
  std::vector<Gap> gaps;
  std::optional<std::pair<std::int64_t, std::int64_t>> spike;  // (interval end k, extra forward Wh), in the fleet
  // Clock jumped +1 h during interval `jump` and was synced back at boundary `sync`: labels
  // (jump-1, jump+3] were skipped by the meter; labels (jump+3, sync] hold the registers of an
  // hour earlier and report a meter clock an hour ahead.
  std::optional<std::pair<std::int64_t, std::int64_t>> clock;
};

struct MeterCase {
  std::string id;
  Truth truth;
  CollectionPlan plan;
  std::optional<UtcSeconds> replaced_at;
};

// The spike is meter-sim's own fault: its registers and truth already carry the energy.
std::int64_t register_seen(const MeterCase& m, int channel, std::int64_t k) {
  const auto& plan = m.plan;
  auto source_k = k;
  if (plan.clock && k > plan.clock->first + 3 && k <= plan.clock->second) source_k = k - 4;
  return m.truth.registers[static_cast<std::size_t>(channel)][static_cast<std::size_t>(source_k)];
}

std::int64_t true_interval(const MeterCase& m, int channel, std::int64_t k) {
  return m.truth.intervals[static_cast<std::size_t>(channel)][static_cast<std::size_t>(k)];
}

enum class Seen { read, missing, backfill };

Seen seen(const MeterCase& m, std::int64_t k) {
  for (const auto& gap : m.plan.gaps) {
    if (k >= gap.from && k < gap.to) return gap.backfilled ? Seen::backfill : Seen::missing;
  }
  if (m.plan.clock && k >= m.plan.clock->first && k <= m.plan.clock->first + 3) return Seen::missing;
  return Seen::read;
}

// A read is truthful when its register is the true one at its boundary (not clock-shifted).
bool truthful(const MeterCase& m, std::int64_t k) {
  return !(m.plan.clock && k > m.plan.clock->first + 3 && k <= m.plan.clock->second);
}

BoundaryRead make_read(const MeterCase& m, int channel, std::int64_t k, ReadSource source) {
  BoundaryRead r;
  r.meter_id = m.id;
  r.channel = kChannels[channel];
  r.boundary = boundary(k);
  r.register_wh = register_seen(m, channel, k);
  r.collected_at = UtcMillis{boundary(k)} + 4s;
  r.source = source;
  const bool ahead = m.plan.clock && k > m.plan.clock->first + 3 && k <= m.plan.clock->second;
  r.meter_time = r.collected_at + (ahead ? 3600s : 1s);
  return r;
}

// Replacement as the registry records it: the old meter's final registers and the new one's
// first (0). The final register follows from the truth of the interval holding the swap.
std::vector<vee::MeterEvent> events_for(const MeterCase& m, int channel) {
  if (!m.replaced_at) return {};
  const auto k = index_of(*m.replaced_at) + 1;  // interval (k-1, k] holds the swap
  const auto& regs = m.truth.registers[static_cast<std::size_t>(channel)];
  const auto energy = m.truth.intervals[static_cast<std::size_t>(channel)][static_cast<std::size_t>(k)];
  vee::MeterEvent e;
  e.kind = vee::EventKind::meter_replaced;
  e.at = *m.replaced_at;
  e.old_final_wh = regs[static_cast<std::size_t>(k - 1)] + energy - regs[static_cast<std::size_t>(k)];
  e.new_initial_wh = 0;
  return {e};
}

// The writer runs its in-transaction VEE too (StoreOptions::vee); the daily pass adds what needs
// history (shapes, spike, replacements).
ami::storage::StoreOptions store_options(const std::filesystem::path& dir) {
  ami::storage::StoreOptions options;
  options.path = dir / "store.db";
  options.vee = vee::VeeConfig{};
  return options;
}

struct Store {
  std::filesystem::path dir;
  ami::storage::StoreWriter writer;
  ami::storage::StoreReader reader;
  explicit Store(const std::filesystem::path& d) : dir(d), writer(store_options(d)), reader(d / "store.db") {}
};

// Plays 30 days: each day's reads (and the previous day's backfill), then the VEE pass.
void run_days(Store& store, const std::vector<MeterCase>& meters,
              const std::map<std::string, ami::storage::MeterRecord>& registry) {
  const vee::VeeConfig config;
  for (int day = 0; day < kDays; ++day) {
    const std::int64_t first = day == 0 ? 0 : day * kPerDay + 1;
    const std::int64_t last = (day + 1) * kPerDay;
    std::vector<BoundaryRead> reads;
    std::map<std::string, std::int64_t> earliest_change;  // per meter: first boundary touched
    for (const auto& m : meters) {
      earliest_change[m.id] = first;
      for (int c = 0; c < 2; ++c) {
        for (auto k = first; k <= last; ++k) {
          if (seen(m, k) == Seen::read) reads.push_back(make_read(m, c, k, ReadSource::scheduled));
        }
        // Backfill: yesterday's missed reads come from the meter's load-profile memory.
        if (day > 0) {
          const std::int64_t y_first = day == 1 ? 0 : (day - 1) * kPerDay + 1;
          for (auto k = y_first; k < first; ++k) {
            if (seen(m, k) == Seen::backfill) {
              reads.push_back(make_read(m, c, k, ReadSource::backfill));
              earliest_change[m.id] = std::min(earliest_change[m.id], k);
            }
          }
        }
      }
    }
    store.writer.submit(std::move(reads), {});
    store.writer.flush();

    std::vector<IntervalRecord> writes;
    for (const auto& m : meters) {
      const auto from = boundary(std::max<std::int64_t>(0, earliest_change[m.id] - 1));
      const auto to = boundary(last);
      for (int c = 0; c < 2; ++c) {
        vee::PassInput in;
        in.meter = registry.at(m.id);
        in.channel = kChannels[c];
        in.reads = store.reader.reads(m.id, in.channel, from - std::chrono::days{2}, to);
        for (const auto ch : kChannels) {
          auto stored = store.reader.intervals(m.id, ch, from - std::chrono::days{16}, to);
          in.stored.insert(in.stored.end(), stored.begin(), stored.end());
        }
        in.events = events_for(m, c);
        in.from = from;
        in.to = to;
        auto pass = vee::vee_pass(in, config);
        writes.insert(writes.end(), pass.writes.begin(), pass.writes.end());
      }
    }
    store.writer.submit_intervals(std::move(writes));
    store.writer.flush();
  }
}

std::map<std::string, ami::storage::MeterRecord> import_registry(Store& store, const std::filesystem::path& fleet) {
  const auto csv = ami::test::run_and_capture(
      {(ami::test::bin_dir() / "meter-sim").string(), "registry", "--fleet", fleet.string()});
  const auto parsed = ami::storage::parse_registry_csv(csv, "meter-sim registry");
  REQUIRE(parsed.ok());
  store.writer.import_meters(parsed.meters, "integration_vee");
  std::map<std::string, ami::storage::MeterRecord> by_id;
  for (const auto& m : parsed.meters) by_id[m.meter_id] = m;
  return by_id;
}

std::vector<vee::Interval> latest_stored(Store& store, const std::string& meter_id, EnergyChannel channel) {
  std::vector<vee::Interval> all;
  for (const auto& r : store.reader.intervals(meter_id, channel, boundary(0), boundary(kBoundaries))) {
    all.push_back(vee::interval_from_record(r));
  }
  std::sort(all.begin(), all.end(), [](const vee::Interval& a, const vee::Interval& b) {
    return a.end != b.end ? a.end < b.end : a.version < b.version;
  });
  return vee::latest_versions(all);
}

// Invariant against the truth: for consecutive truthful stored reads a < b, the latest versions
// in (a, b] add up to the true energy in (a, b]; and every boundary has a latest version.
void check_against_truth(Store& store, const MeterCase& m, int c, const std::vector<vee::Interval>& latest) {
  CAPTURE(m.id, c);
  REQUIRE(latest.size() == static_cast<std::size_t>(kBoundaries));
  for (std::size_t i = 0; i < latest.size(); ++i) REQUIRE(index_of(latest[i].end) == static_cast<std::int64_t>(i) + 1);

  std::vector<std::int64_t> read_at;
  for (const auto& r : store.reader.reads(m.id, kChannels[c], boundary(0), boundary(kBoundaries))) {
    const auto k = index_of(r.boundary);
    if (truthful(m, k)) read_at.push_back(k);
  }
  REQUIRE(read_at.size() > 2);
  std::int64_t spans = 0;
  for (std::size_t i = 1; i < read_at.size(); ++i) {
    std::int64_t stored_sum = 0;
    std::int64_t true_sum = 0;
    for (auto k = read_at[i - 1] + 1; k <= read_at[i]; ++k) {
      stored_sum += latest[static_cast<std::size_t>(k - 1)].value_wh;
      true_sum += true_interval(m, c, k);
    }
    CAPTURE(ami::format_utc(boundary(read_at[i - 1])), ami::format_utc(boundary(read_at[i])));
    REQUIRE(stored_sum == true_sum);
    ++spans;
  }
  CHECK(spans == static_cast<std::int64_t>(read_at.size()) - 1);
}

void check_vee_invariant(Store& store, const MeterCase& m, int c, const ami::storage::MeterRecord& row) {
  CAPTURE(m.id, c);
  std::vector<vee::RegisterRead> reads;
  for (const auto& r : store.reader.reads(m.id, kChannels[c], boundary(0), boundary(kBoundaries))) {
    reads.push_back(vee::register_read(r));
  }
  std::vector<vee::Interval> all;
  for (const auto& r : store.reader.intervals(m.id, kChannels[c], boundary(0), boundary(kBoundaries))) {
    all.push_back(vee::interval_from_record(r));
  }
  const auto report = vee::check_invariant(vee::channel_spec(row, kChannels[c]), reads, all, events_for(m, c),
                                           vee::VeeConfig{});
  for (const auto& v : report.violations) UNSCOPED_INFO(v.describe());
  CHECK(report.holds());
  CHECK(report.unverifiable == 0);
}

bool flagged(const vee::Interval& iv, vee::Flag f) { return vee::has(iv.flags, f); }

std::filesystem::path write_fleet(const std::filesystem::path& dir, const std::string& text) {
  const auto path = dir / "fleet.toml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("VEE 30 days: faults are flagged and every kWh is accounted for exactly once", "[integration][vee]") {
  const auto dir = ami::test::fresh_temp_dir("vee_30day_faults");
  // m1 gaps (+ backfill), m2 rollover, m3 replacement, m4 spike, m5 clock jump, m6 clean.
  const auto fleet_text = [](std::int64_t m2_initial_wh) {
    return fmt::format(R"toml(
seed = 11
[[gateway]]
count = 1
meters = 6
[[meter]]
id = "gw001-m0002"
initial_wh = {}
[[meter]]
id = "gw001-m0003"
replaced_at = "2026-01-19T10:07:00Z"
new_address = "000000019003"
[[fault]]
kind = "spike"
target = "gw001-m0004"
from = "{}"
until = "{}"
wh = {}
)toml",
                       m2_initial_wh, ami::format_utc(boundary(kSpikeEnd - 1) + std::chrono::minutes{3}),
                       ami::format_utc(boundary(kSpikeEnd) - std::chrono::minutes{2}), kSpikeWh);
  };
  // m2's register counts from 2020 (the model epoch): pick its initial value so that it stands
  // 40 kWh below the 999999.99 kWh dial at the start and wraps within the first days.
  auto fleet = write_fleet(dir, fleet_text(0));
  const auto at_start = ami::test::run_and_capture(
      {(ami::test::bin_dir() / "meter-sim").string(), "truth", "--fleet", fleet.string(), "--meter", "gw001-m0002",
       "--at", ami::format_utc(boundary(0)), "--format", "csv"});
  // "meter_id,t,forward_wh,reverse_wh" then one row.
  const auto since_epoch_wh = std::stoll(split_csv(at_start.substr(at_start.find('\n') + 1)).at(2));
  fleet = write_fleet(dir, fleet_text((1'000'000'000 - 40'000 - since_epoch_wh) / 10 * 10));
  Store store(dir);
  const auto registry = import_registry(store, fleet);
  REQUIRE(registry.size() == 6);

  std::vector<MeterCase> meters;
  for (int i = 1; i <= 6; ++i) {
    MeterCase m;
    m.id = fmt::format("gw001-m{:04d}", i);
    m.truth = load_truth(fleet, m.id);
    meters.push_back(std::move(m));
  }
  // m1: a 4 h gap across midnight (trailing estimates, then anchored), a 45 min gap, a whole
  // day missing, and a 6 h gap that is backfilled the next day.
  meters[0].plan.gaps = {{3 * kPerDay + 88, 4 * kPerDay + 8, false},
                         {10 * kPerDay + 8, 10 * kPerDay + 11, false},
                         {20 * kPerDay, 21 * kPerDay, false},
                         {25 * kPerDay + 40, 25 * kPerDay + 64, true}};
  meters[2].replaced_at = *ami::parse_utc("2026-01-19T10:07:00Z");
  meters[3].plan.spike = std::pair<std::int64_t, std::int64_t>{kSpikeEnd, kSpikeWh};
  meters[4].plan.clock = std::pair<std::int64_t, std::int64_t>{12 * kPerDay + 37, 12 * kPerDay + 44};

  run_days(store, meters, registry);

  for (const auto& m : meters) {
    for (int c = 0; c < 2; ++c) {
      const auto latest = latest_stored(store, m.id, kChannels[c]);
      check_against_truth(store, m, c, latest);
      check_vee_invariant(store, m, c, registry.at(m.id));
    }
  }

  const auto fwd = [&](int meter) { return latest_stored(store, meters[static_cast<std::size_t>(meter)].id,
                                                         EnergyChannel::forward_active); };
  {
    INFO("gaps are estimated with 2.4.4 + 2.8.0; backfilled ones are actual again");
    const auto latest = fwd(0);
    for (const auto& gap : meters[0].plan.gaps) {
      for (auto k = gap.from + 1; k <= gap.to; ++k) {
        const auto& iv = latest[static_cast<std::size_t>(k - 1)];
        CAPTURE(ami::format_utc(iv.end), gap.backfilled);
        if (gap.backfilled) {
          CHECK(iv.status == IntervalStatus::actual);
          CHECK(iv.flags == 0);
          CHECK(iv.version >= 2);  // superseded an estimate
        } else {
          CHECK(iv.status == IntervalStatus::estimated);
          CHECK(flagged(iv, vee::Flag::skipped_interval));
          CHECK(flagged(iv, vee::Flag::estimated));
          CHECK(vee::is_unanchored_estimate(iv) == false);  // anchors on both sides by the end
        }
      }
    }
  }
  {
    INFO("rollover is an exact actual interval flagged 2.6.1005");
    const auto latest = fwd(1);
    const auto wrapped = std::count_if(latest.begin(), latest.end(), [](const vee::Interval& iv) {
      return flagged(iv, vee::Flag::rollover);
    });
    CHECK(wrapped == 1);
    for (const auto& iv : latest) {
      if (!flagged(iv, vee::Flag::rollover)) continue;
      CHECK(iv.status == IntervalStatus::actual);
      CHECK(iv.value_wh == true_interval(meters[1], 0, index_of(iv.end)));
      CHECK(*iv.register_end_wh < *iv.register_start_wh);  // it really wrapped
    }
  }
  {
    INFO("replacement is an exact actual interval flagged 2.6.1006");
    const auto latest = fwd(2);
    const auto k = index_of(*meters[2].replaced_at) + 1;
    const auto& iv = latest[static_cast<std::size_t>(k - 1)];
    CHECK(flagged(iv, vee::Flag::meter_replaced));
    CHECK(iv.status == IntervalStatus::actual);
    CHECK(iv.value_wh == true_interval(meters[2], 0, k));
  }
  {
    INFO("spike is flagged 2.6.1003 and stays billed");
    const auto latest = fwd(3);
    const auto& iv = latest[static_cast<std::size_t>(meters[3].plan.spike->first - 1)];
    CHECK(flagged(iv, vee::Flag::spike));
    CHECK(iv.status == IntervalStatus::actual);
    CHECK(iv.value_wh == true_interval(meters[3], 0, meters[3].plan.spike->first));
  }
  {
    INFO("clock jump is flagged forward then back");
    const auto latest = fwd(4);
    const auto [jump, sync] = *meters[4].plan.clock;
    bool forward = false;
    bool back = false;
    for (auto k = jump; k <= sync + 1; ++k) {
      const auto& iv = latest[static_cast<std::size_t>(k - 1)];
      forward = forward || flagged(iv, vee::Flag::clock_set_forward);
      back = back || flagged(iv, vee::Flag::clock_set_backward);
    }
    CHECK(forward);
    CHECK(back);
  }
  {
    INFO("the meter without faults has no flags");
    for (int c = 0; c < 2; ++c) {
      for (const auto& iv : latest_stored(store, meters[5].id, kChannels[c])) {
        CAPTURE(ami::format_utc(iv.end), vee::describe(iv.flags));
        CHECK(iv.flags == 0);
        CHECK(iv.status == IntervalStatus::actual);
      }
    }
  }
}

TEST_CASE("VEE 30 days: a clean fleet gets no flags at all", "[integration][vee]") {
  const auto dir = ami::test::fresh_temp_dir("vee_30day_clean");
  const auto fleet = write_fleet(dir, R"toml(
seed = 5
[[gateway]]
count = 1
meters = 10
)toml");
  Store store(dir);
  const auto registry = import_registry(store, fleet);
  std::vector<MeterCase> meters;
  for (const auto& [id, row] : registry) {
    MeterCase m;
    m.id = id;
    m.truth = load_truth(fleet, id);
    meters.push_back(std::move(m));
  }
  run_days(store, meters, registry);
  std::map<std::string, std::int64_t> flags_seen;
  for (const auto& m : meters) {
    for (int c = 0; c < 2; ++c) {
      const auto latest = latest_stored(store, m.id, kChannels[c]);
      check_against_truth(store, m, c, latest);
      for (const auto& iv : latest) {
        if (iv.flags != 0 || iv.status != IntervalStatus::actual) {
          flags_seen[m.id + " " + std::to_string(c) + " " + vee::describe(iv.flags)] += 1;
        }
      }
    }
  }
  for (const auto& [what, count] : flags_seen) UNSCOPED_INFO(what << ": " << count);
  CHECK(flags_seen.empty());
}
