// libFuzzer target over the whole request-to-response path, without sockets (issue 4).
//
// An input is one connection's byte stream: its first byte chooses where the stream is split in
// two (the two halves arrive in separate reads, as over TCP), the rest is what the client sends.
// The stream is parsed as server/net/connection.cpp's read_request() does (one fresh request_parser
// per request over one request_head, eager, reads of read_chunk_bytes into a buffer of
// connection_buffer_bytes(), put_eof at the end), and each request is answered by the server's
// own request_handler (core/src/login/request_handler.cpp) over a real login_service (in-memory
// store, real cache, argon2id, key ring) and a revocation list; the hash pool's part (the login,
// the revocation's write) is done here, synchronously, as a worker does it. The brute-force limits
// are off (they would turn the seed's login into a 429). Every answer is checked:
//   - an API body is a JSON object whose "code" is the API code and "status" "ok" or "error"
//     (an error has a "message"); the JWK Set is JSON;
//   - write_response_head() gives a head that ends in CRLF CRLF, parses as an HTTP response with
//     the code's status and a Content-Length equal to the body's size;
//   - a login answers 200 exactly for the right credentials, with a token for the requested user
//     that both the service's key ring and a hs256_key with the same key accept;
//   - /verify, /forward-auth and /logout accept exactly the tokens this input's logins got,
//     /verify refuses a token after its /logout (the fuzzer cannot forge a token: a 200 for any
//     other is a bug); /forward-auth's 200 names the token's user in Remote-User;
//   - a parse error is answered 431 (header limit), 413 (body limit) or 400;
//   - the parser never stalls (a put() that consumes nothing and asks for nothing would make the
//     server loop forever).
// A violation prints what failed and traps, which libFuzzer reports as a crash.
//
// Seeds are in tests/fuzz/corpus/: each file is one split byte, then the raw request bytes. A
// presented token "LAST" stands for the last token the input's logins got (see
// substitute_last_token). AUTHD_FUZZ_TRACE=1 in the environment prints every answer.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/http/api.hpp"
#include "authd/http/http_response.hpp"
#include "authd/http/request_parser.hpp"
#include "authd/http/router.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/request_handler.hpp"
#include "authd/login/revocation_list.hpp"
#include "authd/login/user_cache.hpp"
#include "authd/store/user_store.hpp"
#include "authd/util/clock.hpp"

#include "support/memory_store.hpp"

namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;

constexpr std::string_view known_user = "user_test";
constexpr std::string_view known_password = "password_test";
constexpr std::size_t max_requests = 64;  // per input, so that one input stays fast

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "request_fuzz: invariant violated: %s\n%.*s\n", what,
                 static_cast<int>(detail.size()), detail.data());
    __builtin_trap();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) {
        fail(what, detail);
    }
}

// The store of the seed's example user, in memory (tests/support/memory_store.hpp); the fuzzer
// reads it and keeps its revoked tokens there.
using authd_test_support::memory_store;

authd::secret_bytes fixed_key() {
    unsigned char key[32];
    for (std::size_t i = 0; i < sizeof key; ++i) {
        key[i] = static_cast<unsigned char>(0xa5 ^ i);
    }
    return authd::secret_bytes(key, sizeof key);
}

// Everything a login needs, real but cheap: argon2id at libsodium's smallest cost (t=1, 8 KiB),
// so that a verification costs microseconds, not the 20 ms of the production parameters. The
// service signs with a key ring of one HS256 key (a raw key file); a hs256_key with the same
// key checks its tokens independently.
// The handler's host: a hash queue with room, no metrics, audit lines dropped; the in-memory
// store never fails, so an internal error is a bug.
class fuzz_host final : public authd::handler_host {
  public:
    bool hash_queue_has_room() const override { return true; }
    std::string metrics_text() const override { return "authd_up 1\n"; }
    void audit_login(authd::login_outcome, const authd::client_ref&, std::string_view,
                     authd::limit_budget) override {}
    void internal_error(std::string_view event, std::string_view detail) override {
        fail("the handler reports an internal error",
             std::string(event) + ": " + std::string(detail));
    }
};

authd::limiter_config limits_off() {
    authd::limiter_config config;
    config.account.free_failures = 0;
    config.address.free_failures = 0;
    return config;
}

struct login_world {
    static constexpr authd::argon2_params params{1, 8 * 1024};

    authd::password_hasher hasher{params};
    authd::keyring_holder keys{authd::keyring::from_secret(fixed_key())};
    authd::hs256_key signer{fixed_key()};
    memory_store store;
    std::unique_ptr<authd::user_cache> cache = authd::make_user_cache(1024);
    authd::attempt_limiter limiter{limits_off()};
    authd::login_service service{store, *cache, hasher, keys, std::chrono::minutes(30), &limiter};
    fuzz_host host;
    std::unique_ptr<authd::revocation_list> revocations;
    std::unique_ptr<authd::request_handler> handler;

