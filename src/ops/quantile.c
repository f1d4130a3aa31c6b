/* Quantiles as numpy.quantile computes them (method 'linear'), exactly: over every axis by a
 * distributed radix selection on order-preserving integer keys, over some axes lane by lane
 * with each lane gathered whole; and an approximate form from one histogram of the values. */
#include "core/internal.h"
#include "diag/diag.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- order keys */

/* Each dtype maps to unsigned keys of its own width whose integer order is the value order:
 * signed integers flip the sign bit, floats flip every bit when negative and the sign bit
 * otherwise (so -0.0 sorts just below 0.0), and NaN becomes the largest key of the width,
 * which no number reaches. */
static inline uint64_t key_bool(uint8_t x) {
  return x != 0;
}
static inline uint64_t key_i8(int8_t x) {
  return (uint8_t)x ^ 0x80u;
}
static inline uint64_t key_i16(int16_t x) {
  return (uint16_t)x ^ 0x8000u;
}
static inline uint64_t key_i32(int32_t x) {
  return (uint32_t)x ^ 0x80000000u;
}
static inline uint64_t key_i64(int64_t x) {
  return (uint64_t)x ^ ((uint64_t)1 << 63);
}
static inline uint64_t key_u8(uint8_t x) {
  return x;
}
static inline uint64_t key_u16(uint16_t x) {
  return x;
}
static inline uint64_t key_u32(uint32_t x) {
  return x;
}
static inline uint64_t key_u64(uint64_t x) {
  return x;
}
static inline uint64_t key_f32(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if (x != x)
    return UINT32_MAX;
  return (u >> 31) ? (uint32_t)~u : u | 0x80000000u;
}
static inline uint64_t key_f64(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  if (x != x)
    return UINT64_MAX;
  return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

static inline uint8_t unkey_bool(uint64_t k) {
  return (uint8_t)k;
}
static inline int8_t unkey_i8(uint64_t k) {
  return (int8_t)(uint8_t)(k ^ 0x80u);
}
static inline int16_t unkey_i16(uint64_t k) {
  return (int16_t)(uint16_t)(k ^ 0x8000u);
}
static inline int32_t unkey_i32(uint64_t k) {
  return (int32_t)(uint32_t)(k ^ 0x80000000u);
}
static inline int64_t unkey_i64(uint64_t k) {
  return (int64_t)(k ^ ((uint64_t)1 << 63));
}
static inline uint8_t unkey_u8(uint64_t k) {
  return (uint8_t)k;
}
static inline uint16_t unkey_u16(uint64_t k) {
  return (uint16_t)k;
}
static inline uint32_t unkey_u32(uint64_t k) {
  return (uint32_t)k;
}
static inline uint64_t unkey_u64(uint64_t k) {
  return k;
}
static inline float unkey_f32(uint64_t k) {
  uint32_t u = (uint32_t)k;
  u = (u >> 31) ? u & 0x7fffffffu : ~u;
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}
static inline double unkey_f64(uint64_t k) {
  uint64_t u = (k >> 63) ? k & ~((uint64_t)1 << 63) : ~k;
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* NumPy's _lerp(a, b, t) between the order statistics a <= b: b - a in the input's own type
 * (integers wrap, float32 rounds to float32), the rest in float64, and from t >= 0.5 on
 * b - (b - a) * (1 - t). */
#define LERP_INT(sfx, T, UT)                                                                       \
  static double lerp_##sfx(uint64_t ka, uint64_t kb, double t) {                                   \
    T a = unkey_##sfx(ka), b = unkey_##sfx(kb);                                                    \
    T d = (T)(UT)((UT)b - (UT)a);                                                                  \
    return t >= 0.5 ? (double)b - (double)d * (1 - t) : (double)a + (double)d * t;                 \
  }
LERP_INT(bool, uint8_t, uint8_t)
LERP_INT(i8, int8_t, uint8_t)
LERP_INT(i16, int16_t, uint16_t)
LERP_INT(i32, int32_t, uint32_t)
LERP_INT(i64, int64_t, uint64_t)
LERP_INT(u8, uint8_t, uint8_t)
LERP_INT(u16, uint16_t, uint16_t)
LERP_INT(u32, uint32_t, uint32_t)
LERP_INT(u64, uint64_t, uint64_t)

static double lerp_f32(uint64_t ka, uint64_t kb, double t) {
  float a = unkey_f32(ka), b = unkey_f32(kb), d = b - a;
  return t >= 0.5 ? (double)b - (double)d * (1 - t) : (double)a + (double)d * t;
}

static double lerp_f64(uint64_t ka, uint64_t kb, double t) {
  double a = unkey_f64(ka), b = unkey_f64(kb), d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* The value of a key as a double (exact for every dtype but 64-bit integers past 2^53). */
static double key_value(da_dtype dt, uint64_t k) {
  switch (dt) {
  case DA_BOOL:
    return unkey_bool(k);
  case DA_INT8:
    return unkey_i8(k);
  case DA_INT16:
    return unkey_i16(k);
  case DA_INT32:
    return unkey_i32(k);
  case DA_INT64:
    return (double)unkey_i64(k);
  case DA_UINT8:
    return unkey_u8(k);
  case DA_UINT16:
    return unkey_u16(k);
  case DA_UINT32:
    return unkey_u32(k);
  case DA_UINT64:
    return (double)unkey_u64(k);
  case DA_FLOAT32:
    return unkey_f32(k);
  default:
    return unkey_f64(k);
  }
}

/* np.median's value from the middle order statistics (t 0.5: two of them, else one): their
 * mean as np.mean takes it, in float32 for float32 input, else in float64. */
static double median_of(da_dtype dt, uint64_t ka, uint64_t kb, double t) {
  double a = key_value(dt, ka);
  if (t != 0.5)
    return a;
  if (dt == DA_FLOAT32)
    return (float)((float)a + (float)key_value(dt, kb)) / 2.0f;
  return (a + key_value(dt, kb)) / 2;
}

/* ---------------------------------------------------------------- kernels */

/* One counting level of the radix selection: keys whose bits above pshift equal one of the
 * ngroups sorted prefixes belong to that group, which counts its keys by bits
 * [shift, shift + bits) into 2^bits bins. */
typedef struct {
  int pshift, shift, bits;
  int64_t ngroups;
  const uint64_t *prefix;
} level;

/* k >> s for 1 <= s <= 64. */
static inline uint64_t shr(uint64_t k, int s) {
  return (k >> (s - 1)) >> 1;
}

static inline int64_t group_of(const level *L, uint64_t k) {
  uint64_t p = shr(k, L->pshift);
  if (p - L->prefix[0] > L->prefix[L->ngroups - 1] - L->prefix[0])
    return -1; /* outside every group: most keys, once a level has narrowed them */
  int64_t lo = 0, hi = L->ngroups;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (L->prefix[mid] < p)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < L->ngroups && L->prefix[lo] == p ? lo : -1;
}

typedef struct {
  /* n elements to keys; returns the largest key. */
  uint64_t (*keys)(const void *in, int64_t n, uint64_t *out);
  /* Counts as count does, for a level of one group, and folds the smallest and largest keys
   * into *mn and *mx: the first pass. */
  void (*scan)(const void *in, int64_t n, const level *L, uint64_t *mn, uint64_t *mx, int64_t *h);
  /* Counts the elements of L's groups into h (ngroups rows of 2^bits bins). */
  void (*count)(const void *in, int64_t n, const level *L, int64_t *h);
  /* Appends the keys of the elements in L's groups to out (room for n); returns how many. */
  int64_t (*collect)(const void *in, int64_t n, const level *L, uint64_t *out);
  double (*lerp)(uint64_t ka, uint64_t kb, double t);
  bool has_nan;
  uint64_t nan_key;
} key_ops;

#define KEY_KERNELS(sfx, T)                                                                        \
  static uint64_t keys_##sfx(const void *in, int64_t n, uint64_t *out) {                           \
    const T *x = in;                                                                               \
    uint64_t hi = 0;                                                                               \
    for (int64_t i = 0; i < n; i++) {                                                              \
      out[i] = key_##sfx(x[i]);                                                                    \
      hi = out[i] > hi ? out[i] : hi;                                                              \
    }                                                                                              \
    return hi;                                                                                     \
  }                                                                                                \
  static void scan_##sfx(const void *in, int64_t n, const level *L, uint64_t *mn, uint64_t *mx,    \
                         int64_t *h) {                                                             \
    const T *x = in;                                                                               \
    const int sh = L->shift, ps = L->pshift;                                                       \
    const uint64_t mask = ((uint64_t)1 << L->bits) - 1, p0 = L->prefix[0];                         \
    uint64_t lo = *mn, hi = *mx;                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                              \
      uint64_t k = key_##sfx(x[i]);                                                                \
      lo = k < lo ? k : lo;                                                                        \
      hi = k > hi ? k : hi;                                                                        \
      h[(k >> sh) & mask] += shr(k, ps) == p0;                                                     \
    }                                                                                              \
    *mn = lo, *mx = hi;                                                                            \
  }                                                                                                \
  static void count_##sfx(const void *in, int64_t n, const level *L, int64_t *h) {                 \
    const T *x = in;                                                                               \
    const int sh = L->shift, bits = L->bits;                                                       \
    const uint64_t mask = ((uint64_t)1 << bits) - 1;                                               \
    if (L->ngroups == 1) { /* one group: no search */                                              \
      const uint64_t p0 = L->prefix[0];                                                            \
      const int ps = L->pshift;                                                                    \
      for (int64_t i = 0; i < n; i++) {                                                            \
        uint64_t k = key_##sfx(x[i]);                                                              \
        h[(k >> sh) & mask] += shr(k, ps) == p0;                                                   \
      }                                                                                            \
      return;                                                                                      \
    }                                                                                              \
    for (int64_t i = 0; i < n; i++) {                                                              \
      uint64_t k = key_##sfx(x[i]);                                                                \
      int64_t g = group_of(L, k);                                                                  \
      if (g >= 0)                                                                                  \
        h[(g << bits) + (int64_t)((k >> sh) & mask)]++;                                            \
    }                                                                                              \
  }                                                                                                \
  static int64_t collect_##sfx(const void *in, int64_t n, const level *L, uint64_t *out) {         \
    const T *x = in;                                                                               \
    int64_t m = 0;                                                                                 \
    if (L->ngroups == 1) { /* out has room for n: write each, keep those in the group */           \
      const uint64_t p0 = L->prefix[0];                                                            \
      const int ps = L->pshift;                                                                    \
      for (int64_t i = 0; i < n; i++) {                                                            \
        uint64_t k = key_##sfx(x[i]);                                                              \
        out[m] = k;                                                                                \
        m += shr(k, ps) == p0;                                                                     \
      }                                                                                            \
      return m;                                                                                    \
    }                                                                                              \
    for (int64_t i = 0; i < n; i++) {                                                              \
      uint64_t k = key_##sfx(x[i]);                                                                \
      if (group_of(L, k) >= 0)                                                                     \
        out[m++] = k;                                                                              \
    }                                                                                              \
    return m;                                                                                      \
  }

