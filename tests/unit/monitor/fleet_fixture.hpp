// Test fixture: a staging store filled with a scripted fleet (meters on gateways, each boundary
// read ok, after a retry, failed for a transport or meter reason, or filled later by backfill),
// written through the real StoreWriter so intervals are derived as in production.
// Tests only; one thread.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/store_writer.hpp"
#include "storage/types.hpp"

namespace ami::monitor::test {

enum class Behaviour {
  ok,            // first attempt ok
  retry_ok,      // attempt 1 timeout (transport), attempt 2 ok
  refused,       // 3 attempts connection_refused (transport), no read
  meter_error,   // 3 attempts meter_error (meter), no read
  backfilled,    // 3 attempts timeout, then a backfill read collected at Fleet::backfill_at
};

struct ScriptedMeter {
  storage::MeterRecord record;
  Behaviour normal = Behaviour::ok;
  std::map<int, Behaviour> overrides;  // boundary index -> behaviour
};

class Fleet {
 public:
  // Boundaries every 15 minutes from `first_boundary` (index 0) for `boundaries` boundaries.
  Fleet(UtcSeconds first_boundary, int boundaries) : first_(first_boundary), count_(boundaries) {}

  ScriptedMeter& add(const std::string& id, const std::string& gateway, const std::string& model,
                     const std::string& tags, Behaviour normal = Behaviour::ok) {
    ScriptedMeter m;
    m.record.meter_id = id;
    m.record.protocol = "dlt645-2007";
    m.record.channel = gateway;
    m.record.address = "0000000000" + std::to_string(10 + meters_.size() % 90);
    m.record.model = model;
    m.record.usage_point = "UP-" + id;
    m.record.tags = tags;
    m.normal = normal;
    meters_.push_back(std::move(m));
    return meters_.back();
  }

  UtcMillis backfill_at{};  // when backfilled reads arrive

  [[nodiscard]] UtcSeconds boundary(int index) const { return first_ + std::chrono::minutes{15 * index}; }
  [[nodiscard]] const std::vector<ScriptedMeter>& meters() const { return meters_; }
  ScriptedMeter& meter(const std::string& id) {
    for (auto& m : meters_) {
      if (m.record.meter_id == id) return m;
    }
    throw std::invalid_argument("fleet has no meter " + id);
  }

  void write(storage::StoreWriter& writer) const {
    import(writer);
    write_boundaries(writer, 0, count_);
  }
  void import(storage::StoreWriter& writer) const {
    std::vector<storage::MeterRecord> records;
    for (const auto& m : meters_) records.push_back(m.record);
    writer.import_meters(records, "test");
  }
  // Boundaries [first, last) only: a store written in steps, as the daemon writes it.
  void write_boundaries(storage::StoreWriter& writer, int first, int last) const {
    // Backfill reads arrive after the scheduled ones, as they would in the field.
    std::vector<storage::BoundaryRead> backfill;
    for (const auto& m : meters_) {
      std::vector<storage::BoundaryRead> reads;
      std::vector<storage::AttemptRecord> attempts;
      for (int k = first; k < last; ++k) {
        const auto it = m.overrides.find(k);
        const auto behaviour = it == m.overrides.end() ? m.normal : it->second;
        const auto b = boundary(k);
        const auto attempt = [&](int n, const char* outcome, const char* category) {
          storage::AttemptRecord a;
          a.meter_id = m.record.meter_id;
          a.channel = m.record.channel;
          a.boundary = b;
          a.started_at = UtcMillis{b} + std::chrono::seconds{2 + n};
          a.latency_ms = 150;
          a.attempt = n;
          a.outcome = outcome;
          a.category = category;
          a.detail = std::string(outcome) == "ok" ? "" : std::string("scripted ") + outcome;
          attempts.push_back(a);
        };
        const auto read = [&](storage::ReadSource source, UtcMillis collected) {
          auto& into = source == storage::ReadSource::backfill ? backfill : reads;
          for (auto channel : {storage::EnergyChannel::forward_active, storage::EnergyChannel::reverse_active}) {
            storage::BoundaryRead r;
            r.meter_id = m.record.meter_id;
            r.channel = channel;
            r.boundary = b;
            r.register_wh = 1'000'000 + 100LL * k;
            r.collected_at = collected;
            r.source = source;
            into.push_back(r);
          }
        };
        const auto on_time = UtcMillis{b} + std::chrono::seconds{5};
        switch (behaviour) {
          case Behaviour::ok:
            attempt(1, "ok", "ok");
            read(storage::ReadSource::scheduled, on_time);
            break;
          case Behaviour::retry_ok:
            attempt(1, "timeout", "transport");
            attempt(2, "ok", "ok");
            read(storage::ReadSource::scheduled, on_time);
            break;
          case Behaviour::refused:
            for (int n = 1; n <= 3; ++n) attempt(n, "connection_refused", "transport");
            break;
          case Behaviour::meter_error:
            for (int n = 1; n <= 3; ++n) attempt(n, "meter_error", "meter");
            break;
          case Behaviour::backfilled:
            for (int n = 1; n <= 3; ++n) attempt(n, "timeout", "transport");
            read(storage::ReadSource::backfill, backfill_at);
            break;
        }
      }
      writer.submit(std::move(reads), std::move(attempts));
    }
    writer.flush();
    if (!backfill.empty()) writer.submit(std::move(backfill), {});
    writer.flush();
  }

 private:
  UtcSeconds first_;
  int count_;
  std::vector<ScriptedMeter> meters_;
};

// Writer options for a test store (everything else default).
inline storage::StoreOptions store_options(const std::filesystem::path& path) {
  storage::StoreOptions options;
  options.path = path;
  return options;
}

// A database file unique to this test process, removed before and after.
class TempStore {
 public:
  explicit TempStore(const std::string& name)
      : path_(std::filesystem::path(AMI_TEST_TMP_DIR) / "monitor" / (name + "-" + std::to_string(::getpid()) + ".db")) {
    std::filesystem::create_directories(path_.parent_path());
    remove();
  }
  ~TempStore() { remove(); }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  void remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ignored;
      std::filesystem::remove(path_.string() + suffix, ignored);
    }
  }
  std::filesystem::path path_;
};

}  // namespace ami::monitor::test
