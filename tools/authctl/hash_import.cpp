#include "hash_import.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string_view>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "authctl.hpp"

namespace authctl {

namespace {

// Reads fd in chunks and hands each to fn; throws import_error on a read error. A UTF-8 byte
// order mark at the very start (which Windows tools write) is not handed on: it would become part
// of the first user's name (or make a Keycloak export "not JSON").
template <typename Fn>
void read_chunks(int fd, Fn fn) {
    static constexpr std::string_view bom = "\xEF\xBB\xBF";
    std::size_t bom_matched = 0;  // bytes of the stream's start that match the mark so far
    bool start_decided = false;
    std::string chunk(std::size_t{256} * 1024, '\0');
    for (;;) {
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw import_error(std::string("cannot read the input: ") + std::strerror(errno));
        }
        if (n == 0) {
            if (!start_decided && bom_matched > 0) {
                fn(bom.substr(0, bom_matched));  // the input was a piece of a mark: data
            }
            return;
        }
        std::string_view data(chunk.data(), static_cast<std::size_t>(n));
        while (!start_decided && !data.empty()) {
            if (data.front() != bom[bom_matched]) {
                start_decided = true;
                if (bom_matched > 0) {
                    fn(bom.substr(0, bom_matched));  // not a mark after all: data
                }
            } else {
                data.remove_prefix(1);
                start_decided = ++bom_matched == bom.size();
            }
        }
        if (!data.empty()) {
            fn(data);
        }
    }
}

// Collects users and writes them a batch (one transaction) at a time. A name twice in one batch
// is counted as existing, as one in an earlier batch (or the store) is.
class batch_writer {
  public:
    batch_writer(authd::user_store& store, const hash_import_options& opts)
        : store_(store), opts_(opts), lookalikes_(store), last_progress_(clock::now()) {
        users_.reserve(opts.batch);
    }

    // where: "line 12" or "user alice", for the report.
    void add(const std::string& where, std::string_view name, std::string hash) {
        std::string stored;
        if (auto problem = imported_name_problem(name, stored); !problem.empty()) {
            skip(where, problem);
            return;
        }
        if (auto problem = authd::import_problem(hash, opts_.limits); !problem.empty()) {
            skip(where, problem);
            return;
        }
        if (!names_.emplace(stored).second) {
            ++counts_.existed;
            return;
        }
        if (const auto* other = lookalikes_.check(stored)) {
            end_progress_line();
            warn_lookalike(stored, *other);
        }
        users_.push_back(authd::user_record{std::move(stored), std::move(hash)});
        if (users_.size() >= opts_.batch) {
            flush();
        }
    }

    // Reports by line or user and reason only: never a hash.
    void skip(const std::string& where, std::string_view why) {
        end_progress_line();
        std::cerr << "authctl: " << where << ": " << why << "; skipped\n";
        ++counts_.skipped;
    }

    import_counts finish() {
        flush();
        end_progress_line();
        return counts_;
    }

  private:
    using clock = std::chrono::steady_clock;

    void flush() {
        if (users_.empty()) {
            return;
        }
        const std::size_t added = store_.add_users(users_);
        counts_.added += added;
        counts_.existed += users_.size() - added;
        users_.clear();
        names_.clear();
        if (opts_.progress && clock::now() - last_progress_ >= std::chrono::seconds(1)) {
            std::cerr << "\rauthctl: imported " << counts_.added << ", skipped " << counts_.skipped
                      << std::flush;
            last_progress_ = clock::now();
            progress_line_open_ = true;
        }
    }

    void end_progress_line() {
        if (progress_line_open_) {
            std::cerr << '\n';
            progress_line_open_ = false;
        }
    }

    authd::user_store& store_;
    const hash_import_options& opts_;
    std::vector<authd::user_record> users_;
    std::unordered_set<std::string> names_;  // this batch's
    lookalike_names lookalikes_;             // the store's names and those added since
    import_counts counts_;
    clock::time_point last_progress_;
    bool progress_line_open_ = false;  // a "\rimported N" line without its newline yet
};

constexpr std::size_t max_line_bytes = 4096;

}  // namespace

