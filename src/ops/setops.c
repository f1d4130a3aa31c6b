/* Searching sorted arrays and finding distinct values: searchsorted sends each value to the
 * rank holding the block of the sorted array it falls in and back; unique dedupes da_sort's
 * output across block boundaries. Both compare order keys, so NaN sorts last, once. */
#include "core/internal.h"
#include "diag/diag.h"
#include "ops/sort.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- order keys */

/* How values of a common dtype become uint64 keys whose unsigned order is NumPy's: floats
 * by their bits (-0.0 as 0.0, every NaN one key above +inf), signed integers offset by
 * 2^63, unsigned integers and bool as they are. */
typedef enum { KEY_FLOAT, KEY_SIGNED, KEY_UNSIGNED } key_kind;

#define KEY_SIGN ((uint64_t)1 << 63)

static inline uint64_t key_of_double(double x) {
  if (x != x)
    return UINT64_MAX;
  if (x == 0)
    x = 0.0;
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u & KEY_SIGN ? ~u : u | KEY_SIGN;
}

static key_kind key_kind_of(da_dtype dt) {
  return da_dtype_is_float(dt) ? KEY_FLOAT : da_dtype_is_signed(dt) ? KEY_SIGNED : KEY_UNSIGNED;
}

/* Keys of n values of one source dtype compared in a common dtype of kind k. A float
 * source always has a float common dtype, and an unsigned common dtype only unsigned or
 * bool sources, so every conversion below is exact or NumPy's own rounding to float64. */
#define KEY_LOOP_(E, T, S)                                                                         \
  static void keys_##S(const void *in, uint64_t *out, int64_t n, key_kind k) {                     \
    const T *x = in;                                                                               \
    if (k == KEY_FLOAT)                                                                            \
      for (int64_t i = 0; i < n; i++)                                                              \
        out[i] = key_of_double((double)x[i]);                                                      \
    else if (k == KEY_SIGNED)                                                                      \
      for (int64_t i = 0; i < n; i++)                                                              \
        out[i] = (uint64_t)(int64_t)x[i] ^ KEY_SIGN;                                               \
    else                                                                                           \
      for (int64_t i = 0; i < n; i++)                                                              \
        out[i] = (uint64_t)x[i];                                                                   \
  }
DA_FOR_EACH_DTYPE(KEY_LOOP_)
#undef KEY_LOOP_

typedef void (*keys_fn)(const void *in, uint64_t *out, int64_t n, key_kind k);
static const keys_fn keys_table[DA_NDTYPES] = {
#define KEY_ENTRY_(E, T, S) [E] = keys_##S,
    DA_FOR_EACH_DTYPE(KEY_ENTRY_)
#undef KEY_ENTRY_
};

typedef struct {
  key_kind kind;
} key_params;

static void key_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                     const void *const *in, void *out) {
  (void)b, (void)start;
  const key_params *p = a->params;
  keys_table[a->inputs[0]->dtype](in[0], out, count, p->kind);
}

static const da_layer_ops key_ops = {.name = "order-key", .aligned = true, .tile = key_tile};

