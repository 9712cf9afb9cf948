// One dedicated connection, the supervisor's session: it holds LISTEN on Clockwork's
// channels and is the worker's proof of life (the supervisor registers its incarnation on
// it, and re-attaches after every reconnect: onSession). It reconnects with back-off
// whenever it is lost. Notifications are hints: after every (re)connect the owner
// re-ticks, so a NOTIFY missed while the connection was down costs nothing.
import pg from "pg";
import { errorFields, type Logger } from "./logging.ts";

export const WAKEUP_CHANNEL = "clockwork_wakeup";
export const CANCEL_CHANNEL = "clockwork_cancel";

export interface ListenerEvents {
  /**
   * Runs on every new connection before LISTEN: the supervisor registers (or re-attaches)
   * its incarnation on it. A throw drops the connection and retries with back-off.
   */
  onSession(client: pg.Client): Promise<void>;
  /** `clockwork_wakeup`: definitions changed or work was queued; payload is a hint. */
  onWakeup(payload: string): void;
  /** `clockwork_cancel`: step run ids whose runs were cancelled (at most 300 a notification; a big cancel sends several). */
  onCancel(stepRunIds: string[]): void;
  /** LISTEN is (again) in place: anything may have happened meanwhile. */
  onConnected(): void;
  onDisconnected(error: unknown): void;
  /** Connecting (or onSession) failed; `attempt` counts the failures in a row from 1. */
  onConnectFailed(error: unknown, attempt: number): void;
}

export class Listener {
  private client: pg.Client | null = null;
  private stopped = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private _connected = false;
  private drop: ((error: unknown) => void) | null = null;

  constructor(
    /** Read at every (re)connect, so the connection follows a promoted standby (connection.ts). */
    private readonly clientConfig: pg.ClientConfig | (() => pg.ClientConfig),
    private readonly events: ListenerEvents,
    private readonly log: Logger,
    private readonly maxBackoffMs = 10_000,
  ) {}

  get connected(): boolean {
    return this._connected;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this._connected = false;
    if (client) await client.end().catch(() => {});
  }

  /** Drops the connection and connects anew (onSession runs again). */
  reconnect(reason: string): void {
    if (this.stopped) return;
    if (this.drop !== null) this.drop(new Error(reason));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(typeof this.clientConfig === "function" ? this.clientConfig() : this.clientConfig);
    this.client = client;
    let lost = false;
    const onLost = (error: unknown) => {
      if (lost) return;
      lost = true;
      if (this.drop === onLost) this.drop = null;
      if (this.client === client) this.client = null;
      const wasConnected = this._connected;
      this._connected = false;
      client.removeAllListeners("notification");
      client.end().catch(() => {});
      if (this.stopped) return;
      if (wasConnected) {
        this.log.warn({ error: errorFields(error) }, "LISTEN connection lost; reconnecting");
        this.events.onDisconnected(error);
      }
      this.scheduleReconnect();
    };
    this.drop = onLost;
    client.on("error", onLost);
    client.on("end", () => onLost(new Error("connection ended")));
    client.on("notification", (message) => this.dispatch(message.channel, message.payload ?? ""));
    try {
      await client.connect();
      await this.events.onSession(client);
      await client.query(`LISTEN ${WAKEUP_CHANNEL}; LISTEN ${CANCEL_CHANNEL}`);
    } catch (error) {
      if (!lost && !this.stopped) this.events.onConnectFailed(error, this.attempt + 1);
      onLost(error);
      return;
    }
    if (lost || this.stopped) {
      if (this.stopped) await client.end().catch(() => {});
      return;
    }
    if (this.attempt > 0) this.log.info({ attempts: this.attempt }, "LISTEN connection restored");
    else this.log.debug("LISTEN connection up");
    this.attempt = 0;
    this._connected = true;
    this.events.onConnected();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    const base = Math.min(this.maxBackoffMs, 100 * 2 ** Math.min(this.attempt, 10));
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private dispatch(channel: string, payload: string): void {
    if (channel === WAKEUP_CHANNEL) {
      this.events.onWakeup(payload);
    } else if (channel === CANCEL_CHANNEL) {
      let ids: string[] = [];
      try {
        const parsed: unknown = JSON.parse(payload);
        if (Array.isArray(parsed)) ids = parsed.map(String);
      } catch {
        this.log.warn({ payload }, "ignoring a malformed clockwork_cancel payload");
      }
      this.events.onCancel(ids);
    }
  }
}
