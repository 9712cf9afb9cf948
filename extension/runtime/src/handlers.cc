// The language handlers (call, validator, inline) and the compiled-function cache.
//
// Each call has two phases. First PostgreSQL work that may ereport freely (catalog
// look-ups, result set-up, SPI_connect) while no V8 frame exists. Then run_js(), which
// holds every V8 scope and only returns an outcome; errors are raised after it returns.
#include "runtime.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/proclang.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

// The loader (src/loader.cc) calls these; PostgreSQL never loads this library itself.
PGDLLEXPORT Datum cw_engine_call_handler(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cw_engine_validator(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum cw_engine_inline_handler(PG_FUNCTION_ARGS);
}

#include <string>
#include <vector>

namespace cw {

CallFrame *current_frame = nullptr;
static int js_depth = 0;

// ---- compiled-function cache --------------------------------------------------------------
// One entry per (function, role): each role has its own context. Valid while the
// pg_proc row is the same version (xmin + ctid, as plpgsql checks) and the role's
// context is the one it was compiled in.
struct FuncEntry {
  Oid fn_oid;
  Oid role;
  TransactionId xmin;
  ItemPointerData tid;
  uint64 generation;
  v8::Global<v8::Function> fn;
  char *name;
  char *source;  // the wrapped JavaScript
  int nargs;
  Oid *argtypes;
  TypeInfo **args;  // null entries: polymorphic, resolved per call
  Oid rettype;
  TypeInfo *ret;    // null for void / composite / polymorphic
  bool retset;
  bool ret_tuple;   // composite or record result
  char prokind;
};

static std::unordered_map<uint64, FuncEntry *> functions;

static uint64 fn_key(Oid fn, Oid role) { return ((uint64)fn << 32) | role; }

// Cached, but looked up again on a mismatch: DROP and CREATE EXTENSION in one session
// gives the language a new OID.
static bool is_plv8_language(Oid prolang) {
  static Oid lang = InvalidOid;
  if (prolang == lang) return true;
  lang = get_language_oid("plv8", true);
  return prolang == lang;
}

// The function as PL/v8 compiles it: named arguments ($n when unnamed), body on line 2.
static std::string wrap_source(const char *body, int nargs, char **names) {
  std::string s = "(function (";
  for (int i = 0; i < nargs; i++) {
    if (i) s += ", ";
    if (names && names[i] && names[i][0]) s += names[i];
    else s += "$" + std::to_string(i + 1);
  }
  s += ") {\n";
  s += body;
  s += "\n})";
  return s;
}

// Input-argument names and types from the pg_proc row.
static int input_args(HeapTuple tup, Oid **types, char ***names) {
  Oid *alltypes;
  char **allnames;
  char *modes;
  int total = get_func_arg_info(tup, &alltypes, &allnames, &modes);
  *types = (Oid *)MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * (total + 1));
  *names = (char **)MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * (total + 1));
  int n = 0;
  for (int i = 0; i < total; i++) {
    char m = modes ? modes[i] : PROARGMODE_IN;
    if (m == PROARGMODE_OUT || m == PROARGMODE_TABLE) continue;
    (*types)[n] = alltypes[i];
    (*names)[n] = allnames && allnames[i] ? MemoryContextStrdup(TopMemoryContext, allnames[i]) : nullptr;
    n++;
  }
  return n;
}

