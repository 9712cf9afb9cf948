// The chaos suite (`make chaos`; not part of `make test`; docs/faults.md, "The chaos suite").
// A throwaway cluster, several real supervisors, SQL and shell jobs every second with
// explicit misfire and overlap policies, and faults the way an operator's cluster has them:
// kill -9 of a random supervisor, restarted a moment later under the same name or a new
// one, and PostgreSQL crash (immediate) and fast restarts. Then every slot of every job is
// accounted for, and it prints one line of figures:
//   slots: ran once, or skipped with a recorded reason; none lost, none both;
//   SQL runs: each took effect exactly once (a ledger row written in the step's transaction);
//   shell runs: re-runs and their attempts, no attempt started twice, no attempt that
//     started while an earlier attempt of the same step still ran on this host;
//   orphans: processes of a killed supervisor's steps alive after its kill grace;
//   stuck: runs not finished once the jobs are disabled and the supervisors had time;
//   supervisor exits: any supervisor that ended without being killed by the suite.
// It exits 1 when anything was lost, doubled, overlapping, orphaned, stuck or crashed.
//
//   npx tsx test/chaos/chaos.ts [--seconds 180] [--supervisors 3] [--sql-jobs 8]
//       [--shell-jobs 6] [--kill-every 12] [--restart-every 45] [--seed N]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { groupMembers } from "../support/processes.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pgConfig, startCluster, type Cluster } from "../support/cluster.ts";
import { installClockworkSql } from "../support/runtime.ts";
import { startSupervisor, type SupervisorProcess } from "../e2e/support.ts";
import { arg, sleep } from "../bench/support.ts";

const SECONDS = arg("--seconds", 180);
const SUPERVISORS = arg("--supervisors", 3);
const SQL_JOBS = arg("--sql-jobs", 8);
const SHELL_JOBS = arg("--shell-jobs", 6);
const KILL_EVERY_S = arg("--kill-every", 12);
const RESTART_EVERY_S = arg("--restart-every", 45);
const KILL_GRACE_S = 1;
let seed = arg("--seed", Date.now() % 1_000_000);
const SEED = seed;

/** A small deterministic generator (mulberry32), so a failing run can be replayed with --seed. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const jitter = (seconds: number) => seconds * 1000 * (0.7 + 0.6 * random());
const log = (message: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${message}\n`);

// --- the jobs --------------------------------------------------------------------------

interface JobSpec {
  name: string;
  kind: "sql" | "shell";
  policies: object;
  body: string;
}

/** SQL jobs: their step writes a ledger row in its own transaction (exactly once). */
function sqlJobs(): JobSpec[] {
  const kinds = [
    // the defaults: overlap skip, misfire skip (a minute's grace)
    { suffix: "default", policies: {}, sleep: 0 },
    // every missed slot runs, runs may overlap
    { suffix: "all", policies: { misfire: { policy: "all", grace: "10m" }, overlap: { mode: "allow_all" } }, sleep: 0.05 },
    // slower than its period: runs wait their turn (the queue race of issue 15, item 1)
    { suffix: "queue", policies: { misfire: "once", overlap: { mode: "buffer_all", max_queue: 3 } }, sleep: 1.3 },
    // one missed slot runs for all
    { suffix: "once", policies: { misfire: "once", overlap: { mode: "buffer_one" } }, sleep: 0.3 },
  ];
  return Array.from({ length: SQL_JOBS }, (_, i) => {
    const k = kinds[i % kinds.length]!;
    const name = `sql-${k.suffix}-${i}`;
    return {
      name, kind: "sql", policies: k.policies,
      body: `${k.sleep > 0 ? `SELECT pg_sleep(${k.sleep}); ` : ""}INSERT INTO chaos_sql (job, run_id, step_run_id, attempt)
             VALUES ('${name}', current_setting('clockwork.run_id')::bigint, current_setting('clockwork.step_run_id')::bigint,
                     current_setting('clockwork.attempt')::int)`,
    };
  });
}

