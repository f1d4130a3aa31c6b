/* Selection: topk / argtopk (each block keeps its lanes' top |k|, one layer merges them per
 * lane), isin (the test set sorted on every rank, then a tile layer), nonzero / argwhere (the
 * nonzero elements counted per block, then exact slabs of their indices). */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- topk */

/* One kept element: its bits (a's dtype, in the first bytes) and its index along the axis. */
typedef struct {
  uint64_t raw;
  int64_t idx;
} tk_rec;

/* A candidate: its key in selection order (the smallest keys are kept), then its record. */
typedef struct {
  uint64_t key;
  int64_t idx;
  uint64_t raw;
} tk_item;

typedef struct {
  int axis;
  int64_t k; /* as asked: > 0 the largest, < 0 the smallest */
  bool arg;  /* the merge writes indices */
} topk_params;

#define SIGN_BIT (UINT64_C(1) << 63)

/* Floats in an unsigned order: NaN above +inf (every NaN alike), -0 equal to +0. */
static uint64_t float_key(double v) {
  if (v != v)
    return UINT64_MAX;
  if (v == 0)
    v = 0;
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b & SIGN_BIT ? ~b : b | SIGN_BIT;
}

/* Signed integers in an unsigned order. */
static uint64_t signed_key(int64_t v) {
  return (uint64_t)v ^ SIGN_BIT;
}

/* The element at p of dtype dt as a key that orders as its value. */
static uint64_t order_key(da_dtype dt, const void *p) {
  switch (dt) {
  case DA_INT8:
    return signed_key(*(const int8_t *)p);
  case DA_INT16:
    return signed_key(*(const int16_t *)p);
  case DA_INT32:
    return signed_key(*(const int32_t *)p);
  case DA_INT64:
    return signed_key(*(const int64_t *)p);
  case DA_UINT16:
    return *(const uint16_t *)p;
  case DA_UINT32:
    return *(const uint32_t *)p;
  case DA_UINT64:
    return *(const uint64_t *)p;
  case DA_FLOAT32:
    return float_key(*(const float *)p);
  case DA_FLOAT64:
    return float_key(*(const double *)p);
  default: /* bool, uint8 */
    return *(const uint8_t *)p;
  }
}

/* The selection order: key, then the lower index first (so ties resolve alike whatever the
 * chunks). */
static bool tk_less(const tk_item *x, const tk_item *y) {
  return x->key < y->key || (x->key == y->key && x->idx < y->idx);
}

static void tk_swap(tk_item *x, tk_item *y) {
  tk_item t = *x;
  *x = *y, *y = t;
}

/* A max-heap of the n smallest items seen so far. */
static void sift_down(tk_item *h, int64_t n, int64_t i) {
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n)
      return;
    if (c + 1 < n && tk_less(&h[c], &h[c + 1]))
      c++;
    if (!tk_less(&h[i], &h[c]))
      return;
    tk_swap(&h[i], &h[c]);
    i = c;
  }
}

/* Offers it to the heap h of *n items, which keeps the cap smallest. */
static void heap_offer(tk_item *h, int64_t *n, int64_t cap, const tk_item *it) {
  if (*n < cap) {
    int64_t i = (*n)++;
    h[i] = *it;
    while (i > 0 && tk_less(&h[(i - 1) / 2], &h[i])) {
      tk_swap(&h[(i - 1) / 2], &h[i]);
      i = (i - 1) / 2;
    }
  } else if (tk_less(it, &h[0])) {
    h[0] = *it;
    sift_down(h, cap, 0);
  }
}

/* The heap's items in ascending selection order. */
static void heap_sort(tk_item *h, int64_t n) {
  for (int64_t e = n - 1; e > 0; e--) {
    tk_swap(&h[0], &h[e]);
    sift_down(h, e, 0);
  }
}

/* Orders v so that its first want items are its smallest, ascending: introsort that goes on
 * only into the part holding them, heapsort past depth. Keys are distinct (indices differ). */
