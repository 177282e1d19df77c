// authctl: the administrator's command line for authd's user store and signing keys.
//
// Passwords are never taken from the command line (other users can read it in /proc): they come
// from standard input, and are wiped from memory once hashed.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <signal.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <termios.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include <boost/program_options.hpp>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/crypto/key_file_edit.hpp"
#include "authd/crypto/keyring.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/util/units.hpp"

#include "hash_import.hpp"

namespace {

namespace po = boost::program_options;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

// A command line authctl cannot make sense of (exit 2).
class usage_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A request that could not be carried out (exit 1).
class command_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A string holding a password (or a file of them), wiped when it goes out of scope.
struct wiped_string {
    wiped_string() = default;
    ~wiped_string() { authd::wipe(value); }
    wiped_string(const wiped_string&) = delete;
    wiped_string& operator=(const wiped_string&) = delete;

    std::string value;
};

struct global_options {
    std::string store_uri;
    std::string hash_memory;
    std::string hash_ops;
    std::string alg;                 // --alg, for key generate and key rotate; empty: HS256
    bool hashes = false;             // user import --hashes: NAME<TAB>HASH (hash_import.hpp)
    bool keycloak = false;           // user import --keycloak: a realm export
    bool allow_weak = false;         // ... md5-crypt, apr1, PBKDF2 under 1000 iterations
    std::string max_hash_ms;         // ... the cost bound of one verification; empty: default
    std::string max_hash_memory;     // ... its memory bound; empty: default
    bool legacy = false;             // user list --legacy
    std::vector<std::string> words;  // the command and its arguments
};

// --- command line -----------------------------------------------------------------------------

constexpr std::string_view usage_text = R"(Usage: authctl [OPTIONS] COMMAND [ARGUMENT...]

Manages authd's user store and signing keys.

Commands:
  user add NAME       add a user; the password is read from standard input
  user passwd NAME    change a user's password, read from standard input
  user remove NAME    remove a user
  user list           print the user names, one per line, in byte order;
                      --legacy: only users still on an imported hash of another
                      format, as "NAME<TAB>FORMAT" (the migration's progress)
  user import FILE    add the users of FILE ('-' for standard input), one
                      "NAME<TAB>PASSWORD" per line; blank lines are ignored,
                      invalid lines reported (by number) and skipped, users
                      that exist already kept as they are
  user import --hashes FILE
                      add users with the hashes another system made, one
                      "NAME<TAB>HASH" per line (formats below); each is
                      replaced by argon2id at the user's first login. A hash
                      in no supported format, malformed, weak or costlier than
                      the bounds is reported by line and skipped
  user import --keycloak FILE
                      the same from a Keycloak realm export (realm.json or
                      users-N.json): each user's password credential; users
                      without one (service accounts) are counted, not imported
  key generate PATH   write a new signing key file to PATH, mode 0600; an
                      existing file is never overwritten. HS256 (default): 32
                      random bytes; --alg EdDSA: a key ring of one Ed25519 key
  key rotate PATH     add a new key (--alg HS256 or EdDSA) to the key file;
                      it signs once authd reloads (SIGHUP), the others keep
                      verifying; a raw key file becomes a key ring
  key remove PATH KID remove an old key: its tokens stop verifying once authd
                      reloads; the newest key (the one that signs) is kept
  key list PATH       print each key's id and algorithm, oldest first, and
                      which one signs ("-" for the id of a raw key)
  key public PATH     print the public keys (EdDSA) as a JWK Set, as authd
                      serves it at /.well-known/jwks.json

Passwords never go on the command line. From a terminal authctl asks for the
password twice without echo; otherwise it reads one line from standard input.
A user name is 1 to 256 bytes of UTF-8 without control characters, and a new
one has no space at either end (HTTP strips those from User-Name); a password
is 1 to 1024 bytes, without control characters (a tab inside is fine) and
without a space or tab at either end (HTTP strips those from the Password
header, so such a password could never log in). A NAME that starts with '-'
goes after '--'.

%FORMATS%
Exit status: 0 done; 1 the command failed (or import skipped a line);
2 usage error.
)";

po::options_description visible_options(global_options& opts) {
    po::options_description desc("Options");
    desc.add_options()("help,h", "print this help and exit")(
        "store", po::value(&opts.store_uri)->default_value("sqlite:authd.db")->value_name("URI"),
        "the user store: sqlite:PATH or postgresql://... (a libpq URI)")(
        "hash-memory", po::value(&opts.hash_memory)->default_value("19MiB")->value_name("SIZE"),
        "argon2id memory per hash (B, KiB, MiB, GiB)")(
        "hash-ops", po::value(&opts.hash_ops)->default_value("2")->value_name("N"),
        "argon2id iterations per hash")("hashes", po::bool_switch(&opts.hashes),
                                        "user import: the file holds hashes (NAME<TAB>HASH)")(
        "keycloak", po::bool_switch(&opts.keycloak), "user import: the file is a Keycloak export")(
        "allow-weak", po::bool_switch(&opts.allow_weak),
        "user import --hashes/--keycloak: accept weak formats (md5-crypt, apr1, PBKDF2 < 1000)")(
        "max-hash-ms", po::value(&opts.max_hash_ms)->value_name("MS"),
        "user import --hashes/--keycloak: refuse hashes whose verification costs more "
        "(estimated; default 1000)")(
        "max-hash-memory", po::value(&opts.max_hash_memory)->value_name("SIZE"),
        "user import --hashes/--keycloak: refuse hashes that need more memory (default 128MiB)")(
        "legacy", po::bool_switch(&opts.legacy), "user list: users on imported hashes only")(
        "alg", po::value(&opts.alg)->value_name("ALG"),
        "key generate/rotate: HS256 (default) or EdDSA");
    return desc;
}

// The parsed options, or nullopt when --help was asked for (and printed).
std::optional<global_options> parse_command_line(int argc, char** argv) {
    global_options opts;
    const po::options_description visible = visible_options(opts);
    po::options_description all;
    all.add(visible).add_options()("words", po::value(&opts.words));
    po::positional_options_description positional;
    positional.add("words", -1);
    po::variables_map vm;
    try {
        // No guessing: an abbreviation (--sto) is an unknown option, not --store.
        po::store(po::command_line_parser(argc, argv)
                      .options(all)
                      .positional(positional)
                      .style(po::command_line_style::default_style &
                             ~po::command_line_style::allow_guessing)
                      .run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw usage_error(e.what());
    }
    if (vm.count("help") != 0) {
        std::string text(usage_text);
        text.replace(text.find("%FORMATS%"), 9, authd::supported_hash_formats_help);
        std::cout << text << '\n' << visible;
        return std::nullopt;
    }
    return opts;
}

std::uint64_t parse_count(const std::string& text, std::string_view option) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        throw usage_error("--" + std::string(option) + ": not a number: '" + text + "'");
    }
    return value;
}

