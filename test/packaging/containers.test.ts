// Containers, without a container engine (none runs on these machines): the Dockerfiles
// and the compose file are checked for what they reference, and what they run is run
// here: the images' install scripts (install-supervisor.sh in a clean directory,
// install-postgres.sh in test/packaging/debian.test.ts), the PostgreSQL image's initdb
// script against a real cluster, then the compose file's scheduler, with the compose
// file's own settings, as the dedicated role it creates, with the image's health check.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { SETTINGS } from "../../supervisor/src/config.ts";
import { pgConfig } from "../support/cluster.ts";
import { adminQuery, clusterEnv, clusterUrl } from "../support/db.ts";
import { extensionMissing, ROOT, waitFor } from "../e2e/support.ts";
import { packCheckout } from "./support.ts";

const DOCKER = join(ROOT, "deploy", "docker");
const COMPOSE_DIR = join(ROOT, "deploy", "compose");
const compose = parseYaml(readFileSync(join(COMPOSE_DIR, "compose.yaml"), "utf8")) as {
  services: Record<string, Record<string, any>>;
  secrets: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
};
const KNOWN_ENV = new Set(SETTINGS.flatMap((s) => [s.env, ...s.envAliases]));
const missing = await extensionMissing();
const CLI_COMMANDS = [...spawnSync(process.execPath, [join(ROOT, "supervisor/bin/clockwork.js"), "--help"], { encoding: "utf8" })
  .stdout.matchAll(/^ {2}([a-z][a-z0-9-]*) {2,}/gm)].map((m) => m[1]!);

