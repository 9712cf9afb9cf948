// Job definitions: validation of the plain JSON object (YAML is parsed by the caller) into a
// normalized JobDefinition. Validation never stops at the first problem: it returns every
// error with its path and a precise message.

import { issue, didYouMean, type ValidationIssue, type ErrorKind } from "./errors.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";
import { parseInterval } from "./interval.ts";
import { parseTimestamp } from "./time.ts";
import { parseExpression, expressionPaths, type Expr, type Scalar, type Value } from "./expression.ts";
import { findNamedPlaceholders, matrixSize, MAX_MATRIX_INSTANCES } from "./params.ts";
import { allowedBytes, jsonSizeAtMost, utf8Length, MAX_DEFINITION_BYTES, MAX_PARAMETER_BYTES, MAX_RUN_INSTANCES } from "./bounds.ts";
import { conninfoHasPassword, conninfoProblems } from "./conninfo.ts";
import { analyzeSqlBody } from "./sql-text.ts";
import { validateAlertSettings, type AlertSettings } from "./alerts.ts";
import { BUILTIN_NAMES, BUILTINS, validateBuiltinArgs, type BuiltinName } from "./builtins.ts";
import {
  DEFAULT_MISFIRE_POLICY, DEFAULT_OVERLAP_POLICY, DEFAULT_RETRY_POLICY, MAX_BUFFERED_RUNS, MAX_RETAINED_RUNS, OVERLAP_ALIASES, OVERLAP_MODES,
  type MisfirePolicy, type OverlapMode, type OverlapPolicy, type RetentionPolicy, type RetryPolicy,
} from "./policies.ts";

export type StepKind = "sql" | "shell" | "program" | "builtin";
export type OnError = "fail" | "continue" | "succeed";
export const SERVER_ROLES = ["primary", "standby", "any"] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];
export const ON_ROLE_MISMATCH = ["fail", "skip", "skip_run"] as const;
export type OnRoleMismatch = (typeof ON_ROLE_MISMATCH)[number];

/** What every step and check has in common: the work itself. */
export interface WorkDefinition {
  name: string;
  kind: StepKind;
  /** sql: the statement(s), with :name placeholders. */
  sql: string | null;
  /** shell: the script, run by a real shell. */
  shell: string | null;
  /** program: argv, run without a shell. */
  program: string[] | null;
  /** builtin: its name, and its arguments. */
  builtin: string | null;
  args: Record<string, Value>;
  /**
   * sql: where the step runs. All null: the scheduler's own database (exactly once). Else
   * one of: another database of the same server, a named connection, or a libpq connection
   * string without a password (at least once: see docs/sql-steps.md).
   */
  database: string | null;
  connection: string | null;
  conninfo: string | null;
  /**
   * sql: true when the step runs statement by statement without a wrapping transaction (as
   * psql -f runs a file), recorded afterwards (at least once). Declared with `autonomous`,
   * else detected: a statement that cannot run in a transaction block (VACUUM, CREATE
   * INDEX CONCURRENTLY, COMMIT, …) or a CALL, whose procedure may commit.
   */
  autonomous: boolean;
  /**
   * sql: which server the step expects, over its connection's server_role (null: the
   * connection's; the scheduler's own database expects any).
   */
  serverRole: ServerRole | null;
  /**
   * sql: what happens when the server is not in that role, over the connection's
   * on_role_mismatch (null: the connection's). skip_run (steps only): the step is skipped
   * and so is everything in the run not started yet; the run ends succeeded, as a PgQuartz
   * job that runs only where its connections have their roles (runOnRoleError: false).
   */
  onRoleMismatch: OnRoleMismatch | null;
  matrix: Record<string, Scalar[]> | null;
  timeoutMs: number | null;
  env: Record<string, string>;
  /** Parameter values for this step, over the job's. */
  parameters: Record<string, Scalar>;
}

export interface StepDefinition extends WorkDefinition {
  depends: string[];
  /** The condition text and its AST, or null to always run. */
  when: string | null;
  whenAst: Expr | null;
  onError: OnError;
  /** Retries after the first attempt; null → the job's retry policy. */
  retries: number | null;
}

export interface CheckDefinition extends WorkDefinition {
  expectedExitCode: number;
  expected: string[];
  unexpected: string[];
}

export interface JobPolicies {
  misfire: MisfirePolicy;
  overlap: OverlapPolicy;
  retry: RetryPolicy;
  /** Whole-run time-out, or null. */
  timeoutMs: number | null;
  /** How much history is kept; fields left out take the database's default. */
  retention: RetentionPolicy;
  /**
   * Run once: "success" drops the job (keeping its history) after its first successful run,
   * as pg_timetable's self_destruct; "done" drops it once it has no slot left to fire and
   * no run going (a one-shot `at` job that tidies up after itself). null: never.
   */
  selfDestruct: "success" | "done" | null;
  /**
   * The concurrency group the job's runs share a limit with (several jobs, one limit:
   * pg_timetable's exclusive_execution, Airflow's pools), or null.
   */
  group: string | null;
  /** Who goes first when its group is full: higher first, then oldest first. Default 0. */
  priority: number;
}

export interface JobDefinition {
  name: string;
  description: string | null;
  enabled: boolean;
  timeZone: string;
  schedules: Schedule[];
  /** Default values of the job's parameters (null when declared without one). */
  parameters: Record<string, Scalar>;
  /** Each job parameter's type: declared, or that of its default (checked by run_now). */
  parameterTypes: Record<string, ParameterType>;
  policies: JobPolicies;
  /** Run only on this node (supervisor name), or anywhere. */
  node: string | null;
  /** Run only on nodes carrying all these labels. */
  labels: string[];
  /** Free-form tags for people and tools (e.g. an imported pgAgent job class); no effect on runs. */
  tags: string[];
  /**
   * 'step': each SQL step commits on its own. 'run': the run's SQL steps share one
   * transaction on their target, committed when the run succeeds and rolled back when it
   * fails (pg_timetable's chain transaction); its steps run one at a time in dependency order.
   */
  transaction: "step" | "run";
  /** In definition order. */
  steps: StepDefinition[];
  /** Step names in a dependency order (dependencies first, ties in definition order). */
  order: string[];
  checks: CheckDefinition[];
  /** The job's alerts section (over the defaults), or null when it has none. */
  alerts: AlertSettings | null;
}

export interface ValidationEnvironment {
  /** Validity predicate for zone names. Default: accept all. */
  isValidTimeZone?: (zone: string) => boolean;
  /** Named connections the defining role may use. Undefined: not checked. */
  connections?: readonly string[];
  /** Databases of this server. Undefined: not checked. */
  databases?: readonly string[];
  /**
   * The role defining the job (who its steps log in as) and whether it is a superuser, for
   * the rules on connection strings. Undefined: not checked (a stored definition read back).
   */
  definer?: { role: string; superuser: boolean };
  /** Known calendar names. Undefined: not checked. */
  calendars?: readonly string[];
  /** Concurrency groups the defining role may use. Undefined: not checked. */
  groups?: readonly string[];
  /** Whether the defining role may define shell and program steps. Default false. */
  allowShellSteps?: boolean;
  /** Built-in step names. Default: all of them (core/builtins.ts). */
  builtins?: readonly string[];
  /** Whether the defining role may use built-ins that reach the network (http, download, mail). Default false. */
  allowNetworkBuiltins?: boolean;
  /** Bound on matrix instances per step. Default 256. */
  maxMatrixInstances?: number;
  /**
   * Whether the bounds of core/bounds.ts are checked: the definition's size, its
   * parameters' and the instances of a run. Default true; false for a stored definition
   * read back, which was accepted when it was stored (by a version without them, perhaps).
   */
  bounds?: boolean;
  /** Default zone for schedules without one. Default "UTC". */
  defaultTimeZone?: string;
  /** Known alert channel names. Undefined: not checked. */
  alertChannels?: readonly string[];
  /**
   * Whether the defining role may name a CLOCKWORK_SECRET_* variable in a built-in (granted
   * by an administrator, docs/builtins.md). Undefined: not checked.
   */
  mayUseSecret?: (name: string) => boolean;
}

