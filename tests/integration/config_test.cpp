// authd's settings from the outside: the command line, AUTHD_* environment variables and the
// --config file, their one precedence (command line > environment > file > defaults), the messages
// for bad settings, docs/configuration.md against `authd --help`, and the installed systemd unit
// (docs/install.md).
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

using env_vars = std::vector<std::pair<std::string, std::string>>;

// Sets environment variables while it lives, for the authd_process children started meanwhile
// (they inherit the test's environment; run_command takes its variables as an argument instead).
class scoped_env {
  public:
    explicit scoped_env(const env_vars& vars) {
        for (const auto& [name, value] : vars) {
            const char* old = std::getenv(name.c_str());
            saved_.emplace_back(name, old == nullptr ? std::nullopt : std::optional(old));
            ::setenv(name.c_str(), value.c_str(), 1);
        }
    }
    ~scoped_env() {
        for (const auto& [name, old] : saved_) {
            if (old) {
                ::setenv(name.c_str(), old->c_str(), 1);
            } else {
                ::unsetenv(name.c_str());
            }
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0644);
}

std::string joined(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) {
        out += a + " ";
    }
    return out;
}

// The exp claim of a token's payload (whatever else the payload holds).
std::optional<std::int64_t> exp_of(const std::string& token) {
    const auto parts = split_jwt(token);
    if (!parts) {
        return std::nullopt;
    }
    static const std::regex exp_claim(R"re("exp":([0-9]+))re");
    std::smatch m;
    if (!std::regex_search(parts->payload, m, exp_claim)) {
        return std::nullopt;
    }
    return std::stoll(m[1].str());
}

constexpr std::string_view user = "alice";
constexpr std::string_view password = "correct horse";

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override { env_.add_user(std::string(user), std::string(password)); }

    // A config file with everything a test authd needs (an ephemeral port, env_'s store and key,
    // cheap hashes), then extra lines.
    std::string write_config(const std::string& name, const std::string& extra = "") const {
        const auto path = env_.dir().file(name);
        write_text(path, "# a test authd\nlisten = 127.0.0.1:0\nstore = " + env_.store_uri() +
                             "\nkey-file = " + env_.key_file() +
                             "\nthreads = 1   # one is enough\nhash-workers = 1\n"
                             "hash-memory = " +
                             cheap_hash.memory + "\nhash-ops = " + cheap_hash.ops + "\n" + extra);
        return path;
    }

    // Starts authd with args and the environment variables, logs in, stops it, and checks that
    // the token's lifetime (its exp minus the time of the login) is expected_seconds.
    void expect_lifetime(const std::vector<std::string>& args, const env_vars& vars,
                         std::int64_t expected_seconds) const {
        SCOPED_TRACE(joined(args));
        std::unique_ptr<authd_process> authd;
        {
            const scoped_env set(vars);
            authd = std::make_unique<authd_process>(args);
        }
        ASSERT_TRUE(authd->wait_listening(10s)) << "authd did not start: " << authd->stderr_text();
        const auto before = unix_now();
        const auto r = http_client(authd->port()).roundtrip(login_request(user, password));
        const auto after = unix_now();
        EXPECT_EQ(authd->terminate(15s), 0) << authd->stderr_text();
        ASSERT_EQ(r.result_int(), 200) << r.body();
        const auto token = token_of(r.body());
        const auto exp = token ? exp_of(*token) : std::nullopt;
        ASSERT_TRUE(exp) << "no token with an exp claim: " << r.body();
        // Issued at a second from before to after.
        EXPECT_GE(expected_seconds, *exp - after);
        EXPECT_LE(expected_seconds, *exp - before);
    }

    // Runs authd, expected to refuse its settings: exit 2, a message on standard error that holds
    // each of the needles, and no listening.
    void expect_refused(const std::vector<std::string>& args, const env_vars& vars,
                        const std::vector<std::string>& needles) const {
        std::vector<std::string> argv{authd_bin()};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run_command(argv, {}, vars, 20s);
        std::string env_text;
        for (const auto& [name, value] : vars) {
            env_text += name + "=" + value + " ";
        }
        SCOPED_TRACE(env_text + joined(args));
        EXPECT_FALSE(r.timed_out) << "authd kept running";
        EXPECT_EQ(r.exit_code, 2) << r.err;
        for (const auto& needle : needles) {
            EXPECT_NE(r.err.find(needle), std::string::npos) << "no '" << needle << "' in:\n"
                                                             << r.err;
        }
        EXPECT_EQ(r.err.find(R"("event":"listening")"), std::string::npos) << r.err;
    }

    test_env env_;
};

