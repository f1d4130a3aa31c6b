/* Overlap against a serial reference: every extended block is the block's box of the whole
 * array padded by the boundary rule, over random 1-D to 4-D shapes, uneven chunks, depths
 * 0-3 per axis and every boundary; trimming gives the array back; only halo boxes cross
 * ranks; bad input fails alike on every rank. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

static da_ctx ctx;
static tu_rng rng;

/* Where index i of an axis of length n reads (-1: the constant). */
static int64_t ref_source(da_boundary b, int64_t i, int64_t n) {
  if (i >= 0 && i < n)
    return i;
  if (b == DA_BOUNDARY_PERIODIC)
    return ((i % n) + n) % n;
  if (b == DA_BOUNDARY_NEAREST)
    return i < 0 ? 0 : n - 1;
  if (b == DA_BOUNDARY_REFLECT) { /* np.pad 'symmetric', one reflection at a time */
    while (i < 0 || i >= n)
      i = i < 0 ? -i - 1 : 2 * n - 1 - i;
    return i;
  }
  return -1;
}

static void test_overlap(void) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_INT32, DA_UINT8, DA_FLOAT32};
  for (int c = 0; c < 120; c++) {
    int nd = (int)tu_int(&rng, 1, 4);
    da_dtype dt = dts[c % 4];
    int64_t shape[DA_MAX_NDIM], depth[DA_MAX_NDIM];
    da_boundary bnd[DA_MAX_NDIM];
    tu_random_shape(&rng, nd, 500, true, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, nd, shape, 30, &ck);
    for (int d = 0; d < nd; d++) {
      depth[d] = tu_int(&rng, 0, 3);
      bnd[d] = (da_boundary)tu_int(&rng, 0, 4);
    }
    int64_t n = tu_prod(nd, shape);
    size_t es = da_dtype_size(dt);
    char *buf = tu_malloc((size_t)n * es);
    tu_fill_random(&rng, dt, buf, n);
    da_array x, y, t;
    TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &x));
    TU_OK(ctx, da_overlap(x, depth, bnd, 9, &y));
    /* Per axis: each extended position's source index, block by block. */
    int64_t *src[DA_MAX_NDIM], eshape[DA_MAX_NDIM];
    for (int d = 0; d < nd; d++) {
      const int64_t *chunks = da_array_chunks(x, d);
      int64_t nb = da_array_numblocks(x)[d], len = 0, off = 0;
      src[d] = tu_malloc((size_t)(shape[d] + 2 * 3 * nb + 1) * sizeof(int64_t));
      for (int64_t j = 0; j < nb; j++) {
        int64_t lo = depth[d], hi = depth[d];
        if (bnd[d] == DA_BOUNDARY_NONE) {
          lo = lo < off ? lo : off;
          hi = hi < shape[d] - off - chunks[j] ? hi : shape[d] - off - chunks[j];
        }
        if (shape[d] == 0)
          lo = hi = 0;
        for (int64_t i = off - lo; i < off + chunks[j] + hi; i++)
          src[d][len++] = ref_source(bnd[d], i, shape[d]);
        off += chunks[j];
      }
      eshape[d] = len;
    }
    char ss[96], sw[96];
    bool same = da_array_ndim(y) == nd;
    for (int d = 0; d < nd && same; d++)
      same =
          da_array_shape(y)[d] == eshape[d] && da_array_numblocks(y)[d] == da_array_numblocks(x)[d];
    CHECKF(same, "overlap case %d: shape %s, want %s", c,
           tu_shape_str(da_array_ndim(y), da_array_shape(y), ss, sizeof ss),
           tu_shape_str(nd, eshape, sw, sizeof sw));
    if (same) {
      int64_t ne = tu_prod(nd, eshape), o[DA_MAX_NDIM] = {0};
      char *want = tu_malloc((size_t)ne * es);
      uint64_t fill = 0;
      tu_set(dt, &fill, 0, 9);
      for (int64_t k = 0; k < ne; k++) {
        int64_t lin = 0;
        bool hole = false;
        for (int d = 0; d < nd; d++) {
          int64_t i = src[d][o[d]];
          hole |= i < 0;
          lin = lin * shape[d] + (i < 0 ? 0 : i);
        }
        memcpy(want + (size_t)k * es, hole ? (const char *)&fill : buf + (size_t)lin * es, es);
        for (int d = nd - 1; d >= 0 && ++o[d] == eshape[d]; d--)
          o[d] = 0;
      }
      void *got = tu_gather_all(y);
      char what[96];
      snprintf(what, sizeof what, "overlap case %d (%s)", c, da_dtype_name(dt));
      COMPARE(what, dt, got, want, nd, eshape, -1);
      free(got);
      free(want);
      /* Trimming gives x back when blocks are at least depth long. */
      bool long_enough = true;
      for (int d = 0; d < nd; d++)
        for (int64_t j = 0; j < da_array_numblocks(x)[d]; j++)
          long_enough &= da_array_chunks(x, d)[j] >= depth[d];
      if (long_enough && n > 0) {
        TU_OK(ctx, da_trim_overlap(y, depth, bnd, &t));
        got = tu_gather_all(t);
        COMPARE("trim_overlap", dt, got, buf, nd, shape, -1);
        free(got);
        da_array_destroy(&t);
      }
    }
    for (int d = 0; d < nd; d++)
      free(src[d]);
    da_array_destroy(&y);
    da_array_destroy(&x);
    free(buf);
  }
  tu_sync();
}

