// The jobs a hash worker runs (core/src/login/login_job.cpp, revocation_job.cpp): each answer
// they give on the I/O thread, with its status, its Retry-After and the audit line or log event
// the host is told. The host here records; the server's is server/net's.
#include "authd/login/login_job.hpp"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "authd/login/revocation_job.hpp"

#include "support/memory_store.hpp"
#include "support/test_key.hpp"

namespace authd {
namespace {

using authd_test_support::memory_store;
using namespace std::chrono_literals;

class recording_host final : public handler_host {
  public:
    struct audited {
        login_outcome outcome;
        std::string user;
        limit_budget refused_by;
    };
    std::vector<audited> audits;
    std::vector<std::string> errors;  // event names

    bool hash_queue_has_room() const override { return true; }
    std::string metrics_text() const override { return {}; }
    void audit_login(login_outcome outcome, const client_ref&, std::string_view user,
                     limit_budget refused_by) override {
        audits.push_back({outcome, std::string(user), refused_by});
    }
    void internal_error(std::string_view event, std::string_view) override {
        errors.emplace_back(event);
    }
};

// Throws as a helper process that died does.
class failing_runner final : public hash_runner {
  public:
    bool verify(const std::string&, std::string_view) override {
        throw hash_runner_error("hash helper exited");
    }
    std::optional<std::string> hash(std::string_view, const argon2_params&) override {
        throw hash_runner_error("hash helper exited");
    }
};

limiter_config one_free_failure() {
    limiter_config c;
    c.account = limit_policy{1, 7s, 60s, 60s};
    c.address = limit_policy{0, 0s, 0s, 0s};
    c.max_entries = 100;
    return c;
}

class LoginJob : public testing::Test {
  protected:
    password_hasher hasher{argon2_params{1, 8 * 1024}};
    keyring_holder keys{keyring::from_secret(authd_test_support::fixed_test_key())};
    memory_store store;
    std::unique_ptr<user_cache> cache = make_user_cache(100);
    attempt_limiter limiter{one_free_failure()};
    login_service service{store, *cache, hasher, keys, 30min, &limiter};
    recording_host host;
    const client_ref client{address_key(0x7f000001U), "127.0.0.1"};

    void SetUp() override { store.hashes["alice"] = hasher.hash("right"); }

