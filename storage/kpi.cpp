#include "storage/kpi.hpp"

#include <algorithm>
#include <charconv>
#include <bit>
#include <limits>
#include <map>
#include <unordered_map>
#include <stdexcept>

#include <fmt/format.h>

#include "storage/schema.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_rows.hpp"

namespace ami::storage {

namespace {

constexpr std::int64_t seconds_per_day = 86400;

std::int64_t unix_s(UtcSeconds t) { return t.time_since_epoch().count(); }

}  // namespace

std::optional<LocalDay> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  const auto num = [&](std::size_t pos, std::size_t len, auto& out) {
    const auto* first = text.data() + pos;
    const auto [ptr, ec] = std::from_chars(first, first + len, out);
    return ec == std::errc{} && ptr == first + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return LocalDay{ymd};
}

std::string format_day(LocalDay day) {
  const std::chrono::year_month_day ymd{day};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

LocalDay day_of(UtcSeconds t, int utc_offset_minutes) {
  return std::chrono::floor<std::chrono::days>(t + std::chrono::minutes{utc_offset_minutes});
}

UtcSeconds day_start_utc(LocalDay day, int utc_offset_minutes) {
  return UtcSeconds{day} - std::chrono::minutes{utc_offset_minutes};
}

ReadCounts& ReadCounts::operator+=(const ReadCounts& other) {
  expected += other.expected;
  first_attempt += other.first_attempt;
  after_retries += other.after_retries;
  after_backfill += other.after_backfill;
  on_time += other.on_time;
  boundaries_attempted += other.boundaries_attempted;
  boundaries_ok += other.boundaries_ok;
  boundaries_failed_transport += other.boundaries_failed_transport;
  boundaries_failed_meter += other.boundaries_failed_meter;
  attempts += other.attempts;
  return *this;
}

namespace {

constexpr int set_measured = 0;     // a measured version (actual or suspect) of the interval ending at slot k
constexpr int set_no_backfill = 1;  // ... of which one came from a non-backfill read
constexpr int set_on_time = 2;      // ... of which one was stored before the deadline
constexpr int set_boundary_ok = 3;  // boundary at the end of slot k had an ok attempt
constexpr int set_first_ok = 4;     // bit j: boundary j (0 = the day's start) ok at attempt 1, scheduled
constexpr int bitset_count = 5;

constexpr int source_scheduled = static_cast<int>(ReadSource::scheduled);
constexpr int source_backfill = static_cast<int>(ReadSource::backfill);
constexpr std::uint16_t no_reason = 0xffff;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::int64_t day_number(LocalDay day) { return day.time_since_epoch().count(); }

// Bits [0, limit) set in words[0..n).
std::int64_t popcount_prefix(const std::uint64_t* words, std::size_t n, std::int64_t limit) {
  std::int64_t total = 0;
  for (std::size_t w = 0; w < n && limit > 0; ++w, limit -= 64) {
    const std::uint64_t mask = limit >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << limit) - 1;
    total += std::popcount(words[w] & mask);
  }
  return total;
}

bool test_bit(const std::uint64_t* words, std::int64_t bit) {
  return ((words[bit / 64] >> (bit % 64)) & 1U) != 0;
}
void set_bit(std::uint64_t* words, std::int64_t bit) { words[bit / 64] |= std::uint64_t{1} << (bit % 64); }

}  // namespace

struct KpiQueries::Impl {
  Impl(const std::filesystem::path& path, int busy_timeout_ms, int max_days)
      : db(checked(path), false, busy_timeout_ms), max_cached_days(std::max(max_days, 1)) {
    const int found = schema_version(db);
    if (found != current_schema_version()) {
      throw std::runtime_error(fmt::format("{}: schema version {} but this build reads version {}", path.string(),
                                           found, current_schema_version()));
    }
  }
  static const std::filesystem::path& checked(const std::filesystem::path& path) {
    if (!std::filesystem::exists(path)) throw std::runtime_error(path.string() + ": no staging store here");
    return path;
  }

