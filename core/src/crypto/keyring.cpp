#include "authd/crypto/keyring.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <sodium.h>

namespace authd {

namespace {

constexpr std::string_view ring_magic = "authd-keyring";
constexpr std::string_view ring_first_line = "authd-keyring 1";
constexpr std::size_t max_raw_bytes = 4096;  // a raw key file: HMAC hashes longer keys anyway
constexpr std::size_t max_kid_chars = 64;
constexpr std::size_t kid_random_bytes = 8;
// A full ring of the longest HS256 secrets, base64url, with kids and algorithms.
constexpr std::size_t max_ring_file_bytes =
    ring_first_line.size() + 1 + max_ring_keys * (max_kid_chars + 8 + max_raw_bytes * 4 / 3 + 4);

void init_sodium() {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
    throw std::runtime_error("key file " + path + ": " + why);
}

[[noreturn]] void fail_line(const std::string& path, std::size_t line, const std::string& why) {
    fail(path, "line " + std::to_string(line) + ": " + why);
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// Closes a file descriptor on every path out of a function.
struct fd_guard {
    int fd = -1;
    fd_guard() = default;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

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

// --- reading
// --------------------------------------------------------------------------------------

key_file parse_raw(const std::string& path, const secret_bytes& bytes) {
    if (bytes.size() > max_raw_bytes) {
        fail(path, "is longer than " + std::to_string(max_raw_bytes) +
                       " bytes and does not start with '" + std::string(ring_first_line) + "'");
    }
    if (bytes.size() < min_key_bytes) {
        fail(path, "holds " + std::to_string(bytes.size()) + " bytes; a key needs at least " +
                       std::to_string(min_key_bytes) + " (run: authctl key generate PATH)");
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
        fail(path, "holds no key (add one: authctl key rotate PATH)");
    }
    return file;
}

bool starts_like_ring(const secret_bytes& bytes) {
    return bytes.size() >= ring_magic.size() &&
           std::memcmp(bytes.data(), ring_magic.data(), ring_magic.size()) == 0;
}

key_file read_key_file(const std::string& path, struct stat& st) {
    const secret_bytes bytes = read_private_file(path, max_ring_file_bytes, &st);
    return starts_like_ring(bytes) ? parse_ring(path, bytes) : parse_raw(path, bytes);
}

// --- writing
// --------------------------------------------------------------------------------------

std::size_t ring_text_size(const std::vector<key_entry>& keys) {
    std::size_t size = ring_first_line.size() + 1;
    for (const auto& k : keys) {
        size +=
            k.kid.size() + 1 + algorithm_name(k.alg).size() + 1 +
            sodium_base64_ENCODED_LEN(k.secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    return size;
}

// The key ring text, in storage reserved up front (a reallocation would leave a copy behind) and
// wiped by the caller.
void format_ring(const std::vector<key_entry>& keys, std::string& text) {
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

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, const std::string& path, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(path, errno_text("cannot be written"));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// A temporary file next to the key file, removed again unless it was put in place.
struct temp_file {
    std::string name;
    fd_guard file;
    bool placed = false;

    explicit temp_file(const std::string& path) : name(path + ".tmp-XXXXXX") {
        // mkostemp creates the file with mode 0600 (less if the umask says so).
        file.fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (file.fd < 0) {
            fail(path, errno_text(("cannot create " + name).c_str()));
        }
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() {
        if (!placed) {
            ::unlink(name.c_str());
        }
    }
};

// The new file gets the old one's owner: authctl run as root must not leave authd (running as
// its own user) a key file it cannot read.
void copy_owner(const temp_file& temp, const std::string& path, const struct stat* old) {
    if (old == nullptr || (old->st_uid == ::geteuid() && old->st_gid == ::getegid())) {
        return;
    }
    if (::fchown(temp.file.fd, old->st_uid, old->st_gid) != 0) {
        fail(path, errno_text("cannot give the new file the owner of the old one"));
    }
}

void sync_directory(const std::string& path) {
    const fd_guard dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.fd < 0 || ::fsync(dir.fd) != 0) {
        fail(path, errno_text("its directory cannot be synced"));
    }
}

enum class write_mode { replace, create_new };

// Writes the key ring atomically: a 0600 temporary file in the same directory, synced, then
// renamed over the old file (or linked, so that an existing file is never overwritten). authd
// reading the file meanwhile sees the old or the new file whole.
void write_ring(const std::string& path, const std::vector<key_entry>& keys, write_mode mode,
                const struct stat* old) {
    temp_file temp(path);
    if (::fchmod(temp.file.fd, S_IRUSR | S_IWUSR) != 0) {
        fail(path, errno_text("cannot set mode 0600"));
    }
    copy_owner(temp, path, old);
    std::string text;
    format_ring(keys, text);
    try {
        write_all(temp.file.fd, path, text);
    } catch (...) {
        wipe(text);
        throw;
    }
    wipe(text);
    if (::fsync(temp.file.fd) != 0) {
        fail(path, errno_text("cannot be synced"));
    }
    if (mode == write_mode::replace ? ::rename(temp.name.c_str(), path.c_str()) != 0
                                    : ::link(temp.name.c_str(), path.c_str()) != 0) {
        fail(path, errno == EEXIST ? "exists already; it is never overwritten"
                                   : errno_text("cannot be replaced"));
    }
    temp.placed = mode == write_mode::replace;  // a link leaves the temporary name to remove
    sync_directory(path);
}

// Serialises changes to key files in one directory (two authctl runs would otherwise each read
// the old file and the last rename would lose the other's key). The lock is on the directory,
// since the file itself is replaced.
struct directory_lock {
    fd_guard dir;

    explicit directory_lock(const std::string& path)
        : dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (dir.fd < 0) {
            fail(path, errno_text("cannot open its directory"));
        }
        while (::flock(dir.fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                fail(path, errno_text("cannot lock its directory"));
            }
        }
    }
};

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

}  // namespace

// --- algorithms
// -----------------------------------------------------------------------------------

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

// --- keyring
// --------------------------------------------------------------------------------------

struct keyring::key {
    std::string kid;
    key_algorithm alg = key_algorithm::hs256;
    std::string kid_header_b64;          // {"typ":"JWT","alg":..,"kid":..}; empty without kid
    std::unique_ptr<token_signer> hmac;  // HS256
    secret_bytes ed_secret;              // EdDSA: libsodium's secret key (seed and public key)
    unsigned char ed_public[crypto_sign_PUBLICKEYBYTES] = {};

    // The signature check alone: none, malformed or bad_signature.
    token_error check(const token_parts& parts) const {
        if (alg == key_algorithm::hs256) {
            return hmac->check_mac(parts.signing_input, parts.signature);
        }
        const auto signature = base64url_decode(parts.signature);
        if (!signature || signature->size() != crypto_sign_BYTES) {
            return token_error::malformed;
        }
        const bool good = crypto_sign_verify_detached(
                              reinterpret_cast<const unsigned char*>(signature->data()),
                              reinterpret_cast<const unsigned char*>(parts.signing_input.data()),
                              parts.signing_input.size(), ed_public) == 0;
        return good ? token_error::none : token_error::bad_signature;
    }
};

keyring::keyring() = default;
keyring::~keyring() = default;

void keyring::add(std::string kid, key_algorithm alg, secret_bytes secret) {
    auto k = std::make_unique<key>();
    if (!kid.empty()) {
        // A kid holds only base64url characters: nothing in it needs JSON escaping.
        const std::string header = R"({"typ":"JWT","alg":")" + std::string(algorithm_name(alg)) +
                                   R"(","kid":")" + kid + R"("})";
        base64url_append(k->kid_header_b64, reinterpret_cast<const unsigned char*>(header.data()),
                         header.size());
    }
    k->kid = std::move(kid);
    k->alg = alg;
    if (alg == key_algorithm::hs256) {
        k->hmac = std::make_unique<token_signer>(std::move(secret));
    } else {
        k->ed_secret = secret_bytes(crypto_sign_SECRETKEYBYTES);
        crypto_sign_seed_keypair(k->ed_public, k->ed_secret.data(), secret.data());
    }
    keys_.push_back(std::move(k));
}

// Builds the JWK Set once: /.well-known/jwks.json then costs nothing.
void keyring::finish() {
    jwks_ = R"({"keys":[)";
    bool first = true;
    for (const auto& k : keys_) {
        if (k->alg != key_algorithm::eddsa) {
            continue;
        }
        jwks_ += first ? "" : ",";
        first = false;
        jwks_ += R"({"kty":"OKP","crv":"Ed25519","x":")";
        base64url_append(jwks_, k->ed_public, sizeof k->ed_public);
        jwks_ += R"(","kid":")" + k->kid + R"(","alg":"EdDSA","use":"sig"})";
    }
    jwks_ += "]}";
}

