/* Histograms: a partial layer folds each block into a record (bin counts or weight sums, or
 * the block's min and max), and one combining layer adds the records of every block in a
 * fixed tree over block indices, so any number of ranks gives the same bits. Bins follow
 * NumPy's numpy.histogram exactly, edge cases included. */
#include "core/internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { HP_RANGE, HP_HIST, HP_BINCOUNT, HP_HISTDD } hp_kind;

typedef struct {
  hp_kind kind;
  int64_t nbins;
  bool uniform, weighted, density;
  double first, last, norm; /* uniform bins: NumPy's first_edge, last_edge, nbins / width */
  double *edges;            /* nbins + 1 */
  /* HP_HISTDD: rows of dims columns, each with uniform bins of its own (nbins: their
   * product) */
  int dims;
  int64_t dbins[DA_MAX_NDIM];
  double dfirst[DA_MAX_NDIM], dnorm[DA_MAX_NDIM];
  double *dedges[DA_MAX_NDIM];
} hist_params;

static void hist_free(void *pp) {
  hist_params *p = pp;
  if (p) {
    free(p->edges);
    for (int d = 0; d < p->dims; d++)
      free(p->dedges[d]);
  }
  free(p);
}

/* The uniform bin of v among n bins with edges e (first e[0], norm n / width), or -1
 * outside: NumPy's arithmetic, corrected against the edges. */
static int64_t bin_uniform(const double *e, int64_t n, double first, double norm, double v) {
  if (!(v >= e[0] && v <= e[n]))
    return -1;
  int64_t i = (int64_t)((v - first) * norm);
  i -= i == n;
  i -= v < e[i];
  i += (i != n - 1) & (v >= e[i + 1]);
  return i;
}

/* The bin of v, or -1 outside [first edge, last edge] (NaN included), as NumPy finds it:
 * uniform bins by arithmetic corrected against the edges, others by binary search. */
