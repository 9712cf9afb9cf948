// The condition language of `when`: a tiny, safe expression language parsed to an AST.
// No eval, no templates, no function calls.
//
//   expr     := or
//   or       := and ("or" and)*
//   and      := not ("and" not)*
//   not      := "not" not | compare
//   compare  := value (("==" | "!=" | "<" | "<=" | ">" | ">=" | "contains") value)?
//   value    := string | number | true | false | null | path | "(" expr ")"
//   path     := name ("." name | "[" integer "]")*
//
// e.g. extract.status == "succeeded" and extract.exit_code == 0 and load.output contains "OK"

export type Scalar = string | number | boolean | null;
export type Value = Scalar | readonly Value[] | { readonly [key: string]: Value };

export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains";

export type Expr =
  | { type: "literal"; value: Scalar; position: number }
  | { type: "path"; segments: Array<string | number>; text: string; position: number }
  | { type: "not"; operand: Expr; position: number }
  | { type: "and" | "or"; left: Expr; right: Expr; position: number }
  | { type: "compare"; op: CompareOp; left: Expr; right: Expr; position: number };

export interface ExpressionError {
  /** 0-based offset into the text. */
  position: number;
  /** Message including the 1-based column. */
  message: string;
}

export type ExpressionResult = { ok: true; ast: Expr; references: string[] } | { ok: false; error: ExpressionError };

type Token =
  | { kind: "string"; value: string; pos: number; text: string }
  | { kind: "number"; value: number; pos: number; text: string }
  | { kind: "name"; value: string; pos: number; text: string }
  | { kind: "op"; value: string; pos: number; text: string }
  | { kind: "end"; pos: number; text: string };

class ParseError extends Error {
  constructor(readonly position: number, message: string) {
    super(message);
  }
}

const EXPECTED_VALUE = "a value (a string, a number, true, false, null or a name like step.status)";
const KEYWORDS = new Set(["and", "or", "not", "contains", "true", "false", "null"]);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new ParseError(start, `unterminated string starting at column ${start + 1}`);
        const ch = text[i]!;
        if (ch === c) {
          i++;
          break;
        }
        if (ch === "\\") {
          const n = text[i + 1];
          if (n === undefined) throw new ParseError(i, `unterminated string starting at column ${start + 1}`);
          value += n === "n" ? "\n" : n === "t" ? "\t" : n;
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: "string", value, pos: start, text: text.slice(start, i) });
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "-" && /[0-9]/.test(text[i + 1] ?? ""))) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))!;
      i += m[0].length;
      tokens.push({ kind: "number", value: Number(m[0]), pos: start, text: m[0] });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i))!;
      // A name may contain '-' (step names do) but not end with it.
      let name = m[0];
      while (name.endsWith("-")) name = name.slice(0, -1);
      i += name.length;
      tokens.push({ kind: "name", value: name, pos: start, text: name });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === "==" || two === "!=" || two === "<=" || two === ">=" || two === "&&" || two === "||") {
      if (two === "&&" || two === "||") throw new ParseError(i, `"${two}" at column ${i + 1}: write "${two === "&&" ? "and" : "or"}"`);
      tokens.push({ kind: "op", value: two, pos: start, text: two });
      i += 2;
      continue;
    }
    if ("<>().[]".includes(c)) {
      tokens.push({ kind: "op", value: c, pos: start, text: c });
      i++;
      continue;
    }
    if (c === "=") throw new ParseError(i, `"=" at column ${i + 1}: write "==" to compare`);
    if (c === "!") throw new ParseError(i, `"!" at column ${i + 1}: write "not" or "!="`);
    throw new ParseError(i, `unexpected character "${c}" at column ${i + 1}`);
  }
  tokens.push({ kind: "end", pos: text.length, text: "end of expression" });
  return tokens;
}

class Parser {
  private i = 0;
  readonly references = new Set<string>();
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private isWord(word: string): boolean {
    const t = this.peek();
    return t.kind === "name" && t.value === word;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.value === op;
  }
  private fail(expected: string): never {
    const t = this.peek();
    const what = t.kind === "end" ? "end of expression" : `"${t.text}"`;
    throw new ParseError(t.pos, `unexpected ${what} at column ${t.pos + 1}; expected ${expected}`);
  }

