// What RFC 8265's profile costs a login, and what a skeleton costs authctl
// (core/src/store/user_name_profile.cpp), beside the reference every login pays in the same run:
// one argon2id verification at authd's default parameters (19 MiB, 2 passes; libsodium, as
// authd's main process would call it).
//
//   login_user_name/...   what every login adds: printable ASCII (one pass over the bytes), a
//                         full-width name and a decomposed one (ICU's mapping, NFC and checks)
//   user_name_skeleton    what authctl user add and the imports pay per name compared: user add
//                         reads every stored name once, so N names cost N of these
//   argon2id_verify_default  the reference
//
// Each row's share_of_a_login counter is its time over the reference's, measured in this run:
//   authd_bench_names --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// ctest runs every row but the reference (--benchmark_filter=name).

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>
#include <sodium.h>

#include "authd/store/user_name_profile.hpp"

namespace {

// The reference's time per verification (seconds), once it has run in this process; 0 before.
double reference_seconds = 0;

void report_share(benchmark::State& state, std::chrono::steady_clock::duration spent) {
    const auto per_item =
        std::chrono::duration<double>(spent).count() / static_cast<double>(state.iterations());
    if (reference_seconds > 0) {
        state.counters["share_of_a_login"] = per_item / reference_seconds;
    }
}

template <class Work>
void timed(benchmark::State& state, Work work) {
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        work();
    }
    report_share(state, std::chrono::steady_clock::now() - start);
}

void argon2id_verify_default(benchmark::State& state) {
    if (sodium_init() < 0) {
        state.SkipWithError("sodium_init failed");
        return;
    }
    std::array<char, crypto_pwhash_STRBYTES> stored{};
    const std::string password = "password_test";
    if (crypto_pwhash_str(stored.data(), password.data(), password.size(), 2,
                          std::size_t{19} << 20) != 0) {
        state.SkipWithError("crypto_pwhash_str failed");
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            crypto_pwhash_str_verify(stored.data(), password.data(), password.size()));
    }
    reference_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
        static_cast<double>(state.iterations());
}
BENCHMARK(argon2id_verify_default)->Unit(benchmark::kMillisecond);

void name_login_ascii(benchmark::State& state) {
    timed(state, [] { benchmark::DoNotOptimize(authd::login_user_name("user_test")); });
}
BENCHMARK(name_login_ascii)->Name("login_user_name/ascii");

void name_login_full_width(benchmark::State& state) {
    const std::string name = "\xef\xbd\x95\xef\xbd\x93\xef\xbd\x85\xef\xbd\x92_test";  // ｕｓｅｒ
    timed(state, [&] { benchmark::DoNotOptimize(authd::login_user_name(name)); });
}
BENCHMARK(name_login_full_width)->Name("login_user_name/full_width");

void name_login_decomposed(benchmark::State& state) {
    const std::string name =
        "Jose\xcc\x81 Mari\xcc\x81"
        "a";  // José María, decomposed
    timed(state, [&] { benchmark::DoNotOptimize(authd::login_user_name(name)); });
}
BENCHMARK(name_login_decomposed)->Name("login_user_name/decomposed");

void name_skeleton(benchmark::State& state) {
    timed(state, [] { benchmark::DoNotOptimize(authd::user_name_skeleton("alice.o'brien-2")); });
}
BENCHMARK(name_skeleton)->Name("user_name_skeleton");

}  // namespace

BENCHMARK_MAIN();