  // An enabled meter of the registry snapshot.
  struct Meter {
    std::string id;
    std::string channel;
    std::string model;
    std::string protocol;
    std::string tags;
    std::int64_t offset_s = 0;    // registry utc_offset_minutes * 60
    std::int64_t interval_s = 0;
    std::int64_t slots = 0;       // intervals in one day
    std::size_t words = 0;        // words per bitset (slots + 1 bits)
    std::size_t base = 0;         // first word of this meter in DayState::bits
    [[nodiscard]] std::int64_t day_start(std::int64_t day) const { return day * seconds_per_day - offset_s; }
    // The day holding the interval that ends at `end` (period-ending).
    [[nodiscard]] std::int64_t day_of_end(std::int64_t end) const {
      return floor_div(end - 1 + offset_s, seconds_per_day);
    }
  };

  // A boundary with more than one attempt or a failed one; all other attempted boundaries had
  // exactly one, ok, attempt (the bitset says which).
  struct BoundaryNote {
    std::uint16_t slot = 0;
    std::uint16_t reason = no_reason;  // index into reasons: outcome of the newest failed attempt
    std::int32_t attempts = 0;
    std::int64_t last_failed_id = 0;   // attempt_id of that attempt
  };

  struct DayState {
    std::vector<std::uint64_t> bits;  // per meter: bitset_count bitsets of Meter::words words
    std::unordered_map<std::uint32_t, std::vector<BoundaryNote>> notes;  // meter index -> notes
    std::uint64_t last_used = 0;
  };

  Database db;
  int max_cached_days;
  std::int64_t registry_version = -1;
  int deadline_minutes = -1;
  std::vector<Meter> meters;  // ordered by meter_id
  std::unordered_map<std::int64_t, std::uint32_t> index_by_key;
  std::size_t total_words = 0;
  std::int64_t min_offset_s = 0;
  std::int64_t max_offset_s = 0;
  std::map<std::int64_t, DayState> days;
  std::uint64_t use_counter = 0;
  std::int64_t attempt_watermark = 0;
  std::int64_t outbox_watermark = 0;
  std::vector<std::pair<std::string, std::string>> reasons;
  std::map<std::pair<std::string, std::string>, std::uint16_t> reason_index;
  std::unordered_map<std::int64_t, LastFailure> failure_details;

  void reset() {
    meters.clear();
    index_by_key.clear();
    days.clear();
    failure_details.clear();
    registry_version = -1;
    attempt_watermark = 0;
    outbox_watermark = 0;
  }

  void load_registry(std::int64_t version) {
    reset();
    auto q = db.query(
        "SELECT meter_key, meter_id, channel, model, protocol, tags, interval_minutes, utc_offset_minutes "
        "FROM meters WHERE enabled = 1 ORDER BY meter_id");
    min_offset_s = 0;
    max_offset_s = 0;
    total_words = 0;
    while (q->step()) {
      Meter m;
      m.id = q->column_text(1);
      m.channel = q->column_text(2);
      m.model = q->column_text(3);
      m.protocol = q->column_text(4);
      m.tags = q->column_text(5);
      m.interval_s = std::max<std::int64_t>(q->column_int64(6), 1) * 60;
      m.offset_s = q->column_int64(7) * 60;
      m.slots = (seconds_per_day + m.interval_s - 1) / m.interval_s;
      m.words = static_cast<std::size_t>((m.slots + 1 + 63) / 64);
      m.base = total_words;
      total_words += m.words * bitset_count;
      if (meters.empty() || m.offset_s < min_offset_s) min_offset_s = m.offset_s;
      if (meters.empty() || m.offset_s > max_offset_s) max_offset_s = m.offset_s;
      const auto index = static_cast<std::uint32_t>(meters.size());
      index_by_key.emplace(q->column_int64(0), index);
      meters.push_back(std::move(m));
    }
    registry_version = version;
  }

