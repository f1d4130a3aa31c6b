/* Index views. Every output axis reads one input axis through an index map (start + step * i,
 * or a table), or is a new axis of length 1; an input axis with no output axis is held at one
 * index. Slicing, integer and list indexing, transposes, flips, rolls and pads are all such
 * maps. A block gathers from the input blocks its maps touch, and the result's blocks stay
 * on the ranks of the blocks they were cut from, so a slice inside blocks moves no data. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

#define FILL (-1) /* a table entry outside the input: the pad constant */

typedef struct {
  int out_of[DA_MAX_NDIM]; /* per input axis: the output axis reading it; -1: held at fixed */
  int64_t fixed[DA_MAX_NDIM];
  int64_t start[DA_MAX_NDIM], step[DA_MAX_NDIM];
  int64_t *table[DA_MAX_NDIM]; /* per input axis, or NULL: the affine map */
  /* With a table: from each entry, how many entries step by one from it (or stay FILL), so
   * that runs copy, and find their chunk, once. */
  int64_t *runs[DA_MAX_NDIM];
  uint64_t fill; /* FILL's value, in the dtype */
} take_params;

static void take_free(void *pp) {
  take_params *p = pp;
  for (int m = 0; m < DA_MAX_NDIM; m++) {
    free(p->table[m]);
    free(p->runs[m]);
  }
  free(p);
}

static int64_t map_index(const take_params *p, int m, int64_t t) {
  return p->table[m] ? p->table[m][t] : p->start[m] + p->step[m] * t;
}

/* Output indices t .. of an affine axis that stay in input chunk j, from t's index i. */
static int64_t affine_run(const da_array x, const take_params *p, int m, int64_t i, int64_t j) {
  int64_t s = p->step[m];
  if (s == 0)
    return INT64_MAX;
  int64_t left = s > 0 ? x->offsets[m][j + 1] - i : i - x->offsets[m][j] + 1;
  int64_t as = s > 0 ? s : -s;
  return (left + as - 1) / as;
}

/* The input chunks along input axis m that output indices [lo, hi) read, ascending; seen is
 * scratch of x->numblocks[m] bytes. */
static int64_t axis_chunks(const da_array a, int m, int64_t lo, int64_t hi, int64_t *list,
                           uint8_t *seen) {
  const take_params *p = a->params;
  da_array x = a->inputs[0];
  if (p->out_of[m] < 0) {
    list[0] = da_chunk_of(x, m, p->fixed[m]);
    return 1;
  }
  int64_t n = 0;
  if (p->table[m]) {
    memset(seen, 0, (size_t)x->numblocks[m]);
    for (int64_t t = lo; t < hi;) {
      int64_t i = p->table[m][t], r = p->runs[m][t];
      if (i != FILL) {
        int64_t j = da_chunk_of(x, m, i);
        seen[j] = 1;
        r = r < x->offsets[m][j + 1] - i ? r : x->offsets[m][j + 1] - i;
      }
      t += r;
    }
    for (int64_t j = 0; j < x->numblocks[m]; j++)
      if (seen[j])
        list[n++] = j;
    return n;
  }
  for (int64_t t = lo; t < hi;) {
    int64_t i = map_index(p, m, t), j = da_chunk_of(x, m, i);
    list[n++] = j;
    int64_t r = affine_run(x, p, m, i, j);
    t = r > hi - t ? hi : t + r;
  }
  if (p->step[m] < 0)
    for (int64_t k = 0; k < n / 2; k++) {
      int64_t v = list[k];
      list[k] = list[n - 1 - k];
      list[n - 1 - k] = v;
    }
  return n;
}

/* Per input axis, the chunks output block b reads (lists into one allocation). */
typedef struct {
  int64_t *list[DA_MAX_NDIM], cnt[DA_MAX_NDIM];
  int64_t *mem;
} chunk_sets;

static int chunk_sets_of(const da_array a, int64_t b, chunk_sets *cs) {
  da_array x = a->inputs[0];
  const take_params *p = a->params;
  int64_t bidx[DA_MAX_NDIM], total = 0, most = 1;
  da_block_unravel(a, b, bidx);
  for (int m = 0; m < x->ndim; m++) {
    total += x->numblocks[m];
    most = x->numblocks[m] > most ? x->numblocks[m] : most;
  }
  cs->mem = malloc((size_t)(total + 1) * sizeof(int64_t) + (size_t)most);
  if (!cs->mem)
    return DA_ERR_NOMEM;
  uint8_t *seen = (uint8_t *)(cs->mem + total + 1);
  int64_t *at = cs->mem;
  for (int m = 0; m < x->ndim; m++) {
    int d = p->out_of[m];
    int64_t lo = d < 0 ? 0 : a->offsets[d][bidx[d]], hi = d < 0 ? 1 : a->offsets[d][bidx[d] + 1];
    cs->list[m] = at;
    cs->cnt[m] = axis_chunks(a, m, lo, hi, at, seen);
    at += cs->cnt[m];
  }
  return DA_OK;
}

static bool block_empty(const da_array a, int64_t b) {
  return da_block_size_of(a, b) == 0;
}

static int64_t take_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  da_array x = a->inputs[0];
  chunk_sets cs;
  if (block_empty(a, b) || chunk_sets_of(a, b, &cs))
    return 0; /* out of memory here shows as a missing input in the gather */
  int64_t n = 1, j[DA_MAX_NDIM] = {0};
  for (int m = 0; m < x->ndim; m++)
    n *= cs.cnt[m];
  for (int64_t k = 0; k < n && n <= cap; k++) {
    int64_t idx[DA_MAX_NDIM];
    for (int m = 0; m < x->ndim; m++)
      idx[m] = cs.list[m][j[m]];
    input[k] = 0;
    block[k] = da_block_ravel(x, idx);
    for (int m = x->ndim - 1; m >= 0; m--) {
      if (++j[m] < cs.cnt[m])
        break;
      j[m] = 0;
    }
  }
  free(cs.mem);
  return n;
}

struct take_state {
  da_array a, x;
  const take_params *p;
  const da_input *ins;
  chunk_sets cs;
  char *out; /* element 0 of the block */
  size_t es;
  int ml; /* the input axis the output's last axis reads, or -1 */
};

/* The place in list (chunks of axis m, ascending) of the chunk holding index i. */
static int64_t place_of(const da_array x, int m, const int64_t *list, int64_t n, int64_t i) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (x->offsets[m][list[mid]] <= i)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The dependency holding input coordinates c[] and the element's address in it; with stride,
 * also the element stride along the run's axis there and the chunk holding it (*chunk). */
static const char *element(const struct take_state *g, const int64_t c[], int64_t *stride,
                           int64_t *chunk) {
  da_array x = g->x;
  int64_t k = 0, jm[DA_MAX_NDIM], len[DA_MAX_NDIM], off = 0;
  for (int m = 0; m < x->ndim; m++) {
    int64_t q = g->cs.cnt[m] == 1 ? 0 : place_of(x, m, g->cs.list[m], g->cs.cnt[m], c[m]);
    jm[m] = g->cs.list[m][q];
    k = k * g->cs.cnt[m] + q;
  }
  const da_input *in = &g->ins[k];
  for (int m = 0; m < x->ndim; m++) {
    int64_t lo = in->part ? in->lo[m] : 0;
    len[m] = in->part ? in->n[m] : x->chunks[m][jm[m]];
    off = off * len[m] + (c[m] - x->offsets[m][jm[m]] - lo);
  }
  if (stride && g->ml >= 0) {
    int64_t s = 1;
    for (int m = g->ml + 1; m < x->ndim; m++)
      s *= len[m];
    *stride = s;
    *chunk = jm[g->ml];
  }
  return (const char *)in->data + off * (int64_t)x->elsize;
}

static void copy_strided(char *o, const char *s, int64_t n, int64_t stride, size_t es) {
  if (stride == 1) {
    memcpy(o, s, (size_t)n * es);
    return;
  }
  switch (es) {
#define STRIDED_(T)                                                                                \
  for (int64_t i = 0; i < n; i++)                                                                  \
    memcpy(o + i * (int64_t)sizeof(T), s + i * stride * (int64_t)sizeof(T), sizeof(T));            \
  break;
  case 1:
    STRIDED_(uint8_t)
  case 2:
    STRIDED_(uint16_t)
  case 4:
    STRIDED_(uint32_t)
  case 8:
    STRIDED_(uint64_t)
#undef STRIDED_
  default:
    for (int64_t i = 0; i < n; i++)
      memcpy(o + (size_t)i * es, s + (size_t)(i * stride) * es, es);
  }
}

static void fill_run(char *o, const void *v, int64_t n, size_t es) {
  for (int64_t i = 0; i < n; i++)
    memcpy(o + (size_t)i * es, v, es);
}

static void take_run(void *ud, int64_t offset, const int64_t gidx[], int64_t glin, int64_t len) {
  (void)glin;
  const struct take_state *g = ud;
  const take_params *p = g->p;
  da_array x = g->x;
  size_t es = g->es;
  char *o = g->out + offset * (int64_t)es;
  int64_t c[DA_MAX_NDIM];
  for (int m = 0; m < x->ndim; m++) {
    if (m == g->ml)
      continue;
    c[m] = p->out_of[m] < 0 ? p->fixed[m] : map_index(p, m, gidx[p->out_of[m]]);
    if (c[m] == FILL) {
      fill_run(o, &p->fill, len, es);
      return;
    }
  }
  if (g->ml < 0) { /* the last output axis is a new one: each run is one element */
    for (int64_t i = 0; i < len; i++)
      memcpy(o + (size_t)i * es, element(g, c, NULL, NULL), es);
    return;
  }
  int ml = g->ml, dl = g->a->ndim - 1;
  for (int64_t t = gidx[dl], end = t + len; t < end;) {
    int64_t i = map_index(p, ml, t), n = 1, stride = 0;
    if (i == FILL) {
      fill_run(o, &p->fill, 1, es);
    } else {
      c[ml] = i;
      int64_t j = 0, step = 1;
      const char *s = element(g, c, &stride, &j);
      if (!p->table[ml]) {
        n = affine_run(x, p, ml, i, j);
        n = n > end - t ? end - t : n;
        step = p->step[ml];
      } else { /* a table's consecutive entries within one chunk copy as one run */
        n = p->runs[ml][t];
        n = n < x->offsets[ml][j + 1] - i ? n : x->offsets[ml][j + 1] - i;
        n = n < end - t ? n : end - t;
      }
      copy_strided(o, s, n, stride * step, es);
    }
    o += n * (int64_t)es;
    t += n;
  }
}

