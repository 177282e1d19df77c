// Imported hashes of other systems (issue 13, docs/operations.md "Migrating users"): hashes made
// by the real tools (htpasswd, mkpasswd, openssl passwd, passlib, Django's make_password, a
// Keycloak export computed from known PBKDF2 and argon2 parameters) are imported with authctl,
// logged in with through the real authd, and replaced in the store by an argon2id hash that
// verifies (checked with python3-argon2), while a wrong password answers 404 and changes nothing.
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

constexpr std::string_view password = "correct horse 1";

std::string db_path(const test_env& env) {
    return env.store_uri().substr(std::string_view("sqlite:").size());
}

std::string legacy_script() {
    return tests_dir() + "/legacy_hashes.py";
}

// NAME -> hash, as the store holds them now.
std::map<std::string, std::string> stored_hashes(const test_env& env) {
    const auto r = run_command({python_bin(), legacy_script(), "dump", db_path(env)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        const auto tab = line.find('\t');
        out[line.substr(0, tab)] = line.substr(tab + 1);
    }
    return out;
}

// One tool's hash of password: the command's output (its first line), with a NAME: prefix cut.
std::string tool_hash(const std::vector<std::string>& argv, std::string_view input) {
    const auto r = run_command(argv, input);
    EXPECT_EQ(r.exit_code, 0) << argv[0] << ": " << r.err;
    std::string out = r.out.substr(0, r.out.find('\n'));
    if (const auto colon = out.find(':'); colon != std::string::npos) {
        out.erase(0, colon + 1);  // htpasswd -n: "user:hash"
    }
    return out;
}

// NAME<TAB>HASH lines from every tool.
std::string tools_file() {
    const std::string pw(password);
    const std::string line = pw + "\n";
    std::string file;
    auto add = [&](const std::string& name, const std::string& hash) {
        file += name + "\t" + hash + "\n";
    };
    add("htpasswd_bcrypt", tool_hash({"htpasswd", "-niB", "-C", "4", "u"}, line));
    add("mkpasswd_yescrypt", tool_hash({"mkpasswd", "-s", "-m", "yescrypt", "-R", "1"}, line));
    add("mkpasswd_sha512", tool_hash({"mkpasswd", "-s", "-m", "sha512crypt", "-R", "1000"}, line));
    add("mkpasswd_bcrypt", tool_hash({"mkpasswd", "-s", "-m", "bcrypt", "-R", "4"}, line));
    add("mkpasswd_scrypt", tool_hash({"mkpasswd", "-s", "-m", "scrypt", "-R", "6"}, line));
    add("openssl_sha512", tool_hash({"openssl", "passwd", "-6", "-stdin"}, line));
    add("openssl_sha256", tool_hash({"openssl", "passwd", "-5", "-stdin"}, line));
    for (const char* mode : {"passlib", "django"}) {
        const auto r = run_command({python_bin(), legacy_script(), mode}, line);
        EXPECT_EQ(r.exit_code, 0) << mode << ": " << r.err;
        file += r.out;
    }
    return file;
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path) << content;
}

