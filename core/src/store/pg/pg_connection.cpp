// libpq plumbing for the PostgreSQL store (pg_connection.hpp).
#include "pg_connection.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <poll.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authd/store/user_store.hpp"

namespace authd::detail {

namespace {

constexpr std::string_view mask = "***";

// The OID of PostgreSQL's text type (catalog/pg_type.h, which libpq-dev does not ship).
constexpr Oid text_oid = 25;
constexpr std::size_t max_params = 12;  // the most any statement of the store takes

// Connection defaults, given before the URI so that the URI may override each of them. Bounded
// waits everywhere: a connection attempt, unacknowledged data (tcp_user_timeout, in ms), and
// a silent peer (TCP keepalives after 5 s idle, 2 probes 2 s apart).
constexpr std::array<std::pair<const char*, const char*>, 6> connect_defaults{{
    {"fallback_application_name", "authd"},
    {"connect_timeout", "2"},
    {"keepalives_idle", "5"},
    {"keepalives_interval", "2"},
    {"keepalives_count", "2"},
    {"tcp_user_timeout", "5000"},
}};

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// %XX decoding as libpq does it for URIs; a malformed escape is kept as is.
std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int high = hex_value(text[i + 1]);
            const int low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out += static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// libpq prints the server's notices (and a FATAL that ends an idle connection) on standard error
// by default, which would break authd's one-JSON-object-per-line log. What matters of them
// reaches the store as an error anyway.
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

bool is_secret_parameter(std::string_view key) {
    const std::string name = percent_decode(key);
    return name == "password" || name == "sslpassword";
}

// Masks the values of password parameters in a query string (a=b&c=d), collecting them.
std::string redact_query(std::string_view query, std::vector<std::string>& secrets) {
    std::string out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && is_secret_parameter(pair.substr(0, eq))) {
            secrets.emplace_back(pair.substr(eq + 1));
            out.append(pair.substr(0, eq + 1)).append(mask);
        } else {
            out.append(pair);
        }
        if (amp == std::string_view::npos) {
            break;
        }
        out += '&';
        query.remove_prefix(amp + 1);
    }
    return out;
}

// postgresql://user:secret@host/db?password=secret -> postgresql://user:***@host/db?password=***
// Works on any text, valid URI or not, since it also names URIs that libpq rejects. The user
// information ends at the last '@' (libpq stops at the first '@' or '/'), so that a password with
// a stray '@', '/' or '?' is hidden whole.
std::string redact(std::string_view uri, std::vector<std::string>& secrets) {
    const auto scheme_end = uri.find("://");
    if (scheme_end == std::string_view::npos) {
        return std::string(mask);
    }
    std::string out(uri.substr(0, scheme_end + 3));
    auto rest = uri.substr(scheme_end + 3);
    const auto at = rest.rfind('@');
    if (at != std::string_view::npos) {
        const auto user_info = rest.substr(0, at);
        const auto colon = user_info.find(':');
        if (colon != std::string_view::npos) {
            secrets.emplace_back(user_info.substr(colon + 1));
            out.append(user_info.substr(0, colon + 1)).append(mask);
        } else {
            out.append(user_info);
        }
        rest.remove_prefix(at);
    }
    const auto question = rest.find('?');
    out.append(rest.substr(0, question));
    if (question != std::string_view::npos) {
        out += '?';
        out += redact_query(rest.substr(question + 1), secrets);
    }
    return out;
}

struct options_freer {
    void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};

struct memory_freer {
    void operator()(char* text) const noexcept { PQfreemem(text); }
};

// libpq's messages end with a newline and may span lines (one per host tried, a hint indented
// with a tab): one line here, lines joined with "; " and runs of blanks made one space.
std::string one_line(std::string_view message) {
    std::string out;
    std::string_view gap;
    for (const char c : message) {
        if (c == '\n') {
            gap = "; ";
        } else if (c == ' ' || c == '\t' || c == '\r') {
            gap = gap.empty() ? " " : gap;
        } else {
            out.append(out.empty() ? std::string_view() : gap);
            out += c;
            gap = {};
        }
    }
    return out;
}

// Server errors that say "not now" rather than "never": the request may work once the server or
// the network is back (authd answers 503, not 500).
bool transient_sqlstate(std::string_view state) {
    return state.starts_with("08")     // connection exception
           || state.starts_with("53")  // insufficient resources: too many connections, disk full
           || state == "57P01"         // admin shutdown (pg_ctl stop -m fast)
           || state == "57P02"         // crash shutdown
           || state == "57P03"         // cannot connect now: starting up, shutting down
           || state == "25006"         // read-only transaction: a standby, during a failover
           || state == "40001"         // serialization failure: the same statement may pass now
           || state == "40P01";        // deadlock detected: likewise
}