    login_world() { store.add_user(known_user, hasher.hash(known_password)); }

    // Each input starts with no revocation, so that it replays alike alone or after others.
    void start_input() {
        handler.reset();
        revocations = std::make_unique<authd::revocation_list>(max_requests);
        store.revoked.clear();
        handler = std::make_unique<authd::request_handler>(
            authd::request_handler::parts{service, keys, *revocations}, host);
    }
};

login_world& world() {
    static login_world w;
    return w;
}

// The client's byte stream, in two parts that arrive separately.
class byte_stream {
  public:
    byte_stream(std::string_view first, std::string_view second) : parts_{first, second} {}

    // Like a socket's read_some: at most what has arrived in the current part; 0 means EOF.
    std::size_t read_some(void* out, std::size_t size) {
        while (part_ < 2 && parts_[part_].empty()) {
            ++part_;
        }
        if (part_ == 2) {
            return 0;
        }
        auto& p = parts_[part_];
        const auto n = std::min(size, p.size());
        std::memcpy(out, p.data(), n);
        p.remove_prefix(n);
        return n;
    }

  private:
    std::string_view parts_[2];
    std::size_t part_ = 0;
};

enum class read_status { request, closed, parse_error };

// server/net/connection.cpp's connection::read_request(), with the socket replaced by the stream.
read_status read_request(authd::request_parser& parser, boost::beast::flat_buffer& in,
                         byte_stream& stream, error_code& parse_ec) {
    for (;;) {
        if (in.size() > 0) {
            error_code ec;
            const auto used = parser.put(in.data(), ec);
            in.consume(used);
            if (!ec && parser.is_done()) {
                return read_status::request;
            }
            if (ec && ec != http::error::need_more) {
                parse_ec = ec;
                return read_status::parse_error;
            }
            if (!ec) {
                // The server loops straight back to put(): no progress here would spin forever.
                check(used > 0, "request_parser::put consumed nothing without asking for more");
                continue;
            }
        }
        const auto room = in.max_size() - in.size();
        if (room == 0) {
            parse_ec = http::error::header_limit;
            return read_status::parse_error;
        }
        const auto want = std::min(room, authd::read_chunk_bytes);
        const auto n = stream.read_some(in.prepare(want).data(), want);
        in.commit(n);
        if (n == 0) {  // EOF
            if (!parser.got_some() && in.size() == 0) {
                return read_status::closed;
            }
            error_code ec;
            parser.put_eof(ec);
            if (!ec && parser.is_done()) {
                return read_status::request;
            }
            parse_ec = ec ? ec : error_code(http::error::partial_message);
            return read_status::parse_error;
        }
    }
}

// An API body: a JSON object of the seed's shape, matching code.
boost::json::object check_body(authd::api_code code, std::string_view body) {
    error_code ec;
    auto value = boost::json::parse(body, ec);
    check(!ec, "response body is not JSON", body);
    auto* obj = value.if_object();
    check(obj != nullptr, "response body is not a JSON object", body);
    const auto* code_field = obj->if_contains("code");
    check(code_field != nullptr && code_field->is_int64() &&
              code_field->as_int64() == static_cast<std::int64_t>(code),
          "body \"code\" is not the API code", body);
    const auto* status = obj->if_contains("status");
    check(status != nullptr && status->is_string(), "body has no string \"status\"", body);
    const bool ok = code == authd::api_code::ok;
    check(status->as_string() == (ok ? "ok" : "error"), "body \"status\" does not match the code",
          body);
    if (!ok) {
        const auto* message = obj->if_contains("message");
        check(message != nullptr && message->is_string(), "error body without a message", body);
    }
    return std::move(*obj);
}

// The head: what write_response_head() writes, checked by hand and by Beast's response parser.
void check_head(const authd::response& r, bool keep_alive, int version) {
    thread_local std::string head;
    authd::write_response_head(head, r.code, r.body.size(), keep_alive, version, r.retry_after,
                               r.content_type, r.extra_headers);
    check(head.ends_with("\r\n\r\n"), "response head does not end with CRLF CRLF", head);
    check(head.find("\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n") !=
              std::string::npos,
          "response head has no Content-Length equal to the body's size", head);
    check(keep_alive == (head.find("\r\nConnection: close\r\n") == std::string::npos),
          "Connection: close sent iff the connection closes", head);
    check((r.code == authd::api_code::busy) == (r.retry_after == 1) ||
              r.code == authd::api_code::too_many_attempts,
          "a 503 comes with Retry-After: 1, and nothing else but a 429 with any", head);

    http::response_parser<http::string_body> parser;
    parser.eager(true);
    const std::string whole = head + std::string(r.body);
    error_code ec;
    const auto used = parser.put(boost::asio::buffer(whole), ec);
    check(!ec && parser.is_done() && used == whole.size(), "response does not parse as HTTP",
          whole);
    const auto& res = parser.get();
    check(res.result_int() == authd::http_status(r.code), "HTTP status is not the code's", whole);
    check(res.body() == r.body, "HTTP body differs from the body", whole);
}

