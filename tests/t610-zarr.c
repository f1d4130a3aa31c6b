/* Zarr v2: round trips of random arrays (1-4 axes, uneven edge chunks, every dtype and
 * compressor, read back with the store's and other chunks), hand-written stores (big-endian,
 * fill values for missing chunks, '/' separators), and bad input failing on every rank with
 * the previous store untouched: malformed .zarray, corrupt chunks, refused targets, a write
 * stopped by a file size limit. */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include "test_util.h"
#include "test_immutable.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static tu_rng rng;
static da_ctx ctx;
static char root[256];

/* ---------------------------------------------------------------- files (rank 0) */

static void put_file(const char *dir, const char *name, const void *data, size_t n) {
  char p[1200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  CHECKF(f && fwrite(data, 1, n, f) == n, "cannot write %s", p);
  if (f)
    fclose(f);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void rm_tree(const char *p) {
  nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory name under root, the same on every rank. */
static void fresh(char *out, size_t len, const char *what) {
  static int n;
  snprintf(out, len, "%s/%s-%d", root, what, n++);
}

/* Entries of root whose name contains "da-tmp" (left-over temporary directories). */
static int leftovers(void) {
  int n = 0;
  if (tu_st()->rank == 0) {
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d)))
      n += strstr(e->d_name, "da-tmp") != NULL;
    if (d)
      closedir(d);
  }
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return n;
}

/* ---------------------------------------------------------------- round trips */

static void check_same(da_array y, da_dtype dt, const void *want, int nd, const int64_t shape[],
                       const char *what) {
  CHECKF(da_array_dtype(y) == dt, "%s: dtype %d, want %d", what, da_array_dtype(y), dt);
  CHECKF(da_array_ndim(y) == nd, "%s: ndim", what);
  for (int d = 0; d < nd; d++)
    CHECKF(da_array_shape(y)[d] == shape[d], "%s: shape[%d]", what, d);
  void *got = tu_gather_all(y);
  COMPARE(what, dt, got, want, nd, shape, 0);
  free(got);
}

static void round_trip(int i) {
  static const da_dtype dts[] = TU_ALL_DTYPES;
  int nd = (int)tu_int(&rng, 1, 4);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(&rng, nd, 600, i % 9 == 8, shape);
  da_dtype dt = dts[i % 11];
  da_chunks ck = {0};
  for (int d = 0; d < nd; d++)
    ck.size[d] = shape[d] ? tu_int(&rng, 1, shape[d]) : 1;
  int64_t n = tu_prod(nd, shape);
  size_t bytes = (size_t)n * da_dtype_size(dt);
  void *want = tu_malloc(bytes);
  tu_fill_random(&rng, dt, want, n);
  da_array x, y, z;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck, dt, want, bytes, &x));
  da_zarr_options o = {.compressor = (da_zarr_compressor)(i % DA_ZARR_NCOMPRESSORS),
                       .shuffle = (da_zarr_shuffle)(i % 3)};
  char path[512], what[128];
  fresh(path, sizeof path, "rt");
  TU_OK(ctx, da_to_zarr(x, path, &o));
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  snprintf(what, sizeof what, "round trip %d (%dd, %s, compressor %d)", i, nd, da_dtype_name(dt),
           (int)o.compressor);
  check_same(y, dt, want, nd, shape, what);
  for (int d = 0; d < nd; d++)
    for (int64_t j = 0; j < da_array_numblocks(y)[d]; j++)
      CHECKF(da_array_chunks(y, d)[j] == da_array_chunks(x, d)[j], "%s: chunks differ", what);
  /* Other chunks: blocks read parts of several chunk files. */
  da_chunks other = {0};
  for (int d = 0; d < nd; d++)
    other.size[d] = shape[d] ? tu_int(&rng, 1, shape[d]) : 1;
  TU_OK(ctx, da_from_zarr(ctx, path, &other, &z));
  check_same(z, dt, want, nd, shape, what);
  da_array_destroy(&x);
  da_array_destroy(&y);
  da_array_destroy(&z);
  free(want);
}

