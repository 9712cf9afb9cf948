-- Source: https://github.com/citusdata/pg_cron/blob/16618e69cb38f69abd6512b90e8c742010582e0e/README.md
-- Repository citusdata/pg_cron, path README.md, commit 16618e69cb38f69abd6512b90e8c742010582e0e: its SQL examples that create
-- jobs (the sql code blocks calling cron.schedule and cron.schedule_in_database, and the clean-up
-- job of its 'Viewing job run details' section), copied in the README's order; nothing else changed.
-- Licence: PostgreSQL License, Copyright (c) 2015 Citus Data (test/cli/upstream/pg_cron/LICENSE).
-- Test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
-- Delete old data on Saturday at 3:30am (GMT)
SELECT cron.schedule(
       '30 3 * * 6', 
       $$DELETE FROM events WHERE event_time < now() - interval '1 week'$$
);
-- returns cron id

-- Vacuum every day at 10:00am (GMT)
SELECT cron.schedule(
       'nightly-vacuum', 
       '0 10 * * *', 
       'VACUUM'
);
-- returns cron id

-- run SELECT 1 every 30 seconds
SELECT cron.schedule(
       'run_every_30_seconds', 
       '30 seconds', 
       'SELECT 1'
);
-- returns cron id

-- Call a stored procedure every 5 seconds
SELECT cron.schedule(
       'process-updates',
       '5 seconds',
       'CALL process_updates()'
);
-- returns cron id

-- Process payroll at 12:00 of the last day of each month
SELECT cron.schedule(
       'process-payroll',
       '0 12 $ * *',
       'CALL process_payroll()'
);
-- returns cron id

-- Delete old data on Saturday at 3:30am (GMT)
SELECT cron.schedule_in_database(
       'delete_old_data', 
       '30 3 * * 6', 
       $$DELETE FROM events WHERE event_time < now() - interval '1 week'$$,
       'some_other_database'
);
-- returns cron id

-- Delete old cron.job_run_details records of the current user every day at noon
SELECT  cron.schedule('delete-job-run-details', '0 12 * * *', $$DELETE FROM cron.job_run_details WHERE end_time < now() - interval '7 days'$$);

