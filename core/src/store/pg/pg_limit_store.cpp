#include "pg_limit_store.hpp"

#include <charconv>
#include <cstdlib>
#include <string>

#include "authd/store/user_store.hpp"

namespace authd::detail {

// Times are the server's clock (clock_timestamp(), unix seconds), so that nodes whose clocks
// disagree count alike; every answer is relative to it. kind: 0 an account's budget (address 0),
// 1 the budget of an account at one of its known addresses, 2 an address's budget (name '').
// authd_forgiven and authd_backoff are forgiven_failures() and backoff_seconds() of
// core/src/store/limit_store.cpp, spelt in SQL.
const char* const pg_limits_migration = R"sql(
CREATE TABLE limit_counters(
    kind SMALLINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    address BIGINT NOT NULL,
    failures DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    blocked_until DOUBLE PRECISION NOT NULL,
    blocked_by BIGINT NOT NULL,
    PRIMARY KEY (kind, name, address)
);
CREATE TABLE known_addresses(
    name TEXT COLLATE "C" NOT NULL,
    address BIGINT NOT NULL,
    last_success DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (name, address)
);
CREATE INDEX known_addresses_last_success ON known_addresses(last_success);
CREATE FUNCTION authd_known_address_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_known_addresses', NEW.address::text || ' ' || NEW.name);
    RETURN NULL;
END
$$;
CREATE TRIGGER known_address_seen AFTER INSERT OR UPDATE ON known_addresses
    FOR EACH ROW EXECUTE FUNCTION authd_known_address_seen();

CREATE FUNCTION authd_forgiven(failures DOUBLE PRECISION, elapsed DOUBLE PRECISION,
                               forgive DOUBLE PRECISION) RETURNS DOUBLE PRECISION
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN forgive <= 0 THEN failures
                ELSE greatest(0, failures - greatest(0, elapsed) / forgive) END
$$;
CREATE FUNCTION authd_backoff(excess DOUBLE PRECISION, first DOUBLE PRECISION,
                              longest DOUBLE PRECISION) RETURNS DOUBLE PRECISION
    LANGUAGE sql IMMUTABLE AS $$
    SELECT least(first * power(2, least(greatest(ceil(excess) - 1, 0), 30)), longest)
$$;

-- Admits (counting it as a failure at once) or refuses one attempt. Both rows are made if
-- missing and locked, the account's first, before anything is decided: attempts at once, from any
-- node, wait here for each other and are admitted as if one after the other.
CREATE FUNCTION authd_limit_admit(
    p_name TEXT, p_address BIGINT, p_attempt BIGINT, p_window DOUBLE PRECISION,
    a_free INTEGER, a_first DOUBLE PRECISION, a_max DOUBLE PRECISION, a_forgive DOUBLE PRECISION,
    i_free INTEGER, i_first DOUBLE PRECISION, i_max DOUBLE PRECISION, i_forgive DOUBLE PRECISION,
    OUT wait INTEGER, OUT refused_by TEXT, OUT known BOOLEAN,
    OUT a_failures DOUBLE PRECISION, OUT a_blocked DOUBLE PRECISION,
    OUT i_failures DOUBLE PRECISION, OUT i_blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    k SMALLINT := 0;
    ka BIGINT := 0;
    a limit_counters;
    i limit_counters;
BEGIN
    wait := 0; refused_by := 'none'; known := false;
    a_failures := 0; a_blocked := 0; i_failures := 0; i_blocked := 0;
    IF a_free > 0 AND p_window > 0 THEN
        known := EXISTS (SELECT 1 FROM known_addresses
                         WHERE name = p_name AND address = p_address
                           AND last_success > t - p_window);
    END IF;
    IF known THEN
        k := 1;
        ka := p_address;
    END IF;
    IF a_free > 0 THEN
        INSERT INTO limit_counters AS c VALUES (k, p_name, ka, 0, t, 0, 0)
            ON CONFLICT (kind, name, address) DO UPDATE SET kind = c.kind RETURNING * INTO a;
        a_failures := authd_forgiven(a.failures, t - a.updated, a_forgive);
        a_blocked := greatest(0, a.blocked_until - t);
    END IF;
    IF i_free > 0 THEN
        INSERT INTO limit_counters AS c VALUES (2, '', p_address, 0, t, 0, 0)
            ON CONFLICT (kind, name, address) DO UPDATE SET kind = c.kind RETURNING * INTO i;
        i_failures := authd_forgiven(i.failures, t - i.updated, i_forgive);
        i_blocked := greatest(0, i.blocked_until - t);
    END IF;
    IF a_blocked > 0 OR i_blocked > 0 THEN
        wait := greatest(1, ceil(greatest(a_blocked, i_blocked)))::integer;
        refused_by := CASE WHEN a_blocked >= i_blocked
                           THEN CASE WHEN known THEN 'known_address' ELSE 'account' END
                           ELSE 'address' END;
        RETURN;
    END IF;
    IF a_free > 0 THEN
        a_failures := a_failures + 1;
        IF a_failures > a_free THEN
            a_blocked := authd_backoff(a_failures - a_free, a_first, a_max);
        END IF;
        UPDATE limit_counters
           SET failures = a_failures, updated = t,
               blocked_until = CASE WHEN a_blocked > 0 THEN t + a_blocked ELSE blocked_until END,
               blocked_by = CASE WHEN a_blocked > 0 THEN p_attempt ELSE blocked_by END
         WHERE kind = k AND name = p_name AND address = ka;
    END IF;
    IF i_free > 0 THEN
        i_failures := i_failures + 1;
        IF i_failures > i_free THEN
            i_blocked := authd_backoff(i_failures - i_free, i_first, i_max);
        END IF;
        UPDATE limit_counters
           SET failures = i_failures, updated = t,
               blocked_until = CASE WHEN i_blocked > 0 THEN t + i_blocked ELSE blocked_until END,
               blocked_by = CASE WHEN i_blocked > 0 THEN p_attempt ELSE blocked_by END
         WHERE kind = 2 AND name = '' AND address = p_address;
    END IF;
END
$$;

-- Takes one admitted attempt's count back from a row: one failure fewer, and the wait that this
-- attempt's count set (and only that one) is lifted.
CREATE FUNCTION authd_limit_uncount(p_kind SMALLINT, p_name TEXT, p_address BIGINT,
                                    p_attempt BIGINT, p_forgive DOUBLE PRECISION,
                                    OUT failures DOUBLE PRECISION, OUT blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
BEGIN
    UPDATE limit_counters AS c
       SET failures = greatest(0, authd_forgiven(c.failures, t - c.updated, p_forgive) - 1),
           updated = t,
           blocked_until = CASE WHEN c.blocked_by = p_attempt THEN 0 ELSE c.blocked_until END
     WHERE c.kind = p_kind AND c.name = p_name AND c.address = p_address
    RETURNING c.failures, greatest(0, c.blocked_until - t) INTO failures, blocked;
    failures := coalesce(failures, 0);
    blocked := coalesce(blocked, 0);
END
$$;

-- An admitted attempt succeeded: the budget it was counted in is cleared, the address's count
-- taken back, and the address known to the account (its time refreshed at most hourly, so that a
-- busy account does not notify every node at each login; the most recent p_per_account kept).
CREATE FUNCTION authd_limit_succeed(
    p_name TEXT, p_address BIGINT, p_known BOOLEAN, p_attempt BIGINT, p_window DOUBLE PRECISION,
    p_per_account INTEGER, a_free INTEGER, i_free INTEGER, i_forgive DOUBLE PRECISION,
    OUT i_failures DOUBLE PRECISION, OUT i_blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    changed INTEGER;
    oldest_kept DOUBLE PRECISION;
BEGIN
    i_failures := 0; i_blocked := 0;
    IF a_free > 0 THEN
        -- Cleared, not deleted: the owner's next login updates the row in place (a HOT update)
        -- instead of inserting it again; authd_limit_prune removes it once idle.
        UPDATE limit_counters SET failures = 0, updated = t, blocked_until = 0
         WHERE kind = CASE WHEN p_known THEN 1 ELSE 0 END AND name = p_name
           AND address = CASE WHEN p_known THEN p_address ELSE 0 END
           AND (failures <> 0 OR blocked_until <> 0);
    END IF;
    IF i_free > 0 THEN
        SELECT u.failures, u.blocked INTO i_failures, i_blocked
          FROM authd_limit_uncount(2::smallint, '', p_address, p_attempt, i_forgive) AS u;
    END IF;
    IF a_free > 0 AND p_window > 0 THEN
        INSERT INTO known_addresses AS ka VALUES (p_name, p_address, t)
            ON CONFLICT (name, address) DO UPDATE SET last_success = EXCLUDED.last_success
            WHERE ka.last_success < EXCLUDED.last_success - 3600;
        GET DIAGNOSTICS changed = ROW_COUNT;
        IF changed > 0 THEN
            SELECT k.last_success INTO oldest_kept FROM known_addresses AS k
             WHERE k.name = p_name ORDER BY k.last_success DESC OFFSET p_per_account - 1 LIMIT 1;
            IF oldest_kept IS NOT NULL THEN
                DELETE FROM known_addresses AS k
                 WHERE k.name = p_name AND k.last_success < oldest_kept;
            END IF;
        END IF;
    END IF;
END
$$;

-- Failures a node counted by itself while it could not reach the server: added to the row (the
-- wait recomputed from the sum, never shortened).
CREATE FUNCTION authd_limit_merge(p_kind SMALLINT, p_name TEXT, p_address BIGINT,
                                  p_failures DOUBLE PRECISION, p_free INTEGER,
                                  p_first DOUBLE PRECISION, p_max DOUBLE PRECISION,
                                  p_forgive DOUBLE PRECISION) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    c limit_counters;
    f DOUBLE PRECISION;
BEGIN
    INSERT INTO limit_counters AS x VALUES (p_kind, p_name, p_address, 0, t, 0, 0)
        ON CONFLICT (kind, name, address) DO UPDATE SET kind = x.kind RETURNING * INTO c;
    f := authd_forgiven(c.failures, t - c.updated, p_forgive) + p_failures;
    UPDATE limit_counters
       SET failures = f, updated = t,
           blocked_until = CASE WHEN f > p_free
                                THEN greatest(blocked_until,
                                              t + authd_backoff(f - p_free, p_first, p_max))
                                ELSE blocked_until END
     WHERE kind = p_kind AND name = p_name AND address = p_address;
END
$$;

-- Rows with nothing left to count (no wait, every failure forgiven), known addresses past the
-- window.
CREATE FUNCTION authd_limit_prune(a_forgive DOUBLE PRECISION, i_forgive DOUBLE PRECISION,
                                  p_window DOUBLE PRECISION) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
BEGIN
    DELETE FROM limit_counters
     WHERE blocked_until <= t
       AND updated + failures * CASE WHEN kind = 2 THEN i_forgive ELSE a_forgive END <= t;
    DELETE FROM known_addresses WHERE last_success <= t - p_window;
END
$$;
)sql";

// Version 5 (issue 29): a User-Name that PostgreSQL cannot hold as text (not UTF-8, or past a
// btree row's ~2,700 bytes) made the admission fail, and the node counted by itself for ever.
// Accounts are now the SHA-256 of their name's bytes (account_digest), sent as hex: no byte a
// client chose reaches the server as text. Rows of version 4 keep their counts under the digest of
// their name (sha256(textsend(name)): the bytes authd sent), so the upgrade gives no attacker a
// fresh budget and no owner loses a known address. An address's budget has the empty account.
// The functions are version 4's with the column renamed and typed: a migration that databases out
// there have run is never edited, so they are dropped and made again here.
const char* const pg_limits_by_digest_migration = R"sql(
DROP FUNCTION authd_limit_admit, authd_limit_succeed, authd_limit_uncount, authd_limit_merge;
ALTER TABLE limit_counters RENAME COLUMN name TO account;
ALTER TABLE limit_counters ALTER COLUMN account TYPE BYTEA
    USING CASE WHEN kind = 2 THEN ''::bytea ELSE sha256(textsend(account)) END;
ALTER TABLE known_addresses RENAME COLUMN name TO account;
ALTER TABLE known_addresses ALTER COLUMN account TYPE BYTEA USING sha256(textsend(account));
CREATE OR REPLACE FUNCTION authd_known_address_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_known_addresses',
                      NEW.address::text || ' ' || encode(NEW.account, 'hex'));
    RETURN NULL;
END
$$;

-- Admits (counting it as a failure at once) or refuses one attempt. Both rows are made if
-- missing and locked, the account's first, before anything is decided: attempts at once, from any
-- node, wait here for each other and are admitted as if one after the other.
CREATE FUNCTION authd_limit_admit(
    p_account BYTEA, p_address BIGINT, p_attempt BIGINT, p_window DOUBLE PRECISION,
    a_free INTEGER, a_first DOUBLE PRECISION, a_max DOUBLE PRECISION, a_forgive DOUBLE PRECISION,
    i_free INTEGER, i_first DOUBLE PRECISION, i_max DOUBLE PRECISION, i_forgive DOUBLE PRECISION,
    OUT wait INTEGER, OUT refused_by TEXT, OUT known BOOLEAN,
    OUT a_failures DOUBLE PRECISION, OUT a_blocked DOUBLE PRECISION,
    OUT i_failures DOUBLE PRECISION, OUT i_blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    k SMALLINT := 0;
    ka BIGINT := 0;
    a limit_counters;
    i limit_counters;
BEGIN
    wait := 0; refused_by := 'none'; known := false;
    a_failures := 0; a_blocked := 0; i_failures := 0; i_blocked := 0;
    IF a_free > 0 AND p_window > 0 THEN
        known := EXISTS (SELECT 1 FROM known_addresses
                         WHERE account = p_account AND address = p_address
                           AND last_success > t - p_window);
    END IF;
    IF known THEN
        k := 1;
        ka := p_address;
    END IF;
    IF a_free > 0 THEN
        INSERT INTO limit_counters AS c VALUES (k, p_account, ka, 0, t, 0, 0)
            ON CONFLICT (kind, account, address) DO UPDATE SET kind = c.kind RETURNING * INTO a;
        a_failures := authd_forgiven(a.failures, t - a.updated, a_forgive);
        a_blocked := greatest(0, a.blocked_until - t);
    END IF;
    IF i_free > 0 THEN
        INSERT INTO limit_counters AS c VALUES (2, ''::bytea, p_address, 0, t, 0, 0)
            ON CONFLICT (kind, account, address) DO UPDATE SET kind = c.kind RETURNING * INTO i;
        i_failures := authd_forgiven(i.failures, t - i.updated, i_forgive);
        i_blocked := greatest(0, i.blocked_until - t);
    END IF;
    IF a_blocked > 0 OR i_blocked > 0 THEN
        wait := greatest(1, ceil(greatest(a_blocked, i_blocked)))::integer;
        refused_by := CASE WHEN a_blocked >= i_blocked
                           THEN CASE WHEN known THEN 'known_address' ELSE 'account' END
                           ELSE 'address' END;
        RETURN;
    END IF;
    IF a_free > 0 THEN
        a_failures := a_failures + 1;
        IF a_failures > a_free THEN
            a_blocked := authd_backoff(a_failures - a_free, a_first, a_max);
        END IF;
        UPDATE limit_counters
           SET failures = a_failures, updated = t,
               blocked_until = CASE WHEN a_blocked > 0 THEN t + a_blocked ELSE blocked_until END,
               blocked_by = CASE WHEN a_blocked > 0 THEN p_attempt ELSE blocked_by END
         WHERE kind = k AND account = p_account AND address = ka;
    END IF;
    IF i_free > 0 THEN
        i_failures := i_failures + 1;
        IF i_failures > i_free THEN
            i_blocked := authd_backoff(i_failures - i_free, i_first, i_max);
        END IF;
        UPDATE limit_counters
           SET failures = i_failures, updated = t,
               blocked_until = CASE WHEN i_blocked > 0 THEN t + i_blocked ELSE blocked_until END,
               blocked_by = CASE WHEN i_blocked > 0 THEN p_attempt ELSE blocked_by END
         WHERE kind = 2 AND account = ''::bytea AND address = p_address;
    END IF;
END
$$;

-- Takes one admitted attempt's count back from a row: one failure fewer, and the wait that this
-- attempt's count set (and only that one) is lifted.
CREATE FUNCTION authd_limit_uncount(p_kind SMALLINT, p_account BYTEA, p_address BIGINT,
                                    p_attempt BIGINT, p_forgive DOUBLE PRECISION,
                                    OUT failures DOUBLE PRECISION, OUT blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
BEGIN
    UPDATE limit_counters AS c
       SET failures = greatest(0, authd_forgiven(c.failures, t - c.updated, p_forgive) - 1),
           updated = t,
           blocked_until = CASE WHEN c.blocked_by = p_attempt THEN 0 ELSE c.blocked_until END
     WHERE c.kind = p_kind AND c.account = p_account AND c.address = p_address
    RETURNING c.failures, greatest(0, c.blocked_until - t) INTO failures, blocked;
    failures := coalesce(failures, 0);
    blocked := coalesce(blocked, 0);
END
$$;

-- An admitted attempt succeeded: the budget it was counted in is cleared, the address's count
-- taken back, and the address known to the account (its time refreshed at most hourly, so that a
-- busy account does not notify every node at each login; the most recent p_per_account kept).
CREATE FUNCTION authd_limit_succeed(
    p_account BYTEA, p_address BIGINT, p_known BOOLEAN, p_attempt BIGINT,
    p_window DOUBLE PRECISION, p_per_account INTEGER, a_free INTEGER, i_free INTEGER,
    i_forgive DOUBLE PRECISION, OUT i_failures DOUBLE PRECISION, OUT i_blocked DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    changed INTEGER;
    oldest_kept DOUBLE PRECISION;
BEGIN
    i_failures := 0; i_blocked := 0;
    IF a_free > 0 THEN
        -- Cleared, not deleted: the owner's next login updates the row in place (a HOT update)
        -- instead of inserting it again; authd_limit_prune removes it once idle.
        UPDATE limit_counters SET failures = 0, updated = t, blocked_until = 0
         WHERE kind = CASE WHEN p_known THEN 1 ELSE 0 END AND account = p_account
           AND address = CASE WHEN p_known THEN p_address ELSE 0 END
           AND (failures <> 0 OR blocked_until <> 0);
    END IF;
    IF i_free > 0 THEN
        SELECT u.failures, u.blocked INTO i_failures, i_blocked
          FROM authd_limit_uncount(2::smallint, ''::bytea, p_address, p_attempt, i_forgive) AS u;
    END IF;
    IF a_free > 0 AND p_window > 0 THEN
        INSERT INTO known_addresses AS ka VALUES (p_account, p_address, t)
            ON CONFLICT (account, address) DO UPDATE SET last_success = EXCLUDED.last_success
            WHERE ka.last_success < EXCLUDED.last_success - 3600;
        GET DIAGNOSTICS changed = ROW_COUNT;
        IF changed > 0 THEN
            SELECT k.last_success INTO oldest_kept FROM known_addresses AS k
             WHERE k.account = p_account
             ORDER BY k.last_success DESC OFFSET p_per_account - 1 LIMIT 1;
            IF oldest_kept IS NOT NULL THEN
                DELETE FROM known_addresses AS k
                 WHERE k.account = p_account AND k.last_success < oldest_kept;
            END IF;
        END IF;
    END IF;
END
$$;

-- Failures a node counted by itself while it could not reach the server (accounts in hex),
-- added to their rows (the
-- wait recomputed from the sum, never shortened), all in the caller's one transaction: the rows
-- are locked in the order admissions lock them (kind, then key), so that a merge and admissions
-- on other nodes never wait for each other in a cycle.
CREATE FUNCTION authd_limit_merge(p_kinds SMALLINT[], p_accounts TEXT[], p_addresses BIGINT[],
                                  p_failures DOUBLE PRECISION[],
                                  a_free INTEGER, a_first DOUBLE PRECISION,
                                  a_max DOUBLE PRECISION, a_forgive DOUBLE PRECISION,
                                  i_free INTEGER, i_first DOUBLE PRECISION,
                                  i_max DOUBLE PRECISION, i_forgive DOUBLE PRECISION)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    t DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
    m RECORD;
    c limit_counters;
    f DOUBLE PRECISION;
    free INTEGER;
    merged INTEGER := 0;
BEGIN
    FOR m IN SELECT u.kind, decode(u.account, 'hex') AS account, u.address, u.failures
               FROM unnest(p_kinds, p_accounts, p_addresses, p_failures)
                    AS u(kind, account, address, failures)
              ORDER BY 1, 2, 3 LOOP
        free := CASE WHEN m.kind = 2 THEN i_free ELSE a_free END;
        INSERT INTO limit_counters AS x VALUES (m.kind, m.account, m.address, 0, t, 0, 0)
            ON CONFLICT (kind, account, address) DO UPDATE SET kind = x.kind RETURNING * INTO c;
        f := authd_forgiven(c.failures, t - c.updated,
                            CASE WHEN m.kind = 2 THEN i_forgive ELSE a_forgive END) + m.failures;
        UPDATE limit_counters
           SET failures = f, updated = t,
               blocked_until = CASE WHEN f > free
                                    THEN greatest(blocked_until, t + CASE WHEN m.kind = 2
                                        THEN authd_backoff(f - free, i_first, i_max)
                                        ELSE authd_backoff(f - free, a_first, a_max) END)
                                    ELSE blocked_until END
         WHERE kind = m.kind AND account = m.account AND address = m.address;
        merged := merged + 1;
    END LOOP;
    RETURN merged;
END
$$;
)sql";

namespace {

// Accounts travel as 64 hex digits (account_digest::hex()), decoded by the server.
constexpr pg_statement admit_sql{
    "authd_limit_admit",
    "SELECT wait, refused_by, known, a_failures, a_blocked, i_failures, i_blocked FROM "
    "authd_limit_admit(decode($1, 'hex'), $2::bigint, $3::bigint, $4::float8, $5::integer, "
    "$6::float8, $7::float8, $8::float8, $9::integer, $10::float8, $11::float8, $12::float8)",
    12, "cannot admit a login attempt"};
constexpr pg_statement succeed_sql{
    "authd_limit_succeed",
    "SELECT i_failures, i_blocked FROM authd_limit_succeed(decode($1, 'hex'), $2::bigint, "
    "$3::boolean, $4::bigint, $5::float8, $6::integer, $7::integer, $8::integer, $9::float8)",
    9, "cannot record a successful login's counts"};
constexpr pg_statement release_sql{
    "authd_limit_release",
    "SELECT (authd_limit_uncount($1::smallint, decode($2, 'hex'), $3::bigint, $4::bigint, "
    "$5::float8)).failures WHERE $6::boolean UNION ALL SELECT (authd_limit_uncount(2::smallint, "
    "''::bytea, $7::bigint, $4::bigint, $8::float8)).failures WHERE $9::boolean",
    9, "cannot take back an undecided attempt's counts"};
// One statement, so one transaction, for a batch: the arrays as PostgreSQL's text form.
constexpr pg_statement merge_sql{
    "authd_limit_merge",
    "SELECT authd_limit_merge($1::smallint[], $2::text[], $3::bigint[], $4::float8[], "
    "$5::integer, $6::float8, $7::float8, $8::float8, $9::integer, $10::float8, $11::float8, "
    "$12::float8)",
    12, "cannot merge counts made while the server was unreachable"};
constexpr pg_statement known_sql{
    "authd_known_addresses",
    "SELECT encode(account, 'hex'), address, extract(epoch FROM clock_timestamp()) - "
    "last_success FROM "
    "known_addresses WHERE last_success > extract(epoch FROM clock_timestamp()) - $1::float8",
    1, "cannot read the known addresses"};
constexpr pg_statement check_sql{nullptr, "SELECT 1", 0, "cannot reach the server"};
constexpr pg_statement prune_sql{"authd_limit_prune",
                                 "SELECT authd_limit_prune($1::float8, $2::float8, $3::float8)", 3,
                                 "cannot prune the counters"};

std::string seconds(std::chrono::seconds s) {
    return std::to_string(s.count());
}

std::string integer(std::int64_t v) {
    return std::to_string(v);
}

// Addresses are 64-bit keys; SQL's BIGINT is signed: the same bits.
std::string address_text(std::uint64_t address) {
    return std::to_string(static_cast<std::int64_t>(address));
}

double number(std::string_view text) {
    // libpq's text of a double precision: strtod reads every form PostgreSQL writes.
    const std::string copy(text);
    return std::strtod(copy.c_str(), nullptr);
}

limit_budget budget_of(std::string_view text) {
    if (text == "account") {
        return limit_budget::account;
    }
    if (text == "known_address") {
        return limit_budget::known_address;
    }
    if (text == "address") {
        return limit_budget::address;
    }
    return limit_budget::none;
}

class pg_limit_store final : public limit_store {
  public:
    pg_limit_store(const pg_target& target, pg_runner& runner) : target_(target), runner_(runner) {}

    limit_verdict admit(const account_digest& account, std::uint64_t address,
                        const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto window =
            seconds(c.known_addresses_on() ? c.known_address_window : std::chrono::seconds(0));
        const auto a_free = integer(c.account.free_failures);
        const auto a_first = seconds(c.account.first_backoff);
        const auto a_max = seconds(c.account.max_backoff);
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_free = integer(c.address.free_failures);
        const auto i_first = seconds(c.address.first_backoff);
        const auto i_max = seconds(c.address.max_backoff);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto r = runner_.run(admit_sql,
                                   {name, addr, id, window, a_free, a_first, a_max, a_forgive,
                                    i_free, i_first, i_max, i_forgive},
                                   PGRES_TUPLES_OK, false);
        if (PQntuples(r.get()) != 1) {
            target_.fail("cannot admit a login attempt: no answer");
        }
        limit_verdict v;
        v.wait = static_cast<std::uint32_t>(number(pg_text(*r, 0, 0)));
        v.refused_by = budget_of(pg_text(*r, 0, 1));
        v.known = pg_text(*r, 0, 2) == "t";
        v.account = {number(pg_text(*r, 0, 3)), number(pg_text(*r, 0, 4))};
        v.address = {number(pg_text(*r, 0, 5)), number(pg_text(*r, 0, 6))};
        return v;
    }

    limit_verdict succeed(const account_digest& account, std::uint64_t address, bool known,
                          const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto window =
            seconds(c.known_addresses_on() ? c.known_address_window : std::chrono::seconds(0));
        const auto per_account = integer(static_cast<std::int64_t>(c.known_addresses_per_account));
        const auto a_free = integer(c.account.free_failures);
        const auto i_free = integer(c.address.free_failures);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto r = runner_.run(succeed_sql,
                                   {name, addr, known ? "true" : "false", id, window, per_account,
                                    a_free, i_free, i_forgive},
                                   PGRES_TUPLES_OK, false);
        limit_verdict v;
        v.known = known;
        if (PQntuples(r.get()) == 1) {
            v.address = {number(pg_text(*r, 0, 0)), number(pg_text(*r, 0, 1))};
        }
        return v;
    }

    void release(const account_digest& account, std::uint64_t address, bool known,
                 const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_forgive = seconds(c.address.forgive_every);
        runner_.run(release_sql,
                    {known ? "1" : "0", name, known ? std::string_view(addr) : "0", id, a_forgive,
                     c.account.enabled() ? "true" : "false", addr, i_forgive,
                     c.address.enabled() ? "true" : "false"},
                    PGRES_TUPLES_OK, false);
    }

    void merge(const std::vector<unshared_count>& counts, const limiter_config& c) override {
        if (counts.empty()) {
            return;
        }
        // PostgreSQL's text form of the four arrays: numbers, and hex in double quotes (so that
        // the address budgets' empty account is an element, not nothing).
        std::string kinds = "{";
        std::string accounts = "{";
        std::string addresses = "{";
        std::string failures = "{";
        for (const auto& count : counts) {
            const char* sep = kinds.size() > 1 ? "," : "";
            const bool address_budget = count.budget == limit_budget::address;
            kinds += sep;
            kinds += count.budget == limit_budget::account         ? "0"
                     : count.budget == limit_budget::known_address ? "1"
                                                                   : "2";
            accounts += sep;
            accounts += '"';
            accounts += address_budget ? std::string() : count.account.hex();
            accounts += '"';
            addresses += sep;
            addresses += address_text(count.address);
            failures += sep;
            failures += std::to_string(count.failures);
        }
        for (auto* array : {&kinds, &accounts, &addresses, &failures}) {
            array->push_back('}');
        }
        runner_.run(merge_sql,
                    {kinds, accounts, addresses, failures, integer(c.account.free_failures),
                     seconds(c.account.first_backoff), seconds(c.account.max_backoff),
                     seconds(c.account.forgive_every), integer(c.address.free_failures),
                     seconds(c.address.first_backoff), seconds(c.address.max_backoff),
                     seconds(c.address.forgive_every)},
                    PGRES_TUPLES_OK, false);
    }

    void check() override { runner_.run(check_sql, {}, PGRES_TUPLES_OK, true); }

    std::vector<known_address_entry> known_addresses(const limiter_config& c) override {
        std::vector<known_address_entry> out;
        if (!c.known_addresses_on()) {
            return out;
        }
        const auto window = seconds(c.known_address_window);
        runner_.rows(known_sql, {window}, [&](const PGresult& row) {
            std::int64_t address = 0;
            const auto text = pg_text(row, 0, 1);
            std::from_chars(text.data(), text.data() + text.size(), address);
            const auto account = account_digest::from_hex(pg_text(row, 0, 0));
            if (account) {
                out.push_back(
                    {*account, static_cast<std::uint64_t>(address), number(pg_text(row, 0, 2))});
            }
        });
        return out;
    }

    void prune(const limiter_config& c) override {
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto window = seconds(c.known_address_window);
        runner_.run(prune_sql, {a_forgive, i_forgive, window}, PGRES_TUPLES_OK, true);
    }

    bool shared() const noexcept override { return true; }

  private:
    const pg_target& target_;
    pg_runner& runner_;
};

}  // namespace

const std::array<const pg_statement*, 6> pg_limit_statements{&admit_sql, &succeed_sql, &release_sql,
                                                             &merge_sql, &known_sql,   &prune_sql};

std::optional<pg_known_address> parse_known_address(std::string_view payload) noexcept {
    const auto space = payload.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= payload.size()) {
        return std::nullopt;
    }
    std::int64_t address = 0;
    const auto* end = payload.data() + space;
    const auto [ptr, ec] = std::from_chars(payload.data(), end, address);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    const auto account = account_digest::from_hex(payload.substr(space + 1));
    if (!account) {
        return std::nullopt;
    }
    return pg_known_address{static_cast<std::uint64_t>(address), *account};
}

std::unique_ptr<limit_store> make_pg_limit_store(const pg_target& target, pg_runner& runner) {
    return std::make_unique<pg_limit_store>(target, runner);
}

}  // namespace authd::detail
