/* Block functions: a user C function run on every block of one or more inputs aligned to one
 * block grid, with output chunks the caller declares; map_overlap passes halos through here. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 16

typedef struct {
  da_block_fn fn;
  void *user;
  void (*user_free)(void *);
  int nin;
  /* Per output axis: the input axis whose block index it takes (-1: a new axis). */
  int src[DA_MAX_NDIM];
  /* Per input axis, numblocks entries each, or NULL: halo sizes and own offsets. */
  int64_t *halo_lo[DA_MAX_NDIM], *halo_hi[DA_MAX_NDIM], *offset[DA_MAX_NDIM];
} map_params;

static void map_free(void *pp) {
  map_params *p = pp;
  if (p->user_free)
    p->user_free(p->user);
  for (int d = 0; d < DA_MAX_NDIM; d++) {
    free(p->halo_lo[d]);
    free(p->halo_hi[d]);
    free(p->offset[d]);
  }
  free(p);
}

/* The input block output block b comes from: its index along each followed input axis, 0
 * along dropped ones (they have one block). */
static int64_t source_block(const da_array a, int64_t b) {
  const map_params *p = a->params;
  da_array x = a->inputs[0];
  int64_t ob[DA_MAX_NDIM], ib[DA_MAX_NDIM] = {0};
  da_block_unravel(a, b, ob);
  for (int d = 0; d < a->ndim; d++)
    if (p->src[d] >= 0)
      ib[p->src[d]] = ob[d];
  return da_block_ravel(x, ib);
}

/* The same input block of every input, in input order: ins[i] is then input i. */
static int64_t map_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  int64_t src = source_block(a, b);
  for (int i = 0; i < a->ninputs && i < cap; i++)
    input[i] = i, block[i] = src;
  return a->ninputs;
}

/* Runs a block function on info (whose out_shape holds the declared shape, writable) and
 * reports its error, or a shape it changed, for the block info names. */
int da_block_call(da_ctx ctx, const char *op, da_block_fn fn, void *user, da_block_info *info) {
  int64_t declared[DA_MAX_NDIM];
  memcpy(declared, info->out_shape, (size_t)info->out_ndim * sizeof *declared);
  int urc = fn(info, user);
  bool reshaped = memcmp(info->out_shape, declared, (size_t)info->out_ndim * sizeof *declared);
  if (!urc && !reshaped)
    return DA_OK;
  char s1[400], s2[400], s3[400];
  const char *where = da_shape_str(info->in_ndim, info->block_index, s2, sizeof s2);
  if (urc)
    return DA_ERR(ctx, DA_ERR_USER, "%s: the block function returned %d on block %s", op, urc,
                  where);
  return DA_ERR(ctx, DA_ERR_SHAPE,
                "%s: the block function produced shape %s on block %s, but the declared "
                "output chunks give %s",
                op, da_shape_str(info->out_ndim, info->out_shape, s1, sizeof s1), where,
                da_shape_str(info->out_ndim, declared, s3, sizeof s3));
}

