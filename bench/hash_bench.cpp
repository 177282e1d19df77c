// One argon2id verification, the cost every login pays (a wrong password and an unknown user, via
// the dummy verification, pay the same).
//
// This is the hash bound: with W hash workers (one per core), authd can do at most
// W / (one verification's time) logins per second, whatever the rest costs. The
// hash_bound_logins_per_second counter is that figure with W = this machine's cores (argon2id with
// p=1 is single-threaded, so more workers than cores gain nothing). docs/benchmarks.md gives the
// OWASP row's figures on this kind of machine.
//
// The bound assumes each worker verifies as fast as one thread alone. The row
// argon2id_verify/owasp_19MiB_t2/real_time/threads:N runs the same verification on N threads at
// once, N = this machine's cores, timed in wall time: its items_per_second is what the machine
// hashes with every core busy, the figure to compare with authd's logins/s at saturation. It
// reports no hash bound.
//
// Every row reports user_ms and sys_ms: the user and system CPU time of one verification
// (getrusage(RUSAGE_THREAD) of each thread around its loop, over its iterations, averaged over the
// threads; the kernel splits a thread's CPU time between the two by sampling at each tick). System
// time is libsodium's: it maps the argon2 memory (MAP_POPULATE, so every page is faulted in) and
// unmaps it on every call. User time rises when N verifications run at once, as their working
// sets (19 MiB each at OWASP parameters) share the L3 cache.
//
// Two bounds side by side (issue 12): argon2id_verify/... calls libsodium as authd's main process
// would (libsodium maps and unmaps its memory on every call: sys_ms is that, and page_faults is
// m / 4 KiB), argon2id_verify_kept/... as authd's hash helper does
// (server/workers/argon2_memory.hpp: one region, pre-faulted once, reused, wiped after every call:
// page_faults near 0). The compute bound of the load harness is the kept row's time.
// argon2_memory_wipe/... is the wipe alone (sodium_memzero over the kept region), so kept minus
// wipe is argon2's pure compute. The kept rows run on one thread only: a process keeps one region,
// and authd's helpers are one process per hash worker. argon2id_verify_kept/.../procs:N times the
// same while N - 1 sibling processes verify over kept memory of their own, N = this machine's
// cores: the bound authd can reach with every worker busy (its hash_bound_logins_per_second).
// Compare them in one run, interleaved, e.g.
//   authd_bench_hash --benchmark_filter='owasp|wipe' --benchmark_repetitions=9
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// ctest runs only the cheap parameters (--benchmark_filter=cheap): one OWASP verification alone
// takes 10-20 ms.

#include <array>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <benchmark/benchmark.h>
#include <sodium.h>

#include "authd/crypto/password_hasher.hpp"

#include "workers/argon2_memory.hpp"

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

// This machine's cores (at least 1): the hash workers authd starts by default.
int cores() {
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
}

void report_hash_bound(benchmark::State& state) {
    // Per verification of one thread alone: with several threads the sum over them would count
    // the workers once per thread.
    if (state.threads() != 1) {
        return;
    }
    // workers per verification, over the run's time: workers / (time of one verification).
    state.counters["hash_bound_logins_per_second"] = benchmark::Counter(
        static_cast<double>(cores()), benchmark::Counter::kIsIterationInvariantRate);
}

// The CPU time the calling thread has used so far, in milliseconds.
struct thread_cpu_ms {
    double user = 0;
    double sys = 0;
    double minor_faults = 0;
    bool ok = false;
};

thread_cpu_ms thread_cpu() {
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) != 0) {
        return {};
    }
    const auto ms = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    return {ms(usage.ru_utime), ms(usage.ru_stime), static_cast<double>(usage.ru_minflt), true};
}

