// The hash helper process (authd --hash-helper, server/workers/hash_helper.hpp) over its real
// socket protocol: argon2's memory kept between calls (server/workers/argon2_memory.hpp), its
// start-up self-check, and what it does when the memory cost changes.
//
// The helper reports its own figures ('s': minor page faults of its last call from getrusage,
// requests it lent its kept memory, bytes of that memory that are not zero): counts, never
// timings. In sanitizer builds the mechanism is not built in, and the same tests check that the
// helper then runs argon2 as libsodium does alone, with the same answers.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace authd_it {
namespace {

constexpr bool fast_path_expected = !built_with_sanitizer;

constexpr std::uint64_t mib = 1024 * 1024;

// What the helper says about its memory ('s').
struct helper_stats {
    bool active = false;
    bool retired = false;
    std::uint64_t lent = 0;
    std::uint64_t grown = 0;
    std::uint64_t kept_bytes = 0;
    std::uint64_t last_faults = 0;
    std::uint64_t nonzero_bytes = 0;
};

// One `authd --hash-helper [LEVEL]`, its socket on descriptor 3 as authd gives it, its standard
// error in a file.
class helper_process {
  public:
    explicit helper_process(const temp_dir& dir, std::string level = "info")
        : log_path_(dir.file("helper.log")) {
        boost::asio::local::stream_protocol::socket child_end(io_);
        boost::system::error_code ec;
        boost::asio::local::connect_pair(socket_, child_end, ec);
        if (ec) {
            ADD_FAILURE() << "socketpair: " << ec.message();
            return;
        }
        // Only descriptor 3 reaches the helper: with our end too, it would never see it close.
        ::fcntl(socket_.native_handle(), F_SETFD, FD_CLOEXEC);
        ::fcntl(child_end.native_handle(), F_SETFD, FD_CLOEXEC);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, child_end.native_handle(), 3);
        posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::string arg0 = "authd";
        std::string arg1 = "--hash-helper";
        char* argv[] = {arg0.data(), arg1.data(), level.data(), nullptr};
        char* envp[] = {nullptr};
        const std::string bin = authd_bin();
        const int rc = ::posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv, envp);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            ADD_FAILURE() << "posix_spawn " << bin << ": " << std::strerror(rc);
            pid_ = -1;
        }
    }

    ~helper_process() {
        boost::system::error_code ec;
        socket_.close(ec);  // the helper exits when its socket closes
        if (pid_ > 0) {
            for (int i = 0; i < 200 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(50ms);
            }
            if (::kill(pid_, SIGKILL) == 0) {
                ADD_FAILURE() << "the helper did not exit when its socket closed";
                ::waitpid(pid_, nullptr, 0);
            }
        }
    }
    helper_process(const helper_process&) = delete;
    helper_process& operator=(const helper_process&) = delete;

    // 'v': true/false for a match/mismatch, nullopt when the helper failed.
    std::optional<bool> verify(const std::string& phc, std::string_view password) {
        std::string request(1, 'v');
        put_string(request, phc);
        put_string(request, password);
        char status = 0;
        if (!send_all(request) || !recv_exact(&status, 1)) {
            return std::nullopt;
        }
        return status == '1';
    }

    // 'h': the PHC string, or nullopt when the helper failed or refused.
    std::optional<std::string> hash(std::string_view password, std::uint64_t ops,
                                    std::uint64_t memory_bytes) {
        std::string request(1, 'h');
        put(request, ops);
        put(request, memory_bytes);
        put_string(request, password);
        char status = 0;
        std::uint32_t size = 0;
        if (!send_all(request) || !recv_exact(&status, 1) || status != '1' ||
            !recv_exact(reinterpret_cast<char*>(&size), sizeof size) || size > 1024) {
            return std::nullopt;
        }
        std::string phc(size, '\0');
        if (!recv_exact(phc.data(), size)) {
            return std::nullopt;
        }
        return phc;
    }

    // 's', or nullopt when the helper does not answer it.
    std::optional<helper_stats> stats() {
        char reply[1 + 2 + 5 * 8];
        if (!send_all("s") || !recv_exact(reply, sizeof reply) || reply[0] != '1') {
            return std::nullopt;
        }
        helper_stats s;
        s.active = reply[1] != 0;
        s.retired = reply[2] != 0;
        std::uint64_t* const fields[] = {&s.lent, &s.grown, &s.kept_bytes, &s.last_faults,
                                         &s.nonzero_bytes};
        for (std::size_t i = 0; i < 5; ++i) {
            std::memcpy(fields[i], reply + 3 + 8 * i, 8);
        }
        return s;
    }

    // 's' until the kept memory holds zeros only, or for 5 s: the helper wipes a call's memory
    // after its answer, within a millisecond or two when no request follows (hash_helper.cpp),
    // and 's' does not wipe. The last stats, or nullopt when the helper does not answer.
    std::optional<helper_stats> stats_once_idle() {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        auto s = stats();
        while (s && s->nonzero_bytes != 0 && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            s = stats();
        }
        return s;
    }

    std::string log() const {
        std::ifstream in(log_path_);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

  private:
    template <typename T>
    static void put(std::string& out, T value) {
        out.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    static void put_string(std::string& out, std::string_view s) {
        put(out, static_cast<std::uint32_t>(s.size()));
        out += s;
    }
    bool send_all(std::string_view data) {
        boost::system::error_code ec;
        boost::asio::write(socket_, boost::asio::buffer(data), ec);
        return !ec;
    }
    bool recv_exact(char* data, std::size_t size) {
        boost::system::error_code ec;
        boost::asio::read(socket_, boost::asio::buffer(data, size), ec);
        return !ec;
    }

    std::string log_path_;
    boost::asio::io_context io_;
    boost::asio::local::stream_protocol::socket socket_{io_};
    pid_t pid_ = -1;
};

// The number after "key":" in the helper's log line (its first line with the key), or -1.
long log_number(const std::string& log, std::string_view key) {
    const std::string needle = "\"" + std::string(key) + "\":\"";
    const auto at = log.find(needle);
    if (at == std::string::npos) {
        return -1;
    }
    return std::stol(log.substr(at + needle.size()));
}

class HashHelperTest : public ::testing::Test {
  protected:
    temp_dir dir_;
    helper_process helper_{dir_};
};

TEST_F(HashHelperTest, StartUpSelfCheckSaysWhetherArgon2MemoryIsKept) {
    // The first answer comes after the self-check, so its log line is written by then.
    const auto stats = helper_.stats();
    ASSERT_TRUE(stats.has_value()) << helper_.log();
    const std::string log = helper_.log();
    ASSERT_NE(log.find(R"("event":"hash_helper_memory")"), std::string::npos) << log;
    const long faults = log_number(log, "page_faults_per_verification");
    if (fast_path_expected) {
        EXPECT_NE(log.find(R"("fast_path":"on")"), std::string::npos) << log;
        EXPECT_TRUE(stats->active);
        EXPECT_EQ(stats->lent, 1U);  // the self-check's verification
        // From the kernel its 2 MiB are 512 page faults.
        EXPECT_GE(faults, 0) << log;
        EXPECT_LT(faults, 64) << log;
        EXPECT_EQ(stats->kept_bytes, 2 * mib);
    } else {
        EXPECT_NE(log.find(R"("fast_path":"off")"), std::string::npos) << log;
        EXPECT_FALSE(stats->active);
        EXPECT_EQ(stats->kept_bytes, 0U);
        EXPECT_GE(faults, 512) << log;
    }
}

// A helper logs at the level authd gives it (authd passes its --log-level, which
// LifecycleTest.EachHashWorkerHasAHelperProcessWithoutEnvironment sees in its command line): under
// warn, its self-check's info line is not written. (Before, a helper knew no level and wrote it
// under any.)
TEST(HashHelperLevelTest, AHelperLogsAtTheLevelItIsGiven) {
    temp_dir dir;
    helper_process helper(dir, "warn");
    const auto stats = helper.stats();  // answered after the self-check
    ASSERT_TRUE(stats.has_value()) << helper.log();
    const std::string log = helper.log();
    EXPECT_EQ(log.find(R"("level":"info")"), std::string::npos) << log;
    if (fast_path_expected) {
        EXPECT_EQ(log, "") << "a fast path that is on says nothing under warn";
    }
}

TEST_F(HashHelperTest, VerifiesOverKeptMemoryRightAcceptedWrongRefused) {
    const auto phc = helper_.hash("right password", 1, 1 * mib);
    ASSERT_TRUE(phc.has_value()) << helper_.log();
    EXPECT_EQ(helper_.verify(*phc, "right password"), std::optional<bool>(true));
    EXPECT_EQ(helper_.verify(*phc, "wrong password"), std::optional<bool>(false));
    EXPECT_EQ(helper_.verify(*phc, ""), std::optional<bool>(false));
    const auto stats = helper_.stats();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->active, fast_path_expected);
    // The self-check, the hash and the three verifications.
    EXPECT_EQ(stats->lent, fast_path_expected ? 5U : 0U);
}

