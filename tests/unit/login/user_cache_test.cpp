#include "authd/login/user_cache.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

using authd::make_user_cache;
using authd::user_cache;

std::vector<std::string> make_names(std::size_t count) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < count; ++i) {
        names.push_back("user" + std::to_string(i));
    }
    return names;
}

std::string versioned(std::string_view name, std::uint64_t version) {
    return std::string(name) + ":" + std::to_string(version);
}

// A value read concurrently must be "name:digits" for the very name asked for.
bool well_formed(std::string_view name, std::string_view value) {
    if (value.size() <= name.size() + 1 || value.substr(0, name.size()) != name ||
        value[name.size()] != ':') {
        return false;
    }
    for (char c : value.substr(name.size() + 1)) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

TEST(user_cache, find_on_empty_cache_misses) {
    const auto cache = make_user_cache(16);
    std::string phc;
    EXPECT_FALSE(cache->find("alice", phc));
    EXPECT_EQ(cache->size(), 0u);
}

TEST(user_cache, put_then_find) {
    const auto cache = make_user_cache(16);
    cache->put("alice", "$argon2id$a");
    cache->put("bob", "$argon2id$b");
    std::string phc;
    ASSERT_TRUE(cache->find("alice", phc));
    EXPECT_EQ(phc, "$argon2id$a");
    ASSERT_TRUE(cache->find("bob", phc));
    EXPECT_EQ(phc, "$argon2id$b");
    EXPECT_FALSE(cache->find("carol", phc));
    EXPECT_EQ(cache->size(), 2u);
}

TEST(user_cache, find_overwrites_a_longer_previous_value) {
    const auto cache = make_user_cache(16);
    cache->put("alice", "short");
    std::string phc(200, 'x');
    ASSERT_TRUE(cache->find("alice", phc));
    EXPECT_EQ(phc, "short");
}

TEST(user_cache, put_replaces_existing_name) {
    const auto cache = make_user_cache(16);
    cache->put("alice", "old");
    cache->put("alice", "new");
    std::string phc;
    ASSERT_TRUE(cache->find("alice", phc));
    EXPECT_EQ(phc, "new");
    EXPECT_EQ(cache->size(), 1u);
}

TEST(user_cache, erase_removes_only_that_name) {
    const auto cache = make_user_cache(16);
    cache->put("alice", "a");
    cache->put("bob", "b");
    cache->erase("alice");
    cache->erase("nobody");
    std::string phc;
    EXPECT_FALSE(cache->find("alice", phc));
    ASSERT_TRUE(cache->find("bob", phc));
    EXPECT_EQ(phc, "b");
    EXPECT_EQ(cache->size(), 1u);
    cache->put("alice", "a2");
    ASSERT_TRUE(cache->find("alice", phc));
    EXPECT_EQ(phc, "a2");
    EXPECT_EQ(cache->size(), 2u);
}

TEST(user_cache, clear_removes_everything) {
    const auto cache = make_user_cache(64);
    for (const auto& name : make_names(50)) {
        cache->put(name, name);
    }
    cache->clear();
    EXPECT_EQ(cache->size(), 0u);
    std::string phc;
    for (const auto& name : make_names(50)) {
        EXPECT_FALSE(cache->find(name, phc)) << name;
    }
    cache->put("alice", "a");
    EXPECT_TRUE(cache->find("alice", phc));
    EXPECT_EQ(cache->size(), 1u);
}

// With 64 buckets and hundreds of names, chains are long: erase and replace from their middle.
TEST(user_cache, operations_inside_long_chains) {
    const auto names = make_names(500);
    const auto cache = make_user_cache(names.size());
    for (const auto& name : names) {
        cache->put(name, versioned(name, 1));
    }
    for (std::size_t i = 0; i < names.size(); i += 2) {
        cache->erase(names[i]);
    }
    for (std::size_t i = 1; i < names.size(); i += 4) {
        cache->put(names[i], versioned(names[i], 2));
    }
    EXPECT_EQ(cache->size(), names.size() / 2);
    std::string phc;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i % 2 == 0) {
            EXPECT_FALSE(cache->find(names[i], phc)) << names[i];
            continue;
        }
        ASSERT_TRUE(cache->find(names[i], phc)) << names[i];
        EXPECT_EQ(phc, versioned(names[i], i % 4 == 1 ? 2 : 1));
    }
}

TEST(user_cache, empty_name_and_value_are_ordinary_keys) {
    const auto cache = make_user_cache(4);
    cache->put("", "");
    std::string phc = "x";
    ASSERT_TRUE(cache->find("", phc));
    EXPECT_EQ(phc, "");
}

