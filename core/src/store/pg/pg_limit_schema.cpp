// The PostgreSQL counters' tables and the functions that count (pg_limit_store.hpp): schema
// versions 4 and 5 of the store's schema (pg_backend.cpp's list of steps). Append only: databases
// out there have run them.
#include "pg_limit_store.hpp"

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

}  // namespace authd::detail
