// Every SQL statement the console runs, named and in one place, each with the index that
// serves it (extension/sql/10_tables.sql). They read the extension's tables as the
// console's role: row-level security decides which jobs, runs and steps a role sees, so
// no statement here filters by owner. Writes go only through the SQL API (ACTIONS).
//
// Pages are bounded: every list has a LIMIT, run lists page by id (keyset), and the
// per-job parts of a page (sparklines, last run, step counts) are LATERAL subqueries on
// the rows of that page only. `make bench-console` measures them on 10 000 jobs and a
// million runs.

import { SQLSTATE } from "../../../extension/src/core/errors.ts";

/** Run states that are not final, and the final ones that are failures. */
const ACTIVE = `('waiting', 'queued', 'running')`;
const FAILED = `('failed', 'timed_out')`;
/**
 * A step run that failed, timed out or lost its lease: a fault. An attempt handed back at
 * a clean shutdown (lost, handed_back_at_shutdown) is none.
 */
const STEP_FAULT = `(s.state IN ('failed', 'timed_out', 'lost') AND s.sql_state IS DISTINCT FROM '${SQLSTATE.handed_back_at_shutdown}')`;

/** Milliseconds of an interval, as a float8 the driver returns as a number. */
const ms = (expr: string) => `(extract(epoch FROM ${expr}) * 1000)::float8`;

