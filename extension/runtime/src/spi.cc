// plv8.execute / plv8.prepare: SQL from JavaScript through SPI.
//
// Every statement runs in an internal subtransaction (as PL/v8 does), so an SQL error
// becomes a catchable JavaScript exception and leaves the transaction usable. Parameter
// types of plv8.execute are inferred by the parser, as for PREPARE without types.
#include "runtime.h"

extern "C" {
#include "catalog/pg_type.h"
#include "parser/parse_param.h"
#include "parser/parse_type.h"
#include "nodes/params.h"
}

#include <vector>

namespace cw {

struct VarParams {
  Oid *types;
  int n;
};

static void var_param_setup(ParseState *pstate, void *arg) {
  VarParams *p = (VarParams *)arg;
  setup_parse_variable_parameters(pstate, &p->types, &p->n);
}

// The parameters: plv8.execute(sql, [a, b]) or plv8.execute(sql, a, b). False with an
// exception pending if reading the array threw (a getter, a proxy).
static bool collect_params(const v8::FunctionCallbackInfo<v8::Value> &a, int first, std::vector<v8::Local<v8::Value>> *out) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() == first + 1 && a[first]->IsArray()) {
    v8::Local<v8::Array> arr = a[first].As<v8::Array>();
    if (arr->Length() > PG_UINT16_MAX) {  // PostgreSQL's own limit on parameters
      throw_error("too many parameters: %u (at most %d)", arr->Length(), PG_UINT16_MAX);
      return false;
    }
    for (uint32 i = 0; i < arr->Length(); i++) {
      v8::Local<v8::Value> v;
      if (!arr->Get(ctx, i).ToLocal(&v)) return false;
      out->push_back(v);
    }
  } else {
    for (int i = first; i < a.Length(); i++) out->push_back(a[i]);
  }
  return true;
}

// Rows as an array of objects for anything that returns tuples, else the row count.
static v8::MaybeLocal<v8::Value> result_to_js(v8::Local<v8::Context> ctx, int rc, SPITupleTable *tt, uint64 processed) {
  if (tt == nullptr) return v8::Number::New(isolate, (double)processed);
  RowShape shape;
  if (!shape.init(tt->tupdesc)) return {};
  v8::Local<v8::Array> rows = v8::Array::New(isolate, (int)processed);
  for (uint64 i = 0; i < processed; i++) {
    v8::Local<v8::Value> row;
    if (!shape.row(ctx, tt->vals[i]).ToLocal(&row)) return {};
    if (rows->Set(ctx, (uint32)i, row).IsNothing()) return {};
  }
  return rows;
}