/**
 * Shell jobs: their step writes `start` and `end` lines to a ledger and, when it is a
 * re-run, looks whether any process of an earlier attempt still runs (an overlap).
 */
function shellJobs(ledger: string): JobSpec[] {
  const kinds = [
    { suffix: "quick", policies: { misfire: "skip", overlap: "skip" }, work: "sleep 0.2" },
    { suffix: "slow", policies: { misfire: { policy: "all", grace: "10m" }, overlap: { mode: "allow_all", max_instances: 5 } }, work: "sleep 2" },
    // slow to die: it ignores SIGTERM, so a kill of its supervisor needs the SIGKILL
    { suffix: "stubborn", policies: { misfire: "once", overlap: { mode: "buffer_one" } }, work: "trap '' TERM; sleep 1.5" },
  ];
  // The groups of earlier attempts of this run (their first process's pid is the group).
  const overlapCheck = `if [ "$CLOCKWORK_ATTEMPT" -gt 1 ]; then
      for g in $(awk -v r="$CLOCKWORK_RUN_ID" -v a="$CLOCKWORK_ATTEMPT" '$1 == "start" && $2 == r && $3 < a { print $4 }' ${ledger}); do
        if cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$g" '$5 == g && $3 != "Z" && $3 != "X" { found = 1 } END { exit !found }'; then
          echo "overlap $CLOCKWORK_RUN_ID $CLOCKWORK_ATTEMPT $g" >> ${ledger}
        fi
      done
    fi`;
  return Array.from({ length: SHELL_JOBS }, (_, i) => {
    const k = kinds[i % kinds.length]!;
    return {
      name: `sh-${k.suffix}-${i}`, kind: "shell", policies: k.policies,
      body: `echo "start $CLOCKWORK_RUN_ID $CLOCKWORK_ATTEMPT $$ $PPID $(date +%s%3N)" >> ${ledger}
    ${overlapCheck}
    ${k.work}
    echo "end $CLOCKWORK_RUN_ID $CLOCKWORK_ATTEMPT $$ $(date +%s%3N)" >> ${ledger}`,
    };
  });
}

// --- processes -------------------------------------------------------------------------

const runningAsRoot = process.getuid?.() === 0;

