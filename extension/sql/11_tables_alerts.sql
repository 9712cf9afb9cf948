-- Clockwork install script, part 1b: the tables of alerts (docs/alerts.md); their functions
-- and views are in 52_alerts.sql. A schema file: installed once, changed only by the
-- hand-written upgrade files (extension/sql/upgrade/).

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
