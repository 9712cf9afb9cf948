// Error kinds of the whole project: the one table. The install script's SQL, the
// supervisor, the tests and docs/sql-api.md all take their SQLSTATEs from here (a test
// checks each of them against it). The PL/v8 adapter raises these; the core only builds
// them. Codes are part of the public API: add new kinds at the end, never renumber or
// rename.
//
// The class is "KW" (from clocKWork): the SQL standard leaves classes whose first
// character is 5-9 or I-Z to implementations. Until 1.0 the class was "CW", which lies in
// the standard's reserved range (A-H); the numbers were kept (CW002 is now KW002).

/** The SQLSTATE class of every Clockwork error. */
export const SQLSTATE_CLASS = "KW";

export const ERROR_KINDS = {
  invalid_schedule: { code: "KW001", hint: "Check the schedule syntax: cron (5 or 6 fields), @every/@after <interval>, @reboot, at <timestamp>, or a pgagent object." },
  invalid_definition: { code: "KW002", hint: "Check the job definition against the format described in docs/core.md." },
  unknown_time_zone: { code: "KW003", hint: "Use an IANA time zone name such as 'UTC' or 'Europe/Berlin' (see pg_timezone_names)." },
  unknown_step: { code: "KW004", hint: "Refer to steps by the names defined under 'steps'." },
  dependency_cycle: { code: "KW005", hint: "Steps must form a directed acyclic graph; remove one of the dependencies in the cycle." },
  invalid_expression: { code: "KW006", hint: "Conditions use step.field comparisons joined by and/or/not, e.g. extract.status == \"succeeded\"." },
  unknown_connection: { code: "KW007", hint: "Define the connection first, or omit 'connection' to use the scheduler's own database." },
  unknown_calendar: { code: "KW008", hint: "Define the calendar first, or remove it from 'exclude.calendars'." },
  shell_not_allowed: { code: "KW009", hint: "Shell and program steps may only be defined by roles granted the right to (clockwork_shell)." },
  password_in_conninfo: { code: "KW010", hint: "Do not put passwords in connection strings; use .pgpass, a service file or the environment." },
  matrix_too_large: { code: "KW011", hint: "Reduce the number of matrix values; the Cartesian product is bounded." },
  invalid_parameter: { code: "KW012", hint: "Named parameters are written :name and must be defined under 'parameters' or 'matrix'." },
  invalid_policy: { code: "KW013", hint: "Check misfire, overlap, retry and timeout policies (see docs/core.md)." },
  invalid_interval: { code: "KW014", hint: "Write intervals like '30s', '5m', '1h30m', '2 hours', 'PT5M' or a number of seconds." },
  invalid_expression_value: { code: "KW015", hint: "A condition compared values of types that cannot be compared." },
  invalid_state: { code: "KW016", hint: "The run or step is not in a state that allows this operation." },
  not_found: { code: "KW017", hint: "Check the name or id." },
  not_a_supervisor: { code: "KW018", hint: "GRANT clockwork_supervisor TO the role the supervisor connects as." },
  unknown_worker: { code: "KW019", hint: "Call clockwork.register_worker first." },
  invalid_argument: { code: "KW020", hint: "Check the argument against the function's documentation in docs/sql-api.md." },
  missing_language: { code: "KW000", hint: "Install PL/v8 (CREATE EXTENSION plv8) or the clockwork_v8 runtime (CREATE EXTENSION clockwork_v8) first." },
  password_in_environment: { code: "KW021", hint: "Steps get no credentials from their definition: give the program its own on the supervisor's machine (.pgpass, a service file, a client certificate)." },
  claim_not_held: { code: "KW022", hint: "The step's claim passed to another attempt, or its run ended, before it committed: its work was rolled back." },
  server_role_mismatch: { code: "KW023", hint: "The server the step reached is not in the role its connection expects (server_role); fix the connection, or let such steps be skipped (on_role_mismatch: skip)." },
  no_supervisor_can_log_in: { code: "KW024", hint: "Let a supervisor log in as the job's owner on the step's target: a .pgpass entry, a service file, or a pg_ident mapping for peer or certificate authentication (docs/sql-steps.md)." },
  too_early: { code: "KW025", hint: "Begin the step's transaction at its start_at (wait_until)." },
  ambiguous_job: { code: "KW026", hint: "Several roles you may act for have a job of this name: write owner/name, e.g. 'alice/nightly'." },
  incompatible_version: { code: "KW027", hint: "Run a supervisor of the extension's MAJOR.MINOR version, or ALTER EXTENSION clockwork UPDATE (UPDATING.md)." },
  invalid_alert: { code: "KW028", hint: "Alerts take missed, long_running, dead_man (intervals), failures (a count), recovery (true/false) and to (channel names); see docs/alerts.md." },
  unknown_alert_channel: { code: "KW029", hint: "Define the channel first (clockwork.define_alert_channel), or see clockwork.alert_channels for the names." },
  secret_in_definition: { code: "KW030", hint: "Definitions never hold secrets: name an environment variable of the supervisor that starts with CLOCKWORK_SECRET_ (docs/builtins.md)." },
  not_an_admin: { code: "KW031", hint: "GRANT clockwork_admin TO the role that sets alert defaults and channels." },
  invalid_builtin: { code: "KW032", hint: "Check the built-in's arguments against docs/builtins.md." },
  network_not_allowed: { code: "KW033", hint: "The http, download and mail built-ins reach the network from the supervisor's host: GRANT clockwork_network (or clockwork_shell) to the role that defines them." },
  secret_not_granted: { code: "KW034", hint: "An administrator grants a CLOCKWORK_SECRET_* variable to the roles whose jobs may send it: SELECT clockwork.grant_secret('CLOCKWORK_SECRET_…', 'role') (docs/builtins.md)." },
  worker_name_in_use: { code: "KW035", hint: "Give each live supervisor its own --name, or stop the one that holds it; a name is free again as soon as its supervisor's session ends (docs/faults.md)." },
  worker_ended: { code: "KW036", hint: "This worker incarnation ended (released, or found gone and its leases taken back): register a new one (start_worker)." },
  unknown_group: { code: "KW037", hint: "Define the concurrency group first (clockwork.define_group), or ask its owner to grant it to you (clockwork.grant_group); see docs/policies.md." },
  handed_back_at_shutdown: { code: "KW038", hint: "Not a fault: its supervisor shut down cleanly (SIGTERM: a deploy, a restart) before the step ended; a supervisor (another, or this one restarted) runs it again as attempt + 1. It counts neither as a lost lease nor against the step's retries (docs/faults.md)." },
} as const satisfies Record<string, { code: string; hint: string }>;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** The SQLSTATE of each kind, for code that compares them: `SQLSTATE.not_found === "KW017"`. */
export const SQLSTATE = Object.fromEntries(Object.entries(ERROR_KINDS).map(([kind, k]) => [kind, k.code])) as {
  readonly [K in ErrorKind]: (typeof ERROR_KINDS)[K]["code"];
};

/** One problem found in user input, located by a path like `steps.load.depends[0]`. */
export interface ValidationIssue {
  kind: ErrorKind;
  /** SQLSTATE, e.g. "KW002". */
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
