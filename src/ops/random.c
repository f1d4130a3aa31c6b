/* Random arrays: generator layers over the counter-based streams of the kernels, so the
 * same seed gives the same array for any chunking and any number of ranks. */
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>

typedef enum { RNG_UNIFORM, RNG_NORMAL, RNG_RANDINT } rng_kind;

typedef struct {
  rng_kind kind;
  uint64_t key, key2;
  double a, b;     /* low/high or loc/scale */
  int64_t low;     /* randint */
  uint64_t range;  /* randint: high - low */
  da_ziggurat zig; /* normal */
} rng_params;

struct rng_run {
  const rng_params *p;
  da_dtype dt;
  size_t elsize;
  char *out;
  int64_t start;
};

static void rng_run(void *ud, int64_t offset, const int64_t gidx[], int64_t glin, int64_t len) {
  (void)gidx;
  struct rng_run *r = ud;
  const rng_params *p = r->p;
  void *o = r->out + (offset - r->start) * (int64_t)r->elsize;
  switch (p->kind) {
  case RNG_UNIFORM:
    da_rng_uniform(p->key, (uint64_t)glin, len, p->a, p->b, r->dt, o);
    break;
  case RNG_NORMAL:
    da_rng_normal(&p->zig, p->key, p->key2, (uint64_t)glin, len, p->a, p->b, r->dt, o);
    break;
  case RNG_RANDINT:
    da_rng_randint(p->key, p->key2, (uint64_t)glin, len, p->low, p->range, r->dt, o);
    break;
  }
}

static void rng_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                     const void *const *in, void *out) {
  (void)in;
  struct rng_run r = {a->params, a->dtype, a->elsize, out, start};
  da_block_runs(a, b, start, count, rng_run, &r);
}

static const da_layer_ops uniform_ops = {.name = "uniform", .aligned = true, .tile = rng_tile};
static const da_layer_ops normal_ops = {.name = "normal", .aligned = true, .tile = rng_tile};
static const da_layer_ops randint_ops = {.name = "randint", .aligned = true, .tile = rng_tile};

static int rng_node(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                    da_dtype dt, const da_layer_ops *ops, rng_params *p, da_array *out) {
  int64_t *ck[DA_MAX_NDIM], nck[DA_MAX_NDIM];
  int rc = da_check_shape(ctx, ndim, shape, dt);
  if (!rc)
    rc = da_chunks_resolve(ctx, ndim, shape, chunks, da_dtype_size(dt), ck, nck);
  if (rc) {
    free(p);
    return rc;
  }
  rc = da_node_new(ctx, ndim, shape, (const int64_t *const *)ck, nck, dt, da_dtype_size(dt), NULL,
                   ops, p, 0, NULL, out);
  for (int a = 0; a < ndim; a++)
    free(ck[a]);
  return rc;
}

static int rng_start(da_ctx ctx, uint64_t seed, rng_kind kind, da_array *out, rng_params **p) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  *p = calloc(1, sizeof **p);
  if (!*p)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  (*p)->kind = kind;
  (*p)->key = da_rng_key(seed, 2 * (uint64_t)kind);
  (*p)->key2 = da_rng_key(seed, 2 * (uint64_t)kind + 1);
  return DA_OK;
}

int da_random_uniform(da_ctx ctx, uint64_t seed, double low, double high, int ndim,
                      const int64_t shape[], const da_chunks *chunks, da_dtype dt, da_array *out) {
  rng_params *p;
  DA_TRY(rng_start(ctx, seed, RNG_UNIFORM, out, &p));
  int rc = DA_OK;
  if (!da_dtype_is_float(dt))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "uniform needs float32 or float64, not %s", da_dtype_name(dt));
  else if (!isfinite(low) || !isfinite(high) || !(low < high))
    rc = DA_ERR(ctx, DA_ERR_ARG, "uniform needs finite low < high (got %g, %g)", low, high);
  if (rc) {
    free(p);
    return rc;
  }
  p->a = low, p->b = high;
  return rng_node(ctx, ndim, shape, chunks, dt, &uniform_ops, p, out);
}

int da_random_normal(da_ctx ctx, uint64_t seed, double loc, double scale, int ndim,
                     const int64_t shape[], const da_chunks *chunks, da_dtype dt, da_array *out) {
  rng_params *p;
  DA_TRY(rng_start(ctx, seed, RNG_NORMAL, out, &p));
  int rc = DA_OK;
  if (!da_dtype_is_float(dt))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "normal needs float32 or float64, not %s", da_dtype_name(dt));
  else if (!isfinite(loc) || !isfinite(scale) || scale < 0)
    rc = DA_ERR(ctx, DA_ERR_ARG, "normal needs finite loc and scale >= 0 (got %g, %g)", loc, scale);
  if (rc) {
    free(p);
    return rc;
  }
  p->a = loc, p->b = scale;
  da_ziggurat_init(&p->zig);
  return rng_node(ctx, ndim, shape, chunks, dt, &normal_ops, p, out);
}

int da_random_randint(da_ctx ctx, uint64_t seed, int64_t low, int64_t high, int ndim,
                      const int64_t shape[], const da_chunks *chunks, da_dtype dt, da_array *out) {
  rng_params *p;
  DA_TRY(rng_start(ctx, seed, RNG_RANDINT, out, &p));
  int rc = DA_OK;
  if (!da_dtype_is_signed(dt) && !da_dtype_is_unsigned(dt)) {
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "randint needs an integer dtype, not %s", da_dtype_name(dt));
  } else if (low >= high) {
    rc = DA_ERR(ctx, DA_ERR_ARG, "randint needs low < high (got %lld, %lld)", (long long)low,
                (long long)high);
  } else {
    /* [low, high) must fit the dtype, as NumPy checks. */
    int bits = (int)da_dtype_size(dt) * 8;
    int64_t lo =
        da_dtype_is_signed(dt) ? (bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1))) : 0;
    int64_t hi = da_dtype_is_signed(dt) ? (bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1)
                                        : (bits == 64 ? INT64_MAX : ((int64_t)1 << bits) - 1);
    if (low < lo || high - 1 > hi)
      rc = DA_ERR(ctx, DA_ERR_ARG, "randint range [%lld, %lld) does not fit %s", (long long)low,
                  (long long)high, da_dtype_name(dt));
  }
  if (rc) {
    free(p);
    return rc;
  }
  p->low = low;
  p->range = (uint64_t)high - (uint64_t)low;
  return rng_node(ctx, ndim, shape, chunks, dt, &randint_ops, p, out);
}
