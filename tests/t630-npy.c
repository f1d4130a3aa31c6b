/* NumPy files and file inspection: .npy round trips (every dtype, 0-4 axes, uneven chunks, lazy
 * and materialized sources) checked against the bytes NumPy's format prescribes; hand-written
 * files (big-endian, Fortran order, format 2.0 and 3.0, unaligned data); the real USGS DEM in
 * matplotlib's sample data; da_file_inspect and da_file_list on files darray wrote (npy, HDF5
 * with deflate, Zarr with blosc); and bad input failing alike on every rank. */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include "test_util.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static tu_rng rng;
static da_ctx ctx;
static char root[256];

#define DEM "/usr/share/matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz"

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

static void fresh(char *out, size_t len, const char *what) {
  static int n;
  snprintf(out, len, "%s/%s-%d", root, what, n++);
}

/* Rank 0 writes n bytes to path; every rank waits for it. */
static void put_file(const char *path, const void *data, size_t n) {
  if (tu_st()->rank == 0) {
    FILE *f = fopen(path, "wb");
    CHECKF(f && fwrite(data, 1, n, f) == n, "cannot write %s", path);
    if (f)
      fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* Entries of root named *da-tmp* (left-over temporary files). */
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

static void check_same(da_array y, da_dtype dt, const void *want, int nd, const int64_t shape[],
                       const char *what) {
  CHECKF(da_array_dtype(y) == dt, "%s: dtype %d, want %d", what, da_array_dtype(y), dt);
  CHECKF(da_array_ndim(y) == nd, "%s: ndim %d, want %d", what, da_array_ndim(y), nd);
  for (int d = 0; d < nd && d < da_array_ndim(y); d++)
    CHECKF(da_array_shape(y)[d] == shape[d], "%s: shape[%d]", what, d);
  void *got = tu_gather_all(y);
  COMPARE(what, dt, got, want, nd, shape, -1);
  free(got);
}

/* ---------------------------------------------------------------- round trips */

/* The header NumPy writes for a C-order little-endian array (without its padding). */
static void numpy_dict(da_dtype dt, int nd, const int64_t shape[], char *out, size_t len) {
  static const char *descr[] = {"|b1", "|i1", "<i2", "<i4", "<i8", "|u1",
                                "<u2", "<u4", "<u8", "<f4", "<f8"};
  char s[400];
  tu_shape_str(nd, shape, s, sizeof s);
  snprintf(out, len, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr[dt], s);
}

/* Rank 0 reads path as a NumPy reader would: magic, version 1.0, the dict, padding to 64 bytes,
 * then the elements in C order, which must equal want. */
static void check_file_bytes(const char *path, da_dtype dt, int nd, const int64_t shape[],
                             const void *want, const char *what) {
  if (tu_st()->rank != 0)
    return;
  FILE *f = fopen(path, "rb");
  CHECKF(f != NULL, "%s: cannot open %s", what, path);
  if (!f)
    return;
  unsigned char pre[10];
  CHECKF(fread(pre, 1, 10, f) == 10 && !memcmp(pre, "\x93NUMPY\x01\x00", 8), "%s: magic", what);
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  CHECKF((10 + hlen) % 64 == 0, "%s: header of %zu bytes is not padded to 64", what, hlen);
  char *hdr = tu_malloc(hlen + 1), dict[600];
  CHECK(fread(hdr, 1, hlen, f) == hlen);
  hdr[hlen] = '\0';
  numpy_dict(dt, nd, shape, dict, sizeof dict);
  size_t dl = strlen(dict);
  CHECKF(!strncmp(hdr, dict, dl) && hdr[hlen - 1] == '\n', "%s: header '%s', want '%s'", what, hdr,
         dict);
  for (size_t i = dl; i + 1 < hlen; i++)
    CHECKF(hdr[i] == ' ', "%s: header padding", what);
  size_t bytes = (size_t)tu_prod(nd, shape) * da_dtype_size(dt);
  char *got = tu_malloc(bytes + 1);
  CHECKF(fread(got, 1, bytes + 1, f) == bytes, "%s: file holds other than %zu data bytes", what,
         bytes);
  CHECKF(!memcmp(got, want, bytes), "%s: file data differ", what);
  free(got);
  free(hdr);
  fclose(f);
}

static void round_trip(int i) {
  static const da_dtype dts[] = TU_ALL_DTYPES;
  int nd = (int)tu_int(&rng, 0, 4);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(&rng, nd, 700, i % 7 == 6, shape);
  da_dtype dt = dts[i % 11];
  da_chunks ck = {0}, other = {0};
  for (int d = 0; d < nd; d++) {
    ck.size[d] = shape[d] ? tu_int(&rng, 1, shape[d]) : 1;
    other.size[d] = shape[d] ? tu_int(&rng, 1, shape[d]) : 1;
  }
  int64_t n = tu_prod(nd, shape);
  size_t bytes = (size_t)n * da_dtype_size(dt);
  void *want = tu_malloc(bytes);
  tu_fill_random(&rng, dt, want, n);
  da_array x, y, z;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck, dt, want, bytes, &x));
  char path[512], what[128];
  fresh(path, sizeof path, "rt");
  strcat(path, ".npy");
  snprintf(what, sizeof what, "round trip %d (%dd, %s)", i, nd, da_dtype_name(dt));
  TU_OK(ctx, da_to_npy(x, path));
  check_file_bytes(path, dt, nd, shape, want, what);
  TU_OK(ctx, da_from_npy(ctx, path, &ck, &y));
  CHECKF(da_array_is_lazy(y), "%s: not lazy", what);
  check_same(y, dt, want, nd, shape, what);
  TU_OK(ctx, da_from_npy(ctx, path, &other, &z));
  check_same(z, dt, want, nd, shape, what);
  da_array_destroy(&z);
  TU_OK(ctx, da_from_npy(ctx, path, NULL, &z));
  check_same(z, dt, want, nd, shape, what);
  /* What inspection says of it. */
  da_file_info in;
  TU_OK(ctx, da_file_inspect(ctx, path, NULL, &in));
  CHECKF(!strcmp(in.format, "npy") && in.ndim == nd && in.dtype == dt && in.order == 'C' &&
             in.nbytes == (int64_t)bytes && !strcmp(in.compression, "none"),
         "%s: inspected as %s %dd dtype %d order %c nbytes %lld '%s'", what, in.format, in.ndim,
         in.dtype, in.order, (long long)in.nbytes, in.compression);
  struct stat st;
  CHECK(stat(path, &st) == 0 && in.stored_bytes == (int64_t)st.st_size);
  for (int d = 0; d < nd; d++)
    CHECK(in.shape[d] == shape[d] && in.chunks[d] == shape[d]);
  da_array_destroy(&x);
  da_array_destroy(&y);
  da_array_destroy(&z);
  free(want);
}

