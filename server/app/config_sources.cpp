// Two of the settings' three sources: the environment (AUTHD_ variables) and the config file.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include <boost/program_options.hpp>

#include "app/config_parts.hpp"

namespace authd::server::config_parts {

void parse_environment(const po::options_description& d, po::variables_map& vm,
                       setting_origins& from) {
    std::vector<std::string> unknown;
    auto mapper = [&](const std::string& variable) -> std::string {
        if (!variable.starts_with(env_prefix) || variable.starts_with(env_test_prefix)) {
            return {};
        }
        std::string option = variable.substr(env_prefix.size());
        std::transform(option.begin(), option.end(), option.begin(), [](char ch) {
            return ch == '_' ? '-'
                             : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        });
        // Only the exact spelling: AUTHD_TOKEN_TTL, not AUTHD_token_ttl or AUTHD_TOKEN-TTL.
        if (option.empty() || env_name(option) != variable || command_line_only.contains(option) ||
            d.find_nothrow(option, false) == nullptr) {
            unknown.push_back(variable);
            return {};
        }
        return option;
    };
    const auto parsed = po::parse_environment(d, mapper);
    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        std::string names;
        for (const auto& name : unknown) {
            names += (names.empty() ? "" : ", ") + name;
        }
        throw usage_error(names + ": not an authd setting (see authd --help; AUTHD_TEST_* " +
                          "variables are ignored)");
    }
    for (const auto& o : parsed.options) {
        const auto name = env_name(o.string_key);
        if (o.value.empty() || o.value.front().empty()) {
            throw usage_error(name + ": empty (unset the variable to leave the setting alone)");
        }
        check_value(d, o, name);
    }
    try {
        po::store(parsed, vm);
    } catch (const po::error_with_option_name& e) {
        throw usage_error(env_name(e.get_option_name()) + ": " + e.what());
    }
    for (const auto& o : parsed.options) {
        from.record(o.string_key, setting_origins::source::environment);
    }
}

namespace {

std::string trim(std::string_view text) {
    constexpr std::string_view space = " \t\r\n";
    const auto begin = text.find_first_not_of(space);
    if (begin == std::string_view::npos) {
        return {};
    }
    return std::string(text.substr(begin, text.find_last_not_of(space) - begin + 1));
}

// One NAME = VALUE line of a config file.
struct file_line {
    std::size_t number;
    std::string name;
};

// The NAME = VALUE lines of a config file, checked line by line so that every message has a line
// number (Program_options' own parser, which reads the file after this, gives none). The format is
// Program_options': '#' starts a comment anywhere on a line, blanks around names and values are
// dropped, values are not quoted.
std::vector<file_line> scan_config_file(const po::options_description& d, const std::string& path,
                                        const std::string& text) {
    std::vector<file_line> lines;
    std::map<std::string, std::size_t, std::less<>> seen;
    std::istringstream in(text);
    std::string raw;
    for (std::size_t number = 1; std::getline(in, raw); ++number) {
        const std::string where = path + " line " + std::to_string(number) + ": ";
        const auto line = trim(std::string_view(raw).substr(0, raw.find('#')));
        if (line.empty()) {
            continue;
        }
        if (line.front() == '[') {
            throw usage_error(where + "sections are not used: '" + line + "'");
        }
        const auto equals = line.find('=');
        if (equals == std::string::npos) {
            throw usage_error(where + "expected NAME = VALUE, got '" + line + "'");
        }
        auto name = trim(std::string_view(line).substr(0, equals));
        const auto value = trim(std::string_view(line).substr(equals + 1));
        if (name.starts_with("--")) {
            throw usage_error(where + "write the name without '--': '" + name + "'");
        }
        if (name == "config") {
            throw usage_error(where + "config: a config file cannot name another one");
        }
        if (not_in_file.contains(name) || d.find_nothrow(name, false) == nullptr) {
            throw usage_error(where + "unknown setting '" + name + "' (see authd --help)");
        }
        if (value.empty()) {
            throw usage_error(where + name + ": no value (remove the line for the default)");
        }
        if (const auto [it, inserted] = seen.try_emplace(name, number); !inserted) {
            throw usage_error(where + name + ": set twice (first on line " +
                              std::to_string(it->second) + ")");
        }
        lines.push_back({number, std::move(name)});
    }
    return lines;
}

std::string read_config_file(const std::string& path, const std::string& setting) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw usage_error(setting + ": " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        throw usage_error(setting + ": " + path + ": not a regular file");
    }
    // Whoever can write it decides which key file authd trusts and where it listens.
    if ((st.st_mode & S_IWOTH) != 0) {
        throw usage_error(setting + ": " + path + ": writable by others (run: chmod o-w " + path +
                          ")");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        throw usage_error(setting + ": " + path + ": cannot be read: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

void parse_config_file(const po::options_description& d, const std::string& path,
                       po::variables_map& vm, setting_origins& from) {
    const auto text = read_config_file(path, from.name("config"));
    const auto lines = scan_config_file(d, path, text);
    std::istringstream in(text);
    po::parsed_options parsed(&d);
    try {
        parsed = po::parse_config_file(in, d, /*allow_unregistered=*/false);
    } catch (const po::error& e) {
        throw usage_error(path + ": " + e.what());  // scan_config_file() saw it first
    }
    if (parsed.options.size() != lines.size()) {
        throw usage_error(path + ": cannot be parsed");  // not expected: the same format
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto where = path + " line " + std::to_string(lines[i].number) + ": " + lines[i].name;
        check_value(d, parsed.options[i], where);
    }
    try {
        po::store(parsed, vm);
    } catch (const po::error_with_option_name& e) {
        throw usage_error(path + ": " + e.get_option_name() + ": " + e.what());
    }
    from.set_file(path);
    for (const auto& line : lines) {
        from.record(line.name, setting_origins::source::file, line.number);
    }
}

}  // namespace authd::server::config_parts
