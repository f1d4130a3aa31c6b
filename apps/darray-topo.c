/* darray-topo: choose sites for recreation facilities from a terrain, as the seed's Dask Array
 * lesson does (decode, min/max, per-block std, least-rugged block, zoom, diff) and its lab
 * postscript (slope, flat land per block, ranked sites); writes HDF5/Zarr, PNGs and a report. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, open_memstream, nftw */
#define _XOPEN_SOURCE 700
#include <darray.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEM_PATH "/usr/share/matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz"
#define FT_PER_M (1.0 / 0.3048)
#define EARTH_RADIUS_M 6371008.8 /* mean radius: degrees of the DEM to metres */
#define CHECK_MAX_ELEMENTS 4000000
#define NSITES 5
#define ZOOM_AREAS 10
#define PNG_MAX_SIDE 2000
#define TERRAIN_SEED 20260u
/* The seed's reference elevations of the land tiles, in feet. */
#define REF_LO_FT 30.0
#define REF_HI_FT 1100.0

static const char usage_text[] =
    "usage: darray-topo [--input SPEC] [--chunks N] [--output DIR] [--format hdf5|zarr|both]\n"
    "                   [--flat DEGREES] [--spacing METRES] [--check] [--no-progress]\n"
    "                   [--trace FILE] [--dot FILE]\n"
    "       darray-topo --make-terrain N --output PATH [--chunks N]\n"
    "  SPEC: dem (default: " DEM_PATH ", member elevation)\n"
    "        npz:PATH[:MEMBER]  npy:PATH  hdf5:PATH:DATASET  zarr:PATH  synthetic:N\n"
    "  (H, W, 4) uint8 inputs are RGBA terrain tiles (elevation 30-1100 ft by luminosity);\n"
    "  2-D inputs are elevations in metres. --make-terrain writes an N x N x 4 synthetic\n"
    "  terrain to PATH (.zarr or .h5, dataset /land) and exits.\n";

/* ---------------------------------------------------------------- options */

typedef struct {
  const char *input, *outdir, *trace, *dot;
  int64_t chunks; /* 0: chosen from the shape */
  int h5, zarr;   /* output formats */
  double flat;    /* degrees */
  double spacing; /* metres; 0: not given */
  int check, progress;
  int64_t make_terrain; /* N, or 0 */
} topo_opts;

/* ---------------------------------------------------------------- the run's state */

typedef struct {
  da_ctx ctx;
  int rank, size;
  topo_opts o;
  char msg[1200]; /* the error to print */
  da_array *pool; /* every array made, destroyed in reverse order on every rank */
  int npool, cappool;
  char *rep; /* the report, rank 0 */
  size_t replen, repcap;
} topo_app;

static int pool_add(topo_app *app, da_array a) {
  if (!a)
    return 0;
  if (app->npool == app->cappool) {
    int cap = app->cappool ? 2 * app->cappool : 64;
    da_array *p = realloc(app->pool, (size_t)cap * sizeof *p);
    if (!p)
      return 1;
    app->pool = p, app->cappool = cap;
  }
  app->pool[app->npool++] = a;
  return 0;
}

static int app_error(topo_app *app, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int app_error(topo_app *app, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(app->msg, sizeof app->msg, fmt, ap);
  va_end(ap);
  return 1;
}

/* A darray call failed on every rank (its errors are agreed): keep its message. */
static int da_failed(topo_app *app, int rc) {
  const char *m = da_ctx_errmsg(app->ctx);
  snprintf(app->msg, sizeof app->msg, "%s", m && m[0] ? m : da_strerror(rc));
  return 1;
}

#define CK(call)                                                                                   \
  do {                                                                                             \
    int ck_rc_ = (call);                                                                           \
    if (ck_rc_)                                                                                    \
      return da_failed(app, ck_rc_);                                                               \
  } while (0)
/* A new array into var, kept in the pool. */
#define MK(var, call)                                                                              \
  do {                                                                                             \
    (var) = NULL;                                                                                  \
    CK(call);                                                                                      \
    if (pool_add(app, (var)))                                                                      \
      return app_error(app, "out of memory");                                                      \
  } while (0)
#define TRYAPP(call)                                                                               \
  do {                                                                                             \
    if (call)                                                                                      \
      return 1;                                                                                    \
  } while (0)

/* Rank 0 decided rc (a file system check, a write): every rank gets it and its message. */
static int rank0_says(topo_app *app, int rc) {
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (rc)
    MPI_Bcast(app->msg, (int)sizeof app->msg, MPI_CHAR, 0, MPI_COMM_WORLD);
  return rc;
}

/* One line of the report: printed and kept on rank 0. */
static void say(topo_app *app, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(topo_app *app, const char *fmt, ...) {
  if (app->rank != 0)
    return;
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t len = strlen(line);
  fputs(line, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  if (app->replen + len + 2 > app->repcap) {
    size_t cap = 2 * (app->replen + len + 2) + 4096;
    char *p = realloc(app->rep, cap);
    if (!p)
      return;
    app->rep = p, app->repcap = cap;
  }
  memcpy(app->rep + app->replen, line, len);
  app->replen += len;
  app->rep[app->replen++] = '\n';
  app->rep[app->replen] = '\0';
}

/* ---------------------------------------------------------------- block functions */

typedef enum { STAT_STD, STAT_MEAN, STAT_MIN, STAT_MAX, STAT_BELOW } stat_kind;
typedef struct {
  stat_kind kind;
  double threshold; /* STAT_BELOW: the fraction of values < threshold */
} stat_spec;

/* One statistic of n float64 values: std is np.std's (two passes, divisor n). The serial
 * check calls this too, on the same blocks. */
static double block_stat(const double *v, int64_t n, const stat_spec *s) {
  if (n == 0)
    return NAN;
  double acc = 0;
  switch (s->kind) {
  case STAT_MIN:
    acc = v[0];
    for (int64_t i = 1; i < n; i++)
      acc = v[i] < acc ? v[i] : acc;
    return acc;
  case STAT_MAX:
    acc = v[0];
    for (int64_t i = 1; i < n; i++)
      acc = v[i] > acc ? v[i] : acc;
    return acc;
  case STAT_BELOW: {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
      c += v[i] < s->threshold;
    return (double)c / (double)n;
  }
  case STAT_MEAN:
  case STAT_STD:
    break;
  }
  for (int64_t i = 0; i < n; i++)
    acc += v[i];
  double mean = acc / (double)n;
  if (s->kind == STAT_MEAN)
    return mean;
  double m2 = 0;
  for (int64_t i = 0; i < n; i++)
    m2 += (v[i] - mean) * (v[i] - mean);
  return sqrt(m2 / (double)n);
}

/* map_blocks: one value per block (the lesson's elevation_std, with chunks (1, 1)). */
static int block_stat_fn(const da_block_info *info, void *user) {
  if (info->nin != 1 || info->in_dtype[0] != DA_FLOAT64 || info->out_dtype != DA_FLOAT64)
    return 1;
  int64_t n = 1;
  for (int d = 0; d < info->in_ndim; d++)
    n *= info->in_shape[0][d];
  *(double *)info->out = block_stat(info->in[0], n, user);
  return 0;
}

/* ---------------------------------------------------------------- synthetic terrain */

/* Fractal value noise: octaves of smoothly interpolated hashed lattice values, each keyed by
 * (seed, octave, lattice x, lattice y) alone, so a pixel's value depends only on its global
 * coordinates (the same bits for any chunking and rank count). */
typedef struct {
  int64_t n;
  uint64_t seed;
} terrain_spec;

static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static double lattice(uint64_t seed, int octave, int64_t ix, int64_t iy) {
  uint64_t h = mix64(mix64(mix64(seed + (uint64_t)octave) ^ (uint64_t)ix) ^ (uint64_t)iy);
  return (double)(h >> 11) * 0x1.0p-53;
}

static double smooth(double t) {
  return t * t * (3.0 - 2.0 * t);
}

/* Octave k has lattice period base_period / 2^k pixels, down to 2 pixels. The largest hills
 * span at most 192 pixels (about 6 km at 30 m), so a big map holds many of them, with slopes
 * of a few degrees at any size, rather than one hill stretched flat. */
static int terrain_octaves(int64_t n, double *base) {
  *base = n / 3.0 > 192.0 ? 192.0 : n / 3.0 > 16.0 ? n / 3.0 : 16.0;
  int k = 0;
  while (k < 14 && *base / (double)(1 << k) >= 2.0)
    k++;
  return k;
}

static int terrain_fn(const da_block_info *info, void *user) {
  const terrain_spec *t = user;
  if (info->out_ndim != 3 || info->out_dtype != DA_UINT8 || info->out_shape[2] != 4)
    return 1;
  int64_t h = info->out_shape[0], w = info->out_shape[1];
  int64_t r0 = info->block_offset[0], c0 = info->block_offset[1];
  if (h == 0 || w == 0)
    return 0;
  double base;
  int noct = terrain_octaves(t->n, &base);
  double *acc = calloc((size_t)(h * w), sizeof *acc);
  double *ux = malloc((size_t)w * sizeof *ux), *rowv = NULL;
  int64_t *ix = malloc((size_t)w * sizeof *ix);
  int rc = acc && ux && ix ? 0 : 1;
  double amp = 1.0, norm = 0.0;
  for (int k = 0; k < noct && !rc; k++, amp *= 0.5) {
    double p = base / (double)(1 << k);
    int64_t x0 = (int64_t)floor((double)c0 / p), x1 = (int64_t)floor((double)(c0 + w - 1) / p);
    int64_t nx = x1 - x0 + 2;
    free(rowv);
    if (!(rowv = malloc((size_t)nx * sizeof *rowv))) {
      rc = 1;
      break;
    }
    for (int64_t j = 0; j < w; j++) {
      double x = (double)(c0 + j) / p, fx = floor(x);
      ix[j] = (int64_t)fx - x0;
      ux[j] = smooth(x - fx);
    }
    for (int64_t i = 0; i < h; i++) {
      double y = (double)(r0 + i) / p, fy = floor(y), v = smooth(y - fy);
      int64_t iy = (int64_t)fy;
      for (int64_t q = 0; q < nx; q++) /* the lattice row interpolated at this y */
        rowv[q] =
            lattice(t->seed, k, x0 + q, iy) * (1.0 - v) + lattice(t->seed, k, x0 + q, iy + 1) * v;
      double *a = acc + i * w;
      for (int64_t j = 0; j < w; j++)
        a[j] += amp * (rowv[ix[j]] * (1.0 - ux[j]) + rowv[ix[j] + 1] * ux[j]);
    }
    norm += amp;
  }
  if (!rc) {
    uint8_t *out = info->out;
    for (int64_t q = 0; q < h * w; q++) {
      double e = (acc[q] / norm - 0.5) * 1.8 + 0.5; /* stretch the octave sum's narrow range */
      e = e < 0 ? 0 : e > 1 ? 1 : e;
      double v = 255.0 * e, r = v * 0.9 + 16.0, b = v * 1.1 - 12.0;
      out[4 * q + 0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : floor(r + 0.5));
      out[4 * q + 1] = (uint8_t)floor(v + 0.5);
      out[4 * q + 2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : floor(b + 0.5));
      out[4 * q + 3] = 255;
    }
  }
  free(acc);
  free(ux);
  free(ix);
  free(rowv);
  return rc;
}

static terrain_spec terrain_params;

/* The N x N x 4 uint8 terrain in (chunk, chunk, 4) tiles, lazily: blocks are made when read. */
static int make_terrain(topo_app *app, int64_t n, int64_t chunk, da_array *out) {
  da_array base;
  int64_t shape[3] = {n, n, 4};
  MK(base, da_empty(app->ctx, 3, shape, DA_CHUNKS(chunk, chunk, 4), DA_UINT8, &base));
  terrain_params = (terrain_spec){n, TERRAIN_SEED};
  MK(*out, da_map_blocks(terrain_fn, &terrain_params, 1, &base, DA_UINT8, NULL, out));
  return 0;
}

/* ---------------------------------------------------------------- small helpers */

/* a's values (any dtype) as float64 on every rank; count elements. */
static int fetch_f64(topo_app *app, da_array a, double *buf, int64_t count) {
  da_array f = a;
  if (da_array_dtype(a) != DA_FLOAT64)
    MK(f, da_astype(a, DA_FLOAT64, &f));
  if (da_array_size(f) != count)
    return app_error(app, "internal: expected %lld values, got %lld", (long long)count,
                     (long long)da_array_size(f));
  CK(da_compute(f, DA_ALL_RANKS, buf, (size_t)count * sizeof *buf));
  return 0;
}

static int fetch_i64(topo_app *app, da_array a, int64_t *buf, int64_t count) {
  da_array f = a;
  if (da_array_dtype(a) != DA_INT64)
    MK(f, da_astype(a, DA_INT64, &f));
  if (da_array_size(f) != count)
    return app_error(app, "internal: expected %lld indices, got %lld", (long long)count,
                     (long long)da_array_size(f));
  CK(da_compute(f, DA_ALL_RANKS, buf, (size_t)count * sizeof *buf));
  return 0;
}

/* A per-block statistic of x: an array of one value per block, chunks (1, 1). */
static int per_block(topo_app *app, da_array x, stat_spec *spec, da_array *out) {
  da_map_out oc = {.ndim = 2, .src = {0, 1}, .size = {1, 1}};
  MK(*out, da_map_blocks(block_stat_fn, spec, 1, &x, DA_FLOAT64, &oc, out));
  return 0;
}

/* np.array_split's lengths of n into parts parts. */
static void split_lengths(int64_t n, int64_t parts, int64_t *len) {
  for (int64_t k = 0; k < parts; k++)
    len[k] = n / parts + (k < n % parts);
}

static int mkdir_p(const char *dir) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
    return ENAMETOOLONG;
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return errno;
      *p = c;
      if (!c)
        break;
    }
  }
  struct stat st;
  if (stat(dir, &st) != 0)
    return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0)
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_text_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    return errno ? errno : EIO;
  size_t len = strlen(text);
  int e = fwrite(text, 1, len, f) == len ? 0 : EIO;
  if (fclose(f) != 0 && !e)
    e = errno ? errno : EIO;
  return e;
}

