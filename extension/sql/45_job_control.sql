-- Clockwork install script, part 4b: job and run control that needs no scheduling rule.

CREATE FUNCTION _job_for_caller(job text) RETURNS jobs
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    found jobs;
BEGIN
    SELECT * INTO found FROM jobs WHERE name = job;
    -- Someone else's job is reported as missing: its existence is not the caller's business.
    IF found.id IS NULL OR NOT _may_manage(found.owner) THEN
        RAISE EXCEPTION 'job "%" does not exist', job
            USING ERRCODE = @sqlstate:not_found@, HINT = 'See clockwork.job_status for the jobs you own.';
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _job_for_caller(text) IS 'The job with this name if the caller may manage it; raises not_found otherwise.';

CREATE FUNCTION drop_job(job text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target jobs := _job_for_caller(job);
BEGIN
    -- Running steps are cancelled first so supervisors stop them.
    PERFORM cancel_run(r.id) FROM runs AS r WHERE r.job_id = target.id AND r.state IN ('waiting', 'queued', 'running');
    DELETE FROM jobs WHERE id = target.id;
    PERFORM pg_notify('clockwork_wakeup', 'dropped');
    RETURN true;
END
$$;
COMMENT ON FUNCTION drop_job(text) IS 'Drops a job with its schedules and history; its active runs are cancelled first.';

CREATE FUNCTION disable_job(job text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target jobs := _job_for_caller(job);
BEGIN
    UPDATE jobs SET enabled = false, updated_at = now() WHERE id = target.id;
    -- No next slot while disabled; enable_job computes one from the time it is enabled.
    UPDATE schedules SET next_fire_at = NULL WHERE job_id = target.id;
    RETURN target.enabled;
END
$$;
COMMENT ON FUNCTION disable_job(text) IS 'Stops a job from firing (runs in progress continue); returns whether it was enabled.';

CREATE FUNCTION cancel_run(run bigint, now timestamptz DEFAULT now()) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog
AS $$
DECLARE
    target     runs;
    job_owner  name;
    running    text[];
BEGIN
    SELECT r.* INTO target FROM runs AS r WHERE r.id = cancel_run.run FOR UPDATE;
    SELECT j.owner INTO job_owner FROM jobs AS j WHERE j.id = target.job_id;
    IF target.id IS NULL OR NOT (_may_manage(job_owner) OR (_caller_rights() ->> 'is_supervisor')::boolean) THEN
        RAISE EXCEPTION 'run % does not exist', cancel_run.run
            USING ERRCODE = @sqlstate:not_found@, HINT = 'See clockwork.run_history for your runs.';
    END IF;
    IF target.state NOT IN ('waiting', 'queued', 'running') THEN
        RETURN false;
    END IF;
    SELECT coalesce(array_agg(s.id::text ORDER BY s.id) FILTER (WHERE s.state = 'running'), '{}')
      INTO running
      FROM step_runs AS s WHERE s.run_id = target.id AND s.state IN ('ready', 'running');
    UPDATE step_runs
       SET state = 'cancelled', ready_at = NULL, finished_at = cancel_run.now,
           error = coalesce(error, 'run cancelled')
     WHERE run_id = target.id AND state IN ('ready', 'running');
    UPDATE runs
       SET state = 'cancelled', finished_at = greatest(cancel_run.now, started_at), wake_at = NULL,
           reason = 'cancelled by ' || _caller()
     WHERE id = target.id;
    IF cardinality(running) > 0 THEN
        PERFORM pg_notify('clockwork_cancel', to_jsonb(running)::text);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION cancel_run(bigint, timestamptz) IS
    'Cancels a queued or running run: its ready steps are dropped, running ones are stopped by their supervisors (NOTIFY clockwork_cancel).';
