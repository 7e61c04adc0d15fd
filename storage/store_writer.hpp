// StoreWriter: the single writer of the SQLite staging store (docs/STORAGE.md).
//
// Ownership/threads: a StoreWriter owns the ONE writer connection and the ONE writer thread that
// uses it. Construct it on any thread; then submit(), submit_intervals(), audit(), flush(),
// import_meters(), prune() and stop() may be called from any thread, concurrently. The
// on_committed callback runs on the writer thread.
//
// What happens to a submission: it is queued in memory and returns at once; the writer thread
// takes everything queued (up to StoreOptions::max_batch_items; a writer that was idle first waits
// up to StoreOptions::gather_delay for more, unless flush() is called) and writes it in ONE transaction:
// raw reads, attempts, derived intervals and their outbox rows. The queue is bounded by
// StoreOptions::max_queued_items: submit() BLOCKS the caller while the queue is full, which is the
// back-pressure that keeps a stalled disk from eating memory.
//
// Durability (PRAGMA journal_mode=WAL, synchronous=FULL): when submit() returns the data is only
// in memory and a crash loses it. When flush() returns, everything submitted before the flush()
// call is committed and fsynced: it survives a process crash, an OS crash and power loss.
//
// Interval derivation (same transaction as the read): when reads for (meter, channel) at B and at
// B - interval are both known, the interval [B - interval, B) is stored with value_wh =
// (reg(B) - reg(B - interval)) * ct_ratio * pt_ratio, status actual, version 1, no quality codes,
// and gets an outbox row (a feed sequence). Works in either arrival order (backfill). A repeated
// read (same meter, channel, boundary) is ignored when it carries the same register value; a
// conflicting value keeps the first value and writes an audit row ("read_conflict"). A negative
// delta is stored with status suspect and quality code 2.3.4 (quality_register_decreased), with
// the negative value_wh, and gets NO outbox row: VEE decides what to publish. Reads for meters not
// in the registry are dropped with an audit row ("read_unknown_meter"), so are reads whose
// boundary is aligned to the meter's interval neither in UTC nor in the meter's local time, or
// whose register is negative ("read_invalid").
//
// Errors: the constructor throws SqliteError / std::runtime_error when the database cannot be
// opened or migrated. If a transaction fails on the writer thread, it is rolled back, the error is
// logged and remembered, and the writer enters the failed state: every later submit(), flush(),
// import_meters(), prune() throws StoreFailed with the original message (nothing submitted after
// the last successful flush() is known to be stored). stop() never throws.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/types.hpp"
#include "storage/vee/config.hpp"

