#include "authd/login/login_service.hpp"

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "authd/util/clock.hpp"
#include "authd/util/units.hpp"

#include "support/memory_store.hpp"
#include "support/test_key.hpp"

namespace authd {
namespace {

using authd_test_support::memory_store;

class LoginService : public testing::Test {
  protected:
    const argon2_params params{1, 8 * 1024};
    password_hasher hasher{params};
    keyring_holder signer{keyring::from_secret(authd_test_support::fixed_test_key())};
    memory_store store;
    std::unique_ptr<user_cache> cache = make_user_cache(100);
    login_service service{store, *cache, hasher, signer, std::chrono::minutes(30)};

    void SetUp() override { store.hashes["user_test"] = hasher.hash("password_test"); }
};

constexpr std::string_view not_found_body =
    R"({"code":404,"status":"error","message":"Data not found."})";

TEST_F(LoginService, GoodPasswordGetsAThirtyMinuteToken) {
    const auto before = authd::unix_now();
    const auto r = service.login("user_test", "password_test");
    ASSERT_EQ(r.code, api_code::ok) << r.log_note;
    const std::string prefix = R"({"code":200,"status":"ok","token":")";
    ASSERT_EQ(r.body.substr(0, prefix.size()), prefix);
    const auto token = r.body.substr(prefix.size(), r.body.size() - prefix.size() - 2);
    const auto claims = signer.verify(token, before);
    ASSERT_TRUE(claims.has_value());
    EXPECT_EQ(claims->user, "user_test");
    EXPECT_GE(claims->exp, before + 1800);
    EXPECT_LE(claims->exp, authd::unix_now() + 1800);
    ASSERT_TRUE(claims->iat.has_value());
    EXPECT_GE(*claims->iat, before);
    EXPECT_LE(*claims->iat, authd::unix_now());
    EXPECT_FALSE(r.rehashed);
}

// The claims of a login's token (its signature checked).
std::optional<token_claims> token_claims_of(const keyring_holder& keys, const service_result& r) {
    const std::string prefix = R"({"code":200,"status":"ok","token":")";
    if (r.code != api_code::ok || r.body.size() < prefix.size() + 2) {
        return std::nullopt;
    }
    return keys.verify(r.body.substr(prefix.size(), r.body.size() - prefix.size() - 2),
                       authd::unix_now());
}

// A password change voids the tokens issued until then, and a login right after it (in the same
// second) gets one that is not void: issued at the cutoff, a second ahead at most.
TEST_F(LoginService, PasswordChangeVoidsOlderTokensNotTheNextLogins) {
    const auto old_token = token_claims_of(signer, service.login("user_test", "password_test"));
    ASSERT_TRUE(old_token.has_value());
    EXPECT_FALSE(service.voided(*old_token));

    ASSERT_TRUE(store.set_hash("user_test", hasher.hash("new password")));
    const auto cutoff = store.not_before.at("user_test");
    store.changed_externally = true;
    const auto fresh = token_claims_of(signer, service.login("user_test", "new password"));
    ASSERT_TRUE(fresh.has_value());
    EXPECT_GE(fresh->iat.value_or(0), cutoff);
    EXPECT_LE(fresh->iat.value_or(0), authd::unix_now() + token_clock_leeway_seconds);
    EXPECT_FALSE(service.voided(*fresh));
    EXPECT_TRUE(service.voided(*old_token)) << "the login read the cutoff with the hash";
    token_claims legacy{"user_test", old_token->exp, "id", std::nullopt, std::nullopt};
    EXPECT_TRUE(service.voided(legacy)) << "a token without iat predates every cutoff";
    legacy.user = "someone_else";
    EXPECT_FALSE(service.voided(legacy));
}

