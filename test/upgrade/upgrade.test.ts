// Upgrading a live installation from the previous release: release 1.0 is built from the
// git history (git archive of its commit, built with this checkout's node_modules) and
// installed; its own supervisor runs jobs; a supervisor of this version waits, refusing
// the old extension; ALTER EXTENSION clockwork UPDATE runs while both supervisors run.
// Then: the old supervisor is refused, the new one takes over, jobs keep firing, history
// is kept, a definition this version cannot read stops only its own job, and the upgraded
// schema (tables, columns, constraints, indexes, functions, views, comments, grants,
// policies, extension members) equals a fresh install's.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { pgConfig } from "../support/cluster.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS, RUNTIME } from "../support/runtime.ts";
import { extensionMissing, ROOT, startSupervisor, stopAllSupervisors, waitFor, type LogLine, type SupervisorProcess } from "../e2e/support.ts";

/** The previous release: the commit that was main's head when 1.0 was released. */
const PREVIOUS = { version: "1.0", commit: "faca108" };
const CURRENT = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version.split(".").slice(0, 2).join(".");

const missing = await extensionMissing();

/** Why the previous release cannot be built here (said loudly: this test never passes by doing nothing). */
function previousReleaseMissing(): string | null {
  const found = spawnSync("git", ["-C", ROOT, "cat-file", "-e", `${PREVIOUS.commit}^{commit}`], { encoding: "utf8" });
  if (found.status === 0) return null;
  const shallow = spawnSync("git", ["-C", ROOT, "rev-parse", "--is-shallow-repository"], { encoding: "utf8" }).stdout.trim();
  return `release ${PREVIOUS.version} (commit ${PREVIOUS.commit}) is not in this clone${shallow === "true" ? " (a shallow clone)" : ""}: ` +
    "the upgrade test builds it from the git history; run it in a full clone (git fetch --unshallow)";
}

/** A snapshot of everything the extension defines in schema clockwork, data excluded (privileges sorted: their order means nothing). */
const SNAPSHOT_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = 'clockwork'),
     ext AS (SELECT oid FROM pg_extension WHERE extname = 'clockwork')
