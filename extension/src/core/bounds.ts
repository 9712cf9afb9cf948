// Bounds on what Clockwork accepts and keeps, in one place: the size of a job's definition,
// of its parameters and of its runs (checked when the job is defined), and of what a step
// leaves in history (its output, its result rows, its error). Sizes are UTF-8 bytes, as
// stored; measured without building the text, so a definition that would expand to
// gigabytes (a YAML alias bomb) costs no more than the bound to refuse.

/** A job's definition, as its JSON text (and the text it was written in): 1 MiB. */
export const MAX_DEFINITION_BYTES = 1_048_576;
/** The parameters of a job, its steps and checks, and its matrix values, in all (JSON); and a run's parameters: 64 KiB. */
export const MAX_PARAMETER_BYTES = 65_536;
/** Step and check instances of one run, matrix expanded (each step's matrix: MAX_MATRIX_INSTANCES). */
export const MAX_RUN_INSTANCES = 1024;

/** Bytes as people read them: `1 MiB`, `64 KiB`, `1000 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** UTF-8 length of a string (a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The UTF-8 size of JSON.stringify(value), or `limit + 1` as soon as it is known to be
 * larger than `limit`: the walk stops there, so shared (or cyclic) parts cost at most the
 * bound. Strings count their escapes.
 */
export function jsonSizeAtMost(value: unknown, limit: number): number {
  let size = 0;
  const over = () => size > limit;
  const visit = (v: unknown): void => {
    if (over()) return;
    if (v === null || v === undefined || typeof v === "function" || typeof v === "symbol") size += 4;
    else if (typeof v === "string") size += utf8Length(JSON.stringify(v.length > limit ? v.slice(0, limit + 1) : v));
    else if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") size += String(v).length;
    else if (Array.isArray(v)) {
      size += 2 + Math.max(0, v.length - 1);
      for (const x of v) {
        visit(x);
        if (over()) return;
      }
    } else if (typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>);
      size += 2 + Math.max(0, entries.length - 1);
      for (const [k, x] of entries) {
        size += utf8Length(JSON.stringify(k)) + 1;
        visit(x);
        if (over()) return;
      }
    }
  };
  visit(value);
  return over() ? limit + 1 : size;
}

/** `at most N bytes (1 MiB) are allowed`, for messages that name a bound. */
export function allowedBytes(limit: number): string {
  return `at most ${limit} bytes (${formatBytes(limit)}) are allowed`;
}

/**
 * What a step leaves in history, per stream of a shell or program step's output and for an
 * SQL step's result rows and error: 1 MiB. The supervisor's default --output-limit, and
 * clockwork.output_limit() in the database (a test checks they agree).
 */
export const OUTPUT_LIMIT_BYTES = 1_048_576;

/** The line that ends text cut at a bound. */
export function truncationMarker(limitBytes: number): string {
  return `\n[clockwork: output truncated after ${limitBytes} bytes]\n`;
}

/**
 * Text kept to at most `limitBytes` UTF-8 bytes, never inside a character, followed by the
 * truncation marker when it was cut (the rule of a shell step's output): unchanged when it fits.
 */
export function cutText(text: string, limitBytes: number): { text: string; truncated: boolean } {
  // Every UTF-16 unit is at most 3 bytes: short enough text needs no count.
  if (text.length * 3 <= limitBytes || utf8Length(text) <= limitBytes) return { text, truncated: false };
  let bytes = 0;
  let end = 0;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    const pair = c >= 0xd800 && c <= 0xdbff && end + 1 < text.length && (text.charCodeAt(end + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > limitBytes) break;
    bytes += size;
    end += pair ? 2 : 1;
  }
  return { text: text.slice(0, end) + truncationMarker(limitBytes), truncated: true };
}

/**
 * An SQL step's result rows as recorded: whole rows while their JSON fits in `limitBytes`;
 * when not even the first row fits, it is kept with its large values cut (cutText; a value
 * that is not text is cut as its JSON text), so that a condition can still read its small
 * columns and the record says where it was cut. The JSON of what is kept is at most
 * `limitBytes`, markers included.
 */
export function boundRows(rows: readonly unknown[], limitBytes: number): { rows: unknown[]; truncated: boolean } {
  const kept: unknown[] = [];
  let size = 2; // []
  for (const row of rows) {
    const rowSize = jsonSizeAtMost(row, limitBytes) + (kept.length > 0 ? 1 : 0);
    if (size + rowSize <= limitBytes) {
      kept.push(row);
      size += rowSize;
      continue;
    }
    if (kept.length === 0) {
      const cut = cutRow(row, limitBytes - 2);
      if (cut !== null) kept.push(cut);
    }
    return { rows: kept, truncated: true };
  }
  return { rows: kept, truncated: false };
}

/** A row whose JSON fits in `budget` bytes, its largest values cut; null when nothing fits. */
function cutRow(row: unknown, budget: number): unknown {
  if (row === null || typeof row !== "object" || Array.isArray(row)) {
    const text = typeof row === "string" ? row : JSON.stringify(row) ?? "null";
    for (let keep = budget - 2; keep > 0; keep = Math.floor(keep / 2)) {
      const cut = cutText(text, Math.max(0, keep - truncationMarker(keep).length)).text;
      if (jsonSizeAtMost(cut, budget) <= budget) return cut;
    }
    return null;
  }
  // Small values are kept whole; the large ones share what is left equally. Escapes (a
  // quote is two bytes in JSON) can make a cut value larger than its room: then all the
  // rooms shrink until the row fits.
  const entries = Object.entries(row as Record<string, unknown>).map(([key, value]) => {
    const keyBytes = utf8Length(JSON.stringify(key)) + 2; // "key": and a comma
    return { key, value, keyBytes, bytes: keyBytes + jsonSizeAtMost(value, budget) };
  });
  const bySize = [...entries].sort((x, y) => x.bytes - y.bytes);
  for (let scale = 1; scale > 0.001; scale /= 2) {
    let room = Math.floor((budget - 2) * scale);
    const rooms = new Map<string, number>();
    bySize.forEach((e, i) => {
      const fair = Math.floor(room / (bySize.length - i));
      const mine = Math.min(e.bytes, fair);
      rooms.set(e.key, mine);
      room -= mine;
    });
    const out: Record<string, unknown> = {};
    for (const e of entries) {
      const mine = rooms.get(e.key)!;
      if (e.bytes <= mine) out[e.key] = e.value;
      else {
        const text = typeof e.value === "string" ? e.value : JSON.stringify(e.value) ?? "null";
        // The quotes, the marker and its two escaped newlines.
        out[e.key] = cutText(text, Math.max(0, mine - e.keyBytes - 2 - truncationMarker(mine).length - 2)).text;
      }
    }
    if (jsonSizeAtMost(out, budget) <= budget) return out;
  }
  return null;
}
