/* Quantiles against a serial reference written from NumPy's numpy.quantile (method 'linear'):
 * each lane sorted, the virtual index q * (n - 1), NumPy's _lerp with b - a in the input's own
 * type, NaN lanes NaN. Random shapes, uneven chunks, several dtypes, ties, NaN and infinities,
 * single elements, several q at once, percentile, median, keepdims, axis subsets and all axes;
 * larger arrays through every level of the distributed selection; values NumPy 1.24 gave;
 * the approximate form's bound against the exact quantile; bad input on every rank. */
#include "test_util.h"

static da_ctx ctx;

/* ---------------------------------------------------------------- the reference */

static da_dtype ref_dt;

/* Value order; -0.0 before 0.0 (NumPy leaves their order open: the library fixes it so). */
static int ref_cmp(const void *x, const void *y) {
  switch (ref_dt) {
#define CMP_CASE(E, T)                                                                             \
  case E: {                                                                                        \
    T a = *(const T *)x, b = *(const T *)y;                                                        \
    if (a != b)                                                                                    \
      return a < b ? -1 : 1;                                                                       \
    return (int)signbit((double)b) - (int)signbit((double)a);                                      \
  }
    CMP_CASE(DA_FLOAT64, double)
    CMP_CASE(DA_FLOAT32, float)
    CMP_CASE(DA_INT8, int8_t)
    CMP_CASE(DA_INT32, int32_t)
    CMP_CASE(DA_INT64, int64_t)
    CMP_CASE(DA_UINT8, uint8_t)
    CMP_CASE(DA_UINT64, uint64_t)
    CMP_CASE(DA_BOOL, uint8_t)
#undef CMP_CASE
  default:
    abort();
  }
}

/* NumPy's _lerp(a, b, t): diff = b - a in the array's dtype (integers wrap), then float64. */
static double ref_lerp(da_dtype dt, const void *s, int64_t i0, int64_t i1, double t) {
  switch (dt) {
  case DA_FLOAT64: {
    double a = ((const double *)s)[i0], b = ((const double *)s)[i1], d = b - a;
    double r = a + d * t;
    if (t >= 0.5)
      r = b - d * (1 - t);
    return r;
  }
  case DA_FLOAT32: {
    float a = ((const float *)s)[i0], b = ((const float *)s)[i1], d = b - a;
    double r = (double)a + (double)d * t;
    if (t >= 0.5)
      r = (double)b - (double)d * (1 - t);
    return r;
  }
#define INT_CASE(E, T, UT)                                                                         \
  case E: {                                                                                        \
    T a = ((const T *)s)[i0], b = ((const T *)s)[i1];                                              \
    T d = (T)(UT)((UT)b - (UT)a);                                                                  \
    double r = (double)a + (double)d * t;                                                          \
    if (t >= 0.5)                                                                                  \
      r = (double)b - (double)d * (1 - t);                                                         \
    return r;                                                                                      \
  }
    INT_CASE(DA_INT8, int8_t, uint8_t)
    INT_CASE(DA_INT32, int32_t, uint32_t)
    INT_CASE(DA_INT64, int64_t, uint64_t)
    INT_CASE(DA_UINT8, uint8_t, uint8_t)
    INT_CASE(DA_UINT64, uint64_t, uint64_t)
    INT_CASE(DA_BOOL, uint8_t, uint8_t)
#undef INT_CASE
  default:
    abort();
  }
}

/* np.median of a sorted lane of m elements: the middle one, or the mean of the two middle
 * ones as np.mean takes it (float32 sums in float32, the rest in float64). */
static double ref_median(da_dtype dt, const void *s, int64_t m) {
  double a = tu_get(dt, s, (m - 1) / 2);
  if (m % 2)
    return a;
  if (dt == DA_FLOAT32)
    return (float)((float)a + (float)tu_get(dt, s, m / 2)) / 2.0f;
  return (a + tu_get(dt, s, m / 2)) / 2;
}

static bool ref_is_median; /* ref_lane gives np.median's value */

