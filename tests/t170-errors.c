/* Bad input: every error comes back as the same nonzero code on every rank with a message,
 * never an abort or a hang, and the context goes on working afterwards. */
#include "test_util.h"

static da_ctx ctx;

/* The context still computes: the sum of arange(100) in chunks of 7. */
static void still_works(const char *file, int line) {
  da_array x, s;
  int64_t got = -1;
  int rc = da_arange(ctx, 0, 100, 1, DA_CHUNKS(7), DA_INT64, &x);
  if (!rc) {
    rc = da_sum(x, 0, NULL, 0, &s);
    if (!rc)
      rc = da_compute(s, DA_ALL_RANKS, &got, sizeof got);
    da_array_destroy(&s);
    da_array_destroy(&x);
  }
  tu_record(rc == 0 && got == 4950, file, line, "the context no longer works: rc %d, sum %lld", rc,
            (long long)got);
}

/* rc is the error want (any error when want is 0) on every rank alike, the context's message
 * names it, and the context still works. */
static void expect(int rc, int want, const char *what, const char *file, int line) {
  tu_record(rc != 0 && (want == 0 || rc == want), file, line, "%s returned %d (%s), want %d (%s)",
            what, rc, da_strerror(rc), want, want ? da_strerror(want) : "any error");
  int lo = 0, hi = 0;
  MPI_Allreduce(&rc, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&rc, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  tu_record(lo == hi, file, line, "%s: ranks disagree, codes %d to %d", what, lo, hi);
  const char *msg = da_ctx_errmsg(ctx);
  tu_record(msg && msg[0] && strstr(msg, da_strerror(rc)), file, line,
            "%s: message \"%s\" does not name \"%s\"", what, msg ? msg : "(null)", da_strerror(rc));
  still_works(file, line);
}
#define EXPECT(call, want) expect((call), (want), #call, __FILE__, __LINE__)

/* For calls on a NULL array, which have no context to hold a message. */
#define EXPECT_CODE(call, want)                                                                    \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    CHECKF(rc_ == (want), "%s returned %d, want %d", #call, rc_, (want));                          \
  } while (0)

static void test_shapes(void) {
  int64_t shape17[17], bad[2] = {3, -2}, huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  int64_t hugebytes[2] = {(int64_t)1 << 31, (int64_t)1 << 31}; /* 2^62 elements, 2^65 bytes */
  for (int i = 0; i < 17; i++)
    shape17[i] = 1;
  da_array a = NULL;
  EXPECT(da_zeros(ctx, -1, shape17, NULL, DA_FLOAT64, &a), DA_ERR_SHAPE);
  CHECK(a == NULL);
  EXPECT(da_ones(ctx, 17, shape17, NULL, DA_FLOAT64, &a), DA_ERR_SHAPE);
  EXPECT(da_empty(ctx, 1000, shape17, NULL, DA_INT8, &a), DA_ERR_SHAPE);
  EXPECT(da_random_uniform(ctx, 1, 0, 1, 17, shape17, NULL, DA_FLOAT64, &a), DA_ERR_SHAPE);
  EXPECT(da_from_root(ctx, 0, -1, shape17, NULL, DA_INT32, NULL, 0, &a), DA_ERR_SHAPE);
  EXPECT(da_from_blocks(ctx, 17, shape17, NULL, DA_INT32, NULL, NULL, DA_COPY, &a), DA_ERR_SHAPE);
  CHECK(a == NULL);

  EXPECT(da_zeros(ctx, 2, bad, NULL, DA_FLOAT64, &a), DA_ERR_SHAPE);
  EXPECT(da_full(ctx, 2, bad, DA_CHUNKS(1, 1), DA_UINT16, 3, &a), DA_ERR_SHAPE);
  EXPECT(da_random_normal(ctx, 1, 0, 1, 2, bad, NULL, DA_FLOAT32, &a), DA_ERR_SHAPE);
  EXPECT(da_random_randint(ctx, 1, 0, 5, 2, bad, NULL, DA_INT32, &a), DA_ERR_SHAPE);
  EXPECT(da_from_root(ctx, 0, 2, bad, NULL, DA_INT32, NULL, 0, &a), DA_ERR_SHAPE);
  EXPECT(da_eye(ctx, -3, 4, 0, NULL, DA_FLOAT64, &a), DA_ERR_SHAPE);

  EXPECT(da_zeros(ctx, 2, huge, NULL, DA_INT8, &a), DA_ERR_OVERFLOW);
  EXPECT(da_zeros(ctx, 2, huge, DA_CHUNKS(1 << 20, 1 << 20), DA_INT8, &a), DA_ERR_OVERFLOW);
  EXPECT(da_ones(ctx, 2, hugebytes, DA_CHUNKS(1 << 20, 1 << 20), DA_FLOAT64, &a), DA_ERR_OVERFLOW);
  EXPECT(da_random_uniform(ctx, 1, 0, 1, 2, huge, NULL, DA_FLOAT64, &a), DA_ERR_OVERFLOW);
  EXPECT(da_from_root(ctx, 0, 2, huge, NULL, DA_UINT8, NULL, 0, &a), DA_ERR_OVERFLOW);
  EXPECT(da_arange(ctx, 0, 1e19, 1, NULL, DA_INT64, &a), DA_ERR_OVERFLOW);
  CHECK(a == NULL);
}