/* Rank 0: text into path through a temporary file renamed over it. */
static int write_text_atomic(const char *path, const char *text) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.da-tmp-XXXXXX", path) >= (int)sizeof tmp)
    return ENAMETOOLONG;
  int fd = mkstemp(tmp);
  if (fd < 0)
    return errno;
  close(fd);
  chmod(tmp, 0644);
  int e = write_text_file(tmp, text);
  if (!e && rename(tmp, path) != 0)
    e = errno;
  if (e)
    unlink(tmp);
  return e;
}

/* ---------------------------------------------------------------- the input */

typedef struct {
  char kind[12]; /* dem npz npy hdf5 zarr synthetic */
  char path[4096];
  char member[1024];
  int64_t n; /* synthetic */
} input_spec;

static int parse_spec(topo_app *app, const char *spec, input_spec *in) {
  memset(in, 0, sizeof *in);
  const char *colon = strchr(spec, ':');
  if (strcmp(spec, "dem") == 0) {
    snprintf(in->kind, sizeof in->kind, "npz");
    snprintf(in->path, sizeof in->path, "%s", DEM_PATH);
    snprintf(in->member, sizeof in->member, "elevation");
    return 0;
  }
  if (!colon || colon == spec || !colon[1])
    return app_error(app,
                     "--input '%s': expected dem, npz:PATH[:MEMBER], npy:PATH, "
                     "hdf5:PATH:DATASET, zarr:PATH or synthetic:N",
                     spec);
  size_t klen = (size_t)(colon - spec);
  if (klen >= sizeof in->kind)
    return app_error(app, "--input '%s': unknown kind", spec);
  memcpy(in->kind, spec, klen);
  const char *rest = colon + 1;
  if (strlen(rest) >= sizeof in->path)
    return app_error(app, "--input '%s': the path is too long", spec);
  if (strcmp(in->kind, "synthetic") == 0) {
    char *end;
    errno = 0;
    long long n = strtoll(rest, &end, 10);
    if (errno || *end || n < 2 || n > 10000000)
      return app_error(app, "--input '%s': synthetic:N needs a size N from 2 to 10000000", spec);
    in->n = n;
    return 0;
  }
  snprintf(in->path, sizeof in->path, "%s", rest);
  if (strcmp(in->kind, "npy") == 0 || strcmp(in->kind, "zarr") == 0)
    return 0;
  char *last = strrchr(in->path, ':');
  if (strcmp(in->kind, "hdf5") == 0) {
    if (!last || !last[1] || last == in->path)
      return app_error(app, "--input '%s': hdf5:PATH:DATASET needs a dataset name", spec);
    snprintf(in->member, sizeof in->member, "%s", last + 1);
    *last = '\0';
    return 0;
  }
  if (strcmp(in->kind, "npz") == 0) {
    /* A member follows the last ':' unless that ':' is part of the path. */
    if (last && last[1] && !strchr(last + 1, '/')) {
      snprintf(in->member, sizeof in->member, "%s", last + 1);
      *last = '\0';
    }
    return 0;
  }
  return app_error(app, "--input '%s': unknown kind '%s' (dem, npz, npy, hdf5, zarr, synthetic)",
                   spec, in->kind);
}

/* What the input is and where it lies. */
typedef struct {
  input_spec spec;
  int rgba; /* (H, W, 4) uint8 tiles, else 2-D elevations in metres */
  int64_t h, w, chunk;
  int geo;                                    /* the DEM's dx/dy/xmin/ymax are known */
  double dx_deg, dy_deg, lon0, lat0, lat_mid; /* lon0/lat0: the top-left corner */
  double sx_m, sy_m;                          /* metres between columns, rows */
} topo_input;

