-- Clockwork 1.0 → 1.1: the schema changes, by hand, forward only (the model is pg_cron's
-- chain of pg_cron--1.x--1.y.sql). Only what 10_tables.sql changed goes here: tables,
-- columns, constraints, indexes, and what must go before code is replaced (a DROP of a
-- function whose signature or result type changed). build/bundle.ts writes
-- clockwork--1.0--1.1.sql from this file followed by every other hand-written file
-- replayed (functions, views, policies, grants: CREATE OR REPLACE) and the generated
-- part (the error kinds, the loader and the function stubs, replaced whole).
-- test/upgrade/upgrade.test.ts installs 1.0 from the git history, upgrades it under a
-- running supervisor and compares the result with a fresh 1.1 install.

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
