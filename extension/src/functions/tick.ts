// clockwork.tick: the supervisor's one call. In one short transaction it records what the
// supervisor reports about the SQL steps it ran since its last tick and decides their
// runs, fires every due schedule slot (exactly once: slots are claimed with SKIP LOCKED
// and recorded under a unique key), takes back expired leases, wakes runs at their
// deadline, claims ready steps for this worker, and says when anything is next due so the
// supervisor can sleep until then. tick never waits for a lock but for the runs it was
// sent reports about (as complete_step does); what another session is deciding is left
// for the next tick (db/lifecycle.ts, "Concurrency").
import { decideOverlap, nextFireTime, planDueSlots, type ActiveRun, type NotFiredSlots } from "../core/index.ts";
import { alertsForSkippedSlots } from "../db/alerts.ts";
import { checkSupervisorVersion } from "../db/compatibility.ts";
import { calendarDates, firstSlotFrom, readJobVersion } from "../db/jobs.ts";
import { raise } from "../db/raise.ts";
import { pruneHistory } from "../db/history.ts";
import { admitGroupsWithRoom, waitingForGroupReason } from "../db/groups.ts";
import { applyPlans, cancelRuns, expireLeases, lockJobs, planReleased, startGroupRuns, startWaitingRuns, wakeRuns } from "../db/lifecycle.ts";
import { readReports, recordReports, refuseClaims, settleUnreported } from "../db/reports.ts";
import { runTransactionOrders, settleRunTransactions, type RunTransactionOrders } from "../db/run-transactions.ts";
import { callingWorker, type WorkerRef } from "../db/workers.ts";
import { planRun, type RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { postgresTimeZoneRules } from "../db/timezone.ts";
import { instantOf, isoOrNull } from "../db/values.ts";
import { claimSteps, type StepClaim } from "./claim.ts";

/** Due schedules handled per tick; more are left for the next tick (next_due_at says so). */
const DUE_BATCH = 1000;
/** Runs fired per schedule and tick, so catching up a long outage cannot blow up one tick. */
const FIRE_LIMIT = 1000;
/**
 * How far ahead a tick may fire slots and claim steps. A supervisor ticks a little before
 * a due time and starts the claimed step on the dot, so the work of firing and claiming is
 * not part of the step's start lag (docs/sql-api.md, "Firing ahead").
 */
export const MAX_LOOKAHEAD_MS = 1000;
/**
 * Work a pass left because another session held its lock (a concurrency group's admission,
 * a whole-run transaction to settle) is tried again this soon: not at once, since the lock
 * may be a user's open transaction (define_job, define_group) that a supervisor must not
 * spin on.
 */
const LOCKED_RETRY_MS = 200;
/**
 * While a backlog keeps a worker ticking back to back (each tick's claim came back full),
 * the passes that look for work made by time passing or by other sessions (workers found
 * gone, unreported steps, whole-run transactions to settle, expired leases, run deadlines,
 * group admissions, history pruning) run at most this often for it: each costs a statement
 * that almost always finds nothing, 0.3-0.4 ms a tick in all, in ticks of 10 claims. What
 * they do comes at most this much later (docs/sql-api.md, "Housekeeping under a backlog").
 */
export const BUSY_HOUSEKEEPING_MS = 100;
/**
 * Per worker (by incarnation id), in this session: when its housekeeping passes last ran,
 * kept only while its ticks come back full. Session state: lost with the session or a new
 * bundle, after which the next tick runs them, as the first tick of a session does.
 */
const busySince = new Map<string, number>();

/**
 * Whether this tick must run the housekeeping passes: not when it claims for a worker whose
 * last tick here came back full and ran them less than BUSY_HOUSEKEEPING_MS before. A tick
 * that claims nothing (max_claims 0: reports only, or a settle after define_group's NOTIFY)
 * is no part of a backlog's run of ticks and runs them.
 */
function housekeepingDue(workerId: string, maxClaims: number, nowMs: number): boolean {
  const last = busySince.get(workerId);
  return maxClaims <= 0 || last === undefined || nowMs < last || nowMs >= last + BUSY_HOUSEKEEPING_MS;
}

interface DueSchedule {
  id: string;
  job_id: string;
  position: number;
  next_fire_at: Date;
  last_slot_at: Date | null;
  version: number;
}

interface NewRun {
  job_id: string;
  job_version: number;
  schedule_id: string;
  slot_at: string;
  trigger: "schedule";
  params: Record<string, never>;
  state: "queued" | "waiting";
  reason: string | null;
  concurrency_group: string | null;
  priority: number;
  waiting_for: "overlap" | "group" | null;
}

/**
 * Fires every slot due by `horizonMs` (now, or a few ms later when firing ahead); returns
 * how many runs were created. A slot fired ahead is planned as of its own time, so its
 * first steps become ready at the slot, not before.
 */
export function fireDueSlots(nowMs: number, horizonMs = nowMs): number {
  const now = new Date(nowMs);
  const horizon = Math.max(nowMs, horizonMs);
  const claimed = execute(SQL.claimDueSchedules, [new Date(horizon), DUE_BATCH]) as DueSchedule[];
  if (claimed.length === 0) return 0;
  // A job whose runs another session is deciding about (a run ending, a cancel) is left
  // for the next tick, which then sees what that session wrote.
  const held = lockJobs(claimed.map((d) => d.job_id), "skip");
  const due = claimed.filter((d) => held.has(d.job_id));
  if (due.length === 0) return 0;

  const jobIds = [...new Set(due.map((d) => d.job_id))];
  const active = new Map<string, { running: ActiveRun[]; waiting: number }>();
  for (const id of jobIds) active.set(id, { running: [], waiting: 0 });
  for (const r of execute(SQL.activeRuns, [jobIds]) as { id: string; job_id: string; state: string; waiting_for: string | null; since: Date }[]) {
    const a = active.get(r.job_id)!;
    // A run waiting for a slot in its concurrency group has passed the overlap policy: it
    // is one of the job's instances. Held back by the overlap policy: it is buffered.
    if (r.waiting_for === "overlap") a.waiting++;
    else a.running.push({ runId: r.id, startedAtMs: r.since.getTime() });
  }

  let calendars: Record<string, string[]> | undefined;
  const runs: NewRun[] = [];
  const skipped: { schedule_id: string; slot_at: string; last_slot_at?: string; slots: number | null; reason: string }[] = [];
  const advanced: { id: string; next_fire_at: string | null; last_slot_at: string | null }[] = [];
  /** Runs to stop for a new run (overlap replace), by the new run's schedule and slot. */
  const replacing: { scheduleId: string; slotAt: string; jobId: string; cancel: string[]; graceful: boolean }[] = [];

  for (const d of due) {
    const read = readJobVersion(d.job_id, d.version);
    if (!read.ok) {
      // A definition stored by an older version that this one cannot read must not stop
      // every other job: its schedule stops, the slot is recorded with the reason, and the
      // job fires again once it is defined anew (UPDATING.md). Only that: any other error
      // (of the database, a cancel) ends the tick, as it must.
      skipped.push({ schedule_id: d.id, slot_at: d.next_fire_at.toISOString(), slots: 1, reason: "definition_unreadable" });
      advanced.push({ id: d.id, next_fire_at: null, last_slot_at: null });
      continue;
    }
    const job = read.job;
    const schedule = job.schedules[d.position];
    if (schedule === undefined) {
      advanced.push({ id: d.id, next_fire_at: null, last_slot_at: null });
      continue;
    }
    const first = d.next_fire_at.getTime();
    // Overlap decisions against runs still active are made at the slot, not ahead of it:
    // a run that ends in between would otherwise be replaced, or make the slot skip.
    const jobActive = active.get(d.job_id)!;
    const busy = jobActive.running.length > 0 || jobActive.waiting > 0;
    if (first > nowMs && busy && job.policies.overlap.mode !== "allow_all") continue;
    calendars ??= calendarDates();
    const context = { calendars, anchorMs: first };
    // Which due slots fire and which are skipped (a long outage: as ranges, in one tick).
    // @after and one-shot schedules have exactly the slot the database stored.
    const plan = planDueSlots(schedule, first, nowMs, horizon, job.policies.misfire, postgresTimeZoneRules, context, FIRE_LIMIT);
    for (const r of plan.skipped) {
      skipped.push({ schedule_id: d.id, slot_at: new Date(r.fromMs).toISOString(), last_slot_at: new Date(r.toMs).toISOString(), slots: r.count, reason: r.reason });
    }

    let fired = false;
    for (const [i, slotMs] of plan.fire.entries()) {
      const overlap = decideOverlap(job.policies.overlap, jobActive.running, jobActive.waiting, plan.catchUp[i]);
      const slot_at = new Date(slotMs).toISOString();
      if (overlap.action === "skip") {
        skipped.push({ schedule_id: d.id, slot_at, slots: 1, reason: overlap.reason });
        continue;
      }
      fired = true;
      let state: NewRun["state"] = "queued";
      let reason: string | null = null;
      let waitingFor: NewRun["waiting_for"] = null;
      if (overlap.action === "replace") {
        // The new run waits until the runs it replaces have ended (at once, for terminate).
        replacing.push({ scheduleId: d.id, slotAt: slot_at, jobId: d.job_id, cancel: overlap.cancel, graceful: overlap.graceful });
        jobActive.running = jobActive.running.filter((r) => !overlap.cancel.includes(r.runId));
        state = "waiting";
        waitingFor = "overlap";
        reason = `waiting for run ${overlap.cancel.join(", ")} to stop (overlap: ${job.policies.overlap.mode})`;
      } else if (overlap.action === "queue") {
        state = "waiting";
        waitingFor = "overlap";
        reason = plan.catchUp[i]
          ? "catch-up run waiting for the runs ahead of it to end"
          : `waiting for an earlier run of the job to end (overlap: ${job.policies.overlap.mode})`;
      }
      else if (job.policies.group !== null) {
        // A run of a concurrency group takes a slot there only through the group's
        // admission, after the insert (db/groups.ts).
        state = "waiting";
        waitingFor = "group";
        reason = waitingForGroupReason(job.policies.group, null);
      }
      if (waitingFor === "overlap") jobActive.waiting++;
      // A run made by this tick, named until it has an id (a later slot may replace it).
      else jobActive.running.push({ runId: `new:${d.id}/${slot_at}`, startedAtMs: nowMs });
      runs.push({
        job_id: d.job_id, job_version: d.version, schedule_id: d.id, slot_at, trigger: "schedule", params: {}, state, reason,
        concurrency_group: job.policies.group, priority: job.policies.priority, waiting_for: waitingFor,
      });
    }

    // More due slots than one tick fires: the next tick goes on from the last one decided.
    const lastSlot = plan.lastSlotMs ?? first;
    let next: number | null;
    if (schedule.kind === "reboot") next = null; // set when a scheduler starts
    else if (schedule.kind === "after") {
      // Set when the job's run ends; a slot that became no run (missed, or skipped) counts
      // its delay from now, unless a run is still going whose end will set it.
      const going = jobActive.running.length > 0 || jobActive.waiting > 0;
      next = fired || going ? null : firstSlotFrom(schedule, nowMs, nowMs, calendars);
    } else next = nextFireTime(schedule, plan.more ? lastSlot : Math.max(horizon, lastSlot), postgresTimeZoneRules, context);
    advanced.push({ id: d.id, next_fire_at: isoOrNull(next), last_slot_at: new Date(lastSlot).toISOString() });
  }

  if (skipped.length > 0) {
    execute(SQL.insertSkippedSlots, [JSON.stringify(skipped), now]);
    // Slots not fired were not started: the jobs watched for missed slots get an alert.
    const jobOf = new Map(due.map((d) => [d.id, d.job_id]));
    const byJob = new Map<string, NotFiredSlots[]>();
    for (const r of skipped) {
      const jobId = jobOf.get(r.schedule_id)!;
      const slots = byJob.get(jobId) ?? [];
      slots.push({ fromMs: Date.parse(r.slot_at), toMs: Date.parse(r.last_slot_at ?? r.slot_at), count: r.slots, reason: r.reason });
      byJob.set(jobId, slots);
    }
    alertsForSkippedSlots(byJob, nowMs);
  }
  execute(SQL.advanceSchedules, [JSON.stringify(advanced), advanced.map((a) => a.id)]);
  if (runs.length === 0) return 0;
  const created = execute(SQL.insertRuns, [JSON.stringify(runs), now]) as (RunRow & { slot_at: Date })[];
  // Plans are written in batches, one per planning time: now, or the slot when fired ahead.
  const byTime = new Map<number, RunRow[]>();
  for (const run of created) {
    if (run.state !== "queued") continue;
    const at = Math.max(nowMs, run.slot_at.getTime());
    const batch = byTime.get(at);
    if (batch === undefined) byTime.set(at, [run]);
    else batch.push(run);
  }
  for (const [at, batch] of byTime) applyPlans(batch.map((r) => planRun(r, [], at)), at);
  startGroupRuns(created.filter((r) => r.waiting_for === "group").map((r) => r.concurrency_group), nowMs);
  if (replacing.length > 0) {
    const idOf = new Map(created.map((r) => [`${r.schedule_id}/${r.slot_at.toISOString()}`, r.id]));
    const realId = (id: string) => (id.startsWith("new:") ? idOf.get(id.slice(4)) : id);
    for (const r of replacing) {
      const newId = idOf.get(`${r.scheduleId}/${r.slotAt}`);
      if (newId === undefined) continue;
      r.cancel = r.cancel.map(realId).filter((id): id is string => id !== undefined);
      const mode = r.graceful ? "cancel" : "terminate";
      cancelRuns(r.cancel, mode, `replaced by run ${newId} (overlap: ${r.graceful ? "cancel_other" : "terminate_other"})`, nowMs, "skip");
    }
    for (const jobId of new Set(replacing.map((r) => r.jobId))) startWaitingRuns(jobId, nowMs);
  }
  return created.length;
}

/**
 * start_in_ms counted from the end of the tick, when the answer leaves, not from the claim.
 * Date.now() is whole milliseconds, never ahead of the clock, so this is never too short;
 * a claim made with a pinned `now` (tests) is not waited for longer than any lookahead.
 */
function startingFromNow(claims: Omit<StepClaim, "start_in_ms">[]): StepClaim[] {
  const leaving = Date.now();
  return claims.map((c) => ({ ...c, start_in_ms: Math.min(MAX_LOOKAHEAD_MS, Math.max(0, Date.parse(c.start_at) - leaving)) }));
}

export interface TickAnswer {
  claimed: StepClaim[];
  next_due_at: string | null;
  /** Step runs whose report was refused: their claim no longer holds (lease passed, run cancelled). */
  refused_reports: string[];
  /**
   * The whole-run transactions (transaction: run) this worker holds: to keep open, and to
   * commit now. One it holds that is in neither list is to be rolled back (its run ended).
   */
  transactions: RunTransactionOrders;
}

/** One tick for the worker `ref` names (tick by name, tick_by_id by incarnation). */
function tickFor(ref: WorkerRef, maxClaims: number, now: Date, lookaheadMs: number | null, reportsArg: unknown): TickAnswer {
  const nowMs = instantOf(now);
  const lookahead = lookaheadMs ?? 0;
  if (!(lookahead >= 0 && lookahead <= MAX_LOOKAHEAD_MS)) {
    raise("invalid_argument", "lookahead_ms", `lookahead_ms must be between 0 and ${MAX_LOOKAHEAD_MS}, not ${lookahead}`);
  }
  const reports = readReports(reportsArg);
  const horizonMs = nowMs + lookahead;
  checkSupervisorVersion();
  const me = callingWorker(ref, now);
  const accepted = new Set(recordReports(me, reports, nowMs).accepted);
  const housekeeping = housekeepingDue(me.id, maxClaims, nowMs);
  let taken = 0;
  let transactionsLeft = false;
  if (housekeeping) {
    // Workers found gone end here and their leases end now, so the lease expiry below
    // takes their steps back at once (docs/faults.md, "Workers").
    taken = (execute(SQL.settleWorkers, [now])[0] as { taken: number }).taken;
    settleUnreported(nowMs, DUE_BATCH);
    // Whole-run transactions committed (their runs succeed) or lost with their holder (they fail).
    transactionsLeft = settleRunTransactions(nowMs, DUE_BATCH);
  }
  const refusedReports = reports.map((r) => String(r.step_run)).filter((id) => !accepted.has(id));
  // A dedicated worker (clockwork run) fires no slot: a slot fired by it would become a
  // run that only the regular supervisors execute, outside the job's misfire policy.
  // Firing is never left for later: it is what the start lag of a scheduled step waits for.
  if (me.pinned_to === null) fireDueSlots(nowMs, horizonMs);
  let groups: ReturnType<typeof admitGroupsWithRoom> = { released: [], deferred: false };
  if (housekeeping) {
    expireLeases(nowMs);
    wakeRuns(nowMs, DUE_BATCH);
    // Concurrency groups with a slot free and a run waiting for it: what an admission
    // elsewhere could not do (a lock held) or a raised limit allows (db/groups.ts).
    groups = admitGroupsWithRoom(nowMs);
    if (groups.released.length > 0) applyPlans(groups.released.map((r) => planReleased(r, nowMs)), nowMs);
  }
  const { claimed, refused } = maxClaims > 0 ? claimSteps(me, maxClaims, nowMs, horizonMs) : { claimed: [], refused: [] };
  if (refused.length > 0) refuseClaims(refused, nowMs);
  // Bounded history: a small pruning pass every few seconds, by whichever supervisor gets
  // there. Not in a tick that claimed a step to start ahead of its time: that answer is
  // on the clock (fire-ahead), and the next tick prunes as well, unless passes are overdue.
  if (housekeeping) pruneHistory(nowMs, false, claimed.some((c) => Date.parse(c.start_at) > nowMs));
  // A full claim means more may be ready: due now, and no need to ask when. So does a
  // gone worker's step taken back by this tick, which this worker may claim next.
  const full = maxClaims > 0 && claimed.length + refused.length >= maxClaims;
  // The worker will tick again at once: its next ticks may leave the housekeeping to one
  // BUSY_HOUSEKEEPING_MS after this one's. A tick that does not come back full ends that,
  // and the next_due_at it returns counts what the passes would find (an expired lease, a
  // deadline), so the next tick, which runs them, comes at once.
  if (!full) busySince.delete(me.id);
  else if (housekeeping) busySince.set(me.id, nowMs);
  if (full || (taken > 0 && maxClaims > claimed.length)) {
    return { claimed: startingFromNow(claimed), next_due_at: new Date(nowMs).toISOString(), refused_reports: refusedReports, transactions: runTransactionOrders(me.id) };
  }
  const next = execute(SQL.nextDueAt, [me.labels, me.pinned_to, me.id])[0] as { next_due_at: Date | null };
  let nextDue = next.next_due_at === null ? null : next.next_due_at.getTime();
  if (groups.deferred || transactionsLeft) nextDue = Math.min(nextDue ?? Infinity, nowMs + LOCKED_RETRY_MS);
  return {
    claimed: startingFromNow(claimed),
    next_due_at: nextDue === null ? null : new Date(nextDue).toISOString(),
    refused_reports: refusedReports,
    transactions: runTransactionOrders(me.id),
  };
}

const TICK_COMMENT =
  "Records the worker's reports on the SQL steps it ran and decides their runs, fires due schedule slots exactly once, takes back expired leases (at once for workers found gone), prunes history beyond its retention (a small batch every 10 s), claims up to max_claims ready steps for the worker; settles whole-run transactions (committed: the run succeeds; their supervisor gone: the run fails); returns {claimed, next_due_at, refused_reports, transactions: {open, commit}}. With lookahead_ms (at most 1000), slots and steps due that soon are fired and claimed ahead; each claim says when to start (start_at).";

// A burst (run_now × 5000) fills the ready queue faster than autovacuum analyzes it: on
// the stale estimate the planner claims through a bitmap scan that sorts the whole
// backlog to take the first few rows (12 ms at 20 000). Every tick statement is an
// ordered or keyed index lookup, so bitmap scans are never the better plan here.
const TICK_SETTINGS = { enable_bitmapscan: "off" } as const;

// The answer is json, not jsonb: it is made as JSON text (JSON.stringify of TickAnswer) and
// read by the supervisor as JSON text, and a jsonb answer was parsed into jsonb only to be
// printed back (jsonb_in, then jsonb_out: about 0.6 ms of the tick backend for a tick of 50
// claims, 44 KB; json_in only checks the text, 0.005 ms). Nobody reads it with jsonb operators.
const TICK_RETURNS = "json";

/** tick(worker_id bigint, …): a supervisor's tick, for the incarnation start_worker returned. */
export const tick_by_id = sqlFunction({
  name: "tick",
  entry: "tick_by_id",
  args: "worker_id bigint, max_claims integer DEFAULT 10, now timestamptz DEFAULT now(), lookahead_ms integer DEFAULT 0, reports jsonb DEFAULT NULL",
  returns: TICK_RETURNS,
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  settings: TICK_SETTINGS,
  comment: `${TICK_COMMENT} Raises worker_ended when the incarnation ended (it was replaced, or found gone).`,
  body: (workerId: string | number | bigint, maxClaims: number, now: Date, lookaheadMs: number | null, reports: unknown): TickAnswer =>
    tickFor({ id: String(workerId) }, maxClaims, now, lookaheadMs, reports),
});

/** tick(worker text, …): by name, the worker's current incarnation (tools and tests). */
export const tick = sqlFunction({
  name: "tick",
  args: "worker text, max_claims integer DEFAULT 10, now timestamptz DEFAULT now(), lookahead_ms integer DEFAULT 0, reports jsonb DEFAULT NULL",
  returns: TICK_RETURNS,
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  settings: TICK_SETTINGS,
  comment: `${TICK_COMMENT} By name: the worker's current incarnation (supervisors pass their incarnation id).`,
  body: (worker: string, maxClaims: number, now: Date, lookaheadMs: number | null, reports: unknown): TickAnswer =>
    tickFor({ name: worker }, maxClaims, now, lookaheadMs, reports),
});
