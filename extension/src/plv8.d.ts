// The part of PL/v8's documented API that Clockwork's adapter uses. Only files in
// extension/src/ outside core/ may touch the `plv8` global; the core stays pure.
// Both the real PL/v8 3.x and the clockwork_v8 runtime provide exactly this.

declare namespace plv8 {
  type Row = Record<string, any>;
  interface Plan {
    execute(args?: unknown[]): Row[] | number;
    free(): void;
  }
  type Level = number;
  const DEBUG5: Level, DEBUG4: Level, DEBUG3: Level, DEBUG2: Level, DEBUG1: Level;
  const LOG: Level, INFO: Level, NOTICE: Level, WARNING: Level, ERROR: Level;
  const version: string;

  function execute(sql: string, args?: unknown[]): any;
  function prepare(sql: string, types?: string[]): Plan;
  function elog(level: Level, ...message: unknown[]): void;
  function subtransaction<T>(fn: () => T): T;
  function find_function(name: string): (...args: any[]) => any;
  function quote_literal(s: string): string;
  function quote_nullable(s: string | null): string;
  function quote_ident(s: string): string;
  function return_next(row: unknown): void;
}