/* ---------------------------------------------------------------- hand-written stores */

/* A 7 x 5 store with chunks 3 x 2 and compressor null, written on rank 0: values v(i, j) =
 * i * 5 + j in dtype zdtype (byte order as given), chunk (1, 1) missing, edge chunks padded with
 * junk. Checks it reads as the values with the missing chunk as fill. */
static void hand_store(const char *zdtype, da_dtype dt, const char *fill_json, double fill,
                       char sep) {
  char path[512], meta[512], what[128];
  fresh(path, sizeof path, "hand");
  size_t es = da_dtype_size(dt);
  bool big = zdtype[0] == '>';
  int64_t shape[2] = {7, 5};
  void *want = tu_malloc(35 * es);
  for (int64_t k = 0; k < 35; k++) {
    int64_t i = k / 5, j = k % 5;
    bool miss = i / 3 == 1 && j / 2 == 1;
    tu_set(dt, want, k, miss ? fill : (dt == DA_BOOL ? (double)(k % 2) : (double)k));
  }
  if (tu_st()->rank == 0) {
    mkdir(path, 0777);
    snprintf(meta, sizeof meta,
             "{\"zarr_format\": 2, \"shape\": [7, 5], \"chunks\": [3, 2], \"dtype\": \"%s\", "
             "\"compressor\": null, \"fill_value\": %s, \"order\": \"C\", \"filters\": null%s}",
             zdtype, fill_json, sep == '/' ? ", \"dimension_separator\": \"/\"" : "");
    put_file(path, ".zarray", meta, strlen(meta));
    unsigned char chunk[6 * 8];
    for (int ci = 0; ci < 3; ci++)
      for (int cj = 0; cj < 3; cj++) {
        if (ci == 1 && cj == 1)
          continue;
        memset(chunk, 0xAB, sizeof chunk);
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 2; b++) {
            int64_t i = ci * 3 + a, j = cj * 2 + b;
            if (i >= 7 || j >= 5)
              continue;
            unsigned char *e = chunk + (size_t)(a * 2 + b) * es;
            memcpy(e, (char *)want + (size_t)(i * 5 + j) * es, es);
            for (size_t l = 0; big && l < es / 2; l++) {
              unsigned char t = e[l];
              e[l] = e[es - 1 - l], e[es - 1 - l] = t;
            }
          }
        char name[600];
        if (sep == '/') {
          snprintf(name, sizeof name, "%s/%d", path, ci);
          mkdir(name, 0777);
          snprintf(name, sizeof name, "%d/%d", ci, cj);
        } else {
          snprintf(name, sizeof name, "%d.%d", ci, cj);
        }
        put_file(path, name, chunk, 6 * es);
      }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  da_array y;
  snprintf(what, sizeof what, "hand store %s fill %s", zdtype, fill_json);
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  check_same(y, dt, want, 2, shape, what);
  da_array_destroy(&y);
  TU_OK(ctx, da_from_zarr(ctx, path, DA_CHUNKS(4, 4), &y));
  check_same(y, dt, want, 2, shape, what);
  da_array_destroy(&y);
  free(want);
}

static void hand_stores(void) {
  hand_store(">f8", DA_FLOAT64, "\"NaN\"", NAN, '.');
  hand_store("<f4", DA_FLOAT32, "\"-Infinity\"", -INFINITY, '.');
  hand_store(">i4", DA_INT32, "-7", -7, '.');
  hand_store(">u2", DA_UINT16, "65535", 65535, '/');
  hand_store("<i8", DA_INT64, "null", 0, '.');
  hand_store("|b1", DA_BOOL, "true", 1, '.');
  hand_store(">u8", DA_UINT64, "3.0", 3, '.');
  hand_store("|i1", DA_INT8, "-1", -1, '/');
}

/* ---------------------------------------------------------------- bad input */

