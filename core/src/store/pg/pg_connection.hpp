// libpq plumbing shared by the PostgreSQL store and its change feed, private to core/: naming a
// server without its password, opening connections with bounded waits, running statements with a
// deadline, and telling "the server is unreachable" (store_unavailable) from other failures
// (store_error).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <libpq-fe.h>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace authd::detail {

using pg_clock = std::chrono::steady_clock;

// A server to connect to, by libpq connection URI. The URI may hold a password (user:password@
// or ?password=): label() and scrub() keep it out of every message and log line.
class pg_target {
  public:
    // Throws store_error when uri is not a valid libpq connection URI.
    explicit pg_target(std::string uri);

    const std::string& uri() const noexcept { return uri_; }
    // The URI with its password replaced by ***, for messages.
    const std::string& label() const noexcept { return label_; }
    // text with every occurrence of the URI's password replaced by ***.
    std::string scrub(std::string_view text) const;

    // store_error / store_unavailable: "LABEL: what" (scrubbed).
    [[noreturn]] void fail(std::string_view what) const;
    [[noreturn]] void unavailable(std::string_view what) const;

  private:
    void normalize_secrets();

    std::string uri_;
    std::vector<std::string> secrets_;  // longest first; declared before label_, which fills it
    std::string label_;
};

struct pg_conn_closer {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using pg_conn = std::unique_ptr<PGconn, pg_conn_closer>;

struct pg_result_clearer {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using pg_result = std::unique_ptr<PGresult, pg_result_clearer>;

// Opens a connection (blocking; connect_timeout bounds it, 2 s unless the URI says otherwise).
// Throws store_unavailable when the server cannot be reached or refuses the connection: from
// here, a server that is down and one that rejects the credentials look alike to libpq, and both
// may be fixed without restarting authd.
pg_conn pg_connect(const pg_target& target);

// True when conn is usable for another statement: connected and outside any transaction.
bool pg_idle(PGconn* conn) noexcept;

// How long one statement of the store may take before its connection is given up for lost (the
// server hung, or the network silently dropped it): a hash worker must not wait for minutes.
inline constexpr std::chrono::seconds pg_statement_timeout{3};

// A statement to run: prepared (PQprepare'd once per connection under name) or one-off (name
// nullptr; without parameters, sql may hold several statements).
struct pg_statement {
    const char* name;  // nullptr: one-off
    const char* sql;
    int params;             // how many $n, all text
    std::string_view what;  // for messages: "cannot look up a user"
};

// Runs a statement with text parameters (bound, never spliced: sent in binary format, so no
// escaping and no NUL terminator is involved) and returns its only result, which has status
// expected. Throws store_unavailable when the connection is lost or the deadline passes,
// store_error on any other failure.
pg_result pg_run(const pg_target& target, PGconn* conn, const pg_statement& statement,
                 std::initializer_list<std::string_view> params, ExecStatusType expected,
                 pg_clock::duration timeout = pg_statement_timeout);

// Runs a prepared statement with text parameters (as pg_run) in single-row mode: calls
// row(result) for each row as it arrives, so that a large table is never held in memory whole.
void pg_run_rows(const pg_target& target, PGconn* conn, const pg_statement& statement,
                 std::initializer_list<std::string_view> params,
                 const std::function<void(const PGresult&)>& row);

// PQprepare of statement on conn, its parameters all of type text.
void pg_prepare(const pg_target& target, PGconn* conn, const pg_statement& statement);

// A transaction's statements, one-off.
inline constexpr pg_statement pg_begin_sql{nullptr, "BEGIN", 0, "cannot start a transaction"};
inline constexpr pg_statement pg_commit_sql{nullptr, "COMMIT", 0, "cannot commit"};

// Rolls back the transaction in progress, best effort (the error at hand is the one to report): a
// connection left in the transaction, or still busy with a statement that timed out, is closed
// rather than pooled.
void pg_roll_back(const pg_target& target, PGconn* conn) noexcept;

// The text of row 0, column 0 of a result ("" for SQL NULL).
std::string_view pg_text(const PGresult& result, int row = 0, int column = 0);

// Waits until conn's socket has input, up to deadline. False on timeout.
bool pg_wait_readable(PGconn* conn, pg_clock::time_point deadline);

// The wait before the next attempt to reach a server that was unreachable: 100 ms, doubling to
// 2 s. Short enough that authd serves again within a few seconds of the server's return, long
// enough that a dead server costs one failed attempt per 2 s, not one per login.
class pg_backoff {
  public:
    static constexpr std::chrono::milliseconds first{100};
    static constexpr std::chrono::milliseconds longest{2000};

    // The wait to use now; the following one is twice as long, up to longest.
    pg_clock::duration next() noexcept {
        const auto delay = delay_;
        delay_ = std::min<pg_clock::duration>(delay_ * 2, longest);
        return delay;
    }
    void reset() noexcept { delay_ = first; }

  private:
    pg_clock::duration delay_ = first;
};

}  // namespace authd::detail
