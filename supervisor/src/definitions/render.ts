// Job definitions written as YAML: for `clockwork export` of a job that has no text of its
// own (defined as jsonb), for importers, and for the diffs of `apply` and `diff`. Keys come
// in the order docs/core.md documents them, so two renderings of the same definition are
// the same text and a diff shows only what changed.
//
// Text with line breaks (SQL, scripts) is a literal block scalar (`|`), which a person
// reads and edits as written: trailing spaces and tabs inside it are content (YAML 1.2,
// l-nb-literal-text), so SQL with trailing spaces, even inside a string literal, comes back
// byte for byte. Nothing is stripped: trailing white space may be inside a literal. Where
// a block cannot give the text back exactly, the text is double-quoted, with escapes:
//   - a carriage return (CRLF line ends): YAML reads every line break in a block as LF;
//   - a last line of only spaces or tabs (`…;\n  `): the yaml library writes no such block
//     (it would be one an editor that trims trailing white space silently changes);
//   - lines of only white space where the library's block reads back otherwise (it omits
//     the indentation indicator a leading one needs): each block is read back before it is
//     kept, and the whole text once more at the end (renderDefinition).
import { isDeepStrictEqual } from "node:util";
import { Document, isScalar, parse, visit, type ToStringOptions } from "yaml";

const JOB_ORDER = ["name", "description", "tags", "enabled", "time_zone", "schedules", "parameters", "policies", "node", "labels", "transaction", "steps", "checks"];
const WORK_ORDER = [
  "name", "description", "sql", "shell", "program", "builtin", "args", "connection", "conninfo", "server_role", "on_role_mismatch", "depends", "when",
  "matrix", "env", "parameters", "on_error", "retries", "timeout", "expected_exit_code", "expected", "unexpected",
];
const SCHEDULE_ORDER = ["cron", "every", "after", "at", "reboot", "pgagent", "time_zone", "dst", "day_match", "starts_at", "ends_at", "anchor", "exclude"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function ordered(o: Obj, order: readonly string[]): Obj {
  const keys = Object.keys(o);
  const known = order.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !order.includes(k)).sort();
  return Object.fromEntries([...known, ...rest].map((k) => [k, o[k]]));
}

/** The definition with its keys in the documented order (steps keep the order they have). */
export function canonicalOrder(definition: Obj): Obj {
  const out = ordered(definition, JOB_ORDER);
  const work = (w: unknown) => (isObj(w) ? ordered(w, WORK_ORDER) : w);
  if (isObj(out.steps)) out.steps = Object.fromEntries(Object.entries(out.steps).map(([k, v]) => [k, work(v)]));
  else if (Array.isArray(out.steps)) out.steps = out.steps.map(work);
  if (Array.isArray(out.checks)) out.checks = out.checks.map(work);
  else if (isObj(out.checks)) out.checks = Object.fromEntries(Object.entries(out.checks).map(([k, v]) => [k, work(v)]));
  if (Array.isArray(out.schedules)) out.schedules = out.schedules.map((s) => (isObj(s) ? ordered(s, SCHEDULE_ORDER) : s));
  return out;
}

const TEXT_OPTIONS: ToStringOptions = { lineWidth: 0, indent: 2, defaultStringType: "PLAIN", defaultKeyType: "PLAIN", flowCollectionPadding: false };

/** Whether YAML (the core schema, as definition files are read) gives `value` back from `text`. */
function readsBack(text: string, value: unknown): boolean {
  try {
    return isDeepStrictEqual(parse(text, { schema: "core" }), value);
  } catch {
    return false;
  }
}

/** Whether a literal block scalar gives this text back exactly (see the head of this file). */
function blockKeepsText(text: string): boolean {
  const doc = new Document({ v: text });
  visit(doc, { Scalar(_, node) { if (node.value === text) node.type = "BLOCK_LITERAL"; } });
  const rendered = doc.toString(TEXT_OPTIONS);
  return /^v: \|/.test(rendered) && readsBack(rendered, { v: text });
}

/** YAML text of a definition, optionally after a comment block. */
export function renderDefinition(definition: Obj, comment?: string): string {
  const ordered = canonicalOrder(definition);
  const doc = new Document(ordered);
  visit(doc, {
    // Lists of plain values on one line: depends: [a, b], schedules: ["0 2 * * *"], pgAgent sets.
    Seq(_, node) { if (node.items.every((i) => isScalar(i) && !String(i.value).includes("\n"))) node.flow = true; },
    Scalar(_, node) {
      if (typeof node.value === "string" && node.value.includes("\n")) node.type = blockKeepsText(node.value) ? "BLOCK_LITERAL" : "QUOTE_DOUBLE";
    },
  });
  // The text is what gets applied: it must read back as the definition, whatever the
  // library made of a scalar. Its long double-quoted strings spread over several lines
  // fail that in corner cases (a line of one space after a CRLF); on one line they do not,
  // and JSON's strings, which YAML reads too, never do.
  const value = JSON.parse(JSON.stringify(ordered)) as unknown;
  let text = doc.toString(TEXT_OPTIONS);
  if (!readsBack(text, value)) text = doc.toString({ ...TEXT_OPTIONS, doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER });
  if (!readsBack(text, value)) text = new Document(ordered).toString({ ...TEXT_OPTIONS, defaultStringType: "QUOTE_DOUBLE", doubleQuotedAsJSON: true });
  const header = comment ? comment.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n") + "\n" : "";
  return header + text;
}

/** A line diff (LCS) of two texts, with `context` unchanged lines around each change. */
export function lineDiff(before: string, after: string, context = 2): string[] {
  const a = before.replace(/\n$/, "").split("\n");
  const b = after.replace(/\n$/, "").split("\n");
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ op: " " | "-" | "+"; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { ops.push({ op: " ", line: a[i]! }); i++; j++; }
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) { ops.push({ op: "-", line: a[i]! }); i++; }
    else { ops.push({ op: "+", line: b[j]! }); j++; }
  }
  const keep = ops.map((o, k) => o.op !== " " || ops.slice(Math.max(0, k - context), k + context + 1).some((x) => x.op !== " "));
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(`${o.op} ${o.line}`);
    else if (keep[k - 1]) out.push("  …");
  });
  return out;
}