static void take_gather(const da_array a, int64_t b, const da_input *ins, int64_t nins,
                        int64_t start, int64_t count, void *out) {
  (void)nins;
  if (count == 0 || block_empty(a, b))
    return;
  const take_params *p = a->params;
  struct take_state g = {a, a->inputs[0], p, ins, {{0}, {0}, NULL}, NULL, a->elsize, -1};
  if (chunk_sets_of(a, b, &g.cs)) {
    da_tile_fail(a->ctx, DA_ERR_NOMEM, "cannot allocate index lists");
    return;
  }
  for (int m = 0; m < g.x->ndim; m++)
    if (a->ndim > 0 && p->out_of[m] == a->ndim - 1)
      g.ml = m;
  g.out = (char *)out - start * (int64_t)a->elsize; /* runs give offsets within the block */
  da_block_runs(a, b, start, count, take_run, &g);
  free(g.cs.mem);
}

/* The box of dependency k that block b reads: per input axis, the smallest range of the
 * dependency's chunk holding every index the block's maps reach in it. */
static void take_region(const da_array a, int64_t b, int64_t k, int64_t lo[], int64_t n[]) {
  da_array x = a->inputs[0];
  const take_params *p = a->params;
  chunk_sets cs;
  int64_t bidx[DA_MAX_NDIM], pos[DA_MAX_NDIM];
  for (int m = 0; m < x->ndim; m++)
    lo[m] = 0, n[m] = 0;
  if (chunk_sets_of(a, b, &cs))
    return;
  da_block_unravel(a, b, bidx);
  for (int m = x->ndim - 1; m >= 0; m--) {
    pos[m] = k % cs.cnt[m];
    k /= cs.cnt[m];
  }
  for (int m = 0; m < x->ndim; m++) {
    int64_t j = cs.list[m][pos[m]], c0 = x->offsets[m][j], c1 = x->offsets[m][j + 1];
    int64_t mn = INT64_MAX, mx = -1;
    int d = p->out_of[m];
    if (d < 0) {
      mn = mx = p->fixed[m];
    } else {
      int64_t t0 = a->offsets[d][bidx[d]], t1 = a->offsets[d][bidx[d] + 1];
      if (p->table[m]) { /* each run's values i .. i + r - 1, clipped to the chunk */
        for (int64_t t = t0; t < t1;) {
          int64_t i = p->table[m][t], r = p->runs[m][t];
          r = r < t1 - t ? r : t1 - t;
          int64_t a0 = i > c0 ? i : c0, a1 = i + r < c1 ? i + r : c1;
          if (i != FILL && a0 < a1)
            mn = a0 < mn ? a0 : mn, mx = a1 - 1 > mx ? a1 - 1 : mx;
          t += r;
        }
      } else { /* the ends of an arithmetic run, clipped to the chunk */
        int64_t i0 = map_index(p, m, t0), i1 = map_index(p, m, t1 - 1);
        int64_t lo_i = i0 < i1 ? i0 : i1, hi_i = i0 < i1 ? i1 : i0;
        mn = lo_i > c0 ? lo_i : c0;
        mx = hi_i < c1 - 1 ? hi_i : c1 - 1;
      }
    }
    lo[m] = mn <= mx ? mn - c0 : 0;
    n[m] = mn <= mx ? mx - mn + 1 : 0;
  }
  free(cs.mem);
}

static const da_layer_ops take_ops = {.name = "getitem",
                                      .deps = take_deps,
                                      .region = take_region,
                                      .gather = take_gather,
                                      .free_params = take_free};

/* ---------------------------------------------------------------- building views */

/* What an index expression makes of each axis: per output axis its input axis (-1: new, of
 * length 1) and length; per input axis its map (params). */
typedef struct {
  int nout;
  int in_of[DA_MAX_NDIM];
  int64_t len[DA_MAX_NDIM];
  take_params *p;
} take_spec;

/* Output chunks along output axis d: one per input chunk an affine map crosses; for tables,
 * runs from one source chunk, merged up to the input's chunk size. coord: the grid
 * coordinate of each, the source chunk's. */
static int axis_layout(da_array x, const take_spec *sp, int d, int64_t **ck, int **coord,
                       int64_t *nck) {
  int m = sp->in_of[d];
  int64_t len = sp->len[d], cap = len > 0 ? len : 1;
  *ck = malloc((size_t)cap * sizeof(int64_t));
  *coord = malloc((size_t)cap * sizeof(int));
  if (!*ck || !*coord)
    return DA_ERR(x->ctx, DA_ERR_NOMEM, "cannot allocate chunks");
  int64_t n = 0;
  if (m < 0 || len == 0) {
    (*ck)[0] = len, (*coord)[0] = 0, *nck = 1;
    return DA_OK;
  }
  const take_params *p = sp->p;
  if (!p->table[m]) {
    for (int64_t t = 0; t < len;) {
      int64_t i = map_index(p, m, t), j = da_chunk_of(x, m, i);
      int64_t r = affine_run(x, p, m, i, j);
      r = r > len - t ? len - t : r;
      (*ck)[n] = r, (*coord)[n++] = x->gcoord[m][j];
      t += r;
    }
  } else {
    int64_t target = x->chunksize[m] > 0 ? x->chunksize[m] : 1, src = -2;
    for (int64_t t = 0; t < len; t++) {
      int64_t i = p->table[m][t], j = i == FILL ? -1 : da_chunk_of(x, m, i);
      bool split = n == 0 || (*ck)[n - 1] >= target || (j != src && 2 * (*ck)[n - 1] >= target);
      if (split) {
        (*ck)[n] = 0;
        (*coord)[n++] = j < 0 ? 0 : x->gcoord[m][j];
        src = j;
      }
      (*ck)[n - 1]++;
    }
  }
  *nck = n;
  return DA_OK;
}

/* The run lengths of every table of sp. */
static int table_runs(da_ctx ctx, take_spec *sp) {
  take_params *p = sp->p;
  for (int d = 0; d < sp->nout; d++) {
    int m = sp->in_of[d];
    if (m < 0 || !p->table[m] || p->runs[m])
      continue;
    int64_t len = sp->len[d], *t = p->table[m];
    if (!(p->runs[m] = malloc((size_t)(len > 0 ? len : 1) * sizeof(int64_t))))
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table");
    for (int64_t k = len - 1; k >= 0; k--) {
      bool on = k + 1 < len && (t[k] == FILL ? t[k + 1] == FILL : t[k + 1] == t[k] + 1);
      p->runs[m][k] = on ? p->runs[m][k + 1] + 1 : 1;
    }
  }
  return DA_OK;
}

/* Collective. The view of x described by sp (takes sp->p). like: an array of the result's
 * shape whose chunks and layout the result takes instead of its own (or NULL). */
static int take_new(da_array x, take_spec *sp, da_array like, da_array *out);

/* Collective. The view of x described by sp (takes sp->p), with the given chunks and layout. */
static int take_new_chunks(da_array x, take_spec *sp, const int64_t *const ck[],
                           const int64_t nck[], const da_layout *lay, da_array *out) {
  int rc = da_agree(x->ctx, table_runs(x->ctx, sp));
  if (rc) {
    take_free(sp->p);
    return rc;
  }
  return da_node_new(x->ctx, sp->nout, sp->len, ck, nck, x->dtype, x->elsize, lay, &take_ops, sp->p,
                     1, &x, out);
}

static int take_new(da_array x, take_spec *sp, da_array like, da_array *out) {
  da_ctx ctx = x->ctx;
  take_params *p = sp->p;
  int64_t *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  int *coord[DA_MAX_NDIM] = {0}, grid[DA_MAX_NDIM], rstride[DA_MAX_NDIM];
  int rbase = x->rbase, rc = table_runs(ctx, sp);
  for (int m = 0; m < x->ndim; m++)
    if (p->out_of[m] < 0)
      rbase += x->gcoord[m][da_chunk_of(x, m, p->fixed[m])] * x->rstride[m];
  for (int d = 0; d < sp->nout && !rc && !like; d++) {
    int m = sp->in_of[d];
    grid[d] = m < 0 ? 1 : x->grid[m];
    rstride[d] = m < 0 ? 0 : x->rstride[m];
    rc = axis_layout(x, sp, d, &ck[d], &coord[d], &nck[d]);
  }
  rc = da_agree(ctx, rc);
  if (!rc) {
    da_layout lay = {grid, (const int *const *)coord, rstride, rbase};
    if (like)
      rc =
          da_node_new(ctx, sp->nout, sp->len, (const int64_t *const *)like->chunks, like->numblocks,
                      x->dtype, x->elsize, DA_LAYOUT_OF(like), &take_ops, p, 1, &x, out);
    else
      rc = da_node_new(ctx, sp->nout, sp->len, (const int64_t *const *)ck, nck, x->dtype, x->elsize,
                       &lay, &take_ops, p, 1, &x, out);
    p = NULL;
  }
  if (p)
    take_free(p);
  for (int d = 0; d < sp->nout; d++) {
    free(ck[d]);
    free(coord[d]);
  }
  return rc;
}

