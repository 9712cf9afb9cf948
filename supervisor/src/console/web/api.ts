// Talking to the console's server: JSON reads that poll while the page is visible, and
// actions whose errors are shown exactly as the database raised them.
import { useEffect, useRef, useState } from "preact/hooks";

export interface ApiError {
  message: string;
  code?: string;
  hint?: string;
  detail?: string;
  status: number;
}

export class RequestFailed extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

export async function getJson<T>(path: string): Promise<{ text: string; value: T }> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" } });
  } catch {
    throw new RequestFailed({ message: "the console's server does not answer", status: 0 });
  }
  const text = await response.text();
  if (!response.ok) {
    let error: ApiError = { message: `${response.status} ${response.statusText}`, status: response.status };
    try {
      error = { ...(JSON.parse(text) as { error: ApiError }).error, status: response.status };
    } catch {
      /* not JSON: keep the status line */
    }
    throw new RequestFailed(error);
  }
  return { text, value: JSON.parse(text) as T };
}

export async function postAction<T>(name: string, body: object): Promise<T> {
  const response = await fetch(`/api/actions/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const value = (await response.json().catch(() => ({}))) as T & { error?: ApiError };
  if (!response.ok) throw new RequestFailed({ ...(value.error ?? { message: `${response.status} ${response.statusText}` }), status: response.status });
  return value;
}

/** Poll interval for every page, from the session (the server's --refresh). */
let refreshMs = 2000;
export function setRefreshMs(ms: number): void {
  refreshMs = ms;
}

/** Listeners told when any poll succeeds or fails (the header's live indicator). */
type LiveListener = (ok: boolean, at: Date, error?: ApiError) => void;
const liveListeners = new Set<LiveListener>();
export function onLive(listener: LiveListener): () => void {
  liveListeners.add(listener);
  return () => liveListeners.delete(listener);
}

/** Asks every mounted poll to fetch now (after an action). */
const refreshers = new Set<() => void>();
export function refreshAll(): void {
  for (const r of refreshers) r();
}

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
}

/**
 * Fetches `path` now and again every `everyMs` (default: the console's refresh) while the
 * tab is visible. An unchanged answer leaves the page as it is.
 */
export function usePoll<T>(path: string | null, everyMs?: number): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, loading: true });
  const last = useRef<string>("");
  useEffect(() => {
    if (path === null) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    last.current = "";
    setState((s) => ({ ...s, loading: true }));
    const load = async () => {
      clearTimeout(timer);
      if (stopped) return;
      try {
        const { text, value } = await getJson<T>(path);
        if (stopped) return;
        for (const l of liveListeners) l(true, new Date());
        if (text !== last.current) {
          last.current = text;
          setState({ data: value, error: undefined, loading: false });
        } else {
          setState((s) => (s.error || s.loading ? { ...s, error: undefined, loading: false } : s));
        }
      } catch (error) {
        if (stopped) return;
        const e = error instanceof RequestFailed ? error.error : { message: String(error), status: 0 };
        for (const l of liveListeners) l(false, new Date(), e);
        setState((s) => ({ ...s, error: e, loading: false }));
      }
      if (!stopped) timer = setTimeout(tick, everyMs ?? refreshMs);
    };
    const tick = () => {
      if (document.visibilityState === "visible") void load();
      else timer = setTimeout(tick, everyMs ?? refreshMs);
    };
    const onVisible = () => {
      if (document.visibilityState === "visible") void load();
    };
    refreshers.add(load);
    document.addEventListener("visibilitychange", onVisible);
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      refreshers.delete(load);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [path, everyMs]);
  return state;
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
