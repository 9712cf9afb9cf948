// Type conversion between Datums and JavaScript values, following PL/v8 3.x:
//   bool -> boolean; int2/int4/float4/float8/numeric/oid -> number; int8 -> BigInt;
//   text-like -> string; json/jsonb -> parsed value; timestamptz/timestamp/date -> Date;
//   bytea -> Uint8Array; arrays -> (nested) Array; composite/record -> object; NULL -> null;
//   anything else -> its text output.
// JavaScript -> Datum follows released PL/v8 3.2.2 value for value, except where PL/v8
// silently stores something else than the value it was given (an int4 that wraps, an
// invalid Date that becomes 2000-01-01, a jsonb number rounded to 15 digits, an array
// element dropped, ...): there this is an SQL error. Code that runs here therefore runs
// unchanged on PL/v8 (extension/runtime/README.md has the table; test/runtime/conversions
// checks it on both runtimes).
// Every PostgreSQL call here runs under pg_try and becomes a JavaScript exception.
#include "runtime.h"

#include <cmath>
#include <functional>

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}

namespace cw {

// Milliseconds between 1970-01-01 (JavaScript) and 2000-01-01 (PostgreSQL).
static const double kPgEpochMs = 946684800000.0;

v8::Local<v8::String> js_str(const char *s, int len) {
  v8::Local<v8::String> r;
  if (v8::String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, len).ToLocal(&r)) return r;
  // Only a string beyond V8's length limit gets here: report it, never abort.
  if (!isolate->IsExecutionTerminating())
    isolate->ThrowException(v8::Exception::RangeError(
        v8::String::NewFromUtf8Literal(isolate, "string is too long for JavaScript")));
  return v8::String::Empty(isolate);
}

// For data: a string too long for V8 becomes an exception, not a crash.
static v8::MaybeLocal<v8::Value> data_str(const char *s, int len) {
  v8::Local<v8::String> r;
  if (!v8::String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, len).ToLocal(&r)) {
    if (!isolate->IsExecutionTerminating())
      throw_error("value of %d bytes is too long for a JavaScript string", len);
    return {};
  }
  return r;
}

// palloc for sizes that come from script data: an impossible size or an out-of-memory
// error becomes a JavaScript exception (a plain palloc would longjmp across V8).
void *js_palloc(size_t n) {
  if (n > MaxAllocSize) {
    throw_pg_error(pg_try([&] {
      ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                      errmsg("value of %zu bytes exceeds PostgreSQL's 1 GB limit", n)));
    }));
    return nullptr;
  }
  void *p = nullptr;
  if (ErrorData *err = pg_try([&] { p = palloc(n); })) {
    throw_pg_error(err);
    return nullptr;
  }
  return p;
}

char *js_to_cstring(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v) {
  v8::Local<v8::String> s;
  if (!v->ToString(ctx).ToLocal(&s)) return nullptr;
  size_t n = s->Utf8Length(isolate);  // up to 3 bytes per UTF-16 unit: may exceed 1 GB
  char *buf = (char *)js_palloc(n + 1);
  if (!buf) return nullptr;
  s->WriteUtf8(isolate, buf, n + 1, nullptr, v8::String::NO_NULL_TERMINATION);
  buf[n] = '\0';
  return buf;
}

// ---- type cache ----------------------------------------------------------------------------
static std::unordered_map<uint64, TypeInfo *> type_cache;

// The lookup itself raises PostgreSQL errors: callable before V8 is entered or inside pg_try.
TypeInfo *type_info_pg(Oid oid, int32 typmod) {
  uint64 key = ((uint64)oid << 32) | (uint32)typmod;
  auto it = type_cache.find(key);
  if (it != type_cache.end()) return it->second;

  TypeInfo *t = (TypeInfo *)MemoryContextAllocZero(TopMemoryContext, sizeof(TypeInfo));
  t->oid = oid;
  t->typmod = typmod;
  int32 basemod = typmod;
  t->base = getBaseTypeAndTypmod(oid, &basemod);
  get_typlenbyvalalign(t->base, &t->len, &t->byval, &t->align);
  t->typtype = get_typtype(oid);
  Oid infn, outfn;
  getTypeInputInfo(oid, &infn, &t->ioparam);
  bool varlena;
  getTypeOutputInfo(oid, &outfn, &varlena);
  fmgr_info_cxt(infn, &t->in, TopMemoryContext);
  fmgr_info_cxt(outfn, &t->out, TopMemoryContext);
  t->is_composite = t->base == RECORDOID || get_typtype(t->base) == TYPTYPE_COMPOSITE;
  Oid elem = t->len == -1 ? get_element_type(t->base) : InvalidOid;
  if (OidIsValid(elem)) {
    t->is_array = true;
    t->elem = type_info_pg(elem, -1);
  }
  type_cache[key] = t;
  return t;
}

