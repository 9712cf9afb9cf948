// How deep the local queue runs under a backlog, and when a finished step's report waits
// for company before a tick takes it (--claim-ahead auto, the default).
//
// Each tick has a fixed server cost of a few milliseconds beside its cost per claim and
// per report, and one supervisor's ticks are serial. A queue of `concurrency` claims with
// a tick at every finished step made ticks of about ten claims each, so the fixed cost
// ruled. Under a backlog the queue now holds enough claims to cover a few ticks at the
// rate steps finish here, and a finished step's tick waits while the queue is above its
// low-water mark (at most REPORT_HOLD_MS): the ticks are fewer and each carries many
// claims and reports. Without a backlog nothing changes: a finished step ticks at once.
//
// Pure: the clock is passed in, so the tests drive it.

/** The most claims the local queue holds beyond the slots (as --claim-ahead allows). */
export const MAX_CLAIM_AHEAD = 1000;
/**
 * A claim should wait here about this long at most at the observed rate: half the
 * give-back time (QUEUE_TTL_MS, 1 s), so a queue sized by the rate is not given back
 * while steps keep finishing, and a second supervisor finds the rest of a backlog ready.
 */
export const QUEUE_SPAN_MS = 500;
/**
 * Under a backlog, the longest a finished step's report waits for a tick to take it (and
 * so for its run's end to be recorded) while the queue is above its low-water mark.
 */
export const REPORT_HOLD_MS = 50;
/** Margin added to the tick's duration when sizing the queue: a timer, a slow turn of the event loop. */
const MARGIN_MS = 10;
/** Samples shorter than this do not move the rate: too few steps to say anything. */
const MIN_SAMPLE_MS = 20;
/** Weight of a new sample in the moving averages. */
const ALPHA = 0.3;

export interface ClaimPacingOptions {
  /** --claim-ahead N (a fixed queue, a tick at every finished step), or "auto". */
  readonly claimAhead: number | "auto";
  readonly concurrency: number;
}

export class ClaimPacing {
  /** Steps finished per ms, a moving average; 0 until measured. */
  private rate = 0;
  /** How long a tick that claimed took, in ms, a moving average; 0 until measured. */
  private tickMs = 0;
  /** The executor's count of finished steps and the time at the start of the sample. */
  private sampleFinished = 0;
  private sampleStart: number;

  constructor(private readonly options: ClaimPacingOptions, now: number) {
    this.sampleStart = now;
  }

  get adaptive(): boolean {
    return this.options.claimAhead === "auto";
  }

  /**
   * A tick under a backlog took `ms` and ended at `now`; `finished` is how many steps had
   * finished here in all by then (a running count).
   */
  tickEnded(ms: number, now: number, finished: number): void {
    this.tickMs = this.tickMs === 0 ? ms : this.tickMs + ALPHA * (ms - this.tickMs);
    const span = now - this.sampleStart;
    if (span < MIN_SAMPLE_MS) return;
    const rate = Math.max(0, finished - this.sampleFinished) / span;
    this.rate = this.rate === 0 ? rate : this.rate + ALPHA * (rate - this.rate);
    this.sampleFinished = finished;
    this.sampleStart = now;
  }

  /**
   * No backlog (any more): the next one is measured afresh from here (the idle time
   * between them, and the last one's steps, say nothing about its rate), its queue
   * starting at the concurrency.
   */
  restart(now: number, finished: number): void {
    this.rate = 0;
    this.sampleFinished = finished;
    this.sampleStart = now;
  }

  /**
   * How many claims beyond the free slots the next tick may take under a backlog: the
   * configured number, or (auto) enough to cover twice a tick's duration plus a margin at
   * the rate steps finish here, at least the concurrency, at most QUEUE_SPAN_MS of work
   * and MAX_CLAIM_AHEAD.
   */
  get ahead(): number {
    const { claimAhead, concurrency } = this.options;
    if (claimAhead !== "auto") return claimAhead;
    const byTicks = Math.ceil(this.rate * (2 * this.tickMs + MARGIN_MS));
    const bySpan = Math.floor(this.rate * QUEUE_SPAN_MS);
    return Math.min(MAX_CLAIM_AHEAD, Math.max(concurrency, Math.min(byTicks, bySpan)));
  }

  /**
   * While more claims than this wait in the queue, a finished step's tick may wait (auto
   * only): the steps already queued keep the slots busy for longer than the next tick
   * takes to bring more.
   */
  get lowWater(): number {
    if (this.options.claimAhead !== "auto") return Infinity;
    return Math.max(this.options.concurrency, Math.ceil(this.rate * (1.5 * this.tickMs + MARGIN_MS)));
  }

  /**
   * A step just finished: when to tick. `now` to tick at once; a later time to let reports
   * gather (the queue is above its low-water mark under a backlog, and the oldest report
   * has waited less than REPORT_HOLD_MS).
   */
  tickAfterFinish(state: { backlog: boolean; queued: number; oldestReportAt: number | null }, now: number): number {
    if (!this.adaptive || !state.backlog || state.queued <= this.lowWater) return now;
    const oldest = state.oldestReportAt ?? now;
    return Math.max(now, oldest + REPORT_HOLD_MS);
  }
}
