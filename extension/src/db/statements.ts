// Every SQL statement the PL/v8 adapter runs, named and in one place (as River does), so
// a reader can check each against the indexes in extension/sql/10_tables.sql. Statements
// are set-based: one statement per operation, with rows passed as a jsonb array.

import { sql } from "./query.ts";

export const SQL = {
  callerRights: sql([], `SELECT clockwork._caller_rights() AS rights`),
  notifyWakeup: sql(["text"], `SELECT pg_notify('clockwork_wakeup', $1)`),
  notifyCancel: sql(["text"], `SELECT pg_notify('clockwork_cancel', $1)`),

  // --- definitions ---------------------------------------------------------------
  connectionNames: sql([], `SELECT name FROM clockwork.connections`),
  calendars: sql([], `SELECT name, dates::text[] AS dates FROM clockwork.calendars`),
  jobByNameForUpdate: sql(["text"], `
    SELECT id::text AS id, owner, version, definition, enabled,
           clockwork._may_manage(owner) AS may_manage
      FROM clockwork.jobs
     WHERE name = $1
       FOR UPDATE`),
  insertJob: sql(["text", "name", "jsonb", "timestamptz"], `
    INSERT INTO clockwork.jobs (name, owner, definition, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $4)
    RETURNING id::text AS id`),
  updateJob: sql(["text", "jsonb", "timestamptz"], `
    UPDATE clockwork.jobs
       SET definition = $2, version = version + 1, updated_at = $3
     WHERE id = $1::bigint
    RETURNING version`),
  insertJobVersion: sql(["text", "integer", "jsonb", "timestamptz", "name", "text", "text"], `
    INSERT INTO clockwork.job_versions (job_id, version, definition, defined_at, defined_by, source, applied_from)
    VALUES ($1::bigint, $2, $3, $4, $5, $6, $7)`),
  // An unchanged definition whose text changed (comments, layout) or that files now manage:
  // the current version keeps its number and takes the new text.
  restampJobVersion: sql(["text", "integer", "text", "text"], `
    UPDATE clockwork.job_versions SET source = $3, applied_from = $4
     WHERE job_id = $1::bigint AND version = $2`),
  setJobManagedBy: sql(["text", "text"], `UPDATE clockwork.jobs SET managed_by = $2 WHERE id = $1::bigint`),
  currentJobVersionSource: sql(["text", "integer"], `
    SELECT source, applied_from FROM clockwork.job_versions WHERE job_id = $1::bigint AND version = $2`),
  schedulesOfJob: sql(["text"], `
    SELECT id::text AS id, position, spec, next_fire_at, last_slot_at
      FROM clockwork.schedules
     WHERE job_id = $1::bigint
     ORDER BY position`),
  upsertSchedules: sql(["text", "text"], `
    INSERT INTO clockwork.schedules AS s (job_id, position, kind, spec, description, time_zone, next_fire_at)
    SELECT $1::bigint, x.position, x.kind, x.spec, x.description, x.time_zone, x.next_fire_at
      FROM jsonb_to_recordset($2::text::jsonb) AS x(position integer, kind text, spec jsonb, description text,
                                       time_zone text, next_fire_at timestamptz)
        ON CONFLICT ON CONSTRAINT schedules_job_position_key DO UPDATE
       SET kind = excluded.kind, spec = excluded.spec, description = excluded.description,
           time_zone = excluded.time_zone, next_fire_at = excluded.next_fire_at`),
  deleteSchedulesFrom: sql(["text", "integer"], `DELETE FROM clockwork.schedules WHERE job_id = $1::bigint AND position >= $2`),
  // Raises not_found when the job does not exist or is not the caller's.
  jobForCaller: sql(["text"], `SELECT id::text AS id, version, enabled FROM clockwork._job_for_caller($1)`),
  insertManualRun: sql(["text", "integer", "jsonb", "timestamptz"], `
    INSERT INTO clockwork.runs (job_id, job_version, trigger, params, state, queued_at)
    VALUES ($1::bigint, $2, 'manual', $3, 'queued', $4)
    RETURNING id::text AS id, job_id::text AS job_id, job_version, params, state, queued_at, started_at, wake_at`),
  setNextFireByPosition: sql(["text", "text"], `
    UPDATE clockwork.schedules AS s
       SET next_fire_at = x.next_fire_at
      FROM jsonb_to_recordset($2::text::jsonb) AS x(position integer, next_fire_at timestamptz)
     WHERE s.job_id = $1::bigint AND s.position = x.position`),
  setJobEnabled: sql(["text", "boolean", "timestamptz"], `UPDATE clockwork.jobs SET enabled = $2, updated_at = $3 WHERE id = $1::bigint`),

  // --- firing --------------------------------------------------------------------
  // The due query: the partial index schedules_due_idx serves it; SKIP LOCKED lets
  // several tick callers share the due schedules without waiting on each other.
  claimDueSchedules: sql(["timestamptz", "integer"], `
    SELECT s.id::text AS id, s.job_id::text AS job_id, s.position, s.spec, s.time_zone,
           s.next_fire_at, s.last_slot_at, j.version, j.definition
      FROM clockwork.schedules AS s
      JOIN clockwork.jobs AS j ON j.id = s.job_id
     WHERE s.next_fire_at <= $1
     ORDER BY s.next_fire_at
     LIMIT $2
       FOR UPDATE OF s SKIP LOCKED`),
  // Exactly once: the unique index runs_slot_key (schedule_id, slot_at) drops a slot fired twice.
  insertRuns: sql(["text", "timestamptz"], `
    INSERT INTO clockwork.runs (job_id, job_version, schedule_id, slot_at, trigger, params, state, queued_at)
    SELECT x.job_id, x.job_version, x.schedule_id, x.slot_at, x.trigger, x.params, x.state, $2
      FROM jsonb_to_recordset($1::text::jsonb) AS x(job_id bigint, job_version integer, schedule_id bigint,
                                       slot_at timestamptz, trigger text, params jsonb, state text)
        ON CONFLICT (schedule_id, slot_at) WHERE slot_at IS NOT NULL DO NOTHING
    RETURNING id::text AS id, job_id::text AS job_id, job_version, params, state, queued_at, started_at, wake_at, slot_at`),
  activeRuns: sql(["text[]"], `
    SELECT id::text AS id, job_id::text AS job_id, state, coalesce(started_at, queued_at) AS since
      FROM clockwork.runs
     WHERE job_id = ANY ($1::bigint[]) AND state IN ('waiting', 'queued', 'running')
     ORDER BY id`),
  cancelRun: sql(["text", "timestamptz"], `SELECT clockwork.cancel_run($1::bigint, $2)`),
  // Overlap queue: the oldest run held back, once the job has room again.
  oldestWaitingRun: sql(["text"], `
    SELECT id::text AS id, job_id::text AS job_id, job_version, params, state, queued_at, started_at, wake_at, slot_at
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state = 'waiting'
     ORDER BY id
     LIMIT 1
       FOR UPDATE SKIP LOCKED`),
  countActiveRuns: sql(["text"], `
    SELECT count(*) FILTER (WHERE state IN ('queued', 'running'))::integer AS running,
           count(*) FILTER (WHERE state = 'waiting')::integer AS waiting
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state IN ('waiting', 'queued', 'running')`),
  // @after: the job's fixed-delay schedules, re-armed when one of its runs ends.
  afterSchedulesOfJob: sql(["text"], `
    SELECT id::text AS id, position
      FROM clockwork.schedules
     WHERE kind = 'after' AND job_id = $1::bigint`),
  setNextFire: sql(["text", "timestamptz"], `
    UPDATE clockwork.schedules SET next_fire_at = $2 WHERE id = $1::bigint`),
  releaseWaitingRun: sql(["text"], `UPDATE clockwork.runs SET state = 'queued' WHERE id = $1::bigint`),
  insertSkippedSlots: sql(["text", "timestamptz"], `
    INSERT INTO clockwork.skipped_slots (schedule_id, slot_at, reason, recorded_at)
    SELECT x.schedule_id, x.slot_at, x.reason, $2
      FROM jsonb_to_recordset($1::text::jsonb) AS x(schedule_id bigint, slot_at timestamptz, reason text)
        ON CONFLICT DO NOTHING`),
  advanceSchedules: sql(["text"], `
    UPDATE clockwork.schedules AS s
       SET next_fire_at = x.next_fire_at, last_slot_at = greatest(s.last_slot_at, x.last_slot_at)
      FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, next_fire_at timestamptz, last_slot_at timestamptz)
     WHERE s.id = x.id`),
  jobVersion: sql(["text", "integer"], `
    SELECT definition FROM clockwork.job_versions WHERE job_id = $1::bigint AND version = $2`),

  // --- step runs -----------------------------------------------------------------
  insertStepRuns: sql(["text"], `
    INSERT INTO clockwork.step_runs (run_id, step, instance, phase, kind, matrix, params, attempt, state,
                                     required_labels, ready_at, started_at, finished_at, stdout, error)
    SELECT x.run_id, x.step, x.instance, x.phase, x.kind, x.matrix, x.params, x.attempt, x.state,
           x.required_labels, x.ready_at, x.started_at, x.finished_at, coalesce(x.stdout, ''), x.error
      FROM jsonb_to_recordset($1::text::jsonb) AS x(run_id bigint, step text, instance text, phase text, kind text,
                                       matrix jsonb, params jsonb, attempt integer, state text,
                                       required_labels text[], ready_at timestamptz, started_at timestamptz,
                                       finished_at timestamptz, stdout text, error text)`),
  stepRunsOfRun: sql(["text"], `
    SELECT id::text AS id, step, instance, phase, kind, matrix, params, attempt, state, exit_code,
           sql_state, error, result, stdout, stderr, started_at, finished_at
      FROM clockwork.step_runs
     WHERE run_id = $1::bigint
     ORDER BY id`),
  runForUpdate: sql(["text"], `
    SELECT id::text AS id, job_id::text AS job_id, job_version, schedule_id::text AS schedule_id,
           params, state, queued_at, started_at, wake_at
      FROM clockwork.runs
     WHERE id = $1::bigint
       FOR UPDATE`),
  setRunWake: sql(["text", "timestamptz"], `UPDATE clockwork.runs SET wake_at = $2 WHERE id = $1::bigint`),
  // Runs whose deadline passed, for tick to decide again (runs_wake_idx).
  runsToWake: sql(["timestamptz", "integer"], `
    SELECT id::text AS id, job_id::text AS job_id, job_version, schedule_id::text AS schedule_id,
           params, state, queued_at, started_at, wake_at
      FROM clockwork.runs
     WHERE wake_at <= $1
     ORDER BY wake_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED`),
  // Updates of one run by id say which states they leave alone with NOT IN on purpose: a
  // positive state list implies runs_active_idx's predicate, and after a burst of runs
  // that index's statistics still say it is empty, so the planner scanned all of it for
  // each update (3 ms at 5 000 active runs) instead of using the primary key.
  finishRun: sql(["text", "text", "timestamptz", "text"], `
    UPDATE clockwork.runs
       SET state = $2, finished_at = greatest($3, started_at, queued_at), reason = $4, wake_at = NULL
     WHERE id = $1::bigint AND state NOT IN ('waiting', 'succeeded', 'failed', 'cancelled')`),

  // A step's own time-out fails it ('failed', may be retried); the run's time-out or a
  // cancel stops it ('cancelled'): the run then ends for that reason, not the step's.
  cancelRunningInstances: sql(["text", "text[]", "timestamptz", "text", "text"], `
    UPDATE clockwork.step_runs
       SET state = $5, ready_at = NULL, finished_at = $3, error = $4
     WHERE run_id = $1::bigint AND instance = ANY ($2::text[])
       AND state NOT IN ('succeeded', 'failed', 'skipped', 'cancelled', 'lost') -- ready or running; see stepRunForSql
    RETURNING id::text AS id`),

  // Lease expiry (step_runs_lease_idx): the expired attempt becomes 'lost' and, unless
  // that instance already lost $2 leases, a new attempt is queued in the same statement.
  expireLeases: sql(["timestamptz", "integer"], `
    WITH expired AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'lost', finished_at = greatest($1, s.started_at), lease_expires_at = NULL,
               error = 'lease expired: the worker stopped heartbeating'
         WHERE s.id IN (SELECT id FROM clockwork.step_runs
                         WHERE state = 'running' AND lease_expires_at < $1
                         ORDER BY lease_expires_at
                         LIMIT 1000
                           FOR UPDATE SKIP LOCKED)
        RETURNING s.*
    ), requeued AS (
        INSERT INTO clockwork.step_runs (run_id, step, instance, phase, kind, matrix, params, attempt,
                                         state, required_labels, ready_at)
        -- A step claimed ahead and handed back before its start is due at its start still.
        SELECT e.run_id, e.step, e.instance, e.phase, e.kind, e.matrix, e.params, e.attempt + 1,
               'ready', e.required_labels, greatest($1, e.started_at)
          FROM expired AS e
         WHERE (SELECT count(*) FROM clockwork.step_runs AS x
                 WHERE x.run_id = e.run_id AND x.phase = e.phase AND x.instance = e.instance
                   AND x.state = 'lost') < $2 - 1
        RETURNING run_id
    )
    SELECT DISTINCT e.run_id::text AS run_id,
           EXISTS (SELECT 1 FROM requeued AS q WHERE q.run_id = e.run_id) AS requeued
      FROM expired AS e`),

  // Claims: ready steps whose time has come, oldest first (step_runs_ready_idx), only
  // those whose required labels this worker has.
  // Claims ready steps whose time comes by the horizon ($5, a few ms after now ($3) when
  // the supervisor fires ahead): a step is held from max(now, ready_at), its start time.
  // A dedicated worker ($6, its pinning label `node:<name>`) claims only steps pinned to it.
  claimReadySteps: sql(["text", "integer", "timestamptz", "text[]", "timestamptz", "text"], `
    WITH claimable AS (
        SELECT id, ready_at
          FROM clockwork.step_runs
         WHERE state = 'ready' AND ready_at <= $5 AND required_labels <@ $4::text[]
           AND ($6::text IS NULL OR $6::text = ANY (required_labels))
         ORDER BY ready_at, id
         LIMIT $2
           FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'running', ready_at = NULL, worker_id = $1::bigint,
               started_at = greatest($3, claimable.ready_at),
               lease_expires_at = greatest($3, claimable.ready_at) + clockwork.lease_duration()
          FROM claimable
         WHERE s.id = claimable.id
        RETURNING s.*, claimable.ready_at AS due_at
    ), started_runs AS (
        UPDATE clockwork.runs AS r
           SET state = 'running', started_at = coalesce(r.started_at, c.started_at)
          FROM (SELECT run_id, min(started_at) AS started_at FROM claimed GROUP BY run_id) AS c
         WHERE r.id = c.run_id AND r.state NOT IN ('waiting', 'running', 'succeeded', 'failed', 'cancelled') -- queued; see finishRun
    )
    SELECT c.id::text AS step_run_id, c.run_id::text AS run_id, j.name AS job, c.step, c.instance,
           c.phase, c.kind, c.params, c.attempt, c.lease_expires_at, c.due_at, c.started_at AS start_at,
           r.slot_at, r.job_id::text AS job_id, r.job_version
      FROM claimed AS c
      JOIN clockwork.runs AS r ON r.id = c.run_id
      JOIN clockwork.jobs AS j ON j.id = r.job_id
     ORDER BY c.id`),

  // When is anything next due for this worker: a slot, a claimable step, a lease end, a run's deadline.
  // A dedicated worker ($2 as in claimReadySteps) fires no slots and waits for its own steps only.
  nextDueAt: sql(["text[]", "text"], `
    SELECT least(
        (SELECT min(next_fire_at) FROM clockwork.schedules WHERE next_fire_at IS NOT NULL AND $2::text IS NULL),
        (SELECT ready_at FROM clockwork.step_runs
          WHERE state = 'ready' AND required_labels <@ $1::text[]
            AND ($2::text IS NULL OR $2::text = ANY (required_labels))
          ORDER BY ready_at LIMIT 1),
        (SELECT min(lease_expires_at) FROM clockwork.step_runs WHERE state = 'running'),
        (SELECT min(wake_at) FROM clockwork.runs WHERE wake_at IS NOT NULL)
    ) AS next_due_at`),

  workerByName: sql(["text", "timestamptz"], `
    UPDATE clockwork.workers SET heartbeat_at = $2, stopped_at = NULL
     WHERE name = $1
    RETURNING id::text AS id, labels, CASE WHEN dedicated THEN 'node:' || name END AS pinned_to`),
  completeStep: sql(["text", "text", "text", "timestamptz", "integer", "text", "text", "text", "text", "text"], `
    UPDATE clockwork.step_runs AS s
       SET state = $3, finished_at = $4, exit_code = $5, sql_state = $6, error = $7, result = $8::text::jsonb,
           stdout = s.stdout || left($9, greatest(clockwork.output_limit() - length(s.stdout), 0)),
           stderr = s.stderr || left($10, greatest(clockwork.output_limit() - length(s.stderr), 0)),
           output_truncated = s.output_truncated
               OR length($9) > clockwork.output_limit() - length(s.stdout)
               OR length($10) > clockwork.output_limit() - length(s.stderr),
           lease_expires_at = NULL
      FROM clockwork.workers AS w
     WHERE s.id = $1::bigint AND s.worker_id = w.id AND w.name = $2
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'skipped', 'cancelled', 'lost') -- running; see stepRunForSql
    RETURNING s.run_id::text AS run_id, s.step, s.instance, s.phase, s.attempt, s.stdout`),
  runState: sql(["text"], `SELECT state FROM clockwork.runs WHERE id = $1::bigint`),
  currentRoleAndPath: sql([], `SELECT current_setting('role') AS role, current_setting('search_path') AS search_path`),
  // SET LOCAL ROLE / search_path with parameters: undone with the (sub)transaction.
  setLocalRoleAndPath: sql(["text", "text"], `SELECT set_config('role', $1, true), set_config('search_path', $2, true)`),
  // wait_until: pg_sleep for the bulk, clock_timestamp() for the last stretch.
  sleep: sql(["float8"], `SELECT pg_sleep($1)`),
  clockReached: sql(["timestamptz"], `SELECT clock_timestamp() >= $1 AS reached`),
  completeSqlStep: sql(["text", "text", "text", "text", "text", "timestamptz"], `SELECT clockwork._complete_sql_step($1::bigint, $2, $3, $4, $5::text::jsonb, $6) AS c`),
  stepRunForSql: sql(["text", "text"], `
    SELECT s.id::text AS id, s.run_id::text AS run_id, s.step, s.phase, s.instance, s.params, s.attempt,
           s.kind, s.started_at, r.job_id::text AS job_id, r.job_version, j.owner
      FROM clockwork.step_runs AS s
      JOIN clockwork.runs AS r ON r.id = s.run_id
      JOIN clockwork.jobs AS j ON j.id = r.job_id
      JOIN clockwork.workers AS w ON w.id = s.worker_id
     WHERE s.id = $1::bigint AND w.name = $2
       -- running, said as NOT IN: \`state = 'running'\` implies the predicates of the lease
       -- and worker indexes, whose statistics say "empty" after a burst of claims, and the
       -- planner then scanned a whole index per call (1.7 ms at 3 000 running steps)
       -- instead of using the primary key (see finishRun).
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'skipped', 'cancelled', 'lost')`),
} as const;
