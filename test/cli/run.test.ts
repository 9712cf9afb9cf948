// clockwork run FILE through the real binary: exit codes for success, a failed step and a
// failed check; a PgQuartz job file run as it is (commands in order, matrix, depends, when
// rules over Rc and StdOut, SQL output as {column}={value}, checks, the lock); the
// operator commands on the history it leaves.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();

const JOB = `name: oneshot
parameters: { region: eu }
steps:
  extract:
    sql: select 41 + 1 as n, :region::text as region
  report:
    depends: [extract]
    shell: |
      echo "extracted for $region"
      echo "a warning" >&2
  last:
    depends: [report]
    shell: exit 0
checks:
  - name: has-rows
    sql: select 'OK' as status
    expected: [OK]
`;

describe("clockwork run", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;
  const run = (args: string[]) => clockwork(["run", ...args], { cwd: dir, databaseUrl: db.url });

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli" });
    dir = folder({
      "ok.yaml": JOB,
      "step-fails.yaml": JOB.replace("exit 0", "exit 3"),
      "check-fails.yaml": JOB.replace("expected: [OK]", "expected: [MISSING]"),
      "invalid.yaml": "name: invalid\nsteps:\n  a: { sql: select 1, depends: [nope] }\n",
    });
  });
  after(async () => {
    await db.drop();
  });

  test("a run that succeeds streams its steps and output and exits 0", async () => {
    const r = await run(["ok.yaml", "--param", "region=us"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^run \d+ of oneshot\.run \(ok\.yaml\)$/m);
    assert.match(r.stdout, /extract │ \[\{"n":42,"region":"us"\}\]/);
    assert.match(r.stdout, /report │ extracted for us/);
    assert.match(r.stdout, /report ┃ a warning/);
    assert.match(r.stdout, /✔ check has-rows succeeded/);
    assert.match(r.stdout, /oneshot\.run succeeded in .* \(4 succeeded, 0 failed of 4\)/);
    const history = await db.query("select state, trigger from clockwork.run_history where job = 'oneshot.run'");
    assert.deepEqual(history.rows, [{ state: "succeeded", trigger: "manual" }]);
    const worker = await db.query("select dedicated, stopped_at is not null as stopped from clockwork.workers");
    assert.deepEqual(worker.rows, [{ dedicated: true, stopped: true }], "its in-process worker was dedicated, and released");
  });

  test("a failed step exits 1 with the step's failure", async () => {
    const r = await run(["step-fails.yaml"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✘ last failed .*: exit code 3/);
    assert.match(r.stdout, /failed in .*: step "last" failed with exit code 3/);
  });

  test("a failed check exits 1", async () => {
    const r = await run(["check-fails.yaml", "--json"]);
    assert.equal(r.code, 1);
    const final = JSON.parse(r.stdout);
    assert.equal(final.state, "failed");
    assert.match(final.reason, /has-rows/);
  });

  test("an invalid file exits 3 with its place; a wrong parameter is refused by the database", async () => {
    const r = await run(["invalid.yaml"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^invalid\.yaml:3:33: steps\.a\.depends\[0\]: unknown step "nope"/m);
    const p = await run(["ok.yaml", "--param", "regoin=x"]);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /has no parameter "regoin" \(did you mean "region"\?\)/);
  });

  test("history, status and next show what the runs left", async () => {
    const h = await clockwork(["history", "oneshot.run"], { databaseUrl: db.url });
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /^RUN +JOB +TRIGGER/);
    assert.match(h.stdout, /oneshot\.run +manual +- +failed/);
    assert.match(h.stdout, /oneshot\.run +manual +- +succeeded/);
    const runId = /^(\d+) +oneshot\.run +manual +- +succeeded/m.exec(h.stdout)![1]!;
    const steps = await clockwork(["history", "--run", runId], { databaseUrl: db.url });
    assert.match(steps.stdout, /check has-rows +1 +succeeded/);
    const s = await clockwork(["status", "--json"], { databaseUrl: db.url });
    assert.equal(JSON.parse(s.stdout)[0].job, "oneshot.run");
    assert.equal((await clockwork(["history", "nope"], { databaseUrl: db.url })).code, 1);
    const e = await clockwork(["explain", "oneshot.run", "2026-01-01"], { databaseUrl: db.url });
    assert.ok(e.code === 0 || /no clockwork\.explain/.test(e.stderr), e.stderr);
  });

  test("history lists the latest runs first by number, past run 9 (ids are not sorted as text)", async () => {
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "many", policies: { overlap: { mode: "allow_all" } }, steps: [{ name: "a", sql: "select 1" }] })]);
    const ids: number[] = [];
    for (let i = 0; i < 11; i++) ids.push(Number((await db.query("SELECT clockwork.run_now('many') AS id")).rows[0].id));
    const h = await clockwork(["history", "many", "--limit", "3", "--json"], { databaseUrl: db.url });
    assert.equal(h.code, 0, h.stderr);
    assert.deepEqual(JSON.parse(h.stdout).map((r: { run_id: string }) => Number(r.run_id)), ids.slice(-3).reverse());
  });
});

