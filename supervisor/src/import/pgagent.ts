// pgAgent (github.com/pgadmin-org/pgagent): jobs from pgagent.pga_job, pga_jobstep,
// pga_schedule and pga_exception, read with the real schema (Debian's pgagent package).
//   job             enabled flag; jobhostagent (pinning to one host's agent) → the label
//                   host:<name>, which the supervisor on that host carries (--labels);
//                   the job class (pga_jobclass) → a tag
//   steps           in pgAgent's order, by name (jstname) in the database's collation,
//                   each after the one before; kind s → sql, b → shell (pgAgent runs a batch step with /bin/sh,
//                   Clockwork with bash; one whose #! line names another interpreter or
//                   options is refused); on error f → fail, s → succeed, i → continue;
//                   a disabled step is kept and never runs (when: false); jstdbname other
//                   than the Clockwork database → the step's database (a conninfo to
//                   pgAgent's server when --from is not the Clockwork server), jstconnstr → its
//                   conninfo (refused with a password): at least once, as the job's owner
//   schedules       each enabled pga_schedule: its minute/hour/weekday/monthday/month sets
//                   (the pgagent schedule kind, pga_next_schedule's semantics), start, end,
//                   and its exceptions by date, time or both; read in the server's zone
//   "every minute"  pgAgent fires a schedule whose sets are all empty every two minutes
//                   (its search skips the minute it starts on); it is imported as the every
//                   minute that was meant, and the output says so
// Cut-over: pga_job.jobenabled = false for each imported job.
import type pg from "pg";
import { conninfoProblem, jobName, maskedConninfo, nonTransactionalNote, sourceServerStep, stepName, type ImportResult, type ImportTarget, type ImportedJob, type RefusedJob } from "./common.ts";

interface JobRow { jobid: number; jobname: string; jobdesc: string; jobhostagent: string; jobenabled: boolean; jclname: string | null }
interface StepRow { jstid: number; jstjobid: number; jstname: string; jstdesc: string; jstenabled: boolean; jstkind: "s" | "b"; jstcode: string; jstconnstr: string; jstdbname: string; jstonerror: "f" | "s" | "i" }
interface ScheduleRow {
  jscid: number; jscjobid: number; jscname: string; jscenabled: boolean; jscstart: string; jscend: string | null;
  jscminutes: boolean[]; jschours: boolean[]; jscweekdays: boolean[]; jscmonthdays: boolean[]; jscmonths: boolean[];
}
interface ExceptionRow { jexscid: number; jexdate: string | null; jextime: string | null }

const ON_ERROR = { f: "fail", s: "succeed", i: "continue" } as const;

/**
 * Why a batch step cannot be a shell step as it is: pgAgent writes it to a file and
 * executes that, so a #! line chooses the interpreter and its options (without one,
 * /bin/sh runs it); Clockwork runs a shell step's text with bash -c, which reads the #!
 * line as a comment. Plain sh, bash or dash (also through env) runs the same under bash.
 */
export function shebangProblem(code: string): string | null {
  const first = code.split(/\r?\n/, 1)[0]!;
  if (!first.startsWith("#!")) return null;
  const words = first.slice(2).trim().split(/\s+/);
  const [interpreter, ...options] = /(^|\/)env$/.test(words[0] ?? "") ? words.slice(1) : words;
  if (/(^|\/)(sh|bash|dash)$/.test(interpreter ?? "") && options.length === 0) return null;
  return `starts with "${first}": pgAgent executes a batch step as a file, so that line chooses its interpreter and options; a shell step's text runs with bash -c, which reads it as a comment. Put the script in a file on the supervisor's host and run it from a program step ([path])`;
}

