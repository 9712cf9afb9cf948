// Heartbeats: while this supervisor runs steps it extends their leases every third of the
// lease length. The answer also lists step runs that were cancelled, a fallback for a
// clockwork_cancel NOTIFY that was missed.
import type { ClockworkApi } from "./api.ts";
import type { Logger } from "./logging.ts";
import { errorFields } from "./logging.ts";

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;

  constructor(
    private readonly api: ClockworkApi,
    private readonly log: Logger,
    private readonly hasWork: () => boolean,
    private readonly onCancel: (stepRunIds: string[]) => void,
    private leaseMs = 30_000,
  ) {}

  setLeaseMs(leaseMs: number): void {
    this.leaseMs = leaseMs;
  }

  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.leaseMs / 3)));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat, if steps are running and none is in flight. */
  async beat(): Promise<void> {
    if (this.inFlight || !this.hasWork()) return;
    this.inFlight = true;
    try {
      const result = await this.api.heartbeat();
      this.log.debug({ extended: result.extended }, "heartbeat");
      if (result.cancel.length > 0) this.onCancel(result.cancel);
    } catch (error) {
      this.log.warn({ error: errorFields(error) }, "heartbeat failed; leases expire unless a later one succeeds");
    } finally {
      this.inFlight = false;
    }
  }
}
