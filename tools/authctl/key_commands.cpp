// authctl key generate, rotate, remove, list and public.
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "authd/crypto/key_file_edit.hpp"
#include "authd/crypto/keyring.hpp"
#include "authd/crypto/secret.hpp"

#include "authctl.hpp"

namespace authctl {

// --- key generate / rotate / remove / list / public ---------------------------------------------

namespace {

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

}  // namespace

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

}  // namespace authctl
