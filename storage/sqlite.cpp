#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include <climits>
#include <mutex>

namespace ami::storage {

SqliteError::SqliteError(int code, const std::string& message, std::string sql)
    : std::runtime_error(sql.empty() ? "sqlite: " + message
                                     : "sqlite: " + message + " (in: " + sql + ")"),
      code_(code),
      sql_(std::move(sql)) {}

// ---- Statement ----

Statement::Statement(sqlite3* db, std::string sql) : db_(db), sql_(std::move(sql)) {
  if (sql_.size() > static_cast<std::size_t>(INT_MAX)) {
    throw SqliteError(SQLITE_TOOBIG, "statement too long", sql_.substr(0, 80));
  }
  const int rc = sqlite3_prepare_v3(db_, sql_.c_str(), static_cast<int>(sql_.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(rc);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::fail(int code) const {
  throw SqliteError(code, sqlite3_errmsg(db_), sql_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) fail(SQLITE_TOOBIG);
  const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  fail(rc);
}

int Statement::run() {
  while (step()) {
  }
  const int changes = sqlite3_changes(db_);
  sqlite3_reset(stmt_);  // callers rebind every parameter, so bindings need no clearing
  return changes;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<std::int64_t> Statement::column_optional_int64(int column) const {
  if (column_is_null(column)) return std::nullopt;
  return column_int64(column);
}

// ---- Database ----

namespace {

// Memory statistics take a global mutex on every SQLite allocation; the store does not use them.
// Only possible before SQLite initializes: if something else initialized it first, keep the default.
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Database::Database(const std::filesystem::path& path, bool create, int busy_timeout_ms)
    : path_(path) {
  configure_sqlite_once();
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(rc, "cannot open " + path.string() + ": " + message, "");
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Database::~Database() {
  statements_.clear();  // finalize before closing
  sqlite3_close_v2(db_);
}

void Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string error = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw SqliteError(rc, error, text);
  }
}

Statement& Database::prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  } else {
    it->second->reset();
  }
  return *it->second;
}

std::optional<std::int64_t> Database::query_int64(const std::string& sql) {
  auto& statement = prepare(sql);
  std::optional<std::int64_t> value;
  if (statement.step()) value = statement.column_optional_int64(0);
  statement.reset();
  return value;
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

// ---- Transaction ----

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (const SqliteError&) {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ami::storage
