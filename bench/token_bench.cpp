// HS256 token costs next to the raw OpenSSL primitives they are built on.
//
// Target (the performance issue): signing a token costs at most 2x one raw HMAC-SHA256 of the same
// bytes, the JWT signing input header.payload (87 bytes for "user_test"), done the best way raw
// OpenSSL allows (openssl_hmac_prepared: a keyed EVP_MAC_CTX re-initialised per MAC). Everything
// else in sign() -- the payload JSON, two base64url encodings, the string -- must stay below one
// more HMAC.
//
// Each row carries x_raw_hmac = its CPU time per iteration / that per MAC of openssl_hmac_prepared
// (which runs first), so the ratio reads off any row: token_sign should show <= 2. On a shared,
// noisy machine use --benchmark_repetitions=3 --benchmark_report_aggregates_only=true.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/login/token_cutoffs.hpp"

namespace {

// This thread's CPU time in ns: what Google Benchmark's CPU column measures, and far steadier than
// wall time on a shared machine.
double thread_cpu_ns() {
    ::timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);  // POSIX, in <ctime> on glibc
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

constexpr std::string_view user = "user_test";
constexpr std::int64_t token_exp = 1628605206;        // the seed's example token
constexpr std::int64_t token_iat = token_exp - 1800;  // issued 30 minutes before, as authd does
constexpr std::size_t mac_bytes = 32;

// A fixed key: the figures must not depend on the key, and a fixed one keeps runs comparable.
std::array<unsigned char, 32> key_bytes() {
    std::array<unsigned char, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) {
        key[i] = static_cast<unsigned char>(0xa5 ^ (i * 7));
    }
    return key;
}

const authd::hs256_key& signer() {
    static const authd::hs256_key instance{[] {
        const auto key = key_bytes();
        return authd::secret_bytes(key.data(), key.size());
    }()};
    return instance;
}

const std::string& token() {
    static const std::string instance = signer().sign(user, token_exp, token_iat);
    return instance;
}

// header.payload: what is MACed.
std::string_view signing_input() {
    const std::string_view t = token();
    return t.substr(0, t.rfind('.'));
}

// The signing input as the raw OpenSSL calls take it; fetched once before a loop, never in it.
struct byte_span {
    const unsigned char* data;
    std::size_t size;
};