KEY_KERNELS(bool, uint8_t)
KEY_KERNELS(i8, int8_t)
KEY_KERNELS(i16, int16_t)
KEY_KERNELS(i32, int32_t)
KEY_KERNELS(i64, int64_t)
KEY_KERNELS(u8, uint8_t)
KEY_KERNELS(u16, uint16_t)
KEY_KERNELS(u32, uint32_t)
KEY_KERNELS(u64, uint64_t)
KEY_KERNELS(f32, float)
KEY_KERNELS(f64, double)

#define KEY_OPS(sfx, nan, nkey)                                                                    \
  { keys_##sfx, scan_##sfx, count_##sfx, collect_##sfx, lerp_##sfx, nan, nkey }
static const key_ops kops[DA_NDTYPES] = {
    [DA_BOOL] = KEY_OPS(bool, false, 0),           [DA_INT8] = KEY_OPS(i8, false, 0),
    [DA_INT16] = KEY_OPS(i16, false, 0),           [DA_INT32] = KEY_OPS(i32, false, 0),
    [DA_INT64] = KEY_OPS(i64, false, 0),           [DA_UINT8] = KEY_OPS(u8, false, 0),
    [DA_UINT16] = KEY_OPS(u16, false, 0),          [DA_UINT32] = KEY_OPS(u32, false, 0),
    [DA_UINT64] = KEY_OPS(u64, false, 0),          [DA_FLOAT32] = KEY_OPS(f32, true, UINT32_MAX),
    [DA_FLOAT64] = KEY_OPS(f64, true, UINT64_MAX),
};

/* ---------------------------------------------------------------- what NumPy interpolates */

/* NumPy's neighbours of the virtual index q * (n - 1): order statistics i0 and i1 with weight
 * t (at or past the last index both are the last, and t is the index + 1, as NumPy's
 * previous index -1 makes it). */
static void virtual_index(int64_t n, double q, int64_t *i0, int64_t *i1, double *t) {
  double v = (double)(n - 1) * q;
  if (v >= (double)(n - 1)) {
    *i0 = *i1 = n - 1;
    *t = v + 1;
  } else {
    *i0 = (int64_t)floor(v);
    *i1 = *i0 + 1;
    *t = v - (double)*i0;
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The order statistics nq quantiles of n elements need: nrank distinct ranks, ascending, and
 * per quantile the places of its two ranks among them and its weight. */
typedef struct {
  int64_t nq, nrank;
  int64_t *rank, *at0, *at1;
  double *t;
} rank_plan;

static void rank_plan_free(rank_plan *rp) {
  free(rp->rank);
  free(rp->at0);
  free(rp->at1);
  free(rp->t);
  *rp = (rank_plan){0};
}

static int64_t rank_index(const rank_plan *rp, int64_t r) {
  const int64_t *f = bsearch(&r, rp->rank, (size_t)rp->nrank, sizeof r, cmp_i64);
  return f - rp->rank;
}

static int rank_plan_make(da_ctx ctx, int64_t n, int64_t nq, const double q[], rank_plan *rp) {
  *rp = (rank_plan){.nq = nq};
  rp->rank = malloc((size_t)(2 * nq) * sizeof *rp->rank);
  rp->at0 = malloc((size_t)nq * sizeof *rp->at0);
  rp->at1 = malloc((size_t)nq * sizeof *rp->at1);
  rp->t = malloc((size_t)nq * sizeof *rp->t);
  if (!rp->rank || !rp->at0 || !rp->at1 || !rp->t) {
    rank_plan_free(rp);
    return DA_ERR(ctx, DA_ERR_NOMEM, "quantile: cannot allocate the ranks");
  }
  for (int64_t i = 0; i < nq; i++)
    virtual_index(n, q[i], &rp->rank[2 * i], &rp->rank[2 * i + 1], &rp->t[i]);
  qsort(rp->rank, (size_t)(2 * nq), sizeof *rp->rank, cmp_i64);
  int64_t m = 0;
  for (int64_t i = 0; i < 2 * nq; i++)
    if (m == 0 || rp->rank[i] != rp->rank[m - 1])
      rp->rank[m++] = rp->rank[i];
  rp->nrank = m;
  for (int64_t i = 0; i < nq; i++) {
    int64_t i0, i1;
    double t;
    virtual_index(n, q[i], &i0, &i1, &t);
    rp->at0[i] = rank_index(rp, i0);
    rp->at1[i] = rank_index(rp, i1);
  }
  return DA_OK;
}

/* ---------------------------------------------------------------- selection in one lane */

static inline void swap_u64(uint64_t *a, uint64_t *b) {
  uint64_t t = *a;
  *a = *b, *b = t;
}

/* Puts the k-th smallest of v[0..n) at v[k], smaller ones before it and larger after:
 * quickselect with a median-of-three pivot and a three-way partition (ties are common),
 * sorting instead when the pivots keep going wrong. */
static void nth_key(uint64_t *v, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n;
  int budget = 2 * (64 - __builtin_clzll((unsigned long long)n | 1)) + 8;
  while (hi - lo > 16) {
    if (budget-- == 0) {
      qsort(v + lo, (size_t)(hi - lo), sizeof *v, cmp_u64);
      return;
    }
    uint64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
    uint64_t p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    int64_t lt = lo, i = lo, gt = hi;
    while (i < gt) {
      if (v[i] < p)
        swap_u64(&v[lt++], &v[i++]);
      else if (v[i] > p)
        swap_u64(&v[i], &v[--gt]);
      else
        i++;
    }
    if (k < lt)
      hi = lt;
    else if (k >= gt)
      lo = gt;
    else
      return;
  }
  for (int64_t i = lo + 1; i < hi; i++) /* insertion sort of the last few */
    for (int64_t j = i; j > lo && v[j - 1] > v[j]; j--)
      swap_u64(&v[j - 1], &v[j]);
}

/* The keys of ranks rank[0..nr) (ascending) of the n keys in v, which it reorders. */
static void select_lane(uint64_t *v, int64_t n, const int64_t *rank, int64_t nr, uint64_t *got) {
  if (nr > 16) { /* many ranks: one sort serves them all */
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    for (int64_t i = 0; i < nr; i++)
      got[i] = v[rank[i]];
    return;
  }
  int64_t lo = 0;
  for (int64_t i = 0; i < nr; i++) { /* what lies past a selected rank is no smaller */
    nth_key(v + lo, n - lo, rank[i] - lo);
    got[i] = v[rank[i]];
    lo = rank[i] + 1;
  }
}

/* What a quantile call computes: the order statistics of lanes of m elements. */
typedef struct {
  da_dtype dt;
  bool lead; /* the quantiles' axis leads the output */
  int64_t m; /* lane length */
  rank_plan rp;
  /* over every axis: the ranks' keys, the results, and whether a lazy input is computed
   * again in each pass */
  uint64_t *key;
  double *res;
  bool again;
} lane_params;

/* The result's dtype: float64, but np.median keeps float32. */
static da_dtype out_dtype(const lane_params *p) {
  return !p->lead && p->dt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
}

/* Quantile i from the keys at the plan's ranks: NumPy's lerp, or np.median's mean. */
static double result_of(const lane_params *p, const uint64_t *got, int64_t i) {
  const rank_plan *rp = &p->rp;
  if (!p->lead)
    return median_of(p->dt, got[rp->at0[i]], got[rp->at1[i]], rp->t[i]);
  return kops[p->dt].lerp(got[rp->at0[i]], got[rp->at1[i]], rp->t[i]);
}

static void lane_params_free(void *pp) {
  lane_params *p = pp;
  if (p) {
    rank_plan_free(&p->rp);
    free(p->key);
    free(p->res);
  }
  free(p);
}

/* One block of whole lanes along its last axis: its lanes' quantiles, the quantile axis first. */
static int lane_block(const da_block_info *info, void *user) {
  const lane_params *p = user;
  const key_ops *ko = &kops[p->dt];
  int nd = info->in_ndim;
  int64_t m = info->in_shape[0][nd - 1], lanes = 1;
  for (int d = 0; d < nd - 1; d++)
    lanes *= info->in_shape[0][d];
  if (m != p->m)
    return 1;
  size_t es = da_dtype_size(p->dt);
  uint64_t *v = malloc((size_t)(m + p->rp.nrank) * sizeof *v);
  if (!v)
    return 2;
  uint64_t *got = v + m;
  double *out = info->out;
  float *out32 = info->out;
  bool f32 = out_dtype(p) == DA_FLOAT32;
  const char *in = info->in[0];
  for (int64_t j = 0; j < lanes; j++) {
    uint64_t hi = ko->keys(in + (size_t)(j * m) * es, m, v);
    bool nan = ko->has_nan && hi == ko->nan_key;
    if (!nan)
      select_lane(v, m, p->rp.rank, p->rp.nrank, got);
    for (int64_t i = 0; i < p->rp.nq; i++) {
      double r = nan ? NAN : result_of(p, got, i);
      if (f32)
        out32[i * lanes + j] = (float)r;
      else
        out[i * lanes + j] = r;
    }
  }
  free(v);
  return 0;
}

/* ---------------------------------------------------------------- selection over every axis */

/* A pass over the elements of x: a layer of one byte per block whose tasks fold their block
 * (read tile by tile from a fused producer, or whole from memory) into this rank's state,
 * streamed and dropped, so a lazy x is never stored. The state is the caller's, valid for
 * the pass. */
typedef enum { PASS_SCAN, PASS_COUNT, PASS_COLLECT, PASS_RANGE, PASS_BIN } pass_kind;

typedef struct {
  pass_kind kind;
  const key_ops *ko;
  const level *L;
  uint64_t range[2]; /* PASS_SCAN: smallest and largest key */
  int64_t *h;        /* PASS_SCAN, PASS_COUNT, PASS_BIN: the counts */
  uint64_t *buf;     /* PASS_COLLECT: the keys kept */
  int64_t nbuf, cap;
  /* The approximate form, over float64: the finite range and the counts of -inf, +inf and
   * NaN (PASS_RANGE), then APPROX_BINS equal bins between edges[] (PASS_BIN). */
  double lo, hi, norm, step;
  int64_t special[3];
  uint32_t *h32; /* PASS_BIN: counts in half the cache, added into h before they could wrap */
  int64_t n32;
} pass_state;

static void range_fold(pass_state *s, const double *x, int64_t n);
static void bin_fold(pass_state *s, const double *x, int64_t n);

static void pass_fold(pass_state *s, const void *data, int64_t n) {
  if (s->kind == PASS_SCAN)
    s->ko->scan(data, n, s->L, &s->range[0], &s->range[1], s->h);
  else if (s->kind == PASS_COUNT)
    s->ko->count(data, n, s->L, s->h);
  else if (s->kind == PASS_COLLECT)
    s->nbuf += s->ko->collect(data, n, s->L, s->buf + s->nbuf);
  else if (s->kind == PASS_RANGE)
    range_fold(s, data, n);
  else
    bin_fold(s, data, n);
}

static int pass_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  pass_state *s = a->params;
  int64_t total = da_block_size_of(a->inputs[0], b);
  *(uint8_t *)out = 0;
  if (s->kind == PASS_COLLECT && s->nbuf + total > s->cap) {
    int64_t c2 = s->nbuf + total > 2 * s->cap ? s->nbuf + total : 2 * s->cap;
    uint64_t *nb = realloc(s->buf, (size_t)c2 * sizeof *nb);
    if (!nb)
      return DA_ERR(a->ctx, DA_ERR_NOMEM, "quantile: cannot allocate %lld keys", (long long)c2);
    s->buf = nb, s->cap = c2;
  }
  if (ins[0].data) {
    pass_fold(s, ins[0].data, total);
    return DA_OK;
  }
  for (int64_t at = 0; at < total; at += DA_TILE) {
    int64_t cnt = total - at < DA_TILE ? total - at : DA_TILE;
    pass_fold(s, da_input_tile(&ins[0], at, cnt), cnt);
  }
  return DA_OK;
}

static void params_kept(void *p) { /* the caller owns them */
  (void)p;
}

static const da_layer_ops pass_ops = {.name = "quantile-pass",
                                      .aligned = true,
                                      .run = pass_run,
                                      .fuses_inputs = true,
                                      .free_params = params_kept};

static int drop_block(void *user, const da_array x, int64_t b, const void *data) {
  (void)user, (void)x, (void)b, (void)data;
  return DA_OK;
}

/* Collective. One pass of s over x. */
static int pass(da_array x, pass_state *s) {
  da_ctx ctx = x->ctx;
  int nd = x->ndim;
  int64_t shape[DA_MAX_NDIM], most = 1;
  for (int d = 0; d < nd; d++)
    most = x->numblocks[d] > most ? x->numblocks[d] : most;
  int64_t *ones = malloc((size_t)most * sizeof *ones);
  DA_TRY(da_agree(ctx, ones ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "quantile: cannot allocate")));
  const int64_t *ck[DA_MAX_NDIM];
  for (int64_t i = 0; i < most; i++)
    ones[i] = 1;
  for (int d = 0; d < nd; d++)
    shape[d] = x->numblocks[d], ck[d] = ones;
  da_array p = NULL;
  int rc =
      da_node_new(ctx, nd, shape, ck, shape, DA_UINT8, 1, DA_LAYOUT_OF(x), &pass_ops, s, 1, &x, &p);
  free(ones);
  if (!rc)
    rc = da_schedule_sink(p, drop_block, NULL);
  da_array_destroy(&p);
  return rc;
}

/* A copy layer: a private node of a lazy array that is costly to compute again, persisted
 * so later passes read its blocks. While it copies it makes the first pass. */
static void copy_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                      const void *const *in, void *out) {
  (void)b, (void)start;
  pass_state *s = a->params; /* the caller's (the node's params go with the node) */
  if (out != in[0])
    memcpy(out, in[0], (size_t)count * a->elsize);
  s->ko->scan(out, count, s->L, &s->range[0], &s->range[1], s->h);
}

