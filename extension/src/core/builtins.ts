// Built-in tasks (step kind `builtin`, as pg_timetable has them): their arguments, validated
// when the job is defined, and normalized the same way where they run. `noop` and `log` are
// done by the database in the transaction that starts them; the others are run by a
// supervisor. Secrets come from the supervisor's environment by name (CLOCKWORK_SECRET_*),
// never from the definition; files live in the supervisor's working area, one folder per
// job owner, named by relative paths that cannot climb out of it. docs/builtins.md.

import { issue, didYouMean, type ValidationIssue } from "./errors.ts";
import { parseInterval, formatInterval } from "./interval.ts";
import { checkHttpUrl, CREDENTIAL_HEADERS, SECRET_ENV_HINT, SECRET_ENV_RE } from "./channels.ts";

export type BuiltinName = "noop" | "log" | "sleep" | "http" | "mail" | "download" | "copy_from" | "copy_to" | "queue";

interface BuiltinSpec {
  /** database: done in place when the step starts; supervisor: claimed and run by one. */
  runs: "database" | "supervisor";
  /** Reaches the network from the supervisor's host: only for roles allowed to (clockwork_network, clockwork_shell). */
  network: boolean;
  keys: readonly string[];
}

export const BUILTINS: Readonly<Record<BuiltinName, BuiltinSpec>> = {
  noop: { runs: "database", network: false, keys: [] },
  log: { runs: "database", network: false, keys: ["message"] },
  sleep: { runs: "supervisor", network: false, keys: ["duration"] },
  http: { runs: "supervisor", network: true, keys: ["url", "method", "headers", "secret_headers", "body", "allow_status", "max_response"] },
  mail: { runs: "supervisor", network: true, keys: ["to", "cc", "bcc", "from", "subject", "body", "attachments"] },
  download: { runs: "supervisor", network: true, keys: ["url", "to", "headers", "secret_headers", "max_size"] },
  copy_from: { runs: "supervisor", network: false, keys: ["file", "table", "columns", "format", "header", "delimiter", "null"] },
  copy_to: { runs: "supervisor", network: false, keys: ["file", "table", "query", "columns", "format", "header", "delimiter", "null"] },
  queue: { runs: "supervisor", network: false, keys: ["queue", "data", "params", "wait", "connection", "options"] },
};