static int spec_init(da_array x, take_spec *sp) {
  memset(sp, 0, sizeof *sp);
  sp->p = calloc(1, sizeof *sp->p);
  if (!sp->p)
    return DA_ERR(x->ctx, DA_ERR_NOMEM, "cannot allocate index parameters");
  return DA_OK;
}

/* Output axis d reads input axis m as start + step * t, t < len. */
static void spec_affine(take_spec *sp, int d, int m, int64_t start, int64_t step, int64_t len) {
  sp->in_of[d] = m;
  sp->len[d] = len;
  sp->p->out_of[m] = d;
  sp->p->start[m] = start;
  sp->p->step[m] = step;
}

/* Python's slice.indices: the first index, and the count, of start:stop:step over n. */
static int64_t slice_len(int64_t n, int64_t *start, int64_t stop, int64_t step) {
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  int64_t b = *start == DA_NONE ? (step > 0 ? lo : hi) : *start;
  int64_t e = stop == DA_NONE ? (step > 0 ? hi : lo) : stop;
  if (*start != DA_NONE && b < 0)
    b = b < -n ? lo : b + n;
  if (stop != DA_NONE && e < 0)
    e = e < -n ? lo : e + n;
  b = b < lo ? lo : b > hi ? hi : b;
  e = e < lo ? lo : e > hi ? hi : e;
  *start = b;
  if (step > 0)
    return e > b ? (e - b - 1) / step + 1 : 0;
  return b > e ? (b - e - 1) / -step + 1 : 0;
}

#define ENTRY_CHECKS(a, out)                                                                       \
  do {                                                                                             \
    if (!(a))                                                                                      \
      return DA_ERR_ARG;                                                                           \
    if (!(out))                                                                                    \
      return da_agree((a)->ctx, DA_ERR((a)->ctx, DA_ERR_ARG, "out is NULL"));                      \
    *(out) = NULL;                                                                                 \
  } while (0)

/* Collective. The spec of a[index...]; *identity when it selects a as it is. */
static int parse_index(da_array a, int n, const da_index index[], take_spec *sp,
                       bool *identity_out) {
  da_ctx ctx = a->ctx;
  int rc = DA_OK, consumed = 0, ellipsis = -1, lists = 0, nout = 0;
  if (n < 0 || (n > 0 && !index))
    rc = DA_ERR(ctx, DA_ERR_ARG, "index is NULL or its count %d is negative", n);
  for (int i = 0; i < n && !rc; i++) {
    switch (index[i].kind) {
    case DA_IDX_SLICE:
    case DA_IDX_LIST:
      nout++;
      consumed++;
      lists += index[i].kind == DA_IDX_LIST;
      break;
    case DA_IDX_INT:
      consumed++;
      break;
    case DA_IDX_NEWAXIS:
      nout++;
      break;
    case DA_IDX_ELLIPSIS:
      if (ellipsis >= 0)
        rc = DA_ERR(ctx, DA_ERR_ARG, "an index can only have a single ellipsis");
      ellipsis = i;
      break;
    default:
      rc = DA_ERR(ctx, DA_ERR_ARG, "index entry %d has unknown kind %d", i, (int)index[i].kind);
    }
  }
  if (!rc && consumed > a->ndim)
    rc = DA_ERR(ctx, DA_ERR_BOUNDS,
                "too many indices: the array is %d-dimensional, but %d were "
                "indexed",
                a->ndim, consumed);
  if (!rc && lists > 1)
    rc = DA_ERR(ctx, DA_ERR_UNSUPPORTED, "integer lists on more than one axis are not supported");
  nout += a->ndim - consumed;
  if (!rc && nout > DA_MAX_NDIM)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "the result would have %d axes (at most %d)", nout, DA_MAX_NDIM);
  if (!rc)
    rc = spec_init(a, sp);
  rc = da_agree(ctx, rc);
  if (rc)
    return rc;
  int m = 0, d = 0;
  bool identity = true;
  for (int i = 0; i <= n && !rc; i++) {
    if (i == n || i == ellipsis) { /* the axes no entry names */
      int rest = i == n ? a->ndim - m : a->ndim - consumed;
      for (int k = 0; k < rest; k++, m++, d++)
        spec_affine(sp, d, m, 0, 1, a->shape[m]);
      if (i == n)
        break;
      continue;
    }
    const da_index *e = &index[i];
    identity &= e->kind == DA_IDX_SLICE;
    if (e->kind == DA_IDX_NEWAXIS) {
      sp->in_of[d] = -1;
      sp->len[d++] = 1;
    } else if (e->kind == DA_IDX_INT) {
      int64_t v = e->start < 0 ? e->start + a->shape[m] : e->start;
      if (e->start < -a->shape[m] || v >= a->shape[m] || e->start == DA_NONE)
        rc = DA_ERR(ctx, DA_ERR_BOUNDS, "index %lld is out of bounds for axis %d with size %lld",
                    (long long)e->start, m, (long long)a->shape[m]);
      sp->p->out_of[m] = -1;
      sp->p->fixed[m++] = v;
    } else if (e->kind == DA_IDX_SLICE) {
      if (e->step == 0 || e->step == DA_NONE) {
        rc = DA_ERR(ctx, DA_ERR_ARG, "slice step cannot be zero");
        break;
      }
      int64_t start = e->start, len = slice_len(a->shape[m], &start, e->stop, e->step);
      identity &= start == 0 && e->step == 1 && len == a->shape[m];
      spec_affine(sp, d++, m++, start, e->step, len);
    } else {
      if (e->nlist < 0 || (e->nlist > 0 && !e->list)) {
        rc = DA_ERR(ctx, DA_ERR_ARG, "index list %d is NULL or has negative length", i);
        break;
      }
      int64_t *t = malloc((size_t)(e->nlist > 0 ? e->nlist : 1) * sizeof *t);
      if (!t) {
        rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table");
        break;
      }
      sp->p->table[m] = t;
      for (int64_t k = 0; k < e->nlist && !rc; k++) {
        int64_t v = e->list[k];
        t[k] = v < 0 ? v + a->shape[m] : v;
        if (v < -a->shape[m] || v >= a->shape[m])
          rc = DA_ERR(ctx, DA_ERR_BOUNDS, "index %lld is out of bounds for axis %d with size %lld",
                      (long long)v, m, (long long)a->shape[m]);
      }
      sp->in_of[d] = m;
      sp->len[d] = e->nlist;
      sp->p->out_of[m++] = d++;
    }
  }
  sp->nout = d;
  *identity_out = identity && d == a->ndim;
  rc = da_agree(ctx, rc);
  if (rc) {
    take_free(sp->p);
    sp->p = NULL;
  }
  return rc;
}

int da_getitem(da_array a, int n, const da_index index[], da_array *out) {
  ENTRY_CHECKS(a, out);
  take_spec sp;
  bool identity;
  DA_TRY(parse_index(a, n, index, &sp, &identity));
  if (identity) {
    take_free(sp.p);
    a->refcount++;
    *out = a;
    return DA_OK;
  }
  return take_new(a, &sp, NULL, out);
}

/* ---------------------------------------------------------------- axis shuffles */

