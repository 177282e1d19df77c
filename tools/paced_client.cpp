// authd_paced_client: sends HTTP/1.1 requests on a fixed schedule and measures each request's
// latency from the time it was *scheduled* to go out, not from the time it went out. A client
// that waits for a slow answer before sending the next request would otherwise leave out exactly
// the requests that a stalled server delays ("coordinated omission"): here a stall is charged to
// every request scheduled during it.
//
// Requests are spread over --connections keep-alive connections: connection k sends its i-th
// request at start + (k + i * connections) * interval, so together they offer one request per
// interval. A connection that is still waiting for an answer at its next slot sends late, and the
// delay counts. At the end it prints one JSON line: counts, statuses and latency percentiles
// (of every answer, or with --expect-status only of the answers with that status, so that fast
// refusals such as 503 do not flatter the percentiles; the others are counted as "unexpected").
//
// Used by bench/load/run.sh (bench/load/README.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/program_options.hpp>

namespace {

namespace asio = boost::asio;
namespace po = boost::program_options;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr int exit_usage = 2;
constexpr int exit_failed = 1;
// A response head larger than this is treated as an error rather than buffered without bound.
constexpr std::size_t max_head_bytes = std::size_t{64} * 1024;

struct options {
    std::string host = "127.0.0.1";
    std::string port;
    std::string path = "/login";
    std::string method = "GET";
    std::vector<std::string> headers;
    double interval_ms = 5.0;
    double duration_s = 10.0;
    double grace_s = 5.0;
    std::size_t connections = 1;
    int expect_status = 0;  // 0: every answer counts in the percentiles
};

// What all connections observed; the client runs on one thread, so no locking.
struct results {
    std::vector<std::int64_t> latencies_us;  // completed requests and, at the end, unfinished ones
    std::map<int, std::size_t> statuses;
    std::size_t scheduled = 0;   // slots before the end of the run
    std::size_t completed = 0;   // answered with a complete response
    std::size_t unexpected = 0;  // of those, answered with another status than --expect-status
    std::size_t errors = 0;      // connect, write or read failures, malformed responses
    std::size_t incomplete = 0;  // scheduled but not answered by the end of the grace period
    std::size_t reconnects = 0;
};

struct run_clock {
    clock_type::time_point start;
    clock_type::time_point end;       // no slot is scheduled at or after this
    clock_type::time_point deadline;  // end + grace: whatever is unanswered then is incomplete
    clock_type::duration interval;
    std::size_t connections;
};

struct response_head {
    int status = 0;
    std::size_t content_length = 0;
    bool close = false;
};

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// Parses "HTTP/1.x NNN reason\r\n" and the headers authd's answers need (Content-Length,
// Connection); nullopt when the head is not a valid HTTP/1.x response head.
std::optional<response_head> parse_head(std::string_view head) {
    response_head out;
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") {
        return std::nullopt;
    }
    const std::string_view code = status_line.substr(9, 3);
    if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    out.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    out.close = status_line.substr(0, 8) == "HTTP/1.0";
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        auto end = head.find("\r\n", pos);
        if (end == std::string_view::npos) {
            end = head.size();
        }
        const std::string_view line = head.substr(pos, end - pos);
        pos = end + 2;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const std::string name = lower(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        if (name == "content-length") {
            try {
                out.content_length = std::stoul(std::string(value));
            } catch (const std::exception&) {
                return std::nullopt;
            }
        } else if (name == "connection") {
            const std::string v = lower(value);
            out.close = v == "close" ? true : (v == "keep-alive" ? false : out.close);
        }
    }
    return out;
}

