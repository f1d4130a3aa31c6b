/* Reductions as two layers: a partial per input block (fused with its producer, read in
 * tiles) holding one record per output element, then a combine per output block over the
 * partials in a fixed pairwise tree ordered by block index, so the result has the same bits
 * for any number of ranks. */
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  OP_SUM,
  OP_MEAN,
  OP_MIN,
  OP_MAX,
  OP_PROD,
  OP_VAR,
  OP_STD,
  OP_ARGMIN,
  OP_ARGMAX,
  OP_ANY,
  OP_ALL,
  OP_COUNT,
  OP_NANSUM,
  OP_NANMEAN,
  OP_NANMIN,
  OP_NANMAX,
  OP_NANVAR,
  OP_NANSTD,
  OP_NANARGMIN,
  OP_NANARGMAX,
  OP_N
} red_op;

/* The result's dtype: the sum's (integers widen to 64 bits), the mean's (float64, float32
 * stays), the input's, int64 or bool. */
typedef enum { RES_SUM, RES_MEAN, RES_SAME, RES_INT64, RES_BOOL } res_kind;
/* How a combined record becomes a result element. */
typedef enum { FIN_COPY, FIN_MEAN, FIN_NANMEAN, FIN_VAR, FIN_STD, FIN_ARG } fin_kind;

typedef struct {
  da_red_kind kind;
  red_op plain; /* what integer dtypes do instead: they have no NaN to skip */
  res_kind res;
  fin_kind fin;
  bool no_identity; /* an empty selection is an error */
  bool ddof;
} op_info;

static const op_info infos[OP_N] = {
    [OP_SUM] = {DA_RED_SUM, OP_SUM, RES_SUM, FIN_COPY, false, false},
    [OP_MEAN] = {DA_RED_SUMF, OP_MEAN, RES_MEAN, FIN_MEAN, false, false},
    [OP_MIN] = {DA_RED_MIN, OP_MIN, RES_SAME, FIN_COPY, true, false},
    [OP_MAX] = {DA_RED_MAX, OP_MAX, RES_SAME, FIN_COPY, true, false},
    [OP_PROD] = {DA_RED_PROD, OP_PROD, RES_SUM, FIN_COPY, false, false},
    [OP_VAR] = {DA_RED_VAR, OP_VAR, RES_MEAN, FIN_VAR, false, true},
    [OP_STD] = {DA_RED_VAR, OP_STD, RES_MEAN, FIN_STD, false, true},
    [OP_ARGMIN] = {DA_RED_ARGMIN, OP_ARGMIN, RES_INT64, FIN_ARG, true, false},
    [OP_ARGMAX] = {DA_RED_ARGMAX, OP_ARGMAX, RES_INT64, FIN_ARG, true, false},
    [OP_ANY] = {DA_RED_ANY, OP_ANY, RES_BOOL, FIN_COPY, false, false},
    [OP_ALL] = {DA_RED_ALL, OP_ALL, RES_BOOL, FIN_COPY, false, false},
    [OP_COUNT] = {DA_RED_COUNT, OP_COUNT, RES_INT64, FIN_COPY, false, false},
    [OP_NANSUM] = {DA_RED_NANSUM, OP_SUM, RES_SUM, FIN_COPY, false, false},
    [OP_NANMEAN] = {DA_RED_NANMEAN, OP_MEAN, RES_MEAN, FIN_NANMEAN, false, false},
    [OP_NANMIN] = {DA_RED_NANMIN, OP_MIN, RES_SAME, FIN_COPY, true, false},
    [OP_NANMAX] = {DA_RED_NANMAX, OP_MAX, RES_SAME, FIN_COPY, true, false},
    [OP_NANVAR] = {DA_RED_NANVAR, OP_VAR, RES_MEAN, FIN_VAR, false, true},
    [OP_NANSTD] = {DA_RED_NANVAR, OP_STD, RES_MEAN, FIN_STD, false, true},
    [OP_NANARGMIN] = {DA_RED_NANARGMIN, OP_ARGMIN, RES_INT64, FIN_ARG, true, false},
    [OP_NANARGMAX] = {DA_RED_NANARGMAX, OP_ARGMAX, RES_INT64, FIN_ARG, true, false},
};