/* Opens the input with chunks (NULL: the file's own). */
static int open_input(topo_app *app, const input_spec *in, const da_chunks *ch, da_array *out) {
  if (strcmp(in->kind, "npz") == 0)
    MK(*out, da_from_npz(app->ctx, in->path, in->member[0] ? in->member : NULL, ch, out));
  else if (strcmp(in->kind, "npy") == 0)
    MK(*out, da_from_npy(app->ctx, in->path, ch, out));
  else if (strcmp(in->kind, "hdf5") == 0)
    MK(*out, da_from_hdf5(app->ctx, in->path, in->member, ch, DA_DTYPE_NATIVE, out));
  else if (strcmp(in->kind, "zarr") == 0)
    MK(*out, da_from_zarr(app->ctx, in->path, ch, out));
  else
    return app_error(app, "internal: input kind '%s'", in->kind);
  return 0;
}

/* A scalar member of the DEM's archive, if it has one. */
static int npz_scalar(topo_app *app, const char *path, const char *name, double *v) {
  da_array a = NULL;
  if (da_from_npz(app->ctx, path, name, NULL, &a) != DA_OK)
    return 1;
  int rc = pool_add(app, a);
  if (!rc && da_array_size(a) == 1)
    rc = fetch_f64(app, a, v, 1);
  else
    rc = 1;
  app->msg[0] = '\0';
  return rc;
}

static int64_t default_chunk(int64_t h, int64_t w) {
  int64_t m = h > w ? h : w, c = (m + 7) / 8;
  c = c < 10 ? 10 : c > 2000 ? 2000 : c;
  int64_t s = h < w ? h : w;
  return c > s ? s : c;
}

/* The input as a raw array (RGBA tiles or elevations) in (chunk, chunk[, 4]) blocks. */
static int load_input(topo_app *app, topo_input *ti, da_array *raw) {
  const topo_opts *o = &app->o;
  input_spec *in = &ti->spec;
  TRYAPP(parse_spec(app, o->input, in));
  int ndim;
  da_dtype dt;
  if (strcmp(in->kind, "synthetic") == 0) {
    ndim = 3, dt = DA_UINT8;
    ti->h = ti->w = in->n;
  } else {
    da_array probe;
    TRYAPP(open_input(app, in, NULL, &probe));
    ndim = da_array_ndim(probe), dt = da_array_dtype(probe);
    const int64_t *s = da_array_shape(probe);
    if (ndim == 3 && s[2] != 4)
      return app_error(app,
                       "input %s: a 3-d input must be RGBA tiles (H, W, 4), but its last axis "
                       "has %lld channels",
                       o->input, (long long)s[2]);
    if (ndim == 3 && dt != DA_UINT8)
      return app_error(app, "input %s: RGBA tiles must be uint8, not %s", o->input,
                       da_dtype_name(dt));
    if (ndim != 2 && ndim != 3)
      return app_error(app,
                       "input %s: expected a 2-d elevation map or (H, W, 4) RGBA tiles, got a "
                       "%d-d array",
                       o->input, ndim);
    if (dt == DA_BOOL)
      return app_error(app, "input %s: a bool array is not an elevation map", o->input);
    ti->h = s[0], ti->w = s[1];
  }
  ti->rgba = ndim == 3;
  if (ti->h < 2 || ti->w < 2)
    return app_error(app, "input %s: the map is %lld x %lld; slopes need at least 2 x 2", o->input,
                     (long long)ti->h, (long long)ti->w);
  if (o->chunks > 0 && (o->chunks > ti->h || o->chunks > ti->w))
    return app_error(app, "--chunks %lld is larger than the %lld x %lld map", (long long)o->chunks,
                     (long long)ti->h, (long long)ti->w);
  if (o->check && ti->h * ti->w > CHECK_MAX_ELEMENTS)
    return app_error(app,
                     "--check recomputes serially on rank 0: the %lld x %lld map is larger than "
                     "%d elements",
                     (long long)ti->h, (long long)ti->w, CHECK_MAX_ELEMENTS);
  ti->chunk = o->chunks > 0 ? o->chunks : default_chunk(ti->h, ti->w);
  int64_t c = ti->chunk;
  const da_chunks *ch = ti->rgba ? DA_CHUNKS(c, c, 4) : DA_CHUNKS(c, c);
  if (strcmp(in->kind, "synthetic") == 0) {
    TRYAPP(make_terrain(app, in->n, c, raw));
  } else if (strcmp(in->kind, "npz") == 0) {
    da_array whole; /* read and scattered once by rank 0; moved into the requested blocks */
    TRYAPP(open_input(app, in, NULL, &whole));
    MK(*raw, da_rechunk(whole, ch, raw));
  } else {
    TRYAPP(open_input(app, in, ch, raw));
  }

  /* The DEM's geography: dx/dy in degrees, xmin the west edge; the archive's ymin and ymax
   * are swapped (ymin > ymax), so the north edge is the larger of the two. Row 0 is north. */
  double dx, dy, xmin, ya, yb;
  if (!ti->rgba && strcmp(in->kind, "npz") == 0 && !npz_scalar(app, in->path, "dx", &dx) &&
      !npz_scalar(app, in->path, "dy", &dy) && !npz_scalar(app, in->path, "xmin", &xmin) &&
      !npz_scalar(app, in->path, "ymin", &ya) && !npz_scalar(app, in->path, "ymax", &yb) &&
      dx > 0 && dy > 0) {
    ti->geo = 1;
    ti->dx_deg = dx, ti->dy_deg = dy, ti->lon0 = xmin;
    ti->lat0 = ya > yb ? ya : yb;
    ti->lat_mid = ti->lat0 - 0.5 * (double)ti->h * dy;
  }
  if (o->spacing > 0 || !ti->geo) {
    ti->sx_m = ti->sy_m = o->spacing > 0 ? o->spacing : 30.0;
  } else {
    double rad = M_PI / 180.0;
    ti->sy_m = dy * rad * EARTH_RADIUS_M;
    ti->sx_m = dx * rad * EARTH_RADIUS_M * cos(ti->lat_mid * rad);
  }
  return 0;
}

/* ---------------------------------------------------------------- the analysis */

typedef struct {
  topo_input in;
  const char *unit; /* "ft" or "m" */
  double zscale;    /* elevation unit to metres */
  da_array raw, elev, bstd, bmean, bmin, bmax, slope, flat, zoom, zstd, zmin, zmax;
  int64_t nb[2];
  /* results, on every rank */
  double alpha_lo, alpha_hi, emin, emax;
  int64_t best, bidx[2], boff[2], bshape[2];
  double best_std, best_min, best_mean, best_max;
  int64_t zparts[2];
  int64_t zlen[2][ZOOM_AREAS];
  double *zstd_v; /* zparts[0] x zparts[1] */
  int64_t zbest;
  double jump[4];    /* largest |diff| of area min along rows, cols, area max along rows, cols */
  int64_t jumpat[4]; /* flat index into the diff array, -1: no neighbours */
  double smin, smax, smean, flat_all;
  int64_t nsites;
  int64_t site[NSITES];
  double site_flat[NSITES], site_std[NSITES], site_mean[NSITES];
  double *bstd_v, *bflat_v; /* every block's, for the tables */
  char scratch[2][4300];    /* maps spooled to .npy files, removed at the end */
} topo_run;

static stat_spec spec_std = {STAT_STD, 0}, spec_mean = {STAT_MEAN, 0}, spec_min = {STAT_MIN, 0},
                 spec_max = {STAT_MAX, 0}, spec_flat = {STAT_BELOW, 5.0};

static void fmt_elev(const topo_run *r, double v, char *buf, size_t len) {
  if (r->in.rgba)
    snprintf(buf, len, "%.4f ft", v);
  else
    snprintf(buf, len, "%.4f m (%.4f ft)", v, v * FT_PER_M);
}

/* Rows, columns and (for the DEM) longitude/latitude of a box of the map. */
static void fmt_box(const topo_run *r, int64_t r0, int64_t c0, int64_t h, int64_t w, char *buf,
                    size_t len) {
  int n = snprintf(buf, len, "rows %lld-%lld, cols %lld-%lld", (long long)r0,
                   (long long)(r0 + h - 1), (long long)c0, (long long)(c0 + w - 1));
  const topo_input *t = &r->in;
  if (t->geo && n > 0 && (size_t)n < len)
    snprintf(buf + n, len - (size_t)n, ", lon %.5f..%.5f, lat %.5f..%.5f (centre %.5f, %.5f)",
             t->lon0 + (double)c0 * t->dx_deg, t->lon0 + (double)(c0 + w) * t->dx_deg,
             t->lat0 - (double)(r0 + h) * t->dy_deg, t->lat0 - (double)r0 * t->dy_deg,
             t->lon0 + ((double)c0 + 0.5 * (double)w) * t->dx_deg,
             t->lat0 - ((double)r0 + 0.5 * (double)h) * t->dy_deg);
}