// PostgreSQL phase: may ereport.
static FuncEntry *function_entry(Oid fn_oid, Oid role, FuncEntry *hint) {
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for function %u", fn_oid);
  FuncEntry *fe = hint && hint->fn_oid == fn_oid && hint->role == role ? hint : nullptr;
  if (!fe) {
    auto it = functions.find(fn_key(fn_oid, role));
    if (it != functions.end()) fe = it->second;
  }
  if (fe && fe->xmin == HeapTupleHeaderGetRawXmin(tup->t_data) && ItemPointerEquals(&fe->tid, &tup->t_self)) {
    ReleaseSysCache(tup);
    return fe;
  }

  // Copy what we need and release the row before anything can raise an error: this
  // also runs under pg_try (plv8.find_function), where a held reference would leak.
  Form_pg_proc proc = (Form_pg_proc)GETSTRUCT(tup);
  TransactionId xmin = HeapTupleHeaderGetRawXmin(tup->t_data);
  ItemPointerData tid = tup->t_self;
  Oid prolang = proc->prolang;
  char *name = MemoryContextStrdup(TopMemoryContext, NameStr(proc->proname));
  char prokind = proc->prokind;
  bool retset = proc->proretset;
  Oid rt = proc->prorettype;
  Oid *argtypes;
  char **names;
  int nargs = input_args(tup, &argtypes, &names);
  bool isnull;
  Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
  char *source = MemoryContextStrdup(TopMemoryContext, wrap_source(isnull ? "" : TextDatumGetCString(src), nargs, names).c_str());
  ReleaseSysCache(tup);

  if (!is_plv8_language(prolang))
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("function %s is not a plv8 function", name)));
  if (rt == TRIGGEROID || rt == EVENT_TRIGGEROID)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("plv8 trigger functions are not supported by clockwork_v8")));

  TypeInfo **args = (TypeInfo **)MemoryContextAllocZero(TopMemoryContext, sizeof(TypeInfo *) * (nargs + 1));
  for (int i = 0; i < nargs; i++)
    if (!IsPolymorphicType(argtypes[i])) args[i] = type_info_pg(argtypes[i]);
  char tt = get_typtype(rt);
  bool ret_tuple = rt == RECORDOID || tt == TYPTYPE_COMPOSITE ||
                   (tt == TYPTYPE_DOMAIN && get_typtype(getBaseType(rt)) == TYPTYPE_COMPOSITE);
  TypeInfo *ret = (rt == VOIDOID || ret_tuple || IsPolymorphicType(rt)) ? nullptr : type_info_pg(rt);

  // Only now, with nothing left that can fail, publish the entry.
  if (!fe) {
    fe = new FuncEntry();
    functions[fn_key(fn_oid, role)] = fe;
  } else {
    fe->fn.Reset();
  }
  fe->fn_oid = fn_oid;
  fe->role = role;
  fe->xmin = xmin;
  fe->tid = tid;
  fe->generation = 0;
  fe->name = name;
  fe->prokind = prokind;
  fe->retset = retset;
  fe->rettype = rt;
  fe->nargs = nargs;
  fe->argtypes = argtypes;
  fe->args = args;
  fe->ret_tuple = ret_tuple;
  fe->ret = ret;
  fe->source = source;
  return fe;
}

// Compiles the wrapped source in ctx. On failure the exception is pending (a syntax
// error carries SQLSTATE 42601).
static v8::MaybeLocal<v8::Function> compile_in(v8::Local<v8::Context> ctx, const char *source, const char *name,
                                               bool *terminated) {
  v8::EscapableHandleScope scope(isolate);
  v8::TryCatch tc(isolate);
  v8::ScriptOrigin origin(isolate, js_str(name));
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> fn;
  v8::Local<v8::String> src;
  if (!v8::String::NewFromUtf8(isolate, source).ToLocal(&src) ||
      !v8::Script::Compile(ctx, src, &origin).ToLocal(&script) || !script->Run(ctx).ToLocal(&fn) ||
      !fn->IsFunction()) {
    if (tc.HasCaught() && !tc.HasTerminated() && tc.Exception()->IsNativeError()) {
      v8::Local<v8::Object> e = tc.Exception().As<v8::Object>();
      v8::Local<v8::Value> ctor;
      if (e->Get(ctx, js_str("name")).ToLocal(&ctor) && ctor->StrictEquals(js_str("SyntaxError")))
        e->Set(ctx, js_str("code"), v8::Integer::New(isolate, ERRCODE_SYNTAX_ERROR)).FromMaybe(false);
    }
    *terminated = tc.HasTerminated();
    if (tc.HasCaught() && !*terminated) tc.ReThrow();
    return {};
  }
  v8::Local<v8::Function> f = fn.As<v8::Function>();
  f->SetName(js_str(name));
  return scope.Escape(f);
}

static v8::MaybeLocal<v8::Function> compile(v8::Local<v8::Context> ctx, const char *source, const char *name) {
  bool terminated = false;
  v8::MaybeLocal<v8::Function> f = compile_in(ctx, source, name, &terminated);
  if (terminated) resume_termination();
  return f;
}

