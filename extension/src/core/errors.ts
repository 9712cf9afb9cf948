// Error kinds of the whole project, with their SQLSTATE (class 'CW') and a hint.
// The PL/v8 adapter raises these; the core only builds them. Codes are part of the
// public API: add new kinds at the end, never renumber or rename.

export const ERROR_KINDS = {
  invalid_schedule: { code: "CW001", hint: "Check the schedule syntax: cron (5 or 6 fields), @every/@after <interval>, @reboot, at <timestamp>, or a pgagent object." },
  invalid_definition: { code: "CW002", hint: "Check the job definition against the format described in docs/core.md." },
  unknown_time_zone: { code: "CW003", hint: "Use an IANA time zone name such as 'UTC' or 'Europe/Berlin' (see pg_timezone_names)." },
  unknown_step: { code: "CW004", hint: "Refer to steps by the names defined under 'steps'." },
  dependency_cycle: { code: "CW005", hint: "Steps must form a directed acyclic graph; remove one of the dependencies in the cycle." },
  invalid_expression: { code: "CW006", hint: "Conditions use step.field comparisons joined by and/or/not, e.g. extract.status == \"succeeded\"." },
  unknown_connection: { code: "CW007", hint: "Define the connection first, or omit 'connection' to use the scheduler's own database." },
  unknown_calendar: { code: "CW008", hint: "Define the calendar first, or remove it from 'exclude.calendars'." },
  shell_not_allowed: { code: "CW009", hint: "Shell and program steps may only be defined by roles granted the right to (clockwork_shell)." },
  password_in_conninfo: { code: "CW010", hint: "Do not put passwords in connection strings; use .pgpass, a service file or the environment." },
  matrix_too_large: { code: "CW011", hint: "Reduce the number of matrix values; the Cartesian product is bounded." },
  invalid_parameter: { code: "CW012", hint: "Named parameters are written :name and must be defined under 'parameters' or 'matrix'." },
  invalid_policy: { code: "CW013", hint: "Check misfire, overlap, retry and timeout policies (see docs/core.md)." },
  invalid_interval: { code: "CW014", hint: "Write intervals like '30s', '5m', '1h30m', '2 hours', 'PT5M' or a number of seconds." },
  invalid_expression_value: { code: "CW015", hint: "A condition compared values of types that cannot be compared." },
  invalid_state: { code: "CW016", hint: "The run or step is not in a state that allows this operation." },
  not_found: { code: "CW017", hint: "Check the name or id." },
  not_a_supervisor: { code: "CW018", hint: "GRANT clockwork_supervisor TO the role the supervisor connects as." },
  unknown_worker: { code: "CW019", hint: "Call clockwork.register_worker first." },
  invalid_argument: { code: "CW020", hint: "Check the argument against the function's documentation in docs/sql-api.md." },
} as const satisfies Record<string, { code: string; hint: string }>;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** One problem found in user input, located by a path like `steps.load.depends[0]`. */
export interface ValidationIssue {
  kind: ErrorKind;
  /** SQLSTATE, e.g. "CW002". */
  code: string;
  /** Where in the input: `schedules[0].cron`, `steps.load.when`; "" for the whole input. */
  path: string;
  message: string;
  hint: string;
}

export function issue(kind: ErrorKind, path: string, message: string): ValidationIssue {
  const k = ERROR_KINDS[kind];
  return { kind, code: k.code, path, message, hint: k.hint };
}

/** `path: message`, or just the message when the path is empty. */
export function formatIssue(i: ValidationIssue): string {
  return i.path === "" ? i.message : `${i.path}: ${i.message}`;
}

/**
 * Thrown by the few core functions whose misuse is a caller error rather than a decision
 * (e.g. binding a parameter that is not supplied). Carries every issue found.
 */
export class ClockworkError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly hint: string;
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[]) {
    const first = issues[0] ?? issue("invalid_definition", "", "invalid input");
    super(issues.length <= 1 ? formatIssue(first) : `${formatIssue(first)} (and ${issues.length - 1} more)`);
    this.name = "ClockworkError";
    this.kind = first.kind;
    this.code = first.code;
    this.hint = first.hint;
    this.issues = issues.length === 0 ? [first] : issues;
  }
}

/** Edit distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** ` (did you mean "x"?)` when a candidate is close enough, else "". */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  let best = "";
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= limit ? ` (did you mean "${best}"?)` : "";
}
