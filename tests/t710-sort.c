/* sort and argsort against a serial reference written from NumPy's definition: ascending,
 * NaN last, argsort stable (equal elements, -0.0 and +0.0 included, in index order); sort
 * puts -0.0 before +0.0. 1-D arrays (the distributed sample sort) of random sizes and uneven
 * chunks, empty ones and zero-length chunks among them, lazy inputs and slices; n-D arrays
 * along each axis; every dtype, many ties, NaN, infinities and signed zeros; at 1-4 ranks.
 * Bad axes and 0-d arrays fail on every rank. */
#include "test_util.h"

static da_ctx ctx;

/* NumPy's order of elements i and j of buf: <0, 0 or >0; NaN last and equal to NaN. */
static int cmp_values(da_dtype dt, const void *buf, int64_t i, int64_t j) {
#define CMP_INT(T)                                                                                 \
  {                                                                                                \
    T x = ((const T *)buf)[i], y = ((const T *)buf)[j];                                            \
    return (x > y) - (x < y);                                                                      \
  }
  switch (dt) {
  case DA_BOOL:
  case DA_UINT8:
    CMP_INT(uint8_t)
  case DA_INT8:
    CMP_INT(int8_t)
  case DA_INT16:
    CMP_INT(int16_t)
  case DA_INT32:
    CMP_INT(int32_t)
  case DA_INT64:
    CMP_INT(int64_t)
  case DA_UINT16:
    CMP_INT(uint16_t)
  case DA_UINT32:
    CMP_INT(uint32_t)
  case DA_UINT64:
    CMP_INT(uint64_t)
  default: {
    double x = tu_get(dt, buf, i), y = tu_get(dt, buf, j);
    if (isnan(x) || isnan(y))
      return isnan(x) - isnan(y);
    return (x > y) - (x < y);
  }
  }
#undef CMP_INT
}

static struct {
  da_dtype dt;
  const void *buf;
} sort_data;

/* Stable: equal elements by index. */
static int cmp_argsort(const void *pa, const void *pb) {
  int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
  int c = cmp_values(sort_data.dt, sort_data.buf, i, j);
  return c ? c : (i > j) - (i < j);
}

/* Equal values with -0.0 before +0.0, so the sorted bits are defined. */
static int cmp_sort(const void *pa, const void *pb) {
  int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
  int c = cmp_values(sort_data.dt, sort_data.buf, i, j);
  if (c || !tu_is_float(sort_data.dt))
    return c;
  double x = tu_get(sort_data.dt, sort_data.buf, i), y = tu_get(sort_data.dt, sort_data.buf, j);
  return !!signbit(y) - !!signbit(x);
}

/* The reference of one lane: n elements at stride (in elements) from src, sorted into
 * sorted (dtype dt) and their indices into idx, both at the same stride. */
static void ref_lane(da_dtype dt, const char *src, int64_t n, int64_t stride, char *sorted,
                     int64_t *idx) {
  size_t es = da_dtype_size(dt);
  char *lane = tu_malloc((size_t)n * es);
  int64_t *perm = tu_malloc((size_t)n * sizeof *perm);
  for (int64_t j = 0; j < n; j++)
    memcpy(lane + j * (int64_t)es, src + j * stride * (int64_t)es, es);
  sort_data.dt = dt, sort_data.buf = lane;
  for (int64_t j = 0; j < n; j++)
    perm[j] = j;
  qsort(perm, (size_t)n, sizeof *perm, cmp_argsort);
  for (int64_t j = 0; j < n; j++)
    idx[j * stride] = perm[j];
  qsort(perm, (size_t)n, sizeof *perm, cmp_sort);
  for (int64_t j = 0; j < n; j++)
    memcpy(sorted + j * stride * (int64_t)es, lane + perm[j] * (int64_t)es, es);
  free(lane);
  free(perm);
}

