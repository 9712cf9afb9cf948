// The built-in step kinds this database runs itself. One list, read by the adapter's
// validation (define_job) and by the CLI's offline validation, so both say the same.

/** Builtins the database completes itself, inside the transaction that starts them. */
export const DATABASE_BUILTINS = ["noop", "log"] as const;
