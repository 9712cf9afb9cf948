// Smoke test of `make demo` (supervisor/demo.ts --seconds N): it starts its own cluster,
// supervisor and web console, shows runs succeeding, and cleans up after itself.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { extensionMissing, ROOT, waitFor } from "./support.ts";

const missing = await extensionMissing();

describe("the demo", { skip: missing ?? false }, () => {
  test("runs the sample jobs with the web console beside the live table, and cleans up", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "supervisor/demo.ts", "--seconds", "12", "--console-port", "0"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);

    // While the demo runs, its console answers with the demo's jobs.
    const consoleUrl = await waitFor("the console's address", () => /web console: (http:\/\/\S+)/.exec(stdout)?.[1], 60_000);
    const jobs = await waitFor("the console's jobs", async () => {
      const response = await fetch(new URL("/api/jobs", consoleUrl));
      return response.ok ? ((await response.json()) as { jobs: { name: string; enabled: boolean }[] }).jobs : undefined;
    });
    assert.deepEqual(jobs.map((j) => j.name), ["flaky-export", "nightly-vacuum", "pipeline", "shell-every-10s", "sql-every-5s"]);
    assert.equal(jobs.find((j) => j.name === "nightly-vacuum")?.enabled, false);
    const page = await fetch(consoleUrl);
    assert.match(await page.text(), /<script type="module" src="\/app.js">/);

    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /sql-every-5s +schedule +\d\d:\d\d:\d\d +succeeded/);
    assert.match(stdout, /shell-every-10s +schedule +\d\d:\d\d:\d\d +succeeded/);
    const logPath = /supervisor log (\S+)/.exec(stdout)?.[1];
    assert.ok(logPath, "prints where the supervisor logs");
    assert.equal(existsSync(logPath), false, "the temporary log directory was removed");
    await assert.rejects(fetch(consoleUrl), "the console stopped with the demo");
  });
});
