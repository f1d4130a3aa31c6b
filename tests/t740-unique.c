/* searchsorted and unique against serial references written from NumPy's definitions:
 * searchsorted compares in the common dtype (float64 when a float meets an integer, or
 * int64 meets uint64), NaN sorts last and equals NaN, -0.0 equals 0.0; unique sorts, keeps
 * the first of each run of equal values (all NaNs one run), counts the runs and maps each
 * element to its run. Values with many ties, NaN, +-0.0, +-inf, huge integers; uneven and
 * empty chunks, lazy inputs, 0-d to 3-d, at 1-4 ranks; bad input on every rank. */
#include "test_util.h"

static da_ctx ctx;
/* How the inputs of the current case were made, for messages. */
static char made[128];

/* ---------------------------------------------------------------- values */

/* A value of dt drawn from a small set, so equal values are common: small integers, halves,
 * and for floats NaN, +-0.0, +-inf; now and then a huge value (about 2^53, or 2^62, 2^63). */
static void tie_value(tu_rng *r, da_dtype dt, void *buf, int64_t i, int spread) {
  int pick = (int)tu_int(r, 0, 19);
  switch (dt) {
  case DA_FLOAT32:
  case DA_FLOAT64: {
    static const double special[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY};
    double x = pick < 4 ? special[tu_int(r, 0, 4)] : (double)tu_int(r, -spread, spread) / 2;
    if (pick == 4)
      x = -NAN;         /* a NaN of the other sign: still one NaN to NumPy */
    else if (pick == 5) /* near the huge integers, where int64 rounds to float64 */
      x = ldexp(1, 53) + (double)tu_int(r, -2, 2);
    tu_set(dt, buf, i, x);
    break;
  }
  case DA_INT64:
    ((int64_t *)buf)[i] = pick == 0   ? ((int64_t)1 << 53) + tu_int(r, -2, 2)
                          : pick == 1 ? -((int64_t)1 << 62) - tu_int(r, 0, 1)
                                      : tu_int(r, -spread, spread);
    break;
  case DA_UINT64:
    ((uint64_t *)buf)[i] = pick == 0 ? ((uint64_t)1 << 63) + (uint64_t)tu_int(r, 0, 2)
                                     : (uint64_t)tu_int(r, 0, 2 * spread);
    break;
  case DA_BOOL:
    ((uint8_t *)buf)[i] = pick & 1;
    break;
  default:
    tu_set(dt, buf, i,
           (double)(tu_is_unsigned(dt) ? tu_int(r, 0, 2 * spread) : tu_int(r, -spread, spread)));
    break;
  }
}

/* Element i as a long double (exact for every 64-bit integer on x86's 80-bit format), first
 * rounded to float64 when NumPy compares in float64. */
static long double ref_val(da_dtype dt, const void *buf, int64_t i, bool as_f64) {
  long double x;
  if (dt == DA_INT64)
    x = (long double)((const int64_t *)buf)[i];
  else if (dt == DA_UINT64)
    x = (long double)((const uint64_t *)buf)[i];
  else
    return tu_get(dt, buf, i);
  return as_f64 ? (long double)(double)x : x;
}

/* NumPy's common dtype of two arrays is float64 or float32 when either is a float, and
 * float64 for uint64 with a signed integer; float32 only meets integers it holds exactly. */
static bool compare_as_f64(da_dtype x, da_dtype y) {
  return tu_is_float(x) || tu_is_float(y) || (x == DA_UINT64 && tu_is_signed(y)) ||
         (y == DA_UINT64 && tu_is_signed(x));
}

/* NumPy's sort order: NaN last, NaNs equal. */
static bool ref_lt(long double x, long double y) {
  return x < y || (isnan(y) && !isnan(x));
}

static int cmp_ld(const void *p, const void *q) {
  long double x = *(const long double *)p, y = *(const long double *)q;
  return ref_lt(x, y) ? -1 : ref_lt(y, x) ? 1 : 0;
}

/* Sorts n elements of dt in place (NumPy's order), by their long double values. */
typedef struct {
  long double v;
  int64_t i;
} keyed;

static int cmp_keyed(const void *p, const void *q) {
  const keyed *x = p, *y = q;
  int c = cmp_ld(&x->v, &y->v);
  return c ? c : (x->i > y->i) - (x->i < y->i); /* stable */
}