// Runs a plan (or prepares one from sql when plan is null) with JS parameters, inside a
// subtransaction; sets the JS return value or throws.
static void run(const v8::FunctionCallbackInfo<v8::Value> &a, const char *sql, SPIPlanPtr plan, int nargs,
                Oid *argtypes, const std::vector<v8::Local<v8::Value>> &params) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  SubXact sx;
  if (ErrorData *err = sx.begin()) return throw_pg_error(err);

  VarParams vp = {nullptr, 0};
  bool own_plan = plan == nullptr;
  // Frees the statement's own plan on every way out, after the subtransaction ended.
  struct PlanGuard {
    SPIPlanPtr plan = nullptr;
    ~PlanGuard() {
      if (plan) (void)pg_try([&] { SPI_freeplan(plan); });
    }
  } guard;
  ErrorData *err = nullptr;
  if (own_plan) {
    // Declared count first, so $n beyond the given values is an error from the parser.
    vp.n = (int)params.size();
    vp.types = (Oid *)palloc0(sizeof(Oid) * (vp.n + 1));
    err = pg_try([&] {
      plan = SPI_prepare_params(sql, var_param_setup, &vp, 0);
      if (!plan) elog(ERROR, "SPI_prepare_params failed: %s", SPI_result_code_string(SPI_result));
      // A saved plan lives outside SPI's procedure memory; an unsaved one would leave
      // ~200 bytes there per statement until the call ends (measured).
      SPI_keepplan(plan);
    });
    nargs = vp.n;
    argtypes = vp.types;
    if (!err) guard.plan = plan;
  }
  if (!err && (int)params.size() != nargs) {
    err = pg_try([&] {
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("statement has %d parameters but %d values were given", nargs, (int)params.size())));
    });
  }
  if (err) {
    ErrorData *rerr = sx.rollback();
    return throw_pg_error(rerr ? rerr : err);
  }

  Datum *values = (Datum *)palloc(sizeof(Datum) * (nargs + 1));
  char *nulls = (char *)palloc(nargs + 1);
  for (int i = 0; i < nargs; i++) {
    Oid t = argtypes[i] == InvalidOid || argtypes[i] == UNKNOWNOID ? TEXTOID : argtypes[i];
    TypeInfo *ti = type_info(t);
    bool isnull;
    if (!ti || !from_js(ctx, params[i], ti, &values[i], &isnull)) {
      sx.rollback();
      return;  // the conversion's exception is pending
    }
    nulls[i] = isnull ? 'n' : ' ';
  }

  int rc = 0;
  err = pg_try([&] {
    if (own_plan) {
      // Plans parsed with variable parameters take their values as a ParamListInfo.
      ParamListInfo pl = makeParamList(nargs);
      for (int i = 0; i < nargs; i++) {
        pl->params[i].value = values[i];
        pl->params[i].isnull = nulls[i] == 'n';
        pl->params[i].pflags = PARAM_FLAG_CONST;
        pl->params[i].ptype = argtypes[i] == InvalidOid || argtypes[i] == UNKNOWNOID ? TEXTOID : argtypes[i];
      }
      rc = SPI_execute_plan_with_paramlist(plan, pl, false, 0);
    } else {
      rc = SPI_execute_plan(plan, values, nulls, false, 0);
    }
    if (rc < 0) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
  });
  SPITupleTable *tt = SPI_tuptable;
  uint64 processed = SPI_processed;
  if (err) {
    ErrorData *rerr = sx.rollback();
    return throw_pg_error(rerr ? rerr : err);
  }
  sx.commit();
  if (isolate->IsExecutionTerminating()) return;

  v8::Local<v8::Value> result;
  bool ok = result_to_js(ctx, rc, tt, processed).ToLocal(&result);
  if (tt) SPI_freetuptable(tt);
  if (ok) a.GetReturnValue().Set(result);
}

// Everything one statement allocates (the SQL text, parameters, detoasted values) lives
// in a context of its own, so a script running a million statements does not grow.
class StatementMemory {
 public:
  bool enter() {
    MemoryContext parent = CurrentMemoryContext;
    ErrorData *err = pg_try([&] { cxt_ = AllocSetContextCreate(parent, "plv8 statement", ALLOCSET_DEFAULT_SIZES); });
    if (err) { throw_pg_error(err); return false; }
    old_ = MemoryContextSwitchTo(cxt_);
    return true;
  }
  ~StatementMemory() {
    if (!cxt_) return;
    MemoryContextSwitchTo(old_);
    MemoryContextDelete(cxt_);
  }
 private:
  MemoryContext cxt_ = nullptr, old_ = nullptr;
};

void spi_execute(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 1) return throw_type_error("usage: plv8.execute(sql, [params])");
  if (!ensure_spi()) return;
  StatementMemory mem;
  if (!mem.enter()) return;
  char *sql = js_to_cstring(ctx, a[0]);
  if (!sql) return;
  std::vector<v8::Local<v8::Value>> params;
  if (collect_params(a, 1, &params)) run(a, sql, nullptr, 0, nullptr, params);
}

// ---- prepared plans ------------------------------------------------------------------------
struct Plan {
  SPIPlanPtr plan;
  int nargs;
  Oid *types;
};

static v8::Global<v8::ObjectTemplate> *plan_template;  // never destroyed

static Plan *plan_of(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Object> self = a.This();
  if (self->InternalFieldCount() < 1) { throw_type_error("not a plan"); return nullptr; }
  Plan *p = (Plan *)self->GetAlignedPointerFromInternalField(0);
  if (!p || !p->plan) { throw_error("plan has been freed"); return nullptr; }
  return p;
}