static void tk_select(tk_item *v, int64_t n, int64_t want, int depth) {
  while (n > 16) {
    if (depth-- == 0) {
      for (int64_t i = n / 2 - 1; i >= 0; i--)
        sift_down(v, n, i);
      heap_sort(v, n);
      return;
    }
    /* Median of three: v[0] < pivot < v[n - 1] stop both scans inside. */
    int64_t mid = n / 2;
    if (tk_less(&v[mid], &v[0]))
      tk_swap(&v[mid], &v[0]);
    if (tk_less(&v[n - 1], &v[mid])) {
      tk_swap(&v[n - 1], &v[mid]);
      if (tk_less(&v[mid], &v[0]))
        tk_swap(&v[mid], &v[0]);
    }
    tk_item pivot = v[mid];
    int64_t i = -1, j = n;
    for (;;) {
      do
        i++;
      while (tk_less(&v[i], &pivot));
      do
        j--;
      while (tk_less(&pivot, &v[j]));
      if (i >= j)
        break;
      tk_swap(&v[i], &v[j]);
    }
    int64_t left = j + 1; /* v[0 .. left) <= pivot <= v[left .. n) */
    if (want > left)
      tk_select(v + left, n - left, want - left, depth);
    n = left;
    want = want < left ? want : left;
  }
  for (int64_t i = 1; i < n; i++)
    for (int64_t j = i; j > 0 && tk_less(&v[j], &v[j - 1]); j--)
      tk_swap(&v[j], &v[j - 1]);
}

static int depth_for(int64_t n) {
  int d = 0;
  while (n > 1)
    n >>= 1, d += 2;
  return d;
}

/* Elements before and after axis in a block of shape bs. */
static void lanes_of(int nd, const int64_t bs[], int axis, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < nd; d++) {
    if (d < axis)
      *outer *= bs[d];
    else if (d > axis)
      *inner *= bs[d];
  }
}

/* Block b of the partial layer: each lane's min(|k|, n) first elements in selection order,
 * as records at the lane's places along the axis. */
static int topk_partial_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  const topk_params *p = a->params;
  da_array x = a->inputs[0];
  int ax = p->axis;
  int64_t bs[DA_MAX_NDIM], bidx[DA_MAX_NDIM], outer, inner;
  da_block_shape_of(x, b, bs);
  da_block_unravel(x, b, bidx);
  lanes_of(x->ndim, bs, ax, &outer, &inner);
  int64_t n = bs[ax], m = a->chunks[ax][bidx[ax]], off = x->offsets[ax][bidx[ax]];
  if (outer * inner == 0 || m == 0)
    return DA_OK;
  if (!ins[0].data || ins[0].part)
    return DA_ERR(a->ctx, DA_ERR_INTERNAL, "topk: block %lld is not in memory", (long long)b);
  const char *src = ins[0].data;
  size_t es = x->elsize;
  bool largest = p->k > 0;
  /* Few kept: a bounded heap turns most elements away with one comparison. Many: select. */
  bool stream = m <= n / 8;
  tk_item *h = da_malloc(a->ctx, (size_t)(stream ? m : n) * sizeof *h);
  if (!h)
    return DA_ERR_NOMEM;
  char *o = out;
  for (int64_t u = 0; u < outer; u++) {
    for (int64_t r = 0; r < inner; r++) {
      int64_t cnt = 0;
      for (int64_t i = 0; i < n; i++) {
        const char *e = src + (size_t)((u * n + i) * inner + r) * es;
        tk_item it = {order_key(x->dtype, e), off + i, 0};
        if (largest)
          it.key = ~it.key;
        if (stream && cnt == m && !tk_less(&it, &h[0]))
          continue;
        memcpy(&it.raw, e, es);
        if (stream)
          heap_offer(h, &cnt, m, &it);
        else
          h[cnt++] = it;
      }
      if (stream)
        heap_sort(h, m);
      else
        tk_select(h, n, m, depth_for(n));
      for (int64_t t = 0; t < m; t++) {
        tk_rec rec = {h[t].raw, h[t].idx};
        memcpy(o + (size_t)((u * m + t) * inner + r) * sizeof rec, &rec, sizeof rec);
      }
    }
  }
  free(h);
  return DA_OK;
}

/* Output block b: the partial blocks along the axis with the same other indices (those that
 * keep anything). */
static int64_t topk_merge_deps(const da_array a, int64_t b, int *input, int64_t *block,
                               int64_t cap) {
  const topk_params *p = a->params;
  da_array part = a->inputs[0];
  int ax = p->axis;
  if (da_block_size_of(a, b) == 0)
    return 0;
  int64_t bidx[DA_MAX_NDIM], n = 0;
  da_block_unravel(a, b, bidx);
  for (int64_t j = 0; j < part->numblocks[ax]; j++) {
    if (part->chunks[ax][j] == 0)
      continue;
    bidx[ax] = j;
    if (n < cap)
      input[n] = 0, block[n] = da_block_ravel(part, bidx);
    n++;
  }
  return n;
}

