// `clockwork import SOURCE`: brings jobs over from pgAgent, pg_cron, pg_timetable or a
// crontab. The importer (src/import/<source>.ts) reads the live source; the jobs are
// written as YAML (with the notes on how Clockwork differs as comments), validated as
// definition files are, and applied through the same plan as `clockwork apply`, in one
// transaction, into the set import-<source>. --dry-run prints the YAML; --out writes the
// files to commit and apply later; --switch-off turns the imported source jobs off.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { readDefinitionFile, type FileProblem } from "../definitions/files.ts";
import { desiredJobs, type DesiredJob } from "../definitions/jobs.ts";
import { applyPlan, makePlan, readDatabaseJobs } from "../definitions/plan.ts";
import { renderDefinition } from "../definitions/render.ts";
import { uniqueJobNames, type ImportResult, type ImportTarget } from "../import/common.ts";
import { CliError, connect, DATABASE_HELP, DATABASE_OPTIONS, EXIT, paint, parseCommand, printJson, runCommand, useColour } from "./common.ts";
import { printProblems } from "./validate.ts";

const SOURCES = ["pgagent", "pg_cron", "pg_timetable", "crontab"] as const;
type Source = (typeof SOURCES)[number];

const USAGE = `usage: clockwork import SOURCE [options]

Imports the jobs of another scheduler into Clockwork, in one transaction, as the set of
files "import-SOURCE" would be applied (re-running it updates them). Where Clockwork
differs from the source, the output and the YAML say so; a job that cannot be brought
along is named with the reason, and then nothing is imported unless --skip-unsupported.

sources:
  pgagent        pgagent.pga_job, pga_jobstep, pga_schedule, pga_exception (--from: its database)
  pg_cron        cron.job (--from: the database where pg_cron is installed)
  pg_timetable   the timetable schema (--from), or a YAML chain file (--file)
  crontab        a crontab file (--file, - for standard input), else \`crontab -l\`

options:
  --from URL           the source database (default: the Clockwork database)
  --file PATH          crontab or pg_timetable YAML file to read
  --system             crontab: a system crontab (/etc/crontab, cron.d) with a user field
  --time-zone ZONE     crontab: the zone its times are in (default: this machine's)
  --dry-run            print the YAML it would apply, and the plan; change nothing
  --out DIR            write one YAML file per job to DIR instead (then: clockwork apply DIR)
  --set NAME           the set to apply into (default import-SOURCE)
  --skip-unsupported   import what can be imported, and name what cannot
  --switch-off         after importing, switch the imported jobs off in the source (cut-over)
  --json               print the result as JSON
${DATABASE_HELP}
  --help               this text

exit codes: 0 imported (or printed), 1 a job cannot be imported (nothing was), refused by
            the database, or the cut-over failed, 2 wrong arguments, 3 an imported job is
            invalid, 5 database unavailable`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  from: { type: "string" },
  file: { type: "string" },
  system: { type: "boolean" },
  "time-zone": { type: "string" },
  "dry-run": { type: "boolean" },
  out: { type: "string" },
  set: { type: "string" },
  "skip-unsupported": { type: "boolean" },
  "switch-off": { type: "boolean" },
  json: { type: "boolean" },
} as const;

