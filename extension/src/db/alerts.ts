// Alerts in the database: the core's decisions (core/alerts.ts) applied where the facts
// arise. A run's end (lifecycle.ts) and slots tick did not fire (tick.ts) call in here in
// the transaction that made the fact; the sweep (check_alerts, which supervisors call every
// few seconds) finds what only time reveals. Opening an alert records it once (repeats are
// counted: alerts_open_key), NOTIFYs clockwork_alert with the alert's id and kinds, and
// queues one delivery per channel for the supervisors; nothing here waits for a delivery.
import {
  alertsOnRunEnd, alertsOnSkippedSlots, alertsOnSweep, alertsOnWorkers, effectiveAlertRules, previousRunsNeeded,
  schedulerDownEvent, validateAlertSettings, watchesAnything,
  type AlertDecision, type AlertRules, type AlertSettings, type NotFiredSlots, type OpenAlert,
} from "../core/index.ts";
import { jobVersion } from "./jobs.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";
import type { RunRow } from "./runs.ts";

/** The sweep runs at most this often, however many supervisors ask. */
export const SWEEP_INTERVAL_MS = 5000;

interface RulesRow {
  job_id: string;
  missed_ms: number | null;
  long_running_ms: number | null;
  failures: number | null;
  dead_man_ms: number | null;
  recovery: boolean;
  channels: string[];
  watched_since: Date;
}

function rulesOf(row: RulesRow): AlertRules {
  const ms = (v: number | null) => (v === null ? null : Math.round(Number(v)));
  return {
    missedMs: ms(row.missed_ms), longRunningMs: ms(row.long_running_ms), failures: row.failures,
    deadManMs: ms(row.dead_man_ms), recovery: row.recovery, to: row.channels,
  };
}

/** The defaults for every job, as stored (validated when set). */
export function alertDefaults(): AlertSettings | null {
  const row = execute(SQL.alertDefaults)[0] as { settings: unknown };
  const r = validateAlertSettings(row.settings, "defaults");
  return r.ok ? r.settings : null;
}

/** Rules in force for these jobs, by job id (jobs watched for nothing are absent). */
export function rulesOfJobs(jobIds: readonly string[]): Map<string, AlertRules> {
  if (jobIds.length === 0) return new Map();
  const rows = execute(SQL.alertRulesOfJobs, [[...new Set(jobIds)]]) as RulesRow[];
  return new Map(rows.map((r) => [r.job_id, rulesOf(r)]));
}

/**
 * Recomputes alert_rules for the given jobs (null: every job) from their current
 * definitions over the defaults: after define_job, and after set_alert_defaults.
 */
export function refreshAlertRules(jobIds: readonly string[] | null, nowMs: number): void {
  const defaults = alertDefaults();
  const jobs = execute(SQL.jobsForAlertRules, [jobIds === null ? null : [...jobIds]]) as { id: string; version: number }[];
  const watched: Record<string, unknown>[] = [];
  const unwatched: string[] = [];
  for (const job of jobs) {
    const rules = effectiveAlertRules(defaults, jobVersion(job.id, job.version).alerts);
    if (!watchesAnything(rules)) {
      unwatched.push(job.id);
      continue;
    }
    watched.push({
      job_id: job.id, missed_ms: rules.missedMs, long_running_ms: rules.longRunningMs, failures: rules.failures,
      dead_man_ms: rules.deadManMs, recovery: rules.recovery, channels: rules.to,
    });
  }
  if (watched.length > 0) execute(SQL.upsertAlertRules, [JSON.stringify(watched), new Date(nowMs)]);
  if (unwatched.length > 0) execute(SQL.deleteAlertRules, [unwatched]);
}

// --- recording -------------------------------------------------------------------------------

/**
 * NOTIFY clockwork_alert: which alert, of which job, of what kind, and nothing more. Any
 * role may LISTEN on any channel, so what an alert says (its message and details: a failed
 * run's error text, which may hold its owner's data; the job's name) is read through
 * alert_history, whose row-level security checks who asks. Ids and kinds also keep the
 * payload far below NOTIFY's 8000 bytes, which a long error text went beyond, failing the
 * transaction that opened the alert (a step's report).
 */
interface AlertEventPayload {
  alert_id: string;
  event: "opened" | "resolved";
  job_id: string | null;
  condition: string;
  severity: string;
}

