/* topk / argtopk, isin, nonzero and argwhere against serial references: Dask's topk with NaN
 * the largest and ties to the lower index, np.isin comparing after NumPy's promotion (exact
 * for mixed signed and unsigned integers), np.nonzero and np.argwhere in C order. Random
 * shapes, uneven chunks (empty ones too), lazy and stored inputs, at 1-4 ranks; bad input
 * on every rank. */
#include "test_util.h"

static da_ctx ctx;

/* ---------------------------------------------------------------- values */

/* Random values of dt with many ties: floats from a small set with NaN, infinities and signed
 * zeros; integers from a narrow range now and then their whole range. */
static void fill_ties(tu_rng *r, da_dtype dt, void *buf, int64_t n) {
  static const double fset[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.5, -2.25, 3, 7, -7};
  bool wide = tu_chance(r, 0.3);
  if (wide && !tu_is_float(dt) && dt != DA_BOOL) {
    tu_fill_random(r, dt, buf, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    if (tu_is_float(dt))
      tu_set(dt, buf, i, fset[tu_int(r, 0, 10)]);
    else if (dt == DA_BOOL)
      tu_set(dt, buf, i, (double)tu_int(r, 0, 1));
    else if (tu_is_unsigned(dt))
      tu_set(dt, buf, i, (double)tu_int(r, 0, 6));
    else
      tu_set(dt, buf, i, (double)tu_int(r, -4, 4));
  }
}

/* -1, 0, 1 as element i of x compares with element j by value, NaN above everything. */
static int value_cmp(da_dtype dt, const void *x, int64_t i, int64_t j) {
  if (tu_is_float(dt)) {
    double u = tu_get(dt, x, i), v = tu_get(dt, x, j);
    if (isnan(u) || isnan(v))
      return isnan(u) - isnan(v);
    return (u > v) - (u < v);
  }
  if (dt == DA_INT64) {
    int64_t u = ((const int64_t *)x)[i], v = ((const int64_t *)x)[j];
    return (u > v) - (u < v);
  }
  if (dt == DA_UINT64) {
    uint64_t u = ((const uint64_t *)x)[i], v = ((const uint64_t *)x)[j];
    return (u > v) - (u < v);
  }
  double u = tu_get(dt, x, i), v = tu_get(dt, x, j);
  return (u > v) - (u < v);
}

/* ---------------------------------------------------------------- topk */

/* The reference: per lane, the elements sorted by value (descending for k > 0, ascending for
 * k < 0) and then by index, by insertion sort; the first |k| kept. */
static void ref_topk(da_dtype dt, const void *x, int nd, const int64_t shape[], int ax, int64_t k,
                     void *vals, int64_t *idx) {
  int64_t outer = 1, inner = 1, n = shape[ax], K = k < 0 ? -k : k;
  for (int d = 0; d < nd; d++)
    outer *= d < ax ? shape[d] : 1, inner *= d > ax ? shape[d] : 1;
  size_t es = da_dtype_size(dt);
  int64_t *order = tu_malloc((size_t)n * sizeof *order);
  for (int64_t u = 0; u < outer; u++)
    for (int64_t r = 0; r < inner; r++) {
      int64_t base = u * n * inner + r;
      for (int64_t i = 0; i < n; i++) {
        int64_t j = i;
        while (j > 0) {
          int c = value_cmp(dt, x, base + order[j - 1] * inner, base + i * inner);
          if (k > 0 ? c >= 0 : c <= 0) /* equal values keep index order */
            break;
          order[j] = order[j - 1];
          j--;
        }
        order[j] = i;
      }
      for (int64_t t = 0; t < K; t++) {
        int64_t o = (u * K + t) * inner + r;
        idx[o] = order[t];
        memcpy((char *)vals + (size_t)o * es,
               (const char *)x + (size_t)(base + order[t] * inner) * es, es);
      }
    }
  free(order);
}

static void check_topk(tu_rng *rng, int c) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32,  DA_INT64,
                                 DA_UINT8,   DA_BOOL,    DA_UINT64, DA_INT8};
  da_dtype dt = dts[c % 8];
  int nd = (int)tu_int(rng, 1, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(rng, nd, 400, false, shape);
  int ax = (int)tu_int(rng, 0, nd - 1);
  tu_chunking ck;
  tu_random_chunks(rng, nd, shape, 30, &ck);
  int64_t n = tu_prod(nd, shape), len = shape[ax];
  size_t es = da_dtype_size(dt);
  void *buf = tu_malloc((size_t)n * es);
  fill_ties(rng, dt, buf, n);
  int pick = (int)tu_int(rng, 0, 5);
  int64_t K = pick == 0 ? len : pick == 1 ? 1 : tu_int(rng, 1, len);
  int64_t k = tu_chance(rng, 0.5) ? K : -K;
  int axis_arg = tu_chance(rng, 0.3) ? ax - nd : ax;
  da_array a, in, t, at;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &a));
  /* Half the time a lazy producer, fused into the partial layer. */
  if (c % 2 && dt != DA_BOOL)
    TU_OK(ctx, da_add(DA_V(a), DA_V(0), &in));
  else
    TU_OK(ctx, da_array_ref(a, &in));
  TU_OK(ctx, da_topk(in, k, axis_arg, &t));
  TU_OK(ctx, da_argtopk(in, k, axis_arg, &at));
  int64_t oshape[DA_MAX_NDIM];
  memcpy(oshape, shape, sizeof oshape);
  oshape[ax] = K;
  CHECKF(da_array_ndim(t) == nd && !memcmp(da_array_shape(t), oshape, (size_t)nd * 8) &&
             da_array_dtype(t) == dt && da_array_dtype(at) == DA_INT64,
         "case %d: topk's shape or dtype", c);
  CHECKF(da_array_numblocks(t)[ax] == 1 && da_array_is_lazy(t), "case %d: topk's chunks", c);
  for (int d = 0; d < nd; d++)
    CHECKF(d == ax || da_array_numblocks(t)[d] == da_array_numblocks(a)[d],
           "case %d: topk's blocks on axis %d", c, d);
  int64_t on = tu_prod(nd, oshape);
  void *want = tu_malloc((size_t)on * es);
  int64_t *wantidx = tu_malloc((size_t)on * sizeof *wantidx);
  void *inbuf = tu_gather_all(in); /* x + 0 makes -0 into +0 */
  ref_topk(dt, inbuf, nd, shape, ax, k, want, wantidx);
  free(inbuf);
  void *got = tu_gather_all(t);
  int64_t *gotidx = tu_gather_all(at);
  char what[256], s[64];
  snprintf(what, sizeof what, "case %d: topk(%s, k %lld, axis %d)", c,
           tu_shape_str(nd, shape, s, sizeof s), (long long)k, axis_arg);
  COMPARE(what, dt, got, want, nd, oshape, -1);
  snprintf(what, sizeof what, "case %d: argtopk(%s, k %lld, axis %d)", c,
           tu_shape_str(nd, shape, s, sizeof s), (long long)k, axis_arg);
  COMPARE(what, DA_INT64, gotidx, wantidx, nd, oshape, -1);
  free(got), free(gotidx), free(want), free(wantidx), free(buf);
  da_array_destroy(&t);
  da_array_destroy(&at);
  da_array_destroy(&in);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- isin */

