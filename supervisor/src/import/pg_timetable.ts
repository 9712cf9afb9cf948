// pg_timetable (github.com/cybertec-postgresql/pg_timetable): chains from its `timetable`
// schema (chain, task, parameter), or from its YAML chain files (docs/yaml-format.md).
//   run_at               cron, @every / @after <interval>, @reboot; NULL: every minute;
//                        read in the server's zone (pg_timetable's session zone); a cron
//                        with both day fields restricted says day_match: and, as
//                        pg_timetable matches both (is_cron_in_time)
//   max_instances        policies.max_instances;  timeout (ms) → policies.timeout
//   live                 enabled;  client_name → node (the chain runs only on that worker)
//   self_destruct        policies.self_destruct: true (the job drops itself after its first
//                        successful run, history kept)
//   exclusive_execution  policies.group: pg_timetable_exclusive, a concurrency group of
//                        max_running 1 that the import defines: such chains run one at a time
//   on_error             refused, naming what is missing (a failure hook), never dropped silently
//   tasks                in task_order, each after the one before; SQL → sql ($1… become
//                        :p1…), PROGRAM → program [command, args…], BUILTIN → Clockwork's
//                        built-in (timetableBuiltin: NoOp, Log, Sleep, SendMail, Download,
//                        CopyFromFile, CopyToFile; Shutdown and what cannot be said refused);
//                        ignore_error → on_error: continue; timeout → the step's; a task that
//                        is not live is kept and skipped (when: false)
//   parameters           each row is one execution, as pg_timetable runs them: a task with
//                        N rows becomes N steps in order, one per row
//   run_as               the job's owner when all tasks agree
//   database_connection  the SQL step's conninfo (refused with a password); autonomous → the
//                        step's autonomous: both run at least once. Without one, a task runs
//                        in pg_timetable's database (--from's): the step's database, or a
//                        conninfo when --from is another server than Clockwork's
// pg_timetable runs a chain's SQL tasks in one transaction; Clockwork commits each step
// (noted on every chain with more than one SQL task).
// Cut-over: chain.live = false for each imported chain.
import type pg from "pg";
import { parse } from "yaml";
import { conninfoProblem, isUtc, jobName, MINUTE_BY_MINUTE_DST, maskedConninfo, msText, sourceServerStep, stepName, type ImportResult, type ImportTarget, type ImportedJob, type RefusedJob } from "./common.ts";

interface Chain {
  id: string | null;
  name: string;
  runAt: string | null;
  maxInstances: number | null;
  timeoutMs: number;
  live: boolean;
  selfDestruct: boolean;
  exclusive: boolean;
  clientName: string | null;
  onError: string | null;
  tasks: Task[];
}

interface Task {
  name: string | null;
  kind: "SQL" | "PROGRAM" | "BUILTIN";
  command: string;
  runAs: string | null;
  connection: string | null;
  ignoreError: boolean;
  autonomous: boolean;
  timeoutMs: number;
  live: boolean;
  /** One array of arguments per execution; [] when it has no parameters (one execution). */
  executions: unknown[][];
}

/** pg_timetable's built-ins that have a Clockwork one (timetableBuiltin says how). */
export const TIMETABLE_BUILTINS = ["NoOp", "Log", "Sleep", "SendMail", "Download", "CopyFromFile", "CopyToFile"] as const;

