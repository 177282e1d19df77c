// Does a login's time tell whether the user exists? A wrong password for a real user and any
// password for an unknown user, interleaved in one run (so both see the same machine noise),
// through the real login_service over a real SQLite store. Reports each case's latency
// distribution (p10/p50/p90/p99, ms) and the ratio of the medians: authd verifies an unknown
// user against a dummy argon2id hash of the same parameters, so the ratio should be ~1.0
// (docs/security.md, "User enumeration by timing").
//
// ctest runs only the cheap parameters; run the OWASP row from the release build:
//   build/release/bench/authd_bench_login_timing --benchmark_filter=owasp

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#include <benchmark/benchmark.h>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/user_cache.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/store/user_store.hpp"

#include "support/temp_dir.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

void report(benchmark::State& state, const char* name, const std::vector<double>& ms) {
    for (const double p : {0.1, 0.5, 0.9, 0.99}) {
        char key[48];
        std::snprintf(key, sizeof key, "%s_p%02d_ms", name, static_cast<int>(p * 100 + 0.5));
        state.counters[key] = percentile(ms, p);
    }
}

void login_timing(benchmark::State& state, authd::argon2_params params) {
    std::optional<authd_test_support::temp_dir> dir;
    try {
        dir.emplace();
    } catch (const std::system_error&) {
        state.SkipWithError("mkdtemp failed");
        return;
    }
    const std::string db = dir->file("users.db");
    {
        auto store = authd::open_store("sqlite:" + db);
        const authd::password_hasher hasher(params);
        auto cache = authd::make_user_cache(1000);
        const std::string k(32, 'k');
        const authd::keyring_holder signer(authd::keyring::from_secret(
            authd::secret_bytes(reinterpret_cast<const unsigned char*>(k.data()), k.size())));
        store->users().add_user("user_test", hasher.hash("password_test"));
        const authd::login_service service(*store, *cache, hasher, signer,
                                           std::chrono::minutes(30));
        std::vector<double> wrong;
        std::vector<double> unknown;
        bool flip = false;
        for (auto _ : state) {
            const auto start = clock_type::now();
            const auto r =
                flip ? service.login("no_such_user", "guess") : service.login("user_test", "guess");
            const auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - start);
            if (r.code != authd::api_code::not_found) {
                state.SkipWithError("a login that must fail did not");
                break;
            }
            (flip ? unknown : wrong).push_back(ms.count());
            flip = !flip;
        }
        if (!wrong.empty() && !unknown.empty()) {
            report(state, "wrong_password", wrong);
            report(state, "unknown_user", unknown);
            state.counters["median_ratio_unknown_to_wrong"] =
                percentile(unknown, 0.5) / percentile(wrong, 0.5);
        }
    }
}

}  // namespace

BENCHMARK_CAPTURE(login_timing, owasp, authd::argon2_params{})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(400)
    ->UseRealTime();
BENCHMARK_CAPTURE(login_timing, cheap, authd::argon2_params{1, 8U * 1024U})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(200)
    ->UseRealTime();

BENCHMARK_MAIN();
