// clockwork.claim_deliveries / complete_delivery: alert deliveries, claimed by supervisors
// like steps (SKIP LOCKED, a lease, fenced reports), so several supervisors deliver each
// event once, and one that dies mid-send leaves it to another (at least once: a receiver
// drops a repeat by its delivery id). A job channel is delivered by the database itself
// while claiming: the run starts in the same transaction that marks the delivery done.
import {
  ALERT_JOB_PARAMETERS, DEFAULT_DELIVERY_RETRY, nextDeliveryAttempt, validateAlertChannel,
  type ChannelTarget, type DeliveryRetryPolicy,
} from "../core/index.ts";
import { jobVersion } from "../db/jobs.ts";
import { waitingForGroupReason } from "../db/groups.ts";
import { applyPlans, startGroupRuns } from "../db/lifecycle.ts";
import { raise } from "../db/raise.ts";
import { planRun, type RunRow } from "../db/runs.ts";
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { instantOf, isoOrNull } from "../db/values.ts";

/** How long a supervisor holds a delivery: longer than any send may take (webhook ≤ 60 s). */
export const DELIVERY_LEASE_MS = 120_000;

/** What a supervisor gets for each delivery it claims: the alert, the channel, the attempt. */
export interface DeliveryClaim {
  delivery_id: string;
  event: "opened" | "resolved";
  channel: string;
  kind: "webhook" | "email";
  target: Record<string, unknown>;
  attempt: number;
  alert: {
    alert_id: string;
    job: string | null;
    condition: string;
    key: string;
    state: string;
    severity: string;
    message: string;
    details: Record<string, unknown>;
    opened_at: string;
    resolved_at: string | null;
    resolution: string | null;
    repeats: number;
    acknowledged_by: string | null;
  };
}

interface ClaimedRow {
  delivery_id: string;
  event: "opened" | "resolved";
  channel: string;
  attempts: number;
  kind: string | null;
  target: Record<string, unknown> | null;
  alert_id: string;
  job: string | null;
  condition: string;
  key: string;
  state: string;
  severity: string;
  message: string;
  details: Record<string, unknown>;
  opened_at: Date;
  resolved_at: Date | null;
  resolution: string | null;
  repeats: number;
  acknowledged_by: string | null;
}

function retryOf(kind: string | null, target: unknown): DeliveryRetryPolicy {
  const r = validateAlertChannel(kind, target);
  return r.ok ? r.channel.retry : DEFAULT_DELIVERY_RETRY;
}

/** Records an attempt's outcome: delivered, retried later, or failed for good. */
function settle(id: string, attempts: number, policy: DeliveryRetryPolicy, ok: boolean, error: string | null, response: string | null, nowMs: number): { state: string; next_attempt_at: string | null } {
  if (ok) {
    execute(SQL.settleDelivery, [id, "delivered", null, null, response, new Date(nowMs)]);
    return { state: "delivered", next_attempt_at: null };
  }
  const next = nextDeliveryAttempt(policy, attempts, nowMs);
  execute(SQL.settleDelivery, [id, next === null ? "failed" : "pending", next === null ? null : new Date(next), error ?? "failed", response, null]);
  return { state: next === null ? "failed" : "pending", next_attempt_at: isoOrNull(next) };
}

/** A job channel: a run of its job, with the alert as the parameters that job declares. */
function deliverToJob(row: ClaimedRow, channel: Extract<ChannelTarget, { kind: "job" }>, nowMs: number): { ok: boolean; error: string | null; response: string | null } {
  // Stored as owner/name by define_alert_channel (the owner is everything before the last "/").
  const ref = channel.job.job;
  const slash = ref.lastIndexOf("/");
  const target = (slash < 0 ? undefined : execute(SQL.jobByOwnerAndName, [ref.slice(0, slash), ref.slice(slash + 1)])[0]) as
    { id: string; version: number; enabled: boolean } | undefined;
  if (target === undefined) return { ok: false, error: `job "${channel.job.job}" does not exist`, response: null };
  const job = jobVersion(target.id, target.version);
  const values: Record<(typeof ALERT_JOB_PARAMETERS)[number], string> = {
    alert_id: row.alert_id, alert_event: row.event, alert_condition: row.condition, alert_job: row.job ?? "",
    alert_severity: row.severity, alert_message: row.message, alert_opened_at: row.opened_at.toISOString(),
    alert_details: JSON.stringify(row.details),
  };
  const params = Object.fromEntries(Object.entries(values).filter(([name]) => name in job.parameters));
  // The job's concurrency group holds its runs here as for run_now (functions/run_now.ts).
  const group = job.policies.group;
  const run = execute(SQL.insertManualRun, [
    target.id, target.version, JSON.stringify(params), new Date(nowMs),
    group, job.policies.priority, group === null ? null : waitingForGroupReason(group, null),
  ])[0] as RunRow;
  if (group === null) applyPlans([planRun(run, [], nowMs)], nowMs);
  else startGroupRuns([group], nowMs);
  execute(SQL.notifyWakeup, ["alert-job"]);
  return { ok: true, error: null, response: `run ${run.id}` };
}