static void test_dtypes(void) {
  int64_t shape[2] = {4, 5};
  da_array a = NULL, x;
  da_dtype bad[] = {(da_dtype)99, (da_dtype)-1, DA_NDTYPES};
  for (int i = 0; i < 3; i++) {
    EXPECT(da_zeros(ctx, 2, shape, NULL, bad[i], &a), DA_ERR_DTYPE);
    EXPECT(da_full(ctx, 2, shape, NULL, bad[i], 1, &a), DA_ERR_DTYPE);
    EXPECT(da_arange(ctx, 0, 10, 1, NULL, bad[i], &a), DA_ERR_DTYPE);
    EXPECT(da_linspace(ctx, 0, 1, 10, 1, NULL, bad[i], &a), DA_ERR_DTYPE);
    EXPECT(da_eye(ctx, 3, 3, 0, NULL, bad[i], &a), DA_ERR_DTYPE);
    EXPECT(da_from_root(ctx, 0, 2, shape, NULL, bad[i], NULL, 0, &a), DA_ERR_DTYPE);
    EXPECT(da_from_blocks(ctx, 2, shape, NULL, bad[i], NULL, NULL, DA_COPY, &a), DA_ERR_DTYPE);
    EXPECT(da_random_uniform(ctx, 1, 0, 1, 2, shape, NULL, bad[i], &a), DA_ERR_DTYPE);
    EXPECT(da_random_randint(ctx, 1, 0, 2, 2, shape, NULL, bad[i], &a), DA_ERR_DTYPE);
  }
  CHECK(a == NULL);
  /* Random numbers of the wrong kind of dtype. */
  EXPECT(da_random_uniform(ctx, 1, 0, 1, 2, shape, NULL, DA_INT32, &a), DA_ERR_DTYPE);
  EXPECT(da_random_normal(ctx, 1, 0, 1, 2, shape, NULL, DA_INT64, &a), DA_ERR_DTYPE);
  EXPECT(da_random_normal(ctx, 1, 0, 1, 2, shape, NULL, DA_BOOL, &a), DA_ERR_DTYPE);
  EXPECT(da_random_randint(ctx, 1, 0, 2, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_DTYPE);
  EXPECT(da_random_randint(ctx, 1, 0, 2, 2, shape, NULL, DA_BOOL, &a), DA_ERR_DTYPE);
  /* The controls succeed. */
  TU_OK(ctx, da_random_randint(ctx, 1, 0, INT64_MAX, 2, shape, NULL, DA_UINT64, &x));
  da_array_destroy(&x);
  TU_OK(ctx, da_random_randint(ctx, 1, -128, 128, 2, shape, NULL, DA_INT8, &x));
  da_array_destroy(&x);
}

static void test_chunks(void) {
  int64_t shape[2] = {7, 5};
  da_array a = NULL;
  EXPECT(da_zeros(ctx, 2, shape, DA_CHUNKS(0, 5), DA_FLOAT64, &a), DA_ERR_CHUNKS);
  EXPECT(da_zeros(ctx, 2, shape, DA_CHUNKS(3, -3), DA_FLOAT64, &a), DA_ERR_CHUNKS);
  EXPECT(da_ones(ctx, 2, shape, DA_CHUNKS(-100, 2), DA_INT8, &a), DA_ERR_CHUNKS);
  EXPECT(da_random_uniform(ctx, 1, 0, 1, 2, shape, DA_CHUNKS(2, 0), DA_FLOAT64, &a), DA_ERR_CHUNKS);
  EXPECT(da_arange(ctx, 0, 10, 1, DA_CHUNKS(0), DA_INT16, &a), DA_ERR_CHUNKS);
  EXPECT(da_from_root(ctx, 0, 2, shape, DA_CHUNKS(0, 1), DA_INT32, NULL, 0, &a), DA_ERR_CHUNKS);
  int64_t shortsum[] = {3, 3}, longsum[] = {3, 3, 3}, negative[] = {5, -1, 3}, fine[] = {5};
  da_chunks lists[] = {
      {.list = {shortsum}, .nlist = {2}},                                    /* 6 != 7 */
      {.list = {longsum}, .nlist = {3}},                                     /* 9 != 7 */
      {.list = {negative}, .nlist = {3}},                                    /* sums to 7, but -1 */
      {.list = {shortsum, fine}, .nlist = {0, 1}},                           /* no entries */
      {.size = {DA_CHUNK_WHOLE}, .list = {NULL, shortsum}, .nlist = {0, 2}}, /* 6 != 5 */
      {.size = {7}, .list = {NULL, fine}, .nlist = {0}}, /* nlist 0 with a list */
  };
  for (int i = 0; i < 6; i++) {
    EXPECT(da_zeros(ctx, 2, shape, &lists[i], DA_FLOAT64, &a), DA_ERR_CHUNKS);
    EXPECT(da_random_normal(ctx, 1, 0, 1, 2, shape, &lists[i], DA_FLOAT64, &a), DA_ERR_CHUNKS);
    EXPECT(da_from_root(ctx, 0, 2, shape, &lists[i], DA_INT32, NULL, 0, &a), DA_ERR_CHUNKS);
    EXPECT(da_from_blocks(ctx, 2, shape, &lists[i], DA_INT32, NULL, NULL, DA_OWN, &a),
           DA_ERR_CHUNKS);
  }
  CHECK(a == NULL);
  EXPECT(da_ctx_set_chunk_bytes(ctx, 0), DA_ERR_ARG);
  EXPECT(da_ctx_set_chunk_bytes(ctx, -1), DA_ERR_ARG);
}

static void test_args(void) {
  da_array a = NULL, x;
  int64_t shape[2] = {6, 4};
  EXPECT(da_arange(ctx, 0, 10, 0, NULL, DA_INT32, &a), DA_ERR_ARG);
  EXPECT(da_arange(ctx, NAN, 10, 1, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_arange(ctx, 0, INFINITY, 1, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_linspace(ctx, 0, 1, -1, 1, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_linspace(ctx, 0, NAN, 5, 1, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  /* Random parameters. */
  EXPECT(da_random_uniform(ctx, 1, 1, 1, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_random_uniform(ctx, 1, 2, 1, 2, shape, NULL, DA_FLOAT32, &a), DA_ERR_ARG);
  EXPECT(da_random_uniform(ctx, 1, NAN, 1, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_random_uniform(ctx, 1, 0, INFINITY, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_random_normal(ctx, 1, 0, -1, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_random_normal(ctx, 1, NAN, 1, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, 5, 5, 2, shape, NULL, DA_INT32, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, 5, -5, 2, shape, NULL, DA_INT32, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, 0, 200, 2, shape, NULL, DA_INT8, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, -129, 0, 2, shape, NULL, DA_INT8, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, -1, 10, 2, shape, NULL, DA_UINT8, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, 0, 257, 2, shape, NULL, DA_UINT8, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, -40000, 0, 2, shape, NULL, DA_INT16, &a), DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, 0, (int64_t)1 << 32 | 1, 2, shape, NULL, DA_UINT32, &a),
         DA_ERR_ARG);
  EXPECT(da_random_randint(ctx, 1, -1, 3, 2, shape, NULL, DA_UINT64, &a), DA_ERR_ARG);
  CHECK(a == NULL);
  /* NULL out. */
  EXPECT(da_zeros(ctx, 2, shape, NULL, DA_FLOAT64, NULL), DA_ERR_ARG);
  EXPECT(da_random_uniform(ctx, 1, 0, 1, 2, shape, NULL, DA_FLOAT64, NULL), DA_ERR_ARG);
  EXPECT(da_from_root(ctx, 0, 2, shape, NULL, DA_FLOAT64, NULL, 0, NULL), DA_ERR_ARG);
  TU_OK(ctx, da_ones(ctx, 2, shape, DA_CHUNKS(4, 3), DA_FLOAT64, &x));
  EXPECT(da_sum(x, 0, NULL, 0, NULL), DA_ERR_ARG);
  EXPECT(da_blocks(x, (int64_t[]){0, 0}, (int64_t[]){1, 1}, NULL), DA_ERR_ARG);
  /* Local queries out of range, and the blocks of a lazy array. */
  int rank;
  int64_t v[2];
  void *data;
  EXPECT(da_array_block_owner(x, (int64_t[]){2, 0}, &rank), DA_ERR_BOUNDS);
  EXPECT(da_array_block_shape(x, (int64_t[]){0, -1}, v), DA_ERR_BOUNDS);
  EXPECT(da_array_block_offset(x, (int64_t[]){0, 2}, v), DA_ERR_BOUNDS);
  EXPECT(da_array_local_block_index(x, da_array_local_nblocks(x), v), DA_ERR_BOUNDS);
  EXPECT(da_array_local_block_index(x, -1, v), DA_ERR_BOUNDS);
  EXPECT(da_array_local_block(x, 0, &data), DA_ERR_ARG);
  TU_OK(ctx, da_persist(x));
  EXPECT(da_array_local_block(x, da_array_local_nblocks(x), &data), DA_ERR_BOUNDS);
  da_array_destroy(&x);
  /* No array at all: an error code, and nothing else to hold a message. */
  EXPECT_CODE(da_sum(NULL, 0, NULL, 0, &a), DA_ERR_ARG);
  EXPECT_CODE(da_compute(NULL, 0, NULL, 0), DA_ERR_ARG);
  EXPECT_CODE(da_persist(NULL), DA_ERR_ARG);
  EXPECT_CODE(da_block(NULL, v, &a), DA_ERR_ARG);
  EXPECT_CODE(da_zeros(NULL, 2, shape, NULL, DA_FLOAT64, &a), DA_ERR_ARG);
}

static void test_blocks(void) {
  da_array x, a = NULL;
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){10, 9}, DA_CHUNKS(3, 4), DA_INT32, &x)); /* 4 x 3 */
  EXPECT(da_block(x, (int64_t[]){4, 0}, &a), DA_ERR_BOUNDS);
  EXPECT(da_block(x, (int64_t[]){0, 3}, &a), DA_ERR_BOUNDS);
  EXPECT(da_block(x, (int64_t[]){-5, 0}, &a), DA_ERR_BOUNDS);
  EXPECT(da_block(x, (int64_t[]){0, -4}, &a), DA_ERR_BOUNDS);
  EXPECT(da_blocks(x, (int64_t[]){2, 0}, (int64_t[]){1, 3}, &a), 0);  /* start > stop */
  EXPECT(da_blocks(x, (int64_t[]){0, 0}, (int64_t[]){5, 3}, &a), 0);  /* stop > 4 */
  EXPECT(da_blocks(x, (int64_t[]){-5, 0}, (int64_t[]){4, 3}, &a), 0); /* start < -4 */
  EXPECT(da_blocks(x, (int64_t[]){0, -1}, (int64_t[]){4, 1}, &a), 0); /* 2 > 1 */
  CHECK(a == NULL);
  /* Block ranges that are fine: the controls. */
  TU_OK(ctx, da_blocks(x, (int64_t[]){-4, 1}, (int64_t[]){4, -1}, &a));
  CHECK(da_array_shape(a)[0] == 10 && da_array_shape(a)[1] == 4);
  da_array_destroy(&a);
  TU_OK(ctx, da_block(x, (int64_t[]){-1, -1}, &a));
  CHECK(da_array_shape(a)[0] == 1 && da_array_shape(a)[1] == 1);
  da_array_destroy(&a);
  da_array_destroy(&x);
}

static void test_reductions(void) {
  da_array x, e, a = NULL;
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){6, 4}, DA_CHUNKS(4, 3), DA_FLOAT64, &x));
  EXPECT(da_sum(x, 1, (int[]){2}, 0, &a), DA_ERR_ARG);
  EXPECT(da_mean(x, 1, (int[]){-3}, 0, &a), DA_ERR_ARG);
  EXPECT(da_min(x, 2, (int[]){0, 0}, 0, &a), DA_ERR_ARG);
  EXPECT(da_max(x, 2, (int[]){1, -1}, 1, &a), DA_ERR_ARG);
  EXPECT(da_sum(x, 3, (int[]){0, 1, 0}, 0, &a), DA_ERR_ARG);
  EXPECT(da_sum(x, -1, (int[]){0}, 0, &a), DA_ERR_ARG);
  CHECK(a == NULL);
  da_array_destroy(&x);
  /* min and max of nothing; the sum of nothing is fine. */
  TU_OK(ctx, da_zeros(ctx, 1, (int64_t[]){0}, NULL, DA_INT32, &e));
  EXPECT(da_min(e, 0, NULL, 0, &a), 0);
  EXPECT(da_max(e, 0, NULL, 1, &a), 0);
  TU_OK(ctx, da_sum(e, 0, NULL, 0, &a));
  int64_t s = -1;
  TU_OK(ctx, da_compute(a, DA_ALL_RANKS, &s, sizeof s));
  CHECK(s == 0);
  da_array_destroy(&a);
  da_array_destroy(&e);
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){3, 0}, DA_CHUNKS(2, 1), DA_FLOAT32, &e));
  EXPECT(da_max(e, 1, (int[]){1}, 0, &a), 0);
  EXPECT(da_min(e, 0, NULL, 0, &a), 0);
  TU_OK(ctx, da_min(e, 1, (int[]){0}, 0, &a)); /* a (0,) result: nothing to take a min of */
  CHECK(da_array_size(a) == 0);
  TU_OK(ctx, da_compute(a, DA_ALL_RANKS, NULL, 0));
  da_array_destroy(&a);
  da_array_destroy(&e);
}