export type DefinitionResult = { ok: true; job: JobDefinition } | { ok: false; errors: ValidationIssue[] };

export const DEFAULT_BUILTINS = BUILTIN_NAMES;

/** Fields of a step result that conditions may read. */
export const STEP_RESULT_FIELDS = ["status", "exit_code", "output", "error", "rows", "row", "attempts"] as const;

const JOB_KEYS = ["name", "description", "enabled", "schedules", "time_zone", "parameters", "policies", "node", "labels", "tags", "transaction", "steps", "checks", "alerts"];
const POLICY_KEYS = ["misfire", "catchup_window", "overlap", "max_instances", "retry", "timeout", "retention", "self_destruct", "group", "priority"];
/** Concurrency group names, as clockwork.concurrency_groups' constraint has them. */
const GROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** policies.priority lies within ±this. */
export const MAX_PRIORITY = 1000;
const WORK_KEYS = ["name", "description", "sql", "shell", "program", "builtin", "args", "database", "connection", "conninfo", "autonomous", "server_role", "on_role_mismatch", "matrix", "timeout", "env", "parameters"];
const STEP_KEYS = [...WORK_KEYS, "depends", "when", "on_error", "retries"];
const CHECK_KEYS = [...WORK_KEYS, "expected_exit_code", "expected", "unexpected"];
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const JOB_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
const sub = (path: string, key: string | number): string => (typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`);

export { conninfoHasPassword };

/** Environment variable names that carry credentials: refused in a step's env. */
const SECRET_ENV_NAME = /PASSWORD|PASSFILE|^PGPASS|SECRET|_TOKEN$|^DATABASE_URL$/i;

/**
 * Why a variable a shell or program step would get (its env, or a parameter or matrix
 * value, which reach it as variables under their names: stepEnvironment) puts a credential
 * in the definition, or null: a name that carries credentials (PGPASSWORD, …), or a value
 * that is a connection string with a password.
 */
function credentialInVariable(name: string, value: unknown): string | null {
  if (SECRET_ENV_NAME.test(name)) return `${name} would put a credential in the definition`;
  if (typeof value === "string" && /postgres(ql)?:\/\/|password\s*=/i.test(value) && conninfoHasPassword(value.match(/postgres(ql)?:\/\/\S+/i)?.[0] ?? value)) {
    return "the value is a connection string with a password";
  }
  return null;
}

/** Said of a parameter or matrix value refused by credentialInVariable. */
const REACHES_PROCESSES = "parameters and matrix values reach shell and program steps as environment variables";

/**
 * The env rule (credentialInVariable) for the parameters and matrix values of a job with
 * shell or program steps or checks: they reach those processes as environment variables,
 * as env does. A job parameter is checked once, whichever steps take it.
 */
function checkProcessVariables(c: Collector, jobParams: Record<string, Scalar>, work: ReadonlyArray<[string, WorkDefinition]>): void {
  const processes = work.filter(([, w]) => w.kind === "shell" || w.kind === "program");
  if (processes.length === 0) return;
  const check = (path: string, name: string, value: unknown): boolean => {
    const why = credentialInVariable(name, value);
    if (why !== null) c.add("password_in_environment", path, `${why}: ${REACHES_PROCESSES}`);
    return why === null;
  };
  for (const [k, x] of Object.entries(jobParams)) check(sub("parameters", k), k, x);
  for (const [path, w] of processes) {
    for (const [k, x] of Object.entries(w.parameters)) check(sub(sub(path, "parameters"), k), k, x);
    for (const [k, list] of Object.entries(w.matrix ?? {})) {
      if (!check(sub(sub(path, "matrix"), k), k, null)) continue;
      list.forEach((x, i) => check(sub(sub(sub(path, "matrix"), k), i), k, x));
    }
  }
}

class Collector {
  readonly errors: ValidationIssue[] = [];
  add(kind: ErrorKind, path: string, message: string): void {
    this.errors.push(issue(kind, path, message));
  }
  unknownKeys(o: Obj, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.add("invalid_definition", sub(path, k), `unknown field "${k}"${didYouMean(k, allowed)}`);
    }
  }
}

function readInterval(c: Collector, v: unknown, path: string, kind: ErrorKind = "invalid_interval"): number | null {
  if (v === undefined || v === null) return null;
  const r = parseInterval(v);
  if (!r.ok) {
    c.add(kind, path, r.message);
    return null;
  }
  return r.ms;
}

function readStringList(c: Collector, v: unknown, path: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    c.add("invalid_definition", path, "must be a string or a list of strings");
    return [];
  }
  return v as string[];
}

/** What a job parameter holds: declared (`{type, default}`), or read from its default. */
export type ParameterType = "string" | "number" | "integer" | "boolean" | "date" | "timestamp" | "any";

export const PARAMETER_TYPES: readonly ParameterType[] = ["string", "number", "integer", "boolean", "date", "timestamp", "any"];

/** The type a default value implies: its JSON type; null says nothing (any). */
function typeOfDefault(x: Scalar): ParameterType {
  return x === null ? "any" : typeof x === "number" ? "number" : typeof x === "boolean" ? "boolean" : "string";
}

/**
 * A value for a parameter of a type, or why not. Text that reads exactly as a number or a
 * boolean is taken as one (run parameters often come from a command line); null is allowed
 * for every type (no value).
 */
export function coerceParameter(type: ParameterType, x: unknown): { ok: true; value: Scalar } | { ok: false; message: string } {
  if (x === null) return { ok: true, value: null };
  if (!isScalar(x)) return { ok: false, message: "parameter values must be strings, numbers, booleans or null" };
  const got = typeof x === "string" ? JSON.stringify(x) : String(x);
  switch (type) {
    case "any":
      return { ok: true, value: x };
    case "string":
      return { ok: true, value: typeof x === "string" ? x : String(x) };
    case "number":
    case "integer": {
      const n = typeof x === "number" ? x : typeof x === "string" && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(x) ? Number(x) : NaN;
      if (!Number.isFinite(n)) return { ok: false, message: `expected ${type === "integer" ? "an integer" : "a number"}, got ${got}` };
      if (type === "integer" && !Number.isSafeInteger(n)) return { ok: false, message: `expected an integer, got ${got}` };
      return { ok: true, value: n };
    }
    case "boolean":
      if (typeof x === "boolean") return { ok: true, value: x };
      if (x === "true" || x === "false") return { ok: true, value: x === "true" };
      return { ok: false, message: `expected true or false, got ${got}` };
    case "date":
    case "timestamp": {
      const p = typeof x === "string" ? parseTimestamp(x) : null;
      if (p === null || (type === "date" && !p.dateOnly)) {
        return { ok: false, message: `expected ${type === "date" ? "a date YYYY-MM-DD" : "a timestamp YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]"}, got ${got}` };
      }
      return { ok: true, value: x as string };
    }
  }
}

function readParameters(c: Collector, v: unknown, path: string, types?: Record<string, ParameterType>): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  if (v === undefined || v === null) return out;
  if (!isObj(v)) {
    c.add("invalid_parameter", path, "parameters must be an object of name: value");
    return out;
  }
  for (const [k, x] of Object.entries(v)) {
    const at = sub(path, k);
    if (!NAME_RE.test(k) || k.includes("-")) c.add("invalid_parameter", at, `parameter name "${k}" must be letters, digits and _ (not starting with a digit)`);
    else if (types !== undefined && isObj(x)) {
      // A declared parameter of the job: {type, default}.
      c.unknownKeys(x, ["type", "default", "description"], at);
      const type = x.type;
      if (typeof type !== "string" || !(PARAMETER_TYPES as readonly string[]).includes(type)) {
        c.add("invalid_parameter", sub(at, "type"), `must be one of ${PARAMETER_TYPES.join(", ")}, got ${JSON.stringify(type)}`);
        continue;
      }
      const value = coerceParameter(type as ParameterType, x.default ?? null);
      if (!value.ok) c.add("invalid_parameter", sub(at, "default"), value.message);
      else [out[k], types[k]] = [value.value, type as ParameterType];
    } else if (!isScalar(x)) c.add("invalid_parameter", at, types !== undefined ? "parameter values must be strings, numbers, booleans, null, or {type, default}" : "parameter values must be strings, numbers, booleans or null");
    else {
      out[k] = x;
      if (types !== undefined) types[k] = typeOfDefault(x);
    }
  }
  return out;
}

/**
 * Why the text a definition was written in (YAML or JSON, as its author wrote it, and as
 * it is kept for export) is too large to read, or null: checked before it is parsed.
 */
export function definitionTextTooLarge(text: string): string | null {
  const bytes = utf8Length(text);
  return bytes > MAX_DEFINITION_BYTES ? `the definition's text is ${bytes} bytes; ${allowedBytes(MAX_DEFINITION_BYTES)}` : null;
}

