-- procession's schema. Idempotent: run at every start.
-- The events table keeps the layout of eventsourcing's PostgreSQL application recorder
-- (table "<application name>_events"), so the library's own reader can load our aggregates;
-- the extra columns are ours.
CREATE TABLE IF NOT EXISTS procession_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    hash bytea NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX IF NOT EXISTS procession_events_notification_id_idx
    ON procession_events (notification_id ASC);

CREATE TABLE IF NOT EXISTS procession_idempotency (
    key text PRIMARY KEY,
    result bytea,
    position bigint,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS procession_tracking (
    name text PRIMARY KEY,
    position bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS procession_tokens (
    token_hash text PRIMARY KEY,
    username text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'user')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Tokens (issue 9): a public id to list and revoke by, an optional expiry, revocation and
-- last use; and the teams of each user, which Hackney assignments may name.
ALTER TABLE procession_tokens ADD COLUMN IF NOT EXISTS id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE procession_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE procession_tokens ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
ALTER TABLE procession_tokens ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS procession_tokens_id_idx ON procession_tokens (id);
CREATE TABLE IF NOT EXISTS procession_users (
    username text PRIMARY KEY,
    teams text[] NOT NULL DEFAULT '{}'
);
-- Every process caches tokens it has seen: a change that could refuse one (revoked, expiry,
-- role, deleted) or change what it may see (a user's teams) is announced to all of them.
-- Touching last_used_at alone announces nothing.
CREATE OR REPLACE FUNCTION procession_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'procession_users' THEN
        PERFORM pg_notify('procession_tokens', 'user:' || coalesce(NEW.username, OLD.username));
    ELSE
        PERFORM pg_notify('procession_tokens', 'token:' || OLD.token_hash);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS procession_tokens_changed ON procession_tokens;
CREATE TRIGGER procession_tokens_changed
    AFTER UPDATE OF revoked_at, expires_at, role, username OR DELETE ON procession_tokens
    FOR EACH ROW EXECUTE FUNCTION procession_tokens_changed();
DROP TRIGGER IF EXISTS procession_users_changed ON procession_users;
CREATE TRIGGER procession_users_changed
    AFTER INSERT OR UPDATE OR DELETE ON procession_users
    FOR EACH ROW EXECUTE FUNCTION procession_tokens_changed();

-- One call appends a whole batch of commands: each command's events are checked against
-- the versions they expect and written with a SHA-256 hash chained to the event before
-- them in the global order, or the command is answered 'conflict' / 'duplicate' alone.
-- The EXCLUSIVE lock serialises writers, so notification ids are assigned in commit order
-- and a reader that has seen position N will never later see an event below N appear.
-- Set-based where it can be: one lookup of every aggregate's current version, one INSERT
-- of every accepted event; only the checks and the chain walk the batch row by row.
CREATE OR REPLACE FUNCTION procession_append(
    p_command int[], p_ids uuid[], p_versions bigint[], p_topics text[], p_states bytea[],
    p_keys text[], p_results bytea[]
) RETURNS TABLE (command int, outcome text, first_position bigint, last_position bigint, result bytea)
LANGUAGE plpgsql AS $$
DECLARE
    n_commands int := coalesce(array_length(p_keys, 1), 0);
    n_events int := coalesce(array_length(p_ids, 1), 0);
    c int;
    i int;
    k int;
    j int := 1;
    start_j int;
    prev bytea;
    pos bigint;
    current_version bigint;
    stored bytea;
    ok boolean;
    last_written bigint := NULL;
    seq regclass := pg_get_serial_sequence('procession_events', 'notification_id')::regclass;
    known_ids uuid[];          -- every aggregate of the batch ...
    known_versions bigint[];   -- ... and its version so far (stored, then written by this batch)
    w_ids uuid[] := '{}';
    w_versions bigint[] := '{}';
    w_topics text[] := '{}';
    w_states bytea[] := '{}';
    w_positions bigint[] := '{}';
    w_hashes bytea[] := '{}';
BEGIN
    LOCK TABLE procession_events IN EXCLUSIVE MODE;
    SELECT e.hash INTO prev FROM procession_events e ORDER BY e.notification_id DESC LIMIT 1;
    prev := coalesce(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    SELECT array_agg(a.id), array_agg(coalesce(
               (SELECT e.originator_version FROM procession_events e WHERE e.originator_id = a.id
                ORDER BY e.originator_version DESC LIMIT 1), 0))
        INTO known_ids, known_versions
        FROM (SELECT DISTINCT unnest(p_ids) AS id) a;
    FOR c IN 1..n_commands LOOP
        start_j := j;
        WHILE j <= n_events AND p_command[j] = c LOOP
            j := j + 1;
        END LOOP;
        IF p_keys[c] IS NOT NULL THEN
            SELECT ik.result INTO stored FROM procession_idempotency ik WHERE ik.key = p_keys[c];
            IF FOUND THEN
                command := c; outcome := 'duplicate'; first_position := NULL;
                last_position := NULL; result := stored;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        ok := true;
        -- The first event of each aggregate in the command says which version it expects.
        FOR i IN start_j..j - 1 LOOP
            IF i = start_j OR NOT (p_ids[i] = ANY (p_ids[start_j:i - 1])) THEN
                current_version := known_versions[array_position(known_ids, p_ids[i])];
                IF current_version <> p_versions[i] - 1 THEN
                    ok := false;
                    EXIT;
                END IF;
            END IF;
        END LOOP;
        IF NOT ok THEN
            command := c; outcome := 'conflict'; first_position := NULL;
            last_position := NULL; result := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        first_position := NULL;
        FOR i IN start_j..j - 1 LOOP
            pos := nextval(seq);
            prev := sha256(prev || int8send(pos) || uuid_send(p_ids[i]) || int8send(p_versions[i])
                           || convert_to(p_topics[i], 'UTF8') || p_states[i]);
            w_ids := w_ids || p_ids[i];
            w_versions := w_versions || p_versions[i];
            w_topics := w_topics || p_topics[i];
            w_states := w_states || p_states[i];
            w_positions := w_positions || pos;
            w_hashes := w_hashes || prev;
            k := array_position(known_ids, p_ids[i]);
            known_versions[k] := p_versions[i];
            first_position := coalesce(first_position, pos);
            last_written := pos;
        END LOOP;
        IF p_keys[c] IS NOT NULL THEN
            INSERT INTO procession_idempotency (key, result, position)
                VALUES (p_keys[c], p_results[c], last_written);
        END IF;
        command := c; outcome := 'appended'; last_position := last_written; result := NULL;
        RETURN NEXT;
    END LOOP;
    IF last_written IS NOT NULL THEN
        INSERT INTO procession_events (originator_id, originator_version, topic, state, notification_id, hash)
            SELECT * FROM unnest(w_ids, w_versions, w_topics, w_states, w_positions, w_hashes);
        PERFORM pg_notify('procession_events', last_written::text);
    END IF;
END;
$$;

-- Leases: one holder at a time for singleton workers (the Kafka relay, schedulers),
-- across every service process sharing this database.
CREATE TABLE IF NOT EXISTS procession_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Script runs: one claim per requested automated task (the instance and the version of its
-- AutomatedTaskRequested event). A worker holds a claim while its lease is renewed; a claim
-- whose lease ran out belongs to a lost worker, and the next claimant fails that run.
CREATE TABLE IF NOT EXISTS script_run_claims (
    instance_id uuid NOT NULL,
    request_version bigint NOT NULL,
    worker text NOT NULL,
    lease_until timestamptz NOT NULL,
    attempts int NOT NULL DEFAULT 1,
    done boolean NOT NULL DEFAULT false,
    claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (instance_id, request_version)
);

-- Cron: the last fire time started per definition (fires missed while down collapse into one).
CREATE TABLE IF NOT EXISTS cron_state (
    definition_id uuid PRIMARY KEY,
    last_fire timestamptz NOT NULL
);

-- Concord handlers: a process that ended badly whose onFailure/onCancel/onTimeout process was
-- started (or could not be), so each is started once. The child names its parent itself.
CREATE TABLE IF NOT EXISTS handler_runs (
    instance_id uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Portal sessions (a browser signed in with a token): the cookie holds a random id, only its
-- hash is stored. Deleting the token (revoking it) ends every session started with it.
CREATE TABLE IF NOT EXISTS procession_sessions (
    session_hash text PRIMARY KEY,
    token_hash text NOT NULL REFERENCES procession_tokens (token_hash) ON DELETE CASCADE,
    csrf text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS procession_sessions_token_idx ON procession_sessions (token_hash);
-- Which sets of migrations (by fingerprint of their text) have been applied: `db check` and /readyz.
CREATE TABLE IF NOT EXISTS procession_migrations (
    fingerprint text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
