// The console's HTTP server: the built front end (dist/console, made by build/console.ts)
// and a small JSON API over the statements in queries.ts. Reads and actions run on the
// console's own database role (or, behind an authenticating proxy, on the role the proxy
// names), so row-level security and the SQL API's own checks decide what is shown and
// allowed; this server adds only what a browser needs (read-only mode, origin checks).
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { SQLSTATE } from "../../../extension/src/core/errors.ts";
import { isLoopback, type ConsoleConfig } from "./config.ts";
import { ACTIONS, QUERIES } from "./queries.ts";

export interface StaticAsset {
  readonly body: Buffer;
  readonly type: string;
}

export interface ConsoleServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

type Query = <R extends pg.QueryResultRow = any>(text: string, params?: unknown[]) => Promise<R[]>;
type Params = URLSearchParams;

/** An error with an HTTP status and a JSON body; database errors keep psql's fields. */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly fields: Record<string, unknown> = {}) {
    super(message);
  }
}

const OUTPUT_TAIL = 65_536; // characters of each stream sent with a run; the rest is fetched on demand
const OUTPUT_CHUNK = 262_144;
const PAGE = 50;

/** Names a database error as psql would show it. */
function databaseError(error: unknown): HttpError {
  const e = error as pg.DatabaseError & { code?: string };
  if (e && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    const connection = /^(08|57P|53)/.test(e.code);
    return new HttpError(connection ? 503 : 400, e.message, {
      code: e.code,
      ...(e.detail ? { detail: e.detail } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
  return new HttpError(503, `database unavailable: ${(e as Error)?.message ?? String(error)}`);
}

function int(params: Params, name: string, fallback: number, min: number, max: number): number {
  const text = params.get(name);
  if (text === null || text === "") return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  }
  return Number(text);
}

function id(text: string | null | undefined, what: string): string {
  if (text === null || text === undefined || !/^\d{1,18}$/.test(text)) throw new HttpError(400, `${what} must be a positive integer`);
  return text;
}

function instant(params: Params, name: string): Date | null {
  const text = params.get(name);
  if (text === null || text === "") return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new HttpError(400, `${name} must be a timestamp (ISO 8601)`);
  return date;
}

const FILTERS = new Set(["all", "paused", "running", "failing"]);
function filterOf(params: Params): string {
  const filter = params.get("filter") || "all";
  if (!FILTERS.has(filter)) throw new HttpError(400, `filter must be one of ${[...FILTERS].join(", ")}`);
  return filter;
}

interface GraphStep {
  name: string;
  kind: string;
  /** An SQL step's named connection (another database or cluster), or null for this one. */
  connection: string | null;
  depends: string[];
  when: string | null;
  onError: string;
  matrix: Record<string, unknown[]> | null;
}

/**
 * The steps and checks of a stored definition, as the page draws them. Definitions are
 * stored as written (steps as a list or as a map of name → step, the kind given by the
 * field that holds the work), and were validated by define_job, so only read here.
 */
export function graphOf(definition: any): { steps: GraphStep[]; checks: GraphStep[]; parameters: Record<string, unknown>; description: string | null; timeZone: string } {
  const list = (value: unknown): any[] =>
    Array.isArray(value) ? value : value && typeof value === "object" ? Object.entries(value).map(([name, v]) => ({ name, ...(v as object) })) : [];
  const kindOf = (s: any) => ["sql", "shell", "program", "builtin"].find((k) => s[k] !== undefined && s[k] !== null) ?? "sql";
  const step = (s: any): GraphStep => ({
    name: String(s.name),
    kind: kindOf(s),
    connection: typeof s.connection === "string" ? s.connection : null,
    depends: Array.isArray(s.depends) ? s.depends.map(String) : typeof s.depends === "string" ? [s.depends] : [],
    when: typeof s.when === "string" ? s.when : null,
    onError: typeof s.on_error === "string" ? s.on_error : "fail",
    matrix: s.matrix && typeof s.matrix === "object" ? s.matrix : null,
  });
  return {
    steps: list(definition?.steps).map(step),
    checks: list(definition?.checks).map(step),
    parameters: definition?.parameters && typeof definition.parameters === "object" ? definition.parameters : {},
    description: typeof definition?.description === "string" ? definition.description : null,
    timeZone: typeof definition?.time_zone === "string" ? definition.time_zone : "UTC",
  };
}

const SPANS: Record<string, number> = { "15m": 900_000, "1h": 3_600_000, "6h": 21_600_000, "24h": 86_400_000, "7d": 604_800_000 };
const FAILURE_PERIODS: Record<string, number> = { "24h": 86_400_000, "7d": 604_800_000, "30d": 2_592_000_000 };

export async function startConsoleServer(options: {
  config: ConsoleConfig;
  pool: pg.Pool;
  assets: ReadonlyMap<string, StaticAsset>;
  log: (line: string) => void;
}): Promise<ConsoleServer> {
  const { config, pool, assets, log } = options;

  /** Runs `work` on one connection, acting as the request's role when a proxy names it. */
  async function withDatabase<T>(req: IncomingMessage, work: (query: Query) => Promise<T>): Promise<T> {
    let role: string | null = null;
    if (config.roleHeader !== null) {
      const named = req.headers[config.roleHeader];
      role = Array.isArray(named) ? named[0] ?? null : named ?? null;
      if (!role) throw new HttpError(401, `no role: the ${config.roleHeader} header is missing (the console expects its proxy to set it)`);
      // SET ROLE none would be RESET ROLE: the gateway's own login, which may see every
      // role it can become (row-level security checks membership).
      if (role.toLowerCase() === "none") throw new HttpError(403, `cannot act as role ${JSON.stringify(role)}`);
    }
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw databaseError(error);
    }
    let broken: Error | undefined;
    try {
      if (role !== null) {
        // A session-level SET ROLE, set again by every request that uses this connection.
        // Not being a member of that role is the database's "permission denied" (42501).
        try {
          await client.query("SELECT set_config('role', $1, false)", [role]);
        } catch (error) {
          throw new HttpError(403, `cannot act as role ${JSON.stringify(role)}: ${(error as Error).message}`);
        }
      }
      const query: Query = async (text, params = []) => {
        try {
          return (await client.query(text, params)).rows;
        } catch (error) {
          throw databaseError(error);
        }
      };
      return await work(query);
    } catch (error) {
      if (error instanceof HttpError && error.status === 503) broken = error;
      throw error;
    } finally {
      if (role !== null && broken === undefined) {
        await client.query("RESET ROLE").catch((error: Error) => (broken = error));
      }
      client.release(broken);
    }
  }

  // --- reads -------------------------------------------------------------------------
  async function session(q: Query) {
    const [s] = await q(QUERIES.session);
    if (!s) throw new HttpError(500, "the console's role is not in pg_roles");
    if (s.version === null) throw new HttpError(503, `the clockwork extension is not installed in database ${s.database}`);
    return {
      ...s,
      actions: config.allowActions,
      refreshMs: config.refreshMs,
      lateAfterMs: config.lateAfterMs,
      roleFromProxy: config.roleHeader !== null,
    };
  }

  async function jobsPage(q: Query, params: Params, limit: number) {
    const rows = await q(QUERIES.jobsPage, [
      (params.get("q") ?? "").slice(0, 200), filterOf(params), limit, int(params, "offset", 0, 0, 1_000_000),
    ]);
    return { total: rows[0]?.total ?? 0, jobs: rows.map(({ total: _, ...row }) => row) };
  }

  async function job(q: Query, jobId: string, params: Params) {
    const [found] = await q(QUERIES.job, [jobId]);
    if (!found) throw new HttpError(404, `job ${jobId} does not exist`, { code: SQLSTATE.not_found });
    const before = params.get("before");
    const [schedules, runs] = await Promise.all([
      q(QUERIES.schedules, [jobId]),
      q(QUERIES.runsOfJob, [jobId, before ? id(before, "before") : null, PAGE]),
    ]);
    let nextRuns: unknown[] = [];
    let nextRunsError: string | null = null;
    try {
      nextRuns = await q(QUERIES.nextRuns, [found.name, 5]);
    } catch (error) {
      // A supervisor role sees every job but manages only its own: next_runs says not_found.
      nextRunsError = (error as Error).message;
    }
    return { job: found, graph: graphOf(found.definition), schedules, runs, nextRuns, nextRunsError, pageSize: PAGE };
  }

  async function run(q: Query, runId: string) {
    const [found] = await q(QUERIES.run, [runId]);
    if (!found) throw new HttpError(404, `run ${runId} does not exist`, { code: SQLSTATE.not_found });
    const steps = await q(QUERIES.stepsOfRun, [runId, OUTPUT_TAIL]);
    const { definition, ...rest } = found;
    return { run: rest, steps, graph: graphOf(definition) };
  }

  async function stepOutput(q: Query, runId: string, params: Params) {
    const stepRun = id(params.get("step_run"), "step_run");
    const [row] = await q(QUERIES.stepOutput, [
      stepRun, runId, int(params, "stdout_from", 0, 0, 1 << 30), int(params, "stderr_from", 0, 0, 1 << 30), OUTPUT_CHUNK,
    ]);
    if (!row) throw new HttpError(404, `step run ${stepRun} of run ${runId} does not exist`, { code: SQLSTATE.not_found });
    return row;
  }

  async function timeline(q: Query, params: Params) {
    const spanName = params.get("span") || "1h";
    const span = SPANS[spanName];
    if (span === undefined) throw new HttpError(400, `span must be one of ${Object.keys(SPANS).join(", ")}`);
    // Live (no end given): the window ends a little after now, so the next slots show.
    const end = instant(params, "end") ?? new Date(Date.now() + span / 10);
    const from = new Date(end.getTime() - span);
    const page = await jobsPage(q, params, int(params, "limit", 25, 1, 100));
    const ids = page.jobs.map((j) => j.id);
    // More runs than this in a lane would be bars under 8 pixels wide: count them instead.
    const perJob = 120;
    const bucketMs = Math.max(1000, Math.round(span / 240));
    // Runs that began before the window and reach into it: looked for up to an hour back
    // (unfinished ones however old); a longer run that ended inside the window is missed.
    const lookbackMs = Math.min(span, 3_600_000);
    const [counts, skipped] = await Promise.all([
      q(QUERIES.timelineCounts, [ids, from, end, perJob + 1]),
      q(QUERIES.timelineSkipped, [ids, from, end]),
    ]);
    const dense = counts.filter((c) => c.runs > perJob).map((c) => c.job_id as string);
    const sparse = ids.filter((jobId) => !dense.includes(jobId));
    const [runs, buckets] = await Promise.all([
      sparse.length === 0 ? [] : q(QUERIES.timelineRuns, [sparse, from, end, `${lookbackMs} milliseconds`]),
      dense.length === 0 ? [] : q(QUERIES.timelineBuckets, [dense, from, end, `${bucketMs} milliseconds`]),
    ]);
    const byJob = (rows: any[]) => {
      const map = new Map<string, any[]>();
      for (const { job_id, ...row } of rows) (map.get(job_id) ?? map.set(job_id, []).get(job_id)!).push(row);
      return map;
    };
    const runsByJob = byJob(runs);
    const bucketsByJob = byJob(buckets);
    return {
      from, to: end, now: new Date(), span: spanName, bucketMs, total: page.total,
      jobs: page.jobs.map((j) => ({
        ...j,
        runs: dense.includes(j.id) ? null : runsByJob.get(j.id) ?? [],
        buckets: dense.includes(j.id) ? bucketsByJob.get(j.id) ?? [] : null,
        skipped: skipped.filter((k) => k.job_id === j.id).map(({ job_id: _, ...k }) => k),
      })),
    };
  }

  async function failures(q: Query, params: Params) {
    const periodName = params.get("period") || "7d";
    const period = FAILURE_PERIODS[periodName];
    if (period === undefined) throw new HttpError(400, `period must be one of ${Object.keys(FAILURE_PERIODS).join(", ")}`);
    const rows = await q(QUERIES.failures, [new Date(Date.now() - period), PAGE, int(params, "offset", 0, 0, 1_000_000)]);
    return { period: periodName, total: rows[0]?.total ?? 0, groups: rows.map(({ total: _, ...row }) => row) };
  }

  async function skipped(q: Query, params: Params) {
    const jobId = params.get("job");
    const rows = await q(QUERIES.skipped, [jobId ? id(jobId, "job") : null, instant(params, "before"), PAGE]);
    return { slots: rows, pageSize: PAGE };
  }

  async function explain(q: Query, params: Params, hasExplain: boolean) {
    if (!hasExplain) throw new HttpError(501, "this database's clockwork has no explain function yet");
    const job = params.get("job");
    const at = instant(params, "at");
    if (!job || !at) throw new HttpError(400, "explain needs job and at");
    return { explanations: (await q(QUERIES.explain, [job, at])).map((r) => r.explanation) };
  }

  async function workers(q: Query) {
    const [rows, lag] = await Promise.all([q(QUERIES.workers), q(QUERIES.workerLag)]);
    const lagByWorker = new Map(lag.map((l) => [l.worker_id, l]));
    return {
      workers: rows.map((w) => {
        const l = lagByWorker.get(w.id);
        return { ...w, starts: l?.starts ?? 0, median_lag_ms: l?.median_lag_ms ?? null, max_lag_ms: l?.max_lag_ms ?? null };
      }),
    };
  }

  // --- actions -----------------------------------------------------------------------
  async function action(q: Query, name: string, body: Record<string, unknown>) {
    const text = (field: string): string => {
      const v = body[field];
      if (typeof v !== "string" || v === "") throw new HttpError(400, `${field} is required`);
      return v;
    };
    switch (name) {
      case "run-now": {
        const params = body.params ?? {};
        if (typeof params !== "object" || params === null || Array.isArray(params)) throw new HttpError(400, "params must be a JSON object");
        const [r] = await q(ACTIONS.runNow, [text("job"), JSON.stringify(params)]);
        return { run_id: r.run_id, message: `started run ${r.run_id}` };
      }
      case "cancel": {
        const run = id(String(body.run ?? ""), "run");
        const [r] = await q(ACTIONS.cancel, [run]);
        return { cancelled: r.cancelled, message: r.cancelled ? `cancelled run ${run}` : `run ${run} had already ended` };
      }
      case "retry": {
        const run = id(String(body.run ?? ""), "run");
        const [r] = await q(ACTIONS.retry, [run]);
        return { run_id: r.run_id, message: `run ${run} retried as run ${r.run_id}` };
      }
      case "pause": {
        const [r] = await q(ACTIONS.pause, [text("job")]);
        return { changed: r.changed, message: r.changed ? `paused ${body.job}` : `${body.job} was already paused` };
      }
      case "resume": {
        const [r] = await q(ACTIONS.resume, [text("job")]);
        return { changed: r.changed, message: r.changed ? `resumed ${body.job}` : `${body.job} was not paused` };
      }
      default:
        throw new HttpError(404, `unknown action ${JSON.stringify(name)}`);
    }
  }

  // --- HTTP --------------------------------------------------------------------------
  const loopbackOnly = isLoopback(config.host);

  /**
   * A console bound to loopback answers only to loopback host names: a page elsewhere
   * cannot reach it through DNS rebinding. Behind a proxy (any other address), the proxy
   * decides who reaches it.
   */
  function hostAllowed(req: IncomingMessage): boolean {
    if (!loopbackOnly) return true;
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || host.startsWith("127.");
  }

  /** Actions must come from this console's own page: same origin, JSON body. */
  function checkActionRequest(req: IncomingMessage): void {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("application/json")) throw new HttpError(415, "actions take a JSON body (content-type: application/json)");
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== "null") {
      let originHost = "";
      try {
        originHost = new URL(origin).host;
      } catch {
        /* refused below */
      }
      if (originHost !== req.headers.host) throw new HttpError(403, "actions are accepted only from the console's own page (origin differs)");
    } else if (origin === "null") {
      throw new HttpError(403, "actions are accepted only from the console's own page");
    }
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65_536) throw new HttpError(413, "request body too large");
      chunks.push(chunk as Buffer);
    }
    try {
      const value = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
      return value as Record<string, unknown>;
    } catch {
      throw new HttpError(400, "the request body must be a JSON object");
    }
  }

  const SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };

  function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
    const body = Buffer.from(JSON.stringify(value));
    // Pages poll: an unchanged answer is a 304 and the browser keeps what it shows.
    const etag = `"${createHash("sha1").update(body).digest("base64url")}"`;
    const headers = { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8", "cache-control": "no-cache", etag };
    if (status === 200 && req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(status, headers).end(body);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const path = url.pathname;
    const params = url.searchParams;

    if (!path.startsWith("/api/")) {
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "method not allowed");
      const asset = assets.get(path === "/" ? "/index.html" : path) ?? (path.includes(".") ? undefined : assets.get("/index.html"));
      if (!asset) throw new HttpError(404, "not found");
      res.writeHead(200, { ...SECURITY_HEADERS, "content-type": asset.type, "cache-control": "no-cache" }).end(asset.body);
      return;
    }

    if (path.startsWith("/api/actions/")) {
      if (req.method !== "POST") throw new HttpError(405, "actions are POST requests");
      checkActionRequest(req);
      if (!config.allowActions) {
        throw new HttpError(403, "this console is read-only: start it with --allow-actions to run, cancel, retry, pause or resume", { code: "read_only" });
      }
      const body = await readJson(req);
      const name = path.slice("/api/actions/".length);
      const result = await withDatabase(req, (q) => action(q, name, body));
      log(`action ${name} ${JSON.stringify(body)}: ${result.message}`);
      sendJson(req, res, 200, result);
      return;
    }

    if (req.method !== "GET") throw new HttpError(405, "method not allowed");
    const m = /^\/api\/(jobs|runs)\/(\d+)(\/output)?$/.exec(path);
    const result = await withDatabase(req, async (q) => {
      if (path === "/api/session") return session(q);
      if (path === "/api/summary") return (await q(QUERIES.summary))[0];
      if (path === "/api/jobs") return jobsPage(q, params, int(params, "limit", PAGE, 1, 200));
      if (path === "/api/timeline") return timeline(q, params);
      if (path === "/api/failures") return failures(q, params);
      if (path === "/api/skipped") return skipped(q, params);
      if (path === "/api/explain") return explain(q, params, (await q(QUERIES.session))[0]?.has_explain === true);
      if (path === "/api/workers") return workers(q);
      if (m?.[1] === "jobs" && !m[3]) return job(q, id(m[2], "job"), params);
      if (m?.[1] === "runs" && !m[3]) return run(q, id(m[2], "run"));
      if (m?.[1] === "runs" && m[3]) return stepOutput(q, id(m[2], "run"), params);
      throw new HttpError(404, `no such API path: ${path}`);
    });
    sendJson(req, res, 200, result);
  }

  const server: Server = createServer((req, res) => {
    if (!hostAllowed(req)) {
      res.writeHead(421, { "content-type": "text/plain" }).end("this console answers only to localhost\n");
      return;
    }
    route(req, res).catch((error: unknown) => {
      const e = error instanceof HttpError ? error : new HttpError(500, (error as Error)?.message ?? String(error));
      if (e.status >= 500) log(`error ${req.method} ${req.url}: ${e.message}`);
      if (!res.headersSent) sendJson(req, res, e.status, { error: { message: e.message, ...e.fields } });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
