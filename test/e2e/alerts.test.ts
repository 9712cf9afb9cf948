// End to end: alerts reach someone. Real supervisors deliver to a local HTTP server (the
// signature, the retries and the payload are checked) and to a local SMTP server (the
// recipient, subject and body are checked); receivers that hang leave scheduling untouched;
// supervisors watch each other, and an outage with none alive is reported when one returns.
// The webhook's secret appears in no table and no log.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, setLease, sleep, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();
const SECRET = "s3cret-hook-key-9f2c";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: { delivery_id: string; event: string; channel: string; attempt: number; alert: Record<string, any> };
  status: number;
}

/** A local webhook receiver: answers each delivery's first `failFirst` attempts with 503. */
function webhookServer(failFirst: number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
      const json = JSON.parse(body);
      const n = (attempts.get(json.delivery_id) ?? 0) + 1;
      attempts.set(json.delivery_id, n);
      const status = n <= failFirst ? 503 : 200;
      received.push({ headers: req.headers, body, json, status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "thanks" : "try later");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, received })));
}

/** A receiver that accepts the connection and never answers. */
function hangingServer(): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer(() => void hits++);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits: () => hits })));
}

function smtpServer(): Promise<{ server: SMTPServer; port: number; mails: { envelopeTo: string[]; mail: ParsedMail }[] }> {
  const mails: { envelopeTo: string[]; mail: ParsedMail }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        mails.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), mail });
        callback();
      }, callback);
    },
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, port: (server.server.address() as AddressInfo).port, mails })));
}