TEST(user_cache, size_never_exceeds_capacity_and_latest_put_is_kept) {
    for (const std::size_t capacity : {1u, 2u, 7u, 16u, 100u}) {
        const auto cache = make_user_cache(capacity);
        const auto names = make_names(10 * capacity);
        std::string phc;
        for (const auto& name : names) {
            cache->put(name, versioned(name, 0));
            ASSERT_LE(cache->size(), capacity);
            ASSERT_TRUE(cache->find(name, phc)) << name;
            EXPECT_EQ(phc, versioned(name, 0));
        }
        EXPECT_EQ(cache->size(), capacity);
        std::size_t found = 0;
        for (const auto& name : names) {
            if (cache->find(name, phc)) {
                EXPECT_EQ(phc, versioned(name, 0));
                ++found;
            }
        }
        EXPECT_EQ(found, capacity);
    }
}

TEST(user_cache, replacing_in_a_full_cache_evicts_nothing) {
    const auto cache = make_user_cache(8);
    const auto names = make_names(8);
    for (const auto& name : names) {
        cache->put(name, versioned(name, 0));
    }
    for (const auto& name : names) {
        cache->put(name, versioned(name, 1));
    }
    std::string phc;
    for (const auto& name : names) {
        ASSERT_TRUE(cache->find(name, phc)) << name;
        EXPECT_EQ(phc, versioned(name, 1));
    }
}

TEST(user_cache, zero_capacity_caches_nothing) {
    const auto cache = make_user_cache(0);
    cache->put("alice", "a");
    std::string phc;
    EXPECT_FALSE(cache->find("alice", phc));
    EXPECT_EQ(cache->size(), 0u);
    cache->erase("alice");
    cache->clear();
}

TEST(user_cache, many_instances_in_one_thread) {
    std::string phc;
    auto survivor = make_user_cache(4);
    survivor->put("alice", "survivor");
    for (int i = 0; i < 2000; ++i) {
        const auto cache = make_user_cache(4);
        cache->put("alice", versioned("alice", i));
        ASSERT_TRUE(cache->find("alice", phc));
        ASSERT_EQ(phc, versioned("alice", i));
        ASSERT_TRUE(survivor->find("alice", phc));
        ASSERT_EQ(phc, "survivor");
    }
}

TEST(user_cache, several_live_instances_read_alternately) {
    std::vector<std::unique_ptr<user_cache>> caches;
    for (int i = 0; i < 20; ++i) {
        caches.push_back(make_user_cache(4));
        caches.back()->put("alice", versioned("alice", i));
    }
    std::string phc;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 20; ++i) {
            ASSERT_TRUE(caches[i]->find("alice", phc));
            EXPECT_EQ(phc, versioned("alice", i));
        }
        caches[round].reset();  // its registration goes stale while others stay in use
        caches[round] = make_user_cache(4);
        caches[round]->put("alice", versioned("alice", round));
    }
}

TEST(user_cache, many_instances_across_threads) {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([t, &failures] {
            std::string phc;
            for (int i = 0; i < 300; ++i) {
                const auto cache = make_user_cache(2);
                const std::string value = versioned(std::string(1, 't') += std::to_string(t), i);
                cache->put("alice", value);
                cache->put("bob", value);
                cache->put("carol", value);  // evicts one of the others
                if (!cache->find("carol", phc) || phc != value || cache->size() != 2) {
                    failures.fetch_add(1);
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(failures.load(), 0);
}

// Threads come and go (more of them than there are reader slots) while the cache lives on, and
// a thread outlives a cache it read from.
TEST(user_cache, reader_threads_outliving_or_outlived_by_the_cache) {
    const auto cache = make_user_cache(4);
    cache->put("alice", "a");
    std::atomic<int> failures{0};
    for (int batch = 0; batch < 75; ++batch) {
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&] {
                std::string phc;
                if (!cache->find("alice", phc) || phc != "a") {
                    failures.fetch_add(1);
                }
            });
        }
        for (auto& thread : threads) {
            thread.join();
        }
    }
    EXPECT_EQ(failures.load(), 0);

    auto doomed = make_user_cache(4);
    doomed->put("bob", "b");
    std::latch read(1);
    std::latch destroyed(1);
    std::thread reader([&] {
        std::string phc;
        if (!doomed->find("bob", phc) || phc != "b") {
            failures.fetch_add(1);
        }
        read.count_down();
        destroyed.wait();
        // Its registration with the destroyed cache is stale now; a new cache must still work.
        const auto fresh = make_user_cache(4);
        fresh->put("bob", "b2");
        if (!fresh->find("bob", phc) || phc != "b2") {
            failures.fetch_add(1);
        }
    });  // exits after the cache it first read from is gone
    read.wait();
    doomed.reset();
    destroyed.count_down();
    reader.join();
    EXPECT_EQ(failures.load(), 0);
}

struct stress_options {
    std::size_t capacity;
    std::size_t name_count;
    int readers;
    std::chrono::milliseconds duration{0};
    std::uint64_t writes = 0;  // when not 0: run until this many writes instead of duration
};

struct stress_result {
    std::uint64_t writes = 0;
    std::uint64_t hits = 0;
    std::uint64_t bad = 0;
};

// One writer replaces, erases, re-puts and (rarely) clears while readers look up every name.
stress_result run_stress(user_cache& cache, const stress_options& options) {
    const auto names = make_names(options.name_count);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> bad{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < options.readers; ++r) {
        readers.emplace_back([&] {
            std::string phc;
            std::uint64_t my_hits = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                for (const auto& name : names) {
                    if (!cache.find(name, phc)) {
                        continue;
                    }
                    ++my_hits;
                    if (!well_formed(name, phc)) {
                        bad.fetch_add(1);
                    }
                }
            }
            hits.fetch_add(my_hits);
        });
    }
    std::mt19937_64 rng(42);
    std::uint64_t writes = 0;
    const auto deadline = std::chrono::steady_clock::now() + options.duration;
    while (options.writes != 0 ? writes < options.writes
                               : std::chrono::steady_clock::now() < deadline) {
        const std::uint64_t pick = rng();
        const std::string& name = names[pick % names.size()];
        const std::uint64_t op = (pick >> 32) % 10'000;
        if (op == 0) {
            cache.clear();
        } else if (op < 1'500) {
            cache.erase(name);
        } else {
            cache.put(name, versioned(name, writes));
        }
        ++writes;
    }
    stop.store(true);
    for (auto& reader : readers) {
        reader.join();
    }
    return {writes, hits.load(), bad.load()};
}

