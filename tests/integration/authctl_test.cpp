// The real authctl binary: user commands against a fresh store, import, key generation, usage.
#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <stdlib.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "authd/crypto/password_hasher.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/store/user_store.hpp"

#include "harness.hpp"

extern char** environ;

namespace {

struct run_result {
    int status = -1;  // the exit code, or 128 + the signal that ended the process
    std::string out;
    std::string err;
};

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// Both ends close on exec; the child gets its copies through dup2, which clears the flag.
struct pipe_fds {
    pipe_fds() {
        if (pipe2(fds_, O_CLOEXEC) != 0) {
            throw_errno("pipe2");
        }
    }
    ~pipe_fds() {
        close_read();
        close_write();
    }
    pipe_fds(const pipe_fds&) = delete;
    pipe_fds& operator=(const pipe_fds&) = delete;

    int read_end() const { return fds_[0]; }
    int write_end() const { return fds_[1]; }
    void close_read() { close_fd(fds_[0]); }
    void close_write() { close_fd(fds_[1]); }

  private:
    static void close_fd(int& fd) {
        if (fd >= 0) {
            ::close(fd);
            fd = -1;
        }
    }
    int fds_[2] = {-1, -1};
};

pid_t spawn(const std::vector<std::string>& argv, pipe_fds& in, pipe_fds& out, pipe_fds& err) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.read_end(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out.write_end(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.write_end(), STDERR_FILENO);
    // This process ignores SIGPIPE (see feed_and_collect); the child must not inherit that.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        throw_errno("posix_spawn");
    }
    return pid;
}

bool read_some(int fd, std::string& into) {
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
        into.append(buffer, static_cast<std::size_t>(n));
        return true;
    }
    return n < 0 && errno == EINTR;
}

// Writes input to the child's stdin while reading its stdout and stderr, so that neither side
// blocks on a full pipe.
void feed_and_collect(std::string_view input, pipe_fds& in, pipe_fds& out, pipe_fds& err,
                      run_result& result) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that exits without reading all its input
    if (input.empty()) {
        in.close_write();
    } else {
        fcntl(in.write_end(), F_SETFL, O_NONBLOCK);
    }
    bool out_open = true;
    bool err_open = true;
    while (out_open || err_open) {
        pollfd fds[3] = {{out_open ? out.read_end() : -1, POLLIN, 0},
                         {err_open ? err.read_end() : -1, POLLIN, 0},
                         {in.write_end(), POLLOUT, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("poll");
        }
        if (fds[0].revents != 0) {
            out_open = read_some(out.read_end(), result.out);
        }
        if (fds[1].revents != 0) {
            err_open = read_some(err.read_end(), result.err);
        }
        if (fds[2].revents != 0) {
            const ssize_t n = ::write(in.write_end(), input.data(), input.size());
            if (n > 0) {
                input.remove_prefix(static_cast<std::size_t>(n));
            }
            if (input.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                in.close_write();
            }
        }
    }
}

// Runs argv[0] with input on its standard input (a pipe); collects its output and exit status.
run_result run_command(const std::vector<std::string>& argv, std::string_view input) {
    pipe_fds in;
    pipe_fds out;
    pipe_fds err;
    const pid_t pid = spawn(argv, in, out, err);
    in.close_read();
    out.close_write();
    err.close_write();
    run_result result;
    feed_and_collect(input, in, out, err, result);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw_errno("waitpid");
        }
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

using authd_it::temp_dir;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// Every test runs authctl against its own store, with argon2 parameters cheap enough for tests.
class AuthctlTest : public ::testing::Test {
  protected:
    std::string db_path() const { return dir_.path() + "/users.db"; }

    run_result authctl(std::vector<std::string> args, std::string_view input = {}) const {
        std::vector<std::string> argv{
            AUTHCTL_BIN,  "--store", "sqlite:" + db_path(), "--hash-memory", "64KiB",
            "--hash-ops", "1"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, input);
    }

    void add_user(const std::string& name, const std::string& password) const {
        const auto r = authctl({"user", "add", name}, password + "\n");
        ASSERT_EQ(r.status, 0) << r.err;
    }

    std::optional<std::string> stored_hash(const std::string& name) const {
        return authd::open_store("sqlite:" + db_path())->users().find_hash(name);
    }

