// Time-zone rules backed by PostgreSQL's own tz database (design rule: no copy of the
// tz data in JavaScript). Asking PostgreSQL once per instant costs ~60 µs, far too slow
// for hot paths, so each zone's UTC offsets are fetched for a window of ~3 years in one
// query and kept for the session: day samples find the days with a transition, minute and
// then second samples within them find the transition itself.

const DAY_MS = 86_400_000;
const WINDOW_BEFORE_MS = 400 * DAY_MS;
const WINDOW_AFTER_MS = 800 * DAY_MS;

interface OffsetSegment {
  /** First instant (epoch ms) at which `offsetSeconds` is in force. */
  readonly fromMs: number;
  readonly offsetSeconds: number;
}

interface ZoneWindow {
  readonly fromMs: number;
  readonly toMs: number;
  readonly segments: OffsetSegment[];
}

const windows = new Map<string, ZoneWindow[]>();
let knownZones: Set<string> | undefined;

// Day samples find the days with a transition, minute samples the minute of it, second
// samples the second: historic offsets (local mean time, e.g. Berlin's +00:53:28 until
// 1893) change at odd seconds, and a transition found only to the minute would move
// slots near it by up to 59 s.
const OFFSETS_SQL = `
WITH days AS (
    SELECT d,
           extract(epoch FROM (d AT TIME ZONE $1) - (d AT TIME ZONE 'UTC'))::integer AS offset_s
      FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 day') AS d
), changed_days AS (
    SELECT d
      FROM (SELECT d, offset_s, lag(offset_s) OVER (ORDER BY d) AS previous_s FROM days) AS x
     WHERE offset_s <> previous_s
), minutes AS (
    SELECT m,
           extract(epoch FROM (m AT TIME ZONE $1) - (m AT TIME ZONE 'UTC'))::integer AS offset_s
      FROM changed_days,
           generate_series(changed_days.d - interval '1 day', changed_days.d, interval '1 minute') AS m
), changed_minutes AS (
    SELECT m
      FROM (SELECT m, offset_s, lag(offset_s) OVER (ORDER BY m) AS previous_s FROM minutes) AS x
     WHERE offset_s <> previous_s
)
SELECT $2::timestamptz AS at,
       (SELECT offset_s FROM days ORDER BY d LIMIT 1) AS offset_s
UNION ALL
SELECT s AS at,
       extract(epoch FROM (s AT TIME ZONE $1) - (s AT TIME ZONE 'UTC'))::integer AS offset_s
  FROM changed_minutes,
       generate_series(changed_minutes.m - interval '1 minute', changed_minutes.m, interval '1 second') AS s
ORDER BY at`;

function loadWindow(zone: string, aroundMs: number): ZoneWindow {
  const fromMs = Math.floor((aroundMs - WINDOW_BEFORE_MS) / DAY_MS) * DAY_MS;
  const toMs = fromMs + WINDOW_BEFORE_MS + WINDOW_AFTER_MS;
  const rows = plv8.execute(OFFSETS_SQL, [zone, new Date(fromMs), new Date(toMs)]) as { at: Date; offset_s: number }[];
  const segments: OffsetSegment[] = [];
  for (const row of rows) {
    const last = segments[segments.length - 1];
    if (!last || last.offsetSeconds !== row.offset_s) {
      segments.push({ fromMs: row.at.getTime(), offsetSeconds: row.offset_s });
    }
  }
  const window = { fromMs, toMs, segments };
  const list = windows.get(zone) ?? [];
  list.push(window);
  windows.set(zone, list);
  return window;
}

/** TimeZoneRules for the core, answered from PostgreSQL's tz database. */
export const postgresTimeZoneRules = {
  utcOffsetSeconds(zone: string, instantMs: number): number {
    if (zone === "UTC" || zone === "Etc/UTC") return 0;
    const window =
      windows.get(zone)?.find((w) => instantMs >= w.fromMs && instantMs < w.toMs) ?? loadWindow(zone, instantMs);
    const segments = window.segments;
    // Last segment starting at or before the instant (binary search; lists are short).
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]!.fromMs <= instantMs) lo = mid;
      else hi = mid - 1;
    }
    return segments[lo]!.offsetSeconds;
  },
};

/** Whether PostgreSQL knows this IANA zone name (names are fetched once per session). */
export function isKnownTimeZone(zone: string): boolean {
  if (!knownZones) {
    const rows = plv8.execute("SELECT name FROM pg_catalog.pg_timezone_names") as { name: string }[];
    knownZones = new Set(rows.map((r) => r.name));
  }
  return knownZones.has(zone);
}
