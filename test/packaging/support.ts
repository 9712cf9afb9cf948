// Helpers for packaging tests: the npm package of this checkout and a production install
// of it in a directory of its own.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/support.ts";

/** `npm pack` of the checkout (already compiled by test/run.ts) into `dir`. */
export function packCheckout(dir: string): { tarball: string; files: string[] } {
  if (!existsSync(join(ROOT, "dist", "supervisor", "index.js"))) {
    throw new Error("dist/supervisor is missing: run the tests through test/run.ts (it compiles the CLI) or `make build`");
  }
  // --ignore-scripts: prepack would recompile while other test files run the binary.
  const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: join(dir, info!.filename), files: info!.files.map((f) => f.path) };
}

/** `npm install <tarball> --omit=dev` into a fresh `appDir`; returns the path of its `clockwork` command. */
export function installProductionPackage(tarball: string, appDir: string): string {
  mkdirSync(appDir, { recursive: true });
  writeFileSync(join(appDir, "package.json"), JSON.stringify({ name: "clockwork-install-test", private: true }));
  execFileSync("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", tarball], {
    cwd: appDir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return join(appDir, "node_modules", ".bin", "clockwork");
}