/* Collective. The order keys of x (kind k) as a new materialized uint64 array laid out as x. */
static int keys_persisted(da_array x, key_kind k, da_array *out) {
  *out = NULL;
  key_params *p = malloc(sizeof *p);
  int rc = p ? DA_OK : DA_ERR(x->ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  if (p)
    p->kind = k;
  rc = da_agree(x->ctx, rc);
  if (!rc)
    rc = da_node_new(x->ctx, x->ndim, x->shape, (const int64_t *const *)x->chunks, x->numblocks,
                     DA_UINT64, sizeof(uint64_t), DA_LAYOUT_OF(x), &key_ops, p, 1, &x, out);
  else
    free(p);
  if (!rc)
    rc = da_persist(*out);
  if (rc)
    da_array_destroy(out);
  return rc;
}

/* The first place in the sorted keys k[0..n) where x goes: before equal keys (lower bound)
 * or, with right, after them (upper bound). */
static int64_t key_bound(const uint64_t *k, int64_t n, uint64_t x, bool right) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (right ? k[mid] <= x : k[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* ---------------------------------------------------------------- helpers */

/* Local. Gives a (made with da_array_new) zeroed local blocks, counted as held. */
static int alloc_blocks(da_array a) {
  if (!(a->lblocks = calloc((size_t)(a->nlocal ? a->nlocal : 1), sizeof(void *))))
    return DA_ERR(a->ctx, DA_ERR_NOMEM, "cannot allocate the block table");
  for (int64_t k = 0; k < a->nlocal; k++) {
    size_t bytes = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (!(a->lblocks[k] = da_calloc(a->ctx, 1, bytes ? bytes : 1)))
      return DA_ERR_NOMEM;
    da_array_hold(a, (int64_t)bytes);
  }
  return DA_OK;
}

/* Collective. Records of `size` bytes from each rank to each: sbuf holds scount[r] of them
 * for rank r, in rank order; *rbuf (taken, rtotal records) receives rcount[r] from rank r in
 * rank order. With known, rcount is given; otherwise it is exchanged first. */
static int exchange(da_ctx ctx, const void *sbuf, const int64_t scount[], size_t size,
                    int64_t rcount[], bool known, void **rbuf, int64_t *rtotal) {
  int rc = DA_OK, np = ctx->size, me = ctx->rank;
  double t0 = da_trace_now(ctx);
  *rbuf = NULL;
  *rtotal = 0;
  if (!known && MPI_Alltoall(scount, 1, MPI_INT64_T, rcount, 1, MPI_INT64_T, ctx->comm))
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Alltoall of record counts failed");
  int64_t total = 0;
  for (int r = 0; r < np && !rc; r++)
    total += rcount[r];
  if (!rc && !(*rbuf = da_work_alloc(ctx, (size_t)total * size)))
    rc = DA_ERR_NOMEM;
  DA_TRY(da_agree(ctx, rc));
  int tag = da_next_tag(ctx);
  MPI_Request *req = NULL;
  int nreq = 0, cap = 0;
  const char *s = sbuf;
  char *d = *rbuf;
  for (int r = 0; r < np && !rc; r++) {
    size_t sb = (size_t)scount[r] * size, rb = (size_t)rcount[r] * size;
    if (r == me)
      memcpy(d, s, sb);
    else if (sb && (rc = da_send_bytes(ctx, s, sb, r, tag, &req, &nreq, &cap)))
      break;
    if (r != me && rb)
      rc = da_recv_bytes(ctx, d, rb, r, tag, &req, &nreq, &cap);
    s += sb;
    d += rb;
  }
  if (nreq && MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS && !rc)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Waitall failed in a record exchange");
  free(req);
  rc = da_agree(ctx, rc);
  if (rc) {
    da_work_free(ctx, *rbuf, (size_t)total * size);
    *rbuf = NULL;
    return rc;
  }
  *rtotal = total;
  int64_t sent = 0;
  for (int r = 0; r < np; r++)
    sent += r != me ? scount[r] : 0;
  da_trace_event(ctx, DA_EV_COMM, "record exchange", -1, -1, sent * (int64_t)size, t0);
  return DA_OK;
}

/* ---------------------------------------------------------------- searchsorted */

/* What every rank knows of the sorted keys ka: its non-empty blocks (block index and first
 * key, in order). A value goes to the last such block whose first key lies below it
 * (left) or at most at it (right); none means index 0. */
typedef struct {
  int64_t n;
  int64_t *block;
  uint64_t *first;
} block_firsts;

static int firsts_gather(da_array ka, block_firsts *f) {
  da_ctx ctx = ka->ctx;
  int64_t nb = ka->nblocks;
  f->n = 0;
  f->block = malloc((size_t)nb * sizeof *f->block);
  f->first = calloc((size_t)nb, sizeof *f->first);
  int rc = f->block && f->first ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate block keys");
  if (!rc && nb > INT_MAX)
    rc = DA_ERR(ctx, DA_ERR_CHUNKS, "searchsorted: %lld blocks are too many", (long long)nb);
  for (int64_t k = 0; k < ka->nlocal && !rc; k++) {
    int64_t b = da_block_global_index(ka, k);
    if (ka->chunks[0][b] > 0)
      f->first[b] = ((const uint64_t *)ka->lblocks[k])[0];
  }
  DA_TRY(da_agree(ctx, rc));
  /* Each block's key comes from its owner alone; the others add zeros. */
  rc = da_allreduce_traced(ctx, f->first, (int)nb, MPI_UINT64_T, MPI_MAX, "block keys");
  for (int64_t b = 0; b < nb && !rc; b++)
    if (ka->chunks[0][b] > 0) {
      f->block[f->n] = b;
      f->first[f->n++] = f->first[b];
    }
  return da_agree(ctx, rc);
}

static void firsts_free(block_firsts *f) {
  free(f->block);
  free(f->first);
}

/* The block of ka a value with key x goes to, or -1 for index 0. */
static int64_t firsts_block(const block_firsts *f, uint64_t x, bool right) {
  int64_t j = key_bound(f->first, f->n, x, right);
  return j > 0 ? f->block[j - 1] : -1;
}

/* Collective. The searchsorted indices of the keys *kv (any shape) in the sorted 1-D keys ka
 * (both materialized), as a new materialized int64 array laid out as *kv; *kv is destroyed
 * as soon as it has been read. */
static int search_keys(da_array ka, da_array *kv, bool right, da_array *out) {
  da_ctx ctx = ka->ctx;
  da_array v = *kv;
  int np = ctx->size;
  block_firsts f = {0};
  da_array res = NULL;
  int64_t *scount = calloc((size_t)np, sizeof *scount),
          *rcount = calloc((size_t)np, sizeof *rcount);
  int64_t *place = calloc((size_t)np + 1, sizeof *place), nsend = 0, nrecv = 0, nback = 0;
  uint64_t *sbuf = NULL, *rbuf = NULL;
  int64_t **dest = NULL, *back = NULL;
  int rc = scount && rcount && place ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate counts");
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = firsts_gather(ka, &f);
  if (!rc)
    rc = da_array_new(ctx, v->ndim, v->shape, (const int64_t *const *)v->chunks, v->numblocks,
                      DA_INT64, sizeof(int64_t), DA_LAYOUT_OF(v), &res);
  if (!rc)
    rc = alloc_blocks(res);
  double t0 = da_trace_now(ctx);
  /* Values below every block are answered here (0, as the blocks are zeroed); the others
   * are counted per owner of their block. */
  for (int64_t k = 0; k < v->nlocal && !rc; k++) {
    int64_t n = da_block_size_of(v, da_block_global_index(v, k));
    const uint64_t *x = v->lblocks[k];
    for (int64_t i = 0; i < n; i++) {
      int64_t b = firsts_block(&f, x[i], right);
      if (b >= 0)
        scount[da_block_owner_of(ka, b)]++, nsend++;
    }
  }
  if (!rc) {
    sbuf = da_work_alloc(ctx, (size_t)nsend * sizeof *sbuf);
    dest = da_work_alloc(ctx, (size_t)nsend * sizeof *dest);
    if (!sbuf || !dest)
      rc = DA_ERR_NOMEM;
  }
  rc = da_agree(ctx, rc);
  if (!rc) {
    for (int r = 0; r < np; r++)
      place[r + 1] = place[r] + scount[r];
    /* dest: where the answer to each sent key goes (res has v's local blocks). */
    for (int64_t k = 0; k < v->nlocal; k++) {
      int64_t n = da_block_size_of(v, da_block_global_index(v, k));
      const uint64_t *x = v->lblocks[k];
      for (int64_t i = 0; i < n; i++) {
        int64_t b = firsts_block(&f, x[i], right);
        if (b < 0)
          continue;
        int64_t s = place[da_block_owner_of(ka, b)]++;
        sbuf[s] = x[i];
        dest[s] = (int64_t *)res->lblocks[k] + i;
      }
    }
    da_array_destroy(kv);
    da_trace_event(ctx, DA_EV_COMPUTE, "searchsorted", -1, -1, 0, t0);
    rc = exchange(ctx, sbuf, scount, sizeof *sbuf, rcount, false, (void **)&rbuf, &nrecv);
  }
  da_work_free(ctx, sbuf, (size_t)nsend * sizeof *sbuf);
  if (!rc) {
    /* The owner finds each key in the block it was sent for and answers in place. */
    t0 = da_trace_now(ctx);
    int64_t *ans = (int64_t *)rbuf;
    for (int64_t i = 0; i < nrecv; i++) {
      uint64_t x = rbuf[i];
      int64_t b = firsts_block(&f, x, right);
      const uint64_t *blk = ka->lblocks[da_block_local_index(ka, b)];
      ans[i] = ka->offsets[0][b] + key_bound(blk, ka->chunks[0][b], x, right);
    }
    da_trace_event(ctx, DA_EV_COMPUTE, "searchsorted", -1, -1, 0, t0);
    rc = exchange(ctx, ans, rcount, sizeof *ans, scount, true, (void **)&back, &nback);
  }
  da_work_free(ctx, rbuf, (size_t)nrecv * sizeof *rbuf);
  if (!rc) {
    t0 = da_trace_now(ctx);
    for (int64_t i = 0; i < nsend; i++)
      *dest[i] = back[i];
    da_trace_event(ctx, DA_EV_COMPUTE, "searchsorted", -1, -1, 0, t0);
    res->materialized = true;
  }
  da_work_free(ctx, dest, (size_t)nsend * sizeof *dest);
  da_work_free(ctx, back, (size_t)nback * sizeof *back);
  free(scount);
  free(rcount);
  free(place);
  firsts_free(&f);
  if (rc)
    da_array_destroy(&res);
  *out = res;
  return rc;
}

int da_searchsorted(da_array a, da_array v, int right, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!out)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "out is NULL"));
  *out = NULL;
  int rc = DA_OK;
  if (!v)
    rc = DA_ERR(ctx, DA_ERR_ARG, "v is NULL");
  else if (v->ctx != ctx)
    rc = DA_ERR(ctx, DA_ERR_ARG, "v belongs to another context");
  else if (a->ndim != 1)
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "searchsorted needs a 1-d sorted array, not %d-d", a->ndim);
  DA_TRY(da_agree(ctx, rc));
  /* NumPy compares in the common dtype (an int64 array and float values: as float64). */
  da_dtype common;
  DA_TRY(da_agree(ctx, da_result_type(da_value_array(a), da_value_array(v), &common)));
  key_kind k = key_kind_of(common);
  da_array ka = NULL, kv = NULL;
  rc = keys_persisted(a, k, &ka);
  if (!rc)
    rc = keys_persisted(v, k, &kv);
  if (!rc)
    rc = search_keys(ka, &kv, right != 0, out);
  da_array_destroy(&ka);
  da_array_destroy(&kv);
  return rc;
}

