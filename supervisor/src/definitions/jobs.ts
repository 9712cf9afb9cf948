// From documents to job definitions: each document is a Clockwork job, or a PgQuartz job
// file (translated by import/pgquartz.ts), validated offline by the same core function
// define_job uses, with the same messages, each placed at its file:line.
import { ERROR_KINDS, validateJobDefinition, type ValidationEnvironment, type ValidationIssue } from "../../../extension/src/core/index.ts";
import { KNOWN_BUILTINS } from "../../../extension/src/db/builtins.ts";
import { isPgQuartzJob, translatePgQuartz } from "../import/pgquartz.ts";
import { fileStem, type FileProblem, type SourceDocument } from "./files.ts";

export interface DesiredJob {
  name: string;
  /** The Clockwork definition (the object define_job takes). */
  definition: Record<string, unknown>;
  /** The text to keep with the job (export gives it back). */
  source: string;
  document: SourceDocument;
  /** "clockwork" or "pgquartz". */
  format: "clockwork" | "pgquartz";
  /** What a translation could not keep exactly (printed, never silent). */
  notes: string[];
}

/** Zone names as PostgreSQL spells them: ICU knows them, and every segment is capitalised. */
export function isValidTimeZoneOffline(zone: string): boolean {
  if (zone === "UTC") return true;
  if (!/^[A-Z][A-Za-z0-9_+-]*(\/[A-Z0-9][A-Za-z0-9_+-]*)*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * What can be checked without a database. Connections and calendars are not known here
 * (the database checks them at apply); shell steps are allowed here and checked against
 * the applying role by the database.
 */
export function offlineEnvironment(): ValidationEnvironment {
  return { isValidTimeZone: isValidTimeZoneOffline, allowShellSteps: true, allowNetworkBuiltins: true, builtins: KNOWN_BUILTINS };
}

export function issueProblem(document: SourceDocument, issue: Pick<ValidationIssue, "path" | "message" | "code">, mapPath: (p: string) => string = (p) => p): FileProblem {
  const path = mapPath(issue.path);
  return { position: document.locate(path), path: issue.path, message: issue.message, code: issue.code };
}

/** Turns documents into validated jobs; every problem is returned with its place. */
export function desiredJobs(documents: readonly SourceDocument[], env: ValidationEnvironment = offlineEnvironment()): { jobs: DesiredJob[]; problems: FileProblem[] } {
  const jobs: DesiredJob[] = [];
  const problems: FileProblem[] = [];
  const seen = new Map<string, SourceDocument>();
  for (const document of documents) {
    let definition: unknown = document.value;
    let format: DesiredJob["format"] = "clockwork";
    let notes: string[] = [];
    let mapPath = (p: string) => p;
    if (isPgQuartzJob(document.value)) {
      const t = translatePgQuartz(document.value, { jobName: fileStem(document.file), file: document.file });
      if (!t.ok) {
        problems.push(...t.problems.map((p) => ({ position: document.locate(p.path), path: p.path, message: p.message, code: ERROR_KINDS.invalid_definition.code })));
        continue;
      }
      definition = t.definition;
      format = "pgquartz";
      notes = t.notes;
      mapPath = t.mapPath;
    }
    const result = validateJobDefinition(definition, env);
    if (!result.ok) {
      problems.push(...result.errors.map((e) => issueProblem(document, e, mapPath)));
      continue;
    }
    const name = result.job.name;
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push({ position: document.locate("name"), path: "name", message: `job "${name}" is also defined at ${first.locate("name").file}:${first.locate("name").line}`, code: ERROR_KINDS.invalid_definition.code });
      continue;
    }
    seen.set(name, document);
    jobs.push({ name, definition: definition as Record<string, unknown>, source: document.text, document, format, notes });
  }
  return { jobs, problems };
}
