// Alerts: which conditions a job is watched for, validated like the rest of a definition,
// and the pure decisions that open and resolve alerts. The adapter (db/alerts.ts) applies
// them where the facts arise: a run's end (the lifecycle), a slot not fired (tick), and a
// periodic sweep for what only the passing of time reveals (late, long, dead-man, a worker
// gone). Each decision names an alert by (condition, key): the database keeps at most one
// open alert per job, condition and key, so a condition that holds on is one alert, not a
// stream of them (repeats are counted, not delivered).
//
// A job's `alerts` section (YAML/JSON), every key optional:
//   missed: 5m        a scheduled slot not started within this grace of its time (or skipped)
//   long_running: 1h  a run still running this long after it started
//   failures: 3       this many failed (or timed-out) runs in a row
//   dead_man: 1d      no successful run within this period
//   recovery: true    the first success after a failure
//   to: [ops-hook]    alert channels to deliver to (NOTIFY clockwork_alert always)
// Defaults for all jobs use the same format (clockwork.set_alert_defaults). A job's key
// overrides the default's; `false` (or null) turns a default condition off for the job;
// `alerts: false` turns every alert of the job off.

import { issue, didYouMean, type ValidationIssue } from "./errors.ts";
import { parseInterval, formatInterval } from "./interval.ts";

export const ALERT_CONDITIONS = ["missed", "long_running", "failures", "dead_man", "recovery"] as const;
export type JobAlertCondition = (typeof ALERT_CONDITIONS)[number];
/** Conditions about the scheduler itself, not one job (job_id NULL). */
export const SYSTEM_ALERT_CONDITIONS = ["worker_lost", "scheduler_down"] as const;
export type SystemAlertCondition = (typeof SYSTEM_ALERT_CONDITIONS)[number];
export type AlertCondition = JobAlertCondition | SystemAlertCondition;
export type AlertSeverity = "critical" | "warning" | "info";

const RULE_KEYS = [...ALERT_CONDITIONS, "to"] as const;
const CHANNEL_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** Longest period any time-based condition may be set to (a year). */
const MAX_PERIOD_MS = 366 * 24 * 3_600_000;
/** Fewest milliseconds a time-based condition may be set to: the sweep runs every few seconds. */
const MIN_PERIOD_MS = 1000;

/**
 * An alerts section as written: each condition is set (a value), turned off (null), or
 * not mentioned (undefined: the default applies). `off` means `alerts: false`.
 */
export interface AlertSettings {
  off: boolean;
  missedMs?: number | null;
  longRunningMs?: number | null;
  failures?: number | null;
  deadManMs?: number | null;
  recovery?: boolean | null;
  to?: string[];
}

/** The rules a job is watched by: its settings over the defaults. null = not watched. */
export interface AlertRules {
  missedMs: number | null;
  longRunningMs: number | null;
  failures: number | null;
  deadManMs: number | null;
  recovery: boolean;
  to: string[];
}

export const NO_ALERT_RULES: AlertRules = { missedMs: null, longRunningMs: null, failures: null, deadManMs: null, recovery: false, to: [] };

export type AlertSettingsResult = { ok: true; settings: AlertSettings | null } | { ok: false; errors: ValidationIssue[] };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const at = (path: string, key: string) => (path === "" ? key : `${path}.${key}`);

function readPeriod(errors: ValidationIssue[], v: unknown, path: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null || v === false) return null;
  const r = parseInterval(v);
  if (!r.ok) {
    errors.push(issue("invalid_alert", path, r.message));
    return undefined;
  }
  if (r.ms < MIN_PERIOD_MS || r.ms > MAX_PERIOD_MS) {
    errors.push(issue("invalid_alert", path, `must be from 1s to 366 days, got ${formatInterval(r.ms)}`));
    return undefined;
  }
  return r.ms;
}

/**
 * Validates an alerts section (of a job, or the defaults). `channels`: the channel names
 * that exist, when the caller knows them. Returns null settings for an absent section.
 */
