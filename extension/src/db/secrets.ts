// Which supervisor secrets (CLOCKWORK_SECRET_* names) a role's jobs may name in built-ins:
// granted by an administrator (grant_secret), checked when a job is defined and again when
// its step is claimed, so a revoked grant stops the next run.
import { execute } from "./query.ts";
import { SQL } from "./statements.ts";

/** A predicate over secret names for one role (one query). */
export function secretsUsableBy(role: string): (name: string) => boolean {
  const row = execute(SQL.secretsUsableBy, [role])[0] as { usable: { all: boolean; secrets: string[] } | null } | undefined;
  const usable = row?.usable ?? { all: false, secrets: [] };
  if (usable.all) return () => true;
  const names = new Set(usable.secrets);
  return (name) => names.has(name);
}
