// Smoke test of `make demo` (supervisor/demo.ts --seconds N): it starts its own cluster and
// supervisor, shows runs succeeding, and cleans up after itself.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { extensionMissing, ROOT } from "./support.ts";

const missing = await extensionMissing();

describe("the demo", { skip: missing ?? false }, () => {
  test("runs the sample jobs for a few seconds and cleans up", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "supervisor/demo.ts", "--seconds", "12"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 90_000,
    });
    assert.equal(result.status, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(result.stdout, /sql-every-5s +schedule +\d\d:\d\d:\d\d +succeeded/);
    assert.match(result.stdout, /shell-every-10s +schedule +\d\d:\d\d:\d\d +succeeded/);
    const logPath = /supervisor log (\S+)/.exec(result.stdout)?.[1];
    assert.ok(logPath, "prints where the supervisor logs");
    assert.equal(existsSync(logPath), false, "the temporary log directory was removed");
  });
});