type BuiltinStep = { builtin: string; args?: Record<string, unknown> };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): string[] => (v === undefined || v === null || v === "" ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** A path of pg_timetable's (relative to its working directory) in the supervisor's working area. */
function workPath(path: unknown, what: string): string | { problem: string } {
  const p = String(path ?? "").replace(/^\.\//, "");
  if (p === "") return { problem: `${what} is empty` };
  if (p.startsWith("/") || p.split("/").includes("..")) {
    return { problem: `${what} ${JSON.stringify(p)} is outside a working directory; Clockwork's built-ins read and write only their working area (a relative path): copy the file there and give its relative path` };
  }
  return p;
}

/** `COPY table [(cols)] FROM STDIN | TO STDOUT [WITH (FORMAT csv, HEADER …)]`, or a query for TO. */
function readCopy(sql: string, direction: "FROM STDIN" | "TO STDOUT"): Record<string, unknown> | { problem: string } {
  const text = sql.trim().replace(/;\s*$/, "");
  const re = direction === "FROM STDIN"
    ? /^COPY\s+([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)\s*(?:\(([^)]*)\))?\s+FROM\s+STDIN\b(.*)$/is
    : /^COPY\s+(?:([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)\s*(?:\(([^)]*)\))?|\((.+)\))\s+TO\s+STDOUT\b(.*)$/is;
  const m = re.exec(text);
  if (m === null) return { problem: `its SQL ${JSON.stringify(sql)} is not a plain COPY … ${direction} Clockwork can say` };
  const options = (direction === "FROM STDIN" ? m[3] : m[4]) ?? "";
  const out: Record<string, unknown> = {};
  if (direction === "TO STDOUT" && m[3] !== undefined) out.query = m[3].trim();
  else out.table = m[1];
  const columns = (m[2] ?? "").split(",").map((c) => c.trim()).filter((c) => c !== "");
  if (columns.length > 0) out.columns = columns;
  // " (FORMAT csv, HEADER true)" or " WITH (…)": the parentheses go whatever the spaces.
  const o = options.trim().replace(/^WITH\s*/i, "").replace(/^\(([\s\S]*)\)$/, "$1").trim();
  out.format = "text";
  for (const part of o === "" ? [] : o.split(",").map((x) => x.trim())) {
    const fm = /^(?:FORMAT\s+)?(csv|text|binary)$/i.exec(part);
    const hm = /^HEADER(?:\s+(true|on|1|false|off|0))?$/i.exec(part);
    const dm = /^DELIMITER\s+'(.)'$/i.exec(part);
    const nm = /^NULL\s+'([^']*)'$/i.exec(part);
    if (fm) out.format = fm[1]!.toLowerCase();
    else if (hm) out.header = hm[1] === undefined || /^(true|on|1)$/i.test(hm[1]);
    else if (dm) out.delimiter = dm[1];
    else if (nm) out.null = nm[1];
    else return { problem: `its COPY option ${JSON.stringify(part)} has no Clockwork equivalent` };
  }
  return out;
}

/**
 * One pg_timetable built-in task execution as a Clockwork built-in step, or why it cannot
 * be: the arguments are pg_timetable's (docs/sql_commands and its built-in task docs).
 */
export function timetableBuiltin(command: string, args: unknown[], notes: string[], label: string): BuiltinStep | { problem: string } {
  const value = args[0];
  switch (command) {
    case "NoOp":
      return { builtin: "noop" };
    case "Log":
      return args.length > 0 ? { builtin: "log", args: { message: typeof value === "string" ? value : JSON.stringify(value) } } : { builtin: "log" };
    case "Sleep": {
      const seconds = typeof value === "string" ? Number(value) : value;
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) return { problem: `Sleep needs a number of seconds, got ${JSON.stringify(value)}` };
      return { builtin: "sleep", args: { duration: seconds } };
    }
    case "SendMail": {
      if (!isRecord(value)) return { problem: "SendMail needs its JSON parameters (toaddr, subject, msgbody, …)" };
      if (Array.isArray(value.attachmentdata) && value.attachmentdata.length > 0) {
        return { problem: "SendMail's attachmentdata (files given inline, base64) has no equivalent: Clockwork attaches files of its working area" };
      }
      const attachments: string[] = [];
      for (const a of list(value.attachment)) {
        const p = workPath(a, "attachment");
        if (typeof p !== "string") return p;
        attachments.push(p);
      }
      if (value.serverhost || value.username || value.password) {
        notes.push(`task "${label}": SendMail's server, user and password were not imported: Clockwork's mail goes through the supervisor's SMTP server (CLOCKWORK_SMTP_URL), whose password never lives in a definition`);
      }
      if (value.contenttype && String(value.contenttype) !== "text/plain") notes.push(`task "${label}": the mail is sent as plain text (pg_timetable sent ${value.contenttype})`);
      const out: Record<string, unknown> = { to: list(value.toaddr), subject: String(value.subject ?? "") };
      if (list(value.ccaddr).length > 0) out.cc = list(value.ccaddr);
      if (list(value.bccaddr).length > 0) out.bcc = list(value.bccaddr);
      if (value.senderaddr) out.from = String(value.senderaddr);
      if (value.msgbody) out.body = String(value.msgbody);
      if (attachments.length > 0) out.attachments = attachments;
      return { builtin: "mail", args: out };
    }
    case "Download": {
      if (!isRecord(value)) return { problem: "Download needs its JSON parameters (fileurls, destpath)" };
      const urls = list(value.fileurls);
      if (urls.length !== 1) return { problem: `Download of ${urls.length} files in one task: Clockwork's download takes one URL a step (split the task, one per file)` };
      const name = urls[0]!.split("?")[0]!.split("/").filter((x) => x !== "").pop() ?? "download";
      const dest = value.destpath === undefined || value.destpath === "" ? name : `${String(value.destpath).replace(/\/+$/, "")}/${name}`;
      const to = workPath(dest, "destpath");
      if (typeof to !== "string") return to;
      return { builtin: "download", args: { url: urls[0], to } };
    }
    case "CopyFromFile":
    case "CopyToFile": {
      if (!isRecord(value)) return { problem: `${command} needs its JSON parameters (sql, filename)` };
      const file = workPath(value.filename, "filename");
      if (typeof file !== "string") return file;
      const copy = readCopy(String(value.sql ?? ""), command === "CopyFromFile" ? "FROM STDIN" : "TO STDOUT");
      if ("problem" in copy) return copy as { problem: string };
      return { builtin: command === "CopyFromFile" ? "copy_from" : "copy_to", args: { file, ...copy } };
    }
    case "Shutdown":
      return { problem: "Shutdown (stop the scheduler from a chain) has no equivalent: a Clockwork supervisor stops on SIGTERM from its service manager" };
    default:
      return { problem: `the built-in ${command} has no Clockwork equivalent (known: ${TIMETABLE_BUILTINS.join(", ")})` };
  }
}

