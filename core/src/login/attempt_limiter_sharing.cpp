// How an attempt_limiter shares its counts with a limit store (attempt_limiter.hpp): what it
// counts by itself while the store does not answer, telling an outage from a refused statement,
// and the merge once the store answers again; the periodic upkeep.
#include <algorithm>
#include <string>
#include <vector>

#include "authd/login/attempt_limiter.hpp"
#include "authd/store/store_errors.hpp"

#include "unshared_counts.hpp"

namespace authd {

namespace {

// The key of a count noted while the store did not answer: its budget, account and address.
std::string unshared_key(limit_budget budget, const account_digest& account,
                         std::uint64_t address) {
    std::string key(1, static_cast<char>(budget));
    key.append(reinterpret_cast<const char*>(account.bytes.data()), account.bytes.size());
    for (int i = 7; i >= 0; --i) {
        key.push_back(static_cast<char>((address >> (8 * i)) & 0xff));
    }
    return key;
}

// Counts merged in one call (one transaction of the store) after an outage: a node that counted
// 100,000 keys by itself does not send them in one statement, and a call that fails loses or
// repeats nothing of the calls before it.
constexpr std::size_t merge_batch = 256;

}  // namespace

void attempt_limiter::note_unshared(const account_digest& digest, std::uint64_t address,
                                    bool known) {
    const auto add = [&](limit_budget budget, const account_digest& account, std::uint64_t addr) {
        auto key = unshared_key(budget, account, addr);
        const std::lock_guard lock(unshared_->mutex);
        unshared_pending_.store(true, std::memory_order_relaxed);
        auto it = unshared_->counts.find(key);
        if (it == unshared_->counts.end()) {
            if (unshared_->counts.size() >= config_.max_entries) {
                return;  // the local counts still hold; only the merge of this one is lost
            }
            it = unshared_->counts.emplace(std::move(key), unshared_count{budget, account, addr, 0})
                     .first;
        }
        it->second.failures += 1;
    };
    if (account_enabled_) {
        add(known ? limit_budget::known_address : limit_budget::account, digest,
            known ? address : 0);
    }
    if (address_enabled_) {
        add(limit_budget::address, account_digest{}, address);
    }
}

void attempt_limiter::store_failed(const char* during, const std::exception& e) noexcept {
    if (store_up_.exchange(false, std::memory_order_relaxed)) {
        try {
            if (events_) {
                events_(
                    "limits_store_unreachable",
                    std::string("counting locally until it answers (") + during + "): " + e.what());
            }
        } catch (...) {
            // Nothing to tell it with: the metric says it.
        }
    }
}

// The store answered but refused a statement (a bug, a role without its grants): not an outage.
// Said every time: nothing a client sends makes it happen, and an operator must hear of it.
void attempt_limiter::store_refused(const char* during, const std::exception& e) noexcept {
    try {
        if (events_) {
            events_("limits_store_refused",
                    std::string("counted by this node alone (") + during + "): " + e.what());
        }
    } catch (...) {
        // Nothing to tell it with.
    }
}

// seen: the caller has just had an answer from the store. Without one, the store counts as
// answering again only once a merge of what was counted meanwhile went through: with nothing to
// merge, nothing here asks it.
void attempt_limiter::store_answered(bool seen) noexcept {
    if (store_up_.load(std::memory_order_relaxed) &&
        !unshared_pending_.load(std::memory_order_relaxed)) {
        return;
    }
    // Back: what was counted meanwhile goes to the store first, by one thread (the others go on
    // counting by themselves until it has merged), in batches of merge_batch, each one
    // transaction. Counts noted while it merges are merged too, before the store counts as
    // answering; a straggler noted after (an attempt admitted locally that settles later) is
    // merged by the next upkeep.
    const std::unique_lock merging(merge_mutex_, std::try_to_lock);
    if (!merging.owns_lock()) {
        return;
    }
    std::size_t merged = 0;
    bool answered = seen;
    for (;;) {
        std::vector<unshared_count> counts;
        try {
            {
                const std::lock_guard lock(unshared_->mutex);
                if (unshared_->counts.empty()) {
                    unshared_pending_.store(false, std::memory_order_relaxed);
                    break;
                }
                counts.reserve(std::min(merge_batch, unshared_->counts.size()));
                for (auto it = unshared_->counts.begin();
                     it != unshared_->counts.end() && counts.size() < merge_batch;) {
                    counts.push_back(it->second);
                    it = unshared_->counts.erase(it);
                }
            }
            store_->merge(counts, config_);
            answered = true;
            merged += counts.size();
        } catch (const store_unavailable&) {
            // Not yet: keep this batch (nothing of it was added) for the next time it answers.
            put_back(counts);
            return;
        } catch (const store_error& e) {
            // Refused, not unreachable: it would refuse this batch again at every upkeep. One
            // count at a time, so that only what it refuses stays this node's own (those counts
            // still hold here); the store answers.
            answered = true;
            store_refused("merge", e);
            if (!merge_one_by_one(counts, merged)) {
                return;
            }
        } catch (const std::exception&) {
            put_back(counts);  // out of memory: the next upkeep tries again
            return;
        }
    }
    if (!answered) {
        return;
    }
    if (!store_up_.exchange(true, std::memory_order_relaxed) && events_) {
        try {
            events_("limits_store_answers", "counting in the store again; merged " +
                                                std::to_string(merged) +
                                                " counters counted meanwhile");
        } catch (...) {
            // Nothing to tell it with: the metric says it.
        }
    }
}

// A batch the store refused, one count at a time: what it refuses again is dropped (said once, by
// the caller), what it takes is merged. False when it stopped answering (the rest put back).
bool attempt_limiter::merge_one_by_one(std::vector<unshared_count>& counts,
                                       std::size_t& merged) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) {
        try {
            store_->merge({counts[i]}, config_);
            ++merged;
        } catch (const store_unavailable&) {
            std::vector<unshared_count> rest(counts.begin() + static_cast<std::ptrdiff_t>(i),
                                             counts.end());
            put_back(rest);
            return false;
        } catch (const std::exception&) {
            // Refused (or no memory for the vector): this count stays this node's own.
        }
    }
    return true;
}

