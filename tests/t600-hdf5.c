/* Parallel HDF5: round trips of random 0-d to 4-D arrays of every dtype with uneven chunks,
 * deflate on and off, groups, conversion on read, default chunks grown from small ones,
 * attributes (set alone and with a write), in-place updates, stacks of files, and bad input
 * (missing file, group or dataset, files that are not HDF5, read-only targets, a full disk) failing
 * on every rank with the old file intact. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test_util.h"
#include "test_immutable.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static tu_rng rng;
static da_ctx ctx;
static char dir[64];

static const char *file_in(const char *name) {
  static char buf[4][160];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

/* Rank 0 writes a file of bytes (for "not HDF5" and for comparing), everyone waits. */
static void write_text(const char *path, const char *text) {
  if (da_ctx_rank(ctx) == 0) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
      fputs(text, f);
      fclose(f);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* The bytes of a file (rank 0's view, broadcast), for checking it did not change. */
static char *slurp(const char *path, long *len) {
  long n = -1;
  char *buf = NULL;
  if (da_ctx_rank(ctx) == 0) {
    FILE *f = fopen(path, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
      rewind(f);
      buf = tu_malloc((size_t)n);
      if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    }
    if (f)
      fclose(f);
  }
  MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  if (!buf)
    buf = tu_malloc(n > 0 ? (size_t)n : 1);
  if (n > 0)
    MPI_Bcast(buf, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
  *len = n;
  return buf;
}

/* An error expected on every rank: the same nonzero code everywhere, with a message. */
static void expect_error(int rc, int code, const char *what) {
  int lo = rc, hi = rc;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECKF(rc == code && lo == hi, "%s: got %d (%s), want %d on every rank: %s", what, rc,
         da_strerror(rc), code, da_ctx_errmsg(ctx));
  CHECKF(*da_ctx_errmsg(ctx), "%s: no message", what);
}

/* A random array scattered from rank 0; *host holds its values on every rank. */
static da_array random_array(int nd, const int64_t shape[], const da_chunks *chunks, da_dtype dt,
                             void **host) {
  int64_t n = tu_prod(nd, shape);
  *host = tu_malloc((size_t)n * da_dtype_size(dt));
  tu_fill_random(&rng, dt, *host, n);
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, chunks, dt, *host, (size_t)n * da_dtype_size(dt), &a));
  return a;
}

/* ---------------------------------------------------------------- round trips */

static void test_round_trips(void) {
  const da_dtype dts[] = TU_ALL_DTYPES;
  const int ndt = (int)(sizeof dts / sizeof *dts);
  for (int it = 0; it < 16; it++) {
    int nd = it == 0 ? 0 : (int)tu_int(&rng, 1, 4);
    int64_t shape[DA_MAX_NDIM];
    tu_random_shape(&rng, nd, 300, true, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, nd, shape, 12, &ck);
    da_dtype dt = dts[it % ndt];
    void *want;
    da_array a = random_array(nd, shape, &ck.c, dt, &want);
    char name[64], sh[96], what[256];
    snprintf(name, sizeof name, "/g%d/sub/d%d", it % 3, it);
    da_hdf5_options o = {.deflate = it % 2 ? (int)tu_int(&rng, 1, 9) : 0};
    snprintf(what, sizeof what, "round trip %s %s deflate %d", da_dtype_name(dt),
             tu_shape_str(nd, shape, sh, sizeof sh), o.deflate);
    TU_OK(ctx, da_to_hdf5(a, file_in("rt.h5"), name, &o));

    /* The dataset's chunks are the array's largest ones: read back, they give its chunksize. */
    da_array b;
    TU_OK(ctx, da_from_hdf5(ctx, file_in("rt.h5"), name, NULL, DA_DTYPE_NATIVE, &b));
    CHECKF(da_array_dtype(b) == dt && da_array_ndim(b) == nd, "%s: dtype or ndim", what);
    for (int d = 0; d < nd && tu_prod(nd, shape) > 0; d++)
      CHECKF(da_array_chunksize(b)[d] == da_array_chunksize(a)[d], "%s: chunk %d is %lld not %lld",
             what, d, (long long)da_array_chunksize(b)[d], (long long)da_array_chunksize(a)[d]);
    void *got = tu_gather_all(b);
    COMPARE(what, dt, got, want, nd, shape, -1);
    free(got);
    da_array_destroy(&b);

    /* The writer's own uneven chunks, and conversion to float64 on read. */
    TU_OK(ctx, da_from_hdf5(ctx, file_in("rt.h5"), name, &ck.c, DA_FLOAT64, &b));
    for (int d = 0; d < nd; d++) {
      const int64_t *cb = da_array_chunks(b, d), *ca = da_array_chunks(a, d);
      bool same = da_array_numblocks(b)[d] == da_array_numblocks(a)[d];
      for (int64_t j = 0; same && j < da_array_numblocks(a)[d]; j++)
        same = cb[j] == ca[j];
      CHECKF(same, "%s: requested chunks on axis %d", what, d);
    }
    int64_t n = tu_prod(nd, shape);
    double *conv = tu_malloc((size_t)n * sizeof *conv);
    for (int64_t i = 0; i < n; i++)
      conv[i] = tu_get(dt, want, i);
    got = tu_gather_all(b);
    COMPARE(what, DA_FLOAT64, got, conv, nd, shape, -1);
    free(got);
    free(conv);
    da_array_destroy(&b);
    da_array_destroy(&a);
    free(want);
  }

  /* A lazy graph is computed on the way out; a dataset is replaced in place. */
  da_array r, s;
  TU_OK(ctx, da_arange(ctx, 0, 1000, 1, DA_CHUNKS(77), DA_INT32, &r));
  TU_OK(ctx, da_astype(r, DA_FLOAT32, &s));
  TU_OK(ctx, da_to_hdf5(s, file_in("rt.h5"), "/g0/sub/d0", NULL));
  da_array_destroy(&s);
  TU_OK(ctx, da_from_hdf5(ctx, file_in("rt.h5"), "/g0/sub/d0", NULL, DA_INT32, &s));
  int32_t *v = tu_gather_all(s), *w = tu_gather_all(r);
  CHECK(da_array_size(s) == 1000 && da_array_chunksize(s)[0] == 77);
  COMPARE_N("lazy arange written and replaced", DA_INT32, v, w, 1000, -1, 0);
  free(v), free(w);
  da_array_destroy(&s);

  /* Truncate: the file holds the new dataset alone. */
  da_hdf5_options t = {.mode = DA_HDF5_TRUNCATE};
  TU_OK(ctx, da_to_hdf5(r, file_in("rt.h5"), "only", &t));
  expect_error(da_from_hdf5(ctx, file_in("rt.h5"), "/g1/sub/d1", NULL, DA_DTYPE_NATIVE, &s),
               DA_ERR_IO, "dataset gone after truncate");
  TU_OK(ctx, da_from_hdf5(ctx, file_in("rt.h5"), "only", NULL, DA_DTYPE_NATIVE, &s));
  da_array_destroy(&s);
  da_array_destroy(&r);
}

/* Small HDF5 chunks grow to blocks of about the context's chunk bytes. */
static void test_default_chunks(void) {
  da_array a, b;
  int64_t n = 10000;
  TU_OK(ctx, da_arange(ctx, 0, (double)n, 1, DA_CHUNKS(100), DA_INT32, &a));
  TU_OK(ctx, da_to_hdf5(a, file_in("grow.h5"), "x", NULL));
  TU_OK(ctx, da_ctx_set_chunk_bytes(ctx, 4096));
  TU_OK(ctx, da_from_hdf5(ctx, file_in("grow.h5"), "x", NULL, DA_DTYPE_NATIVE, &b));
  CHECKF(da_array_chunksize(b)[0] == 800, "grown chunks %lld, want 800",
         (long long)da_array_chunksize(b)[0]);
  da_array s;
  int64_t sum = 0;
  TU_OK(ctx, da_sum(b, 0, NULL, 0, &s));
  TU_OK(ctx, da_compute(s, DA_ALL_RANKS, &sum, sizeof sum));
  CHECK(sum == n * (n - 1) / 2);
  TU_OK(ctx, da_ctx_set_chunk_bytes(ctx, 1));
  da_array_destroy(&s);
  da_array_destroy(&b);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- attributes */

static void test_attributes(void) {
  const char *f = file_in("attr.h5");
  da_array a;
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){6, 5}, DA_CHUNKS(4, 2), DA_FLOAT64, &a));
  TU_OK(ctx, da_to_hdf5(a, f, "/grp/data", NULL));
  double scale = 2.5;
  int64_t count = -123456789012345;
  uint8_t flag = 7;
  TU_OK(ctx, da_hdf5_set_attr_string(ctx, f, "/grp/data", "units", "m/s"));
  TU_OK(ctx, da_hdf5_set_attr_number(ctx, f, "/grp/data", "scale", DA_FLOAT64, &scale));
  TU_OK(ctx, da_hdf5_set_attr_number(ctx, f, "/", "count", DA_INT64, &count));
  TU_OK(ctx, da_hdf5_set_attr_number(ctx, f, "/grp", "flag", DA_UINT8, &flag));
  TU_OK(ctx, da_hdf5_set_attr_string(ctx, f, "/grp/data", "units", "km/h")); /* replaced */
  char buf[16];
  TU_OK(ctx, da_hdf5_get_attr_string(ctx, f, "/grp/data", "units", buf, sizeof buf));
  CHECKF(!strcmp(buf, "km/h"), "units '%s'", buf);
  double s = 0;
  float sf = 0;
  int64_t c = 0;
  int32_t fl = 0;
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/grp/data", "scale", DA_FLOAT64, &s));
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/grp/data", "scale", DA_FLOAT32, &sf));
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/", "count", DA_INT64, &c));
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/grp", "flag", DA_INT32, &fl));
  CHECK(s == 2.5 && sf == 2.5f && c == count && fl == 7);
  expect_error(da_hdf5_get_attr_string(ctx, f, "/grp/data", "units", buf, 3), DA_ERR_BUFFER,
               "string attribute into a short buffer");
  expect_error(da_hdf5_get_attr_number(ctx, f, "/grp/data", "nope", DA_FLOAT64, &s), DA_ERR_IO,
               "missing attribute");
  expect_error(da_hdf5_get_attr_number(ctx, f, "/grp/data", "units", DA_FLOAT64, &s), DA_ERR_DTYPE,
               "string attribute read as a number");
  expect_error(da_hdf5_set_attr_string(ctx, f, "/grp/none", "x", "y"), DA_ERR_IO,
               "attribute of a missing object");
  /* The data survived the attribute writes. */
  da_array b;
  TU_OK(ctx, da_from_hdf5(ctx, f, "/grp/data", NULL, DA_DTYPE_NATIVE, &b));
  double *v = tu_gather_all(b);
  bool ones = true;
  for (int i = 0; i < 30; i++)
    ones = ones && v[i] == 1;
  CHECK(ones);
  free(v);
  da_array_destroy(&b);
  da_array_destroy(&a);
}

