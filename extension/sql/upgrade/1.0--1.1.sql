-- Clockwork 1.0 → 1.1: the schema changes, by hand, forward only (the model is pg_cron's
-- chain of pg_cron--1.x--1.y.sql). Only what 10_tables.sql changed goes here: tables,
-- columns, constraints, indexes, and what must go before code is replaced (a DROP of a
-- function whose signature or result type changed). build/bundle.ts writes
-- clockwork--1.0--1.1.sql from this file followed by every other hand-written file
-- replayed (functions, views, policies, grants: CREATE OR REPLACE) and the generated
-- part (the error kinds, the loader and the function stubs, replaced whole).
-- test/upgrade/upgrade.test.ts installs 1.0 from the git history, upgrades it under a
-- running supervisor and compares the result with a fresh 1.1 install.

-- Functions 1.0 had that 1.1 has not, or has with another signature (the code replayed
-- below creates them anew): SQL steps are no longer run inside the database by
-- run_sql_step / _complete_sql_step; tick takes the SQL steps' reports; wait_until is SQL
-- now, for everyone.
DROP FUNCTION run_sql_step(bigint, text, timestamptz);
DROP FUNCTION _complete_sql_step(bigint, text, text, text, jsonb, timestamptz);
DROP FUNCTION tick(text, integer, timestamptz, integer);
DROP FUNCTION wait_until(timestamptz);

