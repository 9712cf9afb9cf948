// Where the supervisor's connections go: the one place that turns ConnectionSettings into
// node-pg client settings.
//
// node-pg connects to one host and knows nothing of libpq's multi-host strings or
// target_session_attrs (a URL with `h1,h2` fails to parse; PGHOST=h1,h2 is looked up as one
// name). So the supervisor does what libpq would: it tries the hosts in order and keeps the
// first that qualifies (read-write / primary: not in recovery, not read-only), and every
// new connection (pool, LISTEN) goes there. When the database it uses fails or turns
// read-only, `locate()` runs again and the supervisor follows the promoted standby.
import pg from "pg";
import { parse as parseUrl } from "pg-connection-string";
import type { ConnectionSettings, Endpoint } from "./config.ts";

export interface Located {
  readonly endpoint: Endpoint;
  /** host:port as logged (never the password). */
  readonly label: string;
}

export function endpointLabel(e: Endpoint): string {
  const host = e.host ?? process.env.PGHOST ?? "localhost";
  return `${host.includes(":") ? `[${host}]` : host}:${e.port ?? process.env.PGPORT ?? 5432}`;
}

export class NoSuitableHost extends Error {
  override readonly name = "NoSuitableHost";
  readonly code = "08001"; // sqlclient_unable_to_establish_sqlconnection, as libpq reports it
}

export class ConnectionTarget {
  private current: Endpoint;
  private locating: Promise<Located> | null = null;
  /** The URL's settings but its hosts (node-pg would let a connection string win over explicit fields). */
  private readonly fromUrl: pg.ClientConfig;

  constructor(
    readonly settings: ConnectionSettings,
    private readonly base: pg.ClientConfig = {},
  ) {
    this.current = settings.endpoints[0]!;
    const parsed: Record<string, unknown> = settings.url !== undefined ? { ...parseUrl(settings.url) } : {};
    delete parsed.host;
    delete parsed.port;
    for (const [k, v] of Object.entries(parsed)) if (v === "" || v === undefined || v === null) delete parsed[k];
    this.fromUrl = parsed as pg.ClientConfig;
  }

  /** Several hosts, or a session attribute to check: the target may move. */
  get followsPrimary(): boolean {
    return this.settings.endpoints.length > 1 || this.settings.targetSessionAttrs !== "any";
  }

  get label(): string {
    return endpointLabel(this.current);
  }

  /** Client settings for the host in use now (each new connection reads them afresh). */
  clientConfig(endpoint: Endpoint = this.current): pg.ClientConfig {
    const { database, user, password } = this.settings;
    return {
      ...this.base,
      ...this.fromUrl,
      // CLOCKWORK_DB_* settings win over the URL's parts; what is left unset falls back
      // to node-pg's defaults (PGUSER, PGPASSWORD, ~/.pgpass…).
      ...(endpoint.host !== undefined ? { host: endpoint.host } : {}),
      ...(endpoint.port !== undefined ? { port: endpoint.port } : {}),
      ...(database !== undefined ? { database } : {}),
      ...(user !== undefined ? { user } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  }

  /** A pg.Client class whose instances connect to the host in use when they are created (for pg.Pool). */
  clientClass(): typeof pg.Client {
    const target = this;
    return class TargetClient extends pg.Client {
      constructor(config?: pg.ClientConfig) {
        super({ ...config, ...target.clientConfig() });
      }
    } as typeof pg.Client;
  }

  /**
   * Tries the hosts in order and moves to the first one that qualifies; concurrent callers
   * share one attempt. Rejects with NoSuitableHost naming each host and why it was passed over.
   */
  locate(): Promise<Located> {
    this.locating ??= this.probeAll().finally(() => (this.locating = null));
    return this.locating;
  }

  private async probeAll(): Promise<Located> {
    const reasons: string[] = [];
    for (const endpoint of this.settings.endpoints) {
      const label = endpointLabel(endpoint);
      const reason = await this.probe(endpoint);
      if (reason === null) {
        this.current = endpoint;
        return { endpoint, label };
      }
      reasons.push(`${label}: ${reason}`);
    }
    throw new NoSuitableHost(`no ${this.settings.targetSessionAttrs === "any" ? "reachable" : "primary (read-write)"} database among ${reasons.join("; ")}`);
  }

  /** null when the host qualifies, else why not. */
  private async probe(endpoint: Endpoint): Promise<string | null> {
    const client = new pg.Client({ ...this.clientConfig(endpoint), connectionTimeoutMillis: 5_000, application_name: "clockwork supervisor (locating the primary)" });
    client.on("error", () => {});
    try {
      await client.connect();
      if (this.settings.targetSessionAttrs === "any") return null;
      // libpq's read-write check is transaction_read_only; primary is pg_is_in_recovery().
      const { rows } = await client.query("SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only");
      if (rows[0].standby) return "a standby (in recovery)";
      if (this.settings.targetSessionAttrs === "read-write" && rows[0].read_only === "on") return "read-only";
      return null;
    } catch (error) {
      return (error as Error).message || String(error);
    } finally {
      await client.end().catch(() => {});
    }
  }
}
