-- Clockwork install script, part 5c: granting supervisor secrets to the roles whose jobs may
-- name them (table in 12_tables_secrets.sql). Without a grant, any role allowed network
-- built-ins could send any CLOCKWORK_SECRET_* of the supervisors (another team's token, an
-- alert channel's signing key) to a server of its choosing.

CREATE FUNCTION _secrets_usable_by(role name) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'all', coalesce(r.rolsuper OR pg_has_role(r.oid, 'clockwork_admin', 'MEMBER'), false),
        'secrets', coalesce((
            SELECT jsonb_agg(DISTINCT g.secret ORDER BY g.secret)
              FROM secret_grants AS g
             WHERE g.grantee = 'public'
                OR EXISTS (SELECT 1 FROM pg_roles AS o WHERE o.rolname = g.grantee AND pg_has_role(r.oid, o.oid, 'MEMBER'))
        ), '[]'::jsonb))
      FROM pg_roles AS r
     WHERE r.rolname = _secrets_usable_by.role
$$;
COMMENT ON FUNCTION _secrets_usable_by(name) IS
    'The CLOCKWORK_SECRET_* names a role''s jobs may use: {"all": true} for superusers and clockwork_admin, else those granted to it, to a role it belongs to, or to public.';

CREATE FUNCTION grant_secret(secret text, grantee name) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT _is_admin() THEN
        RAISE EXCEPTION 'role "%" may not grant secrets: only superusers and members of clockwork_admin may', _caller()
            USING ERRCODE = @sqlstate:not_an_admin@, HINT = @hint:not_an_admin@;
    END IF;
    IF grant_secret.secret IS NULL OR grant_secret.secret !~ '^CLOCKWORK_SECRET_[A-Z0-9_]+$' THEN
        RAISE EXCEPTION 'secret: % is not the name of a CLOCKWORK_SECRET_* variable (upper-case letters, digits and _)', coalesce(quote_literal(grant_secret.secret), 'NULL')
            USING ERRCODE = @sqlstate:secret_in_definition@, HINT = @hint:secret_in_definition@;
    END IF;
    INSERT INTO secret_grants (secret, grantee, granted_by)
    VALUES (grant_secret.secret, _grantee(grant_secret.grantee), _caller())
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION grant_secret(text, name) IS
    'Lets the jobs of a role (its members, or public) name a CLOCKWORK_SECRET_* variable of the supervisors in built-in steps; administrators only. True if newly granted.';

CREATE FUNCTION revoke_secret(secret text, grantee name) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = clockwork, pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT _is_admin() THEN
        RAISE EXCEPTION 'role "%" may not revoke secrets: only superusers and members of clockwork_admin may', _caller()
            USING ERRCODE = @sqlstate:not_an_admin@, HINT = @hint:not_an_admin@;
    END IF;
    DELETE FROM secret_grants AS g
     WHERE g.secret = revoke_secret.secret AND g.grantee = _grantee(revoke_secret.grantee, must_exist => false);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION revoke_secret(text, name) IS
    'Withdraws a grant_secret; administrators only. Jobs already defined keep their definition, but their steps that name the secret fail when claimed. True if a grant was removed.';