export function validateAlertSettings(input: unknown, path = "alerts", channels?: readonly string[]): AlertSettingsResult {
  if (input === undefined || input === null) return { ok: true, settings: null };
  if (input === false) return { ok: true, settings: { off: true } };
  const errors: ValidationIssue[] = [];
  if (!isObj(input)) {
    return { ok: false, errors: [issue("invalid_alert", path, "must be an object of conditions (missed, long_running, failures, dead_man, recovery, to), or false")] };
  }
  for (const k of Object.keys(input)) {
    if (!(RULE_KEYS as readonly string[]).includes(k)) errors.push(issue("invalid_alert", at(path, k), `unknown alert condition "${k}"${didYouMean(k, RULE_KEYS)}`));
  }
  const s: AlertSettings = { off: false };
  const missed = readPeriod(errors, input.missed, at(path, "missed"));
  if (missed !== undefined) s.missedMs = missed;
  const longRunning = readPeriod(errors, input.long_running, at(path, "long_running"));
  if (longRunning !== undefined) s.longRunningMs = longRunning;
  const deadMan = readPeriod(errors, input.dead_man, at(path, "dead_man"));
  if (deadMan !== undefined) s.deadManMs = deadMan;
  const f = input.failures;
  if (f === null || f === false) s.failures = null;
  else if (f !== undefined) {
    if (typeof f === "number" && Number.isInteger(f) && f >= 1 && f <= 1000) s.failures = f;
    else errors.push(issue("invalid_alert", at(path, "failures"), `must be a whole number of failed runs in a row from 1 to 1000, got ${JSON.stringify(f)}`));
  }
  const r = input.recovery;
  if (r === null) s.recovery = null;
  else if (r !== undefined) {
    if (typeof r === "boolean") s.recovery = r;
    else errors.push(issue("invalid_alert", at(path, "recovery"), `must be true or false, got ${JSON.stringify(r)}`));
  }
  const to = input.to;
  if (to !== undefined && to !== null) {
    const list = typeof to === "string" ? [to] : to;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
      errors.push(issue("invalid_alert", at(path, "to"), "must be a channel name or a list of channel names"));
    } else {
      const seen = new Set<string>();
      list.forEach((name: string, i) => {
        const p = typeof to === "string" ? at(path, "to") : `${at(path, "to")}[${i}]`;
        if (!CHANNEL_NAME_RE.test(name)) errors.push(issue("invalid_alert", p, `channel name ${JSON.stringify(name)} must be 1–64 letters, digits, _ . - (not starting with . or -)`));
        else if (channels !== undefined && !channels.includes(name)) {
          errors.push(issue("unknown_alert_channel", p, `unknown alert channel "${name}"${didYouMean(name, channels)}`));
        } else if (seen.has(name)) errors.push(issue("invalid_alert", p, `"${name}" is listed twice`));
        else seen.add(name);
      });
      if (errors.length === 0) s.to = [...seen];
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, settings: s };
}

/** A job's rules: its own settings over the defaults, key by key. */
export function effectiveAlertRules(defaults: AlertSettings | null, job: AlertSettings | null): AlertRules {
  if (job?.off === true) return NO_ALERT_RULES;
  const d = defaults?.off === true ? null : defaults;
  const pick = <T>(own: T | null | undefined, fallback: T | null | undefined): T | null => (own !== undefined ? own : fallback ?? null);
  return {
    missedMs: pick(job?.missedMs, d?.missedMs),
    longRunningMs: pick(job?.longRunningMs, d?.longRunningMs),
    failures: pick(job?.failures, d?.failures),
    deadManMs: pick(job?.deadManMs, d?.deadManMs),
    recovery: pick(job?.recovery, d?.recovery) === true,
    to: job?.to ?? d?.to ?? [],
  };
}

/** Whether a job with these rules is watched for anything at all. */
export function watchesAnything(rules: AlertRules): boolean {
  return rules.missedMs !== null || rules.longRunningMs !== null || rules.failures !== null || rules.deadManMs !== null || rules.recovery;
}

