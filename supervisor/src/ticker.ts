// Keeps time: sleeps until the due time the database announced (one timer, no polling
// loop; at most a slow safety re-tick), wakes early on demand (NOTIFY, a finished step,
// a reconnect), and calls tick. Ticks never overlap; wake-ups during a tick coalesce
// into one more tick afterwards. A failing tick is logged and retried with back-off.
import type { Logger } from "./logging.ts";

export type TickReason = "start" | "timer" | "notify" | "step-finished" | "reconnect" | "retry" | "safety";

export interface TickerOptions {
  /** Calls the database; returns the next due time (ISO) or null for "nothing scheduled". */
  readonly tick: (reason: TickReason, dueAt: number | null) => Promise<string | null>;
  readonly safetyTickMs: number;
  /**
   * Wake at least this long before a due time: the tick then fires and claims ahead
   * (lookahead) and the executor starts the step on the dot, so firing is not part of the
   * start lag. Longer when the ticks that woke for a due time took longer (see `leadMs`).
   */
  readonly leadMs?: number;
  readonly log: Logger;
  readonly onError?: (error: unknown, failures: number) => void;
  readonly now?: () => number;
}

// setTimeout cannot sleep longer than this.
const MAX_TIMEOUT = 2 ** 31 - 1;
/** The longest lead, as --fire-ahead allows (the database looks ahead at most 1 s, twice this). */
export const MAX_LEAD_MS = 500;
/** How many of the last ticks that woke for a due time the lead is sized by. */
const LEAD_WINDOW = 8;

export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pendingReason: TickReason | null = null;
  private stopped = true;
  private failures = 0;
  private lastDue: number | null = null;
  private sameDueRepeats = 0;
  /** When the armed timer will fire, and for which due time. */
  private armed: { at: number; dueAt: number | null; reason: TickReason } | null = null;
  private idleWaiters: Array<() => void> = [];
  private readonly now: () => number;
  /** How long the last few ticks that woke for a due time took, in ms (newest last). */
  private dueTickMs: number[] = [];

  constructor(private readonly options: TickerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.wake("start");
  }

  /** Stops ticking; resolves once a tick in flight has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.armed = null;
    this.pendingReason = null;
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** The time the next timer-driven tick is planned for (ms since epoch), if any. */
  get nextWakeAt(): number | null {
    return this.armed?.at ?? null;
  }

  /**
   * How long before a due time to wake: the configured lead, or twice the longest of the
   * last few ticks that woke for a due time if that is more (at most MAX_LEAD_MS). Such a
   * tick fires the slot and claims its step, and its answer must be back before the slot:
   * on a machine or runtime where firing costs more than the configured lead (the real
   * PL/v8, a slow or cold CPU), a fixed lead made every step as late as the tick was long.
   * No lead configured (0): nothing is fired ahead.
   */
  get leadMs(): number {
    const configured = this.options.leadMs ?? 0;
    if (configured <= 0 || this.dueTickMs.length === 0) return configured;
    return Math.max(configured, Math.min(MAX_LEAD_MS, Math.ceil(2 * Math.max(...this.dueTickMs))));
  }

  /** Ask for a tick as soon as possible (coalesced with any tick in flight). */
  wake(reason: TickReason): void {
    if (this.stopped) return;
    if (this.running) {
      this.pendingReason ??= reason;
      return;
    }
    clearTimeout(this.timer);
    this.armed = null;
    void this.run(reason, null);
  }

  private async run(reason: TickReason, dueAt: number | null): Promise<void> {
    this.running = true;
    let next: string | null | undefined;
    let failed = false;
    const startedAt = this.now();
    try {
      next = await this.options.tick(reason, dueAt);
      this.failures = 0;
      if (dueAt !== null) {
        this.dueTickMs.push(Math.max(0, this.now() - startedAt));
        if (this.dueTickMs.length > LEAD_WINDOW) this.dueTickMs.shift();
      }
    } catch (error) {
      failed = true;
      this.failures++;
      this.options.onError?.(error, this.failures);
    } finally {
      this.running = false;
    }
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    if (this.stopped) return;
    if (this.pendingReason !== null) {
      const pending = this.pendingReason;
      this.pendingReason = null;
      void this.run(pending, null);
      return;
    }
    if (failed) {
      const delay = Math.min(5000, 100 * 2 ** Math.min(this.failures - 1, 6));
      this.arm(this.now() + delay, null, "retry");
    } else {
      this.planNext(next ?? null);
    }
  }

  private planNext(nextDueIso: string | null): void {
    const now = this.now();
    const safetyAt = now + this.options.safetyTickMs;
    if (nextDueIso === null) {
      this.lastDue = null;
      this.arm(safetyAt, null, "safety");
      return;
    }
    const due = Date.parse(nextDueIso);
    if (Number.isNaN(due)) {
      this.options.log.warn({ next_due_at: nextDueIso }, "tick returned an unreadable next_due_at; using the safety tick");
      this.arm(safetyAt, null, "safety");
      return;
    }
    // The database says something is due already (its clock may run ahead of ours, or the
    // work is not claimable by us). Re-tick soon, backing off while the answer repeats, so
    // a disagreement between clocks never becomes a busy loop.
    const lead = this.leadMs;
    if (due <= now && due === this.lastDue) {
      this.sameDueRepeats++;
      const delay = Math.min(1000, 2 ** Math.min(this.sameDueRepeats, 10));
      this.arm(now + delay, due, "timer");
      return;
    }
    this.sameDueRepeats = 0;
    this.lastDue = due;
    if (due > safetyAt) this.arm(safetyAt, null, "safety");
    // Inside the lead window already (the tick ahead left this due time alone: its work
    // is not claimable ahead, e.g. an overlap decision, or a lease end): wake at it.
    else this.arm(due - lead > now ? due - lead : Math.max(due, now), due, "timer");
  }

  private arm(at: number, dueAt: number | null, reason: TickReason): void {
    clearTimeout(this.timer);
    this.armed = { at, dueAt, reason };
    const fire = () => {
      const remaining = at - this.now();
      // Timers may fire a little early; the database must never see a due time in its future.
      if (remaining > 0) {
        this.timer = setTimeout(fire, Math.min(remaining, MAX_TIMEOUT));
        return;
      }
      this.armed = null;
      if (this.stopped) return;
      if (this.running) {
        this.pendingReason ??= reason;
        return;
      }
      void this.run(reason, dueAt);
    };
    this.timer = setTimeout(fire, Math.min(Math.max(0, at - this.now()), MAX_TIMEOUT));
  }
}