static bool same_bytes(const char *a, long na, const char *b, long nb) {
  return na == nb && na >= 0 && memcmp(a, b, (size_t)na) == 0;
}

/* Attributes given with the write, and in-place updates (no copy: the file keeps its inode). */
static void test_write_attrs_in_place(void) {
  const char *f = file_in("inplace.h5");
  da_array a, b, c;
  TU_OK(ctx, da_arange(ctx, 0, 42, 1, DA_CHUNKS(5), DA_INT32, &a));
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){7, 9}, DA_CHUNKS(3, 4), DA_FLOAT32, &b));
  TU_OK(ctx, da_full(ctx, 0, NULL, NULL, DA_FLOAT64, 2.5, &c));
  double eps = 1e-3;
  int16_t lvl = -4;
  da_hdf5_attr at[] = {{.name = "units", .string = "m"},
                       {.object = "/", .name = "eps", .dtype = DA_FLOAT64, .value = &eps},
                       {.object = "/", .name = "title", .string = "run 1"}};
  TU_OK(ctx, da_to_hdf5(a, f, "/g/a",
                        &(da_hdf5_options){.mode = DA_HDF5_TRUNCATE, .attrs = at, .nattrs = 3}));
  struct stat s0, s1;
  CHECK(stat(f, &s0) == 0);
  da_hdf5_attr bt[] = {{.name = "units", .string = "ft"},
                       {.object = "/g/a", .name = "level", .dtype = DA_INT16, .value = &lvl},
                       {.object = "/", .name = "title", .string = "run 2"}};
  TU_OK(ctx, da_to_hdf5(b, f, "/g/b",
                        &(da_hdf5_options){
                            .mode = DA_HDF5_UPDATE_IN_PLACE, .attrs = bt, .nattrs = 3, .sync = 1}));
  TU_OK(ctx, da_to_hdf5(c, f, "/c", &(da_hdf5_options){.mode = DA_HDF5_UPDATE_IN_PLACE}));
  /* Replacing a dataset in place. */
  TU_OK(ctx, da_to_hdf5(b, f, "/g/b", &(da_hdf5_options){.mode = DA_HDF5_UPDATE_IN_PLACE}));
  CHECK(stat(f, &s1) == 0 && s0.st_ino == s1.st_ino);
  char buf[16];
  double e = 0;
  int64_t l = 0;
  TU_OK(ctx, da_hdf5_get_attr_string(ctx, f, "/g/a", "units", buf, sizeof buf));
  CHECKF(!strcmp(buf, "m"), "units of /g/a '%s'", buf);
  TU_OK(ctx, da_hdf5_get_attr_string(ctx, f, "/", "title", buf, sizeof buf));
  CHECKF(!strcmp(buf, "run 2"), "title '%s'", buf);
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/", "eps", DA_FLOAT64, &e));
  TU_OK(ctx, da_hdf5_get_attr_number(ctx, f, "/g/a", "level", DA_INT64, &l));
  CHECK(e == eps && l == -4);
  /* The dataset replaced in place lost its attribute with it. */
  expect_error(da_hdf5_get_attr_string(ctx, f, "/g/b", "units", buf, sizeof buf), DA_ERR_IO,
               "attribute of a replaced dataset");
  da_array ra, rb, rc;
  TU_OK(ctx, da_from_hdf5(ctx, f, "/g/a", NULL, DA_DTYPE_NATIVE, &ra));
  TU_OK(ctx, da_from_hdf5(ctx, f, "/g/b", NULL, DA_DTYPE_NATIVE, &rb));
  TU_OK(ctx, da_from_hdf5(ctx, f, "/c", NULL, DA_DTYPE_NATIVE, &rc));
  int32_t *va = tu_gather_all(ra), *wa = tu_gather_all(a);
  float *vb = tu_gather_all(rb), *wb = tu_gather_all(b);
  double *vc = tu_gather_all(rc);
  COMPARE_N("in-place /g/a", DA_INT32, va, wa, 42, -1, 0);
  COMPARE_N("in-place /g/b", DA_FLOAT32, vb, wb, 63, -1, 0);
  CHECK(vc[0] == 2.5);
  free(va), free(wa), free(vb), free(wb), free(vc);
  da_array_destroy(&ra), da_array_destroy(&rb), da_array_destroy(&rc);

  /* In place into a new file makes it. */
  const char *g = file_in("inplace-new.h5");
  TU_OK(ctx, da_to_hdf5(a, g, "/a", &(da_hdf5_options){.mode = DA_HDF5_UPDATE_IN_PLACE}));
  TU_OK(ctx, da_from_hdf5(ctx, g, "/a", NULL, DA_DTYPE_NATIVE, &ra));
  CHECK(da_array_size(ra) == 42);
  da_array_destroy(&ra);

  /* Bad attributes fail before anything is written; an attribute of a missing object fails
   * the staged write, which leaves the file as it was. */
  long n0, n1;
  char *before = slurp(f, &n0);
  da_hdf5_options o = {.attrs = (da_hdf5_attr[]){{.name = ""}}, .nattrs = 1};
  expect_error(da_to_hdf5(a, f, "/x", &o), DA_ERR_ARG, "attribute without a name");
  o.attrs = (da_hdf5_attr[]){{.name = "n", .dtype = (da_dtype)99, .value = &e}};
  expect_error(da_to_hdf5(a, f, "/x", &o), DA_ERR_DTYPE, "attribute of an unknown dtype");
  o.attrs = (da_hdf5_attr[]){{.name = "n", .dtype = DA_FLOAT64}};
  expect_error(da_to_hdf5(a, f, "/x", &o), DA_ERR_ARG, "attribute without a value");
  o.attrs = NULL;
  expect_error(da_to_hdf5(a, f, "/x", &o), DA_ERR_ARG, "attributes at NULL");
  o.attrs = (da_hdf5_attr[]){{.object = "/nowhere", .name = "n", .string = "v"}};
  expect_error(da_to_hdf5(a, f, "/x", &o), DA_ERR_IO, "attribute of a missing object");
  expect_error(da_to_hdf5(a, f, "/x", &(da_hdf5_options){.mode = (da_hdf5_mode)7}), DA_ERR_ARG,
               "unknown mode");
  char *after = slurp(f, &n1);
  CHECK(same_bytes(before, n0, after, n1));
  free(before), free(after);
  write_text(file_in("text2.h5"), "not HDF5 either\n");
  expect_error(
      da_to_hdf5(a, file_in("text2.h5"), "/a", &(da_hdf5_options){.mode = DA_HDF5_UPDATE_IN_PLACE}),
      DA_ERR_IO, "in-place update of a text file");
  da_array_destroy(&c);
  da_array_destroy(&b);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- stacks */