static v8::MaybeLocal<v8::Function> entry_function(v8::Local<v8::Context> ctx, FuncEntry *fe, RoleContext *rc) {
  if (fe->generation == rc->generation && !fe->fn.IsEmpty()) return fe->fn.Get(isolate);
  v8::Local<v8::Function> f;
  if (!compile(ctx, fe->source, fe->name).ToLocal(&f)) return {};
  fe->fn.Reset(isolate, f);
  fe->generation = rc->generation;
  return f;
}

v8::MaybeLocal<v8::Function> find_function(v8::Local<v8::Context> ctx, Oid fn_oid) {
  FuncEntry *fe = nullptr;
  Oid role = GetUserId();
  ErrorData *err = pg_try([&] {
    if (pg_proc_aclcheck(fn_oid, role, ACL_EXECUTE) != ACLCHECK_OK)
      aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(fn_oid));
    fe = function_entry(fn_oid, role, nullptr);
  });
  if (err) { throw_pg_error(err); return {}; }
  RoleContext *rc = role_context(role);
  if (!rc) return {};
  return entry_function(ctx, fe, rc);
}

// ---- results --------------------------------------------------------------------------------
bool return_next(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v) {
  CallFrame *f = current_frame;
  if (!f || !f->tupstore) {
    throw_error("return_next called in context that cannot accept a set");
    return false;
  }
  if (!f->rowcxt) {
    MemoryContext parent = f->callcxt;
    ErrorData *err = pg_try([&] { f->rowcxt = AllocSetContextCreate(parent, "plv8 return_next", ALLOCSET_DEFAULT_SIZES); });
    if (err) { throw_pg_error(err); return false; }
  }
  // The tuplestore copies the row: convert in scratch memory and reset it afterwards.
  MemoryContext old = MemoryContextSwitchTo(f->rowcxt);
  int natts = f->tupdesc->natts;
  Datum *values = (Datum *)palloc(sizeof(Datum) * (natts + 1));
  bool *nulls = (bool *)palloc(sizeof(bool) * (natts + 1));
  bool ok = f->scalar_set ? from_js(ctx, v, f->ret, &values[0], &nulls[0])
                          : js_to_tuple_values(ctx, v, f->tupdesc, values, nulls, f->shape);
  ErrorData *err = ok ? pg_try([&] { tuplestore_putvalues(f->tupstore, f->tupdesc, values, nulls); }) : nullptr;
  MemoryContextSwitchTo(old);
  if (err) throw_pg_error(err);  // before the reset: err lives in rowcxt
  MemoryContextReset(f->rowcxt);
  return ok && !err;
}

// ---- one call -------------------------------------------------------------------------------
enum class Outcome { Ok, JsError, Terminated };

struct CallState {
  FunctionCallInfo fcinfo;  // null for DO blocks
  FuncEntry *fe;
  const char *inline_source;
  TypeInfo *ret;            // resolved scalar result type
  TupleDesc ret_desc;       // non-set composite result
  Outcome outcome;
  Datum result;
  bool isnull;
  JsError err;
};

static void capture(v8::TryCatch &tc, v8::Local<v8::Context> ctx, CallState *st, const char *name) {
  if (tc.HasTerminated() || isolate->IsExecutionTerminating()) {
    st->outcome = Outcome::Terminated;
    return;
  }
  st->outcome = Outcome::JsError;
  MemoryContext old = MemoryContextSwitchTo(current_frame->callcxt);
  capture_js_error(tc, ctx, name, &st->err);
  MemoryContextSwitchTo(old);
}

