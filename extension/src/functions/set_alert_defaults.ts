// clockwork.set_alert_defaults: the alert conditions every job is watched for unless its own
// `alerts` section says otherwise. Administrators only (superuser or clockwork_admin): the
// defaults decide where every job's alerts go.
import { validateAlertSettings } from "../core/index.ts";
import { refreshAlertRules } from "../db/alerts.ts";
import { requireAdmin } from "../db/caller.ts";
import { sqlError } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

export const set_alert_defaults = sqlFunction({
  name: "set_alert_defaults",
  args: "settings jsonb, now timestamptz DEFAULT now()",
  returns: "integer",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Sets the alert conditions every job is watched for unless its alerts section overrides them (same format: missed, long_running, failures, dead_man, recovery, to); administrators only. Returns how many jobs are now watched.",
  body: (settings: unknown, now: Date): number => {
    const role = requireAdmin("set alert defaults");
    const channels = (execute(SQL.alertChannelNames) as { name: string }[]).map((r) => r.name);
    const result = validateAlertSettings(settings ?? {}, "settings", channels);
    if (!result.ok) throw sqlError(result.errors);
    const nowMs = instantOf(now);
    execute(SQL.setAlertDefaults, [JSON.stringify(settings ?? {}), now, role]);
    refreshAlertRules(null, nowMs);
    return Number((plv8.execute("SELECT count(*)::integer AS n FROM clockwork.alert_rules")[0] as { n: number }).n);
  },
});
