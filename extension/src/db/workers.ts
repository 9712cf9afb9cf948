// The worker a supervisor call names. A supervisor names its incarnation by id (start_worker
// returned it): a process that a newer incarnation replaced, or one found gone, is refused
// with worker_ended and can neither claim, extend nor report anything. Tools and
// tests may name a worker by name: its current incarnation. See extension/sql/40_workers.sql.
import { raise } from "./raise.ts";
import { SQL } from "./statements.ts";
import { execute } from "./query.ts";

export interface CallingWorker {
  id: string;
  name: string;
  labels: string[];
  /** A dedicated worker's pinning label (`node:<name>`), else null. */
  pinned_to: string | null;
}

/** A worker as a supervisor call names it: an incarnation id (bigint) or a name. */
export type WorkerRef = { id: string } | { name: string };

/** The current incarnation a call names, marked alive at `now`; raises when there is none. */
export function callingWorker(ref: WorkerRef, now: Date): CallingWorker {
  if ("name" in ref) {
    const me = execute(SQL.workerByName, [ref.name, now])[0] as CallingWorker | undefined;
    if (me === undefined) raise("unknown_worker", "worker", `unknown worker "${ref.name}": call clockwork.register_worker first`);
    return me;
  }
  const me = execute(SQL.workerById, [ref.id, now])[0] as CallingWorker | undefined;
  if (me !== undefined) return me;
  const ended = execute(SQL.endedWorker, [ref.id])[0] as
    { name: string; stopped_at: Date; holder_id: string | null; holder_pid: number | null; holder_host: string | null } | undefined;
  if (ended === undefined) raise("worker_ended", "worker_id", `unknown worker incarnation ${ref.id}: it ended and was removed, or never registered`);
  const holder = ended.holder_id === null ? "the name is free"
    : `the name is held by incarnation ${ended.holder_id} (pid ${ended.holder_pid ?? "?"} on ${ended.holder_host ?? "?"})`;
  return raise("worker_ended", "worker_id", `worker incarnation ${ref.id} ("${ended.name}") ended at ${ended.stopped_at.toISOString()}; ${holder}`);
}

/** The current incarnation's id for a name or id, or null (complete_step refuses then). */
export function currentWorkerId(ref: WorkerRef): string | null {
  if ("id" in ref) return ref.id;
  const row = execute(SQL.currentWorkerIdByName, [ref.name])[0] as { id: string } | undefined;
  return row?.id ?? null;
}
