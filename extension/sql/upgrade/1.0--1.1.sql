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
-- next_runs returns the schedule as written (schedule text) and its index (schedule_position).
DROP FUNCTION next_runs(text, integer, timestamptz);
-- drop_job keeps a job's history unless asked: drop_job(job, keep_history).
DROP FUNCTION drop_job(text);
-- complete_step takes stopped_by (how the supervisor stopped the step) last, with a
-- default: a call of 1.0's form still reaches the new function (db/lifecycle.ts,
-- failedAttemptState).
DROP FUNCTION complete_step(bigint, text, integer, text, text, text, timestamptz);

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
COMMENT ON COLUMN step_runs.state IS 'ready → running → succeeded | failed | timed_out | cancelled | lost (lease expired, or handed back at a clean shutdown: sql_state handed_back_at_shutdown); skipped when its condition was false or a dependency failed. The state is how the attempt counts for its run: a check that got its expected exit code succeeded; see docs/state-machine.md.';
COMMENT ON COLUMN step_runs.sql_state IS 'SQLSTATE of the error an SQL step raised, or the error kind Clockwork recorded for the attempt (e.g. handed_back_at_shutdown, on a lost attempt of any kind of step whose supervisor shut down cleanly: not a fault; see docs/sql-api.md, Error codes).';

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
COMMENT ON COLUMN jobs.name IS 'Job name, unique per owner (as in pg_cron): the SQL API takes it alone for the caller''s own job, or as owner/name.';

-- Alerts (docs/alerts.md): what is watched, channels, alerts, their deliveries, silences
-- and the sweep (as in 11_tables_alerts.sql).
------------------------------------------------------------------------------------
-- What is watched: defaults for every job, and the rules in force per job
------------------------------------------------------------------------------------
CREATE TABLE alert_defaults (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    settings    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) IN ('object', 'boolean')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  name        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE alert_defaults IS 'One row: the alert conditions every job is watched for unless its own alerts section says otherwise (set_alert_defaults).';
COMMENT ON COLUMN alert_defaults.id IS 'Always true: the table has one row.';
COMMENT ON COLUMN alert_defaults.settings IS 'The defaults in the alerts format of a job definition (missed, long_running, failures, dead_man, recovery, to), as validated by the core.';
COMMENT ON COLUMN alert_defaults.updated_at IS 'When the defaults last changed.';
COMMENT ON COLUMN alert_defaults.updated_by IS 'Who changed them last.';
INSERT INTO alert_defaults DEFAULT VALUES;

CREATE TABLE alert_rules (
    job_id         bigint      PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    missed         interval    CHECK (missed > interval '0'),
    long_running   interval    CHECK (long_running > interval '0'),
    failures       integer     CHECK (failures >= 1),
    dead_man       interval    CHECK (dead_man > interval '0'),
    recovery       boolean     NOT NULL DEFAULT false,
    channels       text[]      NOT NULL DEFAULT '{}',
    watched_since  timestamptz NOT NULL,
    CONSTRAINT alert_rules_watch_something
        CHECK (missed IS NOT NULL OR long_running IS NOT NULL OR failures IS NOT NULL OR dead_man IS NOT NULL OR recovery)
);
COMMENT ON TABLE alert_rules IS 'The alert conditions in force for each watched job: its alerts section over alert_defaults, kept by define_job and set_alert_defaults. Jobs watched for nothing have no row.';
COMMENT ON COLUMN alert_rules.job_id IS 'The job.';
COMMENT ON COLUMN alert_rules.missed IS 'A scheduled slot not started within this grace of its time, or skipped, opens a missed alert.';
COMMENT ON COLUMN alert_rules.long_running IS 'A run still running this long after it started opens a long_running alert (one per run).';
COMMENT ON COLUMN alert_rules.failures IS 'This many failed or timed-out runs in a row open a failures alert (cancelled runs do not count either way).';
COMMENT ON COLUMN alert_rules.dead_man IS 'No successful run within this period opens a dead_man alert.';
COMMENT ON COLUMN alert_rules.recovery IS 'The first successful run after a failed one records a recovery event.';
COMMENT ON COLUMN alert_rules.channels IS 'Alert channels each opening and resolution is delivered to (NOTIFY clockwork_alert always).';
COMMENT ON COLUMN alert_rules.watched_since IS 'Since when the job is watched (rules defined or job enabled): the dead-man period of a job that never succeeded counts from here.';

