// authctl's command line: its options, the commands it knows, and the dispatch to them.
#include <algorithm>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <signal.h>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/crypto/password_hasher.hpp"

#include "authctl.hpp"

namespace authctl {

namespace po = boost::program_options;

// --- command line -----------------------------------------------------------------------------

namespace {

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
                      without one (service accounts) are counted, not imported;
                      users with a second factor (otp, webauthn) or a required
                      action pending are reported by name and skipped (authd
                      would let them in with the password alone) unless
                      --allow-password-only
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
A user name is 1 to 256 bytes of UTF-8 without control characters. A new one
(user add, import) must be allowed by RFC 8265's user name rules (letters,
digits, marks and printable ASCII; single spaces between parts, none at either
end) and is stored in the form they give it (full-width letters mapped, Unicode
NFC), which every login maps a name to; authctl warns when it looks like an
existing name (Unicode's confusables, UTS #39). A password
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
        "allow-password-only", po::bool_switch(&opts.allow_password_only),
        "user import --keycloak: import users who have a second factor (otp, webauthn) or a "
        "required action pending (UPDATE_PASSWORD, ...) as password-only accounts; refused by "
        "default, each by name")(
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

}  // namespace

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
    if (opts->allow_password_only && !(import && opts->keycloak)) {
        throw usage_error("--allow-password-only applies to user import --keycloak only");
    }
    if (opts->legacy && !(cmd.group == "user" && cmd.verb == "list")) {
        throw usage_error("--legacy applies to user list only");
    }
    return cmd.run(*opts, argument);
}

}  // namespace authctl

int main(int argc, char** argv) {
    using namespace authctl;
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