static void test_stack(void) {
  enum { NF = 3, R = 5, C = 4 };
  const char *paths[NF];
  double want[NF][R][C];
  for (int f = 0; f < NF; f++) {
    char name[32];
    snprintf(name, sizeof name, "day%d.h5", f);
    paths[f] = strdup(file_in(name));
    for (int i = 0; i < R; i++)
      for (int j = 0; j < C; j++)
        want[f][i][j] = f * 100 + i * 10 + j;
    da_array a;
    TU_OK(ctx, da_from_root(ctx, 0, 2, (int64_t[]){R, C}, DA_CHUNKS(2, 3), DA_FLOAT64, want[f],
                            sizeof want[f], &a));
    TU_OK(ctx, da_to_hdf5(a, paths[f], "/vars/t", NULL));
    da_array_destroy(&a);
  }
  da_array s, c;
  TU_OK(ctx,
        da_from_hdf5_stack(ctx, NF, paths, "/vars/t", NULL, DA_DTYPE_NATIVE, DA_HDF5_STACK, 0, &s));
  CHECK(da_array_ndim(s) == 3 && da_array_shape(s)[0] == NF && da_array_shape(s)[1] == R);
  double *g = tu_gather_all(s);
  COMPARE("stack of 3 files", DA_FLOAT64, g, want, 3, ((int64_t[]){NF, R, C}), -1);
  free(g);
  TU_OK(ctx, da_from_hdf5_stack(ctx, NF, paths, "/vars/t", NULL, DA_FLOAT32, DA_HDF5_CONCATENATE, 1,
                                &c));
  CHECK(da_array_dtype(c) == DA_FLOAT32 && da_array_shape(c)[1] == NF * C);
  float *h = tu_gather_all(c);
  bool ok = true;
  for (int i = 0; i < R; i++)
    for (int k = 0; k < NF * C; k++)
      ok = ok && h[i * NF * C + k] == (float)want[k / C][i][k % C];
  CHECK(ok);
  free(h);
  da_array_destroy(&c);
  free((void *)paths[1]);
  paths[1] = file_in("missing-day.h5");
  expect_error(
      da_from_hdf5_stack(ctx, NF, paths, "/vars/t", NULL, DA_DTYPE_NATIVE, DA_HDF5_STACK, 0, &c),
      DA_ERR_IO, "stack with a missing file");
  CHECK(c == NULL);
  da_array_destroy(&s);
  free((void *)paths[0]);
  free((void *)paths[2]);
}

