import pg from "pg";
import { startCluster } from "../support/cluster.ts";
import { arg, sleep } from "./support.ts";
const atHour = arg("--hour", -1);
const slots = arg("--slots", 10);
const cluster = await startCluster();
const c = new pg.Client({ connectionString: cluster.url("postgres") });
try {
  await c.connect();
  await c.query("create extension clockwork_v8; create extension clockwork");
  await c.query("select clockwork.register_worker('probe')");
  const real = Date.now();
  const d = new Date(real); 
  let shift = 0;
  if (atHour >= 0) { const t = new Date(real); t.setUTCHours(atHour, 30, 0, 0); shift = t.getTime() - real; shift = Math.round(shift / 1000) * 1000; }
  const now = () => new Date(Date.now() + shift);
  await c.query("select clockwork.schedule('every-second', '* * * * * *', 'select 1')");
  const firing: number[] = []; const empty: number[] = [];
  for (let i = 0; i < slots + 5; i++) {
    const intoSecond = Date.now() % 1000;
    await sleep((intoSecond < 900 ? 950 : 1950) - intoSecond);
    let t = performance.now();
    const claimed = (await c.query("select clockwork.tick('probe', 10, $1, 100, null) as t", [now()])).rows[0].t.claimed as { step_run_id: string }[];
    if (i >= 5) firing.push(performance.now() - t);
    t = performance.now();
    await c.query("select clockwork.tick('probe', 0, $1, 0, null)", [now()]);
    if (i >= 5) empty.push(performance.now() - t);
    for (const claim of claimed) await c.query("select clockwork.complete_step($1::bigint, 'probe', 0, '', '', null, $2)", [claim.step_run_id, new Date(Date.parse((claim as any).start_at) + 1)]);
    if (i >= 5 && claimed.length === 0) console.log("no claim");
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
  console.log(`hour ${atHour}: firing ${median(firing)} ms max ${Math.max(...firing).toFixed(1)}, empty ${median(empty)}`);
} finally { await c.end().catch(() => {}); cluster.stop(); }
