/* Histograms against a serial reference written from NumPy's definitions: uniform edges as
 * np.linspace makes them, a value in bin i when edges[i] <= v < edges[i + 1] (the last bin
 * closed), values outside the edges and NaN not counted; weights, density, a range found
 * from the data, explicit uneven edges. Random shapes, uneven chunks, several dtypes, values
 * on the edges, at 1-4 ranks; bad input on every rank. */
#include "test_util.h"

static da_ctx ctx;

static void ref_edges(double first, double last, int64_t n, double *e) {
  if (first == last)
    first -= 0.5, last += 0.5;
  double step = (last - first) / (double)n;
  for (int64_t i = 0; i <= n; i++)
    e[i] = (double)i * step + first;
  e[n] = last;
}

/* The reference: counts (or weight sums) per bin, by a linear scan of the edges. */
static void ref_hist(const double *v, const double *w, int64_t n, const double *e, int64_t nb,
                     double *h) {
  for (int64_t k = 0; k < nb; k++)
    h[k] = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!(v[i] >= e[0] && v[i] <= e[nb]))
      continue;
    int64_t k = 0;
    while (k < nb - 1 && v[i] >= e[k + 1])
      k++;
    h[k] += w ? w[i] : 1;
  }
}

static void check_case(tu_rng *rng, int c) {
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32, DA_UINT8};
  da_dtype dt = dts[c % 4];
  int ndim = (int)tu_int(rng, 1, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(rng, ndim, 600, c % 5 == 4, shape);
  tu_chunking ck;
  tu_random_chunks(rng, ndim, shape, 40, &ck);
  int64_t n = tu_prod(ndim, shape);
  int64_t nb = tu_int(rng, 1, 12);
  double lo = (double)tu_int(rng, -4, 2), hi = lo + (double)tu_int(rng, 0, 6);
  if (c % 7 == 3 && tu_is_float(dt)) /* far from zero: rounding of the bin arithmetic */
    lo += 1e7 / 3, hi += 1e7 / 3;
  /* Values on and around the edges, outside the range, and NaN for floats. */
  double e[16], *v = tu_malloc((size_t)(n ? n : 1) * sizeof *v);
  ref_edges(lo, hi, nb, e);
  void *buf = tu_malloc((size_t)(n ? n : 1) * da_dtype_size(dt));
  for (int64_t i = 0; i < n; i++) {
    double x;
    int pick = (int)tu_int(rng, 0, 9);
    if (pick < 3)
      x = e[tu_int(rng, 0, nb)];
    else if (pick == 3 && tu_is_float(dt))
      x = NAN;
    else if (pick == 4 && dt == DA_FLOAT64) /* just either side of an edge */
      x = nextafter(e[tu_int(rng, 0, nb)], tu_int(rng, 0, 1) ? INFINITY : -INFINITY);
    else
      x = lo - 2 + tu_unit(rng) * (hi - lo + 4);
    if (!tu_is_float(dt))
      x = round(x);
    if (dt == DA_UINT8)
      x = fabs(x);
    tu_set(dt, buf, i, x);
    v[i] = tu_get(dt, buf, i);
  }
  da_array a, h;
  TU_OK(ctx, da_from_root(ctx, 0, ndim, shape, &ck.c, dt, buf, (size_t)n * da_dtype_size(dt), &a));
  double range[2] = {lo, hi}, got_e[16], want[16];
  int64_t counts[16];
  char what[64];

  /* Counts over a range. */
  TU_OK(ctx, da_histogram(a, nb, range, NULL, 0, &h, got_e));
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, counts, (size_t)nb * sizeof *counts));
  double ew[16];
  ref_edges(lo, hi, nb, ew);
  ref_hist(v, NULL, n, ew, nb, want);
  for (int64_t k = 0; k <= nb; k++)
    CHECKF(got_e[k] == ew[k], "case %d: edge %lld is %.17g, want %.17g", c, (long long)k, got_e[k],
           ew[k]);
  for (int64_t k = 0; k < nb; k++)
    CHECKF((double)counts[k] == want[k], "case %d (%s): bin %lld holds %lld, want %g", c,
           da_dtype_name(dt), (long long)k, (long long)counts[k], want[k]);
  da_array_destroy(&h);

  /* Weights and density, with uneven explicit edges. */
  double top = fmax(hi, lo + 1.5);
  double ue[6] = {lo - 1, lo, lo + 0.25, lo + 1.5, top + 0.5, top + 3};
  double *w = tu_malloc((size_t)(n ? n : 1) * sizeof *w);
  for (int64_t i = 0; i < n; i++)
    w[i] = (double)tu_int(rng, 0, 8) * 0.25; /* exact sums in any order */
  da_array wa;
  int64_t wck[DA_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    wck[d] = tu_int(rng, 1, shape[d] > 0 ? shape[d] : 1);
  da_chunks wc = {0};
  for (int d = 0; d < ndim; d++)
    wc.size[d] = wck[d];
  TU_OK(ctx, da_from_root(ctx, 0, ndim, shape, &wc, DA_FLOAT64, w, (size_t)n * sizeof *w, &wa));
  TU_OK(ctx, da_histogram_edges(a, 6, ue, wa, 0, &h));
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, want + 8, 5 * sizeof(double)));
  ref_hist(v, w, n, ue, 5, want);
  snprintf(what, sizeof what, "case %d weighted", c);
  COMPARE_N(what, DA_FLOAT64, want + 8, want, 5, 0, 0);
  da_array_destroy(&h);
  TU_OK(ctx, da_histogram_edges(a, 6, ue, NULL, 1, &h));
  double dens[5];
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, dens, sizeof dens));
  ref_hist(v, NULL, n, ue, 5, want);
  double tot = 0;
  for (int k = 0; k < 5; k++)
    tot += want[k];
  for (int k = 0; k < 5; k++)
    want[k] = want[k] / (ue[k + 1] - ue[k]) / tot;
  snprintf(what, sizeof what, "case %d density", c);
  COMPARE_N(what, DA_FLOAT64, dens, want, 5, 1e-15, 0);
  da_array_destroy(&h);
  da_array_destroy(&wa);

  /* No range: the data's min and max (an error with NaN, on every rank). */
  bool has_nan = false;
  double mn = INFINITY, mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    has_nan |= v[i] != v[i];
    mn = fmin(mn, v[i]), mx = fmax(mx, v[i]);
  }
  int rc = da_histogram(a, nb, NULL, NULL, 0, &h, got_e);
  if (has_nan) {
    CHECKF(rc == DA_ERR_ARG, "case %d: a range from data with NaN gave %d", c, rc);
  } else {
    CHECKF(rc == DA_OK, "case %d: %s", c, da_ctx_errmsg(ctx));
    if (n == 0)
      mn = 0, mx = 1;
    ref_edges(mn, mx, nb, ew);
    TU_OK(ctx, da_compute(h, DA_ALL_RANKS, counts, (size_t)nb * sizeof *counts));
    ref_hist(v, NULL, n, ew, nb, want);
    for (int64_t k = 0; k < nb; k++)
      CHECKF((double)counts[k] == want[k] && got_e[k] == ew[k],
             "case %d: data range, bin %lld holds %lld, want %g", c, (long long)k,
             (long long)counts[k], want[k]);
    da_array_destroy(&h);
  }
  da_array_destroy(&a);
  free(v);
  free(w);
  free(buf);
}