/* A lazy source is streamed block by block into the file; an existing file is replaced. */
static void lazy_source(void) {
  char path[512];
  fresh(path, sizeof path, "lazy");
  da_array a, b, y;
  TU_OK(ctx, da_arange(ctx, 0, 1000, 1, DA_CHUNKS(77), DA_FLOAT64, &a));
  TU_OK(ctx, da_reshape(a, 2, (int64_t[]){40, 25}, &b));
  TU_OK(ctx, da_to_npy(b, path));
  CHECK(da_array_is_lazy(b));
  double want[1000];
  for (int k = 0; k < 1000; k++)
    want[k] = k;
  TU_OK(ctx, da_from_npy(ctx, path, DA_CHUNKS(7, 9), &y));
  check_same(y, DA_FLOAT64, want, 2, (int64_t[]){40, 25}, "lazy source");
  check_file_bytes(path, DA_FLOAT64, 2, (int64_t[]){40, 25}, want, "lazy source");
  da_array_destroy(&y);
  /* Replaced by a smaller array of another dtype. */
  da_array c;
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){5}, DA_CHUNKS(2), DA_UINT16, &c));
  TU_OK(ctx, da_to_npy(c, path));
  uint16_t ones[5] = {1, 1, 1, 1, 1};
  check_file_bytes(path, DA_UINT16, 1, (int64_t[]){5}, ones, "replaced");
  CHECKF(leftovers() == 0, "temporary files left behind");
  da_array_destroy(&a);
  da_array_destroy(&b);
  da_array_destroy(&c);
}

