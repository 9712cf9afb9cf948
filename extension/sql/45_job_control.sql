-- Clockwork install script, part 4b: finding a job for the caller. Everything that changes
-- a job's runs (cancel_run, disable_job, drop_job, …) is in the run lifecycle
-- (extension/src/db/lifecycle.ts), so that a run ends in one place.

CREATE FUNCTION _job_for_caller(job text) RETURNS jobs
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
-- A job name belongs to its owner (as in pg_cron). `name` is the caller's own job, or else
-- the one job of that name among the roles the caller may act for; `owner/name` names
-- the owner (job names cannot contain '/', role names may: the owner is everything
-- before the last '/'). A dropped job (kept for its history) is not found: its name is free.
DECLARE
    found    jobs;
    slash    integer := length(job) - strpos(reverse(job), '/') + 1;
    matches  text[];
BEGIN
    IF strpos(job, '/') > 0 THEN
        SELECT * INTO found FROM jobs AS j
         WHERE j.owner = left(job, slash - 1) AND j.name = substr(job, slash + 1) AND j.dropped_at IS NULL;
    ELSE
        SELECT * INTO found FROM jobs AS j WHERE j.owner = _caller() AND j.name = job AND j.dropped_at IS NULL;
        IF found.id IS NULL THEN
            SELECT array_agg(quote_ident(j.owner) || '/' || j.name ORDER BY j.owner) INTO matches
              FROM jobs AS j WHERE j.name = job AND j.dropped_at IS NULL AND _may_manage(j.owner);
            IF cardinality(matches) > 1 THEN
                RAISE EXCEPTION 'job name "%" is ambiguous: %', job, array_to_string(matches, ', ')
                    USING ERRCODE = @sqlstate:ambiguous_job@, HINT = @hint:ambiguous_job@;
            END IF;
            SELECT * INTO found FROM jobs AS j WHERE j.name = job AND j.dropped_at IS NULL AND _may_manage(j.owner);
        END IF;
    END IF;
    -- Someone else's job is reported as missing: its existence is not the caller's business.
    IF found.id IS NULL OR NOT _may_manage(found.owner) THEN
        RAISE EXCEPTION 'job "%" does not exist', job
            USING ERRCODE = @sqlstate:not_found@, HINT = 'See clockwork.job_status for the jobs you own.';
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _job_for_caller(text) IS 'The job named `name` (the caller''s own, else the one the caller may manage) or `owner/name`; raises not_found, or ambiguous_job when several roles the caller may act for have that name.';