// --- precedence --------------------------------------------------------------------------------

TEST_F(ConfigTest, CommandLineBeatsEnvironmentBeatsFileBeatsDefault) {
    const auto plain = write_config("plain.conf");
    const auto file = write_config("ttl.conf", "token-ttl = 10m\n");
    const env_vars env_ttl{{"AUTHD_TOKEN_TTL", "20m"}};

    // Default: 30 minutes (the file sets everything else: listen, store, key-file, ...).
    expect_lifetime({"--config", plain}, {}, 1800);
    // File: 10 minutes.
    expect_lifetime({"--config", file}, {}, 600);
    // Environment over file: 20 minutes.
    expect_lifetime({"--config", file}, env_ttl, 1200);
    // Command line over both: 40 minutes.
    expect_lifetime({"--config", file, "--token-ttl", "40m"}, env_ttl, 2400);
    // The environment over the default, with the file named by AUTHD_CONFIG.
    expect_lifetime({}, {{"AUTHD_CONFIG", plain}, {"AUTHD_TOKEN_TTL", "20m"}}, 1200);
    // --config wins over AUTHD_CONFIG, as every flag over its variable.
    expect_lifetime({"--config", file}, {{"AUTHD_CONFIG", plain}}, 600);
}

TEST_F(ConfigTest, TestSuiteVariablesAreIgnored) {
    // AUTHD_TEST_* belong to the test suite (AUTHD_TEST_PG_URI): never an authd setting, never
    // an error.
    const auto file = write_config("plain.conf");
    expect_lifetime({"--config", file},
                    {{"AUTHD_TEST_TOKEN_TTL", "5m"}, {"AUTHD_TEST_ANYTHING", "x"}}, 1800);
}

// --- bad settings ------------------------------------------------------------------------------

TEST_F(ConfigTest, BadValueInEachSourceExits2NamingTheSetting) {
    const auto key = env_.key_file();
    // The command line.
    expect_refused({"--key-file", key, "--idle-timeout", "abc"}, {},
                   {"authd: --idle-timeout: not a duration: 'abc'"});
    // The environment.
    expect_refused({"--key-file", key}, {{"AUTHD_IDLE_TIMEOUT", "abc"}},
                   {"authd: AUTHD_IDLE_TIMEOUT: not a duration: 'abc'"});
    // The config file: its path, the line and the name.
    const auto file = env_.dir().file("bad.conf");
    write_text(file, "# comment\n\nkey-file = " + key + "\nidle-timeout = abc\n");
    expect_refused({"--config", file}, {},
                   {"authd: " + file + " line 4: idle-timeout: not a duration: 'abc'"});

    // Integers: negative (which a plain conversion would wrap around), not a number, too large.
    expect_refused({"--key-file", key, "--threads=-1"}, {}, {"authd: --threads: ", "'-1'"});
    expect_refused({"--key-file", key}, {{"AUTHD_MAX_CONNECTIONS", "many"}},
                   {"authd: AUTHD_MAX_CONNECTIONS: ", "'many'"});
    write_text(file, "key-file = " + key + "\nmax-fields = 99999999999\n");
    expect_refused({"--config", file}, {}, {"authd: " + file + " line 2: max-fields: "});
    // Other kinds of values, each in another source.
    expect_refused({"--key-file", key, "--hash-memory", "lots"}, {}, {"authd: --hash-memory: "});
    expect_refused({"--key-file", key}, {{"AUTHD_LOG_LEVEL", "loud"}},
                   {"authd: AUTHD_LOG_LEVEL: ", "'loud'"});
    write_text(file, "key-file = " + key + "\nhash-nice = 40\n");
    expect_refused({"--config", file}, {}, {"authd: " + file + " line 2: hash-nice: "});
    expect_refused({"--key-file", key}, {{"AUTHD_MAX_CONNECTIONS", "0"}},
                   {"authd: AUTHD_MAX_CONNECTIONS: must be at least 1"});
    // Values no deployment means, which held authd at start (an argon2 hash of the parameters is
    // made then: hours for --hash-ops 1000000), ran it out of memory (std::bad_alloc) or exited 1
    // without naming the setting.
    for (const auto& [flag, value, message] : std::vector<std::array<std::string, 3>>{
             {"--hash-ops", "101", "at most 100"},
             {"--hash-ops", "1000000", "at most 100"},
             {"--hash-ops", "4294967296", "at most 100"},
             {"--hash-memory", "5GiB", "at most 4GiB"},
             {"--hash-memory", "18446744073709551615", ""},
             {"--cache-entries", "4294967296", "at most 100000000"},
             {"--hash-workers", "18446744073709551615", "at most 256"},
             {"--threads", "100000", "at most 256"},
         }) {
        expect_refused({"--key-file", key, flag, value}, {}, {"authd: " + flag + ": " + message});
    }
    // A store no backend opens: named like any other bad value (was exit 1, without the name).
    expect_refused({"--key-file", key, "--store", "mysql://db"}, {},
                   {"authd: --store: unknown store scheme 'mysql'"});
    expect_refused({"--key-file", key}, {{"AUTHD_STORE", "/var/lib/authd/users.db"}},
                   {"authd: AUTHD_STORE: unknown store scheme '(none)'"});
    expect_refused(
        {"--key-file", key, "--hash-memory", "4GiB"}, {{"AUTHD_HASH_OPS", "3"}},
        {"authd: --hash-memory x AUTHD_HASH_OPS: argon2id memory x iterations: at most 8GiB"});
    // An empty variable is a mistake, not "unset".
    expect_refused({"--key-file", key}, {{"AUTHD_TOKEN_TTL", ""}}, {"authd: AUTHD_TOKEN_TTL: "});
    // A known-address window shorter than twice the stores' hourly refresh of a known address
    // could forget an owner who logs in all the time: refused (0 is off, and accepted).
    expect_refused({"--key-file", key, "--known-address-window", "90m"}, {},
                   {"authd: --known-address-window: expected 0 (off) or at least 2h, got '90m'"});
}