/* ---------------------------------------------------------------- hand-written files */

/* A .npy of version v with the given dict and data, the header padded (or not) as asked. */
static size_t make_npy(unsigned char *out, int v, const char *dict, bool pad, const void *data,
                       size_t n) {
  size_t pre = v == 1 ? 10 : 12, dl = strlen(dict), hlen = dl + 1;
  if (pad)
    hlen += (64 - (pre + hlen) % 64) % 64;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)v, out[7] = 0;
  for (size_t k = 0; k < pre - 8; k++)
    out[8 + k] = (unsigned char)(hlen >> (8 * k));
  memcpy(out + pre, dict, dl);
  memset(out + pre + dl, ' ', hlen - dl - 1);
  out[pre + hlen - 1] = '\n';
  memcpy(out + pre + hlen, data, n);
  return pre + hlen + n;
}

static void hand_files(void) {
  unsigned char file[4096], data[2048];
  char path[512];
  da_array y;
  /* Big-endian int32, shape (3, 5), no padding: the data starts at an odd offset. */
  int32_t w32[15];
  for (int k = 0; k < 15; k++) {
    w32[k] = k * 100003 - 700000;
    uint32_t u = (uint32_t)w32[k];
    for (int b = 0; b < 4; b++)
      data[k * 4 + b] = (unsigned char)(u >> (8 * (3 - b)));
  }
  size_t n = make_npy(file, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (3, 5)}", false,
                      data, 60);
  fresh(path, sizeof path, "be");
  put_file(path, file, n);
  TU_OK(ctx, da_from_npy(ctx, path, DA_CHUNKS(2, 2), &y));
  check_same(y, DA_INT32, w32, 2, (int64_t[]){3, 5}, "big-endian >i4");
  da_array_destroy(&y);
  /* Fortran order, float64 (4, 3, 2): element (i, j, k) at i + 4 j + 12 k in the file. */
  double wf[24], ff[24];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 2; k++) {
        double v = i * 100 + j * 10 + k + 0.25;
        wf[(i * 3 + j) * 2 + k] = v;
        ff[i + 4 * j + 12 * k] = v;
      }
  n = make_npy(file, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3, 2), }", true, ff,
               sizeof ff);
  fresh(path, sizeof path, "fortran");
  put_file(path, file, n);
  TU_OK(ctx, da_from_npy(ctx, path, NULL, &y));
  check_same(y, DA_FLOAT64, wf, 3, (int64_t[]){4, 3, 2}, "fortran_order True");
  da_array_destroy(&y);
  TU_OK(ctx, da_from_npy(ctx, path, DA_CHUNKS(3, 2, 1), &y));
  CHECK(da_array_chunksize(y)[0] == 3 && da_array_chunksize(y)[1] == 2 &&
        da_array_chunksize(y)[2] == 1);
  check_same(y, DA_FLOAT64, wf, 3, (int64_t[]){4, 3, 2}, "fortran_order True, chunked");
  da_array_destroy(&y);
  /* Format 2.0, uint16, spaces and double quotes as another writer might put them. */
  uint16_t w16[7] = {0, 1, 255, 256, 4660, 65535, 32768};
  n = make_npy(file, 2, "{ \"shape\" : (7,) , \"descr\":\"<u2\",'fortran_order':False }", true, w16,
               sizeof w16);
  fresh(path, sizeof path, "v2");
  put_file(path, file, n);
  TU_OK(ctx, da_from_npy(ctx, path, DA_CHUNKS(3), &y));
  check_same(y, DA_UINT16, w16, 1, (int64_t[]){7}, "version 2.0 <u2");
  da_array_destroy(&y);
  /* Format 3.0, bools written as other nonzero bytes read as true. */
  unsigned char braw[6] = {0, 1, 2, 0, 255, 1}, bwant[6] = {0, 1, 1, 0, 1, 1};
  n = make_npy(file, 3, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }", true, braw,
               6);
  fresh(path, sizeof path, "v3");
  put_file(path, file, n);
  TU_OK(ctx, da_from_npy(ctx, path, NULL, &y));
  check_same(y, DA_BOOL, bwant, 2, (int64_t[]){2, 3}, "version 3.0 |b1");
  da_array_destroy(&y);
  /* A 0-d big-endian float32. */
  float f = -3.5f;
  uint32_t fb;
  memcpy(&fb, &f, 4);
  for (int b = 0; b < 4; b++)
    data[b] = (unsigned char)(fb >> (8 * (3 - b)));
  n = make_npy(file, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (), }", true, data, 4);
  fresh(path, sizeof path, "scalar");
  put_file(path, file, n);
  TU_OK(ctx, da_from_npy(ctx, path, NULL, &y));
  check_same(y, DA_FLOAT32, &f, 0, NULL, "0-d >f4");
  da_array_destroy(&y);
}

