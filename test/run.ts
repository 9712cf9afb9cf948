// The test entry point behind `make test`: starts one throwaway PostgreSQL cluster,
// runs every *.test.ts under test/ (or those whose path contains one of the given
// filters) with node's test runner, and stops the cluster whatever happens.
//   npx tsx test/run.ts               all tests
//   npx tsx test/run.ts core runtime  only test/core/** and test/runtime/**
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { compileSupervisor } from "../build/compile-supervisor.ts";
import { startCluster } from "./support/cluster.ts";

const testDir = fileURLToPath(new URL(".", import.meta.url));
const root = join(testDir, "..");

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === "bench" || entry === "support" ? [] : findTests(path);
    return entry.endsWith(".test.ts") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = findTests(testDir)
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

// Tests run the real `clockwork` binary, which runs the compiled CLI: compile it from the
// current sources first (well under a second), so a test never runs a stale build.
await compileSupervisor({ quiet: true });

const cluster = await startCluster();
const stop = () => cluster.stop();
process.on("SIGINT", () => { stop(); process.exit(130); });
process.on("SIGTERM", () => { stop(); process.exit(143); });

let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files], {
      cwd: root,
      stdio: "inherit",
      env: {
        ...process.env,
        PGHOST: cluster.host,
        PGPORT: String(cluster.port),
        PGUSER: cluster.user,
        PGDATABASE: "postgres",
        CLOCKWORK_TEST_CLUSTER: JSON.stringify({ dataDir: cluster.dataDir, logFile: cluster.logFile, socketDir: cluster.socketDir }),
      },
    });
    child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
} finally {
  stop();
}
process.exit(code);