/* The seeds' exercise: normal(9, 1) of 5000 x 5000 plus ones, the values below 10, a
 * 100-bin histogram on [-9, 11]. The reference bins by binary search over the edges. */
static void check_seeds(void) {
  const int64_t shape[2] = {5000, 5000};
  const double range[2] = {-9, 11};
  da_array x, ones, added, m, masked, h;
  TU_OK(ctx, da_random_normal(ctx, 9, 9, 1, 2, shape, NULL, DA_FLOAT64, &x));
  TU_OK(ctx, da_ones(ctx, 2, shape, NULL, DA_FLOAT64, &ones));
  TU_OK(ctx, da_add(DA_V(x), DA_V(ones), &added));
  TU_OK(ctx, da_less(DA_V(added), DA_V(10.0), &m));
  TU_OK(ctx, da_mask_select(added, m, &masked));
  TU_OK(ctx, da_histogram(masked, 100, range, NULL, 0, &h, NULL));
  int64_t got[100];
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, got, sizeof got));
  double *v = tu_gather_all(added), e[101];
  ref_edges(-9, 11, 100, e);
  int64_t want[100] = {0}, n = shape[0] * shape[1], kept = 0, total = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!(v[i] < 10))
      continue;
    kept++;
    if (!(v[i] >= e[0] && v[i] <= e[100]))
      continue;
    int64_t lo = 0, hi = 99; /* the last edge at or below v */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo + 1) / 2;
      if (e[mid] <= v[i])
        lo = mid;
      else
        hi = mid - 1;
    }
    want[lo]++;
  }
  int bad = 0;
  for (int k = 0; k < 100; k++) {
    bad += got[k] != want[k];
    total += got[k];
  }
  CHECKF(bad == 0, "seeds' histogram: %d of 100 bins differ", bad);
  /* Half of normal(10, 1) lies below 10, all of it inside the range. */
  CHECKF(total == kept && kept > n / 3 && kept < 2 * n / 3, "seeds' histogram: %lld of %lld",
         (long long)total, (long long)kept);
  free(v);
  da_array_destroy(&h);
  da_array_destroy(&masked);
  da_array_destroy(&m);
  da_array_destroy(&added);
  da_array_destroy(&ones);
  da_array_destroy(&x);
}