typedef struct {
  red_op op;
  const da_red_kernel *k;
  bool red[DA_MAX_NDIM]; /* over the input's axes */
  bool keepdims;
  double count; /* elements reduced into each output element */
  int64_t ddof;
  /* Records carry indices: C-order strides of the input's reduced axes among themselves
   * (zero on kept axes). */
  bool arg;
  int64_t rstride[DA_MAX_NDIM];
} red_params;

/* Folds block b of the input into its records. Trailing axes that share the last axis' fate
 * are walked as one long row: a row of reduced axes folds into one record (reduce), a row of
 * kept axes into as many records (accum), so a block is a few calls, not one per short row.
 * For indices, reduced axes join the row only while those after them span the whole axis, so
 * the row's indices stay consecutive. */
static int partial_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  const red_params *p = a->params;
  const da_red_kernel *k = p->k;
  da_array x = a->inputs[0];
  int nd = x->ndim;
  int64_t m = da_block_size_of(a, b), total = da_block_size_of(x, b);
  size_t es = x->elsize, as = da_dtype_size(k->accdt);
  char *acc = out;
  k->init(out, m);
  if (total == 0)
    return DA_OK;
  if (nd == 0) {
    k->reduce(da_input_tile(&ins[0], 0, 1), 1, acc, m, 0);
    return DA_OK;
  }
  int64_t bs[DA_MAX_NDIM], off[DA_MAX_NDIM], pstride[DA_MAX_NDIM], idx[DA_MAX_NDIM] = {0};
  da_block_shape_of(x, b, bs);
  da_block_offset_of(x, b, off);
  for (int64_t d = nd - 1, s = 1; d >= 0; d--) {
    pstride[d] = p->red[d] ? 0 : s;
    s *= p->red[d] ? 1 : bs[d];
  }
  bool lastred = p->red[nd - 1];
  int g = nd - 1; /* the row's first axis */
  while (g > 0 && p->red[g - 1] == lastred && !(lastred && p->arg && bs[g] != x->shape[g]))
    g--;
  int64_t inner = 1;
  for (int d = g; d < nd; d++)
    inner *= bs[d];
  int64_t rows = total / inner, base0 = lastred ? off[g] * p->rstride[g] : 0;
  da_red_row_fn row = lastred ? k->reduce : k->accum;
  int64_t per = inner <= DA_TILE ? DA_TILE / inner : 1;
  /* A sum of a fused x op y adds x op y in its own loop, never storing it. */
  da_binary_op pair = DA_NBINARY;
  if (lastred && (p->op == OP_SUM || p->op == OP_MEAN) && da_dtype_is_float(x->dtype) &&
      !ins[0].data && ins[0].sub && x->ops && x->ops->pair_op)
    pair = x->ops->pair_op(x);
  const char *t2 = NULL;
  for (int64_t r = 0, nr; r < rows; r += nr) {
    nr = rows - r < per ? rows - r : per;
    /* whole rows per tile, or rows longer than a tile in pieces */
    const char *t = NULL;
    if (inner <= DA_TILE && pair != DA_NBINARY) {
      t = da_input_tile(&ins[0].sub[0], r * inner, nr * inner);
      t2 = da_input_tile(&ins[0].sub[1], r * inner, nr * inner);
    } else if (inner <= DA_TILE) {
      t = da_input_tile(&ins[0], r * inner, nr * inner);
    }
    for (int64_t i = 0; i < nr; i++) {
      int64_t roff = 0, base = base0;
      for (int d = 0; d < g; d++) {
        roff += idx[d] * pstride[d];
        base += (off[d] + idx[d]) * p->rstride[d];
      }
      if (t && pair != DA_NBINARY) {
        int64_t o = i * inner * (int64_t)es;
        da_sum_pair_reduce(pair, x->dtype, t + o, t2 + o, inner, acc + roff * (int64_t)as);
      } else if (t) {
        row(t + i * inner * (int64_t)es, inner, acc + roff * (int64_t)as, m, base);
      } else {
        for (int64_t c = 0; c < inner; c += DA_TILE) {
          int64_t cnt = inner - c < DA_TILE ? inner - c : DA_TILE;
          if (pair != DA_NBINARY) {
            const char *a0 = da_input_tile(&ins[0].sub[0], r * inner + c, cnt);
            const char *a1 = da_input_tile(&ins[0].sub[1], r * inner + c, cnt);
            da_sum_pair_reduce(pair, x->dtype, a0, a1, cnt, acc + roff * (int64_t)as);
            continue;
          }
          const char *piece = da_input_tile(&ins[0], r * inner + c, cnt);
          if (lastred)
            row(piece, cnt, acc + roff * (int64_t)as, m, base + c);
          else
            row(piece, cnt, acc + (roff + c) * (int64_t)as, m, base);
        }
      }
      for (int d = g - 1; d >= 0 && ++idx[d] == bs[d]; d--)
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

/* Record fields are 8 bytes, stored field by field (see kernels.h). */
static const void *field(const void *acc, int64_t m, int f) {
  return (const char *)acc + (int64_t)f * m * 8;
}

/* Turns m combined records into result elements. */
static int finalize(const da_array a, const red_params *p, const void *acc, void *out, int64_t m) {
  da_dtype odt = a->dtype;
  fin_kind fin = infos[p->op].fin;
  if (fin == FIN_COPY) {
    if (p->k->accdt == DA_FLOAT64 && odt != DA_FLOAT64)
      da_convert_from_f64(odt, acc, out, m);
    else if (m)
      memcpy(out, acc, (size_t)m * da_dtype_size(odt)); /* same bits */
    return DA_OK;
  }
  if (fin == FIN_ARG) {
    const int64_t *ix = field(acc, m, 1);
    for (int64_t j = 0; j < m; j++)
      if (ix[j] == DA_RED_NOINDEX)
        return DA_ERR(a->ctx, DA_ERR_ARG, "%s: All-NaN slice encountered", a->ops->name);
    if (m)
      memcpy(out, ix, (size_t)m * sizeof *ix);
    return DA_OK;
  }
  const double *f0 = acc, *f1 = field(acc, m, 1), *f2 = field(acc, m, 2);
  double buf[256];
  for (int64_t s = 0; s < m; s += 256) {
    int64_t n = m - s < 256 ? m - s : 256;
    for (int64_t i = 0, j = s; i < n; i++, j++) {
      if (fin == FIN_MEAN) {
        buf[i] = f0[j] / p->count;
      } else if (fin == FIN_NANMEAN) {
        buf[i] = f1[j] > 0 ? f0[j] / f1[j] : NAN;
      } else { /* (count, mean, M2): NaN where count - ddof leaves no degree of freedom */
        double dof = f0[j] - (double)p->ddof;
        buf[i] = dof > 0 ? f2[j] / dof : NAN;
        if (fin == FIN_STD)
          buf[i] = sqrt(buf[i]);
      }
    }
    da_convert_from_f64(odt, buf, (char *)out + s * (int64_t)da_dtype_size(odt), n);
  }
  return DA_OK;
}

int da_combine_pairwise(da_ctx ctx, const da_input *ins, int nins, size_t bytes,
                        void (*add)(const void *src, void *dst, void *user), void *user,
                        void **out) {
  void *pool[64] = {0};
  int level[64], top = 0, rc = DA_OK;
  *out = NULL;
  for (int i = 0; i < nins && !rc; i++) {
    if (!pool[top] && !(pool[top] = da_malloc(ctx, bytes ? bytes : 1))) {
      rc = DA_ERR_NOMEM;
      break;
    }
    if (bytes)
      memcpy(pool[top], ins[i].data, bytes);
    level[top++] = 0;
    /* Merge equal levels, like carries in a binary counter. */
    while (top >= 2 && level[top - 2] == level[top - 1]) {
      add(pool[top - 1], pool[top - 2], user);
      level[top - 2]++;
      top--;
    }
  }
  for (int i = 1; i < top && !rc; i++)
    add(pool[i], pool[0], user);
  if (!rc && top > 0)
    *out = pool[0], pool[0] = NULL;
  for (int i = 0; i < 64; i++)
    free(pool[i]);
  return rc;
}

typedef struct {
  const da_red_kernel *k;
  int64_t m;
} combine_with;

static void combine_records(const void *src, void *dst, void *user) {
  const combine_with *c = user;
  c->k->combine(src, c->m, dst);
}

static int combine_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const red_params *p = a->inputs[0]->params;
  combine_with c = {p->k, da_block_size_of(a, b)};
  size_t bytes = (size_t)c.m * p->k->recsize;
  void *acc = NULL;
  int rc = da_combine_pairwise(a->ctx, ins, nins, bytes, combine_records, &c, &acc);
  if (!rc && !acc) { /* nothing to combine: the identity */
    if ((acc = da_malloc(a->ctx, bytes ? bytes : 1)))
      p->k->init(acc, c.m);
    else
      rc = DA_ERR_NOMEM;
  }
  if (!rc)
    rc = finalize(a, p, acc, out, c.m);
  free(acc);
  return rc;
}

static const da_layer_ops partial_ops = {
    .name = "reduce-partial", .aligned = true, .run = partial_run, .fuses_inputs = true};

#define COMBINE_OPS_(op, text) [op] = {.name = text, .deps = combine_deps, .run = combine_run}
static const da_layer_ops combine_ops[OP_N] = {
    COMBINE_OPS_(OP_SUM, "sum"),
    COMBINE_OPS_(OP_MEAN, "mean"),
    COMBINE_OPS_(OP_MIN, "min"),
    COMBINE_OPS_(OP_MAX, "max"),
    COMBINE_OPS_(OP_PROD, "prod"),
    COMBINE_OPS_(OP_VAR, "var"),
    COMBINE_OPS_(OP_STD, "std"),
    COMBINE_OPS_(OP_ARGMIN, "argmin"),
    COMBINE_OPS_(OP_ARGMAX, "argmax"),
    COMBINE_OPS_(OP_ANY, "any"),
    COMBINE_OPS_(OP_ALL, "all"),
    COMBINE_OPS_(OP_COUNT, "count_nonzero"),
    COMBINE_OPS_(OP_NANSUM, "nansum"),
    COMBINE_OPS_(OP_NANMEAN, "nanmean"),
    COMBINE_OPS_(OP_NANMIN, "nanmin"),
    COMBINE_OPS_(OP_NANMAX, "nanmax"),
    COMBINE_OPS_(OP_NANVAR, "nanvar"),
    COMBINE_OPS_(OP_NANSTD, "nanstd"),
    COMBINE_OPS_(OP_NANARGMIN, "nanargmin"),
    COMBINE_OPS_(OP_NANARGMAX, "nanargmax"),
};

static da_dtype result_dtype(res_kind res, da_dtype dt) {
  switch (res) {
  case RES_SUM:
    return da_dtype_is_float(dt) ? dt : da_dtype_is_unsigned(dt) ? DA_UINT64 : DA_INT64;
  case RES_MEAN:
    return dt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
  case RES_INT64:
    return DA_INT64;
  case RES_BOOL:
    return DA_BOOL;
  default:
    return dt;
  }
}

/* Which axes are reduced, checked; every rank gets the same answer from the same call. */
static int reduced_axes(da_ctx ctx, int nd, int naxes, const int axes[], bool red[]) {
  if (naxes < 0 || naxes > nd)
    return DA_ERR(ctx, DA_ERR_ARG, "%d axes given for a %d-d array", naxes, nd);
  if (naxes == 0 || !axes) {
    for (int d = 0; d < nd; d++)
      red[d] = true;
    return DA_OK;
  }
  for (int i = 0; i < naxes; i++) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd)
      return DA_ERR(ctx, DA_ERR_ARG, "axis %d is out of range for a %d-d array", axes[i], nd);
    if (red[ax])
      return DA_ERR(ctx, DA_ERR_ARG, "axis %d is repeated", axes[i]);
    red[ax] = true;
  }
  return DA_OK;
}