  parse(): Expr {
    const e = this.or();
    if (this.peek().kind !== "end") this.fail('"and", "or" or the end');
    return e;
  }
  private or(): Expr {
    let left = this.and();
    while (this.isWord("or")) {
      const pos = this.peek().pos;
      this.i++;
      left = { type: "or", left, right: this.and(), position: pos };
    }
    return left;
  }
  private and(): Expr {
    let left = this.not();
    while (this.isWord("and")) {
      const pos = this.peek().pos;
      this.i++;
      left = { type: "and", left, right: this.not(), position: pos };
    }
    return left;
  }
  private not(): Expr {
    if (this.isWord("not")) {
      const pos = this.peek().pos;
      this.i++;
      return { type: "not", operand: this.not(), position: pos };
    }
    return this.compare();
  }
  private compare(): Expr {
    const left = this.value();
    const t = this.peek();
    let op: CompareOp | null = null;
    if (t.kind === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.value)) op = t.value as CompareOp;
    else if (t.kind === "name" && t.value === "contains") op = "contains";
    if (op === null) return left;
    this.i++;
    const right = this.value();
    return { type: "compare", op, left, right, position: t.pos };
  }
  private value(): Expr {
    const t = this.peek();
    if (t.kind === "string" || t.kind === "number") {
      this.i++;
      return { type: "literal", value: t.value, position: t.pos };
    }
    if (t.kind === "op" && t.value === "(") {
      this.i++;
      const e = this.or();
      if (!this.isOp(")")) this.fail('")"');
      this.i++;
      return e;
    }
    if (t.kind === "name") {
      if (t.value === "true" || t.value === "false") {
        this.i++;
        return { type: "literal", value: t.value === "true", position: t.pos };
      }
      if (t.value === "null") {
        this.i++;
        return { type: "literal", value: null, position: t.pos };
      }
      if (KEYWORDS.has(t.value)) this.fail(EXPECTED_VALUE);
      this.i++;
      const segments: Array<string | number> = [t.value];
      let text = t.value;
      for (;;) {
        if (this.isOp(".")) {
          this.i++;
          const n = this.peek();
          if (n.kind !== "name") this.fail("a field name after \".\"");
          this.i++;
          segments.push(n.value);
          text += `.${n.value}`;
        } else if (this.isOp("[")) {
          this.i++;
          const n = this.peek();
          if (n.kind === "number" && Number.isInteger(n.value) && n.value >= 0) segments.push(n.value);
          else if (n.kind === "string") segments.push(n.value);
          else this.fail("an index (a whole number or a string)");
          this.i++;
          text += `[${n.text}]`;
          if (!this.isOp("]")) this.fail('"]"');
          this.i++;
        } else break;
      }
      this.references.add(t.value);
      return { type: "path", segments, text, position: t.pos };
    }
    this.fail(EXPECTED_VALUE);
  }
}

/** Parses a condition. Errors carry the position (0-based) and a message with the column. */
export function parseExpression(text: string): ExpressionResult {
  try {
    if (text.trim() === "") return { ok: false, error: { position: 0, message: "the condition is empty" } };
    const p = new Parser(tokenize(text));
    const ast = p.parse();
    return { ok: true, ast, references: [...p.references] };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: { position: e.position, message: e.message } };
    throw e;
  }
}

function lookup(root: (name: string) => Value | undefined, segments: ReadonlyArray<string | number>): Value {
  let v: Value | undefined = root(segments[0] as string);
  for (let i = 1; i < segments.length && v !== undefined && v !== null; i++) {
    const s = segments[i]!;
    if (Array.isArray(v)) v = typeof s === "number" ? (v as readonly Value[])[s] : undefined;
    else if (typeof v === "object") v = Object.prototype.hasOwnProperty.call(v, s) ? (v as { readonly [k: string]: Value })[String(s)] : undefined;
    else v = undefined;
  }
  return v === undefined ? null : v;
}

function truthy(v: Value): boolean {
  if (v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** A number for a number or a numeric string (SQL results often arrive as text), else null. */
function numeric(v: Value): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a === "number" || typeof b === "number") {
    const x = numeric(a);
    const y = numeric(b);
    return x !== null && y !== null && x === y;
  }
  return false;
}

function compare(op: CompareOp, a: Value, b: Value): boolean {
  switch (op) {
    case "==":
      return equal(a, b);
    case "!=":
      return !equal(a, b);
    case "contains":
      if (typeof a === "string" && b !== null && typeof b !== "object") return a.includes(String(b));
      if (Array.isArray(a)) return a.some((x) => equal(x as Value, b));
      return false;
    default: {
      let x: number | string | null = numeric(a);
      let y: number | string | null = numeric(b);
      if (x === null || y === null) {
        // Two strings compare as text; anything else cannot be ordered and is false.
        if (typeof a !== "string" || typeof b !== "string") return false;
        x = a;
        y = b;
      }
      return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
    }
  }
}

/**
 * Evaluates a parsed condition. `root` gives the value of a top-level name (a step's result
 * object, `params`, …); missing values are null. Comparisons of values that cannot be ordered
 * are false rather than errors, so a condition never throws at run time.
 */
export function evaluateExpression(ast: Expr, root: (name: string) => Value | undefined): boolean {
  return truthy(evalValue(ast, root));
}

function evalValue(e: Expr, root: (name: string) => Value | undefined): Value {
  switch (e.type) {
    case "literal":
      return e.value;
    case "path":
      return lookup(root, e.segments);
    case "not":
      return !truthy(evalValue(e.operand, root));
    case "and":
      return truthy(evalValue(e.left, root)) && truthy(evalValue(e.right, root));
    case "or":
      return truthy(evalValue(e.left, root)) || truthy(evalValue(e.right, root));
    case "compare":
      return compare(e.op, evalValue(e.left, root), evalValue(e.right, root));
  }
}

/** Every path used in the expression, e.g. for checking field names at definition time. */
export function expressionPaths(ast: Expr): Array<Extract<Expr, { type: "path" }>> {
  const out: Array<Extract<Expr, { type: "path" }>> = [];
  const walk = (e: Expr): void => {
    if (e.type === "path") out.push(e);
    else if (e.type === "not") walk(e.operand);
    else if (e.type === "and" || e.type === "or" || e.type === "compare") {
      walk(e.left);
      walk(e.right);
    }
  };
  walk(ast);
  return out;
}
