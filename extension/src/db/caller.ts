// The role a client acts as, and what it may do (see extension/sql/20_callers.sql).
import { raise } from "./raise.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

export interface CallerRights {
  role: string;
  superuser: boolean;
  may_define_shell: boolean;
  is_supervisor: boolean;
}

export function callerRights(): CallerRights {
  return (execute(SQL.callerRights)[0] as { rights: CallerRights }).rights;
}

export function requireSupervisor(): void {
  const { ok } = execute(SQL.isSupervisor)[0] as { ok: boolean };
  if (!ok) raise("not_a_supervisor", "", `role "${callerRights().role}" may not act as a Clockwork supervisor`);
}
