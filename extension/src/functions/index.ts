// Every SQL-callable function implemented in TypeScript. build/bundle.ts writes one SQL
// stub per entry; src/bundle.ts exposes the bodies to those stubs.
import type { SqlFunction } from "../db/sql-function.ts";
import { version } from "./version.ts";

export const sqlFunctions: readonly SqlFunction[] = [version];
