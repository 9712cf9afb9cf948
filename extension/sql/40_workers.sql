-- Clockwork install script, part 4: the supervisor's bookkeeping calls.
-- These only record facts (a worker exists, is alive, produced output); every decision
-- about what runs next is taken by tick/complete_step in the TypeScript core.
-- Who may call them is decided by EXECUTE grants (to clockwork_supervisor only, in
-- 60_privileges.sql and in the generated part), not by checks inside each call.
--
-- Workers are incarnations (docs/faults.md, "Workers"). Every start of a supervisor is a
-- new row of clockwork.workers, even under the same name, and the supervisor passes that
-- row's id with every call: a process that a newer incarnation replaced can neither
-- extend a lease nor report anything. A supervisor registers with start_worker on the
-- session it keeps open (its LISTEN connection); that session is its proof of life:
--   present       its session is connected: alive;
--   gone          its session ended while the server kept running: the process closed
--                 it or died (kill -9 closes its sockets at once), so its leases are taken
--                 back now, without waiting for them to expire;
--   heartbeating  no session to look at (registered by hand with register_worker, or its
--                 session was lost with a server restart or a failover and it has not
--                 re-attached yet): alive while its heartbeat is younger than a lease;
--   lapsed        the same, with an older heartbeat;
--   ended         it shut down (release_worker) or was found gone or lapsed.
-- A second live supervisor under a name is refused (worker_name_in_use). Ended
-- incarnations are deleted by tick once none of their steps is left to settle.

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

CREATE FUNCTION _worker_liveness(w workers, now timestamptz) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    IF w.stopped_at IS NOT NULL THEN
        RETURN 'ended';
    END IF;
    -- A session recorded in this server's current life proves life while it exists. Its
    -- pid alone could be a later backend's: backend_start tells them apart (it reads NULL
    -- only to a role without pg_read_all_stats, and the owner of these functions has it).
    IF w.session_pid IS NOT NULL AND w.session_server_start = pg_postmaster_start_time() THEN
        IF EXISTS (SELECT 1 FROM pg_stat_get_activity(w.session_pid) AS a
                    WHERE a.backend_start IS NULL OR a.backend_start = w.session_started_at) THEN
            RETURN 'present';
        END IF;
        RETURN 'gone';
    END IF;
    IF w.heartbeat_at > _worker_liveness.now - lease_duration() THEN
        RETURN 'heartbeating';
    END IF;
    RETURN 'lapsed';
END
$$;
COMMENT ON FUNCTION _worker_liveness(workers, timestamptz) IS
    'How alive a worker incarnation is: present (its session is connected), gone (its session ended while the server ran), heartbeating or lapsed (no session to look at: by its heartbeat), ended.';

-- Ends an incarnation (the caller holds its row or the workers table lock) and takes its
-- steps back: their leases end now, so the next lease expiry (in the same tick, when
-- tick calls this) makes them lost and queues attempt + 1. A step row that another
-- session is deciding about keeps its lease for now; _settle_workers comes back for it.
CREATE FUNCTION _end_worker(worker bigint, now timestamptz, ended_by text) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    taken integer;
BEGIN
    UPDATE workers SET stopped_at = greatest(_end_worker.now, started_at), ended_by = _end_worker.ended_by
     WHERE id = _end_worker.worker AND stopped_at IS NULL;
    UPDATE step_runs
       SET lease_expires_at = _end_worker.now - interval '1 millisecond'
     WHERE id IN (SELECT s.id FROM step_runs AS s
                   WHERE s.worker_id = _end_worker.worker AND s.state = 'running'
                     AND s.lease_expires_at >= _end_worker.now
                     FOR NO KEY UPDATE SKIP LOCKED);
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken > 0 THEN
        PERFORM pg_notify('clockwork_wakeup', 'worker ended');
    END IF;
    RETURN taken;
END
$$;
COMMENT ON FUNCTION _end_worker(bigint, timestamptz, text) IS
    'Ends a worker incarnation and ends the leases of the steps it holds now, so that tick takes them back (lost, attempt + 1).';

