/* Products: matmul and dot as a block layer of local gemm calls (the same bits on any number
 * of ranks), and tensordot, vdot, outer, trace and diagonal built from darray's own lazy
 * operations on top of it. */
#include "core/internal.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* One BLAS thread per rank: the ranks already fill the cores. Before the first gemm. */
static void blas_single(void) {
  static bool done;
  if (!done)
    openblas_set_num_threads(1), done = true;
}

/* NumPy's result dtype of a product of x and y (*res) and the dtype darray computes it in
 * (*dt): the float itself, or for integers and bool 64-bit integers whose wrapping sums,
 * cast to the result, give NumPy's wrapping ones (and bool's "any pair both true"). */
static int product_dtype(da_array x, da_array y, da_dtype *dt, da_dtype *res) {
  DA_TRY(da_result_type(da_value_array(x), da_value_array(y), res));
  *dt = da_dtype_is_float(*res) ? *res : da_dtype_is_unsigned(*res) ? DA_UINT64 : DA_INT64;
  return DA_OK;
}

/* Collective. c (in its compute dtype) as the result dtype res; takes c. */
static int product_result(da_array *c, da_dtype res, da_array *out) {
  int rc = (*c)->dtype == res ? da_array_ref(*c, out) : da_astype(*c, res, out);
  da_array_destroy(c);
  return rc;
}

/* C (rows x cols, ldc) = A B, or += with add, in wrapping 64-bit integers. */
static void igemm(int64_t rows, int64_t cols, int64_t kc, const uint64_t *a, int64_t lda,
                  const uint64_t *b, int64_t ldb, bool add, uint64_t *c, int64_t ldc) {
  for (int64_t i = 0; i < rows; i++) {
    uint64_t *ci = c + i * ldc;
    if (!add)
      memset(ci, 0, (size_t)cols * sizeof *ci);
    for (int64_t l = 0; l < kc; l++) {
      uint64_t av = a[i * lda + l];
      const uint64_t *bl = b + l * ldb;
      for (int64_t j = 0; j < cols; j++)
        ci[j] += av * bl[j];
    }
  }
}

/* One gemm of the product's dtype: C = A B (add: C += A B), row-major. */
static void gemm_any(da_dtype dt, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                     const void *b, int64_t ldb, bool add, void *c, int64_t ldc) {
  if (dt == DA_FLOAT32)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, 1, a,
                (blasint)lda, b, (blasint)ldb, add, c, (blasint)ldc);
  else if (dt == DA_FLOAT64)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, 1, a,
                (blasint)lda, b, (blasint)ldb, add, c, (blasint)ldc);
  else
    igemm(m, n, k, a, lda, b, ldb, add, c, ldc);
}

/* ---------------------------------------------------------------- 2-D products */

/* C = A B block by block: C block (i, j) sums A(r, kb) B(kb, j) over the k blocks kb in
 * order, one gemm each, so its bits depend only on the k chunks, never on the ranks or the
 * grid (ScaLAPACK's p?gemm sums in an order that follows the grid). C's row blocks are A's,
 * cut in parts when that spreads the work more evenly; each task receives only the rows of
 * the A blocks it reads. */
#define MM_K_MIN 32 /* k chunks below this are merged: a gemm per tiny panel is slow */
#define MM_K_BLOCK 512
#define MM_MAX_PARTS 4
/* Rows per gemm call, counted from the top of each A block, whatever C's blocks: OpenBLAS's
 * results depend on the shape of the call, so the calls must not follow the ranks. */
#define MM_PANEL 512

typedef struct {
  int64_t *arow, *aoff; /* per C row block: A's row block and the first row within it */
} mm_params;

static void mm_free(void *pp) {
  mm_params *p = pp;
  free(p->arow);
  free(p->aoff);
  free(p);
}

