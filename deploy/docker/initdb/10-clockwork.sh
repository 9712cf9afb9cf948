#!/bin/sh
# First start of the PostgreSQL image (/docker-entrypoint-initdb.d/): the dedicated
# scheduler role and database, as aidboxdb's guide has for pgAgent (PGAGENT_USER,
# PGAGENT_DB), with both extensions installed. psql connects as the image's superuser
# (the entrypoint's POSTGRES_USER, through its temporary Unix socket).
#   CLOCKWORK_DB_NAME            the scheduler's database (default clockwork)
#   CLOCKWORK_DB_USER            the supervisor's login role (default clockwork), made a member of clockwork_supervisor
#   CLOCKWORK_DB_PASSWORD_FILE   its password, from a secret (or CLOCKWORK_DB_PASSWORD)
# The password goes to the server through psql's variable quoting, never through a
# command line.
set -eu
db=${CLOCKWORK_DB_NAME:-${PGAGENT_DB:-clockwork}}
role=${CLOCKWORK_DB_USER:-${PGAGENT_USER:-clockwork}}
password=
if [ -n "${CLOCKWORK_DB_PASSWORD_FILE:-}" ]; then
  password=$(head -n 1 "$CLOCKWORK_DB_PASSWORD_FILE")
elif [ -n "${CLOCKWORK_DB_PASSWORD:-${PGAGENT_PASSWORD:-}}" ]; then
  password=${CLOCKWORK_DB_PASSWORD:-$PGAGENT_PASSWORD}
fi
superuser=${POSTGRES_USER:-postgres}
psql=${PSQL:-psql}

$psql -v ON_ERROR_STOP=1 -X -q --username "$superuser" --dbname postgres \
  -v db="$db" -v role="$role" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password') WHERE :'password' <> '' \gexec
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
$psql -v ON_ERROR_STOP=1 -X -q --username "$superuser" --dbname "$db" -v role="$role" <<'SQL'
CREATE EXTENSION IF NOT EXISTS clockwork_v8;
CREATE EXTENSION IF NOT EXISTS clockwork;
SELECT format('GRANT clockwork_supervisor TO %I', :'role') WHERE :'role' <> 'clockwork_supervisor' \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'role') \gexec
SQL
echo "clockwork: database $db with the clockwork extension; supervisor role $role"
