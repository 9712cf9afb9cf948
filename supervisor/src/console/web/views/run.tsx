// One run: why it ended, its parameters, the step graph with each step's state and
// instances, every attempt with its worker, exit code or SQL error, result rows and
// output, which streams while the step runs.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { getJson, query, usePoll, type ApiError } from "../api.ts";
import { ActionButton, actions, Badge, ErrorBox, Loading, When } from "../components.tsx";
import { duration, FAILED_STATES, FINAL_STATES } from "../format.ts";

interface StepRun {
  id: string;
  step: string;
  instance: string;
  phase: "step" | "check";
  kind: string;
  matrix: Record<string, unknown>;
  params: Record<string, unknown>;
  attempt: number;
  state: string;
  worker: string | null;
  ready_at: string | null;
  lease_expires_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  sql_state: string | null;
  error: string | null;
  result: Record<string, unknown>[] | null;
  output_truncated: boolean;
  stdout_length: number;
  stderr_length: number;
  stdout_tail: string;
  stderr_tail: string;
}

interface GraphStep {
  name: string;
  kind: string;
  connection: string | null;
  depends: string[];
  when: string | null;
  onError: string;
  matrix: Record<string, unknown[]> | null;
}

interface RunDetail {
  run: {
    id: string; job_id: string; job: string; owner: string; job_version: number; trigger: string; slot_at: string | null;
    params: Record<string, unknown>; state: string; created_at: string; queued_at: string | null; started_at: string | null; finished_at: string | null;
    duration_ms: number | null; start_lag_ms: number | null; reason: string | null; wake_at: string | null; cancel_requested_at: string | null;
    retry_of: string | null; retried_as: string[] | null;
  };
  steps: StepRun[];
  graph: { steps: GraphStep[]; checks: { name: string; kind: string }[] };
}

/** The latest attempt of each instance of a step. */
function latestByInstance(runs: StepRun[]): StepRun[] {
  const latest = new Map<string, StepRun>();
  for (const r of runs) {
    const seen = latest.get(r.instance);
    if (!seen || r.attempt > seen.attempt || (r.attempt === seen.attempt && Number(r.id) > Number(seen.id))) latest.set(r.instance, r);
  }
  return [...latest.values()];
}

/** A step's state from its instances: running if any runs, failed if any failed, … */
function stepState(instances: StepRun[], runFinal: boolean): string {
  if (instances.length === 0) return runFinal ? "not-run" : "pending";
  const states = new Set(instances.map((i) => i.state));
  for (const s of ["running", "ready", "failed", "timed_out", "lost", "cancelled"]) if (states.has(s)) return s;
  if (states.has("succeeded")) return "succeeded";
  return instances[0]!.state;
}