import_counts import_hash_lines(authd::user_store& store, int fd, const hash_import_options& opts) {
    batch_writer writer(store, opts);
    std::string line;
    std::size_t number = 0;
    bool too_long = false;
    auto end_line = [&] {
        ++number;
        std::string_view text(line);
        if (!text.empty() && text.back() == '\r') {
            text.remove_suffix(1);
        }
        const std::string where = "line " + std::to_string(number);
        if (too_long) {
            writer.skip(where, "longer than " + std::to_string(max_line_bytes) + " bytes");
        } else if (!text.empty()) {
            const auto tab = text.find('\t');
            if (tab == std::string_view::npos) {
                writer.skip(where, "no tab between name and hash");
            } else {
                writer.add(where, text.substr(0, tab), std::string(text.substr(tab + 1)));
            }
        }
        line.clear();
        too_long = false;
    };
    read_chunks(fd, [&](std::string_view chunk) {
        while (!chunk.empty()) {
            const auto newline = chunk.find('\n');
            const auto part = chunk.substr(0, newline);
            if (!too_long && line.size() + part.size() <= max_line_bytes) {
                line.append(part);
            } else {
                too_long = true;
            }
            if (newline == std::string_view::npos) {
                return;
            }
            end_line();
            chunk.remove_prefix(newline + 1);
        }
    });
    if (!line.empty() || too_long) {
        end_line();
    }
    return writer.finish();
}

// --- Keycloak -------------------------------------------------------------------------------

namespace {

namespace json = boost::json;

std::string field(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->get_string());
    }
    if (v->is_int64()) {
        return std::to_string(v->get_int64());
    }
    if (v->is_array() && !v->get_array().empty() && v->get_array()[0].is_string()) {
        return std::string(v->get_array()[0].get_string());  // additionalParameters: ["32"]
    }
    return {};
}

// Standard base64 to passlib's adapted base64 (no padding, '.' for '+'), and to unpadded.
std::string unpadded(std::string b64, bool adapted) {
    while (!b64.empty() && b64.back() == '=') {
        b64.pop_back();
    }
    if (adapted) {
        for (char& c : b64) {
            c = c == '+' ? '.' : c;
        }
    }
    return b64;
}

// The hash string authd verifies for one Keycloak password credential, or why there is none.
std::string keycloak_hash(std::string_view secret_data, std::string_view credential_data,
                          std::string& problem) {
    json::error_code ec;
    const auto secret = json::parse(secret_data, ec);
    const auto credential = ec ? json::value() : json::parse(credential_data, ec);
    if (ec || !secret.is_object() || !credential.is_object()) {
        problem = "secretData or credentialData is not a JSON object";
        return {};
    }
    const auto& s = secret.get_object();
    const auto& c = credential.get_object();
    const std::string algorithm = field(c, "algorithm");
    const std::string iterations = field(c, "hashIterations");
    const std::string salt = field(s, "salt");
    const std::string value = field(s, "value");
    if (salt.empty() || value.empty() || iterations.empty()) {
        problem = "credential without salt, value or hashIterations";
        return {};
    }
    if (algorithm == "pbkdf2-sha256" || algorithm == "pbkdf2-sha512" || algorithm == "pbkdf2") {
        const std::string prefix = algorithm == "pbkdf2" ? "$pbkdf2$" : "$" + algorithm + "$";
        return prefix + iterations + "$" + unpadded(salt, true) + "$" + unpadded(value, true);
    }
    if (algorithm == "argon2") {
        const auto* extra = c.if_contains("additionalParameters");
        const json::object none;
        const auto& p = extra != nullptr && extra->is_object() ? extra->get_object() : none;
        const std::string type = p.contains("type") ? field(p, "type") : "id";
        const std::string version = p.contains("version") ? field(p, "version") : "1.3";
        const std::string memory = p.contains("memory") ? field(p, "memory") : "7168";
        const std::string lanes = p.contains("parallelism") ? field(p, "parallelism") : "1";
        if ((type != "id" && type != "i") || version != "1.3") {
            problem = "argon2 credential of type " + type + ", version " + version +
                      " (argon2id and argon2i 1.3 only)";
            return {};
        }
        return "$argon2" + type + "$v=19$m=" + memory + ",t=" + iterations + ",p=" + lanes + "$" +
               unpadded(salt, false) + "$" + unpadded(value, false);
    }
    problem = "credential algorithm '" + algorithm + "' is not supported";
    return {};
}