// The V8 phase: never longjmps, never leaves a V8 scope open.
static void run_js(CallState *st) {
  v8::HandleScope hs(isolate);
  v8::TryCatch tc(isolate);
  CallFrame *frame = current_frame;
  const char *name = st->fe ? st->fe->name : "anonymous";

  RoleContext *rc = role_context(GetUserId());
  if (!rc) {
    // start_proc failed: report it in a throwaway context (capture needs one).
    v8::Local<v8::Context> tmp = v8::Context::New(isolate);
    v8::Context::Scope cs(tmp);
    return capture(tc, tmp, st, cw_start_proc);
  }
  v8::Local<v8::Context> ctx = rc->context.Get(isolate);
  v8::Context::Scope cs(ctx);

  v8::Local<v8::Function> fn;
  bool ok = st->fe ? entry_function(ctx, st->fe, rc).ToLocal(&fn) : compile(ctx, st->inline_source, name).ToLocal(&fn);
  if (!ok) return capture(tc, ctx, st, name);

  int nargs = st->fe ? st->fe->nargs : 0;
  v8::Local<v8::Value> small[8];
  std::vector<v8::Local<v8::Value>> big;
  v8::Local<v8::Value> *argv = small;
  if (nargs > 8) {
    big.resize(nargs);
    argv = big.data();
  }
  for (int i = 0; i < nargs; i++) {
    TypeInfo *t = st->fe->args[i];
    if (!t && !(t = type_info(get_fn_expr_argtype(st->fcinfo->flinfo, i)))) return capture(tc, ctx, st, name);
    NullableDatum a = st->fcinfo->args[i];
    if (!to_js(ctx, a.value, a.isnull, t).ToLocal(&argv[i])) return capture(tc, ctx, st, name);
  }

  // Rows of a set are converted with names and types looked up once. The shape's
  // handles belong to this HandleScope, which outlives every return_next of the call.
  RowShape shape;
  struct ForgetShape {
    CallFrame *f;
    ~ForgetShape() { f->shape = nullptr; }
  } forget{frame};
  if (frame->tupstore && !frame->scalar_set) {
    if (!shape.init(frame->tupdesc)) return capture(tc, ctx, st, name);
    frame->shape = &shape;
  }

  v8::Local<v8::Value> ret;
  if (!fn->Call(ctx, rc->global.Get(isolate), nargs, argv).ToLocal(&ret)) return capture(tc, ctx, st, name);

  st->outcome = Outcome::Ok;
  st->isnull = false;
  st->result = (Datum)0;
  if (frame->tupstore) {
    // SETOF: returning an array adds its elements after any return_next rows.
    if (ret->IsArray()) {
      v8::Local<v8::Array> arr = ret.As<v8::Array>();
      for (uint32 i = 0; i < arr->Length(); i++) {
        v8::Local<v8::Value> v;
        if (!arr->Get(ctx, i).ToLocal(&v) || !return_next(ctx, v)) return capture(tc, ctx, st, name);
      }
    } else if (!ret->IsUndefined() && !ret->IsNull()) {
      throw_type_error("a set-returning function must return an array or use plv8.return_next");
      return capture(tc, ctx, st, name);
    }
    return;
  }
  if (!st->fe || st->fe->rettype == VOIDOID) return;

  MemoryContext old = MemoryContextSwitchTo(frame->callcxt);
  bool converted;
  if (st->ret_desc) {
    if (ret->IsNull() || ret->IsUndefined()) {
      st->isnull = true;
      converted = true;
    } else {
      int natts = st->ret_desc->natts;
      Datum *values = (Datum *)palloc(sizeof(Datum) * (natts + 1));
      bool *nulls = (bool *)palloc(sizeof(bool) * (natts + 1));
      converted = js_to_tuple_values(ctx, ret, st->ret_desc, values, nulls);
      if (converted) {
        ErrorData *err = pg_try([&] { st->result = HeapTupleGetDatum(heap_form_tuple(st->ret_desc, values, nulls)); });
        if (err) { throw_pg_error(err); converted = false; }
      }
    }
  } else {
    converted = from_js(ctx, ret, st->ret, &st->result, &st->isnull);
  }
  MemoryContextSwitchTo(old);
  if (!converted) return capture(tc, ctx, st, name);
}

bool ensure_spi() {
  CallFrame *f = current_frame;
  if (!f) {
    throw_error("SPI is not available here");
    return false;
  }
  if (f->spi_connected) return true;
  int rc = 0;
  ErrorData *err = pg_try([&] { rc = SPI_connect_ext(f->nonatomic ? SPI_OPT_NONATOMIC : 0); });
  if (err) { throw_pg_error(err); return false; }
  if (rc != SPI_OK_CONNECT) { throw_error("SPI_connect failed: %s", SPI_result_code_string(rc)); return false; }
  f->spi_connected = true;
  return true;
}

