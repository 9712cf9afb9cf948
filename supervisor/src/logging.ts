// JSON logs (pino) on stdout. Every line carries the worker name; step work adds
// job, run, step, step_run and attempt through child loggers, so one grep follows a run.
import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

export interface SupervisorLog {
  readonly log: Logger;
  /** Reopens the log file (after logrotate moved it away); false when logging to stdout. */
  reopen(): boolean;
}

/**
 * JSON lines on stdout, or appended to `file` (synchronous writes: nothing is lost when the
 * process exits). `reopen()` opens the file again by name, for SIGHUP after logrotate.
 */
export function createLogger(level: LogLevel, worker: string, file?: string): SupervisorLog {
  const destination = file !== undefined ? pino.destination({ dest: file, append: true, sync: true, mkdir: true }) : undefined;
  const options = {
    level,
    base: { worker },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const log = destination ? pino(options, destination) : pino(options);
  return {
    log,
    reopen: () => {
      if (!destination) return false;
      destination.reopen();
      return true;
    },
  };
}

/** Scope fields of one step claim, as logged. */
export function stepScope(claim: { job: string; run_id: string; step: string; instance: string; step_run_id: string; attempt: number }) {
  return {
    job: claim.job,
    run: claim.run_id,
    // The database names an instance like the core does: "load" or "load[region=eu]".
    step: claim.instance || claim.step,
    step_run: claim.step_run_id,
    attempt: claim.attempt,
  };
}

/** A short, loggable description of a database or network error. */
export function errorFields(error: unknown): { message: string; code?: string } {
  const e = error as { message?: string; code?: string };
  return e && typeof e === "object" ? { message: e.message ?? String(error), ...(e.code ? { code: e.code } : {}) } : { message: String(error) };
}
