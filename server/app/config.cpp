// authd's settings, from the command line, the environment (AUTHD_...) and an optional config
// file (docs/configuration.md).
//
// One precedence: command line > environment > config file > defaults. Program_options gives it
// for free: po::store() never replaces a value stored before (only a default), so the three sources
// are stored in that order. Every message about a bad value names the setting the way the operator
// wrote it: --idle-timeout, AUTHD_IDLE_TIMEOUT or "/etc/authd/authd.conf line 3: idle-timeout".
// Every default is server_config's (config.hpp): --help and docs/configuration.md show them.
#include "app/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/stat.h>
#include <type_traits>
#include <vector>

#include <boost/program_options.hpp>

#include "authd/store/store_backend.hpp"
#include "authd/util/units.hpp"

#include "base/log.hpp"

namespace authd::server {

namespace po = boost::program_options;

// Environment variables: AUTHD_ and the option's name in capitals, '-' written '_'. Variables
// starting with AUTHD_TEST_ belong to the test suite (AUTHD_TEST_PG_URI, ...) and are ignored.
constexpr std::string_view env_prefix = "AUTHD_";
constexpr std::string_view env_test_prefix = "AUTHD_TEST_";

std::string env_name(std::string_view option) {
    std::string name(env_prefix);
    for (const char ch : option) {
        name += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return name;
}

std::string setting_origins::name(const std::string& option) const {
    const auto it = where_.find(option);
    if (it == where_.end() || it->second.from == source::command_line) {
        return "--" + option;
    }
    if (it->second.from == source::environment) {
        return env_name(option);
    }
    return file_ + " line " + std::to_string(it->second.line) + ": " + option;
}

namespace {

// Options that are not settings: the command line only.
const std::set<std::string, std::less<>> command_line_only{"help"};
// A config file cannot name another one.
const std::set<std::string, std::less<>> not_in_file{"help", "config"};

std::string text_of(std::chrono::milliseconds d) {
    return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

// Durations are taken as text ("30m") and converted after parsing; their defaults are the
// config's, written as an operator would.
struct duration_texts {
    explicit duration_texts(const server_config& c)
        : ttl(format_duration(c.token_ttl)),
          idle(text_of(c.idle_timeout)),
          request(text_of(c.request_timeout)),
          write(text_of(c.write_timeout)),
          shutdown(text_of(c.shutdown_timeout)),
          queue_timeout(text_of(c.hash_queue_timeout)),
          account_max(format_duration(c.attempts.account.max_backoff)),
          account_forgive(format_duration(c.attempts.account.forgive_every)),
          address_max(format_duration(c.attempts.address.max_backoff)),
          address_forgive(format_duration(c.attempts.address.forgive_every)),
          known_window(format_duration(c.attempts.known_address_window)) {}
    std::string ttl, idle, request, write, shutdown, queue_timeout, account_max, account_forgive,
        address_max, address_forgive, known_window;
};

struct settings {
    server_config config;
    duration_texts durations{config};
    std::string memory = format_size(config.argon2.memory_bytes);
    std::string log_level{level_name(config.log)};
    std::string config_file;
};

// Every option, with its default. docs/configuration.md has one row per option (a test checks it).
po::options_description describe(settings& s) {
    auto& c = s.config;
    auto& t = s.durations;
    po::options_description d("authd: a high-throughput login server (docs/api.md)\n\nOptions");
    // clang-format off
    d.add_options()
        ("help,h", "print this help and exit")
        ("config", po::value(&s.config_file),
            "read settings from this file, one NAME = VALUE per line (NAME: an option below "
            "without '--'); the command line and the environment win over it")
        ("listen", po::value(&c.listen)->default_value(c.listen),
            "address to listen on, HOST:PORT or [IPv6]:PORT (port 0 picks a free one)")
        ("store", po::value(&c.store)->default_value(c.store),
            "user store: sqlite:PATH or postgresql://... (a libpq URI; keep its password in a "
            "passfile, not in the URI)")
        ("key-file", po::value(&c.key_file)->required(),
            "file holding the token signing key (at least 32 bytes, mode 0600; "
            "make one with: authctl key generate PATH)")
        ("tls-cert", po::value(&c.tls_cert),
            "serve HTTPS with this PEM certificate chain (TLS 1.2 and 1.3 only)")
        ("tls-key", po::value(&c.tls_key),
            "the PEM private key of --tls-cert (mode 0600)")
        ("threads", po::value(&c.io_threads)->default_value(c.io_threads),
            "I/O threads; 0: one per core")
        ("hash-workers", po::value(&c.hash_workers)->default_value(c.hash_workers),
            "password hashing threads; 0: one per core")
        ("hash-queue", po::value(&c.hash_queue)->default_value(c.hash_queue),
            "logins waiting for a hash worker before new ones get 503; 0: 64 per worker")
        ("hash-queue-per-client", po::value(&c.hash_queue_per_client)->default_value(c.hash_queue_per_client),
            "logins one client address may have waiting; 0: a quarter of --hash-queue (at least 8)")
        ("hash-queue-timeout", po::value(&t.queue_timeout)->default_value(t.queue_timeout),
            "a login still waiting for a hash worker after this long gets 503 without hashing")
        ("hash-nice", po::value(&c.hash_nice)->default_value(c.hash_nice),
            "nice value added to hash workers (0-19), so I/O threads keep the CPU")
        ("hash-memory", po::value(&s.memory)->default_value(s.memory),
            "argon2id memory cost of new hashes (OWASP minimum: 19MiB)")
        ("hash-ops", po::value(&c.argon2.ops)->default_value(c.argon2.ops),
            "argon2id iterations of new hashes (OWASP minimum: 2)")
        ("token-ttl", po::value(&t.ttl)->default_value(t.ttl),
            "token lifetime: N, Ns, Nm, Nh or Nd")
        ("cache-entries", po::value(&c.cache_entries)->default_value(c.cache_entries),
            "user records kept in memory")
        ("idle-timeout", po::value(&t.idle)->default_value(t.idle),
            "close a keep-alive connection after this long without a request")
        ("request-timeout", po::value(&t.request)->default_value(t.request),
            "close a connection that takes longer than this to send one request")
        ("write-timeout", po::value(&t.write)->default_value(t.write),
            "close a connection that takes longer than this to read one response")
        ("shutdown-timeout", po::value(&t.shutdown)->default_value(t.shutdown),
            "on SIGTERM, how long requests in flight may take before authd exits anyway")
        ("max-header-bytes", po::value(&c.limits.header_bytes)->default_value(c.limits.header_bytes),
            "largest request line plus headers (431 past it)")
        ("max-body-bytes", po::value(&c.limits.body_bytes)->default_value(c.limits.body_bytes),
            "largest request body, which is ignored (413 past it)")
        ("max-target-bytes", po::value(&c.limits.target_bytes)->default_value(c.limits.target_bytes),
            "longest request-target (431 past it)")
        ("max-field-bytes", po::value(&c.limits.field_bytes)->default_value(c.limits.field_bytes),
            "longest header value (431 past it)")
        ("max-fields", po::value(&c.limits.fields)->default_value(c.limits.fields),
            "most headers in one request (431 past it)")
        ("max-connections", po::value(&c.max_connections)->default_value(c.max_connections),
            "connections open at once; more are answered 503 and closed")
        ("max-connections-per-address",
            po::value(&c.max_connections_per_address)->default_value(c.max_connections_per_address),
            "connections one address (IPv6: /64) may have open at once; more are answered 503; 0: no limit")
        ("max-requests-per-connection",
            po::value(&c.max_requests_per_connection)->default_value(c.max_requests_per_connection),
            "requests on one keep-alive connection before it is closed")
        ("account-free-failures",
            po::value(&c.attempts.account.free_failures)->default_value(c.attempts.account.free_failures),
            "failed logins of one account before attempts must wait; 0: no per-account limit")
        ("account-max-backoff", po::value(&t.account_max)->default_value(t.account_max),
            "longest wait imposed on one account")
        ("account-forgive", po::value(&t.account_forgive)->default_value(t.account_forgive),
            "one failed login of an account is forgotten per this interval")
        ("address-free-failures",
            po::value(&c.attempts.address.free_failures)->default_value(c.attempts.address.free_failures),
            "failed logins from one address (IPv6: /64) before attempts must wait; 0: no limit")
        ("address-max-backoff", po::value(&t.address_max)->default_value(t.address_max),
            "longest wait imposed on one address")
        ("address-forgive", po::value(&t.address_forgive)->default_value(t.address_forgive),
            "one failed login of an address is forgotten per this interval")
        ("attempt-entries", po::value(&c.attempts.max_entries)->default_value(c.attempts.max_entries),
            "accounts and addresses whose failures are remembered (each)")
        ("known-address-window", po::value(&t.known_window)->default_value(t.known_window),
            "an address the account logged in from within this window has a budget of its own "
            "for that account (failures elsewhere never make it wait); 0: off, else at least 2h")
        ("log-level", po::value(&s.log_level)->default_value(s.log_level),
            "debug, info, warn or error");
    // clang-format on
    return d;
}

constexpr std::string_view help_epilogue =
    R"(Every option but --help is also an environment variable: AUTHD_ and the name in capitals
with '-' written '_' (AUTHD_TOKEN_TTL=10m). Every option but --help and --config is also a line
of the --config file (token-ttl = 10m). Precedence: command line > environment > config file >
defaults. Unknown AUTHD_ variables and unknown names in the file are errors; variables starting
with AUTHD_TEST_ are ignored. Exit status: 0 after SIGTERM or SIGINT; 1 authd could not start
(store, key, address); 2 a bad setting. Every setting: docs/configuration.md.)";

// --- checking one value -------------------------------------------------------------------------

// Every value given is checked where it was given, also one that another source overrides: a bad
// line in the config file is reported now, not once the variable that hides it is removed.

const std::set<std::string, std::less<>> duration_options{
    "token-ttl",           "idle-timeout",       "request-timeout",     "write-timeout",
    "shutdown-timeout",    "hash-queue-timeout", "account-max-backoff", "account-forgive",
    "address-max-backoff", "address-forgive"};

// A duration whose 0 turns its feature off (--known-address-window 0); any other value is a
// duration as parse_duration() reads it, of at least min_known_address_window: a store records a
// known address's last success at most hourly (limit_store.hpp, known_address_refresh), so a
// shorter window could forget the address of an owner who logs in all the time.
std::chrono::seconds parse_window(std::string_view text) {
    if (text == "0" || text == "0s" || text == "0m" || text == "0h" || text == "0d") {
        return std::chrono::seconds(0);
    }
    const auto window = parse_duration(text);
    if (window < min_known_address_window) {
        throw std::invalid_argument("expected 0 (off) or at least 2h, got '" + std::string(text) +
                                    "'");
    }
    return window;
}

// Options whose 0 means nothing useful.
const std::set<std::string, std::less<>> positive_options{
    "max-connections", "max-requests-per-connection", "hash-ops"};

// The largest value of options where more is never meant and would hold authd at start (an
// argon2 hash of the parameters is made then: --hash-ops 1000000 took hours) or make it reserve
// what no machine has (--cache-entries is reserved whole at start, about 30 bytes an entry).
const std::map<std::string, unsigned long long, std::less<>> option_maxima{
    {"hash-ops", max_argon2_ops},
    {"threads", 256},
    {"hash-workers", 256},
    {"cache-entries", 100'000'000},
};

// (--hash-ops and --hash-memory: password_hasher.hpp's bounds, which authctl has too.)

log_level parse_level(const std::string& text) {
    if (text == "debug") {
        return log_level::debug;
    }
    if (text == "info") {
        return log_level::info;
    }
    if (text == "warn") {
        return log_level::warn;
    }
    if (text == "error") {
        return log_level::error;
    }
    throw std::invalid_argument("expected debug, info, warn or error, got '" + text + "'");
}

std::size_t parse_memory(const std::string& text) {
    const auto bytes = parse_size(text);
    // libsodium's crypto_pwhash_argon2id_MEMLIMIT_MIN; its upper limit, far beyond any machine,
    // is left to password_hasher.
    if (bytes < std::size_t{8} * 1024) {
        throw std::invalid_argument("at least 8KiB, got '" + text + "'");
    }
    if (bytes > max_argon2_memory_bytes) {
        throw std::invalid_argument("at most 4GiB, got '" + text + "'");
    }
    return bytes;
}

// Program_options converts numbers with lexical_cast, which takes "-1" for an unsigned option as
// its largest value: integers are checked here first.
template <typename T>
bool holds(const po::value_semantic* semantic) {
    return dynamic_cast<const po::typed_value<T>*>(semantic) != nullptr;
}

template <typename T>
T parse_integer(const std::string& text) {
    T value{};
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        if constexpr (std::is_unsigned_v<T>) {
            throw std::invalid_argument("not a whole number from 0 to " +
                                        std::to_string(std::numeric_limits<T>::max()) + ": '" +
                                        text + "'");
        } else {
            throw std::invalid_argument("not a whole number: '" + text + "'");
        }
    }
    return value;
}

void check_text(const po::value_semantic* semantic, const std::string& option,
                const std::string& text) {
    if (holds<unsigned long>(semantic) || holds<unsigned long long>(semantic)) {
        const auto value = parse_integer<unsigned long long>(text);
        if (value == 0 && positive_options.contains(option)) {
            throw std::invalid_argument("must be at least 1");
        }
        if (const auto max = option_maxima.find(option);
            max != option_maxima.end() && value > max->second) {
            throw std::invalid_argument("at most " + std::to_string(max->second) + ", got '" +
                                        text + "'");
        }
    } else if (holds<unsigned int>(semantic)) {
        parse_integer<unsigned int>(text);
    } else if (holds<int>(semantic)) {
        const auto value = parse_integer<int>(text);
        if (option == "hash-nice" && (value < 0 || value > 19)) {
            throw std::invalid_argument("expected 0 to 19, got '" + text + "'");
        }
    } else if (option == "known-address-window") {
        parse_window(text);
    } else if (duration_options.contains(option)) {
        parse_duration(text);
    } else if (option == "hash-memory") {
        parse_memory(text);
    } else if (option == "log-level") {
        parse_level(text);
    } else if (option == "store") {
        if (auto problem = store_scheme_problem(text); !problem.empty()) {
            throw std::invalid_argument(problem);
        }
    }
}

// Checks the value of o, a parsed option of d; name is the setting as the operator wrote it.
void check_value(const po::options_description& d, const po::option& o, const std::string& name) {
    const auto* description = d.find_nothrow(o.string_key, false);
    if (description == nullptr || o.value.empty()) {
        return;  // Program_options reports it
    }
    try {
        check_text(description->semantic().get(), o.string_key, o.value.front());
    } catch (const std::invalid_argument& e) {
        throw usage_error(name + ": " + e.what());
    }
}

// --- the three sources --------------------------------------------------------------------------

void parse_environment(const po::options_description& d, po::variables_map& vm,
                       setting_origins& from) {
    std::vector<std::string> unknown;
    auto mapper = [&](const std::string& variable) -> std::string {
        if (!variable.starts_with(env_prefix) || variable.starts_with(env_test_prefix)) {
            return {};
        }
        std::string option = variable.substr(env_prefix.size());
        std::transform(option.begin(), option.end(), option.begin(), [](char ch) {
            return ch == '_' ? '-'
                             : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        });
        // Only the exact spelling: AUTHD_TOKEN_TTL, not AUTHD_token_ttl or AUTHD_TOKEN-TTL.
        if (option.empty() || env_name(option) != variable || command_line_only.contains(option) ||
            d.find_nothrow(option, false) == nullptr) {
            unknown.push_back(variable);
            return {};
        }
        return option;
    };
    const auto parsed = po::parse_environment(d, mapper);
    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        std::string names;
        for (const auto& name : unknown) {
            names += (names.empty() ? "" : ", ") + name;
        }
        throw usage_error(names + ": not an authd setting (see authd --help; AUTHD_TEST_* " +
                          "variables are ignored)");
    }
    for (const auto& o : parsed.options) {
        const auto name = env_name(o.string_key);
        if (o.value.empty() || o.value.front().empty()) {
            throw usage_error(name + ": empty (unset the variable to leave the setting alone)");
        }
        check_value(d, o, name);
    }
    try {
        po::store(parsed, vm);
    } catch (const po::error_with_option_name& e) {
        throw usage_error(env_name(e.get_option_name()) + ": " + e.what());
    }
    for (const auto& o : parsed.options) {
        from.record(o.string_key, setting_origins::source::environment);
    }
}

std::string trim(std::string_view text) {
    constexpr std::string_view space = " \t\r\n";
    const auto begin = text.find_first_not_of(space);
    if (begin == std::string_view::npos) {
        return {};
    }
    return std::string(text.substr(begin, text.find_last_not_of(space) - begin + 1));
}

// One NAME = VALUE line of a config file.
struct file_line {
    std::size_t number;
    std::string name;
};

// The NAME = VALUE lines of a config file, checked line by line so that every message has a line
// number (Program_options' own parser, which reads the file after this, gives none). The format is
// Program_options': '#' starts a comment anywhere on a line, blanks around names and values are
// dropped, values are not quoted.
std::vector<file_line> scan_config_file(const po::options_description& d, const std::string& path,
                                        const std::string& text) {
    std::vector<file_line> lines;
    std::map<std::string, std::size_t, std::less<>> seen;
    std::istringstream in(text);
    std::string raw;
    for (std::size_t number = 1; std::getline(in, raw); ++number) {
        const std::string where = path + " line " + std::to_string(number) + ": ";
        const auto line = trim(std::string_view(raw).substr(0, raw.find('#')));
        if (line.empty()) {
            continue;
        }
        if (line.front() == '[') {
            throw usage_error(where + "sections are not used: '" + line + "'");
        }
        const auto equals = line.find('=');
        if (equals == std::string::npos) {
            throw usage_error(where + "expected NAME = VALUE, got '" + line + "'");
        }
        auto name = trim(std::string_view(line).substr(0, equals));
        const auto value = trim(std::string_view(line).substr(equals + 1));
        if (name.starts_with("--")) {
            throw usage_error(where + "write the name without '--': '" + name + "'");
        }
        if (name == "config") {
            throw usage_error(where + "config: a config file cannot name another one");
        }
        if (not_in_file.contains(name) || d.find_nothrow(name, false) == nullptr) {
            throw usage_error(where + "unknown setting '" + name + "' (see authd --help)");
        }
        if (value.empty()) {
            throw usage_error(where + name + ": no value (remove the line for the default)");
        }
        if (const auto [it, inserted] = seen.try_emplace(name, number); !inserted) {
            throw usage_error(where + name + ": set twice (first on line " +
                              std::to_string(it->second) + ")");
        }
        lines.push_back({number, std::move(name)});
    }
    return lines;
}

std::string read_config_file(const std::string& path, const std::string& setting) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw usage_error(setting + ": " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        throw usage_error(setting + ": " + path + ": not a regular file");
    }
    // Whoever can write it decides which key file authd trusts and where it listens.
    if ((st.st_mode & S_IWOTH) != 0) {
        throw usage_error(setting + ": " + path + ": writable by others (run: chmod o-w " + path +
                          ")");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        throw usage_error(setting + ": " + path + ": cannot be read: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void parse_config_file(const po::options_description& d, const std::string& path,
                       po::variables_map& vm, setting_origins& from) {
    const auto text = read_config_file(path, from.name("config"));
    const auto lines = scan_config_file(d, path, text);
    std::istringstream in(text);
    po::parsed_options parsed(&d);
    try {
        parsed = po::parse_config_file(in, d, /*allow_unregistered=*/false);
    } catch (const po::error& e) {
        throw usage_error(path + ": " + e.what());  // scan_config_file() saw it first
    }
    if (parsed.options.size() != lines.size()) {
        throw usage_error(path + ": cannot be parsed");  // not expected: the same format
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto where = path + " line " + std::to_string(lines[i].number) + ": " + lines[i].name;
        check_value(d, parsed.options[i], where);
    }
    try {
        po::store(parsed, vm);
    } catch (const po::error_with_option_name& e) {
        throw usage_error(path + ": " + e.get_option_name() + ": " + e.what());
    }
    from.set_file(path);
    for (const auto& line : lines) {
        from.record(line.name, setting_origins::source::file, line.number);
    }
}

// --- after parsing ------------------------------------------------------------------------------

// Converts what check_value() accepted (the defaults too) into config.
void convert(settings& s, const setting_origins& from) {
    auto& c = s.config;
    const auto& t = s.durations;
    const auto seconds = [](const std::string& text) { return parse_duration(text); };
    c.token_ttl = seconds(t.ttl);
    c.idle_timeout = seconds(t.idle);
    c.request_timeout = seconds(t.request);
    c.write_timeout = seconds(t.write);
    c.shutdown_timeout = seconds(t.shutdown);
    c.hash_queue_timeout = seconds(t.queue_timeout);
    c.attempts.account.max_backoff = seconds(t.account_max);
    c.attempts.account.forgive_every = seconds(t.account_forgive);
    c.attempts.address.max_backoff = seconds(t.address_max);
    c.attempts.address.forgive_every = seconds(t.address_forgive);
    c.attempts.known_address_window = parse_window(t.known_window);
    c.argon2.memory_bytes = parse_memory(s.memory);
    // Each alone was checked with its value; what is left is the two together (password_hasher's
    // bounds, the same as authctl's).
    if (const char* problem = argon2_params_problem(c.argon2)) {
        throw usage_error(from.name("hash-memory") + " x " + from.name("hash-ops") + ": argon2id " +
                          problem + ", got " + s.memory + " x " + std::to_string(c.argon2.ops));
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) {
        throw usage_error(from.name("tls-cert") + " and " + from.name("tls-key") + " go together");
    }
    c.log = parse_level(s.log_level);
}

}  // namespace

std::optional<server_config> parse_config(int argc, char** argv, setting_origins& from,
                                          std::ostream& help) {
    settings s;
    const auto d = describe(s);
    po::variables_map vm;

    // 1. The command line (Program_options' messages name the option: --threads).
    const po::positional_options_description no_positional;
    // Without Program_options' guessing: an abbreviation (--sto, --token) is an unknown flag, as
    // docs/configuration.md says, not the one setting it happens to begin.
    const auto command_line =
        po::command_line_parser(argc, argv)
            .options(d)
            .positional(no_positional)  // a word that is no flag: "too many positional options"
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run();
    for (const auto& o : command_line.options) {
        if (o.string_key == "help") {
            help << d << '\n' << help_epilogue << '\n';
            return std::nullopt;
        }
    }
    for (const auto& o : command_line.options) {
        check_value(d, o, "--" + o.string_key);
    }
    po::store(command_line, vm);
    for (const auto& o : command_line.options) {
        from.record(o.string_key, setting_origins::source::command_line);
    }

    // 2. The environment: AUTHD_ variables, including AUTHD_CONFIG.
    parse_environment(d, vm, from);

    // 3. The config file named by either.
    if (vm.count("config") != 0) {
        const auto path = vm["config"].as<std::string>();
        if (path.empty()) {
            throw usage_error(from.name("config") + ": empty path");
        }
        parse_config_file(d, path, vm, from);
    }

    try {
        po::notify(vm);
    } catch (const po::required_option& e) {
        const auto option = e.get_option_name().substr(e.get_option_name().find_first_not_of('-'));
        throw usage_error(std::string(e.what()) + " (give --" + option + ", " + env_name(option) +
                          " or '" + option + " = ...' in the --config file)");
    }
    convert(s, from);
    return s.config;
}

// A start-up message that names an option ("--listen: ..."), spelled as the operator set it.
std::string respell(const setting_origins& from, const std::string& message) {
    if (!message.starts_with("--")) {
        return message;
    }
    const auto end = message.find_first_of(": ");
    const auto option = message.substr(2, end == std::string::npos ? end : end - 2);
    return from.name(option) + message.substr(2 + option.size());
}

connection_options connection_settings(const server_config& config) {
    connection_options options;
    options.limits = config.limits;
    options.max_requests_per_connection = config.max_requests_per_connection;
    options.idle_timeout = config.idle_timeout;
    options.request_timeout = config.request_timeout;
    options.write_timeout = config.write_timeout;
    return options;
}

}  // namespace authd::server
