// A crontab (a file, or `crontab -l`): one job per entry line.
//   NAME=value lines     the environment of the shell steps that follow (PATH, HOME, TZ, …);
//                        CRON_TZ sets the time zone of the lines after it (cronie; TZ is only
//                        the commands' environment); MAILTO is noted (Clockwork keeps output
//                        in its history and does not mail)
//   @reboot @daily …     the same macros; five fields; a sixth field is the user in
//                        system crontabs (--system), noted (the step runs as the supervisor's user)
//   psql -c '…'          a plain psql call with -c/--command on the Clockwork database
//                        (named by -d or PGDATABASE, no other PG* line) becomes an SQL
//                        step; any other command a shell step (bash -c)
//   %                    an escaped \% is a %; an unescaped % (cron's stdin) is refused
// Times are read in the machine's zone (cron uses local time) unless --time-zone says.
// Summer time as cron: a line whose minute or hour field starts with * (and @hourly) runs
// by the wall clock, the others catch up after a change forward and do not repeat after
// one back (wildcardEntry).
// Cut-over: the imported lines are commented out ("#clockwork: ") in the crontab.
import { isUtc, jobName, MINUTE_BY_MINUTE_DST, type ImportResult, type ImportedJob, type RefusedJob } from "./common.ts";

const MACROS = new Set(["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

/** Splits a command like a POSIX shell would for simple words; null when it is not simple. */
export function shellWords(command: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  let current: string | null = null;
  while (i < command.length) {
    const c = command[i]!;
    if (c === " " || c === "\t") {
      if (current !== null) words.push(current);
      current = null;
      i++;
    } else if (c === "'") {
      const j = command.indexOf("'", i + 1);
      if (j < 0) return null;
      current = (current ?? "") + command.slice(i + 1, j);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let text = "";
      for (; j < command.length && command[j] !== '"'; j++) {
        if (command[j] === "$" || command[j] === "`") return null; // expansions: not simple
        if (command[j] === "\\" && /["\\$`]/.test(command[j + 1] ?? "")) j++;
        text += command[j];
      }
      if (j >= command.length) return null;
      current = (current ?? "") + text;
      i = j + 1;
    } else if (/[|&;<>()$`*?[\]{}~#]/.test(c)) {
      return null; // pipes, lists, redirections, expansions: a shell step
    } else if (c === "\\") {
      current = (current ?? "") + (command[i + 1] ?? "");
      i += 2;
    } else {
      current = (current ?? "") + c;
      i++;
    }
  }
  if (current !== null) words.push(current);
  return words;
}

/**
 * A simple `psql -c SQL [-d db]` that connects to `database` as the job's owner would: its
 * SQL; `{ note }` when it is psql -c but may connect elsewhere (the crontab's environment
 * lines redirect it, or it names no database and so reaches the one named after the
 * user); null for anything else.
 */
export function psqlCommand(command: string, database: string, env: Record<string, string> = {}): { sql: string } | { note: string } | null {
  const words = shellWords(command);
  if (words === null || words.length < 2 || !/(^|\/)psql$/.test(words[0]!)) return null;
  const sql: string[] = [];
  let db: string | null = null;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const value = (flag: string, long: string) => (w === flag || w === long ? words[++i] : w.startsWith(`${long}=`) ? w.slice(long.length + 1) : w.startsWith(flag) && w.length > flag.length ? w.slice(flag.length) : undefined);
    let v: string | undefined;
    if ((v = value("-c", "--command")) !== undefined) sql.push(v);
    else if ((v = value("-d", "--dbname")) !== undefined) db = v;
    else if (["-q", "--quiet", "-X", "--no-psqlrc", "-A", "--no-align", "-t", "--tuples-only", "-v", "ON_ERROR_STOP=1", "--set=ON_ERROR_STOP=1", "-1", "--single-transaction"].includes(w)) continue;
    else if (w === "-v" || w === "--set") i++;
    else if (!w.startsWith("-") && db === null) db = w;
    else return null; // -h, -p, -U, -f, …: run it as the shell command it is
  }
  if (sql.length === 0 || (db !== null && db !== database)) return null;
  const redirect = Object.keys(env).find((k) => k.startsWith("PG") && k !== "PGDATABASE");
  if (redirect !== undefined) return { note: `${redirect}=${env[redirect]}: psql connects elsewhere; kept as a shell step` };
  db ??= env.PGDATABASE ?? null;
  if (db === null) return { note: "psql names no database (-d or PGDATABASE): it connects to the database named after the user; kept as a shell step" };
  if (db !== database) return null;
  return { sql: sql.join(";\n") };
}

/**
 * Whether cron runs a line as a "wildcard" job at a change of summer time: one whose minute
 * or hour field starts with `*`, and @hourly (Vixie cron and cronie: MIN_STAR, HR_STAR in
 * load_entry). When the clock jumps forward, cron runs wildcard jobs for the new minute
 * only and each fixed-time job once for every matching minute it skipped, right after the
 * jump; when it goes back, it runs wildcard jobs again for the repeated minutes and not the
 * fixed-time ones (cron.c, the medium and negative wake-ups). So a wildcard line is
 * Clockwork's dst gap skip, overlap twice, and a fixed-time line its default (gap shift,
 * overlap once).
 */
export function wildcardEntry(schedule: string): boolean {
  if (schedule.startsWith("@")) return schedule === "@hourly";
  const [minute, hour] = schedule.split(" ");
  return minute!.startsWith("*") || hour!.startsWith("*");
}

export interface CrontabOptions {
  /** The Clockwork database's name (psql lines on it become SQL steps). */
  database: string;
  /** The zone cron reads times in: the machine's. */
  timeZone: string;
  /** /etc/crontab and cron.d files have a user field. */
  system: boolean;
  /** Shown in origins and names: the file, or "crontab -l". */
  label: string;
}

export function importCrontab(text: string, options: CrontabOptions): ImportResult & { commentOut: (lines: number[]) => string; lines: number[] } {
  const jobs: ImportedJob[] = [];
  const refused: RefusedJob[] = [];
  const env: Record<string, string> = {};
  const lines = text.split("\n");
  const importedLines: number[] = [];
  let tz = options.timeZone;
  const notes: string[] = [`times are read in ${options.timeZone} (the zone cron uses)${options.timeZone === "UTC" ? "" : "; pass --time-zone to change it"}`];
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (assignment) {
      let value = assignment[2]!.trim();
      if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
      // CRON_TZ is cronie's zone for the times after it; TZ, as in every cron, is only the
      // commands' environment (Debian's cron says so, and ignores CRON_TZ as well).
      if (assignment[1] === "CRON_TZ") {
        tz = value;
        notes.push(`CRON_TZ=${value} (line ${index + 1}): the lines after it are read in ${value}, as cronie reads them; Debian's cron ignores CRON_TZ and uses the machine's zone (pass --time-zone and remove the line if that is your cron)`);
      } else env[assignment[1]!] = value;
      return;
    }
    const origin = `${options.label}:${lineNo}`;
    const fields = line.split(/\s+/);
    let schedule: string;
    let rest: string[];

    if (fields[0]!.startsWith("@")) {
      if (!MACROS.has(fields[0]!)) { refused.push({ origin, reason: `unknown macro ${fields[0]}` }); return; }
      schedule = fields[0]!;
      rest = fields.slice(1);
    } else {
      if (fields.length < 6) { refused.push({ origin, reason: "a crontab entry needs five time fields and a command" }); return; }
      schedule = fields.slice(0, 5).join(" ");
      rest = fields.slice(5);
    }
    // The command is the rest of the line as written (spacing kept).
    let command = (schedule.startsWith("@") ? /^\s*\S+\s+([\s\S]*)$/ : /^\s*(?:\S+\s+){5}([\s\S]*)$/).exec(raw)?.[1]?.trim() ?? "";
    const jobNotes: string[] = [];
    if (options.system) {
      const user = rest[0];
      command = command.slice((user ?? "").length).trim();
      jobNotes.push(`cron ran this as ${user}; a shell step runs as the supervisor's OS user`);
    }
    if (/(^|[^\\])%/.test(command)) {
      refused.push({ origin, reason: "an unescaped % (cron passes the text after it on standard input) is not supported; write it as a here-document in a script" });
      return;
    }
    command = command.replace(/\\%/g, "%");
    if (command === "") { refused.push({ origin, reason: "no command" }); return; }
    const psqlLine = psqlCommand(command, options.database, env);
    const psql = psqlLine !== null && "sql" in psqlLine ? psqlLine : null;
    if (psqlLine !== null && "note" in psqlLine) jobNotes.push(psqlLine.note);
    const first = shellWords(command)?.[0] ?? command.split(/\s+/)[0]!;
    const base = first.split("/").pop()!.replace(/\.[a-z]+$/, "");
    const name = jobName(`cron-${lineNo}-${psql ? "psql" : base}`, `cron-${lineNo}`);
    const stepEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k !== "MAILTO" && k !== "SHELL"));
    if (env.MAILTO !== undefined && env.MAILTO !== "") jobNotes.push(`MAILTO=${env.MAILTO}: Clockwork keeps the output in its history and does not mail it`);
    if (env.SHELL !== undefined && !/bash$/.test(env.SHELL) && !psql) jobNotes.push(`SHELL=${env.SHELL}: shell steps run with bash`);
    if (psql) jobNotes.push("a psql -c line on this database: an SQL step, run as the job's owner instead of by psql");
    const byWallClock = schedule !== "@reboot" && !isUtc(tz) && wildcardEntry(schedule);
    if (byWallClock) jobNotes.push(`cron runs a line whose minute or hour is * by ${tz}'s wall clock: a time skipped by the change to summer time does not run, one repeated by the change back runs twice (dst: gap skip, overlap twice)`);
    const step = psql
      ? { sql: psql.sql }
      : { shell: command, ...(Object.keys(stepEnv).length > 0 ? { env: stepEnv } : {}) };
    jobs.push({
      origin,
      notes: jobNotes,
      definition: {
        name,
        description: `imported from ${origin}: ${raw.trim()}`,
        time_zone: tz,
        schedules: [byWallClock ? { cron: schedule, dst: MINUTE_BY_MINUTE_DST } : schedule],
        steps: { main: step },
      },
    });
    importedLines.push(lineNo);
  });
  return {
    source: "crontab",
    jobs,
    refused,
    notes,
    lines: importedLines,
    commentOut: (which) => lines.map((l, i) => (which.includes(i + 1) ? `#clockwork: ${l}` : l)).join("\n"),
  };
}