/** The settings back in the definition's format (for views and export). */
export function alertSettingsJson(s: AlertSettings | null): unknown {
  if (s === null) return null;
  if (s.off) return false;
  const out: Record<string, unknown> = {};
  const period = (ms: number | null | undefined) => (ms === null ? false : ms === undefined ? undefined : formatInterval(ms));
  if (s.missedMs !== undefined) out.missed = period(s.missedMs);
  if (s.longRunningMs !== undefined) out.long_running = period(s.longRunningMs);
  if (s.failures !== undefined) out.failures = s.failures ?? false;
  if (s.deadManMs !== undefined) out.dead_man = period(s.deadManMs);
  if (s.recovery !== undefined) out.recovery = s.recovery ?? false;
  if (s.to !== undefined) out.to = s.to;
  return out;
}

// --- decisions ------------------------------------------------------------------------------

/** Open an alert (or, if one is open for the same condition and key, count a repeat). */
export interface OpenAlert {
  condition: AlertCondition;
  key: string;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  /** An event (recovery, a past outage): recorded resolved at once, delivered once. */
  event?: boolean;
}

/** Resolve the open alert(s) of a condition: every key, or one. */
export interface ResolveAlert {
  condition: AlertCondition;
  /** null: every open alert of the condition for the job. */
  key: string | null;
  reason: string;
}

export interface AlertDecision {
  open: OpenAlert[];
  resolve: ResolveAlert[];
}

const FAILED_STATES = new Set(["failed", "timed_out"]);

export interface EndedRun {
  id: string;
  state: string;
  trigger: string;
  slotAtMs: number | null;
  startedAtMs: number | null;
  reason: string | null;
}

/**
 * What a run's end means for its job's alerts. `previous`: the final states of the job's
 * earlier runs, newest first (cancelled runs left out: they say nothing about the job's
 * health), as many as the failures rule needs plus one.
 */
export function alertsOnRunEnd(rules: AlertRules, run: EndedRun, previous: readonly string[]): AlertDecision {
  const open: OpenAlert[] = [];
  // Whatever the rules now say, an ended run is no longer running long.
  const resolve: ResolveAlert[] = [{ condition: "long_running", key: run.id, reason: `run ${run.id} ended (${run.state})` }];
  if (run.trigger === "schedule" && run.slotAtMs !== null && run.startedAtMs !== null && rules.missedMs !== null
      && run.startedAtMs - run.slotAtMs <= rules.missedMs) {
    resolve.push({ condition: "missed", key: null, reason: `run ${run.id} started on time` });
  }
  if (run.state === "succeeded") {
    resolve.push({ condition: "failures", key: null, reason: `run ${run.id} succeeded` });
    resolve.push({ condition: "dead_man", key: null, reason: `run ${run.id} succeeded` });
    const failedBefore = leadingFailures(previous);
    if (rules.recovery && failedBefore > 0) {
      open.push({
        condition: "recovery", key: run.id, severity: "info", event: true,
        message: `run ${run.id} succeeded after ${failedBefore}${failedBefore >= RECOVERY_LOOKBACK ? " or more" : ""} failed run${failedBefore === 1 ? "" : "s"}`,
        details: { run_id: run.id, failed_runs_before: failedBefore },
      });
    }
  } else if (FAILED_STATES.has(run.state) && rules.failures !== null) {
    const inARow = 1 + leadingFailures(previous);
    if (inARow >= rules.failures) {
      open.push({
        condition: "failures", key: "", severity: "critical",
        message: `${inARow} failed run${inARow === 1 ? "" : "s"} in a row (last: run ${run.id} ${run.state}${run.reason ? `: ${run.reason}` : ""})`,
        details: { run_id: run.id, state: run.state, reason: run.reason, failed_in_a_row: inARow, threshold: rules.failures },
      });
    }
  }
  return { open, resolve };
}

function leadingFailures(states: readonly string[]): number {
  let n = 0;
  while (n < states.length && FAILED_STATES.has(states[n]!)) n++;
  return n;
}

