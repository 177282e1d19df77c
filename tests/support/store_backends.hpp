// The store backends the contract tests run against (store_contract_test.cpp,
// limit_store_contract_test.cpp): SQLite in a temporary file, PostgreSQL in a database of the
// test's own (skipped without AUTHD_TEST_PG_URI).
#pragma once

#include <memory>
#include <optional>
#include <string>

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

  private:
    authd_pg_test::server_address address_;
    authd_pg_test::test_database db_;
};

}  // namespace authd_test_support