/* bincount and digitize against their NumPy definitions written out. */
static void check_bincount_digitize(tu_rng *rng, int c) {
  static const da_dtype dts[] = {DA_INT64, DA_INT32, DA_UINT8, DA_INT16};
  da_dtype dt = dts[c % 4];
  int ndim = (int)tu_int(rng, 1, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(rng, ndim, 500, c % 6 == 5, shape);
  tu_chunking ck;
  tu_random_chunks(rng, ndim, shape, 30, &ck);
  int64_t n = tu_prod(ndim, shape), top = tu_int(rng, 0, 20), minlength = tu_int(rng, 0, 25);
  void *buf = tu_malloc((size_t)(n ? n : 1) * da_dtype_size(dt));
  double *v = tu_malloc((size_t)(n ? n : 1) * sizeof *v), *w = tu_malloc((size_t)(n ? n : 1) * 8);
  int64_t largest = -1;
  for (int64_t i = 0; i < n; i++) {
    tu_set(dt, buf, i, (double)tu_int(rng, 0, top));
    v[i] = tu_get(dt, buf, i);
    w[i] = (double)tu_int(rng, -4, 4) * 0.5;
    largest = (int64_t)v[i] > largest ? (int64_t)v[i] : largest;
  }
  da_array a, wa, h;
  TU_OK(ctx, da_from_root(ctx, 0, ndim, shape, &ck.c, dt, buf, (size_t)n * da_dtype_size(dt), &a));
  TU_OK(ctx, da_from_root(ctx, 0, ndim, shape, &ck.c, DA_FLOAT64, w, (size_t)n * 8, &wa));
  int64_t len = largest + 1 > minlength ? largest + 1 : minlength;
  int64_t *got = tu_malloc((size_t)(len + 1) * 8), *want = tu_malloc((size_t)(len + 1) * 8);
  double *gotw = tu_malloc((size_t)(len + 1) * 8), *wantw = tu_malloc((size_t)(len + 1) * 8);
  for (int64_t k = 0; k < len; k++)
    want[k] = 0, wantw[k] = 0;
  for (int64_t i = 0; i < n; i++)
    want[(int64_t)v[i]]++, wantw[(int64_t)v[i]] += w[i];
  TU_OK(ctx, da_bincount(a, NULL, minlength, &h));
  CHECKF(da_array_ndim(h) == 1 && da_array_shape(h)[0] == len,
         "case %d: bincount length %lld, want %lld", c, (long long)da_array_shape(h)[0],
         (long long)len);
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, got, (size_t)len * 8));
  int bad = 0;
  for (int64_t k = 0; k < len; k++)
    bad += got[k] != want[k];
  CHECKF(bad == 0, "case %d (%s): %d of %lld bincounts differ", c, da_dtype_name(dt), bad,
         (long long)len);
  da_array_destroy(&h);
  TU_OK(ctx, da_bincount(a, wa, minlength, &h));
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, gotw, (size_t)len * 8));
  char what[64];
  snprintf(what, sizeof what, "case %d weighted bincount", c);
  COMPARE_N(what, DA_FLOAT64, gotw, wantw, len, 0, 0);
  da_array_destroy(&h);

  /* digitize over increasing or decreasing bins, either side closed, with ties. */
  double bins[6];
  int64_t nb = tu_int(rng, 1, 6);
  for (int64_t k = 0; k < nb; k++)
    bins[k] = (double)tu_int(rng, -2, top + 2);
  bool down = tu_chance(rng, 0.5);
  for (int64_t k = 0; k < nb; k++) /* sort */
    for (int64_t j = k + 1; j < nb; j++)
      if (down ? bins[j] > bins[k] : bins[j] < bins[k]) {
        double t = bins[j];
        bins[j] = bins[k], bins[k] = t;
      }
  /* As NumPy, bins all equal (or just one) count as increasing. */
  down = down && bins[0] != bins[nb - 1];
  int right = (int)tu_int(rng, 0, 1);
  TU_OK(ctx, da_digitize(a, nb, bins, right, &h));
  int64_t *dg = tu_malloc((size_t)(n ? n : 1) * 8);
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, dg, (size_t)n * 8));
  bad = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t cnt = 0; /* searchsorted over the increasing order, side right unless right */
    for (int64_t k = 0; k < nb; k++)
      cnt += right ? bins[k] < v[i] : bins[k] <= v[i];
    int64_t want_i = down ? nb - cnt : cnt;
    bad += dg[i] != want_i;
  }
  CHECKF(bad == 0, "case %d: %d digitize results differ (%s bins, right %d)", c, bad,
         down ? "decreasing" : "increasing", right);
  da_array_destroy(&h);
  free(dg);
  free(got), free(want), free(gotw), free(wantw);
  free(buf), free(v), free(w);
  da_array_destroy(&wa);
  da_array_destroy(&a);
}