static void ref_sort(da_dtype dt, void *buf, int64_t n) {
  size_t es = da_dtype_size(dt);
  keyed *k = tu_malloc((size_t)n * sizeof *k);
  char *tmp = tu_malloc((size_t)n * es);
  for (int64_t i = 0; i < n; i++)
    k[i].v = ref_val(dt, buf, i, false), k[i].i = i;
  qsort(k, (size_t)n, sizeof *k, cmp_keyed);
  for (int64_t i = 0; i < n; i++)
    memcpy(tmp + (size_t)i * es, (char *)buf + (size_t)k[i].i * es, es);
  memcpy(buf, tmp, (size_t)n * es);
  free(k);
  free(tmp);
}

static void check_chunks_like(da_array got, da_array like, const char *what) {
  int nd = da_array_ndim(like);
  bool ok = da_array_ndim(got) == nd && da_array_dtype(got) == DA_INT64;
  for (int d = 0; ok && d < nd; d++) {
    ok = da_array_shape(got)[d] == da_array_shape(like)[d] &&
         da_array_numblocks(got)[d] == da_array_numblocks(like)[d];
    for (int64_t j = 0; ok && j < da_array_numblocks(like)[d]; j++)
      ok = da_array_chunks(got, d)[j] == da_array_chunks(like, d)[j];
  }
  CHECKF(ok, "%s: the result does not have v's shape and chunks", what);
}

/* ---------------------------------------------------------------- searchsorted */

static const da_dtype search_dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32,  DA_INT64,
                                      DA_UINT8,   DA_BOOL,    DA_UINT64, DA_INT16};
#define NSEARCH_DTS (int)(sizeof search_dts / sizeof search_dts[0])

/* A sorted 1-D array of n values of dt: from the root with random chunks, or (lazy, with
 * empty blocks) the elements a random mask keeps of a longer sorted array. */
static da_array sorted_array(tu_rng *r, da_dtype dt, int64_t n, int spread) {
  size_t es = da_dtype_size(dt);
  bool masked = tu_chance(r, 0.35);
  int64_t len = masked ? n + tu_int(r, 0, 40) : n;
  char *buf = tu_malloc((size_t)len * es);
  for (int64_t i = 0; i < len; i++)
    tie_value(r, dt, buf, i, spread);
  ref_sort(dt, buf, len);
  tu_chunking ck;
  tu_random_chunks(r, 1, &len, 12, &ck);
  da_array a;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &len, &ck.c, dt, buf, (size_t)len * es, &a));
  free(buf);
  snprintf(made, sizeof made, "a %s", masked ? "masked" : "scattered");
  if (!masked)
    return a;
  uint8_t *m = tu_malloc((size_t)len);
  for (int64_t i = 0; i < len; i++)
    m[i] = tu_chance(r, 0.5);
  /* Whole blocks dropped now and then, so the result has empty chunks. */
  da_array mask, sel;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &len, &ck.c, DA_BOOL, m, (size_t)len, &mask));
  TU_OK(ctx, da_mask_select(a, mask, &sel));
  da_array_destroy(&a);
  da_array_destroy(&mask);
  free(m);
  return sel;
}

/* An array of dt of random shape (0-d to 3-d, zero lengths now and then), lazy or not. */
static da_array value_array(tu_rng *r, da_dtype dt, int spread) {
  int nd = (int)tu_int(r, 0, 3);
  int64_t shape[DA_MAX_NDIM];
  tu_random_shape(r, nd, 300, true, shape);
  int64_t n = tu_prod(nd, shape);
  size_t es = da_dtype_size(dt);
  char *buf = tu_malloc((size_t)n * es);
  for (int64_t i = 0; i < n; i++)
    tie_value(r, dt, buf, i, spread);
  tu_chunking ck;
  tu_random_chunks(r, nd, shape, 30, &ck);
  da_array v, t;
  TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &v));
  free(buf);
  if (nd >= 2 && tu_chance(r, 0.4)) { /* a view laid out as its source */
    strcat(made, ", v transposed");
    TU_OK(ctx, da_transpose(v, NULL, &t));
    da_array_destroy(&v);
    v = t;
  } else if (tu_chance(r, 0.3)) { /* lazy, in other chunks */
    strcat(made, ", v rechunked");
    tu_random_chunks(r, nd, shape, 30, &ck);
    TU_OK(ctx, da_rechunk(v, &ck.c, &t));
    da_array_destroy(&v);
    v = t;
  }
  return v;
}

