// Thin RAII wrapper over the SQLite C API: a connection, cached prepared statements, transactions.
//
// Ownership/threads: a Database owns one sqlite3 connection and every Statement prepared on it.
// One thread at a time per Database (SQLite is built serialized, but our statements carry state).
// Statements are owned by their Database's cache; a Statement& stays valid until the Database dies.
// Errors: every failure throws SqliteError carrying the SQLite message, the result code and the SQL
// text of the statement. This is the only place in the storage layer that turns SQLite codes into
// exceptions; the store classes let them propagate (see their headers for what they promise).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace ami::storage {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message, std::string sql);
  [[nodiscard]] int code() const { return code_; }
  [[nodiscard]] const std::string& sql() const { return sql_; }

 private:
  int code_;
  std::string sql_;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binding: 1-based parameter index, as in SQLite.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::string_view text);  // copied (SQLITE_TRANSIENT)
  Statement& bind(int index, const char* text) { return bind(index, std::string_view{text}); }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view{text}); }
  Statement& bind(int index, std::optional<std::int64_t> value);  // nullopt -> NULL
  Statement& bind_null(int index);

  // Steps once: true when a row is available, false when done. Throws on error.
  bool step();
  // Steps to completion (for INSERT/UPDATE/DELETE), then resets. Returns sqlite3_changes().
  int run();
  // Resets the statement and clears bindings so it can be reused.
  void reset();

  // Column access for the current row (0-based column index, as in SQLite).
  [[nodiscard]] std::int64_t column_int64(int column) const;
  [[nodiscard]] std::string column_text(int column) const;
  [[nodiscard]] bool column_is_null(int column) const;
  [[nodiscard]] std::optional<std::int64_t> column_optional_int64(int column) const;

  [[nodiscard]] const std::string& sql() const { return sql_; }

 private:
  [[noreturn]] void fail(int code) const;
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

// Resets a statement when the scope ends, so a SELECT never keeps its read snapshot (and the WAL)
// pinned after the caller is done with it: `auto q = db.query(sql); q->bind(1, x); while (q->step())`.
class StatementGuard {
 public:
  explicit StatementGuard(Statement& statement) : statement_(statement) {}
  ~StatementGuard() { statement_.reset(); }
  StatementGuard(const StatementGuard&) = delete;
  StatementGuard& operator=(const StatementGuard&) = delete;
  Statement* operator->() { return &statement_; }
  Statement& operator*() { return statement_; }

 private:
  Statement& statement_;
};

class Database {
 public:
  // Opens (creating when `create` is true) the file at `path`. Sets the busy timeout.
  Database(const std::filesystem::path& path, bool create, int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (DDL, PRAGMA ... = ...).
  void exec(std::string_view sql);
  // A cached prepared statement, reset and with bindings cleared, ready to bind.
  Statement& prepare(const std::string& sql);
  // prepare() wrapped in a guard that resets the statement at scope end (use for queries).
  StatementGuard query(const std::string& sql) { return StatementGuard(prepare(sql)); }
  // A single integer from a one-row query (e.g. PRAGMA user_version); nullopt on no row / NULL.
  std::optional<std::int64_t> query_int64(const std::string& sql);

  [[nodiscard]] std::int64_t last_insert_rowid() const;
  [[nodiscard]] sqlite3* handle() const { return db_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

// BEGIN IMMEDIATE on construction (takes the write lock up front, so a busy database waits in
// the busy handler instead of failing at the first write); ROLLBACK in the destructor unless
// commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace ami::storage
