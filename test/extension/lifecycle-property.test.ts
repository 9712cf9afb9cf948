// Property test of the run lifecycle (issue 16): random sequences of fire, claim, complete
// (success or failure), cancel, replace (overlap terminate_other / cancel_other), time-out,
// lost leases, disable, enable, drop and define again, against a real database with pinned
// time, with jobs sharing concurrency groups whose limits the sequence changes. After every
// operation four invariants must hold:
//   1. no job that should fire has no next slot;
//   2. no job runs more scheduled runs at once than its overlap policy allows, and no
//      concurrency group more runs (of any trigger) than its limit;
//   3. no run is in a non-final state without something that will move it on;
//   4. every slot became exactly one run or lies in exactly one skipped row.
// Seeds are fixed (reproducible); a failure prints the seed, the step and the operations.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { type StepClaim, withClockworkDatabase } from "./helpers.ts";

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTE = 60_000;
const T0 = Date.parse("2041-01-01T00:00:00Z");

/** The jobs every sequence drives: one per overlap mode, and an @after job. */
const JOBS: Record<string, { overlap: unknown; limit: number; schedule: string; group?: string; priority?: number }> = {
  "p-skip": { overlap: "skip", limit: 1, schedule: "* * * * *" },
  "p-buffer": { overlap: { mode: "buffer_all", max_queue: 3 }, limit: 1, schedule: "* * * * *" },
  "p-terminate": { overlap: "terminate_other", limit: 1, schedule: "* * * * *" },
  "p-cancel": { overlap: "cancel_other", limit: 1, schedule: "* * * * *" },
  "p-allow": { overlap: { mode: "allow_all", max_instances: 2 }, limit: 2, schedule: "* * * * *" },
  "p-after": { overlap: "skip", limit: 1, schedule: "@after 30s" },
  // Three jobs share group "pg-one" (exclusive execution) and two "pg-pool"; priorities differ.
  "p-one-a": { overlap: "skip", limit: 1, schedule: "* * * * *", group: "pg-one", priority: 0 },
  "p-one-b": { overlap: { mode: "buffer_all", max_queue: 2 }, limit: 1, schedule: "* * * * *", group: "pg-one", priority: 5 },
  "p-one-c": { overlap: { mode: "allow_all", max_instances: 2 }, limit: 2, schedule: "@after 30s", group: "pg-one", priority: 0 },
  "p-pool-a": { overlap: "terminate_other", limit: 1, schedule: "* * * * *", group: "pg-pool", priority: 1 },
  "p-pool-b": { overlap: { mode: "allow_all", max_instances: 3 }, limit: 3, schedule: "* * * * *", group: "pg-pool", priority: 0 },
};
const GROUPS = ["pg-one", "pg-pool"];

function definition(name: string) {
  const j = JOBS[name]!;
  return {
    name, schedules: [j.schedule],
    policies: {
      overlap: j.overlap, timeout: "4m", misfire: { policy: "all", max_count: 2 },
      ...(j.group === undefined ? {} : { group: j.group, priority: j.priority }),
    },
    // Jobs of a group have one step: their runs end (and free slots) more often.
    steps: j.group === undefined ? [{ name: "a", shell: "work" }, { name: "b", shell: "more work", depends: ["a"] }] : [{ name: "a", shell: "work" }],
  };
}

interface Model {
  /** Slot ranges (exclusive ends) that are not slots: the job was disabled then, by schedule id. */
  gaps: Map<string, [number, number][]>;
  /** last_slot_at when each (schedule) was disabled. */
  disabledAt: Map<string, number>;
  disabled: Set<string>;
  dropped: Set<string>;
  /** Per group: how many runs it may hold now (above its limit only after the limit was lowered). */
  groupBound: Map<string, number>;
}

async function schedulesOf(db: TestDatabase, job: string) {
  const { rows } = await db.query(
    `select s.id::text, s.kind, s.next_fire_at, s.last_slot_at
       from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id
      where j.name = $1 and j.dropped_at is null`, [job]);
  return rows as { id: string; kind: string; next_fire_at: Date | null; last_slot_at: Date | null }[];
}