/* ---------------------------------------------------------------- the DEM */

/* Numbers of the 'elevation' member (int16, 344 x 403) computed with NumPy from the file. */
static void dem(void) {
  if (access(DEM, R_OK)) {
    CHECKF(false, "%s is missing (Debian package python-matplotlib-data)", DEM);
    return;
  }
  da_array e, e2, dx;
  TU_OK(ctx, da_from_npz(ctx, DEM, "elevation", DA_CHUNKS(100, 100), &e));
  CHECK(da_array_ndim(e) == 2 && da_array_shape(e)[0] == 344 && da_array_shape(e)[1] == 403);
  CHECK(da_array_dtype(e) == DA_INT16);
  CHECK(da_array_numblocks(e)[0] == 4 && da_array_numblocks(e)[1] == 5);
  int16_t *v = tu_gather_all(e);
  int64_t sum = 0, wsum = 0, row0 = 0, col0 = 0, lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t i = 0; i < 344; i++)
    for (int64_t j = 0; j < 403; j++) {
      int64_t x = v[i * 403 + j];
      sum += x, wsum += x * (i + 1) * (j + 1);
      row0 += i == 0 ? x : 0, col0 += j == 0 ? x : 0;
      lo = x < lo ? x : lo, hi = x > hi ? x : hi;
    }
  CHECKF(sum == 73617913, "DEM sum %lld", (long long)sum);
  CHECKF(wsum == 2291997258954LL, "DEM weighted sum %lld", (long long)wsum);
  CHECKF(row0 == 213572 && col0 == 184684, "DEM row 0 sum %lld, column 0 sum %lld", (long long)row0,
         (long long)col0);
  CHECKF(lo == 236 && hi == 1076, "DEM min %lld max %lld", (long long)lo, (long long)hi);
  CHECK(v[0] == 483 && v[343 * 403 + 402] == 272 && v[100 * 403 + 200] == 522);
  /* By its stored name, and as the archive's first member: the same array. */
  TU_OK(ctx, da_from_npz(ctx, DEM, "elevation.npy", NULL, &e2));
  check_same(e2, DA_INT16, v, 2, (int64_t[]){344, 403}, "DEM as elevation.npy");
  da_array_destroy(&e2);
  TU_OK(ctx, da_from_npz(ctx, DEM, NULL, DA_CHUNKS(50, DA_CHUNK_WHOLE), &e2));
  check_same(e2, DA_INT16, v, 2, (int64_t[]){344, 403}, "DEM as first member");
  da_array_destroy(&e2);
  TU_OK(ctx, da_from_npz(ctx, DEM, "dx", NULL, &dx));
  double d = 0;
  TU_OK(ctx, da_compute(dx, DA_ALL_RANKS, &d, sizeof d));
  CHECKF(da_array_ndim(dx) == 0 && d == 0.0008333333333333334, "DEM dx %.17g", d);
  /* Inspection of the member, from its metadata. */
  da_file_info in;
  TU_OK(ctx, da_file_inspect(ctx, DEM, "elevation", &in));
  CHECKF(!strcmp(in.format, "npz") && in.ndim == 2 && in.shape[0] == 344 && in.shape[1] == 403 &&
             in.dtype == DA_INT16 && !strcmp(in.dtype_text, "<i2") && in.nbytes == 277264 &&
             in.stored_bytes == 172949 && !strcmp(in.compression, "zip deflate") && in.order == 'C',
         "DEM inspected as %s %dd %s '%s' %lld/%lld '%s'", in.format, in.ndim,
         da_dtype_name(in.dtype), in.dtype_text, (long long)in.nbytes, (long long)in.stored_bytes,
         in.compression);
  char list[256];
  size_t need = 0;
  TU_OK(ctx, da_file_list(ctx, DEM, list, sizeof list, &need));
  CHECKF(strstr(list, "elevation.npy\n") && strstr(list, "dx.npy\n") && need == strlen(list),
         "DEM members '%s' (%zu)", list, need);
  free(v);
  da_array_destroy(&e);
  da_array_destroy(&dx);
}

