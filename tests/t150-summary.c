/* The text summary of arrays: shapes, chunk shapes, byte sizes, chunk and graph layer counts,
 * dtype and layout; and its snprintf-like behaviour when the buffer is too small. */
#include "test_util.h"

static da_ctx ctx;

/* The summary of a (the buffer is static: one summary at a time). */
static const char *summary(da_array a) {
  static char buf[4096];
  int n = da_array_summary(a, buf, sizeof buf);
  CHECKF(n > 0 && (size_t)n < sizeof buf && strlen(buf) == (size_t)n, "summary length %d", n);
  return buf;
}

/* CONTAINS(text, piece): the summary text has the piece. */
#define CONTAINS(text, piece)                                                                      \
  CHECKF(strstr((text), (piece)) != NULL, "the summary lacks \"%s\":\n%s", (piece), (text))
#define LACKS(text, piece)                                                                         \
  CHECKF(strstr((text), (piece)) == NULL, "the summary has \"%s\":\n%s", (piece), (text))

static void test_big(void) {
  /* Dask's example: da.ones((20000, 20000), chunks=(2000, 2000)). Lazy: nothing is allocated. */
  da_array a, s, s0;
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){20000, 20000}, DA_CHUNKS(2000, 2000), DA_FLOAT64, &a));
  const char *t = summary(a);
  CONTAINS(t, "(20000, 20000)");
  CONTAINS(t, "(2000, 2000)");
  CONTAINS(t, "2.98 GiB");
  CONTAINS(t, "30.52 MiB");
  CONTAINS(t, "100 chunks in 1 graph layer");
  LACKS(t, "layers");
  CONTAINS(t, "float64");
  CONTAINS(t, "lazy");
  CONTAINS(t, "process grid");

  /* A reduction adds two layers: ones, the partial sums, the sum. */
  TU_OK(ctx, da_sum(a, 0, NULL, 0, &s));
  t = summary(s);
  CONTAINS(t, "3 graph layers");
  CONTAINS(t, "float64");
  CONTAINS(t, "8 B");
  TU_OK(ctx, da_sum(a, 1, (int[]){0}, 0, &s0));
  t = summary(s0);
  CONTAINS(t, "3 graph layers");
  CONTAINS(t, "(20000,)");
  CONTAINS(t, "(2000,)");
  CONTAINS(t, "156.25 kiB"); /* 20000 x 8 bytes */
  CONTAINS(t, "10 chunks");
  /* Its input's summary is unchanged. */
  t = summary(a);
  CONTAINS(t, "100 chunks in 1 graph layer");
  da_array_destroy(&s0);
  da_array_destroy(&s);
  da_array_destroy(&a);
}

static void test_small(void) {
  da_array a, m;
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){10}, DA_CHUNKS(5), DA_FLOAT64, &a));
  const char *t = summary(a);
  CONTAINS(t, "80 B");
  CONTAINS(t, "40 B");
  CONTAINS(t, "(10,)");
  CONTAINS(t, "(5,)");
  CONTAINS(t, "2 chunks in 1 graph layer");
  CONTAINS(t, "lazy");
  /* Persisted: the blocks are the array, one layer, materialized. */
  TU_OK(ctx, da_mean(a, 0, NULL, 1, &m));
  TU_OK(ctx, da_persist(m));
  t = summary(m);
  CONTAINS(t, "1 graph layer");
  CONTAINS(t, "materialized");
  CONTAINS(t, "(1,)");
  da_array_destroy(&m);
  da_array_destroy(&a);

  /* The dtype names, and the result dtypes of reductions. */
  static const char *const names[] = {"bool",   "int8",   "int16",  "int32",   "int64",  "uint8",
                                      "uint16", "uint32", "uint64", "float32", "float64"};
  for (int dt = 0; dt < DA_NDTYPES; dt++) {
    TU_OK(ctx, da_zeros(ctx, 3, (int64_t[]){4, 5, 6}, DA_CHUNKS(2, 5, 4), (da_dtype)dt, &a));
    t = summary(a);
    CONTAINS(t, names[dt]);
    CONTAINS(t, "(4, 5, 6)");
    CONTAINS(t, "(2, 5, 4)");
    CONTAINS(t, "4 chunks in 1 graph layer");
    TU_OK(ctx, da_sum(a, 2, (int[]){0, -1}, 1, &m));
    t = summary(m);
    CONTAINS(t, (dt >= DA_UINT8 && dt <= DA_UINT64) ? "uint64"
                : dt >= DA_FLOAT32                  ? names[dt]
                                                    : "int64");
    CONTAINS(t, "(1, 5, 1)");
    da_array_destroy(&m);
    da_array_destroy(&a);
  }

  /* A 0-d array: the empty tuple. */
  TU_OK(ctx, da_full(ctx, 0, NULL, NULL, DA_INT32, 7, &a));
  t = summary(a);
  CONTAINS(t, "()");
  CONTAINS(t, "4 B");
  CONTAINS(t, "int32");
  da_array_destroy(&a);
}

/* Too small a buffer: the length needed comes back, the text is cut and terminated, and
 * nothing past the buffer is written. */
static void test_truncation(void) {
  da_array a;
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){20000, 20000}, DA_CHUNKS(2000, 2000), DA_FLOAT64, &a));
  char full[4096];
  int n = da_array_summary(a, full, sizeof full);
  CHECK(n > 20 && (size_t)n == strlen(full));
  CHECK(da_array_summary(a, NULL, 0) == n);
  size_t sizes[] = {1, 2, 10, 17, 64, (size_t)n - 1, (size_t)n, (size_t)n + 1};
  for (int i = 0; i < 8; i++) {
    char buf[4200];
    memset(buf, '#', sizeof buf);
    int m = da_array_summary(a, buf, sizes[i]);
    CHECKF(m == n, "buffer of %zu: returned %d, want %d", sizes[i], m, n);
    size_t kept = sizes[i] - 1 < (size_t)n ? sizes[i] - 1 : (size_t)n;
    CHECKF(buf[kept] == '\0' && memcmp(buf, full, kept) == 0, "buffer of %zu", sizes[i]);
    bool untouched = true;
    for (size_t j = sizes[i]; j < sizeof buf; j++)
      untouched &= buf[j] == '#';
    CHECKF(untouched, "buffer of %zu: written past its end", sizes[i]);
  }
  char one = '#';
  CHECK(da_array_summary(a, &one, 0) == n && one == '#');
  da_array_destroy(&a);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t150-summary");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  test_big();
  tu_sync();
  test_small();
  tu_sync();
  test_truncation();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
