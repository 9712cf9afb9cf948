// End to end: two supervisors run four jobs that share a concurrency group of one slot
// (pg_timetable's exclusive_execution). What the step processes themselves record shows
// that no two of them ever ran at once, and the group's waiting runs were let in as slots
// freed, by whichever supervisor ended the run before.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();
const JOBS = 4;

describe("two supervisors, one concurrency group", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_groups" });
    dir = mkdtempSync(join(tmpdir(), "cw-groups-"));
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("runs of four jobs in a group of one never overlap, and every waiting run gets its turn", async () => {
    const ledger = join(dir, "ledger");
    writeFileSync(ledger, "");
    const supervisors = ["group-1", "group-2"].map((name) => startSupervisor(db.url, { name, args: ["--concurrency", "4"] }));
    await Promise.all(supervisors.map((s) => s.waitForLog("registration", (l) => l.msg === "worker registered", 60_000)));
    await db.query("SELECT clockwork.define_group('exclusive', 1)");
    for (let i = 0; i < JOBS; i++) {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: `excl-${i}`, schedules: ["* * * * * *"], policies: { group: "exclusive", priority: i },
        steps: [{
          name: "main",
          shell: `echo "start $CLOCKWORK_RUN_ID $(date +%s%N)" >> ${ledger}; sleep 0.2; echo "end $CLOCKWORK_RUN_ID $(date +%s%N)" >> ${ledger}`,
        }],
      })]);
    }
    // Until eight runs have succeeded (a loaded machine runs fewer per second).
    await waitFor("eight runs of the group", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE concurrency_group = 'exclusive' AND state = 'succeeded'")).rows[0].n >= 8, 60_000, 200);
    for (let i = 0; i < JOBS; i++) await db.query("SELECT clockwork.disable_job($1)", [`excl-${i}`]);
    // Disabling cancels the runs still waiting; the one holding the slot finishes.
    await waitFor("the runs to end", async () =>
      (await db.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0, 30_000);
    await Promise.all(supervisors.map((s) => s.stop()));

    // The step processes' own clocks: at most one between its start and its end, ever.
    const events = readFileSync(ledger, "utf8").trim().split("\n").map((line) => {
      const [kind, run, ns] = line.split(" ");
      return { kind: kind!, run: run!, at: BigInt(ns!) };
    }).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.kind === "end" ? -1 : 1));
    let inside = 0;
    let most = 0;
    for (const e of events) {
      inside += e.kind === "start" ? 1 : -1;
      most = Math.max(most, inside);
    }
    const started = events.filter((e) => e.kind === "start").length;
    assert.equal(most, 1, "two steps of the group ran at once");
    assert.equal(inside, 0);
    assert.ok(started >= 8, `only ${started} runs`);

    const runs = (await db.query(`
      SELECT r.state, count(*)::int AS n, count(DISTINCT r.job_id)::int AS jobs
        FROM clockwork.runs r WHERE r.concurrency_group = 'exclusive' GROUP BY r.state`)).rows as { state: string; n: number; jobs: number }[];
    const succeeded = runs.find((r) => r.state === "succeeded");
    assert.equal(succeeded?.n, started, "every run that started succeeded");
    assert.ok((succeeded?.jobs ?? 0) >= 2, "more than one job got the slot");
  });
});
