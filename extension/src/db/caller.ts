// The role a client acts as, and what it may do (see extension/sql/20_callers.sql).
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";
import { raise } from "./raise.ts";

export interface CallerRights {
  role: string;
  superuser: boolean;
  may_define_shell: boolean;
  is_supervisor: boolean;
  may_use_network: boolean;
}

export function callerRights(): CallerRights {
  return (execute(SQL.callerRights)[0] as { rights: CallerRights }).rights;
}


/** The calling role, if it may administer alerts (superuser or clockwork_admin); raises otherwise. */
export function requireAdmin(what: string): string {
  const rights = callerRights();
  if (!(execute(SQL.isAdmin)[0] as { admin: boolean }).admin) {
    raise("not_an_admin", "", `role "${rights.role}" may not ${what}: only superusers and members of clockwork_admin may`);
  }
  return rights.role;
}