static int reduce(da_array x, red_op op, int naxes, const int axes[], int keepdims, int64_t ddof,
                  da_array *out) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (!da_dtype_is_float(x->dtype))
    op = infos[op].plain;
  const op_info *info = &infos[op];
  const char *name = combine_ops[op].name;
  int nd = x->ndim;
  red_params *p = calloc(1, sizeof *p);
  if (!p)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters"));
  p->op = op;
  p->k = da_red_kernel_get(info->kind, x->dtype);
  p->keepdims = keepdims != 0;
  p->ddof = ddof;
  p->arg = info->fin == FIN_ARG;
  int rc = p->k ? reduced_axes(ctx, nd, naxes, axes, p->red)
                : DA_ERR(ctx, DA_ERR_DTYPE, "%s of an array of unknown dtype", name);
  int64_t outsize = 1, nred = 1;
  for (int64_t d = nd - 1, s = 1; d >= 0 && !rc; d--) {
    if (p->red[d]) {
      nred *= x->shape[d];
      p->rstride[d] = p->arg ? s : 0;
      s *= x->shape[d];
    } else {
      outsize *= x->shape[d];
    }
  }
  p->count = (double)nred;
  if (!rc && info->no_identity && nred == 0 && outsize > 0)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "%s of an empty selection: it has no identity", name);
  if (!rc && info->ddof && ddof < 0)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: ddof %lld is negative", name, (long long)ddof);
  if (!rc && info->ddof && outsize > 0 && ddof >= nred)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: ddof %lld leaves no degree of freedom among %lld elements",
                name, (long long)ddof, (long long)nred);
  if (rc) {
    free(p);
    return da_agree(ctx, rc);
  }
  /* The partials: reduced axes shrink to one record per block. */
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
    rc = da_node_new(ctx, nd, pshape, ck, nck, p->k->accdt, p->k->recsize, DA_LAYOUT_OF(x),
                     &partial_ops, p, 1, &x, &part);
  else {
    free(p);
    rc = da_agree(ctx, rc);
  }
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
  da_dtype odt = result_dtype(info->res, x->dtype);
  rc = da_node_new(ctx, ond, oshape, ock, onck, odt, da_dtype_size(odt), NULL, &combine_ops[op],
                   NULL, 1, &part, out);
  da_array_destroy(&part);
  return rc;
}