/**
 * What one run of the job costs, bounded at definition time (core/bounds.ts): its step and
 * check instances (each step's matrix has its own bound), and the parameters and matrix
 * values it carries, which every instance's claim and history copies.
 */
function checkRunBounds(c: Collector, jobParams: Record<string, Scalar>, work: ReadonlyArray<[string, WorkDefinition]>): void {
  const instances = work.reduce((n, [, w]) => n + matrixSize(w.matrix), 0);
  if (instances > MAX_RUN_INSTANCES) {
    c.add("matrix_too_large", "steps", `a run of the job has ${instances} step and check instances (matrices expanded); at most ${MAX_RUN_INSTANCES} are allowed`);
  }
  // Exact sizes: the whole definition is within MAX_DEFINITION_BYTES.
  const size = (x: object | null): number => (x === null || Object.keys(x).length === 0 ? 0 : jsonSizeAtMost(x, MAX_DEFINITION_BYTES));
  const bytes = work.reduce((n, [, w]) => n + size(w.parameters) + size(w.matrix), size(jobParams));
  if (bytes > MAX_PARAMETER_BYTES) {
    c.add("invalid_parameter", "parameters", `the job's parameters and its steps' and checks' parameters and matrix values take ${bytes} bytes as JSON in all; ${allowedBytes(MAX_PARAMETER_BYTES)}`);
  }
}

/**
 * Parameters asked for when a run is started (run_now), checked against the job's: no
 * unknown names, each value of its declared or default type. Returns them typed, or every
 * problem found, each naming its parameter.
 */
export function checkRunParameters(job: Pick<JobDefinition, "name" | "parameters" | "parameterTypes"> & Partial<Pick<JobDefinition, "steps" | "checks">>, given: unknown): { ok: true; params: Record<string, Scalar> } | { ok: false; errors: ValidationIssue[] } {
  const c = new Collector();
  const params: Record<string, Scalar> = {};
  if (!isObj(given)) {
    c.add("invalid_parameter", "params", "params must be a JSON object of name: value");
    return { ok: false, errors: c.errors };
  }
  const known = Object.keys(job.parameters);
  for (const [name, x] of Object.entries(given)) {
    if (!known.includes(name)) {
      c.add("invalid_parameter", `params.${name}`, `job "${job.name}" has no parameter "${name}"${didYouMean(name, known)}`);
      continue;
    }
    const type = job.parameterTypes[name] ?? "any";
    const value = coerceParameter(type, x);
    if (!value.ok) {
      const says = isScalar(x) && type !== "any" ? ` (parameter "${name}" is ${type === "integer" ? "an integer" : `a ${type}`})` : "";
      c.add("invalid_parameter", `params.${name}`, `${value.message}${says}`);
    }
    else params[name] = value.value;
  }
  const bytes = jsonSizeAtMost(params, MAX_DEFINITION_BYTES);
  if (bytes > MAX_PARAMETER_BYTES) c.add("invalid_parameter", "params", `the run's parameters take ${bytes > MAX_DEFINITION_BYTES ? "more than " : ""}${Math.min(bytes, MAX_DEFINITION_BYTES)} bytes as JSON; ${allowedBytes(MAX_PARAMETER_BYTES)}`);
  // A value that reaches a shell or program step (as a variable) takes the env rule; the
  // names are the job's, checked when it was defined.
  if ([...(job.steps ?? []), ...(job.checks ?? [])].some((w) => w.kind === "shell" || w.kind === "program")) {
    for (const [name, x] of Object.entries(params)) {
      const why = credentialInVariable("", x);
      if (why !== null) c.add("password_in_environment", `params.${name}`, `${why}: ${REACHES_PROCESSES}`);
    }
  }
  return c.errors.length > 0 ? { ok: false, errors: c.errors } : { ok: true, params };
}