static int64_t bin_of(const hist_params *p, double v) {
  const double *e = p->edges;
  int64_t n = p->nbins;
  if (p->uniform)
    return bin_uniform(e, n, p->first, p->norm, v);
  if (!(v >= e[0] && v <= e[n]))
    return -1;
  /* The last i with e[i] <= v; the last edge closes the last bin. */
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (e[mid] <= v)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* Uniform bins counted into four interleaved 32-bit histograms of n + 1 slots (slot 0
 * takes the values outside), so that neighbouring elements rarely wait on one counter;
 * the caller flushes them before they can overflow. A value whose position (v - first) *
 * norm lies further inside its bin than the rounding of that product and of the edges can
 * reach (margin, in bins) is in that bin by NumPy's rules too, so only values near an edge
 * are checked against the edges. */
#define SUB_HISTS 4
#define SUB_FLUSH ((int64_t)1 << 30)
static void count_uniform(const hist_params *p, const double *t, int64_t cnt, uint32_t *sub) {
  const double *e = p->edges;
  const int64_t n = p->nbins, w = n + 1;
  const double first = e[0], norm = p->norm, top = (double)n;
  const double margin = 16 * DBL_EPSILON * (top + (fabs(first) + fabs(e[n])) * norm);
  const double lo = margin, hi = 1 - margin;
  int64_t i = 0;
  for (; i + SUB_HISTS <= cnt; i += SUB_HISTS)
    for (int j = 0; j < SUB_HISTS; j++) {
      double v = t[i + j], f = (v - first) * norm;
      int64_t k = f >= 0 && f < top ? (int64_t)f : 0; /* no cast out of range */
      double frac = f - (double)k;
      if (!(f >= 0 && f < top && frac > lo && frac < hi))
        k = bin_uniform(e, n, first, norm, v);
      sub[j * w + 1 + k]++;
    }
  for (; i < cnt; i++)
    sub[1 + bin_uniform(e, n, first, norm, t[i])]++;
}

/* Adds the sub-histograms into h and clears them. */
static void flush_uniform(int64_t n, uint32_t *sub, int64_t *h) {
  for (int j = 0; j < SUB_HISTS; j++)
    for (int64_t k = 0; k < n; k++)
      h[k] += sub[j * (n + 1) + 1 + k];
  memset(sub, 0, SUB_HISTS * (size_t)(n + 1) * sizeof *sub);
}

/* Record of one block: HP_RANGE (min, max, any NaN); HP_HIST nbins counts (int64) or
 * weight sums (float64). */
static int hist_partial_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  const hist_params *p = a->params;
  da_array x = a->inputs[0];
  int64_t total = da_block_size_of(x, b);
  if (p->kind == HP_RANGE) {
    double r[3] = {INFINITY, -INFINITY, 0};
    for (int64_t s = 0; s < total; s += DA_TILE) {
      int64_t cnt = total - s < DA_TILE ? total - s : DA_TILE;
      const double *t = da_input_tile(&ins[0], s, cnt);
      for (int64_t i = 0; i < cnt; i++) {
        double v = t[i];
        r[0] = v < r[0] ? v : r[0];
        r[1] = v > r[1] ? v : r[1];
        r[2] += v != v;
      }
    }
    memcpy(out, r, sizeof r);
    return DA_OK;
  }
  int64_t n = p->nbins;
  if (p->kind == HP_HISTDD) {
    int64_t *hc = out;
    double *hw = out;
    if (p->weighted)
      for (int64_t i = 0; i < n; i++)
        hw[i] = 0;
    else
      memset(hc, 0, (size_t)n * sizeof *hc);
    int64_t dims = p->dims, rows = total / dims, per = DA_TILE / dims;
    for (int64_t r = 0; r < rows; r += per) {
      int64_t cnt = rows - r < per ? rows - r : per;
      const double *t = da_input_tile(&ins[0], r * dims, cnt * dims);
      const double *w = p->weighted ? da_input_tile(&ins[1], r, cnt) : NULL;
      for (int64_t i = 0; i < cnt; i++) {
        int64_t at = 0, k = 0;
        for (int d = 0; d < dims && k >= 0; d++) {
          k = bin_uniform(p->dedges[d], p->dbins[d], p->dfirst[d], p->dnorm[d], t[i * dims + d]);
          at = at * p->dbins[d] + k;
        }
        if (k < 0)
          continue;
        if (w)
          hw[at] += w[i];
        else
          hc[at]++;
      }
    }
    return DA_OK;
  }
  if (p->weighted) {
    double *h = out;
    for (int64_t i = 0; i < n; i++)
      h[i] = 0;
    for (int64_t s = 0; s < total; s += DA_TILE) {
      int64_t cnt = total - s < DA_TILE ? total - s : DA_TILE;
      const double *t = da_input_tile(&ins[0], s, cnt);
      const double *w = nins > 1 ? da_input_tile(&ins[1], s, cnt) : NULL;
      for (int64_t i = 0; i < cnt; i++) {
        int64_t k = p->kind == HP_BINCOUNT ? (int64_t)t[i] : bin_of(p, t[i]);
        if (k >= 0)
          h[k] += w[i];
      }
    }
    return DA_OK;
  }
  int64_t *h = out;
  memset(h, 0, (size_t)n * sizeof *h);
  uint32_t *sub = NULL;
  if (p->kind == HP_HIST && p->uniform &&
      !(sub = da_calloc(a->ctx, SUB_HISTS * (size_t)(n + 1), sizeof *sub)))
    return DA_ERR_NOMEM;
  for (int64_t s = 0; s < total; s += DA_TILE) {
    int64_t cnt = total - s < DA_TILE ? total - s : DA_TILE;
    const double *t = da_input_tile(&ins[0], s, cnt);
    if (p->kind == HP_BINCOUNT) {
      for (int64_t i = 0; i < cnt; i++)
        h[(int64_t)t[i]]++;
      continue;
    }
    if (sub) {
      count_uniform(p, t, cnt, sub);
      if ((s + cnt) % SUB_FLUSH < cnt)
        flush_uniform(n, sub, h);
      continue;
    }
    for (int64_t i = 0; i < cnt; i++) {
      int64_t k = bin_of(p, t[i]);
      if (k >= 0)
        h[k]++;
    }
  }
  if (sub)
    flush_uniform(n, sub, h);
  free(sub);
  return DA_OK;
}

/* Every partial record, in block order. */
static int64_t hist_combine_deps(const da_array a, int64_t b, int *input, int64_t *block,
                                 int64_t cap) {
  (void)b;
  da_array part = a->inputs[0];
  if (part->nblocks <= cap)
    for (int64_t i = 0; i < part->nblocks; i++)
      input[i] = 0, block[i] = i;
  return part->nblocks;
}

