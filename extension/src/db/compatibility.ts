// The extension's side of "one MAJOR.MINOR on both sides" (UPDATING.md): the supervisor
// calling tick must be of this extension's version. The rule itself is SQL,
// clockwork._check_supervisor_version() (extension/sql/40_workers.sql), which
// register_worker calls too; tick asks it once per session and bundle load, so a
// supervisor of the previous version that runs across ALTER EXTENSION UPDATE is refused at
// its next tick (the update replaces the bundle, which resets this flag).
import { execute, sql } from "./query.ts";

const CHECK = sql([], "SELECT clockwork._check_supervisor_version()");
let checked = false;

/** Raises incompatible_version (from SQL) when the calling supervisor is of another version. */
export function checkSupervisorVersion(): void {
  if (checked) return;
  execute(CHECK);
  checked = true;
}