function readPolicies(c: Collector, v: unknown, path: string): JobPolicies {
  const p: JobPolicies = {
    misfire: { ...DEFAULT_MISFIRE_POLICY },
    overlap: { ...DEFAULT_OVERLAP_POLICY },
    retry: { ...DEFAULT_RETRY_POLICY },
    timeoutMs: null,
    retention: {},
    selfDestruct: null,
    group: null,
    priority: 0,
  };
  if (v === undefined || v === null) return p;
  if (!isObj(v)) {
    c.add("invalid_policy", path, "policies must be an object");
    return p;
  }
  c.unknownKeys(v, POLICY_KEYS, path);
  // misfire
  const m = v.misfire;
  if (typeof m === "string") {
    if (m === "skip" || m === "once" || m === "all") p.misfire.policy = m;
    else c.add("invalid_policy", sub(path, "misfire"), `must be "skip", "once" or "all", got ${JSON.stringify(m)}`);
  } else if (isObj(m)) {
    const mp = sub(path, "misfire");
    c.unknownKeys(m, ["policy", "grace", "max_count", "max_age"], mp);
    if (m.policy === "skip" || m.policy === "once" || m.policy === "all") p.misfire.policy = m.policy;
    else if (m.policy !== undefined) c.add("invalid_policy", sub(mp, "policy"), `must be "skip", "once" or "all", got ${JSON.stringify(m.policy)}`);
    if (m.grace !== undefined) {
      if (m.grace === 0) p.misfire.graceMs = 0;
      else p.misfire.graceMs = readInterval(c, m.grace, sub(mp, "grace")) ?? p.misfire.graceMs;
    }
    if (m.max_count !== undefined) {
      if (typeof m.max_count === "number" && Number.isInteger(m.max_count) && m.max_count >= 0) p.misfire.maxCount = m.max_count;
      else c.add("invalid_policy", sub(mp, "max_count"), "must be a whole number ≥ 0");
    }
    p.misfire.maxAgeMs = readInterval(c, m.max_age, sub(mp, "max_age"));
  } else if (m !== undefined) c.add("invalid_policy", sub(path, "misfire"), "must be a policy name or an object");
  // catch-up window (Temporal's name): missed slots younger than it are run, older ones skipped
  if (v.catchup_window !== undefined) {
    const cp = sub(path, "catchup_window");
    const window = readInterval(c, v.catchup_window, cp);
    const explicit = typeof m === "string" ? m : isObj(m) ? m.policy : undefined;
    if (explicit !== undefined && explicit !== "all") c.add("invalid_policy", cp, `catchup_window runs the missed slots within it; it cannot be combined with misfire "${String(explicit)}"`);
    else if (isObj(m) && m.max_age !== undefined) c.add("invalid_policy", cp, "give either catchup_window or misfire.max_age, not both");
    else if (window !== null) {
      p.misfire.policy = "all";
      p.misfire.maxAgeMs = window;
    }
  }
  // overlap
  const o = v.overlap;
  const modes = `${OVERLAP_MODES.map((x) => `"${x}"`).join(", ")} (or allow, queue, replace)`;
  const readMode = (x: unknown, at: string): OverlapMode | null => {
    if (typeof x === "string" && (OVERLAP_MODES as readonly string[]).includes(x)) return x as OverlapMode;
    if (typeof x === "string" && x in OVERLAP_ALIASES) return OVERLAP_ALIASES[x]!;
    c.add("invalid_policy", at, `must be one of ${modes}, got ${JSON.stringify(x)}${typeof x === "string" ? didYouMean(x, [...OVERLAP_MODES, ...Object.keys(OVERLAP_ALIASES)]) : ""}`);
    return null;
  };
  let maxInstances: number | undefined;
  let maxQueue: number | undefined;
  const readMaxInstances = (x: unknown, at: string): void => {
    if (typeof x === "number" && Number.isInteger(x) && x >= 1) maxInstances = x;
    else c.add("invalid_policy", at, "must be a whole number ≥ 1");
  };
  let modeGiven = false;
  if (typeof o === "string") {
    const mode = readMode(o, sub(path, "overlap"));
    if (mode !== null) [p.overlap.mode, modeGiven] = [mode, true];
  } else if (isObj(o)) {
    const op = sub(path, "overlap");
    c.unknownKeys(o, ["mode", "max_instances", "max_queue"], op);
    if (o.mode !== undefined) {
      const mode = readMode(o.mode, sub(op, "mode"));
      if (mode !== null) [p.overlap.mode, modeGiven] = [mode, true];
    }
    if (o.max_instances !== undefined) readMaxInstances(o.max_instances, sub(op, "max_instances"));
    if (o.max_queue !== undefined) {
      if (typeof o.max_queue === "number" && Number.isInteger(o.max_queue) && o.max_queue >= 1 && o.max_queue <= MAX_BUFFERED_RUNS) maxQueue = o.max_queue;
      else c.add("invalid_policy", sub(op, "max_queue"), `must be a whole number from 1 to ${MAX_BUFFERED_RUNS}`);
    }
  } else if (o !== undefined) c.add("invalid_policy", sub(path, "overlap"), "must be a mode name or an object");
  if (v.max_instances !== undefined) {
    if (maxInstances !== undefined) c.add("invalid_policy", sub(path, "max_instances"), "give max_instances once (here or under overlap)");
    else readMaxInstances(v.max_instances, sub(path, "max_instances"));
    // max_instances alone (pg_timetable style) means: allow that many at once.
    if (!modeGiven && maxInstances !== undefined) p.overlap.mode = "allow_all";
  }
  const mode = p.overlap.mode;
  const buffered = mode === "buffer_one" || mode === "buffer_all";
  if (maxInstances !== undefined && maxInstances > 1 && !buffered && mode !== "allow_all") {
    c.add("invalid_policy", sub(path, "max_instances"), `max_instances applies to allow_all, buffer_one and buffer_all; overlap "${mode}" runs one at a time`);
  }
  p.overlap.maxInstances = mode === "allow_all" ? maxInstances ?? null : maxInstances ?? 1;
  if (maxQueue !== undefined && !buffered) c.add("invalid_policy", sub(sub(path, "overlap"), "max_queue"), `max_queue applies to buffer_all; overlap "${mode}" buffers nothing`);
  if (maxQueue !== undefined && mode === "buffer_one" && maxQueue !== 1) c.add("invalid_policy", sub(sub(path, "overlap"), "max_queue"), "buffer_one holds one run; use buffer_all with max_queue for more");
  p.overlap.maxQueued = mode === "buffer_one" ? 1 : mode === "buffer_all" ? maxQueue ?? MAX_BUFFERED_RUNS : 0;
  // retry
  const r = v.retry;
  if (typeof r === "number") {
    if (Number.isInteger(r) && r >= 1 && r <= 100) p.retry.attempts = r;
    else c.add("invalid_policy", sub(path, "retry"), "attempts must be a whole number from 1 to 100");
  } else if (isObj(r)) {
    const rp = sub(path, "retry");
    c.unknownKeys(r, ["attempts", "backoff", "delay", "max_delay", "jitter"], rp);
    if (r.attempts !== undefined) {
      if (typeof r.attempts === "number" && Number.isInteger(r.attempts) && r.attempts >= 1 && r.attempts <= 100) p.retry.attempts = r.attempts;
      else c.add("invalid_policy", sub(rp, "attempts"), "must be a whole number from 1 to 100 (attempts include the first)");
    }
    if (r.backoff === "fixed" || r.backoff === "exponential") p.retry.backoff = r.backoff;
    else if (r.backoff !== undefined) c.add("invalid_policy", sub(rp, "backoff"), `must be "fixed" or "exponential", got ${JSON.stringify(r.backoff)}`);
    p.retry.delayMs = readInterval(c, r.delay, sub(rp, "delay")) ?? p.retry.delayMs;
    p.retry.maxDelayMs = readInterval(c, r.max_delay, sub(rp, "max_delay")) ?? p.retry.maxDelayMs;
    if (r.jitter !== undefined) {
      if (typeof r.jitter === "number" && r.jitter >= 0 && r.jitter <= 1) p.retry.jitter = r.jitter;
      else c.add("invalid_policy", sub(rp, "jitter"), "must be a number from 0 to 1");
    }
  } else if (r !== undefined) c.add("invalid_policy", sub(path, "retry"), "must be a number of attempts or an object");
  p.timeoutMs = readInterval(c, v.timeout, sub(path, "timeout"));
  p.retention = readRetention(c, v.retention, sub(path, "retention"));
  const sd = v.self_destruct;
  if (sd === true || sd === "success") p.selfDestruct = "success";
  else if (sd === "done") p.selfDestruct = "done";
  else if (sd !== undefined && sd !== false && sd !== null) {
    c.add("invalid_policy", sub(path, "self_destruct"), `must be true (or "success": drop the job after its first successful run), "done" (drop it once no slot is left and no run is going) or false, got ${JSON.stringify(sd)}`);
  }
  // concurrency group and priority (whether the group exists is checked by the caller's environment)
  if (v.group !== undefined && v.group !== null) {
    if (typeof v.group === "string" && GROUP_NAME.test(v.group)) p.group = v.group;
    else c.add("invalid_policy", sub(path, "group"), `must be the name of a concurrency group (1-64 letters, digits, _ . -), got ${JSON.stringify(v.group)}`);
  }
  if (v.priority !== undefined && v.priority !== null) {
    if (typeof v.priority === "number" && Number.isInteger(v.priority) && Math.abs(v.priority) <= MAX_PRIORITY) p.priority = v.priority;
    else c.add("invalid_policy", sub(path, "priority"), `must be a whole number from -${MAX_PRIORITY} to ${MAX_PRIORITY} (higher goes first), got ${JSON.stringify(v.priority)}`);
  }
  return p;
}