/* Merges each lane's kept records of every block along the axis into its first |k|. */
static int topk_merge_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const topk_params *p = a->params;
  da_array part = a->inputs[0], x = part->inputs[0];
  int ax = p->axis;
  int64_t bs[DA_MAX_NDIM], outer, inner, K = a->shape[ax];
  da_block_shape_of(a, b, bs);
  lanes_of(a->ndim, bs, ax, &outer, &inner);
  if (outer * inner == 0)
    return DA_OK;
  int64_t *m = da_malloc(a->ctx, (size_t)nins * sizeof *m), total = 0;
  for (int i = 0; m && i < nins; i++) {
    int64_t pidx[DA_MAX_NDIM];
    da_block_unravel(part, ins[i].block, pidx);
    m[i] = part->chunks[ax][pidx[ax]];
    total += m[i];
  }
  if (m && total < K) {
    free(m);
    return DA_ERR(a->ctx, DA_ERR_INTERNAL, "topk: the blocks kept %lld of %lld elements",
                  (long long)total, (long long)K);
  }
  tk_item *h = m ? da_malloc(a->ctx, (size_t)total * sizeof *h) : NULL;
  if (!h) {
    free(m);
    return DA_ERR_NOMEM;
  }
  bool largest = p->k > 0;
  size_t es = a->elsize;
  char *o = out;
  for (int64_t u = 0; u < outer; u++) {
    for (int64_t r = 0; r < inner; r++) {
      int64_t cnt = 0; /* reaches total */
      for (int i = 0; i < nins; i++) {
        const char *s = ins[i].data;
        for (int64_t t = 0; t < m[i]; t++) {
          tk_rec rec;
          memcpy(&rec, s + (size_t)((u * m[i] + t) * inner + r) * sizeof rec, sizeof rec);
          tk_item it = {order_key(x->dtype, &rec.raw), rec.idx, rec.raw};
          if (largest)
            it.key = ~it.key;
          h[cnt++] = it;
        }
      }
      tk_select(h, total, K, depth_for(total));
      for (int64_t t = 0; t < K; t++) {
        char *dst = o + (size_t)((u * K + t) * inner + r) * es;
        if (p->arg)
          memcpy(dst, &h[t].idx, sizeof(int64_t));
        else
          memcpy(dst, &h[t].raw, es);
      }
    }
  }
  free(m);
  free(h);
  return DA_OK;
}

static const da_layer_ops topk_partial_ops = {
    .name = "topk-partial", .aligned = true, .run = topk_partial_run};
static const da_layer_ops topk_ops = {
    .name = "topk", .deps = topk_merge_deps, .run = topk_merge_run};
static const da_layer_ops argtopk_ops = {
    .name = "argtopk", .deps = topk_merge_deps, .run = topk_merge_run};

