/* dtypes: sizes, names, classification and conversion of scalar values.
 * Per-dtype loops are generated from DA_FOR_EACH_DTYPE, never written out by hand. */
#include "core/internal.h"

#include <math.h>

size_t da_dtype_size(da_dtype dt) {
  switch (dt) {
#define DA_SIZE_CASE_(e, t, s)                                                                     \
  case e:                                                                                          \
    return sizeof(t);
    DA_FOR_EACH_DTYPE(DA_SIZE_CASE_)
#undef DA_SIZE_CASE_
  default:
    return 0;
  }
}

const char *da_dtype_name(da_dtype dt) {
  static const char *names[DA_NDTYPES] = {"bool",   "int8",    "int16",  "int32",
                                          "int64",  "uint8",   "uint16", "uint32",
                                          "uint64", "float32", "float64"};
  return da_dtype_valid(dt) ? names[dt] : "unknown";
}

bool da_dtype_valid(da_dtype dt) {
  return (int)dt >= 0 && dt < DA_NDTYPES;
}
bool da_dtype_is_float(da_dtype dt) {
  return dt == DA_FLOAT32 || dt == DA_FLOAT64;
}
bool da_dtype_is_signed(da_dtype dt) {
  return dt >= DA_INT8 && dt <= DA_INT64;
}
bool da_dtype_is_unsigned(da_dtype dt) {
  return dt >= DA_UINT8 && dt <= DA_UINT64;
}

/* double -> integer without undefined behaviour: NaN gives 0, out of range saturates. */
#define DA_SAT_CAST_(t, lo, hi, v)                                                                 \
  ((v) != (v) ? (t)0 : (v) <= (lo) ? (t)(lo) : (v) >= (hi) ? (t)(hi) : (t)(v))

static inline _Bool da_to_bool_(double v) {
  return v != 0;
}
#define DA_CONV_bool(v) da_to_bool_(v)
#define DA_CONV_i8(v) DA_SAT_CAST_(int8_t, INT8_MIN, INT8_MAX, v)
#define DA_CONV_i16(v) DA_SAT_CAST_(int16_t, INT16_MIN, INT16_MAX, v)
#define DA_CONV_i32(v) DA_SAT_CAST_(int32_t, INT32_MIN, INT32_MAX, v)
#define DA_CONV_i64(v)                                                                             \
  ((v) != (v)                     ? 0                                                              \
   : (v) < -9223372036854775808.0 ? INT64_MIN                                                      \
   : (v) >= 9223372036854775808.0 ? INT64_MAX                                                      \
                                  : (int64_t)(v))
#define DA_CONV_u8(v) DA_SAT_CAST_(uint8_t, 0, UINT8_MAX, v)
#define DA_CONV_u16(v) DA_SAT_CAST_(uint16_t, 0, UINT16_MAX, v)
#define DA_CONV_u32(v) DA_SAT_CAST_(uint32_t, 0, UINT32_MAX, v)
#define DA_CONV_u64(v)                                                                             \
  ((v) != (v) || (v) <= 0 ? 0 : (v) >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)(v))
#define DA_CONV_f32(v) ((float)(v))
#define DA_CONV_f64(v) (v)

void da_fill_value(da_dtype dt, double value, void *out, int64_t count) {
  switch (dt) {
#define DA_FILL_CASE_(e, t, s)                                                                     \
  case e: {                                                                                        \
    t v = DA_CONV_##s(value), *o = out;                                                            \
    for (int64_t i = 0; i < count; i++)                                                            \
      o[i] = v;                                                                                    \
    break;                                                                                         \
  }
    DA_FOR_EACH_DTYPE(DA_FILL_CASE_)
#undef DA_FILL_CASE_
  default:
    break;
  }
}

void da_convert_from_f64(da_dtype dt, const double *in, void *out, int64_t count) {
  switch (dt) {
#define DA_CONVERT_CASE_(e, t, s)                                                                  \
  case e: {                                                                                        \
    t *o = out;                                                                                    \
    for (int64_t i = 0; i < count; i++)                                                            \
      o[i] = DA_CONV_##s(in[i]);                                                                   \
    break;                                                                                         \
  }
    DA_FOR_EACH_DTYPE(DA_CONVERT_CASE_)
#undef DA_CONVERT_CASE_
  default:
    break;
  }
}
