// PRECIS's UsernameCasePreserved profile and UTS #39 skeletons, on ICU's Unicode tables.
#include "authd/store/user_name_profile.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <vector>

#include "authd/store/user_store.hpp"
#include "authd/util/text.hpp"

namespace authd {
namespace {

std::string code_point_name(UChar32 c) {
    std::array<char, 16> text{};
    std::snprintf(text.data(), text.size(), "U+%04X", static_cast<unsigned>(c));
    return text.data();
}

const UNormalizer2* normalizer(const UNormalizer2* (*instance)(UErrorCode*)) {
    UErrorCode status = U_ZERO_ERROR;
    const auto* n = instance(&status);
    if (U_FAILURE(status) || n == nullptr) {
        throw std::runtime_error(std::string("ICU normalizer: ") + u_errorName(status));
    }
    return n;
}

std::u16string to_utf16(std::string_view utf8) {
    std::u16string out(utf8.size(), u'\0');  // never more UTF-16 units than UTF-8 bytes
    int32_t length = 0;
    UErrorCode status = U_ZERO_ERROR;
    u_strFromUTF8WithSub(out.data(), static_cast<int32_t>(out.size()), &length, utf8.data(),
                         static_cast<int32_t>(utf8.size()), 0xfffd, nullptr, &status);
    if (U_FAILURE(status)) {
        throw std::runtime_error(std::string("ICU UTF-8: ") + u_errorName(status));
    }
    out.resize(static_cast<std::size_t>(length));
    return out;
}

std::string to_utf8(std::u16string_view utf16) {
    std::string out(utf16.size() * 3, '\0');  // a UTF-16 unit is at most three UTF-8 bytes
    int32_t length = 0;
    UErrorCode status = U_ZERO_ERROR;
    u_strToUTF8(out.data(), static_cast<int32_t>(out.size()), &length, utf16.data(),
                static_cast<int32_t>(utf16.size()), &status);
    if (U_FAILURE(status)) {
        throw std::runtime_error(std::string("ICU UTF-16: ") + u_errorName(status));
    }
    out.resize(static_cast<std::size_t>(length));
    return out;
}

// ICU's two-call form: call(buffer, capacity, status) with a guessed capacity, and once more with
// the length it asks for when the guess was short. what names the call in an error.
template <class Call>
std::u16string icu_string(std::size_t guess, const char* what, Call call) {
    std::u16string out(guess, u'\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
        UErrorCode status = U_ZERO_ERROR;
        const auto length = call(out.data(), static_cast<int32_t>(out.size()), &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            out.resize(static_cast<std::size_t>(length));
            continue;
        }
        if (U_FAILURE(status)) {
            throw std::runtime_error(std::string(what) + ": " + u_errorName(status));
        }
        out.resize(static_cast<std::size_t>(length));
        return out;
    }
    throw std::runtime_error(std::string(what) + ": no stable length");
}

std::u16string normalized(const UNormalizer2* form, std::u16string_view text) {
    return icu_string(text.size() * 2 + 4, "ICU normalization",
                      [&](UChar* out, int32_t capacity, UErrorCode* status) {
                          return unorm2_normalize(form, text.data(),
                                                  static_cast<int32_t>(text.size()), out, capacity,
                                                  status);
                      });
}

std::vector<UChar32> code_points(std::u16string_view text) {
    std::vector<UChar32> out;
    for (int32_t i = 0; i < static_cast<int32_t>(text.size());) {
        UChar32 c = 0;
        U16_NEXT(text.data(), i, static_cast<int32_t>(text.size()), c);
        out.push_back(c);
    }
    return out;
}

// One code point (a valid one: from valid UTF-8) as UTF-16.
std::u16string utf16_of(UChar32 c) {
    std::array<UChar, 2> units{};
    int32_t length = 0;
    U16_APPEND_UNSAFE(units.data(), length, c);
    return {units.data(), static_cast<std::size_t>(length)};
}

// RFC 8265 section 3.4.2, step 1: full-width and half-width characters to their decomposition
// mapping (Decomposition_Type Wide or Narrow), every other character as it is.
std::u16string width_mapped(std::u16string_view text) {
    const auto* nfkc = normalizer(unorm2_getNFKCInstance);
    std::u16string out;
    out.reserve(text.size());
    for (const auto c : code_points(text)) {
        const auto type = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
        if (type == U_DT_WIDE || type == U_DT_NARROW) {
            std::array<UChar, 8> mapping{};
            UErrorCode status = U_ZERO_ERROR;
            const auto length = unorm2_getRawDecomposition(
                nfkc, c, mapping.data(), static_cast<int32_t>(mapping.size()), &status);
            if (U_SUCCESS(status) && length > 0) {
                out.append(mapping.data(), static_cast<std::size_t>(length));
                continue;
            }
        }
        out += utf16_of(c);
    }
    return out;
}

bool has_script(UChar32 c, UScriptCode script) {
    UErrorCode status = U_ZERO_ERROR;
    return uscript_getScript(c, &status) == script && U_SUCCESS(status);
}

bool any_in(const std::vector<UChar32>& part, UChar32 first, UChar32 last) {
    return std::any_of(part.begin(), part.end(),
                       [&](UChar32 c) { return c >= first && c <= last; });
}

// RFC 5892 appendix A's rules for the contextual characters other than the joiners (A.3 to A.9).
bool context_allows(const std::vector<UChar32>& part, std::size_t i) {
    const UChar32 c = part[i];
    const UChar32 before = i > 0 ? part[i - 1] : -1;
    const UChar32 after = i + 1 < part.size() ? part[i + 1] : -1;
    if (c == 0x00b7) {  // MIDDLE DOT: between two l (Catalan "l·l")
        return before == 0x006c && after == 0x006c;
    }
    if (c == 0x0375) {  // GREEK LOWER NUMERAL SIGN (KERAIA): before a Greek character
        return after >= 0 && has_script(after, USCRIPT_GREEK);
    }
    if (c == 0x05f3 || c == 0x05f4) {  // HEBREW GERESH, GERSHAYIM: after a Hebrew character
        return before >= 0 && has_script(before, USCRIPT_HEBREW);
    }
    if (c == 0x30fb) {  // KATAKANA MIDDLE DOT: in a part with Hiragana, Katakana or Han
        return std::any_of(part.begin(), part.end(), [](UChar32 other) {
            return other != 0x30fb &&
                   (has_script(other, USCRIPT_HIRAGANA) || has_script(other, USCRIPT_KATAKANA) ||
                    has_script(other, USCRIPT_HAN));
        });
    }
    if (c >= 0x0660 && c <= 0x0669) {  // ARABIC-INDIC DIGITS: never beside the extended ones
        return !any_in(part, 0x06f0, 0x06f9);
    }
    if (c >= 0x06f0 && c <= 0x06f9) {  // EXTENDED ARABIC-INDIC DIGITS: nor the reverse
        return !any_in(part, 0x0660, 0x0669);
    }
    return false;
}

bool contextual(UChar32 c) {
    return c == 0x00b7 || c == 0x0375 || c == 0x05f3 || c == 0x05f4 || c == 0x30fb ||
           (c >= 0x0660 && c <= 0x0669) || (c >= 0x06f0 && c <= 0x06f9);
}

// RFC 5892 section 2.6: exceptions that are PVALID or DISALLOWED whatever their category.
bool exception_valid(UChar32 c) {
    return c == 0x00df || c == 0x03c2 || c == 0x06fd || c == 0x06fe || c == 0x0f0b || c == 0x3007;
}

bool exception_disallowed(UChar32 c) {
    return c == 0x0640 || c == 0x07fa || c == 0x302e || c == 0x302f ||
           (c >= 0x3031 && c <= 0x3035) || c == 0x303b;
}

bool has_compatibility_form(UChar32 c) {
    const auto text = utf16_of(c);
    UErrorCode status = U_ZERO_ERROR;
    const bool same = unorm2_isNormalized(normalizer(unorm2_getNFKCInstance), text.data(),
                                          static_cast<int32_t>(text.size()), &status);
    return U_SUCCESS(status) && !same;
}

// Why part[i] is not allowed in an IdentifierClass string (RFC 8264 section 8's derivation, in
// its order), or nullptr when it is.
const char* identifier_problem(const std::vector<UChar32>& part, std::size_t i) {
    const UChar32 c = part[i];
    if (exception_valid(c)) {
        return nullptr;
    }
    if (exception_disallowed(c)) {
        return "is not allowed in a name";
    }
    if (contextual(c)) {
        return context_allows(part, i) ? nullptr : "is not allowed where it stands";
    }
    const auto category = u_charType(c);
    if (category == U_UNASSIGNED && !u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT)) {
        return "is not assigned in Unicode 15.0";
    }
    if (c >= 0x21 && c <= 0x7e) {
        return nullptr;
    }
    if (u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) {
        return "is a zero-width joiner, which prints as nothing";
    }
    const auto jamo = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
    if (jamo == U_HST_LEADING_JAMO || jamo == U_HST_VOWEL_JAMO || jamo == U_HST_TRAILING_JAMO) {
        return "is an old Hangul jamo";
    }
    if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
        u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT)) {
        return "prints as nothing or is no character";
    }
    if (category == U_CONTROL_CHAR) {
        return "is a control character";
    }
    if (has_compatibility_form(c)) {
        return "is a compatibility form of other characters";
    }
    switch (category) {
        case U_LOWERCASE_LETTER:
        case U_UPPERCASE_LETTER:
        case U_OTHER_LETTER:
        case U_DECIMAL_DIGIT_NUMBER:
        case U_MODIFIER_LETTER:
        case U_NON_SPACING_MARK:
        case U_COMBINING_SPACING_MARK:
            return nullptr;
        case U_SPACE_SEPARATOR:
            return "is a space other than U+0020";
        default:
            return "is a symbol, punctuation or other character a name may not hold";
    }
}

