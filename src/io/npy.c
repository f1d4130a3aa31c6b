/* NumPy .npy files read lazily block by block (every rank preads its blocks' runs), .npz
 * members read whole on rank 0 and scattered, and .npy files written in parallel with pwrite
 * into a temporary file renamed over the target. */
#define _POSIX_C_SOURCE 200809L /* pread, pwrite, mkstemp, fchmod */
#include "io/npy.h"

#include "diag/diag.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE_ORDER '>'
#else
#define NATIVE_ORDER '<'
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---------------------------------------------------------------- dtypes */

void da_npy_descr(const char *s, da_dtype *dt, size_t *itemsize, bool *swap) {
  static const struct {
    char kind;
    size_t size;
    da_dtype dt;
  } types[] = {{'b', 1, DA_BOOL},   {'i', 1, DA_INT8},    {'i', 2, DA_INT16},  {'i', 4, DA_INT32},
               {'i', 8, DA_INT64},  {'u', 1, DA_UINT8},   {'u', 2, DA_UINT16}, {'u', 4, DA_UINT32},
               {'u', 8, DA_UINT64}, {'f', 4, DA_FLOAT32}, {'f', 8, DA_FLOAT64}};
  *dt = DA_NDTYPES, *itemsize = 0, *swap = false;
  char order = '=';
  if (*s && strchr("<>|=", *s))
    order = *s++;
  char kind = *s++;
  if (!kind || !strchr("biufcUSaVO", kind))
    return;
  size_t n = 0;
  for (; *s >= '0' && *s <= '9' && n < 100000000; s++)
    n = n * 10 + (size_t)(*s - '0');
  if (*s)
    return; /* datetimes ('<M8[ns]') and anything else that is not a plain type */
  if (kind == 'O')
    n = n ? n : sizeof(void *);
  if (n == 0)
    return;
  *itemsize = kind == 'U' ? 4 * n : n;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (types[i].kind == kind && types[i].size == n)
      *dt = types[i].dt;
  *swap = *dt != DA_NDTYPES && n > 1 && order != '|' && order != '=' && order != NATIVE_ORDER;
}

/* ---------------------------------------------------------------- header */

/* A cursor over the header's Python literal. */
typedef struct {
  const char *p, *end;
} lex;

static void skip_ws(lex *l) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
    l->p++;
}

static bool eat(lex *l, char c) {
  skip_ws(l);
  if (l->p < l->end && *l->p == c) {
    l->p++;
    return true;
  }
  return false;
}

/* A quoted string without escapes: *s points into the header, *len its length. */
static bool lex_string(lex *l, const char **s, size_t *len) {
  skip_ws(l);
  if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
    return false;
  char q = *l->p++;
  const char *start = l->p;
  while (l->p < l->end && *l->p != q && *l->p != '\\' && *l->p != '\0')
    l->p++;
  if (l->p >= l->end || *l->p != q)
    return false;
  *s = start, *len = (size_t)(l->p - start);
  l->p++;
  return true;
}

static bool lex_word(lex *l, const char *w) {
  skip_ws(l);
  size_t n = strlen(w);
  if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n))
    return false;
  l->p += n;
  return true;
}

/* A non-negative integer (Python 2's long suffix 'L' allowed). */
static bool lex_int(lex *l, int64_t *v) {
  skip_ws(l);
  if (l->p >= l->end || *l->p < '0' || *l->p > '9')
    return false;
  int64_t x = 0;
  while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
    if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *l->p - '0', &x))
      return false;
    l->p++;
  }
  if (l->p < l->end && *l->p == 'L')
    l->p++;
  *v = x;
  return true;
}

/* Skips a literal of a structured descr: strings, numbers and nested lists or tuples. */
static bool lex_skip(lex *l, int depth) {
  skip_ws(l);
  if (l->p >= l->end || depth > 32)
    return false;
  char c = *l->p;
  if (c == '\'' || c == '"') {
    const char *s;
    size_t n;
    return lex_string(l, &s, &n);
  }
  if (c == '[' || c == '(') {
    char close = c == '[' ? ']' : ')';
    l->p++;
    while (!eat(l, close)) {
      if (!lex_skip(l, depth + 1))
        return false;
      if (!eat(l, ',') && (skip_ws(l), l->p >= l->end || *l->p != close))
        return false;
    }
    return true;
  }
  int64_t v;
  return lex_int(l, &v);
}

