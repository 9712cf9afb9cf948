// The README's definitions-as-code tour is true: its job file validates, applies, applies
// again as a no-op, shows no difference, exports back as written and runs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { CLOCKWORK_EXTENSIONS } from "../support/runtime.ts";
import { extensionMissing } from "../e2e/support.ts";
import { clockwork, folder } from "./support.ts";

const missing = await extensionMissing();
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const file = /A file, `jobs\/report\.yaml`:\n\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];

describe("the README's clockwork tour", { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ extensions: [...CLOCKWORK_EXTENSIONS], prefix: "readme" });
    await db.query("CREATE TABLE pings (at timestamptz DEFAULT now())");
  });
  after(async () => {
    await db.drop();
  });

  test("validate, apply, apply again, diff, export and run do what the README says", async () => {
    assert.ok(file, "the README shows jobs/report.yaml");
    const dir = folder({ "jobs/report.yaml": file });
    const cli = (...args: string[]) => clockwork(args, { cwd: dir, databaseUrl: db.url });
    assert.equal((await cli("validate", "jobs/")).code, 0);
    assert.match((await cli("apply", "--dry-run", "jobs/")).stdout, /\+ create +pings-report/);
    assert.equal((await cli("apply", "jobs/")).code, 0);
    assert.match((await cli("apply", "jobs/")).stdout, /Nothing to do\./);
    assert.equal((await cli("diff", "jobs/")).code, 0);
    assert.equal((await cli("export", "pings-report")).stdout, file);
    const run = await cli("run", "jobs/report.yaml");
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });
});
