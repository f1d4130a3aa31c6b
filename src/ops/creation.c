/* Creation layers: constant fills, ranges, identity matrices, and the *_like forms.
 * All are generators: their tiles are computed from element coordinates alone. */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
  double value;
  double start, step, stop; /* arange and linspace */
  int64_t last;             /* linspace: index whose value is exactly stop, or -1 */
  int64_t k;                /* eye: the diagonal */
} gen_params;

static void fill_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                      const void *const *in, void *out) {
  (void)b, (void)start, (void)in;
  const gen_params *p = a->params;
  da_fill_value(a->dtype, p->value, out, count);
}

struct range_run {
  const gen_params *p;
  da_dtype dt;
  size_t elsize;
  char *out;
  int64_t start;
};

static void range_run(void *ud, int64_t offset, const int64_t gidx[], int64_t glin, int64_t len) {
  (void)gidx;
  struct range_run *r = ud;
  double v[256];
  for (int64_t s = 0; s < len; s += 256) {
    int64_t m = len - s < 256 ? len - s : 256;
    for (int64_t i = 0; i < m; i++) {
      int64_t g = glin + s + i;
      v[i] = g == r->p->last ? r->p->stop : r->p->start + (double)g * r->p->step;
    }
    da_convert_from_f64(r->dt, v, r->out + (offset - r->start + s) * (int64_t)r->elsize, m);
  }
}

static void range_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                       const void *const *in, void *out) {
  (void)in;
  struct range_run r = {a->params, a->dtype, a->elsize, out, start};
  da_block_runs(a, b, start, count, range_run, &r);
}

static void eye_run(void *ud, int64_t offset, const int64_t gidx[], int64_t glin, int64_t len) {
  (void)glin;
  struct range_run *r = ud;
  char *o = r->out + (offset - r->start) * (int64_t)r->elsize;
  da_fill_value(r->dt, 0, o, len);
  int64_t col; /* the one column of this row on the diagonal (none when k is out of reach) */
  if (!__builtin_add_overflow(gidx[0], r->p->k, &col) && col >= gidx[1] && col < gidx[1] + len)
    da_fill_value(r->dt, 1, o + (col - gidx[1]) * (int64_t)r->elsize, 1);
}

static void eye_tile(const da_array a, int64_t b, int64_t start, int64_t count,
                     const void *const *in, void *out) {
  (void)in;
  struct range_run r = {a->params, a->dtype, a->elsize, out, start};
  da_block_runs(a, b, start, count, eye_run, &r);
}

#define GENERATOR(var, label, fn)                                                                  \
  static const da_layer_ops var = {.name = label, .aligned = true, .tile = fn}

GENERATOR(empty_ops, "empty", fill_tile);
GENERATOR(zeros_ops, "zeros", fill_tile);
GENERATOR(ones_ops, "ones", fill_tile);
GENERATOR(full_ops, "full", fill_tile);
GENERATOR(arange_ops, "arange", range_tile);
GENERATOR(linspace_ops, "linspace", range_tile);
GENERATOR(eye_ops, "eye", eye_tile);

/* A generator node of the requested shape and chunks. */
static int generator(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                     da_dtype dt, const da_layer_ops *ops, gen_params params, da_array *out) {
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (!ctx)
    return DA_ERR_ARG;
  DA_TRY(da_check_shape(ctx, ndim, shape, dt));
  int64_t *ck[DA_MAX_NDIM], nck[DA_MAX_NDIM];
  DA_TRY(da_chunks_resolve(ctx, ndim, shape, chunks, da_dtype_size(dt), ck, nck));
  gen_params *p = malloc(sizeof *p);
  int rc;
  if (!p) {
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters");
  } else {
    *p = params;
    rc = da_node_new(ctx, ndim, shape, (const int64_t *const *)ck, nck, dt, da_dtype_size(dt), NULL,
                     ops, p, 0, NULL, out);
  }
  for (int a = 0; a < ndim; a++)
    free(ck[a]);
  return rc;
}

int da_empty(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks, da_dtype dt,
             da_array *out) {
  /* Zero-filled: as cheap as garbage here, and deterministic. */
  return generator(ctx, ndim, shape, chunks, dt, &empty_ops, (gen_params){.value = 0}, out);
}

int da_zeros(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks, da_dtype dt,
             da_array *out) {
  return generator(ctx, ndim, shape, chunks, dt, &zeros_ops, (gen_params){.value = 0}, out);
}

int da_ones(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks, da_dtype dt,
            da_array *out) {
  return generator(ctx, ndim, shape, chunks, dt, &ones_ops, (gen_params){.value = 1}, out);
}

int da_full(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks, da_dtype dt,
            double value, da_array *out) {
  return generator(ctx, ndim, shape, chunks, dt, &full_ops, (gen_params){.value = value}, out);
}

int da_arange(da_ctx ctx, double start, double stop, double step, const da_chunks *chunks,
              da_dtype dt, da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!isfinite(start) || !isfinite(stop) || !isfinite(step))
    return DA_ERR(ctx, DA_ERR_ARG, "arange needs finite start, stop and step");
  if (step == 0)
    return DA_ERR(ctx, DA_ERR_ARG, "arange step is zero");
  double len = ceil((stop - start) / step);
  if (len > 9.0e18)
    return DA_ERR(ctx, DA_ERR_OVERFLOW, "arange has too many elements");
  int64_t n = len > 0 ? (int64_t)len : 0;
  gen_params p = {.start = start, .step = step, .last = -1};
  return generator(ctx, 1, &n, chunks, dt, &arange_ops, p, out);
}

int da_linspace(da_ctx ctx, double start, double stop, int64_t num, int endpoint,
                const da_chunks *chunks, da_dtype dt, da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (num < 0)
    return DA_ERR(ctx, DA_ERR_ARG, "linspace num %lld is negative", (long long)num);
  if (!isfinite(start) || !isfinite(stop))
    return DA_ERR(ctx, DA_ERR_ARG, "linspace needs finite start and stop");
  int64_t div = endpoint ? num - 1 : num;
  gen_params p = {.start = start,
                  .stop = stop,
                  .step = div > 0 ? (stop - start) / (double)div : 0,
                  .last = endpoint && num > 1 ? num - 1 : -1};
  return generator(ctx, 1, &num, chunks, dt, &linspace_ops, p, out);
}

int da_eye(da_ctx ctx, int64_t n, int64_t m, int64_t k, const da_chunks *chunks, da_dtype dt,
           da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (m < 0)
    m = n; /* NumPy's M=None */
  return generator(ctx, 2, (int64_t[]){n, m}, chunks, dt, &eye_ops, (gen_params){.k = k}, out);
}

/* The chunks of a, spelled as explicit lists. */
static da_chunks chunks_of(da_array a) {
  da_chunks c = {0};
  for (int d = 0; d < a->ndim; d++) {
    c.list[d] = a->chunks[d];
    c.nlist[d] = a->numblocks[d];
  }
  return c;
}

static int like(da_array a, const da_layer_ops *ops, double value, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_chunks c = chunks_of(a);
  return generator(a->ctx, a->ndim, a->shape, &c, a->dtype, ops, (gen_params){.value = value}, out);
}

int da_empty_like(da_array a, da_array *out) {
  return like(a, &empty_ops, 0, out);
}
int da_zeros_like(da_array a, da_array *out) {
  return like(a, &zeros_ops, 0, out);
}
int da_ones_like(da_array a, da_array *out) {
  return like(a, &ones_ops, 1, out);
}
int da_full_like(da_array a, double value, da_array *out) {
  return like(a, &full_ops, value, out);
}
