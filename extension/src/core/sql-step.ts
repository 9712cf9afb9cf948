// What a supervisor sends for an SQL step, on a connection logged in as the job's owner.
// The claim carries only what the supervisor cannot know (the step's text and parameters,
// who it is, the claim's secret, whether it is exactly once: the database decides all of
// that), and the supervisor renders the messages with renderClaimedSqlStep below: one
// renderer, in the core, which the supervisor bundles. Rendering in tick cost the one
// serial call of a supervisor its time and made each claim 1.4 KB of JSON (docs/benchmarks.md).
//
// A transactional step is one simple-query message, so it costs one round trip:
//
//   BEGIN;
//   SELECT pg_catalog.set_config('clockwork.run_id', …, true), …;   -- who the step is
//   <the step's statements, as psql -c would send them>
//   ;
//   SELECT clockwork._finish_sql_step(<step run>, '<claim>');         -- only in the scheduler's database
//   COMMIT;
//   RESET ALL; SET SESSION AUTHORIZATION DEFAULT; …                  -- leave nothing behind
//
// The server parses the whole message before it runs any of it, so a statement cannot
// change how the rest is read; the step's text is checked at definition time to leave no
// string, identifier, comment or dollar quote open. An error anywhere stops the message:
// nothing after it runs and the transaction is rolled back, finish included. The finish
// is fenced by the claim's secret (only its hash is stored), so a late or stray call
// raises and takes the step's work down with it. The reset after COMMIT runs on the
// session the step leaves, whatever it set: it resets every setting (the step cannot have
// changed how that text is read: it was parsed before the step ran).
//
// An autonomous step is several messages, one per statement, as `psql -f` sends a file,
// without a transaction around them (VACUUM, CREATE INDEX CONCURRENTLY, a procedure that
// commits); the supervisor records it afterwards, so it runs at least once.
import { analyzeSqlBody, type SqlBodyAnalysis } from "./sql-text.ts";
import { bindLiterals, dollarQuote } from "./params.ts";
import type { Scalar } from "./expression.ts";

/**
 * Undoes everything a step can leave in its session: settings (search_path, role,
 * read-only defaults, statement_timeout, standard_conforming_strings, …), SET ROLE and SET
 * SESSION AUTHORIZATION, cursors WITH HOLD, prepared statements, LISTEN, advisory locks,
 * temporary objects, sequence state. It is DISCARD ALL without DISCARD PLANS (which only
 * forgets cached plans, and would make every next step plan its statements again) and
 * without DISCARD ALL's refusal to run in a transaction block, so it can follow a step in
 * the same message. RESET ALL comes first: it ends a statement_timeout the step set.
 */
export const SESSION_RESET: readonly string[] = [
  "RESET ALL",
  "SET SESSION AUTHORIZATION DEFAULT",
  "CLOSE ALL",
  "DEALLOCATE ALL",
  "UNLISTEN *",
  "SELECT pg_catalog.pg_advisory_unlock_all()",
  "DISCARD TEMP",
  "DISCARD SEQUENCES",
];

/** Who a step is: exposed to its SQL as settings (current_setting('clockwork.attempt')). */
export interface SqlStepIdentity {
  job: string;
  runId: string;
  step: string;
  instance: string;
  stepRunId: string;
  attempt: number;
  /** The run's schedule slot, for scheduled runs. */
  slotAtMs: number | null;
}

/** The settings a step sees, by name: clockwork.job, clockwork.run_id, … */
export function stepSettings(id: SqlStepIdentity): Record<string, string> {
  const settings: Record<string, string> = {
    "clockwork.job": id.job,
    "clockwork.run_id": id.runId,
    "clockwork.step": id.step,
    "clockwork.instance": id.instance,
    "clockwork.step_run_id": id.stepRunId,
    "clockwork.attempt": String(id.attempt),
  };
  if (id.slotAtMs !== null) settings["clockwork.slot_at"] = new Date(id.slotAtMs).toISOString();
  return settings;
}

/**
 * One SELECT that sets the step's settings, for its transaction (local) or its session.
 * Not one SET LOCAL per setting, though that costs the owner's backend less (a utility
 * statement is neither analysed nor planned): pg_stat_statements on PostgreSQL 15 keys a
 * utility statement by its text, constants included, so each step's run_id and
 * step_run_id would be two new entries, flooding a DBA's statistics (200 steps, 404
 * entries); this SELECT's constants are normalised into one entry (docs/benchmarks.md,
 * "The owner's message").
 */
export function settingsStatement(settings: Record<string, string>, local: boolean): string {
  const calls = Object.entries(settings).map(([name, value]) => `pg_catalog.set_config('${name}', ${dollarQuote(value)}, ${local})`);
  return `SELECT ${calls.join(", ")}`;
}

export interface FinishCall {
  stepRunId: string;
  /** The claim's secret (hex): the finish checks it against the stored hash. */
  claim: string;
}

export interface SqlStepScript {
  /** run: a step inside its run's transaction (transaction: run), which its supervisor holds open. */
  mode: "transaction" | "autonomous" | "run";
  /**
   * The messages to send, in order, each one simple query. transaction: one message.
   * autonomous: the settings first, then one message per statement.
   */
  messages: string[];
  /** transaction: how many statements the message runs after the step's own (to find its last result). */
  trailing: number;
  /** How many statements of our own the message runs before the step's (BEGIN, the settings). */
  leading: number;
  /** How many statements the step itself has. */
  statements: number;
}

