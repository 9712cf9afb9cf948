// Alerts: what Clockwork raised about the jobs this role may see (and, for supervisors and
// administrators, about the scheduler itself): open and acknowledged alerts first, then
// those resolved recently, each with how its deliveries went; an open one can be
// acknowledged with a note (clockwork.acknowledge_alert).
import { query, usePoll } from "../api.ts";
import { ActionButton, actions, Badge, Empty, ErrorBox, Loading, Pager, When } from "../components.tsx";
import { navigate, type Route } from "../router.ts";

interface Alert {
  alert_id: string; job: string | null; job_id: string | null; condition: string; key: string; state: "open" | "acknowledged" | "resolved";
  severity: "critical" | "warning" | "info"; message: string; opened_at: string; last_seen_at: string; repeats: number;
  resolved_at: string | null; resolution: string | null; acknowledged_at: string | null; acknowledged_by: string | null;
  acknowledgement: string | null; silenced: boolean; delivered: number; pending: number; failed: number;
  last_error: string | null;
}

const FILTERS: [string, string][] = [["active", "Open"], ["all", "Last 7 days"]];
const SEVERITY_STATE: Record<Alert["severity"], string> = { critical: "failed", warning: "timed_out", info: "succeeded" };

export function AlertsView(props: { route: Route }) {
  const { route } = props;
  const filter = route.params.get("show") ?? "active";
  const offset = Number(route.params.get("offset") ?? 0);
  const { data, error, loading } = usePoll<{ total: number; open: number; alerts: Alert[] }>(`/api/alerts${query({ show: filter, offset })}`);
  return (
    <section>
      <header class="page-head">
        <div>
          <h1>Alerts</h1>
          <div class="sub">Decided by the database (docs/alerts.md): missed slots, long runs, failures in a row, no success within a period, recoveries, lost supervisors.</div>
        </div>
        <div class="chips" role="group" aria-label="Show">
          {FILTERS.map(([value, label]) => (
            <button key={value} class={`chip ${filter === value ? "on" : ""}`} aria-pressed={filter === value}
              onClick={() => navigate(route.path, new URLSearchParams({ show: value }), true)}>{label}</button>
          ))}
        </div>
      </header>
      <ErrorBox error={error} />
      {!data && loading && <Loading />}
      {data && data.alerts.length === 0 && <Empty>{filter === "active" ? "No open alerts." : "No alerts in the last 7 days."}</Empty>}
      <div class="alerts">
        {data?.alerts.map((a) => (
          <article class={`card alert sev-${a.severity} st-${a.state}`} key={a.alert_id} data-alert={a.alert_id} data-condition={a.condition} data-state={a.state}>
            <header>
              <Badge state={SEVERITY_STATE[a.severity]} label={a.severity} />
              <h2>{a.job ? (a.job_id ? <a href={`#/jobs/${a.job_id}`}>{a.job}</a> : a.job) : <span class="muted">scheduler</span>} · {a.condition.replace("_", " ")}</h2>
              <Badge state={a.state === "resolved" ? "succeeded" : a.state === "acknowledged" ? "running" : "failed"} label={a.state} />
              {a.silenced && <Badge state="paused" label="silenced" title="opened while its job was silenced: not delivered" />}
              <span class="grow" />
              {a.state === "open" && <ActionButton small action={actions.acknowledge(a.alert_id, a.job ?? "the scheduler", a.condition)} />}
            </header>
            <div class="message">{a.message}</div>
            <div class="muted small">
              #{a.alert_id} opened <When at={a.opened_at} relative />
              {a.repeats > 0 && <> · seen {a.repeats} more time{a.repeats === 1 ? "" : "s"}, last <When at={a.last_seen_at} relative /></>}
              {a.acknowledged_by && <> · acknowledged by <b>{a.acknowledged_by}</b> <When at={a.acknowledged_at!} relative />{a.acknowledgement ? `: ${a.acknowledgement}` : ""}</>}
              {a.resolved_at && <> · resolved <When at={a.resolved_at} relative />{a.resolution ? ` (${a.resolution})` : ""}</>}
            </div>
            <div class="small deliveries" data-testid="deliveries">
              {a.delivered + a.pending + a.failed === 0 ? <span class="muted">no channels: NOTIFY clockwork_alert only</span> : [
                a.delivered > 0 && <span class="ok">{a.delivered} delivered</span>,
                a.pending > 0 && <span>{a.pending} pending</span>,
                a.failed > 0 && <span class="bad">{a.failed} failed</span>,
                a.last_error && (a.pending > 0 || a.failed > 0) && <span class="muted">last error: {a.last_error}</span>,
              ].filter(Boolean).flatMap((part, i) => (i === 0 ? [part] : [" · ", part]))}
            </div>
          </article>
        ))}
      </div>
      {data && <Pager offset={offset} limit={50} total={data.total} noun="alerts"
        onChange={(o) => navigate(route.path, new URLSearchParams({ show: filter, offset: String(o) }))} />}
    </section>
  );
}
