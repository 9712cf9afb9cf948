// Compiles the supervisor and the CLI (supervisor/src/cli/index.ts and everything it
// reaches, commands loaded with `import()` included) to JavaScript in dist/supervisor/,
// with source maps, so that what users run needs Node and the production dependencies
// only: no tsx, no TypeScript.
//
// One ESM entry point with code splitting: each command's `import("./x.ts")` becomes its
// own chunk, so `clockwork --help` stays cheap and a command added to the table in
// supervisor/src/cli/index.ts is compiled without being listed here. npm packages stay
// imports (resolved from node_modules at run time); the build fails when the compiled
// code imports a package that is not in package.json "dependencies" (a devDependency
// would be missing from `npm install --omit=dev`).
import { build, type Metafile } from "esbuild";
import { builtinModules } from "node:module";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const SUPERVISOR_OUT = join(root, "dist", "supervisor");

/** The npm package an import names (`pg`, `@scope/name`), or null for a relative path or builtin. */
function packageOf(specifier: string): string | null {
  if (/^(\.|\/|node:|<)/.test(specifier)) return null; // relative, absolute, builtin, esbuild's <runtime>
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
  return builtinModules.includes(name) ? null : name;
}

/** Packages imported by the compiled output, each with the first source file importing it. */
function importedPackages(metafile: Metafile): Map<string, string> {
  const found = new Map<string, string>();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imp of input.imports) {
      if (!imp.external) continue;
      const name = packageOf(imp.path);
      if (name !== null && !found.has(name)) found.set(name, file);
    }
  }
  return found;
}

export async function compileSupervisor(options: { quiet?: boolean } = {}): Promise<string[]> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; dependencies?: Record<string, string> };
  rmSync(SUPERVISOR_OUT, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { index: "supervisor/src/cli/index.ts" },
    outdir: SUPERVISOR_OUT,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    sourcesContent: true,
    // No keepNames: it wraps every nested function in a __name() call each time its
    // enclosing function runs (several per SQL step, a measurable part of the supervisor's
    // CPU under a burst), and nothing here reads a function's or class's name.
    // supervisor/src/version.ts: the version the supervisor announces and checks.
    define: { __CLOCKWORK_VERSION__: JSON.stringify(pkg.version) },
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
    logLevel: "silent",
  });
  const packages = importedPackages(result.metafile);
  const notDependencies = [...packages].filter(([name]) => !Object.hasOwn(pkg.dependencies ?? {}, name));
  if (notDependencies.length > 0) {
    const list = notDependencies.map(([name, file]) => `${name} (imported by ${file})`).join(", ");
    throw new Error(`the compiled supervisor imports packages that are not in package.json "dependencies": ${list}; a production install (npm install --omit=dev) would lack them`);
  }
  const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"));
  if (!options.quiet) {
    console.log(`supervisor: ${outputs.length} files → dist/supervisor/ (packages: ${[...packages.keys()].sort().join(", ")})`);
  }
  return outputs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await compileSupervisor();
}
