/* Zarr format v2 directory stores: .zarray metadata (jansson), chunk codecs (zlib, zstd,
 * c-blosc), a lazy reader layer and a writer that replaces its target only when complete. */
#define _GNU_SOURCE /* renameat2, mkdtemp, nftw */
#include "io/zarr.h"
#include "diag/diag.h"

#include <blosc.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define META_MAX_BYTES (16 << 20) /* a .zarray is a few hundred bytes; refuse anything absurd */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE_ORDER '>'
#else
#define NATIVE_ORDER '<'
#endif

/* ---------------------------------------------------------------- metadata */

static const struct {
  char kind;
  int size;
  da_dtype dt;
} zarr_types[] = {{'b', 1, DA_BOOL},    {'i', 1, DA_INT8},   {'i', 2, DA_INT16},
                  {'i', 4, DA_INT32},   {'i', 8, DA_INT64},  {'u', 1, DA_UINT8},
                  {'u', 2, DA_UINT16},  {'u', 4, DA_UINT32}, {'u', 8, DA_UINT64},
                  {'f', 4, DA_FLOAT32}, {'f', 8, DA_FLOAT64}};

static int parse_dtype(da_ctx ctx, const json_t *v, da_zarr_meta *m) {
  if (!v)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray lacks dtype");
  if (!json_is_string(v))
    return DA_ERR(ctx, DA_ERR_DTYPE,
                  ".zarray dtype is not a string (structured dtypes are not "
                  "supported)");
  const char *s = json_string_value(v);
  if (json_string_length(v) == 3 && strchr("<>|", s[0]) && s[2] >= '1' && s[2] <= '8')
    for (size_t i = 0; i < sizeof zarr_types / sizeof zarr_types[0]; i++)
      if (zarr_types[i].kind == s[1] && zarr_types[i].size == s[2] - '0') {
        m->dtype = zarr_types[i].dt;
        m->swap = zarr_types[i].size > 1 && s[0] != '|' && s[0] != NATIVE_ORDER;
        return DA_OK;
      }
  return DA_ERR(ctx, DA_ERR_DTYPE,
                ".zarray dtype '%.32s' is not supported (bool, int8-64, "
                "uint8-64, float32, float64, as '<f8', '>i4', '|b1')",
                s);
}

static int parse_dims(da_ctx ctx, const json_t *root, const char *key, int64_t out[], int *n,
                      int64_t min) {
  const json_t *v = json_object_get(root, key);
  if (!v)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray lacks %s", key);
  if (!json_is_array(v))
    return DA_ERR(ctx, DA_ERR_IO, ".zarray %s is not a list", key);
  if (json_array_size(v) > DA_MAX_NDIM)
    return DA_ERR(ctx, DA_ERR_SHAPE, ".zarray %s has %zu entries; darray allows at most %d", key,
                  json_array_size(v), DA_MAX_NDIM);
  *n = (int)json_array_size(v);
  for (int d = 0; d < *n; d++) {
    const json_t *e = json_array_get(v, (size_t)d);
    if (!json_is_integer(e) || json_integer_value(e) < min)
      return DA_ERR(ctx, DA_ERR_IO, ".zarray %s[%d] is not an integer >= %lld", key, d,
                    (long long)min);
    out[d] = (int64_t)json_integer_value(e);
  }
  return DA_OK;
}

static int parse_fill(da_ctx ctx, const json_t *v, da_zarr_meta *m) {
  memset(m->fill, 0, sizeof m->fill);
  if (!v || json_is_null(v))
    return DA_OK; /* Zarr's "uninitialized": zeros */
  bool isint = false;
  json_int_t iv = 0;
  double x = 0;
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (!strcmp(s, "NaN"))
      x = NAN;
    else if (!strcmp(s, "Infinity"))
      x = INFINITY;
    else if (!strcmp(s, "-Infinity"))
      x = -INFINITY;
    else
      return DA_ERR(ctx, DA_ERR_IO, ".zarray fill_value '%.32s' is not a number", s);
  } else if (json_is_boolean(v)) {
    isint = true, iv = json_is_true(v);
  } else if (json_is_integer(v)) {
    isint = true, iv = json_integer_value(v);
  } else if (json_is_real(v)) {
    x = json_real_value(v);
  } else {
    return DA_ERR(ctx, DA_ERR_IO, ".zarray fill_value is neither a number nor null");
  }
  if (!isint && !da_dtype_is_float(m->dtype)) {
    /* A float for an integer dtype: take it when it converts exactly enough to an int64. */
    if (!(x >= -9.2e18 && x <= 9.2e18))
      return DA_ERR(ctx, DA_ERR_IO, ".zarray fill_value %g does not fit dtype %s", x,
                    da_dtype_name(m->dtype));
    isint = true, iv = (json_int_t)x;
  }
  if (!isint) {
    da_fill_value(m->dtype, x, m->fill, 1);
    return DA_OK;
  }
  switch (m->dtype) {
#define SET_FILL_(E, T, S)                                                                         \
  case E: {                                                                                        \
    T t = (T)iv;                                                                                   \
    memcpy(m->fill, &t, sizeof t);                                                                 \
    break;                                                                                         \
  }
    DA_FOR_EACH_DTYPE(SET_FILL_)
#undef SET_FILL_
  default:
    break;
  }
  return DA_OK;
}

