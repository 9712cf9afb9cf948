-- Clockwork install script, part 2: who is calling.
-- The API functions are SECURITY DEFINER (they write tables that ordinary roles may
-- only read), so current_user inside them is the extension owner. The role the client
-- acts as is the session's SET ROLE, or its login role when none is set.

CREATE FUNCTION _caller() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN current_setting('role') = 'none' THEN session_user
                ELSE current_setting('role')::name END
$$;
COMMENT ON FUNCTION _caller() IS 'The role a client acts as (SET ROLE, else the login role), also inside SECURITY DEFINER functions.';

CREATE FUNCTION _caller_rights() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'role', r.rolname,
        'superuser', r.rolsuper,
        'may_define_shell', r.rolsuper OR pg_has_role(r.oid, 'clockwork_shell', 'MEMBER'),
        'is_supervisor', r.rolsuper OR pg_has_role(r.oid, 'clockwork_supervisor', 'MEMBER'),
        'may_use_network', r.rolsuper OR pg_has_role(r.oid, 'clockwork_shell', 'MEMBER')
                           OR pg_has_role(r.oid, 'clockwork_network', 'MEMBER'))
      FROM pg_roles AS r
     WHERE r.rolname = _caller()
$$;
COMMENT ON FUNCTION _caller_rights() IS 'The calling role and what it may do: define shell steps, use network built-ins, act as a supervisor.';

CREATE FUNCTION _may_manage(job_owner name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT pg_has_role(_caller(), job_owner, 'MEMBER')
$$;
COMMENT ON FUNCTION _may_manage(name) IS 'Whether the calling role owns (or is a member of the owner of) a job.';


-- The grantee of a grant_* or revoke_* call (calendars, groups, secrets; grant_connection
-- checks the same in TypeScript, functions/connections.ts): public in any case, as GRANT
-- … TO PUBLIC takes it, else a role that exists. A revoke may name a role dropped since
-- its grant (must_exist false), so that the grant can still be taken back.
CREATE FUNCTION _grantee(role name, must_exist boolean DEFAULT true) RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    IF lower(_grantee.role) = 'public' THEN
        RETURN 'public';
    END IF;
    IF _grantee.role IS NULL
       OR (_grantee.must_exist AND NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = _grantee.role)) THEN
        RAISE EXCEPTION 'role "%" does not exist', coalesce(_grantee.role::text, 'NULL')
            USING ERRCODE = @sqlstate:invalid_argument@, HINT = 'Name an existing role, or public.';
    END IF;
    RETURN _grantee.role;
END
$$;
COMMENT ON FUNCTION _grantee(name, boolean) IS
    'The role a grant or revoke names: ''public'' for public in any case, else the role, which must exist unless must_exist is false (a revoke); NULL or an unknown role raises invalid_argument.';

CREATE FUNCTION _may_use(object_owner name, granted_to name[], role name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_roles AS r
         WHERE r.rolname = _may_use.role
           AND (r.rolsuper
                OR 'public' = ANY (_may_use.granted_to)
                OR EXISTS (SELECT 1 FROM pg_roles AS o
                            WHERE (o.rolname = _may_use.object_owner OR o.rolname = ANY (_may_use.granted_to))
                              AND pg_has_role(r.oid, o.oid, 'MEMBER'))))
$$;
COMMENT ON FUNCTION _may_use(name, name[], name) IS
    'Whether a role may use a named connection or calendar: a superuser, a member of its owner or of a role it was granted to, or anyone when granted to public.';