// RFC 5893 section 2, for one userpart of a name that holds a right-to-left character.
bool bidi_rule_holds(const std::vector<UChar32>& part) {
    const auto direction = [](UChar32 c) { return u_charDirection(c); };
    const auto first = direction(part.front());
    const bool rtl = first == U_RIGHT_TO_LEFT || first == U_RIGHT_TO_LEFT_ARABIC;
    if (!rtl && first != U_LEFT_TO_RIGHT) {
        return false;  // rule 1
    }
    bool european = false;
    bool arabic = false;
    UCharDirection last = first;
    for (const auto c : part) {
        const auto d = direction(c);
        switch (d) {
            case U_EUROPEAN_NUMBER:
                european = true;
                break;
            case U_ARABIC_NUMBER:
            case U_RIGHT_TO_LEFT:
            case U_RIGHT_TO_LEFT_ARABIC:
                arabic = arabic || d == U_ARABIC_NUMBER;
                if (!rtl) {
                    return false;  // rule 5
                }
                break;
            case U_LEFT_TO_RIGHT:
                if (rtl) {
                    return false;  // rule 2
                }
                break;
            case U_EUROPEAN_NUMBER_SEPARATOR:
            case U_COMMON_NUMBER_SEPARATOR:
            case U_EUROPEAN_NUMBER_TERMINATOR:
            case U_OTHER_NEUTRAL:
            case U_BOUNDARY_NEUTRAL:
            case U_DIR_NON_SPACING_MARK:
                break;
            default:
                return false;  // rules 2 and 5
        }
        if (d != U_DIR_NON_SPACING_MARK) {
            last = d;
        }
    }
    if (rtl) {
        return (last == U_RIGHT_TO_LEFT || last == U_RIGHT_TO_LEFT_ARABIC ||
                last == U_EUROPEAN_NUMBER || last == U_ARABIC_NUMBER) &&
               !(european && arabic);  // rules 3 and 4
    }
    return last == U_LEFT_TO_RIGHT || last == U_EUROPEAN_NUMBER;  // rule 6
}

