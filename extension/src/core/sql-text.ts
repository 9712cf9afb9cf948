// Reading SQL text the way PostgreSQL and psql read it, without parsing it: tokens,
// statements, `:name` placeholders, and the statements that cannot run inside a
// transaction block. One scanner serves the definition checks (an SQL step's text must be
// complete, its statements known), parameter binding and the scripts a supervisor sends.
//
// The scanner follows PostgreSQL's own (src/backend/parser/scan.l) for everything that can
// hide a semicolon or a quote: -- and nested /* */ comments, '…' strings (standard, so a
// backslash is an ordinary character), E'…' strings (backslash escapes), "…" identifiers,
// $tag$…$tag$ dollar quotes, and psql's rules for where a statement ends (psqlscan.l): a
// semicolon outside parentheses, and outside a BEGIN ATOMIC … END function body.

export type TokenKind =
  | "word" // keyword or unquoted identifier
  | "quoted_identifier"
  | "string" // any quoted literal: '…', E'…', B'…', X'…', U&'…', $tag$…$tag$
  | "number"
  | "placeholder" // :name
  | "parameter" // $1
  | "operator"
  | "punctuation" // ( ) [ ] , . ; and ::
  | "semicolon";

export interface Token {
  kind: TokenKind;
  /** Offsets in the text: text.slice(start, end) is the token. */
  start: number;
  end: number;
  /** word: upper-cased; placeholder: the name without ':'; otherwise the token's text. */
  value: string;
}

export interface ScanProblem {
  /** What is left open, e.g. "dollar-quoted string". */
  what: string;
  /** Offset where it starts. */
  position: number;
}

export interface ScanResult {
  tokens: Token[];
  /** A string, identifier, comment or dollar quote that the text leaves open, if any. */
  unterminated: ScanProblem | null;
}

const isIdentStart = (c: string | undefined): boolean => c !== undefined && (/[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80);
const isIdentChar = (c: string | undefined): boolean => c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const OPERATOR_CHARS = "+-*/<>=~!@#%^&|`?";
const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";

/** Scans SQL text into tokens; comments and white space are dropped. Never throws. */
export function scanSql(sql: string): ScanResult {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value = sql.slice(start, end)): void => {
    tokens.push({ kind, start, end, value });
  };
  /** Scans a '…' literal whose opening quote is at `q`; returns the offset after it, or -1. */
  const quoted = (q: string, from: number, escapes: boolean): number => {
    let j = from + 1;
    while (j < n) {
      const c = sql[j]!;
      if (escapes && c === "\\") j += 2;
      else if (c === q) {
        if (sql[j + 1] === q) j += 2;
        else return j + 1;
      } else j++;
    }
    return -1;
  };
  while (i < n) {
    const c = sql[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < n && sql[i] !== "\n" && sql[i] !== "\r") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const start = i;
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return { tokens, unterminated: { what: "block comment", position: start } };
    } else if (c === "'") {
      const end = quoted("'", i, false);
      if (end < 0) return { tokens, unterminated: { what: "quoted string", position: i } };
      push("string", i, end);
      i = end;
    } else if (c === '"') {
      const end = quoted('"', i, false);
      if (end < 0) return { tokens, unterminated: { what: "quoted identifier", position: i } };
      push("quoted_identifier", i, end);
      i = end;
    } else if (c === "$" && isDigit(sql[i + 1])) {
      let j = i + 1;
      while (isDigit(sql[j])) j++;
      push("parameter", i, j);
      i = j;
    } else if (c === "$") {
      const m = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 200));
      if (m === null) {
        push("operator", i, i + 1);
        i++;
        continue;
      }
      const tag = m[0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) return { tokens, unterminated: { what: "dollar-quoted string", position: i } };
      push("string", i, close + tag.length);
      i = close + tag.length;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (isIdentChar(sql[j])) j++;
      const word = sql.slice(i, j);
      const upper = word.toUpperCase();
      // A one-letter prefix glued to a quote makes a special literal: E'…' (backslash
      // escapes), B'…' and X'…' (bit strings), N'…' (national); U&'…' and U&"…" (Unicode).
      if (sql[j] === "'" && (upper === "E" || upper === "B" || upper === "X" || upper === "N")) {
        const end = quoted("'", j, upper === "E");
        if (end < 0) return { tokens, unterminated: { what: "quoted string", position: i } };
        push("string", i, end);
        i = end;
      } else if (upper === "U" && sql[j] === "&" && (sql[j + 1] === "'" || sql[j + 1] === '"')) {
        const q = sql[j + 1]!;
        const end = quoted(q, j + 1, false);
        if (end < 0) return { tokens, unterminated: { what: q === "'" ? "quoted string" : "quoted identifier", position: i } };
        push(q === "'" ? "string" : "quoted_identifier", i, end);
        i = end;
      } else {
        push("word", i, j, upper);
        i = j;
      }
    } else if (isDigit(c) || (c === "." && isDigit(sql[i + 1]))) {
      let j = i;
      while (isDigit(sql[j]) || sql[j] === "." || sql[j] === "_") j++;
      if ((sql[j] === "e" || sql[j] === "E") && (isDigit(sql[j + 1]) || ((sql[j + 1] === "+" || sql[j + 1] === "-") && isDigit(sql[j + 2])))) {
        j += 2;
        while (isDigit(sql[j])) j++;
      }
      push("number", i, j);
      i = j;
    } else if (c === ":") {
      if (sql[i + 1] === ":") {
        push("punctuation", i, i + 2);
        i += 2;
      } else if (sql[i + 1] === "=") {
        push("operator", i, i + 2);
        i += 2;
      } else if (isIdentStart(sql[i + 1]) && sql[i + 1] !== undefined && !/[\u0080-\uffff]/.test(sql[i + 1]!)) {
        let j = i + 2;
        while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
        push("placeholder", i, j, sql.slice(i + 1, j));
        i = j;
      } else {
        push("operator", i, i + 1);
        i++;
      }
    } else if (c === ";") {
      push("semicolon", i, i + 1);
      i++;
    } else if ("()[],.".includes(c)) {
      push("punctuation", i, i + 1);
      i++;
    } else if (OPERATOR_CHARS.includes(c)) {
      // An operator never swallows the start of a comment.
      let j = i;
      while (j < n && OPERATOR_CHARS.includes(sql[j]!) && !(sql[j] === "-" && sql[j + 1] === "-") && !(sql[j] === "/" && sql[j + 1] === "*")) j++;
      if (j === i) j = i + 1;
      push("operator", i, j);
      i = j;
    } else {
      push("operator", i, i + 1);
      i++;
    }
  }
  return { tokens, unterminated: null };
}

