// Job definitions in the database: validation with what the database knows, storage of
// versions and schedules, and a per-session cache of parsed definitions.
import {
  describeSchedule,
  issue,
  neverFires,
  nextFireTime,
  validateJobDefinition,
  type JobDefinition,
  type Schedule,
  type ValidationIssue,
} from "../core/index.ts";
import { refreshAlertRules } from "./alerts.ts";
import { DATABASE_BUILTINS, KNOWN_BUILTINS } from "./builtins.ts";
import { retentionColumn } from "./history.ts";
import { callerRights } from "./caller.ts";
import { raise, sqlError } from "./raise.ts";
import { secretsUsableBy } from "./secrets.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";
import { isKnownTimeZone, postgresTimeZoneRules } from "./timezone.ts";
import { canonicalJson, isoOrNull } from "./values.ts";

export { DATABASE_BUILTINS };

interface CalendarRow {
  name: string;
  dates: string[];
}

/** Holiday lists by name, for schedules that exclude calendars (read once per call). */
export function calendarDates(): Record<string, string[]> {
  const rows = execute(SQL.calendars) as CalendarRow[];
  return Object.fromEntries(rows.map((r) => [r.name, r.dates]));
}

/** Validates a definition as the calling role, with the zones, databases, connections and calendars it may use. */
export function validateForCaller(input: unknown, calendars: Record<string, string[]>): { job: JobDefinition; role: string } {
  const rights = callerRights();
  const connections = (execute(SQL.connectionsUsableBy, [rights.role]) as { name: string }[]).map((r) => r.name);
  const usableCalendars = (execute(SQL.calendarsUsableBy, [rights.role]) as { name: string }[]).map((r) => r.name);
  const groups = (execute(SQL.groupsUsableBy, [rights.role]) as { name: string }[]).map((r) => r.name);
  const databases = (execute(SQL.databaseNames) as { name: string }[]).map((r) => r.name);
  const alertChannels = (execute(SQL.alertChannelNames) as { name: string }[]).map((r) => r.name);
  const result = validateJobDefinition(input, {
    isValidTimeZone: isKnownTimeZone,
    connections,
    databases,
    calendars: usableCalendars.filter((name) => name in calendars),
    groups,
    allowShellSteps: rights.may_define_shell,
    allowNetworkBuiltins: rights.may_use_network,
    builtins: KNOWN_BUILTINS,
    definer: { role: rights.role, superuser: rights.superuser },
    alertChannels,
    mayUseSecret: secretsUsableBy(rights.role),
  });
  if (!result.ok) throw sqlError(result.errors);
  return { job: result.job, role: rights.role };
}

// Parsed definitions by "job_id/version": a version never changes once stored.
const parsed = new Map<string, JobDefinition>();

/** The parsed definition a run follows (validated when stored, so only parsed here). */
export function jobVersion(jobId: string, version: number): JobDefinition {
  const read = readJobVersion(jobId, version);
  if (!read.ok) throw sqlError(read.errors);
  return read.job;
}

/**
 * A stored version parsed, or why this version of Clockwork cannot read it (a definition
 * stored by an older one): the one failure a caller may choose to survive. Anything else
 * (a missing version, an error of the database) is raised.
 */
export function readJobVersion(jobId: string, version: number): { ok: true; job: JobDefinition } | { ok: false; errors: ValidationIssue[] } {
  const key = `${jobId}/${version}`;
  let job = parsed.get(key);
  if (job === undefined) {
    const row = execute(SQL.jobVersion, [jobId, version])[0] as { definition: unknown } | undefined;
    if (row === undefined) raise("not_found", "", `job ${jobId} has no version ${version}`);
    // Accepted when it was stored: read back whatever bounds this version puts on new ones.
    const result = validateJobDefinition(row.definition, { allowShellSteps: true, allowNetworkBuiltins: true, builtins: KNOWN_BUILTINS, bounds: false });
    if (!result.ok) return { ok: false, errors: result.errors };
    job = result.job;
    parsed.set(key, job);
  }
  return { ok: true, job };
}

/**
 * The first slot of a schedule that (re)starts at `nowMs` (defined, changed or enabled),
 * strictly after `afterMs`. @reboot waits for a scheduler start (register_worker);
 * @after counts its first delay from `nowMs`, as if a run had just ended.
 */
export function firstSlotFrom(schedule: Schedule, afterMs: number, nowMs: number, calendars: Record<string, string[]>): number | null {
  if (schedule.kind === "reboot") return null;
  return nextFireTime(schedule, afterMs, postgresTimeZoneRules, { anchorMs: nowMs, lastRunEndMs: nowMs, calendars });
}

interface StoredSchedule {
  id: string;
  position: number;
  spec: unknown;
  next_fire_at: Date | null;
  last_slot_at: Date | null;
}