static int64_t mm_deps(const da_array c, int64_t b, int *input, int64_t *block, int64_t cap) {
  const mm_params *p = c->params;
  da_array x = c->inputs[0], y = c->inputs[1];
  int64_t nk = x->numblocks[1], ci = b / c->numblocks[1], cj = b % c->numblocks[1];
  for (int64_t kb = 0; kb < nk && 2 * kb + 1 < cap; kb++) {
    input[2 * kb] = 0, block[2 * kb] = p->arow[ci] * nk + kb;
    input[2 * kb + 1] = 1, block[2 * kb + 1] = kb * y->numblocks[1] + cj;
  }
  return 2 * nk;
}

static void mm_region(const da_array c, int64_t b, int64_t k, int64_t lo[], int64_t n[]) {
  const mm_params *p = c->params;
  da_array x = c->inputs[0], y = c->inputs[1];
  int64_t ci = b / c->numblocks[1], cj = b % c->numblocks[1], kb = k / 2;
  lo[1] = 0;
  if (k % 2 == 0)
    lo[0] = p->aoff[ci], n[0] = c->chunks[0][ci], n[1] = x->chunks[1][kb];
  else
    lo[0] = 0, n[0] = y->chunks[0][kb], n[1] = y->chunks[1][cj];
}

static int mm_run(const da_array c, int64_t b, da_input *ins, int nins, void *out) {
  const mm_params *p = c->params;
  da_array x = c->inputs[0];
  int64_t ci = b / c->numblocks[1], cj = b % c->numblocks[1];
  blasint rows = (blasint)c->chunks[0][ci], cols = (blasint)c->chunks[1][cj];
  if (rows == 0 || cols == 0)
    return DA_OK;
  blas_single();
  for (blasint r = 0; r < rows; r += MM_PANEL) {
    blasint pr = rows - r < MM_PANEL ? rows - r : MM_PANEL;
    char *o = (char *)out + (size_t)r * (size_t)cols * c->elsize;
    for (int kb = 0; kb < nins / 2; kb++) {
      blasint kc = (blasint)x->chunks[1][kb], lda = kc > 0 ? kc : 1;
      const void *pa = da_input_at(&ins[2 * kb], x, (const int64_t[]){p->aoff[ci] + r, 0});
      const void *pb = ins[2 * kb + 1].data;
      gemm_any(c->dtype, pr, cols, kc, pa, lda, pb, cols, kb > 0, o, cols);
    }
  }
  return DA_OK;
}

static const da_layer_ops mm_ops = {
    .name = "matmul", .deps = mm_deps, .region = mm_region, .run = mm_run, .free_params = mm_free};

/* C's row chunks with each of A's row chunks (rows, na of them) cut in parts: in *ck, with
 * the A block and offset of each in p. Returns how many, or -1 when out of memory. */
static int64_t mm_rows(const int64_t *rows, int64_t na, int parts, int64_t **ck, mm_params *p) {
  int64_t n = 0, cap = na * parts;
  *ck = malloc((size_t)(cap ? cap : 1) * sizeof **ck);
  p->arow = malloc((size_t)(cap ? cap : 1) * sizeof *p->arow);
  p->aoff = malloc((size_t)(cap ? cap : 1) * sizeof *p->aoff);
  if (!*ck || !p->arow || !p->aoff)
    return -1;
  for (int64_t i = 0; i < na; i++) { /* parts of whole panels */
    int64_t panels = (rows[i] + MM_PANEL - 1) / MM_PANEL, q = panels < parts ? panels : parts;
    q = q > 0 ? q : 1;
    for (int64_t j = 0, at = 0; j < q; j++, n++) {
      int64_t end = at + (panels / q + (j < panels % q)) * MM_PANEL;
      (*ck)[n] = (end < rows[i] ? end : rows[i]) - at;
      p->arow[n] = i, p->aoff[n] = at;
      at += (*ck)[n];
    }
  }
  return n;
}

/* How evenly C's work (rows x cols of each block) spreads over the ranks on the default
 * layout of row chunks rc[nr] and column chunks cc[nc]: the mean rank's share over the
 * largest's. */