/* ---------------------------------------------------------------- unique */

/* A private copy of x, so that a lazy input read twice is computed once. */
static void copy_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                      const void *const *in, void *out) {
  (void)b, (void)start;
  memcpy(out, in[0], (size_t)count * a->elsize);
}

static const da_layer_ops copy_ops = {.name = "copy", .aligned = true, .tile = copy_tile};

/* Collective. A materialized private copy of x. */
static int materialized_copy(da_array x, da_array *out) {
  int rc = da_node_new(x->ctx, x->ndim, x->shape, (const int64_t *const *)x->chunks, x->numblocks,
                       x->dtype, x->elsize, DA_LAYOUT_OF(x), &copy_ops, NULL, 1, &x, out);
  rc = da_agree(x->ctx, rc);
  if (!rc)
    rc = da_persist(*out);
  if (rc)
    da_array_destroy(out);
  return rc;
}

/* The places in data[0..n) (dt, keys of kind k) where a run of equal keys starts: after
 * prev when has_prev (the key before data[0]). Writes the first cap of them to starts;
 * returns their count. */
static int64_t run_starts(da_dtype dt, key_kind k, const void *data, int64_t n, bool has_prev,
                          uint64_t prev, int64_t *starts, int64_t cap) {
  uint64_t keys[DA_TILE];
  size_t es = da_dtype_size(dt);
  int64_t m = 0;
  for (int64_t t = 0; t < n; t += DA_TILE) {
    int64_t cnt = n - t < DA_TILE ? n - t : DA_TILE;
    keys_table[dt]((const char *)data + (size_t)t * es, keys, cnt, k);
    for (int64_t i = 0; i < cnt; i++) {
      if (!has_prev || keys[i] != prev) {
        if (m < cap)
          starts[m] = t + i;
        m++;
      }
      prev = keys[i];
      has_prev = true;
    }
  }
  return m;
}