// Validates the hash options up front, before anyone types a password.
authd::password_hasher make_hasher(const global_options& opts) {
    authd::argon2_params params;
    params.ops = parse_count(opts.hash_ops, "hash-ops");
    try {
        params.memory_bytes = authd::parse_size(opts.hash_memory);
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--hash-memory: ") + e.what());
    }
    if (const char* problem = authd::argon2_params_problem(params)) {
        throw usage_error(std::string("--hash-memory, --hash-ops: argon2id ") + problem);
    }
    try {
        return authd::password_hasher(params);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
}

std::unique_ptr<authd::store_backend> open_backend(const global_options& opts) {
    try {
        auto store = authd::open_store(opts.store_uri);
        if (const auto warning = store->access_warning(); !warning.empty()) {
            std::cerr << "authctl: warning: " << warning << '\n';
        }
        return store;
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--store: ") + e.what());
    }
}

// Checked before anything else; the name itself is not repeated (it may hold control characters).
void require_valid_name(const std::string& name) {
    if (!authd::valid_user_name(name)) {
        throw usage_error(
            "invalid user name: it must be 1 to 256 bytes of UTF-8 without control characters");
    }
}

// A new account's name, also: one that a User-Name header can carry.
void require_new_name(const std::string& name) {
    require_valid_name(name);
    if (authd::user_name_has_outer_space(name)) {
        throw usage_error(
            "invalid user name: a space at either end, which HTTP strips from User-Name: the "
            "account could never log in");
    }
}

// --- password input ---------------------------------------------------------------------------

enum class line_status { ok, end_of_input, too_long };

// Reads up to a newline (not kept) from fd, one byte at a time: no stdio buffer keeps a copy,
// and nothing past the line is consumed. line has room reserved up front, so that it is never
// reallocated (which would leave a copy behind in freed memory).
line_status read_line(int fd, std::string& line, std::size_t limit) {
    line.clear();
    line.reserve(limit + 1);
    for (;;) {
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw command_error(std::string("cannot read standard input: ") + std::strerror(errno));
        }
        if (n == 0) {
            return line.empty() ? line_status::end_of_input : line_status::ok;
        }
        if (c == '\n') {
            return line_status::ok;
        }
        if (line.size() == limit) {
            return line_status::too_long;
        }
        line.push_back(c);
    }
}