static double mm_balance(da_ctx ctx, const int64_t *rc, int64_t nr, const int64_t *cc, int64_t nc) {
  int grid[2];
  da_choose_grid(ctx->size, 2, (const int64_t[]){nr, nc}, grid);
  double *w = calloc((size_t)ctx->size, sizeof *w), total = 0, most = 0;
  if (!w)
    return 1;
  for (int64_t i = 0; i < nr; i++)
    for (int64_t j = 0; j < nc; j++) {
      int r = (int)(i % grid[0]) * grid[1] + (int)(j % grid[1]);
      w[r] += (double)rc[i] * (double)cc[j];
      total += (double)rc[i] * (double)cc[j];
    }
  for (int r = 0; r < ctx->size; r++)
    most = w[r] > most ? w[r] : most;
  free(w);
  return most > 0 ? total / ctx->size / most : 1;
}

/* x cast to dt and, along axis, in the chunks ck (NULL: as it is). */
static int mm_operand(da_array x, da_dtype dt, int axis, const int64_t *ck, int64_t nck,
                      da_array *out) {
  da_array y = NULL;
  DA_TRY(x->dtype == dt ? da_array_ref(x, &y) : da_astype(x, dt, &y));
  if (!ck)
    return (*out = y), DA_OK;
  da_chunks spec = {0};
  spec.size[1 - axis] = 0; /* keep */
  spec.list[axis] = ck, spec.nlist[axis] = nck;
  spec.list[1 - axis] = x->chunks[1 - axis], spec.nlist[1 - axis] = x->numblocks[1 - axis];
  int rc = da_rechunk(y, &spec, out);
  da_array_destroy(&y);
  return rc;
}

/* Collective. The product of the 2-D arrays a (m x k) and b (k x n), shapes checked. */
static int matmul_2d(da_array a, da_array b, da_array *out) {
  da_ctx ctx = a->ctx;
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  da_dtype dt = DA_FLOAT64, res = DA_FLOAT64;
  DA_TRY(da_agree(ctx, product_dtype(a, b, &dt, &res)));
  if (m == 0 || n == 0 || k == 0) /* nothing to sum: zeros, as NumPy */
    return da_zeros(ctx, 2, (int64_t[]){m, n}, NULL, res, out);
  /* The k chunks: a's, unless tiny; b's rows follow them. */
  int64_t *kc = NULL, nk = a->numblocks[1];
  bool own = k / nk >= MM_K_MIN;
  if (!own) {
    nk = (k + MM_K_BLOCK - 1) / MM_K_BLOCK;
    if (!(kc = malloc((size_t)nk * sizeof *kc)))
      return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "matmul: cannot allocate chunks"));
    for (int64_t i = 0; i < nk; i++)
      kc[i] = k - i * MM_K_BLOCK < MM_K_BLOCK ? k - i * MM_K_BLOCK : MM_K_BLOCK;
  }
  const int64_t *kuse = own ? a->chunks[1] : kc;
  bool b_same = b->numblocks[0] == nk && !memcmp(b->chunks[0], kuse, (size_t)nk * sizeof *kuse);
  da_array x = NULL, y = NULL;
  int rc = mm_operand(a, dt, 1, own ? NULL : kc, nk, &x);
  if (!rc)
    rc = mm_operand(b, dt, 0, b_same ? NULL : kuse, nk, &y);
  free(kc);
  /* C's row blocks: a's, cut in the fewest parts that spread the work evenly. */
  mm_params *p = rc ? NULL : calloc(1, sizeof *p);
  int64_t *rows = NULL, nr = 0;
  if (!rc && !p)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "matmul: cannot allocate parameters");
  double best = -1;
  for (int parts = 1; !rc && parts <= MM_MAX_PARTS; parts++) {
    mm_params q = {0};
    int64_t *ck = NULL, nq = mm_rows(x->chunks[0], x->numblocks[0], parts, &ck, &q);
    double e = nq < 0 ? -1 : mm_balance(ctx, ck, nq, y->chunks[1], y->numblocks[1]);
    if (nq < 0) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "matmul: cannot allocate chunks");
    } else if (e > best + 0.02) { /* fewer parts win near-ties */
      free(rows), free(p->arow), free(p->aoff);
      rows = ck, nr = nq, p->arow = q.arow, p->aoff = q.aoff, best = e;
      ck = NULL, q.arow = q.aoff = NULL;
    }
    free(ck), free(q.arow), free(q.aoff);
  }
  rc = da_agree(ctx, rc);
  if (!rc) {
    const int64_t *ck[2] = {rows, y->chunks[1]};
    da_array c = NULL;
    rc = da_node_new(ctx, 2, (const int64_t[]){m, n}, ck, (const int64_t[]){nr, y->numblocks[1]},
                     dt, da_dtype_size(dt), NULL, &mm_ops, p, 2, (const da_array[]){x, y}, &c);
    p = NULL;
    if (!rc)
      rc = product_result(&c, res, out);
  }
  if (p)
    mm_free(p);
  free(rows);
  da_array_destroy(&x);
  da_array_destroy(&y);
  return rc;
}