static int map_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const map_params *p = a->params;
  da_ctx ctx = a->ctx;
  da_array x = a->inputs[0];
  int nd = x->ndim;
  if (nins != p->nin)
    return DA_ERR(ctx, DA_ERR_INTERNAL, "map_blocks: %d inputs given, %d expected", nins, p->nin);
  const void *data[MAX_INPUTS];
  const int64_t *shapes[MAX_INPUTS];
  da_dtype dts[MAX_INPUTS];
  int64_t ib = ins[0].block, bidx[DA_MAX_NDIM], bshape[DA_MAX_NDIM], off[DA_MAX_NDIM];
  int64_t lo[DA_MAX_NDIM], hi[DA_MAX_NDIM], oshape[DA_MAX_NDIM];
  da_block_unravel(x, ib, bidx);
  da_block_shape_of(x, ib, bshape);
  for (int i = 0; i < nins; i++) {
    /* Not fusing, asking no regions: every input is a whole block in memory. */
    if (!ins[i].data || ins[i].part || ins[i].block != ib)
      return DA_ERR(ctx, DA_ERR_INTERNAL, "map_blocks: input %d of block %lld is not in memory", i,
                    (long long)b);
    data[i] = ins[i].data;
    shapes[i] = bshape; /* aligned inputs share one chunking */
    dts[i] = ins[i].node->dtype;
  }
  for (int d = 0; d < nd; d++) {
    lo[d] = p->halo_lo[d] ? p->halo_lo[d][bidx[d]] : 0;
    hi[d] = p->halo_hi[d] ? p->halo_hi[d][bidx[d]] : 0;
    off[d] = p->offset[d] ? p->offset[d][bidx[d]] : x->offsets[d][bidx[d]];
  }
  da_block_shape_of(a, b, oshape);
  da_block_info info = {.nin = nins,
                        .in = data,
                        .in_shape = shapes,
                        .in_dtype = dts,
                        .in_ndim = nd,
                        .out = out,
                        .out_ndim = a->ndim,
                        .out_shape = oshape,
                        .out_dtype = a->dtype,
                        .block_index = bidx,
                        .block_offset = off,
                        .halo_lo = lo,
                        .halo_hi = hi};
  return da_block_call(ctx, "map_blocks", p->fn, p->user, &info);
}

/* Aligned when the output's blocks number like the inputs' (the scheduler then hands block b
 * of each input to block b); otherwise deps name the one input block per input. Neither
 * fuses its inputs: the function needs whole blocks in memory. */
static const da_layer_ops map_aligned_ops = {
    .name = "map-blocks", .aligned = true, .run = map_run, .free_params = map_free};
static const da_layer_ops map_deps_ops = {
    .name = "map-blocks", .deps = map_deps, .run = map_run, .free_params = map_free};

/* The output chunks, shape and layout out declares over the aligned inputs x (NULL: x's);
 * ck[d] is malloc'ed. Local: the same on every rank. */
static int out_layout(da_array x, const da_map_out *spec, int *ndim, int64_t shape[], int64_t *ck[],
                      int64_t nck[], int grid[], int *coord[], int rstride[], int *rbase,
                      int src[]) {
  da_ctx ctx = x->ctx;
  da_map_out same = {.ndim = x->ndim};
  for (int d = 0; d < x->ndim; d++)
    same.src[d] = d;
  const da_map_out *o = spec ? spec : &same;
  if (o->ndim < 0 || o->ndim > DA_MAX_NDIM)
    return DA_ERR(ctx, DA_ERR_SHAPE, "map_blocks: output ndim %d is outside 0..%d", o->ndim,
                  DA_MAX_NDIM);
  bool followed[DA_MAX_NDIM] = {0};
  for (int d = 0; d < o->ndim; d++) {
    int m = o->src[d];
    if (m < -1 || m >= x->ndim)
      return DA_ERR(ctx, DA_ERR_ARG,
                    "map_blocks: output axis %d follows input axis %d, outside -1..%d", d, m,
                    x->ndim - 1);
    if (m >= 0 && followed[m])
      return DA_ERR(ctx, DA_ERR_ARG, "map_blocks: input axis %d is followed by two output axes", m);
    if (m >= 0)
      followed[m] = true;
    if (o->size[d] < 0)
      return DA_ERR(ctx, DA_ERR_CHUNKS, "map_blocks: output axis %d has chunk size %lld < 0", d,
                    (long long)o->size[d]);
    if (m < 0 && (o->size[d] <= 0 || o->list[d]))
      return DA_ERR(ctx, DA_ERR_CHUNKS,
                    "map_blocks: new output axis %d needs a length size[%d] > 0 and no list", d, d);
    if (m >= 0 && o->size[d] > 0 && o->list[d])
      return DA_ERR(ctx, DA_ERR_CHUNKS,
                    "map_blocks: output axis %d gives both a chunk size and a list", d);
  }
  for (int m = 0; m < x->ndim; m++)
    if (!followed[m] && x->numblocks[m] != 1)
      return DA_ERR(ctx, DA_ERR_CHUNKS,
                    "map_blocks: input axis %d is dropped from the output but has %lld blocks "
                    "(a dropped axis must have one)",
                    m, (long long)x->numblocks[m]);
  *ndim = o->ndim;
  *rbase = x->rbase;
  for (int m = 0; m < x->ndim; m++)
    if (!followed[m]) /* its one block's grid coordinate is fixed */
      *rbase += x->gcoord[m][0] * x->rstride[m];
  for (int d = 0; d < o->ndim; d++) {
    int m = o->src[d];
    src[d] = m;
    nck[d] = m < 0 ? 1 : x->numblocks[m];
    grid[d] = m < 0 ? 1 : x->grid[m];
    rstride[d] = m < 0 ? 0 : x->rstride[m];
    coord[d] = m < 0 ? NULL : x->gcoord[m];
    if (!(ck[d] = malloc((size_t)nck[d] * sizeof(int64_t))))
      return DA_ERR(ctx, DA_ERR_NOMEM, "map_blocks: cannot allocate chunks");
    shape[d] = 0;
    for (int64_t j = 0; j < nck[d]; j++) {
      int64_t c = m < 0            ? o->size[d]
                  : o->list[d]     ? o->list[d][j]
                  : o->size[d] > 0 ? o->size[d]
                                   : x->chunks[m][j];
      if (c < 0)
        return DA_ERR(ctx, DA_ERR_CHUNKS, "map_blocks: output axis %d: chunk %lld is %lld < 0", d,
                      (long long)j, (long long)c);
      if (__builtin_add_overflow(shape[d], c, &shape[d]))
        return DA_ERR(ctx, DA_ERR_OVERFLOW, "map_blocks: output axis %d is too long", d);
      ck[d][j] = c;
    }
  }
  return DA_OK;
}