describe("a PgQuartz job file", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "cli" });
    await db.query("create table t1 (delay int, descr text)");
    dir = folder({
      "commands/step2.sql": "select :delay::int * 10 as waited\n",
      "commands/step3.sh": 'echo "My PID is $$, args: $PGQ_INSTANCE_DELAY and $PGQ_INSTANCE_DESC"\n',
      // Written in PgQuartz's documented format (docs/STEPS.md, WHEN.md, CHECKS.md, ETCD.md).
      "job1.yml": `steps:
  step 1:
    commands:
    - name: select the arguments
      type: pg
      inline: select :delay::int as delay, :desc as "desc"
    - name: insert them
      type: pg
      inline: insert into t1 values(:delay::int, :desc)
    matrix:
      delay: ["1", "2"]
      desc: ["A", "B"]
  awesome2:
    commands:
    - type: pg
      file: commands/step2.sql
    matrix:
      delay: ["1", "2"]
    depends: ["step 1"]
    when:
      - 'eq (index .Steps "step 1").Rc 0'
  awesome3:
    commands:
    - type: shell
      file: commands/step3.sh
    matrix:
      delay: ["1", "2"]
      desc: [A]
    depends: ["step 1"]
  awesome4:
    commands:
    - type: shell
      inline: echo step four ran > "$OUT"/four.txt
    depends: [awesome2, awesome3]
    when:
      - '.Steps.awesome3.Instances.StdOut.Contains "My PID"'
      - '.Steps["step 1"].StdOut.Contains "{delay}={2}, {desc}={B}"'
  never:
    commands:
    - type: shell
      inline: echo must not run > "$OUT"/never.txt
    depends: [awesome2]
    when:
      - '{{if ne .Steps.awesome2.Rc 0}}True{{end}}'
  broken:
    commands:
    - type: shell
      inline: echo first; exit 4
    - type: shell
      inline: echo second command must not run
  after-broken:
    commands:
    - type: shell
      inline: echo ran after broken
    depends: [broken]
    when:
      - "ne .Steps.broken.Rc 0"
      - 'not (.Steps.broken.StdOut.Contains "second")'
checks:
  - type: shell
    inline: test -f "$OUT"/four.txt
  - name: rows
    type: pg
    inline: "select count(*) as n from t1 where descr = :tbl"
    matrix:
      tbl: [A, B]
    unexpected: "{n}={0}"
connections:
  pg:
    type: postgresql
    role: primary
    conn_params:
      user: postgres
parallel: 2
timeout: 10m
etcdConfig:
  lockKey: awesome
  lockTimeout: 5s
`,
    });
    chmodSync(join(dir, "commands/step3.sh"), 0o755);
    writeFileSync(join(dir, "check-fails.yml"), readFileSync(join(dir, "job1.yml"), "utf8").replace('unexpected: "{n}={0}"', 'expected: "{n}={99}"'));
  });
  after(async () => {
    await db.drop();
  });

  const pgq = (file: string, env: Record<string, string> = {}) => clockwork(["run", file], { cwd: dir, databaseUrl: db.url, env: { OUT: dir, ...env } });

  test("runs as it is: commands in order, matrix, depends, when rules, SQL output as {column}={value}, checks", async () => {
    const r = await pgq("job1.yml");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rows = (await db.query("select delay, descr from t1 order by 1, 2")).rows;
    assert.deepEqual(rows, [{ delay: 1, descr: "A" }, { delay: 1, descr: "B" }, { delay: 2, descr: "A" }, { delay: 2, descr: "B" }]);
    assert.match(r.stdout, /\{"pgquartz_output":"\{delay\}=\{2\}, \{desc\}=\{B\}"\}/);
    assert.match(r.stdout, /awesome3\[PGQ_INSTANCE_DESC=A,PGQ_INSTANCE_DELAY=2\] │ My PID is \d+, args: 2 and A/);
    assert.equal(readFileSync(join(dir, "four.txt"), "utf8"), "step four ran\n", "both when rules held");
    assert.match(r.stdout, /· never skipped/);
    assert.match(r.stdout, /✘ broken-1 failed .*exit code 4/);
    assert.match(r.stdout, /· broken-2 skipped/, "an instance stops at its first failing command");
    assert.match(r.stdout, /after-broken │ ran after broken/);
    assert.match(r.stdout, /lock "awesome" held/);
    assert.match(r.stdout, /succeeded in/, "a failed step alone does not fail a PgQuartz job: checks decide");
  });

  test("a failing check fails the run: exit 1", async () => {
    const r = await pgq("check-fails.yml");
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /failed in .*: check "rows\[tbl=A\]" output lacks expected "\{n\}=\{99\}"/);
  });

  test("the lock is one node at a time: a second run waits for the first, and gives up after lockTimeout", async () => {
    const holder = await db.connect();
    await holder.query("select pg_advisory_lock(hashtext('clockwork run lock: awesome'))");
    const started = Date.now();
    const r = await pgq("job1.yml");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the lock "awesome" was not free within its lockTimeout/);
    assert.ok(Date.now() - started >= 4500, "it waited lockTimeout (5s)");
    await holder.query("select pg_advisory_unlock_all()");
  });

  test("unsupported parts are refused with their place and the feature named", async () => {
    writeFileSync(join(dir, "unsupported.yml"), [
      "steps:",
      "  a:",
      "    commands:",
      "    - type: pg",
      "      inline: select 1",
      "  b:",
      "    commands:",
      "    - inline: echo b",
      "    depends: [a]",
      "    when:",
      '      - ".Steps.a.StdOut.RegExpContains \\"x.*\\""',
      "connections:",
      "  pg:",
      "    role: standby",
      "    conn_params: { user: app }",
      "",
    ].join("\n"));
    const r = await clockwork(["validate", "unsupported.yml"], { cwd: dir });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^unsupported\.yml:14:5: connections\.pg\.role: this connection is the scheduler's own database, a primary: role standby never matches/m);
    assert.match(r.stderr, /^unsupported\.yml:10:5: steps\.b\.when: ".*": StdOut\.RegExpContains is not supported/m);
  });
});
