// `clockwork apply PATH…` and `clockwork diff PATH…`: the jobs of a set of definition files
// against the database. apply prints its plan, then applies it in one transaction (all
// or nothing); diff prints the differences, drift included, and applies nothing.
import type pg from "pg";
import { ERROR_KINDS } from "../../../extension/src/core/errors.ts";
import type { FileProblem } from "../definitions/files.ts";
import { applyPlan, makePlan, planChanges, readDatabaseJobs, type Plan, type PlanEntry } from "../definitions/plan.ts";
import { CliError, connect, DATABASE_HELP, DATABASE_OPTIONS, EXIT, paint, parseCommand, printJson, runCommand, useColour, type Colour } from "./common.ts";
import { loadJobs, printProblems } from "./validate.ts";

const COMMON_HELP = `  --set NAME           the set these files form (default "default"): the jobs they manage
                       are marked with it, and only jobs of this set are ever deleted
  --json               print the plan as JSON
${DATABASE_HELP}
  --help               this text`;

const APPLY_USAGE = `usage: clockwork apply [options] PATH…

Reconciles the database with job definition files (YAML or JSON; a file per job, several
--- documents per file, or folders). Prints a plan (create, change with a diff, unchanged,
delete), then applies it in one transaction: every job or none. Each job keeps the text it
was written in (clockwork export gives it back) and is marked as managed by the set of files.
PgQuartz job files are applied as Clockwork jobs (give them a schedule in a clockwork: block).

options:
  --dry-run            print the plan and stop
  --prune              delete the jobs of this set that are no longer in the files
${COMMON_HELP}

exit codes: 0 applied (or nothing to do), 1 refused by the database (nothing changed),
            2 wrong arguments, 3 invalid definition files, 5 database unavailable`;

const DIFF_USAGE = `usage: clockwork diff [options] PATH…

Shows how the database differs from job definition files: jobs to create, definitions
that differ (a change in the files, or drift: a change made in the database by SQL since
the files were applied), and jobs of the set that the files no longer have.

options:
${COMMON_HELP}

exit codes: 0 no differences, 2 wrong arguments, 3 invalid definition files,
            4 differences found, 5 database unavailable`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  set: { type: "string" },
  json: { type: "boolean" },
  "dry-run": { type: "boolean" },
  prune: { type: "boolean" },
} as const;

/** SQLSTATEs of problems in a definition (the kinds validateJobDefinition reports). */
const DEFINITION_CODES = new Set<string>(
  (["invalid_schedule", "invalid_definition", "unknown_time_zone", "unknown_step", "dependency_cycle", "invalid_expression", "unknown_connection",
    "unknown_calendar", "shell_not_allowed", "password_in_conninfo", "matrix_too_large", "invalid_parameter", "invalid_policy", "invalid_interval",
    "invalid_alert", "unknown_alert_channel", "secret_in_definition", "invalid_builtin", "network_not_allowed", "secret_not_granted"] as const)
    .map((k) => ERROR_KINDS[k].code),
);

const SET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;

const SYMBOL: Record<string, [string, Colour | null]> = {
  create: ["+", "green"], change: ["~", "yellow"], unchanged: ["=", "grey"], delete: ["-", "red"],
};

function entryLine(e: PlanEntry, prune: boolean, colour: boolean): string[] {
  const where = e.desired ? `${e.desired.document.file}:${e.desired.document.locate("").line}` : "";
  const action = e.action === "delete" && !prune ? "stale" : e.action;
  const [symbol, tint] = SYMBOL[e.action]!;
  const extra = [
    e.adopt ? "adopted: it was made by SQL" : "",
    e.action === "unchanged" && e.restamp && !e.adopt ? "text updated" : "",
    e.desired?.format === "pgquartz" ? "from a PgQuartz job file" : "",
  ].filter((x) => x !== "").join("; ");
  const lines = [`${paint(`${symbol} ${action.padEnd(9)}`, tint, colour)} ${e.job}${where ? paint(`  ${where}`, "grey", colour) : ""}${extra ? paint(`  (${extra})`, "grey", colour) : ""}`];
  if (e.drift) lines.push(paint(`    drift: ${e.drift}`, "magenta", colour));
  if (e.action === "change") {
    for (const d of e.diff) lines.push(`    ${paint(d, d.startsWith("+") ? "green" : d.startsWith("-") ? "red" : null, colour)}`);
  }
  for (const note of e.desired?.notes ?? []) if (e.action !== "unchanged") lines.push(paint(`    note: ${note}`, "grey", colour));
  return lines;
}

