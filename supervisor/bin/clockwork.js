#!/usr/bin/env node
// Launcher for `clockwork`: runs the TypeScript sources through tsx, no compile step.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/index.ts");
const code = await runCli(process.argv.slice(2));
process.exit(code);
