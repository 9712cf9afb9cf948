// Built-in steps in the supervisor, without a database: how their ends are reported.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBuiltinStep, type BuiltinContext } from "../../supervisor/src/steps/builtins.ts";
import type { StepClaim } from "../../supervisor/src/api.ts";

describe("built-in steps", () => {
  let server: Server;
  let base: string;
  let workDir: string;
  let ctx: BuiltinContext;

  before(async () => {
    // A server that never answers: a request ends only by its step's time-out.
    server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    workDir = mkdtempSync(join(tmpdir(), "clockwork-builtins-"));
    ctx = { workDir, secrets: new Map(), mailer: {} as BuiltinContext["mailer"], outputLimitBytes: 64 * 1024 };
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  const claim = (builtin: string, args: object, timeoutMs: number) =>
    ({ builtin, args, timeout_ms: timeoutMs, owner: "alice" }) as unknown as StepClaim;

  // The database records a step as timed_out when its supervisor says it stopped it at its
  // time-out (stoppedBy → stopped_by "timeout"); the error reads the same for every kind
  // of step, whatever the built-in made of its abort.
  for (const [builtin, args] of [
    ["http", () => ({ url: `${base}/slow` })],
    ["download", () => ({ url: `${base}/slow`, to: "in/file" })],
    ["sleep", () => ({ duration: "1h" })],
  ] as const) {
    test(`a ${builtin} step's time-out is reported as "timed out after N ms"`, async () => {
      const result = await startBuiltinStep(claim(builtin, args(), 200), ctx).result;
      assert.equal(result.exitCode, 1);
      assert.equal(result.error, "timed out after 200 ms");
      assert.equal(result.stoppedBy, "timeout");
    });
  }

  test("a built-in's own error that says \"timed out\" is its error, not a stop", async () => {
    // A COPY whose server-side trigger gave up, say: the step ended by itself, well within
    // its time-out, so it is reported as not stopped (the database records it as failed).
    const own = { ...ctx, runWithOwner: async () => ({ exitCode: 1, stdout: "", error: "timed out waiting for the vendor" }) };
    const result = await startBuiltinStep(claim("copy_from", { file: "in/x.csv", table: "people" }, 60_000), own).result;
    assert.deepEqual([result.exitCode, result.error, result.stoppedBy], [1, "timed out waiting for the vendor", null]);
  });

  test("a cancel is reported as a stop, not as a time-out", async () => {
    const running = startBuiltinStep(claim("http", { url: `${base}/slow` }, 60_000), ctx);
    running.stop("cancelled");
    const result = await running.result;
    assert.equal(result.stoppedBy, "cancelled");
    assert.doesNotMatch(result.error ?? "", /^timed out/);
  });
});
