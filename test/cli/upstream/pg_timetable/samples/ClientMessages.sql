-- Source: https://github.com/cybertec-postgresql/pg_timetable/blob/abe2c8982a72d39e7b00e1796a49ff824ca17331/samples/ClientMessages.sql
-- Repository cybertec-postgresql/pg_timetable, path samples/ClientMessages.sql, commit abe2c8982a72d39e7b00e1796a49ff824ca17331.
-- Licence: PostgreSQL License, Copyright (c) 2018 Cybertec PostgreSQL International GmbH (test/cli/upstream/pg_timetable/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
CREATE OR REPLACE FUNCTION raise_func(text)
  RETURNS void LANGUAGE plpgsql AS
$BODY$ 
BEGIN
   RAISE NOTICE 'Message by % from chain %: "%"', 
    current_setting('pg_timetable.current_client_name')::text, 
    current_setting('pg_timetable.current_chain_id')::text, 
    $1; 
END; 
$BODY$;

DELETE FROM timetable.chain WHERE chain_name = 'raise_client_message_every_minute';

SELECT timetable.add_job(
    job_name            => 'raise_client_message_every_minute',
    job_schedule        => '* * * * *',
    job_command         => 'SELECT raise_func($1)',
    job_parameters      => '[ "Hey from client messages task" ]' :: jsonb,
    job_kind            => 'SQL'::timetable.command_kind,
    job_client_name     => NULL,
    job_max_instances   => 1,
    job_live            => TRUE,
    job_self_destruct   => FALSE,
    job_ignore_errors   => TRUE
) as chain_id;
