// Webhook delivery: an HTTP POST of the alert as JSON, signed so the receiver can check it
// came from a Clockwork supervisor that holds the channel's secret:
//   Clockwork-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>
// (the timestamp lets a receiver refuse an old message replayed). Clockwork-Delivery carries
// the delivery id: a delivery may come twice (a supervisor died before it could report),
// never with another id. The secret is read from this supervisor's environment by the name
// the channel gives; a definition never holds it.
import { createHmac } from "node:crypto";
import type { DeliveryClaim } from "../../../extension/src/functions/claim_deliveries.ts";
import { validateAlertChannel } from "../../../extension/src/core/index.ts";

export interface DeliveryOutcome {
  ok: boolean;
  /** Why it failed (the next attempt is the database's decision). */
  error: string | null;
  /** What the receiver answered. */
  response: string | null;
}

/** The body every alert delivery carries (webhook JSON; the mail's text is made from it). */
export function alertBody(claim: DeliveryClaim): Record<string, unknown> {
  return {
    delivery_id: claim.delivery_id,
    event: claim.event,
    channel: claim.channel,
    attempt: claim.attempt,
    alert: claim.alert,
  };
}

/** `t=…,v1=…` for a body, as a receiver recomputes it. */
export function signature(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

const RESPONSE_KEPT = 200;

export async function sendWebhook(claim: DeliveryClaim, secrets: ReadonlyMap<string, string>, userAgent: string): Promise<DeliveryOutcome> {
  const channel = validateAlertChannel("webhook", claim.target);
  if (!channel.ok || channel.channel.kind !== "webhook") return { ok: false, error: "invalid webhook channel", response: null };
  const { url, secretEnv, headers, timeoutMs } = channel.channel.webhook;
  const body = JSON.stringify(alertBody(claim));
  const sent: Record<string, string> = {
    ...headers,
    "content-type": "application/json",
    "user-agent": userAgent,
    "clockwork-delivery": claim.delivery_id,
    "clockwork-event": `${claim.alert.condition}.${claim.event}`,
  };
  if (secretEnv !== null) {
    const secret = secrets.get(secretEnv);
    // Another supervisor may have it: the delivery is retried, perhaps there.
    if (secret === undefined) return { ok: false, error: `${secretEnv} is not set in this supervisor's environment`, response: null };
    sent["clockwork-signature"] = signature(secret, Math.floor(Date.now() / 1000), body);
  }
  try {
    const res = await fetch(url, { method: "POST", headers: sent, body, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    const text = (await res.text().catch(() => "")).slice(0, RESPONSE_KEPT);
    const response = `HTTP ${res.status}${text ? `: ${text.replace(/\s+/g, " ").trim()}` : ""}`.slice(0, RESPONSE_KEPT);
    if (res.status >= 200 && res.status < 300) return { ok: true, error: null, response };
    return { ok: false, error: response, response: null };
  } catch (error) {
    const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const reason = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
    return { ok: false, error: `POST failed: ${reason}`, response: null };
  }
}