/* What every rank knows of the sorted array's runs, per block b: the key of its last
 * element, how many runs start in it (nu) and the global place of its first start. */
typedef struct {
  int64_t nb;
  uint64_t *last;
  int64_t *info; /* nu[b] at info[b], the first start at info[nb + b] (-1: none) */
  int64_t *next; /* the global place of the first start after block b (size: none) */
} run_table;

static void runs_free(run_table *t) {
  free(t->last);
  free(t->info);
  free(t->next);
}

/* The last non-empty block of s before b, or -1. */
static int64_t prev_nonempty(da_array s, int64_t b) {
  while (--b >= 0 && s->chunks[0][b] == 0)
    ;
  return b;
}

static int runs_find(da_array s, key_kind k, run_table *t) {
  da_ctx ctx = s->ctx;
  int64_t nb = s->nblocks;
  t->nb = nb;
  t->last = calloc((size_t)nb, sizeof *t->last);
  t->info = malloc((size_t)(2 * nb) * sizeof *t->info);
  t->next = malloc((size_t)nb * sizeof *t->next);
  int rc = t->last && t->info && t->next ? DA_OK
                                         : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate run tables");
  if (!rc && 2 * nb > INT_MAX)
    rc = DA_ERR(ctx, DA_ERR_CHUNKS, "unique: %lld blocks are too many", (long long)nb);
  DA_TRY(da_agree(ctx, rc));
  for (int64_t q = 0; q < s->nlocal; q++) {
    int64_t b = da_block_global_index(s, q), n = s->chunks[0][b];
    if (n > 0)
      keys_table[s->dtype]((const char *)s->lblocks[q] + (size_t)(n - 1) * s->elsize, &t->last[b],
                           1, k);
  }
  /* Each block's entries come from its owner alone; the others give 0 (or -1). */
  rc = da_allreduce_traced(ctx, t->last, (int)nb, MPI_UINT64_T, MPI_MAX, "block keys");
  DA_TRY(da_agree(ctx, rc));
  double t0 = da_trace_now(ctx);
  for (int64_t b = 0; b < nb; b++)
    t->info[b] = 0, t->info[nb + b] = -1;
  for (int64_t q = 0; q < s->nlocal; q++) {
    int64_t b = da_block_global_index(s, q), pb = prev_nonempty(s, b), first = 0;
    int64_t n = s->chunks[0][b];
    int64_t m =
        run_starts(s->dtype, k, s->lblocks[q], n, pb >= 0, pb >= 0 ? t->last[pb] : 0, &first, 1);
    t->info[b] = m;
    t->info[nb + b] = m > 0 ? s->offsets[0][b] + first : -1;
  }
  da_trace_event(ctx, DA_EV_COMPUTE, "unique-runs", -1, -1, 0, t0);
  rc = da_allreduce_traced(ctx, t->info, (int)(2 * nb), MPI_INT64_T, MPI_MAX, "run counts");
  int64_t after = s->size;
  for (int64_t b = nb - 1; b >= 0; b--) {
    t->next[b] = after;
    if (t->info[b] > 0)
      after = t->info[nb + b];
  }
  return da_agree(ctx, rc);
}