-- Definitions as code: the set of files that manages a job, and each version's text.
ALTER TABLE jobs ADD COLUMN managed_by text;
ALTER TABLE jobs ADD CONSTRAINT jobs_managed_by_format CHECK (managed_by ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$');
COMMENT ON COLUMN jobs.managed_by IS 'The set of definition files that manages this job (clockwork apply --set, default "default"); NULL for a job made by SQL. Only jobs of the same set are deleted by clockwork apply --prune.';

ALTER TABLE job_versions ADD COLUMN source text;
ALTER TABLE job_versions ADD COLUMN applied_from text;
ALTER TABLE job_versions ADD CONSTRAINT job_versions_applied_from_format CHECK (applied_from ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$');
COMMENT ON COLUMN job_versions.source IS 'The definition as its author wrote it (YAML or JSON text, comments and key order kept) when it was given as text, by define_job(text) or clockwork apply; clockwork export gives it back. NULL when it was given as jsonb, whose key order PostgreSQL does not keep.';
COMMENT ON COLUMN job_versions.applied_from IS 'The set of definition files this version was applied from (clockwork apply); NULL when it was defined by SQL. A managed job whose current version has NULL here was changed outside its files (drift).';

-- Dedicated workers (clockwork run).
ALTER TABLE workers ADD COLUMN dedicated boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN workers.dedicated IS 'A dedicated worker (register_dedicated_worker, e.g. the one clockwork run starts in-process) claims only steps of jobs pinned to it by name (node), fires no schedule slot and is not a scheduler start.';

-- One run lifecycle: a run's creation and its queueing are two moments (a waiting run is
-- not queued yet); timed_out is a state of its own; a cancel request is recorded.
ALTER TABLE runs ADD COLUMN created_at timestamptz;
UPDATE runs SET created_at = queued_at;
ALTER TABLE runs ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE runs ALTER COLUMN queued_at DROP NOT NULL;
UPDATE runs SET queued_at = NULL WHERE state = 'waiting';
ALTER TABLE runs ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE runs ADD COLUMN cancel_mode text;
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('waiting', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'));
ALTER TABLE runs DROP CONSTRAINT runs_finished_state;
ALTER TABLE runs ADD CONSTRAINT runs_finished_state
    CHECK ((finished_at IS NOT NULL) = (state IN ('succeeded', 'failed', 'timed_out', 'cancelled')));
ALTER TABLE runs ADD CONSTRAINT runs_queued_has_time CHECK (state NOT IN ('queued', 'running') OR queued_at IS NOT NULL);
ALTER TABLE runs ADD CONSTRAINT runs_waiting_not_queued CHECK (state <> 'waiting' OR queued_at IS NULL);
ALTER TABLE runs ADD CONSTRAINT runs_cancel_mode_check CHECK (cancel_mode IN ('cancel', 'terminate'));
ALTER TABLE runs ADD CONSTRAINT runs_cancel_request_whole CHECK ((cancel_requested_at IS NULL) = (cancel_mode IS NULL));
COMMENT ON COLUMN runs.state IS 'waiting (held back by its overlap policy) → queued (steps ready) → running → succeeded | failed | timed_out | cancelled; see docs/state-machine.md.';
COMMENT ON COLUMN runs.created_at IS 'When the run was created (for a schedule: when its slot was fired).';
COMMENT ON COLUMN runs.queued_at IS 'When its first steps were queued: at creation, or when a run held back (waiting) was released; NULL while waiting. A job''s time-out counts from here until a step starts.';
COMMENT ON COLUMN runs.reason IS 'Why the run is in its state: while waiting, what it waits for; once ended, why (failed step, time-out, cancelled by whom, replaced by which run).';
COMMENT ON COLUMN runs.cancel_requested_at IS 'When someone (cancel_run, an overlap policy, disable_job, drop_job) asked the run to stop; every later decision about the run sees it.';
COMMENT ON COLUMN runs.cancel_mode IS 'terminate: running steps are stopped and the run ends at once; cancel: running steps are told to stop and the run ends when they have (overlap cancel_other).';

ALTER TABLE step_runs DROP CONSTRAINT step_runs_state_check;
ALTER TABLE step_runs ADD CONSTRAINT step_runs_state_check
    CHECK (state IN ('ready', 'running', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost'));
ALTER TABLE step_runs DROP CONSTRAINT step_runs_finished_state;
ALTER TABLE step_runs ADD CONSTRAINT step_runs_finished_state
    CHECK ((finished_at IS NOT NULL) = (state IN ('succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'lost')));
COMMENT ON COLUMN step_runs.state IS 'ready → running → succeeded | failed | timed_out | cancelled | lost (lease expired); skipped when its condition was false or a dependency failed. The state is how the attempt counts for its run: a check that got its expected exit code succeeded; see docs/state-machine.md.';

-- Skipped slots as ranges (a long outage is one row); definition_unreadable: a job whose
-- stored definition this version cannot read stops alone (tick). New columns come last
-- in an upgraded table (PostgreSQL appends them), after reason and recorded_at.
ALTER TABLE skipped_slots ADD COLUMN last_slot_at timestamptz;
UPDATE skipped_slots SET last_slot_at = slot_at;
ALTER TABLE skipped_slots ALTER COLUMN last_slot_at SET NOT NULL;
ALTER TABLE skipped_slots ADD COLUMN slots integer;
UPDATE skipped_slots SET slots = 1;
ALTER TABLE skipped_slots ADD CONSTRAINT skipped_slots_range_ordered CHECK (last_slot_at >= slot_at);
ALTER TABLE skipped_slots ADD CONSTRAINT skipped_slots_count_check CHECK (slots IS NULL OR slots >= 1);
ALTER TABLE skipped_slots DROP CONSTRAINT skipped_slots_reason_check;
ALTER TABLE skipped_slots ADD CONSTRAINT skipped_slots_reason_check
    CHECK (reason IN ('misfire_skipped', 'misfire_coalesced', 'misfire_too_old', 'misfire_over_limit',
                          'overlap_skipped', 'max_instances_reached', 'queue_full', 'definition_unreadable'));
COMMENT ON TABLE skipped_slots IS 'Schedule slots that came due but did not become a run, and why: one row per slot, or per run of consecutive slots skipped for one reason (a long outage is one row).';
COMMENT ON COLUMN skipped_slots.slot_at IS 'The (first) slot that was not fired.';
COMMENT ON COLUMN skipped_slots.last_slot_at IS 'The last slot of the range; equal to slot_at for a single slot. Every slot of the schedule in between was skipped for this reason.';
COMMENT ON COLUMN skipped_slots.slots IS 'How many slots the row stands for; NULL when more than 10 000 (not counted).';
COMMENT ON COLUMN skipped_slots.reason IS 'Why, as decided by the core''s misfire and overlap policies: misfire_skipped, misfire_coalesced, misfire_too_old, misfire_over_limit (missed while no supervisor ran), overlap_skipped, max_instances_reached, queue_full (previous runs still going); definition_unreadable (the stored definition could not be read by this version: the schedule stops until the job is defined again).';

-- SQL steps run as their owners: the claim's secret, a completion committed before its
-- report, and the workers that handed a step back.
ALTER TABLE step_runs ADD COLUMN claim_hash bytea;
ALTER TABLE step_runs ADD COLUMN awaiting_report boolean NOT NULL DEFAULT false;
ALTER TABLE step_runs ADD COLUMN refused_by bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE step_runs ADD CONSTRAINT step_runs_claim_hash_size CHECK (claim_hash IS NULL OR length(claim_hash) = 32);
ALTER TABLE step_runs ADD CONSTRAINT step_runs_awaiting_report_finished CHECK (NOT awaiting_report OR state = 'succeeded');
CREATE INDEX step_runs_awaiting_report_idx ON step_runs (finished_at) WHERE awaiting_report;
COMMENT ON COLUMN step_runs.kind IS 'sql (run by a supervisor on a connection logged in as the job owner), shell or program (run by a supervisor as a process), builtin (done by the database itself).';
COMMENT ON COLUMN step_runs.started_at IS 'When the step was claimed; for an SQL step, replaced by the wall-clock time its statements started.';
COMMENT ON COLUMN step_runs.result IS 'The first 100 rows of an SQL step''s last statement, as a JSON array, for conditions on results ({"rows_affected": n} for a statement without rows).';
COMMENT ON COLUMN step_runs.output_truncated IS 'True when output beyond the capture bound was dropped, or an SQL step returned more rows than result keeps.';
COMMENT ON COLUMN step_runs.claim_hash IS 'SHA-256 of the secret handed to the worker that claimed this attempt; only that worker can finish it. Never readable by job owners.';
COMMENT ON COLUMN step_runs.awaiting_report IS 'An SQL step that committed its completion with its work, whose supervisor has not yet reported its rows; tick decides its run then, or without the rows once lease_duration() has passed.';
COMMENT ON COLUMN step_runs.refused_by IS 'Workers that handed this step back because they cannot log in as its owner or reach its target; it is not offered to them again.';

-- Named connections: the server's role is server_role, what to do on a mismatch, who may
-- use them. Calendars get an owner and grants; those made under 1.0, which anyone could
-- use, are granted to public so that the schedules excluding them keep working.
ALTER TABLE connections RENAME COLUMN role TO server_role;
ALTER TABLE connections RENAME CONSTRAINT connections_role_check TO connections_server_role_check;
ALTER TABLE connections ALTER COLUMN server_role SET DEFAULT 'any';
ALTER TABLE connections ADD COLUMN on_role_mismatch text NOT NULL DEFAULT 'fail';
ALTER TABLE connections ADD COLUMN description text;
ALTER TABLE connections ADD COLUMN granted_to name[] NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE connections ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE connections ADD CONSTRAINT connections_on_role_mismatch_check CHECK (on_role_mismatch IN ('fail', 'skip'));
ALTER TABLE connections DROP CONSTRAINT connections_no_password;
ALTER TABLE connections ADD CONSTRAINT connections_no_password CHECK (conninfo !~* '(^|\s)(ssl)?password\s*=|://[^/@:]*:[^/@]*@|[?&](ssl)?password=');
COMMENT ON TABLE connections IS 'Named connections SQL steps may run on instead of this database (docs/sql-steps.md); never with a password.';
COMMENT ON COLUMN connections.conninfo IS 'libpq connection string or URI without a password: the supervisor logs in with .pgpass, a service file, a client certificate or peer authentication.';
COMMENT ON COLUMN connections.server_role IS 'Which server steps expect: primary (not in recovery), standby (in recovery) or any.';
COMMENT ON COLUMN connections.on_role_mismatch IS 'When the server is not in server_role: fail the step (with the reason), or skip it (PgQuartz''s runOnRoleError).';
COMMENT ON COLUMN connections.description IS 'What the connection is for.';
COMMENT ON COLUMN connections.owner IS 'Role that defined the connection; it and its members may use, alter, grant and drop it.';
COMMENT ON COLUMN connections.granted_to IS 'Roles (and their members) granted the use of the connection in their jobs; ''public'' for every role.';
COMMENT ON COLUMN connections.created_at IS 'When the connection was defined.';
COMMENT ON COLUMN connections.updated_at IS 'When it was last altered.';

ALTER TABLE calendars ADD COLUMN owner name NOT NULL DEFAULT current_user;
ALTER TABLE calendars ADD COLUMN granted_to name[] NOT NULL DEFAULT '{}';
ALTER TABLE calendars ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE calendars SET granted_to = '{public}';
COMMENT ON COLUMN calendars.owner IS 'Role that defined the calendar; it and its members may use, alter, grant and drop it.';
COMMENT ON COLUMN calendars.granted_to IS 'Roles (and their members) granted the use of the calendar in their schedules; ''public'' for every role.';
COMMENT ON COLUMN calendars.updated_at IS 'When the calendar was last changed (schedules excluding it are re-planned then).';

-- Supervisors no longer read the connections table: they get a step's target with its claim.
REVOKE ALL ON connections FROM clockwork_supervisor;

-- Retries (retry_run) and the indexes of the web console's pages.
ALTER TABLE runs ADD COLUMN retry_of bigint REFERENCES runs (id) ON DELETE SET NULL;
COMMENT ON COLUMN runs.retry_of IS 'The failed, timed-out or cancelled run this run retries (retry_run), or NULL.';
CREATE INDEX runs_retry_of_idx ON runs (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX runs_job_created_idx ON runs (job_id, created_at) INCLUDE (state);
CREATE INDEX runs_job_failed_idx ON runs (job_id, finished_at) WHERE state IN ('failed', 'timed_out');
COMMENT ON INDEX runs_job_created_idx IS 'Runs of a job by creation time: the console''s timeline (supervisor/src/console/queries.ts).';
COMMENT ON INDEX runs_job_failed_idx IS 'Failed and timed-out runs of a job by end time: the console''s failures page and failing filter (supervisor/src/console/queries.ts).';
CREATE INDEX skipped_slots_slot_idx ON skipped_slots (slot_at);
COMMENT ON INDEX skipped_slots_slot_idx IS 'Skipped slots by time over all schedules: the console''s skipped-slots page (supervisor/src/console/queries.ts).';

-- Job names belong to their owner (as in pg_cron): unique per owner.
ALTER TABLE jobs DROP CONSTRAINT jobs_name_key;
ALTER TABLE jobs ADD CONSTRAINT jobs_owner_name_key UNIQUE (owner, name);
COMMENT ON COLUMN jobs.name IS 'Job name, unique per owner (as in pg_cron): the SQL API takes it alone for the caller''s own job, or as owner/name.';