static int parse_dict(da_ctx ctx, const char *what, lex *l, da_npy_header *h) {
  bool seen[3] = {false, false, false};
  if (!eat(l, '{'))
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header is not a dict", what);
  while (!eat(l, '}')) {
    const char *key;
    size_t klen;
    if (!lex_string(l, &key, &klen) || !eat(l, ':'))
      return DA_ERR(ctx, DA_ERR_IO, "%s: malformed .npy header", what);
    int k = klen == 5 && !memcmp(key, "descr", 5)             ? 0
            : klen == 13 && !memcmp(key, "fortran_order", 13) ? 1
            : klen == 5 && !memcmp(key, "shape", 5)           ? 2
                                                              : -1;
    if (k < 0 || seen[k])
      return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header has %s key '%.*s'", what,
                    k < 0 ? "an unexpected" : "a repeated", (int)(klen < 40 ? klen : 40), key);
    seen[k] = true;
    if (k == 0) {
      const char *s;
      size_t n;
      lex save = *l;
      if (lex_string(l, &s, &n)) {
        snprintf(h->descr, sizeof h->descr, "%.*s", (int)n, s);
        da_npy_descr(h->descr, &h->dtype, &h->itemsize, &h->swap);
        if (n >= sizeof h->descr)
          h->dtype = DA_NDTYPES, h->itemsize = 0;
      } else if (skip_ws(l), l->p < l->end && *l->p == '[' && lex_skip(l, 0)) {
        /* A structured dtype: kept as text only. */
        const char *s0 = save.p;
        while (s0 < l->p && *s0 == ' ')
          s0++;
        snprintf(h->descr, sizeof h->descr, "%.*s", (int)(l->p - s0), s0);
        h->dtype = DA_NDTYPES, h->itemsize = 0;
      } else {
        return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's descr is malformed", what);
      }
    } else if (k == 1) {
      if (lex_word(l, "True"))
        h->fortran = true;
      else if (lex_word(l, "False"))
        h->fortran = false;
      else
        return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's fortran_order is not a bool", what);
    } else {
      if (!eat(l, '('))
        return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's shape is not a tuple", what);
      h->ndim = 0;
      bool comma = false;
      while (!eat(l, ')')) {
        int64_t v;
        if (h->ndim == DA_MAX_NDIM)
          return DA_ERR(ctx, DA_ERR_SHAPE, "%s has more than darray's %d dimensions", what,
                        DA_MAX_NDIM);
        if (!lex_int(l, &v))
          return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's shape is malformed", what);
        h->shape[h->ndim++] = v;
        comma = eat(l, ',');
        if (!comma && (skip_ws(l), l->p >= l->end || *l->p != ')'))
          return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's shape is malformed", what);
      }
      /* "(5)" is the number 5 in Python, not a tuple. */
      if (h->ndim == 1 && !comma)
        return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header's shape is not a tuple", what);
    }
    if (!eat(l, ',')) {
      if (!eat(l, '}'))
        return DA_ERR(ctx, DA_ERR_IO, "%s: malformed .npy header", what);
      break;
    }
  }
  skip_ws(l);
  if (l->p != l->end)
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header has text after its dict", what);
  if (!seen[0] || !seen[1] || !seen[2])
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header lacks '%s'", what,
                  !seen[0]   ? "descr"
                  : !seen[1] ? "fortran_order"
                             : "shape");
  return DA_OK;
}

