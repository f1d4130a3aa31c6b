/* Reductions as two layers: a partial per input block (fused with its producer, read in
 * tiles), then a combine per output block over the partials in a fixed pairwise tree
 * ordered by block index, so the result has the same bits for any number of ranks. */
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

typedef enum { OP_SUM, OP_MEAN, OP_MIN, OP_MAX } red_op;

typedef struct {
  red_op op;
  const da_red_kernel *k;
  bool red[DA_MAX_NDIM]; /* over the input's axes */
  bool keepdims;
  double count; /* elements reduced into each output element */
} red_params;

static int partial_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  const red_params *p = a->params;
  const da_red_kernel *k = p->k;
  da_array x = a->inputs[0];
  int nd = x->ndim;
  size_t es = x->elsize, as = da_dtype_size(k->accdt);
  int64_t bs[DA_MAX_NDIM], pstride[DA_MAX_NDIM], idx[DA_MAX_NDIM] = {0};
  k->init(out, da_block_size_of(a, b));
  int64_t total = da_block_size_of(x, b);
  if (total == 0)
    return DA_OK;
  if (nd == 0) {
    k->reduce(da_input_tile(&ins[0], 0, 1), 1, out);
    return DA_OK;
  }
  da_block_shape_of(x, b, bs);
  for (int64_t d = nd - 1, s = 1; d >= 0; d--) {
    pstride[d] = p->red[d] ? 0 : s;
    s *= p->red[d] ? 1 : bs[d];
  }
  int64_t inner = bs[nd - 1], rows = total / inner;
  bool lastred = p->red[nd - 1];
  da_row_fn row = lastred ? k->reduce : k->accum;
  char *acc = out;
  if (inner <= DA_TILE) { /* whole rows per tile */
    int64_t per = DA_TILE / inner;
    for (int64_t r = 0, nr; r < rows; r += nr) {
      nr = rows - r < per ? rows - r : per;
      const char *t = da_input_tile(&ins[0], r * inner, nr * inner);
      for (int64_t i = 0; i < nr; i++) {
        int64_t off = 0;
        for (int d = 0; d < nd - 1; d++)
          off += idx[d] * pstride[d];
        row(t + i * inner * (int64_t)es, inner, acc + off * (int64_t)as);
        for (int d = nd - 2; d >= 0 && ++idx[d] == bs[d]; d--)
          idx[d] = 0;
      }
    }
  } else { /* rows longer than a tile go in pieces */
    for (int64_t r = 0; r < rows; r++) {
      int64_t off = 0;
      for (int d = 0; d < nd - 1; d++)
        off += idx[d] * pstride[d];
      for (int64_t c = 0; c < inner; c += DA_TILE) {
        int64_t cnt = inner - c < DA_TILE ? inner - c : DA_TILE;
        const char *t = da_input_tile(&ins[0], r * inner + c, cnt);
        row(t, cnt, acc + (off + (lastred ? 0 : c)) * (int64_t)as);
      }
      for (int d = nd - 2; d >= 0 && ++idx[d] == bs[d]; d--)
        idx[d] = 0;
    }
  }
  return DA_OK;
}

/* The partial blocks along the reduced axes that output block b combines, in C order. */
static int64_t combine_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  const red_params *p = a->inputs[0]->params; /* shared with the partial layer */
  da_array part = a->inputs[0];
  int nd = part->ndim;
  int64_t ob[DA_MAX_NDIM], pb[DA_MAX_NDIM], n = 1;
  da_block_unravel(a, b, ob);
  for (int d = 0, j = 0; d < nd; d++) {
    if (p->red[d]) {
      pb[d] = 0;
      n *= part->numblocks[d];
      j += p->keepdims;
    } else {
      pb[d] = ob[j++];
    }
  }
  if (n > cap)
    return n;
  for (int64_t i = 0; i < n; i++) {
    input[i] = 0;
    block[i] = da_block_ravel(part, pb);
    for (int d = nd - 1; d >= 0; d--) {
      if (!p->red[d])
        continue;
      if (++pb[d] < part->numblocks[d])
        break;
      pb[d] = 0;
    }
  }
  return n;
}

static void finalize(const red_params *p, da_dtype outdt, const void *acc, void *out, int64_t m) {
  if (p->op == OP_MEAN) {
    const double *v = acc;
    double buf[256];
    for (int64_t s = 0; s < m; s += 256) {
      int64_t n = m - s < 256 ? m - s : 256;
      for (int64_t i = 0; i < n; i++)
        buf[i] = v[s + i] / p->count;
      da_convert_from_f64(outdt, buf, (char *)out + s * (int64_t)da_dtype_size(outdt), n);
    }
  } else if (p->k->accdt == DA_FLOAT64 && outdt != DA_FLOAT64) {
    da_convert_from_f64(outdt, acc, out, m);
  } else {
    memcpy(out, acc, (size_t)m * da_dtype_size(outdt)); /* same bits */
  }
}

