/* Array metadata: chunk grids, the block-cyclic process grid, ownership of blocks,
 * reference counting. Everything here is local and deterministic, so ranks agree. */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int da_check_shape(da_ctx ctx, int ndim, const int64_t shape[], da_dtype dt) {
  if (!ctx)
    return DA_ERR_ARG;
  if (ndim < 0 || ndim > DA_MAX_NDIM)
    return DA_ERR(ctx, DA_ERR_SHAPE, "ndim %d is outside 0..%d", ndim, DA_MAX_NDIM);
  if (ndim > 0 && !shape)
    return DA_ERR(ctx, DA_ERR_ARG, "shape is NULL");
  if (!da_dtype_valid(dt))
    return DA_ERR(ctx, DA_ERR_DTYPE, "unknown dtype %d", (int)dt);
  int64_t size = 1;
  for (int a = 0; a < ndim; a++) {
    if (shape[a] < 0)
      return DA_ERR(ctx, DA_ERR_SHAPE, "shape[%d] = %lld is negative", a, (long long)shape[a]);
    if (__builtin_mul_overflow(size, shape[a], &size))
      return DA_ERR(ctx, DA_ERR_OVERFLOW, "the element count of the shape overflows 64 bits");
  }
  int64_t bytes;
  if (__builtin_mul_overflow(size, (int64_t)da_dtype_size(dt), &bytes))
    return DA_ERR(ctx, DA_ERR_OVERFLOW, "the byte count of the array overflows 64 bits");
  return DA_OK;
}

/* Near-cubic chunks of target elements over the auto axes, balanced along each axis. */
static void auto_chunk_sizes(int ndim, const int64_t shape[], const bool is_auto[], double budget,
                             int64_t size[]) {
  bool done[DA_MAX_NDIM] = {0};
  int left = 0;
  for (int a = 0; a < ndim; a++)
    left += is_auto[a];
  for (bool changed = true; changed && left > 0;) {
    changed = false;
    double ideal = pow(budget, 1.0 / left);
    for (int a = 0; a < ndim; a++) {
      if (!is_auto[a] || done[a] || (double)shape[a] > ideal)
        continue;
      size[a] = shape[a] > 0 ? shape[a] : 1;
      budget = budget / (double)size[a] < 1 ? 1 : budget / (double)size[a];
      done[a] = true, left--, changed = true;
    }
  }
  double ideal = left > 0 ? pow(budget, 1.0 / left) : 1;
  for (int a = 0; a < ndim; a++) {
    if (!is_auto[a] || done[a])
      continue;
    int64_t s = ideal < 1 ? 1 : (int64_t)ideal;
    int64_t n = (shape[a] + s - 1) / s;
    size[a] = (shape[a] + n - 1) / n;
  }
}