void attempt_limiter::put_back(std::vector<unshared_count>& counts) noexcept {
    try {
        const std::lock_guard lock(unshared_->mutex);
        for (auto& c : counts) {
            auto [it, fresh] =
                unshared_->counts.emplace(unshared_key(c.budget, c.account, c.address), c);
            if (!fresh) {
                it->second.failures += c.failures;
            }
        }
        if (!counts.empty()) {
            unshared_pending_.store(true, std::memory_order_relaxed);
        }
    } catch (...) {
        // Out of memory: those counts stay local only.
    }
}

void attempt_limiter::maintain(clock::time_point now) noexcept {
    if (store_ == nullptr) {
        return;
    }
    const std::unique_lock lock(maintain_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
        return;
    }
    const bool pending = unshared_pending_.load(std::memory_order_relaxed);
    if (pending) {
        store_answered(false);  // tries the merge; stays down if the store still does not answer
    } else if (!store_up_.load(std::memory_order_relaxed)) {
        // Nothing to merge: whether the store is back is asked of it, one round trip per upkeep
        // while it is down (a node that nobody logs in to must say so in /metrics too).
        try {
            store_->check();
        } catch (const std::exception&) {
            return;  // still down: said once already (store_failed)
        }
        store_answered(true);
    }
    if (now < next_prune_) {
        return;
    }
    next_prune_ = now + std::chrono::seconds(60);
    try {
        store_->prune(config_);
    } catch (const store_unavailable& e) {
        store_failed("prune", e);
    } catch (const std::exception& e) {
        store_refused("prune", e);
    }
}

}  // namespace authd
