// Skipped slots: slots that came due but did not become a run, with the reason in words;
// and, where the SQL API has clockwork.explain, the answer for any job and time.
import { useState } from "preact/hooks";
import { getJson, query, RequestFailed, usePoll, type ApiError } from "../api.ts";
import { Empty, ErrorBox, Loading, When } from "../components.tsx";
import { navigate, type Route } from "../router.ts";

/** One skipped slot, or a range of consecutive ones skipped for one reason (`slots`: how many, null when past counting). */
interface Slot { job_id: string; job: string; position: number; schedule: string; slot_at: string; last_slot_at: string; slots: number | null; reason: string; explanation: string; recorded_at: string }

function Explain() {
  const [job, setJob] = useState("");
  const [at, setAt] = useState("");
  const [answer, setAnswer] = useState<unknown[] | null>(null);
  const [error, setError] = useState<ApiError | undefined>();
  const ask = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const { value } = await getJson<{ explanations: unknown[] }>(`/api/explain${query({ job, at: new Date(at).toISOString() })}`);
      setAnswer(value.explanations);
    } catch (err) {
      setAnswer(null);
      setError(err instanceof RequestFailed ? err.error : { message: String(err), status: 0 });
    }
  };
  return (
    <form class="card explain" onSubmit={ask}>
      <h2>Explain a slot</h2>
      <p class="muted small">Asks <code>clockwork.explain(job, at)</code> what happened, or will happen, at that time.</p>
      <div class="row">
        <input placeholder="job" aria-label="job" value={job} onInput={(e) => setJob((e.target as HTMLInputElement).value)} required />
        <input type="datetime-local" step="1" aria-label="time" value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} required />
        <button class="btn primary">Explain</button>
      </div>
      <ErrorBox error={error} what="Explain failed" />
      {answer && answer.map((a, i) => <pre key={i} class="explanation">{JSON.stringify(a, null, 2)}</pre>)}
    </form>
  );
}

export function SkippedView(props: { route: Route; hasExplain: boolean }) {
  const { route } = props;
  const job = route.params.get("job");
  const before = route.params.get("before");
  const { data, error, loading } = usePoll<{ slots: Slot[]; pageSize: number }>(`/api/skipped${query({ job, before })}`);
  const oldest = data?.slots[data.slots.length - 1];
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Skipped slots</h1>
          <div class="sub">Slots that came due and did not become a run, with the policy that decided it.</div>
        </div>
      </header>
      {props.hasExplain && <Explain />}
      {job && <p class="small">Showing one job. <a href="#/skipped">Show all jobs</a></p>}
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.slots.length === 0 && <Empty>No skipped slots{job ? " for this job" : ""}. Every slot that came due became a run.</Empty>}
      {data && data.slots.length > 0 && (
        <div class="table-wrap">
          <table class="skipped">
            <thead><tr><th>Slot</th><th>Job</th><th>Schedule</th><th>Why it did not run</th><th class="hide-sm">Decided</th></tr></thead>
            <tbody>
              {data.slots.map((s) => (
                <tr key={`${s.job_id}-${s.position}-${s.slot_at}`} data-reason={s.reason}>
                  <td class="nowrap">
                    <When at={s.slot_at} />
                    {s.last_slot_at !== s.slot_at && <> … <When at={s.last_slot_at} /><div class="muted small">{s.slots === null ? "more than 10 000 slots" : `${s.slots.toLocaleString("en")} slots`}</div></>}
                  </td>
                  <td><a href={`#/jobs/${s.job_id}`}>{s.job}</a></td>
                  <td>{s.schedule}</td>
                  <td><code class="reason-code">{s.reason}</code> <span class="muted small">{s.explanation}</span></td>
                  <td class="hide-sm nowrap muted"><When at={s.recorded_at} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="pager">
        {before && <button class="btn ghost" onClick={() => navigate(route.path, new URLSearchParams(job ? { job } : {}))}>← Newest</button>}
        {oldest && data && data.slots.length === data.pageSize && (
          <button class="btn ghost" onClick={() => navigate(route.path, new URLSearchParams({ ...(job ? { job } : {}), before: oldest.slot_at }))}>Older →</button>
        )}
      </div>
    </section>
  );
}
