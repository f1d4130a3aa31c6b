/* Sorting: keys whose unsigned order is NumPy's order, a stable local sort of them (radix for
 * large runs), the distributed sample sort of 1-D arrays (splitters by exact selection, each
 * element sent once) and the sort of every lane along an axis of an n-D array. */
#include "ops/sort.h"

#include "diag/diag.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- order keys */

/* Signed integers flip their sign bit; unsigned ones are their own keys. */
#define INT_KEY_FUNCS(sfx, T, UT, SIGN)                                                            \
  static void keys_##sfx(const void *in, int64_t n, bool zero_equal, uint64_t *k) {                \
    (void)zero_equal;                                                                              \
    const T *x = in;                                                                               \
    for (int64_t i = 0; i < n; i++)                                                                \
      k[i] = (UT)((UT)x[i] ^ (UT)(SIGN));                                                          \
  }                                                                                                \
  static void values_##sfx(const uint64_t *k, int64_t n, void *out) {                              \
    T *y = out;                                                                                    \
    for (int64_t i = 0; i < n; i++)                                                                \
      y[i] = (T)(UT)((UT)k[i] ^ (UT)(SIGN));                                                       \
  }
INT_KEY_FUNCS(i8, int8_t, uint8_t, 0x80)
INT_KEY_FUNCS(i16, int16_t, uint16_t, 0x8000)
INT_KEY_FUNCS(i32, int32_t, uint32_t, 0x80000000u)
INT_KEY_FUNCS(i64, int64_t, uint64_t, 0x8000000000000000u)
INT_KEY_FUNCS(u8, uint8_t, uint8_t, 0)
INT_KEY_FUNCS(u16, uint16_t, uint16_t, 0)
INT_KEY_FUNCS(u32, uint32_t, uint32_t, 0)
INT_KEY_FUNCS(u64, uint64_t, uint64_t, 0)

static void keys_bool(const void *in, int64_t n, bool zero_equal, uint64_t *k) {
  (void)zero_equal;
  const uint8_t *x = in;
  for (int64_t i = 0; i < n; i++)
    k[i] = x[i] != 0;
}
static void values_bool(const uint64_t *k, int64_t n, void *out) {
  uint8_t *y = out;
  for (int64_t i = 0; i < n; i++)
    y[i] = k[i] != 0;
}

/* IEEE floats: negative ones flip every bit, the others their sign bit, so the bits order
 * as the values; every NaN becomes the default quiet NaN (above +inf). */
#define FLOAT_KEY_FUNCS(sfx, T, UT, QNAN)                                                          \
  static inline uint64_t key_##sfx(T v, bool zero_equal) {                                         \
    const UT top = (UT)1 << (8 * sizeof(UT) - 1);                                                  \
    UT b;                                                                                          \
    memcpy(&b, &v, sizeof b);                                                                      \
    if (v != v)                                                                                    \
      b = QNAN;                                                                                    \
    else if (zero_equal && v == 0)                                                                 \
      b = 0;                                                                                       \
    return (UT)(b ^ ((b & top) ? (UT) ~(UT)0 : top));                                              \
  }                                                                                                \
  static void keys_##sfx(const void *in, int64_t n, bool zero_equal, uint64_t *k) {                \
    const T *x = in;                                                                               \
    for (int64_t i = 0; i < n; i++)                                                                \
      k[i] = key_##sfx(x[i], zero_equal);                                                          \
  }                                                                                                \
  static void values_##sfx(const uint64_t *k, int64_t n, void *out) {                              \
    const UT top = (UT)1 << (8 * sizeof(UT) - 1);                                                  \
    T *y = out;                                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                              \
      UT b = (UT)k[i];                                                                             \
      b = (b & top) ? (UT)(b ^ top) : (UT)~b;                                                      \
      memcpy(&y[i], &b, sizeof b);                                                                 \
    }                                                                                              \
  }
FLOAT_KEY_FUNCS(f32, float, uint32_t, 0x7fc00000u)
FLOAT_KEY_FUNCS(f64, double, uint64_t, 0x7ff8000000000000u)

typedef struct {
  void (*keys)(const void *in, int64_t n, bool zero_equal, uint64_t *k);
  void (*values)(const uint64_t *k, int64_t n, void *out);
  int bits; /* the key's significant bits */
} key_ops;

static const key_ops key_table[DA_NDTYPES] = {
    [DA_BOOL] = {keys_bool, values_bool, 8},   [DA_INT8] = {keys_i8, values_i8, 8},
    [DA_INT16] = {keys_i16, values_i16, 16},   [DA_INT32] = {keys_i32, values_i32, 32},
    [DA_INT64] = {keys_i64, values_i64, 64},   [DA_UINT8] = {keys_u8, values_u8, 8},
    [DA_UINT16] = {keys_u16, values_u16, 16},  [DA_UINT32] = {keys_u32, values_u32, 32},
    [DA_UINT64] = {keys_u64, values_u64, 64},  [DA_FLOAT32] = {keys_f32, values_f32, 32},
    [DA_FLOAT64] = {keys_f64, values_f64, 64},
};

void da_sort_keys(da_dtype dt, const void *in, int64_t n, bool zero_equal, uint64_t *keys) {
  key_table[dt].keys(in, n, zero_equal, keys);
}

void da_sort_values(da_dtype dt, const uint64_t *keys, int64_t n, void *out) {
  key_table[dt].values(keys, n, out);
}

