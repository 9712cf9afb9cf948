// Pure decision functions for misfires, overlapping runs, retries and time-outs.
// They take the facts (slots, counts, times) and return what to do plus, for everything not
// done, a reason the database can record.

export type MisfirePolicyKind = "skip" | "once" | "all";

export interface MisfirePolicy {
  policy: MisfirePolicyKind;
  /** A slot fired at most this late is on time, not missed. */
  graceMs: number;
  /** 'all': fire at most this many missed slots (the most recent ones). */
  maxCount: number | null;
  /** 'all': do not fire missed slots older than this. */
  maxAgeMs: number | null;
}

export const DEFAULT_MISFIRE_POLICY: MisfirePolicy = { policy: "skip", graceMs: 60_000, maxCount: null, maxAgeMs: null };

export type SkipReason =
  | "misfire_skipped" // missed, policy skip
  | "misfire_coalesced" // missed, policy once: another run stands for it
  | "misfire_too_old" // missed, policy all, older than max age
  | "misfire_over_limit" // missed, policy all, beyond max count
  | "overlap_skipped" // previous run still going, policy skip
  | "max_instances_reached" // allow: already max_instances running
  | "queue_full"; // queue: the queue is at its bound

export interface SkippedSlot {
  slotMs: number;
  reason: SkipReason;
}

export interface MisfireDecision {
  /** Slots to turn into runs, oldest first. */
  fire: number[];
  /** Slots not run, with the reason, oldest first. */
  skipped: SkippedSlot[];
}

/**
 * Decides which due slots become runs. `dueSlots` are the slots ≤ horizon that have no run
 * yet (e.g. slotsBetween(lastTick, horizon)); a slot later than now - grace is on time and
 * always fires. `horizonMs` (default: now) lets a scheduler fire a slot a few milliseconds
 * before it is due, so that its first step can start on the dot; such a slot is on time.
 */
export function decideMisfire(policy: MisfirePolicy, dueSlots: readonly number[], nowMs: number, horizonMs = nowMs): MisfireDecision {
  const slots = [...dueSlots].filter((s) => s <= Math.max(nowMs, horizonMs)).sort((a, b) => a - b);
  const onTime = slots.filter((s) => nowMs - s <= policy.graceMs);
  const missed = slots.filter((s) => nowMs - s > policy.graceMs);
  const skipped: SkippedSlot[] = [];
  let fire: number[] = [];
  switch (policy.policy) {
    case "skip":
      for (const s of missed) skipped.push({ slotMs: s, reason: "misfire_skipped" });
      fire = onTime;
      break;
    case "once":
      if (onTime.length > 0) {
        for (const s of missed) skipped.push({ slotMs: s, reason: "misfire_coalesced" });
        fire = onTime;
      } else if (missed.length > 0) {
        // The latest missed slot's run stands for all of them.
        for (const s of missed.slice(0, -1)) skipped.push({ slotMs: s, reason: "misfire_coalesced" });
        fire = [missed[missed.length - 1]!];
      }
      break;
    case "all": {
      const kept: number[] = [];
      for (const s of missed) {
        if (policy.maxAgeMs !== null && nowMs - s > policy.maxAgeMs) skipped.push({ slotMs: s, reason: "misfire_too_old" });
        else kept.push(s);
      }
      const room = policy.maxCount === null ? kept.length : Math.max(0, policy.maxCount);
      const drop = Math.max(0, kept.length - room);
      for (const s of kept.slice(0, drop)) skipped.push({ slotMs: s, reason: "misfire_over_limit" });
      fire = [...kept.slice(drop), ...onTime];
      break;
    }
  }
  skipped.sort((a, b) => a.slotMs - b.slotMs);
  return { fire, skipped };
}