static int normalize_axis(da_ctx ctx, int axis, int ndim, int *out) {
  if (axis < -ndim || axis >= ndim)
    return DA_ERR(ctx, DA_ERR_ARG, "axis %d is out of bounds for an array of dimension %d", axis,
                  ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return DA_OK;
}

/* n distinct axes of an ndim-array, normalized into out[] (seen[] marks them). */
static int axis_list(da_ctx ctx, int n, const int axes[], int ndim, int out[], bool seen[]) {
  for (int d = 0; d < DA_MAX_NDIM; d++)
    seen[d] = false;
  if (n < 0 || n > ndim || (n > 0 && !axes))
    return DA_ERR(ctx, DA_ERR_ARG, "%d axes are asked of a %d-d array", n, ndim);
  for (int i = 0; i < n; i++) {
    DA_TRY(normalize_axis(ctx, axes[i], ndim, &out[i]));
    if (seen[out[i]])
      return DA_ERR(ctx, DA_ERR_ARG, "axis %d is repeated", axes[i]);
    seen[out[i]] = true;
  }
  return DA_OK;
}

/* The view whose output axis d reads input axis perm[d] unchanged. */
static int permuted(da_array a, const int perm[], da_array *out) {
  bool identity = true;
  for (int d = 0; d < a->ndim; d++)
    identity &= perm[d] == d;
  if (identity) {
    a->refcount++;
    *out = a;
    return DA_OK;
  }
  take_spec sp;
  DA_TRY(spec_init(a, &sp));
  sp.nout = a->ndim;
  for (int d = 0; d < a->ndim; d++)
    spec_affine(&sp, d, perm[d], 0, 1, a->shape[perm[d]]);
  return take_new(a, &sp, NULL, out);
}

int da_transpose(da_array a, const int axes[], da_array *out) {
  ENTRY_CHECKS(a, out);
  int perm[DA_MAX_NDIM];
  bool seen[DA_MAX_NDIM];
  int rc = DA_OK;
  if (axes)
    rc = axis_list(a->ctx, a->ndim, axes, a->ndim, perm, seen);
  else
    for (int d = 0; d < a->ndim; d++)
      perm[d] = a->ndim - 1 - d;
  rc = da_agree(a->ctx, rc);
  return rc ? rc : permuted(a, perm, out);
}

int da_moveaxis(da_array a, int n, const int source[], const int destination[], da_array *out) {
  ENTRY_CHECKS(a, out);
  int src[DA_MAX_NDIM], dst[DA_MAX_NDIM], perm[DA_MAX_NDIM];
  bool s1[DA_MAX_NDIM], s2[DA_MAX_NDIM];
  int rc = axis_list(a->ctx, n, source, a->ndim, src, s1);
  if (!rc)
    rc = axis_list(a->ctx, n, destination, a->ndim, dst, s2);
  rc = da_agree(a->ctx, rc);
  if (rc)
    return rc;
  /* NumPy: the other axes keep their order in the places no destination takes. */
  for (int d = 0; d < a->ndim; d++)
    perm[d] = -1;
  for (int i = 0; i < n; i++)
    perm[dst[i]] = src[i];
  for (int d = 0, m = 0; d < a->ndim; d++) {
    if (perm[d] >= 0)
      continue;
    while (s1[m])
      m++;
    perm[d] = m++;
  }
  return permuted(a, perm, out);
}

int da_swapaxes(da_array a, int axis1, int axis2, da_array *out) {
  ENTRY_CHECKS(a, out);
  int i = 0, j = 0, perm[DA_MAX_NDIM];
  int rc = normalize_axis(a->ctx, axis1, a->ndim, &i);
  if (!rc)
    rc = normalize_axis(a->ctx, axis2, a->ndim, &j);
  rc = da_agree(a->ctx, rc);
  if (rc)
    return rc;
  for (int d = 0; d < a->ndim; d++)
    perm[d] = d;
  perm[i] = j, perm[j] = i;
  return permuted(a, perm, out);
}

int da_squeeze(da_array a, int naxes, const int axes[], da_array *out) {
  ENTRY_CHECKS(a, out);
  int list[DA_MAX_NDIM];
  bool drop[DA_MAX_NDIM];
  int rc = DA_OK;
  if (axes) {
    rc = axis_list(a->ctx, naxes, axes, a->ndim, list, drop);
    for (int i = 0; i < naxes && !rc; i++)
      if (a->shape[list[i]] != 1)
        rc = DA_ERR(a->ctx, DA_ERR_SHAPE,
                    "cannot select an axis to squeeze out which has size not equal to one");
  } else {
    for (int d = 0; d < a->ndim; d++)
      drop[d] = a->shape[d] == 1;
  }
  rc = da_agree(a->ctx, rc);
  if (rc)
    return rc;
  take_spec sp;
  DA_TRY(spec_init(a, &sp));
  int d = 0;
  for (int m = 0; m < a->ndim; m++) {
    if (drop[m])
      sp.p->out_of[m] = -1, sp.p->fixed[m] = 0;
    else
      spec_affine(&sp, d++, m, 0, 1, a->shape[m]);
  }
  sp.nout = d;
  if (d == a->ndim) {
    take_free(sp.p);
    a->refcount++;
    *out = a;
    return DA_OK;
  }
  return take_new(a, &sp, NULL, out);
}

int da_expand_dims(da_array a, int naxes, const int axes[], da_array *out) {
  ENTRY_CHECKS(a, out);
  int nout = a->ndim + naxes, list[DA_MAX_NDIM];
  bool isnew[DA_MAX_NDIM];
  int rc = nout > DA_MAX_NDIM ? DA_ERR(a->ctx, DA_ERR_SHAPE,
                                       "the result would have %d axes (at "
                                       "most %d)",
                                       nout, DA_MAX_NDIM)
                              : axis_list(a->ctx, naxes, axes, nout, list, isnew);
  rc = da_agree(a->ctx, rc);
  if (rc)
    return rc;
  take_spec sp;
  DA_TRY(spec_init(a, &sp));
  sp.nout = nout;
  for (int d = 0, m = 0; d < nout; d++) {
    if (isnew[d])
      sp.in_of[d] = -1, sp.len[d] = 1;
    else
      spec_affine(&sp, d, m, 0, 1, a->shape[m]), m++;
  }
  return take_new(a, &sp, NULL, out);
}

/* Axes named by (naxes, axes), or every axis when axes is NULL. */
static int axes_or_all(da_array a, int naxes, const int axes[], bool sel[]) {
  int list[DA_MAX_NDIM];
  if (axes)
    return axis_list(a->ctx, naxes, axes, a->ndim, list, sel);
  for (int d = 0; d < DA_MAX_NDIM; d++)
    sel[d] = d < a->ndim;
  return DA_OK;
}

int da_flip(da_array a, int naxes, const int axes[], da_array *out) {
  ENTRY_CHECKS(a, out);
  bool sel[DA_MAX_NDIM];
  int rc = da_agree(a->ctx, axes_or_all(a, naxes, axes, sel));
  if (rc)
    return rc;
  take_spec sp;
  DA_TRY(spec_init(a, &sp));
  sp.nout = a->ndim;
  for (int d = 0; d < a->ndim; d++)
    spec_affine(&sp, d, d, sel[d] ? a->shape[d] - 1 : 0, sel[d] ? -1 : 1, a->shape[d]);
  return take_new(a, &sp, NULL, out);
}

/* A table for output axis d over input axis m of length len; entries set by the caller. */
static int spec_table(take_spec *sp, int d, int m, int64_t len, int64_t **t) {
  *t = malloc((size_t)(len > 0 ? len : 1) * sizeof **t);
  if (!*t)
    return DA_ERR_NOMEM;
  sp->in_of[d] = m;
  sp->len[d] = len;
  sp->p->out_of[m] = d;
  sp->p->table[m] = *t;
  return DA_OK;
}

int da_roll(da_array a, int naxes, const int64_t shift[], const int axes[], da_array *out) {
  ENTRY_CHECKS(a, out);
  /* As NumPy, an axis may repeat: its shifts add up. */
  int *list = malloc((size_t)(naxes > 0 ? naxes : 1) * sizeof *list);
  int rc = list ? DA_OK : DA_ERR(a->ctx, DA_ERR_NOMEM, "cannot allocate axes");
  if (!rc && (naxes < 0 || (naxes > 0 && (!shift || !axes))))
    rc = DA_ERR(a->ctx, DA_ERR_ARG, "shift or axes is NULL, or their count %d is negative", naxes);
  for (int i = 0; i < naxes && !rc; i++)
    rc = normalize_axis(a->ctx, axes[i], a->ndim, &list[i]);
  rc = da_agree(a->ctx, rc);
  take_spec sp;
  if (!rc)
    rc = da_agree(a->ctx, spec_init(a, &sp));
  if (rc) {
    free(list);
    return rc;
  }
  sp.nout = a->ndim;
  for (int d = 0; d < a->ndim && !rc; d++) {
    int64_t n = a->shape[d], s = 0, *t;
    for (int i = 0; i < naxes; i++)
      if (list[i] == d && n > 0)
        s = ((s + shift[i] % n) % n + n) % n;
    if (s == 0) {
      spec_affine(&sp, d, d, 0, 1, n);
      continue;
    }
    rc = spec_table(&sp, d, d, n, &t);
    for (int64_t i = 0; i < n && !rc; i++)
      t[i] = (i - s + n) % n;
  }
  free(list);
  rc = da_agree(a->ctx, rc ? DA_ERR(a->ctx, DA_ERR_NOMEM, "cannot allocate an index table") : 0);
  if (rc) {
    take_free(sp.p);
    return rc;
  }
  return take_new(a, &sp, NULL, out);
}

/* NumPy's pad index maps: where output position i (before the pad: negative) reads. */
static int64_t pad_source(da_pad_mode mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n)
    return i;
  switch (mode) {
  case DA_PAD_EDGE:
    return i < 0 ? 0 : n - 1;
  case DA_PAD_WRAP:
    return (i % n + n) % n;
  case DA_PAD_REFLECT: {
    if (n == 1)
      return 0;
    int64_t period = 2 * (n - 1), r = (i % period + period) % period;
    return r < n ? r : period - r;
  }
  default:
    return FILL;
  }
}

