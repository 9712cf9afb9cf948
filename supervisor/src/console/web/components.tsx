// Small pieces every view uses: state badges, the sparkline, relative times, paging,
// errors, and the confirmed actions with their result.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { postAction, refreshAll, RequestFailed, type ApiError } from "./api.ts";
import { clock, duration, relative, utc } from "./format.ts";

export function Badge(props: { state: string; label?: string; title?: string }) {
  return <span class={`badge s-${props.state}`} title={props.title}>{props.label ?? props.state}</span>;
}

/** A ticking "now" so relative times move without a poll. */
let nowListeners = new Set<(n: number) => void>();
setInterval(() => {
  const n = Date.now();
  for (const l of nowListeners) l(n);
}, 1000);
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    nowListeners.add(setNow);
    return () => void nowListeners.delete(setNow);
  }, []);
  return now;
}

export function When(props: { at: string | null | undefined; relative?: boolean; due?: boolean }) {
  const now = useNow();
  if (!props.at) return <span class="muted">—</span>;
  if (props.due) {
    // A time that should come: passed by less than a poll or two is "now"; further
    // behind, the scheduler is late and the page says so.
    const behind = now - new Date(props.at).getTime();
    if (behind >= -1000 && behind < 5000) return <time dateTime={props.at} title={utc(props.at)}>now</time>;
    if (behind >= 5000) return <time class="late-tag" dateTime={props.at} title={utc(props.at)}>due {relative(props.at, now)}</time>;
  }
  return (
    <time dateTime={props.at} title={`${utc(props.at)}`}>
      {props.relative || props.due ? relative(props.at, now) : clock(props.at)}
    </time>
  );
}

export interface SparkRun {
  id: string;
  state: string;
  at: string | null;
  ms: number | null;
}

/** Recent runs, oldest left: height by duration (relative to the slowest), colour by state. */
export function Sparkline(props: { runs: SparkRun[]; width?: number }) {
  const runs = [...props.runs].reverse();
  const slots = 30;
  const w = props.width ?? 150;
  const h = 26;
  const bar = w / slots;
  const longest = Math.max(1, ...runs.map((r) => r.ms ?? 0));
  if (runs.length === 0) return <span class="muted small">no runs yet</span>;
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`last ${runs.length} runs`}>
      {runs.map((r, i) => {
        const height = r.ms === null ? h * 0.5 : Math.max(4, (Math.sqrt(r.ms) / Math.sqrt(longest)) * (h - 2));
        return (
          <a href={`#/runs/${r.id}`} key={r.id}>
            <rect class={`sp-${r.state}`} x={(slots - runs.length + i) * bar + 1} y={h - height} width={Math.max(1, bar - 2)} height={height} rx={1.5}>
              <title>{`run ${r.id}: ${r.state}${r.ms !== null ? `, ${duration(r.ms)}` : ""}${r.at ? `, ${clock(r.at)}` : ""}`}</title>
            </rect>
          </a>
        );
      })}
    </svg>
  );
}

export function Pager(props: { offset: number; limit: number; total: number; onChange: (offset: number) => void; noun: string }) {
  const { offset, limit, total } = props;
  if (total === 0) return null;
  return (
    <div class="pager">
      <span class="muted">
        {(offset + 1).toLocaleString("en")}–{Math.min(offset + limit, total).toLocaleString("en")} of {total.toLocaleString("en")} {props.noun}
      </span>
      <button class="btn ghost" disabled={offset === 0} onClick={() => props.onChange(Math.max(0, offset - limit))}>← Previous</button>
      <button class="btn ghost" disabled={offset + limit >= total} onClick={() => props.onChange(offset + limit)}>Next →</button>
    </div>
  );
}

export function ErrorBox(props: { error: ApiError | undefined; what?: string }) {
  if (!props.error) return null;
  const e = props.error;
  return (
    <div class="error-box" role="alert">
      <strong>{props.what ?? "Could not load"}</strong>
      <div>
        {e.code && <code class="sqlstate">{e.code}</code>} {e.message}
      </div>
      {e.detail && <pre class="detail">{e.detail}</pre>}
      {e.hint && <div class="hint">Hint: {e.hint}</div>}
    </div>
  );
}