/* Step 1: the elevation map, float64, in feet (RGBA) or metres. */
static int decode(topo_app *app, topo_run *r) {
  if (!r->in.rgba) {
    MK(r->elev, da_astype(r->raw, DA_FLOAT64, &r->elev));
    r->unit = "m", r->zscale = 1.0;
    say(app, "step 1  elevations in metres (reported in metres and feet)");
    return 0;
  }
  /* The lesson: the alpha channel should carry no signal (min == max); drop it. */
  da_array alpha, amin, amax, ch[3], lum, t1, t2, t3, t4, ft;
  MK(alpha, da_getitem(r->raw, DA_INDEX(DA_ALL, DA_ALL, DA_AT(3)), &alpha));
  MK(amin, da_min(alpha, 0, NULL, 0, &amin));
  MK(amax, da_max(alpha, 0, NULL, 0, &amax));
  TRYAPP(fetch_f64(app, amin, &r->alpha_lo, 1));
  TRYAPP(fetch_f64(app, amax, &r->alpha_hi, 1));
  say(app, "step 1  alpha channel: min %g, max %g: %s; dropped", r->alpha_lo, r->alpha_hi,
      r->alpha_lo == r->alpha_hi ? "no signal" : "WARNING: it varies");
  for (int k = 0; k < 3; k++)
    MK(ch[k], da_getitem(r->raw, DA_INDEX(DA_ALL, DA_ALL, DA_AT(k)), &ch[k]));
  /* Luminosity, then the pixel range 0..255 onto the reference elevations 30..1100 ft. */
  MK(t1, da_multiply(DA_V(ch[0]), DA_V(0.21), &t1));
  MK(t2, da_multiply(DA_V(ch[1]), DA_V(0.72), &t2));
  MK(t3, da_multiply(DA_V(ch[2]), DA_V(0.07), &t3));
  MK(t4, da_add(DA_V(t1), DA_V(t2), &t4));
  MK(lum, da_add(DA_V(t4), DA_V(t3), &lum));
  MK(t1, da_multiply(DA_V(lum), DA_V(REF_HI_FT - REF_LO_FT), &t1));
  MK(ft, da_divide(DA_V(t1), DA_V(255.0), &ft));
  MK(r->elev, da_add(DA_V(ft), DA_V(REF_LO_FT), &r->elev));
  r->unit = "ft", r->zscale = 0.3048;
  say(app, "        elevation_ft = 30 + (1100 - 30) * (0.21 R + 0.72 G + 0.07 B) / 255");
  return 0;
}

/* Whether an array of nbytes fits in memory spread over the ranks (a quarter of the memory
 * limit per rank, else 1 GiB): then it is persisted, not recomputed by every step. */
static int fits(topo_app *app, da_array a) {
  int64_t lim = da_ctx_memory_limit(app->ctx), per = da_array_nbytes(a) / app->size;
  return per <= (lim > 0 ? lim / 4 : (int64_t)1 << 30);
}

/* Steps 2-4: min/max, per-block std, the least-rugged block by argmin. */
static int rugged(topo_app *app, topo_run *r) {
  da_array lo, hi, am, blk, bl, bm, bh;
  char a[200], b[200], box[400];
  MK(lo, da_min(r->elev, 0, NULL, 0, &lo));
  MK(hi, da_max(r->elev, 0, NULL, 0, &hi));
  TRYAPP(fetch_f64(app, lo, &r->emin, 1));
  TRYAPP(fetch_f64(app, hi, &r->emax, 1));
  fmt_elev(r, r->emin, a, sizeof a);
  fmt_elev(r, r->emax, b, sizeof b);
  say(app, "step 2  min elevation: %s", a);
  say(app, "        max elevation: %s", b);

  const int64_t *nb = da_array_numblocks(r->elev);
  r->nb[0] = nb[0], r->nb[1] = nb[1];
  int64_t nbt = nb[0] * nb[1];
  r->bstd_v = malloc((size_t)nbt * sizeof(double));
  r->bflat_v = malloc((size_t)nbt * sizeof(double));
  if (!r->bstd_v || !r->bflat_v)
    return app_error(app, "out of memory");
  TRYAPP(fetch_f64(app, r->bstd, r->bstd_v, nbt));
  say(app, "step 3  per-block std (map_blocks, chunks (1, 1)): %lld x %lld blocks of %lld x %lld",
      (long long)nb[0], (long long)nb[1], (long long)r->in.chunk, (long long)r->in.chunk);
  if (nb[0] <= 12 && nb[1] <= 12) {
    for (int64_t i = 0; i < nb[0]; i++) {
      char line[12 * 12 + 16] = "", *p = line;
      for (int64_t j = 0; j < nb[1]; j++)
        p += snprintf(p, 12, " %9.3f", r->bstd_v[i * nb[1] + j]);
      say(app, "        %s", line);
    }
  }

  MK(am, da_argmin(r->bstd, 0, NULL, 0, &am));
  TRYAPP(fetch_i64(app, am, &r->best, 1));
  r->bidx[0] = r->best / nb[1], r->bidx[1] = r->best % nb[1];
  CK(da_array_block_offset(r->elev, r->bidx, r->boff));
  CK(da_array_block_shape(r->elev, r->bidx, r->bshape));
  r->best_std = r->bstd_v[r->best];
  MK(blk, da_block(r->elev, r->bidx, &blk));
  MK(bl, da_min(blk, 0, NULL, 0, &bl));
  MK(bm, da_mean(blk, 0, NULL, 0, &bm));
  MK(bh, da_max(blk, 0, NULL, 0, &bh));
  TRYAPP(fetch_f64(app, bl, &r->best_min, 1));
  TRYAPP(fetch_f64(app, bm, &r->best_mean, 1));
  TRYAPP(fetch_f64(app, bh, &r->best_max, 1));
  fmt_box(r, r->boff[0], r->boff[1], r->bshape[0], r->bshape[1], box, sizeof box);
  say(app,
      "step 4  least-rugged block (argmin of the per-block std): block (%lld, %lld), std %.6f %s",
      (long long)r->bidx[0], (long long)r->bidx[1], r->best_std, r->unit);
  say(app, "        %s", box);
  say(app, "        block min %.4f, mean %.4f, max %.4f %s", r->best_min, r->best_mean, r->best_max,
      r->unit);
  return 0;
}

/* Step 5 (lab activity 3): the block rechunked into 10 x 10 areas, their std, and the
 * largest changes of the areas' min and max between neighbours (diff). */
static int zoom(topo_app *app, topo_run *r) {
  da_array blk;
  MK(blk, da_block(r->elev, r->bidx, &blk));
  da_chunks ch = {0};
  for (int d = 0; d < 2; d++) {
    r->zparts[d] = r->bshape[d] < ZOOM_AREAS ? r->bshape[d] : ZOOM_AREAS;
    split_lengths(r->bshape[d], r->zparts[d], r->zlen[d]);
    ch.list[d] = r->zlen[d];
    ch.nlist[d] = r->zparts[d];
  }
  MK(r->zoom, da_rechunk(blk, &ch, &r->zoom));
  TRYAPP(per_block(app, r->zoom, &spec_std, &r->zstd));
  TRYAPP(per_block(app, r->zoom, &spec_min, &r->zmin));
  TRYAPP(per_block(app, r->zoom, &spec_max, &r->zmax));
  int64_t nz = r->zparts[0] * r->zparts[1];
  if (!(r->zstd_v = malloc((size_t)nz * sizeof(double))))
    return app_error(app, "out of memory");
  TRYAPP(fetch_f64(app, r->zstd, r->zstd_v, nz));
  say(app,
      "step 5  zoom: block (%lld, %lld) rechunked into %lld x %lld areas of about %lld x %lld; "
      "std per area (%s):",
      (long long)r->bidx[0], (long long)r->bidx[1], (long long)r->zparts[0],
      (long long)r->zparts[1], (long long)r->zlen[0][0], (long long)r->zlen[1][0], r->unit);
  for (int64_t i = 0; i < r->zparts[0]; i++) {
    char line[ZOOM_AREAS * 12 + 16] = "", *p = line;
    for (int64_t j = 0; j < r->zparts[1]; j++)
      p += snprintf(p, 12, " %9.4f", r->zstd_v[i * r->zparts[1] + j]);
    say(app, "        %s", line);
  }
  da_array am;
  MK(am, da_argmin(r->zstd, 0, NULL, 0, &am));
  TRYAPP(fetch_i64(app, am, &r->zbest, 1));
  int64_t zi = r->zbest / r->zparts[1], zj = r->zbest % r->zparts[1], zr = r->boff[0],
          zc = r->boff[1];
  for (int64_t k = 0; k < zi; k++)
    zr += r->zlen[0][k];
  for (int64_t k = 0; k < zj; k++)
    zc += r->zlen[1][k];
  char box[400];
  fmt_box(r, zr, zc, r->zlen[0][zi], r->zlen[1][zj], box, sizeof box);
  say(app, "        smoothest area (argmin): (%lld, %lld), std %.6f %s, %s", (long long)zi,
      (long long)zj, r->zstd_v[r->zbest], r->unit, box);

  /* Changes between neighbouring areas: |diff| of the areas' min and max along each axis. */
  static const char *what[4] = {"minimum", "minimum", "maximum", "maximum"};
  for (int q = 0; q < 4; q++) {
    int axis = q % 2;
    r->jumpat[q] = -1;
    r->jump[q] = 0;
    if (r->zparts[axis] < 2) {
      say(app, "        change of area %s along %s: one area only", what[q],
          axis ? "columns" : "rows");
      continue;
    }
    da_array df, ab, mx, amx;
    MK(df, da_diff(q < 2 ? r->zmin : r->zmax, 1, axis, &df));
    MK(ab, da_absolute(df, &ab));
    MK(mx, da_max(ab, 0, NULL, 0, &mx));
    MK(amx, da_argmax(ab, 0, NULL, 0, &amx));
    TRYAPP(fetch_f64(app, mx, &r->jump[q], 1));
    TRYAPP(fetch_i64(app, amx, &r->jumpat[q], 1));
    int64_t cols = da_array_shape(ab)[1], i = r->jumpat[q] / cols, j = r->jumpat[q] % cols;
    say(app,
        "        largest change of area %s between neighbouring %s: %.4f %s, areas (%lld, %lld) "
        "-> (%lld, %lld)",
        what[q], axis ? "columns" : "rows", r->jump[q], r->unit, (long long)i, (long long)j,
        (long long)(i + (axis == 0)), (long long)(j + (axis == 1)));
  }
  return 0;
}