export const BUILTIN_NAMES = Object.keys(BUILTINS) as BuiltinName[];
/** Built-ins the database completes itself, inside the transaction that starts them. */
export const DATABASE_BUILTIN_NAMES = BUILTIN_NAMES.filter((n) => BUILTINS[n].runs === "database");

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
const COPY_FORMATS = ["csv", "text", "binary"] as const;
const EMAIL_RE = /^[^\s@<>(),;:"]+@[A-Za-z0-9.-]+$/;
const IDENT = "[A-Za-z_][A-Za-z0-9_$]*";
const TABLE_RE = new RegExp(`^${IDENT}(\\.${IDENT})?$`);
const COLUMN_RE = new RegExp(`^${IDENT}$`);
const QUEUE_RE = /^[A-Za-z0-9_.\-/]{1,100}$/;
export const MAX_SLEEP_MS = 24 * 3_600_000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_RESPONSE_BYTES = 64 * 1024;
export const DEFAULT_DOWNLOAD_BYTES = 100 * 1024 * 1024;
export const MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024 * 1024;

/** A secret header: its value is the named variable, after an optional prefix ("Bearer "). */
export interface SecretHeader {
  env: string;
  prefix: string;
}

export type BuiltinArgs =
  | { builtin: "noop" }
  | { builtin: "log"; message: string }
  | { builtin: "sleep"; durationMs: number }
  | {
      builtin: "http"; url: string; method: (typeof HTTP_METHODS)[number]; headers: Record<string, string>;
      secretHeaders: Record<string, SecretHeader>; body: string | null; json: boolean; allowStatus: number[] | "any"; maxResponseBytes: number;
    }
  | { builtin: "mail"; to: string[]; cc: string[]; bcc: string[]; from: string | null; subject: string; body: string; attachments: string[] }
  | { builtin: "download"; url: string; to: string; headers: Record<string, string>; secretHeaders: Record<string, SecretHeader>; maxBytes: number }
  | { builtin: "copy_from"; file: string; table: string; columns: string[]; format: (typeof COPY_FORMATS)[number]; header: boolean; delimiter: string | null; null: string | null }
  | {
      builtin: "copy_to"; file: string; table: string | null; query: string | null; columns: string[]; format: (typeof COPY_FORMATS)[number];
      header: boolean; delimiter: string | null; null: string | null;
    }
  | {
      builtin: "queue"; queue: string; data: Record<string, unknown>; params: boolean; wait: boolean; connection: string | null;
      options: QueueOptions;
    };

/** pg-boss send options, in pg-boss's own names. */
export interface QueueOptions {
  priority?: number;
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  startAfter?: number;
  singletonKey?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A path in the working area: relative, no `..`, no empty or hidden tricks. */
export function checkWorkPath(v: unknown): string | null {
  if (typeof v !== "string" || v === "" || v.length > 1024) return "must be a relative path in the supervisor's working area";
  if (v.startsWith("/") || v.startsWith("~")) return `${JSON.stringify(v)} is absolute: files live in the supervisor's working area, named by relative paths`;
  if (/[\0\\]/.test(v)) return `${JSON.stringify(v)} has a NUL or a backslash`;
  const parts = v.split("/");
  if (parts.some((p) => p === "..")) return `${JSON.stringify(v)} climbs out of the working area ("..")`;
  if (parts.some((p) => p === "" || p === ".")) return `${JSON.stringify(v)} has an empty or "." segment`;
  return null;
}

class Args {
  readonly errors: ValidationIssue[] = [];
  constructor(readonly path: string, readonly v: Record<string, unknown>) {}
  at(key: string): string {
    return `${this.path}.${key}`;
  }
  bad(key: string, message: string, kind: "invalid_builtin" | "secret_in_definition" = "invalid_builtin"): void {
    this.errors.push(issue(kind, this.at(key), message));
  }
  string(key: string, required: boolean, max = 100_000): string | null {
    const x = this.v[key];
    if (x === undefined || x === null) {
      if (required) this.bad(key, "is required");
      return null;
    }
    if (typeof x !== "string" || (required && x === "")) {
      this.bad(key, `must be ${required ? "a non-empty" : "a"} string`);
      return null;
    }
    if (x.length > max) {
      this.bad(key, `is longer than ${max} characters`);
      return null;
    }
    return x;
  }
  boolean(key: string, fallback: boolean): boolean {
    const x = this.v[key];
    if (x === undefined || x === null) return fallback;
    if (typeof x !== "boolean") {
      this.bad(key, "must be true or false");
      return fallback;
    }
    return x;
  }
  bytes(key: string, fallback: number, max: number): number {
    const x = this.v[key];
    if (x === undefined || x === null) return fallback;
    if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > max) {
      this.bad(key, `must be a whole number of bytes from 1 to ${max}`);
      return fallback;
    }
    return x;
  }
  url(key: string): string | null {
    const u = checkHttpUrl(this.v[key]);
    if ("error" in u) {
      this.bad(key, u.error, /user or password/.test(u.error) ? "secret_in_definition" : "invalid_builtin");
      return null;
    }
    return u.url;
  }
  workPath(key: string, required = true): string | null {
    if (this.v[key] === undefined && !required) return null;
    const problem = checkWorkPath(this.v[key]);
    if (problem !== null) {
      this.bad(key, problem);
      return null;
    }
    return this.v[key] as string;
  }
  headers(key: string): Record<string, string> {
    const out: Record<string, string> = {};
    const x = this.v[key];
    if (x === undefined || x === null) return out;
    if (!isObj(x)) {
      this.bad(key, "must be an object of Header-Name: value");
      return out;
    }
    for (const [name, value] of Object.entries(x)) {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/.test(name)) this.bad(`${key}.${name}`, `"${name}" is not a header name`);
      else if (CREDENTIAL_HEADERS.includes(name.toLowerCase())) {
        this.bad(`${key}.${name}`, `the ${name} header is a credential: name its variable under secret_headers instead (${SECRET_ENV_HINT})`, "secret_in_definition");
      } else if (typeof value !== "string" || /[\r\n]/.test(value)) this.bad(`${key}.${name}`, "must be a one-line string");
      else out[name] = value;
    }
    return out;
  }
  secretHeaders(key: string): Record<string, SecretHeader> {
    const out: Record<string, SecretHeader> = {};
    const x = this.v[key];
    if (x === undefined || x === null) return out;
    if (!isObj(x)) {
      this.bad(key, "must be an object of Header-Name: CLOCKWORK_SECRET_NAME (or {secret, prefix})");
      return out;
    }
    for (const [name, value] of Object.entries(x)) {
      const p = `${key}.${name}`;
      const spec = typeof value === "string" ? { secret: value, prefix: "" } : isObj(value) ? value : null;
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/.test(name)) this.bad(p, `"${name}" is not a header name`);
      else if (spec === null || typeof spec.secret !== "string" || !SECRET_ENV_RE.test(spec.secret)) {
        this.bad(p, `must name a secret, not hold one: ${SECRET_ENV_HINT}`, "secret_in_definition");
      } else if (spec.prefix !== undefined && (typeof spec.prefix !== "string" || /[\r\n]/.test(spec.prefix) || spec.prefix.length > 64)) {
        this.bad(p, "prefix must be a short one-line string such as \"Bearer \"");
      } else out[name] = { env: spec.secret, prefix: (spec.prefix as string | undefined) ?? "" };
    }
    return out;
  }
  addresses(key: string, required: boolean): string[] {
    const x = this.v[key];
    if (x === undefined || x === null) {
      if (required) this.bad(key, "needs at least one address");
      return [];
    }
    const list = typeof x === "string" ? [x] : x;
    if (!Array.isArray(list) || (required && list.length === 0)) {
      this.bad(key, "must be an address or a list of addresses");
      return [];
    }
    return list.filter((a: unknown, i) => {
      if (typeof a === "string" && EMAIL_RE.test(a)) return true;
      this.bad(`${key}[${i}]`, `${JSON.stringify(a)} is not a mail address`);
      return false;
    }) as string[];
  }
  columns(key: string): string[] {
    const x = this.v[key];
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x) || !x.every((c) => typeof c === "string" && COLUMN_RE.test(c))) {
      this.bad(key, "must be a list of column names (letters, digits, _)");
      return [];
    }
    return x as string[];
  }
  copyFormat(): { format: (typeof COPY_FORMATS)[number]; header: boolean; delimiter: string | null; null: string | null } {
    const f = this.v.format ?? "csv";
    const format = (COPY_FORMATS as readonly unknown[]).includes(f) ? (f as (typeof COPY_FORMATS)[number]) : "csv";
    if (format !== f) this.bad("format", `must be ${COPY_FORMATS.join(", ")}, got ${JSON.stringify(f)}`);
    const header = this.boolean("header", false);
    if (header && format !== "csv") this.bad("header", "only the csv format has a header line");
    const delimiter = this.string("delimiter", false, 1);
    if (delimiter !== null && (delimiter.length !== 1 || /[\r\n\\]/.test(delimiter))) this.bad("delimiter", "must be one character (not a newline or backslash)");
    if (delimiter !== null && format === "binary") this.bad("delimiter", "the binary format has no delimiter");
    const nullText = this.string("null", false, 100);
    if (nullText !== null && format === "binary") this.bad("null", "the binary format has no null string");
    return { format, header, delimiter, null: nullText };
  }
}