// A node where nobody logs in learns of cutoffs at its periodic store check, when the store says
// it changed (or when a login found that out before); and from the change feed at once.
TEST_F(LoginService, StoreCheckAndFeedLoadCutoffs) {
    const auto now = unix_now();
    const token_claims bob{"bob", now + 600, "b", now, std::nullopt};
    const token_claims carol{"carol", now + 600, "c", now, std::nullopt};
    store.not_before["bob"] = now + 1;
    service.check_store();
    EXPECT_FALSE(service.voided(bob)) << "the store did not say it changed";
    store.changed_externally = true;
    service.check_store();
    EXPECT_TRUE(service.voided(bob));

    store.not_before["carol"] = now + 1;
    store.changed_externally = true;
    EXPECT_EQ(service.login("nobody", "x").code, api_code::not_found);  // takes the change
    service.check_store();
    EXPECT_TRUE(service.voided(carol));

    const token_claims dave{"dave", now + 600, "d", now, std::nullopt};
    service.tokens_cut("dave", now + 1);
    EXPECT_TRUE(service.voided(dave));

    // A store that fails while the cutoffs are read: the check says so (/readyz) and tries again.
    const token_claims erin{"erin", now + 600, "e", now, std::nullopt};
    store.not_before["erin"] = now + 1;
    store.changed_externally = true;
    EXPECT_EQ(service.login("nobody", "x").code, api_code::not_found);
    store.fail_reads = true;
    EXPECT_NO_THROW(service.check_store());
    EXPECT_FALSE(service.store_healthy());
    EXPECT_FALSE(service.voided(erin));
    store.fail_reads = false;
    service.check_store();
    EXPECT_TRUE(service.voided(erin));
}

TEST_F(LoginService, WrongPasswordAndUnknownUserLookTheSame) {
    const auto wrong = service.login("user_test", "nope");
    EXPECT_EQ(hasher.dummy_verifications(), 0U);  // a real hash was checked
    const auto unknown = service.login("nobody", "nope");
    EXPECT_EQ(wrong.code, api_code::not_found);
    EXPECT_EQ(unknown.code, api_code::not_found);
    EXPECT_EQ(wrong.body, not_found_body);
    EXPECT_EQ(unknown.body, not_found_body);
    // The unknown user cost an argon2id verification too (docs/security.md: timing).
    EXPECT_EQ(hasher.dummy_verifications(), 1U);
}

TEST_F(LoginService, InvalidUserNamesAreHashedLikeUnknownOnes) {
    const std::string names[] = {"bad\xff utf8", std::string(max_user_name_bytes + 1, 'n')};
    for (const auto& name : names) {
        EXPECT_EQ(service.login(name, "p").body, not_found_body);
    }
    EXPECT_EQ(hasher.dummy_verifications(), 2U);
}

TEST_F(LoginService, OverlongPasswordIsRefusedWithoutHashing) {
    const auto r = service.login("user_test", std::string(max_password_bytes + 1, 'p'));
    EXPECT_EQ(r.body, not_found_body);
    EXPECT_EQ(hasher.dummy_verifications(), 0U);
}

TEST_F(LoginService, CacheServesRepeatLoginsAndExternalChangesDropIt) {
    ASSERT_EQ(service.login("user_test", "password_test").code, api_code::ok);
    ASSERT_EQ(service.login("user_test", "password_test").code, api_code::ok);
    EXPECT_EQ(store.finds, 1);  // the second came from the cache

    store.hashes["user_test"] = hasher.hash("changed");  // as authctl user passwd would
    store.changed_externally = true;
    EXPECT_EQ(service.login("user_test", "password_test").code, api_code::not_found);
    EXPECT_EQ(service.login("user_test", "changed").code, api_code::ok);
}

TEST_F(LoginService, OldParametersAreRehashedOnSuccess) {
    const password_hasher old_hasher(argon2_params{2, 16 * 1024});
    store.hashes["old"] = old_hasher.hash("pw");
    const auto r = service.login("old", "pw");
    ASSERT_EQ(r.code, api_code::ok);
    EXPECT_TRUE(r.rehashed);
    EXPECT_FALSE(hasher.needs_rehash(store.hashes["old"]));
    EXPECT_TRUE(hasher.verify(store.hashes["old"], "pw"));
    EXPECT_FALSE(service.login("old", "pw").rehashed);  // done once
}

