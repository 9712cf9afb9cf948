// The Debian packages, installed as a user installs them: build/package-deb.sh builds them
// from this checkout; a clean Debian 12 root (debootstrap, cached in .tmp/ and used through
// an overlay, so every run starts clean) installs the extension package with
// `apt-get install ./clockwork_….deb`, which pulls PostgreSQL 15 from Debian; the
// cluster the PostgreSQL package created runs CREATE EXTENSION; the supervisor package
// is installed beside it and its supervisor, run as the package's user with the
// package's configuration file, runs a job in that database.
//
// Needs root (chroot, mounts), debootstrap and the network to Debian's mirror (as
// `make test` has on a fresh machine); skipped with the reason otherwise.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, waitFor } from "../e2e/support.ts";
import { debianRoot, whyNoDebianRoot, type DebianRoot } from "./debian-root.ts";

const skip = whyNoDebianRoot() ?? (existsSync(join(ROOT, "extension/runtime/clockwork_v8_engine.so")) ? null : "the runtime is not built (make build)");

describe("the Debian packages on a clean Debian 12", { skip: skip ?? false }, () => {
  let work: string;
  let debs: { extension: string; supervisor: string };
  let root: DebianRoot;
  let pg: (sql: string) => string;
  let supervisor: ChildProcess | undefined;

  before(() => {
    work = mkdtempSync(join(tmpdir(), "clockwork-deb-"));
    const out = execFileSync(join(ROOT, "build/package-deb.sh"), [join(work, "debs")], { cwd: ROOT, encoding: "utf8" });
    const [extension, sup] = out.trim().split("\n");
    debs = { extension: extension!, supervisor: sup! };
    root = debianRoot(join(work, "root"));
    // Only a socket: a cluster in the root must not take a TCP port of the machine.
    pg = (sql) => root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql]);
  });

  after(() => {
    supervisor?.kill("SIGKILL");
    root?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the packages carry what Debian expects", () => {
    const info = execFileSync("dpkg-deb", ["--field", debs.extension, "Package", "Architecture", "Depends"], { encoding: "utf8" });
    assert.match(info, /^Package: clockwork$/m);
    assert.match(info, /^Depends: postgresql-15, .*libicu72.*libuv1/m, "libnode's own libraries are dependencies (dpkg-shlibdeps)");
    const files = execFileSync("dpkg-deb", ["--contents", debs.extension], { encoding: "utf8" });
    for (const f of [
      "/usr/lib/postgresql/15/lib/clockwork_v8.so",
      "/usr/lib/postgresql/15/lib/clockwork_v8/clockwork_v8_engine.so",
      "/usr/lib/postgresql/15/lib/clockwork_v8/libnode.so.108",
      "/usr/share/postgresql/15/extension/clockwork.control",
      "/usr/share/postgresql/15/extension/clockwork_v8.control",
      "/usr/share/doc/clockwork/copyright",
    ]) assert.ok(files.includes(`.${f}`), f);
    const sup = execFileSync("dpkg-deb", ["--field", debs.supervisor, "Architecture", "Depends"], { encoding: "utf8" });
    assert.match(sup, /^Architecture: all$/m);
    assert.match(sup, /^Depends: nodejs \(>= 20\)/m);
    assert.equal(execFileSync("dpkg-deb", ["--ctrl-tarfile", debs.supervisor]).length > 0, true);
  });

  test("apt-get install ./clockwork_….deb pulls PostgreSQL 15 and installs both extensions", () => {
    copyFileSync(debs.extension, join(root.path, "tmp", "clockwork.deb"));
    root.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "/tmp/clockwork.deb"], { DEBIAN_FRONTEND: "noninteractive" });
    assert.match(root.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "clockwork"]), /^install ok installed \d+\.\d+\.\d+-1$/);
    // The PostgreSQL package made a cluster; run it on a socket only.
    root.run(["pg_conftool", "15", "main", "set", "listen_addresses", ""]);
    root.run(["pg_ctlcluster", "15", "main", "start"]);
    pg("CREATE DATABASE scheduler");
    const out = root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", "scheduler", "-c",
      "CREATE EXTENSION clockwork_v8; CREATE EXTENSION clockwork; " +
      "SELECT extversion FROM pg_extension WHERE extname = 'clockwork'; " +
      "SELECT clockwork.schedule('nightly', '30 2 * * *', 'SELECT 1') IS NOT NULL; SELECT count(*) FROM clockwork.next_runs('nightly', 3);"]);
    const [version, scheduled, nextRuns] = out.trim().split("\n");
    assert.equal(scheduled, "t");
    assert.match(version!, /^\d+\.\d+$/);
    assert.equal(nextRuns, "3", "PL/v8 code runs on the packaged runtime");
  });

  test("the supervisor package installs its user, configuration and units, and runs a job as that user", async () => {
    // Debian 12 has Node.js 18; the package needs 20 (NodeSource or similar). Here the
    // machine's own Node stands in for that package: bound into the root, and its package
    // dependency forced (the one thing this test does not take from a real repository).
    root.bindNode();
    copyFileSync(debs.supervisor, join(root.path, "tmp", "clockwork-supervisor.deb"));
    // The package's other dependencies (adduser; procps for the unit's ExecReload=/bin/kill),
    // and systemd for systemd-analyze (next test): before the forced install, after which
    // apt refuses to install anything else.
    const depends = execFileSync("dpkg-deb", ["--field", debs.supervisor, "Depends"], { encoding: "utf8" })
      .split(",").map((d) => d.trim().split(" ")[0]!).filter((d) => d !== "nodejs");
    root.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...depends, "systemd"], { DEBIAN_FRONTEND: "noninteractive" });
    root.run(["dpkg", "--force-depends", "-i", "/tmp/clockwork-supervisor.deb"], { DEBIAN_FRONTEND: "noninteractive" });
    assert.match(root.run(["getent", "passwd", "clockwork"]), /^clockwork:x:\d+:\d+::\/var\/lib\/clockwork:/);
    assert.match(root.run(["stat", "-c", "%a %U %G", "/etc/clockwork/clockwork.conf"]), /^640 root clockwork/);
    for (const unit of ["clockwork-supervisor.service", "clockwork-run@.service", "clockwork-run@.timer"]) {
      assert.ok(existsSync(join(root.path, "lib/systemd/system", unit)), unit);
    }
    assert.match(root.run(["clockwork", "--help"]), /supervisor/);

    // A dedicated scheduler role, as docs/deploying.md says, with peer authentication
    // over the socket as the OS user of the same name.
    pg("CREATE ROLE clockwork LOGIN IN ROLE clockwork_supervisor");
    const conf = join(root.path, "etc/clockwork/clockwork.conf");
    writeFileSync(conf, readFileSync(conf, "utf8")
      .replace(/^CLOCKWORK_DB_HOST=.*$/m, "CLOCKWORK_DB_HOST=/var/run/postgresql")
      .replace(/^CLOCKWORK_DB_NAME=.*$/m, "CLOCKWORK_DB_NAME=scheduler")
      .replace(/^CLOCKWORK_DB_USER=.*$/m, "CLOCKWORK_DB_USER=clockwork")
      .replace(/^CLOCKWORK_HTTP_PORT=.*$/m, "CLOCKWORK_HTTP_PORT=off"));
    pg("SELECT 1"); // the cluster still answers
    root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-d", "scheduler", "-c",
      `SELECT clockwork.define_job('{"name": "from-deb", "steps": [{"name": "who", "shell": "id -un; echo ran"}]}'::jsonb)`]);
    const runId = root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-d", "scheduler", "-c", "SELECT clockwork.run_now('from-deb')"]).trim();
    // An SQL step runs logged in as its job's owner: the supervisor's OS user mapped to that
    // role, as docs/deploying.md says (pg_hba.conf and pg_ident.conf lines, then a reload).
    pg("CREATE ROLE etl_owner LOGIN");
    const hba = join(root.path, "etc/postgresql/15/main/pg_hba.conf");
    writeFileSync(hba, `local  scheduler  clockwork,etl_owner  peer map=clockwork\n${readFileSync(hba, "utf8")}`);
    writeFileSync(join(root.path, "etc/postgresql/15/main/pg_ident.conf"), "clockwork  clockwork  clockwork\nclockwork  clockwork  etl_owner\n", { flag: "a" });
    pg("SELECT pg_reload_conf()");
    const ownerRunId = root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-d", "scheduler", "-c",
      `SET ROLE etl_owner; SELECT clockwork.define_job('{"name": "owners-sql", "steps": [{"name": "who", "sql": "SELECT current_user AS who"}]}'::jsonb) IS NOT NULL; SELECT clockwork.run_now('owners-sql')`]).trim().split("\n").pop()!;

    // What ExecStart in clockwork-supervisor.service runs, as User=clockwork.
    const unit = readFileSync(join(root.path, "lib/systemd/system/clockwork-supervisor.service"), "utf8");
    const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(" ");
    supervisor = spawn("chroot", [root.path, "setpriv", "--reuid=clockwork", "--regid=clockwork", "--init-groups", ...execStart], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME: "/var/lib/clockwork", LANG: "C.UTF-8" },
    });
    let logs = "";
    supervisor.stdout!.setEncoding("utf8").on("data", (d: string) => (logs += d));
    supervisor.stderr!.setEncoding("utf8").on("data", (d: string) => (logs += d));
    const exited = new Promise<number | null>((resolve) => supervisor!.on("exit", (code) => resolve(code)));
    const sql = (q: string) => root.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-qAt", "-d", "scheduler", "-c", q]).trim();
    const state = await waitFor("the run to finish", () => sql(`SELECT state FROM clockwork.runs WHERE id = ${runId} AND finished_at IS NOT NULL`), 30_000, 250)
      .catch((error: Error) => { throw new Error(`${error.message}\nsupervisor output:\n${logs}`); });
    assert.equal(state, "succeeded", logs);
    assert.equal(sql(`SELECT stdout FROM clockwork.step_runs WHERE run_id = ${runId}`), "clockwork\nran", "the step ran as the package's user");
    const ownerState = await waitFor("the owner's SQL run to finish", () => sql(`SELECT state FROM clockwork.runs WHERE id = ${ownerRunId} AND finished_at IS NOT NULL`), 30_000, 250)
      .catch((error: Error) => { throw new Error(`${error.message}\nsupervisor output:\n${logs}`); });
    assert.equal(ownerState, "succeeded", `${sql(`SELECT error FROM clockwork.step_runs WHERE run_id = ${ownerRunId}`)}\n${logs}`);
    assert.match(sql(`SELECT stdout FROM clockwork.step_runs WHERE run_id = ${ownerRunId}`), /etl_owner/, "logged in as the job's owner");
    supervisor.kill("SIGTERM");
    assert.equal(await exited, 0, logs);
    supervisor = undefined;
  });

  test("systemd-analyze verify accepts the installed units (the supervisor, and a one-shot timer and service)", () => {
    writeFileSync(join(root.path, "etc/clockwork/jobs/nightly.yml"), readFileSync(join(ROOT, "deploy/kubernetes/base/jobs/nightly-report.yml")));
    const units = ["clockwork-supervisor.service", "clockwork-run@nightly.service", "clockwork-run@nightly.timer"].map((u) => `/lib/systemd/system/${u}`);
    const out = root.run(["sh", "-c", `systemd-analyze verify --man=no ${units.join(" ")} 2>&1; echo "exit=$?"`]);
    assert.match(out, /exit=0\s*$/, out);
    assert.doesNotMatch(out, /clockwork/, `no complaint about our units: ${out}`);
    // A broken unit is caught the same way (the check can fail).
    writeFileSync(join(root.path, "lib/systemd/system/clockwork-broken.timer"), "[Timer]\nOnCalendar=every tuesday-ish\n");
    assert.match(root.run(["sh", "-c", "systemd-analyze verify --man=no /lib/systemd/system/clockwork-broken.timer 2>&1; echo exit=$?"]), /exit=1/);
  });
});