int da_pad(da_array a, const int64_t width[][2], da_pad_mode mode, double constant, da_array *out) {
  ENTRY_CHECKS(a, out);
  da_ctx ctx = a->ctx;
  int rc = a->ndim > 0 && !width ? DA_ERR(ctx, DA_ERR_ARG, "width is NULL") : DA_OK;
  if (!rc && (mode < DA_PAD_CONSTANT || mode > DA_PAD_WRAP))
    rc = DA_ERR(ctx, DA_ERR_ARG, "unknown pad mode %d", (int)mode);
  int64_t len[DA_MAX_NDIM];
  for (int d = 0; d < a->ndim && !rc; d++) {
    if (width[d][0] < 0 || width[d][1] < 0)
      rc = DA_ERR(ctx, DA_ERR_ARG, "axis %d: pad widths must be non-negative", d);
    else if (mode != DA_PAD_CONSTANT && a->shape[d] == 0 && width[d][0] + width[d][1] > 0)
      rc =
          DA_ERR(ctx, DA_ERR_SHAPE, "axis %d: cannot extend an empty axis except by a constant", d);
    else if (__builtin_add_overflow(a->shape[d], width[d][0], &len[d]) ||
             __builtin_add_overflow(len[d], width[d][1], &len[d]))
      rc = DA_ERR(ctx, DA_ERR_OVERFLOW, "axis %d: the padded length overflows", d);
  }
  if (!rc)
    rc = da_check_shape(ctx, a->ndim, len, a->dtype);
  rc = da_agree(ctx, rc);
  if (rc)
    return rc;
  take_spec sp;
  DA_TRY(spec_init(a, &sp));
  sp.nout = a->ndim;
  da_fill_value(a->dtype, constant, &sp.p->fill, 1);
  for (int d = 0; d < a->ndim && !rc; d++) {
    int64_t *t;
    if (width[d][0] == 0 && width[d][1] == 0) {
      spec_affine(&sp, d, d, 0, 1, a->shape[d]);
      continue;
    }
    rc = spec_table(&sp, d, d, len[d], &t);
    for (int64_t i = 0; i < len[d] && !rc; i++)
      t[i] = pad_source(mode, i - width[d][0], a->shape[d]);
  }
  rc = da_agree(ctx, rc ? DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table") : 0);
  if (rc) {
    take_free(sp.p);
    return rc;
  }
  return take_new(a, &sp, NULL, out);
}

int da_diff(da_array a, int n, int axis, da_array *out) {
  ENTRY_CHECKS(a, out);
  int ax = 0;
  int rc = a->ndim == 0 ? DA_ERR(a->ctx, DA_ERR_SHAPE,
                                 "diff requires input that is at least one "
                                 "dimensional")
                        : normalize_axis(a->ctx, axis, a->ndim, &ax);
  if (!rc && n < 0)
    rc = DA_ERR(a->ctx, DA_ERR_ARG, "order must be non-negative but got %d", n);
  rc = da_agree(a->ctx, rc);
  if (rc)
    return rc;
  da_array x = a;
  a->refcount++;
  for (int k = 0; k < n && !rc; k++) {
    da_index hi[DA_MAX_NDIM], lo[DA_MAX_NDIM];
    for (int d = 0; d < x->ndim; d++)
      hi[d] = lo[d] = DA_ALL;
    hi[ax] = DA_SLICE(1, DA_NONE, 1);
    lo[ax] = DA_SLICE(DA_NONE, -1, 1);
    da_array u = NULL, v = NULL, w = NULL;
    rc = da_getitem(x, x->ndim, hi, &u);
    if (!rc)
      rc = da_getitem(x, x->ndim, lo, &v);
    if (!rc)
      rc = x->dtype == DA_BOOL ? da_not_equal(DA_V(u), DA_V(v), &w)
                               : da_subtract(DA_V(u), DA_V(v), &w);
    da_array_destroy(&u);
    da_array_destroy(&v);
    da_array_destroy(&x);
    x = w;
  }
  *out = x;
  return rc;
}

/* ---------------------------------------------------------------- index arrays and masks */

/* A second array operand of a: on a's context, checked. */
static int operand_of(da_array a, da_array x, const char *what) {
  if (!x)
    return DA_ERR(a->ctx, DA_ERR_ARG, "%s is NULL", what);
  if (x->ctx != a->ctx)
    return DA_ERR(a->ctx, DA_ERR_ARG, "%s belongs to another context", what);
  return DA_OK;
}

/* Collective. The 1-D array x converted to dt on every rank (*buf malloc'ed). */
static int gather_all(da_array x, da_dtype dt, void **buf) {
  da_ctx ctx = x->ctx;
  da_array c = NULL;
  size_t bytes = (size_t)x->size * da_dtype_size(dt);
  *buf = malloc(bytes ? bytes : 1);
  int rc = da_agree(ctx, *buf ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate indices"));
  if (!rc)
    rc = da_astype(x, dt, &c);
  if (!rc)
    rc = da_compute(c, DA_ALL_RANKS, *buf, bytes);
  da_array_destroy(&c);
  if (rc) {
    free(*buf);
    *buf = NULL;
  }
  return rc;
}

/* a[..., list, ...] with the list at axis. */
static int take_list(da_array a, int axis, const int64_t *list, int64_t n, da_array *out) {
  da_index idx[DA_MAX_NDIM];
  for (int d = 0; d < a->ndim; d++)
    idx[d] = DA_ALL;
  idx[axis] = DA_LIST(list, n);
  return da_getitem(a, a->ndim, idx, out);
}

int da_take(da_array a, da_array indices, int axis, da_array *out) {
  ENTRY_CHECKS(a, out);
  int ax = 0, rc = operand_of(a, indices, "indices");
  if (!rc && (indices->ndim != 1 || da_dtype_is_float(indices->dtype) || indices->dtype == DA_BOOL))
    rc = DA_ERR(a->ctx, DA_ERR_DTYPE, "indices must be a 1-d array of integers");
  if (!rc)
    rc = normalize_axis(a->ctx, axis, a->ndim, &ax);
  rc = da_agree(a->ctx, rc);
  void *list = NULL;
  if (!rc)
    rc = gather_all(indices, DA_INT64, &list);
  if (!rc)
    rc = take_list(a, ax, list, indices->size, out);
  free(list);
  return rc;
}

int da_compress(da_array a, da_array mask, int axis, da_array *out) {
  ENTRY_CHECKS(a, out);
  int rc = operand_of(a, mask, "mask");
  if (!rc && mask->ndim == a->ndim && mask->ndim != 1)
    return da_mask_select(a, mask, out);
  int ax = 0;
  if (!rc && (mask->ndim != 1 || mask->dtype != DA_BOOL))
    rc = DA_ERR(a->ctx, DA_ERR_DTYPE, "a mask along an axis must be a 1-d bool array");
  if (!rc)
    rc = normalize_axis(a->ctx, axis, a->ndim, &ax);
  if (!rc && mask->shape[0] != a->shape[ax])
    rc = DA_ERR(a->ctx, DA_ERR_SHAPE,
                "boolean index did not match indexed array along axis %d; size of axis is %lld "
                "but size of boolean index is %lld",
                ax, (long long)a->shape[ax], (long long)mask->shape[0]);
  rc = da_agree(a->ctx, rc);
  uint8_t *m = NULL;
  if (!rc)
    rc = gather_all(mask, DA_BOOL, (void **)&m);
  int64_t *list = NULL, n = 0;
  if (!rc) {
    list = malloc((size_t)(mask->size > 0 ? mask->size : 1) * sizeof *list);
    rc = da_agree(a->ctx, list ? DA_OK : DA_ERR(a->ctx, DA_ERR_NOMEM, "cannot allocate indices"));
  }
  for (int64_t i = 0; !rc && i < mask->size; i++)
    if (m[i])
      list[n++] = i;
  if (!rc)
    rc = take_list(a, ax, list, n, out);
  free(list);
  free(m);
  return rc;
}

/* The number of true elements of each block of a bool array (an int64 array of the block
 * grid's shape, one element per block, on the block's owner). */
static int counts_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)a, (void)nins;
  int64_t n = da_block_size_of(ins[0].node, b), c = 0;
  for (int64_t start = 0; start < n; start += DA_TILE) {
    int64_t cnt = n - start < DA_TILE ? n - start : DA_TILE;
    const uint8_t *t = da_input_tile(&ins[0], start, cnt);
    for (int64_t i = 0; i < cnt; i++)
      c += t[i] != 0;
  }
  *(int64_t *)out = c;
  return DA_OK;
}

static const da_layer_ops counts_ops = {
    .name = "mask-count", .aligned = true, .run = counts_run, .fuses_inputs = true};

/* Output block i: the true elements of slab i (block index i along axis 0) in C order. */
static int64_t select_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  da_array x = a->inputs[0];
  int64_t per = 1;
  for (int d = 1; d < x->ndim; d++)
    per *= x->numblocks[d];
  if (da_block_size_of(a, b) == 0)
    return 0;
  for (int64_t k = 0; k < 2 * per && 2 * per <= cap; k++) {
    input[k] = k < per ? 0 : 1;
    block[k] = (x->ndim > 0 ? b * per : 0) + k % per;
  }
  return 2 * per;
}

/* Appends the elements of x[0..n) where m is true to o (room: elements o can still take). */
static int64_t select_copy(char *o, const char *x, const uint8_t *m, int64_t n, size_t es,
                           int64_t room) {
  int64_t k = 0;
  if (room <= n) { /* the branchless form writes one past its last kept element */
    for (int64_t i = 0; i < n && k < room; i++)
      if (m[i])
        memcpy(o + (size_t)k++ * es, x + (size_t)i * es, es);
    return k;
  }
  switch (es) {
#define SELECT_(T)                                                                                 \
  for (int64_t i = 0; i < n; i++) {                                                                \
    ((T *)o)[k] = ((const T *)x)[i];                                                               \
    k += m[i] != 0;                                                                                \
  }                                                                                                \
  break;
  case 1:
    SELECT_(uint8_t)
  case 2:
    SELECT_(uint16_t)
  case 4:
    SELECT_(uint32_t)
  case 8:
    SELECT_(uint64_t)
#undef SELECT_
  default:
    for (int64_t i = 0; i < n; i++)
      if (m[i])
        memcpy(o + (size_t)k++ * es, x + (size_t)i * es, es);
  }
  return k;
}

static int select_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  da_array x = a->inputs[0];
  int nd = x->ndim;
  size_t es = x->elsize;
  int64_t room = da_block_size_of(a, b), per = nins / 2;
  char *o = out;
  if (room == 0)
    return DA_OK;
  if (nd <= 1) { /* the slab is one block */
    select_copy(o, ins[0].data, ins[1].data, nd ? x->chunks[0][b] : 1, es, room);
    return DA_OK;
  }
  /* Rows: every index of axes 0 .. nd-2 within the slab, in C order; each row crosses the
   * blocks along the last axis. */
  int64_t g[DA_MAX_NDIM], j[DA_MAX_NDIM], lo[DA_MAX_NDIM], hi[DA_MAX_NDIM];
  for (int d = 0; d < nd - 1; d++) {
    lo[d] = d == 0 ? x->offsets[0][b] : 0;
    hi[d] = d == 0 ? x->offsets[0][b + 1] : x->shape[d];
    if (hi[d] <= lo[d])
      return DA_OK;
    g[d] = lo[d];
  }
  int last = nd - 1;
  for (;;) {
    int64_t kb = 0, row = 0;
    for (int d = 1; d < nd - 1; d++) {
      j[d] = da_chunk_of(x, d, g[d]);
      kb = kb * x->numblocks[d] + j[d];
    }
    j[0] = b;
    for (int64_t jl = 0; jl < x->numblocks[last]; jl++) {
      int64_t len = x->chunks[last][jl], k = kb * x->numblocks[last] + jl;
      if (len == 0)
        continue;
      row = 0;
      for (int d = 0; d < nd - 1; d++)
        row = row * x->chunks[d][j[d]] + (g[d] - x->offsets[d][j[d]]);
      int64_t at = row * len;
      int64_t got = select_copy(o, (const char *)ins[k].data + at * (int64_t)es,
                                (const uint8_t *)ins[per + k].data + at, len, es, room);
      o += got * (int64_t)es;
      room -= got;
    }
    int d = nd - 2;
    while (d >= 0 && ++g[d] == hi[d])
      g[d] = lo[d], d--;
    if (d < 0)
      break;
  }
  return DA_OK;
}

