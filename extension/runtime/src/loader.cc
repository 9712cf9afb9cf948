// The module PostgreSQL loads: GUCs and the three language entry points. It does not
// link libnode. On first use it loads the engine (clockwork_v8/clockwork_v8_engine.so,
// which does) with RTLD_DEEPBIND, so the dynamic loader resolves libnode's ~55,000
// internal symbol references in libnode's own scope first instead of searching every
// library of the backend: measured in a backend, 31 ms -> 16 ms of CPU for loading.
// With shared_preload_libraries the postmaster loads the engine once and every backend
// inherits it.
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;
PGDLLEXPORT Datum plv8_call_handler(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum plv8_call_validator(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum plv8_inline_handler(PG_FUNCTION_ARGS);
PGDLLEXPORT void _PG_init(void);
PG_FUNCTION_INFO_V1(plv8_call_handler);
PG_FUNCTION_INFO_V1(plv8_call_validator);
PG_FUNCTION_INFO_V1(plv8_inline_handler);

// GUC storage, read by the engine (see runtime.h).
PGDLLEXPORT int cw_memory_limit_mb = 256;
PGDLLEXPORT char *cw_start_proc = nullptr;
}

#include <dlfcn.h>

static PGFunction engine_call, engine_validator, engine_inline;

static void load_engine() {
  if (engine_call) return;
  char path[MAXPGPATH];
  snprintf(path, sizeof path, "%s/clockwork_v8/clockwork_v8_engine.so", pkglib_path);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FILE), errmsg("could not load the clockwork_v8 engine: %s", dlerror())));
  PGFunction c = (PGFunction)dlsym(h, "cw_engine_call_handler");
  PGFunction v = (PGFunction)dlsym(h, "cw_engine_validator");
  PGFunction i = (PGFunction)dlsym(h, "cw_engine_inline_handler");
  if (!c || !v || !i) ereport(ERROR, (errmsg("the clockwork_v8 engine at \"%s\" is incomplete", path)));
  engine_validator = v;
  engine_inline = i;
  engine_call = c;
}

extern "C" Datum plv8_call_handler(PG_FUNCTION_ARGS) {
  load_engine();
  return engine_call(fcinfo);
}

extern "C" Datum plv8_call_validator(PG_FUNCTION_ARGS) {
  load_engine();
  return engine_validator(fcinfo);
}

extern "C" Datum plv8_inline_handler(PG_FUNCTION_ARGS) {
  load_engine();
  return engine_inline(fcinfo);
}

extern "C" void _PG_init(void) {
  DefineCustomStringVariable("plv8.start_proc", "plv8 function run when a role's JavaScript context is created.",
                             NULL, &cw_start_proc, NULL, PGC_SUSET, 0, NULL, NULL, NULL);
  DefineCustomIntVariable("plv8.memory_limit", "JavaScript heap limit per backend, in MB.",
                          "Takes effect when the engine starts in a backend (its first plv8 call).",
                          &cw_memory_limit_mb, 256, 16, 4096, PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
  MarkGUCPrefixReserved("plv8");
  // Preloaded: map libnode in the postmaster, once for every backend. (V8 itself starts
  // per backend, on its first call.)
  if (process_shared_preload_libraries_in_progress) load_engine();
}