export async function importPgAgent(source: pg.ClientBase, target: ImportTarget): Promise<ImportResult> {
  const has = await source.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgagent'");
  if (has.rowCount === 0) throw new Error("pgAgent's schema (pgagent) is not in the source database");
  const tz = (await source.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz as string;
  const jobsRows = (await source.query(`
    SELECT j.jobid, j.jobname, j.jobdesc, j.jobhostagent, j.jobenabled, c.jclname
      FROM pgagent.pga_job AS j LEFT JOIN pgagent.pga_jobclass AS c ON c.jclid = j.jobjclid
     ORDER BY j.jobid`)).rows as JobRow[];
  const stepRows = (await source.query(`
    SELECT jstid, jstjobid, jstname, jstdesc, jstenabled, jstkind, jstcode, jstconnstr, jstdbname::text, jstonerror
      FROM pgagent.pga_jobstep ORDER BY jstjobid, jstname, jstid`)).rows as StepRow[];
  const scheduleRows = (await source.query(`
    SELECT jscid, jscjobid, jscname, jscenabled,
           to_char(jscstart, 'YYYY-MM-DD"T"HH24:MI:SS') AS jscstart, to_char(jscend, 'YYYY-MM-DD"T"HH24:MI:SS') AS jscend,
           jscminutes, jschours, jscweekdays, jscmonthdays, jscmonths
      FROM pgagent.pga_schedule ORDER BY jscjobid, jscid`)).rows as ScheduleRow[];
  const exceptionRows = (await source.query(`
    SELECT jexscid, to_char(jexdate, 'YYYY-MM-DD') AS jexdate, to_char(jextime, 'HH24:MI') AS jextime
      FROM pgagent.pga_exception ORDER BY jexid`)).rows as ExceptionRow[];

  const jobs: ImportedJob[] = [];
  const refused: RefusedJob[] = [];
  const imported: number[] = [];
  for (const j of jobsRows) {
    const origin = `pgAgent job ${j.jobid} (${j.jobname})`;
    const notes: string[] = [];
    const problems: string[] = [];
    // pgAgent runs steps ORDER BY jstname, jstid in the database's collation (en_US puts
    // "analyze" before "Backup"): the query's order, kept as it came.
    const mySteps = stepRows.filter((s) => s.jstjobid === j.jobid);
    if (mySteps.length === 0) problems.push("it has no steps (pgAgent logs such a run as 'no steps to execute')");
    const steps: Record<string, Record<string, unknown>> = {};
    const taken = new Set<string>();
    let previous: string | null = null;
    let previousDisabled = false;
    for (const s of mySteps) {
      const name = stepName(s.jstname, taken, `step-${s.jstid}`);
      const step: Record<string, unknown> = {};
      if (s.jstdesc) step.description = s.jstdesc;
      if (s.jstkind === "s") {
        step.sql = s.jstcode;
        if (s.jstconnstr !== "") {
          const problem = conninfoProblem(s.jstconnstr);
          if (problem !== null) problems.push(`step "${s.jstname}" connects with "${maskedConninfo(s.jstconnstr)}", which ${problem}`);
          step.conninfo = s.jstconnstr;
          notes.push(`step "${s.jstname}" connects with a connection string: as the job's owner, at least once (docs/sql-steps.md)`);
        } else if (sourceServerStep(target, s.jstdbname) !== null) {
          // pgAgent connects to its own server (where its schema is) for jstdbname.
          const elsewhere = sourceServerStep(target, s.jstdbname)!;
          step.conninfo = elsewhere.conninfo;
          notes.push(`step "${s.jstname}" runs on pgAgent's server: ${elsewhere.note}`);
        } else if (s.jstdbname !== target.database) {
          step.database = s.jstdbname;
          notes.push(`step "${s.jstname}" runs in database "${s.jstdbname}": as the job's owner, at least once (docs/sql-steps.md)`);
        }
        const tx = nonTransactionalNote(s.jstcode);
        if (tx) notes.push(`step "${s.jstname}": ${tx}`);
      } else {
        const problem = shebangProblem(s.jstcode);
        if (problem !== null) problems.push(`step "${s.jstname}" ${problem}`);
        step.shell = s.jstcode.replace(/\r\n/g, "\n");
        notes.push(`step "${s.jstname}": pgAgent runs a batch step as a /bin/sh script; Clockwork runs it with bash`);
      }
      if (previous !== null) step.depends = [previous];
      if (!s.jstenabled) {
        step.when = "false";
        notes.push(`step "${s.jstname}" is disabled in pgAgent: kept, and never runs (when: false)`);
      } else if (previousDisabled) step.when = "true"; // runs although the step before was skipped
      if (s.jstonerror !== "f") step.on_error = ON_ERROR[s.jstonerror];
      if (name !== s.jstname) notes.push(`step "${s.jstname}" is named "${name}" (step names are letters, digits, _ and -)`);
      steps[name] = step;
      previous = name;
      previousDisabled = !s.jstenabled;
    }
    const schedules: Array<Record<string, unknown>> = [];
    for (const sc of scheduleRows.filter((x) => x.jscjobid === j.jobid)) {
      if (!sc.jscenabled) { notes.push(`schedule "${sc.jscname}" is disabled in pgAgent: not imported`); continue; }
      const sets = { minutes: sc.jscminutes, hours: sc.jschours, weekdays: sc.jscweekdays, monthdays: sc.jscmonthdays, months: sc.jscmonths };
      const pgagent: Record<string, boolean[]> = {};
      for (const [k, v] of Object.entries(sets)) if (v.some(Boolean)) pgagent[k] = v;
      if (!sc.jscminutes.some(Boolean) && !sc.jschours.some(Boolean) && !sc.jscmonthdays.some(Boolean) && !sc.jscmonths.some(Boolean)) {
        notes.push(`schedule "${sc.jscname}" is "every minute": pgAgent fires it every two minutes (its search skips the minute it starts on); imported as every minute, as meant`);
      }
      const exceptions = exceptionRows.filter((e) => e.jexscid === sc.jscid);
      const exclude: Record<string, string[]> = {};
      const add = (k: string, v: string) => (exclude[k] ??= []).push(v);
      for (const e of exceptions) {
        if (e.jexdate !== null && e.jextime !== null) add("datetimes", `${e.jexdate}T${e.jextime}`);
        else if (e.jexdate !== null) add("dates", e.jexdate);
        else if (e.jextime !== null) add("times", e.jextime);
      }
      schedules.push({
        pgagent,
        starts_at: sc.jscstart,
        ...(sc.jscend !== null ? { ends_at: sc.jscend } : {}),
        ...(Object.keys(exclude).length > 0 ? { exclude } : {}),
      });
    }
    if (problems.length > 0) {
      refused.push({ origin, reason: problems.join("; ") });
      continue;
    }
    const definition: Record<string, unknown> = {
      name: jobName(j.jobname, `pgagent-${j.jobid}`),
      description: j.jobdesc !== "" ? j.jobdesc : `imported from ${origin}`,
      ...(j.jclname ? { tags: [j.jclname] } : {}),
      ...(j.jobenabled ? {} : { enabled: false }),
      time_zone: tz,
      ...(schedules.length > 0 ? { schedules } : {}),
      ...(j.jobhostagent !== "" ? { labels: [`host:${j.jobhostagent}`] } : {}),
      steps,
    };
    if (j.jobhostagent !== "") notes.push(`pinned to pgAgent host "${j.jobhostagent}": it runs on a supervisor started with --labels host:${j.jobhostagent}`);
    if (schedules.length === 0) notes.push("it has no enabled schedule: it runs only when started (clockwork run-now)");
    jobs.push({ definition, origin, notes });
    imported.push(j.jobid);
  }
  return {
    source: "pgagent",
    jobs,
    refused,
    notes: [`schedules are read in the source server's time zone (${tz}), as pgAgent's session reads them`],
    switchOff: async (client) => {
      const c = client ?? source;
      await c.query("UPDATE pgagent.pga_job SET jobenabled = false WHERE jobid = ANY ($1::int[])", [imported]);
      return `${imported.length} pgAgent job${imported.length === 1 ? "" : "s"} disabled (pga_job.jobenabled = false)`;
    },
  };
}
