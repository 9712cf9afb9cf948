// Declares an SQL-callable function implemented in TypeScript. The build reads these
// declarations to write the SQL (one small stub per function that loads the bundle
// and calls `body`), so the signature and the code that serves it sit side by side.
//
// A function granted to PUBLIC is Clockwork's API for people (docs/sql-api.md) (and so
// is one marked `front`, which hand-written API functions call): the build
// gives it a PL/pgSQL front under its documented name and signature, and the PL/v8 stub
// is the internal function `_<name>` that only the front calls (see `frontOf`). An error
// then reads in psql as PostgreSQL's own errors do: both runtimes append a line of
// JavaScript source as CONTEXT to any error thrown from JavaScript, and the front re-raises
// what escapes with the same SQLSTATE, message, detail and hint, its CONTEXT a PL/pgSQL
// line. The supervisor's functions (granted to clockwork_supervisor) and internal ones
// (none) have no front: their errors are read by code, and tick, claim and reports are the
// hot path, where the front's subtransaction would be paid on every call.
import { raise } from "./raise.ts";
import { instantOf } from "./values.ts";

export interface SqlFunction<Args extends unknown[] = any[], R = unknown> {
  /** SQL name inside schema clockwork, e.g. "tick". */
  readonly name: string;
  /** Key of the body in the bundle, when it differs from `name` (SQL overloads). */
  readonly entry?: string;
  /** Argument list exactly as in CREATE FUNCTION, e.g. "worker text, now timestamptz DEFAULT now()". */
  readonly args: string;
  /** Return type as in CREATE FUNCTION, e.g. "jsonb" or "TABLE (fire_at timestamptz, …)". */
  readonly returns: string;
  readonly volatility: "immutable" | "stable" | "volatile";
  /** definer: runs with the extension owner's rights and checks the caller itself (see docs/security.md). */
  readonly security: "definer" | "invoker";
  /** Returns NULL on NULL input without calling the body. */
  readonly strict?: boolean;
  /**
   * Who may EXECUTE it besides the owner: "public", or a role name; "none" for a function
   * only Clockwork's own SECURITY DEFINER functions call (they run as the owner).
   */
  readonly grant: "public" | "clockwork_supervisor" | "none";
  /** COMMENT ON FUNCTION text. */
  readonly comment: string;
  /**
   * Planner settings for the function's statements (CREATE FUNCTION … SET), beyond the
   * search_path every function gets. Say why next to each use.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * A PL/pgSQL front although it is not granted to PUBLIC: hand-written API functions
   * (extension/sql) call it, so its errors reach people too (see frontOf).
   */
  readonly front?: boolean;
  /** Set when the function returns a set through plv8.return_next. */
  readonly returnsSet?: boolean;
  /**
   * The `timestamptz` arguments for which NULL means something (e.g. "never"). Every other
   * `timestamptz` argument is refused when NULL, and every one when infinite (see
   * `sqlFunction`).
   */
  readonly nullableInstants?: readonly string[];
  readonly body: (...args: Args) => R;
}

/**
 * The internal PL/v8 function behind a front, when `fn` has one (granted to PUBLIC, or
 * marked `front`): its name, and who may execute it. Behind a SECURITY DEFINER front
 * nobody but the owner may (the front runs as the owner), so calling it directly gains
 * nothing the front does not give; behind a SECURITY INVOKER front it runs with the
 * caller's rights either way, so whoever may call the front may call it.
 */
export function frontOf(fn: SqlFunction): { internal: string; grant: SqlFunction["grant"] } | null {
  if (fn.grant !== "public" && !fn.front) return null;
  return { internal: `_${fn.name}`, grant: fn.security === "invoker" ? fn.grant : "none" };
}

/**
 * Declares a function. Its `timestamptz` arguments are checked before the body runs, in
 * this one place: `'infinity'`, `'-infinity'` (which both runtimes pass as an invalid
 * Date) and NULL (unless listed in `nullableInstants`) are refused with `invalid_argument`
 * naming the argument, instead of failing deep inside the body as XX000 or being stored.
 */
export function sqlFunction<Args extends unknown[], R>(definition: SqlFunction<Args, R>): SqlFunction<Args, R> {
  const nullable = new Set(definition.nullableInstants ?? []);
  const instants = splitArguments(definition.args)
    .map((declaration, index) => ({ index, name: argumentNames(declaration)[0]!, type: declaration.split(/\s+/)[1]?.toLowerCase() }))
    .filter((a) => a.type === "timestamptz" || a.type === "timestamp with time zone");
  for (const name of nullable) {
    if (!instants.some((a) => a.name === name)) throw new Error(`${definition.name}: nullableInstants names "${name}", which is not a timestamptz argument`);
  }
  if (instants.length === 0) return definition;
  const body = definition.body;
  return {
    ...definition,
    body: (...args: Args): R => {
      for (const { index, name } of instants) {
        const value = args[index] as Date | null | undefined;
        if (value == null ? !nullable.has(name) : !Number.isFinite(instantOf(value))) {
          raise("invalid_argument", name, `${name} must be a finite timestamp`);
        }
      }
      return body(...args);
    },
  };
}

/** Splits an SQL argument list at top-level commas (defaults may hold commas and quotes). */
export function splitArguments(args: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const ch of args) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")") depth--;
    if (!quoted && depth === 0 && ch === ",") {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current.trim() !== "") parts.push(current);
  return parts.map((p) => p.trim());
}

/** Argument names of an SQL argument list, in order. */
export function argumentNames(args: string): string[] {
  return splitArguments(args).map((p) => {
    const name = p.trim().split(/\s+/)[0];
    if (!name || !/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`cannot read an argument name in "${p.trim()}"`);
    return name;
  });
}
