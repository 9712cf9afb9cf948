-- Clockwork install script, part 0: preconditions.
-- The extension needs LANGUAGE plv8: the real PL/v8, or this project's clockwork_v8
-- runtime where no PL/v8 package exists. We check instead of `requires`, so either works.
DO $preamble$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_language WHERE lanname = 'plv8') THEN
    RAISE EXCEPTION 'clockwork needs LANGUAGE plv8, which is not installed in this database'
      USING ERRCODE = @sqlstate:missing_language@,
            HINT = @hint:missing_language@;
  END IF;
END
$preamble$;

-- Roles are cluster-wide, so they outlive the extension; create them only once. Two
-- databases installing at the same moment may both try: the loser's attempt is a no-op.
DO $roles$
BEGIN
  BEGIN
    CREATE ROLE clockwork_shell NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE clockwork_supervisor NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE clockwork_network NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE clockwork_admin NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
END
$roles$;
COMMENT ON ROLE clockwork_shell IS
  'Members may define Clockwork jobs with shell and program steps (commands run by the supervisor).';
COMMENT ON ROLE clockwork_network IS
  'Members may define Clockwork jobs with the http, download and mail built-ins (the supervisor reaches the network for them).';
COMMENT ON ROLE clockwork_admin IS
  'Members may set Clockwork''s alert defaults, define alert channels, acknowledge or resolve any alert, and set the default retention of history (history_retention).';
COMMENT ON ROLE clockwork_supervisor IS
  'Members may run a Clockwork supervisor: register as a worker, tick, claim and complete steps.';