int da_npy_parse(da_ctx ctx, const char *what, const unsigned char *buf, size_t n,
                 da_npy_header *h) {
  memset(h, 0, sizeof *h);
  h->dtype = DA_NDTYPES;
  if (n < 10 || memcmp(buf, npy_magic, sizeof npy_magic))
    return DA_ERR(ctx, DA_ERR_IO, "%s is not a .npy file (no \\x93NUMPY magic)", what);
  if (buf[6] < 1 || buf[6] > 3 || buf[7] != 0)
    return DA_ERR(ctx, DA_ERR_IO, "%s has .npy format version %d.%d (darray reads 1.0-3.0)", what,
                  buf[6], buf[7]);
  h->version = buf[6];
  size_t pre = h->version == 1 ? 10 : 12, hlen;
  if (n < pre)
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header is cut short", what);
  if (h->version == 1)
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
  else
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
  if (hlen > DA_NPY_MAX_HEADER)
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header claims %zu bytes, more than the %zu read",
                  what, hlen, DA_NPY_MAX_HEADER);
  if (n < pre + hlen)
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy header is cut short (%zu of %zu bytes)", what,
                  n - pre, hlen);
  lex l = {(const char *)buf + pre, (const char *)buf + pre + hlen};
  DA_TRY(parse_dict(ctx, what, &l, h));
  h->data_offset = (int64_t)(pre + hlen);
  h->nelems = 1;
  for (int d = 0; d < h->ndim; d++)
    if (__builtin_mul_overflow(h->nelems, h->shape[d], &h->nelems))
      return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy shape overflows 64 bits", what);
  int64_t bytes;
  if (__builtin_mul_overflow(h->nelems, (int64_t)h->itemsize, &bytes) ||
      __builtin_add_overflow(bytes, h->data_offset, &bytes))
    return DA_ERR(ctx, DA_ERR_IO, "%s: the .npy data size overflows 64 bits", what);
  return DA_OK;
}

int da_npy_check(da_ctx ctx, const char *what, const da_npy_header *h, int64_t total) {
  if (h->dtype == DA_NDTYPES)
    return DA_ERR(ctx, DA_ERR_DTYPE,
                  "%s has dtype '%s', which darray cannot hold (bool, int8-64, uint8-64, "
                  "float32, float64)",
                  what, h->descr);
  int64_t want = h->data_offset + h->nelems * (int64_t)h->itemsize;
  if (total != want) {
    char sb[256];
    return DA_ERR(ctx, DA_ERR_IO,
                  "%s has %lld bytes but its header (shape %s, '%s') needs %lld: %s", what,
                  (long long)total, da_shape_str(h->ndim, h->shape, sb, sizeof sb), h->descr,
                  (long long)want, total < want ? "truncated" : "extra bytes at the end");
  }
  return DA_OK;
}

/* pread until n bytes or the end of the file; the bytes read, or -1 with errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, off_t at) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got < ((size_t)1 << 30) ? n - got : (size_t)1 << 30;
    ssize_t r = pread(fd, (char *)buf + got, want, at + (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t at) {
  size_t done = 0;
  while (done < n) {
    size_t want = n - done < ((size_t)1 << 30) ? n - done : (size_t)1 << 30;
    ssize_t w = pwrite(fd, (const char *)buf + done, want, at + (off_t)done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    done += (size_t)w;
  }
  return 0;
}

int da_npy_read_prefix(da_ctx ctx, const char *what, int fd, unsigned char **buf, size_t *n) {
  *buf = NULL, *n = 0;
  unsigned char head[12];
  ssize_t r = pread_full(fd, head, sizeof head, 0);
  if (r < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot read %s: %s", what, strerror(errno));
  size_t want = (size_t)r;
  if (r >= 10 && !memcmp(head, npy_magic, sizeof npy_magic)) {
    size_t hlen = head[6] == 1 ? (size_t)head[8] | (size_t)head[9] << 8
                  : r >= 12    ? (size_t)head[8] | (size_t)head[9] << 8 | (size_t)head[10] << 16 |
                                  (size_t)head[11] << 24
                            : 0;
    want = (head[6] == 1 ? 10 : 12) + (hlen < DA_NPY_MAX_HEADER ? hlen : DA_NPY_MAX_HEADER);
  }
  if (!(*buf = da_malloc(ctx, want ? want : 1)))
    return DA_ERR_NOMEM;
  r = pread_full(fd, *buf, want, 0);
  if (r < 0) {
    free(*buf), *buf = NULL;
    return DA_ERR(ctx, DA_ERR_IO, "cannot read %s: %s", what, strerror(errno));
  }
  *n = (size_t)r;
  return DA_OK;
}

/* ---------------------------------------------------------------- element runs */

