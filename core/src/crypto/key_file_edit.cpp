#include "authd/crypto/key_file_edit.hpp"

#include <sodium.h>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/sodium.hpp"
#include "authd/util/files.hpp"

namespace authd {

namespace {

constexpr std::size_t kid_random_bytes = 8;

std::string random_kid() {
    unsigned char bytes[kid_random_bytes];
    std::string kid;
    // A kid starting with '-' would read as an option on authctl's command line.
    do {
        randombytes_buf(bytes, sizeof bytes);
        kid.clear();
        base64url_append(kid, bytes, sizeof bytes);
    } while (kid.front() == '-');
    return kid;
}

// Writes the key ring atomically (util/files.hpp): authd reading the file meanwhile sees the old
// or the new file whole. The text holds the secrets: wiped on every way out.
void write_ring(const std::string& path, const std::vector<key_entry>& keys, write_mode mode,
                const struct stat* old) {
    std::string text;
    format_key_ring(keys, text);
    try {
        write_file_atomically(path, text, mode, old, "key file " + path);
    } catch (...) {
        wipe(text);
        throw;
    }
    wipe(text);
}

}  // namespace

key_entry make_key(key_algorithm alg, const std::vector<key_entry>& taken) {
    init_sodium();
    key_entry entry;
    entry.alg = alg;
    bool unique = false;
    while (!unique) {
        entry.kid = random_kid();
        unique = true;
        for (const auto& k : taken) {
            unique = unique && k.kid != entry.kid;
        }
    }
    // An Ed25519 seed and an HS256 secret are both 32 random bytes.
    entry.secret =
        secret_bytes(alg == key_algorithm::eddsa ? crypto_sign_SEEDBYTES : min_key_bytes);
    randombytes_buf(entry.secret.data(), entry.secret.size());
    return entry;
}

std::string rotate_key_file(const std::string& path, key_algorithm alg) {
    init_sodium();
    const directory_lock lock(path, "key file " + path);
    struct stat st {};
    key_file file = read_key_file(path, &st);
    if (file.keys.size() >= max_ring_keys) {
        key_file_error(path, "holds " + std::to_string(max_ring_keys) +
                                 " keys already (remove old ones: authctl key remove PATH KID)");
    }
    if (file.raw) {
        file.keys.front().kid = random_kid();
    }
    file.keys.push_back(make_key(alg, file.keys));
    write_ring(path, file.keys, write_mode::replace, &st);
    return file.keys.back().kid;
}

void remove_key(const std::string& path, std::string_view kid) {
    init_sodium();
    const directory_lock lock(path, "key file " + path);
    struct stat st {};
    key_file file = read_key_file(path, &st);
    std::size_t found = file.keys.size();
    for (std::size_t i = 0; i < file.keys.size(); ++i) {
        found = !file.keys[i].kid.empty() && file.keys[i].kid == kid ? i : found;
    }
    if (found == file.keys.size()) {
        key_file_error(path, "has no key with that id (authctl key list PATH shows them)");
    }
    if (found + 1 == file.keys.size()) {
        key_file_error(path,
                       "key " + file.keys[found].kid +
                           " is the newest key, which signs; add a new one first (authctl key "
                           "rotate PATH)");
    }
    file.keys.erase(file.keys.begin() + static_cast<std::ptrdiff_t>(found));
    write_ring(path, file.keys, write_mode::replace, &st);
}

std::string create_key_file(const std::string& path, key_algorithm alg) {
    if (alg == key_algorithm::hs256) {
        generate_key_file(path);
        return {};
    }
    init_sodium();
    std::vector<key_entry> keys;
    keys.push_back(make_key(alg, keys));
    write_ring(path, keys, write_mode::create_new, nullptr);
    return keys.back().kid;
}

}  // namespace authd