/* The slope in degrees from darray's gradient (map_overlap) along both axes. */
static int build_slope(topo_app *app, topo_run *r) {
  da_array gy, gx, sy, sx, my, mx, hy, at;
  MK(gy, da_gradient(r->elev, 0, &gy));
  MK(gx, da_gradient(r->elev, 1, &gx));
  MK(my, da_multiply(DA_V(gy), DA_V(r->zscale), &my));
  MK(mx, da_multiply(DA_V(gx), DA_V(r->zscale), &mx));
  MK(sy, da_divide(DA_V(my), DA_V(r->in.sy_m), &sy));
  MK(sx, da_divide(DA_V(mx), DA_V(r->in.sx_m), &sx));
  MK(hy, da_hypot(DA_V(sx), DA_V(sy), &hy));
  MK(at, da_arctan(hy, &at));
  MK(r->slope, da_multiply(DA_V(at), DA_V(180.0 / M_PI), &r->slope));
  spec_flat.threshold = app->o.flat;
  TRYAPP(per_block(app, r->slope, &spec_flat, &r->flat));
  return 0;
}

/* A map too big to hold is written once to a scratch .npy beside the outputs (a directory
 * every rank sees) and read back block by block by each later step, rather than computed
 * again by each. */
static int spool(topo_app *app, da_array *x, const char *name, char *path, size_t len) {
  snprintf(path, len, "%s/.topo-%s.npy", app->o.outdir, name);
  da_chunks ch = {0};
  for (int d = 0; d < 2; d++)
    ch.list[d] = da_array_chunks(*x, d), ch.nlist[d] = da_array_numblocks(*x)[d];
  CK(da_to_npy(*x, path));
  say(app, "        %s: %.4g GB, more than fits in memory, spooled to %s", name,
      (double)da_array_nbytes(*x) / 1e9, path);
  MK(*x, da_from_npy(app->ctx, path, &ch, x));
  return 0;
}

/* Elevation held or spooled; the per-block and slope graphs then start from it. */
static int keep_elevation(topo_app *app, topo_run *r) {
  if (fits(app, r->elev))
    return da_persist(r->elev) ? da_failed(app, 1) : 0;
  TRYAPP(spool(app, &r->elev, "elevation", r->scratch[0], sizeof r->scratch[0]));
  TRYAPP(per_block(app, r->elev, &spec_std, &r->bstd));
  TRYAPP(per_block(app, r->elev, &spec_mean, &r->bmean));
  return build_slope(app, r);
}

static int keep_slope(topo_app *app, topo_run *r) {
  if (fits(app, r->slope))
    return da_persist(r->slope) ? da_failed(app, 1) : 0;
  TRYAPP(spool(app, &r->slope, "slope", r->scratch[1], sizeof r->scratch[1]));
  return per_block(app, r->slope, &spec_flat, &r->flat);
}

/* Step 6-7 (the lab postscript): slope statistics, flat land per block, ranked sites. */
static int sites(topo_app *app, topo_run *r) {
  da_array lo, hi, mean, below, fall;
  MK(lo, da_min(r->slope, 0, NULL, 0, &lo));
  MK(hi, da_max(r->slope, 0, NULL, 0, &hi));
  MK(mean, da_mean(r->slope, 0, NULL, 0, &mean));
  MK(below, da_less(DA_V(r->slope), DA_V(app->o.flat), &below));
  MK(fall, da_mean(below, 0, NULL, 0, &fall));
  TRYAPP(fetch_f64(app, lo, &r->smin, 1));
  TRYAPP(fetch_f64(app, hi, &r->smax, 1));
  TRYAPP(fetch_f64(app, mean, &r->smean, 1));
  TRYAPP(fetch_f64(app, fall, &r->flat_all, 1));
  say(app, "step 6  slope (gradient via map_overlap; %.4f m between columns, %.4f m between rows):",
      r->in.sx_m, r->in.sy_m);
  say(app, "        slope min %.6f, mean %.6f, max %.6f degrees", r->smin, r->smean, r->smax);
  say(app, "        flat land (slope < %g degrees): %.6f of the map", app->o.flat, r->flat_all);

  /* Sites: blocks by flat fraction, descending, ties to the lower std: two stable argsorts
   * (by std, then by -flat) make the lexicographic order. */
  int64_t nbt = r->nb[0] * r->nb[1];
  TRYAPP(fetch_f64(app, r->flat, r->bflat_v, nbt));
  da_array sf, ff, o1, nf, f1, o2, ord, top, tf, ts, tm, mf;
  MK(sf, da_ravel(r->bstd, &sf));
  MK(ff, da_ravel(r->flat, &ff));
  MK(mf, da_ravel(r->bmean, &mf));
  MK(o1, da_argsort(sf, 0, &o1));
  MK(nf, da_negative(ff, &nf));
  MK(f1, da_take(nf, o1, 0, &f1));
  MK(o2, da_argsort(f1, 0, &o2));
  MK(ord, da_take(o1, o2, 0, &ord));
  r->nsites = nbt < NSITES ? nbt : NSITES;
  MK(top, da_getitem(ord, DA_INDEX(DA_SLICE(0, r->nsites, 1)), &top));
  MK(tf, da_take(ff, top, 0, &tf));
  MK(ts, da_take(sf, top, 0, &ts));
  MK(tm, da_take(mf, top, 0, &tm));
  TRYAPP(fetch_i64(app, top, r->site, r->nsites));
  TRYAPP(fetch_f64(app, tf, r->site_flat, r->nsites));
  TRYAPP(fetch_f64(app, ts, r->site_std, r->nsites));
  TRYAPP(fetch_f64(app, tm, r->site_mean, r->nsites));
  say(app, "step 7  candidate sites (blocks by flat fraction, ties to the lower std):");
  for (int64_t k = 0; k < r->nsites; k++) {
    int64_t bidx[2] = {r->site[k] / r->nb[1], r->site[k] % r->nb[1]}, off[2], shp[2];
    CK(da_array_block_offset(r->elev, bidx, off));
    CK(da_array_block_shape(r->elev, bidx, shp));
    char box[400], m[200];
    fmt_box(r, off[0], off[1], shp[0], shp[1], box, sizeof box);
    fmt_elev(r, r->site_mean[k], m, sizeof m);
    say(app, "        site %lld: block (%lld, %lld), flat %.6f, std %.6f %s, mean elevation %s",
        (long long)(k + 1), (long long)bidx[0], (long long)bidx[1], r->site_flat[k], r->site_std[k],
        r->unit, m);
    say(app, "                %s", box);
  }
  return 0;
}

/* ---------------------------------------------------------------- outputs */

typedef struct {
  char h5[4200], h5tmp[4200], zarr[4200], zarrtmp[4200], zarrold[4200];
} out_paths;

/* Rank 0 makes DIR and proves it writable, before any computing. */
static int prepare_outdir(topo_app *app, out_paths *p) {
  const char *dir = app->o.outdir;
  int rc = 0;
  if (app->rank == 0) {
    int e = mkdir_p(dir);
    if (e) {
      rc = app_error(app, "cannot create the output directory '%s': %s", dir, strerror(e));
    } else {
      char probe[4200];
      snprintf(probe, sizeof probe, "%s/.topo-probe-XXXXXX", dir);
      int fd = mkstemp(probe);
      if (fd < 0)
        rc =
            app_error(app, "cannot write into the output directory '%s': %s", dir, strerror(errno));
      else
        close(fd), unlink(probe);
    }
  }
  snprintf(p->h5, sizeof p->h5, "%s/topo.h5", dir);
  snprintf(p->h5tmp, sizeof p->h5tmp, "%s/.topo.h5.partial", dir);
  snprintf(p->zarr, sizeof p->zarr, "%s/topo.zarr", dir);
  snprintf(p->zarrtmp, sizeof p->zarrtmp, "%s/.topo.zarr.partial", dir);
  snprintf(p->zarrold, sizeof p->zarrold, "%s/.topo.zarr.old", dir);
  return rank0_says(app, rc);
}

typedef struct {
  const char *name, *units;
  da_array a;
} out_array;

