// Grants of calendars, concurrency groups, named connections and secrets: one helper
// (clockwork._grantee) decides whom a grant or revoke names, so each refuses the same bad
// grantees the same way, and a grant does what it says for the roles it names and no other.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type pg from "pg";
import { SQLSTATE } from "../../extension/src/core/errors.ts";
import { adminQuery, type TestDatabase } from "../support/db.ts";
import { clockworkDatabase, sqlErrorOf } from "./helpers.ts";

const ROLES = ["gr_alice", "gr_bob", "gr_carol"];

interface Kind {
  kind: "calendar" | "group" | "connection";
  table: string;
  /** Defines the object $1 as its owner. */
  define: string;
  /** The SQLSTATE for an object the caller may not see. */
  unknown: string;
  /** A job using the object. */
  job: (name: string, object: string) => object;
}

const KINDS: Kind[] = [
  {
    kind: "calendar", table: "calendars", define: "select clockwork.define_calendar($1, array['2031-12-25']::date[])",
    unknown: SQLSTATE.unknown_calendar,
    job: (name, object) => ({ name, schedules: [{ cron: "0 9 * * *", exclude: { calendars: [object] } }], steps: [{ name: "a", sql: "select 1" }] }),
  },
  {
    kind: "group", table: "concurrency_groups", define: "select clockwork.define_group($1, 2)", unknown: SQLSTATE.unknown_group,
    job: (name, object) => ({ name, policies: { group: object }, steps: [{ name: "a", sql: "select 1" }] }),
  },
  {
    kind: "connection", table: "connections", define: "select clockwork.define_connection($1, 'host=wh.internal dbname=dw')",
    unknown: SQLSTATE.unknown_connection,
    job: (name, object) => ({ name, steps: [{ name: "a", sql: "select 1", connection: object }] }),
  },
];