/* Calls fn(ud, at, bytes) for each contiguous run of the box at off[] of shape shp[] in a
 * C-order array of shape[] (trailing whole axes merged into one run): its byte offset in the
 * array and its length, in the box's C order. */
static int box_runs(int nd, const int64_t shape[], const int64_t off[], const int64_t shp[],
                    size_t es, int (*fn)(void *ud, int64_t at, int64_t bytes), void *ud) {
  if (nd == 0)
    return fn(ud, 0, (int64_t)es);
  int k = nd - 1;
  while (k > 0 && shp[k] == shape[k])
    k--;
  int64_t stride[DA_MAX_NDIM], idx[DA_MAX_NDIM] = {0};
  stride[nd - 1] = 1;
  for (int d = nd - 2; d >= 0; d--)
    stride[d] = stride[d + 1] * shape[d + 1];
  int64_t run = shp[k] * stride[k];
  for (;;) {
    int64_t lin = off[k] * stride[k];
    for (int d = 0; d < k; d++)
      lin += (off[d] + idx[d]) * stride[d];
    DA_TRY(fn(ud, lin * (int64_t)es, run * (int64_t)es));
    int d = k - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < shp[d])
        break;
      idx[d] = 0;
    }
    if (d < 0)
      return DA_OK;
  }
}

typedef struct {
  da_ctx ctx;
  const char *path;
  int fd;
  int64_t base; /* the data's offset in the file */
  char *buf;    /* the block */
  int64_t pos;  /* bytes of the block done */
} run_io;

static int read_run(void *ud, int64_t at, int64_t bytes) {
  run_io *io = ud;
  ssize_t r = pread_full(io->fd, io->buf + io->pos, (size_t)bytes, (off_t)(io->base + at));
  if (r < 0)
    return DA_ERR(io->ctx, DA_ERR_IO, "cannot read '%s': %s", io->path, strerror(errno));
  if (r < bytes)
    return DA_ERR(io->ctx, DA_ERR_IO, "'%s' ends at byte %lld, before its data does (changed?)",
                  io->path, (long long)(io->base + at + r));
  io->pos += bytes;
  return DA_OK;
}

static int write_run(void *ud, int64_t at, int64_t bytes) {
  run_io *io = ud;
  if (pwrite_full(io->fd, io->buf + io->pos, (size_t)bytes, (off_t)(io->base + at)))
    return DA_ERR(io->ctx, DA_ERR_IO, "cannot write '%s': %s", io->path, strerror(errno));
  io->pos += bytes;
  return DA_OK;
}

/* Stored elements to darray's: byte order swapped where it differs, bools as 0 or 1. */
static void fix_elements(da_dtype dt, bool swap, void *p, int64_t n) {
  size_t es = da_dtype_size(dt);
  if (dt == DA_BOOL) {
    unsigned char *c = p;
    for (int64_t i = 0; i < n; i++)
      c[i] = c[i] != 0;
  } else if (swap && es == 2) {
    uint16_t *v = p;
    for (int64_t i = 0; i < n; i++)
      v[i] = __builtin_bswap16(v[i]);
  } else if (swap && es == 4) {
    uint32_t *v = p;
    for (int64_t i = 0; i < n; i++)
      v[i] = __builtin_bswap32(v[i]);
  } else if (swap && es == 8) {
    uint64_t *v = p;
    for (int64_t i = 0; i < n; i++)
      v[i] = __builtin_bswap64(v[i]);
  }
}

/* The chunk request for the stored (C-order) array: a Fortran-order file is read as the
 * C-order array of the reversed shape, then transposed, so its request is reversed too. */
static const da_chunks *stored_chunks(const da_chunks *req, bool reverse, int nd, da_chunks *tmp) {
  if (!req || !reverse)
    return req;
  *tmp = *req;
  for (int d = 0; d < nd; d++) {
    tmp->size[d] = req->size[nd - 1 - d];
    tmp->list[d] = req->list[nd - 1 - d];
    tmp->nlist[d] = req->nlist[nd - 1 - d];
  }
  return tmp;
}

