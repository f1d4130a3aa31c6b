/* Creation: zeros, ones, full, empty, arange, linspace, eye and the *_like forms over random
 * shapes, uneven chunkings and every dtype, against serial references; chunk metadata. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx;
static const da_dtype all_dtypes[] = TU_ALL_DTYPES;

/* The metadata of a against the request it was made from. */
static void check_meta(da_array a, int ndim, const int64_t shape[], const da_chunks *req,
                       da_dtype dt) {
  CHECK(da_array_ctx(a) == ctx);
  CHECK(da_array_ndim(a) == ndim);
  CHECK(da_array_dtype(a) == dt);
  CHECK(da_array_is_lazy(a));
  CHECK(memcmp(da_array_shape(a), shape, (size_t)ndim * sizeof(int64_t)) == 0);
  CHECK(da_array_size(a) == tu_prod(ndim, shape));
  CHECK(da_array_nbytes(a) == tu_prod(ndim, shape) * (int64_t)da_dtype_size(dt));
  int64_t nblocks = 1;
  for (int d = 0; d < ndim; d++) {
    int64_t *want = tu_malloc((size_t)tu_expected_nchunks(req, d, shape[d]) * sizeof(int64_t));
    int64_t n = tu_expected_chunks(req, d, shape[d], want), largest = 0;
    CHECKF(da_array_numblocks(a)[d] == n, "axis %d: %lld blocks, want %lld", d,
           (long long)da_array_numblocks(a)[d], (long long)n);
    CHECKF(memcmp(da_array_chunks(a, d), want, (size_t)n * sizeof(int64_t)) == 0, "axis %d", d);
    for (int64_t i = 0; i < n; i++)
      largest = want[i] > largest ? want[i] : largest;
    CHECKF(da_array_chunksize(a)[d] == largest, "axis %d: chunksize %lld, want %lld", d,
           (long long)da_array_chunksize(a)[d], (long long)largest);
    nblocks *= n;
    free(want);
  }
  CHECK(da_array_nblocks(a) == nblocks);
  CHECK(da_array_chunks(a, ndim) == NULL);
}

/* Computes a to rank 0, to another rank now and then, and to every rank; compares with want. */
static void check_values(da_array a, const void *want, const char *what) {
  tu_state *st = tu_st();
  int ndim = da_array_ndim(a);
  const int64_t *shape = da_array_shape(a);
  size_t bytes = (size_t)da_array_nbytes(a);
  void *buf = tu_malloc(bytes);
  int other = (int)tu_int(&rng, 0, st->size - 1);
  for (int i = 0; i < 2; i++) {
    int root = i == 0 ? 0 : other;
    if (i == 1 && root == 0)
      break;
    memset(buf, 0xa5, bytes);
    TU_OK(ctx, da_compute(a, root, st->rank == root ? buf : NULL, st->rank == root ? bytes : 0));
    if (st->rank == root)
      COMPARE(what, da_array_dtype(a), buf, want, ndim, shape, -1);
  }
  memset(buf, 0x5a, bytes);
  TU_OK(ctx, da_compute(a, DA_ALL_RANKS, buf, bytes));
  COMPARE(what, da_array_dtype(a), buf, want, ndim, shape, -1);
  CHECK(da_array_is_lazy(a)); /* compute leaves a lazy array lazy */
  free(buf);
}

/* A value that full() can store exactly in dt. */
static double full_value(da_dtype dt) {
  if (dt == DA_BOOL)
    return tu_chance(&rng, 0.5) ? 1 : 0;
  if (tu_is_unsigned(dt))
    return (double)tu_int(&rng, 0, 255);
  if (tu_is_signed(dt))
    return (double)tu_int(&rng, -128, 127);
  return (double)tu_int(&rng, -1000000, 1000000) / 64.0 + (tu_chance(&rng, 0.3) ? 0.1 : 0);
}

