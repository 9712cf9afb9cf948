// End to end: a real supervisor with one slot (--concurrency 1, its local queue at the
// default) and more steps ready than it can run. The step processes record the order they
// ran in: highest policies.priority first, then oldest; a higher priority that becomes
// ready while older, lower ones wait goes ahead of them. No timing is asserted: each
// phase waits for its runs to end, and the blocking step waits for a file, not a clock.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("priorities when a supervisor is full", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let dir: string;
  let ledger: string;

  // Shell steps write their name and clock to the ledger file; SQL steps to a table. One
  // slot: one step ends before the next starts, so the clocks give the order they ran in.
  const ran = async (): Promise<string[]> => {
    const shell = readFileSync(ledger, "utf8").split("\n").filter((l) => l !== "")
      .map((l) => { const [name, ns] = l.split(" "); return { name: name!, at: BigInt(ns!) }; });
    const sql = (await db.query("SELECT name, (extract(epoch FROM at) * 1000000)::bigint::text AS us FROM ledger")).rows
      .map((r) => ({ name: r.name as string, at: BigInt(r.us) * 1000n }));
    return [...shell, ...sql].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).map((e) => e.name);
  };
  const defineJob = (name: string, priority: number | null, kind: "shell" | "sql", shell = `echo "${name} $(date +%s%N)" >> ${ledger}`) =>
    db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name, policies: priority === null ? {} : { priority },
      steps: [kind === "shell" ? { name: "record", shell } : { name: "record", sql: `INSERT INTO public.ledger VALUES ('${name}', clock_timestamp())` }],
    })]);
  const allEnded = (n: number) => waitFor(`${n} runs to succeed`, async () =>
    (await db.query("SELECT count(*) FILTER (WHERE state = 'succeeded')::int AS ok, count(*) FILTER (WHERE finished_at IS NULL)::int AS open FROM clockwork.runs")).rows
      .map((r) => r.ok === n && r.open === 0)[0], 120_000, 100);

  before(async () => {
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_priorities" });
    dir = mkdtempSync(join(tmpdir(), "cw-priorities-"));
    ledger = join(dir, "ledger");
    writeFileSync(ledger, "");
    await db.query("CREATE TABLE public.ledger (name text NOT NULL, at timestamptz NOT NULL)");
  });

  after(async () => {
    await stopAllSupervisors();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a backlog of mixed priorities, SQL and shell steps, runs highest first, ties oldest first", async () => {
    const jobs: [string, number | null, "shell" | "sql"][] = [
      ["zero-a", 0, "sql"], ["low", -5, "sql"], ["high-a", 10, "shell"], ["zero-b", 0, "shell"],
      ["high-b", 10, "shell"], ["mid", 3, "sql"], ["unset", null, "shell"],
    ];
    for (const [name, priority, kind] of jobs) await defineJob(name, priority, kind);
    // The backlog is there before the supervisor: each run_now its own transaction, so
    // each is younger than the one before.
    for (const [name] of jobs) await db.query("SELECT clockwork.run_now($1)", [name]);
    // Its local queue at the default (--claim-ahead = the concurrency): claims taken ahead
    // start in the claim's order, SQL steps first only among those that start at once.
    const supervisor = startSupervisor(db.url, { name: "prio-1", args: ["--concurrency", "1"] });
    await allEnded(jobs.length);
    await supervisor.stop();
    assert.deepEqual(await ran(), ["high-a", "high-b", "mid", "zero-a", "zero-b", "unset", "low"]);
  });

  // Without a local queue (--claim-ahead 0) nothing is taken before a slot frees, so the
  // order is the claim's alone (with one, up to --claim-ahead claims taken earlier may go
  // first: docs/policies.md, "Priorities").
  test("a higher priority that becomes ready while older, lower ones wait for the slot goes first", async () => {
    const gate = join(dir, "gate");
    writeFileSync(ledger, "");
    await db.query("TRUNCATE public.ledger");
    await defineJob("blocker", 0, "shell", `echo "blocker $(date +%s%N)" >> ${ledger}; while [ ! -e ${gate} ]; do sleep 0.05; done`);
    for (const [name, priority, kind] of [["late-low-a", -1, "sql"], ["late-low-b", -1, "shell"], ["late-zero", 0, "sql"], ["late-high", 2, "shell"]] as const) {
      await defineJob(name, priority, kind);
    }
    const supervisor = startSupervisor(db.url, { name: "prio-2", args: ["--concurrency", "1", "--claim-ahead", "0"] });
    await db.query("SELECT clockwork.run_now('blocker')");
    await waitFor("the blocker to hold the slot", async () => (await ran()).includes("blocker"), 60_000);
    // Older and lower first, then the higher one.
    for (const name of ["late-low-a", "late-low-b", "late-zero", "late-high"]) await db.query("SELECT clockwork.run_now($1)", [name]);
    writeFileSync(gate, "");
    await allEnded(7 + 5);
    await supervisor.stop();
    assert.deepEqual(await ran(), ["blocker", "late-high", "late-zero", "late-low-a", "late-low-b"]);
  });
});