int da_sum(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_SUM, naxes, axes, keepdims, 0, out);
}
int da_mean(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MEAN, naxes, axes, keepdims, 0, out);
}
int da_min(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MIN, naxes, axes, keepdims, 0, out);
}
int da_max(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_MAX, naxes, axes, keepdims, 0, out);
}
int da_prod(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_PROD, naxes, axes, keepdims, 0, out);
}
int da_var(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof, da_array *out) {
  return reduce(a, OP_VAR, naxes, axes, keepdims, ddof, out);
}
int da_std(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof, da_array *out) {
  return reduce(a, OP_STD, naxes, axes, keepdims, ddof, out);
}
int da_argmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_ARGMIN, naxes, axes, keepdims, 0, out);
}
int da_argmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_ARGMAX, naxes, axes, keepdims, 0, out);
}
int da_any(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_ANY, naxes, axes, keepdims, 0, out);
}
int da_all(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_ALL, naxes, axes, keepdims, 0, out);
}
int da_count_nonzero(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_COUNT, naxes, axes, keepdims, 0, out);
}
int da_nansum(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANSUM, naxes, axes, keepdims, 0, out);
}
int da_nanmean(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANMEAN, naxes, axes, keepdims, 0, out);
}
int da_nanmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANMIN, naxes, axes, keepdims, 0, out);
}
int da_nanmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANMAX, naxes, axes, keepdims, 0, out);
}
int da_nanvar(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof, da_array *out) {
  return reduce(a, OP_NANVAR, naxes, axes, keepdims, ddof, out);
}
int da_nanstd(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof, da_array *out) {
  return reduce(a, OP_NANSTD, naxes, axes, keepdims, ddof, out);
}
int da_nanargmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANARGMIN, naxes, axes, keepdims, 0, out);
}
int da_nanargmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  return reduce(a, OP_NANARGMAX, naxes, axes, keepdims, 0, out);
}
