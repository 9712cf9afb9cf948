// Mail: alert deliveries to email channels, and the mail built-in, over the SMTP server the
// supervisor is configured with (CLOCKWORK_SMTP_URL, which may hold the server's user and
// password: the environment is where secrets live). One transport per supervisor.
import nodemailer from "nodemailer";
import type { DeliveryClaim } from "../../../extension/src/functions/claim_deliveries.ts";
import { validateAlertChannel } from "../../../extension/src/core/index.ts";
import type { DeliveryOutcome } from "./webhook.ts";

export interface MailMessage {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  text: string;
  attachments?: { filename: string; path: string }[];
}

export class Mailer {
  private transport: nodemailer.Transporter | null = null;

  constructor(private readonly smtpUrl: string | null, readonly defaultFrom: string) {}

  get configured(): boolean {
    return this.smtpUrl !== null;
  }

  /** Sends a message; the outcome carries the server's reply, never its address or credentials. */
  async send(message: MailMessage): Promise<DeliveryOutcome> {
    if (this.smtpUrl === null) {
      return { ok: false, error: "this supervisor has no SMTP server (set CLOCKWORK_SMTP_URL)", response: null };
    }
    this.transport ??= nodemailer.createTransport(this.smtpUrl, { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 });
    try {
      const info = await this.transport.sendMail({ ...message, disableFileAccess: false, disableUrlAccess: true });
      return { ok: true, error: null, response: String(info.response ?? "sent").slice(0, 200) };
    } catch (error) {
      const e = error as { response?: string; code?: string; message?: string };
      return { ok: false, error: `SMTP: ${(e.response ?? e.code ?? e.message ?? String(error)).toString().slice(0, 200)}`, response: null };
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = null;
  }
}

/** The alert as a mail: a subject that sorts and filters well, and a plain-text body. */
export function alertMail(claim: DeliveryClaim, defaultFrom: string): MailMessage | null {
  const channel = validateAlertChannel("email", claim.target);
  if (!channel.ok || channel.channel.kind !== "email") return null;
  const { to, cc, from, subjectPrefix } = channel.channel.email;
  const a = claim.alert;
  const what = a.job === null ? "scheduler" : `job ${a.job}`;
  const verb = claim.event === "resolved" ? "resolved" : a.state === "resolved" ? "event" : "opened";
  const subject = `${subjectPrefix} ${a.severity.toUpperCase()} ${what}: ${a.condition} ${verb}`.trim();
  const lines = [
    a.message,
    "",
    `alert:     ${a.alert_id} (${a.condition}${a.key ? `, ${a.key}` : ""})`,
    `job:       ${a.job ?? "(the scheduler itself)"}`,
    `severity:  ${a.severity}`,
    `opened at: ${a.opened_at}`,
    ...(a.resolved_at ? [`resolved:  ${a.resolved_at}${a.resolution ? ` (${a.resolution})` : ""}`] : []),
    ...(a.repeats > 0 ? [`repeats:   ${a.repeats}`] : []),
    "",
    "details:",
    JSON.stringify(a.details, null, 2),
    "",
    `SELECT * FROM clockwork.alert_history WHERE alert_id = ${a.alert_id};`,
    `SELECT clockwork.acknowledge_alert(${a.alert_id}, 'on it');`,
  ];
  return { from: from ?? defaultFrom, to, ...(cc.length > 0 ? { cc } : {}), subject, text: lines.join("\n") };
}
