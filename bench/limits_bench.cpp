// What the brute-force counters in the store cost a login (issue #14): one admission (the
// statement every hashed attempt makes), and one admission plus the success that settles it (a
// successful login), against SQLite's counters' file and, when AUTHD_BENCH_PG_URI names a
// database the benchmark may write to (its tables are created there; e.g. the test cluster's,
// scripts/pg-cluster.sh start DIR, $(cat DIR/uri)), PostgreSQL. Compare with one verification (15-
// 20 ms at authd's defaults, authd_bench_hash): the ratio is what the counters cost a login. The
// in-memory limiter (no store) is measured alongside, as the reference of the same run.
//
//   build/release/bench/authd_bench_limits --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "authd/login/attempt_limiter.hpp"
#include "authd/store/limit_store.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/store/user_store.hpp"

#include "support/temp_dir.hpp"

namespace {

using authd::account_digest;
using authd::attempt_limiter;

// The attempts go to many accounts and addresses, as a busy server's do: none waits. success 0:
// each attempt fails, each on an account of its own (the admission is its only statement); 1:
// each succeeds (a second statement), 1,000 users logging in again and again from their own
// address (known after its first login: as a login server's day looks).
struct workload {
    std::uint64_t n = 0;
    std::uint64_t accounts = 0;  // 0: every attempt a new account
    std::string prefix = "user" + std::to_string(std::random_device{}()) + "-";  // run's own
    std::uint64_t id() const { return accounts == 0 ? n : n % accounts; }
    std::string user() const { return prefix + std::to_string(id()); }
    std::uint64_t address() const {
        return authd::address_key(static_cast<std::uint32_t>(0x0a000000U + id() % 1'000'000));
    }
};

void run(benchmark::State& state, authd::limit_store* store, bool with_success) {
    authd::limiter_config config;
    attempt_limiter limiter(config, store);
    workload w;
    w.accounts = with_success ? 1'000 : 0;
    // Each user's first login (its address becomes known, and every node is told: a
    // notification) is not what a day of logins is made of: done before the clock runs.
    for (; with_success && w.n < w.accounts; ++w.n) {
        const auto now = attempt_limiter::clock::now();
        const auto admitted = limiter.admit(account_digest::of(w.user()), w.address(), now);
        limiter.settle(account_digest::of(w.user()), w.address(), admitted,
                       attempt_limiter::outcome::success, now);
    }
    for (auto _ : state) {
        const auto now = attempt_limiter::clock::now();
        const auto user = w.user();
        const auto address = w.address();
        const auto admitted = limiter.admit(account_digest::of(user), address, now);
        if (admitted.wait != 0) {
            state.SkipWithError("an attempt was refused: the workload must not wait");
            return;
        }
        limiter.settle(
            account_digest::of(user), address, admitted,
            with_success ? attempt_limiter::outcome::success : attempt_limiter::outcome::failure,
            now);
        ++w.n;
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_limits_memory(benchmark::State& state) {
    run(state, nullptr, state.range(0) == 1);
}
BENCHMARK(BM_limits_memory)->ArgName("success")->Arg(0)->Arg(1);

void BM_limits_sqlite(benchmark::State& state) {
    const authd_test_support::temp_dir dir;
    const auto store = authd::open_store("sqlite:" + dir.path() + "/users.db");
    run(state, store->limits(), state.range(0) == 1);
}
BENCHMARK(BM_limits_sqlite)->ArgName("success")->Arg(0)->Arg(1)->UseRealTime();

void BM_limits_postgresql(benchmark::State& state) {
    const char* uri = std::getenv("AUTHD_BENCH_PG_URI");
    if (uri == nullptr || *uri == '\0') {
        state.SkipWithError("AUTHD_BENCH_PG_URI is not set (scripts/pg-cluster.sh start DIR)");
        return;
    }
    const auto store = authd::open_store(uri);
    run(state, store->limits(), state.range(0) == 1);
}
BENCHMARK(BM_limits_postgresql)->ArgName("success")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
