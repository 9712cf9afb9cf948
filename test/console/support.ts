// Helpers for the console's tests: the real `clockwork console` binary as a child process,
// and Debian's Chromium driven by playwright-core (no browser download).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { BIN, ROOT, waitFor } from "../e2e/support.ts";

export const CHROMIUM = process.env.CLOCKWORK_CHROMIUM ?? "/usr/bin/chromium";

/** Screenshots are test artefacts (git-ignored): look at them after a run. */
export const SCREENSHOTS = join(ROOT, ".tmp", "console-screenshots");

export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (build/setup-system.sh installs Debian's chromium)`;
  if (!existsSync(join(ROOT, "dist", "console", "index.html"))) return "the console is not built (make build)";
  return null;
}

export interface ConsoleProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

const running = new Set<ConsoleProcess>();

export async function startConsoleProcess(databaseUrl: string, args: string[] = []): Promise<ConsoleProcess> {
  const child = spawn(process.execPath, [BIN, "console", "--port", "0", "--refresh", "500ms", ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => output.push(d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => output.push(d));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = await waitFor("the console's address", () => {
    if (child.exitCode !== null) throw new Error(`the console exited (${child.exitCode}): ${output.join("")}`);
    return /clockwork console on (http:\/\/\S+)/.exec(output.join(""))?.[1];
  }, 20_000);
  const handle: ConsoleProcess = {
    url,
    child,
    output,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      running.delete(handle);
    },
  };
  running.add(handle);
  return handle;
}

export async function stopAllConsoles(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/**
 * Headless Debian Chromium with the flags this machine needs (closed network, root).
 * Playwright gives every launch a fresh, empty profile directory of its own.
 */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
