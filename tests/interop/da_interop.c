/* The darray side of the Python interoperability tests (tests/interop/check.py is the other).
 *
 *   da_interop write FMT PATH DTYPE SHAPE CHUNKS COMP [options]
 *   da_interop read  FMT PATH DTYPE SHAPE CHUNKS COMP [options]
 *   da_interop big   FMT PATH MIB
 *
 * FMT is h5 or zarr; DTYPE a NumPy name ("float64") or type string ("<f8", ">i4", "|b1");
 * SHAPE and CHUNKS are "40x30"-style lists; COMP is none or gzipN (h5) and none, zlib, gzip,
 * zstd or blosc-lz4, blosc-lz4hc, blosc-zstd, blosc-zlib, blosc-blosclz (zarr). Element i (C
 * order) of an array is value(dtype, i + 1000003 * seed), the formula check.py uses too.
 * write stores such an array; read opens one (written by Python), checks its dtype, shape and
 * (zarr) chunks, and compares every element, printing the first mismatch and exiting 1.
 * big writes a MIB-MiB random float64 array (the killed-writer test kills it mid-way).
 * Options: --seed S (default 0), --dataset D (h5, default /data), --fill V (zarr read: the
 * store's first chunk is missing and reads as V), --read-chunks C (read with other chunks),
 * --sep S (ignored here). */
#include "darray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank;

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    if (rank == 0) {                                                                               \
      fprintf(stderr, "da_interop: " __VA_ARGS__);                                                 \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
    MPI_Abort(MPI_COMM_WORLD, 1);                                                                  \
  } while (0)