static int topk_graph(da_array a, int64_t k, int ax, bool arg, da_array *out) {
  da_ctx ctx = a->ctx;
  int nd = a->ndim;
  int64_t K = k < 0 ? -k : k, nb = a->numblocks[ax];
  int64_t *pck = malloc((size_t)nb * sizeof *pck);
  topk_params *p1 = malloc(sizeof *p1), *p2 = malloc(sizeof *p2);
  int rc =
      da_agree(ctx, pck && p1 && p2 ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "topk: cannot allocate"));
  if (rc) {
    free(pck), free(p1), free(p2);
    return rc;
  }
  *p1 = *p2 = (topk_params){.axis = ax, .k = k, .arg = arg};
  int64_t shape[DA_MAX_NDIM], nck[DA_MAX_NDIM];
  const int64_t *ck[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++)
    shape[d] = a->shape[d], ck[d] = a->chunks[d], nck[d] = a->numblocks[d];
  shape[ax] = 0;
  for (int64_t j = 0; j < nb; j++) {
    pck[j] = a->chunks[ax][j] < K ? a->chunks[ax][j] : K;
    shape[ax] += pck[j];
  }
  ck[ax] = pck;
  da_array part = NULL;
  rc = da_node_new(ctx, nd, shape, ck, nck, DA_UINT8, sizeof(tk_rec), DA_LAYOUT_OF(a),
                   &topk_partial_ops, p1, 1, &a, &part);
  free(pck);
  if (rc) {
    free(p2);
    return rc;
  }
  /* One block along the axis, on the ranks of a's blocks at index 0 there. */
  int grid[DA_MAX_NDIM], rstride[DA_MAX_NDIM];
  const int *coord[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++)
    grid[d] = a->grid[d], rstride[d] = a->rstride[d], coord[d] = a->gcoord[d];
  int rbase = a->rbase + a->gcoord[ax][0] * a->rstride[ax];
  grid[ax] = 1, rstride[ax] = 0, coord[ax] = NULL;
  da_layout lay = {grid, coord, rstride, rbase};
  shape[ax] = K, ck[ax] = &K, nck[ax] = 1;
  da_dtype odt = arg ? DA_INT64 : a->dtype;
  rc = da_node_new(ctx, nd, shape, ck, nck, odt, da_dtype_size(odt), &lay,
                   arg ? &argtopk_ops : &topk_ops, p2, 1, &part, out);
  da_array_destroy(&part);
  return rc;
}

static int topk(da_array a, int64_t k, int axis, bool arg, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  const char *op = arg ? "argtopk" : "topk";
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "%s: out is NULL", op));
  *out = NULL;
  int rc = DA_OK, ax = axis < 0 ? axis + a->ndim : axis;
  if (axis < -a->ndim || axis >= a->ndim)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: axis %d is out of bounds for an array of dimension %d", op,
                axis, a->ndim);
  else if (k == 0 || k == INT64_MIN || (k < 0 ? -k : k) > a->shape[ax])
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: k is %lld; |k| must be 1 .. %lld, the length of axis %d", op,
                (long long)k, (long long)a->shape[ax], ax);
  DA_TRY(da_agree(ctx, rc));
  return topk_graph(a, k, ax, arg, out);
}

int da_topk(da_array a, int64_t k, int axis, da_array *out) {
  return topk(a, k, axis, false, out);
}

int da_argtopk(da_array a, int64_t k, int axis, da_array *out) {
  return topk(a, k, axis, true, out);
}

/* ---------------------------------------------------------------- isin */

/* The test set, sorted and without repeats, in the domain both sides compare in: float64 when
 * either is a float (as NumPy promotes them), else exact integers, split by sign so that
 * int64 and uint64 values compare exactly. */
typedef struct {
  bool fdom;
  uint8_t invert;
  int64_t nf, nneg, npos;
  double *f;
  int64_t *neg;
  uint64_t *pos;
} isin_params;

static void isin_free(void *pp) {
  isin_params *p = pp;
  if (p) {
    free(p->f);
    free(p->neg);
    free(p->pos);
  }
  free(p);
}