/** Dockerfile instructions, continuation lines joined. */
function instructions(dockerfile: string): Array<{ op: string; args: string }> {
  return readFileSync(dockerfile, "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.trim().split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

describe("the Dockerfiles", () => {
  for (const name of ["supervisor.Dockerfile", "postgres.Dockerfile"]) {
    test(`${name}: every file it copies exists, every script it runs is executable, the build stage uses build-packages.sh`, () => {
      const steps = instructions(join(DOCKER, name));
      assert.equal(steps.filter((s) => s.op === "FROM").length, 2, "a build stage and a small final stage");
      for (const copy of steps.filter((s) => s.op === "COPY" && !s.args.startsWith("--from"))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources) assert.ok(existsSync(join(ROOT, source)), `${name}: COPY ${source}`);
      }
      for (const run of steps.filter((s) => s.op === "RUN")) {
        for (const script of run.args.match(/\/(?:src|usr\/local\/lib\/clockwork)\/[\w/.-]+\.sh/g) ?? []) {
          const inRepo = script.startsWith("/src/") ? join(ROOT, script.slice(5)) : join(DOCKER, script.split("/").pop()!);
          accessSync(inRepo, constants.X_OK);
        }
      }
      assert.ok(steps.some((s) => s.op === "RUN" && s.args.includes("/src/deploy/docker/build-packages.sh")));
    });
  }

  test("the supervisor image: non-root user, health check, the supervisor by default", () => {
    const steps = instructions(join(DOCKER, "supervisor.Dockerfile"));
    const user = steps.filter((s) => s.op === "USER").pop();
    assert.equal(user?.args, "clockwork");
    assert.match(steps.find((s) => s.op === "HEALTHCHECK")!.args, /CMD \["node", "\/usr\/local\/lib\/clockwork\/healthcheck\.mjs"\]/);
    assert.match(steps.find((s) => s.op === "FROM" && !/ AS /i.test(s.args))!.args, /^node:20-bookworm-slim$/);
    assert.deepEqual(JSON.parse(steps.find((s) => s.op === "ENTRYPOINT")!.args), ["clockwork"]);
    assert.deepEqual(JSON.parse(steps.find((s) => s.op === "CMD")!.args), ["supervisor"]);
    assert.ok(steps.some((s) => s.op === "EXPOSE" && s.args === "9187"));
  });

  test("the PostgreSQL image: PostgreSQL 15 on Debian 12, the Debian package, the initdb script", () => {
    const steps = instructions(join(DOCKER, "postgres.Dockerfile"));
    assert.match(steps.filter((s) => s.op === "FROM").pop()!.args, /^postgres:15-bookworm$/);
    assert.ok(steps.some((s) => s.op === "RUN" && s.args.includes("install-postgres.sh /tmp/clockwork_*.deb")));
    assert.ok(steps.some((s) => s.op === "COPY" && s.args.endsWith("/docker-entrypoint-initdb.d/")));
  });
});

describe("deploy/compose/compose.yaml", () => {
  test("a database, a sidecar scheduler sharing its network, and jobs applied from YAML", () => {
    const { db, scheduler, jobs } = compose.services;
    assert.ok(db && scheduler && jobs);
    assert.equal(db.build.dockerfile, "deploy/docker/postgres.Dockerfile");
    assert.equal(scheduler.build.dockerfile, "deploy/docker/supervisor.Dockerfile");
    assert.equal(scheduler.network_mode, "service:db", "a sidecar: localhost is the database");
    assert.equal(scheduler.depends_on.db.condition, "service_healthy");
    assert.equal(jobs.command[0], "apply");
    for (const service of [db, scheduler]) {
      assert.equal(service.environment.CLOCKWORK_DB_NAME, "clockwork", "the dedicated scheduler database");
      assert.equal(service.environment.CLOCKWORK_DB_USER, "clockwork", "the dedicated scheduler role");
    }
  });

  test("every file it names exists; passwords only from secret files", () => {
    for (const service of Object.values(compose.services)) {
      if (service.build) assert.ok(existsSync(join(COMPOSE_DIR, service.build.context, service.build.dockerfile)));
      for (const volume of (service.volumes ?? []) as string[]) {
        const source = volume.split(":")[0]!;
        if (source.startsWith(".")) assert.ok(statSync(join(COMPOSE_DIR, source)).isDirectory(), volume);
        else assert.ok(compose.volumes && source in compose.volumes, volume);
      }
      for (const [name, value] of Object.entries((service.environment ?? {}) as Record<string, string>)) {
        if (name.startsWith("CLOCKWORK_") || name.startsWith("PGAGENT_")) assert.ok(KNOWN_ENV.has(name), `unknown setting ${name}`);
        assert.ok(!/PASSWORD$/.test(name), `${name}: a password in the compose file; use a *_FILE secret`);
        if (/_FILE$|PASSFILE$/.test(name)) {
          const secret = String(value).replace("/run/secrets/", "");
          assert.ok((service.secrets as string[]).includes(secret), `${name} names a secret the service has`);
        }
      }
    }
    for (const secret of Object.values(compose.secrets)) assert.ok(existsSync(join(COMPOSE_DIR, secret.file)), secret.file);
  });

  test("the jobs it applies are the Kubernetes base's (one copy)", () => {
    const jobsVolume = (compose.services.jobs!.volumes as string[])[0]!.split(":")[0]!;
    assert.equal(join(COMPOSE_DIR, jobsVolume), join(ROOT, "deploy", "kubernetes", "base", "jobs"));
  });

  // `clockwork apply` (the compose file's jobs service, the Kubernetes apply Job) and
  // `clockwork run` (the CronJob, the systemd one-shot unit) come from the CLI work of issue 11.
  const missingCommands = ["apply", "run"].filter((c) => !CLI_COMMANDS.includes(c));
  test("the commands the deployment files run exist in this build", {
    skip: missingCommands.length > 0 ? `clockwork ${missingCommands.join(", ")} not in this build yet (issue 11)` : false,
  }, () => {
    for (const command of ["apply", "run", "supervisor"]) assert.ok(CLI_COMMANDS.includes(command), command);
  });
});

describe("what the images run, run here", { skip: missing ?? false }, () => {
  const name = `compose_${process.pid}`;
  const role = `clockwork_${process.pid}`;
  let work: string;
  let bin: string;
  let supervisor: ChildProcess | undefined;
  const passwordFile = join(COMPOSE_DIR, compose.secrets.clockwork_password!.file);

  before(() => {
    work = mkdtempSync(join(tmpdir(), "clockwork-images-"));
  });
  after(async () => {
    supervisor?.kill("SIGKILL");
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await adminQuery(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test("install-supervisor.sh installs the command and its production dependencies in a clean directory", () => {
    const { tarball } = packCheckout(work);
    const out = execFileSync(join(DOCKER, "install-supervisor.sh"), [tarball], {
      encoding: "utf8",
      cwd: work,
      env: { ...process.env, CLOCKWORK_PREFIX: join(work, "opt"), CLOCKWORK_BIN_DIR: join(work, "bin"), CLOCKWORK_CREATE_USER: "no" },
    });
    assert.match(out, /clockwork installed in/);
    bin = join(work, "bin", "clockwork");
    assert.ok(!existsSync(join(work, "opt", "node_modules", "tsx")));
    assert.match(execFileSync(bin, ["--help"], { encoding: "utf8" }), /supervisor/);
  });

  test("the initdb script makes the dedicated role and database with the extensions, and can run again", () => {
    const { host, port } = clusterEnv();
    const env = {
      ...process.env,
      PSQL: join(pgConfig("--bindir"), "psql"),
      PGHOST: host,
      PGPORT: String(port),
      POSTGRES_USER: "postgres",
      CLOCKWORK_DB_NAME: name,
      CLOCKWORK_DB_USER: role,
      CLOCKWORK_DB_PASSWORD_FILE: passwordFile,
    };
    for (let i = 0; i < 2; i++) {
      const out = execFileSync(join(DOCKER, "initdb", "10-clockwork.sh"), [], { encoding: "utf8", env });
      assert.match(out, new RegExp(`database ${name} with the clockwork extension; supervisor role ${role}`));
    }
  });

  test("the compose scheduler's settings run a supervisor as that role; the image's health check follows it", async () => {
    const rows = (await adminQuery(
      `SELECT r.rolcanlogin, r.rolsuper, a.rolpassword IS NOT NULL AS has_password,
              pg_has_role(r.oid, 'clockwork_supervisor', 'MEMBER') AS supervisor
         FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = $1`, [role])).rows;
    assert.deepEqual(rows, [{ rolcanlogin: true, rolsuper: false, has_password: true, supervisor: true }]);

    const { host, port } = clusterEnv();
    const composeEnv = compose.services.scheduler!.environment as Record<string, string>;
    const env: Record<string, string> = {
      PATH: process.env.PATH!,
      ...composeEnv,
      // What differs here from the compose network: where the database is, the names made above.
      CLOCKWORK_DB_HOST: host,
      CLOCKWORK_DB_PORT: String(port),
      CLOCKWORK_DB_NAME: name,
      CLOCKWORK_DB_USER: role,
      CLOCKWORK_DB_PASSWORD_FILE: passwordFile,
      CLOCKWORK_HTTP_PORT: "0",
      CLOCKWORK_HTTP_HOST: "127.0.0.1",
      CLOCKWORK_WORKER_NAME: "compose-scheduler",
    };
    supervisor = spawn(bin, ["supervisor"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let logs = "";
    supervisor.stdout!.setEncoding("utf8").on("data", (d: string) => (logs += d));
    const exited = new Promise<number | null>((resolve) => supervisor!.on("exit", (code) => resolve(code)));
    const httpPort = await waitFor("the health port", () => /"port":(\d+),"msg":"health and metrics listening"/.exec(logs)?.[1], 20_000);
    const health = () => spawnSync(process.execPath, [join(DOCKER, "healthcheck.mjs")], { encoding: "utf8", env: { ...process.env, CLOCKWORK_HTTP_PORT: httpPort } });
    await waitFor("healthy (ready)", () => health().status === 0, 20_000, 200);
    assert.equal(health().stdout.trim(), "200 ready");

    const sessions = await adminQuery("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'clockwork supervisor%'", [name]);
    assert.deepEqual(sessions.rows.map((r) => r.usename), [role], "the supervisor logged in as the dedicated role, not as a superuser");

    // The compose file's jobs service: `clockwork apply` of the sample job files, with its
    // settings (PG* variables), as the administrator.
    const jobs = compose.services.jobs!;
    const jobsDir = join(COMPOSE_DIR, (jobs.volumes as string[])[0]!.split(":")[0]!);
    const applyArgs = (jobs.command as string[]).map((a) => (a === "/jobs" ? jobsDir : a));
    const applied = spawnSync(bin, applyArgs, {
      encoding: "utf8",
      env: { PATH: process.env.PATH!, ...jobs.environment, PGHOST: host, PGPORT: String(port), PGDATABASE: name, PGPASSFILE: "" },
    });
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    // The Kubernetes CronJob's one-shot command, the same way.
    const cron = parseYaml(readFileSync(join(ROOT, "deploy/kubernetes/base/cronjob.yaml"), "utf8")).spec.jobTemplate.spec.template.spec.containers[0];
    const runArgs = (cron.args as string[]).map((a) => a.replace(/^\/jobs\//, `${jobsDir}/`));
    const ran = spawnSync(bin, runArgs, { encoding: "utf8", env: { PATH: process.env.PATH!, PGHOST: host, PGPORT: String(port), PGDATABASE: name, PGUSER: "postgres" } });
    assert.equal(ran.status, 0, `clockwork ${runArgs.join(" ")}: ${ran.stdout}${ran.stderr}`);

    const admin = new (await import("pg")).default.Client({ connectionString: clusterUrl(name) });
    await admin.connect();
    try {
      const defined = (await admin.query("SELECT job FROM clockwork.job_definitions ORDER BY job")).rows.map((r) => r.job);
      for (const job of ["heartbeat", "nightly-report", "vacuum-analyze"]) assert.ok(defined.includes(job), `${job} applied (${defined})`);
      const runId = (await admin.query("SELECT clockwork.run_now('heartbeat') AS id")).rows[0].id;
      const state = await waitFor("the heartbeat run", async () =>
        (await admin.query("SELECT state FROM clockwork.runs WHERE id = $1 AND finished_at IS NOT NULL", [runId])).rows[0]?.state, 20_000);
      assert.equal(state, "succeeded", logs);
      const output = (await admin.query("SELECT stdout FROM clockwork.step_runs WHERE run_id = $1", [runId])).rows[0].stdout;
      assert.match(output, /^clockwork heartbeat from /);
    } finally {
      await admin.end();
    }
    supervisor.kill("SIGTERM");
    assert.equal(await exited, 0);
    supervisor = undefined;
    const down = health();
    assert.equal(down.status, 1);
    assert.match(down.stdout, /^unreachable/);
  });
});
