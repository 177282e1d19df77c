// The lock-free user cache.
//
// Layout: a fixed power-of-two array of buckets (2 x capacity, at least 64), each an atomic
// pointer to an immutable singly linked chain. Readers load a head and walk the chain without
// locking and without writing anything another reader writes. Writers (serialised by a mutex)
// never modify a published node: they build a new front of the chain (copy-on-write, sharing the
// part after the changed node), publish it with one store, and retire the nodes it replaced.
//
// Reclamation is epoch-based. Each reader thread owns a cache-line-sized slot per cache; around
// each find() it announces the global epoch in its slot and clears it afterwards. A writer tags
// what it retires with the current epoch, advances the epoch, and frees the nodes tagged before
// the oldest epoch still announced. Why that is safe (all the orderings involved are seq_cst,
// so there is one total order S over them):
//   - a reader that can reach a retired node loaded its bucket before the node was unlinked, so
//     its announcement precedes the unlink, which precedes the writer's scan: the scan sees the
//     announcement (epoch <= the node's tag: kept) or the reader's later "done" store (freed only
//     after the reader finished, which the acquire load orders);
//   - a reader announcing a newer epoch than the tag read the epoch after the writer advanced it,
//     hence after the unlink, so it cannot reach the node.
// This needs a seq_cst store of the announcement followed by a seq_cst load of the bucket (the
// store-load order that acquire/release cannot give); on x86 and AArch64 the load costs the
// same as an acquire load, and the store is the one fence a find() pays.

#include "authd/login/user_cache.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace authd {
namespace {

// x86 and most ARM cores. (std::hardware_destructive_interference_size makes GCC warn that its
// value may differ between compilation units.)
constexpr std::size_t cache_line = 64;

// Slots per cache. A thread claims one on its first find() and releases it when it exits. With
// more concurrent reader threads than this, the extra ones stay correct but read through a shared
// counter (see epoch_domain::overflow_readers).
constexpr std::size_t reader_slot_count = 512;

// How many find() calls a thread without a slot makes before it looks for a free one again.
constexpr unsigned overflow_retry_interval = 1024;

constexpr std::size_t min_buckets = 64;

// Keeps 2 x capacity and its rounding up to a power of two from overflowing.
constexpr std::size_t max_capacity = std::numeric_limits<std::size_t>::max() / 4;

struct node {
    std::size_t hash;
    std::string name;
    std::string phc;
    const node* next;
};

struct alignas(cache_line) reader_slot {
    // The epoch announced by the owning thread while it is inside find(); 0 otherwise.
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<bool> claimed{false};
};

// The reclamation state shared by a cache and the threads that read from it. Threads refer to it
// through weak_ptrs, so that one exiting while the cache is destroyed can tell whether its slot
// still exists, and keep it alive while releasing it.
struct epoch_domain {
    explicit epoch_domain(std::uint64_t domain_id) : id(domain_id) {}

    const std::uint64_t id;  // unique in the process: unlike an address, never reused
    // Written by writers only, read by every find(): kept off the lines readers write.
    alignas(cache_line) std::atomic<std::uint64_t> epoch{1};
    std::atomic<std::size_t> slots_used{0};  // 1 + the highest slot index ever claimed
    // Readers without a slot: while any is inside find(), writers free nothing.
    alignas(cache_line) std::atomic<std::size_t> overflow_readers{0};
    std::array<reader_slot, reader_slot_count> slots;
};

std::atomic<std::uint64_t> next_domain_id{1};

void raise_slots_used(epoch_domain& domain, std::size_t count) {
    std::size_t used = domain.slots_used.load(std::memory_order_seq_cst);
    while (used < count && !domain.slots_used.compare_exchange_weak(used, count)) {
    }
}

// A free slot of domain, now owned by the caller, or nullptr when all are taken. Slots are
// released only by their owner's thread exit.
reader_slot* claim_slot(epoch_domain& domain) {
    for (std::size_t i = 0; i < domain.slots.size(); ++i) {
        reader_slot& slot = domain.slots[i];
        bool expected = false;
        if (!slot.claimed.load(std::memory_order_relaxed) &&
            slot.claimed.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
            // Before the first announcement, so that a writer's scan covers this slot.
            raise_slots_used(domain, i + 1);
            return &slot;
        }
    }
    return nullptr;
}

// The slots one thread owns, one per cache it has read from. Looked up on every find(), hence a
// small vector scanned linearly rather than a map.
class thread_registrations {
  public:
    thread_registrations() = default;
    thread_registrations(const thread_registrations&) = delete;
    thread_registrations& operator=(const thread_registrations&) = delete;
    ~thread_registrations() {
        for (const entry& e : entries_) {
            release(e);
        }
    }

