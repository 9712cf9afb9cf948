// Builds the web console's front end (supervisor/src/console/web) into dist/console:
// app.js (Preact and the views, one ES module), app.css, index.html and the icon. The
// console serves these files as they are; nothing is fetched from the internet at run
// time, and nothing here is committed.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const webDir = join(root, "supervisor", "src", "console", "web");
const outDir = join(root, "dist", "console");

export async function buildConsole(): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(webDir, "main.tsx"), "app-style": join(webDir, "styles.css") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    // Browsers of the last few years; the console is for operators, not the public.
    target: ["chrome109", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    entryNames: "[name]",
  });
  // esbuild names the stylesheet after its entry; the page links /app.css.
  copyFileSync(join(outDir, "app-style.css"), join(outDir, "app.css"));
  rmSync(join(outDir, "app-style.css"));
  rmSync(join(outDir, "app-style.css.map"), { force: true });
  for (const file of ["index.html", "favicon.svg"]) copyFileSync(join(webDir, file), join(outDir, file));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole();
  console.log(`console front end built into ${outDir}`);
}