static void plan_execute(const v8::FunctionCallbackInfo<v8::Value> &a) {
  Plan *p = plan_of(a);
  if (!p || !ensure_spi()) return;
  StatementMemory mem;
  if (!mem.enter()) return;
  std::vector<v8::Local<v8::Value>> params;
  if (collect_params(a, 0, &params)) run(a, nullptr, p->plan, p->nargs, p->types, params);
}

// ---- cursors: plan.cursor(params) -> { fetch([n]), move(n), close() } ------------------------
// The portal is found again by name on each use, so a cursor object that outlives its
// transaction reports an error instead of touching a freed portal.
static v8::Global<v8::ObjectTemplate> *cursor_template;  // never destroyed

static Portal cursor_portal(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Object> self = a.This();
  if (self->InternalFieldCount() < 1) { throw_type_error("not a cursor"); return nullptr; }
  char *name = (char *)self->GetAlignedPointerFromInternalField(0);
  Portal p = name ? SPI_cursor_find(name) : nullptr;
  if (!p) throw_error("cursor is closed");
  return p;
}

// fetch(): the next row or undefined; fetch(n): an array of up to n rows (n < 0: backwards).
static void cursor_fetch(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  Portal portal = cursor_portal(a);
  if (!portal || !ensure_spi()) return;
  bool many = a.Length() > 0 && !a[0]->IsUndefined();
  long n = many ? (long)a[0]->IntegerValue(ctx).FromMaybe(1) : 1;
  StatementMemory mem;
  if (!mem.enter()) return;
  SubXact sx;
  if (ErrorData *err = sx.begin()) return throw_pg_error(err);
  ErrorData *err = pg_try([&] { SPI_cursor_fetch(portal, n >= 0, n >= 0 ? n : -n); });
  if (err) {
    ErrorData *rerr = sx.rollback();
    return throw_pg_error(rerr ? rerr : err);
  }
  SPITupleTable *tt = SPI_tuptable;
  uint64 processed = SPI_processed;
  sx.commit();
  if (isolate->IsExecutionTerminating()) return;
  if (!many) {
    v8::Local<v8::Value> row;
    if (processed > 0 && tuple_to_js(ctx, tt->vals[0], tt->tupdesc).ToLocal(&row)) a.GetReturnValue().Set(row);
  } else {
    v8::Local<v8::Value> rows;
    if (result_to_js(ctx, 0, tt ? tt : nullptr, processed).ToLocal(&rows)) a.GetReturnValue().Set(rows);
  }
  if (tt) SPI_freetuptable(tt);
}

static void cursor_move(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  Portal portal = cursor_portal(a);
  if (!portal || !ensure_spi()) return;
  long n = a.Length() > 0 ? (long)a[0]->IntegerValue(ctx).FromMaybe(1) : 1;
  if (ErrorData *err = pg_try([&] { SPI_cursor_move(portal, n >= 0, n >= 0 ? n : -n); })) throw_pg_error(err);
}

static void cursor_close(const v8::FunctionCallbackInfo<v8::Value> &a) {
  Portal portal = cursor_portal(a);
  if (!portal) return;
  char *name = (char *)a.This()->GetAlignedPointerFromInternalField(0);
  a.This()->SetAlignedPointerInInternalField(0, nullptr);
  if (ErrorData *err = pg_try([&] { SPI_cursor_close(portal); })) throw_pg_error(err);
  pfree(name);
}

