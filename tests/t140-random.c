/* Random arrays: the same seed gives the same bits for any chunking and any number of ranks,
 * another seed gives other values, and uniform, normal and randint have the right statistics. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx, self; /* all ranks, and this rank alone */

typedef enum { UNIFORM, NORMAL, RANDINT } kind;

typedef struct {
  kind k;
  da_dtype dt;
  double a, b; /* low/high or loc/scale */
  int64_t lo, hi;
} dist;

static const dist dists[] = {{UNIFORM, DA_FLOAT64, -2, 5, 0, 0},
                             {UNIFORM, DA_FLOAT32, 0, 1, 0, 0},
                             {NORMAL, DA_FLOAT64, 3, 2, 0, 0},
                             {NORMAL, DA_FLOAT32, -1, 0.5, 0, 0},
                             {RANDINT, DA_INT8, 0, 0, -100, 27},
                             {RANDINT, DA_UINT8, 0, 0, 0, 256},
                             {RANDINT, DA_INT16, 0, 0, -3, 4},
                             {RANDINT, DA_UINT16, 0, 0, 1000, 1010},
                             {RANDINT, DA_INT32, 0, 0, -5, 5},
                             {RANDINT, DA_UINT32, 0, 0, 0, 3},
                             {RANDINT, DA_INT64, 0, 0, -7, 7},
                             {RANDINT, DA_UINT64, 0, 0, 0, 2},
                             {RANDINT, DA_INT64, 0, 0, INT64_MIN, INT64_MAX},
                             {RANDINT, DA_UINT64, 0, 0, 5, INT64_MAX}};
#define NDISTS ((int)(sizeof dists / sizeof dists[0]))

static void make(da_ctx c, const dist *d, uint64_t seed, int ndim, const int64_t shape[],
                 const da_chunks *ck, da_array *out) {
  if (d->k == UNIFORM)
    TU_OK(c, da_random_uniform(c, seed, d->a, d->b, ndim, shape, ck, d->dt, out));
  else if (d->k == NORMAL)
    TU_OK(c, da_random_normal(c, seed, d->a, d->b, ndim, shape, ck, d->dt, out));
  else
    TU_OK(c, da_random_randint(c, seed, d->lo, d->hi, ndim, shape, ck, d->dt, out));
}

static const char *kind_name(kind k) {
  return k == UNIFORM ? "uniform" : k == NORMAL ? "normal" : "randint";
}

/* The same seed and shape: other chunkings, and one rank instead of all, give the same bits;
 * another seed gives other values. */
static void test_reproducible(void) {
  for (int i = 0; i < 3 * NDISTS; i++) {
    const dist *d = &dists[i % NDISTS];
    uint64_t seed = tu_next(&rng);
    int ndim = (int)tu_int(&rng, 1, 5);
    int64_t shape[DA_MAX_NDIM];
    do /* enough values that another seed surely changes some */
      tu_random_shape(&rng, ndim, 4000, false, shape);
    while (tu_prod(ndim, shape) < 100);
    int64_t n = tu_prod(ndim, shape);
    tu_chunking c1, c2, c3;
    tu_random_chunks(&rng, ndim, shape, 200, &c1);
    tu_random_chunks(&rng, ndim, shape, 200, &c2);
    tu_random_chunks(&rng, ndim, shape, 200, &c3);
    da_array a1, a2, a3, a4;
    make(ctx, d, seed, ndim, shape, &c1.c, &a1);
    make(ctx, d, seed, ndim, shape, &c2.c, &a2);
    make(self, d, seed, ndim, shape, &c3.c, &a3);
    uint64_t other = i % 3 == 0 ? seed + 1 : i % 3 == 1 ? seed ^ ((uint64_t)1 << 40) : ~seed;
    make(ctx, d, other, ndim, shape, &c1.c, &a4);
    void *v1 = tu_gather_all(a1), *v2 = tu_gather_all(a2), *v3 = tu_gather_all(a3),
         *v4 = tu_gather_all(a4);
    char what[128];
    snprintf(what, sizeof what, "%s seed %llu, two chunkings", kind_name(d->k),
             (unsigned long long)seed);
    COMPARE(what, d->dt, v2, v1, ndim, shape, -1);
    snprintf(what, sizeof what, "%s seed %llu, one rank against %d", kind_name(d->k),
             (unsigned long long)seed, tu_st()->size);
    COMPARE(what, d->dt, v3, v1, ndim, shape, -1);
    size_t es = da_dtype_size(d->dt);
    int64_t differ = 0;
    for (int64_t j = 0; j < n; j++)
      differ += memcmp((char *)v1 + j * (int64_t)es, (char *)v4 + j * (int64_t)es, es) != 0;
    /* Floats: nearly all differ. Integers: at least one in two for two values. */
    double need = d->k == RANDINT ? 0.3 : 0.99;
    CHECKF((double)differ >= need * (double)n, "%s seeds %llu and %llu: %lld of %lld differ",
           kind_name(d->k), (unsigned long long)seed, (unsigned long long)other, (long long)differ,
           (long long)n);
    free(v1), free(v2), free(v3), free(v4);
    da_array_destroy(&a1), da_array_destroy(&a2), da_array_destroy(&a4);
    da_array_destroy(&a3);
    tu_sync();
  }
}