// The terminal settings to put back if a signal ends authctl while echo is off.
termios saved_terminal{};
volatile sig_atomic_t echo_is_off = 0;

void restore_terminal_and_die(int signal_number) {
    if (echo_is_off != 0) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
    }
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
}

constexpr int terminal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Turns off echo on the terminal on standard input for its lifetime (and on Ctrl-C too).
class echo_off {
  public:
    echo_off() {
        if (tcgetattr(STDIN_FILENO, &saved_terminal) != 0) {
            throw command_error(std::string("cannot read terminal settings: ") +
                                std::strerror(errno));
        }
        for (const int sig : terminal_signals) {
            ::signal(sig, restore_terminal_and_die);
        }
        termios quiet = saved_terminal;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        echo_is_off = 1;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    ~echo_off() {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
        echo_is_off = 0;
        for (const int sig : terminal_signals) {
            ::signal(sig, SIG_DFL);
        }
    }
    echo_off(const echo_off&) = delete;
    echo_off& operator=(const echo_off&) = delete;
};

// Why no HTTP request can carry password in its Password header, or nullptr. HTTP strips spaces
// and tabs around a field value, and a value holds no control character but an inner tab (RFC
// 9110 section 5.5): such a password could be stored, but it could never log in.
const char* unsendable_password(std::string_view password) {
    constexpr std::string_view ows = " \t";
    if (!password.empty() && (ows.find(password.front()) != std::string_view::npos ||
                              ows.find(password.back()) != std::string_view::npos)) {
        return "password begins or ends with a space or tab, which HTTP strips: it could never "
               "log in";
    }
    for (const char c : password) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            return "password holds a control character, which no HTTP header can carry: it "
                   "could never log in";
        }
    }
    return nullptr;
}

// One more byte than a password may have, for a '\r' before the newline.
constexpr std::size_t password_line_limit = authd::max_password_bytes + 1;

line_status prompt_without_echo(const char* prompt, std::string& line) {
    std::cerr << prompt << std::flush;
    const echo_off quiet;
    const line_status status = read_line(STDIN_FILENO, line, password_line_limit);
    std::cerr << '\n';  // the user's Enter was not echoed
    return status;
}

void check_password(const line_status status, std::string& password) {
    if (status == line_status::end_of_input) {
        throw command_error("no password on standard input");
    }
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    if (status == line_status::too_long || password.size() > authd::max_password_bytes) {
        throw command_error("password refused: longer than " +
                            std::to_string(authd::max_password_bytes) + " bytes");
    }
    if (password.empty()) {
        throw command_error("empty password refused");
    }
    if (const char* problem = unsendable_password(password)) {
        throw command_error(std::string(problem) + "; refused");
    }
}

void read_password(wiped_string& password) {
    if (::isatty(STDIN_FILENO) == 0) {
        check_password(read_line(STDIN_FILENO, password.value, password_line_limit),
                       password.value);
        return;
    }
    check_password(prompt_without_echo("Password: ", password.value), password.value);
    wiped_string repeated;
    check_password(prompt_without_echo("Repeat password: ", repeated.value), repeated.value);
    if (repeated.value != password.value) {
        throw command_error("the passwords do not match");
    }
}