std::int64_t micros(clock_type::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// One keep-alive connection working through its share of the schedule.
class paced_connection {
  public:
    paced_connection(asio::io_context& io, const tcp::resolver::results_type& endpoints,
                     const std::string& request, const run_clock& when, std::size_t index,
                     int expect_status, results& out)
        : socket_(io),
          timer_(io),
          endpoints_(endpoints),
          request_(request),
          when_(when),
          index_(index),
          expect_status_(expect_status),
          out_(out) {}

    // The connection is opened before the run starts, so that the first slots do not pay for it.
    asio::awaitable<void> open() { co_await connect(); }

    asio::awaitable<void> run() {
        for (std::size_t i = 0;; ++i) {
            const auto scheduled = slot(i);
            if (scheduled >= when_.end) {
                break;
            }
            ++out_.scheduled;
            next_slot_ = i;
            if (clock_type::now() < scheduled) {
                timer_.expires_at(scheduled);
                co_await timer_.async_wait(use_tuple);
            }
            if (stopped_) {
                break;
            }
            const int status = co_await exchange();
            if (stopped_) {
                break;  // the unanswered slot is counted by stop()
            }
            if (status == 0) {
                ++out_.errors;
            } else {
                ++out_.completed;
                ++out_.statuses[status];
                if (expect_status_ == 0 || status == expect_status_) {
                    out_.latencies_us.push_back(micros(clock_type::now() - scheduled));
                } else {
                    ++out_.unexpected;
                }
            }
            next_slot_ = i + 1;
        }
        finished_ = true;
    }

    // At the deadline: abandons the request in flight; it and the slots this connection did not
    // get to are counted as incomplete, with the time they had waited so far as their latency (a
    // lower bound, which is what keeps a stall in the percentiles).
    void stop(clock_type::time_point now) {
        if (finished_) {
            return;
        }
        stopped_ = true;
        for (std::size_t i = next_slot_;; ++i) {
            const auto scheduled = slot(i);
            if (scheduled >= when_.end) {
                break;
            }
            if (i != next_slot_) {
                ++out_.scheduled;  // never reached by run()
            }
            ++out_.incomplete;
            out_.latencies_us.push_back(micros(now - std::min(now, scheduled)));
        }
        error_code ignored;
        timer_.cancel();
        socket_.close(ignored);
    }

  private:
    clock_type::time_point slot(std::size_t i) const {
        return when_.start + when_.interval * static_cast<std::int64_t>(index_) +
               when_.interval * static_cast<std::int64_t>(i * when_.connections);
    }

    asio::awaitable<bool> connect() {
        error_code ignored;
        socket_.close(ignored);
        auto [ec, endpoint] = co_await asio::async_connect(socket_, endpoints_, use_tuple);
        if (ec) {
            socket_.close(ignored);  // so that the next slot tries to connect again
            co_return false;
        }
        socket_.set_option(tcp::no_delay(true), ignored);
        buffer_.clear();
        co_return true;
    }

    // Sends the request and reads the whole response: its status, or 0 on any failure (the
    // connection is then closed and the next request opens a new one).
    asio::awaitable<int> exchange() {
        if (!socket_.is_open()) {
            ++out_.reconnects;
            if (!co_await connect() || stopped_) {
                co_return 0;
            }
        }
        auto [write_ec, written] =
            co_await asio::async_write(socket_, asio::buffer(request_), use_tuple);
        if (write_ec) {
            co_return fail();
        }
        auto [head_ec, head_bytes] = co_await asio::async_read_until(
            socket_, asio::dynamic_buffer(buffer_, max_head_bytes), "\r\n\r\n", use_tuple);
        if (head_ec) {
            co_return fail();
        }
        const auto head = parse_head(std::string_view(buffer_).substr(0, head_bytes));
        if (!head) {
            co_return fail();
        }
        const std::size_t total = head_bytes + head->content_length;
        if (buffer_.size() < total) {
            auto [body_ec, body_bytes] = co_await asio::async_read(
                socket_, asio::dynamic_buffer(buffer_),
                asio::transfer_exactly(total - buffer_.size()), use_tuple);
            if (body_ec) {
                co_return fail();
            }
        }
        buffer_.erase(0, total);
        if (head->close) {
            error_code ignored;
            socket_.close(ignored);
        }
        co_return head->status;
    }

    int fail() {
        error_code ignored;
        socket_.close(ignored);
        return 0;
    }

    tcp::socket socket_;
    asio::steady_timer timer_;
    const tcp::resolver::results_type& endpoints_;
    const std::string& request_;
    const run_clock& when_;
    std::size_t index_;
    int expect_status_;
    results& out_;
    std::string buffer_;
    std::size_t next_slot_ = 0;
    bool stopped_ = false;
    bool finished_ = false;
};

std::string build_request(const options& opts) {
    std::string request = opts.method + " " + opts.path + " HTTP/1.1\r\nHost: " + opts.host + ":" +
                          opts.port + "\r\n";
    for (const auto& header : opts.headers) {
        request += header;
        request += "\r\n";
    }
    request += "\r\n";
    return request;
}

// Nearest-rank percentile of sorted values, in milliseconds.
double percentile_ms(const std::vector<std::int64_t>& sorted, double p) {
    if (sorted.empty()) {
        return 0.0;
    }
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) /
           1000.0;
}

std::string to_json(const options& opts, results& r, double elapsed_s) {
    std::sort(r.latencies_us.begin(), r.latencies_us.end());
    double sum = 0;
    for (const auto v : r.latencies_us) {
        sum += static_cast<double>(v);
    }
    const double mean_ms =
        r.latencies_us.empty() ? 0.0 : sum / static_cast<double>(r.latencies_us.size()) / 1000.0;
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(3);
    out << "{\"connections\":" << opts.connections << ",\"interval_ms\":" << opts.interval_ms
        << ",\"offered_per_s\":" << 1000.0 / opts.interval_ms
        << ",\"duration_s\":" << opts.duration_s << ",\"scheduled\":" << r.scheduled
        << ",\"count\":" << r.completed << ",\"errors\":" << r.errors
        << ",\"unexpected\":" << r.unexpected << ",\"incomplete\":" << r.incomplete
        << ",\"reconnects\":" << r.reconnects << ",\"achieved_per_s\":"
        << (elapsed_s > 0 ? static_cast<double>(r.completed) / elapsed_s : 0.0) << ",\"status\":{";
    bool first = true;
    for (const auto& [status, count] : r.statuses) {
        out << (first ? "" : ",") << '"' << status << "\":" << count;
        first = false;
    }
    out << "},\"latency_ms\":{\"p50\":" << percentile_ms(r.latencies_us, 50)
        << ",\"p90\":" << percentile_ms(r.latencies_us, 90)
        << ",\"p99\":" << percentile_ms(r.latencies_us, 99)
        << ",\"p99.9\":" << percentile_ms(r.latencies_us, 99.9) << ",\"max\":"
        << (r.latencies_us.empty() ? 0.0 : static_cast<double>(r.latencies_us.back()) / 1000.0)
        << ",\"mean\":" << mean_ms << "}}";
    return out.str();
}