/* The stored shape of h (reversed for Fortran order); true when a transpose must follow. */
static bool stored_shape(const da_npy_header *h, int64_t shape[]) {
  bool rev = h->fortran && h->ndim > 1;
  for (int d = 0; d < h->ndim; d++)
    shape[d] = rev ? h->shape[h->ndim - 1 - d] : h->shape[d];
  return rev;
}

/* Collective. Rank 0's header bytes (n of them; total the file's or member's size) sent to
 * every rank, which parses and checks them alike. */
static int share_header(da_ctx ctx, const char *what, unsigned char *prefix, size_t n,
                        int64_t *total, da_npy_header *h) {
  int64_t meta[2] = {(int64_t)n, *total};
  if (MPI_Bcast(meta, 2, MPI_INT64_T, 0, ctx->comm) != MPI_SUCCESS)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of a .npy header failed"));
  *total = meta[1];
  unsigned char *buf = prefix;
  int rc = DA_OK;
  if (ctx->rank != 0 && !(buf = da_malloc(ctx, (size_t)meta[0] + 1)))
    rc = DA_ERR_NOMEM;
  DA_TRY(da_agree(ctx, rc));
  if (MPI_Bcast(buf, (int)meta[0], MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of a .npy header failed");
  if (!rc)
    rc = da_npy_parse(ctx, what, buf, (size_t)meta[0], h);
  if (!rc)
    rc = da_npy_check(ctx, what, h, meta[1]);
  if (buf != prefix)
    free(buf);
  return da_agree(ctx, rc);
}

/* ---------------------------------------------------------------- reading .npy */

typedef struct {
  int fd;
  char *path;
  int64_t base;
  bool swap;
} npy_params;

static void npy_params_free(void *v) {
  npy_params *p = v;
  if (!p)
    return;
  if (p->fd >= 0)
    close(p->fd);
  free(p->path);
  free(p);
}

/* Block b: the runs of its box, pread from the file into place. */
static int npy_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)ins, (void)nins;
  const npy_params *p = a->params;
  int64_t n = da_block_size_of(a, b);
  if (n == 0)
    return DA_OK;
  int64_t off[DA_MAX_NDIM], shp[DA_MAX_NDIM];
  da_block_offset_of(a, b, off);
  da_block_shape_of(a, b, shp);
  run_io io = {a->ctx, p->path, p->fd, p->base, out, 0};
  double t0 = da_trace_now(a->ctx); /* the trace's IO time */
  DA_TRY(box_runs(a->ndim, a->shape, off, shp, a->elsize, read_run, &io));
  da_trace_io(a->ctx, "npy read", b, n * (int64_t)a->elsize, t0);
  fix_elements(a->dtype, p->swap, out, n);
  return DA_OK;
}

static const da_layer_ops npy_ops = {
    .name = "from-npy", .aligned = true, .run = npy_run, .free_params = npy_params_free};

/* Rank 0: the header bytes and size of the file at path. */
static int read_file_header(da_ctx ctx, const char *path, unsigned char **buf, size_t *n,
                            int64_t *total) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  char what[PATH_MAX + 8];
  snprintf(what, sizeof what, "'%s'", path);
  int rc = DA_OK;
  if (fstat(fd, &st))
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot inspect '%s': %s", path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' is not a regular file", path);
  else
    rc = da_npy_read_prefix(ctx, what, fd, buf, n);
  *total = rc ? 0 : (int64_t)st.st_size;
  close(fd);
  return rc;
}

