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
