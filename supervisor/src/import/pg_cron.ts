// pg_cron (github.com/citusdata/pg_cron): the jobs in cron.job, read with the real schema.
//   schedule     cron (5 fields, @macros, `$` = last day of month, @restart = @reboot), or
//                'N seconds' → @every Ns;
//                read in pg_cron's cron.timezone (GMT unless set), as pg_cron does
//   command      one SQL step "main", run in the job's database as its username (the job's
//                owner here: it is defined with SET ROLE username)
//   database     the step's database when it is not the Clockwork database (a step on
//                another database of the same server, run as the job's owner, at least once)
//   nodename/port  localhost (pg_cron's default): pg_cron's own server, which, when --from is
//                another server than Clockwork's, is the step's conninfo (--from's host and
//                port); another server is the step's conninfo (host, port, dbname); both
//                run as the job's owner, at least once
//   active       enabled;  jobname  the job's name (pg_cron-<jobid> when it has none)
// Cut-over: cron.alter_job(jobid, active := false) for each imported job.
import type pg from "pg";
import { isUtc, jobName, MINUTE_BY_MINUTE_DST, nonTransactionalNote, sourceServerStep, type ImportResult, type ImportTarget, type ImportedJob, type RefusedJob } from "./common.ts";

interface CronJobRow {
  jobid: string;
  schedule: string;
  command: string;
  nodename: string;
  nodeport: number;
  database: string;
  username: string;
  active: boolean;
  jobname: string | null;
}

/** pg_cron's schedule in Clockwork's syntax, or why it cannot be. */
export function pgCronSchedule(schedule: string): { ok: true; schedule: string } | { ok: false; reason: string } {
  const s = schedule.trim();
  const seconds = /^(\d+)\s*(s|sec|second|seconds)$/i.exec(s);
  if (seconds) return { ok: true, schedule: `@every ${Number(seconds[1])}s` };
  // pg_cron (after Vixie cron) reads @restart as @reboot.
  if (s.startsWith("@")) return { ok: true, schedule: s === "@restart" ? "@reboot" : s };
  const fields = s.split(/\s+/);
  if (fields.length !== 5) return { ok: false, reason: `schedule ${JSON.stringify(s)} has ${fields.length} fields, pg_cron takes 5` };
  // pg_cron writes the last day of the month as `$`; Clockwork as L.
  fields[2] = fields[2]!.replace(/\$/g, "L");
  return { ok: true, schedule: fields.join(" ") };
}

export async function importPgCron(source: pg.ClientBase, target: ImportTarget): Promise<ImportResult> {
  const has = await source.query("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron'");
  if (has.rowCount === 0) throw new Error("pg_cron is not installed in the source database (cron.job is read where CREATE EXTENSION pg_cron ran)");
  const tz = (await source.query("SELECT coalesce(current_setting('cron.timezone', true), 'GMT') AS tz")).rows[0].tz as string;
  const rows = (await source.query(
    `SELECT jobid::text, schedule, command, nodename, nodeport, database, username, active, jobname FROM cron.job AS j ORDER BY j.jobid`,
  )).rows as CronJobRow[];
  const jobs: ImportedJob[] = [];
  const refused: RefusedJob[] = [];
  const imported: string[] = [];
  for (const r of rows) {
    const origin = `pg_cron job ${r.jobid}${r.jobname ? ` (${r.jobname})` : ""}`;
    const schedule = pgCronSchedule(r.schedule);
    if (!schedule.ok) { refused.push({ origin, reason: schedule.reason }); continue; }
    const notes: string[] = [];
    const step: Record<string, unknown> = { sql: r.command };
    const elsewhere = sourceServerStep(target, r.database);
    if (!["localhost", "127.0.0.1", "::1", ""].includes(r.nodename)) {
      step.conninfo = `host=${r.nodename} port=${r.nodeport} dbname=${r.database}`;
      notes.push(`it runs on ${r.nodename}:${r.nodeport}: the step connects there as its owner, and runs at least once (docs/sql-steps.md)`);
    } else if (elsewhere !== null) {
      // pg_cron's localhost is the server pg_cron runs on: the source, not Clockwork's.
      step.conninfo = elsewhere.conninfo;
      notes.push(`it runs on pg_cron's own server: ${elsewhere.note}`);
    } else if (r.database !== target.database) {
      step.database = r.database;
      notes.push(`it runs in database "${r.database}": the step does too, as its owner, and runs at least once (docs/sql-steps.md)`);
    }
    if (/^\d+\s*s/i.test(r.schedule.trim())) notes.push(`pg_cron's "${r.schedule}" runs every so many seconds from when pg_cron started; @every counts from when the job is imported (its anchor), so the seconds of the slots may differ`);
    if (r.schedule.includes("$")) notes.push("pg_cron's $ (last day of the month) is written L");
    if (schedule.schedule === "@reboot") notes.push(`pg_cron runs "${r.schedule.trim()}" when PostgreSQL starts; Clockwork runs @reboot when the scheduler starts (a supervisor starting while no other is alive), not when PostgreSQL restarts under a running supervisor (docs/faults.md)`);
    // A cron schedule in a zone with summer time fires as pg_cron's minute-by-minute check does.
    const cronInZone = !isUtc(tz) && !/^@(every|reboot)\b/.test(schedule.schedule);
    if (cronInZone) notes.push(`pg_cron checks each minute's wall time in ${tz}: a time skipped by the change to summer time does not fire, one repeated by the change back fires twice (dst: gap skip, overlap twice)`);
    const tx = nonTransactionalNote(r.command);
    if (tx) notes.push(tx);
    const definition: Record<string, unknown> = {
      name: jobName(r.jobname ?? "", `pg_cron-${r.jobid}`),
      description: `imported from ${origin}`,
      ...(r.active ? {} : { enabled: false }),
      time_zone: tz === "GMT" ? "UTC" : tz,
      schedules: [cronInZone ? { cron: schedule.schedule, dst: MINUTE_BY_MINUTE_DST } : schedule.schedule],
      steps: { main: step },
    };
    jobs.push({ definition, origin, notes, owner: r.username });
    imported.push(r.jobid);
  }
  return {
    source: "pg_cron",
    jobs,
    refused,
    notes: [`schedules are read in pg_cron's time zone (cron.timezone = ${tz})`],
    switchOff: async (client) => {
      const c = client ?? source;
      for (const id of imported) await c.query("SELECT cron.alter_job($1::bigint, active := false)", [id]);
      return `${imported.length} pg_cron job${imported.length === 1 ? "" : "s"} set inactive (cron.alter_job … active := false)`;
    },
  };
}
