// Operator views in the terminal: status, history, next, run-now, cancel and explain.
// Each reads the SQL API's views and functions (never a table) and prints a table, or
// JSON with --json; colour only on a terminal.
import type pg from "pg";
import { CliError, connect, DATABASE_HELP, DATABASE_OPTIONS, duration, EXIT, paint, parseCommand, printJson, runCommand, stateColour, table, when } from "./common.ts";
import { followRun, summary } from "./follow.ts";
import { parseParams } from "./run.ts";

const JSON_HELP = `  --json               print the rows as JSON
${DATABASE_HELP}
  --help               this text`;

async function withClient<T>(url: string | undefined, name: string, body: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url, `clockwork ${name}`);
  try {
    return await body(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const STATUS_USAGE = `usage: clockwork status [options] [JOB…]

One line per job you may see: enabled, schedules in words, next fire time, last run and
active runs.

options:
${JSON_HELP}

exit codes: 0 shown, 1 a named job does not exist, 2 wrong arguments, 5 database unavailable`;

export async function statusCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" } }, STATUS_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("status", () => withClient(parsed.values["database-url"], "status", async (c) => {
    const names = parsed.positionals;
    const { rows } = await c.query(
      `SELECT job, owner, enabled, version, schedules, next_fire_at, last_run_id::text, last_run_state, last_run_finished_at, active_runs::int
         FROM clockwork.job_status WHERE cardinality($1::text[]) = 0 OR job = ANY ($1) ORDER BY job`, [names]);
    const missing = names.filter((n) => !rows.some((r) => r.job === n));
    if (missing.length > 0) throw new CliError(`no such job: ${missing.join(", ")} (or it is not yours)`, EXIT.failed);
    if (parsed.values.json) return printJson(rows), EXIT.ok;
    process.stdout.write(table(
      ["JOB", "ENABLED", "NEXT", "LAST RUN", "ACTIVE", "SCHEDULES"],
      rows.map((r) => [
        r.job, r.enabled ? "yes" : paint("no", "yellow"), when(r.next_fire_at),
        r.last_run_id ? `${r.last_run_id} ${paint(r.last_run_state, stateColour(r.last_run_state))}` : "-",
        String(r.active_runs), (r.schedules ?? []).join("; ") || "(manual)",
      ]),
    ));
    return EXIT.ok;
  }));
}

const HISTORY_USAGE = `usage: clockwork history [options] [JOB]

The latest runs (of one job, or of all you may see), newest first; with --run, the steps
of one run with their output.

options:
  --limit N            runs to show (default 20)
  --run ID             the steps of this run instead
  --failed             only runs that failed
${JSON_HELP}

exit codes: 0 shown, 1 the job or run does not exist, 2 wrong arguments, 5 database unavailable`;

