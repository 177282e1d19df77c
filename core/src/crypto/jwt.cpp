#include "authd/crypto/jwt.hpp"

#include <atomic>
#include <charconv>
#include <stdexcept>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "authd/crypto/sodium.hpp"
#include "authd/util/text.hpp"

namespace authd {

namespace {

constexpr std::size_t mac_bytes = 32;

std::atomic<std::uint64_t> next_signer_id{1};

// A few keyed HMAC contexts per thread, one per signer recently used there, each duplicated once
// from its signer's template: signing then costs a re-initialisation (no algorithm fetch, no key
// schedule) and the MAC. Several slots because a key ring checks tokens of an old key next to
// the new key's during a rotation; one slot would duplicate a context at every switch.
struct thread_mac_cache {
    static constexpr std::size_t slots = 8;
    std::uint64_t ids[slots] = {};
    EVP_MAC_CTX* contexts[slots] = {};
    std::size_t next_victim = 0;  // round robin: simple, and a miss is rare

    thread_mac_cache() = default;
    thread_mac_cache(const thread_mac_cache&) = delete;
    thread_mac_cache& operator=(const thread_mac_cache&) = delete;
    ~thread_mac_cache() {
        for (auto* ctx : contexts) {
            EVP_MAC_CTX_free(ctx);
        }
    }

    EVP_MAC_CTX* find(std::uint64_t id) const {
        for (std::size_t i = 0; i < slots; ++i) {
            if (ids[i] == id) {
                return contexts[i];
            }
        }
        return nullptr;
    }

    EVP_MAC_CTX* add(std::uint64_t id, const EVP_MAC_CTX* keyed) {
        const std::size_t i = next_victim++ % slots;
        EVP_MAC_CTX_free(contexts[i]);
        contexts[i] = EVP_MAC_CTX_dup(keyed);
        ids[i] = contexts[i] != nullptr ? id : 0;
        if (contexts[i] == nullptr) {
            throw std::runtime_error("OpenSSL: cannot duplicate the HMAC context");
        }
        return contexts[i];
    }
};

thread_local thread_mac_cache tls_macs;

}  // namespace

struct hs256_key::impl {
    secret_bytes key;
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* keyed = nullptr;
    std::uint64_t id = next_signer_id.fetch_add(1);

    ~impl() {
        EVP_MAC_CTX_free(keyed);
        EVP_MAC_free(mac);
    }

    EVP_MAC_CTX* thread_context() const {
        EVP_MAC_CTX* ctx = tls_macs.find(id);
        return ctx != nullptr ? ctx : tls_macs.add(id, keyed);
    }
};

hs256_key::hs256_key(secret_bytes key) : impl_(std::make_unique<impl>()) {
    if (key.size() < min_key_bytes) {
        throw std::invalid_argument("signing key shorter than 32 bytes");
    }
    init_sodium();
    impl_->key = std::move(key);
    impl_->mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (impl_->mac == nullptr) {
        throw std::runtime_error("OpenSSL: HMAC is not available");
    }
    impl_->keyed = EVP_MAC_CTX_new(impl_->mac);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (impl_->keyed == nullptr ||
        EVP_MAC_init(impl_->keyed, impl_->key.data(), impl_->key.size(), params) != 1) {
        throw std::runtime_error("OpenSSL: cannot key HMAC-SHA256");
    }
}

hs256_key::~hs256_key() = default;

void hs256_key::mac(std::string_view data, unsigned char out[32]) const {
    EVP_MAC_CTX* ctx = impl_->thread_context();
    std::size_t len = 0;
    // EVP_MAC_init with no key restarts HMAC from the key's precomputed inner state.
    if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
            1 ||
        EVP_MAC_final(ctx, out, &len, mac_bytes) != 1 || len != mac_bytes) {
        throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
    }
}

// Token parts are public: OpenSSL's table-driven encoder, then the URL-safe alphabet and no
// padding. (libsodium's constant-time encoder was ~45% of a token's signing time: bench/token.)
void base64url_append(std::string& out, const unsigned char* data, std::size_t size) {
    const std::size_t at = out.size();
    out.resize(at + 4 * ((size + 2) / 3) + 1);  // EVP_EncodeBlock writes a NUL too
    auto* begin = reinterpret_cast<unsigned char*>(out.data() + at);
    const int written = EVP_EncodeBlock(begin, data, static_cast<int>(size));
    auto* end = begin + written;
    while (end > begin && end[-1] == '=') {
        --end;
    }
    for (auto* p = begin; p != end; ++p) {
        *p = *p == '+' ? '-' : (*p == '/' ? '_' : *p);
    }
    out.resize(at + static_cast<std::size_t>(end - begin));
}