/* NumPy's element == test after promotion: float64 when either is a float, else exact. */
static bool ref_equal(da_dtype de, const void *e, int64_t i, da_dtype dt, const void *t,
                      int64_t j) {
  if (tu_is_float(de) || tu_is_float(dt))
    return tu_get(de, e, i) == tu_get(dt, t, j);
  /* Integers as (negative?, bits): exact across int64 and uint64. */
  int64_t si = 0, sj = 0;
  uint64_t ui = 0, uj = 0;
  bool ni = false, nj = false;
  if (tu_is_signed(de)) {
    si = de == DA_INT64 ? ((const int64_t *)e)[i] : (int64_t)tu_get(de, e, i);
    ni = si < 0, ui = (uint64_t)si;
  } else {
    ui = de == DA_UINT64 ? ((const uint64_t *)e)[i] : (uint64_t)tu_get(de, e, i);
  }
  if (tu_is_signed(dt)) {
    sj = dt == DA_INT64 ? ((const int64_t *)t)[j] : (int64_t)tu_get(dt, t, j);
    nj = sj < 0, uj = (uint64_t)sj;
  } else {
    uj = dt == DA_UINT64 ? ((const uint64_t *)t)[j] : (uint64_t)tu_get(dt, t, j);
  }
  return ni == nj && ui == uj;
}

