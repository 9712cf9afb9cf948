// Monitoring as documented: the alerting rules pass promtool's check and its unit tests
// (alerts.promtool.yml), the Grafana dashboard's queries parse (promtool) and name only
// metrics the supervisor exposes, and every SQL query of docs/monitoring.md runs against a
// real database and finds what it is meant to find.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { SupervisorMetrics } from "../../supervisor/src/metrics.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, ROOT } from "../e2e/support.ts";

const PROMTOOL = join(ROOT, ".deps", "prometheus", "usr", "bin", "promtool");
const noPromtool = existsSync(PROMTOOL) ? false : "promtool is not unpacked (make deps runs build/fetch-promtool.sh)";
const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/monitoring/grafana-dashboard.json"), "utf8")) as {
  uid: string;
  panels: Array<{ id: number; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets: Array<{ expr: string; refId: string }> }>;
  templating: { list: Array<{ name: string }> };
};

function promtool(...args: string[]) {
  return spawnSync(PROMTOOL, args, { encoding: "utf8" });
}

/** Metric names the supervisor exposes, with the series names of its histograms. */
async function exposedMetrics(): Promise<Set<string>> {
  const metrics = new SupervisorMetrics();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}

/** The metric names a PromQL expression reads (ours all start with clockwork_). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(clockwork_[a-z_]+)\b/g)].map((m) => m[1]!);
}

describe("Prometheus alerting rules", { skip: noPromtool }, () => {
  test("promtool check rules", () => {
    const result = promtool("check", "rules", join(ROOT, "deploy/monitoring/prometheus-rules.yml"));
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS: 7 rules found/);
  });
  test("promtool test rules: each alert fires when it should and not on a healthy supervisor", () => {
    const result = promtool("test", "rules", join(ROOT, "test/monitoring/alerts.promtool.yml"));
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS/);
  });
  test("the rules read only metrics the supervisor exposes", async () => {
    const exposed = await exposedMetrics();
    const text = readFileSync(join(ROOT, "deploy/monitoring/prometheus-rules.yml"), "utf8");
    for (const name of metricNames(text)) assert.ok(exposed.has(name), `${name} is not a metric of the supervisor`);
  });
});

describe("the Grafana dashboard", () => {
  test("is importable JSON: a uid, unique panel ids, panels that do not overlap, a data source variable", () => {
    assert.equal(dashboard.uid, "clockwork-supervisors");
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const [i, a] of dashboard.panels.entries()) {
      for (const b of dashboard.panels.slice(i + 1)) {
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        assert.ok(!overlap, `panels "${a.title}" and "${b.title}" overlap`);
      }
      assert.ok(a.gridPos.x + a.gridPos.w <= 24, `${a.title} fits the 24-column grid`);
    }
    assert.deepEqual(dashboard.templating.list.map((v) => v.name), ["datasource", "instance"]);
  });

  test("every query names metrics the supervisor exposes", async () => {
    const exposed = await exposedMetrics();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const names = metricNames(target.expr);
        assert.ok(names.length > 0, `${panel.title}: ${target.expr}`);
        for (const name of names) assert.ok(exposed.has(name), `${panel.title}: ${name} is not a metric of the supervisor`);
      }
    }
  });

  test("every query parses (as a recording rule, by promtool)", { skip: noPromtool }, () => {
    const dir = mkdtempSync(join(tmpdir(), "clockwork-dashboard-"));
    try {
      const rules = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({
        record: `dashboard:panel_${panel.id}_${target.refId}`,
        // Grafana's variables, as Grafana substitutes them.
        expr: target.expr.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*"),
      })));
      const file = join(dir, "dashboard-rules.yml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      const result = promtool("check", "rules", file);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      // A broken query is caught the same way (the check can fail).
      writeFileSync(file, stringify({ groups: [{ name: "broken", rules: [{ record: "x:y", expr: "sum by (le (rate(x[5m]))" }] }] }));
      assert.notEqual(promtool("check", "rules", file).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const missing = await extensionMissing();

describe("the SQL queries of docs/monitoring.md", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  const queries = [...readFileSync(join(ROOT, "docs/monitoring.md"), "utf8").matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "monitoring" });
    // History to find: a failed run, a succeeded one, a long-running one, an overdue job,
    // a retried step, a live supervisor and a silent one.
    await db.query(`INSERT INTO clockwork.workers (name, host, heartbeat_at) VALUES
      ('alive', 'h1', now()), ('silent', 'h2', now() - interval '10 minutes')`);
    for (const name of ["ok-job", "bad-job", "slow-job", "late-job"]) {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name, schedules: ["0 3 * * *"], steps: [{ name: "s", sql: "SELECT 1" }] })]);
    }
    await db.query("UPDATE clockwork.schedules SET next_fire_at = now() - interval '1 hour' WHERE job_id = (SELECT id FROM clockwork.jobs WHERE name = 'late-job')");
    const run = async (job: string, state: string, startedAgo: string, finished: boolean, attempt = 1) => {
      const id = (await db.query(
        `INSERT INTO clockwork.runs (job_id, job_version, trigger, state, created_at, queued_at, started_at, finished_at)
         SELECT id, version, 'manual', $2, now() - $3::interval, now() - $3::interval, now() - $3::interval, CASE WHEN $4 THEN now() END
           FROM clockwork.jobs WHERE name = $1 RETURNING id`, [job, state, startedAgo, finished])).rows[0].id;
      await db.query(
        `INSERT INTO clockwork.step_runs (run_id, step, instance, kind, attempt, state, worker_id, started_at, finished_at, lease_expires_at, error)
         SELECT $1, 's', 's', 'sql', $2, $3, (SELECT id FROM clockwork.workers WHERE name = 'alive'), now() - $4::interval,
                CASE WHEN $5 THEN now() END, CASE WHEN NOT $5 THEN now() + interval '30 seconds' END,
                CASE WHEN $3 = 'failed' THEN 'division by zero' END`, [id, attempt, state === "running" ? "running" : state, startedAgo, finished]);
      return id;
    };
    await run("ok-job", "succeeded", "1 minute", true, 2);
    await run("bad-job", "failed", "2 minutes", true);
    await run("slow-job", "running", "2 hours", false);
  });
  after(async () => {
    await db?.drop();
  });

  test("there are seven queries and each one runs", async () => {
    assert.equal(queries.length, 7);
    for (const sql of queries) await db.query(sql);
  });

  test("each finds what it is for", async () => {
    const rows = async (i: number) => (await db.query(queries[i]!)).rows;
    assert.deepEqual((await rows(0)).map((r) => [r.job, r.last_run_state]), [["bad-job", "failed"]]);
    assert.deepEqual((await rows(1)).map((r) => r.job), ["late-job"]);
    assert.deepEqual((await rows(2)).map((r) => r.job), ["slow-job"]);
    const perJob = Object.fromEntries((await rows(3)).map((r) => [r.job, r]));
    assert.equal(perJob["bad-job"].failed, "1");
    assert.equal(perJob["ok-job"].success_pct, "100.0");
    assert.deepEqual((await rows(4)).map((r) => [r.job, r.error]), [["bad-job", "division by zero"]]);
    assert.deepEqual((await rows(5)).map((r) => [r.job, r.most_attempts]), [["ok-job", 2]]);
    assert.deepEqual((await rows(6)).map((r) => [r.name, r.status]), [["alive", "alive"], ["silent", "silent"]]);
  });
});