/** One top-level statement of a script: its text and its tokens. */
export interface SqlStatement {
  /** The statement's text, from its first token to its last (without the semicolon). */
  text: string;
  start: number;
  end: number;
  tokens: Token[];
}

const ROUTINE_WORDS = new Set(["FUNCTION", "PROCEDURE"]);

/** Whether a statement's first words are CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
function definesRoutine(words: string[]): boolean {
  if (words[0] !== "CREATE") return false;
  if (words[1] === "OR" && words[2] === "REPLACE") return ROUTINE_WORDS.has(words[3] ?? "");
  return ROUTINE_WORDS.has(words[1] ?? "");
}

/**
 * Splits a scan into top-level statements, as psql does: at semicolons outside parentheses
 * and outside a BEGIN ATOMIC … END routine body. Empty statements are dropped, as the
 * server drops them.
 */
export function splitStatements(sql: string, tokens: readonly Token[]): SqlStatement[] {
  const out: SqlStatement[] = [];
  let current: Token[] = [];
  let parens = 0;
  let beginDepth = 0;
  const words: string[] = [];
  const flush = (): void => {
    if (current.length > 0) {
      const start = current[0]!.start;
      const end = current[current.length - 1]!.end;
      out.push({ text: sql.slice(start, end), start, end, tokens: current });
    }
    current = [];
    parens = 0;
    beginDepth = 0;
    words.length = 0;
  };
  for (const t of tokens) {
    if (t.kind === "semicolon" && parens === 0 && beginDepth === 0) {
      flush();
      continue;
    }
    current.push(t);
    if (t.kind === "punctuation" && (t.value === "(" || t.value === "[")) parens++;
    else if (t.kind === "punctuation" && (t.value === ")" || t.value === "]")) parens = Math.max(0, parens - 1);
    else if (t.kind === "word") {
      if (words.length < 4) words.push(t.value);
      // psql: inside CREATE FUNCTION/PROCEDURE, BEGIN opens a body that END closes, and a
      // CASE inside it has its own END.
      if (t.value === "BEGIN" && definesRoutine(words)) beginDepth++;
      else if (t.value === "CASE" && beginDepth > 0) beginDepth++;
      else if (t.value === "END" && beginDepth > 0) beginDepth--;
    }
  }
  flush();
  return out;
}

/** The words of a statement, in order, skipping parenthesized option lists right after the first word. */
function statementWords(statement: SqlStatement): string[] {
  return statement.tokens.filter((t) => t.kind === "word").map((t) => t.value);
}

export interface StatementNature {
  /**
   * Why the statement cannot run inside a transaction block (its command, e.g.
   * "VACUUM", "CREATE INDEX CONCURRENTLY", "COMMIT"), or null when it can.
   */
  outsideTransaction: string | null;
  /** CALL: a procedure may commit (then it needs no transaction block), or may not. */
  mayCommit: boolean;
}

const TRANSACTION_CONTROL: Record<string, string> = {
  BEGIN: "BEGIN",
  START: "START TRANSACTION",
  COMMIT: "COMMIT",
  END: "END",
  ROLLBACK: "ROLLBACK",
  ABORT: "ABORT",
};

