// Builds the `clockwork` extension: bundles extension/src/ with esbuild into one
// script for PL/v8 and writes dist/extension/{clockwork.control, clockwork--<v>.sql}.
//
// The install script is the hand-written SQL in extension/sql/ (NN_*.sql, in order),
// followed by the generated part (which carries its own grants):
//   - clockwork._load_bundle(): holds the whole bundle, stamped with its content hash;
//   - one stub per SQL-callable function (extension/src/functions/*) that reloads the
//     bundle when the session's copy has another hash, so an upgraded extension never
//     runs stale code, then calls the function's body by its exported name, and rethrows
//     what escapes it through toSqlError (extension/src/db/raise.ts): errors then carry
//     their SQLSTATE on the real PL/v8 as on clockwork_v8;
//   - for each function of the API for people (granted to PUBLIC), a PL/pgSQL front under
//     its documented name, with the stub behind it as `_<name>` (sql-function.ts,
//     frontOf): both runtimes give an error thrown from JavaScript a CONTEXT line of
//     JavaScript source, and the front raises it again with a PL/pgSQL one.
// The hand-written SQL names error kinds, never SQLSTATEs: `@sqlstate:not_found@` becomes
// that kind's SQLSTATE and `@hint:not_found@` its hint, as SQL literals taken from the one
// table (extension/src/core/errors.ts), which the view clockwork.error_kinds also shows;
// `@extension_version@` becomes this version ('1.1') as a literal.
//
// Upgrades (UPDATING.md): the hand-written files are of two sorts. Schema files
// (NN_tables*.sql: tables, columns, constraints, indexes) run once, at install; a change
// to them is also written by hand, forward only, in extension/sql/upgrade/<from>--<to>.sql.
// Every other file is code (functions, views, policies, grants, comments): written so that
// running it again replaces what is there (CREATE OR REPLACE, DROP POLICY IF EXISTS before
// CREATE POLICY; the build rewrites CREATE FUNCTION/VIEW/TRIGGER/POLICY accordingly and
// refuses anything else in a code file). The upgrade script that ends at this version is
// the hand-written upgrade file, then every code file, then the generated part, so code is
// replaced whole on every upgrade and only the schema is migrated by hand.
// Nothing generated is committed or edited by hand.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ERROR_KINDS, type ErrorKind } from "../extension/src/core/errors.ts";
import { sqlFunctions } from "../extension/src/functions/index.ts";
import { argumentNames, frontOf, splitArguments, type SqlFunction } from "../extension/src/db/sql-function.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const extensionDir = join(root, "extension");
const outDir = join(root, "dist", "extension");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const extensionVersion = version.split(".").slice(0, 2).join(".");

