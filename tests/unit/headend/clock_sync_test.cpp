// Meter clock sync (headend/collection/clock_sync.hpp): the skew/correction decision, the broadcast
// rule, the wire helpers, and the supervisor's follow-up jobs and audit rows.
#include <catch2/catch.hpp>

#include "headend/collection/clock_sync.hpp"
#include "headend/config/daemon_config.hpp"
#include "protocols/dlt645/read.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {

UtcMillis clock_at(const char* t) { return UtcMillis{*parse_utc(t)}; }

MeterTarget clock_meter(const std::string& id, const char* address = "000000010001") {
  std::string error;
  MeterTarget m;
  m.meter_id = id;
  m.protocol = "dlt645-2007";
  m.channel_key = "tcp://127.0.0.1:9600";
  m.address = *dlt645::Address::parse(address, error);
  return m;
}

JobReport clock_read_report(const MeterTarget& meter, UtcMillis at, std::chrono::milliseconds skew) {
  JobReport r;
  r.job.meter = make_meter_ref(meter);
  r.job.clock = ClockCommand::read;
  r.attempts.push_back({1, Outcome::ok, "", at, 5});
  r.collected_at = at;
  r.meter_clock = at + skew;
  return r;
}

JobReport correction_report(const ReadJob& job, UtcMillis at, Outcome outcome) {
  JobReport r;
  r.job = job;
  r.attempts.push_back({1, outcome, outcome == Outcome::ok ? "" : "no connection", at, 0});
  r.collected_at = at;
  if (outcome == Outcome::ok) r.clock_sent = std::chrono::floor<std::chrono::seconds>(at);
  return r;
}

// A policy with this tolerance and correction limit (other fields default).
ClockPolicy tolerance_and_limit(std::chrono::seconds tolerance, std::chrono::seconds max_correction) {
  ClockPolicy p;
  p.tolerance = tolerance;
  p.max_correction = max_correction;
  return p;
}

}  // namespace