/* NumPy's searchsorted by a linear scan of the sorted a, in the common dtype. */
static void ref_search(da_dtype adt, const void *ab, int64_t na, da_dtype vdt, const void *vb,
                       int64_t nv, int right, int64_t *want) {
  bool f64 = compare_as_f64(adt, vdt);
  for (int64_t i = 0; i < nv; i++) {
    long double x = ref_val(vdt, vb, i, f64);
    int64_t k = 0;
    while (k < na &&
           (right ? !ref_lt(x, ref_val(adt, ab, k, f64)) : ref_lt(ref_val(adt, ab, k, f64), x)))
      k++;
    want[i] = k;
  }
}

/* Integers beyond 2^53 against floats: NumPy rounds the integers to float64 first, so
 * 2^53 + 1 is found equal to 2^53; against integers they stay exact. */
static void check_rounding(void) {
  const int64_t big[6] = {((int64_t)1 << 53) - 1, (int64_t)1 << 53,       ((int64_t)1 << 53) + 1,
                          ((int64_t)1 << 53) + 2, ((int64_t)1 << 53) + 3, ((int64_t)1 << 53) + 5};
  const double fl[5] = {0x1p53 - 1, 0x1p53, 0x1p53 + 2, 0x1p53 + 4, 0x1p53 + 6};
  int64_t nb = 6, nf = 5;
  da_array ai, af;
  TU_OK(ctx, da_from_root(ctx, 0, 1, &nb, DA_CHUNKS(2), DA_INT64, big, sizeof big, &ai));
  TU_OK(ctx, da_from_root(ctx, 0, 1, &nf, DA_CHUNKS(3), DA_FLOAT64, fl, sizeof fl, &af));
  da_array pairs[4][2] = {{ai, af}, {af, ai}, {ai, ai}, {af, af}};
  const void *bufs[4][2] = {{big, fl}, {fl, big}, {big, big}, {fl, fl}};
  for (int p = 0; p < 4; p++)
    for (int right = 0; right < 2; right++) {
      da_array a = pairs[p][0], v = pairs[p][1], out;
      int64_t nv = da_array_size(v), want[6], *got;
      ref_search(da_array_dtype(a), bufs[p][0], da_array_size(a), da_array_dtype(v), bufs[p][1], nv,
                 right, want);
      TU_OK(ctx, da_searchsorted(a, v, right, &out));
      got = tu_gather_all(out);
      char what[96];
      snprintf(what, sizeof what, "huge values: %s a, %s v, %s", da_dtype_name(da_array_dtype(a)),
               da_dtype_name(da_array_dtype(v)), right ? "right" : "left");
      COMPARE_N(what, DA_INT64, got, want, nv, -1, 0);
      free(got);
      da_array_destroy(&out);
    }
  da_array_destroy(&ai);
  da_array_destroy(&af);
}

static void check_search_case(tu_rng *r, int c) {
  da_dtype adt = search_dts[c % NSEARCH_DTS], vdt = search_dts[tu_int(r, 0, NSEARCH_DTS - 1)];
  if (c % 3 == 0)
    vdt = adt;
  int spread = (int)tu_int(r, 1, 12);
  int64_t n = c % 11 == 5 ? 0 : c % 11 == 6 ? 1 : tu_int(r, 0, 80);
  da_array a = sorted_array(r, adt, n, spread), v = value_array(r, vdt, spread + 2);
  int right = (int)tu_int(r, 0, 1);
  char *ab = tu_gather_all(a), *vb = tu_gather_all(v);
  int64_t na = da_array_size(a), nv = da_array_size(v);
  int64_t *want = tu_malloc((size_t)nv * sizeof *want);
  ref_search(adt, ab, na, vdt, vb, nv, right, want);
  da_array out = NULL;
  TU_OK(ctx, da_searchsorted(a, v, right, &out));
  char what[256];
  snprintf(what, sizeof what, "case %d: searchsorted(%s a of %lld, %s v, %s; %s)", c,
           da_dtype_name(adt), (long long)na, da_dtype_name(vdt), right ? "right" : "left", made);
  check_chunks_like(out, v, what);
  CHECKF(!da_array_is_lazy(out), "%s: not materialized", what);
  int64_t *got = tu_gather_all(out);
  COMPARE(what, DA_INT64, got, want, da_array_ndim(v), da_array_shape(v), -1);
  /* The inputs are unchanged and still usable. */
  char *ab2 = tu_gather_all(a);
  CHECKF(memcmp(ab, ab2, (size_t)da_array_nbytes(a)) == 0, "%s: a changed", what);
  free(ab2);
  free(got);
  free(want);
  free(ab);
  free(vb);
  da_array_destroy(&out);
  da_array_destroy(&a);
  da_array_destroy(&v);
}