async function checkInvariants(db: TestDatabase, model: Model): Promise<void> {
  // 1. An enabled job's cron schedule always has a next slot; an @after one has one unless a
  //    run of the job is going (its end sets it).
  const stuck = await db.query(`
    select j.name, s.kind from clockwork.jobs j join clockwork.schedules s on s.job_id = j.id
     where j.enabled and j.dropped_at is null and s.next_fire_at is null
       and (s.kind <> 'after' or not exists (select 1 from clockwork.runs r
                                              where r.job_id = j.id and r.state in ('waiting', 'queued', 'running')))`);
  assert.deepEqual(stuck.rows, [], "1. a job that should fire has no next slot");

  // 2. Scheduled runs at once (queued or running) within the overlap limit.
  const active = await db.query(`
    select j.name, count(*)::int as n from clockwork.runs r join clockwork.jobs j on j.id = r.job_id
     where r.state in ('queued', 'running') and r.trigger = 'schedule' group by j.name`);
  for (const row of active.rows) {
    assert.ok(row.n <= JOBS[row.name]!.limit, `2. ${row.name} has ${row.n} runs at once (limit ${JOBS[row.name]!.limit})`);
  }
  // ... and no group runs more than its limit (manual runs count too). A lowered limit stops
  // no run: until enough have ended, the bound is what the group ran when it was lowered,
  // and it only comes down from there (admission lets nobody in above the limit).
  const groups = await db.query(`
    select g.name, g.max_running, count(r.id)::int as n from clockwork.concurrency_groups g
      left join clockwork.runs r on r.concurrency_group = g.name and r.state in ('queued', 'running')
     group by g.name, g.max_running`);
  for (const row of groups.rows as { name: string; max_running: number; n: number }[]) {
    const bound = Math.max(row.max_running, model.groupBound.get(row.name) ?? 0);
    assert.ok(row.n <= bound, `2. group ${row.name} runs ${row.n} at once (limit ${row.max_running}, bound ${bound})`);
    model.groupBound.set(row.name, Math.max(row.max_running, Math.min(bound, row.n)));
  }

  // 3. A queued or running run has a step that is ready or running (or reported and awaited);
  //    a run held back by its overlap policy has an instance of its job ahead of it (queued,
  //    running, or waiting for its group); a run waiting for its group finds it full.
  const orphans = await db.query(`
    select r.id, r.state, r.waiting_for, j.name from clockwork.runs r join clockwork.jobs j on j.id = r.job_id
     where (r.state in ('queued', 'running')
            and not exists (select 1 from clockwork.step_runs s
                             where s.run_id = r.id and (s.state in ('ready', 'running') or s.awaiting_report)))
        or (r.waiting_for = 'overlap'
            and not exists (select 1 from clockwork.runs o
                             where o.job_id = r.job_id and (o.state in ('queued', 'running') or o.waiting_for = 'group')))
        or (r.waiting_for = 'group'
            and (select count(*) from clockwork.runs o where o.concurrency_group = r.concurrency_group and o.state in ('queued', 'running'))
                < (select g.max_running from clockwork.concurrency_groups g where g.name = r.concurrency_group))`);
  assert.deepEqual(orphans.rows, [], "3. a run is stuck in a non-final state without a holder");

  // 4. Every minute slot up to last_slot_at: exactly one run or exactly one skipped row,
  //    except while the job was disabled.
  const schedules = await db.query(`
    select s.id::text, s.last_slot_at, j.created_at from clockwork.schedules s join clockwork.jobs j on j.id = s.job_id
     where s.kind = 'cron' and s.last_slot_at is not null`);
  for (const s of schedules.rows as { id: string; last_slot_at: Date; created_at: Date }[]) {
    const runs = await db.query("select slot_at from clockwork.runs where schedule_id = $1 order by slot_at", [s.id]);
    const skips = await db.query("select slot_at, last_slot_at, slots from clockwork.skipped_slots where schedule_id = $1", [s.id]);
    const covered = new Map<number, number>();
    const mark = (ms: number) => covered.set(ms, (covered.get(ms) ?? 0) + 1);
    for (const r of runs.rows) mark((r.slot_at as Date).getTime());
    for (const k of skips.rows) {
      let n = 0;
      for (let m = (k.slot_at as Date).getTime(); m <= (k.last_slot_at as Date).getTime(); m += MINUTE) { mark(m); n++; }
      if (k.slots !== null) assert.equal(k.slots, n, `4. skipped row ${JSON.stringify(k)} counts ${k.slots} slots, spans ${n}`);
    }
    const gaps = model.gaps.get(s.id) ?? [];
    const first = Math.floor(s.created_at.getTime() / MINUTE) * MINUTE + MINUTE;
    for (let m = first; m <= s.last_slot_at.getTime(); m += MINUTE) {
      const inGap = gaps.some(([from, to]) => m > from && m < to);
      const n = covered.get(m) ?? 0;
      if (inGap) assert.ok(n <= 1, `4. slot ${new Date(m).toISOString()} of schedule ${s.id} (disabled then) accounted ${n} times`);
      else assert.equal(n, 1, `4. slot ${new Date(m).toISOString()} of schedule ${s.id} accounted ${n} times`);
    }
  }
}