/**
 * What happens to a slot that comes due while runs of the job are still going, in the
 * vocabulary of Temporal Schedules (docs/policies.md):
 *  - skip: the slot is skipped (the default);
 *  - buffer_one: one run waits for the running one, later slots are skipped meanwhile;
 *  - buffer_all: every slot waits its turn (up to max_queue);
 *  - cancel_other: the running run is asked to stop; the new one starts once it has;
 *  - terminate_other: the running run is stopped at once and the new one starts;
 *  - allow_all: runs overlap, up to max_instances if given.
 */
export type OverlapMode = "skip" | "buffer_one" | "buffer_all" | "cancel_other" | "terminate_other" | "allow_all";

export const OVERLAP_MODES: readonly OverlapMode[] = ["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"];

/** Earlier names, still accepted: pg_timetable's and this project's first ones. */
export const OVERLAP_ALIASES: Readonly<Record<string, OverlapMode>> = { allow: "allow_all", queue: "buffer_all", replace: "terminate_other" };

export interface OverlapPolicy {
  mode: OverlapMode;
  /** Runs of the job at once; null: no limit (allow_all without max_instances). */
  maxInstances: number | null;
  /** buffer_one, buffer_all: how many runs may wait. */
  maxQueued: number;
}

export const DEFAULT_OVERLAP_POLICY: OverlapPolicy = { mode: "skip", maxInstances: 1, maxQueued: 0 };

/** buffer_all holds at most this many waiting runs unless max_queue says fewer. */
export const MAX_BUFFERED_RUNS = 1000;

/** How many runs of the job may be active (queued or running) at once. */
export function overlapLimit(policy: OverlapPolicy): number {
  return policy.maxInstances === null ? Infinity : Math.max(1, policy.maxInstances);
}

export interface ActiveRun {
  runId: string;
  startedAtMs: number;
}

export type OverlapDecision =
  | { action: "start" }
  /**
   * Stop these runs (oldest first) for the new one, which waits until they have ended:
   * at once (terminate_other), or once their running steps have stopped (cancel_other).
   */
  | { action: "replace"; cancel: string[]; graceful: boolean }
  | { action: "queue"; position: number }
  | { action: "skip"; reason: SkipReason };

/**
 * Decides what happens to a slot that comes due while `running` runs of the job are active
 * and `queuedCount` wait. A catch-up slot (missed, and run because the misfire policy asked
 * for it) is never skipped or made to replace anything: it waits its turn.
 */
export function decideOverlap(policy: OverlapPolicy, running: readonly ActiveRun[], queuedCount = 0, catchUp = false): OverlapDecision {
  const limit = overlapLimit(policy);
  const buffered = policy.mode === "buffer_one" || policy.mode === "buffer_all";
  if (running.length < limit && ((!buffered && !catchUp) || queuedCount === 0)) return { action: "start" };
  if (catchUp) return { action: "queue", position: queuedCount + 1 };
  switch (policy.mode) {
    case "skip":
      return { action: "skip", reason: "overlap_skipped" };
    case "allow_all":
      return { action: "skip", reason: "max_instances_reached" };
    case "buffer_one":
    case "buffer_all":
      if (queuedCount < policy.maxQueued) return { action: "queue", position: queuedCount + 1 };
      return { action: "skip", reason: "queue_full" };
    case "cancel_other":
    case "terminate_other": {
      const oldest = [...running].sort((a, b) => a.startedAtMs - b.startedAtMs || compareRunIds(a.runId, b.runId));
      return { action: "replace", cancel: oldest.slice(0, running.length - limit + 1).map((r) => r.runId), graceful: policy.mode === "cancel_other" };
    }
  }
}

/**
 * Run ids in the order they were made: ids are bigints as text, so 9 before 10 (a plain
 * string comparison puts "10" first); a run made in this tick, not yet stored
 * (`new:…`), after every stored one.
 */
