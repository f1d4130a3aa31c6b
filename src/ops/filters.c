/* Filters on map_overlap: uniform_filter, convolve, laplace and gradient. Each is a block
 * function that reads an extended block (its halo from da_overlap) and writes the block's own
 * cells; kernels are generated per float dtype (integers are cast to float64 first). */
#include "core/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- parameters */

/* A tap of a stencil: nd offsets from the output cell, then its weight. */
typedef union {
  int64_t i;
  double f;
} filter_slot;

/* What a lazy filter needs when its graph runs; its node owns it. */
typedef struct filter_params {
  int nd;
  int64_t size[DA_MAX_NDIM]; /* uniform_filter: the window per axis */
  int64_t ntaps;             /* convolve, laplace: ntaps taps of nd + 1 slots */
  filter_slot tap[];
} filter_params;

static filter_params *params_new(da_ctx ctx, int nd, int64_t ntaps) {
  filter_params *p =
      da_calloc(ctx, 1, sizeof *p + (size_t)ntaps * (size_t)(nd + 1) * sizeof(filter_slot));
  if (p)
    p->nd = nd, p->ntaps = ntaps;
  return p;
}

/* ---------------------------------------------------------------- kernels */

static int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
static int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

/* The elements of an extended block and how the pass along axis sees it: [outer][len][inner]. */
static void around_axis(int nd, const int64_t shape[], int axis, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < axis; d++)
    *outer *= shape[d];
  for (int d = axis + 1; d < nd; d++)
    *inner *= shape[d];
}

/* One pass of uniform_filter, src [outer][len][inner] -> dst [outer][n][inner]: dst row i is
 * the mean of the rows i + base .. i + base + size - 1 of src that exist (0 <= row < len; all
 * of them unless a DA_BOUNDARY_NONE edge cut the window). inv holds n scratch entries.
 *
 * taps: out[p] = sum over taps t of w_t * in[p + halo_lo + off_t], rows along the last axis
 * accumulated in double (acc: out_shape[nd - 1] scratch entries); taps that fall outside the
 * extended block (a DA_BOUNDARY_NONE edge) are left out.
 *
 * gradient: NumPy's differences along one axis in T's arithmetic, central inside
 * ((f[i+1] - f[i-1]) / 2), one-sided at the array edge, which has no halo there. */
