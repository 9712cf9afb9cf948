// `clockwork validate PATH…`: checks definition files without a database, with the core
// validation define_job uses (same messages), each problem at its file:line:column.
import { readDefinitions, formatProblem, type FileProblem } from "../definitions/files.ts";
import { desiredJobs, type DesiredJob } from "../definitions/jobs.ts";
import { CliError, EXIT, paint, parseCommand, printJson, runCommand, useColour } from "./common.ts";

const USAGE = `usage: clockwork validate [options] PATH…

Checks job definition files (YAML or JSON; a file per job, several --- documents per
file, or folders of *.yaml/*.yml/*.json) without a database. PgQuartz job files are read
as Clockwork jobs. Each problem is printed as FILE:LINE:COLUMN: PATH: MESSAGE.
Connections, calendars and the right to define shell steps are checked by the database
when the files are applied.

options:
  --json     print {valid, jobs, problems} as JSON
  --help     this text

exit codes: 0 valid, 2 wrong arguments, 3 invalid definitions`;

export interface LoadedJobs {
  jobs: DesiredJob[];
  problems: FileProblem[];
}

/** Reads and validates the files under `paths`; a missing path is a usage error. */
export function loadJobs(paths: readonly string[]): LoadedJobs {
  if (paths.length === 0) throw new CliError("give at least one file or folder (see --help)", EXIT.usage);
  const read = readDefinitions(paths);
  if (read.missing.length > 0) throw new CliError(read.missing.join("\n"), EXIT.usage);
  const { jobs, problems } = desiredJobs(read.documents);
  return { jobs, problems: [...read.problems, ...problems] };
}

export function printProblems(problems: readonly FileProblem[], stream: NodeJS.WriteStream = process.stderr): void {
  const colour = useColour(stream);
  for (const p of problems) stream.write(`${paint(formatProblem(p), "red", colour)}${p.code ? paint(` [${p.code}]`, "grey", colour) : ""}\n`);
}

export async function validateCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommand(argv, { json: { type: "boolean" } }, USAGE);
  if (typeof parsed === "number") return parsed;
  return runCommand("validate", async () => {
    const { jobs, problems } = loadJobs(parsed.positionals);
    if (parsed.values.json) {
      printJson({
        valid: problems.length === 0,
        jobs: jobs.map((j) => ({ name: j.name, file: j.document.file, line: j.document.locate("").line, format: j.format, notes: j.notes })),
        problems: problems.map((p) => ({ file: p.position.file, line: p.position.line, column: p.position.column, path: p.path, message: p.message, code: p.code ?? null })),
      });
    } else {
      printProblems(problems);
      for (const j of jobs) for (const note of j.notes) process.stdout.write(`${j.document.file}: note: ${note}\n`);
      const s = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
      process.stdout.write(problems.length === 0 ? `${s(jobs.length, "job")} valid\n` : `${s(problems.length, "problem")}; ${s(jobs.length, "job")} valid\n`);
    }
    return problems.length === 0 ? EXIT.ok : EXIT.invalid;
  });
}