describe("grants", () => {
  let db: TestDatabase;
  const as: Record<string, pg.Client> = {};
  before(async () => {
    db = await clockworkDatabase();
    for (const role of ROLES) {
      await adminQuery(`do $$ begin create role ${role} login; exception when duplicate_object then null; end $$`);
      as[role] = await db.connect({ user: role });
    }
  });
  after(async () => {
    await db.drop();
  });

  for (const k of KINDS) {
    const grant = `select clockwork.grant_${k.kind}($1, $2)`;
    const revoke = `select clockwork.revoke_${k.kind}($1, $2)`;
    const grantedTo = async (object: string): Promise<string[]> =>
      (await db.query(`select granted_to::text[] as g from clockwork.${k.table} where name = $1`, [object])).rows[0].g;
    const mayUse = async (role: string, object: string, job: string): Promise<boolean> => {
      try {
        await as[role]!.query("select clockwork.define_job($1::jsonb)", [JSON.stringify(k.job(job, object))]);
        return true;
      } catch (error) {
        assert.equal((error as { code: string }).code, k.unknown, (error as Error).message);
        return false;
      }
    };

    test(`${k.kind}: an unknown role or NULL is refused, naming it, and nothing changes`, async () => {
      const object = `${k.kind}-unknown`;
      await as.gr_alice!.query(k.define, [object]);
      for (const [role, shown] of [["gr_nobody_here", "gr_nobody_here"], [null, "NULL"]] as const) {
        const e = await sqlErrorOf(as.gr_alice!, grant, [object, role]);
        assert.equal(e.code, SQLSTATE.invalid_argument);
        assert.match(e.message, new RegExp(`role "${shown}" does not exist`));
        assert.equal(e.hint, "Name an existing role, or public.");
      }
      assert.deepEqual(await grantedTo(object), []);
    });

    test(`${k.kind}: public in any case means every role, once; revoking it in any case takes it back`, async () => {
      const object = `${k.kind}-public`;
      await as.gr_alice!.query(k.define, [object]);
      assert.equal(await mayUse("gr_carol", object, `${k.kind}-carol-1`), false);
      await as.gr_alice!.query(grant, [object, "PUBLIC"]);
      await as.gr_alice!.query(grant, [object, "Public"]);
      assert.deepEqual(await grantedTo(object), ["public"]);
      assert.equal(await mayUse("gr_carol", object, `${k.kind}-carol-2`), true);
      await as.gr_alice!.query(revoke, [object, "PUBLIC"]);
      assert.deepEqual(await grantedTo(object), []);
      assert.equal(await mayUse("gr_carol", object, `${k.kind}-carol-3`), false);
    });

    test(`${k.kind}: only its owner grants and revokes; a grantee may use it, not pass it on`, async () => {
      const object = `${k.kind}-owned`;
      await as.gr_alice!.query(k.define, [object]);
      // Not granted: it does not exist for bob.
      for (const sql of [grant, revoke]) assert.equal((await sqlErrorOf(as.gr_bob!, sql, [object, "gr_bob"])).code, k.unknown);
      await as.gr_alice!.query(grant, [object, "gr_bob"]);
      assert.equal(await mayUse("gr_bob", object, `${k.kind}-bob`), true);
      // Granted: bob may use it, not grant it to carol nor take alice's grant back.
      for (const [sql, role] of [[grant, "gr_carol"], [revoke, "gr_bob"]] as const) {
        const e = await sqlErrorOf(as.gr_bob!, sql, [object, role]);
        assert.ok(e.code === SQLSTATE.not_found || e.code === k.unknown, `${e.code} ${e.message}`);
      }
      assert.deepEqual(await grantedTo(object), ["gr_bob"]);
      assert.equal(await mayUse("gr_carol", object, `${k.kind}-carol`), false);
    });

    test(`${k.kind}: the owner's own use needs no grant and no revoke takes it away; a grant to a role dropped since can be revoked`, async () => {
      const object = `${k.kind}-own`;
      await as.gr_alice!.query(k.define, [object]);
      await as.gr_alice!.query(revoke, [object, "gr_alice"]);
      assert.equal(await mayUse("gr_alice", object, `${k.kind}-alice-1`), true);
      await as.gr_alice!.query(grant, [object, "gr_alice"]);
      await as.gr_alice!.query(revoke, [object, "gr_alice"]);
      assert.equal(await mayUse("gr_alice", object, `${k.kind}-alice-2`), true);
      // A role dropped after its grant: its name stays until revoked, and revoking works.
      const gone = `gr_gone_${k.kind}`;
      await adminQuery(`drop role if exists ${gone}`);
      await adminQuery(`create role ${gone}`);
      await as.gr_alice!.query(grant, [object, gone]);
      await adminQuery(`drop role ${gone}`);
      assert.deepEqual(await grantedTo(object), [gone]);
      await as.gr_alice!.query(revoke, [object, gone]);
      assert.deepEqual(await grantedTo(object), []);
      assert.equal((await sqlErrorOf(as.gr_alice!, grant, [object, gone])).code, SQLSTATE.invalid_argument);
    });
  }

  test("secret: administrators only; an unknown role or NULL is refused; public in any case; a dropped role's grant can be revoked", async () => {
    const secret = "CLOCKWORK_SECRET_GRANTS_TEST";
    assert.equal((await sqlErrorOf(as.gr_alice!, "select clockwork.grant_secret($1, 'gr_alice')", [secret])).code, SQLSTATE.not_an_admin);
    for (const [role, shown] of [["gr_nobody_here", "gr_nobody_here"], [null, "NULL"]] as const) {
      const e = await sqlErrorOf(db, "select clockwork.grant_secret($1, $2)", [secret, role]);
      assert.equal(e.code, SQLSTATE.invalid_argument);
      assert.equal(e.message, `role "${shown}" does not exist`);
    }
    const grants = async () => (await db.query("select grantee::text from clockwork.secret_grants where secret = $1 order by 1", [secret])).rows.map((r) => r.grantee);
    assert.deepEqual(await grants(), []);
    assert.equal((await db.query("select clockwork.grant_secret($1, 'Public') as r", [secret])).rows[0].r, true);
    assert.equal((await db.query("select clockwork.grant_secret($1, 'PUBLIC') as r", [secret])).rows[0].r, false, "already granted");
    assert.deepEqual(await grants(), ["public"]);
    assert.equal((await db.query("select clockwork.revoke_secret($1, 'PUBLIC') as r", [secret])).rows[0].r, true);
    await adminQuery("drop role if exists gr_gone_secret");
    await adminQuery("create role gr_gone_secret");
    await db.query("select clockwork.grant_secret($1, 'gr_gone_secret')", [secret]);
    await adminQuery("drop role gr_gone_secret");
    assert.equal((await db.query("select clockwork.revoke_secret($1, 'gr_gone_secret') as r", [secret])).rows[0].r, true);
    assert.deepEqual(await grants(), []);
  });
});