function compareRunIds(a: string, b: string): number {
  const aStored = /^\d+$/.test(a), bStored = /^\d+$/.test(b);
  if (aStored !== bStored) return aStored ? -1 : 1;
  if (aStored && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** When a run ends: whether the oldest waiting run may start now. */
export function mayStartQueued(policy: OverlapPolicy, runningCount: number, queuedCount: number): boolean {
  return queuedCount > 0 && runningCount < overlapLimit(policy);
}

export interface RetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  attempts: number;
  backoff: "fixed" | "exponential";
  delayMs: number;
  /** Upper bound for a single delay (after jitter). */
  maxDelayMs: number;
  /** 0..1: the delay varies by up to ± this fraction, reproducibly per (run, attempt). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 1, backoff: "exponential", delayMs: 10_000, maxDelayMs: 3_600_000, jitter: 0 };

export type RetryDecision =
  | { retry: true; attempt: number; delayMs: number; atMs: number }
  | { retry: false; reason: "attempts_exhausted" };

/** FNV-1a of a string, as an unsigned 32-bit number: a seed that is stable across hosts. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A number in [0, 1) determined by the seed (one round of mulberry32). */
export function seededUnit(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * After attempt `failedAttempt` (1-based) failed at `failedAtMs`: retry or give up.
 * The jitter is seeded from `seed` (e.g. the run id and step) and the attempt, so the same
 * failure always gives the same answer, on any node.
 */
export function decideRetry(policy: RetryPolicy, failedAttempt: number, failedAtMs: number, seed: string): RetryDecision {
  if (failedAttempt >= policy.attempts) return { retry: false, reason: "attempts_exhausted" };
  const base = policy.backoff === "fixed" ? policy.delayMs : policy.delayMs * 2 ** (failedAttempt - 1);
  let delay = Math.min(base, policy.maxDelayMs);
  if (policy.jitter > 0) {
    const u = seededUnit(hashString(`${seed}#${failedAttempt}`));
    delay = delay * (1 + policy.jitter * (2 * u - 1));
  }
  delay = Math.max(0, Math.min(Math.round(delay), policy.maxDelayMs));
  return { retry: true, attempt: failedAttempt + 1, delayMs: delay, atMs: failedAtMs + delay };
}

export interface TimeoutDecision {
  /** When the work must stop, or null if unbounded. */
  deadlineMs: number | null;
  timedOut: boolean;
  /** Which limit set the deadline. */
  limit: "step" | "job" | null;
}

/**
 * The deadline of a step: the earlier of its own time-out and the job's, and whether it has
 * passed at `nowMs`.
 */
export function decideTimeout(args: { nowMs: number; jobStartedAtMs: number; jobTimeoutMs: number | null; stepStartedAtMs?: number | null; stepTimeoutMs?: number | null }): TimeoutDecision {
  const jobDeadline = args.jobTimeoutMs === null ? null : args.jobStartedAtMs + args.jobTimeoutMs;
  const stepDeadline = args.stepTimeoutMs == null || args.stepStartedAtMs == null ? null : args.stepStartedAtMs + args.stepTimeoutMs;
  let deadlineMs: number | null = null;
  let limit: TimeoutDecision["limit"] = null;
  if (stepDeadline !== null && (jobDeadline === null || stepDeadline <= jobDeadline)) {
    deadlineMs = stepDeadline;
    limit = "step";
  } else if (jobDeadline !== null) {
    deadlineMs = jobDeadline;
    limit = "job";
  }
  return { deadlineMs, limit, timedOut: deadlineMs !== null && args.nowMs >= deadlineMs };
}

/**
 * How much of a job's history is kept (docs/policies.md, "History"). Each field left out
 * (undefined) takes the database's default (clockwork.history_retention); null means no
 * limit. The scheduler prunes in small batches (db/history.ts).
 */
export interface RetentionPolicy {
  /** Finished runs created longer ago than this are pruned. */
  maxAgeMs?: number | null;
  /** At most this many runs of the job are kept, the newest. */
  maxRuns?: number | null;
  /** failures: succeeded runs are pruned once a newer run exists, and counted (errors-only). */
  keep?: "all" | "failures";
}

export const RETENTION_KEEP = ["all", "failures"] as const;

/** The most runs a job's retention may keep by count: beyond it, use max_age or no limit. */
export const MAX_RETAINED_RUNS = 10_000_000;