// Boost.JSON's push parser: only the users' names and password credentials are kept, one user
// at a time, so memory does not grow with the export.
class keycloak_handler {
  public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = 4096;
    static constexpr std::size_t max_string_size = std::size_t{64} * 1024;

    keycloak_handler(batch_writer& writer, bool allow_password_only)
        : writer_(writer), allow_password_only_(allow_password_only) {}

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code&) { return open(false); }
    bool on_object_end(std::size_t, json::error_code&) {
        if (at_credential()) {
            if (!type_.empty() && type_ != "password" && type_ != "password-history" &&
                other_credentials_.find(type_) == std::string::npos) {
                // otp, webauthn, webauthn-passwordless, recovery-authn-codes, a custom
                // authenticator's: a factor authd cannot ask for (yet). Old passwords (a password
                // policy's history) are none.
                other_credentials_ += (other_credentials_.empty() ? "" : ", ") + type_;
            }
            if (type_ == "password" && !have_password_) {
                have_password_ = true;
                if (pending_secret_.empty() && old_form_.contains("hashedSaltedValue")) {
                    // Keycloak before 11: the hash's fields in the credential itself.
                    json::object secret;
                    secret["value"] = old_form_["hashedSaltedValue"];
                    secret["salt"] = old_form_.contains("salt") ? old_form_["salt"] : "";
                    json::object data;
                    data["algorithm"] =
                        old_form_.contains("algorithm") ? old_form_["algorithm"] : "pbkdf2-sha256";
                    data["hashIterations"] =
                        old_form_.contains("hashIterations") ? old_form_["hashIterations"] : 0;
                    pending_secret_ = json::serialize(secret);
                    pending_credential_ = json::serialize(data);
                }
                secret_ = std::move(pending_secret_);
                credential_ = std::move(pending_credential_);
            }
            type_.clear();
            pending_secret_.clear();
            pending_credential_.clear();
            old_form_.clear();
        } else if (at_user()) {
            end_user();
        }
        frames_.pop_back();
        return true;
    }
    bool on_array_begin(json::error_code&) { return open(true); }
    bool on_array_end(std::size_t, json::error_code&) {
        frames_.pop_back();
        return true;
    }
    bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
        key_.append(part.data(), part.size());
        return true;
    }
    bool on_key(json::string_view part, std::size_t, json::error_code&) {
        key_.append(part.data(), part.size());
        return true;
    }
    bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
        text_.append(part.data(), part.size());
        return true;
    }
    bool on_string(json::string_view part, std::size_t, json::error_code&) {
        text_.append(part.data(), part.size());
        if (at_user() && key_ == "username") {
            username_ = text_;
        } else if (at_required_actions()) {
            required_actions_ += (required_actions_.empty() ? "" : ", ") + text_;
        } else if (at_credential()) {
            if (key_ == "type") {
                type_ = text_;
            } else if (key_ == "secretData") {
                pending_secret_ = text_;
            } else if (key_ == "credentialData") {
                pending_credential_ = text_;
            } else if (key_ == "hashedSaltedValue" || key_ == "salt" || key_ == "algorithm") {
                old_form_[key_] = text_;
            }
        }
        text_.clear();
        key_.clear();
        return true;
    }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t value, json::string_view, json::error_code&) {
        if (at_credential() && key_ == "hashIterations") {
            old_form_["hashIterations"] = value;
        }
        return scalar();
    }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return scalar(); }
    bool on_double(double, json::string_view, json::error_code&) { return scalar(); }
    bool on_bool(bool value, json::error_code&) {
        if (at_user() && key_ == "enabled" && !value) {
            disabled_ = true;
        }
        return scalar();
    }
    bool on_null(json::error_code&) { return scalar(); }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

    std::size_t users_seen() const noexcept { return users_; }
    std::size_t without_password() const noexcept { return without_password_; }
    std::size_t disabled() const noexcept { return disabled_users_; }

  private:
    struct frame {
        bool array;
        std::string key;  // the key it is the value of in its parent object
    };

    bool open(bool array) {
        frames_.push_back(frame{array, std::move(key_)});
        key_.clear();
        return true;
    }
    bool scalar() {
        key_.clear();
        return true;
    }
    // root object > "users" array > a user object
    bool at_user() const {
        return frames_.size() == 3 && !frames_[0].array && frames_[1].array &&
               frames_[1].key == "users" && !frames_[2].array;
    }
    // ... > the user's "requiredActions" array (of strings)
    bool at_required_actions() const {
        return frames_.size() == 4 && !frames_[0].array && frames_[1].array &&
               frames_[1].key == "users" && !frames_[2].array && frames_[3].array &&
               frames_[3].key == "requiredActions";
    }
    // ... > the user's "credentials" array > a credential object
    bool at_credential() const {
        return frames_.size() == 5 && !frames_[0].array && frames_[1].array &&
               frames_[1].key == "users" && !frames_[2].array && frames_[3].array &&
               frames_[3].key == "credentials" && !frames_[4].array;
    }

    void end_user() {
        ++users_;
        const std::string where = username_.empty()
                                      ? "user #" + std::to_string(users_)
                                      : "user " + authd::printable_user_name(username_);
        if (username_.empty()) {
            writer_.skip(where, "no username");
        } else if (disabled_) {
            ++disabled_users_;  // off in Keycloak: imported, it would log in here
        } else if (!have_password_) {
            ++without_password_;  // a service account, a federated user: nothing to keep
        } else if (!allow_password_only_ && !other_credentials_.empty()) {
            // Imported, the account would log in with its password alone.
            writer_.skip(where, "has a second factor authd does not carry over (" +
                                    other_credentials_ +
                                    "): refused, or import it as a password-only account "
                                    "with --allow-password-only");
        } else if (!allow_password_only_ && !required_actions_.empty()) {
            writer_.skip(where, "has a required action pending in Keycloak (" + required_actions_ +
                                    ") that authd cannot ask for: refused, or import it as it is "
                                    "with --allow-password-only");
        } else {
            std::string problem;
            std::string hash = keycloak_hash(secret_, credential_, problem);
            if (hash.empty()) {
                writer_.skip(where, problem);
            } else {
                writer_.add(where, username_, std::move(hash));
            }
        }
        username_.clear();
        secret_.clear();
        credential_.clear();
        have_password_ = false;
        disabled_ = false;
        other_credentials_.clear();
        required_actions_.clear();
    }

    batch_writer& writer_;
    const bool allow_password_only_;
    std::vector<frame> frames_;
    std::string key_;
    std::string text_;
    std::string username_;
    std::string type_;
    std::string pending_secret_;
    std::string pending_credential_;
    json::object old_form_;  // a credential's hashedSaltedValue, salt, algorithm, hashIterations
    std::string secret_;
    std::string credential_;
    bool have_password_ = false;
    std::size_t users_ = 0;
    std::size_t without_password_ = 0;
    bool disabled_ = false;          // this user's "enabled": false
    std::string other_credentials_;  // this user's credential types but "password", listed
    std::string required_actions_;   // this user's requiredActions, listed
    std::size_t disabled_users_ = 0;
};

}  // namespace