/* histogramdd: N points in D columns, each column's bin by the edges' definition. */
static void check_histdd(tu_rng *rng, int c) {
  int64_t npts = c == 0 ? 0 : tu_int(rng, 0, 300), dims = tu_int(rng, 1, 3),
          shape[2] = {npts, dims};
  int64_t bins[3], nall = 1;
  for (int d = 0; d < dims; d++)
    bins[d] = tu_int(rng, 1, 5), nall *= bins[d];
  tu_chunking ck;
  tu_random_chunks(rng, 2, shape, 12, &ck);
  double *v = tu_malloc((size_t)(npts * dims + 1) * 8), *w = tu_malloc((size_t)(npts + 1) * 8);
  double range[3][2], e[3][8];
  bool given = c != 0 && tu_chance(rng, 0.6); /* case 0: no points and no range */
  for (int d = 0; d < dims; d++) {
    range[d][0] = (double)tu_int(rng, -3, 0), range[d][1] = range[d][0] + (double)tu_int(rng, 0, 4);
    ref_edges(range[d][0], range[d][1], bins[d], e[d]);
  }
  for (int64_t i = 0; i < npts; i++) {
    w[i] = (double)tu_int(rng, 0, 6) * 0.5;
    for (int d = 0; d < dims; d++)
      v[i * dims + d] = tu_chance(rng, 0.3)
                            ? e[d][tu_int(rng, 0, bins[d])]
                            : range[d][0] - 1 + tu_unit(rng) * (range[d][1] - range[d][0] + 2);
  }
  if (!given) /* each column's own min and max */
    for (int d = 0; d < dims; d++) {
      double mn = npts ? INFINITY : 0, mx = npts ? -INFINITY : 1;
      for (int64_t i = 0; i < npts; i++)
        mn = fmin(mn, v[i * dims + d]), mx = fmax(mx, v[i * dims + d]);
      ref_edges(mn, mx, bins[d], e[d]);
    }
  double *want = tu_malloc((size_t)nall * 8), *wantw = tu_malloc((size_t)nall * 8);
  for (int64_t k = 0; k < nall; k++)
    want[k] = 0, wantw[k] = 0;
  for (int64_t i = 0; i < npts; i++) {
    int64_t at = 0;
    bool in = true;
    for (int d = 0; d < dims && in; d++) {
      double x = v[i * dims + d];
      in = x >= e[d][0] && x <= e[d][bins[d]];
      int64_t k = 0;
      while (in && k < bins[d] - 1 && x >= e[d][k + 1])
        k++;
      at = at * bins[d] + k;
    }
    if (in)
      want[at]++, wantw[at] += w[i];
  }
  da_array s, wa, h;
  TU_OK(ctx, da_from_root(ctx, 0, 2, shape, &ck.c, DA_FLOAT64, v, (size_t)(npts * dims) * 8, &s));
  TU_OK(ctx, da_from_root(ctx, 0, 1, shape, DA_CHUNKS(tu_int(rng, 1, 50)), DA_FLOAT64, w,
                          (size_t)npts * 8, &wa));
  double got_e[24];
  TU_OK(ctx, da_histogramdd(s, bins, given ? (const double(*)[2])range : NULL, NULL, 0, &h, got_e));
  CHECKF(da_array_ndim(h) == dims, "case %d: histogramdd has %d axes", c, da_array_ndim(h));
  int64_t *got = tu_malloc((size_t)nall * 8);
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, got, (size_t)nall * 8));
  int bad = 0;
  for (int64_t k = 0; k < nall; k++)
    bad += (double)got[k] != want[k];
  for (int d = 0, o = 0; d < dims; o += (int)bins[d] + 1, d++)
    for (int64_t k = 0; k <= bins[d]; k++)
      bad += got_e[o + k] != e[d][k];
  CHECKF(bad == 0, "case %d: histogramdd of %lld points in %lld columns: %d differences", c,
         (long long)npts, (long long)dims, bad);
  da_array_destroy(&h);
  double *gotw = tu_malloc((size_t)nall * 8);
  TU_OK(ctx, da_histogramdd(s, bins, given ? (const double(*)[2])range : NULL, wa, 0, &h, NULL));
  TU_OK(ctx, da_compute(h, DA_ALL_RANKS, gotw, (size_t)nall * 8));
  char what[64];
  snprintf(what, sizeof what, "case %d weighted histogramdd", c);
  COMPARE_N(what, DA_FLOAT64, gotw, wantw, nall, 0, 0);
  da_array_destroy(&h);
  if (dims == 2) { /* histogram2d of the two columns, with density */
    da_array xs, ys;
    TU_OK(ctx, da_getitem(s, DA_INDEX(DA_ALL, DA_AT(0)), &xs));
    TU_OK(ctx, da_getitem(s, DA_INDEX(DA_ALL, DA_AT(1)), &ys));
    TU_OK(ctx, da_histogram2d(xs, ys, bins, given ? (const double(*)[2])range : NULL, NULL, 1, &h,
                              NULL));
    TU_OK(ctx, da_compute(h, DA_ALL_RANKS, gotw, (size_t)nall * 8));
    double tot = 0;
    for (int64_t k = 0; k < nall; k++)
      tot += want[k];
    for (int64_t k = 0; k < nall; k++) {
      int64_t i0 = k / bins[1], i1 = k % bins[1];
      want[k] = want[k] / (e[0][i0 + 1] - e[0][i0]) / (e[1][i1 + 1] - e[1][i1]) / tot;
    }
    snprintf(what, sizeof what, "case %d histogram2d density", c);
    if (tot > 0)
      COMPARE_N(what, DA_FLOAT64, gotw, want, nall, 1e-15, 0);
    da_array_destroy(&h);
    da_array_destroy(&xs);
    da_array_destroy(&ys);
  }
  free(got), free(gotw), free(want), free(wantw), free(v), free(w);
  da_array_destroy(&wa);
  da_array_destroy(&s);
}

