-- Clockwork install script, part 1c: which roles' jobs may name which supervisor secrets.
-- A secret's value lives only in the supervisors' environment (CLOCKWORK_SECRET_*); the
-- database holds its name and who may send it (docs/builtins.md, "Secrets").

CREATE TABLE secret_grants (
    secret      text        NOT NULL CHECK (secret ~ '^CLOCKWORK_SECRET_[A-Z0-9_]+$'),
    grantee     name        NOT NULL,
    granted_by  name        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (secret, grantee)
);
COMMENT ON TABLE secret_grants IS 'Which roles'' jobs may name a CLOCKWORK_SECRET_* variable of the supervisors in a built-in step (grant_secret, revoke_secret). Names only: values never enter the database. Superusers and members of clockwork_admin may name any.';
COMMENT ON COLUMN secret_grants.secret IS 'The environment variable''s name (CLOCKWORK_SECRET_…).';
COMMENT ON COLUMN secret_grants.grantee IS 'A role whose members'' jobs may name the secret, or public for every role.';
COMMENT ON COLUMN secret_grants.granted_by IS 'The administrator who granted it.';
COMMENT ON COLUMN secret_grants.granted_at IS 'When.';
-- Which secrets a job owner may name (the primary key serves lookups by secret).
CREATE INDEX secret_grants_grantee_idx ON secret_grants (grantee);