function notify(payload: AlertEventPayload): void {
  execute(SQL.notifyAlert, [JSON.stringify(payload)]);
}

/**
 * Applies a decision for one job (or, with jobId null, for the scheduler itself):
 * resolutions first, then openings. Returns how many alerts were newly opened.
 */
export function applyAlertDecision(jobId: string | null, decision: AlertDecision, channels: readonly string[], nowMs: number): number {
  if (decision.open.length === 0 && decision.resolve.length === 0) return 0;
  const now = new Date(nowMs);
  let opened = 0;
  let queued = false;
  if (decision.resolve.length > 0) {
    const rows = execute(SQL.resolveAlerts, [jobId, JSON.stringify(decision.resolve), now]) as {
      id: string; condition: string; severity: string; silenced: boolean;
    }[];
    for (const a of rows) {
      if (a.silenced) continue;
      notify({ alert_id: a.id, event: "resolved", job_id: jobId, condition: a.condition, severity: a.severity });
      if (channels.length > 0) {
        execute(SQL.insertDeliveries, [a.id, "resolved", [...channels], now]);
        queued = true;
      }
    }
  }
  let silenced: boolean | null = null;
  for (const open of decision.open) {
    silenced ??= jobId !== null && (execute(SQL.jobSilenced, [jobId, now])[0] as { silenced: boolean }).silenced;
    const row = execute(SQL.openAlert, [
      jobId, open.condition, open.key, open.severity, open.message, JSON.stringify(open.details), now, silenced, open.event === true,
    ])[0] as { id: string; opened: boolean };
    if (!row.opened) continue; // a repeat of an open alert: counted, not raised again
    opened++;
    if (silenced) continue;
    notify({ alert_id: row.id, event: "opened", job_id: jobId, condition: open.condition, severity: open.severity });
    if (channels.length > 0) {
      execute(SQL.insertDeliveries, [row.id, "opened", [...channels], now]);
      queued = true;
    }
  }
  if (queued) execute(SQL.notifyWakeup, ["alert"]);
  return opened;
}

// --- where the facts arise ------------------------------------------------------------------

/**
 * Runs ended (the lifecycle, holding their jobs' locks), in order: failures, recovery, long
 * runs, late starts. The rules are read once for all of them.
 */
export function alertsAfterRunsEnded(ended: readonly { run: RunRow; state: string; reason: string | null }[], nowMs: number): void {
  if (ended.length === 0) return;
  const jobIds = [...new Set(ended.map((e) => e.run.job_id))];
  const rulesByJob = rulesOfJobs(jobIds);
  // A resolve where nothing is open is a no-op: an UPDATE per run saved (an alert opened
  // by an earlier run of the batch counts as open for the later ones).
  const open = new Set((execute(SQL.jobsWithOpenAlerts, [jobIds]) as { job_id: string }[]).map((r) => r.job_id));
  for (const { run, state, reason } of ended) {
    if (alertsAfterEnd(run, state, reason, rulesByJob.get(run.job_id), open.has(run.job_id), nowMs)) open.add(run.job_id);
  }
}

/** Returns whether it may have opened an alert. */
function alertsAfterEnd(run: RunRow, state: string, reason: string | null, rules: AlertRules | undefined, anyOpen: boolean, nowMs: number): boolean {
  const apply = (jobId: string, d: AlertDecision, channels: readonly string[]): boolean => {
    applyAlertDecision(jobId, anyOpen ? d : { ...d, resolve: [] }, channels, nowMs);
    return d.open.length > 0;
  };
  const ended = {
    id: run.id, state, trigger: run.trigger ?? "manual", reason,
    slotAtMs: run.slot_at?.getTime() ?? null, startedAtMs: run.started_at?.getTime() ?? null,
  };
  if (rules === undefined) {
    // Not watched (any more): an alert left open from when it was still resolves all the same.
    const d = alertsOnRunEnd({ missedMs: null, longRunningMs: null, failures: null, deadManMs: null, recovery: false, to: [] }, ended, []);
    return apply(run.job_id, d, []);
  }
  const needed = previousRunsNeeded(rules);
  const previous = needed === 0 ? [] : (execute(SQL.previousRunStates, [run.job_id, run.id, needed]) as { state: string }[]).map((r) => r.state);
  return apply(run.job_id, alertsOnRunEnd(rules, ended, previous), rules.to);
}