/* Adds record s into record d. */
static void record_add(const void *s, void *d, void *user) {
  const hist_params *p = user;
  if (p->kind == HP_RANGE) {
    const double *x = s;
    double *y = d;
    y[0] = x[0] < y[0] ? x[0] : y[0];
    y[1] = x[1] > y[1] ? x[1] : y[1];
    y[2] += x[2];
  } else if (p->weighted) {
    const double *x = s;
    double *y = d;
    for (int64_t i = 0; i < p->nbins; i++)
      y[i] += x[i];
  } else {
    const int64_t *x = s;
    int64_t *y = d;
    for (int64_t i = 0; i < p->nbins; i++)
      y[i] += x[i];
  }
}

static int hist_combine_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)b;
  const hist_params *p = a->inputs[0]->params;
  size_t bytes = a->inputs[0]->elsize;
  void *acc = NULL;
  int rc = da_combine_pairwise(a->ctx, ins, nins, bytes, record_add, (void *)p, &acc);
  if (!rc && !acc)
    rc = DA_ERR(a->ctx, DA_ERR_INTERNAL, "histogram: no blocks to combine");
  if (!rc && p->kind == HP_RANGE) {
    memcpy(out, acc, bytes);
  } else if (!rc && p->density) { /* NumPy's hist / diff(edges) / hist.sum(), in float64 */
    double total = 0, *o = out;
    for (int64_t i = 0; i < p->nbins; i++)
      total += p->weighted ? ((double *)acc)[i] : (double)((int64_t *)acc)[i];
    for (int64_t i = 0; i < p->nbins; i++) {
      double h = p->weighted ? ((double *)acc)[i] : (double)((int64_t *)acc)[i];
      if (p->kind != HP_HISTDD) {
        o[i] = h / (p->edges[i + 1] - p->edges[i]) / total;
        continue;
      }
      /* NumPy divides by each axis's bin widths in turn, then by the total. */
      int64_t idx[DA_MAX_NDIM], rest = i;
      for (int d = p->dims - 1; d >= 0; d--)
        idx[d] = rest % p->dbins[d], rest /= p->dbins[d];
      for (int d = 0; d < p->dims; d++)
        h /= p->dedges[d][idx[d] + 1] - p->dedges[d][idx[d]];
      o[i] = h / total;
    }
  } else if (!rc) {
    memcpy(out, acc, bytes);
  }
  free(acc);
  return rc;
}

static const da_layer_ops hist_partial_ops = {.name = "histogram-partial",
                                              .aligned = true,
                                              .run = hist_partial_run,
                                              .fuses_inputs = true,
                                              .free_params = hist_free};
static const da_layer_ops hist_combine_ops = {
    .name = "histogram", .deps = hist_combine_deps, .run = hist_combine_run};

/* The partial layer over x (float64, and w aligned with it or NULL) and its combination:
 * an array of `length` elements of dtype odt in one block. */
static int hist_graph(da_array x, da_array w, hist_params *p, da_dtype odt, int64_t length,
                      da_array *out) {
  da_ctx ctx = x->ctx;
  int nd = x->ndim;
  int64_t pshape[DA_MAX_NDIM], nck[DA_MAX_NDIM];
  int64_t *ones = NULL;
  const int64_t *ck[DA_MAX_NDIM];
  int64_t most = 1;
  for (int d = 0; d < nd; d++)
    most = x->numblocks[d] > most ? x->numblocks[d] : most;
  if (!(ones = malloc((size_t)most * sizeof *ones))) {
    hist_free(p);
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate chunks"));
  }
  for (int64_t i = 0; i < most; i++)
    ones[i] = 1;
  for (int d = 0; d < nd; d++) {
    pshape[d] = nck[d] = x->numblocks[d];
    ck[d] = ones;
  }
  size_t rec = p->kind == HP_RANGE ? 3 * sizeof(double) : (size_t)p->nbins * 8;
  da_array part = NULL, in[2] = {x, w};
  int rc = da_node_new(ctx, nd, pshape, ck, nck, DA_UINT8, rec, DA_LAYOUT_OF(x), &hist_partial_ops,
                       p, w ? 2 : 1, in, &part);
  free(ones);
  if (rc)
    return rc;
  int64_t one[1] = {length};
  const int64_t *ock[1] = {one};
  int64_t onck[1] = {1};
  rc = da_node_new(ctx, 1, one, ock, onck, odt, da_dtype_size(odt), NULL, &hist_combine_ops, NULL,
                   1, &part, out);
  da_array_destroy(&part);
  return rc;
}