static void check_errors(void) {
  int64_t shape[1] = {10};
  da_array a, h = NULL;
  TU_OK(ctx, da_zeros(ctx, 1, shape, DA_CHUNKS(3), DA_FLOAT64, &a));
  da_array a2;
  TU_OK(ctx, da_zeros(ctx, 2, (const int64_t[]){10, 2}, DA_CHUNKS(3, 1), DA_FLOAT64, &a2));
  const double bad_range[2] = {2, 1}, nan_range[2] = {NAN, 1}, ok_range[2] = {0, 1};
  const double unsorted[3] = {0, 2, 1};
  struct {
    int rc;
    const char *what;
  } cases[] = {
      {da_histogram(a, 0, ok_range, NULL, 0, &h, NULL), "bins 0"},
      {da_histogram(a, -3, ok_range, NULL, 0, &h, NULL), "bins < 0"},
      {da_histogram(a, 4, bad_range, NULL, 0, &h, NULL), "min > max"},
      {da_histogram(a, 4, nan_range, NULL, 0, &h, NULL), "NaN in range"},
      {da_histogram_edges(a, 3, unsorted, NULL, 0, &h), "unsorted edges"},
      {da_histogram_edges(a, 1, unsorted, NULL, 0, &h), "one edge"},
      {da_digitize(a, 3, unsorted, 0, &h), "digitize, unsorted bins"},
      {da_histogramdd(a2, (const int64_t[]){3, 0}, NULL, NULL, 0, &h, NULL), "histogramdd, bins 0"},
      {da_histogramdd(a2, (const int64_t[]){3, 2}, (const double[][2]){{0, 1}, {2, 1}}, NULL, 0, &h,
                      NULL),
       "histogramdd, min > max"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int lo = cases[i].rc, hi = cases[i].rc;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECKF(lo == DA_ERR_ARG && hi == DA_ERR_ARG && *da_ctx_errmsg(ctx), "%s: rc %d..%d",
           cases[i].what, lo, hi);
  }
  CHECK(h == NULL);
  int rc1 = da_histogramdd(a, (const int64_t[]){3}, NULL, NULL, 0, &h, NULL);
  CHECKF(rc1 == DA_ERR_SHAPE && h == NULL, "histogramdd of a 1-D array gave %d", rc1);
  da_array_destroy(&a2);
  /* bincount: floats are refused; a negative value found while computing. */
  int rc = da_bincount(a, NULL, 0, &h);
  CHECKF(rc == DA_ERR_DTYPE, "bincount of float64 gave %d", rc);
  da_array_destroy(&a);
  const int64_t neg[10] = {1, 2, 3, -1, 0, 0, 4, 5, 6, 7};
  TU_OK(ctx, da_from_root(ctx, 0, 1, shape, DA_CHUNKS(3), DA_INT64, neg, sizeof neg, &a));
  rc = da_bincount(a, NULL, 0, &h);
  CHECKF(rc == DA_ERR_ARG && h == NULL, "bincount of a negative value gave %d", rc);
  rc = da_bincount(a, NULL, -1, &h);
  CHECKF(rc == DA_ERR_ARG && h == NULL, "bincount with a negative minlength gave %d", rc);
  da_array_destroy(&a);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t700-histogram");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  tu_rng rng = tu_rng_make(700);
  for (int c = 0; c < 40; c++) {
    check_case(&rng, c);
    tu_sync();
  }
  for (int c = 0; c < 24; c++) {
    check_bincount_digitize(&rng, c);
    tu_sync();
  }
  for (int c = 0; c < 24; c++) {
    check_histdd(&rng, c);
    tu_sync();
  }
  check_errors();
  check_seeds();
  da_ctx_destroy(&ctx);
  return tu_finish();
}