/* A box sum of +-depth cells along every axis, corners included; cells beyond the array
 * edge under NONE (outside the extended block) count as absent. */
static int box_sum(const da_block_info *info, void *user) {
  const int64_t *depth = user;
  int nd = info->in_ndim;
  const int64_t *is = info->in_shape[0];
  const double *in = info->in[0];
  double *out = info->out;
  int64_t n = 1, o[DA_MAX_NDIM] = {0};
  for (int d = 0; d < nd; d++)
    n *= info->out_shape[d];
  for (int64_t k = 0; k < n; k++) {
    double s = 0;
    int64_t w[DA_MAX_NDIM], total = 1;
    for (int d = 0; d < nd; d++)
      w[d] = -depth[d], total *= 2 * depth[d] + 1;
    for (int64_t q = 0; q < total; q++) {
      int64_t lin = 0;
      bool inside = true;
      for (int d = 0; d < nd; d++) {
        int64_t i = o[d] + info->halo_lo[d] + w[d];
        inside &= i >= 0 && i < is[d];
        lin = lin * is[d] + i;
      }
      if (inside)
        s += in[lin];
      for (int d = nd - 1; d >= 0 && ++w[d] > depth[d]; d--)
        w[d] = -depth[d];
    }
    out[k] = s;
    for (int d = nd - 1; d >= 0 && ++o[d] == info->out_shape[d]; d--)
      o[d] = 0;
  }
  return 0;
}

/* Doubles the extended block (for the untrimmed form). */
static int twice(const da_block_info *info, void *user) {
  (void)user;
  int64_t n = 1;
  for (int d = 0; d < info->out_ndim; d++)
    n *= info->out_shape[d];
  for (int64_t k = 0; k < n; k++)
    ((double *)info->out)[k] = 2 * ((const double *)info->in[0])[k];
  return 0;
}

