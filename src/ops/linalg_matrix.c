/* darray matrices as ScaLAPACK block-cyclic matrices and back: the context's BLACS grids,
 * descriptors, and the local pack of a rank's blocks into its column-major local matrix. */
#include "ops/linalg.h"
#include "ops/scalapack.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- BLACS grids */

typedef struct {
  int nprow, npcol;
  char order; /* 'R': rank r * npcol + c; 'C': rank r + c * nprow */
  int ictxt;  /* -1 on ranks outside the grid */
} la_grid;

typedef struct {
  la_grid *v;
  int n, cap;
} la_grid_list;

static void grids_free(da_ctx ctx) {
  la_grid_list *g = ctx->la_grids;
  for (int i = 0; i < g->n; i++)
    if (g->v[i].ictxt >= 0)
      Cblacs_gridexit(g->v[i].ictxt);
  free(g->v);
  free(g);
  ctx->la_grids = NULL;
  ctx->la_grids_free = NULL;
}

int la_grid_get(da_ctx ctx, int nprow, int npcol, char order, int *ictxt) {
  *ictxt = -1;
  int rc = DA_OK;
  if (nprow < 1 || npcol < 1 || (int64_t)nprow * npcol > ctx->size)
    rc = DA_ERR(ctx, DA_ERR_INTERNAL, "a %d x %d process grid does not fit %d ranks", nprow, npcol,
                ctx->size);
  if (!rc && !ctx->la_grids) {
    if (!(ctx->la_grids = calloc(1, sizeof(la_grid_list))))
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the BLACS grid list");
    else
      ctx->la_grids_free = grids_free;
    /* One BLAS thread per rank: the ranks already fill the cores. */
    openblas_set_num_threads(1);
  }
  la_grid_list *g = ctx->la_grids;
  if (!rc && g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 4;
    la_grid *v = realloc(g->v, (size_t)cap * sizeof *v);
    if (!v)
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the BLACS grid list");
    else
      g->v = v, g->cap = cap;
  }
  DA_TRY(da_agree(ctx, rc));
  for (int i = 0; i < g->n; i++)
    if (g->v[i].nprow == nprow && g->v[i].npcol == npcol && g->v[i].order == order) {
      *ictxt = g->v[i].ictxt;
      return DA_OK;
    }
  /* Every rank holds the same list, so all get here together: gridinit is collective. */
  int sys = Csys2blacs_handle(ctx->comm), c = sys;
  Cblacs_gridinit(&c, order == 'C' ? "C" : "R", nprow, npcol);
  Cfree_blacs_system_handle(sys);
  bool inside = ctx->rank < nprow * npcol;
  if (!inside)
    c = -1;
  g->v[g->n++] = (la_grid){nprow, npcol, order, c};
  *ictxt = c;
  return DA_OK;
}

/* darray's own choice of a process grid for a 2-D array, so that arrays made with default
 * layouts already sit where la_ wants them. */
void la_grid_for(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int *nprow, int *npcol) {
  int64_t nblk[2] = {m > 0 ? (m + mb - 1) / mb : 1, n > 0 ? (n + nb - 1) / nb : 1};
  int grid[2];
  da_choose_grid(ctx->size, 2, nblk, grid);
  *nprow = grid[0], *npcol = grid[1];
}

/* ---------------------------------------------------------------- matrices */

static size_t la_elsize(da_dtype dt) {
  return dt == DA_FLOAT32 ? sizeof(float) : sizeof(double);
}

static size_t la_bytes(const la_matrix *m) {
  return (size_t)(m->lld * m->lcols) * la_elsize(m->dtype);
}

