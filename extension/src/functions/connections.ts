// Named connections: where SQL steps may run instead of the scheduler's own database.
// Any role may define its own; using another's needs a grant from its owner (or a
// superuser). Steps log in as their job's owner, whatever connection they use: only a
// superuser's connection may name another login role (user=), an explicit trust decision,
// usable by the roles it was granted to. Passwords never: the supervisor logs in with what
// is on its machine (docs/sql-steps.md).
import { conninfoProblems, issue, parseConninfo } from "../core/index.ts";
import { callerRights } from "../db/caller.ts";
import { raise, sqlError } from "../db/raise.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const SERVER_ROLES = ["primary", "standby", "any"] as const;
const ON_MISMATCH = ["fail", "skip"] as const;

interface ConnectionRow {
  name: string;
  owner: string;
  may_manage: boolean;
  may_use: boolean;
}

/** The connection if the caller may manage it; raises unknown_connection otherwise (another's is not its business). */
function manageable(name: string): ConnectionRow {
  const row = execute(SQL.connectionForCaller, [name])[0] as ConnectionRow | undefined;
  if (row === undefined || !(row.may_manage || row.may_use)) raise("unknown_connection", "name", `connection "${name}" does not exist`);
  if (!row.may_manage) raise("not_found", "name", `connection "${name}" belongs to ${row.owner}: only its owner (or a superuser) may change it`);
  return row;
}

/** Checks what a connection says, as the role defining it; raises every problem at once. */
function checkFields(conninfo: string | null, serverRole: string | null, onMismatch: string | null): void {
  const rights = callerRights();
  const problems = [];
  if (conninfo !== null) {
    if (conninfo.trim() === "") problems.push(issue("invalid_definition", "conninfo", "must be a libpq connection string"));
    // A named connection is used by other roles' jobs too: a login role in it would be
    // theirs to borrow. Only a superuser may make that trust decision.
    const parsed = parseConninfo(conninfo);
    if (parsed.ok && parsed.params.user !== undefined && !rights.superuser) {
      problems.push(issue("invalid_definition", "conninfo", `user=${parsed.params.user}: steps log in as their job's owner; only a superuser may name a login role in a connection`));
    }
    for (const p of conninfoProblems(conninfo, { owner: parsed.ok ? parsed.params.user ?? rights.role : rights.role, superuser: rights.superuser })) {
      problems.push(issue(p.startsWith("it contains a") ? "password_in_conninfo" : "invalid_definition", "conninfo", p));
    }
  }
  if (serverRole !== null && !(SERVER_ROLES as readonly string[]).includes(serverRole)) {
    problems.push(issue("invalid_argument", "server_role", `server_role must be primary, standby or any, not ${JSON.stringify(serverRole)}`));
  }
  if (onMismatch !== null && !(ON_MISMATCH as readonly string[]).includes(onMismatch)) {
    problems.push(issue("invalid_argument", "on_role_mismatch", `on_role_mismatch must be fail or skip, not ${JSON.stringify(onMismatch)}`));
  }
  if (problems.length > 0) throw sqlError(problems);
}

export const define_connection = sqlFunction({
  name: "define_connection",
  args: "name text, conninfo text, server_role text DEFAULT 'any', on_role_mismatch text DEFAULT 'fail', description text DEFAULT NULL",
  returns: "void",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment:
    "Creates a named connection for SQL steps, or replaces one the caller owns (its grants are kept): a libpq connection string without a password, the server role steps expect (primary, standby or any) and what a step does when the server is not in it (fail or skip).",
  body: (name: string, conninfo: string, serverRole: string | null, onMismatch: string | null, description: string | null): void => {
    if (typeof name !== "string" || !NAME_RE.test(name)) {
      raise("invalid_argument", "name", `connection name ${JSON.stringify(name)} must be 1–64 letters, digits, _ . - (not starting with . or -)`);
    }
    checkFields(conninfo ?? "", serverRole ?? "any", onMismatch ?? "fail");
    const existing = execute(SQL.connectionForCaller, [name])[0] as ConnectionRow | undefined;
    if (existing !== undefined && !existing.may_manage) {
      raise("invalid_argument", "name", `a connection named "${name}" exists and belongs to another role; choose another name`);
    }
    execute(SQL.upsertConnection, [name, conninfo, serverRole ?? "any", onMismatch ?? "fail", description, callerRights().role]);
  },
});

export const alter_connection = sqlFunction({
  name: "alter_connection",
  args: "name text, conninfo text DEFAULT NULL, server_role text DEFAULT NULL, on_role_mismatch text DEFAULT NULL, description text DEFAULT NULL",
  returns: "void",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Changes the given fields of a named connection the caller owns (NULL leaves a field as it is); steps use the change from their next claim.",
  body: (name: string, conninfo: string | null, serverRole: string | null, onMismatch: string | null, description: string | null): void => {
    manageable(name);
    checkFields(conninfo, serverRole, onMismatch);
    execute(SQL.alterConnection, [name, conninfo, serverRole, onMismatch, description]);
  },
});

export const drop_connection = sqlFunction({
  name: "drop_connection",
  args: "name text",
  returns: "void",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Drops a named connection the caller owns; refused while a job's current definition uses it (the message says which).",
  body: (name: string): void => {
    manageable(name);
    const users = execute(SQL.jobsUsingConnection, [name]) as { name: string; visible: boolean }[];
    if (users.length > 0) {
      const named = users.filter((u) => u.visible).map((u) => `"${u.name}"`);
      const others = users.length - named.length;
      const who = [named.length > 0 ? `job${named.length > 1 ? "s" : ""} ${named.join(", ")}` : "", others > 0 ? `${others} job${others > 1 ? "s" : ""} of other roles` : ""].filter(Boolean).join(" and ");
      raise("invalid_state", "", `connection "${name}" is used by ${who}; change or drop them first`);
    }
    execute(SQL.deleteConnection, [name]);
  },
});

/** The role a grant (or, mustExist false, a revoke) names: clockwork._grantee, as for calendars and groups. */
function grantee(role: string, mustExist = true): string {
  return (execute(SQL.grantee, [role, mustExist])[0] as { role: string }).role;
}

export const grant_connection = sqlFunction({
  name: "grant_connection",
  args: "name text, role name",
  returns: "void",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Lets a role (and its members; public for everyone) use a named connection the caller owns in its jobs' SQL steps.",
  body: (name: string, role: string): void => {
    manageable(name);
    execute(SQL.grantConnection, [name, grantee(role)]);
  },
});

export const revoke_connection = sqlFunction({
  name: "revoke_connection",
  args: "name text, role name",
  returns: "void",
  volatility: "volatile",
  security: "definer",
  grant: "public",
  comment: "Takes back a grant of grant_connection; steps of that role's jobs that use the connection fail from their next claim, saying so.",
  body: (name: string, role: string): void => {
    manageable(name);
    execute(SQL.revokeConnection, [name, grantee(role, false)]);
  },
});