/* Values of dt around a few centres shared by both sides, so that they meet: small integers,
 * and for 64-bit types the values near 2^63 and 2^64 where int64, uint64 and float64 part. */
static void fill_isin(tu_rng *r, da_dtype dt, void *buf, int64_t n) {
  size_t es = da_dtype_size(dt);
  for (int64_t i = 0; i < n; i++) {
    int pick = (int)tu_int(r, 0, 9);
    if (dt == DA_UINT64 && pick >= 8) {
      uint64_t v = (pick == 8 ? UINT64_C(1) << 63 : UINT64_MAX) - (uint64_t)tu_int(r, 0, 2);
      memcpy((char *)buf + i * es, &v, es);
    } else if (dt == DA_INT64 && pick >= 8) {
      int64_t v = pick == 8 ? INT64_MAX - tu_int(r, 0, 2) : INT64_MIN + tu_int(r, 0, 2);
      memcpy((char *)buf + i * es, &v, es);
    } else if (tu_is_float(dt) && pick == 9) {
      tu_set(dt, buf, i, tu_chance(r, 0.5) ? NAN : 0.5 * (double)tu_int(r, -6, 6));
    } else if (dt == DA_BOOL) {
      tu_set(dt, buf, i, (double)tu_int(r, 0, 1));
    } else {
      int64_t v = tu_int(r, -6, 6);
      if (!tu_is_signed(dt) && !tu_is_float(dt))
        v = v < 0 ? -v : v;
      tu_set(dt, buf, i, (double)v);
    }
  }
}

