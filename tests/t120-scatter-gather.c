/* Moving data between user memory and darray: scatter from every root, adopt blocks (copy,
 * borrow, own), gather, copy out blocks, persist; and the block-cyclic layout behind it. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx;
static const da_dtype all_dtypes[] = TU_ALL_DTYPES;

/* A random array: its request, and its values held whole on every rank. */
typedef struct {
  int ndim;
  int64_t shape[DA_MAX_NDIM], n;
  tu_chunking ck;
  da_dtype dt;
  size_t es;
  void *ref;
} array_case;

static void random_case(array_case *c, da_dtype dt, int64_t maxsize) {
  c->ndim = (int)tu_int(&rng, 0, 5);
  tu_random_shape(&rng, c->ndim, maxsize, true, c->shape);
  tu_random_chunks(&rng, c->ndim, c->shape, 200, &c->ck);
  c->dt = dt;
  c->es = da_dtype_size(dt);
  c->n = tu_prod(c->ndim, c->shape);
  c->ref = tu_malloc((size_t)c->n * c->es);
  tu_fill_random(&rng, dt, c->ref, c->n);
}

/* Where block bidx of a lives by the block-cyclic rule: (b0 % P0, b1 % P1, ...) in C order. */
static int cyclic_owner(da_array a, const int64_t bidx[]) {
  const int *grid = da_array_procgrid(a);
  int r = 0;
  for (int d = 0; d < da_array_ndim(a); d++)
    r = r * grid[d] + (int)(bidx[d] % grid[d]);
  return r;
}

static void unravel(da_array a, int64_t b, int64_t bidx[]) {
  for (int d = da_array_ndim(a) - 1; d >= 0; d--) {
    bidx[d] = b % da_array_numblocks(a)[d];
    b /= da_array_numblocks(a)[d];
  }
}

/* Every block has exactly one owner, the one the process grid names; local blocks come in
 * ascending order; shapes and offsets follow the chunk lists. */