/* Checks two operands of one call: non-NULL, one context, out given. */
static int check_pair(da_array a, da_array b, da_array *out, const char *fn) {
  if (!a || !b)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  if (!out)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: out is NULL", fn);
  else if (b->ctx != ctx)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: the operands belong to different contexts", fn);
  if (out)
    *out = NULL;
  return da_agree(ctx, rc);
}

/* a reshaped to nd axes of shape (a new reference when a has that shape). */
static int reshaped(da_array a, int nd, const int64_t shape[], da_array *out) {
  return da_reshape(a, nd, shape, out);
}

/* ---------------------------------------------------------------- stacked matmul */

/* Stacked products run block by block: each output block holds whole m x n matrices of a run
 * of the broadcast batch, computed with the local BLAS from whole-matrix blocks of both
 * operands, which the scheduler brings to the block's owner. */
typedef struct {
  int nbatch; /* batch axes of the output */
} stacked_params;

/* The block of input x (batch axes aligned to the output's trailing batch axes, length-1
 * axes in one block) that output block index bidx reads. */
static int64_t stacked_block(const da_array c, const da_array x, const int64_t bidx[]) {
  int nb = c->ndim - 2, xb = x->ndim - 2;
  int64_t xi[DA_MAX_NDIM] = {0};
  for (int d = 0; d < xb; d++)
    xi[d] = x->numblocks[d] == 1 ? 0 : bidx[d + nb - xb];
  return da_block_ravel(x, xi);
}

static int64_t stacked_deps(const da_array c, int64_t b, int *input, int64_t *block, int64_t cap) {
  if (cap >= 2) {
    int64_t bidx[DA_MAX_NDIM];
    da_block_unravel(c, b, bidx);
    for (int i = 0; i < 2; i++)
      input[i] = i, block[i] = stacked_block(c, c->inputs[i], bidx);
  }
  return 2;
}

/* Element offset of batch entry e (C order over the output block's batch shape) within a
 * block of x of shape xs (the broadcast axes of length 1 stay at 0). */
static int64_t stacked_offset(const int64_t cs[], int nb, const int64_t xs[], int xb, int64_t e) {
  int64_t off = 0, mul = 1;
  for (int d = nb - 1; d >= 0; d--) {
    int64_t i = e % cs[d];
    e /= cs[d];
    int xd = d - (nb - xb);
    if (xd >= 0) {
      off += (xs[xd] == 1 ? 0 : i) * mul;
      mul *= xs[xd];
    }
  }
  return off;
}

static int stacked_run(const da_array c, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  int nb = c->ndim - 2;
  da_array x = c->inputs[0], y = c->inputs[1];
  int64_t cs[DA_MAX_NDIM], xs[DA_MAX_NDIM], ys[DA_MAX_NDIM];
  da_block_shape_of(c, b, cs);
  da_block_shape_of(x, ins[0].block, xs);
  da_block_shape_of(y, ins[1].block, ys);
  int64_t m = cs[nb], n = cs[nb + 1], k = xs[x->ndim - 1], count = 1;
  blas_single();
  for (int d = 0; d < nb; d++)
    count *= cs[d];
  for (int64_t e = 0; e < count; e++) {
    int64_t xo = stacked_offset(cs, nb, xs, x->ndim - 2, e) * m * k;
    int64_t yo = stacked_offset(cs, nb, ys, y->ndim - 2, e) * k * n;
    gemm_any(c->dtype, m, n, k, (const char *)ins[0].data + xo * (int64_t)c->elsize, k ? k : 1,
             (const char *)ins[1].data + yo * (int64_t)c->elsize, n ? n : 1, false,
             (char *)out + e * m * n * (int64_t)c->elsize, n ? n : 1);
  }
  return DA_OK;
}

