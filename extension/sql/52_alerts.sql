-- Clockwork install script, part 5b: alerts (docs/alerts.md); their tables are in 11_tables_alerts.sql.
-- The scheduler itself decides when an alert opens and resolves (extension/src/core/alerts.ts,
-- applied by extension/src/db/alerts.ts): at a run's end, when tick skips a slot, and in a
-- sweep that tick makes every few seconds. Supervisors only deliver what is decided here.
------------------------------------------------------------------------------------
-- Silencing and acknowledging (plain SQL: they decide nothing, they record a person's word)
------------------------------------------------------------------------------------
CREATE FUNCTION _is_admin() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog
AS $$
    SELECT r.rolsuper OR pg_has_role(r.oid, 'clockwork_admin', 'MEMBER')
      FROM pg_roles AS r WHERE r.rolname = _caller()
$$;
COMMENT ON FUNCTION _is_admin() IS 'Whether the calling role may set alert defaults, define channels and manage every alert (superuser or clockwork_admin).';

CREATE FUNCTION silence_job(job text, duration interval, note text, now timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target jobs;
    silence_id bigint;
BEGIN
    target := _job_for_caller(silence_job.job);
    IF silence_job.duration IS NULL OR silence_job.duration <= interval '0' OR silence_job.duration > interval '366 days' THEN
        RAISE EXCEPTION 'duration must be more than 0 and at most 366 days, not %', coalesce(silence_job.duration::text, 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Silence a job for a period such as interval ''2 hours''.';
    END IF;
    IF silence_job.note IS NULL OR btrim(silence_job.note) = '' THEN
        RAISE EXCEPTION 'a silence needs a note saying why'
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'For example: ''database migration, back at 14:00''.';
    END IF;
    INSERT INTO alert_silences (job_id, starts_at, ends_at, note, created_by, created_at)
    VALUES (target.id, silence_job.now, silence_job.now + silence_job.duration, silence_job.note, _caller(), silence_job.now)
    RETURNING id INTO silence_id;
    RETURN silence_id;
END
$$;
COMMENT ON FUNCTION silence_job(text, interval, text, timestamptz) IS
    'Silences a job''s alerts for a period, with a note: alerts are still recorded (silenced) but not notified or delivered. Returns the silence id.';

CREATE FUNCTION unsilence_job(job text, now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target jobs;
    ended integer;
BEGIN
    target := _job_for_caller(unsilence_job.job);
    UPDATE alert_silences SET ends_at = greatest(unsilence_job.now, starts_at + interval '1 microsecond')
     WHERE job_id = target.id AND ends_at > unsilence_job.now;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN ended;
END
$$;
COMMENT ON FUNCTION unsilence_job(text, timestamptz) IS 'Ends a job''s silences now; returns how many were in force or planned.';

CREATE FUNCTION _alert_for_caller(alert bigint) RETURNS alerts
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    found alerts;
    owner name;
BEGIN
    SELECT * INTO found FROM alerts WHERE id = alert;
    IF found.id IS NOT NULL AND NOT _is_admin() THEN
        SELECT j.owner INTO owner FROM jobs AS j WHERE j.id = found.job_id;
        IF owner IS NULL OR NOT _may_manage(owner) THEN
            found := NULL;
        END IF;
    END IF;
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'alert % does not exist', alert
            USING ERRCODE = @sqlstate:not_found@, HINT = 'See clockwork.alert_history for the alerts you may see.';
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _alert_for_caller(bigint) IS 'The alert if the caller owns its job or is an administrator; raises not_found otherwise.';

CREATE FUNCTION acknowledge_alert(alert bigint, note text DEFAULT NULL, now timestamptz DEFAULT now()) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target alerts;
BEGIN
    target := _alert_for_caller(acknowledge_alert.alert);
    UPDATE alerts
       SET state = 'acknowledged', acknowledged_at = acknowledge_alert.now, acknowledged_by = _caller(),
           acknowledgement = acknowledge_alert.note
     WHERE id = target.id AND state = 'open';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION acknowledge_alert(bigint, text, timestamptz) IS
    'Marks an open alert acknowledged (someone is on it), with who, when and a note; it stays until its condition resolves. Returns false when it was not open.';

------------------------------------------------------------------------------------
-- Reading alerts, and the scheduler's health for monitors outside it
------------------------------------------------------------------------------------
CREATE VIEW alert_history WITH (security_invoker = true) AS
SELECT a.id                AS alert_id,
       j.name              AS job,
       a.condition,
       a.key,
       a.state,
       a.severity,
       a.message,
       a.details,
       a.opened_at,
       a.last_seen_at,
       a.repeats,
       a.resolved_at,
       a.resolution,
       a.acknowledged_at,
       a.acknowledged_by,
       a.acknowledgement,
       a.silenced,
       d.delivered,
       d.pending,
       d.failed,
       a.job_id,
       j.owner
  FROM alerts AS a
  LEFT JOIN jobs AS j ON j.id = a.job_id
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.state = 'delivered')              AS delivered,
               count(*) FILTER (WHERE x.state IN ('pending', 'sending')) AS pending,
               count(*) FILTER (WHERE x.state = 'failed')                 AS failed
          FROM alert_deliveries AS x WHERE x.alert_id = a.id
       ) AS d ON true;
COMMENT ON VIEW alert_history IS 'One row per alert you may see (your jobs''; the scheduler''s own to supervisors and administrators), with how its deliveries went.';

CREATE VIEW alert_delivery_history WITH (security_invoker = true) AS
SELECT x.id               AS delivery_id,
       x.alert_id,
       j.name             AS job,
       a.condition,
       x.event,
       x.channel,
       c.kind,
       x.state,
       x.attempts,
       x.next_attempt_at,
       w.name             AS worker,
       x.last_error,
       x.response,
       x.created_at,
       x.delivered_at
  FROM alert_deliveries AS x
  JOIN alerts AS a ON a.id = x.alert_id
  LEFT JOIN jobs AS j ON j.id = a.job_id
  LEFT JOIN alert_channels AS c ON c.name = x.channel
  LEFT JOIN workers AS w ON w.id = x.worker_id;
COMMENT ON VIEW alert_delivery_history IS 'One row per delivery of an alert event to a channel you may see: its state, attempts, last error and the receiver''s answer.';

-- Deliberately not security_invoker: a monitoring role with no rights on any job still
-- gets the scheduler-wide facts (counts, no job names).
CREATE VIEW scheduler_health AS
SELECT CASE
         WHEN h.workers_alive = 0 AND h.scheduled_jobs > 0 THEN 'down'
         WHEN h.overdue_schedules > 0 OR h.critical_alerts > 0 OR h.failed_deliveries > 0 THEN 'degraded'
         ELSE 'ok'
       END AS status,
       h.*
  FROM (
    SELECT (SELECT count(*) FROM workers
             WHERE NOT dedicated AND stopped_at IS NULL AND heartbeat_at > now() - lease_duration())::integer
                                                                                    AS workers_alive,
           (SELECT max(heartbeat_at) FROM workers WHERE NOT dedicated)              AS last_heartbeat_at,
           (SELECT count(DISTINCT s.job_id) FROM schedules AS s JOIN jobs AS j ON j.id = s.job_id
             WHERE j.enabled AND s.next_fire_at IS NOT NULL)::integer               AS scheduled_jobs,
           (SELECT count(*) FROM schedules
             WHERE next_fire_at < now() - interval '1 minute')::integer             AS overdue_schedules,
           (SELECT min(next_fire_at) FROM schedules)                                 AS next_fire_at,
           (SELECT count(*) FROM alerts WHERE state IN ('open', 'acknowledged'))::integer
                                                                                    AS open_alerts,
           (SELECT count(*) FROM alerts
             WHERE state = 'open' AND severity = 'critical')::integer               AS critical_alerts,
           (SELECT count(*) FROM alert_deliveries WHERE state IN ('pending', 'sending'))::integer
                                                                                    AS pending_deliveries,
           (SELECT count(*) FROM alert_deliveries
             WHERE state = 'failed' AND created_at > now() - interval '24 hours')::integer
                                                                                    AS failed_deliveries,
           (SELECT swept_at FROM alert_sweeps)                                       AS last_alert_sweep_at
  ) AS h;
COMMENT ON VIEW scheduler_health IS 'One row for monitors outside Clockwork (check_postgres, a Prometheus SQL exporter, Nagios): status down (no supervisor alive while jobs are scheduled), degraded (slots overdue by over a minute, unacknowledged critical alerts, deliveries that failed in the last day) or ok, with the counts behind it. Readable by every role; docs/alerts.md.';

CREATE FUNCTION health() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = clockwork, pg_catalog
AS $$ SELECT to_jsonb(h) FROM scheduler_health AS h $$;
COMMENT ON FUNCTION health() IS 'scheduler_health as one JSON object: {"status": "ok" | "degraded" | "down", workers_alive, overdue_schedules, …}.';
