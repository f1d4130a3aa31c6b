/* PNG pictures of 2-D arrays (libpng): the array is gathered to rank 0, mapped through a
 * small colour table and written into a temporary file renamed over the target. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod, fdopen */
#include "core/internal.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- colour maps */

/* A colour map: n stops at increasing positions 0 .. 1, colours in 0 .. 255, linear between. */
typedef struct {
  int n;
  const double (*stop)[4]; /* position, r, g, b */
} cmap_table;

static const double gray_stops[][4] = {{0, 0, 0, 0}, {1, 255, 255, 255}};
/* matplotlib's "terrain" (a segmented map of six stops). */
static const double terrain_stops[][4] = {{0.00, 51, 51, 153}, {0.15, 0, 153, 255},
                                          {0.25, 0, 204, 102}, {0.50, 255, 255, 153},
                                          {0.75, 128, 92, 84}, {1.00, 255, 255, 255}};
/* matplotlib's "viridis" and "magma" sampled at nine evenly spaced points. */
static const double viridis_stops[][4] = {
    {0.000, 68, 1, 84},    {0.125, 71, 44, 122},  {0.250, 59, 82, 139},
    {0.375, 44, 114, 142}, {0.500, 33, 145, 140}, {0.625, 40, 174, 128},
    {0.750, 94, 201, 98},  {0.875, 173, 220, 48}, {1.000, 253, 231, 37}};
static const double magma_stops[][4] = {
    {0.000, 0, 0, 4},      {0.125, 28, 16, 68},    {0.250, 79, 18, 123},
    {0.375, 129, 37, 129}, {0.500, 181, 54, 122},  {0.625, 229, 80, 100},
    {0.750, 251, 135, 97}, {0.875, 254, 194, 135}, {1.000, 252, 253, 191}};

static const cmap_table cmaps[] = {
    [DA_CMAP_GRAY] = {2, gray_stops},
    [DA_CMAP_TERRAIN] = {6, terrain_stops},
    [DA_CMAP_VIRIDIS] = {9, viridis_stops},
    [DA_CMAP_MAGMA] = {9, magma_stops},
};

/* The colour of v: t = (v - lo) / (hi - lo) clipped to [0, 1] (0 when hi == lo), found
 * between the two stops around it, each channel rounded to the nearest byte; NaN is black. */
static void cmap_pixel(const cmap_table *c, double v, double lo, double hi, png_byte rgb[3]) {
  if (isnan(v)) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    return;
  }
  double t = hi > lo ? (v - lo) / (hi - lo) : 0.0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  int i = 0;
  while (i < c->n - 2 && t > c->stop[i + 1][0])
    i++;
  double w = (t - c->stop[i][0]) / (c->stop[i + 1][0] - c->stop[i][0]);
  for (int k = 0; k < 3; k++) {
    double a = c->stop[i][k + 1], b = c->stop[i + 1][k + 1];
    rgb[k] = (png_byte)(a + w * (b - a) + 0.5);
  }
}

/* ---------------------------------------------------------------- writing */

typedef struct {
  da_ctx ctx;
  char msg[200];
} png_failure;

static void png_on_error(png_structp png, png_const_charp msg) {
  png_failure *f = png_get_error_ptr(png);
  snprintf(f->msg, sizeof f->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
  (void)png, (void)msg;
}

/* Rank 0: rows x cols values as an 8-bit RGB PNG into the open file fp. */
static int picture_write_rows(da_ctx ctx, FILE *fp, const char *tmp, const double *v, int64_t rows,
                              int64_t cols, const cmap_table *c, double lo, double hi) {
  png_failure fail = {ctx, ""};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &fail, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_byte *row = malloc((size_t)cols * 3);
  if (!png || !info || !row) {
    png_destroy_write_struct(&png, &info);
    free(row);
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a PNG writer of %lld columns",
                  (long long)cols);
  }
  /* Set before setjmp and never changed after, so the longjmp leaves them valid. */
  png_byte *volatile row_v = row;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(row_v);
    return DA_ERR(ctx, DA_ERR_IO, "cannot write the PNG file '%s': %s", tmp, fail.msg);
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, (png_uint_32)cols, (png_uint_32)rows, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t i = 0; i < rows; i++) {
    const double *src = v + i * cols;
    for (int64_t j = 0; j < cols; j++)
      cmap_pixel(c, src[j], lo, hi, row_v + 3 * j);
    png_write_row(png, row_v);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  free(row_v);
  return DA_OK;
}

