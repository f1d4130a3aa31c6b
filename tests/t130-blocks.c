/* Block selection: da_block and da_blocks (negative indices, ranges, empty ranges), blocks
 * of blocks, and a reduction of a block range, against slices of the serial array. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx;
static const da_dtype all_dtypes[] = TU_ALL_DTYPES;

/* A random array and its values on every rank; materialized or lazy (random or from a range). */
typedef struct {
  int ndim;
  int64_t shape[DA_MAX_NDIM];
  da_dtype dt;
  size_t es;
  void *ref;
  da_array a;
} source;

static void make_source(source *s, int i) {
  tu_state *st = tu_st();
  s->dt = all_dtypes[i % DA_NDTYPES];
  s->es = da_dtype_size(s->dt);
  s->ndim = (int)tu_int(&rng, 1, 5);
  tu_random_shape(&rng, s->ndim, 3000, i % 7 == 3, s->shape);
  tu_chunking ck;
  tu_random_chunks(&rng, s->ndim, s->shape, 200, &ck);
  int64_t n = tu_prod(s->ndim, s->shape);
  if (i % 3 == 2 && tu_is_float(s->dt)) { /* lazy: a random generator */
    TU_OK(ctx, da_random_normal(ctx, (uint64_t)i, 0, 1, s->ndim, s->shape, &ck.c, s->dt, &s->a));
    s->ref = tu_gather_all(s->a);
  } else {
    s->ref = tu_malloc((size_t)n * s->es);
    tu_fill_random(&rng, s->dt, s->ref, n);
    int root = (int)tu_int(&rng, 0, st->size - 1);
    TU_OK(ctx, da_from_root(ctx, root, s->ndim, s->shape, &ck.c, s->dt, s->ref, (size_t)n * s->es,
                            &s->a));
  }
}

/* The slice of blocks [start, stop) of x (normalized, non-negative) as offsets and a shape. */
static void block_slice(da_array x, const int64_t start[], const int64_t stop[], int64_t off[],
                        int64_t shape[]) {
  for (int d = 0; d < da_array_ndim(x); d++) {
    const int64_t *c = da_array_chunks(x, d);
    off[d] = shape[d] = 0;
    for (int64_t i = 0; i < stop[d]; i++)
      *(i < start[d] ? &off[d] : &shape[d]) += c[i];
  }
}

/* sub must be the slice of blocks [start, stop) of x, whose values are xref; returns the
 * values of sub (malloc'ed) for further use. */
static void *check_slice(da_array x, const void *xref, const int64_t start[], const int64_t stop[],
                         da_array sub, const char *what) {
  int nd = da_array_ndim(x);
  da_dtype dt = da_array_dtype(x);
  size_t es = da_dtype_size(dt);
  int64_t off[DA_MAX_NDIM], shape[DA_MAX_NDIM];
  block_slice(x, start, stop, off, shape);
  CHECK(da_array_ndim(sub) == nd && da_array_dtype(sub) == dt);
  CHECK(memcmp(da_array_shape(sub), shape, (size_t)nd * sizeof(int64_t)) == 0);
  CHECK(da_array_is_lazy(sub));
  for (int d = 0; d < nd; d++) {
    int64_t nb = stop[d] - start[d];
    if (nb == 0) { /* an empty range: one empty chunk */
      CHECK(da_array_numblocks(sub)[d] == 1 && da_array_chunks(sub, d)[0] == 0);
      continue;
    }
    CHECK(da_array_numblocks(sub)[d] == nb);
    CHECK(memcmp(da_array_chunks(sub, d), da_array_chunks(x, d) + start[d],
                 (size_t)nb * sizeof(int64_t)) == 0);
  }
  int64_t n = tu_prod(nd, shape);
  void *want = tu_malloc((size_t)n * es);
  tu_box_copy(es, nd, da_array_shape(x), (void *)xref, off, shape, want, true);
  void *got = tu_gather_all(sub);
  COMPARE(what, dt, got, want, nd, shape, -1);
  free(got);
  return want;
}

/* Element k of an integer array as a term of a wrapping 64-bit sum. */
static uint64_t int_term(da_dtype dt, const void *buf, int64_t k) {
  if (dt == DA_INT64)
    return (uint64_t)((const int64_t *)buf)[k];
  if (dt == DA_UINT64)
    return ((const uint64_t *)buf)[k];
  return (uint64_t)(int64_t)tu_get(dt, buf, k); /* exact below 2^53 */
}

/* A random block index, as often negative as not. */
static void random_bidx(da_array x, int64_t bidx[], int64_t norm[]) {
  for (int d = 0; d < da_array_ndim(x); d++) {
    int64_t nb = da_array_numblocks(x)[d];
    norm[d] = tu_int(&rng, 0, nb - 1);
    bidx[d] = tu_chance(&rng, 0.5) ? norm[d] - nb : norm[d];
  }
}

/* A random range of blocks: sometimes empty, ends sometimes negative. */
static void random_range(da_array x, int64_t start[], int64_t stop[], int64_t s[], int64_t e[]) {
  for (int d = 0; d < da_array_ndim(x); d++) {
    int64_t nb = da_array_numblocks(x)[d];
    s[d] = tu_int(&rng, 0, nb);
    e[d] = tu_int(&rng, s[d], nb);
    if (tu_chance(&rng, 0.6) && e[d] == s[d] && s[d] < nb)
      e[d]++; /* mostly not empty */
    start[d] = tu_chance(&rng, 0.3) && s[d] < nb ? s[d] - nb : s[d];
    stop[d] = tu_chance(&rng, 0.3) && e[d] > 0 ? e[d] - nb : e[d];
    if (stop[d] == 0 && e[d] == nb)
      stop[d] = nb;
  }
}