/* Sorted values must match bit for bit, except that any NaN matches any NaN. */
static bool same_sorted(const char *what, da_dtype dt, const void *got, const void *want, int nd,
                        const int64_t shape[]) {
  int64_t n = tu_prod(nd, shape);
  size_t es = da_dtype_size(dt);
  for (int64_t i = 0; i < n; i++) {
    bool ok =
        memcmp((const char *)got + i * (int64_t)es, (const char *)want + i * (int64_t)es, es) == 0;
    if (!ok && tu_is_float(dt))
      ok = isnan(tu_get(dt, got, i)) && isnan(tu_get(dt, want, i));
    if (!ok) {
      tu_report_mismatch(__FILE__, __LINE__, what, dt, got, want, i, nd, shape, 0);
      return false;
    }
  }
  return CHECK(true);
}

/* Random data: a small range for ties, the full range, or for floats a mix with NaN,
 * infinities and signed zeros. */
static void fill(tu_rng *rng, da_dtype dt, void *buf, int64_t n) {
  int kind = (int)tu_int(rng, 0, 2);
  if (kind == 1) {
    tu_fill_random(rng, dt, buf, n);
    return;
  }
  int64_t span = tu_int(rng, 1, 12);
  for (int64_t i = 0; i < n; i++) {
    double v = (double)tu_int(rng, dt == DA_BOOL ? 0 : -span, span);
    if (tu_is_unsigned(dt) || dt == DA_BOOL)
      v = fabs(v);
    if (tu_is_float(dt)) {
      int pick = (int)tu_int(rng, 0, 19);
      v = pick == 0   ? NAN
          : pick == 1 ? -NAN
          : pick == 2 ? INFINITY
          : pick == 3 ? -INFINITY
          : pick == 4 ? -0.0
          : pick == 5 ? 0.0
          : kind == 2 ? (tu_unit(rng) - 0.5) * 1e3
                      : v / 4;
    }
    tu_set(dt, buf, i, v);
  }
}

/* Sorts and argsorts a along axis and checks both against the reference of want (the whole
 * array, C order), the chunks, and that a 1-D result is materialized. */
static void check_sorted(da_array a, int axis, const void *whole, const char *what) {
  int nd = da_array_ndim(a);
  const int64_t *shape = da_array_shape(a);
  da_dtype dt = da_array_dtype(a);
  int ax = axis < 0 ? axis + nd : axis;
  int64_t n = tu_prod(nd, shape), outer = 1, inner = 1, len = shape[ax];
  for (int d = 0; d < nd; d++) {
    if (d < ax)
      outer *= shape[d];
    else if (d > ax)
      inner *= shape[d];
  }
  size_t es = da_dtype_size(dt);
  char *want = tu_malloc((size_t)n * es);
  int64_t *want_idx = tu_malloc((size_t)n * sizeof *want_idx);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t at = o * len * inner + i;
      ref_lane(dt, (const char *)whole + at * (int64_t)es, len, inner, want + at * (int64_t)es,
               want_idx + at);
    }
  da_array s, g;
  TU_OK(ctx, da_sort(a, axis, &s));
  TU_OK(ctx, da_argsort(a, axis, &g));
  CHECKF(da_array_dtype(s) == dt && da_array_dtype(g) == DA_INT64, "%s: dtypes", what);
  for (int d = 0; d < nd; d++) {
    CHECKF(da_array_numblocks(s)[d] == da_array_numblocks(a)[d] &&
               da_array_numblocks(g)[d] == da_array_numblocks(a)[d],
           "%s: block counts differ on axis %d", what, d);
    for (int64_t b = 0; b < da_array_numblocks(a)[d] && b < da_array_numblocks(s)[d]; b++)
      CHECKF(da_array_chunks(s, d)[b] == da_array_chunks(a, d)[b] &&
                 da_array_chunks(g, d)[b] == da_array_chunks(a, d)[b],
             "%s: chunk %lld of axis %d differs", what, (long long)b, d);
  }
  if (nd == 1)
    CHECKF(!da_array_is_lazy(s) && !da_array_is_lazy(g), "%s: 1-D results are materialized", what);
  char *got = tu_gather_all(s);
  int64_t *got_idx = tu_gather_all(g);
  char label[160];
  snprintf(label, sizeof label, "%s: sort", what);
  same_sorted(label, dt, got, want, nd, shape);
  snprintf(label, sizeof label, "%s: argsort", what);
  COMPARE(label, DA_INT64, got_idx, want_idx, nd, shape, -1);
  da_array_destroy(&s);
  da_array_destroy(&g);
  free(got);
  free(got_idx);
  free(want);
  free(want_idx);
}