TEST_CASE("clock decision: tolerance, bounded correction, once a day, correction off", "[clock_sync]") {
  ClockPolicy p;
  p.tolerance = 60s;
  p.max_correction = 300s;
  const auto now = clock_at("2026-01-05T10:00:00Z");
  struct Row {
    std::chrono::milliseconds skew;
    std::optional<UtcMillis> last_correction;
    bool correct;
    ClockVerdict verdict;
  };
  const Row rows[] = {
      {0ms, std::nullopt, true, ClockVerdict::in_tolerance},
      {60'000ms, std::nullopt, true, ClockVerdict::in_tolerance},
      {-60'000ms, std::nullopt, true, ClockVerdict::in_tolerance},
      {60'001ms, std::nullopt, true, ClockVerdict::correct},
      {-180'000ms, std::nullopt, true, ClockVerdict::correct},
      {300'000ms, std::nullopt, true, ClockVerdict::correct},
      {300'001ms, std::nullopt, true, ClockVerdict::flag_beyond_max},
      {-1'200'000ms, std::nullopt, true, ClockVerdict::flag_beyond_max},
      {180'000ms, now - 23h, true, ClockVerdict::flag_corrected_recently},
      {180'000ms, now - 24h, true, ClockVerdict::correct},
      {180'000ms, std::nullopt, false, ClockVerdict::flag_no_correction},
      {30'000ms, std::nullopt, false, ClockVerdict::in_tolerance},
  };
  for (const auto& row : rows) {
    auto policy = p;
    policy.correct = row.correct;
    INFO("skew " << row.skew.count() << " ms, correct " << row.correct);
    CHECK(decide_clock(row.skew, policy, row.last_correction, now) == row.verdict);
  }
}

TEST_CASE("a broadcast is withheld when it would correct a meter beyond the limit or mixed offsets", "[clock_sync]") {
  ClockPolicy p;
  p.max_correction = 300s;
  std::string why;
  CHECK(broadcast_allowed({{"a", 480, 180'000ms}, {"b", 480, std::nullopt}, {"c", 480, -5'000ms}}, p, why));
  CHECK_FALSE(broadcast_allowed({{"a", 480, 180'000ms}, {"b", 480, 1'200'000ms}}, p, why));
  CHECK(why.find("meter b") != std::string::npos);
  CHECK_FALSE(broadcast_allowed({{"a", 480, 180'000ms}, {"b", 420, std::nullopt}}, p, why));
  CHECK(why.find("UTC offsets") != std::string::npos);
}

TEST_CASE("clock replies decode to the meter's UTC time, wrong DI and abnormal replies are reasons", "[clock_sync]") {
  const auto meter = clock_meter("m");
  // 2026-01-05 (Monday = 1) 18:30:07 local (UTC+8) = 10:30:07Z.
  const std::uint8_t date_value[] = {0x01, 0x05, 0x01, 0x26};  // WW DD MM YY
  const std::uint8_t time_value[] = {0x07, 0x30, 0x18};        // ss mm hh
  const auto date_reply = dlt645::make_read_reply(dlt645::Edition::v2007, meter.address, kDiMeterDate, date_value);
  const auto time_reply = dlt645::make_read_reply(dlt645::Edition::v2007, meter.address, kDiMeterTime, time_value);
  CHECK(is_clock_read_reply(kDiMeterDate, date_reply));
  CHECK_FALSE(is_clock_read_reply(kDiMeterTime, date_reply));  // a late date reply never answers the time read
  const auto date = interpret_clock_reply(kDiMeterDate, date_reply);
  const auto time = interpret_clock_reply(kDiMeterTime, time_reply);
  REQUIRE(date.outcome == Outcome::ok);
  REQUIRE(time.outcome == Outcome::ok);
  const auto utc = meter_clock_utc(date.value, time.value, 480);
  REQUIRE(utc);
  CHECK(*utc == clock_at("2026-01-05T10:30:07Z") + 500ms);

  const auto wrong = interpret_clock_reply(kDiMeterTime, date_reply);
  CHECK(wrong.outcome == Outcome::bad_reply);
  CHECK(wrong.detail.find("04000102") != std::string::npos);
  const auto refused = interpret_clock_reply(kDiMeterTime, dlt645::make_abnormal_reply(meter.address, 0x11, 0x02));
  CHECK(refused.outcome == Outcome::meter_error);
  CHECK(refused.detail.find("no_requested_data") != std::string::npos);
}

TEST_CASE("time sync frames carry the head-end time in meter local time", "[clock_sync]") {
  const auto at = *parse_utc("2026-01-05T10:30:07Z");
  const auto broadcast = make_time_broadcast(at, 480);
  REQUIRE(broadcast);
  CHECK(broadcast->address.is_broadcast());
  dlt645::Message m;
  REQUIRE(dlt645::parse_message(*broadcast, dlt645::Edition::v2007, m).ok());
  REQUIRE(m.time);
  CHECK(*m.time == dlt645::MeterDateTime{2026, 1, 5, 18, 30, 7});

  ClockPolicy p;
  p.password = {0x02, 0x12, 0x34, 0x56};
  const auto set = make_time_set_request(clock_meter("m").address, at, 480, p);
  dlt645::Message w;
  REQUIRE(dlt645::parse_message(set, dlt645::Edition::v2007, w).ok());
  CHECK(w.kind == dlt645::MessageKind::write);
  REQUIRE(w.di);
  CHECK(*w.di == kDiMeterTime);
  CHECK(std::vector<std::uint8_t>(w.value.begin(), w.value.end()) == std::vector<std::uint8_t>{0x07, 0x30, 0x18});
  CHECK(is_write_reply(dlt645::make_normal_reply(clock_meter("m").address, 0x14)));
  CHECK_FALSE(is_write_reply(dlt645::make_normal_reply(clock_meter("m").address, 0x16)));
}

TEST_CASE("supervisor: due reads, correction within limits, audit, verification, once a day", "[clock_sync]") {
  ClockPolicy p;
  p.tolerance = 60s;
  p.max_correction = 300s;
  p.read_every = 24h;
  ClockSupervisor clocks(p);
  const auto a = clock_meter("a");
  const auto b = clock_meter("b", "000000010002");
  const ClockBus bus = {{0, &a}, {1, &b}};
  auto now = clock_at("2026-01-05T10:00:05Z");

  const auto read = clocks.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-05T10:00:00Z"), now);
  REQUIRE(read);
  CHECK(read->clock == ClockCommand::read);
  CHECK_FALSE(clocks.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-05T10:00:00Z"), now));  // one in flight at a time

  // 3 minutes fast: flagged, and a broadcast is the follow-up.
  auto follow = clocks.on_report(clock_read_report(a, now, 180'000ms), 0, bus, now);
  CHECK(clocks.skew_of(0) == 180'000ms);
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::broadcast);
  REQUIRE(follow.audit.size() == 1);
  CHECK(follow.audit[0].action == "meter_clock_flagged");

  // The broadcast went out: audited with old and new time, verified by a fresh read.
  now += 2s;
  follow = clocks.on_report(correction_report(follow.jobs[0], now, Outcome::ok), 0, bus, now);
  REQUIRE(follow.audit.size() == 1);
  CHECK(follow.audit[0].action == "meter_time_broadcast");
  CHECK(follow.audit[0].detail.find("meter=a") != std::string::npos);
  CHECK(follow.audit[0].detail.find("old_meter_time=2026-01-05T10:03:07.000Z") != std::string::npos);
  CHECK(follow.audit[0].detail.find("new_time=2026-01-05T10:00:07Z") != std::string::npos);
  CHECK(follow.audit[0].detail.find("outcome=ok") != std::string::npos);
  CHECK_FALSE(clocks.skew_of(0));
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::read);
  CHECK(clocks.state(1)->last_correction_at == now);  // the broadcast set b's clock too

  // Still 3 minutes off after the correction (the meter ignored it): flagged, not corrected again today.
  follow = clocks.on_report(clock_read_report(a, now, 180'000ms), 0, bus, now);
  CHECK(follow.jobs.empty());
  CHECK(clocks.state(0)->verdict == ClockVerdict::flag_corrected_recently);
  // The next day it is read again and corrected again.
  now += 24h;
  REQUIRE(clocks.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-06T10:00:00Z"), now));
  follow = clocks.on_report(clock_read_report(a, now, 180'000ms), 0, bus, now);
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::broadcast);
}

TEST_CASE("supervisor: beyond max correction is flagged for a technician and blocks the bus broadcast",
          "[clock_sync]") {
  auto p = tolerance_and_limit(60s, 300s);
  ClockSupervisor clocks(p);
  const auto a = clock_meter("a");
  const auto b = clock_meter("b");
  const ClockBus bus = {{0, &a}, {1, &b}};
  const auto now = clock_at("2026-01-05T10:00:05Z");
  auto follow = clocks.on_report(clock_read_report(b, now, -1'200'000ms), 1, bus, now);
  CHECK(follow.jobs.empty());
  REQUIRE(follow.audit.size() == 1);
  CHECK(follow.audit[0].detail.find("flagged_beyond_max_correction") != std::string::npos);
  // a needs a correction, but a broadcast would also move b by 20 minutes: withheld.
  follow = clocks.on_report(clock_read_report(a, now, 120'000ms), 0, bus, now);
  CHECK(follow.jobs.empty());
  CHECK(clocks.state(0)->verdict == ClockVerdict::flag_beyond_max);
  bool withheld = false;
  for (const auto& e : follow.audit) withheld = withheld || e.action == "meter_clock_not_corrected";
  CHECK(withheld);

  // Individual time set corrects a alone.
  p.method = ClockMethod::individual;
  ClockSupervisor individual(p);
  individual.on_report(clock_read_report(b, now, -1'200'000ms), 1, bus, now);
  follow = individual.on_report(clock_read_report(a, now, 120'000ms), 0, bus, now);
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::set_time);
  CHECK(follow.jobs[0].meter->meter_id == "a");
  // A failed write is audited with its outcome and not treated as a correction.
  follow = individual.on_report(correction_report(follow.jobs[0], now, Outcome::unreachable), 0, bus, now);
  REQUIRE(follow.audit.size() == 1);
  CHECK(follow.audit[0].action == "meter_time_set");
  CHECK(follow.audit[0].detail.find("outcome=unreachable: no connection") != std::string::npos);
  CHECK_FALSE(individual.state(0)->last_correction_at);
  CHECK(follow.jobs.empty());
}

TEST_CASE("supervisor: no clock reads when disabled or for other protocols, failed reads wait before retrying",
          "[clock_sync]") {
  ClockPolicy p;
  p.enabled = false;
  ClockSupervisor off(p);
  const auto now = clock_at("2026-01-05T10:00:05Z");
  CHECK_FALSE(off.read_if_due(make_meter_ref(clock_meter("a")), 0, *parse_utc("2026-01-05T10:00:00Z"), now));
  p.enabled = true;
  ClockSupervisor on(p);
  auto modbus = clock_meter("mb");
  modbus.protocol = "modbus-tcp";
  CHECK_FALSE(on.read_if_due(make_meter_ref(modbus), 0, *parse_utc("2026-01-05T10:00:00Z"), now));
  const auto job = on.read_if_due(make_meter_ref(clock_meter("a")), 0, *parse_utc("2026-01-05T10:00:00Z"), now);
  REQUIRE(job);
  JobReport failed;
  failed.job = *job;
  failed.attempts.push_back({1, Outcome::timeout, "no reply", now, 1500});
  const auto a = clock_meter("a");
  on.on_report(failed, 0, {{0, &a}}, now);
  CHECK_FALSE(on.read_if_due(make_meter_ref(clock_meter("a")), 0, *parse_utc("2026-01-05T10:15:00Z"), now + 15min));
  CHECK(on.read_if_due(make_meter_ref(clock_meter("a")), 0, *parse_utc("2026-01-05T11:00:00Z"), now + 60min));
}

TEST_CASE("[collection.clock] and backfill_days: defaults, values, errors naming the key", "[clock_sync][config]") {
  const auto defaults = daemon::parse_config("", "test.toml", "/tmp");
  CHECK(defaults.collection.backfill_days == 3);
  CHECK(defaults.collection.clock.enabled);
  CHECK(defaults.collection.clock.method == "broadcast");
  const auto c = daemon::parse_config(
      "[collection]\nbackfill_days = 62\n[collection.clock]\nenabled = true\nread_every_hours = 6\n"
      "tolerance_seconds = 30\ncorrect = false\nmax_correction_seconds = 120\nmethod = \"individual\"\n"
      "password = \"04a1b2c3\"\noperator_code = \"00000001\"\n",
      "test.toml", "/tmp");
  CHECK(c.collection.backfill_days == 62);
  CHECK(c.collection.clock.read_every_hours == 6);
  CHECK(c.collection.clock.tolerance_seconds == 30);
  CHECK_FALSE(c.collection.clock.correct);
  CHECK(c.collection.clock.max_correction_seconds == 120);
  CHECK(c.collection.clock.method == "individual");
  CHECK(c.collection.clock.password == "04a1b2c3");
  const std::pair<const char*, const char*> bad[] = {
      {"[collection.clock]\nmethod = \"gps\"\n", "[collection.clock] method (line 2): 'gps' is not broadcast or individual"},
      {"[collection.clock]\ntolerance_seconds = 0\n", "[collection.clock] tolerance_seconds (line 2): must be in 1..86400"},
      {"[collection.clock]\ntolerance_seconds = 600\n",
       "[collection.clock] max_correction_seconds: must not be smaller than tolerance_seconds"},
      {"[collection.clock]\npassword = \"1234\"\n", "[collection.clock] password (line 2): '1234' is not 8 hex digits"},
      {"[collection.clock]\ninterval = 5\n", "[collection.clock] interval (line 2): unknown key"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    try {
      daemon::parse_config(text, "test.toml", "/tmp");
      FAIL("accepted");
    } catch (const daemon::ConfigError& e) {
      CHECK(std::string(e.what()).find(message) != std::string::npos);
    }
  }
}

TEST_CASE("supervisor: an individual time set is withheld near local midnight and retried later, broadcast is not",
          "[clock_sync]") {
  ClockPolicy p;
  p.tolerance = 60s;
  p.max_correction = 300s;
  p.method = ClockMethod::individual;
  // UTC+8: local midnight is 16:00Z; the margin is 300 s + 60 s.
  CHECK(near_local_midnight(clock_at("2026-01-05T15:57:00Z"), -120'000ms, 480, p));  // true time 23:57
  CHECK(near_local_midnight(clock_at("2026-01-05T16:05:00Z"), 0ms, 480, p));         // true time 00:05
  CHECK(near_local_midnight(clock_at("2026-01-05T15:50:00Z"), 250'000ms, 480, p));   // meter shows 23:54:10
  CHECK_FALSE(near_local_midnight(clock_at("2026-01-06T00:03:00Z"), 0ms, -480, p));  // UTC-8: local 16:03
  CHECK(near_local_midnight(clock_at("2026-01-06T08:03:00Z"), 0ms, -480, p));        // UTC-8: local 00:03
  CHECK_FALSE(near_local_midnight(clock_at("2026-01-05T15:50:00Z"), 120'000ms, 480, p));  // 23:52 both: clear
  CHECK_FALSE(near_local_midnight(clock_at("2026-01-05T10:00:00Z"), 250'000ms, 480, p));

  ClockSupervisor individual(p);
  const auto a = clock_meter("a");
  auto now = clock_at("2026-01-05T15:57:00Z");
  REQUIRE(individual.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-05T15:45:00Z"), now));
  auto follow = individual.on_report(clock_read_report(a, now, -120'000ms), 0, {{0, &a}}, now);
  CHECK(follow.jobs.empty());
  bool withheld = false;
  for (const auto& e : follow.audit)
    withheld = withheld || (e.action == "meter_clock_not_corrected" &&
                            e.detail.find("near local midnight") != std::string::npos);
  CHECK(withheld);
  CHECK(individual.skew_of(0) == -120'000ms);  // still flagged: reads carry the meter's clock
  // Retried at the next clock read (after retry_failed_read_after), clear of midnight: corrected.
  CHECK_FALSE(individual.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-05T16:00:00Z"), now + 15min));
  now += 60min;
  REQUIRE(individual.read_if_due(make_meter_ref(a), 0, *parse_utc("2026-01-05T16:45:00Z"), now));
  follow = individual.on_report(clock_read_report(a, now, -120'000ms), 0, {{0, &a}}, now);
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::set_time);

  // 08H carries the date: a broadcast is sent near midnight too.
  p.method = ClockMethod::broadcast;
  ClockSupervisor broadcast(p);
  now = clock_at("2026-01-05T15:57:00Z");
  follow = broadcast.on_report(clock_read_report(a, now, -120'000ms), 0, {{0, &a}}, now);
  REQUIRE(follow.jobs.size() == 1);
  CHECK(follow.jobs[0].clock == ClockCommand::broadcast);
}

TEST_CASE("supervisor: state kept by fleet position follows a registry change; a removed meter's report touches nobody",
          "[clock_sync]") {
  auto p = tolerance_and_limit(60s, 300s);
  ClockSupervisor clocks(p);
  const auto a = clock_meter("a");
  const auto b = clock_meter("b", "000000010002");
  const auto now = clock_at("2026-01-05T10:00:05Z");
  const auto read = clocks.read_if_due(make_meter_ref(b), 1, *parse_utc("2026-01-05T10:00:00Z"), now);
  REQUIRE(read);
  CHECK(read->meter_index == 1);  // follow-ups find the meter without a lookup by id
  clocks.on_report(clock_read_report(b, now, 30'000ms), 1, {{0, &a}, {1, &b}}, now);
  CHECK(clocks.skew_of(1) == 30'000ms);
  CHECK_FALSE(clocks.skew_of(0));
  // Registry change: a removed, b now at 0, a new meter at 1.
  clocks.remap({1, kNoMeterIndex});
  CHECK(clocks.skew_of(0) == 30'000ms);
  CHECK_FALSE(clocks.skew_of(1));
  // A late report of a meter no longer in the fleet: audited as usual, nobody's state changes.
  auto follow = clocks.on_report(clock_read_report(a, now, 400'000ms), kNoMeterIndex, {{0, &b}}, now);
  CHECK_FALSE(follow.audit.empty());  // flagged beyond max correction, on record
  CHECK(clocks.skew_of(0) == 30'000ms);
  CHECK_FALSE(clocks.skew_of(1));
  CHECK_FALSE(clocks.read_if_due(make_meter_ref(a), kNoMeterIndex, *parse_utc("2026-01-05T10:15:00Z"), now));
}