/* ---------------------------------------------------------------- bad input */

static void test_bad_input(void) {
  da_array a = NULL, x;
  TU_OK(ctx, da_arange(ctx, 0, 50, 1, DA_CHUNKS(7), DA_INT16, &x));
  TU_OK(ctx, da_to_hdf5(x, file_in("ok.h5"), "/a/b", NULL));
  expect_error(da_from_hdf5(ctx, file_in("nofile.h5"), "/a/b", NULL, DA_DTYPE_NATIVE, &a),
               DA_ERR_IO, "missing file");
  expect_error(da_from_hdf5(ctx, file_in("ok.h5"), "/z/b", NULL, DA_DTYPE_NATIVE, &a), DA_ERR_IO,
               "missing group");
  expect_error(da_from_hdf5(ctx, file_in("ok.h5"), "/a/c", NULL, DA_DTYPE_NATIVE, &a), DA_ERR_IO,
               "missing dataset");
  expect_error(da_from_hdf5(ctx, file_in("ok.h5"), "/a", NULL, DA_DTYPE_NATIVE, &a), DA_ERR_IO,
               "a group, not a dataset");
  expect_error(da_from_hdf5(ctx, file_in("ok.h5"), "/a/b", NULL, (da_dtype)99, &a), DA_ERR_DTYPE,
               "unknown dtype");
  write_text(file_in("text.h5"), "this is not HDF5\n");
  expect_error(da_from_hdf5(ctx, file_in("text.h5"), "/a/b", NULL, DA_DTYPE_NATIVE, &a), DA_ERR_IO,
               "text file");
  CHECK(a == NULL);

  /* Writes that fail leave what was there. */
  long n0, n1;
  char *before = slurp(file_in("text.h5"), &n0);
  expect_error(da_to_hdf5(x, file_in("text.h5"), "/a/b", NULL), DA_ERR_IO, "update of a text file");
  char *after = slurp(file_in("text.h5"), &n1);
  CHECK(same_bytes(before, n0, after, n1));
  free(before), free(after);
  expect_error(da_to_hdf5(x, file_in("no/such/dir.h5"), "/a/b", NULL), DA_ERR_IO,
               "missing directory");
  expect_error(da_to_hdf5(x, file_in("ok.h5"), "/a/b", &(da_hdf5_options){.deflate = 12}),
               DA_ERR_ARG, "deflate level 12");

  /* A full disk: a file size limit on every rank (SIGXFSZ ignored, so writes fail with EFBIG)
   * stops the write of a 1 MiB array into ok.h5, which must come through unchanged. */
  before = slurp(file_in("ok.h5"), &n0);
  da_array big;
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){1 << 17}, DA_CHUNKS(1 << 14), DA_FLOAT64, &big));
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = (rlim_t)n0 + 64 * 1024;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &lim);
  int rc = da_to_hdf5(big, file_in("ok.h5"), "/big", NULL);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  expect_error(rc, DA_ERR_IO, "write past the file size limit");
  after = slurp(file_in("ok.h5"), &n1);
  CHECK(same_bytes(before, n0, after, n1));
  free(before), free(after);
  da_array y;
  TU_OK(ctx, da_from_hdf5(ctx, file_in("ok.h5"), "/a/b", NULL, DA_DTYPE_NATIVE, &y));
  int16_t *v = tu_gather_all(y), *w = tu_gather_all(x);
  COMPARE_N("old dataset after a failed write", DA_INT16, v, w, 50, -1, 0);
  free(v), free(w);
  da_array_destroy(&y);
  da_array_destroy(&big);
  da_array_destroy(&x);
}

