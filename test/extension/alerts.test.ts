// Alerts are decided by the database: every condition opens once (repeats are counted, not
// raised again) and resolves, with pinned time; NOTIFY clockwork_alert carries each event as
// ids and kinds (any role may LISTEN); deliveries are queued per channel, claimed with a
// lease, retried and finally failed; silences, acknowledgements, defaults and channels are
// checked for who may do what.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, defineJob, registerWorker, sqlErrorOf, tick, type StepClaim } from "./helpers.ts";

const t0 = Date.parse("2045-03-01T00:00:00Z");
const iso = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();
const MIN = 60_000;

describe("alerts", () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const notes: Record<string, unknown>[] = [];

  before(async () => {
    db = await clockworkDatabase();
    await registerWorker(db.pool, "w1");
    listener = await db.connect();
    listener.on("notification", (n) => {
      if (n.channel === "clockwork_alert") notes.push(JSON.parse(n.payload ?? "{}"));
    });
    await listener.query("LISTEN clockwork_alert");
    await adminQuery("do $$ begin create role cw_alert_user login; exception when duplicate_object then null; end $$");
    await db.query("grant usage on schema public to cw_alert_user");
  });
  after(async () => {
    await db.drop();
  });

  const alertsOf = async (job: string | null) =>
    (await db.query(
      `select alert_id::text as id, condition, key, state, severity, message, repeats, resolution, silenced, details
         from clockwork.alert_history where job is not distinct from $1 order by alert_id`, [job])).rows;
  const runNow = async (job: string, offsetMs: number, params = {}) =>
    String((await db.query("select clockwork.run_now($1, $2, $3) as id", [job, JSON.stringify(params), iso(offsetMs)])).rows[0].id);
  const claim = async (job: string, offsetMs: number): Promise<StepClaim> => {
    const c = (await tick(db.pool, "w1", iso(offsetMs))).claimed.find((x) => x.job === job);
    assert.ok(c, `a step of ${job} is claimed at +${offsetMs} ms`);
    return c;
  };
  const report = (c: StepClaim, offsetMs: number, exitCode: number) =>
    db.query("select clockwork.complete_step($1, 'w1', $2, '', '', null, $3)", [c.step_run_id, exitCode, iso(offsetMs)]);
  const runOnce = async (job: string, offsetMs: number, exitCode: number) => {
    await runNow(job, offsetMs);
    await report(await claim(job, offsetMs), offsetMs + 1000, exitCode);
  };
  /** Sweeps at a pinned time; returns how many alerts of `job` it opened. */
  const sweep = async (offsetMs: number, job: string | null = null) => {
    const before = (await alertsOf(job)).length;
    await db.query("select clockwork.check_alerts($1, true)", [iso(offsetMs)]);
    return (await alertsOf(job)).length - before;
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  test("a definition with bad alert settings is refused with each field named, and nothing is stored", async () => {
    const e = await sqlErrorOf(db, "select clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "bad-alerts",
      steps: { a: { sql: "select 1" } },
      alerts: { failures: 0, missed: "soon", dead_man: "400 days", recovery: "yes", to: ["nowhere"], flapping: true },
    })]);
    assert.equal(e.code, SQLSTATE.invalid_alert);
    for (const field of ["alerts.failures", "alerts.missed", "alerts.dead_man", "alerts.recovery", "alerts.to[0]", "alerts.flapping"]) {
      assert.match(e.detail ?? "", new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")}: `, "m"), `${field} is named`);
    }
    assert.match(e.detail ?? "", /unknown alert channel "nowhere"/);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name = 'bad-alerts'")).rows[0].n, 0);
  });

  test("N failures in a row open one alert, a further failure is a repeat, a success resolves it and records a recovery", async () => {
    const flaky = await defineJob(db, { name: "flaky", alerts: { failures: 2, recovery: true }, steps: [{ name: "a", shell: "false" }] });
    notes.length = 0;
    await runOnce("flaky", 0, 1);
    assert.deepEqual(await alertsOf("flaky"), [], "one failure is below the threshold");
    await runOnce("flaky", 10_000, 1);
    let alerts = await alertsOf("flaky");
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].condition, "failures");
    assert.equal(alerts[0].state, "open");
    assert.equal(alerts[0].severity, "critical");
    assert.match(alerts[0].message, /^2 failed runs in a row/);
    await runOnce("flaky", 20_000, 1);
    alerts = await alertsOf("flaky");
    assert.equal(alerts.length, 1, "a third failure raises nothing new");
    assert.equal(alerts[0].repeats, 1);
    await runOnce("flaky", 30_000, 0);
    alerts = await alertsOf("flaky");
    assert.deepEqual(alerts.map((a) => [a.condition, a.state]), [["failures", "resolved"], ["recovery", "resolved"]]);
    assert.match(alerts[0].resolution, /^run \d+ succeeded$/);
    assert.match(alerts[1].message, /succeeded after 3 failed runs/);
    await settle();
    assert.deepEqual(notes.map((n) => [n.event, n.job_id, n.condition]), [
      ["opened", flaky, "failures"], ["resolved", flaky, "failures"], ["opened", flaky, "recovery"],
    ], "NOTIFY clockwork_alert: one opening, one resolution, one recovery");
    assert.equal(notes[0]!.alert_id, alerts[0].id);
  });

  test("a run running longer than its limit opens an alert keyed by the run, resolved when it ends", async () => {
    await defineJob(db, { name: "slow", alerts: { long_running: "10m" }, steps: [{ name: "a", shell: "sleep 1000" }] });
    const run = await runNow("slow", 100 * MIN);
    const c = await claim("slow", 100 * MIN);
    assert.equal(await sweep(105 * MIN, "slow"), 0, "within the limit");
    assert.equal(await sweep(111 * MIN, "slow"), 1);
    assert.equal(await sweep(112 * MIN, "slow"), 0, "still the same alert");
    let alerts = await alertsOf("slow");
    assert.deepEqual(alerts.map((a) => [a.condition, a.key, a.state, a.repeats]), [["long_running", run, "open", 1]]);
    await report(c, 113 * MIN, 0);
    alerts = await alertsOf("slow");
    assert.equal(alerts[0].state, "resolved");
    assert.match(alerts[0].resolution, /ended \(succeeded\)/);
  });

  test("no success within the dead-man period opens an alert; a success resolves it", async () => {
    await defineJob(db, { name: "heartbeat", alerts: { dead_man: "1h" }, steps: [{ name: "a", shell: "true" }] }, iso(200 * MIN));
    assert.equal(await sweep(250 * MIN, "heartbeat"), 0);
    assert.equal(await sweep(261 * MIN, "heartbeat"), 1);
    assert.match((await alertsOf("heartbeat"))[0].message, /^no successful run in the 1 hour 1 minute since /);
    await runOnce("heartbeat", 262 * MIN, 0);
    assert.equal((await alertsOf("heartbeat"))[0].state, "resolved");
    assert.equal(await sweep(300 * MIN, "heartbeat"), 0, "the period counts from the success");
    assert.equal(await sweep(323 * MIN, "heartbeat"), 1, "and opens again after it");
    assert.deepEqual((await alertsOf("heartbeat")).map((a) => a.state), ["resolved", "open"]);
  });

  test("slots skipped by the misfire policy open a missed alert; a run that starts on time resolves it", async () => {
    await defineJob(db, {
      name: "minutely", schedules: ["0 * * * * *"], alerts: { missed: "30s" }, steps: [{ name: "a", shell: "true" }],
    }, iso(400 * MIN));
    // No tick for ten minutes: the misfire policy (skip) skips the nine slots missed.
    const c = await claim("minutely", 410 * MIN + 100);
    let alerts = await alertsOf("minutely");
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].condition, "missed");
    assert.match(alerts[0].message, /^9 slots not started \(misfire_skipped\)/);
    assert.equal(alerts[0].details.slots, 9);
    await report(c, 410 * MIN + 2000, 0);
    alerts = await alertsOf("minutely");
    assert.equal(alerts[0].state, "resolved");
    assert.match(alerts[0].resolution, /started on time/);
    await db.query("select clockwork.disable_job('minutely')");
  });

  test("a slot fired but not started within the grace opens a missed alert; the late run does not resolve it, an on-time one does", async () => {
    await defineJob(db, {
      name: "pinned", schedules: ["0 * * * * *"], labels: ["gpu"], alerts: { missed: "2m" }, steps: [{ name: "a", shell: "true" }],
    }, iso(500 * MIN));
    await tick(db.pool, "w1", iso(501 * MIN)); // fires the slot; no worker has the label
    assert.equal(await sweep(502 * MIN, "pinned"), 0, "within the grace");
    assert.equal(await sweep(503 * MIN + 1000, "pinned"), 1);
    const [alert] = await alertsOf("pinned");
    assert.equal(alert.condition, "missed");
    assert.match(alert.message, /has not started after 2 minutes 1 second \(grace 2 minutes\)/);
    // A worker with the label arrives: the late run starts 3 minutes after its slot, and
    // ending does not say the job keeps time again.
    await registerWorker(db.pool, "w-gpu", ["gpu"]);
    const late = (await tick(db.pool, "w-gpu", iso(503 * MIN + 2000))).claimed.filter((c) => c.job === "pinned");
    assert.equal(late.length, 1, "the late run is claimed");
    await db.query("select clockwork.complete_step($1, 'w-gpu', 0, '', '', null, $2)", [late[0]!.step_run_id, iso(503 * MIN + 3000)]);
    assert.equal((await alertsOf("pinned"))[0].state, "open", "a run that started late does not resolve it");
    const onTime = (await tick(db.pool, "w-gpu", iso(504 * MIN + 500))).claimed.filter((c) => c.job === "pinned");
    assert.equal(onTime.length, 1, "the 504th minute's slot, on time");
    await db.query("select clockwork.complete_step($1, 'w-gpu', 0, '', '', null, $2)", [onTime[0]!.step_run_id, iso(504 * MIN + 1500)]);
    const [resolved] = await alertsOf("pinned");
    assert.equal(resolved.state, "resolved");
    assert.match(resolved.resolution, /started on time/);
    await db.query("select clockwork.drop_job('pinned')");
    await db.query("select clockwork.release_worker('w-gpu', $1)", [iso(505 * MIN)]);
  });

  test("a silenced job's alerts are recorded silenced, neither notified nor delivered", async () => {
    await adminQuery(`select 1`);
    await db.query("select clockwork.define_alert_channel('hook', 'webhook', '{\"url\": \"http://127.0.0.1:1/x\"}')");
    await defineJob(db, { name: "quiet", alerts: { failures: 1, to: ["hook"] }, steps: [{ name: "a", shell: "false" }] });
    const e = await sqlErrorOf(db, "select clockwork.silence_job('quiet', '1 hour', '  ')");
    assert.equal(e.code, SQLSTATE.invalid_argument);
    await db.query("select clockwork.silence_job('quiet', '1 hour', 'migration until 01:00', $1)", [iso(600 * MIN)]);
    notes.length = 0;
    await runOnce("quiet", 601 * MIN, 1);
    const [alert] = await alertsOf("quiet");
    assert.equal(alert.silenced, true);
    await settle();
    assert.deepEqual(notes, []);
    assert.equal((await db.query("select count(*)::int as n from clockwork.alert_deliveries where alert_id = $1", [alert.id])).rows[0].n, 0);
    await db.query("select clockwork.resolve_alert($1, 'checked by hand', $2)", [alert.id, iso(602 * MIN)]);
    // After the silence, the next failure is delivered.
    await runOnce("quiet", 700 * MIN, 1);
    const last = (await alertsOf("quiet")).at(-1);
    assert.equal(last.silenced, false);
    assert.equal((await db.query("select count(*)::int as n from clockwork.alert_deliveries where alert_id = $1 and state = 'pending'", [last.id])).rows[0].n, 1);
  });

  test("deliveries are claimed once, retried with the channel's back-off, and fail visibly when attempts run out", async () => {
    await db.query(`select clockwork.define_alert_channel('ops', 'webhook',
      '{"url": "http://127.0.0.1:9/hook", "secret_env": "CLOCKWORK_SECRET_OPS", "retry": {"attempts": 3, "delay": "10s"}}')`);
    await defineJob(db, { name: "paged", alerts: { failures: 1, to: ["ops"] }, steps: [{ name: "a", shell: "false" }] });
    await registerWorker(db.pool, "w2");
    await runOnce("paged", 800 * MIN, 1);
    const claimDeliveries = async (worker: string, offsetMs: number) =>
      (await db.query("select clockwork.claim_deliveries($1, 10, $2) as r", [worker, iso(offsetMs)])).rows[0].r;
    const first = await claimDeliveries("w1", 800 * MIN + 2000);
    const mine = first.claimed.filter((c: { channel: string }) => c.channel === "ops");
    assert.equal(mine.length, 1);
    const ours = async (worker: string, offsetMs: number) =>
      (await claimDeliveries(worker, offsetMs)).claimed.find((c: { delivery_id: string }) => c.delivery_id === mine[0].delivery_id);
    assert.equal(mine[0].alert.job, "paged");
    assert.equal(mine[0].alert.condition, "failures");
    assert.equal(mine[0].target.secret_env, "CLOCKWORK_SECRET_OPS");
    assert.equal((await claimDeliveries("w2", 800 * MIN + 2000)).claimed.filter((c: { channel: string }) => c.channel === "ops").length, 0, "held by w1");
    const complete = (worker: string, id: string, ok: boolean, offsetMs: number) =>
      db.query("select clockwork.complete_delivery($1, $2, $3, $4, null, $5) as r", [id, worker, ok, ok ? null : "HTTP 503", iso(offsetMs)]).then((r) => r.rows[0].r);
    assert.deepEqual(await complete("w2", mine[0].delivery_id, true, 800 * MIN + 3000), { accepted: false }, "only the holder may report");
    let r = await complete("w1", mine[0].delivery_id, false, 800 * MIN + 3000);
    assert.equal(r.state, "pending");
    assert.equal(r.next_attempt_at, iso(800 * MIN + 13_000));
    assert.equal(await ours("w1", 800 * MIN + 12_000), undefined, "not before its back-off");
    const second = await ours("w2", 800 * MIN + 13_000);
    assert.equal(second.attempt, 2);
    r = await complete("w2", second.delivery_id, false, 800 * MIN + 14_000);
    assert.equal(r.next_attempt_at, iso(800 * MIN + 34_000), "doubled");
    // A supervisor that dies holding it: the lease ends and another takes it over.
    const third = await ours("w2", 800 * MIN + 34_000);
    assert.equal(third.attempt, 3);
    const takenOver = await ours("w1", 800 * MIN + 34_000 + 121_000);
    assert.equal(takenOver.delivery_id, third.delivery_id);
    r = await complete("w1", takenOver.delivery_id, false, 800 * MIN + 160_000);
    assert.equal(r.state, "failed");
    const [row] = (await db.query("select state, attempts, last_error from clockwork.alert_delivery_history where delivery_id = $1", [third.delivery_id])).rows;
    assert.deepEqual(row, { state: "failed", attempts: 4, last_error: "HTTP 503" });
  });

  test("a job channel starts a run of its job with the alert as the parameters it declares", async () => {
    await defineJob(db, {
      name: "on-call", parameters: { alert_job: "", alert_condition: "", alert_message: "" },
      steps: [{ name: "page", sql: "select :alert_job::text as job, :alert_condition::text as c" }],
    });
    await db.query(`select clockwork.define_alert_channel('page', 'job', '{"job": "on-call"}')`);
    await defineJob(db, { name: "watched-by-job", alerts: { failures: 1, to: ["page"] }, steps: [{ name: "a", shell: "false" }] });
    await runOnce("watched-by-job", 900 * MIN, 1);
    const r = (await db.query("select clockwork.claim_deliveries('w1', 10, $1) as r", [iso(900 * MIN + 2000)])).rows[0].r;
    assert.equal(r.claimed.filter((c: { channel: string }) => c.channel === "page").length, 0, "delivered by the database itself");
    const [delivery] = (await db.query("select state, response from clockwork.alert_delivery_history where channel = 'page'")).rows;
    assert.equal(delivery.state, "delivered");
    const runId = /^run (\d+)$/.exec(delivery.response)![1];
    const [run] = (await db.query("select params from clockwork.runs where id = $1", [runId])).rows;
    assert.equal(run.params.alert_job, "watched-by-job");
    assert.equal(run.params.alert_condition, "failures");
    assert.match(run.params.alert_message, /1 failed run in a row/);
  });

  test("defaults apply to every job unless it says otherwise; only administrators set them or define channels", async () => {
    const user = await db.connect({ user: "cw_alert_user" });
    let e = await sqlErrorOf(user, "select clockwork.set_alert_defaults('{\"failures\": 1}')");
    assert.equal(e.code, SQLSTATE.not_an_admin);
    e = await sqlErrorOf(user, "select clockwork.define_alert_channel('mine', 'webhook', '{\"url\": \"http://127.0.0.1/\"}')");
    assert.equal(e.code, SQLSTATE.not_an_admin);
    e = await sqlErrorOf(db, "select clockwork.set_alert_defaults('{\"failures\": \"many\"}')");
    assert.equal(e.code, SQLSTATE.invalid_alert);
    await defineJob(db, { name: "plain", steps: [{ name: "a", shell: "false" }] });
    await defineJob(db, { name: "opted-out", alerts: false, steps: [{ name: "a", shell: "false" }] });
    await defineJob(db, { name: "partly", alerts: { failures: false, dead_man: "2h" }, steps: [{ name: "a", shell: "false" }] });
    await db.query("select clockwork.set_alert_defaults('{\"failures\": 1, \"recovery\": true}')");
    const rules = Object.fromEntries((await db.query(
      "select j.name, r.failures, r.recovery, r.dead_man::text from clockwork.alert_rules r join clockwork.jobs j on j.id = r.job_id where j.name in ('plain', 'opted-out', 'partly')")).rows.map((r) => [r.name, r]));
    assert.deepEqual(rules.plain, { name: "plain", failures: 1, recovery: true, dead_man: null });
    assert.equal(rules["opted-out"], undefined);
    assert.deepEqual(rules.partly, { name: "partly", failures: null, recovery: true, dead_man: "02:00:00" });
    await runOnce("plain", 1000 * MIN, 1);
    assert.equal((await alertsOf("plain"))[0].condition, "failures");
    await db.query("select clockwork.set_alert_defaults('{}')");
  });

  test("alerts follow row-level security: a role sees its own jobs' alerts, acknowledges them, and no one else's", async () => {
    await db.query("grant clockwork_shell to cw_alert_user");
    const user = await db.connect({ user: "cw_alert_user" });
    await user.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "users-job", alerts: { failures: 1 }, steps: [{ name: "a", shell: "false" }] })]);
    await runOnce("users-job", 1100 * MIN, 1);
    const theirs = (await user.query("select alert_id::text as id, job from clockwork.alert_history")).rows;
    assert.deepEqual(theirs.map((a) => a.job), ["users-job"], "only its own job's alerts");
    const others = (await db.query("select alert_id::text as id from clockwork.alert_history where job = 'flaky'")).rows[0].id;
    const e = await sqlErrorOf(user, "select clockwork.acknowledge_alert($1, 'mine now')", [others]);
    assert.equal(e.code, SQLSTATE.not_found);
    assert.equal((await user.query("select clockwork.acknowledge_alert($1, 'looking', $2) as ok", [theirs[0].id, iso(1101 * MIN)])).rows[0].ok, true);
    const [acked] = (await db.query("select state, acknowledged_by, acknowledgement from clockwork.alerts where id = $1", [theirs[0].id])).rows;
    assert.deepEqual(acked, { state: "acknowledged", acknowledged_by: "cw_alert_user", acknowledgement: "looking" });
    await runOnce("users-job", 1102 * MIN, 1);
    assert.equal((await db.query("select repeats from clockwork.alerts where id = $1", [theirs[0].id])).rows[0].repeats, 1, "an acknowledged alert still absorbs repeats");
  });

  test("a role LISTENing on clockwork_alert learns ids and kinds, never a failed run's error text; a long error does not break the alert", async () => {
    // Any role may LISTEN on any channel: the payload is ids and kinds, and the message
    // (which holds the step's error) is read through alert_history, which checks privileges.
    const stranger = await db.connect({ user: "cw_alert_user" });
    const heard: string[] = [];
    stranger.on("notification", (n) => { if (n.channel === "clockwork_alert") heard.push(n.payload ?? ""); });
    await stranger.query("LISTEN clockwork_alert");
    const jobId = await defineJob(db, { name: "leaky", alerts: { failures: 1 }, steps: [{ name: "a", shell: "false" }] });
    notes.length = 0;
    const fail = async (offsetMs: number, error: string) => {
      await runNow("leaky", offsetMs);
      const c = await claim("leaky", offsetMs);
      await db.query("select clockwork.complete_step($1, 'w1', 1, '', '', $2, $3)", [c.step_run_id, error, iso(offsetMs + 1000)]);
    };
    const secret = 'duplicate key value violates unique constraint "customers_email_key": Key (email)=(alice@example.com) already exists.';
    // 100 000 characters; and 3 255 in Cyrillic (a server with lc_messages in Russian): twice
    // in the old payload (message and details), 6 875 characters, under its cut-off of 7 900,
    // but 11 425 bytes, so the alerting transaction, the step's report, failed with "payload
    // string too long".
    const long = `token=s3cr3t ${"x".repeat(100_000)}`;
    const russian = "ОШИБКА: повторяющееся значение ключа нарушает ограничение уникальности «customers_email_key» ".repeat(35);
    await fail(1200 * MIN, secret);
    await settle();
    assert.equal(heard.length, 1);
    assert.ok(!heard[0]!.includes("alice@example.com"), `the stranger heard: ${heard[0]}`);
    await runOnce("leaky", 1201 * MIN, 0);
    await fail(1202 * MIN, long);
    await runOnce("leaky", 1203 * MIN, 0);
    await fail(1204 * MIN, russian);
    const alerts = await alertsOf("leaky");
    assert.deepEqual(alerts.map((a) => a.state), ["resolved", "resolved", "open"]);
    assert.ok(alerts[0].message.includes(secret) && alerts[1].message.includes(long) && alerts[2].message.includes(russian), "the table keeps each message whole");
    await settle();
    assert.equal(heard.length, 5, "two openings and resolutions, one opening");
    for (const payload of heard) {
      assert.deepEqual(Object.keys(JSON.parse(payload)).sort(), ["alert_id", "condition", "event", "job_id", "severity"]);
      assert.ok(!/alice|s3cr3t|ОШИБКА/.test(payload), payload);
    }
    assert.deepEqual(heard.map((p) => JSON.parse(p)), [
      { alert_id: alerts[0].id, event: "opened", job_id: jobId, condition: "failures", severity: "critical" },
      { alert_id: alerts[0].id, event: "resolved", job_id: jobId, condition: "failures", severity: "critical" },
      { alert_id: alerts[1].id, event: "opened", job_id: jobId, condition: "failures", severity: "critical" },
      { alert_id: alerts[1].id, event: "resolved", job_id: jobId, condition: "failures", severity: "critical" },
      { alert_id: alerts[2].id, event: "opened", job_id: jobId, condition: "failures", severity: "critical" },
    ]);
    assert.deepEqual(notes, heard.map((p) => JSON.parse(p)), "every listener hears the same");
    // What the payload names, the stranger cannot read; the job's owner can.
    const ids = alerts.map((a) => a.id);
    assert.equal((await stranger.query("select count(*)::int as n from clockwork.alert_history where alert_id = any($1::bigint[])", [ids])).rows[0].n, 0);
    const [read] = (await db.query("select job, message from clockwork.alert_history where alert_id = $1", [ids[2]])).rows;
    assert.equal(read.job, "leaky");
    assert.ok(read.message.includes(russian));
    await stranger.query("UNLISTEN *");
  });

  test("supervisors watch each other: a silent worker is lost until it heartbeats; an outage with none alive is recorded", async () => {
    await registerWorker(db.pool, "w-gone");
    // Pin every worker's last heartbeat, then let w-gone fall silent.
    await db.query("update clockwork.workers set heartbeat_at = $1, started_at = least(started_at, $1)", [iso(2000 * MIN)]);
    await db.query("update clockwork.workers set heartbeat_at = $1 where name <> 'w-gone'", [iso(2001 * MIN)]);
    assert.equal(await sweep(2001 * MIN, null), 1);
    const lost = (await alertsOf(null)).filter((a) => a.condition === "worker_lost" && a.key === "w-gone");
    assert.equal(lost.length, 1);
    assert.equal(lost[0].state, "open");
    await db.query("select clockwork.heartbeat('w-gone', $1)", [iso(2002 * MIN)]);
    await sweep(2002 * MIN);
    assert.equal((await alertsOf(null)).find((a) => a.id === lost[0].id).state, "resolved");
    // Every worker silent for an hour; the next one to register records the outage.
    await db.query("update clockwork.workers set heartbeat_at = $1, stopped_at = null", [iso(2002 * MIN)]);
    await db.query("select clockwork.register_worker('w-back', '{}', null, null, $1)", [iso(2062 * MIN)]);
    const down = (await alertsOf(null)).filter((a) => a.condition === "scheduler_down");
    assert.equal(down.length, 1);
    assert.equal(down[0].state, "resolved");
    assert.match(down[0].message, /^no supervisor was alive for 59 minutes 30 seconds, from /);
  });

  test("scheduler_health says down when no supervisor is alive while jobs are scheduled", async () => {
    await defineJob(db, { name: "every-minute", schedules: ["* * * * *"], steps: [{ name: "a", shell: "true" }] });
    await db.query("update clockwork.workers set heartbeat_at = now() - interval '10 minutes'");
    const [h] = (await db.query("select status, workers_alive from clockwork.scheduler_health")).rows;
    assert.deepEqual(h, { status: "down", workers_alive: 0 });
    await registerWorker(db.pool, "w1");
    assert.notEqual((await db.query("select clockwork.health() ->> 'status' as s")).rows[0].s, "down");
  });

  test("channels hold no secrets: credentials in a URL, a header or a secret name outside CLOCKWORK_SECRET_ are refused", async () => {
    const refused = async (target: object, code: string, field: RegExp) => {
      const e = await sqlErrorOf(db, "select clockwork.define_alert_channel('leaky', 'webhook', $1::jsonb)", [JSON.stringify(target)]);
      assert.equal(e.code, code, JSON.stringify(target));
      assert.match(e.message, field);
    };
    await refused({ url: "https://user:pw@hooks.example.com/x" }, SQLSTATE.invalid_alert, /^target\.url: must not carry a user or password/);
    await refused({ url: "https://hooks.example.com/x", headers: { Authorization: "Bearer abc" } }, SQLSTATE.secret_in_definition, /^target\.headers\.Authorization/);
    await refused({ url: "https://hooks.example.com/x", secret_env: "PGPASSWORD" }, SQLSTATE.secret_in_definition, /^target\.secret_env/);
    await refused({ url: "https://hooks.example.com/x", secret: "hunter2" }, SQLSTATE.secret_in_definition, /^target\.secret:/);
    await refused({ url: "ftp://hooks.example.com/x" }, SQLSTATE.invalid_alert, /^target\.url: must be an http/);
    const e = await sqlErrorOf(db, "select clockwork.define_alert_channel('mail', 'email', '{\"to\": [\"not an address\"]}')");
    assert.match(e.message, /^target\.to\[0\]: "not an address" is not a mail address/);
    assert.equal((await db.query("select count(*)::int as n from clockwork.alert_channels where name in ('leaky', 'mail')")).rows[0].n, 0);
    const inUse = await sqlErrorOf(db, "select clockwork.drop_alert_channel('ops')");
    assert.equal(inUse.code, SQLSTATE.invalid_state);
    assert.match(inUse.message, /in use by job "paged"/);
  });
});
