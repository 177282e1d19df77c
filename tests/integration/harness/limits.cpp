#include "limits.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace authd_it {

login_answer classify(const std::string& raw_response) {
    if (raw_response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0) {
        return login_answer::ok;
    }
    if (raw_response.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0 &&
        body_of(raw_response) == not_found_body) {
        return login_answer::hashed_failure;
    }
    if (raw_response.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0) == 0) {
        return login_answer::refused;
    }
    return login_answer::other;
}

int hashed_until_refused(const std::function<std::string(int)>& attempt, int max_attempts) {
    int hashed = 0;
    for (int i = 0; i < max_attempts; ++i) {
        const auto r = attempt(i);
        switch (classify(r)) {
            case login_answer::hashed_failure:
                ++hashed;
                break;
            case login_answer::refused:
                return hashed;
            default:
                ADD_FAILURE() << "attempt " << i << ": neither hashed nor refused: " << r;
                return hashed;
        }
    }
    ADD_FAILURE() << "no refusal in " << max_attempts << " wrong passwords";
    return hashed;
}

void lengthen_the_wait(const std::function<std::string()>& wrong_password) {
    for (const auto wait : {1100ms, 2100ms}) {
        std::this_thread::sleep_for(wait);
        const auto r = wrong_password();
        EXPECT_EQ(classify(r), login_answer::hashed_failure) << r;
    }
    const auto r = wrong_password();
    EXPECT_EQ(classify(r), login_answer::refused) << r;
}

outcome_counts burst(std::vector<std::unique_ptr<client_from>>& clients,
                     const std::function<std::string(std::size_t)>& request_for) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
        EXPECT_TRUE(clients[i]->send(request_for(i))) << i;
    }
    outcome_counts counts;
    for (auto& c : clients) {
        const auto r = c->read_response();
        switch (classify(r)) {
            case login_answer::hashed_failure:
                ++counts.hashed_failures;
                break;
            case login_answer::refused:
                ++counts.refused;
                break;
            default:
                ++counts.other;
                ADD_FAILURE() << r;
        }
    }
    return counts;
}

std::optional<std::string> log_field(std::string_view line, std::string_view name) {
    const auto key = std::string("\"").append(name).append("\":\"");
    const auto at = line.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const auto begin = at + key.size();
    const auto end = line.find('"', begin);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    return std::string(line.substr(begin, end - begin));
}

std::vector<std::string> refusal_budgets(const authd_process& authd, std::string_view user,
                                         std::string_view client, std::size_t at_least) {
    const auto deadline = detail::clock::now() + 5s;
    for (;;) {
        std::vector<std::string> out;
        for (const auto& line : authd.stderr_lines()) {
            if (log_field(line, "event") == "login" &&
                log_field(line, "outcome") == "rate_limited" && log_field(line, "user") == user &&
                log_field(line, "client") == client) {
                out.push_back(log_field(line, "budget").value_or(""));
            }
        }
        if (out.size() >= at_least || detail::clock::now() >= deadline) {
            return out;
        }
        std::this_thread::sleep_for(10ms);
    }
}

std::ostream& operator<<(std::ostream& out, login_answer answer) {
    switch (answer) {
        case login_answer::ok:
            return out << "200";
        case login_answer::hashed_failure:
            return out << "404 (hashed)";
        case login_answer::refused:
            return out << "429 (refused)";
        case login_answer::other:
            break;
    }
    return out << "other";
}

}  // namespace authd_it
