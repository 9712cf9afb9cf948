-- Clockwork install script, part 4: the supervisor's bookkeeping calls.
-- These only record facts (a worker exists, is alive, produced output); every decision
-- about what runs next is taken by tick/complete_step in the TypeScript core.
-- Who may call them is decided by EXECUTE grants (to clockwork_supervisor only, in
-- 60_privileges.sql and in the generated part), not by checks inside each call.

-- How long a claim stays a worker's without a heartbeat. Supervisors heartbeat every
-- third of it; a worker silent for longer has its steps taken over (attempt + 1).
CREATE FUNCTION lease_duration() RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT interval '30 seconds' $$;
COMMENT ON FUNCTION lease_duration() IS 'How long a step claim lasts without a heartbeat (30 s).';

-- Output kept per step and stream; beyond it the tail is dropped and marked.
CREATE FUNCTION output_limit() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1048576 $$;
COMMENT ON FUNCTION output_limit() IS 'Characters of stdout and of stderr kept per step run (1 MiB each).';

-- One MAJOR.MINOR on both sides (UPDATING.md). A supervisor announces its version in the
-- session setting clockwork.supervisor_version; one of 1.0, which announced nothing, is
-- known by its application_name. Anyone else calling the API by hand is not checked.
CREATE FUNCTION _check_supervisor_version() RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    announced text := nullif(current_setting('clockwork.supervisor_version', true), '');
BEGIN
    IF announced IS NULL AND coalesce(current_setting('application_name', true), '') NOT LIKE 'clockwork supervisor %' THEN
        RETURN;
    END IF;
    IF announced IS NULL OR substring(announced FROM '^[0-9]+\.[0-9]+') IS DISTINCT FROM @extension_version@ THEN
        RAISE EXCEPTION 'incompatible supervisor: this database has clockwork % and works with supervisors %.x only; this one is %',
                        @extension_version@, @extension_version@, coalesce(announced, '1.0 (it announces no version)')
            USING ERRCODE = @sqlstate:incompatible_version@, HINT = @hint:incompatible_version@;
    END IF;
END
$$;
COMMENT ON FUNCTION _check_supervisor_version() IS
    'Raises incompatible_version when the calling session is a supervisor of another MAJOR.MINOR than this extension (register_worker and tick call it).';

