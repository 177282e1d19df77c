// Passwords for authctl: from a terminal (twice, without echo, the terminal restored on any exit)
// or one line of standard input, read byte by byte into storage that is wiped.
#include <cerrno>
#include <cstring>
#include <iostream>
#include <signal.h>
#include <string>
#include <string_view>
#include <termios.h>
#include <unistd.h>

#include "authctl.hpp"

namespace authctl {

// --- password input ---------------------------------------------------------------------------

namespace {

enum class line_status { ok, end_of_input, too_long };

// Reads up to a newline (not kept) from fd, one byte at a time: no stdio buffer keeps a copy,
// and nothing past the line is consumed. line has room reserved up front, so that it is never
// reallocated (which would leave a copy behind in freed memory).
line_status read_line(int fd, std::string& line, std::size_t limit) {
    line.clear();
    line.reserve(limit + 1);
    for (;;) {
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw command_error(std::string("cannot read standard input: ") + std::strerror(errno));
        }
        if (n == 0) {
            return line.empty() ? line_status::end_of_input : line_status::ok;
        }
        if (c == '\n') {
            return line_status::ok;
        }
        if (line.size() == limit) {
            return line_status::too_long;
        }
        line.push_back(c);
    }
}

// The terminal settings to put back if a signal ends authctl while echo is off.
termios saved_terminal{};
volatile sig_atomic_t echo_is_off = 0;

void restore_terminal_and_die(int signal_number) {
    if (echo_is_off != 0) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
    }
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
}

constexpr int terminal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Turns off echo on the terminal on standard input for its lifetime (and on Ctrl-C too).
class echo_off {
  public:
    echo_off() {
        if (tcgetattr(STDIN_FILENO, &saved_terminal) != 0) {
            throw command_error(std::string("cannot read terminal settings: ") +
                                std::strerror(errno));
        }
        for (const int sig : terminal_signals) {
            ::signal(sig, restore_terminal_and_die);
        }
        termios quiet = saved_terminal;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        echo_is_off = 1;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    ~echo_off() {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
        echo_is_off = 0;
        for (const int sig : terminal_signals) {
            ::signal(sig, SIG_DFL);
        }
    }
    echo_off(const echo_off&) = delete;
    echo_off& operator=(const echo_off&) = delete;
};

// Why no HTTP request can carry password in its Password header, or nullptr. HTTP strips spaces
// and tabs around a field value, and a value holds no control character but an inner tab (RFC
// 9110 section 5.5): such a password could be stored, but it could never log in.
}  // namespace

const char* unsendable_password(std::string_view password) {
    constexpr std::string_view ows = " \t";
    if (!password.empty() && (ows.find(password.front()) != std::string_view::npos ||
                              ows.find(password.back()) != std::string_view::npos)) {
        return "password begins or ends with a space or tab, which HTTP strips: it could never "
               "log in";
    }
    for (const char c : password) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            return "password holds a control character, which no HTTP header can carry: it "
                   "could never log in";
        }
    }
    return nullptr;
}

// One more byte than a password may have, for a '\r' before the newline.
namespace {

constexpr std::size_t password_line_limit = authd::max_password_bytes + 1;

line_status prompt_without_echo(const char* prompt, std::string& line) {
    std::cerr << prompt << std::flush;
    const echo_off quiet;
    const line_status status = read_line(STDIN_FILENO, line, password_line_limit);
    std::cerr << '\n';  // the user's Enter was not echoed
    return status;
}

void check_password(const line_status status, std::string& password) {
    if (status == line_status::end_of_input) {
        throw command_error("no password on standard input");
    }
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    if (status == line_status::too_long || password.size() > authd::max_password_bytes) {
        throw command_error("password refused: longer than " +
                            std::to_string(authd::max_password_bytes) + " bytes");
    }
    if (password.empty()) {
        throw command_error("empty password refused");
    }
    if (const char* problem = unsendable_password(password)) {
        throw command_error(std::string(problem) + "; refused");
    }
}

}  // namespace

void read_password(wiped_string& password) {
    if (::isatty(STDIN_FILENO) == 0) {
        check_password(read_line(STDIN_FILENO, password.value, password_line_limit),
                       password.value);
        return;
    }
    check_password(prompt_without_echo("Password: ", password.value), password.value);
    wiped_string repeated;
    check_password(prompt_without_echo("Repeat password: ", repeated.value), repeated.value);
    if (repeated.value != password.value) {
        throw command_error("the passwords do not match");
    }
}

}  // namespace authctl