TEST_F(LoginService, FailedRehashWriteKeepsTheOldHashAndTheLogin) {
    const password_hasher old_hasher(argon2_params{2, 16 * 1024});
    const auto old_phc = old_hasher.hash("pw");
    store.hashes["old"] = old_phc;
    store.fail_writes = true;
    const auto r = service.login("old", "pw");
    EXPECT_EQ(r.code, api_code::ok);
    EXPECT_FALSE(r.rehashed);
    EXPECT_NE(r.log_note.find("readonly"), std::string::npos);
    EXPECT_EQ(store.hashes["old"], old_phc);
}

TEST_F(LoginService, StoreFailureIsAnInternalErrorNotACrash) {
    store.fail_reads = true;
    const auto r = service.login("someone", "pw");
    EXPECT_EQ(r.code, api_code::internal_error);
    EXPECT_EQ(r.body, R"({"code":500,"status":"error","message":"Internal error."})");
    EXPECT_NE(r.log_note.find("disk I/O error"), std::string::npos);
    EXPECT_EQ(r.log_note.find("pw"), std::string::npos);
}

// A runner standing in for authd's hash helper processes: counts the calls it is handed, runs
// them here, or fails as a helper that cannot be started would.
class counting_runner final : public hash_runner {
  public:
    bool verify(const std::string& phc, std::string_view password) override {
        ++verifications;
        if (fail) {
            throw hash_runner_error("the hash helper process failed");
        }
        return verify_password_here(phc, password);
    }
    std::optional<std::string> hash(std::string_view password,
                                    const argon2_params& params) override {
        ++hashes;
        if (fail) {
            throw hash_runner_error("the hash helper process failed");
        }
        return hash_password_here(password, params);
    }
    int verifications = 0;
    int hashes = 0;
    bool fail = false;
};

// Two workers, one change: the store says "changed" once, to the first thread that asks. A login
// on another worker that asks right after must not be served the cached record the first thread
// has not dropped yet (it was: a login right after `authctl user passwd` answered 404 with the
// old hash, seen in TokenCutoffTest.LoginRightAfterAPasswordChangeGetsAValidToken).
TEST_F(LoginService, ALoginWhileAnotherThreadDropsTheCacheReadsTheChangedRecord) {
    ASSERT_EQ(service.login("user_test", "password_test").code, api_code::ok);  // cached now
    store.hashes["user_test"] = hasher.hash("new password");
    store.changed_externally = true;
    std::future<service_result> other;
    bool raced = false;
    store.after_poll = [&] {
        if (std::exchange(raced, true)) {
            return;  // the other login's own poll
        }
        // Between the first poll and the cache's drop: another worker's login.
        other = std::async(std::launch::async,
                           [&] { return service.login("user_test", "new password"); });
        other.wait_for(std::chrono::milliseconds(300));  // a bound, not a measurement
    };
    service.check_store();  // the first thread to ask: the periodic store check
    const auto r = other.get();
    EXPECT_EQ(r.code, api_code::ok) << "the other login verified against the dropped record";
}

TEST_F(LoginService, EveryArgon2CallGoesToTheRunnerItIsGiven) {
    store.hashes["old"] = password_hasher({1, 16 * 1024}).hash("pw");  // other parameters
    counting_runner runner;
    EXPECT_EQ(service.login("user_test", "password_test", runner).code, api_code::ok);
    EXPECT_EQ(service.login("user_test", "nope", runner).code, api_code::not_found);
    EXPECT_EQ(service.login("nobody", "nope", runner).code, api_code::not_found);  // the dummy
    EXPECT_EQ(runner.verifications, 3);
    EXPECT_EQ(runner.hashes, 0);
    const auto r = service.login("old", "pw", runner);  // verified, then rehashed
    EXPECT_EQ(r.code, api_code::ok);
    EXPECT_TRUE(r.rehashed);
    EXPECT_EQ(runner.verifications, 4);
    EXPECT_EQ(runner.hashes, 1);
}

