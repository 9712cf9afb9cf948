// Turns core issues into SQL errors. PL/v8 (and clockwork_v8) raise a thrown Error as an
// SQL error using its `code` as SQLSTATE and its `detail` / `hint`.
import { ERROR_KINDS, formatIssue, issue, type ErrorKind, type ValidationIssue } from "../core/errors.ts";

export interface SqlError extends Error {
  code: string;
  sqlerrcode: string;
  detail?: string;
  hint?: string;
}

/** An SQL error for the first issue; the detail lists every issue, one per line. */
export function sqlError(issues: readonly ValidationIssue[]): SqlError {
  const first = issues[0] ?? issue("invalid_definition", "", "invalid input");
  const error = new Error(
    issues.length > 1 ? `${formatIssue(first)} (and ${issues.length - 1} more; see DETAIL)` : formatIssue(first),
  ) as SqlError;
  error.code = first.code;
  error.sqlerrcode = first.code;
  error.hint = first.hint;
  if (issues.length > 1) error.detail = issues.map(formatIssue).join("\n");
  return error;
}

/** Throws an SQL error of the given kind. */
export function raise(kind: ErrorKind, path: string, message: string): never {
  throw sqlError([issue(kind, path, message)]);
}

export { ERROR_KINDS };