int da_chunks_resolve(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *req,
                      size_t elsize, int64_t *chunks[], int64_t nchunks[]) {
  int64_t size[DA_MAX_NDIM];
  bool is_auto[DA_MAX_NDIM] = {0}, any_auto = false;
  for (int a = 0; a < ndim; a++)
    chunks[a] = NULL;
  double fixed = 1;
  for (int a = 0; a < ndim; a++) {
    if (req && req->list[a]) {
      if (req->nlist[a] <= 0)
        return DA_ERR(ctx, DA_ERR_CHUNKS,
                      "axis %d: an explicit chunk list needs at least one entry", a);
      int64_t sum = 0, largest = 0;
      for (int64_t i = 0; i < req->nlist[a]; i++) {
        int64_t c = req->list[a][i];
        if (c < 0)
          return DA_ERR(ctx, DA_ERR_CHUNKS, "axis %d: chunk %lld has negative length %lld", a,
                        (long long)i, (long long)c);
        if (__builtin_add_overflow(sum, c, &sum))
          return DA_ERR(ctx, DA_ERR_OVERFLOW, "axis %d: chunk lengths overflow 64 bits", a);
        largest = c > largest ? c : largest;
      }
      if (sum != shape[a])
        return DA_ERR(ctx, DA_ERR_CHUNKS, "axis %d: chunks sum to %lld but the shape is %lld", a,
                      (long long)sum, (long long)shape[a]);
      size[a] = -3; /* explicit */
      fixed *= largest > 0 ? (double)largest : 1;
      continue;
    }
    int64_t s = req ? req->size[a] : DA_CHUNK_AUTO;
    if (s == DA_CHUNK_AUTO) {
      is_auto[a] = any_auto = true;
      continue;
    }
    if (s == DA_CHUNK_WHOLE)
      s = shape[a] > 0 ? shape[a] : 1;
    if (s <= 0)
      return DA_ERR(ctx, DA_ERR_CHUNKS,
                    "axis %d: chunk size %lld must be positive, DA_CHUNK_WHOLE or DA_CHUNK_AUTO", a,
                    (long long)s);
    size[a] = s < shape[a] ? s : (shape[a] > 0 ? shape[a] : 1);
    fixed *= (double)size[a];
  }
  if (any_auto) {
    int64_t target = req && req->auto_bytes > 0 ? req->auto_bytes : ctx->chunk_bytes;
    double budget = (double)target / (double)elsize / fixed;
    auto_chunk_sizes(ndim, shape, is_auto, budget < 1 ? 1 : budget, size);
  }
  int64_t total = 1;
  for (int a = 0; a < ndim; a++) {
    int64_t n = size[a] == -3   ? req->nlist[a]
                : shape[a] == 0 ? 1
                                : (shape[a] + size[a] - 1) / size[a];
    if (__builtin_mul_overflow(total, n, &total))
      return DA_ERR(ctx, DA_ERR_OVERFLOW, "the number of blocks overflows 64 bits");
    nchunks[a] = n;
  }
  for (int a = 0; a < ndim; a++) {
    chunks[a] = malloc((size_t)nchunks[a] * sizeof(int64_t));
    if (!chunks[a]) {
      for (int b = 0; b < a; b++)
        free(chunks[b]), chunks[b] = NULL;
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %lld chunk lengths on axis %d",
                    (long long)nchunks[a], a);
    }
    if (size[a] == -3) {
      memcpy(chunks[a], req->list[a], (size_t)nchunks[a] * sizeof(int64_t));
    } else if (shape[a] == 0) {
      chunks[a][0] = 0;
    } else {
      for (int64_t i = 0; i < nchunks[a]; i++) {
        int64_t rest = shape[a] - i * size[a];
        chunks[a][i] = rest < size[a] ? rest : size[a];
      }
    }
  }
  return DA_OK;
}

/* Like MPI_Dims_create, but a factor goes to an axis with enough blocks for it when one has. */
void da_choose_grid(int nprocs, int ndim, const int64_t nb[], int grid[]) {
  for (int a = 0; a < ndim; a++)
    grid[a] = 1;
  if (ndim == 0)
    return;
  int factors[64], nf = 0;
  for (int n = nprocs, p = 2; n > 1 && nf < 64;) {
    if ((int64_t)p * p > n)
      p = n;
    if (n % p == 0)
      factors[nf++] = p, n /= p;
    else
      p++;
  }
  for (int i = nf - 1; i >= 0; i--) { /* largest factor first */
    int f = factors[i], best = -1, any = 0;
    double best_score = -1, any_score = -1;
    for (int a = 0; a < ndim; a++) {
      double score = (double)nb[a] / grid[a];
      if ((int64_t)grid[a] * f <= nb[a] && score > best_score)
        best = a, best_score = score;
      if (score > any_score)
        any = a, any_score = score;
    }
    grid[best >= 0 ? best : any] *= f;
  }
}

