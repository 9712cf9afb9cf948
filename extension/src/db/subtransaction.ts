// plv8.subtransaction with the thrown error intact on both runtimes. Released PL/v8
// 3.2.2 rolls the subtransaction back and throws a new Error that carries only the
// message, so an SQL error's SQLSTATE, detail and hint would be lost (clockwork_v8 does
// the same, so that code relying on more fails on both). The error thrown inside is kept
// here and rethrown as it was.

export function subtransaction<T>(fn: () => T): T {
  let inner: { error: unknown } | null = null;
  try {
    return plv8.subtransaction(() => {
      try {
        return fn();
      } catch (e) {
        inner = { error: e };
        throw e;
      }
    });
  } catch (e) {
    throw inner === null ? e : (inner as { error: unknown }).error;
  }
}