TypeInfo *type_info(Oid oid, int32 typmod) {
  TypeInfo *t = nullptr;
  ErrorData *err = pg_try([&] { t = type_info_pg(oid, typmod); });
  if (err) {
    throw_pg_error(err);
    return nullptr;
  }
  return t;
}

// ---- Datum -> JavaScript ---------------------------------------------------------------------
static v8::MaybeLocal<v8::Value> array_to_js(v8::Local<v8::Context> ctx, Datum d, TypeInfo *t);
static v8::MaybeLocal<v8::Value> composite_to_js(v8::Local<v8::Context> ctx, Datum d);

static v8::MaybeLocal<v8::Value> output_to_js(Datum d, TypeInfo *t) {
  char *s = nullptr;
  ErrorData *err = pg_try([&] { s = OutputFunctionCall(&t->out, d); });
  if (err) { throw_pg_error(err); return {}; }
  return data_str(s, -1);
}

static v8::MaybeLocal<v8::Value> json_parse(v8::Local<v8::Context> ctx, const char *s, int len) {
  v8::Local<v8::Value> str;
  if (!data_str(s, len).ToLocal(&str)) return {};
  return v8::JSON::Parse(ctx, str.As<v8::String>());
}

v8::MaybeLocal<v8::Value> to_js(v8::Local<v8::Context> ctx, Datum d, bool isnull, TypeInfo *t) {
  if (isnull) return v8::Null(isolate);
  switch (t->base) {
    case BOOLOID: return v8::Boolean::New(isolate, DatumGetBool(d)).As<v8::Value>();
    case INT2OID: return v8::Integer::New(isolate, DatumGetInt16(d)).As<v8::Value>();
    case INT4OID: return v8::Integer::New(isolate, DatumGetInt32(d)).As<v8::Value>();
    case OIDOID: return v8::Integer::NewFromUnsigned(isolate, DatumGetObjectId(d)).As<v8::Value>();
    case INT8OID: return v8::BigInt::New(isolate, DatumGetInt64(d)).As<v8::Value>();
    case FLOAT4OID: return v8::Number::New(isolate, DatumGetFloat4(d)).As<v8::Value>();
    case FLOAT8OID: return v8::Number::New(isolate, DatumGetFloat8(d)).As<v8::Value>();
    case NUMERICOID: {
      double f = 0;
      ErrorData *err = pg_try([&] { f = DatumGetFloat8(DirectFunctionCall1(numeric_float8, d)); });
      if (err) { throw_pg_error(err); return {}; }
      return v8::Number::New(isolate, f).As<v8::Value>();
    }
    case TEXTOID: case VARCHAROID: case BPCHAROID: case JSONOID: case XMLOID: {
      struct varlena *v = nullptr;
      ErrorData *err = pg_try([&] { v = pg_detoast_datum_packed((struct varlena *)DatumGetPointer(d)); });
      if (err) { throw_pg_error(err); return {}; }
      if (t->base == JSONOID) return json_parse(ctx, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
      return data_str(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
    }
    case NAMEOID: return data_str(NameStr(*DatumGetName(d)), -1);
    case JSONBOID: {
      char *s = nullptr;
      ErrorData *err = pg_try([&] { s = OutputFunctionCall(&t->out, d); });
      if (err) { throw_pg_error(err); return {}; }
      return json_parse(ctx, s, -1);
    }
    case TIMESTAMPOID: case TIMESTAMPTZOID: {
      int64 ts = DatumGetInt64(d);
      double ms = TIMESTAMP_IS_NOBEGIN(ts) ? -INFINITY
                : TIMESTAMP_IS_NOEND(ts)   ? INFINITY
                                           : (double)ts / 1000.0 + kPgEpochMs;
      return v8::Date::New(ctx, ms);
    }
    case DATEOID: {
      DateADT day = DatumGetDateADT(d);
      double ms = DATE_IS_NOBEGIN(day) ? -INFINITY
                : DATE_IS_NOEND(day)   ? INFINITY
                                       : (double)day * 86400000.0 + kPgEpochMs;
      return v8::Date::New(ctx, ms);
    }
    case BYTEAOID: {
      struct varlena *v = nullptr;
      ErrorData *err = pg_try([&] { v = pg_detoast_datum_packed((struct varlena *)DatumGetPointer(d)); });
      if (err) { throw_pg_error(err); return {}; }
      size_t n = VARSIZE_ANY_EXHDR(v);
      std::unique_ptr<v8::BackingStore> bs = v8::ArrayBuffer::NewBackingStore(isolate, n);
      if (n) memcpy(bs->Data(), VARDATA_ANY(v), n);
      v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, std::move(bs));
      return v8::Uint8Array::New(ab, 0, n).As<v8::Value>();
    }
    default: break;
  }
  if (t->is_array) return array_to_js(ctx, d, t);
  if (t->is_composite) return composite_to_js(ctx, d);
  return output_to_js(d, t);
}

static v8::MaybeLocal<v8::Value> array_to_js(v8::Local<v8::Context> ctx, Datum d, TypeInfo *t) {
  ArrayType *arr = nullptr;
  Datum *elems = nullptr;
  bool *nulls = nullptr;
  int n = 0;
  TypeInfo *e = t->elem;
  ErrorData *err = pg_try([&] {
    arr = DatumGetArrayTypeP(d);
    deconstruct_array(arr, ARR_ELEMTYPE(arr), e->len, e->byval, e->align, &elems, &nulls, &n);
  });
  if (err) { throw_pg_error(err); return {}; }
  int ndim = ARR_NDIM(arr);
  int *dims = ARR_DIMS(arr);
  if (ndim <= 1) {
    v8::Local<v8::Array> out = v8::Array::New(isolate, n);
    for (int i = 0; i < n; i++) {
      v8::Local<v8::Value> v;
      if (!to_js(ctx, elems[i], nulls[i], e).ToLocal(&v)) return {};
      if (out->Set(ctx, i, v).IsNothing()) return {};
    }
    return out;
  }
  // Multi-dimensional: nested arrays, innermost dimension last (as PL/v8 does).
  int idx = 0;
  std::function<v8::MaybeLocal<v8::Value>(int)> build = [&](int dim) -> v8::MaybeLocal<v8::Value> {
    v8::Local<v8::Array> out = v8::Array::New(isolate, dims[dim]);
    for (int i = 0; i < dims[dim]; i++) {
      v8::Local<v8::Value> v;
      if (dim == ndim - 1) {
        if (!to_js(ctx, elems[idx], nulls[idx], e).ToLocal(&v)) return {};
        idx++;
      } else if (!build(dim + 1).ToLocal(&v)) {
        return {};
      }
      if (out->Set(ctx, i, v).IsNothing()) return {};
    }
    return out;
  };
  return build(0);
}

// Column names and types of a row type, looked up once for all the rows of a result.
bool RowShape::init(TupleDesc d) {
  desc = d;
  for (int i = 0; i < d->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(d, i);
    if (att->attisdropped) continue;
    TypeInfo *t = type_info(att->atttypid, att->atttypmod);
    if (!t) return false;
    cols.push_back(i);
    names.push_back(js_str(NameStr(att->attname)));
    types.push_back(t);
  }
  values = (Datum *)js_palloc(sizeof(Datum) * (d->natts + 1));
  nulls = values ? (bool *)js_palloc(sizeof(bool) * (d->natts + 1)) : nullptr;
  return nulls != nullptr;
}

v8::MaybeLocal<v8::Value> RowShape::row(v8::Local<v8::Context> ctx, HeapTuple tup) {
  heap_deform_tuple(tup, desc, values, nulls);  // no allocation, cannot fail
  v8::Local<v8::Object> obj = v8::Object::New(isolate);
  for (size_t k = 0; k < cols.size(); k++) {
    int i = cols[k];
    v8::Local<v8::Value> v;
    if (!to_js(ctx, values[i], nulls[i], types[k]).ToLocal(&v)) return {};
    // an own property even for a column named "__proto__", as JSON.parse would make it
    if (obj->CreateDataProperty(ctx, names[k], v).IsNothing()) return {};
  }
  return obj;
}

v8::MaybeLocal<v8::Value> tuple_to_js(v8::Local<v8::Context> ctx, HeapTuple tup, TupleDesc desc) {
  RowShape shape;
  if (!shape.init(desc)) return {};
  return shape.row(ctx, tup);
}

static v8::MaybeLocal<v8::Value> composite_to_js(v8::Local<v8::Context> ctx, Datum d) {
  HeapTupleHeader th = nullptr;
  TupleDesc desc = nullptr;
  ErrorData *err = pg_try([&] {
    th = DatumGetHeapTupleHeader(d);
    desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
  });
  if (err) { throw_pg_error(err); return {}; }
  HeapTupleData tmp;
  tmp.t_len = HeapTupleHeaderGetDatumLength(th);
  ItemPointerSetInvalid(&tmp.t_self);
  tmp.t_tableOid = InvalidOid;
  tmp.t_data = th;
  v8::MaybeLocal<v8::Value> r = tuple_to_js(ctx, &tmp, desc);
  ReleaseTupleDesc(desc);
  return r;
}

// ---- JavaScript -> Datum -----------------------------------------------------------------------
static bool from_input(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  char *s = js_to_cstring(ctx, v);
  if (!s) return false;
  ErrorData *err = pg_try([&] { *out = InputFunctionCall(&t->in, s, t->ioparam, t->typmod); });
  if (err) { throw_pg_error(err); return false; }
  return true;
}

// A value PL/v8 would store as something else: an SQL error saying what PL/v8 would do.
static bool refuse(int sqlerrcode, const char *type, const char *what, const char *detail) {
  throw_pg_error(pg_try([&] {
    ereport(ERROR, (errcode(sqlerrcode), errmsg("%s cannot be converted to %s", what, type), errdetail("%s", detail)));
  }));
  return false;
}

// int2/int4/int8 from a number or BigInt that fits exactly; anything else (a fraction,
// NaN, out of range, a string, a boolean) goes through the type's input function as
// String(value), which refuses what is not an integer of the type. PL/v8 truncates
// fractions and wraps what does not fit; the input function raises 22P02 or 22003.
static bool int_from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  if (v->IsInt32()) {
    int32 i = v.As<v8::Int32>()->Value();
    if (t->base == INT4OID) { *out = Int32GetDatum(i); return true; }
    if (t->base == INT8OID) { *out = Int64GetDatum(i); return true; }
    if (i >= PG_INT16_MIN && i <= PG_INT16_MAX) { *out = Int16GetDatum((int16)i); return true; }
    return false;
  }
  if (t->base == INT8OID && v->IsBigInt()) {
    bool lossless;
    int64 i = v.As<v8::BigInt>()->Int64Value(&lossless);
    if (!lossless) return false;
    *out = Int64GetDatum(i);
    return true;
  }
  if (t->base == INT8OID && v->IsNumber()) {
    double f = v.As<v8::Number>()->Value();
    if (f != floor(f) || !(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return false;
    *out = Int64GetDatum((int64)f);
    return true;
  }
  return false;
}

static bool array_from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Array> a, TypeInfo *t, Datum *out) {
  uint32 n = a->Length();
  if (n > MaxArraySize) {
    throw_pg_error(pg_try([&] {
      ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                      errmsg("array size exceeds the maximum allowed (%d)", (int)MaxArraySize)));
    }));
    return false;
  }
  Datum *vals = (Datum *)js_palloc(sizeof(Datum) * (n ? n : 1));
  bool *nulls = vals ? (bool *)js_palloc(sizeof(bool) * (n ? n : 1)) : nullptr;
  if (!nulls) return false;
  for (uint32 i = 0; i < n; i++) {
    v8::Local<v8::Value> e;
    if (!a->Get(ctx, i).ToLocal(&e)) return false;
    if (!from_js(ctx, e, t->elem, &vals[i], &nulls[i])) return false;
  }
  int dims[1] = {(int)n}, lbs[1] = {1};
  TypeInfo *e = t->elem;
  ErrorData *err = pg_try([&] {
    *out = PointerGetDatum(construct_md_array(vals, nulls, n ? 1 : 0, dims, lbs, e->oid, e->len, e->byval, e->align));
  });
  if (err) { throw_pg_error(err); return false; }
  return true;
}

