// PgQuartz job files (github.com/MannemSolutions/PgQuartz, docs/JOBS.md … ETCD.md) read as
// Clockwork jobs, so `clockwork run job.yml` runs them as they are and `clockwork apply`
// schedules them. docs/coming-from-pgquartz.md says what maps to what; in short:
//
//   step of N commands     N Clockwork steps in a chain: command i+1 runs when command i
//                          succeeded, so an instance stops at its first failing command
//   a step's failure       does not fail the job (on_error: continue); checks decide
//   depends / when         depends on the last command step; `when` rules (Go templates)
//                          become one condition (pgquartz-when.ts)
//   matrix                 the same matrix on every command step: shell commands see
//                          PGQ_INSTANCE_<NAME> variables, SQL commands :name parameters
//   SQL output             a row-returning query is wrapped so its output is PgQuartz's
//                          `{column}={value}` lines (joined by ", ", rows by newlines)
//   checks                 Clockwork checks, in series after the steps: rc → expected_exit_code
//   timeout                the run's time-out (policies.timeout)
//   workdir                scripts and SQL files are read from it and shell commands run in it
//   connections            a Clockwork named connection of the same name (or the one in
//                          clockwork.connections), or the scheduler's own database when the
//                          file gives no host, port, dbname or service
//   role, runOnRoleError   PgQuartz's code (cmd/pgquartz/main.go, pkg/pg/conn.go) does:
//                          runOnRoleError false (the default): before any step, every
//                          connection with a role is asked; one in another role ends the
//                          job at once, without steps or checks, exit code 0. Here: a step
//                          per such connection (pgquartz-role-NAME) that all steps depend
//                          on, with server_role and on_role_mismatch: skip_run.
//                          Either way, each SQL command and check is checked again against
//                          its role (the command's, else its connection's): a mismatch
//                          fails it (rc 1), so its instance's later commands do not run.
//                          Here: server_role on the step, on_role_mismatch: fail.
//   etcdConfig             a lock held in PostgreSQL by `clockwork run` (run.ts)
//   git, logFile, debug, parallel   used by `clockwork run`; ignored (with a note) by apply
//
// A `clockwork:` block, which PgQuartz ignores, adds what a scheduled job needs:
// name, description, schedules, time_zone, enabled, node, labels, policies, and
// `connections: {NAME: local | <Clockwork connection name>}`.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { translateWhen, type WhenStep } from "./pgquartz-when.ts";

export interface PgQuartzProblem {
  /** Path in the PgQuartz file (`steps.step 1.commands[0].file`). */
  path: string;
  message: string;
}

export interface PgQuartzRunOptions {
  parallel: number;
  debug: boolean;
  logFile: string | null;
  timeoutMs: number | null;
  workdir: string;
  git: { remote: string; revision: string | null; rsaPath: string | null; disabled: boolean } | null;
  lock: { key: string; timeoutMs: number } | null;
}

export type PgQuartzTranslation =
  | { ok: true; definition: Record<string, unknown>; notes: string[]; mapPath: (clockworkPath: string) => string; run: PgQuartzRunOptions }
  | { ok: false; problems: PgQuartzProblem[] };

const TOP_KEYS = new Set(["steps", "checks", "connections", "debug", "git", "logFile", "parallel", "runOnRoleError", "timeout", "workdir", "etcdConfig", "target", "alerts", "log", "clockwork"]);
const COMMAND_KEYS = new Set(["name", "type", "inline", "file", "role", "batchMode"]);
const CHECK_KEYS = new Set([...COMMAND_KEYS, "rc", "expected", "unexpected", "matrix"]);
const CLOCKWORK_KEYS = new Set(["name", "description", "schedules", "time_zone", "enabled", "node", "labels", "policies", "connections"]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A PgQuartz job: steps made of `commands` (a Clockwork job's steps have sql/shell/…). */
export function isPgQuartzJob(value: unknown): boolean {
  if (!isObj(value) || !isObj(value.steps)) return false;
  return Object.values(value.steps).some((s) => isObj(s) && Array.isArray(s.commands));
}

/** Go's time.ParseDuration subset PgQuartz files use: "1h30m", "75s", "500ms", "1.5h". */
export function goDurationMs(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 }[m[2] as "h"];
    matched = re.lastIndex;
  }
  return text !== "" && matched === text.length ? total : null;
}