/* Collective. The first value of each run of the sorted s and (pc not NULL) the run's
 * length, as arrays laid out as s with t's run counts as chunks (some empty). */
static int pieces_make(da_array s, key_kind k, const run_table *t, da_array *pv, da_array *pc) {
  da_ctx ctx = s->ctx;
  int64_t nb = t->nb, total = 0, most = 0;
  for (int64_t b = 0; b < nb; b++)
    total += t->info[b];
  const int64_t *ck[1] = {t->info};
  int rc = da_array_new(ctx, 1, &total, ck, &nb, s->dtype, s->elsize, DA_LAYOUT_OF(s), pv);
  if (!rc)
    rc = alloc_blocks(*pv);
  if (!rc && pc) {
    rc = da_array_new(ctx, 1, &total, ck, &nb, DA_INT64, sizeof(int64_t), DA_LAYOUT_OF(s), pc);
    if (!rc)
      rc = alloc_blocks(*pc);
  }
  for (int64_t q = 0; q < s->nlocal; q++) {
    int64_t nu = t->info[da_block_global_index(s, q)];
    most = nu > most ? nu : most;
  }
  int64_t *starts = NULL;
  if (!rc && !(starts = da_malloc(ctx, (size_t)most * sizeof *starts)))
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  double t0 = da_trace_now(ctx);
  for (int64_t q = 0; q < s->nlocal && !rc; q++) {
    int64_t b = da_block_global_index(s, q), nu = t->info[b], off = s->offsets[0][b];
    int64_t pb = prev_nonempty(s, b);
    if (nu == 0)
      continue;
    run_starts(s->dtype, k, s->lblocks[q], s->chunks[0][b], pb >= 0, pb >= 0 ? t->last[pb] : 0,
               starts, nu);
    char *vals = (*pv)->lblocks[q];
    const char *src = s->lblocks[q];
    for (int64_t j = 0; j < nu; j++)
      memcpy(vals + (size_t)j * s->elsize, src + (size_t)starts[j] * s->elsize, s->elsize);
    if (!pc)
      continue;
    int64_t *cnt = (*pc)->lblocks[q];
    for (int64_t j = 0; j < nu; j++)
      cnt[j] = (j + 1 < nu ? off + starts[j + 1] : t->next[b]) - (off + starts[j]);
  }
  da_trace_event(ctx, DA_EV_COMPUTE, "unique-values", -1, -1, 0, t0);
  free(starts);
  if (rc) {
    da_array_destroy(pv);
    if (pc)
      da_array_destroy(pc);
    return rc;
  }
  (*pv)->materialized = true;
  if (pc)
    (*pc)->materialized = true;
  return DA_OK;
}