// --- user add / passwd / remove / list --------------------------------------------------------

int user_add(const global_options& opts, const std::string& name) {
    require_new_name(name);
    const auto hasher = make_hasher(opts);
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const std::string exists = "user " + name + " exists already";
    if (store.find_hash(name)) {
        throw command_error(exists);  // before asking for a password in vain
    }
    wiped_string password;
    read_password(password);
    if (!store.add_user(name, hasher.hash(password.value))) {
        throw command_error(exists);  // added by someone else meanwhile
    }
    return exit_ok;
}

int user_passwd(const global_options& opts, const std::string& name) {
    require_valid_name(name);
    const auto hasher = make_hasher(opts);
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const std::string missing = "user " + name + " does not exist";
    if (!store.find_hash(name)) {
        throw command_error(missing);
    }
    wiped_string password;
    read_password(password);
    if (!store.set_hash(name, hasher.hash(password.value))) {
        throw command_error(missing);  // removed meanwhile
    }
    return exit_ok;
}

int user_remove(const global_options& opts, const std::string& name) {
    require_valid_name(name);
    if (!open_backend(opts)->users().remove_user(name)) {
        throw command_error("user " + name + " does not exist");
    }
    return exit_ok;
}

int user_list(const global_options& opts, const std::string& /*unused*/) {
    if (opts.legacy) {
        authctl::list_legacy_users(open_backend(opts)->users(), std::cout);
        std::cout.flush();
        if (!std::cout) {
            throw command_error("cannot write to standard output");
        }
        return exit_ok;
    }
    open_backend(opts)->users().for_each_name(
        [](std::string_view name) { std::cout << name << '\n'; });
    std::cout.flush();
    if (!std::cout) {
        throw command_error("cannot write to standard output");
    }
    return exit_ok;
}

// --- user import ------------------------------------------------------------------------------

// Appends data to out; when out must grow, the old storage is wiped before it is released.
void append_wiping(std::string& out, std::string_view data) {
    if (out.size() + data.size() > out.capacity()) {
        std::string bigger;
        bigger.reserve(std::max(out.capacity() * 2, out.size() + data.size()));
        bigger.append(out);
        authd::wipe(out);
        out.swap(bigger);
    }
    out.append(data);
}

// Closes a file descriptor authctl opened (never standard input).
struct fd_closer {
    int fd;
    ~fd_closer() {
        if (fd != STDIN_FILENO) {
            ::close(fd);
        }
    }
};

// The longest line of an import file: a 256-byte name, a tab, a 1024-byte password and a CR fit
// many times over. Bytes of a line past it are not kept (memory stays bounded by the number of
// lines, whatever the file: /dev/zero, one 300 MB line); plan_import reports the line.
constexpr std::size_t max_import_line_bytes = 4096;

// Reads file ("-": standard input) into content, keeping at most max_import_line_bytes + 1 bytes
// of each line.
void read_whole_file(const std::string& file, std::string& content) {
    const fd_closer in{file == "-" ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        throw command_error("cannot open " + file + ": " + std::strerror(errno));
    }
    wiped_string chunk;
    chunk.value.resize(std::size_t{64} * 1024);
    for (;;) {
        const ssize_t n = ::read(in.fd, chunk.value.data(), chunk.value.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw command_error("cannot read " + file + ": " + std::strerror(errno));
        }
        if (n == 0) {
            return;
        }
        std::string_view data(chunk.value.data(), static_cast<std::size_t>(n));
        while (!data.empty()) {
            const auto newline = data.find('\n');
            const auto part = data.substr(0, newline);
            const auto line_start = content.rfind('\n');
            const std::size_t line_bytes =
                content.size() - (line_start == std::string::npos ? 0 : line_start + 1);
            if (line_bytes <= max_import_line_bytes) {
                append_wiping(content, part.substr(0, max_import_line_bytes + 1 - line_bytes));
            }
            if (newline == std::string_view::npos) {
                break;
            }
            append_wiping(content, "\n");
            data.remove_prefix(newline + 1);
        }
    }
}