/* NumPy's np.linspace(first, last, n + 1) for uniform bin edges. */
static void uniform_edges(double first, double last, int64_t n, double *e) {
  double step = (last - first) / (double)n;
  for (int64_t i = 0; i <= n; i++)
    e[i] = step != 0 ? (double)i * step + first : (double)i / (double)n * (last - first) + first;
  e[n] = last;
}

/* x as float64 with its chunks, and w (when given) of x's shape rechunked to them. */
static int hist_inputs(da_array a, da_array weights, da_array *x, da_array *w) {
  da_ctx ctx = a->ctx;
  *x = *w = NULL;
  if (weights && weights->ctx != ctx)
    return DA_ERR(ctx, DA_ERR_ARG, "histogram: the weights belong to another context");
  if (weights && (weights->ndim != a->ndim ||
                  memcmp(weights->shape, a->shape, (size_t)a->ndim * sizeof *a->shape)))
    return DA_ERR(ctx, DA_ERR_SHAPE, "histogram: the weights' shape differs from the array's");
  DA_TRY(da_astype(a, DA_FLOAT64, x));
  if (!weights)
    return DA_OK;
  da_chunks ck = {0};
  for (int d = 0; d < a->ndim; d++)
    ck.list[d] = a->chunks[d], ck.nlist[d] = a->numblocks[d];
  da_array wf = NULL;
  int rc = da_astype(weights, DA_FLOAT64, &wf);
  if (!rc)
    rc = da_rechunk(wf, &ck, w);
  da_array_destroy(&wf);
  if (rc)
    da_array_destroy(x);
  return rc;
}

/* Collective: the finite min and max of x (float64), in one pass; an error for NaN. */
static int data_range(da_array x, double *first, double *last) {
  da_ctx ctx = x->ctx;
  hist_params *p = calloc(1, sizeof *p);
  if (!p)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters"));
  p->kind = HP_RANGE;
  da_array r = NULL;
  double v[3] = {0};
  int rc = hist_graph(x, NULL, p, DA_UINT8, 3 * sizeof(double), &r);
  if (!rc)
    rc = da_compute(r, DA_ALL_RANKS, v, sizeof v);
  da_array_destroy(&r);
  if (rc)
    return rc;
  if (v[2] > 0 || !isfinite(v[0]) || !isfinite(v[1]))
    return da_agree(ctx, x->size == 0 ? DA_OK
                                      : DA_ERR(ctx, DA_ERR_ARG,
                                               "histogram: autodetected range of [%g, %g] is not "
                                               "finite",
                                               v[2] > 0 ? NAN : v[0], v[2] > 0 ? NAN : v[1]));
  *first = v[0], *last = v[1];
  return DA_OK;
}

static int histogram(da_array a, int64_t bins, const double range[2], int64_t nedges,
                     const double edges[], da_array weights, int density, da_array *hist,
                     double *edges_out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!hist)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "histogram: hist is NULL"));
  *hist = NULL;
  int rc = DA_OK;
  if (edges) {
    if (nedges < 2)
      rc = DA_ERR(ctx, DA_ERR_ARG, "histogram: %lld bin edges, at least 2 needed",
                  (long long)nedges);
    for (int64_t i = 0; !rc && i + 1 < nedges; i++)
      if (!(edges[i] <= edges[i + 1]))
        rc = DA_ERR(ctx, DA_ERR_ARG, "histogram: bin edges must increase monotonically (edge %lld)",
                    (long long)i + 1);
    bins = nedges - 1;
  } else if (bins <= 0) {
    rc = DA_ERR(ctx, DA_ERR_ARG, "histogram: bins is %lld, it must be positive", (long long)bins);
  } else if (range && !(isfinite(range[0]) && isfinite(range[1]))) {
    rc = DA_ERR(ctx, DA_ERR_ARG, "histogram: range [%g, %g] is not finite", range[0], range[1]);
  } else if (range && range[0] > range[1]) {
    rc = DA_ERR(ctx, DA_ERR_ARG, "histogram: max must be larger than min in range [%g, %g]",
                range[0], range[1]);
  }
  DA_TRY(da_agree(ctx, rc));
  da_array x = NULL, w = NULL;
  DA_TRY(da_agree(ctx, hist_inputs(a, weights, &x, &w)));
  hist_params *p = calloc(1, sizeof *p);
  double *e = malloc((size_t)(bins + 1) * sizeof *e);
  rc = p && e ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate bin edges");
  rc = da_agree(ctx, rc);
  double first = 0, last = 1;
  if (!rc && !edges) {
    if (range)
      first = range[0], last = range[1];
    else
      rc = data_range(x, &first, &last);
    if (first == last) /* NumPy widens an empty range by a half on each side */
      first -= 0.5, last += 0.5;
  }
  if (rc) {
    free(e);
    free(p);
    da_array_destroy(&x);
    da_array_destroy(&w);
    return rc;
  }
  if (edges)
    memcpy(e, edges, (size_t)(bins + 1) * sizeof *e);
  else
    uniform_edges(first, last, bins, e);
  *p = (hist_params){.kind = HP_HIST,
                     .nbins = bins,
                     .uniform = !edges,
                     .weighted = w != NULL,
                     .density = density != 0,
                     .first = first,
                     .last = last,
                     .norm = (double)bins / (last - first),
                     .edges = e};
  if (edges_out)
    memcpy(edges_out, e, (size_t)(bins + 1) * sizeof *e);
  da_dtype odt = density || w ? DA_FLOAT64 : DA_INT64;
  rc = hist_graph(x, w, p, odt, bins, hist);
  da_array_destroy(&x);
  da_array_destroy(&w);
  return rc;
}