/* A call that must fail on every rank with code (0: any failure) and a message. */
#define FAILS(call, code, what)                                                                    \
  do {                                                                                             \
    int rc_ = (call), lo_, hi_;                                                                    \
    MPI_Allreduce(&rc_, &lo_, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);                                \
    MPI_Allreduce(&rc_, &hi_, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);                                \
    CHECKF(rc_ != 0 && lo_ == hi_ && ((code) == 0 || rc_ == (code)) && *da_ctx_errmsg(ctx),        \
           "%s: rc %d (ranks %d..%d), want %d: %s", what, rc_, lo_, hi_, (int)(code),              \
           da_ctx_errmsg(ctx));                                                                    \
  } while (0)

static void malformed_meta(void) {
  static const struct {
    const char *json;
    int code;
  } cases[] = {
      {"", DA_ERR_IO},
      {"{", DA_ERR_IO},
      {"[]", DA_ERR_IO},
      {"null", DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\"", DA_ERR_IO},
      {"{\"zarr_format\": 3, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\"}",
       DA_ERR_UNSUPPORTED},
      {"{\"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": \"C\"}", DA_ERR_IO},
      {"{\"zarr_format\": 2, \"chunks\": [2], \"dtype\": \"<f8\", \"order\": \"C\"}", DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": 4, \"chunks\": [2], \"dtype\": \"<f8\", \"order\": \"C\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [-4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [0], \"dtype\": \"<f8\", \"order\": "
       "\"C\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4, 4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f2\", \"order\": "
       "\"C\"}",
       DA_ERR_DTYPE},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<c16\", \"order\": "
       "\"C\"}",
       DA_ERR_DTYPE},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": [[\"a\", \"<f8\"]], "
       "\"order\": \"C\"}",
       DA_ERR_DTYPE},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"F\"}",
       DA_ERR_UNSUPPORTED},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"compressor\": {\"id\": \"lzma\"}}",
       DA_ERR_UNSUPPORTED},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"compressor\": \"zlib\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"compressor\": {\"id\": \"blosc\", \"cname\": \"nope\"}}",
       DA_ERR_UNSUPPORTED},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"filters\": [{\"id\": \"delta\"}]}",
       DA_ERR_UNSUPPORTED},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"fill_value\": \"abc\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<i4\", \"order\": "
       "\"C\", \"fill_value\": [1]}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<i4\", \"order\": "
       "\"C\", \"fill_value\": 1e300}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": \"<f8\", \"order\": "
       "\"C\", \"dimension_separator\": \"-\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"zarr_format\": 2, \"shape\": [4], \"chunks\": [2], \"dtype\": "
       "\"<f8\", \"order\": \"C\"}",
       DA_ERR_IO},
      {"{\"zarr_format\": 2, \"shape\": [4611686018427387904, 4611686018427387904], \"chunks\": "
       "[1, 1], \"dtype\": \"<f8\", \"order\": \"C\"}",
       DA_ERR_OVERFLOW},
      {"{\"zarr_format\": 2, \"shape\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], \"chunks\": "
       "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], \"dtype\": \"<f8\", \"order\": \"C\"}",
       DA_ERR_SHAPE},
  };
  char path[512], what[64];
  fresh(path, sizeof path, "bad");
  if (tu_st()->rank == 0)
    mkdir(path, 0777);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (tu_st()->rank == 0)
      put_file(path, ".zarray", cases[i].json, strlen(cases[i].json));
    MPI_Barrier(MPI_COMM_WORLD);
    da_array y = NULL;
    snprintf(what, sizeof what, "malformed .zarray %zu", i);
    FAILS(da_from_zarr(ctx, path, NULL, &y), cases[i].code, what);
    CHECK(y == NULL);
  }
  da_array y;
  FAILS(da_from_zarr(ctx, "/nonexistent/t610.zarr", NULL, &y), DA_ERR_IO, "missing path");
  CHECK(strstr(da_ctx_errmsg(ctx), ".zarray") != NULL);
}

/* A stored 1-d array whose chunk 1 is then cut short or overwritten in the middle on rank 0:
 * opening works (lazy), computing fails on every rank. */
