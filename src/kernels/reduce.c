/* Reduction loops for every dtype: sums (floats in double, integers in wrapping 64-bit),
 * and NaN-propagating minimum and maximum. Sums use eight accumulators so they vectorize;
 * the order is fixed by the block alone, so results never depend on the rank count. */
#include "kernels/kernels.h"

#include <float.h>
#include <math.h>

#define SUMACC_bool uint64_t
#define SUMACC_i8 uint64_t
#define SUMACC_i16 uint64_t
#define SUMACC_i32 uint64_t
#define SUMACC_i64 uint64_t
#define SUMACC_u8 uint64_t
#define SUMACC_u16 uint64_t
#define SUMACC_u32 uint64_t
#define SUMACC_u64 uint64_t
#define SUMACC_f32 double
#define SUMACC_f64 double
#define SUMDT_bool DA_UINT64
#define SUMDT_i8 DA_UINT64
#define SUMDT_i16 DA_UINT64
#define SUMDT_i32 DA_UINT64
#define SUMDT_i64 DA_UINT64
#define SUMDT_u8 DA_UINT64
#define SUMDT_u16 DA_UINT64
#define SUMDT_u32 DA_UINT64
#define SUMDT_u64 DA_UINT64
#define SUMDT_f32 DA_FLOAT64
#define SUMDT_f64 DA_FLOAT64

/* Signed integers reach the unsigned accumulator through int64_t: modular, as NumPy wraps. */
#define TOACC_bool(v) ((uint64_t)(v))
#define TOACC_i8(v) ((uint64_t)(int64_t)(v))
#define TOACC_i16(v) ((uint64_t)(int64_t)(v))
#define TOACC_i32(v) ((uint64_t)(int64_t)(v))
#define TOACC_i64(v) ((uint64_t)(v))
#define TOACC_u8(v) ((uint64_t)(v))
#define TOACC_u16(v) ((uint64_t)(v))
#define TOACC_u32(v) ((uint64_t)(v))
#define TOACC_u64(v) ((uint64_t)(v))
#define TOACC_f32(v) ((double)(v))
#define TOACC_f64(v) ((double)(v))

#define MAXV_bool 1
#define MINV_bool 0
#define MAXV_i8 INT8_MAX
#define MINV_i8 INT8_MIN
#define MAXV_i16 INT16_MAX
#define MINV_i16 INT16_MIN
#define MAXV_i32 INT32_MAX
#define MINV_i32 INT32_MIN
#define MAXV_i64 INT64_MAX
#define MINV_i64 INT64_MIN
#define MAXV_u8 UINT8_MAX
#define MINV_u8 0
#define MAXV_u16 UINT16_MAX
#define MINV_u16 0
#define MAXV_u32 UINT32_MAX
#define MINV_u32 0
#define MAXV_u64 UINT64_MAX
#define MINV_u64 0
#define MAXV_f32 INFINITY
#define MINV_f32 (-INFINITY)
#define MAXV_f64 INFINITY
#define MINV_f64 (-INFINITY)

/* v != v is true only for NaN, which then wins, as in NumPy. */
#define PICK_MIN_(m, v) (((v) < (m) || (v) != (v)) ? (v) : (m))
#define PICK_MAX_(m, v) (((v) > (m) || (v) != (v)) ? (v) : (m))

