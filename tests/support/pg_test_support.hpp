// What the unit tests of the PostgreSQL store share (pg_store_test.cpp, store_contract_test.cpp):
// the server scripts/test.sh starts (AUTHD_TEST_PG_URI), the message to skip with without it, a
// database of each test's own on it, and a libpq connection to look behind the store's back.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <libpq-fe.h>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/cluster_processes.hpp"

namespace authd_pg_test {

inline constexpr const char* skip_message =
    "AUTHD_TEST_PG_URI is not set: run scripts/test.sh, or start a cluster with "
    "scripts/pg-cluster.sh start DIR and export AUTHD_TEST_PG_URI=$(cat DIR/uri)";

// The test cluster's URI (an administrator's, on its database authd_test), or nullopt when the
// PostgreSQL tests are to be skipped.
inline std::optional<std::string> base_uri() {
    const char* uri = std::getenv("AUTHD_TEST_PG_URI");
    if (uri == nullptr || *uri == '\0') {
        return std::nullopt;
    }
    return uri;
}

// A libpq connection of the test's own, to set up and inspect behind the store's back.
class raw_pg {
  public:
    explicit raw_pg(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            const std::string message = PQerrorMessage(conn_);
            PQfinish(conn_);
            throw std::runtime_error("cannot connect to " + uri + ": " + message);
        }
    }
    ~raw_pg() { PQfinish(conn_); }
    raw_pg(const raw_pg&) = delete;
    raw_pg& operator=(const raw_pg&) = delete;

    void exec(const std::string& sql) { column(sql); }

    // Every row's first column as text.
    std::vector<std::string> column(const std::string& sql) {
        PGresult* result = PQexec(conn_, sql.c_str());
        const auto status = PQresultStatus(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            const std::string message = PQresultErrorMessage(result);
            PQclear(result);
            throw std::runtime_error(sql + ": " + message);
        }
        std::vector<std::string> rows;
        rows.reserve(static_cast<std::size_t>(PQntuples(result)));
        for (int i = 0; i < PQntuples(result); ++i) {
            rows.emplace_back(PQgetvalue(result, i, 0));
        }
        PQclear(result);
        return rows;
    }

  private:
    PGconn* conn_;
};

// The parts of AUTHD_TEST_PG_URI, to build URIs for other databases and roles.
struct server_address {
    std::string host;
    std::string port;

    static server_address of(const std::string& uri) {
        char* error = nullptr;
        PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
        if (options == nullptr) {
            const std::string message = error != nullptr ? error : "out of memory";
            PQfreemem(error);
            throw std::runtime_error("bad AUTHD_TEST_PG_URI: " + message);
        }
        server_address address;
        for (auto* option = options; option->keyword != nullptr; ++option) {
            const std::string key = option->keyword;
            const std::string value = option->val != nullptr ? option->val : "";
            if (key == "host") {
                address.host = value;
            } else if (key == "port") {
                address.port = value;
            }
        }
        PQconninfoFree(options);
        return address;
    }

    std::string uri(const std::string& database, const std::string& user = "authd",
                    const std::string& password = "") const {
        return "postgresql://" + user + (password.empty() ? "" : ":" + password) + "@" + host +
               ":" + port + "/" + database;
    }
};

inline std::string random_suffix() {
    std::random_device random;
    std::uniform_int_distribution<unsigned long long> dist;
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", dist(random));
    return text;
}

// A fresh database, dropped (with whatever is still connected to it) at the end.
class test_database {
  public:
    explicit test_database(const std::string& admin_uri)
        : admin_(admin_uri), name_("t_" + random_suffix()) {
        admin_.exec("CREATE DATABASE " + name_);
    }
    ~test_database() {
        try {
            admin_.exec("DROP DATABASE " + name_ + " WITH (FORCE)");
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    }
    test_database(const test_database&) = delete;
    test_database& operator=(const test_database&) = delete;

    const std::string& name() const noexcept { return name_; }

  private:
    raw_pg admin_;
    std::string name_;
};

}  // namespace authd_pg_test
