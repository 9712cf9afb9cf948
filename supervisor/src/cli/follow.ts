// Follows one run to its end from the database (the truth, whoever executes it): prints
// each step as it starts and ends, streams its output as the supervisor stores it, keeps a
// progress line on a terminal, and returns the run's final row. Used by `clockwork run`
// and `clockwork run-now --follow`.
import type pg from "pg";
import { duration, paint, stateColour, useColour } from "./common.ts";

export interface FinishedRun {
  run_id: string;
  job: string;
  state: string;
  reason: string | null;
  duration: unknown;
  steps_succeeded: number;
  steps_failed: number;
  steps_total: number;
}

interface StepRow {
  step_run_id: string;
  step: string;
  instance: string;
  phase: string;
  kind: string;
  attempt: number;
  state: string;
  duration: unknown;
  exit_code: number | null;
  sql_state: string | null;
  error: string | null;
  stdout: string;
  stderr: string;
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const STEP_FINAL = new Set(["succeeded", "failed", "skipped", "cancelled", "lost"]);

const READ_RUN = `
  SELECT run_id::text, job, state, reason, duration, steps_succeeded::int, steps_failed::int, steps_total::int
    FROM clockwork.run_history WHERE run_id = $1`;
const READ_STEPS = `
  SELECT step_run_id::text, step, instance, phase, kind, attempt, state, duration, exit_code, sql_state, error,
         substr(stdout, coalesce(($2::jsonb ->> step_run_id::text)::int, 0) + 1) AS stdout,
         substr(stderr, coalesce(($3::jsonb ->> step_run_id::text)::int, 0) + 1) AS stderr
    FROM clockwork.step_history WHERE run_id = $1 ORDER BY step_history.step_run_id`;

export interface FollowOptions {
  /** Print step events and output (false: only wait). */
  print: boolean;
  /** Milliseconds between polls. */
  everyMs?: number;
  /** Called when asked to stop (Ctrl-C): the caller cancels the run. */
  signal?: AbortSignal;
  /** A second destination for everything printed (PgQuartz's logFile). */
  tee?: (text: string) => void;
}

export async function followRun(client: pg.ClientBase, runId: string, options: FollowOptions): Promise<FinishedRun> {
  const colour = useColour();
  const tty = process.stdout.isTTY === true;
  const seen = new Map<string, { state: string; out: number; err: number }>();
  let progressShown = false;
  const write = (text: string) => {
    if (!options.print) return;
    if (progressShown) {
      process.stdout.write("\r\u001b[2K");
      progressShown = false;
    }
    process.stdout.write(text);
    options.tee?.(text.replace(/\u001b\[[0-9;]*m/g, ""));
  };
  const label = (s: StepRow) => `${s.phase === "check" ? "check " : ""}${s.instance}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ""}`;
  for (;;) {
    const run = (await client.query(READ_RUN, [runId])).rows[0] as FinishedRun | undefined;
    if (run === undefined) throw new Error(`run ${runId} does not exist (or is not yours)`);
    // Only the output not printed yet: one query per poll for all steps of the run.
    const outAt = Object.fromEntries([...seen].map(([id, o]) => [id, o.out]));
    const errAt = Object.fromEntries([...seen].map(([id, o]) => [id, o.err]));
    const rows = (await client.query(READ_STEPS, [runId, JSON.stringify(outAt), JSON.stringify(errAt)])).rows as StepRow[];
    for (const s of rows) {
      const known = seen.get(s.step_run_id) ?? { state: "", out: 0, err: 0 };
      if (known.state === "" && s.state !== "skipped") write(`${paint("▶", "cyan", colour)} ${label(s)} ${paint(`(${s.kind})`, "grey", colour)}\n`);
      const out = s.stdout;
      const err = s.stderr;
      if (out !== "") write(out.split("\n").map((l, i, a) => (i === a.length - 1 && l === "" ? "" : `  ${paint(`${s.instance} │`, "grey", colour)} ${l}\n`)).join(""));
      if (err !== "") write(err.split("\n").map((l, i, a) => (i === a.length - 1 && l === "" ? "" : `  ${paint(`${s.instance} ┃`, "yellow", colour)} ${l}\n`)).join(""));
      if (STEP_FINAL.has(s.state) && !STEP_FINAL.has(known.state)) {
        const mark = s.state === "succeeded" ? "✔" : s.state === "skipped" ? "·" : "✘";
        const detail = [
          s.exit_code !== null && s.exit_code !== 0 ? `exit code ${s.exit_code}` : "",
          s.sql_state ? `SQLSTATE ${s.sql_state}` : "",
          s.error ?? "",
        ].filter((x) => x !== "").join(", ");
        write(`${paint(`${mark} ${label(s)} ${s.state}`, stateColour(s.state), colour)}${s.state === "skipped" ? "" : ` ${paint(duration(s.duration), "grey", colour)}`}${detail ? `: ${detail}` : ""}\n`);
      }
      seen.set(s.step_run_id, { state: s.state, out: s.stdout.length + known.out, err: s.stderr.length + known.err });
    }
    if (FINAL.has(run.state)) return run;
    if (options.print && tty) {
      const running = rows.filter((s) => s.state === "running").length;
      const done = rows.filter((s) => STEP_FINAL.has(s.state)).length;
      process.stdout.write(`\r\u001b[2K${paint(`${run.job} run ${run.run_id}: ${run.state}, ${running} running, ${done} done`, "grey", colour)}`);
      progressShown = true;
    }
    if (options.signal?.aborted) return run;
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 150));
  }
}

export function summary(run: FinishedRun): string {
  const colour = useColour();
  const counts = `${run.steps_succeeded} succeeded, ${run.steps_failed} failed of ${run.steps_total}`;
  return `${paint(`run ${run.run_id} of ${run.job} ${run.state}`, stateColour(run.state), colour)} in ${duration(run.duration)} (${counts})${run.reason ? `: ${run.reason}` : ""}\n`;
}