#define DA_RED_LOOPS_(E, T, S)                                                                     \
  static void sum_reduce_##S(const void *xv, int64_t n, void *accv) {                              \
    typedef SUMACC_##S A;                                                                          \
    const T *x = xv;                                                                               \
    A s[8] = {0};                                                                                  \
    int64_t i = 0;                                                                                 \
    for (; i + 8 <= n; i += 8)                                                                     \
      for (int j = 0; j < 8; j++)                                                                  \
        s[j] += TOACC_##S(x[i + j]);                                                               \
    A t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));                       \
    for (; i < n; i++)                                                                             \
      t += TOACC_##S(x[i]);                                                                        \
    *(A *)accv += t;                                                                               \
  }                                                                                                \
  static void sum_accum_##S(const void *xv, int64_t n, void *accv) {                               \
    typedef SUMACC_##S A;                                                                          \
    const T *x = xv;                                                                               \
    A *acc = accv;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] += TOACC_##S(x[j]);                                                                   \
  }                                                                                                \
  static void sum_init_##S(void *accv, int64_t n) {                                                \
    SUMACC_##S *acc = accv;                                                                        \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] = 0;                                                                                  \
  }                                                                                                \
  static void sumf_reduce_##S(const void *xv, int64_t n, void *accv) {                             \
    const T *x = xv;                                                                               \
    double s[8] = {0};                                                                             \
    int64_t i = 0;                                                                                 \
    for (; i + 8 <= n; i += 8)                                                                     \
      for (int j = 0; j < 8; j++)                                                                  \
        s[j] += (double)x[i + j];                                                                  \
    double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));                  \
    for (; i < n; i++)                                                                             \
      t += (double)x[i];                                                                           \
    *(double *)accv += t;                                                                          \
  }                                                                                                \
  static void sumf_accum_##S(const void *xv, int64_t n, void *accv) {                              \
    const T *x = xv;                                                                               \
    double *acc = accv;                                                                            \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] += (double)x[j];                                                                      \
  }                                                                                                \
  static void min_reduce_##S(const void *xv, int64_t n, void *accv) {                              \
    const T *x = xv;                                                                               \
    T m = *(T *)accv;                                                                              \
    for (int64_t i = 0; i < n; i++)                                                                \
      m = PICK_MIN_(m, x[i]);                                                                      \
    *(T *)accv = m;                                                                                \
  }                                                                                                \
  static void min_accum_##S(const void *xv, int64_t n, void *accv) {                               \
    const T *x = xv;                                                                               \
    T *acc = accv;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] = PICK_MIN_(acc[j], x[j]);                                                            \
  }                                                                                                \
  static void min_init_##S(void *accv, int64_t n) {                                                \
    T *acc = accv;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] = MAXV_##S;                                                                           \
  }                                                                                                \
  static void max_reduce_##S(const void *xv, int64_t n, void *accv) {                              \
    const T *x = xv;                                                                               \
    T m = *(T *)accv;                                                                              \
    for (int64_t i = 0; i < n; i++)                                                                \
      m = PICK_MAX_(m, x[i]);                                                                      \
    *(T *)accv = m;                                                                                \
  }                                                                                                \
  static void max_accum_##S(const void *xv, int64_t n, void *accv) {                               \
    const T *x = xv;                                                                               \
    T *acc = accv;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] = PICK_MAX_(acc[j], x[j]);                                                            \
  }                                                                                                \
  static void max_init_##S(void *accv, int64_t n) {                                                \
    T *acc = accv;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                                \
      acc[j] = MINV_##S;                                                                           \
  }

DA_FOR_EACH_DTYPE(DA_RED_LOOPS_)

/* Combining two sum accumulators is accumulating one as data of the accumulator's type. */
#define sum_combine_u64 sum_accum_u64
#define sum_combine_f64 sum_accum_f64

#define DA_RED_TABLE_(E, T, S)                                                                     \
  [E] = {                                                                                          \
      {sum_reduce_##S, sum_accum_##S, (SUMDT_##S == DA_FLOAT64 ? sum_accum_f64 : sum_accum_u64),   \
       sum_init_##S, SUMDT_##S},                                                                   \
      {sumf_reduce_##S, sumf_accum_##S, sum_accum_f64, sum_init_f64, DA_FLOAT64},                  \
      {min_reduce_##S, min_accum_##S, min_accum_##S, min_init_##S, E},                             \
      {max_reduce_##S, max_accum_##S, max_accum_##S, max_init_##S, E},                             \
  },

static const da_red_kernel red_kernels[DA_NDTYPES][DA_RED_NKINDS] = {
    DA_FOR_EACH_DTYPE(DA_RED_TABLE_)};

const da_red_kernel *da_red_kernel_get(da_red_kind kind, da_dtype dt) {
  if (!da_dtype_valid(dt) || kind < 0 || kind >= DA_RED_NKINDS)
    return NULL;
  return &red_kernels[dt][kind];
}