int da_array_new(da_ctx ctx, int ndim, const int64_t shape[], const int64_t *const chunks[],
                 const int64_t nchunks[], da_dtype dt, size_t elsize, const da_layout *layout,
                 da_array *out) {
  *out = NULL;
  da_array a = calloc(1, sizeof *a);
  if (!a)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an array handle");
  a->refcount = 1;
  a->ctx = ctx;
  ctx->narrays++; /* before any failure: da_array_destroy counts it down */
  a->ndim = ndim;
  a->dtype = dt;
  a->elsize = elsize;
  a->size = 1;
  a->nblocks = 1;
  for (int d = 0; d < ndim; d++) {
    a->shape[d] = shape[d];
    a->size *= shape[d];
    a->numblocks[d] = nchunks[d];
    a->nblocks *= nchunks[d];
    a->chunks[d] = malloc((size_t)nchunks[d] * sizeof(int64_t));
    a->offsets[d] = malloc((size_t)(nchunks[d] + 1) * sizeof(int64_t));
    if (!a->chunks[d] || !a->offsets[d]) {
      a->ndim = d + 1;
      da_array_destroy(&a);
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the chunk grid");
    }
    memcpy(a->chunks[d], chunks[d], (size_t)nchunks[d] * sizeof(int64_t));
    a->offsets[d][0] = 0;
    for (int64_t i = 0; i < nchunks[d]; i++) {
      a->offsets[d][i + 1] = a->offsets[d][i] + chunks[d][i];
      if (chunks[d][i] > a->chunksize[d])
        a->chunksize[d] = chunks[d][i];
    }
  }
  if (layout)
    memcpy(a->grid, layout->grid, (size_t)ndim * sizeof(int));
  else
    da_choose_grid(ctx->size, ndim, a->numblocks, a->grid);
  int stride = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    a->rstride[d] = layout && layout->rstride ? layout->rstride[d] : stride;
    stride *= a->grid[d];
  }
  a->rbase = layout && layout->rstride ? layout->rbase : 0;
  /* This rank's coordinates: its offset from rbase in the mixed radix of the strides,
   * largest first; a rank outside the grid owns nothing (coordinates -1). */
  int c[DA_MAX_NDIM], r = ctx->rank - a->rbase;
  bool member = r >= 0, used[DA_MAX_NDIM] = {0};
  for (int d = 0; d < ndim; d++)
    c[d] = 0;
  for (int k = 0; k < ndim && member; k++) {
    int best = -1;
    for (int d = 0; d < ndim; d++)
      if (!used[d] && a->grid[d] > 1 && (best < 0 || a->rstride[d] > a->rstride[best]))
        best = d;
    if (best < 0)
      break;
    used[best] = true;
    c[best] = r / a->rstride[best];
    member = c[best] < a->grid[best];
    r -= c[best] * a->rstride[best];
  }
  member = member && r == 0;
  a->nlocal = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    a->gridcoord[d] = member ? c[d] : -1;
    int64_t n = a->numblocks[d];
    a->gcoord[d] = malloc((size_t)n * sizeof(int));
    a->lpos[d] = malloc((size_t)n * sizeof(int64_t));
    a->lidx[d] = malloc((size_t)n * sizeof(int64_t));
    if (!a->gcoord[d] || !a->lpos[d] || !a->lidx[d]) {
      da_array_destroy(&a);
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the block layout");
    }
    const int *map = layout && layout->coord ? layout->coord[d] : NULL;
    int64_t k = 0;
    for (int64_t j = 0; j < n; j++) {
      a->gcoord[d][j] = map ? map[j] : (int)(j % a->grid[d]);
      a->lpos[d][j] = a->gcoord[d][j] == a->gridcoord[d] ? k : -1;
      if (a->gcoord[d][j] == a->gridcoord[d])
        a->lidx[d][k++] = j;
    }
    a->localcount[d] = k;
    a->nlocal *= k;
  }
  if (ndim == 0)
    a->nlocal = ctx->rank == a->rbase; /* a scalar lives on rank 0, or where it was cut */
  *out = a;
  return DA_OK;
}

int da_array_from_request(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *req,
                          da_dtype dt, da_array *out) {
  *out = NULL;
  DA_TRY(da_check_shape(ctx, ndim, shape, dt));
  int64_t *chunks[DA_MAX_NDIM], nchunks[DA_MAX_NDIM];
  DA_TRY(da_chunks_resolve(ctx, ndim, shape, req, da_dtype_size(dt), chunks, nchunks));
  int rc = da_array_new(ctx, ndim, shape, (const int64_t *const *)chunks, nchunks, dt,
                        da_dtype_size(dt), NULL, out);
  for (int a = 0; a < ndim; a++)
    free(chunks[a]);
  return rc;
}