// One valid line of an import file; the views point into the file's content.
struct import_entry {
    std::size_t line_number;
    std::string_view name;
    std::string_view password;
};

struct import_plan {
    std::vector<import_entry> entries;
    std::size_t skipped = 0;
};

// Why a line cannot be imported, or nullptr. A name holds no tab, so the first tab ends it and
// the password may hold tabs.
const char* import_line_problem(std::string_view line, import_entry& entry) {
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) {
        return "no tab between name and password";
    }
    entry.name = line.substr(0, tab);
    entry.password = line.substr(tab + 1);
    if (!authd::valid_user_name(entry.name)) {
        return "invalid user name";
    }
    if (authd::user_name_has_outer_space(entry.name)) {
        return "user name begins or ends with a space, which HTTP strips: it could never log in";
    }
    if (entry.password.empty()) {
        return "empty password";
    }
    if (entry.password.size() > authd::max_password_bytes) {
        return "password longer than 1024 bytes";
    }
    if (const char* problem = unsendable_password(entry.password)) {
        return problem;
    }
    return nullptr;
}

// Reports a skipped line by number and reason only: the line may be a password.
void report_skipped(import_plan& plan, std::size_t line_number, const std::string& why) {
    std::cerr << "authctl: line " << line_number << ": " << why << "; skipped\n";
    ++plan.skipped;
}

import_plan plan_import(std::string_view content) {
    import_plan plan;
    if (content.starts_with("\xEF\xBB\xBF")) {
        content.remove_prefix(3);  // a UTF-8 byte order mark (Windows tools): not the first name
    }
    std::unordered_map<std::string_view, std::size_t> first_line;  // name -> line number
    std::size_t line_number = 0;
    while (!content.empty()) {
        const auto newline = content.find('\n');
        std::string_view line = content.substr(0, newline);
        content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
        ++line_number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            continue;
        }
        if (line.size() > max_import_line_bytes) {
            report_skipped(plan, line_number,
                           "longer than " + std::to_string(max_import_line_bytes) + " bytes");
            continue;
        }
        import_entry entry{line_number, {}, {}};
        if (const char* problem = import_line_problem(line, entry)) {
            report_skipped(plan, line_number, problem);
            continue;
        }
        const auto [first, inserted] = first_line.emplace(entry.name, line_number);
        if (!inserted) {
            report_skipped(plan, line_number,
                           "user " + std::string(entry.name) + " repeats line " +
                               std::to_string(first->second));
            continue;
        }
        plan.entries.push_back(entry);
    }
    return plan;
}

// Prints "hashed N/TOTAL" about once a second until the workers are done, then once more.
void show_progress(const std::atomic<std::size_t>& done, std::size_t total,
                   const std::atomic<unsigned>& running) {
    using clock = std::chrono::steady_clock;
    auto last = clock::now();
    while (running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (clock::now() - last >= std::chrono::seconds(1)) {
            std::cerr << "authctl: hashed " << done.load() << '/' << total << '\n';
            last = clock::now();
        }
    }
    std::cerr << "authctl: hashed " << done.load() << '/' << total << '\n';
}

// Hashes every entry's password, on all cores: argon2id is made to be slow.
std::vector<authd::user_record> hash_all(const authd::password_hasher& hasher,
                                         const std::vector<import_entry>& entries) {
    std::vector<authd::user_record> records(entries.size());
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::mutex error_mutex;
    std::exception_ptr error;  // the first failure; the other workers then stop
    const unsigned threads = static_cast<unsigned>(
        std::min<std::size_t>(std::max(1U, std::thread::hardware_concurrency()), entries.size()));
    std::atomic<unsigned> running{threads};
    auto work = [&] {
        try {
            for (std::size_t i = next++; i < entries.size(); i = next++) {
                records[i].name = entries[i].name;
                records[i].phc = hasher.hash(entries[i].password);
                ++done;
            }
        } catch (...) {
            const std::lock_guard lock(error_mutex);
            error = error ? error : std::current_exception();
            next = entries.size();
        }
        --running;
    };
    std::vector<std::jthread> workers;
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back(work);
    }
    show_progress(done, entries.size(), running);
    workers.clear();  // joins
    if (error) {
        std::rethrow_exception(error);
    }
    return records;
}