// AUTHD_FUZZ_TRACE=1 prints each answer (to see what the seeds exercise).
bool tracing() {
    static const bool on = std::getenv("AUTHD_FUZZ_TRACE") != nullptr;
    return on;
}

// One answer as server/net/connection.cpp's append_response() writes it. Returns the body's JSON
// object when it is an API body (every route but /.well-known/jwks.json and /metrics).
boost::json::object answer(const authd::response& r, bool keep_alive, int version,
                           authd::route route) {
    if (tracing()) {
        std::fprintf(stderr, "request_fuzz: HTTP/%d.%d -> %u %s%.*s\n", version / 10, version % 10,
                     static_cast<unsigned>(r.code), keep_alive ? "keep-alive " : "close ",
                     static_cast<int>(r.body.size()), r.body.data());
    }
    check_head(r, keep_alive, version);
    const bool ok = r.code == authd::api_code::ok;
    if (ok && route == authd::route::metrics) {
        check(r.content_type == authd::prometheus_content_type, "/metrics is not Prometheus text");
        return {};
    }
    if (ok && route == authd::route::jwks) {
        error_code ec;
        (void)boost::json::parse(r.body, ec);
        check(!ec, "response body is not JSON", r.body);
        return {};
    }
    return check_body(r.code, r.body);
}

std::string_view string_field(const boost::json::object& obj, std::string_view name) {
    const auto* v = obj.if_contains(name);
    check(v != nullptr && v->is_string(), "a field of the body is missing or not a string");
    return {v->as_string().data(), v->as_string().size()};
}

// What one input did with tokens, to check /verify and /logout against it.
struct session_state {
    std::string last_token;         // the last token a login of this input got
    std::set<std::string> issued;   // tokens logins of this input got
    std::set<std::string> revoked;  // tokens /logout of this input revoked
};

// A seed cannot hold a valid token (it expires, and is signed with the fuzz key): a presented
// token "LAST" stands for the last token this input's logins got, so that seeds can log in,
// verify, log out and verify again on one connection.
void substitute_last_token(authd::request_head& head, const session_state& state) {
    if (state.last_token.empty()) {
        return;
    }
    if (head.token.count > 0) {
        if (head.token.value == "LAST") {
            head.token.value = state.last_token;
        }
    } else if (authd::presented_token(head) == "LAST") {
        head.authorization.value = "Bearer " + state.last_token;
    }
}

// A login the handler sent to the hash pool: its job run here as a worker runs it, then answered.
void login(const authd::request_head& head, authd::blocking_job& job, bool keep_alive,
           session_state& state) {
    check(head.password.count == 1 && head.user_name.count == 1 && !head.password.value.empty() &&
              !head.user_name.value.empty(),
          "the handler sends to the hash pool a request without exactly one of each credential");
    job.run(authd::hashes_in_this_thread());
    const bool right = head.user_name.value == known_user && head.password.value == known_password;
    const auto r = job.answer(true);
    check(r.code == (right ? authd::api_code::ok : authd::api_code::not_found),
          "login answered other than 200 for the right credentials, 404 for any other", r.body);
    const auto body = answer(r, keep_alive, head.version, head.route);
    if (r.code != authd::api_code::ok) {
        return;
    }
    const std::string token(string_field(body, "token"));
    const auto now = authd::unix_now();
    const auto claims = world().keys.verify(token, now);
    check(claims.has_value(), "the service's keyring refuses the token it issued", r.body);
    check(claims->user == head.user_name.value, "the token names another user", r.body);
    const auto again = world().signer.verify(token, now);
    check(again.has_value() && again->user == claims->user,
          "hs256_key::verify refuses the token authd issued", r.body);
    state.last_token = token;
    state.issued.insert(token);
}

