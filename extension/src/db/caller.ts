// The role a client acts as, and what it may do (see extension/sql/20_callers.sql).
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