export function Loading() {
  return <div class="loading" aria-busy="true">Loading…</div>;
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

// --- actions ---------------------------------------------------------------------------

interface Toast {
  id: number;
  ok: boolean;
  text: string;
  error?: ApiError;
  link?: { href: string; label: string };
}
let toastId = 0;
const toastListeners = new Set<(t: Toast[]) => void>();
let toasts: Toast[] = [];
function pushToast(t: Omit<Toast, "id">): void {
  const toast = { ...t, id: ++toastId };
  toasts = [...toasts, toast].slice(-4);
  for (const l of toastListeners) l(toasts);
  setTimeout(() => dismiss(toast.id), t.ok ? 6000 : 15000);
}
function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  for (const l of toastListeners) l(toasts);
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    toastListeners.add(setList);
    return () => void toastListeners.delete(setList);
  }, []);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.ok ? "ok" : "bad"}`} role={t.ok ? "status" : "alert"} data-testid="action-result">
          <div>
            {t.error?.code && <code class="sqlstate">{t.error.code}</code>} {t.text}
            {t.link && <> · <a href={t.link.href}>{t.link.label}</a></>}
          </div>
          {t.error?.hint && <div class="hint">Hint: {t.error.hint}</div>}
          <button class="close" aria-label="dismiss" onClick={() => dismiss(t.id)}>×</button>
        </div>
      ))}
    </div>
  );
}

export interface ActionSpec {
  /** API action name: run-now, cancel, retry, pause, resume. */
  name: string;
  label: string;
  title: string;
  body: object;
  /** What will happen, in a sentence, and the SQL it calls. */
  description: ComponentChildren;
  sql: string;
  danger?: boolean;
  /** Job parameters to offer (run now): name → default value. */
  parameters?: Record<string, unknown>;
}

/** Actions are allowed by the server's --allow-actions; the session says which. */
let actionsAllowed = false;
export function setActionsAllowed(allowed: boolean): void {
  actionsAllowed = allowed;
}

export function ActionButton(props: { action: ActionSpec; small?: boolean }) {
  // The dialog keeps the action as it was when opened: a poll may meanwhile change what
  // this button stands for (a newer failure to retry), and the confirmation must not.
  const [open, setOpen] = useState<ActionSpec | null>(null);
  const a = props.action;
  return (
    <>
      <button
        class={`btn ${props.small ? "small" : ""} ${a.danger ? "danger" : ""}`}
        data-action={a.name}
        disabled={!actionsAllowed}
        title={actionsAllowed ? a.title : "read-only console: start it with --allow-actions"}
        onClick={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setOpen(a);
        }}
      >
        {a.label}
      </button>
      {open && <ConfirmDialog action={open} onClose={() => setOpen(null)} />}
    </>
  );
}

function ConfirmDialog(props: { action: ActionSpec; onClose: () => void }) {
  const a = props.action;
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(a.parameters ?? {}).map(([k, v]) => [k, v === null ? "" : String(v)])),
  );
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && props.onClose();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  const params = a.parameters ?? {};
  const confirm = async () => {
    setBusy(true);
    let body = a.body;
    if (a.name === "run-now") {
      // Only the values changed from the job's defaults are sent, typed as the default is.
      const changed: Record<string, unknown> = {};
      for (const [k, def] of Object.entries(params)) {
        const text = values[k] ?? "";
        if (text === (def === null ? "" : String(def))) continue;
        changed[k] = typeof def === "number" && text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text)
          : typeof def === "boolean" && (text === "true" || text === "false") ? text === "true" : text;
      }
      body = { ...a.body, params: changed };
    }
    try {
      const result = await postAction<{ message: string; run_id?: string }>(a.name, body);
      pushToast({ ok: true, text: result.message, ...(result.run_id ? { link: { href: `#/runs/${result.run_id}`, label: `open run ${result.run_id}` } } : {}) });
      props.onClose();
      refreshAll();
    } catch (error) {
      const e = error instanceof RequestFailed ? error.error : { message: String(error), status: 0 };
      pushToast({ ok: false, text: e.message, error: e });
      props.onClose();
    }
  };
  return (
    <div class="modal-backdrop" onClick={props.onClose}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="confirm-title">{a.title}</h2>
        <p>{a.description}</p>
        {Object.keys(params).length > 0 && (
          <fieldset class="params">
            <legend>Parameters</legend>
            {Object.entries(params).map(([k, def]) => (
              <label key={k}>
                <span>{k}</span>
                <input name={k} value={values[k] ?? ""} placeholder={def === null ? "null" : String(def)}
                  onInput={(e) => setValues({ ...values, [k]: (e.target as HTMLInputElement).value })} />
              </label>
            ))}
          </fieldset>
        )}
        <p class="muted small">Runs <code>{a.sql}</code> as the console's role.</p>
        <div class="modal-actions">
          <button class="btn ghost" onClick={props.onClose}>Cancel</button>
          <button class={`btn ${a.danger ? "danger" : "primary"}`} data-confirm={a.name} disabled={busy} onClick={confirm} autoFocus>
            {busy ? "Working…" : a.label}
          </button>
        </div>
      </div>
    </div>
  );
}

export const actions = {
  runNow: (job: string, parameters: Record<string, unknown>): ActionSpec => ({
    name: "run-now", label: "Run now", title: `Run ${job} now`, body: { job }, parameters,
    description: <>Starts a manual run of <b>{job}</b> now. Manual runs are not held back by the overlap policy.</>,
    sql: "clockwork.run_now(job, params)",
  }),
  cancel: (run: string): ActionSpec => ({
    name: "cancel", label: "Cancel run", title: `Cancel run ${run}`, body: { run }, danger: true,
    description: <>Cancels run <b>{run}</b>: steps not started are dropped and running ones are stopped by their supervisor.</>,
    sql: "clockwork.cancel_run(run)",
  }),
  retry: (run: string): ActionSpec => ({
    name: "retry", label: "Retry", title: `Retry run ${run}`, body: { run },
    description: <>Starts run <b>{run}</b> again: a new run of the job's current definition with the same parameters.</>,
    sql: "clockwork.retry_run(run)",
  }),
  pause: (job: string): ActionSpec => ({
    name: "pause", label: "Pause", title: `Pause ${job}`, body: { job }, danger: true,
    description: <>Stops <b>{job}</b> from firing. Runs in progress continue; slots passed while paused are not caught up.</>,
    sql: "clockwork.disable_job(job)",
  }),
  resume: (job: string): ActionSpec => ({
    name: "resume", label: "Resume", title: `Resume ${job}`, body: { job },
    description: <>Lets <b>{job}</b> fire again from now on.</>,
    sql: "clockwork.enable_job(job)",
  }),
};