int da_histogram(da_array a, int64_t bins, const double range[2], da_array weights, int density,
                 da_array *hist, double *edges) {
  return histogram(a, bins, range, 0, NULL, weights, density, hist, edges);
}

int da_histogram_edges(da_array a, int64_t nedges, const double edges[], da_array weights,
                       int density, da_array *hist) {
  if (a && !edges)
    return da_agree(a->ctx, DA_ERR(a->ctx, DA_ERR_ARG, "histogram: edges is NULL"));
  return histogram(a, 0, NULL, nedges, edges, weights, density, hist, NULL);
}

/* ---------------------------------------------------------------- bincount */

int da_bincount(da_array a, da_array weights, int64_t minlength, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "bincount: out is NULL"));
  *out = NULL;
  int rc = DA_OK;
  if (da_dtype_is_float(a->dtype) || a->dtype == DA_BOOL)
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "bincount: the array holds %s, not integers",
                da_dtype_name(a->dtype));
  else if (minlength < 0)
    rc = DA_ERR(ctx, DA_ERR_ARG, "bincount: minlength %lld is negative", (long long)minlength);
  DA_TRY(da_agree(ctx, rc));
  da_array x = NULL, w = NULL;
  DA_TRY(da_agree(ctx, hist_inputs(a, weights, &x, &w)));
  /* The length: one more than the largest value, found first in one pass. */
  double first = 0, last = -1;
  rc = x->size ? data_range(x, &first, &last) : DA_OK;
  if (!rc && first < 0)
    rc = da_agree(
        ctx, DA_ERR(ctx, DA_ERR_ARG, "bincount: the array holds a negative value (%.0f)", first));
  int64_t n = x->size ? (int64_t)last + 1 : 0;
  n = n > minlength ? n : minlength;
  hist_params *p = rc ? NULL : calloc(1, sizeof *p);
  if (!rc && !p)
    rc = da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters"));
  if (!rc) {
    *p = (hist_params){.kind = HP_BINCOUNT, .nbins = n ? n : 1, .weighted = w != NULL};
    rc = hist_graph(x, w, p, w ? DA_FLOAT64 : DA_INT64, n ? n : 1, out);
  }
  if (!rc && n == 0) { /* empty, as NumPy's: a length-0 view of the one-bin record */
    da_array one = *out;
    rc = da_getitem(one, DA_INDEX(DA_SLICE(0, 0, 1)), out);
    da_array_destroy(&one);
  }
  da_array_destroy(&x);
  da_array_destroy(&w);
  return rc;
}

/* ---------------------------------------------------------------- digitize */

typedef struct {
  int64_t n;
  bool right, increasing;
  double bins[];
} digit_params;