static void test_map_overlap(void) {
  for (int c = 0; c < 40; c++) {
    int nd = (int)tu_int(&rng, 1, 3);
    int64_t shape[DA_MAX_NDIM], depth[DA_MAX_NDIM];
    da_boundary bnd[DA_MAX_NDIM];
    tu_random_shape(&rng, nd, 300, false, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, nd, shape, 20, &ck);
    for (int d = 0; d < nd; d++) {
      depth[d] = tu_int(&rng, 0, 2);
      bnd[d] = (da_boundary)tu_int(&rng, 0, 4);
    }
    int64_t n = tu_prod(nd, shape);
    double *v = tu_malloc((size_t)n * sizeof *v), *want = tu_malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
      v[i] = (double)tu_int(&rng, -50, 50); /* integers: every order of summing is exact */
    da_array x, y, e, t;
    TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, DA_FLOAT64, v, (size_t)n * 8, &x));
    TU_OK(ctx, da_map_overlap(box_sum, depth, x, depth, bnd, 4, DA_FLOAT64, 1, &y));
    int64_t o[DA_MAX_NDIM] = {0};
    for (int64_t k = 0; k < n; k++) {
      int64_t w[DA_MAX_NDIM], total = 1;
      for (int d = 0; d < nd; d++)
        w[d] = -depth[d], total *= 2 * depth[d] + 1;
      double s = 0;
      for (int64_t q = 0; q < total; q++) {
        int64_t lin = 0;
        bool absent = false, constant = false;
        for (int d = 0; d < nd; d++) {
          int64_t i = o[d] + w[d];
          if (bnd[d] == DA_BOUNDARY_NONE && (i < 0 || i >= shape[d]))
            absent = true;
          int64_t sidx = ref_source(bnd[d], i, shape[d]);
          constant |= sidx < 0;
          lin = lin * shape[d] + (sidx < 0 ? 0 : sidx);
        }
        s += absent ? 0 : constant ? 4 : v[lin];
        for (int d = nd - 1; d >= 0 && ++w[d] > depth[d]; d--)
          w[d] = -depth[d];
      }
      want[k] = s;
      for (int d = nd - 1; d >= 0 && ++o[d] == shape[d]; d--)
        o[d] = 0;
    }
    double *got = tu_gather_all(y);
    char what[96];
    snprintf(what, sizeof what, "map_overlap box sum case %d", c);
    COMPARE(what, DA_FLOAT64, got, want, nd, shape, -1);
    free(got);
    /* A stencil may run in slabs of rows: every slab height from one row to the block, read
     * whole and through a fused sum (tiles read in place from the kept slab). */
    static const char *slabs[] = {"1", "100", "3000", "100000000"};
    char env[32];
    snprintf(env, sizeof env, "%s", slabs[tu_int(&rng, 0, 3)]);
    setenv("DARRAY_SLAB_BYTES", env, 1);
    da_array yl, sl;
    TU_OK(ctx, da_map_overlap(box_sum, depth, x, depth, bnd, 4, DA_FLOAT64,
                              DA_OVERLAP_TRIM | DA_OVERLAP_LOCAL, &yl));
    unsetenv("DARRAY_SLAB_BYTES");
    got = tu_gather_all(yl);
    snprintf(what, sizeof what, "local map_overlap case %d, slab bytes %s", c, env);
    COMPARE(what, DA_FLOAT64, got, want, nd, shape, -1);
    free(got);
    TU_OK(ctx, da_sum(yl, 0, NULL, 0, &sl));
    double total = 0, want_total = 0;
    TU_OK(ctx, da_compute(sl, DA_ALL_RANKS, &total, sizeof total));
    for (int64_t i = 0; i < n; i++)
      want_total += want[i];
    CHECKF(total == want_total, "local map_overlap sum case %d: %g, want %g", c, total, want_total);
    da_array_destroy(&sl);
    da_array_destroy(&yl);
    /* Untrimmed: the function writes the extended block; trimming gives 2x back. */
    bool long_enough = true;
    for (int d = 0; d < nd; d++)
      for (int64_t j = 0; j < da_array_numblocks(x)[d]; j++)
        long_enough &= da_array_chunks(x, d)[j] >= depth[d];
    if (long_enough) {
      TU_OK(ctx, da_map_overlap(twice, NULL, x, depth, bnd, 4, DA_FLOAT64, 0, &e));
      TU_OK(ctx, da_trim_overlap(e, depth, bnd, &t));
      got = tu_gather_all(t);
      for (int64_t i = 0; i < n; i++)
        want[i] = 2 * v[i];
      COMPARE("map_overlap untrimmed", DA_FLOAT64, got, want, nd, shape, -1);
      free(got);
      da_array_destroy(&t);
      da_array_destroy(&e);
    }
    da_array_destroy(&y);
    da_array_destroy(&x);
    free(v);
    free(want);
  }
  tu_sync();
}

static void test_errors(void) {
  da_array x, r = NULL;
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){5, 6}, DA_CHUNKS(2, 4), DA_FLOAT64, &x));
  da_boundary b2[2] = {DA_BOUNDARY_REFLECT, DA_BOUNDARY_NONE}, bad[2] = {DA_BOUNDARY_NONE, 9};
  int rc = da_overlap(x, (int64_t[]){1, -1}, b2, 0, &r);
  CHECKF(rc == DA_ERR_ARG && !r, "negative depth: %d", rc);
  rc = da_overlap(x, (int64_t[]){1, 1}, bad, 0, &r);
  CHECKF(rc == DA_ERR_ARG && !r, "unknown boundary: %d", rc);
  rc = da_overlap(x, NULL, b2, 0, &r);
  CHECKF(rc == DA_ERR_ARG && !r, "NULL depth: %d", rc);
  rc = da_trim_overlap(x, (int64_t[]){3, 0}, b2, &r);
  CHECKF(rc == DA_ERR_SHAPE && !r, "trim beyond a block: %d", rc);
  da_array_destroy(&x);
  tu_sync();
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t410-overlap");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  rng = tu_rng_make(410);
  test_overlap();
  test_map_overlap();
  test_errors();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