TEST_F(HashHelperTest, KeptMemoryIsReusedWithoutPageFaults) {
    // 8 MiB: 2,048 page faults a call from the kernel.
    const auto phc = helper_.hash("password", 1, 8 * mib);
    ASSERT_TRUE(phc.has_value()) << helper_.log();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(helper_.verify(*phc, "password"), std::optional<bool>(true));
        const auto stats = helper_.stats();
        ASSERT_TRUE(stats.has_value());
        if (fast_path_expected) {
            EXPECT_LT(stats->last_faults, 64U) << "verification " << i;
            EXPECT_EQ(stats->kept_bytes, 8 * mib);
        } else {
            EXPECT_GE(stats->last_faults, 2048U) << "verification " << i;
        }
    }
}

// After its answer, with no request after it: the wipe waits for no other call.
TEST_F(HashHelperTest, KeptMemoryIsWipedAfterEveryCall) {
    const auto phc = helper_.hash("password", 2, 4 * mib);
    ASSERT_TRUE(phc.has_value()) << helper_.log();
    auto stats = helper_.stats_once_idle();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->nonzero_bytes, 0U);
    EXPECT_EQ(helper_.verify(*phc, "wrong"), std::optional<bool>(false));
    stats = helper_.stats_once_idle();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->nonzero_bytes, 0U);
    EXPECT_EQ(stats->kept_bytes, fast_path_expected ? 4 * mib : 0U);
}

