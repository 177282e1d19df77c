// A store backend in memory for tests that need a store but not its storage (the login service's
// unit tests, the request fuzzer): users, token cutoffs and revoked tokens in maps the test sets
// and reads directly, and failures the test switches on. Not thread-safe: one test thread uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

namespace authd_test_support {

class memory_store final : public authd::store_backend,
                           public authd::user_store,
                           public authd::revocation_store,
                           public authd::token_cutoff_store {
  public:
    std::map<std::string, std::string, std::less<>> hashes;       // name -> PHC string
    std::map<std::string, std::int64_t, std::less<>> not_before;  // name -> tokens_not_before
    std::map<std::string, std::int64_t, std::less<>> revoked;     // jti -> exp

    authd::user_store& users() override { return *this; }
    authd::revocation_store& revocations() override { return *this; }
    authd::token_cutoff_store& cutoffs() override { return *this; }

    // Failures, all off at first: reads and revoke_token throw store_unavailable (unreachable);
    // reads throw store_error (fail_reads); replace_hash and revoke_token throw store_error
    // (fail_writes).
    bool fail_reads = false;
    bool unreachable = false;
    bool fail_writes = false;
    // What the next poll_external_changes() returns (it then goes back to false).
    bool changed_externally = false;
    // Called by poll_external_changes() once it has taken changed_externally (tests of what
    // another thread sees meanwhile).
    std::function<void()> after_poll;
    // Called by find_hash() once it has read the record, before it returns it (tests of a change
    // that lands while a login reads).
    std::function<void(std::string_view)> after_find;
    std::int64_t finds = 0;  // calls of find_hash (find_login included)

    std::optional<std::string> find_hash(std::string_view name) override {
        ++finds;
        if (unreachable) {
            throw authd::store_unavailable("connection refused");
        }
        if (fail_reads) {
            throw authd::store_error("disk I/O error");
        }
        const auto it = hashes.find(name);
        auto found = it == hashes.end() ? std::nullopt : std::optional(it->second);
        if (after_find) {
            after_find(name);
        }
        return found;
    }
    bool add_user(std::string_view name, std::string_view phc) override {
        return hashes.emplace(std::string(name), std::string(phc)).second;
    }
    std::size_t add_users(const std::vector<authd::user_record>& list) override {
        std::size_t n = 0;
        for (const auto& u : list) {
            n += add_user(u.name, u.phc) ? 1 : 0;
        }
        return n;
    }
    std::optional<authd::login_record> find_login(std::string_view name) override {
        auto phc = find_hash(name);
        if (!phc) {
            return std::nullopt;
        }
        const auto cutoff = not_before.find(name);
        return authd::login_record{std::move(*phc),
                                   cutoff == not_before.end() ? 0 : cutoff->second};
    }
    std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since) override {
        if (fail_reads) {
            throw authd::store_error("disk I/O error");
        }
        std::vector<std::pair<std::string, std::int64_t>> out;
        for (const auto& [name, cutoff] : not_before) {
            if (cutoff > since) {
                out.emplace_back(name, cutoff);
            }
        }
        return out;
    }
    bool set_hash(std::string_view name, std::string_view phc) override {
        const auto it = hashes.find(name);
        if (it == hashes.end()) {
            return false;
        }
        it->second = phc;
        not_before[std::string(name)] = authd::unix_now() + 1;
        return true;
    }
    bool replace_hash(std::string_view name, std::string_view expected,
                      std::string_view phc) override {
        if (fail_writes) {
            throw authd::store_error("attempt to write a readonly database");
        }
        const auto it = hashes.find(name);
        if (it == hashes.end() || it->second != expected) {
            return false;
        }
        it->second = phc;
        return true;
    }
    bool remove_user(std::string_view name) override { return hashes.erase(std::string(name)) > 0; }
    void for_each_name(const std::function<void(std::string_view)>& fn) override {
        for (const auto& [name, phc] : hashes) {
            fn(name);
        }
    }
    bool poll_external_changes() override {
        if (fail_reads) {
            throw authd::store_error("database disk image is malformed");
        }
        const bool changed = std::exchange(changed_externally, false);
        if (after_poll) {
            after_poll();
        }
        return changed;
    }

    void revoke_token(std::string_view jti, std::int64_t exp) override {
        if (unreachable) {
            throw authd::store_unavailable("connection refused");
        }
        if (fail_writes) {
            throw authd::store_error("attempt to write a readonly database");
        }
        revoked[std::string(jti)] = exp;
    }
    std::vector<std::pair<std::string, std::int64_t>> revoked_tokens(std::int64_t now) override {
        std::vector<std::pair<std::string, std::int64_t>> out;
        for (const auto& [jti, exp] : revoked) {
            if (exp > now) {
                out.emplace_back(jti, exp);
            }
        }
        return out;
    }
    void purge_revoked_tokens(std::int64_t now) override {
        std::erase_if(revoked, [now](const auto& r) { return r.second <= now; });
    }
};

}  // namespace authd_test_support
