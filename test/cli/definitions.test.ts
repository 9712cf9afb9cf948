// Definitions as code through the real binary: validate (offline, file:line), apply (plan,
// dry run, one transaction), diff (changes and drift made by SQL), export (round trip with
// comments and order), prune (only the set's own jobs), and the exit codes CI relies on.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_KINDS } from "../../extension/src/core/errors.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();

const ETL = `# Nightly ETL, owned by the data team
name: nightly-etl
time_zone: Europe/Berlin
schedules: ["30 2 * * *"]   # after the backups
steps:
  # zeta before alpha: the author's order, which jsonb would not keep
  zeta:
    sql: select 1 as n
  alpha:
    depends: [zeta]
    when: zeta.row.n > 0
    sql: select 2
`;
const CLEANUP = `name: cleanup
schedules: ["@daily"]
steps:
  vacuum: { sql: "select 3" }
`;

describe("clockwork validate", () => {
  test("reports every problem at its file:line:column with the core's message, and exits 3", async () => {
    const dir = folder({
      "jobs/bad.yaml": [
        "name: broken",
        'schedules: ["61 * * * *"]',
        "steps:",
        "  a:",
        "    sql: select 1",
        "    depends: [extrct]",
        "  b:",
        "    shel: echo hi",
        "",
      ].join("\n"),
      "jobs/good.yaml": CLEANUP,
    });
    const r = await clockwork(["validate", "jobs"], { cwd: dir });
    assert.equal(r.code, 3);
    const lines = r.stderr.trim().split("\n");
    assert.deepEqual(lines, [
      `jobs/bad.yaml:2:13: schedules[0]: field 1 (minute) "61": value 61 out of range 0–59 [${ERROR_KINDS.invalid_schedule.code}]`,
      `jobs/bad.yaml:6:15: steps.a.depends[0]: unknown step "extrct" [${ERROR_KINDS.unknown_step.code}]`,
      `jobs/bad.yaml:8:5: steps.b.shel: unknown field "shel" (did you mean "shell"?) [${ERROR_KINDS.invalid_definition.code}]`,
      `jobs/bad.yaml:7:3: steps.b: needs one of sql, shell, program or builtin [${ERROR_KINDS.invalid_definition.code}]`,
    ]);
    assert.match(r.stdout, /4 problems; 1 job valid/);
  });

  test("places problems of steps given as a list and of YAML syntax", async () => {
    const dir = folder({
      "list.yaml": "name: listed\nsteps:\n  - name: first\n    sql: select 1\n  - name: second\n    depends: [frist]\n    sql: select 2\n",
      "syntax.yaml": "name: x\nsteps:\n  a: { sql: select 1\n",
      "dup.yaml": "name: dup\nname: again\nsteps: {a: {sql: select 1}}\n",
    });
    const r = await clockwork(["validate", "list.yaml", "syntax.yaml", "dup.yaml"], { cwd: dir });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^list\.yaml:6:15: steps\.second\.depends\[0\]: unknown step "frist"/m);
    assert.match(r.stderr, /^syntax\.yaml:\d+:\d+: not valid YAML: /m);
    assert.match(r.stderr, /^dup\.yaml:2:1: not valid YAML: Map keys must be unique/m);
  });

  test("says the same as define_job for the same definition", async (t) => {
    if (missing) return t.skip(missing);
    const db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli" });
    try {
      const text = "name: same\nsteps:\n  a: { sql: select 1, when: 'b.status = 1' }\n  b: { sql: select 2 }\n";
      const dir = folder({ "same.yaml": text });
      const r = await clockwork(["validate", "same.yaml"], { cwd: dir });
      const fromDb = await db.query("select clockwork.define_job($1::text)", [text]).then(() => "", (e: Error) => e.message);
      const fromCli = r.stderr.trim().split("\n")[0]!.replace(/^same\.yaml:\d+:\d+: /, "").replace(/ \[[A-Z0-9]{5}\]$/, "");
      assert.equal(fromCli, fromDb);
    } finally {
      await db.drop();
    }
  });

  test("wrong arguments exit 2", async () => {
    assert.equal((await clockwork(["validate"])).code, 2);
    assert.equal((await clockwork(["validate", "--frobnicate", "x"])).code, 2);
    assert.equal((await clockwork(["validate", "/no/such/file.yaml"])).code, 2);
    const help = await clockwork(["validate", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /exit codes: 0 valid/);
  });
});

