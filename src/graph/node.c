/* Lazy graph nodes: creation, walks in dependency order, tiles of fused producers,
 * and the element-run iteration that generators and copies use. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

int da_node_new(da_ctx ctx, int ndim, const int64_t shape[], const int64_t *const chunks[],
                const int64_t nchunks[], da_dtype dt, size_t elsize, const da_layout *layout,
                const da_layer_ops *ops, void *params, int ninputs, const da_array inputs[],
                da_array *out) {
  *out = NULL;
  da_array a = NULL;
  int rc = da_array_new(ctx, ndim, shape, chunks, nchunks, dt, elsize, layout, &a);
  if (!rc && ninputs > 0 && !(a->inputs = calloc((size_t)ninputs, sizeof(da_array))))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate node inputs");
  if (rc) {
    if (ops && ops->free_params && params)
      ops->free_params(params);
    else
      free(params);
    da_array_destroy(&a);
    return da_agree(ctx, rc);
  }
  a->ops = ops;
  a->params = params;
  a->ninputs = ninputs;
  for (int i = 0; i < ninputs; i++) {
    inputs[i]->refcount++;
    a->inputs[i] = inputs[i];
  }
  rc = da_agree(ctx, DA_OK);
  if (rc) {
    da_array_destroy(&a);
    return rc;
  }
  *out = a;
  return DA_OK;
}

int da_graph_collect(da_array root, da_array **nodes, int64_t *n) {
  da_ctx ctx = root->ctx;
  uint64_t visit = ++ctx->visit;
  int64_t cap = 16, len = 0, depth = 0, scap = 16;
  da_array *list = malloc((size_t)cap * sizeof *list);
  struct frame {
    da_array a;
    int next;
  } *stack = malloc((size_t)scap * sizeof *stack);
  if (!list || !stack) {
    free(list);
    free(stack);
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a graph walk");
  }
  root->visit = visit;
  stack[depth++] = (struct frame){root, 0};
  while (depth > 0) {
    struct frame *f = &stack[depth - 1];
    da_array a = f->a;
    if (!a->materialized && f->next < a->ninputs) {
      da_array in = a->inputs[f->next++];
      if (in->visit == visit)
        continue;
      in->visit = visit;
      if (depth == scap) {
        struct frame *s = realloc(stack, (size_t)(scap *= 2) * sizeof *stack);
        if (!s)
          goto nomem;
        stack = s;
      }
      stack[depth++] = (struct frame){in, 0};
      continue;
    }
    if (len == cap) {
      da_array *l = realloc(list, (size_t)(cap *= 2) * sizeof *list);
      if (!l)
        goto nomem;
      list = l;
    }
    a->topo = len;
    list[len++] = a;
    depth--;
  }
  free(stack);
  *nodes = list;
  *n = len;
  return DA_OK;
nomem:
  free(list);
  free(stack);
  return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a graph walk");
}

void da_tile_fail(da_ctx ctx, int code, const char *msg) {
  if (!ctx->tile_rc)
    ctx->tile_rc = DA_ERR(ctx, code, "%s", msg);
}

const char *da_input_at(const da_input *in, const da_array x, const int64_t c[]) {
  int64_t off = 0, bidx[DA_MAX_NDIM];
  if (in->part) {
    for (int d = 0; d < x->ndim; d++)
      off = off * in->n[d] + (c[d] - in->lo[d]);
  } else {
    da_block_unravel(x, in->block, bidx);
    for (int d = 0; d < x->ndim; d++)
      off = off * x->chunks[d][bidx[d]] + c[d];
  }
  return (const char *)in->data + off * (int64_t)x->elsize;
}

const void *da_input_tile(da_input *in, int64_t start, int64_t count) {
  if (in->data)
    return (const char *)in->data + start * (int64_t)in->node->elsize;
  da_array n = in->node;
  if (n->ops->gather) {
    const void *kept =
        n->ops->peek ? n->ops->peek(n, in->block, in->sub, in->nsub, start, count) : NULL;
    if (kept)
      return kept;
    n->ops->gather(n, in->block, in->sub, in->nsub, start, count, in->scratch);
    return in->scratch;
  }
  const void *tiles[16]; /* DA_MAX_FUSED_INPUTS */
  void *out = in->scratch;
  for (int i = 0; i < n->ninputs; i++) {
    tiles[i] = da_input_tile(&in->sub[i], start, count);
    /* Over the buffer a fused producer left its tile in: a chain then works in one
     * cache-resident buffer. */
    if (n->ops->in_place && !in->sub[i].data && in->sub[i].node->elsize == n->elsize)
      out = (void *)tiles[i];
  }
  n->ops->tile(n, in->block, start, count, tiles, out);
  return out;
}

void da_block_runs(const da_array a, int64_t b, int64_t start, int64_t count, da_run_fn fn,
                   void *ud) {
  int nd = a->ndim;
  int64_t bshape[DA_MAX_NDIM], off[DA_MAX_NDIM], idx[DA_MAX_NDIM], g[DA_MAX_NDIM];
  da_block_shape_of(a, b, bshape);
  da_block_offset_of(a, b, off);
  if (nd == 0) {
    if (count > 0)
      fn(ud, 0, g, 0, 1);
    return;
  }
  int64_t p = start;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = bshape[d] ? p % bshape[d] : 0;
    p = bshape[d] ? p / bshape[d] : 0;
  }
  int64_t pos = start, end = start + count;
  while (pos < end) {
    int64_t len = bshape[nd - 1] - idx[nd - 1];
    if (len > end - pos)
      len = end - pos;
    int64_t glin = 0;
    for (int d = 0; d < nd; d++) {
      g[d] = off[d] + idx[d];
      glin = glin * a->shape[d] + g[d];
    }
    fn(ud, pos, g, glin, len);
    pos += len;
    idx[nd - 1] += len;
    for (int d = nd - 1; d > 0 && idx[d] >= bshape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

struct copy_whole {
  char *block, *whole;
  size_t elsize;
  bool to_whole;
};

static void copy_run(void *ud, int64_t offset, const int64_t gidx[], int64_t glin, int64_t len) {
  (void)gidx;
  struct copy_whole *c = ud;
  char *bp = c->block + offset * (int64_t)c->elsize, *wp = c->whole + glin * (int64_t)c->elsize;
  if (c->to_whole)
    memcpy(wp, bp, (size_t)len * c->elsize);
  else
    memcpy(bp, wp, (size_t)len * c->elsize);
}

void da_block_copy_whole(const da_array a, int64_t b, void *block, void *whole, bool to_whole) {
  struct copy_whole c = {block, whole, a->elsize, to_whole};
  da_block_runs(a, b, 0, da_block_size_of(a, b), copy_run, &c);
}