async function sequence(db: TestDatabase, seed: number, steps: number): Promise<void> {
  const random = generator(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const names = Object.keys(JOBS);
  const model: Model = { gaps: new Map(), disabledAt: new Map(), disabled: new Set(), dropped: new Set(), groupBound: new Map() };
  let now = T0;
  const iso = () => new Date(now).toISOString();
  for (const group of GROUPS) await db.query("select clockwork.define_group($1, $2)", [group, group === "pg-one" ? 1 : 2]);
  for (const name of names) await db.query("select clockwork.define_job($1::jsonb, $2)", [JSON.stringify(definition(name)), iso()]);
  let claims: StepClaim[] = [];
  const log: string[] = [];
  let groupWaits = 0;

  for (let step = 0; step < steps; step++) {
    const roll = random();
    let op: string;
    if (roll < 0.35) {
      // fire and claim: time moves on by 5 to 40 s, or now and then by up to 5 min (leases of
      // 30 s expire, slots are missed, runs time out)
      now += random() < 0.8 ? Math.floor(5_000 + random() * 35_000) : Math.floor(60_000 + random() * 240_000);
      const max = Math.floor(random() * 6);
      const { rows } = await db.query("select clockwork.tick('w1', $1, $2::timestamptz) as t", [max, iso()]);
      claims.push(...(rows[0].t.claimed as StepClaim[]));
      op = `tick(${max}) at ${iso()}`;
    } else if (roll < 0.6 && claims.length > 0) {
      // Mostly one of the latest claims (whose lease still holds), now and then a stale one.
      const index = random() < 0.8 ? claims.length - 1 - Math.floor(random() * Math.min(3, claims.length)) : Math.floor(random() * claims.length);
      const claim = claims.splice(index, 1)[0]!;
      const code = random() < 0.7 ? 0 : 1;
      now += 1000;
      await db.query("select clockwork.complete_step($1, 'w1', $2, '', '', null, $3::timestamptz)", [claim.step_run_id, code, iso()]);
      op = `complete ${claim.step_run_id} (run ${claim.run_id}) exit ${code}`;
    } else if (roll < 0.68) {
      const { rows } = await db.query("select id::text from clockwork.runs where state in ('waiting', 'queued', 'running') order by id");
      if (rows.length === 0) continue;
      const run = pick(rows).id as string;
      await db.query("select clockwork.cancel_run($1::bigint, $2::timestamptz)", [run, iso()]);
      op = `cancel_run ${run}`;
    } else if (roll < 0.76) {
      const name = pick(names);
      if (model.dropped.has(name) || model.disabled.has(name)) continue;
      for (const s of await schedulesOf(db, name)) model.disabledAt.set(s.id, s.last_slot_at?.getTime() ?? T0);
      await db.query("select clockwork.disable_job($1)", [name]);
      model.disabled.add(name);
      op = `disable ${name}`;
    } else if (roll < 0.86) {
      const name = pick([...model.disabled]);
      if (name === undefined) continue;
      await db.query("select clockwork.enable_job($1, $2::timestamptz)", [name, iso()]);
      model.disabled.delete(name);
      for (const s of await schedulesOf(db, name)) {
        const from = model.disabledAt.get(s.id);
        if (from === undefined || s.next_fire_at === null) continue;
        model.gaps.set(s.id, [...(model.gaps.get(s.id) ?? []), [from, s.next_fire_at.getTime()]]);
      }
      op = `enable ${name}`;
    } else if (roll < 0.9) {
      const name = pick(names);
      if (model.dropped.has(name)) {
        await db.query("select clockwork.define_job($1::jsonb, $2)", [JSON.stringify(definition(name)), iso()]);
        model.dropped.delete(name);
        op = `define ${name} again`;
      } else {
        await db.query("select clockwork.drop_job($1)", [name]);
        model.dropped.add(name);
        model.disabled.delete(name);
        op = `drop ${name}`;
      }
    } else if (roll < 0.95) {
      const name = pick(names);
      if (model.dropped.has(name)) continue;
      await db.query("select clockwork.run_now($1, '{}', $2::timestamptz)", [name, iso()]);
      op = `run_now ${name}`;
    } else {
      // A group's limit raised or lowered; the supervisors tick on its NOTIFY (the settle
      // pass lets waiting runs in), with no claims here.
      const group = pick(GROUPS);
      const limit = 1 + Math.floor(random() * 3);
      await db.query("select clockwork.define_group($1, $2)", [group, limit]);
      await db.query("select clockwork.tick('w1', 0, $1::timestamptz)", [iso()]);
      op = `define_group ${group} max_running ${limit}`;
    }
    log.push(op);
    groupWaits += (await db.query("select count(*)::int as n from clockwork.runs where waiting_for = 'group'")).rows[0].n;
    try {
      await checkInvariants(db, model);
    } catch (error) {
      (error as Error).message = `seed ${seed}, step ${step}: ${(error as Error).message}\nlast operations:\n  ${log.slice(-12).join("\n  ")}`;
      throw error;
    }
  }
  // The sequence reached the ends it is meant to exercise (else the invariants held vacuously).
  const ends = await db.query("select distinct state from clockwork.runs union select distinct reason from clockwork.skipped_slots");
  const seen = new Set(ends.rows.map((r) => r.state as string));
  for (const end of ["succeeded", "failed", "cancelled", "timed_out", "overlap_skipped"]) {
    assert.ok(seen.has(end), `seed ${seed}: no ${end} in ${[...seen].join(", ")}`);
  }
  assert.ok(groupWaits > 0, `seed ${seed}: no run ever waited for its concurrency group`);
}

describe("run lifecycle invariants over random operation sequences", () => {
  for (const seed of [1, 2, 3]) {
    describe(`seed ${seed}`, () => {
      let db: TestDatabase;
      withClockworkDatabase((created) => (db = created), { worker: "w1" });
      test("150 operations keep the four invariants", async () => {
        await sequence(db, seed, 150);
      });
    });
  }
});