// Calls one after another, the next sent before the last is wiped (as while logins queue): each
// still gets the right answer, and the memory is wiped once they stop.
TEST_F(HashHelperTest, CallsBackToBackAreAnsweredRightAndWipedAfter) {
    const auto phc = helper_.hash("password", 1, 4 * mib);
    ASSERT_TRUE(phc.has_value()) << helper_.log();
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(helper_.verify(*phc, i % 2 == 0 ? "password" : "wrong"),
                  std::optional<bool>(i % 2 == 0))
            << i;
    }
    const auto stats = helper_.stats_once_idle();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->nonzero_bytes, 0U);
    EXPECT_EQ(stats->lent, fast_path_expected ? 6U : 0U);  // the self-check, the hash, four
}

// An imported hash's verification (sha512-crypt, libxcrypt) borrows none of the kept memory: the
// argon2 call before it is wiped when it comes, not left until the next argon2 call or an idle
// moment.
TEST_F(HashHelperTest, AnImportedHashsCallFindsTheLastArgon2CallWiped) {
    const auto phc = helper_.hash("password", 1, 4 * mib);
    ASSERT_TRUE(phc.has_value()) << helper_.log();
    ASSERT_EQ(helper_.verify(*phc, "password"), std::optional<bool>(true));
    // The test vector of Drepper's SHA-crypt specification: "Hello world!", salt "saltstring".
    const std::string sha512_crypt =
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
        "O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEO"
        "faS35inz1";
    EXPECT_EQ(helper_.verify(sha512_crypt, "Hello world!"), std::optional<bool>(true));
    const auto stats = helper_.stats();  // at once: no idle moment needed
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->nonzero_bytes, 0U);
    EXPECT_EQ(stats->lent, fast_path_expected ? 3U : 0U);  // the self-check, the hash, one verify
}

