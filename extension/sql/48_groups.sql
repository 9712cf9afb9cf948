-- Clockwork install script, part 4d: concurrency groups, a named limit that runs of several
-- jobs share (policies.group): 1 runs them one at a time (pg_timetable's
-- exclusive_execution, Oracle's incompatibilities), n is a pool of n slots (Airflow's
-- pools). Any role may define its own; using another's needs a grant from its owner (or a
-- superuser), as for calendars and connections. Runs are let into a group by the
-- scheduler (db/groups.ts, under the group's row lock); these functions only define it.

CREATE FUNCTION _group_for_caller(concurrency_group text, manage boolean) RETURNS concurrency_groups
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    found concurrency_groups;
BEGIN
    SELECT * INTO found FROM concurrency_groups AS g WHERE g.name = concurrency_group;
    -- Someone else's group, not granted: its existence is not the caller's business.
    IF found.name IS NULL OR NOT _may_use(found.owner, found.granted_to, _caller()) THEN
        RAISE EXCEPTION 'concurrency group "%" does not exist', concurrency_group
            USING ERRCODE = @sqlstate:unknown_group@, HINT = @hint:unknown_group@;
    END IF;
    IF manage AND NOT (_may_manage(found.owner) OR (_caller_rights() ->> 'superuser')::boolean) THEN
        RAISE EXCEPTION 'concurrency group "%" belongs to %: only its owner (or a superuser) may change it', concurrency_group, found.owner
            USING ERRCODE = @sqlstate:not_found@, HINT = @hint:not_found@;
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _group_for_caller(text, boolean) IS
    'The concurrency group if the caller may use it (and, with manage, change it); raises unknown_group or not_found otherwise.';

CREATE FUNCTION define_group(name text, max_running integer, description text DEFAULT NULL, now timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    existing concurrency_groups;
BEGIN
    IF define_group.name IS NULL OR define_group.name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$' THEN
        RAISE EXCEPTION 'group name % must be 1-64 letters, digits, _ . - (not starting with . or -)', coalesce(quote_literal(define_group.name), 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    IF define_group.max_running IS NULL OR define_group.max_running NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_running must be a whole number from 1 to 10000, not %', coalesce(define_group.max_running::text, 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    SELECT * INTO existing FROM concurrency_groups AS g WHERE g.name = define_group.name FOR UPDATE;
    IF existing.name IS NOT NULL AND NOT (_may_manage(existing.owner) OR (_caller_rights() ->> 'superuser')::boolean) THEN
        RAISE EXCEPTION 'a concurrency group named "%" exists and belongs to another role; choose another name', define_group.name
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    INSERT INTO concurrency_groups AS g (name, max_running, description, owner, updated_at)
    VALUES (define_group.name, define_group.max_running, define_group.description, _caller(), define_group.now)
        ON CONFLICT ON CONSTRAINT concurrency_groups_pkey DO UPDATE
       SET max_running = excluded.max_running, description = excluded.description, updated_at = excluded.updated_at;
    -- A raised limit lets waiting runs in: the supervisors' next tick does (its settle pass).
    PERFORM pg_notify('clockwork_wakeup', 'group');
END
$$;
COMMENT ON FUNCTION define_group(text, integer, text, timestamptz) IS
    'Creates a concurrency group (at most max_running of its runs queued or running at once), or changes the limit and description of one the caller owns. A lower limit stops no run: new ones wait until the group is under it.';

CREATE FUNCTION drop_group(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    users text;
    hidden integer;
    active integer;
BEGIN
    PERFORM _group_for_caller(drop_group.name, true);
    -- Locked first: no run is let in while this looks.
    PERFORM 1 FROM concurrency_groups AS g WHERE g.name = drop_group.name FOR UPDATE;
    SELECT string_agg(format('"%s"', j.name), ', ' ORDER BY j.name) FILTER (WHERE _may_manage(j.owner)),
           count(*) FILTER (WHERE NOT _may_manage(j.owner))
      INTO users, hidden
      FROM jobs AS j
     WHERE j.dropped_at IS NULL -- a dropped job kept for its history uses nothing
       AND j.definition -> 'policies' ->> 'group' = drop_group.name;
    IF users IS NOT NULL OR hidden > 0 THEN
        RAISE EXCEPTION 'concurrency group "%" is used by %; change them first', drop_group.name,
            concat_ws(' and ', 'jobs ' || users, CASE WHEN hidden > 0 THEN hidden || ' jobs of other roles' END)
            USING ERRCODE = @sqlstate:invalid_state@, HINT = @hint:invalid_state@;
    END IF;
    SELECT count(*) INTO active FROM runs AS r
     WHERE r.concurrency_group = drop_group.name AND r.state IN ('waiting', 'queued', 'running');
    IF active > 0 THEN
        RAISE EXCEPTION 'concurrency group "%" still has % runs waiting or going; let them end first', drop_group.name, active
            USING ERRCODE = @sqlstate:invalid_state@, HINT = @hint:invalid_state@;
    END IF;
    DELETE FROM concurrency_groups AS g WHERE g.name = drop_group.name;
END
$$;
COMMENT ON FUNCTION drop_group(text) IS
    'Drops a concurrency group the caller owns; refused while a job names it in policies.group or a run of it is waiting or going (the message says which).';

CREATE FUNCTION grant_group(name text, role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    grantee name;
BEGIN
    PERFORM _group_for_caller(grant_group.name, true);
    grantee := _grantee(grant_group.role);
    UPDATE concurrency_groups AS g SET granted_to = array_append(array_remove(g.granted_to, grantee), grantee)
     WHERE g.name = grant_group.name;
END
$$;
COMMENT ON FUNCTION grant_group(text, name) IS
    'Lets a role (and its members; public for everyone) put its jobs in a concurrency group the caller owns (policies.group).';

CREATE FUNCTION revoke_group(name text, role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _group_for_caller(revoke_group.name, true);
    UPDATE concurrency_groups AS g SET granted_to = array_remove(g.granted_to, _grantee(revoke_group.role, must_exist => false))
     WHERE g.name = revoke_group.name;
END
$$;
COMMENT ON FUNCTION revoke_group(text, name) IS
    'Takes back a grant of grant_group. Jobs already in the group stay in it; new definitions may not name it.';