namespace ami::storage {

class StoreFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreOptions {
  std::filesystem::path path;            // database file; created when missing
  std::size_t max_queued_items = 400000;  // reads + attempts + intervals waiting; submit() blocks above
  std::size_t max_batch_items = 100000;   // items written per transaction at most
  int busy_timeout_ms = 10000;           // how long to wait for another connection's write lock
  Clock clock = Clock::real();           // stamps audit rows and registry updates
  // Group commit: a writer that was idle and wakes to fewer than gather_items queued items waits
  // up to gather_delay for more before it begins the transaction (fewer, larger commits; each
  // commit rewrites the right-edge page of every table and index it touched, and fsyncs).
  // flush(), a queued task (import, prune, VEE pass) and stop() end the wait at once. Nothing is
  // acknowledged before flush() returns, so durability is unchanged; on_committed and the feed
  // see new rows up to gather_delay later. 0 = commit whatever is queued at once.
  std::chrono::milliseconds gather_delay{20};
  std::size_t gather_items = 6000;
  // The writer connection's SQLite page cache cap (PRAGMA cache_size), in MiB; >= 1, else the
  // constructor throws std::invalid_argument. The writer's working set is the current boundary's
  // pages of intervals, reads and attempt_log_by_boundary (rows arrive at random meter keys within
  // a boundary: ~300 B per two-channel meter) plus latest_reads; a cap below it costs CPU
  // (docs/PERFORMANCE.md "Page cache cap"). Part of the daemon's memory up to this cap
  // ([storage] page_cache_mib, docs/CONFIG.md).
  int page_cache_mib = 64;
  // VEE in the batch transaction (docs/VEE.md "In the writer"): gaps closed by a read are
  // estimated, rollovers fixed, odd reads flagged, with the reads. Off when absent.
  std::optional<vee::VeeConfig> vee;
};

// Retention (docs/STORAGE.md "Retention"): outbox rows acknowledged by every consumer cursor and
// collected before `now - keep_intervals` go, together with their intervals; suspect (never
// published) intervals ending before that go too; raw reads before `now - keep_reads` go except
// the newest per (meter, channel), which derivation still needs; attempts and audit rows by age.
// With no consumer cursor at all nothing published is pruned. A configured consumer without a
// cursor row (never connected, or its first acks lost in a crash) counts as cursor 0, so it
// holds back every outbox row.
struct RetentionPolicy {
  std::vector<std::string> consumers;  // configured feed consumers ([[feed.consumers]] names)
  std::chrono::seconds keep_intervals{std::chrono::hours{24 * 7}};
  std::chrono::seconds keep_reads{std::chrono::hours{24 * 7}};
  std::chrono::seconds keep_attempts{std::chrono::hours{24 * 7}};
  std::chrono::seconds keep_audit{std::chrono::hours{24 * 90}};
  std::size_t rows_per_transaction = 50000;  // long deletes are chunked so submissions interleave
};

struct PruneStats {
  std::int64_t outbox_rows = 0;
  std::int64_t intervals = 0;
  std::int64_t reads = 0;
  std::int64_t attempts = 0;
  std::int64_t audit_rows = 0;
};

// What estimate_silent() wrote.
struct SilentPassStats {
  std::size_t channels = 0;   // meter channels that got new estimate versions
  std::size_t intervals = 0;  // interval versions written
};

// The periodic history pass (run_history_pass(), docs/VEE.md "History pass").
struct HistoryPassOptions {
  UtcSeconds to{};                          // intervals ending in (to - window, to] are re-validated
  std::chrono::hours window{24};
  std::size_t meters_per_chunk = 1000;      // one writer transaction per chunk of enabled meters
  // Checked between chunks: when it reads true the pass ends early (chunks done stay written; a
  // later pass re-validates the rest). Lets a shutdown stop waiting for a long pass.
  const std::atomic<bool>* cancel = nullptr;
};

// What run_history_pass() did.
struct HistoryPassStats {
  std::size_t meters = 0;     // enabled meters validated
  std::size_t chunks = 0;     // transactions
  std::size_t intervals = 0;  // interval versions written (flags changed)
};

// Counters since construction (monotonic; read with stats() from any thread).
struct WriterStats {
  std::uint64_t transactions = 0;
  std::uint64_t reads_stored = 0;
  std::uint64_t reads_duplicate = 0;   // identical repeats ignored
  std::uint64_t reads_conflicting = 0; // same boundary, different value: first kept, audited
  std::uint64_t reads_unknown_meter = 0;
  std::uint64_t reads_invalid = 0;     // boundary not aligned to the meter's interval, or register < 0
  std::uint64_t attempts_stored = 0;
  std::uint64_t intervals_stored = 0;  // all statuses
  std::uint64_t intervals_suspect = 0;
  std::uint64_t head_sequence = 0;     // last outbox sequence committed
  std::uint64_t page_cache_bytes = 0;  // the writer connection's SQLite page cache after the last commit
};

// Result of an all-or-nothing registry import (upsert by meter_id).
struct ImportResult {
  std::size_t inserted = 0;
  std::size_t updated = 0;
  std::size_t unchanged = 0;
};

class StoreWriter {
 public:
  // Opens or creates the database, applies WAL + synchronous=FULL, runs migrations up to the
  // current schema version, loads the outbox head, and starts the writer thread.
  explicit StoreWriter(StoreOptions options);
  ~StoreWriter();  // stop()
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues reads and attempts; returns at once unless the queue is full (then blocks).
  void submit(std::vector<BoundaryRead> reads, std::vector<AttemptRecord> attempts);

