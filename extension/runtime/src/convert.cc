// Type conversion between Datums and JavaScript values, following PL/v8 3.x:
//   bool -> boolean; int2/int4/float4/float8/numeric/oid -> number; int8 -> BigInt;
//   text-like -> string; json/jsonb -> parsed value; timestamptz/timestamp/date -> Date;
//   bytea -> Uint8Array; arrays -> (nested) Array; composite/record -> object; NULL -> null;
//   anything else -> its text output.
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

static bool range_error(const char *type) {
  ErrorData *err = pg_try([&] {
    ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE), errmsg("value out of range for type %s", type)));
  });
  throw_pg_error(err);
  return false;
}

static bool to_double(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, double *out) {
  if (v->IsBigInt()) { *out = (double)v.As<v8::BigInt>()->Int64Value(); return true; }
  return v->NumberValue(ctx).To(out);
}

static bool from_number_int(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  if (v->IsInt32() && t->base == INT4OID) { *out = Int32GetDatum(v.As<v8::Int32>()->Value()); return true; }
  if (t->base == INT8OID && v->IsBigInt()) {
    bool lossless;
    int64 i = v.As<v8::BigInt>()->Int64Value(&lossless);
    if (!lossless) return range_error("bigint");
    *out = Int64GetDatum(i);
    return true;
  }
  double f;
  if (!to_double(ctx, v, &f)) return false;
  f = rint(f);
  switch (t->base) {
    case INT2OID:
      if (!(f >= PG_INT16_MIN && f <= PG_INT16_MAX)) return range_error("smallint");
      *out = Int16GetDatum((int16)f);
      return true;
    case INT4OID:
      if (!(f >= PG_INT32_MIN && f <= PG_INT32_MAX)) return range_error("integer");
      *out = Int32GetDatum((int32)f);
      return true;
    default:
      if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return range_error("bigint");
      *out = Int64GetDatum((int64)f);
      return true;
  }
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
  if (shape) {  // names and types looked up once for the whole result
    for (size_t k = 0; k < shape->cols.size(); k++) {
      int i = shape->cols[k];
      v8::Local<v8::Value> f;
      if (!o->Get(ctx, shape->names[k]).ToLocal(&f)) return false;
      if (!from_js(ctx, f, shape->types[k], &values[i], &nulls[i])) return false;
    }
    return true;
  }
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped) continue;
    v8::Local<v8::Value> f;
    if (!o->Get(ctx, js_str(NameStr(att->attname))).ToLocal(&f)) return false;
    TypeInfo *t = type_info(att->atttypid, att->atttypmod);
    if (!t || !from_js(ctx, f, t, &values[i], &nulls[i])) return false;
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

static bool from_js_base(v8::Local<v8::Context> ctx, v8::Local<v8::Value> v, TypeInfo *t, Datum *out) {
  switch (t->base) {
    case BOOLOID:
      *out = BoolGetDatum(v->BooleanValue(isolate));
      return true;
    case INT2OID: case INT4OID: case INT8OID:
      if (v->IsNumber() || v->IsBigInt() || v->IsBoolean() || v->IsDate()) return from_number_int(ctx, v, t, out);
      break;
    case FLOAT4OID: case FLOAT8OID: {
      if (!(v->IsNumber() || v->IsBigInt() || v->IsBoolean())) break;
      double f;
      if (!to_double(ctx, v, &f)) return false;
      *out = t->base == FLOAT4OID ? Float4GetDatum((float4)f) : Float8GetDatum(f);
      return true;
    }
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
    case JSONOID: case JSONBOID: {
      v8::Local<v8::String> s;
      if (!v8::JSON::Stringify(ctx, v).ToLocal(&s)) return false;
      return from_input(ctx, s, t, out);
    }
    case TIMESTAMPOID: case TIMESTAMPTZOID: case DATEOID: {
      if (!(v->IsDate() || v->IsNumber())) break;
      double ms = v->IsDate() ? v.As<v8::Date>()->ValueOf() : v.As<v8::Number>()->Value();
      if (std::isnan(ms)) {
        throw_pg_error(pg_try([] { ereport(ERROR, (errcode(ERRCODE_INVALID_DATETIME_FORMAT), errmsg("invalid Date"))); }));
        return false;
      }
      if (t->base == DATEOID) {
        *out = DateADTGetDatum(std::isinf(ms) ? (ms < 0 ? DATEVAL_NOBEGIN : DATEVAL_NOEND)
                                              : (DateADT)floor((ms - kPgEpochMs) / 86400000.0));
      } else {
        Timestamp ts = std::isinf(ms) ? (ms < 0 ? DT_NOBEGIN : DT_NOEND) : (Timestamp)llround((ms - kPgEpochMs) * 1000.0);
        *out = TimestampGetDatum(ts);
      }
      return true;
    }
    case BYTEAOID: {
      if (!(v->IsArrayBufferView() || v->IsArrayBuffer())) break;
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
  if (t->is_array && v->IsArray()) return array_from_js(ctx, v.As<v8::Array>(), t, out);
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
