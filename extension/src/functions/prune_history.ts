// clockwork.prune_history: one pruning pass now, as the scheduler makes every few seconds
// in tick (db/history.ts). For operators who want history trimmed at once after lowering
// a retention, and for tests.
import { pruneHistory, type PruneResult } from "../db/history.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { instantOf } from "../db/values.ts";

export const prune_history = sqlFunction({
  name: "prune_history",
  args: "now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "Runs one pass of history pruning now (tick runs one every 10 s): deletes up to 500 finished runs and 500 skipped-slot rows of the next 100 jobs that are beyond their retention (policies.retention, else clockwork.history_retention), counting pruned runs in pruned_runs. Returns {pruned, runs, skipped_slots, jobs}; pruned is false when another session is pruning.",
  body: (now: Date): PruneResult => pruneHistory(instantOf(now), true),
});