static int parse_compressor(da_ctx ctx, const json_t *v, da_zarr_meta *m) {
  m->codec = DA_ZCODEC_NONE;
  if (!v || json_is_null(v))
    return DA_OK;
  const json_t *id = json_is_object(v) ? json_object_get(v, "id") : NULL;
  if (!json_is_string(id))
    return DA_ERR(ctx, DA_ERR_IO, ".zarray compressor is neither null nor an object with an id");
  const char *s = json_string_value(id);
  if (!strcmp(s, "zlib")) {
    m->codec = DA_ZCODEC_ZLIB;
  } else if (!strcmp(s, "gzip")) {
    m->codec = DA_ZCODEC_GZIP;
  } else if (!strcmp(s, "zstd")) {
    m->codec = DA_ZCODEC_ZSTD;
  } else if (!strcmp(s, "blosc")) {
    m->codec = DA_ZCODEC_BLOSC;
    /* The blosc header names its codec; check it is one this c-blosc was built with. */
    const json_t *cname = json_object_get(v, "cname");
    if (cname &&
        (!json_is_string(cname) || blosc_compname_to_compcode(json_string_value(cname)) < 0))
      return DA_ERR(ctx, DA_ERR_UNSUPPORTED, ".zarray blosc cname '%.32s' is not supported",
                    json_is_string(cname) ? json_string_value(cname) : "?");
  } else {
    return DA_ERR(ctx, DA_ERR_UNSUPPORTED,
                  ".zarray compressor '%.32s' is not supported (null, zlib, gzip, zstd, blosc)", s);
  }
  return DA_OK;
}

static int parse_root(da_ctx ctx, const json_t *root, da_zarr_meta *m) {
  if (!json_is_object(root))
    return DA_ERR(ctx, DA_ERR_IO, ".zarray is not a JSON object");
  const json_t *v = json_object_get(root, "zarr_format");
  if (!v)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray lacks zarr_format");
  if (!json_is_integer(v) || json_integer_value(v) != 2)
    return DA_ERR(ctx, DA_ERR_UNSUPPORTED, ".zarray zarr_format is not 2 (only Zarr v2 is read)");
  int nc = 0;
  DA_TRY(parse_dims(ctx, root, "shape", m->shape, &m->ndim, 0));
  DA_TRY(parse_dims(ctx, root, "chunks", m->chunks, &nc, 1));
  if (nc != m->ndim)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray has %d shape entries but %d chunks", m->ndim, nc);
  DA_TRY(parse_dtype(ctx, json_object_get(root, "dtype"), m));
  v = json_object_get(root, "order");
  if (!json_is_string(v))
    return DA_ERR(ctx, DA_ERR_IO, ".zarray lacks order");
  if (strcmp(json_string_value(v), "C"))
    return DA_ERR(ctx, DA_ERR_UNSUPPORTED, ".zarray order '%.8s' is not supported (only C)",
                  json_string_value(v));
  v = json_object_get(root, "filters");
  if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
    return DA_ERR(ctx, DA_ERR_UNSUPPORTED, ".zarray filters are not supported (only null)");
  DA_TRY(parse_compressor(ctx, json_object_get(root, "compressor"), m));
  v = json_object_get(root, "dimension_separator");
  m->sep = '.';
  if (v) {
    if (!json_is_string(v) ||
        (strcmp(json_string_value(v), ".") && strcmp(json_string_value(v), "/")))
      return DA_ERR(ctx, DA_ERR_IO, ".zarray dimension_separator is neither '.' nor '/'");
    m->sep = json_string_value(v)[0];
  }
  DA_TRY(parse_fill(ctx, json_object_get(root, "fill_value"), m));
  /* Sizes must be addressable: the whole array in elements and one chunk in bytes. */
  int64_t total = 1, chunk = (int64_t)da_dtype_size(m->dtype);
  for (int d = 0; d < m->ndim; d++)
    if (__builtin_mul_overflow(total, m->shape[d], &total) ||
        __builtin_mul_overflow(chunk, m->chunks[d], &chunk))
      return DA_ERR(ctx, DA_ERR_OVERFLOW, ".zarray shape or chunks overflow 64 bits");
  return DA_OK;
}

int da_zarr_parse_meta(da_ctx ctx, const char *json, size_t len, da_zarr_meta *meta) {
  memset(meta, 0, sizeof *meta);
  if (!json)
    return DA_ERR(ctx, DA_ERR_ARG, "json is NULL");
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray is not valid JSON: %s (line %d, column %d)", jerr.text,
                  jerr.line, jerr.column);
  int rc = parse_root(ctx, root, meta);
  json_decref(root);
  return rc;
}

/* ---------------------------------------------------------------- files */

/* Reads a whole file into *buf (grown as needed). *missing, when given, reports a file that
 * does not exist instead of failing. */
static int read_file(da_ctx ctx, const char *name, char **buf, size_t *cap, size_t *n,
                     bool *missing) {
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (missing && (errno == ENOENT || errno == ENOTDIR)) {
      *missing = true;
      return DA_OK;
    }
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", name, strerror(errno));
  }
  if (missing)
    *missing = false;
  struct stat st;
  int rc = DA_OK;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' is not a regular file", name);
  } else if ((size_t)st.st_size + 1 > *cap) {
    free(*buf);
    *cap = (size_t)st.st_size + 1;
    if (!(*buf = da_malloc(ctx, *cap)))
      *cap = 0, rc = DA_ERR_NOMEM;
  }
  size_t got = 0;
  while (!rc && got < (size_t)st.st_size) {
    ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot read '%s': %s", name, r ? strerror(errno) : "short read");
    else
      got += (size_t)r;
  }
  close(fd);
  *n = got;
  return rc;
}

