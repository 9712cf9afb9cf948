// `clockwork run FILE`: a one-shot run of a job file, to completion, for cron, systemd
// timers and Kubernetes CronJobs (as PgQuartz is used). The job is defined as `<name>.run`
// (no schedule, pinned to this process), started with run_now, and executed by a dedicated
// supervisor in this process: the supervisor's own code (main.ts), which claims only this
// job's steps and fires no slot. Output streams as it is stored; the exit code is the
// run's result. History stays in the database under `<name>.run`.
//
// PgQuartz job files run as they are: git pull before reading (unless git.disable), the
// etcd lock as a PostgreSQL advisory lock held by this process's session (released when
// it ends, even by a crash, as etcd's lease is), parallel as the supervisor's concurrency,
// logFile as a copy of the output, debug as the supervisor's debug log on stderr.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { loadConfig } from "../config.ts";
import { readDefinitionFile, fileStem } from "../definitions/files.ts";
import { desiredJobs } from "../definitions/jobs.ts";
import { isPgQuartzJob, translatePgQuartz, type PgQuartzRunOptions } from "../import/pgquartz.ts";
import { Supervisor } from "../main.ts";
import { CliError, connect, DATABASE_HELP, DATABASE_OPTIONS, EXIT, parseCommand, printJson, runCommand } from "./common.ts";
import { followRun, summary } from "./follow.ts";
import { printProblems } from "./validate.ts";

const USAGE = `usage: clockwork run [options] FILE

Runs a job file now, to completion, and exits with its result: a Clockwork job (YAML or
JSON) or a PgQuartz job file. Steps run in this process (a dedicated supervisor that takes
only this job's steps); output is printed as it comes. The run is recorded in the
database as a run of the job "<name>.run".

options:
  --param NAME=VALUE   a parameter of the run (repeatable; the job must declare it)
  --concurrency N      steps run at the same time (default: PgQuartz's parallel, else 4)
  --quiet              print only the final line
  --json               print the finished run as JSON instead
  --verbose            the supervisor's debug log on stderr
${DATABASE_HELP}
  --help               this text

exit codes: 0 the run succeeded, 1 it failed (a step or a check) or was cancelled,
            2 wrong arguments, 3 invalid job file, 5 database unavailable, 130 interrupted`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  param: { type: "string", multiple: true },
  concurrency: { type: "string" },
  quiet: { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
} as const;

export function parseParams(list: readonly string[] | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of list ?? []) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new CliError(`--param ${JSON.stringify(p)}: write NAME=VALUE`, EXIT.usage);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return params;
}