/* |x - want| <= nsigma * sigma, with a message. */
#define NEAR(name, x, want, sigma, nsigma)                                                         \
  CHECKF(fabs((double)(x) - (double)(want)) <= (nsigma) * (sigma),                                 \
         "%s: %s = %.10g, want %.10g +- %d x %.3g", what, name, (double)(x), (double)(want),       \
         (int)(nsigma), (double)(sigma))

#define BIG_ROWS 1000
#define BIG_COLS 1000

/* ~1e6 values of d, gathered to rank 0 (NULL elsewhere), with the array left in *out. */
static void *big(const dist *d, uint64_t seed, da_array *out) {
  int64_t shape[2] = {BIG_ROWS, BIG_COLS};
  make(ctx, d, seed, 2, shape, DA_CHUNKS(300, 260), out);
  size_t bytes = (size_t)da_array_nbytes(*out);
  void *buf = tu_st()->rank == 0 ? tu_malloc(bytes) : NULL;
  TU_OK(ctx, da_compute(*out, 0, buf, bytes));
  return buf;
}

/* The library's mean of a against the test's. */
static void check_da_mean(da_array a, double want, const char *what) {
  da_array m;
  TU_OK(ctx, da_mean(a, 0, NULL, 0, &m));
  double got;
  if (da_array_dtype(m) == DA_FLOAT32) {
    float g;
    TU_OK(ctx, da_compute(m, DA_ALL_RANKS, &g, sizeof g));
    got = g;
  } else {
    TU_OK(ctx, da_compute(m, DA_ALL_RANKS, &got, sizeof got));
  }
  if (tu_st()->rank == 0)
    CHECKF(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9, "%s: da_mean %.17g, loop %.17g", what, got,
           want);
  da_array_destroy(&m);
}

static void test_uniform_stats(void) {
  for (int i = 0; i < 2; i++) {
    const dist *d = &dists[i];
    da_array a;
    void *v = big(d, 7 + (uint64_t)i, &a);
    double mean = 0;
    if (v) {
      const int64_t n = BIG_ROWS * BIG_COLS;
      const char *what = d->dt == DA_FLOAT32 ? "uniform float32" : "uniform float64";
      long double s = 0, s2 = 0;
      int64_t outside = 0;
      for (int64_t j = 0; j < n; j++) {
        double x = tu_get(d->dt, v, j);
        outside += !(x >= d->a && x < d->b);
        s += x;
      }
      mean = (double)(s / n);
      for (int64_t j = 0; j < n; j++) {
        double x = tu_get(d->dt, v, j) - mean;
        s2 += (long double)x * x;
      }
      double var = (double)(s2 / (n - 1)), w = d->b - d->a;
      CHECKF(outside == 0, "%s: %lld values outside [%g, %g)", what, (long long)outside, d->a,
             d->b);
      NEAR("mean", mean, (d->a + d->b) / 2, w / sqrt(12.0 * n), 4);
      NEAR("variance", var, w * w / 12, w * w * sqrt((1.0 / 80 - 1.0 / 144) / n), 4);
    }
    check_da_mean(a, mean, "uniform");
    free(v);
    da_array_destroy(&a);
    tu_sync();
  }
  /* A narrow interval and float32 rounding next to high: still half-open. */
  da_array a;
  int64_t n = 100000;
  TU_OK(ctx, da_random_uniform(ctx, 3, 1, 1 + 1e-12, 1, &n, DA_CHUNKS(30000), DA_FLOAT64, &a));
  double *v = tu_gather_all(a);
  int64_t bad = 0;
  for (int64_t j = 0; j < n; j++)
    bad += !(v[j] >= 1 && v[j] < 1 + 1e-12);
  CHECKF(bad == 0, "uniform(1, 1 + 1e-12): %lld values outside", (long long)bad);
  free(v);
  da_array_destroy(&a);
  TU_OK(ctx, da_random_uniform(ctx, 4, 0, 1, 1, &n, DA_CHUNKS(30000), DA_FLOAT32, &a));
  float *f = tu_gather_all(a);
  bad = 0;
  for (int64_t j = 0; j < n; j++)
    bad += !(f[j] >= 0 && f[j] < 1);
  CHECKF(bad == 0, "uniform float32 [0, 1): %lld values outside", (long long)bad);
  free(f);
  da_array_destroy(&a);
}