static const da_layer_ops stacked_ops = {
    .name = "matmul", .deps = stacked_deps, .run = stacked_run};

/* x cast to dt and rechunked: batch axis d (aligned to the output's) in list[d] where x has
 * the full length, else whole; the matrix axes whole. */
static int stacked_operand(da_array x, da_dtype dt, int nb, const int64_t *const list[],
                           const int64_t nlist[], da_array *out) {
  da_array y = NULL;
  DA_TRY(x->dtype == dt ? da_array_ref(x, &y) : da_astype(x, dt, &y));
  da_chunks ck = {0};
  int xb = x->ndim - 2;
  for (int d = 0; d < x->ndim; d++) {
    int od = d + nb - xb;
    if (d < xb && x->shape[d] > 1 && list[od]) {
      ck.list[d] = list[od];
      ck.nlist[d] = nlist[od];
    } else {
      ck.size[d] = DA_CHUNK_WHOLE;
    }
  }
  int rc = da_rechunk(y, &ck, out);
  da_array_destroy(&y);
  return rc;
}

static int la_matmul_stacked(da_array a, da_array b, da_array *out) {
  da_ctx ctx = a->ctx;
  int64_t k = a->shape[a->ndim - 1];
  da_array a2 = NULL, b2 = NULL, x = NULL, y = NULL, c = NULL;
  int rc = a->ndim == 1 ? reshaped(a, 2, (int64_t[]){1, k}, &a2) : da_array_ref(a, &a2);
  if (!rc)
    rc = b->ndim == 1 ? reshaped(b, 2, (int64_t[]){k, 1}, &b2) : da_array_ref(b, &b2);
  if (rc)
    goto done;
  /* The broadcast batch shape, and the chunks along it of an operand with the full length. */
  int nb = (a2->ndim > b2->ndim ? a2->ndim : b2->ndim) - 2;
  int64_t shape[DA_MAX_NDIM], nlist[DA_MAX_NDIM] = {0};
  const int64_t *list[DA_MAX_NDIM] = {0};
  char sa[128], sb[128];
  for (int d = 0; d < nb && !rc; d++) {
    int da = d - (nb - (a2->ndim - 2)), db = d - (nb - (b2->ndim - 2));
    int64_t la = da >= 0 ? a2->shape[da] : 1, lb = db >= 0 ? b2->shape[db] : 1;
    if (la != lb && la != 1 && lb != 1)
      rc = DA_ERR(ctx, DA_ERR_SHAPE, "matmul: batch axes of %s and %s do not broadcast",
                  da_shape_str(a->ndim, a->shape, sa, sizeof sa),
                  da_shape_str(b->ndim, b->shape, sb, sizeof sb));
    shape[d] = la == 1 ? lb : la;
    if (la == shape[d] && la > 1)
      list[d] = a2->chunks[da], nlist[d] = a2->numblocks[da];
    else if (lb == shape[d] && lb > 1)
      list[d] = b2->chunks[db], nlist[d] = b2->numblocks[db];
  }
  rc = da_agree(ctx, rc);
  if (rc)
    goto done;
  int64_t m = a2->shape[a2->ndim - 2], n = b2->shape[b2->ndim - 1];
  da_dtype dt = DA_FLOAT64, res = DA_FLOAT64;
  rc = da_agree(ctx, product_dtype(a, b, &dt, &res));
  if (!rc)
    rc = stacked_operand(a2, dt, nb, list, nlist, &x);
  if (!rc)
    rc = stacked_operand(b2, dt, nb, list, nlist, &y);
  if (rc)
    goto done;
  int64_t *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM], whole[2][1] = {{m}, {n}};
  for (int d = 0; d < nb; d++) {
    ck[d] = list[d] ? (int64_t *)list[d] : &shape[d];
    nck[d] = list[d] ? nlist[d] : 1;
  }
  shape[nb] = m, shape[nb + 1] = n;
  ck[nb] = whole[0], ck[nb + 1] = whole[1], nck[nb] = nck[nb + 1] = 1;
  rc = da_node_new(ctx, nb + 2, shape, (const int64_t *const *)ck, nck, dt, da_dtype_size(dt), NULL,
                   &stacked_ops, NULL, 2, (const da_array[]){x, y}, &c);
  if (!rc) {
    /* The added axes of 1-d operands go again. */
    int nd = nb;
    if (a->ndim > 1)
      shape[nd++] = m;
    if (b->ndim > 1)
      shape[nd++] = n;
    da_array r = NULL;
    rc = nd == nb + 2 ? da_array_ref(c, &r) : reshaped(c, nd, shape, &r);
    if (!rc)
      rc = product_result(&r, res, out);
  }
