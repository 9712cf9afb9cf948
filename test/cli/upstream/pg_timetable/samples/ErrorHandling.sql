-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/ErrorHandling.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/ErrorHandling.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
DELETE FROM timetable.chain WHERE chain_name = 'fail_with_on_error_notify';

SELECT timetable.add_job(
        job_name            => 'fail_with_on_error_notify',
        job_schedule        => '* * * * *',
        job_command         => 'SELECT 42/0',
        job_kind            => 'SQL'::timetable.command_kind,
        job_live            => TRUE,
        job_ignore_errors   => FALSE,
        job_on_error        => $$SELECT pg_notify('monitoring', 
            format('{"ConfigID": %s, "Message": "Something bad happened"}', 
                current_setting('pg_timetable.current_chain_id')::bigint))$$
    );
