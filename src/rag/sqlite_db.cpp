// SQLite wrapper: opens the knowledge base in WAL mode (readers never block the writer, and a
// killed writer leaves the last committed state), prepared statements with typed binds.
#include "rag/sqlite_db.h"

#include <slm/error.h>
#include <sqlite3.h>

namespace slm::rag {

SqliteDb::SqliteDb(const std::string& path, Mode mode) : path_(path) {
    const int flags = mode == Mode::write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        fail("{}: cannot open the knowledge base: {}", path, message);
    }
    // A reader may meet the writer's checkpoint; waiting a little beats failing.
    sqlite3_busy_timeout(db_, 10000);
    try {
        // The schema check below reads the header; a non-SQLite file fails here with a clear message.
        exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::exec(std::string_view sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
        const std::string text = message ? message : sqlite3_errmsg(db_);
        sqlite3_free(message);
        fail("{}: {}", path_, text);
    }
}

void SqliteDb::fail_with(std::string_view what) const { fail("{}: {}: {}", path_, what, sqlite3_errmsg(db_)); }

int64_t SqliteDb::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

Statement::Statement(SqliteDb& db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle(), sql.data(), int(sql.size()), &stmt_, nullptr) != SQLITE_OK)
        db.fail_with(fmt::format("preparing '{}'", sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_.fail_with("bind");
    return *this;
}

Statement& Statement::bind(int index, double value) {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) db_.fail_with("bind");
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    if (sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail_with("bind");
    return *this;
}

Statement& Statement::bind_blob(int index, std::span<const float> values) {
    if (sqlite3_bind_blob(stmt_, index, values.data(), int(values.size_bytes()), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail_with("bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string message = sqlite3_errmsg(db_.handle());
    sqlite3_reset(stmt_);
    fail("{}: {}", db_.path(), message);
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::column_text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text ? std::string(text, size_t(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::span<const float> Statement::column_floats(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const size_t bytes = size_t(sqlite3_column_bytes(stmt_, column));
    return {static_cast<const float*>(data), bytes / sizeof(float)};
}

Transaction::Transaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (done_) return;
    try {
        db_.exec("ROLLBACK");
    } catch (const Error&) {
        // Nothing more can be done in a destructor; SQLite rolls back on close anyway.
    }
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace slm::rag
