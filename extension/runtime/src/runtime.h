// clockwork_v8 — shared declarations for the V8 runtime that provides LANGUAGE plv8.
//
// The one rule every file here obeys: a PostgreSQL error (a longjmp) must never cross a
// V8 frame, and V8 scopes must be left before PostgreSQL raises anything. PostgreSQL calls
// made while V8 is on the stack go through pg_try()/SubXact, which turn the error into a
// copied ErrorData that the caller turns into a JavaScript exception.
#pragma once

extern "C" {
#include "postgres.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"
#include "mb/pg_wchar.h"
}

#include <v8.h>
#include <unordered_map>
#include <vector>

namespace cw {

// ---- engine.cc: one isolate per backend ------------------------------------------------
extern v8::Isolate *isolate;
// plv8.memory_limit and plv8.start_proc: defined by the loader (src/loader.cc), which
// PostgreSQL loads globally, so the engine reads them through these symbols.
extern "C" int cw_memory_limit_mb;
extern "C" char *cw_start_proc;
extern bool heap_limit_hit;        // set by the near-heap-limit callback
void engine_start();               // idempotent; may ereport before V8 exists
void engine_after_oom();           // restore the heap limit, free what can be freed

// ---- watchdog.cc: turns pending PostgreSQL interrupts into TerminateExecution ----------
void watchdog_start();             // called while all signals are blocked
void js_enter();                   // outermost entry into JavaScript
void js_leave();                   // outermost exit; cancels a leftover termination
void request_termination();        // from the main thread (caught interrupt errors, OOM)

// ---- errors.cc -------------------------------------------------------------------------
// Runs f under PG_TRY. On a PostgreSQL error returns a copy of it (in the memory context
// that was current on entry) and leaves the error state clean; otherwise returns nullptr.
// Either way the caller's memory context is current again afterwards (SPI functions
// switch to SPI's own: allocations after them would otherwise pile up there).
// f must not create V8 handle scopes: a longjmp would skip their destructors.
template <class F>
ErrorData *pg_try(F &&f) {
  MemoryContext volatile oldcxt = CurrentMemoryContext;
  ErrorData *volatile err = nullptr;
  PG_TRY();
  {
    f();
    MemoryContextSwitchTo(oldcxt);
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(oldcxt);
    err = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return err;
}

// An internal subtransaction around SPI work, as plpgsql's EXCEPTION blocks do, so an
// error inside it leaves the outer transaction usable (locks, buffers, relcache refs).
class SubXact {
 public:
  ErrorData *begin();
  void commit();    // release; the work stays
  ErrorData *rollback();  // abort; the work is gone
 private:
  MemoryContext cxt_ = nullptr;
  ResourceOwner owner_ = nullptr;
};

// Throws a JavaScript Error made from a PostgreSQL error (message, sqlerrcode, code,
// detail, hint, context, ...). Interrupt errors (cancel, timeout, shutdown) also make
// the whole script stop: they are remembered and re-raised when the call unwinds.
void throw_pg_error(ErrorData *edata);
// Makes a termination take effect now (or again, after a TryCatch in a callback caught
// it). True if JavaScript is now terminating.
bool resume_termination();
void throw_error(const char *fmt, ...) pg_attribute_printf(1, 2);
void throw_type_error(const char *fmt, ...) pg_attribute_printf(1, 2);

// A JavaScript exception turned into the parts of an SQL error, allocated in a memory
// context that outlives the V8 scopes; raised after they are left.
struct JsError {
  int sqlerrcode;
  char *message;
  char *detail;
  char *hint;
  char *context;
};
void capture_js_error(v8::TryCatch &tc, v8::Local<v8::Context> ctx, const char *fname, JsError *out);
// The message PL/v8 gives a thrown value: String(value) without a leading "Error: ".
char *js_error_message(v8::Local<v8::Context> ctx, v8::Local<v8::Value> exc);
[[noreturn]] void raise_js_error(const JsError &err);

// ---- convert.cc: Datum <-> JavaScript ---------------------------------------------------
struct TypeInfo {
  Oid oid;         // the declared type (may be a domain)
  Oid base;        // after stripping domains
  int32 typmod;
  int16 len;
  bool byval;
  char align;
  char typtype;    // 'b', 'c', 'd', 'e', 'p', 'r', 'm'
  bool is_array;   // varlena array of elem
  bool is_composite;
  TypeInfo *elem;  // array element type
  FmgrInfo in, out;
  Oid ioparam;
};
// Looks up (and caches for the session) a type; nullptr with a JS exception on error.
TypeInfo *type_info(Oid oid, int32 typmod = -1);
TypeInfo *type_info_pg(Oid oid, int32 typmod = -1);  // ereports instead
v8::MaybeLocal<v8::Value> to_js(v8::Local<v8::Context> ctx, Datum d, bool isnull, TypeInfo *t);
// Converts into CurrentMemoryContext. Returns false with a JS exception pending.
bool from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out, bool *isnull);
v8::MaybeLocal<v8::Value> tuple_to_js(v8::Local<v8::Context> ctx, HeapTuple tup, TupleDesc desc);
// For many rows of one row type: names and types are looked up once.
struct RowShape {
  TupleDesc desc = nullptr;
  std::vector<int> cols;
  std::vector<v8::Local<v8::String>> names;
  std::vector<TypeInfo *> types;
  Datum *values = nullptr;
  bool *nulls = nullptr;
  bool init(TupleDesc d);  // false with a JS exception pending
  v8::MaybeLocal<v8::Value> row(v8::Local<v8::Context> ctx, HeapTuple tup);
};
struct RowShape;
bool js_to_tuple_values(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TupleDesc desc,
                        Datum *values, bool *nulls, const RowShape *shape = nullptr);
v8::Local<v8::String> js_str(const char *s, int len = -1);
char *js_to_cstring(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v);  // palloc'd, NULL on exception
void *js_palloc(size_t n);  // nullptr with a JS exception pending when PostgreSQL refuses

// ---- contexts.cc: one V8 context per role ----------------------------------------------
struct RoleContext {
  Oid role;
  v8::Global<v8::Context> context;
  v8::Global<v8::Object> global;  // the receiver of every call (`this`, as in PL/v8)
  uint64 generation;  // bumped when discarded, invalidates cached functions
};
RoleContext *role_context(Oid role);  // creates (and runs start_proc); nullptr with JS exception
void discard_role_context(Oid role);
v8::Local<v8::ObjectTemplate> plv8_object_template();  // api.cc

// ---- handlers.cc: calls, frames, function cache ----------------------------------------
struct CallFrame {
  CallFrame *prev;
  const char *fname;
  ReturnSetInfo *rsi;        // set-returning calls
  Tuplestorestate *tupstore;
  TupleDesc tupdesc;         // result rows (SETOF)
  bool scalar_set;           // SETOF scalar: one column
  TypeInfo *ret;             // scalar result type
  MemoryContext callcxt;     // the caller's context: results are built here
  ErrorData *fatal_error;    // an interrupt error that must end the call
  bool nonatomic;            // procedure / DO allowed to commit
  bool spi_connected;        // SPI is connected lazily: most calls never use it
  MemoryContext rowcxt;      // return_next's scratch memory, reset per row
  RowShape *shape;           // SETOF rows: column names/types, made in the call's HandleScope
};
extern CallFrame *current_frame;
// Connects SPI for the current call if it is not yet; false with a JS exception pending.
bool ensure_spi();
// plv8.find_function: the compiled JS function of a plv8 function, in ctx.
v8::MaybeLocal<v8::Function> find_function(v8::Local<v8::Context> ctx, Oid fn_oid);
bool return_next(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v);

// ---- spi.cc ------------------------------------------------------------------------------
void spi_execute(const v8::FunctionCallbackInfo<v8::Value> &args);
void spi_prepare(const v8::FunctionCallbackInfo<v8::Value> &args);

}  // namespace cw
