/* PNG pictures (da_to_png): small arrays of several dtypes and uneven chunks through each
 * colour map, decoded with libpng and compared pixel by pixel with the colour map computed
 * here; matplotlib's end colours; NaN black; and bad input failing on every rank with no file. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <unistd.h>

static tu_rng rng;
static da_ctx ctx;
static char dir[64];

/* The colour maps as the header documents them: stops (position, r, g, b), linear between. */
static const double gray[][4] = {{0, 0, 0, 0}, {1, 255, 255, 255}};
static const double terrain[][4] = {{0.00, 51, 51, 153}, {0.15, 0, 153, 255},
                                    {0.25, 0, 204, 102}, {0.50, 255, 255, 153},
                                    {0.75, 128, 92, 84}, {1.00, 255, 255, 255}};
static const double viridis[][4] = {
    {0.000, 68, 1, 84},    {0.125, 71, 44, 122},  {0.250, 59, 82, 139},
    {0.375, 44, 114, 142}, {0.500, 33, 145, 140}, {0.625, 40, 174, 128},
    {0.750, 94, 201, 98},  {0.875, 173, 220, 48}, {1.000, 253, 231, 37}};
static const double magma[][4] = {
    {0.000, 0, 0, 4},      {0.125, 28, 16, 68},    {0.250, 79, 18, 123},
    {0.375, 129, 37, 129}, {0.500, 181, 54, 122},  {0.625, 229, 80, 100},
    {0.750, 251, 135, 97}, {0.875, 254, 194, 135}, {1.000, 252, 253, 191}};
static const struct {
  int n;
  const double (*s)[4];
} maps[] = {{2, gray}, {6, terrain}, {9, viridis}, {9, magma}};

static void want_pixel(da_colormap cm, double v, double lo, double hi, unsigned char rgb[3]) {
  if (isnan(v)) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    return;
  }
  double t = hi > lo ? (v - lo) / (hi - lo) : 0.0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const double(*s)[4] = maps[cm].s;
  int i = 0;
  while (i < maps[cm].n - 2 && t > s[i + 1][0])
    i++;
  double w = (t - s[i][0]) / (s[i + 1][0] - s[i][0]);
  for (int k = 0; k < 3; k++)
    rgb[k] = (unsigned char)(s[i][k + 1] + w * (s[i + 1][k + 1] - s[i][k + 1]) + 0.5);
}

static const char *file_in(const char *name) {
  static char buf[160];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

/* Rank 0: the picture decoded to RGB bytes (NULL when it is not an 8-bit RGB PNG). */
static unsigned char *decode(const char *path, int64_t *rows, int64_t *cols) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&im, path))
    return NULL;
  if (im.format != PNG_FORMAT_RGB) {
    png_image_free(&im);
    return NULL;
  }
  unsigned char *buf = tu_malloc(PNG_IMAGE_SIZE(im));
  if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
    free(buf);
    return NULL;
  }
  *rows = im.height, *cols = im.width;
  return buf;
}

/* Leftover temporary files in dir (there must be none). */
static int leftovers(void) {
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += strstr(e->d_name, ".da-tmp-") != NULL;
  if (d)
    closedir(d);
  return n;
}