uint64_t da_sort_key_f64(double v, bool zero_equal) {
  return key_f64(v, zero_equal);
}

/* ---------------------------------------------------------------- local sort */

/* A key with its index (argsort); pairs order by key, then index. */
typedef struct {
  uint64_t k;
  int64_t i;
} key_pair;

#define SMALL_SORT 16   /* insertion sort up to here */
#define MERGE_SORT 2048 /* merge sort up to here, radix sort beyond */
/* 8-bit digits: on memory-bound passes they beat 11-bit ones, fewer passes notwithstanding. */
#define RADIX_BITS 8
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1)
#define RADIX_DIGITS 8
/* Counts digit d of key k when d < nd; with nd a constant the counting loop unrolls, which
 * keeps the increments of the digits independent of each other. */
#define RADIX_DIGIT(c, k, d, nd)                                                                   \
  if ((d) < (nd))                                                                                  \
  (c)[(d)*RADIX_SIZE + (int)(((k) >> ((d)*RADIX_BITS)) & RADIX_MASK)]++
#define RADIX_COUNT(KEY, a, n, c, nd)                                                              \
  for (int64_t i_ = 0; i_ < (n); i_++) {                                                           \
    uint64_t k_ = KEY((a)[i_]);                                                                    \
    RADIX_DIGIT(c, k_, 0, nd);                                                                     \
    RADIX_DIGIT(c, k_, 1, nd);                                                                     \
    RADIX_DIGIT(c, k_, 2, nd);                                                                     \
    RADIX_DIGIT(c, k_, 3, nd);                                                                     \
    RADIX_DIGIT(c, k_, 4, nd);                                                                     \
    RADIX_DIGIT(c, k_, 5, nd);                                                                     \
    RADIX_DIGIT(c, k_, 6, nd);                                                                     \
    RADIX_DIGIT(c, k_, 7, nd);                                                                     \
  }

#define KEY_U64(x) (x)
#define LESS_U64(x, y) ((x) < (y))
#define KEY_PAIR(x) ((x).k)
#define LESS_PAIR(x, y) ((x).k < (y).k || ((x).k == (y).k && (x).i < (y).i))

/* Stable sorts of one element type: each returns the buffer holding the result (a or tmp,
 * both n long); kbits is the number of low key bits that may vary. */