export const QUERIES = {
  /** Who the console acts as, and which optional parts of the SQL API this database has. */
  session: `
    SELECT current_user AS role,
           session_user AS login,
           r.rolsuper AS superuser,
           r.rolbypassrls AS bypass_rls,
           EXISTS (SELECT 1 FROM pg_roles AS s
                    WHERE s.rolname = 'clockwork_supervisor' AND pg_has_role(current_user, s.oid, 'MEMBER')) AS supervisor_member,
           current_database() AS database,
           (SELECT extversion FROM pg_extension WHERE extname = 'clockwork') AS version,
           EXISTS (SELECT 1 FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'clockwork' AND p.proname = 'explain') AS has_explain,
           to_regclass('clockwork.alerts') IS NOT NULL AS has_alerts,
           now() AS now
      FROM pg_roles AS r
     WHERE r.rolname = current_user`,

  /**
   * Counts for the header, each from an index. Failed runs are counted per visible job
   * (runs_job_failed_idx): scanning all failures and letting row-level security drop
   * the ones a role may not see costs a policy check per failure.
   */
  summary: `
    SELECT (SELECT count(*) FROM clockwork.jobs WHERE dropped_at IS NULL)::int AS jobs,
           (SELECT count(*) FROM clockwork.jobs WHERE NOT enabled AND dropped_at IS NULL)::int AS paused,
           (SELECT count(*) FROM clockwork.runs WHERE state IN ${ACTIVE})::int AS active_runs,
           (SELECT count(*) FROM clockwork.jobs AS j
             CROSS JOIN LATERAL (SELECT 1 FROM clockwork.runs AS r
                                  WHERE r.job_id = j.id AND r.state = 'failed'
                                    AND r.finished_at >= now() - interval '24 hours') AS f)::int AS failed_24h,
           (SELECT count(*) FROM clockwork.workers
             WHERE stopped_at IS NULL AND heartbeat_at > now() - clockwork.lease_duration())::int AS workers_alive`,

  /**
   * One page of jobs by name: $1 search text ('' for all), $2 filter (all, paused,
   * running, failing), $3 limit, $4 offset. The filter and the total read every visible
   * job (jobs_name_key orders them; 'failing' reads the job's last_run_state, kept by the
   * run lifecycle); the schedules, last runs and sparkline are read for the page's rows only.
   */
  jobsPage: `
    WITH page AS (
      SELECT j.id, j.name, j.owner, j.enabled, j.version,
             j.definition ->> 'description' AS description,
             count(*) OVER () AS total
        FROM clockwork.jobs AS j
       WHERE j.dropped_at IS NULL -- dropped jobs kept for their history are not jobs
         AND ($1 = '' OR strpos(lower(j.name), lower($1)) > 0 OR strpos(lower(j.owner), lower($1)) > 0)
         AND CASE $2
               WHEN 'paused'  THEN NOT j.enabled
               WHEN 'running' THEN EXISTS (SELECT 1 FROM clockwork.runs AS r
                                            WHERE r.job_id = j.id AND r.state IN ${ACTIVE})
               -- The latest run that ended, kept on the job's row by the run lifecycle.
               WHEN 'failing' THEN j.last_run_state IN ${FAILED}
               ELSE true
             END
       ORDER BY j.name
       LIMIT $3 OFFSET $4
    )
    SELECT p.id::text AS id, p.name, p.owner, p.enabled, p.version, p.description, p.total::int AS total,
           sc.schedules, sc.time_zones, sc.next_fire_at,
           act.active_runs,
           coalesce(recent.runs, '[]') AS recent
      FROM page AS p
      LEFT JOIN LATERAL (
            SELECT array_agg(s.description ORDER BY s.position) AS schedules,
                   array_agg(DISTINCT s.time_zone) AS time_zones,
                   min(s.next_fire_at) AS next_fire_at
              FROM clockwork.schedules AS s WHERE s.job_id = p.id
           ) AS sc ON true
      LEFT JOIN LATERAL (
            SELECT count(*)::int AS active_runs FROM clockwork.runs AS r
             WHERE r.job_id = p.id AND r.state IN ${ACTIVE}
           ) AS act ON true
      LEFT JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_object(
                     'id', x.id::text, 'state', x.state, 'at', coalesce(x.started_at, x.created_at),
                     'ms', ${ms("x.finished_at - coalesce(x.started_at, x.queued_at, x.created_at)")})
                   ORDER BY x.id DESC) AS runs
              FROM (SELECT r.id, r.state, r.created_at, r.queued_at, r.started_at, r.finished_at
                      FROM clockwork.runs AS r WHERE r.job_id = p.id
                     ORDER BY r.id DESC LIMIT 30) AS x
           ) AS recent ON true
     ORDER BY p.name`,

  job: `
    SELECT j.id::text AS id, j.name, j.owner, j.enabled, j.version, j.definition, j.created_at, j.updated_at
      FROM clockwork.jobs AS j
     WHERE j.id = $1`,

  schedules: `
    SELECT s.position, s.kind, s.description, s.time_zone, s.next_fire_at, s.last_slot_at
      FROM clockwork.schedules AS s
     WHERE s.job_id = $1
     ORDER BY s.position`,

  /** next_runs checks that the caller may manage the job; the console catches its not_found error. */
  nextRuns: `SELECT fire_at, description FROM clockwork.next_runs($1, $2)`,

  /**
   * A job's runs, newest first, keyset-paged by id ($2: before this id, or NULL), with
   * their step counts ($3 rows at most). runs_job_idx (job_id, id DESC).
   */
  runsOfJob: `
    SELECT r.id::text AS id, r.trigger, r.slot_at, r.state, r.created_at, r.queued_at, r.started_at, r.finished_at,
           ${ms("r.finished_at - coalesce(r.started_at, r.queued_at, r.created_at)")} AS duration_ms,
           ${ms("r.started_at - r.slot_at")} AS start_lag_ms,
           r.reason, r.params, r.retry_of::text AS retry_of,
           st.steps_total, st.steps_succeeded, st.steps_failed
      FROM clockwork.runs AS r
      LEFT JOIN LATERAL (
            SELECT count(*)::int AS steps_total,
                   count(*) FILTER (WHERE s.state = 'succeeded')::int AS steps_succeeded,
                   count(*) FILTER (WHERE ${STEP_FAULT})::int AS steps_failed
              FROM clockwork.step_runs AS s WHERE s.run_id = r.id
           ) AS st ON true
     WHERE r.job_id = $1 AND ($2::bigint IS NULL OR r.id < $2)
     ORDER BY r.id DESC
     LIMIT $3`,

  /** A run with its job and the definition version it follows. */
  run: `
    SELECT r.id::text AS id, r.job_id::text AS job_id, j.name AS job, j.owner, j.enabled AS job_enabled,
           r.job_version, r.trigger, r.slot_at, r.params, r.state, r.created_at, r.queued_at, r.started_at, r.finished_at,
           ${ms("r.finished_at - coalesce(r.started_at, r.queued_at, r.created_at)")} AS duration_ms,
           ${ms("r.started_at - r.slot_at")} AS start_lag_ms,
           r.reason, r.wake_at, r.cancel_requested_at, r.retry_of::text AS retry_of,
           (SELECT array_agg(x.id::text ORDER BY x.id) FROM clockwork.runs AS x WHERE x.retry_of = r.id) AS retried_as,
           v.definition
      FROM clockwork.runs AS r
      JOIN clockwork.jobs AS j ON j.id = r.job_id
      JOIN clockwork.job_versions AS v ON v.job_id = r.job_id AND v.version = r.job_version
     WHERE r.id = $1`,

  /**
   * Every attempt of every step and check of a run (step_runs_attempt_key), with the tail
   * of its output: the page streams the rest through stepOutput.
   */
  stepsOfRun: `
    SELECT s.id::text AS id, s.step, s.instance, s.phase, s.kind, s.matrix, s.params, s.attempt, s.state,
           s.worker_name AS worker, s.ready_at, s.lease_expires_at, s.started_at, s.finished_at,
           ${ms("s.finished_at - s.started_at")} AS duration_ms,
           s.exit_code, s.sql_state, s.error, s.result, s.output_truncated,
           length(s.stdout) AS stdout_length, length(s.stderr) AS stderr_length,
           right(s.stdout, $2) AS stdout_tail, right(s.stderr, $2) AS stderr_tail
      FROM clockwork.step_runs AS s
     WHERE s.run_id = $1
     ORDER BY s.id`,

  /** Output of one step run from character offsets on ($3 stdout, $4 stderr), by primary key. */
  stepOutput: `
    SELECT s.state, s.output_truncated,
           length(s.stdout) AS stdout_length, length(s.stderr) AS stderr_length,
           substr(s.stdout, $3 + 1, $5) AS stdout, substr(s.stderr, $4 + 1, $5) AS stderr
      FROM clockwork.step_runs AS s
     WHERE s.id = $1 AND s.run_id = $2`,

  /**
   * Timeline, part 1: how many runs each job of the page ($1 ids) created in [$2, $3),
   * counted up to $4 (runs_job_created_idx, index only): a job with more than fit in its
   * lane is drawn from timelineBuckets, the others run by run.
   */
  timelineCounts: `
    SELECT j.id::text AS job_id,
           (SELECT count(*) FROM (SELECT 1 FROM clockwork.runs AS r
                                   WHERE r.job_id = j.id AND r.created_at >= $2 AND r.created_at < $3
                                   LIMIT $4) AS x)::int AS runs
      FROM unnest($1::bigint[]) AS j(id)`,

  /**
   * Timeline, part 2: the runs of the sparse jobs ($1): created in the window or up to $4
   * before it and still going at its start, and every unfinished run (runs_active_idx),
   * however old. runs_job_created_idx.
   */
  timelineRuns: `
    SELECT r.job_id::text AS job_id, r.id::text AS id, r.state, r.trigger,
           -- epoch milliseconds: a busy page carries thousands of these
           ${ms("r.slot_at - 'epoch'")} AS slot, ${ms("coalesce(r.started_at, r.created_at) - 'epoch'")} AS start,
           ${ms("r.finished_at - 'epoch'")} AS end, ${ms("r.started_at - r.slot_at")} AS lag
      FROM clockwork.runs AS r
     WHERE r.job_id = ANY ($1::bigint[])
       AND ((r.created_at >= $2::timestamptz - $4::interval AND r.created_at < $3
             AND (r.finished_at IS NULL OR r.finished_at >= $2))
            OR (r.state IN ${ACTIVE} AND r.created_at < $3))
     ORDER BY r.created_at`,

  /**
   * Timeline, part 2 for dense jobs ($1): runs per bucket of $4 from $2 to $3, with
   * failures and active runs, from runs_job_created_idx alone (it includes the state).
   */
  timelineBuckets: `
    SELECT r.job_id::text AS job_id,
           ${ms("date_bin($4::interval, r.created_at, $2::timestamptz) - 'epoch'")} AS bucket,
           count(*)::int AS runs,
           count(*) FILTER (WHERE r.state IN ${FAILED})::int AS failed,
           count(*) FILTER (WHERE r.state = 'cancelled')::int AS cancelled,
           count(*) FILTER (WHERE r.state IN ${ACTIVE})::int AS active
      FROM clockwork.runs AS r
     WHERE r.job_id = ANY ($1::bigint[]) AND r.created_at >= $2 AND r.created_at < $3
     GROUP BY 1, 2`,

  /**
   * Timeline, part 3: skipped slots of the page's jobs that reach into the window: a row is
   * one slot or a range of them (skipped_slots_pkey).
   */
  timelineSkipped: `
    SELECT s.job_id::text AS job_id, k.slot_at, k.last_slot_at, k.slots, k.reason,
           clockwork.describe_skip(k.reason) AS explanation
      FROM clockwork.schedules AS s
      JOIN clockwork.skipped_slots AS k ON k.schedule_id = s.id
     WHERE s.job_id = ANY ($1::bigint[]) AND k.slot_at < $3 AND k.last_slot_at >= $2
     ORDER BY k.slot_at
     LIMIT 5000`,

  /**
   * Failed runs since $1, grouped by job, the most recently failing job first ($2 limit,
   * $3 offset). Driven by the visible jobs, each probing runs_job_failed_idx (job_id,
   * finished_at) WHERE failed, index only: row-level security then costs one check per
   * job, not one per failed run. For the page's jobs: the latest failure's reason and the
   * first step that failed in it, its last few failures, and whether its latest run failed.
   */
  failures: `
    WITH grouped AS (
      SELECT j.id AS job_id, f.failures, f.last_failed_at, count(*) OVER ()::int AS total
        FROM clockwork.jobs AS j
       CROSS JOIN LATERAL (
             SELECT count(*)::int AS failures, max(r.finished_at) AS last_failed_at
               FROM clockwork.runs AS r
              WHERE r.job_id = j.id AND r.state IN ${FAILED} AND r.finished_at >= $1
            ) AS f
       WHERE f.failures > 0
       ORDER BY f.last_failed_at DESC
       LIMIT $2 OFFSET $3
    )
    SELECT j.id::text AS job_id, j.name AS job, j.owner, j.enabled, g.failures, g.total,
           g.last_failed_at, lr.id::text AS last_run_id, lr.state AS last_state, lr.reason,
           fs.step, fs.instance, fs.attempt, fs.error, fs.exit_code, fs.sql_state, fs.stderr_tail,
           latest.state AS latest_state, latest.id::text AS latest_run_id,
           coalesce(recent.runs, '[]') AS recent
      FROM grouped AS g
      JOIN clockwork.jobs AS j ON j.id = g.job_id
     CROSS JOIN LATERAL (
            SELECT r.id, r.state, r.reason FROM clockwork.runs AS r
             WHERE r.job_id = g.job_id AND r.state IN ${FAILED}
             ORDER BY r.finished_at DESC LIMIT 1
           ) AS lr
      LEFT JOIN LATERAL (
            SELECT s.step, s.instance, s.attempt, s.error, s.exit_code, s.sql_state, right(s.stderr, 600) AS stderr_tail
              FROM clockwork.step_runs AS s
             WHERE s.run_id = lr.id AND ${STEP_FAULT}
             ORDER BY s.id LIMIT 1
           ) AS fs ON true
      LEFT JOIN LATERAL (
            SELECT r.id, r.state FROM clockwork.runs AS r WHERE r.job_id = g.job_id ORDER BY r.id DESC LIMIT 1
           ) AS latest ON true
      LEFT JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_object('id', x.id::text, 'state', x.state, 'at', x.finished_at, 'reason', x.reason) ORDER BY x.finished_at DESC) AS runs
              FROM (SELECT r.id, r.state, r.finished_at, r.reason FROM clockwork.runs AS r
                     WHERE r.job_id = g.job_id AND r.state IN ${FAILED} AND r.finished_at >= $1
                     ORDER BY r.finished_at DESC LIMIT 8) AS x
           ) AS recent ON true
     ORDER BY g.last_failed_at DESC`,

  /**
   * Skipped slots, newest first, of one job ($1, or NULL for all), before a slot time ($2,
   * or NULL), $3 at most: skipped_slots_pkey for one job, skipped_slots_slot_idx for all.
   */
  skipped: `
    SELECT j.id::text AS job_id, j.name AS job, s.position, s.description AS schedule,
           k.slot_at, k.last_slot_at, k.slots, k.reason, clockwork.describe_skip(k.reason) AS explanation, k.recorded_at
      FROM clockwork.skipped_slots AS k
      JOIN clockwork.schedules AS s ON s.id = k.schedule_id
      JOIN clockwork.jobs AS j ON j.id = s.job_id
     WHERE ($1::bigint IS NULL OR s.job_id = $1) AND ($2::timestamptz IS NULL OR k.slot_at < $2)
     ORDER BY k.slot_at DESC
     LIMIT $3`,

  /** clockwork.explain, where the SQL API has it (issue 16): what happened to a slot. */
  explain: `SELECT to_jsonb(e) AS explanation FROM clockwork.explain($1, $2::timestamptz) AS e`,

  /**
   * Supervisors, live ones first. Health from the heartbeat (every third of the lease):
   * alive, late (a heartbeat missed), silent (its leases are expiring), stopped. Leases:
   * the running steps it holds that this role may see (step_runs_worker_idx).
   */
  workers: `
    SELECT w.id::text AS id, w.name, w.host, w.pid, w.labels, w.started_at, w.heartbeat_at, w.stopped_at,
           CASE WHEN w.stopped_at IS NOT NULL THEN 'stopped'
                WHEN w.heartbeat_at > now() - clockwork.lease_duration() * 2 / 3 THEN 'alive'
                WHEN w.heartbeat_at > now() - clockwork.lease_duration() THEN 'late'
                ELSE 'silent' END AS health,
           ${ms("now() - w.heartbeat_at")} AS heartbeat_age_ms,
           coalesce(l.leases, 0) AS leases, l.next_expiry, coalesce(l.steps, '[]') AS steps
      FROM clockwork.workers AS w
      LEFT JOIN LATERAL (
            SELECT count(*)::int AS leases, min(s.lease_expires_at) AS next_expiry,
                   jsonb_agg(jsonb_build_object('id', s.id::text, 'run_id', s.run_id::text, 'job', j.name,
                              'instance', s.instance, 'attempt', s.attempt, 'started_at', s.started_at,
                              'lease_expires_at', s.lease_expires_at) ORDER BY s.id) AS steps
              FROM clockwork.step_runs AS s
              JOIN clockwork.runs AS r ON r.id = s.run_id
              JOIN clockwork.jobs AS j ON j.id = r.job_id
             WHERE s.worker_id = w.id AND s.state = 'running'
           ) AS l ON true
     ORDER BY (w.stopped_at IS NULL) DESC, w.heartbeat_at DESC
     LIMIT 200`,

  /**
   * Start lag per worker: how long after its slot a scheduled run's first step started,
   * over the runs of the last 5 minutes (at most 20 per job), driven by the visible jobs
   * (runs_job_created_idx), each run's first step found by step_runs_attempt_key.
   */
  workerLag: `
    SELECT s.worker_id::text AS worker_id, count(*)::int AS starts,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ${ms("r.started_at - r.slot_at")}) AS median_lag_ms,
           max(${ms("r.started_at - r.slot_at")}) AS max_lag_ms
      FROM clockwork.jobs AS j
     CROSS JOIN LATERAL (
            SELECT r.id, r.slot_at, r.started_at FROM clockwork.runs AS r
             WHERE r.job_id = j.id AND r.created_at > now() - interval '5 minutes'
               AND r.trigger = 'schedule' AND r.started_at IS NOT NULL
             ORDER BY r.created_at DESC LIMIT 20
           ) AS r
     CROSS JOIN LATERAL (
            SELECT s.worker_id FROM clockwork.step_runs AS s
             WHERE s.run_id = r.id AND s.started_at = r.started_at AND s.worker_id IS NOT NULL
             LIMIT 1
           ) AS s
     GROUP BY s.worker_id`,

  /**
   * Alerts this role may see (row-level security, as for runs): open and acknowledged ones
   * first, oldest first among them (alerts_open_idx), then, with $1 false, those opened in the
   * last 7 days, newest first. $2 limit, $3 offset.
   */
  alerts: `
    SELECT a.alert_id::text AS alert_id, a.job, a.job_id::text AS job_id, a.condition, a.key, a.state, a.severity, a.message,
           a.opened_at, a.last_seen_at, a.repeats, a.resolved_at, a.resolution, a.acknowledged_at, a.acknowledged_by,
           a.acknowledgement, a.silenced, a.delivered::int AS delivered, a.pending::int AS pending, a.failed::int AS failed,
           (SELECT d.last_error FROM clockwork.alert_deliveries AS d
             WHERE d.alert_id = a.alert_id AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT 1) AS last_error,
           count(*) OVER ()::int AS total,
           count(*) FILTER (WHERE a.state <> 'resolved') OVER ()::int AS open
      FROM clockwork.alert_history AS a
     WHERE a.state <> 'resolved' OR (NOT $1 AND a.opened_at > now() - interval '7 days')
     ORDER BY a.state = 'resolved', CASE WHEN a.state = 'resolved' THEN -extract(epoch FROM a.opened_at) ELSE extract(epoch FROM a.opened_at) END
     LIMIT $2 OFFSET $3`,
} as const;

/** The actions, each one call of the SQL API, so checks and errors are psql's. */
export const ACTIONS = {
  runNow: `SELECT clockwork.run_now($1, $2::jsonb)::text AS run_id`,
  cancel: `SELECT clockwork.cancel_run($1) AS cancelled`,
  retry: `SELECT clockwork.retry_run($1)::text AS run_id`,
  pause: `SELECT clockwork.disable_job($1) AS changed`,
  resume: `SELECT clockwork.enable_job($1) AS changed`,
  acknowledge: `SELECT clockwork.acknowledge_alert($1::bigint, $2) AS changed`,
} as const;
