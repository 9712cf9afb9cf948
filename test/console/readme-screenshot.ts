// Takes the README's screenshots of the console (docs/console.png, docs/console-run.png)
// from `make demo` after it has run for a while. Not a test; run it by hand when the
// console's look changes:  npx tsx test/console/readme-screenshot.ts [--seconds 100]
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, waitFor } from "../e2e/support.ts";
import { arg, sleep } from "../bench/support.ts";
import { launchBrowser } from "./support.ts";

const seconds = arg("--seconds", 100);
const demo = spawn(process.execPath, ["--import", "tsx", "supervisor/demo.ts", "--seconds", String(seconds + 30), "--console-port", "0"], {
  cwd: ROOT,
  stdio: ["ignore", "pipe", "inherit"],
});
let stdout = "";
demo.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
try {
  const url = await waitFor("the demo's console", () => /web console: (http:\/\/\S+)/.exec(stdout)?.[1], 120_000);
  await sleep(seconds * 1000);
  const browser = await launchBrowser();
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 640 }, deviceScaleFactor: 1 })).newPage();
  await page.goto(`${url}#/jobs`);
  await page.waitForSelector("table.jobs tbody tr");
  await sleep(1500);
  await page.screenshot({ path: join(ROOT, "docs", "console.png") });
  const runId = await page.evaluate(async () => {
    const jobs = (await (await fetch("/api/jobs?q=pipeline")).json()) as { jobs: { recent: { id: string; state: string }[] }[] };
    return jobs.jobs[0]!.recent.find((r) => r.state === "succeeded")!.id;
  });
  await page.setViewportSize({ width: 1280, height: 760 });
  await page.goto(`${url}#/runs/${runId}`);
  await page.waitForSelector("h1 .badge.s-succeeded");
  await page.click(".attempt-head >> text=load[region=eu]");
  await sleep(800);
  await page.screenshot({ path: join(ROOT, "docs", "console-run.png") });
  await browser.close();
  console.log("wrote docs/console.png and docs/console-run.png");
} finally {
  demo.kill("SIGTERM");
}