/**
 * Validates a built-in's arguments; returns them normalized, or every problem found.
 * `path` is where the arguments are (`steps.fetch.args`).
 */
export function validateBuiltinArgs(name: string, args: unknown, path: string): { ok: true; args: BuiltinArgs } | { ok: false; errors: ValidationIssue[] } {
  if (!(BUILTIN_NAMES as string[]).includes(name)) {
    return { ok: false, errors: [issue("invalid_definition", path.replace(/\.args$/, ".builtin"), `unknown built-in ${JSON.stringify(name)}${didYouMean(name, BUILTIN_NAMES)} (known: ${BUILTIN_NAMES.join(", ")})`)] };
  }
  const builtin = name as BuiltinName;
  const raw = args === undefined || args === null ? {} : args;
  if (!isObj(raw)) return { ok: false, errors: [issue("invalid_builtin", path, "must be an object")] };
  const a = new Args(path, raw);
  const spec = BUILTINS[builtin];
  for (const k of Object.keys(raw)) {
    if (spec.keys.includes(k)) continue;
    a.bad(k, `unknown argument "${k}" of ${builtin}${didYouMean(k, spec.keys)}${spec.keys.length > 0 ? ` (arguments: ${spec.keys.join(", ")})` : " (it takes none)"}`,
      /secret|password|token|credential/i.test(k) ? "secret_in_definition" : "invalid_builtin");
  }
  let out: BuiltinArgs | null = null;
  switch (builtin) {
    case "noop":
      out = { builtin };
      break;
    case "log":
      out = { builtin, message: a.string("message", false) ?? "" };
      break;
    case "sleep": {
      const d = raw.duration;
      const r = parseInterval(d);
      if (d === undefined) a.bad("duration", "is required (e.g. \"30s\", or a number of seconds)");
      else if (!r.ok) a.bad("duration", r.message);
      else if (r.ms > MAX_SLEEP_MS) a.bad("duration", `must be at most ${formatInterval(MAX_SLEEP_MS)}, got ${formatInterval(r.ms)}`);
      out = { builtin, durationMs: r.ok ? r.ms : 0 };
      break;
    }
    case "http": {
      const url = a.url("url");
      const m = raw.method === undefined ? "GET" : typeof raw.method === "string" ? raw.method.toUpperCase() : raw.method;
      if (!(HTTP_METHODS as readonly unknown[]).includes(m)) a.bad("method", `must be one of ${HTTP_METHODS.join(", ")}, got ${JSON.stringify(raw.method)}`);
      let body: string | null = null;
      let json = false;
      if (raw.body !== undefined && raw.body !== null) {
        if (typeof raw.body === "string") body = raw.body;
        else if (typeof raw.body === "object") {
          body = JSON.stringify(raw.body);
          json = true;
        } else a.bad("body", "must be a string, or an object or list sent as JSON");
        if (m === "GET" || m === "HEAD") a.bad("body", `a ${m} request has no body`);
      }
      let allowStatus: number[] | "any" = [];
      const s = raw.allow_status;
      if (s === "any") allowStatus = "any";
      else if (s !== undefined) {
        const list = typeof s === "number" ? [s] : s;
        if (!Array.isArray(list) || !list.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 100 && x <= 599)) {
          a.bad("allow_status", "must be \"any\", a status code or a list of status codes (100 to 599) that do not fail the step");
        } else allowStatus = list as number[];
      }
      out = {
        builtin, url: url ?? "", method: m as (typeof HTTP_METHODS)[number], headers: a.headers("headers"),
        secretHeaders: a.secretHeaders("secret_headers"), body, json, allowStatus,
        maxResponseBytes: a.bytes("max_response", DEFAULT_RESPONSE_BYTES, MAX_RESPONSE_BYTES),
      };
      break;
    }
    case "mail": {
      const attachments: string[] = [];
      const at = raw.attachments;
      if (at !== undefined && at !== null) {
        if (!Array.isArray(at)) a.bad("attachments", "must be a list of files in the working area");
        else at.forEach((f, i) => {
          const problem = checkWorkPath(f);
          if (problem !== null) a.bad(`attachments[${i}]`, problem);
          else attachments.push(f as string);
        });
      }
      const from = a.string("from", false, 320);
      if (from !== null && !EMAIL_RE.test(from)) a.bad("from", `${JSON.stringify(from)} is not a mail address`);
      const subject = a.string("subject", true, 998);
      if (subject !== null && /[\r\n]/.test(subject)) a.bad("subject", "must be one line");
      out = {
        builtin, to: a.addresses("to", true), cc: a.addresses("cc", false), bcc: a.addresses("bcc", false), from,
        subject: subject ?? "", body: a.string("body", false) ?? "", attachments,
      };
      break;
    }
    case "download":
      out = {
        builtin, url: a.url("url") ?? "", to: a.workPath("to") ?? "", headers: a.headers("headers"),
        secretHeaders: a.secretHeaders("secret_headers"), maxBytes: a.bytes("max_size", DEFAULT_DOWNLOAD_BYTES, MAX_DOWNLOAD_BYTES),
      };
      break;
    case "copy_from": {
      const table = a.string("table", true, 200);
      if (table !== null && !TABLE_RE.test(table)) a.bad("table", `${JSON.stringify(table)} must be a table name, optionally schema-qualified (letters, digits, _)`);
      out = { builtin, file: a.workPath("file") ?? "", table: table ?? "", columns: a.columns("columns"), ...a.copyFormat() };
      break;
    }
    case "copy_to": {
      const table = a.string("table", false, 200);
      const query = a.string("query", false);
      if ((table === null) === (query === null)) a.bad(table === null ? "table" : "query", "give either a table or a query");
      if (table !== null && !TABLE_RE.test(table)) a.bad("table", `${JSON.stringify(table)} must be a table name, optionally schema-qualified (letters, digits, _)`);
      if (query !== null && /;\s*\S/.test(query.replace(/'(?:[^']|'')*'/g, "''"))) a.bad("query", "must be one query (no ;)");
      const columns = a.columns("columns");
      if (query !== null && columns.length > 0) a.bad("columns", "columns go with a table, not a query");
      out = { builtin, file: a.workPath("file") ?? "", table, query, columns, ...a.copyFormat() };
      break;
    }
    case "queue": {
      const queue = a.string("queue", true, 100);
      if (queue !== null && !QUEUE_RE.test(queue)) a.bad("queue", "must be 1–100 letters, digits and _ . - /");
      const data = raw.data === undefined || raw.data === null ? {} : raw.data;
      if (!isObj(data)) a.bad("data", "must be an object (the job's data; the run's parameters are added unless params: false)");
      const connection = a.string("connection", false, 64);
      out = {
        builtin, queue: queue ?? "", data: isObj(data) ? data : {}, params: a.boolean("params", true), wait: a.boolean("wait", false),
        connection, options: readQueueOptions(a),
      };
      break;
    }
  }
  if (a.errors.length > 0 || out === null) return { ok: false, errors: a.errors };
  return { ok: true, args: out };
}