static const da_layer_ops select_ops = {
    .name = "mask-select", .deps = select_deps, .run = select_run};

int da_mask_select(da_array a, da_array mask, da_array *out) {
  ENTRY_CHECKS(a, out);
  da_ctx ctx = a->ctx;
  int rc = operand_of(a, mask, "mask");
  if (!rc && mask->dtype != DA_BOOL)
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "a mask must be a bool array, not %s",
                da_dtype_name(mask->dtype));
  bool same = !rc && mask->ndim == a->ndim;
  for (int d = 0; same && d < a->ndim; d++)
    same = mask->shape[d] == a->shape[d];
  if (!rc && !same)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "boolean index did not match the indexed array's shape");
  rc = da_agree(ctx, rc);
  if (rc)
    return rc;
  /* The mask read with a's chunks, then one count per block, known on every rank. */
  da_array pair[2] = {a, mask}, al[2] = {0}, cnt = NULL, sel = NULL;
  int lead;
  int64_t *counts = NULL, *ck = NULL;
  rc = da_agree(ctx, da_broadcast_arrays(ctx, 2, pair, al, &lead));
  if (!rc && !al[1]->materialized) {
    /* A lazy mask is computed once, into bytes the counts and the selection both read. */
    da_array bytes = NULL;
    rc = da_astype(al[1], DA_UINT8, &bytes);
    if (!rc)
      rc = da_persist(bytes);
    da_array_destroy(&al[1]);
    al[1] = bytes;
  }
  if (!rc) {
    const int64_t *ones[DA_MAX_NDIM];
    int64_t *one = calloc((size_t)(al[1]->nblocks > 0 ? al[1]->nblocks : 1), sizeof *one);
    counts = malloc((size_t)al[1]->nblocks * sizeof *counts + 1);
    rc = da_agree(ctx, one && counts ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate counts"));
    for (int64_t i = 0; !rc && i < al[1]->nblocks; i++)
      one[i] = 1;
    for (int d = 0; d < a->ndim; d++)
      ones[d] = one;
    if (!rc)
      rc = da_node_new(ctx, a->ndim, al[1]->numblocks, ones, al[1]->numblocks, DA_INT64,
                       sizeof(int64_t), DA_LAYOUT_OF(al[1]), &counts_ops, NULL, 1, &al[1], &cnt);
    free(one);
    if (!rc)
      rc = da_compute(cnt, DA_ALL_RANKS, counts, (size_t)al[1]->nblocks * sizeof *counts);
  }
  int64_t nslab = a->ndim > 0 ? a->numblocks[0] : 1, per = a->ndim > 0 ? a->nblocks / nslab : 1;
  if (!rc) {
    ck = calloc((size_t)nslab, sizeof *ck);
    rc = da_agree(ctx, ck ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks"));
  }
  int64_t total = 0;
  for (int64_t i = 0; !rc && i < a->nblocks; i++)
    ck[i / per] += counts[i], total += counts[i];
  if (!rc) {
    /* Slab i lives with block (i, 0, ..., 0). */
    int grid = a->ndim > 0 ? a->grid[0] : 1, rstride = a->ndim > 0 ? a->rstride[0] : 0;
    int rbase = a->rbase;
    for (int d = 1; d < a->ndim; d++)
      rbase += a->gcoord[d][0] * a->rstride[d];
    int *coord = a->ndim > 0 ? a->gcoord[0] : (int[]){0};
    const int *coords[1] = {coord};
    da_layout lay = {&grid, coords, &rstride, rbase};
    rc = da_node_new(ctx, 1, &total, (const int64_t *const *)&ck, &nslab, a->dtype, a->elsize, &lay,
                     &select_ops, NULL, 2, al, &sel);
  }
  free(ck);
  free(counts);
  da_array_destroy(&cnt);
  da_array_destroy(&al[0]);
  da_array_destroy(&al[1]);
  *out = sel;
  return rc;
}

/* ---------------------------------------------------------------- assignment */

/* value as NumPy's setitem casts it into a's dtype: a float into an integer or bool array
 * truncates (NaN and infinities are errors), a number into a bool array tests nonzero. */
static int assign_value(da_array a, da_value v, da_value *out) {
  da_ctx ctx = a->ctx;
  *out = v;
  if (v.kind == DA_VALUE_ARRAY) {
    DA_TRY(operand_of(a, v.array, "value"));
    return DA_OK;
  }
  if (da_dtype_is_float(a->dtype))
    return DA_OK;
  if (v.kind == DA_VALUE_FLOAT) {
    double t = __builtin_trunc(v.f);
    if (t != t || t < -0x1p63 || t >= 0x1p64)
      return DA_ERR(ctx, DA_ERR_OVERFLOW, "cannot convert float %g to %s", v.f,
                    da_dtype_name(a->dtype));
    *out = t < 0 ? da_value_int((int64_t)t) : da_value_uint((uint64_t)t);
  }
  if (a->dtype == DA_BOOL)
    *out = da_value_bool(out->kind == DA_VALUE_UINT ? out->u != 0 : out->i != 0);
  return DA_OK;
}

/* where(cond, value, a) in a's dtype. */
static int assign_where(da_array a, da_value cond, da_value v, da_array *out) {
  da_array cast = NULL;
  int rc = DA_OK;
  if (v.kind == DA_VALUE_ARRAY) {
    rc = da_astype(v.array, a->dtype, &cast);
    v = da_value_array(cast);
  }
  if (!rc)
    rc = da_where(cond, v, DA_V(a), out);
  da_array_destroy(&cast);
  return rc;
}

int da_mask_assign(da_array a, da_array mask, da_value value, da_array *out) {
  ENTRY_CHECKS(a, out);
  da_value v;
  int rc = operand_of(a, mask, "mask");
  if (!rc && mask->dtype != DA_BOOL)
    rc = DA_ERR(a->ctx, DA_ERR_DTYPE, "a mask must be a bool array, not %s",
                da_dtype_name(mask->dtype));
  if (!rc)
    rc = assign_value(a, value, &v);
  rc = da_agree(a->ctx, rc);
  return rc ? rc : assign_where(a, DA_V(mask), v, out);
}

/* The view of y (the selection's shape) placed over a's shape by the inverse of sp's maps:
 * a's element reads y where the selection took it, FILL elsewhere (fill: 0 or false). */
static int scatter_view(da_array a, const take_spec *sp, da_array y, da_array *out) {
  da_ctx ctx = a->ctx;
  /* First y with a's axes: a length-1 axis for each integer index, none for new axes. */
  da_index idx[2 * DA_MAX_NDIM];
  int n = 0, d = 0;
  for (int m = 0; m < a->ndim; m++) {
    for (; d < sp->nout && sp->in_of[d] < 0; d++)
      idx[n++] = DA_AT(0);
    if (sp->p->out_of[m] < 0) {
      idx[n++] = DA_NEWAXIS;
    } else {
      idx[n++] = DA_ALL;
      d++;
    }
  }
  for (; d < sp->nout; d++)
    idx[n++] = DA_AT(0);
  da_array ya = NULL;
  DA_TRY(da_getitem(y, n, idx, &ya));
  take_spec inv;
  int rc = spec_init(ya, &inv);
  inv.nout = a->ndim;
  for (int m = 0; m < a->ndim && !rc; m++) {
    int64_t *t, len = a->shape[m];
    rc = spec_table(&inv, m, m, len, &t);
    for (int64_t i = 0; !rc && i < len; i++)
      t[i] = FILL;
    const take_params *p = sp->p;
    if (rc || p->out_of[m] < 0) {
      if (!rc)
        t[p->fixed[m]] = 0;
      continue;
    }
    int64_t sel = sp->len[p->out_of[m]];
    for (int64_t k = 0; k < sel; k++) /* a repeated index keeps its last value, as NumPy */
      t[map_index(p, m, k)] = k;
  }
  rc = da_agree(ctx, rc ? DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table") : DA_OK);
  if (!rc)
    rc = take_new(ya, &inv, a, out);
  else
    take_free(inv.p);
  da_array_destroy(&ya);
  return rc;
}

int da_setitem(da_array a, int n, const da_index index[], da_value value, da_array *out) {
  ENTRY_CHECKS(a, out);
  da_ctx ctx = a->ctx;
  da_value v;
  int rc = da_agree(ctx, assign_value(a, value, &v));
  take_spec sp;
  bool identity;
  if (!rc)
    rc = parse_index(a, n, index, &sp, &identity);
  if (rc)
    return rc;
  da_array ones = NULL, inside = NULL, y = NULL, ys = NULL;
  rc = da_ones(ctx, sp.nout, sp.len, NULL, DA_BOOL, &ones);
  if (!rc)
    rc = scatter_view(a, &sp, ones, &inside);
  if (!rc && v.kind == DA_VALUE_ARRAY) {
    rc = da_broadcast_to(v.array, sp.nout, sp.len, &y);
    if (!rc)
      rc = scatter_view(a, &sp, y, &ys);
    v = da_value_array(ys);
  }
  if (!rc)
    rc = assign_where(a, DA_V(inside), v, out);
  take_free(sp.p);
  da_array_destroy(&ones);
  da_array_destroy(&inside);
  da_array_destroy(&y);
  da_array_destroy(&ys);
  return rc;
}

/* ---------------------------------------------------------------- overlap */

/* Per axis and block, the halo cells before (lo) and after (hi) the block. */
typedef struct {
  int64_t *lo[DA_MAX_NDIM], *hi[DA_MAX_NDIM];
} halos;

static void halos_free(halos *h) {
  for (int d = 0; d < DA_MAX_NDIM; d++) {
    free(h->lo[d]);
    free(h->hi[d]);
    h->lo[d] = h->hi[d] = NULL;
  }
}

/* Checks depth and boundary and sizes the halos: depth cells on each side; with NONE, only
 * the cells the array has (none at its edges); none at all on an empty axis. */
static int overlap_halos(da_array x, const int64_t depth[], const da_boundary boundary[],
                         halos *h) {
  da_ctx ctx = x->ctx;
  memset(h, 0, sizeof *h);
  if (x->ndim > 0 && (!depth || !boundary))
    return DA_ERR(ctx, DA_ERR_ARG, "depth or boundary is NULL");
  for (int d = 0; d < x->ndim; d++) {
    if (depth[d] < 0)
      return DA_ERR(ctx, DA_ERR_ARG, "axis %d: depth %lld is negative", d, (long long)depth[d]);
    if (boundary[d] < DA_BOUNDARY_NONE || boundary[d] > DA_BOUNDARY_CONSTANT)
      return DA_ERR(ctx, DA_ERR_ARG, "axis %d: unknown boundary %d", d, (int)boundary[d]);
  }
  for (int d = 0; d < x->ndim; d++) {
    int64_t nb = x->numblocks[d], n = x->shape[d];
    h->lo[d] = malloc((size_t)nb * sizeof(int64_t));
    h->hi[d] = malloc((size_t)nb * sizeof(int64_t));
    if (!h->lo[d] || !h->hi[d])
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate halos");
    for (int64_t j = 0; j < nb; j++) {
      int64_t lo = depth[d], hi = depth[d], before = x->offsets[d][j];
      int64_t after = n - x->offsets[d][j + 1];
      if (boundary[d] == DA_BOUNDARY_NONE) {
        lo = lo < before ? lo : before;
        hi = hi < after ? hi : after;
      }
      h->lo[d][j] = n == 0 ? 0 : lo;
      h->hi[d][j] = n == 0 ? 0 : hi;
    }
  }
  return DA_OK;
}

/* Where index i of an axis of length n reads under a boundary rule (FILL: the constant). */
static int64_t boundary_source(da_boundary b, int64_t i, int64_t n) {
  if (i >= 0 && i < n)
    return i;
  switch (b) {
  case DA_BOUNDARY_PERIODIC:
    return (i % n + n) % n;
  case DA_BOUNDARY_REFLECT: { /* mirror including the edge cell: period 2n */
    int64_t r = (i % (2 * n) + 2 * n) % (2 * n);
    return r < n ? r : 2 * n - 1 - r;
  }
  case DA_BOUNDARY_NEAREST:
    return i < 0 ? 0 : n - 1;
  default:
    return FILL;
  }
}

/* Collective. The overlap view of x with halos h: x's block grid and layout, each block
 * grown by its halos. */
static int overlap_view(da_array x, const halos *h, const da_boundary boundary[], double constant,
                        da_array *out) {
  da_ctx ctx = x->ctx;
  take_spec sp;
  int rc = spec_init(x, &sp);
  int64_t *ck[DA_MAX_NDIM] = {0}, nck[DA_MAX_NDIM];
  sp.nout = x->ndim;
  if (!rc)
    da_fill_value(x->dtype, constant, &sp.p->fill, 1);
  for (int d = 0; d < x->ndim && !rc; d++) {
    int64_t nb = x->numblocks[d], len = 0, *t;
    ck[d] = malloc((size_t)nb * sizeof(int64_t));
    if (!ck[d]) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks");
      break;
    }
    nck[d] = nb;
    for (int64_t j = 0; j < nb; j++) {
      ck[d][j] = x->chunks[d][j] + h->lo[d][j] + h->hi[d][j];
      if (__builtin_add_overflow(len, ck[d][j], &len))
        rc = DA_ERR(ctx, DA_ERR_OVERFLOW, "axis %d: the overlapped length overflows", d);
    }
    if (rc)
      break;
    if (len == x->shape[d]) { /* no halo along this axis */
      spec_affine(&sp, d, d, 0, 1, len);
      continue;
    }
    if (spec_table(&sp, d, d, len, &t)) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table");
      break;
    }
    for (int64_t j = 0, p = 0; j < nb; j++)
      for (int64_t i = x->offsets[d][j] - h->lo[d][j]; i < x->offsets[d][j + 1] + h->hi[d][j]; i++)
        t[p++] = boundary_source(boundary[d], i, x->shape[d]);
  }
  if (!rc)
    rc = da_check_shape(ctx, x->ndim, sp.len, x->dtype);
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = take_new_chunks(x, &sp, (const int64_t *const *)ck, nck, DA_LAYOUT_OF(x), out);
  else
    take_free(sp.p);
  for (int d = 0; d < x->ndim; d++)
    free(ck[d]);
  return rc;
}