/* Entries of directory d (rank 0's count, on every rank); *tmp: how many are temporary files. */
static int entries(const char *d, int *tmp) {
  int n[2] = {0, 0};
  if (da_ctx_rank(ctx) == 0) {
    DIR *dp = opendir(d);
    for (struct dirent *e; dp && (e = readdir(dp));) {
      n[0] += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
      n[1] += strstr(e->d_name, ".da-tmp-") != NULL;
    }
    if (dp)
      closedir(dp);
  }
  MPI_Bcast(n, 2, MPI_INT, 0, MPI_COMM_WORLD);
  *tmp = n[1];
  return n[0];
}

/* The writes and attribute updates that must fail on a read-only target, with the file's bytes
 * unchanged and nothing else in its directory: an update and a truncating write of the file, an
 * attribute of it, and (for a read-only directory) a new file next to it. */
static void refused_writes(da_array y, bool dir_too, const char *what) {
  char f[160], g[160], ro[160], w[200];
  snprintf(f, sizeof f, "%s", file_in("ro/x.h5"));
  snprintf(g, sizeof g, "%s", file_in("ro/new.h5"));
  snprintf(ro, sizeof ro, "%s", file_in("ro"));
  long n0, n1;
  char *before = slurp(f, &n0);
  snprintf(w, sizeof w, "%s: update", what);
  expect_error(da_to_hdf5(y, f, "/c", NULL), DA_ERR_IO, w);
  tu_error_names(ctx, f, w);
  snprintf(w, sizeof w, "%s: replace a dataset", what);
  expect_error(da_to_hdf5(y, f, "/a/b", NULL), DA_ERR_IO, w);
  snprintf(w, sizeof w, "%s: truncate", what);
  expect_error(da_to_hdf5(y, f, "/a/b", &(da_hdf5_options){.mode = DA_HDF5_TRUNCATE}), DA_ERR_IO,
               w);
  tu_error_names(ctx, f, w);
  snprintf(w, sizeof w, "%s: attribute", what);
  expect_error(da_hdf5_set_attr_string(ctx, f, "/a/b", "units", "m"), DA_ERR_IO, w);
  tu_error_names(ctx, f, w);
  if (dir_too) {
    snprintf(w, sizeof w, "%s: new file", what);
    expect_error(da_to_hdf5(y, g, "/a/b", NULL), DA_ERR_IO, w);
    tu_error_names(ctx, g, w);
  }
  char *after = slurp(f, &n1);
  CHECKF(same_bytes(before, n0, after, n1), "%s: the file changed (%ld bytes, then %ld)", what, n0,
         n1);
  free(before), free(after);
  int tmp, n = entries(ro, &tmp);
  CHECKF(n == 1 && tmp == 0, "%s: %d entries (%d temporary) next to the file, want it alone", what,
         n, tmp);
  /* Still readable while read-only (no TU_OK: an abort here would leave it so). */
  da_array z = NULL;
  int rc = da_from_hdf5(ctx, f, "/a/b", NULL, DA_DTYPE_NATIVE, &z);
  int16_t got[50], want[50];
  for (int i = 0; i < 50; i++)
    want[i] = (int16_t)i;
  if (!rc)
    rc = da_compute(z, DA_ALL_RANKS, got, sizeof got);
  CHECKF(rc == 0 && !memcmp(got, want, sizeof got), "%s: read back: %s", what,
         rc ? da_ctx_errmsg(ctx) : "wrong values");
  da_array_destroy(&z);
}