static void test_block(void) {
  for (int i = 0; i < 33; i++) {
    source s;
    make_source(&s, i);
    for (int j = 0; j < 3; j++) {
      int64_t bidx[DA_MAX_NDIM], norm[DA_MAX_NDIM], stop[DA_MAX_NDIM];
      random_bidx(s.a, bidx, norm);
      for (int d = 0; d < s.ndim; d++)
        stop[d] = norm[d] + 1;
      da_array b;
      TU_OK(ctx, da_block(s.a, bidx, &b));
      CHECK(da_array_nblocks(b) == 1);
      int64_t bshape[DA_MAX_NDIM];
      TU_OK(ctx, da_array_block_shape(s.a, norm, bshape));
      CHECK(memcmp(da_array_shape(b), bshape, (size_t)s.ndim * sizeof(int64_t)) == 0);
      free(check_slice(s.a, s.ref, norm, stop, b, "block"));
      da_array_destroy(&b);
    }
    free(s.ref);
    da_array_destroy(&s.a);
    tu_sync();
  }
}

static void test_blocks(void) {
  for (int i = 0; i < 44; i++) {
    source s;
    make_source(&s, i);
    int64_t start[DA_MAX_NDIM], stop[DA_MAX_NDIM], s1[DA_MAX_NDIM], e1[DA_MAX_NDIM];
    random_range(s.a, start, stop, s1, e1);
    da_array sub;
    TU_OK(ctx, da_blocks(s.a, start, stop, &sub));
    void *subref = check_slice(s.a, s.ref, s1, e1, sub, "blocks");

    /* Blocks of blocks: a range of the range, and one block of it. */
    if (da_array_size(sub) > 0) {
      int64_t start2[DA_MAX_NDIM], stop2[DA_MAX_NDIM], s2[DA_MAX_NDIM], e2[DA_MAX_NDIM];
      random_range(sub, start2, stop2, s2, e2);
      da_array sub2, one;
      TU_OK(ctx, da_blocks(sub, start2, stop2, &sub2));
      free(check_slice(sub, subref, s2, e2, sub2, "blocks of blocks"));
      int64_t bidx[DA_MAX_NDIM], norm[DA_MAX_NDIM], stop3[DA_MAX_NDIM], s3[DA_MAX_NDIM];
      random_bidx(sub, bidx, norm);
      TU_OK(ctx, da_block(sub, bidx, &one));
      for (int d = 0; d < s.ndim; d++)
        s3[d] = s1[d] + norm[d], stop3[d] = s3[d] + 1;
      free(check_slice(s.a, s.ref, s3, stop3, one, "block of blocks"));
      da_array_destroy(&one);
      da_array_destroy(&sub2);
    }

    /* The sum of the sub-array against a loop over its values. */
    if (!tu_is_float(s.dt) || i % 2) {
      da_array sum;
      TU_OK(ctx, da_sum(sub, 0, NULL, 0, &sum));
      int64_t n = da_array_size(sub);
      if (tu_is_float(s.dt)) {
        double want = 0, abs = 0, got = 0;
        for (int64_t k = 0; k < n; k++)
          want += tu_get(s.dt, subref, k), abs += fabs(tu_get(s.dt, subref, k));
        if (s.dt == DA_FLOAT64) {
          TU_OK(ctx, da_compute(sum, DA_ALL_RANKS, &got, sizeof got));
        } else {
          float g32;
          TU_OK(ctx, da_compute(sum, DA_ALL_RANKS, &g32, sizeof g32));
          got = g32;
        }
        CHECKF(fabs(got - want) <= 1e-6 * abs + 1e-30, "sum of blocks: got %.17g, want %.17g", got,
               want);
      } else {
        uint64_t want = 0, got = 0; /* wrapping, as int64/uint64 sums do */
        for (int64_t k = 0; k < n; k++)
          want += int_term(s.dt, subref, k);
        TU_OK(ctx, da_compute(sum, DA_ALL_RANKS, &got, sizeof got));
        CHECKF(got == want, "sum of blocks (%s): got %llu, want %llu", da_dtype_name(s.dt),
               (unsigned long long)got, (unsigned long long)want);
      }
      da_array_destroy(&sum);
    }
    free(subref);
    da_array_destroy(&sub);
    free(s.ref);
    da_array_destroy(&s.a);
    tu_sync();
  }
}

/* The source may go before its selection: the selection holds a reference. */
static void test_lifetime(void) {
  da_array x, b;
  TU_OK(ctx, da_arange(ctx, 0, 50, 1, DA_CHUNKS(8), DA_INT16, &x));
  TU_OK(ctx, da_blocks(x, (int64_t[]){-3}, (int64_t[]){-1}, &b)); /* blocks 4, 5: 32..47 */
  da_array_destroy(&x);
  int16_t got[16], want[16];
  for (int i = 0; i < 16; i++)
    want[i] = (int16_t)(32 + i);
  CHECK(da_array_shape(b)[0] == 16);
  TU_OK(ctx, da_compute(b, DA_ALL_RANKS, got, sizeof got));
  COMPARE_N("blocks(-3, -1) of arange(50)", DA_INT16, got, want, 16, -1, 0);
  da_array_destroy(&b);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t130-blocks");
  rng = tu_rng_make(130);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  test_block();
  test_blocks();
  test_lifetime();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