[[noreturn]] void fail_statement(const pg_target& target, PGconn* conn, const PGresult* result,
                                 std::string_view what) {
    const char* message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
    const std::string text = std::string(what) + ": " + one_line(message);
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    if (PQstatus(conn) != CONNECTION_OK || (state != nullptr && transient_sqlstate(state))) {
        target.unavailable(text);
    }
    target.fail(text);
}

// Text parameters in binary format: the bytes as they are, with their length.
class text_params {
  public:
    text_params(const pg_target& target, const pg_statement& statement,
                std::initializer_list<std::string_view> params) {
        if (params.size() != static_cast<std::size_t>(statement.params) ||
            params.size() > max_params) {
            target.fail(std::string(statement.what) + ": wrong number of parameters");
        }
        for (const auto param : params) {
            // A null pointer would bind SQL NULL, not an empty string.
            values_[count_] = param.data() != nullptr ? param.data() : "";
            lengths_[count_] = static_cast<int>(param.size());
            formats_[count_] = 1;
            ++count_;
        }
    }

    int count() const noexcept { return count_; }
    const char* const* values() const noexcept { return values_.data(); }
    const int* lengths() const noexcept { return lengths_.data(); }
    const int* formats() const noexcept { return formats_.data(); }

  private:
    std::array<const char*, max_params> values_{};
    std::array<int, max_params> lengths_{};
    std::array<int, max_params> formats_{};
    int count_ = 0;
};

constexpr auto text_types = [] {
    std::array<Oid, max_params> types{};
    types.fill(text_oid);
    return types;
}();

bool send(PGconn* conn, const pg_statement& statement, const text_params& params) {
    if (statement.name != nullptr) {
        return PQsendQueryPrepared(conn, statement.name, params.count(), params.values(),
                                   params.lengths(), params.formats(), 0) == 1;
    }
    if (params.count() == 0) {
        return PQsendQuery(conn, statement.sql) == 1;  // may hold several statements
    }
    return PQsendQueryParams(conn, statement.sql, params.count(), text_types.data(),
                             params.values(), params.lengths(), params.formats(), 0) == 1;
}

// The next result of the statement in flight, nullptr when it is done. Gives the connection up
// as lost when the server does not answer by deadline: it stays busy, so it is never reused.
pg_result next_result(const pg_target& target, PGconn* conn, pg_clock::time_point deadline,
                      std::string_view what) {
    while (PQisBusy(conn) == 1) {
        if (!pg_wait_readable(conn, deadline)) {
            target.unavailable(std::string(what) + ": no answer from the server in time");
        }
        if (PQconsumeInput(conn) != 1) {
            fail_statement(target, conn, nullptr, what);
        }
    }
    return pg_result(PQgetResult(conn));
}

bool is_error(ExecStatusType status) {
    return status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
           status == PGRES_NONFATAL_ERROR;
}

// Reads every result of the statement in flight; the first error wins, else the last result must
// have status expected.
pg_result collect(const pg_target& target, PGconn* conn, pg_clock::time_point deadline,
                  std::string_view what, ExecStatusType expected) {
    pg_result last;
    pg_result error;
    while (auto result = next_result(target, conn, deadline, what)) {
        if (is_error(PQresultStatus(result.get()))) {
            if (!error) {
                error = std::move(result);
            }
            continue;
        }
        last = std::move(result);
    }
    if (error || !last) {
        fail_statement(target, conn, error.get(), what);
    }
    if (PQresultStatus(last.get()) != expected) {
        target.fail(std::string(what) + ": unexpected result " +
                    PQresStatus(PQresultStatus(last.get())));
    }
    return last;
}

}  // namespace

pg_target::pg_target(std::string uri) : uri_(std::move(uri)), label_(redact(uri_, secrets_)) {
    // libpq would split such a password and quote its pieces in its messages.
    const bool unescaped = std::any_of(secrets_.begin(), secrets_.end(), [](const std::string& s) {
        return s.find_first_of("/?#@[]") != std::string::npos;
    });
    normalize_secrets();     // before the first message: the ones below may quote the URI
    label_ = scrub(label_);  // a password may show elsewhere too (?application_name=PASSWORD)
    if (unescaped) {
        fail("invalid connection URI: percent-encode the characters / ? # @ [ ] in a password");
    }
    char* raw_error = nullptr;
    const std::unique_ptr<PQconninfoOption, options_freer> options(
        PQconninfoParse(uri_.c_str(), &raw_error));
    const std::unique_ptr<char, memory_freer> error(raw_error);
    if (!options) {
        fail("invalid connection URI: " +
             (error ? one_line(error.get()) : std::string("out of memory")));
    }
    // libpq's own reading of the password, in case it differs from redact()'s.
    for (const auto* option = options.get(); option->keyword != nullptr; ++option) {
        if (option->val != nullptr && is_secret_parameter(option->keyword)) {
            secrets_.emplace_back(option->val);
        }
    }
    normalize_secrets();
    label_ = scrub(label_);
}

