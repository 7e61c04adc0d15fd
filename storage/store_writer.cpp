#include "storage/store_writer.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "storage/registry.hpp"
#include "storage/schema.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_rows.hpp"
#include "storage/vee/store_adapter.hpp"
#include "storage/vee/writer_hook.hpp"

namespace ami::storage {

namespace {

struct AuditRow {
  std::string actor;
  std::string action;
  std::string detail;
};

// One submission. A job with a task runs alone on the writer thread (imports, pruning chunks);
// data jobs are batched together into one transaction.
struct Job {
  std::vector<BoundaryRead> reads;
  std::vector<AttemptRecord> attempts;
  std::vector<IntervalRecord> intervals;
  std::vector<AuditRow> audit;
  std::function<void()> task;
  std::uint64_t id = 0;
  [[nodiscard]] std::size_t items() const {
    return reads.size() + attempts.size() + intervals.size() + audit.size();
  }
};

// What derivation needs to know about a registered meter. 40 bytes: the registry validates
// interval (divides a day) and UTC offset (-720..840 min), so seconds fit 32 bits; id_offset and
// id_length locate the meter id in MeterRegistryIndex's text.
struct MeterInfo {
  std::int64_t key = 0;
  std::int64_t ct_ratio = 1;
  std::int64_t pt_ratio = 1;
  std::int32_t interval_seconds = 900;
  std::int32_t utc_offset_seconds = 8 * 3600;
  bool enabled = true;
  std::uint16_t id_length = 0;
  std::uint32_t id_offset = 0;
};

// The writer's copy of the registry, compact (issue #6: ~50 B per meter plus the id's text, was
// ~150 B in two hash maps): MeterInfo in a vector ordered by meter_key (key -> meter by binary
// search), all ids in one string, and an open-addressing table of positions for id -> meter.
// Rebuilt whole on every registry change (clear() + add() in meter_key order + finish()).
// Writer thread only; pointers it returns stay valid until the next clear().
class MeterRegistryIndex {
 public:
  void clear() {
    meters_.clear();
    text_.clear();
    table_.clear();
  }
  // Meters must come in ascending meter_key order (the meters table's rowid order).
  void add(std::string_view meter_id, MeterInfo info) {
    info.id_offset = static_cast<std::uint32_t>(text_.size());
    info.id_length = static_cast<std::uint16_t>(meter_id.size());
    text_.append(meter_id);
    meters_.push_back(info);
  }
  // Builds the id table once all meters are in: capacity a power of two >= 2x the meters.
  void finish() {
    std::size_t capacity = 16;
    while (capacity < meters_.size() * 2) capacity *= 2;
    table_.assign(capacity, empty_slot);
    for (std::uint32_t position = 0; position < meters_.size(); ++position) {
      std::size_t slot = slot_for(id_of(meters_[position]));
      while (table_[slot] != empty_slot) slot = (slot + 1) & (table_.size() - 1);
      table_[slot] = position;
    }
    meters_.shrink_to_fit();
    text_.shrink_to_fit();
  }
  [[nodiscard]] const MeterInfo* find_id(std::string_view meter_id) const {
    if (table_.empty()) return nullptr;
    for (std::size_t slot = slot_for(meter_id);; slot = (slot + 1) & (table_.size() - 1)) {
      const std::uint32_t position = table_[slot];
      if (position == empty_slot) return nullptr;
      if (id_of(meters_[position]) == meter_id) return &meters_[position];
    }
  }
  [[nodiscard]] const MeterInfo* find_key(std::int64_t key) const {
    const auto it = std::lower_bound(meters_.begin(), meters_.end(), key,
                                     [](const MeterInfo& meter, std::int64_t wanted) { return meter.key < wanted; });
    return it == meters_.end() || it->key != key ? nullptr : &*it;
  }
  [[nodiscard]] std::string_view id_of(const MeterInfo& meter) const {
    return std::string_view(text_).substr(meter.id_offset, meter.id_length);
  }
  [[nodiscard]] std::int64_t max_key() const { return meters_.empty() ? 0 : meters_.back().key; }

 private:
  static constexpr std::uint32_t empty_slot = std::numeric_limits<std::uint32_t>::max();
  [[nodiscard]] std::size_t slot_for(std::string_view meter_id) const {
    return std::hash<std::string_view>{}(meter_id) & (table_.size() - 1);
  }
  std::vector<MeterInfo> meters_;       // ascending key
  std::string text_;                    // every meter id, back to back
  std::vector<std::uint32_t> table_;    // positions in meters_, empty_slot = free
};

// The newest stored read of one (meter, channel), mirrored from the latest_reads table: in-order
// arrivals derive from it without a query, and it tells whether a later read can exist at all.
struct LatestRead {
  std::int64_t boundary = 0;
  std::int64_t register_wh = 0;
  std::int64_t collected_at_ms = 0;
  // Newest interval end stored for the channel (an estimate may reach past the newest read), and
  // whether that is known: an in-order interval ending beyond it cannot collide, so it is
  // inserted in a group without a conflict check.
  std::int64_t intervals_through = 0;
  bool exists = false;
  bool dirty = false;  // changed in the transaction in progress
  bool through_known = true;
};

// The newest-read cache by latest key (meter_key * 4 + channel). Meter keys are the registry's
// INTEGER PRIMARY KEY (1, 2, ..., never deleted), so entries live in a vector indexed by (meter
// key, channel): 41 bytes per channel and one memory access per look-up, instead of an
// unordered_map node (~72 bytes and two dependent loads per look-up). A key that does not fit
// (another channel number, a huge meter key) goes to a small map. Entry references stay valid
// until the vector grows: only try_emplace() of a key beyond its size grows it (sized to the
// registry at once, see size_hint()).
class LatestReadCache {
 public:
  // The entry of `key`, default-constructed when absent; `.second` says it was.
  std::pair<LatestRead*, bool> try_emplace(std::int64_t key) {
    const std::size_t slot = slot_of(key);
    if (slot == no_slot) {
      const auto [it, inserted] = sparse_.try_emplace(key);
      if (inserted) ++size_;
      return {&it->second, inserted};
    }
    if (slot >= slots_.size()) {
      const std::size_t size = std::max({slot + 1, hint_slots_, slots_.size() + slots_.size() / 2});
      slots_.resize(size);
      present_.resize(size, 0);
    }
    if (present_[slot] != 0) return {&slots_[slot], false};
    present_[slot] = 1;
    slots_[slot] = LatestRead{};
    size_ += 1;
    return {&slots_[slot], true};
  }
  LatestRead& operator[](std::int64_t key) { return *try_emplace(key).first; }
  [[nodiscard]] LatestRead* find(std::int64_t key) {
    const std::size_t slot = slot_of(key);
    if (slot == no_slot) {
      const auto it = sparse_.find(key);
      return it == sparse_.end() ? nullptr : &it->second;
    }
    return slot < slots_.size() && present_[slot] != 0 ? &slots_[slot] : nullptr;
  }
  // Calls f(key, entry) for every entry, in meter-key order (then the odd keys).
  template <class F>
  void for_each(F&& f) {
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      if (present_[slot] != 0) f(key_of(slot), slots_[slot]);
    }
    for (auto& [key, entry] : sparse_) f(key, entry);
  }
  [[nodiscard]] std::size_t size() const { return size_; }
  void clear() {
    slots_.clear();
    present_.clear();
    sparse_.clear();
    size_ = 0;
  }
  // The registry's highest meter key: the first growth sizes the vector for all of it.
  void size_hint(std::int64_t max_meter_key) {
    hint_slots_ = max_meter_key >= 0 && max_meter_key < max_dense_key ? static_cast<std::size_t>(max_meter_key + 1) * 2 : 0;
  }

 private:
  static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();
  static constexpr std::int64_t max_dense_key = std::int64_t{1} << 28;
  static std::size_t slot_of(std::int64_t key) {
    const std::int64_t meter_key = key / 4;
    const std::int64_t channel = key % 4;
    if (key < 0 || meter_key >= max_dense_key || (channel != 1 && channel != 2)) return no_slot;
    return static_cast<std::size_t>(meter_key * 2 + channel - 1);
  }
  static std::int64_t key_of(std::size_t slot) {
    return static_cast<std::int64_t>(slot / 2) * 4 + static_cast<std::int64_t>(slot % 2) + 1;
  }
  std::vector<LatestRead> slots_;
  std::vector<std::uint8_t> present_;
  std::unordered_map<std::int64_t, LatestRead> sparse_;
  std::size_t size_ = 0;
  std::size_t hint_slots_ = 0;
};

struct StoredRead {
  std::int64_t register_wh = 0;
  std::int64_t collected_at_ms = 0;
};

std::int64_t to_ms(UtcMillis t) { return t.time_since_epoch().count(); }
std::int64_t to_s(UtcSeconds t) { return t.time_since_epoch().count(); }

// One value of a buffered row: NULL, an integer or a text.
using BufferedValue = std::variant<std::monostate, std::int64_t, std::string>;

// Rows of one table waiting to be inserted in the transaction in progress. Full groups go in as
// one multi-row "INSERT ... VALUES (...), (...)", so SQLite's per-statement work (step, halt,
// reset) is paid once per group instead of per row; the rest in groups of 32, 16, ..., 1 rows
// (at most 6 statements, each prepared once). Only for rows
// nothing on this connection reads before flush() (the owner flushes before such queries and
// before commit).
class BufferedInsert {
 public:
  // `head`: "INSERT INTO t (c1, ...)"; `tail`: what follows the values (e.g. "ON CONFLICT ...").
  BufferedInsert(std::string_view head, std::string_view tail, std::size_t columns, std::size_t rows_per_insert)
      : columns_(columns),
        group_values_(columns * rows_per_insert),
        group_sql_(sql(head, tail, rows_per_insert)),
        head_(head),
        tail_(tail) {
    while (largest_remainder_rows_ * 2 < rows_per_insert) largest_remainder_rows_ *= 2;
  }

