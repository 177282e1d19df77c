// The parts of parsing authd's settings (config.cpp), private to server/app: what the options
// are (config_options.cpp), how one value is checked and all of them converted
// (config_values.cpp), and the environment and the config file as sources (config_sources.cpp).
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "authd/util/units.hpp"

#include "app/config.hpp"

namespace authd::server::config_parts {

namespace po = boost::program_options;

// Environment variables: AUTHD_ and the option's name in capitals, '-' written '_'. Variables
// starting with AUTHD_TEST_ belong to the test suite (AUTHD_TEST_PG_URI, ...) and are ignored.
inline constexpr std::string_view env_prefix = "AUTHD_";
inline constexpr std::string_view env_test_prefix = "AUTHD_TEST_";

// Options that are not settings: the command line only.
inline const std::set<std::string, std::less<>> command_line_only{"help"};
// A config file cannot name another one.
inline const std::set<std::string, std::less<>> not_in_file{"help", "config"};

inline std::string text_of(std::chrono::milliseconds d) {
    return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

// Durations are taken as text ("30m") and converted after parsing; their defaults are the
// config's, written as an operator would.
struct duration_texts {
    explicit duration_texts(const server_config& c)
        : ttl(format_duration(c.token_ttl)),
          idle(text_of(c.idle_timeout)),
          request(text_of(c.request_timeout)),
          write(text_of(c.write_timeout)),
          shutdown(text_of(c.shutdown_timeout)),
          queue_timeout(text_of(c.hash_queue_timeout)),
          call_timeout(text_of(c.hash_call_timeout)),
          account_max(format_duration(c.attempts.account.max_backoff)),
          account_forgive(format_duration(c.attempts.account.forgive_every)),
          address_max(format_duration(c.attempts.address.max_backoff)),
          address_forgive(format_duration(c.attempts.address.forgive_every)),
          known_window(format_duration(c.attempts.known_address_window)) {}
    std::string ttl, idle, request, write, shutdown, queue_timeout, call_timeout, account_max,
        account_forgive, address_max, address_forgive, known_window;
};

struct settings {
    server_config config;
    duration_texts durations{config};
    std::string memory = format_size(config.argon2.memory_bytes);
    std::string log_level{level_name(config.log)};
    std::string config_file;
};

// Every option, with its default (config_options.cpp).
po::options_description describe(settings& s);
extern const std::string_view help_epilogue;

// Checks the value of o, a parsed option of d; name is the setting as the operator wrote it.
// Throws usage_error naming it (config_values.cpp).
void check_value(const po::options_description& d, const po::option& o, const std::string& name);
// Converts what check_value() accepted (the defaults too) into s.config (config_values.cpp).
void convert(settings& s, const setting_origins& from);

// The environment's AUTHD_ variables, and the config file at path, stored into vm (after the
// command line, so that it wins) (config_sources.cpp).
void parse_environment(const po::options_description& d, po::variables_map& vm,
                       setting_origins& from);
void parse_config_file(const po::options_description& d, const std::string& path,
                       po::variables_map& vm, setting_origins& from);

}  // namespace authd::server::config_parts
