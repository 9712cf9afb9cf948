// clockwork.wait_until: returns at a given instant by the database's clock, to within a few
// microseconds. A supervisor calls it on the connection an SQL step claimed ahead will run
// on, a few milliseconds before the step's start, then calls run_sql_step at once: the
// step's transaction then begins right at its start (run_sql_step refuses an earlier one),
// with no clock of the supervisor's in between.
import { sqlFunction } from "../db/sql-function.ts";
import { SQL } from "../db/statements.ts";
import { execute } from "../db/query.ts";
import { raise } from "../db/raise.ts";
import { MAX_LOOKAHEAD_MS } from "./tick.ts";

export const wait_until = sqlFunction({
  name: "wait_until",
  args: "at timestamptz",
  returns: "void",
  volatility: "volatile",
  security: "invoker",
  grant: "clockwork_supervisor",
  comment:
    "Returns at `at` by the database's clock (at most 1 s ahead; pg_sleep, then a spin on clock_timestamp() for the last millisecond). For SQL steps claimed ahead; holds no lock.",
  body: (at: Date): void => {
    const remainingMs = at.getTime() - Date.now();
    if (remainingMs > MAX_LOOKAHEAD_MS) raise("invalid_argument", "at", `wait_until waits at most ${MAX_LOOKAHEAD_MS} ms, not ${Math.round(remainingMs)} ms`);
    if (remainingMs > 2) execute(SQL.sleep, [(remainingMs - 1.5) / 1000]);
    while (!(execute(SQL.clockReached, [at])[0] as { reached: boolean }).reached) {
      // spin: about a millisecond at most, a few microseconds per turn
    }
  },
});
