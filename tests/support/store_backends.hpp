// The store backends the contract tests run against (store_contract_test.cpp,
// limit_store_contract_test.cpp): SQLite in a temporary file, PostgreSQL in a database of the
// test's own (skipped without AUTHD_TEST_PG_URI).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "authd/store/store_backend.hpp"

#include "support/pg_test_support.hpp"
#include "support/temp_dir.hpp"

namespace authd_test_support {

// SQLite: a file in a fresh directory under /tmp, removed with everything in it.
class sqlite_backend {
  public:
    static std::optional<std::string> skip_reason() { return std::nullopt; }

    std::unique_ptr<authd::store_backend> open() const {
        return authd::open_store("sqlite:" + dir_.path() + "/users.db");
    }

    // The rows of a table of the brute-force counters' file (limit_counters, known_addresses).
    long long counter_rows(const std::string& table) const {
        sqlite3* db = nullptr;
        const std::string path = dir_.path() + "/users.db.limits";
        long long n = -1;
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_stmt* st = nullptr;
            if (sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &st,
                                   nullptr) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW) {
                n = sqlite3_column_int64(st, 0);
            }
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
        if (n < 0) {
            throw std::runtime_error("cannot count the rows of " + table + " in " + path);
        }
        return n;
    }

  private:
    authd_test_support::temp_dir dir_;
};

// PostgreSQL: a database of its own on the AUTHD_TEST_PG_URI server, dropped at the end, as the
// PgStore tests get.
class postgres_backend {
  public:
    static std::optional<std::string> skip_reason() {
        if (!authd_pg_test::base_uri()) {
            return authd_pg_test::skip_message;
        }
        return std::nullopt;
    }

    postgres_backend()
        : address_(authd_pg_test::server_address::of(*authd_pg_test::base_uri())),
          db_(*authd_pg_test::base_uri()) {}

    std::unique_ptr<authd::store_backend> open() const {
        return authd::open_store(address_.uri(db_.name()));
    }

    long long counter_rows(const std::string& table) const {
        authd_pg_test::raw_pg db(address_.uri(db_.name()));
        return std::stoll(db.column("SELECT count(*) FROM " + table).at(0));
    }

  private:
    authd_pg_test::server_address address_;
    authd_pg_test::test_database db_;
};

// The store's user names, in its order.
inline std::vector<std::string> names(authd::store_backend& store) {
    std::vector<std::string> out;
    store.users().for_each_name([&](std::string_view name) { out.emplace_back(name); });
    return out;
}

using revocations = std::vector<std::pair<std::string, std::int64_t>>;

// The store's revocations in jti order (the store promises no order).
inline revocations revoked(authd::store_backend& store, std::int64_t now) {
    auto out = store.revocations().revoked_tokens(now);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace authd_test_support