/* np.quantile of the m elements at lane (reordered), for each of the nq q's. */
static void ref_lane(da_dtype dt, void *lane, int64_t m, int64_t nq, const double *q, double *out,
                     int64_t stride) {
  bool nan = false;
  for (int64_t i = 0; i < m && tu_is_float(dt); i++)
    nan = nan || isnan(tu_get(dt, lane, i));
  ref_dt = dt;
  if (!nan)
    qsort(lane, (size_t)m, da_dtype_size(dt), ref_cmp);
  for (int64_t k = 0; k < nq; k++) {
    double v = (double)(m - 1) * q[k], t;
    int64_t i0, i1;
    if (v >= (double)(m - 1)) { /* NumPy's previous index -1: both the last, t = v + 1 */
      i0 = i1 = m - 1;
      t = v + 1;
    } else {
      i0 = (int64_t)floor(v);
      i1 = i0 + 1;
      t = v - (double)i0;
    }
    out[k * stride] = nan             ? NAN
                      : ref_is_median ? ref_median(dt, lane, m)
                                      : ref_lerp(dt, lane, i0, i1, t);
  }
}

/* The quantiles of a C-order array over the axes red[] marks: out is (nq, kept axes...). */
static void ref_quantile(da_dtype dt, const void *buf, int nd, const int64_t shape[],
                         const bool red[], int64_t nq, const double *q, double *out) {
  size_t es = da_dtype_size(dt);
  int64_t n = tu_prod(nd, shape), m = 1, lanes;
  for (int d = 0; d < nd; d++)
    m *= red[d] ? shape[d] : 1;
  lanes = n / m;
  char *sorted = tu_malloc((size_t)n * es);
  int64_t *fill = calloc((size_t)lanes, sizeof *fill), idx[DA_MAX_NDIM] = {0};
  for (int64_t i = 0; i < n; i++) {
    int64_t lane = 0;
    for (int d = 0; d < nd; d++)
      lane = red[d] ? lane : lane * shape[d] + idx[d];
    memcpy(sorted + (size_t)(lane * m + fill[lane]++) * es, (const char *)buf + (size_t)i * es, es);
    for (int d = nd - 1; d >= 0 && ++idx[d] == shape[d]; d--)
      idx[d] = 0;
  }
  for (int64_t l = 0; l < lanes; l++)
    ref_lane(dt, sorted + (size_t)(l * m) * es, m, nq, q, out + l, lanes);
  free(sorted);
  free(fill);
}

/* ---------------------------------------------------------------- one call against it */

typedef enum { QUANTILE, PERCENTILE, MEDIAN } q_kind;

/* Runs one quantile call on a (whose whole C-order data is buf) and compares its shape and
 * bits with the reference. */