static bool in_f(const isin_params *p, double v) {
  int64_t lo = 0, hi = p->nf;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p->f[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->nf && p->f[lo] == v; /* NaN equals nothing */
}

static bool in_u(const isin_params *p, uint64_t v) {
  int64_t lo = 0, hi = p->npos;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p->pos[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->npos && p->pos[lo] == v;
}

static bool in_i(const isin_params *p, int64_t v) {
  if (v >= 0)
    return in_u(p, (uint64_t)v);
  int64_t lo = 0, hi = p->nneg;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p->neg[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->nneg && p->neg[lo] == v;
}

static void isin_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                      const void *const *in, void *out) {
  (void)b, (void)start;
  const isin_params *p = a->params;
  uint8_t *o = out;
#define ISIN_LOOP_(T, test)                                                                        \
  do {                                                                                             \
    const T *x = in[0];                                                                            \
    for (int64_t i = 0; i < count; i++)                                                            \
      o[i] = (uint8_t)(test(p, x[i]) ^ p->invert);                                                 \
  } while (0)
#define ISIN_INT_(E, T, test)                                                                      \
  case E:                                                                                          \
    if (p->fdom)                                                                                   \
      ISIN_LOOP_(T, in_f);                                                                         \
    else                                                                                           \
      ISIN_LOOP_(T, test);                                                                         \
    break;
  switch (a->inputs[0]->dtype) {
    ISIN_INT_(DA_BOOL, uint8_t, in_u)
    ISIN_INT_(DA_INT8, int8_t, in_i)
    ISIN_INT_(DA_INT16, int16_t, in_i)
    ISIN_INT_(DA_INT32, int32_t, in_i)
    ISIN_INT_(DA_INT64, int64_t, in_i)
    ISIN_INT_(DA_UINT8, uint8_t, in_u)
    ISIN_INT_(DA_UINT16, uint16_t, in_u)
    ISIN_INT_(DA_UINT32, uint32_t, in_u)
    ISIN_INT_(DA_UINT64, uint64_t, in_u)
  case DA_FLOAT32:
    ISIN_LOOP_(float, in_f);
    break;
  case DA_FLOAT64:
    ISIN_LOOP_(double, in_f);
    break;
  default:
    break;
  }
#undef ISIN_INT_
#undef ISIN_LOOP_
}

static const da_layer_ops isin_ops = {
    .name = "isin", .aligned = true, .tile = isin_tile, .free_params = isin_free};

static int cmp_f64(const void *x, const void *y) {
  double u = *(const double *)x, v = *(const double *)y;
  return (u > v) - (u < v);
}
static int cmp_i64(const void *x, const void *y) {
  int64_t u = *(const int64_t *)x, v = *(const int64_t *)y;
  return (u > v) - (u < v);
}
static int cmp_u64(const void *x, const void *y) {
  uint64_t u = *(const uint64_t *)x, v = *(const uint64_t *)y;
  return (u > v) - (u < v);
}

/* Sorts n values of 8 bytes and drops repeats; returns how many are left. */
static int64_t sort_unique(void *v, int64_t n, int (*cmp)(const void *, const void *)) {
  char *c = v;
  qsort(v, (size_t)n, 8, cmp);
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++)
    if (k == 0 || cmp(c + (size_t)(k - 1) * 8, c + (size_t)i * 8) != 0)
      memmove(c + (size_t)k++ * 8, c + (size_t)i * 8, 8);
  return k;
}

/* Collective. Test's values on every rank, in p's domain, sorted and unique. */
static int isin_set(da_array test, isin_params *p) {
  da_ctx ctx = test->ctx;
  int64_t n = test->size;
  da_dtype dt = p->fdom ? DA_FLOAT64 : da_dtype_is_signed(test->dtype) ? DA_INT64 : DA_UINT64;
  char *buf = malloc((size_t)(n > 0 ? n : 1) * 8);
  int64_t *neg = malloc((size_t)(n > 0 ? n : 1) * 8);
  int rc = da_agree(ctx, buf && neg ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "isin: cannot allocate"));
  da_array c = NULL;
  if (!rc)
    rc = da_astype(test, dt, &c);
  if (!rc)
    rc = da_compute(c, DA_ALL_RANKS, buf, (size_t)n * 8);
  da_array_destroy(&c);
  if (rc) {
    free(buf), free(neg);
    return rc;
  }
  if (dt == DA_FLOAT64) {
    double *f = (double *)buf;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
      if (f[i] == f[i])
        f[k++] = f[i];
    p->f = f, p->nf = sort_unique(f, k, cmp_f64);
    free(neg);
    return DA_OK;
  }
  /* Negative int64 values apart; the rest as uint64, over buf itself. */
  uint64_t *pos = (uint64_t *)buf;
  int64_t kn = 0, kp = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t v;
    memcpy(&v, buf + i * 8, 8);
    if (dt == DA_INT64 && v < 0)
      neg[kn++] = v;
    else
      pos[kp++] = (uint64_t)v;
  }
  p->neg = neg, p->nneg = sort_unique(neg, kn, cmp_i64);
  p->pos = pos, p->npos = sort_unique(pos, kp, cmp_u64);
  return DA_OK;
}