int la_setup(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
             char order, da_dtype dtype, la_matrix *out) {
  memset(out, 0, sizeof *out);
  out->ctx = ctx;
  out->blacs = -1;
  out->myrow = out->mycol = -1;
  int rc = DA_OK;
  if (m < 0 || n < 0 || m > INT_MAX || n > INT_MAX || mb < 1 || nb < 1 || mb > INT_MAX ||
      nb > INT_MAX)
    rc = DA_ERR(ctx, DA_ERR_OVERFLOW,
                "a %lld x %lld matrix in %lld x %lld blocks is beyond ScaLAPACK's int indices",
                (long long)m, (long long)n, (long long)mb, (long long)nb);
  if (!rc && dtype != DA_FLOAT32 && dtype != DA_FLOAT64)
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "ScaLAPACK matrices are float32 or float64");
  DA_TRY(da_agree(ctx, rc));
  int ictxt;
  DA_TRY(la_grid_get(ctx, nprow, npcol, order, &ictxt));
  *out = (la_matrix){.ctx = ctx,
                     .blacs = ictxt,
                     .nprow = nprow,
                     .npcol = npcol,
                     .myrow = -1,
                     .mycol = -1,
                     .m = m,
                     .n = n,
                     .mb = mb,
                     .nb = nb,
                     .lld = 1,
                     .dtype = dtype};
  int im = (int)m, in = (int)n, imb = (int)mb, inb = (int)nb, zero = 0, info = 0;
  if (ictxt >= 0) {
    int pr, pc;
    Cblacs_gridinfo(ictxt, &pr, &pc, &out->myrow, &out->mycol);
    out->lrows = numroc_(&im, &imb, &out->myrow, &zero, &nprow);
    out->lcols = numroc_(&in, &inb, &out->mycol, &zero, &npcol);
    out->lld = out->lrows > 1 ? out->lrows : 1;
    int lld = (int)out->lld;
    descinit_(out->desc, &im, &in, &imb, &inb, &zero, &zero, &ictxt, &lld, &info);
  } else {
    /* Outside the grid: the descriptor says so (context -1); ScaLAPACK is never called. */
    int d[9] = {1, -1, im, in, imb, inb, 0, 0, 1};
    memcpy(out->desc, d, sizeof d);
  }
  rc = info ? DA_ERR(ctx, DA_ERR_INTERNAL, "descinit: argument %d is illegal", -info) : DA_OK;
  size_t bytes = la_bytes(out);
  if (!rc && (out->data = da_calloc(ctx, bytes ? bytes : 1, 1)) == NULL)
    rc = DA_ERR_NOMEM;
  if (!rc)
    da_mem_add(ctx, (int64_t)bytes);
  rc = da_agree(ctx, rc);
  if (rc)
    la_free(out);
  return rc;
}

int la_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
           da_dtype dtype, la_matrix *out) {
  return la_setup(ctx, m, n, mb, nb, nprow, npcol, 'R', dtype, out);
}

void la_free(la_matrix *m) {
  if (m->data) {
    da_mem_add(m->ctx, -(int64_t)la_bytes(m));
    free(m->data);
  }
  m->data = NULL;
}

/* ---------------------------------------------------------------- packing */

/* rows x cols elements from src to dst, both addressed with element strides (row, column),
 * converted to float or double. Tiles keep a transposing copy in cache. */
typedef void (*la_copy_fn)(const void *src, int64_t srs, int64_t scs, void *dst, int64_t drs,
                           int64_t dcs, int64_t rows, int64_t cols);

#define LA_COPY_BODY(ST, DT)                                                                       \
  {                                                                                                \
    const ST *s = src;                                                                             \
    DT *d = dst;                                                                                   \
    for (int64_t i0 = 0; i0 < rows; i0 += 32)                                                      \
      for (int64_t j0 = 0; j0 < cols; j0 += 32) {                                                  \
        int64_t i1 = i0 + 32 < rows ? i0 + 32 : rows, j1 = j0 + 32 < cols ? j0 + 32 : cols;        \
        for (int64_t i = i0; i < i1; i++)                                                          \
          for (int64_t j = j0; j < j1; j++)                                                        \
            d[i * drs + j * dcs] = (DT)s[i * srs + j * scs];                                       \
      }                                                                                            \
  }
#define LA_COPY_DEFINE(E, T, S)                                                                    \
  static void copy_##S##_f32(const void *src, int64_t srs, int64_t scs, void *dst, int64_t drs,    \
                             int64_t dcs, int64_t rows, int64_t cols)                              \
      LA_COPY_BODY(T, float) static void copy_##S##_f64(const void *src, int64_t srs, int64_t scs, \
                                                        void *dst, int64_t drs, int64_t dcs,       \
                                                        int64_t rows, int64_t cols)                \
          LA_COPY_BODY(T, double)
DA_FOR_EACH_DTYPE(LA_COPY_DEFINE)
#undef LA_COPY_DEFINE