SELECT jsonb_build_object(
  'schema', (SELECT jsonb_build_object('acl', (SELECT array_agg(x ORDER BY x) FROM unnest(nspacl::text[]) AS x), 'comment', obj_description(oid, 'pg_namespace')) FROM pg_namespace WHERE oid = (SELECT oid FROM ns)),
  'relations', (SELECT jsonb_agg(jsonb_build_object('name', c.relname, 'kind', c.relkind, 'rls', c.relrowsecurity, 'force_rls', c.relforcerowsecurity,
                                                    'acl', (SELECT array_agg(x ORDER BY x) FROM unnest(c.relacl::text[]) AS x), 'options', c.reloptions, 'comment', obj_description(c.oid, 'pg_class')) ORDER BY c.relname)
                  FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')),
  -- By name: PostgreSQL appends the columns an upgrade adds, so their order may differ.
  'columns', (SELECT jsonb_agg(jsonb_build_object('rel', c.relname, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                                  'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity,
                                                  'generated', a.attgenerated, 'collation', a.attcollation::regcollation::text, 'acl', (SELECT array_agg(x ORDER BY x) FROM unnest(a.attacl::text[]) AS x),
                                                  'comment', col_description(c.oid, a.attnum)) ORDER BY c.relname, a.attname)
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped),
  'constraints', (SELECT jsonb_agg(jsonb_build_object('rel', c.relname, 'name', k.conname, 'type', k.contype, 'def', pg_get_constraintdef(k.oid),
                                                      'deferrable', k.condeferrable, 'comment', obj_description(k.oid, 'pg_constraint')) ORDER BY c.relname, k.conname)
                    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = (SELECT oid FROM ns)),
  'indexes', (SELECT jsonb_agg(jsonb_build_object('name', ic.relname, 'def', pg_get_indexdef(i.indexrelid), 'comment', obj_description(ic.oid, 'pg_class')) ORDER BY ic.relname)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE ic.relnamespace = (SELECT oid FROM ns)),
  'functions', (SELECT jsonb_agg(jsonb_build_object('signature', p.oid::regprocedure::text, 'def', pg_get_functiondef(p.oid), 'owner', p.proowner::regrole::text,
                                                    'acl', (SELECT array_agg(x ORDER BY x) FROM unnest(p.proacl::text[]) AS x), 'comment', obj_description(p.oid, 'pg_proc')) ORDER BY p.oid::regprocedure::text)
                  FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)),
  'views', (SELECT jsonb_agg(jsonb_build_object('name', c.relname, 'def', pg_get_viewdef(c.oid)) ORDER BY c.relname)
              FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('v', 'm')),
  'policies', (SELECT jsonb_agg(jsonb_build_object('table', tablename, 'name', policyname, 'permissive', permissive, 'roles', roles, 'cmd', cmd,
                                                   'qual', qual, 'with_check', with_check) ORDER BY tablename, policyname)
                 FROM pg_policies WHERE schemaname = 'clockwork'),
  'triggers', (SELECT jsonb_agg(pg_get_triggerdef(t.oid) ORDER BY c.relname, t.tgname)
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT t.tgisinternal),
  'types', (SELECT jsonb_agg(jsonb_build_object('name', t.typname, 'kind', t.typtype, 'comment', obj_description(t.oid, 'pg_type')) ORDER BY t.typname)
              FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typtype IN ('c', 'd', 'e', 'r')
               AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')),
  'members', (SELECT jsonb_agg(pg_describe_object(d.classid, d.objid, d.objsubid) ORDER BY pg_describe_object(d.classid, d.objid, d.objsubid))
                FROM pg_depend d WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM ext) AND d.deptype = 'e'),
  'version', (SELECT extversion FROM pg_extension WHERE oid = (SELECT oid FROM ext))
) AS snapshot`;

/** Readable differences of one part of two snapshots: what only one has, and what differs in what. */
function differences(part: string, upgraded: unknown, fresh: unknown): string[] {
  if (JSON.stringify(upgraded) === JSON.stringify(fresh)) return [];
  if (!Array.isArray(upgraded) || !Array.isArray(fresh)) return [`${part}: ${JSON.stringify(upgraded)} ≠ fresh ${JSON.stringify(fresh)}`];
  const key = (o: unknown) => (typeof o === "object" && o !== null
    ? String((o as Record<string, unknown>).signature ?? [(o as Record<string, unknown>).rel, (o as Record<string, unknown>).table, (o as Record<string, unknown>).name].filter(Boolean).join("."))
    : String(o));
  const a = new Map(upgraded.map((o) => [key(o), o]));
  const b = new Map(fresh.map((o) => [key(o), o]));
  const out: string[] = [];
  for (const k of a.keys()) if (!b.has(k)) out.push(`${part}: ${k} only in the upgraded install`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${part}: ${k} missing from the upgraded install`);
  for (const [k, x] of a) {
    const y = b.get(k);
    if (y === undefined || JSON.stringify(x) === JSON.stringify(y)) continue;
    const fields = typeof x === "object" && x !== null ? Object.keys(x as object) : [""];
    for (const f of fields) {
      const xv = JSON.stringify((x as Record<string, unknown>)[f]);
      const yv = JSON.stringify((y as Record<string, unknown>)[f]);
      if (xv === yv) continue;
      let at = 0;
      while (at < xv.length && xv[at] === yv[at]) at++;
      out.push(`${part}: ${k}.${f} differs at ${at}: upgraded …${xv.slice(Math.max(0, at - 40), at + 80)}… fresh …${yv.slice(Math.max(0, at - 40), at + 80)}…`);
    }
  }
  return out;
}

const notReady = missing ?? previousReleaseMissing() ??
  (CURRENT === PREVIOUS.version ? `package.json's version is still ${PREVIOUS.version}: there is no upgrade to test (and its install script must not be replaced)` : null);

