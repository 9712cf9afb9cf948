// What every importer produces: Clockwork job definitions read from a live source, each
// with the notes that say where Clockwork differs from the source, the source's own jobs
// that cannot be brought along (each with the reason, naming the missing feature), and
// how to switch the imported source jobs off at cut-over.
import type pg from "pg";

export interface ImportedJob {
  /** The Clockwork definition. */
  definition: Record<string, unknown>;
  /** How the source names the job (for messages): "pg_cron job 3 (nightly)". */
  origin: string;
  /** Where Clockwork differs from the source for this job; written as comments above it. */
  notes: string[];
  /** The role that owns the job in the source, when the source has one (SET ROLE at apply). */
  owner?: string;
}

export interface RefusedJob {
  origin: string;
  reason: string;
}

export interface ImportResult {
  source: string;
  jobs: ImportedJob[];
  refused: RefusedJob[];
  /** Notes about the whole source (time zone used, …). */
  notes: string[];
  /** Concurrency groups the jobs name (policies.group), defined by the import when missing. */
  groups?: readonly { name: string; maxRunning: number; description: string }[];
  /** Disables the imported jobs in the source (cut-over); given the ids of what was imported. */
  switchOff?: (client: pg.ClientBase | null) => Promise<string>;
}

/**
 * Where imported steps run. A source's "local" database is on the source's server (pgAgent,
 * pg_cron and pg_timetable run their SQL there), which is the Clockwork server only when
 * --from is on it: otherwise a step must name that server, or it would run on Clockwork's.
 */
export interface ImportTarget {
  /** The Clockwork database's name. */
  database: string;
  /** The source database's name (the Clockwork database without --from). */
  sourceDatabase: string;
  /** The source server as --from reached it, when it is not the Clockwork server. */
  sourceServer: { host: string; port: number } | null;
}

/** A conninfo value, quoted when it has to be. */
function conninfoValue(v: string): string {
  return /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/['\\]/g, "\\$&")}'`;
}

/**
 * The conninfo of a step on the source's server in `database` when that server is not the
 * Clockwork server (null when it is: the step's database, or nothing, says where), and the
 * note that says so.
 */
export function sourceServerStep(target: ImportTarget, database: string): { conninfo: string; note: string } | null {
  const server = target.sourceServer;
  if (server === null) return null;
  return {
    conninfo: `host=${conninfoValue(server.host)} port=${server.port} dbname=${conninfoValue(database)}`,
    note: `the source server (${server.host}:${server.port}) is not the Clockwork server: the step connects there, to database "${database}", as the job's owner, and runs at least once (docs/sql-steps.md)`,
  };
}

/**
 * pg_cron and pg_timetable ask each minute whether its wall time in their zone matches
 * (pg_cron's ShouldRunTask, pg_timetable's is_cron_in_time): a wall time that a change to
 * summer time skips never fires, and one that the change back repeats fires twice.
 * Clockwork's defaults fire at the end of a gap and once in an overlap, so their cron
 * schedules in a zone other than UTC say this (docs/core.md, "Time zones and DST").
 */
export const MINUTE_BY_MINUTE_DST = { gap: "skip", overlap: "twice" } as const;

/** A zone with no changes to summer time: UTC by one of its names. */
export function isUtc(zone: string): boolean {
  return /^(Etc\/)?(UTC|UCT|GMT|Universal|Zulu|Greenwich)(0|[+-]0)?$/i.test(zone);
}

/** Job names as Clockwork takes them: 1–63 letters, digits, _ . - (not starting with . or -). */
export function jobName(text: string, fallback: string): string {
  const n = text.trim().replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[.-]+/, "").replace(/-+$/, "").slice(0, 63);
  return n === "" ? fallback : n;
}

/** Step names: letters, digits, _ and -, starting with a letter or _. */
export function stepName(text: string, taken: Set<string>, fallback: string): string {
  let base = text.trim().replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+(?=.)/, "").replace(/^(?=[0-9-])/, "s_");
  if (base === "" || base === "s_") base = fallback;
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
  taken.add(n);
  return n;
}

/** Makes names unique across jobs (a source may repeat a name Clockwork needs unique). */
export function uniqueJobNames(jobs: ImportedJob[]): void {
  const seen = new Set<string>();
  for (const j of jobs) {
    const base = String(j.definition.name);
    let n = base;
    for (let i = 2; seen.has(n); i++) n = `${base.slice(0, 59)}-${i}`;
    if (n !== base) {
      j.notes.push(`named "${n}": another imported job is "${base}"`);
      j.definition.name = n;
    }
    seen.add(n);
  }
}

/** The interval a number of milliseconds is, as Clockwork writes it. */
export function msText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * Statements PostgreSQL refuses inside a transaction block, which pgAgent and pg_cron run
 * outside one. Clockwork does too (an autonomous step, detected when the job is defined):
 * say that it runs at least once, as in the source.
 */
export function nonTransactionalNote(sql: string): string | null {
  const m = /^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|CREATE\s+INDEX\s+CONCURRENTLY|REINDEX\s+(DATABASE|SYSTEM)|CLUSTER\s*;?$|CALL)\b/i.exec(sql);
  return m ? `${m[1]!.toUpperCase().replace(/\s+/g, " ")} runs outside a transaction, as in the source: an autonomous step, recorded after it ran (at least once; docs/sql-steps.md)` : null;
}

/**
 * Why a source's connection string cannot be a step's conninfo as it is: a password in
 * it (Clockwork keeps none in a definition; the supervisor's password file has it).
 * The rest (user=, files, unknown parameters) the definition's own checks say.
 */
export function conninfoProblem(conninfo: string): string | null {
  return /(^|\s)(ssl)?password\s*=|:\/\/[^/@:]*:[^/@]*@|[?&](ssl)?password=/i.test(conninfo)
    ? "has a password: Clockwork keeps none in a definition; remove it, and put it in the supervisor's password file (docs/sql-steps.md)"
    : null;
}

/** A connection string as the output may show it: passwords masked. */
export function maskedConninfo(conninfo: string): string {
  return conninfo.replace(/((?:ssl)?password\s*=\s*)\S+/gi, "$1…").replace(/(:\/\/[^/@:]*:)[^/@]*@/, "$1…@");
}
