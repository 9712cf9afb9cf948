// clockwork.check_alerts: the sweep for conditions only the passing of time reveals (a slot
// late to start, a run running long, no success within a dead-man period, a supervisor gone
// silent). Supervisors call it every few seconds; the database makes it one sweep per
// interval however many call (db/alerts.ts).
import { recordSchedulerStart, sweepAlerts } from "../db/alerts.ts";
import { raise } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf } from "../db/values.ts";

export const check_alerts = sqlFunction({
  name: "check_alerts",
  args: "now timestamptz DEFAULT now(), force boolean DEFAULT false, worker text DEFAULT NULL",
  returns: "integer",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "Checks the time-based alert conditions (missed, long_running, dead_man, worker_lost) at most once every 5 s across all supervisors (force: now); returns how many alerts opened, NULL when a recent sweep made this one unnecessary. With worker, also marks that supervisor alive (its heartbeat).",
  body: (now: Date, force: boolean | null, worker: string | null): number | null => {
    // Supervisors call this every few seconds, busy or idle: it is their sign of life, so an
    // idle supervisor (which heartbeats only while it holds leases) is not taken for lost.
    if (worker !== null && (execute(SQL.workerByName, [worker, now]) as unknown[]).length === 0) {
      raise("unknown_worker", "worker", `unknown worker "${worker}": call clockwork.register_worker first`);
    }
    return sweepAlerts(instantOf(now), force === true);
  },
});

// No front and no grant: only _register_worker (extension/sql/40_workers.sql) calls it,
// once it has decided that a registration is a scheduler start, and being SECURITY DEFINER
// it runs as the extension owner, who needs no grant. This function checks nothing: it
// records a scheduler_down alert (and sends its notifications) from the times it is given.
// Granted to clockwork_supervisor, as it was, any supervisor's role could report an outage
// that never happened; a job owner could not (no EXECUTE), and now neither can. A front
// (db/sql-function.ts) is for errors people read; this one's reach only the supervisor's
// code, through start_worker, which has none either.
export const scheduler_started = sqlFunction({
  name: "_scheduler_started",
  entry: "scheduler_started",
  args: "worker text, last_alive_at timestamptz, now timestamptz",
  returns: "boolean",
  volatility: "volatile",
  security: "definer",
  grant: "none",
  comment: "Called by register_worker when a worker starts while none other is alive: records a scheduler_down event when none was alive for longer than a lease.",
  nullableInstants: ["last_alive_at"],
  body: (_worker: string, lastAliveAt: Date | null, now: Date): boolean => recordSchedulerStart(lastAliveAt, instantOf(now)),
});
