// Configuration: validated once at start; a bad value is one clear line and exit code 2.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, parseBytes, parseDurationMs } from "../../supervisor/src/config.ts";

const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));

function runBin(args: string[], env: Record<string, string> = {}) {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CLOCKWORK_") && k !== "DATABASE_URL"));
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...cleanEnv, ...env }, timeout: 30_000 });
}

describe("the clockwork binary rejects bad configuration with exit code 2", () => {
  const cases: Array<{ name: string; args: string[]; env?: Record<string, string>; message: RegExp }> = [
    { name: "a non-numeric concurrency flag", args: ["--concurrency", "lots"], message: /concurrency must be an integer from 1 to 1000 \(got "lots"\)/ },
    { name: "a zero concurrency from the environment", args: [], env: { CLOCKWORK_CONCURRENCY: "0" }, message: /concurrency must be an integer/ },
    { name: "an unknown option", args: ["--colour", "red"], message: /unknown option "--colour"/ },
    { name: "a flag without value", args: ["--name"], message: /option --name needs a value/ },
    { name: "an invalid worker name", args: ["--name=has space"], message: /worker name must be 1 to 128/ },
    { name: "a bad log level", args: ["--log-level", "loud"], message: /log level must be one of/ },
    { name: "a bad duration", args: ["--shutdown-grace", "soon"], message: /shutdown grace must be a duration/ },
    { name: "a port out of range", args: ["--http-port", "70000"], message: /http port must be an integer from 0 to 65535/ },
    { name: "a tiny output limit", args: ["--output-limit", "10"], message: /output limit must be at least 1024 bytes/ },
    {
      name: "a database URL that is not one (without echoing it)",
      args: [],
      env: { DATABASE_URL: "mysql://user:s3cret@host/db" },
      message: /database URL must start with postgres:\/\//,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = runBin(["supervisor", ...c.args], c.env);
      assert.equal(result.status, 2, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line expected, got: ${result.stderr}`);
      assert.match(lines[0]!, /^clockwork supervisor: /);
      assert.match(lines[0]!, c.message);
      assert.ok(!result.stderr.includes("s3cret"), "never prints a password");
      assert.equal(result.stdout, "", "nothing started");
    });
  }

  test("an unknown subcommand", () => {
    const result = runBin(["superviser"]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^clockwork: unknown command "superviser"/);
  });

  test("--help prints the options and exits 0", () => {
    const result = runBin(["supervisor", "--help"]);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /--concurrency N/);
  });
});

describe("loadConfig", () => {
  test("defaults: hostname-pid worker name, 4 steps at once, 1 MiB output, 30 s grace", () => {
    const config = loadConfig([], { PATH: "/bin" });
    assert.match(config.workerName, new RegExp(`-${process.pid}$`));
    assert.equal(config.concurrency, 4);
    assert.equal(config.outputLimitBytes, 1024 * 1024);
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.equal(config.databaseUrl, undefined, "node-pg falls back to PG* variables and .pgpass");
    assert.ok(Object.isFrozen(config));
  });

  test("flags win over the environment", () => {
    const config = loadConfig(["--concurrency=9", "--labels", "gpu, eu"], { CLOCKWORK_CONCURRENCY: "2", CLOCKWORK_LABELS: "x" });
    assert.equal(config.concurrency, 9);
    assert.deepEqual(config.labels, ["gpu", "eu"]);
  });

  test("steps do not inherit the supervisor's database identity or settings: no PG* variable, no DATABASE_URL", () => {
    const config = loadConfig([], {
      PATH: "/bin",
      DATABASE_URL: "postgres://u:pw@h/db",
      PGPASSWORD: "pw",
      CLOCKWORK_LOG_LEVEL: "debug",
      PGHOST: "h",
      PGUSER: "clockwork",
      PGSERVICE: "prod",
      PGPASSFILE: "/etc/clockwork/pgpass",
      PGSSLKEY: "/etc/clockwork/key",
    });
    assert.equal(config.databaseUrl, "postgres://u:pw@h/db");
    assert.equal(config.stepBaseEnv.PATH, "/bin");
    for (const secret of ["DATABASE_URL", "PGPASSWORD", "CLOCKWORK_LOG_LEVEL", "PGHOST", "PGUSER", "PGSERVICE", "PGPASSFILE", "PGSSLKEY"]) {
      assert.equal(config.stepBaseEnv[secret], undefined, `${secret} leaked to steps`);
    }
  });

  test("owner connections go to the supervisor's server and database, never with its user or password", () => {
    const fromUrl = loadConfig([], { DATABASE_URL: "postgres://sup:pw@db.internal:5433/app?sslmode=require" });
    assert.deepEqual({ ...fromUrl.ownerBase }, { host: "db.internal", port: "5433", dbname: "app", sslmode: "require" });
    const fromEnv = loadConfig([], { PGHOST: "/var/run/postgresql", PGDATABASE: "app", PGUSER: "sup", PGPASSWORD: "pw" });
    assert.deepEqual({ ...fromEnv.ownerBase }, { host: "/var/run/postgresql", dbname: "app", port: "5432" });
    const overlaid = loadConfig(["--owner-conninfo", "host=/run/postgresql sslmode=disable"], { DATABASE_URL: "postgres://sup@db:5432/app" });
    assert.deepEqual({ ...overlaid.ownerBase }, { host: "/run/postgresql", port: "5432", dbname: "app", sslmode: "disable" });
    assert.throws(() => loadConfig(["--owner-conninfo", "user=postgres"], {}), /owner conninfo may set .*not "user"/);
    assert.throws(() => loadConfig(["--owner-conninfo", "password=x"], {}), /not "password"/);
  });

  test("owner credentials are found where libpq looks for them", () => {
    const config = loadConfig([], { HOME: "/home/cw", PGSYSCONFDIR: "/etc/pg" });
    assert.deepEqual(config.credentialFiles, {
      passfile: "/home/cw/.pgpass", serviceFiles: ["/home/cw/.pg_service.conf", "/etc/pg/pg_service.conf"], certDir: "/home/cw/.postgresql",
    });
    const explicit = loadConfig([], { HOME: "/home/cw", PGPASSFILE: "/etc/cw/pgpass", PGSERVICEFILE: "/etc/cw/services" });
    assert.equal(explicit.credentialFiles.passfile, "/etc/cw/pgpass");
    assert.equal(explicit.credentialFiles.serviceFiles[0], "/etc/cw/services");
  });

  test("shell steps can run as another OS user, which must exist", () => {
    assert.equal(loadConfig([], {}).stepUser, null);
    assert.throws(() => loadConfig(["--step-user", "no-such-user-here"], {}), /step user "no-such-user-here" does not exist/);
    if (process.getuid?.() === 0) {
      const nobody = loadConfig(["--step-user", "nobody"], {}).stepUser!;
      assert.equal(nobody.name, "nobody");
      assert.ok(nobody.uid > 0);
    }
  });

  test("http port: off disables the server, 0 picks a free port", () => {
    assert.equal(loadConfig(["--http-port", "off"], {}).httpPort, null);
    assert.equal(loadConfig(["--http-port", "0"], {}).httpPort, 0);
  });

  test("durations and sizes", () => {
    assert.equal(parseDurationMs("500ms", "x"), 500);
    assert.equal(parseDurationMs("1.5s", "x"), 1500);
    assert.equal(parseDurationMs("2m", "x"), 120_000);
    assert.equal(parseDurationMs("250", "x"), 250);
    assert.throws(() => parseDurationMs("-1s", "x"), ConfigError);
    assert.equal(parseBytes("512KiB", "x"), 512 * 1024);
    assert.equal(parseBytes("2MiB", "x"), 2 * 1024 * 1024);
    assert.throws(() => parseBytes("lots", "x"), ConfigError);
  });
});