TEST_F(ConfigTest, BadValueIsReportedEvenWhenOverridden) {
    // Every value given is checked, so a bad line does not wait for the override to go.
    const auto file = env_.dir().file("bad.conf");
    write_text(file, "token-ttl = forever\n");
    expect_refused({"--config", file, "--key-file", env_.key_file(), "--token-ttl", "5m"},
                   {{"AUTHD_TOKEN_TTL", "6m"}},
                   {"authd: " + file + " line 1: token-ttl: not a duration: 'forever'"});
}

TEST_F(ConfigTest, UnknownOrMalformedFileLinesExit2WithTheLine) {
    const auto file = env_.dir().file("bad.conf");
    const auto key_line = "key-file = " + env_.key_file() + "\n";
    const std::vector<std::pair<std::string, std::string>> cases{
        {key_line + "no-such-setting = 1\n", " line 2: unknown setting 'no-such-setting'"},
        {"\n" + key_line + "token_ttl = 5m\n", " line 3: unknown setting 'token_ttl'"},
        {key_line + "help = 1\n", " line 2: unknown setting 'help'"},
        {key_line + "--threads = 2\n", " line 2: write the name without '--'"},
        {key_line + "config = /etc/other.conf\n", " line 2: config: "},
        {"threads = 1\n" + key_line + "threads = 2\n",
         " line 3: threads: set twice (first on line 1)"},
        {key_line + "[server]\nthreads = 2\n", " line 2: sections are not used"},
        {key_line + "threads 2\n", " line 2: expected NAME = VALUE"},
        {key_line + "threads =\n", " line 2: threads: no value"},
    };
    for (const auto& [text, message] : cases) {
        write_text(file, text);
        expect_refused({"--config", file}, {}, {"authd: " + file + message});
    }
}

TEST_F(ConfigTest, UnknownVariablesAndMissingFilesExit2) {
    const auto key = env_.key_file();
    expect_refused({"--key-file", key}, {{"AUTHD_NO_SUCH_SETTING", "1"}},
                   {"authd: AUTHD_NO_SUCH_SETTING: not an authd setting"});
    // Only the exact spelling of a name maps to it.
    expect_refused({"--key-file", key}, {{"AUTHD_token_ttl", "5m"}},
                   {"authd: AUTHD_token_ttl: not an authd setting"});
    expect_refused({"--key-file", key}, {{"AUTHD_HELP", "1"}}, {"authd: AUTHD_HELP: "});
    // ... and of a flag: an abbreviation is no setting (Program_options would take --token for
    // --token-ttl, the one flag it begins).
    expect_refused({"--key-file", key, "--token", "1m"}, {}, {"authd: ", "--token"});
    expect_refused({"--key-file", key, "--sto", "sqlite:x.db"}, {}, {"authd: ", "--sto"});
    // A word that is no flag at all is said to be one (not "ambiguous", listing every flag).
    expect_refused({"--key-file", key, "extra"}, {}, {"authd: too many positional options"});
    const auto missing = env_.dir().file("missing.conf");
    expect_refused({"--key-file", key, "--config", missing}, {},
                   {"authd: --config: " + missing + ": No such file or directory"});
    expect_refused({"--key-file", key}, {{"AUTHD_CONFIG", missing}},
                   {"authd: AUTHD_CONFIG: " + missing + ": "});
    // Whoever may write the file decides what authd trusts.
    const auto open_file = write_config("open.conf");
    ASSERT_EQ(::chmod(open_file.c_str(), 0666), 0);
    expect_refused({"--config", open_file}, {}, {"authd: --config: ", "writable by others"});
    // The required key file names all three ways to give it.
    expect_refused({}, {}, {"--key-file", "AUTHD_KEY_FILE", "key-file = "});
}