/**
 * What PostgreSQL says about running a statement inside a transaction block (its
 * PreventInTransactionBlock callers in version 15), and transaction control, which would
 * end the block a transactional step runs in.
 */
export function statementNature(statement: SqlStatement): StatementNature {
  const words = statementWords(statement);
  const [w0 = "", w1 = "", w2 = ""] = words;
  const has = (w: string): boolean => words.includes(w);
  const outside = (what: string): StatementNature => ({ outsideTransaction: what, mayCommit: false });
  if (w0 === "VACUUM") return outside("VACUUM");
  if (w0 === "CLUSTER" && words.every((w) => w === "CLUSTER" || w === "VERBOSE")) return outside("CLUSTER without a table");
  if (w0 === "REINDEX") {
    const target = words.find((w) => ["INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM"].includes(w));
    if (target === "SCHEMA" || target === "DATABASE" || target === "SYSTEM") return outside(`REINDEX ${target}`);
    if (has("CONCURRENTLY")) return outside("REINDEX CONCURRENTLY");
  }
  if (w0 === "CREATE" && has("INDEX") && has("CONCURRENTLY")) return outside("CREATE INDEX CONCURRENTLY");
  if (w0 === "DROP" && w1 === "INDEX" && w2 === "CONCURRENTLY") return outside("DROP INDEX CONCURRENTLY");
  if (w0 === "ALTER" && w1 === "TABLE" && has("DETACH") && has("CONCURRENTLY")) return outside("DETACH PARTITION CONCURRENTLY");
  if ((w0 === "CREATE" || w0 === "DROP") && w1 === "DATABASE") return outside(`${w0} DATABASE`);
  if (w0 === "ALTER" && w1 === "DATABASE" && has("SET") && has("TABLESPACE")) return outside("ALTER DATABASE SET TABLESPACE");
  if ((w0 === "CREATE" || w0 === "DROP") && w1 === "TABLESPACE") return outside(`${w0} TABLESPACE`);
  if (w0 === "ALTER" && w1 === "SYSTEM") return outside("ALTER SYSTEM");
  if ((w0 === "CREATE" || w0 === "DROP") && w1 === "SUBSCRIPTION") return outside(`${w0} SUBSCRIPTION`);
  if (w0 === "ALTER" && w1 === "SUBSCRIPTION" && has("REFRESH")) return outside("ALTER SUBSCRIPTION REFRESH PUBLICATION");
  if (w0 === "DISCARD" && w1 === "ALL") return outside("DISCARD ALL");
  if ((w0 === "COMMIT" || w0 === "ROLLBACK") && w1 === "PREPARED") return outside(`${w0} PREPARED`);
  if (w0 === "PREPARE" && w1 === "TRANSACTION") return outside("PREPARE TRANSACTION");
  if (w0 === "ROLLBACK" && (w1 === "TO" || (w1 === "TRANSACTION" || w1 === "WORK") && w2 === "TO")) {
    return { outsideTransaction: null, mayCommit: false }; // ROLLBACK TO SAVEPOINT
  }
  if (w0 === "START" && w1 !== "TRANSACTION") return { outsideTransaction: null, mayCommit: false };
  const control = TRANSACTION_CONTROL[w0];
  if (control !== undefined) return outside(control);
  if (w0 === "CALL") return { outsideTransaction: null, mayCommit: true };
  return { outsideTransaction: null, mayCommit: false };
}

export interface SqlBodyAnalysis {
  statements: SqlStatement[];
  /** A problem that makes the text unusable as a step: unterminated token, or no statement. */
  problem: string | null;
  /** The first statement that cannot run in a transaction block: its 1-based number and command. */
  needsAutonomy: { statement: number; command: string } | null;
  /** The first CALL (a procedure may commit), 1-based. */
  firstCall: number | null;
}

/** Reads an SQL step's text: its statements and whether it can run in one transaction. */
export function analyzeSqlBody(sql: string): SqlBodyAnalysis {
  const scan = scanSql(sql);
  if (scan.unterminated !== null) {
    return { statements: [], problem: `unterminated ${scan.unterminated.what} starting at offset ${scan.unterminated.position}`, needsAutonomy: null, firstCall: null };
  }
  const statements = splitStatements(sql, scan.tokens);
  if (statements.length === 0) return { statements, problem: "contains no SQL statement", needsAutonomy: null, firstCall: null };
  let needsAutonomy: SqlBodyAnalysis["needsAutonomy"] = null;
  let firstCall: number | null = null;
  statements.forEach((s, index) => {
    const nature = statementNature(s);
    if (nature.outsideTransaction !== null && needsAutonomy === null) needsAutonomy = { statement: index + 1, command: nature.outsideTransaction };
    if (nature.mayCommit && firstCall === null) firstCall = index + 1;
  });
  return { statements, problem: null, needsAutonomy, firstCall };
}