/* Read-only targets: a directory (no temporary file can be made next to the target) and an
 * existing file (it cannot be renamed over). As root, permissions refuse nothing: only the
 * immutable attribute makes these real (see test_immutable.h). */
static void test_read_only(void) {
  da_array x, y;
  TU_OK(ctx, da_arange(ctx, 0, 50, 1, DA_CHUNKS(7), DA_INT16, &x));
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){30}, DA_CHUNKS(8), DA_FLOAT64, &y));
  char ro[160], f[160];
  snprintf(ro, sizeof ro, "%s", file_in("ro"));
  snprintf(f, sizeof f, "%s", file_in("ro/x.h5"));
  if (da_ctx_rank(ctx) == 0)
    CHECK(mkdir(ro, 0755) == 0);
  MPI_Barrier(MPI_COMM_WORLD);
  TU_OK(ctx, da_to_hdf5(x, f, "/a/b", NULL));

  tu_read_only how = tu_read_only_begin(ro, true, "read-only directory");
  if (how.how != TU_RO_SKIP)
    refused_writes(y, true, "read-only directory");
  tu_read_only_end(ro, how);

  how = tu_read_only_begin(f, false, "immutable file");
  if (how.how != TU_RO_SKIP)
    refused_writes(y, false, "immutable file");
  tu_read_only_end(f, how);

  /* Writable again: the update goes through. */
  TU_OK(ctx, da_to_hdf5(y, f, "/c", NULL));
  da_array z;
  TU_OK(ctx, da_from_hdf5(ctx, f, "/a/b", NULL, DA_DTYPE_NATIVE, &z));
  int16_t *v = tu_gather_all(z), *w = tu_gather_all(x);
  COMPARE_N("old dataset after the read-only writes", DA_INT16, v, w, 50, -1, 0);
  free(v), free(w);
  da_array_destroy(&z);
  if (da_ctx_rank(ctx) == 0) {
    CHECK(unlink(f) == 0);
    CHECK(rmdir(ro) == 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  da_array_destroy(&y);
  da_array_destroy(&x);
}

/* No temporary file is left behind by the writes above, failed ones included. */
static void test_no_leftovers(void) {
  int left;
  entries(dir, &left);
  CHECKF(left == 0, "%d temporary files left", left);
}

static void remove_dir(void) {
  if (da_ctx_rank(ctx) != 0)
    return;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      unlink(file_in(e->d_name));
  if (d)
    closedir(d);
  rmdir(dir);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t600-hdf5");
  rng = tu_rng_make(600);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  /* Blocks of any size keep the dataset's chunks as they are. */
  TU_OK(ctx, da_ctx_set_chunk_bytes(ctx, 1));
  if (da_ctx_rank(ctx) == 0) {
    snprintf(dir, sizeof dir, "/tmp/t600-XXXXXX");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 4);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  test_round_trips();
  tu_sync();
  test_default_chunks();
  test_attributes();
  test_write_attrs_in_place();
  test_stack();
  test_bad_input();
  test_read_only();
  test_no_leftovers();
  remove_dir();
  da_ctx_destroy(&ctx);
  return tu_finish();
}