/* Maps a whole chunk file read-only: decoding reads the page cache in place, with no copy
 * into a buffer of our own. *missing reports a file that does not exist. Unmap with
 * munmap(*map, *n) when *n > 0. */
static int map_file(da_ctx ctx, const char *name, const char **map, size_t *n, bool *missing) {
  *map = NULL, *n = 0, *missing = false;
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      *missing = true;
      return DA_OK;
    }
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", name, strerror(errno));
  }
  struct stat st;
  int rc = DA_OK;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' is not a regular file", name);
  } else if (st.st_size > 0) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot read '%s': %s", name, strerror(errno));
    else
      *map = m, *n = (size_t)st.st_size;
  }
  close(fd);
  return rc;
}

static int write_file(da_ctx ctx, const char *name, const void *data, size_t n, bool sync) {
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot create '%s': %s", name, strerror(errno));
  /* Space reserved first, as one extent: the page cache then fills it faster, and a full
   * disk fails here. */
  int e = n >= ((size_t)1 << 20) ? posix_fallocate(fd, 0, (off_t)n) : 0;
  if (e && e != EOPNOTSUPP && e != EINVAL) {
    close(fd);
    return DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", name, strerror(e));
  }
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, (const char *)data + done, n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : ENOSPC;
      close(fd);
      return DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", name, strerror(e));
    }
    done += (size_t)w;
  }
  e = sync && fsync(fd) ? errno : 0;
  if (close(fd) && !e)
    e = errno;
  return e ? DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", name, strerror(e)) : DA_OK;
}

/* Flushes a directory's entries to disk. */
static int sync_dir(da_ctx ctx, const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd)) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return DA_ERR(ctx, DA_ERR_IO, "cannot sync '%s': %s", dir, strerror(e));
  }
  close(fd);
  return DA_OK;
}

/* Flushes the entries of the directory holding path. */
static int sync_parent(da_ctx ctx, const char *path) {
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  if (!slash)
    snprintf(parent, sizeof parent, ".");
  else
    slash[slash == parent] = '\0'; /* "/x" keeps "/" */
  return sync_dir(ctx, parent);
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

/* Removes a directory tree without following links. */
static int remove_tree(const char *path) {
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The file of chunk ci: path/i<sep>j<sep>k ("0" for a 0-d array). */
static int chunk_name(da_ctx ctx, const char *dir, int nd, const int64_t ci[], char sep, char *out,
                      size_t len) {
  int k = snprintf(out, len, "%s/", dir);
  for (int d = 0; d < nd && k > 0 && (size_t)k < len; d++)
    k += d ? snprintf(out + k, len - (size_t)k, "%c%lld", sep, (long long)ci[d])
           : snprintf(out + k, len - (size_t)k, "%lld", (long long)ci[d]);
  if (nd == 0 && k > 0 && (size_t)k < len)
    k += snprintf(out + k, len - (size_t)k, "0");
  if (k < 0 || (size_t)k >= len)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", dir);
  return DA_OK;
}

/* ---------------------------------------------------------------- codecs */

static int inflate_all(da_ctx ctx, const char *name, const void *src, size_t n, void *out,
                       size_t want, int wbits) {
  z_stream s = {0};
  if (inflateInit2(&s, wbits) != Z_OK)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot start zlib");
  s.next_in = (Bytef *)src;
  s.avail_in = (uInt)(n > UINT_MAX ? UINT_MAX : n);
  s.next_out = out;
  s.avail_out = (uInt)(want > UINT_MAX ? UINT_MAX : want);
  int zr = Z_OK;
  /* uInt counts: feed more than 4 GiB in pieces. */
  while (zr == Z_OK) {
    zr = inflate(&s, Z_NO_FLUSH);
    if (zr == Z_OK || zr == Z_BUF_ERROR) {
      size_t in_left = n - (size_t)s.total_in, out_left = want - (size_t)s.total_out;
      if (!s.avail_in && in_left)
        s.avail_in = (uInt)(in_left > UINT_MAX ? UINT_MAX : in_left), zr = Z_OK;
      else if (!s.avail_out && out_left)
        s.avail_out = (uInt)(out_left > UINT_MAX ? UINT_MAX : out_left), zr = Z_OK;
      else if (zr == Z_BUF_ERROR)
        break;
    }
  }
  size_t got = (size_t)s.total_out;
  inflateEnd(&s);
  if (zr != Z_STREAM_END)
    return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' is corrupt or truncated (zlib: %s)", name,
                  zr == Z_BUF_ERROR ? "data ends early or decodes to more bytes than the chunk"
                                    : zError(zr));
  if (got != want)
    return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' decodes to %zu bytes, expected %zu", name, got, want);
  return DA_OK;
}

/* Decodes the n stored bytes of a chunk into out, which holds exactly want bytes. */
static int chunk_decode(da_ctx ctx, da_zcodec codec, const char *name, const void *src, size_t n,
                        void *out, size_t want) {
  switch (codec) {
  case DA_ZCODEC_NONE:
    if (n != want)
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' has %zu bytes, expected %zu", name, n, want);
    memcpy(out, src, n);
    return DA_OK;
  case DA_ZCODEC_ZLIB:
    return inflate_all(ctx, name, src, n, out, want, MAX_WBITS);
  case DA_ZCODEC_GZIP:
    return inflate_all(ctx, name, src, n, out, want, 16 + MAX_WBITS);
  case DA_ZCODEC_ZSTD: {
    size_t r = ZSTD_decompress(out, want, src, n);
    if (ZSTD_isError(r))
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' is corrupt or truncated (zstd: %s)", name,
                    ZSTD_getErrorName(r));
    if (r != want)
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' decodes to %zu bytes, expected %zu", name, r, want);
    return DA_OK;
  }
  case DA_ZCODEC_BLOSC: {
    size_t nb = 0;
    /* Validate the header against the buffer first: blosc trusts it otherwise. */
    if (blosc_cbuffer_validate(src, n, &nb) < 0)
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' is corrupt or truncated (bad blosc header)", name);
    if (nb != want)
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' decodes to %zu bytes, expected %zu", name, nb,
                    want);
    int r = blosc_decompress_ctx(src, out, want, 1);
    if (r < 0 || (size_t)r != want)
      return DA_ERR(ctx, DA_ERR_IO, "chunk '%s' is corrupt or truncated (blosc error %d)", name, r);
    return DA_OK;
  }
  }
  return DA_ERR(ctx, DA_ERR_INTERNAL, "unknown codec");
}