std::shared_ptr<const keyring> keyring::load(const std::string& path) {
    init_sodium();
    struct stat st {};
    key_file file = read_key_file(path, st);
    std::shared_ptr<keyring> ring(new keyring());
    for (auto& k : file.keys) {
        ring->add(std::move(k.kid), k.alg, std::move(k.secret));
    }
    ring->finish();
    return ring;
}

std::shared_ptr<const keyring> keyring::from_secret(secret_bytes key) {
    init_sodium();
    if (key.size() < min_key_bytes) {
        throw std::invalid_argument("signing key shorter than 32 bytes");
    }
    std::shared_ptr<keyring> ring(new keyring());
    ring->add({}, key_algorithm::hs256, std::move(key));
    ring->finish();
    return ring;
}

void keyring::sign_into(std::string& out, std::string_view user, std::int64_t exp,
                        std::optional<std::int64_t> iat) const {
    const key& newest = *keys_.back();
    // One HS256 key: the seed's header, byte for byte (tokens look as they always did).
    const std::string_view header = keys_.size() == 1 && newest.alg == key_algorithm::hs256
                                        ? jwt_header_b64
                                        : std::string_view(newest.kid_header_b64);
    if (newest.alg == key_algorithm::hs256) {
        newest.hmac->sign_into(out, header, user, exp, iat);
        return;
    }
    out.clear();
    append_signing_input(out, header, user, exp, iat);
    unsigned char signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(out.data()),
                         out.size(), newest.ed_secret.data());
    out += '.';
    base64url_append(out, signature, sizeof signature);
}