static const da_dtype dtypes[] = TU_ALL_DTYPES;
#define NDT ((int)(sizeof dtypes / sizeof *dtypes))

/* 1-D: random sizes (0 and 1 among them) and chunkings: many small uneven chunks, zero-length
 * ones, fewer blocks than ranks. */
static void check_flat(tu_rng *rng, int c) {
  da_dtype dt = dtypes[c % NDT];
  int64_t n = c % 9 == 0 ? 0 : c % 9 == 1 ? 1 : tu_int(rng, 2, c % 3 ? 400 : 3000);
  tu_chunking ck;
  tu_random_chunks(rng, 1, &n, 40, &ck);
  if (c % 4 == 3 && n > 1) /* many small blocks */
    ck.c.list[0] = NULL, ck.c.nlist[0] = 0, ck.c.size[0] = tu_int(rng, 1, n / 8 + 1);
  size_t es = da_dtype_size(dt);
  void *buf = tu_malloc((size_t)n * es);
  fill(rng, dt, buf, n);
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &n, &ck.c, dt, buf, (size_t)n * es, &a));
  char what[96];
  snprintf(what, sizeof what, "1-D case %d (%s, n %lld, %lld blocks)", c, da_dtype_name(dt),
           (long long)n, (long long)da_array_numblocks(a)[0]);
  check_sorted(a, c % 2 ? -1 : 0, buf, what);
  da_array_destroy(&a);
  free(buf);
}

/* 1-D inputs that are lazy, or a slice whose blocks stay where they were cut. */
static void check_flat_graphs(void) {
  int64_t n = 2345;
  da_array r, s, x;
  TU_OK(ctx, da_random_randint(ctx, 7, -50, 50, 1, &n, DA_CHUNKS(111), DA_INT32, &r));
  int32_t *whole = tu_gather_all(r);
  check_sorted(r, 0, whole, "lazy randint");
  TU_OK(ctx, da_getitem(r, DA_INDEX(DA_SLICE(150, 2001, 1)), &s));
  check_sorted(s, 0, whole + 150, "slice of randint");
  TU_OK(ctx, da_random_uniform(ctx, 8, -1, 1, 1, &n, DA_CHUNKS(500), DA_FLOAT64, &x));
  double *xw = tu_gather_all(x);
  check_sorted(x, -1, xw, "lazy uniform");
  /* The input is unchanged and still usable. */
  double *again = tu_gather_all(x);
  COMPARE_N("input after sort", DA_FLOAT64, again, xw, n, -1, 0);
  free(again);
  free(xw);
  free(whole);
  da_array_destroy(&s);
  da_array_destroy(&r);
  da_array_destroy(&x);
}

/* n-D along every axis, negative ones too. */
static void check_lanes(tu_rng *rng, int c) {
  da_dtype dt = dtypes[(c * 7) % NDT];
  int nd = (int)tu_int(rng, 2, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(rng, nd, 500, c % 6 == 5, shape);
  tu_chunking ck;
  tu_random_chunks(rng, nd, shape, 24, &ck);
  int64_t n = tu_prod(nd, shape);
  size_t es = da_dtype_size(dt);
  void *buf = tu_malloc((size_t)n * es);
  fill(rng, dt, buf, n);
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &a));
  int axis = (int)tu_int(rng, -nd, nd - 1);
  char what[128], ss[64];
  snprintf(what, sizeof what, "n-D case %d (%s, shape %s, axis %d)", c, da_dtype_name(dt),
           tu_shape_str(nd, shape, ss, sizeof ss), axis);
  check_sorted(a, axis, buf, what);
  da_array_destroy(&a);
  free(buf);
}