/** policies.retention: "forever", or {max_age, max_runs, keep}; what is left out takes the default. */
function readRetention(c: Collector, v: unknown, path: string): RetentionPolicy {
  if (v === undefined || v === null) return {};
  if (v === "forever") return { maxAgeMs: null, maxRuns: null, keep: "all" };
  if (!isObj(v)) {
    c.add("invalid_policy", path, `must be "forever" or an object {max_age, max_runs, keep}, got ${JSON.stringify(v)}`);
    return {};
  }
  c.unknownKeys(v, ["max_age", "max_runs", "keep"], path);
  const r: RetentionPolicy = {};
  if (v.max_age === "forever") r.maxAgeMs = null;
  else if (v.max_age !== undefined) {
    const ms = readInterval(c, v.max_age, sub(path, "max_age"));
    if (ms !== null && ms < 60_000) c.add("invalid_policy", sub(path, "max_age"), "must be at least 1 minute (or \"forever\")");
    else if (ms !== null) r.maxAgeMs = ms;
  }
  if (v.max_runs === "forever") r.maxRuns = null;
  else if (v.max_runs !== undefined) {
    if (typeof v.max_runs === "number" && Number.isInteger(v.max_runs) && v.max_runs >= 1 && v.max_runs <= MAX_RETAINED_RUNS) r.maxRuns = v.max_runs;
    else c.add("invalid_policy", sub(path, "max_runs"), `must be a whole number from 1 to ${MAX_RETAINED_RUNS} (or "forever"), got ${JSON.stringify(v.max_runs)}`);
  }
  if (v.keep !== undefined) {
    if (v.keep === "all" || v.keep === "failures") r.keep = v.keep;
    else c.add("invalid_policy", sub(path, "keep"), `must be "all" or "failures" (succeeded runs are counted, not kept), got ${JSON.stringify(v.keep)}`);
  }
  return r;
}

interface RawEntry {
  name: string;
  path: string;
  value: Obj;
}

/** Steps and checks may be a map (name → definition) or a list of definitions with `name`. */
function readEntries(c: Collector, v: unknown, path: string, what: string): RawEntry[] {
  const out: RawEntry[] = [];
  if (v === undefined || v === null) return out;
  const seen = new Set<string>();
  const take = (name: unknown, value: unknown, p: string, fallbackName: string | null): void => {
    if (!isObj(value)) {
      c.add("invalid_definition", p, `a ${what} must be an object`);
      return;
    }
    const n = name ?? fallbackName;
    if (typeof n !== "string" || n === "") {
      c.add("invalid_definition", sub(p, "name"), `a ${what} needs a name`);
      return;
    }
    if (!NAME_RE.test(n)) c.add("invalid_definition", p, `${what} name "${n}" must start with a letter or _ and contain only letters, digits, _ and -`);
    if (seen.has(n)) {
      c.add("invalid_definition", p, `duplicate ${what} name "${n}"`);
      return;
    }
    seen.add(n);
    out.push({ name: n, path: sub(path, n), value });
  };
  if (Array.isArray(v)) v.forEach((x, i) => take(isObj(x) ? x.name : undefined, x, sub(path, i), null));
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (isObj(x) && x.name !== undefined && x.name !== k) c.add("invalid_definition", sub(sub(path, k), "name"), `name "${String(x.name)}" differs from its key "${k}"`);
      take(k, x, sub(path, k), k);
    }
  } else c.add("invalid_definition", path, `${path} must be a list or a map of ${what}s`);
  return out;
}