#define FILTER_KERNELS(T, sfx)                                                                     \
  static void uniform_pass_##sfx(const T *src, int64_t outer, int64_t len, int64_t inner,          \
                                 double *dst, int64_t n, int64_t base, int64_t size,               \
                                 double *inv) {                                                    \
    for (int64_t i = 0; i < n; i++)                                                                \
      inv[i] = 1.0 / (double)(min64(size, len - base - i) - max64(0, -(base + i)));                \
    for (int64_t o = 0; o < outer; o++) {                                                          \
      const T *s = src + o * len * inner;                                                          \
      double *d = dst + o * n * inner;                                                             \
      if (inner == 1) {                                                                            \
        for (int64_t i = 0; i < n; i++)                                                            \
          d[i] = 0;                                                                                \
        for (int64_t k = 0; k < size; k++) {                                                       \
          int64_t b = base + k, hi = min64(n, len - b);                                            \
          for (int64_t i = max64(0, -b); i < hi; i++)                                              \
            d[i] += s[i + b];                                                                      \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++)                                                            \
          d[i] *= inv[i];                                                                          \
        continue;                                                                                  \
      }                                                                                            \
      for (int64_t i = 0; i < n; i++) {                                                            \
        int64_t k0 = max64(0, -(base + i)), k1 = min64(size, len - base - i);                      \
        double *dr = d + i * inner, w = inv[i];                                                    \
        const T *sr = s + (i + base + k0) * inner;                                                 \
        for (int64_t j = 0; j < inner; j++)                                                        \
          dr[j] = sr[j];                                                                           \
        for (int64_t k = k0 + 1; k < k1; k++) {                                                    \
          sr = s + (i + base + k) * inner;                                                         \
          for (int64_t j = 0; j < inner; j++)                                                      \
            dr[j] += sr[j];                                                                        \
        }                                                                                          \
        for (int64_t j = 0; j < inner; j++)                                                        \
          dr[j] *= w;                                                                              \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  static void taps_##sfx(const filter_params *p, const T *in, const int64_t ext[],                 \
                         const int64_t n[], const int64_t hlo[], T *out, double *acc) {            \
    int nd = p->nd, last = nd - 1;                                                                 \
    int64_t nl = n[last], el = ext[last], rows = 1, idx[DA_MAX_NDIM] = {0};                        \
    for (int d = 0; d < last; d++)                                                                 \
      rows *= n[d];                                                                                \
    for (int64_t r = 0; r < rows; r++) {                                                           \
      T *o = out + r * nl;                                                                         \
      double *a = sizeof(T) == sizeof(double) ? (double *)(void *)o : acc;                         \
      for (int64_t i = 0; i < nl; i++)                                                             \
        a[i] = 0;                                                                                  \
      for (int64_t t = 0; t < p->ntaps; t++) {                                                     \
        const filter_slot *tp = p->tap + t * (nd + 1);                                             \
        int64_t lin = 0;                                                                           \
        int d = 0;                                                                                 \
        for (; d < last; d++) {                                                                    \
          int64_t e = idx[d] + hlo[d] + tp[d].i;                                                   \
          if (e < 0 || e >= ext[d])                                                                \
            break;                                                                                 \
          lin = lin * ext[d] + e;                                                                  \
        }                                                                                          \
        if (d < last)                                                                              \
          continue;                                                                                \
        const T *s = in + lin * el;                                                                \
        int64_t b = hlo[last] + tp[last].i, hi = min64(nl, el - b);                                \
        double w = tp[nd].f;                                                                       \
        for (int64_t i = max64(0, -b); i < hi; i++)                                                \
          a[i] += w * s[i + b];                                                                    \
      }                                                                                            \
      if ((void *)a != (void *)o)                                                                  \
        for (int64_t i = 0; i < nl; i++)                                                           \
          o[i] = (T)a[i];                                                                          \
      for (int d = last - 1; d >= 0 && ++idx[d] == n[d]; d--)                                      \
        idx[d] = 0;                                                                                \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  static void gradient_##sfx(const T *in, int64_t outer, int64_t len, int64_t inner, T *out,       \
                             int64_t n, int64_t hl) {                                              \
    const T half = (T)0.5;                                                                         \
    /* Output rows i0 .. i1 - 1 have both neighbours; the others sit at an array edge. */          \
    int64_t i0 = hl ? 0 : 1, i1 = hl + n < len ? n : n - 1;                                        \
    for (int64_t o = 0; o < outer; o++) {                                                          \
      const T *s = in + o * len * inner;                                                           \
      T *d = out + o * n * inner;                                                                  \
      if (inner == 1) {                                                                            \
        for (int64_t i = i0; i < i1; i++)                                                          \
          d[i] = (s[i + hl + 1] - s[i + hl - 1]) * half;                                           \
      } else {                                                                                     \
        for (int64_t i = i0; i < i1; i++) {                                                        \
          const T *up = s + (i + hl + 1) * inner, *dn = s + (i + hl - 1) * inner;                  \
          T *dr = d + i * inner;                                                                   \
          for (int64_t j = 0; j < inner; j++)                                                      \
            dr[j] = (up[j] - dn[j]) * half;                                                        \
        }                                                                                          \
      }                                                                                            \
      if (i0 == 1) /* f[1] - f[0] */                                                               \
        for (int64_t j = 0; j < inner; j++)                                                        \
          d[j] = s[inner + j] - s[j];                                                              \
      if (i1 == n - 1) /* f[n-1] - f[n-2] */                                                       \
        for (int64_t j = 0; j < inner; j++)                                                        \
          d[(n - 1) * inner + j] = s[(len - 1) * inner + j] - s[(len - 2) * inner + j];            \
    }                                                                                              \
  }

FILTER_KERNELS(float, f32)
FILTER_KERNELS(double, f64)

/* The shapes of one call: the extended input (ext), the block (n) and the halos before it;
 * nonzero when they do not fit together, or the input is not float32 / float64. */
static int block_shapes(const da_block_info *info, const int64_t **ext, const int64_t **n,
                        int64_t *count) {
  if (info->nin != 1 || info->in_ndim != info->out_ndim || info->in_dtype[0] != info->out_dtype ||
      (info->out_dtype != DA_FLOAT32 && info->out_dtype != DA_FLOAT64))
    return 1;
  *ext = info->in_shape[0];
  *n = info->out_shape;
  *count = 1;
  for (int d = 0; d < info->in_ndim; d++) {
    if ((*ext)[d] != info->halo_lo[d] + (*n)[d] + info->halo_hi[d])
      return 1;
    *count *= (*n)[d];
  }
  return 0;
}

/* Elements of scratch a slab of uniform_filter aims at: its passes stay in cache. */
#define UNIFORM_SLAB 32768

/* uniform_filter on one slab: in (ext, C order) to out (n), a separable pass along each axis
 * of axes[], the window of axis d starting base[d] cells from each output cell; in double,
 * the last pass into out (through scratch for float32). buf: inv, then two buffers of need. */
static void uniform_slab(const filter_params *p, int nd, const int axes[], int npass, bool f32,
                         const void *in, const int64_t ext[], const int64_t n[],
                         const int64_t base[], void *out, double *buf, int64_t maxn, int64_t need) {
  double *inv = buf, *ping = buf + maxn;
  int64_t cur[DA_MAX_NDIM], count = 1;
  memcpy(cur, ext, (size_t)nd * sizeof *cur);
  const void *src = in;
  for (int k = 0; k < npass; k++) {
    int d = axes[k];
    int64_t outer, inner;
    around_axis(nd, cur, d, &outer, &inner);
    double *dst = k == npass - 1 && !f32 ? out : k % 2 ? ping + need : ping;
    if (k == 0 && f32)
      uniform_pass_f32(src, outer, cur[d], inner, dst, n[d], base[d], p->size[d], inv);
    else
      uniform_pass_f64(src, outer, cur[d], inner, dst, n[d], base[d], p->size[d], inv);
    cur[d] = n[d];
    src = dst;
  }
  if (f32) {
    for (int d = 0; d < nd; d++)
      count *= n[d];
    const double *s = src;
    float *o = out;
    for (int64_t i = 0; i < count; i++)
      o[i] = (float)s[i];
  }
}

/* uniform_filter on one block, in slabs of output rows along axis 0 so the scratch of the
 * passes stays small: each slab reads the input rows its windows reach. */
static int uniform_block(const da_block_info *info, void *user) {
  const filter_params *p = user;
  const int64_t *ext, *n;
  int64_t count;
  if (block_shapes(info, &ext, &n, &count))
    return 1;
  int nd = info->in_ndim;
  bool f32 = info->out_dtype == DA_FLOAT32;
  size_t es = f32 ? sizeof(float) : sizeof(double);
  if (count == 0)
    return 0;
  /* Passes along the axes with a window or a halo; none: the block as it is. */
  int axes[DA_MAX_NDIM], npass = 0;
  int64_t base[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++) {
    base[d] = info->halo_lo[d] - p->size[d] / 2;
    if (p->size[d] > 1 || ext[d] != n[d])
      axes[npass++] = d;
  }
  if (npass == 0) {
    memcpy(info->out, info->in[0], (size_t)count * es);
    return 0;
  }
  int64_t irow = 1, orow = 1; /* elements per row along axis 0, in and out */
  for (int d = 1; d < nd; d++)
    irow *= ext[d], orow *= n[d];
  int64_t rows = min64(n[0], max64(1, UNIFORM_SLAB / irow));
  /* Scratch for the largest slab: ext and n with at most `rows` output rows. */
  int64_t sext[DA_MAX_NDIM], sn[DA_MAX_NDIM], need = 0, maxn = 0;
  memcpy(sext, ext, (size_t)nd * sizeof *sext);
  memcpy(sn, n, (size_t)nd * sizeof *sn);
  sn[0] = rows;
  sext[0] = min64(ext[0], rows + p->size[0] - 1);
  for (int k = 0; k < npass; k++) {
    sext[axes[k]] = sn[axes[k]];
    int64_t sz = 1;
    for (int d = 0; d < nd; d++)
      sz *= sext[d];
    need = max64(need, sz);
    maxn = max64(maxn, sn[axes[k]]);
  }
  /* float64 writes its last pass straight into the output, so one pass needs no buffer. */
  int nbufs = (int)min64(2, npass - 1 + f32);
  double *buf = malloc(((size_t)maxn + (size_t)nbufs * (size_t)need) * sizeof *buf);
  if (!buf)
    return 2;
  for (int64_t r0 = 0; r0 < n[0]; r0 += rows) {
    /* The input rows lo .. hi - 1 the slab's windows reach along axis 0, clipped to ext. */
    int64_t rn = min64(rows, n[0] - r0), b0 = base[0];
    int64_t lo = max64(0, r0 + b0), hi = min64(ext[0], r0 + rn - 1 + b0 + p->size[0]);
    memcpy(sext, ext, (size_t)nd * sizeof *sext);
    sext[0] = hi - lo, sn[0] = rn, base[0] = r0 + b0 - lo;
    uniform_slab(p, nd, axes, npass, f32, (const char *)info->in[0] + lo * irow * (int64_t)es, sext,
                 sn, base, (char *)info->out + r0 * orow * (int64_t)es, buf, maxn, need);
    base[0] = b0;
  }
  free(buf);
  return 0;
}

/* convolve and laplace on one block: the taps of user. */
static int taps_block(const da_block_info *info, void *user) {
  const filter_params *p = user;
  const int64_t *ext, *n;
  int64_t count;
  if (block_shapes(info, &ext, &n, &count) || info->in_ndim != p->nd)
    return 1;
  if (count == 0)
    return 0;
  if (info->out_dtype == DA_FLOAT64) {
    taps_f64(p, info->in[0], ext, n, info->halo_lo, info->out, NULL);
    return 0;
  }
  double *acc = malloc((size_t)n[p->nd - 1] * sizeof *acc);
  if (!acc)
    return 2;
  taps_f32(p, info->in[0], ext, n, info->halo_lo, info->out, acc);
  free(acc);
  return 0;
}

/* gradient on one block along the axis user carries. */
static int gradient_block(const da_block_info *info, void *user) {
  int axis = (int)(intptr_t)user;
  const int64_t *ext, *n;
  int64_t count, outer, inner;
  if (block_shapes(info, &ext, &n, &count) || axis < 0 || axis >= info->in_ndim)
    return 1;
  if (count == 0)
    return 0;
  around_axis(info->in_ndim, n, axis, &outer, &inner);
  if (info->out_dtype == DA_FLOAT64)
    gradient_f64(info->in[0], outer, ext[axis], inner, info->out, n[axis], info->halo_lo[axis]);
  else
    gradient_f32(info->in[0], outer, ext[axis], inner, info->out, n[axis], info->halo_lo[axis]);
  return 0;
}

/* ---------------------------------------------------------------- entry points */

/* The checks every filter starts with; *nd is x's. */
static int filter_entry(da_array x, da_array *out, const char *name, int *nd) {
  if (!x)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(x->ctx, DA_ERR_ARG, "%s: out is NULL", name);
  *out = NULL;
  *nd = x->ndim;
  if (x->ndim == 0)
    return DA_ERR(x->ctx, DA_ERR_SHAPE, "%s of a 0-d array: it needs at least one axis", name);
  return DA_OK;
}

/* boundary[] (NULL: reflect everywhere) checked into bd[]. */
static int filter_boundary(da_ctx ctx, const char *name, int nd, const da_boundary boundary[],
                           da_boundary bd[]) {
  for (int d = 0; d < nd; d++) {
    int b = boundary ? (int)boundary[d] : (int)DA_BOUNDARY_REFLECT;
    if (b < (int)DA_BOUNDARY_NONE || b > (int)DA_BOUNDARY_CONSTANT)
      return DA_ERR(ctx, DA_ERR_ARG,
                    "%s: boundary %d on axis %d is not a da_boundary (DA_BOUNDARY_NONE, "
                    "_PERIODIC, _REFLECT, _NEAREST or _CONSTANT)",
                    name, b, d);
    bd[d] = (da_boundary)b;
  }
  return DA_OK;
}

/* Collective, after every rank agreed the arguments are good: fn over x's blocks extended by
 * depth (x cast to float64 first unless it is float32 or float64). */
static int filter_run(da_array x, da_block_fn fn, void *user, void (*user_free)(void *),
                      const int64_t depth[], const da_boundary bd[], double constant,
                      da_array *out) {
  da_array xf = NULL;
  int rc = x->dtype == DA_FLOAT32 || x->dtype == DA_FLOAT64 ? da_array_ref(x, &xf)
                                                            : da_astype(x, DA_FLOAT64, &xf);
  if (rc) {
    if (user_free)
      user_free(user);
    return rc;
  }
  rc = da_map_overlap_owned(fn, user, user_free, xf, depth, bd, constant, xf->dtype,
                            DA_OVERLAP_TRIM | DA_OVERLAP_LOCAL, out);
  da_array_destroy(&xf);
  return rc;
}

int da_uniform_filter(da_array x, const int64_t size[], const da_boundary boundary[],
                      da_array *out) {
  int nd = 0, rc = filter_entry(x, out, "uniform_filter", &nd);
  if (!x)
    return rc;
  da_ctx ctx = x->ctx;
  da_boundary bd[DA_MAX_NDIM];
  int64_t depth[DA_MAX_NDIM] = {0};
  if (!rc && !size)
    rc = DA_ERR(ctx, DA_ERR_ARG, "uniform_filter: size is NULL");
  for (int d = 0; !rc && d < nd; d++)
    if (size[d] <= 0)
      rc = DA_ERR(ctx, DA_ERR_ARG, "uniform_filter: size %lld on axis %d; it must be positive",
                  (long long)size[d], d);
  if (!rc)
    rc = filter_boundary(ctx, "uniform_filter", nd, boundary, bd);
  filter_params *p = rc ? NULL : params_new(ctx, nd, 0);
  if (!rc && !p)
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  if (rc) {
    free(p);
    return rc;
  }
  for (int d = 0; d < nd; d++)
    p->size[d] = size[d], depth[d] = size[d] / 2; /* the window reaches size/2 back */
  return filter_run(x, uniform_block, p, free, depth, bd, 0.0, out);
}

int da_convolve(da_array x, const double *kernel, const int64_t kshape[],
                const da_boundary boundary[], double constant, da_array *out) {
  int nd = 0, rc = filter_entry(x, out, "convolve", &nd);
  if (!x)
    return rc;
  da_ctx ctx = x->ctx;
  da_boundary bd[DA_MAX_NDIM];
  int64_t depth[DA_MAX_NDIM] = {0}, nk = 1;
  if (!rc && (!kernel || !kshape))
    rc = DA_ERR(ctx, DA_ERR_ARG, "convolve: %s is NULL", kernel ? "kshape" : "kernel");
  for (int d = 0; !rc && d < nd; d++) {
    if (kshape[d] <= 0)
      rc = DA_ERR(ctx, DA_ERR_ARG, "convolve: kernel shape %lld on axis %d; it must be positive",
                  (long long)kshape[d], d);
    else if (kshape[d] > (INT64_C(1) << 31) / nk)
      rc = DA_ERR(ctx, DA_ERR_OVERFLOW, "convolve: the kernel has more than 2^31 elements");
    else
      nk *= kshape[d];
  }
  if (!rc)
    rc = filter_boundary(ctx, "convolve", nd, boundary, bd);
  /* Zero weights add nothing: only the others become taps. */
  int64_t ntaps = 0;
  for (int64_t j = 0; !rc && j < nk; j++)
    ntaps += kernel[j] != 0;
  filter_params *p = rc ? NULL : params_new(ctx, nd, ntaps);
  if (!rc && !p)
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  if (rc) {
    free(p);
    return rc;
  }
  /* scipy's convolve: out[i] = sum_j k[j] x[i + kshape/2 - j], the kernel flipped about its
   * centre kshape/2, so the halo is kshape/2 on each side. */
  int64_t j[DA_MAX_NDIM] = {0};
  filter_slot *tp = p->tap;
  for (int64_t f = 0; f < nk; f++) {
    if (kernel[f] != 0) {
      for (int d = 0; d < nd; d++)
        tp[d].i = kshape[d] / 2 - j[d];
      tp[nd].f = kernel[f];
      tp += nd + 1;
    }
    for (int d = nd - 1; d >= 0 && ++j[d] == kshape[d]; d--)
      j[d] = 0;
  }
  for (int d = 0; d < nd; d++)
    depth[d] = kshape[d] / 2;
  return filter_run(x, taps_block, p, free, depth, bd, constant, out);
}

int da_laplace(da_array x, const da_boundary boundary[], da_array *out) {
  int nd = 0, rc = filter_entry(x, out, "laplace", &nd);
  if (!x)
    return rc;
  da_ctx ctx = x->ctx;
  da_boundary bd[DA_MAX_NDIM];
  int64_t depth[DA_MAX_NDIM] = {0};
  if (!rc)
    rc = filter_boundary(ctx, "laplace", nd, boundary, bd);
  filter_params *p = rc ? NULL : params_new(ctx, nd, 2 * (int64_t)nd + 1);
  if (!rc && !p)
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  if (rc) {
    free(p);
    return rc;
  }
  /* The centre once with weight -2 nd, then both neighbours along each axis. */
  p->tap[nd].f = -2.0 * nd;
  for (int d = 0; d < nd; d++) {
    filter_slot *lo = p->tap + (1 + 2 * d) * (nd + 1), *hi = lo + nd + 1;
    lo[d].i = -1, hi[d].i = 1;
    lo[nd].f = hi[nd].f = 1.0;
    depth[d] = 1;
  }
  return filter_run(x, taps_block, p, free, depth, bd, 0.0, out);
}

int da_gradient(da_array x, int axis, da_array *out) {
  int nd = 0, rc = filter_entry(x, out, "gradient", &nd);
  if (!x)
    return rc;
  da_ctx ctx = x->ctx;
  int ax = axis < 0 ? axis + nd : axis;
  if (!rc && (ax < 0 || ax >= nd))
    rc = DA_ERR(ctx, DA_ERR_ARG, "gradient: axis %d is out of range for a %d-d array", axis, nd);
  else if (!rc && x->shape[ax] < 2)
    rc = DA_ERR(ctx, DA_ERR_SHAPE,
                "gradient: axis %d has length %lld; at least 2 elements are needed (as NumPy's "
                "edge_order 1)",
                axis, (long long)x->shape[ax]);
  rc = da_agree(ctx, rc);
  if (rc)
    return rc;
  /* One cell of halo along the axis, none at the array edges, where the differences turn
   * one-sided. */
  int64_t depth[DA_MAX_NDIM] = {0};
  da_boundary bd[DA_MAX_NDIM];
  for (int d = 0; d < nd; d++)
    bd[d] = DA_BOUNDARY_NONE;
  depth[ax] = 1;
  return filter_run(x, gradient_block, (void *)(intptr_t)ax, NULL, depth, bd, 0.0, out);
}