static void test_normal_stats(void) {
  for (int i = 2; i < 4; i++) {
    const dist *d = &dists[i];
    da_array a;
    void *v = big(d, 11 + (uint64_t)i, &a);
    double mean = 0;
    if (v) {
      const int64_t n = BIG_ROWS * BIG_COLS;
      const char *what = d->dt == DA_FLOAT32 ? "normal float32" : "normal float64";
      long double s = 0, m2 = 0, m4 = 0;
      for (int64_t j = 0; j < n; j++)
        s += tu_get(d->dt, v, j);
      mean = (double)(s / n);
      int64_t beyond[5] = {0}, above = 0;
      for (int64_t j = 0; j < n; j++) {
        double z = (tu_get(d->dt, v, j) - d->a) / d->b, x = tu_get(d->dt, v, j) - mean;
        m2 += (long double)x * x, m4 += (long double)x * x * x * x;
        above += z > 0;
        for (int k = 1; k <= 4; k++)
          beyond[k] += fabs(z) > k;
      }
      double var = (double)(m2 / n), sd = sqrt((double)(m2 / (n - 1)));
      double kurt = (double)(m4 / n) / (var * var);
      NEAR("mean", mean, d->a, d->b / sqrt((double)n), 4);
      NEAR("std", sd, d->b, d->b / sqrt(2.0 * n), 4);
      NEAR("kurtosis", kurt, 3, sqrt(24.0 / n), 5);
      NEAR("fraction above loc", (double)above / n, 0.5, 0.5 / sqrt((double)n), 4);
      static const double tail[5] = {0, 0.31731050786291410, 0.04550026389635842,
                                     0.0026997960632601866, 6.334248366623996e-05};
      for (int k = 1; k <= 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "fraction beyond %d sigma", k);
        NEAR(name, (double)beyond[k] / n, tail[k], sqrt(tail[k] * (1 - tail[k]) / n), 5);
      }
    }
    check_da_mean(a, mean, "normal");
    free(v);
    da_array_destroy(&a);
    tu_sync();
  }
  /* scale 0: every value is loc. */
  da_array a;
  int64_t shape[2] = {30, 40};
  TU_OK(ctx, da_random_normal(ctx, 5, 2.5, 0, 2, shape, DA_CHUNKS(7, 9), DA_FLOAT64, &a));
  double *v = tu_gather_all(a), want[1200];
  for (int j = 0; j < 1200; j++)
    want[j] = 2.5;
  COMPARE("normal with scale 0", DA_FLOAT64, v, want, 2, shape, 0);
  free(v);
  da_array_destroy(&a);
}

/* Element j of an integer array, exactly, as a long double. */
static long double int_at(da_dtype dt, const void *v, int64_t j) {
  if (dt == DA_INT64)
    return (long double)((const int64_t *)v)[j];
  if (dt == DA_UINT64)
    return (long double)((const uint64_t *)v)[j];
  return (long double)tu_get(dt, v, j);
}

static void test_randint_stats(void) {
  for (int i = 4; i < NDISTS; i++) {
    const dist *d = &dists[i];
    da_array a;
    void *v = big(d, 100 + (uint64_t)i, &a);
    if (v) {
      const int64_t n = BIG_ROWS * BIG_COLS;
      char what[96];
      snprintf(what, sizeof what, "randint [%lld, %lld) %s", (long long)d->lo, (long long)d->hi,
               da_dtype_name(d->dt));
      long double range = (long double)d->hi - (long double)d->lo, s = 0;
      int64_t outside = 0, *count = NULL;
      bool small = range <= 256;
      if (small)
        count = calloc((size_t)range, sizeof *count);
      for (int64_t j = 0; j < n; j++) {
        long double x = int_at(d->dt, v, j);
        s += x;
        if (x < (long double)d->lo || x >= (long double)d->hi)
          outside++;
        else if (small)
          count[(int64_t)(x - (long double)d->lo)]++;
      }
      CHECKF(outside == 0, "%s: %lld values outside", what, (long long)outside);
      /* The mean of a discrete uniform on [lo, hi): (lo + hi - 1) / 2, variance (k^2 - 1)/12. */
      long double want = ((long double)d->lo + (long double)d->hi - 1) / 2;
      double sigma = (double)(sqrtl((range * range - 1) / 12) / sqrtl((long double)n));
      double rel = (double)((s / n - want) / (sigma > 0 ? sigma : 1));
      CHECKF(fabs(rel) <= 4, "%s: mean %.6Lg, want %.6Lg (%.2f sigma)", what, s / n, want, rel);
      if (small) {
        double p = 1.0 / (double)range, e = (double)n * p, sd = sqrt((double)n * p * (1 - p));
        int64_t worst = 0;
        for (int64_t k = 1; k < (int64_t)range; k++)
          if (fabs((double)count[k] - e) > fabs((double)count[worst] - e))
            worst = k;
        CHECKF(fabs((double)count[worst] - e) <= 5 * sd,
               "%s: value %lld drawn %lld times, want %.1f +- 5 x %.1f", what,
               (long long)(d->lo + worst), (long long)count[worst], e, sd);
      }
      free(count);
    }
    free(v);
    da_array_destroy(&a);
    tu_sync();
  }
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t140-random");
  rng = tu_rng_make(140);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  TU_OK(NULL, da_ctx_create(MPI_COMM_SELF, &self));
  test_reproducible();
  test_uniform_stats();
  test_normal_stats();
  test_randint_stats();
  TU_OK(self, da_ctx_destroy(&self));
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
