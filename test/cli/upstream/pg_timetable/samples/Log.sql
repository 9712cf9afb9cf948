-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/Log.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/Log.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
DELETE FROM timetable.chain WHERE chain_name = 'builtin_log_every_minute';

SELECT timetable.add_job(
    job_name            => 'builtin_log_every_minute',
    job_schedule        => NULL, -- same as '* * * * *'
    job_command         => 'Log',
    job_kind            => 'BUILTIN'::timetable.command_kind,
    job_parameters      => '{"Description":"Log Execution"}'::jsonb
) as chain_id;