export async function historyCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" }, limit: { type: "string" }, run: { type: "string" }, failed: { type: "boolean" } }, HISTORY_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("history", () => withClient(parsed.values["database-url"], "history", async (c) => {
    const v = parsed.values;
    const limit = v.limit === undefined ? 20 : Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a whole number ≥ 1", EXIT.usage);
    if (v.run !== undefined) {
      if (!/^\d+$/.test(v.run)) throw new CliError("--run takes a run id", EXIT.usage);
      const { rows } = await c.query(
        `SELECT step_run_id::text, step, instance, phase, kind, attempt, state, worker, started_at, duration, exit_code, sql_state, error, stdout, stderr
           FROM clockwork.step_history WHERE run_id = $1 ORDER BY step_history.step_run_id`, [v.run]);
      const run = await c.query("SELECT 1 FROM clockwork.run_history WHERE run_id = $1", [v.run]);
      if (run.rowCount === 0) throw new CliError(`run ${v.run} does not exist (or is not yours)`, EXIT.failed);
      if (v.json) return printJson(rows), EXIT.ok;
      process.stdout.write(table(
        ["STEP", "ATTEMPT", "STATE", "WORKER", "STARTED", "TOOK", "RESULT"],
        rows.map((r) => [
          `${r.phase === "check" ? "check " : ""}${r.instance}`, String(r.attempt), paint(r.state, stateColour(r.state)), r.worker ?? "-",
          when(r.started_at), duration(r.duration),
          [r.exit_code !== null ? `exit ${r.exit_code}` : "", r.sql_state ? `SQLSTATE ${r.sql_state}` : "", r.error ?? "", (r.stdout ?? "").split("\n")[0]!.slice(0, 60)].filter((x) => x !== "").join("  "),
        ]),
      ));
      return EXIT.ok;
    }
    const job = parsed.positionals[0] ?? null;
    if (parsed.positionals.length > 1) throw new CliError("give at most one job", EXIT.usage);
    if (job !== null && (await c.query("SELECT 1 FROM clockwork.job_status WHERE job = $1", [job])).rowCount === 0) {
      throw new CliError(`no such job: ${job} (or it is not yours)`, EXIT.failed);
    }
    const { rows } = await c.query(
      `SELECT run_id::text, job, trigger, slot_at, state, queued_at, started_at, finished_at, duration, reason, steps_succeeded::int, steps_failed::int, steps_total::int
         FROM clockwork.run_history
        WHERE ($1::text IS NULL OR job = $1) AND (NOT $3 OR state = 'failed')
        ORDER BY run_history.run_id DESC LIMIT $2`, [job, limit, v.failed === true]);
    if (v.json) return printJson(rows), EXIT.ok;
    process.stdout.write(table(
      ["RUN", "JOB", "TRIGGER", "SLOT", "STATE", "STARTED", "TOOK", "STEPS", "REASON"],
      rows.map((r) => [
        r.run_id, r.job, r.trigger, when(r.slot_at), paint(r.state, stateColour(r.state)), when(r.started_at ?? r.queued_at), duration(r.duration),
        `${r.steps_succeeded}/${r.steps_total}${r.steps_failed > 0 ? paint(` ${r.steps_failed} failed`, "red") : ""}`, r.reason ?? "",
      ]),
    ));
    return EXIT.ok;
  }));
}

const NEXT_USAGE = `usage: clockwork next [options] [JOB]

The next fire times of a job (or of every job you may see), with the schedule in words.

options:
  --count N            fire times per job (default 5)
${JSON_HELP}

exit codes: 0 shown, 1 the job does not exist, 2 wrong arguments, 5 database unavailable`;

export async function nextCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" }, count: { type: "string" } }, NEXT_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("next", () => withClient(parsed.values["database-url"], "next", async (c) => {
    const count = parsed.values.count === undefined ? 5 : Number(parsed.values.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new CliError("--count must be a whole number from 1 to 1000", EXIT.usage);
    if (parsed.positionals.length > 1) throw new CliError("give at most one job", EXIT.usage);
    const jobs = parsed.positionals.length === 1
      ? parsed.positionals
      : (await c.query("SELECT job FROM clockwork.job_status WHERE enabled ORDER BY job")).rows.map((r) => r.job as string);
    const rows: Array<{ job: string; fire_at: Date; description: string }> = [];
    for (const job of jobs) {
      const r = await c.query("SELECT fire_at, description FROM clockwork.next_runs($1, $2)", [job, count]);
      rows.push(...r.rows.map((x) => ({ job, fire_at: x.fire_at, description: x.description })));
    }
    if (parsed.values.json) return printJson(rows), EXIT.ok;
    rows.sort((a, b) => a.fire_at.getTime() - b.fire_at.getTime());
    process.stdout.write(table(["AT", "JOB", "SCHEDULE"], rows.slice(0, parsed.positionals.length === 1 ? count : Math.max(count, 20)).map((r) => [when(r.fire_at), r.job, r.description])));
    return EXIT.ok;
  }));
}

const RUN_NOW_USAGE = `usage: clockwork run-now [options] JOB

Starts a run of a job now (a supervisor runs it). With --follow, waits for the end,
streaming the steps and their output, and exits with the run's result.

options:
  --param NAME=VALUE   a parameter of the run (repeatable; the job must declare it)
  --follow             follow the run to its end
${JSON_HELP}

exit codes: 0 started (with --follow: succeeded), 1 the job does not exist, refused, or
            (with --follow) the run failed, 2 wrong arguments, 5 database unavailable`;

