// The installed module must load for the postgres OS user wherever the repo lives:
// libnode and libcares sit next to it and are found through an old-style RPATH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const pkglibdir = execFileSync("pg_config", ["--pkglibdir"], { encoding: "utf8" }).trim();
const module = join(pkglibdir, "clockwork_v8.so");

test("the module has an RPATH (not RUNPATH) to its private library directory", () => {
  const dyn = execFileSync("readelf", ["-d", module], { encoding: "utf8" });
  assert.match(dyn, new RegExp(`\\(RPATH\\).*\\[${join(pkglibdir, "clockwork_v8").replace(/\//g, "\\/")}\\]`));
  assert.doesNotMatch(dyn, /RUNPATH/);
  assert.ok(existsSync(join(pkglibdir, "clockwork_v8", "libnode.so.108")));
  assert.ok(existsSync(join(pkglibdir, "clockwork_v8", "libcares.so.2")));
});

test("as the postgres user, libnode and libcares resolve to the installed copies", () => {
  const asRoot = process.getuid?.() === 0;
  const out = asRoot
    ? execFileSync("runuser", ["-u", "postgres", "--", "ldd", module], { encoding: "utf8" })
    : execFileSync("ldd", [module], { encoding: "utf8" });
  assert.doesNotMatch(out, /not found/);
  assert.match(out, new RegExp(`libnode\\.so\\.108 => ${pkglibdir}/clockwork_v8/libnode\\.so\\.108`));
  assert.match(out, new RegExp(`libcares\\.so\\.2 => ${pkglibdir}/clockwork_v8/libcares\\.so\\.2`));
});