static void check_isin(tu_rng *rng, int c) {
  static const da_dtype pairs[][2] = {
      {DA_INT64, DA_FLOAT64}, {DA_UINT64, DA_INT64},    {DA_INT64, DA_UINT64},
      {DA_INT32, DA_UINT8},   {DA_FLOAT32, DA_FLOAT64}, {DA_BOOL, DA_INT64},
      {DA_UINT8, DA_BOOL},    {DA_FLOAT64, DA_FLOAT64}, {DA_UINT64, DA_FLOAT32},
      {DA_INT8, DA_INT32},    {DA_FLOAT64, DA_INT16},   {DA_UINT16, DA_UINT64}};
  da_dtype de = pairs[c % 12][0], dt = pairs[c % 12][1];
  int nd = (int)tu_int(rng, 0, 3), tnd = (int)tu_int(rng, 0, 2);
  int64_t shape[DA_MAX_NDIM], tshape[DA_MAX_NDIM];
  tu_random_shape(rng, nd, 300, true, shape);
  tu_random_shape(rng, tnd, 24, false, tshape);
  if (c % 7 == 3) /* an empty test */
    tnd = tnd ? tnd : 1, tshape[0] = 0;
  tu_chunking ck, tck;
  tu_random_chunks(rng, nd, shape, 30, &ck);
  tu_random_chunks(rng, tnd, tshape, 6, &tck);
  int64_t n = tu_prod(nd, shape), m = tu_prod(tnd, tshape);
  void *e = tu_malloc((size_t)n * da_dtype_size(de)), *t = tu_malloc((size_t)m * da_dtype_size(dt));
  fill_isin(rng, de, e, n);
  fill_isin(rng, dt, t, m);
  /* Now and then no value in common: the test values moved to 40 .. 60. */
  if (c % 5 == 2 && dt != DA_BOOL && de != DA_BOOL)
    for (int64_t j = 0; j < m; j++)
      if (!(tu_get(dt, t, j) >= 40 && tu_get(dt, t, j) <= 60))
        tu_set(dt, t, j, (double)tu_int(rng, 40, 60));
  int invert = (int)tu_int(rng, 0, 1);
  da_array a, b, in, r;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, de, e, (size_t)n * da_dtype_size(de), &a));
  TU_OK(ctx, da_from_root(ctx, 0, tnd, tshape, &tck.c, dt, t, (size_t)m * da_dtype_size(dt), &b));
  if (c % 3 == 1 && de != DA_BOOL)
    TU_OK(ctx, da_maximum(DA_V(a), DA_V(a), &in)); /* a lazy element */
  else
    TU_OK(ctx, da_array_ref(a, &in));
  TU_OK(ctx, da_isin(in, b, invert, &r));
  CHECKF(da_array_dtype(r) == DA_BOOL && da_array_ndim(r) == nd &&
             !memcmp(da_array_shape(r), shape, (size_t)nd * 8) && da_array_is_lazy(r),
         "case %d: isin's shape, dtype or laziness", c);
  for (int d = 0; d < nd; d++)
    CHECKF(
        !memcmp(da_array_chunks(r, d), da_array_chunks(a, d), (size_t)da_array_numblocks(a)[d] * 8),
        "case %d: isin's chunks on axis %d", c, d);
  uint8_t *want = tu_malloc((size_t)n), *got = tu_gather_all(r);
  for (int64_t i = 0; i < n; i++) {
    bool found = false;
    for (int64_t j = 0; j < m && !found; j++)
      found = ref_equal(de, e, i, dt, t, j);
    want[i] = (uint8_t)(found != (invert != 0));
  }
  char what[256], s1[64], s2[64];
  snprintf(what, sizeof what, "case %d: isin(%s %s, %s %s, invert %d)", c, da_dtype_name(de),
           tu_shape_str(nd, shape, s1, sizeof s1), da_dtype_name(dt),
           tu_shape_str(tnd, tshape, s2, sizeof s2), invert);
  COMPARE(what, DA_BOOL, got, want, nd, shape, -1);
  free(want), free(got), free(e), free(t);
  da_array_destroy(&r);
  da_array_destroy(&in);
  da_array_destroy(&a);
  da_array_destroy(&b);
}

/* Exact values where float64 would merge them: 2^63 as uint64 is not INT64_MAX, though both
 * round to 2^63 in float64; with a float on either side NumPy compares in float64. */
static void check_isin_exact(void) {
  const int64_t sv[4] = {INT64_MAX, -1, INT64_MIN, 5};
  const uint64_t uv[3] = {UINT64_C(1) << 63, UINT64_MAX, 5};
  int64_t s4[1] = {4}, s3[1] = {3};
  da_array si, ui, r, f;
  TU_OK(ctx, da_from_root(ctx, 0, 1, s4, DA_CHUNKS(3), DA_INT64, sv, sizeof sv, &si));
  TU_OK(ctx, da_from_root(ctx, 0, 1, s3, DA_CHUNKS(2), DA_UINT64, uv, sizeof uv, &ui));
  uint8_t got[4];
  TU_OK(ctx, da_isin(si, ui, 0, &r));
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, got, 4));
  CHECKF(!got[0] && !got[1] && !got[2] && got[3], "int64 in uint64: %d %d %d %d", got[0], got[1],
         got[2], got[3]);
  da_array_destroy(&r);
  TU_OK(ctx, da_isin(ui, si, 1, &r));
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, got, 3));
  CHECKF(got[0] && got[1] && !got[2], "uint64 not in int64: %d %d %d", got[0], got[1], got[2]);
  da_array_destroy(&r);
  /* In float64 INT64_MAX and 2^63 are one value. */
  TU_OK(ctx, da_astype(ui, DA_FLOAT64, &f));
  TU_OK(ctx, da_isin(si, f, 0, &r));
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, got, 4));
  CHECKF(got[0] && !got[1] && !got[2] && got[3], "int64 in float64: %d %d %d %d", got[0], got[1],
         got[2], got[3]);
  da_array_destroy(&r);
  da_array_destroy(&f);
  da_array_destroy(&si);
  da_array_destroy(&ui);
}