void base64url_append_secret(std::string& out, const unsigned char* data, std::size_t size) {
    constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    const std::size_t encoded = sodium_base64_ENCODED_LEN(size, variant);  // includes the NUL
    const std::size_t at = out.size();
    out.resize(at + encoded);
    sodium_bin2base64(out.data() + at, encoded, data, size, variant);
    out.resize(at + encoded - 1);
}

// What decodes here is public (a token's header, payload or signature; secrets are decoded into
// wiped storage elsewhere): OpenSSL's table-driven decoder, after mapping the URL-safe alphabet
// to the standard one. As strict as libsodium's constant-time decoder, which took a third of a
// token's check (bench/token): the URL-safe alphabet only, no padding, no whitespace, and the
// bits after the last byte zero (one encoding per byte string).
std::optional<std::string> base64url_decode(std::string_view text) {
    const std::size_t rest = text.size() % 4;
    if (rest == 1 || text.size() > std::size_t{1024} * 1024) {
        return std::nullopt;
    }
    thread_local std::string standard;
    standard.assign(text);
    unsigned last = 0;  // the value of the last character
    for (char& c : standard) {
        if (c >= 'A' && c <= 'Z') {
            last = static_cast<unsigned>(c - 'A');
        } else if (c >= 'a' && c <= 'z') {
            last = static_cast<unsigned>(c - 'a') + 26;
        } else if (c >= '0' && c <= '9') {
            last = static_cast<unsigned>(c - '0') + 52;
        } else if (c == '-') {
            c = '+';
            last = 62;
        } else if (c == '_') {
            c = '/';
            last = 63;
        } else {
            return std::nullopt;
        }
    }
    std::size_t padding = 0;
    if (rest != 0) {
        // 2 characters carry one byte and 4 spare bits, 3 carry two bytes and 2 spare bits.
        if ((last & (rest == 2 ? 0x0fU : 0x03U)) != 0) {
            return std::nullopt;
        }
        padding = 4 - rest;
        standard.append(padding, '=');
    }
    std::string out(standard.size() / 4 * 3, '\0');
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                        reinterpret_cast<const unsigned char*>(standard.data()),
                                        static_cast<int>(standard.size()));
    if (decoded < 0 || static_cast<std::size_t>(decoded) != out.size()) {
        return std::nullopt;
    }
    out.resize(out.size() - padding);  // EVP_DecodeBlock counts the padding as zero bytes
    return out;
}

namespace {

void append_integer(std::string& out, std::int64_t value) {
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, res.ptr);
}

}  // namespace

void append_signing_input(std::string& out, std::string_view header_b64, std::string_view user,
                          std::int64_t exp, std::optional<std::int64_t> iat) {
    // The payload is written by hand: four fields, one escaped string, no JSON library needed.
    std::string payload;
    payload.reserve(80 + user.size());
    payload += R"({"user":")";
    append_json_escaped(payload, user);
    payload += R"(","exp":)";
    append_integer(payload, exp);
    payload += R"(,"jti":")";
    payload += new_token_id();
    payload += '"';
    if (iat) {
        payload += R"(,"iat":)";
        append_integer(payload, *iat);
    }
    payload += '}';

    out.reserve(out.size() + header_b64.size() + payload.size() * 4 / 3 + 50);
    out += header_b64;
    out += '.';
    base64url_append(out, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
}

void hs256_key::sign_into(std::string& out, std::string_view header_b64, std::string_view user,
                          std::int64_t exp, std::optional<std::int64_t> iat) const {
    out.clear();
    append_signing_input(out, header_b64, user, exp, iat);
    unsigned char sig[mac_bytes];
    mac(out, sig);
    out += '.';
    base64url_append(out, sig, sizeof sig);
}

void hs256_key::sign_into(std::string& out, std::string_view user, std::int64_t exp,
                          std::optional<std::int64_t> iat) const {
    sign_into(out, jwt_header_b64, user, exp, iat);
}

std::string hs256_key::sign(std::string_view user, std::int64_t exp,
                            std::optional<std::int64_t> iat) const {
    std::string out;
    sign_into(out, user, exp, iat);
    return out;
}

token_error header_error(std::string_view header_b64) {
    const auto header = base64url_decode(header_b64);
    if (!header) {
        return token_error::malformed;
    }
    boost::json::error_code ec;
    const auto value = boost::json::parse(*header, ec);
    if (ec || !value.is_object()) {
        return token_error::malformed;
    }
    // Valid JSON but not authd's header: another algorithm ("none", RS256, ...), or a header
    // authd never issues.
    return token_error::bad_algorithm;
}

