-- Source: https://github.com/MannemSolutions/PgQuartz/blob/e2a7442bb22dbc7d21e253e33afd030236dfa84e/jobs/jobspec1/commands/step2.sql
-- Repository MannemSolutions/PgQuartz, path jobs/jobspec1/commands/step2.sql, commit e2a7442bb22dbc7d21e253e33afd030236dfa84e.
-- Licence: GNU GPL v3, Copyright (c) Mannem Solutions (test/cli/upstream/pgquartz/LICENSE). Copied unmodified below this header;
-- test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
select pg_sleep(:delay)
