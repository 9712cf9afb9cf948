// The console's Alerts view in Debian's Chromium: real alerts, decided by the database for
// a job a real supervisor runs, shown to the role that owns the job (and to no other),
// with their deliveries; an open alert acknowledged from the page through the SQL API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { adminQuery, clusterUrl, createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing, startSupervisor, stopAllSupervisors, waitFor } from "../e2e/support.ts";
import { browserMissing, launchBrowser, SCREENSHOTS, startConsoleProcess, stopAllConsoles, type ConsoleProcess } from "./support.ts";

const missing = (await extensionMissing()) ?? browserMissing();
const CAROL = "console_carol";
const DAVE = "console_dave";

describe("the console's alerts view", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  let browser: Browser;
  let carol: ConsoleProcess;
  let dave: ConsoleProcess;

  const open = async (url: string, hash: string): Promise<Page> => {
    const page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
    page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(`${url}#${hash}`);
    return page;
  };

  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "console_alerts" });
    for (const role of [CAROL, DAVE]) {
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
      await adminQuery(`CREATE ROLE ${role} LOGIN IN ROLE clockwork_shell`);
    }
    // An unreachable webhook: its delivery is retried, and the view shows the error.
    await db.query(`SELECT clockwork.define_alert_channel('ops-hook', 'webhook', '{"url": "http://127.0.0.1:9/hook", "retry": {"attempts": 20, "delay": "1s"}}')`);
    const asCarol = await db.connect({ user: CAROL });
    await asCarol.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "carol-export", alerts: { failures: 2, to: ["ops-hook"] }, steps: [{ name: "dump", shell: "echo 'no space left' >&2; exit 1" }],
    })]);
    const asDave = await db.connect({ user: DAVE });
    await asDave.query("SELECT clockwork.define_job($1::jsonb)", [JSON.stringify({
      name: "dave-sync", alerts: { failures: 1 }, steps: [{ name: "sync", shell: "exit 2" }],
    })]);
    startSupervisor(db.url, { name: "alerts-console-sup", env: { CLOCKWORK_ALERT_CHECK: "500ms" } });
    for (let i = 0; i < 2; i++) {
      const run = (await asCarol.query("SELECT clockwork.run_now('carol-export') AS id")).rows[0].id;
      await waitFor(`run ${run}`, async () => (await db.query("SELECT finished_at FROM clockwork.runs WHERE id = $1", [run])).rows[0].finished_at, 20_000);
    }
    await asDave.query("SELECT clockwork.run_now('dave-sync')");
    await waitFor("both alerts", async () => (await db.query("SELECT count(*)::int AS n FROM clockwork.alerts")).rows[0].n === 2, 20_000);
    await waitFor("a failed delivery attempt", async () =>
      (await db.query("SELECT 1 FROM clockwork.alert_deliveries WHERE last_error IS NOT NULL")).rowCount, 20_000);
    carol = await startConsoleProcess(clusterUrl(db.name, CAROL), ["--allow-actions"]);
    dave = await startConsoleProcess(clusterUrl(db.name, DAVE));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stopAllConsoles();
    await stopAllSupervisors();
    await db?.drop();
  });

  test("shows the role's own open alerts with their deliveries, and acknowledges one through the SQL API", async () => {
    const page = await open(carol.url, "/alerts");
    const card = page.locator('article[data-condition="failures"]');
    await card.waitFor();
    assert.equal(await page.locator("article.alert").count(), 1, "dave's alert is not carol's to see");
    const text = (await card.textContent()) ?? "";
    assert.match(text, /carol-export · failures/);
    assert.match(text, /2 failed runs in a row/);
    assert.match(text, /critical/);
    await page.screenshot({ path: join(SCREENSHOTS, "alerts.png"), fullPage: true });
    await waitFor("the delivery error", async () => /1 pending · last error: POST failed: \S+/.test((await card.textContent()) ?? ""), 10_000)
      .catch(async (e) => assert.fail(`${(e as Error).message}: ${await card.textContent()}`));
    await card.locator('button[data-action="acknowledge"]').click();
    await page.locator('.modal input[name="note"]').fill("disk being resized");
    await page.locator('button[data-confirm="acknowledge"]').click();
    await waitFor("acknowledged in the page", async () => (await card.getAttribute("data-state")) === "acknowledged", 10_000);
    assert.match((await card.textContent()) ?? "", new RegExp(`acknowledged by ${CAROL}.*: disk being resized`));
    const [row] = (await db.query("SELECT state, acknowledged_by, acknowledgement FROM clockwork.alerts WHERE job_id = (SELECT id FROM clockwork.jobs WHERE name = 'carol-export')")).rows;
    assert.deepEqual(row, { state: "acknowledged", acknowledged_by: CAROL, acknowledgement: "disk being resized" });
  });

  test("a read-only console shows alerts but cannot acknowledge them", async () => {
    const page = await open(dave.url, "/alerts");
    const card = page.locator('article[data-condition="failures"]');
    await card.waitFor();
    assert.match((await card.textContent()) ?? "", /dave-sync/);
    assert.match((await card.textContent()) ?? "", /no channels: NOTIFY clockwork_alert only/);
    assert.equal(await card.locator('button[data-action="acknowledge"]').isDisabled(), true);
    assert.equal(await page.locator('nav a[href="#/alerts"]').count(), 1, "the navigation has Alerts");
  });
});