/* ---------------------------------------------------------------- inspecting darray's files */

static int64_t tree_bytes;
static int add_size(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)f;
  if (flag == FTW_F && p[f->base] != '.')
    tree_bytes += st->st_size;
  return 0;
}

static void inspect_written(void) {
  char h5[512], zarr[512], svg[512];
  fresh(h5, sizeof h5, "w.h5");
  fresh(zarr, sizeof zarr, "w.zarr");
  da_array a, b;
  TU_OK(ctx, da_arange(ctx, 0, 60 * 70, 1, DA_CHUNKS(DA_CHUNK_WHOLE), DA_INT32, &a));
  TU_OK(ctx, da_reshape(a, 2, (int64_t[]){60, 70}, &b));
  da_array_destroy(&a);
  TU_OK(ctx, da_rechunk(b, DA_CHUNKS(16, 30), &a));
  TU_OK(ctx, da_to_hdf5(a, h5, "/grp/x", &(da_hdf5_options){.deflate = 4}));
  TU_OK(ctx, da_to_hdf5(b, h5, "/y", NULL));
  TU_OK(ctx, da_to_zarr(a, zarr, NULL));
  da_file_info in;
  TU_OK(ctx, da_file_inspect(ctx, h5, "/grp/x", &in));
  CHECKF(!strcmp(in.format, "hdf5") && in.ndim == 2 && in.shape[0] == 60 && in.shape[1] == 70 &&
             in.chunks[0] == 16 && in.chunks[1] == 30 && in.dtype == DA_INT32 &&
             !strcmp(in.dtype_text, "H5T_STD_I32LE") && in.nbytes == 60 * 70 * 4 &&
             !strcmp(in.compression, "gzip level 4") && in.stored_bytes > 0 &&
             in.stored_bytes < in.nbytes && in.order == 'C',
         "HDF5 inspected as %s %dd (%lld, %lld) chunks (%lld, %lld) %s '%s' %lld/%lld '%s'",
         in.format, in.ndim, (long long)in.shape[0], (long long)in.shape[1],
         (long long)in.chunks[0], (long long)in.chunks[1], da_dtype_name(in.dtype), in.dtype_text,
         (long long)in.nbytes, (long long)in.stored_bytes, in.compression);
  TU_OK(ctx, da_file_inspect(ctx, h5, "/y", &in));
  CHECKF(!strcmp(in.compression, "none") && in.stored_bytes == 60 * 70 * 4, "HDF5 /y: '%s' %lld",
         in.compression, (long long)in.stored_bytes);
  char list[64];
  size_t need = 0;
  TU_OK(ctx, da_file_list(ctx, h5, list, sizeof list, &need));
  CHECKF(!strcmp(list, "/grp/x\n/y\n") && need == 10, "HDF5 list '%s' (%zu)", list, need);
  TU_OK(ctx, da_file_list(ctx, h5, list, 5, &need));
  CHECKF(!strcmp(list, "/grp") && need == 10, "cut list '%s' (%zu)", list, need);
  TU_OK(ctx, da_file_inspect(ctx, zarr, NULL, &in));
  tree_bytes = 0;
  nftw(zarr, add_size, 8, FTW_PHYS);
  CHECKF(!strcmp(in.format, "zarr") && in.ndim == 2 && in.chunks[0] == 16 && in.chunks[1] == 30 &&
             in.dtype == DA_INT32 && !strcmp(in.dtype_text, "<i4") &&
             !strcmp(in.compression, "blosc lz4 level 5 shuffle") &&
             in.stored_bytes == tree_bytes && in.order == 'C',
         "Zarr inspected as %s chunks (%lld, %lld) '%s' '%s' %lld (files: %lld)", in.format,
         (long long)in.chunks[0], (long long)in.chunks[1], in.dtype_text, in.compression,
         (long long)in.stored_bytes, (long long)tree_bytes);
  /* A picture of a's chunk grid. */
  fresh(svg, sizeof svg, "grid.svg");
  const int64_t *ck[2] = {da_array_chunks(a, 0), da_array_chunks(a, 1)};
  if (tu_st()->rank == 0) {
    CHECK(da_chunks_svg(2, da_array_shape(a), ck, da_array_numblocks(a), svg) == 0);
    FILE *f = fopen(svg, "r");
    char text[8192] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
      fclose(f);
    int lines = 0;
    for (const char *p = text; (p = strstr(p, "<line")); p++)
      lines++;
    /* 4 + 1 horizontal and 3 + 1 vertical boundaries. */
    CHECKF(strstr(text, "<svg") && strstr(text, "<rect") && lines == 9 && strstr(text, "</svg>"),
           "svg with %d lines: %.200s", lines, text);
    CHECK(da_chunks_svg(2, da_array_shape(a), ck, da_array_numblocks(a), "/nonexistent/x.svg") ==
          DA_ERR_IO);
  }
  da_array_destroy(&a);
  da_array_destroy(&b);
}