int da_isin(da_array element, da_array test, int invert, da_array *out) {
  if (!element)
    return DA_ERR_ARG;
  da_ctx ctx = element->ctx;
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "isin: out is NULL"));
  *out = NULL;
  int rc = DA_OK;
  if (!test)
    rc = DA_ERR(ctx, DA_ERR_ARG, "isin: test is NULL");
  else if (test->ctx != ctx)
    rc = DA_ERR(ctx, DA_ERR_ARG, "isin: test belongs to another context");
  DA_TRY(da_agree(ctx, rc));
  isin_params *p = calloc(1, sizeof *p);
  DA_TRY(da_agree(ctx, p ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "isin: cannot allocate")));
  p->fdom = da_dtype_is_float(element->dtype) || da_dtype_is_float(test->dtype);
  p->invert = invert != 0;
  rc = isin_set(test, p);
  if (rc) {
    isin_free(p);
    return rc;
  }
  return da_node_new(ctx, element->ndim, element->shape, (const int64_t *const *)element->chunks,
                     element->numblocks, DA_BOOL, 1, DA_LAYOUT_OF(element), &isin_ops, p, 1,
                     &element, out);
}

/* ---------------------------------------------------------------- nonzero, argwhere */

/* f[i] = 1 where in[i] is nonzero (NaN too). */
static void nz_flags(da_dtype dt, const void *in, int64_t n, uint8_t *f) {
#define NZ_(E, T)                                                                                  \
  case E:                                                                                          \
    for (int64_t i = 0; i < n; i++)                                                                \
      f[i] = ((const T *)in)[i] != 0;                                                              \
    break;
  switch (dt) {
    NZ_(DA_BOOL, uint8_t)
    NZ_(DA_INT8, int8_t)
    NZ_(DA_INT16, int16_t)
    NZ_(DA_INT32, int32_t)
    NZ_(DA_INT64, int64_t)
    NZ_(DA_UINT8, uint8_t)
    NZ_(DA_UINT16, uint16_t)
    NZ_(DA_UINT32, uint32_t)
    NZ_(DA_UINT64, uint64_t)
    NZ_(DA_FLOAT32, float)
    NZ_(DA_FLOAT64, double)
  default:
    break;
  }
#undef NZ_
}

/* A lazy array's nonzero flags (uint8), computed once for both passes. */
static void nz_mask_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                         const void *const *in, void *out) {
  (void)b, (void)start;
  nz_flags(a->inputs[0]->dtype, in[0], count, out);
}

static const da_layer_ops nz_mask_ops = {
    .name = "nonzero-mask", .aligned = true, .tile = nz_mask_tile};

/* The nonzero elements of each block (int64, one per block, on the block's owner). */
static int nz_count_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  da_array x = a->inputs[0];
  int64_t n = da_block_size_of(x, b), c = 0;
  uint8_t f[DA_TILE];
  for (int64_t start = 0; start < n; start += DA_TILE) {
    int64_t cnt = n - start < DA_TILE ? n - start : DA_TILE;
    nz_flags(x->dtype, da_input_tile(&ins[0], start, cnt), cnt, f);
    for (int64_t i = 0; i < cnt; i++)
      c += f[i];
  }
  memcpy(out, &c, sizeof c);
  return DA_OK;
}

static const da_layer_ops nz_count_ops = {
    .name = "nonzero-count", .aligned = true, .run = nz_count_run, .fuses_inputs = true};

typedef struct {
  int col;         /* the axis whose indices are written (nonzero), or -1: all (argwhere) */
  int64_t *counts; /* nonzero elements per block of the input */
} nz_params;

static void nz_free(void *pp) {
  nz_params *p = pp;
  if (p)
    free(p->counts);
  free(p);
}

/* Output block i: the blocks of slab i (block index i along axis 0) that hold any. */
static int64_t nz_deps(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap) {
  const nz_params *p = a->params;
  da_array x = a->inputs[0];
  int64_t per = x->nblocks / x->numblocks[0], n = 0;
  for (int64_t k = 0; k < per; k++) {
    if (p->counts[b * per + k] == 0)
      continue;
    if (n < cap)
      input[n] = 0, block[n] = b * per + k;
    n++;
  }
  return n;
}

/* Where nz_run writes: the rows so far and the room left. */
typedef struct {
  int64_t *o;
  int64_t n, room;
  int nd, col;
} nz_out;

/* Writes the indices of the flagged elements of one run along the last axis: g holds the
 * leading indices, first the last axis's index of f[0]. */
static void nz_emit(nz_out *w, const int64_t g[], int64_t first, const uint8_t *f, int64_t len) {
  int nd = w->nd, last = nd - 1;
  for (int64_t i = 0; i < len && w->n < w->room; i++) {
    if (!f[i])
      continue;
    if (w->col < 0) {
      int64_t *row = w->o + w->n * nd;
      for (int d = 0; d < last; d++)
        row[d] = g[d];
      row[last] = first + i;
    } else {
      w->o[w->n] = w->col == last ? first + i : g[w->col];
    }
    w->n++;
  }
}