/* ---------------------------------------------------------------- boxes */

/* Copies the box of n[] elements at slo[] in src (shape ss[]) to dlo[] in dst (shape ds[]);
 * with src NULL, fills the box with the element at fill. */
static void box_copy(int nd, size_t es, const int64_t n[], const char *src, const int64_t ss[],
                     const int64_t slo[], char *dst, const int64_t ds[], const int64_t dlo[],
                     const void *fill) {
  int64_t rows = 1, idx[DA_MAX_NDIM] = {0}, row = nd ? n[nd - 1] : 1;
  for (int d = 0; d < nd; d++)
    if (n[d] == 0)
      return;
  for (int d = 0; d + 1 < nd; d++)
    rows *= n[d];
  for (int64_t r = 0; r < rows; r++) {
    int64_t so = 0, dof = 0;
    for (int d = 0; d < nd; d++) {
      int64_t i = d + 1 < nd ? idx[d] : 0;
      so = src ? so * ss[d] + slo[d] + i : 0;
      dof = dof * ds[d] + dlo[d] + i;
    }
    char *o = dst + (size_t)dof * es;
    if (src)
      memcpy(o, src + (size_t)so * es, (size_t)row * es);
    else
      for (int64_t k = 0; k < row; k++)
        memcpy(o + (size_t)k * es, fill, es);
    for (int d = nd - 2; d >= 0 && ++idx[d] == n[d]; d--)
      idx[d] = 0;
  }
}

/* Converts n decoded elements to darray's form: native byte order, bools 0 or 1. */
static void fix_elements(const da_zarr_meta *m, size_t es, char *p, int64_t n) {
  if (m->swap)
    for (int64_t i = 0; i < n; i++)
      for (size_t a = 0, b = es - 1; a < b; a++, b--) {
        char t = p[(size_t)i * es + a];
        p[(size_t)i * es + a] = p[(size_t)i * es + b];
        p[(size_t)i * es + b] = t;
      }
  if (m->dtype == DA_BOOL)
    for (int64_t i = 0; i < n; i++)
      p[i] = p[i] != 0;
}

/* ---------------------------------------------------------------- reader */

typedef struct {
  da_zarr_meta m;
  char *path;
} zarr_params;

static void zarr_params_free(void *v) {
  zarr_params *p = v;
  if (p)
    free(p->path);
  free(p);
}

