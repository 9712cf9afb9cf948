// Error mapping in both directions.
//   PostgreSQL -> JavaScript: an Error whose message is the SQL message, with
//     sqlerrcode (the 5-character SQLSTATE), code (PL/v8's packed integer), detail,
//     hint, context and the object names PostgreSQL reported.
//   JavaScript -> PostgreSQL: PL/v8 3.x rules: message = String(exception) without a
//     leading "Error: "; code (the packed integer SQLSTATE), detail, hint and context
//     read from the thrown object; CONTEXT "f() LINE n: <source line>". Where PL/v8 would
//     make a meaningless SQLSTATE of a `code` that is not one, this is XX000.
#include "runtime.h"

#include <cstdarg>

namespace cw {

// ---- SubXact ---------------------------------------------------------------------------
ErrorData *SubXact::begin() {
  cxt_ = CurrentMemoryContext;
  owner_ = CurrentResourceOwner;
  ErrorData *err = pg_try([&] { BeginInternalSubTransaction(NULL); });
  MemoryContextSwitchTo(cxt_);
  return err;
}

void SubXact::commit() {
  ErrorData *err = pg_try([&] { ReleaseCurrentSubTransaction(); });
  MemoryContextSwitchTo(cxt_);
  CurrentResourceOwner = owner_;
  if (err) throw_pg_error(err);
}

ErrorData *SubXact::rollback() {
  ErrorData *err = pg_try([&] { RollbackAndReleaseCurrentSubTransaction(); });
  MemoryContextSwitchTo(cxt_);
  CurrentResourceOwner = owner_;
  return err;
}

// ---- termination ---------------------------------------------------------------------------
// V8 clears a termination when it reaches a TryCatch with no JavaScript above it, and
// acts on a new request only at its next interrupt check (a loop spending its time in
// callbacks may not reach one for many iterations). So: request it and run a trivial
// script to take the check now; the termination then unwinds all JavaScript.
bool resume_termination() {
  request_termination();
  if (isolate->IsExecutionTerminating()) return true;
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Script> s;
  v8::Local<v8::Value> ignored;
  if (v8::Script::Compile(ctx, v8::String::NewFromUtf8Literal(isolate, "0")).ToLocal(&s) && s->Run(ctx).ToLocal(&ignored)) {
    // ran to completion: there was nothing to terminate after all
  }
  return isolate->IsExecutionTerminating();
}

// ---- PostgreSQL -> JavaScript -----------------------------------------------------------
// A deep copy in CurrentMemoryContext (the copy pg_try made may live in SPI memory).
static ErrorData *copy_error(const ErrorData *e) {
  ErrorData *c = (ErrorData *)palloc(sizeof(ErrorData));
  memcpy(c, e, sizeof(ErrorData));
#define DUP(f) c->f = e->f ? pstrdup(e->f) : nullptr
  DUP(message); DUP(detail); DUP(detail_log); DUP(hint); DUP(context); DUP(backtrace);
  DUP(schema_name); DUP(table_name); DUP(column_name); DUP(datatype_name);
  DUP(constraint_name); DUP(internalquery);
#undef DUP
  c->assoc_context = CurrentMemoryContext;
  return c;
}

static void set_prop(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char *k, const char *v) {
  if (v) (void)o->Set(ctx, js_str(k), js_str(v)).FromMaybe(false);
}

void throw_pg_error(ErrorData *e) {
  // Not inside a context means no JavaScript is on the stack: raise it directly.
  if (!isolate || !isolate->InContext()) ReThrowError(e);
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  bool interrupt = ERRCODE_TO_CATEGORY(e->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION;
  if (isolate->IsExecutionTerminating()) {
    // Already unwinding (e.g. a nested call was cancelled): nothing to throw, but keep
    // the error so the call handler can report it.
    if (interrupt && current_frame && !current_frame->fatal_error) {
      MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
      current_frame->fatal_error = copy_error(e);
      MemoryContextSwitchTo(old);
    }
    return;
  }
  v8::Local<v8::Value> exc = v8::Exception::Error(js_str(e->message ? e->message : "unknown error"));
  v8::Local<v8::Object> o = exc.As<v8::Object>();
  (void)o->Set(ctx, js_str("sqlerrcode"), js_str(unpack_sql_state(e->sqlerrcode))).FromMaybe(false);
  (void)o->Set(ctx, js_str("code"), v8::Integer::New(isolate, e->sqlerrcode)).FromMaybe(false);
  set_prop(ctx, o, "detail", e->detail);
  set_prop(ctx, o, "hint", e->hint);
  set_prop(ctx, o, "context", e->context);
  set_prop(ctx, o, "internalquery", e->internalquery);
  set_prop(ctx, o, "schema_name", e->schema_name);
  set_prop(ctx, o, "table_name", e->table_name);
  set_prop(ctx, o, "column_name", e->column_name);
  set_prop(ctx, o, "datatype_name", e->datatype_name);
  set_prop(ctx, o, "constraint_name", e->constraint_name);

  // Cancel, statement_timeout, shutdown: a script must not be able to swallow these.
  // The error is kept for the call handler and the script is terminated at once:
  // V8 acts on a termination request only at its next interrupt check, which a loop
  // spending its time in callbacks may not reach for many iterations, so run a trivial
  // script here to take the check now (its termination then unwinds all JavaScript).
  if (interrupt && current_frame) {
    if (!current_frame->fatal_error) {
      MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
      current_frame->fatal_error = copy_error(e);
      MemoryContextSwitchTo(old);
    }
    if (resume_termination()) return;
  }
  isolate->ThrowException(exc);
}

void throw_error(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  isolate->ThrowException(v8::Exception::Error(js_str(buf)));
}

void throw_type_error(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  isolate->ThrowException(v8::Exception::TypeError(js_str(buf)));
}

// ---- JavaScript -> PostgreSQL -----------------------------------------------------------
static char *prop_string(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const char *k) {
  v8::Local<v8::Value> v;
  if (!o->Get(ctx, js_str(k)).ToLocal(&v) || v->IsUndefined() || v->IsNull()) return nullptr;
  return js_to_cstring(ctx, v);
}

// `code` as released PL/v8 reads it: an int32, PostgreSQL's packed SQLSTATE
// (MAKE_SQLSTATE, 6 bits a character). PL/v8 applies ToInt32 to anything, so a string such
// as "22023" there becomes the packed value 22023, a meaningless SQLSTATE, and "KW001" 0;
// here every value that is not a number holding five SQLSTATE characters is 0 (XX000), so
// a script that works here cannot depend on a textual code. `sqlerrcode` is not read (as
// in PL/v8).
static int parse_code(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v) {
  if (v.IsEmpty() || !v->IsNumber()) return 0;
  int32 code = v->Int32Value(ctx).FromMaybe(0);
  if (code <= 0 || code >= (1 << 30)) return 0;
  for (int i = 0; i < 5; i++) {
    int c = ((code >> (6 * i)) & 0x3f) + '0';
    if (!isdigit(c) && !isupper(c)) return 0;
  }
  return code;
}

char *js_error_message(v8::Local<v8::Context> ctx, v8::Local<v8::Value> exc) {
  char *msg = exc.IsEmpty() ? nullptr : js_to_cstring(ctx, exc);
  if (!msg) msg = pstrdup("unknown JavaScript exception");
  if (strncmp(msg, "Error: ", 7) == 0) msg += 7;
  return msg;
}

void capture_js_error(v8::TryCatch &tc, v8::Local<v8::Context> ctx, const char *fname, JsError *out) {
  v8::HandleScope scope(isolate);
  v8::TryCatch inner(isolate);  // getters on the thrown object may throw again
  memset(out, 0, sizeof *out);
  v8::Local<v8::Value> exc = tc.Exception();
  bool is_object = !exc.IsEmpty() && exc->IsObject();

  // As PL/v8: String(exception), so a thrown plain object reads "[object Object]".
  out->message = js_error_message(ctx, exc);

  if (is_object) {
    v8::Local<v8::Object> o = exc.As<v8::Object>();
    v8::Local<v8::Value> code;
    if (o->Get(ctx, js_str("code")).ToLocal(&code)) out->sqlerrcode = parse_code(ctx, code);
    out->detail = prop_string(ctx, o, "detail");
    out->hint = prop_string(ctx, o, "hint");
    out->context = prop_string(ctx, o, "context");
  }
  // Stack exhaustion gets PostgreSQL's own code for it (PL/v8 would say XX000).
  if (!out->sqlerrcode && strcmp(out->message, "RangeError: Maximum call stack size exceeded") == 0)
    out->sqlerrcode = ERRCODE_STATEMENT_TOO_COMPLEX;
  if (!out->sqlerrcode) out->sqlerrcode = ERRCODE_INTERNAL_ERROR;  // as PL/v8 3.x

  v8::Local<v8::Message> m = tc.Message();
  if (!m.IsEmpty()) {
    int line = m->GetLineNumber(ctx).FromMaybe(0) - 1;  // minus the wrapper's first line
    v8::Local<v8::String> src;
    char *srcline = m->GetSourceLine(ctx).ToLocal(&src) ? js_to_cstring(ctx, src) : nullptr;
    // A bundled (one-line) script would otherwise put all of itself in the CONTEXT.
    if (srcline && strlen(srcline) > 200) {
      int col = m->GetStartColumn(ctx).FromMaybe(0);
      int from = col > 80 ? pg_mbcliplen(srcline, col - 80, col - 80) : 0;
      char *tail = srcline + from;
      int keep = pg_mbcliplen(tail, strlen(tail), 200);
      srcline = psprintf("%s%.*s...", from > 0 ? "..." : "", keep, tail);
    }
    // Exceptions raised outside the script (argument or result conversion) have no line.
    char *own = line >= 1 ? psprintf("%s() LINE %d: %s", fname ? fname : "anonymous", line, srcline ? srcline : "")
                          : psprintf("%s()", fname ? fname : "anonymous");
    out->context = out->context ? psprintf("%s\n%s", out->context, own) : own;
  }
}

void raise_js_error(const JsError &e) {
  ereport(ERROR, (errcode(e.sqlerrcode), errmsg("%s", e.message), e.detail ? errdetail("%s", e.detail) : 0,
                  e.hint ? errhint("%s", e.hint) : 0, e.context ? errcontext("%s", e.context) : 0));
  pg_unreachable();
}

}  // namespace cw