/* Slab b's nonzero elements in C order: rows over the leading axes, each crossing the
 * slab's blocks along the last axis. */
static int nz_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const nz_params *p = a->params;
  da_array x = a->inputs[0];
  int nd = x->ndim, last = nd - 1;
  int64_t per = x->nblocks / x->numblocks[0], want = 0;
  for (int64_t k = 0; k < per; k++)
    want += p->counts[b * per + k];
  nz_out w = {out, 0, want, nd, p->col};
  if (want == 0)
    return DA_OK;
  int64_t *at = da_malloc(a->ctx, (size_t)per * sizeof *at);
  uint8_t *f = da_malloc(a->ctx, (size_t)x->chunksize[last]);
  if (!at || !f) {
    free(at), free(f);
    return DA_ERR_NOMEM;
  }
  for (int64_t k = 0; k < per; k++)
    at[k] = -1;
  for (int i = 0; i < nins; i++)
    at[ins[i].block - b * per] = i;
  size_t es = x->elsize;
  int64_t g[DA_MAX_NDIM] = {0}, j[DA_MAX_NDIM], lo[DA_MAX_NDIM], hi[DA_MAX_NDIM];
  bool empty = last == 0;
  if (last == 0 && at[0] >= 0) { /* the slab is one block */
    nz_flags(x->dtype, ins[at[0]].data, x->chunks[0][b], f);
    nz_emit(&w, g, x->offsets[0][b], f, x->chunks[0][b]);
  }
  for (int d = 0; d < last; d++) {
    lo[d] = d == 0 ? x->offsets[0][b] : 0;
    hi[d] = d == 0 ? x->offsets[0][b + 1] : x->shape[d];
    empty = empty || hi[d] <= lo[d];
    g[d] = lo[d];
  }
  while (!empty) {
    int64_t kb = 0;
    for (int d = 1; d < last; d++) {
      j[d] = da_chunk_of(x, d, g[d]);
      kb = kb * x->numblocks[d] + j[d];
    }
    j[0] = b;
    for (int64_t jl = 0; jl < x->numblocks[last]; jl++) {
      int64_t len = x->chunks[last][jl], k = kb * x->numblocks[last] + jl;
      if (len == 0 || at[k] < 0)
        continue;
      int64_t row = 0;
      for (int d = 0; d < last; d++)
        row = row * x->chunks[d][j[d]] + (g[d] - x->offsets[d][j[d]]);
      nz_flags(x->dtype, (const char *)ins[at[k]].data + (size_t)(row * len) * es, len, f);
      nz_emit(&w, g, x->offsets[last][jl], f, len);
    }
    int d = last - 1;
    while (d >= 0 && ++g[d] == hi[d])
      g[d] = lo[d], d--;
    if (d < 0)
      break;
  }
  free(at), free(f);
  if (w.n != want)
    return DA_ERR(a->ctx, DA_ERR_ARG,
                  "nonzero: slab %lld holds %lld nonzero elements, %lld when they were counted "
                  "(was the array changed in place?)",
                  (long long)b, (long long)w.n, (long long)want);
  return DA_OK;
}

static const da_layer_ops nz_ops = {
    .name = "nonzero", .deps = nz_deps, .run = nz_run, .free_params = nz_free};

/* Collective. What the index layers read (a itself when materialized, else its flags computed
 * once) and its nonzero count per block, on every rank. */