/* Whether output block b and input block b are the same block for every b. */
static bool numbered_alike(const da_array x, int ndim, const int src[], const int64_t nck[]) {
  /* Axes of one block add nothing to a linear block index: compare the others in order. */
  int k = 0;
  for (int d = 0; d < ndim; d++) {
    if (nck[d] == 1)
      continue;
    while (k < x->ndim && x->numblocks[k] == 1)
      k++;
    if (k == x->ndim || src[d] != k)
      return false;
    k++;
  }
  while (k < x->ndim && x->numblocks[k] == 1)
    k++;
  return k == x->ndim;
}

/* Copies the halo tables into p, for the grid of x. */
static int halo_copy(da_array x, const da_map_halo *h, map_params *p) {
  for (int d = 0; d < x->ndim && h; d++) {
    const int64_t *from[3] = {h->lo[d], h->hi[d], h->offset[d]};
    int64_t **to[3] = {&p->halo_lo[d], &p->halo_hi[d], &p->offset[d]};
    for (int t = 0; t < 3; t++) {
      if (!from[t])
        continue;
      size_t bytes = (size_t)x->numblocks[d] * sizeof(int64_t);
      if (!(*to[t] = malloc(bytes)))
        return DA_ERR(x->ctx, DA_ERR_NOMEM, "map_blocks: cannot allocate halo tables");
      memcpy(*to[t], from[t], bytes);
      for (int64_t j = 0; t < 2 && j < x->numblocks[d]; j++)
        if (from[t][j] < 0)
          return DA_ERR(x->ctx, DA_ERR_ARG, "map_blocks: halo of block %lld along axis %d is < 0",
                        (long long)j, d);
    }
  }
  return DA_OK;
}