function readWork(c: Collector, e: RawEntry, env: ValidationEnvironment, jobParams: Record<string, Scalar>, phase: "step" | "check"): WorkDefinition {
  const v = e.value;
  const w: WorkDefinition = {
    name: e.name, kind: "sql", sql: null, shell: null, program: null, builtin: null, args: {},
    database: null, connection: null, conninfo: null, autonomous: false, serverRole: null, onRoleMismatch: null, matrix: null, timeoutMs: null, env: {}, parameters: {},
  };
  const kinds = (["sql", "shell", "program", "builtin"] as const).filter((k) => v[k] !== undefined);
  if (kinds.length !== 1) {
    c.add("invalid_definition", e.path, kinds.length === 0 ? "needs one of sql, shell, program or builtin" : `takes one of sql, shell, program or builtin, not ${kinds.join(" and ")}`);
  }
  const kind = kinds[0] ?? "sql";
  w.kind = kind;
  if (kinds.length === 0) {
    // Reported above; nothing more to say about the work itself.
  } else if (kind === "sql") {
    if (typeof v.sql !== "string" || v.sql.trim() === "") c.add("invalid_definition", sub(e.path, "sql"), "must be non-empty SQL text");
    else w.sql = v.sql;
  } else if (kind === "shell") {
    if (typeof v.shell !== "string" || v.shell.trim() === "") c.add("invalid_definition", sub(e.path, "shell"), "must be a non-empty script");
    else w.shell = v.shell;
  } else if (kind === "program") {
    if (!Array.isArray(v.program) || v.program.length === 0 || !v.program.every((x) => typeof x === "string") || v.program[0] === "") {
      c.add("invalid_definition", sub(e.path, "program"), "must be a non-empty argv list of strings, program first");
    } else w.program = v.program as string[];
  } else {
    const builtins = env.builtins ?? DEFAULT_BUILTINS;
    if (typeof v.builtin !== "string" || !builtins.includes(v.builtin)) {
      c.add("invalid_definition", sub(e.path, "builtin"), `unknown built-in ${JSON.stringify(v.builtin)}${typeof v.builtin === "string" ? didYouMean(v.builtin, builtins) : ""} (known: ${builtins.join(", ")})`);
    } else {
      w.builtin = v.builtin;
      const checked = validateBuiltinArgs(v.builtin, v.args, sub(e.path, "args"));
      if (!checked.ok) c.errors.push(...checked.errors);
      if (BUILTINS[v.builtin as BuiltinName]?.network === true && env.allowNetworkBuiltins !== true) {
        c.add("network_not_allowed", sub(e.path, "builtin"), `the ${v.builtin} built-in may only be defined by roles granted clockwork_network or clockwork_shell`);
      }
      if (checked.ok && (checked.args.builtin === "http" || checked.args.builtin === "download") && env.mayUseSecret !== undefined) {
        for (const [header, { env: secret }] of Object.entries(checked.args.secretHeaders)) {
          if (!env.mayUseSecret(secret)) {
            c.add("secret_not_granted", sub(sub(sub(e.path, "args"), "secret_headers"), header),
              `${secret} is not granted to ${env.definer ? `role "${env.definer.role}"` : "the defining role"}: an administrator grants it with clockwork.grant_secret`);
          }
        }
      }
      if (checked.ok && checked.args.builtin === "queue" && checked.args.connection !== null && env.connections !== undefined && !env.connections.includes(checked.args.connection)) {
        c.add("unknown_connection", sub(sub(e.path, "args"), "connection"), `unknown connection "${checked.args.connection}"${didYouMean(checked.args.connection, env.connections)}`);
      }
    }
    if (v.args !== undefined) {
      if (isObj(v.args)) w.args = v.args as Record<string, Value>;
      else if (v.args !== null) c.add("invalid_definition", sub(e.path, "args"), "must be an object");
    }
  }
  if ((kind === "shell" || kind === "program") && env.allowShellSteps !== true) {
    c.add("shell_not_allowed", sub(e.path, kind), `${kind} steps may only be defined by roles granted clockwork_shell`);
  }
  // Where an SQL step runs: at most one of database, connection, conninfo.
  const targets = (["database", "connection", "conninfo"] as const).filter((k) => v[k] !== undefined && v[k] !== null);
  for (const k of targets) if (kind !== "sql") c.add("invalid_definition", sub(e.path, k), `only sql steps take a ${k}`);
  if (targets.length > 1) c.add("invalid_definition", sub(e.path, targets[1]!), `give one of database, connection or conninfo, not ${targets.join(" and ")}`);
  if (kind === "sql" && targets.length === 1) {
    const k = targets[0]!;
    const value = v[k];
    if (k === "database") {
      if (typeof value !== "string" || !/^[^\u0000]{1,63}$/.test(value)) c.add("invalid_definition", sub(e.path, k), "must be a database name");
      else if (env.databases !== undefined && !env.databases.includes(value)) {
        c.add("invalid_definition", sub(e.path, k), `unknown database "${value}"${didYouMean(value, env.databases)}`);
      } else w.database = value;
    } else if (k === "connection") {
      if (typeof value !== "string" || value === "") c.add("unknown_connection", sub(e.path, k), "must be a connection name");
      else if (env.connections !== undefined && !env.connections.includes(value)) {
        c.add("unknown_connection", sub(e.path, k), `unknown connection "${value}"${didYouMean(value, env.connections)}`);
      } else w.connection = value;
    } else if (typeof value !== "string" || value.trim() === "") {
      c.add("invalid_definition", sub(e.path, k), "must be a libpq connection string");
    } else if (conninfoHasPassword(value)) {
      c.add("password_in_conninfo", sub(e.path, k), "connection string contains a password");
    } else {
      const problems = env.definer === undefined ? [] : conninfoProblems(value, { owner: env.definer.role, superuser: env.definer.superuser });
      for (const p of problems) c.add("invalid_definition", sub(e.path, k), p);
      if (problems.length === 0) w.conninfo = value;
    }
  }
  if (v.autonomous !== undefined && v.autonomous !== null) {
    if (kind !== "sql") c.add("invalid_definition", sub(e.path, "autonomous"), "only sql steps can be autonomous");
    else if (typeof v.autonomous !== "boolean") c.add("invalid_definition", sub(e.path, "autonomous"), "must be true or false");
  }
  // The server role the step expects, over its connection's (PgQuartz's role on a command).
  if (v.server_role !== undefined && v.server_role !== null) {
    if (kind !== "sql") c.add("invalid_definition", sub(e.path, "server_role"), "only sql steps take a server_role");
    else if (!(SERVER_ROLES as readonly unknown[]).includes(v.server_role)) {
      c.add("invalid_definition", sub(e.path, "server_role"), `must be primary, standby or any, got ${JSON.stringify(v.server_role)}`);
    } else w.serverRole = v.server_role as ServerRole;
  }
  if (v.on_role_mismatch !== undefined && v.on_role_mismatch !== null) {
    const allowed: readonly string[] = phase === "check" ? ["fail"] : ON_ROLE_MISMATCH;
    if (kind !== "sql") c.add("invalid_definition", sub(e.path, "on_role_mismatch"), "only sql steps take an on_role_mismatch");
    else if (typeof v.on_role_mismatch !== "string" || !allowed.includes(v.on_role_mismatch)) {
      c.add("invalid_definition", sub(e.path, "on_role_mismatch"), phase === "check"
        ? `a check passes or fails: on_role_mismatch can only be fail here, got ${JSON.stringify(v.on_role_mismatch)}`
        : `must be fail, skip or skip_run, got ${JSON.stringify(v.on_role_mismatch)}`);
    } else w.onRoleMismatch = v.on_role_mismatch as OnRoleMismatch;
  }
  if (w.sql !== null) {
    const body = analyzeSqlBody(w.sql);
    const declared = typeof v.autonomous === "boolean" ? v.autonomous : null;
    if (body.problem !== null) c.add("invalid_definition", sub(e.path, "sql"), body.problem);
    else if (declared === false && body.needsAutonomy !== null) {
      const { statement, command } = body.needsAutonomy;
      c.add("invalid_definition", sub(e.path, "autonomous"),
        `statement ${statement} (${command}) cannot run inside a transaction block, so the step cannot be autonomous: false`);
    }
    w.autonomous = declared ?? (body.needsAutonomy !== null || body.firstCall !== null);
  }
  // matrix
  if (v.matrix !== undefined && v.matrix !== null) {
    const mp = sub(e.path, "matrix");
    if (!isObj(v.matrix)) c.add("invalid_definition", mp, "must be an object of name: [values]");
    else {
      const m: Record<string, Scalar[]> = {};
      let valid = true;
      for (const [k, list] of Object.entries(v.matrix)) {
        if (!NAME_RE.test(k) || k.includes("-")) {
          c.add("invalid_definition", sub(mp, k), `matrix key "${k}" must be letters, digits and _`);
          valid = false;
        } else if (!Array.isArray(list) || list.length === 0 || !list.every(isScalar)) {
          c.add("invalid_definition", sub(mp, k), "must be a non-empty list of strings, numbers or booleans");
          valid = false;
        } else m[k] = list as Scalar[];
      }
      const limit = env.maxMatrixInstances ?? MAX_MATRIX_INSTANCES;
      const size = matrixSize(m);
      if (valid && size > limit) c.add("matrix_too_large", mp, `matrix expands to ${size} instances; at most ${limit} are allowed`);
      if (valid && Object.keys(m).length > 0) w.matrix = m;
    }
  }
  w.timeoutMs = readInterval(c, v.timeout, sub(e.path, "timeout"));
  if (v.env !== undefined && v.env !== null) {
    if (kind !== "shell" && kind !== "program") c.add("invalid_definition", sub(e.path, "env"), "only shell and program steps take env");
    else if (!isObj(v.env)) c.add("invalid_definition", sub(e.path, "env"), "must be an object of NAME: value");
    else {
      for (const [k, x] of Object.entries(v.env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) c.add("invalid_definition", sub(sub(e.path, "env"), k), `"${k}" is not a valid environment variable name`);
        else if (typeof x !== "string" && typeof x !== "number" && typeof x !== "boolean") c.add("invalid_definition", sub(sub(e.path, "env"), k), "must be a string, number or boolean");
        else {
          const credential = credentialInVariable(k, x);
          if (credential !== null) c.add("password_in_environment", sub(sub(e.path, "env"), k), credential);
          else w.env[k] = String(x);
        }
      }
    }
  }
  w.parameters = readParameters(c, v.parameters, sub(e.path, "parameters"));
  // Placeholders in SQL must have a value from the job, the step or the matrix.
  if (w.sql !== null) {
    const known = new Set([...Object.keys(jobParams), ...Object.keys(w.parameters), ...Object.keys(w.matrix ?? {})]);
    const reported = new Set<string>();
    for (const p of findNamedPlaceholders(w.sql)) {
      if (known.has(p.name) || reported.has(p.name)) continue;
      reported.add(p.name);
      c.add("invalid_parameter", sub(e.path, "sql"), `unknown parameter :${p.name} at offset ${p.position}${didYouMean(p.name, known).replace(/"(.*)"/, ":$1")}`);
    }
  }
  return w;
}