// user_ms and sys_ms: this thread's CPU time between before and now, per verification of its own
// (state.iterations() is this thread's count); kAvgThreads makes the reported value the mean over
// the threads. items_per_second: verifications per second, of all threads together.
void report_cpu(benchmark::State& state, const thread_cpu_ms& before) {
    state.SetItemsProcessed(state.iterations());
    const thread_cpu_ms after = thread_cpu();
    if (!before.ok || !after.ok || state.iterations() == 0) {
        return;
    }
    const auto n = static_cast<double>(state.iterations());
    state.counters["user_ms"] =
        benchmark::Counter((after.user - before.user) / n, benchmark::Counter::kAvgThreads);
    state.counters["sys_ms"] =
        benchmark::Counter((after.sys - before.sys) / n, benchmark::Counter::kAvgThreads);
    state.counters["page_faults"] = benchmark::Counter(
        (after.minor_faults - before.minor_faults) / n, benchmark::Counter::kAvgThreads);
}

void argon2id_verify(benchmark::State& state, setup_fn setup_of) {
    const hash_setup& setup = setup_of();
    if (!setup.hasher().verify(setup.phc(), password)) {
        state.SkipWithError("the stored hash does not verify");
        return;
    }
    const thread_cpu_ms before = thread_cpu();
    for (auto _ : state) {
        const bool ok = setup.hasher().verify(setup.phc(), password);
        benchmark::DoNotOptimize(ok);
    }
    report_cpu(state, before);
    report_hash_bound(state);
}

// An unknown user's login: a verification against the dummy hash, same parameters.
void argon2id_verify_dummy(benchmark::State& state, setup_fn setup_of) {
    const hash_setup& setup = setup_of();
    const auto before = setup.hasher().dummy_verifications();
    const thread_cpu_ms cpu_before = thread_cpu();
    for (auto _ : state) {
        setup.hasher().verify_dummy(password);
    }
    report_cpu(state, cpu_before);
    if (setup.hasher().dummy_verifications() - before !=
        static_cast<std::uint64_t>(state.iterations())) {
        state.SkipWithError("verify_dummy did not verify");
    }
    report_hash_bound(state);
}

// The same verification over memory kept as authd's hash helper keeps it: the region is made (and
// faulted in) before the timed loop, as the helper makes it at its first call of that cost.
void argon2id_verify_kept(benchmark::State& state, setup_fn setup_of) {
    if (!authd::server::enable_argon2_memory(setup_of().hasher().params().memory_bytes)) {
        state.SkipWithError("argon2's memory cannot be kept in this build or process");
        return;
    }
    const auto lent_before = authd::server::argon2_memory_stats_now().lent;
    argon2id_verify(state, setup_of);
    const auto lent = authd::server::argon2_memory_stats_now().lent - lent_before;
    authd::server::disable_argon2_memory();
    // Each timed verification and the one checked before them.
    if (!state.error_occurred() && lent != static_cast<std::uint64_t>(state.iterations()) + 1) {
        state.SkipWithError("libsodium's argon2 did not get the kept memory");
    }
}

// The kept verification while every other core verifies too, as authd's helpers do at saturation:
// cores() - 1 sibling processes (a process keeps one region, and authd's helpers are one process
// per hash worker) each keep their own memory and verify in a loop from before the timed loop to
// its end. This row's time is one verification with every core busy, so its hash bound (cores /
// that time) is the bound the machine can reach; the single-thread row's is higher, as the working
// sets of concurrent verifications share the L3 cache and the memory bandwidth.
class busy_siblings {
  public:
    busy_siblings(const hash_setup& setup, int count) {
        std::array<int, 2> ready{};
        if (pipe2(ready.data(), O_CLOEXEC) != 0) {
            return;
        }
        for (int i = 0; i < count; ++i) {
            const pid_t pid = fork();
            if (pid == 0) {
                close(ready[0]);
                verify_for_ever(setup, ready[1]);
            }
            if (pid > 0) {
                pids_.push_back(pid);
            }
        }
        close(ready[1]);
        // One byte from each sibling after its first kept verification.
        int got = 0;
        char byte = 0;
        while (got < count && read(ready[0], &byte, 1) == 1) {
            ++got;
        }
        close(ready[0]);
        ready_ = got == count && static_cast<int>(pids_.size()) == count;
    }
    ~busy_siblings() {
        for (const pid_t pid : pids_) {
            kill(pid, SIGKILL);
        }
        for (const pid_t pid : pids_) {
            waitpid(pid, nullptr, 0);
        }
    }
    busy_siblings(const busy_siblings&) = delete;
    busy_siblings& operator=(const busy_siblings&) = delete;

