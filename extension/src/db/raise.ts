// Turns core issues into SQL errors, the same way on the real PL/v8 and on clockwork_v8.
//
// Both runtimes raise a thrown object as an SQL error with its `message`, `detail` and
// `hint`, and read its `code` as PostgreSQL's packed SQLSTATE (an int32, as
// MAKE_SQLSTATE packs it; released PL/v8 3.2.2 reads anything else with ToInt32, so a
// string such as "P0001" becomes 0, i.e. XX000). They ignore `sqlerrcode`, which is set
// only for readers in JavaScript. Every generated entry point passes what escapes it through
// `toSqlError` (build/bundle.ts), so an error thrown anywhere in the bundle, a core
// ClockworkError included, reaches SQL with its SQLSTATE. Both runtimes also give it a
// CONTEXT line of JavaScript; the API's PL/pgSQL fronts raise it again without one.
import { ClockworkError, ERROR_KINDS, formatIssue, issue, type ErrorKind, type ValidationIssue } from "../core/errors.ts";

export interface SqlError extends Error {
  /** The packed SQLSTATE, as both runtimes read it. */
  code: number;
  /** The SQLSTATE as text, for JavaScript readers (the runtimes ignore it). */
  sqlerrcode: string;
  detail?: string;
  hint?: string;
}

/** PostgreSQL's MAKE_SQLSTATE: five characters of 6 bits each, the first in the low bits. */
export function packSqlState(sqlstate: string): number {
  if (!/^[0-9A-Z]{5}$/.test(sqlstate)) throw new Error(`not an SQLSTATE: ${JSON.stringify(sqlstate)}`);
  let packed = 0;
  for (let i = 4; i >= 0; i--) packed = packed * 64 + ((sqlstate.charCodeAt(i) - 48) & 0x3f);
  return packed;
}

/** The five characters of a packed SQLSTATE (PostgreSQL's unpack_sql_state). */
export function unpackSqlState(packed: number): string {
  let text = "";
  for (let i = 0; i < 5; i++) {
    text += String.fromCharCode(((packed >>> (6 * i)) & 0x3f) + 48);
  }
  return text;
}

/** An SQL error for the first issue; the detail lists every issue, one per line. */
export function sqlError(issues: readonly ValidationIssue[]): SqlError {
  const first = issues[0] ?? issue("invalid_definition", "", "invalid input");
  const error = new Error(
    issues.length > 1 ? `${formatIssue(first)} (and ${issues.length - 1} more; see DETAIL)` : formatIssue(first),
  ) as SqlError;
  error.code = packSqlState(first.code);
  error.sqlerrcode = first.code;
  error.hint = first.hint;
  if (issues.length > 1) error.detail = issues.map(formatIssue).join("\n");
  return error;
}

/** Throws an SQL error of the given kind. */
export function raise(kind: ErrorKind, path: string, message: string): never {
  throw sqlError([issue(kind, path, message)]);
}

/** How many stack frames of an unexpected error go into its DETAIL. */
const STACK_FRAMES = 6;

/**
 * What an entry point throws for whatever escaped it: a ClockworkError as its SQL error;
 * an SQL error (from plv8.execute: a numeric `code`) unchanged; an error with a textual
 * SQLSTATE in `code` with that code packed; anything else (a bug) unchanged but with its
 * stack in DETAIL, since its CONTEXT names only the entry point.
 */
export function toSqlError(thrown: unknown): unknown {
  if (thrown instanceof ClockworkError) return sqlError(thrown.issues);
  if (thrown === null || typeof thrown !== "object") return thrown;
  const e = thrown as { code?: unknown; detail?: unknown; stack?: unknown };
  if (typeof e.code === "number") return thrown;
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    (e as { sqlerrcode?: string }).sqlerrcode = e.code;
    e.code = packSqlState(e.code);
    return thrown;
  }
  if (e.detail === undefined && typeof e.stack === "string") {
    const frames = e.stack.split("\n").filter((line) => /^\s+at /.test(line)).slice(0, STACK_FRAMES);
    if (frames.length > 0) e.detail = frames.map((f) => f.trim()).join("\n");
  }
  return thrown;
}

/**
 * True for the errors no catch in the bundle may swallow: cancel, statement_timeout,
 * shutdown (SQLSTATE class 57). clockwork_v8 never lets a script see them, but the real
 * PL/v8 delivers them as ordinary exceptions; a catch that records one and carries on
 * would outlive the time-out that was meant to stop it.
 */
export function isInterrupt(thrown: unknown): boolean {
  const code = (thrown as { code?: unknown } | null)?.code;
  return typeof code === "number" && unpackSqlState(code).startsWith("57");
}

export { ERROR_KINDS };
