-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/Shell.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/Shell.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
-- An example for using the PROGRAM task.
SELECT timetable.add_job(
    job_name            => 'psql_chain',
    job_schedule        => '* * * * *',
    job_kind            => 'PROGRAM'::timetable.command_kind,
    job_command         => 'psql',
    job_parameters      => ('[
			"-h", "' || host(inet_server_addr()) || '",
			"-p", "' || inet_server_port() || '",
			"-d", "' || current_database() || '",
			"-U", "' || current_user || '",
			"-w", "-c", "SELECT now();"
		]')::jsonb
) as chain_id;