static const da_layer_ops copy_ops = {
    .name = "quantile-input", .aligned = true, .tile = copy_tile, .free_params = params_kept};

/* Bins per level: 2^16 in all, split among the groups counting at once (so one level's
 * counts stay 512 KiB). */
static int level_bits(int pshift, int64_t ngroups) {
  int bits = pshift < 16 ? pshift : 16;
  while (bits > 1 && (ngroups << bits) > ((int64_t)1 << 16))
    bits--;
  return bits;
}

/* Whether a costs no more to compute again than to read: block-wise tile layers only
 * (generators, elementwise chains) over arrays whose blocks lie where a's do, so a pass
 * recomputes it from local data, in cache, and holds nothing. */
static int cheap_again(da_array a, bool *cheap) {
  da_array *nodes = NULL;
  int64_t n = 0;
  DA_TRY(da_graph_collect(a, &nodes, &n));
  *cheap = true;
  for (int64_t i = 0; i < n && *cheap; i++) {
    da_array g = nodes[i];
    if (!g->materialized) {
      *cheap = g->ops->tile && g->ops->aligned && !g->ops->collective;
      continue;
    }
    for (int64_t b = 0; b < a->nblocks && *cheap; b++)
      *cheap = g->nblocks == a->nblocks && da_block_owner_of(g, b) == da_block_owner_of(a, b);
  }
  free(nodes);
  return DA_OK;
}