static void check_call(da_array a, const void *buf, q_kind kind, int64_t nq, const double *q,
                       int naxes, const int *axes, int keepdims, const char *what) {
  da_dtype dt = da_array_dtype(a);
  int nd = da_array_ndim(a);
  const int64_t *shape = da_array_shape(a);
  bool red[DA_MAX_NDIM], all = true;
  for (int d = 0; d < nd; d++)
    red[d] = naxes == 0 || !axes;
  for (int i = 0; i < naxes && axes; i++)
    red[axes[i] < 0 ? axes[i] + nd : axes[i]] = true;
  for (int d = 0; d < nd; d++)
    all = all && red[d];
  bool was_lazy = da_array_is_lazy(a);
  double qq[64];
  for (int64_t k = 0; k < nq; k++)
    qq[k] = kind == MEDIAN ? 0.5 : kind == PERCENTILE ? q[k] / 100 : q[k];
  da_array r = NULL;
  if (kind == QUANTILE)
    TU_OK(ctx, da_quantile(a, nq, q, naxes, axes, keepdims, &r));
  else if (kind == PERCENTILE)
    TU_OK(ctx, da_percentile(a, nq, q, naxes, axes, keepdims, &r));
  else
    TU_OK(ctx, da_median(a, naxes, axes, keepdims, &r));
  /* Shape: (nq,) (not for the median), the kept axes, ones for reduced ones with keepdims. */
  int64_t want_shape[DA_MAX_NDIM + 1];
  int wnd = 0;
  if (kind != MEDIAN)
    want_shape[wnd++] = nq;
  for (int d = 0; d < nd; d++)
    if (!red[d] || keepdims)
      want_shape[wnd++] = red[d] ? 1 : shape[d];
  CHECKF(da_array_ndim(r) == wnd, "%s: ndim %d, want %d", what, da_array_ndim(r), wnd);
  CHECKF(!memcmp(da_array_shape(r), want_shape, (size_t)wnd * sizeof(int64_t)), "%s: shape", what);
  da_dtype rdt = kind == MEDIAN && dt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
  CHECKF(da_array_dtype(r) == rdt, "%s: dtype %s", what, da_dtype_name(da_array_dtype(r)));
  CHECKF(da_array_is_lazy(r) == !all, "%s: lazy %d over %s axes", what, da_array_is_lazy(r),
         all ? "all" : "some");
  CHECKF(da_array_is_lazy(a) == was_lazy, "%s: the input was computed in place", what);
  int64_t lanes = tu_prod(nd, shape);
  for (int d = 0; d < nd; d++)
    lanes /= red[d] ? shape[d] : 1;
  double *want = tu_malloc((size_t)(nq * lanes) * sizeof *want);
  ref_is_median = kind == MEDIAN;
  ref_quantile(dt, buf, nd, shape, red, nq, qq, want);
  double *got = tu_gather_all(r);
  if (rdt == DA_FLOAT32) { /* widened in place, from the end */
    got = realloc(got, (size_t)(nq * lanes) * sizeof *got);
    for (int64_t i = nq * lanes - 1; i >= 0; i--)
      got[i] = ((float *)got)[i];
  }
  COMPARE_N(what, DA_FLOAT64, got, want, nq * lanes, -1, 0);
  free(got);
  free(want);
  da_array_destroy(&r);
}

/* ---------------------------------------------------------------- random cases */

static void fill_values(tu_rng *rng, da_dtype dt, int mode, void *buf, int64_t n) {
  if (mode == 0) { /* whole ranges: wrapping differences, mixed magnitudes */
    tu_fill_random(rng, dt, buf, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    double x = (double)tu_int(rng, 0, 3); /* ties */
    if (dt != DA_BOOL && !tu_is_unsigned(dt))
      x -= 2;
    if (tu_is_float(dt) && mode == 2) {
      int pick = (int)tu_int(rng, 0, 99);
      x = pick < 2 ? NAN : pick < 4 ? INFINITY : pick < 6 ? -INFINITY : pick < 9 ? -0.0 : x / 3;
    }
    tu_set(dt, buf, i, dt == DA_BOOL ? (double)((int64_t)x & 1) : x);
  }
}

static void check_case(tu_rng *rng, int c) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32, DA_INT64,
                                 DA_UINT8,   DA_BOOL,    DA_INT8,  DA_UINT64};
  da_dtype dt = dts[c % 8];
  int nd = c % 23 == 5 ? 0 : (int)tu_int(rng, 1, 3);
  int64_t shape[DA_MAX_NDIM] = {0};
  tu_random_shape(rng, nd, c % 9 == 0 ? 3 : 500, false, shape);
  tu_chunking ck;
  tu_random_chunks(rng, nd, shape, 40, &ck);
  int64_t n = tu_prod(nd, shape);
  int mode = (int)tu_int(rng, 0, 2);
  void *buf = tu_malloc((size_t)n * da_dtype_size(dt));
  fill_values(rng, dt, mode, buf, n);
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * da_dtype_size(dt), &a));
  if (nd > 0 && tu_chance(rng, 0.3)) { /* a lazy input: computed once, privately */
    da_array b;
    tu_chunking ck2;
    tu_random_chunks(rng, nd, shape, 40, &ck2);
    TU_OK(ctx, da_rechunk(a, &ck2.c, &b));
    da_array_destroy(&a);
    a = b;
  }
  int axes[DA_MAX_NDIM];
  const int *axes_arg;
  bool red[DA_MAX_NDIM];
  int naxes = tu_random_axes(rng, nd, axes, &axes_arg, red);
  int keepdims = (int)tu_int(rng, 0, 1);
  q_kind kind = (q_kind)tu_int(rng, 0, 2);
  int64_t nq = kind == MEDIAN ? 1 : tu_int(rng, 1, 5);
  double q[8];
  for (int64_t k = 0; k < nq; k++) {
    int pick = (int)tu_int(rng, 0, 4);
    q[k] = pick == 0 ? 0 : pick == 1 ? 1 : pick == 2 ? 0.5 : tu_unit(rng);
    if (kind == PERCENTILE)
      q[k] = pick == 4 ? (double)tu_int(rng, 0, 100) : q[k] * 100;
  }
  char what[160], ss[64];
  snprintf(what, sizeof what, "case %d: %s %s of %s, %d axes%s", c,
           kind == QUANTILE     ? "quantile"
           : kind == PERCENTILE ? "percentile"
                                : "median",
           da_dtype_name(dt), tu_shape_str(nd, shape, ss, sizeof ss), naxes,
           keepdims ? ", keepdims" : "");
  check_call(a, buf, kind, nq, q, naxes, axes_arg, keepdims, what);
  da_array_destroy(&a);
  free(buf);
}