// user import --hashes / --keycloak (hash_import.hpp): no argon2id work, so no hasher.
int user_import_hashes(const global_options& opts, const std::string& file) {
    authctl::hash_import_options import;
    import.limits.allow_weak = opts.allow_weak;
    if (!opts.max_hash_ms.empty()) {
        import.limits.max_milliseconds =
            static_cast<double>(parse_count(opts.max_hash_ms, "max-hash-ms"));
    }
    if (!opts.max_hash_memory.empty()) {
        try {
            import.limits.max_memory_bytes = authd::parse_size(opts.max_hash_memory);
        } catch (const std::invalid_argument& e) {
            throw usage_error(std::string("--max-hash-memory: ") + e.what());
        }
    }
    import.progress = ::isatty(STDERR_FILENO) != 0;
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const fd_closer in{file == "-" ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        throw command_error("cannot open " + file + ": " + std::strerror(errno));
    }
    try {
        const auto counts = opts.keycloak ? authctl::import_keycloak(store, in.fd, import)
                                          : authctl::import_hash_lines(store, in.fd, import);
        std::cout << "added: " << counts.added << ", existed already: " << counts.existed
                  << (opts.keycloak ? ", users skipped: " : ", lines skipped: ") << counts.skipped;
        if (opts.keycloak) {
            std::cout << ", without a password: " << counts.without_password
                      << ", disabled: " << counts.disabled;
        }
        std::cout << std::endl;
        return counts.skipped == 0 ? exit_ok : exit_failed;
    } catch (const authctl::import_error& e) {
        throw command_error(file + ": " + e.what());
    }
}

int user_import(const global_options& opts, const std::string& file) {
    if (opts.hashes || opts.keycloak) {
        return user_import_hashes(opts, file);
    }
    const auto hasher = make_hasher(opts);
    const auto backend = open_backend(opts);
    auto& store = backend->users();  // fails before the long part, if it fails
    wiped_string content;
    read_whole_file(file, content.value);
    const import_plan plan = plan_import(content.value);
    const auto records = hash_all(hasher, plan.entries);
    const std::size_t added = store.add_users(records);
    std::cout << "added: " << added << ", existed already: " << records.size() - added
              << ", lines skipped: " << plan.skipped << std::endl;
    return plan.skipped == 0 ? exit_ok : exit_failed;
}

// --- key generate / rotate / remove / list / public ---------------------------------------------

authd::key_algorithm algorithm_of(const global_options& opts) {
    if (opts.alg.empty()) {
        return authd::key_algorithm::hs256;
    }
    const auto alg = authd::parse_algorithm(opts.alg);
    if (!alg) {
        throw usage_error("--alg: expected HS256 or EdDSA, got '" + opts.alg + "'");
    }
    return *alg;
}

void print_new_key(std::string_view kid, authd::key_algorithm alg) {
    std::cout << (kid.empty() ? std::string_view("-") : kid) << ' ' << authd::algorithm_name(alg)
              << std::endl;
}

int key_generate(const global_options& opts, const std::string& path) {
    const auto alg = algorithm_of(opts);
    const auto kid = authd::create_key_file(path, alg);
    if (alg != authd::key_algorithm::hs256) {
        print_new_key(kid, alg);
    }
    return exit_ok;
}

// Prints the new key's id and algorithm: the operator needs the id to remove the old key later.
int key_rotate(const global_options& opts, const std::string& path) {
    const auto alg = algorithm_of(opts);
    print_new_key(authd::rotate_key_file(path, alg), alg);
    return exit_ok;
}

// The KID is the command's third word (find_command and argument_of checked there is one).
int key_remove(const global_options& opts, const std::string& path) {
    authd::remove_key(path, opts.words.at(3));
    return exit_ok;
}

// Ids and algorithms only: never a secret, so its output may go into tickets and logs.
int key_list(const global_options& /*unused*/, const std::string& path) {
    for (const auto& key : authd::keyring::load(path)->keys()) {
        std::cout << (key.kid.empty() ? "-" : key.kid) << ' ' << authd::algorithm_name(key.alg)
                  << (key.signs ? " signing" : " verifying") << '\n';
    }
    std::cout.flush();
    if (!std::cout) {
        throw command_error("cannot write to standard output");
    }
    return exit_ok;
}