static void corrupt_chunk(da_zarr_compressor c, bool cut) {
  char path[512], name[600], what[64];
  fresh(path, sizeof path, "corrupt");
  da_array x, y;
  TU_OK(ctx, da_arange(ctx, 0, 100, 1, DA_CHUNKS(25), DA_FLOAT64, &x));
  TU_OK(ctx, da_to_zarr(x, path, &(da_zarr_options){.compressor = c}));
  if (tu_st()->rank == 0) {
    snprintf(name, sizeof name, "%s/1", path);
    if (cut) {
      CHECK(truncate(name, 37) == 0);
    } else {
      FILE *f = fopen(name, "r+b");
      char junk[64];
      memset(junk, 0x5A, sizeof junk);
      CHECK(f && fseek(f, 4, SEEK_SET) == 0 && fwrite(junk, 1, sizeof junk, f) == sizeof junk);
      if (f)
        fclose(f);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  double buf[100];
  snprintf(what, sizeof what, "%s chunk, compressor %d", cut ? "truncated" : "corrupt", c);
  FAILS(da_compute(y, DA_ALL_RANKS, buf, sizeof buf), DA_ERR_IO, what);
  da_array_destroy(&x);
  da_array_destroy(&y);
}

/* path holds x's values (reads back equal). */
static void still_holds(const char *path, da_array x, const char *what) {
  da_array y;
  void *want = tu_gather_all(x);
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  check_same(y, da_array_dtype(x), want, da_array_ndim(x), da_array_shape(x), what);
  da_array_destroy(&y);
  free(want);
}

static void bad_targets(void) {
  char path[512], file[512], inside[600];
  da_array a, b, u;
  TU_OK(ctx, da_arange(ctx, 0, 60, 1, DA_CHUNKS(7), DA_INT32, &a));
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){60}, DA_CHUNKS(11), DA_INT32, &b));
  fresh(path, sizeof path, "target");
  TU_OK(ctx, da_to_zarr(a, path, NULL));
  /* Replacing works, and leaves no temporary directory. */
  TU_OK(ctx, da_to_zarr(b, path, NULL));
  still_holds(path, b, "replaced store");
  TU_OK(ctx, da_to_zarr(a, path, NULL));
  still_holds(path, a, "replaced again");
  CHECKF(leftovers() == 0, "temporary directories left behind");

  /* Chunks Zarr cannot express: refused, store untouched. */
  TU_OK(ctx, da_rechunk(b, &(da_chunks){.list = {(int64_t[]){10, 20, 30}}, .nlist = {3}}, &u));
  FAILS(da_to_zarr(u, path, NULL), DA_ERR_CHUNKS, "uneven chunks");
  CHECK(strstr(da_ctx_errmsg(ctx), "rechunk") != NULL);
  still_holds(path, a, "after uneven chunks");
  FAILS(da_to_zarr(a, path, &(da_zarr_options){.level = 99}), DA_ERR_ARG, "bad level");
  FAILS(da_to_zarr(a, NULL, NULL), DA_ERR_ARG, "NULL path");

  /* A parent that is a file, and a target that is a file or a directory of other data. */
  fresh(file, sizeof file, "plainfile");
  if (tu_st()->rank == 0)
    put_file(root, strrchr(file, '/') + 1, "x", 1);
  MPI_Barrier(MPI_COMM_WORLD);
  snprintf(inside, sizeof inside, "%s/x.zarr", file);
  FAILS(da_to_zarr(a, inside, NULL), DA_ERR_IO, "parent is a file");
  FAILS(da_to_zarr(a, file, NULL), DA_ERR_IO, "target is a file");
  FAILS(da_to_zarr(a, root, NULL), DA_ERR_IO, "target is a directory of other data");

  /* A read-only parent (no temporary directory can be made next to the target), for a new
   * store and a replaced one; then an immutable store (it cannot be renamed away). As root,
   * permissions refuse nothing: only the immutable attribute makes these real. */
  char fresh_path[512];
  fresh(fresh_path, sizeof fresh_path, "new");
  tu_read_only ro = tu_read_only_begin(root, true, "read-only parent");
  if (ro.how != TU_RO_SKIP) {
    FAILS(da_to_zarr(b, path, NULL), DA_ERR_IO, "read-only parent");
    tu_error_names(ctx, path, "read-only parent");
    FAILS(da_to_zarr(b, fresh_path, NULL), DA_ERR_IO, "new store in a read-only parent");
    tu_error_names(ctx, fresh_path, "new store in a read-only parent");
  }
  tu_read_only_end(root, ro);
  still_holds(path, a, "after read-only parent");
  CHECK(access(fresh_path, F_OK) != 0);
  CHECKF(leftovers() == 0, "temporary directories left behind after a read-only parent");
  ro = tu_read_only_begin(path, false, "immutable store");
  if (ro.how != TU_RO_SKIP) {
    FAILS(da_to_zarr(b, path, NULL), DA_ERR_IO, "immutable store");
    tu_error_names(ctx, path, "immutable store");
  }
  tu_read_only_end(path, ro);
  still_holds(path, a, "after immutable store");
  CHECKF(leftovers() == 0, "temporary directories left behind after an immutable store");

  /* A write stopped midway (the last rank cannot write more than 100 bytes per file, as on a
   * full disk): every rank fails, the old store stays, the temporary directory is gone. */
  da_array big;
  TU_OK(ctx, da_arange(ctx, 0, 4000, 1, DA_CHUNKS(500), DA_FLOAT64, &big));
  struct rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  if (tu_st()->rank == tu_st()->size - 1) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {100, old.rlim_max};
    setrlimit(RLIMIT_FSIZE, &lim);
  }
  FAILS(da_to_zarr(big, path, &(da_zarr_options){.compressor = DA_ZARR_NONE}), DA_ERR_IO,
        "file size limit");
  if (tu_st()->rank == tu_st()->size - 1)
    setrlimit(RLIMIT_FSIZE, &old);
  MPI_Barrier(MPI_COMM_WORLD);
  still_holds(path, a, "after a failed write");
  CHECKF(leftovers() == 0, "temporary directories left behind after a failure");
  da_array_destroy(&big);
  da_array_destroy(&a);
  da_array_destroy(&b);
  da_array_destroy(&u);
}

