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
//     their SQLSTATE on the real PL/v8 as on clockwork_v8, and their CONTEXT line is the
//     stub's short rethrow line, not a line of the minified bundle.
// The hand-written SQL names error kinds, never SQLSTATEs: `@sqlstate:not_found@` becomes
// that kind's SQLSTATE and `@hint:not_found@` its hint, as SQL literals taken from the one
// table (extension/src/core/errors.ts), which the view clockwork.error_kinds also shows.
// Nothing generated is committed or edited by hand.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ERROR_KINDS, type ErrorKind } from "../extension/src/core/errors.ts";
import { sqlFunctions } from "../extension/src/functions/index.ts";
import { argumentNames, splitArguments, type SqlFunction } from "../extension/src/db/sql-function.ts";

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

function stub(fn: SqlFunction, hash: string): string {
  const args = argumentNames(fn.args);
  const security = fn.security === "definer" ? "SECURITY DEFINER" : "SECURITY INVOKER";
  const returns = fn.returnsSet && !/^TABLE\b/i.test(fn.returns) ? `SETOF ${fn.returns}` : fn.returns;
  const call = `globalThis.__clockwork.${fn.entry ?? fn.name}(${args.join(", ")})`;
  const signature = `clockwork.${fn.name}(${fn.args})`;
  const grantee = fn.grant === "public" ? "PUBLIC" : fn.grant;
  const identity = `clockwork.${fn.name}(${withoutDefaults(fn.args)})`;
  return [
    `CREATE FUNCTION ${signature}`,
    `RETURNS ${returns}`,
    `LANGUAGE plv8 ${fn.volatility.toUpperCase()}${fn.strict ? " STRICT" : ""} ${security}`,
    // pg_temp last: otherwise it is searched first, and a caller's temporary table named
    // like one of ours would stand in for it inside a SECURITY DEFINER function.
    `SET search_path = clockwork, pg_catalog, pg_temp`,
    ...Object.entries(fn.settings ?? {}).map(([name, value]) => `SET ${name} = ${value}`),
    `AS $fn$`,
    `if (globalThis.__clockwork_hash !== "${hash}") plv8.execute("SELECT clockwork._load_bundle()");`,
    `try { ${fn.returnsSet ? "" : "return "}${call}; }`,
    `catch (e) { throw globalThis.__clockwork_error(e); }`,
    `$fn$;`,
    `COMMENT ON FUNCTION ${identity} IS ${quote(fn.comment)};`,
    `REVOKE ALL ON FUNCTION ${identity} FROM PUBLIC;`,
    `GRANT EXECUTE ON FUNCTION ${identity} TO ${grantee};`,
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
    "CREATE FUNCTION clockwork._load_bundle() RETURNS void",
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
  return [loader, ...sqlFunctions.map((fn) => stub(fn, hash))].join("\n\n");
}

/**
 * Replaces each `@sqlstate:<kind>@` with that kind's SQLSTATE, and `@hint:<kind>@` with
 * its hint, as SQL literals from the one table of error kinds.
 */
export function withSqlStates(sql: string, where: string): string {
  return sql.replace(/@(sqlstate|hint):([a-z_]*)@/g, (_match, field: string, kind: string) => {
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
    "CREATE VIEW clockwork.error_kinds (sqlstate, kind, hint) AS",
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

function handWrittenSql(): string[] {
  const dir = join(extensionDir, "sql");
  const files = readdirSync(dir).filter((f) => /^\d\d_.*\.sql$/.test(f)).sort();
  return files.map((f) => `-- ${f}\n${withSqlStates(readFileSync(join(dir, f), "utf8").trim(), f)}\n`);
}

async function main(): Promise<void> {
  const { code, hash } = await bundle();

  const script = [
    `-- Clockwork ${extensionVersion} install script. Generated by build/bundle.ts from extension/sql and extension/src.`,
    `\\echo Use "CREATE EXTENSION clockwork" to load this file. \\quit`,
    ...handWrittenSql(),
    errorKindsSql(),
    generatedSql(code, hash),
  ].join("\n\n");
  const control = [
    "# Clockwork: a job scheduler inside PostgreSQL. Generated by build/bundle.ts.",
    "comment = 'Clockwork: jobs defined in SQL, fired exactly once, with queryable history'",
    `default_version = '${extensionVersion}'`,
    "relocatable = false",
    "schema = clockwork",
    "superuser = true",
    "",
  ].join("\n");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `clockwork--${extensionVersion}.sql`), script);
  writeFileSync(join(outDir, "clockwork.control"), control);
  console.log(`clockwork ${extensionVersion}: bundle ${(code.length / 1024).toFixed(0)} KB, hash ${hash}, ${sqlFunctions.length} functions → dist/extension/`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