  std::uint64_t* bitset(DayState& day, const Meter& m, int set) {
    return day.bits.data() + m.base + static_cast<std::size_t>(set) * m.words;
  }

  std::uint16_t intern_reason(std::string outcome, std::string category) {
    auto key = std::make_pair(std::move(outcome), std::move(category));
    const auto it = reason_index.find(key);
    if (it != reason_index.end()) return it->second;
    const auto index = static_cast<std::uint16_t>(std::min<std::size_t>(reasons.size(), no_reason - 1));
    if (index == reasons.size()) {
      reasons.push_back(key);
      reason_index.emplace(std::move(key), index);
    }
    return index;
  }

  // UTC range [first, last] holding every boundary of days [first_day, last_day] for any meter,
  // and the boundary at each day's start.
  [[nodiscard]] std::pair<std::int64_t, std::int64_t> utc_range(std::int64_t first_day, std::int64_t last_day) const {
    return {first_day * seconds_per_day - max_offset_s, (last_day + 1) * seconds_per_day - min_offset_s};
  }

  // Folds one attempt into the days `wanted` says yes to. Order-independent: the newest failed
  // attempt (by id) names a boundary's reason whatever order rows arrive in.
  template <class Wanted>
  void apply_attempt(std::uint32_t index, std::int64_t attempt_id, std::int64_t boundary, std::int64_t attempt,
                     bool ok, int source, const std::string& outcome, const std::string& category, Wanted&& wanted) {
    const auto& m = meters[index];
    const auto day = m.day_of_end(boundary);
    const auto start = m.day_start(day);
    const bool first_ok = ok && attempt == 1 && source == source_scheduled;
    if (wanted(day)) {
      auto& state = days.at(day);
      const auto slot = (boundary - start - 1) / m.interval_s;
      if (slot >= 0 && slot < m.slots) {
        auto* ok_bits = bitset(state, m, set_boundary_ok);
        if (first_ok) set_bit(bitset(state, m, set_first_ok), slot + 1);
        const bool was_ok = test_bit(ok_bits, slot);
        BoundaryNote* note = nullptr;
        if (const auto it = state.notes.find(index); it != state.notes.end()) {
          for (auto& n : it->second) {
            if (n.slot == slot) note = &n;
          }
        }
        if (note == nullptr && (!ok || was_ok)) {  // a second attempt or a failed one: worth a note
          auto& notes = state.notes[index];
          notes.push_back(BoundaryNote{static_cast<std::uint16_t>(slot), no_reason, was_ok ? 1 : 0, 0});
          note = &notes.back();
        }
        if (note != nullptr) {
          ++note->attempts;
          if (!ok && attempt_id > note->last_failed_id) {
            note->last_failed_id = attempt_id;
            note->reason = intern_reason(outcome, category);
          }
        }
        if (ok) set_bit(ok_bits, slot);
      }
    }
    // The boundary at a day's midnight is also the start boundary of the next day's first interval.
    if (first_ok && boundary == start + seconds_per_day && wanted(day + 1)) {
      set_bit(bitset(days.at(day + 1), m, set_first_ok), 0);
    }
  }

  template <class Wanted>
  void apply_interval(std::uint32_t index, std::int64_t end, int source, std::int64_t collected_at_ms,
                      Wanted&& wanted) {
    const auto& m = meters[index];
    const auto day = m.day_of_end(end);
    if (!wanted(day)) return;
    auto& state = days.at(day);
    const auto start = m.day_start(day);
    const auto slot = (end - start - 1) / m.interval_s;
    if (slot < 0 || slot >= m.slots) return;
    set_bit(bitset(state, m, set_measured), slot);
    if (source != source_backfill) set_bit(bitset(state, m, set_no_backfill), slot);
    if (collected_at_ms <= (start + seconds_per_day + std::int64_t{deadline_minutes} * 60) * 1000) {
      set_bit(bitset(state, m, set_on_time), slot);
    }
  }