TEST_F(HashHelperTest, AnotherMemoryCostAtRunTimeIsServedToo) {
    // A store with hashes of an older, smaller cost and new hashes at a larger one (a rehash
    // after the cost was raised): the kept memory grows once, and serves both sizes.
    const auto small = helper_.hash("old", 1, 1 * mib);
    const auto large = helper_.hash("new", 1, 6 * mib);
    ASSERT_TRUE(small && large) << helper_.log();
    auto stats = helper_.stats();
    ASSERT_TRUE(stats.has_value());
    const auto lent = stats->lent;
    EXPECT_EQ(helper_.verify(*small, "old"), std::optional<bool>(true));
    EXPECT_EQ(helper_.verify(*large, "new"), std::optional<bool>(true));
    EXPECT_EQ(helper_.verify(*small, "new"), std::optional<bool>(false));
    stats = helper_.stats_once_idle();
    ASSERT_TRUE(stats.has_value());
    if (fast_path_expected) {
        EXPECT_TRUE(stats->active);
        EXPECT_EQ(stats->grown, 1U);
        EXPECT_EQ(stats->kept_bytes, 6 * mib);
        EXPECT_EQ(stats->lent, lent + 3);
        EXPECT_LT(stats->last_faults, 64U);
        EXPECT_EQ(stats->nonzero_bytes, 0U);
        EXPECT_NE(helper_.log().find("kept memory resized"), std::string::npos) << helper_.log();
    } else {
        EXPECT_EQ(stats->lent, 0U);
    }
}

// The whole server: logins answered through hash helpers that keep argon2's memory, at a cost
// larger than the self-check's (so each helper grows its memory once), every helper saying so.
TEST(HashHelperServerTest, LoginsThroughHelpersThatKeepArgon2Memory) {
    test_env env;
    const hash_cost cost{"4MiB", "1"};
    env.add_user("user_test", "password_test", cost);
    authd_process server(authd_args().hash(cost).build(env));
    const auto port = server.wait_listening();
    ASSERT_TRUE(port.has_value()) << server.stderr_text();
    http_client client(*port);
    for (int i = 0; i < 3; ++i) {
        const auto right = client.roundtrip(login_request("user_test", "password_test"));
        EXPECT_EQ(right.result_int(), 200) << right.body();
        EXPECT_TRUE(token_of(right.body()).has_value()) << right.body();
        const auto wrong = client.roundtrip(login_request("user_test", "password_tesT"));
        EXPECT_EQ(wrong.result_int(), 404) << wrong.body();  // the API's answer to a wrong password
    }
    // Two hash workers, so two helpers, each with its start-up line (the one that has not
    // verified yet may still be starting: waited for, up to 10 s).
    std::size_t started = 0;
    std::size_t fast = 0;
    for (const auto until = std::chrono::steady_clock::now() + 10s;
         started < 2 && std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(20ms)) {
        started = fast = 0;
        for (const auto& line : server.stderr_lines()) {
            if (line.find(R"("event":"hash_helper_memory")") != std::string::npos &&
                line.find("page_faults_per_verification") != std::string::npos) {
                ++started;
                fast += line.find(R"("fast_path":"on")") != std::string::npos ? 1 : 0;
            }
        }
    }
    EXPECT_EQ(started, 2U) << server.stderr_text();
    EXPECT_EQ(fast, fast_path_expected ? 2U : 0U) << server.stderr_text();
    EXPECT_EQ(server.stderr_text().find("hash_helper_unavailable"), std::string::npos);
}

}  // namespace
}  // namespace authd_it
