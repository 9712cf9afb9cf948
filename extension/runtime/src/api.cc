// The `plv8` object: the PL/v8 3.x functions scripts call (SPI lives in spi.cc).
#include "runtime.h"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
}

namespace cw {

static const char kVersion[] = "3.2.2";  // the PL/v8 API level implemented

// plv8.elog(level, msg, ...): the arguments joined by spaces. ERROR throws a catchable
// Error carrying only the message (uncaught it becomes the SQL error XX000), as in PL/v8.
static void api_elog(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 2) return throw_type_error("usage: plv8.elog(level, message, ...)");
  int level = a[0]->Int32Value(ctx).FromMaybe(-1);
  switch (level) {
    case DEBUG5: case DEBUG4: case DEBUG3: case DEBUG2: case DEBUG1: case LOG: case INFO:
    case NOTICE: case WARNING: case ERROR: break;
    default: return throw_error("invalid error level %d for plv8.elog", level);
  }
  StringInfoData buf;
  if (ErrorData *err = pg_try([&] { initStringInfo(&buf); })) return throw_pg_error(err);
  for (int i = 1; i < a.Length(); i++) {
    char *s = js_to_cstring(ctx, a[i]);
    if (!s) return;
    // the buffer refuses to grow past 1 GB with an error: keep that out of V8's frames
    ErrorData *err = pg_try([&] {
      if (i > 1) appendStringInfoChar(&buf, ' ');
      appendStringInfoString(&buf, s);
    });
    pfree(s);
    if (err) return throw_pg_error(err);
  }
  if (level == ERROR) {
    v8::Local<v8::String> msg = js_str(buf.data);
    pfree(buf.data);
    isolate->ThrowException(v8::Exception::Error(msg));
    return;
  }
  ErrorData *err = pg_try([&] { ereport(level, (errmsg("%s", buf.data))); });
  pfree(buf.data);
  if (err) throw_pg_error(err);
}

static void quote(const v8::FunctionCallbackInfo<v8::Value> &a, bool ident, bool nullable) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 1 || a[0]->IsUndefined() || a[0]->IsNull()) {
    if (nullable) a.GetReturnValue().Set(js_str("NULL"));
    else a.GetReturnValue().SetNull();  // quote_literal(NULL) is NULL in SQL too
    return;
  }
  char *s = js_to_cstring(ctx, a[0]);
  if (!s) return;
  const char *q = nullptr;
  ErrorData *err = pg_try([&] { q = ident ? quote_identifier(s) : quote_literal_cstr(s); });
  if (err) return throw_pg_error(err);
  a.GetReturnValue().Set(js_str(q));
}
static void api_quote_literal(const v8::FunctionCallbackInfo<v8::Value> &a) { quote(a, false, false); }
static void api_quote_nullable(const v8::FunctionCallbackInfo<v8::Value> &a) { quote(a, false, true); }
static void api_quote_ident(const v8::FunctionCallbackInfo<v8::Value> &a) { quote(a, true, false); }

static void api_return_next(const v8::FunctionCallbackInfo<v8::Value> &a) {
  return_next(isolate->GetCurrentContext(), a.Length() ? a[0] : v8::Undefined(isolate).As<v8::Value>());
}

// plv8.subtransaction(fn): fn runs in a subtransaction; if it throws, its database work
// is rolled back and, as in released PL/v8, a new Error carrying only the message is
// thrown (the original's sqlerrcode, code, detail and hint do not come out), so scripts
// cannot come to rely on more here than PL/v8 gives them; otherwise fn's result is returned.
static void api_subtransaction(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 1 || !a[0]->IsFunction()) return throw_type_error("plv8.subtransaction expects a function");
  if (!ensure_spi()) return;  // SPI must be connected outside the subtransaction
  SubXact sx;
  if (ErrorData *err = sx.begin()) return throw_pg_error(err);
  bool terminated = false;
  ErrorData *err = nullptr;
  char *message = nullptr;
  {
    v8::TryCatch tc(isolate);
    v8::Local<v8::Value> r;
    if (a[0].As<v8::Function>()->Call(ctx, ctx->Global(), 0, nullptr).ToLocal(&r)) {
      sx.commit();
      a.GetReturnValue().Set(r);
      return;
    }
    err = sx.rollback();
    terminated = tc.HasTerminated();
    if (!terminated && !err) message = js_error_message(ctx, tc.Exception());
  }
  // This TryCatch has no JavaScript above it, so V8 cleared a termination it caught.
  if (terminated) resume_termination();
  else if (err) throw_pg_error(err);
  else isolate->ThrowException(v8::Exception::Error(js_str(message)));
}

static void api_find_function(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  if (a.Length() < 1) return throw_type_error("usage: plv8.find_function(name)");
  char *name = js_to_cstring(ctx, a[0]);
  if (!name) return;
  Oid fn = InvalidOid;
  ErrorData *err = pg_try([&] {
    fn = DatumGetObjectId(DirectFunctionCall1(strchr(name, '(') ? regprocedurein : regprocin, CStringGetDatum(name)));
  });
  if (err) return throw_pg_error(err);
  v8::Local<v8::Function> f;
  if (find_function(ctx, fn).ToLocal(&f)) a.GetReturnValue().Set(f);
}

// Transaction control, only inside CALL of a procedure or a DO block run outside a
// transaction block (SPI refuses otherwise with PostgreSQL's own error).
static void api_commit(const v8::FunctionCallbackInfo<v8::Value> &) {
  if (!ensure_spi()) return;
  if (ErrorData *err = pg_try([] { SPI_commit(); })) throw_pg_error(err);
}
static void api_rollback(const v8::FunctionCallbackInfo<v8::Value> &) {
  if (!ensure_spi()) return;
  if (ErrorData *err = pg_try([] { SPI_rollback(); })) throw_pg_error(err);
}

static void api_memory_usage(const v8::FunctionCallbackInfo<v8::Value> &a) {
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  v8::Local<v8::Object> o = v8::Object::New(isolate);
  o->Set(ctx, js_str("total_heap_size"), v8::Number::New(isolate, hs.total_heap_size())).FromMaybe(false);
  o->Set(ctx, js_str("used_heap_size"), v8::Number::New(isolate, hs.used_heap_size())).FromMaybe(false);
  o->Set(ctx, js_str("external_memory"), v8::Number::New(isolate, hs.external_memory())).FromMaybe(false);
  o->Set(ctx, js_str("heap_size_limit"), v8::Number::New(isolate, hs.heap_size_limit())).FromMaybe(false);
  a.GetReturnValue().Set(o);
}

v8::Local<v8::ObjectTemplate> plv8_object_template() {
  v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
  auto fn = [&](const char *name, v8::FunctionCallback cb) {
    t->Set(isolate, name, v8::FunctionTemplate::New(isolate, cb));
  };
  fn("elog", api_elog);
  fn("execute", spi_execute);
  fn("prepare", spi_prepare);
  fn("quote_literal", api_quote_literal);
  fn("quote_nullable", api_quote_nullable);
  fn("quote_ident", api_quote_ident);
  fn("return_next", api_return_next);
  fn("subtransaction", api_subtransaction);
  fn("find_function", api_find_function);
  fn("commit", api_commit);
  fn("rollback", api_rollback);
  fn("memory_usage", api_memory_usage);
  t->Set(isolate, "version", js_str(kVersion));
  return t;
}

}  // namespace cw
