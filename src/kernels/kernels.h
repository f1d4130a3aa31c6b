/* Per-dtype numeric loops: reductions and random generators. No MPI in here.
 * Each loop is written once as a macro and instantiated for every dtype. */
#ifndef DARRAY_KERNELS_H
#define DARRAY_KERNELS_H

#include "core/internal.h"

/* Hot loops get an AVX2 clone picked at load time, and stay portable. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define DA_KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DA_KERNEL_CLONES
#endif

/* SUMF sums in double whatever the dtype, as NumPy's mean does. */
typedef enum { DA_RED_SUM, DA_RED_SUMF, DA_RED_MIN, DA_RED_MAX, DA_RED_NKINDS } da_red_kind;

/* Accumulates into acc: reduce adds the reduction of x[0..n) into acc[0]; accum combines
 * x[j] into acc[j]; combine does the same for two accumulators. */
typedef void (*da_row_fn)(const void *x, int64_t n, void *acc);

typedef struct {
  da_row_fn reduce, accum, combine;
  void (*init)(void *acc, int64_t n);
  da_dtype accdt; /* the accumulator's dtype (sums of integers: uint64, bit-equal to int64) */
} da_red_kernel;

const da_red_kernel *da_red_kernel_get(da_red_kind kind, da_dtype dt);

/* ---------------------------------------------------------------- random numbers */

/* The 64 random bits of element g under key: wyrand (a Weyl sequence through a 128-bit
 * multiply-fold) indexed by g, so any element can be generated alone, on any rank, in any
 * chunking, for the cost of two multiplies. */
static inline uint64_t da_rng_bits(uint64_t key, uint64_t g) {
  uint64_t s = key + (g + 1) * 0xa0761d6478bd642fULL;
  unsigned __int128 t = (unsigned __int128)s * (s ^ 0xe7037ed1a0b428dbULL);
  return (uint64_t)(t >> 64) ^ (uint64_t)t;
}
uint64_t da_rng_key(uint64_t seed, uint64_t stream);

#define DA_ZIG_N 256
typedef struct {
  double x[DA_ZIG_N + 1], f[DA_ZIG_N + 1];
  double w[2 * DA_ZIG_N]; /* +-x[i] / 2^53 by (sign bit, layer): width per unit of 53 bits */
  uint64_t k[DA_ZIG_N];   /* 53-bit values below this are inside the curve in layer i */
} da_ziggurat;
void da_ziggurat_init(da_ziggurat *z);

void da_rng_uniform(uint64_t key, uint64_t g, int64_t n, double low, double high, da_dtype dt,
                    void *out);
void da_rng_normal(const da_ziggurat *z, uint64_t key, uint64_t key2, uint64_t g, int64_t n,
                   double loc, double scale, da_dtype dt, void *out);
void da_rng_randint(uint64_t key, uint64_t key2, uint64_t g, int64_t n, int64_t low, uint64_t range,
                    da_dtype dt, void *out);

#endif