function localTimeZone(): string {
  return process.env.TZ || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/**
 * Where the source's own database and server are, beside the Clockwork database: one
 * server is one system identifier (a streaming replica shares its primary's), and --from's
 * host and port are how a step reaches another.
 */
async function importTarget(target: pg.ClientBase, database: string, sourceClient: pg.Client | null): Promise<ImportTarget> {
  if (sourceClient === null) return { database, sourceDatabase: database, sourceServer: null };
  const identity = async (c: pg.ClientBase) => (await c.query("SELECT system_identifier::text AS id, current_database() AS d FROM pg_catalog.pg_control_system()")).rows[0] as { id: string; d: string };
  const [here, there] = [await identity(target), await identity(sourceClient)];
  return { database, sourceDatabase: there.d, sourceServer: here.id === there.id ? null : { host: sourceClient.host, port: sourceClient.port } };
}

async function readSource(source: Source, v: Record<string, unknown>, sourceClient: pg.ClientBase, target: ImportTarget): Promise<ImportResult & { crontab?: { text: string; from: string; lines: number[]; commentOut: (l: number[]) => string } }> {
  switch (source) {
    case "pg_cron":
      return (await import("../import/pg_cron.ts")).importPgCron(sourceClient, target);
    case "pgagent":
      return (await import("../import/pgagent.ts")).importPgAgent(sourceClient, target);
    case "pg_timetable": {
      const m = await import("../import/pg_timetable.ts");
      if (typeof v.file === "string") {
        const text = v.file === "-" ? readFileSync(0, "utf8") : readFileSync(v.file, "utf8");
        return m.importTimetableYaml(text, { database: target.database, label: v.file === "-" ? "stdin" : v.file, timeZone: (v["time-zone"] as string | undefined) ?? "UTC" });
      }
      return m.importTimetable(sourceClient, target);
    }
    case "crontab": {
      const m = await import("../import/crontab.ts");
      let text: string;
      let from: string;
      if (typeof v.file === "string") {
        text = v.file === "-" ? readFileSync(0, "utf8") : readFileSync(v.file, "utf8");
        from = v.file === "-" ? "stdin" : v.file;
      } else {
        try {
          text = execFileSync("crontab", ["-l"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
          throw new CliError(`crontab -l failed: ${((error as { stderr?: string }).stderr ?? "").trim() || (error as Error).message}`, EXIT.failed);
        }
        from = "crontab -l";
      }
      const r = m.importCrontab(text, { database: target.database, timeZone: (v["time-zone"] as string | undefined) ?? localTimeZone(), system: v.system === true, label: from });
      return { ...r, crontab: { text, from, lines: r.lines, commentOut: r.commentOut } };
    }
  }
}

/**
 * Defines the concurrency groups the imported jobs name (pg_timetable's exclusive_execution)
 * when the importing role sees none of that name, and grants a group it defined to the
 * roles that will own those jobs, in the import's transaction. A group of that name that
 * exists is used as it is (its owner grants it).
 */
async function defineGroups(target: pg.ClientBase, groups: NonNullable<ImportResult["groups"]>, jobs: ImportResult["jobs"]): Promise<void> {
  for (const g of groups) {
    const exists = (await target.query("SELECT 1 FROM clockwork.concurrency_groups WHERE name = $1", [g.name])).rows.length > 0;
    if (exists) continue;
    await target.query("SELECT clockwork.define_group($1, $2, $3)", [g.name, g.maxRunning, g.description]);
    const owners = new Set(jobs.filter((j) => (j.definition.policies as { group?: string } | undefined)?.group === g.name && j.owner !== undefined).map((j) => j.owner!));
    for (const owner of owners) await target.query("SELECT clockwork.grant_group($1, $2)", [g.name, owner]);
  }
}

export async function importCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("import", async () => {
    const v = parsed.values;
    const source = parsed.positionals[0] as Source | undefined;
    if (source === undefined || !SOURCES.includes(source) || parsed.positionals.length > 1) {
      throw new CliError(`name one source: ${SOURCES.join(", ")}`, EXIT.usage);
    }
    if ((v.system || v["time-zone"]) && source !== "crontab" && !(source === "pg_timetable" && v.file)) throw new CliError("--system and --time-zone are for crontab (and pg_timetable YAML files)", EXIT.usage);
    if (v.file && source !== "crontab" && source !== "pg_timetable") throw new CliError("--file is for crontab and pg_timetable", EXIT.usage);
    if (v["switch-off"] && (v["dry-run"] || v.out)) throw new CliError("--switch-off happens after an import: not with --dry-run or --out", EXIT.usage);
    const set = v.set ?? `import-${source.replace("_", "-")}`;
    const target = await connect(v["database-url"], "clockwork import");
    let sourceClient: pg.Client | null = null;
    try {
      const database = (await target.query("SELECT current_database() AS d")).rows[0].d as string;
      if (v.from !== undefined) {
        sourceClient = new pg.Client({ connectionString: v.from, application_name: "clockwork import (source)" });
        sourceClient.on("error", () => {});
        try {
          await sourceClient.connect();
        } catch (error) {
          throw new CliError(`cannot connect to the source database: ${(error as Error).message}`, EXIT.unavailable);
        }
      }
      let result;
      try {
        result = await readSource(source, v, sourceClient ?? target, await importTarget(target, database, sourceClient));
      } catch (error) {
        if (error instanceof CliError) throw error;
        if ((error as { code?: string }).code === undefined || (error as Error).message.includes("not installed") || (error as Error).message.includes("schema")) {
          throw new CliError((error as Error).message, EXIT.failed);
        }
        throw error;
      }
      uniqueJobNames(result.jobs);
      const colour = useColour(process.stderr);
      for (const r of result.refused) process.stderr.write(`${paint(`cannot import ${r.origin}: ${r.reason}`, "red", colour)}\n`);
      if (result.refused.length > 0 && !v["skip-unsupported"]) {
        process.stderr.write(`clockwork import: ${result.refused.length} job${result.refused.length === 1 ? "" : "s"} cannot be imported; nothing was imported (--skip-unsupported imports the others)\n`);
        return EXIT.failed;
      }
      // Each job as the YAML a person would commit, read back as a definition file.
      const texts = result.jobs.map((j) => renderDefinition(j.definition, [`imported from ${j.origin}`, ...j.notes.map((n) => `note: ${n}`)].join("\n")));
      const owners = new Map<string, string>();
      const desired: DesiredJob[] = [];
      const problems: FileProblem[] = [];
      texts.forEach((text, i) => {
        const job = result.jobs[i]!;
        const read = readDefinitionFile(`${source}:${String(job.definition.name)}.yaml`, text);
        const d = desiredJobs(read.documents);
        problems.push(...read.problems, ...d.problems);
        desired.push(...d.jobs);
        if (job.owner !== undefined) owners.set(String(job.definition.name), job.owner);
      });
      if (problems.length > 0) {
        printProblems(problems);
        return EXIT.invalid;
      }
      if (v.out !== undefined) {
        mkdirSync(v.out, { recursive: true });
        desired.forEach((d) => writeFileSync(join(v.out!, `${d.name}.yaml`), d.source));
        process.stderr.write(`${desired.length} job${desired.length === 1 ? "" : "s"} written to ${v.out}; apply them with: clockwork apply --set ${set} ${v.out}\n`);
        return EXIT.ok;
      }
      await target.query("BEGIN");
      await target.query("SELECT pg_advisory_xact_lock(hashtext('clockwork apply: ' || $1))", [set]);
      const plan = makePlan(set, desired, await readDatabaseJobs(target), false);
      if (plan.conflicts.length > 0) {
        await target.query("ROLLBACK");
        for (const c of plan.conflicts) process.stderr.write(`job "${c.job}" is managed by the set "${c.managedBy}"; import it with --set ${c.managedBy}, or rename it\n`);
        return EXIT.failed;
      }
      if (v["dry-run"]) {
        await target.query("ROLLBACK");
        if (v.json) printJson({ source, set, jobs: desired.map((d) => ({ name: d.name, yaml: d.source })), refused: result.refused, notes: result.notes });
        else {
          process.stdout.write(texts.join("---\n"));
          for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
          process.stderr.write(`dry run: ${desired.length} job${desired.length === 1 ? "" : "s"} would be imported into the set "${set}"; nothing changed\n`);
        }
        return EXIT.ok;
      }
      try {
        await defineGroups(target, result.groups ?? [], result.jobs);
        await applyPlan(target, plan, false, () => {}, (job) => owners.get(job));
        // The cut-over is atomic when the source is this database: one commit for both.
        if (v["switch-off"] && sourceClient === null && result.switchOff && source !== "crontab") {
          process.stdout.write(`${await result.switchOff(target)}\n`);
        }
        await target.query("COMMIT");
      } catch (error) {
        await target.query("ROLLBACK").catch(() => {});
        throw error;
      }
      const counts = (a: string) => plan.entries.filter((e) => e.action === a).length;
      if (v.json) printJson({ source, set, imported: desired.map((d) => d.name), refused: result.refused, notes: result.notes, created: counts("create"), changed: counts("change"), unchanged: counts("unchanged") });
      else {
        for (const j of result.jobs) {
          process.stdout.write(`${paint("+", "green")} ${String(j.definition.name)}  ${paint(`from ${j.origin}`, "grey")}\n`);
          for (const n of j.notes) process.stdout.write(`    ${paint(`note: ${n}`, "grey")}\n`);
        }
        for (const n of result.notes) process.stdout.write(`note: ${n}\n`);
        process.stdout.write(`Imported ${desired.length} job${desired.length === 1 ? "" : "s"} into the set "${set}": ${counts("create")} created, ${counts("change")} changed, ${counts("unchanged")} unchanged.\n`);
      }
      if (v["switch-off"]) {
        try {
          if (source === "crontab" && result.crontab) {
            const updated = result.crontab.commentOut(result.crontab.lines);
            if (result.crontab.from === "crontab -l") execFileSync("crontab", ["-"], { input: updated });
            else if (result.crontab.from !== "stdin") {
              renameSync(result.crontab.from, `${result.crontab.from}.before-clockwork`);
              writeFileSync(result.crontab.from, updated);
            }
            process.stdout.write(`${result.crontab.lines.length} crontab line${result.crontab.lines.length === 1 ? "" : "s"} commented out ("#clockwork: ")\n`);
          } else if (sourceClient !== null && result.switchOff) {
            process.stdout.write(`${await result.switchOff(sourceClient)}\n`);
          }
        } catch (error) {
          process.stderr.write(`clockwork import: the jobs were imported, but switching them off in the source failed: ${(error as Error).message}\nBoth schedulers now run them: switch them off there by hand.\n`);
          return EXIT.failed;
        }
      }
      return EXIT.ok;
    } finally {
      await sourceClient?.end().catch(() => {});
      await target.end().catch(() => {});
    }
  });
}