/* The small per-block arrays in one block each, then the big maps. */
static int write_outputs(topo_app *app, topo_run *r, out_paths *p) {
  da_array bs, ff, zs, bm;
  MK(bs, da_rechunk(r->bstd, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &bs));
  MK(ff, da_rechunk(r->flat, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &ff));
  MK(bm, da_rechunk(r->bmean, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &bm));
  MK(zs, da_rechunk(r->zstd, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &zs));
  out_array arrs[] = {{"block_std", r->unit, bs},
                      {"block_mean", r->unit, bm},
                      {"flat_fraction", "1", ff},
                      {"zoom_std", r->unit, zs},
                      {r->in.rgba ? "elevation_ft" : "elevation_m", r->unit, r->elev},
                      {"slope_deg", "degrees", r->slope}};
  int narr = (int)(sizeof arrs / sizeof arrs[0]);
  char ds[64];
  if (app->o.h5) {
    double v[5] = {app->o.flat, r->in.sx_m, r->in.sy_m, (double)r->bidx[0], (double)r->bidx[1]};
    static const char *names[5] = {"flat_threshold_deg", "spacing_x_m", "spacing_y_m",
                                   "least_rugged_block_row", "least_rugged_block_col"};
    da_hdf5_attr at[7];
    for (int k = 0; k < narr; k++) {
      /* A new file first, then each map straight into it: no copies of a big file. */
      int na = 0;
      at[na++] = (da_hdf5_attr){.name = "units", .string = arrs[k].units};
      if (k == 0) {
        at[na++] = (da_hdf5_attr){.object = "/", .name = "input", .string = app->o.input};
        for (int q = 0; q < 5; q++)
          at[na++] =
              (da_hdf5_attr){.object = "/", .name = names[q], .dtype = DA_FLOAT64, .value = &v[q]};
      }
      da_hdf5_options ho = {
          .mode = k == 0 ? DA_HDF5_TRUNCATE : DA_HDF5_UPDATE_IN_PLACE, .attrs = at, .nattrs = na};
      snprintf(ds, sizeof ds, "/%s", arrs[k].name);
      int rc = da_to_hdf5(arrs[k].a, p->h5tmp, ds, &ho);
      if (rc) {
        if (app->rank == 0)
          unlink(p->h5tmp);
        return da_failed(app, rc);
      }
    }
    int rc = 0;
    if (app->rank == 0 && rename(p->h5tmp, p->h5) != 0) {
      rc = app_error(app, "cannot rename '%s' to '%s': %s", p->h5tmp, p->h5, strerror(errno));
      unlink(p->h5tmp);
    }
    TRYAPP(rank0_says(app, rc));
    say(app, "output  %s: /%s, /block_std, /block_mean, /flat_fraction, /zoom_std, /slope_deg",
        p->h5, arrs[4].name);
  }
  if (app->o.zarr) {
    /* A Zarr group: one array per sub-directory, staged whole and swapped in at the end. */
    int rc = 0;
    if (app->rank == 0) {
      rm_rf(p->zarrtmp);
      char zg[4300];
      snprintf(zg, sizeof zg, "%s/.zgroup", p->zarrtmp);
      int e =
          mkdir(p->zarrtmp, 0777) ? errno : write_text_file(zg, "{\n    \"zarr_format\": 2\n}\n");
      if (e)
        rc = app_error(app, "cannot create '%s': %s", p->zarrtmp, strerror(e));
    }
    TRYAPP(rank0_says(app, rc));
    char path[4400];
    for (int k = 0; k < narr; k++) {
      snprintf(path, sizeof path, "%s/%s", p->zarrtmp, arrs[k].name);
      int zrc = da_to_zarr(arrs[k].a, path, NULL);
      if (zrc) {
        if (app->rank == 0)
          rm_rf(p->zarrtmp);
        return da_failed(app, zrc);
      }
      if (app->rank == 0) {
        char za[4500], text[200];
        snprintf(za, sizeof za, "%s/.zattrs", path);
        snprintf(text, sizeof text, "{\n    \"units\": \"%s\"\n}\n", arrs[k].units);
        int e = write_text_file(za, text);
        if (e && !rc)
          rc = app_error(app, "cannot write '%s': %s", za, strerror(e));
      }
    }
    if (app->rank == 0 && !rc) {
      struct stat st;
      int had = lstat(p->zarr, &st) == 0;
      rm_rf(p->zarrold);
      if (had && rename(p->zarr, p->zarrold) != 0)
        rc = app_error(app, "cannot move the old '%s' aside: %s", p->zarr, strerror(errno));
      else if (rename(p->zarrtmp, p->zarr) != 0)
        rc = app_error(app, "cannot rename '%s' to '%s': %s", p->zarrtmp, p->zarr, strerror(errno));
      else
        rm_rf(p->zarrold);
    }
    if (app->rank == 0 && rc)
      rm_rf(p->zarrtmp);
    TRYAPP(rank0_says(app, rc));
    say(app, "output  %s: the same arrays, a Zarr group", p->zarr);
  }
  return 0;
}

/* A strided view of x at most PNG_MAX_SIDE a side. */
static int downsample(topo_app *app, da_array x, da_array *out) {
  const int64_t *s = da_array_shape(x);
  int64_t m = s[0] > s[1] ? s[0] : s[1], st = (m + PNG_MAX_SIDE - 1) / PNG_MAX_SIDE;
  if (st <= 1) {
    *out = x;
    return 0;
  }
  MK(*out,
     da_getitem(x, DA_INDEX(DA_SLICE(DA_NONE, DA_NONE, st), DA_SLICE(DA_NONE, DA_NONE, st)), out));
  return 0;
}

/* The per-block std map, each block k x k pixels, the chosen block framed in black and the
 * map's top colour (values above hi clip to it). */
static int std_picture(topo_app *app, topo_run *r, const char *path) {
  int64_t nbm = r->nb[0] > r->nb[1] ? r->nb[0] : r->nb[1];
  int64_t k = nbm >= 512 ? 1 : 512 / nbm > 64 ? 64 : 512 / nbm;
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < r->nb[0] * r->nb[1]; i++)
    lo = r->bstd_v[i] < lo ? r->bstd_v[i] : lo, hi = r->bstd_v[i] > hi ? r->bstd_v[i] : hi;
  if (!(hi > lo))
    hi = lo + 1;
  /* One block: the repeated-index getitems below keep their input's chunks per index. */
  da_array whole, up, t, m1, m2, m3, keep, pic;
  MK(whole, da_rechunk(r->bstd, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &whole));
  up = whole;
  if (k > 1) {
    int64_t *rows = malloc((size_t)(r->nb[0] * k) * sizeof *rows);
    int64_t *cols = malloc((size_t)(r->nb[1] * k) * sizeof *cols);
    if (!rows || !cols) {
      free(rows), free(cols);
      return app_error(app, "out of memory");
    }
    for (int64_t i = 0; i < r->nb[0] * k; i++)
      rows[i] = i / k;
    for (int64_t j = 0; j < r->nb[1] * k; j++)
      cols[j] = j / k;
    int rc = da_getitem(whole, DA_INDEX(DA_LIST(rows, r->nb[0] * k), DA_ALL), &t);
    if (!rc && !(rc = pool_add(app, t) ? DA_ERR_NOMEM : 0))
      rc = da_getitem(t, DA_INDEX(DA_ALL, DA_LIST(cols, r->nb[1] * k)), &up);
    free(rows), free(cols);
    if (rc)
      return da_failed(app, rc);
    if (pool_add(app, up))
      return app_error(app, "out of memory");
    da_array cut = up;
    MK(up, da_rechunk(cut, DA_CHUNKS(DA_CHUNK_WHOLE, DA_CHUNK_WHOLE), &up));
  }
  /* A frame of width f: black (NaN) outside, the top colour inside it. */
  int64_t r0 = r->bidx[0] * k, c0 = r->bidx[1] * k, f = k >= 16 ? k / 16 : 1;
  MK(m1, da_setitem(up, DA_INDEX(DA_SLICE(r0, r0 + k, 1), DA_SLICE(c0, c0 + k, 1)),
                    da_value_float(NAN), &m1));
  pic = m1;
  if (k > 2 * f) {
    MK(m2,
       da_setitem(m1, DA_INDEX(DA_SLICE(r0 + f, r0 + k - f, 1), DA_SLICE(c0 + f, c0 + k - f, 1)),
                  da_value_float(hi + (hi - lo) + 1.0), &m2));
    pic = m2;
  }
  if (k > 4 * f) {
    int64_t a = 2 * f;
    MK(keep,
       da_getitem(up, DA_INDEX(DA_SLICE(r0 + a, r0 + k - a, 1), DA_SLICE(c0 + a, c0 + k - a, 1)),
                  &keep));
    MK(m3,
       da_setitem(m2, DA_INDEX(DA_SLICE(r0 + a, r0 + k - a, 1), DA_SLICE(c0 + a, c0 + k - a, 1)),
                  DA_V(keep), &m3));
    pic = m3;
  }
  da_array small;
  TRYAPP(downsample(app, pic, &small));
  CK(da_to_png(small, path, DA_CMAP_VIRIDIS, lo, hi));
  return 0;
}