// A row (RETURNS TABLE, SETOF a row type, a composite result or argument) is an object whose
// enumerable properties are exactly the columns. PL/v8 refuses a row that lacks a column
// ("field name / property name mismatch") and, depending on their order, may or may not
// refuse extra properties; here any extra property is refused too.
static bool row_matches(v8::Local<v8::Context> ctx, v8::Local<v8::Object> o, const std::vector<v8::Local<v8::String>> &cols) {
  v8::Local<v8::Array> keys;
  if (!o->GetPropertyNames(ctx).ToLocal(&keys)) return false;
  uint32 n = keys->Length();
  const char *problem = nullptr;
  v8::Local<v8::Value> culprit;
  for (size_t k = 0; k < cols.size() && !problem; k++) {
    v8::Local<v8::Value> key;
    // usually the properties come in the columns' order
    if (k < n && keys->Get(ctx, (uint32)k).ToLocal(&key) && key->IsString() && key.As<v8::String>()->StringEquals(cols[k])) continue;
    bool found = false;
    for (uint32 i = 0; i < n && !found; i++) {
      v8::Local<v8::String> name;
      if (!keys->Get(ctx, i).ToLocal(&key) || !key->ToString(ctx).ToLocal(&name)) return false;
      found = name->StringEquals(cols[k]);
    }
    if (!found) { problem = "has no property for column"; culprit = cols[k]; }
  }
  if (!problem && n != cols.size()) {
    for (uint32 i = 0; i < n && !problem; i++) {
      v8::Local<v8::Value> key;
      v8::Local<v8::String> name;
      if (!keys->Get(ctx, i).ToLocal(&key) || !key->ToString(ctx).ToLocal(&name)) return false;
      bool column = false;
      for (const auto &c : cols) column = column || name->StringEquals(c);
      if (!column) { problem = "has a property that is no column:"; culprit = name; }
    }
  }
  if (!problem) return true;
  v8::String::Utf8Value what(isolate, culprit);
  throw_error("field name / property name mismatch: the row %s \"%s\"", problem, *what ? *what : "?");
  return false;
}