byte_span input_span() {
    const std::string_view s = signing_input();
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// A keyed HMAC-SHA256 context, fetched and keyed once (what hs256_key keeps per thread).
class prepared_hmac {
  public:
    prepared_hmac() {
        mac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
        ctx_ = mac_ != nullptr ? EVP_MAC_CTX_new(mac_) : nullptr;
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        const auto key = key_bytes();
        if (ctx_ == nullptr || EVP_MAC_init(ctx_, key.data(), key.size(), params) != 1) {
            throw std::runtime_error("OpenSSL: cannot key HMAC-SHA256");
        }
    }
    prepared_hmac(const prepared_hmac&) = delete;
    prepared_hmac& operator=(const prepared_hmac&) = delete;
    ~prepared_hmac() {
        EVP_MAC_CTX_free(ctx_);
        EVP_MAC_free(mac_);
    }

    // Restarts from the keyed state (no fetch, no key schedule), then MACs data.
    bool mac(const unsigned char* data, std::size_t size, unsigned char out[mac_bytes]) {
        std::size_t len = 0;
        return EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 &&
               EVP_MAC_update(ctx_, data, size) == 1 &&
               EVP_MAC_final(ctx_, out, &len, mac_bytes) == 1 && len == mac_bytes;
    }

  private:
    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* ctx_ = nullptr;
};

// The reference of the x_raw_hmac counters, in ns: one prepared raw HMAC of the signing input as
// the openssl_hmac_prepared row last measured it (it runs first). When that row is filtered out, a
// calibration instead: the median of batches, so that a burst of noise does not move it.
double reference_ns = 0;

double calibrated_raw_hmac_ns() {
    static const double ns = [] {
        prepared_hmac hmac;
        const byte_span in = input_span();
        unsigned char out[mac_bytes];
        constexpr int batch = 5000;
        std::vector<double> per_mac;
        for (int b = 0; b < 21; ++b) {
            const double start = thread_cpu_ns();
            for (int i = 0; i < batch; ++i) {
                hmac.mac(in.data, in.size, out);
                benchmark::DoNotOptimize(out);
                benchmark::ClobberMemory();
            }
            per_mac.push_back((thread_cpu_ns() - start) / batch);
        }
        std::nth_element(per_mac.begin(), per_mac.begin() + per_mac.size() / 2, per_mac.end());
        return per_mac[per_mac.size() / 2];
    }();
    return ns;
}

// Times the loop of a state in CPU time next to Google Benchmark, for its x_raw_hmac counter.
// Construct it right before the loop; it reports when destroyed, after the loop.
class ratio_timer {
  public:
    enum class role : std::uint8_t { measured, reference };

    explicit ratio_timer(benchmark::State& state, role r = role::measured)
        : state_(state), role_(r) {
        if (r == role::measured && reference_ns == 0) {
            reference_ns = calibrated_raw_hmac_ns();  // before the loop, never inside it
        }
        state_.SetLabel(std::to_string(signing_input().size()) + " B signing input");
        start_ = thread_cpu_ns();
    }
    ratio_timer(const ratio_timer&) = delete;
    ratio_timer& operator=(const ratio_timer&) = delete;
    ~ratio_timer() {
        const double elapsed = thread_cpu_ns() - start_;
        if (state_.iterations() == 0) {
            return;
        }
        const double per_iteration = elapsed / static_cast<double>(state_.iterations());
        if (role_ == role::reference) {
            reference_ns = per_iteration;
        }
        state_.counters["x_raw_hmac"] = per_iteration / reference_ns;
    }

  private:
    benchmark::State& state_;
    role role_;
    double start_ = 0;
};

// --- Raw OpenSSL ---

// b) The best raw OpenSSL does: a keyed EVP_MAC_CTX, re-initialised per MAC. The reference of
// every x_raw_hmac, so it runs first.
void openssl_hmac_prepared(benchmark::State& state) {
    const byte_span in = input_span();
    prepared_hmac hmac;
    unsigned char out[mac_bytes];
    ratio_timer ratio(state, ratio_timer::role::reference);
    for (auto _ : state) {
        if (!hmac.mac(in.data, in.size, out)) {
            state.SkipWithError("EVP_MAC failed");
            break;
        }
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size));
}
BENCHMARK(openssl_hmac_prepared);

// a) What a naive implementation does: HMAC() fetches SHA-256 and keys a new context each call.
void openssl_hmac_oneshot(benchmark::State& state) {
    const byte_span in = input_span();
    const auto key = key_bytes();
    unsigned char out[mac_bytes];
    unsigned int len = 0;
    ratio_timer ratio(state);
    for (auto _ : state) {
        if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), in.data, in.size, out,
                 &len) == nullptr) {
            state.SkipWithError("HMAC() failed");
            break;
        }
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size));
}
BENCHMARK(openssl_hmac_oneshot);

// c) One SHA-256 of the same bytes: 2 compressions where the prepared HMAC does 3 (its keyed
// inner and outer starts are precomputed). The floor under any HMAC.
void openssl_sha256(benchmark::State& state) {
    const byte_span in = input_span();
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    {
        ratio_timer ratio(state);
        for (auto _ : state) {
            if (EVP_Digest(in.data, in.size, out, &len, md, nullptr) != 1) {
                state.SkipWithError("EVP_Digest failed");
                break;
            }
            benchmark::DoNotOptimize(out);
            benchmark::ClobberMemory();
        }
    }
    EVP_MD_free(md);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size));
}
BENCHMARK(openssl_sha256);