/* zeros, ones, full and empty of random shapes and chunkings. */
static void test_fills(void) {
  for (int i = 0; i < 88; i++) {
    da_dtype dt = all_dtypes[i % DA_NDTYPES];
    int kind = (i / DA_NDTYPES) % 4, ndim = (int)tu_int(&rng, 0, 5);
    int64_t shape[DA_MAX_NDIM];
    tu_random_shape(&rng, ndim, 2500, true, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, ndim, shape, 150, &ck);
    double value = kind == 0 ? 0 : kind == 1 ? 1 : full_value(dt);
    da_array a = NULL;
    if (kind == 0)
      TU_OK(ctx, da_zeros(ctx, ndim, shape, &ck.c, dt, &a));
    else if (kind == 1)
      TU_OK(ctx, da_ones(ctx, ndim, shape, &ck.c, dt, &a));
    else if (kind == 2)
      TU_OK(ctx, da_full(ctx, ndim, shape, &ck.c, dt, value, &a));
    else
      TU_OK(ctx, da_empty(ctx, ndim, shape, &ck.c, dt, &a));
    check_meta(a, ndim, shape, &ck.c, dt);
    int64_t n = tu_prod(ndim, shape);
    void *want = tu_malloc((size_t)n * da_dtype_size(dt));
    for (int64_t j = 0; j < n; j++)
      tu_set(dt, want, j, value);
    char what[160], sh[128];
    snprintf(what, sizeof what, "%s %s",
             kind == 0   ? "zeros"
             : kind == 1 ? "ones"
             : kind == 2 ? "full"
                         : "empty",
             tu_shape_str(ndim, shape, sh, sizeof sh));
    if (kind < 3) {
      check_values(a, want, what);
    } else { /* empty: any values, but the shape is right and it computes */
      size_t bytes = (size_t)n * da_dtype_size(dt);
      void *buf = tu_malloc(bytes);
      TU_OK(ctx, da_compute(a, DA_ALL_RANKS, buf, bytes));
      free(buf);
    }
    free(want);
    da_array_destroy(&a);
    CHECK(a == NULL);
    tu_sync();
  }
}

/* The range of values a test puts in dt, within +-1e6. */
static void value_range(da_dtype dt, double *lo, double *hi) {
  int bits = (int)da_dtype_size(dt) * 8;
  if (tu_is_signed(dt))
    *lo = bits >= 32 ? -1e6 : -ldexp(1, bits - 1), *hi = bits >= 32 ? 1e6 : ldexp(1, bits - 1) - 1;
  else if (tu_is_unsigned(dt))
    *lo = 0, *hi = bits >= 32 ? 1e6 : ldexp(1, bits) - 1;
  else
    *lo = -1e6, *hi = 1e6;
}

static void test_arange(void) {
  for (int i = 0; i < 40; i++) {
    da_dtype dt = all_dtypes[1 + i % (DA_NDTYPES - 1)]; /* not bool */
    double lo, hi, start, stop, step;
    value_range(dt, &lo, &hi);
    if (tu_is_float(dt)) {
      step = (tu_chance(&rng, 0.5) ? 1 : -1) * (double)tu_int(&rng, 1, 1000) / 37.0;
      start = (double)tu_int(&rng, -5000, 5000) / 7.0;
      stop = start + step * (double)tu_int(&rng, 0, 3000) * tu_unit(&rng);
    } else {
      step = (double)tu_int(&rng, 1, 7) * (tu_chance(&rng, 0.5) ? 1 : -1);
      int64_t maxlen = (int64_t)((hi - lo) / fabs(step)) + 1;
      int64_t len = tu_int(&rng, 0, maxlen < 3000 ? maxlen : 3000);
      double first = step > 0 ? lo : lo + fabs(step) * (double)(len > 0 ? len - 1 : 0);
      double last = step > 0 ? hi - step * (double)(len > 0 ? len - 1 : 0) : hi;
      start = floor(first + (last - first) * tu_unit(&rng));
      stop = start + step * (double)len - step * tu_unit(&rng) * 0.99; /* ceil gives len */
    }
    if (i % 10 == 9) /* an empty range: stop on the wrong side */
      stop = start - step;
    tu_chunking ck;
    int64_t want_n = (int64_t)fmax(0, ceil((stop - start) / step));
    tu_random_chunks(&rng, 1, &want_n, 200, &ck);
    da_array a;
    TU_OK(ctx, da_arange(ctx, start, stop, step, &ck.c, dt, &a));
    check_meta(a, 1, &want_n, &ck.c, dt);
    void *want = tu_malloc((size_t)want_n * da_dtype_size(dt));
    for (int64_t j = 0; j < want_n; j++)
      tu_set(dt, want, j, start + (double)j * step);
    char what[160];
    snprintf(what, sizeof what, "arange(%.17g, %.17g, %.17g)", start, stop, step);
    check_values(a, want, what);
    free(want);
    da_array_destroy(&a);
    tu_sync();
  }
  /* NumPy's examples. */
  da_array a;
  TU_OK(ctx, da_arange(ctx, 0, 1, 0.3, NULL, DA_FLOAT64, &a)); /* [0, 0.3, 0.6, 0.9] */
  CHECK(da_array_shape(a)[0] == 4);
  check_values(a, (double[]){0, 0.3, 0.6, 0.3 * 3}, "arange(0, 1, 0.3)");
  da_array_destroy(&a);
  TU_OK(ctx, da_arange(ctx, 10, 0, -3, DA_CHUNKS(2), DA_INT32, &a)); /* [10, 7, 4, 1] */
  check_values(a, (int32_t[]){10, 7, 4, 1}, "arange(10, 0, -3)");
  da_array_destroy(&a);
  TU_OK(ctx, da_arange(ctx, 5, 5, 1, NULL, DA_INT64, &a));
  CHECK(da_array_shape(a)[0] == 0 && da_array_size(a) == 0);
  TU_OK(ctx, da_compute(a, DA_ALL_RANKS, NULL, 0));
  da_array_destroy(&a);
}