/** Slots tick decided not to fire, by job: each watched job's missed alert. */
export function alertsForSkippedSlots(byJob: ReadonlyMap<string, NotFiredSlots[]>, nowMs: number): void {
  if (byJob.size === 0) return;
  const rules = rulesOfJobs([...byJob.keys()]);
  for (const [jobId, slots] of byJob) {
    const r = rules.get(jobId);
    if (r === undefined) continue;
    applyAlertDecision(jobId, alertsOnSkippedSlots(r, [...slots].sort((a, b) => a.fromMs - b.fromMs)), r.to, nowMs);
  }
}

/**
 * The sweep: late slots, long runs, dead-man periods, lost workers. At most once per
 * SWEEP_INTERVAL_MS across all callers unless `force`. Returns alerts opened, or null
 * when another sweep was recent (or is running).
 */
export function sweepAlerts(nowMs: number, force: boolean): number | null {
  const now = new Date(nowMs);
  const claimed = execute(SQL.claimAlertSweep, [now, force ? 0 : SWEEP_INTERVAL_MS]) as unknown[];
  if (claimed.length === 0 && !force) return null;
  let opened = 0;
  const jobs = execute(SQL.timedAlertJobs) as (RulesRow & { last_success_at: Date | null })[];
  if (jobs.length > 0) {
    const runs = execute(SQL.activeRunsOfJobs, [jobs.map((j) => j.job_id)]) as {
      id: string; job_id: string; state: string; trigger: string; slot_at: Date | null; started_at: Date | null;
    }[];
    const byJob = new Map<string, typeof runs>();
    for (const r of runs) {
      const list = byJob.get(r.job_id);
      if (list === undefined) byJob.set(r.job_id, [r]);
      else list.push(r);
    }
    for (const job of jobs) {
      const rules = rulesOf(job);
      const mine = byJob.get(job.job_id) ?? [];
      const decision = alertsOnSweep(rules, {
        waitingRuns: mine.filter((r) => r.state !== "running" && r.trigger === "schedule" && r.slot_at !== null)
          .map((r) => ({ runId: r.id, slotAtMs: r.slot_at!.getTime() })),
        runningRuns: mine.filter((r) => r.state === "running" && r.started_at !== null).map((r) => ({ runId: r.id, startedAtMs: r.started_at!.getTime() })),
        lastSuccessMs: job.last_success_at?.getTime() ?? null,
        watchedSinceMs: job.watched_since.getTime(),
      }, nowMs);
      opened += applyAlertDecision(job.job_id, decision, rules.to, nowMs);
    }
  }
  opened += sweepWorkers(nowMs);
  return opened;
}

function leaseMs(): number {
  return Number((execute(SQL.leaseMs)[0] as { lease_ms: number }).lease_ms);
}

/** Supervisors watch each other: a non-dedicated worker silent beyond its lease is lost. */
function sweepWorkers(nowMs: number): number {
  const workers = (execute(SQL.workersForAlerts) as { name: string; heartbeat_at: Date; stopped_at: Date | null }[])
    .map((w) => ({ name: w.name, heartbeatAtMs: w.heartbeat_at.getTime(), stoppedAtMs: w.stopped_at?.getTime() ?? null }));
  const openLost = (execute(SQL.openAlertKeys, ["worker_lost"]) as { key: string }[]).map((r) => r.key);
  const decision = alertsOnWorkers(workers, leaseMs(), nowMs, openLost);
  return applyAlertDecision(null, decision, alertDefaults()?.to ?? [], nowMs);
}

/**
 * A regular worker registers while no other is alive (register_worker): if none was alive
 * for longer than a lease before it, the scheduler was down meanwhile; that outage is
 * recorded as an event. `lastAliveAt`: the last sign of life of any worker before this one.
 */
export function recordSchedulerStart(lastAliveAt: Date | null, nowMs: number): boolean {
  if (lastAliveAt === null) return false;
  const event: OpenAlert | null = schedulerDownEvent(lastAliveAt.getTime(), leaseMs(), nowMs);
  if (event === null) return false;
  return applyAlertDecision(null, { open: [event], resolve: [] }, alertDefaults()?.to ?? [], nowMs) > 0;
}