describe("alert delivery by supervisors", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let hook: Awaited<ReturnType<typeof webhookServer>>;
  let stuck: Awaited<ReturnType<typeof hangingServer>>;
  let smtp: Awaited<ReturnType<typeof smtpServer>>;
  const supervisors: SupervisorProcess[] = [];
  const env = () => ({ CLOCKWORK_SECRET_HOOK: SECRET, CLOCKWORK_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, CLOCKWORK_ALERT_CHECK: "200ms" });
  const start = (name: string) => {
    const s = startSupervisor(db.url, { name, env: env() });
    supervisors.push(s);
    return s;
  };

  before(async () => {
    hook = await webhookServer(2);
    stuck = await hangingServer();
    smtp = await smtpServer();
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_alerts" });
    await setLease(db, 2);
    await db.query("SELECT clockwork.define_alert_channel('hook', 'webhook', $1)", [JSON.stringify({
      url: hook.url, secret_env: "CLOCKWORK_SECRET_HOOK", headers: { "X-Team": "dba" }, retry: { attempts: 5, delay: "200ms" },
    })]);
    await db.query("SELECT clockwork.define_alert_channel('dba-mail', 'email', $1)", [JSON.stringify({
      to: ["dba@example.com"], cc: "oncall@example.com", from: "clockwork@example.com", subject_prefix: "[prod]",
    })]);
    await db.query("SELECT clockwork.define_alert_channel('stuck', 'webhook', $1)", [JSON.stringify({
      url: stuck.url, timeout: "2s", retry: { attempts: 50, delay: "200ms", max_delay: "200ms" },
    })]);
    // Alerts about the scheduler itself (worker_lost, scheduler_down) go to the defaults' channels.
    await db.query(`SELECT clockwork.set_alert_defaults('{"to": ["hook"]}')`);
  });

  after(async () => {
    await stopAllSupervisors();
    hook?.server.close();
    stuck?.server.closeAllConnections();
    stuck?.server.close();
    smtp?.server.close();
    await db?.drop();
  });

  test("a failure is delivered to a webhook (signed, retried after 503s, one delivery id) and by mail", async () => {
    const sup = start("alerts-1");
    await sup.waitForLog("registered", (l) => l.msg === "worker registered");
    await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "nightly-export", alerts: { failures: 1, to: ["hook", "dba-mail"] }, steps: [{ name: "dump", shell: "echo 'disk full' >&2; exit 3" }],
    })]);
    const runId = String((await db.query("SELECT clockwork.run_now('nightly-export') AS id")).rows[0].id);

    const ok = await waitFor("the webhook delivered", () => hook.received.find((r) => r.status === 200 && r.json.alert.job === "nightly-export"), 20_000);
    const tries = hook.received.filter((r) => r.json.delivery_id === ok.json.delivery_id);
    assert.deepEqual(tries.map((r) => [r.json.attempt, r.status]), [[1, 503], [2, 503], [3, 200]], "retried after each 503");
    for (const r of tries) {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers["clockwork-signature"]));
      assert.ok(m, "signed");
      const expected = createHmac("sha256", SECRET).update(`${m[1]}.${r.body}`).digest("hex");
      assert.equal(m[2], expected, "the signature is the HMAC of timestamp and body with the named secret");
      assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 120, "a current timestamp");
      assert.equal(r.headers["clockwork-delivery"], ok.json.delivery_id);
      assert.equal(r.headers["clockwork-event"], "failures.opened");
      assert.equal(r.headers["x-team"], "dba", "the channel's own headers");
      assert.equal(r.headers["content-type"], "application/json");
    }
    const a = ok.json.alert;
    assert.equal(ok.json.event, "opened");
    assert.equal(ok.json.channel, "hook");
    assert.equal(a.condition, "failures");
    assert.equal(a.severity, "critical");
    assert.equal(a.details.run_id, runId);
    assert.match(a.message, new RegExp(`^1 failed run in a row \\(last: run ${runId} failed`));

    // The receiver has answered; the supervisor reports the outcome a moment later.
    const delivery = await waitFor("the delivery reported", async () => {
      const [row] = (await db.query("SELECT state, attempts, response, last_error FROM clockwork.alert_delivery_history WHERE delivery_id = $1", [ok.json.delivery_id])).rows;
      return row.state === "sending" || row.state === "pending" ? null : row;
    }, 20_000);
    assert.deepEqual(delivery, { state: "delivered", attempts: 3, response: "HTTP 200: thanks", last_error: "HTTP 503: try later" });

    const { envelopeTo, mail } = await waitFor("the mail", () => smtp.mails.find((m) => m.mail.subject?.includes("nightly-export")), 20_000);
    assert.deepEqual(envelopeTo.sort(), ["dba@example.com", "oncall@example.com"]);
    assert.equal(mail.from?.text, "clockwork@example.com");
    assert.equal(mail.subject, "[prod] CRITICAL job nightly-export: failures opened");
    assert.match(mail.text ?? "", new RegExp(`^1 failed run in a row \\(last: run ${runId} failed`));
    assert.match(mail.text ?? "", new RegExp(`SELECT clockwork.acknowledge_alert\\(${a.alert_id}, 'on it'\\);`));
    const mailDelivery = await waitFor("the mail delivery reported", async () => {
      const [row] = (await db.query("SELECT state, attempts FROM clockwork.alert_delivery_history WHERE channel = 'dba-mail'")).rows;
      return row.state === "sending" || row.state === "pending" ? null : row;
    }, 20_000);
    assert.deepEqual(mailDelivery, { state: "delivered", attempts: 1 });
  });

  test("receivers that hang never hold up scheduling", async () => {
    await db.query("CREATE TABLE beats (slot timestamptz, at timestamptz DEFAULT clock_timestamp())");
    // Six failing jobs, each delivered to a receiver that never answers: more than the
    // supervisor's concurrent deliveries, all of them hanging until their time-out.
    for (let i = 0; i < 6; i++) {
      await db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
        name: `noisy-${i}`, alerts: { failures: 1, to: ["stuck"] }, steps: [{ name: "s", shell: "exit 1" }],
      })]);
      await db.query("SELECT clockwork.run_now($1)", [`noisy-${i}`]);
    }
    await waitFor("deliveries hanging", () => stuck.hits() >= 4, 15_000);
    await db.query("SELECT clockwork.schedule('beat', '* * * * * *', 'INSERT INTO beats (slot) SELECT now()')");
    await sleep(5000);
    await db.query("SELECT clockwork.disable_job('beat')");
    const runs = (await db.query(`
      SELECT r.slot_at, r.state, extract(epoch FROM r.started_at - r.slot_at) * 1000 AS lag_ms
        FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'beat' ORDER BY r.slot_at`)).rows;
    assert.ok(runs.length >= 4, `a run every second while deliveries hang (${runs.length})`);
    const seconds = (Date.parse(runs.at(-1).slot_at) - Date.parse(runs[0].slot_at)) / 1000 + 1;
    assert.equal(runs.length, seconds, "no slot skipped");
    for (const r of runs.slice(0, -1)) assert.ok(Number(r.lag_ms) < 1000, `started ${Number(r.lag_ms).toFixed(0)} ms after its slot`);
    const pending = (await db.query(`
      SELECT count(*)::int AS n, max(last_error) AS error FROM clockwork.alert_delivery_history
       WHERE channel = 'stuck' AND state IN ('pending', 'sending')`)).rows[0];
    assert.equal(pending.n, 6, "the stuck deliveries stay visible, to be retried");
    await waitFor("a time-out recorded", async () =>
      (await db.query("SELECT 1 FROM clockwork.alert_deliveries WHERE channel = 'stuck' AND last_error LIKE 'POST failed: no answer within 2000 ms'")).rowCount, 10_000);
    await db.query("SELECT clockwork.drop_job('noisy-' || i) FROM generate_series(0, 5) AS i");
    await db.query("DELETE FROM clockwork.alert_deliveries WHERE channel = 'stuck'");
  });

  test("supervisors watch each other, and an outage with none alive is reported when one returns", async () => {
    const a = supervisors[0]!;
    const b = start("alerts-2");
    await b.waitForLog("registered", (l) => l.msg === "worker registered");
    await b.stop("SIGKILL");
    const lost = await waitFor("worker_lost delivered", () =>
      hook.received.find((r) => r.status === 200 && r.json.alert.condition === "worker_lost" && r.json.alert.key === "alerts-2"), 20_000);
    assert.equal(lost.json.alert.job, null);
    assert.match(lost.json.alert.message, /^supervisor alerts-2 has not been heard from/);

    // Every supervisor gone: the database says so to any monitor, with no supervisor to ask.
    await db.query("SELECT clockwork.schedule('keeps-time', '* * * * * *', 'SELECT 1')");
    await a.stop("SIGKILL");
    const health = await waitFor("health down", async () => {
      const [h] = (await db.query("SELECT status, workers_alive, scheduled_jobs FROM clockwork.scheduler_health")).rows;
      return h.status === "down" ? h : null;
    }, 10_000);
    assert.equal(health.workers_alive, 0);
    await sleep(3000);
    const c = start("alerts-3");
    const down = await waitFor("scheduler_down delivered", () =>
      hook.received.find((r) => r.status === 200 && r.json.alert.condition === "scheduler_down"), 20_000);
    assert.match(down.json.alert.message, /^no supervisor was alive for /);
    assert.equal(down.json.alert.state, "resolved", "an event: recorded resolved");
    await waitFor("health ok again", async () =>
      (await db.query("SELECT status FROM clockwork.scheduler_health")).rows[0].status !== "down", 10_000);
    await c.stop();
  });

  test("the webhook's secret is in no table and no log", async () => {
    const tables = (await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'clockwork'")).rows.map((r) => r.tablename as string);
    for (const t of tables) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM clockwork.${t} AS x WHERE x::text LIKE $1`, [`%${SECRET}%`]);
      assert.equal(rows[0].n, 0, `clockwork.${t}`);
    }
    for (const s of supervisors) {
      assert.ok(!JSON.stringify(s.logs).includes(SECRET), `${s.name}'s log`);
      assert.ok(!s.stderr.join("").includes(SECRET), `${s.name}'s stderr`);
    }
    const cluster = JSON.parse(process.env.CLOCKWORK_TEST_CLUSTER ?? "{}") as { logFile?: string };
    if (cluster.logFile) assert.ok(!readFileSync(cluster.logFile, "utf8").includes(SECRET), "the server log");
  });
});