/** Failed runs counted back for a recovery's message ("after N failed runs"); more say "N or more". */
export const RECOVERY_LOOKBACK = 100;

/** How many earlier final states alertsOnRunEnd needs to see. */
export function previousRunsNeeded(rules: AlertRules): number {
  return Math.max(rules.failures ?? 0, rules.recovery ? RECOVERY_LOOKBACK : 0);
}

export interface NotFiredSlots {
  /** First and last slot of a range the scheduler decided not to fire, and why. */
  fromMs: number;
  toMs: number;
  count: number | null;
  reason: string;
}

/** Slots that tick decided not to fire (misfire, overlap) were not started: missed. */
export function alertsOnSkippedSlots(rules: AlertRules, skipped: readonly NotFiredSlots[]): AlertDecision {
  if (rules.missedMs === null || skipped.length === 0) return { open: [], resolve: [] };
  const first = skipped[0]!;
  const last = skipped[skipped.length - 1]!;
  const slots = skipped.every((s) => s.count !== null) ? skipped.reduce((n, s) => n + s.count!, 0) : null;
  const reasons = [...new Set(skipped.map((s) => s.reason))];
  return {
    open: [{
      condition: "missed", key: "", severity: "warning",
      message: `${slots === null ? "more than 10 000" : slots} slot${slots === 1 ? "" : "s"} not started (${reasons.join(", ")}), from ${new Date(first.fromMs).toISOString()}${last.toMs !== first.fromMs ? ` to ${new Date(last.toMs).toISOString()}` : ""}`,
      details: { first_slot_at: new Date(first.fromMs).toISOString(), last_slot_at: new Date(last.toMs).toISOString(), slots, reasons },
    }],
    resolve: [],
  };
}

/** What the periodic sweep knows about one watched job. */
export interface JobSweepFacts {
  /** Scheduled runs not started yet (queued or held back), with their slots. */
  waitingRuns: readonly { runId: string; slotAtMs: number }[];
  /** Runs running now, with their start. */
  runningRuns: readonly { runId: string; startedAtMs: number }[];
  /** The end of the latest successful run, or null. */
  lastSuccessMs: number | null;
  /** Since when the dead-man period counts when the job never succeeded (its rules' start). */
  watchedSinceMs: number;
}

/** The conditions only the passing of time reveals: late slots, long runs, no success. */
export function alertsOnSweep(rules: AlertRules, facts: JobSweepFacts, nowMs: number): AlertDecision {
  const open: OpenAlert[] = [];
  const resolve: ResolveAlert[] = [];
  if (rules.missedMs !== null) {
    const late = facts.waitingRuns.filter((r) => nowMs - r.slotAtMs > rules.missedMs!).sort((a, b) => a.slotAtMs - b.slotAtMs);
    if (late.length > 0) {
      const first = late[0]!;
      open.push({
        condition: "missed", key: "", severity: "warning",
        message: `run ${first.runId} for the slot at ${new Date(first.slotAtMs).toISOString()} has not started after ${formatInterval(nowMs - first.slotAtMs)} (grace ${formatInterval(rules.missedMs)})${late.length > 1 ? `; ${late.length} runs are late` : ""}`,
        details: { run_id: first.runId, slot_at: new Date(first.slotAtMs).toISOString(), late_runs: late.length, grace_ms: rules.missedMs },
      });
    }
  }
  if (rules.longRunningMs !== null) {
    for (const r of facts.runningRuns) {
      if (nowMs - r.startedAtMs <= rules.longRunningMs) continue;
      open.push({
        condition: "long_running", key: r.runId, severity: "warning",
        message: `run ${r.runId} has been running for ${formatInterval(nowMs - r.startedAtMs)} (limit ${formatInterval(rules.longRunningMs)})`,
        details: { run_id: r.runId, started_at: new Date(r.startedAtMs).toISOString(), limit_ms: rules.longRunningMs },
      });
    }
  }
  if (rules.deadManMs !== null) {
    // From the later of the last success and the start of the watch: a job just enabled, or
    // a period just set, gets a whole period first.
    const sinceSuccess = facts.lastSuccessMs !== null && facts.lastSuccessMs >= facts.watchedSinceMs;
    const since = sinceSuccess ? facts.lastSuccessMs! : facts.watchedSinceMs;
    if (nowMs - since > rules.deadManMs) {
      open.push({
        condition: "dead_man", key: "", severity: "critical",
        message: sinceSuccess
          ? `no successful run since ${new Date(since).toISOString()}, ${formatInterval(nowMs - since)} ago (period ${formatInterval(rules.deadManMs)})`
          : `no successful run in the ${formatInterval(nowMs - since)} since ${new Date(since).toISOString()}, when it was last enabled or its period set (period ${formatInterval(rules.deadManMs)})`,
        details: { last_success_at: facts.lastSuccessMs === null ? null : new Date(facts.lastSuccessMs).toISOString(), since: new Date(since).toISOString(), period_ms: rules.deadManMs },
      });
    }
  }
  return { open, resolve };
}

