// User names under RFC 8265's profile (docs/security.md, "Lookalike and control-character names"),
// against the real authctl and authd: a name is stored in the profile's form, a login by any form
// of it reaches that account and counts against its one budget, an older store's name that the
// profile would refuse still logs in, and authctl warns of a name that looks like another.
#include <fstream>
#include <string>

#include "authd/store/store_backend.hpp"

#include "harness.hpp"

namespace authd_it {
namespace {

// "ｊｏｈｎ" (U+FF4A U+FF4F U+FF48 U+FF4E), and "jｏhn" with one full-width letter.
const std::string full_width_john = "\xef\xbd\x8a\xef\xbd\x8f\xef\xbd\x88\xef\xbd\x8e";
const std::string mixed_john = "j\xef\xbd\x8fhn";
// "josé": decomposed (e, U+0301) and composed (U+00E9, NFC).
const std::string decomposed_jose = "jose\xcc\x81";
const std::string composed_jose = "jos\xc3\xa9";

void write_names_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

class UserNames : public authd_test {
  protected:
    response login(const std::string& user, const std::string& password) {
        http_client c(port());
        return c.roundtrip(login_request(user, password));
    }

    // The "user" member of the token's payload, as authd wrote it.
    static std::string token_user(const response& r) {
        const auto token = token_of(r.body());
        if (!token) {
            return "(no token)";
        }
        const auto parts = split_jwt(*token);
        if (!parts) {
            return "(not a JWT)";
        }
        const auto& json = parts->payload;
        const auto start = json.find(R"("user":")");
        return start == std::string::npos ? "(no user)"
                                          : json.substr(start, json.find("\",", start) - start);
    }

