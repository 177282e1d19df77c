#include "authd/crypto/key_file.hpp"

#include <cstring>
#include <stdexcept>

#include <sodium.h>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/sodium.hpp"

namespace authd {

void key_file_error(const std::string& path, const std::string& why) {
    throw std::runtime_error("key file " + path + ": " + why);
}

namespace {

constexpr std::string_view ring_magic = "authd-keyring";
constexpr std::string_view ring_first_line = "authd-keyring 1";
constexpr std::size_t max_raw_bytes = 4096;  // a raw key file: HMAC hashes longer keys anyway
constexpr std::size_t max_kid_chars = 64;
// A full ring of the longest HS256 secrets, base64url, with kids and algorithms.
constexpr std::size_t max_ring_file_bytes =
    ring_first_line.size() + 1 + max_ring_keys * (max_kid_chars + 8 + max_raw_bytes * 4 / 3 + 4);

[[noreturn]] void fail_line(const std::string& path, std::size_t line, const std::string& why) {
    key_file_error(path, "line " + std::to_string(line) + ": " + why);
}

key_file parse_raw(const std::string& path, const secret_bytes& bytes) {
    if (bytes.size() > max_raw_bytes) {
        key_file_error(path, "is longer than " + std::to_string(max_raw_bytes) +
                                 " bytes and does not start with '" + std::string(ring_first_line) +
                                 "'");
    }
    if (bytes.size() < min_key_bytes) {
        key_file_error(path, "holds " + std::to_string(bytes.size()) +
                                 " bytes; a key needs at least " + std::to_string(min_key_bytes) +
                                 " (run: authctl key generate PATH)");
    }
    key_file file;
    file.raw = true;
    file.keys.push_back(
        key_entry{{}, key_algorithm::hs256, secret_bytes(bytes.data(), bytes.size())});
    return file;
}

// Decodes base64url without padding straight into wiped storage (base64url_decode returns a
// plain std::string).
std::optional<secret_bytes> decode_secret(std::string_view text) {
    secret_bytes out(text.size() * 3 / 4 + 3);
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size()) {
        return std::nullopt;
    }
    return secret_bytes(out.data(), len);
}

// "<kid> <alg> <secret>": exactly three fields, single spaces. Messages never quote the line
// (a misplaced field may be a secret) except a kid, once it is known to be a valid one.
key_entry parse_key_line(const std::string& path, std::size_t number, std::string_view line) {
    const auto space1 = line.find(' ');
    const auto space2 = space1 == std::string_view::npos ? space1 : line.find(' ', space1 + 1);
    if (space2 == std::string_view::npos || line.find(' ', space2 + 1) != std::string_view::npos ||
        space1 == 0 || space2 == space1 + 1 || space2 + 1 == line.size()) {
        fail_line(path, number, "expected '<kid> <alg> <base64url secret>' (single spaces)");
    }
    const auto kid = line.substr(0, space1);
    if (!valid_kid(kid)) {
        fail_line(path, number, "a key id is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'");
    }
    const auto alg = parse_algorithm(line.substr(space1 + 1, space2 - space1 - 1));
    if (!alg) {
        fail_line(path, number, "unknown algorithm (use HS256 or EdDSA)");
    }
    auto secret = decode_secret(line.substr(space2 + 1));
    if (!secret) {
        fail_line(path, number, "the secret is not base64url without padding");
    }
    if (*alg == key_algorithm::hs256 &&
        (secret->size() < min_key_bytes || secret->size() > max_raw_bytes)) {
        fail_line(
            path, number,
            "an HS256 secret has 32 to 4096 bytes, this one " + std::to_string(secret->size()));
    }
    if (*alg == key_algorithm::eddsa && secret->size() != crypto_sign_SEEDBYTES) {
        fail_line(path, number,
                  "an EdDSA secret is a 32-byte Ed25519 seed, this one has " +
                      std::to_string(secret->size()) + " bytes");
    }
    return key_entry{std::string(kid), *alg, std::move(*secret)};
}

void check_unique(const std::string& path, std::size_t number, const std::vector<key_entry>& keys,
                  const std::vector<std::size_t>& lines) {
    for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
        if (keys[i].kid == keys.back().kid) {
            fail_line(path, number,
                      "key id " + keys.back().kid + " repeats line " + std::to_string(lines[i]));
        }
    }
}

key_file parse_ring(const std::string& path, const secret_bytes& bytes) {
    std::string_view rest(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    key_file file;
    std::vector<std::size_t> lines;  // the line number of each key, for repeated kids
    std::size_t number = 0;
    while (!rest.empty()) {
        const auto newline = rest.find('\n');
        const auto line = rest.substr(0, newline);
        rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
        ++number;
        if (number == 1) {
            if (line != ring_first_line) {
                fail_line(path, 1, "expected '" + std::string(ring_first_line) + "'");
            }
            continue;
        }
        if (file.keys.size() == max_ring_keys) {
            fail_line(path, number,
                      "more than " + std::to_string(max_ring_keys) +
                          " keys (remove old ones: authctl key remove PATH KID)");
        }
        file.keys.push_back(parse_key_line(path, number, line));
        lines.push_back(number);
        check_unique(path, number, file.keys, lines);
    }
    if (file.keys.empty()) {
        key_file_error(path, "holds no key (add one: authctl key rotate PATH)");
    }
    return file;
}

bool starts_like_ring(const secret_bytes& bytes) {
    return bytes.size() >= ring_magic.size() &&
           std::memcmp(bytes.data(), ring_magic.data(), ring_magic.size()) == 0;
}

}  // namespace

bool valid_kid(std::string_view kid) noexcept {
    if (kid.empty() || kid.size() > max_kid_chars) {
        return false;
    }
    for (const char c : kid) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

key_file read_key_file(const std::string& path, struct stat* st) {
    init_sodium();
    struct stat ignored {};
    const secret_bytes bytes = read_private_file(path, max_ring_file_bytes, st ? st : &ignored);
    return starts_like_ring(bytes) ? parse_ring(path, bytes) : parse_raw(path, bytes);
}

namespace {

std::size_t ring_text_size(const std::vector<key_entry>& keys) {
    std::size_t size = ring_first_line.size() + 1;
    for (const auto& k : keys) {
        size +=
            k.kid.size() + 1 + algorithm_name(k.alg).size() + 1 +
            sodium_base64_ENCODED_LEN(k.secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    return size;
}

}  // namespace

void format_key_ring(const std::vector<key_entry>& keys, std::string& text) {
    text.reserve(ring_text_size(keys));
    text += ring_first_line;
    text += '\n';
    for (const auto& k : keys) {
        text += k.kid;
        text += ' ';
        text += algorithm_name(k.alg);
        text += ' ';
        base64url_append_secret(text, k.secret.data(), k.secret.size());
        text += '\n';
    }
}

std::string_view algorithm_name(key_algorithm alg) noexcept {
    return alg == key_algorithm::eddsa ? "EdDSA" : "HS256";
}

std::optional<key_algorithm> parse_algorithm(std::string_view name) noexcept {
    if (name == "HS256") {
        return key_algorithm::hs256;
    }
    if (name == "EdDSA") {
        return key_algorithm::eddsa;
    }
    return std::nullopt;
}

}  // namespace authd