/** Finds each elementary cycle reachable in the graph, once, in definition order. */
function findCycles(names: string[], deps: Map<string, string[]>): string[][] {
  const state = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      const s = state.get(d) ?? 0;
      if (s === 0) visit(d);
      else if (s === 1) {
        // Cycle d → … → n → d, each arrow meaning "depends on".
        const forward = stack.slice(stack.indexOf(d));
        const minIndex = forward.reduce((best, x, i) => (names.indexOf(x) < names.indexOf(forward[best]!) ? i : best), 0);
        const rotated = [...forward.slice(minIndex), ...forward.slice(0, minIndex)];
        const key = rotated.join("\u0000");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(rotated);
        }
      }
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of names) if ((state.get(n) ?? 0) === 0) visit(n);
  return cycles;
}

/** Dependency order (Kahn), ties broken by definition order. Assumes no cycles. */
function topologicalOrder(names: string[], deps: Map<string, string[]>): string[] {
  const remaining = new Map(names.map((n) => [n, (deps.get(n) ?? []).filter((d) => deps.has(d)).length]));
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < names.length) {
    const next = names.find((n) => !done.has(n) && remaining.get(n) === 0);
    if (next === undefined) break;
    order.push(next);
    done.add(next);
    for (const n of names) if ((deps.get(n) ?? []).includes(next)) remaining.set(n, remaining.get(n)! - 1);
  }
  return order;
}

/** All transitive dependencies of each step. */
function ancestors(names: string[], deps: Map<string, string[]>): Map<string, Set<string>> {
  const memo = new Map<string, Set<string>>();
  const get = (n: string, trail: Set<string>): Set<string> => {
    const m = memo.get(n);
    if (m !== undefined) return m;
    const out = new Set<string>();
    if (trail.has(n)) return out;
    trail.add(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      out.add(d);
      for (const a of get(d, trail)) out.add(a);
    }
    trail.delete(n);
    memo.set(n, out);
    return out;
  };
  for (const n of names) get(n, new Set());
  return memo;
}

/**
 * Validates a job definition object and returns it normalized, or every error found.
 * Environment facts (zones, connections, calendars, whether shell steps are allowed) are
 * passed in by the caller, who knows them.
 */