#define SORT_FUNCS(sfx, T, KEY, LESS)                                                              \
  static void insertion_##sfx(T *a, int64_t n) {                                                   \
    for (int64_t i = 1; i < n; i++) {                                                              \
      T v = a[i];                                                                                  \
      int64_t j = i;                                                                               \
      for (; j > 0 && LESS(v, a[j - 1]); j--)                                                      \
        a[j] = a[j - 1];                                                                           \
      a[j] = v;                                                                                    \
    }                                                                                              \
  }                                                                                                \
  /* x and y merged into out, x's elements first among equal ones. */                              \
  static void merge2_##sfx(const T *x, int64_t nx, const T *y, int64_t ny, T *out) {               \
    int64_t i = 0, j = 0, o = 0;                                                                   \
    while (i < nx && j < ny) { /* without branches: the outcome is a coin toss */                  \
      bool t = LESS(y[j], x[i]);                                                                   \
      out[o++] = t ? y[j] : x[i];                                                                  \
      j += t, i += !t;                                                                             \
    }                                                                                              \
    memcpy(out + o, x + i, (size_t)(nx - i) * sizeof(T));                                          \
    memcpy(out + o + nx - i, y + j, (size_t)(ny - j) * sizeof(T));                                 \
  }                                                                                                \
  /* The nr sorted runs lying one after another in a (lengths len[], overwritten) merged           \
   * pairwise, in rounds between a and tmp, until at most `left` runs remain; their number         \
   * in *nr. */                                                                                    \
  static T *merge_runs_##sfx(T *a, T *tmp, int64_t *len, int64_t *nr, int64_t left) {              \
    T *src = a, *dst = tmp;                                                                        \
    while (*nr > left) {                                                                           \
      int64_t at = 0, w = 0;                                                                       \
      for (int64_t r = 0; r < *nr; r += 2) {                                                       \
        int64_t l0 = len[r], l1 = r + 1 < *nr ? len[r + 1] : 0;                                    \
        if (r + 1 < *nr)                                                                           \
          merge2_##sfx(src + at, l0, src + at + l0, l1, dst + at);                                 \
        else                                                                                       \
          memcpy(dst + at, src + at, (size_t)l0 * sizeof(T));                                      \
        len[w++] = l0 + l1;                                                                        \
        at += l0 + l1;                                                                             \
      }                                                                                            \
      *nr = w;                                                                                     \
      T *t = src;                                                                                  \
      src = dst, dst = t;                                                                          \
    }                                                                                              \
    return src;                                                                                    \
  }                                                                                                \
  /* x and y merged as merge2 does, tile by tile, each tile handed to emit with its place in       \
   * the result: the last round of a merge writes the output directly. */                          \
  static void merge_emit_##sfx(const T *x, int64_t nx, const T *y, int64_t ny,                     \
                               void (*emit)(const T *t, int64_t cnt, int64_t at, void *ud),        \
                               void *ud) {                                                         \
    T tile[DA_TILE];                                                                               \
    int64_t i = 0, j = 0, at = 0;                                                                  \
    while (at < nx + ny) {                                                                         \
      int64_t c = 0;                                                                               \
      while (c < DA_TILE && i < nx && j < ny) {                                                    \
        bool t = LESS(y[j], x[i]);                                                                 \
        tile[c++] = t ? y[j] : x[i];                                                               \
        j += t, i += !t;                                                                           \
      }                                                                                            \
      while (c < DA_TILE && j == ny && i < nx)                                                     \
        tile[c++] = x[i++];                                                                        \
      while (c < DA_TILE && i == nx && j < ny)                                                     \
        tile[c++] = y[j++];                                                                        \
      emit(tile, c, at, ud);                                                                       \
      at += c;                                                                                     \
    }                                                                                              \
  }                                                                                                \
  /* LSD radix sort; digits that are the same in every key are skipped (one counting pass          \
   * finds them all). */                                                                           \
  static T *radix_##sfx(T *a, T *tmp, int64_t n, int kbits) {                                      \
    int64_t count[RADIX_DIGITS * RADIX_SIZE];                                                      \
    const int nd = kbits <= 8 ? 1 : kbits <= 16 ? 2 : kbits <= 32 ? 4 : 8;                         \
    memset(count, 0, (size_t)nd *RADIX_SIZE * sizeof *count);                                      \
    switch (nd) {                                                                                  \
    case 1:                                                                                        \
      RADIX_COUNT(KEY, a, n, count, 1);                                                            \
      break;                                                                                       \
    case 2:                                                                                        \
      RADIX_COUNT(KEY, a, n, count, 2);                                                            \
      break;                                                                                       \
    case 4:                                                                                        \
      RADIX_COUNT(KEY, a, n, count, 4);                                                            \
      break;                                                                                       \
    default:                                                                                       \
      RADIX_COUNT(KEY, a, n, count, 8);                                                            \
    }                                                                                              \
    const uint64_t k0 = KEY(a[0]);                                                                 \
    T *src = a, *dst = tmp;                                                                        \
    for (int d = 0; d < nd; d++) {                                                                 \
      int64_t *c = count + d * RADIX_SIZE;                                                         \
      const int sh = d * RADIX_BITS;                                                               \
      if (c[(k0 >> sh) & RADIX_MASK] == n)                                                         \
        continue;                                                                                  \
      int64_t sum = 0;                                                                             \
      for (int v = 0; v < RADIX_SIZE; v++) {                                                       \
        int64_t t = c[v];                                                                          \
        c[v] = sum;                                                                                \
        sum += t;                                                                                  \
      }                                                                                            \
      for (int64_t i = 0; i < n; i++) {                                                            \
        T e = src[i];                                                                              \
        dst[c[(KEY(e) >> sh) & RADIX_MASK]++] = e;                                                 \
      }                                                                                            \
      T *t = src;                                                                                  \
      src = dst, dst = t;                                                                          \
    }                                                                                              \
    return src;                                                                                    \
  }                                                                                                \
  static T *sort_##sfx(T *a, T *tmp, int64_t n, int kbits) {                                       \
    if (n <= SMALL_SORT) {                                                                         \
      insertion_##sfx(a, n);                                                                       \
      return a;                                                                                    \
    }                                                                                              \
    if (n > MERGE_SORT)                                                                            \
      return radix_##sfx(a, tmp, n, kbits);                                                        \
    int64_t len[MERGE_SORT / SMALL_SORT + 1], nr = 0;                                              \
    for (int64_t at = 0; at < n; at += SMALL_SORT) {                                               \
      len[nr] = n - at < SMALL_SORT ? n - at : SMALL_SORT;                                         \
      insertion_##sfx(a + at, len[nr++]);                                                          \
    }                                                                                              \
    return merge_runs_##sfx(a, tmp, len, &nr, 1);                                                  \
  }

SORT_FUNCS(u64, uint64_t, KEY_U64, LESS_U64)
SORT_FUNCS(pairs, key_pair, KEY_PAIR, LESS_PAIR)

uint64_t *da_sort_u64(uint64_t *keys, uint64_t *tmp, int64_t n) {
  return sort_u64(keys, tmp, n, 64);
}

/* ---------------------------------------------------------------- 1-D: the sample sort */

void *da_work_alloc(da_ctx ctx, size_t bytes) {
  void *p = da_malloc(ctx, bytes);
  if (p)
    da_mem_add(ctx, (int64_t)bytes);
  return p;
}

void da_work_free(da_ctx ctx, void *p, size_t bytes) {
  if (p)
    da_mem_add(ctx, -(int64_t)bytes);
  free(p);
}

static inline uint64_t key_at(const void *buf, bool arg, int64_t i) {
  return arg ? ((const key_pair *)buf)[i].k : ((const uint64_t *)buf)[i];
}

