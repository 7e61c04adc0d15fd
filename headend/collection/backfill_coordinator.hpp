// Backfill (补抄) in the running daemon: decides WHEN to look for a meter's gaps and turns what the
// store holds into backfill reads (plan_backfill, backfill.hpp).
//
// A meter's gaps are looked for at its first successful scheduled read after the daemon started
// (gaps from daemon downtime) and at its first successful scheduled read after any failed read,
// scheduled or backfill (the meter or its gateway was offline, or a backfill read failed): the
// store's reads of the last `depth` are fetched on this object's own thread (SQLite off the io
// thread), planned, and the jobs handed to `dispatch` on the io thread. A scan may re-plan
// boundaries whose reads are still queued or not yet committed: the store ignores identical
// repeats, so this costs a read, never a wrong value.
//
// Threads: construct, on_report() and stop() on the io_context's thread; `dispatch` is called
// there too. stop() waits for a scan in progress. Errors: a failed store query is logged and the
// meter is scanned again at its next successful read; nothing throws out of on_report().
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "headend/collection/backfill.hpp"
#include "headend/collection/read_job.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::storage {
class StoreReader;
}

namespace ami::collection {

class BackfillCoordinator {
 public:
  BackfillCoordinator(asio::any_io_executor io, std::filesystem::path database, BackfillOptions options,
                      std::function<void(ReadJob)> dispatch);
  ~BackfillCoordinator();
  BackfillCoordinator(const BackfillCoordinator&) = delete;
  BackfillCoordinator& operator=(const BackfillCoordinator&) = delete;

  // Every finished load-profile job (not clock jobs, not on-demand reads).
  void on_report(const JobReport& report);
  void stop();

  [[nodiscard]] std::size_t scans_started() const { return scans_; }

 private:
  void scan(const MeterTarget& meter, UtcSeconds boundary, UtcMillis now);

  asio::any_io_executor io_;
  std::filesystem::path database_;
  BackfillOptions options_;
  std::function<void(ReadJob)> dispatch_;
  std::set<std::string, std::less<>> scanned_;  // meters scanned since their last failure
  asio::thread_pool pool_{1};
  std::unique_ptr<storage::StoreReader> reader_;  // pool thread only
  std::size_t scans_ = 0;
  bool stopped_ = false;
};

}  // namespace ami::collection