static void check_layout(da_array a) {
  tu_state *st = tu_st();
  int nd = da_array_ndim(a);
  int64_t nb = da_array_nblocks(a), nlocal = da_array_local_nblocks(a);
  const int *grid = da_array_procgrid(a);
  int gridsize = 1;
  for (int d = 0; d < nd; d++) {
    CHECK(grid[d] >= 1);
    gridsize *= grid[d];
  }
  CHECKF(nd == 0 || gridsize == st->size, "process grid of %d ranks on %d", gridsize, st->size);
  int *count = calloc((size_t)nb, sizeof *count), *all = calloc((size_t)nb, sizeof *all);
  int64_t prev = -1, bidx[DA_MAX_NDIM], tmp[DA_MAX_NDIM];
  for (int64_t k = 0; k < nlocal; k++) {
    TU_OK(ctx, da_array_local_block_index(a, k, bidx));
    int64_t b = 0;
    for (int d = 0; d < nd; d++)
      b = b * da_array_numblocks(a)[d] + bidx[d];
    CHECKF(b > prev, "local block %lld is block %lld after %lld", (long long)k, (long long)b,
           (long long)prev);
    prev = b;
    count[b]++;
    int owner = -1;
    TU_OK(ctx, da_array_block_owner(a, bidx, &owner));
    CHECK(owner == st->rank);
  }
  MPI_Allreduce(count, all, (int)nb, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int64_t total = 0;
  MPI_Allreduce(&nlocal, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  CHECK(total == nb);
  for (int64_t b = 0; b < nb; b++) {
    CHECKF(all[b] == 1, "block %lld is owned by %d ranks", (long long)b, all[b]);
    unravel(a, b, bidx);
    int owner = -1;
    TU_OK(ctx, da_array_block_owner(a, bidx, &owner));
    CHECKF(owner == cyclic_owner(a, bidx), "block %lld: owner %d, want %d", (long long)b, owner,
           cyclic_owner(a, bidx));
    TU_OK(ctx, da_array_block_shape(a, bidx, tmp));
    for (int d = 0; d < nd; d++)
      CHECK(tmp[d] == da_array_chunks(a, d)[bidx[d]]);
    TU_OK(ctx, da_array_block_offset(a, bidx, tmp));
    for (int d = 0; d < nd; d++) {
      int64_t off = 0;
      for (int64_t i = 0; i < bidx[d]; i++)
        off += da_array_chunks(a, d)[i];
      CHECK(tmp[d] == off);
    }
  }
  free(count);
  free(all);
}

/* Shape and offset of block bidx, and its elements. */
static int64_t block_box(da_array a, const int64_t bidx[], int64_t shape[], int64_t off[]) {
  TU_OK(ctx, da_array_block_shape(a, bidx, shape));
  TU_OK(ctx, da_array_block_offset(a, bidx, off));
  return tu_prod(da_array_ndim(a), shape);
}

/* This rank's blocks of the case's values, laid out as a's local blocks (malloc'ed). */
static void **local_ref_blocks(da_array a, const array_case *c, size_t **bytes) {
  int64_t nlocal = da_array_local_nblocks(a);
  void **blocks = tu_malloc((size_t)nlocal * sizeof *blocks);
  *bytes = tu_malloc((size_t)nlocal * sizeof **bytes);
  for (int64_t k = 0; k < nlocal; k++) {
    int64_t bidx[DA_MAX_NDIM], shape[DA_MAX_NDIM], off[DA_MAX_NDIM];
    TU_OK(ctx, da_array_local_block_index(a, k, bidx));
    int64_t n = block_box(a, bidx, shape, off);
    (*bytes)[k] = (size_t)n * c->es;
    blocks[k] = tu_malloc((*bytes)[k]);
    tu_box_copy(c->es, c->ndim, c->shape, c->ref, off, shape, blocks[k], true);
  }
  return blocks;
}

static void free_blocks(void **blocks, size_t *bytes, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    free(blocks[k]);
  free(blocks);
  free(bytes);
}

/* Each local block of a materialized array holds the case's values. */
static void check_local_blocks(da_array a, const array_case *c, const char *what) {
  size_t *bytes;
  void **want = local_ref_blocks(a, c, &bytes);
  for (int64_t k = 0; k < da_array_local_nblocks(a); k++) {
    void *data = NULL;
    TU_OK(ctx, da_array_local_block(a, k, &data));
    COMPARE_N(what, c->dt, data, want[k], (int64_t)(bytes[k] / c->es), -1, 0);
  }
  free_blocks(want, bytes, da_array_local_nblocks(a));
}

/* da_to_blocks gives the same values as the local blocks of the reference. */
static void check_to_blocks(da_array a, const array_case *c, const char *what) {
  size_t *bytes;
  int64_t nlocal = da_array_local_nblocks(a);
  void **want = local_ref_blocks(a, c, &bytes);
  void **got = tu_malloc((size_t)nlocal * sizeof *got);
  for (int64_t k = 0; k < nlocal; k++) {
    got[k] = tu_malloc(bytes[k]);
    memset(got[k], 0xee, bytes[k]);
  }
  TU_OK(ctx, da_to_blocks(a, got, bytes));
  for (int64_t k = 0; k < nlocal; k++)
    COMPARE_N(what, c->dt, got[k], want[k], (int64_t)(bytes[k] / c->es), -1, 0);
  free_blocks(want, bytes, nlocal);
  free_blocks(got, NULL, nlocal);
}

/* Gathers a to a random root and to every rank; both must be the reference, bit for bit. */
static void check_gather(da_array a, const void *want, const char *what) {
  tu_state *st = tu_st();
  size_t bytes = (size_t)da_array_nbytes(a);
  int root = (int)tu_int(&rng, 0, st->size - 1);
  void *buf = tu_malloc(bytes);
  memset(buf, 0x11, bytes);
  TU_OK(ctx, da_compute(a, root, st->rank == root ? buf : NULL, st->rank == root ? bytes : 0));
  if (st->rank == root)
    COMPARE(what, da_array_dtype(a), buf, want, da_array_ndim(a), da_array_shape(a), -1);
  memset(buf, 0x22, bytes);
  TU_OK(ctx, da_compute(a, DA_ALL_RANKS, buf, bytes));
  COMPARE(what, da_array_dtype(a), buf, want, da_array_ndim(a), da_array_shape(a), -1);
  free(buf);
}

/* Scatter from each possible root, then gather back. */
static void test_from_root(void) {
  tu_state *st = tu_st();
  int ncases = 3 * st->size > DA_NDTYPES ? 3 * st->size : DA_NDTYPES;
  for (int i = 0; i < ncases; i++) {
    int root = i % st->size;
    array_case c;
    random_case(&c, all_dtypes[i % DA_NDTYPES], 3000);
    da_array a;
    size_t bytes = (size_t)c.n * c.es;
    TU_OK(ctx, da_from_root(ctx, root, c.ndim, c.shape, &c.ck.c, c.dt,
                            st->rank == root ? c.ref : NULL, st->rank == root ? bytes : 0, &a));
    CHECK(!da_array_is_lazy(a));
    CHECK(da_array_nbytes(a) == (int64_t)bytes);
    char what[64];
    snprintf(what, sizeof what, "from_root(root=%d)", root);
    check_layout(a);
    check_local_blocks(a, &c, what);
    check_gather(a, c.ref, what);
    check_gather(a, c.ref, what); /* again: gathering leaves the array as it was */
    check_to_blocks(a, &c, what);
    free(c.ref);
    da_array_destroy(&a);
    tu_sync();
  }
}

static void test_from_blocks(void) {
  for (int i = 0; i < 33; i++) {
    da_ownership own = (da_ownership)(i % 3);
    const char *what = own == DA_COPY     ? "from_blocks(DA_COPY)"
                       : own == DA_BORROW ? "from_blocks(DA_BORROW)"
                                          : "from_blocks(DA_OWN)";
    array_case c;
    random_case(&c, all_dtypes[(i / 3) % DA_NDTYPES], 3000);
    /* A lazy array of the same shape and chunks tells which blocks this rank provides. */
    da_array layout, a;
    TU_OK(ctx, da_empty(ctx, c.ndim, c.shape, &c.ck.c, c.dt, &layout));
    size_t *bytes;
    void **blocks = local_ref_blocks(layout, &c, &bytes);
    int64_t nlocal = da_array_local_nblocks(layout);
    TU_OK(ctx, da_from_blocks(ctx, c.ndim, c.shape, &c.ck.c, c.dt, blocks, bytes, own, &a));
    CHECK(!da_array_is_lazy(a));
    CHECK(da_array_local_nblocks(a) == nlocal);
    for (int64_t k = 0; k < nlocal; k++) {
      int64_t b1[DA_MAX_NDIM], b2[DA_MAX_NDIM];
      TU_OK(ctx, da_array_local_block_index(a, k, b1));
      TU_OK(ctx, da_array_local_block_index(layout, k, b2));
      CHECK(memcmp(b1, b2, (size_t)c.ndim * sizeof(int64_t)) == 0);
    }
    da_array_destroy(&layout);
    check_layout(a);
    if (own == DA_COPY) { /* the array has its own copy: the user's buffers can go */
      free_blocks(blocks, NULL, nlocal);
      blocks = NULL;
    }
    check_gather(a, c.ref, what);

    /* Change the first element of every block: through the borrowed buffer, or in place
     * through da_array_local_block. Every rank updates the whole reference alike. */
    for (int64_t k = 0; k < nlocal; k++) {
      void *data = NULL;
      TU_OK(ctx, da_array_local_block(a, k, &data));
      if (own == DA_BORROW)
        CHECK(data == blocks[k]);
      if (bytes[k] == 0)
        continue;
      memset(own == DA_BORROW ? blocks[k] : data, 0x7b, c.es);
      if (c.dt == DA_BOOL)
        memset(own == DA_BORROW ? blocks[k] : data, 1, 1);
    }
    for (int64_t b = 0; b < da_array_nblocks(a); b++) {
      int64_t bidx[DA_MAX_NDIM], shape[DA_MAX_NDIM], off[DA_MAX_NDIM], w = 0;
      unravel(a, b, bidx);
      if (block_box(a, bidx, shape, off) == 0)
        continue;
      for (int d = 0; d < c.ndim; d++)
        w = w * c.shape[d] + off[d];
      memset((char *)c.ref + (size_t)w * c.es, c.dt == DA_BOOL ? 1 : 0x7b, c.es);
    }
    check_gather(a, c.ref, what);
    check_to_blocks(a, &c, what);
    da_array_destroy(&a);
    if (own == DA_BORROW) /* the caller's again once the array is gone */
      free_blocks(blocks, NULL, nlocal);
    else if (own == DA_OWN) /* darray freed the blocks, only the table is ours */
      free(blocks);
    free(bytes);
    free(c.ref);
    tu_sync();
  }
}

/* Lazy arrays: computing twice gives the same bits; persisting keeps them and materializes. */
static void test_persist(void) {
  for (int i = 0; i < 16; i++) {
    int ndim = (int)tu_int(&rng, 1, 4);
    int64_t shape[DA_MAX_NDIM];
    tu_random_shape(&rng, ndim, 3000, true, shape);
    tu_chunking ck;
    tu_random_chunks(&rng, ndim, shape, 200, &ck);
    da_dtype dt = i % 2 ? DA_FLOAT32 : DA_FLOAT64;
    da_array x, a;
    TU_OK(ctx, da_random_uniform(ctx, 1000 + (uint64_t)i, -1, 1, ndim, shape, &ck.c, dt, &x));
    if (i % 4 < 2) { /* a reduction over random axes of it, or the array itself */
      int axes[DA_MAX_NDIM], naxes = 0;
      for (int d = 0; d < ndim; d++)
        if (tu_chance(&rng, 0.5))
          axes[naxes++] = d;
      TU_OK(ctx, da_sum(x, naxes, axes, 0, &a));
    } else {
      TU_OK(ctx, da_array_ref(x, &a));
    }
    CHECK(da_array_is_lazy(a));
    array_case c = {.ndim = da_array_ndim(a), .dt = da_array_dtype(a)};
    memcpy(c.shape, da_array_shape(a), (size_t)c.ndim * sizeof(int64_t));
    c.n = da_array_size(a), c.es = da_dtype_size(c.dt);
    void *first = tu_gather_all(a), *second = tu_gather_all(a);
    COMPARE("computed twice", c.dt, second, first, c.ndim, c.shape, -1);
    c.ref = first;
    check_to_blocks(a, &c, "to_blocks of a lazy array");
    CHECK(da_array_is_lazy(a));
    TU_OK(ctx, da_persist(a));
    CHECK(!da_array_is_lazy(a));
    TU_OK(ctx, da_persist(a)); /* a no-op now */
    da_array_destroy(&x);      /* the persisted array no longer needs its inputs */
    check_local_blocks(a, &c, "persisted blocks");
    check_gather(a, first, "persisted");
    check_layout(a);
    free(first);
    free(second);
    da_array_destroy(&a);
    tu_sync();
  }
}

/* References: one array, two handles; it lives until both are gone. */
static void test_refs(void) {
  da_array a, b;
  TU_OK(ctx, da_arange(ctx, 0, 100, 1, DA_CHUNKS(7), DA_INT32, &a));
  TU_OK(ctx, da_array_ref(a, &b));
  CHECK(a == b);
  TU_OK(ctx, da_persist(b));
  CHECK(!da_array_is_lazy(a));
  da_array_destroy(&a);
  CHECK(a == NULL);
  int32_t want[100], got[100];
  for (int i = 0; i < 100; i++)
    want[i] = i;
  TU_OK(ctx, da_compute(b, DA_ALL_RANKS, got, sizeof got));
  COMPARE_N("array kept alive by its second reference", DA_INT32, got, want, 100, -1, 0);
  da_array_destroy(&b);
  CHECK(da_array_destroy(&b) == DA_OK); /* NULL is a no-op */
  CHECK(da_array_destroy(NULL) == DA_OK);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t120-scatter-gather");
  rng = tu_rng_make(120);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  test_from_root();
  test_from_blocks();
  test_persist();
  test_refs();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
