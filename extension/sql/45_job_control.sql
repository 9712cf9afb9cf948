-- Clockwork install script, part 4b: finding a job for the caller. Everything that changes
-- a job's runs (cancel_run, disable_job, drop_job, …) is in the run lifecycle
-- (extension/src/db/lifecycle.ts), so that a run ends in one place.

CREATE FUNCTION _job_for_caller(job text) RETURNS jobs
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
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