std::string keyring::sign(std::string_view user, std::int64_t exp,
                          std::optional<std::int64_t> iat) const {
    std::string out;
    sign_into(out, user, exp, iat);
    return out;
}

const keyring::key* keyring::find_by_header(std::string_view header_b64) const noexcept {
    for (const auto& k : keys_) {
        if (!k->kid_header_b64.empty() && k->kid_header_b64 == header_b64) {
            return k.get();
        }
    }
    return nullptr;
}

namespace {

// Why a header that matches none of the ring's was refused (the error path only).
token_error classify_header(std::string_view header_b64,
                            const std::vector<key_info>& known) noexcept {
    try {
        const auto text = base64url_decode(header_b64);
        boost::json::error_code ec;
        const auto value = text ? boost::json::parse(*text, ec) : boost::json::value();
        if (!text || ec || !value.is_object()) {
            return token_error::malformed;
        }
        const auto* kid = value.get_object().if_contains("kid");
        if (kid == nullptr || !kid->is_string()) {
            return token_error::bad_algorithm;
        }
        for (const auto& k : known) {
            if (k.kid == kid->get_string()) {
                return token_error::bad_algorithm;  // a known key, with another alg or header
            }
        }
        return token_error::unknown_key;
    } catch (const std::exception&) {
        return token_error::malformed;
    }
}

std::optional<token_claims> check_claims(const token_parts& parts, std::int64_t now,
                                         token_error& err) {
    auto claims = parse_claims(parts.payload);
    if (!claims) {
        err = token_error::malformed;
        return std::nullopt;
    }
    err = check_token_times(*claims, now);
    if (err != token_error::none) {
        return std::nullopt;
    }
    return claims;
}

}  // namespace

// A token without kid was signed while the ring held one HS256 key, which may be any of its
// HS256 keys now: each is tried (at most max_ring_keys MACs). Never an EdDSA key: its public
// half is no secret, so accepting an HMAC made with it would let anyone forge tokens.
std::optional<token_claims> keyring::verify_kidless(const token_parts& parts, std::int64_t now,
                                                    token_error& err) const {
    err = token_error::bad_algorithm;  // when the ring has no HS256 key
    for (const auto& k : keys_) {
        if (k->alg != key_algorithm::hs256) {
            continue;
        }
        err = k->check(parts);
        if (err == token_error::none) {
            return check_claims(parts, now, err);
        }
        if (err == token_error::malformed) {
            return std::nullopt;  // not 32 bytes of base64url: no key can match
        }
    }
    return std::nullopt;
}

