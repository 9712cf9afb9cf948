// The PL/v8 bundle's entry: every SQL-callable function's body, by its entry name, and
// the function every entry point passes its errors through. build/bundle.ts makes these
// the session globals `__clockwork` and `__clockwork_error`.
import { sqlFunctions } from "./functions/index.ts";

export const entryPoints: Record<string, (...args: any[]) => unknown> = Object.fromEntries(
  sqlFunctions.map((fn) => [fn.entry ?? fn.name, fn.body]),
);

export { toSqlError } from "./db/raise.ts";