/* NumPy's digitize: searchsorted over the bins (reversed when they decrease), NaN last. */
static int digitize_block(const da_block_info *info, void *user) {
  const digit_params *p = user;
  const double *x = info->in[0];
  int64_t *o = info->out, count = 1;
  for (int d = 0; d < info->out_ndim; d++)
    count *= info->out_shape[d];
  const double *b = p->bins;
  int64_t n = p->n;
  for (int64_t i = 0; i < count; i++) {
    double v = x[i];
    /* lo: how many bins (in increasing order) lie below v, or at or below it */
    int64_t lo = 0, hi = n;
    bool at_or_below = !p->right; /* searchsorted's side 'right' */
    if (v != v) {
      lo = n;
    } else {
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        double e = p->increasing ? b[mid] : b[n - 1 - mid];
        if (e < v || (at_or_below && e == v))
          lo = mid + 1;
        else
          hi = mid;
      }
    }
    o[i] = p->increasing ? lo : n - lo;
  }
  return 0;
}

int da_digitize(da_array a, int64_t nbins, const double bins[], int right, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "digitize: out is NULL"));
  *out = NULL;
  int rc = DA_OK, up = 1, down = 1;
  if (nbins < 1 || !bins)
    rc = DA_ERR(ctx, DA_ERR_ARG, "digitize: no bins given");
  for (int64_t i = 0; !rc && i + 1 < nbins; i++) {
    up &= bins[i] <= bins[i + 1];
    down &= bins[i] >= bins[i + 1];
  }
  if (!rc && !(up || down))
    rc = DA_ERR(ctx, DA_ERR_ARG, "digitize: bins must be monotonically increasing or decreasing");
  DA_TRY(da_agree(ctx, rc));
  digit_params *p = malloc(sizeof *p + (size_t)nbins * sizeof(double));
  if (!p)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the bins"));
  p->n = nbins, p->right = right != 0, p->increasing = up;
  memcpy(p->bins, bins, (size_t)nbins * sizeof(double));
  da_array x = NULL;
  rc = da_astype(a, DA_FLOAT64, &x);
  if (rc) {
    free(p);
    return rc;
  }
  rc = da_map_blocks_halo(digitize_block, p, free, 1, &x, NULL, DA_INT64, NULL, out);
  da_array_destroy(&x);
  return rc;
}

/* ---------------------------------------------------------------- histogramdd */

