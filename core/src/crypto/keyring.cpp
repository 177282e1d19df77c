#include "authd/crypto/keyring.hpp"

#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <sodium.h>

#include "authd/crypto/sodium.hpp"

namespace authd {

struct keyring::key {
    std::string kid;
    key_algorithm alg = key_algorithm::hs256;
    std::string kid_header_b64;       // {"typ":"JWT","alg":..,"kid":..}; empty without kid
    std::unique_ptr<hs256_key> hmac;  // HS256
    secret_bytes ed_secret;           // EdDSA: libsodium's secret key (seed and public key)
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
        k->hmac = std::make_unique<hs256_key>(std::move(secret));
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
    key_file file = read_key_file(path);
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
            return verified_claims(parts, now, err);
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
    return verified_claims(*parts, now, err);
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

}  // namespace authd
