// Token cutoffs as a store keeps them: a user's tokens issued before not_before (unix seconds) are
// void. Written by user_store::set_hash() and remove_user() in the same transaction as the
// change (a password change or a removal voids the user's tokens); read here, at start and after
// a change made elsewhere (docs/architecture.md, "Password changes and removals void tokens").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "authd/store/store_errors.hpp"

namespace authd {

// Token cutoffs older than this are of no use to anyone: no token lives longer (--token-ttl is at
// most 366 days), so those it voids have expired.
inline constexpr std::int64_t max_token_ttl_seconds = 366LL * 86400;

class token_cutoff_store {
  public:
    virtual ~token_cutoff_store() = default;

    // Every token cutoff whose not_before is after since, as (name, not_before).
    virtual std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since) = 0;
};

}  // namespace authd