/* ---------------------------------------------------------------- the selection's levels */

/* Larger arrays over every axis: uniform floats (few keys left after the first level), a
 * tight cluster with far outliers (most keys stay in play for several levels), integers over
 * their whole range, and many q at once (many groups per level). */
static void check_large(tu_rng *rng) {
  int64_t n = 60000;
  int64_t shape[2] = {200, 300};
  const double qs[] = {0, 1, 0.5, 0.1, 0.25, 0.999, 1.0 / 3, 0.75};
  for (int kind = 0; kind < 5; kind++) {
    da_dtype dt = kind == 2   ? DA_INT64
                  : kind == 3 ? DA_UINT64
                  : kind == 4 ? DA_FLOAT32
                              : DA_FLOAT64;
    size_t es = da_dtype_size(dt);
    void *buf = tu_malloc((size_t)n * es);
    if (kind == 0) {
      for (int64_t i = 0; i < n; i++)
        ((double *)buf)[i] = tu_unit(rng);
    } else if (kind == 1) {
      for (int64_t i = 0; i < n; i++) {
        double x = 1 + (double)tu_int(rng, 0, 5000) * 0x1p-40;
        ((double *)buf)[i] = tu_chance(rng, 0.001) ? (tu_chance(rng, 0.5) ? -1e300 : 1e300) : x;
      }
    } else if (kind == 4) {
      for (int64_t i = 0; i < n; i++)
        ((float *)buf)[i] = (float)((tu_unit(rng) - 0.5) * 1e-3);
    } else {
      tu_fill_random(rng, dt, buf, n);
    }
    da_array a;
    TU_OK(ctx, da_from_root(ctx, 0, 2, shape, DA_CHUNKS(70, 90), dt, buf, (size_t)n * es, &a));
    char what[64];
    snprintf(what, sizeof what, "large %s, kind %d", da_dtype_name(dt), kind);
    check_call(a, buf, QUANTILE, 8, qs, 0, NULL, 0, what);
    check_call(a, buf, MEDIAN, 1, NULL, 0, NULL, kind == 1, what);
    /* many q: more than 16 ranks per lane (a sort), many groups per level */
    double many[40];
    for (int k = 0; k < 40; k++)
      many[k] = tu_unit(rng);
    check_call(a, buf, QUANTILE, 40, many, 0, NULL, 0, what);
    if (kind == 0)
      check_call(a, buf, QUANTILE, 40, many, 1, (const int[]){-1}, 0, what);
    da_array_destroy(&a);
    free(buf);
  }
  /* Generated lazily, in uneven chunks: the input is computed once, privately. */
  da_array u;
  int64_t len = 100003;
  TU_OK(ctx, da_random_uniform(ctx, 7, -2, 3, 1, &len, DA_CHUNKS(9999), DA_FLOAT64, &u));
  double *ub = tu_gather_all(u);
  check_call(u, ub, QUANTILE, 8, qs, 0, NULL, 1, "random_uniform");
  CHECK(da_array_is_lazy(u));
  free(ub);
  da_array_destroy(&u);
}

