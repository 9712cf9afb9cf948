-- Clockwork install script, part 6: privileges and row-level security.
-- Writes go through the SECURITY DEFINER API only; roles may read their own rows.

REVOKE ALL ON ALL TABLES IN SCHEMA clockwork FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA clockwork FROM PUBLIC;
GRANT USAGE ON SCHEMA clockwork TO PUBLIC;

-- Reading: every table is visible, row-level security decides which rows.
GRANT SELECT ON jobs, job_versions, schedules, runs, skipped_slots, pruned_runs, history_retention TO PUBLIC;
-- Every column of step_runs but claim_hash: the hash of a claim's secret is nobody's business.
GRANT SELECT (id, run_id, step, instance, phase, kind, matrix, params, attempt, state, required_labels, ready_at,
              worker_id, worker_name, lease_expires_at, started_at, finished_at, exit_code, sql_state, error, result, stdout,
              stderr, output_truncated, awaiting_report, refused_by, priority)
   ON step_runs TO PUBLIC;
GRANT SELECT ON job_status, run_history, step_history, job_definitions, skip_history, run_counts TO PUBLIC;
GRANT SELECT ON workers, calendars, connections, concurrency_groups TO PUBLIC;
-- Alerts: rows by row-level security like runs; channels' names to all, their targets to
-- the roles that manage or deliver them; health to every monitor.
GRANT SELECT ON alerts, alert_deliveries, alert_rules, alert_silences, alert_defaults, alert_sweeps TO PUBLIC;
GRANT SELECT ON alert_history, alert_delivery_history, scheduler_health TO PUBLIC;
GRANT SELECT (name, kind, description) ON alert_channels TO PUBLIC;
GRANT SELECT ON alert_channels TO clockwork_supervisor, clockwork_admin;
-- Which roles may name which supervisor secrets: names only, readable by all.
GRANT SELECT ON secret_grants TO PUBLIC;
-- The default retention of history (docs/policies.md, "History"): its settings, not its bookkeeping.
GRANT UPDATE (max_age, max_runs, keep) ON history_retention TO clockwork_admin;

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE step_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE skipped_slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE pruned_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE concurrency_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_silences ENABLE ROW LEVEL SECURITY;

CREATE POLICY own_jobs ON jobs FOR SELECT
    USING (pg_has_role(current_user, owner, 'MEMBER') OR pg_has_role(current_user, 'clockwork_supervisor', 'MEMBER'));
CREATE POLICY own_job_versions ON job_versions FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));
CREATE POLICY own_schedules ON schedules FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));
CREATE POLICY own_runs ON runs FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));
CREATE POLICY own_step_runs ON step_runs FOR SELECT
    USING (EXISTS (SELECT 1 FROM runs AS r WHERE r.id = run_id));
CREATE POLICY own_skipped_slots ON skipped_slots FOR SELECT
    USING (EXISTS (SELECT 1 FROM schedules AS s WHERE s.id = schedule_id));
CREATE POLICY own_pruned_runs ON pruned_runs FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));
-- Connections and calendars: those you own, or were granted (supervisors see all).
CREATE POLICY usable_connections ON connections FOR SELECT
    USING (_may_use(owner, granted_to, current_user) OR pg_has_role(current_user, 'clockwork_supervisor', 'MEMBER'));
CREATE POLICY usable_calendars ON calendars FOR SELECT
    USING (_may_use(owner, granted_to, current_user) OR pg_has_role(current_user, 'clockwork_supervisor', 'MEMBER'));
CREATE POLICY usable_concurrency_groups ON concurrency_groups FOR SELECT
    USING (_may_use(owner, granted_to, current_user) OR pg_has_role(current_user, 'clockwork_supervisor', 'MEMBER'));
-- A job's alerts as its runs; the scheduler's own (no job) to supervisors and administrators.
CREATE POLICY own_alerts ON alerts FOR SELECT
    USING (CASE WHEN job_id IS NULL
                THEN pg_has_role(current_user, 'clockwork_supervisor', 'MEMBER') OR pg_has_role(current_user, 'clockwork_admin', 'MEMBER')
                ELSE EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id) END);