/** Bundles the adapter and core into one IIFE; fails on Node imports or async code. */
export async function bundle(): Promise<{ code: string; hash: string }> {
  const result = await build({
    entryPoints: [join(extensionDir, "src", "bundle.ts")],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "__clockwork_bundle",
    platform: "neutral",
    mainFields: ["module", "main"],
    // V8 10.2 (Debian's libnode) and PL/v8 3.x's V8 both run ES2021 natively.
    target: "es2021",
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true, // readable stack traces in SQL errors
    legalComments: "none",
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  // No waiting inside the database: PL/v8 has no event loop to resume an await.
  const asyncUse = code.match(/\basync\s+(function|\(|[A-Za-z_$][\w$]*\s*=>)|\bawait\s/);
  if (asyncUse) throw new Error(`the PL/v8 bundle contains async code: "${asyncUse[0]}"`);
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  return { code, hash };
}

/** Who may EXECUTE a function besides its owner, as GRANT statements. */
function grants(identity: string, grant: SqlFunction["grant"]): string[] {
  return [
    `REVOKE ALL ON FUNCTION ${identity} FROM PUBLIC;`,
    ...(grant === "none" ? [] : [`GRANT EXECUTE ON FUNCTION ${identity} TO ${grant === "public" ? "PUBLIC" : grant};`]),
  ];
}

function returnType(fn: SqlFunction): string {
  return fn.returnsSet && !/^TABLE\b/i.test(fn.returns) ? `SETOF ${fn.returns}` : fn.returns;
}

// pg_temp last: otherwise it is searched first, and a caller's temporary table named like
// one of ours would stand in for it inside a SECURITY DEFINER function.
const SEARCH_PATH = `SET search_path = clockwork, pg_catalog, pg_temp`;

/**
 * The PL/v8 function that runs `fn`'s body: under `fn`'s own name, or under its internal
 * name when a PL/pgSQL front (below) stands in front of it.
 */
function stub(fn: SqlFunction, hash: string): string {
  const behind = frontOf(fn);
  const name = behind?.internal ?? fn.name;
  const args = argumentNames(fn.args);
  const security = fn.security === "definer" ? "SECURITY DEFINER" : "SECURITY INVOKER";
  const call = `globalThis.__clockwork.${fn.entry ?? fn.name}(${args.join(", ")})`;
  // The front always passes every argument: its internal function needs no defaults.
  const signature = `clockwork.${name}(${behind ? withoutDefaults(fn.args) : fn.args})`;
  const identity = `clockwork.${name}(${withoutDefaults(fn.args)})`;
  const comment = behind
    ? `Internal: the PL/v8 body of clockwork.${fn.name}(${withoutDefaults(fn.args)}), called by that function, which raises its errors without JavaScript context.`
    : fn.comment;
  return [
    `CREATE OR REPLACE FUNCTION ${signature}`,
    `RETURNS ${returnType(fn)}`,
    `LANGUAGE plv8 ${fn.volatility.toUpperCase()}${fn.strict ? " STRICT" : ""} ${security}`,
    SEARCH_PATH,
    // No JIT: every statement here is a keyed or ordered lookup of a few rows, but a LIMIT
    // or OFFSET taken from a parameter inflates the planner's estimate past jit_above_cost,
    // and compiling then costs 0.5-1.5 s (the history pruner's statements inside a tick
    // did: docs/benchmarks.md, "The supervisor").
    `SET jit = off`,
    ...Object.entries(fn.settings ?? {}).map(([name, value]) => `SET ${name} = ${value}`),
    `AS $fn$`,
    `if (globalThis.__clockwork_hash !== "${hash}") plv8.execute("SELECT clockwork._load_bundle()");`,
    `try { ${fn.returnsSet ? "" : "return "}${call}; }`,
    `catch (e) { throw globalThis.__clockwork_error(e); }`,
    `$fn$;`,
    `COMMENT ON FUNCTION ${identity} IS ${quote(comment)};`,
    ...grants(identity, behind?.grant ?? fn.grant),
  ].join("\n");
}

/** The variables a front declares; no argument or result column may be named like them. */
const FRONT_VARIABLES = ["_sqlstate", "_message", "_detail", "_hint"];

/**
 * The PL/pgSQL front of an API function (sql-function.ts, `frontOf`): the documented name,
 * signature, security, privileges and comment, calling the internal PL/v8 function and
 * raising what escapes it again with the same SQLSTATE, message, detail and hint, so that
 * its CONTEXT is one PL/pgSQL line. RAISE refuses a NULL option and shows an empty one, so
 * each combination of detail and hint has its own RAISE. Query cancels and statement
 * time-outs (class 57) pass unchanged: WHEN OTHERS does not catch 57014, and `RAISE;`
 * re-raises the rest of the class as it came.
 */
function front(fn: SqlFunction): string {
  const { internal } = frontOf(fn)!;
  const names = [...argumentNames(fn.args), ...(/^TABLE\s*\((.*)\)$/is.exec(fn.returns)?.[1] ?? "").split(",").map((c) => c.trim().split(/\s+/)[0]!)];
  const clash = names.find((n) => FRONT_VARIABLES.includes(n));
  if (clash) throw new Error(`clockwork.${fn.name}: an argument or result named "${clash}" clashes with the front's variables`);
  // Positional references: an argument named like a column or keyword (at, role, name)
  // can then never be misread inside the query.
  const call = `clockwork.${internal}(${argumentNames(fn.args).map((_, i) => `$${i + 1}`).join(", ")})`;
  const body = fn.returnsSet ? `RETURN QUERY SELECT * FROM ${call};` : fn.returns.trim().toLowerCase() === "void" ? `PERFORM ${call};` : `RETURN ${call};`;
  const raise = (options: string) => `RAISE EXCEPTION USING ERRCODE = _sqlstate, MESSAGE = _message${options};`;
  const identity = `clockwork.${fn.name}(${withoutDefaults(fn.args)})`;
  return [
    `CREATE OR REPLACE FUNCTION clockwork.${fn.name}(${fn.args})`,
    `RETURNS ${returnType(fn)}`,
    `LANGUAGE plpgsql ${fn.volatility.toUpperCase()}${fn.strict ? " STRICT" : ""} ${fn.security === "definer" ? "SECURITY DEFINER" : "SECURITY INVOKER"}`,
    SEARCH_PATH,
    `AS $fn$`,
    `DECLARE`,
    `    _sqlstate text; _message text; _detail text; _hint text;`,
    `BEGIN`,
    `    ${body}`,
    `EXCEPTION WHEN OTHERS THEN`,
    `    GET STACKED DIAGNOSTICS _sqlstate = RETURNED_SQLSTATE, _message = MESSAGE_TEXT,`,
    `                            _detail = PG_EXCEPTION_DETAIL, _hint = PG_EXCEPTION_HINT;`,
    `    IF left(_sqlstate, 2) = '57' THEN RAISE; END IF;`,
    `    IF _detail = '' AND _hint = '' THEN ${raise("")}`,
    `    ELSIF _detail = '' THEN ${raise(", HINT = _hint")}`,
    `    ELSIF _hint = '' THEN ${raise(", DETAIL = _detail")}`,
    `    ELSE ${raise(", DETAIL = _detail, HINT = _hint")}`,
    `    END IF;`,
    `END`,
    `$fn$;`,
    `COMMENT ON FUNCTION ${identity} IS ${quote(fn.comment)};`,
    ...grants(identity, fn.grant),
  ].join("\n");
}

/** The argument list without DEFAULT clauses, as COMMENT ON / GRANT want it. */
function withoutDefaults(args: string): string {
  return splitArguments(args).map((a) => a.replace(/\s+DEFAULT\s+.*$/is, "").trim()).join(", ");
}

function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function generatedSql(code: string, hash: string): string {
  const tag = `$cw_${hash}$`;
  if (code.includes(tag)) throw new Error("bundle contains its own dollar-quote tag");
  const loader = [
    "-- Generated from extension/src by build/bundle.ts: do not edit.",
    "CREATE OR REPLACE FUNCTION clockwork._load_bundle() RETURNS void",
    "LANGUAGE plv8 VOLATILE SECURITY INVOKER",
    `AS ${tag}`,
    code,
    `globalThis.__clockwork = __clockwork_bundle.entryPoints;`,
    `globalThis.__clockwork_error = __clockwork_bundle.toSqlError;`,
    `globalThis.__clockwork_hash = "${hash}";`,
    `${tag};`,
    `COMMENT ON FUNCTION clockwork._load_bundle() IS 'Loads the Clockwork PL/v8 bundle (hash ${hash}) into this session; called by every entry point when its copy is missing or stale.';`,
    // Harmless to anyone: it only defines the bundle in the caller's own V8 context,
    // which SECURITY INVOKER entry points (run as the caller) need.
    `GRANT EXECUTE ON FUNCTION clockwork._load_bundle() TO PUBLIC;`,
  ].join("\n");
  const entries = new Set<string>();
  for (const fn of sqlFunctions) {
    const entry = fn.entry ?? fn.name;
    if (entries.has(entry)) throw new Error(`two SQL functions share the bundle entry "${entry}": give one an \`entry\``);
    entries.add(entry);
  }
  // Each internal function before its front: a front's body is checked when it is created.
  const functions = sqlFunctions.flatMap((fn) => (frontOf(fn) ? [stub(fn, hash), front(fn)] : [stub(fn, hash)]));
  return [loader, ...functions].join("\n\n");
}

/**
 * Replaces each `@sqlstate:<kind>@` with that kind's SQLSTATE, and `@hint:<kind>@` with
 * its hint, as SQL literals from the one table of error kinds.
 */
export function withSqlStates(sql: string, where: string): string {
  return sql.replaceAll("@extension_version@", quote(extensionVersion)).replace(/@(sqlstate|hint):([a-z_]*)@/g, (_match, field: string, kind: string) => {
    if (!Object.hasOwn(ERROR_KINDS, kind)) throw new Error(`${where}: @${field}:${kind}@ names no error kind in extension/src/core/errors.ts`);
    const k = ERROR_KINDS[kind as ErrorKind];
    return quote(field === "sqlstate" ? k.code : k.hint);
  });
}

/** The error kinds as rows of the view clockwork.error_kinds, generated from the one table. */
export function errorKindsSql(): string {
  const rows = Object.entries(ERROR_KINDS)
    .sort(([, a], [, b]) => a.code.localeCompare(b.code))
    .map(([kind, { code, hint }]) => `    (${quote(code)}, ${quote(kind)}, ${quote(hint)})`);
  return [
    "-- Generated from extension/src/core/errors.ts by build/bundle.ts: do not edit.",
    "CREATE OR REPLACE VIEW clockwork.error_kinds (sqlstate, kind, hint) AS",
    "  SELECT * FROM (VALUES",
    rows.join(",\n"),
    "  ) AS k (sqlstate, kind, hint);",
    "COMMENT ON VIEW clockwork.error_kinds IS 'Every error Clockwork raises: its SQLSTATE (class KW), its kind and the hint it carries (see docs/sql-api.md).';",
    "COMMENT ON COLUMN clockwork.error_kinds.sqlstate IS 'The SQLSTATE, in class KW (left to implementations by the SQL standard).';",
    "COMMENT ON COLUMN clockwork.error_kinds.kind IS 'The name of the kind of error, as in docs/sql-api.md.';",
    "COMMENT ON COLUMN clockwork.error_kinds.hint IS 'The HINT an error of this kind carries when raised by the scheduling code.';",
    "GRANT SELECT ON clockwork.error_kinds TO PUBLIC;",
  ].join("\n");
}

/** Schema files: installed once, changed by the hand-written upgrade files. */
const SCHEMA_FILE = /^\d\d_tables[a-z0-9_]*\.sql$/;

/**
 * Splits SQL into statements at top-level semicolons (outside quotes, dollar quotes and
 * comments); each keeps its leading comments.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(c, j);
        if (k < 0) { j = sql.length; break; }
        if (sql[k + 1] === c) { j = k + 2; continue; }
        j = k + 1;
        break;
      }
      i = j;
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      } else i++;
    } else if (c === ";") {
      statements.push(sql.slice(start, i + 1));
      start = i + 1;
      i++;
    } else i++;
  }
  if (sql.slice(start).trim() !== "") statements.push(sql.slice(start));
  return statements.map((s) => s.replace(/^\s*\n/, "")).filter((s) => s.trim() !== "");
}

/** A statement's text without its leading comments and blank space. */
function head(statement: string): string {
  return statement.replace(/^(\s+|--[^\n]*\n)*/, "");
}

/**
 * A code file's statements, rewritten so that running them again replaces what exists;
 * anything that is schema (a table, an index…) is refused: it belongs in a schema file
 * and in the upgrade file.
 */
export function replayable(sql: string, file: string): string {
  return splitStatements(sql).map((statement) => {
    const text = head(statement);
    const comments = statement.slice(0, statement.length - text.length);
    let m: RegExpExecArray | null;
    if ((m = /^CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|VIEW|TRIGGER)\b/i.exec(text))) {
      return `${comments}CREATE OR REPLACE ${m[1]!.toUpperCase()}${text.slice(m[0].length)}`;
    }
    if ((m = /^CREATE\s+POLICY\s+(\S+)\s+ON\s+(\S+)/i.exec(text))) {
      return `${comments}DROP POLICY IF EXISTS ${m[1]} ON ${m[2]};\n${text}`;
    }
    if (/^(COMMENT\s+ON|GRANT|REVOKE|DO\b|SELECT\s+pg_catalog\.pg_extension_config_dump\s*\(|ALTER\s+TABLE\s+\S+\s+(ENABLE|FORCE)\s+ROW\s+LEVEL\s+SECURITY)/i.test(text)) {
      return statement;
    }
    throw new Error(`extension/sql/${file}: "${text.split("\n")[0]}" is schema, not code that can be run again: ` +
      "put it in a schema file (NN_tables*.sql) and its change in extension/sql/upgrade/<from>--<to>.sql (UPDATING.md)");
  }).join("\n");
}

interface HandWritten {
  readonly file: string;
  readonly schema: boolean;
  /** The text as installed (code files in their replayable form). */
  readonly sql: string;
}

function handWritten(): HandWritten[] {
  const dir = join(extensionDir, "sql");
  const files = readdirSync(dir).filter((f) => /^\d\d_.*\.sql$/.test(f)).sort();
  return files.map((file) => {
    const text = withSqlStates(readFileSync(join(dir, file), "utf8").trim(), file);
    const schema = SCHEMA_FILE.test(file);
    return { file, schema, sql: `-- ${file}\n${schema ? text : replayable(text, file)}\n` };
  });
}

/**
 * The upgrade scripts: one per extension/sql/upgrade/<from>--<to>.sql. The step that ends
 * at this version also replays every code file and the generated part; earlier steps are
 * their hand-written schema changes alone (the chain ends here, where all code is replaced).
 */
function upgradeScripts(generated: string): Array<{ file: string; sql: string }> {
  const dir = join(extensionDir, "sql", "upgrade");
  if (!existsSync(dir)) return [];
  const steps = readdirSync(dir).map((file) => {
    const m = /^(\d+\.\d+)--(\d+\.\d+)\.sql$/.exec(file);
    if (!m) throw new Error(`extension/sql/upgrade/${file}: upgrade files are named <from>--<to>.sql, e.g. 1.0--1.1.sql`);
    return { file, from: m[1]!, to: m[2]! };
  });
  if (steps.length > 0 && !steps.some((s) => s.to === extensionVersion)) {
    throw new Error(`extension/sql/upgrade/ has no step to ${extensionVersion} (package.json's version): add <previous>--${extensionVersion}.sql`);
  }
  const code = handWritten().filter((h) => !h.schema).map((h) => h.sql);
  return steps.map(({ file, from, to }) => {
    const own = withSqlStates(readFileSync(join(dir, file), "utf8").trim(), `upgrade/${file}`);
    const parts = [
      `-- Clockwork ${from} → ${to} upgrade script. Generated by build/bundle.ts from extension/sql/upgrade/${file}` +
        (to === extensionVersion ? ", the code files of extension/sql and extension/src." : "."),
      `\\echo Use "ALTER EXTENSION clockwork UPDATE" to load this file. \\quit`,
      `-- upgrade/${file}\n${own}\n`,
      ...(to === extensionVersion ? [...code, errorKindsSql(), generated] : []),
    ];
    return { file: `clockwork--${from}--${to}.sql`, sql: parts.join("\n\n") };
  });
}

async function main(): Promise<void> {
  const { code, hash } = await bundle();

  const script = [
    `-- Clockwork ${extensionVersion} install script. Generated by build/bundle.ts from extension/sql and extension/src.`,
    `\\echo Use "CREATE EXTENSION clockwork" to load this file. \\quit`,
    ...handWritten().map((h) => h.sql),
    errorKindsSql(),
    generatedSql(code, hash),
  ].join("\n\n");
  const upgrades = upgradeScripts(generatedSql(code, hash));
  const control = [
    "# Clockwork: a job scheduler inside PostgreSQL. Generated by build/bundle.ts.",
    "comment = 'Clockwork: jobs defined in SQL, fired exactly once, with queryable history'",
    `default_version = '${extensionVersion}'`,
    "relocatable = false",
    "schema = clockwork",
    "superuser = true",
    "",
  ].join("\n");
  // A fresh directory: a script of another version left behind would be installed too.
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `clockwork--${extensionVersion}.sql`), script);
  for (const upgrade of upgrades) writeFileSync(join(outDir, upgrade.file), upgrade.sql);
  writeFileSync(join(outDir, "clockwork.control"), control);
  console.log(`clockwork ${extensionVersion}: bundle ${(code.length / 1024).toFixed(0)} KB, hash ${hash}, ${sqlFunctions.length} functions, ` +
    `upgrades ${upgrades.map((u) => u.file.replace(/^clockwork--|\.sql$/g, "")).join(", ") || "none"} → dist/extension/`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
