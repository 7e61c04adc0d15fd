#include "tests/integration/feed/feed_run.hpp"

#include <csignal>
#include <fstream>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "headend/feed/feed_client.hpp"
#include "storage/store_reader.hpp"

namespace ami::test::feed {

namespace v1 = headend::feed::v1;
using namespace std::chrono;

namespace {

constexpr int kSeed = 20260105;

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

IntervalId interval_id(const v1::IntervalReading& r) { return {r.meter_id(), r.reading_type_cim(), r.end_unix()}; }

Deduplicated deduplicate(const std::vector<v1::IntervalReading>& received) {
  Deduplicated out;
  std::map<std::string, std::string> by_key;  // idempotency key -> content (sequence-free)
  for (const auto& r : received) {
    ++out.deliveries;
    auto content = r;
    content.clear_sequence();  // a replay under a new sequence would still be the same publication
    const auto bytes = content.SerializeAsString();
    const auto [it, inserted] = by_key.emplace(r.idempotency_key(), bytes);
    if (!inserted && it->second != bytes) out.conflicts.push_back(r.idempotency_key());
    auto& slot = out.latest[interval_id(r)];
    if (slot.version() < r.version()) slot = r;
  }
  return out;
}

const std::vector<FeedConsumerSpec>& FeedRun::consumers() {
  static const std::vector<FeedConsumerSpec> list = {
      {"billing", "billing-secret"}, {"audit", "audit-secret"}, {"spare", "spare-secret"}};
  return list;
}

FeedRun::FeedRun(const std::string& name, std::int64_t clock_speed, const std::string& sim_start, int meters,
                 const std::string& extra_config)
    : name_(name),
      dir_(fresh_temp_dir(name)),
      meters_(meters),
      gateway_port_(free_tcp_port()),
      feed_port_(free_tcp_port()),
      speed_(clock_speed),
      sim_start_(sim_start),
      anchor_ms_(unix_ms_now() + 1500),
      clock_(Clock::accelerated(UtcMillis{*parse_utc(sim_start)}, clock_speed,
                                UtcMillis{milliseconds{anchor_ms_}})),
      config_(dir_ / "headend.toml") {
  const auto registry_csv = dir_ / "meters.csv";
  std::ofstream(registry_csv) << run_and_capture(with({(bin_dir() / "meter-sim").string(), "registry"}, fleet_args()));
  std::ofstream out(config_);
  out << "[daemon]\nid = \"" << name << "\"\nstate_dir = \"" << (dir_ / "state").string() << "\"\n"
      << "[registry]\nimport_csv = \"" << registry_csv.string() << "\"\n"
      << "[collection]\ninterval_minutes = 15\nspread_window_seconds = 60\n"
      << "[feed]\nlisten = \"127.0.0.1:" << feed_port_ << "\"\nbatch_size = 50\nmax_unacked_batches = 4\n";
  for (const auto& c : consumers()) out << "[[feed.consumers]]\nname = \"" << c.name << "\"\ntoken = \"" << c.token << "\"\n";
  out << extra_config;
}

FeedRun::~FeedRun() {
  if (daemon_ && daemon_->running()) daemon_->stop(seconds{10});
  if (sim_ && sim_->running()) sim_->stop(seconds{10});
}

std::vector<std::string> FeedRun::fleet_args() const {
  return {"--gateways", "1", "--meters-per-gateway", std::to_string(meters_), "--protocol", "dlt645-2007",
          "--base-port", std::to_string(gateway_port_), "--seed", std::to_string(kSeed)};
}

std::vector<std::string> FeedRun::clock_args() const {
  return {"--clock", "accelerated", "--clock-start", sim_start_, "--clock-speed", std::to_string(speed_),
          "--clock-anchor", std::to_string(anchor_ms_)};
}

std::vector<std::string> FeedRun::meter_ids() const {
  std::vector<std::string> out;
  std::istringstream csv(read_file(dir_ / "meters.csv"));
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line))
    if (!line.empty()) out.push_back(line.substr(0, line.find(',')));
  return out;
}

void FeedRun::start_simulator() {
  sim_ = std::make_unique<ChildProcess>(
      with(with({(bin_dir() / "meter-sim").string(), "serve"}, fleet_args()), clock_args()), dir_ / "sim.out",
      dir_ / "sim.err");
  REQUIRE(wait_for_port(gateway_port_, seconds{10}));
}

void FeedRun::stop_simulator() { sim_->stop(seconds{10}); }

void FeedRun::start_daemon() {
  const auto n = std::to_string(++daemon_starts_);
  daemon_ = std::make_unique<ChildProcess>(
      with({(bin_dir() / "headend").string(), "--config", config_.string()}, clock_args()),
      dir_ / ("headend." + n + ".out"), dir_ / ("headend." + n + ".err"));
}

