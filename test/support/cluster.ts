// A throwaway PostgreSQL cluster for tests, demos and benchmarks: initdb into a temp
// directory, a free port on 127.0.0.1 plus a private unix socket, trust auth, and
// durability off (it is thrown away). As root, the server runs as the `postgres` OS user
// because PostgreSQL refuses to run as root.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Cluster {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  url(database: string): string;
  /** Runs pg_ctl with the given arguments against this cluster (e.g. restart). */
  pgCtl(...args: string[]): void;
  stop(): void;
}

export interface ClusterOptions {
  /** Extra postgresql.conf lines, e.g. `shared_preload_libraries = 'pg_cron'`. */
  settings?: Record<string, string | number>;
  /**
   * pg_hba.conf lines, replacing the default (trust for everyone), e.g. to test how a
   * supervisor logs in as job owners: `local all all peer map=clockwork`.
   */
  hba?: string[];
  /** pg_ident.conf lines (`map  os-user  role`). */
  ident?: string[];
}

const runningAsRoot = process.getuid?.() === 0;

/**
 * A directory of the PostgreSQL that tests run against: the one `$PG_CONFIG` names (as
 * `make` passes it), else the `pg_config` on the PATH. A private copy of the installation
 * (build/private-pg.sh) lets several checkouts install and test side by side.
 */
export function pgConfig(flag: "--bindir" | "--pkglibdir" | "--sharedir"): string {
  return execFileSync(process.env.PG_CONFIG || "pg_config", [flag], { encoding: "utf8" }).trim();
}

function bindir(): string {
  return pgConfig("--bindir");
}

/** Runs a PostgreSQL binary, as the postgres OS user when we are root. */
function runPg(binary: string, args: string[]): void {
  const [cmd, argv] = runningAsRoot
    ? ["runuser", ["-u", "postgres", "--", binary, ...args]]
    : [binary, args];
  const result = spawnSync(cmd, argv, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${binary} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Writes a file of the server's (as the postgres OS user when we are root). */
function writeAsServer(path: string, text: string): void {
  writeFileSync(path, text);
  if (runningAsRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(path, uid, gid);
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = bindir();
  const root = mkdtempSync(join(tmpdir(), "clockwork-pg-"));
  const dataDir = join(root, "data");
  const socketDir = root;
  const logFile = join(root, "postgres.log");
  if (runningAsRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  runPg(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]);

  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    port,
    unix_socket_directories: `'${socketDir}'`,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: 200,
    shared_buffers: "'128MB'",
    timezone: "'UTC'",
    log_min_messages: "warning",
    ...options.settings,
  };
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join("\n");
  const confPath = join(dataDir, "postgresql.conf");
  if (runningAsRoot) {
    // runPg made the file as postgres; appending as root keeps its owner.
    appendFileSync(confPath, `\n# clockwork test cluster\n${conf}\n`);
  } else {
    writeFileSync(confPath, `${readFileSync(confPath, "utf8")}\n# clockwork test cluster\n${conf}\n`);
  }

  if (options.hba !== undefined) writeAsServer(join(dataDir, "pg_hba.conf"), `${options.hba.join("\n")}\n`);
  if (options.ident !== undefined) writeAsServer(join(dataDir, "pg_ident.conf"), `${options.ident.join("\n")}\n`);

  const pgCtl = (...args: string[]) => runPg(join(bin, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-w", ...args]);
  pgCtl("start");

  let stopped = false;
  return {
    host: "127.0.0.1",
    port,
    user: "postgres",
    socketDir,
    dataDir,
    logFile,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    pgCtl,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl("stop", "-m", "immediate");
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A streaming standby of `primary`, made as users make one: pg_basebackup -R, started on a
 * port of its own. Stopping it stops the server and removes its files.
 */
export async function startStandby(primary: Cluster): Promise<Cluster> {
  const bin = bindir();
  const root = mkdtempSync(join(tmpdir(), "clockwork-standby-"));
  if (runningAsRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  const dataDir = join(root, "data");
  const logFile = join(root, "postgres.log");
  const port = await freePort();
  runPg(join(bin, "pg_basebackup"), ["-D", dataDir, "-R", "-X", "stream", "-h", primary.host, "-p", String(primary.port), "-U", "postgres"]);
  // The copied configuration names the primary's port and socket; later lines win.
  appendFileSync(join(dataDir, "postgresql.conf"), `\nport = ${port}\nunix_socket_directories = '${root}'\n`);
  const pgCtl = (...args: string[]) => runPg(join(bin, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-w", ...args]);
  pgCtl("start");
  let stopped = false;
  return {
    host: "127.0.0.1",
    port,
    user: "postgres",
    socketDir: root,
    dataDir,
    logFile,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    pgCtl,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl("stop", "-m", "immediate");
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
