#include "pg.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#ifndef AUTHD_PG_CLUSTER_SCRIPT
#error "AUTHD_PG_CLUSTER_SCRIPT must name scripts/pg-cluster.sh (tests/CMakeLists.txt)"
#endif

namespace authd_it {

namespace {

std::string random_suffix() {
    std::random_device random;
    std::ostringstream out;
    out << std::hex << random() << random();
    return out.str();
}

}  // namespace

const char* const pg_skip_message =
    "AUTHD_TEST_PG_URI is not set: run scripts/test.sh, or start a cluster with "
    "scripts/pg-cluster.sh start DIR and export AUTHD_TEST_PG_URI=$(cat DIR/uri)";

std::optional<std::string> pg_base_uri() {
    const char* uri = std::getenv("AUTHD_TEST_PG_URI");
    if (uri == nullptr || *uri == '\0') {
        return std::nullopt;
    }
    return uri;
}

std::string pg_uri_for(const std::string& uri, const std::string& database, const std::string& user,
                       const std::string& password) {
    const auto at = uri.find('@');
    const auto slash = uri.find('/', at);
    return "postgresql://" + user + (password.empty() ? "" : ":" + password) +
           uri.substr(at, slash - at) + "/" + database;
}

void psql(const std::string& uri, const std::string& sql) {
    const auto r = run_command({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", uri, "-c", sql});
    if (r.exit_code != 0) {
        throw std::runtime_error("psql " + sql + ": " + r.err);
    }
}

pg_database::pg_database(std::string admin_uri)
    : admin_uri_(std::move(admin_uri)), name_("t_" + random_suffix()) {
    psql(admin_uri_, "CREATE DATABASE " + name_);
}

pg_database::~pg_database() {
    try {
        psql(admin_uri_, "DROP DATABASE " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
    }
}

private_cluster::private_cluster() {
    std::string dir = "/tmp/authd-pg-private-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    dir_ = dir;
    run("start");
    std::ifstream in(dir_ + "/uri");
    std::getline(in, uri_);
}

private_cluster::~private_cluster() {
    const auto r = run_command({AUTHD_PG_CLUSTER_SCRIPT, "remove", dir_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

void private_cluster::run(const std::string& command) const {
    const auto r = run_command({AUTHD_PG_CLUSTER_SCRIPT, command, dir_});
    if (r.exit_code != 0) {
        throw std::runtime_error("pg-cluster.sh " + command + " failed: " + r.err);
    }
}

std::vector<std::string> pg_node_args(const std::string& store, const std::string& key_file,
                                      const std::vector<std::string>& extra,
                                      const hash_cost& cost) {
    std::vector<std::string> args{"--listen",
                                  "127.0.0.1:0",
                                  "--store",
                                  store,
                                  "--key-file",
                                  key_file,
                                  "--threads",
                                  "2",
                                  "--hash-workers",
                                  "2",
                                  "--hash-memory",
                                  cost.memory,
                                  "--hash-ops",
                                  cost.ops,
                                  "--shutdown-timeout",
                                  "20s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

void PgTest::SetUp() {
    const auto uri = pg_base_uri();
    if (!uri) {
        GTEST_SKIP() << pg_skip_message;
    }
    db_ = std::make_unique<pg_database>(*uri);
    store_ = db_->uri();
    key_file_ = dir_.file("signing.key");
    test_env::generate_key(key_file_);
}

void PgTest::TearDown() {
    for (auto& node : nodes_) {
        if (!node->exited()) {
            EXPECT_EQ(node->terminate(15s), 0) << "authd's exit status after SIGTERM";
        }
        if (HasFailure()) {
            std::cerr << "--- authd's standard error ---\n"
                      << node->stderr_text() << "--- end ---\n";
        }
    }
    nodes_.clear();
}

run_result PgTest::authctl(const std::vector<std::string>& args, const std::string& input,
                           const hash_cost& cost) const {
    std::vector<std::string> argv{authctl_bin(), "--store",    store_,  "--hash-memory",
                                  cost.memory,   "--hash-ops", cost.ops};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, input);
}

void PgTest::add_user(const std::string& name, const std::string& password,
                      const hash_cost& cost) const {
    const auto r = authctl({"user", "add", name}, password + "\n", cost);
    ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::uint16_t PgTest::start_node(const std::vector<std::string>& extra, const hash_cost& cost) {
    nodes_.push_back(std::make_unique<authd_process>(pg_node_args(store_, key_file_, extra, cost)));
    const auto port = nodes_.back()->wait_listening(10s);
    if (!port) {
        throw std::runtime_error("authd did not start; its stderr:\n" +
                                 nodes_.back()->stderr_text());
    }
    return *port;
}

}  // namespace authd_it
