// The integration tests on PostgreSQL: a database of the test's own on the cluster scripts/test.sh
// starts (AUTHD_TEST_PG_URI; the tests skip without it), a cluster of the test's own for tests
// that stop it, and the PgTest fixture, which runs authctl on the database and starts authd nodes
// on it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
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
// The first column of the first row sql gives on uri ("" for none); throws when it fails.
std::string psql_value(const std::string& uri, const std::string& sql);

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

class private_cluster;

// Which cluster a standby streams from.
struct standby_of {
    const private_cluster& primary;
};

// A network namespace of the test's own, linked to this one by a veth pair (10.213.N.1 here,
// 10.213.N.2 there); removed at the end. cut() sets the far end down: every packet sent over the
// link is dropped, silently (no refusal, no reset), as a network that loses everything; mend()
// sets it up again. (tc netem would also delay or lose some packets, but the kernels the tests
// run on here have no qdisc modules; this needs none.) The constructor throws where namespaces
// cannot be made (no CAP_NET_ADMIN, no ip).
class netns_link {
  public:
    netns_link();
    ~netns_link();
    netns_link(const netns_link&) = delete;
    netns_link& operator=(const netns_link&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& inner_address() const noexcept { return inner_; }
    void cut() const;
    void mend() const;

  private:
    std::string name_;
    std::string outer_device_;
    std::string inner_device_;
    std::string inner_;
};

// A cluster that runs in a netns_link's namespace, on its inner address.
struct in_netns {
    const netns_link& link;
};

// A cluster of the test's own (scripts/pg-cluster.sh start DIR), for tests that stop the server;
// or a hot standby of one (scripts/pg-cluster.sh standby: pg_basebackup -R, streaming under the
// name 'standby'). Removed at the end.
class private_cluster {
  public:
    private_cluster();
    explicit private_cluster(standby_of of);
    explicit private_cluster(in_netns where);
    ~private_cluster();
    private_cluster(const private_cluster&) = delete;
    private_cluster& operator=(const private_cluster&) = delete;

    // authd's role on its database authd_test.
    const std::string& uri() const noexcept { return uri_; }
    // The superuser's, on the database postgres.
    std::string admin_uri() const;
    std::string port() const;
    // Its postmaster and every child (to stop them with SIGSTOP).
    std::vector<pid_t> processes() const;
    void stop() const { run("stop"); }
    void start() const { run("start"); }
    void crash() const { run("crash"); }  // an immediate shutdown, as a power cut
    void promote() const { run("promote"); }

  private:
    void run(const std::string& command) const;
    void read_uri();  // DIR/uri, which pg-cluster.sh wrote

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

    // On cluster (the tests that stop or cut it): the users "cached" and "cold" (password "c"),
    // a node, and one login of "cached", which the node then has in its cache. The node's port,
    // and that login's token.
    std::pair<std::uint16_t, std::string> start_with_a_cached_user(const private_cluster& cluster);

    temp_dir dir_;
    std::unique_ptr<pg_database> db_;
    std::string store_;
    std::string key_file_;
    std::vector<std::unique_ptr<authd_process>> nodes_;
};

}  // namespace authd_it