/* A lazy array to gather, and the ways to give it bad buffers. */
static void test_compute(void) {
  tu_state *st = tu_st();
  int last = st->size - 1;
  da_array x;
  TU_OK(ctx, da_arange(ctx, 0, 1000, 1, DA_CHUNKS(90), DA_FLOAT64, &x));
  size_t bytes = 1000 * sizeof(double);
  double *buf = tu_malloc(bytes);
  EXPECT(da_compute(x, DA_ALL_RANKS, buf, bytes - 1), DA_ERR_BUFFER);
  EXPECT(da_compute(x, 0, buf, st->rank == 0 ? bytes - 8 : bytes), DA_ERR_BUFFER);
  EXPECT(da_compute(x, last, st->rank == last ? buf : NULL, st->rank == last ? 8 : 0),
         DA_ERR_BUFFER);
  EXPECT(da_compute(x, DA_ALL_RANKS, buf, st->rank == last ? bytes / 2 : bytes), DA_ERR_BUFFER);
  EXPECT(da_compute(x, 0, NULL, bytes), DA_ERR_ARG);
  EXPECT(da_compute(x, st->size, buf, bytes), DA_ERR_ARG);
  EXPECT(da_compute(x, -2, buf, bytes), DA_ERR_ARG);
  /* The array is as it was. */
  TU_OK(ctx, da_compute(x, DA_ALL_RANKS, buf, bytes));
  bool ok = true;
  for (int i = 0; i < 1000; i++)
    ok &= buf[i] == i;
  CHECK(ok);

  /* da_to_blocks with one rank's buffer short. */
  int64_t nlocal = da_array_local_nblocks(x);
  void **bufs = tu_malloc((size_t)(nlocal + 1) * sizeof *bufs);
  size_t *sizes = tu_malloc((size_t)(nlocal + 1) * sizeof *sizes);
  for (int64_t k = 0; k < nlocal; k++) {
    int64_t bidx[1], shape[1];
    TU_OK(ctx, da_array_local_block_index(x, k, bidx));
    TU_OK(ctx, da_array_block_shape(x, bidx, shape));
    sizes[k] = (size_t)shape[0] * sizeof(double);
    bufs[k] = tu_malloc(sizes[k]);
  }
  int owner = 0; /* the last rank with a block */
  int64_t nb = da_array_nblocks(x);
  TU_OK(ctx, da_array_block_owner(x, &(int64_t){nb - 1}, &owner));
  if (st->rank == owner)
    sizes[nlocal - 1] -= 1;
  EXPECT(da_to_blocks(x, bufs, sizes), DA_ERR_BUFFER);
  if (st->rank == owner)
    sizes[nlocal - 1] += 1;
  TU_OK(ctx, da_to_blocks(x, bufs, sizes));
  for (int64_t k = 0; k < nlocal; k++)
    free(bufs[k]);
  free(bufs);
  free(sizes);
  free(buf);
  da_array_destroy(&x);
}