function readQueueOptions(a: Args): QueueOptions {
  const o = a.v.options;
  const out: QueueOptions = {};
  if (o === undefined || o === null) return out;
  if (!isObj(o)) {
    a.bad("options", "must be an object");
    return out;
  }
  const keys = ["priority", "retry_limit", "retry_delay", "retry_backoff", "expire_in", "start_after", "singleton_key"];
  for (const k of Object.keys(o)) if (!keys.includes(k)) a.bad(`options.${k}`, `unknown option "${k}"${didYouMean(k, keys)}`);
  const int = (k: string, max: number): number | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > max) {
      a.bad(`options.${k}`, `must be a whole number from 0 to ${max}`);
      return undefined;
    }
    return x;
  };
  const seconds = (k: string): number | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    const r = parseInterval(x);
    if (!r.ok) {
      a.bad(`options.${k}`, r.message);
      return undefined;
    }
    return Math.max(1, Math.round(r.ms / 1000));
  };
  const set = <K extends keyof QueueOptions>(key: K, value: QueueOptions[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set("priority", int("priority", 1_000_000));
  set("retryLimit", int("retry_limit", 1000));
  set("retryDelay", seconds("retry_delay"));
  if (o.retry_backoff !== undefined) {
    if (typeof o.retry_backoff === "boolean") out.retryBackoff = o.retry_backoff;
    else a.bad("options.retry_backoff", "must be true or false");
  }
  set("expireInSeconds", seconds("expire_in"));
  set("startAfter", seconds("start_after"));
  if (o.singleton_key !== undefined) {
    if (typeof o.singleton_key === "string" && o.singleton_key.length <= 200) out.singletonKey = o.singleton_key;
    else a.bad("options.singleton_key", "must be a string of at most 200 characters");
  }
  return out;
}