/* An unsorted a gives unspecified indices, as NumPy's, but never an error or a crash: each
 * lies in [0, a.size]. */
static void check_unsorted(tu_rng *r) {
  for (int c = 0; c < 6; c++) {
    int64_t n = tu_int(r, 1, 60);
    double *buf = tu_malloc((size_t)n * sizeof *buf);
    for (int64_t i = 0; i < n; i++)
      tie_value(r, DA_FLOAT64, buf, i, 8);
    tu_chunking ck;
    tu_random_chunks(r, 1, &n, 10, &ck);
    da_array a, out;
    TU_OK(ctx, da_from_root(ctx, 0, 1, &n, &ck.c, DA_FLOAT64, buf, (size_t)n * sizeof *buf, &a));
    da_array v = value_array(r, c % 2 ? DA_INT32 : DA_FLOAT64, 8);
    TU_OK(ctx, da_searchsorted(a, v, c % 2, &out));
    int64_t *got = tu_gather_all(out), nv = da_array_size(v), bad = -1;
    for (int64_t i = 0; i < nv && bad < 0; i++)
      if (got[i] < 0 || got[i] > n)
        bad = i;
    CHECKF(bad < 0, "unsorted case %d: index %lld out of [0, %lld]", c, (long long)bad,
           (long long)n);
    free(got);
    free(buf);
    da_array_destroy(&out);
    da_array_destroy(&v);
    da_array_destroy(&a);
  }
}

/* ---------------------------------------------------------------- unique */

/* da_sort's order of equal values: -0.0 before 0.0, otherwise by index (stable). */
static int cmp_sorted(const void *p, const void *q) {
  const keyed *x = p, *y = q;
  int c = cmp_ld(&x->v, &y->v);
  if (c)
    return c;
  if (x->v == 0 && signbit(x->v) != signbit(y->v))
    return signbit(x->v) ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* NumPy's unique of buf (n elements of dt): the first of each run of equal values in
 * sorted order (*nu of them, into vals), the runs' lengths and each element's run. */
static void ref_unique(da_dtype dt, const void *buf, int64_t n, void *vals, int64_t *cnt,
                       int64_t *inv, int64_t *nu) {
  size_t es = da_dtype_size(dt);
  keyed *k = tu_malloc((size_t)n * sizeof *k);
  for (int64_t i = 0; i < n; i++)
    k[i].v = ref_val(dt, buf, i, false), k[i].i = i;
  qsort(k, (size_t)n, sizeof *k, cmp_sorted);
  int64_t u = -1;
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || cmp_ld(&k[i - 1].v, &k[i].v) != 0) {
      u++;
      memcpy((char *)vals + (size_t)u * es, (const char *)buf + (size_t)k[i].i * es, es);
      cnt[u] = 0;
    }
    cnt[u]++;
    inv[k[i].i] = u;
  }
  *nu = u + 1;
  free(k);
}

/* Values equal bit for bit, or both NaN (any NaN stands for the one NaN). */
static bool same_values(da_dtype dt, const void *got, const void *want, int64_t n, int64_t *at) {
  size_t es = da_dtype_size(dt);
  for (int64_t i = 0; i < n; i++) {
    if (memcmp((const char *)got + (size_t)i * es, (const char *)want + (size_t)i * es, es) == 0)
      continue;
    if (tu_is_float(dt) && isnan(tu_get(dt, got, i)) && isnan(tu_get(dt, want, i)))
      continue;
    *at = i;
    return false;
  }
  return true;
}

