// Every SQL statement the PL/v8 adapter runs, named and in one place (as River does), so
// a reader can check each against the indexes in extension/sql/10_tables.sql. Statements
// are set-based: one statement per operation, with rows passed as a jsonb array.

import { sql } from "./query.ts";


/** The step run s was held by an incarnation that shut down cleanly (release_worker). */
const RELEASED_WORKER = "EXISTS (SELECT 1 FROM clockwork.workers AS w WHERE w.id = s.worker_id AND w.ended_by = 'release')";

/** The columns of a run that the lifecycle reads (RunRow in db/runs.ts). */
const RUN_COLUMNS = `id::text AS id, job_id::text AS job_id, job_version, schedule_id::text AS schedule_id,
           params, state, created_at, queued_at, started_at, wake_at, slot_at, trigger, reason, cancel_requested_at, cancel_mode,
           concurrency_group, waiting_for`;

/**
 * The ids of $1 (a bigint[]) for `col = ANY (…)` in statements run on every firing tick.
 * Written `ANY ($1::bigint[])`, the custom plan counts the array's real length (usually
 * one) and the generic plan ten elements, so the generic plan always looks dearer and
 * PostgreSQL plans such a statement again on every call (0.1-0.3 ms each). Read through
 * an InitPlan, both plans count ten: the plan is made once per session, and it is the
 * same primary-key or index lookup (test/extension/plans.test.ts, "planned once").
 */
const IDS_1 = "ARRAY(SELECT unnest($1::bigint[]))";

/**
 * The slots a concurrency group's runs hold (the `group` expression: its name): its runs
 * queued or running (runs_group_active_idx). One expression, so that admitting a run
 * (groupOccupancy) and finding groups with room (groupsWithRoom) count alike.
 */
const groupSlotsTaken = (group: string) => `(SELECT count(*) FROM clockwork.runs AS taken
     WHERE taken.concurrency_group = ${group} AND taken.state IN ('queued', 'running'))`;

