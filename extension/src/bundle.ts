// The PL/v8 bundle's entry: every SQL-callable function's body, by its entry name.
// build/bundle.ts makes this object the session global `__clockwork`.
import { sqlFunctions } from "./functions/index.ts";

export const entryPoints: Record<string, (...args: any[]) => unknown> = Object.fromEntries(
  sqlFunctions.map((fn) => [fn.entry ?? fn.name, fn.body]),
);
