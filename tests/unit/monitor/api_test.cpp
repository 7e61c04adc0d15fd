#include <catch2/catch.hpp>

#include <thread>

#include <nlohmann/json.hpp>

#include "headend/monitor/api.hpp"
#include "headend/monitor/fleet_view.hpp"
#include "tests/unit/monitor/fleet_fixture.hpp"

using ami::monitor::test::Behaviour;
using ami::monitor::test::Fleet;
using ami::monitor::test::TempStore;
using nlohmann::json;
using namespace std::chrono;
namespace bh = boost::beast::http;
namespace st = ami::storage;

namespace {

const st::LocalDay kDay = *st::parse_day("2026-01-05");
ami::UtcSeconds day_start() { return st::day_start_utc(kDay, 480); }

// A clock that reads `sim` now (and runs at real speed from there).
ami::Clock clock_at(ami::UtcSeconds sim) {
  const auto real_now = std::chrono::time_point_cast<milliseconds>(system_clock::now());
  return ami::Clock::accelerated(ami::UtcMillis{sim}, 1, ami::UtcMillis{real_now});
}

// Two gateways: gw1 healthy except one meter with meter errors, gw2 down.
void write_fleet(const std::filesystem::path& db) {
  Fleet fleet(day_start(), 97);
  fleet.add("M1", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1");
  fleet.add("M2", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1");
  auto& m3 = fleet.add("M3", "tcp://10.0.0.1:8899", "DTSU666", "district=north;feeder=F2");
  for (int k = 30; k < 34; ++k) m3.overrides[k] = Behaviour::meter_error;
  fleet.add("M4", "tcp://10.0.0.2:8899", "DTSU666", "district=south;feeder=F3", Behaviour::refused);
  st::StoreWriter writer(ami::monitor::test::store_options(db));
  fleet.write(writer);
}

struct ApiFixture {
  TempStore db{"api"};
  ami::http::Router router;
  std::unique_ptr<ami::monitor::MonitorApi> api;

  ApiFixture() {
    write_fleet(db.path());
    api = std::make_unique<ami::monitor::MonitorApi>(db.path(), clock_at(day_start() + hours{30}),
                                                     ami::monitor::ApiOptions{});
    api->register_routes(router);
    router.set_bearer_token("tok");
  }

  ami::http::Response call(bh::verb verb, const std::string& target, const std::string& auth = {}) const {
    ami::http::Request req{verb, target, 11};
    if (!auth.empty()) req.set(bh::field::authorization, auth);
    return router.handle(req);
  }
  json get(const std::string& target) const {
    const auto res = call(bh::verb::get, target);
    INFO(target << " -> " << res.body());
    REQUIRE(res.result() == bh::status::ok);
    return json::parse(res.body());
  }
};

}  // namespace

TEST_CASE("api: summary counts today's fleet, gateway states and a 7-day history", "[monitor][api]") {
  ApiFixture f;
  const auto s = f.get("/api/v1/summary?day=2026-01-05");
  CHECK(s["day"] == "2026-01-05");
  const auto& t = s["totals"];
  CHECK(t["meters"] == 4);
  CHECK(t["meters_complete"] == 2);
  CHECK(t["meters_failing"] == 2);
  CHECK(t["intervals_expected"] == 4 * 96);
  CHECK(t["intervals_after_backfill"] == 96 + 96 + 91);
  CHECK(t["completeness_after_backfill"].get<double>() == Approx((96 + 96 + 91) / 384.0));
  CHECK(t["boundaries_failed_transport"] == 96);
  CHECK(t["boundaries_failed_meter"] == 4);
  CHECK(s["gateways"]["down"] == 1);
  CHECK(s["gateways"]["degraded"] == 1);
  REQUIRE(s["history"].size() == 7);
  CHECK(s["history"][6]["day"] == "2026-01-05");
  CHECK(s["history"][6]["meters_complete"] == 2);
  CHECK(s["history"][0]["day"] == "2025-12-30");
  CHECK(s["history"][0]["meters_complete"] == 0);
}

TEST_CASE("api: gateways tell a dead gateway from a meter fault", "[monitor][api]") {
  ApiFixture f;
  const auto g = f.get("/api/v1/gateways?day=2026-01-05")["gateways"];
  REQUIRE(g.size() == 2);
  CHECK(g[0]["gateway"] == "tcp://10.0.0.1:8899");
  CHECK(g[0]["status"] == "degraded");
  CHECK(g[0]["totals"]["meters_failing"] == 1);
  CHECK(g[1]["gateway"] == "tcp://10.0.0.2:8899");
  CHECK(g[1]["status"] == "down");
  CHECK(g[1]["totals"]["reasons"][0]["outcome"] == "connection_refused");
}

TEST_CASE("api: meters filter failing, by gateway and by tag", "[monitor][api]") {
  ApiFixture f;
  const auto failing = f.get("/api/v1/meters?day=2026-01-05&failing=true")["meters"];
  REQUIRE(failing.size() == 2);
  CHECK(failing[0]["meter_id"] == "M3");
  CHECK(failing[0]["main_reason"] == "meter_error (meter)");
  CHECK(failing[0]["intervals_after_backfill"] == 91);
  CHECK(failing[1]["meter_id"] == "M4");
  CHECK(failing[1]["main_reason"] == "connection_refused (transport)");
  CHECK(failing[1]["last_failure"]["detail"] == "scripted connection_refused");
  CHECK(f.get("/api/v1/meters?day=2026-01-05")["meters"].size() == 4);
  CHECK(f.get("/api/v1/meters?day=2026-01-05&gateway=tcp://10.0.0.2:8899")["meters"].size() == 1);
  const auto north = f.get("/api/v1/meters?day=2026-01-05&tag=district%3Dnorth")["meters"];
  CHECK(north.size() == 3);
  const auto by_model = f.get("/api/v1/breakdown?day=2026-01-05&by=model")["groups"];
  REQUIRE(by_model.size() == 2);
  CHECK(by_model[0]["key"] == "DTSU666");
  CHECK(by_model[0]["totals"]["meters_failing"] == 2);
  CHECK(by_model[1]["totals"]["completeness_after_backfill"] == 1.0);
  const auto by_feeder = f.get("/api/v1/breakdown?day=2026-01-05&by=tag:feeder")["groups"];
  CHECK(by_feeder.size() == 3);
}

TEST_CASE("api: one meter's registry record, attempts and intervals", "[monitor][api]") {
  ApiFixture f;
  const auto m = f.get("/api/v1/meters/M3?day=2026-01-05");
  CHECK(m["meter"]["model"] == "DTSU666");
  CHECK(m["kpi"]["boundaries_failed_meter"] == 4);
  const auto attempts = f.get("/api/v1/meters/M3/attempts?limit=5&hours=48")["attempts"];
  REQUIRE(attempts.size() == 5);
  CHECK(attempts[0]["boundary"] == ami::format_utc(day_start() + hours{24}));
  const auto iv = f.get("/api/v1/meters/M3/intervals?day=2026-01-05")["intervals"];
  CHECK(iv.size() == 2 * 91);  // both channels
  CHECK(iv[0]["status"] == "actual");
  CHECK(iv[0]["value_wh"] == 100);
}

TEST_CASE("api: chronic meters and the daily report as JSON and CSV", "[monitor][api]") {
  ApiFixture f;
  const auto chronic = f.get("/api/v1/chronic?day=2026-01-05&days=1")["meters"];
  CHECK(chronic.size() == 2);
  const auto report = f.get("/api/v1/report?day=2026-01-05");
  CHECK(report["meters"].size() == 4);
  const auto csv = f.call(bh::verb::get, "/api/v1/report?day=2026-01-05&format=csv");
  CHECK(csv.result() == bh::status::ok);
  CHECK(csv[bh::field::content_type] == "text/csv; charset=utf-8");
  CHECK(csv.body().rfind(std::string(ami::monitor::report_csv_header) + "\n", 0) == 0);
  CHECK(csv.body().find("2026-01-05,M4,tcp://10.0.0.2:8899,DTSU666,district=south;feeder=F3,96,0,0,0,0,no,96,0,"
                        "connection_refused (transport),scripted connection_refused\n") != std::string::npos);
  CHECK(csv.body().find("2026-01-05,TOTAL,,,,384,283,283,283,283,2/4,96,4,,") != std::string::npos);
}

TEST_CASE("api: bad requests get 4xx JSON errors naming the problem", "[monitor][api]") {
  ApiFixture f;
  const auto bad_day = f.call(bh::verb::get, "/api/v1/summary?day=05.01.2026");
  CHECK(bad_day.result() == bh::status::bad_request);
  CHECK(json::parse(bad_day.body())["error"]["message"].get<std::string>().find("'day'") != std::string::npos);
  CHECK(f.call(bh::verb::get, "/api/v1/breakdown?by=colour").result() == bh::status::bad_request);
  CHECK(f.call(bh::verb::get, "/api/v1/meters?failing=maybe").result() == bh::status::bad_request);
  CHECK(f.call(bh::verb::get, "/api/v1/meters?tag=district").result() == bh::status::bad_request);
  CHECK(f.call(bh::verb::get, "/api/v1/report?format=xml").result() == bh::status::bad_request);
  const auto unknown = f.call(bh::verb::get, "/api/v1/meters/NOPE/attempts");
  CHECK(unknown.result() == bh::status::not_found);
  CHECK(json::parse(unknown.body())["error"]["code"] == "unknown_meter");
  CHECK(f.call(bh::verb::get, "/api/v1/meters/NOPE").result() == bh::status::not_found);
}

TEST_CASE("api: on-demand read needs the token and reports the daemon's result", "[monitor][api]") {
  ApiFixture f;
  CHECK(f.call(bh::verb::post, "/api/v1/meters/M1/read").result() == bh::status::unauthorized);
  const auto no_daemon = f.call(bh::verb::post, "/api/v1/meters/M1/read", "Bearer tok");
  CHECK(no_daemon.result() == bh::status::service_unavailable);

  std::string asked;
  f.api->set_on_demand([&](const std::string& id, std::function<void(ami::monitor::OnDemandResult)> done) {
    asked = id;
    std::thread([done = std::move(done)] {  // answers from another thread, as the daemon would
      ami::monitor::OnDemandResult r;
      r.ok = true;
      r.outcome = "ok";
      r.category = "ok";
      r.attempts = 1;
      r.forward_wh = 123456;
      r.boundary = "2026-01-05T22:00:00Z";
      done(r);
    }).detach();
  });
  const auto res = f.call(bh::verb::post, "/api/v1/meters/M1/read", "Bearer tok");
  REQUIRE(res.result() == bh::status::ok);
  const auto body = json::parse(res.body());
  CHECK(asked == "M1");
  CHECK(body["ok"] == true);
  CHECK(body["forward_wh"] == 123456);
  CHECK(body["reverse_wh"].is_null());
  CHECK(f.call(bh::verb::post, "/api/v1/meters/NOPE/read", "Bearer tok").result() == bh::status::not_found);
}

TEST_CASE("api: a store that cannot be read is a 500 naming no path", "[monitor][api]") {
  const std::filesystem::path missing = std::filesystem::path(AMI_TEST_TMP_DIR) / "monitor" / "no-such-dir" / "headend.db";
  ami::monitor::MonitorApi api(missing, clock_at(day_start() + hours{30}), ami::monitor::ApiOptions{});
  ami::http::Router router;
  api.register_routes(router);
  for (const char* target : {"/api/v1/summary", "/api/v1/meters?failing=true", "/api/v1/meters/M1/attempts"}) {
    const auto res = router.handle(ami::http::Request{bh::verb::get, target, 11});
    INFO(target << " -> " << res.body());
    CHECK(res.result() == bh::status::internal_server_error);
    CHECK(json::parse(res.body())["error"]["message"] == "internal error");
    CHECK(res.body().find("no-such-dir") == std::string::npos);
    CHECK(res.body().find(".db") == std::string::npos);
  }
}
