// clockwork.define_alert_channel / drop_alert_channel: named places alerts are delivered to.
// Administrators only: a channel decides where the supervisors send HTTP requests and mail.
import { issue, validateAlertChannel } from "../core/index.ts";
import { requireAdmin } from "../db/caller.ts";
import { raise, sqlError } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

const CHANNEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export const define_alert_channel = sqlFunction({
  name: "define_alert_channel",
  args: "name text, kind text, target jsonb, description text DEFAULT NULL, now timestamptz DEFAULT now()",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Creates or replaces an alert channel: webhook {url, secret_env, headers, timeout, retry}, email {to, cc, from, subject_prefix, retry} or job {job, retry}; administrators only. Returns true when it was created.",
  body: (name: string, kind: string, target: unknown, description: string | null, now: Date): boolean => {
    const role = requireAdmin("define alert channels");
    if (typeof name !== "string" || !CHANNEL_NAME.test(name)) {
      raise("invalid_alert", "name", `channel name ${JSON.stringify(name)} must be 1–64 letters, digits, _ . - (not starting with . or -)`);
    }
    const result = validateAlertChannel(kind, target);
    if (!result.ok) throw sqlError(result.errors);
    let stored = target as Record<string, unknown>;
    if (result.channel.kind === "job") {
      // Job names belong to their owners: the job is found as the administrator names it
      // (name, or owner/name; not_found or ambiguous_job otherwise) and kept as owner/name.
      const job = execute(SQL.jobRefForCaller, [result.channel.job.job])[0] as { owner: string; name: string };
      stored = { ...stored, job: `${job.owner}/${job.name}` };
    }
    const row = execute(SQL.upsertAlertChannel, [name, kind, JSON.stringify(stored), description, role, new Date(instantOf(now))])[0] as { created: boolean };
    return row.created;
  },
});

export const drop_alert_channel = sqlFunction({
  name: "drop_alert_channel",
  args: "name text",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Drops an alert channel that no job and no default uses any more (its delivery history stays); administrators only.",
  body: (name: string): boolean => {
    requireAdmin("drop alert channels");
    const users = (execute(SQL.jobsUsingChannel, [name]) as { name: string }[]).map((r) => r.name);
    const defaults = (execute(SQL.alertDefaults)[0] as { settings: { to?: unknown } }).settings;
    const inDefaults = typeof defaults === "object" && defaults !== null && ([] as unknown[]).concat(defaults.to ?? []).includes(name);
    if (users.length > 0 || inDefaults) {
      throw sqlError([issue("invalid_state", "name", `alert channel "${name}" is in use by ${[
        ...(inDefaults ? ["the alert defaults"] : []), ...users.map((u) => `job "${u}"`)].join(", ")}`)]);
    }
    return (execute(SQL.deleteAlertChannel, [name]) as number) > 0;
  },
});
