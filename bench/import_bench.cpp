// authctl user import --hashes into SQLite (tools/authctl/hash_import.hpp, issue 13): pre-hashed
// users per second, from a file of NAME<TAB>HASH lines into a new store file, with every line's
// format and cost checked as authctl does. The target is at least 100,000 users/s on a 2-core
// server (items_per_second). Not a test: ctest only runs it once, with few users.
// And what an imported sha-crypt hash costs at login by the length of the password tried (it
// hashes the password in every round): each row verifies a wrong password of that many bytes,
// and gives the import estimate (estimate_ms, at the 128 bytes verified at most) beside it.
//
//   build/release/bench/authd_bench_import --benchmark_filter=users:200000
//   build/release/bench/authd_bench_import --benchmark_filter=rounds:200000
#include <crypt.h>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <string>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/store/user_store.hpp"

#include "hash_import.hpp"

namespace {

// bcrypt and Django PBKDF2 hashes (real tools' output, cheap costs), alternating.
constexpr const char* hashes[] = {
    "$2y$04$xLpJAAGpVzbC.ccvLuiv7.LGh1twor2es2J61AzMFe6p6MFiDq2k2",
    "pbkdf2_sha256$260000$HaPyExhtZCZSQpgBC09uOS$pgY6S6hePBmniqnrOzQN2soBYnMiAXT4w+epPKEqvRE=",
};

void BM_import_hashes_sqlite(benchmark::State& state) {
    const auto users = static_cast<std::size_t>(state.range(0));
    char dir_template[] = "/tmp/authd-import-bench-XXXXXX";
    const std::string dir = ::mkdtemp(dir_template);
    const std::string input = dir + "/users.tsv";
    {
        std::string content;
        for (std::size_t i = 0; i < users; ++i) {
            content += "user" + std::to_string(i) + "\t" + hashes[i % 2] + "\n";
        }
        FILE* f = std::fopen(input.c_str(), "w");
        std::fwrite(content.data(), 1, content.size(), f);
        std::fclose(f);
    }
    int round = 0;
    for (auto _ : state) {
        const std::string db = dir + "/store" + std::to_string(round++) + ".db";
        auto store = authd::open_store("sqlite:" + db);
        const int fd = ::open(input.c_str(), O_RDONLY);
        const auto counts =
            authctl::import_hash_lines(store->users(), fd, authctl::hash_import_options{});
        ::close(fd);
        if (counts.added != users) {
            state.SkipWithError("not every user was added");
        }
        state.PauseTiming();
        store.reset();
        std::remove(db.c_str());
        std::remove((db + "-wal").c_str());
        std::remove((db + "-shm").c_str());
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * users));
    std::remove(input.c_str());
    ::rmdir(dir.c_str());
}
BENCHMARK(BM_import_hashes_sqlite)
    ->ArgName("users")
    ->Arg(1000)
    ->Arg(200'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// sha256-crypt (0) or sha512-crypt (1), ROUNDS rounds, a wrong password of BYTES bytes.
void BM_sha_crypt_wrong_password(benchmark::State& state) {
    const bool sha512 = state.range(0) == 1;
    const std::string setting = std::string(sha512 ? "$6$" : "$5$") +
                                "rounds=" + std::to_string(state.range(1)) + "$TdQXkS0LVT0ewGtk";
    auto data = std::make_unique<crypt_data>();
    const char* made = crypt_rn("the right one", setting.c_str(), data.get(), sizeof *data);
    if (made == nullptr || made[0] == '*') {
        state.SkipWithError("libxcrypt made no hash");
        return;
    }
    const std::string hash(made);
    const std::string wrong(static_cast<std::size_t>(state.range(2)), 'w');
    std::string problem;
    const auto parsed = authd::parse_hash(hash, problem);
    for (auto _ : state) {
        benchmark::DoNotOptimize(authd::verify_any_hash(hash, wrong));
    }
    state.counters["estimate_ms"] = parsed ? parsed->cost.milliseconds : -1;
}
BENCHMARK(BM_sha_crypt_wrong_password)
    ->ArgNames({"sha512", "rounds", "bytes"})
    ->ArgsProduct({{0, 1}, {1000, 200'000}, {8, 128, 129, 511}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