static void test_linspace(void) {
  for (int i = 0; i < 40; i++) {
    da_dtype dt = all_dtypes[1 + i % (DA_NDTYPES - 1)];
    double lo, hi;
    value_range(dt, &lo, &hi);
    int64_t num = i % 8 == 0 ? tu_int(&rng, 0, 2) : tu_int(&rng, 3, 2500);
    int endpoint = (int)tu_int(&rng, 0, 1);
    double start = lo + (hi - lo) * tu_unit(&rng), stop = lo + (hi - lo) * tu_unit(&rng);
    if (!tu_is_float(dt))
      start = floor(start), stop = floor(stop);
    tu_chunking ck;
    tu_random_chunks(&rng, 1, &num, 200, &ck);
    da_array a;
    TU_OK(ctx, da_linspace(ctx, start, stop, num, endpoint, &ck.c, dt, &a));
    check_meta(a, 1, &num, &ck.c, dt);
    int64_t div = endpoint ? num - 1 : num;
    double step = (stop - start) / (double)div;
    void *want = tu_malloc((size_t)num * da_dtype_size(dt));
    for (int64_t j = 0; j < num; j++)
      tu_set(dt, want, j, div > 0 ? start + (double)j * step : start);
    if (endpoint && num > 1)
      tu_set(dt, want, num - 1, stop);
    char what[160];
    snprintf(what, sizeof what, "linspace(%.17g, %.17g, %lld, endpoint=%d)", start, stop,
             (long long)num, endpoint);
    check_values(a, want, what);
    free(want);
    da_array_destroy(&a);
    tu_sync();
  }
  da_array a;
  TU_OK(ctx, da_linspace(ctx, 2, 3, 5, 1, DA_CHUNKS(2), DA_FLOAT64, &a));
  check_values(a, (double[]){2, 2.25, 2.5, 2.75, 3}, "linspace(2, 3, 5)");
  da_array_destroy(&a);
  TU_OK(ctx, da_linspace(ctx, 2, 3, 5, 0, DA_CHUNKS(3), DA_FLOAT64, &a));
  check_values(a, (double[]){2, 2.2, 2.4, 2.6, 2.8}, "linspace(2, 3, 5, endpoint=False)");
  da_array_destroy(&a);
  TU_OK(ctx, da_linspace(ctx, 0.1, 0.7, 3, 1, NULL, DA_FLOAT64, &a)); /* the last is stop */
  check_values(a, (double[]){0.1, 0.1 + 1 * ((0.7 - 0.1) / 2), 0.7}, "linspace(0.1, 0.7, 3)");
  da_array_destroy(&a);
}