#define CALL(ctx, expr)                                                                            \
  do {                                                                                             \
    if ((expr) != 0)                                                                               \
      FAIL("%s failed: %s", #expr, da_ctx_errmsg(ctx));                                            \
  } while (0)

static da_dtype parse_dtype(const char *s) {
  static const struct {
    const char *name, *code;
    da_dtype dt;
  } t[] = {{"bool", "b1", DA_BOOL},       {"int8", "i1", DA_INT8},      {"int16", "i2", DA_INT16},
           {"int32", "i4", DA_INT32},     {"int64", "i8", DA_INT64},    {"uint8", "u1", DA_UINT8},
           {"uint16", "u2", DA_UINT16},   {"uint32", "u4", DA_UINT32},  {"uint64", "u8", DA_UINT64},
           {"float32", "f4", DA_FLOAT32}, {"float64", "f8", DA_FLOAT64}};
  const char *code = strchr("<>|=", s[0]) && s[0] ? s + 1 : NULL;
  for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
    if (code ? strcmp(code, t[k].code) == 0 : strcmp(s, t[k].name) == 0)
      return t[k].dt;
  FAIL("unknown dtype '%s'", s);
  return DA_NDTYPES;
}

static int parse_dims(const char *s, int64_t out[DA_MAX_NDIM]) {
  int n = 0;
  char *end;
  for (;;) {
    if (n == DA_MAX_NDIM)
      FAIL("too many axes in '%s'", s);
    out[n++] = strtoll(s, &end, 10);
    if (end == s || out[n - 1] < 0)
      FAIL("bad dimension list '%s'", s);
    if (*end == '\0')
      return n;
    if (*end != 'x')
      FAIL("bad dimension list '%s'", s);
    s = end + 1;
  }
}

/* Element g of the deterministic arrays, as dtype dt, into out. */
static void value(da_dtype dt, int64_t g, void *out) {
  int64_t b = g * 37 + 11;
  switch (dt) {
  case DA_BOOL:
    *(uint8_t *)out = b % 3 == 0;
    break;
  case DA_INT8:
    *(int8_t *)out = (int8_t)(b % 200 - 100);
    break;
  case DA_UINT8:
    *(uint8_t *)out = (uint8_t)(b % 250);
    break;
  case DA_INT16:
    *(int16_t *)out = (int16_t)(b % 60000 - 30000);
    break;
  case DA_UINT16:
    *(uint16_t *)out = (uint16_t)(b % 60000);
    break;
  case DA_INT32:
    *(int32_t *)out = (int32_t)(b % 2000000000 - 1000000000);
    break;
  case DA_UINT32:
    *(uint32_t *)out = (uint32_t)(b % 4000000000);
    break;
  case DA_INT64:
    *(int64_t *)out = (b % 1000000007 - 500000000) * 4099;
    break;
  case DA_UINT64:
    *(uint64_t *)out = (uint64_t)(b % 1000000007) * 17179869183u;
    break;
  case DA_FLOAT32:
    *(float *)out = (float)(b % 100000 - 50000) / 16.0f;
    break;
  case DA_FLOAT64:
    *(double *)out = (double)(b % 1000000007 - 500000000) / 64.0;
    break;
  default:
    break;
  }
}

static void fill_value(da_dtype dt, double v, void *out) {
  switch (dt) {
  case DA_BOOL:
    *(uint8_t *)out = v != 0;
    break;
  case DA_INT8:
    *(int8_t *)out = (int8_t)v;
    break;
  case DA_UINT8:
    *(uint8_t *)out = (uint8_t)v;
    break;
  case DA_INT16:
    *(int16_t *)out = (int16_t)v;
    break;
  case DA_UINT16:
    *(uint16_t *)out = (uint16_t)v;
    break;
  case DA_INT32:
    *(int32_t *)out = (int32_t)v;
    break;
  case DA_UINT32:
    *(uint32_t *)out = (uint32_t)v;
    break;
  case DA_INT64:
    *(int64_t *)out = (int64_t)v;
    break;
  case DA_UINT64:
    *(uint64_t *)out = (uint64_t)v;
    break;
  case DA_FLOAT32:
    *(float *)out = (float)v;
    break;
  case DA_FLOAT64:
    *(double *)out = v;
    break;
  default:
    break;
  }
}

static void print_elem(da_dtype dt, const void *p, char *buf, size_t len) {
  switch (dt) {
  case DA_BOOL:
    snprintf(buf, len, "%d", *(const uint8_t *)p);
    break;
  case DA_INT8:
    snprintf(buf, len, "%d", *(const int8_t *)p);
    break;
  case DA_UINT8:
    snprintf(buf, len, "%u", *(const uint8_t *)p);
    break;
  case DA_INT16:
    snprintf(buf, len, "%d", *(const int16_t *)p);
    break;
  case DA_UINT16:
    snprintf(buf, len, "%u", *(const uint16_t *)p);
    break;
  case DA_INT32:
    snprintf(buf, len, "%" PRId32, *(const int32_t *)p);
    break;
  case DA_UINT32:
    snprintf(buf, len, "%" PRIu32, *(const uint32_t *)p);
    break;
  case DA_INT64:
    snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
    break;
  case DA_UINT64:
    snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
    break;
  case DA_FLOAT32:
    snprintf(buf, len, "%.9g", (double)*(const float *)p);
    break;
  case DA_FLOAT64:
    snprintf(buf, len, "%.17g", *(const double *)p);
    break;
  default:
    snprintf(buf, len, "?");
    break;
  }
}

typedef struct {
  const char *cmd, *fmt, *path, *comp, *dataset;
  da_dtype dt;
  int nd;
  int64_t shape[DA_MAX_NDIM], chunks[DA_MAX_NDIM], read_chunks[DA_MAX_NDIM];
  int64_t seed;
  int has_fill, has_read_chunks;
  double fill;
} args;

static int zarr_compressor(const char *s) {
  static const char *names[DA_ZARR_NCOMPRESSORS] = {[DA_ZARR_BLOSC_LZ4] = "blosc-lz4",
                                                    [DA_ZARR_BLOSC_LZ4HC] = "blosc-lz4hc",
                                                    [DA_ZARR_BLOSC_ZSTD] = "blosc-zstd",
                                                    [DA_ZARR_BLOSC_ZLIB] = "blosc-zlib",
                                                    [DA_ZARR_BLOSC_BLOSCLZ] = "blosc-blosclz",
                                                    [DA_ZARR_ZLIB] = "zlib",
                                                    [DA_ZARR_GZIP] = "gzip",
                                                    [DA_ZARR_ZSTD] = "zstd",
                                                    [DA_ZARR_NONE] = "none"};
  for (int k = 0; k < DA_ZARR_NCOMPRESSORS; k++)
    if (strcmp(s, names[k]) == 0)
      return k;
  FAIL("unknown zarr compressor '%s'", s);
  return -1;
}

static void store(da_ctx ctx, const args *a, da_array x) {
  if (strcmp(a->fmt, "h5") == 0) {
    int level = 0;
    if (strncmp(a->comp, "gzip", 4) == 0)
      level = a->comp[4] ? atoi(a->comp + 4) : 4;
    else if (strcmp(a->comp, "none") != 0)
      FAIL("unknown h5 compression '%s'", a->comp);
    CALL(ctx, da_to_hdf5(x, a->path, a->dataset,
                         &(da_hdf5_options){.mode = DA_HDF5_TRUNCATE, .deflate = level}));
  } else {
    CALL(ctx, da_to_zarr(x, a->path, &(da_zarr_options){.compressor = zarr_compressor(a->comp)}));
  }
}

static void do_write(da_ctx ctx, const args *a) {
  int64_t n = 1;
  for (int d = 0; d < a->nd; d++)
    n *= a->shape[d];
  size_t es = da_dtype_size(a->dt), bytes = (size_t)n * es;
  unsigned char *buf = NULL;
  if (rank == 0) {
    buf = malloc(bytes ? bytes : 1);
    if (!buf)
      FAIL("out of memory");
    for (int64_t i = 0; i < n; i++)
      value(a->dt, i + 1000003 * a->seed, buf + (size_t)i * es);
  }
  da_chunks ch = {0};
  for (int d = 0; d < a->nd; d++)
    ch.size[d] = a->chunks[d];
  da_array x;
  CALL(ctx, da_from_root(ctx, 0, a->nd, a->shape, &ch, a->dt, buf, bytes, &x));
  free(buf);
  store(ctx, a, x);
  da_array_destroy(&x);
}

static void do_read(da_ctx ctx, const args *a) {
  da_chunks ch = {0};
  for (int d = 0; d < a->nd; d++)
    ch.size[d] = a->read_chunks[d];
  const da_chunks *chp = a->has_read_chunks ? &ch : NULL;
  da_array x;
  if (strcmp(a->fmt, "h5") == 0)
    CALL(ctx, da_from_hdf5(ctx, a->path, a->dataset, chp, DA_DTYPE_NATIVE, &x));
  else
    CALL(ctx, da_from_zarr(ctx, a->path, chp, &x));
  if (da_array_dtype(x) != a->dt)
    FAIL("%s: dtype %s, want %s", a->path, da_dtype_name(da_array_dtype(x)), da_dtype_name(a->dt));
  if (da_array_ndim(x) != a->nd)
    FAIL("%s: %d axes, want %d", a->path, da_array_ndim(x), a->nd);
  int64_t n = 1;
  for (int d = 0; d < a->nd; d++) {
    if (da_array_shape(x)[d] != a->shape[d])
      FAIL("%s: shape[%d] = %" PRId64 ", want %" PRId64, a->path, d, da_array_shape(x)[d],
           a->shape[d]);
    int64_t want = a->has_read_chunks ? a->read_chunks[d] : a->chunks[d];
    if (want > a->shape[d])
      want = a->shape[d];
    /* Zarr and explicit chunks are kept as they are; darray merges small HDF5 chunks. */
    if ((strcmp(a->fmt, "zarr") == 0 || a->has_read_chunks) && da_array_chunksize(x)[d] != want)
      FAIL("%s: chunks[%d] = %" PRId64 ", want %" PRId64, a->path, d, da_array_chunksize(x)[d],
           want);
    n *= a->shape[d];
  }
  size_t es = da_dtype_size(a->dt), bytes = (size_t)n * es;
  unsigned char *got = rank == 0 ? malloc(bytes ? bytes : 1) : NULL;
  if (rank == 0 && !got)
    FAIL("out of memory");
  CALL(ctx, da_compute(x, 0, got, bytes));
  da_array_destroy(&x);
  int bad = 0;
  if (rank == 0) {
    unsigned char want[8];
    for (int64_t i = 0; i < n && !bad; i++) {
      int in_first = a->has_fill;
      int64_t r = i;
      int64_t idx[DA_MAX_NDIM];
      for (int d = a->nd - 1; d >= 0; d--) {
        idx[d] = r % a->shape[d];
        r /= a->shape[d];
        in_first &= idx[d] < a->chunks[d];
      }
      if (in_first)
        fill_value(a->dt, a->fill, want);
      else
        value(a->dt, i + 1000003 * a->seed, want);
      if (memcmp(got + (size_t)i * es, want, es) != 0) {
        char gs[64], ws[64], is[256];
        print_elem(a->dt, got + (size_t)i * es, gs, sizeof gs);
        print_elem(a->dt, want, ws, sizeof ws);
        int len = snprintf(is, sizeof is, "(");
        for (int d = 0; d < a->nd; d++)
          len += snprintf(is + len, sizeof is - (size_t)len, "%s%" PRId64, d ? ", " : "", idx[d]);
        snprintf(is + len, sizeof is - (size_t)len, ")");
        fprintf(stderr, "da_interop: %s: MISMATCH at %s (flat %" PRId64 "): got %s, want %s%s\n",
                a->path, is, i, gs, ws, in_first ? " (fill value of the missing chunk)" : "");
        bad = 1;
      }
    }
  }
  free(got);
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad) {
    da_ctx_destroy(&ctx);
    MPI_Finalize();
    exit(1);
  }
  if (rank == 0)
    printf("da_interop: %s: %" PRId64 " %s elements as expected\n", a->path, n,
           da_dtype_name(a->dt));
}