/* The first position in [lo, hi) whose key is >= v (keys ascending). */
static int64_t lower_key(const void *buf, bool arg, int64_t lo, int64_t hi, uint64_t v) {
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (key_at(buf, arg, mid) < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The first position in [lo, hi) whose index is >= v (indices ascending there). */
static int64_t lower_index(const key_pair *p, int64_t lo, int64_t hi, int64_t v) {
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p[mid].i < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

#define MPI_TRY(ctx, call, what)                                                                   \
  ((call) == MPI_SUCCESS ? DA_OK : DA_ERR((ctx), DA_ERR_MPI, "%s failed", (what)))

/* This rank's sorted run: n keys (or pairs) in buf, and the sort's other buffer, spare, of
 * the same bytes, kept to receive into: first touches of fresh pages cost about as much as
 * a radix pass. */
typedef struct {
  void *buf, *spare;
  int64_t n;
  size_t bytes;
} sorted_run;

static void run_free(da_ctx ctx, sorted_run *r) {
  da_work_free(ctx, r->buf, r->bytes);
  da_work_free(ctx, r->spare, r->bytes);
  r->buf = r->spare = NULL;
}

/* This rank's elements of 1-D a as keys (arg: pairs with their global indices), sorted.
 * Local blocks come in ascending block order, so the elements start in global index order
 * and the stable sort orders equal keys by index. */
static int local_sorted(da_array a, bool arg, sorted_run *run) {
  da_ctx ctx = a->ctx;
  const key_ops *ko = &key_table[a->dtype];
  const size_t esz = arg ? sizeof(key_pair) : sizeof(uint64_t);
  bool ran = !a->materialized;
  DA_TRY(da_schedule(a));
  double t0 = da_trace_now(ctx); /* eager work outside the scheduler, traced here */
  int64_t n = 0;
  for (int64_t k = 0; k < a->nlocal; k++)
    n += da_block_size_of(a, da_block_global_index(a, k));
  size_t bytes = (size_t)n * esz;
  void *buf = da_work_alloc(ctx, bytes), *tmp = da_work_alloc(ctx, bytes);
  int rc = buf && tmp ? DA_OK : DA_ERR_NOMEM;
  for (int64_t k = 0, at = 0; k < a->nlocal && !rc; k++) {
    int64_t b = da_block_global_index(a, k), m = da_block_size_of(a, b);
    const char *blk = a->lblocks[k];
    if (!arg) {
      ko->keys(blk, m, false, (uint64_t *)buf + at);
    } else {
      uint64_t kt[DA_TILE];
      key_pair *p = (key_pair *)buf + at;
      for (int64_t s = 0; s < m; s += DA_TILE) {
        int64_t c = m - s < DA_TILE ? m - s : DA_TILE;
        ko->keys(blk + (size_t)s * a->elsize, c, true, kt);
        for (int64_t t = 0; t < c; t++)
          p[s + t] = (key_pair){kt[t], a->offsets[0][b] + s + t};
      }
    }
    at += m;
  }
  if (ran)
    da_drop_blocks(a);
  if (!rc) {
    void *s =
        arg ? (void *)sort_pairs(buf, tmp, n, ko->bits) : (void *)sort_u64(buf, tmp, n, ko->bits);
    if (s != buf)
      tmp = buf, buf = s;
  }
  *run = (sorted_run){buf, tmp, n, bytes};
  if (rc)
    run_free(ctx, run);
  da_trace_event(ctx, DA_EV_COMPUTE, "sort-keys", -1, -1, 0, t0);
  return rc;
}

/* cut[j] for 0 <= j <= nb: where output block j starts in this rank's sorted run (buf, n
 * long), so that the pieces [cut[j], cut[j + 1]) of all ranks make block j. The element of
 * global sorted position off[j] is found by bisection, first over keys, then (argsort) over
 * indices among its equal keys; every round counts locally and sums the counts of all
 * boundaries in one allreduce, so every rank takes the same steps. For sort, equal keys are
 * equal values, so the ranks split a run of them in rank order instead. */
static int find_cuts(da_array a, bool arg, const void *buf, int64_t n, int64_t *cut) {
  da_ctx ctx = a->ctx;
  const int64_t total = a->size, nb = a->numblocks[0], *off = a->offsets[0];
  int rc = DA_OK;
  uint64_t ext[2] = {n ? key_at(buf, arg, 0) : UINT64_MAX,
                     n ? ~key_at(buf, arg, n - 1) : UINT64_MAX};
  rc = MPI_TRY(ctx, MPI_Allreduce(MPI_IN_PLACE, ext, 2, MPI_UINT64_T, MPI_MIN, ctx->comm),
               "MPI_Allreduce");
  DA_TRY(da_agree(ctx, rc));
  /* Per active boundary q: its block j, position, bounds, lower and upper local ends. */
  int64_t *j = malloc((size_t)nb * sizeof *j), *pos = malloc((size_t)nb * sizeof *pos);
  uint64_t *lo = malloc((size_t)nb * sizeof *lo), *hi = malloc((size_t)nb * sizeof *hi);
  int64_t *cnt = malloc((size_t)nb * 2 * sizeof *cnt), *lb = malloc((size_t)nb * sizeof *lb);
  int64_t *ub = malloc((size_t)nb * sizeof *ub);
  if (!j || !pos || !lo || !hi || !cnt || !lb || !ub)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %lld splitters", (long long)nb);
  rc = da_agree(ctx, rc);
  int64_t na = 0;
  cut[0] = 0, cut[nb] = n;
  for (int64_t b = 1; b < nb && !rc; b++) {
    if (off[b] <= 0 || off[b] >= total) {
      cut[b] = off[b] <= 0 ? 0 : n;
      continue;
    }
    j[na] = b, pos[na] = off[b], lo[na] = ext[0], hi[na] = ~ext[1];
    na++;
  }
  /* The key at each position: the largest k with at most pos keys below it. lb and ub
   * follow lo and hi: the local counts of keys below lo and below hi + 1, so each search
   * runs in a range that shrinks with the bounds and ends on the run of equal keys. */
  for (int64_t q = 0; q < na; q++)
    lb[q] = 0, ub[q] = n;
  while (!rc) {
    int m = 0;
    for (int64_t q = 0; q < na; q++)
      if (lo[q] < hi[q]) {
        uint64_t mid = lo[q] + (hi[q] - lo[q]) / 2 + ((hi[q] - lo[q]) & 1);
        cnt[m++] = lower_key(buf, arg, lb[q], ub[q], mid);
      }
    if (m == 0)
      break;
    int64_t *loc = cnt + m; /* the local counts, kept past the sum */
    memcpy(loc, cnt, (size_t)m * sizeof *cnt);
    rc = MPI_TRY(ctx, MPI_Allreduce(MPI_IN_PLACE, cnt, m, MPI_INT64_T, MPI_SUM, ctx->comm),
                 "MPI_Allreduce");
    m = 0;
    for (int64_t q = 0; q < na && !rc; q++)
      if (lo[q] < hi[q]) {
        uint64_t mid = lo[q] + (hi[q] - lo[q]) / 2 + ((hi[q] - lo[q]) & 1);
        if (cnt[m] <= pos[q])
          lo[q] = mid, lb[q] = loc[m];
        else
          hi[q] = mid - 1, ub[q] = loc[m];
        m++;
      }
  }
  /* How many of the keys equal to it come before the position: pos - (keys below it). */
  for (int64_t q = 0; q < na && !rc; q++)
    cnt[q] = lb[q];
  if (!rc && na)
    rc = MPI_TRY(ctx, MPI_Allreduce(MPI_IN_PLACE, cnt, (int)na, MPI_INT64_T, MPI_SUM, ctx->comm),
                 "MPI_Allreduce");
  for (int64_t q = 0; q < na && !rc; q++)
    pos[q] -= cnt[q];
  if (!rc && !arg) {
    /* Equal values in rank order: this rank's share starts after the lower ranks'. */
    for (int64_t q = 0; q < na; q++)
      cnt[q] = ub[q] - lb[q];
    int64_t *before = (int64_t *)lo; /* lo is spent */
    if (na)
      rc = MPI_TRY(ctx, MPI_Exscan(cnt, before, (int)na, MPI_INT64_T, MPI_SUM, ctx->comm),
                   "MPI_Exscan");
    for (int64_t q = 0; q < na && !rc; q++) {
      int64_t take_n = pos[q] - (ctx->rank ? before[q] : 0);
      take_n = take_n < 0 ? 0 : take_n > cnt[q] ? cnt[q] : take_n;
      cut[j[q]] = lb[q] + take_n;
    }
  } else if (!rc) {
    /* Equal keys in index order: the largest index with pos of them below it. */
    const key_pair *p = buf;
    int64_t *ilo = (int64_t *)lo, *ihi = (int64_t *)hi;
    for (int64_t q = 0; q < na; q++)
      ilo[q] = 0, ihi[q] = pos[q] > 0 ? total - 1 : 0;
    while (!rc) {
      int m = 0;
      for (int64_t q = 0; q < na; q++)
        if (ilo[q] < ihi[q])
          cnt[m++] = lower_index(p, lb[q], ub[q], ilo[q] + (ihi[q] - ilo[q] + 1) / 2) - lb[q];
      if (m == 0)
        break;
      rc = MPI_TRY(ctx, MPI_Allreduce(MPI_IN_PLACE, cnt, m, MPI_INT64_T, MPI_SUM, ctx->comm),
                   "MPI_Allreduce");
      m = 0;
      for (int64_t q = 0; q < na && !rc; q++)
        if (ilo[q] < ihi[q]) {
          int64_t mid = ilo[q] + (ihi[q] - ilo[q] + 1) / 2;
          if (cnt[m++] <= pos[q])
            ilo[q] = mid;
          else
            ihi[q] = mid - 1;
        }
    }
    for (int64_t q = 0; q < na && !rc; q++)
      cut[j[q]] = lower_index(p, lb[q], ub[q], ilo[q]);
  }
  free(j);
  free(pos);
  free(lo);
  free(hi);
  free(cnt);
  free(lb);
  free(ub);
  return da_agree(ctx, rc);
}

/* Where merged tiles go: values of dt, or indices. */
typedef struct {
  da_dtype dt;
  char *out;
  size_t es;
} emit_target;

static void emit_values(const uint64_t *t, int64_t cnt, int64_t at, void *ud) {
  const emit_target *tg = ud;
  da_sort_values(tg->dt, t, cnt, tg->out + (size_t)at * tg->es);
}

static void emit_indices(const key_pair *t, int64_t cnt, int64_t at, void *ud) {
  int64_t *y = (int64_t *)((const emit_target *)ud)->out + at;
  for (int64_t i = 0; i < cnt; i++)
    y[i] = t[i].i;
}

/* Sends each piece of the sorted run (buf, cut) to the owner of its output block and merges
 * the pieces each of this rank's blocks of o receives into it. */
static int exchange(da_array o, bool arg, sorted_run *run, const int64_t *cut, da_dtype dt) {
  da_ctx ctx = o->ctx;
  const int P = ctx->size, me = ctx->rank;
  const int64_t nb = o->numblocks[0], *ck = o->chunks[0];
  const size_t esz = arg ? sizeof(key_pair) : sizeof(uint64_t), oes = o->elsize;
  int rc = DA_OK;
  int *owner = malloc((size_t)nb * sizeof *owner);
  int *nown = calloc((size_t)P, sizeof *nown), *sdisp = malloc((size_t)P * sizeof *sdisp);
  int *fill = calloc((size_t)P, sizeof *fill), *rcnt = malloc((size_t)P * sizeof *rcnt);
  int *rdisp = malloc((size_t)P * sizeof *rdisp);
  int64_t *ssz = malloc((size_t)nb * sizeof *ssz), *rsz = NULL, *lens = NULL;
  MPI_Request *req = NULL;
  char *recv = NULL, *scr = NULL, *buf = run->buf;
  size_t recv_bytes = 0, scr_bytes = 0;
  int64_t mine = o->nlocal, sent = 0;
  double t0 = da_trace_now(ctx);
  if (!owner || !nown || !sdisp || !fill || !rcnt || !rdisp || !ssz)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the exchange plan");
  if (!rc && (int64_t)P * mine > INT_MAX)
    rc = DA_ERR(ctx, DA_ERR_OVERFLOW, "sort: too many blocks to exchange");
  else if (!rc && (!(rsz = malloc((size_t)(P * mine + 1) * sizeof *rsz)) ||
                   !(lens = malloc((size_t)P * sizeof *lens))))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the exchange plan");
  if (!rc) {
    for (int64_t b = 0; b < nb; b++)
      nown[owner[b] = da_block_owner_of(o, b)]++;
    for (int r = 0, s = 0; r < P; r++)
      sdisp[r] = s, s += nown[r], rcnt[r] = (int)mine, rdisp[r] = r * (int)mine;
    for (int64_t b = 0; b < nb; b++)
      ssz[sdisp[owner[b]] + fill[owner[b]]++] = cut[b + 1] - cut[b];
  }
  DA_TRY_GOTO(da_agree(ctx, rc), done);
  rc = MPI_TRY(
      ctx, MPI_Alltoallv(ssz, nown, sdisp, MPI_INT64_T, rsz, rcnt, rdisp, MPI_INT64_T, ctx->comm),
      "MPI_Alltoallv");
  /* The pieces of each local block lie in rank order in recv, the blocks one after another. */
  int64_t total = 0, biggest = 0, nmsg = 0;
  for (int64_t k = 0; k < mine && !rc; k++) {
    int64_t b = da_block_global_index(o, k), got = 0;
    for (int r = 0; r < P; r++) {
      got += rsz[r * mine + k];
      nmsg += r != me ? (int64_t)((size_t)rsz[r * mine + k] * esz >> 30) + 1 : 0;
    }
    if (got != ck[b])
      rc = DA_ERR(ctx, DA_ERR_INTERNAL, "sort: block %lld receives %lld elements, not %lld",
                  (long long)b, (long long)got, (long long)ck[b]);
    total += ck[b];
    biggest = ck[b] > biggest ? ck[b] : biggest;
  }
  for (int64_t b = 0; b < nb; b++)
    if (owner[b] != me)
      nmsg += (int64_t)((size_t)(cut[b + 1] - cut[b]) * esz >> 30) + 1;
  recv_bytes = (size_t)total * esz, scr_bytes = P > 2 ? (size_t)biggest * esz : 0;
  if (!rc && nmsg > INT_MAX)
    rc = DA_ERR(ctx, DA_ERR_OVERFLOW, "sort: too many messages");
  if (!rc) { /* the sort's spare buffer receives, grown if need be */
    recv = run->spare, run->spare = NULL;
    void *grown = recv_bytes > run->bytes ? realloc(recv, recv_bytes) : NULL;
    if (grown) {
      da_mem_add(ctx, (int64_t)(recv_bytes - run->bytes));
      recv = grown;
    } else {
      if (recv_bytes > run->bytes)
        rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %zu bytes", recv_bytes);
      recv_bytes = run->bytes;
    }
  }
  if (!rc &&
      (!(scr = da_work_alloc(ctx, scr_bytes)) || !(req = malloc((size_t)(nmsg + 1) * sizeof *req))))
    rc = DA_ERR_NOMEM;
  if (!rc && !(o->lblocks = calloc((size_t)(mine ? mine : 1), sizeof(void *))))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the block table");
  DA_TRY_GOTO(da_agree(ctx, rc), done);
  /* Messages between two ranks go in ascending block order on both sides, so MPI's
   * non-overtaking rule matches them; the request array is large enough not to grow. */
  int tag = da_next_tag(ctx), nreq = 0, cap = (int)nmsg + 1;
  for (int64_t k = 0, at = 0; k < mine && !rc; k++) {
    int64_t b = da_block_global_index(o, k);
    for (int r = 0; r < P && !rc; r++) {
      int64_t m = rsz[r * mine + k];
      if (r == me)
        memcpy(recv + at * (int64_t)esz, buf + cut[b] * (int64_t)esz, (size_t)m * esz);
      else if (m > 0)
        rc = da_recv_bytes(ctx, recv + at * (int64_t)esz, (size_t)m * esz, r, tag, &req, &nreq,
                           &cap);
      at += m;
    }
  }
  for (int64_t b = 0; b < nb && !rc; b++)
    if (owner[b] != me && cut[b + 1] > cut[b]) {
      rc = da_send_bytes(ctx, buf + cut[b] * (int64_t)esz, (size_t)(cut[b + 1] - cut[b]) * esz,
                         owner[b], tag, &req, &nreq, &cap);
      sent += cut[b + 1] - cut[b];
    }
  if (nreq && MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS && !rc)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Waitall failed");
  DA_TRY_GOTO(da_agree(ctx, rc), done);
  da_trace_event(ctx, DA_EV_COMM, "sort exchange", -1, -1, sent * (int64_t)esz, t0);
  t0 = da_trace_now(ctx);
  da_work_free(ctx, run->buf, run->bytes);
  run->buf = NULL;
  /* Each block: its runs merged, then turned into values or indices. */
  for (int64_t k = 0, at = 0; k < mine && !rc; k++) {
    int64_t b = da_block_global_index(o, k), m = ck[b], nr = 0;
    char *blk = o->lblocks[k] = da_malloc(ctx, (size_t)m * oes);
    if (!blk) {
      rc = DA_ERR_NOMEM;
      break;
    }
    da_array_hold(o, (int64_t)((size_t)m * oes));
    for (int r = 0; r < P; r++)
      if (rsz[r * mine + k] > 0)
        lens[nr++] = rsz[r * mine + k];
    char *run = recv + at * (int64_t)esz;
    emit_target tg = {dt, blk, oes};
    if (!arg) {
      uint64_t *s = merge_runs_u64((uint64_t *)run, (uint64_t *)scr, lens, &nr, 2);
      merge_emit_u64(s, nr ? lens[0] : 0, s + (nr ? lens[0] : 0), nr > 1 ? lens[1] : 0, emit_values,
                     &tg);
    } else {
      key_pair *s = merge_runs_pairs((key_pair *)run, (key_pair *)scr, lens, &nr, 2);
      merge_emit_pairs(s, nr ? lens[0] : 0, s + (nr ? lens[0] : 0), nr > 1 ? lens[1] : 0,
                       emit_indices, &tg);
    }
    at += m;
  }
  da_trace_event(ctx, DA_EV_COMPUTE, "sort-merge", -1, -1, 0, t0);
  rc = da_agree_traced(ctx, rc);
done:
  da_work_free(ctx, recv, recv_bytes);
  da_work_free(ctx, scr, scr_bytes);
  free(owner);
  free(nown);
  free(sdisp);
  free(fill);
  free(rcnt);
  free(rdisp);
  free(ssz);
  free(rsz);
  free(lens);
  free(req);
  return rc;
}

static int sort_flat(da_array a, bool arg, da_array *out) {
  da_ctx ctx = a->ctx;
  const int64_t nb = a->numblocks[0];
  const da_dtype odt = arg ? DA_INT64 : a->dtype;
  sorted_run run = {0};
  int64_t *cut = NULL;
  da_array o = NULL;
  int rc = local_sorted(a, arg, &run);
  if (!rc && !(cut = malloc((size_t)(nb + 1) * sizeof *cut)))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %lld cuts", (long long)nb);
  rc = da_agree_traced(ctx, rc); /* waits for the slowest local sort */
  if (!rc) {
    double t0 = da_trace_now(ctx);
    rc = find_cuts(a, arg, run.buf, run.n, cut);
    da_trace_event(ctx, DA_EV_COMM, "sort splitters", -1, -1, 0, t0);
  }
  if (!rc)
    rc = da_agree(ctx, da_array_new(ctx, 1, a->shape, (const int64_t *const *)a->chunks,
                                    a->numblocks, odt, da_dtype_size(odt), NULL, &o));
  if (!rc)
    rc = exchange(o, arg, &run, cut, a->dtype); /* frees the run once sent */
  run_free(ctx, &run);
  free(cut);
  if (rc) {
    da_array_destroy(&o);
    return rc;
  }
  o->materialized = true;
  *out = o;
  return DA_OK;
}

/* ---------------------------------------------------------------- n-D: lane by lane */

typedef struct {
  int axis;
  bool arg;
} lanes_params;

/* Block b sorted along the axis, each lane on its own. The block is read tile by tile (the
 * rechunk before it is fused in) into keys laid out lane after lane. */
static int lanes_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)nins;
  const lanes_params *p = a->params;
  da_ctx ctx = a->ctx;
  da_array x = a->inputs[0];
  const key_ops *ko = &key_table[x->dtype];
  const size_t es = x->elsize;
  int64_t bs[DA_MAX_NDIM], outer = 1, inner = 1;
  da_block_shape_of(x, b, bs);
  for (int d = 0; d < x->ndim; d++) {
    if (d < p->axis)
      outer *= bs[d];
    else if (d > p->axis)
      inner *= bs[d];
  }
  const int64_t len = bs[p->axis], m = outer * len * inner;
  if (m == 0)
    return DA_OK;
  size_t lane_bytes = (size_t)len * 2 * (p->arg ? sizeof(key_pair) : sizeof(uint64_t));
  uint64_t *keys = da_malloc(ctx, (size_t)m * sizeof *keys);
  char *lane = da_malloc(ctx, lane_bytes), *vals = NULL;
  bool strided = !p->arg && inner > 1; /* values go through vals, then out */
  if (strided)
    vals = da_malloc(ctx, (size_t)len * es);
  int rc = keys && lane && (vals || !strided) ? DA_OK : DA_ERR_NOMEM;
  uint64_t kt[DA_TILE];
  int64_t o = 0, j = 0, i = 0;
  for (int64_t start = 0; start < m && !rc; start += DA_TILE) {
    int64_t cnt = m - start < DA_TILE ? m - start : DA_TILE;
    const void *t = da_input_tile(&ins[0], start, cnt);
    if (inner == 1) {
      ko->keys(t, cnt, p->arg, keys + start);
      continue;
    }
    ko->keys(t, cnt, p->arg, kt);
    for (int64_t e = 0; e < cnt; e++) {
      keys[(o * inner + i) * len + j] = kt[e];
      if (++i < inner)
        continue;
      i = 0;
      if (++j == len)
        j = 0, o++;
    }
  }
  for (o = 0; o < outer && !rc; o++)
    for (i = 0; i < inner; i++) {
      uint64_t *lk = keys + (o * inner + i) * len;
      if (p->arg) {
        key_pair *pp = (key_pair *)lane;
        for (j = 0; j < len; j++)
          pp[j] = (key_pair){lk[j], j};
        key_pair *s = sort_pairs(pp, pp + len, len, ko->bits);
        int64_t *y = (int64_t *)out + o * len * inner + i;
        for (j = 0; j < len; j++)
          y[j * inner] = s[j].i;
        continue;
      }
      uint64_t *s = sort_u64(lk, (uint64_t *)lane, len, ko->bits);
      char *y = (char *)out + (size_t)(o * len * inner + i) * es;
      if (inner == 1) {
        ko->values(s, len, y);
        continue;
      }
      ko->values(s, len, vals);
      for (j = 0; j < len; j++)
        memcpy(y + (size_t)(j * inner) * es, vals + (size_t)j * es, es);
    }
  free(keys);
  free(lane);
  free(vals);
  return rc;
}

static const da_layer_ops lanes_ops = {
    .name = "sort", .aligned = true, .run = lanes_run, .fuses_inputs = true};

/* a rechunked whole along the axis (other axes keep their chunks, cut smaller when a block
 * would pass the context's chunk bytes), each block sorted lane by lane, rechunked back. */
static int sort_lanes(da_array a, int ax, bool arg, da_array *out) {
  da_ctx ctx = a->ctx;
  const int nd = a->ndim;
  const da_dtype odt = arg ? DA_INT64 : a->dtype;
  da_chunks whole = {0}, back = {0};
  for (int d = 0; d < nd; d++) {
    back.list[d] = whole.list[d] = a->chunks[d];
    back.nlist[d] = whole.nlist[d] = a->numblocks[d];
  }
  whole.list[ax] = NULL, whole.nlist[ax] = 0, whole.size[ax] = DA_CHUNK_WHOLE;
  /* Lanes per block within the budget, counting 8-byte keys. */
  int64_t len = a->shape[ax] > 0 ? a->shape[ax] : 1, budget = ctx->chunk_bytes / (8 * len);
  int64_t lanes = 1;
  budget = budget > 0 ? budget : 1;
  for (int d = 0; d < nd; d++)
    lanes *= d == ax ? 1 : a->chunksize[d];
  for (int d = 0; d < nd && lanes > budget; d++) {
    int64_t cs = a->chunksize[d];
    if (d == ax || cs <= 1)
      continue;
    int64_t f = (lanes + budget - 1) / budget, ncs = cs / f > 0 ? cs / f : 1;
    whole.list[d] = NULL, whole.nlist[d] = 0, whole.size[d] = ncs;
    lanes = lanes / cs * ncs;
  }
  da_array x = NULL, y = NULL;
  DA_TRY(da_rechunk(a, &whole, &x));
  lanes_params *p = malloc(sizeof *p);
  int rc = da_agree(ctx, p ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate parameters"));
  if (rc) {
    free(p);
    da_array_destroy(&x);
    return rc;
  }
  *p = (lanes_params){ax, arg};
  rc = da_node_new(ctx, nd, x->shape, (const int64_t *const *)x->chunks, x->numblocks, odt,
                   da_dtype_size(odt), DA_LAYOUT_OF(x), &lanes_ops, p, 1, &x, &y);
  da_array_destroy(&x);
  if (rc)
    return rc;
  rc = da_rechunk(y, &back, out);
  da_array_destroy(&y);
  return rc;
}

/* ---------------------------------------------------------------- entry points */

static int sort_impl(da_array a, int axis, bool arg, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  const char *op = arg ? "argsort" : "sort";
  int nd = a->ndim, ax = axis < 0 ? axis + nd : axis, rc = DA_OK;
  if (!da_dtype_valid(a->dtype))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "%s of an array of unknown dtype", op);
  else if (nd == 0)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "%s of a 0-d array: it has no axis %d", op, axis);
  else if (ax < 0 || ax >= nd)
    rc = DA_ERR(ctx, DA_ERR_ARG, "axis %d is out of range for a %d-d array", axis, nd);
  else if (nd == 1 && a->numblocks[0] > INT_MAX / 2)
    rc = DA_ERR(ctx, DA_ERR_CHUNKS, "%s: %lld blocks are too many", op, (long long)a->numblocks[0]);
  DA_TRY(da_agree(ctx, rc));
  return nd == 1 ? sort_flat(a, arg, out) : sort_lanes(a, ax, arg, out);
}

int da_sort(da_array a, int axis, da_array *out) {
  return sort_impl(a, axis, false, out);
}

int da_argsort(da_array a, int axis, da_array *out) {
  return sort_impl(a, axis, true, out);
}
