// `clockwork export [JOB…]`: job definitions as YAML that round-trips: applying the output
// again changes nothing. A job keeps the text it was written in (job_versions.source:
// comments, key and step order) as long as that text still reads as its definition; a job
// defined as jsonb, or changed since, is written from its definition in the documented
// key order.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../../../extension/src/db/values.ts";
import { readDefinitionFile } from "../definitions/files.ts";
import { desiredJobs } from "../definitions/jobs.ts";
import { readDatabaseJobs, type DatabaseJob } from "../definitions/plan.ts";
import { renderDefinition } from "../definitions/render.ts";
import { CliError, connect, DATABASE_HELP, DATABASE_OPTIONS, EXIT, parseCommand, printJson, runCommand } from "./common.ts";

const USAGE = `usage: clockwork export [options] [JOB…]

Writes job definitions as YAML (all the jobs you may see, or the ones named), as several
--- documents on standard output, or one file per job with --dir. Applying the output
again changes nothing; a job keeps the text it was written in, comments included.

options:
  --dir DIR            write DIR/<job>.yaml for each job instead
  --set NAME           only the jobs managed by this set of files
  --json               print the definitions as JSON instead
${DATABASE_HELP}
  --help               this text

exit codes: 0 written, 1 a named job does not exist, 2 wrong arguments, 5 database unavailable`;

/** The job's own text when it still reads as its current definition, else a rendering. */
export function exportText(job: DatabaseJob): { text: string; fromSource: boolean } {
  if (job.source !== null) {
    const read = readDefinitionFile(`${job.job}.yaml`, job.source);
    if (read.problems.length === 0 && read.documents.length === 1) {
      const { jobs } = desiredJobs(read.documents);
      if (jobs.length === 1 && canonicalJson(jobs[0]!.definition) === canonicalJson(job.definition)) {
        return { text: job.source.endsWith("\n") ? job.source : `${job.source}\n`, fromSource: true };
      }
    }
  }
  return { text: renderDefinition(job.definition), fromSource: false };
}

export async function exportCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { ...DATABASE_OPTIONS, dir: { type: "string" }, set: { type: "string" }, json: { type: "boolean" } }, USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("export", async () => {
    const v = parsed.values;
    const client = await connect(v["database-url"], "clockwork export");
    let jobs: DatabaseJob[];
    try {
      jobs = await readDatabaseJobs(client);
    } finally {
      await client.end().catch(() => {});
    }
    const names = parsed.positionals;
    const missing = names.filter((n) => !jobs.some((j) => j.job === n));
    if (missing.length > 0) throw new CliError(`no such job: ${missing.join(", ")} (or it is not yours)`, EXIT.failed);
    const chosen = jobs.filter((j) => (names.length === 0 || names.includes(j.job)) && (v.set === undefined || j.managed_by === v.set));
    if (v.json) {
      printJson(chosen.map((j) => j.definition));
      return EXIT.ok;
    }
    if (v.dir !== undefined) {
      mkdirSync(v.dir, { recursive: true });
      for (const j of chosen) writeFileSync(join(v.dir, `${j.job}.yaml`), exportText(j).text);
      process.stderr.write(`${chosen.length} job${chosen.length === 1 ? "" : "s"} written to ${v.dir}\n`);
      return EXIT.ok;
    }
    process.stdout.write(chosen.map((j) => exportText(j).text).join("---\n"));
    return EXIT.ok;
  });
}
