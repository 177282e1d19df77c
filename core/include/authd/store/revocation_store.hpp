// Revoked tokens (/logout), kept by a store so that every node and every restart refuses them: a
// token id (jti) stays revoked until exp (unix seconds), when the token would have expired anyway.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authd/store/store_errors.hpp"

namespace authd {

class revocation_store {
  public:
    virtual ~revocation_store() = default;

    // Revokes jti until exp. Revoking twice is not an error.
    virtual void revoke_token(std::string_view jti, std::int64_t exp) = 0;
    // Every revocation whose exp is after now, as (jti, exp).
    virtual std::vector<std::pair<std::string, std::int64_t>> revoked_tokens(std::int64_t now) = 0;
    // Forgets revocations whose exp is now or earlier.
    virtual void purge_revoked_tokens(std::int64_t now) = 0;
};

}  // namespace authd
