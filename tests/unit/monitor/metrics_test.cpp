#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <vector>


#include "headend/monitor/metrics.hpp"
#include "tests/unit/monitor/promtool.hpp"

using ami::monitor::MetricsRegistry;

namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("metrics: counters render with HELP, TYPE and escaped labels", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& attempts = registry.counter("ami_read_attempts_total", "Read attempts by outcome", {"gateway", "outcome"});
  attempts.with({"tcp://10.0.0.1:8899", "ok"}).inc(3);
  attempts.with({"tcp://10.0.0.1:8899", "timeout"}).inc();
  attempts.with({"weird\"gw\\\n", "ok"}).inc(2);
  const auto text = registry.render();
  CHECK(contains_line(text, "# HELP ami_read_attempts_total Read attempts by outcome"));
  CHECK(contains_line(text, "# TYPE ami_read_attempts_total counter"));
  CHECK(contains_line(text, R"(ami_read_attempts_total{gateway="tcp://10.0.0.1:8899",outcome="ok"} 3)"));
  CHECK(contains_line(text, R"(ami_read_attempts_total{gateway="tcp://10.0.0.1:8899",outcome="timeout"} 1)"));
  CHECK(contains_line(text, R"(ami_read_attempts_total{gateway="weird\"gw\\\n",outcome="ok"} 2)"));
}

TEST_CASE("metrics: the same label values give the same series", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& family = registry.counter("x_total", "x", {"a"});
  auto& first = family.with({"v"});
  auto& second = family.with({"v"});
  CHECK(&first == &second);
  first.inc(2);
  second.inc(5);
  CHECK(first.value() == 7);
  CHECK(&family.with({"w"}) != &first);
}

TEST_CASE("metrics: series are found by their label values, not by where the strings live", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& family = registry.counter("y_total", "y", {"gateway", "outcome"});
  auto& ok = family.with({"tcp://10.0.0.1:8899", "ok"});
  // A lookup from another buffer (the read path passes views of its own strings) finds the same series.
  const std::string gateway = std::string("tcp://10.0.0.1:") + "8899";
  CHECK(&family.with({gateway, std::string_view("okay").substr(0, 2)}) == &ok);
  // Values that only differ in where one label ends are different series.
  auto& split_a = family.with({"tcp://10.0.0.1:889", "9ok"});
  auto& prefix = family.with({"tcp://10.0.0.1:8899", "o"});
  CHECK(&split_a != &ok);
  CHECK(&prefix != &ok);
  CHECK(&family.with({"tcp://10.0.0.1:889", "9ok"}) == &split_a);
  ok.inc();
  CHECK(family.with({gateway, "ok"}).value() == 1);
  CHECK(prefix.value() == 0);
}

TEST_CASE("metrics: gauges render floats, infinities and NaN as Prometheus expects", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& gauge = registry.gauge("ami_test_gauge", "a gauge", {"k"});
  gauge.with({"half"}).set(0.5);
  gauge.with({"inf"}).set(std::numeric_limits<double>::infinity());
  gauge.with({"ninf"}).set(-std::numeric_limits<double>::infinity());
  gauge.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
  gauge.with({"int"}).set(42);
  gauge.with({"int"}).add(-2);
  const auto text = registry.render();
  CHECK(contains_line(text, R"(ami_test_gauge{k="half"} 0.5)"));
  CHECK(contains_line(text, R"(ami_test_gauge{k="inf"} +Inf)"));
  CHECK(contains_line(text, R"(ami_test_gauge{k="ninf"} -Inf)"));
  CHECK(contains_line(text, R"(ami_test_gauge{k="nan"} NaN)"));
  CHECK(contains_line(text, R"(ami_test_gauge{k="int"} 40)"));
}

TEST_CASE("metrics: histogram buckets are cumulative with +Inf, sum and count", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& hist = registry.histogram("ami_latency_seconds", "latency", {"protocol"}, {0.1, 0.5, 1.0});
  auto& h = hist.with({"dlt645"});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.3);
  h.observe(2.0);
  const auto text = registry.render();
  CHECK(contains_line(text, "# TYPE ami_latency_seconds histogram"));
  CHECK(contains_line(text, R"(ami_latency_seconds_bucket{protocol="dlt645",le="0.1"} 2)"));
  CHECK(contains_line(text, R"(ami_latency_seconds_bucket{protocol="dlt645",le="0.5"} 3)"));
  CHECK(contains_line(text, R"(ami_latency_seconds_bucket{protocol="dlt645",le="1"} 3)"));
  CHECK(contains_line(text, R"(ami_latency_seconds_bucket{protocol="dlt645",le="+Inf"} 4)"));
  CHECK(contains_line(text, R"(ami_latency_seconds_sum{protocol="dlt645"} 2.45)"));
  CHECK(contains_line(text, R"(ami_latency_seconds_count{protocol="dlt645"} 4)"));
}

TEST_CASE("metrics: label-less families always show their single series", "[monitor][metrics]") {
  MetricsRegistry registry;
  registry.counter("ami_things_total", "things");
  registry.gauge("ami_level", "level");
  const auto text = registry.render();
  CHECK(contains_line(text, "ami_things_total 0"));
  CHECK(contains_line(text, "ami_level 0"));
}

TEST_CASE("metrics: bad registrations are refused with the name in the message", "[monitor][metrics]") {
  MetricsRegistry registry;
  registry.counter("ok_total", "fine");
  CHECK_THROWS_WITH(registry.counter("ok_total", "again"), Catch::Contains("ok_total") && Catch::Contains("twice"));
  CHECK_THROWS_WITH(registry.counter("attempts", "no suffix"), Catch::Contains("_total"));
  CHECK_THROWS_WITH(registry.gauge("1bad", "x"), Catch::Contains("'1bad'"));
  CHECK_THROWS_WITH(registry.gauge("g", "x", {"__reserved"}), Catch::Contains("__reserved"));
  CHECK_THROWS_WITH(registry.gauge("g2", "x", {"a", "a"}), Catch::Contains("twice"));
  CHECK_THROWS_WITH(registry.histogram("h", "x", {"le"}, {1.0}), Catch::Contains("le"));
  CHECK_THROWS_WITH(registry.histogram("h2", "x", {}, {1.0, 1.0}), Catch::Contains("strictly increasing"));
  CHECK_THROWS_WITH(registry.histogram("h3", "x", {}, {}), Catch::Contains("at least one"));
  registry.histogram("lat", "x", {}, {1.0});
  CHECK_THROWS_WITH(registry.gauge("lat_count", "x"), Catch::Contains("clashes"));
  auto& family = registry.counter("labelled_total", "x", {"a", "b"});
  CHECK_THROWS_WITH(family.with({"only-one"}), Catch::Contains("takes 2 label values, got 1"));
}

TEST_CASE("metrics: label cardinality is capped by an overflow series", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& family = registry.counter("capped_total", "x", {"k"}, 2);
  family.with({"a"}).inc();
  family.with({"b"}).inc();
  family.with({"c"}).inc();
  family.with({"d"}).inc();
  const auto text = registry.render();
  CHECK(contains_line(text, R"(capped_total{k="overflow"} 2)"));
  CHECK(text.find(R"(k="c")") == std::string::npos);
  CHECK(contains_line(text, "ami_metrics_series_overflow_total 2"));
}

TEST_CASE("metrics: collect hooks run before each render", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& depth = registry.gauge("ami_queue_depth", "depth").get();
  int sampled = 0;
  registry.on_collect([&] { depth.set(++sampled * 10); });
  CHECK(contains_line(registry.render(), "ami_queue_depth 10"));
  CHECK(contains_line(registry.render(), "ami_queue_depth 20"));
}

TEST_CASE("metrics: concurrent increments from many threads are all counted", "[monitor][metrics]") {
  MetricsRegistry registry;
  auto& family = registry.counter("ami_concurrent_total", "x", {"t"});
  auto& hist = registry.histogram("ami_concurrent_seconds", "x", {}, {0.5}).get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        family.with({t % 2 == 0 ? "even" : "odd"}).inc();
        hist.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(family.with({"even"}).value() == 20000);
  CHECK(family.with({"odd"}).value() == 20000);
  const auto snap = hist.snapshot();
  CHECK(snap.cumulative.front() == 20000);
  CHECK(snap.cumulative.back() == 40000);
  CHECK(snap.sum == Approx(20000 * 0.25 + 20000 * 1.0));
}

TEST_CASE("metrics: promtool accepts the exposition", "[monitor][metrics][promtool]") {
  MetricsRegistry registry;
  auto& attempts = registry.counter("ami_read_attempts_total", "Read attempts by gateway and outcome.",
                                    {"gateway", "outcome", "category"});
  attempts.with({"tcp://127.0.0.1:9000", "ok", "ok"}).inc(17);
  attempts.with({"tcp://127.0.0.1:9001", "timeout", "transport"}).inc(3);
  registry.gauge("ami_meters_registered", "Meters in the registry.").get().set(20);
  auto& lat = registry.histogram("ami_read_transaction_seconds", "Latency of one read transaction.", {"protocol"},
                                 {0.05, 0.1, 0.25, 0.5, 1, 2.5});
  lat.with({"dlt645-2007"}).observe(0.07);
  lat.with({"dlt645-2007"}).observe(3.0);
  const auto result = ami::test::promtool_check_metrics(registry.render());
  INFO("promtool output: " << result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("error") == std::string::npos);
}

TEST_CASE("metrics: promtool really rejects a broken exposition (the check can fail)", "[monitor][metrics][promtool]") {
  const auto result = ami::test::promtool_check_metrics("# TYPE broken counter\nbroken{a=\"x\" 1\n");
  INFO("promtool output: " << result.output);
  CHECK(result.exit_code != 0);
}