static la_copy_fn copy_for(da_dtype src, da_dtype dst) {
  switch (src) {
#define LA_COPY_CASE(E, T, S)                                                                      \
  case E:                                                                                          \
    return dst == DA_FLOAT32 ? copy_##S##_f32 : copy_##S##_f64;
    DA_FOR_EACH_DTYPE(LA_COPY_CASE)
#undef LA_COPY_CASE
  default:
    break;
  }
  return NULL;
}

/* Moves a's local blocks into m's local matrix (or back, with unpack, into a's blocks of
 * m's dtype). a is materialized with uniform chunks (mb, nb) cyclic over m's grid. With
 * colmajor, m is a itself (column-major local matrix); without, m is a's transpose on the
 * transposed grid, whose column-major local matrix is a's local matrix in row major: the
 * pack is then a copy of block rows. */
static void la_move(da_array a, la_matrix *m, bool colmajor, bool unpack) {
  int64_t mb = colmajor ? m->mb : m->nb, nb = colmajor ? m->nb : m->mb;
  size_t es = la_elsize(m->dtype);
  for (int64_t k = 0; k < a->nlocal; k++) {
    int64_t b = da_block_global_index(a, k), bi[2];
    da_block_unravel(a, b, bi);
    int64_t rows = a->chunks[0][bi[0]], cols = a->chunks[1][bi[1]];
    int64_t r0 = a->lpos[0][bi[0]] * mb, c0 = a->lpos[1][bi[1]] * nb;
    /* Element (i, j) of the block in the local matrix: strides (lrs, lcs). */
    int64_t lrs = colmajor ? 1 : m->lld, lcs = colmajor ? m->lld : 1;
    char *loc = (char *)m->data + (size_t)(r0 * lrs + c0 * lcs) * es;
    char *blk = a->lblocks[k];
    if (!unpack && a->dtype != m->dtype) {
      copy_for(a->dtype, m->dtype)(blk, cols, 1, loc, lrs, lcs, rows, cols);
    } else if (!colmajor) {
      for (int64_t i = 0; i < rows; i++) {
        char *l = loc + (size_t)(i * lrs) * es, *p = blk + (size_t)(i * cols) * es;
        memcpy(unpack ? p : l, unpack ? l : p, (size_t)cols * es);
      }
    } else if (unpack) {
      copy_for(m->dtype, m->dtype)(loc, lrs, lcs, blk, cols, 1, rows, cols);
    } else {
      copy_for(m->dtype, m->dtype)(blk, cols, 1, loc, lrs, lcs, rows, cols);
    }
  }
}

/* Uniform chunks of mb along an axis of length n (one empty chunk when n is 0). */
static int64_t *uniform_chunks(int64_t n, int64_t mb, int64_t *count) {
  int64_t c = n > 0 ? (n + mb - 1) / mb : 1;
  int64_t *v = malloc((size_t)c * sizeof *v);
  if (v)
    for (int64_t i = 0; i < c; i++)
      v[i] = n - i * mb < mb ? n - i * mb : mb;
  *count = c;
  return v;
}

bool la_fits(const da_array a, int64_t mb, int64_t nb, int nprow, int npcol) {
  if (a->ndim != 2 || a->grid[0] != nprow || a->grid[1] != npcol || a->rbase != 0)
    return false;
  if ((nprow > 1 && a->rstride[0] != npcol) || (npcol > 1 && a->rstride[1] != 1))
    return false;
  int64_t bs[2] = {mb, nb};
  for (int d = 0; d < 2; d++) {
    int64_t n = a->shape[d], c = n > 0 ? (n + bs[d] - 1) / bs[d] : 1;
    if (a->numblocks[d] != c)
      return false;
    for (int64_t j = 0; j < c; j++)
      if (a->gcoord[d][j] != (int)(j % a->grid[d]) ||
          a->chunks[d][j] != (n - j * bs[d] < bs[d] ? n - j * bs[d] : bs[d]))
        return false;
  }
  return true;
}

int la_layout_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
                  da_dtype dt, const da_array src, da_array *out) {
  *out = NULL;
  int64_t shape[2] = {m, n}, nck[2];
  int64_t *ck[2] = {uniform_chunks(m, mb, &nck[0]), uniform_chunks(n, nb, &nck[1])};
  int grid[2] = {nprow, npcol};
  const da_layout layout = {grid, NULL, NULL, 0};
  int rc = ck[0] && ck[1] ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks");
  rc = da_agree(ctx, rc);
  if (!rc && src)
    rc = da_view_new(src, 2, shape, (const int64_t *const *)ck, nck, &layout, out);
  else if (!rc)
    rc = da_agree(ctx, da_array_new(ctx, 2, shape, (const int64_t *const *)ck, nck, dt,
                                    da_dtype_size(dt), &layout, out));
  free(ck[0]);
  free(ck[1]);
  return rc;
}

