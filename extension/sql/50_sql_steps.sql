-- Clockwork install script, part 5: what runs on an SQL step's own connection.
-- A supervisor runs an SQL step on a connection logged in as the job's owner (see
-- docs/sql-steps.md). These two functions are called there, by the owner's session, so
-- EXECUTE is granted to PUBLIC: one is harmless (a wait), the other is fenced by a secret
-- that only the claim's holder received from tick.

-- The step's completion, committed in the step's own transaction: its statements and this
-- record commit together or not at all (exactly once). It does not depend on anything the
-- step may have changed in the transaction: it is SECURITY DEFINER with a pinned
-- search_path (pg_temp last), reads no setting, and does not look at current_user.
--   - Only the claim's holder knows `claim`; only its SHA-256 is stored (claim_hash, a
--     column job owners cannot read).
--   - A late call (the lease passed to a new attempt, the run was cancelled) finds no
--     running step under that claim and raises, so the step's work is rolled back.
--   - Times are wall-clock: started_at is when the message holding the step reached the
--     server (statement_timestamp()), finished_at is now (clock_timestamp()).
-- The result rows and the run's next decision follow in the supervisor's next tick
-- (awaiting_report); if that never comes, tick decides the run without the rows.
CREATE FUNCTION _finish_sql_step(step_run bigint, claim text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    held step_runs;
BEGIN
    UPDATE step_runs AS s
       SET state = 'succeeded', started_at = statement_timestamp(), finished_at = clock_timestamp(),
           lease_expires_at = NULL, awaiting_report = true
     WHERE s.id = _finish_sql_step.step_run
       AND s.claim_hash = sha256(convert_to(_finish_sql_step.claim, 'UTF8'))
       -- running, said as NOT IN so the plan uses the primary key (see finishRun in extension/src/db/statements.ts)
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'skipped', 'cancelled', 'lost')
       -- a step claimed ahead never begins before its start (its now() would precede its slot)
       AND NOT (s.started_at > transaction_timestamp() AND s.started_at <= transaction_timestamp() + interval '1 second');
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO held FROM step_runs AS s
     WHERE s.id = _finish_sql_step.step_run AND s.claim_hash = sha256(convert_to(_finish_sql_step.claim, 'UTF8'));
    IF held.id IS NOT NULL AND held.state = 'running' THEN
        RAISE EXCEPTION 'step run % starts at %, after this transaction began', step_run, held.started_at
            USING ERRCODE = @sqlstate:too_early@,
                  DETAIL = format('early_ms=%s', ceil(extract(epoch FROM held.started_at - transaction_timestamp()) * 1000)),
                  HINT = @hint:too_early@;
    END IF;
    RAISE EXCEPTION 'step run % is no longer held by this claim%', step_run,
        CASE WHEN held.id IS NULL THEN '' ELSE format(' (it is %s)', held.state) END
        USING ERRCODE = @sqlstate:claim_not_held@, HINT = @hint:claim_not_held@;
END
$$;
COMMENT ON FUNCTION _finish_sql_step(bigint, text) IS
    'Called last in an SQL step''s own transaction, on the owner''s connection: records the step as succeeded, fenced by the claim''s secret; raises (rolling the step back) when the claim no longer holds.';

-- Returns at `at` by the database's clock. A supervisor calls it on an SQL step's
-- connection a few milliseconds before the step's start, then sends the step at once: its
-- transaction, hence its now() and current_date, begins right at its start, with no clock
-- of the supervisor's in between. pg_sleep for the bulk, then a spin on clock_timestamp()
-- for the last stretch (a few microseconds per turn). At most a second: it holds no lock,
-- but it holds a connection.
CREATE FUNCTION wait_until(at timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    remaining double precision := extract(epoch FROM wait_until.at - clock_timestamp());
BEGIN
    IF remaining > 1 THEN
        RAISE EXCEPTION 'wait_until waits at most 1000 ms, not % ms', round(remaining * 1000)
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    IF remaining > 0.002 THEN
        PERFORM pg_sleep(remaining - 0.0015);
    END IF;
    WHILE clock_timestamp() < wait_until.at LOOP
        -- spin: about a millisecond at most
    END LOOP;
END
$$;
COMMENT ON FUNCTION wait_until(timestamptz) IS
    'Returns at `at` by the database''s clock (at most 1 s ahead; pg_sleep, then a spin on clock_timestamp()). A supervisor calls it on an SQL step''s connection just before the step''s start; holds no lock.';

-- The commit of a run's transaction (transaction: run), sent by the supervisor that holds
-- it, last in that transaction and followed by COMMIT in the same message: the run's
-- statements and this mark commit together or not at all, so a run's work is kept exactly
-- when the scheduler records it as committed. Fenced like _finish_sql_step: only the holder
-- knows the claim secret of the run's first SQL step; the mark is taken only while the
-- scheduler asks for it (committing: every step and check succeeded) and the holder's
-- incarnation is current. A run that ended meanwhile (cancelled, timed out, its holder
-- found gone) has no such row, and the call raises: the transaction rolls back. The row
-- lock orders this against the scheduler's end of the run (db/lifecycle.ts).
CREATE FUNCTION _commit_run(run bigint, claim text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    held run_transactions;
BEGIN
    UPDATE run_transactions AS t
       SET state = 'committed', committed_at = clock_timestamp()
     WHERE t.run_id = _commit_run.run
       AND t.claim_hash = sha256(convert_to(_commit_run.claim, 'UTF8'))
       AND t.state = 'committing'
       AND EXISTS (SELECT 1 FROM workers AS w WHERE w.id = t.worker_id AND w.stopped_at IS NULL);
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO held FROM run_transactions AS t
     WHERE t.run_id = _commit_run.run AND t.claim_hash = sha256(convert_to(_commit_run.claim, 'UTF8'));
    RAISE EXCEPTION 'run % may not commit its transaction%', run,
        CASE WHEN held.run_id IS NULL THEN ' (the run ended, or this is not its holder)' ELSE format(' (it is %s)', held.state) END
        USING ERRCODE = @sqlstate:claim_not_held@, HINT = @hint:claim_not_held@;
END
$$;
COMMENT ON FUNCTION _commit_run(bigint, text) IS
    'Called last in a run''s transaction (transaction: run), on the owner''s connection, before COMMIT: marks the run''s transaction committed, fenced by the claim secret of its first SQL step; raises (rolling the run''s work back) when the run may not commit.';