/* Scatter with a short buffer on the root only; adopt blocks with one rank's too short. */
static void test_user_memory(void) {
  tu_state *st = tu_st();
  int64_t shape[2] = {13, 11};
  const da_chunks *ck = DA_CHUNKS(4, 3);
  size_t bytes = 13 * 11 * sizeof(int16_t);
  int16_t *whole = tu_malloc(bytes);
  for (int i = 0; i < 13 * 11; i++)
    whole[i] = (int16_t)i;
  da_array a = NULL;
  for (int root = 0; root < st->size; root++) {
    bool me = st->rank == root;
    EXPECT(da_from_root(ctx, root, 2, shape, ck, DA_INT16, whole, me ? bytes - 2 : bytes, &a),
           DA_ERR_BUFFER);
    EXPECT(da_from_root(ctx, root, 2, shape, ck, DA_INT16, me ? NULL : whole, bytes, &a),
           DA_ERR_ARG);
  }
  EXPECT(da_from_root(ctx, st->size, 2, shape, ck, DA_INT16, whole, bytes, &a), DA_ERR_ARG);
  EXPECT(da_from_root(ctx, -1, 2, shape, ck, DA_INT16, whole, bytes, &a), DA_ERR_ARG);
  CHECK(a == NULL);

  /* This rank's blocks, from a lazy array of the same layout. */
  da_array layout;
  TU_OK(ctx, da_empty(ctx, 2, shape, ck, DA_INT16, &layout));
  int64_t nlocal = da_array_local_nblocks(layout);
  int owner = 0;
  TU_OK(ctx, da_array_block_owner(layout, (int64_t[]){3, 3}, &owner)); /* the last block */
  size_t *sizes = tu_malloc((size_t)(nlocal + 1) * sizeof *sizes);
  for (int own = DA_COPY; own <= DA_OWN; own++) {
    void **blocks = tu_malloc((size_t)(nlocal + 1) * sizeof *blocks);
    for (int64_t k = 0; k < nlocal; k++) {
      int64_t bidx[2], bs[2];
      TU_OK(ctx, da_array_local_block_index(layout, k, bidx));
      TU_OK(ctx, da_array_block_shape(layout, bidx, bs));
      sizes[k] = (size_t)(bs[0] * bs[1]) * sizeof(int16_t);
      blocks[k] = tu_malloc(sizes[k]);
      memset(blocks[k], 0, sizes[k]);
    }
    if (st->rank == owner)
      sizes[nlocal - 1] -= 1;
    EXPECT(da_from_blocks(ctx, 2, shape, ck, DA_INT16, blocks, sizes, (da_ownership)own, &a),
           DA_ERR_BUFFER);
    CHECK(a == NULL);
    if (st->rank == owner)
      sizes[nlocal - 1] += 1;
    /* One rank gives no blocks although it owns some. */
    EXPECT(da_from_blocks(ctx, 2, shape, ck, DA_INT16, st->rank == owner ? NULL : blocks, sizes,
                          (da_ownership)own, &a),
           DA_ERR_ARG);
    /* After a failure the blocks are still the caller's, whatever the ownership. */
    for (int64_t k = 0; k < nlocal; k++)
      free(blocks[k]);
    free(blocks);
  }
  EXPECT(da_from_blocks(ctx, 2, shape, ck, DA_INT16, NULL, sizes, (da_ownership)7, &a), DA_ERR_ARG);
  free(sizes);
  da_array_destroy(&layout);
  free(whole);
}

