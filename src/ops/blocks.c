/* Block selection: arr.blocks[i, j] and ranges of block indices as a lazy sub-array.
 * Each output block is one input block, moved by the scheduler when owners differ. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t start[DA_MAX_NDIM];
  bool empty; /* an empty range on some axis */
} blocks_params;

static int64_t blocks_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  const blocks_params *p = a->params;
  if (p->empty)
    return 0;
  if (cap < 1)
    return 1;
  int64_t idx[DA_MAX_NDIM];
  da_block_unravel(a, b, idx);
  for (int d = 0; d < a->ndim; d++)
    idx[d] += p->start[d];
  input[0] = 0;
  block[0] = da_block_ravel(a->inputs[0], idx);
  return 1;
}

static int blocks_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  if (nins > 0)
    memcpy(out, ins[0].data, (size_t)da_block_size_of(a, b) * a->elsize);
  return DA_OK;
}

static const da_layer_ops blocks_ops = {.name = "blocks", .deps = blocks_deps, .run = blocks_run};

int da_blocks(da_array x, const int64_t start[], const int64_t stop[], da_array *out) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  int nd = x->ndim;
  if (nd > 0 && (!start || !stop))
    return DA_ERR(ctx, DA_ERR_ARG, "start or stop is NULL");
  blocks_params *p = calloc(1, sizeof *p);
  if (!p)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  int64_t shape[DA_MAX_NDIM], nck[DA_MAX_NDIM], zero = 0;
  const int64_t *ck[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++) {
    int64_t nb = x->numblocks[d];
    int64_t s = start[d] < 0 ? start[d] + nb : start[d], e = stop[d] < 0 ? stop[d] + nb : stop[d];
    if (s < 0 || e > nb || s > e) {
      free(p);
      return DA_ERR(ctx, DA_ERR_BOUNDS, "block range %lld:%lld on axis %d is outside 0..%lld",
                    (long long)start[d], (long long)stop[d], d, (long long)nb);
    }
    p->start[d] = s;
    if (s == e) {
      p->empty = true;
      shape[d] = 0, ck[d] = &zero, nck[d] = 1;
    } else {
      shape[d] = x->offsets[d][e] - x->offsets[d][s];
      ck[d] = x->chunks[d] + s;
      nck[d] = e - s;
    }
  }
  return da_node_new(ctx, nd, shape, ck, nck, x->dtype, x->elsize, NULL, &blocks_ops, p, 1, &x,
                     out);
}

int da_block(da_array x, const int64_t bidx[], da_array *out) {
  if (!x)
    return DA_ERR_ARG;
  int nd = x->ndim;
  if (nd > 0 && !bidx)
    return DA_ERR(x->ctx, DA_ERR_ARG, "block index is NULL");
  int64_t s[DA_MAX_NDIM], e[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++) {
    int64_t i = bidx[d] < 0 ? bidx[d] + x->numblocks[d] : bidx[d];
    if (i < 0 || i >= x->numblocks[d])
      return DA_ERR(x->ctx, DA_ERR_BOUNDS, "block index %lld on axis %d is outside 0..%lld",
                    (long long)bidx[d], d, (long long)x->numblocks[d] - 1);
    s[d] = i, e[d] = i + 1;
  }
  return da_blocks(x, s, e, out);
}