    // This thread's slot in domain, claimed on first use; nullptr while none is free.
    reader_slot* slot_in(const std::shared_ptr<epoch_domain>& domain) {
        for (entry& e : entries_) {
            if (e.domain_id != domain->id) {
                continue;
            }
            if (e.slot == nullptr && --e.retry_countdown == 0) {
                e.slot = claim_slot(*domain);
                e.retry_countdown = overflow_retry_interval;
            }
            return e.slot;
        }
        return register_with(domain);
    }

  private:
    struct entry {
        std::uint64_t domain_id;
        std::weak_ptr<epoch_domain> domain;
        reader_slot* slot;  // nullptr: none was free; retried every overflow_retry_interval
        unsigned retry_countdown;
    };

    reader_slot* register_with(const std::shared_ptr<epoch_domain>& domain) {
        // Entries of destroyed caches can never match again; drop them so that a thread reading
        // from many short-lived caches does not accumulate them.
        std::erase_if(entries_, [](const entry& e) { return e.domain.expired(); });
        entries_.reserve(entries_.size() + 1);  // before claiming: a bad_alloc must not leak it
        reader_slot* slot = claim_slot(*domain);
        entries_.push_back({domain->id, domain, slot, overflow_retry_interval});
        return slot;
    }

    static void release(const entry& e) {
        if (e.slot == nullptr) {
            return;
        }
        if (const auto domain = e.domain.lock()) {
            e.slot->claimed.store(false, std::memory_order_release);
        }
    }

    std::vector<entry> entries_;
};

thread_registrations& this_thread_registrations() {
    thread_local thread_registrations registrations;
    return registrations;
}

// Announces a reader for the duration of one find(), so that writers keep what it may reach.
class read_guard {
  public:
    explicit read_guard(const std::shared_ptr<epoch_domain>& domain)
        : domain_(*domain), slot_(this_thread_registrations().slot_in(domain)) {
        if (slot_ != nullptr) {
            slot_->epoch.store(domain_.epoch.load(std::memory_order_seq_cst),
                               std::memory_order_seq_cst);
        } else {
            domain_.overflow_readers.fetch_add(1, std::memory_order_seq_cst);
        }
    }
    read_guard(const read_guard&) = delete;
    read_guard& operator=(const read_guard&) = delete;
    ~read_guard() {
        if (slot_ != nullptr) {
            slot_->epoch.store(0, std::memory_order_release);
        } else {
            domain_.overflow_readers.fetch_sub(1, std::memory_order_release);
        }
    }

  private:
    epoch_domain& domain_;
    reader_slot* slot_;
};

// New nodes for the front of a chain, built front to back. They are private until published,
// so linking them after creation is fine; if building fails halfway they are freed and the cache
// is unchanged.
class chain_builder {
  public:
    chain_builder() = default;
    chain_builder(const chain_builder&) = delete;
    chain_builder& operator=(const chain_builder&) = delete;
    ~chain_builder() {
        for (const node* n = first_; n != nullptr;) {
            const node* next = n->next;
            delete n;
            n = next;
        }
    }

    void append(std::size_t hash, std::string_view name, std::string_view phc) {
        node* n = new node{hash, std::string(name), std::string(phc), nullptr};
        (last_ != nullptr ? last_->next : first_) = n;
        last_ = n;
    }

    // Links the built nodes in front of rest and hands them over.
    const node* finish(const node* rest) {
        if (last_ == nullptr) {
            return rest;
        }
        last_->next = rest;
        const node* head = first_;
        first_ = last_ = nullptr;
        return head;
    }

