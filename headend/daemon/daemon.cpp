#include "headend/daemon/daemon.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "headend/collection/gateway_worker.hpp"
#include "headend/collection/backfill_coordinator.hpp"
#include "headend/collection/clock_sync.hpp"
#include "headend/collection/modbus_collector.hpp"
#include "headend/collection/scheduler.hpp"
#include "headend/collection/store_intake_gate.hpp"
#include "headend/daemon/records.hpp"
#include "headend/daemon/submit_batcher.hpp"
#include "headend/feed/feed_server.hpp"
#include "headend/monitor/daemon_hook.hpp"
#include "headend/kafka/kafka_sink.hpp"
#include "headend/runtime/asio.hpp"
#include "storage/registry.hpp"
#include "storage/registry_csv.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"

namespace ami::daemon {
namespace {

using collection::GatewayWorker;
using collection::JobReport;
using collection::ReadJob;

constexpr int kExitRuntimeFailure = 1;
constexpr int kExitBadConfig = 2;
constexpr int kExitStartupFailure = 3;

void import_registry(storage::StoreWriter& writer, const std::filesystem::path& csv) {
  const auto parsed = storage::read_registry_csv_file(csv);
  if (!parsed.ok()) {
    std::string text = fmt::format("registry {} has {} error(s), nothing imported:", csv.string(), parsed.errors.size());
    for (const auto& e : parsed.errors) text += "\n  " + e.to_string();
    throw StartupError(text, kExitBadConfig);
  }
  try {
    const auto result = writer.import_meters(parsed.meters, "headend:import_csv");
    spdlog::info("registry {}: {} meter(s): {} inserted, {} updated, {} unchanged", csv.string(), parsed.meters.size(),
                 result.inserted, result.updated, result.unchanged);
  } catch (const std::invalid_argument& e) {
    throw StartupError(fmt::format("registry {}: {} (nothing imported)", csv.string(), e.what()), kExitBadConfig);
  }
}

// "tcp://HOST:PORT" -> host, port; false for any other channel kind.
bool parse_tcp_channel(const std::string& channel, std::string& host, std::uint16_t& port) {
  constexpr std::string_view prefix = "tcp://";
  if (channel.rfind(prefix, 0) != 0) return false;
  std::string error;
  return parse_host_port(std::string_view(channel).substr(prefix.size()), host, port, error);
}

collection::ChannelOptions channel_options(const DaemonConfig::Collection& c) {
  collection::ChannelOptions o;
  o.response_timeout = std::chrono::milliseconds{c.response_timeout_ms};
  o.connect_timeout = std::chrono::milliseconds{c.response_timeout_ms};
  o.inter_frame_gap = std::chrono::milliseconds{c.inter_frame_gap_ms};
  o.reconnect_backoff = std::chrono::milliseconds{c.reconnect_backoff_ms};
  o.reconnect_backoff_max = std::chrono::milliseconds{c.reconnect_backoff_max_ms};
  o.idle_close = std::chrono::seconds{c.idle_close_seconds};
  return o;
}

// Same target in every field the collection engine reads: a reload keeps the old one (so queued jobs
// and the scheduler's per-meter positions keep naming it).
bool same_target(const collection::MeterTarget& a, const collection::MeterTarget& b) {
  return a.meter_id == b.meter_id && a.protocol == b.protocol && a.channel_key == b.channel_key &&
         a.address == b.address && a.utc_offset_minutes == b.utc_offset_minutes &&
         a.response_timeout == b.response_timeout && a.register_tolerance == b.register_tolerance;
}

// A registry version loaded off the io thread, ready to swap in.
struct RegistryLoad {
  std::int64_t version = 0;
  std::vector<collection::MeterRef> targets;        // unchanged meters keep their current target
  std::vector<storage::MeterRecord> modbus_meters;  // enabled Modbus rows, for the Modbus collector
  int added = 0;
  int removed = 0;
  int changed = 0;
};

// Reads the enabled meters and compares them with `current` (the running fleet). Any thread; throws
// what the store throws.
RegistryLoad load_registry(const std::filesystem::path& database, std::int64_t version,
                           const DaemonConfig::Collection& c, const std::vector<collection::MeterRef>& current) {
  RegistryLoad load;
  load.version = version;
  // Row by row, with the per-protocol settings of [collection]: the rows (~390 B per meter) are
  // never all held next to the targets (the daemon's peak at start-up).
  TargetBuilder builder;
  std::vector<std::string> skipped;
  storage::StoreReader(database).for_each_meter(true, [&](storage::MeterRecord&& m) {
    if (auto t = builder.build(m, skipped)) {
      t->response_timeout = std::chrono::milliseconds{c.response_timeout_ms_for(t->protocol)};
      t->register_tolerance = std::chrono::seconds{c.register_tolerance_seconds};
      load.targets.push_back(collection::make_meter_ref(std::move(*t)));
    }
    if (storage::is_modbus(m.protocol)) load.modbus_meters.push_back(std::move(m));
  });
  for (const auto& s : skipped) spdlog::warn("registry: {}", s);
  std::unordered_map<std::string_view, const collection::MeterRef*> old_by_id;
  old_by_id.reserve(current.size());
  for (const auto& t : current) old_by_id.emplace(t->meter_id, &t);
  std::size_t kept = 0;
  for (auto& t : load.targets) {
    const auto old = old_by_id.find(t->meter_id);
    if (old == old_by_id.end()) {
      ++load.added;
      continue;
    }
    ++kept;
    const auto& before = *old->second;
    if (before->channel_key != t->channel_key || before->address != t->address || before->protocol != t->protocol ||
        before->utc_offset_minutes != t->utc_offset_minutes)
      ++load.changed;
    if (same_target(*before, *t)) t = before;
  }
  load.removed = static_cast<int>(current.size() - kept);
  return load;
}

class Daemon {
 public:
  Daemon(const DaemonConfig& config, const Clock& clock) : config_(config), clock_(clock) {}

