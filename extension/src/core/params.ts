// Named SQL parameters (:name → $n) and matrix expansion.

import { ClockworkError, issue } from "./errors.ts";
import type { Scalar } from "./expression.ts";
import { scanSql } from "./sql-text.ts";

export interface BoundSql {
  /** SQL text with :name replaced by $1, $2, … (the same name reuses its number). */
  text: string;
  /** Values in $n order. */
  values: Scalar[];
  /** Names in $n order. */
  names: string[];
}

/** One `:name` in SQL text. */
export interface NamedPlaceholder {
  name: string;
  /** 0-based offset of the ':' in the text. */
  position: number;
}

/**
 * Finds `:name` placeholders, skipping string literals ('…', E'…', $tag$…$tag$), quoted
 * identifiers ("…"), comments (-- … and nested /* … *\/), `::` casts and `:=`.
 */
export function findNamedPlaceholders(sql: string): NamedPlaceholder[] {
  return scanSql(sql).tokens.filter((t) => t.kind === "placeholder").map((t) => ({ name: t.value, position: t.start }));
}

/**
 * Rewrites `:name` placeholders to `$n` and collects the values. Throws a ClockworkError
 * (invalid_parameter) naming every placeholder without a value.
 */
export function bindNamedParameters(sql: string, params: Readonly<Record<string, Scalar | undefined>>): BoundSql {
  const found = findNamedPlaceholders(sql);
  const index = new Map<string, number>();
  const values: Scalar[] = [];
  const names: string[] = [];
  const missing: string[] = [];
  let text = "";
  let last = 0;
  for (const p of found) {
    if (!Object.prototype.hasOwnProperty.call(params, p.name) || params[p.name] === undefined) {
      if (!missing.includes(p.name)) missing.push(p.name);
      continue;
    }
    let k = index.get(p.name);
    if (k === undefined) {
      values.push(params[p.name] as Scalar);
      names.push(p.name);
      k = values.length;
      index.set(p.name, k);
    }
    text += `${sql.slice(last, p.position)}$${k}`;
    last = p.position + 1 + p.name.length;
  }
  if (missing.length > 0) {
    throw new ClockworkError(missing.map((m) => issue("invalid_parameter", "sql", `no value for parameter :${m}`)));
  }
  return { text: text + sql.slice(last), values, names };
}

/**
 * A string as an SQL literal that reads the same whatever the session's settings: dollar
 * quoted, with a tag that does not occur in it (standard_conforming_strings and friends
 * cannot change how it is read).
 */
export function dollarQuote(text: string): string {
  let tag = "$cw$";
  // The quote ends at the first occurrence of its tag: that must be the closing one.
  for (let i = 1; (text + tag).indexOf(tag) !== text.length; i++) tag = `$cw${i}$`;
  return `${tag}${text}${tag}`;
}

/** A parameter value as an SQL literal: strings dollar quoted, numbers and booleans as such, null as NULL. */
export function sqlLiteral(value: Scalar): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return value < 0 || Object.is(value, -0) ? `(${String(value)})` : String(value);
  return dollarQuote(value);
}

/**
 * Replaces `:name` placeholders with literals of their values (see sqlLiteral), as psql's
 * variables do, so that a step of several statements, utility commands (`SET x = :v`) and
 * statements outside a transaction block can all take parameters. Strings are literals of
 * unknown type, resolved by their context like any quoted literal (`:day::date`).
 * Throws a ClockworkError (invalid_parameter) naming every placeholder without a value.
 */
