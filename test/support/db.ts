// Per-test-file databases on the cluster that test/run.ts started. Each call makes a
// fresh database, so test files never see each other's rows and can run in parallel.
import pg from "pg";
import { randomBytes } from "node:crypto";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: pg.Pool;
  /** A dedicated connection (for session state, LISTEN, cancel tests); closed by drop(). */
  connect(options?: { user?: string }): Promise<pg.Client>;
  query<R extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

export function clusterEnv(): { host: string; port: number; user: string } {
  const port = Number(process.env.PGPORT);
  if (!process.env.CLOCKWORK_TEST_CLUSTER || !port) {
    throw new Error("no test cluster: run tests with `make test` (or `npx tsx test/run.ts [filter]`)");
  }
  return { host: process.env.PGHOST ?? "127.0.0.1", port, user: process.env.PGUSER ?? "postgres" };
}

export function clusterUrl(database: string, user?: string): string {
  const { host, port, user: superuser } = clusterEnv();
  return `postgres://${encodeURIComponent(user ?? superuser)}@${host}:${port}/${database}`;
}

/** Runs SQL on the maintenance database (CREATE DATABASE / ROLE and friends). */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: clusterUrl("postgres") });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/**
 * Creates a fresh database with the given extensions installed (in order). The
 * caller drops it with `drop()` (usually in an `after` hook).
 */
export async function createTestDatabase(options: { extensions?: readonly string[]; prefix?: string; icuLocale?: string } = {}): Promise<TestDatabase> {
  const name = `${options.prefix ?? "t"}_${randomBytes(5).toString("hex")}`;
  // icuLocale: the database's collation is ICU's for that locale (as a cluster made in en_US.UTF-8 sorts), not C.
  const collation = options.icuLocale ? ` LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale.replace(/'/g, "''")}'` : "";
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE template0${collation}`);
  const url = clusterUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on("error", () => {}); // terminated backends in failure tests are expected
  for (const ext of options.extensions ?? []) {
    await pool.query(`CREATE EXTENSION IF NOT EXISTS ${ext} CASCADE`);
  }
  const clients: pg.Client[] = [];
  return {
    name,
    url,
    pool,
    async connect(opts = {}) {
      const client = new pg.Client({ connectionString: clusterUrl(name, opts.user) });
      client.on("error", () => {});
      await client.connect();
      clients.push(client);
      return client;
    },
    query: (sql, params) => pool.query(sql, params as any[]),
    async drop() {
      await Promise.allSettled(clients.map((c) => c.end()));
      await pool.end();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