// c') The same with a reused EVP_MD_CTX: EVP_Digest allocates a context per call.
void openssl_sha256_reused_ctx(benchmark::State& state) {
    const byte_span in = input_span();
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    {
        ratio_timer ratio(state);
        for (auto _ : state) {
            if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 ||
                EVP_DigestUpdate(ctx, in.data, in.size) != 1 ||
                EVP_DigestFinal_ex(ctx, out, &len) != 1) {
                state.SkipWithError("EVP_Digest* failed");
                break;
            }
            benchmark::DoNotOptimize(out);
            benchmark::ClobberMemory();
        }
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size));
}
BENCHMARK(openssl_sha256_reused_ctx);

// --- authd ---

// Proves the benchmarks below measure a correct MAC: hs256_key::mac() must agree with both
// raw OpenSSL ways of computing it.
bool mac_agrees_with_openssl() {
    unsigned char ours[mac_bytes];
    signer().mac(signing_input(), ours);
    prepared_hmac hmac;
    const byte_span in = input_span();
    unsigned char prepared[mac_bytes];
    unsigned char oneshot[mac_bytes];
    unsigned int len = 0;
    const auto key = key_bytes();
    return hmac.mac(in.data, in.size, prepared) &&
           HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), in.data, in.size, oneshot,
                &len) != nullptr &&
           len == mac_bytes && std::memcmp(ours, prepared, mac_bytes) == 0 &&
           std::memcmp(ours, oneshot, mac_bytes) == 0;
}

// The MAC alone, through the signer's per-thread context.
void token_mac(benchmark::State& state) {
    if (!mac_agrees_with_openssl()) {
        state.SkipWithError("hs256_key::mac differs from OpenSSL's HMAC-SHA256");
        return;
    }
    unsigned char out[mac_bytes];
    const std::string_view input = signing_input();
    ratio_timer ratio(state);
    for (auto _ : state) {
        signer().mac(input, out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}
BENCHMARK(token_mac);

// A whole token, as login_service makes one: a new string per token.
void token_sign(benchmark::State& state) {
    if (!signer().verify(signer().sign(user, token_exp, token_iat), token_exp - 1)) {
        state.SkipWithError("sign() makes tokens that do not verify");
        return;
    }
    ratio_timer ratio(state);
    for (auto _ : state) {
        std::string t = signer().sign(user, token_exp, token_iat);
        benchmark::DoNotOptimize(t.data());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(token_sign);

// The same into a reused string (sign_into): what is left once the output allocation is gone.
void token_sign_into(benchmark::State& state) {
    std::string t;
    ratio_timer ratio(state);
    for (auto _ : state) {
        signer().sign_into(t, user, token_exp, token_iat);
        benchmark::DoNotOptimize(t.data());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(token_sign_into);

// Checking a valid token: split, header compare, base64url, MAC, constant-time compare, claims.
void token_verify(benchmark::State& state) {
    const std::string& t = token();
    if (!signer().verify(t, token_exp - 1)) {
        state.SkipWithError("the token does not verify");
        return;
    }
    ratio_timer ratio(state);
    for (auto _ : state) {
        auto claims = signer().verify(t, token_exp - 1);
        benchmark::DoNotOptimize(claims);
    }
}
BENCHMARK(token_verify);

// What /verify adds to token_verify: the token cutoff check (login_service::voided), with no user
// cut (arg 0: one atomic load) and with 10,000 users cut, this one among them (arg 1: a lock-free
// map lookup).
void token_cutoff_check(benchmark::State& state) {
    authd::token_cutoff_map cutoffs(100'000, 1801);
    if (state.range(0) != 0) {
        for (int i = 0; i < 10'000; ++i) {
            cutoffs.raise("user" + std::to_string(i), token_iat - 1, token_iat);
        }
        cutoffs.raise(user, token_iat, token_iat);
    }
    const auto claims = signer().verify(token(), token_exp - 1);
    if (!claims || cutoffs.voids(claims->user, claims->iat)) {
        state.SkipWithError("the token is void");
        return;
    }
    ratio_timer ratio(state);
    for (auto _ : state) {
        bool is_void = cutoffs.voids(claims->user, claims->iat);
        benchmark::DoNotOptimize(is_void);
    }
}
BENCHMARK(token_cutoff_check)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