void da_block_unravel(const da_array a, int64_t b, int64_t bidx[]) {
  for (int d = a->ndim - 1; d >= 0; d--) {
    bidx[d] = b % a->numblocks[d];
    b /= a->numblocks[d];
  }
}

int64_t da_block_ravel(const da_array a, const int64_t bidx[]) {
  int64_t b = 0;
  for (int d = 0; d < a->ndim; d++)
    b = b * a->numblocks[d] + bidx[d];
  return b;
}

int da_block_owner_of(const da_array a, int64_t b) {
  int r = a->rbase;
  int64_t c[DA_MAX_NDIM];
  da_block_unravel(a, b, c);
  for (int d = 0; d < a->ndim; d++)
    r += a->gcoord[d][c[d]] * a->rstride[d];
  return r;
}

int64_t da_block_local_index(const da_array a, int64_t b) {
  int64_t c[DA_MAX_NDIM], k = 0;
  da_block_unravel(a, b, c);
  for (int d = 0; d < a->ndim; d++)
    k = k * a->localcount[d] + a->lpos[d][c[d]];
  return k;
}

int64_t da_block_global_index(const da_array a, int64_t k) {
  int64_t b = 0, l[DA_MAX_NDIM];
  for (int d = a->ndim - 1; d >= 0; d--) {
    l[d] = k % a->localcount[d];
    k /= a->localcount[d];
  }
  for (int d = 0; d < a->ndim; d++)
    b = b * a->numblocks[d] + a->lidx[d][l[d]];
  return b;
}

void da_block_shape_of(const da_array a, int64_t b, int64_t shape[]) {
  int64_t c[DA_MAX_NDIM];
  da_block_unravel(a, b, c);
  for (int d = 0; d < a->ndim; d++)
    shape[d] = a->chunks[d][c[d]];
}

int64_t da_block_size_of(const da_array a, int64_t b) {
  int64_t c[DA_MAX_NDIM], n = 1;
  da_block_unravel(a, b, c);
  for (int d = 0; d < a->ndim; d++)
    n *= a->chunks[d][c[d]];
  return n;
}

int64_t da_chunk_of(const da_array a, int axis, int64_t i) {
  const int64_t *o = a->offsets[axis];
  int64_t lo = 0, hi = a->numblocks[axis] - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (o[mid] <= i)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

const char *da_shape_str(int n, const int64_t v[], char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "(");
  for (int d = 0; d < n && at < len; d++)
    at += (size_t)snprintf(buf + at, len - at, d ? ", %lld" : "%lld", (long long)v[d]);
  if (at < len)
    snprintf(buf + at, len - at, n == 1 ? ",)" : ")");
  return buf;
}

void da_block_offset_of(const da_array a, int64_t b, int64_t offset[]) {
  int64_t c[DA_MAX_NDIM];
  da_block_unravel(a, b, c);
  for (int d = 0; d < a->ndim; d++)
    offset[d] = a->offsets[d][c[d]];
}

void da_array_release_data(da_array a) {
  if (a->lblocks) {
    da_array_hold(a, -a->held);
    if (!a->borrowed)
      for (int64_t k = 0; k < a->nlocal; k++)
        free(a->lblocks[k]);
    free(a->lblocks);
    a->lblocks = NULL;
  }
  a->materialized = false;
  for (int i = 0; i < a->ninputs; i++)
    da_array_destroy(&a->inputs[i]);
  free(a->inputs);
  a->inputs = NULL;
  a->ninputs = 0;
  if (a->params) {
    if (a->ops && a->ops->free_params)
      a->ops->free_params(a->params);
    else
      free(a->params);
    a->params = NULL;
  }
  a->ops = NULL;
}

/* ---------------------------------------------------------------- public metadata */