export async function runNowCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" }, param: { type: "string", multiple: true }, follow: { type: "boolean" } }, RUN_NOW_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("run-now", () => withClient(parsed.values["database-url"], "run-now", async (c) => {
    if (parsed.positionals.length !== 1) throw new CliError("give one job", EXIT.usage);
    const params = parseParams(parsed.values.param);
    const runId = String((await c.query("SELECT clockwork.run_now($1, $2::jsonb) AS id", [parsed.positionals[0], JSON.stringify(params)])).rows[0].id);
    if (!parsed.values.follow) {
      if (parsed.values.json) printJson({ run_id: runId });
      else process.stdout.write(`run ${runId} started\n`);
      return EXIT.ok;
    }
    if (!parsed.values.json) process.stdout.write(`run ${runId} started; following it (Ctrl-C stops following, the run goes on)\n`);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    try {
      const run = await followRun(c, runId, { print: !parsed.values.json, signal: stop.signal });
      if (parsed.values.json) printJson(run);
      else process.stdout.write(stop.signal.aborted ? `\nstopped following run ${runId} (${run.state})\n` : summary(run));
      if (stop.signal.aborted) return EXIT.interrupted;
      return run.state === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      process.off("SIGINT", onSignal);
    }
  }));
}

const CANCEL_USAGE = `usage: clockwork cancel [options] RUN…

Cancels runs: their waiting steps are dropped, running ones are stopped by their
supervisors.

options:
${JSON_HELP}

exit codes: 0 cancelled (or already finished), 1 a run does not exist, 2 wrong arguments,
            5 database unavailable`;

export async function cancelCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" } }, CANCEL_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("cancel", () => withClient(parsed.values["database-url"], "cancel", async (c) => {
    if (parsed.positionals.length === 0 || !parsed.positionals.every((p) => /^\d+$/.test(p))) throw new CliError("give one or more run ids", EXIT.usage);
    const results: Array<{ run_id: string; cancelled: boolean }> = [];
    for (const id of parsed.positionals) {
      const r = await c.query("SELECT clockwork.cancel_run($1::bigint) AS cancelled", [id]);
      results.push({ run_id: id, cancelled: r.rows[0].cancelled === true });
    }
    if (parsed.values.json) printJson(results);
    else for (const r of results) process.stdout.write(r.cancelled ? `run ${r.run_id} cancelled\n` : `run ${r.run_id} had already finished\n`);
    return EXIT.ok;
  }));
}

const EXPLAIN_USAGE = `usage: clockwork explain [options] JOB AT

What happened to the job's slot at AT (a timestamp), or what will: it ran as run N, it
was skipped and why, it was excluded, or it is no slot (with the nearest ones).
Needs clockwork.explain in the database.

options:
${JSON_HELP}

exit codes: 0 explained, 1 the job does not exist or the database has no explain,
            2 wrong arguments, 5 database unavailable`;

export async function explainCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, json: { type: "boolean" } }, EXPLAIN_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("explain", () => withClient(parsed.values["database-url"], "explain", async (c) => {
    if (parsed.positionals.length !== 2) throw new CliError("give a job and a time", EXIT.usage);
    const [job, at] = parsed.positionals as [string, string];
    const has = await c.query("SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'clockwork' AND p.proname = 'explain'");
    if (has.rowCount === 0) throw new CliError("this database's Clockwork has no clockwork.explain(job, at) yet (it comes with one run lifecycle and policies); nothing to explain", EXIT.failed);
    const { rows } = await c.query("SELECT * FROM clockwork.explain($1, $2::timestamptz)", [job, at]);
    if (parsed.values.json) return printJson(rows), EXIT.ok;
    for (const r of rows) process.stdout.write(`${Object.entries(r).map(([k, x]) => `${k}: ${x instanceof Date ? when(x) : typeof x === "object" && x !== null ? JSON.stringify(x) : String(x)}`).join("\n")}\n`);
    return EXIT.ok;
  }));
}