static void plan_cursor(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  Plan *p = plan_of(a);
  if (!p || !ensure_spi()) return;
  StatementMemory mem;  // SPI_cursor_open copies the parameters into the portal
  if (!mem.enter()) return;
  std::vector<v8::Local<v8::Value>> params;
  if (!collect_params(a, 0, &params)) return;
  if ((int)params.size() != p->nargs) return throw_error("plan expects %d parameters, got %d", p->nargs, (int)params.size());
  Datum *values = (Datum *)palloc(sizeof(Datum) * (p->nargs + 1));
  char *nulls = (char *)palloc(p->nargs + 1);
  for (int i = 0; i < p->nargs; i++) {
    TypeInfo *t = type_info(p->types[i]);
    bool isnull;
    if (!t || !from_js(ctx, params[i], t, &values[i], &isnull)) return;
    nulls[i] = isnull ? 'n' : ' ';
  }
  SubXact sx;
  if (ErrorData *err = sx.begin()) return throw_pg_error(err);
  Portal portal = nullptr;
  ErrorData *err = pg_try([&] { portal = SPI_cursor_open(NULL, p->plan, values, nulls, false); });
  if (err) {
    ErrorData *rerr = sx.rollback();
    return throw_pg_error(rerr ? rerr : err);
  }
  sx.commit();

  if (!cursor_template) {
    v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
    t->SetInternalFieldCount(1);
    t->Set(isolate, "fetch", v8::FunctionTemplate::New(isolate, cursor_fetch));
    t->Set(isolate, "move", v8::FunctionTemplate::New(isolate, cursor_move));
    t->Set(isolate, "close", v8::FunctionTemplate::New(isolate, cursor_close));
    cursor_template = new v8::Global<v8::ObjectTemplate>(isolate, t);
  }
  v8::Local<v8::Object> o;
  if (!cursor_template->Get(isolate)->NewInstance(ctx).ToLocal(&o)) return;
  o->SetAlignedPointerInInternalField(0, MemoryContextStrdup(TopMemoryContext, portal->name));
  a.GetReturnValue().Set(o);
}

static void plan_free(const v8::FunctionCallbackInfo<v8::Value> &a) {
  Plan *p = plan_of(a);
  if (!p) return;
  SPIPlanPtr plan = p->plan;
  p->plan = nullptr;
  if (ErrorData *err = pg_try([&] { SPI_freeplan(plan); })) throw_pg_error(err);
  a.This()->SetAlignedPointerInInternalField(0, nullptr);
  pfree(p->types);
  pfree(p);
}

// plv8.prepare(sql, ['int4', 'text']) -> { execute(params), free() }
void spi_prepare(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 1) return throw_type_error("usage: plv8.prepare(sql, [types])");
  if (!ensure_spi()) return;
  StatementMemory mem;
  if (!mem.enter()) return;
  char *sql = js_to_cstring(ctx, a[0]);
  if (!sql) return;
  std::vector<char *> names;
  if (a.Length() > 1 && a[1]->IsArray()) {
    v8::Local<v8::Array> arr = a[1].As<v8::Array>();
    for (uint32 i = 0; i < arr->Length(); i++) {
      v8::Local<v8::Value> v;
      char *n = arr->Get(ctx, i).ToLocal(&v) ? js_to_cstring(ctx, v) : nullptr;
      if (!n) return;
      names.push_back(n);
    }
  } else {
    for (int i = 1; i < a.Length(); i++) {
      char *n = js_to_cstring(ctx, a[i]);
      if (!n) return;
      names.push_back(n);
    }
  }
  int nargs = (int)names.size();
  Oid *types = (Oid *)MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * (nargs + 1));
  SPIPlanPtr plan = nullptr;
  SubXact sx;
  if (ErrorData *err = sx.begin()) return throw_pg_error(err);
  ErrorData *err = pg_try([&] {
    for (int i = 0; i < nargs; i++) {
      int32 typmod;
      parseTypeString(names[i], &types[i], &typmod, false);
    }
    plan = SPI_prepare(sql, nargs, types);
    if (!plan) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
  });
  if (err) {
    ErrorData *rerr = sx.rollback();
    pfree(types);
    return throw_pg_error(rerr ? rerr : err);
  }
  sx.commit();

  if (!plan_template) {
    v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
    t->SetInternalFieldCount(1);
    t->Set(isolate, "execute", v8::FunctionTemplate::New(isolate, plan_execute));
    t->Set(isolate, "free", v8::FunctionTemplate::New(isolate, plan_free));
    t->Set(isolate, "cursor", v8::FunctionTemplate::New(isolate, plan_cursor));
    plan_template = new v8::Global<v8::ObjectTemplate>(isolate, t);
  }
  v8::Local<v8::Object> o;
  if (!plan_template->Get(isolate)->NewInstance(ctx).ToLocal(&o)) return;
  Plan *p = (Plan *)MemoryContextAlloc(TopMemoryContext, sizeof(Plan));
  p->plan = plan;
  p->nargs = nargs;
  p->types = types;
  o->SetAlignedPointerInInternalField(0, p);
  a.GetReturnValue().Set(o);
}

}  // namespace cw
