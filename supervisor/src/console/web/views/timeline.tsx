// Timeline: a Gantt-like lane per job over one window (an hour to a week): each run a
// bar from its start to its end, late starts drawn from their slot, failures in red,
// skipped slots as crosses. A job with more runs than fit is drawn as counts per bucket.
import type { RefObject } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { query, usePoll } from "../api.ts";
import { Badge, Empty, ErrorBox, Loading, Pager } from "../components.tsx";
import { clock, duration } from "../format.ts";
import { navigate, type Route } from "../router.ts";
import { JobFilter } from "./jobs.tsx";

/** A run as the timeline carries it: times in epoch milliseconds. */
interface TRun { id: string; state: string; trigger: string; slot: number | null; start: number; end: number | null; lag: number | null }
/** Runs per bucket of a busy job; `bucket` is its start in epoch milliseconds. */
interface TBucket { bucket: number; runs: number; failed: number; cancelled: number; active: number }
interface TJob {
  id: string; name: string; enabled: boolean; schedules: string[] | null; next_fire_at: string | null;
  runs: TRun[] | null; buckets: TBucket[] | null; skipped: { slot_at: string; last_slot_at: string; slots: number | null; reason: string; explanation: string }[];
}
interface Timeline { from: string; to: string; now: string; span: string; bucketMs: number; total: number; jobs: TJob[] }

const SPANS: [string, string, number][] = [["15m", "15 min", 900_000], ["1h", "Hour", 3_600_000], ["6h", "6 hours", 21_600_000], ["24h", "Day", 86_400_000], ["7d", "Week", 604_800_000]];
const TICKS: Record<string, number> = { "15m": 120_000, "1h": 600_000, "6h": 3_600_000, "24h": 3 * 3_600_000, "7d": 86_400_000 };

function useWidth(): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

const clockMs = (ms: number) => clock(new Date(ms).toISOString());

function tickLabel(t: number, span: string): string {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  return span === "7d" ? d.toLocaleDateString("en", { weekday: "short", day: "numeric" }) : hm;
}

