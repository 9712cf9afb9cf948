// `clockwork console` refuses bad options and an unusable database with one clear line
// and exit code 2, before it listens anywhere.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { loadConsoleConfig } from "../../supervisor/src/console/config.ts";
import { adminQuery, clusterUrl } from "../support/db.ts";
import { BIN, ROOT } from "../e2e/support.ts";

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, "console", ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe("clockwork console's options", () => {
  test("defaults: localhost, port 9188, read-only, 2 s refresh", () => {
    const config = loadConsoleConfig([], {});
    assert.deepEqual(
      { host: config.host, port: config.port, allowActions: config.allowActions, refreshMs: config.refreshMs, roleHeader: config.roleHeader },
      { host: "127.0.0.1", port: 9188, allowActions: false, refreshMs: 2000, roleHeader: null },
    );
  });

  for (const [args, message] of [
    [["--port", "http"], /port must be an integer from 0 to 65535/],
    [["--refresh", "10ms"], /refresh must be from 250ms to 10m/],
    [["--role-header", "X User"], /role header must be an HTTP header name/],
    [["--pool-size", "0"], /pool size must be an integer from 1 to 100/],
    [["--allow-everything"], /Unknown option '--allow-everything'/],
    [["--database-url", "mysql://x"], /database URL must start with postgres:\/\//],
  ] as [string[], RegExp][]) {
    test(`refuses ${args.join(" ")}`, () => {
      const { status, stderr } = run(args);
      assert.equal(status, 2, stderr);
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").length, 1, "one line");
    });
  }

  test("an unreachable database, or one without the extension, is one line and exit 2", async () => {
    const unreachable = run(["--database-url", "postgres://nobody@127.0.0.1:1/none", "--port", "0"]);
    assert.equal(unreachable.status, 2);
    assert.match(unreachable.stderr, /cannot reach the database/);
    const name = `console_noext_${process.pid}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    try {
      const bare = run(["--database-url", clusterUrl(name), "--port", "0"]);
      assert.equal(bare.status, 2);
      assert.match(bare.stderr, new RegExp(`the clockwork extension is not installed in database ${name}`));
    } finally {
      await adminQuery(`DROP DATABASE ${name}`);
    }
  });

  test("--help lists the options", () => {
    const { status, stdout } = run(["--help"]);
    assert.equal(status, 0);
    assert.match(stdout, /--allow-actions/);
    assert.match(stdout, /--role-header/);
  });
});
