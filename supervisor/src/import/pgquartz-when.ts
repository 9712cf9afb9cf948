// PgQuartz `when` rules are Go templates, evaluated as `{{if RULE}}True{{end}}` over the
// job's steps. This reads the subset real job files use and writes the same test as a
// Clockwork condition (docs/core.md, "Conditions"); anything else is refused by name.
//
// Read:   eq ne lt le gt ge (two operands), not, and, or (any number), ( … ),
//         integers, "strings", `raw strings`, true, false, and step results:
//         .Steps.NAME / .Steps["NAME"] / .Steps.["NAME"] / (index .Steps "NAME"),
//         optionally .Instances, then .Rc, or .StdOut / .StdErr with .Contains "text".
// PgQuartz semantics kept:
//   Rc     the sum of the return codes of every command of every instance (0 when all
//          succeeded; an SQL command counts 1 when it fails). Compared with 0 it is "no
//          command failed" (every translated command step not failed nor timed out);
//          compared with another number it is the step's exit code, which only means the
//          same for a step of one shell command and no matrix.
//   StdOut.Contains  a line of some command's output contains the text: the output of
//          each command step contains it (SQL output is JSON text, so the text is looked
//          for in its JSON spelling, see pgquartz.ts).

export interface WhenStep {
  /** Clockwork names of the step's command steps, in order. */
  commands: Array<{ name: string; kind: "sql" | "shell" }>;
  /** Instances (matrix combinations), 1 without a matrix. */
  instances: number;
}

export type WhenResult = { ok: true; condition: string; reads: string[] } | { ok: false; message: string };

type Token = { kind: "str" | "num" | "word" | "field" | "lp" | "rp" | "lb" | "rb"; text: string; value?: string | number };

