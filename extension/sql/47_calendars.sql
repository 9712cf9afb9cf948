-- Clockwork install script, part 4c: named calendars (lists of dates that schedules can
-- exclude: holidays, freeze days). Any role may define its own; using another's needs a
-- grant from its owner (or a superuser). A change re-plans the next slot of every schedule
-- that excludes the calendar (clockwork._replan_calendar, in the generated part).

CREATE FUNCTION _calendar_for_caller(calendar text, manage boolean) RETURNS calendars
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    found calendars;
BEGIN
    SELECT * INTO found FROM calendars AS c WHERE c.name = calendar;
    -- Someone else's calendar, not granted: its existence is not the caller's business.
    IF found.name IS NULL OR NOT _may_use(found.owner, found.granted_to, _caller()) THEN
        RAISE EXCEPTION 'calendar "%" does not exist', calendar
            USING ERRCODE = @sqlstate:unknown_calendar@, HINT = @hint:unknown_calendar@;
    END IF;
    IF manage AND NOT (_may_manage(found.owner) OR (_caller_rights() ->> 'superuser')::boolean) THEN
        RAISE EXCEPTION 'calendar "%" belongs to %: only its owner (or a superuser) may change it', calendar, found.owner
            USING ERRCODE = @sqlstate:not_found@, HINT = @hint:not_found@;
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _calendar_for_caller(text, boolean) IS
    'The calendar if the caller may use it (and, with manage, change it); raises unknown_calendar or not_found otherwise.';

CREATE FUNCTION define_calendar(name text, dates date[], description text DEFAULT NULL, now timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    existing calendars;
BEGIN
    IF define_calendar.name IS NULL OR define_calendar.name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$' THEN
        RAISE EXCEPTION 'calendar name % must be 1-64 letters, digits, _ . - (not starting with . or -)', coalesce(quote_literal(define_calendar.name), 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    SELECT * INTO existing FROM calendars AS c WHERE c.name = define_calendar.name FOR UPDATE;
    IF existing.name IS NOT NULL AND NOT (_may_manage(existing.owner) OR (_caller_rights() ->> 'superuser')::boolean) THEN
        RAISE EXCEPTION 'a calendar named "%" exists and belongs to another role; choose another name', define_calendar.name
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = @hint:invalid_argument@;
    END IF;
    INSERT INTO calendars AS c (name, description, dates, owner, updated_at)
    VALUES (define_calendar.name, define_calendar.description,
            ARRAY(SELECT DISTINCT d FROM unnest(coalesce(define_calendar.dates, '{}')) AS d WHERE d IS NOT NULL ORDER BY d),
            _caller(), define_calendar.now)
        ON CONFLICT ON CONSTRAINT calendars_pkey DO UPDATE
       SET description = excluded.description, dates = excluded.dates, updated_at = excluded.updated_at;
    PERFORM _replan_calendar(define_calendar.name, define_calendar.now);
END
$$;
COMMENT ON FUNCTION define_calendar(text, date[], text, timestamptz) IS
    'Creates a named calendar of dates that schedules can exclude (exclude: {calendars: [name]}), or replaces the dates of one the caller owns; schedules excluding it are re-planned.';

CREATE FUNCTION alter_calendar(name text, add_dates date[] DEFAULT NULL, remove_dates date[] DEFAULT NULL,
                               description text DEFAULT NULL, now timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _calendar_for_caller(alter_calendar.name, true);
    UPDATE calendars AS c
       SET dates = ARRAY(SELECT DISTINCT d FROM unnest(c.dates || coalesce(alter_calendar.add_dates, '{}')) AS d
                          WHERE d IS NOT NULL AND NOT d = ANY (coalesce(alter_calendar.remove_dates, '{}'))
                          ORDER BY d),
           description = coalesce(alter_calendar.description, c.description),
           updated_at = alter_calendar.now
     WHERE c.name = alter_calendar.name;
    PERFORM _replan_calendar(alter_calendar.name, alter_calendar.now);
END
$$;
COMMENT ON FUNCTION alter_calendar(text, date[], date[], text, timestamptz) IS
    'Adds and removes dates of a calendar the caller owns (and changes its description); schedules excluding it are re-planned.';

CREATE FUNCTION drop_calendar(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    users text;
    hidden integer;
BEGIN
    PERFORM _calendar_for_caller(drop_calendar.name, true);
    SELECT string_agg(format('"%s"', j.name), ', ' ORDER BY j.name) FILTER (WHERE _may_manage(j.owner)),
           count(*) FILTER (WHERE NOT _may_manage(j.owner))
      INTO users, hidden
      FROM jobs AS j
     WHERE j.dropped_at IS NULL -- a dropped job kept for its history uses nothing
       AND jsonb_path_exists(j.definition, 'lax $.schedules.** ? (@.calendars == $name)', jsonb_build_object('name', drop_calendar.name));
    IF users IS NOT NULL OR hidden > 0 THEN
        RAISE EXCEPTION 'calendar "%" is excluded by %; change them first', drop_calendar.name,
            concat_ws(' and ', 'jobs ' || users, CASE WHEN hidden > 0 THEN hidden || ' jobs of other roles' END)
            USING ERRCODE = @sqlstate:invalid_state@, HINT = @hint:invalid_state@;
    END IF;
    DELETE FROM calendars AS c WHERE c.name = drop_calendar.name;
END
$$;
COMMENT ON FUNCTION drop_calendar(text) IS
    'Drops a calendar the caller owns; refused while a job''s schedules exclude it (the message says which).';

CREATE FUNCTION grant_calendar(name text, role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
DECLARE
    grantee name;
BEGIN
    PERFORM _calendar_for_caller(grant_calendar.name, true);
    grantee := _grantee(grant_calendar.role);
    UPDATE calendars AS c SET granted_to = array_append(array_remove(c.granted_to, grantee), grantee)
     WHERE c.name = grant_calendar.name;
END
$$;
COMMENT ON FUNCTION grant_calendar(text, name) IS
    'Lets a role (and its members; public for everyone) exclude a calendar the caller owns in its schedules.';

CREATE FUNCTION revoke_calendar(name text, role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _calendar_for_caller(revoke_calendar.name, true);
    UPDATE calendars AS c SET granted_to = array_remove(c.granted_to, _grantee(revoke_calendar.role, must_exist => false))
     WHERE c.name = revoke_calendar.name;
END
$$;
COMMENT ON FUNCTION revoke_calendar(text, name) IS
    'Takes back a grant of grant_calendar. Schedules already excluding the calendar keep doing so; new definitions may not name it.';
