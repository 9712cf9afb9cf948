// The supervisor's side of alerts: it asks the database to check the time-based conditions
// every few seconds (check_alerts: the database makes that one sweep however many
// supervisors ask), claims due deliveries (claim_deliveries: SKIP LOCKED, a lease), sends
// them (webhook, mail) and reports each (complete_delivery: fenced; the database decides
// the retry). It has its own loop, connections from the pool and time-outs: a receiver that
// hangs or fails never delays a tick, a claim or a step.
import type { ClockworkApi, DeliveryClaim } from "../api.ts";
import type { SupervisorConfig } from "../config.ts";
import { errorFields, type Logger } from "../logging.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import { alertMail, Mailer } from "./mail.ts";
import { sendWebhook, type DeliveryOutcome } from "./webhook.ts";

const USER_AGENT = "clockwork-supervisor (alert delivery)";

export class AlertDeliverer {
  private stopped = true;
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | null = null;
  private nextCheckAt = 0;
  private failures = 0;
  private loopDone: Promise<void> = Promise.resolve();
  readonly mailer: Mailer;

  constructor(
    private readonly api: ClockworkApi,
    private readonly config: SupervisorConfig,
    private readonly log: Logger,
    private readonly metrics: SupervisorMetrics,
  ) {
    this.mailer = new Mailer(config.smtpUrl, config.smtpFrom);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loopDone = this.loop();
  }

  /** A NOTIFY said deliveries were queued, or one finished here: look now. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops claiming; waits up to `graceMs` for deliveries under way (the rest are taken over when their leases end). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loopDone;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.mailer.close();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let waitMs = this.config.alertCheckMs;
      try {
        if (Date.now() >= this.nextCheckAt) {
          this.nextCheckAt = Date.now() + this.config.alertCheckMs;
          const opened = await this.api.checkAlerts();
          if (opened) {
            this.metrics.alertsOpened.inc(opened);
            this.log.info({ opened }, "alert conditions checked: alerts opened");
          }
        }
        const free = this.config.deliveryConcurrency - this.inFlight.size;
        if (free > 0) {
          const { claimed, next_attempt_at } = await this.api.claimDeliveries(free);
          for (const claim of claimed) this.track(this.deliver(claim));
          if (next_attempt_at !== null) waitMs = Math.min(waitMs, Date.parse(next_attempt_at) - Date.now());
        }
        waitMs = Math.min(waitMs, this.nextCheckAt - Date.now());
        if (this.failures > 0) this.log.info("alert delivery loop: database reachable again");
        this.failures = 0;
      } catch (error) {
        this.failures++;
        waitMs = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
        if (this.failures <= 3 || this.failures % 20 === 0) {
          this.log.warn({ error: errorFields(error), failures: this.failures, retry_in_ms: waitMs }, "alert delivery loop failed; retrying with back-off");
        }
      }
      await this.sleep(Math.max(20, waitMs));
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.wake();
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(this.timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }

  /** Sends one delivery and reports it; never throws. */
  private async deliver(claim: DeliveryClaim): Promise<void> {
    const log = this.log.child({ delivery: claim.delivery_id, alert: claim.alert.alert_id, channel: claim.channel, attempt: claim.attempt });
    let outcome: DeliveryOutcome;
    try {
      if (claim.kind === "webhook") outcome = await sendWebhook(claim, this.config.secrets, USER_AGENT);
      else if (claim.kind === "email") {
        const message = alertMail(claim, this.mailer.defaultFrom);
        outcome = message === null ? { ok: false, error: "invalid email channel", response: null } : await this.mailer.send(message);
      } else outcome = { ok: false, error: `unknown channel kind ${JSON.stringify(claim.kind)}`, response: null };
    } catch (error) {
      outcome = { ok: false, error: errorFields(error).message, response: null };
    }
    this.metrics.alertDeliveries.inc({ kind: claim.kind, result: outcome.ok ? "delivered" : "failed" });
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const accepted = await this.api.completeDelivery(claim.delivery_id, outcome.ok, outcome.error, outcome.response);
        if (!accepted) log.warn("delivery result refused: its lease passed to another supervisor");
        else if (outcome.ok) log.info({ response: outcome.response }, "alert delivered");
        else log.warn({ error: outcome.error }, "alert delivery failed; the database schedules the next attempt");
        return;
      } catch (error) {
        log.warn({ error: errorFields(error) }, "could not report an alert delivery; retrying");
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
    log.error("could not report an alert delivery; its lease will expire and it will be sent again");
  }
}
