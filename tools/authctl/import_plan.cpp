// authctl user import FILE: the file read whole into wiped storage, its lines checked and planned
// (name, password) before anything is hashed.
#include "import_plan.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "authd/crypto/password_hasher.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/store/store_backend.hpp"

#include "authctl.hpp"

namespace authctl {

// --- user import ------------------------------------------------------------------------------

// Appends data to out; when out must grow, the old storage is wiped before it is released.
namespace {

void append_wiping(std::string& out, std::string_view data) {
    if (out.size() + data.size() > out.capacity()) {
        std::string bigger;
        bigger.reserve(std::max(out.capacity() * 2, out.size() + data.size()));
        bigger.append(out);
        authd::wipe(out);
        out.swap(bigger);
    }
    out.append(data);
}

}  // namespace

fd_closer::~fd_closer() {
    if (fd != STDIN_FILENO) {
        ::close(fd);
    }
}

// The longest line of an import file: a 256-byte name, a tab, a 1024-byte password and a CR fit
// many times over. Bytes of a line past it are not kept (memory stays bounded by the number of
// lines, whatever the file: /dev/zero, one 300 MB line); plan_import reports the line.
constexpr std::size_t max_import_line_bytes = 4096;

// Reads file ("-": standard input) into content, keeping at most max_import_line_bytes + 1 bytes
// of each line.
void read_whole_file(const std::string& file, std::string& content) {
    const fd_closer in{file == "-" ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        throw command_error("cannot open " + file + ": " + std::strerror(errno));
    }
    wiped_string chunk;
    chunk.value.resize(std::size_t{64} * 1024);
    for (;;) {
        const ssize_t n = ::read(in.fd, chunk.value.data(), chunk.value.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw command_error("cannot read " + file + ": " + std::strerror(errno));
        }
        if (n == 0) {
            return;
        }
        std::string_view data(chunk.value.data(), static_cast<std::size_t>(n));
        while (!data.empty()) {
            const auto newline = data.find('\n');
            const auto part = data.substr(0, newline);
            const auto line_start = content.rfind('\n');
            const std::size_t line_bytes =
                content.size() - (line_start == std::string::npos ? 0 : line_start + 1);
            if (line_bytes <= max_import_line_bytes) {
                append_wiping(content, part.substr(0, max_import_line_bytes + 1 - line_bytes));
            }
            if (newline == std::string_view::npos) {
                break;
            }
            append_wiping(content, "\n");
            data.remove_prefix(newline + 1);
        }
    }
}

// Why a line cannot be imported, or nothing. A name holds no tab, so the first tab ends it and
// the password may hold tabs. The name is stored as RFC 8265's profile gives it.
namespace {

std::string import_line_problem(std::string_view line, import_entry& entry) {
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) {
        return "no tab between name and password";
    }
    entry.password = line.substr(tab + 1);
    if (auto problem = imported_name_problem(line.substr(0, tab), entry.name); !problem.empty()) {
        return problem;
    }
    if (entry.password.empty()) {
        return "empty password";
    }
    if (entry.password.size() > authd::max_password_bytes) {
        return "password longer than 1024 bytes";
    }
    if (const char* problem = unsendable_password(entry.password)) {
        return problem;
    }
    return {};
}

// Reports a skipped line by number and reason only: the line may be a password.
void report_skipped(import_plan& plan, std::size_t line_number, const std::string& why) {
    std::cerr << "authctl: line " << line_number << ": " << why << "; skipped\n";
    ++plan.skipped;
}

}  // namespace

import_plan plan_import(std::string_view content) {
    import_plan plan;
    if (content.starts_with("\xEF\xBB\xBF")) {
        content.remove_prefix(3);  // a UTF-8 byte order mark (Windows tools): not the first name
    }
    std::unordered_map<std::string, std::size_t> first_line;  // name -> line number
    std::size_t line_number = 0;
    while (!content.empty()) {
        const auto newline = content.find('\n');
        std::string_view line = content.substr(0, newline);
        content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
        ++line_number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            continue;
        }
        if (line.size() > max_import_line_bytes) {
            report_skipped(plan, line_number,
                           "longer than " + std::to_string(max_import_line_bytes) + " bytes");
            continue;
        }
        import_entry entry{line_number, {}, {}};
        if (const auto problem = import_line_problem(line, entry); !problem.empty()) {
            report_skipped(plan, line_number, problem);
            continue;
        }
        const auto [first, inserted] = first_line.emplace(entry.name, line_number);
        if (!inserted) {
            report_skipped(plan, line_number,
                           "user " + entry.name + " repeats line " + std::to_string(first->second));
            continue;
        }
        plan.entries.push_back(std::move(entry));
    }
    return plan;
}

namespace {

// Prints "hashed N/TOTAL" about once a second until the workers are done, then once more.
void show_progress(const std::atomic<std::size_t>& done, std::size_t total,
                   const std::atomic<unsigned>& running) {
    using clock = std::chrono::steady_clock;
    auto last = clock::now();
    while (running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (clock::now() - last >= std::chrono::seconds(1)) {
            std::cerr << "authctl: hashed " << done.load() << '/' << total << '\n';
            last = clock::now();
        }
    }
    std::cerr << "authctl: hashed " << done.load() << '/' << total << '\n';
}

}  // namespace

// Hashes every entry's password, on all cores: argon2id is made to be slow.
std::vector<authd::user_record> hash_all(const authd::password_hasher& hasher,
                                         const std::vector<import_entry>& entries) {
    std::vector<authd::user_record> records(entries.size());
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    std::mutex error_mutex;
    std::exception_ptr error;  // the first failure; the other workers then stop
    const unsigned threads = static_cast<unsigned>(
        std::min<std::size_t>(std::max(1U, std::thread::hardware_concurrency()), entries.size()));
    std::atomic<unsigned> running{threads};
    auto work = [&] {
        try {
            for (std::size_t i = next++; i < entries.size(); i = next++) {
                records[i].name = entries[i].name;
                records[i].phc = hasher.hash(entries[i].password);
                ++done;
            }
        } catch (...) {
            const std::lock_guard lock(error_mutex);
            error = error ? error : std::current_exception();
            next = entries.size();
        }
        --running;
    };
    std::vector<std::jthread> workers;
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back(work);
    }
    show_progress(done, entries.size(), running);
    workers.clear();  // joins
    if (error) {
        std::rethrow_exception(error);
    }
    return records;
}

}  // namespace authctl
