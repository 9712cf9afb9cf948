import { sqlFunction } from "../db/sql-function.ts";

declare const __clockwork_hash: string | undefined;

export const version = sqlFunction({
  name: "version",
  args: "",
  returns: "text",
  volatility: "stable",
  security: "invoker",
  grant: "public",
  comment: "Clockwork version and the hash of the PL/v8 bundle this session runs, e.g. \"1.0 (bundle 3f2a…)\".",
  body: (): string => {
    const row = plv8.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'clockwork'")[0] as
      | { extversion: string }
      | undefined;
    const hash = (globalThis as { __clockwork_hash?: string }).__clockwork_hash ?? "unloaded";
    return `${row?.extversion ?? "?"} (bundle ${hash}, ${plv8.version})`;
  },
});