void pg_target::normalize_secrets() {
    const auto raw = secrets_;
    for (const auto& secret : raw) {
        secrets_.push_back(percent_decode(secret));
    }
    std::erase_if(secrets_, [](const std::string& s) { return s.empty(); });
    // Longest first, so that a secret containing another is masked whole.
    std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

std::string pg_target::scrub(std::string_view text) const {
    std::string out(text);
    for (const auto& secret : secrets_) {
        for (auto at = out.find(secret); at != std::string::npos;
             at = out.find(secret, at + mask.size())) {
            out.replace(at, secret.size(), mask);
        }
    }
    return out;
}

void pg_target::fail(std::string_view what) const {
    throw store_error(label_ + ": " + scrub(what));
}

void pg_target::unavailable(std::string_view what) const {
    throw store_unavailable(label_ + ": " + scrub(what));
}

pg_conn pg_connect(const pg_target& target) {
    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [key, value] : connect_defaults) {
        keys.push_back(key);
        values.push_back(value);
    }
    // expand_dbname: the URI's own parameters override the defaults above...
    keys.push_back("dbname");
    values.push_back(target.uri().c_str());
    // ...and the store's names are UTF-8 whatever the URI says.
    keys.push_back("client_encoding");
    values.push_back("UTF8");
    keys.push_back(nullptr);
    values.push_back(nullptr);
    pg_conn conn(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!conn) {
        target.unavailable("cannot connect: out of memory");
    }
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        target.unavailable("cannot connect: " + one_line(PQerrorMessage(conn.get())));
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    return conn;
}

bool pg_idle(PGconn* conn) noexcept {
    return conn != nullptr && PQstatus(conn) == CONNECTION_OK &&
           PQtransactionStatus(conn) == PQTRANS_IDLE;
}

pg_result pg_run(const pg_target& target, PGconn* conn, const pg_statement& statement,
                 std::initializer_list<std::string_view> params, ExecStatusType expected,
                 pg_clock::duration timeout) {
    const auto deadline = pg_clock::now() + timeout;
    const text_params bound(target, statement, params);
    if (!send(conn, statement, bound)) {
        fail_statement(target, conn, nullptr, statement.what);
    }
    return collect(target, conn, deadline, statement.what, expected);
}

void pg_run_rows(const pg_target& target, PGconn* conn, const pg_statement& statement,
                 std::initializer_list<std::string_view> params,
                 const std::function<void(const PGresult&)>& row) {
    const text_params bound(target, statement, params);
    if (!send(conn, statement, bound) || PQsetSingleRowMode(conn) != 1) {
        fail_statement(target, conn, nullptr, statement.what);
    }
    pg_result error;
    // The deadline is per row: a long listing is fine as long as rows keep coming.
    while (auto result =
               next_result(target, conn, pg_clock::now() + pg_statement_timeout, statement.what)) {
        const auto status = PQresultStatus(result.get());
        if (status == PGRES_SINGLE_TUPLE) {
            row(*result);
        } else if (is_error(status) && !error) {
            error = std::move(result);
        }
    }
    if (error) {
        fail_statement(target, conn, error.get(), statement.what);
    }
}

void pg_prepare(const pg_target& target, PGconn* conn, const pg_statement& statement) {
    if (statement.params < 0 || static_cast<std::size_t>(statement.params) > max_params) {
        target.fail(std::string(statement.what) + ": too many parameters to prepare");
    }
    const auto deadline = pg_clock::now() + pg_statement_timeout;
    if (PQsendPrepare(conn, statement.name, statement.sql, statement.params, text_types.data()) !=
        1) {
        fail_statement(target, conn, nullptr, statement.what);
    }
    collect(target, conn, deadline, statement.what, PGRES_COMMAND_OK);
}

std::string_view pg_text(const PGresult& result, int row, int column) {
    if (PQgetisnull(&result, row, column) == 1) {
        return {};
    }
    return {PQgetvalue(&result, row, column),
            static_cast<std::size_t>(PQgetlength(&result, row, column))};
}

bool pg_wait_readable(PGconn* conn, pg_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - pg_clock::now());
        pollfd fd{PQsocket(conn), POLLIN, 0};
        const int ready = ::poll(&fd, 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        // An error (a bad socket) is reported by the read that follows.
        return ready != 0;
    }
}

void pg_roll_back(const pg_target& target, PGconn* conn) noexcept {
    try {
        pg_run(target, conn, {nullptr, "ROLLBACK", 0, "cannot roll back"}, {}, PGRES_COMMAND_OK);
    } catch (...) {
    }
}

}  // namespace authd::detail
