-- Clockwork install script, part 1: tables.
-- Tables are the storage, not the API: clients use the functions and views.
-- Every invariant that a row can state about itself is a constraint here.

------------------------------------------------------------------------------------
-- Jobs and their versions
------------------------------------------------------------------------------------
CREATE TABLE jobs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    owner       name        NOT NULL DEFAULT current_user,
    enabled     boolean     NOT NULL DEFAULT true,
    version     integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    definition  jsonb       NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    managed_by  text,
    retention   jsonb       NOT NULL DEFAULT '{}',
    dropped_at  timestamptz,
    last_run_id          bigint,
    last_run_state       text,
    last_run_finished_at timestamptz,
    CONSTRAINT jobs_last_run_whole CHECK ((last_run_id IS NULL) = (last_run_state IS NULL)
        AND (last_run_state IS NULL) = (last_run_finished_at IS NULL)),
    CONSTRAINT jobs_last_run_state_check CHECK (last_run_state IN ('succeeded', 'failed', 'timed_out', 'cancelled')),
    CONSTRAINT jobs_retention_shape CHECK (jsonb_typeof(retention) = 'object'
        AND retention - ARRAY['max_age_ms', 'max_runs', 'keep'] = '{}'::jsonb
        AND coalesce(retention->>'keep', 'all') IN ('all', 'failures')),
    CONSTRAINT jobs_dropped_disabled CHECK (dropped_at IS NULL OR NOT enabled),
    CONSTRAINT jobs_managed_by_format CHECK (managed_by ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$'),
    CONSTRAINT jobs_name_format CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$')
);
COMMENT ON TABLE jobs IS 'One row per job: its current, validated definition and who owns it.';
COMMENT ON COLUMN jobs.id IS 'Surrogate key; stable across redefinitions of the job.';
COMMENT ON COLUMN jobs.name IS 'Job name, unique per owner (as in pg_cron): the SQL API takes it alone for the caller''s own job, or as owner/name.';
COMMENT ON COLUMN jobs.owner IS 'Role that owns the job: SQL steps run with its privileges, row-level security shows the job to it.';
COMMENT ON COLUMN jobs.enabled IS 'A disabled job keeps its schedules but fires no slot; slots passed while disabled are not caught up.';
COMMENT ON COLUMN jobs.version IS 'Incremented by every define_job that changes the definition; runs record the version they follow.';
COMMENT ON COLUMN jobs.definition IS 'The normalized job definition (validated by the core), as in job_versions for the current version.';
COMMENT ON COLUMN jobs.created_at IS 'When the job was first defined.';
COMMENT ON COLUMN jobs.updated_at IS 'When the definition or the enabled flag last changed.';
COMMENT ON COLUMN jobs.managed_by IS 'The set of definition files that manages this job (clockwork apply --set, default "default"); NULL for a job made by SQL. Only jobs of the same set are deleted by clockwork apply --prune.';
COMMENT ON COLUMN jobs.retention IS 'The job''s policies.retention as the pruner reads it: max_age_ms, max_runs (null: no limit) and keep (all | failures); a key left out takes clockwork.history_retention''s default. Written by define_job.';
COMMENT ON COLUMN jobs.dropped_at IS 'When the job was dropped with its history kept (drop_job): it fires nothing, its name is free for a new job, and its runs stay in run_history until the retention policy prunes them; the row goes with its last run.';
COMMENT ON COLUMN jobs.last_run_id IS 'The job''s latest run (by id) that has ended, set by the run lifecycle when a run ends; kept when that run is pruned.';
COMMENT ON COLUMN jobs.last_run_state IS 'Its final state: whether the job is failing is this one column (the console''s failing filter), however long the history.';
COMMENT ON COLUMN jobs.last_run_finished_at IS 'When it ended.';
-- A job name belongs to its owner; a dropped job (kept for its history) frees its name.
CREATE UNIQUE INDEX jobs_owner_name_key ON jobs (owner, name) WHERE dropped_at IS NULL;
COMMENT ON INDEX jobs_owner_name_key IS 'Job names are unique per owner among jobs not dropped (as in pg_cron).';
-- Dropped jobs, for the pruner (which removes them once their history is gone).
CREATE INDEX jobs_dropped_idx ON jobs (dropped_at) WHERE dropped_at IS NOT NULL;

