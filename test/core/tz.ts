// Intl-backed TimeZoneRules for tests and the benchmark (the core itself never uses Intl).
import type { TimeZoneRules } from "../../extension/src/core/index.ts";

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric", era: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Offset = (wall clock read as UTC) - instant, from Intl's formatting of the instant. */
export const intlRules: TimeZoneRules = {
  utcOffsetSeconds(zone: string, instantMs: number): number {
    const t = Math.floor(instantMs / 1000) * 1000;
    const parts = formatter(zone).formatToParts(new Date(t));
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
    for (const p of parts) {
      switch (p.type) {
        case "year": y = Number(p.value); break;
        case "month": mo = Number(p.value); break;
        case "day": d = Number(p.value); break;
        case "hour": h = Number(p.value); break;
        case "minute": mi = Number(p.value); break;
        case "second": s = Number(p.value); break;
        case "era": bc = p.value === "BC" || p.value === "B"; break;
      }
    }
    if (bc) y = 1 - y;
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d);
    date.setUTCHours(h, mi, s, 0);
    return (date.getTime() - t) / 1000;
  },
};

export function isValidTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Counts calls, to check the core asks the rules sparingly. */
export function countingRules(inner: TimeZoneRules = intlRules): TimeZoneRules & { calls: number } {
  const r = { calls: 0, utcOffsetSeconds(zone: string, t: number) { r.calls++; return inner.utcOffsetSeconds(zone, t); } };
  return r;
}

/** Epoch ms of an ISO string with an explicit offset or Z. */
export const ms = (iso: string): number => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad test timestamp ${iso}`);
  return t;
};
export const iso = (t: number | null | undefined): string | null => (t == null ? null : new Date(t).toISOString());
