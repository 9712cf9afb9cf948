// Conversions at the PL/v8 boundary that must behave the same on the real PL/v8 3.x and
// on clockwork_v8: int8 arrives as a BigInt there, so ids cross as text (id::text in
// every statement) and are compared and returned as strings or plain numbers.

/** An instant from a timestamptz argument (a Date) or an ISO string, as epoch ms. */
export function instantOf(value: Date | string | number): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${value}`);
  return ms;
}

export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** A bigint result for SQL: a plain number (ids stay far below 2^53). */
export function bigintResult(id: string): number {
  return Number(id);
}

/** JSON with object keys sorted, so values read back from jsonb compare equal to inputs. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** JSON text of SQL result rows: int8 values arrive as BigInt in PL/v8, which JSON cannot hold. */
export function rowsToJson(rows: unknown): string {
  return JSON.stringify(rows, (_key, v: unknown) =>
    typeof v === "bigint" ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
  );
}

/** The transaction's now(), for functions that take no `now` argument. */
export function transactionNow(): number {
  return (plv8.execute("SELECT now() AS t")[0] as { t: Date }).t.getTime();
}
