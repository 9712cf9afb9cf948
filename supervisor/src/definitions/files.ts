// Definition files: YAML (or JSON) read with the `yaml` library, which keeps every node's
// position, so a problem is reported as file:line, and each document's text as written,
// so the database can keep it (comments, key order) for `clockwork export`.
//
// A path is a file (one or several `---` documents, one job each) or a folder (its
// *.yaml, *.yml and *.json files, recursively, in name order). Scalars are read with YAML's
// core schema: the same values as define_job's YAML reading in the database (js-yaml's JSON
// schema): `yes` and `on` stay strings, `2026-01-01` stays a string.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, relative } from "node:path";
import { ERROR_KINDS } from "../../../extension/src/core/errors.ts";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";

export interface Position {
  file: string;
  line: number;
  column: number;
}

/** One document of a definition file: its parsed value, its text, and where its nodes are. */
export interface SourceDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** The document's text as written, without a leading `---` line. */
  text: string;
  value: unknown;
  /** Where the value at a path (`steps.load.depends[0]`) starts, or the nearest enclosing node. */
  locate(path: string): Position;
}

/** A problem in a file, with its place. */
export interface FileProblem {
  position: Position;
  /** Where in the definition (`steps.load.when`), or "" for the whole document. */
  path: string;
  message: string;
  /** SQLSTATE of the problem's kind when the core knows it (e.g. ERROR_KINDS.unknown_step.code). */
  code?: string;
}

export function formatProblem(p: FileProblem): string {
  const where = `${p.position.file}:${p.position.line}:${p.position.column}`;
  return `${where}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`;
}

const DEFINITION_FILE = /\.(ya?ml|json)$/i;

/** The definition files under the given paths, in a stable order; missing paths are problems. */
export function findDefinitionFiles(paths: readonly string[]): { files: string[]; problems: string[] } {
  const files: string[] = [];
  const problems: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith(".")) continue;
      const path = join(dir, entry);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (DEFINITION_FILE.test(entry)) files.push(path);
    }
  };
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      problems.push(`${path}: no such file or folder`);
      continue;
    }
    if (stat.isDirectory()) walk(path);
    else files.push(path);
  }
  return { files: [...new Set(files)], problems };
}

/** Splits a definition path (`steps.load.depends[0]`) into its keys and indexes. */
export function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function locator(doc: Document, counter: LineCounter, file: string) {
  const at = (offset: number): Position => {
    const { line, col } = counter.linePos(offset);
    return { file, line, column: col };
  };
  return (path: string): Position => {
    let node: Node | null = doc.contents as Node | null;
    let best = node?.range?.[0] ?? 0;
    for (const segment of pathSegments(path)) {
      if (node === null) break;
      let next: Node | null = null;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair) {
          // The key's line: "unknown field" and "must be" both point at the key.
          if (isScalar(pair.key) && pair.key.range) best = pair.key.range[0];
          next = (pair.value as Node | null) ?? null;
        }
      } else if (isSeq(node)) {
        if (typeof segment === "number") next = (node.items[segment] as Node | undefined) ?? null;
        // Steps and checks given as a list are named by their `name` in paths.
        else next = (node.items.find((item) => isMap(item) && item.get("name") === segment) as Node | undefined) ?? null;
        if (next?.range) best = next.range[0];
      }
      if (next === null) break;
      node = next;
    }
    return at(best);
  };
}

/** Reads one file's documents, or its YAML syntax errors with their places. */
export function readDefinitionFile(file: string, text = readFileSync(file, "utf8")): { documents: SourceDocument[]; problems: FileProblem[] } {
  const counter = new LineCounter();
  const display = relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file) || file;
  const parsed = parseAllDocuments(text, { lineCounter: counter, schema: "core", prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  const problems: FileProblem[] = [];
  const documents: SourceDocument[] = [];
  let previousEnd = 0;
  docs.forEach((doc, index) => {
    const end = doc.range[2];
    const raw = index === 0 && docs.length === 1 ? text : text.slice(previousEnd, end);
    previousEnd = end;
    for (const error of doc.errors) {
      const { line, col } = counter.linePos(error.pos[0]);
      problems.push({ position: { file: display, line, column: col }, path: "", message: `not valid YAML: ${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`, code: ERROR_KINDS.invalid_definition.code });
    }
    if (doc.errors.length > 0) return;
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document (comments only)
    documents.push({ file: display, index, text: raw.replace(/^---[^\n]*\n/, ""), value, locate: locator(doc, counter, display) });
  });
  return { documents, problems };
}

/** Reads every document under the paths. */
export function readDefinitions(paths: readonly string[]): { documents: SourceDocument[]; problems: FileProblem[]; missing: string[] } {
  const { files, problems: missing } = findDefinitionFiles(paths);
  const documents: SourceDocument[] = [];
  const problems: FileProblem[] = [];
  for (const file of files) {
    const r = readDefinitionFile(file);
    documents.push(...r.documents);
    problems.push(...r.problems);
  }
  return { documents, problems, missing };
}

/** A file's name without folder and extension (PgQuartz names a job after its file). */
export function fileStem(file: string): string {
  return basename(file, extname(file));
}