bool right_to_left(UChar32 c) {
    const auto d = u_charDirection(c);
    return d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER;
}

// Printable ASCII with single spaces inside: a name the profile leaves as it is.
bool plain_ascii(std::string_view name) noexcept {
    if (name.empty() || name.size() > max_user_name_bytes || name.front() == ' ' ||
        name.back() == ' ') {
        return false;
    }
    char previous = 'x';
    for (const char c : name) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e || (c == ' ' && previous == ' ')) {
            return false;
        }
        previous = c;
    }
    return true;
}

enforced_user_name refused(std::string why) {
    return {{}, std::move(why)};
}

}  // namespace

enforced_user_name enforce_user_name(std::string_view name) {
    if (plain_ascii(name)) {
        return {std::string(name), {}};
    }
    if (name.empty()) {
        return refused("it is empty");
    }
    if (name.size() > max_user_name_bytes) {
        return refused("it is longer than 256 bytes");
    }
    if (!is_valid_utf8(name)) {
        return refused("it is not UTF-8");
    }
    const auto text = normalized(normalizer(unorm2_getNFCInstance), width_mapped(to_utf16(name)));
    std::vector<std::vector<UChar32>> parts(1);
    bool any_right_to_left = false;
    for (const auto c : code_points(text)) {
        if (c == 0x20) {
            parts.emplace_back();
            continue;
        }
        parts.back().push_back(c);
        any_right_to_left = any_right_to_left || right_to_left(c);
    }
    for (const auto& part : parts) {
        if (part.empty()) {
            return refused("a space at either end or two in a row (U+0020 only separates parts)");
        }
        for (std::size_t i = 0; i < part.size(); ++i) {
            if (const char* problem = identifier_problem(part, i)) {
                return refused(code_point_name(part[i]) + " " + problem);
            }
        }
        if (any_right_to_left && !bidi_rule_holds(part)) {
            return refused(
                "its right-to-left and left-to-right characters break the Bidi Rule (RFC 5893)");
        }
    }
    auto enforced = to_utf8(text);
    if (enforced.size() > max_user_name_bytes) {
        return refused("it is longer than 256 bytes");
    }
    return {std::move(enforced), {}};
}