describe(`upgrading from ${PREVIOUS.version} to ${CURRENT} under running supervisors`, () => {
  // The history check is its own test so that a clone without it fails with its reason.
  test(`release ${PREVIOUS.version} can be built from the git history`, { skip: missing ?? false }, () => {
    const reason = previousReleaseMissing();
    assert.equal(reason, null, reason ?? "");
  });

  describe("the upgrade", { skip: notReady ?? false }, () => {
    let work: string;
    let oldScript: string;
    let db: TestDatabase;
    let fresh: TestDatabase;
    let oldSupervisor: ChildProcess | undefined;
    const oldLogs: LogLine[] = [];
    let newSupervisor: SupervisorProcess;

    before(async () => {
      // Release 1.0, as it was, built with this checkout's packages.
      work = mkdtempSync(join(tmpdir(), "clockwork-upgrade-"));
      const tree = join(work, `clockwork-${PREVIOUS.version}`);
      mkdirSync(tree);
      execFileSync("sh", ["-c", `git -C '${ROOT}' archive --format=tar ${PREVIOUS.commit} | tar -x -C '${tree}'`]);
      symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
      execFileSync(process.execPath, ["--import", "tsx", "build/bundle.ts"], { cwd: tree, stdio: ["ignore", "pipe", "pipe"] });
      // Its install script beside this version's files, as a machine that had 1.0 has it.
      oldScript = join(pgConfig("--sharedir"), "extension", `clockwork--${PREVIOUS.version}.sql`);
      copyFileSync(join(tree, "dist", "extension", `clockwork--${PREVIOUS.version}.sql`), oldScript);
      assert.ok(existsSync(join(pgConfig("--sharedir"), "extension", `clockwork--${PREVIOUS.version}--${CURRENT}.sql`)), "make install wrote the upgrade script");

      db = await createTestDatabase({ prefix: "upgrade" });
      await db.query(`CREATE EXTENSION ${RUNTIME}`);
      await db.query(`CREATE EXTENSION clockwork VERSION '${PREVIOUS.version}'`);
      fresh = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "upgrade_fresh" });

      // 1.0's supervisor, from 1.0's tree (its launcher runs the TypeScript through tsx).
      oldSupervisor = spawn(process.execPath, [join(tree, "supervisor/bin/clockwork.js"), "supervisor", "--name", "supervisor-1.0",
        "--http-port", "off", "--log-level", "debug"], { cwd: tree, env: { ...process.env, DATABASE_URL: db.url }, stdio: ["ignore", "pipe", "pipe"] });
      let buffered = "";
      oldSupervisor.stdout!.setEncoding("utf8").on("data", (data: string) => {
        buffered += data;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            oldLogs.push(JSON.parse(line) as LogLine);
          } catch {
            oldLogs.push({ level: "raw", msg: line });
          }
        }
      });
    });

    after(async () => {
      oldSupervisor?.kill("SIGKILL");
      await stopAllSupervisors();
      await db?.drop();
      await fresh?.drop();
      if (oldScript) rmSync(oldScript, { force: true });
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const beats = async (job: string, since?: Date) =>
      (await db.query("SELECT count(*)::int AS n FROM beats WHERE job = $1 AND at > coalesce($2::timestamptz, '-infinity')", [job, since ?? null])).rows[0].n as number;

    test(`jobs run on ${PREVIOUS.version}; a ${CURRENT} supervisor refuses that extension and waits`, async () => {
      assert.equal((await db.query("SELECT extversion FROM pg_extension WHERE extname = 'clockwork'")).rows[0].extversion, PREVIOUS.version);
      await db.query("CREATE TABLE beats (job text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
      await db.query("GRANT INSERT ON beats TO PUBLIC");
      for (const name of ["every-second", "unreadable-later"]) {
        await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
          name, schedules: ["* * * * * *"], steps: [{ name: "beat", sql: `INSERT INTO beats (job) VALUES ('${name}')` }],
        })]);
      }
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: "two-steps", schedules: [], steps: [{ name: "a", shell: "echo one" }, { name: "b", depends: ["a"], sql: "SELECT 2" }],
      })]);
      await waitFor(`beats fired by the ${PREVIOUS.version} supervisor`, async () => (await beats("every-second")) >= 3, 30_000);
      const manual = (await db.query("SELECT clockwork.run_now('two-steps') AS id")).rows[0].id;
      await waitFor("the manual run", async () =>
        (await db.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [manual])).rows[0]?.state === "succeeded", 30_000);

      newSupervisor = startSupervisor(db.url, { name: `supervisor-${CURRENT}` });
      const refusal = await newSupervisor.waitForLog("refusal of the old extension", (l) => /the clockwork extension in this database is version/.test(l.msg));
      assert.equal(refusal.level, "error");
      assert.match(refusal.msg, new RegExp(`version ${PREVIOUS.version.replace(".", "\\.")}; this supervisor \\(${CURRENT.replace(".", "\\.")}\\.\\d+\\) works with ${CURRENT.replace(".", "\\.")} only: run ALTER EXTENSION clockwork UPDATE`));
      const ready = await fetch(`http://127.0.0.1:${await newSupervisor.port()}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /ALTER EXTENSION clockwork UPDATE/);
      assert.ok(!newSupervisor.logs.some((l) => l.msg === "worker registered"));
    });

    test("ALTER EXTENSION clockwork UPDATE under both supervisors: the new one takes over, the old one is refused, history is kept", async () => {
      const before = (await db.query("SELECT id, state, slot_at, trigger FROM clockwork.runs ORDER BY id")).rows;
      const versionsBefore = (await db.query("SELECT job_id, version, definition FROM clockwork.job_versions ORDER BY job_id, version")).rows;
      const client = await db.connect();
      await client.query("BEGIN");
      await client.query("ALTER EXTENSION clockwork UPDATE");
      // A definition stored by an older version that this one cannot read (here: made so by
      // hand, in the same transaction, so no session reads it before): it must stop only its job.
      await client.query(`UPDATE clockwork.job_versions SET definition = definition || '{"steps": "no longer a list"}'
                           WHERE job_id = (SELECT id FROM clockwork.jobs WHERE name = 'unreadable-later')`);
      await client.query("COMMIT");
      await client.query("NOTIFY clockwork_wakeup");
      const updatedAt = new Date();
      assert.equal((await db.query("SELECT extversion FROM pg_extension WHERE extname = 'clockwork'")).rows[0].extversion, CURRENT);
      assert.match((await db.query("SELECT clockwork.version() AS v")).rows[0].v, new RegExp(`^${CURRENT.replace(".", "\\.")} `));

      await newSupervisor.waitForLog("registration after the update", (l) => l.msg === "worker registered", 30_000);
      await waitFor("the old supervisor refused", () => oldLogs.find((l) => /incompatible supervisor/.test(JSON.stringify(l))), 30_000);
      const refusal = JSON.stringify(oldLogs.find((l) => /incompatible supervisor/.test(JSON.stringify(l))));
      assert.match(refusal, new RegExp(`this database has clockwork ${CURRENT.replace(".", "\\.")}`));
      assert.match(refusal, new RegExp(SQLSTATE.incompatible_version));
      await waitFor("beats after the update", async () => (await beats("every-second", updatedAt)) >= 3, 30_000);

      // Who ran the steps after the update: only the new supervisor (after the old one's
      // last tick, which may have been just before the update committed).
      const lastOld = (await db.query(`SELECT max(s.started_at) AS at FROM clockwork.step_runs s JOIN clockwork.workers w ON w.id = s.worker_id
                                        WHERE w.name = 'supervisor-${PREVIOUS.version}'`)).rows[0].at as Date;
      assert.ok(lastOld.getTime() < updatedAt.getTime() + 2000, "the old supervisor started nothing after the update");
      const newRuns = (await db.query(`SELECT count(*)::int AS n FROM clockwork.step_runs s JOIN clockwork.workers w ON w.id = s.worker_id
                                        WHERE w.name = $1`, [`supervisor-${CURRENT}`])).rows[0].n;
      assert.ok(newRuns >= 3);

      // The unreadable job stopped, with its reason; the others did not.
      const broken = (await db.query(`SELECT sc.next_fire_at, array_agg(DISTINCT k.reason) AS reasons
                                        FROM clockwork.schedules sc JOIN clockwork.jobs j ON j.id = sc.job_id
                                        LEFT JOIN clockwork.skipped_slots k ON k.schedule_id = sc.id
                                       WHERE j.name = 'unreadable-later' GROUP BY sc.next_fire_at`)).rows;
      assert.equal(broken.length, 1);
      assert.equal(broken[0].next_fire_at, null, "the unreadable job's schedule stopped");
      assert.ok(broken[0].reasons.includes("definition_unreadable"), JSON.stringify(broken));
      assert.equal(await beats("unreadable-later", new Date(updatedAt.getTime() + 2000)), 0);

      // History: every run from before is there, unchanged unless it was still going.
      const afterRows = new Map((await db.query("SELECT id, state, slot_at, trigger FROM clockwork.runs")).rows.map((r) => [r.id, r]));
      for (const run of before) {
        const now = afterRows.get(run.id);
        assert.ok(now, `run ${run.id} kept`);
        if (["succeeded", "failed", "cancelled"].includes(run.state)) assert.deepEqual(now, run);
      }
      const versionsAfter = (await db.query("SELECT job_id, version FROM clockwork.job_versions ORDER BY job_id, version")).rows;
      assert.deepEqual(versionsAfter, versionsBefore.map(({ job_id, version }) => ({ job_id, version })), "every job version kept");
      assert.equal(await newSupervisor.stop(), 0);
      oldSupervisor!.kill("SIGTERM");
    });

    test(`the upgraded schema equals a fresh ${CURRENT} install`, async () => {
      const upgraded = (await db.query(SNAPSHOT_SQL)).rows[0].snapshot;
      const installed = (await fresh.query(SNAPSHOT_SQL)).rows[0].snapshot;
      assert.equal(upgraded.version, CURRENT);
      const problems = Object.keys(installed).flatMap((part) => differences(part, upgraded[part], installed[part]));
      assert.deepEqual(problems, [], `the upgraded install differs from a fresh one:\n${problems.join("\n")}`);
    });

    test("the comparison sees a difference (it can fail)", async () => {
      const client = await db.connect();
      await client.query("BEGIN");
      await client.query("COMMENT ON COLUMN clockwork.jobs.name IS 'changed'");
      const changed = (await client.query(SNAPSHOT_SQL)).rows[0].snapshot;
      await client.query("ROLLBACK");
      const installed = (await fresh.query(SNAPSHOT_SQL)).rows[0].snapshot;
      assert.notDeepEqual(changed.columns, installed.columns);
    });
  });
});
