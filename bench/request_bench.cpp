// What an I/O thread spends on one request besides the socket: parsing the head, deciding, and
// serialising the response. Buffers are reused across iterations as a connection reuses them
// (server/net/connection.cpp): one request_head, one head scratch string and one output string.
//
// For scale (bench/load/run.sh measures it beside authd): nginx answers ~135k requests/s on one
// core over loopback, i.e. ~7.4 us per request all in; the parse-decide-respond rows here must
// stay a small part of that.

#include <cstdint>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>
#include <boost/asio/buffer.hpp>

#include "authd/http/api.hpp"
#include "authd/http/http_response.hpp"
#include "authd/http/request_parser.hpp"
#include "authd/http/router.hpp"

namespace {

// The seed's example login (docs/api.md), as a client sends it.
constexpr std::string_view login_request =
    "GET /login HTTP/1.1\r\nHost: localhost:8080\r\nPassword: password_test\r\n"
    "User-Name: user_test\r\n\r\n";

// The same without its Password header: answered at once with the 402 error.
constexpr std::string_view no_password_request =
    "GET /login HTTP/1.1\r\nHost: localhost:8080\r\nUser-Name: user_test\r\n\r\n";

// The seed's example token, for the 200 body.
constexpr std::string_view seed_token =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoidXNlcl90ZXN0IiwiZXhwIjoxNjI4NjA1MjA2fQ."
    "sFG8WK8b509wAKSilBylyavIQr_yBuz4vueyzogMjZo";

// Parses raw (all of it in the buffer, as after one read) and decides, as connection::run() does
// for one request; false on a parse error.
bool parse_and_decide(authd::request_head& head, const authd::request_limits& limits,
                      std::string_view raw, authd::decision& out) {
    authd::request_parser parser(head, limits);
    parser.eager(true);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    if (ec || !parser.is_done()) {
        return false;
    }
    out = authd::decide(head);
    return true;
}

// served: whether the request is served by its route (else a fixed response).
void parse_and_decide_bench(benchmark::State& state, std::string_view raw, bool served) {
    const authd::request_limits limits;
    authd::request_head head;
    authd::decision d;
    if (!parse_and_decide(head, limits, raw, d) || d.serve != served) {
        state.SkipWithError("the request is not parsed and decided as expected");
        return;
    }
    for (auto _ : state) {
        parse_and_decide(head, limits, raw, d);
        benchmark::DoNotOptimize(d);
        head.clear();  // wipes the password, as the connection does after each request
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(raw.size()));
}

void request_parse_decide_login(benchmark::State& state) {
    parse_and_decide_bench(state, login_request, true);
}
BENCHMARK(request_parse_decide_login);

void request_parse_decide_no_password(benchmark::State& state) {
    parse_and_decide_bench(state, no_password_request, false);
}
BENCHMARK(request_parse_decide_no_password);

// connection::append_response(): head into a scratch string, then head and body into the output.
void append_response(std::string& out, std::string& head_scratch, authd::api_code code,
                     std::string_view body) {
    authd::write_response_head(head_scratch, code, body.size(), true, 11);
    out += head_scratch;
    out += body;
}

// The 402 answer to a request without Password: a canned body, nothing built per request.
void response_402(benchmark::State& state) {
    const authd::request_limits limits;
    authd::request_head head;
    authd::decision d;
    if (!parse_and_decide(head, limits, no_password_request, d) ||
        d.code != authd::api_code::field_missing) {
        state.SkipWithError("the request without Password is not a 402");
        return;
    }
    std::string out;
    std::string head_scratch;
    for (auto _ : state) {
        out.clear();  // what flush() does once the response is written
        append_response(out, head_scratch, d.code, d.body);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(std::to_string(out.size()) + " B response");
}
BENCHMARK(response_402);

// The 200 answer: the token body is built per login (authd::token_body), then the head.
void response_200_token(benchmark::State& state) {
    std::string out;
    std::string head_scratch;
    for (auto _ : state) {
        out.clear();
        const std::string body = authd::token_body(seed_token);
        append_response(out, head_scratch, authd::api_code::ok, body);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(std::to_string(out.size()) + " B response");
}
BENCHMARK(response_200_token);

// All an I/O thread does for a request without Password, from bytes in to bytes out.
void request_to_402_response(benchmark::State& state) {
    const authd::request_limits limits;
    authd::request_head head;
    authd::decision d;
    std::string out;
    std::string head_scratch;
    for (auto _ : state) {
        out.clear();
        if (!parse_and_decide(head, limits, no_password_request, d)) {
            state.SkipWithError("parse error");
            break;
        }
        append_response(out, head_scratch, d.code, d.body);
        head.clear();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(request_to_402_response);

}  // namespace

BENCHMARK_MAIN();