// A password change that lands while a login verifies the old hash (its cutoff arrives during
// the verification, as the change feed or another worker's store check delivers it): the token
// that login issues must be void. (It was not when the time of issue and the cutoff were read
// after the verification: iat then equalled the new cutoff.)
class cutting_runner final : public hash_runner {
  public:
    explicit cutting_runner(login_service& service) : service_(service) {}
    bool verify(const std::string& phc, std::string_view password) override {
        service_.tokens_cut("user_test", unix_now() + 1);
        return verify_password_here(phc, password);
    }
    std::optional<std::string> hash(std::string_view password,
                                    const argon2_params& params) override {
        return hash_password_here(password, params);
    }

  private:
    login_service& service_;
};

TEST_F(LoginService, ACutoffArrivingDuringTheVerificationVoidsThatLoginsToken) {
    cutting_runner runner(service);
    const auto claims =
        token_claims_of(signer, service.login("user_test", "password_test", runner));
    ASSERT_TRUE(claims.has_value());
    EXPECT_TRUE(service.voided(*claims))
        << "a token issued on the old password outlives the password change";
}

TEST_F(LoginService, FailedRunnerIsAnInternalErrorNeverAWrongPassword) {
    // A wrong password counts against the brute-force limits; a helper that failed must not.
    counting_runner runner;
    runner.fail = true;
    for (const auto* user : {"user_test", "nobody"}) {
        const auto r = service.login(user, "password_test", runner);
        EXPECT_EQ(r.code, api_code::internal_error) << user;
        EXPECT_EQ(r.body, R"({"code":500,"status":"error","message":"Internal error."})");
        EXPECT_NE(r.log_note.find("hash helper"), std::string::npos) << r.log_note;
    }
}

TEST_F(LoginService, CachedUsersStillLogInWhileTheStoreFails) {
    ASSERT_EQ(service.login("user_test", "password_test").code, api_code::ok);  // now cached
    store.fail_reads = true;
    EXPECT_EQ(service.login("user_test", "password_test").code, api_code::ok);
    EXPECT_EQ(service.login("other", "pw").code, api_code::internal_error);
    EXPECT_FALSE(service.store_healthy());
}

TEST_F(LoginService, UnreachableStoreIsBusyNotAnError) {
    store.unreachable = true;
    const auto r = service.login("someone", "pw");
    EXPECT_EQ(r.code, api_code::busy);
    EXPECT_EQ(r.body, R"({"code":503,"status":"error","message":"Server busy, retry later."})");
}

TEST_F(LoginService, ChangesPushedByTheStoreDropCachedRecords) {
    ASSERT_EQ(service.login("user_test", "password_test").code, api_code::ok);
    store.hashes["user_test"] = hasher.hash("changed");
    EXPECT_EQ(service.login("user_test", "password_test").code, api_code::ok);  // still cached
    service.user_changed("user_test");
    EXPECT_EQ(service.login("user_test", "password_test").code, api_code::not_found);
    store.hashes["user_test"] = hasher.hash("again");
    service.all_changed();
    EXPECT_EQ(service.login("user_test", "again").code, api_code::ok);
}

// A change the store pushes (the change feed's user_changed or all_changed) while a login reads
// the record it changes: that login verifies what it read, and the record it read is not cached
// over the change (the next login reads the new one).
TEST_F(LoginService, AChangePushedWhileALoginReadsTheRecordIsNotCachedOverIt) {
    for (const bool all : {false, true}) {
        SCOPED_TRACE(all ? "all_changed" : "user_changed");
        store.hashes["user_test"] = hasher.hash("old");
        service.all_changed();  // nothing cached
        bool landed = false;
        store.after_find = [&](std::string_view) {
            if (std::exchange(landed, true)) {
                return;
            }
            store.hashes["user_test"] = hasher.hash("new");
            if (all) {
                service.all_changed();
            } else {
                service.user_changed("user_test");
            }
        };
        EXPECT_EQ(service.login("user_test", "old").code, api_code::ok);
        ASSERT_TRUE(landed);
        EXPECT_EQ(service.login("user_test", "new").code, api_code::ok)
            << "the record read before the change was cached over it";
        store.after_find = nullptr;
    }
}