/* Block b from the chunk files it intersects; missing files read as the fill value. */
static int zarr_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)ins, (void)nins;
  const zarr_params *p = a->params;
  const da_zarr_meta *m = &p->m;
  da_ctx ctx = a->ctx;
  int nd = a->ndim;
  size_t es = a->elsize;
  int64_t off[DA_MAX_NDIM], shp[DA_MAX_NDIM], c0[DA_MAX_NDIM], c1[DA_MAX_NDIM], ci[DA_MAX_NDIM];
  int64_t zelems = 1;
  da_block_offset_of(a, b, off);
  da_block_shape_of(a, b, shp);
  for (int d = 0; d < nd; d++) {
    if (shp[d] == 0)
      return DA_OK;
    c0[d] = ci[d] = off[d] / m->chunks[d];
    c1[d] = (off[d] + shp[d] - 1) / m->chunks[d];
    zelems *= m->chunks[d];
  }
  size_t zbytes = (size_t)zelems * es, n = 0;
  double t0 = da_trace_now(ctx); /* the trace's IO time */
  const char *raw = NULL;
  char *tmp = NULL, name[PATH_MAX];
  int rc = DA_OK;
  for (bool more = true; more && !rc;) {
    /* The box where chunk ci and the block meet, in global, block and chunk coordinates. */
    int64_t lo[DA_MAX_NDIM], cnt[DA_MAX_NDIM], blo[DA_MAX_NDIM], zlo[DA_MAX_NDIM];
    bool whole = true;
    for (int d = 0; d < nd; d++) {
      int64_t zs = ci[d] * m->chunks[d], ze = zs + m->chunks[d], be = off[d] + shp[d];
      lo[d] = zs > off[d] ? zs : off[d];
      cnt[d] = (ze < be ? ze : be) - lo[d];
      blo[d] = lo[d] - off[d];
      zlo[d] = lo[d] - zs;
      whole = whole && cnt[d] == m->chunks[d] && shp[d] == m->chunks[d];
    }
    bool missing = false;
    rc = chunk_name(ctx, p->path, nd, ci, m->sep, name, sizeof name);
    if (!rc)
      rc = map_file(ctx, name, &raw, &n, &missing);
    if (!rc && missing) {
      box_copy(nd, es, cnt, NULL, NULL, NULL, out, shp, blo, m->fill);
    } else if (!rc && whole) {
      /* Block and chunk coincide: decode in place. */
      rc = chunk_decode(ctx, m->codec, name, raw, n, out, zbytes);
      if (!rc)
        fix_elements(m, es, out, zelems);
    } else if (!rc) {
      if (!tmp && !(tmp = da_malloc(ctx, zbytes)))
        rc = DA_ERR_NOMEM;
      if (!rc)
        rc = chunk_decode(ctx, m->codec, name, raw, n, tmp, zbytes);
      if (!rc) {
        fix_elements(m, es, tmp, zelems);
        box_copy(nd, es, cnt, tmp, m->chunks, zlo, out, shp, blo, NULL);
      }
    }
    if (n)
      munmap((void *)raw, n);
    raw = NULL, n = 0;
    more = false;
    for (int d = nd - 1; d >= 0 && !more; d--)
      if (++ci[d] <= c1[d])
        more = true;
      else
        ci[d] = c0[d];
  }
  free(tmp);
  da_trace_io(ctx, "zarr read", b, da_block_size_of(a, b) * (int64_t)es, t0);
  return rc;
}

static const da_layer_ops zarr_ops = {
    .name = "zarr", .aligned = true, .run = zarr_run, .free_params = zarr_params_free};