export function bindLiterals(sql: string, params: Readonly<Record<string, Scalar | undefined>>): string {
  const found = findNamedPlaceholders(sql);
  const missing = [...new Set(found.filter((p) => params[p.name] === undefined || !Object.prototype.hasOwnProperty.call(params, p.name)).map((p) => p.name))];
  if (missing.length > 0) {
    throw new ClockworkError(missing.map((m) => issue("invalid_parameter", "sql", `no value for parameter :${m}`)));
  }
  let text = "";
  let last = 0;
  const glued = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
  for (const p of found) {
    const literal = sqlLiteral(params[p.name] as Scalar);
    const end = p.position + 1 + p.name.length;
    // Keep the literal a token of its own: `a:n` must not become the identifier `a42`.
    text += `${sql.slice(last, p.position)}${glued(sql[p.position - 1]) ? " " : ""}${literal}${glued(sql[end]) ? " " : ""}`;
    last = end;
  }
  return text + sql.slice(last);
}

export type Matrix = Readonly<Record<string, readonly Scalar[]>>;

export interface MatrixInstance {
  /** `name[key=value,…]`, or just the name when there is no matrix. Stable: used as the step instance id. */
  id: string;
  /** 0-based position in expansion order. */
  index: number;
  values: Record<string, Scalar>;
}

export const MAX_MATRIX_INSTANCES = 256;

/** Number of instances a matrix expands to (product of the list lengths). */
export function matrixSize(matrix: Matrix | null | undefined): number {
  if (matrix == null) return 1;
  let n = 1;
  for (const values of Object.values(matrix)) n *= values.length;
  return n;
}

function showValue(v: Scalar): string {
  return typeof v === "string" && /^[A-Za-z0-9_.\-/]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
}

/** Instance id of a step for a set of matrix values. */
export function instanceId(name: string, values: Readonly<Record<string, Scalar>>): string {
  const keys = Object.keys(values);
  return keys.length === 0 ? name : `${name}[${keys.map((k) => `${k}=${showValue(values[k]!)}`).join(",")}]`;
}

/**
 * Cartesian product of the matrix, first key varying slowest (the order keys were written).
 * Throws matrix_too_large beyond `limit` instances.
 */
export function expandMatrix(name: string, matrix: Matrix | null | undefined, limit = MAX_MATRIX_INSTANCES): MatrixInstance[] {
  const size = matrixSize(matrix);
  if (size > limit) throw new ClockworkError([issue("matrix_too_large", "matrix", `matrix expands to ${size} instances; at most ${limit} are allowed`)]);
  let combos: Array<Record<string, Scalar>> = [{}];
  for (const [key, values] of Object.entries(matrix ?? {})) {
    const next: Array<Record<string, Scalar>> = [];
    for (const c of combos) for (const v of values) next.push({ ...c, [key]: v });
    combos = next;
  }
  return combos.map((values, index) => ({ id: instanceId(name, values), index, values }));
}

/** Who a step instance is, for the variables Clockwork adds to its environment. */
export interface StepIdentity {
  runId: string;
  step: string;
  instance: string;
  attempt: number;
  job?: string;
  stepRunId?: string;
  /** The schedule slot of the run (scheduled runs only). */
  slotAtMs?: number | null;
}

/**
 * The environment a shell or program step gets on top of the supervisor's own: its
 * parameters under their names, then the step's `env`, then Clockwork's CLOCKWORK_*
 * variables, which nothing can override.
 */
export function stepEnvironment(params: Readonly<Record<string, unknown>>, stepEnv: Readonly<Record<string, string>>, id: StepIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    env[name] = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  Object.assign(env, stepEnv);
  if (id.job !== undefined) env.CLOCKWORK_JOB = id.job;
  env.CLOCKWORK_RUN_ID = id.runId;
  env.CLOCKWORK_STEP = id.step;
  env.CLOCKWORK_INSTANCE = id.instance;
  if (id.stepRunId !== undefined) env.CLOCKWORK_STEP_RUN_ID = id.stepRunId;
  env.CLOCKWORK_ATTEMPT = String(id.attempt);
  if (id.slotAtMs !== undefined && id.slotAtMs !== null) env.CLOCKWORK_SLOT_AT = new Date(id.slotAtMs).toISOString();
  return env;
}