import_counts import_keycloak(authd::user_store& store, int fd, const hash_import_options& opts) {
    batch_writer writer(store, opts);
    json::basic_parser<keycloak_handler> parser(json::parse_options{}, writer,
                                                opts.allow_password_only);
    json::error_code ec;
    read_chunks(fd, [&](std::string_view chunk) {
        parser.write_some(true, chunk.data(), chunk.size(), ec);
        if (ec) {
            throw import_error("not a Keycloak export: " + ec.message());
        }
    });
    parser.write_some(false, nullptr, 0, ec);
    if (ec) {
        throw import_error("not a Keycloak export: " + ec.message());
    }
    if (parser.handler().users_seen() == 0) {
        std::cerr << "authctl: warning: no users in the export (no top-level \"users\" array)\n";
    }
    auto counts = writer.finish();
    counts.without_password = parser.handler().without_password();
    counts.disabled = parser.handler().disabled();
    return counts;
}

std::size_t list_legacy_users(authd::user_store& store, std::ostream& out) {
    std::vector<std::string> names;
    store.for_each_name([&](std::string_view name) { names.emplace_back(name); });
    std::size_t legacy = 0;
    for (const auto& name : names) {
        const auto hash = store.find_hash(name);
        if (!hash || authd::is_native_argon2id(*hash)) {
            continue;
        }
        std::string problem;
        const auto parsed = authd::parse_hash(*hash, problem);
        out << name << '\t'
            << (parsed ? authd::hash_format_name(parsed->format) : std::string_view("unknown"))
            << '\n';
        ++legacy;
    }
    return legacy;
}

}  // namespace authctl