  int run();

 private:
  void open_store();
  std::vector<std::string> configured_consumer_names() const {
    std::vector<std::string> names;
    for (const auto& consumer : config_.feed.consumers) names.push_back(consumer.name);
    return names;
  }
  void start_kafka();
  void start_feed_server();
  void start_monitor();
  void read_on_demand(const std::string& meter_id, std::function<void(monitor::OnDemandResult)> done);
  void finish_on_demand(const JobReport& report);
  void sample_queue_depth(const std::string& channel_key);
  void start_modbus(const std::vector<storage::MeterRecord>& meters);
  void start_worker(const std::string& key);
  void assign_direct_limits(const std::vector<collection::MeterRef>& targets);
  asio::awaitable<void> watch_registry();
  void apply_registry_change(RegistryLoad load);
  void on_clock_report(const JobReport& report);
  collection::ClockPolicy clock_policy() const;
  void build_workers(const std::vector<collection::MeterRef>& targets);
  void dispatch(ReadJob job);
  void on_report(JobReport report);
  void on_cycle(const collection::CycleReport& report);
  void maintain_store(UtcSeconds boundary);
  void begin_shutdown(int exit_code);
  asio::awaitable<void> shutdown();
  void wait_for_signal();

  const DaemonConfig& config_;
  Clock clock_;
  asio::io_context io_;  // declared first: destroyed last, after everything that posts to it
  // [collection] direct_tcp_concurrency: shared by the workers of one-meter tcp:// channels.
  collection::ConcurrencyLimit direct_limit_{static_cast<std::size_t>(config_.collection.direct_tcp_concurrency)};
  std::unique_ptr<storage::StoreWriter> writer_;
  std::unique_ptr<SubmitBatcher> batcher_;  // io thread: job records to writer_ in batches
  // [collection] max_store_backlog: scheduled/backfill reads wait while the store lags (io thread).
  std::unique_ptr<collection::StoreIntakeGate> intake_gate_;
  std::vector<storage::BoundaryRead> report_reads_;     // io thread: on_report's scratch
  std::vector<storage::AttemptRecord> report_attempts_;
  std::unique_ptr<kafka::KafkaSink> kafka_;  // [kafka] enabled: relays the outbox on its own thread
  std::unique_ptr<storage::StoreReader> feed_reader_;
  std::unique_ptr<feed::StoreReaderFeedStore> feed_store_;
  std::unique_ptr<feed::FeedServer> feed_server_;
  std::map<std::string, std::unique_ptr<GatewayWorker>> workers_;
  std::unique_ptr<collection::ModbusCollector> modbus_;  // Modbus meters: register reads on worker threads
  std::unique_ptr<collection::Scheduler> scheduler_;
  std::unique_ptr<collection::BackfillCoordinator> backfill_;  // gaps -> backfill reads (docs/COLLECTION.md)
  std::unique_ptr<collection::ClockSupervisor> clocks_;        // meter clocks: read, flag, correct, audit
  std::unique_ptr<monitor::Monitor> monitor_;  // [monitor]: dashboard, JSON API, /metrics
  std::multimap<std::string, std::function<void(monitor::OnDemandResult)>> on_demand_waiting_;  // io thread
  std::unique_ptr<asio::thread_pool> status_pool_;  // one thread: flush, then print, in cycle order
  asio::thread_pool registry_pool_{1};  // registry reloads: the SQLite read and the diff, off the io thread
  bool registry_loading_ = false;       // io thread: a reload is on registry_pool_
  std::optional<UtcSeconds> last_prune_;             // status_pool_ thread only
  std::optional<UtcSeconds> last_history_pass_;      // status_pool_ thread only
  // Store upkeep is skipped once shutdown began, and a running history pass stops between chunks,
  // so cycles still queued on status_pool_ never hold up a stop.
  std::atomic<bool> upkeep_cancelled_{false};
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
  asio::steady_timer workers_done_{io_};
  asio::steady_timer registry_timer_{io_};  // registry_poll_seconds between registry version checks
  std::int64_t registry_version_ = -1;
  int running_workers_ = 0;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

void Daemon::open_store() {
  std::error_code ec;
  std::filesystem::create_directories(config_.daemon.state_dir, ec);
  if (ec)
    throw StartupError(fmt::format("{}: [daemon] state_dir {}: cannot create: {}", config_.source_file.string(),
                                   config_.daemon.state_dir.string(), ec.message()),
                       kExitStartupFailure);
  try {
    storage::StoreOptions options;
    options.path = config_.database_path();
    options.page_cache_mib = config_.storage.page_cache_mib;
    if (config_.vee.enabled) options.vee = config_.vee.rules;
    writer_ = std::make_unique<storage::StoreWriter>(options);
  } catch (const std::exception& e) {
    throw StartupError(fmt::format("database {}: {}", config_.database_path().string(), e.what()), kExitStartupFailure);
  }
  if (config_.registry.import_csv) import_registry(*writer_, *config_.registry.import_csv);
  // A configured consumer that never acknowledged anything must hold back retention (cursor 0).
  writer_->ensure_consumers(configured_consumer_names());
}

void Daemon::start_feed_server() {
  feed::FeedServerOptions options;
  options.daemon_id = config_.daemon.id;
  options.listen_host = config_.feed.listen_host;
  options.listen_port = config_.feed.listen_port;
  for (const auto& c : config_.feed.consumers) options.consumers.push_back({c.name, c.token});
  options.max_unacked_batches = static_cast<std::size_t>(config_.feed.max_unacked_batches);
  options.batch_size = static_cast<std::size_t>(config_.feed.batch_size);
  feed_reader_ = std::make_unique<storage::StoreReader>(config_.database_path());
  feed_store_ = std::make_unique<feed::StoreReaderFeedStore>(*feed_reader_);
  try {
    feed_server_ = std::make_unique<feed::FeedServer>(io_.get_executor(), *feed_store_, options, clock_);
  } catch (const std::exception& e) {
    throw StartupError(fmt::format("{}: [feed] listen {}:{}: {}", config_.source_file.string(),
                                   config_.feed.listen_host, config_.feed.listen_port, e.what()),
                       kExitStartupFailure);
  }
  // The writer thread only posts (and pokes the Kafka sink); the feed server runs on the io_context.
  writer_->on_committed([this](std::uint64_t head) {
    if (kafka_) kafka_->notify(head);
    asio::post(io_, [this, head] {
      if (feed_server_) feed_server_->notify_committed(head);
      if (intake_gate_) intake_gate_->on_progress();
    });
  });
  feed_server_->start();
}

void Daemon::start_kafka() {
  if (!config_.kafka.enabled) return;
  try {
    kafka_ = std::make_unique<kafka::KafkaSink>(config_.kafka, config_.daemon.id,
                                                kafka::make_store_feed_source(config_.database_path()), clock_);
  } catch (const std::exception& e) {
    throw StartupError(fmt::format("{}: [kafka]: {}", config_.source_file.string(), e.what()), kExitBadConfig);
  }
  spdlog::info("kafka: relaying the outbox to topic {} on {}", config_.kafka.topic, config_.kafka.brokers);
}

// [collection.clock] as the clock supervisor and the workers need it.
collection::ClockPolicy Daemon::clock_policy() const {
  const auto& c = config_.collection.clock;
  collection::ClockPolicy p;
  p.enabled = c.enabled;
  p.read_every = std::chrono::hours{c.read_every_hours};
  p.tolerance = std::chrono::seconds{c.tolerance_seconds};
  p.correct = c.correct;
  p.max_correction = std::chrono::seconds{c.max_correction_seconds};
  p.method = c.method == "individual" ? collection::ClockMethod::individual : collection::ClockMethod::broadcast;
  const auto hex4 = [](const std::string& text) {  // validated as 8 hex digits by the config
    std::array<std::uint8_t, 4> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<std::uint8_t>(std::stoul(text.substr(2 * i, 2), nullptr, 16));
    return out;
  };
  p.password = hex4(c.password);
  p.operator_code = hex4(c.operator_code);
  p.send_delay = std::chrono::milliseconds{config_.collection.inter_frame_gap_ms};
  return p;
}

// A finished clock job: audit rows for every write, follow-up jobs (correction, verification).
void Daemon::on_clock_report(const JobReport& report) {
  collection::ClockBus bus;  // the channel's meters by reference: O(log N + bus), no copies
  const auto& fleet = scheduler_->meters();
  for (const auto i : scheduler_->channel_positions(report.job.meter->channel_key)) bus.push_back({i, fleet[i].get()});
  const auto position = scheduler_->position_of(report.job.meter, report.job.meter_index);
  auto follow_up = clocks_->on_report(report, position.value_or(collection::kNoMeterIndex), bus, clock_.now());
  if (report.meter_clock)
    spdlog::info("clock: meter {} skew {} ms", report.job.meter->meter_id,
                 (*report.meter_clock - report.collected_at).count());
  else if (!report.ok())
    spdlog::warn("clock: meter {} {}: {}", report.job.meter->meter_id, collection::to_string(report.final_outcome()),
                 report.attempts.empty() ? std::string{} : report.attempts.back().detail);
  for (auto& entry : follow_up.audit) {
    spdlog::info("clock: {} {}", entry.action, entry.detail);
    try {
      writer_->audit(std::move(entry.actor), std::move(entry.action), std::move(entry.detail));
    } catch (const std::exception& e) {
      spdlog::critical("store failed, shutting down: {}", e.what());
      begin_shutdown(kExitRuntimeFailure);
    }
  }
  for (auto& job : follow_up.jobs) dispatch(std::move(job));
}

// Creates the Modbus collector on the first Modbus meter (at start-up or a registry change) and
// (re-)resolves every Modbus meter in `meters`.
void Daemon::start_modbus(const std::vector<storage::MeterRecord>& meters) {
  std::size_t count = 0;
  for (const auto& m : meters) count += storage::is_modbus(m.protocol) ? 1U : 0U;
  if (count == 0) return;
  modbus::ExecutorOptions options;
  options.workers = static_cast<std::size_t>(config_.modbus.workers);
  options.link.response_timeout = std::chrono::milliseconds{config_.collection.response_timeout_ms_for("modbus")};
  options.link.connect_timeout = std::chrono::milliseconds{config_.collection.response_timeout_ms};
  if (!modbus_) modbus_ = std::make_unique<collection::ModbusCollector>(
      io_.get_executor(), clock_, options,
      collection::RetryPolicy{config_.collection.retries, std::chrono::milliseconds{config_.collection.retry_backoff_ms}},
      std::chrono::seconds{config_.modbus.boundary_tolerance_seconds}, [this](JobReport r) { on_report(std::move(r)); });
  for (const auto& m : meters) {
    std::string error;
    if (storage::is_modbus(m.protocol) && !modbus_->add_meter(m, config_.modbus.maps, error))
      spdlog::warn("modbus: {} (its reads fail as unsupported)", error);
  }
  spdlog::info("modbus: {} meter(s) on {} worker thread(s)", count, config_.modbus.workers);
}

// Monitoring hook (owned by "monitoring", docs/MONITORING.md).
void Daemon::start_monitor() {
  if (!config_.monitor.enabled) return;
  monitor_ = std::make_unique<monitor::Monitor>(io_, clock_, config_.database_path(),
                                                monitor::monitor_options_from(config_));
  monitor_->set_store_stats([this] { return writer_->stats(); });
  monitor_->set_on_demand([this](const std::string& meter_id, std::function<void(monitor::OnDemandResult)> done) {
    asio::post(io_, [this, meter_id, done = std::move(done)]() mutable { read_on_demand(meter_id, std::move(done)); });
  });
  try {
    monitor_->start();
  } catch (const std::exception& e) {
    throw StartupError(fmt::format("{}: [monitor] listen {}:{}: {}", config_.source_file.string(),
                                   config_.monitor.listen_host, config_.monitor.listen_port, e.what()),
                       kExitStartupFailure);
  }
  spdlog::info("monitor: dashboard and API on http://{}:{}/", config_.monitor.listen_host, monitor_->port());
}

// On-demand read (召测) for the monitor's POST: the meter's latest boundary record, ahead of
// scheduled work. Runs on the io thread; `done` is called once, from on_report().
void Daemon::read_on_demand(const std::string& meter_id, std::function<void(monitor::OnDemandResult)> done) {
  const auto* target = scheduler_ ? scheduler_->find(meter_id) : nullptr;
  if (target == nullptr || shutting_down_) {
    monitor::OnDemandResult r;
    r.outcome = shutting_down_ ? "shutting_down" : "not_collected";
    r.category = "rejected";
    r.detail = shutting_down_ ? "the daemon is shutting down" : "the meter is not enabled for collection";
    done(r);
    return;
  }
  const auto interval = std::chrono::minutes{config_.collection.interval_minutes};
  const auto now = clock_.now();
  ReadJob job;
  job.meter = *target;
  // The newest boundary whose record the meter has written (settle time after B).
  job.boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now) -
                                       std::chrono::seconds{config_.collection.settle_seconds},
                                   interval);
  job.interval = interval;
  job.source = storage::ReadSource::on_demand;
  job.priority = collection::Priority::on_demand;
  job.not_before = now;
  job.retry_deadline = now + std::chrono::seconds{config_.collection.settle_seconds + 60};
  if (const auto* state = scheduler_->state_of(meter_id); state != nullptr && state->no_load_profile)
    job.current_registers = true;  // no load profile: its registers now (docs/COLLECTION.md)
  on_demand_waiting_.emplace(meter_id + "|" + format_utc(job.boundary), std::move(done));
  dispatch(std::move(job));
}

void Daemon::finish_on_demand(const JobReport& report) {
  const auto key = report.job.meter->meter_id + "|" + format_utc(report.job.boundary);
  const auto [first, last] = on_demand_waiting_.equal_range(key);
  if (first == last) return;
  monitor::OnDemandResult r;
  r.ok = report.ok();
  r.outcome = std::string(collection::to_string(report.final_outcome()));
  r.category = std::string(collection::to_string(collection::category_of(report.final_outcome())));
  r.detail = report.attempts.empty() ? std::string{} : report.attempts.back().detail;
  r.attempts = static_cast<int>(report.attempts.size());
  r.boundary = format_utc(report.job.boundary);
  for (const auto& s : report.snapshots) {
    if (s.boundary != report.job.boundary) continue;
    r.forward_wh = s.forward_active_wh;
    r.reverse_wh = s.reverse_active_wh;
  }
  if (report.current) {  // a register read (1997) that is not a boundary reading: the registers now
    r.forward_wh = report.current->forward_active_wh;
    r.reverse_wh = report.current->reverse_active_wh;
    r.boundary = format_utc(report.current->boundary);
  }
  try {  // every operator command to a meter goes on record
    writer_->audit("on-demand", "on_demand_read",
                   fmt::format("meter '{}': {} after {} attempt(s){}{}", report.job.meter->meter_id, r.outcome,
                               r.attempts, r.forward_wh ? fmt::format(", forward {} Wh", *r.forward_wh) : "",
                               r.reverse_wh ? fmt::format(", reverse {} Wh", *r.reverse_wh) : ""));
  } catch (const std::exception& e) {
    spdlog::error("on-demand read of {}: audit failed: {}", report.job.meter->meter_id, e.what());
  }
  for (auto it = first; it != last; ++it) it->second(r);
  on_demand_waiting_.erase(first, last);
}

void Daemon::sample_queue_depth(const std::string& channel_key) {
  const auto it = workers_.find(channel_key);
  if (monitor_ && it != workers_.end()) {
    monitor_->queue_depth().with({channel_key}).set(static_cast<double>(it->second->queued()));
  }
}

void Daemon::build_workers(const std::vector<collection::MeterRef>& targets) {
  const collection::RetryPolicy retry{config_.collection.retries,
                                      std::chrono::milliseconds{config_.collection.retry_backoff_ms}};
  for (const auto& t : targets) {
    if (workers_.contains(t->channel_key) || storage::is_modbus(t->protocol)) continue;
    std::string host;
    std::uint16_t port = 0;
    std::unique_ptr<collection::Dlt645Channel> channel;
    if (parse_tcp_channel(t->channel_key, host, port)) {
      channel = std::make_unique<collection::Dlt645Channel>(io_.get_executor(), t->channel_key, host, port,
                                                            channel_options(config_.collection));
    } else {
      std::string error;
      auto serial = collection::parse_serial_channel(t->channel_key, error);
      if (!serial) {
        spdlog::warn("channel {}: {}; its meters will fail as unsupported", t->channel_key, error);
        continue;
      }
      channel = std::make_unique<collection::Dlt645Channel>(io_.get_executor(), t->channel_key, std::move(*serial),
                                                            channel_options(config_.collection));
    }
    workers_[t->channel_key] = std::make_unique<GatewayWorker>(io_.get_executor(), clock_, std::move(channel), retry,
                                                              [this](JobReport r) { on_report(std::move(r)); });
    workers_[t->channel_key]->set_clock_policy(clock_policy());
    workers_[t->channel_key]->set_intake_gate(intake_gate_.get());
    if (scheduler_) start_worker(t->channel_key);  // a channel added while running
  }
}

// A tcp:// channel with exactly one enabled DL/T 645 meter reaches that meter directly: its reads
// count against the daemon-wide cap. Re-run after every registry change.
void Daemon::assign_direct_limits(const std::vector<collection::MeterRef>& targets) {
  std::map<std::string, int> meters_per_channel;
  for (const auto& t : targets)
    if (!storage::is_modbus(t->protocol)) ++meters_per_channel[t->channel_key];
  std::size_t direct = 0;
  for (auto& [key, worker] : workers_) {
    const auto it = meters_per_channel.find(key);
    const bool is_direct = it != meters_per_channel.end() && it->second == 1 && !worker->channel().is_serial();
    worker->set_concurrency_limit(is_direct ? &direct_limit_ : nullptr);
    direct += is_direct ? 1U : 0U;
  }
  if (direct > 0)
    spdlog::info("{} channel(s) reach one meter directly over TCP: at most {} of their reads at once", direct,
                 config_.collection.direct_tcp_concurrency);
}

void Daemon::start_worker(const std::string& key) {
  ++running_workers_;
  asio::co_spawn(io_, workers_.at(key)->run(), [this, key](std::exception_ptr e) {
    --running_workers_;
    if (running_workers_ == 0) workers_done_.cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("channel {}: worker failed: {}", key, ex.what());
    }
    begin_shutdown(kExitRuntimeFailure);
  });
}