bool js_to_tuple_values(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TupleDesc desc, Datum *values,
                        bool *nulls, const RowShape *shape) {
  if (!v->IsObject()) {
    throw_type_error("a row must be an object, not %s", v->IsString() ? "a string" : "a primitive value");
    return false;
  }
  v8::Local<v8::Object> o = v.As<v8::Object>();
  for (int i = 0; i < desc->natts; i++) {
    nulls[i] = true;
    values[i] = 0;
  }
  RowShape local;
  if (!shape) {
    if (!local.init(desc)) return false;
    shape = &local;
  }
  if (!row_matches(ctx, o, shape->names)) return false;
  for (size_t k = 0; k < shape->cols.size(); k++) {
    int i = shape->cols[k];
    v8::Local<v8::Value> f;
    if (!o->Get(ctx, shape->names[k]).ToLocal(&f)) return false;
    if (!from_js(ctx, f, shape->types[k], &values[i], &nulls[i])) return false;
  }
  return true;
}

static bool composite_from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  TupleDesc desc = nullptr;
  ErrorData *err = pg_try([&] { desc = lookup_rowtype_tupdesc_copy(t->base, t->typmod); });
  if (err) { throw_pg_error(err); return false; }
  Datum *values = (Datum *)palloc(sizeof(Datum) * (desc->natts + 1));
  bool *nulls = (bool *)palloc(sizeof(bool) * (desc->natts + 1));
  if (!js_to_tuple_values(ctx, v, desc, values, nulls)) return false;
  err = pg_try([&] {
    desc = BlessTupleDesc(desc);
    *out = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
  if (err) { throw_pg_error(err); return false; }
  return true;
}

// ---- jsonb -------------------------------------------------------------------------------------
// PL/v8 3.2.2 builds jsonb from a JavaScript value directly, and differs from JSON.stringify:
// numbers that are not 32-bit integers pass through float8_numeric (15 significant digits),
// NaN and Infinity are stored as numeric NaN/Infinity (which jsonb cannot read back), an
// undefined array element is dropped, a Date is an ISO string only as an object property's
// value ({} elsewhere), functions become {}, a BigInt becomes a string, toJSON is ignored.
// Values on which the two differ are refused here, with where they are and what PL/v8
// would store; everything else goes through JSON.stringify and jsonb_in.
static const int kMaxJsonbDepth = 1000;

// Where a value sits, as a chain of parents; turned into "$.claims[3].at" only for an error.
struct JsonPath {
  const JsonPath *parent;
  uint32 index;                // for an array element
  v8::Local<v8::Value> key;    // for an object property (empty for an array element)
};

static std::string path_text(const JsonPath *p) {
  if (!p) return "$";
  std::string s = path_text(p->parent);
  if (p->key.IsEmpty()) return s + "[" + std::to_string(p->index) + "]";
  v8::String::Utf8Value name(isolate, p->key);
  return s + "." + (*name ? *name : "?");
}

static bool jsonb_refuse(const JsonPath *path, const char *what, const char *plv8_does) {
  char detail[512];
  snprintf(detail, sizeof detail, "at %s: the real PL/v8 %s", path_text(path).c_str(), plv8_does);
  return refuse(ERRCODE_INVALID_PARAMETER_VALUE, "jsonb", what, detail);
}

// True when PL/v8 would store this number as it is: a 32-bit integer exactly, anything else
// through float8_numeric, i.e. printed with 15 significant digits.
static bool jsonb_exact_number(double f) {
  if (f == floor(f) && fabs(f) < 1e15) return true;  // at most 15 digits already
  char digits[64];
  snprintf(digits, sizeof digits, "%.15g", f);
  return strtod(digits, nullptr) == f;
}

static bool jsonb_check(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, const JsonPath *path, bool property, int depth) {
  if (v->IsNull() || v->IsBoolean() || v->IsString() || v->IsInt32()) return true;
  if (v->IsUndefined()) {
    return property || jsonb_refuse(path, "undefined in an array", "drops the element, so the ones after it move");
  }
  if (v->IsNumber()) {
    double f = v.As<v8::Number>()->Value();
    if (!std::isfinite(f)) {
      return jsonb_refuse(path, std::isnan(f) ? "NaN" : "Infinity",
                          "stores it as a numeric NaN or Infinity, which jsonb cannot read back (a dump of it would not restore)");
    }
    if (jsonb_exact_number(f)) return true;
    char what[160], does[200], digits[64];
    v8::String::Utf8Value shortest(isolate, v);
    snprintf(what, sizeof what, "the number %s", *shortest ? *shortest : "?");
    snprintf(digits, sizeof digits, "%.15g", f);
    snprintf(does, sizeof does, "rounds numbers to 15 significant digits and would store %s; pass it as a string, or the value as JSON text", digits);
    return jsonb_refuse(path, what, does);
  }
  if (v->IsBigInt()) return jsonb_refuse(path, "a BigInt", "stores its digits as a string; convert it on purpose");
  if (v->IsSymbol()) return jsonb_refuse(path, "a Symbol", "cannot store it");
  if (v->IsFunction()) return jsonb_refuse(path, "a function", "stores it as {}");
  if (v->IsDate()) {
    return property || jsonb_refuse(path, "a Date outside an object property", "stores such a Date as {}; use toISOString()");
  }
  if (v->IsStringObject() || v->IsNumberObject() || v->IsBooleanObject() || v->IsBigIntObject() || v->IsSymbolObject()) {
    return jsonb_refuse(path, "a boxed primitive (new String, new Number, ...)", "stores its properties, not its value");
  }
  if (depth >= kMaxJsonbDepth) return jsonb_refuse(path, "a value nested this deep (or a cycle)", "would exhaust the stack");
  v8::Local<v8::Object> o = v.As<v8::Object>();
  if (v->IsArray()) {
    v8::Local<v8::Array> a = v.As<v8::Array>();
    for (uint32 i = 0, n = a->Length(); i < n; i++) {
      v8::Local<v8::Value> e;
      if (!a->Get(ctx, i).ToLocal(&e)) return false;
      JsonPath here{path, i, {}};
      if (!jsonb_check(ctx, e, &here, false, depth + 1)) return false;
    }
    return true;
  }
  static v8::Eternal<v8::String> to_json_key;  // one isolate per backend
  if (to_json_key.IsEmpty()) to_json_key.Set(isolate, v8::String::NewFromUtf8Literal(isolate, "toJSON", v8::NewStringType::kInternalized));
  v8::Local<v8::Value> to_json;
  if (!o->Get(ctx, to_json_key.Get(isolate)).ToLocal(&to_json)) return false;
  if (to_json->IsFunction()) return jsonb_refuse(path, "an object with toJSON", "ignores toJSON and stores the object's own properties");
  v8::Local<v8::Array> keys;
  if (!o->GetOwnPropertyNames(ctx).ToLocal(&keys)) return false;
  for (uint32 i = 0, n = keys->Length(); i < n; i++) {
    v8::Local<v8::Value> k, e;
    if (!keys->Get(ctx, i).ToLocal(&k) || !o->Get(ctx, k).ToLocal(&e)) return false;
    JsonPath here{path, 0, k};
    if (!jsonb_check(ctx, e, &here, true, depth + 1)) return false;
  }
  return true;
}

static bool jsonb_from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  if (!jsonb_check(ctx, v, nullptr, false, 0)) return false;
  v8::Local<v8::String> s;
  if (!v8::JSON::Stringify(ctx, v).ToLocal(&s)) return false;
  return from_input(ctx, s, t, out);
}