export function validateJobDefinition(input: unknown, env: ValidationEnvironment = {}): DefinitionResult {
  const c = new Collector();
  if (!isObj(input)) {
    c.add("invalid_definition", "", "a job definition must be an object");
    return { ok: false, errors: c.errors };
  }
  const bounded = env.bounds !== false;
  if (bounded && jsonSizeAtMost(input, MAX_DEFINITION_BYTES) > MAX_DEFINITION_BYTES) {
    // Nothing more is read: a definition this large (or a YAML text whose aliases expand
    // to it) is refused for its size alone.
    c.add("invalid_definition", "", `the definition takes more than ${MAX_DEFINITION_BYTES} bytes as JSON; ${allowedBytes(MAX_DEFINITION_BYTES)}`);
    return { ok: false, errors: c.errors };
  }
  const v = input;
  c.unknownKeys(v, JOB_KEYS, "");
  let name = "";
  if (typeof v.name !== "string" || v.name === "") c.add("invalid_definition", "name", "a job needs a name");
  else if (!JOB_NAME_RE.test(v.name)) c.add("invalid_definition", "name", `job name "${v.name}" must be 1–63 letters, digits, _, . or - (not starting with . or -)`);
  else name = v.name;
  let description: string | null = null;
  if (v.description !== undefined && v.description !== null) {
    if (typeof v.description === "string") description = v.description;
    else c.add("invalid_definition", "description", "must be a string");
  }
  let enabled = true;
  if (v.enabled !== undefined) {
    if (typeof v.enabled === "boolean") enabled = v.enabled;
    else c.add("invalid_definition", "enabled", "must be true or false");
  }
  let timeZone = env.defaultTimeZone ?? "UTC";
  if (v.time_zone !== undefined) {
    if (typeof v.time_zone !== "string" || v.time_zone === "") c.add("unknown_time_zone", "time_zone", "must be a zone name");
    else if (env.isValidTimeZone !== undefined && !env.isValidTimeZone(v.time_zone) && v.time_zone !== "UTC") c.add("unknown_time_zone", "time_zone", `unknown time zone "${v.time_zone}"`);
    else timeZone = v.time_zone;
  }
  // schedules
  const schedules: Schedule[] = [];
  if (v.schedules !== undefined && v.schedules !== null) {
    const list = typeof v.schedules === "string" || isObj(v.schedules) ? [v.schedules] : v.schedules;
    if (!Array.isArray(list)) c.add("invalid_schedule", "schedules", "must be a list of schedules");
    else {
      list.forEach((s, i) => {
        const r = parseSchedule(s, { defaultTimeZone: timeZone, ...(env.isValidTimeZone ? { isValidTimeZone: env.isValidTimeZone } : {}), ...(env.calendars ? { calendars: env.calendars } : {}) }, `schedules[${i}]`);
        if (r.ok) schedules.push(r.schedule);
        else c.errors.push(...r.errors);
      });
    }
  }
  const parameterTypes: Record<string, ParameterType> = {};
  const parameters = readParameters(c, v.parameters, "parameters", parameterTypes);
  const policies = readPolicies(c, v.policies, "policies");
  if (policies.group !== null && env.groups !== undefined && !env.groups.includes(policies.group)) {
    // Someone else's group, not granted, does not exist for this role (as calendars and connections).
    c.add("unknown_group", "policies.group", `concurrency group "${policies.group}" does not exist${didYouMean(policies.group, env.groups)}`);
  }
  let node: string | null = null;
  if (v.node !== undefined && v.node !== null) {
    if (typeof v.node === "string" && v.node !== "") node = v.node;
    else c.add("invalid_definition", "node", "must be a node name");
  }
  const labels = readStringList(c, v.labels, "labels");
  const tags = readStringList(c, v.tags, "tags");
  let transaction: "step" | "run" = "step";
  if (v.transaction !== undefined) {
    if (v.transaction === "step" || v.transaction === "run") transaction = v.transaction;
    else c.add("invalid_definition", "transaction", `must be "step" or "run", got ${JSON.stringify(v.transaction)}`);
  }
  // steps
  const rawSteps = readEntries(c, v.steps, "steps", "step");
  if (v.steps === undefined || rawSteps.length === 0) {
    if (v.steps === undefined || (Array.isArray(v.steps) && v.steps.length === 0) || (isObj(v.steps) && Object.keys(v.steps).length === 0)) c.add("invalid_definition", "steps", "a job needs at least one step");
  }
  const stepNames = rawSteps.map((s) => s.name);
  const deps = new Map<string, string[]>();
  const steps: StepDefinition[] = [];
  for (const e of rawSteps) {
    c.unknownKeys(e.value, STEP_KEYS, e.path);
    const w = readWork(c, e, env, parameters, "step");
    const dependsRaw = e.value.depends;
    const depends: string[] = [];
    const dp = sub(e.path, "depends");
    const list = typeof dependsRaw === "string" ? [dependsRaw] : dependsRaw;
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list)) c.add("invalid_definition", dp, "must be a step name or a list of step names");
      else {
        list.forEach((d, i) => {
          const p = typeof dependsRaw === "string" ? dp : sub(dp, i);
          if (typeof d !== "string") c.add("unknown_step", p, "must be a step name");
          else if (!stepNames.includes(d)) c.add("unknown_step", p, `unknown step "${d}"${didYouMean(d, stepNames)}`);
          else if (depends.includes(d)) c.add("invalid_definition", p, `"${d}" is listed twice`);
          else depends.push(d);
        });
      }
    }
    deps.set(e.name, depends);
    let onError: OnError = "fail";
    if (e.value.on_error !== undefined) {
      const oe = e.value.on_error;
      if (oe === "fail" || oe === "continue" || oe === "succeed") onError = oe;
      // pgAgent's one-letter codes, for imported jobs.
      else if (oe === "f") onError = "fail";
      else if (oe === "i") onError = "continue";
      else if (oe === "s") onError = "succeed";
      else c.add("invalid_definition", sub(e.path, "on_error"), `must be "fail", "continue" or "succeed", got ${JSON.stringify(oe)}`);
    }
    let retries: number | null = null;
    if (e.value.retries !== undefined) {
      const r = e.value.retries;
      if (typeof r === "number" && Number.isInteger(r) && r >= 0 && r <= 100) retries = r;
      else c.add("invalid_policy", sub(e.path, "retries"), "must be a whole number from 0 to 100");
    }
    let when: string | null = null;
    if (e.value.when !== undefined && e.value.when !== null) {
      if (typeof e.value.when !== "string") c.add("invalid_expression", sub(e.path, "when"), "must be a condition string");
      else when = e.value.when;
    }
    steps.push({ ...w, depends, when, whenAst: null, onError, retries });
  }
  // cycles
  for (const cycle of findCycles(stepNames, deps)) {
    c.add("dependency_cycle", "steps", `cycle ${[...cycle, cycle[0]!].join(" → ")}`);
  }
  // conditions: parse, and check they only read steps this one depends on
  const anc = ancestors(stepNames, deps);
  for (const s of steps) {
    if (s.when === null) continue;
    const wp = `steps.${s.name}.when`;
    const r = parseExpression(s.when);
    if (!r.ok) {
      c.add("invalid_expression", wp, r.error.message);
      continue;
    }
    s.whenAst = r.ast;
    const mine = anc.get(s.name) ?? new Set<string>();
    for (const p of expressionPaths(r.ast)) {
      const root = String(p.segments[0]);
      const at = ` (column ${p.position + 1})`;
      if (root === "params") {
        const known = [...Object.keys(parameters), ...Object.keys(s.parameters), ...Object.keys(s.matrix ?? {})];
        const key = p.segments[1];
        if (typeof key === "string" && !known.includes(key)) {
          c.add("invalid_expression", wp, `unknown parameter "${key}"${didYouMean(key, known)}${at}`);
        }
        continue;
      }
      if (!stepNames.includes(root)) {
        c.add("invalid_expression", wp, `unknown step "${root}"${didYouMean(root, [...stepNames, "params"])}${at}`);
      } else if (root === s.name) {
        c.add("invalid_expression", wp, `a step's condition cannot read its own result "${root}"${at}`);
      } else if (!mine.has(root)) {
        c.add("invalid_expression", wp, `"${root}" is not a step that "${s.name}" depends on, so its result is not known yet; add it to depends${at}`);
      } else if (p.segments.length > 1 && !(STEP_RESULT_FIELDS as readonly string[]).includes(String(p.segments[1]))) {
        c.add("invalid_expression", wp, `unknown field "${String(p.segments[1])}" of step "${root}"${didYouMean(String(p.segments[1]), STEP_RESULT_FIELDS)} (fields: ${STEP_RESULT_FIELDS.join(", ")})${at}`);
      }
    }
  }
  // checks
  const checks: CheckDefinition[] = [];
  for (const e of readEntries(c, v.checks, "checks", "check")) {
    c.unknownKeys(e.value, CHECK_KEYS, e.path);
    const w = readWork(c, e, env, parameters, "check");
    let expectedExitCode = 0;
    if (e.value.expected_exit_code !== undefined) {
      const x = e.value.expected_exit_code;
      if (typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255) expectedExitCode = x;
      else c.add("invalid_definition", sub(e.path, "expected_exit_code"), "must be a whole number from 0 to 255");
    }
    checks.push({ ...w, expectedExitCode, expected: readStringList(c, e.value.expected, sub(e.path, "expected")), unexpected: readStringList(c, e.value.unexpected, sub(e.path, "unexpected")) });
  }
  const work: Array<[string, WorkDefinition]> = [...steps.map((s) => [`steps.${s.name}`, s] as [string, WorkDefinition]), ...checks.map((k) => [`checks.${k.name}`, k] as [string, WorkDefinition])];
  checkProcessVariables(c, parameters, work);
  if (bounded) checkRunBounds(c, parameters, work);
  if (transaction === "run") {
    // One transaction on one server: every SQL step and check names the same target, and
    // none runs outside a transaction block.
    const targetOf = (w: WorkDefinition): string => JSON.stringify([w.database, w.connection, w.conninfo]);
    const work: Array<[string, WorkDefinition]> = [...steps.map((s) => [`steps.${s.name}`, s] as [string, WorkDefinition]), ...checks.map((k) => [`checks.${k.name}`, k] as [string, WorkDefinition])];
    const sqlWork = work.filter(([, w]) => w.kind === "sql");
    const first = sqlWork[0];
    for (const [path, w] of sqlWork) {
      if (w.autonomous) c.add("invalid_definition", path, "an autonomous step cannot share the run's transaction (transaction: run): a statement that cannot run in a transaction block (VACUUM, CREATE INDEX CONCURRENTLY, a CALL) goes in a job of its own");
      else if (first !== undefined && targetOf(w) !== targetOf(first[1])) {
        c.add("invalid_definition", path, `transaction: run needs every SQL step on one target; this one differs from ${first[0]}`);
      }
    }
    // A failed statement aborts the run's transaction: nothing after it can run in it, and
    // nothing can retry it there. So an SQL step's failure fails the run (and rolls it back).
    for (const s of steps) {
      if (s.kind !== "sql") continue;
      // A role mismatch lets the run's connection go, and its transaction with it.
      if (s.onRoleMismatch === "skip" || s.onRoleMismatch === "skip_run") {
        c.add("invalid_definition", `steps.${s.name}.on_role_mismatch`, `an SQL step in a run's transaction (transaction: run) cannot be skipped for its server's role (${s.onRoleMismatch}): the run's transaction is on that server; use on_role_mismatch: fail`);
      }
      if (s.onError !== "fail") {
        c.add("invalid_definition", `steps.${s.name}.on_error`, `an SQL step in a run's transaction (transaction: run) cannot be on_error: ${s.onError}: its failed statement aborts the transaction, so the run fails and rolls back`);
      }
      const retries = s.retries ?? policies.retry.attempts - 1;
      if (retries > 0) {
        c.add("invalid_definition", s.retries !== null ? `steps.${s.name}.retries` : "policies.retry", `an SQL step in a run's transaction (transaction: run) cannot be retried (${retries} ${retries === 1 ? "retry" : "retries"}): its failed statement aborts the transaction; retry the whole run instead (a new run_now)${s.retries !== null ? "" : `; give steps.${s.name} retries: 0`}`);
      }
    }
  }
  const alertResult = validateAlertSettings(v.alerts, "alerts", env.alertChannels);
  if (!alertResult.ok) c.errors.push(...alertResult.errors);
  const alerts = alertResult.ok ? alertResult.settings : null;
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  return {
    ok: true,
    job: { name, description, enabled, timeZone, schedules, parameters, parameterTypes, policies, node, labels, tags, transaction, steps, order: topologicalOrder(stepNames, deps), checks, alerts },
  };
}