/* Collective. The keys key[i] of the ranks rank[0..nr) (ascending) of the elements of a,
 * or *nan when one is NaN. Radix selection over order keys: each level counts, per target,
 * the next bits below the prefix its group shares, and keeps the bin its rank falls in,
 * until every bit is known. The first pass counts the top bits and finds the smallest and
 * largest keys, whose common high bits every key shares, so the next level starts below
 * them. Counts are exact integers summed over ranks: any number of ranks finds the same
 * keys. Once the keys still in play are few they are copied aside, and later levels count
 * those. A lazy a is computed again in each pass when that is cheap, else once, into a
 * private copy (a itself stays as it is). */
static int select_whole(da_array a, bool again, int64_t nr, const int64_t rank[], uint64_t key[],
                        bool *nan) {
  da_ctx ctx = a->ctx;
  const key_ops *ko = &kops[a->dtype];
  *nan = false;
  int width = 8 * (int)a->elsize, shift = width;
  int64_t hcap = nr * 2 > ((int64_t)1 << 16) ? nr * 2 : (int64_t)1 << 16; /* see level_bits */
  int64_t *base = calloc((size_t)nr, sizeof *base), *grp = malloc((size_t)nr * sizeof *grp);
  uint64_t *pre = calloc((size_t)nr, sizeof *pre);
  pass_state st = {.ko = ko, .range = {UINT64_MAX, 0}};
  st.h = calloc((size_t)hcap, sizeof *st.h);
  int rc =
      base && grp && pre && st.h ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "quantile: cannot allocate");
  rc = da_agree(ctx, rc);
  for (int64_t i = 0; !rc && i < nr; i++)
    key[i] = 0; /* key[i]: target i's prefix so far, above shift; base[i]: keys below it */
  da_array x = NULL;
  bool aside = false, first = true;
  while (!rc && shift > 0) {
    /* The groups: the distinct prefixes of the targets (ascending, as the ranks are). */
    int64_t ng = 0;
    for (int64_t i = 0; i < nr; i++) {
      if (ng == 0 || pre[ng - 1] != key[i])
        pre[ng++] = key[i];
      grp[i] = ng - 1;
    }
    int bits = level_bits(shift, ng);
    level L = {.pshift = shift, .shift = shift - bits, .bits = bits, .ngroups = ng, .prefix = pre};
    int64_t nb = (int64_t)1 << bits, *h = st.h;
    memset(h, 0, (size_t)(ng * nb) * sizeof *h);
    st.L = &L;
    if (aside) {
      double t0 = da_trace_now(ctx);
      kops[DA_UINT64].count(st.buf, st.nbuf, &L, h);
      da_trace_event(ctx, DA_EV_COMPUTE, "quantile-candidates", -1, -1, 0, t0);
    } else if (first && !a->materialized && !again) {
      st.kind = PASS_SCAN;
      rc = da_node_new(ctx, a->ndim, a->shape, (const int64_t *const *)a->chunks, a->numblocks,
                       a->dtype, a->elsize, DA_LAYOUT_OF(a), &copy_ops, &st, 1, &a, &x);
      if (!rc)
        rc = da_persist(x);
    } else {
      st.kind = first ? PASS_SCAN : PASS_COUNT;
      rc = pass(x ? x : a, &st);
    }
    if (rc)
      break;
    if (first) {
      uint64_t mm[2] = {st.range[0], ~st.range[1]};
      if ((rc = da_allreduce_traced(ctx, mm, 2, MPI_UINT64_T, MPI_MIN, "quantile counts")))
        break;
      st.range[0] = mm[0], st.range[1] = ~mm[1];
    }
    if ((rc = da_allreduce_traced(ctx, h, (int)(ng * nb), MPI_INT64_T, MPI_SUM, "quantile counts")))
      break;
    uint64_t lo = st.range[0], hi = st.range[1];
    if (first && ko->has_nan && hi == ko->nan_key) {
      *nan = true;
      break;
    }
    if (first && lo == hi) {
      for (int64_t i = 0; i < nr; i++)
        key[i] = lo;
      break;
    }
    /* Each target's bin: the one its rank falls in, counting from its group's base. */
    for (int64_t i = 0; i < nr; i++) {
      const int64_t *row = h + grp[i] * nb;
      int64_t at = base[i], j = 0;
      while (j < nb - 1 && rank[i] >= at + row[j])
        at += row[j++];
      key[i] = key[i] << bits | (uint64_t)j;
      base[i] = at;
    }
    shift -= bits;
    /* The keys left in the targets' bins, counted once per distinct bin. */
    int64_t left = 0;
    for (int64_t i = 0; i < nr; i++)
      if (i == 0 || key[i] != key[i - 1])
        left += h[grp[i] * nb + (int64_t)(key[i] & (uint64_t)(nb - 1))];
    int common = 64 - __builtin_clzll(lo ^ hi); /* the bits from here up are every key's */
    if (first && common < shift) {
      for (int64_t i = 0; i < nr; i++)
        key[i] = shr(lo, common);
      shift = common;
    }
    first = false;
    if (shift == 0 || aside || left > a->size / 8)
      continue;
    /* Few left: copy their keys aside. */
    int64_t ng2 = 0;
    for (int64_t i = 0; i < nr; i++)
      if (ng2 == 0 || pre[ng2 - 1] != key[i])
        pre[ng2++] = key[i];
    level keep = {.pshift = shift, .ngroups = ng2, .prefix = pre};
    st.kind = PASS_COLLECT, st.L = &keep;
    rc = pass(x ? x : a, &st);
    aside = true;
  }
  da_array_destroy(&x);
  free(st.h);
  free(st.buf);
  free(base);
  free(pre);
  free(grp);
  return rc;
}

