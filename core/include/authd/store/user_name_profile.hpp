// User names as PRECIS enforces them (RFC 8264, RFC 8265), and how alike two names look (UTS #39).
//
// A new or imported name is enforced with RFC 8265's UsernameCasePreserved profile, its
// space-separated userparts each on their own (section 3.5): full-width and half-width forms
// mapped to their ordinary ones, Unicode NFC, the Bidi Rule (RFC 5893) when a userpart holds a
// right-to-left character, and every character of the IdentifierClass (RFC 8264 section 4.2):
// letters, digits, combining marks and printable ASCII, but no other symbol, punctuation, space,
// control, invisible or compatibility character. The store keeps the enforced form, and a login
// maps the name it receives the same way, so that "ｊｏｈｎ" and a decomposed "é" reach "john" and
// "é". Case is kept: authd's names have always told "Alice" from "alice", as htpasswd's, crypt's
// and Django's do, so case mapping (the UsernameCaseMapped profile) would cut older accounts off.
//
// Stricter than the profile, as RFC 8264 section 5.1 lets an application be: no zero-width joiner
// or non-joiner (CONTEXTJ), which print as nothing. The other contextual characters (the Catalan
// middle dot in "l·l", the Greek numeral sign, Hebrew geresh and gershayim, the katakana middle
// dot, Arabic-Indic digits) are allowed where RFC 5892's appendix A allows them.
//
// Unicode's tables are ICU's (libicu 72: Unicode 15.0).
#pragma once

#include <string>
#include <string_view>

namespace authd {

struct enforced_user_name {
    std::string name;     // the enforced form, when the name is allowed
    std::string problem;  // why it is not: names a code point (U+XXXX), never repeats the name

    explicit operator bool() const noexcept { return problem.empty(); }
};

// name enforced as a new account's: the form to store, or why it cannot be one.
enforced_user_name enforce_user_name(std::string_view name);

// The account a login's User-Name means: the name as enforce_user_name() maps it, or the name as
// it is when the profile refuses it (an older store's account, whose name the rules before this
// profile allowed, still logs in by its stored bytes). Printable ASCII with single spaces inside,
// which the profile leaves as it is, costs one pass over the bytes.
std::string login_user_name(std::string_view name);

// The UTS #39 skeleton of name: two names with one skeleton look alike ("paypal" and "paypaI",
// a Latin and a Cyrillic "а"), however different their bytes. Bytes that are not UTF-8 count as
// U+FFFD.
std::string user_name_skeleton(std::string_view name);
// The same, always through ICU's conversions: user_name_skeleton() takes a table of the printable
// ASCII characters' prototypes for names of those only (tests compare the two).
std::string user_name_skeleton_by_icu(std::string_view name);

}  // namespace authd