std::optional<token_claims> keyring::verify(std::string_view token, std::int64_t now,
                                            token_error* error) const {
    token_error scratch = token_error::none;
    token_error& err = error != nullptr ? *error : scratch;
    err = token_error::malformed;
    const auto parts = split_token(token);
    if (!parts) {
        return std::nullopt;
    }
    if (parts->header == jwt_header_b64) {
        return verify_kidless(*parts, now, err);
    }
    const key* k = find_by_header(parts->header);
    if (k == nullptr) {
        err = classify_header(parts->header, keys());
        return std::nullopt;
    }
    err = k->check(*parts);
    if (err != token_error::none) {
        return std::nullopt;
    }
    return check_claims(*parts, now, err);
}

const std::string& keyring::jwks() const noexcept {
    return jwks_;
}

std::vector<key_info> keyring::keys() const {
    std::vector<key_info> out;
    out.reserve(keys_.size());
    for (const auto& k : keys_) {
        out.push_back(key_info{k->kid, k->alg, k.get() == keys_.back().get()});
    }
    return out;
}

std::size_t keyring::size() const noexcept {
    return keys_.size();
}

// --- keyring_holder
// -------------------------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> next_holder_id{1};

// The ring this thread saw last, and of which holder and generation.
struct cached_ring {
    std::uint64_t holder = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<const keyring> ring;
};

thread_local cached_ring tls_ring;

}  // namespace

keyring_holder::keyring_holder(std::shared_ptr<const keyring> initial)
    : id_(next_holder_id.fetch_add(1)), ring_(std::move(initial)) {
    if (!ring_) {
        throw std::invalid_argument("keyring_holder: no key ring");
    }
}

// Threads' caches are not touched: a holder with static storage outlives the main thread's
// thread_locals, and writing to one then is a use-after-free (found by tests/fuzz; reproducer
// corpus/crash_keyring_holder_static_destroyed_after_tls_cache). Holder ids are never reused, so
// a stale cache is never taken for another holder's; it lets go at its thread's next get() or end.
keyring_holder::~keyring_holder() = default;

const std::shared_ptr<const keyring>& keyring_holder::cached() const {
    // Relaxed is enough: the ring itself is read under the mutex below, never through this load.
    const auto generation = generation_.load(std::memory_order_relaxed);
    if (tls_ring.holder == id_ && tls_ring.generation == generation) {
        return tls_ring.ring;
    }
    auto previous = std::move(tls_ring.ring);  // released after the lock, if it was the last
    const std::lock_guard lock(mutex_);
    tls_ring.ring = ring_;
    tls_ring.generation = generation_.load(std::memory_order_relaxed);
    tls_ring.holder = id_;
    return tls_ring.ring;
}

const keyring& keyring_holder::get() const {
    return *cached();
}

std::shared_ptr<const keyring> keyring_holder::current() const {
    return cached();
}

void keyring_holder::replace(std::shared_ptr<const keyring> next) {
    if (!next) {
        throw std::invalid_argument("keyring_holder: no key ring");
    }
    {
        const std::lock_guard lock(mutex_);
        ring_.swap(next);
        generation_.fetch_add(1, std::memory_order_relaxed);
    }
    // next now holds the old ring: destroyed here, outside the lock, unless threads still use it.
}

// --- editing key files
// ----------------------------------------------------------------------------

key_file read_key_file(const std::string& path) {
    init_sodium();
    struct stat st {};
    return read_key_file(path, st);
}

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
    const directory_lock lock(path);
    struct stat st {};
    key_file file = read_key_file(path, st);
    if (file.keys.size() >= max_ring_keys) {
        fail(path, "holds " + std::to_string(max_ring_keys) +
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
    const directory_lock lock(path);
    struct stat st {};
    key_file file = read_key_file(path, st);
    std::size_t found = file.keys.size();
    for (std::size_t i = 0; i < file.keys.size(); ++i) {
        found = !file.keys[i].kid.empty() && file.keys[i].kid == kid ? i : found;
    }
    if (found == file.keys.size()) {
        fail(path, "has no key with that id (authctl key list PATH shows them)");
    }
    if (found + 1 == file.keys.size()) {
        fail(path, "key " + file.keys[found].kid +
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