/* ---------------------------------------------------------------- entry points */

/* Which axes are reduced, checked as the reductions check them. */
static int reduced_axes(da_ctx ctx, int nd, int naxes, const int axes[], bool red[]) {
  if (naxes < 0 || naxes > nd)
    return DA_ERR(ctx, DA_ERR_ARG, "quantile: %d axes given for a %d-d array", naxes, nd);
  for (int d = 0; d < nd; d++)
    red[d] = naxes == 0 || !axes;
  for (int i = 0; i < naxes && axes; i++) {
    int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
    if (ax < 0 || ax >= nd)
      return DA_ERR(ctx, DA_ERR_ARG, "quantile: axis %d is out of range for a %d-d array", axes[i],
                    nd);
    if (red[ax])
      return DA_ERR(ctx, DA_ERR_ARG, "quantile: axis %d is repeated", axes[i]);
    red[ax] = true;
  }
  return DA_OK;
}

/* Collective. The quantiles over every axis: *out materialized, shape (nq,) (without it for
 * the median) and keepdims' ones. */
static int quantile_whole(da_array a, lane_params *p, int keepdims, da_array *out) {
  da_ctx ctx = a->ctx;
  const rank_plan *rp = &p->rp;
  bool nan = false;
  int rc = select_whole(a, p->again, rp->nrank, rp->rank, p->key, &nan);
  for (int64_t i = 0; !rc && i < rp->nq; i++)
    p->res[i] = nan ? NAN : result_of(p, p->key, i);
  float r32 = (float)p->res[0]; /* a median: one value */
  int ndim = 0;
  int64_t shape[DA_MAX_NDIM + 1];
  if (p->lead)
    shape[ndim++] = rp->nq;
  for (int d = 0; keepdims && d < a->ndim; d++)
    shape[ndim++] = 1;
  da_chunks whole = {0};
  for (int d = 0; d < ndim; d++)
    whole.size[d] = DA_CHUNK_WHOLE;
  if (!rc)
    rc = out_dtype(p) == DA_FLOAT32
             ? da_from_root(ctx, 0, ndim, shape, &whole, DA_FLOAT32, &r32, sizeof r32, out)
             : da_from_root(ctx, 0, ndim, shape, &whole, DA_FLOAT64, p->res,
                            (size_t)rp->nq * sizeof *p->res, out);
  return rc;
}

