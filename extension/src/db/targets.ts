// Where an SQL step runs and as whom, decided when it is claimed (so a connection altered
// or a grant revoked since the job was defined counts): the scheduler's own database,
// another database of the same server, a named connection, or a connection string.
//
// The login role is the job's owner, always, except for a connection a superuser defined
// with an explicit `user=` (and still a superuser): that mapping is the superuser's trust
// decision, usable by the roles it was granted to. Nobody else can make a step log in as
// another role, whatever host name reaches which server.
import { parseConninfo, type WorkDefinition } from "../core/index.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

export interface SqlTarget {
  /** Another database of the scheduler's server, or null. */
  database: string | null;
  /** The named connection used, or null (for messages and metrics). */
  connection: string | null;
  /** The connection string to use (from the connection or the step), or null. */
  conninfo: string | null;
  /** Which server the step expects: a primary (writable), a standby, or any. */
  server_role: "primary" | "standby" | "any";
  /**
   * When the server is not in that role: fail the step, or skip it with the reason
   * (skip_run: and the rest of the run, decided by the step graph from the definition).
   */
  on_role_mismatch: "fail" | "skip" | "skip_run";
}

interface ConnectionRow {
  name: string;
  conninfo: string;
  server_role: SqlTarget["server_role"];
  on_role_mismatch: "fail" | "skip";
  owner: string;
  owner_is_superuser: boolean;
  usable: boolean;
}

/**
 * The target of an SQL step and the role it logs in as, or why it may not run there. The
 * step's own server_role and on_role_mismatch, where it has them, win over its connection's.
 */
export function resolveTarget(def: WorkDefinition, owner: string, currentDatabase: string): { login: string; target: SqlTarget } | { refusal: string } {
  const resolved = resolveConnection(def, owner, currentDatabase);
  if ("refusal" in resolved) return resolved;
  const target = { ...resolved.target };
  if (def.serverRole !== null) target.server_role = def.serverRole;
  if (def.onRoleMismatch !== null) target.on_role_mismatch = def.onRoleMismatch;
  return { login: resolved.login, target };
}

function resolveConnection(def: WorkDefinition, owner: string, currentDatabase: string): { login: string; target: SqlTarget } | { refusal: string } {
  const none: SqlTarget = { database: null, connection: null, conninfo: null, server_role: "any", on_role_mismatch: "fail" };
  if (def.database !== null) {
    return { login: owner, target: def.database === currentDatabase ? none : { ...none, database: def.database } };
  }
  if (def.conninfo !== null) {
    const user = userOf(def.conninfo);
    if (user !== null && user !== owner && !(execute(SQL.isSuperuser, [owner])[0] as { superuser: boolean }).superuser) {
      return { refusal: `the step's conninfo logs in as "${user}", which only a superuser's job may do, and ${owner} is not one (any more)` };
    }
    return { login: user ?? owner, target: { ...none, conninfo: def.conninfo } };
  }
  if (def.connection !== null) {
    const row = execute(SQL.connectionForRole, [def.connection, owner])[0] as ConnectionRow | undefined;
    if (row === undefined) return { refusal: `connection "${def.connection}" no longer exists` };
    if (!row.usable) return { refusal: `role ${owner} may no longer use connection "${def.connection}" (its owner ${row.owner} can grant it with clockwork.grant_connection)` };
    const user = userOf(row.conninfo);
    let login = owner;
    if (user !== null && user !== owner) {
      if (!row.owner_is_superuser) {
        return { refusal: `connection "${row.name}" logs in as "${user}", which only a superuser's connection may do, and its owner ${row.owner} is not one (any more)` };
      }
      login = user;
    }
    return {
      login,
      target: { database: null, connection: row.name, conninfo: row.conninfo, server_role: row.server_role, on_role_mismatch: row.on_role_mismatch },
    };
  }
  return { login: owner, target: none };
}

function userOf(conninfo: string): string | null {
  const parsed = parseConninfo(conninfo);
  return parsed.ok ? parsed.params.user ?? null : null;
}
