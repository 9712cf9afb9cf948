// Jobs: every job the role may see, by name, with its schedule in words, next fire time,
// last state and a sparkline of its recent runs. Paused and failing jobs stand out.
import { query, usePoll } from "../api.ts";
import { ActionButton, actions, Badge, Empty, ErrorBox, Loading, Pager, Sparkline, When, type SparkRun } from "../components.tsx";
import { FAILED_STATES, plural } from "../format.ts";
import { navigate, type Route } from "../router.ts";

export interface JobRow {
  id: string;
  name: string;
  owner: string;
  enabled: boolean;
  version: number;
  description: string | null;
  schedules: string[] | null;
  time_zones: string[] | null;
  next_fire_at: string | null;
  active_runs: number;
  recent: SparkRun[];
}

interface Summary {
  jobs: number;
  paused: number;
  active_runs: number;
  failed_24h: number;
  workers_alive: number;
}

export const FILTERS: [string, string][] = [["all", "All"], ["running", "Running"], ["failing", "Failing"], ["paused", "Paused"]];

/** Search box and filter chips, shared by Jobs and Timeline (kept in the address). */
export function JobFilter(props: { route: Route }) {
  const { route } = props;
  const q = route.params.get("q") ?? "";
  const filter = route.params.get("filter") ?? "all";
  const set = (changes: Record<string, string>) => {
    const p = new URLSearchParams(route.params);
    for (const [k, v] of Object.entries(changes)) v ? p.set(k, v) : p.delete(k);
    p.delete("offset");
    navigate(route.path, p, true);
  };
  return (
    <div class="toolbar">
      <input type="search" class="search" placeholder="Search jobs or owners" aria-label="Search jobs" value={q}
        onInput={(e) => set({ q: (e.target as HTMLInputElement).value })} />
      <div class="chips" role="group" aria-label="Filter">
        {FILTERS.map(([value, label]) => (
          <button key={value} class={`chip ${filter === value ? "on" : ""}`} aria-pressed={filter === value}
            onClick={() => set({ filter: value === "all" ? "" : value })}>{label}</button>
        ))}
      </div>
    </div>
  );
}

function SummaryStrip() {
  const { data } = usePoll<Summary>("/api/summary");
  if (!data) return <div class="summary placeholder" />;
  const cards: [string, number, string, string][] = [
    ["Jobs", data.jobs, "", "#/jobs"],
    ["Running now", data.active_runs, data.active_runs > 0 ? "info" : "", "#/jobs?filter=running"],
    ["Failed in 24 h", data.failed_24h, data.failed_24h > 0 ? "bad" : "good", "#/failures?period=24h"],
    ["Paused", data.paused, data.paused > 0 ? "warn" : "", "#/jobs?filter=paused"],
    ["Supervisors alive", data.workers_alive, data.workers_alive === 0 ? "bad" : "good", "#/workers"],
  ];
  return (
    <div class="summary">
      {cards.map(([label, n, tone, href]) => (
        <a class={`stat ${tone}`} href={href} key={label}>
          <span class="n">{n.toLocaleString("en")}</span>
          <span class="label">{label}</span>
        </a>
      ))}
    </div>
  );
}

export function lastState(job: JobRow): string | null {
  return job.recent[0]?.state ?? null;
}

export function JobsView(props: { route: Route }) {
  const { route } = props;
  const offset = Number(route.params.get("offset") ?? 0);
  const limit = 50;
  const path = `/api/jobs${query({ q: route.params.get("q"), filter: route.params.get("filter"), offset, limit })}`;
  const { data, error, loading } = usePoll<{ total: number; jobs: JobRow[] }>(path);
  return (
    <section>
      <header class="page-head">
        <h1>Jobs</h1>
      </header>
      <SummaryStrip />
      <JobFilter route={route} />
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.jobs.length === 0 && <Empty>No jobs match. Define one with <code>clockwork.schedule(…)</code> or <code>clockwork.define_job(…)</code>.</Empty>}
      {data && data.jobs.length > 0 && (
        <div class="table-wrap">
          <table class="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th class="hide-sm">Schedule</th>
                <th>Next</th>
                <th>Last</th>
                <th class="hide-sm">Recent runs</th>
                <th class="hide-sm"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {data.jobs.map((job) => {
                const last = lastState(job);
                return (
                  <tr key={job.id} data-job={job.name}
                    class={`${job.enabled ? "" : "paused"} ${last !== null && FAILED_STATES.has(last) ? "failing" : ""} clickable`}
                    onClick={(e) => (e.target as HTMLElement).closest("a,button") || navigate(`/jobs/${job.id}`)}>
                    <td class="job-cell">
                      <a class="job-name" href={`#/jobs/${job.id}`}>{job.name}</a>
                      {!job.enabled && <Badge state="paused" />}
                      {job.active_runs > 0 && <Badge state="running" label={job.active_runs > 1 ? `${job.active_runs} running` : "running"} />}
                      <div class="sub">{job.description ?? ""}{job.description ? " · " : ""}owner {job.owner}</div>
                      <div class="sub show-sm">{(job.schedules ?? []).join("; ") || "manual only"}</div>
                    </td>
                    <td class="hide-sm">
                      {(job.schedules ?? []).length === 0 ? <span class="muted">manual only</span> :
                        (job.schedules ?? []).map((s, i) => <div key={i} class="schedule">{s}</div>)}
                    </td>
                    <td class="nowrap">{job.enabled ? <When at={job.next_fire_at} due /> : <span class="muted">paused</span>}</td>
                    <td class="nowrap">
                      {last ? <><Badge state={last} /> <span class="muted small"><When at={job.recent[0]?.at} relative /></span></> : <span class="muted">never ran</span>}
                    </td>
                    <td class="hide-sm"><Sparkline runs={job.recent} /></td>
                    <td class="hide-sm actions-cell">
                      <ActionButton small action={actions.runNow(job.name, {})} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <Pager offset={offset} limit={limit} total={data.total} noun={data.total === 1 ? "job" : "jobs"}
          onChange={(o) => { const p = new URLSearchParams(route.params); p.set("offset", String(o)); navigate(route.path, p); }} />
      )}
      {data && data.total > 0 && <p class="muted small foot">{plural(data.total, "job")} visible to this role.</p>}
    </section>
  );
}
