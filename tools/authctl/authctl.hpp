// authctl's parts (tools/authctl/): the administrator's command line for authd's user store and
// signing keys. One file by job: main.cpp (the command line and the dispatch), options.cpp (what
// the options make: a hasher, a store), password_input.cpp (passwords from a terminal or a pipe),
// user_commands.cpp, import_plan.cpp (a file of passwords to import), hash_import.cpp (a file of
// other systems' hashes), names.cpp (new names' checks, names that look like others),
// key_commands.cpp.
//
// Passwords are never taken from the command line (other users can read it in /proc): they come
// from standard input, and are wiped from memory once hashed.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "authd/crypto/password_hasher.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/store/store_backend.hpp"

namespace authctl {

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
    std::string alg;                   // --alg, for key generate and key rotate; empty: HS256
    bool hashes = false;               // user import --hashes: NAME<TAB>HASH (hash_import.hpp)
    bool keycloak = false;             // user import --keycloak: a realm export
    bool allow_weak = false;           // ... md5-crypt, apr1, PBKDF2 under 1000 iterations
    bool allow_password_only = false;  // --keycloak: users with a second factor or an action
    std::string max_hash_ms;           // ... the cost bound of one verification; empty: default
    std::string max_hash_memory;       // ... its memory bound; empty: default
    bool legacy = false;               // user list --legacy
    std::vector<std::string> words;    // the command and its arguments
};

// --- options.cpp: what the options make --------------------------------------------------------

std::uint64_t parse_count(const std::string& text, std::string_view option);
// Validates the hash options up front, before anyone types a password.
authd::password_hasher make_hasher(const global_options& opts);
std::unique_ptr<authd::store_backend> open_backend(const global_options& opts);
// Checked before anything else; the name itself is not repeated (it may hold control characters).
void require_valid_name(const std::string& name);
// A new account's name, also: one that a User-Name header can carry, allowed by RFC 8265's
// profile (user_name_profile.hpp). Returns the form to store: the profile's.
std::string require_new_name(const std::string& name);

// --- names.cpp ---------------------------------------------------------------------------------

// An imported name's problem, for the line's or the user's report ("" when none), and the form
// to store it in (stored): the checks of require_new_name(), worded for a report.
std::string imported_name_problem(std::string_view name, std::string& stored);

// The names seen so far by their UTS #39 skeleton: the store's, then each new one checked.
class lookalike_names {
  public:
    explicit lookalike_names(authd::user_store& store);  // reads every name of the store once

    // The name seen before that name looks like but is not (a Cyrillic "а" for a Latin "a",
    // "rn" for "m"), or nullptr; name counts as seen from now on.
    const std::string* check(const std::string& name);

  private:
    // A digest of each skeleton (not the skeleton: an import of a million names keeps one
    // allocation per name fewer) and the first name seen with it.
    std::unordered_map<std::uint64_t, std::string> by_skeleton_;
};

// The warning on standard error that name looks like other.
void warn_lookalike(const std::string& name, const std::string& other);
// check(), and the warning when name looks like another.
void warn_if_lookalike(lookalike_names& names, const std::string& name);

// --- password_input.cpp ------------------------------------------------------------------------

// One password: from a terminal, asked twice without echo; otherwise one line of standard input.
// Checked as the server will see it (docs/api.md): refused (command_error) when HTTP could not
// carry it.
void read_password(wiped_string& password);

// Why HTTP could not carry password in a Password header (a control character, a space or tab at
// either end, longer than max_password_bytes), or nullptr.
const char* unsendable_password(std::string_view password);

// --- import_plan.cpp -----------------------------------------------------------------------------

// The whole of file ('-': standard input) into content, which is wiped when it grows.
void read_whole_file(const std::string& file, std::string& content);

// Closes a file descriptor authctl opened (never standard input).
struct fd_closer {
    int fd;
    ~fd_closer();
};

// --- commands: each takes the options and its argument, returns the exit status ----------------

int user_add(const global_options& opts, const std::string& name);
int user_passwd(const global_options& opts, const std::string& name);
int user_remove(const global_options& opts, const std::string& name);
int user_list(const global_options& opts, const std::string& unused);
int user_import(const global_options& opts, const std::string& file);
int key_generate(const global_options& opts, const std::string& path);
int key_rotate(const global_options& opts, const std::string& path);
int key_remove(const global_options& opts, const std::string& path);
int key_list(const global_options& opts, const std::string& path);
int key_public(const global_options& opts, const std::string& path);

}  // namespace authctl