std::optional<token_claims> parse_claims(std::string_view payload_b64) {
    const auto payload = base64url_decode(payload_b64);
    if (!payload) {
        return std::nullopt;
    }
    // The parsed tree lives in a buffer on the stack (claims are copied out before it goes).
    unsigned char tree[1024];
    boost::json::monotonic_resource memory(tree, sizeof tree);
    boost::json::error_code ec;
    const auto value = boost::json::parse(*payload, ec, &memory);
    if (ec || !value.is_object()) {
        return std::nullopt;
    }
    const auto& object = value.get_object();
    const auto* user = object.if_contains("user");
    const auto* exp = object.if_contains("exp");
    if (user == nullptr || !user->is_string() || exp == nullptr || !exp->is_int64()) {
        return std::nullopt;
    }
    token_claims claims{std::string(user->get_string()), exp->get_int64(), {}, {}, {}};
    if (const auto* jti = object.if_contains("jti"); jti != nullptr) {
        if (!jti->is_string() || jti->get_string().size() > 64) {
            return std::nullopt;
        }
        claims.jti = jti->get_string();
    }
    // NumericDates (RFC 7519 section 2) when present: a token whose iat or nbf is anything but an
    // integer is malformed, not unchecked.
    for (const auto& [name, field] :
         {std::pair{"iat", &claims.iat}, std::pair{"nbf", &claims.nbf}}) {
        if (const auto* value = object.if_contains(name); value != nullptr) {
            if (!value->is_int64()) {
                return std::nullopt;
            }
            *field = value->get_int64();
        }
    }
    return claims;
}

token_error check_token_times(const token_claims& claims, std::int64_t now) noexcept {
    // Written so that no extreme claim overflows: now is a sane clock, the claims may be anything.
    if (claims.exp <= now - token_clock_leeway_seconds) {
        return token_error::expired;
    }
    const std::int64_t latest_start = now + token_clock_leeway_seconds;
    if ((claims.nbf && *claims.nbf > latest_start) || (claims.iat && *claims.iat > latest_start)) {
        return token_error::not_yet_valid;
    }
    return token_error::none;
}

std::string new_token_id() {
    struct id_state {
        unsigned char bytes[16];
        std::uint64_t counter = 0;
        id_state() { randombytes_buf(bytes, 8); }
    };
    thread_local id_state state;
    ++state.counter;
    for (int i = 0; i < 8; ++i) {
        state.bytes[8 + i] = static_cast<unsigned char>(state.counter >> (8 * i));
    }
    std::string out;
    base64url_append(out, state.bytes, sizeof state.bytes);
    return out;
}

std::optional<token_parts> split_token(std::string_view token) {
    if (token.size() > hs256_key::max_token_bytes) {
        return std::nullopt;
    }
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    return token_parts{token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1),
                       token.substr(dot2 + 1), token.substr(0, dot2), token};
}

token_error hs256_key::check_mac(std::string_view signing_input,
                                 std::string_view signature_b64) const {
    // The expected MAC is encoded and compared as text, in constant time: no decoding of the
    // client's bytes, and a non-canonical encoding of the right MAC is refused too.
    constexpr std::size_t encoded_bytes = 43;  // 32 bytes in unpadded base64url
    if (signature_b64.size() != encoded_bytes) {
        return token_error::malformed;
    }
    unsigned char expected[mac_bytes];
    mac(signing_input, expected);
    thread_local std::string encoded;
    encoded.clear();
    base64url_append(encoded, expected, sizeof expected);
    // (OpenSSL's constant-time compare: a quarter of libsodium's time here, bench/token.)
    return CRYPTO_memcmp(encoded.data(), signature_b64.data(), encoded_bytes) == 0
               ? token_error::none
               : token_error::bad_signature;
}

std::optional<token_claims> hs256_key::verify(std::string_view token, std::int64_t now,
                                              token_error* error) const {
    token_error scratch = token_error::none;
    token_error& err = error != nullptr ? *error : scratch;
    err = token_error::malformed;
    const auto parts = split_token(token);
    if (!parts) {
        return std::nullopt;
    }
    if (parts->header != jwt_header_b64) {
        err = header_error(parts->header);
        return std::nullopt;
    }
    err = check_mac(parts->signing_input, parts->signature);
    if (err != token_error::none) {
        return std::nullopt;
    }
    return verified_claims(*parts, now, err);
}

std::optional<token_claims> verified_claims(const token_parts& parts, std::int64_t now,
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
    if (claims->jti.empty()) {
        claims->jti = derived_token_id(parts.token);
    }
    return claims;
}

std::string derived_token_id(std::string_view token) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
    std::string id = "sha256:";
    base64url_append(id, digest, sizeof digest);
    return id;
}

}  // namespace authd
