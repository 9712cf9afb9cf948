#!/usr/bin/env node
// Launcher for `clockwork`: runs the compiled CLI (dist/supervisor/, written by
// build/compile-supervisor.ts at build time) with Node and the production dependencies
// only. Source maps are on, so stack traces name the TypeScript files and lines.
import { existsSync } from "node:fs";

const entry = new URL("../../dist/supervisor/index.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("clockwork: the CLI is not compiled (dist/supervisor/index.js is missing): run `make build` or `npm run build` in the checkout\n");
  process.exit(2);
}
process.setSourceMapsEnabled(true);
const { runCli } = await import(entry.href);
const code = await runCli(process.argv.slice(2));
process.exit(code);