static void edge_shapes(void) {
  /* 0-d, empty and single-element arrays. */
  char path[512];
  da_array x, y;
  double v = 2.5;
  TU_OK(ctx, da_from_root(ctx, 0, 0, NULL, NULL, DA_FLOAT64, &v, sizeof v, &x));
  fresh(path, sizeof path, "scalar");
  TU_OK(ctx, da_to_zarr(x, path, NULL));
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  check_same(y, DA_FLOAT64, &v, 0, NULL, "0-d");
  da_array_destroy(&x);
  da_array_destroy(&y);
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){0, 5}, DA_CHUNKS(3, 2), DA_UINT8, &x));
  fresh(path, sizeof path, "empty");
  TU_OK(ctx, da_to_zarr(x, path, NULL));
  TU_OK(ctx, da_from_zarr(ctx, path, NULL, &y));
  CHECK(da_array_size(y) == 0 && da_array_shape(y)[1] == 5);
  da_array_destroy(&x);
  da_array_destroy(&y);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t610-zarr");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  rng = tu_rng_make(610);
  if (tu_st()->rank == 0) {
    snprintf(root, sizeof root, "%s/t610-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
      MPI_Abort(MPI_COMM_WORLD, 4);
  }
  MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int i = 0; i < 44; i++)
    round_trip(i);
  tu_sync();
  hand_stores();
  tu_sync();
  edge_shapes();
  tu_sync();
  malformed_meta();
  tu_sync();
  for (int c = 0; c < DA_ZARR_NCOMPRESSORS; c++)
    corrupt_chunk((da_zarr_compressor)c, c % 2 || c == DA_ZARR_NONE);
  tu_sync();
  bad_targets();
  tu_sync();
  MPI_Barrier(MPI_COMM_WORLD);
  if (tu_st()->rank == 0)
    rm_tree(root);
  da_ctx_destroy(&ctx);
  return tu_finish();
}