/* ---------------------------------------------------------------- NumPy's own values */

/* np.quantile in NumPy 1.24 (float.hex of each result): integer differences wrap, an infinite
 * neighbour gives NaN or infinity, float32 differences round to float32, the result is float64. */
static void check_numpy(void) {
  struct {
    da_dtype dt;
    int64_t n;
    const void *data;
    int64_t nq;
    double q[5];
    double want[5];
  } cases[] = {
      {DA_INT8, 2, (const int8_t[]){-100, 100}, 2, {0.5, 0.25}, {0x1p+7, -0x1.c8p+6}},
      {DA_INT64,
       2,
       (const int64_t[]){(int64_t)1 << 62, -((int64_t)1 << 62)},
       2,
       {0.5, 0.3},
       {0x1p+63, -0x1.999999999999ap+62}},
      {DA_FLOAT32,
       4,
       (const float[]){1.1f, 2.7f, 3.3f, 9.1f},
       2,
       {0.3, 0.7},
       {0x1.451eb8b333333p+1, 0x1.f0a3d6cccccc8p+1}},
      {DA_FLOAT64, 2, (const double[]){1, INFINITY}, 3, {0, 0.5, 1}, {NAN, NAN, NAN}},
      {DA_FLOAT64,
       3,
       (const double[]){3, -INFINITY, 5},
       5,
       {0, 0.25, 0.5, 0.75, 1},
       {NAN, -INFINITY, 3, 4, 5}},
      {DA_FLOAT64,
       3,
       (const double[]){0.1, 0.2, 0.7},
       3,
       {0.1, 0.6, 0.7},
       {0x1.eb851eb851eb9p-4, 0x1.3333333333333p-2, 0x1.9999999999998p-2}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    da_array a, r;
    size_t bytes = (size_t)cases[c].n * da_dtype_size(cases[c].dt);
    TU_OK(ctx, da_from_root(ctx, 0, 1, &cases[c].n, DA_CHUNKS(1), cases[c].dt, cases[c].data, bytes,
                            &a));
    for (int over = 0; over < 2; over++) { /* the whole array, and the one lane of a 2-D view */
      da_array v = NULL;
      if (over)
        TU_OK(ctx, da_reshape(a, 2, (const int64_t[]){1, cases[c].n}, &v));
      TU_OK(ctx, da_quantile(over ? v : a, cases[c].nq, cases[c].q, over, (const int[]){1}, 0, &r));
      double got[5];
      TU_OK(ctx, da_compute(r, DA_ALL_RANKS, got, (size_t)cases[c].nq * sizeof(double)));
      char what[64];
      snprintf(what, sizeof what, "NumPy case %zu (%s)", c, over ? "one lane" : "whole");
      COMPARE_N(what, DA_FLOAT64, got, cases[c].want, cases[c].nq, 0, 0);
      da_array_destroy(&r);
      da_array_destroy(&v);
    }
    da_array_destroy(&a);
  }
  /* np.percentile divides by 100 first: 29 / 100 * 6, not 0.29 * 6 exactly. */
  double p[3] = {29, 33.3, 100},
         want[3] = {0x1.645a1cac08312p-3, 0x1.9930be0ded288p-3, 0x1.3333333333334p-1};
  double v7[7];
  for (int i = 0; i < 7; i++)
    v7[i] = i * 0.1;
  int64_t seven = 7;
  da_array a, r;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &seven, DA_CHUNKS(3), DA_FLOAT64, v7, sizeof v7, &a));
  TU_OK(ctx, da_percentile(a, 3, p, 0, NULL, 0, &r));
  double got[3];
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, got, sizeof got));
  COMPARE_N("NumPy percentile", DA_FLOAT64, got, want, 3, -1, 0);
  da_array_destroy(&r);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- approximate */

