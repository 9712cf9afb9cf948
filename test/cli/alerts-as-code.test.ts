// Alerts written in job files (definitions as code): `clockwork validate` places bad alert
// settings and bad built-in arguments at their file:line offline, `clockwork apply` makes
// the job's alert rules from the file, and a channel the database does not know is placed
// in its file with nothing applied.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ERROR_KINDS } from "../../extension/src/core/errors.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();

const EXPORT = `name: nightly-export
schedules: ["0 2 * * *"]
alerts:
  missed: 10m
  failures: 3
  dead_man: 26h
  recovery: true
  to: [ops-hook]
steps:
  dump: { sql: select 1 }
`;

describe("alerts in job files", () => {
  test("validate places bad alert settings and built-in arguments at their file:line, offline", async () => {
    const dir = folder({
      "bad.yaml": [
        "name: export",
        "alerts:",
        "  failures: 0",
        "  missed: soon",
        '  to: [ops-hook, "bad name!"]',
        "steps:",
        "  call:",
        "    builtin: http",
        '    args: { url: "ftp://x", headers: { Authorization: "Bearer x" } }',
        "",
      ].join("\n"),
      "good.yaml": EXPORT,
    });
    const r = await clockwork(["validate", "bad.yaml", "good.yaml"], { cwd: dir });
    assert.equal(r.code, 3);
    const lines = r.stderr.trim().split("\n").sort();
    assert.deepEqual(lines, [
      `bad.yaml:3:3: alerts.failures: must be a whole number of failed runs in a row from 1 to 1000, got 0 [${ERROR_KINDS.invalid_alert.code}]`,
      `bad.yaml:4:3: alerts.missed: cannot read interval "soon" at "soon"; write e.g. "30s", "5m", "1h30m", "2 hours" [${ERROR_KINDS.invalid_alert.code}]`,
      `bad.yaml:5:18: alerts.to[1]: channel name "bad name!" must be 1–64 letters, digits, _ . - (not starting with . or -) [${ERROR_KINDS.invalid_alert.code}]`,
      `bad.yaml:9:13: steps.call.args.url: must be an http:// or https:// URL, got ftp: [${ERROR_KINDS.invalid_builtin.code}]`,
      `bad.yaml:9:40: steps.call.args.headers.Authorization: the Authorization header is a credential: name its variable under secret_headers instead (name an environment variable of the supervisor that starts with CLOCKWORK_SECRET_ (e.g. CLOCKWORK_SECRET_OPS_HOOK)) [${ERROR_KINDS.secret_in_definition.code}]`,
    ]);
    assert.match(r.stdout, /5 problems; 1 job valid/);
  });
});

describe("alerts in job files, applied", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli_alerts" });
  });
  after(async () => {
    await db?.drop();
  });

  test("a channel the database does not know is placed in the file, and nothing is applied", async () => {
    const dir = folder({ "jobs/export.yaml": EXPORT, "jobs/other.yaml": "name: other\nsteps:\n  a: { sql: select 1 }\n" });
    const r = await clockwork(["apply", "jobs"], { cwd: dir, databaseUrl: db.url });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`jobs/export.yaml:8:8: alerts.to[0]: unknown alert channel "ops-hook" [${ERROR_KINDS.unknown_alert_channel.code}]`), r.stderr);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs")).rows[0].n, 0);
  });

  test("apply makes the job's alert rules from the file; applying again changes nothing", async () => {
    await db.query(`select clockwork.define_alert_channel('ops-hook', 'webhook', '{"url": "http://127.0.0.1:1/alerts"}')`);
    const dir = folder({ "jobs/export.yaml": EXPORT });
    const r = await clockwork(["apply", "jobs"], { cwd: dir, databaseUrl: db.url });
    assert.equal(r.code, 0, r.stderr);
    const [rule] = (await db.query(`
      select r.missed::text, r.failures, r.dead_man::text, r.recovery, r.channels
        from clockwork.alert_rules r join clockwork.jobs j on j.id = r.job_id where j.name = 'nightly-export'`)).rows;
    assert.deepEqual(rule, { missed: "00:10:00", failures: 3, dead_man: "26:00:00", recovery: true, channels: ["ops-hook"] });
    const again = await clockwork(["apply", "jobs"], { cwd: dir, databaseUrl: db.url });
    assert.match(again.stdout, /Nothing to do\./);
    const diff = await clockwork(["diff", "jobs"], { cwd: dir, databaseUrl: db.url });
    assert.equal(diff.code, 0, diff.stdout);
  });
});