export const claim_deliveries = sqlFunction({
  name: "claim_deliveries",
  args: "worker text, max_claims integer DEFAULT 10, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "Claims up to max_claims due alert deliveries (webhook, email) for a supervisor, with the alert and the channel; job channels are delivered here and now (a run of their job). Returns {claimed, next_attempt_at}.",
  body: (worker: string, maxClaims: number, now: Date): { claimed: DeliveryClaim[]; next_attempt_at: string | null } => {
    const nowMs = instantOf(now);
    const me = execute(SQL.workerId, [worker])[0] as { id: string } | undefined;
    if (me === undefined) raise("unknown_worker", "worker", `unknown worker "${worker}": call clockwork.register_worker first`);
    const rows = maxClaims > 0 ? execute(SQL.claimDeliveries, [me.id, now, maxClaims, DELIVERY_LEASE_MS]) as ClaimedRow[] : [];
    const claimed: DeliveryClaim[] = [];
    for (const row of rows) {
      const channel = row.kind === null ? null : validateAlertChannel(row.kind, row.target);
      if (channel === null || !channel.ok) {
        // Dropped or changed into something invalid since: nothing to deliver to, ever.
        settle(row.delivery_id, row.attempts, { ...DEFAULT_DELIVERY_RETRY, attempts: 0 }, false,
          channel === null ? `alert channel "${row.channel}" no longer exists` : `alert channel "${row.channel}" is invalid: ${channel.errors[0]!.message}`, null, nowMs);
        continue;
      }
      if (channel.channel.kind === "job") {
        const r = deliverToJob(row, channel.channel, nowMs);
        settle(row.delivery_id, row.attempts, channel.channel.retry, r.ok, r.error, r.response, nowMs);
        continue;
      }
      claimed.push({
        delivery_id: row.delivery_id, event: row.event, channel: row.channel, kind: channel.channel.kind,
        target: row.target ?? {}, attempt: row.attempts,
        alert: {
          alert_id: row.alert_id, job: row.job, condition: row.condition, key: row.key, state: row.state,
          severity: row.severity, message: row.message, details: row.details, opened_at: row.opened_at.toISOString(),
          resolved_at: isoOrNull(row.resolved_at?.getTime()), resolution: row.resolution, repeats: row.repeats,
          acknowledged_by: row.acknowledged_by,
        },
      });
    }
    const next = execute(SQL.nextDeliveryAt)[0] as { next_attempt_at: Date | null };
    return { claimed, next_attempt_at: isoOrNull(next.next_attempt_at?.getTime()) };
  },
});

export const complete_delivery = sqlFunction({
  name: "complete_delivery",
  args: "delivery bigint, worker text, ok boolean, error text DEFAULT NULL, response text DEFAULT NULL, now timestamptz DEFAULT now()",
  returns: "jsonb",
  volatility: "volatile",
  security: "definer",
  grant: "clockwork_supervisor",
  comment:
    "A supervisor reports an alert delivery it holds: delivered, or failed with the error (retried with the channel's back-off until its attempts are spent). Returns {accepted, state, next_attempt_at}; accepted is false when the delivery's lease passed to another supervisor.",
  body: (delivery: string | number | bigint, worker: string, ok: boolean, error: string | null, response: string | null, now: Date) => {
    const held = execute(SQL.heldDelivery, [String(delivery), worker])[0] as { id: string; attempts: number; kind: string | null; target: unknown } | undefined;
    if (held === undefined) return { accepted: false };
    const result = settle(held.id, held.attempts, retryOf(held.kind, held.target), ok === true, error, response, instantOf(now));
    return { accepted: true, ...result };
  },
});
