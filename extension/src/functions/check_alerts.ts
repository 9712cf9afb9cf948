// clockwork.check_alerts: the sweep for conditions only the passing of time reveals (a slot
// late to start, a run running long, no success within a dead-man period, a supervisor gone
// silent). Supervisors call it every few seconds; the database makes it one sweep per
// interval however many call (db/alerts.ts).
import { recordSchedulerStart, sweepAlerts } from "../db/alerts.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { instantOf } from "../db/values.ts";

export const check_alerts = sqlFunction({
  name: "check_alerts",
  args: "now timestamptz DEFAULT now(), force boolean DEFAULT false",
  returns: "integer",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "Checks the time-based alert conditions (missed, long_running, dead_man, worker_lost) at most once every 5 s across all supervisors (force: now); returns how many alerts opened, NULL when a recent sweep made this one unnecessary.",
  body: (now: Date, force: boolean | null): number | null => sweepAlerts(instantOf(now), force === true),
});

export const scheduler_started = sqlFunction({
  name: "_scheduler_started",
  entry: "scheduler_started",
  args: "worker text, last_alive_at timestamptz, now timestamptz",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment: "Called by register_worker when a worker starts while none other is alive: records a scheduler_down event when none was alive for longer than a lease.",
  body: (_worker: string, lastAliveAt: Date | null, now: Date): boolean => recordSchedulerStart(lastAliveAt, instantOf(now)),
});