/* Rank 0: the picture into path.da-tmp-XXXXXX (the umask's mode), renamed over path. */
static int picture_write_file(da_ctx ctx, const char *path, const double *v, int64_t rows,
                              int64_t cols, const cmap_table *c, double lo, double hi) {
  size_t len = strlen(path) + 16;
  char *tmp = da_malloc(ctx, len);
  if (!tmp)
    return DA_ERR_NOMEM;
  snprintf(tmp, len, "%s.da-tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = DA_ERR(ctx, DA_ERR_IO, "cannot create a file next to '%s': %s", path, strerror(errno));
    free(tmp);
    return rc;
  }
  mode_t mask = umask(0);
  umask(mask);
  int rc = DA_OK;
  if (fchmod(fd, 0666 & ~mask) != 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot set the mode of '%s': %s", tmp, strerror(errno));
  FILE *fp = rc ? NULL : fdopen(fd, "wb");
  if (!rc && !fp)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", tmp, strerror(errno));
  if (!rc)
    rc = picture_write_rows(ctx, fp, tmp, v, rows, cols, c, lo, hi);
  if (fp) {
    if (fclose(fp) != 0 && !rc)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  } else {
    close(fd);
  }
  if (!rc && rename(tmp, path) != 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  if (rc)
    unlink(tmp);
  free(tmp);
  return rc;
}

int da_to_png(da_array x, const char *path, da_colormap cmap, double lo, double hi) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  int rc = DA_OK;
  if (!path || !path[0])
    rc = DA_ERR(ctx, DA_ERR_ARG, "to_png: path is NULL or empty");
  else if ((int)cmap < (int)DA_CMAP_GRAY || (int)cmap > (int)DA_CMAP_MAGMA)
    rc = DA_ERR(ctx, DA_ERR_ARG, "to_png: colour map %d is not a da_colormap", (int)cmap);
  else if (x->ndim != 2)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "to_png: the array is %d-d; a picture needs a 2-d array",
                x->ndim);
  else if (x->shape[0] < 1 || x->shape[1] < 1 || x->shape[0] > INT32_MAX ||
           x->shape[1] > INT32_MAX / 3)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "to_png: a %lld x %lld picture cannot be a PNG file",
                (long long)x->shape[0], (long long)x->shape[1]);
  else if (isnan(lo) || isnan(hi) || lo > hi)
    rc = DA_ERR(ctx, DA_ERR_ARG, "to_png: the value range [%g, %g] is not lo <= hi", lo, hi);
  DA_TRY(da_agree(ctx, rc));

  da_array f = NULL;
  if (x->dtype == DA_FLOAT64)
    rc = da_array_ref(x, &f);
  else
    rc = da_astype(x, DA_FLOAT64, &f);
  DA_TRY(da_agree(ctx, rc));
  int64_t rows = x->shape[0], cols = x->shape[1];
  size_t bytes = (size_t)rows * (size_t)cols * sizeof(double);
  double *v = NULL;
  if (ctx->rank == 0 && !(v = da_malloc(ctx, bytes)))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "to_png: rank 0 cannot hold the %lld x %lld array (%zu bytes)",
                (long long)rows, (long long)cols, bytes);
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = da_compute(f, 0, v, bytes);
  da_array_destroy(&f);
  if (!rc && ctx->rank == 0) {
    if (lo == hi) { /* the finite values' own range */
      double mn = INFINITY, mx = -INFINITY;
      for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
        if (isfinite(v[i])) {
          mn = v[i] < mn ? v[i] : mn;
          mx = v[i] > mx ? v[i] : mx;
        }
      lo = mn <= mx ? mn : 0.0;
      hi = mn <= mx ? mx : 0.0;
    }
    rc = picture_write_file(ctx, path, v, rows, cols, &cmaps[cmap], lo, hi);
  }
  free(v);
  return da_agree(ctx, rc);
}