TEST(ParseDuration, UnitsAndErrors) {
    EXPECT_EQ(parse_duration("30m").count(), 1800);
    EXPECT_EQ(parse_duration("90s").count(), 90);
    EXPECT_EQ(parse_duration("2h").count(), 7200);
    EXPECT_EQ(parse_duration("1d").count(), 86400);
    EXPECT_EQ(parse_duration("45").count(), 45);
    for (const auto* bad : {"", "0", "-5m", "m", "5 m", "5w", "9999d"}) {
        EXPECT_THROW(parse_duration(bad), std::invalid_argument) << bad;
    }
}

// --- imported hashes of other systems (issue 13, foreign_hash.hpp) ---------------------------

// htpasswd -B -C 4's hash of "s3cret pw".
constexpr const char* imported_bcrypt =
    "$2y$04$xLpJAAGpVzbC.ccvLuiv7.LGh1twor2es2J61AzMFe6p6MFiDq2k2";

TEST_F(LoginService, ImportedHashVerifiesInTheRunnerAndIsUpgradedOnceToArgon2id) {
    store.hashes["legacy"] = imported_bcrypt;
    counting_runner runner;
    EXPECT_EQ(service.login("legacy", "s3cret pW", runner).code, api_code::not_found);
    EXPECT_EQ(store.hashes["legacy"], imported_bcrypt);  // a wrong password upgrades nothing
    EXPECT_EQ(service.legacy_upgrades(), 0U);
    EXPECT_EQ(runner.verifications, 1);

    const auto r = service.login("legacy", "s3cret pw", runner);
    EXPECT_EQ(r.code, api_code::ok) << r.log_note;
    EXPECT_TRUE(r.rehashed);
    EXPECT_EQ(runner.verifications, 2);  // in the runner (authd: the hash helper), not here
    EXPECT_EQ(runner.hashes, 1);
    const auto upgraded = store.hashes["legacy"];
    EXPECT_EQ(upgraded.rfind("$argon2id$v=19$m=8,t=1,p=1$", 0), 0U) << upgraded;
    EXPECT_TRUE(hasher.verify(upgraded, "s3cret pw"));
    EXPECT_EQ(service.legacy_upgrades(), 1U);

    const auto again = service.login("legacy", "s3cret pw", runner);
    EXPECT_EQ(again.code, api_code::ok);
    EXPECT_FALSE(again.rehashed);
    EXPECT_EQ(service.legacy_upgrades(), 1U);
}

TEST_F(LoginService, FailedRewriteOfAnImportedHashKeepsItAndTheLogin) {
    store.hashes["legacy"] = imported_bcrypt;
    store.fail_writes = true;
    const auto r = service.login("legacy", "s3cret pw");
    EXPECT_EQ(r.code, api_code::ok);
    EXPECT_FALSE(r.rehashed);
    EXPECT_NE(r.log_note.find("rehash not stored"), std::string::npos) << r.log_note;
    EXPECT_EQ(store.hashes["legacy"], imported_bcrypt);
    EXPECT_EQ(service.legacy_upgrades(), 0U);
}

TEST_F(LoginService, ARehashOfAuthdsOwnArgon2idIsNoLegacyUpgrade) {
    store.hashes["old"] = password_hasher({1, 16 * 1024}).hash("pw");
    EXPECT_TRUE(service.login("old", "pw").rehashed);
    EXPECT_EQ(service.legacy_upgrades(), 0U);
}

}  // namespace
}  // namespace authd