int da_overlap(da_array x, const int64_t depth[], const da_boundary boundary[], double constant,
               da_array *out) {
  ENTRY_CHECKS(x, out);
  halos h;
  int rc = da_agree(x->ctx, overlap_halos(x, depth, boundary, &h));
  if (!rc)
    rc = overlap_view(x, &h, boundary, constant, out);
  halos_free(&h);
  return rc;
}

int da_trim_overlap(da_array x, const int64_t depth[], const da_boundary boundary[],
                    da_array *out) {
  ENTRY_CHECKS(x, out);
  da_ctx ctx = x->ctx;
  halos h;
  memset(&h, 0, sizeof h);
  int rc = overlap_halos(x, depth, boundary, &h);
  /* The halos of an array whose blocks are at least depth long: depth inside, none at the
   * array edges with NONE. */
  take_spec sp;
  int64_t *ck[DA_MAX_NDIM] = {0};
  if (!rc)
    rc = spec_init(x, &sp);
  else
    sp.p = NULL;
  sp.nout = x->ndim;
  for (int d = 0; d < x->ndim && !rc; d++) {
    int64_t nb = x->numblocks[d], len = 0, *t;
    ck[d] = malloc((size_t)nb * sizeof(int64_t));
    if (!ck[d]) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks");
      break;
    }
    for (int64_t j = 0; j < nb && !rc; j++) {
      bool none = boundary[d] == DA_BOUNDARY_NONE;
      int64_t lo = none && j == 0 ? 0 : depth[d], hi = none && j == nb - 1 ? 0 : depth[d];
      ck[d][j] = x->chunks[d][j] - lo - hi;
      if (x->shape[d] > 0 && ck[d][j] < 0)
        rc = DA_ERR(ctx, DA_ERR_SHAPE,
                    "axis %d: block %lld of length %lld is shorter than its "
                    "halos",
                    d, (long long)j, (long long)x->chunks[d][j]);
      h.lo[d][j] = x->shape[d] > 0 ? lo : 0;
      ck[d][j] = x->shape[d] > 0 ? ck[d][j] : 0;
      len += ck[d][j];
    }
    if (rc || spec_table(&sp, d, d, len, &t)) {
      rc = rc ? rc : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate an index table");
      break;
    }
    for (int64_t j = 0, p = 0; j < nb; j++)
      for (int64_t i = 0; i < ck[d][j]; i++)
        t[p++] = x->offsets[d][j] + h.lo[d][j] + i;
  }
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = take_new_chunks(x, &sp, (const int64_t *const *)ck, x->numblocks, DA_LAYOUT_OF(x), out);
  else if (sp.p)
    take_free(sp.p);
  for (int d = 0; d < x->ndim; d++)
    free(ck[d]);
  halos_free(&h);
  return rc;
}

/* ---------------------------------------------------------------- local map_overlap */

/* map_overlap of a stencil: the function's output at a cell depends only on the input within
 * depth of it, so a block may be computed in slabs of rows along axis 0, each with its own
 * halo rows, small enough that the slab's input and output stay in cache. The layer is a
 * view over x with the overlap view's dependencies; fused into a consumer that reads tiles
 * (a sum), no block of the result is ever stored. */

/* A slab's input and output together, in bytes: well inside a core's L2 cache. */
#define SLAB_BYTES ((size_t)512 << 10)

typedef struct {
  da_array ext; /* the overlap view: its dependencies and gather are this layer's */
  da_block_fn fn;
  void *user;
  void (*user_free)(void *);
  int64_t depth0;
  size_t slab_bytes; /* SLAB_BYTES, or DARRAY_SLAB_BYTES */
  halos h;
  /* The last slab computed for a consumer reading tiles: output rows [r0, r1) of block. The
   * scheduler runs one task at a time on a rank, so one slab serves its tiles in turn. */
  int64_t block, r0, r1;
  char *rows, *ext_rows;
  size_t rows_cap, ext_cap;
} slab_params;

static void slab_free(void *pp) {
  slab_params *p = pp;
  if (p->user_free)
    p->user_free(p->user);
  da_array_destroy(&p->ext);
  halos_free(&p->h);
  free(p->rows);
  free(p->ext_rows);
  free(p);
}

static int64_t slab_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  const slab_params *p = a->params;
  return take_deps(p->ext, b, input, block, cap);
}

static void slab_region(const da_array a, int64_t b, int64_t k, int64_t lo[], int64_t n[]) {
  const slab_params *p = a->params;
  take_region(p->ext, b, k, lo, n);
}

static bool grow(char **buf, size_t *cap, size_t bytes) {
  if (bytes <= *cap)
    return true;
  char *m = realloc(*buf, bytes);
  if (!m)
    return false;
  *buf = m;
  *cap = bytes;
  return true;
}

/* Output rows [r, r1) of block b into out: the slab's extended rows gathered from the
 * dependencies, then the function on them. */
