// One simple-query message of an SQL step, read statement by statement as the server
// answers: each statement's command tag, the first rows of each result (never more: a
// step that selects ten million rows, or one row of a 50 MB value, must not cost the
// supervisor their memory), and, on an error, which statement raised it. A node-pg
// "submittable": the client hands it the protocol messages of one query.
import pg from "pg";
import { OUTPUT_LIMIT_BYTES } from "../../../extension/src/core/index.ts";

/** Rows kept per statement result. */
export const ROWS_KEPT = 100;

export interface StatementResult {
  /** Command tag, e.g. "SELECT", "INSERT", "COMMIT". */
  command: string | null;
  rowCount: number | null;
  /**
   * The first ROWS_KEPT rows, parsed (null for a statement that returns no rows), and none
   * after the row whose values pass the text bound: what is reported is cut to it exactly
   * (boundRows, in sql.ts).
   */
  rows: Record<string, unknown>[] | null;
  /** More rows came than were kept. */
  truncated: boolean;
}

export interface ScriptOutcome {
  /** One entry per statement that completed, in order. */
  results: StatementResult[];
  /** The error that stopped the message, if any: the statement after the last completed one raised it. */
  error: (Error & { code?: string; position?: string }) | null;
  /** The connection broke (no ReadyForQuery came). */
  broken: boolean;
}

interface Field {
  name: string;
  dataTypeID: number;
  format: string;
}

type Parser = (value: string) => unknown;

// Values arrive as text; numbers that JSON can hold exactly become numbers, so conditions
// like `extract.row.n > 0` compare numbers. Times stay as PostgreSQL prints them.
const INT8 = 20;
const NUMERIC = 1700;
const AS_TEXT = new Set([1082, 1083, 1114, 1184, 1186, 1266]);
const numberIfExact: Parser = (value) => {
  const n = Number(value);
  return Number.isFinite(n) && String(n) === value && (Number.isSafeInteger(n) || !/^-?\d+$/.test(value)) ? n : value;
};

function parserFor(oid: number): Parser {
  if (oid === INT8 || oid === NUMERIC) return numberIfExact;
  if (AS_TEXT.has(oid)) return (value) => value;
  return pg.types.getTypeParser(oid, "text") as Parser;
}

/** A simple query whose statements' results are kept bounded; resolves, never rejects. */
export class ScriptQuery {
  readonly text: string;
  private readonly results: StatementResult[] = [];
  private fields: Field[] = [];
  private parsers: Parser[] = [];
  private current: StatementResult | null = null;
  private settle!: (outcome: ScriptOutcome) => void;
  readonly outcome: Promise<ScriptOutcome>;
  private done = false;
  /** Characters of the current result's kept values, against the bound. */
  private keptChars = 0;

  /** `limitBytes`: what a step's record keeps (core/bounds.ts), the supervisor's --output-limit. */
  constructor(text: string, private readonly limitBytes: number = OUTPUT_LIMIT_BYTES) {
    this.text = text;
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  submit(connection: { query(text: string): void }): null {
    connection.query(this.text);
    return null;
  }

  private open(): StatementResult {
    if (this.current === null) {
      this.current = { command: null, rowCount: null, rows: null, truncated: false };
      this.keptChars = 0;
    }
    return this.current;
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    this.fields = msg.fields;
    this.parsers = msg.fields.map((f) => parserFor(f.dataTypeID));
    this.open().rows = [];
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    const result = this.open();
    result.rows ??= [];
    if (result.rows.length >= ROWS_KEPT || this.keptChars > this.limitBytes) {
      result.truncated = true;
      return;
    }
    for (const raw of msg.fields) this.keptChars += raw === null ? 0 : raw.length;
    const row: Record<string, unknown> = {};
    msg.fields.forEach((raw, i) => {
      const field = this.fields[i];
      if (field === undefined) return;
      try {
        row[field.name] = raw === null ? null : this.parsers[i]!(raw);
      } catch {
        row[field.name] = raw;
      }
    });
    result.rows.push(row);
  }

  handleCommandComplete(msg: { text: string }): void {
    const result = this.open();
    const match = /^([A-Za-z]+(?: [A-Za-z]+)*)(?: (\d+))?(?: (\d+))?$/.exec(msg.text);
    result.command = match?.[1] ?? msg.text;
    const count = match?.[3] ?? match?.[2];
    result.rowCount = count === undefined ? null : Number(count);
    this.results.push(result);
    this.current = null;
    this.fields = [];
  }

  handleEmptyQuery(): void {
    // An empty message: nothing to record.
  }

  handleError(error: Error, _connection?: unknown): void {
    this.finish(error as ScriptOutcome["error"]);
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    // COPY … FROM STDIN has no input here: the server gets a clear failure.
    connection.sendCopyFail("COPY FROM STDIN is not available in a Clockwork step: the supervisor sends no input");
  }

  handleCopyData(): void {
    // COPY … TO STDOUT: the data is not kept.
  }

  handlePortalSuspended(): void {
    // Not used by the simple query protocol.
  }

  private finish(error: ScriptOutcome["error"]): void {
    if (this.done) return;
    this.done = true;
    // An ERROR from the server leaves the session usable; anything else (a FATAL from the
    // server, a socket error, "Connection terminated") means it is gone.
    const broken = error !== null && (error as { severity?: string }).severity !== "ERROR";
    this.settle({ results: this.results, error, broken });
  }
}

/** Runs one message on a client; resolves with what came back, whatever happened. */
export function runScript(client: pg.ClientBase, text: string, limitBytes?: number): Promise<ScriptOutcome> {
  const query = new ScriptQuery(text, limitBytes);
  try {
    client.query(query as unknown as pg.QueryConfig);
  } catch (error) {
    query.handleError(error as Error);
  }
  return query.outcome;
}
