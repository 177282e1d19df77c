// What the tests of the brute-force limits read: a login's answer as the limits see it (hashed
// and wrong, refused, or a success), guesses until the first refusal, and the audit lines of
// refusals with the budget that refused each (docs/security.md).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "http_client.hpp"
#include "processes.hpp"

namespace authd_it {

// A login's answer: 200; 404 with authd's "Data not found." body (admitted, hashed, wrong); 429
// (refused before hashing); anything else.
enum class login_answer { ok, hashed_failure, refused, other };
login_answer classify(const std::string& raw_response);

// Calls attempt(0), attempt(1), ... (each returns a raw response to a wrong password) until one is
// refused (429); returns how many were hashed (404) before it. Fails the test (ADD_FAILURE) on
// any other answer, and when none is refused within max_attempts.
int hashed_until_refused(const std::function<std::string(int)>& attempt, int max_attempts = 100);

// For an account that has just begun to wait (past its free failures: 1 s): two more wrong
// passwords (wrong_password()), each once the wait is over, expected hashed, make the wait 4 s
// (it doubles); then one more is expected refused. So that the wait outlasts what the test does
// next (a restart, retries) on a slow machine. Takes 3.2 s.
void lengthen_the_wait(const std::function<std::string()>& wrong_password);

// The answers to a burst of wrong passwords.
struct outcome_counts {
    int hashed_failures = 0;  // 404: admitted, hashed, wrong
    int refused = 0;          // 429: refused before hashing
    int other = 0;            // anything else (a test failure)
};

// Sends one wrong login on each connection first (request_for(i) on clients[i]), then reads every
// answer: the requests reach authd together, as a burst of concurrent guesses does.
outcome_counts burst(std::vector<std::unique_ptr<client_from>>& clients,
                     const std::function<std::string(std::size_t)>& request_for);

// The value of the string field name ("name":"value") in a JSON log line; nullopt without one.
std::optional<std::string> log_field(std::string_view line, std::string_view name);

// The "budget" fields of authd's audit lines of logins of user from client refused with 429
// (event "login", outcome "rate_limited"), in order; "" for a line without the field.
// Waits (up to 5 s) until there are at least at_least such lines: the harness reads authd's
// standard error on a thread of its own, so a line may arrive a moment after the answer.
std::vector<std::string> refusal_budgets(const authd_process& authd, std::string_view user,
                                         std::string_view client, std::size_t at_least = 1);

std::ostream& operator<<(std::ostream& out, login_answer answer);

}  // namespace authd_it
