// Runs the step claims a tick hands out and reports their results. It keeps only what a
// running step needs (its process, or its connection) and the reports of SQL steps until
// the next tick takes them; the database holds the truth, so losing this process loses
// nothing: the leases expire and another worker re-runs.
import { type ClockworkApi, type StepClaim, type StepReport, type StopCause } from "../api.ts";
import type { SupervisorConfig } from "../config.ts";
import { errorFields, stepScope, type Logger } from "../logging.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import { killGroup, startProcessStep, type RunningProcess } from "./shell.ts";
import type { OwnerConnections, OwnerLease } from "./owner-connections.ts";
import type { ProcessRegistry } from "./process-registry.ts";
import { RunTransactions } from "./run-transactions.ts";
import { startSqlStep, type RunningSqlStep, type SqlStepResult } from "./sql.ts";
import { startBuiltinStep, type RunningBuiltin } from "./builtins.ts";
import { runOwnerBuiltin } from "./owner-builtins.ts";
import { Mailer } from "../alerts/mail.ts";

interface RunningStep {
  readonly claim: StepClaim;
  readonly log: Logger;
  process?: RunningProcess;
  sql?: RunningSqlStep;
  builtin?: RunningBuiltin;
  /** A step claimed ahead, waiting for its start time. */
  pending?: { stopWaiting: () => void; release: () => void };
  /** performance.now() when the claim arrived. */
  readonly claimedAt: number;
  /** For an SQL step waiting for its start: the connection it will run on. */
  lease?: OwnerLease;
  cancelRequested: boolean;
  /**
   * Its process or built-in has ended and its result is being reported (complete_step). A
   * heartbeat that crosses the report hears from the database that the step is no longer
   * held, which is the report itself, not a loss: there is nothing left to stop.
   */
  reporting?: boolean;
  /** Why it was stopped, once it was. */
  stoppedAs?: "cancelled" | "shutdown" | "fenced";
  /**
   * performance.now() by which its lease ends unless a heartbeat extends it, counted from
   * when the claiming tick or the extending heartbeat was sent (never later than the
   * database's own lease_expires_at).
   */
  leaseEndsAt: number;
  /**
   * Stopped when its lease ends here without a heartbeat: steps whose duplicates nothing
   * fences (shell, program, SQL steps that report afterwards). An SQL step in the
   * scheduler's database is fenced by its claim when it commits, so it runs on.
   */
  stopsWithLease: boolean;
  /** Set while a re-run waits for an earlier attempt's processes on this host. */
  stopWaitingForEarlier?: () => void;
  done: Promise<void>;
}

/** A claim waiting for a slot (claimed ahead under a backlog, see --claim-ahead). */
interface QueuedClaim {
  readonly claim: StepClaim;
  /** performance.now() when the tick that claimed it was sent: its lease runs from then. */
  readonly tickSentAt: number;
  /** performance.now() when it was queued. */
  readonly queuedAt: number;
  /** As RunningStep.leaseEndsAt: a claim whose lease ended here is not started. */
  leaseEndsAt: number;
}

/**
 * A claim waits this long for a slot at most; then it is given back with the next tick
 * (outcome "released"), so a step claimed ahead never waits on one busy supervisor for
 * long while another could run it (long steps ahead of it, the backlog gone).
 */
export const QUEUE_TTL_MS = 1000;

/** A step claimed ahead: the last this many ms before its start are waited by spinning. */
const SPIN_MS = 2;
/**
 * An SQL step claimed ahead hands the last this many ms of its wait to the database
 * (wait_until). Not less: the supervisor's timer can fire this late on a loaded machine
 * (up to 12 ms seen), and a call that went out after the slot made the step that late,
 * while the database, already waiting, starts it on its own clock.
 */
const SQL_WAIT_LEAD_MS = 20;
/** A re-run looks this often whether an earlier attempt's processes on this host have ended. */
const EARLIER_POLL_MS = 100;

/** How the database hears why this supervisor stopped a step (complete_step's stopped_by). */
function stopCause(stoppedBy: "timeout" | "cancelled" | "fenced" | "shutdown" | null): StopCause {
  return stoppedBy === "timeout" ? "timeout" : stoppedBy === "cancelled" ? "cancel" : "none";
}