int da_from_npy(da_ctx ctx, const char *path, const da_chunks *chunks, da_array *out) {
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
  unsigned char *prefix = NULL;
  size_t n = 0;
  int64_t total = 0;
  if (ctx->rank == 0)
    rc = read_file_header(ctx, path, &prefix, &n, &total);
  if ((rc = da_agree(ctx, rc))) {
    free(prefix);
    return rc;
  }
  char what[PATH_MAX + 8];
  snprintf(what, sizeof what, "'%s'", path);
  da_npy_header h;
  rc = share_header(ctx, what, prefix, n, &total, &h);
  free(prefix);
  DA_TRY(rc);
  /* Every rank reads its own blocks: it opens the file itself and checks it sees the same. */
  npy_params *p = da_calloc(ctx, 1, sizeof *p);
  if (p) {
    p->base = h.data_offset, p->swap = h.swap;
    p->fd = open(path, O_RDONLY);
    struct stat st;
    if (!(p->path = strdup(path)))
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot copy the path");
    else if (p->fd < 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot open '%s' on rank %d: %s", path, ctx->rank,
                  strerror(errno));
    else if (fstat(p->fd, &st) || (int64_t)st.st_size != total)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' on rank %d is not the file rank 0 sees", path, ctx->rank);
  } else {
    rc = DA_ERR_NOMEM;
  }
  if ((rc = da_agree(ctx, rc))) {
    npy_params_free(p);
    return rc;
  }
  int64_t shape[DA_MAX_NDIM], *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  bool rev = stored_shape(&h, shape);
  da_chunks tmp;
  size_t es = da_dtype_size(h.dtype);
  rc = da_agree(ctx, da_chunks_resolve(ctx, h.ndim, shape, stored_chunks(chunks, rev, h.ndim, &tmp),
                                       es, ck, nck));
  if (rc) {
    npy_params_free(p);
    return rc;
  }
  da_array a = NULL;
  rc = da_node_new(ctx, h.ndim, shape, (const int64_t *const *)ck, nck, h.dtype, es, NULL, &npy_ops,
                   p, 0, NULL, &a);
  for (int d = 0; d < h.ndim; d++)
    free(ck[d]);
  if (rc || !rev) {
    *out = a;
    return rc;
  }
  rc = da_transpose(a, NULL, out);
  da_array_destroy(&a);
  return rc;
}

/* ---------------------------------------------------------------- reading .npz */

static int zip_fail(da_ctx ctx, const char *path, const char *doing, zip_error_t *ze) {
  int rc = DA_ERR(ctx, DA_ERR_IO, "%s '%s': %s", doing, path, zip_error_strerror(ze));
  zip_error_fini(ze);
  return rc;
}

/* Rank 0: the index of member name (with or without ".npy"; NULL: the first). */
static int find_member(da_ctx ctx, zip_t *za, const char *path, const char *name,
                       zip_uint64_t *idx) {
  zip_int64_t count = zip_get_num_entries(za, 0);
  if (count <= 0)
    return DA_ERR(ctx, DA_ERR_IO, "'%s' has no members", path);
  if (!name) {
    *idx = 0;
    return DA_OK;
  }
  zip_int64_t i = zip_name_locate(za, name, 0);
  size_t len = strlen(name);
  if (i < 0 && (len < 4 || strcmp(name + len - 4, ".npy"))) {
    char *with = da_malloc(ctx, len + 5);
    if (!with)
      return DA_ERR_NOMEM;
    memcpy(with, name, len);
    memcpy(with + len, ".npy", 5);
    i = zip_name_locate(za, with, 0);
    free(with);
  }
  if (i >= 0) {
    *idx = (zip_uint64_t)i;
    return DA_OK;
  }
  char names[256] = "";
  size_t at = 0;
  for (zip_int64_t k = 0; k < count && at < sizeof names; k++) {
    const char *m = zip_get_name(za, (zip_uint64_t)k, 0);
    at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", k ? ", " : "", m ? m : "?");
  }
  return DA_ERR(ctx, DA_ERR_IO, "'%s' has no member '%s' (members: %s)", path, name, names);
}