  // Every query below runs inside refresh()'s read snapshot, so nothing newer than the
  // watermarks read there can show up.
  template <class Wanted>
  void attempts_where(const std::string& where, std::int64_t a, std::int64_t b, Wanted&& wanted) {
    auto q = db.query("SELECT attempt_id, meter_key, boundary, attempt, outcome = 'ok', source, outcome, category "
                      "FROM attempt_log WHERE " + where);
    q->bind(1, a).bind(2, b);
    while (q->step()) {
      const auto it = index_by_key.find(q->column_int64(1));
      if (it == index_by_key.end()) continue;
      apply_attempt(it->second, q->column_int64(0), q->column_int64(2), q->column_int64(3), q->column_int64(4) != 0,
                    static_cast<int>(q->column_int64(5)), q->column_text(6), q->column_text(7), wanted);
    }
  }

  template <class Wanted>
  void intervals_where(const std::string& sql, std::int64_t a, std::int64_t b, Wanted&& wanted) {
    auto q = db.query(sql);
    q->bind(1, a).bind(2, b);
    while (q->step()) {
      const auto it = index_by_key.find(q->column_int64(0));
      if (it == index_by_key.end()) continue;
      apply_interval(it->second, q->column_int64(1), static_cast<int>(q->column_int64(2)), q->column_int64(3), wanted);
    }
  }

  // Brings the rollup up to the last commit and loads the days in [first_day, last_day] it lacks.
  void refresh(std::int64_t first_day, std::int64_t last_day, int deadline) {
    db.exec("BEGIN");  // one read snapshot for the watermarks and every query below
    try {
      refresh_in_snapshot(first_day, last_day, deadline);
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      reset();  // half-applied rows would be counted twice next time
      throw;
    }
  }

  void refresh_in_snapshot(std::int64_t first_day, std::int64_t last_day, int deadline) {
    const auto version = db.query_int64("SELECT value FROM meta WHERE key = 'registry_version'").value_or(0);
    if (version != registry_version || deadline != deadline_minutes) {
      deadline_minutes = deadline;
      load_registry(version);
    }
    const auto attempt_head = db.query_int64("SELECT max(attempt_id) FROM attempt_log").value_or(0);
    const auto outbox_head = db.query_int64("SELECT max(sequence) FROM intervals WHERE sequence IS NOT NULL").value_or(0);
    const auto cached = [this](std::int64_t day) { return days.count(day) != 0; };

    // 1. What was committed since the last call, into the days already held.
    if (!days.empty()) {
      if (attempt_head > attempt_watermark) {
        attempts_where("attempt_id > ?1 AND attempt_id <= ?2", attempt_watermark, attempt_head, cached);
      }
      if (outbox_head > outbox_watermark) {
        intervals_where(
            "SELECT meter_key, end_unix, source, collected_at_ms FROM intervals "
            "WHERE sequence > ?1 AND sequence <= ?2 AND channel = 1 AND status = 1",
            outbox_watermark, outbox_head, cached);
      }
    }
    attempt_watermark = std::max(attempt_watermark, attempt_head);
    outbox_watermark = std::max(outbox_watermark, outbox_head);

    // 2. Days asked for the first time: loaded from the tables in this same snapshot.
    std::vector<std::int64_t> fresh;
    for (auto day = first_day; day <= last_day; ++day) {
      if (!cached(day)) fresh.push_back(day);
    }
    if (!fresh.empty()) {
      for (const auto day : fresh) days[day].bits.assign(total_words, 0);
      const auto is_fresh = [&fresh](std::int64_t day) {
        return std::binary_search(fresh.begin(), fresh.end(), day);
      };
      const auto [from, to] = utc_range(fresh.front(), fresh.back());
      attempts_where("boundary >= ?1 AND boundary <= ?2", from, to, is_fresh);
      intervals_where(
          "SELECT meter_key, end_unix, source, collected_at_ms FROM intervals "
          "WHERE end_unix > ?1 AND end_unix <= ?2 AND channel = 1 AND status = 1",
          from, to, is_fresh);
    }

    // 3. Suspect intervals are never published (no outbox row): re-read the held days' ones. Bits
    // only ever get set, so reading one twice changes nothing.
    if (!days.empty()) {
      const auto [from, to] = utc_range(days.begin()->first, days.rbegin()->first);
      intervals_where(
          "SELECT meter_key, end_unix, source, collected_at_ms FROM intervals "
          "WHERE end_unix > ?1 AND end_unix <= ?2 AND status = 3 AND channel = 1",
          from, to, cached);
    }
    for (auto day = first_day; day <= last_day; ++day) days.at(day).last_used = ++use_counter;
  }

