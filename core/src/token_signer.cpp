#include "authd/token_signer.hpp"

#include <atomic>
#include <charconv>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "authd/api.hpp"

namespace authd {

namespace {

constexpr std::size_t mac_bytes = 32;

std::atomic<std::uint64_t> next_signer_id{1};

// One keyed HMAC context per thread and signer, duplicated once from the signer's template:
// signing then costs a re-initialisation (no algorithm fetch, no key schedule) and the MAC.
struct thread_mac_context {
    std::uint64_t signer_id = 0;
    EVP_MAC_CTX* ctx = nullptr;

    ~thread_mac_context() { EVP_MAC_CTX_free(ctx); }
};

thread_local thread_mac_context tls_mac;

}  // namespace

struct token_signer::impl {
    secret_bytes key;
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* keyed = nullptr;
    std::uint64_t id = next_signer_id.fetch_add(1);

    ~impl() {
        EVP_MAC_CTX_free(keyed);
        EVP_MAC_free(mac);
    }

    EVP_MAC_CTX* thread_context() const {
        if (tls_mac.signer_id != id) {
            EVP_MAC_CTX_free(tls_mac.ctx);
            tls_mac.ctx = EVP_MAC_CTX_dup(keyed);
            tls_mac.signer_id = tls_mac.ctx != nullptr ? id : 0;
            if (tls_mac.ctx == nullptr) {
                throw std::runtime_error("OpenSSL: cannot duplicate the HMAC context");
            }
        }
        return tls_mac.ctx;
    }
};

token_signer::token_signer(secret_bytes key) : impl_(std::make_unique<impl>()) {
    if (key.size() < min_key_bytes) {
        throw std::invalid_argument("signing key shorter than 32 bytes");
    }
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
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

token_signer::~token_signer() = default;

void token_signer::mac(std::string_view data, unsigned char out[32]) const {
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

void base64url_append(std::string& out, const unsigned char* data, std::size_t size) {
    constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    const std::size_t encoded = sodium_base64_ENCODED_LEN(size, variant);  // includes the NUL
    const std::size_t at = out.size();
    out.resize(at + encoded);
    sodium_bin2base64(out.data() + at, encoded, data, size, variant);
    out.resize(at + encoded - 1);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out(text.size() * 3 / 4 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size()) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

void token_signer::sign_into(std::string& out, std::string_view user, std::int64_t exp) const {
    // The payload is written by hand: two fields, one escaped string, no JSON library needed.
    std::string payload;
    payload.reserve(32 + user.size());
    payload += R"({"user":")";
    append_json_escaped(payload, user);
    payload += R"(","exp":)";
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, exp);
    payload.append(digits, res.ptr);
    payload += '}';

    out.clear();
    out.reserve(jwt_header_b64.size() + payload.size() * 4 / 3 + 50);
    out += jwt_header_b64;
    out += '.';
    base64url_append(out, reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
    unsigned char sig[mac_bytes];
    mac(out, sig);
    out += '.';
    base64url_append(out, sig, sizeof sig);
}

std::string token_signer::sign(std::string_view user, std::int64_t exp) const {
    std::string out;
    sign_into(out, user, exp);
    return out;
}

namespace {

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
    boost::json::error_code ec;
    const auto value = boost::json::parse(*payload, ec);
    if (ec || !value.is_object()) {
        return std::nullopt;
    }
    const auto& object = value.get_object();
    const auto* user = object.if_contains("user");
    const auto* exp = object.if_contains("exp");
    if (user == nullptr || !user->is_string() || exp == nullptr || !exp->is_int64()) {
        return std::nullopt;
    }
    return token_claims{std::string(user->get_string()), exp->get_int64()};
}

}  // namespace

std::optional<token_claims> token_signer::verify(std::string_view token, std::int64_t now,
                                                 token_error* error) const {
    token_error scratch = token_error::none;
    token_error& err = error != nullptr ? *error : scratch;
    err = token_error::malformed;
    if (token.size() > max_token_bytes) {
        return std::nullopt;
    }
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    const auto header = token.substr(0, dot1);
    if (header != jwt_header_b64) {
        err = header_error(header);
        return std::nullopt;
    }
    const auto signature = base64url_decode(token.substr(dot2 + 1));
    if (!signature || signature->size() != mac_bytes) {
        return std::nullopt;
    }
    unsigned char expected[mac_bytes];
    mac(token.substr(0, dot2), expected);
    if (sodium_memcmp(expected, signature->data(), mac_bytes) != 0) {
        err = token_error::bad_signature;
        return std::nullopt;
    }
    auto claims = parse_claims(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!claims) {
        return std::nullopt;
    }
    if (claims->exp <= now) {
        err = token_error::expired;
        return std::nullopt;
    }
    err = token_error::none;
    return claims;
}

}  // namespace authd