static int nz_count(da_array a, da_array *x, int64_t **counts) {
  da_ctx ctx = a->ctx;
  *x = NULL;
  *counts = NULL;
  int rc = DA_OK;
  if (a->materialized) {
    a->refcount++;
    *x = a;
  } else {
    rc = da_node_new(ctx, a->ndim, a->shape, (const int64_t *const *)a->chunks, a->numblocks,
                     DA_UINT8, 1, DA_LAYOUT_OF(a), &nz_mask_ops, NULL, 1, &a, x);
    if (!rc)
      rc = da_persist(*x);
  }
  da_array c = NULL;
  int64_t *one = NULL;
  if (!rc) {
    da_array y = *x;
    *counts = malloc((size_t)y->nblocks * sizeof **counts + 1);
    one = malloc((size_t)y->nblocks * sizeof *one + 1);
    rc = da_agree(ctx,
                  *counts && one ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "nonzero: cannot allocate"));
    const int64_t *ones[DA_MAX_NDIM];
    for (int64_t i = 0; !rc && i < y->nblocks; i++)
      one[i] = 1;
    for (int d = 0; d < y->ndim; d++)
      ones[d] = one;
    if (!rc)
      rc = da_node_new(ctx, y->ndim, y->numblocks, ones, y->numblocks, DA_INT64, sizeof(int64_t),
                       DA_LAYOUT_OF(y), &nz_count_ops, NULL, 1, &y, &c);
    if (!rc)
      rc = da_compute(c, DA_ALL_RANKS, *counts, (size_t)y->nblocks * sizeof **counts);
  }
  free(one);
  da_array_destroy(&c);
  if (rc) {
    da_array_destroy(x);
    free(*counts);
    *counts = NULL;
  }
  return rc;
}

/* The index layer over x: nonzero's column col (1-D), or argwhere's (count, ndim) for col -1.
 * Slab i lives with x's block (i, 0, ..., 0). */
static int nz_node(da_array x, const int64_t *counts, int col, da_array *out) {
  da_ctx ctx = x->ctx;
  int nd = x->ndim;
  int64_t nslab = x->numblocks[0], per = x->nblocks / nslab, total = 0;
  int64_t *ck = malloc((size_t)nslab * sizeof *ck);
  nz_params *p = malloc(sizeof *p);
  int64_t *cc = malloc((size_t)x->nblocks * sizeof *cc + 1);
  int rc =
      da_agree(ctx, ck && p && cc ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "nonzero: cannot allocate"));
  if (rc) {
    free(ck), free(p), free(cc);
    return rc;
  }
  memcpy(cc, counts, (size_t)x->nblocks * sizeof *cc);
  *p = (nz_params){.col = col, .counts = cc};
  for (int64_t i = 0; i < nslab; i++) {
    ck[i] = 0;
    for (int64_t k = 0; k < per; k++)
      ck[i] += counts[i * per + k];
    total += ck[i];
  }
  int grid[2] = {x->grid[0], 1}, rstride[2] = {x->rstride[0], 0}, rbase = x->rbase;
  for (int d = 1; d < nd; d++)
    rbase += x->gcoord[d][0] * x->rstride[d];
  const int *coord[2] = {x->gcoord[0], NULL};
  da_layout lay = {grid, coord, rstride, rbase};
  int64_t shape[2] = {total, nd}, ncols = nd, nck[2] = {nslab, 1};
  const int64_t *cks[2] = {ck, &ncols};
  rc = da_node_new(ctx, col < 0 ? 2 : 1, shape, cks, nck, DA_INT64, sizeof(int64_t), &lay, &nz_ops,
                   p, 1, &x, out);
  free(ck);
  return rc;
}

/* Entry checks of nonzero and argwhere. */
static int nz_check(da_array a, const void *out, const char *op) {
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  if (!out)
    rc = DA_ERR(ctx, DA_ERR_ARG, "%s: out is NULL", op);
  else if (a->ndim == 0)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "%s: the array is 0-d; it needs at least one axis", op);
  return da_agree(ctx, rc);
}

int da_nonzero(da_array a, da_array out[]) {
  if (!a)
    return DA_ERR_ARG;
  for (int d = 0; out && d < a->ndim; d++)
    out[d] = NULL;
  DA_TRY(nz_check(a, out, "nonzero"));
  da_array x = NULL;
  int64_t *counts = NULL;
  int rc = nz_count(a, &x, &counts);
  for (int d = 0; !rc && d < a->ndim; d++)
    rc = nz_node(x, counts, d, &out[d]);
  if (rc)
    for (int d = 0; d < a->ndim; d++)
      da_array_destroy(&out[d]);
  free(counts);
  da_array_destroy(&x);
  return rc;
}

int da_argwhere(da_array a, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  if (out)
    *out = NULL;
  DA_TRY(nz_check(a, out, "argwhere"));
  da_array x = NULL;
  int64_t *counts = NULL;
  int rc = nz_count(a, &x, &counts);
  if (!rc)
    rc = nz_node(x, counts, -1, out);
  free(counts);
  da_array_destroy(&x);
  return rc;
}