    // One login job made, run (when run is true) and answered.
    response login(std::string_view user, std::string_view password, bool run = true,
                   hash_runner& runner = hashes_in_this_thread()) {
        job = std::make_unique<login_job>(service, host, client,
                                          login_request(user, password, client.key));
        if (run) {
            job->run(runner);
        }
        return job->answer(run);
    }
    std::unique_ptr<login_job> job;  // the answer's body lives in it
};

TEST_F(LoginJob, ASuccessIsATokenAndAnAuditLine) {
    const auto r = login("alice", "right");
    EXPECT_EQ(r.code, api_code::ok);
    EXPECT_EQ(r.retry_after, 0U);
    EXPECT_EQ(std::string(r.body).rfind(R"({"code":200,"status":"ok","token":")", 0), 0U) << r.body;
    ASSERT_EQ(host.audits.size(), 1U);
    EXPECT_EQ(host.audits[0].outcome, login_outcome::success);
    EXPECT_EQ(host.audits[0].user, "alice");
    EXPECT_TRUE(host.errors.empty());
}

TEST_F(LoginJob, AWrongPasswordThenAWaitAreAFailureThenA429WithItsRetryAfter) {
    const auto wrong = login("alice", "wrong");
    EXPECT_EQ(wrong.code, api_code::not_found);
    EXPECT_EQ(wrong.retry_after, 0U);
    login("alice", "wrong");  // the second failure: 7 s from now
    const auto refused = login("alice", "right");
    EXPECT_EQ(refused.code, api_code::too_many_attempts);
    EXPECT_EQ(refused.retry_after, 7U);
    ASSERT_EQ(host.audits.size(), 3U);
    EXPECT_EQ(host.audits[0].outcome, login_outcome::failure);
    EXPECT_EQ(host.audits[2].outcome, login_outcome::rate_limited);
    EXPECT_EQ(host.audits[2].refused_by, limit_budget::account);
}

// A store that cannot be reached, and a job that never ran (its queue was full, authd stops):
// 503, retry in a second, audited as busy.
TEST_F(LoginJob, BusyIs503WithRetryAfterOneSecond) {
    store.unreachable = true;
    const auto unreachable = login("bob", "pw");
    EXPECT_EQ(unreachable.code, api_code::busy);
    EXPECT_EQ(unreachable.retry_after, 1U);
    store.unreachable = false;
    const auto never_ran = login("alice", "right", false);
    EXPECT_EQ(never_ran.code, api_code::busy);
    EXPECT_EQ(never_ran.retry_after, 1U);
    EXPECT_EQ(never_ran.body,
              R"({"code":503,"status":"error","message":"Server busy, retry later."})");
    ASSERT_EQ(host.audits.size(), 2U);
    EXPECT_EQ(host.audits[0].outcome, login_outcome::busy);
    EXPECT_EQ(host.audits[1].outcome, login_outcome::busy);
    EXPECT_EQ(host.audits[1].user, "alice");
}

TEST_F(LoginJob, AFailedHelperIs500AndALogEventNeverAFailure) {
    failing_runner runner;
    const auto r = login("alice", "right", true, runner);
    EXPECT_EQ(r.code, api_code::internal_error);
    EXPECT_EQ(r.retry_after, 0U);
    ASSERT_EQ(host.audits.size(), 1U);
    EXPECT_EQ(host.audits[0].outcome, login_outcome::error);
    EXPECT_EQ(host.errors, std::vector<std::string>{"login_internal_error"});
}

TEST(LoginOutcome, EachCodeCountsAsItsOutcome) {
    const std::tuple<api_code, login_outcome, std::string_view> rows[] = {
        {api_code::ok, login_outcome::success, "success"},
        {api_code::not_found, login_outcome::failure, "failure"},
        {api_code::too_many_attempts, login_outcome::rate_limited, "rate_limited"},
        {api_code::busy, login_outcome::busy, "busy"},
        {api_code::internal_error, login_outcome::error, "error"},
        {api_code::bad_request, login_outcome::error, "error"},
    };
    for (const auto& [code, outcome, name] : rows) {
        service_result r;
        r.code = code;
        EXPECT_EQ(outcome_of(r), outcome) << name;
        EXPECT_EQ(outcome_name(outcome), name);
    }
}

class RevocationJob : public LoginJob {
  protected:
    response logout(std::string jti, bool run = true) {
        revocation = std::make_unique<revocation_job>(service, host, std::move(jti), 2'000'000'000);
        if (run) {
            revocation->run(hashes_in_this_thread());
        }
        return revocation->answer(run);
    }
    std::unique_ptr<revocation_job> revocation;
};

TEST_F(RevocationJob, StoredIsOkUnreachableOrNotRunIs503AFailedWriteIs500AndLogged) {
    EXPECT_EQ(logout("a").code, api_code::ok);
    EXPECT_EQ(store.revoked.count("a"), 1U);
    store.unreachable = true;
    const auto unreachable = logout("b");
    EXPECT_EQ(unreachable.code, api_code::busy);
    EXPECT_EQ(unreachable.retry_after, 1U);
    EXPECT_EQ(host.errors, std::vector<std::string>{"logout_internal_error"}) << "why: logged";
    store.unreachable = false;
    const auto never_ran = logout("c", false);
    EXPECT_EQ(never_ran.code, api_code::busy);
    EXPECT_EQ(never_ran.retry_after, 1U);
    EXPECT_EQ(store.revoked.count("c"), 0U);
    store.fail_writes = true;
    const auto failed = logout("d");
    EXPECT_EQ(failed.code, api_code::internal_error);
    EXPECT_EQ(failed.retry_after, 0U);
    EXPECT_EQ(host.errors.size(), 2U);
}

}  // namespace
}  // namespace authd