/** Where a definition came from: its text as written, and the set of files that applies it. */
export interface DefinitionOrigin {
  /** YAML or JSON text as its author wrote it (kept for export), or null for jsonb. */
  source: string | null;
  /** The set of definition files (clockwork apply --set), or null when defined by SQL. */
  appliedFrom: string | null;
}

const BY_SQL: DefinitionOrigin = { source: null, appliedFrom: null };

/**
 * Creates or replaces a job. Replacing keeps the job's id, history and, for schedules
 * whose spec did not change, their next slot; a changed schedule starts after the later
 * of now and its last handled slot, so no slot fires twice.
 */
export function storeJob(input: unknown, nowMs: number, origin: DefinitionOrigin = BY_SQL): string {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    raise("invalid_definition", "", "a job definition must be an object");
  }
  const calendars = calendarDates();
  const { job, role } = validateForCaller(input, calendars);
  // A schedule that can never fire is a mistake in its text: refused now, not a job that
  // silently never runs (the search is bounded, see neverFires).
  const never = job.schedules.flatMap((schedule, i) => {
    const why = neverFires(schedule, nowMs, postgresTimeZoneRules, { calendars, anchorMs: nowMs });
    return why === null ? [] : [issue("invalid_schedule", `schedules[${i}]`, why)];
  });
  if (never.length > 0) throw sqlError(never);
  const definition = input as { schedules?: unknown };
  const now = new Date(nowMs);

  // A job name belongs to its owner: defining "nightly" makes or replaces the caller's own
  // "nightly", whatever other roles call their jobs.
  const existing = execute(SQL.jobByNameForUpdate, [job.name, role])[0] as
    | { id: string; owner: string; version: number; definition: unknown; enabled: boolean }
    | undefined;
  let jobId: string;
  let version: number;
  let enabled = job.enabled;
  if (existing === undefined) {
    jobId = (execute(SQL.insertJob, [job.name, role, JSON.stringify(input), now])[0] as { id: string }).id;
    version = 1;
  } else {
    if (canonicalJson(existing.definition) === canonicalJson(input)) {
      // Unchanged: no new version. Files that apply it again keep their latest text (a
      // comment may have changed) and take the job over if it was made by SQL.
      if (origin.appliedFrom !== null) {
        const current = execute(SQL.currentJobVersionSource, [existing.id, existing.version])[0] as { source: string | null; applied_from: string | null };
        if (current.source !== origin.source || current.applied_from !== origin.appliedFrom) {
          execute(SQL.restampJobVersion, [existing.id, existing.version, origin.source, origin.appliedFrom]);
        }
        execute(SQL.setJobManagedBy, [existing.id, origin.appliedFrom]);
      }
      return existing.id;
    }
    jobId = existing.id;
    version = (execute(SQL.updateJob, [jobId, JSON.stringify(input), now])[0] as { version: number }).version;
  }
  execute(SQL.insertJobVersion, [jobId, version, JSON.stringify(input), now, role, origin.source, origin.appliedFrom]);
  execute(SQL.setJobRetention, [jobId, retentionColumn(job.policies.retention)]);
  if (origin.appliedFrom !== null) execute(SQL.setJobManagedBy, [jobId, origin.appliedFrom]);
  execute(SQL.setJobEnabled, [jobId, enabled, now]);

  // Schedules by position; the raw spec is kept so an unchanged one keeps its next slot.
  const rawSchedules = definition.schedules === undefined || definition.schedules === null
    ? []
    : Array.isArray(definition.schedules) ? definition.schedules : [definition.schedules];
  const stored = execute(SQL.schedulesOfJob, [jobId]) as StoredSchedule[];
  const rows = job.schedules.map((schedule, position) => {
    const spec = rawSchedules[position];
    const old = stored.find((s) => s.position === position);
    const unchanged = old !== undefined && canonicalJson(old.spec) === canonicalJson(spec);
    let next: number | null;
    if (!enabled) next = null;
    else if (unchanged && old.next_fire_at !== null) next = old.next_fire_at.getTime();
    else next = firstSlotFrom(schedule, Math.max(nowMs, old?.last_slot_at?.getTime() ?? -Infinity), nowMs, calendars);
    return {
      position,
      kind: schedule.kind,
      spec,
      description: describeSchedule(schedule),
      time_zone: schedule.timeZone,
      next_fire_at: isoOrNull(next),
    };
  });
  if (rows.length > 0) execute(SQL.upsertSchedules, [jobId, JSON.stringify(rows)]);
  execute(SQL.deleteSchedulesFrom, [jobId, rows.length]);
  refreshAlertRules([jobId], nowMs);
  execute(SQL.notifyWakeup, ["defined"]);
  return jobId;
}
