// One V8 context per role, as PL/v8 does: globals set while running as role A are not
// visible to role B in the same session. A context is created on first use by a role,
// gets the `plv8` object and the elog level constants, then runs plv8.start_proc.
#include "runtime.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/regproc.h"
}

namespace cw {

static std::unordered_map<Oid, RoleContext *> contexts;
static v8::Global<v8::ObjectTemplate> *global_template;  // never destroyed
static uint64 next_generation = 1;
// The last role used: nearly every call in a session is by the same role.
static RoleContext *last_rc = nullptr;

static v8::Local<v8::ObjectTemplate> make_global_template() {
  if (global_template) return global_template->Get(isolate);
  v8::Local<v8::ObjectTemplate> g = v8::ObjectTemplate::New(isolate);
  g->Set(isolate, "plv8", plv8_object_template());
  static const struct { const char *name; int level; } levels[] = {
      {"DEBUG5", DEBUG5}, {"DEBUG4", DEBUG4}, {"DEBUG3", DEBUG3}, {"DEBUG2", DEBUG2}, {"DEBUG1", DEBUG1},
      {"LOG", LOG},       {"INFO", INFO},     {"NOTICE", NOTICE}, {"WARNING", WARNING}, {"ERROR", ERROR}};
  for (auto &l : levels)
    g->Set(isolate, l.name, v8::Integer::New(isolate, l.level),
           (v8::PropertyAttribute)(v8::ReadOnly | v8::DontDelete));
  global_template = new v8::Global<v8::ObjectTemplate>(isolate, g);
  return g;
}

void discard_role_context(Oid role) {
  auto it = contexts.find(role);
  if (it == contexts.end()) return;
  if (last_rc == it->second) last_rc = nullptr;
  it->second->context.Reset();
  it->second->global.Reset();
  it->second->generation = 0;  // cached functions compare generations; they recompile
  delete it->second;
  contexts.erase(it);
  isolate->ContextDisposedNotification();
}

// Runs plv8.start_proc (a plv8 function name) in a new context. The caller's TryCatch
// sees its exception; the context is then discarded so the next call tries again.
static bool run_start_proc(v8::Local<v8::Context> ctx) {
  if (!cw_start_proc || !*cw_start_proc) return true;
  Oid fn = InvalidOid;
  const char *name = cw_start_proc;
  ErrorData *err = pg_try([&] {
    fn = DatumGetObjectId(DirectFunctionCall1(strchr(name, '(') ? regprocedurein : regprocin, CStringGetDatum(name)));
  });
  if (err) { throw_pg_error(err); return false; }
  v8::Local<v8::Function> f;
  if (!find_function(ctx, fn).ToLocal(&f)) return false;
  return !f->Call(ctx, ctx->Global(), 0, nullptr).IsEmpty();  // runs once per context
}

RoleContext *role_context(Oid role) {
  if (last_rc && last_rc->role == role) return last_rc;
  auto it = contexts.find(role);
  if (it != contexts.end()) return last_rc = it->second;

  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> ctx = v8::Context::New(isolate, nullptr, make_global_template());
  RoleContext *rc = new RoleContext();
  rc->role = role;
  rc->context.Reset(isolate, ctx);
  rc->global.Reset(isolate, ctx->Global());
  rc->generation = next_generation++;
  contexts[role] = rc;

  v8::Context::Scope cs(ctx);
  if (!run_start_proc(ctx)) {
    discard_role_context(role);
    return nullptr;
  }
  return last_rc = rc;
}

}  // namespace cw