/* Rank 0: the whole member, inflated, into *buf (*n bytes). */
static int read_member(da_ctx ctx, const char *path, const char *name, char *mname, size_t mlen,
                       unsigned char **buf, size_t *n) {
  *buf = NULL, *n = 0;
  int zerr = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    return zip_fail(ctx, path, "cannot open the .npz archive", &ze);
  }
  zip_uint64_t idx = 0;
  zip_stat_t st;
  int rc = find_member(ctx, za, path, name, &idx);
  if (!rc && (zip_stat_index(za, idx, 0, &st) || !(st.valid & ZIP_STAT_SIZE)))
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot read the size of a member of '%s': %s", path,
                zip_strerror(za));
  if (!rc)
    snprintf(mname, mlen, "member '%s' of '%s'", st.valid & ZIP_STAT_NAME ? st.name : "?", path);
  if (!rc && st.size > (zip_uint64_t)INT64_MAX / 2)
    rc = DA_ERR(ctx, DA_ERR_IO, "%s is too large", mname);
  if (!rc && !(*buf = da_malloc(ctx, st.size ? (size_t)st.size : 1)))
    rc = DA_ERR_NOMEM;
  zip_file_t *zf = rc ? NULL : zip_fopen_index(za, idx, 0);
  if (!rc && !zf)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open %s: %s", mname, zip_strerror(za));
  while (!rc && *n < st.size) {
    zip_int64_t r = zip_fread(zf, *buf + *n, st.size - *n);
    if (r < 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot read %s: %s", mname, zip_file_strerror(zf));
    else if (r == 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "%s ends early", mname);
    else
      *n += (size_t)r;
  }
  if (zf && zip_fclose(zf) && !rc)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot read %s (corrupt archive)", mname);
  zip_discard(za);
  if (rc) {
    free(*buf);
    *buf = NULL, *n = 0;
  }
  return rc;
}

int da_from_npz(da_ctx ctx, const char *path, const char *name, const da_chunks *chunks,
                da_array *out) {
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
  unsigned char *buf = NULL;
  size_t n = 0;
  char what[PATH_MAX + 300] = "";
  if (ctx->rank == 0)
    rc = read_member(ctx, path, name, what, sizeof what, &buf, &n);
  if ((rc = da_agree(ctx, rc))) {
    free(buf);
    return rc;
  }
  if (MPI_Bcast(what, (int)sizeof what, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS) {
    free(buf);
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast failed"));
  }
  da_npy_header h;
  size_t pre = n < DA_NPY_MAX_HEADER + 12 ? n : DA_NPY_MAX_HEADER + 12;
  int64_t total = (int64_t)n;
  if ((rc = share_header(ctx, what, buf, pre, &total, &h))) {
    free(buf);
    return rc;
  }
  int64_t shape[DA_MAX_NDIM];
  bool rev = stored_shape(&h, shape);
  size_t bytes = (size_t)h.nelems * da_dtype_size(h.dtype);
  if (ctx->rank == 0) {
    /* To the start of the (aligned) buffer, in darray's form. */
    memmove(buf, buf + h.data_offset, bytes);
    fix_elements(h.dtype, h.swap, buf, h.nelems);
  }
  da_chunks tmp;
  da_array a = NULL;
  rc = da_from_root(ctx, 0, h.ndim, shape, stored_chunks(chunks, rev, h.ndim, &tmp), h.dtype, buf,
                    bytes, &a);
  free(buf);
  if (rc || !rev) {
    *out = a;
    return rc;
  }
  rc = da_transpose(a, NULL, out);
  da_array_destroy(&a);
  return rc;
}

/* ---------------------------------------------------------------- writing .npy */

/* The format 1.0 header of x (C order, this machine's byte order), padded with spaces so the
 * data starts at a multiple of 64 bytes as NumPy writes it; its length. */
static size_t npy_header_of(da_array x, char *out, size_t cap) {
  char descr[8], shape[DA_MAX_NDIM * 22 + 4] = "";
  size_t es = x->elsize;
  char kind = x->dtype == DA_BOOL            ? 'b'
              : da_dtype_is_float(x->dtype)  ? 'f'
              : da_dtype_is_signed(x->dtype) ? 'i'
                                             : 'u';
  snprintf(descr, sizeof descr, "%c%c%zu", es == 1 ? '|' : NATIVE_ORDER, kind, es);
  size_t at = 0;
  for (int d = 0; d < x->ndim; d++)
    at += (size_t)snprintf(shape + at, sizeof shape - at, d ? ", %lld" : "%lld",
                           (long long)x->shape[d]);
  if (x->ndim == 1)
    snprintf(shape + at, sizeof shape - at, ",");
  int len = snprintf(out + 10, cap - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, shape);
  size_t total = 10 + (size_t)len + 1;
  size_t pad = (64 - total % 64) % 64;
  memset(out + 10 + len, ' ', pad);
  out[10 + len + pad] = '\n';
  total += pad;
  size_t hlen = total - 10;
  memcpy(out, npy_magic, sizeof npy_magic);
  out[6] = 1, out[7] = 0;
  out[8] = (char)(hlen & 0xff), out[9] = (char)(hlen >> 8);
  return total;
}

/* Rank 0: a new file next to path holding the header, sized for the whole array, with path's
 * mode (or the umask's default for a new file). */
static int stage_npy(da_ctx ctx, const char *path, const char *hdr, size_t hlen, int64_t total,
                     char *tmp, size_t len) {
  if ((size_t)snprintf(tmp, len, "%s.da-tmp-XXXXXX", path) >= len)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    tmp[0] = '\0';
    return DA_ERR(ctx, DA_ERR_IO, "cannot create a file next to '%s': %s", path, strerror(e));
  }
  struct stat st;
  mode_t mode;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
    mode = st.st_mode & 07777;
  } else {
    mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  int rc = DA_OK;
  if (fchmod(fd, mode) || pwrite_full(fd, hdr, hlen, 0) || ftruncate(fd, (off_t)total))
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  if (close(fd) && !rc)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  if (rc) {
    unlink(tmp);
    tmp[0] = '\0';
  }
  return rc;
}