static const da_dtype unique_dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32,  DA_INT64,
                                      DA_UINT8,   DA_BOOL,    DA_UINT64, DA_INT16};
#define NUNIQUE_DTS (int)(sizeof unique_dts / sizeof unique_dts[0])

/* The input of case c: random ties mostly; one element, all equal, all distinct, empty. */
static da_array unique_input(tu_rng *r, int c, da_dtype dt) {
  int kind = c % 10;
  if (kind >= 6) {
    int nd = (int)tu_int(r, 1, 2);
    int64_t shape[2] = {kind == 6 ? 1 : kind == 9 ? 0 : tu_int(r, 1, 40), tu_int(r, 1, 5)};
    int64_t n = tu_prod(nd, shape);
    size_t es = da_dtype_size(dt);
    char *buf = tu_malloc((size_t)n * es);
    if (n > 0)
      tie_value(r, dt, buf, 0, 5);
    for (int64_t i = 1; i < n; i++) {
      if (kind == 7) /* all equal */
        memcpy(buf + (size_t)i * es, buf, es);
      else /* all distinct (bool: as far as it goes) */
        tu_set(dt, buf, i, dt == DA_BOOL ? (double)(i & 1) : (double)((i * 37) % 211));
    }
    tu_chunking ck;
    tu_random_chunks(r, nd, shape, 20, &ck);
    da_array a;
    TU_OK(ctx, da_from_root(ctx, 0, nd, shape, &ck.c, dt, buf, (size_t)n * es, &a));
    free(buf);
    snprintf(made, sizeof made, "%s",
             kind == 6   ? "one element"
             : kind == 7 ? "all equal"
             : kind == 8 ? "all distinct"
                         : "empty");
    return a;
  }
  made[0] = 0;
  return value_array(r, dt, (int)tu_int(r, 1, 10));
}

static void check_unique_case(tu_rng *r, int c) {
  da_dtype dt = unique_dts[c % NUNIQUE_DTS];
  da_array a = unique_input(r, c, dt);
  bool want_counts = tu_chance(r, 0.8), want_inverse = tu_chance(r, 0.8);
  int64_t n = da_array_size(a);
  size_t es = da_dtype_size(dt);
  char *ab = tu_gather_all(a), *vals = tu_malloc((size_t)n * es);
  int64_t *cnt = tu_malloc((size_t)n * sizeof *cnt), *inv = tu_malloc((size_t)n * sizeof *inv), nu;
  ref_unique(dt, ab, n, vals, cnt, inv, &nu);
  char what[256];
  snprintf(what, sizeof what, "case %d: unique(%s a of %lld%s%s; %s)", c, da_dtype_name(dt),
           (long long)n, want_counts ? ", counts" : "", want_inverse ? ", inverse" : "", made);

  da_array v = NULL, k = NULL, i = NULL;
  TU_OK(ctx, da_unique(a, &v, want_counts ? &k : NULL, want_inverse ? &i : NULL));
  /* Values and counts: 1-D, in chunks of as many elements as a's largest block. */
  int64_t per = 1;
  for (int d = 0; d < da_array_ndim(a); d++)
    per *= da_array_chunksize(a)[d];
  per = per > 0 ? per : 1;
  da_array outs[2] = {v, k};
  for (int o = 0; o < 2; o++) {
    da_array x = outs[o];
    if (!x)
      continue;
    bool ok = da_array_ndim(x) == 1 && da_array_shape(x)[0] == nu && !da_array_is_lazy(x) &&
              da_array_dtype(x) == (o ? DA_INT64 : dt);
    for (int64_t j = 0; ok && j < da_array_numblocks(x)[0]; j++) {
      int64_t len = da_array_chunks(x, 0)[j], left = nu - j * per;
      ok = len == (left < per ? left : per);
    }
    CHECKF(ok, "%s: %s has shape (%lld,) in %lld chunks (want %lld in chunks of %lld)", what,
           o ? "counts" : "values", (long long)da_array_shape(x)[0],
           (long long)da_array_numblocks(x)[0], (long long)nu, (long long)per);
  }
  if (da_array_shape(v)[0] == nu) {
    char *got = tu_gather_all(v);
    int64_t at = 0;
    if (!same_values(dt, got, vals, nu, &at)) {
      char gs[64], ws[64];
      tu_format(dt, got, at, gs, sizeof gs);
      tu_format(dt, vals, at, ws, sizeof ws);
      CHECKF(false, "%s: value %lld of %lld: got %s, want %s", what, (long long)at, (long long)nu,
             gs, ws);
    } else {
      CHECK(true);
    }
    free(got);
  }
  if (k && da_array_shape(k)[0] == nu) {
    int64_t *got = tu_gather_all(k);
    COMPARE_N(what, DA_INT64, got, cnt, nu, -1, 0);
    free(got);
  }
  if (i) {
    /* The inverse: a.size elements in the chunks of a's ravel. */
    da_array flat;
    TU_OK(ctx, da_ravel(a, &flat));
    check_chunks_like(i, flat, what);
    da_array_destroy(&flat);
    int64_t *got = tu_gather_all(i);
    COMPARE_N(what, DA_INT64, got, inv, n, -1, 0);
    free(got);
  }
  char *ab2 = tu_gather_all(a);
  CHECKF(memcmp(ab, ab2, n * es) == 0, "%s: a changed", what);
  free(ab2);
  free(ab);
  free(vals);
  free(cnt);
  free(inv);
  da_array_destroy(&v);
  da_array_destroy(&k);
  da_array_destroy(&i);
  da_array_destroy(&a);
}