static int combine_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const red_params *p = a->inputs[0]->params;
  const da_red_kernel *k = p->k;
  int64_t m = da_block_size_of(a, b);
  size_t bytes = (size_t)m * da_dtype_size(k->accdt);
  void *pool[64] = {0};
  int level[64], top = 0, rc = DA_OK;
  for (int i = 0; i < nins && !rc; i++) {
    if (!pool[top] && !(pool[top] = da_malloc(a->ctx, bytes))) {
      rc = DA_ERR_NOMEM;
      break;
    }
    memcpy(pool[top], ins[i].data, bytes);
    level[top++] = 0;
    /* Pairwise: merge equal levels, like carries in a binary counter. */
    while (top >= 2 && level[top - 2] == level[top - 1]) {
      k->combine(pool[top - 1], m, pool[top - 2]);
      level[top - 2]++;
      top--;
    }
  }
  if (!rc) {
    for (int i = 1; i < top; i++)
      k->combine(pool[i], m, pool[0]);
    finalize(p, a->dtype, pool[0], out, m);
  }
  for (int i = 0; i < 64; i++)
    free(pool[i]);
  return rc;
}

static const da_layer_ops partial_ops = {
    .name = "reduce-partial", .aligned = true, .run = partial_run, .fuses_inputs = true};
static const da_layer_ops sum_ops = {.name = "sum", .deps = combine_deps, .run = combine_run};
static const da_layer_ops mean_ops = {.name = "mean", .deps = combine_deps, .run = combine_run};
static const da_layer_ops min_ops = {.name = "min", .deps = combine_deps, .run = combine_run};
static const da_layer_ops max_ops = {.name = "max", .deps = combine_deps, .run = combine_run};

static da_dtype result_dtype(red_op op, da_dtype dt) {
  switch (op) {
  case OP_SUM:
    return da_dtype_is_float(dt) ? dt : da_dtype_is_unsigned(dt) ? DA_UINT64 : DA_INT64;
  case OP_MEAN:
    return dt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
  default:
    return dt;
  }
}

static int reduce(da_array x, red_op op, int naxes, const int axes[], int keepdims, da_array *out) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  static const da_red_kind kinds[] = {DA_RED_SUM, DA_RED_SUMF, DA_RED_MIN, DA_RED_MAX};
  static const da_layer_ops *const ops[] = {&sum_ops, &mean_ops, &min_ops, &max_ops};
  int nd = x->ndim;
  red_params *p = calloc(1, sizeof *p);
  if (!p)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  p->op = op;
  p->k = da_red_kernel_get(kinds[op], x->dtype);
  p->keepdims = keepdims != 0;
  p->count = 1;
  int rc = DA_OK;
  if (naxes < 0 || naxes > nd) {
    rc = DA_ERR(ctx, DA_ERR_ARG, "%d axes given for a %d-d array", naxes, nd);
  } else if (naxes == 0 || !axes) {
    for (int d = 0; d < nd; d++)
      p->red[d] = true;
  } else {
    for (int i = 0; i < naxes && !rc; i++) {
      int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
      if (ax < 0 || ax >= nd)
        rc = DA_ERR(ctx, DA_ERR_ARG, "axis %d is out of range for a %d-d array", axes[i], nd);
      else if (p->red[ax])
        rc = DA_ERR(ctx, DA_ERR_ARG, "axis %d is repeated", axes[i]);
      else
        p->red[ax] = true;
    }
  }
  int64_t outsize = 1;
  for (int d = 0; d < nd && !rc; d++) {
    if (p->red[d])
      p->count *= (double)x->shape[d];
    else
      outsize *= x->shape[d];
  }
  if (!rc && (op == OP_MIN || op == OP_MAX) && p->count == 0 && outsize > 0)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "%s of an empty selection has no identity",
                op == OP_MIN ? "min" : "max");
  if (rc) {
    free(p);
    return rc;
  }
  /* The partials: reduced axes shrink to one element per block. */
  int64_t pshape[DA_MAX_NDIM], *pck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  const int64_t *ck[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++) {
    nck[d] = x->numblocks[d];
    if (p->red[d]) {
      pshape[d] = nck[d];
      if (!(pck[d] = malloc((size_t)nck[d] * sizeof(int64_t))))
        rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks");
      for (int64_t i = 0; rc == DA_OK && i < nck[d]; i++)
        pck[d][i] = 1;
      ck[d] = pck[d];
    } else {
      pshape[d] = x->shape[d];
      ck[d] = x->chunks[d];
    }
  }
  da_array part = NULL;
  if (!rc)
    rc = da_node_new(ctx, nd, pshape, ck, nck, p->k->accdt, da_dtype_size(p->k->accdt), x->grid,
                     &partial_ops, p, 1, &x, &part);
  else
    free(p);
  for (int d = 0; d < nd; d++)
    free(pck[d]);
  if (rc)
    return rc;
  /* The result: kept axes keep their chunks; reduced ones become length 1 or go. */
  int64_t oshape[DA_MAX_NDIM], onck[DA_MAX_NDIM], one = 1;
  const int64_t *ock[DA_MAX_NDIM];
  int ond = 0;
  for (int d = 0; d < nd; d++) {
    if (!p->red[d]) {
      oshape[ond] = x->shape[d], ock[ond] = x->chunks[d], onck[ond++] = x->numblocks[d];
    } else if (p->keepdims) {
      oshape[ond] = 1, ock[ond] = &one, onck[ond++] = 1;
    }
  }
  rc = da_node_new(ctx, ond, oshape, ock, onck, result_dtype(op, x->dtype),
                   da_dtype_size(result_dtype(op, x->dtype)), NULL, ops[op], NULL, 1, &part, out);
  da_array_destroy(&part);
  return rc;
}

int da_sum(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_SUM, naxes, axes, keepdims, out);
}
int da_mean(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MEAN, naxes, axes, keepdims, out);
}
int da_min(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MIN, naxes, axes, keepdims, out);
}
int da_max(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MAX, naxes, axes, keepdims, out);
}
