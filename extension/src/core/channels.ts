// Alert channels: where alerts go besides NOTIFY clockwork_alert. An administrator defines
// them once (clockwork.define_alert_channel), jobs name them in `alerts.to`. A channel holds
// addresses, never a secret: a webhook's signing key is named by the environment variable
// of the supervisor that holds it, and only CLOCKWORK_SECRET_* variables may be named, so a
// definition can never point at the supervisor's own database credentials.
//
//   webhook  { url, secret_env?, headers?, timeout?, retry? }   HTTP POST of the alert as JSON
//   email    { to, cc?, from?, subject_prefix?, retry? }          a mail over the supervisor's SMTP server
//   job      { job, retry? }                                     a run of that job, the alert as parameters

import { issue, didYouMean, type ValidationIssue } from "./errors.ts";
import { parseInterval } from "./interval.ts";
import { DEFAULT_DELIVERY_RETRY, type DeliveryRetryPolicy } from "./alerts.ts";

export const CHANNEL_KINDS = ["webhook", "email", "job"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Names of secrets a definition may refer to: the operator decides what is exposed. */
export const SECRET_ENV_RE = /^CLOCKWORK_SECRET_[A-Z0-9_]{1,100}$/;
export const SECRET_ENV_HINT = "name an environment variable of the supervisor that starts with CLOCKWORK_SECRET_ (e.g. CLOCKWORK_SECRET_OPS_HOOK)";

/** Header names whose values are credentials: never written in a definition. */
export const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"];

const EMAIL_RE = /^[^\s@<>(),;:"]+@[A-Za-z0-9.-]+$/;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

export interface WebhookTarget {
  url: string;
  secretEnv: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface EmailTarget {
  to: string[];
  cc: string[];
  from: string | null;
  subjectPrefix: string;
}

export interface JobTarget {
  job: string;
}

export type ChannelTarget =
  | { kind: "webhook"; webhook: WebhookTarget; retry: DeliveryRetryPolicy }
  | { kind: "email"; email: EmailTarget; retry: DeliveryRetryPolicy }
  | { kind: "job"; job: JobTarget; retry: DeliveryRetryPolicy };

export type ChannelResult = { ok: true; channel: ChannelTarget } | { ok: false; errors: ValidationIssue[] };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const HTTP_URL_RE = /^(https?):\/\/([^/?#\s]*)([/?#][^\s]*)?$/i;
const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:(\d{1,5}))?$/;

/**
 * An http(s) URL without credentials, or an error message. Parsed by hand: the core runs
 * in a bare V8 context, which has no URL class.
 */
export function checkHttpUrl(text: unknown): { url: string } | { error: string } {
  if (typeof text !== "string" || text === "") return { error: "must be an http:// or https:// URL" };
  const m = HTTP_URL_RE.exec(text);
  if (m === null) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
    return { error: scheme !== null && !/^https?$/i.test(scheme[1]!) ? `must be an http:// or https:// URL, got ${scheme[1]}:` : `${JSON.stringify(text)} is not an http(s) URL` };
  }
  const authority = m[2]!;
  if (authority.includes("@")) return { error: "must not carry a user or password: name a secret instead" };
  const hp = HOST_PORT_RE.exec(authority);
  if (hp === null) return { error: `${JSON.stringify(authority)} is not a host name or address` };
  if (hp[4] !== undefined && (Number(hp[4]) < 1 || Number(hp[4]) > 65535)) return { error: `port ${hp[4]} is out of range` };
  return { url: text };
}

/** Headers as name: value, none of them credentials. */
export function readHeaders(errors: ValidationIssue[], v: unknown, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (!isObj(v)) {
    errors.push(issue("invalid_alert", path, "must be an object of Header-Name: value"));
    return out;
  }
  for (const [name, value] of Object.entries(v)) {
    const p = `${path}.${name}`;
    if (!HEADER_NAME_RE.test(name)) errors.push(issue("invalid_alert", p, `"${name}" is not a valid header name`));
    else if (CREDENTIAL_HEADERS.includes(name.toLowerCase())) errors.push(issue("secret_in_definition", p, `the ${name} header is a credential: it never goes in a definition`));
    else if (typeof value !== "string" || /[\r\n]/.test(value)) errors.push(issue("invalid_alert", p, "must be a one-line string"));
    else out[name] = value;
  }
  return out;
}

export function readRetry(errors: ValidationIssue[], v: unknown, path: string): DeliveryRetryPolicy {
  const policy = { ...DEFAULT_DELIVERY_RETRY };
  if (v === undefined || v === null) return policy;
  if (!isObj(v)) {
    errors.push(issue("invalid_alert", path, "must be an object with attempts, delay, max_delay"));
    return policy;
  }
  for (const k of Object.keys(v)) {
    if (!["attempts", "delay", "max_delay"].includes(k)) errors.push(issue("invalid_alert", `${path}.${k}`, `unknown field "${k}"${didYouMean(k, ["attempts", "delay", "max_delay"])}`));
  }
  if (v.attempts !== undefined) {
    if (typeof v.attempts === "number" && Number.isInteger(v.attempts) && v.attempts >= 1 && v.attempts <= 50) policy.attempts = v.attempts;
    else errors.push(issue("invalid_alert", `${path}.attempts`, "must be a whole number from 1 to 50 (the first attempt included)"));
  }
  for (const [key, field] of [["delay", "delayMs"], ["max_delay", "maxDelayMs"]] as const) {
    if (v[key] === undefined) continue;
    const r = parseInterval(v[key]);
    if (!r.ok) errors.push(issue("invalid_alert", `${path}.${key}`, r.message));
    else if (r.ms < 100 || r.ms > 24 * 3_600_000) errors.push(issue("invalid_alert", `${path}.${key}`, "must be from 100ms to 24 hours"));
    else policy[field] = r.ms;
  }
  if (policy.maxDelayMs < policy.delayMs) policy.maxDelayMs = policy.delayMs;
  return policy;
}

function readAddresses(errors: ValidationIssue[], v: unknown, path: string, required: boolean): string[] {
  if (v === undefined || v === null) {
    if (required) errors.push(issue("invalid_alert", path, "needs at least one address"));
    return [];
  }
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || (required && list.length === 0)) {
    errors.push(issue("invalid_alert", path, "must be an address or a non-empty list of addresses"));
    return [];
  }
  const out: string[] = [];
  list.forEach((a: unknown, i) => {
    if (typeof a !== "string" || !EMAIL_RE.test(a)) errors.push(issue("invalid_alert", `${path}[${i}]`, `${JSON.stringify(a)} is not a mail address`));
    else out.push(a);
  });
  return out;
}

/** Validates a channel definition; `jobs`: names of jobs a job channel may run, when known. */
export function validateAlertChannel(kind: unknown, target: unknown, jobs?: readonly string[]): ChannelResult {
  const errors: ValidationIssue[] = [];
  if (typeof kind !== "string" || !(CHANNEL_KINDS as readonly string[]).includes(kind)) {
    return { ok: false, errors: [issue("invalid_alert", "kind", `unknown channel kind ${JSON.stringify(kind)}${typeof kind === "string" ? didYouMean(kind, CHANNEL_KINDS) : ""} (known: ${CHANNEL_KINDS.join(", ")})`)] };
  }
  if (!isObj(target)) return { ok: false, errors: [issue("invalid_alert", "target", "must be an object")] };
  const allowed: Record<ChannelKind, string[]> = {
    webhook: ["url", "secret_env", "headers", "timeout", "retry"],
    email: ["to", "cc", "from", "subject_prefix", "retry"],
    job: ["job", "retry"],
  };
  for (const k of Object.keys(target)) {
    if (!allowed[kind as ChannelKind].includes(k)) {
      const secretish = /secret|password|token|key/i.test(k);
      errors.push(issue(secretish ? "secret_in_definition" : "invalid_alert", `target.${k}`, secretish
        ? `"${k}" looks like a credential: a definition never holds one; ${SECRET_ENV_HINT}`
        : `unknown field "${k}"${didYouMean(k, allowed[kind as ChannelKind])} for a ${kind} channel`));
    }
  }
  const retry = readRetry(errors, target.retry, "target.retry");
  let channel: ChannelTarget | null = null;
  if (kind === "webhook") {
    const u = checkHttpUrl(target.url);
    if ("error" in u) errors.push(issue("invalid_alert", "target.url", u.error));
    let secretEnv: string | null = null;
    if (target.secret_env !== undefined && target.secret_env !== null) {
      if (typeof target.secret_env !== "string" || !SECRET_ENV_RE.test(target.secret_env)) {
        errors.push(issue("secret_in_definition", "target.secret_env", `${JSON.stringify(target.secret_env)} is not allowed: ${SECRET_ENV_HINT}`));
      } else secretEnv = target.secret_env;
    }
    const headers = readHeaders(errors, target.headers, "target.headers");
    let timeoutMs = 10_000;
    if (target.timeout !== undefined) {
      const r = parseInterval(target.timeout);
      if (!r.ok) errors.push(issue("invalid_alert", "target.timeout", r.message));
      else if (r.ms > 60_000) errors.push(issue("invalid_alert", "target.timeout", "must be at most 60 seconds"));
      else timeoutMs = r.ms;
    }
    if ("url" in u) channel = { kind: "webhook", webhook: { url: u.url, secretEnv, headers, timeoutMs }, retry };
  } else if (kind === "email") {
    const to = readAddresses(errors, target.to, "target.to", true);
    const cc = readAddresses(errors, target.cc, "target.cc", false);
    let from: string | null = null;
    if (target.from !== undefined && target.from !== null) {
      if (typeof target.from !== "string" || !EMAIL_RE.test(target.from)) errors.push(issue("invalid_alert", "target.from", `${JSON.stringify(target.from)} is not a mail address`));
      else from = target.from;
    }
    let subjectPrefix = "[clockwork]";
    if (target.subject_prefix !== undefined) {
      if (typeof target.subject_prefix !== "string" || /[\r\n]/.test(target.subject_prefix) || target.subject_prefix.length > 100) {
        errors.push(issue("invalid_alert", "target.subject_prefix", "must be one line of at most 100 characters"));
      } else subjectPrefix = target.subject_prefix;
    }
    channel = { kind: "email", email: { to, cc, from, subjectPrefix }, retry };
  } else {
    if (typeof target.job !== "string" || target.job === "") errors.push(issue("invalid_alert", "target.job", "must name the job to run"));
    else if (jobs !== undefined && !jobs.includes(target.job)) errors.push(issue("not_found", "target.job", `unknown job "${target.job}"${didYouMean(target.job, jobs)}`));
    else channel = { kind: "job", job: { job: target.job }, retry };
  }
  if (errors.length > 0 || channel === null) return { ok: false, errors: errors.length > 0 ? errors : [issue("invalid_alert", "target", "invalid channel")] };
  return { ok: true, channel };
}

/** The parameters a job channel's run gets: these names, where its job declares them. */
export const ALERT_JOB_PARAMETERS = [
  "alert_id", "alert_event", "alert_condition", "alert_job", "alert_severity", "alert_message", "alert_opened_at", "alert_details",
] as const;