// Runs run_js inside a frame and raises whatever it reports, after all V8 scopes are gone.
static Datum execute(CallState *st, CallFrame *frame) {
  // Procedures and DO blocks connect at once: SPI must know it is non-atomic before
  // any subtransaction starts. Functions connect on first use (saves two memory
  // contexts per call for the common function that never runs SQL).
  if (frame->nonatomic) {
    int spi_rc = SPI_connect_ext(SPI_OPT_NONATOMIC);
    if (spi_rc != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(spi_rc));
    frame->spi_connected = true;
  }

  frame->prev = current_frame;
  current_frame = frame;
  bool outermost = js_depth++ == 0;
  if (outermost) js_enter();

  run_js(st);

  js_depth--;
  if (outermost) js_leave();
  current_frame = frame->prev;

  // Leave SPI before raising anything, so the SPI stack stays balanced even when a
  // caller catches the error without a subtransaction (e.g. a domain CHECK calling us).
  if (frame->spi_connected) {
    frame->spi_connected = false;
    int spi_rc = SPI_finish();
    if (spi_rc != SPI_OK_FINISH) elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(spi_rc));
  }

  bool oom = heap_limit_hit;
  if (oom && outermost && st->outcome != Outcome::Terminated)
    engine_after_oom();  // a nested call hit the limit and the script caught its error

  if (st->outcome == Outcome::Terminated) {
    // PostgreSQL's own error first (cancel, timeout, terminate); then one a callback
    // saw; then the heap limit; the script cannot have caught any of them.
    CHECK_FOR_INTERRUPTS();
    if (frame->fatal_error) ReThrowError(frame->fatal_error);
    if (oom) {
      if (outermost) {
        engine_after_oom();
        v8::HeapStatistics hs;
        isolate->GetHeapStatistics(&hs);
        // Still nearly full: the garbage lives in globals; start this role afresh.
        if (hs.used_heap_size() > hs.heap_size_limit() / 2) {
          discard_role_context(GetUserId());
          isolate->LowMemoryNotification();
        }
      }
      ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("JavaScript heap out of memory"),
                      errdetail("The script needed more than plv8.memory_limit (%d MB).", cw_memory_limit_mb)));
    }
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("JavaScript execution was terminated")));
  }
  if (st->outcome == Outcome::JsError) {
    CHECK_FOR_INTERRUPTS();  // a pending cancel wins over what the script threw
    raise_js_error(st->err);
  }

  return st->result;
}

static void init_frame(CallFrame *f, const char *name) {
  memset(f, 0, sizeof *f);
  f->fname = name;
  f->callcxt = CurrentMemoryContext;
}

}  // namespace cw

using namespace cw;

extern "C" Datum cw_engine_call_handler(PG_FUNCTION_ARGS) {
  engine_start();
  Oid role = GetUserId();
  FuncEntry *fe = function_entry(fcinfo->flinfo->fn_oid, role, (FuncEntry *)fcinfo->flinfo->fn_extra);
  fcinfo->flinfo->fn_extra = fe;

  CallFrame frame;
  init_frame(&frame, fe->name);
  CallState st = {};
  st.fcinfo = fcinfo;
  st.fe = fe;
  st.ret = fe->ret;

  if (fe->prokind == PROKIND_PROCEDURE && fcinfo->context && IsA(fcinfo->context, CallContext))
    frame.nonatomic = !castNode(CallContext, fcinfo->context)->atomic;

  if (fe->retset) {
    ReturnSetInfo *rsi = (ReturnSetInfo *)fcinfo->resultinfo;
    if (!rsi || !IsA(rsi, ReturnSetInfo) || !(rsi->allowedModes & SFRM_Materialize))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("set-valued function called in context that cannot accept a set")));
    Oid rt;
    TupleDesc td;
    TypeFuncClass cls = get_call_result_type(fcinfo, &rt, &td);
    MemoryContext old = MemoryContextSwitchTo(rsi->econtext->ecxt_per_query_memory);
    if (cls == TYPEFUNC_COMPOSITE || cls == TYPEFUNC_COMPOSITE_DOMAIN) {
      frame.tupdesc = CreateTupleDescCopy(td);
    } else if (cls == TYPEFUNC_SCALAR) {
      frame.tupdesc = CreateTemplateTupleDesc(1);
      TupleDescInitEntry(frame.tupdesc, 1, "value", rt, -1, 0);
      frame.scalar_set = true;
      frame.ret = type_info_pg(rt);
    } else {
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("function returning record called in context that cannot accept type record")));
    }
    frame.tupstore = tuplestore_begin_heap((rsi->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
    MemoryContextSwitchTo(old);
    rsi->returnMode = SFRM_Materialize;
    rsi->setResult = frame.tupstore;
    rsi->setDesc = frame.tupdesc;
  } else if (fe->ret_tuple) {
    Oid rt;
    TupleDesc td;
    TypeFuncClass cls = get_call_result_type(fcinfo, &rt, &td);
    if (cls != TYPEFUNC_COMPOSITE && cls != TYPEFUNC_COMPOSITE_DOMAIN)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("function returning record called in context that cannot accept type record")));
    st.ret_desc = BlessTupleDesc(td);
  } else if (!st.ret && fe->rettype != VOIDOID) {
    st.ret = type_info_pg(get_fn_expr_rettype(fcinfo->flinfo));  // polymorphic
  }

  Datum r = execute(&st, &frame);
  if (fe->retset) {
    fcinfo->isnull = true;
    return (Datum)0;
  }
  fcinfo->isnull = st.isnull;
  return r;
}