------------------------------------------------------------------------------------
-- Where alerts go
------------------------------------------------------------------------------------
CREATE TABLE alert_channels (
    name         text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    kind         text        NOT NULL CHECK (kind IN ('webhook', 'email', 'job')),
    target       jsonb       NOT NULL CHECK (jsonb_typeof(target) = 'object'),
    description  text,
    defined_by   name        NOT NULL DEFAULT current_user,
    defined_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE alert_channels IS 'Named places alerts are delivered to by the supervisors, defined by an administrator (define_alert_channel). Never a secret: a webhook names the supervisor environment variable holding its signing key.';
COMMENT ON COLUMN alert_channels.name IS 'Name used in alerts.to.';
COMMENT ON COLUMN alert_channels.kind IS 'webhook (HTTP POST of JSON, signed), email (SMTP, through the supervisor''s server) or job (a run of a job, the alert as its parameters).';
COMMENT ON COLUMN alert_channels.target IS 'Where, as validated by the core: webhook {url, secret_env, headers, timeout, retry}, email {to, cc, from, subject_prefix, retry}, job {job, retry}.';
COMMENT ON COLUMN alert_channels.description IS 'What the channel reaches, for people.';
COMMENT ON COLUMN alert_channels.defined_by IS 'Who defined it.';
COMMENT ON COLUMN alert_channels.defined_at IS 'When it was (re)defined.';

------------------------------------------------------------------------------------
-- Alerts: each condition once, open until it resolves
------------------------------------------------------------------------------------
CREATE TABLE alerts (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           bigint      REFERENCES jobs (id) ON DELETE CASCADE,
    condition        text        NOT NULL,
    key              text        NOT NULL DEFAULT '',
    state            text        NOT NULL DEFAULT 'open',
    severity         text        NOT NULL,
    message          text        NOT NULL,
    details          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    opened_at        timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    repeats          integer     NOT NULL DEFAULT 0 CHECK (repeats >= 0),
    resolved_at      timestamptz,
    resolution       text,
    acknowledged_at  timestamptz,
    acknowledged_by  name,
    acknowledgement  text,
    silenced         boolean     NOT NULL DEFAULT false,
    CONSTRAINT alerts_condition_check
        CHECK (condition IN ('missed', 'long_running', 'failures', 'dead_man', 'recovery', 'worker_lost', 'scheduler_down')),
    CONSTRAINT alerts_system_condition CHECK ((job_id IS NULL) = (condition IN ('worker_lost', 'scheduler_down'))),
    CONSTRAINT alerts_state_check CHECK (state IN ('open', 'acknowledged', 'resolved')),
    CONSTRAINT alerts_severity_check CHECK (severity IN ('critical', 'warning', 'info')),
    CONSTRAINT alerts_resolved_whole CHECK ((state = 'resolved') = (resolved_at IS NOT NULL) AND (resolved_at IS NULL) = (resolution IS NULL)),
    CONSTRAINT alerts_acknowledged_whole CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
    CONSTRAINT alerts_acknowledged_state CHECK (state <> 'acknowledged' OR acknowledged_at IS NOT NULL),
    CONSTRAINT alerts_times_ordered CHECK (last_seen_at >= opened_at AND (resolved_at IS NULL OR resolved_at >= opened_at))
);
COMMENT ON TABLE alerts IS 'One row per alert: a condition of a job (or of the scheduler) that opened, was perhaps acknowledged, and resolved. At most one is open per job, condition and key: a condition that holds on is counted in repeats, not raised again.';
COMMENT ON COLUMN alerts.id IS 'Alert id, in every notification and delivery about it.';
COMMENT ON COLUMN alerts.job_id IS 'The job, or NULL for an alert about the scheduler itself (worker_lost, scheduler_down).';
COMMENT ON COLUMN alerts.condition IS 'missed, long_running, failures, dead_man, recovery (an event), worker_lost (a supervisor stopped heartbeating), scheduler_down (an event: no supervisor was alive for a while).';
COMMENT ON COLUMN alerts.key IS 'What within the condition: the run id (long_running, recovery), the worker name (worker_lost), the outage start (scheduler_down), '''' for the job as a whole.';
COMMENT ON COLUMN alerts.state IS 'open → acknowledged (someone is on it) → resolved; events (recovery, scheduler_down) are recorded resolved.';
COMMENT ON COLUMN alerts.severity IS 'critical, warning or info, by condition (docs/alerts.md).';
COMMENT ON COLUMN alerts.message IS 'What happened, in one sentence.';
COMMENT ON COLUMN alerts.details IS 'The facts behind it as JSON (run id, slot, counts, limits).';
COMMENT ON COLUMN alerts.opened_at IS 'When the condition was found.';
COMMENT ON COLUMN alerts.last_seen_at IS 'When the condition was last found to hold (repeats update it).';
COMMENT ON COLUMN alerts.repeats IS 'How many more times the condition was found while the alert was open; not delivered again.';
COMMENT ON COLUMN alerts.resolved_at IS 'When it resolved.';
COMMENT ON COLUMN alerts.resolution IS 'Why it resolved: the run that succeeded, the worker that came back, resolve_alert''s note.';
COMMENT ON COLUMN alerts.acknowledged_at IS 'When someone acknowledged it (acknowledge_alert).';
COMMENT ON COLUMN alerts.acknowledged_by IS 'Who acknowledged it.';
COMMENT ON COLUMN alerts.acknowledgement IS 'The note given with the acknowledgement.';
COMMENT ON COLUMN alerts.silenced IS 'Opened while its job was silenced (silence_job): recorded, but neither notified nor delivered.';

-- One open alert per job, condition and key: the repeat suppression is this index.
CREATE UNIQUE INDEX alerts_open_key ON alerts ((coalesce(job_id, 0)), condition, key) WHERE state IN ('open', 'acknowledged');
-- A job's alerts, newest first (console, alert_history by job).
CREATE INDEX alerts_job_idx ON alerts (job_id, id DESC);
-- Open alerts, oldest first (scheduler_health, the console's list).
CREATE INDEX alerts_open_idx ON alerts (opened_at) WHERE state IN ('open', 'acknowledged');

------------------------------------------------------------------------------------
-- Deliveries: one per alert event and channel, claimed by supervisors like steps
------------------------------------------------------------------------------------
CREATE TABLE alert_deliveries (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id          bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event             text        NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel           text        NOT NULL,
    state             text        NOT NULL DEFAULT 'pending',
    attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz,
    worker_id         bigint      REFERENCES workers (id) ON DELETE SET NULL,
    lease_expires_at  timestamptz,
    last_error        text,
    response          text,
    created_at        timestamptz NOT NULL,
    delivered_at      timestamptz,
    CONSTRAINT alert_deliveries_once UNIQUE (alert_id, event, channel),
    CONSTRAINT alert_deliveries_state_check CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    CONSTRAINT alert_deliveries_pending_has_time CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    CONSTRAINT alert_deliveries_sending_has_lease CHECK ((state = 'sending') = (lease_expires_at IS NOT NULL)),
    CONSTRAINT alert_deliveries_delivered_has_time CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
COMMENT ON TABLE alert_deliveries IS 'One row per event of an alert (opened, resolved) and channel. Supervisors claim due rows (SKIP LOCKED, with a lease), send, and report; a failure is retried with back-off and stays visible here.';
COMMENT ON COLUMN alert_deliveries.id IS 'Delivery id; sent as the Clockwork-Delivery header (webhooks) so a receiver can drop a repeat.';
COMMENT ON COLUMN alert_deliveries.alert_id IS 'The alert.';
COMMENT ON COLUMN alert_deliveries.event IS 'opened (or an event recorded), or resolved.';
COMMENT ON COLUMN alert_deliveries.channel IS 'The channel name (no foreign key: a channel dropped later leaves its history).';
COMMENT ON COLUMN alert_deliveries.state IS 'pending (due at next_attempt_at) → sending (a supervisor holds it until lease_expires_at) → delivered | pending again (failed attempt, retried) | failed (attempts exhausted).';
COMMENT ON COLUMN alert_deliveries.attempts IS 'Attempts started so far.';
COMMENT ON COLUMN alert_deliveries.next_attempt_at IS 'When the next attempt is due; set only while pending.';
COMMENT ON COLUMN alert_deliveries.worker_id IS 'The supervisor that holds (or last held) it.';
COMMENT ON COLUMN alert_deliveries.lease_expires_at IS 'While sending: the claim ends here, after which another supervisor may take it (so a delivery can be made twice, never lost).';
COMMENT ON COLUMN alert_deliveries.last_error IS 'Why the last attempt failed (HTTP status, SMTP reply, connection error).';
COMMENT ON COLUMN alert_deliveries.response IS 'What the receiver answered on success: HTTP status, SMTP reply, the run id started.';
COMMENT ON COLUMN alert_deliveries.created_at IS 'When the event happened.';
COMMENT ON COLUMN alert_deliveries.delivered_at IS 'When it was delivered.';

-- Claims: due pending deliveries in order, and sending ones whose lease ended.
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX alert_deliveries_lease_idx ON alert_deliveries (lease_expires_at) WHERE state = 'sending';
CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id);

------------------------------------------------------------------------------------
-- Silences: a job's alerts recorded but not delivered for a while
------------------------------------------------------------------------------------
CREATE TABLE alert_silences (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    note        text        NOT NULL CHECK (btrim(note) <> ''),
    created_by  name        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_silences_ordered CHECK (ends_at > starts_at)
);
COMMENT ON TABLE alert_silences IS 'Periods in which a job''s alerts are recorded (silenced = true) but neither notified nor delivered (silence_job).';
COMMENT ON COLUMN alert_silences.id IS 'Silence id.';
COMMENT ON COLUMN alert_silences.job_id IS 'The silenced job.';
COMMENT ON COLUMN alert_silences.starts_at IS 'Start of the silence.';
COMMENT ON COLUMN alert_silences.ends_at IS 'End of the silence (unsilence_job ends it early).';
COMMENT ON COLUMN alert_silences.note IS 'Why (a maintenance window, a known outage); required.';
COMMENT ON COLUMN alert_silences.created_by IS 'Who silenced the job.';
COMMENT ON COLUMN alert_silences.created_at IS 'When.';
CREATE INDEX alert_silences_job_idx ON alert_silences (job_id, ends_at);

-- When tick last swept the time-based conditions (one row; tick sweeps at most every few seconds).
CREATE TABLE alert_sweeps (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    swept_at   timestamptz NOT NULL DEFAULT '-infinity'
);
COMMENT ON TABLE alert_sweeps IS 'One row: when a tick last checked the time-based alert conditions (late slots, long runs, dead-man, lost workers).';
COMMENT ON COLUMN alert_sweeps.id IS 'Always true: the table has one row.';
COMMENT ON COLUMN alert_sweeps.swept_at IS 'The now of the last sweep.';
INSERT INTO alert_sweeps DEFAULT VALUES;

-- A job's last success (the dead-man sweep, per watched job).
CREATE INDEX runs_job_succeeded_idx ON runs (job_id, finished_at) WHERE state = 'succeeded';

-- register_worker's lock: a table of its own, which no job owner can lock (an advisory
-- lock any role could take and hold).
CREATE TABLE scheduler_start_lock ();
COMMENT ON TABLE scheduler_start_lock IS 'Empty; register_worker locks it so that two supervisors starting at once agree on one scheduler start (@reboot).';

-- Which roles' jobs may name which supervisor secrets (12_tables_secrets.sql).
CREATE TABLE secret_grants (
    secret      text        NOT NULL CHECK (secret ~ '^CLOCKWORK_SECRET_[A-Z0-9_]+$'),
    grantee     name        NOT NULL,
    granted_by  name        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (secret, grantee)
);
COMMENT ON TABLE secret_grants IS 'Which roles'' jobs may name a CLOCKWORK_SECRET_* variable of the supervisors in a built-in step (grant_secret, revoke_secret). Names only: values never enter the database. Superusers and members of clockwork_admin may name any.';
COMMENT ON COLUMN secret_grants.secret IS 'The environment variable''s name (CLOCKWORK_SECRET_…).';
COMMENT ON COLUMN secret_grants.grantee IS 'A role whose members'' jobs may name the secret, or public for every role.';
COMMENT ON COLUMN secret_grants.granted_by IS 'The administrator who granted it.';
COMMENT ON COLUMN secret_grants.granted_at IS 'When.';
-- Which secrets a job owner may name (the primary key serves lookups by secret).
CREATE INDEX secret_grants_grantee_idx ON secret_grants (grantee);

-- Worker incarnations (docs/faults.md, "Workers"): every start of a supervisor is a row of
-- its own, even under the same name, with the session that proves it alive; one current
-- incarnation per name. 1.0's rows are its incarnations: running ones stay current and
-- (having no session recorded) count as alive while they heartbeat.
ALTER TABLE workers ADD COLUMN session_pid integer;
ALTER TABLE workers ADD COLUMN session_started_at timestamptz;
ALTER TABLE workers ADD COLUMN session_server_start timestamptz;
ALTER TABLE workers ADD CONSTRAINT workers_session_whole
    CHECK ((session_pid IS NULL) = (session_started_at IS NULL) AND (session_pid IS NULL) = (session_server_start IS NULL));
ALTER TABLE workers ADD COLUMN ended_by text;
ALTER TABLE workers ADD CONSTRAINT workers_ended_by_check CHECK (ended_by IN ('release', 'gone', 'lapsed', 'replaced'));
ALTER TABLE workers ADD CONSTRAINT workers_ended_by_ended CHECK (ended_by IS NULL OR stopped_at IS NOT NULL);
COMMENT ON COLUMN workers.ended_by IS 'How the incarnation ended: release (a clean shutdown), gone (its session ended), lapsed (no heartbeat for a lease), replaced (found gone when a new incarnation of its name registered); NULL while current (and for rows ended by 1.0).';
ALTER TABLE workers DROP CONSTRAINT workers_name_key;
CREATE UNIQUE INDEX workers_name_key ON workers (name) WHERE stopped_at IS NULL;
COMMENT ON TABLE workers IS 'Supervisors known to this database, one row per incarnation: every start of a supervisor is a new row, even under the same name, and a step run''s lease names the incarnation that holds it. Ended incarnations are deleted once none of their leases is left to settle.';
COMMENT ON COLUMN workers.id IS 'Incarnation id: the supervisor passes it with every call, so a process that a newer incarnation replaced can neither extend nor report anything.';
COMMENT ON COLUMN workers.name IS 'Worker name; at most one current (not stopped) incarnation per name: a second live supervisor with the same name is refused.';
COMMENT ON COLUMN workers.started_at IS 'When this incarnation registered.';
COMMENT ON COLUMN workers.heartbeat_at IS 'Last sign of life (heartbeat, tick, re-attach).';
COMMENT ON COLUMN workers.stopped_at IS 'When the incarnation ended: it shut down cleanly (release_worker), or it was found gone (its session ended, or its heartbeat lapsed) and its leases were taken back; NULL while current.';
COMMENT ON COLUMN workers.session_pid IS 'Backend pid of the session the supervisor registered (or re-attached) on and keeps open (its LISTEN connection): while that session exists the supervisor is alive; when it ends while the server runs, the process is gone. NULL for a worker registered by hand (register_worker), whose liveness is its heartbeat.';
COMMENT ON COLUMN workers.session_started_at IS 'backend_start of that session, so that a later backend with the same pid is not taken for it.';
COMMENT ON COLUMN workers.session_server_start IS 'pg_postmaster_start_time() when the session was recorded: a session of an earlier server life (a restart, a failover) says nothing about the supervisor, which is then alive while it heartbeats.';

-- Ended incarnations are deleted once settled, so a step run keeps its worker's name for
-- history and its worker_id is no longer a foreign key.
ALTER TABLE step_runs DROP CONSTRAINT step_runs_worker_id_fkey;
ALTER TABLE step_runs ADD COLUMN worker_name text;
UPDATE step_runs AS s SET worker_name = w.name FROM workers AS w WHERE w.id = s.worker_id;
COMMENT ON COLUMN step_runs.worker_id IS 'Worker incarnation holding (or that last held) the lease. No foreign key: ended incarnations are deleted once their leases are settled, and history keeps worker_name.';
COMMENT ON COLUMN step_runs.worker_name IS 'Name of the worker that claimed this attempt, for history.';

-- Bounded history: a job's retention, and dropped jobs kept for their history, whose
-- names are free again (the unique key becomes a partial index).
ALTER TABLE jobs ADD COLUMN retention jsonb NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN dropped_at timestamptz;
ALTER TABLE jobs ADD CONSTRAINT jobs_retention_shape CHECK (jsonb_typeof(retention) = 'object'
    AND retention - ARRAY['max_age_ms', 'max_runs', 'keep'] = '{}'::jsonb
    AND coalesce(retention->>'keep', 'all') IN ('all', 'failures'));
ALTER TABLE jobs ADD CONSTRAINT jobs_dropped_disabled CHECK (dropped_at IS NULL OR NOT enabled);
COMMENT ON COLUMN jobs.retention IS 'The job''s policies.retention as the pruner reads it: max_age_ms, max_runs (null: no limit) and keep (all | failures); a key left out takes clockwork.history_retention''s default. Written by define_job.';
COMMENT ON COLUMN jobs.dropped_at IS 'When the job was dropped with its history kept (drop_job): it fires nothing, its name is free for a new job, and its runs stay in run_history until the retention policy prunes them; the row goes with its last run.';
CREATE UNIQUE INDEX jobs_owner_name_key ON jobs (owner, name) WHERE dropped_at IS NULL;
COMMENT ON INDEX jobs_owner_name_key IS 'Job names are unique per owner among jobs not dropped (as in pg_cron).';
CREATE INDEX jobs_dropped_idx ON jobs (dropped_at) WHERE dropped_at IS NOT NULL;

-- A job's last ended run, kept by the run lifecycle from now on; from its history here.
ALTER TABLE jobs ADD COLUMN last_run_id bigint;
ALTER TABLE jobs ADD COLUMN last_run_state text;
ALTER TABLE jobs ADD COLUMN last_run_finished_at timestamptz;
ALTER TABLE jobs ADD CONSTRAINT jobs_last_run_whole CHECK ((last_run_id IS NULL) = (last_run_state IS NULL)
    AND (last_run_state IS NULL) = (last_run_finished_at IS NULL));
ALTER TABLE jobs ADD CONSTRAINT jobs_last_run_state_check CHECK (last_run_state IN ('succeeded', 'failed', 'timed_out', 'cancelled'));
COMMENT ON COLUMN jobs.last_run_id IS 'The job''s latest run (by id) that has ended, set by the run lifecycle when a run ends; kept when that run is pruned.';
COMMENT ON COLUMN jobs.last_run_state IS 'Its final state: whether the job is failing is this one column (the console''s failing filter), however long the history.';
COMMENT ON COLUMN jobs.last_run_finished_at IS 'When it ended.';
UPDATE jobs AS j
   SET last_run_id = r.id, last_run_state = r.state, last_run_finished_at = r.finished_at
  FROM (SELECT DISTINCT ON (job_id) job_id, id, state, finished_at
          FROM runs WHERE finished_at IS NOT NULL ORDER BY job_id, id DESC) AS r
 WHERE r.job_id = j.id;

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


-- Whole-run transactions (transaction: run): the open transaction of a run, pinned to the
-- worker incarnation that claimed its first SQL step (docs/sql-steps.md).
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

-- Concurrency groups (issue 16): a named limit that runs of several jobs share, and each
-- run's group, priority and what a waiting run waits for (runs waiting in 1.0 wait for
-- their job's overlap policy).
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

ALTER TABLE runs ADD COLUMN concurrency_group text;
ALTER TABLE runs ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN waiting_for text;
UPDATE runs SET waiting_for = 'overlap' WHERE state = 'waiting';
ALTER TABLE runs ADD CONSTRAINT runs_waiting_for_check CHECK (waiting_for IN ('overlap', 'group'));
ALTER TABLE runs ADD CONSTRAINT runs_waiting_for_whole CHECK ((state = 'waiting') = (waiting_for IS NOT NULL));
ALTER TABLE runs ADD CONSTRAINT runs_waiting_for_group CHECK (waiting_for <> 'group' OR concurrency_group IS NOT NULL);
COMMENT ON COLUMN runs.concurrency_group IS 'The concurrency group whose limit the run counts against while queued or running (its job version''s policies.group), or NULL.';
COMMENT ON COLUMN runs.priority IS 'Its job version''s policies.priority: when its group is full, waiting runs start highest priority first, then oldest first.';
COMMENT ON COLUMN runs.waiting_for IS 'While waiting: overlap (its job''s overlap policy holds it back) or group (its concurrency group is full); NULL otherwise.';
CREATE INDEX runs_group_active_idx ON runs (concurrency_group) WHERE state IN ('queued', 'running') AND concurrency_group IS NOT NULL;
CREATE INDEX runs_group_waiting_idx ON runs (concurrency_group, priority DESC, id) WHERE waiting_for = 'group';
-- Runs held back by their overlap policy: whether any waits is one probe when a run ends.
-- Said through waiting_for (state = 'waiting' by runs_waiting_for_whole) so that the probe
-- matches no other partial index (see 10_tables.sql).
CREATE INDEX runs_waiting_idx ON runs (job_id, id) WHERE waiting_for IS NOT NULL;
COMMENT ON INDEX runs_waiting_idx IS 'Runs held back by the overlap policy, per job, oldest first: admitting them when a run ends (extension/src/db/lifecycle.ts).';

-- Priorities when a supervisor is full (issue 16): ready steps carry their run's priority
-- and are claimed highest priority first, then oldest. Runs of 1.0 have priority 0, as
-- the column's default gives their steps.
ALTER TABLE step_runs ADD COLUMN priority integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN step_runs.priority IS 'Its run''s priority (policies.priority), carried here so that the claim takes ready steps highest priority first, then oldest, from one index (step_runs_claim_idx).';
CREATE INDEX step_runs_claim_idx ON step_runs (priority DESC, ready_at, id) WHERE state = 'ready';
COMMENT ON INDEX step_runs_claim_idx IS 'Ready steps in the order a worker claims them: highest priority first, then oldest (claimReadySteps in extension/src/db/statements.ts).';
COMMENT ON INDEX step_runs_ready_idx IS 'Ready steps by due time: when a worker next has a step to claim (nextDueAt in extension/src/db/statements.ts).';

-- A step run's invariants in one CHECK that calls one PL/pgSQL function, instead of ten
-- CHECK expressions that PostgreSQL read and planned again for every statement writing
-- the table (see 10_tables.sql). The same invariants, under the same names.
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
ALTER TABLE step_runs
    DROP CONSTRAINT step_runs_phase_check,
    DROP CONSTRAINT step_runs_kind_check,
    DROP CONSTRAINT step_runs_attempt_check,
    DROP CONSTRAINT step_runs_state_check,
    DROP CONSTRAINT step_runs_ready_has_time,
    DROP CONSTRAINT step_runs_running_has_lease,
    DROP CONSTRAINT step_runs_finished_state,
    DROP CONSTRAINT step_runs_sql_state_format,
    DROP CONSTRAINT step_runs_claim_hash_size,
    DROP CONSTRAINT step_runs_awaiting_report_finished,
    ADD CONSTRAINT step_runs_invariants
        CHECK (_step_run_invariants(phase, kind, attempt, state, ready_at, lease_expires_at, finished_at, sql_state,
                                    claim_hash, awaiting_report));
COMMENT ON CONSTRAINT step_runs_invariants ON step_runs IS 'Every invariant of a step run, named one by one in _step_run_invariants (one CHECK: PostgreSQL prepares each CHECK again for every statement that writes the table).';

-- A run's invariants likewise: one CHECK calling _run_invariants instead of fourteen.
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
ALTER TABLE runs
    DROP CONSTRAINT runs_params_check,
    DROP CONSTRAINT runs_trigger_check,
    DROP CONSTRAINT runs_state_check,
    DROP CONSTRAINT runs_scheduled_has_slot,
    DROP CONSTRAINT runs_finished_state,
    DROP CONSTRAINT runs_queued_has_time,
    DROP CONSTRAINT runs_waiting_not_queued,
    DROP CONSTRAINT runs_times_ordered,
    DROP CONSTRAINT runs_finished_no_wake,
    DROP CONSTRAINT runs_cancel_mode_check,
    DROP CONSTRAINT runs_cancel_request_whole,
    DROP CONSTRAINT runs_waiting_for_check,
    DROP CONSTRAINT runs_waiting_for_whole,
    DROP CONSTRAINT runs_waiting_for_group,
    ADD CONSTRAINT runs_invariants
        CHECK (_run_invariants(trigger, state, params, slot_at, queued_at, started_at, finished_at, wake_at,
                               cancel_requested_at, cancel_mode, waiting_for, concurrency_group));
COMMENT ON CONSTRAINT runs_invariants ON runs IS 'Every invariant of a run, named one by one in _run_invariants (one CHECK: PostgreSQL prepares each CHECK again for every statement that writes the table).';

-- step_runs_run_idx (run_id alone) duplicated the first column of step_runs_attempt_key,
-- which serves every read of a run's step runs, and cost one more index entry on each
-- insert and non-HOT update of a step run (see 10_tables.sql). IF EXISTS: an install of
-- 1.0 made without it (by hand, or a DBA who dropped it) upgrades as well.
DROP INDEX IF EXISTS step_runs_run_idx;
COMMENT ON INDEX step_runs_attempt_key IS 'One row per attempt of a step instance of a run; also how a run''s step runs are found (its first column is run_id: stepRunsOfRuns, cancelRunningInstances, expireLeasesOfRun, … in extension/src/db/statements.ts, and the cascade from runs).';
