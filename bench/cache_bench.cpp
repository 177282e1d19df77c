// User cache lookups: authd's lock-free cache (authd::make_user_cache) against the obvious
// baseline, a std::shared_mutex around a std::unordered_map, doing the same find-and-copy of a
// PHC string. Both hold 10,000 users and are read in a fixed pseudo-random order of names.
//
// Run with 1 thread and with one thread per core, in real time, so items_per_second is the total
// throughput of all the reader threads: a cache that scales shows ~N x the 1-thread figure. That
// needs idle cores; on a shared machine read the CPU column too (CPU time per lookup, summed over
// the threads): it stays flat from 1 to N threads when lookups do not contend, and grows when
// they do (the shared_mutex's reader count bouncing between cores). The *_while_writing rows add
// one more thread (not a benchmark thread) that keeps replacing existing entries for the whole
// run; writer_puts_per_second says how hard it pushed.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>

#include "authd/login/user_cache.hpp"

namespace {

constexpr std::size_t user_count = 10'000;
constexpr std::size_t lookup_count = 1U << 14;  // a power of two: the index wraps with a mask

struct user {
    std::string name;
    std::string phc;
};

// Names such as "user_3fa91c0e27" and PHC strings of the real length (97 bytes at OWASP
// parameters); the bytes are random but fixed from run to run.
const std::vector<user>& users() {
    static const std::vector<user> list = [] {
        constexpr std::string_view b64 =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        constexpr std::string_view hex = "0123456789abcdef";
        std::mt19937_64 random(20261101);
        auto text = [&random](std::string_view alphabet, std::size_t size) {
            std::string s;
            for (std::size_t i = 0; i < size; ++i) {
                s += alphabet[random() % alphabet.size()];
            }
            return s;
        };
        std::vector<user> out;
        out.reserve(user_count);
        for (std::size_t i = 0; i < user_count; ++i) {
            out.push_back({"user_" + text(hex, 10), "$argon2id$v=19$m=19456,t=2,p=1$" +
                                                        text(b64, 22) + "$" + text(b64, 43)});
        }
        return out;
    }();
    return list;
}

// The names to look up, in a pseudo-random order over all the users.
const std::vector<const std::string*>& lookup_order() {
    static const std::vector<const std::string*> order = [] {
        std::mt19937 random(42);
        std::uniform_int_distribution<std::size_t> pick(0, user_count - 1);
        std::vector<const std::string*> out;
        out.reserve(lookup_count);
        for (std::size_t i = 0; i < lookup_count; ++i) {
            out.push_back(&users()[pick(random)].name);
        }
        return out;
    }();
    return order;
}

// authd's cache, full of the users.
class authd_cache {
  public:
    authd_cache() : cache_(authd::make_user_cache(user_count)) {
        for (const user& u : users()) {
            cache_->put(u.name, u.phc);
        }
    }
    bool find(const std::string& name, std::string& phc) const { return cache_->find(name, phc); }
    void put(const std::string& name, const std::string& phc) { cache_->put(name, phc); }

  private:
    std::unique_ptr<authd::user_cache> cache_;
};

// The baseline: readers share a lock, a writer takes it alone.
class shared_mutex_map {
  public:
    shared_mutex_map() {
        map_.reserve(user_count);
        for (const user& u : users()) {
            map_.emplace(u.name, u.phc);
        }
    }
    bool find(const std::string& name, std::string& phc) const {
        const std::shared_lock lock(mutex_);
        const auto it = map_.find(name);
        if (it == map_.end()) {
            return false;
        }
        phc.assign(it->second);
        return true;
    }
    void put(const std::string& name, const std::string& phc) {
        const std::unique_lock lock(mutex_);
        map_.insert_or_assign(name, phc);
    }

  private:
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, std::string> map_;
};

// One instance of each, shared by all threads and runs (built before any timing starts).
template <class Cache>
Cache& instance() {
    static Cache cache;
    return cache;
}

// A thread replacing existing entries (same name, same hash) in a loop until stopped.
template <class Cache>
class background_writer {
  public:
    explicit background_writer(Cache& cache) : thread_([this, &cache] { run(cache); }) {}
    background_writer(const background_writer&) = delete;
    background_writer& operator=(const background_writer&) = delete;
    ~background_writer() { stop(); }

    // Stops the thread and returns how many puts it made.
    std::uint64_t stop() {
        stop_.store(true, std::memory_order_relaxed);
        if (thread_.joinable()) {
            thread_.join();
        }
        return puts_;
    }

  private:
    void run(Cache& cache) {
        const auto& list = users();
        std::uint64_t n = 0;
        for (std::size_t i = 0; !stop_.load(std::memory_order_relaxed); i = (i + 1) % list.size()) {
            cache.put(list[i].name, list[i].phc);
            ++n;
        }
        puts_ = n;
    }

    std::atomic<bool> stop_{false};
    std::uint64_t puts_ = 0;  // written by the thread before it ends, read after join()
    std::thread thread_;      // last: the thread starts once the members above exist
};

template <class Cache>
void find_bench(benchmark::State& state, bool with_writer) {
    Cache& cache = instance<Cache>();
    const auto& order = lookup_order();
    // Thread 0 starts the writer before it enters the loop; the other threads wait at the loop's
    // start barrier, so the writer runs during all the timed iterations.
    std::optional<background_writer<Cache>> writer;
    if (with_writer && state.thread_index() == 0) {
        writer.emplace(cache);
    }
    std::string phc;
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 4099;
    std::int64_t hits = 0;
    for (auto _ : state) {
        hits += cache.find(*order[i & (lookup_count - 1)], phc) ? 1 : 0;
        ++i;
    }
    if (writer) {
        state.counters["writer_puts_per_second"] =
            benchmark::Counter(static_cast<double>(writer->stop()), benchmark::Counter::kIsRate);
    }
    if (hits != static_cast<std::int64_t>(state.iterations())) {
        state.SkipWithError("a lookup of a cached user missed");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void authd_cache_find(benchmark::State& state) {
    find_bench<authd_cache>(state, false);
}
void shared_mutex_map_find(benchmark::State& state) {
    find_bench<shared_mutex_map>(state, false);
}
void authd_cache_find_while_writing(benchmark::State& state) {
    find_bench<authd_cache>(state, true);
}
void shared_mutex_map_find_while_writing(benchmark::State& state) {
    find_bench<shared_mutex_map>(state, true);
}

// 1 thread, 2, and one per core when there are more.
void reader_threads(benchmark::internal::Benchmark* b) {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    b->Threads(1);
    if (cores >= 2) {
        b->Threads(2);
    }
    if (cores > 2) {
        b->Threads(cores);
    }
    b->UseRealTime();
}

BENCHMARK(authd_cache_find)->Apply(reader_threads);
BENCHMARK(shared_mutex_map_find)->Apply(reader_threads);
BENCHMARK(authd_cache_find_while_writing)->Apply(reader_threads);
BENCHMARK(shared_mutex_map_find_while_writing)->Apply(reader_threads);

}  // namespace

BENCHMARK_MAIN();