/* Collective. The quantiles over some axes, lazily: the reduced axes moved last, made whole
 * and merged into one lane axis, then each block's lanes selected in place. Takes p. */
static int quantile_lanes(da_array a, lane_params *p, const bool red[], int keepdims,
                          da_array *out) {
  int nd = a->ndim, perm[DA_MAX_NDIM], nk = 0, nr = 0, pos[DA_MAX_NDIM];
  int64_t shape[DA_MAX_NDIM];
  da_chunks ck = {0};
  for (int d = 0; d < nd; d++)
    if (!red[d]) {
      ck.list[nk] = a->chunks[d], ck.nlist[nk] = a->numblocks[d];
      shape[nk] = a->shape[d];
      perm[nk++] = d;
    }
  for (int d = 0; d < nd; d++)
    if (red[d]) {
      ck.size[nk + nr] = DA_CHUNK_WHOLE;
      pos[nr] = d + (p->lead ? 1 : 0);
      perm[nk + nr++] = d;
    }
  shape[nk] = p->m;
  da_map_out mo = {.ndim = nk + (p->lead ? 1 : 0)};
  int o = 0;
  if (p->lead)
    mo.src[o] = -1, mo.size[o++] = p->rp.nq;
  for (int d = 0; d < nk; d++)
    mo.src[o++] = d;
  da_array t = NULL, w = NULL, l = NULL, y = NULL;
  int rc = da_transpose(a, perm, &t);
  if (!rc)
    rc = da_rechunk(t, &ck, &w);
  if (!rc)
    rc = da_reshape(w, nk + 1, shape, &l);
  if (!rc) {
    rc = da_map_blocks_halo(lane_block, p, lane_params_free, 1, &l, NULL, out_dtype(p), &mo, &y);
    p = NULL; /* the node owns it now, or freed it */
  }
  lane_params_free(p);
  if (!rc && keepdims)
    rc = da_expand_dims(y, nr, pos, out);
  else if (!rc)
    *out = y, y = NULL;
  da_array_destroy(&t);
  da_array_destroy(&w);
  da_array_destroy(&l);
  da_array_destroy(&y);
  return rc;
}