/** The commit of a run's transaction (transaction: run): its mark, then COMMIT, then the session's reset. */
export function commitRunMessage(runId: string, claim: string): string {
  if (!/^[0-9]+$/.test(runId) || !/^[0-9a-f]+$/.test(claim)) throw new Error("invalid commit call");
  return [`SELECT clockwork._commit_run(${runId}, '${claim}')`, "COMMIT", ...SESSION_RESET].join(";\n") + ";";
}

/** The finish call, with nothing in it that a session setting could make read differently. */
export function finishStatement(finish: FinishCall): string {
  if (!/^[0-9]+$/.test(finish.stepRunId) || !/^[0-9a-f]+$/.test(finish.claim)) throw new Error("invalid finish call");
  return `SELECT clockwork._finish_sql_step(${finish.stepRunId}, '${finish.claim}')`;
}

/**
 * A step's text without parameters, bound and analysed, by its text: every run of a job
 * sends the same text, and reading it again cost a supervisor more per step than the rest
 * of the rendering. Deterministic, so a cache is safe; bounded (emptied when full).
 */
const ANALYSED = new Map<string, { bound: string; body: SqlBodyAnalysis }>();
const ANALYSED_MAX = 256;

function analysed(sql: string, params: Readonly<Record<string, Scalar>>): { bound: string; body: SqlBodyAnalysis } {
  const read = () => {
    const bound = bindLiterals(sql, params);
    return { bound, body: analyzeSqlBody(bound) };
  };
  if (Object.keys(params).length > 0) return read();
  let found = ANALYSED.get(sql);
  if (found === undefined) {
    found = read();
    if (ANALYSED.size >= ANALYSED_MAX) ANALYSED.clear();
    ANALYSED.set(sql, found);
  }
  return found;
}

/**
 * The script for one SQL step. `finish` is given for steps in the scheduler's own database:
 * their completion commits with their work (exactly once).
 */
export function renderSqlStep(
  sql: string,
  params: Readonly<Record<string, Scalar>>,
  id: SqlStepIdentity,
  options: { autonomous: boolean; finish: FinishCall | null; runTransaction?: { begins: boolean } | null },
): SqlStepScript {
  const { bound, body } = analysed(sql, params);
  // Checked when the job was defined; a stored definition read back cannot fail here.
  if (body.problem !== null) throw new Error(`the step's SQL ${body.problem}`);
  const settings = stepSettings(id);
  if (options.autonomous) {
    return {
      mode: "autonomous",
      messages: [settingsStatement(settings, false), ...body.statements.map((s) => s.text)],
      trailing: 0,
      leading: 0,
      statements: body.statements.length,
    };
  }
  if (options.runTransaction) {
    // In the run's transaction: no COMMIT and no reset (the supervisor commits, with
    // _commit_run, or rolls back when the run ends, and resets the session then); the
    // first SQL step of the run begins it. Settings are local to the transaction: the next
    // step sets its own.
    const begin = options.runTransaction.begins ? "BEGIN;\n" : "";
    const message = `${begin}${settingsStatement(settings, true)};\n${bound}\n;`;
    return { mode: "run", messages: [message], trailing: 0, leading: options.runTransaction.begins ? 2 : 1, statements: body.statements.length };
  }
  const after = [...(options.finish === null ? [] : [finishStatement(options.finish)]), "COMMIT", ...SESSION_RESET];
  // The step's text goes in as written (bound), between lines of our own: a trailing
  // "-- comment" ends at its newline, and a missing last semicolon is supplied.
  const message = `BEGIN;\n${settingsStatement(settings, true)};\n${bound}\n;\n${after.join(";\n")};`;
  return { mode: "transaction", messages: [message], trailing: after.length, leading: 2, statements: body.statements.length };
}

/**
 * An SQL step as a claim carries it (StepClaim in extension/src/functions/claim.ts): who
 * it is, its instance's parameters, and what the database decided about it.
 */
export interface ClaimedSqlStep {
  job: string;
  run_id: string;
  step: string;
  instance: string;
  step_run_id: string;
  attempt: number;
  /** The run's schedule slot (ISO), for scheduled runs. */
  slot_at: string | null;
  /** The instance's parameters, bound into the text as literals. */
  params: Readonly<Record<string, unknown>> | null;
  sql: {
    /** The step's SQL as defined (checked at definition time). */
    text: string;
    autonomous: boolean;
    /** Its completion commits with its work: the finish call goes in its message. */
    exactly_once: boolean;
    /** The claim's secret, which the finish call proves. */
    claim: string;
    run_transaction: { begins: boolean } | null;
  } | null;
}

/** The messages a supervisor sends for a claimed SQL step (see the top of this file). */
export function renderClaimedSqlStep(claim: ClaimedSqlStep): SqlStepScript {
  const work = claim.sql;
  if (work === null) throw new Error(`step run ${claim.step_run_id} is not an SQL step`);
  return renderSqlStep(work.text, (claim.params ?? {}) as Readonly<Record<string, Scalar>>, {
    job: claim.job, runId: claim.run_id, step: claim.step, instance: claim.instance, stepRunId: claim.step_run_id,
    attempt: claim.attempt, slotAtMs: claim.slot_at === null ? null : Date.parse(claim.slot_at),
  }, {
    autonomous: work.autonomous,
    finish: work.exactly_once ? { stepRunId: claim.step_run_id, claim: work.claim } : null,
    runTransaction: work.run_transaction,
  });
}
