/* Per-dtype numeric loops: reductions and random generators. No MPI in here.
 * Each loop is written once as a macro and instantiated for every dtype. */
#ifndef DARRAY_KERNELS_H
#define DARRAY_KERNELS_H

#include "core/internal.h"

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

/* The 64 random bits of element g under key: SplitMix64 indexed by g, so any element can
 * be generated alone, on any rank, in any chunking. */
static inline uint64_t da_rng_bits(uint64_t key, uint64_t g) {
  uint64_t z = key + (g + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t da_rng_key(uint64_t seed, uint64_t stream);

#define DA_ZIG_N 256
typedef struct {
  double x[DA_ZIG_N + 1], f[DA_ZIG_N + 1];
} da_ziggurat;
void da_ziggurat_init(da_ziggurat *z);

void da_rng_uniform(uint64_t key, uint64_t g, int64_t n, double low, double high, da_dtype dt,
                    void *out);
void da_rng_normal(const da_ziggurat *z, uint64_t key, uint64_t key2, uint64_t g, int64_t n,
                   double loc, double scale, da_dtype dt, void *out);
void da_rng_randint(uint64_t key, uint64_t key2, uint64_t g, int64_t n, int64_t low, uint64_t range,
                    da_dtype dt, void *out);

#endif