int la_pack(da_array a, da_dtype dtype, int64_t mb, int64_t nb, int nprow, int npcol, bool colmajor,
            la_matrix *out) {
  da_ctx ctx = a->ctx;
  memset(out, 0, sizeof *out);
  if (a->ndim != 2)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_SHAPE, "a matrix must be 2-d, not %d-d", a->ndim));
  da_array src = a, moved = NULL;
  if (!la_fits(a, mb, nb, nprow, npcol)) {
    DA_TRY(la_layout_new(ctx, a->shape[0], a->shape[1], mb, nb, nprow, npcol, a->dtype, a, &moved));
    src = moved;
  }
  int rc = da_schedule(src);
  if (!rc && colmajor)
    rc = la_setup(ctx, a->shape[0], a->shape[1], mb, nb, nprow, npcol, 'R', dtype, out);
  else if (!rc)
    rc = la_setup(ctx, a->shape[1], a->shape[0], nb, mb, npcol, nprow, 'C', dtype, out);
  if (!rc)
    la_move(src, out, colmajor, false);
  da_array_destroy(&moved);
  return rc;
}

int la_from_array(da_array a, da_dtype dtype, int64_t mb, int64_t nb, int nprow, int npcol,
                  la_matrix *out) {
  return la_pack(a, dtype, mb, nb, nprow, npcol, true, out);
}

int la_unpack_into(const la_matrix *m, bool colmajor, da_array a) {
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  if (!(a->lblocks = calloc((size_t)(a->nlocal ? a->nlocal : 1), sizeof(void *))))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the block table");
  for (int64_t k = 0; k < a->nlocal && !rc; k++) {
    size_t bytes = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (!(a->lblocks[k] = da_malloc(ctx, bytes ? bytes : 1)))
      rc = DA_ERR_NOMEM;
    else
      da_array_hold(a, (int64_t)bytes);
  }
  if (!rc)
    la_move(a, (la_matrix *)m, colmajor, true);
  rc = da_agree(ctx, rc);
  if (rc) { /* the blocks only: a stays the node it was */
    for (int64_t k = 0; k < a->nlocal && a->lblocks; k++)
      free(a->lblocks[k]);
    free(a->lblocks);
    a->lblocks = NULL;
    da_array_hold(a, -a->held);
    return rc;
  }
  a->materialized = true;
  return DA_OK;
}

int la_to_array(const la_matrix *m, da_array *out) {
  DA_TRY(la_layout_new(m->ctx, m->m, m->n, m->mb, m->nb, m->nprow, m->npcol, m->dtype, NULL, out));
  int rc = la_unpack_into(m, true, *out);
  if (rc)
    da_array_destroy(out);
  return rc;
}

int la_info(da_ctx ctx, int info, const char *routine, int code, const char *what) {
  int rc = DA_OK;
  if (info < 0)
    rc = DA_ERR(ctx, DA_ERR_INTERNAL, "%s: argument %d had an illegal value", routine,
                info < -100 ? -info / 100 : -info);
  else if (info > 0)
    rc = DA_ERR(ctx, code, "%s: %s (info %d)", routine, what, info);
  return da_agree(ctx, rc);
}

int la_node_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
                da_dtype dt, const da_layer_ops *ops, void *params, int ninputs,
                const da_array inputs[], da_array *out) {
  *out = NULL;
  int64_t shape[2] = {m, n}, nck[2];
  int64_t *ck[2] = {uniform_chunks(m, mb, &nck[0]), uniform_chunks(n, nb, &nck[1])};
  int grid[2] = {nprow, npcol};
  const da_layout layout = {grid, NULL, NULL, 0};
  int rc =
      da_agree(ctx, ck[0] && ck[1] ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks"));
  if (rc) {
    if (ops->free_params && params)
      ops->free_params(params);
    else
      free(params);
  } else {
    rc = da_node_new(ctx, 2, shape, (const int64_t *const *)ck, nck, dt, da_dtype_size(dt), &layout,
                     ops, params, ninputs, inputs, out);
  }
  free(ck[0]);
  free(ck[1]);
  return rc;
}
