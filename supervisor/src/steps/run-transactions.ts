// The whole-run transactions (transaction: run) this supervisor holds: one owner
// connection per run, taken out of its pool with the run's transaction open on it, from
// the run's first SQL step until the database says how the run ends (tick's answer):
//   - listed in `commit`: every step and check succeeded; the commit message marks the run
//     committed in the same transaction (_commit_run, fenced by the first step's claim);
//   - in neither list: the run ended otherwise (a step failed, a time-out, a cancel, its
//     transaction was given up): rolled back.
// If this process dies, the server rolls the transaction back when the connection drops,
// and the database fails the run once it finds this incarnation gone
// (db/run-transactions.ts). Nothing here decides an outcome: the database does.
import { ERROR_KINDS, SESSION_RESET, commitRunMessage } from "../../../extension/src/core/index.ts";
import type { ClockworkApi, SqlWork } from "../api.ts";
import { errorFields, type Logger } from "../logging.ts";
import type { OwnerConnections, OwnerLease } from "./owner-connections.ts";
import { runScript } from "./script-query.ts";

interface Held {
  readonly lease: OwnerLease;
  /** The claim secret of the run's first SQL step: the commit proves it. */
  readonly claim: string;
  /** A step (or the commit) is using the connection now. */
  busy: boolean;
}

/** The run's transaction is not held here: its connection was lost, or this is not its supervisor. */
export class RunTransactionGone extends Error {
  override readonly name = "RunTransactionGone";
}

const ROLLBACK_AND_RESET = ["ROLLBACK", ...SESSION_RESET].join(";\n");

export class RunTransactions {
  private readonly held = new Map<string, Held>();
  /** Runs whose orders came while a step was using the connection: applied when it is free. */
  private readonly deferred = new Set<string>();
  private lastOrders: { open: Set<string>; commit: Set<string> } | null = null;

  constructor(
    private readonly connections: OwnerConnections,
    private readonly api: ClockworkApi,
    private readonly log: Logger,
    /** Something changed that the database should hear of soon (a commit): tick. */
    private readonly onSettled: () => void,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /**
   * The connection for a step of a run's transaction: a new one (logged in as the owner)
   * for the run's first SQL step, else the one holding the transaction. Throws a
   * LoginError when it cannot log in, RunTransactionGone when the transaction is not here.
   */
  async take(work: SqlWork, claim: string): Promise<OwnerLease> {
    const runId = work.run_transaction!.run_id;
    const existing = this.held.get(runId);
    if (work.run_transaction!.begins) {
      if (existing !== undefined) await this.rollback(runId, "a new first step came for it");
      const lease = await this.connections.acquire(work);
      this.held.set(runId, { lease, claim, busy: true });
      return lease;
    }
    if (existing === undefined) throw new RunTransactionGone(`run ${runId}'s transaction is not open on this supervisor (its connection was lost): it cannot go on`);
    if (existing.busy) throw new RunTransactionGone(`run ${runId}'s transaction is in use by another of its steps`);
    existing.busy = true;
    return existing.lease;
  }

  /** A step ended in the transaction and left it usable: held for the run's next step. */
  keep(runId: string): void {
    const h = this.held.get(runId);
    if (h === undefined) return;
    h.busy = false;
    if (this.deferred.delete(runId) && this.lastOrders !== null) void this.follow(runId, this.lastOrders);
  }

  /** A step failed in the transaction, or its connection broke: rolled back and let go. */
  async drop(runId: string, how: "rollback" | "destroy"): Promise<void> {
    const h = this.held.get(runId);
    if (h === undefined) return;
    this.held.delete(runId);
    this.deferred.delete(runId);
    if (how === "destroy") return h.lease.release("destroy");
    const out = await runScript(h.lease.client, ROLLBACK_AND_RESET);
    h.lease.release(out.error === null ? "reuse" : "destroy");
  }

  /** tick's answer: commit what it says to commit, roll back what it no longer lists. */
  apply(orders: { open: readonly string[]; commit: readonly string[] }): void {
    const lastOrders = { open: new Set(orders.open), commit: new Set(orders.commit) };
    this.lastOrders = lastOrders;
    for (const runId of [...this.held.keys()]) void this.follow(runId, lastOrders);
    // Asked to commit a run it does not hold (its connection went): the run fails.
    for (const runId of orders.commit) {
      if (!this.held.has(runId)) void this.abandon(runId, "its connection was lost before the commit");
    }
  }

  private async follow(runId: string, orders: { open: Set<string>; commit: Set<string> }): Promise<void> {
    const h = this.held.get(runId);
    if (h === undefined) return;
    if (orders.open.has(runId)) return;
    if (h.busy) {
      // A step still runs in it (a cancelled run's step is being stopped): decided after it.
      if (!orders.commit.has(runId)) this.deferred.add(runId);
      return;
    }
    if (orders.commit.has(runId)) return this.commit(runId, h);
    await this.rollback(runId, "its run ended without committing");
  }

  private async commit(runId: string, h: Held): Promise<void> {
    h.busy = true;
    const log = this.log.child({ run: runId });
    // Held (and busy) until settled, so that a tick meanwhile neither rolls it back nor
    // gives it up for another reason.
    const out = await runScript(h.lease.client, commitRunMessage(runId, h.claim));
    if (out.error === null) {
      h.lease.release("reuse");
      log.info("run's transaction committed");
    } else if (out.broken) {
      h.lease.release("destroy");
      // Whether the COMMIT reached the server is unknown: the database knows (the mark).
      log.warn({ error: out.error.message }, "connection lost while committing the run's transaction; the database settles the run by its mark");
    } else {
      const reset = await runScript(h.lease.client, ROLLBACK_AND_RESET);
      h.lease.release(reset.error === null ? "reuse" : "destroy");
      log.warn({ error: out.error.message, sql_state: out.error.code }, "the run's transaction could not commit: rolled back");
      // Refused by _commit_run (the run ended meanwhile: nothing to do), or the COMMIT itself
      // failed (a deferred constraint): the run is still asked to commit, and fails now.
      if (out.error.code !== ERROR_KINDS.claim_not_held.code) await this.abandon(runId, `its commit failed: ${out.error.message}`);
    }
    this.held.delete(runId);
    this.deferred.delete(runId);
    this.onSettled();
  }

  private async rollback(runId: string, why: string): Promise<void> {
    if (!this.held.has(runId)) return;
    await this.drop(runId, "rollback");
    this.log.info({ run: runId, reason: why }, "run's transaction rolled back");
  }

  private abandoning = new Set<string>();
  private async abandon(runId: string, reason: string): Promise<void> {
    if (this.abandoning.has(runId)) return;
    this.abandoning.add(runId);
    try {
      // False: the database holds no open transaction of ours for the run. An answer
      // computed before a commit of ours finished still lists it: it committed.
      if (await this.api.abandonRun(runId, reason)) this.log.warn({ run: runId, reason }, "gave up a run's transaction: the run fails");
      else this.log.debug({ run: runId }, "asked to commit a run's transaction no longer open here: it had committed or ended");
    } catch (error) {
      this.log.warn({ run: runId, error: errorFields(error) }, "could not give up a run's transaction; retried with the next tick");
    } finally {
      this.abandoning.delete(runId);
    }
  }

  /** Shutdown or an ended incarnation: every held transaction is closed (the server rolls it back). */
  closeAll(): void {
    for (const [runId, h] of this.held) {
      h.lease.release("destroy");
      this.held.delete(runId);
    }
    this.deferred.clear();
  }
}
