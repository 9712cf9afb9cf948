-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/Sleep.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/Sleep.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
DELETE FROM timetable.chain WHERE chain_name = 'sleep_every_10s';

SELECT timetable.add_job(
    job_name            => 'sleep_every_10s',
    job_schedule        => '@every 10 seconds',
    job_command         => 'Sleep',
    job_parameters      => '20' :: jsonb,
    job_kind            => 'BUILTIN'::timetable.command_kind,
    job_client_name     => NULL,
    job_max_instances   => 1,
    job_live            => TRUE
) as chain_id;
