#include "pg.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "http_client.hpp"
#include "jwt.hpp"
#include "support/cluster_processes.hpp"

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

std::string psql_value(const std::string& uri, const std::string& sql) {
    const auto r =
        run_command({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", uri, "-c", sql});
    if (r.exit_code != 0) {
        throw std::runtime_error("psql " + sql + ": " + r.err);
    }
    return r.out.substr(0, r.out.find('\n'));
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

namespace {

// A new directory for a private cluster.
std::string private_dir() {
    std::string dir = "/tmp/authd-pg-private-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    return dir;
}

void must_run(const std::vector<std::string>& argv) {
    const auto r = run_command(argv);
    if (r.exit_code != 0) {
        std::string line;
        for (const auto& a : argv) {
            line += a + " ";
        }
        throw std::runtime_error(line + "failed: " + r.err);
    }
}

}  // namespace

private_cluster::private_cluster() : dir_(private_dir()) {
    run("start");
    read_uri();
}

private_cluster::private_cluster(standby_of of) : dir_(private_dir()) {
    must_run({AUTHD_PG_CLUSTER_SCRIPT, "standby", of.primary.dir_, dir_});
    read_uri();
}

private_cluster::private_cluster(in_netns where) : dir_(private_dir()) {
    must_run({"ip", "netns", "exec", where.link.name(), "env",
              "AUTHD_PG_HOST=" + where.link.inner_address(), AUTHD_PG_CLUSTER_SCRIPT, "start",
              dir_});
    read_uri();
}

void private_cluster::read_uri() {
    std::ifstream in(dir_ + "/uri");
    std::getline(in, uri_);
}

netns_link::netns_link() {
    const auto id = std::to_string(::getpid() % 65536);
    name_ = "authd-test-" + id;
    outer_device_ = "ad" + id + "o";
    inner_device_ = "ad" + id + "i";
    const auto subnet = "10.213." + std::to_string(::getpid() % 250) + ".";
    inner_ = subnet + "2";
    must_run({"ip", "netns", "add", name_});
    try {
        must_run({"ip", "link", "add", outer_device_, "type", "veth", "peer", "name", inner_device_,
                  "netns", name_});
        must_run({"ip", "addr", "add", subnet + "1/30", "dev", outer_device_});
        must_run({"ip", "link", "set", outer_device_, "up"});
        must_run({"ip", "-n", name_, "addr", "add", inner_ + "/30", "dev", inner_device_});
        must_run({"ip", "-n", name_, "link", "set", inner_device_, "up"});
        must_run({"ip", "-n", name_, "link", "set", "lo", "up"});
    } catch (...) {
        run_command({"ip", "netns", "del", name_});
        throw;
    }
}

netns_link::~netns_link() {
    run_command({"ip", "link", "del", outer_device_});  // and its peer
    run_command({"ip", "netns", "del", name_});
}

void netns_link::cut() const {
    must_run({"ip", "-n", name_, "link", "set", inner_device_, "down"});
}

void netns_link::mend() const {
    must_run({"ip", "-n", name_, "link", "set", inner_device_, "up"});
}

std::string private_cluster::admin_uri() const {
    return pg_uri_for(uri_, "postgres", "postgres");
}

std::string private_cluster::port() const {
    std::ifstream in(dir_ + "/port");
    std::string port;
    std::getline(in, port);
    return port;
}

std::vector<pid_t> private_cluster::processes() const {
    return authd_pg_test::cluster_processes(dir_ + "/data");
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

std::pair<std::uint16_t, std::string> PgTest::start_with_a_cached_user(
    const private_cluster& cluster) {
    store_ = cluster.uri();
    add_user("cached", "c");
    add_user("cold", "c");
    const auto port = start_node();
    http_client client(port);
    const auto r = client.roundtrip(login_request("cached", "c"));
    const auto token = token_of(r.body());
    EXPECT_TRUE(token) << r.body();
    return {port, token.value_or("")};
}

}  // namespace authd_it
