// User names under RFC 8265's UsernameCasePreserved profile, and UTS #39 skeletons
// (core/src/store/user_name_profile.cpp). Each case names the rule of RFC 8264, 8265, 5892 or
// 5893 it exercises; the characters are written as UTF-8 bytes with their code points beside.
#include "authd/store/user_name_profile.hpp"

#include <string>

#include <gtest/gtest.h>

#include "authd/store/user_store.hpp"

namespace {

struct mapped_case {
    const char* what;
    std::string name;
    std::string enforced;
};

// Names the profile allows, and the form it gives them.
TEST(UserNameProfile, AllowedNamesAndTheirForm) {
    const mapped_case cases[] = {
        {"printable ASCII, kept", "alice.o'brien-2@example", "alice.o'brien-2@example"},
        {"case is kept", "Alice", "Alice"},
        {"userparts separated by single spaces", "Ada Lovelace", "Ada Lovelace"},
        {"full-width letters (U+FF4A U+FF4F U+FF48 U+FF4E) to ASCII",
         "\xef\xbd\x8a\xef\xbd\x8f\xef\xbd\x88\xef\xbd\x8e", "john"},
        {"full-width and ASCII mixed", "j\xef\xbd\x8fhn", "john"},
        {"half-width katakana KA (U+FF76) to KA (U+30AB)", "\xef\xbd\xb6", "\xe3\x82\xab"},
        {"ideographic space (U+3000, wide) to a separating space", "Zo\xc3\xab\xe3\x80\x80x",
         "Zo\xc3\xab x"},
        {"decomposed e + U+0301 to U+00E9 (NFC)",
         "jos"
         "e\xcc\x81",
         "jos\xc3\xa9"},
        {"a CJK userpart", "Zo\xc3\xab \xe7\x94\xa8", "Zo\xc3\xab \xe7\x94\xa8"},
        {"Cyrillic letters", "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd",
         "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd"},
        {"sharp s, an exception that is PVALID (U+00DF)",
         "stra\xc3\x9f"
         "e",
         "stra\xc3\x9f"
         "e"},
        {"Hangul jamo that NFC composes (U+1100 U+1161 to U+AC00)", "\xe1\x84\x80\xe1\x85\xa1",
         "\xea\xb0\x80"},
        {"middle dot between two l (U+00B7)", "col\xc2\xb7lado", "col\xc2\xb7lado"},
        {"Greek numeral sign before a Greek letter (U+0375 U+03B1)", "\xcd\xb5\xce\xb1",
         "\xcd\xb5\xce\xb1"},
        {"katakana middle dot beside katakana (U+30AB U+30FB U+30BF)",
         "\xe3\x82\xab\xe3\x83\xbb\xe3\x82\xbf", "\xe3\x82\xab\xe3\x83\xbb\xe3\x82\xbf"},
        {"Hebrew letters, right to left (U+05D0 U+05D1)", "\xd7\x90\xd7\x91", "\xd7\x90\xd7\x91"},
        {"Hebrew then a digit: a right-to-left part may end with EN",
         "\xd7\x90"
         "1",
         "\xd7\x90"
         "1"},
        {"Hebrew geresh after a Hebrew letter (U+05D2 U+05F3)", "\xd7\x92\xd7\xb3",
         "\xd7\x92\xd7\xb3"},
        {"a Hebrew userpart beside a Latin one", "\xd7\x90\xd7\x91 abc", "\xd7\x90\xd7\x91 abc"},
        {"Arabic letter and Arabic-Indic digit (U+0628 U+0661)", "\xd8\xa8\xd9\xa1",
         "\xd8\xa8\xd9\xa1"},
        {"longest: 256 bytes", std::string(authd::max_user_name_bytes, 'a'),
         std::string(authd::max_user_name_bytes, 'a')},
        {"85 full-width letters (255 bytes) to 85 ASCII ones",
         [] {
             std::string s;
             for (int i = 0; i < 85; ++i) {
                 s += "\xef\xbd\x8a";
             }
             return s;
         }(),
         std::string(85, 'j')},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const auto enforced = authd::enforce_user_name(c.name);
        EXPECT_TRUE(enforced) << enforced.problem;
        EXPECT_EQ(enforced.name, c.enforced);
        EXPECT_TRUE(authd::valid_user_name(enforced.name));
        EXPECT_FALSE(authd::user_name_has_outer_space(enforced.name));
        // Enforcing twice changes nothing (RFC 8264 section 7: idempotence).
        EXPECT_EQ(authd::enforce_user_name(enforced.name).name, c.enforced);
    }
}

struct refused_case {
    const char* what;
    std::string name;
    std::string problem;  // a part of the reason given
};

TEST(UserNameProfile, RefusedNamesAndWhy) {
    const refused_case cases[] = {
        {"empty", "", "empty"},
        {"longer than 256 bytes", std::string(authd::max_user_name_bytes + 1, 'a'),
         "longer than 256"},
        {"not UTF-8", "al\xffice", "not UTF-8"},
        {"a space at the start", " alice", "a space at either end or two in a row"},
        {"a space at the end", "alice ", "a space at either end or two in a row"},
        {"two spaces in a row", "ada  lovelace", "a space at either end or two in a row"},
        {"only a space", " ", "a space at either end or two in a row"},
        {"a tab", "a\tb", "U+0009 is a control character"},
        {"a C1 control, NEL (U+0085)", "ad\xc2\x85min", "U+0085 is a control character"},
        {"a no-break space (U+00A0)", "ad\xc2\xa0min", "U+00A0 is a compatibility form"},
        {"ogham space mark (U+1680)", "ad\xe1\x9a\x80min", "U+1680 is a space other than U+0020"},
        {"a zero-width space (U+200B)", "ad\xe2\x80\x8bmin", "U+200B prints as nothing"},
        {"a zero-width joiner (U+200D)", "ad\xe2\x80\x8dmin", "U+200D is a zero-width joiner"},
        {"a zero-width non-joiner after a virama (U+0915 U+094D U+200C)",
         "\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8c", "U+200C is a zero-width joiner"},
        {"right-to-left override (U+202E)",
         "\xe2\x80\xae"
         "admin",
         "U+202E prints as nothing"},
        {"soft hyphen (U+00AD)", "ad\xc2\xadmin", "U+00AD prints as nothing"},
        {"byte order mark (U+FEFF)",
         "\xef\xbb\xbf"
         "admin",
         "U+FEFF prints as nothing"},
        {"a noncharacter (U+FDD0)", "a\xef\xb7\x90", "U+FDD0 prints as nothing or is no"},
        {"unassigned (U+0378)", "a\xcd\xb8", "U+0378 is not assigned"},
        {"a lone old Hangul jamo (U+1100)", "\xe1\x84\x80", "U+1100 is an old Hangul jamo"},
        {"trade mark sign (U+2122)", "acme\xe2\x84\xa2", "U+2122 is a compatibility form"},
        {"ligature fi (U+FB01)", "\xef\xac\x81le", "U+FB01 is a compatibility form"},
        {"superscript two (U+00B2)", "x\xc2\xb2", "U+00B2 is a compatibility form"},
        {"euro sign (U+20AC)", "a\xe2\x82\xac", "U+20AC is a symbol, punctuation"},
        {"an emoji (U+1F600)", "\xf0\x9f\x98\x80", "U+1F600 is a symbol, punctuation"},
        {"an em dash (U+2014)", "a\xe2\x80\x94z", "U+2014 is a symbol, punctuation"},
        {"a titlecase letter (U+01C5)", "\xc7\x85", "U+01C5 is a compatibility form"},
        {"a letter number, Runic (U+16EE)", "\xe1\x9b\xae", "U+16EE is a symbol, punctuation"},
        {"an enclosing mark (U+20DD)", "a\xe2\x83\x9d", "U+20DD is a symbol, punctuation"},
        {"Arabic tatweel, an exception DISALLOWED (U+0640)", "\xd8\xa8\xd9\x80",
         "U+0640 is not allowed in a name"},
        {"middle dot not between two l", "a\xc2\xb7z", "U+00B7 is not allowed where it stands"},
        {"middle dot at the end", "l\xc2\xb7", "U+00B7 is not allowed where it stands"},
        {"Greek numeral sign before a Latin letter", "\xcd\xb5z",
         "U+0375 is not allowed where it stands"},
        {"Hebrew geresh first", "\xd7\xb3\xd7\x90", "U+05F3 is not allowed where it stands"},
        {"katakana middle dot among Latin letters",
         "a\xe3\x83\xbb"
         "b",
         "U+30FB is not allowed where it stands"},
        {"Arabic-Indic beside extended Arabic-Indic digits (U+0661 U+06F1)",
         "\xd8\xa8\xd9\xa1\xdb\xb1", "U+0661 is not allowed where it stands"},
        {"Latin then Hebrew in one part (Bidi Rule 5)", "abc\xd7\x90", "Bidi Rule"},
        {"Hebrew then Latin in one part (Bidi Rule 2)",
         "\xd7\x90"
         "abc",
         "Bidi Rule"},
        {"a digit first in a name with Hebrew (Bidi Rule 1)", "1\xd7\x90", "Bidi Rule"},
        {"Hebrew ending in a full stop (Bidi Rule 3)", "\xd7\x90.", "Bidi Rule"},
        {"a Latin part ending in a full stop beside a Hebrew part (Bidi Rule 6)", "\xd7\x90 abc.",
         "Bidi Rule"},
        {"Arabic with an Arabic-Indic and a European digit (Bidi Rule 4)",
         "\xd8\xa8\xd9\xa1"
         "1",
         "Bidi Rule"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const auto enforced = authd::enforce_user_name(c.name);
        EXPECT_FALSE(enforced);
        EXPECT_NE(enforced.problem.find(c.problem), std::string::npos) << enforced.problem;
        EXPECT_EQ(enforced.name, "");
    }
}

// A login's name: the profile's form when it has one, so that every form of a name reaches one
// account and counts against one budget; the name as it is otherwise (an older store's account).
TEST(UserNameProfile, ALoginMeansTheProfilesFormOrTheNameAsItIs) {
    EXPECT_EQ(authd::login_user_name("alice"), "alice");
    EXPECT_EQ(authd::login_user_name("\xef\xbd\x8a\xef\xbd\x8f\xef\xbd\x88\xef\xbd\x8e"), "john");
    EXPECT_EQ(authd::login_user_name("jos"
                                     "e\xcc\x81"),
              "jos\xc3\xa9");
    EXPECT_EQ(authd::login_user_name("\xf0\x9f\x98\x80 face"), "\xf0\x9f\x98\x80 face");
    EXPECT_EQ(authd::login_user_name("ada  lovelace"), "ada  lovelace");
    EXPECT_EQ(authd::login_user_name("ad\xc2\x85min"), "ad\xc2\x85min");
    EXPECT_EQ(authd::login_user_name("al\xffice"), "al\xffice");
    EXPECT_EQ(authd::login_user_name(""), "");
}

TEST(UserNameProfile, LookalikeNamesShareASkeleton) {
    const auto skeleton = [](std::string_view name) { return authd::user_name_skeleton(name); };
    EXPECT_EQ(skeleton("paypal"), skeleton("p\xd0\xb0ypal"));  // a Cyrillic a (U+0430)
    EXPECT_EQ(skeleton("paypal"), skeleton("paypaI"));         // a capital I for an l
    EXPECT_EQ(skeleton("modern"), skeleton("rnodern"));        // r and n for m
    EXPECT_EQ(skeleton("admin"), skeleton("\xd0\xb0"
                                          "dm\xd1\x96n"));  // Cyrillic a and i
    EXPECT_NE(skeleton("alice"), skeleton("bob"));
    EXPECT_NE(skeleton("paypal"), skeleton("paypals"));
    EXPECT_NE(skeleton("al\xffice"), "");  // not UTF-8: U+FFFD stands for the byte
}

// The printable ASCII table gives ICU's skeleton: every pair of printable ASCII characters, and
// names in which the confusables map several characters ("rn", "vv", "cl", "0", "1", "|").
TEST(UserNameProfile, TheAsciiSkeletonTableAgreesWithIcu) {
    for (char a = 0x20; a < 0x7f; ++a) {
        for (char b = 0x20; b < 0x7f; ++b) {
            const std::string pair{a, b};
            ASSERT_EQ(authd::user_name_skeleton(pair), authd::user_name_skeleton_by_icu(pair))
                << pair;
        }
    }
    for (const std::string name :
         {"rnodern", "vvolf", "clown", "user0 10|l", "O'Brien-2@example", "`~!^_{}", ""}) {
        EXPECT_EQ(authd::user_name_skeleton(name), authd::user_name_skeleton_by_icu(name)) << name;
    }
    // Not ASCII: ICU's, as it is.
    EXPECT_EQ(authd::user_name_skeleton("p\xd0\xb0ypal"),
              authd::user_name_skeleton_by_icu("p\xd0\xb0ypal"));
}

}  // namespace