CREATE FUNCTION _register_worker(
    name          text,
    labels        text[],
    host          text,
    pid           integer,
    dedicated     boolean,
    with_session  boolean,
    now           timestamptz
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    holder       workers;
    liveness     text;
    me           bigint;
    replaced     bigint;
    taken        integer := 0;
    session_start timestamptz;
    starts       boolean := false;
    last_alive_at timestamptz;
BEGIN
    IF _register_worker.name IS NULL OR _register_worker.name !~ '^[A-Za-z0-9_.:@-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid worker name %', coalesce(quote_literal(_register_worker.name), 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Use 1 to 128 letters, digits, and _ . : @ -.';
    END IF;
    PERFORM _check_supervisor_version();
    -- Registrations take turns: each decides alone whether the name is free and whether
    -- this is a scheduler start (@reboot), so two supervisors starting together agree.
    -- The lock is taken first, on an empty table of its own: ticks (which write workers)
    -- never wait for a registration, and no role but the extension's owner can lock it
    -- (an advisory lock any role could take, and a job's SQL step hold for hours).
    LOCK TABLE scheduler_start_lock IN EXCLUSIVE MODE;
    SELECT * INTO holder FROM workers AS w WHERE w.name = _register_worker.name AND w.stopped_at IS NULL;
    IF FOUND THEN
        liveness := _worker_liveness(holder, _register_worker.now);
        -- The same session registering again is the same process (a supervisor that was
        -- told its incarnation is unknown): it replaces itself.
        IF liveness = 'heartbeating' OR (liveness = 'present' AND holder.session_pid <> pg_backend_pid()) THEN
            RAISE EXCEPTION 'worker name "%" is in use by a live supervisor: incarnation %, pid % on %, started %, last heartbeat %',
                            _register_worker.name, holder.id, coalesce(holder.pid::text, '?'), coalesce(holder.host, '?'),
                            holder.started_at, holder.heartbeat_at
                USING ERRCODE = @sqlstate:worker_name_in_use@, HINT = @hint:worker_name_in_use@,
                      DETAIL = CASE liveness
                          WHEN 'present' THEN 'Its session to the database is connected.'
                          -- A supervisor may wait this long and try again: the holder has
                          -- no session that could prove it alive, only its heartbeat.
                          ELSE format('It has no session to prove it alive (registered by hand, or its session ended with a server restart); it counts as gone when its heartbeat is older than the lease: retry_after_ms=%s',
                                      greatest(1, ceil(extract(epoch FROM holder.heartbeat_at + lease_duration() - _register_worker.now) * 1000)))
                      END;
        END IF;
        taken := _end_worker(holder.id, _register_worker.now, 'replaced');
        replaced := holder.id;
    END IF;
    -- The last sign of life of any regular worker before this start (its own included): a
    -- gap longer than a lease was an outage, recorded as an alert (docs/alerts.md).
    SELECT max(greatest(w.heartbeat_at, w.stopped_at)) INTO last_alive_at FROM workers AS w WHERE NOT w.dedicated;
    IF _register_worker.with_session THEN
        SELECT a.backend_start INTO session_start FROM pg_stat_get_activity(pg_backend_pid()) AS a;
    END IF;
    INSERT INTO workers (name, labels, host, pid, started_at, heartbeat_at, dedicated,
                         session_pid, session_started_at, session_server_start)
    VALUES (_register_worker.name,
            CASE WHEN _register_worker.dedicated
                 THEN array_append(coalesce(_register_worker.labels, '{}'), 'node:' || _register_worker.name)
                 ELSE coalesce(_register_worker.labels, '{}') END,
            _register_worker.host, _register_worker.pid, _register_worker.now, _register_worker.now,
            _register_worker.dedicated,
            CASE WHEN _register_worker.with_session THEN pg_backend_pid() END,
            session_start,
            CASE WHEN _register_worker.with_session THEN pg_postmaster_start_time() END)
    RETURNING id INTO me;
    -- The scheduler "starts" on this database when a regular worker registers while no
    -- other is alive: @reboot schedules come due now. A dedicated worker (clockwork run)
    -- is no scheduler start.
    IF NOT _register_worker.dedicated AND NOT EXISTS (
           SELECT 1 FROM workers AS other
            WHERE other.id <> me AND other.stopped_at IS NULL AND NOT other.dedicated
              AND _worker_liveness(other, _register_worker.now) IN ('present', 'heartbeating')) THEN
        UPDATE schedules AS s SET next_fire_at = _register_worker.now
          FROM jobs AS j
         WHERE j.id = s.job_id AND j.enabled AND s.kind = 'reboot';
        PERFORM _scheduler_started(_register_worker.name, last_alive_at, _register_worker.now);
        starts := true;
    END IF;
    RETURN jsonb_build_object(
        'worker_id', me::text,
        'lease_ms', (extract(epoch FROM lease_duration()) * 1000)::bigint,
        'replaced', replaced::text,
        'taken_back', taken,
        'scheduler_start', starts,
        -- Names this database among those a host's supervisors may serve (the step
        -- process registry of docs/faults.md keys its files by it).
        'installation', (SELECT system_identifier FROM pg_control_system())::text || '/'
                        || (SELECT oid FROM pg_database WHERE datname = current_database())::text);
END
$$;
COMMENT ON FUNCTION _register_worker(text, text[], text, integer, boolean, boolean, timestamptz) IS
    'Registers a new worker incarnation (refusing a name a live supervisor holds, ending a gone one''s incarnation and taking its steps back), and makes @reboot schedules due when this is a scheduler start.';

CREATE FUNCTION start_worker(
    name       text,
    labels     text[]      DEFAULT '{}',
    host       text        DEFAULT NULL,
    pid        integer     DEFAULT NULL,
    dedicated  boolean     DEFAULT false,
    now        timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$ SELECT _register_worker(name, labels, host, pid, dedicated, true, now) $$;
COMMENT ON FUNCTION start_worker(text, text[], text, integer, boolean, timestamptz) IS
    'A supervisor''s start: registers a new incarnation whose proof of life is the calling session (keep it open); refuses a name that a live supervisor holds (worker_name_in_use). Returns {worker_id, lease_ms, replaced, taken_back, scheduler_start, installation}.';

CREATE FUNCTION register_worker(
    name    text,
    labels  text[]      DEFAULT '{}',
    host    text        DEFAULT NULL,
    pid     integer     DEFAULT NULL,
    now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$ SELECT _register_worker(name, labels, host, pid, false, false, now) $$;
COMMENT ON FUNCTION register_worker(text, text[], text, integer, timestamptz) IS
    'Registers a worker by hand (tools, tests): a new incarnation alive while it heartbeats; refuses a name that a live worker holds (worker_name_in_use). Supervisors use start_worker.';

CREATE FUNCTION register_dedicated_worker(
    name    text,
    labels  text[]      DEFAULT '{}',
    host    text        DEFAULT NULL,
    pid     integer     DEFAULT NULL,
    now     timestamptz DEFAULT now()
) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$ SELECT _register_worker(name, labels, host, pid, true, false, now) $$;
COMMENT ON FUNCTION register_dedicated_worker(text, text[], text, integer, timestamptz) IS
    'Registers a dedicated worker by hand: it runs only the steps of jobs pinned to it by name (node), fires no schedule slot and is no scheduler start (clockwork run starts one with start_worker(…, dedicated => true)).';

-- A supervisor whose session was lost (a server restart, a network cut) records the new
-- one. Only a current incarnation can: one that was found gone meanwhile has had its
-- steps taken back and must register anew.
CREATE FUNCTION attach_worker(worker_id bigint, now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    session_start timestamptz;
BEGIN
    SELECT a.backend_start INTO session_start FROM pg_stat_get_activity(pg_backend_pid()) AS a;
    UPDATE workers
       SET session_pid = pg_backend_pid(), session_started_at = session_start,
           session_server_start = pg_postmaster_start_time(), heartbeat_at = attach_worker.now
     WHERE id = attach_worker.worker_id AND stopped_at IS NULL;
    IF NOT FOUND THEN
        PERFORM _current_worker(attach_worker.worker_id, attach_worker.now); -- raises
    END IF;
    RETURN jsonb_build_object('worker_id', attach_worker.worker_id::text);
END
$$;
COMMENT ON FUNCTION attach_worker(bigint, timestamptz) IS
    'Records the calling session as the proof of life of a current worker incarnation (after a reconnect); raises worker_ended when it ended meanwhile.';

-- The current incarnation `worker_id`, marked alive; raises when it ended or never was.
CREATE FUNCTION _current_worker(worker_id bigint, now timestamptz) RETURNS workers
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    me      workers;
    holder  workers;
BEGIN
    UPDATE workers SET heartbeat_at = _current_worker.now
     WHERE id = _current_worker.worker_id AND stopped_at IS NULL
    RETURNING * INTO me;
    IF me.id IS NOT NULL THEN
        RETURN me;
    END IF;
    SELECT * INTO me FROM workers WHERE id = _current_worker.worker_id;
    IF me.id IS NULL THEN
        RAISE EXCEPTION 'unknown worker incarnation %', _current_worker.worker_id
            USING ERRCODE = @sqlstate:worker_ended@, HINT = @hint:worker_ended@,
                  DETAIL = 'It ended and was removed, or it never registered.';
    END IF;
    SELECT * INTO holder FROM workers WHERE name = me.name AND stopped_at IS NULL;
    RAISE EXCEPTION 'worker incarnation % ("%") ended at %', me.id, me.name, me.stopped_at
        USING ERRCODE = @sqlstate:worker_ended@, HINT = @hint:worker_ended@,
              DETAIL = CASE WHEN holder.id IS NULL THEN 'Its steps were taken back; the name is free.'
                            ELSE format('The name is now held by incarnation %s, pid %s on %s.',
                                        holder.id, coalesce(holder.pid::text, '?'), coalesce(holder.host, '?')) END;
END
$$;
COMMENT ON FUNCTION _current_worker(bigint, timestamptz) IS
    'The current worker incarnation with this id, its heartbeat set to now; raises worker_ended when it ended or is unknown.';

-- Steps to stop: cancelled ones, and running ones whose run is being cancelled (a
-- graceful cancel: the run ends when its steps have stopped).
CREATE FUNCTION _steps_to_stop(worker bigint, now timestamptz) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(id::text ORDER BY id), '{}')
      FROM (SELECT s.id FROM step_runs AS s
             WHERE s.worker_id = worker AND s.state = 'cancelled' AND s.finished_at > now - 2 * lease_duration()
            UNION ALL
            SELECT s.id FROM step_runs AS s JOIN runs AS r ON r.id = s.run_id
             WHERE s.worker_id = worker AND s.state = 'running' AND r.cancel_requested_at IS NOT NULL) AS stop
$$;
COMMENT ON FUNCTION _steps_to_stop(bigint, timestamptz) IS
    'Step runs a worker holds that it should stop: cancelled ones, and running ones of runs being cancelled.';

-- A supervisor's heartbeat: it names the steps it is running, and only their leases are
-- extended (a step it no longer runs is not kept alive for it). Steps it names that it no
-- longer holds (taken back, ended by the database) come back as `lost`: it stops them.
-- `now` has no default here: a two-argument call such as heartbeat('w1', $1) must keep
-- resolving to heartbeat(text, timestamptz), which it could not if this one took two.
CREATE FUNCTION heartbeat(worker_id bigint, running bigint[], now timestamptz) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    extended  text[];
    lost      text[];
BEGIN
    PERFORM _current_worker(heartbeat.worker_id, heartbeat.now);
    -- Only leases still held are extended: an expired one has already been handed over.
    -- A step row locked by someone deciding its run is skipped, not waited for (the lock
    -- order of docs/state-machine.md): its lease is extended by the next heartbeat.
    WITH held AS (
        SELECT s.id FROM step_runs AS s
         WHERE s.id = ANY (heartbeat.running) AND s.worker_id = heartbeat.worker_id
           AND s.state = 'running' AND s.lease_expires_at > heartbeat.now
           FOR NO KEY UPDATE SKIP LOCKED
    ), done AS (
        UPDATE step_runs AS s SET lease_expires_at = heartbeat.now + lease_duration()
          FROM held WHERE s.id = held.id
        RETURNING s.id
    )
    SELECT coalesce(array_agg(id::text ORDER BY id), '{}') INTO extended FROM done;
    -- Not lost: held with a live lease (extended now, or locked), or finished in its own
    -- transaction and waiting for its report (an SQL step whose result is on its way).
    SELECT coalesce(array_agg(x::text ORDER BY x), '{}') INTO lost
      FROM unnest(heartbeat.running) AS x
     WHERE NOT EXISTS (SELECT 1 FROM step_runs AS s
                        WHERE s.id = x AND s.worker_id = heartbeat.worker_id
                          AND ((s.state = 'running' AND s.lease_expires_at > heartbeat.now) OR s.awaiting_report));
    RETURN jsonb_build_object('extended', to_jsonb(extended), 'lost', to_jsonb(lost),
                              'cancel', to_jsonb(_steps_to_stop(heartbeat.worker_id, heartbeat.now)));
END
$$;
COMMENT ON FUNCTION heartbeat(bigint, bigint[], timestamptz) IS
    'A supervisor''s heartbeat: extends the leases of the step runs it names that its incarnation still holds; returns {extended, lost, cancel}: the step runs it no longer holds (stop them) and those cancelled (stop them). Raises worker_ended when the incarnation ended.';

CREATE FUNCTION heartbeat(worker text, now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    me        bigint;
    extended  integer;
BEGIN
    UPDATE workers SET heartbeat_at = heartbeat.now
     WHERE name = heartbeat.worker AND stopped_at IS NULL
    RETURNING id INTO me;
    IF me IS NULL THEN
        RAISE EXCEPTION 'unknown worker "%"', heartbeat.worker
            USING ERRCODE = @sqlstate:unknown_worker@, HINT = @hint:unknown_worker@;
    END IF;
    UPDATE step_runs
       SET lease_expires_at = heartbeat.now + lease_duration()
     WHERE id IN (SELECT id FROM step_runs
                   WHERE worker_id = me AND state = 'running' AND lease_expires_at > heartbeat.now
                     FOR NO KEY UPDATE SKIP LOCKED);
    GET DIAGNOSTICS extended = ROW_COUNT;
    RETURN jsonb_build_object('extended', extended, 'cancel', to_jsonb(_steps_to_stop(me, heartbeat.now)));
END
$$;
COMMENT ON FUNCTION heartbeat(text, timestamptz) IS
    'By name (tools, tests): marks the current incarnation of a worker alive and extends every lease it still holds; returns {extended, cancel}. Supervisors use heartbeat(worker_id, running).';

-- Live output of a running step; fencing: only the current incarnation holding the lease
-- of a running step may write.
CREATE FUNCTION _append_output(step_run bigint, worker bigint, stream text, chunk text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    room integer;
BEGIN
    IF stream NOT IN ('stdout', 'stderr') THEN
        RAISE EXCEPTION 'invalid stream %', quote_literal(stream)
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Use stdout or stderr.';
    END IF;
    UPDATE step_runs AS s
       SET stdout = CASE WHEN stream = 'stdout' THEN s.stdout || left(chunk, greatest(output_limit() - length(s.stdout), 0)) ELSE s.stdout END,
           stderr = CASE WHEN stream = 'stderr' THEN s.stderr || left(chunk, greatest(output_limit() - length(s.stderr), 0)) ELSE s.stderr END,
           output_truncated = s.output_truncated
               OR length(chunk) > output_limit() - length(CASE WHEN stream = 'stdout' THEN s.stdout ELSE s.stderr END)
      FROM workers AS w
     WHERE s.id = step_run AND s.worker_id = w.id AND w.id = worker AND w.stopped_at IS NULL
       -- running, said as NOT IN so the plan uses the primary key, not a partial index
       -- whose statistics are stale after a burst (see finishRun in extension/src/db/statements.ts)
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost');
    GET DIAGNOSTICS room = ROW_COUNT;
    RETURN room = 1;
END
$$;
COMMENT ON FUNCTION _append_output(bigint, bigint, text, text) IS
    'Appends live output of a running step for the incarnation holding it (bounded by output_limit()); false when it no longer holds the lease.';

CREATE FUNCTION append_output(step_run bigint, worker_id bigint, stream text, chunk text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$ SELECT _append_output(step_run, worker_id, stream, chunk) $$;
COMMENT ON FUNCTION append_output(bigint, bigint, text, text) IS
    'Appends live output of a running step (bounded by output_limit()); false when the caller''s incarnation no longer holds the lease.';

CREATE FUNCTION append_output(step_run bigint, worker text, stream text, chunk text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT _append_output(step_run, (SELECT w.id FROM workers AS w WHERE w.name = worker AND w.stopped_at IS NULL), stream, chunk)
$$;
COMMENT ON FUNCTION append_output(bigint, text, text, text) IS
    'By name (tools, tests): appends live output of a running step held by the current incarnation of the worker; false when it does not hold the lease.';

-- Clean shutdown: the incarnation ends and its leases end at once, so the next tick hands
-- its steps to another worker. That tick records them as handed back, not lost
-- (handed_back_at_shutdown: expireLeasesOfRun in extension/src/db/statements.ts knows them
-- by ended_by = 'release'): no lost lease, no retry used up.
CREATE FUNCTION release_worker(worker_id bigint, now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    UPDATE workers SET stopped_at = greatest(release_worker.now, started_at), ended_by = 'release'
     WHERE id = release_worker.worker_id AND stopped_at IS NULL;
    UPDATE step_runs AS s
       SET lease_expires_at = release_worker.now
     WHERE s.worker_id = release_worker.worker_id AND s.state = 'running';
    GET DIAGNOSTICS released = ROW_COUNT;
    IF released > 0 THEN
        PERFORM pg_notify('clockwork_wakeup', release_worker.now::text);
    END IF;
    RETURN released;
END
$$;
COMMENT ON FUNCTION release_worker(bigint, timestamptz) IS
    'Clean shutdown of a worker incarnation: ends it and its leases so other workers take its steps over (recorded as handed_back_at_shutdown, not as lost leases); returns how many.';

CREATE FUNCTION release_worker(worker text, now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(release_worker(w.id, now)), 0)::integer
      FROM workers AS w WHERE w.name = worker AND w.stopped_at IS NULL
$$;
COMMENT ON FUNCTION release_worker(text, timestamptz) IS
    'By name (tools, tests): releases the current incarnation of a worker; returns how many leases it handed back.';

-- Called by every tick: workers found gone end now and their steps are taken back;
-- ended ones with nothing left to settle are deleted. Never waits for a lock: a worker
-- row or step row another session holds is left for the next tick. Returns how many
-- leases it ended.
CREATE FUNCTION _settle_workers(now timestamptz) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    w      workers;
    locked workers;
    taken  integer := 0;
    n      integer;
BEGIN
    -- Gone (its session ended while the server ran), or a supervisor lapsed (it had a
    -- session, lost it with a restart, and never came back within a lease). A worker
    -- registered by hand (no session) is left alone: its leases expire as leases do.
    FOR w IN SELECT * FROM workers WHERE stopped_at IS NULL LOOP
        IF _worker_liveness(w, _settle_workers.now) = 'gone'
           OR (w.session_pid IS NOT NULL AND _worker_liveness(w, _settle_workers.now) = 'lapsed') THEN
            SELECT * INTO locked FROM workers WHERE id = w.id AND stopped_at IS NULL FOR UPDATE SKIP LOCKED;
            IF locked.id IS NOT NULL AND _worker_liveness(locked, _settle_workers.now) IN ('gone', 'lapsed') THEN
                taken := taken + _end_worker(locked.id, _settle_workers.now, _worker_liveness(locked, _settle_workers.now));
            END IF;
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM workers WHERE stopped_at IS NOT NULL) THEN
        -- Leases of ended incarnations that were locked when they ended.
        UPDATE step_runs
           SET lease_expires_at = _settle_workers.now - interval '1 millisecond'
         WHERE id IN (SELECT s.id FROM workers AS e JOIN step_runs AS s ON s.worker_id = e.id
                       WHERE e.stopped_at IS NOT NULL AND s.state = 'running' AND s.lease_expires_at >= _settle_workers.now
                         FOR NO KEY UPDATE OF s SKIP LOCKED);
        GET DIAGNOSTICS n = ROW_COUNT;
        taken := taken + n;
        -- Ended incarnations whose steps are all settled (history keeps step_runs.worker_name).
        -- One that died (gone, lapsed, replaced) stays while it is the last word on its name,
        -- up to a day: the worker_lost alert and the console's workers page report it.
        DELETE FROM workers AS e
         WHERE e.id IN (SELECT id FROM workers WHERE stopped_at IS NOT NULL FOR UPDATE SKIP LOCKED)
           AND (e.ended_by = 'release' OR e.stopped_at < _settle_workers.now - interval '1 day'
                OR EXISTS (SELECT 1 FROM workers AS later WHERE later.name = e.name AND later.id > e.id))
           AND NOT EXISTS (SELECT 1 FROM step_runs AS s WHERE s.worker_id = e.id AND s.state = 'running')
           AND NOT EXISTS (SELECT 1 FROM step_runs AS s WHERE s.awaiting_report AND s.worker_id = e.id);
    END IF;
    RETURN taken;
END
$$;
COMMENT ON FUNCTION _settle_workers(timestamptz) IS
    'Called by tick: ends worker incarnations found gone (or lapsed supervisors) and ends the leases they hold, and deletes ended incarnations once their steps are settled; returns how many leases it ended.';