export const SQL = {
  callerRights: sql([], `SELECT clockwork._caller_rights() AS rights`),
  notifyWakeup: sql(["text"], `SELECT pg_notify('clockwork_wakeup', $1)`),
  notifyCancel: sql(["text"], `SELECT pg_notify('clockwork_cancel', $1)`),

  // --- definitions ---------------------------------------------------------------
  connectionsUsableBy: sql(["name"], `
    SELECT name FROM clockwork.connections WHERE clockwork._may_use(owner, granted_to, $1) ORDER BY name`),
  calendarsUsableBy: sql(["name"], `
    SELECT name FROM clockwork.calendars WHERE clockwork._may_use(owner, granted_to, $1) ORDER BY name`),
  databaseNames: sql([], `SELECT datname AS name FROM pg_catalog.pg_database WHERE datallowconn ORDER BY datname`),
  // Dates as ISO text whatever the session's DateStyle.
  calendars: sql([], `SELECT name, ARRAY(SELECT to_char(d, 'YYYY-MM-DD') FROM unnest(dates) AS d) AS dates FROM clockwork.calendars`),
  jobsExcludingCalendar: sql(["text"], `
    SELECT id::text AS id, version
      FROM clockwork.jobs
     WHERE enabled AND jsonb_path_exists(definition, 'lax $.schedules.** ? (@.calendars == $name)', jsonb_build_object('name', $1::text))
     ORDER BY jobs.id`),
  // --- named connections (functions/connections.ts) -------------------------------
  connectionForCaller: sql(["text"], `
    SELECT c.name, c.owner,
           clockwork._may_manage(c.owner) OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = clockwork._caller()) AS may_manage,
           clockwork._may_use(c.owner, c.granted_to, clockwork._caller()) AS may_use
      FROM clockwork.connections AS c
     WHERE c.name = $1
       FOR UPDATE`),
  upsertConnection: sql(["text", "text", "text", "text", "text", "name"], `
    INSERT INTO clockwork.connections AS c (name, conninfo, server_role, on_role_mismatch, description, owner)
    VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT ON CONSTRAINT connections_pkey DO UPDATE
       SET conninfo = excluded.conninfo, server_role = excluded.server_role,
           on_role_mismatch = excluded.on_role_mismatch, description = excluded.description, updated_at = now()`),
  alterConnection: sql(["text", "text", "text", "text", "text"], `
    UPDATE clockwork.connections
       SET conninfo = coalesce($2, conninfo), server_role = coalesce($3, server_role),
           on_role_mismatch = coalesce($4, on_role_mismatch), description = coalesce($5, description), updated_at = now()
     WHERE name = $1`),
  jobsUsingConnection: sql(["text"], `
    SELECT name, clockwork._may_manage(owner) AS visible
      FROM clockwork.jobs
     WHERE dropped_at IS NULL -- a dropped job kept for its history uses nothing
       AND jsonb_path_exists(definition, 'lax $.** ? (@.connection == $name)', jsonb_build_object('name', $1::text))
     ORDER BY name`),
  deleteConnection: sql(["text"], `DELETE FROM clockwork.connections WHERE name = $1`),
  grantConnection: sql(["text", "name"], `
    UPDATE clockwork.connections SET granted_to = array_append(array_remove(granted_to, $2), $2) WHERE name = $1`),
  revokeConnection: sql(["text", "name"], `
    UPDATE clockwork.connections SET granted_to = array_remove(granted_to, $2) WHERE name = $1`),
  // The role a grant or revoke names (extension/sql/20_callers.sql): 'public' in any case,
  // else an existing role (unless $2 is false), or invalid_argument.
  grantee: sql(["name", "boolean"], `SELECT clockwork._grantee($1, $2) AS role`),
  // The caller's own job of that name: names are unique per owner.
  jobByNameForUpdate: sql(["text", "name"], `
    SELECT id::text AS id, owner, version, definition, enabled,
           clockwork._may_manage(owner) AS may_manage
      FROM clockwork.jobs
     WHERE owner = $2 AND name = $1 AND dropped_at IS NULL
       FOR UPDATE`),
  // User JSON (definitions, parameters) crosses as JSON text: a JavaScript number passed
  // as jsonb would be rounded to 15 significant digits by PL/v8 (clockwork_v8 refuses it).
  insertJob: sql(["text", "name", "text", "timestamptz"], `
    INSERT INTO clockwork.jobs (name, owner, definition, created_at, updated_at)
    VALUES ($1, $2, $3::jsonb, $4, $4)
    RETURNING id::text AS id`),
  updateJob: sql(["text", "text", "timestamptz"], `
    UPDATE clockwork.jobs
       SET definition = $2::jsonb, version = version + 1, updated_at = $3
     WHERE id = $1::bigint
    RETURNING version`),
  insertJobVersion: sql(["text", "integer", "text", "timestamptz", "name", "text", "text"], `
    INSERT INTO clockwork.job_versions (job_id, version, definition, defined_at, defined_by, source, applied_from)
    VALUES ($1::bigint, $2, $3::jsonb, $4, $5, $6, $7)`),
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
  // A run of a job in a concurrency group ($5) is created waiting for a slot in it: only
  // the group's admission (db/groups.ts), under the group's row lock, lets it in.
  insertManualRun: sql(["text", "integer", "text", "timestamptz", "text", "integer", "text"], `
    INSERT INTO clockwork.runs (job_id, job_version, trigger, params, state, created_at, queued_at,
                                concurrency_group, priority, waiting_for, reason)
    VALUES ($1::bigint, $2, 'manual', $3::jsonb, CASE WHEN $5::text IS NULL THEN 'queued' ELSE 'waiting' END, $4,
            CASE WHEN $5::text IS NULL THEN $4 END,
            $5::text, $6, CASE WHEN $5::text IS NOT NULL THEN 'group' END, $7)
    RETURNING ${RUN_COLUMNS}`),
  // retry_run: the run, its job's current version, and whether the caller may manage it.
  runForRetry: sql(["text"], `
    SELECT j.id::text AS job_id, j.version, r.state, r.params, clockwork._may_manage(j.owner) AS may_manage
      FROM clockwork.runs AS r
      JOIN clockwork.jobs AS j ON j.id = r.job_id
     WHERE r.id = $1::bigint AND j.dropped_at IS NULL`),
  markRetryOf: sql(["text", "text"], `UPDATE clockwork.runs SET retry_of = $2::bigint WHERE id = $1::bigint`),
  setNextFireByPosition: sql(["text", "text"], `
    UPDATE clockwork.schedules AS s
       SET next_fire_at = x.next_fire_at
      FROM jsonb_to_recordset($2::text::jsonb) AS x(position integer, next_fire_at timestamptz)
     WHERE s.job_id = $1::bigint AND s.position = x.position`),
  setJobEnabled: sql(["text", "boolean", "timestamptz"], `UPDATE clockwork.jobs SET enabled = $2, updated_at = $3 WHERE id = $1::bigint`),

  // --- firing --------------------------------------------------------------------
  // The due query: the partial index schedules_due_idx serves it; SKIP LOCKED lets
  // several tick callers share the due schedules without waiting on each other.
  // The job's definition is not read here: tick takes it from its per-session cache by
  // (job, version) (readJobVersion); converting it to a JavaScript object on every firing
  // tick was work for nothing, and grows with the definition (a long SQL script).
  claimDueSchedules: sql(["timestamptz", "integer"], `
    SELECT s.id::text AS id, s.job_id::text AS job_id, s.position, s.next_fire_at, s.last_slot_at, j.version
      FROM clockwork.schedules AS s
      JOIN clockwork.jobs AS j ON j.id = s.job_id
     WHERE s.next_fire_at <= $1
     ORDER BY s.next_fire_at
     LIMIT $2
       FOR UPDATE OF s SKIP LOCKED`),
  // Exactly once: the unique index runs_slot_key (schedule_id, slot_at) drops a slot fired twice.
  insertRuns: sql(["text", "timestamptz"], `
    INSERT INTO clockwork.runs (job_id, job_version, schedule_id, slot_at, trigger, params, state, reason,
                                created_at, queued_at, concurrency_group, priority, waiting_for)
    SELECT x.job_id, x.job_version, x.schedule_id, x.slot_at, x.trigger, x.params, x.state, x.reason,
           $2, CASE WHEN x.state = 'waiting' THEN NULL ELSE $2 END, x.concurrency_group, x.priority, x.waiting_for
      FROM jsonb_to_recordset($1::text::jsonb) AS x(job_id bigint, job_version integer, schedule_id bigint,
                                       slot_at timestamptz, trigger text, params jsonb, state text, reason text,
                                       concurrency_group text, priority integer, waiting_for text)
        ON CONFLICT (schedule_id, slot_at) WHERE slot_at IS NOT NULL DO NOTHING
    RETURNING ${RUN_COLUMNS}`),
  activeRuns: sql(["text[]"], `
    SELECT id::text AS id, job_id::text AS job_id, state, waiting_for, coalesce(started_at, queued_at, created_at) AS since
      FROM clockwork.runs
     WHERE job_id = ANY (${IDS_1}) AND state IN ('waiting', 'queued', 'running')
     ORDER BY runs.id`),
  // Overlap buffer: runs held back, oldest first, once the job has room again. SKIP LOCKED:
  // a waiting run locked by someone else is being cancelled; admission never waits for it.
  // runs.id, not id: that name is the text column of RUN_COLUMNS, which sorts 10 before 9.
  waitingRunsOfJob: sql(["text", "integer"], `
    SELECT ${RUN_COLUMNS}
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state = 'waiting' AND waiting_for = 'overlap'
     ORDER BY runs.id
     LIMIT $2
       FOR NO KEY UPDATE SKIP LOCKED`),
  // Whether any run of the job is held back: one probe of runs_waiting_idx when a run ends.
  // "waiting_for IS NOT NULL" is state = 'waiting' (constraint runs_waiting_for_whole), said
  // so that no other index matches: as "state = 'waiting'" it also matched runs_active_idx,
  // which after a burst the statistics show as empty, and each probe read every active run
  // of the job (0.4-0.6 ms a run end at 3 000 queued). plans.test.ts checks it.
  hasWaitingRuns: sql(["text"], `
    SELECT id FROM clockwork.runs WHERE job_id = $1::bigint AND waiting_for IS NOT NULL LIMIT 1`),
  // --- concurrency groups (db/groups.ts) ------------------------------------------------
  groupsUsableBy: sql(["name"], `
    SELECT name FROM clockwork.concurrency_groups WHERE clockwork._may_use(owner, granted_to, $1) ORDER BY name`),
  // The group's row is the serialisation point of its slots: whoever lets a run in holds
  // it. Never waited for (SKIP LOCKED): a session that cannot take it leaves the admission
  // to the holder's successor, tick's settle pass (admitGroupsWithRoom).
  lockGroupSkipLocked: sql(["text"], `
    SELECT name, max_running FROM clockwork.concurrency_groups WHERE name = $1 FOR NO KEY UPDATE SKIP LOCKED`),
  // Counted after the lock is taken: a new statement sees every admission committed before.
  groupOccupancy: sql(["text"], `
    SELECT ${groupSlotsTaken("$1")}::integer AS running`),
  // Who goes first: highest priority, then oldest (runs.id: see waitingRunsOfJob). A run
  // locked elsewhere is being cancelled or decided; admission never waits for it
  // (runs_group_waiting_idx).
  groupWaitingRuns: sql(["text", "integer"], `
    SELECT ${RUN_COLUMNS}
      FROM clockwork.runs
     WHERE concurrency_group = $1 AND state = 'waiting' AND waiting_for = 'group' AND cancel_requested_at IS NULL
     ORDER BY priority DESC, runs.id
     LIMIT $2
       FOR NO KEY UPDATE SKIP LOCKED`),
  setWaiting: sql(["text", "text", "text"], `
    UPDATE clockwork.runs SET waiting_for = $2, reason = $3 WHERE id = $1::bigint AND state = 'waiting'`),
  // The settle pass: groups with a run waiting for a slot and a slot free.
  // Every tick runs it: the groups drive (none cost nothing), each probed for one waiting
  // run through runs_group_waiting_idx (said through waiting_for, as hasWaitingRuns), and
  // only such groups have their slots counted. As an EXISTS the planner read every active
  // run through runs_active_idx on each tick, groups or not, after a burst (plans.test.ts).
  groupsWithRoom: sql([], `
    SELECT name FROM (
        SELECT g.name, g.max_running FROM clockwork.concurrency_groups AS g
         WHERE EXISTS (SELECT 1 FROM clockwork.runs AS r
                        WHERE r.concurrency_group = g.name AND r.waiting_for = 'group' AND r.cancel_requested_at IS NULL)
        OFFSET 0) AS g
     WHERE ${groupSlotsTaken("g.name")} < g.max_running
     ORDER BY name`),

  // A run waiting for a slot in its concurrency group has passed its job's overlap policy:
  // it counts as one of the job's instances (running), not as held back by it (waiting).
  countActiveRuns: sql(["text"], `
    SELECT count(*) FILTER (WHERE state IN ('queued', 'running') OR waiting_for = 'group')::integer AS running,
           count(*) FILTER (WHERE waiting_for = 'overlap')::integer AS waiting
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state IN ('waiting', 'queued', 'running')`),
  // @after: the job's fixed-delay schedules, re-armed when one of its runs ends, read with
  // the job's current version and whether it may fire at all.
  afterSchedulesOfJob: sql(["text"], `
    SELECT s.id::text AS id, s.position, j.version, j.enabled
      FROM clockwork.schedules AS s
      JOIN clockwork.jobs AS j ON j.id = s.job_id
     WHERE s.kind = 'after' AND s.job_id = $1::bigint`),
  setNextFire: sql(["text", "timestamptz"], `
    UPDATE clockwork.schedules SET next_fire_at = $2 WHERE id = $1::bigint`),
  releaseWaitingRun: sql(["text", "timestamptz"], `
    UPDATE clockwork.runs SET state = 'queued', reason = NULL, queued_at = $2, waiting_for = NULL WHERE id = $1::bigint`),
  insertSkippedSlots: sql(["text", "timestamptz"], `
    INSERT INTO clockwork.skipped_slots (schedule_id, slot_at, last_slot_at, slots, reason, recorded_at)
    SELECT x.schedule_id, x.slot_at, coalesce(x.last_slot_at, x.slot_at), x.slots, x.reason, $2
      FROM jsonb_to_recordset($1::text::jsonb) AS x(schedule_id bigint, slot_at timestamptz, last_slot_at timestamptz,
                                                    slots integer, reason text)
        ON CONFLICT DO NOTHING`),
  // The ids again as an array ($2): the planner takes a record set for 100 rows and, below
  // some 40 000 schedules, joins it to a seq scan of all of them (4-8 ms a firing tick at
  // 10 000); with the array it reads just these rows by the primary key.
  advanceSchedules: sql(["text", "text[]"], `
    UPDATE clockwork.schedules AS s
       SET next_fire_at = x.next_fire_at, last_slot_at = greatest(s.last_slot_at, x.last_slot_at)
      FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, next_fire_at timestamptz, last_slot_at timestamptz)
     WHERE s.id = x.id AND s.id = ANY (ARRAY(SELECT unnest($2::bigint[])))`),
  jobVersion: sql(["text", "integer"], `
    SELECT definition FROM clockwork.job_versions WHERE job_id = $1::bigint AND version = $2`),

  // --- step runs -----------------------------------------------------------------
  // A step carries its run's priority, by which it is claimed (claimReadySteps). A scalar
  // subquery, not a join: the rows keep their order, and so their ids the graph's order.
  insertStepRuns: sql(["text"], `
    INSERT INTO clockwork.step_runs (run_id, step, instance, phase, kind, matrix, params, attempt, state,
                                     required_labels, ready_at, started_at, finished_at, stdout, error, priority)
    SELECT x.run_id, x.step, x.instance, x.phase, x.kind, x.matrix, x.params, x.attempt, x.state,
           x.required_labels, x.ready_at, x.started_at, x.finished_at, coalesce(x.stdout, ''), x.error,
           coalesce((SELECT r.priority FROM clockwork.runs AS r WHERE r.id = x.run_id), 0)
      FROM jsonb_to_recordset($1::text::jsonb) AS x(run_id bigint, step text, instance text, phase text, kind text,
                                       matrix jsonb, params jsonb, attempt integer, state text,
                                       required_labels text[], ready_at timestamptz, started_at timestamptz,
                                       finished_at timestamptz, stdout text, error text)`),
  // The step runs of many runs at once (a tick deciding a batch): by run, in order.
  stepRunsOfRuns: sql(["text[]"], `
    SELECT run_id::text AS run_id, id::text AS id, step, instance, phase, kind, matrix, params, attempt, state, exit_code,
           sql_state, error, result, stdout, stderr, started_at, finished_at
      FROM clockwork.step_runs
     WHERE run_id = ANY (${IDS_1})
     ORDER BY step_runs.run_id, step_runs.id`),
  stepRunsOfRun: sql(["text"], `
    SELECT id::text AS id, step, instance, phase, kind, matrix, params, attempt, state, exit_code,
           sql_state, error, result, stdout, stderr, started_at, finished_at
      FROM clockwork.step_runs
     WHERE run_id = $1::bigint
     ORDER BY step_runs.id`),
  // --- explain --------------------------------------------------------------------------
  schedulesForExplain: sql(["text"], `
    SELECT id::text AS id, position, kind, description, next_fire_at, last_slot_at
      FROM clockwork.schedules
     WHERE job_id = $1::bigint
     ORDER BY position`),
  // The runs of a slot (runs_slot_key), and the latest run of an event schedule before a time.
  runsOfSlot: sql(["text[]", "timestamptz"], `
    SELECT id::text AS id, schedule_id::text AS schedule_id, state, reason, trigger, created_at, started_at, finished_at
      FROM clockwork.runs
     WHERE schedule_id = ANY ($1::bigint[]) AND slot_at = $2
     ORDER BY runs.id`),
  slotsOfRunsAround: sql(["text", "timestamptz"], `
    SELECT (SELECT max(slot_at) FROM clockwork.runs WHERE schedule_id = $1::bigint AND slot_at < $2) AS before,
           (SELECT min(slot_at) FROM clockwork.runs WHERE schedule_id = $1::bigint AND slot_at > $2) AS after`),
  // The skipped-slots row of each schedule that may cover a time (its primary key, newest first).
  skipsCovering: sql(["text[]", "timestamptz"], `
    SELECT k.schedule_id::text AS schedule_id, k.slot_at, k.last_slot_at, k.slots, k.reason,
           clockwork.describe_skip(k.reason) AS explanation, k.recorded_at
      FROM unnest($1::bigint[]) AS s(id)
      CROSS JOIN LATERAL (
            SELECT * FROM clockwork.skipped_slots AS k
             WHERE k.schedule_id = s.id AND k.slot_at <= $2
             ORDER BY k.slot_at DESC
             LIMIT 1) AS k
     WHERE k.last_slot_at >= $2`),

  // --- run and job control (cancel_run, disable_job, drop_job) -----------------------
  runForCaller: sql(["text"], `
    SELECT r.id::text AS id, r.state, clockwork._may_manage(j.owner) AS may_manage
      FROM clockwork.runs AS r
      JOIN clockwork.jobs AS j ON j.id = r.job_id
     WHERE r.id = $1::bigint`),
  activeRunIdsOfJob: sql(["text"], `
    SELECT id::text AS id
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state IN ('waiting', 'queued', 'running')
     ORDER BY runs.id`),
  activeRunsOfJobSkipLocked: sql(["text", "text[]"], `
    SELECT ${RUN_COLUMNS}
      FROM clockwork.runs
     WHERE job_id = $1::bigint AND state = ANY ($2::text[])
     ORDER BY runs.id
       FOR NO KEY UPDATE SKIP LOCKED`),
  clearNextFire: sql(["text"], `UPDATE clockwork.schedules SET next_fire_at = NULL WHERE job_id = $1::bigint`),
  deleteJob: sql(["text"], `DELETE FROM clockwork.jobs WHERE id = $1::bigint`),
  // Dropped with its history kept: it fires nothing more, is watched by no alert, and frees its name.
  markJobDropped: sql(["text", "timestamptz"], `
    WITH stopped AS (
        UPDATE clockwork.schedules SET next_fire_at = NULL WHERE job_id = $1::bigint RETURNING 1
    ), unwatched AS (
        DELETE FROM clockwork.alert_rules WHERE job_id = $1::bigint RETURNING 1
    )
    UPDATE clockwork.jobs SET enabled = false, dropped_at = $2, updated_at = $2
     WHERE id = $1::bigint AND dropped_at IS NULL
    RETURNING (SELECT count(*) FROM stopped) AS schedules, (SELECT count(*) FROM unwatched) AS alert_rules`),
  setJobRetention: sql(["text", "text"], `UPDATE clockwork.jobs SET retention = $2::text::jsonb WHERE id = $1::bigint`),
  // Run once (policies.self_destruct "done"): whether any schedule has a slot left or a
  // run is going. @after and @reboot schedules always may fire again.
  jobHasFuture: sql(["text"], `
    SELECT EXISTS (SELECT 1 FROM clockwork.schedules AS s
                    WHERE s.job_id = $1::bigint AND (s.next_fire_at IS NOT NULL OR s.kind IN ('after', 'reboot')))
        OR EXISTS (SELECT 1 FROM clockwork.runs AS r
                    WHERE r.job_id = $1::bigint AND r.state IN ('waiting', 'queued', 'running')) AS has_future`),

  // --- bounded history (db/history.ts) -------------------------------------------------
  // One pass at a time over all supervisors: the settings row is its lock (SKIP LOCKED).
  claimPrunePass: sql([], `
    SELECT pruned_at, prune_cursor::text AS prune_cursor
      FROM clockwork.history_retention
       FOR UPDATE SKIP LOCKED`),
  // The next jobs round the table, in the order of their ids as numbers (jobs.id: id
  // names the text column here, and the cursor is the page's last id).
  jobsToPrune: sql(["text", "integer"], `
    SELECT id::text AS id FROM clockwork.jobs WHERE id > $1::bigint ORDER BY jobs.id LIMIT $2`),
  finishPrunePass: sql(["timestamptz", "text"], `
    UPDATE clockwork.history_retention SET pruned_at = $1, prune_cursor = $2::bigint`),
  // The runs of these jobs beyond their retention (the job's, else the default), oldest
  // first, at most $3: by count (runs_job_idx read newest first), by age (runs_job_created_idx),
  // and succeeded runs older than the job's newest run (errors-only). Only finished runs,
  // none locked by a decision (SKIP LOCKED), none whose retry is still going. Deleted with
  // their step runs; what went is counted in pruned_runs.
  pruneRuns: sql(["text[]", "timestamptz", "integer"], `
    WITH d AS (SELECT max_age, max_runs, keep FROM clockwork.history_retention),
    p AS (
        SELECT j.id AS job_id,
               CASE WHEN j.retention ? 'max_age_ms'
                    THEN (j.retention->>'max_age_ms')::bigint * interval '1 millisecond' ELSE d.max_age END AS max_age,
               CASE WHEN j.retention ? 'max_runs' THEN (j.retention->>'max_runs')::integer ELSE d.max_runs END AS max_runs,
               coalesce(j.retention->>'keep', d.keep) AS keep
          FROM clockwork.jobs AS j CROSS JOIN d
         WHERE j.id = ANY ($1::bigint[])
    ),
    candidates AS (
        SELECT c.id FROM p CROSS JOIN LATERAL (
            SELECT r.id FROM clockwork.runs AS r
             WHERE r.job_id = p.job_id AND p.max_runs IS NOT NULL
             ORDER BY r.id DESC OFFSET p.max_runs LIMIT $3) AS c
        UNION
        SELECT c.id FROM p CROSS JOIN LATERAL (
            SELECT r.id FROM clockwork.runs AS r
             WHERE r.job_id = p.job_id AND r.created_at < $2 - p.max_age
             ORDER BY r.created_at LIMIT $3) AS c
        UNION
        SELECT c.id FROM p CROSS JOIN LATERAL (
            SELECT r.id FROM clockwork.runs AS r
             WHERE r.job_id = p.job_id AND p.keep = 'failures' AND r.state = 'succeeded'
               AND r.id < (SELECT max(x.id) FROM clockwork.runs AS x WHERE x.job_id = p.job_id)
             ORDER BY r.id LIMIT $3) AS c
    ),
    doomed AS (
        SELECT r.id FROM clockwork.runs AS r
         WHERE r.id IN (SELECT id FROM candidates) AND r.finished_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM clockwork.runs AS x WHERE x.retry_of = r.id AND x.finished_at IS NULL)
         ORDER BY r.id
         LIMIT $3
           FOR UPDATE SKIP LOCKED
    ),
    gone AS (
        DELETE FROM clockwork.runs AS r USING doomed WHERE r.id = doomed.id
        RETURNING r.job_id, r.state, r.created_at
    ),
    counted AS (
        INSERT INTO clockwork.pruned_runs AS c (job_id, state, runs, first_created_at, last_created_at)
        SELECT job_id, state, count(*), min(created_at), max(created_at) FROM gone GROUP BY job_id, state
            ON CONFLICT (job_id, state) DO UPDATE
           SET runs = c.runs + excluded.runs,
               first_created_at = least(c.first_created_at, excluded.first_created_at),
               last_created_at = greatest(c.last_created_at, excluded.last_created_at)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone)::integer AS runs`),
  // Skipped-slot rows of these jobs' schedules beyond the same limits (rows per schedule, by
  // the primary key read backwards; age by the range's last slot).
  pruneSkippedSlots: sql(["text[]", "timestamptz", "integer"], `
    WITH d AS (SELECT max_age, max_runs FROM clockwork.history_retention),
    p AS (
        SELECT s.id AS schedule_id,
               CASE WHEN j.retention ? 'max_age_ms'
                    THEN (j.retention->>'max_age_ms')::bigint * interval '1 millisecond' ELSE d.max_age END AS max_age,
               CASE WHEN j.retention ? 'max_runs' THEN (j.retention->>'max_runs')::integer ELSE d.max_runs END AS max_runs
          FROM clockwork.jobs AS j CROSS JOIN d
          JOIN clockwork.schedules AS s ON s.job_id = j.id
         WHERE j.id = ANY ($1::bigint[])
    ),
    candidates AS (
        SELECT c.* FROM p CROSS JOIN LATERAL (
            SELECT k.schedule_id, k.slot_at FROM clockwork.skipped_slots AS k
             WHERE k.schedule_id = p.schedule_id AND p.max_runs IS NOT NULL
             ORDER BY k.slot_at DESC OFFSET p.max_runs LIMIT $3) AS c
        UNION
        SELECT c.* FROM p CROSS JOIN LATERAL (
            SELECT k.schedule_id, k.slot_at FROM clockwork.skipped_slots AS k
             WHERE k.schedule_id = p.schedule_id AND k.last_slot_at < $2 - p.max_age
             ORDER BY k.slot_at LIMIT $3) AS c
    ),
    gone AS (
        DELETE FROM clockwork.skipped_slots AS k
         USING (SELECT * FROM candidates LIMIT $3) AS c
         WHERE k.schedule_id = c.schedule_id AND k.slot_at = c.slot_at
        RETURNING 1
    )
    SELECT count(*)::integer AS rows FROM gone`),
  // explain: up to when the job's runs have been pruned.
  prunedThrough: sql(["text"], `SELECT max(last_created_at) AS through FROM clockwork.pruned_runs WHERE job_id = $1::bigint`),
  // A dropped job goes once its last run has been pruned.
  deleteEmptyDroppedJobs: sql(["text[]"], `
    DELETE FROM clockwork.jobs AS j
     WHERE j.id = ANY ($1::bigint[]) AND j.dropped_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM clockwork.runs AS r WHERE r.job_id = j.id)
    RETURNING j.id`),

  // --- alerts (db/alerts.ts; tables in extension/sql/52_alerts.sql) ---------------------
  alertDefaults: sql([], `SELECT settings FROM clockwork.alert_defaults`),
  setAlertDefaults: sql(["text", "timestamptz", "name"], `
    UPDATE clockwork.alert_defaults SET settings = $1::text::jsonb, updated_at = $2, updated_by = $3`),
  alertChannelNames: sql([], `SELECT name FROM clockwork.alert_channels ORDER BY name`),
  /** {all, secrets}: the CLOCKWORK_SECRET_* names a role's jobs may use (53_secrets.sql). */
  secretsUsableBy: sql(["name"], `SELECT clockwork._secrets_usable_by($1) AS usable`),
  alertChannel: sql(["text"], `SELECT name, kind, target FROM clockwork.alert_channels WHERE name = $1`),
  upsertAlertChannel: sql(["text", "text", "text", "text", "name", "timestamptz"], `
    INSERT INTO clockwork.alert_channels AS c (name, kind, target, description, defined_by, defined_at)
    VALUES ($1, $2, $3::text::jsonb, $4, $5, $6)
    ON CONFLICT (name) DO UPDATE
       SET kind = excluded.kind, target = excluded.target, description = excluded.description,
           defined_by = excluded.defined_by, defined_at = excluded.defined_at
    RETURNING (xmax = 0) AS created`),
  deleteAlertChannel: sql(["text"], `DELETE FROM clockwork.alert_channels WHERE name = $1`),
  jobsUsingChannel: sql(["text"], `
    SELECT j.name FROM clockwork.alert_rules AS r JOIN clockwork.jobs AS j ON j.id = r.job_id
     WHERE $1 = ANY (r.channels) ORDER BY j.name LIMIT 10`),
  // A job channel's job, as the defining administrator names it (name or owner/name).
  jobRefForCaller: sql(["text"], `SELECT owner, name FROM clockwork._job_for_caller($1)`),
  jobsForAlertRules: sql(["text[]"], `
    SELECT id::text AS id, version, enabled FROM clockwork.jobs
     WHERE ($1::bigint[] IS NULL OR id = ANY ($1::bigint[])) AND dropped_at IS NULL`),
  // Intervals cross as milliseconds (float8): both runtimes read a number the same way.
  alertRulesOfJobs: sql(["text[]"], `
    SELECT job_id::text AS job_id,
           extract(epoch FROM missed) * 1000 AS missed_ms, extract(epoch FROM long_running) * 1000 AS long_running_ms,
           failures, extract(epoch FROM dead_man) * 1000 AS dead_man_ms, recovery, channels, watched_since
      FROM clockwork.alert_rules
     WHERE job_id = ANY (${IDS_1})`),
  upsertAlertRules: sql(["text", "timestamptz"], `
    INSERT INTO clockwork.alert_rules AS r (job_id, missed, long_running, failures, dead_man, recovery, channels, watched_since)
    SELECT x.job_id, x.missed_ms * interval '1 millisecond', x.long_running_ms * interval '1 millisecond', x.failures,
           x.dead_man_ms * interval '1 millisecond', x.recovery, x.channels, $2
      FROM jsonb_to_recordset($1::text::jsonb) AS x(job_id bigint, missed_ms float8, long_running_ms float8, failures integer,
                                                     dead_man_ms float8, recovery boolean, channels text[])
    ON CONFLICT (job_id) DO UPDATE
       SET missed = excluded.missed, long_running = excluded.long_running, failures = excluded.failures,
           dead_man = excluded.dead_man, recovery = excluded.recovery, channels = excluded.channels,
           -- a dead-man period newly set counts from now, not from the job's last success long ago
           watched_since = CASE WHEN r.dead_man IS NULL AND excluded.dead_man IS NOT NULL THEN $2 ELSE r.watched_since END`),
  deleteAlertRules: sql(["text[]"], `DELETE FROM clockwork.alert_rules WHERE job_id = ANY ($1::bigint[])`),
  rewatchJob: sql(["text", "timestamptz"], `UPDATE clockwork.alert_rules SET watched_since = $2 WHERE job_id = $1::bigint`),
  // The latest final states of a job's runs before one (runs_job_idx), cancelled ones left out.
  previousRunStates: sql(["text", "text", "integer"], `
    SELECT state FROM clockwork.runs
     WHERE job_id = $1::bigint AND id < $2::bigint AND state IN ('succeeded', 'failed', 'timed_out')
     ORDER BY id DESC
     LIMIT $3`),
  jobSilenced: sql(["text", "timestamptz"], `
    SELECT EXISTS (SELECT 1 FROM clockwork.alert_silences
                    WHERE job_id = $1::bigint AND ends_at > $2 AND starts_at <= $2) AS silenced`),
  // One open alert per (job, condition, key) (alerts_open_key): a repeat is counted. An
  // event ($9) is recorded resolved at once and never conflicts.
  openAlert: sql(["text", "text", "text", "text", "text", "text", "timestamptz", "boolean", "boolean"], `
    INSERT INTO clockwork.alerts AS a (job_id, condition, key, state, severity, message, details, opened_at,
                                       last_seen_at, resolved_at, resolution, silenced)
    VALUES ($1::bigint, $2, $3, CASE WHEN $9 THEN 'resolved' ELSE 'open' END, $4, $5, $6::text::jsonb, $7, $7,
            CASE WHEN $9 THEN $7 END, CASE WHEN $9 THEN 'an event: recorded resolved' END, $8)
    ON CONFLICT ((coalesce(job_id, 0)), condition, key) WHERE state IN ('open', 'acknowledged')
    DO UPDATE SET repeats = a.repeats + 1, last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at)
    RETURNING a.id::text AS id, (xmax = 0) AS opened`),
  // Which of these jobs have an alert that a run's end could resolve (most have none).
  jobsWithOpenAlerts: sql(["text[]"], `
    SELECT DISTINCT job_id::text AS job_id FROM clockwork.alerts
     WHERE coalesce(job_id, 0) = ANY ($1::bigint[]) AND state IN ('open', 'acknowledged') -- alerts_open_key`),
  resolveAlerts: sql(["text", "text", "timestamptz"], `
    UPDATE clockwork.alerts AS a
       SET state = 'resolved', resolved_at = greatest($3, a.opened_at), resolution = x.reason
      FROM jsonb_to_recordset($2::text::jsonb) AS x(condition text, key text, reason text)
     WHERE coalesce(a.job_id, 0) = coalesce($1::bigint, 0) AND a.condition = x.condition
       AND (x.key IS NULL OR a.key = x.key) AND a.state IN ('open', 'acknowledged')
    RETURNING a.id::text AS id, a.condition, a.severity, a.silenced`),
  openAlertKeys: sql(["text"], `
    SELECT key FROM clockwork.alerts
     WHERE coalesce(job_id, 0) = 0 AND condition = $1 AND state IN ('open', 'acknowledged')`),
  insertDeliveries: sql(["text", "text", "text[]", "timestamptz"], `
    INSERT INTO clockwork.alert_deliveries (alert_id, event, channel, next_attempt_at, created_at)
    SELECT $1::bigint, $2, c.name, $4, $4
      FROM clockwork.alert_channels AS c
     WHERE c.name = ANY ($3::text[])
        ON CONFLICT ON CONSTRAINT alert_deliveries_once DO NOTHING`),
  notifyAlert: sql(["text"], `SELECT pg_notify('clockwork_alert', $1)`),
  // At most one sweep per interval ($2 ms) across all supervisors; a clock that went back
  // (a pinned now in the past) sweeps too.
  claimAlertSweep: sql(["timestamptz", "float8"], `
    UPDATE clockwork.alert_sweeps SET swept_at = $1
     WHERE id = (SELECT id FROM clockwork.alert_sweeps
                  WHERE swept_at <= $1 - $2 * interval '1 millisecond' OR swept_at > $1
                    FOR UPDATE SKIP LOCKED)
    RETURNING swept_at`),
  // Watched, enabled jobs with a time-based rule, with their last success (runs_job_succeeded_idx).
  timedAlertJobs: sql([], `
    SELECT r.job_id::text AS job_id,
           extract(epoch FROM r.missed) * 1000 AS missed_ms, extract(epoch FROM r.long_running) * 1000 AS long_running_ms,
           r.failures, extract(epoch FROM r.dead_man) * 1000 AS dead_man_ms, r.recovery, r.channels, r.watched_since,
           (SELECT max(x.finished_at) FROM clockwork.runs AS x WHERE x.job_id = r.job_id AND x.state = 'succeeded') AS last_success_at
      FROM clockwork.alert_rules AS r
      JOIN clockwork.jobs AS j ON j.id = r.job_id
     WHERE j.enabled AND (r.missed IS NOT NULL OR r.long_running IS NOT NULL OR r.dead_man IS NOT NULL)`),
  activeRunsOfJobs: sql(["text[]"], `
    SELECT id::text AS id, job_id::text AS job_id, state, trigger, slot_at, started_at
      FROM clockwork.runs
     WHERE job_id = ANY ($1::bigint[]) AND state IN ('waiting', 'queued', 'running')`),
  // One row per name: its current incarnation, else its last one. An incarnation that died
  // (found gone, lapsed, replaced) counts as silent since its last heartbeat, not stopped:
  // only a clean shutdown (release_worker, or 1.0's stop) is one.
  workersForAlerts: sql([], `
    SELECT DISTINCT ON (name) name, heartbeat_at,
           CASE WHEN coalesce(ended_by, 'release') = 'release' THEN stopped_at END AS stopped_at
      FROM clockwork.workers WHERE NOT dedicated
     ORDER BY name, stopped_at IS NOT NULL, id DESC`),
  lastWorkerHeartbeat: sql(["text"], `
    SELECT max(heartbeat_at) AS last_alive_at FROM clockwork.workers WHERE NOT dedicated AND name <> $1`),
  leaseMs: sql([], `SELECT extract(epoch FROM clockwork.lease_duration()) * 1000 AS lease_ms`),
  claimDeliveries: sql(["text", "timestamptz", "integer", "float8"], `
    WITH due AS (
        SELECT id FROM clockwork.alert_deliveries
         WHERE state = 'pending' AND next_attempt_at <= $2
         ORDER BY next_attempt_at, id
         LIMIT $3
           FOR UPDATE SKIP LOCKED
    ), abandoned AS (
        -- Held by a supervisor that stopped before reporting: taken over (sent again).
        SELECT id FROM clockwork.alert_deliveries
         WHERE state = 'sending' AND lease_expires_at < $2
         ORDER BY lease_expires_at
         LIMIT $3
           FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE clockwork.alert_deliveries AS d
           SET state = 'sending', next_attempt_at = NULL, attempts = d.attempts + 1, worker_id = $1::bigint,
               lease_expires_at = $2 + $4 * interval '1 millisecond'
         WHERE d.id IN (SELECT id FROM due UNION SELECT id FROM abandoned)
        RETURNING d.*
    )
    SELECT c.id::text AS delivery_id, c.event, c.channel, c.attempts, ch.kind, ch.target,
           a.id::text AS alert_id, j.name AS job, a.condition, a.key, a.state, a.severity, a.message, a.details,
           a.opened_at, a.resolved_at, a.resolution, a.repeats, a.acknowledged_by
      FROM claimed AS c
      JOIN clockwork.alerts AS a ON a.id = c.alert_id
      LEFT JOIN clockwork.jobs AS j ON j.id = a.job_id
      LEFT JOIN clockwork.alert_channels AS ch ON ch.name = c.channel
     ORDER BY c.id`),
  // Fenced like complete_step: only the supervisor holding the delivery may report it.
  heldDelivery: sql(["text", "text"], `
    SELECT d.id::text AS id, d.attempts, d.channel, d.alert_id::text AS alert_id, d.event, ch.kind, ch.target
      FROM clockwork.alert_deliveries AS d
      JOIN clockwork.workers AS w ON w.id = d.worker_id
      LEFT JOIN clockwork.alert_channels AS ch ON ch.name = d.channel
     WHERE d.id = $1::bigint AND w.name = $2 AND d.state = 'sending'
       FOR UPDATE OF d`),
  settleDelivery: sql(["text", "text", "timestamptz", "text", "text", "timestamptz"], `
    UPDATE clockwork.alert_deliveries
       SET state = $2, next_attempt_at = $3, lease_expires_at = NULL, last_error = coalesce($4, last_error),
           response = coalesce($5, response), delivered_at = $6
     WHERE id = $1::bigint`),
  alertForDelivery: sql(["text"], `
    SELECT a.id::text AS id, j.name AS job, a.condition, a.key, a.state, a.severity, a.message, a.details, a.opened_at, a.resolved_at
      FROM clockwork.alerts AS a LEFT JOIN clockwork.jobs AS j ON j.id = a.job_id
     WHERE a.id = $1::bigint`),
  jobByOwnerAndName: sql(["name", "text"], `SELECT id::text AS id, version, enabled FROM clockwork.jobs WHERE owner = $1 AND name = $2 AND dropped_at IS NULL`),
  alertForCaller: sql(["text"], `
    SELECT id::text AS id, job_id::text AS job_id, condition, key, state FROM clockwork._alert_for_caller($1::bigint)`),
  isAdmin: sql([], `SELECT clockwork._is_admin() AS admin`),
  // A worker by name: its current incarnation.
  workerId: sql(["text"], `SELECT id::text AS id FROM clockwork.workers WHERE name = $1 AND stopped_at IS NULL`),
  nextDeliveryAt: sql([], `
    SELECT least((SELECT min(next_attempt_at) FROM clockwork.alert_deliveries WHERE state = 'pending'),
                 (SELECT min(lease_expires_at) FROM clockwork.alert_deliveries WHERE state = 'sending')) AS next_attempt_at`),

  // --- the run lifecycle (db/lifecycle.ts) ---------------------------------------------
  // Lock order, everywhere: run rows (by id) → the job's row (lockJobs) → step and schedule
  // rows. API calls wait for locks; tick never waits (SKIP LOCKED, try-lock) and leaves what
  // is busy to its next call. docs/state-machine.md, "Concurrency", says why.
  runOfStepRun: sql(["text"], `SELECT run_id::text AS run_id FROM clockwork.step_runs WHERE id = $1::bigint`),

  // --- run transactions (transaction: run; db/run-transactions.ts) ---------------------
  // Opened when a run's first SQL step is claimed: pinned to the claiming worker, fenced by
  // that claim's secret. Returns a row only when this claim opened it.
  openRunTransaction: sql(["text", "text", "text", "timestamptz"], `
    INSERT INTO clockwork.run_transactions (run_id, worker_id, worker_name, claim_hash, opened_at)
    SELECT s.run_id, $2::bigint, s.worker_name, s.claim_hash, $4 FROM clockwork.step_runs AS s WHERE s.id = $3::bigint
    ON CONFLICT (run_id) DO NOTHING
    RETURNING run_id::text AS run_id`),
  // The caller holds the run's lock; this waits for a commit message in flight (_commit_run).
  lockRunTransaction: sql(["text"], `
    SELECT state FROM clockwork.run_transactions WHERE run_id = $1::bigint FOR UPDATE`),
  askRunCommit: sql(["text"], `
    UPDATE clockwork.run_transactions SET state = 'committing' WHERE run_id = $1::bigint AND state = 'open'`),
  endRunTransaction: sql(["text"], `DELETE FROM clockwork.run_transactions WHERE run_id = $1::bigint`),
  committedRunTransactions: sql(["integer"], `
    SELECT run_id::text AS run_id FROM clockwork.run_transactions WHERE state = 'committed' ORDER BY run_transactions.run_id LIMIT $1`),
  // Transactions whose holder's incarnation ended: the server rolled them back with its connection.
  orphanedRunTransactions: sql(["integer"], `
    SELECT t.run_id::text AS run_id, t.worker_id::text AS worker_id, t.worker_name
      FROM clockwork.run_transactions AS t
      LEFT JOIN clockwork.workers AS w ON w.id = t.worker_id
     WHERE t.state IN ('open', 'committing') AND (w.id IS NULL OR w.stopped_at IS NOT NULL)
     ORDER BY t.run_id LIMIT $1`),
  // The caller holds the runs' locks; a holder may give up a transaction it lost (abandon).
  markRunTransactionsLost: sql(["text[]", "text"], `
    UPDATE clockwork.run_transactions SET state = 'lost'
     WHERE run_id = ANY ($1::bigint[]) AND state IN ('open', 'committing') AND ($2::text IS NULL OR worker_id = $2::bigint)
    RETURNING run_id::text AS run_id`),
  // A run's first SQL step handed back (its supervisor cannot log in): the transaction it
  // opened (pinned there) is let go, so that another supervisor may open it.
  releaseRunTransactions: sql(["text[]"], `
    DELETE FROM clockwork.run_transactions AS t
     USING clockwork.step_runs AS s
     WHERE s.id = ANY ($1::bigint[]) AND t.run_id = s.run_id AND t.claim_hash = s.claim_hash AND t.state = 'open'`),
  // What a worker holds: the runs whose transaction it keeps open, and those it is to commit.
  runTransactionsOf: sql(["text"], `
    SELECT run_id::text AS run_id, state FROM clockwork.run_transactions
     WHERE worker_id = $1::bigint AND state IN ('open', 'committing') ORDER BY run_transactions.run_id`),
  lockRuns: sql(["text[]"], `
    SELECT ${RUN_COLUMNS}
      FROM clockwork.runs
     WHERE id = ANY (${IDS_1})
     ORDER BY runs.id
       FOR NO KEY UPDATE`),
  lockRunsSkipLocked: sql(["text[]"], `
    SELECT ${RUN_COLUMNS}
      FROM clockwork.runs
     WHERE id = ANY (${IDS_1})
     ORDER BY runs.id
       FOR NO KEY UPDATE SKIP LOCKED`),
  // One lock per job: its row in clockwork.jobs, FOR NO KEY UPDATE, in id order. Whoever
  // decides what a job's runs do next (fire a slot, end a run, release a held-back one)
  // holds it, so two sessions never decide from views of the job that miss each other's
  // writes. A row lock, not an advisory lock: any role can take any advisory lock, and a
  // job owner's session (or its SQL step) holding another job's key would stall every
  // decision about that job, tick included; a row lock needs UPDATE on clockwork.jobs.
  lockJobs: sql(["text[]"], `
    SELECT id FROM clockwork.jobs WHERE id = ANY (${IDS_1}) ORDER BY id FOR NO KEY UPDATE`),
  tryLockJobs: sql(["text[]"], `
    SELECT id::text AS job_id, true AS locked
      FROM clockwork.jobs WHERE id = ANY (${IDS_1}) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`),
  requestCancel: sql(["text[]", "timestamptz", "text", "text"], `
    UPDATE clockwork.runs
       SET cancel_requested_at = coalesce(cancel_requested_at, $2),
           cancel_mode = CASE WHEN cancel_mode = 'terminate' THEN cancel_mode ELSE $3 END,
           reason = $4
     WHERE id = ANY ($1::bigint[]) AND state NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled')`),
  setRunWake: sql(["text", "timestamptz"], `UPDATE clockwork.runs SET wake_at = $2 WHERE id = $1::bigint`),
  // Runs whose deadline passed, for tick to decide again (runs_wake_idx).
  runsToWake: sql(["timestamptz", "integer"], `
    SELECT id::text AS id
      FROM clockwork.runs
     WHERE wake_at <= $1
     ORDER BY wake_at
     LIMIT $2`),
  // Updates of one run by id say which states they leave alone with NOT IN on purpose: a
  // positive state list implies runs_active_idx's predicate, and after a burst of runs
  // that index's statistics still say it is empty, so the planner scanned all of it for
  // each update (3 ms at 5 000 active runs) instead of using the primary key.
  // Runs' ends, in one statement however many a tick decides, and their jobs' last run (the
  // caller holds the jobs' locks): the latest run by id that has ended, so "is it failing"
  // is one column, however long the history. $1: [{id, state, reason}].
  finishRuns: sql(["text", "timestamptz"], `
    WITH ended AS (
        UPDATE clockwork.runs AS r
           SET state = x.state, finished_at = greatest($2, r.started_at, r.queued_at, r.created_at), reason = x.reason, wake_at = NULL,
               waiting_for = NULL
          FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, state text, reason text)
         -- by primary key: the ids as an array (a join on the record set's guess of 100 rows scanned the table)
         WHERE r.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
           AND r.id = x.id AND r.state NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled')
        RETURNING r.id, r.job_id, r.state, r.finished_at
    ), latest AS (
        SELECT DISTINCT ON (job_id) id, job_id, state, finished_at FROM ended ORDER BY job_id, id DESC
    )
    UPDATE clockwork.jobs AS j
       SET last_run_id = l.id, last_run_state = l.state, last_run_finished_at = l.finished_at
      FROM latest AS l
     WHERE j.id = l.job_id AND (j.last_run_id IS NULL OR j.last_run_id < l.id)`),

  // Work the core stops: a step's own time-out ends it 'timed_out' (it may be retried); the
  // run's time-out or a cancel ends it 'cancelled'. $6: only ready rows (a graceful cancel
  // leaves running ones to their supervisor, who reports when they have stopped).
  cancelRunningInstances: sql(["text", "text[]", "timestamptz", "text", "text", "boolean"], `
    UPDATE clockwork.step_runs
       SET state = $5, ready_at = NULL, finished_at = $3, error = $4
     WHERE run_id = $1::bigint AND instance = ANY ($2::text[])
       AND state NOT IN ('succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost') -- ready or running; see finishRuns
       AND ($6 IS NOT TRUE OR state NOT IN ('running'))
    RETURNING id::text AS id, worker_id IS NOT NULL AS was_running`),
  runningStepRuns: sql(["text", "text[]"], `
    SELECT id::text AS id
      FROM clockwork.step_runs
     WHERE run_id = $1::bigint AND instance = ANY ($2::text[])
       AND state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')`),
  // Attempts that count otherwise than they ended (core: AttemptVerdict).
  settleAttempts: sql(["text", "text"], `
    UPDATE clockwork.step_runs AS s
       SET state = x.state,
           error = CASE WHEN s.error IS NULL THEN x.note ELSE s.error || ' (' || x.note || ')' END
      FROM jsonb_to_recordset($2::text::jsonb) AS x(phase text, id text, attempt integer, state text, note text)
     WHERE s.run_id = $1::bigint AND s.phase = x.phase AND s.instance = x.id AND s.attempt = x.attempt
       AND s.state IN ('succeeded', 'failed', 'timed_out')`),

  // Lease expiry (step_runs_lease_idx): runs with a running step whose lease ended; each is
  // then settled under the run's lock by expireLeasesOfRun.
  runsWithExpiredLeases: sql(["timestamptz", "integer"], `
    SELECT DISTINCT run_id::text AS run_id
      FROM (SELECT run_id FROM clockwork.step_runs
             WHERE state = 'running' AND lease_expires_at < $1
             ORDER BY lease_expires_at
             LIMIT $2) AS expired`),
  // The run's expired attempts become 'lost' and, unless that instance already lost $3
  // leases or the run is being cancelled ($4), a new attempt is queued in the same statement.
  // $5: why, by step run id, where the supervisor said (it lost the step's connection).
  // An attempt whose worker shut down cleanly (release_worker: ended_by 'release') was
  // handed back, not lost: it gets the kind handed_back_at_shutdown ($6) and says so, and
  // it counts neither towards the $3 lost leases (it is always queued again) nor, in the
  // core, against the step's retries (db/runs.ts, instanceStates).
  expireLeasesOfRun: sql(["text", "timestamptz", "integer", "boolean", "text", "text"], `
    WITH expired AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'lost', finished_at = greatest($2, s.started_at), lease_expires_at = NULL,
               sql_state = CASE WHEN $5::jsonb ->> s.id::text IS NULL AND ${RELEASED_WORKER} THEN $6 END,
               error = coalesce($5::jsonb ->> s.id::text,
                                CASE WHEN ${RELEASED_WORKER} THEN 'handed back at a clean shutdown of supervisor '
                                     || coalesce(s.worker_name, '?') || ' (not a fault): it runs again as attempt + 1' END,
                                'lease expired: the worker stopped heartbeating')
         -- 'running' said as the states it is not (as runningStepRuns): after a burst the
         -- statistics of step_runs_lease_idx and step_runs_worker_idx, whose predicates
         -- 'running' would imply, still say they are empty, and they were read whole.
         WHERE s.run_id = $1::bigint AND s.lease_expires_at < $2
           AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')
        RETURNING s.*
    ), requeued AS (
        INSERT INTO clockwork.step_runs (run_id, step, instance, phase, kind, matrix, params, attempt,
                                         state, required_labels, ready_at, priority)
        -- A step claimed ahead and handed back before its start is due at its start still.
        SELECT e.run_id, e.step, e.instance, e.phase, e.kind, e.matrix, e.params, e.attempt + 1,
               'ready', e.required_labels, greatest($2, e.started_at), e.priority
          FROM expired AS e
         WHERE NOT $4
           AND (e.sql_state IS NOT DISTINCT FROM $6
                OR (SELECT count(*) FROM clockwork.step_runs AS x
                     WHERE x.run_id = e.run_id AND x.phase = e.phase AND x.instance = e.instance
                       AND x.state = 'lost' AND x.sql_state IS DISTINCT FROM $6) < $3 - 1)
        RETURNING id
    )
    SELECT (SELECT count(*) FROM expired)::integer AS expired, (SELECT count(*) FROM requeued)::integer AS requeued`),

  // Claims: ready steps whose time has come, highest priority first, then oldest
  // (step_runs_claim_idx, in its exact order), only those whose required labels this
  // worker has. Strict priority, as graphile-worker, River and pg-boss order theirs: a
  // lower priority waits while higher ones are ready (docs/policies.md, "Priorities").
  // Claims ready steps whose time comes by the horizon ($5, a few ms after now ($3) when
  // the supervisor fires ahead): a step is held from max(now, ready_at), its start time.
  // A dedicated worker ($6, its pinning label `node:<name>`) claims only steps pinned to it.
  claimReadySteps: sql(["text", "integer", "timestamptz", "text[]", "timestamptz", "text"], `
    WITH claimable AS (
        -- The run is locked too, so that marking it running never waits: a run being decided
        -- elsewhere (locked) keeps its steps for the next claim (see the lock order above).
        -- A step this worker handed back (it cannot log in for it) is not offered to it again.
        SELECT s.id, s.ready_at
          FROM clockwork.step_runs AS s
          JOIN clockwork.runs AS r ON r.id = s.run_id
         WHERE s.state = 'ready' AND s.ready_at <= $5
           -- "= '{}' OR": the same rows (no labels are contained in any), but the planner
           -- estimates <@ at 0.5% of the rows, and so would sort a backlog it thinks is small
           -- instead of reading step_runs_claim_idx in order; most steps have no labels.
           AND (s.required_labels = '{}' OR s.required_labels <@ $4::text[])
           AND ($6::text IS NULL OR $6::text = ANY (s.required_labels))
           AND NOT ($1::bigint = ANY (s.refused_by))
           -- A run whose transaction is open on another worker is pinned to it (transaction: run).
           AND NOT EXISTS (SELECT 1 FROM clockwork.run_transactions AS t WHERE t.run_id = s.run_id AND t.worker_id <> $1::bigint)
         ORDER BY s.priority DESC, s.ready_at, s.id
         LIMIT $2
           FOR NO KEY UPDATE OF s, r SKIP LOCKED
    ), secrets AS (
        -- The claim's secret: 244 random bits; only its hash is stored.
        SELECT id, ready_at,
               replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '') AS claim
          FROM claimable
    ), claimed AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'running', ready_at = NULL, worker_id = $1::bigint,
               worker_name = (SELECT w.name FROM clockwork.workers AS w WHERE w.id = $1::bigint),
               started_at = greatest($3, x.ready_at),
               lease_expires_at = greatest($3, x.ready_at) + clockwork.lease_duration(),
               claim_hash = sha256(convert_to(x.claim, 'UTF8'))
          FROM secrets AS x
         WHERE s.id = x.id
        RETURNING s.*, x.ready_at AS due_at, x.claim
    ), started_runs AS (
        UPDATE clockwork.runs AS r
           SET state = 'running', started_at = coalesce(r.started_at, c.started_at)
          FROM (SELECT run_id, min(started_at) AS started_at FROM claimed GROUP BY run_id) AS c
         WHERE r.id = c.run_id AND r.state NOT IN ('waiting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled') -- queued; see finishRuns
    )
    SELECT c.id::text AS step_run_id, c.run_id::text AS run_id, j.name AS job, j.owner, c.step, c.instance,
           c.phase, c.kind, c.params, c.attempt, c.lease_expires_at, c.due_at, c.started_at AS start_at,
           r.slot_at, r.job_id::text AS job_id, r.job_version, c.claim, c.priority,
           -- A re-run of a process step waits on this host for its earlier attempts'
           -- processes to end (docs/faults.md): it names them.
           CASE WHEN c.kind IN ('shell', 'program') AND c.attempt > 1 THEN
                ARRAY(SELECT x.id::text FROM clockwork.step_runs AS x
                       WHERE x.run_id = c.run_id AND x.phase = c.phase AND x.instance = c.instance
                         AND x.attempt < c.attempt ORDER BY x.attempt) END AS earlier_attempts
      FROM claimed AS c
      JOIN clockwork.runs AS r ON r.id = c.run_id
      JOIN clockwork.jobs AS j ON j.id = r.job_id
     -- In the claim's order: the supervisor starts (or queues) them as listed.
     ORDER BY c.priority DESC, c.due_at, c.id`),

  // When is anything next due for this worker: a slot, a claimable step, a lease end, a run's deadline.
  // A dedicated worker ($2 as in claimReadySteps) fires no slots and waits for its own steps only.
  // A step of a run pinned to another worker (its transaction is open there) is not this one's.
  nextDueAt: sql(["text[]", "text", "text"], `
    SELECT least(
        (SELECT min(next_fire_at) FROM clockwork.schedules WHERE next_fire_at IS NOT NULL AND $2::text IS NULL),
        (SELECT s.ready_at FROM clockwork.step_runs AS s
          WHERE s.state = 'ready' AND s.required_labels <@ $1::text[]
            AND ($2::text IS NULL OR $2::text = ANY (s.required_labels))
            AND NOT EXISTS (SELECT 1 FROM clockwork.run_transactions AS t WHERE t.run_id = s.run_id AND t.worker_id <> $3::bigint)
          ORDER BY s.ready_at LIMIT 1),
        (SELECT min(lease_expires_at) FROM clockwork.step_runs WHERE state = 'running'),
        (SELECT min(wake_at) FROM clockwork.runs WHERE wake_at IS NOT NULL),
        (SELECT min(finished_at) + clockwork.lease_duration() FROM clockwork.step_runs WHERE awaiting_report)
    ) AS next_due_at`),

  // The worker a call names: by name, its current incarnation (tools and tests); by id,
  // exactly that incarnation, which raises worker_ended when it ended (a process a
  // newer incarnation replaced, or one found gone: 40_workers.sql). Either is marked alive.
  workerByName: sql(["text", "timestamptz"], `
    UPDATE clockwork.workers SET heartbeat_at = $2
     WHERE name = $1 AND stopped_at IS NULL
    RETURNING id::text AS id, name, labels, CASE WHEN dedicated THEN 'node:' || name END AS pinned_to`),
  workerById: sql(["text", "timestamptz"], `
    UPDATE clockwork.workers SET heartbeat_at = $2
     WHERE id = $1::bigint AND stopped_at IS NULL
    RETURNING id::text AS id, name, labels, CASE WHEN dedicated THEN 'node:' || name END AS pinned_to`),
  // Why an incarnation is not current: when it ended, and who holds its name now.
  endedWorker: sql(["text"], `
    SELECT w.name, w.stopped_at, h.id::text AS holder_id, h.pid AS holder_pid, h.host AS holder_host
      FROM clockwork.workers AS w
      LEFT JOIN clockwork.workers AS h ON h.name = w.name AND h.stopped_at IS NULL
     WHERE w.id = $1::bigint`),
  currentWorkerIdByName: sql(["text"], `
    SELECT id::text AS id FROM clockwork.workers WHERE name = $1 AND stopped_at IS NULL`),
  // Workers found gone end and their steps are taken back; ended ones are deleted once
  // settled (40_workers.sql). Returns how many leases it ended.
  settleWorkers: sql(["timestamptz"], `SELECT clockwork._settle_workers($1) AS taken`),
  // A step's end, as facts, fenced: only the current worker incarnation holding the lease
  // of a running step. $11: the caller cut the output or result itself (e.g. result rows
  // beyond their bound).
  completeStep: sql(["text", "text", "text", "timestamptz", "integer", "text", "text", "text", "text", "text", "boolean"], `
    UPDATE clockwork.step_runs AS s
       SET state = $3, finished_at = $4, exit_code = $5, sql_state = $6, error = $7, result = $8::text::jsonb,
           stdout = s.stdout || left($9, greatest(clockwork.output_limit() - length(s.stdout), 0)),
           stderr = s.stderr || left($10, greatest(clockwork.output_limit() - length(s.stderr), 0)),
           output_truncated = s.output_truncated OR $11
               OR length($9) > clockwork.output_limit() - length(s.stdout)
               OR length($10) > clockwork.output_limit() - length(s.stderr),
           lease_expires_at = NULL, claim_hash = NULL
      FROM clockwork.workers AS w
     WHERE s.id = $1::bigint AND s.worker_id = w.id AND w.id = $2::bigint AND w.stopped_at IS NULL
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost') -- running; see finishRuns
    RETURNING s.run_id::text AS run_id, s.step, s.instance, s.phase, s.attempt, s.stdout`),
  runState: sql(["text"], `SELECT state FROM clockwork.runs WHERE id = $1::bigint`),
  stepRunState: sql(["text"], `SELECT state FROM clockwork.step_runs WHERE id = $1::bigint`),
  // --- SQL steps: targets and reports (db/targets.ts, db/reports.ts) ------------------
  currentDatabase: sql([], `SELECT current_database() AS name`),
  isSuperuser: sql(["name"], `SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1), false) AS superuser`),
  connectionForRole: sql(["text", "name"], `
    SELECT c.name, c.conninfo, c.server_role, c.on_role_mismatch, c.owner,
           coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = c.owner), false) AS owner_is_superuser,
           clockwork._may_use(c.owner, c.granted_to, $2) AS usable
      FROM clockwork.connections AS c
     WHERE c.name = $1`),
  // Reports are fenced by the claim's secret and the worker, and by state "running"
  // (said as NOT IN; see finishRuns), or, for an SQL step that committed its completion in
  // its own transaction, awaiting_report. Times of steps recorded here are the claim's
  // start plus the supervisor's measures (late_ms, duration_ms): the database's clock.
  // The rows are found by primary key through "id = ANY (ids)": joined to the recordset
  // alone, stale statistics after a burst made the planner scan the whole table.
  // $4: only steps whose own transaction recorded their completion (awaiting_report).
  reportSucceeded: sql(["text", "text", "timestamptz", "boolean"], `
    UPDATE clockwork.step_runs AS s
       SET state = 'succeeded',
           started_at = CASE WHEN s.awaiting_report THEN s.started_at ELSE s.started_at + x.late_ms * interval '1 millisecond' END,
           finished_at = CASE WHEN s.awaiting_report THEN s.finished_at
                              ELSE s.started_at + (x.late_ms + x.duration_ms) * interval '1 millisecond' END,
           result = x.result::jsonb,
           stdout = left(x.stdout, clockwork.output_limit()),
           output_truncated = x.truncated OR length(x.stdout) > clockwork.output_limit(),
           error = NULL, lease_expires_at = NULL, awaiting_report = false, claim_hash = NULL
      FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, claim text, result text, stdout text, truncated boolean,
                                                     late_ms float8, duration_ms float8)
     WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
       AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.worker_id = $2::bigint
       AND (s.awaiting_report OR (NOT $4 AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')))
    RETURNING s.id::text AS id, s.run_id::text AS run_id`),
  reportFailed: sql(["text", "text", "timestamptz", "text"], `
    UPDATE clockwork.step_runs AS s
       SET state = $4,
           started_at = s.started_at + x.late_ms * interval '1 millisecond',
           finished_at = s.started_at + (x.late_ms + x.duration_ms) * interval '1 millisecond',
           sql_state = x.sql_state, error = x.error, lease_expires_at = NULL, claim_hash = NULL
      FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, claim text, sql_state text, error text,
                                                     late_ms float8, duration_ms float8)
     WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
       AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.worker_id = $2::bigint
       AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')
    RETURNING s.id::text AS id, s.run_id::text AS run_id`),
  reportLost: sql(["text", "text", "timestamptz"], `
    WITH x AS (
        SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, claim text)
    ), committed AS (
        UPDATE clockwork.step_runs AS s
           SET awaiting_report = false, claim_hash = NULL
          FROM x
         WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
           AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.awaiting_report
        RETURNING s.id, s.run_id
    ), taken_back AS (
        -- expired now: the lease expiry in this same tick makes it lost and queues attempt + 1
        UPDATE clockwork.step_runs AS s
           SET lease_expires_at = $3::timestamptz - interval '1 millisecond'
          FROM x
         WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
       AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.worker_id = $2::bigint
           AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')
        RETURNING s.id
    )
    SELECT id::text AS id, run_id::text AS run_id FROM committed
    UNION ALL
    SELECT id::text AS id, NULL AS run_id FROM taken_back`),
  // A worker that cannot log in or reach the target hands the step back: ready again at
  // once for any other worker, never for this one (refused_by), with its reason kept.
  // someone_else: whether a live worker that has not refused it could take it.
  handBack: sql(["text", "text", "timestamptz"], `
    WITH x AS (
        SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, claim text, error text)
    ), back AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'ready', ready_at = $3, worker_id = NULL, lease_expires_at = NULL, started_at = NULL,
               claim_hash = NULL, refused_by = s.refused_by || $2::bigint,
               error = concat_ws('; ', s.error, (SELECT w.name FROM clockwork.workers AS w WHERE w.id = $2::bigint) || ': ' || x.error)
          FROM x
         WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
       AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.worker_id = $2::bigint
           AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')
        RETURNING s.id, s.run_id, s.refused_by, s.required_labels, s.error
    )
    SELECT b.id::text AS id, b.run_id::text AS run_id, b.error AS reasons,
           EXISTS (SELECT 1 FROM clockwork.workers AS w
                    WHERE w.stopped_at IS NULL AND w.heartbeat_at > $3 - clockwork.lease_duration()
                      AND w.id <> ALL (b.refused_by) AND b.required_labels <@ w.labels) AS someone_else
      FROM back AS b`),
  // Claims a supervisor queued and gives back unstarted (supervisor/src/steps/executor.ts,
  // QUEUE_TTL_MS): ready again from when the claim said it was due (never later than the
  // claim), so they keep their place among the ready steps of their priority
  // (claimReadySteps: ready_at, then id), same attempt, no trace; fenced by the claim's
  // secret and the worker.
  // A claim that opened its run's transaction (transaction: run) gives it back too: nothing
  // ran in it, and the step's next claim opens it again.
  releaseClaims: sql(["text", "text"], `
    WITH released AS (
        UPDATE clockwork.step_runs AS s
           SET state = 'ready', ready_at = least(s.started_at, x.due_at), worker_id = NULL, worker_name = NULL,
               lease_expires_at = NULL, started_at = NULL, claim_hash = NULL
          FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, claim text, due_at timestamptz)
         WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
           AND s.id = x.id AND s.claim_hash = sha256(convert_to(x.claim, 'UTF8')) AND s.worker_id = $2::bigint
           AND s.state NOT IN ('ready', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost') AND NOT s.awaiting_report
        RETURNING s.id, s.run_id, sha256(convert_to(x.claim, 'UTF8')) AS claim_hash
    ), reopened AS (
        DELETE FROM clockwork.run_transactions AS t
         USING released AS r
         WHERE t.run_id = r.run_id AND t.claim_hash = r.claim_hash AND t.state = 'open'
    )
    SELECT released.id::text AS id FROM released`),
  // Steps no worker can run, or that may not run where they are defined to (failed when
  // handed back by the last live worker, or refused at claim time).
  failUnrunnable: sql(["text", "timestamptz", "text"], `
    UPDATE clockwork.step_runs AS s
       SET state = 'failed', ready_at = NULL, started_at = coalesce(s.started_at, $2), finished_at = greatest($2, s.started_at),
           error = x.error, sql_state = $3, lease_expires_at = NULL, claim_hash = NULL
      FROM jsonb_to_recordset($1::text::jsonb) AS x(id bigint, error text)
     WHERE s.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements($1::text::jsonb) AS e))
       AND s.id = x.id AND s.state NOT IN ('succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')
    RETURNING s.run_id::text AS run_id`),
  runsOfStepRuns: sql(["text[]"], `
    SELECT id::text AS id, run_id::text AS run_id FROM clockwork.step_runs WHERE id = ANY ($1::bigint[])`),
  // SQL steps that committed but whose supervisor never reported (it died in between):
  // their runs are decided without their rows once a lease has passed, or at once when
  // the incarnation that ran them has ended (step_runs_awaiting_report_idx); the steps are
  // settled under their runs' locks.
  runsWithUnreportedSteps: sql(["timestamptz", "integer"], `
    SELECT DISTINCT run_id::text AS run_id
      FROM (SELECT s.run_id FROM clockwork.step_runs AS s
             WHERE s.awaiting_report
               AND (s.finished_at < $1 - clockwork.lease_duration()
                    OR NOT EXISTS (SELECT 1 FROM clockwork.workers AS w WHERE w.id = s.worker_id AND w.stopped_at IS NULL))
             ORDER BY s.finished_at
             LIMIT $2) AS unreported`),
  settleUnreported: sql(["text[]", "timestamptz"], `
    UPDATE clockwork.step_runs AS s
       SET awaiting_report = false, claim_hash = NULL
     -- IS NOT FALSE (the column is NOT NULL): plain awaiting_report implies the predicate of
     -- step_runs_awaiting_report_idx, whose statistics after a burst say it is empty, and
     -- the planner read all of it instead of the runs' step runs.
     WHERE s.run_id = ANY ($1::bigint[]) AND s.awaiting_report IS NOT FALSE
       AND (s.finished_at < $2 - clockwork.lease_duration()
            OR NOT EXISTS (SELECT 1 FROM clockwork.workers AS w WHERE w.id = s.worker_id AND w.stopped_at IS NULL))`),
} as const;