  void evict(std::int64_t first_day, std::int64_t last_day) {
    while (days.size() > static_cast<std::size_t>(max_cached_days)) {
      auto victim = days.end();
      for (auto it = days.begin(); it != days.end(); ++it) {
        if (it->first >= first_day && it->first <= last_day) continue;
        if (victim == days.end() || it->second.last_used < victim->second.last_used) victim = it;
      }
      if (victim == days.end()) break;  // every held day is part of this request
      days.erase(victim);
    }
  }

  std::optional<LastFailure> failure_detail(std::int64_t attempt_id) {
    if (const auto it = failure_details.find(attempt_id); it != failure_details.end()) return it->second;
    auto q = db.query("SELECT boundary, started_at_ms, outcome, category, detail FROM attempt_log WHERE attempt_id = ?1");
    q->bind(1, attempt_id);
    if (!q->step()) return std::nullopt;  // removed by retention meanwhile
    LastFailure f{UtcSeconds{std::chrono::seconds{q->column_int64(0)}},
                  UtcMillis{std::chrono::milliseconds{q->column_int64(1)}}, q->column_text(2), q->column_text(3),
                  q->column_text(4)};
    if (failure_details.size() > 100'000) failure_details.clear();
    failure_details.emplace(attempt_id, f);
    return f;
  }

  // The KPI row of meter `index` on `day`, counting slots ending at or before `as_of`.
  MeterDay row(std::uint32_t index, std::int64_t day, std::int64_t as_of) {
    const auto& m = meters[index];
    auto& state = days.at(day);
    MeterDay r;
    r.day = LocalDay{std::chrono::days{day}};
    r.meter_id = m.id;
    r.gateway = m.channel;
    r.model = m.model;
    r.protocol = m.protocol;
    r.tags = m.tags;
    r.utc_offset_minutes = static_cast<int>(m.offset_s / 60);
    const auto start = m.day_start(day);
    const auto end = std::min(start + seconds_per_day, as_of);
    const std::int64_t limit = end > start ? std::min((end - start) / m.interval_s, m.slots) : 0;
    r.expected = limit;
    if (limit == 0) return r;
    const auto* measured = bitset(state, m, set_measured);
    const auto* ok_bits = bitset(state, m, set_boundary_ok);
    const auto* first = bitset(state, m, set_first_ok);
    r.after_backfill = popcount_prefix(measured, m.words, limit);
    r.after_retries = popcount_prefix(bitset(state, m, set_no_backfill), m.words, limit);
    r.on_time = popcount_prefix(bitset(state, m, set_on_time), m.words, limit);
    for (std::size_t w = 0; w < m.words; ++w) {
      // Interval k needs boundary k (its start) and boundary k + 1 (its end) ok at the first attempt.
      const std::uint64_t next = w + 1 < m.words ? first[w + 1] : 0;
      const std::uint64_t both = first[w] & ((first[w] >> 1) | (next << 63));
      const std::int64_t left = limit - static_cast<std::int64_t>(w) * 64;
      if (left <= 0) break;
      const std::uint64_t mask = left >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << left) - 1;
      r.first_attempt += std::popcount(both & measured[w] & mask);
    }
    r.boundaries_ok = popcount_prefix(ok_bits, m.words, limit);
    r.attempts = r.boundaries_ok;
    std::int64_t newest_failure = 0;
    std::map<std::uint16_t, std::int64_t> failed;
    if (const auto it = state.notes.find(index); it != state.notes.end()) {
      for (const auto& note : it->second) {
        if (note.slot >= limit) continue;
        const bool ok = test_bit(ok_bits, note.slot);
        r.attempts += note.attempts - (ok ? 1 : 0);
        newest_failure = std::max(newest_failure, note.last_failed_id);
        if (!ok && note.reason != no_reason) ++failed[note.reason];
      }
    }
    for (const auto& [reason, n] : failed) {
      const auto& [outcome, category] = reasons[reason];
      (category == "transport" ? r.boundaries_failed_transport : r.boundaries_failed_meter) += n;
      r.reasons.push_back(FailureReason{outcome, category, n});
    }
    r.boundaries_attempted = r.boundaries_ok + r.boundaries_failed_transport + r.boundaries_failed_meter;
    std::stable_sort(r.reasons.begin(), r.reasons.end(),
                     [](const FailureReason& a, const FailureReason& b) { return a.boundaries > b.boundaries; });
    if (newest_failure > 0) r.last_failure = failure_detail(newest_failure);
    return r;
  }
};

KpiQueries::KpiQueries(const std::filesystem::path& database, int busy_timeout_ms, int max_cached_days)
    : impl_(std::make_unique<Impl>(database, busy_timeout_ms, max_cached_days)) {}
KpiQueries::~KpiQueries() = default;

std::size_t KpiQueries::cached_days() const { return impl_->days.size(); }

std::vector<MeterDay> KpiQueries::meter_days(LocalDay first_day, int day_count, UtcSeconds as_of,
                                             const KpiOptions& options) {
  std::vector<MeterDay> out;
  if (day_count <= 0) return out;
  auto& impl = *impl_;
  const auto first = day_number(first_day);
  const auto last = first + day_count - 1;
  impl.refresh(first, last, options.deadline_minutes);
  const auto limit = unix_s(as_of - std::chrono::seconds{options.grace_seconds});
  out.reserve(impl.meters.size() * static_cast<std::size_t>(day_count));
  for (auto day = first; day <= last; ++day) {  // day-major: one day's fleet together, by meter_id
    for (std::uint32_t i = 0; i < impl.meters.size(); ++i) out.push_back(impl.row(i, day, limit));
  }
  impl.evict(first, last);
  return out;
}

std::vector<std::pair<std::string, int>> KpiQueries::consecutive_failed_days(LocalDay last_day, int max_days,
                                                                             UtcSeconds as_of,
                                                                             const KpiOptions& options) {
  max_days = std::max(max_days, 1);
  const auto days = meter_days(last_day - std::chrono::days{max_days - 1}, max_days, as_of, options);
  std::map<std::string, std::pair<int, bool>> streak;  // meter -> (count, still counting)
  for (auto it = days.rbegin(); it != days.rend(); ++it) {  // newest day first
    auto& [count, counting] = streak.try_emplace(it->meter_id, 0, true).first->second;
    if (!counting) continue;
    // A day the head-end made no attempt for this meter (daemon down, meter not yet installed)
    // says nothing about the meter: it ends the streak.
    if (it->expected > 0 && !it->complete() && it->boundaries_attempted > 0) {
      ++count;
    } else {
      counting = false;
    }
  }
  std::vector<std::pair<std::string, int>> result;
  for (const auto& [meter, state] : streak) {
    if (state.first > 0) result.emplace_back(meter, state.first);
  }
  return result;
}

// Walks the boundaries newest first through attempt_log_by_boundary (boundary, meter_key): one
// seek for the next older boundary and one for this meter's rows at it, so the cost is two
// look-ups per boundary with attempts in the window, whatever the fleet size. (Schema 5 dropped
// the meter-major index this used to read: it put every attempt on its own leaf page.)
std::vector<AttemptRecord> KpiQueries::recent_attempts(std::string_view meter_id, UtcSeconds since, std::size_t limit) {
  std::vector<AttemptRecord> out;
  auto& key_query = impl_->db.prepare("SELECT meter_key FROM meters WHERE meter_id = ?1");
  key_query.bind(1, meter_id);
  const bool known = key_query.step();
  const std::int64_t meter_key = known ? key_query.column_int64(0) : 0;
  key_query.reset();
  if (!known) return out;
  auto& older = impl_->db.prepare("SELECT max(boundary) FROM attempt_log WHERE boundary < ?1 AND boundary > ?2");
  auto& at = impl_->db.prepare(
      "SELECT c.channel_key, a.boundary, a.started_at_ms, a.latency_ms, a.attempt, a.outcome, a.category, a.detail, "
      "a.source FROM attempt_log a JOIN attempt_channels c ON c.channel_id = a.channel_id "
      "WHERE a.boundary = ?1 AND a.meter_key = ?2 ORDER BY a.attempt_id DESC");
  std::int64_t before = std::numeric_limits<std::int64_t>::max();
  while (out.size() < limit) {
    older.bind(1, before).bind(2, unix_s(since));
    const bool found = older.step() && !older.column_is_null(0);
    const std::int64_t boundary = found ? older.column_int64(0) : 0;
    older.reset();
    if (!found) break;
    at.bind(1, boundary).bind(2, meter_key);
    while (out.size() < limit && at.step()) {
      AttemptRecord a;
      a.meter_id = std::string(meter_id);
      a.channel = at.column_text(0);
      a.boundary = UtcSeconds{std::chrono::seconds{at.column_int64(1)}};
      a.started_at = UtcMillis{std::chrono::milliseconds{at.column_int64(2)}};
      a.latency_ms = static_cast<std::int32_t>(at.column_int64(3));
      a.attempt = static_cast<int>(at.column_int64(4));
      a.outcome = intern_attempt_text(at.column_text(5));
      a.category = intern_attempt_text(at.column_text(6));
      a.detail = at.column_text(7);
      a.source = static_cast<ReadSource>(at.column_int64(8));
      out.push_back(std::move(a));
    }
    at.reset();
    before = boundary;
  }
  return out;
}

std::vector<QualityCodeCount> KpiQueries::quality_code_counts(UtcSeconds from, UtcSeconds to) {
  auto& q = impl_->db.prepare(
      // Served by the partial index intervals_flagged_by_end: only flagged rows are visited.
      "SELECT quality_codes, count(*) FROM intervals "
      "WHERE end_unix > ?1 AND end_unix <= ?2 AND quality_codes <> '' AND superseded = 0 GROUP BY quality_codes");
  q.bind(1, unix_s(from)).bind(2, unix_s(to));
  std::map<std::string, std::int64_t> counts;
  while (q.step()) {
    for (auto& code : split_quality_codes(q.column_text(0))) counts[std::move(code)] += q.column_int64(1);
  }
  q.reset();
  std::vector<QualityCodeCount> out;
  for (auto& [code, n] : counts) out.push_back(QualityCodeCount{code, n});
  return out;
}

std::optional<UtcMillis> KpiQueries::newest_interval_collected_at() {
  // The newest outbox mark holds the running maximum of every published interval's collected_at.
  const auto ms = impl_->db.query_int64(
      "SELECT collected_through_ms FROM outbox_marks ORDER BY first_sequence DESC LIMIT 1");
  if (!ms) return std::nullopt;
  return UtcMillis{std::chrono::milliseconds{*ms}};
}

}  // namespace ami::storage