static bool from_js_base(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  switch (t->base) {
    case BOOLOID:
      if (v->IsBoolean()) { *out = BoolGetDatum(v->BooleanValue(isolate)); return true; }
      break;  // as PL/v8: String(value) through boolin ("false" is false, "abc" an error)
    case INT2OID: case INT4OID: case INT8OID:
      if (int_from_js(ctx, v, t, out)) return true;
      break;
    case FLOAT4OID: case FLOAT8OID:
      if (v->IsNumber()) {
        double f = v.As<v8::Number>()->Value();
        *out = t->base == FLOAT4OID ? Float4GetDatum((float4)f) : Float8GetDatum(f);
        return true;
      }
      break;  // BigInt and strings through the input function, exactly; a boolean is an error there
    case NUMERICOID:
      if (v->IsNumber()) {
        double f = v.As<v8::Number>()->Value();
        ErrorData *err = pg_try([&] { *out = DirectFunctionCall1(float8_numeric, Float8GetDatum(f)); });
        if (err) { throw_pg_error(err); return false; }
        return true;
      }
      break;  // BigInt and strings go through numeric_in, exactly
    case TEXTOID: {
      v8::Local<v8::String> s;
      if (!v->ToString(ctx).ToLocal(&s)) return false;
      int n = s->Utf8Length(isolate);
      ErrorData *err = pg_try([&] {
        text *txt = (text *)palloc(n + VARHDRSZ);
        SET_VARSIZE(txt, n + VARHDRSZ);
        s->WriteUtf8(isolate, VARDATA(txt), n, nullptr, v8::String::NO_NULL_TERMINATION);
        *out = PointerGetDatum(txt);
      });
      if (err) { throw_pg_error(err); return false; }
      return true;
    }
    case JSONOID:
      // As PL/v8: an object or array is JSON.stringify'd, anything else is JSON text.
      if (v->IsObject()) {
        v8::Local<v8::String> s;
        if (!v8::JSON::Stringify(ctx, v).ToLocal(&s)) return false;
        return from_input(ctx, s, t, out);
      }
      break;
    case JSONBOID:
      return jsonb_from_js(ctx, v, t, out);
    case TIMESTAMPOID: case TIMESTAMPTZOID: case DATEOID: {
      if (!v->IsDate()) break;  // as PL/v8: a string in PostgreSQL's syntax; a number is an error there
      double ms = v.As<v8::Date>()->ValueOf();
      if (std::isnan(ms)) {
        // PL/v8 stores an invalid Date as 2000-01-01 00:00.
        const char *type = t->base == DATEOID ? "date" : t->base == TIMESTAMPOID ? "timestamp" : "timestamptz";
        return refuse(ERRCODE_INVALID_DATETIME_FORMAT, type, "an invalid Date",
                      "the real PL/v8 would store 2000-01-01 00:00:00");
      }
      if (t->base == DATEOID) {
        *out = DateADTGetDatum((DateADT)floor((ms - kPgEpochMs) / 86400000.0));
      } else {
        *out = TimestampGetDatum((Timestamp)llround((ms - kPgEpochMs) * 1000.0));
      }
      return true;
    }
    case BYTEAOID: {
      // As PL/v8: the bytes of an 8-, 16- or 32-bit integer typed array or an ArrayBuffer;
      // a string in bytea syntax. Other objects (a DataView, a float array) PL/v8 would store
      // as the bytes of their text, "[object DataView]": refused.
      bool bytes = v->IsUint8Array() || v->IsInt8Array() || v->IsUint16Array() || v->IsInt16Array() ||
                   v->IsUint32Array() || v->IsInt32Array() || v->IsArrayBuffer();
      if (!bytes) {
        if (v->IsObject() && !v->IsStringObject())
          return refuse(ERRCODE_DATATYPE_MISMATCH, "bytea", "this object",
                        "use a Uint8Array (or another 8-, 16- or 32-bit integer typed array) or an ArrayBuffer; "
                        "the real PL/v8 would store the bytes of its text, e.g. \"[object DataView]\"");
        break;
      }
      size_t n;
      if (v->IsArrayBufferView()) n = v.As<v8::ArrayBufferView>()->ByteLength();
      else n = v.As<v8::ArrayBuffer>()->ByteLength();
      bytea *b = nullptr;
      ErrorData *err = pg_try([&] { b = (bytea *)palloc(n + VARHDRSZ); SET_VARSIZE(b, n + VARHDRSZ); });
      if (err) { throw_pg_error(err); return false; }
      if (v->IsArrayBufferView()) v.As<v8::ArrayBufferView>()->CopyContents(VARDATA(b), n);
      else if (n) memcpy(VARDATA(b), v.As<v8::ArrayBuffer>()->GetBackingStore()->Data(), n);
      *out = PointerGetDatum(b);
      return true;
    }
    default:
      break;
  }
  if (t->is_array) {
    // As PL/v8: an array type takes a JavaScript Array only (not a string in array syntax).
    if (v->IsArray()) return array_from_js(ctx, v.As<v8::Array>(), t, out);
    throw_error("value is not an Array");
    return false;
  }
  if (t->is_composite && v->IsObject() && !v->IsString() && !v->IsStringObject()) return composite_from_js(ctx, v, t, out);
  return from_input(ctx, v, t, out);
}

bool from_js(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out, bool *isnull) {
  if (v.IsEmpty() || v->IsNull() || v->IsUndefined()) {
    *isnull = true;
    *out = 0;
    // a NULL must still satisfy a domain's NOT NULL / CHECK
    if (t->typtype == TYPTYPE_DOMAIN) {
      ErrorData *err = pg_try([&] { domain_check((Datum)0, true, t->oid, NULL, NULL); });
      if (err) { throw_pg_error(err); return false; }
    }
    return true;
  }
  *isnull = false;
  if (!from_js_base(ctx, v, t, out)) return false;
  if (t->typtype == TYPTYPE_DOMAIN) {
    ErrorData *err = pg_try([&] { domain_check(*out, false, t->oid, NULL, NULL); });
    if (err) { throw_pg_error(err); return false; }
  }
  return true;
}

}  // namespace cw
