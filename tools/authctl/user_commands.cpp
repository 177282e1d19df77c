// authctl user add, passwd, remove, list and import.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/store/user_name_profile.hpp"
#include "authd/util/units.hpp"

#include "authctl.hpp"
#include "hash_import.hpp"
#include "import_plan.hpp"

namespace authctl {

// --- user add / passwd / remove / list --------------------------------------------------------

namespace {

// The stored name a command means, when an account has one: the name as it is (an older store's
// names were not enforced), else the form RFC 8265's profile gives it ("john" for "ｊｏｈｎ").
std::optional<std::string> existing_name(authd::user_store& store, const std::string& name) {
    if (store.find_hash(name)) {
        return name;
    }
    auto enforced = authd::enforce_user_name(name);
    if (enforced && enforced.name != name && store.find_hash(enforced.name)) {
        return std::move(enforced.name);
    }
    return std::nullopt;
}

}  // namespace

int user_add(const global_options& opts, const std::string& requested) {
    const auto name = require_new_name(requested);
    const auto hasher = make_hasher(opts);
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const std::string exists = "user " + name + " exists already";
    if (store.find_hash(name)) {
        throw command_error(exists);  // before asking for a password in vain
    }
    if (name != requested) {
        std::cerr << "authctl: the name is stored as " << name
                  << ", the form RFC 8265 gives it (full-width and half-width forms mapped, "
                     "Unicode NFC): a login by either form reaches it\n";
    }
    lookalike_names lookalikes(store);
    warn_if_lookalike(lookalikes, name);
    wiped_string password;
    read_password(password);
    if (!store.add_user(name, hasher.hash(password.value))) {
        throw command_error(exists);  // added by someone else meanwhile
    }
    return exit_ok;
}

int user_passwd(const global_options& opts, const std::string& given) {
    require_valid_name(given);
    const auto hasher = make_hasher(opts);
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const std::string missing = "user " + given + " does not exist";
    const auto name = existing_name(store, given);
    if (!name) {
        throw command_error(missing);
    }
    wiped_string password;
    read_password(password);
    if (!store.set_hash(*name, hasher.hash(password.value))) {
        throw command_error(missing);  // removed meanwhile
    }
    return exit_ok;
}

int user_remove(const global_options& opts, const std::string& given) {
    require_valid_name(given);
    const auto backend = open_backend(opts);
    auto& store = backend->users();
    const auto name = existing_name(store, given);
    if (!name || !store.remove_user(*name)) {  // (or removed meanwhile)
        throw command_error("user " + given + " does not exist");
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
        [](std::string_view name) { std::cout << authd::printable_user_name(name) << '\n'; });
    std::cout.flush();
    if (!std::cout) {
        throw command_error("cannot write to standard output");
    }
    return exit_ok;
}

namespace {

int user_import_hashes(const global_options& opts, const std::string& file) {
    authctl::hash_import_options import;
    import.limits.allow_weak = opts.allow_weak;
    import.allow_password_only = opts.allow_password_only;
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

}  // namespace

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
    lookalike_names lookalikes(store);
    for (const auto& entry : plan.entries) {
        warn_if_lookalike(lookalikes, entry.name);
    }
    const auto records = hash_all(hasher, plan.entries);
    const std::size_t added = store.add_users(records);
    std::cout << "added: " << added << ", existed already: " << records.size() - added
              << ", lines skipped: " << plan.skipped << std::endl;
    return plan.skipped == 0 ? exit_ok : exit_failed;
}

}  // namespace authctl
