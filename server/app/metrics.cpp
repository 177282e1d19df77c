#include "app/metrics.hpp"

#include <cstdio>

#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"

#include "workers/worker_pool.hpp"

namespace authd::server {

namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, const char* name, double value) {
    char text[64];
    std::snprintf(text, sizeof text, " %.9g\n", value);
    out += name;
    out += text;
}

}  // namespace

thread_metrics& metrics_registry::add_thread() {
    const std::lock_guard lock(mutex_);
    return threads_.emplace_back();
}

std::string metrics_registry::render() const {
    const std::lock_guard lock(mutex_);
    const auto sum = [this](auto get) {
        std::uint64_t n = 0;
        for (const auto& t : threads_) {
            n += get(t).load(std::memory_order_relaxed);
        }
        return n;
    };
    std::string out;
    out.reserve(8192);

    header(out, "authd_requests_total", "counter", "Requests answered, by route and body code.");
    for (std::size_t r = 0; r < route_count; ++r) {
        for (std::size_t c = 0; c < counted_codes.size(); ++c) {
            const auto n = sum([&](const thread_metrics& t) -> auto& { return t.requests[r][c]; });
            if (n == 0) {
                continue;
            }
            out += "authd_requests_total{route=\"";
            out += route_name(static_cast<route>(r));
            out += "\",code=\"";
            out += std::to_string(static_cast<unsigned>(counted_codes[c]));
            out += "\"} ";
            out += std::to_string(n);
            out += '\n';
        }
    }

    header(out, "authd_login_duration_seconds", "histogram",
           "Time from a login request to its answer, hashing included.");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= login_buckets.size(); ++b) {
        cumulative += sum([&](const thread_metrics& t) -> auto& { return t.login_latency[b]; });
        char le[32];
        if (b < login_buckets.size()) {
            std::snprintf(le, sizeof le, "%g", login_buckets[b]);
        } else {
            std::snprintf(le, sizeof le, "+Inf");
        }
        out += "authd_login_duration_seconds_bucket{le=\"";
        out += le;
        out += "\"} ";
        out += std::to_string(cumulative);
        out += '\n';
    }
    sample(out, "authd_login_duration_seconds_sum",
           static_cast<double>(
               sum([](const thread_metrics& t) -> auto& { return t.login_latency_micros; })) /
               1e6);
    sample(out, "authd_login_duration_seconds_count", static_cast<double>(cumulative));

    header(out, "authd_hash_queue_depth", "gauge", "Logins waiting for a hash worker.");
    sample(out, "authd_hash_queue_depth", static_cast<double>(pool_.queue_depth()));
    header(out, "authd_hash_workers_busy", "gauge", "Hash workers verifying a password now.");
    sample(out, "authd_hash_workers_busy", static_cast<double>(pool_.busy_workers()));
    header(out, "authd_hash_workers", "gauge", "Hash workers.");
    sample(out, "authd_hash_workers", static_cast<double>(pool_.workers()));

    header(out, "authd_user_cache_hits_total", "counter", "User lookups served by the cache.");
    sample(out, "authd_user_cache_hits_total", static_cast<double>(service_.cache_hits()));
    header(out, "authd_user_cache_misses_total", "counter", "User lookups that went to the store.");
    sample(out, "authd_user_cache_misses_total", static_cast<double>(service_.cache_misses()));
    header(out, "authd_legacy_hash_upgrades_total", "counter",
           "Imported hashes of another format replaced by argon2id at a login.");
    sample(out, "authd_legacy_hash_upgrades_total",
           static_cast<double>(service_.legacy_upgrades()));

    header(out, "authd_connections_open", "gauge", "Client connections open now.");
    std::int64_t open = 0;
    for (const auto& t : threads_) {
        open += t.connections_open.load(std::memory_order_relaxed);
    }
    sample(out, "authd_connections_open", static_cast<double>(open));
    header(out, "authd_connections_parked", "gauge",
           "Open connections idle long enough to hold no buffers (part of connections_open).");
    std::int64_t parked = 0;
    for (const auto& t : threads_) {
        parked += t.connections_parked.load(std::memory_order_relaxed);
    }
    sample(out, "authd_connections_parked", static_cast<double>(parked));
    header(out, "authd_connections_refused_total", "counter",
           "Connections answered 503 because --max-connections were open.");
    sample(out, "authd_connections_refused_total", static_cast<double>(sum([
           ](const thread_metrics& t) -> auto& { return t.connections_refused; })));
    header(out, "authd_connections_refused_per_address_total", "counter",
           "Connections answered 503 because their address had --max-connections-per-address "
           "open.");
    sample(out, "authd_connections_refused_per_address_total", static_cast<double>(sum([
           ](const thread_metrics& t) -> auto& { return t.connections_refused_per_address; })));
    header(out, "authd_attempt_entries", "gauge",
           "Accounts and addresses whose failed logins or attempts in flight are remembered.");
    out += "authd_attempt_entries{table=\"account\"} " +
           std::to_string(limiter_.account_entries()) + "\n";
    out += "authd_attempt_entries{table=\"address\"} " +
           std::to_string(limiter_.address_entries()) + "\n";
    header(out, "authd_attempt_protected_evictions_total", "counter",
           "Remembered counts past their free failures dropped because a table was full of them "
           "(raise --attempt-entries).");
    sample(out, "authd_attempt_protected_evictions_total",
           static_cast<double>(limiter_.protected_evictions()));
    out += "authd_attempt_entries{table=\"known_address\"} " +
           std::to_string(limiter_.known_address_entries()) + "\n";
    header(out, "authd_limits_shared", "gauge",
           "1 while the brute-force counters are shared with every node through PostgreSQL; 0 "
           "while this node counts by itself (SQLite, memory, or PostgreSQL unreachable).");
    sample(out, "authd_limits_shared", limiter_.sharing() ? 1.0 : 0.0);
    header(out, "authd_limits_local_admissions_total", "counter",
           "Attempts this node admitted by itself because its limit store did not answer (merged "
           "into the store once it answers).");
    sample(out, "authd_limits_local_admissions_total",
           static_cast<double>(limiter_.local_admissions()));
    header(out, "authd_limit_refusals_total", "counter",
           "Login attempts refused by the brute-force limits, by the budget that refused them.");
    for (const auto budget :
         {limit_budget::account, limit_budget::known_address, limit_budget::address}) {
        out += "authd_limit_refusals_total{budget=\"" + std::string(budget_name(budget)) + "\"} " +
               std::to_string(limiter_.refusals(budget)) + "\n";
    }
    header(out, "authd_login_attempts_refused_total", "counter",
           "Login attempts refused by the brute-force limits (429), before any hashing.");
    sample(
        out, "authd_login_attempts_refused_total",
        static_cast<double>(sum([](const thread_metrics& t) -> auto& { return t.rate_limited; })));
    return out;
}

}  // namespace authd::server
