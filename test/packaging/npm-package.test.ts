// The production install, as a new user gets it: `npm pack` of this checkout, installed
// into a clean directory with `npm install <tarball> --omit=dev` (no tsx, no TypeScript,
// no esbuild), then `clockwork --help`, every command's `--help`, and a real supervisor
// that runs a job against a real database.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { extensionMissing, ROOT, waitFor } from "../e2e/support.ts";
import { installProductionPackage, packCheckout } from "./support.ts";

const missing = await extensionMissing();

describe("npm pack → npm install --omit=dev in a clean directory", () => {
  let work: string;
  let bin: string;
  let files: string[];
  let db: TestDatabase | undefined;

  before(() => {
    work = mkdtempSync(join(tmpdir(), "clockwork-npm-"));
    const packed = packCheckout(work);
    files = packed.files;
    bin = installProductionPackage(packed.tarball, join(work, "app"));
  });

  after(async () => {
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test("the tarball holds the compiled CLI with its source maps and no TypeScript sources", () => {
    assert.ok(files.includes("dist/supervisor/index.js"), files.join("\n"));
    assert.ok(files.includes("dist/supervisor/index.js.map"));
    assert.ok(files.includes("supervisor/bin/clockwork.js"));
    assert.deepEqual(files.filter((f) => f.endsWith(".ts")), [], "no .ts file is shipped");
    assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")));
  });

  test("only production dependencies are installed", () => {
    const modules = join(work, "app", "node_modules");
    for (const dev of ["tsx", "typescript", "esbuild", "@types/node"]) {
      assert.ok(!existsSync(join(modules, dev)), `${dev} must not be installed`);
    }
    for (const dependency of ["pg", "pino", "prom-client"]) assert.ok(existsSync(join(modules, dependency)), dependency);
  });

  test("clockwork --help lists the commands, and every command answers --help", () => {
    const help = spawnSync(bin, ["--help"], { encoding: "utf8", cwd: work });
    assert.equal(help.status, 0, help.stderr);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z][a-z0-9-]*) {2,}/gm)].map((m) => m[1]!);
    assert.ok(commands.includes("supervisor"), help.stdout);
    for (const command of commands) {
      // Each command's module (and its dependencies) loads from the production install.
      const result = spawnSync(bin, [command, "--help"], { encoding: "utf8", cwd: work, timeout: 30_000 });
      assert.equal(result.status, 0, `clockwork ${command} --help: ${result.stderr}`);
      assert.ok(result.stdout.length > 0, `clockwork ${command} --help prints its usage`);
    }
  });

  test("a bad option is one line and exit code 2, as from the checkout", () => {
    const result = spawnSync(bin, ["supervisor", "--concurrency", "zero"], { encoding: "utf8", cwd: work });
    assert.equal(result.status, 2);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  });

  test("the installed supervisor runs a job against a real database", { skip: missing ?? false }, async () => {
    db = await createTestDatabase({ extensions: ["clockwork_v8", "clockwork"], prefix: "npm_install" });
    await db.query("SELECT clockwork.define_job($1::jsonb)", [
      JSON.stringify({ name: "from-package", steps: [{ name: "hello", shell: "echo installed from a tarball" }] }),
    ]);
    const runId = (await db.query("SELECT clockwork.run_now('from-package') AS id")).rows[0].id;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOCKWORK_")));
    const child = spawn(bin, ["supervisor", "--name", "npm-installed", "--http-port", "off"], {
      cwd: work, // not the checkout: nothing may be found there
      env: { ...env, DATABASE_URL: db.url, NODE_PATH: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const state = await waitFor("the run to finish", async () =>
        (await db!.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 20_000);
      assert.equal(state, "succeeded", stdout);
      const { rows } = await db.query("SELECT stdout FROM clockwork.step_runs WHERE run_id = $1", [runId]);
      assert.equal(rows[0].stdout, "installed from a tarball\n");
      assert.match(stdout, /"msg":"worker registered"/);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0);
    assert.ok(!realpathSync(bin).startsWith(ROOT), "the command is the installed one, not the checkout's");
  });
});