std::optional<options> parse_command_line(int argc, char** argv) {
    options opts;
    po::options_description desc(
        "authd_paced_client: requests at a fixed rate, latency measured from each request's "
        "scheduled send time; prints one JSON line\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "print this help and exit")
        ("host", po::value(&opts.host)->default_value(opts.host), "server address")
        ("port", po::value(&opts.port)->required(), "server port")
        ("path", po::value(&opts.path)->default_value(opts.path), "request target")
        ("method", po::value(&opts.method)->default_value(opts.method), "request method")
        ("header", po::value(&opts.headers)->composing(),
            "extra header line 'Name: value' (repeatable)")
        ("interval-ms", po::value(&opts.interval_ms)->default_value(opts.interval_ms),
            "time between two requests, all connections together (offered rate = 1000/interval)")
        ("duration-s", po::value(&opts.duration_s)->default_value(opts.duration_s),
            "how long requests are scheduled")
        ("connections", po::value(&opts.connections)->default_value(opts.connections),
            "keep-alive connections sharing the schedule round-robin")
        ("grace-s", po::value(&opts.grace_s)->default_value(opts.grace_s),
            "after the last slot, how long to wait for answers before counting them incomplete")
        ("expect-status", po::value(&opts.expect_status)->default_value(opts.expect_status),
            "only answers with this HTTP status count in the latency percentiles (the others in "
            "\"unexpected\"); 0: all answers");
    // clang-format on
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help") != 0) {
        std::cout << desc << '\n';
        return std::nullopt;
    }
    po::notify(vm);
    if (!(opts.interval_ms > 0) || !(opts.duration_s > 0) || opts.grace_s < 0 ||
        opts.connections == 0 || opts.connections > 10'000) {
        throw po::error(
            "--interval-ms and --duration-s must be positive, --grace-s not negative, "
            "--connections 1 to 10000");
    }
    for (const auto& header : opts.headers) {
        if (header.find_first_of("\r\n") != std::string::npos ||
            header.find(':') == std::string::npos) {
            throw po::error("--header: expected one line 'Name: value'");
        }
    }
    return opts;
}

int run(const options& opts) {
    asio::io_context io(1);
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(opts.host, opts.port);
    const std::string request = build_request(opts);
    results out;
    run_clock when{};
    when.interval = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double, std::milli>(opts.interval_ms));
    when.connections = opts.connections;

    std::vector<std::unique_ptr<paced_connection>> connections;
    for (std::size_t k = 0; k < opts.connections; ++k) {
        connections.push_back(std::make_unique<paced_connection>(io, endpoints, request, when, k,
                                                                 opts.expect_status, out));
        asio::co_spawn(io, connections.back()->open(), asio::detached);
    }
    io.run();  // all connects done (or failed: such a connection reconnects at its first slot)
    io.restart();

    when.start = clock_type::now() + std::chrono::milliseconds(10);
    when.end = when.start + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(opts.duration_s));
    when.deadline = when.end + std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(opts.grace_s));
    asio::steady_timer deadline(io, when.deadline);
    // Ends the run at the deadline, or as soon as every connection is through its schedule.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await deadline.async_wait(use_tuple);
            const auto now = clock_type::now();
            for (auto& c : connections) {
                c->stop(now);
            }
        },
        asio::detached);
    std::size_t running = connections.size();
    for (auto& c : connections) {
        asio::co_spawn(
            io,
            [&, conn = c.get()]() -> asio::awaitable<void> {
                co_await conn->run();
                if (--running == 0) {
                    deadline.cancel();
                }
            },
            asio::detached);
    }
    io.run();
    const auto finished = std::min(clock_type::now(), when.deadline);
    const double elapsed_s = std::chrono::duration<double>(finished - when.start).count();
    // Failed and unanswered requests are reported in the JSON line, not by the exit status.
    std::cout << to_json(opts, out, elapsed_s) << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<options> opts;
    try {
        opts = parse_command_line(argc, argv);
        if (!opts) {
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "authd_paced_client: " << e.what() << "\nTry 'authd_paced_client --help'.\n";
        return exit_usage;
    }
    try {
        return run(*opts);
    } catch (const std::exception& e) {
        std::cerr << "authd_paced_client: " << e.what() << '\n';
        return exit_failed;
    }
}