    std::string listed() { return env_.authctl({"user", "list"}).out; }
};

TEST_F(UserNames, AFullWidthNameIsStoredInItsProfileFormAndEitherFormLogsIn) {
    const auto added = env_.authctl({"user", "add", "--", full_width_john}, "secret\n");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_NE(added.err.find("stored as john"), std::string::npos) << added.err;
    EXPECT_EQ(listed(), "john\n");
    start();
    const auto plain = login("john", "secret");
    ASSERT_EQ(plain.result_int(), 200) << plain.body();
    for (const auto& form : {full_width_john, mixed_john}) {
        const auto r = login(form, "secret");
        EXPECT_EQ(r.result_int(), 200) << r.body();
        EXPECT_EQ(token_user(r), R"("user":"john)");
    }
    EXPECT_EQ(login(full_width_john, "wrong").result_int(), 404);
    // authctl reaches the account by either form too.
    EXPECT_EQ(env_.authctl({"user", "passwd", "--", full_width_john}, "new secret\n").exit_code, 0);
    EXPECT_EQ(login("john", "new secret").result_int(), 200);
    const auto removed = env_.authctl({"user", "remove", "--", mixed_john});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(listed(), "");
}

TEST_F(UserNames, ADecomposedNameIsStoredComposedAndEitherFormLogsIn) {
    const auto added = env_.authctl({"user", "add", "--", decomposed_jose}, "secret\n");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_EQ(listed(), composed_jose + "\n");
    start();
    const auto composed = login(composed_jose, "secret");
    const auto decomposed = login(decomposed_jose, "secret");
    ASSERT_EQ(composed.result_int(), 200) << composed.body();
    ASSERT_EQ(decomposed.result_int(), 200) << decomposed.body();
    EXPECT_EQ(token_user(decomposed), token_user(composed));
}

// Every form of a name is one account with one budget: with two free failures, three wrong
// passwords by three forms make the account wait, for its plain name too.
TEST_F(UserNames, EveryFormOfANameCountsAgainstTheAccountsOneBudget) {
    env_.add_user("john", "secret");
    start(authd_args{}.with({"--account-free-failures", "2", "--address-free-failures", "100"}));
    EXPECT_EQ(login("john", "wrong 1").result_int(), 404);
    EXPECT_EQ(login(full_width_john, "wrong 2").result_int(), 404);
    EXPECT_EQ(login(mixed_john, "wrong 3").result_int(), 404);
    const auto r = login("john", "secret");
    EXPECT_EQ(r.result_int(), 429) << r.body();
}

// A name an older store holds that the profile refuses (a symbol, two spaces in a row) still logs
// in by its stored bytes; authctl would no longer add it.
TEST_F(UserNames, AnOlderStoresNameTheProfileRefusesStillLogsIn) {
    env_.add_user("alice", "secret");
    const auto phc = authd::open_store(env_.store_uri())->users().find_hash("alice");
    ASSERT_TRUE(phc);
    const std::vector<std::string> old_names{"\xf0\x9f\x98\x80 face", "ada  lovelace",
                                             "acme\xe2\x84\xa2"};
    for (const auto& name : old_names) {
        ASSERT_TRUE(authd::open_store(env_.store_uri())->users().add_user(name, *phc));
        const auto refused = env_.authctl({"user", "add", "--", name + "2"}, "secret\n");
        EXPECT_EQ(refused.exit_code, 2) << name;
        EXPECT_NE(refused.err.find("invalid user name"), std::string::npos) << refused.err;
    }
    start();
    for (const auto& name : old_names) {
        EXPECT_EQ(login(name, "secret").result_int(), 200) << name;
    }
}

// A name an older store holds in another form than the profile's (decomposed, as some tools
// wrote it) still logs in by the bytes it was stored with: the login falls back to them when no
// account has the mapped form. The composed form finds no account: none has it.
TEST_F(UserNames, AnOlderStoresNameInAnotherFormStillLogsInByItsBytes) {
    env_.add_user("alice", "secret");
    const auto store = authd::open_store(env_.store_uri());
    const auto phc = store->users().find_hash("alice");
    ASSERT_TRUE(phc);
    ASSERT_TRUE(store->users().add_user(decomposed_jose, *phc));
    start(authd_args{}.with({"--account-free-failures", "2", "--address-free-failures", "100"}));
    const auto ok = login_from("127.0.0.2", port(), decomposed_jose, "secret");
    EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << ok;
    // No account has the composed form; and the fallback shares the mapped name's budget: three
    // failures by either form, and the account waits for both.
    const auto status = [&](const std::string& user, const std::string& password) {
        const auto r = login_from("127.0.0.3", port(), user, password);
        return r.substr(0, r.find("\r\n"));
    };
    EXPECT_EQ(status(composed_jose, "secret"), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(status(decomposed_jose, "wrong 1"), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(status(composed_jose, "wrong 2"), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(status(decomposed_jose, "secret"), "HTTP/1.1 429 Too Many Requests");
}

TEST_F(UserNames, NamesTheProfileRefusesAreRefusedByNameOfTheCharacter) {
    const struct {
        std::string name;
        const char* problem;
    } cases[] = {
        {"acme\xe2\x84\xa2", "U+2122 is a compatibility form"},
        {"\xf0\x9f\x98\x80", "U+1F600 is a symbol, punctuation"},
        {"ada  lovelace", "two in a row"},
        {"abc\xd7\x90", "Bidi Rule"},
        {"\xd8\xa8\xd9\x80", "U+0640 is not allowed in a name"},  // Arabic tatweel
    };
    for (const auto& c : cases) {
        const auto r = env_.authctl({"user", "add", "--", c.name}, "secret\n");
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find(c.problem), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(c.name), std::string::npos) << "the name is not repeated";
    }
    EXPECT_EQ(listed(), "");
}

// A name that looks like an existing one (a Cyrillic "а" for a Latin "a", a capital I for an l)
// is added, with a warning that names both; a name like no other gets none.
TEST_F(UserNames, AuthctlWarnsOfANameThatLooksLikeAnother) {
    env_.add_user("paypal", "secret");
    const std::string cyrillic = "p\xd0\xb0ypal";
    const auto added = env_.authctl({"user", "add", "--", cyrillic}, "secret\n");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_NE(added.err.find("warning: user " + cyrillic + " looks like the user paypal"),
              std::string::npos)
        << added.err;
    const auto plain = env_.authctl({"user", "add", "bob"}, "secret\n");
    EXPECT_EQ(plain.exit_code, 0);
    EXPECT_EQ(plain.err.find("looks like"), std::string::npos) << plain.err;

    // An import of passwords: against the store and the file's own lines.
    const auto file = env_.dir().file("users.txt");
    write_names_file(file, "paypaI\tpw1\nb0b\tpw2\nalice\tpw3\n\xd0\xb0lice\tpw4\n");
    const auto imported = env_.authctl({"user", "import", file});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_NE(imported.err.find("user paypaI looks like the user paypal"), std::string::npos)
        << imported.err;
    EXPECT_NE(imported.err.find("user \xd0\xb0lice looks like the user alice"), std::string::npos)
        << imported.err;
    // An import of hashes (the form authctl user import --hashes reads).
    const auto phc = authd::open_store(env_.store_uri())->users().find_hash("bob");
    ASSERT_TRUE(phc);
    write_names_file(file, "rnodern\t" + *phc + "\nmodern\t" + *phc + "\n");
    const auto hashes = env_.authctl({"user", "import", "--hashes", file});
    ASSERT_EQ(hashes.exit_code, 0) << hashes.err;
    EXPECT_NE(hashes.err.find("user modern looks like the user rnodern"), std::string::npos)
        << hashes.err;
    EXPECT_NE(listed().find("\nmodern\n"), std::string::npos) << listed();
}

// An imported name is stored in its profile form, and a line the profile refuses is skipped by
// number and reason.
TEST_F(UserNames, ImportsStoreTheProfileFormAndSkipWhatItRefuses) {
    const auto file = env_.dir().file("users.txt");
    write_names_file(file, full_width_john + "\tpw1\n\xf0\x9f\x98\x80\tpw2\n" + decomposed_jose +
                               "\tpw3\njohn\tpw4\n");
    const auto imported = env_.authctl({"user", "import", file});
    EXPECT_EQ(imported.exit_code, 1) << imported.err;
    EXPECT_NE(imported.err.find("line 2: invalid user name: U+1F600"), std::string::npos)
        << imported.err;
    EXPECT_NE(imported.err.find("line 4: user john repeats line 1"), std::string::npos)
        << imported.err;
    EXPECT_EQ(listed(), "john\n" + composed_jose + "\n");
    // An import of hashes: "ｂｏｂ" (U+FF42 U+FF4F U+FF42) is stored as bob.
    const auto phc = authd::open_store(env_.store_uri())->users().find_hash("john");
    ASSERT_TRUE(phc);
    write_names_file(file, "\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82\t" + *phc + "\n");
    const auto hashes = env_.authctl({"user", "import", "--hashes", file});
    EXPECT_EQ(hashes.exit_code, 0) << hashes.err;
    EXPECT_EQ(listed(), "bob\njohn\n" + composed_jose + "\n");
}

}  // namespace
}  // namespace authd_it