done:
  da_array_destroy(&c);
  da_array_destroy(&x);
  da_array_destroy(&y);
  da_array_destroy(&a2);
  da_array_destroy(&b2);
  return rc;
}

int da_matmul(da_array a, da_array b, da_array *out) {
  DA_TRY(check_pair(a, b, out, "matmul"));
  da_ctx ctx = a->ctx;
  char sa[128], sb[128];
  int rc = DA_OK;
  if (a->ndim == 0 || b->ndim == 0)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "matmul: operand %d is 0-d; use da_multiply for scalars",
                a->ndim == 0 ? 0 : 1);
  int64_t ka = rc ? 0 : a->shape[a->ndim - 1],
          kb = rc ? 0 : b->shape[b->ndim > 1 ? b->ndim - 2 : 0];
  if (!rc && ka != kb)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "matmul: inner dimensions differ: %s @ %s (%lld != %lld)",
                da_shape_str(a->ndim, a->shape, sa, sizeof sa),
                da_shape_str(b->ndim, b->shape, sb, sizeof sb), (long long)ka, (long long)kb);
  DA_TRY(da_agree(ctx, rc));
  if (a->ndim > 2 || b->ndim > 2)
    return la_matmul_stacked(a, b, out);
  /* 1-D operands as a row (a) or a column (b), removed from the result again. */
  da_array a2 = NULL, b2 = NULL, c = NULL;
  int64_t m = a->ndim == 2 ? a->shape[0] : 1, n = b->ndim == 2 ? b->shape[1] : 1;
  rc = reshaped(a, 2, (int64_t[]){m, ka}, &a2);
  if (!rc)
    rc = reshaped(b, 2, (int64_t[]){ka, n}, &b2);
  if (!rc)
    rc = matmul_2d(a2, b2, &c);
  if (!rc) {
    int64_t shape[2];
    int nd = 0;
    if (a->ndim == 2)
      shape[nd++] = m;
    if (b->ndim == 2)
      shape[nd++] = n;
    rc = nd == 2 ? da_array_ref(c, out) : reshaped(c, nd, shape, out);
  }
  da_array_destroy(&c);
  da_array_destroy(&a2);
  da_array_destroy(&b2);
  return rc;
}

/* Axis ax of an nd-d array, negative counting from the end; -1 when out of range. */
static int norm_axis(int ax, int nd) {
  if (ax < 0)
    ax += nd;
  return ax >= 0 && ax < nd ? ax : -1;
}