/* The checks every entry point shares: q (scaled by 1/scale first, as NumPy divides
 * percentiles by 100) into qs[], and the array's size. */
static int check_q(da_ctx ctx, const char *op, da_array a, int64_t nq, const double q[],
                   double scale, double **qs) {
  *qs = NULL;
  if (nq < 1)
    return DA_ERR(ctx, DA_ERR_ARG, "%s: %lld quantiles asked for, at least 1 needed", op,
                  (long long)nq);
  if (!q)
    return DA_ERR(ctx, DA_ERR_ARG, "%s: q is NULL", op);
  if (nq > ((int64_t)1 << 24))
    return DA_ERR(ctx, DA_ERR_ARG, "%s: %lld quantiles asked for, at most 2^24 supported", op,
                  (long long)nq);
  if (a->size == 0)
    return DA_ERR(ctx, DA_ERR_ARG, "%s: the array is empty", op);
  if (!(*qs = malloc((size_t)nq * sizeof **qs)))
    return DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate", op);
  for (int64_t i = 0; i < nq; i++) {
    (*qs)[i] = scale == 1 ? q[i] : q[i] / scale;
    if (!((*qs)[i] >= 0 && (*qs)[i] <= 1)) {
      free(*qs);
      *qs = NULL;
      return DA_ERR(ctx, DA_ERR_ARG, "%s: q[%lld] = %g is outside [0, %g]", op, (long long)i, q[i],
                    scale);
    }
  }
  return DA_OK;
}

static int quantile(da_array a, int64_t nq, const double q[], double scale, bool lead, int naxes,
                    const int axes[], int keepdims, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  const char *op = !lead ? "median" : scale == 1 ? "quantile" : "percentile";
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "%s: out is NULL", op));
  *out = NULL;
  bool red[DA_MAX_NDIM] = {0}, all = true;
  double *qs = NULL;
  lane_params *p = NULL;
  int rc = reduced_axes(ctx, a->ndim, naxes, axes, red);
  if (!rc)
    rc = check_q(ctx, op, a, nq, q, scale, &qs);
  if (!rc && keepdims && lead && a->ndim + 1 > DA_MAX_NDIM)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "%s: the result would have %d axes (at most %d)", op,
                a->ndim + 1, DA_MAX_NDIM);
  int64_t m = 1;
  for (int d = 0; d < a->ndim; d++) {
    all = all && red[d];
    m *= red[d] ? a->shape[d] : 1;
  }
  if (!rc && !(p = calloc(1, sizeof *p)))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate", op);
  if (!rc) {
    *p = (lane_params){.dt = a->dtype, .lead = lead, .m = m};
    rc = rank_plan_make(ctx, m, nq, qs, &p->rp);
  }
  if (!rc && all) {
    p->key = malloc((size_t)p->rp.nrank * sizeof *p->key);
    p->res = malloc((size_t)nq * sizeof *p->res);
    if (!p->key || !p->res)
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate", op);
    if (!rc && !a->materialized)
      rc = cheap_again(a, &p->again);
  }
  free(qs);
  rc = da_agree(ctx, rc);
  if (rc) {
    lane_params_free(p);
    return rc;
  }
  if (!all)
    return quantile_lanes(a, p, red, keepdims, out);
  rc = quantile_whole(a, p, keepdims, out);
  lane_params_free(p);
  return rc;
}

int da_quantile(da_array a, int64_t nq, const double q[], int naxes, const int axes[], int keepdims,
                da_array *out) {
  return quantile(a, nq, q, 1, true, naxes, axes, keepdims, out);
}

int da_percentile(da_array a, int64_t nq, const double q[], int naxes, const int axes[],
                  int keepdims, da_array *out) {
  return quantile(a, nq, q, 100, true, naxes, axes, keepdims, out);
}

int da_median(da_array a, int naxes, const int axes[], int keepdims, da_array *out) {
  const double half = 0.5;
  return quantile(a, 1, &half, 1, false, naxes, axes, keepdims, out);
}

/* ---------------------------------------------------------------- approximate quantiles */

#define APPROX_BINS 65536

static void range_fold(pass_state *s, const double *x, int64_t n) {
  double lo = s->lo, hi = s->hi;
  int64_t neg = 0, pos = 0, nan = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    bool fin = v - v == 0;
    lo = fin && v < lo ? v : lo;
    hi = fin && v > hi ? v : hi;
    neg += v == -INFINITY;
    pos += v == INFINITY;
    nan += v != v;
  }
  s->lo = lo, s->hi = hi;
  s->special[0] += neg, s->special[1] += pos, s->special[2] += nan;
}

