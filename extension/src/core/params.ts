// Named SQL parameters (:name → $n) and matrix expansion.

import { ClockworkError, issue } from "./errors.ts";
import type { Scalar } from "./expression.ts";

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

const isNameStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);

/**
 * Finds `:name` placeholders, skipping string literals ('…', E'…', $tag$…$tag$), quoted
 * identifiers ("…"), comments (-- … and nested /* … *\/), `::` casts and `:=`.
 */
export function findNamedPlaceholders(sql: string): NamedPlaceholder[] {
  const out: NamedPlaceholder[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'") {
      // E'…' allows backslash escapes; standard strings double the quote.
      const escapes = i > 0 && (sql[i - 1] === "E" || sql[i - 1] === "e") && !isNameChar(sql[i - 2]);
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'") {
          if (sql[i + 1] === "'") i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < n && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "$" && !isNameChar(sql[i - 1])) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (m === null) {
        i++;
        continue;
      }
      const tag = m[0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? n : end + tag.length;
    } else if (c === ":") {
      if (sql[i + 1] === ":" || sql[i + 1] === "=") {
        i += 2; // a cast (::type) or an assignment (:=)
        continue;
      }
      if (isNameStart(sql[i + 1]) && sql[i - 1] !== ":") {
        let j = i + 1;
        while (isNameChar(sql[j])) j++;
        out.push({ name: sql.slice(i + 1, j), position: i });
        i = j;
      } else i++;
    } else i++;
  }
  return out;
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