int key_public(const global_options& /*unused*/, const std::string& path) {
    std::cout << authd::keyring::load(path)->jwks() << std::endl;
    if (!std::cout) {
        throw command_error("cannot write to standard output");
    }
    return exit_ok;
}

// --- dispatch ---------------------------------------------------------------------------------

struct command {
    std::string_view group;
    std::string_view verb;
    std::string_view argument;  // its name(s) for messages, space-separated; empty: none
    int (*run)(const global_options&, const std::string& argument);  // gets the first argument
    bool takes_alg = false;                                          // accepts --alg
};

constexpr command commands[] = {
    {"user", "add", "NAME", user_add},           {"user", "passwd", "NAME", user_passwd},
    {"user", "remove", "NAME", user_remove},     {"user", "list", "", user_list},
    {"user", "import", "FILE", user_import},     {"key", "generate", "PATH", key_generate, true},
    {"key", "rotate", "PATH", key_rotate, true}, {"key", "remove", "PATH KID", key_remove},
    {"key", "list", "PATH", key_list},           {"key", "public", "PATH", key_public},
};

const command& find_command(const std::vector<std::string>& words) {
    if (words.empty()) {
        throw usage_error("no command given");
    }
    const bool known_group = std::any_of(std::begin(commands), std::end(commands),
                                         [&](const command& c) { return c.group == words[0]; });
    if (!known_group || words.size() < 2) {
        // Only the first word is repeated: a mistyped line may go on with a password.
        throw usage_error("unknown command '" + words[0] + "'");
    }
    for (const auto& c : commands) {
        if (c.group == words[0] && c.verb == words[1]) {
            return c;
        }
    }
    throw usage_error("unknown command '" + words[0] + " " + words[1] + "'");
}

std::string argument_of(const command& cmd, const std::vector<std::string>& words) {
    const std::size_t arguments = cmd.argument.empty()
                                      ? 0
                                      : 1 + static_cast<std::size_t>(std::count(
                                                cmd.argument.begin(), cmd.argument.end(), ' '));
    if (words.size() == 2 + arguments) {
        return arguments > 0 ? words[2] : std::string();
    }
    // The extra words are not repeated: one of them may be a password.
    std::string message = std::string(cmd.group) + " " + std::string(cmd.verb);
    message += arguments == 0   ? " takes no argument"
               : arguments == 1 ? " takes one argument, " + std::string(cmd.argument)
                                : " takes the arguments " + std::string(cmd.argument);
    if (cmd.argument == "NAME" && cmd.verb != "remove") {
        message += " (the password is read from standard input)";
    }
    throw usage_error(message);
}

int run(int argc, char** argv) {
    const auto opts = parse_command_line(argc, argv);
    if (!opts) {
        return exit_ok;
    }
    const command& cmd = find_command(opts->words);
    const auto argument = argument_of(cmd, opts->words);
    if (!opts->alg.empty() && !cmd.takes_alg) {
        throw usage_error("--alg applies to key generate and key rotate only");
    }
    const bool import = cmd.group == "user" && cmd.verb == "import";
    if ((opts->hashes && opts->keycloak) || (!import && (opts->hashes || opts->keycloak)) ||
        (!(opts->hashes || opts->keycloak) &&
         (opts->allow_weak || !opts->max_hash_ms.empty() || !opts->max_hash_memory.empty()))) {
        throw usage_error(
            "--hashes or --keycloak (one of them) go with user import, and "
            "--allow-weak, --max-hash-ms, --max-hash-memory with either");
    }
    if (opts->legacy && !(cmd.group == "user" && cmd.verb == "list")) {
        throw usage_error("--legacy applies to user list only");
    }
    return cmd.run(*opts, argument);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const usage_error& e) {
        std::cerr << "authctl: " << e.what() << "\nTry 'authctl --help'.\n";
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "authctl: " << e.what() << '\n';
        return exit_failed;
    }
}
