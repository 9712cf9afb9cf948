// End to end: each built-in run by a real supervisor against real local services (an HTTP
// server, an SMTP server, the file system of the working area); each bad argument refused
// when the job is defined; the secret a step names reaches the server and nothing else: no
// table, no log, no output.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, clusterEnv, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor, type SupervisorProcess } from "./support.ts";

const missing = await extensionMissing();
const SECRET = "tok-7c1e55-do-not-leak";
const FILE = "id,name\n1,ada\n2,grace\n";

describe("built-in steps", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let sup: SupervisorProcess;
  let http: Server;
  let base: string;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let smtp: SMTPServer;
  let smtpPort: number;
  const mails: { to: string[]; mail: ParsedMail }[] = [];
  const workDir = mkdtempSync(join(tmpdir(), "cw-work-"));
  const owner = clusterEnv().user;
  const ownerDir = join(workDir, owner.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`));

  before(async () => {
    http = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (req.url === "/ok") res.writeHead(200, { "content-type": "text/plain" }).end("hello");
        else if (req.url === "/missing") res.writeHead(404).end("no such thing");
        else if (req.url === "/big") res.writeHead(200).end("x".repeat(200_000));
        else if (req.url === "/echo") res.writeHead(201, { "content-type": "application/json" }).end(body);
        else if (req.url === "/file.csv") res.writeHead(200, { "content-type": "text/csv" }).end(FILE);
        else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end("late"), 5000);
        else res.writeHead(500).end("?");
      });
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    smtp = new SMTPServer({
      authOptional: true, disabledCommands: ["STARTTLS"], logger: false,
      onData(stream, session, callback) {
        simpleParser(stream).then((mail) => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), mail });
          callback();
        }, callback);
      },
    });
    await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    db = await createTestDatabase({ extensions: CLOCKWORK_EXTENSIONS, prefix: "e2e_builtins" });
    sup = startSupervisor(db.url, {
      name: "builtins-1",
      env: { CLOCKWORK_SECRET_API: SECRET, CLOCKWORK_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, CLOCKWORK_WORK_DIR: workDir, CLOCKWORK_SMTP_FROM: "jobs@example.com" },
    });
    await sup.waitForLog("registered", (l) => l.msg === "worker registered");
  });

  after(async () => {
    await stopAllSupervisors();
    http?.closeAllConnections();
    http?.close();
    smtp?.close();
    await db?.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const define = (name: string, steps: unknown[], extra: object = {}) =>
    db.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name, steps, ...extra })]);
  /** Runs a job now and waits for its end; returns the run's state and its steps. */
  const run = async (job: string) => {
    const id = String((await db.query("SELECT clockwork.run_now($1) AS id", [job])).rows[0].id);
    const state = await waitFor(`${job} to end`, async () => {
      const s = (await db.query("SELECT state FROM clockwork.runs WHERE id = $1", [id])).rows[0].state as string;
      return ["succeeded", "failed", "timed_out", "cancelled"].includes(s) ? s : null;
    }, 20_000);
    const steps = (await db.query("SELECT step, state, stdout, error, finished_at - started_at AS took FROM clockwork.step_history WHERE run_id = $1 ORDER BY step_run_id", [id])).rows;
    return { state, steps };
  };

  test("http: a 2xx succeeds with the status and the body recorded; a 404 fails unless allowed", async () => {
    await define("http-ok", [{ name: "get", builtin: "http", args: { url: `${base}/ok` } }]);
    let r = await run("http-ok");
    assert.equal(r.state, "succeeded");
    assert.equal(r.steps[0].stdout, "HTTP 200 OK\nhello");
    await define("http-404", [{ name: "get", builtin: "http", args: { url: `${base}/missing` } }]);
    r = await run("http-404");
    assert.equal(r.state, "failed");
    assert.equal(r.steps[0].error, "HTTP 404 Not Found (not 2xx, not in allow_status)");
    assert.match(r.steps[0].stdout, /^HTTP 404 Not Found\nno such thing$/);
    await define("http-404-ok", [{ name: "get", builtin: "http", args: { url: `${base}/missing`, allow_status: [404] } }]);
    assert.equal((await run("http-404-ok")).state, "succeeded");
  });

  test("http: a POST sends its JSON body and a secret header named by the definition; the response is bounded", async () => {
    await define("http-post", [
      { name: "post", builtin: "http", args: {
        url: `${base}/echo`, method: "POST", body: { report: "daily", rows: 3 },
        headers: { "X-Job": "nightly" }, secret_headers: { Authorization: { secret: "CLOCKWORK_SECRET_API", prefix: "Bearer " } },
      } },
      { name: "big", builtin: "http", depends: ["post"], args: { url: `${base}/big`, max_response: 1000 } },
    ]);
    const r = await run("http-post");
    assert.equal(r.state, "succeeded");
    const post = seen.find((s) => s.url === "/echo")!;
    assert.equal(post.method, "POST");
    assert.equal(post.headers.authorization, `Bearer ${SECRET}`, "the server got the secret");
    assert.equal(post.headers["x-job"], "nightly");
    assert.equal(post.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(post.body), { report: "daily", rows: 3 });
    assert.match(r.steps[0].stdout, /^HTTP 201 Created\n/);
    assert.deepEqual(JSON.parse(r.steps[0].stdout.slice("HTTP 201 Created\n".length)), { report: "daily", rows: 3 }, "the response recorded");
    assert.equal(r.steps[1].stdout.length, "HTTP 200 OK\n".length + 1000 + "\n[clockwork: response truncated after 1000 bytes]\n".length);
  });

  test("a secret the supervisor lacks fails the step, naming the variable and nothing else", async () => {
    await define("http-no-secret", [{ name: "get", builtin: "http", args: { url: `${base}/ok`, secret_headers: { "X-Key": "CLOCKWORK_SECRET_NOT_THERE" } } }]);
    const r = await run("http-no-secret");
    assert.equal(r.state, "failed");
    assert.equal(r.steps[0].error, "CLOCKWORK_SECRET_NOT_THERE is not set in this supervisor's environment");
  });

  test("download writes into the owner's folder of the working area; mail sends it as an attachment", async () => {
    await define("fetch-and-mail", [
      { name: "fetch", builtin: "download", args: { url: `${base}/file.csv`, to: "in/people.csv" } },
      { name: "send", builtin: "mail", depends: ["fetch"], args: {
        to: ["ops@example.com"], cc: "boss@example.com", subject: "people export", body: "Attached: today's people.", attachments: ["in/people.csv"],
      } },
    ]);
    const r = await run("fetch-and-mail");
    assert.equal(r.state, "succeeded", JSON.stringify(r.steps));
    assert.equal(readFileSync(join(ownerDir, "in/people.csv"), "utf8"), FILE);
    assert.equal(r.steps[0].stdout, `downloaded ${FILE.length} bytes to in/people.csv (sha256 ${createHash("sha256").update(FILE).digest("hex")})\n`);
    assert.ok(!existsSync(join(ownerDir, "in/people.csv.clockwork-partial")));
    const { to, mail } = await waitFor("the mail", () => mails.find((m) => m.mail.subject === "people export"));
    assert.deepEqual(to.sort(), ["boss@example.com", "ops@example.com"]);
    assert.equal(mail.from?.text, "jobs@example.com");
    assert.equal(mail.text?.trim(), "Attached: today's people.");
    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0]!.filename, "people.csv");
    assert.equal(mail.attachments[0]!.content.toString("utf8"), FILE);
    assert.match(r.steps[1].stdout, /^mail sent to 2 recipients with 1 attachment: 250/);
  });

  test("a symbolic link in the working area cannot lead a step out of it", async () => {
    mkdirSync(ownerDir, { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), "cw-outside-"));
    writeFileSync(join(outside, "secret.txt"), "outside");
    symlinkSync(outside, join(ownerDir, "escape"));
    symlinkSync(join(outside, "secret.txt"), join(ownerDir, "link.txt"));
    await define("escape", [
      { name: "via-dir", builtin: "mail", args: { to: "x@example.com", subject: "s", attachments: ["escape/secret.txt"] } },
      { name: "via-file", builtin: "mail", args: { to: "x@example.com", subject: "s", attachments: ["link.txt"] } },
      { name: "write-through", builtin: "download", args: { url: `${base}/ok`, to: "escape/planted.txt" } },
    ]);
    const r = await run("escape");
    assert.equal(r.state, "failed");
    const byStep = Object.fromEntries(r.steps.map((s: { step: string; error: string }) => [s.step, s.error]));
    assert.equal(byStep["via-dir"], "escape/secret.txt: a symbolic link leads out of the working area");
    assert.equal(byStep["via-file"], "link.txt is a symbolic link");
    assert.equal(byStep["write-through"], "escape/planted.txt.clockwork-partial: a symbolic link leads out of the working area");
    assert.ok(!existsSync(join(outside, "planted.txt")));
    assert.ok(!mails.some((m) => m.to.includes("x@example.com")));
    rmSync(outside, { recursive: true, force: true });
  });

  test("sleep waits its duration; its time-out and a slow server's time out", async () => {
    await define("nap", [{ name: "nap", builtin: "sleep", args: { duration: "1s" } }]);
    let r = await run("nap");
    assert.equal(r.state, "succeeded");
    assert.ok(Number(r.steps[0].took.seconds ?? 0) * 1000 + Number(r.steps[0].took.milliseconds ?? 0) >= 1000, "slept a second");
    await define("nap-too-long", [{ name: "nap", builtin: "sleep", args: { duration: "1h" }, timeout: "500ms" },
      { name: "slow", builtin: "http", args: { url: `${base}/slow` }, timeout: "500ms" }]);
    r = await run("nap-too-long");
    assert.equal(r.state, "failed");
    // Reported by the supervisor ("timed out after 500 ms") or decided by the database at the
    // step's deadline ("timed out"), whichever comes first.
    for (const s of r.steps) {
      assert.equal(s.state, "timed_out");
      assert.match(s.error, /^timed out( after 500 ms)?$/);
    }
  });

  test("bad arguments and missing rights are refused at definition time, with nothing stored", async () => {
    const refuse = async (steps: unknown[], code: string, message: RegExp, user?: string) => {
      const client: { query(sql: string, params: unknown[]): Promise<unknown> } = user ? await db.connect({ user }) : db;
      try {
        await client.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "refused", steps })]);
        assert.fail("defined");
      } catch (error) {
        const e = error as { code: string; message: string };
        assert.equal(e.code, code, e.message);
        assert.match(e.message, message);
      }
    };
    await refuse([{ name: "s", builtin: "http", args: { url: `${base}/ok`, headers: { Authorization: `Bearer ${SECRET}` } } }], SQLSTATE.secret_in_definition, /^steps\.s\.args\.headers\.Authorization: /);
    await refuse([{ name: "s", builtin: "download", args: { url: `${base}/ok`, to: "/etc/passwd" } }], SQLSTATE.invalid_builtin, /^steps\.s\.args\.to: "\/etc\/passwd" is absolute/);
    await refuse([{ name: "s", builtin: "sleep", args: { duration: "forever" } }], SQLSTATE.invalid_builtin, /^steps\.s\.args\.duration: /);
    await refuse([{ name: "s", builtin: "mail", args: { to: [], subject: "x" } }], SQLSTATE.invalid_builtin, /^steps\.s\.args\.to: /);
    await adminQuery("DO $$ BEGIN CREATE ROLE cw_builtin_user LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    await refuse([{ name: "s", builtin: "http", args: { url: `${base}/ok` } }], SQLSTATE.network_not_allowed, /^steps\.s\.builtin: the http built-in may only be defined by roles granted clockwork_network/, "cw_builtin_user");
    await adminQuery("GRANT clockwork_network TO cw_builtin_user");
    const user = await db.connect({ user: "cw_builtin_user" });
    await user.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({ name: "users-http", steps: [{ name: "s", builtin: "http", args: { url: `${base}/ok` } }] })]);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM clockwork.jobs WHERE name = 'refused'")).rows[0].n, 0);
  });

  test("the secret is in no table, no log and no step output", async () => {
    const tables = (await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'clockwork'")).rows.map((r) => r.tablename as string);
    for (const t of tables) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM clockwork.${t} AS x WHERE x::text LIKE $1`, [`%${SECRET}%`]);
      assert.equal(rows[0].n, 0, `clockwork.${t}`);
    }
    assert.ok(!JSON.stringify(sup.logs).includes(SECRET), "the supervisor's log");
    assert.ok(!sup.stderr.join("").includes(SECRET), "the supervisor's stderr");
    const cluster = JSON.parse(process.env.CLOCKWORK_TEST_CLUSTER ?? "{}") as { logFile?: string };
    if (cluster.logFile) assert.ok(!readFileSync(cluster.logFile, "utf8").includes(SECRET), "the server log");
  });
});