TEST(user_cache, concurrent_readers_see_only_whole_values_of_their_name) {
    const auto cache = make_user_cache(128);
    const auto result = run_stress(*cache, {128, 64, 4, std::chrono::milliseconds(300)});
    EXPECT_EQ(result.bad, 0u);
    EXPECT_GT(result.hits, 0u);
    EXPECT_GT(result.writes, 100u);
    EXPECT_LE(cache->size(), 128u);
}

TEST(user_cache, concurrent_readers_while_the_writer_evicts) {
    const auto cache = make_user_cache(16);
    const auto result = run_stress(*cache, {16, 64, 4, std::chrono::milliseconds(300)});
    EXPECT_EQ(result.bad, 0u);
    EXPECT_GT(result.hits, 0u);
    EXPECT_LE(cache->size(), 16u);
}

std::size_t heap_in_use() {
#if defined(__GLIBC__)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

// A million replacements with readers active: retired nodes must be freed along the way, not
// only when the cache is destroyed (without reclamation this would hold ~100 MB).
TEST(user_cache, replaced_entries_are_reclaimed_while_readers_run) {
    const auto cache = make_user_cache(8);
    run_stress(*cache, {8, 16, 2, {}, 10'000});  // warm up the allocator
    const std::size_t before = heap_in_use();
    const auto result = run_stress(*cache, {8, 16, 2, {}, 1'000'000});
    const std::size_t after = heap_in_use();
    EXPECT_EQ(result.bad, 0u);
    EXPECT_LT(after, before + 16 * 1024 * 1024) << "retired nodes do not seem to be freed";
}

// More reader threads than a cache has slots: the extra ones read without one, still safely.
TEST(user_cache, more_concurrent_readers_than_slots) {
    const auto cache = make_user_cache(64);
    const auto names = make_names(32);
    for (const auto& name : names) {
        cache->put(name, versioned(name, 0));
    }
    constexpr int reader_count = 600;
    std::latch all_registered(reader_count + 1);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bad{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < reader_count; ++r) {
        readers.emplace_back([&, r] {
            std::string phc;
            cache->find(names[0], phc);  // claims a slot, or finds none left
            all_registered.count_down();
            all_registered.wait();
            for (int i = 0; i < 50 && !stop.load(std::memory_order_relaxed); ++i) {
                const std::string& name = names[(r + i) % names.size()];
                if (cache->find(name, phc) && !well_formed(name, phc)) {
                    bad.fetch_add(1);
                }
            }
        });
    }
    all_registered.arrive_and_wait();
    for (std::uint64_t v = 1; v < 20'000; ++v) {
        const std::string& name = names[v % names.size()];
        if (v % 7 == 0) {
            cache->erase(name);
        } else {
            cache->put(name, versioned(name, v));
        }
    }
    stop.store(true);
    for (auto& reader : readers) {
        reader.join();
    }
    EXPECT_EQ(bad.load(), 0u);
}

}  // namespace
