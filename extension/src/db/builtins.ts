// The built-in step kinds, from the core's one list (core/builtins.ts): those the database
// completes itself, and all that a definition may name. Read by the adapter's validation
// (define_job) and by the CLI's offline validation, so both say the same.
import { BUILTIN_NAMES, DATABASE_BUILTIN_NAMES } from "../core/index.ts";

/** Builtins the database completes itself, inside the transaction that starts them. */
export const DATABASE_BUILTINS: readonly string[] = DATABASE_BUILTIN_NAMES;

/** Every built-in a definition may name; the others are claimed and run by a supervisor. */
export const KNOWN_BUILTINS: readonly string[] = BUILTIN_NAMES;