static void do_big(da_ctx ctx, const args *a, int64_t mib) {
  int64_t rows = mib * 1024 * 1024 / 8 / 4096;
  da_array x;
  CALL(ctx, da_random_uniform(ctx, 7, 0.0, 1.0, 2, (int64_t[]){rows, 4096},
                              DA_CHUNKS(rows / 16 > 0 ? rows / 16 : 1, 4096), DA_FLOAT64, &x));
  store(ctx, a, x);
  da_array_destroy(&x);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  args a = {.dataset = "/data"};
  if (argc >= 5 && strcmp(argv[1], "big") == 0) {
    a.cmd = argv[1], a.fmt = argv[2], a.path = argv[3], a.comp = "none";
  } else if (argc >= 8 && (strcmp(argv[1], "write") == 0 || strcmp(argv[1], "read") == 0)) {
    a.cmd = argv[1], a.fmt = argv[2], a.path = argv[3], a.dt = parse_dtype(argv[4]);
    a.nd = parse_dims(argv[5], a.shape);
    if (parse_dims(argv[6], a.chunks) != a.nd)
      FAIL("chunks '%s' do not match shape '%s'", argv[6], argv[5]);
    a.comp = argv[7];
    for (int k = 8; k < argc; k++) {
      const char *opt = argv[k], *val = k + 1 < argc ? argv[k + 1] : NULL;
      if (!val)
        FAIL("option %s needs a value", opt);
      k++;
      if (strcmp(opt, "--seed") == 0)
        a.seed = strtoll(val, NULL, 10);
      else if (strcmp(opt, "--dataset") == 0)
        a.dataset = val;
      else if (strcmp(opt, "--fill") == 0)
        a.has_fill = 1, a.fill = strtod(val, NULL);
      else if (strcmp(opt, "--read-chunks") == 0) {
        a.has_read_chunks = 1;
        if (parse_dims(val, a.read_chunks) != a.nd)
          FAIL("read chunks '%s' do not match shape", val);
      } else if (strcmp(opt, "--sep") != 0)
        FAIL("unknown option %s", opt);
    }
  } else {
    FAIL("usage: da_interop write|read FMT PATH DTYPE SHAPE CHUNKS COMP [options] | big FMT "
         "PATH MIB");
  }
  if (strcmp(a.fmt, "h5") != 0 && strcmp(a.fmt, "zarr") != 0)
    FAIL("format '%s' is neither h5 nor zarr", a.fmt);
  da_ctx ctx;
  if (da_ctx_create(MPI_COMM_WORLD, &ctx))
    FAIL("da_ctx_create failed");
  if (strcmp(a.cmd, "write") == 0)
    do_write(ctx, &a);
  else if (strcmp(a.cmd, "read") == 0)
    do_read(ctx, &a);
  else
    do_big(ctx, &a, strtoll(argv[4], NULL, 10));
  da_ctx_destroy(&ctx);
  MPI_Finalize();
  return 0;
}
