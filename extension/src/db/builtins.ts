// The built-in step kinds, from the core's one list (core/builtins.ts): those the database
// completes itself, and all that a definition may name. Read by the adapter's validation
// (define_job) and by the CLI's offline validation, so both say the same.
import { BUILTIN_NAMES, DATABASE_BUILTIN_NAMES } from "../core/index.ts";

/** Builtins the database completes itself, inside the transaction that starts them. */
export const DATABASE_BUILTINS: readonly string[] = DATABASE_BUILTIN_NAMES;

/**
 * Built-ins the supervisor cannot run yet: they need a connection logged in as the job's
 * owner (COPY, pg-boss), which the SQL-step machinery provides. Refused at definition
 * time until then, rather than failing at run time.
 */
const NEEDS_OWNER_CONNECTION: readonly string[] = ["copy_from", "copy_to", "queue"];

/** Every built-in a definition may name; the others are claimed and run by a supervisor. */
export const KNOWN_BUILTINS: readonly string[] = BUILTIN_NAMES.filter((n) => !NEEDS_OWNER_CONNECTION.includes(n));