/* Collective. p (1-D, materialized) moved into even chunks of c elements, materialized. */
static int rebalanced(da_array p, int64_t c, da_array *out) {
  int rc = da_rechunk(p, DA_CHUNKS(c), out);
  if (!rc)
    rc = da_persist(*out);
  if (rc)
    da_array_destroy(out);
  return rc;
}

int da_unique(da_array a, da_array *values, da_array *counts, da_array *inverse) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (counts)
    *counts = NULL;
  if (inverse)
    *inverse = NULL;
  int rc = values ? DA_OK : DA_ERR(ctx, DA_ERR_ARG, "values is NULL");
  DA_TRY(da_agree(ctx, rc));
  *values = NULL;
  key_kind k = key_kind_of(a->dtype);
  /* The results' chunks: as many elements as a's largest block holds. */
  int64_t c = 1;
  for (int d = 0; d < a->ndim; d++)
    c *= a->chunksize[d];
  c = c > 0 ? c : 1;
  da_array flat = NULL, x = NULL, s = NULL, pv = NULL, pc = NULL, v = NULL, n = NULL;
  da_array ku = NULL, kx = NULL, inv = NULL;
  run_table t = {0};
  rc = da_ravel(a, &flat);
  /* The inverse reads a again: a lazy a is computed once, into a private copy. */
  if (!rc)
    rc = inverse && !a->materialized ? materialized_copy(flat, &x) : da_array_ref(flat, &x);
  da_array_destroy(&flat);
  if (!rc)
    rc = da_sort(x, 0, &s);
  if (!rc)
    rc = da_persist(s);
  if (!rc)
    rc = runs_find(s, k, &t);
  if (!rc)
    rc = pieces_make(s, k, &t, &pv, counts ? &pc : NULL);
  da_array_destroy(&s);
  runs_free(&t);
  if (!rc)
    rc = rebalanced(pv, c, &v);
  if (!rc && counts)
    rc = rebalanced(pc, c, &n);
  da_array_destroy(&pv);
  da_array_destroy(&pc);
  /* Each element's place among the values is its searchsorted index (NaN finds the one NaN,
   * -0.0 and 0.0 the one zero, as their keys are equal). */
  if (!rc && inverse)
    rc = keys_persisted(v, k, &ku);
  if (!rc && inverse)
    rc = keys_persisted(x, k, &kx);
  da_array_destroy(&x);
  if (!rc && inverse)
    rc = search_keys(ku, &kx, false, &inv);
  da_array_destroy(&ku);
  da_array_destroy(&kx);
  if (rc) {
    da_array_destroy(&v);
    da_array_destroy(&n);
    return rc;
  }
  *values = v;
  if (counts)
    *counts = n;
  if (inverse)
    *inverse = inv;
  return DA_OK;
}
