// Benchmark of the core's next-fire computation against croner and cron-parser, used directly,
// side by side in one run. `make bench-core` (npx tsx test/bench/core.ts).
//   CORE_BENCH_ROUNDS (default 5), CORE_BENCH_EXPRESSIONS (default 100), CORE_BENCH_FIRES (default 10)
// Each library runs in its fastest mode that is correct for the zone: croner with utcOffset: 0
// in UTC (its `timezone` option goes through Intl and is ~100× slower), with `timezone` in
// Europe/Berlin; cron-parser with `tz`. Clockwork uses the Intl-backed TimeZoneRules of the
// tests for Berlin, and no rules at all for UTC (the core handles UTC itself).
import { build } from "esbuild";
import { Cron } from "croner";
import { CronExpressionParser } from "cron-parser";
import { parseSchedule, nextFireTimes, type Schedule } from "../../extension/src/core/index.ts";
import { intlRules } from "../core/tz.ts";
import { mulberry32, randomCron, vixieStarDiffers } from "../core/cron-gen.ts";
import { median } from "./support.ts";

const ROUNDS = Number(process.env.CORE_BENCH_ROUNDS ?? 5);
const EXPRESSIONS = Number(process.env.CORE_BENCH_EXPRESSIONS ?? 100);
const FIRES = Number(process.env.CORE_BENCH_FIRES ?? 10);
const STARTS = [Date.UTC(2026, 0, 15, 10, 17, 23), Date.UTC(2026, 2, 28, 23, 59, 0), Date.UTC(2026, 9, 24, 22, 0, 0), Date.UTC(2027, 5, 1, 0, 0, 1)];

const COMMON = [
  "* * * * *", "*/5 * * * *", "0 * * * *", "0 2 * * *", "30 2 * * *", "0 9 * * 1-5", "0 0 1 * *", "0 0 * * 0",
  "15,45 8-18 * * MON-FRI", "0 */2 * * *", "0 0 1 1 *", "*/10 * * * * *", "0 30 6 * * *", "0 0 L * *", "0 0 * * 5#3",
];

function corpus(): string[] {
  const rand = mulberry32(7);
  const out = [...COMMON];
  while (out.length < EXPRESSIONS) {
    const e = randomCron(rand, { seconds: 0.2 });
    if (vixieStarDiffers(e)) continue;
    try {
      CronExpressionParser.parse(e);
      new Cron(e, { legacyMode: true, paused: true });
    } catch {
      continue;
    }
    if (parseSchedule(e).ok) out.push(e);
  }
  return out;
}

type Runner = () => number; // returns the number of next-fire computations done

function runners(exprs: string[], zone: string): Record<string, Runner> {
  const ours: Schedule[] = exprs.map((e) => {
    const r = parseSchedule({ cron: e, time_zone: zone });
    if (!r.ok) throw new Error(e);
    return r.schedule;
  });
  const croners = exprs.map((e) => new Cron(e, zone === "UTC" ? { utcOffset: 0, legacyMode: true, paused: true } : { timezone: zone, legacyMode: true, paused: true }));
  const parsers = exprs.map((e) => CronExpressionParser.parse(e, { tz: zone, currentDate: new Date(STARTS[0]!) }));
  const rules = zone === "UTC" ? null : intlRules;
  let sink = 0;
  return {
    clockwork: () => {
      let n = 0;
      for (const s of ours) for (const start of STARTS) {
        const r = nextFireTimes(s, start, FIRES, rules);
        n += r.length;
        sink += r[r.length - 1] ?? 0;
      }
      return n;
    },
    croner: () => {
      let n = 0;
      for (const c of croners) for (const start of STARTS) {
        const r = c.nextRuns(FIRES, new Date(start));
        n += r.length;
        sink += r[r.length - 1]?.getTime() ?? 0;
      }
      return n;
    },
    "cron-parser": () => {
      let n = 0;
      for (const p of parsers) for (const start of STARTS) {
        p.reset(new Date(start));
        for (let i = 0; i < FIRES; i++) {
          sink += p.next().getTime();
          n++;
        }
      }
      return n + (sink === 0.5 ? 1 : 0);
    },
  };
}


function measure(zone: string, exprs: string[]): Record<string, number> {
  const rs = runners(exprs, zone);
  const rates: Record<string, number[]> = {};
  for (const name of Object.keys(rs)) rs[name]!(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    // Interleave the libraries in each round so machine noise hits all of them alike.
    for (const [name, run] of Object.entries(rs)) {
      const t0 = performance.now();
      const n = run();
      const dt = performance.now() - t0;
      (rates[name] ??= []).push(n / (dt / 1000));
    }
  }
  return Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
}

const fmt = (x: number): string => Math.round(x).toLocaleString("en-US").padStart(12);
const exprs = corpus();
console.log(`corpus: ${exprs.length} expressions × ${STARTS.length} start instants × ${FIRES} successive fire times; ${ROUNDS} rounds, medians`);
console.log(`${"zone".padEnd(16)}${"clockwork/s".padStart(12)}${"croner/s".padStart(12)}${"cron-parser/s".padStart(14)}  ratio vs faster`);
for (const zone of ["UTC", "Europe/Berlin"]) {
  const m = measure(zone, exprs);
  const faster = Math.max(m.croner!, m["cron-parser"]!);
  console.log(`${zone.padEnd(16)}${fmt(m.clockwork!)}${fmt(m.croner!)}${fmt(m["cron-parser"]!).padStart(14)}  ${(m.clockwork! / faster).toFixed(2)}×`);
}
const bundle = await build({ entryPoints: ["extension/src/core/index.ts"], bundle: true, minify: true, format: "iife", globalName: "clockworkCore", write: false, logLevel: "silent" });
console.log(`core bundle (esbuild --bundle --minify --format=iife): ${(bundle.outputFiles[0]!.contents.length / 1024).toFixed(1)} KB`);