/* Entry checks that need no collective: the context to report on, and the arguments. */
static int check_args(da_block_fn fn, int n, const da_array in[], da_dtype out_dtype, da_array *out,
                      da_ctx *ctx) {
  *ctx = NULL;
  for (int i = 0; in && i < n && i < MAX_INPUTS && !*ctx; i++)
    if (in[i])
      *ctx = in[i]->ctx;
  if (!*ctx)
    return DA_ERR_ARG; /* no array: nothing to say where the error goes */
  if (!out)
    return DA_ERR(*ctx, DA_ERR_ARG, "map_blocks: out is NULL");
  if (!fn)
    return DA_ERR(*ctx, DA_ERR_ARG, "map_blocks: the block function is NULL");
  if (n > MAX_INPUTS)
    return DA_ERR(*ctx, DA_ERR_ARG, "map_blocks: %d inputs, at most %d are supported", n,
                  MAX_INPUTS);
  for (int i = 0; i < n; i++) {
    if (!in[i])
      return DA_ERR(*ctx, DA_ERR_ARG, "map_blocks: input %d is NULL", i);
    if (in[i]->ctx != *ctx)
      return DA_ERR(*ctx, DA_ERR_ARG, "map_blocks: the inputs belong to different contexts");
  }
  if (!da_dtype_valid(out_dtype))
    return DA_ERR(*ctx, DA_ERR_DTYPE, "map_blocks: unknown output dtype %d", (int)out_dtype);
  return DA_OK;
}

static int map_blocks_halo(da_block_fn fn, void *user, void (*user_free)(void *), int n,
                           const da_array in[], const da_map_halo *halo, da_dtype out_dtype,
                           const da_map_out *out_chunks, da_array *out) {
  if (out)
    *out = NULL;
  da_ctx ctx;
  int rc = check_args(fn, n, in, out_dtype, out, &ctx);
  if (ctx)
    rc = da_agree(ctx, rc);
  da_array al[MAX_INPUTS] = {0};
  int lead = 0;
  if (!rc)
    rc = da_agree(ctx, da_broadcast_arrays(ctx, n, in, al, &lead));
  if (rc) {
    if (user_free)
      user_free(user);
    return rc;
  }
  /* The lead's aligned form: its chunks and, when they are its own, its blocks' ranks. */
  da_array x = al[lead];
  int ndim = 0, src[DA_MAX_NDIM], grid[DA_MAX_NDIM], rstride[DA_MAX_NDIM], rbase = 0;
  int64_t shape[DA_MAX_NDIM], *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  int *coord[DA_MAX_NDIM] = {0}; /* NULL for a new axis: one block, grid coordinate 0 */
  rc = out_layout(x, out_chunks, &ndim, shape, ck, nck, grid, coord, rstride, &rbase, src);
  if (!rc)
    rc = da_check_shape(ctx, ndim, shape, out_dtype);
  map_params *p = rc ? NULL : calloc(1, sizeof *p);
  if (!rc && !p)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "map_blocks: cannot allocate parameters");
  if (!rc) {
    *p = (map_params){.fn = fn, .user = user, .user_free = user_free, .nin = n};
    memcpy(p->src, src, sizeof src);
    rc = halo_copy(x, halo, p);
  }
  rc = da_agree(ctx, rc);
  if (!rc) {
    da_layout lay = {grid, (const int *const *)coord, rstride, rbase};
    const da_layer_ops *ops = numbered_alike(x, ndim, src, nck) ? &map_aligned_ops : &map_deps_ops;
    rc = da_node_new(ctx, ndim, shape, (const int64_t *const *)ck, nck, out_dtype,
                     da_dtype_size(out_dtype), &lay, ops, p, n, al, out);
    p = NULL; /* da_node_new took it, user included */
    user_free = NULL;
  }
  if (p)
    p->user_free = NULL, map_free(p);
  if (rc && user_free)
    user_free(user);
  for (int d = 0; d < DA_MAX_NDIM; d++)
    free(ck[d]);
  for (int i = 0; i < n; i++)
    da_array_destroy(&al[i]);
  return rc;
}

int da_map_blocks_halo(da_block_fn fn, void *user, void (*user_free)(void *), int n,
                       const da_array in[], const da_map_halo *halo, da_dtype out_dtype,
                       const da_map_out *out_chunks, da_array *out) {
  return map_blocks_halo(fn, user, user_free, n, in, halo, out_dtype, out_chunks, out);
}

int da_map_blocks(da_block_fn fn, void *user, int n, const da_array in[], da_dtype out_dtype,
                  const da_map_out *out_chunks, da_array *out) {
  return da_map_blocks_halo(fn, user, NULL, n, in, NULL, out_dtype, out_chunks, out);
}
