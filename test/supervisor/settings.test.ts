// Every setting in the one table (supervisor/src/config.ts SETTINGS), by its environment
// variable: a bad value is one clear line on stderr and exit code 2, from the real binary.
// Then pgAgent's names, the configuration file, the password rules, multi-host URLs, the
// enable switch and the log file reopened on SIGHUP.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, SETTINGS, splitUrlHosts } from "../../supervisor/src/config.ts";

const bin = fileURLToPath(new URL("../../supervisor/bin/clockwork.js", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "clockwork-settings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "s3cret-never-shown";
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(CLOCKWORK_|PGAGENT_|DATABASE_URL$|PG)/.test(k)),
  ) as Record<string, string>;
}
function runBin(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, "supervisor", ...args], {
    encoding: "utf8",
    env: { ...cleanEnv(), CLOCKWORK_DB_PASSWORD: SECRET, ...env },
    timeout: 30_000,
  });
}

const emptyFile = join(dir, "empty-password");
writeFileSync(emptyFile, "");

/** A bad value for every setting, by its environment variable, and the message it must get. */
const BAD: Record<string, { value: string; message: RegExp }> = {
  CLOCKWORK_CONFIG: { value: join(dir, "missing.conf"), message: /configuration file .*missing\.conf cannot be read: ENOENT/ },
  CLOCKWORK_ENABLED: { value: "maybe", message: /enabled \(CLOCKWORK_ENABLED\) must be true or false/ },
  CLOCKWORK_DATABASE_URL: { value: `mysql://u:${SECRET}@h/db`, message: /database URL must start with postgres:\/\/ .*not shown/ },
  CLOCKWORK_DB_HOST: { value: "db one,db two", message: /database host must be a host name/ },
  CLOCKWORK_DB_PORT: { value: "99999", message: /database port must be an integer from 1 to 65535 \(got "99999"\)/ },
  CLOCKWORK_DB_NAME: { value: "d".repeat(64), message: /database name must be at most 63 characters/ },
  CLOCKWORK_DB_USER: { value: "line\nbreak", message: /database user must be at most 63 characters on one line/ },
  CLOCKWORK_DB_PASSWORD_FILE: { value: emptyFile, message: /password file .* is empty/ },
  CLOCKWORK_DB_TARGET_SESSION_ATTRS: { value: "standby", message: /target session attrs must be one of any, read-write, primary \(got "standby"\); a supervisor needs a primary/ },
  CLOCKWORK_WORKER_NAME: { value: "has space", message: /worker name must be 1 to 128/ },
  CLOCKWORK_LABELS: { value: "ok,not ok!", message: /label "not ok!" must be 1 to 64/ },
  CLOCKWORK_CONCURRENCY: { value: "0", message: /concurrency must be an integer from 1 to 1000 \(got "0"\)/ },
  CLOCKWORK_CLAIM_AHEAD: { value: "-1", message: /claim ahead must be an integer from 0 to 1000 \(got "-1"\)/ },
  CLOCKWORK_LOG_LEVEL: { value: "loud", message: /log level must be one of .* or pgAgent's 0, 1, 2 \(got "loud"\)/ },
  // Not even root may create a file under /proc.
  CLOCKWORK_LOG_FILE: { value: "/proc/clockwork/clockwork.log", message: /log file \/proc\/clockwork\/clockwork\.log cannot be opened for writing: ENOENT/ },
  CLOCKWORK_HTTP_PORT: { value: "70000", message: /http port must be an integer from 0 to 65535/ },
  CLOCKWORK_HTTP_HOST: { value: "not a host", message: /http host must be an address/ },
  CLOCKWORK_SHUTDOWN_GRACE: { value: "soon", message: /shutdown grace must be a duration/ },
  CLOCKWORK_OUTPUT_LIMIT: { value: "10", message: /output limit must be at least 1024 bytes/ },
  CLOCKWORK_KILL_GRACE: { value: "-1s", message: /kill grace must be a duration/ },
  CLOCKWORK_SAFETY_TICK: { value: "50ms", message: /safety tick must be at least 100ms/ },
  CLOCKWORK_FIRE_AHEAD: { value: "1s", message: /fire ahead must be at most 500ms/ },
  CLOCKWORK_OWNER_CONNINFO: { value: "host=/tmp user=alice", message: /owner conninfo may set .*, not "user" \(steps log in as their owners/ },
  CLOCKWORK_STEP_USER: { value: "no-such-user-here", message: /step user "no-such-user-here" does not exist on this machine/ },
  CLOCKWORK_ALERT_CHECK: { value: "50ms", message: /alert check must be at least 100ms/ },
  CLOCKWORK_SMTP_URL: { value: `http://u:${SECRET}@mail.example.com`, message: /CLOCKWORK_SMTP_URL must look like smtp:\/\/host:port .*the value is not shown/ },
  CLOCKWORK_SMTP_FROM: { value: "not an address", message: /smtp from must be a mail address/ },
  CLOCKWORK_WORK_DIR: { value: "/etc/passwd", message: /work dir \/etc\/passwd exists and is not a directory/ },
  CLOCKWORK_RUNTIME_DIR: { value: "relative/steps", message: /runtime directory must be an absolute path \(got "relative\/steps"\)/ },
};
/** Settings that take any value: checked for what they do instead. */
const ANY_VALUE = new Set(["CLOCKWORK_DB_PASSWORD"]);

describe("every environment variable rejects a bad value: one line, exit code 2, no secret shown", () => {
  test("the table of bad values covers every setting", () => {
    const missing = SETTINGS.map((x) => x.env).filter((env) => !(env in BAD) && !ANY_VALUE.has(env));
    assert.deepEqual(missing, [], "add a bad value for each new setting");
  });
  for (const [name, bad] of Object.entries(BAD)) {
    test(name, () => {
      const result = runBin([], { [name]: bad.value });
      assert.equal(result.status, 2, `stderr: ${result.stderr}\nstdout: ${result.stdout}`);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line expected, got: ${result.stderr}`);
      assert.match(lines[0]!, /^clockwork supervisor: /);
      assert.match(lines[0]!, bad.message);
      assert.ok(!result.stderr.includes(SECRET), "never prints a password");
      assert.equal(result.stdout, "", "nothing started");
    });
  }
  test("pgAgent's names are checked like ours (PGAGENT_LOG_LEVEL=9)", () => {
    const result = runBin([], { PGAGENT_LOG_LEVEL: "9" });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /log level must be one of/);
  });
});

describe("passwords never come from the command line", () => {
  test("there is no --password option, and the refusal says where a password goes", () => {
    for (const flag of ["--password", "--db-password"]) {
      const result = runBin([flag, SECRET]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /a password on the command line is shown by ps to every user; use CLOCKWORK_DB_PASSWORD_FILE/);
      assert.ok(!result.stderr.includes(SECRET));
    }
  });
  test("a --database-url holding a password is refused without echoing it", () => {
    for (const url of [`postgres://u:${SECRET}@h/db`, `postgres://u@h/db?password=${SECRET}`]) {
      const result = runBin(["--database-url", url]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /holds a password, which ps shows to every user/);
      assert.ok(!result.stderr.includes(SECRET));
    }
  });
  test("the same URL in the environment is accepted; the password file wins over the variable", () => {
    const file = join(dir, "password");
    writeFileSync(file, "from-file\nsecond line ignored\n");
    const config = loadConfig([], { DATABASE_URL: `postgres://u:${SECRET}@h/db`, CLOCKWORK_DB_PASSWORD: "from-env", CLOCKWORK_DB_PASSWORD_FILE: file });
    assert.equal(config.connection.password, "from-file");
    assert.equal(loadConfig([], { CLOCKWORK_DB_PASSWORD: "from-env" }).connection.password, "from-env");
  });
  test("steps never inherit a password, the dedicated user or any of our settings", () => {
    const passwordFile = join(dir, "password-for-steps");
    writeFileSync(passwordFile, `${SECRET}\n`);
    const config = loadConfig([], { PATH: "/bin", PGAGENT_PASSWORD: SECRET, PGAGENT_USER: "agent", CLOCKWORK_DB_PASSWORD: SECRET, CLOCKWORK_DB_PASSWORD_FILE: passwordFile });
    assert.deepEqual(Object.keys(config.stepBaseEnv), ["PATH"]);
  });
});

describe("pgAgent-in-a-container names (aidboxdb) map onto ours", () => {
  test("PGAGENT_USER, PGAGENT_DB, PGAGENT_PASSWORD, PGAGENT_LOG_LEVEL, PGAGENT_LOG_FILE_PATH", () => {
    const log = join(dir, "pgagent.log");
    const config = loadConfig([], {
      PGAGENT_ENABLED: "true",
      PGAGENT_USER: "scheduler",
      PGAGENT_DB: "jobs",
      PGAGENT_PASSWORD: "pw",
      PGAGENT_LOG_LEVEL: "2",
      PGAGENT_LOG_FILE_PATH: log,
    });
    assert.equal(config.enabled, true);
    assert.equal(config.connection.user, "scheduler");
    assert.equal(config.connection.database, "jobs");
    assert.equal(config.connection.password, "pw");
    assert.equal(config.logLevel, "debug");
    assert.equal(config.logFile, log);
    assert.equal(loadConfig([], { PGAGENT_LOG_LEVEL: "0" }).logLevel, "error");
    assert.equal(loadConfig([], { PGAGENT_LOG_LEVEL: "1" }).logLevel, "warn");
  });
  test("PGAGENT_ENABLED switches on when present (as in aidboxdb), CLOCKWORK_ENABLED=false off", () => {
    assert.equal(loadConfig([], {}).enabled, true);
    assert.equal(loadConfig([], { PGAGENT_ENABLED: "1" }).enabled, true);
    assert.equal(loadConfig([], { PGAGENT_ENABLED: "false" }).enabled, false);
    assert.equal(loadConfig([], { CLOCKWORK_ENABLED: "off" }).enabled, false);
    assert.equal(loadConfig([], { CLOCKWORK_ENABLED: "no", PGAGENT_ENABLED: "yes" }).enabled, false, "ours wins");
  });
  test("our names win over pgAgent's", () => {
    const config = loadConfig([], { CLOCKWORK_DB_USER: "ours", PGAGENT_USER: "theirs", CLOCKWORK_LOG_LEVEL: "warn", PGAGENT_LOG_LEVEL: "2" });
    assert.equal(config.connection.user, "ours");
    assert.equal(config.logLevel, "warn");
  });
});

describe("a configuration file (pgagent.conf style)", () => {
  test("pgagent.conf's keys and ours; flags > environment > file > defaults", () => {
    const conf = join(dir, "clockwork.conf");
    writeFileSync(conf, [
      "# as /etc/pgagent/pgagent_15.conf has them",
      "DBNAME=scheduler",
      "DBUSER=clockwork",
      "DBHOST=db1,db2",
      "DBPORT=5432,5433",
      `LOGFILE="${join(dir, "from-file.log")}"`,
      "LOGLEVEL=1",
      "",
      "export CLOCKWORK_CONCURRENCY=7",
      "CLOCKWORK_LABELS='eu, gpu'",
    ].join("\n"));
    const config = loadConfig(["--config", conf, "--concurrency", "9"], { CLOCKWORK_LABELS: "env" });
    assert.equal(config.connection.database, "scheduler");
    assert.equal(config.connection.user, "clockwork");
    assert.deepEqual(config.connection.endpoints, [{ host: "db1", port: 5432 }, { host: "db2", port: 5433 }]);
    assert.equal(config.connection.targetSessionAttrs, "read-write", "several hosts: the supervisor wants the primary");
    assert.equal(config.logLevel, "warn");
    assert.equal(config.logFile, join(dir, "from-file.log"));
    assert.equal(config.concurrency, 9, "the flag wins");
    assert.deepEqual(config.labels, ["env"], "the environment wins over the file");
    assert.equal(loadConfig([], { CLOCKWORK_CONFIG: conf }).concurrency, 7);
  });
  test("an unknown key or a malformed line names the file and line, exit code 2", () => {
    const conf = join(dir, "typo.conf");
    writeFileSync(conf, "DBNAME=x\nCLOCKWORK_CONCURENCY=4\n");
    const result = runBin(["--config", conf]);
    assert.equal(result.status, 2);
    assert.match(result.stderr.trim(), new RegExp(`^clockwork supervisor: ${conf.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:2: unknown setting CLOCKWORK_CONCURENCY`));
    writeFileSync(conf, "just words\n");
    assert.throws(() => loadConfig(["--config", conf], {}), /typo\.conf:1: expected KEY=value/);
  });
  test("a bad value in the file is reported like one in the environment", () => {
    const conf = join(dir, "bad.conf");
    writeFileSync(conf, "CLOCKWORK_FIRE_AHEAD=2s\n");
    const result = runBin(["--config", conf]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /fire ahead must be at most 500ms/);
  });
  test("the packaged sample (deploy/clockwork.conf) is valid as shipped", () => {
    const config = loadConfig(["--config", join(root, "deploy", "clockwork.conf")], {});
    assert.equal(config.enabled, true);
    assert.equal(config.connection.database, "clockwork");
  });
});

describe("connection: several hosts, as libpq takes them", () => {
  test("a multi-host URL keeps its hosts, ports and target_session_attrs", () => {
    const split = splitUrlHosts("postgres://sup@db1:5432,db2,[::1]:6543/jobs?target_session_attrs=read-write&sslmode=disable");
    assert.deepEqual(split.endpoints, [{ host: "db1", port: 5432 }, { host: "db2", port: undefined }, { host: "::1", port: 6543 }]);
    assert.equal(split.targetSessionAttrs, "read-write");
    assert.doesNotMatch(split.url, /db1|db2|target_session_attrs/);
    assert.match(split.url, /sslmode=disable/);
  });
  test("PGHOST lists work like libpq's; one port for all hosts or one each", () => {
    const config = loadConfig([], { PGHOST: "a,b,c", PGPORT: "6000" });
    assert.deepEqual(config.connection.endpoints.map((e) => `${e.host}:${e.port}`), ["a:6000", "b:6000", "c:6000"]);
    assert.throws(() => loadConfig([], { CLOCKWORK_DB_HOST: "a,b,c", CLOCKWORK_DB_PORT: "1,2" }), /one port or one per host \(3 hosts/);
  });
  test("one host: any session will do (a standby is refused later, with its own message)", () => {
    assert.equal(loadConfig([], { DATABASE_URL: "postgres://h/db" }).connection.targetSessionAttrs, "any");
    assert.throws(() => loadConfig([], { DATABASE_URL: "postgres://h:0/db" }), ConfigError);
  });
});

describe("the enable switch and the log file, on the real binary", () => {
  test("disabled: ready with reason 'disabled', no database needed, exit 0 on SIGTERM", async () => {
    const log = join(dir, "disabled.log");
    const child = spawn(process.execPath, [bin, "supervisor", "--http-port", "0", "--http-host", "127.0.0.1", "--log-file", log], {
      env: { ...cleanEnv(), CLOCKWORK_ENABLED: "false", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const port = await waitForLine(log, (l) => l.msg === "health and metrics listening").then((l) => Number(l.port));
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), "disabled\n");
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.ok(readLines(log).some((l) => /disabled \(CLOCKWORK_ENABLED=false\)/.test(l.msg)));
  });

  test("SIGHUP reopens the log file after logrotate moved it; SIGHUP never ends the process", async () => {
    const log = join(dir, "rotate.log");
    const child = spawn(process.execPath, [bin, "supervisor", "--http-port", "off", "--log-level", "info"], {
      env: { ...cleanEnv(), CLOCKWORK_ENABLED: "false", CLOCKWORK_LOG_FILE: log },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitForLine(log, (l) => /disabled/.test(l.msg));
    renameSync(log, `${log}.1`); // what logrotate does before its postrotate `kill -HUP`
    child.kill("SIGHUP");
    const reopened = await waitForLine(log, (l) => l.msg === "log file reopened (SIGHUP)");
    assert.equal(reopened.file, log);
    child.kill("SIGHUP"); // twice: still alive
    await waitForLine(log, (l, i, all) => all.filter((x) => x.msg === "log file reopened (SIGHUP)").length === 2);
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const rotated = readLines(`${log}.1`);
    assert.ok(rotated.some((l) => /disabled/.test(l.msg)), "the lines before the rotation stayed in the moved file");
    assert.ok(!rotated.some((l) => /reopened|stopped/.test(l.msg)), "nothing was written to the moved file after SIGHUP");
    assert.ok(readLines(log).some((l) => l.msg === "supervisor stopped"));
    assert.equal(stdout, "", "with a log file, nothing goes to stdout");
  });
});

type Line = { msg: string; [k: string]: unknown };
function readLines(path: string): Line[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line);
}
async function waitForLine(path: string, match: (l: Line, i: number, all: Line[]) => boolean, timeoutMs = 15_000): Promise<Line> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = readLines(path);
    const found = lines.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for a log line in ${path}: ${JSON.stringify(lines)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("docs/configuration.md", () => {
  const doc = readFileSync(join(root, "docs", "configuration.md"), "utf8");
  const rows = new Map(
    doc.split("\n").filter((l) => /^\| `CLOCKWORK_/.test(l)).map((l) => [/^\| `([A-Z_]+)`/.exec(l)![1]!, l] as const),
  );
  test("has one row per setting, with its flag and every name it is also read by", () => {
    assert.deepEqual([...rows.keys()], SETTINGS.map((x) => x.env), "same settings, same order");
    for (const setting of SETTINGS) {
      const row = rows.get(setting.env)!;
      if (setting.flag) assert.ok(row.includes(`\`${setting.flag}\``), `${setting.env}: flag ${setting.flag}`);
      else assert.match(row, /never a flag/);
      for (const alias of [...setting.envAliases, ...setting.fileAliases]) assert.ok(row.includes(`\`${alias}\``), `${setting.env}: ${alias}`);
    }
  });
});
