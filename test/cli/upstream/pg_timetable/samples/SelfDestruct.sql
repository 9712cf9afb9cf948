-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/SelfDestruct.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/SelfDestruct.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
CREATE OR REPLACE FUNCTION raise_notice_func(text)
  RETURNS void LANGUAGE plpgsql AS
$BODY$ 
BEGIN 
   RAISE NOTICE '%', $1; 
END; 
$BODY$;

DELETE FROM timetable.chain WHERE chain_name = 'notify_then_destruct';

SELECT timetable.add_job(
    job_name            => 'notify_then_destruct',
    job_schedule        => '* * * * *',
    job_command         => 'SELECT raise_notice_func($1)',
    job_parameters      => '[ "Ahoj from self destruct task" ]' :: jsonb,
    job_kind            => 'SQL'::timetable.command_kind,
    job_live            => TRUE,
    job_self_destruct   => TRUE
) as chain_id;