/* An array too large to allocate: its one block cannot be made on its owner. 2^57 float64
 * elements (an exbibyte) is beyond any address space, however memory is overcommitted. */
static void test_nomem(void) {
  da_array x, s;
  int64_t n = (int64_t)1 << 57;
  TU_OK(ctx, da_zeros(ctx, 1, &n, DA_CHUNKS(DA_CHUNK_WHOLE), DA_FLOAT64, &x));
  CHECK(da_array_nblocks(x) == 1);
  EXPECT(da_persist(x), DA_ERR_NOMEM);
  CHECK(da_array_is_lazy(x));
  EXPECT(da_persist(x), DA_ERR_NOMEM); /* and again */
  double one;
  EXPECT(da_compute(x, DA_ALL_RANKS, &one, sizeof one), DA_ERR_BUFFER);
  TU_OK(ctx, da_blocks(x, (int64_t[]){0}, (int64_t[]){1}, &s));
  EXPECT(da_persist(s), DA_ERR_NOMEM);
  da_array_destroy(&s);
  da_array_destroy(&x);
  int64_t shape[2] = {(int64_t)1 << 28, (int64_t)1 << 28}; /* 2^59 bytes of uint8 */
  TU_OK(ctx, da_ones(ctx, 2, shape, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), DA_UINT8, &x));
  EXPECT(da_persist(x), DA_ERR_NOMEM);
  da_array_destroy(&x);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t170-errors");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  test_shapes();
  tu_sync();
  test_dtypes();
  tu_sync();
  test_chunks();
  tu_sync();
  test_args();
  tu_sync();
  test_blocks();
  tu_sync();
  test_reductions();
  tu_sync();
  test_compute();
  tu_sync();
  test_user_memory();
  tu_sync();
  test_nomem();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