/* ---------------------------------------------------------------- nonzero, argwhere */

static void check_nonzero(tu_rng *rng, int c) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32, DA_INT64, DA_UINT8, DA_BOOL};
  da_dtype dt = dts[c % 6];
  int nd = (int)tu_int(rng, 1, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(rng, nd, 500, true, shape);
  tu_chunking ck;
  tu_random_chunks(rng, nd, shape, 40, &ck);
  int64_t n = tu_prod(nd, shape);
  size_t es = da_dtype_size(dt);
  void *buf = tu_malloc((size_t)n * es);
  int mode = (c / 6) % 4; /* all zero, all nonzero, sparse, dense */
  double density = mode == 0 ? 0 : mode == 1 ? 1 : mode == 2 ? 0.05 : 0.6;
  for (int64_t i = 0; i < n; i++) {
    bool nz = tu_unit(rng) < density;
    double v = 0;
    if (nz)
      v = tu_is_float(dt) && tu_chance(rng, 0.2) ? NAN : (double)tu_int(rng, 1, 9);
    else if (tu_is_float(dt) && tu_chance(rng, 0.5))
      v = -0.0;
    tu_set(dt, buf, i, v);
  }
  da_array a, in, nzs[DA_MAX_NDIM], aw, cnt;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &a));
  if (c % 2 == 0 && dt == DA_BOOL)
    TU_OK(ctx, da_logical_or(DA_V(a), da_value_bool(0), &in));
  else if (c % 2 == 0)
    TU_OK(ctx, da_add(DA_V(a), DA_V(0), &in));
  else
    TU_OK(ctx, da_array_ref(a, &in));
  TU_OK(ctx, da_nonzero(in, nzs));
  TU_OK(ctx, da_argwhere(in, &aw));
  /* The reference: every index, in C order, where the element is nonzero. */
  int64_t count = 0, *want = tu_malloc((size_t)n * (size_t)nd * sizeof *want);
  for (int64_t i = 0; i < n; i++) {
    if (tu_get(dt, buf, i) == 0)
      continue;
    int64_t rest = i;
    for (int d = nd - 1; d >= 0; d--)
      want[count * nd + d] = rest % shape[d], rest /= shape[d];
    count++;
  }
  int64_t total = -1;
  TU_OK(ctx, da_count_nonzero(in, 0, NULL, 0, &cnt));
  TU_OK(ctx, da_compute(cnt, DA_ALL_RANKS, &total, sizeof total));
  CHECKF(total == count, "case %d: count_nonzero %lld, want %lld", c, (long long)total,
         (long long)count);
  char what[256], s[64];
  int64_t *col = tu_malloc((size_t)(count ? count : 1) * sizeof *col);
  for (int d = 0; d < nd; d++) {
    CHECKF(da_array_ndim(nzs[d]) == 1 && da_array_shape(nzs[d])[0] == count &&
               da_array_dtype(nzs[d]) == DA_INT64 && da_array_is_lazy(nzs[d]),
           "case %d: nonzero[%d]'s shape, dtype or laziness", c, d);
    int64_t sum = 0;
    for (int64_t j = 0; j < da_array_numblocks(nzs[d])[0]; j++)
      sum += da_array_chunks(nzs[d], 0)[j];
    CHECKF(sum == count, "case %d: nonzero[%d]'s chunks sum to %lld", c, d, (long long)sum);
    int64_t *got = tu_gather_all(nzs[d]);
    for (int64_t i = 0; i < count; i++)
      col[i] = want[i * nd + d];
    snprintf(what, sizeof what, "case %d: nonzero(%s %s)[%d]", c, da_dtype_name(dt),
             tu_shape_str(nd, shape, s, sizeof s), d);
    COMPARE_N(what, DA_INT64, got, col, count, -1, 0);
    free(got);
  }
  int64_t awshape[2] = {count, nd};
  CHECKF(da_array_ndim(aw) == 2 && !memcmp(da_array_shape(aw), awshape, sizeof awshape) &&
             da_array_numblocks(aw)[1] == 1,
         "case %d: argwhere's shape or chunks", c);
  int64_t *got = tu_gather_all(aw);
  snprintf(what, sizeof what, "case %d: argwhere(%s %s)", c, da_dtype_name(dt),
           tu_shape_str(nd, shape, s, sizeof s));
  COMPARE(what, DA_INT64, got, want, 2, awshape, -1);
  free(got), free(col), free(want), free(buf);
  for (int d = 0; d < nd; d++)
    da_array_destroy(&nzs[d]);
  da_array_destroy(&aw);
  da_array_destroy(&cnt);
  da_array_destroy(&in);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- errors */