    bool ready() const { return ready_; }

  private:
    [[noreturn]] static void verify_for_ever(const hash_setup& setup, int ready_fd) {
        // Killed with the benchmark, also if it died before this line.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1) {
            _exit(1);
        }
        if (!authd::server::enable_argon2_memory(setup.hasher().params().memory_bytes) ||
            !setup.hasher().verify(setup.phc(), password)) {
            _exit(1);
        }
        const char byte = 1;
        if (write(ready_fd, &byte, 1) != 1) {
            _exit(1);
        }
        close(ready_fd);
        for (;;) {
            benchmark::DoNotOptimize(setup.hasher().verify(setup.phc(), password));
        }
    }

    std::vector<pid_t> pids_;
    bool ready_ = false;
};

void argon2id_verify_kept_every_core(benchmark::State& state, setup_fn setup_of) {
    const busy_siblings siblings(setup_of(), cores() - 1);
    if (!siblings.ready()) {
        state.SkipWithError("the sibling processes did not start verifying");
        return;
    }
    argon2id_verify_kept(state, setup_of);
}

// The wipe after each kept verification alone: sodium_memzero over m bytes of the kept region.
void argon2_memory_wipe(benchmark::State& state, setup_fn setup_of) {
    const std::size_t bytes = setup_of().hasher().params().memory_bytes;
    if (!authd::server::enable_argon2_memory(bytes)) {
        state.SkipWithError("argon2's memory cannot be kept in this build or process");
        return;
    }
    void* region = authd::server::argon2_memory_region();
    const thread_cpu_ms before = thread_cpu();
    for (auto _ : state) {
        sodium_memzero(region, bytes);
        benchmark::ClobberMemory();
    }
    report_cpu(state, before);
    authd::server::disable_argon2_memory();
}

BENCHMARK_CAPTURE(argon2id_verify, owasp_19MiB_t2, &owasp)->Unit(benchmark::kMillisecond);
// Over kept memory only where the mechanism is built in: sanitizer builds leave it out (their
// allocators must see every mapping), and there these could only report an error.
[[maybe_unused]] const bool kept_owasp_registered = authd::server::argon2_memory_built_in() && [] {
    benchmark::RegisterBenchmark("argon2id_verify_kept/owasp_19MiB_t2", [](benchmark::State& s) {
        argon2id_verify_kept(s, &owasp);
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(
        ("argon2id_verify_kept/owasp_19MiB_t2/procs:" + std::to_string(cores())).c_str(),
        [](benchmark::State& s) { argon2id_verify_kept_every_core(s, &owasp); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("argon2_memory_wipe/owasp_19MiB", [](benchmark::State& s) {
        argon2_memory_wipe(s, &owasp);
    })->Unit(benchmark::kMillisecond);
    return true;
}();
// Every core verifying at once (threads:N); wall time, so items_per_second is the machine's rate.
BENCHMARK_CAPTURE(argon2id_verify, owasp_19MiB_t2, &owasp)
    ->Unit(benchmark::kMillisecond)
    ->Threads(cores())
    ->UseRealTime();
BENCHMARK_CAPTURE(argon2id_verify, cheap_8KiB_t1, &cheap)->Unit(benchmark::kMillisecond);
[[maybe_unused]] const bool kept_cheap_registered = authd::server::argon2_memory_built_in() && [] {
    benchmark::RegisterBenchmark("argon2id_verify_kept/cheap_8KiB_t1", [](benchmark::State& s) {
        argon2id_verify_kept(s, &cheap);
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(
        ("argon2id_verify_kept/cheap_8KiB_t1/procs:" + std::to_string(cores())).c_str(),
        [](benchmark::State& s) { argon2id_verify_kept_every_core(s, &cheap); })
        ->Unit(benchmark::kMillisecond);
    return true;
}();
BENCHMARK_CAPTURE(argon2id_verify_dummy, owasp_19MiB_t2, &owasp)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(argon2id_verify_dummy, cheap_8KiB_t1, &cheap)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