extern "C" Datum cw_engine_inline_handler(PG_FUNCTION_ARGS) {
  InlineCodeBlock *cb = (InlineCodeBlock *)DatumGetPointer(PG_GETARG_DATUM(0));
  engine_start();
  CallFrame frame;
  init_frame(&frame, "anonymous");
  frame.nonatomic = !cb->atomic;
  CallState st = {};
  std::string src = wrap_source(cb->source_text, 0, nullptr);
  st.inline_source = src.c_str();
  execute(&st, &frame);
  PG_RETURN_VOID();
}

// CREATE FUNCTION: reject what cannot run, and (with check_function_bodies) compile
// the body so a syntax error is reported now, with its line.
extern "C" Datum cw_engine_validator(PG_FUNCTION_ARGS) {
  Oid fn_oid = PG_GETARG_OID(0);
  if (!CheckFunctionValidatorAccess(fcinfo->flinfo->fn_oid, fn_oid)) PG_RETURN_VOID();

  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for function %u", fn_oid);
  Form_pg_proc proc = (Form_pg_proc)GETSTRUCT(tup);
  if (proc->prorettype == TRIGGEROID || proc->prorettype == EVENT_TRIGGEROID)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("plv8 trigger functions are not supported by clockwork_v8")));
  if (!check_function_bodies) {
    ReleaseSysCache(tup);
    PG_RETURN_VOID();
  }
  Oid *types;
  char **names;
  int nargs = input_args(tup, &types, &names);
  bool isnull;
  Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
  std::string source = wrap_source(isnull ? "" : TextDatumGetCString(src), nargs, names);
  char *name = pstrdup(NameStr(proc->proname));
  ReleaseSysCache(tup);

  engine_start();
  JsError err;
  bool failed = false, terminated = false;
  // CREATE FUNCTION may itself run from a script (plv8.execute): only the outermost
  // entry into JavaScript arms and disarms the watchdog.
  bool outermost = js_depth++ == 0;
  if (outermost) js_enter();
  {
    v8::HandleScope hs(isolate);
    v8::TryCatch tc(isolate);
    // Compiling only evaluates `(function (...) {...})`: no user code runs. A context of
    // its own keeps CREATE FUNCTION from running plv8.start_proc (which may not exist yet).
    static v8::Global<v8::Context> *validator_context;
    if (!validator_context) validator_context = new v8::Global<v8::Context>(isolate, v8::Context::New(isolate));
    v8::Local<v8::Context> ctx = validator_context->Get(isolate);
    v8::Context::Scope cs(ctx);
    if (compile(ctx, source.c_str(), name).IsEmpty()) {
      failed = true;
      terminated = tc.HasTerminated();
      if (!terminated) capture_js_error(tc, ctx, name, &err);
    }
  }
  js_depth--;
  if (outermost) js_leave();
  if (terminated) {
    CHECK_FOR_INTERRUPTS();
    ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("JavaScript execution was terminated")));
  }
  if (failed) raise_js_error(err);
  PG_RETURN_VOID();
}
