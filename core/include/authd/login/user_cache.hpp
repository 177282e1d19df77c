// The in-memory cache of user records in front of the store.
//
// Lookups never take a lock: any number of threads may call find() while one writer changes the
// map (writers are serialised among themselves). Records are small and immutable once published.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace authd {

class user_cache {
  public:
    virtual ~user_cache() = default;

    // Copies the cached hash of name into phc (its capacity reused) and returns true, or returns
    // false when name is not cached. Never blocks.
    virtual bool find(std::string_view name, std::string& phc) const = 0;

    // Inserts or replaces name's hash. When the cache is full, another entry is evicted.
    virtual void put(std::string_view name, std::string_view phc) = 0;

    // Removes name if cached.
    virtual void erase(std::string_view name) = 0;

    // Removes everything (after the store changed behind the cache's back).
    virtual void clear() = 0;

    virtual std::size_t size() const = 0;
};

// The lock-free implementation: a fixed array of buckets, each an atomically published immutable
// chain, with epoch-based reclamation of replaced chains. capacity bounds the number of entries.
std::unique_ptr<user_cache> make_user_cache(std::size_t capacity);

}  // namespace authd