  // VEE seam: writes new interval versions. For each record the store assigns version =
  // (highest stored version for meter, channel, end) + 1, marks lower versions superseded, and
  // gives actual/estimated records an outbox row; suspect records are stored unpublished.
  // Records for unknown meters or with end <= start are dropped with an audit row.
  void submit_intervals(std::vector<IntervalRecord> intervals);

  // Queues an audit log row (who did what), committed with the next batch.
  void audit(std::string actor, std::string action, std::string detail);

  // Blocks until everything submitted before this call is committed (and fsynced).
  void flush();

  // Runs on the writer thread, after everything queued before it; blocks until done.
  // All-or-nothing: validates every record first (storage/registry.hpp) and throws
  // std::invalid_argument naming the first bad meter without writing anything.
  ImportResult import_meters(const std::vector<MeterRecord>& meters, const std::string& actor);

  // Gives every named consumer without a cursor row the cursor 0 (INSERT OR IGNORE; existing
  // cursors are untouched), so pruning waits for it. Runs on the writer thread; blocks until done.
  // The daemon calls it at start with the configured [[feed.consumers]].
  void ensure_consumers(const std::vector<std::string>& names);

  // Deletes what the policy allows (see RetentionPolicy); blocks until done.
  PruneStats prune(const RetentionPolicy& policy, UtcSeconds now);

  // VEE for meters that stopped answering (docs/VEE.md "Silent meters"): every enabled meter
  // channel whose newest stored read is before `due` gets estimates for the intervals from that
  // read up to `due` (at most VeeConfig::max_unanchored_intervals), without an anchor (linear /
  // like-day from the stored history), status estimated, codes 2.4.4 + 2.8.0, published. Calling
  // it again with a later `due` writes only what changed. Reads arriving later supersede them
  // (derivation and the VEE hook write new versions). One transaction on the writer thread;
  // blocks until done. Does nothing when StoreOptions::vee is absent. Throws StoreFailed after a
  // writer failure; a failing transaction is rolled back and its SqliteError rethrown.
  SilentPassStats estimate_silent(UtcSeconds due);

  // VEE with history for every enabled meter (docs/VEE.md "History pass"): spike, high/low and
  // consecutive-zero flags (and everything else vee::run checks) over the intervals ending in
  // (to - window, to], with history_days + 2 days of stored intervals as context. Writes a new
  // version only where an interval's quality codes change (or an anchored interval is missing);
  // the tail after a channel's newest read is left to estimate_silent(). Runs on the writer
  // thread in chunks of meters_per_chunk meters, one transaction each, so submissions queued
  // meanwhile are written between chunks; blocks until done. Does nothing when StoreOptions::vee
  // is absent. Cost per chunk: one range scan of reads and of intervals over the history span
  // (all meters' rows in it, filtered by meter key). Errors as estimate_silent().
  HistoryPassStats run_history_pass(const HistoryPassOptions& options);

  // Called on the writer thread after each commit that added outbox rows, with the new head
  // sequence, before flush() callers waiting for that commit return. Must not block (wake
  // something up and return) and must not call back into this StoreWriter (it would deadlock).
  void on_committed(std::function<void(std::uint64_t head_sequence)> callback);
  // Called on the writer thread each time it takes submitted items into a transaction (so
  // queued_items() just dropped), before that transaction is written. Same rules as on_committed:
  // must not block, must not call back into this StoreWriter.
  void on_taken(std::function<void()> callback);

  // Flushes what is queued, then joins the writer thread. Idempotent; never throws.
  void stop();

  [[nodiscard]] WriterStats stats() const;

  // Reads + attempts + intervals submitted and not yet taken by the writer thread: they leave the
  // count when the writer takes them into a transaction, before it commits, so a producer gated on
  // it (headend StoreIntakeGate) reads while the writer writes. In memory are at most this plus
  // one transaction's items (up to max_batch_items). Any thread, lock-free (a relaxed atomic): a
  // snapshot for back-pressure, not a synchronisation point.
  [[nodiscard]] std::size_t queued_items() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ami::storage