/** pg_ctl without blocking the event loop (a restart takes seconds; supervisors' logs must keep flowing). */
function pgCtl(cluster: Cluster, ...args: string[]): Promise<void> {
  const binary = join(pgConfig("--bindir"), "pg_ctl");
  const argv = ["-D", cluster.dataDir, "-l", cluster.logFile, "-w", ...args];
  const [cmd, cmdArgs] = runningAsRoot ? ["runuser", ["-u", "postgres", "--", binary, ...argv]] : [binary, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args.join(" ")} exited ${code}`))));
  });
}

interface LedgerLine {
  what: "start" | "end" | "overlap";
  run: string;
  attempt: number;
  pid: number;
  ppid?: number;
  at?: number;
}

function readLedger(ledger: string): LedgerLine[] {
  return readFileSync(ledger, "utf8").split("\n").filter(Boolean).map((line) => {
    const [what, run, attempt, pid, a, b] = line.split(" ");
    return what === "start"
      ? { what, run: run!, attempt: Number(attempt), pid: Number(pid), ppid: Number(a), at: Number(b) }
      : { what: what as "end" | "overlap", run: run!, attempt: Number(attempt), pid: Number(pid), at: Number(a) };
  });
}

// --- the run ---------------------------------------------------------------------------

interface Slot {
  name: string;
  args: string[];
  process: SupervisorProcess;
  killedBySuite: boolean;
}

async function main(): Promise<number> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "clockwork-chaos-"));
  const ledger = join(dir, "shell-ledger");
  writeFileSync(ledger, "");
  const runtimeDir = join(dir, "runtime");
  // synchronous_commit as in production: the test clusters turn it off for speed, and then
  // an immediate restart loses the last commits the server had acknowledged; a claim a
  // supervisor already acted on vanishes and the same attempt is claimed again, a fault of
  // that setting, not of the scheduler. (fsync may stay off: the machine does not crash.)
  const cluster = await startCluster({ settings: { max_connections: 300, synchronous_commit: "on" } });
  const url = cluster.url("postgres");
  const crashes: { name: string; code: number | string; stderr: string }[] = [];
  const orphans: { supervisor: string; pgid: number; members: number[] }[] = [];
  const faults = { kills: 0, sameName: 0, newName: 0, immediate: 0, fast: 0 };
  let everyone: Slot[] = [];
  let db: pg.Pool | null = null;
  try {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(installClockworkSql);
    await admin.query(`CREATE TABLE chaos_sql (job text NOT NULL, run_id bigint NOT NULL, step_run_id bigint NOT NULL,
                                               attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    const jobs = [...sqlJobs(), ...shellJobs(ledger)];
    for (const job of jobs) {
      const step = job.kind === "sql" ? { name: "main", sql: job.body } : { name: "main", shell: job.body };
      await admin.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: job.name, schedules: ["* * * * * *"], policies: job.policies, steps: [step],
      })]);
    }
    await admin.end();
    log(`seed ${SEED}; ${jobs.length} jobs every second (${SQL_JOBS} SQL, ${SHELL_JOBS} shell), ${SUPERVISORS} supervisors, ${SECONDS} s of faults`);

    // A pool for the suite's own queries, across restarts.
    db = new pg.Pool({ connectionString: url, max: 3 });
    db.on("error", () => {});

    const supervisorArgs = ["--concurrency", "8", "--kill-grace", `${KILL_GRACE_S}s`, "--runtime-dir", runtimeDir, "--log-level", "info"];
    const launch = (name: string): Slot => {
      const slot: Slot = { name, args: supervisorArgs, process: startSupervisor(url, { name, args: supervisorArgs }), killedBySuite: false };
      void slot.process.exited.then((code) => {
        if (!slot.killedBySuite) {
          crashes.push({ name, code, stderr: slot.process.stderr.join("").slice(-2000) });
          log(`supervisor ${name} exited by itself (${code})`);
        }
      });
      everyone.push(slot);
      return slot;
    };
    let live: Slot[] = Array.from({ length: SUPERVISORS }, (_, i) => launch(`chaos-${i + 1}`));

    // --- faults ---
    const until = Date.now() + SECONDS * 1000;
    let nextKill = Date.now() + jitter(KILL_EVERY_S);
    let nextRestart = Date.now() + jitter(RESTART_EVERY_S);
    let restartMode: "immediate" | "fast" = "immediate";
    const pending: Promise<void>[] = [];
    let generation = 0;
    while (Date.now() < until) {
      await sleep(100);
      if (Date.now() >= nextKill && live.length > 0) {
        nextKill = Date.now() + jitter(KILL_EVERY_S);
        const victim = live[Math.floor(random() * live.length)]!;
        live = live.filter((s) => s !== victim);
        const pid = victim.process.child.pid!;
        victim.killedBySuite = true;
        victim.process.child.kill("SIGKILL");
        faults.kills++;
        const sameName = random() < 2 / 3;
        const name = sameName ? victim.name : `${victim.name.replace(/-r\d+$/, "")}-r${++generation}`;
        if (sameName) faults.sameName++;
        else faults.newName++;
        log(`kill -9 ${victim.name} (pid ${pid}); back in a moment as ${name}`);
        pending.push((async () => {
          // Orphans: its steps' process groups must be gone within its kill grace.
          await sleep(KILL_GRACE_S * 1000 + 1500);
          for (const line of readLedger(ledger)) {
            if (line.what !== "start" || line.ppid !== pid) continue;
            const members = groupMembers(line.pid);
            if (members.length > 0) {
              orphans.push({ supervisor: victim.name, pgid: line.pid, members });
              for (const m of members) process.kill(m, "SIGKILL");
            }
          }
        })());
        pending.push((async () => {
          await sleep(1000 + 2000 * random());
          live.push(launch(name));
        })());
      }
      if (Date.now() >= nextRestart) {
        nextRestart = Date.now() + jitter(RESTART_EVERY_S);
        log(`PostgreSQL restart -m ${restartMode}`);
        try {
          await pgCtl(cluster, "restart", "-m", restartMode);
          faults[restartMode]++;
        } catch (error) {
          log(`pg_ctl restart failed: ${(error as Error).message}`);
        }
        restartMode = restartMode === "immediate" ? "fast" : "immediate";
      }
    }
    await Promise.all(pending);
    log("faults over: letting the scheduler catch up");

    // --- drain: the schedules catch up, then the jobs stop and every run ends ---
    const caughtUp = await waitUntil("the schedules to catch up", 60_000, async () => {
      const behind = (await db!.query("SELECT count(*)::int AS n FROM clockwork.schedules WHERE next_fire_at < now() - interval '3 seconds'")).rows[0].n;
      return behind === 0;
    });
    for (const job of jobs) await db.query("SELECT clockwork.disable_job($1)", [job.name]);
    const finished = await waitUntil("every run to finish", 120_000, async () =>
      (await db!.query("SELECT count(*)::int AS n FROM clockwork.runs WHERE finished_at IS NULL")).rows[0].n === 0);
    if (!finished) log("some runs did not finish in time (counted as stuck)");
    for (const slot of live) slot.killedBySuite = true;
    const exits = await Promise.all(live.map(async (s) => ({ name: s.name, code: await s.process.stop("SIGTERM", 60_000) })));
    for (const e of exits) if (e.code !== 0) crashes.push({ name: e.name, code: e.code, stderr: "(at the final SIGTERM)" });

    return await account(db, jobs, ledger, { faults, orphans, crashes, caughtUp, elapsedS: Math.round((Date.now() - started) / 1000), everyone });
  } finally {
    for (const slot of everyone) {
      slot.killedBySuite = true;
      if (slot.process.child.exitCode === null && slot.process.child.signalCode === null) slot.process.child.kill("SIGKILL");
    }
    await db?.end().catch(() => {});
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return true;
    } catch {
      // the database may still be starting
    }
    await sleep(500);
  }
  log(`gave up waiting for ${what}`);
  return false;
}