export class StepExecutor {
  private readonly running = new Map<string, RunningStep>();
  /** Claims beyond the free slots, highest priority first, then as claimed: each starts as a slot frees. */
  private queue: QueuedClaim[] = [];
  private queueTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Set at the end of a shutdown: results are no longer reported (the leases are handed back). */
  private abandoned = false;
  /** What became of SQL steps, for the next tick to record. */
  private reports: StepReport[] = [];
  /** performance.now() when the oldest of `reports` came (null: none wait). */
  private reportsSince: number | null = null;
  /** The step runs of `queue`, to refuse a claim twice without a scan. */
  private queuedIds = new Set<string>();
  private leaseMs = 30_000;
  private leaseTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: SupervisorConfig,
    private readonly api: ClockworkApi,
    private readonly connections: OwnerConnections,
    private readonly processes: ProcessRegistry,
    private readonly metrics: SupervisorMetrics,
    private readonly log: Logger,
    private readonly onFinished: () => void,
    /** Mail for the mail built-in: the supervisor's one SMTP transport. */
    private readonly mailer: Mailer = new Mailer(config.smtpUrl, config.smtpFrom),
  ) {
    this.runTransactions = new RunTransactions(connections, api, log, onFinished);
  }

  /** The whole-run transactions (transaction: run) held here; tick's answer says what becomes of them. */
  readonly runTransactions: RunTransactions;

  setLeaseMs(leaseMs: number): void {
    this.leaseMs = leaseMs;
  }

  /** Steps running (or waiting for their start) and claims queued for a slot. */
  get size(): number {
    return this.running.size + this.queue.length;
  }

  /** How many steps have ended here (a running count, for the rate they end at). */
  get finishedSteps(): number {
    return this.finishedCount;
  }
  private finishedCount = 0;

  /** Claims queued for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Reports waiting for a tick. */
  get pendingReports(): number {
    return this.reports.length;
  }

  /** performance.now() when the oldest report waiting for a tick came, or null. */
  get oldestReportAt(): number | null {
    return this.reports.length > 0 ? this.reportsSince : null;
  }

  /** The reports for the tick about to go out; give them back with restoreReports if it fails. */
  takeReports(): StepReport[] {
    const taken = this.reports;
    this.reports = [];
    this.reportsSince = null;
    return taken;
  }

  restoreReports(reports: readonly StepReport[]): void {
    if (reports.length === 0) return;
    this.reports.unshift(...reports);
    this.reportsSince = Math.min(this.reportsSince ?? Infinity, performance.now());
  }

  /** Queues a report for the next tick. */
  private addReport(report: StepReport): void {
    if (this.reports.length === 0) this.reportsSince = performance.now();
    this.reports.push(report);
  }

  get freeSlots(): number {
    return Math.max(0, this.config.concurrency - this.running.size);
  }

  /**
   * How many steps the next tick may claim: the free slots, plus, under a backlog, up to
   * `ahead` more that wait here for a slot (a local queue: a slot that frees starts the
   * next claim at once instead of waiting for a tick's round trip).
   */
  claimRoom(ahead: number): number {
    return Math.max(0, this.config.concurrency + ahead - this.running.size - this.queue.length);
  }

  /**
   * Starts a claimed step, at once or, for a step claimed ahead, at its start_at. It counts
   * against the concurrency from the claim on. `tickSentAt` (performance.now()) is when the
   * tick that claimed it was sent: its lease runs from no earlier than that.
   */
  start(claim: StepClaim, tickSentAt = performance.now()): void {
    if (this.running.has(claim.step_run_id) || this.queuedIds.has(claim.step_run_id)) {
      this.log.warn({ step_run: claim.step_run_id }, "claim for a step already running here; ignored");
      return;
    }
    if (this.running.size >= this.config.concurrency) {
      const now = performance.now();
      // Highest priority first, then in the order claimed (as the database claims them): a
      // step of a higher priority claimed later does not wait behind lower ones queued here.
      // (A claim from an extension before priorities has none: 0, the default.)
      const priority = claim.priority ?? 0;
      const entry = { claim, tickSentAt, queuedAt: now, leaseEndsAt: tickSentAt + this.leaseMs };
      // Most claims come in the queue's order (a tick claims highest priority first): at the end.
      const last = this.queue[this.queue.length - 1];
      const at = last === undefined || (last.claim.priority ?? 0) >= priority ? -1 : this.queue.findIndex((q) => (q.claim.priority ?? 0) < priority);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, entry);
      this.queuedIds.add(claim.step_run_id);
      this.armQueueTimer();
      return;
    }
    this.run(claim, tickSentAt);
  }

  /** Starts queued claims in order while slots are free; drops those whose lease ended here. */
  private startQueued(): void {
    const now = performance.now();
    while (this.queue.length > 0 && this.running.size < this.config.concurrency) {
      const next = this.queue.shift()!;
      this.queuedIds.delete(next.claim.step_run_id);
      if (next.leaseEndsAt <= now) {
        this.log.child(stepScope(next.claim)).warn("queued claim not started: its lease ended without a heartbeat (the database was out of reach); another worker may run it");
        continue;
      }
      this.run(next.claim, next.tickSentAt);
    }
  }

  /** Gives back every queued claim with the next tick. */
  private releaseQueued(): void {
    const queued = this.queue;
    this.dropQueued();
    for (const q of queued) this.releaseClaim(q.claim, "its supervisor's last SQL step lost its connection or could not log in");
  }

  /** Claims queued longer than QUEUE_TTL_MS are given back with the next tick. */
  private armQueueTimer(): void {
    if (this.queueTimer !== undefined || this.queue.length === 0) return;
    // The queue is in priority order: the first to go stale is the one queued first.
    const first = Math.min(...this.queue.map((q) => q.queuedAt));
    const wait = Math.max(0, first + QUEUE_TTL_MS - performance.now());
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined;
      const now = performance.now();
      const stale = this.queue.filter((q) => now - q.queuedAt >= QUEUE_TTL_MS);
      if (stale.length > 0) {
        this.setQueue(this.queue.filter((q) => now - q.queuedAt < QUEUE_TTL_MS));
        for (const q of stale) this.releaseClaim(q.claim, "it waited too long for a slot here");
        this.onFinished();
      }
      this.armQueueTimer();
    }, wait + 1);
    this.queueTimer.unref();
  }

  /**
   * Gives a claim that never started back to the database with the next tick: its step is
   * ready again, same attempt, for any worker (a claim from an older extension, without its
   * secret, is left to its lease).
   */
  private releaseClaim(claim: StepClaim, why: string): void {
    if (this.abandoned || typeof claim.claim !== "string") return;
    this.log.child(stepScope(claim)).info(`claim given back unstarted: ${why}`);
    this.addReport({ step_run: claim.step_run_id, claim: claim.claim, outcome: "released", due_at: claim.due_at });
  }

  /** Runs a claim in a slot now (or at its start_at, for one claimed ahead of it). */
  private run(claim: StepClaim, tickSentAt: number): void {
    const log = this.log.child(stepScope(claim));
    const entry: RunningStep = {
      claim, log, claimedAt: performance.now(), cancelRequested: false, done: Promise.resolve(),
      leaseEndsAt: tickSentAt + this.leaseMs,
      stopsWithLease: claim.kind !== "sql" || claim.sql?.exactly_once !== true,
    };
    // start_in_ms is counted by the database's clock from the claim, so a skewed clock here
    // does not matter; the claim reached us a little after it was made, so this is never
    // early by the database's clock (run_sql_step refuses an early call, see api.ts).
    const wait = Math.max(0, claim.start_in_ms ?? 0);
    if (wait > 0) {
      const startAt = entry.claimedAt + wait;
      if (claim.kind === "sql" && claim.sql !== null && claim.sql.run_transaction === null) {
        // Log in while waiting, so the step goes out on the dot (a step of a run's
        // transaction runs on the connection that holds it).
        this.connections.acquire(claim.sql).then((lease) => {
          if (entry.pending) entry.lease = lease;
          else lease.release("reuse"); // started (on another connection) or stopped meanwhile
        }, () => {}); // cannot log in: the start says so (and hands the step back)
      }
      entry.done = new Promise<void>((release) => {
        const begin = (lease?: OwnerLease) => {
          entry.pending = undefined;
          if (entry.cancelRequested) {
            lease?.release("reuse");
            release();
          } else if (claim.kind === "sql") {
            if (lease) entry.lease = lease;
            this.launch(entry).then(release, release);
          } else {
            // Spawning blocks the event loop for milliseconds: SQL steps due at the same
            // instant go out first.
            setImmediate(() => this.launch(entry).then(release, release));
          }
        };
        // A timer fires up to a millisecond or two late; the last stretch is spun on the
        // event loop (setImmediate), which is precise to a few microseconds.
        const waitFor = (target: number, then: () => void) => {
          const remaining = target - performance.now();
          if (remaining > SPIN_MS) {
            const timer = setTimeout(() => waitFor(target, then), remaining - SPIN_MS);
            entry.pending = { stopWaiting: () => clearTimeout(timer), release };
          } else if (remaining > 0) {
            const immediate = setImmediate(() => waitFor(target, then));
            entry.pending = { stopWaiting: () => clearImmediate(immediate), release };
          } else {
            then();
          }
        };
        const local = claim.sql !== null && claim.sql.target.database === null && claim.sql.target.connection === null && claim.sql.target.conninfo === null;
        if (!local) return waitFor(startAt, () => begin());
        // An SQL step in this database: shortly before its start, the database waits on the
        // step's own connection until start_at by its clock (wait_until), and the step
        // follows at once; the commit and network time of the claim no longer make it late.
        const handOver = () => {
          const lease = entry.lease;
          if (lease === undefined) {
            // Not logged in yet: the claim came less than SQL_WAIT_LEAD_MS before its start
            // and the pool answers on a later turn of the event loop (at once for a pooled
            // connection). Look again on the next turn; at the start, start without it.
            if (performance.now() >= startAt) return begin();
            const immediate = setImmediate(handOver);
            entry.pending = { stopWaiting: () => clearImmediate(immediate), release };
            return;
          }
          entry.lease = undefined; // in use: a cancel meanwhile must not release it
          entry.pending = { stopWaiting: () => {}, release };
          this.api.waitUntil(claim.start_at, lease.client).then(
            () => begin(lease),
            () => {
              lease.release("destroy");
              waitFor(startAt, () => begin());
            },
          );
        };
        waitFor(startAt - SQL_WAIT_LEAD_MS, handOver);
      });
    } else {
      entry.done = this.launch(entry);
    }
    this.running.set(claim.step_run_id, entry);
    this.armLeaseTimer();
    const kind = claim.kind;
    this.metrics.stepsRunning.inc({ kind });
    void entry.done.finally(() => {
      this.running.delete(claim.step_run_id);
      this.finishedCount++;
      this.metrics.stepsRunning.dec({ kind });
      this.startQueued();
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.onFinished();
    });
  }

  // --- leases -----------------------------------------------------------------------

  /** The step runs held here, for the heartbeat. */
  held(): string[] {
    return [...this.running.keys(), ...this.queue.map((q) => q.claim.step_run_id)];
  }

  /** A heartbeat sent at `sentAt` extended these leases. */
  extended(stepRunIds: readonly string[], sentAt: number): void {
    for (const id of stepRunIds) {
      const entry = this.running.get(id);
      if (entry !== undefined) entry.leaseEndsAt = Math.max(entry.leaseEndsAt, sentAt + this.leaseMs);
    }
    const ids = new Set(stepRunIds.map(String));
    for (const q of this.queue) if (ids.has(q.claim.step_run_id)) q.leaseEndsAt = Math.max(q.leaseEndsAt, sentAt + this.leaseMs);
    this.armLeaseTimer();
  }

  /** The database says these steps are no longer ours (taken back, or ended by it): stop them, report nothing. */
  lost(stepRunIds: readonly string[], why = "the database no longer counts it as ours (its lease passed to another worker, or its run ended)"): void {
    this.unqueue(stepRunIds);
    for (const id of stepRunIds) {
      const entry = this.running.get(String(id));
      if (!entry || entry.cancelRequested || entry.reporting) continue;
      entry.cancelRequested = true;
      entry.log.warn({ reason: why }, "stopping step: it is no longer held by this supervisor");
      this.stopEntry(entry, "fenced");
    }
  }

  /**
   * A step whose lease ran out here without a heartbeat (the database out of reach) may be
   * run again by another worker from now on: it is stopped, so that two copies do not run
   * for longer than the kill grace.
   */
  private armLeaseTimer(): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    let first = Infinity;
    for (const entry of this.running.values()) {
      if (entry.stopsWithLease && !entry.cancelRequested && !entry.reporting) first = Math.min(first, entry.leaseEndsAt);
    }
    if (first === Infinity) return;
    this.leaseTimer = setTimeout(() => {
      const now = performance.now();
      const expired = [...this.running.values()].filter((e) => e.stopsWithLease && !e.cancelRequested && !e.reporting && e.leaseEndsAt <= now);
      if (expired.length > 0) this.lost(expired.map((e) => e.claim.step_run_id), "its lease ended without a heartbeat (the database was out of reach): another worker may run it now");
      this.armLeaseTimer();
    }, Math.max(0, first - performance.now()) + 1);
    this.leaseTimer.unref();
  }

  /** Runs the step now; resolves when it has ended and its result is reported. */
  private launch(entry: RunningStep): Promise<void> {
    const { claim, log } = entry;
    const kind = claim.kind;
    if (claim.attempt === 1 && claim.step_run_id) this.noteRun(claim);
    // Lag by the database's clock: its start_at minus its due_at, plus how late this start
    // is against start_at (the time waited beyond start_in_ms).
    const dueAt = Date.parse(claim.due_at ?? "");
    const startAt = Date.parse(claim.start_at ?? "");
    if (!Number.isNaN(dueAt) && !Number.isNaN(startAt)) {
      const late = Math.max(0, performance.now() - entry.claimedAt - (claim.start_in_ms ?? 0));
      this.metrics.startLag.observe({ kind }, (Math.max(0, startAt - dueAt) + late) / 1000);
    }

    if (kind === "sql") {
      if (claim.sql === null) return this.report(claim, log, 127, "an SQL claim without its script (a newer database?)", "none", false);
      const lease = entry.lease;
      entry.lease = undefined;
      const lateMs = Math.max(0, performance.now() - entry.claimedAt - (claim.start_in_ms ?? 0));
      entry.sql = startSqlStep(claim, { connections: this.connections, lease, lateMs, runTransactions: this.runTransactions, outputLimitBytes: this.config.outputLimitBytes });
      log.info({ kind, login: claim.sql.login, autonomous: claim.sql.autonomous, run_transaction: claim.sql.run_transaction !== null }, "step started"); // after the call went out
      return entry.sql.result.then(
        (result) => this.finishSql(claim, log, result),
        (error) => log.error({ error: errorFields(error) }, "SQL step crashed (bug); its lease will expire and it will be retried"),
      );
    }
    if (kind === "shell" || kind === "program") return this.launchProcess(entry);
    log.info({ kind }, "step started");
    if (kind === "builtin") {
      entry.builtin = startBuiltinStep(claim, {
        workDir: this.config.workDir, secrets: this.config.secrets, mailer: this.mailer, outputLimitBytes: this.config.outputLimitBytes,
        // COPY and pg-boss run on a connection logged in as the job's owner, as SQL steps do.
        runWithOwner: (c, args, signal, area) => runOwnerBuiltin(args, {
          acquire: async () => {
            if (c.owner_work === null) throw new Error(`the claim of the ${c.builtin} built-in names no owner connection`);
            const lease = await this.connections.acquire(c.owner_work);
            return { client: lease.client, cancel: () => lease.cancel(), release: (how) => lease.release(how) };
          },
          area, signal, params: c.params ?? {},
        }),
      });
      return this.finishBuiltin(claim, log, entry.builtin);
    }
    // An unknown kind is the database's mistake, reported as a failure rather than ignored.
    return this.report(claim, log, 127, `unknown step kind ${JSON.stringify(kind)}`, "none", false);
  }

  /**
   * A shell or program step: after any earlier attempt's processes on this host have ended
   * (a re-run never overlaps them), spawned, its process group recorded for the re-runs
   * that may follow, reported when it ends.
   */
  private async launchProcess(entry: RunningStep): Promise<void> {
    const { claim, log } = entry;
    const kind = claim.kind as "shell" | "program";
    if ((claim.earlier_attempts?.length ?? 0) > 0) {
      await this.waitForEarlierAttempts(entry);
      // Stopped while waiting: nothing ran. A cancelled run waits for its steps to say so.
      if (entry.stoppedAs === "cancelled") return this.report(claim, log, 128 + 15, "cancelled before it started", "cancel", false);
      if (entry.cancelRequested) return;
    }
    log.info({ kind }, "step started");
    {
      let lostBatches = 0;
      entry.process = startProcessStep(
        {
          kind,
          script: claim.script ?? null,
          argv: claim.argv ?? null,
          cwd: claim.cwd ?? null,
          env: claim.env ?? {},
          timeoutMs: claim.timeout_ms ?? null,
        },
        {
          baseEnv: this.config.stepBaseEnv,
          outputLimitBytes: this.config.outputLimitBytes,
          flushMs: this.config.outputFlushMs,
          flushBytes: this.config.outputFlushBytes,
          killGraceMs: this.config.killGraceMs,
          user: this.config.stepUser,
          onSpawned: (pgid) => this.processes.record(claim.step_run_id, pgid),
          onOutput: (stream, chunk) => this.api.appendOutput(claim.step_run_id, stream, chunk),
          onSinkError: (error) => {
            // One line for the first lost batch and then every 50th, not one per batch.
            if (lostBatches++ % 50 === 0) {
              log.warn({ error: errorFields(error), lost_batches: lostBatches }, "could not store step output; batches are lost until the database answers");
            }
          },
        },
      );
      try {
        await this.finishProcess(claim, log, entry.process);
      } finally {
        this.processes.forget(claim.step_run_id);
      }
    }
  }

  /**
   * Waits until no earlier attempt of this step has a live process group on this host. Their
   * watcher kills them within the kill grace when their supervisor died; a supervisor that
   * lost the lease stops them at its next heartbeat. Past that, they are stopped from here.
   */
  private async waitForEarlierAttempts(entry: RunningStep): Promise<void> {
    const { claim, log } = entry;
    let live = this.processes.live(claim.earlier_attempts ?? []);
    if (live.length === 0) return;
    const startedAt = performance.now();
    const patienceMs = this.config.killGraceMs + 2 * Math.floor(this.leaseMs / 3) + 1000;
    let killedAt: number | null = null;
    log.warn({ earlier: live }, "an earlier attempt of this step still runs on this host: waiting for it to end before running again");
    while (live.length > 0 && !entry.cancelRequested) {
      const waited = performance.now() - startedAt;
      if (killedAt === null && waited > patienceMs) {
        log.warn({ earlier: live, waited_ms: Math.round(waited) }, "the earlier attempt did not end: stopping its processes");
        for (const e of live) killGroup(e.pgid, "SIGTERM");
        killedAt = performance.now();
      } else if (killedAt !== null && performance.now() - killedAt > this.config.killGraceMs) {
        for (const e of live) killGroup(e.pgid, "SIGKILL");
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, EARLIER_POLL_MS);
        entry.stopWaitingForEarlier = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      entry.stopWaitingForEarlier = undefined;
      live = this.processes.live(claim.earlier_attempts ?? []);
    }
    if (!entry.cancelRequested) log.info({ waited_ms: Math.round(performance.now() - startedAt) }, "the earlier attempt has ended");
  }

  private seenRuns = new Set<string>();
  private noteRun(claim: StepClaim): void {
    if (this.seenRuns.has(claim.run_id)) return;
    this.seenRuns.add(claim.run_id);
    if (this.seenRuns.size > 10_000) this.seenRuns.clear();
    this.metrics.runsFired.inc();
  }

  /** Queues an SQL step's report for the next tick, and says how it went. */
  private finishSql(claim: StepClaim, log: Logger, result: SqlStepResult): void {
    if (result.report !== null && !this.abandoned) this.addReport(result.report);
    // The server went away (a restart) or would not take a login: the claims queued here
    // would meet the same, so they go back unstarted instead of being handed back as
    // unrunnable; the next ticks claim them again once the database answers.
    if (result.end === "lost" || result.end === "handed_back" || result.end === "released") this.releaseQueued();
    const fields = { sql_state: result.sqlState ?? undefined, error: result.message ?? undefined };
    switch (result.end) {
      case "succeeded":
        this.metrics.stepsSucceeded.inc({ kind: "sql" });
        log.info("step succeeded");
        break;
      case "failed":
        this.metrics.stepsFailed.inc({ kind: "sql" });
        log.warn(fields, "step failed");
        break;
      case "skipped":
        log.info(fields, "step skipped: its server is not in the role its connection expects");
        break;
      case "handed_back":
        this.metrics.stepsHandedBack.inc();
        log.warn(fields, "cannot run this SQL step here: handed back to the database for another supervisor");
        break;
      case "released":
        log.warn(fields, "the database refuses connections for now (restarting?): SQL step given back unstarted, same attempt");
        break;
      case "lost":
        log.warn(fields, "connection lost during an SQL step: it is taken back (and run again unless it had committed)");
        break;
      case "rolled_back":
        this.metrics.stepsRefused.inc();
        log.warn(fields, "SQL step rolled back: its claim passed to another worker or its run ended");
        break;
      case "stopped":
        log.info({ reason: result.message }, "SQL step stopped");
        break;
    }
  }

  /** Logs the reports a tick refused: their claims passed on (a lease expired, a run was cancelled). */
  reportsRefused(stepRunIds: readonly string[]): void {
    for (const id of stepRunIds) {
      this.metrics.stepsRefused.inc();
      this.log.warn({ step_run: id }, "report of an SQL step refused: its claim passed to another worker or its run ended");
    }
  }

  private async finishProcess(claim: StepClaim, log: Logger, process: RunningProcess): Promise<void> {
    const result = await process.result;
    const fields = { exit_code: result.exitCode, duration_ms: Math.round(result.durationMs), error: result.error ?? undefined };
    if (result.stoppedBy === "fenced") {
      this.metrics.stepsRefused.inc();
      log.warn(fields, "step stopped: its lease passed to another worker (output refused, or the database took it back); not reported");
      return;
    }
    if (result.stoppedBy === "shutdown") {
      log.warn(fields, "step killed at shutdown; handed back to the database");
      return;
    }
    await this.report(claim, log, result.exitCode, result.error, stopCause(result.stoppedBy), result.truncated.stdout || result.truncated.stderr);
  }

  private async finishBuiltin(claim: StepClaim, log: Logger, builtin: RunningBuiltin): Promise<void> {
    const result = await builtin.result;
    if (result.stoppedBy === "shutdown") {
      log.warn({ builtin: claim.builtin }, "built-in stopped at shutdown; handed back to the database");
      return;
    }
    await this.report(claim, log, result.exitCode, result.error, stopCause(result.stoppedBy), false, result.stdout);
  }

  /** complete_step, retried while the database is unreachable. */
  private async report(claim: StepClaim, log: Logger, exitCode: number, error: string | null, stoppedBy: StopCause, truncated: boolean, stdout = ""): Promise<void> {
    const kind = claim.kind;
    const entry = this.running.get(claim.step_run_id);
    if (entry !== undefined) entry.reporting = true;
    for (let attempt = 0; ; attempt++) {
      if (this.abandoned) {
        log.warn({ exit_code: exitCode }, "result not reported: shutting down; the lease is handed back");
        return;
      }
      try {
        const accepted = await this.api.completeStep(claim.step_run_id, exitCode, stdout, "", error, stoppedBy);
        if (!accepted) {
          this.metrics.stepsRefused.inc();
          const cancelled = this.running.get(claim.step_run_id)?.cancelRequested;
          if (cancelled) log.info({ exit_code: exitCode }, "cancelled step ended");
          else log.warn({ exit_code: exitCode }, "late result refused: the lease passed to another worker; dropped");
          return;
        }
        const fields = { exit_code: exitCode, error: error ?? undefined, truncated: truncated || undefined };
        if (exitCode === 0 && error === null) {
          this.metrics.stepsSucceeded.inc({ kind });
          log.info(fields, "step finished");
        } else {
          // A failure is worth an operator's attention: warn, like a failed SQL step.
          this.metrics.stepsFailed.inc({ kind });
          log.warn(fields, "step failed");
        }
        return;
      } catch (e) {
        const delay = Math.min(5000, 200 * 2 ** Math.min(attempt, 5));
        log.warn({ error: errorFields(e), retry_in_ms: delay }, "could not report the step result; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Claims queued here that are no longer to start (lost, or their run cancelled): dropped.
   * Nothing ran, so nothing is reported; the database settles a cancelled run's step, and
   * a lost one is no longer ours.
   */
  private unqueue(stepRunIds: readonly string[]): void {
    if (this.queue.length === 0) return;
    const ids = new Set(stepRunIds.map(String));
    this.setQueue(this.queue.filter((q) => !ids.has(q.claim.step_run_id)));
  }

  private setQueue(queue: QueuedClaim[]): void {
    this.queue = queue;
    this.queuedIds = new Set(queue.map((q) => q.claim.step_run_id));
  }

  /**
   * Shutdown, or this incarnation ended: the queued claims are not started (release_worker
   * hands them back with the rest, or they were taken back already).
   */
  dropQueued(): void {
    this.setQueue([]);
    clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
  }

  /** Stops steps of cancelled runs (from NOTIFY or a heartbeat). */
  cancel(stepRunIds: readonly string[]): void {
    // A queued claim never started: it says so with the next tick, so that its run ends now.
    const ids = new Set(stepRunIds.map(String));
    for (const q of this.queue) {
      if (!ids.has(q.claim.step_run_id) || this.abandoned) continue;
      this.addReport({ step_run: q.claim.step_run_id, claim: q.claim.claim, outcome: "failed", error: "cancelled before it started", sql_state: "57014", stopped_by: "cancel" });
    }
    this.unqueue(stepRunIds);
    if (this.reports.length > 0) this.onFinished();
    for (const id of stepRunIds) {
      const entry = this.running.get(String(id));
      if (!entry || entry.cancelRequested) continue;
      entry.cancelRequested = true;
      entry.log.info("cancelling step: its run was cancelled");
      this.stopEntry(entry, "cancelled");
    }
  }

  private stopEntry(entry: RunningStep, reason: "cancelled" | "shutdown" | "fenced"): void {
    entry.stoppedAs ??= reason;
    entry.stopWaitingForEarlier?.();
    if (entry.pending) {
      // Not started yet: it never will be (a cancelled run's step is settled by the
      // database; at shutdown release_worker hands it back).
      entry.pending.stopWaiting();
      entry.pending.release();
      entry.pending = undefined;
      entry.lease?.release("reuse");
      entry.lease = undefined;
    } else if (entry.process) {
      entry.process.stop(reason);
    } else if (entry.builtin) {
      // A fenced built-in is stopped like one at shutdown: nothing is reported.
      entry.builtin.stop(reason === "fenced" ? "shutdown" : reason);
    } else if (entry.sql) {
      // A fenced SQL step is cancelled like one at shutdown: nothing is reported.
      entry.sql.stop(reason === "fenced" ? "shutdown" : reason);
    }
  }

  /** Resolves when no step is running, or after `timeoutMs`; returns whether idle. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return idle;
  }

  /** Shutdown: kill what still runs; its results are not reported (release_worker hands the steps back). */
  killAll(): void {
    this.dropQueued();
    for (const entry of this.running.values()) {
      entry.cancelRequested = true;
      this.stopEntry(entry, "shutdown");
    }
  }

  abandon(): void {
    this.abandoned = true;
    this.dropQueued();
    clearTimeout(this.leaseTimer);
    this.runTransactions.closeAll();
  }

  /**
   * This supervisor's incarnation ended (it was found gone, or replaced): every step it
   * held was taken back. Stops them all and drops the reports nobody would accept.
   */
  dropEverything(why: string): void {
    this.reports = [];
    this.reportsSince = null;
    this.dropQueued();
    this.lost([...this.running.keys()], why);
    this.runTransactions.closeAll();
  }
}