  private:
    const node* first_ = nullptr;
    node* last_ = nullptr;
};

const node* find_in(const node* head, std::size_t hash, std::string_view name) {
    for (const node* n = head; n != nullptr; n = n->next) {
        if (n->hash == hash && n->name == name) {
            return n;
        }
    }
    return nullptr;
}

const node* last_of(const node* head) {
    while (head->next != nullptr) {
        head = head->next;
    }
    return head;
}

void free_chain(const node* n) {
    while (n != nullptr) {
        const node* next = n->next;
        delete n;
        n = next;
    }
}

std::size_t bucket_count_for(std::size_t capacity) {
    if (capacity > max_capacity) {
        throw std::length_error("user cache capacity too large");
    }
    return std::bit_ceil(std::max(min_buckets, 2 * capacity));
}

// A put() of a new name into a full cache evicts the oldest-written entry of the next non-empty
// bucket after a rotating cursor (new entries go to the front of their chain). Reads cannot feed
// an LRU order without writing shared state, so this is clock-like eviction spread evenly over
// the table; at the 50% bucket load of a full cache, a few buckets are looked at per eviction.
//
// Precondition of the destructor, as for any object: no thread is inside a member function.
class lock_free_user_cache final : public user_cache {
  public:
    explicit lock_free_user_cache(std::size_t capacity)
        : capacity_(capacity),
          mask_(bucket_count_for(capacity) - 1),
          buckets_(std::make_unique<std::atomic<const node*>[]>(mask_ + 1)),
          domain_(std::make_shared<epoch_domain>(
              next_domain_id.fetch_add(1, std::memory_order_relaxed))) {}

    lock_free_user_cache(const lock_free_user_cache&) = delete;
    lock_free_user_cache& operator=(const lock_free_user_cache&) = delete;

    ~lock_free_user_cache() override {
        for (std::size_t i = 0; i <= mask_; ++i) {
            free_chain(buckets_[i].load(std::memory_order_relaxed));
        }
        for (const retired_node& r : retired_) {
            delete r.n;
        }
    }

    bool find(std::string_view name, std::string& phc) const override {
        const std::size_t hash = hash_of(name);
        const read_guard guard(domain_);
        // seq_cst, not acquire: must not be ordered before the announcement (see the top).
        const node* n = find_in(bucket_for(hash).load(std::memory_order_seq_cst), hash, name);
        if (n == nullptr) {
            return false;
        }
        phc.assign(n->phc);
        return true;
    }

    void put(std::string_view name, std::string_view phc) override {
        if (capacity_ == 0) {
            return;  // a cache of capacity 0 caches nothing
        }
        const std::size_t hash = hash_of(name);
        const std::lock_guard lock(write_mutex_);
        std::atomic<const node*>& bucket = bucket_for(hash);
        const node* old = find_in(bucket.load(std::memory_order_relaxed), hash, name);
        if (old == nullptr && size_.load(std::memory_order_relaxed) >= capacity_) {
            evict_one();  // before inserting: it may rewrite this very bucket
        }
        chain_builder front;
        front.append(hash, name, phc);
        splice(bucket, front, old);
        if (old == nullptr) {
            size_.fetch_add(1, std::memory_order_relaxed);
        }
        reclaim();
    }

    void erase(std::string_view name) override {
        const std::size_t hash = hash_of(name);
        const std::lock_guard lock(write_mutex_);
        std::atomic<const node*>& bucket = bucket_for(hash);
        const node* old = find_in(bucket.load(std::memory_order_relaxed), hash, name);
        if (old == nullptr) {
            return;
        }
        chain_builder none;
        splice(bucket, none, old);
        size_.fetch_sub(1, std::memory_order_relaxed);
        reclaim();
    }

    void clear() override {
        const std::lock_guard lock(write_mutex_);
        reserve_retired(size_.load(std::memory_order_relaxed));
        for (std::size_t i = 0; i <= mask_; ++i) {
            const node* head = buckets_[i].load(std::memory_order_relaxed);
            if (head != nullptr) {
                publish(buckets_[i], nullptr);
                retire(head, nullptr);
            }
        }
        size_.store(0, std::memory_order_relaxed);
        reclaim();
    }

    std::size_t size() const override { return size_.load(std::memory_order_relaxed); }

  private:
    struct retired_node {
        const node* n;
        std::uint64_t epoch;  // the epoch when it was unlinked
    };