/* One random array through one colour map: every pixel as computed here. */
static void check_picture(int trial) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT16, DA_UINT8};
  da_dtype dt = dts[tu_int(&rng, 0, 3)];
  int64_t shape[2] = {tu_int(&rng, 1, 37), tu_int(&rng, 1, 41)};
  tu_chunking ck;
  tu_random_chunks(&rng, 2, shape, 12, &ck);
  da_colormap cm = (da_colormap)tu_int(&rng, 0, 3);
  int64_t n = shape[0] * shape[1];
  double *v = tu_malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    v[i] = dt == DA_UINT8 ? (double)tu_int(&rng, 0, 255) : (double)tu_int(&rng, -300, 300);
    if (dt == DA_FLOAT64 || dt == DA_FLOAT32)
      v[i] = v[i] * 0.37 + (tu_chance(&rng, 0.05) ? NAN : 0.0);
  }
  /* Explicit ranges (values outside clip) or the array's own (lo == hi). */
  double lo = 0, hi = 0;
  if (tu_chance(&rng, 0.5))
    lo = (double)tu_int(&rng, -100, 0), hi = lo + (double)tu_int(&rng, 0, 150);
  da_array f, x;
  TU_OK(ctx, da_from_root(ctx, 0, 2, shape, &ck.c, DA_FLOAT64, v, (size_t)n * sizeof *v, &f));
  TU_OK(ctx, da_astype(f, dt, &x));
  const char *path = file_in("pic.png");
  TU_OK(ctx, da_to_png(x, path, cm, lo, hi));
  double *w = tu_malloc((size_t)n * sizeof *w); /* the values as stored in dt */
  da_array back;
  TU_OK(ctx, da_astype(x, DA_FLOAT64, &back));
  TU_OK(ctx, da_compute(back, 0, w, (size_t)n * sizeof *w));
  da_array_destroy(&back);
  if (da_ctx_rank(ctx) == 0) {
    if (lo == hi) {
      double mn = INFINITY, mx = -INFINITY;
      for (int64_t i = 0; i < n; i++)
        if (isfinite(w[i]))
          mn = fmin(mn, w[i]), mx = fmax(mx, w[i]);
      lo = mn <= mx ? mn : 0, hi = mn <= mx ? mx : 0;
    }
    int64_t rows = -1, cols = -1;
    unsigned char *px = decode(path, &rows, &cols);
    CHECKF(px && rows == shape[0] && cols == shape[1],
           "trial %d: %s is a %lld x %lld RGB picture, expected %lld x %lld", trial, path,
           (long long)rows, (long long)cols, (long long)shape[0], (long long)shape[1]);
    for (int64_t i = 0; px && rows == shape[0] && cols == shape[1] && i < n; i++) {
      unsigned char want[3];
      want_pixel(cm, w[i], lo, hi, want);
      if (!CHECKF(memcmp(px + 3 * i, want, 3) == 0,
                  "trial %d (cmap %d, %s): pixel (%lld, %lld) of value %g in [%g, %g] is "
                  "(%d, %d, %d), expected (%d, %d, %d)",
                  trial, (int)cm, da_dtype_name(dt), (long long)(i / cols), (long long)(i % cols),
                  w[i], lo, hi, px[3 * i], px[3 * i + 1], px[3 * i + 2], want[0], want[1], want[2]))
        break;
    }
    free(px);
  }
  free(w);
  da_array_destroy(&x);
  da_array_destroy(&f);
  free(v);
}

/* matplotlib's own end and middle colours, independent of the tables above. */
static void check_known_colours(void) {
  static const struct {
    da_colormap cm;
    double v;
    unsigned char rgb[3];
  } known[] = {{DA_CMAP_GRAY, 0, {0, 0, 0}},          {DA_CMAP_GRAY, 1, {255, 255, 255}},
               {DA_CMAP_GRAY, 0.5, {128, 128, 128}},  {DA_CMAP_TERRAIN, 0, {51, 51, 153}},
               {DA_CMAP_TERRAIN, 1, {255, 255, 255}}, {DA_CMAP_VIRIDIS, 0, {68, 1, 84}},
               {DA_CMAP_VIRIDIS, 1, {253, 231, 37}},  {DA_CMAP_VIRIDIS, 0.5, {33, 145, 140}},
               {DA_CMAP_MAGMA, 0, {0, 0, 4}},         {DA_CMAP_MAGMA, 1, {252, 253, 191}},
               {DA_CMAP_GRAY, NAN, {0, 0, 0}}};
  int nk = (int)(sizeof known / sizeof known[0]);
  for (int k = 0; k < nk; k++) {
    /* A 1 x 3 picture: lo, the value, hi, so the range is [0, 1]. */
    double v[3] = {0, known[k].v, 1};
    da_array a;
    TU_OK(ctx,
          da_from_root(ctx, 0, 2, (int64_t[]){1, 3}, DA_CHUNKS(1, 2), DA_FLOAT64, v, sizeof v, &a));
    TU_OK(ctx, da_to_png(a, file_in("known.png"), known[k].cm, 0, 0));
    da_array_destroy(&a);
    if (da_ctx_rank(ctx) == 0) {
      int64_t rows, cols;
      unsigned char *px = decode(file_in("known.png"), &rows, &cols);
      CHECKF(px && memcmp(px + 3, known[k].rgb, 3) == 0,
             "colour map %d at %g: (%d, %d, %d), expected (%d, %d, %d)", (int)known[k].cm,
             known[k].v, px ? px[3] : -1, px ? px[4] : -1, px ? px[5] : -1, known[k].rgb[0],
             known[k].rgb[1], known[k].rgb[2]);
      free(px);
    }
  }
}

