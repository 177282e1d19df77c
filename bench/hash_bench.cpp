// One argon2id verification, the cost every login pays (a wrong password and an unknown user, via
// the dummy verification, pay the same).
//
// This is the hash bound: with W hash workers (one per core), authd can do at most
// W / (one verification's time) logins per second, whatever the rest costs. The
// hash_bound_logins_per_second counter is that figure with W = this machine's cores (argon2id with
// p=1 is single-threaded, so more workers than cores gain nothing). Compare the OWASP row with
// ../shared/FACTS.md, "Password hashing".
//
// ctest runs only the cheap parameters (--benchmark_filter=cheap): one OWASP verification alone
// takes 10-20 ms.

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include <benchmark/benchmark.h>

#include "authd/password_hasher.hpp"

namespace {

constexpr std::string_view password = "password_test";

// A hasher (its constructor computes the dummy hash) and one stored hash, made once per parameter
// set and only when a benchmark that needs them runs.
class hash_setup {
  public:
    explicit hash_setup(authd::argon2_params params)
        : hasher_(params), phc_(hasher_.hash(password)) {}

    const authd::password_hasher& hasher() const { return hasher_; }
    const std::string& phc() const { return phc_; }

  private:
    authd::password_hasher hasher_;
    std::string phc_;
};

// argon2_params{}: OWASP's minimum, authd's default (19 MiB, t=2).
const hash_setup& owasp() {
    static const hash_setup setup{authd::argon2_params{}};
    return setup;
}

// The cheapest libsodium allows (8 KiB, t=1): what the tests use.
const hash_setup& cheap() {
    static const hash_setup setup{authd::argon2_params{1, 8U * 1024U}};
    return setup;
}

using setup_fn = const hash_setup& (*)();

void report_hash_bound(benchmark::State& state) {
    const unsigned cores = std::thread::hardware_concurrency();
    const double workers = cores > 0 ? static_cast<double>(cores) : 1.0;
    // workers per verification, over the run's time: workers / (time of one verification).
    state.counters["hash_bound_logins_per_second"] =
        benchmark::Counter(workers, benchmark::Counter::kIsIterationInvariantRate);
}

void argon2id_verify(benchmark::State& state, setup_fn setup_of) {
    const hash_setup& setup = setup_of();
    if (!setup.hasher().verify(setup.phc(), password)) {
        state.SkipWithError("the stored hash does not verify");
        return;
    }
    for (auto _ : state) {
        const bool ok = setup.hasher().verify(setup.phc(), password);
        benchmark::DoNotOptimize(ok);
    }
    report_hash_bound(state);
}

// An unknown user's login: a verification against the dummy hash, same parameters.
void argon2id_verify_dummy(benchmark::State& state, setup_fn setup_of) {
    const hash_setup& setup = setup_of();
    const auto before = setup.hasher().dummy_verifications();
    for (auto _ : state) {
        setup.hasher().verify_dummy(password);
    }
    if (setup.hasher().dummy_verifications() - before !=
        static_cast<std::uint64_t>(state.iterations())) {
        state.SkipWithError("verify_dummy did not verify");
    }
    report_hash_bound(state);
}

BENCHMARK_CAPTURE(argon2id_verify, owasp_19MiB_t2, &owasp)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(argon2id_verify, cheap_8KiB_t1, &cheap)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(argon2id_verify_dummy, owasp_19MiB_t2, &owasp)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(argon2id_verify_dummy, cheap_8KiB_t1, &cheap)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