da_ctx da_array_ctx(da_array a) {
  return a ? a->ctx : NULL;
}
int da_array_ndim(da_array a) {
  return a ? a->ndim : -1;
}
const int64_t *da_array_shape(da_array a) {
  return a ? a->shape : NULL;
}
da_dtype da_array_dtype(da_array a) {
  return a ? a->dtype : DA_NDTYPES;
}
int64_t da_array_size(da_array a) {
  return a ? a->size : 0;
}
int64_t da_array_nbytes(da_array a) {
  return a ? a->size * (int64_t)a->elsize : 0;
}
const int64_t *da_array_numblocks(da_array a) {
  return a ? a->numblocks : NULL;
}
int64_t da_array_nblocks(da_array a) {
  return a ? a->nblocks : 0;
}
const int64_t *da_array_chunksize(da_array a) {
  return a ? a->chunksize : NULL;
}
const int *da_array_procgrid(da_array a) {
  return a ? a->grid : NULL;
}
int da_array_is_lazy(da_array a) {
  return a && !a->materialized;
}
int64_t da_array_local_nblocks(da_array a) {
  return a ? a->nlocal : 0;
}

const int64_t *da_array_chunks(da_array a, int axis) {
  return a && axis >= 0 && axis < a->ndim ? a->chunks[axis] : NULL;
}

static int check_bidx(da_array a, const int64_t bidx[], int64_t *b) {
  if (!a)
    return DA_ERR_ARG;
  if (a->ndim > 0 && !bidx)
    return DA_ERR(a->ctx, DA_ERR_ARG, "block index is NULL");
  for (int d = 0; d < a->ndim; d++)
    if (bidx[d] < 0 || bidx[d] >= a->numblocks[d])
      return DA_ERR(a->ctx, DA_ERR_BOUNDS, "block index %lld on axis %d is outside 0..%lld",
                    (long long)bidx[d], d, (long long)a->numblocks[d] - 1);
  *b = da_block_ravel(a, bidx);
  return DA_OK;
}

int da_array_block_owner(da_array a, const int64_t bidx[], int *rank) {
  int64_t b;
  DA_TRY(check_bidx(a, bidx, &b));
  *rank = da_block_owner_of(a, b);
  return DA_OK;
}

int da_array_block_shape(da_array a, const int64_t bidx[], int64_t shape[]) {
  int64_t b;
  DA_TRY(check_bidx(a, bidx, &b));
  da_block_shape_of(a, b, shape);
  return DA_OK;
}

int da_array_block_offset(da_array a, const int64_t bidx[], int64_t offset[]) {
  int64_t b;
  DA_TRY(check_bidx(a, bidx, &b));
  da_block_offset_of(a, b, offset);
  return DA_OK;
}

int da_array_local_block_index(da_array a, int64_t k, int64_t bidx[]) {
  if (!a)
    return DA_ERR_ARG;
  if (k < 0 || k >= a->nlocal)
    return DA_ERR(a->ctx, DA_ERR_BOUNDS, "local block %lld is outside 0..%lld", (long long)k,
                  (long long)a->nlocal - 1);
  da_block_unravel(a, da_block_global_index(a, k), bidx);
  return DA_OK;
}

int da_array_local_block(da_array a, int64_t k, void **data) {
  if (!a || !data)
    return DA_ERR_ARG;
  if (!a->materialized)
    return DA_ERR(a->ctx, DA_ERR_ARG, "the array is lazy: persist it before taking its blocks");
  if (k < 0 || k >= a->nlocal)
    return DA_ERR(a->ctx, DA_ERR_BOUNDS, "local block %lld is outside 0..%lld", (long long)k,
                  (long long)a->nlocal - 1);
  *data = a->lblocks[k];
  return DA_OK;
}

int da_array_ref(da_array a, da_array *out) {
  if (!a || !out)
    return DA_ERR_ARG;
  a->refcount++;
  *out = a;
  return DA_OK;
}

int da_array_destroy(da_array *pa) {
  if (!pa || !*pa)
    return DA_OK;
  da_array a = *pa;
  *pa = NULL;
  if (--a->refcount > 0)
    return DA_OK;
  da_array_release_data(a);
  for (int d = 0; d < a->ndim; d++) {
    free(a->chunks[d]);
    free(a->offsets[d]);
    free(a->gcoord[d]);
    free(a->lpos[d]);
    free(a->lidx[d]);
  }
  a->ctx->narrays--;
  free(a);
  return DA_OK;
}
