// Which `LANGUAGE plv8` the tests run on: the one place the harness picks it.
//   CLOCKWORK_TEST_RUNTIME=clockwork_v8  (default; `make test`) the project's own runtime
//   CLOCKWORK_TEST_RUNTIME=plv8          the real PL/v8 3.2.2 (`make test-plv8`)
// Both provide `LANGUAGE plv8`; a database holds one or the other. A test that only one
// runtime can pass says so with `onlyOn(runtime, reason)`, and the reason is printed as
// the test's SKIP note on the other runtime.

export type Runtime = "clockwork_v8" | "plv8";

const RUNTIMES: readonly Runtime[] = ["clockwork_v8", "plv8"];

function selected(): Runtime {
  const value = process.env.CLOCKWORK_TEST_RUNTIME || "clockwork_v8";
  if (!(RUNTIMES as readonly string[]).includes(value)) {
    throw new Error(`CLOCKWORK_TEST_RUNTIME=${value}: expected one of ${RUNTIMES.join(", ")}`);
  }
  return value as Runtime;
}

/** The extension that provides `LANGUAGE plv8` in this test run. */
export const RUNTIME: Runtime = selected();

/** The extensions a Clockwork database needs, in install order. */
export const CLOCKWORK_EXTENSIONS: readonly string[] = [RUNTIME, "clockwork"];

/** `CREATE EXTENSION …` statements for a Clockwork database, for tests that install by hand. */
export const installClockworkSql = CLOCKWORK_EXTENSIONS.map((e) => `CREATE EXTENSION ${e}`).join("; ");

/**
 * Test options for a test (or describe) that only `runtime` can pass: it is skipped on
 * the other runtime with `reason`, which must say why (what the other runtime does).
 *   test("stops a runaway loop", onlyOn("clockwork_v8", "released PL/v8 cannot be cancelled once a script loops"), …)
 */
export function onlyOn(runtime: Runtime, reason: string): { skip: string | false } {
  return { skip: RUNTIME === runtime ? false : `${runtime} only: ${reason}` };
}

/**
 * The expected value of a test that runs on both runtimes but where they differ, measured
 * on each: `byRuntime({ clockwork_v8: "22003", plv8: "-1294967296" })`. Prefer onlyOn when
 * the other runtime cannot run the test at all (it would hang or crash a backend).
 */
export function byRuntime<T>(expected: { readonly [R in Runtime]: T }): T {
  return expected[RUNTIME];
}