  // One row of `columns` integer values (nullopt = NULL). True when a full group is pending
  // (time to flush()).
  bool add(std::initializer_list<std::optional<std::int64_t>> row) {
    for (const auto& value : row) {
      if (value) {
        values_.emplace_back(*value);
      } else {
        values_.emplace_back();
      }
    }
    return values_.size() >= group_values_;
  }

  // One row with text columns; as add().
  bool add_values(std::initializer_list<BufferedValue> row) {
    values_.insert(values_.end(), row.begin(), row.end());
    return values_.size() >= group_values_;
  }

  // Inserts everything pending; returns the rows SQLite inserted.
  std::int64_t flush(Database& db) {
    std::int64_t inserted = 0;
    std::size_t done = 0;
    for (; values_.size() - done >= group_values_; done += group_values_) {
      inserted += bind_and_run(db.prepare(group_sql_), done, group_values_);
    }
    // The rest (a transaction's tail) in power-of-two groups: 63 rows are 6 statements, not 63.
    for (std::size_t rows = largest_remainder_rows_; rows >= 1; rows /= 2) {
      const std::size_t values = rows * columns_;
      if (values_.size() - done < values) continue;
      const std::string& text = remainder_sql(rows);
      inserted += bind_and_run(db.prepare(text), done, values);
      done += values;
    }
    values_.clear();
    return inserted;
  }

  [[nodiscard]] std::size_t pending_rows() const { return values_.size() / columns_; }
  void clear() { values_.clear(); }

 private:
  std::string sql(std::string_view head, std::string_view tail, std::size_t rows) const {
    std::string group = "(";
    for (std::size_t c = 0; c < columns_; ++c) group += c == 0 ? "?" : ", ?";
    group += ")";
    std::string text(head);
    text += " VALUES ";
    for (std::size_t r = 0; r < rows; ++r) text += r == 0 ? group : ", " + group;
    text += " ";
    text += tail;
    return text;
  }

  std::int64_t bind_and_run(Statement& insert, std::size_t first, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      const auto index = static_cast<int>(i + 1);
      const BufferedValue& value = values_[first + i];
      if (const auto* number = std::get_if<std::int64_t>(&value)) {
        insert.bind(index, *number);
      } else if (const auto* text = std::get_if<std::string>(&value)) {
        insert.bind(index, *text);
      } else {
        insert.bind_null(index);
      }
    }
    return insert.run();
  }

  // The SQL for `rows` (a power of two below the group size) rows, built once.
  const std::string& remainder_sql(std::size_t rows) {
    std::size_t index = 0;
    while ((std::size_t{1} << index) < rows) ++index;
    if (remainder_sql_.size() <= index) remainder_sql_.resize(index + 1);
    if (remainder_sql_[index].empty()) remainder_sql_[index] = sql(head_, tail_, rows);
    return remainder_sql_[index];
  }

  std::size_t columns_;
  std::size_t group_values_;
  std::string group_sql_;
  std::string head_;
  std::string tail_;
  std::vector<std::string> remainder_sql_;  // by log2(rows)
  std::size_t largest_remainder_rows_ = 1;   // the largest power of two below the group size
  std::vector<BufferedValue> values_;
};

bool is_busy(const SqliteError& error) {
  const int primary = error.code() & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

}  // namespace

struct StoreWriter::Impl {
  explicit Impl(StoreOptions opts)
      : options(std::move(opts)), db(options.path, true, options.busy_timeout_ms) {
    configure_connection(db);
    if (options.page_cache_mib < 1)
      throw std::invalid_argument("StoreOptions::page_cache_mib must be at least 1, got " +
                                  std::to_string(options.page_cache_mib));
    // Negative: a size in KiB rather than in pages.
    db.exec("PRAGMA cache_size = -" + std::to_string(std::int64_t{options.page_cache_mib} * 1024));
    // Checkpoint every 64 MiB of WAL instead of 4 MiB: the right-edge pages every batch rewrites
    // are copied to the database once per checkpoint, not once per batch.
    db.exec("PRAGMA wal_autocheckpoint = 16384");
    migrate(db);
    db.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('registry_version', 0)");
    db.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('latest_unsynced_from', -1)");
    const auto stored_head = db.query_int64("SELECT value FROM meta WHERE key = 'last_sequence'");
    const auto outbox_head = db.query_int64("SELECT max(sequence) FROM intervals WHERE sequence IS NOT NULL");
    head_sequence = static_cast<std::uint64_t>(std::max(stored_head.value_or(0), outbox_head.value_or(0)));
    stats.head_sequence = head_sequence;
    if (options.vee) vee_hook.emplace(*options.vee);
  }

  // ---- shared state (mutex) ----
  StoreOptions options;
  std::mutex mutex;
  std::condition_variable work_ready;  // writer waits for jobs
  std::condition_variable progress;    // submitters wait for space, flushers for commits
  std::deque<Job> queue;
  std::size_t queued_items = 0;
  // `queued_items` mirrored for readers without the lock: items submitted and not yet taken by the
  // writer (the transaction being written is not counted, so readers may refill the queue while
  // it is written). Changed under `mutex`, read by queued_items() (StoreIntakeGate, io thread).
  std::atomic<std::size_t> untaken_items{0};
  std::size_t queued_tasks = 0;   // jobs with a task in `queue`
  std::size_t flush_waiters = 0;  // flush() callers waiting: end a group-commit gather at once
  std::uint64_t submitted_jobs = 0;
  std::uint64_t finished_jobs = 0;
  bool stopping = false;
  std::optional<std::string> failure;
  std::function<void(std::uint64_t)> committed_callback;
  std::function<void()> taken_callback;
  WriterStats stats;
  std::thread thread;

  // ---- writer thread only ----
  Database db;
  // Hot-path statements by the address of their SQL literal: no string compare per use.
  std::unordered_map<const char*, Statement*> hot_statements;
  std::uint64_t head_sequence = 0;
  std::int64_t registry_version = -1;
  MeterRegistryIndex meters;
  const MeterInfo* last_found = nullptr;  // find_meter()'s last hit (points into `meters`)
  // Silent-meter estimates already written: latest key -> (newest read boundary, estimated up to).
  std::unordered_map<std::int64_t, std::pair<std::int64_t, std::int64_t>> silent_estimated;
  LatestReadCache latest;  // key: meter_key * 4 + channel
  bool latest_loaded = false;
  // meta.intervals_without_reads: some channel got intervals before any read, so a channel new
  // to `latest` may already have intervals (its through is unknown).
  bool intervals_without_reads = true;
  std::unordered_map<std::string, std::int64_t> attempt_channel_ids;  // attempt_channels, loaded lazily
  bool attempt_channels_loaded = false;
  // latest_reads is written back lazily (docs/STORAGE.md "Newest reads"): the dirty entries every
  // few boundaries, meanwhile meta.latest_unsynced_from records the oldest boundary that changed
  // an entry since, so a restart after a crash rescans only the reads from there.
  std::vector<std::int64_t> latest_dirty;
  std::int64_t latest_unsynced_from = -1;         // -1: latest_reads is complete
  std::int64_t latest_unsynced_from_stored = -1;  // what meta holds (in this transaction)
  std::size_t latest_changes_since_sync = 0;
  bool latest_force_sync = false;
  std::int64_t newest_boundary_seen = 0;
  // newest_boundary_seen when the page cache was last emptied (release_cold_pages).
  std::int64_t pages_released_at_boundary = -1;
  WriterStats delta;  // counts of the transaction in progress
  std::optional<vee::WriterHook> vee_hook;  // VEE in the transaction (StoreOptions::vee)
  // The largest collected_at_ms the transaction in progress published (0: none yet); goes into
  // its outbox mark (record_published).
  std::int64_t published_through_ms = 0;
  // In-order reads of the transaction in progress, inserted in groups (reads are flushed before
  // a query).
  BufferedInsert pending_reads{
      "INSERT INTO reads (meter_key, channel, boundary, register_wh, collected_at_ms, source, meter_time_ms)",
      "ON CONFLICT (meter_key, channel, boundary) DO NOTHING", 7, 64};
  // Actual intervals of in-order reads ending past their channel's intervals_through: no version
  // can exist yet, so no conflict clause (a collision would be a bug and fails the batch).
  // Flushed before any statement on intervals.
  BufferedInsert pending_intervals{
      "INSERT INTO intervals (meter_key, channel, start_unix, end_unix, value_wh, register_start_wh, "
      "register_end_wh, status, version, collected_at_ms, source, sequence)",
      "", 12, 64};
  // Attempt rows of the transaction in progress (nothing reads attempt_log on this connection
  // inside a data transaction): one statement per 64 attempts instead of one per attempt.
  BufferedInsert pending_attempts{
      "INSERT INTO attempt_log (meter_key, channel_id, boundary, started_at_ms, latency_ms, attempt, outcome, "
      "category, detail, source)",
      "", 10, 64};
  // The lazy latest_reads write-back (save_latest_reads()), 64 upserts per statement.
  BufferedInsert pending_latest{
      "INSERT INTO latest_reads (meter_key, channel, boundary, register_wh, collected_at_ms, intervals_through)",
      "ON CONFLICT (meter_key, channel) DO UPDATE SET boundary = excluded.boundary, "
      "register_wh = excluded.register_wh, collected_at_ms = excluded.collected_at_ms, "
      "intervals_through = excluded.intervals_through",
      6, 64};

  Statement& hot(const char* sql) {
    Statement*& slot = hot_statements[sql];
    if (slot == nullptr) slot = &db.prepare(sql);
    return *slot;
  }

