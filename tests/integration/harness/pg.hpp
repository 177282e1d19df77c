// The integration tests on PostgreSQL: a database of the test's own on the cluster scripts/test.sh
// starts (AUTHD_TEST_PG_URI; the tests skip without it), a cluster of the test's own for tests
// that stop it, and the PgTest fixture, which runs authctl on the database and starts authd nodes
// on it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "processes.hpp"

namespace authd_it {

// Why a PostgreSQL test skipped: AUTHD_TEST_PG_URI is not set.
extern const char* const pg_skip_message;

// $AUTHD_TEST_PG_URI, or nullopt when it is not set.
std::optional<std::string> pg_base_uri();

// The URI of another database (and user, password) on the server of uri, which has the form
// postgresql://USER@HOST:PORT/DATABASE (scripts/pg-cluster.sh).
std::string pg_uri_for(const std::string& uri, const std::string& database,
                       const std::string& user = "authd", const std::string& password = "");

// psql -c sql on uri; throws when it fails.
void psql(const std::string& uri, const std::string& sql);

// A fresh database on the server of admin_uri, dropped at the end.
class pg_database {
  public:
    explicit pg_database(std::string admin_uri);
    ~pg_database();
    pg_database(const pg_database&) = delete;
    pg_database& operator=(const pg_database&) = delete;

    std::string uri() const { return pg_uri_for(admin_uri_, name_); }

  private:
    std::string admin_uri_;
    std::string name_;
};

// The arguments of an authd node on store: an ephemeral port on 127.0.0.1, two I/O threads, two
// hash workers, the given hash cost; extra appended.
std::vector<std::string> pg_node_args(const std::string& store, const std::string& key_file,
                                      const std::vector<std::string>& extra = {},
                                      const hash_cost& cost = cheap_hash);

// A cluster of the test's own (scripts/pg-cluster.sh start DIR), for tests that stop the server;
// removed at the end.
class private_cluster {
  public:
    private_cluster();
    ~private_cluster();
    private_cluster(const private_cluster&) = delete;
    private_cluster& operator=(const private_cluster&) = delete;

    const std::string& uri() const noexcept { return uri_; }
    void stop() const { run("stop"); }
    void start() const { run("start"); }

  private:
    void run(const std::string& command) const;

    std::string dir_;
    std::string uri_;
};

// A database of the test's own, a signing key, authctl on that database and authd nodes started
// on demand (each stopped with SIGTERM at the end, expecting exit status 0). Skips without
// AUTHD_TEST_PG_URI.
class PgTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    run_result authctl(const std::vector<std::string>& args, const std::string& input = {},
                       const hash_cost& cost = cheap_hash) const;
    void add_user(const std::string& name, const std::string& password,
                  const hash_cost& cost = cheap_hash) const;

    // Starts a node (pg_node_args with extra and cost) and waits until it listens; returns its
    // port (the node is nodes_.back()).
    std::uint16_t start_node(const std::vector<std::string>& extra = {},
                             const hash_cost& cost = cheap_hash);

    temp_dir dir_;
    std::unique_ptr<pg_database> db_;
    std::string store_;
    std::string key_file_;
    std::vector<std::unique_ptr<authd_process>> nodes_;
};

}  // namespace authd_it
