// The installed module must load for the postgres OS user wherever the repo lives:
// the engine, libnode and libcares sit in $pkglibdir/clockwork_v8/ and the engine finds
// libnode and libcares through an old-style RPATH. The module PostgreSQL loads does not
// link libnode at all (it loads the engine on first use).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pgConfig } from "../support/cluster.ts";

const pkglibdir = pgConfig("--pkglibdir");
const privateDir = join(pkglibdir, "clockwork_v8");
const loader = join(pkglibdir, "clockwork_v8.so");
const engine = join(privateDir, "clockwork_v8_engine.so");
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

function lddAsPostgres(file: string): string {
  return process.getuid?.() === 0
    ? execFileSync("runuser", ["-u", "postgres", "--", "ldd", file], { encoding: "utf8" })
    : execFileSync("ldd", [file], { encoding: "utf8" });
}

test("the engine has an RPATH (not RUNPATH) of $ORIGIN, its own directory, so installed files can move", () => {
  for (const f of ["clockwork_v8_engine.so", "libnode.so.108", "libcares.so.2"]) assert.ok(existsSync(join(privateDir, f)), f);
  const dyn = execFileSync("readelf", ["-d", engine], { encoding: "utf8" });
  assert.match(dyn, /\(RPATH\).*\[\$ORIGIN\]/);
  assert.doesNotMatch(dyn, /RUNPATH/);
});

test("as the postgres user, the engine's libnode and libcares resolve to the installed copies", () => {
  const out = lddAsPostgres(engine);
  assert.doesNotMatch(out, /not found/);
  assert.match(out, new RegExp(`libnode\\.so\\.108 => ${escape(privateDir)}/libnode\\.so\\.108`));
  assert.match(out, new RegExp(`libcares\\.so\\.2 => ${escape(privateDir)}/libcares\\.so\\.2`));
});

test("the module PostgreSQL loads does not depend on libnode", () => {
  const out = lddAsPostgres(loader);
  assert.doesNotMatch(out, /not found/);
  assert.doesNotMatch(out, /libnode/);
});
