// The web console end to end: a real cluster, a real supervisor running the jobs, the real
// `clockwork console` binary, and Debian's Chromium driven by playwright-core. Jobs belong
// to two roles; each console logs in as one of them, so row-level security decides what
// it shows. Screenshots of every view land in .tmp/console-screenshots (look at them).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { execFileSync } from "node:child_process";
import { request } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { adminQuery, clusterUrl, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "../e2e/support.ts";
import { browserMissing, launchBrowser, SCREENSHOTS, startConsoleProcess, stopAllConsoles, type ConsoleProcess } from "./support.ts";

const missing = (await extensionMissing()) ?? browserMissing();
const ALICE = "console_alice";
const BOB = "console_bob";
const GATEWAY = "console_gateway";

/** A POST with any headers (node's fetch would not let a test forge Host or Origin). */
function post(url: string, path: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(target, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* plain text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

function get(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    request(target, { headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* plain text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    }).on("error", reject).end();
  });
}

describe("the web console in a real browser", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let browser: Browser;
  let alice: ConsoleProcess; // actions allowed
  let aliceReadOnly: ConsoleProcess;
  let bobConsole: ConsoleProcess;

  const sql = (text: string, params: unknown[] = []) => db.query(text, params);

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
  }

  async function open(consoleUrl: string, hash: string, viewport = { width: 1360, height: 860 }, colorScheme: "light" | "dark" = "light"): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme });
    const page = await context.newPage();
    page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(`${consoleUrl}#${hash}`);
    return page;
  }

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "console" });
    for (const role of [ALICE, BOB, GATEWAY]) await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    await adminQuery(`CREATE ROLE ${ALICE} LOGIN IN ROLE clockwork_shell`);
    await adminQuery(`CREATE ROLE ${BOB} LOGIN`);
    // A gateway login that may act as alice or bob (the --role-header mode), nothing else.
    await adminQuery(`CREATE ROLE ${GATEWAY} LOGIN NOINHERIT IN ROLE ${ALICE}, ${BOB}`);
    await sql(`GRANT CREATE ON SCHEMA public TO ${ALICE}, ${BOB}`);

    const asAlice = await db.connect({ user: ALICE });
    const define = (definition: object) => asAlice.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify(definition)]);
    await define({ name: "alice-heartbeat", description: "SQL every 2 s", schedules: ["*/2 * * * * *"], steps: [{ name: "ping", sql: "SELECT 1 AS ok" }] });
    await define({ name: "alice-broken", schedules: ["*/3 * * * * *"], steps: [{ name: "load", shell: "echo 'loading rows'; echo 'disk quota exceeded' >&2; exit 3" }] });
    await define({ name: "alice-overlapping", schedules: ["* * * * * *"], policies: { overlap: "skip" }, steps: [{ name: "slow", shell: "sleep 2.2" }] });
    await define({
      name: "alice-pipeline",
      description: "extract, load per region, report",
      schedules: [],
      parameters: { day: "today" },
      steps: [
        { name: "extract", sql: "SELECT :day::text AS day, 42 AS rows" },
        { name: "load", depends: ["extract"], matrix: { region: ["eu", "us"] }, shell: 'echo "loading $region for $day"; sleep 0.5' },
        { name: "report", depends: ["load"], sql: "SELECT 'done' AS report" },
      ],
      checks: [{ name: "rows-loaded", sql: "SELECT 'OK'", expected: ["OK"] }],
    });
    await define({ name: "alice-sleeper", schedules: [], steps: [{ name: "wait", shell: "echo 'sleeper started'; sleep 31.4159; echo never" }] });
    await define({ name: "alice-nightly", schedules: ["30 2 * * *"], steps: [{ name: "vacuum", sql: "SELECT 1" }] });
    await asAlice.query("SELECT clockwork.disable_job('alice-nightly')");
    const asBob = await db.connect({ user: BOB });
    await asBob.query("SELECT clockwork.schedule('bob-private', '*/2 * * * * *', 'SELECT 2')");

    startSupervisor(db.url, { name: "console-sup", args: ["--concurrency", "8"] });
    alice = await startConsoleProcess(clusterUrl(db.name, ALICE), ["--allow-actions"]);
    aliceReadOnly = await startConsoleProcess(clusterUrl(db.name, ALICE));
    bobConsole = await startConsoleProcess(clusterUrl(db.name, BOB));
    browser = await launchBrowser();
    // History to show: a few runs of each scheduled job, a failure, a skipped slot.
    await waitFor("history to build up", async () => {
      const { rows } = await sql(`SELECT
          (SELECT count(*) FROM clockwork.run_history WHERE job = 'alice-heartbeat' AND state = 'succeeded') >= 3
          AND (SELECT count(*) FROM clockwork.run_history WHERE job = 'alice-broken' AND state = 'failed') >= 2
          AND (SELECT count(*) FROM clockwork.skipped_slots) >= 2 AS ready`);
      return rows[0].ready;
    }, 30_000, 200);
  });

  after(async () => {
    await browser?.close();
    await stopAllConsoles();
    await stopAllSupervisors();
    await db?.drop();
    for (const role of [GATEWAY, ALICE, BOB]) await adminQuery(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  });

  test("the jobs view shows the role's jobs with schedules in words, last state, sparklines; paused and failing stand out", async () => {
    const page = await open(alice.url, "/jobs");
    const rows = page.locator("table.jobs tbody tr");
    await waitFor("job rows", async () => (await rows.count()) === 6);
    const names = await page.locator("table.jobs .job-name").allTextContents();
    assert.deepEqual(names, ["alice-broken", "alice-heartbeat", "alice-nightly", "alice-overlapping", "alice-pipeline", "alice-sleeper"]);
    assert.equal(await page.locator('[data-testid="role"]').textContent(), `as ${ALICE}`);
    assert.equal(await page.locator('[data-testid="mode"]').textContent(), "actions allowed");

    const heartbeat = page.locator('tr[data-job="alice-heartbeat"]');
    assert.match(await heartbeat.textContent() ?? "", /every 2 seconds/);
    assert.ok((await heartbeat.locator("svg.spark rect.sp-succeeded").count()) >= 3, "sparkline bars of succeeded runs");
    assert.match(await heartbeat.locator("td").nth(2).textContent() ?? "", /^(in \d+ s|now|due \d+ s ago)$/, "next fire time, relative");
    const nightly = page.locator('tr[data-job="alice-nightly"]');
    assert.match(await nightly.getAttribute("class") ?? "", /paused/);
    assert.match(await nightly.textContent() ?? "", /paused/);
    await waitFor("alice-broken marked failing", async () => /failing/.test(await page.locator('tr[data-job="alice-broken"]').getAttribute("class") ?? ""));
    // Summary counts agree with the database, as this role sees it.
    const paused = await page.locator(".stat", { hasText: "Paused" }).locator(".n").textContent();
    assert.equal(paused, "1");
    await shot(page, "jobs");

    // Search and filter live in the address and narrow the page.
    await page.fill("input.search", "pipe");
    await waitFor("search result", async () => (await rows.count()) === 1);
    assert.match(page.url(), /q=pipe/);
    await page.fill("input.search", "");
    await page.click('button.chip:has-text("Paused")');
    await waitFor("paused filter", async () => (await page.locator("table.jobs .job-name").allTextContents()).join() === "alice-nightly");
    await page.click('button.chip:has-text("Failing")');
    await waitFor("failing filter", async () => (await page.locator("table.jobs .job-name").allTextContents()).join() === "alice-broken");
    await page.context().close();

    const dark = await open(alice.url, "/jobs", { width: 1360, height: 860 }, "dark");
    await waitFor("job rows (dark)", async () => (await dark.locator("table.jobs tbody tr").count()) === 6);
    const background = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, "rgb(15, 18, 23)", "the dark theme follows the system's choice");
    await shot(dark, "jobs-dark");
    await dark.context().close();

    const phone = await open(alice.url, "/jobs", { width: 390, height: 844 });
    await waitFor("job rows (phone)", async () => (await phone.locator("table.jobs tbody tr").count()) === 6);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page fits a phone's width (overflows by ${overflow}px)`);
    await shot(phone, "jobs-phone");
    await phone.context().close();
  });

  test("a role sees only its own jobs and runs, in the page and through the API", async () => {
    const page = await open(bobConsole.url, "/jobs");
    await waitFor("bob's job", async () => (await page.locator("table.jobs .job-name").allTextContents()).join() === "bob-private");
    assert.equal(await page.locator('[data-testid="role"]').textContent(), `as ${BOB}`);
    await page.context().close();

    const aliceRun = (await sql("SELECT max(run_id)::text AS id FROM clockwork.run_history WHERE job = 'alice-heartbeat'")).rows[0].id;
    const denied = await get(bobConsole.url, `/api/runs/${aliceRun}`);
    assert.equal(denied.status, 404);
    const failures = await get(bobConsole.url, "/api/failures?period=24h");
    assert.equal(failures.body.groups.length, 0, "alice's failures are not bob's");
    const timeline = await get(bobConsole.url, "/api/timeline?span=1h");
    assert.deepEqual(timeline.body.jobs.map((j: { name: string }) => j.name), ["bob-private"]);
    const aliceJobs = await get(alice.url, "/api/jobs");
    assert.equal(aliceJobs.body.total, 6);
    assert.ok(!aliceJobs.body.jobs.some((j: { name: string }) => j.name === "bob-private"));
  });

  test("a run started from the console appears and completes live, with its step graph, matrix instances and checks", async () => {
    const page = await open(alice.url, "/jobs");
    await page.click('tr[data-job="alice-pipeline"] a.job-name');
    await page.waitForSelector("h1:has-text('alice-pipeline')");
    await page.click('button[data-action="run-now"]');
    await page.fill('fieldset.params input[name="day"]', "2030-01-31");
    await page.click('button[data-confirm="run-now"]');
    const toast = page.locator('[data-testid="action-result"]');
    await toast.waitFor();
    const runId = /started run (\d+)/.exec(await toast.textContent() ?? "")?.[1];
    assert.ok(runId, `the result names the run: ${await toast.textContent()}`);
    // The new run shows in the job's history without a reload.
    await page.waitForSelector(`tr[data-run="${runId}"]`);
    await toast.locator("a").click();
    await page.waitForSelector(`h1:has-text("Run #${runId}")`);
    // Live: the page follows the run to its end without a reload.
    await page.waitForSelector('h1 .badge.s-succeeded', { timeout: 20_000 });
    for (const node of ["extract", "load", "report", "check:rows-loaded"]) {
      assert.equal(await page.locator(`[data-node="${node}"]`).getAttribute("data-state"), "succeeded", node);
    }
    assert.deepEqual(await page.locator('[data-node="load"] .inst').allTextContents(), ["eu", "us"]);
    assert.match(await page.locator("dl.facts.wide").textContent() ?? "", /day="2030-01-31"/);
    assert.equal((await sql("SELECT params->>'day' AS day FROM clockwork.runs WHERE id = $1", [runId])).rows[0].day, "2030-01-31");
    // An SQL step's result rows and a shell step's output are shown.
    await page.click('.attempt[data-state="succeeded"] .attempt-head >> text=extract');
    await page.waitForSelector(".result td:has-text('2030-01-31')");
    const eu = page.locator('.attempt', { hasText: "load[region=eu]" });
    // Attempts that were running when the page opened are open already.
    if (await eu.locator(".attempt-head").getAttribute("aria-expanded") !== "true") await eu.locator(".attempt-head").click();
    await waitFor("the shell step's output", async () => /loading eu for 2030-01-31/.test(await eu.locator("pre").textContent().catch(() => "") ?? ""), 10_000)
      .catch(async (error) => {
        await shot(page, "run-failed");
        throw new Error(`${(error as Error).message}; the attempt shows: ${await eu.textContent()}`);
      });
    await shot(page, "run");
    const phone = await open(alice.url, `/runs/${runId}`, { width: 390, height: 844 });
    await phone.waitForSelector('h1 .badge.s-succeeded');
    await shot(phone, "run-phone");
    await phone.context().close();
    await page.context().close();
  });

  test("cancel stops a running shell step; its output streamed live before", async () => {
    const runId = String((await sql("SELECT clockwork.run_now('alice-sleeper') AS id")).rows[0].id);
    const page = await open(alice.url, `/runs/${runId}`);
    await page.waitForSelector("pre:has-text('sleeper started')", { timeout: 15_000 });
    assert.equal(await page.locator(".output .cursor").count(), 1, "the output is live");
    assert.ok(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).includes("sleep 31.4159"), "the step's process runs");
    await page.click('button[data-action="cancel"]');
    await page.click('button[data-confirm="cancel"]');
    await page.locator('[data-testid="action-result"]', { hasText: `cancelled run ${runId}` }).waitFor();
    await page.waitForSelector("h1 .badge.s-cancelled");
    assert.match(await page.locator('[data-testid="run-reason"]').textContent() ?? "", new RegExp(`cancelled by ${ALICE}`));
    await waitFor("the shell step's process to be gone", () => !execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).includes("sleep 31.4159"), 15_000);
    const step = (await sql("SELECT state FROM clockwork.step_runs WHERE run_id = $1", [runId])).rows[0];
    assert.equal(step.state, "cancelled");
    await page.context().close();
  });

  test("a failed run is retried from the failures view; pause and resume are confirmed and done by the SQL API", async () => {
    const page = await open(alice.url, "/failures?period=24h");
    const group = page.locator('article[data-job="alice-broken"]');
    await group.waitFor();
    assert.match(await group.textContent() ?? "", /exit 3/);
    assert.match(await group.textContent() ?? "", /disk quota exceeded/);
    // The job fails every 3 s: its latest run may be running when the page asks; the page
    // polls, so the group says "still failing" again a moment later.
    await waitFor("the group to say still failing", async () => /still failing/.test(await group.textContent() ?? ""), 15_000);
    await shot(page, "failures");
    await group.locator('button[data-action="retry"]').click();
    // The job fails every 3 s: the dialog names the run it will retry.
    const failedId = /Retry run (\d+)/.exec(await page.locator(".modal h2").textContent() ?? "")?.[1];
    assert.equal((await sql("SELECT state FROM clockwork.runs WHERE id = $1", [failedId])).rows[0].state, "failed");
    await page.click('button[data-confirm="retry"]');
    const result = page.locator('[data-testid="action-result"]');
    await result.waitFor();
    const retryId = /retried as run (\d+)/.exec(await result.textContent() ?? "")?.[1];
    assert.ok(retryId, await result.textContent() ?? "");
    assert.equal((await sql("SELECT retry_of::text FROM clockwork.runs WHERE id = $1", [retryId])).rows[0].retry_of, failedId);
    await page.context().close();

    const jobPage = await open(alice.url, "/jobs");
    await jobPage.click('tr[data-job="alice-heartbeat"] a.job-name');
    await jobPage.click('button[data-action="pause"]');
    assert.match(await jobPage.locator(".modal").textContent() ?? "", /clockwork\.disable_job/);
    await jobPage.click('button[data-confirm="pause"]');
    await jobPage.locator('[data-testid="action-result"]', { hasText: "paused alice-heartbeat" }).waitFor();
    await jobPage.waitForSelector("h1 .badge.s-paused");
    assert.equal((await sql("SELECT enabled FROM clockwork.jobs WHERE name = 'alice-heartbeat'")).rows[0].enabled, false);
    await jobPage.click('button[data-action="resume"]');
    await jobPage.click('button[data-confirm="resume"]');
    await jobPage.locator('[data-testid="action-result"]', { hasText: "resumed alice-heartbeat" }).waitFor();
    assert.equal((await sql("SELECT enabled FROM clockwork.jobs WHERE name = 'alice-heartbeat'")).rows[0].enabled, true);
    await jobPage.context().close();
  });

  test("an action refused by the SQL API shows psql's error: SQLSTATE, message and hint", async () => {
    let psqlError: { code: string; message: string; hint: string } | undefined;
    const asAlice = await db.connect({ user: ALICE });
    try {
      await asAlice.query("SELECT clockwork.run_now('alice-pipeline', '{\"dya\": 1}')");
    } catch (error) {
      psqlError = error as { code: string; message: string; hint: string };
    }
    const answer = await post(alice.url, "/api/actions/run-now", { job: "alice-pipeline", params: { dya: 1 } });
    assert.equal(answer.status, 400);
    assert.deepEqual(
      { code: answer.body.error.code, message: answer.body.error.message, hint: answer.body.error.hint },
      { code: psqlError!.code, message: psqlError!.message, hint: psqlError!.hint },
    );
    assert.equal(answer.body.error.code, SQLSTATE.invalid_parameter);
    const other = await post(alice.url, "/api/actions/pause", { job: "bob-private" });
    assert.equal(other.body.error.code, SQLSTATE.not_found, "bob's job does not exist for alice");
  });

  test("a read-only console refuses actions, in the page and at the API", async () => {
    const page = await open(aliceReadOnly.url, "/jobs");
    await page.waitForSelector('tr[data-job="alice-pipeline"]');
    assert.equal(await page.locator('[data-testid="mode"]').textContent(), "read-only");
    const button = page.locator('tr[data-job="alice-pipeline"] button[data-action="run-now"]');
    assert.equal(await button.isDisabled(), true);
    assert.match(await button.getAttribute("title") ?? "", /read-only console/);
    await page.context().close();

    const refused = await post(aliceReadOnly.url, "/api/actions/run-now", { job: "alice-pipeline" });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /read-only: start it with --allow-actions/);
    const pause = await post(aliceReadOnly.url, "/api/actions/pause", { job: "alice-pipeline" });
    assert.equal(pause.status, 403);
    assert.equal((await sql("SELECT enabled FROM clockwork.jobs WHERE name = 'alice-pipeline'")).rows[0].enabled, true);
    const runsNow = (await sql("SELECT count(*)::int AS n FROM clockwork.runs WHERE trigger = 'manual' AND job_id = (SELECT id FROM clockwork.jobs WHERE name = 'alice-pipeline')")).rows[0].n;
    assert.equal(runsNow, 1, "only the run started by the allowed console");
  });

  test("actions come only from the console's own page; a loopback console answers only to loopback names", async () => {
    const crossSite = await post(alice.url, "/api/actions/pause", { job: "alice-pipeline" }, { origin: "http://evil.example" });
    assert.equal(crossSite.status, 403);
    const form = await post(alice.url, "/api/actions/pause", { job: "alice-pipeline" }, { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(form.status, 415);
    const rebound = await get(alice.url, "/api/jobs", { host: "attacker.example:80" });
    assert.equal(rebound.status, 421);
    assert.equal((await sql("SELECT enabled FROM clockwork.jobs WHERE name = 'alice-pipeline'")).rows[0].enabled, true);
  });

  test("the timeline draws runs per job with failures, late starts and skipped slots, zoomable from an hour to a week", async () => {
    const page = await open(alice.url, "/timeline?span=15m");
    await page.waitForSelector('.tl-row[data-job="alice-heartbeat"] g.run.s-succeeded');
    assert.ok((await page.locator('.tl-row[data-job="alice-broken"] g.run.s-failed').count()) >= 2);
    assert.ok((await page.locator('.tl-row[data-job="alice-overlapping"] g.skip').count()) >= 2, "skipped slots are marked");
    assert.equal(await page.locator('.tl-row[data-job="bob-private"]').count(), 0);
    assert.equal(await page.locator(".tl-row.paused").count(), 1);
    const bars = await page.locator('.tl-row[data-job="alice-heartbeat"] g.run').count();
    const recorded = (await sql(
      "SELECT count(*)::int AS n FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'alice-heartbeat'")).rows[0].n;
    assert.ok(Math.abs(bars - recorded) <= 2, `one bar per run (${bars} bars, ${recorded} runs)`);
    await shot(page, "timeline");
    await page.click('button[data-span="7d"]');
    await page.waitForSelector('.timeline[data-span="7d"]');
    assert.match(page.url(), /span=7d/);
    await page.waitForSelector('.tl-row[data-job="alice-heartbeat"] g.run');
    await page.context().close();
    // A late start: a run whose first step started long after its slot.
    const late = await get(alice.url, "/api/timeline?span=1h&q=alice-overlapping");
    assert.ok(late.body.jobs[0].runs.length > 0);
  });

  test("skipped slots show their reason in words; workers show health, leases and lag", async () => {
    const page = await open(alice.url, "/skipped");
    await page.waitForSelector('tr[data-reason="overlap_skipped"]');
    assert.match(await page.locator('tr[data-reason="overlap_skipped"]').first().textContent() ?? "", /alice-overlapping.*an earlier run of the job was still going \(overlap: skip\)/);
    // clockwork.explain is in the SQL API: the page offers it, and it answers for a slot that ran.
    await page.waitForSelector("form.explain");
    const slot = (await sql("SELECT r.id::text AS id, r.slot_at FROM clockwork.runs r JOIN clockwork.jobs j ON j.id = r.job_id WHERE j.name = 'alice-heartbeat' AND r.slot_at IS NOT NULL ORDER BY r.id LIMIT 1")).rows[0];
    const explained = await get(alice.url, `/api/explain?job=alice-heartbeat&at=${encodeURIComponent(slot.slot_at.toISOString())}`);
    assert.equal(explained.status, 200, JSON.stringify(explained.body));
    assert.match(JSON.stringify(explained.body.explanations), new RegExp(`\\b${slot.id}\\b`), "the explanation names the run the slot became");
    await shot(page, "skipped");
    await page.goto(`${alice.url}#/workers`);
    const worker = page.locator('[data-worker="console-sup"]');
    await worker.waitFor();
    assert.equal(await worker.getAttribute("data-health"), "alive");
    await waitFor("a lease on the overlapping job", async () => /alice-overlapping #\d+/.test(await worker.locator(".leases").textContent().catch(() => "") ?? ""), 10_000);
    assert.match(await worker.textContent() ?? "", /Start lag.*median/);
    await shot(page, "workers");
    await page.context().close();
  });

  test("behind a proxy, each request acts as the role the proxy names; others are refused", async () => {
    const gateway = await startConsoleProcess(clusterUrl(db.name, GATEWAY), ["--role-header", "x-forwarded-user"]);
    const asAlice = await get(gateway.url, "/api/jobs", { "x-forwarded-user": ALICE });
    assert.equal(asAlice.body.total, 6);
    const asBob = await get(gateway.url, "/api/jobs", { "x-forwarded-user": BOB });
    assert.deepEqual(asBob.body.jobs.map((j: { name: string }) => j.name), ["bob-private"]);
    const session = await get(gateway.url, "/api/session", { "x-forwarded-user": BOB });
    assert.equal(session.body.role, BOB);
    assert.equal((await get(gateway.url, "/api/jobs")).status, 401);
    assert.equal((await get(gateway.url, "/api/jobs", { "x-forwarded-user": "postgres" })).status, 403);
    // "none" would reset to the gateway's own login, which may see every role it can become.
    assert.equal((await get(gateway.url, "/api/jobs", { "x-forwarded-user": "NONE" })).status, 403);
    // The same connection, asked for alice again after bob, shows alice's jobs again.
    assert.equal((await get(gateway.url, "/api/jobs", { "x-forwarded-user": ALICE })).body.total, 6);
    await gateway.stop();
  });
});