CREATE POLICY own_alert_deliveries ON alert_deliveries FOR SELECT
    USING (EXISTS (SELECT 1 FROM alerts AS a WHERE a.id = alert_id));
CREATE POLICY own_alert_rules ON alert_rules FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));
CREATE POLICY own_alert_silences ON alert_silences FOR SELECT
    USING (EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = job_id));

-- The user API.
GRANT EXECUTE ON FUNCTION lease_duration(), output_limit(), describe_skip(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION define_calendar(text, date[], text, timestamptz), alter_calendar(text, date[], date[], text, timestamptz),
                          drop_calendar(text), grant_calendar(text, name), revoke_calendar(text, name)
   TO PUBLIC;
GRANT EXECUTE ON FUNCTION define_group(text, integer, text, timestamptz), drop_group(text),
                          grant_group(text, name), revoke_group(text, name)
   TO PUBLIC;
-- Called on an SQL step's own connection, by the job owner's session (50_sql_steps.sql).
GRANT EXECUTE ON FUNCTION _finish_sql_step(bigint, text), _commit_run(bigint, text), wait_until(timestamptz) TO PUBLIC;
-- Helpers called from SECURITY DEFINER functions run as the owner and need no grant,
-- but _caller is harmless and useful for diagnosing "does not exist" answers.
GRANT EXECUTE ON FUNCTION _caller(), _may_use(name, name[], name) TO PUBLIC;
GRANT EXECUTE ON FUNCTION silence_job(text, interval, text, timestamptz),
                          unsilence_job(text, timestamptz),
                          acknowledge_alert(bigint, text, timestamptz),
                          health(),
                          grant_secret(text, name),   -- administrators only: checked inside
                          revoke_secret(text, name),
                          _secrets_usable_by(name)
   TO PUBLIC;
-- The supervisor API.
GRANT EXECUTE ON FUNCTION start_worker(text, text[], text, integer, boolean, timestamptz),
                          attach_worker(bigint, timestamptz),
                          heartbeat(bigint, bigint[], timestamptz),
                          append_output(bigint, bigint, text, text),
                          release_worker(bigint, timestamptz),
                          -- by name, for tools and tests (docs/sql-api.md)
                          register_worker(text, text[], text, integer, timestamptz),
                          register_dedicated_worker(text, text[], text, integer, timestamptz),
                          heartbeat(text, timestamptz),
                          append_output(bigint, text, text, text),
                          release_worker(text, timestamptz)
   TO clockwork_supervisor;

-- pg_dump keeps definitions and history (the extension's own objects are recreated
-- by CREATE EXTENSION; these rows are the user's data).
SELECT pg_catalog.pg_extension_config_dump('jobs', '');
SELECT pg_catalog.pg_extension_config_dump('job_versions', '');
SELECT pg_catalog.pg_extension_config_dump('schedules', '');
SELECT pg_catalog.pg_extension_config_dump('runs', '');
SELECT pg_catalog.pg_extension_config_dump('step_runs', '');
SELECT pg_catalog.pg_extension_config_dump('skipped_slots', '');
SELECT pg_catalog.pg_extension_config_dump('workers', '');
SELECT pg_catalog.pg_extension_config_dump('connections', '');
SELECT pg_catalog.pg_extension_config_dump('calendars', '');
SELECT pg_catalog.pg_extension_config_dump('concurrency_groups', '');
SELECT pg_catalog.pg_extension_config_dump('alerts', '');
SELECT pg_catalog.pg_extension_config_dump('alert_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('alert_channels', '');
SELECT pg_catalog.pg_extension_config_dump('alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('alert_silences', '');
SELECT pg_catalog.pg_extension_config_dump('secret_grants', '');
SELECT pg_catalog.pg_extension_config_dump('alerts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alert_deliveries_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alert_silences_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pruned_runs', '');
SELECT pg_catalog.pg_extension_config_dump('jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('schedules_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('step_runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('workers_id_seq', '');
