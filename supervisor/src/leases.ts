// Heartbeats: every third of the lease length the supervisor names the steps it is running
// and the database extends those leases, and only those (a step this process does not run
// is not kept alive for it). The answer lists steps it no longer holds (taken back, ended
// by the database: stop them) and steps that were cancelled, a fallback for a
// clockwork_cancel NOTIFY that was missed. It beats while idle too: the heartbeat is how
// the database knows a supervisor whose session it cannot see (after a server restart).
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import type { ClockworkApi } from "./api.ts";
import type { Logger } from "./logging.ts";
import { errorFields } from "./logging.ts";

/** What the lease keeper needs from the step executor. */
export interface HeldSteps {
  /** Step runs this process runs (or is about to start) now. */
  held(): string[];
  /** These leases were extended by a heartbeat sent at `sentAt` (performance.now()). */
  extended(stepRunIds: readonly string[], sentAt: number): void;
  /** The database says these are no longer ours: stop them, report nothing. */
  lost(stepRunIds: readonly string[]): void;
  /** Cancelled: stop them (and report that they stopped). */
  cancel(stepRunIds: readonly string[]): void;
}

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(
    private readonly api: ClockworkApi,
    private readonly log: Logger,
    private readonly steps: HeldSteps,
    /** The incarnation ended (worker_ended): the supervisor registers anew. */
    private readonly onEnded: (error: unknown) => void,
    private leaseMs = 30_000,
  ) {}

  setLeaseMs(leaseMs: number): void {
    this.leaseMs = leaseMs;
    if (this.timer !== undefined) this.start();
  }

  get intervalMs(): number {
    return Math.max(100, Math.floor(this.leaseMs / 3));
  }

  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat, unless one is in flight or no incarnation is registered. */
  async beat(): Promise<void> {
    if (this.inFlight || this.api.incarnation === null) return;
    this.inFlight = true;
    const held = this.steps.held();
    const sentAt = performance.now();
    try {
      const result = await this.api.heartbeat(held);
      this.log.debug({ held: held.length, extended: result.extended.length }, "heartbeat");
      this.steps.extended(result.extended, sentAt);
      if (result.cancel.length > 0) this.steps.cancel(result.cancel);
      if (result.lost.length > 0) this.steps.lost(result.lost);
    } catch (error) {
      if ((error as { code?: string }).code === SQLSTATE.worker_ended) this.onEnded(error);
      else this.log.warn({ error: errorFields(error) }, "heartbeat failed; leases expire unless a later one succeeds");
    } finally {
      this.inFlight = false;
    }
  }
}
