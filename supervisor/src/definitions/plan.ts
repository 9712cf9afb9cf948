// The plan of `clockwork apply` and the report of `clockwork diff`: the jobs of a set of
// files against the jobs in the database, as create / change / unchanged / delete, with
// drift (a change made in the database outside the files) told apart from a change in
// the files. Reading and writing go through the SQL API (job_definitions, apply_job,
// enable_job, disable_job, drop_job), in one transaction.
import type pg from "pg";
import { canonicalJson } from "../../../extension/src/db/values.ts";
import type { DesiredJob } from "./jobs.ts";
import { lineDiff, renderDefinition } from "./render.ts";

export interface DatabaseJob {
  job: string;
  owner: string;
  enabled: boolean;
  version: number;
  managed_by: string | null;
  definition: Record<string, unknown>;
  source: string | null;
  applied_from: string | null;
  defined_at: Date;
  defined_by: string;
}

export type Action = "create" | "change" | "unchanged" | "delete";

export interface PlanEntry {
  job: string;
  action: Action;
  desired?: DesiredJob;
  current?: DatabaseJob;
  /** The database was changed outside the files (by SQL) since they were applied. */
  drift: string | null;
  /** A job made by SQL (or by no set) that the files take over. */
  adopt: boolean;
  /** Only the text (comments, layout) or the managing set changes: no new version. */
  restamp: boolean;
  /** The enabled flag to set when only it differs from the files (disable_job by hand). */
  setEnabled: boolean | null;
  /** Line diff of the definitions, database → files. */
  diff: string[];
}

export interface Plan {
  set: string;
  entries: PlanEntry[];
  /** Jobs the files name that another set manages: refused (use --set). */
  conflicts: Array<{ job: string; managedBy: string; desired: DesiredJob }>;
}

const READ_JOBS = `
  SELECT job, owner, enabled, version, managed_by, definition, source, applied_from, defined_at, defined_by
    FROM clockwork.job_definitions
   ORDER BY job`;

export async function readDatabaseJobs(client: pg.ClientBase): Promise<DatabaseJob[]> {
  return (await client.query(READ_JOBS)).rows as DatabaseJob[];
}

/** Compares the desired jobs with the database's. */
export function makePlan(set: string, desired: readonly DesiredJob[], current: readonly DatabaseJob[], prune: boolean): Plan {
  const byName = new Map(current.map((c) => [c.job, c]));
  const entries: PlanEntry[] = [];
  const conflicts: Plan["conflicts"] = [];
  for (const d of desired) {
    const c = byName.get(d.name);
    if (c === undefined) {
      entries.push({ job: d.name, action: "create", desired: d, drift: null, adopt: false, restamp: false, setEnabled: null, diff: lineDiff("", renderDefinition(d.definition)) });
      continue;
    }
    if (c.managed_by !== null && c.managed_by !== set) {
      conflicts.push({ job: d.name, managedBy: c.managed_by, desired: d });
      continue;
    }
    const same = canonicalJson(c.definition) === canonicalJson(d.definition);
    const wantEnabled = d.definition.enabled !== false;
    const adopt = c.managed_by === null;
    let drift: string | null = null;
    if (!adopt && c.applied_from === null) drift = `changed in the database by ${c.defined_by} at ${c.defined_at.toISOString()} (version ${c.version}), not by these files`;
    if (c.enabled !== wantEnabled) drift = `${c.enabled ? "enabled" : "disabled"} in the database${drift ? `; ${drift}` : ""}`;
    const diff = same ? [] : lineDiff(renderDefinition(c.definition), renderDefinition(d.definition));
    if (same) {
      const restamp = c.source !== d.source || c.managed_by !== set || c.applied_from !== set;
      entries.push({
        job: d.name,
        action: c.enabled !== wantEnabled ? "change" : "unchanged",
        desired: d, current: c, drift: c.enabled !== wantEnabled ? drift : null, adopt, restamp,
        setEnabled: c.enabled !== wantEnabled ? wantEnabled : null, diff,
      });
    } else {
      entries.push({ job: d.name, action: "change", desired: d, current: c, drift, adopt, restamp: false, setEnabled: null, diff });
    }
  }
  const names = new Set(desired.map((d) => d.name));
  for (const c of current) {
    if (c.managed_by === set && !names.has(c.job)) {
      entries.push({ job: c.job, action: "delete", current: c, drift: prune ? null : "not in the files (apply --prune deletes it)", adopt: false, restamp: false, setEnabled: null, diff: [] });
    }
  }
  return { set, entries, conflicts };
}

/** Whether applying the plan writes anything. */
export function planChanges(plan: Plan, prune: boolean): boolean {
  return plan.entries.some((e) => e.action === "create" || e.action === "change" || (e.action === "delete" && prune) || (e.action === "unchanged" && e.restamp));
}

/**
 * Applies a plan in the caller's transaction: definitions through apply_job (the database
 * validates each again, with the role's rights, connections and calendars), the enabled
 * flag through enable_job / disable_job, deletions through drop_job.
 */
export async function applyPlan(client: pg.ClientBase, plan: Plan, prune: boolean, onEntry: (e: PlanEntry) => void = () => {}, ownerOf: (job: string) => string | undefined = () => undefined): Promise<void> {
  for (const e of plan.entries) {
    onEntry(e);
    if (e.action === "delete") {
      if (prune) await client.query("SELECT clockwork.drop_job($1)", [e.job]);
      continue;
    }
    const d = e.desired!;
    if (e.action === "create" || (e.action === "change" && e.setEnabled === null) || e.restamp) {
      // An imported job keeps its owner in the source: defined as that role (SET LOCAL ROLE).
      const owner = ownerOf(e.job);
      if (owner !== undefined) await client.query("SELECT set_config('role', $1, true)", [owner]);
      await client.query("SELECT clockwork.apply_job($1::jsonb, $2::text, $3::text)", [JSON.stringify(d.definition), d.source, plan.set]);
      if (owner !== undefined) await client.query("SELECT set_config('role', 'none', true)");
    }
    if (e.setEnabled === true) await client.query("SELECT clockwork.enable_job($1)", [e.job]);
    if (e.setEnabled === false) await client.query("SELECT clockwork.disable_job($1)", [e.job]);
  }
}