static int slab_run(const da_array a, int64_t b, const da_input *ins, int64_t nins, int64_t r,
                    int64_t r1, void *out) {
  slab_params *p = a->params;
  da_array x = a->inputs[0], ext = p->ext;
  int nd = x->ndim;
  int64_t bidx[DA_MAX_NDIM], es[DA_MAX_NDIM], os[DA_MAX_NDIM], lo[DA_MAX_NDIM], hi[DA_MAX_NDIM],
      off[DA_MAX_NDIM];
  da_block_unravel(x, b, bidx);
  da_block_shape_of(ext, b, es);
  int64_t erow = 1, lo0 = p->h.lo[0][bidx[0]], hi0 = p->h.hi[0][bidx[0]];
  for (int d = 0; d < nd; d++) {
    lo[d] = p->h.lo[d][bidx[d]], hi[d] = p->h.hi[d][bidx[d]];
    off[d] = x->offsets[d][bidx[d]];
    os[d] = x->chunks[d][bidx[d]];
    erow *= d ? es[d] : 1;
  }
  int64_t s0 = os[0];
  /* Rows of real input around the slab: depth, less where the block's halo is shorter. */
  lo[0] = p->depth0 < r + lo0 ? p->depth0 : r + lo0;
  hi[0] = p->depth0 < s0 - r1 + hi0 ? p->depth0 : s0 - r1 + hi0;
  off[0] += r;
  es[0] = lo[0] + (r1 - r) + hi[0];
  os[0] = r1 - r;
  if (!grow(&p->ext_rows, &p->ext_cap, (size_t)(es[0] * erow) * ext->elsize))
    return DA_ERR(a->ctx, DA_ERR_NOMEM, "map_overlap: cannot allocate a slab");
  take_gather(ext, b, ins, nins, (r + lo0 - lo[0]) * erow, es[0] * erow, p->ext_rows);
  const void *in[1] = {p->ext_rows};
  const int64_t *shapes[1] = {es};
  da_dtype dts[1] = {x->dtype};
  da_block_info info = {.nin = 1,
                        .in = in,
                        .in_shape = shapes,
                        .in_dtype = dts,
                        .in_ndim = nd,
                        .out = out,
                        .out_ndim = nd,
                        .out_shape = os,
                        .out_dtype = a->dtype,
                        .block_index = bidx,
                        .block_offset = off,
                        .halo_lo = lo,
                        .halo_hi = hi};
  return da_block_call(a->ctx, "map_overlap", p->fn, p->user, &info);
}

/* Rows of block b per slab (input and output rows within SLAB_BYTES) and elements per row. */
static int64_t slab_height(const da_array a, int64_t b, int64_t *row, int64_t bs[]) {
  const slab_params *p = a->params;
  int64_t bidx[DA_MAX_NDIM];
  da_block_shape_of(a, b, bs);
  da_block_unravel(a, b, bidx);
  size_t ext_row = a->inputs[0]->elsize;
  *row = 1;
  for (int d = 1; d < a->ndim; d++) {
    *row *= bs[d];
    ext_row *= (size_t)(bs[d] + p->h.lo[d][bidx[d]] + p->h.hi[d][bidx[d]]);
  }
  size_t per_row = (size_t)*row * a->elsize + ext_row;
  int64_t height = per_row ? (int64_t)(p->slab_bytes / per_row) : bs[0];
  return height < 1 ? 1 : height;
}

/* Computes the slab of block b from row r into the kept rows. */
static int slab_keep(const da_array a, int64_t b, const da_input *ins, int64_t nins, int64_t r,
                     int64_t r1, int64_t row) {
  slab_params *p = a->params;
  p->block = -1;
  if (!grow(&p->rows, &p->rows_cap, (size_t)((r1 - r) * row) * a->elsize))
    return DA_ERR(a->ctx, DA_ERR_NOMEM, "map_overlap: cannot allocate a slab");
  int rc = slab_run(a, b, ins, nins, r, r1, p->rows);
  if (!rc)
    p->block = b, p->r0 = r, p->r1 = r1;
  return rc;
}

static void slab_fail(da_ctx ctx, int rc) {
  if (!ctx->tile_rc)
    ctx->tile_rc = rc; /* the message is set already */
}

/* Elements [start, start + count) of block b: whole slabs straight into out, the rest from
 * the kept slab. Errors go to the task. */
static void slab_gather(const da_array a, int64_t b, const da_input *ins, int64_t nins,
                        int64_t start, int64_t count, void *out) {
  slab_params *p = a->params;
  int64_t bs[DA_MAX_NDIM], row, es = (int64_t)a->elsize;
  int64_t height = slab_height(a, b, &row, bs);
  if (count <= 0 || row == 0 || bs[0] == 0)
    return;
  char *o = out;
  for (int64_t pos = start, end = start + count; pos < end;) {
    int64_t r = pos / row;
    if (p->block == b && r >= p->r0 && r < p->r1) {
      int64_t n = p->r1 * row - pos < end - pos ? p->r1 * row - pos : end - pos;
      memcpy(o, p->rows + (pos - p->r0 * row) * es, (size_t)(n * es));
      o += n * es, pos += n;
      continue;
    }
    int64_t r1 = r + height < bs[0] ? r + height : bs[0];
    int rc;
    if (pos == r * row && end >= r1 * row) { /* whole rows wanted: no copy */
      rc = slab_run(a, b, ins, nins, r, r1, o);
      o += (r1 - r) * row * es, pos = r1 * row;
    } else {
      rc = slab_keep(a, b, ins, nins, r, r1, row);
    }
    if (rc) {
      slab_fail(a->ctx, rc);
      return;
    }
  }
}

/* A tile inside the kept slab (computing the slab it starts in when needed): read in place. */
static const void *slab_peek(const da_array a, int64_t b, const da_input *ins, int64_t nins,
                             int64_t start, int64_t count) {
  slab_params *p = a->params;
  int64_t bs[DA_MAX_NDIM], row;
  int64_t height = slab_height(a, b, &row, bs);
  if (count <= 0 || row == 0 || bs[0] == 0)
    return NULL;
  int64_t r = start / row;
  if (!(p->block == b && r >= p->r0 && r < p->r1)) {
    int rc = slab_keep(a, b, ins, nins, r, r + height < bs[0] ? r + height : bs[0], row);
    if (rc) {
      slab_fail(a->ctx, rc);
      return NULL;
    }
  }
  if (start + count > p->r1 * row)
    return NULL;
  return p->rows + (start - p->r0 * row) * (int64_t)a->elsize;
}

static const da_layer_ops slab_ops = {.name = "map-overlap",
                                      .deps = slab_deps,
                                      .region = slab_region,
                                      .gather = slab_gather,
                                      .peek = slab_peek,
                                      .free_params = slab_free};

int da_map_overlap(da_block_fn fn, void *user, da_array x, const int64_t depth[],
                   const da_boundary boundary[], double constant, da_dtype out_dtype, int trim,
                   da_array *out) {
  return da_map_overlap_owned(fn, user, NULL, x, depth, boundary, constant, out_dtype, trim, out);
}

int da_map_overlap_owned(da_block_fn fn, void *user, void (*user_free)(void *), da_array x,
                         const int64_t depth[], const da_boundary boundary[], double constant,
                         da_dtype out_dtype, int trim, da_array *out) {
  if (!x || !out) {
    if (user_free)
      user_free(user);
  }
  ENTRY_CHECKS(x, out);
  halos h;
  da_array ext = NULL;
  int rc = da_agree(x->ctx, overlap_halos(x, depth, boundary, &h));
  if (!rc)
    rc = overlap_view(x, &h, boundary, constant, &ext);
  if (rc && user_free)
    user_free(user);
  bool local = (trim & DA_OVERLAP_TRIM) && (trim & DA_OVERLAP_LOCAL) && x->ndim > 0;
  if (!rc && local) {
    rc = !fn ? DA_ERR(x->ctx, DA_ERR_ARG, "map_overlap: the block function is NULL")
         : !da_dtype_valid(out_dtype)
             ? DA_ERR(x->ctx, DA_ERR_DTYPE, "map_overlap: unknown output dtype %d", (int)out_dtype)
             : da_check_shape(x->ctx, x->ndim, x->shape, out_dtype);
    rc = da_agree(x->ctx, rc);
    slab_params *p = rc ? NULL : calloc(1, sizeof *p);
    rc = rc ? rc : da_agree(x->ctx, p ? DA_OK : DA_ERR(x->ctx, DA_ERR_NOMEM, "out of memory"));
    if (!rc) {
      *p = (slab_params){.ext = ext,
                         .fn = fn,
                         .user = user,
                         .user_free = user_free,
                         .depth0 = depth[0],
                         .h = h,
                         .block = -1,
                         .slab_bytes = SLAB_BYTES};
      const char *env = getenv("DARRAY_SLAB_BYTES");
      if (env && atoll(env) > 0)
        p->slab_bytes = (size_t)atoll(env);
      ext = NULL, user_free = NULL;
      memset(&h, 0, sizeof h);
      rc = da_node_new(x->ctx, x->ndim, x->shape, (const int64_t *const *)x->chunks, x->numblocks,
                       out_dtype, da_dtype_size(out_dtype), DA_LAYOUT_OF(x), &slab_ops, p, 1, &x,
                       out);
    } else if (user_free) {
      user_free(user);
    }
  } else if (!rc) {
    da_map_halo mh;
    da_map_out mo = {.ndim = x->ndim};
    for (int d = 0; d < x->ndim; d++) {
      mh.lo[d] = h.lo[d], mh.hi[d] = h.hi[d], mh.offset[d] = x->offsets[d];
      mo.src[d] = d, mo.size[d] = 0;
      mo.list[d] = trim & DA_OVERLAP_TRIM ? x->chunks[d] : ext->chunks[d];
    }
    rc = da_map_blocks_halo(fn, user, user_free, 1, &ext, &mh, out_dtype, &mo, out);
  }
  da_array_destroy(&ext);
  halos_free(&h);
  return rc;
}