/* Runs long enough for the radix sort, keys of 8, 16, 32 and 64 bits; long lanes too. */
static void check_larger(tu_rng *rng) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_INT16, DA_BOOL, DA_FLOAT32, DA_UINT64};
  for (int c = 0; c < 5; c++) {
    da_dtype dt = dts[c];
    int64_t n = tu_int(rng, 15000, 25000), shape[2] = {3, tu_int(rng, 4000, 6000)};
    size_t es = da_dtype_size(dt);
    void *buf = tu_malloc((size_t)n * es);
    fill(rng, dt, buf, n);
    da_array a;
    TU_OK(ctx, da_from_root(ctx, 0, 1, &n, DA_CHUNKS(tu_int(rng, 2500, 7000)), dt, buf,
                            (size_t)n * es, &a));
    char what[96];
    snprintf(what, sizeof what, "larger 1-D (%s, n %lld)", da_dtype_name(dt), (long long)n);
    check_sorted(a, 0, buf, what);
    da_array_destroy(&a);
    n = shape[0] * shape[1];
    buf = realloc(buf, (size_t)n * es);
    fill(rng, dt, buf, n);
    TU_OK(ctx, da_from_root(ctx, 0, 2, shape, DA_CHUNKS(2, 1700), dt, buf, (size_t)n * es, &a));
    snprintf(what, sizeof what, "long lanes (%s)", da_dtype_name(dt));
    check_sorted(a, c % 2 ? 1 : -1, buf, what);
    da_array_destroy(&a);
    free(buf);
  }
}

/* Lanes longer than a chunk's byte budget: the other axes are cut smaller. */
static void check_small_budget(void) {
  int64_t shape[2] = {64, 300};
  da_array a;
  TU_OK(ctx, da_ctx_set_chunk_bytes(ctx, 4096));
  TU_OK(ctx, da_random_randint(ctx, 3, 0, 20, 2, shape, DA_CHUNKS(64, 50), DA_INT16, &a));
  int16_t *whole = tu_gather_all(a);
  check_sorted(a, 1, whole, "small chunk budget, axis 1");
  check_sorted(a, 0, whole, "small chunk budget, axis 0");
  TU_OK(ctx, da_ctx_set_chunk_bytes(ctx, 128 << 20));
  free(whole);
  da_array_destroy(&a);
}

static void check_errors(void) {
  int64_t n = 10;
  da_array a, z, out = NULL;
  TU_OK(ctx, da_ones(ctx, 1, &n, DA_CHUNKS(3), DA_FLOAT64, &a));
  CHECK(da_sort(a, 1, &out) == DA_ERR_ARG && out == NULL);
  CHECK(da_argsort(a, -2, &out) == DA_ERR_ARG && out == NULL);
  CHECK(da_sort(a, 0, NULL) == DA_ERR_ARG);
  CHECK(da_sort(NULL, 0, &out) == DA_ERR_ARG);
  CHECK(da_argsort(NULL, 0, &out) == DA_ERR_ARG);
  TU_OK(ctx, da_ones(ctx, 0, NULL, NULL, DA_INT32, &z));
  CHECK(da_sort(z, 0, &out) == DA_ERR_SHAPE && out == NULL);
  CHECK(da_argsort(z, -1, &out) == DA_ERR_SHAPE && out == NULL);
  int64_t shape[2] = {4, 5};
  da_array m;
  TU_OK(ctx, da_ones(ctx, 2, shape, DA_CHUNKS(2, 2), DA_UINT8, &m));
  CHECK(da_sort(m, 2, &out) == DA_ERR_ARG && out == NULL);
  CHECK(da_argsort(m, -3, &out) == DA_ERR_ARG && out == NULL);
  /* Still usable after the errors. */
  TU_OK(ctx, da_sort(m, -2, &out));
  da_array_destroy(&out);
  da_array_destroy(&m);
  da_array_destroy(&z);
  da_array_destroy(&a);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t710-sort");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  tu_rng rng = tu_rng_make(710);
  for (int c = 0; c < 60; c++)
    check_flat(&rng, c);
  check_flat_graphs();
  for (int c = 0; c < 40; c++)
    check_lanes(&rng, c);
  check_larger(&rng);
  check_small_budget();
  check_errors();
  da_ctx_destroy(&ctx);
  return tu_finish();
}