int da_tensordot(da_array a, da_array b, int naxes, const int axes_a[], const int axes_b[],
                 da_array *out) {
  DA_TRY(check_pair(a, b, out, "tensordot"));
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  int xa[DA_MAX_NDIM], xb[DA_MAX_NDIM];
  bool ua[DA_MAX_NDIM] = {0}, ub[DA_MAX_NDIM] = {0};
  if (naxes < 0 || naxes > a->ndim || naxes > b->ndim)
    rc = DA_ERR(ctx, DA_ERR_ARG, "tensordot: %d axes for %d-d and %d-d operands", naxes, a->ndim,
                b->ndim);
  else if (naxes > 0 && (!axes_a || !axes_b))
    rc = DA_ERR(ctx, DA_ERR_ARG, "tensordot: axes_a or axes_b is NULL");
  for (int i = 0; i < naxes && !rc; i++) {
    xa[i] = norm_axis(axes_a[i], a->ndim), xb[i] = norm_axis(axes_b[i], b->ndim);
    if (xa[i] < 0 || xb[i] < 0)
      rc = DA_ERR(ctx, DA_ERR_ARG, "tensordot: axis pair %d (%d, %d) is out of range", i, axes_a[i],
                  axes_b[i]);
    else if (ua[xa[i]] || ub[xb[i]])
      rc = DA_ERR(ctx, DA_ERR_ARG, "tensordot: axis pair %d repeats an axis", i);
    else if (a->shape[xa[i]] != b->shape[xb[i]])
      rc = DA_ERR(ctx, DA_ERR_SHAPE, "tensordot: axis %d of a has length %lld, axis %d of b %lld",
                  xa[i], (long long)a->shape[xa[i]], xb[i], (long long)b->shape[xb[i]]);
    else
      ua[xa[i]] = ub[xb[i]] = true;
  }
  DA_TRY(da_agree(ctx, rc));
  /* a as (free axes, summed axes) and b as (summed axes, free axes), each flattened to a
   * matrix; the product's rows and columns unflatten to a's then b's free axes. */
  int pa[DA_MAX_NDIM], pb[DA_MAX_NDIM], na = 0, nb = 0, nd = 0;
  int64_t shape[2 * DA_MAX_NDIM], m = 1, n = 1, k = 1;
  for (int d = 0; d < a->ndim; d++)
    if (!ua[d])
      pa[na++] = d, m *= a->shape[d], shape[nd++] = a->shape[d];
  for (int i = 0; i < naxes; i++)
    pa[na++] = xa[i], pb[nb++] = xb[i], k *= a->shape[xa[i]];
  for (int d = 0; d < b->ndim; d++)
    if (!ub[d])
      pb[nb++] = d, n *= b->shape[d], shape[nd++] = b->shape[d];
  if (nd > DA_MAX_NDIM)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_SHAPE,
                                "tensordot: the result has %d axes, more "
                                "than %d",
                                nd, DA_MAX_NDIM));
  da_array ta = NULL, tb = NULL, a2 = NULL, b2 = NULL, c = NULL;
  rc = a->ndim ? da_transpose(a, pa, &ta) : da_array_ref(a, &ta);
  if (!rc)
    rc = b->ndim ? da_transpose(b, pb, &tb) : da_array_ref(b, &tb);
  if (!rc)
    rc = reshaped(ta, 2, (int64_t[]){m, k}, &a2);
  if (!rc)
    rc = reshaped(tb, 2, (int64_t[]){k, n}, &b2);
  if (!rc)
    rc = matmul_2d(a2, b2, &c);
  if (!rc)
    rc = reshaped(c, nd, shape, out);
  da_array_destroy(&c);
  da_array_destroy(&a2);
  da_array_destroy(&b2);
  da_array_destroy(&ta);
  da_array_destroy(&tb);
  return rc;
}

int da_dot(da_array a, da_array b, da_array *out) {
  DA_TRY(check_pair(a, b, out, "dot"));
  if (a->ndim == 0 || b->ndim == 0)
    return da_multiply(da_value_array(a), da_value_array(b), out);
  if (a->ndim <= 2 && b->ndim <= 2)
    return da_matmul(a, b, out);
  /* NumPy: a sum over a's last axis and b's second to last (its only one when 1-d). */
  return da_tensordot(a, b, 1, (const int[]){-1}, (const int[]){b->ndim > 1 ? -2 : -1}, out);
}

