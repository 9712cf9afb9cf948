# Source: https://github.com/MannemSolutions/PgQuartz/blob/e2a7442bb22dbc7d21e253e33afd030236dfa84e/jobs/jobspec1/commands/step3.sh
# Repository MannemSolutions/PgQuartz, path jobs/jobspec1/commands/step3.sh, commit e2a7442bb22dbc7d21e253e33afd030236dfa84e.
# Licence: GNU GPL v3, Copyright (c) Mannem Solutions (test/cli/upstream/pgquartz/LICENSE). Copied unmodified below this header;
# test data for Clockwork's importers (test/cli/upstream.test.ts), not part of Clockwork.
echo "Mijn PID is $$, ARGS zijn: $PGQ_INSTANCE_DELAY en $PGQ_INSTANCE_DESC" | tee -a /tmp/job3.txt
sleep $PGQ_INSTANCE_DELAY