// A token check the handler answered itself (/verify, /forward-auth, a refused /logout).
void check_token_answer(const authd::request_head& head, const authd::response& r,
                        const boost::json::object& body, const session_state& state,
                        std::int64_t now) {
    const std::string token(authd::presented_token(head));
    const bool one_token = head.token.count + head.authorization.count == 1;
    const bool issued = state.issued.contains(token);
    const bool live = issued && !state.revoked.contains(token);
    if (head.route == authd::route::logout) {
        // An issued token's logout goes to the hash pool (a revoked one too: logging out twice
        // answers ok twice), so what the handler refuses itself is never one this input got.
        check(!(one_token && issued && r.code == authd::api_code::invalid_token),
              "/logout refuses a token this input got", token);
        check(r.code != authd::api_code::ok, "/logout answers 200 without storing the revocation",
              token);
        return;
    }
    // A live token is accepted whatever else the request holds, on a method the route takes.
    if (one_token && live && r.code != authd::api_code::method_not_allowed) {
        check(r.code == authd::api_code::ok, "a live token this input got is refused",
              token + " " + std::string(r.body));
    }
    if (r.code == authd::api_code::ok) {
        check(issued, "a token no login issued is accepted", token);
        check(!state.revoked.contains(token), "a token is accepted after its /logout", token);
        const auto claims = world().keys.verify(token, now);
        check(claims.has_value(), "an accepted token does not verify", token);
        const auto user = string_field(body, "user");
        check(user == claims->user, "the answer names another user than the token", r.body);
        if (head.route == authd::route::forward_auth) {
            check(r.extra_headers == "Remote-User: " + std::string(user) +
                                         "\r\nX-Auth-Request-User: " + std::string(user) + "\r\n",
                  "/forward-auth's 200 does not name the token's user in Remote-User and "
                  "X-Auth-Request-User",
                  r.extra_headers);
        }
    }
    check(head.route != authd::route::forward_auth || r.code == authd::api_code::ok ||
              r.code == authd::api_code::invalid_token,
          "/forward-auth refuses with another code than 401", r.body);
}

// A logout the handler sent to the hash pool (the revocation's write), done here synchronously.
void logout(const authd::request_head& head, authd::blocking_job& job, bool keep_alive,
            session_state& state) {
    const std::string token(authd::presented_token(head));
    check(state.issued.contains(token), "/logout accepts a token no login issued", token);
    job.run(authd::hashes_in_this_thread());
    const auto r = job.answer(true);
    check(r.code == authd::api_code::ok, "revoking in the in-memory store failed", r.body);
    state.revoked.insert(token);
    answer(r, keep_alive, head.version, head.route);
}

// What a step's job is, by its route (the job itself does not say).
enum class job_kind : std::uint8_t { none, login, logout };

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t split = bytes.size() * data[0] / 255;
    byte_stream stream(bytes.substr(0, split), bytes.substr(split));

    auto& w = world();
    w.start_input();
    const authd::request_limits limits;  // the server's defaults
    boost::beast::flat_buffer in(authd::connection_buffer_bytes(limits));
    authd::request_head head;
    session_state state;

    for (std::size_t i = 0; i < max_requests; ++i) {
        authd::request_parser parser(head, limits);
        parser.eager(true);
        error_code parse_ec;
        const auto status = read_request(parser, in, stream, parse_ec);
        if (status == read_status::closed) {
            break;
        }
        if (status == read_status::parse_error) {
            const auto r = authd::request_handler::parse_error(parse_ec);
            const auto http = authd::http_status(r.code);
            check((http == 400 || http == 413 || http == 431) &&
                      (parse_ec != http::error::header_limit || http == 431) &&
                      (parse_ec != http::error::body_limit || http == 413),
                  "a parse error is not answered 431 (headers), 413 (body) or 400", r.body);
            answer(r, false, head.version, authd::route::unknown);
            break;
        }
        const bool keep_alive = parser.keep_alive();
        substitute_last_token(head, state);
        const authd::client_ref client{1, "192.0.2.1"};
        const auto now = authd::unix_now();
        const auto s = w.handler->handle(head, client, now);
        switch (!s.job                              ? job_kind::none
                : head.route == authd::route::login ? job_kind::login
                                                    : job_kind::logout) {
            case job_kind::login:
                login(head, *s.job, keep_alive, state);
                break;
            case job_kind::logout:
                logout(head, *s.job, keep_alive, state);
                break;
            case job_kind::none: {
                const auto& r = s.answer;
                const auto body = answer(r, keep_alive, head.version, head.route);
                switch (head.route) {
                    case authd::route::verify:
                    case authd::route::forward_auth:
                    case authd::route::logout:
                        check_token_answer(head, r, body, state, now);
                        break;
                    case authd::route::healthz:
                    case authd::route::readyz:
                    case authd::route::metrics:
                    case authd::route::jwks:
                        check(r.code == authd::api_code::ok ||
                                  r.code == authd::api_code::method_not_allowed,
                              "a health, metrics or key-set request is refused", r.body);
                        break;
                    case authd::route::login:
                    case authd::route::unknown:
                        check(r.code != authd::api_code::ok, "the handler answers 200 itself",
                              r.body);
                        break;
                }
                break;
            }
        }
        head.clear();
        if (!keep_alive) {
            break;
        }
    }
    return 0;
}