static void check_approx(tu_rng *rng) {
  int64_t shape[2] = {200, 250};
  double q[7] = {0, 1, 0.5, 0.01, 0.99, 0.37, 0.5 + 1e-9};
  for (int kind = 0; kind < 6; kind++) {
    da_array a = NULL, g = NULL;
    if (kind == 0) {
      TU_OK(ctx, da_random_uniform(ctx, 3, -5, 5, 2, shape, DA_CHUNKS(64, 90), DA_FLOAT64, &a));
    } else if (kind == 1) { /* skewed: exp of a normal */
      TU_OK(ctx, da_random_normal(ctx, 4, 0, 3, 2, shape, DA_CHUNKS(64, 90), DA_FLOAT64, &g));
      TU_OK(ctx, da_exp(g, &a));
    } else if (kind == 2) {
      TU_OK(ctx, da_random_randint(ctx, 5, -1000000, 1000000, 2, shape, DA_CHUNKS(77, 250),
                                   DA_INT32, &a));
    } else if (kind == 3) { /* ties: few integers */
      TU_OK(ctx, da_random_randint(ctx, 6, 0, 7, 2, shape, DA_CHUNKS(50, 50), DA_INT64, &a));
    } else if (kind == 4) {
      TU_OK(ctx, da_random_normal(ctx, 8, 1e4, 1, 2, shape, DA_CHUNKS(64, 90), DA_FLOAT32, &a));
    } else { /* infinities at both ends */
      int64_t n = 1000;
      double *v = tu_malloc((size_t)n * sizeof *v);
      for (int64_t i = 0; i < n; i++)
        v[i] = i < 30 ? -INFINITY : i > 980 ? INFINITY : tu_unit(rng) * 100;
      TU_OK(ctx, da_from_root(ctx, 0, 1, &n, DA_CHUNKS(301), DA_FLOAT64, v, (size_t)n * 8, &a));
      free(v);
    }
    double values[7], bounds[7], exact[7];
    TU_OK(ctx, da_quantile_approx(a, 7, q, values, bounds));
    da_array e;
    TU_OK(ctx, da_quantile(a, 7, q, 0, NULL, 0, &e));
    TU_OK(ctx, da_compute(e, DA_ALL_RANKS, exact, sizeof exact));
    da_array mn, mx;
    double lo, hi;
    TU_OK(ctx, da_min(a, 0, NULL, 0, &mn));
    TU_OK(ctx, da_max(a, 0, NULL, 0, &mx));
    da_array fmn, fmx;
    TU_OK(ctx, da_astype(mn, DA_FLOAT64, &fmn));
    TU_OK(ctx, da_astype(mx, DA_FLOAT64, &fmx));
    TU_OK(ctx, da_compute(fmn, DA_ALL_RANKS, &lo, sizeof lo));
    TU_OK(ctx, da_compute(fmx, DA_ALL_RANKS, &hi, sizeof hi));
    double width = kind == 5 ? 100.0 / 65536 : (hi - lo) / 65536;
    for (int i = 0; i < 7; i++) {
      if (!isfinite(exact[i])) {
        CHECKF(isnan(exact[i]) ? isnan(values[i]) : values[i] == exact[i],
               "approx kind %d, q %g: %g for the exact %g", kind, q[i], values[i], exact[i]);
        continue;
      }
      CHECKF(fabs(exact[i] - values[i]) <= bounds[i], "approx kind %d, q %g: |%.17g - %.17g| > %g",
             kind, q[i], exact[i], values[i], bounds[i]);
      /* the bound is about a bin wide, not vacuous */
      CHECKF(bounds[i] <= 1.01 * width + 1e-6 * fmax(fabs(lo), fabs(hi)),
             "approx kind %d, q %g: bound %g for bins %g wide", kind, q[i], bounds[i], width);
    }
    da_array_destroy(&a);
    da_array_destroy(&g);
    da_array_destroy(&e);
    da_array_destroy(&mn);
    da_array_destroy(&mx);
    da_array_destroy(&fmn);
    da_array_destroy(&fmx);
  }
  /* NaN anywhere: NaN values and bounds. */
  double v[5] = {1, 2, NAN, 4, 5}, values[2], bounds[2];
  int64_t five = 5;
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &five, DA_CHUNKS(2), DA_FLOAT64, v, sizeof v, &a));
  TU_OK(ctx, da_quantile_approx(a, 2, (const double[]){0, 0.5}, values, bounds));
  CHECK(isnan(values[0]) && isnan(values[1]) && isnan(bounds[0]) && isnan(bounds[1]));
  /* one element */
  int64_t one = 1;
  da_array s;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &one, NULL, DA_FLOAT64, v, sizeof(double), &s));
  TU_OK(ctx, da_quantile_approx(s, 2, (const double[]){0, 0.7}, values, bounds));
  CHECK(values[0] == 1 && values[1] == 1 && bounds[0] <= 1e-14 && bounds[1] <= 1e-14);
  da_array_destroy(&s);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- bad input */

