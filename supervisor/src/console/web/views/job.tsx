// One job: its schedules with the next fire times, its steps, its actions, and its runs
// newest first (paged by run id).
import { query, usePoll, type ApiError } from "../api.ts";
import { ActionButton, actions, Badge, ErrorBox, Loading, When } from "../components.tsx";
import { duration } from "../format.ts";
import { navigate, type Route } from "../router.ts";

export interface RunRow {
  id: string;
  trigger: string;
  slot_at: string | null;
  state: string;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  start_lag_ms: number | null;
  reason: string | null;
  params: Record<string, unknown>;
  retry_of: string | null;
  steps_total: number;
  steps_succeeded: number;
  steps_failed: number;
}

interface GraphStep { name: string; kind: string; connection: string | null; depends: string[]; when: string | null; onError: string; matrix: Record<string, unknown[]> | null }

interface JobDetail {
  job: { id: string; name: string; owner: string; enabled: boolean; version: number; created_at: string; updated_at: string };
  graph: { steps: GraphStep[]; checks: GraphStep[]; parameters: Record<string, unknown>; description: string | null; timeZone: string };
  schedules: { position: number; kind: string; description: string; time_zone: string; next_fire_at: string | null; last_slot_at: string | null }[];
  nextRuns: { fire_at: string; description: string }[];
  nextRunsError: string | null;
  runs: RunRow[];
  pageSize: number;
}

export function RunsTable(props: { runs: RunRow[]; lateAfterMs: number }) {
  return (
    <div class="table-wrap">
      <table class="runs">
        <thead>
          <tr><th>Run</th><th>State</th><th>Trigger</th><th>Slot / created</th><th>Started</th><th>Duration</th><th class="hide-sm">Steps</th><th class="hide-sm">Why it ended</th></tr>
        </thead>
        <tbody>
          {props.runs.map((r) => (
            <tr key={r.id} class="clickable" data-run={r.id} onClick={() => navigate(`/runs/${r.id}`)}>
              <td><a href={`#/runs/${r.id}`}>#{r.id}</a>{r.retry_of && <span class="muted small"> retry of #{r.retry_of}</span>}</td>
              <td><Badge state={r.state} /></td>
              <td>{r.trigger}</td>
              <td class="nowrap"><When at={r.slot_at ?? r.created_at} /></td>
              <td class="nowrap">
                <When at={r.started_at} />
                {r.start_lag_ms !== null && r.start_lag_ms > props.lateAfterMs && <span class="late-tag" title="started long after its slot"> late {duration(r.start_lag_ms)}</span>}
              </td>
              <td class="nowrap">{duration(r.duration_ms)}</td>
              <td class="hide-sm nowrap">{r.steps_succeeded}/{r.steps_total}{r.steps_failed > 0 && <span class="bad-text"> · {r.steps_failed} failed</span>}</td>
              <td class="hide-sm reason">{r.reason ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function JobView(props: { route: Route; id: string; lateAfterMs: number }) {
  const before = props.route.params.get("before");
  const { data, error, loading } = usePoll<JobDetail>(`/api/jobs/${props.id}${query({ before })}`);
  if (!data) return <section>{loading ? <Loading /> : <ErrorBox error={error as ApiError} />}</section>;
  const { job, schedules, nextRuns, runs } = data;
  const def = data.graph;
  const steps = def.steps;
  const oldest = runs[runs.length - 1];
  return (
    <section>
      <header class="page-head">
        <div>
          <div class="crumbs"><a href="#/jobs">Jobs</a> /</div>
          <h1>{job.name} {!job.enabled && <Badge state="paused" />}</h1>
          <div class="sub">{def.description ? `${def.description} · ` : ""}owner {job.owner} · version {job.version} · time zone {def.timeZone}</div>
        </div>
        <div class="head-actions">
          <ActionButton action={actions.runNow(job.name, def.parameters)} />
          {job.enabled ? <ActionButton action={actions.pause(job.name)} /> : <ActionButton action={actions.resume(job.name)} />}
        </div>
      </header>
      <ErrorBox error={error} what="Refresh failed" />
      <div class="grid two">
        <div class="card">
          <h2>Schedules</h2>
          {schedules.length === 0 && <p class="muted">No schedule: this job runs only when started.</p>}
          <ul class="plain">
            {schedules.map((s) => (
              <li key={s.position}>
                <div class="schedule">{s.description}</div>
                <div class="muted small">{s.kind} · {s.time_zone}{s.last_slot_at && <> · last slot <When at={s.last_slot_at} /></>}</div>
              </li>
            ))}
          </ul>
          <h3>Next fire times</h3>
          {!job.enabled && <p class="muted">Paused: nothing fires until it is resumed.</p>}
          {job.enabled && nextRuns.length === 0 && <p class="muted">{data.nextRunsError ? `Not shown: ${data.nextRunsError}` : "None."}</p>}
          <ol class="next-runs">
            {job.enabled && nextRuns.map((n, i) => <li key={i}><When at={n.fire_at} /> <span class="muted small">(<When at={n.fire_at} relative />)</span></li>)}
          </ol>
        </div>
        <div class="card">
          <h2>Steps</h2>
          <ol class="steps-list">
            {steps.map((s) => (
              <li key={s.name}>
                <b>{s.name}</b> <span class="kind">{s.kind}{s.connection ? ` @ ${s.connection}` : ""}</span>
                {s.depends.length > 0 && <span class="muted small"> after {s.depends.join(", ")}</span>}
                {s.matrix && <span class="muted small"> · matrix {Object.entries(s.matrix).map(([k, v]) => `${k}=${v.join("|")}`).join(" ")}</span>}
                {s.when && <span class="muted small"> · when {s.when}</span>}
              </li>
            ))}
          </ol>
          {def.checks.length > 0 && <p class="muted small">Checks: {def.checks.map((c) => c.name).join(", ")}</p>}
          {Object.keys(def.parameters).length > 0 && (
            <p class="muted small">Parameters: {Object.entries(def.parameters).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}</p>
          )}
          <p class="small"><a href={`#/skipped?job=${job.id}`}>Skipped slots of this job</a> · <a href={`#/timeline?q=${encodeURIComponent(job.name)}`}>Timeline</a></p>
        </div>
      </div>
      <h2>Runs</h2>
      {runs.length === 0 ? <p class="muted">No runs{before ? " before this one" : " yet"}.</p> : <RunsTable runs={runs} lateAfterMs={props.lateAfterMs} />}
      <div class="pager">
        {before && <button class="btn ghost" onClick={() => navigate(props.route.path)}>← Newest</button>}
        {oldest && runs.length === data.pageSize && (
          <button class="btn ghost" onClick={() => navigate(props.route.path, new URLSearchParams({ before: oldest.id }))}>Older →</button>
        )}
      </div>
    </section>
  );
}
