// The console's page: a header that says who the console acts as and whether it may act,
// the navigation, and the view the address names.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getJson, onLive, RequestFailed, setRefreshMs, type ApiError } from "./api.ts";
import { ErrorBox, Loading, setActionsAllowed, Toasts, useNow } from "./components.tsx";
import { clock, duration } from "./format.ts";
import { useRoute } from "./router.ts";
import { FailuresView } from "./views/failures.tsx";
import { JobView } from "./views/job.tsx";
import { JobsView } from "./views/jobs.tsx";
import { RunView } from "./views/run.tsx";
import { SkippedView } from "./views/skipped.tsx";
import { TimelineView } from "./views/timeline.tsx";
import { WorkersView } from "./views/workers.tsx";

interface Session {
  role: string;
  login: string;
  superuser: boolean;
  bypass_rls: boolean;
  supervisor_member: boolean;
  database: string;
  version: string;
  has_explain: boolean;
  has_alerts: boolean;
  actions: boolean;
  refreshMs: number;
  lateAfterMs: number;
  roleFromProxy: boolean;
}

type Theme = "auto" | "light" | "dark";
function applyTheme(theme: Theme): void {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem("clockwork-theme") as Theme) || "auto");
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem("clockwork-theme", theme);
  }, [theme]);
  const next: Record<Theme, Theme> = { auto: "light", light: "dark", dark: "auto" };
  const icon: Record<Theme, string> = { auto: "◐", light: "☀", dark: "☾" };
  return (
    <button class="icon-btn" title={`Theme: ${theme} (click for ${next[theme]})`} aria-label={`theme ${theme}`} onClick={() => setTheme(next[theme])}>
      {icon[theme]}
    </button>
  );
}

function LiveIndicator(props: { refreshMs: number }) {
  const [state, setState] = useState<{ ok: boolean; at: Date | null; error?: ApiError }>({ ok: true, at: null });
  const now = useNow();
  useEffect(() => onLive((ok, at, error) => setState({ ok, at, ...(error ? { error } : {}) })), []);
  const stale = state.at !== null && now - state.at.getTime() > props.refreshMs * 3;
  const title = `Pages poll the database every ${duration(props.refreshMs)} while visible.${state.at ? ` Last answer ${clock(state.at.toISOString())}.` : ""}`;
  return (
    <span class={`live ${state.ok && !stale ? "ok" : "bad"}`} title={title} data-testid="live">
      <i class="dot" />{state.ok ? (stale ? "paused" : "live") : "reconnecting…"}
    </span>
  );
}

const NAV: [string, string][] = [["/jobs", "Jobs"], ["/timeline", "Timeline"], ["/failures", "Failures"], ["/skipped", "Skipped"], ["/workers", "Workers"]];

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<ApiError | undefined>();
  const route = useRoute();
  useEffect(() => {
    getJson<Session>("/api/session").then(
      ({ value }) => {
        setRefreshMs(value.refreshMs);
        setActionsAllowed(value.actions);
        setSession(value);
      },
      (e) => setError(e instanceof RequestFailed ? e.error : { message: String(e), status: 0 }),
    );
  }, []);
  if (!session) return <main class="boot">{error ? <ErrorBox error={error} what="The console cannot reach its database" /> : <Loading />}</main>;

  const section = "/" + (route.path.split("/")[1] ?? "jobs");
  const jobMatch = /^\/jobs\/(\d+)$/.exec(route.path);
  const runMatch = /^\/runs\/(\d+)$/.exec(route.path);
  let view;
  if (jobMatch) view = <JobView route={route} id={jobMatch[1]!} lateAfterMs={session.lateAfterMs} key={jobMatch[1]} />;
  else if (runMatch) view = <RunView id={runMatch[1]!} lateAfterMs={session.lateAfterMs} key={runMatch[1]} />;
  else if (route.path === "/timeline") view = <TimelineView route={route} lateAfterMs={session.lateAfterMs} />;
  else if (route.path === "/failures") view = <FailuresView route={route} />;
  else if (route.path === "/skipped") view = <SkippedView route={route} hasExplain={session.has_explain} />;
  else if (route.path === "/workers") view = <WorkersView />;
  else view = <JobsView route={route} />;

  const seesAll = session.superuser || session.bypass_rls;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/jobs" aria-label="Clockwork console">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="2" /><path d="M12 6v6l4 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" /></svg>
          <span>Clockwork</span>
        </a>
        <span class="db muted" title={`clockwork ${session.version}`}>{session.database}</span>
        <nav class="nav" aria-label="Views">
          {NAV.map(([path, label]) => (
            <a key={path} href={`#${path}`} class={section === path || (path === "/jobs" && section === "/runs") ? "on" : ""} aria-current={section === path ? "page" : undefined}>{label}</a>
          ))}
        </nav>
        <span class="grow" />
        <span class={`pill role ${seesAll ? "warn" : ""}`} data-testid="role"
          title={seesAll ? "This role bypasses row-level security: it sees every job." : "Row-level security shows this role its own jobs."}>
          as <b>{session.role}</b>{seesAll ? " · sees all" : ""}
        </span>
        <span class={`pill mode ${session.actions ? "on" : ""}`} data-testid="mode"
          title={session.actions ? "Started with --allow-actions" : "Start with --allow-actions to run, cancel, retry, pause and resume"}>
          {session.actions ? "actions allowed" : "read-only"}
        </span>
        <LiveIndicator refreshMs={session.refreshMs} />
        <ThemeToggle />
      </header>
      <main class="content">{view}</main>
      <Toasts />
    </div>
  );
}

render(<App />, document.getElementById("app")!);