/* Collective. Rank 0 reads path/.zarray and sends it; every rank parses it. */
static int read_meta(da_ctx ctx, const char *path, da_zarr_meta *m) {
  char *text = NULL, name[PATH_MAX];
  size_t cap = 0, n = 0;
  int rc = DA_OK;
  if (ctx->rank == 0) {
    if (snprintf(name, sizeof name, "%s/.zarray", path) >= (int)sizeof name)
      rc = DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
    else
      rc = read_file(ctx, name, &text, &cap, &n, NULL);
    if (!rc && n > META_MAX_BYTES)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has %zu bytes, too many for Zarr metadata", name, n);
  }
  rc = da_agree(ctx, rc);
  int64_t len = (int64_t)n;
  if (!rc && MPI_Bcast(&len, 1, MPI_INT64_T, 0, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of .zarray failed");
  if (!rc && ctx->rank && !(text = da_malloc(ctx, (size_t)len + 1)))
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  if (!rc && MPI_Bcast(text, (int)len, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of .zarray failed");
  if (!rc)
    rc = da_zarr_parse_meta(ctx, text, (size_t)len, m);
  free(text);
  return da_agree(ctx, rc);
}

int da_from_zarr(da_ctx ctx, const char *path, const da_chunks *chunks, da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  int rc = DA_OK;
  if (!out)
    rc = DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  else if (!path || !*path)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path is NULL or empty");
  if (out)
    *out = NULL;
  DA_TRY(da_agree(ctx, rc));
  zarr_params *p = da_calloc(ctx, 1, sizeof *p);
  if (p && !(p->path = strdup(path)))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot copy the path");
  else if (!p)
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = read_meta(ctx, path, &p->m);
  int64_t *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  int nd = p ? p->m.ndim : 0;
  if (!rc) {
    da_chunks own = {0};
    for (int d = 0; d < nd; d++)
      own.size[d] = p->m.chunks[d];
    rc = da_chunks_resolve(ctx, nd, p->m.shape, chunks ? chunks : &own, da_dtype_size(p->m.dtype),
                           ck, nck);
  }
  if (!rc) {
    rc = da_node_new(ctx, nd, p->m.shape, (const int64_t *const *)ck, nck, p->m.dtype,
                     da_dtype_size(p->m.dtype), NULL, &zarr_ops, p, 0, NULL, out);
    p = NULL; /* the node owns it now, or freed it */
  }
  for (int d = 0; d < nd; d++)
    free(ck[d]);
  zarr_params_free(p);
  return rc;
}

/* ---------------------------------------------------------------- writer */

static const struct {
  da_zcodec codec;
  const char *cname; /* blosc's inner codec */
  int level;         /* zarr-python's default */
} compressors[DA_ZARR_NCOMPRESSORS] = {
    [DA_ZARR_BLOSC_LZ4] = {DA_ZCODEC_BLOSC, "lz4", 5},
    [DA_ZARR_BLOSC_LZ4HC] = {DA_ZCODEC_BLOSC, "lz4hc", 5},
    [DA_ZARR_BLOSC_ZSTD] = {DA_ZCODEC_BLOSC, "zstd", 5},
    [DA_ZARR_BLOSC_ZLIB] = {DA_ZCODEC_BLOSC, "zlib", 5},
    [DA_ZARR_BLOSC_BLOSCLZ] = {DA_ZCODEC_BLOSC, "blosclz", 5},
    [DA_ZARR_ZLIB] = {DA_ZCODEC_ZLIB, NULL, 1},
    [DA_ZARR_GZIP] = {DA_ZCODEC_GZIP, NULL, 1},
    [DA_ZARR_ZSTD] = {DA_ZCODEC_ZSTD, NULL, 1},
    [DA_ZARR_NONE] = {DA_ZCODEC_NONE, NULL, 0},
};

static int deflate_all(da_ctx ctx, const void *src, size_t n, char *dst, size_t cap, size_t *dn,
                       int level, int wbits) {
  z_stream s = {0};
  if (deflateInit2(&s, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot start zlib");
  if (n > UINT_MAX || cap > UINT_MAX) {
    deflateEnd(&s);
    return DA_ERR(ctx, DA_ERR_UNSUPPORTED, "a chunk of %zu bytes is too large for zlib", n);
  }
  s.next_in = (Bytef *)src;
  s.avail_in = (uInt)n;
  s.next_out = (Bytef *)dst;
  s.avail_out = (uInt)cap;
  int zr = deflate(&s, Z_FINISH);
  *dn = (size_t)s.total_out;
  deflateEnd(&s);
  return zr == Z_STREAM_END ? DA_OK : DA_ERR(ctx, DA_ERR_INTERNAL, "zlib: %s", zError(zr));
}

/* Encodes n bytes of a chunk; *dst is a buffer of *dcap bytes, grown as needed. */
static int chunk_encode(da_ctx ctx, const da_zarr_options *o, size_t es, const void *src, size_t n,
                        char **dst, size_t *dcap, size_t *dn) {
  da_zcodec codec = compressors[o->compressor].codec;
  size_t need = n;
  if (codec == DA_ZCODEC_ZLIB || codec == DA_ZCODEC_GZIP)
    need = compressBound((uLong)n) + 32; /* + gzip's header and trailer */
  else if (codec == DA_ZCODEC_ZSTD)
    need = ZSTD_compressBound(n);
  else if (codec == DA_ZCODEC_BLOSC)
    need = n + BLOSC_MAX_OVERHEAD;
  if (need > *dcap) {
    free(*dst);
    *dcap = 0;
    if (!(*dst = da_malloc(ctx, need)))
      return DA_ERR_NOMEM;
    *dcap = need;
  }
  switch (codec) {
  case DA_ZCODEC_NONE:
    memcpy(*dst, src, n);
    *dn = n;
    return DA_OK;
  case DA_ZCODEC_ZLIB:
  case DA_ZCODEC_GZIP:
    return deflate_all(ctx, src, n, *dst, *dcap, dn, o->level,
                       codec == DA_ZCODEC_GZIP ? 16 + MAX_WBITS : MAX_WBITS);
  case DA_ZCODEC_ZSTD: {
    size_t r = ZSTD_compress(*dst, *dcap, src, n, o->level);
    if (ZSTD_isError(r))
      return DA_ERR(ctx, DA_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
    *dn = r;
    return DA_OK;
  }
  case DA_ZCODEC_BLOSC: {
    if (n > BLOSC_MAX_BUFFERSIZE)
      return DA_ERR(ctx, DA_ERR_UNSUPPORTED,
                    "a chunk of %zu bytes is beyond blosc's limit of %d; use smaller chunks", n,
                    BLOSC_MAX_BUFFERSIZE);
    int shuffle = o->shuffle == DA_ZARR_SHUFFLE_NONE  ? BLOSC_NOSHUFFLE
                  : o->shuffle == DA_ZARR_SHUFFLE_BIT ? BLOSC_BITSHUFFLE
                                                      : BLOSC_SHUFFLE;
    int r = blosc_compress_ctx(o->level, shuffle, es, n, src, *dst, *dcap,
                               compressors[o->compressor].cname, 0, 1);
    if (r <= 0)
      return DA_ERR(ctx, DA_ERR_INTERNAL, "blosc compression failed (%d)", r);
    *dn = (size_t)r;
    return DA_OK;
  }
  }
  return DA_ERR(ctx, DA_ERR_INTERNAL, "unknown codec");
}

typedef struct {
  const char *dir;
  const da_zarr_options *o;
  const int64_t *zc;
  size_t zbytes;
  char *pad, *enc; /* an edge chunk padded to full size; the encoded chunk */
  size_t cap;
} chunk_writer;

/* Block b of x as its chunk file (a sink: blocks arrive as they are computed). */
static int write_chunk(void *user, const da_array x, int64_t b, const void *data) {
  chunk_writer *w = user;
  da_ctx ctx = x->ctx;
  int nd = x->ndim;
  int64_t bidx[DA_MAX_NDIM], shp[DA_MAX_NDIM], zero[DA_MAX_NDIM] = {0};
  da_block_unravel(x, b, bidx);
  da_block_shape_of(x, b, shp);
  bool full = true;
  for (int d = 0; d < nd; d++) {
    if (shp[d] == 0)
      return DA_OK;
    full = full && shp[d] == w->zc[d];
  }
  const char *src = data;
  if (!full) {
    /* Zarr v2 stores edge chunks full-size: pad with the fill value (zero). */
    if (!w->pad && !(w->pad = da_malloc(ctx, w->zbytes)))
      return DA_ERR_NOMEM;
    memset(w->pad, 0, w->zbytes);
    box_copy(nd, x->elsize, shp, src, shp, zero, w->pad, w->zc, zero, NULL);
    src = w->pad;
  }
  char name[PATH_MAX];
  size_t n = 0;
  double t0 = da_trace_now(ctx); /* the trace's IO time */
  int rc = chunk_encode(ctx, w->o, x->elsize, src, w->zbytes, &w->enc, &w->cap, &n);
  if (!rc)
    rc = chunk_name(ctx, w->dir, nd, bidx, '.', name, sizeof name);
  rc = rc ? rc : write_file(ctx, name, w->enc, n, w->o->sync);
  da_trace_io(ctx, "zarr write", b, (int64_t)n, t0);
  return rc;
}

/* Collective. Writes this rank's blocks of x as chunk files of dir, as they are computed. */
static int write_chunks(da_array x, const char *dir, const da_zarr_options *o, const int64_t zc[]) {
  chunk_writer w = {.dir = dir, .o = o, .zc = zc, .zbytes = x->elsize};
  for (int d = 0; d < x->ndim; d++)
    w.zbytes *= (size_t)zc[d];
  int rc = da_schedule_sink(x, write_chunk, &w);
  free(w.pad);
  free(w.enc);
  return rc;
}

/* Rank 0: the .zarray of x with chunks zc into dir. */
static int write_meta(da_array x, const char *dir, const da_zarr_options *o, const int64_t zc[]) {
  da_ctx ctx = x->ctx;
  json_t *root = json_object(), *shape = json_array(), *chunks = json_array(), *comp;
  for (int d = 0; d < x->ndim; d++) {
    json_array_append_new(shape, json_integer(x->shape[d]));
    json_array_append_new(chunks, json_integer(zc[d]));
  }
  char dtype[4] = {NATIVE_ORDER, 'f', '0', 0};
  for (size_t i = 0; i < sizeof zarr_types / sizeof zarr_types[0]; i++)
    if (zarr_types[i].dt == x->dtype)
      dtype[1] = zarr_types[i].kind, dtype[2] = (char)('0' + zarr_types[i].size);
  if (x->elsize == 1)
    dtype[0] = '|';
  da_zcodec codec = compressors[o->compressor].codec;
  if (codec == DA_ZCODEC_NONE)
    comp = json_null();
  else if (codec == DA_ZCODEC_BLOSC)
    comp = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "blosc", "cname",
                     compressors[o->compressor].cname, "clevel", o->level, "shuffle",
                     o->shuffle == DA_ZARR_SHUFFLE_NONE  ? 0
                     : o->shuffle == DA_ZARR_SHUFFLE_BIT ? 2
                                                         : 1,
                     "blocksize", 0);
  else
    comp = json_pack("{s:s, s:i}", "id",
                     codec == DA_ZCODEC_ZLIB   ? "zlib"
                     : codec == DA_ZCODEC_GZIP ? "gzip"
                                               : "zstd",
                     "level", o->level);
  json_t *fill = x->dtype == DA_BOOL           ? json_false()
                 : da_dtype_is_float(x->dtype) ? json_real(0)
                                               : json_integer(0);
  json_object_set_new(root, "zarr_format", json_integer(2));
  json_object_set_new(root, "shape", shape);
  json_object_set_new(root, "chunks", chunks);
  json_object_set_new(root, "dtype", json_string(dtype));
  json_object_set_new(root, "compressor", comp);
  json_object_set_new(root, "fill_value", fill);
  json_object_set_new(root, "order", json_string("C"));
  json_object_set_new(root, "filters", json_null());
  json_object_set_new(root, "dimension_separator", json_string("."));
  char *text = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
  json_decref(root);
  char name[PATH_MAX];
  int rc = DA_OK;
  if (!text)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot format .zarray");
  else if (snprintf(name, sizeof name, "%s/.zarray", dir) >= (int)sizeof name)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", dir);
  else
    rc = write_file(ctx, name, text, strlen(text), o->sync);
  free(text);
  if (!rc && snprintf(name, sizeof name, "%s/.zattrs", dir) < (int)sizeof name)
    rc = write_file(ctx, name, "{}\n", 3, o->sync);
  return rc;
}

/* Rank 0: may path be replaced? Only when absent, an empty directory or a Zarr array, so
 * that a mistyped path never deletes unrelated data. */
static int check_target(da_ctx ctx, const char *path) {
  struct stat st;
  if (lstat(path, &st)) {
    if (errno == ENOENT)
      return DA_OK;
    return DA_ERR(ctx, DA_ERR_IO, "cannot inspect '%s': %s", path, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    return DA_ERR(ctx, DA_ERR_IO,
                  "'%s' exists and is not a directory; da_to_zarr replaces only a "
                  "Zarr array directory",
                  path);
  char name[PATH_MAX];
  if (snprintf(name, sizeof name, "%s/.zarray", path) >= (int)sizeof name)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  if (!access(name, F_OK))
    return DA_OK;
  DIR *dp = opendir(path);
  struct dirent *e;
  bool empty = dp != NULL;
  while (dp && (e = readdir(dp)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      empty = false;
  if (dp)
    closedir(dp);
  if (empty) /* nothing to keep */
    return DA_OK;
  return DA_ERR(ctx, DA_ERR_IO,
                "'%s' is a non-empty directory without .zarray; da_to_zarr does "
                "not replace it",
                path);
}

/* Rank 0: a new directory next to path (same file system, so renames are atomic). */
static int make_temp(da_ctx ctx, const char *path, char tmp[PATH_MAX]) {
  if (snprintf(tmp, PATH_MAX, "%s.da-tmp-XXXXXX", path) >= PATH_MAX - 8)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  if (!mkdtemp(tmp))
    return DA_ERR(ctx, DA_ERR_IO, "cannot create a directory next to '%s': %s", path,
                  strerror(errno));
  mode_t mask = umask(0);
  umask(mask);
  chmod(tmp, 0777 & ~mask); /* mkdtemp's 0700 would hide the array from other users */
  return DA_OK;
}

/* Rank 0: puts the complete tmp in path's place. An existing path is exchanged atomically
 * (renameat2 RENAME_EXCHANGE), so at every moment path is the old or the new array; where the
 * file system cannot exchange, the old one is renamed aside for the instant between two renames. */
static int swap_in(da_ctx ctx, const char *tmp, const char *path) {
  struct stat st;
  if (lstat(path, &st) && errno == ENOENT) {
    if (rename(tmp, path))
      return DA_ERR(ctx, DA_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    return DA_OK;
  }
  if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE)) {
    remove_tree(tmp); /* the old array, now under the temporary name */
    return DA_OK;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return DA_ERR(ctx, DA_ERR_IO, "cannot replace '%s': %s", path, strerror(errno));
  char old[PATH_MAX];
  if (snprintf(old, sizeof old, "%s-old", tmp) >= (int)sizeof old)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  if (rename(path, old))
    return DA_ERR(ctx, DA_ERR_IO, "cannot move '%s' aside: %s", path, strerror(errno));
  if (rename(tmp, path)) {
    int e = errno;
    rename(old, path);
    return DA_ERR(ctx, DA_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
  }
  remove_tree(old);
  return DA_OK;
}

int da_to_zarr(da_array x, const char *path, const da_zarr_options *options) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  da_zarr_options o = options ? *options : (da_zarr_options){0};
  int64_t zc[DA_MAX_NDIM];
  char tmp[PATH_MAX] = "", dir[PATH_MAX];
  int rc = DA_OK;
  if (!path || !*path)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path is NULL or empty");
  else if ((unsigned)o.compressor >= DA_ZARR_NCOMPRESSORS)
    rc = DA_ERR(ctx, DA_ERR_ARG, "unknown compressor %d", (int)o.compressor);
  else if ((unsigned)o.shuffle > DA_ZARR_SHUFFLE_BIT)
    rc = DA_ERR(ctx, DA_ERR_ARG, "unknown shuffle %d", (int)o.shuffle);
  else if (x->elsize != da_dtype_size(x->dtype))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "the array's elements are not plain %s values",
                da_dtype_name(x->dtype));
  else if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir - 32)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  if (!rc) {
    da_zcodec codec = compressors[o.compressor].codec;
    int hi = codec == DA_ZCODEC_ZSTD ? 22 : 9;
    if (!o.level)
      o.level = compressors[o.compressor].level;
    if (codec != DA_ZCODEC_NONE && (o.level < 1 || o.level > hi))
      rc = DA_ERR(ctx, DA_ERR_ARG, "level %d is outside 1..%d for this compressor", o.level, hi);
  }
  /* Zarr v2 has one chunk shape: every chunk but the last along an axis must be equal. */
  for (int d = 0; d < x->ndim && !rc; d++) {
    int64_t nb = x->numblocks[d], c = x->chunks[d][0];
    zc[d] = c > 0 ? c : 1;
    for (int64_t j = 0; j < nb && !rc; j++)
      if (x->shape[d] > 0 && (j + 1 < nb ? x->chunks[d][j] != c : x->chunks[d][j] > c))
        rc = DA_ERR(ctx, DA_ERR_CHUNKS,
                    "axis %d: chunk %lld has length %lld but Zarr needs all chunks equal to the "
                    "first (%lld) except a shorter last one; rechunk first (da_rechunk)",
                    d, (long long)j, (long long)x->chunks[d][j], (long long)c);
  }
  DA_TRY(da_agree(ctx, rc));
  /* Trailing slashes would put the temporary directory inside the target. */
  for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--)
    dir[l - 1] = 0;
  if (ctx->rank == 0) {
    rc = check_target(ctx, dir);
    if (!rc)
      rc = make_temp(ctx, dir, tmp);
  }
  DA_TRY(da_agree(ctx, rc));
  if (MPI_Bcast(tmp, PATH_MAX, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of the temporary directory failed");
  if (!rc)
    rc = write_chunks(x, tmp, &o, zc);
  rc = da_agree(ctx, rc);
  /* Every chunk is written: the metadata goes last, then the swap. */
  if (ctx->rank == 0) {
    if (!rc)
      rc = write_meta(x, tmp, &o, zc);
    if (!rc && o.sync)
      rc = sync_dir(ctx, tmp);
    if (!rc)
      rc = swap_in(ctx, tmp, dir);
    if (!rc && o.sync)
      rc = sync_parent(ctx, dir);
    if (rc)
      remove_tree(tmp);
  }
  return da_agree(ctx, rc);
}
