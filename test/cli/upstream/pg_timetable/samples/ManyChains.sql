-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/ManyChains.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/ManyChains.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
SELECT timetable.add_job(
    job_name            => 'hello_world_' || g.i,
    job_schedule        => '* * * * *',
    job_kind            => 'PROGRAM'::timetable.command_kind,
    job_command         => 'bash',
    job_parameters      => jsonb_build_array('-c', 'echo Hello World from ' || g.i),
    job_live            => TRUE,
    job_ignore_errors   => TRUE
) as chain_id FROM generate_series(1, 500) AS g(i);
