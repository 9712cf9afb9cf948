-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/NoOp.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/NoOp.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
DELETE FROM timetable.chain WHERE chain_name = 'noop_every_minute';

SELECT timetable.add_job(
    job_name            => 'noop_every_minute',
    job_schedule        => '* * * * *',
    job_command         => 'NoOp',
    job_kind            => 'BUILTIN'::timetable.command_kind
) as chain_id;
