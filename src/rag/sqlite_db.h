// SqliteDb and Statement: a thin RAII layer over the SQLite C API for the knowledge base; every
// failure becomes an slm::Error naming the database file and SQLite's own message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace slm::rag {

class SqliteDb;

class Statement {
public:
    Statement(SqliteDb& db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Binds are 1-based, as in SQL's ?1, ?2.
    Statement& bind(int index, int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::span<const float> values);
    // Advances to the next row; false when done. Throws on error.
    bool step();
    void run();  // steps to completion (INSERT, UPDATE, DELETE), then resets
    void reset();

    int64_t column_int(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;
    std::span<const float> column_floats(int column) const;  // valid until the next step()

private:
    SqliteDb& db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
public:
    enum class Mode { read, write };  // write creates the file when it is missing
    SqliteDb(const std::string& path, Mode mode);
    ~SqliteDb();
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    void exec(std::string_view sql);                           // one or more statements without results
    [[noreturn]] void fail_with(std::string_view what) const;  // throws with SQLite's last message
    int64_t last_insert_id() const;
    const std::string& path() const { return path_; }
    sqlite3* handle() const { return db_; }

private:
    std::string path_;
    sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE .. COMMIT; rolled back when destroyed uncommitted (an exception on the way).
class Transaction {
public:
    explicit Transaction(SqliteDb& db);
    ~Transaction();
    void commit();

private:
    SqliteDb& db_;
    bool done_ = false;
};

}  // namespace slm::rag