std::string login_user_name(std::string_view name) {
    if (name.empty() || plain_ascii(name)) {  // empty: a request without User-Name (402)
        return std::string(name);
    }
    try {
        auto enforced = enforce_user_name(name);
        if (enforced) {
            return std::move(enforced.name);
        }
    } catch (const std::runtime_error&) {
        // ICU without its data: the name as it is, as before the profile.
    }
    return std::string(name);
}

namespace {

USpoofChecker& spoof_checker() {
    static const std::unique_ptr<USpoofChecker, void (*)(USpoofChecker*)> checker = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<USpoofChecker, void (*)(USpoofChecker*)> opened(uspoof_open(&status),
                                                                        uspoof_close);
        if (U_FAILURE(status)) {
            throw std::runtime_error(std::string("ICU spoof checker: ") + u_errorName(status));
        }
        return opened;
    }();
    return *checker;
}

// UTS #39 section 4: a skeleton is NFD, then each code point replaced by its prototype, then NFD
// again. The prototypes of the printable ASCII characters, from ICU once: when none holds a
// combining mark, the second NFD changes nothing across them, and the skeleton of printable ASCII
// is its characters' prototypes one after the other (an import of a million ASCII names pays a
// table lookup per byte, not ICU's conversions per name).
struct ascii_prototypes {
    std::array<std::string, 0x7f> of;
    bool usable = true;
};

const ascii_prototypes& ascii_table() {
    static const ascii_prototypes table = [] {
        ascii_prototypes t;
        for (char c = 0x20; c < 0x7f; ++c) {
            auto& prototype = t.of[static_cast<unsigned char>(c)];
            prototype = user_name_skeleton_by_icu(std::string_view(&c, 1));
            for (const auto p : code_points(to_utf16(prototype))) {
                t.usable = t.usable && u_getCombiningClass(p) == 0;
            }
        }
        return t;
    }();
    return table;
}

}  // namespace

std::string user_name_skeleton_by_icu(std::string_view name) {
    auto& checker = spoof_checker();
    const auto text = to_utf16(name);
    return to_utf8(icu_string(
        text.size() * 2 + 4, "ICU skeleton", [&](UChar* out, int32_t capacity, UErrorCode* status) {
            return uspoof_getSkeleton(&checker, 0, text.data(), static_cast<int32_t>(text.size()),
                                      out, capacity, status);
        }));
}

std::string user_name_skeleton(std::string_view name) {
    const auto printable_ascii = [](char c) { return c >= 0x20 && c < 0x7f; };
    const auto& table = ascii_table();
    if (!table.usable || !std::all_of(name.begin(), name.end(), printable_ascii)) {
        return user_name_skeleton_by_icu(name);
    }
    std::string skeleton;
    skeleton.reserve(name.size());
    for (const char c : name) {
        skeleton += table.of[static_cast<unsigned char>(c)];
    }
    return skeleton;
}

}  // namespace authd
