// Failures: failed runs of a recent period grouped by job, the most recent first, each
// with the error of its latest failure and whether the job has recovered since.
import { query, usePoll } from "../api.ts";
import { ActionButton, actions, Badge, Empty, ErrorBox, Loading, Pager, When } from "../components.tsx";
import { FAILED_STATES } from "../format.ts";
import { navigate, type Route } from "../router.ts";

interface FailureGroup {
  job_id: string; job: string; owner: string; enabled: boolean; failures: number;
  last_failed_at: string; last_run_id: string; last_state: string; reason: string | null;
  step: string | null; instance: string | null; attempt: number | null; error: string | null;
  exit_code: number | null; sql_state: string | null; stderr_tail: string | null;
  latest_state: string; latest_run_id: string;
  recent: { id: string; state: string; at: string; reason: string | null }[];
}

const PERIODS: [string, string][] = [["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];

export function FailuresView(props: { route: Route }) {
  const { route } = props;
  const period = route.params.get("period") ?? "7d";
  const offset = Number(route.params.get("offset") ?? 0);
  const { data, error, loading } = usePoll<{ total: number; groups: FailureGroup[] }>(`/api/failures${query({ period, offset })}`);
  return (
    <section>
      <header class="page-head">
        <h1>Failures</h1>
        <div class="chips" role="group" aria-label="Period">
          {PERIODS.map(([value, label]) => (
            <button key={value} class={`chip ${period === value ? "on" : ""}`} aria-pressed={period === value}
              onClick={() => navigate(route.path, new URLSearchParams({ period: value }), true)}>{label}</button>
          ))}
        </div>
      </header>
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.groups.length === 0 && <Empty>No failed runs in the last {PERIODS.find((p) => p[0] === period)?.[1]}.</Empty>}
      <div class="failure-groups">
        {data?.groups.map((g) => {
          const recovered = g.latest_state === "succeeded";
          return (
            <article class={`card failure ${recovered ? "recovered" : ""}`} key={g.job_id} data-job={g.job}>
              <header>
                <h2><a href={`#/jobs/${g.job_id}`}>{g.job}</a></h2>
                <span class="count">{g.failures.toLocaleString("en")} failed run{g.failures === 1 ? "" : "s"}</span>
                {recovered ? <Badge state="succeeded" label="recovered" title="its latest run succeeded" /> : <Badge state={g.latest_state} label={FAILED_STATES.has(g.latest_state) ? "still failing" : g.latest_state} />}
                {!g.enabled && <Badge state="paused" />}
                <span class="grow" />
                <ActionButton small action={actions.retry(g.last_run_id)} />
              </header>
              <div class="latest">
                <div class="muted small">Latest: <a href={`#/runs/${g.last_run_id}`}>run #{g.last_run_id}</a>, <When at={g.last_failed_at} relative /> · owner {g.owner}</div>
                {g.step && (
                  <div class="error-line">
                    <b>{g.instance ?? g.step}</b>{g.attempt && g.attempt > 1 ? ` (attempt ${g.attempt})` : ""}:{" "}
                    {g.sql_state && <code class="sqlstate">{g.sql_state}</code>}{" "}
                    {g.exit_code !== null && <span class="muted">exit {g.exit_code} · </span>}
                    {g.error ?? g.reason ?? "failed"}
                  </div>
                )}
                {!g.step && g.reason && <div class="error-line">{g.reason}</div>}
                {g.stderr_tail && <pre class="stderr-tail">{g.stderr_tail}</pre>}
              </div>
              {g.recent.length > 1 && (
                <ul class="recent-failures">
                  {g.recent.map((r) => (
                    <li key={r.id}><a href={`#/runs/${r.id}`}>#{r.id}</a> <When at={r.at} />{r.state === "timed_out" && <> <Badge state="timed_out" label="timed out" /></>} <span class="muted small">{r.reason ?? ""}</span></li>
                  ))}
                </ul>
              )}
            </article>
          );
        })}
      </div>
      {data && <Pager offset={offset} limit={50} total={data.total} noun="failing jobs"
        onChange={(o) => navigate(route.path, new URLSearchParams({ period, offset: String(o) }))} />}
    </section>
  );
}