/** PgQuartz pulls the job's git repository before it runs (unless disabled); a failed pull is logged and the run goes on. */
function gitPull(git: NonNullable<PgQuartzRunOptions["git"]>, workdir: string, say: (s: string) => void): void {
  if (git.disabled) return;
  let inside = false;
  try {
    inside = execFileSync("git", ["-C", workdir, "rev-parse", "--is-inside-work-tree"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() === "true";
  } catch {
    return; // not a repository: nothing to pull
  }
  if (!inside) return;
  try {
    const env = { ...process.env, ...(git.rsaPath ? { GIT_SSH_COMMAND: `ssh -i ${git.rsaPath.replace(/^~\//, `${process.env.HOME ?? ""}/`)} -o IdentitiesOnly=yes` } : {}) };
    const args = ["-C", workdir, "pull", "--ff-only", git.remote, ...(git.revision ? [git.revision] : [])];
    execFileSync("git", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    say(`git pull in ${workdir}: up to date\n`);
  } catch (error) {
    say(`git pull in ${workdir} failed; running the job as it is: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n")[0]}\n`);
  }
}

interface LoadedRunFile {
  definition: Record<string, unknown>;
  name: string;
  pgquartz: PgQuartzRunOptions | null;
  notes: string[];
}

function loadRunFile(file: string, say: (s: string) => void): LoadedRunFile {
  if (!existsSync(file) || !statSync(file).isFile()) throw new CliError(`${file}: no such file`, EXIT.usage);
  let read = readDefinitionFile(file);
  if (read.problems.length === 0 && read.documents.length === 1 && isPgQuartzJob(read.documents[0]!.value)) {
    const t = translatePgQuartz(read.documents[0]!.value, { jobName: fileStem(file), file });
    if (t.ok && t.run.git) {
      gitPull(t.run.git, t.run.workdir, say);
      read = readDefinitionFile(file); // PgQuartz reloads its config after the pull
    }
  }
  if (read.problems.length > 0) {
    printProblems(read.problems);
    throw new CliError("", EXIT.invalid);
  }
  if (read.documents.length !== 1) throw new CliError(`${file}: a run file holds one job, not ${read.documents.length}`, EXIT.usage);
  const { jobs, problems } = desiredJobs(read.documents);
  if (problems.length > 0) {
    printProblems(problems);
    throw new CliError("", EXIT.invalid);
  }
  const job = jobs[0]!;
  let pgquartz: PgQuartzRunOptions | null = null;
  if (job.format === "pgquartz") {
    const t = translatePgQuartz(read.documents[0]!.value, { jobName: fileStem(file), file });
    if (t.ok) pgquartz = t.run;
  }
  return { definition: job.definition, name: job.name, pgquartz, notes: job.notes };
}

export async function runFileCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("run", async () => {
    const v = parsed.values;
    if (parsed.positionals.length !== 1) throw new CliError("give one job file (see --help)", EXIT.usage);
    const file = parsed.positionals[0]!;
    const params = parseParams(v.param);
    const print = !v.quiet && !v.json;
    const say = (s: string) => { if (print) process.stdout.write(s); };
    const loaded = loadRunFile(file, say);
    const pq = loaded.pgquartz;
    let tee: ((text: string) => void) | undefined;
    if (pq?.logFile) {
      const target = existsSync(pq.logFile) && statSync(pq.logFile).isDirectory()
        ? join(pq.logFile, `${new Date().toISOString().slice(0, 10)}_${fileStem(file)}.log`)
        : pq.logFile;
      tee = (text) => appendFileSync(target, text);
    }
    const concurrency = v.concurrency ?? String(pq?.parallel ?? 4);
    if (!/^\d+$/.test(concurrency) || Number(concurrency) < 1) throw new CliError("--concurrency must be a whole number ≥ 1", EXIT.usage);

    const client = await connect(v["database-url"], "clockwork run");
    let lockClient: Awaited<ReturnType<typeof connect>> | null = null;
    const worker = `clockwork-run-${hostname().replace(/[^A-Za-z0-9_.:@-]/g, "_").slice(0, 60)}-${process.pid}-${randomBytes(3).toString("hex")}`;
    let supervisor: Supervisor | null = null;
    const stop = new AbortController();
    let runId: string | null = null;
    let interrupted = false;
    const onSignal = () => {
      interrupted = true;
      stop.abort();
      if (runId !== null) void client.query("SELECT clockwork.cancel_run($1::bigint)", [runId]).catch(() => {});
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      if (pq?.lock) {
        // PgQuartz's etcd lock: one node at a time. A session-level advisory lock on a
        // connection of its own is held until this process ends or its connection drops.
        lockClient = await connect(v["database-url"], "clockwork run lock");
        await lockClient.query(`SET lock_timeout = ${Math.max(1, Math.round(pq.lock.timeoutMs))}`);
        say(`waiting for the lock ${JSON.stringify(pq.lock.key)}…\n`);
        try {
          await lockClient.query("SELECT pg_advisory_lock(hashtext('clockwork run lock: ' || $1))", [pq.lock.key]);
        } catch (error) {
          if ((error as { code?: string }).code === "55P03") throw new CliError(`the lock ${JSON.stringify(pq.lock.key)} was not free within its lockTimeout`, EXIT.failed);
          throw error;
        }
        say(`lock ${JSON.stringify(pq.lock.key)} held\n`);
      }
      const runName = `${loaded.name.slice(0, 59)}.run`;
      const definition: Record<string, unknown> = { ...loaded.definition, name: runName, node: worker };
      delete definition.schedules;
      delete definition.enabled;
      delete definition.labels; // this process runs it: no other worker's labels apply

      const config = { ...loadConfig(["--name", worker, "--http-port", "off", "--concurrency", concurrency, "--log-level", v.verbose || pq?.debug ? "debug" : "warn", ...(v["database-url"] ? ["--database-url", v["database-url"]] : [])]), dedicated: true };
      const log = pino({ level: config.logLevel, base: { worker } }, pino.destination(2));
      supervisor = new Supervisor(Object.freeze(config), log);
      await supervisor.start();

      await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
      runId = String((await client.query("SELECT clockwork.run_now($1, $2::jsonb) AS id", [runName, JSON.stringify(params)])).rows[0].id);
      say(`run ${runId} of ${runName} (${file})\n`);
      tee?.(`run ${runId} of ${runName} (${file}) at ${new Date().toISOString()}\n`);
      const finished = await followRun(client, runId, { print, signal: stop.signal, tee });
      let final = finished;
      if (interrupted) {
        // Cancelled: wait (briefly) for the database to settle the run.
        final = await followRun(client, runId, { print: false });
      }
      if (v.json) printJson(final);
      else process.stdout.write(summary(final));
      tee?.(summary(final).replace(/\u001b\[[0-9;]*m/g, ""));
      if (interrupted) return EXIT.interrupted;
      return final.state === "succeeded" ? EXIT.ok : EXIT.failed;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (supervisor !== null) await supervisor.shutdown("done");
      await lockClient?.end().catch(() => {});
      await client.end().catch(() => {});
    }
  });
}