/* ---------------------------------------------------------------- bad input */

static void bad_input(void) {
  unsigned char file[1024];
  char path[512];
  int64_t z[4] = {0, 0, 0, 0};
  da_array y = NULL;
  FAILS(da_from_npy(ctx, "/nonexistent/t630.npy", NULL, &y), DA_ERR_IO, "missing file");
  CHECK(y == NULL && strstr(da_ctx_errmsg(ctx), "t630.npy"));
  static const struct {
    int version;
    const char *dict;
    size_t data;
    int code;
  } cases[] = {
      {1, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32, DA_ERR_DTYPE},
      {1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4, DA_ERR_DTYPE},
      {1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, DA_ERR_DTYPE},
      {1, "{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", 20, DA_ERR_DTYPE},
      {1, "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", 12,
       DA_ERR_DTYPE},
      {1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }", 8, DA_ERR_DTYPE},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'shape': (4,), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), 'x': 1}", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (4,)}", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (4,), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-4,), }", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), } x", 32, DA_ERR_IO},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), ", 32, DA_ERR_IO},
      {1, "['descr', '<f8']", 32, DA_ERR_IO},
      {4, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", 32, DA_ERR_IO},
      {1,
       "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), "
       "}",
       32, DA_ERR_IO},
  };
  char what[96];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = make_npy(file, cases[i].version, cases[i].dict, true, z, cases[i].data);
    fresh(path, sizeof path, "bad");
    put_file(path, file, n);
    snprintf(what, sizeof what, "bad .npy %zu", i);
    FAILS(da_from_npy(ctx, path, NULL, &y), cases[i].code, what);
    CHECK(y == NULL);
  }
  /* A header cut short, a file shorter than the magic, the magic of something else. */
  size_t n =
      make_npy(file, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", true, z, 32);
  fresh(path, sizeof path, "cut");
  put_file(path, file, 40);
  FAILS(da_from_npy(ctx, path, NULL, &y), DA_ERR_IO, "truncated header");
  put_file(path, file, 5);
  FAILS(da_from_npy(ctx, path, NULL, &y), DA_ERR_IO, "5-byte file");
  put_file(path, "PK\x03\x04 not npy at all", 20);
  FAILS(da_from_npy(ctx, path, NULL, &y), DA_ERR_IO, "not a .npy");
  FAILS(da_from_npz(ctx, path, NULL, NULL, &y), DA_ERR_IO, "not a zip");
  put_file(path, file, n - 8);
  FAILS(da_from_npy(ctx, path, NULL, &y), DA_ERR_IO, "truncated data");
  FAILS(da_from_npy(ctx, root, NULL, &y), DA_ERR_IO, "a directory");
  if (!access(DEM, R_OK)) {
    FAILS(da_from_npz(ctx, DEM, "nope", NULL, &y), DA_ERR_IO, "npz without the member");
    CHECK(strstr(da_ctx_errmsg(ctx), "nope") && strstr(da_ctx_errmsg(ctx), "elevation.npy"));
  }
  FAILS(da_from_npz(ctx, "/nonexistent/t630.npz", "a", NULL, &y), DA_ERR_IO, "missing npz");
  /* Writes that cannot happen leave nothing behind. */
  da_array a;
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){10}, DA_CHUNKS(3), DA_INT8, &a));
  FAILS(da_to_npy(a, "/nonexistent/dir/t630.npy"), DA_ERR_IO, "write into a missing directory");
  FAILS(da_to_npy(a, root), DA_ERR_IO, "write over a directory");
  FAILS(da_to_npy(a, NULL), DA_ERR_ARG, "NULL path");
  CHECKF(leftovers() == 0, "temporary files left behind after failed writes");
  da_array_destroy(&a);
  /* Inspection errors are local, with a message. */
  da_file_info in;
  CHECK(da_file_inspect(ctx, "/nonexistent/t630.h5", NULL, &in) == DA_ERR_IO);
  CHECK(da_file_inspect(ctx, path, NULL, &in) == DA_ERR_IO);
  CHECK(strstr(da_ctx_errmsg(ctx), path) != NULL);
  fresh(path, sizeof path, "text");
  put_file(path, "hello, world\n", 13);
  CHECK(da_file_inspect(ctx, path, NULL, &in) == DA_ERR_IO);
  CHECK(da_file_list(ctx, path, NULL, 0, NULL) == DA_ERR_IO);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t630-npy");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  rng = tu_rng_make(630);
  if (tu_st()->rank == 0) {
    snprintf(root, sizeof root, "%s/t630-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
      MPI_Abort(MPI_COMM_WORLD, 4);
  }
  MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int i = 0; i < 33; i++)
    round_trip(i);
  tu_sync();
  lazy_source();
  tu_sync();
  hand_files();
  tu_sync();
  dem();
  tu_sync();
  inspect_written();
  tu_sync();
  bad_input();
  tu_sync();
  MPI_Barrier(MPI_COMM_WORLD);
  if (tu_st()->rank == 0)
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  da_ctx_destroy(&ctx);
  return tu_finish();
}