/* A bad call: code on every rank, and no picture written. */
static void expect_error(const char *what, int rc, int code, const char *path) {
  int all = 0;
  MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  CHECKF(rc == code && all == code, "%s: returned %d (%s), expected %d on every rank", what, rc,
         da_strerror(rc), code);
  CHECKF(strlen(da_ctx_errmsg(ctx)) > 0, "%s: no message", what);
  if (path && da_ctx_rank(ctx) == 0)
    CHECKF(access(path, F_OK) != 0, "%s: %s was written", what, path);
}

static void check_errors(void) {
  da_array a3, a1, a2;
  TU_OK(ctx, da_ones(ctx, 3, (int64_t[]){4, 5, 3}, DA_CHUNKS(2, 2, 3), DA_UINT8, &a3));
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){7}, DA_CHUNKS(3), DA_FLOAT64, &a1));
  TU_OK(ctx, da_ones(ctx, 2, (int64_t[]){6, 4}, DA_CHUNKS(4, 3), DA_FLOAT64, &a2));
  const char *p = file_in("bad.png");
  expect_error("a 3-d array", da_to_png(a3, p, DA_CMAP_GRAY, 0, 0), DA_ERR_SHAPE, p);
  expect_error("a 1-d array", da_to_png(a1, p, DA_CMAP_GRAY, 0, 0), DA_ERR_SHAPE, p);
  expect_error("lo > hi", da_to_png(a2, p, DA_CMAP_GRAY, 2, 1), DA_ERR_ARG, p);
  expect_error("NaN lo", da_to_png(a2, p, DA_CMAP_GRAY, NAN, 1), DA_ERR_ARG, p);
  expect_error("colour map 9", da_to_png(a2, p, (da_colormap)9, 0, 1), DA_ERR_ARG, p);
  expect_error("NULL path", da_to_png(a2, NULL, DA_CMAP_GRAY, 0, 1), DA_ERR_ARG, NULL);
  char missing[200];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.png", dir);
  expect_error("a missing directory", da_to_png(a2, missing, DA_CMAP_GRAY, 0, 1), DA_ERR_IO,
               missing);
  /* A failed write leaves the previous picture as it was. */
  TU_OK(ctx, da_to_png(a2, file_in("keep.png"), DA_CMAP_GRAY, 0, 2));
  expect_error("keep: lo > hi", da_to_png(a2, file_in("keep.png"), DA_CMAP_GRAY, 3, 1), DA_ERR_ARG,
               NULL);
  if (da_ctx_rank(ctx) == 0) {
    int64_t rows, cols;
    unsigned char *px = decode(file_in("keep.png"), &rows, &cols);
    CHECK(px && rows == 6 && cols == 4 && px[0] == 128);
    free(px);
  }
  da_array_destroy(&a2);
  da_array_destroy(&a1);
  da_array_destroy(&a3);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t640-png");
  rng = tu_rng_make(640);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  if (da_ctx_rank(ctx) == 0) {
    snprintf(dir, sizeof dir, "/tmp/t640-XXXXXX");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 4);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int t = 0; t < 24; t++)
    check_picture(t);
  tu_sync();
  check_known_colours();
  check_errors();
  MPI_Barrier(MPI_COMM_WORLD);
  if (da_ctx_rank(ctx) == 0) {
    CHECKF(leftovers() == 0, "temporary files left in %s", dir);
    unlink(file_in("pic.png"));
    unlink(file_in("known.png"));
    unlink(file_in("keep.png"));
    rmdir(dir);
  }
  da_ctx_destroy(&ctx);
  return tu_finish();
}