/* rc must be code on every rank, with a message. */
static void expect(int rc, int code, const char *what) {
  int lo = rc, hi = rc;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECKF(lo == code && hi == code && *da_ctx_errmsg(ctx), "%s: rc %d..%d, want %d", what, lo, hi,
         code);
}

static void check_errors(void) {
  da_array a, s, r = NULL, nzs[2] = {NULL, NULL};
  TU_OK(ctx, da_zeros(ctx, 2, (const int64_t[]){6, 4}, DA_CHUNKS(4, 3), DA_FLOAT64, &a));
  TU_OK(ctx, da_zeros(ctx, 0, NULL, NULL, DA_INT32, &s));
  expect(da_topk(a, 0, 0, &r), DA_ERR_ARG, "topk k 0");
  expect(da_topk(a, 7, 0, &r), DA_ERR_ARG, "topk k past the axis");
  expect(da_argtopk(a, -5, 1, &r), DA_ERR_ARG, "argtopk -k past the axis");
  expect(da_argtopk(a, INT64_MIN, 1, &r), DA_ERR_ARG, "argtopk k INT64_MIN");
  expect(da_topk(a, 2, 2, &r), DA_ERR_ARG, "topk axis 2 of 2-d");
  expect(da_argtopk(a, 2, -3, &r), DA_ERR_ARG, "argtopk axis -3 of 2-d");
  expect(da_topk(s, 1, 0, &r), DA_ERR_ARG, "topk of 0-d");
  expect(da_topk(a, 2, 0, NULL), DA_ERR_ARG, "topk out NULL");
  expect(da_isin(a, NULL, 0, &r), DA_ERR_ARG, "isin test NULL");
  expect(da_isin(a, s, 0, NULL), DA_ERR_ARG, "isin out NULL");
  expect(da_nonzero(s, nzs), DA_ERR_SHAPE, "nonzero of 0-d");
  expect(da_argwhere(s, &r), DA_ERR_SHAPE, "argwhere of 0-d");
  expect(da_nonzero(a, NULL), DA_ERR_ARG, "nonzero out NULL");
  CHECK(r == NULL && nzs[0] == NULL && nzs[1] == NULL);
  CHECK(da_topk(NULL, 1, 0, &r) == DA_ERR_ARG && da_nonzero(NULL, nzs) == DA_ERR_ARG);
  /* The largest |k| is fine, and an empty other axis gives an empty result. */
  da_array e;
  TU_OK(ctx, da_zeros(ctx, 2, (const int64_t[]){0, 5}, DA_CHUNKS(2, 2), DA_INT32, &e));
  TU_OK(ctx, da_topk(e, -5, 1, &r));
  CHECK(da_array_shape(r)[0] == 0 && da_array_shape(r)[1] == 5);
  int32_t dummy;
  TU_OK(ctx, da_compute(r, DA_ALL_RANKS, &dummy, 0));
  da_array_destroy(&r);
  da_array_destroy(&e);
  da_array_destroy(&a);
  da_array_destroy(&s);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t730-select");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  tu_rng rng = tu_rng_make(730);
  for (int c = 0; c < 64; c++) {
    check_topk(&rng, c);
    tu_sync();
  }
  for (int c = 0; c < 48; c++) {
    check_isin(&rng, c);
    tu_sync();
  }
  check_isin_exact();
  for (int c = 0; c < 48; c++) {
    check_nonzero(&rng, c);
    tu_sync();
  }
  check_errors();
  da_ctx_destroy(&ctx);
  return tu_finish();
}