int da_histogramdd(da_array sample, const int64_t bins[], const double range[][2], da_array weights,
                   int density, da_array *hist, double *edges) {
  if (!sample)
    return DA_ERR_ARG;
  da_ctx ctx = sample->ctx;
  if (!hist)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "histogramdd: hist is NULL"));
  *hist = NULL;
  int rc = DA_OK;
  int64_t dims = sample->ndim == 2 ? sample->shape[1] : 0, total = 1;
  if (sample->ndim != 2)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "histogramdd: the sample must be 2-D (N points, D columns)");
  else if (dims < 1 || dims > DA_MAX_NDIM)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "histogramdd: %lld columns, 1 to %d supported", (long long)dims,
                DA_MAX_NDIM);
  else if (!bins)
    rc = DA_ERR(ctx, DA_ERR_ARG, "histogramdd: bins is NULL");
  for (int64_t d = 0; !rc && d < dims; d++) {
    if (bins[d] <= 0)
      rc = DA_ERR(ctx, DA_ERR_ARG, "histogramdd: bins[%lld] is %lld, it must be positive",
                  (long long)d, (long long)bins[d]);
    else if (range && !(isfinite(range[d][0]) && isfinite(range[d][1])))
      rc = DA_ERR(ctx, DA_ERR_ARG, "histogramdd: range %lld is not finite", (long long)d);
    else if (range && range[d][0] > range[d][1])
      rc = DA_ERR(ctx, DA_ERR_ARG, "histogramdd: max must be larger than min in range %lld",
                  (long long)d);
    else if (total > ((int64_t)1 << 40) / bins[d])
      rc = DA_ERR(ctx, DA_ERR_ARG, "histogramdd: too many bins");
    else
      total *= bins[d];
  }
  if (!rc && weights &&
      (weights->ctx != ctx || weights->ndim != 1 || weights->shape[0] != sample->shape[0]))
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "histogramdd: the weights must be 1-D, one per point");
  DA_TRY(da_agree(ctx, rc));
  /* Whole rows per block; the weights as a column, cut like them. */
  da_array xf = NULL, x = NULL, w = NULL, wf = NULL, wc = NULL;
  rc = da_astype(sample, DA_FLOAT64, &xf);
  if (!rc)
    rc = da_rechunk(xf,
                    &(da_chunks){.list = {sample->chunks[0]},
                                 .nlist = {sample->numblocks[0]},
                                 .size = {0, DA_CHUNK_WHOLE}},
                    &x);
  if (!rc && weights)
    rc = da_astype(weights, DA_FLOAT64, &wf);
  if (!rc && weights)
    rc = da_reshape(wf, 2, (const int64_t[]){weights->shape[0], 1}, &wc);
  if (!rc && weights)
    rc = da_rechunk(
        wc,
        &(da_chunks){.list = {sample->chunks[0]}, .nlist = {sample->numblocks[0]}, .size = {0, 1}},
        &w);
  da_array_destroy(&xf);
  da_array_destroy(&wf);
  da_array_destroy(&wc);
  hist_params *p = rc ? NULL : calloc(1, sizeof *p);
  if (!rc && !p)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  rc = da_agree(ctx, rc);
  /* Each column's range: given, or its min and max (two reductions, one graph each). */
  double lo[DA_MAX_NDIM], hi[DA_MAX_NDIM];
  if (!rc && range) {
    for (int64_t d = 0; d < dims; d++)
      lo[d] = range[d][0], hi[d] = range[d][1];
  } else if (!rc) {
    da_array mn = NULL, mx = NULL; /* no points: NumPy's [0, 1] */
    if (sample->shape[0] > 0)
      rc = da_min(x, 1, (const int[]){0}, 0, &mn);
    if (!rc && sample->shape[0] > 0)
      rc = da_max(x, 1, (const int[]){0}, 0, &mx);
    if (!rc && sample->shape[0] > 0) {
      rc = da_compute(mn, DA_ALL_RANKS, lo, (size_t)dims * sizeof *lo);
      if (!rc)
        rc = da_compute(mx, DA_ALL_RANKS, hi, (size_t)dims * sizeof *hi);
    } else if (!rc) {
      for (int64_t d = 0; d < dims; d++)
        lo[d] = 0, hi[d] = 1;
    }
    for (int64_t d = 0; !rc && d < dims; d++)
      if (!isfinite(lo[d]) || !isfinite(hi[d]))
        rc = da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG,
                                  "histogramdd: autodetected range of column %lld is not finite",
                                  (long long)d));
    da_array_destroy(&mn);
    da_array_destroy(&mx);
  }
  if (!rc) {
    *p = (hist_params){.kind = HP_HISTDD,
                       .nbins = total,
                       .weighted = w != NULL,
                       .density = density != 0,
                       .dims = (int)dims};
    double *eo = edges;
    for (int64_t d = 0; d < dims && !rc; d++) {
      double first = lo[d], last = hi[d];
      if (first == last)
        first -= 0.5, last += 0.5;
      p->dbins[d] = bins[d];
      p->dfirst[d] = first;
      p->dnorm[d] = (double)bins[d] / (last - first);
      if (!(p->dedges[d] = malloc((size_t)(bins[d] + 1) * sizeof(double)))) {
        rc = da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate bin edges"));
        break;
      }
      uniform_edges(first, last, bins[d], p->dedges[d]);
      if (eo)
        memcpy(eo, p->dedges[d], (size_t)(bins[d] + 1) * sizeof(double)), eo += bins[d] + 1;
    }
  }
  da_array flat = NULL;
  if (!rc) {
    rc = hist_graph(x, w, p, density || w ? DA_FLOAT64 : DA_INT64, total, &flat);
    p = NULL;
  }
  hist_free(p);
  if (!rc)
    rc = da_reshape(flat, (int)dims, bins, hist);
  da_array_destroy(&flat);
  da_array_destroy(&x);
  da_array_destroy(&w);
  return rc;
}

int da_histogram2d(da_array x, da_array y, const int64_t bins[2], const double range[2][2],
                   da_array weights, int density, da_array *hist, double *edges) {
  if (!x || !y)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  if (x->ndim != 1 || y->ndim != 1 || x->shape[0] != y->shape[0] || y->ctx != ctx)
    return da_agree(
        ctx, DA_ERR(ctx, DA_ERR_SHAPE, "histogram2d: x and y must be 1-D and of the same length"));
  da_array cols[2] = {x, y}, sample = NULL;
  DA_TRY(da_stack(2, cols, 1, &sample));
  int rc = da_histogramdd(sample, bins, range, weights, density, hist, edges);
  da_array_destroy(&sample);
  return rc;
}