function Graph(props: { detail: RunDetail }) {
  const { graph, steps, run } = props.detail;
  const runFinal = FINAL_STATES.has(run.state);
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen = new Set<string>()): number => {
    if (depth.has(name)) return depth.get(name)!;
    if (seen.has(name)) return 0;
    seen.add(name);
    const s = graph.steps.find((x) => x.name === name);
    const d = s && s.depends.length > 0 ? 1 + Math.max(...s.depends.map((p) => depthOf(p, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  graph.steps.forEach((s) => depthOf(s.name));
  const columns: GraphStep[][] = [];
  for (const s of graph.steps) (columns[depth.get(s.name)!] ??= []).push(s);
  const box = useRef<HTMLDivElement>(null);
  const [edges, setEdges] = useState<{ d: string; toCheck: boolean }[]>([]);
  const [size, setSize] = useState({ w: 0, h: 0 });
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const origin = el.getBoundingClientRect();
    const at = (name: string) => el.querySelector(`[data-node="${CSS.escape(name)}"]`)?.getBoundingClientRect();
    const paths: { d: string; toCheck: boolean }[] = [];
    for (const s of graph.steps) {
      const to = at(s.name);
      for (const d of s.depends) {
        const from = at(d);
        if (!from || !to) continue;
        const x1 = from.right - origin.left, y1 = from.top + from.height / 2 - origin.top;
        const x2 = to.left - origin.left, y2 = to.top + to.height / 2 - origin.top;
        const mid = (x1 + x2) / 2;
        paths.push({ d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, toCheck: false });
      }
    }
    // Checks run after every step: dashed edges from the steps nothing depends on.
    const sinks = graph.steps.filter((s) => !graph.steps.some((o) => o.depends.includes(s.name)));
    for (const c of graph.checks) {
      const to = at(`check:${c.name}`);
      for (const s of sinks) {
        const from = at(s.name);
        if (!from || !to) continue;
        const x1 = from.right - origin.left, y1 = from.top + from.height / 2 - origin.top;
        const x2 = to.left - origin.left, y2 = to.top + to.height / 2 - origin.top;
        const mid = (x1 + x2) / 2;
        paths.push({ d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, toCheck: true });
      }
    }
    setEdges(paths);
    setSize({ w: el.scrollWidth, h: el.scrollHeight });
  }, [props.detail]);
  const checkRuns = steps.filter((s) => s.phase === "check");
  return (
    <div class="graph" ref={box}>
      <svg class="edges" width={size.w} height={size.h} aria-hidden="true">
        {edges.map((e, i) => <path key={i} d={e.d} class={e.toCheck ? "to-check" : ""} />)}
      </svg>
      {columns.map((col, i) => (
        <div class="graph-col" key={i}>
          {col.map((s) => {
            const runs = steps.filter((r) => r.phase === "step" && r.step === s.name);
            const instances = latestByInstance(runs);
            const state = stepState(instances, runFinal);
            const attempts = Math.max(0, ...runs.map((r) => r.attempt));
            return (
              <div class={`node n-${state}`} data-node={s.name} data-state={state} key={s.name}>
                <div class="node-head"><b>{s.name}</b> <span class="kind" title={s.connection ? `on connection ${s.connection}` : undefined}>{s.kind}{s.connection ? ` @ ${s.connection}` : ""}</span></div>
                <div class="node-state"><Badge state={state} label={state.replace("-", " ")} />{attempts > 1 && <span class="muted small"> {attempts} attempts</span>}</div>
                {s.when && <div class="muted small" title="condition">when {s.when}</div>}
                {s.matrix && (
                  <div class="instances">
                    {instances.length === 0 && <span class="muted small">{Object.entries(s.matrix).map(([k, v]) => `${k}: ${v.join(", ")}`).join(" · ")}</span>}
                    {instances.map((i) => (
                      <span class={`inst s-${i.state}`} key={i.instance} title={`${i.instance}: ${i.state}, attempt ${i.attempt}`}>
                        {Object.values(i.matrix).join(" ") || i.instance}
                      </span>
                    ))}
                  </div>
                )}
              </div>
            );
          })}
        </div>
      ))}
      {graph.checks.length > 0 && (
        <div class="graph-col checks-col">
          {graph.checks.map((c) => {
            const instances = latestByInstance(checkRuns.filter((r) => r.step === c.name));
            const state = stepState(instances, runFinal);
            return (
              <div class={`node check n-${state}`} data-node={`check:${c.name}`} data-state={state} key={c.name}>
                <div class="node-head"><span class="check-mark">✓</span> <b>{c.name}</b> <span class="kind">check</span></div>
                <div class="node-state"><Badge state={state} label={state.replace("-", " ")} /></div>
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}

/** A step's output: the tail sent with the run, then the rest as it is written. */
function Output(props: { runId: string; step: StepRun }) {
  const s = props.step;
  const [out, setOut] = useState({ stdout: s.stdout_tail, stderr: s.stderr_tail, skipped: s.stdout_length - s.stdout_tail.length });
  // Characters of each stream shown so far: where the next chunk starts.
  const at = useRef({ stdout: s.stdout_length, stderr: s.stderr_length });
  const live = s.state === "running";
  const pre = useRef<HTMLPreElement>(null);
  // The run's own poll may carry more than this component streamed (the last chunk comes
  // with the step's completion): then its tail replaces what is shown.
  useEffect(() => {
    if (s.stdout_length > at.current.stdout || s.stderr_length > at.current.stderr) {
      at.current = { stdout: s.stdout_length, stderr: s.stderr_length };
      setOut({ stdout: s.stdout_tail, stderr: s.stderr_tail, skipped: s.stdout_length - s.stdout_tail.length });
    }
  }, [s.stdout_length, s.stderr_length]);
  useEffect(() => {
    if (!live) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      try {
        const from = at.current;
        const { value } = await getJson<{ state: string; stdout: string; stderr: string; stdout_length: number; stderr_length: number }>(
          `/api/runs/${props.runId}/output${query({ step_run: s.id, stdout_from: from.stdout, stderr_from: from.stderr })}`);
        if (stopped) return;
        // Another update may have moved on meanwhile: append only from where this one asked.
        if ((value.stdout || value.stderr) && at.current === from) {
          at.current = { stdout: from.stdout + value.stdout.length, stderr: from.stderr + value.stderr.length };
          setOut((o) => ({ ...o, stdout: o.stdout + value.stdout, stderr: o.stderr + value.stderr }));
        }
        if (value.state !== "running") return;
      } catch {
        /* the run's own poll shows connection trouble */
      }
      if (!stopped) timer = setTimeout(poll, 700);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [live, s.id]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [out.stdout, out.stderr]);
  if (!out.stdout && !out.stderr && !live) return <p class="muted small">No output.</p>;
  return (
    <div class="output">
      {out.skipped > 0 && <div class="muted small">… {out.skipped.toLocaleString("en")} earlier characters not shown</div>}
      <pre ref={pre} data-testid={`output-${s.id}`}>
        {out.stdout}
        {out.stderr && <span class="stderr">{out.stderr}</span>}
        {live && <span class="cursor" aria-label="live">▍</span>}
      </pre>
      {s.output_truncated && <div class="warn-text small">Output was cut at the limit (clockwork.output_limit()).</div>}
    </div>
  );
}

function ResultRows(props: { rows: Record<string, unknown>[] }) {
  const cols = [...new Set(props.rows.flatMap((r) => Object.keys(r)))];
  if (props.rows.length === 0) return <p class="muted small">No rows.</p>;
  return (
    <div class="table-wrap result">
      <table>
        <thead><tr>{cols.map((c) => <th key={c}>{c}</th>)}</tr></thead>
        <tbody>
          {props.rows.slice(0, 20).map((r, i) => (
            <tr key={i}>{cols.map((c) => <td key={c}>{typeof r[c] === "object" && r[c] !== null ? JSON.stringify(r[c]) : String(r[c] ?? "NULL")}</td>)}</tr>
          ))}
        </tbody>
      </table>
      {props.rows.length > 20 && <div class="muted small">{props.rows.length - 20} more rows</div>}
    </div>
  );
}

function Attempt(props: { runId: string; s: StepRun }) {
  const { s } = props;
  const [open, setOpen] = useState(s.state === "running" || s.state === "failed");
  return (
    <div class={`attempt ${open ? "open" : ""}`} data-step-run={s.id} data-state={s.state}>
      <button class="attempt-head" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="caret">{open ? "▾" : "▸"}</span>
        <b>{s.instance}</b>
        {s.phase === "check" && <span class="kind">check</span>}
        <span class="muted small">attempt {s.attempt}</span>
        <Badge state={s.state} />
        <span class="grow" />
        <span class="muted small hide-sm">{s.worker ?? ""}</span>
        <span class="muted small nowrap">{s.state === "running" ? <>since <When at={s.started_at} /></> : duration(s.duration_ms)}</span>
      </button>
      {open && (
        <div class="attempt-body">
          <dl class="facts">
            <div><dt>Kind</dt><dd>{s.kind}</dd></div>
            <div><dt>Worker</dt><dd>{s.worker ?? "—"}</dd></div>
            <div><dt>Started</dt><dd><When at={s.started_at} /></dd></div>
            <div><dt>Finished</dt><dd><When at={s.finished_at} /></dd></div>
            {s.exit_code !== null && <div><dt>Exit code</dt><dd>{s.exit_code}</dd></div>}
            {s.sql_state && <div><dt>SQLSTATE</dt><dd><code>{s.sql_state}</code></dd></div>}
            {s.state === "running" && s.lease_expires_at && <div><dt>Lease until</dt><dd><When at={s.lease_expires_at} /></dd></div>}
            {Object.keys(s.matrix ?? {}).length > 0 && <div><dt>Matrix</dt><dd>{Object.entries(s.matrix).map(([k, v]) => `${k}=${v}`).join(", ")}</dd></div>}
            {Object.keys(s.params ?? {}).length > 0 && <div><dt>Parameters</dt><dd>{Object.entries(s.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}</dd></div>}
          </dl>
          {s.error && <div class="error-line"><b>Error:</b> {s.error}</div>}
          {s.result && <ResultRows rows={s.result} />}
          {s.kind !== "sql" && <Output runId={props.runId} step={s} key={s.id} />}
        </div>
      )}
    </div>
  );
}

export function RunView(props: { id: string; lateAfterMs: number }) {
  const { data, error, loading } = usePoll<RunDetail>(`/api/runs/${props.id}`);
  if (!data) return <section>{loading ? <Loading /> : <ErrorBox error={error as ApiError} />}</section>;
  const { run, steps } = data;
  const active = !FINAL_STATES.has(run.state);
  const late = run.start_lag_ms !== null && run.start_lag_ms > props.lateAfterMs;
  return (
    <section>
      <header class="page-head">
        <div>
          <div class="crumbs"><a href="#/jobs">Jobs</a> / <a href={`#/jobs/${run.job_id}`}>{run.job}</a> /</div>
          <h1>Run #{run.id} <Badge state={run.state} /></h1>
          <div class="sub">
            {run.trigger === "schedule" ? <>slot <When at={run.slot_at} /></> : <>{run.trigger} run</>} · version {run.job_version} · owner {run.owner}
            {run.retry_of && <> · retry of <a href={`#/runs/${run.retry_of}`}>#{run.retry_of}</a></>}
            {run.retried_as && <> · retried as {run.retried_as.map((r) => <a key={r} href={`#/runs/${r}`}>#{r} </a>)}</>}
          </div>
        </div>
        <div class="head-actions">
          {active && <ActionButton action={actions.cancel(run.id)} />}
          {(FAILED_STATES.has(run.state) || run.state === "cancelled") && <ActionButton action={actions.retry(run.id)} />}
        </div>
      </header>
      <ErrorBox error={error} what="Refresh failed" />
      {!active && run.reason && (
        <div class={`reason-box s-${run.state}`} data-testid="run-reason"><b>Why it ended:</b> {run.reason}</div>
      )}
      {active && (
        <div class="reason-box s-running" data-testid="run-reason">
          {run.state === "waiting" ? <><b>Waiting:</b> {run.reason ?? "held back by its overlap policy"}</> : <>In progress{run.reason ? `: ${run.reason}` : ""}</>}
          {run.cancel_requested_at && <> · cancel requested <When at={run.cancel_requested_at} /></>}
          {run.wake_at && <>; its time-out ends it at <When at={run.wake_at} /></>}.
        </div>
      )}
      <dl class="facts wide">
        <div><dt>Created</dt><dd><When at={run.created_at} /></dd></div>
        {run.queued_at && run.queued_at !== run.created_at && <div><dt>Queued</dt><dd><When at={run.queued_at} /></dd></div>}
        <div><dt>Started</dt><dd><When at={run.started_at} />{late && <span class="late-tag"> late by {duration(run.start_lag_ms)}</span>}</dd></div>
        <div><dt>Finished</dt><dd><When at={run.finished_at} /></dd></div>
        <div><dt>Duration</dt><dd>{active && run.started_at ? <>running</> : duration(run.duration_ms)}</dd></div>
        <div><dt>Parameters</dt><dd>{Object.keys(run.params).length === 0 ? <span class="muted">none</span> :
          Object.entries(run.params).map(([k, v]) => <code key={k} class="param">{k}={JSON.stringify(v)}</code>)}</dd></div>
      </dl>
      <h2>Steps</h2>
      <Graph detail={data} />
      <h2>Attempts</h2>
      {steps.length === 0 && <p class="muted">No step has started yet.</p>}
      <div class="attempts">
        {steps.map((s) => <Attempt key={s.id} runId={run.id} s={s} />)}
      </div>
    </section>
  );
}