static void check_errors(void) {
  int64_t shape[2] = {4, 6}, zero[2] = {0, 6};
  da_array a, e, r = NULL;
  TU_OK(ctx, da_ones(ctx, 2, shape, DA_CHUNKS(3, 4), DA_FLOAT64, &a));
  TU_OK(ctx, da_ones(ctx, 2, zero, DA_CHUNKS(3, 4), DA_FLOAT64, &e));
  double bad[][1] = {{-0.1}, {1.5}, {NAN}, {-INFINITY}};
  for (int i = 0; i < 4; i++) {
    CHECK(da_quantile(a, 1, bad[i], 0, NULL, 0, &r) == DA_ERR_ARG && r == NULL);
    CHECK(da_quantile(a, 1, bad[i], 1, (const int[]){0}, 0, &r) == DA_ERR_ARG && r == NULL);
  }
  CHECK(da_percentile(a, 1, (const double[]){100.5}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_percentile(a, 1, (const double[]){-1}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 2, (const double[]){0.5, 2}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 0, (const double[]){0.5}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, NULL, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, 0, NULL, 0, NULL) == DA_ERR_ARG);
  CHECK(da_quantile(NULL, 1, (const double[]){0.5}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, 1, (const int[]){2}, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, 1, (const int[]){-3}, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, 2, (const int[]){1, -1}, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, 3, (const int[]){0, 1, 0}, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(a, 1, (const double[]){0.5}, -1, (const int[]){0}, 0, &r) == DA_ERR_ARG);
  CHECK(da_median(a, 2, (const int[]){0, 0}, 0, &r) == DA_ERR_ARG);
  CHECK(da_quantile(e, 1, (const double[]){0.5}, 0, NULL, 0, &r) == DA_ERR_ARG);
  CHECK(da_median(e, 1, (const int[]){0}, 0, &r) == DA_ERR_ARG);
  CHECK(da_median(e, 1, (const int[]){1}, 1, &r) == DA_ERR_ARG);
  CHECK(r == NULL);
  double v[2], b[2];
  CHECK(da_quantile_approx(a, 1, (const double[]){1.5}, v, b) == DA_ERR_ARG);
  CHECK(da_quantile_approx(a, 0, (const double[]){0.5}, v, b) == DA_ERR_ARG);
  CHECK(da_quantile_approx(a, 1, (const double[]){0.5}, NULL, b) == DA_ERR_ARG);
  CHECK(da_quantile_approx(e, 1, (const double[]){0.5}, v, b) == DA_ERR_ARG);
  CHECK(strstr(da_ctx_errmsg(ctx), "empty") != NULL);
  /* The context still works after the errors. */
  TU_OK(ctx, da_median(a, 0, NULL, 0, &r));
  double one = 0;
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, &one, sizeof one));
  CHECK(one == 1);
  da_array_destroy(&r);
  da_array_destroy(&a);
  da_array_destroy(&e);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t720-quantile");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  tu_rng rng = tu_rng_make(720);
  check_numpy();
  for (int c = 0; c < 160; c++)
    check_case(&rng, c);
  check_large(&rng);
  check_approx(&rng);
  check_errors();
  da_ctx_destroy(&ctx);
  return tu_finish();
}
