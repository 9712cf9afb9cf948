// Bounded history (docs/policies.md, "History"): the scheduler prunes runs and skipped-slot
// rows beyond each job's retention (policies.retention, else clockwork.history_retention),
// in small batches so that no pass holds locks for long or makes a tick slow. One pass
// at a time over all supervisors (the settings row is claimed with SKIP LOCKED); each pass
// looks at the next JOBS_PER_PASS jobs round the table, so a pass costs the same with
// 10 jobs or 100 000. Pruned runs are counted in pruned_runs; a dropped job goes with its
// last run.
import type { RetentionPolicy } from "../core/index.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

/** Passes start this far apart, unless the last one had more to prune than a batch. */
export const PRUNE_INTERVAL_MS = 10_000;
/** Jobs a pass looks at. */
export const JOBS_PER_PASS = 100;
/** Runs (with their step runs) and skipped-slot rows a pass deletes at most, each. */
export const PRUNE_BATCH = 500;

export interface PruneResult {
  /** false when another session was pruning, or the last pass was too recent. */
  pruned: boolean;
  runs: number;
  skipped_slots: number;
  jobs: number;
}

/**
 * A tick working ahead of a slot (it claimed a step to start on the dot) leaves a due pass
 * to a later tick, unless the last pass is this old: a supervisor kept busy by steps due
 * back to back still prunes.
 */
export const PRUNE_DEFER_LIMIT_MS = 6 * PRUNE_INTERVAL_MS;

/**
 * One pruning pass, if one is due (or `force`, for clockwork.prune_history). Never waits:
 * a pass another session runs is left to it. `deferrable`: the caller would rather not
 * spend the time now (PRUNE_DEFER_LIMIT_MS).
 */
export function pruneHistory(nowMs: number, force = false, deferrable = false): PruneResult {
  const none: PruneResult = { pruned: false, runs: 0, skipped_slots: 0, jobs: 0 };
  const pass = execute(SQL.claimPrunePass)[0] as { pruned_at: Date | null; prune_cursor: string } | undefined;
  if (pass === undefined) return none;
  const last = pass.pruned_at?.getTime() ?? null;
  // A clock that went back (a test's pinned time, a corrected clock) does not stop pruning.
  if (!force && last !== null && nowMs >= last && nowMs < last + (deferrable ? PRUNE_DEFER_LIMIT_MS : PRUNE_INTERVAL_MS)) return none;
  const now = new Date(nowMs);
  let jobs = (execute(SQL.jobsToPrune, [pass.prune_cursor, JOBS_PER_PASS]) as { id: string }[]).map((j) => j.id);
  let wrapped = false;
  if (jobs.length === 0 && pass.prune_cursor !== "0") {
    jobs = (execute(SQL.jobsToPrune, ["0", JOBS_PER_PASS]) as { id: string }[]).map((j) => j.id);
    wrapped = true;
  }
  const runs = jobs.length === 0 ? 0 : (execute(SQL.pruneRuns, [jobs, now, PRUNE_BATCH])[0] as { runs: number }).runs;
  const skipped = jobs.length === 0 ? 0 : (execute(SQL.pruneSkippedSlots, [jobs, now, PRUNE_BATCH])[0] as { rows: number }).rows;
  const removed = jobs.length === 0 ? 0 : execute(SQL.deleteEmptyDroppedJobs, [jobs]).length;
  // A full batch: the same jobs again at the next tick. Else the next jobs, a pass later.
  const full = runs >= PRUNE_BATCH || skipped >= PRUNE_BATCH;
  const cursor = full ? (wrapped ? "0" : pass.prune_cursor)
    : jobs.length < JOBS_PER_PASS ? "0" : jobs[jobs.length - 1]!;
  execute(SQL.finishPrunePass, [full ? null : now, cursor]);
  return { pruned: true, runs, skipped_slots: skipped, jobs: removed };
}

/** A job's retention as the pruner reads it (jobs.retention): only what the job sets itself. */
export function retentionColumn(policy: RetentionPolicy): string {
  const out: Record<string, unknown> = {};
  if (policy.maxAgeMs !== undefined) out.max_age_ms = policy.maxAgeMs;
  if (policy.maxRuns !== undefined) out.max_runs = policy.maxRuns;
  if (policy.keep !== undefined) out.keep = policy.keep;
  return JSON.stringify(out);
}