static void test_eye(void) {
  for (int i = 0; i < 33; i++) {
    da_dtype dt = all_dtypes[i % DA_NDTYPES];
    int64_t shape[2] = {tu_int(&rng, i < 3 ? 0 : 1, 60), tu_int(&rng, 1, 60)};
    int64_t k = tu_int(&rng, -shape[0] - 2, shape[1] + 2);
    if (i % 4 == 0)
      k = 0;
    if (i % 11 == 5) /* diagonals far outside: all zeros, no overflow */
      k = i % 2 ? INT64_MAX : INT64_MIN;
    if (i % 11 == 6)
      k = i % 2 ? (int64_t)1 << 62 : -((int64_t)1 << 62);
    tu_chunking ck;
    tu_random_chunks(&rng, 2, shape, 150, &ck);
    da_array a;
    TU_OK(ctx, da_eye(ctx, shape[0], shape[1], k, &ck.c, dt, &a));
    check_meta(a, 2, shape, &ck.c, dt);
    void *want = tu_malloc((size_t)(shape[0] * shape[1]) * da_dtype_size(dt));
    for (int64_t r = 0; r < shape[0]; r++)
      for (int64_t c = 0; c < shape[1]; c++)
        tu_set(dt, want, r * shape[1] + c, c - r == k);
    char what[160];
    snprintf(what, sizeof what, "eye(%lld, %lld, k=%lld)", (long long)shape[0], (long long)shape[1],
             (long long)k);
    check_values(a, want, what);
    free(want);
    da_array_destroy(&a);
    tu_sync();
  }
}

/* Same shape, chunks and dtype as the source, lazy or persisted. */
static void test_like(void) {
  for (int i = 0; i < 22; i++) {
    da_dtype dt = all_dtypes[i % DA_NDTYPES];
    int ndim = (int)tu_int(&rng, 0, 4);
    int64_t shape[DA_MAX_NDIM];
    tu_random_shape(&rng, ndim, 2000, true, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, ndim, shape, 100, &ck);
    da_array src;
    TU_OK(ctx, da_full(ctx, ndim, shape, &ck.c, dt, 3, &src));
    if (i % 2)
      TU_OK(ctx, da_persist(src));
    double value = full_value(dt);
    da_array like[4];
    TU_OK(ctx, da_zeros_like(src, &like[0]));
    TU_OK(ctx, da_ones_like(src, &like[1]));
    TU_OK(ctx, da_full_like(src, value, &like[2]));
    TU_OK(ctx, da_empty_like(src, &like[3]));
    int64_t n = tu_prod(ndim, shape);
    void *want = tu_malloc((size_t)n * da_dtype_size(dt));
    for (int j = 0; j < 4; j++) {
      check_meta(like[j], ndim, shape, &ck.c, dt);
      CHECK(da_array_nblocks(like[j]) == da_array_nblocks(src));
      for (int d = 0; d < ndim; d++)
        CHECK(memcmp(da_array_chunks(like[j], d), da_array_chunks(src, d),
                     (size_t)da_array_numblocks(src)[d] * sizeof(int64_t)) == 0);
      if (j == 3)
        break;
      for (int64_t e = 0; e < n; e++)
        tu_set(dt, want, e, j == 0 ? 0 : j == 1 ? 1 : value);
      check_values(like[j], want, j == 0 ? "zeros_like" : j == 1 ? "ones_like" : "full_like");
    }
    for (int j = 0; j < 4; j++)
      da_array_destroy(&like[j]);
    free(want);
    da_array_destroy(&src);
    tu_sync();
  }
}