// Registry changes while running (headendctl meters add|update|disable|enable|remove|replace|import
// from any process bump the registry version): poll the version, reload on change.
asio::awaitable<void> Daemon::watch_registry() {
  boost::system::error_code ec;
  while (!shutting_down_) {
    registry_timer_.expires_after(std::chrono::seconds{config_.collection.registry_poll_seconds});
    co_await registry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (shutting_down_) break;
    std::int64_t version = 0;
    try {
      version = storage::read_registry_version(config_.database_path());
    } catch (const std::exception& e) {
      spdlog::warn("registry: cannot read its version (will retry): {}", e.what());
      continue;
    }
    if (version == registry_version_ || registry_loading_ || !scheduler_) continue;
    registry_loading_ = true;
    asio::post(registry_pool_, [this, version, current = scheduler_->meters()] {
      RegistryLoad load;
      std::string error;
      try {
        load = load_registry(config_.database_path(), version, config_.collection, current);
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(io_, [this, version, error, load = std::move(load)]() mutable {
        registry_loading_ = false;
        if (!error.empty()) {
          spdlog::warn("registry: version {} not loaded (will retry): {}", version, error);
          return;
        }
        if (!shutting_down_) apply_registry_change(std::move(load));
      });
    });
  }
}

// Swaps in a reloaded registry: new channels get workers, the scheduler's next cycles read the new
// set (reads already queued for a removed meter still run once), Modbus meters are re-resolved.
// Runs on the io thread; the SQLite read and the diff ran on registry_pool_ (load_registry).
void Daemon::apply_registry_change(RegistryLoad load) {
  registry_version_ = load.version;
  build_workers(load.targets);
  assign_direct_limits(load.targets);
  start_modbus(load.modbus_meters);
  const auto enabled = load.targets.size();
  const auto previous = scheduler_->set_meters(std::move(load.targets));
  if (backfill_) backfill_->on_fleet_change(previous);  // their per-meter state is kept by position too
  if (clocks_) clocks_->remap(previous);
  const auto summary = fmt::format("registry version {}: {} enabled meter(s), {} added, {} removed, {} changed",
                                   load.version, enabled, load.added, load.removed, load.changed);
  spdlog::info("{}", summary);
  try {
    writer_->audit("headend", "registry_reloaded", summary);
  } catch (const std::exception& e) {
    spdlog::error("registry reload: audit failed: {}", e.what());
  }
}

void Daemon::dispatch(ReadJob job) {
  // A due clock read goes just before the meter's scheduled read, so that read (and the VEE
  // flags on its intervals) carries the skew measured now, before any correction.
  if (clocks_ && job.source == storage::ReadSource::scheduled && job.clock == collection::ClockCommand::none)
    if (auto clock_job = clocks_->read_if_due(job.meter, job.meter_index, job.boundary, clock_.now())) {
      clock_job->not_before = job.not_before - std::chrono::milliseconds{1};
      dispatch(std::move(*clock_job));
    }
  if (modbus_ && storage::is_modbus(job.meter->protocol)) {
    modbus_->enqueue(std::move(job));
    return;
  }
  const auto it = workers_.find(job.meter->channel_key);
  if (it != workers_.end()) {
    const auto key = job.meter->channel_key;
    it->second->enqueue(std::move(job));
    sample_queue_depth(key);
    return;
  }
  // No worker can reach this channel kind: fail the job without touching any wire.
  JobReport report;
  report.attempts.push_back({1, collection::Outcome::unsupported,
                             "channel " + job.meter->channel_key + " is neither tcp:// nor a valid serial://",
                             clock_.now(), 0});
  report.job = std::move(job);
  asio::post(io_, [this, r = std::move(report)]() mutable { on_report(std::move(r)); });
}

void Daemon::on_report(JobReport report) {
  if (report.job.clock != collection::ClockCommand::none) {  // not a reading: no attempts row, no KPI
    sample_queue_depth(report.job.meter->channel_key);
    on_clock_report(report);
    return;
  }
  auto& reads = report_reads_;  // reused per report: the batcher moves the records out, keeps no vector
  auto& attempts = report_attempts_;
  reads.clear();
  attempts.clear();
  to_store_records(report, reads, attempts);
  // The meter's clock as last measured: VEE flags reads taken while it is off (docs/COLLECTION.md).
  if (clocks_ && scheduler_)
    if (const auto position = scheduler_->position_of(report.job.meter, report.job.meter_index))
      if (const auto skew = clocks_->skew_of(*position))
        for (auto& r : reads) r.meter_time = r.collected_at + *skew;
  if (backfill_) backfill_->on_report(report);
  if (monitor_) monitor_->record_attempts(attempts);
  sample_queue_depth(report.job.meter->channel_key);
  if (report.job.source == storage::ReadSource::on_demand) finish_on_demand(report);
  try {
    batcher_->add(reads, attempts);
  } catch (const std::exception& e) {
    spdlog::critical("store failed, shutting down: {}", e.what());
    begin_shutdown(kExitRuntimeFailure);
  }
  if (scheduler_) scheduler_->on_job_report(report);
}

void Daemon::on_cycle(const collection::CycleReport& report) {
  try {  // the cycle's last reads may still wait for their batch: the flush below must cover them
    batcher_->flush();
  } catch (const std::exception& e) {
    spdlog::critical("store failed, shutting down: {}", e.what());
    begin_shutdown(kExitRuntimeFailure);
  }
  // Flushing waits for the writer thread (fsync): never on the io_context.
  asio::post(*status_pool_, [this, report] {
    std::uint64_t head = 0;
    try {
      writer_->flush();
      head = writer_->stats().head_sequence;
    } catch (const std::exception& e) {
      spdlog::error("cycle {}: store flush failed: {}", format_utc(report.boundary), e.what());
      return;
    }
    const auto line = format_cycle_line(report, head);
    spdlog::debug("{}", line);
    if (config_.status.print_cycle_lines) {
      std::fputs((line + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    if (!upkeep_cancelled_.load()) maintain_store(report.boundary);
  });
}

// Store upkeep after a cycle, on the status thread (it waits for the writer): estimates for meters
// silent for [vee] silent_after_minutes (docs/VEE.md "In the daemon"), and retention every
// [storage] prune_every_minutes of simulated time (docs/STORAGE.md "Retention").
void Daemon::maintain_store(UtcSeconds boundary) {
  try {
    if (config_.vee.enabled) {
      const auto due = boundary - std::chrono::minutes{config_.vee.silent_after_minutes};
      const auto silent = writer_->estimate_silent(due);
      if (silent.intervals > 0)
        spdlog::info("vee: {} estimate(s) for {} silent meter channel(s), boundaries up to {}", silent.intervals,
                     silent.channels, format_utc(due));
      const auto pass_now = std::chrono::floor<std::chrono::seconds>(clock_.now());
      if (config_.vee.history_pass_minutes > 0 &&
          (!last_history_pass_ ||
           pass_now - *last_history_pass_ >= std::chrono::minutes{config_.vee.history_pass_minutes})) {
        last_history_pass_ = pass_now;
        storage::HistoryPassOptions pass;
        pass.to = due;
        pass.window = std::chrono::hours{config_.vee.history_pass_window_hours};
        pass.meters_per_chunk = static_cast<std::size_t>(config_.vee.history_pass_meters_per_chunk);
        pass.cancel = &upkeep_cancelled_;
        const auto history = writer_->run_history_pass(pass);
        spdlog::info("vee: history pass over {} meter(s) up to {}: {} interval version(s) with changed flags",
                     history.meters, format_utc(due), history.intervals);
      }
    }
    const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
    if (last_prune_ && now - *last_prune_ < std::chrono::minutes{config_.storage.prune_every_minutes}) return;
    last_prune_ = now;
    storage::RetentionPolicy policy;
    policy.keep_intervals = policy.keep_reads = policy.keep_attempts = std::chrono::days{config_.storage.retention_days};
    policy.keep_audit = std::chrono::days{config_.storage.audit_retention_days};
    policy.consumers = configured_consumer_names();
    const auto pruned = writer_->prune(policy, now);
    if (pruned.outbox_rows + pruned.intervals + pruned.reads + pruned.attempts + pruned.audit_rows > 0)
      spdlog::info("retention: pruned {} outbox row(s), {} interval(s), {} read(s), {} attempt(s), {} audit row(s)",
                   pruned.outbox_rows, pruned.intervals, pruned.reads, pruned.attempts, pruned.audit_rows);
  } catch (const std::exception& e) {
    spdlog::error("cycle {}: store upkeep failed: {}", format_utc(boundary), e.what());
  }
}

void Daemon::wait_for_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (shutting_down_) {
      spdlog::warn("signal {} during shutdown: still finishing in-flight transactions", signal);
    } else {
      spdlog::info("signal {}: shutting down", signal);
      begin_shutdown(0);
    }
    wait_for_signal();
  });
}

void Daemon::begin_shutdown(int exit_code) {
  if (shutting_down_) return;
  shutting_down_ = true;
  upkeep_cancelled_ = true;
  exit_code_ = exit_code;
  asio::co_spawn(io_, shutdown(), [](std::exception_ptr e) {
    if (e) spdlog::critical("shutdown failed");
  });
}

asio::awaitable<void> Daemon::shutdown() {
  if (scheduler_) scheduler_->stop();
  registry_timer_.cancel();
  for (auto& [key, worker] : workers_) worker->stop();
  if (intake_gate_) intake_gate_->stop();
  if (modbus_) modbus_->stop();
  boost::system::error_code ec;
  while (running_workers_ > 0 || (modbus_ && modbus_->in_flight() > 0)) {
    workers_done_.expires_after(std::chrono::milliseconds{50});
    co_await workers_done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  try {
    batcher_->flush();
    writer_->flush();
  } catch (const std::exception& e) {
    spdlog::error("final store flush failed: {}", e.what());
    exit_code_ = kExitRuntimeFailure;
  }
  if (feed_server_) feed_server_->stop();
  if (monitor_) monitor_->stop();
  for (auto& [key, done] : on_demand_waiting_) {  // never leave an HTTP request waiting
    monitor::OnDemandResult r;
    r.outcome = "shutting_down";
    r.category = "rejected";
    r.detail = "the daemon shut down before the read finished";
    done(r);
  }
  on_demand_waiting_.clear();
  signals_.cancel();
  io_.stop();
}

int Daemon::run() {
  open_store();
  registry_version_ = storage::read_registry_version(config_.database_path());
  // The registry rows live only while the fleet is built: the scheduler's targets are the one copy.
  auto registry = load_registry(config_.database_path(), registry_version_, config_.collection, {});
  auto& targets = registry.targets;
  spdlog::info("daemon {}: {} enabled meter(s), state {}, clock {}", config_.daemon.id, targets.size(),
               config_.daemon.state_dir.string(),
               clock_.is_accelerated() ? fmt::format("accelerated x{}", clock_.speed()) : std::string("real"));
  start_kafka();
  start_feed_server();
  start_monitor();
  intake_gate_ = std::make_unique<collection::StoreIntakeGate>(
      io_.get_executor(), static_cast<std::size_t>(config_.collection.max_store_backlog),
      [this] { return writer_->queued_items() + (batcher_ ? batcher_->pending() : 0); });
  // The backlog drops when the writer takes a batch, before it commits: admit waiters then, so
  // reading overlaps the transaction (the writer thread only posts).
  writer_->on_taken([this] {
    asio::post(io_, [this] {
      if (intake_gate_) intake_gate_->on_progress();
    });
  });
  build_workers(targets);
  assign_direct_limits(targets);
  start_modbus(registry.modbus_meters);
  registry.modbus_meters = {};
  status_pool_ = std::make_unique<asio::thread_pool>(1);
  batcher_ = std::make_unique<SubmitBatcher>(
      io_.get_executor(), SubmitBatchOptions{},
      [this](std::vector<storage::BoundaryRead> reads, std::vector<storage::AttemptRecord> attempts) {
        writer_->submit(std::move(reads), std::move(attempts));
      },
      [this](const std::exception& e) {
        spdlog::critical("store failed, shutting down: {}", e.what());
        begin_shutdown(kExitRuntimeFailure);
      });

  collection::SchedulerOptions options;
  options.interval = std::chrono::minutes{config_.collection.interval_minutes};
  options.settle = std::chrono::seconds{config_.collection.settle_seconds};
  options.spread_window = std::chrono::seconds{config_.collection.spread_window_seconds};
  options.max_outstanding_cycles = config_.collection.max_outstanding_cycles;
  scheduler_ = std::make_unique<collection::Scheduler>(
      io_.get_executor(), clock_, options, std::move(targets), [this](ReadJob job) { dispatch(std::move(job)); },
      [this](const collection::CycleReport& r) { on_cycle(r); });

  for (const auto& [key, worker] : workers_) start_worker(key);
  const auto first_boundary = collection::first_boundary_at_or_after(clock_.now(), options.interval);
  backfill_ = std::make_unique<collection::BackfillCoordinator>(
      io_.get_executor(), config_.database_path(),
      collection::BackfillOptions{options.interval, std::chrono::hours{24 * config_.collection.backfill_days},
                                  std::chrono::hours{config_.collection.load_profile_depth_hours},
                                  config_.collection.backfill_from_freezes, config_.collection.backfill_never_read},
      [this](ReadJob job) { dispatch(std::move(job)); },
      [this](const collection::MeterRef& meter, std::uint32_t hint) { return scheduler_->position_of(meter, hint); });
  clocks_ = std::make_unique<collection::ClockSupervisor>(clock_policy());
  asio::co_spawn(io_, scheduler_->run(first_boundary), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("scheduler failed: {}", ex.what());
    }
    begin_shutdown(kExitRuntimeFailure);
  });
  asio::co_spawn(io_, watch_registry(), [](std::exception_ptr e) {
    if (e) spdlog::error("registry watch stopped unexpectedly; registry changes need a restart");
  });
  wait_for_signal();

  io_.run();
  if (backfill_) backfill_->stop();
  registry_pool_.join();

  status_pool_->join();
  try {  // nothing acknowledged to a worker is dropped, even if a report came after shutdown's flush
    batcher_->flush();
  } catch (const std::exception& e) {
    spdlog::error("final store submit failed: {}", e.what());
    exit_code_ = kExitRuntimeFailure;
  }
  kafka_.reset();  // stop(): waits up to [kafka] flush_timeout_ms for outstanding deliveries
  writer_->stop();
  spdlog::info("daemon {}: stopped", config_.daemon.id);
  return exit_code_;
}

}  // namespace

int run_daemon(const DaemonConfig& config, const Clock& clock) {
  Daemon daemon(config, clock);
  return daemon.run();
}

}  // namespace ami::daemon
