// This supervisor's version (package.json's), and the rule it shares with the extension:
// a supervisor works with an extension of its own MAJOR.MINOR only (UPDATING.md). The
// extension checks the same rule from its side (clockwork._check_supervisor_version()),
// reading the version the supervisor announces in the session setting SUPERVISOR_SETTING.
import { readFileSync } from "node:fs";

declare const __CLOCKWORK_VERSION__: string | undefined;

/** The session setting in which every supervisor connection announces its version. */
export const SUPERVISOR_SETTING = "clockwork.supervisor_version";

function fromPackageJson(): string {
  // Run from source (tsx): supervisor/src/version.ts → ../../package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Compiled in by build/compile-supervisor.ts; read from package.json when run from source. */
export const SUPERVISOR_VERSION: string = typeof __CLOCKWORK_VERSION__ === "string" ? __CLOCKWORK_VERSION__ : fromPackageJson();

/** "1.1" of "1.1.0", "1.1" of "1.1 (bundle 3f2a…, …)"; null when there is no version. */
export function majorMinor(version: string | null | undefined): string | null {
  return /^\s*(\d+\.\d+)(?:[.\s(]|$)/.exec(version ?? "")?.[1] ?? null;
}

function older(a: string, b: string): boolean {
  const [am, an] = a.split(".").map(Number) as [number, number];
  const [bm, bn] = b.split(".").map(Number) as [number, number];
  return am < bm || (am === bm && an < bn);
}

/** null when the extension's version suits this supervisor, else the line to log and show. */
export function extensionMismatch(extensionVersion: string | null): string | null {
  const ours = majorMinor(SUPERVISOR_VERSION)!;
  const theirs = majorMinor(extensionVersion);
  if (theirs === ours) return null;
  return `the clockwork extension in this database is version ${theirs ?? "unknown"}; this supervisor (${SUPERVISOR_VERSION}) works with ${ours} only: ` +
    (theirs !== null && older(theirs, ours)
      ? "run ALTER EXTENSION clockwork UPDATE (UPDATING.md); waiting for it"
      : "run a supervisor of the extension's version (UPDATING.md); waiting");
}
