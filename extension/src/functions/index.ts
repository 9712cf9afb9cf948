// Every SQL-callable function implemented in TypeScript. build/bundle.ts writes one SQL
// stub per entry; src/bundle.ts exposes the bodies to those stubs.
import type { SqlFunction } from "../db/sql-function.ts";
import { abandon_run } from "./abandon_run.ts";
import { cancel_run } from "./cancel_run.ts";
import { complete_step, complete_step_by_id } from "./complete_step.ts";
import { alter_connection, define_connection, drop_connection, grant_connection, revoke_connection } from "./connections.ts";
import { apply_job, define_job, define_job_yaml } from "./define_job.ts";
import { disable_job } from "./disable_job.ts";
import { drop_job } from "./drop_job.ts";
import { enable_job } from "./enable_job.ts";
import { explain } from "./explain.ts";
import { next_runs } from "./next_runs.ts";
import { prune_history } from "./prune_history.ts";
import { replan_calendar } from "./replan_calendar.ts";
import { retry_run } from "./retry_run.ts";
import { run_now } from "./run_now.ts";
import { schedule, schedule_shell } from "./schedule.ts";
import { tick, tick_by_id } from "./tick.ts";
import { check_alerts, scheduler_started } from "./check_alerts.ts";
import { claim_deliveries, complete_delivery } from "./claim_deliveries.ts";
import { define_alert_channel, drop_alert_channel } from "./define_alert_channel.ts";
import { resolve_alert } from "./resolve_alert.ts";
import { set_alert_defaults } from "./set_alert_defaults.ts";
import { version } from "./version.ts";

export const sqlFunctions: readonly SqlFunction[] = [
  // defining jobs
  define_job, define_job_yaml, apply_job, schedule, schedule_shell, enable_job, disable_job, drop_job,
  // where SQL steps run, and calendars
  define_connection, alter_connection, drop_connection, grant_connection, revoke_connection, replan_calendar,
  // running and reading
  run_now, retry_run, cancel_run, next_runs, explain, version,
  // supervisors
  tick, tick_by_id, complete_step, complete_step_by_id, abandon_run, prune_history,
  // alerts
  set_alert_defaults, define_alert_channel, drop_alert_channel, resolve_alert,
  check_alerts, scheduler_started, claim_deliveries, complete_delivery,
];
