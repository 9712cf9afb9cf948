// A clean Debian 12 root for packaging tests, the nearest thing to `FROM debian:bookworm`
// that this machine can run: debootstrap (minbase) once into .tmp/debian12-root (kept
// between runs of the same checkout), then, per test, an overlay on top of it so every
// test starts from the untouched root. The machine's own apt sources are used, so the
// root installs from the same Debian mirror the machine does.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/support.ts";

const CACHE = join(ROOT, ".tmp", "debian12-root");

export interface DebianRoot {
  readonly path: string;
  /** Runs argv inside the root (as root); returns stdout; throws with stderr on failure. */
  run(argv: string[], env?: Record<string, string>): string;
  /** Makes this machine's `node` the root's /usr/local/bin/node (Debian 12's own is 18). */
  bindNode(): void;
  dispose(): void;
}

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/** Why a Debian root cannot be made here, or null. */
export function whyNoDebianRoot(): string | null {
  if (process.getuid?.() !== 0) return "needs root (chroot and mounts)";
  for (const command of ["debootstrap", "chroot", "dpkg-deb", "mount"]) {
    if (!has(command)) return `${command} is not installed (build/setup-system.sh installs it)`;
  }
  return null;
}

/** The mirror the machine's apt uses for Debian itself (not security updates). */
function debianMirror(): string {
  const deb822 = "/etc/apt/sources.list.d/debian.sources";
  if (existsSync(deb822)) {
    for (const stanza of readFileSync(deb822, "utf8").split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b(?!-)/m.test(stanza)) return uri;
    }
  }
  const line = existsSync("/etc/apt/sources.list")
    ? readFileSync("/etc/apt/sources.list", "utf8").split("\n").find((l) => /^deb\s+\S+\s+bookworm\s/.test(l))
    : undefined;
  if (line) return line.split(/\s+/)[1]!;
  throw new Error("no Debian bookworm mirror in the machine's apt sources");
}

function ensureCache(): void {
  if (existsSync(join(CACHE, ".complete"))) return;
  rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  execFileSync("debootstrap", ["--variant=minbase", "bookworm", CACHE, debianMirror()], { stdio: ["ignore", "pipe", "pipe"] });
  writeFileSync(join(CACHE, ".complete"), "");
}

export function debianRoot(base: string): DebianRoot {
  ensureCache();
  const path = join(base, "merged");
  const upper = join(base, "upper");
  const workdir = join(base, "work");
  for (const d of [path, upper, workdir]) mkdirSync(d, { recursive: true });
  const mounts: string[] = [];
  const mount = (args: string[], target: string) => {
    execFileSync("mount", [...args, target]);
    mounts.push(target);
  };
  mount(["-t", "overlay", "overlay", "-o", `lowerdir=${CACHE},upperdir=${upper},workdir=${workdir}`], path);
  mount(["-t", "proc", "proc"], join(path, "proc"));
  mount(["--bind", "/dev"], join(path, "dev"));
  mount(["-t", "tmpfs", "tmpfs"], join(path, "dev/shm"));
  mount(["-t", "tmpfs", "tmpfs"], join(path, "run"));

  // Network names, the machine's apt sources, and no service started by a package.
  copyFileSync("/etc/resolv.conf", join(path, "etc/resolv.conf"));
  if (existsSync("/etc/apt/sources.list.d/debian.sources")) {
    copyFileSync("/etc/apt/sources.list.d/debian.sources", join(path, "etc/apt/sources.list.d/debian.sources"));
    rmSync(join(path, "etc/apt/sources.list"), { force: true });
  }
  writeFileSync(join(path, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });

  const run = (argv: string[], env: Record<string, string> = {}): string => {
    const result = spawnSync("chroot", [path, ...argv], {
      encoding: "utf8",
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root", ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.status !== 0) {
      throw new Error(`in the Debian root: ${argv.join(" ")} failed (${result.status ?? result.signal}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
    }
    return result.stdout;
  };
  run(["apt-get", "update", "-q"]);

  return {
    path,
    run,
    bindNode() {
      const target = join(path, "usr/local/bin/node");
      writeFileSync(target, "");
      mount(["--bind", process.execPath], target);
    },
    dispose() {
      // Stop whatever the test started in the root (the cluster), then unmount.
      spawnSync("chroot", [path, "sh", "-c", "command -v pg_ctlcluster >/dev/null && pg_ctlcluster 15 main stop -m immediate"], { stdio: "ignore" });
      for (const target of mounts.reverse()) spawnSync("umount", ["-l", target], { stdio: "ignore" });
      // Never delete through a mount that is still there (the root's /dev is the machine's).
      const still = readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.split(" ")[1]?.startsWith(path));
      if (still.length > 0) throw new Error(`mounts left under ${path}, not deleting it: ${still.join("; ")}`);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