static void bin_flush(pass_state *s) {
  for (int64_t j = 0; j < APPROX_BINS; j++)
    s->h[j] += s->h32[j];
  memset(s->h32, 0, APPROX_BINS * sizeof *s->h32);
  s->n32 = 0;
}

/* The bin of each finite value, by arithmetic corrected against the edges lo + j * step (as
 * NumPy's histogram corrects it), so edges[j] <= v < edges[j + 1] (the last bin closed)
 * holds exactly. */
static void bin_fold(pass_state *s, const double *x, int64_t n) {
  const double lo = s->lo, hi = s->hi, norm = s->norm, step = s->step;
  const int64_t last = APPROX_BINS - 1;
  for (int64_t at = 0; at < n; at += (int64_t)1 << 30) {
    int64_t cnt = n - at < ((int64_t)1 << 30) ? n - at : (int64_t)1 << 30;
    if (s->n32 + cnt > (int64_t)UINT32_MAX)
      bin_flush(s);
    s->n32 += cnt;
    uint32_t *h = s->h32;
    for (int64_t i = at; i < at + cnt; i++) {
      double v = x[i];
      if (!(v >= lo && v <= hi))
        continue;
      int64_t j = (int64_t)((v - lo) * norm);
      j = j > last ? last : j;
      j -= v < lo + (double)j * step;
      j += j < last && v >= lo + (double)(j + 1) * step;
      h[j]++;
    }
  }
}

/* An order statistic's estimate and the most it can be off: the f-th finite value lies in
 * the bin whose counts span f, so between that bin's edges. */
static void bin_estimate(const int64_t *h, const double *e, int64_t f, double *value,
                         double *bound) {
  int64_t at = 0, j = 0;
  while (j < APPROX_BINS - 1 && f >= at + h[j])
    at += h[j++];
  double lo = e[j], hi = e[j + 1];
  /* as if the bin's values were spread evenly over it */
  double v = lo + (hi - lo) * (((double)(f - at) + 0.5) / (double)h[j]);
  v = v < lo ? lo : v > hi ? hi : v;
  *value = v;
  *bound = fmax(v - lo, hi - v);
}

int da_quantile_approx(da_array a, int64_t nq, const double q[], double values[], double bounds[]) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  const char *op = "quantile_approx";
  double *qs = NULL;
  int rc = !values || !bounds ? DA_ERR(ctx, DA_ERR_ARG, "%s: values or bounds is NULL", op)
                              : check_q(ctx, op, a, nq, q, 1, &qs);
  DA_TRY(da_agree(ctx, rc));
  da_array x = NULL;
  pass_state st = {.kind = PASS_RANGE, .lo = INFINITY, .hi = -INFINITY};
  st.h = calloc(APPROX_BINS, sizeof *st.h);
  st.h32 = calloc(APPROX_BINS, sizeof *st.h32);
  double *edges = malloc((APPROX_BINS + 1) * sizeof *edges);
  rc = st.h && st.h32 && edges ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate", op);
  rc = da_agree(ctx, rc);
  /* Pass 1: the finite range and the infinities and NaN. */
  if (!rc)
    rc = da_astype(a, DA_FLOAT64, &x);
  if (!rc)
    rc = pass(x, &st);
  double mm[2] = {st.lo, -st.hi};
  if (!rc)
    rc = da_allreduce_traced(ctx, mm, 2, MPI_DOUBLE, MPI_MIN, "quantile counts");
  if (!rc)
    rc = da_allreduce_traced(ctx, st.special, 3, MPI_INT64_T, MPI_SUM, "quantile counts");
  st.lo = mm[0], st.hi = -mm[1];
  int64_t n = a->size, nneg = st.special[0], nfin = n - nneg - st.special[1];
  bool nan = st.special[2] > 0, binned = !nan && nfin > 0 && st.lo < st.hi;
  /* Pass 2: equal bins over the finite range. */
  if (!rc && binned) {
    st.step = (st.hi - st.lo) / APPROX_BINS;
    for (int64_t j = 0; j < APPROX_BINS; j++)
      edges[j] = st.lo + (double)j * st.step;
    edges[APPROX_BINS] = st.hi;
    st.kind = PASS_BIN, st.norm = APPROX_BINS / (st.hi - st.lo);
    rc = pass(x, &st);
    bin_flush(&st);
    if (!rc)
      rc = da_allreduce_traced(ctx, st.h, APPROX_BINS, MPI_INT64_T, MPI_SUM, "quantile counts");
  }
  /* NumPy's interpolation rounds (float32's b - a to float32), and so does ours. */
  double eps = a->dtype == DA_FLOAT32 ? FLT_EPSILON : DBL_EPSILON;
  double slack = 8 * eps * fmax(fabs(st.lo), fabs(st.hi));
  for (int64_t i = 0; !rc && i < nq; i++) {
    if (nan) {
      values[i] = bounds[i] = NAN;
      continue;
    }
    int64_t rk[2];
    double t, v[2], bd[2];
    virtual_index(n, qs[i], &rk[0], &rk[1], &t);
    for (int s = 0; s < 2; s++) {
      int64_t f = rk[s] - nneg;
      bd[s] = 0;
      if (f < 0)
        v[s] = -INFINITY;
      else if (f >= nfin)
        v[s] = INFINITY;
      else if (f == 0 || !binned)
        v[s] = st.lo;
      else if (f == nfin - 1)
        v[s] = st.hi;
      else
        bin_estimate(st.h, edges, f, &v[s], &bd[s]);
    }
    values[i] = lerp_f64(key_f64(v[0]), key_f64(v[1]), t);
    /* An infinite statistic decides the result alone, as it does NumPy's. */
    if (isinf(v[0]) || isinf(v[1]))
      bounds[i] = 0;
    else if (!isfinite(values[i]))
      bounds[i] = INFINITY;
    else
      bounds[i] = nextafter(fmax(bd[0], bd[1]) + slack, INFINITY);
  }
  da_array_destroy(&x);
  free(st.h);
  free(st.h32);
  free(edges);
  free(qs);
  return rc;
}
