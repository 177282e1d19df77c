// authd's settings, from the command line, the environment (AUTHD_...) and an optional config
// file (docs/configuration.md).
//
// One precedence: command line > environment > config file > defaults. Program_options gives it
// for free: po::store() never replaces a value stored before (only a default), so the three sources
// are stored in that order. Every message about a bad value names the setting the way the operator
// wrote it: --idle-timeout, AUTHD_IDLE_TIMEOUT or "/etc/authd/authd.conf line 3: idle-timeout".
// Every default is server_config's (config.hpp): --help and docs/configuration.md show them.
#include "app/config.hpp"

#include <cctype>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "app/config_parts.hpp"

namespace authd::server {

namespace po = boost::program_options;

using namespace config_parts;

std::string env_name(std::string_view option) {
    std::string name(env_prefix);
    for (const char ch : option) {
        name += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return name;
}

std::string setting_origins::name(const std::string& option) const {
    const auto it = where_.find(option);
    if (it == where_.end() || it->second.from == source::command_line) {
        return "--" + option;
    }
    if (it->second.from == source::environment) {
        return env_name(option);
    }
    return file_ + " line " + std::to_string(it->second.line) + ": " + option;
}

std::optional<server_config> parse_config(int argc, char** argv, setting_origins& from,
                                          std::ostream& help) {
    settings s;
    const auto d = describe(s);
    po::variables_map vm;

    // 1. The command line (Program_options' messages name the option: --threads).
    const po::positional_options_description no_positional;
    // Without Program_options' guessing: an abbreviation (--sto, --token) is an unknown flag, as
    // docs/configuration.md says, not the one setting it happens to begin.
    const auto command_line =
        po::command_line_parser(argc, argv)
            .options(d)
            .positional(no_positional)  // a word that is no flag: "too many positional options"
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run();
    for (const auto& o : command_line.options) {
        if (o.string_key == "help") {
            help << d << '\n' << help_epilogue << '\n';
            return std::nullopt;
        }
    }
    for (const auto& o : command_line.options) {
        check_value(d, o, "--" + o.string_key);
    }
    po::store(command_line, vm);
    for (const auto& o : command_line.options) {
        from.record(o.string_key, setting_origins::source::command_line);
    }

    // 2. The environment: AUTHD_ variables, including AUTHD_CONFIG.
    parse_environment(d, vm, from);

    // 3. The config file named by either.
    if (vm.count("config") != 0) {
        const auto path = vm["config"].as<std::string>();
        if (path.empty()) {
            throw usage_error(from.name("config") + ": empty path");
        }
        parse_config_file(d, path, vm, from);
    }

    try {
        po::notify(vm);
    } catch (const po::required_option& e) {
        const auto option = e.get_option_name().substr(e.get_option_name().find_first_not_of('-'));
        throw usage_error(std::string(e.what()) + " (give --" + option + ", " + env_name(option) +
                          " or '" + option + " = ...' in the --config file)");
    }
    convert(s, from);
    return s.config;
}

// A start-up message that names an option ("--listen: ..."), spelled as the operator set it.
std::string respell(const setting_origins& from, const std::string& message) {
    if (!message.starts_with("--")) {
        return message;
    }
    const auto end = message.find_first_of(": ");
    const auto option = message.substr(2, end == std::string::npos ? end : end - 2);
    return from.name(option) + message.substr(2 + option.size());
}

connection_options connection_settings(const server_config& config) {
    connection_options options;
    options.limits = config.limits;
    options.max_requests_per_connection = config.max_requests_per_connection;
    options.idle_timeout = config.idle_timeout;
    options.request_timeout = config.request_timeout;
    options.write_timeout = config.write_timeout;
    return options;
}

}  // namespace authd::server