TEST_F(ConfigTest, StartUpErrorsNameTheSettingAsGiven) {
    // --listen is checked when authd binds (exit 1), and still named as the operator wrote it.
    const auto file = write_config("plain.conf");
    std::vector<std::string> argv{authd_bin(), "--config", file};
    const auto r = run_command(argv, {}, {{"AUTHD_LISTEN", "nonsense"}}, 20s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("authd: AUTHD_LISTEN: "), std::string::npos) << r.err;
}

// --- docs/configuration.md ---------------------------------------------------------------------

struct help_option {
    std::string name;                     // "token-ttl"
    std::optional<std::string> default_;  // "30m"
};

// The options `authd --help` lists ("  --token-ttl arg (=30m)   token lifetime ...").
std::vector<help_option> help_options() {
    const auto r = run_command({authd_bin(), "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    static const std::regex line(
        R"re(^  (?:-\w \[ )?--([a-z0-9-]+)(?: \])?(?: arg)?(?: \(=([^)]*)\))?)re");
    std::vector<help_option> out;
    std::istringstream in(r.out);
    std::string text;
    while (std::getline(in, text)) {
        std::smatch m;
        if (std::regex_search(text, m, line)) {
            out.push_back({m[1].str(), m[2].matched ? std::optional(m[2].str()) : std::nullopt});
        }
    }
    return out;
}

std::string env_name(const std::string& option) {
    std::string out = "AUTHD_";
    for (const char c : option) {
        out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

TEST(ConfigDoc, EverySettingOfHelpIsDocumentedWithItsDefault) {
    const auto options = help_options();
    ASSERT_GT(options.size(), 30U) << "could not read authd --help";
    const auto doc = read_text(tests_dir() + "/../docs/configuration.md");
    ASSERT_FALSE(doc.empty()) << "docs/configuration.md is missing";

    // The table's rows by option: "| `--token-ttl` | `AUTHD_TOKEN_TTL` | `token-ttl` | `30m` | ..."
    std::map<std::string, std::string> rows;
    static const std::regex row_start(R"re(^\| `--([a-z0-9-]+)`)re");
    std::istringstream in(doc);
    std::string text;
    while (std::getline(in, text)) {
        std::smatch m;
        if (std::regex_search(text, m, row_start)) {
            rows.emplace(m[1].str(), text);
        }
    }
    std::set<std::string> in_help;
    for (const auto& option : options) {
        SCOPED_TRACE("--" + option.name);
        in_help.insert(option.name);
        const auto row = rows.find(option.name);
        if (row == rows.end()) {
            ADD_FAILURE() << "docs/configuration.md has no row '| `--" << option.name << "` |'";
            continue;
        }
        if (option.name == "help") {
            continue;  // not a setting: no variable, no file key
        }
        const auto& cells = row->second;
        EXPECT_NE(cells.find("| `" + env_name(option.name) + "` |"), std::string::npos) << cells;
        if (option.name == "config") {
            EXPECT_NE(cells.find("| — |"), std::string::npos) << "config is no file key: " << cells;
        } else {
            EXPECT_NE(cells.find("| `" + option.name + "` |"), std::string::npos) << cells;
        }
        if (option.default_) {
            EXPECT_NE(cells.find("| `" + *option.default_ + "` |"), std::string::npos)
                << "default " << *option.default_ << " missing: " << cells;
        }
    }
    for (const auto& [name, row] : rows) {
        EXPECT_TRUE(in_help.contains(name)) << "documented but not in authd --help: " << row;
    }
}

// --- the installed systemd unit ----------------------------------------------------------------

// Whether a program is on PATH.
bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (::access((dir + "/" + program).c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

// The build tree authd was built in: authd is BUILD/server/authd.
std::optional<std::string> build_dir() {
    const auto dir = std::filesystem::path(authd_bin()).parent_path().parent_path();
    if (!std::filesystem::exists(dir / "cmake_install.cmake")) {
        return std::nullopt;
    }
    return dir.string();
}

TEST(SystemdUnit, InstalledUnitIsHardenedAndPassesSystemdAnalyzeVerify) {
    if (!on_path("systemd-analyze")) {
        GTEST_SKIP() << "systemd-analyze is missing (Debian: package systemd; "
                        "scripts/install-deps.sh installs it)";
    }
    const auto build = build_dir();
    ASSERT_TRUE(build) << "no cmake_install.cmake two levels above " << authd_bin();
    const temp_dir prefix;
    const auto install =
        run_command({"cmake", "--install", *build, "--prefix", prefix.path()}, {}, {}, 120s);
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;

    const auto bin = prefix.file("bin/authd");
    EXPECT_EQ(::access(bin.c_str(), X_OK), 0) << bin;
    EXPECT_EQ(::access(prefix.file("bin/authctl").c_str(), X_OK), 0);
    const auto unit_path = prefix.file("lib/systemd/system/authd.service");
    const auto unit = read_text(unit_path);
    ASSERT_FALSE(unit.empty()) << unit_path << " was not installed";
    EXPECT_FALSE(read_text(prefix.file("lib/sysusers.d/authd.conf")).empty());

    // ExecStart names the binary of this prefix, and the settings are in the config file.
    std::set<std::string> lines;
    std::istringstream in(unit);
    std::string line;
    while (std::getline(in, line)) {
        lines.insert(line);
    }
    EXPECT_TRUE(lines.contains("ExecStart=" + bin + " --config /etc/authd/authd.conf")) << unit;
    for (const char* wanted : {"User=authd",
                               "StateDirectory=authd",
                               "ConfigurationDirectory=authd",
                               "NoNewPrivileges=yes",
                               "ProtectSystem=strict",
                               "ProtectHome=yes",
                               "PrivateTmp=yes",
                               "PrivateDevices=yes",
                               "ProtectKernelTunables=yes",
                               "ProtectKernelModules=yes",
                               "ProtectKernelLogs=yes",
                               "ProtectControlGroups=yes",
                               "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                               "SystemCallFilter=@system-service",
                               "MemoryDenyWriteExecute=yes",
                               "LockPersonality=yes",
                               "RestrictNamespaces=yes",
                               "CapabilityBoundingSet=",
                               "AmbientCapabilities=",
                               "LimitNOFILE=65536",
                               "Restart=on-failure",
                               "RestartPreventExitStatus=2",
                               "KillSignal=SIGTERM",
                               "TimeoutStopSec=35",
                               "ExecReload=/bin/kill -HUP $MAINPID"}) {
        EXPECT_TRUE(lines.contains(wanted)) << "no line '" << wanted << "' in " << unit_path;
    }

    // verify exits 0 on mere warnings (an unknown key, a bad value): none may name the unit.
    const auto verify = run_command({"systemd-analyze", "verify", unit_path}, {}, {}, 60s);
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_EQ((verify.out + verify.err).find("authd.service"), std::string::npos)
        << verify.out << verify.err;
    // systemd's own exposure score (0 best, 10 worst): 1.5 today; fail past 2.0.
    const auto security =
        run_command({"systemd-analyze", "security", "--offline=true", "--threshold=20", unit_path},
                    {}, {}, 60s);
    EXPECT_EQ(security.exit_code, 0) << security.out << security.err;

    // The installed example /etc/authd/authd.conf is accepted; flags override its paths.
    const auto example = prefix.file("share/doc/authd/examples/authd.conf");
    const test_env env;
    authd_process authd({"--config", example, "--listen", "127.0.0.1:0", "--store", env.store_uri(),
                         "--key-file", env.key_file(), "--threads", "1", "--hash-workers", "1",
                         "--hash-memory", cheap_hash.memory, "--hash-ops", cheap_hash.ops});
    EXPECT_TRUE(authd.wait_listening(10s)) << authd.stderr_text();
    EXPECT_EQ(authd.terminate(15s), 0) << authd.stderr_text();
}

}  // namespace
}  // namespace authd_it