typedef struct {
  int fd;
  int64_t base;
  const char *path;
} npy_writer;

static int npy_sink(void *user, const da_array x, int64_t b, const void *data) {
  const npy_writer *w = user;
  if (da_block_size_of(x, b) == 0)
    return DA_OK;
  int64_t off[DA_MAX_NDIM], shp[DA_MAX_NDIM];
  da_block_offset_of(x, b, off);
  da_block_shape_of(x, b, shp);
  run_io io = {x->ctx, w->path, w->fd, w->base, (char *)data, 0};
  double t0 = da_trace_now(x->ctx);
  int rc = box_runs(x->ndim, x->shape, off, shp, x->elsize, write_run, &io);
  da_trace_io(x->ctx, "npy write", b, da_block_size_of(x, b) * (int64_t)x->elsize, t0);
  return rc;
}

int da_to_npy(da_array x, const char *path) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  int rc = DA_OK;
  if (!path || !*path)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path is NULL or empty");
  else if (x->elsize != da_dtype_size(x->dtype))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "the array's elements are not plain %s values",
                da_dtype_name(x->dtype));
  DA_TRY(da_agree(ctx, rc));
  char hdr[1024], tmp[PATH_MAX] = "";
  size_t hlen = npy_header_of(x, hdr, sizeof hdr);
  int64_t total = (int64_t)hlen + x->size * (int64_t)x->elsize;
  if (ctx->rank == 0)
    rc = stage_npy(ctx, path, hdr, hlen, total, tmp, sizeof tmp);
  DA_TRY(da_agree(ctx, rc));
  if (MPI_Bcast(tmp, (int)sizeof tmp, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast of the temporary file's name failed");
  int fd = rc ? -1 : open(tmp, O_WRONLY);
  if (!rc && fd < 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open '%s' on rank %d: %s", tmp, ctx->rank, strerror(errno));
  rc = da_agree(ctx, rc);
  if (!rc) {
    npy_writer w = {fd, (int64_t)hlen, tmp};
    rc = da_schedule_sink(x, npy_sink, &w);
  }
  if (fd >= 0 && close(fd) && !rc)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  /* Every block is in place: the file takes path's name whole, or goes. */
  rc = da_agree(ctx, rc);
  if (ctx->rank == 0) {
    if (!rc && rename(tmp, path))
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc)
      unlink(tmp);
  }
  return da_agree(ctx, rc);
}