  // ---- queue side ----
  void enqueue(Job job, bool blocking_when_full) {
    std::unique_lock lock(mutex);
    const std::size_t items = job.items();
    if (blocking_when_full) {
      progress.wait(lock, [&] {
        return failure || stopping || queued_items == 0 ||
               queued_items + items <= options.max_queued_items;
      });
    }
    if (failure) throw StoreFailed("store writer failed: " + *failure);
    if (stopping) throw StoreFailed("store writer is stopped");
    job.id = ++submitted_jobs;
    queued_items += items;
    untaken_items.store(queued_items, std::memory_order_relaxed);
    if (job.task) queued_tasks += 1;
    queue.push_back(std::move(job));
    work_ready.notify_one();
  }

  // Runs `work` on the writer thread after everything queued before it; rethrows its exception.
  template <typename Result>
  Result run_task(std::function<Result()> work) {
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    Job job;
    job.task = [this, promise, work = std::move(work)] {
      try {
        {
          std::lock_guard lock(mutex);
          if (failure) throw StoreFailed("store writer failed: " + *failure);
        }
        if constexpr (std::is_void_v<Result>) {
          work();
          promise->set_value();
        } else {
          promise->set_value(work());
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    };
    enqueue(std::move(job), false);
    return future.get();
  }

  // ---- writer thread ----
  void run() {
    for (;;) {
      std::vector<Job> batch;
      std::function<void()> taken;  // on_taken's callback, called once the lock is released
      {
        std::unique_lock lock(mutex);
        const bool was_idle = queue.empty();
        work_ready.wait(lock, [&] { return stopping || !queue.empty(); });
        // Group commit (StoreOptions::gather_delay): a writer that was idle gives a small batch a
        // moment to grow; a lagging writer (work already queued) commits at once.
        if (was_idle && options.gather_delay.count() > 0 && !queue.empty() && !queue.front().task) {
          work_ready.wait_for(lock, options.gather_delay, [&] {
            return stopping || flush_waiters > 0 || queued_tasks > 0 || queued_items >= options.gather_items;
          });
        }
        if (queue.empty()) {  // stopping and drained
          const bool failed = failure.has_value();
          lock.unlock();
          if (!failed) sync_on_stop();
          return;
        }
        std::size_t items = 0;
        if (queue.front().task) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
          queued_tasks -= 1;
        } else {
          while (!queue.empty() && !queue.front().task &&
                 (batch.empty() || items + queue.front().items() <= options.max_batch_items)) {
            items += queue.front().items();
            batch.push_back(std::move(queue.front()));
            queue.pop_front();
          }
        }
        queued_items -= items;
        untaken_items.store(queued_items, std::memory_order_relaxed);
        if (items > 0) taken = taken_callback;
        progress.notify_all();
      }
      if (taken) call_quietly("on_taken", taken);
      std::optional<std::uint64_t> new_head;
      if (batch.front().task) {
        batch.front().task();
      } else {
        new_head = write_batch_with_retry(batch);
      }
      // The callback runs before flush() callers are released, so they can rely on it.
      if (new_head) notify_committed(*new_head);
      {
        std::lock_guard lock(mutex);
        finished_jobs = batch.back().id;
      }
      progress.notify_all();
    }
  }

  void notify_committed(std::uint64_t head) {
    std::function<void(std::uint64_t)> callback;
    {
      std::lock_guard lock(mutex);
      callback = committed_callback;
    }
    if (callback) call_quietly("on_committed", [&] { callback(head); });
  }

  // A callback's exception is logged, never thrown into the writer loop.
  template <typename Callback>
  static void call_quietly(const char* name, const Callback& callback) {
    try {
      callback();
    } catch (const std::exception& e) {
      spdlog::error("storage: {} callback threw: {}", name, e.what());
    }
  }

  void sync_on_stop() {
    if (!latest_loaded) return;  // never wrote reads: nothing of ours to write back
    try {
      sync_latest_reads_now();
    } catch (const std::exception& e) {
      // Not data loss: the next writer rescans from meta.latest_unsynced_from.
      spdlog::warn("storage: could not write latest_reads back at stop: {}", e.what());
    }
  }

  // Returns the new head sequence when the commit added outbox rows.
  std::optional<std::uint64_t> write_batch_with_retry(const std::vector<Job>& batch) {
    {
      std::lock_guard lock(mutex);
      if (failure) return std::nullopt;  // failed earlier: nothing more is written
    }
    for (int attempt = 1;; ++attempt) {
      const std::uint64_t head_before = head_sequence;
      try {
        write_batch(batch);
        after_commit(false);
        if (head_sequence != head_before) return head_sequence;
        return std::nullopt;
      } catch (const std::exception& e) {
        forget_transaction_state(head_before);
        const auto* sqlite_error = dynamic_cast<const SqliteError*>(&e);
        bool give_up = sqlite_error == nullptr || !is_busy(*sqlite_error);
        {
          std::lock_guard lock(mutex);
          give_up = give_up || stopping;
          if (give_up) failure = e.what();
        }
        if (give_up) {
          spdlog::error("storage: write transaction failed, writer stops accepting data: {}",
                        e.what());
          progress.notify_all();
          return std::nullopt;
        }
        spdlog::warn("storage: database busy (attempt {}), retrying: {}", attempt, e.what());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  // After a rollback, in-memory state may be ahead of the database: drop it.
  void forget_transaction_state(std::uint64_t head_before) {
    head_sequence = head_before;
    latest.clear();
    latest_loaded = false;
    latest_dirty.clear();
    registry_version = -1;
    delta = WriterStats{};
    silent_estimated.clear();
    published_through_ms = 0;
    pending_reads.clear();
    pending_intervals.clear();
    pending_attempts.clear();
    pending_latest.clear();
    attempt_channel_ids.clear();
    attempt_channels_loaded = false;
    if (vee_hook) vee_hook->clear();
  }

  // After a commit, on the writer thread: frees the pages that went cold, then counts the
  // transaction. Upkeep (silent estimates, a history chunk) reads older boundaries, so all its
  // clean pages go; a batch's go once it holds a newer boundary's reads (release_cold_pages).
  void after_commit(bool upkeep) {
    if (upkeep) {
      release_clean_pages();
    } else {
      release_cold_pages();
    }
    const std::uint64_t cache_bytes = page_cache_bytes();
    std::lock_guard lock(mutex);
    add_delta_to_stats();
    stats.transactions += 1;
    stats.head_sequence = head_sequence;
    stats.page_cache_bytes = cache_bytes;
  }

  void add_delta_to_stats() {
    stats.reads_stored += delta.reads_stored;
    stats.reads_duplicate += delta.reads_duplicate;
    stats.reads_conflicting += delta.reads_conflicting;
    stats.reads_unknown_meter += delta.reads_unknown_meter;
    stats.reads_invalid += delta.reads_invalid;
    stats.attempts_stored += delta.attempts_stored;
    stats.intervals_stored += delta.intervals_stored;
    stats.intervals_suspect += delta.intervals_suspect;
    delta = WriterStats{};
  }

  void write_batch(const std::vector<Job>& batch) {
    Transaction transaction(db);
    refresh_meters_if_changed();
    load_latest_reads();
    const std::uint64_t head_before = head_sequence;
    for (const auto& job : batch) {
      for (const auto& read : job.reads) apply_read(read);
      for (const auto& attempt : job.attempts) insert_attempt(attempt);
      for (const auto& interval : job.intervals) apply_interval(interval);
      for (const auto& row : job.audit) insert_audit(row.actor, row.action, row.detail);
    }
    apply_vee_hook();
    flush_pending();
    finish_latest_reads();
    record_published(head_before);
    transaction.commit();
  }

  void refresh_meters_if_changed() {
    const auto version =
        db.query_int64("SELECT value FROM meta WHERE key = 'registry_version'").value_or(0);
    if (version == registry_version) return;
    last_found = nullptr;
    meters.clear();
    // Ordered by meter_key (the rowid): MeterRegistryIndex finds keys by binary search.
    auto query = db.query(
        "SELECT meter_key, meter_id, ct_ratio, pt_ratio, interval_minutes, utc_offset_minutes, "
        "enabled FROM meters ORDER BY meter_key");
    while (query->step()) {
      MeterInfo info;
      info.key = query->column_int64(0);
      info.ct_ratio = query->column_int64(2);
      info.pt_ratio = query->column_int64(3);
      info.interval_seconds = static_cast<std::int32_t>(query->column_int64(4) * 60);
      info.utc_offset_seconds = static_cast<std::int32_t>(query->column_int64(5) * 60);
      info.enabled = query->column_int64(6) != 0;
      meters.add(query->column_text(1), info);
    }
    meters.finish();
    const std::int64_t max_meter_key = meters.max_key();
    latest.size_hint(max_meter_key);
    registry_version = version;
    release_clean_pages();
  }

  // The reads of one meter come together (forward, reverse), so the last hit is remembered: one
  // hash look-up per meter instead of one per read.
  const MeterInfo* find_meter(const std::string& meter_id) {
    if (last_found != nullptr && meters.id_of(*last_found) == meter_id) return last_found;
    const MeterInfo* found = meters.find_id(meter_id);
    if (found != nullptr) last_found = found;
    return found;
  }

  static std::int64_t latest_key(std::int64_t meter_key, EnergyChannel channel) {
    return meter_key * 4 + static_cast<int>(channel);
  }

  void load_latest_reads() {
    if (latest_loaded) return;
    latest.clear();
    latest_dirty.clear();
    latest_force_sync = false;
    newest_boundary_seen = 0;
    intervals_without_reads =
        db.query_int64("SELECT value FROM meta WHERE key = 'intervals_without_reads'").value_or(1) != 0;
    {
      auto query = db.query(
          "SELECT meter_key, channel, boundary, register_wh, collected_at_ms, intervals_through "
          "FROM latest_reads");
      while (query->step()) {
        const auto channel = static_cast<EnergyChannel>(query->column_int64(1));
        latest[latest_key(query->column_int64(0), channel)] =
            LatestRead{query->column_int64(2), query->column_int64(3), query->column_int64(4),
                       query->column_int64(5), true, false, true};
        newest_boundary_seen = std::max(newest_boundary_seen, query->column_int64(2));
      }
    }
    latest_unsynced_from =
        db.query_int64("SELECT value FROM meta WHERE key = 'latest_unsynced_from'").value_or(-1);
    latest_unsynced_from_stored = latest_unsynced_from;
    if (latest_unsynced_from >= 0) {
      // The last writer stopped without writing its newest reads back: recover them.
      auto query = db.query(
          "SELECT meter_key, channel, boundary, register_wh, collected_at_ms FROM reads "
          "WHERE boundary >= ?");
      query->bind(1, latest_unsynced_from);
      while (query->step()) {
        const std::int64_t key =
            latest_key(query->column_int64(0), static_cast<EnergyChannel>(query->column_int64(1)));
        LatestRead& entry = latest_read_entry(key);
        if (entry.exists && entry.boundary >= query->column_int64(2)) continue;
        if (!entry.dirty) latest_dirty.push_back(key);
        entry.exists = true;
        entry.dirty = true;
        entry.boundary = query->column_int64(2);
        entry.register_wh = query->column_int64(3);
        entry.collected_at_ms = query->column_int64(4);
        newest_boundary_seen = std::max(newest_boundary_seen, entry.boundary);
      }
      // Intervals written since then may reach past what latest_reads says.
      auto intervals = db.query(
          "SELECT meter_key, channel, max(end_unix) FROM intervals WHERE end_unix >= ? "
          "GROUP BY meter_key, channel");
      intervals->bind(1, latest_unsynced_from);
      while (intervals->step()) {
        const std::int64_t key =
            latest_key(intervals->column_int64(0), static_cast<EnergyChannel>(intervals->column_int64(1)));
        LatestRead& entry = latest_read_entry(key);
        if (intervals->column_int64(2) <= entry.intervals_through) continue;
        entry.intervals_through = intervals->column_int64(2);
        entry.through_known = true;
        if (entry.exists && !entry.dirty) {
          latest_dirty.push_back(key);
          entry.dirty = true;
        }
      }
    }
    latest_changes_since_sync = latest_dirty.size();
    latest_loaded = true;
    release_clean_pages();
  }

  // Frees the page cache's clean pages (dirty ones stay pinned until commit). Called after the
  // whole-table loads (the registry copy, the newest reads): their pages are read once and would
  // otherwise sit in the 64 MiB cache, ~150 B per meter for the meters table alone, on top of
  // the boundary being written (docs/PERFORMANCE.md "Writer page cache (session 6)").
  void release_clean_pages() { sqlite3_db_release_memory(db.handle()); }

  // After a commit: the keys are time-major, so once a newer boundary's reads arrive the older
  // boundaries' pages are cold (backfill aside); freed here instead of kept until the cache
  // reaches its cap. Holds the cache to about one boundary's pages (~300 B per meter with two
  // channels) however long the daemon runs; costs one re-read of the hot pages per boundary.
  void release_cold_pages() {
    if (newest_boundary_seen <= pages_released_at_boundary) return;
    release_clean_pages();
    pages_released_at_boundary = newest_boundary_seen;
  }

  [[nodiscard]] std::uint64_t page_cache_bytes() const {
    int used = 0;
    int highwater = 0;
    sqlite3_db_status(db.handle(), SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0);
    return static_cast<std::uint64_t>(used);
  }

  // Records that `key` now holds a newer read at `boundary`.
  void latest_changed(std::int64_t key, LatestRead& entry, std::int64_t boundary) {
    if (!entry.dirty) latest_dirty.push_back(key);
    entry.dirty = true;
    ++latest_changes_since_sync;
    if (latest_unsynced_from < 0 || boundary < latest_unsynced_from) latest_unsynced_from = boundary;
    // An old boundary becoming a meter's newest would make a crash recovery rescan far back.
    constexpr std::int64_t day = 24 * 3600;
    if (boundary + day < newest_boundary_seen) latest_force_sync = true;
    newest_boundary_seen = std::max(newest_boundary_seen, boundary);
  }

  // End of a batch: write the dirty entries back every few boundaries' worth of changes, else
  // just keep meta.latest_unsynced_from current (same transaction as the reads).
  void finish_latest_reads() {
    // Re-read: another writer on this file (e.g. a CLI import) may have written latest_reads
    // back and cleared the mark meanwhile; ours must be set again if we still hold changes.
    latest_unsynced_from_stored =
        db.query_int64("SELECT value FROM meta WHERE key = 'latest_unsynced_from'").value_or(-1);
    const std::size_t sync_every = std::max<std::size_t>(100000, 4 * latest.size());
    if (latest_force_sync || latest_changes_since_sync >= sync_every) {
      save_latest_reads();
    } else if (latest_unsynced_from != latest_unsynced_from_stored) {
      set_latest_unsynced_from(latest_unsynced_from);
    }
  }

  void set_latest_unsynced_from(std::int64_t boundary) {
    hot("UPDATE meta SET value = ? WHERE key = 'latest_unsynced_from'").bind(1, boundary).run();
    latest_unsynced_from_stored = boundary;
  }

  void save_latest_reads() {
    // Every channel's row may be written here (all of them at stop or before pruning): the
    // boundary's pages the cache holds are no longer needed, so free them first instead of
    // growing the cache by latest_reads' pages (~60 B per meter, issue #6's peak was this write
    // at stop), and write in key order so each leaf page is filled once, not split at random.
    release_clean_pages();
    std::sort(latest_dirty.begin(), latest_dirty.end());
    for (const std::int64_t key : latest_dirty) {
      LatestRead& entry = latest[key];
      entry.dirty = false;
      if (!entry.exists) continue;  // intervals without a read: nothing to persist
      if (pending_latest.add({key / 4, key % 4, entry.boundary, entry.register_wh, entry.collected_at_ms,
                              entry.intervals_through})) {
        pending_latest.flush(db);
      }
    }
    pending_latest.flush(db);
    latest_dirty.clear();
    latest_unsynced_from = -1;
    if (latest_unsynced_from_stored != -1) set_latest_unsynced_from(-1);
    latest_changes_since_sync = 0;
    latest_force_sync = false;
  }

  // Writes latest_reads back completely in its own transaction (graceful stop, before pruning).
  void sync_latest_reads_now() {
    Transaction transaction(db);
    load_latest_reads();
    save_latest_reads();
    transaction.commit();
  }

  LatestRead& latest_read(std::int64_t meter_key, EnergyChannel channel) {
    return latest_read_entry(latest_key(meter_key, channel));
  }

  // A new entry means: no read stored yet (and, unless some channel got intervals before its
  // first read, no interval either).
  LatestRead& latest_read_entry(std::int64_t key) {
    const auto [entry, inserted] = latest.try_emplace(key);
    if (inserted) entry->through_known = !intervals_without_reads;
    return *entry;
  }

  // An interval ending at `end` was written through the VEE seam: keep intervals_through.
  void note_interval_written(std::int64_t meter_key, EnergyChannel channel, std::int64_t end) {
    const std::int64_t key = latest_key(meter_key, channel);
    LatestRead& entry = latest_read_entry(key);
    if (!entry.exists && !intervals_without_reads) {
      // No read, so no latest_reads row to remember this in: from now on new channels are checked.
      intervals_without_reads = true;
      db.exec("UPDATE meta SET value = 1 WHERE key = 'intervals_without_reads'");
    }
    if (end <= entry.intervals_through || (entry.exists && end <= entry.boundary)) return;
    entry.intervals_through = end;
    if (!entry.exists) return;
    if (!entry.dirty) latest_dirty.push_back(key);
    entry.dirty = true;
    // Crash recovery rescans intervals from the mark too.
    if (latest_unsynced_from < 0 || end < latest_unsynced_from) latest_unsynced_from = end;
  }

  std::optional<StoredRead> stored_read(std::int64_t meter_key, EnergyChannel channel,
                                        std::int64_t boundary) {
    flush_pending_reads();  // this batch's reads must be visible
    auto query = StatementGuard(hot(
        "SELECT register_wh, collected_at_ms FROM reads "
        "WHERE boundary = ? AND meter_key = ? AND channel = ?"));
    query->bind(1, boundary).bind(2, meter_key).bind(3, static_cast<int>(channel));
    if (!query->step()) return std::nullopt;
    return StoredRead{query->column_int64(0), query->column_int64(1)};
  }

  // An out-of-order read, inserted at once (derivation queries its neighbours next). False when
  // a read already stands at that boundary (counted as duplicate or conflict).
  bool insert_read_now(const BoundaryRead& read, const MeterInfo& meter, std::int64_t boundary,
                       std::optional<std::int64_t> meter_time_ms) {
    flush_pending_reads();
    const int inserted =
        hot(
              "INSERT INTO reads (meter_key, channel, boundary, register_wh, collected_at_ms, "
              "source, meter_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (meter_key, channel, boundary) DO NOTHING")
            .bind(1, meter.key)
            .bind(2, static_cast<int>(read.channel))
            .bind(3, boundary)
            .bind(4, read.register_wh)
            .bind(5, to_ms(read.collected_at))
            .bind(6, static_cast<int>(read.source))
            .bind(7, meter_time_ms)
            .run();
    if (inserted == 0) {
      const auto existing = stored_read(meter.key, read.channel, boundary);
      if (existing && existing->register_wh == read.register_wh) {
        delta.reads_duplicate += 1;
      } else {
        delta.reads_conflicting += 1;
        insert_audit("store", "read_conflict",
                     "meter '" + read.meter_id + "' " + std::string(to_string(read.channel)) +
                         " at " + format_utc(read.boundary) + ": kept " +
                         std::to_string(existing ? existing->register_wh : 0) + " Wh, ignored " +
                         std::to_string(read.register_wh) + " Wh");
      }
      return false;
    }
    return true;
  }

  void apply_read(const BoundaryRead& read) {
    const MeterInfo* meter = find_meter(read.meter_id);
    if (meter == nullptr) {
      delta.reads_unknown_meter += 1;
      insert_audit("store", "read_unknown_meter",
                   "read for meter '" + read.meter_id + "' at " + format_utc(read.boundary) +
                       " dropped: meter not in the registry");
      return;
    }
    const std::int64_t boundary = to_s(read.boundary);
    // Aligned in UTC or in the meter's local time (a daily interval of a UTC+8 meter ends 16:00Z).
    const bool aligned = boundary % meter->interval_seconds == 0 ||
                         (boundary + meter->utc_offset_seconds) % meter->interval_seconds == 0;
    if (!aligned || read.register_wh < 0) {
      delta.reads_invalid += 1;
      insert_audit("store", "read_invalid",
                   "read for meter '" + read.meter_id + "' at " + format_utc(read.boundary) +
                       " dropped: " +
                       (read.register_wh < 0
                            ? "negative register " + std::to_string(read.register_wh) + " Wh"
                            : "boundary not aligned to its " +
                                  std::to_string(meter->interval_seconds / 60) +
                                  "-minute interval"));
      return;
    }
    LatestRead& newest = latest_read(meter->key, read.channel);
    const std::optional<std::int64_t> meter_time_ms =
        read.meter_time ? std::optional<std::int64_t>(to_ms(*read.meter_time)) : std::nullopt;
    if (!newest.exists || boundary > newest.boundary) {
      // Newer than anything stored for this channel (the usual, in-order case): cannot collide.
      if (pending_reads.add({meter->key, static_cast<std::int64_t>(read.channel), boundary, read.register_wh,
                             to_ms(read.collected_at), static_cast<std::int64_t>(read.source), meter_time_ms})) {
        flush_pending_reads();
      }
    } else if (!insert_read_now(read, *meter, boundary, meter_time_ms)) {
      return;
    }
    delta.reads_stored += 1;

    const std::int64_t step = meter->interval_seconds;
    const std::int64_t collected = to_ms(read.collected_at);
    // The read before: from memory when it is the newest stored, else from the table.
    std::optional<StoredRead> before;
    if (newest.exists && newest.boundary == boundary - step) {
      before = StoredRead{newest.register_wh, newest.collected_at_ms};
    } else if (newest.exists && newest.boundary > boundary - step) {
      before = stored_read(meter->key, read.channel, boundary - step);
    }
    // The read after exists only when this read arrived out of order.
    std::optional<StoredRead> after;
    if (newest.exists && newest.boundary >= boundary + step) {
      after = stored_read(meter->key, read.channel, boundary + step);
    }
    if (vee_hook) note_read_for_vee(read, *meter, newest, before.has_value() && after.has_value());
    // No version at `boundary` can exist when it is past everything stored for the channel.
    const bool interval_is_new =
        newest.exists && boundary > newest.boundary && newest.through_known && boundary > newest.intervals_through;
    if (!newest.exists || boundary > newest.boundary) {
      newest.exists = true;
      newest.boundary = boundary;
      newest.register_wh = read.register_wh;
      newest.collected_at_ms = collected;
      latest_changed(latest_key(meter->key, read.channel), newest, boundary);
    }
    if (before) {
      derive(read.meter_id, *meter, read.channel, boundary - step, boundary, before->register_wh,
             read.register_wh, std::max(before->collected_at_ms, collected), read.source, interval_is_new);
    }
    if (after) {
      derive(read.meter_id, *meter, read.channel, boundary, boundary + step, read.register_wh,
             after->register_wh, std::max(after->collected_at_ms, collected), read.source, false);
    }
  }

  void derive(const std::string& meter_id, const MeterInfo& meter, EnergyChannel channel,
              std::int64_t start, std::int64_t end, std::int64_t register_start,
              std::int64_t register_end, std::int64_t collected_at_ms, ReadSource source,
              bool interval_is_new) {
    IntervalRow row;
    row.meter_key = meter.key;
    row.channel = channel;
    row.start = start;
    row.end = end;
    row.register_start_wh = register_start;
    row.register_end_wh = register_end;
    row.collected_at_ms = collected_at_ms;
    row.source = source;
    std::int64_t value = 0;
    const bool overflow = __builtin_sub_overflow(register_end, register_start, &value) ||
                          __builtin_mul_overflow(value, meter.ct_ratio, &value) ||
                          __builtin_mul_overflow(value, meter.pt_ratio, &value);
    if (overflow) {
      row.status = IntervalStatus::suspect;
      row.quality_codes = std::string(quality_out_of_range);
      insert_audit("store", "interval_overflow",
                   "meter '" + meter_id + "' interval ending " + std::to_string(end) +
                       ": register delta x CT x PT overflows 64 bits");
    } else if (value < 0) {
      row.status = IntervalStatus::suspect;
      row.quality_codes = std::string(quality_register_decreased);
    } else {
      row.status = IntervalStatus::actual;
    }
    row.value_wh = value;
    row.version = 1;
    if (interval_is_new && row.status == IntervalStatus::actual) {
      insert_new_actual_interval(row);
      return;
    }
    if (!try_insert_interval(row)) {
      // This end already has versions (e.g. a VEE estimate before the backfilled actual).
      const auto current = current_interval(meter.key, channel, end);
      if (current && current->status == row.status && current->value_wh == row.value_wh) return;
      row.version = current ? current->version + 1 : 1;
      supersede_versions_before(meter.key, channel, end, row.version);
      try_insert_interval(row);
    }
  }

  struct CurrentVersion {
    std::int64_t version = 0;
    IntervalStatus status = IntervalStatus::actual;
    std::int64_t value_wh = 0;
  };

  // Version 1 of an actual interval nothing can collide with, buffered; its sequence puts it in
  // the outbox (intervals_by_sequence).
  void insert_new_actual_interval(const IntervalRow& row) {
    const auto sequence = static_cast<std::int64_t>(head_sequence + 1);
    if (pending_intervals.add({row.meter_key, static_cast<std::int64_t>(row.channel), row.start, row.end,
                               row.value_wh, row.register_start_wh, row.register_end_wh,
                               static_cast<std::int64_t>(row.status), std::int64_t{1}, row.collected_at_ms,
                               static_cast<std::int64_t>(row.source), sequence})) {
      pending_intervals.flush(db);
    }
    delta.intervals_stored += 1;
    published_through_ms = std::max(published_through_ms, row.collected_at_ms);
    head_sequence += 1;
  }

  std::optional<CurrentVersion> current_interval(std::int64_t meter_key, EnergyChannel channel,
                                                 std::int64_t end) {
    pending_intervals.flush(db);
    auto query = StatementGuard(hot(
        "SELECT version, status, value_wh FROM intervals "
        "WHERE end_unix = ? AND meter_key = ? AND channel = ? ORDER BY version DESC LIMIT 1"));
    query->bind(1, end).bind(2, meter_key).bind(3, static_cast<int>(channel));
    if (!query->step()) return std::nullopt;
    return CurrentVersion{query->column_int64(0),
                          static_cast<IntervalStatus>(query->column_int64(1)),
                          query->column_int64(2)};
  }

  void supersede_versions_before(std::int64_t meter_key, EnergyChannel channel, std::int64_t end,
                                 std::int64_t version) {
    pending_intervals.flush(db);
    hot(
          "UPDATE intervals SET superseded = 1 "
          "WHERE meter_key = ? AND channel = ? AND end_unix = ? AND version < ?")
        .bind(1, meter_key)
        .bind(2, static_cast<int>(channel))
        .bind(3, end)
        .bind(4, version)
        .run();
  }

  // Inserts the row (with a sequence when publishable). False when the version already exists.
  bool try_insert_interval(const IntervalRow& row) {
    const bool publish = row.status != IntervalStatus::suspect;
    const std::optional<std::int64_t> sequence =
        publish ? std::optional<std::int64_t>(static_cast<std::int64_t>(head_sequence + 1))
                : std::nullopt;
    pending_intervals.flush(db);
    const int inserted =
        hot(
              "INSERT INTO intervals (meter_key, channel, start_unix, end_unix, value_wh, "
              "register_start_wh, register_end_wh, status, quality_codes, estimation_method, "
              "version, collected_at_ms, source, sequence) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (end_unix, meter_key, channel, version) DO NOTHING")
            .bind(1, row.meter_key)
            .bind(2, static_cast<int>(row.channel))
            .bind(3, row.start)
            .bind(4, row.end)
            .bind(5, row.value_wh)
            .bind(6, row.register_start_wh)
            .bind(7, row.register_end_wh)
            .bind(8, static_cast<int>(row.status))
            .bind(9, row.quality_codes)
            .bind(10, static_cast<int>(row.estimation_method))
            .bind(11, row.version)
            .bind(12, row.collected_at_ms)
            .bind(13, static_cast<int>(row.source))
            .bind(14, sequence)
            .run();
    if (inserted == 0) return false;
    delta.intervals_stored += 1;
    if (!publish) {
      delta.intervals_suspect += 1;
      return true;
    }
    published_through_ms = std::max(published_through_ms, row.collected_at_ms);
    head_sequence += 1;
    return true;
  }

  // Before commit: everything buffered goes in, in the same transaction.
  void flush_pending() {
    flush_pending_reads();
    pending_intervals.flush(db);
    pending_attempts.flush(db);
  }

  // Before commit, after flush_pending(): when the transaction published, the new head goes to
  // meta.last_sequence and one outbox mark to outbox_marks (its first sequence, the running
  // maximum of collected_at_ms: replay by time and retention read it, docs/STORAGE.md "Feed").
  void record_published(std::uint64_t head_before) {
    if (head_sequence == head_before) return;
    hot("UPDATE meta SET value = ? WHERE key = 'last_sequence'")
        .bind(1, static_cast<std::int64_t>(head_sequence))
        .run();
    hot("INSERT INTO outbox_marks (first_sequence, collected_through_ms) VALUES (?1, max(?2, coalesce("
        "(SELECT collected_through_ms FROM outbox_marks ORDER BY first_sequence DESC LIMIT 1), ?2)))")
        .bind(1, static_cast<std::int64_t>(head_before + 1))
        .bind(2, published_through_ms)
        .run();
    published_through_ms = 0;
  }

  void flush_pending_reads() {
    const std::size_t expected = pending_reads.pending_rows();
    if (expected == 0) return;
    const std::int64_t inserted = pending_reads.flush(db);
    if (inserted != static_cast<std::int64_t>(expected)) {
      // Only reads newer than the channel's newest stored read are buffered: another writer on
      // this file must have stored some meanwhile. Theirs are kept (first write wins).
      spdlog::warn("storage: {} of {} new reads already stored by another writer; kept the stored ones",
                   static_cast<std::int64_t>(expected) - inserted, expected);
      delta.reads_stored -= static_cast<std::uint64_t>(static_cast<std::int64_t>(expected) - inserted);
      delta.reads_duplicate += static_cast<std::uint64_t>(static_cast<std::int64_t>(expected) - inserted);
    }
  }

  // ---- VEE in the transaction (owned by the vee engineer; docs/VEE.md "In the writer") ----
  // What VEE needs of a registry meter (the writer's cache has no tags: defaults apply).
  static MeterRecord vee_meter(const std::string& meter_id, const MeterInfo& meter) {
    MeterRecord params;
    params.meter_id = meter_id;
    params.ct_ratio = meter.ct_ratio;
    params.pt_ratio = meter.pt_ratio;
    params.interval_minutes = static_cast<int>(meter.interval_seconds / 60);
    params.utc_offset_minutes = static_cast<int>(meter.utc_offset_seconds / 60);
    return params;
  }

  static BoundaryRead boundary_read_from(const std::string& meter_id, EnergyChannel channel,
                                         const LatestRead& newest) {
    BoundaryRead read;
    read.meter_id = meter_id;
    read.channel = channel;
    read.boundary = UtcSeconds{std::chrono::seconds{newest.boundary}};
    read.register_wh = newest.register_wh;
    read.collected_at = UtcMillis{std::chrono::milliseconds{newest.collected_at_ms}};
    return read;
  }

  // `between_two_reads`: stored reads stand one interval before and after (an out-of-order
  // read there only completes what the store derives itself).
  void note_read_for_vee(const BoundaryRead& read, const MeterInfo& meter, const LatestRead& previous,
                         bool between_two_reads) {
    if (previous.exists && to_s(read.boundary) < previous.boundary && !between_two_reads) {
      vee_hook->on_out_of_order_read(vee_meter(read.meter_id, meter), read);
      return;
    }
    std::optional<BoundaryRead> before;
    if (previous.exists) before = boundary_read_from(read.meter_id, read.channel, previous);
    vee_hook->on_read(vee_meter(read.meter_id, meter), before, read);
  }

  // The latest stored version at `end`, as a record (silent-meter estimates compare against it).
  std::optional<IntervalRecord> latest_version_record(const std::string& meter_id, std::int64_t meter_key,
                                                      EnergyChannel channel, std::int64_t end) {
    static const std::string sql = "SELECT " + std::string(interval_columns) +
                                   " FROM intervals WHERE end_unix = ? AND meter_key = ? AND channel = ? "
                                   "ORDER BY version DESC LIMIT 1";
    pending_intervals.flush(db);
    auto query = StatementGuard(hot(sql.c_str()));
    query->bind(1, end).bind(2, meter_key).bind(3, static_cast<int>(channel));
    if (!query->step()) return std::nullopt;
    return interval_from_columns(*query, 0, meter_id, channel);
  }

  // One silent meter channel: unanchored estimates after its newest read up to `due`. Stored
  // history is fetched by key (the window's own ends and the like-day slots), never by range.
  std::size_t estimate_silent_channel(std::int64_t key, const LatestRead& newest, const std::string& meter_id,
                                      const MeterInfo& meter, std::int64_t due) {
    const auto& config = *options.vee;
    const std::int64_t step = meter.interval_seconds;
    const std::int64_t capped = newest.boundary + step * config.max_unanchored_intervals;
    const std::int64_t to = std::min(capped, newest.boundary + (due - newest.boundary) / step * step);
    if (to <= newest.boundary) return 0;
    const auto done = silent_estimated.find(key);
    if (done != silent_estimated.end() && done->second.first == newest.boundary && done->second.second >= to) {
      return 0;
    }
    const auto channel = static_cast<EnergyChannel>(key % 4);
    vee::PassInput pass;
    pass.meter = vee_meter(meter_id, meter);
    pass.channel = channel;
    pass.reads.push_back(boundary_read_from(meter_id, channel, newest));
    pass.from = UtcSeconds{std::chrono::seconds{newest.boundary}};
    pass.to = UtcSeconds{std::chrono::seconds{to}};
    std::set<std::int64_t> ends;
    constexpr std::int64_t day = 24 * 3600;
    for (std::int64_t end = newest.boundary; end <= to; end += step) {
      ends.insert(end);
      for (int k = 1; k <= config.like_days; ++k) {
        ends.insert(end - 7 * day * k);
        ends.insert(end - day * k);
      }
    }
    for (const std::int64_t end : ends) {
      if (auto record = latest_version_record(meter_id, meter.key, channel, end)) pass.stored.push_back(std::move(*record));
    }
    const auto result = vee::vee_pass(pass, config);
    for (const auto& record : result.writes) apply_interval(record);
    for (const auto& finding : result.findings) {
      insert_audit("vee", "vee_finding", format_utc(finding.at) + ": " + finding.detail);
    }
    silent_estimated[key] = {newest.boundary, to};
    return result.writes.size();
  }

  SilentPassStats estimate_silent(std::int64_t due) {
    SilentPassStats result;
    if (!options.vee) return result;
    in_own_transaction([&] {
      latest.for_each([&](std::int64_t key, const LatestRead& newest) {
        if (!newest.exists || newest.boundary >= due) return;
        const MeterInfo* meter = meters.find_key(key / 4);
        if (meter == nullptr || !meter->enabled) return;
        const auto written = estimate_silent_channel(key, newest, std::string(meters.id_of(*meter)), *meter, due);
        result.channels += written > 0 ? 1U : 0U;
        result.intervals += written;
      });
    });
    return result;
  }

  // Runs `work` in a transaction of its own on the writer thread (silent estimates, a history
  // chunk), finished like a batch: buffered rows, the newest-read mark and the head sequence go
  // in before commit; a failure rolls back and forgets the in-memory state it made.
  template <typename Work>
  void in_own_transaction(Work&& work) {
    const std::uint64_t head_before = head_sequence;
    try {
      Transaction transaction(db);
      refresh_meters_if_changed();
      load_latest_reads();
      work();
      flush_pending();
      finish_latest_reads();
      record_published(head_before);
      transaction.commit();
    } catch (...) {
      forget_transaction_state(head_before);
      throw;
    }
    after_commit(true);
    if (head_sequence != head_before) notify_committed(head_sequence);
  }

  // One chunk of the history pass: enabled meters with meter_key > after_key, at most
  // meters_per_chunk of them. Returns the last key done, nullopt when no meter was left.
  std::optional<std::int64_t> history_chunk(std::int64_t after_key, const HistoryPassOptions& pass,
                                            HistoryPassStats& stats_out) {
    const auto& config = *options.vee;
    std::optional<std::int64_t> last_key;
    std::unordered_map<std::int64_t, std::string> ids;
    in_own_transaction([&] {
      vee::BatchInput batch;
      std::int64_t low_key = 0;
      {
        auto query = db.query("SELECT meter_key, " + std::string(meter_columns) +
                              " FROM meters WHERE enabled = 1 AND meter_key > ? ORDER BY meter_key LIMIT ?");
        query->bind(1, after_key).bind(2, static_cast<std::int64_t>(std::max<std::size_t>(pass.meters_per_chunk, 1)));
        while (query->step()) {
          batch.meters.push_back(meter_from_columns(*query, 1));
          ids.emplace(query->column_int64(0), batch.meters.back().meter_id);
          if (!last_key) low_key = query->column_int64(0);
          last_key = query->column_int64(0);
        }
      }
      if (!last_key) return;
      constexpr std::int64_t day = 24 * 3600;
      const std::int64_t to = to_s(pass.to);
      const std::int64_t from = to - std::chrono::duration_cast<std::chrono::seconds>(pass.window).count();
      flush_pending_reads();
      {
        auto query = db.query(std::string(chunk_reads_sql));
        query->bind(1, from - 2 * day).bind(2, to).bind(3, low_key).bind(4, *last_key);
        while (query->step()) {
          const auto id = ids.find(query->column_int64(0));
          if (id == ids.end()) continue;  // a disabled meter inside the key range
          BoundaryRead read;
          read.meter_id = id->second;
          read.channel = static_cast<EnergyChannel>(query->column_int64(1));
          read.boundary = UtcSeconds{std::chrono::seconds{query->column_int64(2)}};
          read.register_wh = query->column_int64(3);
          read.collected_at = UtcMillis{std::chrono::milliseconds{query->column_int64(4)}};
          read.source = static_cast<ReadSource>(query->column_int64(5));
          if (!query->column_is_null(6)) {
            read.meter_time = UtcMillis{std::chrono::milliseconds{query->column_int64(6)}};
          }
          batch.reads.push_back(std::move(read));
        }
      }
      pending_intervals.flush(db);
      {
        auto query = db.query("SELECT i.meter_key, i.channel, " + std::string(interval_columns) +
                              std::string(chunk_intervals_sql_tail));
        query->bind(1, from - (config.history_days + 2) * day).bind(2, to).bind(3, low_key).bind(4, *last_key);
        while (query->step()) {
          const auto id = ids.find(query->column_int64(0));
          if (id == ids.end()) continue;
          batch.stored.push_back(
              interval_from_columns(*query, 2, id->second, static_cast<EnergyChannel>(query->column_int64(1))));
        }
      }
      batch.from = UtcSeconds{std::chrono::seconds{from}};
      batch.to = pass.to;
      const auto result = vee::vee_batch(batch, config);
      for (const auto& record : result.writes) {
        const MeterInfo* meter = find_meter(record.meter_id);
        if (meter == nullptr) continue;
        const std::int64_t end = to_s(record.end);
        // After the newest read: unanchored estimates, estimate_silent()'s job.
        const LatestRead* newest = latest.find(latest_key(meter->key, record.channel));
        if (newest == nullptr || !newest->exists || end > newest->boundary) continue;
        // Only where the flags change (or nothing is stored): value refinements are not worth a version.
        const auto current = latest_version_record(record.meter_id, meter->key, record.channel, end);
        if (current && current->quality_codes == record.quality_codes) continue;
        apply_interval(record);
        stats_out.intervals += 1;
      }
      for (const auto& finding : result.findings) {
        insert_audit("vee", "vee_finding", format_utc(finding.at) + ": " + finding.detail);
      }
    });
    if (!last_key) return std::nullopt;
    stats_out.meters += ids.size();
    stats_out.chunks += 1;
    return last_key;
  }

  void apply_vee_hook() {
    if (!vee_hook) return;
    // Out-of-order reads' stored neighbours, by key (this batch's reads are in the table).
    const auto lookup = [this](const MeterRecord& params, EnergyChannel channel,
                               UtcSeconds boundary) -> std::optional<BoundaryRead> {
      const MeterInfo* meter = find_meter(params.meter_id);
      if (meter == nullptr) return std::nullopt;
      const auto stored = stored_read(meter->key, channel, to_s(boundary));
      if (!stored) return std::nullopt;
      BoundaryRead read;
      read.meter_id = params.meter_id;
      read.channel = channel;
      read.boundary = boundary;
      read.register_wh = stored->register_wh;
      read.collected_at = UtcMillis{std::chrono::milliseconds{stored->collected_at_ms}};
      return read;
    };
    const auto pass = vee_hook->take(lookup);  // also forgets the batch's reads
    for (const auto& record : pass.writes) {
      const MeterInfo* meter = find_meter(record.meter_id);
      const auto current = meter == nullptr ? std::nullopt
                                            : latest_version_record(record.meter_id, meter->key, record.channel,
                                                                    to_s(record.end));
      // A read backfilled in the same batch may already have made the interval actual.
      if (record.status == IntervalStatus::estimated && current && current->status == IntervalStatus::actual) continue;
      // A re-anchored span often leaves some of its estimates as they were: no new version.
      if (current && current->status == record.status && current->value_wh == record.value_wh &&
          current->quality_codes == record.quality_codes && current->estimation_method == record.estimation_method) {
        continue;
      }
      apply_interval(record);
    }
    for (const auto& finding : pass.findings) {
      insert_audit("vee", "vee_finding", format_utc(finding.at) + ": " + finding.detail);
    }
  }
  // ---- end of VEE ----

  // VEE seam: a new version of an interval.
  void apply_interval(const IntervalRecord& record) {
    const MeterInfo* meter = find_meter(record.meter_id);
    if (meter == nullptr) {
      insert_audit("store", "interval_unknown_meter",
                   "interval for meter '" + record.meter_id + "' ending " +
                       format_utc(record.end) + " dropped: meter not in the registry");
      return;
    }
    if (record.end <= record.start) {
      insert_audit("store", "interval_invalid",
                   "interval for meter '" + record.meter_id + "' from " +
                       format_utc(record.start) + " to " + format_utc(record.end) +
                       " dropped: end is not after start");
      return;
    }
    IntervalRow row = interval_row_from_record(record, meter->key);
    const auto current = current_interval(meter->key, record.channel, row.end);
    row.version = current ? current->version + 1 : 1;
    supersede_versions_before(meter->key, record.channel, row.end, row.version);
    if (try_insert_interval(row)) note_interval_written(meter->key, record.channel, row.end);
  }

  // The id of a gateway/channel key in attempt_channels, added when new.
  std::int64_t attempt_channel_id(const std::string& channel_key) {
    if (!attempt_channels_loaded) {
      attempt_channel_ids.clear();
      auto query = db.query("SELECT channel_id, channel_key FROM attempt_channels");
      while (query->step()) attempt_channel_ids.emplace(query->column_text(1), query->column_int64(0));
      attempt_channels_loaded = true;
    }
    if (const auto it = attempt_channel_ids.find(channel_key); it != attempt_channel_ids.end()) return it->second;
    hot("INSERT INTO attempt_channels (channel_key) VALUES (?)").bind(1, channel_key).run();
    const std::int64_t id = db.query_int64("SELECT last_insert_rowid()").value_or(0);
    attempt_channel_ids.emplace(channel_key, id);
    return id;
  }

  void insert_attempt(const AttemptRecord& attempt) {
    const MeterInfo* meter = find_meter(attempt.meter_id);
    if (meter == nullptr) {
      insert_audit("store", "attempt_unknown_meter",
                   "attempt for meter '" + attempt.meter_id + "' at " + format_utc(attempt.boundary) +
                       " dropped: meter not in the registry");
      return;
    }
    if (pending_attempts.add_values({meter->key, attempt_channel_id(attempt.channel), to_s(attempt.boundary),
                                     to_ms(attempt.started_at), static_cast<std::int64_t>(attempt.latency_ms),
                                     std::int64_t{attempt.attempt}, std::string(attempt.outcome),
                                     std::string(attempt.category), attempt.detail,
                                     static_cast<std::int64_t>(attempt.source)})) {
      pending_attempts.flush(db);
    }
    delta.attempts_stored += 1;
  }

  void insert_audit(const std::string& actor, const std::string& action,
                    const std::string& detail) {
    hot("INSERT INTO audit_log (at_ms, actor, action, detail) VALUES (?, ?, ?, ?)")
        .bind(1, to_ms(options.clock.now()))
        .bind(2, actor)
        .bind(3, action)
        .bind(4, detail)
        .run();
  }

  // ---- registry import (writer thread) ----
  // Bulk upsert: the stored rows of the imported ids are looked up `ids_per_lookup` per
  // statement (meter_id IN (...), through its unique index), and new or changed meters go in as
  // 64-row upserts; unchanged ones are not written. (One SELECT + one upsert per row took 16.8 s
  // for 1M rows.) Validation happened before (StoreWriter::import_meters), so nothing here fails
  // on a bad row; a SQLite error rolls the whole import back.
  ImportResult import_meters(const std::vector<MeterRecord>& records, const std::string& actor) {
    constexpr std::size_t ids_per_lookup = 500;
    ImportResult result;
    Transaction transaction(db);
    const std::int64_t now_ms = to_ms(options.clock.now());
    BufferedInsert upserts{
        "INSERT INTO meters (meter_id, protocol, channel, address, model, ct_ratio, pt_ratio, utc_offset_minutes, "
        "usage_point, interval_minutes, enabled, tags, updated_at_ms)",
        "ON CONFLICT (meter_id) DO UPDATE SET protocol = excluded.protocol, channel = excluded.channel, "
        "address = excluded.address, model = excluded.model, ct_ratio = excluded.ct_ratio, "
        "pt_ratio = excluded.pt_ratio, utc_offset_minutes = excluded.utc_offset_minutes, "
        "usage_point = excluded.usage_point, interval_minutes = excluded.interval_minutes, "
        "enabled = excluded.enabled, tags = excluded.tags, updated_at_ms = excluded.updated_at_ms",
        13, 64};
    std::unordered_map<std::string, MeterRecord> stored;
    for (std::size_t first = 0; first < records.size(); first += ids_per_lookup) {
      const std::size_t count = std::min(ids_per_lookup, records.size() - first);
      std::string sql = "SELECT " + std::string(meter_columns) + " FROM meters WHERE meter_id IN (?";
      for (std::size_t i = 1; i < count; ++i) sql += ", ?";
      sql += ")";
      stored.clear();
      {
        auto lookup = db.query(sql);
        for (std::size_t i = 0; i < count; ++i) lookup->bind(static_cast<int>(i + 1), records[first + i].meter_id);
        while (lookup->step()) {
          MeterRecord row = meter_from_columns(*lookup, 0);
          std::string id = row.meter_id;
          stored.emplace(std::move(id), std::move(row));
        }
      }
      for (std::size_t i = first; i < first + count; ++i) {
        const MeterRecord& m = records[i];
        const auto found = stored.find(m.meter_id);
        if (found != stored.end() && found->second == m) {
          result.unchanged += 1;
          continue;
        }
        if (upserts.add_values({m.meter_id, m.protocol, m.channel, m.address, m.model, m.ct_ratio, m.pt_ratio,
                                std::int64_t{m.utc_offset_minutes}, m.usage_point, std::int64_t{m.interval_minutes},
                                std::int64_t{m.enabled ? 1 : 0}, m.tags, now_ms})) {
          upserts.flush(db);
        }
        if (found != stored.end()) {
          result.updated += 1;
          insert_audit(actor, "meter_updated", "meter '" + m.meter_id + "' changed");
        } else {
          result.inserted += 1;
        }
      }
    }
    upserts.flush(db);
    insert_audit(actor, "registry_import",
                 std::to_string(result.inserted) + " inserted, " + std::to_string(result.updated) +
                     " updated, " + std::to_string(result.unchanged) + " unchanged");
    db.exec("UPDATE meta SET value = value + 1 WHERE key = 'registry_version'");
    transaction.commit();
    registry_version = -1;  // reload at the next batch
    return result;
  }

  // ---- retention (writer thread), one chunk per call; returns rows deleted ----
  std::int64_t prune_outbox_chunk(std::int64_t acked, std::int64_t cutoff_ms, std::int64_t limit) {
    Transaction transaction(db);
    // Published (in intervals_by_sequence), acknowledged by every consumer, old.
    const int deleted =
        db.prepare(
              "DELETE FROM intervals WHERE (end_unix, meter_key, channel, version) IN ("
              "  SELECT end_unix, meter_key, channel, version FROM intervals"
              "  WHERE sequence <= ?1 AND collected_at_ms < ?2 ORDER BY sequence LIMIT ?3)")
            .bind(1, acked)
            .bind(2, cutoff_ms)
            .bind(3, limit)
            .run();
    // Marks wholly before the oldest published sequence left go too; the newest mark always
    // stays (it carries the running maximum).
    db.exec(
        "DELETE FROM outbox_marks WHERE first_sequence < (SELECT max(first_sequence) FROM outbox_marks "
        "WHERE first_sequence <= coalesce((SELECT min(sequence) FROM intervals WHERE sequence IS NOT NULL), "
        "(SELECT value FROM meta WHERE key = 'last_sequence') + 1))");
    transaction.commit();
    return deleted;
  }

  std::int64_t delete_chunk(const std::string& sql, std::int64_t cutoff, std::int64_t limit) {
    Transaction transaction(db);
    const int deleted = db.prepare(sql).bind(1, cutoff).bind(2, limit).run();
    transaction.commit();
    return deleted;
  }

  // Deletes up to `limit` reads before `cutoff`, keeping each (meter, channel)'s newest read
  // (latest_reads), which derivation and gap estimation still need.
  std::int64_t prune_reads_chunk(std::int64_t cutoff, std::int64_t limit) {
    Transaction transaction(db);
    const int deleted =
        db.prepare(
              "DELETE FROM reads WHERE (boundary, meter_key, channel) IN ("
              "  SELECT r.boundary, r.meter_key, r.channel FROM reads r WHERE r.boundary < ?1"
              "  AND NOT EXISTS (SELECT 1 FROM latest_reads l WHERE l.meter_key = r.meter_key"
              "    AND l.channel = r.channel AND l.boundary = r.boundary) LIMIT ?2)")
            .bind(1, cutoff)
            .bind(2, limit)
            .run();
    transaction.commit();
    return deleted;
  }
};

StoreWriter::StoreWriter(StoreOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

StoreWriter::~StoreWriter() { stop(); }

void StoreWriter::submit(std::vector<BoundaryRead> reads, std::vector<AttemptRecord> attempts) {
  if (reads.empty() && attempts.empty()) return;
  Job job;
  job.reads = std::move(reads);
  job.attempts = std::move(attempts);
  impl_->enqueue(std::move(job), true);
}

void StoreWriter::submit_intervals(std::vector<IntervalRecord> intervals) {
  if (intervals.empty()) return;
  Job job;
  job.intervals = std::move(intervals);
  impl_->enqueue(std::move(job), true);
}

void StoreWriter::audit(std::string actor, std::string action, std::string detail) {
  Job job;
  job.audit.push_back(AuditRow{std::move(actor), std::move(action), std::move(detail)});
  impl_->enqueue(std::move(job), true);
}

void StoreWriter::flush() {
  std::unique_lock lock(impl_->mutex);
  const std::uint64_t target = impl_->submitted_jobs;
  impl_->flush_waiters += 1;  // a group-commit gather must not hold this caller
  impl_->work_ready.notify_one();
  impl_->progress.wait(lock, [&] { return impl_->failure || impl_->finished_jobs >= target; });
  impl_->flush_waiters -= 1;
  if (impl_->failure) throw StoreFailed("store writer failed: " + *impl_->failure);
}

ImportResult StoreWriter::import_meters(const std::vector<MeterRecord>& meters,
                                        const std::string& actor) {
  std::string problems;
  std::unordered_set<std::string> seen;
  for (const auto& meter : meters) {
    for (const auto& error : validate_meter(meter)) {
      problems += "\n  meter '" + meter.meter_id + "': column " + error.column + ": " + error.reason;
    }
    if (!seen.insert(meter.meter_id).second) {
      problems += "\n  meter '" + meter.meter_id + "': duplicate meter_id";
    }
  }
  if (!problems.empty()) {
    throw std::invalid_argument("registry import rejected, nothing written:" + problems);
  }
  return impl_->run_task<ImportResult>(
      [this, &meters, &actor] { return impl_->import_meters(meters, actor); });
}

void StoreWriter::ensure_consumers(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (name.empty()) throw std::invalid_argument("ensure_consumers: empty consumer name");
  }
  impl_->run_task<void>([this, &names] {
    Transaction transaction(impl_->db);
    for (const auto& name : names) {
      impl_->db
          .prepare(
              "INSERT OR IGNORE INTO consumer_cursors (name, sequence, updated_at_ms) "
              "VALUES (?, 0, ?)")
          .bind(1, name)
          .bind(2, to_ms(impl_->options.clock.now()))
          .run();
    }
    transaction.commit();
  });
}

PruneStats StoreWriter::prune(const RetentionPolicy& policy, UtcSeconds now) {
  PruneStats result;
  Impl& impl = *impl_;
  const auto limit = static_cast<std::int64_t>(std::max<std::size_t>(policy.rows_per_transaction, 1));
  const std::int64_t now_s = to_s(now);
  // Each chunk is its own task so submissions queued meanwhile are written between chunks.
  auto repeat = [&](auto&& chunk) {
    std::int64_t total = 0;
    for (;;) {
      const std::int64_t deleted = impl.run_task<std::int64_t>(chunk);
      total += deleted;
      if (deleted < limit) return total;
    }
  };

  // Reads pruning keeps the rows latest_reads names, so it must be complete first.
  impl.run_task<void>([&impl] { impl.sync_latest_reads_now(); });
  const auto acked = impl.run_task<std::optional<std::int64_t>>([&impl, &policy] {
    // A configured consumer without a row has read nothing yet: it counts as cursor 0.
    for (const auto& name : policy.consumers) {
      auto cursor = impl.db.query("SELECT 1 FROM consumer_cursors WHERE name = ?");
      cursor->bind(1, name);
      if (!cursor->step()) return std::optional<std::int64_t>{0};
    }
    return impl.db.query_int64("SELECT min(sequence) FROM consumer_cursors");
  });
  if (acked) {
    const std::int64_t cutoff_ms = (now_s - policy.keep_intervals.count()) * 1000;
    result.outbox_rows =
        repeat([&] { return impl.prune_outbox_chunk(*acked, cutoff_ms, limit); });
    result.intervals = result.outbox_rows;
  }
  result.intervals += repeat([&] {
    return impl.delete_chunk(
        "DELETE FROM intervals WHERE (end_unix, meter_key, channel, version) IN ("
        "SELECT end_unix, meter_key, channel, version FROM intervals "
        "WHERE status = 3 AND end_unix < ? LIMIT ?)",
        now_s - policy.keep_intervals.count(), limit);
  });
  result.attempts = repeat([&] {
    return impl.delete_chunk(
        "DELETE FROM attempt_log WHERE attempt_id IN (SELECT attempt_id FROM attempt_log "
        "WHERE boundary < ? LIMIT ?)",
        now_s - policy.keep_attempts.count(), limit);
  });
  result.audit_rows = repeat([&] {
    return impl.delete_chunk(
        "DELETE FROM audit_log WHERE audit_id IN (SELECT audit_id FROM audit_log "
        "WHERE at_ms < ? LIMIT ?)",
        (now_s - policy.keep_audit.count()) * 1000, limit);
  });
  result.reads = repeat([&] {
    return impl.prune_reads_chunk(now_s - policy.keep_reads.count(), limit);
  });
  impl.run_task<void>([&impl, &result] {
    impl.insert_audit("store", "retention_prune",
                      std::to_string(result.outbox_rows) + " outbox, " +
                          std::to_string(result.intervals) + " intervals, " +
                          std::to_string(result.reads) + " reads, " +
                          std::to_string(result.attempts) + " attempts, " +
                          std::to_string(result.audit_rows) + " audit rows");
  });
  return result;
}

HistoryPassStats StoreWriter::run_history_pass(const HistoryPassOptions& options) {
  HistoryPassStats result;
  if (!impl_->options.vee) return result;
  std::int64_t after_key = std::numeric_limits<std::int64_t>::min();
  for (;;) {
    if (options.cancel && options.cancel->load()) return result;
    const auto last = impl_->run_task<std::optional<std::int64_t>>(
        [this, after_key, &options, &result] { return impl_->history_chunk(after_key, options, result); });
    if (!last) return result;
    after_key = *last;
  }
}

SilentPassStats StoreWriter::estimate_silent(UtcSeconds due) {
  return impl_->run_task<SilentPassStats>([this, due] { return impl_->estimate_silent(to_s(due)); });
}

void StoreWriter::on_committed(std::function<void(std::uint64_t)> callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->committed_callback = std::move(callback);
}

void StoreWriter::on_taken(std::function<void()> callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->taken_callback = std::move(callback);
}

void StoreWriter::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_all();
  impl_->progress.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::size_t StoreWriter::queued_items() const {
  return impl_->untaken_items.load(std::memory_order_relaxed);
}

WriterStats StoreWriter::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace ami::storage