/* ---------------------------------------------------------------- errors */

static void check_rc(int rc, int want, const char *what) {
  int lo = rc, hi = rc;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECKF(lo == want && hi == want && *da_ctx_errmsg(ctx), "%s: rc %d..%d, want %d", what, lo, hi,
         want);
}

static void check_errors(void) {
  da_array a1, a2, v, out = NULL;
  TU_OK(ctx, da_arange(ctx, 0, 10, 1, DA_CHUNKS(3), DA_FLOAT64, &a1));
  TU_OK(ctx, da_zeros(ctx, 2, (const int64_t[]){4, 3}, DA_CHUNKS(3, 2), DA_INT32, &a2));
  TU_OK(ctx, da_zeros(ctx, 1, (const int64_t[]){5}, DA_CHUNKS(2), DA_INT32, &v));
  da_ctx other;
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &other));
  da_array ov;
  TU_OK(other, da_zeros(other, 1, (const int64_t[]){5}, DA_CHUNKS(2), DA_INT32, &ov));
  check_rc(da_searchsorted(a2, v, 0, &out), DA_ERR_SHAPE, "searchsorted into a 2-d array");
  check_rc(da_searchsorted(a1, ov, 0, &out), DA_ERR_ARG, "searchsorted, v of another context");
  check_rc(da_searchsorted(a1, NULL, 0, &out), DA_ERR_ARG, "searchsorted, v NULL");
  check_rc(da_searchsorted(a1, v, 1, NULL), DA_ERR_ARG, "searchsorted, out NULL");
  CHECK(out == NULL);
  da_array k = NULL, i = NULL;
  check_rc(da_unique(a2, NULL, &k, &i), DA_ERR_ARG, "unique, values NULL");
  CHECK(k == NULL && i == NULL);
  da_array_destroy(&ov);
  da_ctx_destroy(&other);
  da_array_destroy(&a1);
  da_array_destroy(&a2);
  da_array_destroy(&v);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t740-unique");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  tu_rng rng = tu_rng_make(740);
  int64_t base = 0;
  TU_OK(ctx, da_ctx_memory(ctx, &base, NULL));
  for (int c = 0; c < 80; c++) {
    check_search_case(&rng, c);
    tu_sync();
  }
  for (int c = 0; c < 80; c++) {
    check_unique_case(&rng, c);
    tu_sync();
  }
  check_rounding();
  check_unsorted(&rng);
  check_errors();
  /* Every work buffer and block was given back. */
  int64_t now = -1;
  TU_OK(ctx, da_ctx_memory(ctx, &now, NULL));
  CHECKF(now == base, "darray holds %lld bytes after everything was destroyed (%lld before)",
         (long long)now, (long long)base);
  da_ctx_destroy(&ctx);
  return tu_finish();
}