describe("clockwork apply, diff and export", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;
  const cli = (args: string[]) => clockwork(args, { cwd: dir, databaseUrl: db.url });
  const jobs = async () => (await db.query("select job, version, enabled, managed_by, applied_from from clockwork.job_definitions order by job")).rows;

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli" });
    dir = folder({ "jobs/etl.yaml": ETL, "jobs/more.yaml": `${CLEANUP}---\n# the second document\nname: report\nsteps:\n  r: { sql: select 4 }\n` });
  });
  after(async () => {
    await db.drop();
  });

  test("--dry-run prints the plan and creates nothing", async () => {
    const r = await cli(["apply", "--dry-run", "jobs"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\+ create +nightly-etl +jobs\/etl\.yaml:2/m);
    assert.match(r.stdout, /^\+ create +report +jobs\/more\.yaml:7/m);
    assert.match(r.stdout, /Plan: 3 to create, 0 to change/);
    assert.match(r.stdout, /Dry run: nothing applied/);
    assert.deepEqual(await jobs(), []);
  });

  test("apply creates the jobs, managed by the set; applying again is a no-op", async () => {
    const r = await cli(["apply", "jobs"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Applied\./);
    assert.deepEqual((await jobs()).map((j) => [j.job, j.version, j.managed_by]), [["cleanup", 1, "default"], ["nightly-etl", 1, "default"], ["report", 1, "default"]]);
    const again = await cli(["apply", "jobs"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /0 to create, 0 to change, 0 stale .* 3 unchanged/);
    assert.match(again.stdout, /Nothing to do\./);
    const diff = await cli(["diff", "jobs"]);
    assert.equal(diff.code, 0, diff.stdout);
  });

  test("export gives back the text as written, and applying the export changes nothing", async () => {
    const one = await cli(["export", "nightly-etl"]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, ETL, "comments, flow style and the step order survive");
    const all = await cli(["export", "--dir", "exported"]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(readFileSync(join(dir, "exported", "report.yaml"), "utf8"), "# the second document\nname: report\nsteps:\n  r: { sql: select 4 }\n");
    const reapplied = await cli(["apply", "exported"]);
    assert.equal(reapplied.code, 0, reapplied.stderr);
    assert.match(reapplied.stdout, /0 to create, 0 to change, 0 stale .* 3 unchanged/);
    assert.deepEqual((await jobs()).map((j) => j.version), [1, 1, 1], "no new versions");
  });

  test("a job defined as jsonb exports in the documented key order and round-trips", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ steps: { b: { sql: "select 1" }, a: { depends: ["b"], sql: "select 2" } }, schedules: ["@hourly"], name: "by-sql" })]);
    const r = await cli(["export", "by-sql"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^name: by-sql\nschedules: \["@hourly"\]\nsteps:\n/);
    writeFileSync(join(dir, "by-sql.yaml"), r.stdout);
    const applied = await cli(["apply", "--set", "adopted", "by-sql.yaml"]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /= unchanged by-sql .*adopted: it was made by SQL/);
    const row = (await jobs()).find((j) => j.job === "by-sql");
    assert.equal(row.version, 1);
    assert.equal(row.managed_by, "adopted");
  });

  test("diff shows drift made by SQL, exits 4, and apply puts the files' version back", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "cleanup", schedules: ["@hourly"], steps: { vacuum: { sql: "select 3" } } })]);
    await db.query("select clockwork.disable_job('report')");
    const diff = await cli(["diff", "jobs"]);
    assert.equal(diff.code, 4);
    assert.match(diff.stdout, /~ change +cleanup[\s\S]*drift: changed in the database by postgres at .* \(version 2\), not by these files/);
    assert.match(diff.stdout, /- schedules: \["@hourly"\]\n +\+ schedules: \["@daily"\]/);
    assert.match(diff.stdout, /~ change +report[\s\S]*drift: disabled in the database/);
    const applied = await cli(["apply", "jobs"]);
    assert.equal(applied.code, 0, applied.stderr);
    const rows = await jobs();
    assert.equal(rows.find((j) => j.job === "cleanup").version, 3);
    assert.equal(rows.find((j) => j.job === "cleanup").applied_from, "default");
    assert.equal(rows.find((j) => j.job === "report").enabled, true);
    assert.equal((await cli(["diff", "jobs"])).code, 0);
  });

  test("a changed file shows as a change with its diff, without drift", async () => {
    writeFileSync(join(dir, "jobs/etl.yaml"), ETL.replace("select 2", "select 22"));
    const diff = await cli(["diff", "jobs"]);
    assert.equal(diff.code, 4);
    assert.match(diff.stdout, /~ change +nightly-etl/);
    assert.doesNotMatch(diff.stdout, /drift/);
    assert.match(diff.stdout, /- +sql: select 2\n +\+ +sql: select 22/);
    assert.equal((await cli(["apply", "jobs"])).code, 0);
  });

  test("--prune deletes only the set's own jobs, never one made by SQL or another set's", async () => {
    await db.query("select clockwork.schedule('handmade', '@hourly', 'select 1')");
    writeFileSync(join(dir, "jobs/more.yaml"), CLEANUP);
    const stale = await cli(["apply", "jobs"]);
    assert.match(stale.stdout, /- stale +report/);
    assert.ok((await jobs()).some((j) => j.job === "report"), "not deleted without --prune");
    const pruned = await cli(["apply", "--prune", "jobs"]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /- delete +report/);
    assert.deepEqual((await jobs()).map((j) => j.job), ["by-sql", "cleanup", "handmade", "nightly-etl"]);
  });

  test("a job of another set is refused with its place, and nothing is applied", async () => {
    const other = folder({ "x.yaml": "name: by-sql\nsteps:\n  a: { sql: select 9 }\n", "new.yaml": "name: brand-new\nsteps:\n  a: { sql: select 1 }\n" });
    const r = await clockwork(["apply", "."], { cwd: other, databaseUrl: db.url });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^x\.yaml:1:1: name: job "by-sql" is managed by the set "adopted": apply it with --set adopted/m);
    assert.ok(!(await jobs()).some((j) => j.job === "brand-new"));
  });

  test("a definition the database refuses is placed in its file, and nothing is half-applied", async () => {
    await db.query("create role cli_user login");
    await db.query("grant usage on schema public to cli_user");
    const files = folder({
      "a.yaml": "name: first-ok\nsteps:\n  a: { sql: select 1 }\n",
      "b.yaml": "name: second-bad\nsteps:\n  ok: { sql: select 1 }\n  sh:\n    shell: rm -rf /tmp/x\n",
    });
    const url = db.url.replace("postgres@", "cli_user@");
    const r = await clockwork(["apply", "."], { cwd: files, databaseUrl: url });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`b.yaml:5:5: steps.sh.shell: shell steps may only be defined by roles granted clockwork_shell [${ERROR_KINDS.shell_not_allowed.code}]`), r.stderr);
    assert.match(r.stderr, /the database refused job "second-bad"; nothing was applied/);
    assert.ok(!(await jobs()).some((j) => j.job === "first-ok"), "the first job was rolled back too");
  });

  test("no database: exit 5", async () => {
    const r = await clockwork(["diff", "jobs"], { cwd: dir, databaseUrl: "postgres://nobody@127.0.0.1:1/none" });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /cannot connect to the database/);
  });
});