static int pictures(topo_app *app, topo_run *r) {
  char path[4200];
  da_array e, s;
  TRYAPP(downsample(app, r->elev, &e));
  snprintf(path, sizeof path, "%s/elevation.png", app->o.outdir);
  CK(da_to_png(e, path, DA_CMAP_TERRAIN, r->emin, r->emax));
  snprintf(path, sizeof path, "%s/block_std.png", app->o.outdir);
  TRYAPP(std_picture(app, r, path));
  TRYAPP(downsample(app, r->slope, &s));
  snprintf(path, sizeof path, "%s/slope.png", app->o.outdir);
  CK(da_to_png(s, path, DA_CMAP_MAGMA, r->smin, r->smax > r->smin ? r->smax : r->smin + 1));
  say(app,
      "output  %s/elevation.png (terrain), block_std.png (viridis, chosen block framed), "
      "slope.png (magma)",
      app->o.outdir);
  return 0;
}

/* ---------------------------------------------------------------- --check */

static int close_enough(double a, double b) {
  return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)) || (isnan(a) && isnan(b));
}

/* One block of the whole map z (w columns) copied out in C order. */
static void copy_box(const double *z, int64_t w, int64_t r0, int64_t c0, int64_t h, int64_t bw,
                     double *out) {
  for (int64_t i = 0; i < h; i++)
    memcpy(out + i * bw, z + (r0 + i) * w + c0, (size_t)bw * sizeof *out);
}

/* Rank 0 recomputes every reported number serially from the gathered map. */
static int64_t serial_check(topo_app *app, const topo_run *r, const double *z) {
  int64_t h = r->in.h, w = r->in.w, bad = 0, c = r->in.chunk;
#define MISMATCH(...)                                                                              \
  do {                                                                                             \
    if (bad++ < 20)                                                                                \
      say(app, "check: MISMATCH " __VA_ARGS__);                                                    \
  } while (0)
  double mn = z[0], mx = z[0];
  for (int64_t i = 1; i < h * w; i++)
    mn = z[i] < mn ? z[i] : mn, mx = z[i] > mx ? z[i] : mx;
  if (mn != r->emin || mx != r->emax)
    MISMATCH("min/max: darray %.17g/%.17g, serial %.17g/%.17g", r->emin, r->emax, mn, mx);

  double *buf = malloc((size_t)(c * c) * sizeof *buf);
  double *slope = malloc((size_t)(h * w) * sizeof *slope);
  int64_t nbt = r->nb[0] * r->nb[1];
  double *sstd = malloc((size_t)nbt * sizeof *sstd), *sflat = malloc((size_t)nbt * sizeof *sflat);
  int64_t *amb = calloc((size_t)nbt, sizeof *amb);
  if (!buf || !slope || !sstd || !sflat || !amb) {
    free(buf), free(slope), free(sstd), free(sflat), free(amb);
    say(app, "check: out of memory");
    return 1;
  }
  int64_t best = 0;
  for (int64_t bi = 0; bi < r->nb[0]; bi++)
    for (int64_t bj = 0; bj < r->nb[1]; bj++) {
      int64_t r0 = bi * c, c0 = bj * c, bh = h - r0 < c ? h - r0 : c, bw = w - c0 < c ? w - c0 : c;
      copy_box(z, w, r0, c0, bh, bw, buf);
      int64_t b = bi * r->nb[1] + bj;
      sstd[b] = block_stat(buf, bh * bw, &spec_std);
      if (!close_enough(sstd[b], r->bstd_v[b]))
        MISMATCH("std of block (%lld, %lld): darray %.17g, serial %.17g", (long long)bi,
                 (long long)bj, r->bstd_v[b], sstd[b]);
      if (sstd[b] < sstd[best])
        best = b;
    }
  if (best != r->best)
    MISMATCH("least-rugged block: darray %lld, serial %lld", (long long)r->best, (long long)best);

  /* Zoom areas of the chosen block. */
  int64_t zr = r->boff[0];
  for (int64_t i = 0; i < r->zparts[0]; i++) {
    int64_t zc = r->boff[1];
    for (int64_t j = 0; j < r->zparts[1]; j++) {
      copy_box(z, w, zr, zc, r->zlen[0][i], r->zlen[1][j], buf);
      double s = block_stat(buf, r->zlen[0][i] * r->zlen[1][j], &spec_std);
      if (!close_enough(s, r->zstd_v[i * r->zparts[1] + j]))
        MISMATCH("std of zoom area (%lld, %lld): darray %.17g, serial %.17g", (long long)i,
                 (long long)j, r->zstd_v[i * r->zparts[1] + j], s);
      zc += r->zlen[1][j];
    }
    zr += r->zlen[0][i];
  }

  /* Slope: NumPy's gradient (central, one-sided at the edges) along both axes. */
  double smin = INFINITY, smax = -INFINITY, ssum = 0, fl = app->o.flat;
  int64_t nflat = 0, nambig = 0;
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++) {
      const double *p = z + i * w + j;
      double gy = i == 0 ? p[w] - p[0] : i == h - 1 ? p[0] - p[-w] : (p[w] - p[-w]) * 0.5;
      double gx = j == 0 ? p[1] - p[0] : j == w - 1 ? p[0] - p[-1] : (p[1] - p[-1]) * 0.5;
      double sy = gy * r->zscale / r->in.sy_m, sx = gx * r->zscale / r->in.sx_m;
      double s = atan(hypot(sx, sy)) * (180.0 / M_PI);
      slope[i * w + j] = s;
      smin = s < smin ? s : smin, smax = s > smax ? s : smax;
      ssum += s;
      nflat += s < fl;
      /* Within rounding of the threshold, darray's arctan may fall on the other side. */
      if (fabs(s - fl) <= 1e-9 * fmax(1.0, fl))
        nambig++, amb[(i / c) * r->nb[1] + j / c]++;
    }
  if (!close_enough(smin, r->smin) || !close_enough(smax, r->smax) ||
      fabs(ssum / (double)(h * w) - r->smean) > 1e-9 * fmax(1.0, fabs(r->smean)))
    MISMATCH("slope min/mean/max: darray %.17g/%.17g/%.17g, serial %.17g/%.17g/%.17g", r->smin,
             r->smean, r->smax, smin, ssum / (double)(h * w), smax);
  if (fabs(r->flat_all * (double)(h * w) - (double)nflat) > (double)nambig + 0.5)
    MISMATCH("flat fraction of the map: darray %.17g, serial %.17g", r->flat_all,
             (double)nflat / (double)(h * w));
  for (int64_t bi = 0; bi < r->nb[0]; bi++)
    for (int64_t bj = 0; bj < r->nb[1]; bj++) {
      int64_t r0 = bi * c, c0 = bj * c, bh = h - r0 < c ? h - r0 : c, bw = w - c0 < c ? w - c0 : c;
      copy_box(slope, w, r0, c0, bh, bw, buf);
      int64_t b = bi * r->nb[1] + bj;
      sflat[b] = block_stat(buf, bh * bw, &spec_flat);
      if (fabs(sflat[b] - r->bflat_v[b]) * (double)(bh * bw) > (double)amb[b] + 0.5)
        MISMATCH("flat fraction of block (%lld, %lld): darray %.17g, serial %.17g", (long long)bi,
                 (long long)bj, r->bflat_v[b], sflat[b]);
    }
  /* Sites: flat fraction descending, std ascending, block index ascending. */
  int64_t taken[NSITES];
  for (int64_t k = 0; k < r->nsites; k++) {
    int64_t pick = -1;
    for (int64_t b = 0; b < nbt; b++) {
      int used = 0;
      for (int64_t q = 0; q < k; q++)
        used |= taken[q] == b;
      if (used)
        continue;
      if (pick < 0 || r->bflat_v[b] > r->bflat_v[pick] ||
          (r->bflat_v[b] == r->bflat_v[pick] && r->bstd_v[b] < r->bstd_v[pick]))
        pick = b;
    }
    taken[k] = pick;
    if (pick != r->site[k])
      MISMATCH("site %lld: darray block %lld, serial %lld", (long long)(k + 1),
               (long long)r->site[k], (long long)pick);
  }
  free(buf), free(slope), free(sstd), free(sflat), free(amb);
  if (!bad)
    say(app,
        "check: OK (min/max, %lld block stds, least-rugged block, %lld zoom stds, slope, "
        "flat fractions and sites recomputed serially)",
        (long long)nbt, (long long)(r->zparts[0] * r->zparts[1]));
  return bad;
#undef MISMATCH
}

static int run_check(topo_app *app, topo_run *r) {
  size_t bytes = (size_t)(r->in.h * r->in.w) * sizeof(double);
  double *z = NULL;
  int rc = 0;
  if (app->rank == 0 && !(z = malloc(bytes)))
    rc = app_error(app, "--check: rank 0 cannot hold the map (%zu bytes)", bytes);
  if (rank0_says(app, rc)) {
    free(z);
    return 1;
  }
  rc = da_compute(r->elev, 0, z, bytes);
  if (rc) {
    free(z);
    return da_failed(app, rc);
  }
  int64_t bad = app->rank == 0 ? serial_check(app, r, z) : 0;
  free(z);
  if (bad)
    app_error(app, "--check: %lld mismatches between darray and the serial recomputation",
              (long long)bad);
  return rank0_says(app, bad ? 1 : 0);
}

/* ---------------------------------------------------------------- main */

