-- Clockwork install script, part 3: the read API. Views run with the querying role's
-- rights (security_invoker), so row-level security shows each role its own jobs.

CREATE VIEW job_status WITH (security_invoker = true) AS
SELECT j.name                                   AS job,
       j.owner,
       j.enabled,
       j.version,
       s.schedules,
       s.next_fire_at,
       last_run.id                              AS last_run_id,
       last_run.state                           AS last_run_state,
       last_run.finished_at                     AS last_run_finished_at,
       (SELECT count(*) FROM runs AS r WHERE r.job_id = j.id AND r.state IN ('waiting', 'queued', 'running'))
                                                AS active_runs
  FROM jobs AS j
  LEFT JOIN LATERAL (
        SELECT array_agg(sc.description ORDER BY sc.position) AS schedules,
               min(sc.next_fire_at)                           AS next_fire_at
          FROM schedules AS sc WHERE sc.job_id = j.id
       ) AS s ON true
  LEFT JOIN LATERAL (
        SELECT r.id, r.state, r.finished_at FROM runs AS r
         WHERE r.job_id = j.id ORDER BY r.id DESC LIMIT 1
       ) AS last_run ON true
 WHERE j.dropped_at IS NULL;
COMMENT ON VIEW job_status IS 'One row per job you may see (not dropped): schedules in words, next fire time, last run and active runs.';

CREATE VIEW run_history WITH (security_invoker = true) AS
SELECT r.id                                         AS run_id,
       j.name                                       AS job,
       r.job_version,
       r.trigger,
       r.slot_at,
       r.state,
       r.queued_at,
       r.started_at,
       r.finished_at,
       r.finished_at - coalesce(r.started_at, r.queued_at, r.created_at) AS duration,
       r.reason,
       r.params,
       st.steps_succeeded,
       st.steps_failed,
       st.steps_total,
       r.retry_of,
       j.owner                                      AS owner,
       r.created_at
  FROM runs AS r
  JOIN jobs AS j ON j.id = r.job_id
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE s.state = 'succeeded') AS steps_succeeded,
               count(*) FILTER (WHERE s.state IN ('failed', 'timed_out')) AS steps_failed,
               count(*)                                      AS steps_total
          FROM step_runs AS s WHERE s.run_id = r.id
       ) AS st ON true;
COMMENT ON VIEW run_history IS 'One row per run you may see, newest last by run_id: trigger, slot, state, timing and step counts.';

CREATE VIEW step_history WITH (security_invoker = true) AS
SELECT s.id                AS step_run_id,
       s.run_id,
       j.name              AS job,
       s.step,
       s.instance,
       s.phase,
       s.kind,
       s.attempt,
       s.state,
       s.worker_name       AS worker,
       s.started_at,
       s.finished_at,
       s.finished_at - s.started_at AS duration,
       s.exit_code,
       s.sql_state,
       s.error,
       s.result,
       s.stdout,
       s.stderr,
       s.output_truncated,
       j.owner             AS owner
  FROM step_runs AS s
  JOIN runs AS r ON r.id = s.run_id
  JOIN jobs AS j ON j.id = r.job_id;
COMMENT ON VIEW step_history IS 'One row per step attempt you may see: state, worker, timing, exit code or SQL error, output.';

CREATE VIEW job_definitions WITH (security_invoker = true) AS
SELECT j.name                 AS job,
       j.owner,
       j.enabled,
       j.version,
       j.managed_by,
       v.definition,
       v.source,
       v.applied_from,
       v.defined_at,
       v.defined_by
  FROM jobs AS j
  JOIN job_versions AS v ON v.job_id = j.id AND v.version = j.version
 WHERE j.dropped_at IS NULL;
COMMENT ON VIEW job_definitions IS 'One row per job you may see: its current definition, the text it was written in (source, NULL when given as jsonb), and which set of definition files manages it (managed_by) and applied this version (applied_from; NULL when it was changed by SQL). clockwork export and diff read it.';

-- Why a slot did not become a run, in words. One place for the wording: the view below and
-- clockwork.explain use it.
CREATE FUNCTION describe_skip(reason text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog
AS $$
    SELECT CASE reason
        WHEN 'misfire_skipped'       THEN 'missed while no supervisor was running, and the misfire policy skips missed slots (misfire: skip)'
        WHEN 'misfire_coalesced'     THEN 'missed while no supervisor was running; one later run stood for it (misfire: once)'
        WHEN 'misfire_too_old'       THEN 'missed, and older than the catch-up window when a supervisor came back (catchup_window / misfire.max_age)'
        WHEN 'misfire_over_limit'    THEN 'missed, and beyond the number of missed slots to catch up (misfire.max_count)'
        WHEN 'overlap_skipped'       THEN 'an earlier run of the job was still going (overlap: skip)'
        WHEN 'max_instances_reached' THEN 'max_instances runs of the job were already going (overlap: allow_all)'
        WHEN 'queue_full'            THEN 'an earlier run was going and the buffer of waiting runs was full (overlap: buffer_one / buffer_all max_queue)'
        WHEN 'definition_unreadable' THEN 'the stored definition could not be read by this version of Clockwork; the schedule stopped until the job is defined again (UPDATING.md)'
        ELSE reason
    END
$$;
COMMENT ON FUNCTION describe_skip(text) IS 'The reason a slot was skipped (skipped_slots.reason), in words.';

CREATE VIEW skip_history WITH (security_invoker = true) AS
SELECT j.name                    AS job,
       j.owner,
       sc.position               AS schedule,
       sc.description            AS schedule_description,
       k.slot_at,
       k.last_slot_at,
       k.slots,
       k.reason,
       describe_skip(k.reason)   AS explanation,
       k.recorded_at
  FROM skipped_slots AS k
  JOIN schedules AS sc ON sc.id = k.schedule_id
  JOIN jobs AS j ON j.id = sc.job_id;
COMMENT ON VIEW skip_history IS 'Every schedule slot you may see that came due and did not become a run, with the reason in words; a row may stand for a range of consecutive slots (slot_at … last_slot_at, slots of them). With run_history it accounts for every slot.';

CREATE VIEW run_counts WITH (security_invoker = true) AS
SELECT j.name                                    AS job,
       j.owner,
       j.dropped_at IS NOT NULL                  AS dropped,
       st.state,
       coalesce(kept.runs, 0)                    AS kept,
       coalesce(p.runs, 0)                       AS pruned,
       coalesce(kept.runs, 0) + coalesce(p.runs, 0) AS total
  FROM jobs AS j
 CROSS JOIN (VALUES ('succeeded'), ('failed'), ('timed_out'), ('cancelled')) AS st (state)
  LEFT JOIN LATERAL (
        SELECT count(*) AS runs FROM runs AS r WHERE r.job_id = j.id AND r.state = st.state
       ) AS kept ON true
  LEFT JOIN pruned_runs AS p ON p.job_id = j.id AND p.state = st.state
 WHERE kept.runs > 0 OR p.runs IS NOT NULL;
COMMENT ON VIEW run_counts IS 'Finished runs per job you may see and final state: kept in run_history, pruned by the retention policy (counted in pruned_runs), and the total. With keep: failures (errors-only), successes are counted here and not kept.';
