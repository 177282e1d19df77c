// Checking one setting's value where it was given, and converting them all once parsed.
#include <charconv>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/program_options.hpp>

#include "authd/store/store_backend.hpp"
#include "authd/util/units.hpp"

#include "app/config_parts.hpp"
#include "base/log.hpp"

namespace authd::server::config_parts {

namespace {

// Every value given is checked where it was given, also one that another source overrides: a bad
// line in the config file is reported now, not once the variable that hides it is removed.

const std::set<std::string, std::less<>> duration_options{
    "token-ttl",        "idle-timeout",        "request-timeout",   "write-timeout",
    "shutdown-timeout", "hash-queue-timeout",  "hash-call-timeout", "account-max-backoff",
    "account-forgive",  "address-max-backoff", "address-forgive"};

// A duration whose 0 turns its feature off (--known-address-window 0); any other value is a
// duration as parse_duration() reads it, of at least min_known_address_window: a store records a
// known address's last success at most hourly (limit_store.hpp, known_address_refresh), so a
// shorter window could forget the address of an owner who logs in all the time.
std::chrono::seconds parse_window(std::string_view text) {
    if (text == "0" || text == "0s" || text == "0m" || text == "0h" || text == "0d") {
        return std::chrono::seconds(0);
    }
    const auto window = parse_duration(text);
    if (window < min_known_address_window) {
        throw std::invalid_argument("expected 0 (off) or at least 2h, got '" + std::string(text) +
                                    "'");
    }
    return window;
}

// Options whose 0 means nothing useful.
const std::set<std::string, std::less<>> positive_options{
    "max-connections", "max-requests-per-connection", "hash-ops"};

// The largest value of options where more is never meant and would hold authd at start (an
// argon2 hash of the parameters is made then: --hash-ops 1000000 took hours) or make it reserve
// what no machine has (--cache-entries is reserved whole at start, about 30 bytes an entry).
const std::map<std::string, unsigned long long, std::less<>> option_maxima{
    {"hash-ops", max_argon2_ops},
    {"threads", 256},
    {"hash-workers", 256},
    {"cache-entries", 100'000'000},
};

// (--hash-ops and --hash-memory: password_hasher.hpp's bounds, which authctl has too.)

log_level parse_level(const std::string& text) {
    if (text == "debug") {
        return log_level::debug;
    }
    if (text == "info") {
        return log_level::info;
    }
    if (text == "warn") {
        return log_level::warn;
    }
    if (text == "error") {
        return log_level::error;
    }
    throw std::invalid_argument("expected debug, info, warn or error, got '" + text + "'");
}

std::size_t parse_memory(const std::string& text) {
    const auto bytes = parse_size(text);
    // libsodium's crypto_pwhash_argon2id_MEMLIMIT_MIN; its upper limit, far beyond any machine,
    // is left to password_hasher.
    if (bytes < std::size_t{8} * 1024) {
        throw std::invalid_argument("at least 8KiB, got '" + text + "'");
    }
    if (bytes > max_argon2_memory_bytes) {
        throw std::invalid_argument("at most 4GiB, got '" + text + "'");
    }
    return bytes;
}

// Program_options converts numbers with lexical_cast, which takes "-1" for an unsigned option as
// its largest value: integers are checked here first.
template <typename T>
bool holds(const po::value_semantic* semantic) {
    return dynamic_cast<const po::typed_value<T>*>(semantic) != nullptr;
}

template <typename T>
T parse_integer(const std::string& text) {
    T value{};
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        if constexpr (std::is_unsigned_v<T>) {
            throw std::invalid_argument("not a whole number from 0 to " +
                                        std::to_string(std::numeric_limits<T>::max()) + ": '" +
                                        text + "'");
        } else {
            throw std::invalid_argument("not a whole number: '" + text + "'");
        }
    }
    return value;
}

void check_text(const po::value_semantic* semantic, const std::string& option,
                const std::string& text) {
    if (holds<unsigned long>(semantic) || holds<unsigned long long>(semantic)) {
        const auto value = parse_integer<unsigned long long>(text);
        if (value == 0 && positive_options.contains(option)) {
            throw std::invalid_argument("must be at least 1");
        }
        if (const auto max = option_maxima.find(option);
            max != option_maxima.end() && value > max->second) {
            throw std::invalid_argument("at most " + std::to_string(max->second) + ", got '" +
                                        text + "'");
        }
    } else if (holds<unsigned int>(semantic)) {
        parse_integer<unsigned int>(text);
    } else if (holds<int>(semantic)) {
        const auto value = parse_integer<int>(text);
        if (option == "hash-nice" && (value < 0 || value > 19)) {
            throw std::invalid_argument("expected 0 to 19, got '" + text + "'");
        }
    } else if (option == "known-address-window") {
        parse_window(text);
    } else if (duration_options.contains(option)) {
        parse_duration(text);
    } else if (option == "hash-memory") {
        parse_memory(text);
    } else if (option == "log-level") {
        parse_level(text);
    } else if (option == "store") {
        if (auto problem = store_scheme_problem(text); !problem.empty()) {
            throw std::invalid_argument(problem);
        }
    }
}

}  // namespace

// Checks the value of o, a parsed option of d; name is the setting as the operator wrote it.
void check_value(const po::options_description& d, const po::option& o, const std::string& name) {
    const auto* description = d.find_nothrow(o.string_key, false);
    if (description == nullptr || o.value.empty()) {
        return;  // Program_options reports it
    }
    try {
        check_text(description->semantic().get(), o.string_key, o.value.front());
    } catch (const std::invalid_argument& e) {
        throw usage_error(name + ": " + e.what());
    }
}

// Converts what check_value() accepted (the defaults too) into config.
void convert(settings& s, const setting_origins& from) {
    auto& c = s.config;
    const auto& t = s.durations;
    const auto seconds = [](const std::string& text) { return parse_duration(text); };
    c.token_ttl = seconds(t.ttl);
    c.idle_timeout = seconds(t.idle);
    c.request_timeout = seconds(t.request);
    c.write_timeout = seconds(t.write);
    c.shutdown_timeout = seconds(t.shutdown);
    c.hash_queue_timeout = seconds(t.queue_timeout);
    c.hash_call_timeout = seconds(t.call_timeout);
    c.attempts.account.max_backoff = seconds(t.account_max);
    c.attempts.account.forgive_every = seconds(t.account_forgive);
    c.attempts.address.max_backoff = seconds(t.address_max);
    c.attempts.address.forgive_every = seconds(t.address_forgive);
    c.attempts.known_address_window = parse_window(t.known_window);
    c.argon2.memory_bytes = parse_memory(s.memory);
    // Each alone was checked with its value; what is left is the two together (password_hasher's
    // bounds, the same as authctl's).
    if (const char* problem = argon2_params_problem(c.argon2)) {
        throw usage_error(from.name("hash-memory") + " x " + from.name("hash-ops") + ": argon2id " +
                          problem + ", got " + s.memory + " x " + std::to_string(c.argon2.ops));
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) {
        throw usage_error(from.name("tls-cert") + " and " + from.name("tls-key") + " go together");
    }
    c.log = parse_level(s.log_level);
}

}  // namespace authd::server::config_parts