export function TimelineView(props: { route: Route; lateAfterMs: number }) {
  const { route } = props;
  const span = route.params.get("span") ?? "1h";
  const end = route.params.get("end");
  const offset = Number(route.params.get("offset") ?? 0);
  const path = `/api/timeline${query({ span, end, q: route.params.get("q"), filter: route.params.get("filter"), offset, limit: 25 })}`;
  const { data, error, loading } = usePoll<Timeline>(path);
  const [laneRef, laneWidth] = useWidth();
  const set = (changes: Record<string, string | null>) => {
    const p = new URLSearchParams(route.params);
    for (const [k, v] of Object.entries(changes)) v === null ? p.delete(k) : p.set(k, v);
    navigate(route.path, p, true);
  };
  const spanMs = SPANS.find((s) => s[0] === span)?.[2] ?? 21_600_000;
  const shift = (direction: number) => {
    const base = data ? new Date(data.to).getTime() : Date.now();
    const next = base + direction * spanMs / 2;
    set({ end: next >= Date.now() ? null : new Date(next).toISOString() });
  };

  const from = data ? new Date(data.from).getTime() : 0;
  const to = data ? new Date(data.to).getTime() : 1;
  const now = data ? new Date(data.now).getTime() : Date.now();
  const x = (iso: string | number) => ((typeof iso === "number" ? iso : new Date(iso).getTime()) - from) / (to - from) * laneWidth;
  const ticks: number[] = [];
  if (data) {
    const step = TICKS[span] ?? 3_600_000;
    const offsetMs = new Date().getTimezoneOffset() * 60_000;
    for (let t = Math.ceil((from - offsetMs) / step) * step + offsetMs; t < to; t += step) ticks.push(t);
  }
  const H = 22;

  return (
    <section>
      <header class="page-head">
        <h1>Timeline</h1>
        <div class="head-actions">
          <div class="chips" role="group" aria-label="Zoom">
            {SPANS.map(([value, label]) => (
              <button key={value} class={`chip ${span === value ? "on" : ""}`} aria-pressed={span === value} data-span={value}
                onClick={() => set({ span: value })}>{label}</button>
            ))}
          </div>
          <button class="btn ghost" onClick={() => shift(-1)} aria-label="earlier">◀</button>
          <button class="btn ghost" onClick={() => set({ end: null })} disabled={!end}>Now</button>
          <button class="btn ghost" onClick={() => shift(1)} disabled={!end} aria-label="later">▶</button>
        </div>
      </header>
      <JobFilter route={route} />
      <div class="legend">
        <span><i class="lg s-succeeded" />succeeded</span><span><i class="lg s-failed" />failed</span>
        <span><i class="lg s-running" />running</span><span><i class="lg s-cancelled" />cancelled</span>
        <span><i class="lg-late" />late start (over {duration(props.lateAfterMs)})</span><span><i class="lg-skip">×</i>skipped slot</span>
        <span><i class="lg-next">◇</i>next slot</span>
      </div>
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.jobs.length === 0 && <Empty>No jobs match.</Empty>}
      <div class="timeline" data-span={span}>
        <div class="tl-row tl-axis">
          <div class="tl-label muted small">{data ? `${clock(data.from, false)} – ${clock(data.to, false)}` : ""}</div>
          <div class="tl-lane" ref={laneRef}>
            <svg width={laneWidth} height={20}>
              {ticks.map((t) => (
                <g key={t}><line x1={x(t)} x2={x(t)} y1={14} y2={20} class="tick" /><text x={x(t) + 3} y={11} class="tick-label">{tickLabel(t, span)}</text></g>
              ))}
            </svg>
          </div>
        </div>
        {data?.jobs.map((job) => {
          const maxBucket = Math.max(1, ...(job.buckets ?? []).map((b) => b.runs));
          const bw = Math.max(1, (data.bucketMs / (to - from)) * laneWidth);
          return (
            <div class={`tl-row ${job.enabled ? "" : "paused"}`} key={job.id} data-job={job.name}>
              <div class="tl-label">
                <a href={`#/jobs/${job.id}`}>{job.name}</a>
                {!job.enabled && <Badge state="paused" />}
              </div>
              <div class="tl-lane">
                <svg width={laneWidth} height={H} role="img" aria-label={`runs of ${job.name}`}>
                  <defs>
                    <pattern id="skip-hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                      <line x1="0" y1="0" x2="0" y2="5" class="skip-hatch-line" />
                    </pattern>
                  </defs>
                  {ticks.map((t) => <line key={t} x1={x(t)} x2={x(t)} y1={0} y2={H} class="grid" />)}
                  {now >= from && now <= to && <line x1={x(now)} x2={x(now)} y1={0} y2={H} class="now" />}
                  {job.buckets?.map((b) => (
                    <g key={b.bucket} class="bucket">
                      <rect x={x(b.bucket)} y={3} width={bw} height={H - 6} class="b-ok" opacity={0.25 + 0.75 * (b.runs / maxBucket)} />
                      {b.failed > 0 && <rect x={x(b.bucket)} y={3 + (H - 6) * (1 - b.failed / b.runs)} width={bw} height={Math.max(2, (H - 6) * b.failed / b.runs)} class="b-failed" />}
                      <rect x={x(b.bucket)} y={0} width={bw} height={H} fill="transparent">
                        <title>{`${clockMs(b.bucket)}: ${b.runs} runs, ${b.failed} failed${b.cancelled ? `, ${b.cancelled} cancelled` : ""}${b.active ? `, ${b.active} running` : ""}`}</title>
                      </rect>
                    </g>
                  ))}
                  {job.runs?.map((r) => {
                    const endAt = r.end ?? now;
                    const x1 = Math.max(0, x(r.start));
                    const w = Math.max(3, x(endAt) - x1);
                    const late = r.lag !== null && r.lag > props.lateAfterMs && r.slot !== null ? r.slot : null;
                    return (
                      <g key={r.id} class={`run s-${r.state}`} data-run={r.id} data-state={r.state} onClick={() => navigate(`/runs/${r.id}`)}>
                        {late !== null && <line x1={x(late)} x2={x1} y1={H / 2} y2={H / 2} class="late-line" />}
                        {late !== null && <path d={`M${x(late)},${H / 2 - 4} l4,4 l-4,4 l-4,-4 z`} class="late-mark" />}
                        <rect x={x1} y={4} width={w} height={H - 8} rx={2} />
                        <title>{`run ${r.id} · ${r.state} · ${r.trigger}${r.slot !== null ? ` · slot ${clockMs(r.slot)}` : ""} · started ${clockMs(r.start)}${r.end !== null ? ` · ${duration(r.end - r.start)}` : " · running"}${late !== null ? ` · late by ${duration(r.lag)}` : ""}`}</title>
                      </g>
                    );
                  })}
                  {job.skipped.map((k) => {
                    const range = k.last_slot_at !== k.slot_at;
                    const what = range ? `${k.slots === null ? "more than 10 000" : k.slots} slots skipped ${clock(k.slot_at)} … ${clock(k.last_slot_at)}` : `skipped ${clock(k.slot_at)}`;
                    return (
                      <g key={k.slot_at} class="skip" data-skipped={k.slot_at}>
                        {range && <rect class="skip-range" x={Math.max(0, x(k.slot_at))} y={5} height={H - 10}
                          width={Math.max(2, Math.min(laneWidth, x(k.last_slot_at)) - Math.max(0, x(k.slot_at)))} />}
                        {!range && <text x={x(k.slot_at)} y={H / 2 + 4} text-anchor="middle">×</text>}
                        <title>{`${what}: ${k.explanation}`}</title>
                      </g>
                    );
                  })}
                  {job.enabled && job.next_fire_at && new Date(job.next_fire_at).getTime() <= to && new Date(job.next_fire_at).getTime() >= from && (
                    <path d={`M${x(job.next_fire_at)},${H / 2 - 5} l5,5 l-5,5 l-5,-5 z`} class="next-mark"><title>{`next slot ${clock(job.next_fire_at)}`}</title></path>
                  )}
                </svg>
              </div>
            </div>
          );
        })}
      </div>
      {data && <Pager offset={offset} limit={25} total={data.total} noun="jobs"
        onChange={(o) => { const p = new URLSearchParams(route.params); p.set("offset", String(o)); navigate(route.path, p); }} />}
    </section>
  );
}