// --- the accounting --------------------------------------------------------------------

interface Context {
  faults: { kills: number; sameName: number; newName: number; immediate: number; fast: number };
  orphans: { supervisor: string; pgid: number; members: number[] }[];
  crashes: { name: string; code: number | string; stderr: string }[];
  /** The schedules caught up after the faults (none was more than 3 s behind). */
  caughtUp: boolean;
  elapsedS: number;
  everyone: Slot[];
}

async function account(db: pg.Pool, jobs: JobSpec[], ledger: string, ctx: Context): Promise<number> {
  const problems: string[] = [];
  // Every slot of every schedule, from its first to the last one decided: one run, or one
  // skipped-slot row (ranges count each slot they cover), never both, never neither.
  const slots = (await db.query(`
    WITH range AS (
        SELECT s.id, j.name,
               date_trunc('second', j.created_at) + interval '1 second' AS first, s.last_slot_at AS last
          FROM clockwork.schedules AS s JOIN clockwork.jobs AS j ON j.id = s.job_id
    ), each AS (
        SELECT r.name, r.id, t.slot,
               (SELECT count(*) FROM clockwork.runs AS x WHERE x.schedule_id = r.id AND x.slot_at = t.slot) AS runs,
               (SELECT min(k.reason) FROM clockwork.skipped_slots AS k
                 WHERE k.schedule_id = r.id AND t.slot BETWEEN k.slot_at AND k.last_slot_at) AS skipped
          FROM range AS r CROSS JOIN LATERAL generate_series(r.first, r.last, interval '1 second') AS t(slot)
    )
    SELECT name, slot, runs::int, skipped FROM each`)).rows as { name: string; slot: Date; runs: number; skipped: string | null }[];
  const skipReasons = new Map<string, number>();
  let ran = 0;
  let skipped = 0;
  const lost: string[] = [];
  const both: string[] = [];
  for (const s of slots) {
    if (s.runs > 1 || (s.runs === 1 && s.skipped !== null)) both.push(`${s.name}@${s.slot.toISOString()}`);
    else if (s.runs === 1) ran++;
    else if (s.skipped !== null) {
      skipped++;
      skipReasons.set(s.skipped, (skipReasons.get(s.skipped) ?? 0) + 1);
    } else lost.push(`${s.name}@${s.slot.toISOString()}`);
  }
  // Runs outside any slot range would be slots fired twice under another key.
  const strays = (await db.query(`
    SELECT count(*)::int AS n FROM clockwork.runs AS r JOIN clockwork.jobs AS j ON j.id = r.job_id
     WHERE r.slot_at < date_trunc('second', j.created_at) + interval '1 second'`)).rows[0].n as number;
  // Every job fires every second through the faults: far fewer slots than that means the
  // scheduler stalled (a run that accounts for nothing must not pass).
  const expected = jobs.length * SECONDS;
  if (slots.length < expected * 0.8) problems.push(`only ${slots.length} slots decided of about ${expected} due: the scheduler fell behind or stalled`);
  if (!ctx.caughtUp) problems.push("the schedules did not catch up within a minute of the last fault");
  if (lost.length > 0) problems.push(`lost slots (no run, no skip): ${lost.slice(0, 10).join(", ")}${lost.length > 10 ? ", …" : ""}`);
  if (both.length > 0 || strays > 0) problems.push(`slots with two outcomes: ${both.slice(0, 10).join(", ")} (strays ${strays})`);

  // Runs: how they ended.
  const ends = (await db.query(`
    SELECT r.id::text AS id, j.name AS job, r.state, r.reason, r.finished_at IS NULL AS open
      FROM clockwork.runs AS r JOIN clockwork.jobs AS j ON j.id = r.job_id`)).rows as { id: string; job: string; state: string; reason: string | null; open: boolean }[];
  const stuck = ends.filter((r) => r.open);
  const cancelledAtEnd = ends.filter((r) => r.state === "cancelled" && /job disabled/.test(r.reason ?? ""));
  const failed = ends.filter((r) => !r.open && r.state !== "succeeded" && !cancelledAtEnd.includes(r));
  if (stuck.length > 0) problems.push(`stuck runs: ${stuck.slice(0, 10).map((r) => `${r.job}#${r.id} ${r.state}`).join(", ")}`);
  if (failed.length > 0) problems.push(`runs that did not succeed: ${failed.slice(0, 10).map((r) => `${r.job}#${r.id} ${r.state}: ${r.reason}`).join("; ")}`);

  // SQL: one ledger row per succeeded run, never two.
  const sql = (await db.query(`
    SELECT r.id::text AS id, r.state, (SELECT count(*)::int FROM chaos_sql AS e WHERE e.run_id = r.id) AS effects,
           (SELECT max(attempt) FROM clockwork.step_runs AS s WHERE s.run_id = r.id) AS attempts
      FROM clockwork.runs AS r JOIN clockwork.jobs AS j ON j.id = r.job_id WHERE j.name LIKE 'sql-%'`)).rows as { id: string; state: string; effects: number; attempts: number | null }[];
  const doubledSql = sql.filter((r) => r.effects > 1);
  const missingSql = sql.filter((r) => r.state === "succeeded" && r.effects === 0);
  const sqlReruns = sql.filter((r) => (r.attempts ?? 1) > 1).length;
  if (doubledSql.length > 0) problems.push(`SQL runs that took effect twice: ${doubledSql.slice(0, 10).map((r) => r.id).join(", ")}`);
  if (missingSql.length > 0) problems.push(`succeeded SQL runs without their effect: ${missingSql.slice(0, 10).map((r) => r.id).join(", ")}`);

  // Shell: attempts from the ledger.
  const lines = readLedger(ledger);
  const startsByAttempt = new Map<string, number>();
  const maxAttempt = new Map<string, number>();
  for (const l of lines.filter((x) => x.what === "start")) {
    const key = `${l.run}/${l.attempt}`;
    startsByAttempt.set(key, (startsByAttempt.get(key) ?? 0) + 1);
    maxAttempt.set(l.run, Math.max(maxAttempt.get(l.run) ?? 0, l.attempt));
  }
  const twice = [...startsByAttempt.entries()].filter(([, n]) => n > 1).map(([k]) => k);
  const overlaps = lines.filter((l) => l.what === "overlap");
  const shellRuns = ends.filter((r) => r.job.startsWith("sh-"));
  const attemptsHistogram = new Map<number, number>();
  for (const run of shellRuns) {
    const n = maxAttempt.get(run.id) ?? 0;
    if (n > 1) attemptsHistogram.set(n, (attemptsHistogram.get(n) ?? 0) + 1);
  }
  const shellReruns = [...attemptsHistogram.values()].reduce((a, b) => a + b, 0);
  const neverStarted = shellRuns.filter((r) => r.state === "succeeded" && !maxAttempt.has(r.id));
  if (twice.length > 0) problems.push(`shell attempts started twice: ${twice.slice(0, 10).join(", ")}`);
  if (overlaps.length > 0) problems.push(`shell re-runs that started while an earlier attempt still ran here: ${overlaps.slice(0, 10).map((o) => `run ${o.run} attempt ${o.attempt}`).join(", ")}`);
  if (neverStarted.length > 0) problems.push(`succeeded shell runs that never ran: ${neverStarted.slice(0, 10).map((r) => r.id).join(", ")}`);
  if (ctx.orphans.length > 0) problems.push(`orphans: ${ctx.orphans.slice(0, 10).map((o) => `${o.supervisor} group ${o.pgid} (${o.members.length} processes)`).join(", ")}`);
  if (ctx.crashes.length > 0) problems.push(`supervisor exits: ${ctx.crashes.map((c) => `${c.name} → ${c.code} ${c.stderr.trim().split("\n").slice(-3).join(" | ")}`).join("; ")}`);

  if (problems.length > 0) {
    for (const p of problems) log(`FAIL ${p}`);
    // What the supervisors said about the runs in trouble.
    const ids = new Set([...stuck, ...failed].map((r) => r.id));
    for (const slot of ctx.everyone) {
      for (const l of slot.process.logs) if ((l.level === "error" || l.level === "fatal" || ids.has(String(l.run))) && l.msg) log(`  ${slot.name}: ${JSON.stringify(l).slice(0, 400)}`);
    }
  }
  const reasons = [...skipReasons.entries()].sort().map(([k, v]) => `${k} ${v}`).join(", ");
  const histogram = [...attemptsHistogram.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `attempt ${k}: ${v}`).join(", ");
  const f = ctx.faults;
  console.log([
    `chaos: ${SECONDS} s of faults (${ctx.elapsedS} s in all), seed ${SEED}, ${SUPERVISORS} supervisors, ${SQL_JOBS} SQL + ${SHELL_JOBS} shell jobs every second`,
    `faults: ${f.kills} kill -9 (${f.sameName} back under the same name, ${f.newName} under a new one), ${f.immediate + f.fast} PostgreSQL restarts (${f.immediate} immediate, ${f.fast} fast)`,
    `slots ${slots.length}: ran ${ran}, skipped ${skipped}${reasons ? ` (${reasons})` : ""}, lost ${lost.length}, both ${both.length + strays}`,
    `SQL runs ${sql.length}: doubled ${doubledSql.length}, effect missing ${missingSql.length}, re-run ${sqlReruns}`,
    `shell runs ${shellRuns.length}: re-run ${shellReruns}${histogram ? ` (${histogram})` : ""}, same attempt twice ${twice.length}, overlapping ${overlaps.length}`,
    `orphans ${ctx.orphans.length}, stuck ${stuck.length}, failed ${failed.length}, cancelled by the final disable ${cancelledAtEnd.length}, supervisor exits ${ctx.crashes.length}`,
    problems.length === 0 ? "PASS" : "FAIL",
  ].join(" | "));
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