function printPlan(plan: Plan, prune: boolean, verb: string): void {
  const colour = useColour();
  const out: string[] = [];
  for (const e of plan.entries) {
    if (e.action === "unchanged" && !e.restamp && verb === "diff") continue;
    out.push(...entryLine(e, prune, colour));
  }
  const count = (a: string) => plan.entries.filter((e) => e.action === a).length;
  const deletes = count("delete");
  out.push(
    `${verb === "diff" ? "" : "Plan: "}${count("create")} to create, ${count("change")} to change, ${prune ? `${deletes} to delete` : `${deletes} stale (not deleted without --prune)`}, ${count("unchanged")} unchanged (set "${plan.set}").`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

function planJson(plan: Plan, prune: boolean, applied: boolean) {
  return {
    set: plan.set,
    applied,
    jobs: plan.entries.map((e) => ({
      job: e.job,
      action: e.action === "delete" && !prune ? "stale" : e.action,
      file: e.desired?.document.file ?? null,
      line: e.desired?.document.locate("").line ?? null,
      drift: e.drift,
      adopt: e.adopt,
      diff: e.diff,
      notes: e.desired?.notes ?? [],
    })),
  };
}

function conflictProblems(plan: Plan): FileProblem[] {
  return plan.conflicts.map((c) => ({
    position: c.desired.document.locate("name"),
    path: "name",
    message: `job "${c.job}" is managed by the set "${c.managedBy}": apply it with --set ${c.managedBy}, or drop it there first`,
  }));
}

/** Places the database's errors for one job (DETAIL: one `path: message` per line) in its file. */
function databaseProblems(error: unknown, entry: PlanEntry | undefined): FileProblem[] | null {
  const e = error as { code?: string; message?: string; detail?: string };
  if (entry?.desired === undefined || typeof e.code !== "string" || !DEFINITION_CODES.has(e.code)) return null;
  const lines = (e.detail ?? e.message ?? "").split("\n").filter((l) => l.trim() !== "");
  return lines.map((line) => {
    const m = /^([A-Za-z0-9_.\[\]-]*): ([\s\S]*)$/.exec(line);
    const path = m ? m[1]! : "";
    return { position: entry.desired!.document.locate(path), path, message: m ? m[2]! : line, code: e.code };
  });
}

async function reconcile(argv: readonly string[], verb: "apply" | "diff"): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, verb === "apply" ? APPLY_USAGE : DIFF_USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand(verb, async () => {
    const v = parsed.values;
    if (verb === "diff" && (v["dry-run"] || v.prune)) throw new CliError("--dry-run and --prune belong to apply", EXIT.usage);
    const set = v.set ?? "default";
    if (!SET_NAME.test(set)) throw new CliError(`--set ${JSON.stringify(set)}: 1–128 letters, digits, _ . : / - (not starting with . : / -)`, EXIT.usage);
    const prune = v.prune === true;
    const { jobs, problems } = loadJobs(parsed.positionals);
    if (problems.length > 0) {
      printProblems(problems);
      process.stderr.write(`clockwork ${verb}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the definition files; nothing was ${verb === "apply" ? "applied" : "compared"}\n`);
      return EXIT.invalid;
    }
    const client = await connect(v["database-url"], `clockwork ${verb}`);
    try {
      await client.query("BEGIN");
      // One apply per set at a time; a diff reads a consistent picture.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('clockwork apply: ' || $1))", [set]);
      const plan = makePlan(set, jobs, await readDatabaseJobs(client), prune);
      if (plan.conflicts.length > 0) {
        printProblems(conflictProblems(plan));
        await client.query("ROLLBACK");
        return EXIT.failed;
      }
      const changes = planChanges(plan, prune);
      if (verb === "diff") {
        await client.query("ROLLBACK");
        const differs = plan.entries.some((e) => e.action !== "unchanged" || e.restamp);
        if (v.json) printJson(planJson(plan, false, false));
        else printPlan(plan, false, "diff");
        return differs ? EXIT.differences : EXIT.ok;
      }
      if (!v.json) printPlan(plan, prune, "apply");
      if (v["dry-run"] || !changes) {
        await client.query("ROLLBACK");
        if (v.json) printJson(planJson(plan, prune, false));
        else process.stdout.write(v["dry-run"] ? "Dry run: nothing applied.\n" : "Nothing to do.\n");
        return EXIT.ok;
      }
      let current: PlanEntry | undefined;
      try {
        await applyPlan(client, plan, prune, (e) => (current = e));
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        const placed = databaseProblems(error, current);
        if (placed === null) throw error;
        printProblems(placed);
        process.stderr.write(`clockwork apply: the database refused job "${current!.job}"; nothing was applied\n`);
        return EXIT.failed;
      }
      if (v.json) printJson(planJson(plan, prune, true));
      else process.stdout.write("Applied.\n");
      return EXIT.ok;
    } finally {
      await client.end().catch(() => {});
    }
  });
}

export const applyCommand = (argv: readonly string[]) => reconcile(argv, "apply");
export const diffCommand = (argv: readonly string[]) => reconcile(argv, "diff");

/** For tests and importers: apply already-loaded jobs through the same plan. */
export async function applyJobs(client: pg.ClientBase, set: string, jobs: Parameters<typeof makePlan>[1], prune: boolean): Promise<Plan> {
  const plan = makePlan(set, jobs, await readDatabaseJobs(client), prune);
  await applyPlan(client, plan, prune);
  return plan;
}