/** A worker the sweep looks at: alive, silent (crashed or cut off), or stopped cleanly. */
export interface WorkerFacts {
  name: string;
  heartbeatAtMs: number;
  stoppedAtMs: number | null;
}

/** Supervisors watch each other: a worker silent for longer than its lease is lost. */
export function alertsOnWorkers(workers: readonly WorkerFacts[], leaseMs: number, nowMs: number, openLost: readonly string[]): AlertDecision {
  const open: OpenAlert[] = [];
  const resolve: ResolveAlert[] = [];
  const byName = new Map(workers.map((w) => [w.name, w]));
  for (const w of workers) {
    if (w.stoppedAtMs !== null || nowMs - w.heartbeatAtMs <= leaseMs) continue;
    open.push({
      condition: "worker_lost", key: w.name, severity: "critical",
      message: `supervisor ${w.name} has not been heard from for ${formatInterval(nowMs - w.heartbeatAtMs)} (lease ${formatInterval(leaseMs)}): its steps are taken over by other supervisors`,
      details: { worker: w.name, heartbeat_at: new Date(w.heartbeatAtMs).toISOString() },
    });
  }
  for (const name of openLost) {
    const w = byName.get(name);
    if (w === undefined) resolve.push({ condition: "worker_lost", key: name, reason: `supervisor ${name} was removed` });
    else if (w.stoppedAtMs !== null) resolve.push({ condition: "worker_lost", key: name, reason: `supervisor ${name} stopped` });
    else if (nowMs - w.heartbeatAtMs <= leaseMs) resolve.push({ condition: "worker_lost", key: name, reason: `supervisor ${name} is back` });
  }
  return { open, resolve };
}

/** A supervisor starting after a time with none alive: the outage, as an event. */
export function schedulerDownEvent(lastAliveMs: number, leaseMs: number, nowMs: number): OpenAlert | null {
  const downFromMs = lastAliveMs + leaseMs;
  if (nowMs <= downFromMs) return null;
  return {
    condition: "scheduler_down", key: new Date(downFromMs).toISOString(), severity: "critical", event: true,
    message: `no supervisor was alive for ${formatInterval(nowMs - downFromMs)}, from ${new Date(downFromMs).toISOString()} to ${new Date(nowMs).toISOString()}: slots due meanwhile were handled by each job's misfire policy`,
    details: { down_from: new Date(downFromMs).toISOString(), down_until: new Date(nowMs).toISOString(), down_ms: nowMs - downFromMs },
  };
}

// --- delivery ---------------------------------------------------------------------------------

export interface DeliveryRetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled for each further one, up to maxDelayMs. */
  delayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_DELIVERY_RETRY: DeliveryRetryPolicy = { attempts: 8, delayMs: 10_000, maxDelayMs: 3_600_000 };

/** After a failed attempt: when to try again, or null to give up. */
export function nextDeliveryAttempt(policy: DeliveryRetryPolicy, failedAttempts: number, nowMs: number): number | null {
  if (failedAttempts >= policy.attempts) return null;
  return nowMs + Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.max(0, failedAttempts - 1));
}
