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

-- A job whose stored definition this version cannot read stops alone (tick).
ALTER TABLE skipped_slots DROP CONSTRAINT skipped_slots_reason_check;
ALTER TABLE skipped_slots ADD CONSTRAINT skipped_slots_reason_check
    CHECK (reason IN ('misfire_skipped', 'misfire_coalesced', 'misfire_too_old', 'misfire_over_limit',
                          'overlap_skipped', 'max_instances_reached', 'queue_full', 'definition_unreadable'));
COMMENT ON COLUMN skipped_slots.reason IS 'Why, as decided by the core''s misfire and overlap policies: misfire_skipped, misfire_coalesced, misfire_too_old, misfire_over_limit (missed while no supervisor ran), overlap_skipped, max_instances_reached, queue_full (previous runs still going); definition_unreadable (the stored definition could not be read by this version: the schedule stops until the job is defined again).';