class WhenError extends Error {}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === "(") { out.push({ kind: "lp", text: c }); i++; continue; }
    if (c === ")") { out.push({ kind: "rp", text: c }); i++; continue; }
    if (c === "[") { out.push({ kind: "lb", text: c }); i++; continue; }
    if (c === "]") { out.push({ kind: "rb", text: c }); i++; continue; }
    if (c === '"') {
      let j = i + 1;
      let value = "";
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\") {
          const n = text[++j];
          value += n === "n" ? "\n" : n === "t" ? "\t" : n ?? "";
        } else value += text[j];
      }
      if (j >= text.length) throw new WhenError(`unterminated string at column ${i + 1}`);
      out.push({ kind: "str", text: text.slice(i, j + 1), value });
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const j = text.indexOf("`", i + 1);
      if (j < 0) throw new WhenError(`unterminated string at column ${i + 1}`);
      out.push({ kind: "str", text: text.slice(i, j + 1), value: text.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+/.exec(text.slice(i));
    if (num) { out.push({ kind: "num", text: num[0], value: Number(num[0]) }); i += num[0].length; continue; }
    // A field chain (.Steps.x.Rc, .Steps.["x"]) or a bare `.`: one token per `.name`.
    if (c === ".") {
      const m = /^\.([A-Za-z_][A-Za-z0-9_]*)?/.exec(text.slice(i))!;
      out.push({ kind: "field", text: m[0], value: m[1] ?? "" });
      i += m[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) { out.push({ kind: "word", text: word[0], value: word[0] }); i += word[0].length; continue; }
    throw new WhenError(`unexpected "${c}" at column ${i + 1}`);
  }
  return out;
}

type Ref = { step: string; what: "Rc" } | { step: string; what: "StdOut" | "StdErr"; method?: string; arg?: string };
type Expr =
  | { kind: "lit"; value: string | number | boolean }
  | { kind: "ref"; ref: Ref }
  | { kind: "call"; fn: string; args: Expr[] };

const FUNCS = new Set(["eq", "ne", "lt", "le", "gt", "ge", "not", "and", "or"]);
const METHODS = new Set(["Contains", "ContainsLine", "RegExpContains"]);

class Reader {
  private i = 0;
  constructor(private readonly t: Token[]) {}
  peek(): Token | undefined { return this.t[this.i]; }
  next(): Token | undefined { return this.t[this.i++]; }
  done(): boolean { return this.i >= this.t.length; }

  /** A command: a function with its arguments, or one operand (a method call takes its argument). */
  command(stopAtRp: boolean): Expr {
    const head = this.peek();
    if (head === undefined) throw new WhenError("empty rule");
    if (head.kind === "word" && FUNCS.has(head.text)) {
      this.next();
      const args: Expr[] = [];
      while (!this.done() && !(stopAtRp && this.peek()!.kind === "rp")) args.push(this.operand(false));
      const arity: Record<string, [number, number]> = { not: [1, 1], and: [1, 99], or: [1, 99] };
      const [min, max] = arity[head.text] ?? [2, 2];
      if (args.length < min || args.length > max) throw new WhenError(`${head.text} takes ${min === max ? min : `at least ${min}`} argument${min === 1 ? "" : "s"}, got ${args.length}`);
      return { kind: "call", fn: head.text, args };
    }
    const first = this.operand(true);
    if (!this.done() && !(stopAtRp && this.peek()!.kind === "rp")) throw new WhenError(`unexpected ${this.peek()!.text} after ${describe(first)}`);
    return first;
  }

  operand(asCommand: boolean): Expr {
    const t = this.next();
    if (t === undefined) throw new WhenError("a value is missing");
    if (t.kind === "num") return { kind: "lit", value: t.value as number };
    if (t.kind === "str") return { kind: "lit", value: t.value as string };
    if (t.kind === "word" && (t.text === "true" || t.text === "false")) return { kind: "lit", value: t.text === "true" };
    if (t.kind === "lp") {
      // (index .Steps "name") followed by fields, or a parenthesised command.
      const inner = this.peek();
      if (inner?.kind === "word" && inner.text === "index") {
        this.next();
        const steps = this.next();
        const name = this.next();
        if (steps?.kind !== "field" || steps.value !== "Steps" || name?.kind !== "str" || this.next()?.kind !== "rp") {
          throw new WhenError('index is read only as (index .Steps "step name")');
        }
        return this.stepFields(name.value as string, asCommand);
      }
      const e = this.command(true);
      if (this.next()?.kind !== "rp") throw new WhenError("missing )");
      return e;
    }
    if (t.kind === "field") {
      if (t.value !== "Steps") throw new WhenError(`only .Steps can be read, not ${t.text}`);
      let name: string;
      const n = this.next();
      if (n?.kind === "field" && n.value !== "") name = n.value as string;
      else if ((n?.kind === "lb") || (n?.kind === "field" && n.value === "" && this.peek()?.kind === "lb")) {
        if (n.kind === "field") this.next();
        const s = this.next();
        if (s?.kind !== "str" || this.next()?.kind !== "rb") throw new WhenError('write a step as .Steps.name or .Steps["name"]');
        name = s.value as string;
      } else throw new WhenError("a step name must follow .Steps");
      return this.stepFields(name, asCommand);
    }
    if (t.kind === "word") throw new WhenError(`unknown function "${t.text}" (read: ${[...FUNCS].join(", ")}, index)`);
    throw new WhenError(`unexpected ${t.text}`);
  }

  private stepFields(step: string, asCommand: boolean): Expr {
    let f = this.next();
    if (f?.kind === "field" && f.value === "Instances") f = this.next();
    if (f?.kind !== "field" || !["Rc", "StdOut", "StdErr"].includes(f.value as string)) {
      throw new WhenError(`read .Rc, .StdOut or .StdErr of step "${step}"${f ? `, not ${f.text}` : ""}`);
    }
    if (f.value === "Rc") return { kind: "ref", ref: { step, what: "Rc" } };
    const what = f.value as "StdOut" | "StdErr";
    const m = this.peek();
    if (m?.kind === "field" && METHODS.has(m.value as string)) {
      this.next();
      if (!asCommand) throw new WhenError(`put ${what}.${m.value} "…" in parentheses to use it as an argument`);
      const arg = this.next();
      if (arg?.kind !== "str") throw new WhenError(`${what}.${m.value} needs a "string" argument`);
      return { kind: "ref", ref: { step, what, method: m.value as string, arg: arg.value as string } };
    }
    return { kind: "ref", ref: { step, what } };
  }
}

function describe(e: Expr): string {
  return e.kind === "lit" ? JSON.stringify(e.value) : e.kind === "ref" ? `.Steps["${e.ref.step}"].${e.ref.what}` : e.fn;
}

/** A Clockwork string literal. */
export function literal(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`;
}

/** How `text` is spelled inside the JSON of an SQL step's output (JSON.stringify). */
export function jsonSpelling(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

class Writer {
  readonly reads = new Set<string>();
  constructor(private readonly steps: ReadonlyMap<string, WhenStep>) {}

  private step(name: string): WhenStep {
    const s = this.steps.get(name);
    if (s === undefined) throw new WhenError(`unknown step "${name}"`);
    for (const c of s.commands) this.reads.add(c.name);
    return s;
  }

  /** "No command of the step failed" (Rc == 0). */
  private rcZero(name: string): string {
    const s = this.step(name);
    return `(${s.commands.map((c) => `${c.name}.status != "failed" and ${c.name}.status != "timed_out"`).join(" and ")})`;
  }

  bool(e: Expr): string {
    if (e.kind === "lit") return typeof e.value === "boolean" ? String(e.value) : e.value === 0 || e.value === "" ? "false" : "true";
    if (e.kind === "ref") {
      if (e.ref.what === "Rc") return `not ${this.rcZero(e.ref.step)}`;
      if (e.ref.method === undefined) throw new WhenError(`.${e.ref.what} alone is not a condition: use .${e.ref.what}.Contains "text"`);
      return this.contains(e.ref.step, e.ref.what, e.ref.method, e.ref.arg!);
    }
    switch (e.fn) {
      case "not": return `not (${this.bool(e.args[0]!)})`;
      case "and": return `(${e.args.map((a) => this.bool(a)).join(" and ")})`;
      case "or": return `(${e.args.map((a) => this.bool(a)).join(" or ")})`;
      default: return this.compare(e.fn, e.args[0]!, e.args[1]!);
    }
  }

  private contains(stepName: string, stream: "StdOut" | "StdErr", method: string, text: string): string {
    const s = this.step(stepName);
    if (method !== "Contains") throw new WhenError(`${stream}.${method} is not supported: Clockwork conditions test substrings (use ${stream}.Contains)`);
    if (stream === "StdErr") {
      if (s.commands.every((c) => c.kind === "sql")) return "false"; // PgQuartz: an SQL command's StdErr is always empty
      throw new WhenError("StdErr of a shell command is not visible to Clockwork conditions (they see stdout as output, and the error message); test StdOut, or print to stdout");
    }
    if (text.includes("\n")) throw new WhenError("Contains looks within one line of output: the text cannot hold a newline");
    return `(${s.commands.map((c) => `${c.name}.output contains ${literal(c.kind === "sql" ? jsonSpelling(text) : text)}`).join(" or ")})`;
  }

  private compare(fn: string, a: Expr, b: Expr): string {
    const op = { eq: "==", ne: "!=", lt: "<", le: "<=", gt: ">", ge: ">=" }[fn]!;
    const flip: Record<string, string> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!=" };
    let ref: Ref | null = null;
    let other: Expr;
    let o = op;
    if (a.kind === "ref") { ref = a.ref; other = b; }
    else if (b.kind === "ref") { ref = b.ref; other = a; o = flip[op]!; }
    else {
      // Constants, or conditions compared with true/false.
      if (a.kind === "lit" && b.kind === "lit") return String(evalLit(op, a.value, b.value));
      const [x, y] = a.kind === "lit" ? [b, a] : [a, b];
      if (y.kind === "lit" && typeof y.value === "boolean" && (op === "==" || op === "!=")) {
        return (op === "==") === y.value ? this.bool(x) : `not (${this.bool(x)})`;
      }
      throw new WhenError(`${fn} compares values, not conditions`);
    }
    if (ref.what !== "Rc") {
      if (other.kind === "lit" && typeof other.value === "boolean" && ref.method !== undefined && (o === "==" || o === "!=")) {
        const c = this.contains(ref.step, ref.what, ref.method, ref.arg!);
        return (o === "==") === other.value ? c : `not ${c}`;
      }
      throw new WhenError(`${fn} on .${ref.what} is not supported: test .${ref.what}.Contains "text"`);
    }
    if (other.kind !== "lit" || typeof other.value !== "number") throw new WhenError(`.Rc is compared with a number`);
    const n = other.value;
    // Rc ≥ 0 always: reduce to "is zero" / "is not zero" where the comparison allows.
    const zero = (o === "==" && n === 0) || (o === "<=" && n === 0) || (o === "<" && n === 1);
    const nonZero = (o === "!=" && n === 0) || (o === ">" && n === 0) || (o === ">=" && n === 1);
    if (zero) return this.rcZero(ref.step);
    if (nonZero) return `not ${this.rcZero(ref.step)}`;
    if ((o === ">=" && n <= 0) || (o === ">" && n < 0) || (o === "!=" && n < 0)) return "true";
    if ((o === "<" && n <= 0) || (o === "<=" && n < 0) || (o === "==" && n < 0)) return "false";
    const s = this.step(ref.step);
    if (s.commands.length === 1 && s.instances === 1 && s.commands[0]!.kind === "shell") return `${s.commands[0]!.name}.exit_code ${o} ${n}`;
    throw new WhenError(`.Rc ${o} ${n} needs the sum of return codes over commands and instances; Clockwork compares the exit code of a step with one shell command and no matrix, or Rc with 0`);
  }
}

function evalLit(op: string, a: unknown, b: unknown): boolean {
  switch (op) {
    case "==": return a === b;
    case "!=": return a !== b;
    case "<": return (a as number) < (b as number);
    case "<=": return (a as number) <= (b as number);
    case ">": return (a as number) > (b as number);
    default: return (a as number) >= (b as number);
  }
}

/** Strips `{{if X}}True{{end}}` to X; a rule without `{{` is already X. */
function ruleBody(rule: string): string {
  if (!rule.includes("{{")) return rule;
  const m = /^\s*\{\{-?\s*if\s+([\s\S]*?)\s*-?\}\}\s*True\s*\{\{-?\s*end\s*-?\}\}\s*$/.exec(rule);
  if (m) return m[1]!;
  throw new WhenError('a full template is read only in the form {{if CONDITION}}True{{end}}');
}

/** Translates a step's `when` rules (all must hold) into one Clockwork condition. */
export function translateWhen(rules: readonly string[], steps: ReadonlyMap<string, WhenStep>): WhenResult {
  const writer = new Writer(steps);
  const parts: string[] = [];
  for (const rule of rules) {
    try {
      const reader = new Reader(tokenize(ruleBody(rule)));
      const expr = reader.command(false);
      parts.push(writer.bool(expr));
    } catch (error) {
      if (error instanceof WhenError) return { ok: false, message: `${JSON.stringify(rule)}: ${error.message}` };
      throw error;
    }
  }
  return { ok: true, condition: parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(" and "), reads: [...writer.reads] };
}
