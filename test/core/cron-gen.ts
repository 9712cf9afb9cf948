// Random cron expressions for the differential and property tests and the benchmark.

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

export interface GenOptions {
  /** Allow L / # / nL (cron-parser knows them). */
  specials?: boolean;
  /** Probability of a 6-field expression. */
  seconds?: number;
}

export function randomCron(rand: () => number, options: GenOptions = {}): string {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const name = (v: number, names: string[] | null, base: number): string => (names !== null && rand() < 0.3 ? names[v - base]! : String(v));
  const item = (lo: number, hi: number, names: string[] | null = null, base = 0): string => {
    const r = rand();
    if (r < 0.35) return name(int(lo, hi), names, base);
    if (r < 0.55) {
      const a = int(lo, hi);
      const b = int(a, hi);
      return `${name(a, names, base)}-${name(b, names, base)}`;
    }
    if (r < 0.75) return `*/${int(1, Math.max(1, Math.floor((hi - lo + 1) / 2)))}`;
    if (r < 0.9) {
      const a = int(lo, hi);
      const b = int(a, hi);
      return `${a}-${b}/${int(1, Math.max(1, hi - lo))}`;
    }
    return `${int(lo, hi)}/${int(1, Math.max(1, hi - lo))}`;
  };
  const field = (lo: number, hi: number, star: number, names: string[] | null = null, base = 0): string => {
    if (rand() < star) return "*";
    const n = rand() < 0.7 ? 1 : int(2, 3);
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      const it = item(lo, hi, names, base);
      if (n > 1 && it.startsWith("*")) continue; // keep lists free of '*' items
      items.push(it);
    }
    return items.length === 0 ? String(int(lo, hi)) : items.join(",");
  };
  let dom = field(1, 31, 0.6);
  let dow = field(0, 6, 0.6, DAYS, 0);
  if (options.specials && rand() < 0.15) dom = pick(["L", `${int(1, 28)},L`]);
  if (options.specials && rand() < 0.15) dow = pick([`${int(0, 6)}#${int(1, 5)}`, `${int(0, 6)}L`]);
  const parts = [field(0, 59, 0.2), field(0, 23, 0.4), dom, field(1, 12, 0.6, MONTHS, 1), dow];
  if (rand() < (options.seconds ?? 0.3)) parts.unshift(field(0, 59, 0.4));
  return parts.join(" ");
}

/** Whether day-of-month and day-of-week combine differently under Vixie's rule (see docs/core.md). */
export function vixieStarDiffers(expr: string): boolean {
  const f = expr.split(" ");
  const [dom, dow] = f.length === 6 ? [f[3]!, f[5]!] : [f[2]!, f[4]!];
  const starLike = (x: string): boolean => x.startsWith("*") && x !== "*";
  const restricted = (x: string): boolean => x !== "*" && x !== "?";
  return (starLike(dom) && restricted(dow)) || (starLike(dow) && restricted(dom));
}
