// Workers: the supervisors this database knows, their health from the heartbeat, the
// leases they hold (the running steps this role may see) and their start lag.
import { usePoll } from "../api.ts";
import { Badge, Empty, ErrorBox, Loading, When } from "../components.tsx";
import { duration } from "../format.ts";

interface Worker {
  id: string; name: string; host: string | null; pid: number | null; labels: string[];
  started_at: string; heartbeat_at: string; stopped_at: string | null;
  health: "alive" | "late" | "silent" | "stopped"; heartbeat_age_ms: number;
  leases: number; next_expiry: string | null;
  steps: { id: string; run_id: string; job: string; instance: string; attempt: number; started_at: string; lease_expires_at: string }[];
  starts: number; median_lag_ms: number | null; max_lag_ms: number | null;
}

const HEALTH: Record<Worker["health"], string> = {
  alive: "heartbeating on time",
  late: "a heartbeat is late",
  silent: "no heartbeat for a whole lease: its steps are being taken over",
  stopped: "shut down cleanly",
};

export function WorkersView() {
  const { data, error, loading } = usePoll<{ workers: Worker[] }>("/api/workers");
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Workers</h1>
          <div class="sub">Supervisors registered in this database. Health comes from heartbeats; lag is how long after its slot a scheduled run's first step started (last 15 minutes).</div>
        </div>
      </header>
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.workers.length === 0 && <Empty>No supervisor has registered. Start one: <code>clockwork supervisor</code>.</Empty>}
      <div class="workers">
        {data?.workers.map((w) => (
          <article class={`card worker h-${w.health}`} key={w.id} data-worker={w.name} data-health={w.health}>
            <header>
              <h2>{w.name}</h2>
              <Badge state={w.health === "alive" ? "succeeded" : w.health === "stopped" ? "cancelled" : "failed"} label={w.health} title={HEALTH[w.health]} />
            </header>
            <dl class="facts">
              <div><dt>Host</dt><dd>{w.host ?? "—"}{w.pid ? ` · pid ${w.pid}` : ""}</dd></div>
              <div><dt>Started</dt><dd><When at={w.started_at} /></dd></div>
              <div><dt>Heartbeat</dt><dd>{w.stopped_at ? <>stopped <When at={w.stopped_at} relative /></> : <When at={w.heartbeat_at} relative />}</dd></div>
              <div><dt>Leases</dt><dd>{w.leases}{w.next_expiry && <span class="muted small"> · next expiry <When at={w.next_expiry} relative /></span>}</dd></div>
              <div><dt>Start lag</dt><dd>{w.median_lag_ms === null ? <span class="muted">no scheduled starts</span> : <>median {duration(w.median_lag_ms)}, max {duration(w.max_lag_ms)} <span class="muted small">({w.starts} starts)</span></>}</dd></div>
              {w.labels.length > 0 && <div><dt>Labels</dt><dd>{w.labels.map((l) => <code key={l} class="param">{l}</code>)}</dd></div>}
            </dl>
            {w.steps.length > 0 && (
              <ul class="leases">
                {w.steps.map((s) => (
                  <li key={s.id}><a href={`#/runs/${s.run_id}`}>{s.job} #{s.run_id}</a> · {s.instance}{s.attempt > 1 ? ` (attempt ${s.attempt})` : ""} · since <When at={s.started_at} /></li>
                ))}
              </ul>
            )}
          </article>
        ))}
      </div>
    </section>
  );
}