run_result authctl(const test_env& env, std::vector<std::string> args) {
    std::vector<std::string> argv{authctl_bin(), "--store", env.store_uri()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

std::string metric(std::uint16_t port, std::string_view name) {
    http_client c(port);
    const auto body = c.roundtrip(make_request("GET", "/metrics", {})).body();
    const auto at = body.find(std::string("\n").append(name).append(" "));
    return at == std::string::npos
               ? "absent"
               : body.substr(at + name.size() + 2, body.find('\n', at + 1) - at - name.size() - 2);
}

class LegacyHashTest : public authd_test {
  protected:
    // Logs every imported user in: a wrong password first (404, the hash stays), then the right
    // one (a token, and the hash is now argon2id, verifies, and the old one is gone).
    void log_everyone_in(const std::map<std::string, std::string>& before) {
        for (const auto& [name, old_hash] : before) {
            SCOPED_TRACE(name);
            http_client c(port());
            const auto wrong = c.roundtrip(login_request(name, "correct horse 2"));
            EXPECT_EQ(status_line(wrong), "HTTP/1.1 404 Not Found");
            EXPECT_EQ(wrong.body(), not_found_body);
            EXPECT_EQ(stored_hashes(env_)[name], old_hash) << "a wrong password upgraded it";

            const auto right = c.roundtrip(login_request(name, password));
            EXPECT_EQ(status_line(right), "HTTP/1.1 200 OK") << right.body();
            EXPECT_TRUE(token_of(right.body())) << right.body();
            const auto now = stored_hashes(env_)[name];
            EXPECT_EQ(now.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0U) << now;
            EXPECT_NE(now, old_hash);
            const auto check = run_command({python_bin(), legacy_script(), "argon2id"},
                                           now + "\n" + std::string(password) + "\n");
            EXPECT_EQ(check.exit_code, 0) << "python3-argon2 does not verify " << now;
            // And the new hash logs in as well.
            EXPECT_EQ(status_line(c.roundtrip(login_request(name, password))), "HTTP/1.1 200 OK");
        }
    }
};

TEST_F(LegacyHashTest, HashesOfTheRealToolsLogInAndAreUpgradedToArgon2id) {
    const auto file = env_.dir().file("hashes.tsv");
    const auto content = tools_file();
    write_file(file, content);
    const auto imported = authctl(env_, {"user", "import", "--hashes", file});
    ASSERT_EQ(imported.exit_code, 0) << imported.err << imported.out;
    const auto before = stored_hashes(env_);
    ASSERT_EQ(before.size(), 19U) << imported.out;
    for (const auto& [name, hash] : before) {
        EXPECT_NE(content.find(name + "\t" + hash + "\n"), std::string::npos) << name;
    }
    const auto legacy = authctl(env_, {"user", "list", "--legacy"});
    EXPECT_NE(legacy.out.find("django_bcrypt_sha256\tdjango-bcrypt-sha256\n"), std::string::npos)
        << legacy.out;
    EXPECT_NE(legacy.out.find("mkpasswd_yescrypt\tyescrypt\n"), std::string::npos) << legacy.out;

    start();
    log_everyone_in(before);
    EXPECT_EQ(metric(port(), "authd_legacy_hash_upgrades_total"), "19");
    EXPECT_EQ(authctl(env_, {"user", "list", "--legacy"}).out, "");
}

TEST_F(LegacyHashTest, KeycloakExportWithKnownPbkdf2AndArgon2ParametersLogsIn) {
    const auto r =
        run_command({python_bin(), legacy_script(), "keycloak"}, std::string(password) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto file = env_.dir().file("realm-export.json");
    write_file(file, r.out);
    const auto imported = authctl(env_, {"user", "import", "--keycloak", file});
    // kc_no_password (a service account, say) has nothing to import, and kc_disabled ("enabled":
    // false, with a valid password) must not become a working login: counted, no error. Users
    // with a second factor or a required action are refused by name (exit 1): imported, they
    // would log in with the password alone. Old passwords (password-history) are no factor.
    EXPECT_EQ(imported.exit_code, 1) << imported.err;
    EXPECT_EQ(imported.out,
              "added: 6, existed already: 0, users skipped: 3, without a password: "
              "1, disabled: 1\n");
    for (const char* refused :
         {"user kc_otp: has a second factor authd does not carry over (otp)",
          "user kc_webauthn: has a second factor authd does not carry over (webauthn)",
          "user kc_update_password: has a required action pending in Keycloak "
          "(UPDATE_PASSWORD)"}) {
        EXPECT_NE(imported.err.find(refused), std::string::npos) << imported.err;
    }
    auto before = stored_hashes(env_);
    EXPECT_EQ(before.size(), 6U) << imported.out;
    for (const char* absent : {"kc_disabled", "kc_otp", "kc_webauthn", "kc_update_password"}) {
        EXPECT_EQ(before.count(absent), 0U) << absent;
    }
    // The same export with a UTF-8 byte order mark first (as Windows tools write it), and the
    // operator's word that password-only accounts will do: the three refused ones are added.
    write_file(file, "\xEF\xBB\xBF" + r.out);
    const auto again =
        authctl(env_, {"user", "import", "--keycloak", "--allow-password-only", file});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out,
              "added: 3, existed already: 6, users skipped: 0, without a password: "
              "1, disabled: 1\n");
    before = stored_hashes(env_);
    EXPECT_EQ(before.size(), 9U);
    EXPECT_EQ(before.count("kc_disabled"), 0U);
    // The option belongs to --keycloak alone.
    EXPECT_EQ(
        authctl(env_, {"user", "import", "--hashes", "--allow-password-only", file}).exit_code, 2);
    start();
    log_everyone_in(before);
}

// HTTP strips the spaces around User-Name's value: an account whose name begins or ends with one
// could never log in, so its line is reported and skipped (as authctl user add refuses it).
TEST_F(LegacyHashTest, NamesHttpCannotCarryAreReportedByLineAndNotStored) {
    const auto good = tool_hash({"htpasswd", "-niB", "-C", "4", "u"}, std::string(password) + "\n");
    const auto file = env_.dir().file("hashes.tsv");
    write_file(file, " lead\t" + good + "\ntrail \t" + good + "\nin ner\t" + good + "\n");
    const auto r = authctl(env_, {"user", "import", "--hashes", file});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "added: 1, existed already: 0, lines skipped: 2\n");
    for (const char* expected : {"line 1: user name begins or ends with a space",
                                 "line 2: user name begins or ends with a space"}) {
        EXPECT_NE(r.err.find(expected), std::string::npos) << expected << "\n" << r.err;
    }
}

// A UTF-8 byte order mark at the start of the file (Windows tools write one) is no part of the
// first user's name: that user logs in by its name.
TEST_F(LegacyHashTest, ByteOrderMarkIsNotPartOfTheFirstName) {
    const auto good = tool_hash({"htpasswd", "-niB", "-C", "4", "u"}, std::string(password) + "\n");
    const auto file = env_.dir().file("hashes.tsv");
    write_file(file,
               "\xEF\xBB\xBF"
               "bom1\t" +
                   good + "\nplain\t" + good + "\n");
    const auto r = authctl(env_, {"user", "import", "--hashes", file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto stored = stored_hashes(env_);
    EXPECT_EQ(stored.count("bom1"), 1U);
    EXPECT_EQ(stored.count("\xEF\xBB\xBF"
                           "bom1"),
              0U);
    start();
    http_client c(port());
    EXPECT_EQ(c.roundtrip(login_request("bom1", password)).result_int(), 200);
}

// sha-crypt hashes the password in every round, so a long one multiplies a login's cost: authd
// verifies passwords of up to 128 bytes against such a hash, and a longer one never matches, not
// even the one the hash was made of (docs/operations.md). Hashes by mkpasswd and openssl passwd.
TEST_F(LegacyHashTest, AShaCryptUsersPasswordIsVerifiedUpTo128Bytes) {
    std::string longest;
    for (int i = 0; longest.size() < 128; ++i) {
        longest += "correct-horse-" + std::to_string(i) + "-";
    }
    longest.resize(128);
    const std::string over = longest + "x";
    const auto file = env_.dir().file("hashes.tsv");
    std::string content;
    for (const auto& [name, pw] : {std::pair{std::string("at"), longest}, {"over", over}}) {
        const auto line = pw + "\n";
        content += "sha512_" + name + "\t" +
                   tool_hash({"mkpasswd", "-s", "-m", "sha512crypt", "-R", "1000"}, line) + "\n";
        content +=
            "sha256_" + name + "\t" + tool_hash({"openssl", "passwd", "-5", "-stdin"}, line) + "\n";
    }
    write_file(file, content);
    const auto imported = authctl(env_, {"user", "import", "--hashes", file});
    ASSERT_EQ(imported.exit_code, 0) << imported.err << imported.out;
    const auto before = stored_hashes(env_);
    ASSERT_EQ(before.size(), 4U);
    start();
    http_client c(port());
    for (const char* variant : {"sha512_", "sha256_"}) {
        SCOPED_TRACE(variant);
        const auto too_long = c.roundtrip(login_request(std::string(variant) + "over", over));
        EXPECT_EQ(status_line(too_long), "HTTP/1.1 404 Not Found");
        EXPECT_EQ(stored_hashes(env_)[std::string(variant) + "over"],
                  before.at(std::string(variant) + "over"));
        const auto right = c.roundtrip(login_request(std::string(variant) + "at", longest));
        EXPECT_EQ(status_line(right), "HTTP/1.1 200 OK") << right.body();
        EXPECT_EQ(stored_hashes(env_)[std::string(variant) + "at"].rfind("$argon2id$", 0), 0U);
    }
}

TEST_F(LegacyHashTest, WeakMalformedCostlyAndUnsupportedHashesAreReportedByLineAndNotStored) {
    const std::string line = std::string(password) + "\n";
    const auto md5 = tool_hash({"openssl", "passwd", "-1", "-stdin"}, line);
    const auto apr1 = tool_hash({"htpasswd", "-nim", "u"}, line);
    const auto costly = tool_hash({"mkpasswd", "-s", "-m", "yescrypt", "-R", "11"}, line);
    const auto good = tool_hash({"htpasswd", "-niB", "-C", "4", "u"}, line);
    const auto file = env_.dir().file("hashes.tsv");
    write_file(file, "weak\t" + md5 + "\napache\t" + apr1 + "\ncostly\t" + costly + "\nbroken\t" +
                         good.substr(0, 40) + "\nplain\t" + std::string(password) + "\n\nok\t" +
                         good + "\n");
    const auto r = authctl(env_, {"user", "import", "--hashes", file});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "added: 1, existed already: 0, lines skipped: 5\n");
    for (const char* expected : {"line 1: md5-crypt is a weak format",
                                 "line 2: apr1 is a weak format", "line 3: yescrypt needs 1024 MiB",
                                 "line 4: malformed bcrypt hash", "line 5: hash holds a space"}) {
        EXPECT_NE(r.err.find(expected), std::string::npos) << expected << "\n" << r.err;
    }
    for (const auto& secret : {md5, apr1, costly, good}) {
        EXPECT_EQ(r.err.find(secret.substr(secret.size() - 10)), std::string::npos) << r.err;
    }
    EXPECT_EQ(stored_hashes(env_).size(), 1U);

    // The explicit options let the weak ones (md5-crypt, apr1) and the costly one in.
    const auto allowed =
        authctl(env_, {"user", "import", "--hashes", "--allow-weak", "--max-hash-memory", "2GiB",
                       "--max-hash-ms", "10000", file});
    EXPECT_EQ(allowed.out, "added: 3, existed already: 1, lines skipped: 2\n") << allowed.err;
    start();
    http_client c(port());
    EXPECT_EQ(status_line(c.roundtrip(login_request("weak", password))), "HTTP/1.1 200 OK");
    EXPECT_EQ(status_line(c.roundtrip(login_request("apache", password))), "HTTP/1.1 200 OK");
    EXPECT_EQ(stored_hashes(env_)["weak"].rfind("$argon2id$", 0), 0U);
    EXPECT_EQ(stored_hashes(env_)["apache"].rfind("$argon2id$", 0), 0U);
}

// PostgreSQL (AUTHD_TEST_PG_URI, scripts/test.sh): the same import and upgrade, read back with
// psql.
TEST(LegacyHashPg, ImportedHashesUpgradeOnPostgresql) {
    const char* base = std::getenv("AUTHD_TEST_PG_URI");
    if (base == nullptr || *base == '\0') {
        GTEST_SKIP() << "AUTHD_TEST_PG_URI is not set (scripts/test.sh)";
    }
    const std::string admin(base);
    const std::string name = "t_legacy_" + std::to_string(std::random_device()());
    const auto slash = admin.rfind('/');
    const std::string uri = admin.substr(0, slash + 1) + name;
    auto psql = [](const std::string& target, const std::string& sql) {
        return run_command({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", target, "-c", sql});
    };
    ASSERT_EQ(psql(admin, "CREATE DATABASE " + name).exit_code, 0);
    {
        test_env env;
        const std::string line = std::string(password) + "\n";
        const auto bcrypt = tool_hash({"htpasswd", "-niB", "-C", "4", "u"}, line);
        const auto file = env.dir().file("hashes.tsv");
        write_file(file, "pg_user\t" + bcrypt + "\n");
        const auto imported =
            run_command({authctl_bin(), "--store", uri, "user", "import", "--hashes", file});
        ASSERT_EQ(imported.exit_code, 0) << imported.err;
        const std::vector<std::string> list_legacy{authctl_bin(), "--store", uri,
                                                   "user",        "list",    "--legacy"};
        EXPECT_EQ(run_command(list_legacy).out, "pg_user\tbcrypt\n");
        authd_args args;
        auto argv = args.build(env);
        for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
            if (argv[i] == "--store") {
                argv[i + 1] = uri;
            }
        }
        // Two nodes on the database: b caches the imported hash, a upgrades it, and b's change
        // feed drops what it cached (its next login is a cache miss, not a hit on the old hash).
        authd_process a(argv);
        authd_process b(argv);
        const auto port_a = a.wait_listening();
        const auto port_b = b.wait_listening();
        ASSERT_TRUE(port_a && port_b);
        http_client c(*port_a);
        http_client other(*port_b);
        EXPECT_EQ(status_line(other.roundtrip(login_request("pg_user", "wrong"))),
                  "HTTP/1.1 404 Not Found");
        EXPECT_EQ(metric(*port_b, "authd_user_cache_misses_total"), "1");
        EXPECT_EQ(status_line(c.roundtrip(login_request("pg_user", "wrong"))),
                  "HTTP/1.1 404 Not Found");
        EXPECT_EQ(psql(uri, "SELECT phc FROM users").out, bcrypt + "\n");
        EXPECT_EQ(status_line(c.roundtrip(login_request("pg_user", password))), "HTTP/1.1 200 OK");
        const auto upgraded = psql(uri, "SELECT phc FROM users").out;
        EXPECT_EQ(upgraded.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0U) << upgraded;
        EXPECT_EQ(metric(*port_a, "authd_legacy_hash_upgrades_total"), "1");
        // The notification arrives within a second or so (docs/operations.md); wait up to 10 s.
        for (int i = 0; i < 100 && metric(*port_b, "authd_user_cache_misses_total") == "1"; ++i) {
            EXPECT_EQ(status_line(other.roundtrip(login_request("pg_user", password))),
                      "HTTP/1.1 200 OK");
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(status_line(other.roundtrip(login_request("pg_user", password))),
                  "HTTP/1.1 200 OK");
        EXPECT_NE(metric(*port_b, "authd_user_cache_misses_total"), "1")
            << "node b never dropped the imported hash it cached";
        EXPECT_EQ(metric(*port_b, "authd_legacy_hash_upgrades_total"), "0");
        EXPECT_EQ(psql(uri, "SELECT phc FROM users").out, upgraded);
        EXPECT_EQ(run_command(list_legacy).out, "");
        EXPECT_EQ(a.terminate(), 0);
        EXPECT_EQ(b.terminate(), 0);
    }
    psql(admin, "DROP DATABASE " + name + " WITH (FORCE)");
}

TEST_F(LegacyHashTest, ImportOptionsOutsideTheirCommandsAreUsageErrors) {
    const auto file = env_.dir().file("hashes.tsv");
    write_file(file, "");
    for (const std::vector<std::string>& args : {
             std::vector<std::string>{"--hashes", "user", "list"},
             {"--legacy", "user", "import", "--hashes", file},
             {"--allow-weak", "user", "import", file},
             {"--hashes", "--keycloak", "user", "import", file},
             {"--max-hash-ms", "x", "user", "import", "--hashes", file},
             {"--max-hash-memory", "lots", "user", "import", "--hashes", file},
         }) {
        const auto r = authctl(env_, args);
        EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    }
    const auto help = authctl(env_, {"--help"});
    for (const char* format : {"bcrypt", "yescrypt", "pbkdf2_sha256$", "$apr1$", "--keycloak"}) {
        EXPECT_NE(help.out.find(format), std::string::npos) << format;
    }
}

}  // namespace
}  // namespace authd_it