/* DA_CHUNK_AUTO with a small target: chunks tile the shape and are no larger than the target. */
static void test_auto_chunks(void) {
  for (int i = 0; i < 40; i++) {
    da_dtype dt = all_dtypes[i % DA_NDTYPES];
    int ndim = (int)tu_int(&rng, 1, 4);
    int64_t shape[DA_MAX_NDIM];
    tu_random_shape(&rng, ndim, 20000, false, shape);
    da_chunks req = {.auto_bytes = tu_int(&rng, 64, 4096)};
    int64_t fixed = 1;
    for (int d = 0; d < ndim; d++) {
      int64_t kind = tu_int(&rng, 0, 5);
      req.size[d] = kind <= 3 ? DA_CHUNK_AUTO : kind == 4 ? DA_CHUNK_WHOLE : tu_int(&rng, 1, 4);
      fixed *= kind == 4 ? shape[d] : kind == 5 ? req.size[d] : 1;
    }
    da_array a;
    TU_OK(ctx, da_ones(ctx, ndim, shape, &req, dt, &a));
    int64_t elems = 1;
    for (int d = 0; d < ndim; d++) {
      const int64_t *c = da_array_chunks(a, d);
      int64_t sum = 0, nb = da_array_numblocks(a)[d];
      for (int64_t j = 0; j < nb; j++) {
        CHECKF(c[j] > 0, "axis %d chunk %lld has length %lld", d, (long long)j, (long long)c[j]);
        sum += c[j];
      }
      CHECKF(sum == shape[d], "axis %d: chunks sum to %lld, shape %lld", d, (long long)sum,
             (long long)shape[d]);
      if (req.size[d] == DA_CHUNK_WHOLE)
        CHECK(nb == 1 && c[0] == shape[d]);
      else if (req.size[d] > 0)
        CHECK(da_array_chunksize(a)[d] == (req.size[d] < shape[d] ? req.size[d] : shape[d]));
      elems *= da_array_chunksize(a)[d];
    }
    int64_t es = (int64_t)da_dtype_size(dt);
    if (fixed * es <= req.auto_bytes)
      CHECKF(elems * es <= req.auto_bytes, "chunk of %lld bytes, target %lld",
             (long long)(elems * es), (long long)req.auto_bytes);
    int64_t n = tu_prod(ndim, shape);
    void *want = tu_malloc((size_t)n * (size_t)es);
    for (int64_t e = 0; e < n; e++)
      tu_set(dt, want, e, 1);
    check_values(a, want, "ones with auto chunks");
    free(want);
    da_array_destroy(&a);
    tu_sync();
  }
  /* Exact cases: 100 elements of float64 in 800 bytes. */
  da_array a;
  da_chunks req = {.size = {DA_CHUNK_AUTO}, .auto_bytes = 800};
  TU_OK(ctx, da_zeros(ctx, 1, (int64_t[]){1000}, &req, DA_FLOAT64, &a));
  CHECK(da_array_numblocks(a)[0] == 10 && da_array_chunksize(a)[0] == 100);
  da_array_destroy(&a);
  da_chunks req2 = {.size = {DA_CHUNK_AUTO, DA_CHUNK_AUTO}, .auto_bytes = 800};
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){100, 100}, &req2, DA_FLOAT64, &a));
  CHECK(da_array_chunksize(a)[0] == 10 && da_array_chunksize(a)[1] == 10);
  CHECK(da_array_nblocks(a) == 100);
  da_array_destroy(&a);
  /* A NULL request is auto on every axis with the context's 128 MiB: small arrays are one chunk. */
  TU_OK(ctx, da_zeros(ctx, 3, (int64_t[]){30, 40, 50}, NULL, DA_INT16, &a));
  CHECK(da_array_nblocks(a) == 1 && da_array_chunksize(a)[2] == 50);
  da_array_destroy(&a);
  /* DA_CHUNK_WHOLE, DA_CHUNKS() and sizes beyond the axis. */
  TU_OK(ctx,
        da_ones(ctx, 3, (int64_t[]){7, 9, 11}, DA_CHUNKS(DA_CHUNK_WHOLE, 4, 100), DA_UINT16, &a));
  CHECK(da_array_numblocks(a)[0] == 1 && da_array_chunksize(a)[0] == 7);
  CHECK(da_array_numblocks(a)[1] == 3 && da_array_chunks(a, 1)[2] == 1);
  CHECK(da_array_numblocks(a)[2] == 1 && da_array_chunksize(a)[2] == 11);
  da_array_destroy(&a);
  /* Explicit lists, zero-length chunks included. */
  da_chunks lists = {.list = {(int64_t[]){0, 3, 0, 4, 0}, (int64_t[]){5}}, .nlist = {5, 1}};
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){7, 5}, &lists, DA_INT8, &a));
  CHECK(da_array_numblocks(a)[0] == 5 && da_array_nblocks(a) == 5);
  CHECK(da_array_chunksize(a)[0] == 4 && da_array_chunks(a, 0)[3] == 4);
  int8_t ones[35];
  memset(ones, 1, sizeof ones);
  check_values(a, ones, "ones with zero-length chunks");
  da_array_destroy(&a);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t110-creation");
  rng = tu_rng_make(110);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  test_fills();
  test_arange();
  test_linspace();
  test_eye();
  test_like();
  test_auto_chunks();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