    // verify() reads the parameters from the PHC string; the hasher's own do not matter.
    static bool verifies(const std::string& phc, std::string_view password) {
        static const authd::password_hasher hasher(authd::argon2_params{1, std::size_t{64} * 1024});
        return hasher.verify(phc, password);
    }

    temp_dir dir_;
};

using AuthctlUser = AuthctlTest;
using AuthctlImport = AuthctlTest;
using AuthctlKey = AuthctlTest;
using AuthctlUsage = AuthctlTest;

TEST_F(AuthctlUser, AddThenList) {
    add_user("alice", "correct horse");
    add_user("Zoë", "battery staple");
    const auto list = authctl({"user", "list"});
    EXPECT_EQ(list.status, 0) << list.err;
    EXPECT_EQ(list.out, "Zoë\nalice\n");  // byte order: upper case first
}

TEST_F(AuthctlUser, AddStoresAVerifiableHash) {
    add_user("alice", "correct horse");
    const auto phc = stored_hash("alice");
    ASSERT_TRUE(phc.has_value());
    EXPECT_TRUE(phc->starts_with("$argon2id$")) << *phc;
    EXPECT_TRUE(verifies(*phc, "correct horse"));
    EXPECT_FALSE(verifies(*phc, "correct horse\n"));
}

TEST_F(AuthctlUser, AddStripsCarriageReturn) {
    const auto r = authctl({"user", "add", "alice"}, "secret\r\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(verifies(stored_hash("alice").value(), "secret"));
}

TEST_F(AuthctlUser, AddReadsOnlyTheFirstLine) {
    const auto r = authctl({"user", "add", "alice"}, "first\nsecond\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(verifies(stored_hash("alice").value(), "first"));
}

TEST_F(AuthctlUser, AddDuplicateFails) {
    add_user("alice", "first");
    const auto before = stored_hash("alice");
    const auto r = authctl({"user", "add", "alice"}, "second\n");
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(contains(r.err, "authctl: user alice exists already")) << r.err;
    EXPECT_EQ(stored_hash("alice"), before);
}

TEST_F(AuthctlUser, BadPasswordsRefused) {
    struct test_case {
        const char* what;
        std::string input;
        const char* message;
    };
    const test_case cases[] = {
        {"empty line", "\n", "empty password"},
        {"carriage return only", "\r\n", "empty password"},
        {"no input", "", "no password"},
        {"too long", std::string(authd::max_password_bytes + 1, 'x') + "\n", "longer than"},
        {"far too long", std::string(100000, 'x'), "longer than"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const auto r = authctl({"user", "add", "alice"}, c.input);
        EXPECT_EQ(r.status, 1);
        EXPECT_TRUE(contains(r.err, c.message)) << r.err;
        EXPECT_EQ(stored_hash("alice"), std::nullopt);
    }
}

// HTTP strips spaces and tabs around a header value and cannot carry control characters in one
// (RFC 9110 section 5.5): a password like that could never log in, so authctl refuses it.
const struct {
    const char* what;
    std::string password;
    const char* message;
} unusable_passwords[] = {
    {"leading space", " secret", "begins or ends with a space or tab"},
    {"trailing space", "secret ", "begins or ends with a space or tab"},
    {"leading tab", "\tsecret", "begins or ends with a space or tab"},
    {"trailing tab", "secret\t", "begins or ends with a space or tab"},
    {"space before the carriage return", "secret \r", "begins or ends with a space or tab"},
    {"only a space", " ", "begins or ends with a space or tab"},
    {"control character", "sec\x01ret", "holds a control character"},
    {"NUL", std::string("sec\0ret", 7), "holds a control character"},
    {"escape", "sec\x1b[0mret", "holds a control character"},
    {"inner carriage return", "sec\rret", "holds a control character"},
    {"DEL", "sec\x7fret", "holds a control character"},
};

TEST_F(AuthctlUser, PasswordsHttpCannotCarryRefused) {
    add_user("bob", "old password");
    const auto before = stored_hash("bob");
    for (const auto& c : unusable_passwords) {
        SCOPED_TRACE(c.what);
        const auto added = authctl({"user", "add", "alice"}, c.password + "\n");
        EXPECT_EQ(added.status, 1);
        EXPECT_TRUE(contains(added.err, c.message)) << added.err;
        EXPECT_EQ(stored_hash("alice"), std::nullopt);
        const auto changed = authctl({"user", "passwd", "bob"}, c.password + "\n");
        EXPECT_EQ(changed.status, 1);
        EXPECT_TRUE(contains(changed.err, c.message)) << changed.err;
        EXPECT_EQ(stored_hash("bob"), before);
    }
}

TEST_F(AuthctlUser, InnerSpacesAndTabsAccepted) {
    add_user("alice", "correct horse\tbattery  staple");
    EXPECT_TRUE(verifies(stored_hash("alice").value(), "correct horse\tbattery  staple"));
}

TEST_F(AuthctlUser, LongestPasswordAccepted) {
    const std::string password(authd::max_password_bytes, 'x');
    add_user("alice", password);
    EXPECT_TRUE(verifies(stored_hash("alice").value(), password));
}

TEST_F(AuthctlUser, InvalidNamesRefused) {
    const std::vector<std::string> names{"", "tab\tname", "new\nline", std::string(257, 'a'),
                                         std::string("bad\xff", 4)};
    for (const auto& name : names) {
        const auto r = authctl({"user", "add", "--", name}, "secret\n");
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_TRUE(contains(r.err, "invalid user name")) << r.err;
    }
    EXPECT_EQ(authctl({"user", "list"}).out, "");
}

// Names another name could pass for on an operator's screen, or that drive a terminal: refused for
// a new account; an account of an older store that has one can still be removed.
TEST_F(AuthctlUser, NamesWithHiddenCharactersRefused) {
    for (const std::string name : {"ad\xc2\x85min",
                                   "\xe2\x80\xae"
                                   "nimda",
                                   "ad\xc2\xa0min", "ad\xe2\x80\x8bmin",
                                   "a\xc2\x9b"
                                   "31m"}) {
        const auto r = authctl({"user", "add", "--", name}, "secret\n");
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_TRUE(contains(r.err, "another name could pass for it")) << r.err;
        EXPECT_FALSE(contains(r.err, name)) << "the name is not repeated";
    }
    EXPECT_EQ(authctl({"user", "list"}).out, "");
    add_user("alice", "secret");
    ASSERT_TRUE(authd::open_store("sqlite:" + db_path())
                    ->users()
                    .add_user("ad\xc2\x85min", stored_hash("alice").value()));
    // Listed with the character shown, not sent to the terminal.
    EXPECT_EQ(authctl({"user", "list"}).out, "ad\\u{0085}min\nalice\n");
    EXPECT_EQ(authctl({"user", "passwd", "--", "ad\xc2\x85min"}, "new secret\n").status, 0);
    EXPECT_EQ(authctl({"user", "remove", "--", "ad\xc2\x85min"}).status, 0);
    EXPECT_EQ(stored_hash("ad\xc2\x85min"), std::nullopt);
}

// HTTP strips the spaces around a header's value (docs/api.md), so no User-Name header could
// name an account whose name begins or ends with one: such an account could never log in.
TEST_F(AuthctlUser, NamesHttpCannotCarryRefused) {
    for (const std::string name : {" lead", "trail ", " both ", " "}) {
        SCOPED_TRACE("'" + name + "'");
        const auto r = authctl({"user", "add", "--", name}, "secret\n");
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_TRUE(contains(r.err, "a space at either end")) << r.err;
    }
    EXPECT_EQ(authctl({"user", "list"}).out, "");
    EXPECT_EQ(authctl({"user", "add", "--", "inner space"}, "secret\n").status, 0);
}

// An account of such a name in a store written before (or by another tool) can still be given a
// new password and removed.
TEST_F(AuthctlUser, OldNameHttpCannotCarryCanStillBeRemoved) {
    add_user("alice", "secret");
    const auto phc = stored_hash("alice").value();
    ASSERT_TRUE(authd::open_store("sqlite:" + db_path())->users().add_user(" old ", phc));
    EXPECT_EQ(authctl({"user", "passwd", "--", " old "}, "new secret\n").status, 0);
    EXPECT_TRUE(verifies(stored_hash(" old ").value(), "new secret"));
    const auto removed = authctl({"user", "remove", "--", " old "});
    EXPECT_EQ(removed.status, 0) << removed.err;
    EXPECT_EQ(stored_hash(" old "), std::nullopt);
}

TEST_F(AuthctlUser, NameStartingWithDashAfterDoubleDash) {
    const auto r = authctl({"user", "add", "--", "-dash"}, "secret\n");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(authctl({"user", "list"}).out, "-dash\n");
}

TEST_F(AuthctlUser, PasswdChangesTheHash) {
    add_user("alice", "old password");
    const auto before = stored_hash("alice").value();
    const auto r = authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto after = stored_hash("alice").value();
    EXPECT_NE(after, before);
    EXPECT_TRUE(verifies(after, "new password"));
    EXPECT_FALSE(verifies(after, "old password"));
}

TEST_F(AuthctlUser, PasswdUnknownUserFails) {
    const auto r = authctl({"user", "passwd", "nobody"}, "secret\n");
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(contains(r.err, "authctl: user nobody does not exist")) << r.err;
}

TEST_F(AuthctlUser, PasswdEmptyPasswordKeepsTheOldOne) {
    add_user("alice", "old password");
    const auto r = authctl({"user", "passwd", "alice"}, "\n");
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(verifies(stored_hash("alice").value(), "old password"));
}

TEST_F(AuthctlUser, Remove) {
    add_user("alice", "a");
    add_user("bob", "b");
    const auto r = authctl({"user", "remove", "alice"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(authctl({"user", "list"}).out, "bob\n");
    const auto again = authctl({"user", "remove", "alice"});
    EXPECT_EQ(again.status, 1);
    EXPECT_TRUE(contains(again.err, "authctl: user alice does not exist")) << again.err;
}

TEST_F(AuthctlUser, ListOfEmptyStore) {
    const auto r = authctl({"user", "list"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "");
}

// 50 lines: user01..user50 with password pwNN, line 25 without its tab.
std::string import_file_content() {
    std::ostringstream content;
    for (int i = 1; i <= 50; ++i) {
        std::string n = std::to_string(i);
        if (i < 10) {
            n.insert(0, 1, '0');
        }
        if (i == 25) {
            content << "user" << n << " malformed-hunter2\n";
        } else {
            content << "user" << n << "\tpw" << n << "\n";
        }
    }
    return content.str();
}

TEST_F(AuthctlImport, AddsValidLinesAndReportsTheOthers) {
    const std::string file = dir_.path() + "/users.tsv";
    std::ofstream(file) << import_file_content();
    const auto r = authctl({"user", "import", file});
    EXPECT_EQ(r.status, 1);  // a line was skipped
    EXPECT_TRUE(contains(r.err, "line 25")) << r.err;
    EXPECT_FALSE(contains(r.err, "hunter2")) << r.err;
    EXPECT_FALSE(contains(r.err, "pw")) << r.err;
    EXPECT_TRUE(contains(r.err, "hashed 49/49")) << r.err;
    EXPECT_TRUE(contains(r.out, "added: 49, existed already: 0, lines skipped: 1")) << r.out;

    const auto list = authctl({"user", "list"});
    EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 49);
    EXPECT_FALSE(contains(list.out, "user25"));
    EXPECT_TRUE(verifies(stored_hash("user01").value(), "pw01"));
    EXPECT_TRUE(verifies(stored_hash("user50").value(), "pw50"));

    const auto again = authctl({"user", "import", file});
    EXPECT_TRUE(contains(again.out, "added: 0, existed already: 49")) << again.out;
}

TEST_F(AuthctlImport, FromStandardInputKeepsExistingUsers) {
    add_user("alice", "original");
    const auto r =
        authctl({"user", "import", "-"}, "alice\treplaced\r\nbob\tpass\twith tab\n\ncarol\tc");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "added: 2, existed already: 1, lines skipped: 0")) << r.out;
    EXPECT_TRUE(verifies(stored_hash("alice").value(), "original"));
    EXPECT_TRUE(verifies(stored_hash("bob").value(), "pass\twith tab"));
    EXPECT_TRUE(verifies(stored_hash("carol").value(), "c"));
}

TEST_F(AuthctlImport, InvalidLinesSkipped) {
    const auto r =
        authctl({"user", "import", "-"},
                "ok\tpw\n"
                "\tnoname\n"
                "empty\t\n"
                "ok\tsecond-secret\n"
                "bad\x01name\tpw\n" +
                    std::string("long\t") + std::string(authd::max_password_bytes + 1, 'x') + "\n");
    EXPECT_EQ(r.status, 1);
    for (const char* expected :
         {"line 2: invalid user name", "line 3: empty password", "line 4: user ok repeats line 1",
          "line 5: invalid user name", "line 6: password longer than"}) {
        EXPECT_TRUE(contains(r.err, expected)) << expected << "\n" << r.err;
    }
    EXPECT_FALSE(contains(r.err, "second-secret")) << r.err;
    EXPECT_TRUE(contains(r.out, "added: 1, existed already: 0, lines skipped: 5")) << r.out;
}

TEST_F(AuthctlImport, PasswordsHttpCannotCarrySkippedByLine) {
    std::string file = "ok\tpw\n";
    for (const auto& c : unusable_passwords) {
        file += std::string("user-") + std::to_string(file.size()) + "\t" + c.password + "\n";
    }
    file += "inner\tin ner\n";
    const auto r = authctl({"user", "import", "-"}, file);
    EXPECT_EQ(r.status, 1);
    std::size_t line = 2;
    for (const auto& c : unusable_passwords) {
        SCOPED_TRACE(c.what);
        const std::string expected = "line " + std::to_string(line++) + ": password " + c.message;
        EXPECT_TRUE(contains(r.err, expected)) << expected << "\n" << r.err;
    }
    EXPECT_FALSE(contains(r.err, "secret")) << r.err;
    const auto skipped = std::size(unusable_passwords);
    EXPECT_TRUE(
        contains(r.out, "added: 2, existed already: 0, lines skipped: " + std::to_string(skipped)))
        << r.out;
    EXPECT_TRUE(verifies(stored_hash("inner").value(), "in ner"));
}

TEST_F(AuthctlImport, NamesHttpCannotCarrySkippedByLine) {
    const auto r = authctl({"user", "import", "-"}, "ok\tpw\n trail \tpw\n lead\tpw\nin ner\tpw\n");
    EXPECT_EQ(r.status, 1);
    for (const std::string expected :
         {"line 2: user name begins or ends with a space", "line 3: user name begins or ends"}) {
        EXPECT_TRUE(contains(r.err, expected)) << expected << "\n" << r.err;
    }
    EXPECT_TRUE(contains(r.out, "added: 2, existed already: 0, lines skipped: 2")) << r.out;
    EXPECT_EQ(authctl({"user", "list"}).out, "in ner\nok\n");
}

// A line past 4096 bytes is reported by number and skipped, and its bytes are not kept: a 300 MB
// line (no newline at all, as /dev/zero) once made authctl hold every byte of it. The peak memory
// of the children this test waited for (RUSAGE_CHILDREN: the shell, head and authctl) stays far
// below the line's size.
TEST_F(AuthctlImport, OverlongLineIsSkippedWithoutHoldingIt) {
    const std::string script = "{ head -c 300000000 /dev/zero; printf '\\nbob\\tpw-bob\\n'; } | " +
                               std::string(AUTHCTL_BIN) + " --store sqlite:" + db_path() +
                               " --hash-memory 64KiB --hash-ops 1 user import -";
    const auto r = run_command({"/bin/sh", "-c", script}, {});
    EXPECT_EQ(r.status, 1) << r.err;  // lines were skipped
    EXPECT_TRUE(contains(r.err, "line 1: longer than 4096 bytes; skipped")) << r.err;
    EXPECT_TRUE(contains(r.out, "added: 1, existed already: 0, lines skipped: 1")) << r.out;
    const auto bob = stored_hash("bob");
    ASSERT_TRUE(bob.has_value());
    EXPECT_TRUE(verifies(*bob, "pw-bob"));
    struct rusage children {};
    ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &children), 0);
    EXPECT_LT(children.ru_maxrss, 150L * 1024) << "KiB at the peak, for a 300 MB line";
}

// A UTF-8 byte order mark first (Windows tools write one) is no part of the first name.
TEST_F(AuthctlImport, ByteOrderMarkIsNotPartOfTheFirstName) {
    const auto r = authctl({"user", "import", "-"},
                           "\xEF\xBB\xBF"
                           "bom\tpw-bom\nnext\tpw\n");
    EXPECT_EQ(r.status, 0) << r.err;
    const auto bom = stored_hash("bom");
    ASSERT_TRUE(bom.has_value());
    EXPECT_TRUE(verifies(*bom, "pw-bom"));
    EXPECT_EQ(stored_hash("\xEF\xBB\xBF"
                          "bom"),
              std::nullopt);
}

TEST_F(AuthctlImport, MissingFileFails) {
    const auto r = authctl({"user", "import", dir_.path() + "/missing.tsv"});
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(contains(r.err, "missing.tsv")) << r.err;
}

TEST_F(AuthctlKey, GenerateWritesAPrivate32ByteFileOnce) {
    const std::string key = dir_.path() + "/signing.key";
    const auto r = authctl({"key", "generate", key});
    ASSERT_EQ(r.status, 0) << r.err;
    struct stat st {};
    ASSERT_EQ(stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 32);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    const std::string first = read_file(key);

    const auto again = authctl({"key", "generate", key});
    EXPECT_EQ(again.status, 1);
    EXPECT_TRUE(contains(again.err, "authctl: ")) << again.err;
    EXPECT_EQ(read_file(key), first);
}

TEST_F(AuthctlUsage, Help) {
    const auto r = run_command({AUTHCTL_BIN, "--help"}, {});
    EXPECT_EQ(r.status, 0);
    for (const char* word :
         {"user add NAME", "user passwd NAME", "user remove NAME", "user list", "user import FILE",
          "key generate PATH", "--store", "--hash-memory", "--hash-ops"}) {
        EXPECT_TRUE(contains(r.out, word)) << word;
    }
}

TEST_F(AuthctlUsage, ErrorsExitWithTwo) {
    const std::vector<std::vector<std::string>> cases{
        {},
        {"frobnicate"},
        {"user"},
        {"user", "frobnicate"},
        {"user", "add"},
        {"user", "list", "extra"},
        {"--no-such-option", "user", "list"},
        {"--hash-o", "1", "user", "list"},  // an abbreviation: no option (not --hash-ops)
    };
    for (const auto& args : cases) {
        const auto r = authctl(args, "secret\n");
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_TRUE(r.err.starts_with("authctl: ")) << r.err;
    }
}

TEST_F(AuthctlUsage, PasswordOnTheCommandLineIsNotRepeated) {
    const auto r = authctl({"user", "add", "alice", "hunter2"}, "secret\n");
    EXPECT_EQ(r.status, 2);
    EXPECT_FALSE(contains(r.err, "hunter2")) << r.err;
    EXPECT_EQ(stored_hash("alice"), std::nullopt);
}

TEST_F(AuthctlUsage, BadOptionValues) {
    const std::string store = "sqlite:" + db_path();
    const std::vector<std::vector<std::string>> cases{
        {"--store", "mysql://db", "user", "list"},
        {"--store", store, "--hash-memory", "lots", "user", "add", "alice"},
        {"--store", store, "--hash-memory", "1KiB", "user", "add", "alice"},
        {"--store", store, "--hash-ops", "0", "user", "add", "alice"},
        {"--store", store, "--hash-ops", "-1", "user", "add", "alice"},
        {"--store", store, "--hash-ops", "2x", "user", "add", "alice"},
        // Costs that held authctl for hours (the hasher's first hash is made at once).
        {"--store", store, "--hash-ops", "1000000", "user", "add", "alice"},
        {"--store", store, "--hash-memory", "5GiB", "user", "add", "alice"},
        {"--store", store, "--hash-memory", "4GiB", "--hash-ops", "3", "user", "add", "alice"},
    };
    for (const auto& args : cases) {
        std::vector<std::string> argv{AUTHCTL_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run_command(argv, "secret\n");
        EXPECT_EQ(r.status, 2) << r.err;
    }
}

TEST_F(AuthctlUsage, BrokenStoreExitsWithOne) {
    std::ofstream(db_path()) << std::string(8192, 'x');
    const auto r = authctl({"user", "list"});
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(contains(r.err, "file is not a database")) << r.err;
}

// Through the real server: a password with inner spaces and a tab, stored by authctl, logs in.
TEST(AuthctlLogin, PasswordWithInnerSpacesLogsInThroughAuthd) {
    const std::string password = "correct horse\tbattery  staple";
    authd_it::test_env env;
    env.add_user("spaced", password);
    authd_it::authd_process authd(authd_it::authd_args{}.build(env));
    const auto port = authd.wait_listening();
    ASSERT_TRUE(port) << authd.stderr_text();
    authd_it::http_client client(*port);
    const auto r = client.roundtrip(authd_it::login_request("spaced", password));
    EXPECT_EQ(authd_it::status_line(r), "HTTP/1.1 200 OK") << r.body();
    EXPECT_TRUE(authd_it::token_of(r.body())) << r.body();
    const auto wrong = client.roundtrip(authd_it::login_request("spaced", "correct horse"));
    EXPECT_EQ(authd_it::status_line(wrong), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(authd.terminate(), 0);
}

}  // namespace