void FeedRun::start_daemon_and_wait_for_feed() {
  start_daemon();
  INFO(daemon_log());
  REQUIRE(wait_for_port(feed_port_, seconds{10}));
}

void FeedRun::kill_daemon_at_random_moments(int times, milliseconds max_lifetime) {
  const auto seed = static_cast<unsigned>(unix_ms_now());
  INFO("kill schedule seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> lifetime_ms(150, max_lifetime.count());
  for (int i = 0; i < times; ++i) {
    start_daemon();
    std::this_thread::sleep_for(milliseconds{lifetime_ms(rng)});
    INFO("kill #" << i + 1 << "\n" << daemon_log());
    REQUIRE(daemon_running());  // it must not die on its own, e.g. on a store left by a crash
    kill_daemon();
  }
}

void FeedRun::kill_daemon() {
  daemon_->signal(SIGKILL);
  daemon_->wait(seconds{10});
}

int FeedRun::stop_daemon() { return daemon_->stop(seconds{20}); }

std::string FeedRun::daemon_log() const {
  std::string out;
  for (int i = 1; i <= daemon_starts_; ++i) {
    const auto path = dir_ / ("headend." + std::to_string(i) + ".err");
    out += "--- daemon start " + std::to_string(i) + " ---\n" + read_file(path);
  }
  // The tail is what matters when a test fails; keep the message readable.
  constexpr std::size_t kMax = 8000;
  return out.size() > kMax ? out.substr(out.size() - kMax) : out;
}

void FeedRun::wait_until_sim(UtcMillis t, bool require_daemon) {
  while (clock_.now() < t) {
    if (require_daemon) {
      INFO(daemon_log());
      REQUIRE(daemon_running());
    }
    std::this_thread::sleep_for(milliseconds{100});
  }
}

std::vector<v1::IntervalReading> FeedRun::outbox() const {
  storage::StoreReader reader(database());
  std::vector<v1::IntervalReading> out;
  std::uint64_t after = 0;
  while (true) {
    auto rows = reader.read_feed(after, 10000);
    if (rows.empty()) break;
    after = rows.back().sequence();
    for (auto& r : rows) out.push_back(std::move(r));
  }
  return out;
}

std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> FeedRun::truth(const std::string& meter_id,
                                                                             UtcSeconds from, UtcSeconds to) const {
  const auto text = run_and_capture(with(with({(bin_dir() / "meter-sim").string(), "truth"}, fleet_args()),
                                         {"--meter", meter_id, "--from", format_utc(from), "--to", format_utc(to),
                                          "--format", "json"}));
  const auto json = nlohmann::json::parse(text);
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& iv : json.at("intervals")) {
    const auto end = parse_utc(iv.at("end").get<std::string>())->time_since_epoch().count();
    out[end] = {iv.at("forward_wh").get<std::int64_t>(), iv.at("reverse_wh").get<std::int64_t>()};
  }
  return out;
}

ReconnectingConsumer::ReconnectingConsumer(unsigned short port, FeedConsumerSpec consumer)
    : port_(port), consumer_(std::move(consumer)), thread_([this] { run(); }) {}

ReconnectingConsumer::~ReconnectingConsumer() { stop(); }

void ReconnectingConsumer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<v1::IntervalReading> ReconnectingConsumer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

void ReconnectingConsumer::run() {
  while (!stop_) {
    try {
      ami::feed::FeedClient client("127.0.0.1", port_);
      client.connect(milliseconds{1000});
      v1::Subscribe subscribe;
      subscribe.set_consumer(consumer_.name);
      subscribe.set_token(consumer_.token);
      subscribe.set_from_cursor(true);
      const auto subscribed = client.subscribe(subscribe, milliseconds{5000});
      ++sessions_;
      server_head_ = subscribed.head_sequence();
      while (!stop_) {
        const auto message = client.next(milliseconds{200});
        if (!message) continue;
        if (message->has_heartbeat()) server_head_ = message->heartbeat().head_sequence();
        if (message->has_error()) break;
        if (!message->has_batch()) continue;
        {
          std::lock_guard lock(mutex_);
          for (const auto& r : message->batch().intervals()) received_.push_back(r);
        }
        client.ack(message->batch().sequence(), milliseconds{2000});
        last_acked_ = message->batch().sequence();
      }
    } catch (const std::exception&) {
      // The daemon died or is starting: try again shortly.
    }
    std::this_thread::sleep_for(milliseconds{50});
  }
}

}  // namespace ami::test::feed
