// Helpers for the CLI's tests: the real `clockwork` binary, run as a user would run it.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BIN, ROOT } from "../e2e/support.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `clockwork ARGS…` in `cwd` against `databaseUrl` (NO_COLOR: plain text). */
export function clockwork(args: string[], options: { cwd?: string; databaseUrl?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}), ...options.env },
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temporary folder with the given files (paths relative to it). */
export function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "clockwork-cli-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}