int da_vdot(da_array a, da_array b, da_array *out) {
  DA_TRY(check_pair(a, b, out, "vdot"));
  da_ctx ctx = a->ctx;
  if (a->size != b->size)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_SHAPE, "vdot: %lld and %lld elements differ",
                                (long long)a->size, (long long)b->size));
  da_array ra = NULL, rb = NULL, p = NULL;
  int rc = da_ravel(a, &ra);
  if (!rc)
    rc = da_ravel(b, &rb);
  if (!rc)
    rc = da_multiply(da_value_array(ra), da_value_array(rb), &p);
  if (!rc)
    rc = da_sum(p, 0, NULL, 0, out);
  da_array_destroy(&p);
  da_array_destroy(&ra);
  da_array_destroy(&rb);
  return rc;
}

int da_outer(da_array a, da_array b, da_array *out) {
  DA_TRY(check_pair(a, b, out, "outer"));
  da_array ra = NULL, rb = NULL;
  int rc = reshaped(a, 2, (int64_t[]){a->size, 1}, &ra);
  if (!rc)
    rc = reshaped(b, 2, (int64_t[]){1, b->size}, &rb);
  if (!rc)
    rc = da_multiply(da_value_array(ra), da_value_array(rb), out);
  da_array_destroy(&ra);
  da_array_destroy(&rb);
  return rc;
}

int da_diagonal(da_array a, int64_t offset, int axis1, int axis2, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  int x1 = norm_axis(axis1, a->ndim), x2 = norm_axis(axis2, a->ndim);
  if (!out)
    rc = DA_ERR(ctx, DA_ERR_ARG, "diagonal: out is NULL");
  else if (a->ndim < 2)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "diagonal: the array is %d-d, it needs 2 axes", a->ndim);
  else if (x1 < 0 || x2 < 0)
    rc = DA_ERR(ctx, DA_ERR_ARG, "diagonal: axis %d or %d is out of range for %d axes", axis1,
                axis2, a->ndim);
  else if (x1 == x2)
    rc = DA_ERR(ctx, DA_ERR_ARG, "diagonal: axis1 and axis2 are both axis %d", x1);
  if (out)
    *out = NULL;
  DA_TRY(da_agree(ctx, rc));
  /* The other axes, then (axis1, axis2) flattened; the diagonal is every (n2 + 1)-th element
   * of the last axis from its first one. */
  int perm[DA_MAX_NDIM], nd = 0;
  int64_t shape[DA_MAX_NDIM];
  for (int d = 0; d < a->ndim; d++)
    if (d != x1 && d != x2)
      perm[nd] = d, shape[nd++] = a->shape[d];
  perm[nd] = x1, perm[nd + 1] = x2;
  int64_t n1 = a->shape[x1], n2 = a->shape[x2];
  int64_t i0 = offset < 0 ? -offset : 0, j0 = offset > 0 ? offset : 0;
  int64_t len = n1 - i0 < n2 - j0 ? n1 - i0 : n2 - j0;
  if (len <= 0) {
    shape[nd] = 0;
    return da_zeros(ctx, nd + 1, shape, NULL, a->dtype, out);
  }
  shape[nd] = n1 * n2;
  da_array t = NULL, flat = NULL, idx = NULL;
  rc = da_transpose(a, perm, &t);
  if (!rc)
    rc = reshaped(t, nd + 1, shape, &flat);
  double first = (double)(i0 * n2 + j0), step = (double)(n2 + 1);
  if (!rc)
    rc = da_arange(ctx, first, first + (double)len * step - step / 2, step, NULL, DA_INT64, &idx);
  if (!rc)
    rc = da_take(flat, idx, nd, out);
  da_array_destroy(&idx);
  da_array_destroy(&flat);
  da_array_destroy(&t);
  return rc;
}

int da_trace(da_array a, int64_t offset, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_array d = NULL;
  DA_TRY(da_diagonal(a, offset, 0, 1, &d));
  int rc = da_sum(d, 1, (const int[]){d->ndim - 1}, 0, out);
  da_array_destroy(&d);
  return rc;
}