static int analyse(topo_app *app) {
  out_paths paths;
  topo_run *r = calloc(1, sizeof *r);
  if (!r)
    return app_error(app, "out of memory");
  int rc = prepare_outdir(app, &paths);
  if (!rc)
    rc = da_ctx_set_progress(app->ctx, app->o.progress) ? da_failed(app, 1) : 0;
  if (!rc && app->o.trace)
    rc = da_ctx_trace_start(app->ctx) ? da_failed(app, 1) : 0;
  double t0 = MPI_Wtime();
  if (!rc)
    rc = load_input(app, &r->in, &r->raw);
  if (!rc) {
    const topo_input *t = &r->in;
    say(app, "darray-topo on %d ranks: input %s", app->size, app->o.input);
    say(app, "        %lld x %lld %s, chunks %lld x %lld", (long long)t->h, (long long)t->w,
        t->rgba ? "RGBA uint8 tiles (H, W, 4)" : "elevations in metres", (long long)t->chunk,
        (long long)t->chunk);
    if (t->geo)
      say(app,
          "        DEM: west %.5f, north %.5f, dx %.10g deg, dy %.10g deg (%.4f m x %.4f m at "
          "latitude %.4f)",
          t->lon0, t->lat0, t->dx_deg, t->dy_deg, t->sx_m, t->sy_m, t->lat_mid);
    rc = decode(app, r);
  }
  /* Build every step's graph first (so --dot sees it whole), then persist what fits. */
  if (!rc)
    rc = per_block(app, r->elev, &spec_std, &r->bstd);
  if (!rc)
    rc = per_block(app, r->elev, &spec_mean, &r->bmean);
  if (!rc)
    rc = build_slope(app, r);
  if (!rc && app->o.dot && app->rank == 0 && da_array_dot(r->flat, app->o.dot))
    rc = app_error(app, "cannot write the graph to '%s': %s", app->o.dot, da_ctx_errmsg(app->ctx));
  if (app->o.dot)
    rc = rank0_says(app, rc);
  if (!rc)
    rc = keep_elevation(app, r);
  if (!rc)
    rc = rugged(app, r);
  if (!rc)
    rc = zoom(app, r);
  if (!rc)
    rc = keep_slope(app, r);
  if (!rc)
    rc = sites(app, r);
  if (!rc)
    rc = write_outputs(app, r, &paths);
  if (!rc)
    rc = pictures(app, r);
  if (!rc && app->o.check)
    rc = run_check(app, r);
  if (!rc)
    say(app, "done in %.3f s on %d ranks", MPI_Wtime() - t0, app->size);
  if (!rc && app->o.trace) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = app->rank == 0 ? open_memstream(&text, &len) : NULL;
    if (da_ctx_trace_stop(app->ctx, app->o.trace, mem))
      rc = da_failed(app, 1);
    if (mem) {
      fclose(mem);
      if (text && len) {
        text[len - (text[len - 1] == '\n')] = '\0';
        say(app, "trace   %s\n%s", app->o.trace, text);
      }
      free(text);
    }
  }
  if (!rc) {
    int e = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/report.txt", app->o.outdir);
    if (app->rank == 0 && (e = write_text_atomic(path, app->rep ? app->rep : "")))
      app_error(app, "cannot write '%s': %s", path, strerror(e));
    rc = rank0_says(app, e ? 1 : 0);
  }
  MPI_Barrier(MPI_COMM_WORLD); /* every rank has read the scratch maps */
  for (int k = 0; k < 2 && app->rank == 0; k++)
    if (r->scratch[k][0])
      unlink(r->scratch[k]);
  free(r->bstd_v), free(r->bflat_v), free(r->zstd_v), free(r);
  return rc;
}

/* --make-terrain N --output PATH: the synthetic RGBA terrain written to .zarr or .h5. */
static int write_terrain(topo_app *app) {
  const char *path = app->o.outdir;
  size_t len = strlen(path);
  int zarr = len > 5 && strcmp(path + len - 5, ".zarr") == 0;
  int h5 = (len > 3 && strcmp(path + len - 3, ".h5") == 0) ||
           (len > 5 && strcmp(path + len - 5, ".hdf5") == 0);
  if (!zarr && !h5)
    return app_error(app, "--make-terrain: --output '%s' must end in .zarr or .h5", path);
  int64_t n = app->o.make_terrain, c = app->o.chunks > 0 ? app->o.chunks : (n < 200 ? n : 200);
  if (c > n)
    return app_error(app, "--chunks %lld is larger than the %lld x %lld terrain", (long long)c,
                     (long long)n, (long long)n);
  da_array t;
  TRYAPP(make_terrain(app, n, c, &t));
  if (zarr)
    CK(da_to_zarr(t, path, NULL));
  else
    CK(da_to_hdf5(t, path, "/land", &(da_hdf5_options){.mode = DA_HDF5_TRUNCATE}));
  say(app, "wrote a %lld x %lld x 4 uint8 terrain in %lld x %lld x 4 tiles to %s%s", (long long)n,
      (long long)n, (long long)c, (long long)c, path, zarr ? "" : " (dataset /land)");
  return 0;
}

static int parse_number(topo_app *app, const char *opt, const char *text, double lo, double hi,
                        double *v) {
  char *end;
  errno = 0;
  *v = text ? strtod(text, &end) : 0;
  if (!text || errno || end == text || *end || !(*v >= lo && *v <= hi))
    return app_error(app, "%s needs a number from %g to %g, not '%s'", opt, lo, hi,
                     text ? text : "");
  return 0;
}

static int parse_args(topo_app *app, int argc, char **argv) {
  topo_opts *o = &app->o;
  *o = (topo_opts){.input = "dem", .outdir = NULL, .h5 = 1, .flat = 5.0, .progress = 1};
  double v;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
      return app_error(app, "help");
    if (strcmp(a, "--check") == 0) {
      o->check = 1;
      continue;
    }
    if (strcmp(a, "--no-progress") == 0) {
      o->progress = 0;
      continue;
    }
    if (!val)
      return app_error(app, "unknown option or missing value: '%s'", a);
    i++;
    if (strcmp(a, "--input") == 0)
      o->input = val;
    else if (strcmp(a, "--output") == 0)
      o->outdir = val;
    else if (strcmp(a, "--trace") == 0)
      o->trace = val;
    else if (strcmp(a, "--dot") == 0)
      o->dot = val;
    else if (strcmp(a, "--chunks") == 0) {
      TRYAPP(parse_number(app, a, val, 1, 1e9, &v));
      if (v != floor(v))
        return app_error(app, "--chunks needs a whole number, not '%s'", val);
      o->chunks = (int64_t)v;
    } else if (strcmp(a, "--make-terrain") == 0) {
      TRYAPP(parse_number(app, a, val, 2, 1e7, &v));
      if (v != floor(v))
        return app_error(app, "--make-terrain needs a whole number, not '%s'", val);
      o->make_terrain = (int64_t)v;
    } else if (strcmp(a, "--flat") == 0) {
      TRYAPP(parse_number(app, a, val, 0, 90, &o->flat));
    } else if (strcmp(a, "--spacing") == 0) {
      TRYAPP(parse_number(app, a, val, 1e-9, 1e9, &o->spacing));
    } else if (strcmp(a, "--format") == 0) {
      o->h5 = strcmp(val, "hdf5") == 0 || strcmp(val, "both") == 0;
      o->zarr = strcmp(val, "zarr") == 0 || strcmp(val, "both") == 0;
      if (!o->h5 && !o->zarr)
        return app_error(app, "--format must be hdf5, zarr or both, not '%s'", val);
    } else {
      return app_error(app, "unknown option '%s'", a);
    }
  }
  if (o->make_terrain && !o->outdir)
    return app_error(app, "--make-terrain needs --output PATH (.zarr or .h5)");
  if (!o->outdir)
    o->outdir = "topo-out";
  if (!o->outdir[0])
    return app_error(app, "--output is empty");
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  topo_app app = {0};
  MPI_Comm_rank(MPI_COMM_WORLD, &app.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &app.size);
  int rc = parse_args(&app, argc, argv);
  if (rc) {
    if (app.rank == 0) {
      if (strcmp(app.msg, "help") != 0)
        fprintf(stderr, "darray-topo: %s\n", app.msg);
      fputs(usage_text, stderr);
    }
    MPI_Finalize();
    return strcmp(app.msg, "help") == 0 ? 0 : 1;
  }
  int drc = da_ctx_create(MPI_COMM_WORLD, &app.ctx);
  if (drc) {
    if (app.rank == 0)
      fprintf(stderr, "darray-topo: cannot create a context: %s\n", da_strerror(drc));
    MPI_Finalize();
    return 1;
  }
  rc = app.o.make_terrain ? write_terrain(&app) : analyse(&app);
  if (rc && app.rank == 0)
    fprintf(stderr, "darray-topo: error: %s\n", app.msg);
  for (int k = app.npool - 1; k >= 0; k--)
    da_array_destroy(&app.pool[k]);
  free(app.pool);
  free(app.rep);
  da_ctx_destroy(&app.ctx);
  MPI_Finalize();
  return rc ? 1 : 0;
}