function intervalText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.ceil(ms)}ms`;
}

/** Clockwork step names: letters, digits, _ and -, starting with a letter or _. */
function safeName(name: string, taken: Set<string>): string {
  let base = name.trim().replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^[^A-Za-z_]/, (c) => `s_${c}`) || "step";
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
  taken.add(n);
  return n;
}

/** Whether a statement returns rows and can be read as a subquery (SELECT, WITH … SELECT, VALUES, TABLE). */
function returnsRows(sql: string): boolean {
  const body = sql.replace(/--[^\n]*/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ").trim().replace(/;\s*$/, "");
  if (body.includes(";")) return false;
  const first = /^\(*\s*([A-Za-z]+)/.exec(body)?.[1]?.toLowerCase();
  // SELECT … INTO makes a table and returns no rows.
  if (first === "select") return !/\binto\s+(temp\b|temporary\b|unlogged\b|table\b|[A-Za-z_"][^\s,]*\s+from\b)/i.test(body);
  if (first === "values" || first === "table") return true;
  if (first === "with") return !/\b(insert|update|delete|merge)\b/i.test(body);
  return false;
}

/**
 * PgQuartz prints each row as `{col}={value}` pairs joined by ", " (quotes doubled) and a
 * NULL as Go prints nil; the query is wrapped so the step's output reads the same.
 */
export function pgQuartzOutputSql(sql: string): string {
  const query = sql.trim().replace(/;\s*$/, "");
  return [
    "-- PgQuartz output form: one line per row, {column}={value} pairs (clockwork import of a PgQuartz command)",
    "SELECT coalesce(string_agg(r.line, E'\\n' ORDER BY r.n), '') AS pgquartz_output",
    "  FROM (SELECT row_number() OVER () AS n,",
    "               (SELECT string_agg(format('{%s}={%s}', e.key, replace(coalesce(e.value, '<nil>'), '''', '''''')), ', ' ORDER BY e.i)",
    "                  FROM json_each_text(row_to_json(q)) WITH ORDINALITY AS e(key, value, i)) AS line",
    `          FROM (${query}\n) AS q) AS r`,
  ].join("\n");
}

interface ConnectionTarget {
  /** null: the scheduler's own database. */
  connection: string | null;
  role: "primary" | "standby" | "all";
}

/** Sends a statement to every connected pair of a PgQuartz file: commands and checks alike. */
interface Work {
  kind: "sql" | "shell";
  text: string;
  connection: string | null;
  /** The server role the command expects (its own, else its connection's), or null for any. */
  role: "primary" | "standby" | null;
}

export function translatePgQuartz(value: unknown, options: { jobName: string; file: string }): PgQuartzTranslation {
  const problems: PgQuartzProblem[] = [];
  const notes: string[] = [];
  const fail = (path: string, message: string) => problems.push({ path, message });
  if (!isObj(value)) return { ok: false, problems: [{ path: "", message: "a PgQuartz job must be a mapping" }] };
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.has(key)) notes.push(`${key}: not a PgQuartz setting; ignored, as PgQuartz ignores it`);
  }
  const cw = isObj(value.clockwork) ? value.clockwork : {};
  if (value.clockwork !== undefined && !isObj(value.clockwork)) fail("clockwork", "must be a mapping (name, schedules, connections, …)");
  for (const key of Object.keys(cw)) if (!CLOCKWORK_KEYS.has(key)) fail(`clockwork.${key}`, `unknown field "${key}" (known: ${[...CLOCKWORK_KEYS].join(", ")})`);

  // --- workdir: where files are read and shell commands run (default: the file's folder).
  const fileDir = dirname(resolve(options.file));
  let workdir = fileDir;
  if (value.workdir !== undefined) {
    if (typeof value.workdir !== "string") fail("workdir", "must be a folder");
    else workdir = resolve(fileDir, value.workdir);
    if (typeof value.workdir === "string" && !existsSync(workdir)) fail("workdir", `folder ${workdir} does not exist`);
  }

  // --- connections
  if (value.runOnRoleError !== undefined && typeof value.runOnRoleError !== "boolean") fail("runOnRoleError", `must be true or false, got ${JSON.stringify(value.runOnRoleError)}`);
  const runOnRoleError = value.runOnRoleError === true;
  const connections = new Map<string, ConnectionTarget>();
  /** Connections asked for their role before anything runs (runOnRoleError: false). */
  const roleGates: Array<{ name: string; role: "primary" | "standby" }> = [];
  const cwConnections = isObj(cw.connections) ? cw.connections : {};
  if (value.connections !== undefined && !isObj(value.connections)) fail("connections", "must be a mapping of name: {type, role, conn_params}");
  for (const [name, c] of Object.entries(isObj(value.connections) ? value.connections : {})) {
    const path = `connections.${name}`;
    if (!isObj(c)) { fail(path, "must be a mapping"); continue; }
    if (c.role === undefined || c.role === "") {
      notes.push(`${path}: no role; read as role all (PgQuartz itself stops with "invalid role was specified" when a connection has none)`);
    }
    const role = c.role === undefined || c.role === "" ? "all" : c.role;
    if (role !== "primary" && role !== "standby" && role !== "all") { fail(`${path}.role`, `must be primary, standby or all, got ${JSON.stringify(c.role)}`); continue; }
    const params = isObj(c.conn_params) ? c.conn_params : {};
    if ("password" in params) notes.push(`${path}.conn_params.password: not kept (no passwords in definitions); the password comes from .pgpass, a service file or PGPASSWORD`);
    const mapped = cwConnections[name];
    // Without explicit host, port, dbname or service, PgQuartz connects with libpq's
    // defaults from the environment: the database the CLI and the supervisor use.
    const usesDefaults = !["host", "hostaddr", "port", "dbname", "service"].some((k) => k in params);
    let target: string | null;
    if (mapped === "local" || (mapped === undefined && usesDefaults)) target = null;
    else if (typeof mapped === "string" && mapped !== "") target = mapped;
    else target = name;
    if (target === null && role === "standby") {
      // Still known to the commands that name it: the file has one problem, not one per command.
      fail(`${path}.role`, "this connection is the scheduler's own database, a primary: role standby never matches (map it to a Clockwork connection in clockwork.connections)");
    }
    connections.set(name, { connection: target, role });
    if (role !== "all" && !runOnRoleError) roleGates.push({ name, role });
  }
  if (roleGates.length > 0) {
    notes.push(`runOnRoleError is false: ${roleGates.map((g) => `connection ${g.name} must be a ${g.role}`).join(", ")} before anything runs; otherwise the run ends at once, skipped and succeeded, as PgQuartz exits 0 without running steps or checks (step${roleGates.length > 1 ? "s" : ""} ${roleGates.map((g) => `pgquartz-role-${g.name}`).join(", ")})`);
  }

  // --- commands → work
  const readWork = (c: Obj, path: string, keys: Set<string>): Work[] | null => {
    for (const key of Object.keys(c)) if (!keys.has(key)) notes.push(`${path}.${key}: not a PgQuartz setting; ignored`);
    const type = c.type === undefined || c.type === "" ? "shell" : c.type;
    if (typeof type !== "string") { fail(`${path}.type`, "must be shell or a connection name"); return null; }
    const hasInline = typeof c.inline === "string" && c.inline !== "";
    const hasFile = typeof c.file === "string" && c.file !== "";
    if (!hasInline && !hasFile) { fail(path, "needs inline or file"); return null; }
    if (hasInline && hasFile) notes.push(`${path}: both inline and file are given; PgQuartz runs inline, and so does Clockwork`);
    if (c.role !== undefined && c.role !== "" && type === "shell") notes.push(`${path}.role: PgQuartz checks a role only on database commands; ignored on a shell command`);
    if (c.role !== undefined && c.role !== "" && type !== "shell") {
      if (!["primary", "standby", "all"].includes(String(c.role))) { fail(`${path}.role`, `must be primary, standby or all, got ${JSON.stringify(c.role)}`); return null; }
      const conn = connections.get(type);
      if (c.role === "standby" && conn !== undefined && conn.connection === null) {
        fail(`${path}.role`, "this command runs on the scheduler's own database, a primary: role standby never matches (map its connection to a Clockwork connection in clockwork.connections)");
        return null;
      }
    }
    let text: string;
    let filePath: string | null = null;
    if (hasInline) text = c.inline as string;
    else {
      filePath = isAbsolute(c.file as string) ? (c.file as string) : resolve(workdir, c.file as string);
      if (!existsSync(filePath) || !statSync(filePath).isFile()) { fail(`${path}.file`, `file ${filePath} does not exist`); return null; }
      text = type === "shell" ? "" : readFileSync(filePath, "utf8");
    }
    if (type === "shell") {
      const cd = `cd ${shellQuote(workdir)} || exit 1`;
      return [{ kind: "shell", text: filePath !== null ? `${cd}\nexec /bin/bash ${shellQuote(filePath)}` : `${cd}\n${text}`, connection: null, role: null }];
    }
    const conn = connections.get(type);
    if (conn === undefined) {
      fail(`${path}.type`, `unknown connection "${type}" (connections: ${[...connections.keys()].join(", ") || "none"}; or shell)`);
      return null;
    }
    if (/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(text)) {
      fail(hasInline ? `${path}.inline` : `${path}.file`, "${name} text substitution in SQL is not supported: write :name, a bound parameter");
      return null;
    }
    const statements = c.batchMode === true ? text.split(";").map((s) => s.trim()).filter((s) => s !== "") : [text];
    if (c.batchMode === true) notes.push(`${path}: batchMode splits on every ";" (as PgQuartz does): ${statements.length} statements, run one after the other`);
    // PgQuartz checks the command's role, else its connection's, before each command.
    const expected = c.role !== undefined && c.role !== "" ? String(c.role) : conn.role;
    const role = expected === "primary" || expected === "standby" ? expected : null;
    return statements.map((s) => ({ kind: "sql", text: returnsRows(s) ? pgQuartzOutputSql(s) : s, connection: conn.connection, role }));
  };

  const readMatrix = (m: unknown, path: string): Record<string, string[]> | null => {
    if (m === undefined || m === null) return null;
    if (!isObj(m)) { fail(path, "must be a mapping of name: [values]"); return null; }
    const out: Record<string, string[]> = {};
    for (const [k, values] of Object.entries(m)) {
      if (!Array.isArray(values) || values.length === 0) { fail(`${path}.${k}`, "must be a non-empty list of values"); continue; }
      // PgQuartz reads every value as a string.
      out[k] = values.map((v) => (v === null ? "" : String(v)));
    }
    return Object.keys(out).length > 0 ? out : null;
  };
  const matrixFor = (m: Record<string, string[]> | null, kind: "sql" | "shell") =>
    m === null ? undefined : Object.fromEntries(Object.entries(m).map(([k, v]) => [kind === "shell" ? `PGQ_INSTANCE_${k.toUpperCase()}` : k, v]));
  const instancesOf = (m: Record<string, string[]> | null) => (m === null ? 1 : Object.values(m).reduce((n, v) => n * v.length, 1));

  const workFields = (w: Work, matrix: Record<string, string[]> | null): Obj => ({
    ...(w.kind === "sql" ? { sql: w.text } : { shell: w.text }),
    ...(w.connection !== null ? { connection: w.connection } : {}),
    ...(w.role !== null ? { server_role: w.role, on_role_mismatch: "fail" } : {}),
    ...(matrix !== null ? { matrix: matrixFor(matrix, w.kind) } : {}),
  });

  // --- steps
  const steps: Obj = {};
  const stepNames = new Set<string>();
  const pathOf = new Map<string, string>();
  const whenSteps = new Map<string, WhenStep>();
  const pending: Array<{ name: string; first: string; step: Obj; path: string; depends: string[]; when: string[] }> = [];
  // runOnRoleError false: each connection with a role is asked first; a server in another
  // role skips the run (PgQuartz returns before its steps, exit code 0).
  const gates: string[] = [];
  for (const g of roleGates) {
    const name = safeName(`pgquartz-role-${g.name}`, stepNames);
    const target = connections.get(g.name)!.connection;
    steps[name] = {
      sql: `SELECT '${g.role}' AS expected_role -- PgQuartz connection ${g.name.replace(/\s+/g, " ")}: the run goes on only if it is a ${g.role}`,
      ...(target !== null ? { connection: target } : {}),
      server_role: g.role,
      on_role_mismatch: "skip_run",
    };
    pathOf.set(name, `connections.${g.name}.role`);
    gates.push(name);
  }
  if (!isObj(value.steps) || Object.keys(value.steps).length === 0) fail("steps", "please define at least one step (PgQuartz needs one too)");
  for (const [stepName, s] of Object.entries(isObj(value.steps) ? value.steps : {})) {
    const path = `steps.${stepName}`;
    if (!isObj(s)) { fail(path, "must be a mapping with commands"); continue; }
    for (const key of Object.keys(s)) if (!["commands", "depends", "when", "matrix"].includes(key)) notes.push(`${path}.${key}: not a PgQuartz step setting; ignored`);
    if (!Array.isArray(s.commands) || s.commands.length === 0) { fail(`${path}.commands`, "a step needs at least one command"); continue; }
    const matrix = readMatrix(s.matrix, `${path}.matrix`);
    const works: Work[] = [];
    s.commands.forEach((c, i) => {
      if (!isObj(c)) { fail(`${path}.commands[${i}]`, "must be a mapping"); return; }
      const w = readWork(c, `${path}.commands[${i}]`, COMMAND_KEYS);
      // A command with a problem (reported) still holds its place, so the steps that depend
      // on this one are not reported as depending on an unknown step.
      works.push(...(w ?? [{ kind: "shell", text: "", connection: null, role: null } satisfies Work]));
    });
    if (works.length === 0) continue;
    const base = safeName(stepName, stepNames);
    if (base !== stepName) notes.push(`${path}: named "${base}" in Clockwork (step names are letters, digits, _ and -)`);
    const names = works.length === 1 ? [base] : works.map((_, i) => safeName(`${base}-${i + 1}`, stepNames));
    if (works.length > 1 && matrix !== null) {
      notes.push(`${path}: with a matrix, command i+1 of every instance waits for command i of all instances, and runs when all of them succeeded (PgQuartz goes on per instance)`);
    }
    names.forEach((n, i) => {
      const step: Obj = { ...workFields(works[i]!, matrix), on_error: "continue" };
      if (i > 0) {
        step.depends = [names[i - 1]];
        step.when = `${names[i - 1]}.status == "succeeded"`;
      }
      steps[n] = step;
      pathOf.set(n, path);
    });
    whenSteps.set(stepName, { commands: names.map((n, i) => ({ name: n, kind: works[i]!.kind })), instances: instancesOf(matrix) });
    const depends = s.depends === undefined ? [] : Array.isArray(s.depends) ? s.depends : [s.depends];
    const when = s.when === undefined ? [] : Array.isArray(s.when) ? s.when : [s.when];
    if (!depends.every((d) => typeof d === "string")) fail(`${path}.depends`, "must be a list of step names");
    if (!when.every((w) => typeof w === "string")) fail(`${path}.when`, "must be a list of rules");
    pending.push({ name: stepName, first: names[0]!, step: steps[names[0]!] as Obj, path, depends: depends as string[], when: when as string[] });
  }
  // Steps that have finished before a step starts: its dependencies, transitively.
  const upstream = (name: string): Set<string> => {
    const out = new Set<string>();
    const visit = (n: string) => {
      for (const d of pending.find((x) => x.name === n)?.depends ?? []) if (!out.has(d)) { out.add(d); visit(d); }
    };
    visit(name);
    return out;
  };
  for (const p of pending) {
    const deps: string[] = [];
    p.depends.forEach((d, i) => {
      const target = whenSteps.get(d);
      if (target === undefined) fail(`${p.path}.depends[${i}]`, `step ${p.name} depends on unknown step ${d}`);
      else deps.push(target.commands[target.commands.length - 1]!.name);
    });
    if (deps.length > 0) {
      p.step.depends = [...gates, ...deps];
      // A dependency that stopped early (its later commands skipped) must not skip this step:
      // PgQuartz waits for dependencies to finish, whatever their result.
      p.step.when = "true";
    } else if (gates.length > 0) p.step.depends = gates;
    if (p.when.length > 0) {
      const t = translateWhen(p.when, whenSteps);
      if (!t.ok) fail(`${p.path}.when`, `${t.message}`);
      else {
        const before = upstream(p.name);
        const missing = [...new Set(t.reads.map((r) => [...whenSteps].find(([, w]) => w.commands.some((c) => c.name === r))![0]))].filter((s) => !before.has(s));
        if (missing.length > 0) {
          fail(`${p.path}.when`, `reads step ${missing.map((m) => JSON.stringify(m)).join(", ")}, which is not in depends: add it (PgQuartz evaluates such a rule before that step has run; see its issue #42)`);
        } else p.step.when = t.condition;
      }
    }
  }

  // --- checks
  const checks: Obj[] = [];
  const checkNames = new Set<string>();
  if (value.checks !== undefined && !Array.isArray(value.checks)) fail("checks", "must be a list");
  (Array.isArray(value.checks) ? value.checks : []).forEach((c, i) => {
    const path = `checks[${i}]`;
    if (!isObj(c)) { fail(path, "must be a mapping"); return; }
    const works = readWork(c, path, CHECK_KEYS);
    if (works === null) return;
    if (works.length !== 1) { fail(`${path}.batchMode`, "a check in batchMode runs several statements; write one check per statement"); return; }
    const w = works[0]!;
    const rc = c.rc === undefined ? 0 : c.rc;
    if (typeof rc !== "number" || !Number.isInteger(rc) || rc < 0 || rc > 255) { fail(`${path}.rc`, "must be a return code from 0 to 255"); return; }
    if (w.kind === "sql" && rc !== 0) { fail(`${path}.rc`, "an SQL check that expects to fail (rc other than 0) is not supported: Clockwork checks pass when the query succeeds"); return; }
    const name = safeName(typeof c.name === "string" && c.name !== "" ? c.name : `check-${i + 1}`, checkNames);
    const check: Obj = { name, ...workFields(w, readMatrix(c.matrix, `${path}.matrix`)) };
    if (w.kind === "shell" && rc !== 0) check.expected_exit_code = rc;
    const spell = (s: string) => (w.kind === "sql" ? JSON.stringify(s).slice(1, -1) : s);
    if (typeof c.expected === "string" && c.expected !== "") check.expected = [spell(c.expected)];
    if (typeof c.unexpected === "string" && c.unexpected !== "") check.unexpected = [spell(c.unexpected)];
    checks.push(check);
    pathOf.set(`check:${name}`, path);
  });

  // --- job-level settings
  let timeoutMs: number | null = null;
  if (value.timeout !== undefined && value.timeout !== "") {
    timeoutMs = typeof value.timeout === "string" ? goDurationMs(value.timeout) : null;
    if (timeoutMs === null) fail("timeout", `must be a Go duration like 1h, 75s or 1h30m, got ${JSON.stringify(value.timeout)}`);
  }
  let parallel = 1;
  if (value.parallel !== undefined) {
    if (typeof value.parallel !== "number" || !Number.isInteger(value.parallel) || value.parallel < 0) fail("parallel", "must be a whole number ≥ 0");
    else parallel = Math.max(1, value.parallel);
  }
  let git: PgQuartzRunOptions["git"] = null;
  if (isObj(value.git)) {
    if (typeof value.git.httpPassword === "string" && value.git.httpPassword !== "") {
      fail("git.httpPassword", "passwords are not read from job files: use a git credential helper or an ssh key (rsaPath)");
    }
    git = {
      remote: typeof value.git.remote === "string" && value.git.remote !== "" ? value.git.remote : "origin",
      revision: typeof value.git.revision === "string" && value.git.revision !== "" ? value.git.revision : null,
      rsaPath: typeof value.git.rsaPath === "string" && value.git.rsaPath !== "" ? value.git.rsaPath : null,
      disabled: value.git.disable === true,
    };
  } else git = { remote: "origin", revision: null, rsaPath: null, disabled: false };
  let lock: PgQuartzRunOptions["lock"] = null;
  if (isObj(value.etcdConfig)) {
    const key = typeof value.etcdConfig.lockKey === "string" && value.etcdConfig.lockKey !== "" ? value.etcdConfig.lockKey : options.jobName;
    const t = typeof value.etcdConfig.lockTimeout === "string" ? goDurationMs(value.etcdConfig.lockTimeout) : null;
    lock = { key, timeoutMs: t ?? 100 * 3_600_000 };
    notes.push(`etcdConfig: "one node at a time" is a lock held in PostgreSQL by clockwork run (key ${JSON.stringify(key)}); etcd is not used`);
  }
  for (const key of ["target", "alerts", "log"]) if (value[key] !== undefined) notes.push(`${key}: read but never used by PgQuartz; ignored`);

  const jobName = typeof cw.name === "string" ? cw.name : options.jobName.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[.-]/, "_").slice(0, 63);
  if (problems.length > 0) return { ok: false, problems };

  const policies: Obj = isObj(cw.policies) ? { ...cw.policies } : {};
  if (timeoutMs !== null && policies.timeout === undefined) policies.timeout = intervalText(timeoutMs);
  const definition: Obj = { name: jobName };
  for (const key of ["description", "enabled", "time_zone", "schedules", "node", "labels"]) if (cw[key] !== undefined) definition[key] = cw[key];
  if (Object.keys(policies).length > 0) definition.policies = policies;
  definition.steps = steps;
  if (checks.length > 0) definition.checks = checks;

  const mapPath = (p: string): string => {
    const m = /^(steps|checks)\.([^.[]+)(.*)$/.exec(p);
    if (!m) return p === "policies.timeout" ? "timeout" : p;
    const origin = pathOf.get(m[1] === "checks" ? `check:${m[2]}` : m[2]!);
    return origin ?? p;
  };
  return { ok: true, definition, notes, mapPath, run: { parallel, debug: value.debug === true, logFile: typeof value.logFile === "string" && value.logFile !== "" ? resolve(workdir, value.logFile) : null, timeoutMs, workdir, git, lock } };
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