CREATE FUNCTION register_worker(
    name    text,
    labels  text[]      DEFAULT '{}',
    host    text        DEFAULT NULL,
    pid     integer     DEFAULT NULL,
    now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    worker_id bigint;
    last_alive_at timestamptz;
BEGIN
    PERFORM _check_supervisor_version();
    -- The scheduler "starts" on this database when a worker registers while no other is
    -- alive: @reboot schedules come due now. The lock makes two workers starting at the
    -- same moment agree on one start; it is taken first, so two registrations never hold
    -- the workers table while waiting for each other. The lock of a table of its own, not
    -- an advisory lock: any role can take an advisory lock (a job's SQL step could hold
    -- this one for hours), and no role but the extension's owner can lock this table.
    LOCK TABLE scheduler_start_lock IN EXCLUSIVE MODE;
    IF register_worker.name IS NULL OR register_worker.name !~ '^[A-Za-z0-9_.:@-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid worker name %', coalesce(quote_literal(register_worker.name), 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Use 1 to 128 letters, digits, and _ . : @ -.';
    END IF;
    -- The last sign of life of any regular worker before this start (its own included): a
    -- gap longer than a lease was an outage, recorded as an alert (docs/alerts.md).
    SELECT max(greatest(heartbeat_at, stopped_at)) INTO last_alive_at FROM workers WHERE NOT dedicated;
    INSERT INTO workers AS w (name, labels, host, pid, started_at, heartbeat_at)
    VALUES (register_worker.name, coalesce(register_worker.labels, '{}'), register_worker.host,
            register_worker.pid, register_worker.now, register_worker.now)
    ON CONFLICT ON CONSTRAINT workers_name_key DO UPDATE
       SET labels = excluded.labels, host = excluded.host, pid = excluded.pid,
           started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
           dedicated = false
    RETURNING w.id INTO worker_id;
    IF NOT EXISTS (SELECT 1 FROM workers AS other
                    WHERE other.id <> worker_id AND other.stopped_at IS NULL AND NOT other.dedicated
                      AND other.heartbeat_at > register_worker.now - lease_duration()) THEN
        UPDATE schedules AS s SET next_fire_at = register_worker.now
          FROM jobs AS j
         WHERE j.id = s.job_id AND j.enabled AND s.kind = 'reboot';
        PERFORM _scheduler_started(register_worker.name, last_alive_at, register_worker.now);
    END IF;
    RETURN jsonb_build_object(
        'worker_id', worker_id::text,
        'lease_ms', (extract(epoch FROM lease_duration()) * 1000)::bigint);
END
$$;
COMMENT ON FUNCTION register_worker(text, text[], text, integer, timestamptz) IS
    'Registers (or re-registers) a supervisor under a unique name with its labels; returns its id and the lease length.';

CREATE FUNCTION register_dedicated_worker(
    name    text,
    labels  text[]      DEFAULT '{}',
    host    text        DEFAULT NULL,
    pid     integer     DEFAULT NULL,
    now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    worker_id bigint;
BEGIN
    PERFORM _check_supervisor_version();
    IF register_dedicated_worker.name IS NULL OR register_dedicated_worker.name !~ '^[A-Za-z0-9_.:@-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid worker name %', coalesce(quote_literal(register_dedicated_worker.name), 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Use 1 to 128 letters, digits, and _ . : @ -.';
    END IF;
    -- It carries the label that pins a job to it by name (a job's `node`), and claims
    -- nothing else (see tick). It is no scheduler start: @reboot jobs do not fire for it.
    INSERT INTO workers AS w (name, labels, host, pid, started_at, heartbeat_at, dedicated)
    VALUES (register_dedicated_worker.name,
            array_append(coalesce(register_dedicated_worker.labels, '{}'), 'node:' || register_dedicated_worker.name),
            register_dedicated_worker.host, register_dedicated_worker.pid,
            register_dedicated_worker.now, register_dedicated_worker.now, true)
    ON CONFLICT ON CONSTRAINT workers_name_key DO UPDATE
       SET labels = excluded.labels, host = excluded.host, pid = excluded.pid,
           started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
           dedicated = true
    RETURNING w.id INTO worker_id;
    RETURN jsonb_build_object(
        'worker_id', worker_id::text,
        'lease_ms', (extract(epoch FROM lease_duration()) * 1000)::bigint);
END
$$;
COMMENT ON FUNCTION register_dedicated_worker(text, text[], text, integer, timestamptz) IS
    'Registers a dedicated worker: it runs only the steps of jobs pinned to it by name (node), fires no schedule slot and is no scheduler start (clockwork run uses one in-process).';

CREATE FUNCTION heartbeat(worker text, now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    me        bigint;
    extended  integer;
    cancelled text[];
BEGIN
    UPDATE workers SET heartbeat_at = heartbeat.now, stopped_at = NULL
     WHERE name = heartbeat.worker
    RETURNING id INTO me;
    IF me IS NULL THEN
        RAISE EXCEPTION 'unknown worker "%"', heartbeat.worker
            USING ERRCODE = @sqlstate:unknown_worker@, HINT = @hint:unknown_worker@;
    END IF;
    -- Only leases still held are extended: an expired one has already been handed over.
    -- A step row locked by someone deciding its run is skipped, not waited for (the lock
    -- order of docs/state-machine.md): its lease is extended by the next heartbeat.
    UPDATE step_runs
       SET lease_expires_at = heartbeat.now + lease_duration()
     WHERE id IN (SELECT id FROM step_runs
                   WHERE worker_id = me AND state = 'running' AND lease_expires_at > heartbeat.now
                     FOR NO KEY UPDATE SKIP LOCKED);
    GET DIAGNOSTICS extended = ROW_COUNT;
    -- Steps to stop: cancelled ones, and running ones whose run is being cancelled (a
    -- graceful cancel: the run ends when its steps have stopped).
    SELECT coalesce(array_agg(id::text ORDER BY id), '{}') INTO cancelled
      FROM (SELECT s.id FROM step_runs AS s
             WHERE s.worker_id = me AND s.state = 'cancelled' AND s.finished_at > heartbeat.now - 2 * lease_duration()
            UNION ALL
            SELECT s.id FROM step_runs AS s JOIN runs AS r ON r.id = s.run_id
             WHERE s.worker_id = me AND s.state = 'running' AND r.cancel_requested_at IS NOT NULL) AS stop;
    RETURN jsonb_build_object('extended', extended, 'cancel', to_jsonb(cancelled));
END
$$;
COMMENT ON FUNCTION heartbeat(text, timestamptz) IS
    'Marks a worker alive and extends the leases it still holds; returns the step runs it holds that were cancelled.';

CREATE FUNCTION append_output(step_run bigint, worker text, stream text, chunk text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    room integer;
BEGIN
    IF stream NOT IN ('stdout', 'stderr') THEN
        RAISE EXCEPTION 'invalid stream %', quote_literal(stream)
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Use stdout or stderr.';
    END IF;
    -- Fencing: only the current lease holder may write, and only while running.
    UPDATE step_runs AS s
       SET stdout = CASE WHEN stream = 'stdout' THEN s.stdout || left(chunk, greatest(output_limit() - length(s.stdout), 0)) ELSE s.stdout END,
           stderr = CASE WHEN stream = 'stderr' THEN s.stderr || left(chunk, greatest(output_limit() - length(s.stderr), 0)) ELSE s.stderr END,
           output_truncated = s.output_truncated
               OR length(chunk) > output_limit() - length(CASE WHEN stream = 'stdout' THEN s.stdout ELSE s.stderr END)
      FROM workers AS w
     WHERE s.id = step_run AND s.worker_id = w.id AND w.name = worker
       -- running, said as NOT IN so the plan uses the primary key, not a partial index
       -- whose statistics are stale after a burst (see finishRun in extension/src/db/statements.ts)
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost');
    GET DIAGNOSTICS room = ROW_COUNT;
    RETURN room = 1;
END
$$;
COMMENT ON FUNCTION append_output(bigint, text, text, text) IS
    'Appends live output of a running step (bounded by output_limit()); false when the caller no longer holds the lease.';

CREATE FUNCTION release_worker(worker text, now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    me       bigint;
    released integer;
BEGIN
    UPDATE workers SET stopped_at = greatest(release_worker.now, started_at)
     WHERE name = release_worker.worker
    RETURNING id INTO me;
    -- Steps still held expire at once, so the next tick hands them to another worker.
    UPDATE step_runs
       SET lease_expires_at = release_worker.now
     WHERE worker_id = me AND state = 'running';
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM pg_notify('clockwork_wakeup', release_worker.now::text);
    END IF;
    RETURN released;
END
$$;
COMMENT ON FUNCTION release_worker(text, timestamptz) IS
    'Clean shutdown of a worker: marks it stopped and ends its leases so other workers take its steps over; returns how many.';
