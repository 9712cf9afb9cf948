// The Prometheus rules on the database's own health (deploy/monitoring/clockwork-database-rules.yml)
// use only metrics that the SQL exporter query of docs/alerts.md exports, and that query runs
// on a real database and answers what the rules expect.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";

const root = new URL("../../", import.meta.url);
const rules = parse(readFileSync(new URL("deploy/monitoring/clockwork-database-rules.yml", root), "utf8")) as {
  groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string }; annotations: Record<string, string> }[] }[];
};
const doc = readFileSync(new URL("docs/alerts.md", root), "utf8");
// The exporter's configuration is a yaml block inside a list item of the page (indented).
const exporter = parse(/```yaml\n {3}(clockwork:[\s\S]*?) {3}```/.exec(doc)![1]!.replace(/^ {3}/gm, "")) as {
  clockwork: { query: string; metrics: Record<string, unknown>[] };
};
const exported = exporter.clockwork.metrics.map((m) => `clockwork_${Object.keys(m)[0]}`);

const PROMTOOL = fileURLToPath(new URL(".deps/prometheus/usr/bin/promtool", root));
const noPromtool = existsSync(PROMTOOL) ? false : "promtool is not unpacked (make deps runs build/fetch-promtool.sh)";

describe("the database-side alerting rules, with promtool", { skip: noPromtool }, () => {
  test("promtool check rules, and its unit tests: each alert fires when it should and not on a healthy scheduler", () => {
    const check = spawnSync(PROMTOOL, ["check", "rules", fileURLToPath(new URL("deploy/monitoring/clockwork-database-rules.yml", root))], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: 5 rules found/);
    const unit = spawnSync(PROMTOOL, ["test", "rules", fileURLToPath(new URL("test/monitoring/database-rules.promtool.yml", root))], { encoding: "utf8" });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  });
});

describe("the database-side alerting rules", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "rules" });
  });
  after(async () => {
    await db.drop();
  });

  test("every rule has a severity, a summary and uses only exported metrics", () => {
    const all = rules.groups.flatMap((g) => g.rules);
    assert.ok(all.length >= 4);
    for (const r of all) {
      assert.ok(["critical", "warning"].includes(r.labels.severity), r.alert);
      assert.ok(r.annotations.summary && r.annotations.description, r.alert);
      const used = r.expr.match(/\bclockwork_[a-z_]+\b/g) ?? [];
      assert.ok(used.length > 0, r.alert);
      for (const m of used) assert.ok(exported.includes(m), `${r.alert} uses ${m}, which the exporter query does not export (${exported.join(", ")})`);
    }
  });

  test("the exporter query runs as a role with no rights on any job, and says a fresh database has no supervisor", async () => {
    await db.query("DO $$ BEGIN CREATE ROLE cw_monitor LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    await db.query("SELECT clockwork.schedule('tick-tock', '* * * * *', 'SELECT 1')");
    const monitor = await db.connect({ user: "cw_monitor" });
    const { rows } = await monitor.query(exporter.clockwork.query);
    assert.equal(rows.length, 1);
    for (const m of exporter.clockwork.metrics) assert.equal(typeof rows[0][Object.keys(m)[0]!], "number", Object.keys(m)[0]);
    assert.equal(rows[0].workers_alive, 0);
    assert.equal(rows[0].scheduled_jobs, 1, "ClockworkNoSupervisorAlive's condition holds");
  });
});
