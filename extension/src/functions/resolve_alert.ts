// clockwork.resolve_alert: a person closes an alert whose condition will not clear by itself
// (a worker decommissioned, a job retired). Delivered like any resolution.
import { issue } from "../core/index.ts";
import { applyAlertDecision, alertDefaults, rulesOfJobs } from "../db/alerts.ts";
import { callerRights } from "../db/caller.ts";
import { sqlError } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

export const resolve_alert = sqlFunction({
  name: "resolve_alert",
  args: "alert bigint, note text, now timestamptz DEFAULT now()",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Resolves an open or acknowledged alert by hand, with a note (its job's owner or an administrator); returns false when it was already resolved.",
  body: (alert: string | number | bigint, note: string | null, now: Date): boolean => {
    // _alert_for_caller raises not_found for an alert the caller may not manage.
    const found = execute(SQL.alertForCaller, [String(alert)])[0] as { id: string; job_id: string | null; condition: string; key: string; state: string };
    if (note === null || note.trim() === "") throw sqlError([issue("invalid_argument", "note", "resolving an alert by hand needs a note saying why")]);
    if (found.state === "resolved") return false;
    const channels = found.job_id === null ? alertDefaults()?.to ?? [] : rulesOfJobs([found.job_id]).get(found.job_id)?.to ?? [];
    applyAlertDecision(found.job_id, {
      open: [], resolve: [{ condition: found.condition as never, key: found.key, reason: `resolved by ${callerRights().role}: ${note}` }],
    }, channels, instantOf(now));
    return true;
  },
});