CREATE TABLE job_versions (
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    version     integer     NOT NULL CHECK (version >= 1),
    definition  jsonb       NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    defined_at  timestamptz NOT NULL DEFAULT now(),
    defined_by  name        NOT NULL DEFAULT current_user,
    source      text,
    applied_from text,
    PRIMARY KEY (job_id, version),
    CONSTRAINT job_versions_applied_from_format CHECK (applied_from ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$')
);
COMMENT ON TABLE job_versions IS 'Every definition a job has had, so each run can be read against the definition it followed.';
COMMENT ON COLUMN job_versions.job_id IS 'The job.';
COMMENT ON COLUMN job_versions.version IS 'The version number, 1 for the first definition.';
COMMENT ON COLUMN job_versions.definition IS 'The normalized definition of that version.';
COMMENT ON COLUMN job_versions.defined_at IS 'When this version was defined.';
COMMENT ON COLUMN job_versions.defined_by IS 'The role that defined this version.';
COMMENT ON COLUMN job_versions.source IS 'The definition as its author wrote it (YAML or JSON text, comments and key order kept) when it was given as text, by define_job(text) or clockwork apply; clockwork export gives it back. NULL when it was given as jsonb, whose key order PostgreSQL does not keep.';
COMMENT ON COLUMN job_versions.applied_from IS 'The set of definition files this version was applied from (clockwork apply); NULL when it was defined by SQL. A managed job whose current version has NULL here was changed outside its files (drift).';

------------------------------------------------------------------------------------
-- Schedules: when a job fires
------------------------------------------------------------------------------------
CREATE TABLE schedules (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position      integer     NOT NULL CHECK (position >= 0),
    kind          text        NOT NULL,
    spec          jsonb       NOT NULL,
    description   text        NOT NULL,
    time_zone     text        NOT NULL DEFAULT 'UTC',
    next_fire_at  timestamptz,
    last_slot_at  timestamptz,
    CONSTRAINT schedules_job_position_key UNIQUE (job_id, position),
    CONSTRAINT schedules_kind_check CHECK (kind IN ('cron', 'pgagent', 'every', 'after', 'reboot', 'at'))
);
COMMENT ON TABLE schedules IS 'One row per schedule of a job; next_fire_at is what tick looks at.';
COMMENT ON COLUMN schedules.id IS 'Surrogate key; part of the exactly-once key of a slot (schedule, fire time).';
COMMENT ON COLUMN schedules.job_id IS 'The job this schedule fires.';
COMMENT ON COLUMN schedules.position IS 'Index of the schedule in the job definition''s schedules list; kept across redefinitions so slots are not fired twice.';
COMMENT ON COLUMN schedules.kind IS 'cron, pgagent, every (fixed rate), after (fixed delay after a run ends), reboot (when a scheduler starts), at (once).';
COMMENT ON COLUMN schedules.spec IS 'The normalized schedule (cron, every, after, at, reboot or pgagent; zone, DST policy, bounds, exclusions).';
COMMENT ON COLUMN schedules.description IS 'Human description of the schedule, e.g. "every 5 minutes".';
COMMENT ON COLUMN schedules.time_zone IS 'IANA time zone in which the schedule''s wall-clock times are read.';
COMMENT ON COLUMN schedules.next_fire_at IS 'The next slot to fire, or NULL when none is due (disabled job, ended schedule, @after waiting for a run to end, @reboot).';
COMMENT ON COLUMN schedules.last_slot_at IS 'The latest slot already handled (fired or skipped); nothing at or before it fires again.';

-- The due query: "schedules whose next slot is at or before now", cheapest first.
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX schedules_job_idx ON schedules (job_id);
-- @reboot and @after schedules are found by kind when a scheduler starts or a run ends.
CREATE INDEX schedules_event_kind_idx ON schedules (kind, job_id) WHERE kind IN ('reboot', 'after');

------------------------------------------------------------------------------------
-- Workers: supervisors that run steps, one row per incarnation (each start of one)
------------------------------------------------------------------------------------
CREATE TABLE workers (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL,
    host          text,
    pid           integer,
    labels        text[]      NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    dedicated     boolean     NOT NULL DEFAULT false,
    session_pid         integer,
    session_started_at  timestamptz,
    session_server_start timestamptz,
    ended_by      text,
    CONSTRAINT workers_ended_by_check CHECK (ended_by IN ('release', 'gone', 'lapsed', 'replaced')),
    CONSTRAINT workers_ended_by_ended CHECK (ended_by IS NULL OR stopped_at IS NOT NULL),
    CONSTRAINT workers_stopped_after_start CHECK (stopped_at IS NULL OR stopped_at >= started_at),
    CONSTRAINT workers_session_whole
        CHECK ((session_pid IS NULL) = (session_started_at IS NULL) AND (session_pid IS NULL) = (session_server_start IS NULL))
);
-- One current incarnation per name: a name is taken over only once its holder has ended
-- (see _worker_liveness in 40_workers.sql).
CREATE UNIQUE INDEX workers_name_key ON workers (name) WHERE stopped_at IS NULL;
COMMENT ON TABLE workers IS 'Supervisors known to this database, one row per incarnation: every start of a supervisor is a new row, even under the same name, and a step run''s lease names the incarnation that holds it. Ended incarnations are deleted once none of their leases is left to settle.';
COMMENT ON COLUMN workers.id IS 'Incarnation id: the supervisor passes it with every call, so a process that a newer incarnation replaced can neither extend nor report anything.';
COMMENT ON COLUMN workers.name IS 'Worker name; at most one current (not stopped) incarnation per name: a second live supervisor with the same name is refused.';
COMMENT ON COLUMN workers.host IS 'Host name the supervisor reported.';
COMMENT ON COLUMN workers.pid IS 'Process id the supervisor reported.';
COMMENT ON COLUMN workers.labels IS 'Labels of this worker; a job that requires labels runs only on workers that have all of them.';
COMMENT ON COLUMN workers.started_at IS 'When this incarnation registered.';
COMMENT ON COLUMN workers.heartbeat_at IS 'Last sign of life (heartbeat, tick, re-attach).';
COMMENT ON COLUMN workers.stopped_at IS 'When the incarnation ended: it shut down cleanly (release_worker), or it was found gone (its session ended, or its heartbeat lapsed) and its leases were taken back; NULL while current.';
COMMENT ON COLUMN workers.session_pid IS 'Backend pid of the session the supervisor registered (or re-attached) on and keeps open (its LISTEN connection): while that session exists the supervisor is alive; when it ends while the server runs, the process is gone. NULL for a worker registered by hand (register_worker), whose liveness is its heartbeat.';
COMMENT ON COLUMN workers.session_started_at IS 'backend_start of that session, so that a later backend with the same pid is not taken for it.';
COMMENT ON COLUMN workers.session_server_start IS 'pg_postmaster_start_time() when the session was recorded: a session of an earlier server life (a restart, a failover) says nothing about the supervisor, which is then alive while it heartbeats.';
COMMENT ON COLUMN workers.ended_by IS 'How the incarnation ended: release (a clean shutdown), gone (its session ended), lapsed (no heartbeat for a lease), replaced (found gone when a new incarnation of its name registered); NULL while current (and for rows ended by 1.0).';
COMMENT ON COLUMN workers.dedicated IS 'A dedicated worker (register_dedicated_worker, e.g. the one clockwork run starts in-process) claims only steps of jobs pinned to it by name (node), fires no schedule slot and is not a scheduler start.';

-- Locked (never read or written) by register_worker, so that two supervisors starting at
-- once agree on one scheduler start. No role but the extension's owner may lock it.
CREATE TABLE scheduler_start_lock ();
COMMENT ON TABLE scheduler_start_lock IS 'Empty; register_worker locks it so that two supervisors starting at once agree on one scheduler start (@reboot).';

------------------------------------------------------------------------------------
-- Runs: one per fired slot or manual start
------------------------------------------------------------------------------------
-- A run's invariants, checked on every write by one CHECK (runs_invariants), for the same
-- reason as a step run's (_step_run_invariants below): PostgreSQL prepares every CHECK
-- expression again for each statement that writes the table, and fourteen of them (11 KB
-- of node text) cost every run_now and every tick that starts or ends runs.
CREATE FUNCTION _run_invariants(
    trigger text, state text, params jsonb, slot_at timestamptz, queued_at timestamptz, started_at timestamptz,
    finished_at timestamptz, wake_at timestamptz, cancel_requested_at timestamptz, cancel_mode text, waiting_for text,
    concurrency_group text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    broken text := CASE
        WHEN NOT (jsonb_typeof(params) = 'object') THEN 'runs_params_check'
        WHEN NOT (trigger IN ('schedule', 'manual', 'reboot')) THEN 'runs_trigger_check'
        WHEN NOT (state IN ('waiting', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'))
            THEN 'runs_state_check'
        WHEN NOT ((trigger = 'schedule') = (slot_at IS NOT NULL)) THEN 'runs_scheduled_has_slot'
        WHEN NOT ((finished_at IS NOT NULL) = (state IN ('succeeded', 'failed', 'timed_out', 'cancelled')))
            THEN 'runs_finished_state'
        WHEN NOT (state NOT IN ('queued', 'running') OR queued_at IS NOT NULL) THEN 'runs_queued_has_time'
        WHEN NOT (state <> 'waiting' OR queued_at IS NULL) THEN 'runs_waiting_not_queued'
        WHEN NOT (started_at IS NULL OR finished_at IS NULL OR finished_at >= started_at) THEN 'runs_times_ordered'
        WHEN NOT (finished_at IS NULL OR wake_at IS NULL) THEN 'runs_finished_no_wake'
        WHEN NOT (cancel_mode IN ('cancel', 'terminate')) THEN 'runs_cancel_mode_check'
        WHEN NOT ((cancel_requested_at IS NULL) = (cancel_mode IS NULL)) THEN 'runs_cancel_request_whole'
        WHEN NOT (waiting_for IN ('overlap', 'group')) THEN 'runs_waiting_for_check'
        WHEN NOT ((state = 'waiting') = (waiting_for IS NOT NULL)) THEN 'runs_waiting_for_whole'
        WHEN NOT (waiting_for <> 'group' OR concurrency_group IS NOT NULL) THEN 'runs_waiting_for_group'
    END;
BEGIN
    IF broken IS NULL THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'new row for relation "runs" violates check constraint "%"', broken
        USING ERRCODE = 'check_violation', SCHEMA = 'clockwork', TABLE = 'runs', CONSTRAINT = broken;
END
$$;
COMMENT ON FUNCTION _run_invariants(text, text, jsonb, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, text, text, text) IS
    'The invariants of a run (the CHECK runs_invariants): true, or raises check_violation naming the invariant the row breaks.';

CREATE TABLE runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       bigint      NOT NULL,
    job_version  integer     NOT NULL,
    schedule_id  bigint      REFERENCES schedules (id) ON DELETE SET NULL,
    slot_at      timestamptz,
    trigger      text        NOT NULL,
    params       jsonb       NOT NULL DEFAULT '{}',
    state        text        NOT NULL DEFAULT 'queued',
    created_at   timestamptz NOT NULL,
    queued_at    timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    reason       text,
    wake_at      timestamptz,
    cancel_requested_at  timestamptz,
    cancel_mode          text,
    retry_of             bigint REFERENCES runs (id) ON DELETE SET NULL,
    concurrency_group    text,
    priority             integer     NOT NULL DEFAULT 0,
    waiting_for          text,
    FOREIGN KEY (job_id, job_version) REFERENCES job_versions (job_id, version) ON DELETE CASCADE,
    CONSTRAINT runs_invariants
        CHECK (_run_invariants(trigger, state, params, slot_at, queued_at, started_at, finished_at, wake_at,
                               cancel_requested_at, cancel_mode, waiting_for, concurrency_group))
);
COMMENT ON TABLE runs IS 'One row per run of a job: a fired schedule slot, a manual start or a start at boot.';
COMMENT ON CONSTRAINT runs_invariants ON runs IS 'Every invariant of a run, named one by one in _run_invariants (one CHECK: PostgreSQL prepares each CHECK again for every statement that writes the table).';
COMMENT ON COLUMN runs.id IS 'Run id, exposed to steps as CLOCKWORK_RUN_ID.';
COMMENT ON COLUMN runs.job_id IS 'The job.';
COMMENT ON COLUMN runs.job_version IS 'The job version whose definition this run follows, even if the job is redefined meanwhile.';
COMMENT ON COLUMN runs.schedule_id IS 'The schedule that fired the run; NULL for manual runs or when the schedule was later removed.';
COMMENT ON COLUMN runs.slot_at IS 'The schedule slot (nominal fire time) this run stands for; NULL for manual runs.';
COMMENT ON COLUMN runs.trigger IS 'What started the run: schedule, manual (run_now) or reboot (@reboot).';
COMMENT ON COLUMN runs.params IS 'Parameters of this run: job defaults overlaid with run_now''s parameters.';
COMMENT ON COLUMN runs.state IS 'waiting (held back by its overlap policy) → queued (steps ready) → running → succeeded | failed | timed_out | cancelled; see docs/state-machine.md.';
COMMENT ON COLUMN runs.created_at IS 'When the run was created (for a schedule: when its slot was fired).';
COMMENT ON COLUMN runs.queued_at IS 'When its first steps were queued: at creation, or when a run held back (waiting) was released; NULL while waiting. A job''s time-out counts from here until a step starts.';
COMMENT ON COLUMN runs.started_at IS 'When its first step started.';
COMMENT ON COLUMN runs.finished_at IS 'When it reached a final state.';
COMMENT ON COLUMN runs.reason IS 'Why the run is in its state: while waiting, what it waits for; once ended, why (failed step, time-out, cancelled by whom, replaced by which run).';
COMMENT ON COLUMN runs.cancel_requested_at IS 'When someone (cancel_run, an overlap policy, disable_job, drop_job) asked the run to stop; every later decision about the run sees it.';
COMMENT ON COLUMN runs.cancel_mode IS 'terminate: running steps are stopped and the run ends at once; cancel: running steps are told to stop and the run ends when they have (overlap cancel_other).';
COMMENT ON COLUMN runs.retry_of IS 'The failed, timed-out or cancelled run this run retries (retry_run), or NULL.';
COMMENT ON COLUMN runs.concurrency_group IS 'The concurrency group whose limit the run counts against while queued or running (its job version''s policies.group), or NULL.';
COMMENT ON COLUMN runs.priority IS 'Its job version''s policies.priority: when its group is full, waiting runs start highest priority first, then oldest first.';
COMMENT ON COLUMN runs.waiting_for IS 'While waiting: overlap (its job''s overlap policy holds it back) or group (its concurrency group is full); NULL otherwise.';
COMMENT ON COLUMN runs.wake_at IS 'The run''s own deadline (its job''s time-out) while it is unfinished: tick decides the run again then, since no step report may come.';

-- Exactly once per slot: a (schedule, fire time) can become at most one run. Partial, so
-- manual runs (no slot) are not in it: a unique index holding thousands of equal NULL
-- keys made every insert and update of runs slower as history grew.
CREATE UNIQUE INDEX runs_slot_key ON runs (schedule_id, slot_at) WHERE slot_at IS NOT NULL;
CREATE INDEX runs_job_idx ON runs (job_id, id DESC);
-- Active runs per job: overlap policy and the job_status view.
CREATE INDEX runs_active_idx ON runs (job_id) WHERE state IN ('waiting', 'queued', 'running');
-- Concurrency groups: the runs holding a group's slots (counted under the group's row lock),
-- and the runs waiting for one, in the order they are let in (priority, then age).
CREATE INDEX runs_group_active_idx ON runs (concurrency_group) WHERE state IN ('queued', 'running') AND concurrency_group IS NOT NULL;
-- Its predicate is said through waiting_for, which the constraints tie to state = 'waiting'
-- and to a group: a probe written the same way matches no other index (see runs_waiting_idx).
CREATE INDEX runs_group_waiting_idx ON runs (concurrency_group, priority DESC, id) WHERE waiting_for = 'group';
-- Run deadlines: tick's wake-ups and next_due_at. Only runs of jobs with a time-out.
CREATE INDEX runs_wake_idx ON runs (wake_at) WHERE wake_at IS NOT NULL;
-- Retries of a run (run detail: "retried as"); also keeps ON DELETE SET NULL cheap.
CREATE INDEX runs_retry_of_idx ON runs (retry_of) WHERE retry_of IS NOT NULL;
-- The console's timeline: a page of jobs, their runs created within a time window. It
-- includes the state, so counting a busy job's runs per bucket reads the index only.
CREATE INDEX runs_job_created_idx ON runs (job_id, created_at) INCLUDE (state);
-- The console's failures: a job's failed runs by end time (few: failures are rare).
CREATE INDEX runs_job_failed_idx ON runs (job_id, finished_at) WHERE state IN ('failed', 'timed_out');
-- Runs held back by their overlap policy, per job in order: when a run ends, whether any
-- waits is one index probe (the active-runs index made it a count of every queued run).
-- "waiting_for IS NOT NULL" is state = 'waiting' (runs_waiting_for_whole), said so that the
-- probe's condition does not also match runs_active_idx: after a burst the statistics show
-- no active runs, both looked as cheap, and the planner read every active run of the job.
CREATE INDEX runs_waiting_idx ON runs (job_id, id) WHERE waiting_for IS NOT NULL;
COMMENT ON INDEX runs_job_created_idx IS 'Runs of a job by creation time: the console''s timeline (supervisor/src/console/queries.ts).';
COMMENT ON INDEX runs_job_failed_idx IS 'Failed and timed-out runs of a job by end time: the console''s failures page and failing filter (supervisor/src/console/queries.ts).';
COMMENT ON INDEX runs_waiting_idx IS 'Runs held back by the overlap policy, per job, oldest first: admitting them when a run ends (extension/src/db/lifecycle.ts).';

------------------------------------------------------------------------------------
-- Step runs: one per attempt of a step instance
------------------------------------------------------------------------------------
-- A step run's invariants, checked on every write by one CHECK (step_runs_invariants).
-- They are one PL/pgSQL function rather than ten CHECK expressions for speed: PostgreSQL
-- reads and plans every CHECK expression of a table again for each statement that writes
-- it (ExecRelCheck: 9 KB of node text for these ten), and the fenced finish of an SQL step
-- is one such statement per step; a function's expression is planned once per session
-- (docs/benchmarks.md, "One CHECK per table"). Each invariant keeps its name: a row that
-- breaks one raises check_violation naming it, as its own CHECK did. NULL passes, as in
-- a CHECK.
CREATE FUNCTION _step_run_invariants(
    phase text, kind text, attempt integer, state text, ready_at timestamptz, lease_expires_at timestamptz,
    finished_at timestamptz, sql_state text, claim_hash bytea, awaiting_report boolean) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    broken text := CASE
        WHEN NOT (phase IN ('step', 'check')) THEN 'step_runs_phase_check'
        WHEN NOT (kind IN ('sql', 'shell', 'program', 'builtin')) THEN 'step_runs_kind_check'
        WHEN NOT (attempt >= 1) THEN 'step_runs_attempt_check'
        WHEN NOT (state IN ('ready', 'running', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost'))
            THEN 'step_runs_state_check'
        WHEN NOT ((state = 'ready') = (ready_at IS NOT NULL)) THEN 'step_runs_ready_has_time'
        WHEN NOT (state <> 'running' OR lease_expires_at IS NOT NULL) THEN 'step_runs_running_has_lease'
        WHEN NOT ((finished_at IS NOT NULL) = (state IN ('succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')))
            THEN 'step_runs_finished_state'
        WHEN NOT (sql_state IS NULL OR sql_state ~ '^[0-9A-Z]{5}$') THEN 'step_runs_sql_state_format'
        WHEN NOT (claim_hash IS NULL OR length(claim_hash) = 32) THEN 'step_runs_claim_hash_size'
        WHEN NOT (NOT awaiting_report OR state = 'succeeded') THEN 'step_runs_awaiting_report_finished'
    END;
BEGIN
    IF broken IS NULL THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'new row for relation "step_runs" violates check constraint "%"', broken
        USING ERRCODE = 'check_violation', SCHEMA = 'clockwork', TABLE = 'step_runs', CONSTRAINT = broken;
END
$$;
COMMENT ON FUNCTION _step_run_invariants(text, text, integer, text, timestamptz, timestamptz, timestamptz, text, bytea, boolean) IS
    'The invariants of a step run (the CHECK step_runs_invariants): true, or raises check_violation naming the invariant the row breaks.';

CREATE TABLE step_runs (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step              text        NOT NULL,
    instance          text        NOT NULL,
    phase             text        NOT NULL DEFAULT 'step',
    kind              text        NOT NULL,
    matrix            jsonb       NOT NULL DEFAULT '{}',
    params            jsonb       NOT NULL DEFAULT '{}',
    attempt           integer     NOT NULL DEFAULT 1,
    state             text        NOT NULL,
    required_labels   text[]      NOT NULL DEFAULT '{}',
    ready_at          timestamptz,
    worker_id         bigint,
    worker_name       text,
    lease_expires_at  timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz,
    exit_code         integer,
    sql_state         text,
    error             text,
    result            jsonb,
    stdout            text        NOT NULL DEFAULT '',
    stderr            text        NOT NULL DEFAULT '',
    output_truncated  boolean     NOT NULL DEFAULT false,
    claim_hash        bytea,
    awaiting_report   boolean     NOT NULL DEFAULT false,
    refused_by        bigint[]    NOT NULL DEFAULT '{}',
    priority          integer     NOT NULL DEFAULT 0,
    CONSTRAINT step_runs_attempt_key UNIQUE (run_id, step, instance, attempt),
    CONSTRAINT step_runs_invariants
        CHECK (_step_run_invariants(phase, kind, attempt, state, ready_at, lease_expires_at, finished_at, sql_state,
                                    claim_hash, awaiting_report))
);
COMMENT ON TABLE step_runs IS 'One row per attempt of a step instance (a step, or one matrix combination of it); leases live here.';
COMMENT ON CONSTRAINT step_runs_invariants ON step_runs IS 'Every invariant of a step run, named one by one in _step_run_invariants (one CHECK: PostgreSQL prepares each CHECK again for every statement that writes the table).';
COMMENT ON COLUMN step_runs.id IS 'Step run id; a supervisor reports results against it, and only the lease holder may.';
COMMENT ON COLUMN step_runs.run_id IS 'The run this step belongs to.';
COMMENT ON COLUMN step_runs.step IS 'Step (or check) name from the job definition.';
COMMENT ON COLUMN step_runs.instance IS 'Instance id from the core: the step name, or name[key=value,…] for one matrix combination.';
COMMENT ON COLUMN step_runs.phase IS 'step, or check (checks run after the steps and decide the final status).';
COMMENT ON COLUMN step_runs.kind IS 'sql (run by a supervisor on a connection logged in as the job owner), shell or program (run by a supervisor as a process), builtin (done by the database itself).';
COMMENT ON COLUMN step_runs.matrix IS 'The matrix values of this instance: environment variables for shell, named parameters for SQL.';
COMMENT ON COLUMN step_runs.params IS 'Parameters of this instance as the core resolved them: job defaults, run parameters, step parameters, matrix values.';
COMMENT ON COLUMN step_runs.attempt IS 'Attempt number, 1 first; a retry or a lost lease makes a new row with attempt + 1.';
COMMENT ON COLUMN step_runs.state IS 'ready → running → succeeded | failed | timed_out | cancelled | lost (lease expired, or handed back at a clean shutdown: sql_state handed_back_at_shutdown); skipped when its condition was false or a dependency failed. The state is how the attempt counts for its run: a check that got its expected exit code succeeded; see docs/state-machine.md.';
COMMENT ON COLUMN step_runs.required_labels IS 'Labels a worker must have to claim this step (from the job''s pinning).';
COMMENT ON COLUMN step_runs.ready_at IS 'Earliest time the step may be claimed (retry back-off); set only while ready.';
COMMENT ON COLUMN step_runs.worker_id IS 'Worker incarnation holding (or that last held) the lease. No foreign key: ended incarnations are deleted once their leases are settled, and history keeps worker_name.';
COMMENT ON COLUMN step_runs.worker_name IS 'Name of the worker that claimed this attempt, for history.';
COMMENT ON COLUMN step_runs.lease_expires_at IS 'The lease ends here unless the worker heartbeats; then the step is lost and retried.';
COMMENT ON COLUMN step_runs.started_at IS 'When the step was claimed; for an SQL step, replaced by the wall-clock time its statements started.';
COMMENT ON COLUMN step_runs.finished_at IS 'When the step reached a final state.';
COMMENT ON COLUMN step_runs.exit_code IS 'Exit code of a shell or program step (128 + signal if killed).';
COMMENT ON COLUMN step_runs.sql_state IS 'SQLSTATE of the error an SQL step raised, or the error kind Clockwork recorded for the attempt (e.g. handed_back_at_shutdown, on a lost attempt of any kind of step whose supervisor shut down cleanly: not a fault; see docs/sql-api.md, Error codes).';
COMMENT ON COLUMN step_runs.error IS 'Error message: the SQL error, a time-out, a spawn failure.';
COMMENT ON COLUMN step_runs.result IS 'The first 100 rows of an SQL step''s last statement, as a JSON array, for conditions on results ({"rows_affected": n} for a statement without rows).';
COMMENT ON COLUMN step_runs.stdout IS 'Captured standard output (bounded; see output_truncated).';
COMMENT ON COLUMN step_runs.stderr IS 'Captured standard error (bounded; see output_truncated).';
COMMENT ON COLUMN step_runs.output_truncated IS 'True when output beyond the capture bound was dropped, or an SQL step returned more rows than result keeps.';
COMMENT ON COLUMN step_runs.claim_hash IS 'SHA-256 of the secret handed to the worker that claimed this attempt; only that worker can finish it. Never readable by job owners.';
COMMENT ON COLUMN step_runs.awaiting_report IS 'An SQL step that committed its completion with its work, whose supervisor has not yet reported its rows; tick decides its run then, or without the rows once lease_duration() has passed.';
COMMENT ON COLUMN step_runs.refused_by IS 'Workers that handed this step back because they cannot log in as its owner or reach its target; it is not offered to them again.';
COMMENT ON COLUMN step_runs.priority IS 'Its run''s priority (policies.priority), carried here so that the claim takes ready steps highest priority first, then oldest, from one index (step_runs_claim_idx).';

-- Claims: ready steps whose time has come, highest priority first, then oldest, in the
-- claim's exact order (priority DESC, ready_at, id): many steps share one ready_at (a
-- burst of run_now), and without the whole order in the key every claim would sort the
-- whole backlog to take its first few rows.
CREATE INDEX step_runs_claim_idx ON step_runs (priority DESC, ready_at, id) WHERE state = 'ready';
COMMENT ON INDEX step_runs_claim_idx IS 'Ready steps in the order a worker claims them: highest priority first, then oldest (claimReadySteps in extension/src/db/statements.ts).';
-- When the next ready step is due, whatever its priority (nextDueAt: the supervisor's sleep).
CREATE INDEX step_runs_ready_idx ON step_runs (ready_at, id) WHERE state = 'ready';
COMMENT ON INDEX step_runs_ready_idx IS 'Ready steps by due time: when a worker next has a step to claim (nextDueAt in extension/src/db/statements.ts).';
-- Lease expiry: running steps by lease end.
CREATE INDEX step_runs_lease_idx ON step_runs (lease_expires_at) WHERE state = 'running';
-- Heartbeats: a worker's running steps (to extend) and cancelled ones (to stop).
CREATE INDEX step_runs_worker_idx ON step_runs (worker_id) WHERE state IN ('running', 'cancelled');
-- SQL steps committed whose supervisor never reported (it died in between): tick decides their runs.
CREATE INDEX step_runs_awaiting_report_idx ON step_runs (finished_at) WHERE awaiting_report;
-- No index of run_id alone: a run's step runs are found through step_runs_attempt_key,
-- whose first column is run_id. Such an index served no query the key does not, and cost
-- one more index entry on each insert and each non-HOT update of a step run (three a step).
COMMENT ON INDEX step_runs_attempt_key IS 'One row per attempt of a step instance of a run; also how a run''s step runs are found (its first column is run_id: stepRunsOfRuns, cancelRunningInstances, expireLeasesOfRun, … in extension/src/db/statements.ts, and the cascade from runs).';

------------------------------------------------------------------------------------
-- Run transactions: the open transaction of a run of a `transaction: run` job
------------------------------------------------------------------------------------
CREATE TABLE run_transactions (
    run_id        bigint      PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    worker_id     bigint      NOT NULL,
    worker_name   text        NOT NULL,
    claim_hash    bytea       NOT NULL,
    state         text        NOT NULL DEFAULT 'open',
    opened_at     timestamptz NOT NULL,
    committed_at  timestamptz,
    CONSTRAINT run_transactions_state_check CHECK (state IN ('open', 'committing', 'committed', 'lost')),
    CONSTRAINT run_transactions_committed_has_time CHECK ((state = 'committed') = (committed_at IS NOT NULL)),
    CONSTRAINT run_transactions_claim_hash_size CHECK (length(claim_hash) = 32)
);
CREATE INDEX run_transactions_worker_idx ON run_transactions (worker_id, state);
CREATE INDEX run_transactions_committed_idx ON run_transactions (run_id) WHERE state = 'committed';
COMMENT ON TABLE run_transactions IS 'One row per run of a transaction: run job whose transaction is open on a supervisor (docs/sql-steps.md, "One transaction per run"): the run''s later steps are claimed by that worker incarnation only. The row goes when the run ends: committed, or rolled back.';
COMMENT ON COLUMN run_transactions.run_id IS 'The run.';
COMMENT ON COLUMN run_transactions.worker_id IS 'The worker incarnation holding the transaction, on an owner connection of its own; the run''s steps are pinned to it. No foreign key: an ended incarnation''s row may go before the run is settled.';
COMMENT ON COLUMN run_transactions.worker_name IS 'That worker''s name, for the run''s reason when it ends (its row may be gone by then).';
COMMENT ON COLUMN run_transactions.claim_hash IS 'SHA-256 of the claim secret of the run''s first SQL step, which the holder proves at commit (_commit_run).';
COMMENT ON COLUMN run_transactions.state IS 'open (steps run in it) → committing (the run''s steps and checks succeeded: the holder is asked to commit) → committed (its commit carried this mark); lost: its holder ended before the commit, the run fails.';
COMMENT ON COLUMN run_transactions.opened_at IS 'When the run''s first SQL step was claimed.';
COMMENT ON COLUMN run_transactions.committed_at IS 'When the commit carrying the mark ran (wall clock).';

------------------------------------------------------------------------------------
-- Slots that were not fired, with the reason
------------------------------------------------------------------------------------
CREATE TABLE skipped_slots (
    schedule_id   bigint      NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    slot_at       timestamptz NOT NULL,
    last_slot_at  timestamptz NOT NULL,
    slots         integer,
    reason        text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, slot_at),
    CONSTRAINT skipped_slots_range_ordered CHECK (last_slot_at >= slot_at),
    CONSTRAINT skipped_slots_count_check CHECK (slots IS NULL OR slots >= 1),
    CONSTRAINT skipped_slots_reason_check
        CHECK (reason IN ('misfire_skipped', 'misfire_coalesced', 'misfire_too_old', 'misfire_over_limit',
                          'overlap_skipped', 'max_instances_reached', 'queue_full', 'definition_unreadable'))
);
COMMENT ON TABLE skipped_slots IS 'Schedule slots that came due but did not become a run, and why: one row per slot, or per run of consecutive slots skipped for one reason (a long outage is one row).';
COMMENT ON COLUMN skipped_slots.schedule_id IS 'The schedule.';
COMMENT ON COLUMN skipped_slots.slot_at IS 'The (first) slot that was not fired.';
COMMENT ON COLUMN skipped_slots.last_slot_at IS 'The last slot of the range; equal to slot_at for a single slot. Every slot of the schedule in between was skipped for this reason.';
COMMENT ON COLUMN skipped_slots.slots IS 'How many slots the row stands for; NULL when more than 10 000 (not counted).';
COMMENT ON COLUMN skipped_slots.reason IS 'Why, as decided by the core''s misfire and overlap policies: misfire_skipped, misfire_coalesced, misfire_too_old, misfire_over_limit (missed while no supervisor ran), overlap_skipped, max_instances_reached, queue_full (previous runs still going); definition_unreadable (the stored definition could not be read by this version: the schedule stops until the job is defined again).';
COMMENT ON COLUMN skipped_slots.recorded_at IS 'When the decision was taken.';
-- The console's skipped slots, newest first over all schedules.
CREATE INDEX skipped_slots_slot_idx ON skipped_slots (slot_at);
COMMENT ON INDEX skipped_slots_slot_idx IS 'Skipped slots by time over all schedules: the console''s skipped-slots page (supervisor/src/console/queries.ts).';

------------------------------------------------------------------------------------
-- Named connections and calendars
------------------------------------------------------------------------------------
CREATE TABLE connections (
    name              text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    conninfo          text        NOT NULL,
    server_role       text        NOT NULL DEFAULT 'any',
    on_role_mismatch  text        NOT NULL DEFAULT 'fail',
    description       text,
    owner             name        NOT NULL DEFAULT current_user,
    granted_to        name[]      NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT connections_server_role_check CHECK (server_role IN ('primary', 'standby', 'any')),
    CONSTRAINT connections_on_role_mismatch_check CHECK (on_role_mismatch IN ('fail', 'skip')),
    -- Passwords belong in .pgpass, a service file or the supervisor's environment, never in a table.
    CONSTRAINT connections_no_password CHECK (conninfo !~* '(^|\s)(ssl)?password\s*=|://[^/@:]*:[^/@]*@|[?&](ssl)?password=')
);
COMMENT ON TABLE connections IS 'Named connections SQL steps may run on instead of this database (docs/sql-steps.md); never with a password.';
COMMENT ON COLUMN connections.name IS 'Name used in a step''s "connection" field.';
COMMENT ON COLUMN connections.conninfo IS 'libpq connection string or URI without a password: the supervisor logs in with .pgpass, a service file, a client certificate or peer authentication.';
COMMENT ON COLUMN connections.server_role IS 'Which server steps expect: primary (not in recovery), standby (in recovery) or any.';
COMMENT ON COLUMN connections.on_role_mismatch IS 'When the server is not in server_role: fail the step (with the reason), or skip it (PgQuartz''s runOnRoleError).';
COMMENT ON COLUMN connections.description IS 'What the connection is for.';
COMMENT ON COLUMN connections.owner IS 'Role that defined the connection; it and its members may use, alter, grant and drop it.';
COMMENT ON COLUMN connections.granted_to IS 'Roles (and their members) granted the use of the connection in their jobs; ''public'' for every role.';
COMMENT ON COLUMN connections.created_at IS 'When the connection was defined.';
COMMENT ON COLUMN connections.updated_at IS 'When it was last altered.';

CREATE TABLE calendars (
    name         text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    description  text,
    dates        date[]      NOT NULL DEFAULT '{}',
    owner        name        NOT NULL DEFAULT current_user,
    granted_to   name[]      NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE calendars IS 'Named lists of dates (holidays, freeze days) that schedules can exclude.';
COMMENT ON COLUMN calendars.name IS 'Name used in a schedule''s exclude.calendars.';
COMMENT ON COLUMN calendars.description IS 'What the calendar is.';
COMMENT ON COLUMN calendars.dates IS 'The dates, read in each schedule''s own time zone.';
COMMENT ON COLUMN calendars.owner IS 'Role that defined the calendar; it and its members may use, alter, grant and drop it.';
COMMENT ON COLUMN calendars.granted_to IS 'Roles (and their members) granted the use of the calendar in their schedules; ''public'' for every role.';
COMMENT ON COLUMN calendars.updated_at IS 'When the calendar was last changed (schedules excluding it are re-planned then).';

------------------------------------------------------------------------------------
-- Concurrency groups: a named limit that runs of several jobs share
------------------------------------------------------------------------------------
CREATE TABLE concurrency_groups (
    name         text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    max_running  integer     NOT NULL CHECK (max_running BETWEEN 1 AND 10000),
    description  text,
    owner        name        NOT NULL DEFAULT current_user,
    granted_to   name[]      NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE concurrency_groups IS 'Named limits that runs of several jobs share (policies.group): at most max_running of their runs are queued or running at once; the others wait, highest priority first (docs/policies.md, "Concurrency groups"). The row is the serialisation point: a run takes a slot only under its row lock.';
COMMENT ON COLUMN concurrency_groups.name IS 'Name used in a job''s policies.group.';
COMMENT ON COLUMN concurrency_groups.max_running IS 'How many runs of the group may be queued or running at once: 1 runs its jobs one at a time (pg_timetable''s exclusive_execution), n is a pool of n slots.';
COMMENT ON COLUMN concurrency_groups.description IS 'What the group is for.';
COMMENT ON COLUMN concurrency_groups.owner IS 'Role that defined the group; it and its members may use, change, grant and drop it.';
COMMENT ON COLUMN concurrency_groups.granted_to IS 'Roles (and their members) granted the use of the group in their jobs; ''public'' for every role.';
COMMENT ON COLUMN concurrency_groups.updated_at IS 'When the group was last defined or changed.';

------------------------------------------------------------------------------------
-- Bounded history: the default retention, and what pruning removed
------------------------------------------------------------------------------------
CREATE TABLE history_retention (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    max_age        interval    CHECK (max_age >= interval '1 minute'),
    max_runs       integer     CHECK (max_runs >= 1),
    keep           text        NOT NULL DEFAULT 'all' CHECK (keep IN ('all', 'failures')),
    pruned_at      timestamptz,
    prune_cursor   bigint      NOT NULL DEFAULT 0
);
COMMENT ON TABLE history_retention IS 'The history every job keeps unless its policies.retention says otherwise (one row; a superuser changes it with UPDATE). The scheduler prunes what is beyond it in small batches (docs/policies.md, "History").';
COMMENT ON COLUMN history_retention.singleton IS 'Always true: the table has one row.';
COMMENT ON COLUMN history_retention.max_age IS 'Finished runs (and skipped slots) older than this are pruned; NULL: no age limit (the default).';
COMMENT ON COLUMN history_retention.max_runs IS 'Runs kept per job (and skipped-slot rows per schedule), the newest; NULL: no limit. Default 10 000.';
COMMENT ON COLUMN history_retention.keep IS 'all, or failures (errors-only): a succeeded run is pruned once a newer run of its job exists, and counted in pruned_runs.';
COMMENT ON COLUMN history_retention.pruned_at IS 'When a scheduler last started a pruning pass; passes are a minute apart unless a pass had more to do than one batch.';
COMMENT ON COLUMN history_retention.prune_cursor IS 'The last job id a pruning pass looked at: each pass looks at the next jobs, round the table.';
INSERT INTO history_retention (max_runs) VALUES (10000);

CREATE TABLE pruned_runs (
    job_id       bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state        text        NOT NULL,
    runs         bigint      NOT NULL CHECK (runs >= 1),
    first_created_at timestamptz NOT NULL,
    last_created_at  timestamptz NOT NULL,
    PRIMARY KEY (job_id, state),
    CONSTRAINT pruned_runs_state_check CHECK (state IN ('succeeded', 'failed', 'timed_out', 'cancelled')),
    CONSTRAINT pruned_runs_range_ordered CHECK (last_created_at >= first_created_at)
);
COMMENT ON TABLE pruned_runs IS 'How many runs of each job and final state the retention policy pruned, so that counts survive pruning (errors-only keeps failures and counts successes here).';
COMMENT ON COLUMN pruned_runs.job_id IS 'The job.';
COMMENT ON COLUMN pruned_runs.state IS 'The final state of the pruned runs.';
COMMENT ON COLUMN pruned_runs.runs IS 'How many were pruned.';
COMMENT ON COLUMN pruned_runs.first_created_at IS 'Creation time of the oldest pruned run in this count.';
COMMENT ON COLUMN pruned_runs.last_created_at IS 'Creation time of the newest pruned run in this count: explain says a slot up to here may have been pruned.';