    static std::size_t hash_of(std::string_view name) {
        return std::hash<std::string_view>{}(name);
    }

    std::atomic<const node*>& bucket_for(std::size_t hash) const { return buckets_[hash & mask_]; }

    // Publishes bucket's chain with the nodes built in front, then the chain without victim (if
    // not null): the nodes before victim are copied, those after it are shared. Retires the
    // replaced nodes.
    void splice(std::atomic<const node*>& bucket, chain_builder& front, const node* victim) {
        const node* head = bucket.load(std::memory_order_relaxed);
        if (victim == nullptr) {
            publish(bucket, front.finish(head));
            return;
        }
        std::size_t replaced = 1;
        for (const node* n = head; n != victim; n = n->next, ++replaced) {
            front.append(n->hash, n->name, n->phc);
        }
        reserve_retired(replaced);  // so that nothing can fail once the new chain is published
        publish(bucket, front.finish(victim->next));
        retire(head, victim->next);
    }

    // seq_cst rather than release: a writer's scan of the slots must not be ordered before it.
    static void publish(std::atomic<const node*>& bucket, const node* head) {
        bucket.store(head, std::memory_order_seq_cst);
    }

    void reserve_retired(std::size_t more) {
        const std::size_t needed = retired_.size() + more;
        if (needed > retired_.capacity()) {
            retired_.reserve(std::max(needed, 2 * retired_.capacity()));
        }
    }

    // Retires the unlinked nodes [first, stop); capacity was reserved by the caller.
    void retire(const node* first, const node* stop) {
        // Only writers change the epoch, under write_mutex_: a relaxed load sees the latest.
        const std::uint64_t epoch = domain_->epoch.load(std::memory_order_relaxed);
        for (const node* n = first; n != stop; n = n->next) {
            retired_.push_back({n, epoch});
        }
    }

    // Frees the retired nodes that no reader can still reach.
    void reclaim() {
        if (retired_.empty()) {
            return;
        }
        // Readers that start from now on announce a newer epoch than anything retired so far.
        domain_->epoch.fetch_add(1, std::memory_order_seq_cst);
        const std::uint64_t oldest = oldest_announced_epoch();
        // retired_ is in epoch order.
        auto end = retired_.begin();
        for (; end != retired_.end() && end->epoch < oldest; ++end) {
            delete end->n;
        }
        retired_.erase(retired_.begin(), end);
    }

    std::uint64_t oldest_announced_epoch() const {
        const epoch_domain& domain = *domain_;
        if (domain.overflow_readers.load(std::memory_order_seq_cst) != 0) {
            return 0;  // a reader without a slot may hold anything
        }
        std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
        const std::size_t used = domain.slots_used.load(std::memory_order_seq_cst);
        for (std::size_t i = 0; i < used; ++i) {
            const std::uint64_t epoch = domain.slots[i].epoch.load(std::memory_order_seq_cst);
            if (epoch != 0) {
                oldest = std::min(oldest, epoch);
            }
        }
        return oldest;
    }

    // Evicts one entry (see the class comment). Precondition: the cache is not empty.
    void evict_one() {
        for (;;) {
            std::atomic<const node*>& bucket = buckets_[evict_cursor_];
            evict_cursor_ = (evict_cursor_ + 1) & mask_;
            const node* head = bucket.load(std::memory_order_relaxed);
            if (head != nullptr) {
                chain_builder none;
                splice(bucket, none, last_of(head));
                size_.fetch_sub(1, std::memory_order_relaxed);
                return;
            }
        }
    }

    const std::size_t capacity_;
    const std::size_t mask_;  // bucket count - 1
    const std::unique_ptr<std::atomic<const node*>[]> buckets_;
    const std::shared_ptr<epoch_domain> domain_;
    std::atomic<std::size_t> size_{0};  // written by writers only

    std::mutex write_mutex_;
    // Guarded by write_mutex_:
    std::vector<retired_node> retired_;
    std::size_t evict_cursor_ = 0;
};

}  // namespace

std::unique_ptr<user_cache> make_user_cache(std::size_t capacity) {
    return std::make_unique<lock_free_user_cache>(capacity);
}

}  // namespace authd