/** `$1`, `$2` … outside literals, quoted names, dollar quotes and comments → `:p1`, `:p2` …. */
export function positionalToNamed(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i);
    let m: RegExpExecArray | null;
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (rest.startsWith("--")) {
      const j = sql.indexOf("\n", i);
      out += sql.slice(i, j < 0 ? sql.length : j);
      i = j < 0 ? sql.length : j;
    } else if (rest.startsWith("/*")) {
      const j = sql.indexOf("*/", i + 2);
      out += sql.slice(i, j < 0 ? sql.length : j + 2);
      i = j < 0 ? sql.length : j + 2;
    } else if ((m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest)) !== null) {
      const j = sql.indexOf(m[0], i + m[0].length);
      out += sql.slice(i, j < 0 ? sql.length : j + m[0].length);
      i = j < 0 ? sql.length : j + m[0].length;
    } else if ((m = /^\$(\d+)/.exec(rest)) !== null) {
      out += `:p${m[1]}`;
      i += m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * Clockwork's spelling of a pg_timetable run_at. pg_timetable's cron requires both day
 * fields to match (timetable.is_cron_in_time ANDs them), where Clockwork's, as Vixie's,
 * takes either when both are restricted: such a cron says day_match: and.
 */
export function timetableSchedule(runAt: string): string | { cron: string; day_match: "and" } {
  const s = runAt.trim().replace(/\s+/g, " ");
  const m = /^@(every|after) (.+)$/i.exec(s);
  if (m) return `@${m[1]!.toLowerCase()} ${m[2]!.replace(/^'|'$/g, "")}`;
  const fields = s.split(" ");
  if (fields.length === 5 && !fields[2]!.startsWith("*") && !fields[4]!.startsWith("*")) return { cron: s, day_match: "and" };
  return s;
}

function translateChain(chain: Chain, tz: string, target: ImportTarget): { job?: ImportedJob; refused?: RefusedJob } {
  const origin = `pg_timetable chain ${chain.id ?? ""}${chain.id ? " " : ""}(${chain.name})`;
  const problems: string[] = [];
  const notes: string[] = [];
  if (chain.onError) problems.push("on_error (SQL run when the chain fails) needs a failure hook, which this version of Clockwork does not have");
  if (chain.tasks.length === 0) problems.push("it has no tasks");
  const owners = new Set(chain.tasks.map((t) => t.runAs ?? ""));
  if (owners.size > 1) problems.push(`its tasks run as different roles (${[...owners].map((o) => o || "the chain's client").join(", ")}); a Clockwork job has one owner`);
  const steps: Record<string, Record<string, unknown>> = {};
  const taken = new Set<string>();
  let previous: string | null = null;
  let previousSkipped = false;
  let sqlTasks = 0;
  // A task without a database_connection runs in pg_timetable's own database (--from's),
  // on its server: here, the step's database, or a conninfo when that server is not Clockwork's.
  const elsewhere = sourceServerStep(target, target.sourceDatabase);
  const home: { conninfo?: string; database?: string } = elsewhere !== null ? { conninfo: elsewhere.conninfo }
    : target.sourceDatabase !== target.database ? { database: target.sourceDatabase } : {};
  if (chain.tasks.some((t) => t.kind === "SQL" && !t.connection)) {
    if (elsewhere !== null) notes.push(`its SQL tasks run in pg_timetable's database: ${elsewhere.note}`);
    else if (home.database !== undefined) notes.push(`its SQL tasks run in pg_timetable's database "${home.database}": the steps do too, as the job's owner, at least once (docs/sql-steps.md)`);
  }
  chain.tasks.forEach((t, index) => {
    const label = t.name ?? `task ${index + 1}`;
    if (t.kind === "SQL" && t.connection) {
      const problem = conninfoProblem(t.connection);
      if (problem !== null) problems.push(`task "${label}" connects with "${maskedConninfo(t.connection)}", which ${problem}`);
      else notes.push(`task "${label}" connects with a connection string: as the job's owner, at least once (docs/sql-steps.md)`);
    }
    if (t.kind === "SQL" && t.autonomous) notes.push(`task "${label}" is autonomous: a step outside a transaction, recorded after it ran (at least once)`);
    const executions = t.executions.length === 0 ? [[]] : t.executions;
    executions.forEach((args, e) => {
      const base = stepName(executions.length > 1 ? `${t.name ?? `task-${index + 1}`}-${e + 1}` : (t.name ?? `task-${index + 1}`), taken, `task-${index + 1}`);
      const step: Record<string, unknown> = {};
      if (t.kind === "SQL") {
        sqlTasks++;
        step.sql = positionalToNamed(t.command);
        if (t.connection) step.conninfo = t.connection;
        else if (home.conninfo !== undefined) step.conninfo = home.conninfo;
        else if (home.database !== undefined) step.database = home.database;
        if (t.autonomous) step.autonomous = true;
        if (args.length > 0) {
          const params: Record<string, unknown> = {};
          args.forEach((a, k) => {
            if (a !== null && typeof a === "object") problems.push(`task "${label}": parameter ${k + 1} is ${Array.isArray(a) ? "an array" : "an object"}; Clockwork parameters are strings, numbers, booleans or null`);
            params[`p${k + 1}`] = a;
          });
          step.parameters = params;
        }
      } else if (t.kind === "PROGRAM") {
        step.program = [t.command, ...args.map((a) => (typeof a === "string" ? a : JSON.stringify(a)))];
      } else {
        const builtin = timetableBuiltin(t.command, args, notes, label);
        if ("problem" in builtin) {
          problems.push(`task "${label}" is the built-in ${t.command}: ${builtin.problem}`);
          return;
        }
        step.builtin = builtin.builtin;
        if (builtin.args !== undefined) step.args = builtin.args;
      }
      if (previous !== null) step.depends = [previous];
      if (!t.live) {
        step.when = "false";
        notes.push(`task "${label}" is not live: kept, and never runs (when: false)`);
      } else if (previousSkipped) step.when = "true";
      if (t.ignoreError) step.on_error = "continue";
      if (t.timeoutMs > 0) step.timeout = msText(t.timeoutMs);
      steps[base] = step;
      previous = base;
      previousSkipped = !t.live;
    });
    if (executions.length > 1) notes.push(`task "${label}" has ${executions.length} parameter rows: ${executions.length} steps, run one after the other, as pg_timetable runs them`);
  });
  if (problems.length > 0) return { refused: { origin, reason: problems.join("; ") } };
  if (sqlTasks > 1) notes.push("pg_timetable runs a chain's SQL tasks in one transaction; Clockwork commits each step on its own");
  const policies: Record<string, unknown> = {};
  if (chain.maxInstances !== null && chain.maxInstances > 0) policies.max_instances = chain.maxInstances;
  if (chain.timeoutMs > 0) policies.timeout = msText(chain.timeoutMs);
  if (chain.selfDestruct) policies.self_destruct = true;
  if (chain.exclusive) {
    policies.group = EXCLUSIVE_GROUP.name;
    notes.push(`exclusive_execution: in the concurrency group ${EXCLUSIVE_GROUP.name} (max_running 1), so exclusive chains run one at a time; chains outside the group are not paused while it runs, as pg_timetable pauses them (put them in the group too for that; docs/coming-from-pg_timetable.md)`);
  }
  if (chain.clientName) notes.push(`client_name ${chain.clientName}: runs only on the supervisor named ${chain.clientName} (node)`);
  const runAs = [...owners][0] || undefined;
  // pg_timetable checks each minute's wall time (is_cron_in_time at now(), in its session's
  // zone): in a zone with summer time, a cron schedule fires as that check does.
  let schedule: string | Record<string, unknown> = chain.runAt ? timetableSchedule(chain.runAt) : "* * * * *";
  const cron = typeof schedule === "string" ? (/^@/.test(schedule) ? null : schedule) : String(schedule.cron);
  if (cron !== null && !isUtc(tz)) {
    schedule = { ...(typeof schedule === "string" ? { cron } : schedule), dst: MINUTE_BY_MINUTE_DST };
    notes.push(`pg_timetable checks each minute's wall time in ${tz}: a time skipped by the change to summer time does not fire, one repeated by the change back fires twice (dst: gap skip, overlap twice)`);
  }
  const definition: Record<string, unknown> = {
    name: jobName(chain.name, `timetable-${chain.id ?? "chain"}`),
    description: `imported from ${origin}`,
    ...(chain.live ? {} : { enabled: false }),
    time_zone: tz,
    // pg_timetable runs a chain without run_at every minute: timetable.is_cron_in_time is
    // true for NULL (internal/pgengine/sql/cron.sql), as its add_job documents.
    schedules: [schedule],
    ...(Object.keys(policies).length > 0 ? { policies } : {}),
    ...(chain.clientName ? { node: chain.clientName } : {}),
    steps,
  };
  if (!chain.runAt) notes.push("it has no run_at, which pg_timetable runs every minute: imported as * * * * *");
  return { job: { definition, origin, notes, ...(runAs ? { owner: runAs } : {}) } };
}

/** The concurrency group that exclusive_execution chains share. */
export const EXCLUSIVE_GROUP = {
  name: "pg_timetable_exclusive",
  maxRunning: 1,
  description: "imported from pg_timetable: chains with exclusive_execution, run one at a time",
} as const;

function finish(chains: Chain[], tz: string, target: ImportTarget, switchOff?: ImportResult["switchOff"]): ImportResult {
  const jobs: ImportedJob[] = [];
  const refused: RefusedJob[] = [];
  for (const c of chains) {
    const r = translateChain(c, tz, target);
    if (r.job) jobs.push(r.job);
    if (r.refused) refused.push(r.refused);
  }
  const notes = [`schedules are read in ${tz}`];
  const exclusive = jobs.some((j) => (j.definition.policies as { group?: string } | undefined)?.group === EXCLUSIVE_GROUP.name);
  if (exclusive) notes.push(`the import defines the concurrency group ${EXCLUSIVE_GROUP.name} (max_running 1) if it does not exist; to apply the files yourself, first: SELECT clockwork.define_group('${EXCLUSIVE_GROUP.name}', 1)`);
  return {
    source: "pg_timetable", jobs, refused, notes,
    ...(exclusive ? { groups: [EXCLUSIVE_GROUP] } : {}),
    ...(switchOff ? { switchOff } : {}),
  };
}

export async function importTimetable(source: pg.ClientBase, target: ImportTarget): Promise<ImportResult> {
  const has = await source.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'timetable'");
  if (has.rowCount === 0) throw new Error("pg_timetable's schema (timetable) is not in the source database");
  const tz = (await source.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz as string;
  const chainRows = (await source.query(`
    SELECT chain_id::text, chain_name, run_at::text, max_instances, coalesce(timeout, 0) AS timeout, coalesce(live, false) AS live,
           coalesce(self_destruct, false) AS self_destruct, coalesce(exclusive_execution, false) AS exclusive_execution,
           client_name, on_error
      FROM timetable.chain AS c ORDER BY c.chain_id`)).rows;
  const taskRows = (await source.query(`
    SELECT t.task_id::text, t.chain_id::text, t.task_order, t.task_name, t.kind::text, t.command, t.run_as, t.database_connection,
           t.ignore_error, t.autonomous, coalesce(t.timeout, 0) AS timeout, t.live,
           -- pg_timetable reads only rows with a value (internal/pgengine/access.go): add_job
           -- writes a NULL row for a job without parameters.
           coalesce((SELECT jsonb_agg(p.value ORDER BY p.order_id) FROM timetable.parameter AS p
                      WHERE p.task_id = t.task_id AND p.value IS NOT NULL AND p.value <> 'null'::jsonb), '[]') AS params
      FROM timetable.task AS t ORDER BY t.chain_id, t.task_order, t.task_id`)).rows;
  const chains: Chain[] = chainRows.map((c) => ({
    id: c.chain_id, name: c.chain_name, runAt: c.run_at, maxInstances: c.max_instances, timeoutMs: c.timeout, live: c.live,
    selfDestruct: c.self_destruct, exclusive: c.exclusive_execution, clientName: c.client_name, onError: c.on_error,
    tasks: taskRows.filter((t) => t.chain_id === c.chain_id).map((t) => ({
      name: t.task_name, kind: t.kind, command: t.command, runAs: t.run_as, connection: t.database_connection,
      ignoreError: t.ignore_error, autonomous: t.autonomous, timeoutMs: t.timeout, live: t.live !== false,
      // Each parameter row is one execution: a JSON array of arguments (a scalar is one argument).
      executions: (t.params as unknown[]).map((p) => (Array.isArray(p) ? p : [p])),
    })),
  }));
  const ids = (jobs: ImportedJob[]) => chains.filter((c) => jobs.some((j) => j.origin.includes(`(${c.name})`))).map((c) => c.id);
  const result = finish(chains, tz, target);
  result.switchOff = async (client) => {
    const c = client ?? source;
    const chosen = ids(result.jobs);
    await c.query("UPDATE timetable.chain SET live = false WHERE chain_id = ANY ($1::bigint[])", [chosen]);
    return `${chosen.length} pg_timetable chain${chosen.length === 1 ? "" : "s"} paused (live = false)`;
  };
  return result;
}

/** pg_timetable's YAML chain files: `chains:` with name, schedule, tasks (docs/yaml-format.md). */
export function importTimetableYaml(text: string, options: { database: string; label: string; timeZone: string }): ImportResult {
  const doc = parse(text, { schema: "core" }) as { chains?: unknown };
  if (doc === null || typeof doc !== "object" || !Array.isArray(doc.chains)) throw new Error(`${options.label}: a pg_timetable YAML file has a list of chains under "chains:"`);
  const chains: Chain[] = (doc.chains as Array<Record<string, unknown>>).map((c, i) => ({
    id: null,
    name: String(c.name ?? `chain-${i + 1}`),
    runAt: typeof c.schedule === "string" ? c.schedule : null,
    maxInstances: typeof c.max_instances === "number" ? c.max_instances : null,
    timeoutMs: typeof c.timeout === "number" ? c.timeout : 0,
    live: c.live === true,
    selfDestruct: c.self_destruct === true,
    exclusive: c.exclusive === true || c.exclusive_execution === true,
    clientName: typeof c.client_name === "string" ? c.client_name : null,
    onError: typeof c.on_error === "string" ? c.on_error : null,
    tasks: (Array.isArray(c.tasks) ? c.tasks : []).map((t: Record<string, unknown>) => {
      const params = Array.isArray(t.parameters) ? t.parameters : [];
      // A list of lists: one execution per inner list; a flat list: one execution.
      const executions = params.length > 0 && params.every(Array.isArray) ? (params as unknown[][]) : params.length > 0 ? [params] : [];
      return {
        name: typeof t.name === "string" ? t.name : null,
        kind: (typeof t.kind === "string" ? t.kind.toUpperCase() : "SQL") as Task["kind"],
        command: String(t.command ?? ""),
        runAs: typeof t.run_as === "string" ? t.run_as : null,
        connection: typeof t.connect_string === "string" ? t.connect_string : null,
        ignoreError: t.ignore_error === true,
        autonomous: t.autonomous === true,
        timeoutMs: typeof t.timeout === "number" ? t.timeout : 0,
        live: t.live !== false,
        executions,
      };
    }),
  }));
  // A YAML file names no database: its tasks run in the Clockwork database.
  return finish(chains, options.timeZone, { database: options.database, sourceDatabase: options.database, sourceServer: null });
}
