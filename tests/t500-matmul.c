/* Products: matmul, dot, tensordot, vdot, outer, trace and diagonal against plain serial loops
 * over random shapes (non-square, lengths the chunks do not divide, uneven chunks, 1-D and
 * stacked operands with broadcast batch axes), float32, float64, int32 and bool; results that
 * feed further lazy operations; bad input on every rank; and whether a product's bits depend
 * on the number of ranks. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx, self;

/* Small integers: every product and sum is exact in float32 and float64, in any order. */
static void fill_small(da_dtype dt, void *buf, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    tu_set(dt, buf, i, dt == DA_BOOL ? (double)tu_int(&rng, 0, 1) : (double)tu_int(&rng, -8, 8));
}

/* A distributed array of buf: square chunks of s (s > 0), or random uneven ones (s == 0). */
static da_array make(da_ctx c, int nd, const int64_t shape[], da_dtype dt, const void *buf,
                     int64_t s) {
  tu_chunking ck;
  if (s > 0) {
    memset(&ck, 0, sizeof ck);
    for (int d = 0; d < nd; d++)
      ck.c.size[d] = s;
  } else {
    tu_random_chunks(&rng, nd, shape, 24, &ck);
  }
  da_array a;
  size_t bytes = (size_t)tu_prod(nd, shape) * da_dtype_size(dt);
  TU_OK(c, da_from_root(c, 0, nd, shape, &ck.c, dt, (void *)buf, bytes, &a));
  return a;
}

/* got (gathered from r) against want, exactly, with the expected shape and dtype. */
static void expect(da_array r, int nd, const int64_t shape[], da_dtype dt, const double *want,
                   const char *what) {
  char s1[128], s2[128];
  bool same = da_array_ndim(r) == nd && da_array_dtype(r) == dt;
  for (int d = 0; d < nd && same; d++)
    same = da_array_shape(r)[d] == shape[d];
  if (!CHECKF(same, "%s: shape %s dtype %d, want %s dtype %d", what,
              tu_shape_str(da_array_ndim(r), da_array_shape(r), s1, sizeof s1),
              (int)da_array_dtype(r), tu_shape_str(nd, shape, s2, sizeof s2), (int)dt))
    return;
  void *got = tu_gather_all(r);
  int64_t n = tu_prod(nd, shape);
  for (int64_t i = 0; i < n; i++) {
    double w = dt == DA_BOOL ? want[i] != 0 : want[i]; /* bool: any pair both true */
    if (!CHECKF(tu_get(dt, got, i) == w, "%s: element %lld is %.17g, want %.17g", what,
                (long long)i, tu_get(dt, got, i), w))
      break;
  }
  free(got);
}

/* Plain matmul of stacks: a (batch_a..., m, k), b (batch_b..., k, n) broadcast to batch[]. */
static double *ref_matmul(int nb, const int64_t batch[], const int64_t ab[], const int64_t bb[],
                          int64_t m, int64_t k, int64_t n, da_dtype ta, const void *a, da_dtype tb,
                          const void *b) {
  int64_t count = tu_prod(nb, batch);
  double *c = tu_malloc((size_t)(count * m * n) * sizeof *c);
  for (int64_t e = 0; e < count; e++) {
    int64_t rest = e, ea = 0, eb = 0, ma = 1, mb = 1;
    for (int d = nb - 1; d >= 0; d--) {
      int64_t i = rest % batch[d];
      rest /= batch[d];
      ea += (ab[d] == 1 ? 0 : i) * ma, ma *= ab[d];
      eb += (bb[d] == 1 ? 0 : i) * mb, mb *= bb[d];
    }
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t l = 0; l < k; l++)
          s += tu_get(ta, a, ea * m * k + i * k + l) * tu_get(tb, b, eb * k * n + l * n + j);
        c[(e * m + i) * n + j] = s;
      }
  }
  return c;
}

/* NumPy's result dtype of a product, for the dtypes used here. */
static da_dtype product_dtype(da_dtype x, da_dtype y) {
  if (x == DA_FLOAT64 || y == DA_FLOAT64)
    return DA_FLOAT64;
  if (x == DA_FLOAT32 || y == DA_FLOAT32)
    return (x == DA_INT32 || y == DA_INT32) ? DA_FLOAT64 : DA_FLOAT32;
  return x == DA_INT32 || y == DA_INT32 ? DA_INT32 : DA_BOOL;
}

static const da_dtype dtypes[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32, DA_BOOL};

/* 2-D x 2-D and the 1-D forms, direct (square chunks) and redistributed (uneven). */
static void test_matmul_2d(void) {
  for (int t = 0; t < 24; t++) {
    int64_t m = tu_int(&rng, 1, 30), k = tu_int(&rng, 1, 30), n = tu_int(&rng, 1, 30);
    da_dtype ta = dtypes[tu_int(&rng, 0, 3)], tb = t % 3 ? ta : dtypes[tu_int(&rng, 0, 3)];
    int form = (int)tu_int(&rng, 0, 4); /* 0-1: 2-D x 2-D, 2: 1-D x 2-D, 3: 2-D x 1-D, 4: both */
    bool av = form == 2 || form == 4, bv = form == 3 || form == 4;
    if (av)
      m = 1;
    if (bv)
      n = 1;
    int64_t s = tu_chance(&rng, 0.6) ? tu_int(&rng, 2, 9) : 0;
    int64_t sa[2] = {m, k}, sb[2] = {k, n};
    void *ba = tu_malloc((size_t)(m * k) * 8), *bb = tu_malloc((size_t)(k * n) * 8);
    fill_small(ta, ba, m * k);
    fill_small(tb, bb, k * n);
    da_array a = make(ctx, av ? 1 : 2, av ? sa + 1 : sa, ta, ba, s);
    da_array b = make(ctx, bv ? 1 : 2, bv ? sb : sb, tb, bb, s);
    da_array c;
    TU_OK(ctx, (t & 1) ? da_dot(a, b, &c) : da_matmul(a, b, &c));
    CHECK(da_array_is_lazy(c));
    double *want = ref_matmul(0, NULL, NULL, NULL, m, k, n, ta, ba, tb, bb);
    int64_t shape[2];
    int nd = 0;
    if (!av)
      shape[nd++] = m;
    if (!bv)
      shape[nd++] = n;
    char what[96];
    snprintf(what, sizeof what, "matmul (%lld, %lld) @ (%lld, %lld) form %d chunks %lld",
             (long long)m, (long long)k, (long long)k, (long long)n, form, (long long)s);
    expect(c, nd, shape, product_dtype(ta, tb), want, what);
    da_array_destroy(&c);
    da_array_destroy(&a);
    da_array_destroy(&b);
    free(want);
    free(ba);
    free(bb);
  }
}

/* Stacked products with broadcast batch axes, and a 1-D operand against a stack. */
static void test_matmul_stacked(void) {
  for (int t = 0; t < 8; t++) {
    int nb = (int)tu_int(&rng, 1, 2);
    int64_t batch[2], ab[2], bb[2], m = tu_int(&rng, 1, 7), k = tu_int(&rng, 1, 7),
                                    n = tu_int(&rng, 1, 7);
    int nba = (int)tu_int(&rng, 0, nb), nbb = nb; /* a may lack leading batch axes */
    for (int d = 0; d < nb; d++) {
      batch[d] = tu_int(&rng, 1, 4);
      bb[d] = tu_chance(&rng, 0.3) ? 1 : batch[d];
      ab[d] = d < nb - nba ? 1 : (tu_chance(&rng, 0.3) ? 1 : batch[d]);
      if (ab[d] == 1 && bb[d] == 1)
        batch[d] = 1;
    }
    bool bvec = t == 7;
    if (bvec)
      n = 1;
    da_dtype dt = t % 2 ? DA_FLOAT32 : DA_INT32;
    int64_t sa[4], sbs[4];
    for (int d = 0; d < nba; d++)
      sa[d] = ab[d + nb - nba];
    sa[nba] = m, sa[nba + 1] = k;
    for (int d = 0; d < nbb; d++)
      sbs[d] = bb[d];
    sbs[nbb] = k, sbs[nbb + 1] = n;
    int64_t na = tu_prod(nba + 2, sa), nbn = tu_prod(nbb + 2, sbs);
    void *xa = tu_malloc((size_t)na * 8), *xb = tu_malloc((size_t)nbn * 8);
    fill_small(dt, xa, na);
    fill_small(dt, xb, nbn);
    da_array a = make(ctx, nba + 2, sa, dt, xa, 0);
    da_array b = bvec ? make(ctx, 1, &k, dt, xb, 0) : make(ctx, nbb + 2, sbs, dt, xb, 0);
    int64_t bbr[2];
    for (int d = 0; d < nb; d++)
      bbr[d] = bvec ? 1 : bb[d];
    double *want = ref_matmul(nb, batch, ab, bbr, m, k, n, dt, xa, dt, xb);
    da_array c;
    TU_OK(ctx, da_matmul(a, b, &c));
    int64_t shape[4];
    for (int d = 0; d < nb; d++)
      shape[d] = bvec ? ab[d] : batch[d];
    shape[nb] = m, shape[nb + 1] = n;
    expect(c, nb + (bvec ? 1 : 2), shape, product_dtype(dt, dt), want, "stacked matmul");
    da_array_destroy(&c);
    da_array_destroy(&a);
    da_array_destroy(&b);
    free(want);
    free(xa);
    free(xb);
  }
}

/* tensordot over several axis choices (and N-D dot, which is one of them). */
static void test_tensordot(void) {
  const int64_t sa[3] = {3, 4, 5}, sb[3] = {4, 3, 2};
  double xa[60], xb[24];
  fill_small(DA_FLOAT64, xa, 60);
  fill_small(DA_FLOAT64, xb, 24);
  da_array a = make(ctx, 3, sa, DA_FLOAT64, xa, 0), b = make(ctx, 3, sb, DA_FLOAT64, xb, 2);
  /* sum over a's (0, 1) and b's (1, 0): out[k, l] = sum_ij a[i,j,k] b[j,i,l] */
  double w1[10] = {0}, w2[3 * 5 * 4 * 2] = {0}, w3[60 * 24];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 5; k++)
        for (int l = 0; l < 2; l++)
          w1[k * 2 + l] += xa[(i * 4 + j) * 5 + k] * xb[(j * 3 + i) * 2 + l];
  /* one pair: a's axis 1 with b's axis 0: out[i, k, m, l] */
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 5; k++)
      for (int mm = 0; mm < 3; mm++)
        for (int l = 0; l < 2; l++)
          for (int j = 0; j < 4; j++)
            w2[((i * 5 + k) * 3 + mm) * 2 + l] +=
                xa[(i * 4 + j) * 5 + k] * xb[(j * 3 + mm) * 2 + l];
  for (int i = 0; i < 60; i++)
    for (int j = 0; j < 24; j++)
      w3[i * 24 + j] = xa[i] * xb[j];
  da_array c;
  TU_OK(ctx, da_tensordot(a, b, 2, (const int[]){0, 1}, (const int[]){1, 0}, &c));
  expect(c, 2, (const int64_t[]){5, 2}, DA_FLOAT64, w1, "tensordot ((0, 1), (1, 0))");
  da_array_destroy(&c);
  TU_OK(ctx, da_tensordot(a, b, 1, (const int[]){-2}, (const int[]){0}, &c));
  expect(c, 4, (const int64_t[]){3, 5, 3, 2}, DA_FLOAT64, w2, "tensordot ((-2), (0))");
  da_array_destroy(&c);
  TU_OK(ctx, da_tensordot(a, b, 0, NULL, NULL, &c));
  expect(c, 6, (const int64_t[]){3, 4, 5, 4, 3, 2}, DA_FLOAT64, w3, "tensordot 0 axes");
  da_array_destroy(&c);
  /* dot of 3-D a and 3-D d (2, 5, 3): a's last axis with d's second to last. */
  double xd[30], w4[3 * 4 * 2 * 3] = {0};
  fill_small(DA_FLOAT64, xd, 30);
  da_array d = make(ctx, 3, (const int64_t[]){2, 5, 3}, DA_FLOAT64, xd, 0);
  for (int i = 0; i < 12; i++)
    for (int p = 0; p < 2; p++)
      for (int q = 0; q < 3; q++)
        for (int k = 0; k < 5; k++)
          w4[(i * 2 + p) * 3 + q] += xa[i * 5 + k] * xd[(p * 5 + k) * 3 + q];
  TU_OK(ctx, da_dot(a, d, &c));
  expect(c, 4, (const int64_t[]){3, 4, 2, 3}, DA_FLOAT64, w4, "dot 3-d . 3-d");
  da_array_destroy(&c);
  da_array_destroy(&d);
  da_array_destroy(&a);
  da_array_destroy(&b);
}

/* vdot, outer, trace, diagonal: NumPy's dtypes (integers stay integers). */
static void test_small_ops(void) {
  int32_t xa[60], xb[60];
  fill_small(DA_INT32, xa, 60);
  fill_small(DA_INT32, xb, 60);
  da_array a = make(ctx, 3, (const int64_t[]){3, 4, 5}, DA_INT32, xa, 0);
  da_array b = make(ctx, 2, (const int64_t[]){6, 10}, DA_INT32, xb, 0);
  da_array c;
  double w = 0, wo[60 * 60];
  for (int i = 0; i < 60; i++)
    w += (double)xa[i] * xb[i];
  TU_OK(ctx, da_vdot(a, b, &c));
  expect(c, 0, NULL, DA_INT64, &w, "vdot");
  da_array_destroy(&c);
  for (int i = 0; i < 60; i++)
    for (int j = 0; j < 60; j++)
      wo[i * 60 + j] = (double)xa[i] * xb[j];
  TU_OK(ctx, da_outer(a, b, &c));
  expect(c, 2, (const int64_t[]){60, 60}, DA_INT32, wo, "outer");
  da_array_destroy(&c);
  /* trace of b (6, 10) at several offsets; trace of a 3-D array sums axes 0 and 1 */
  for (int64_t off = -7; off <= 11; off += 3) {
    double tr = 0;
    for (int64_t i = 0; i < 6; i++)
      if (i + off >= 0 && i + off < 10)
        tr += xb[i * 10 + i + off];
    TU_OK(ctx, da_trace(b, off, &c));
    expect(c, 0, NULL, DA_INT64, &tr, "trace");
    da_array_destroy(&c);
  }
  double tr3[5] = {0};
  for (int k = 0; k < 5; k++)
    for (int i = 0; i < 3; i++)
      tr3[k] += xa[(i * 4 + i) * 5 + k];
  TU_OK(ctx, da_trace(a, 0, &c));
  expect(c, 1, (const int64_t[]){5}, DA_INT64, tr3, "trace 3-d");
  da_array_destroy(&c);
  double dg[4 * 2];
  /* NumPy: diagonal(offset=1, axis1=2, axis2=0)[j, t] = a[t + 1 (axis2), j, t (axis1)] */
  for (int j = 0; j < 4; j++)
    for (int t = 0; t < 2; t++)
      dg[j * 2 + t] = xa[((t + 1) * 4 + j) * 5 + t];
  TU_OK(ctx, da_diagonal(a, 1, 2, 0, &c));
  expect(c, 2, (const int64_t[]){4, 2}, DA_INT32, dg, "diagonal (1, 2, 0)");
  da_array_destroy(&c);
  da_array_destroy(&a);
  da_array_destroy(&b);
}

/* The seeds' dot(a, a + a.T) on lazy inputs, feeding a reduction; and a product that is
 * computed twice (once through da_compute, once persisted). */
static void test_lazy(void) {
  const int64_t n = 23;
  double x[23 * 23], w[23 * 23], tot = 0;
  fill_small(DA_FLOAT64, x, n * n);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t l = 0; l < n; l++)
        s += x[i * n + l] * (x[l * n + j] + x[j * n + l]);
      w[i * n + j] = s;
      tot += s;
    }
  da_array a = make(ctx, 2, (const int64_t[]){n, n}, DA_FLOAT64, x, 5), at, s, c, sum;
  TU_OK(ctx, da_transpose(a, NULL, &at));
  TU_OK(ctx, da_add(DA_V(a), DA_V(at), &s));
  TU_OK(ctx, da_dot(a, s, &c));
  TU_OK(ctx, da_sum(c, 0, NULL, 0, &sum));
  expect(sum, 0, NULL, DA_FLOAT64, &tot, "sum(dot(a, a + a.T))");
  CHECK(da_array_is_lazy(s) && da_array_is_lazy(c));
  expect(c, 2, (const int64_t[]){n, n}, DA_FLOAT64, w, "dot(a, a + a.T)");
  TU_OK(ctx, da_persist(c));
  CHECK(!da_array_is_lazy(c));
  expect(c, 2, (const int64_t[]){n, n}, DA_FLOAT64, w, "dot(a, a + a.T) persisted");
  da_array_destroy(&sum);
  da_array_destroy(&c);
  da_array_destroy(&s);
  da_array_destroy(&at);
  da_array_destroy(&a);
}

/* Real values: a product's bits must not depend on the number of ranks (each C block sums
 * gemm calls over the same k chunks, in rows counted from its A block, on any grid). Shapes
 * large enough that C's row blocks are cut in parts on some rank counts. */
static void test_rank_bits(void) {
  static const int64_t cases[][4] = {{37, 41, 29, 8}, {1300, 90, 70, 700}, {1100, 130, 90, 0}};
  for (int t = 0; t < 3; t++) {
    int64_t m = cases[t][0], k = cases[t][1], n = cases[t][2], s = cases[t][3];
    double *xa = tu_malloc(m * k * 8), *xb = tu_malloc(k * n * 8);
    tu_fill_random(&rng, DA_FLOAT64, xa, m * k);
    tu_fill_random(&rng, DA_FLOAT64, xb, k * n);
    int64_t ck = s > 0 ? s : 400;
    da_array a = make(ctx, 2, (const int64_t[]){m, k}, DA_FLOAT64, xa, s);
    da_array b = make(ctx, 2, (const int64_t[]){k, n}, DA_FLOAT64, xb, s);
    da_array a1 = make(self, 2, (const int64_t[]){m, k}, DA_FLOAT64, xa, ck);
    da_array b1 = make(self, 2, (const int64_t[]){k, n}, DA_FLOAT64, xb, ck);
    da_array c, c1, r1 = NULL;
    TU_OK(ctx, da_matmul(a, b, &c));
    /* One rank, with a's chunks as the distributed one has them: the same gemm calls. */
    da_chunks kc = {0};
    kc.list[0] = da_array_chunks(a, 0), kc.nlist[0] = da_array_numblocks(a)[0];
    kc.list[1] = da_array_chunks(a, 1), kc.nlist[1] = da_array_numblocks(a)[1];
    TU_OK(self, da_rechunk(a1, &kc, &r1));
    TU_OK(self, da_matmul(r1, b1, &c1));
    double *g = tu_gather_all(c), *g1 = tu_gather_all(c1),
           *want = ref_matmul(0, NULL, NULL, NULL, m, k, n, DA_FLOAT64, xa, DA_FLOAT64, xb);
    int64_t differ = 0;
    for (int64_t i = 0; i < m * n; i++) {
      double scale = 0;
      for (int64_t l = 0; l < k; l++)
        scale += fabs(xa[i / n * k + l] * xb[l * n + i % n]);
      CHECKF(fabs(g[i] - want[i]) <= 1e-13 * scale, "real matmul element %lld: %.17g, want %.17g",
             (long long)i, g[i], want[i]);
      differ += memcmp(&g[i], &g1[i], 8) != 0;
    }
    CHECKF(differ == 0, "case %d: %lld of %lld float64 products differ in their bits from 1 rank",
           t, (long long)differ, (long long)(m * n));
    free(g), free(g1), free(want), free(xa), free(xb);
    da_array_destroy(&c), da_array_destroy(&c1), da_array_destroy(&r1);
    da_array_destroy(&a), da_array_destroy(&b), da_array_destroy(&a1), da_array_destroy(&b1);
  }
}

/* Bad input: the same clear code on every rank, and the context still works after it. */
static void test_errors(void) {
  double x[24] = {0};
  da_array a = make(ctx, 2, (const int64_t[]){3, 4}, DA_FLOAT64, x, 2);
  da_array b = make(ctx, 2, (const int64_t[]){5, 2}, DA_FLOAT64, x, 2);
  da_array s = make(ctx, 0, NULL, DA_FLOAT64, x, 0),
           v = make(ctx, 1, (const int64_t[]){3}, DA_FLOAT64, x, 0);
  da_array c = NULL;
  CHECK(da_matmul(a, b, &c) == DA_ERR_SHAPE && !c);
  CHECK(strstr(da_ctx_errmsg(ctx), "inner") != NULL);
  CHECK(da_dot(a, b, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_matmul(a, s, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_matmul(a, v, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_tensordot(a, b, 1, (const int[]){2}, (const int[]){0}, &c) == DA_ERR_ARG && !c);
  CHECK(da_tensordot(a, b, 1, (const int[]){1}, (const int[]){0}, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_tensordot(a, a, 2, (const int[]){0, 0}, (const int[]){0, 1}, &c) == DA_ERR_ARG && !c);
  CHECK(da_tensordot(a, b, 3, (const int[]){0, 1, 0}, (const int[]){0, 1, 0}, &c) == DA_ERR_ARG);
  CHECK(da_vdot(a, b, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_diagonal(v, 0, 0, 1, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_diagonal(a, 0, 1, -1, &c) == DA_ERR_ARG && !c);
  CHECK(da_diagonal(a, 0, 0, 2, &c) == DA_ERR_ARG && !c);
  CHECK(da_trace(v, 0, &c) == DA_ERR_SHAPE && !c);
  CHECK(da_matmul(a, b, NULL) == DA_ERR_ARG);
  da_array_destroy(&a), da_array_destroy(&b), da_array_destroy(&s), da_array_destroy(&v);
}

/* Integers wrap as NumPy's do: int8 (1, 2) @ (2, 1) summing 100*2 + 100*1 = 300 is 44; uint8
 * 200*200 + 1 wraps to 65; int64 sums wrap modulo 2^64. */
static void test_integer_wrap(void) {
  static const int8_t a8[2] = {100, 100}, b8[2] = {2, 1};
  static const uint8_t au[2] = {200, 1}, bu[2] = {200, 1};
  static const int64_t a64[2] = {INT64_MAX, 2}, b64[2] = {2, 1};
  const struct {
    da_dtype dt;
    const void *a, *b;
    double want;
  } cases[] = {{DA_INT8, a8, b8, 44},
               {DA_UINT8, au, bu, 65},
               {DA_INT64, a64, b64, 0}}; /* (2^63 - 1) * 2 + 2 = 2^64 = 0 */
  for (int t = 0; t < 3; t++) {
    da_array a = make(ctx, 2, (const int64_t[]){1, 2}, cases[t].dt, cases[t].a, 1);
    da_array b = make(ctx, 2, (const int64_t[]){2, 1}, cases[t].dt, cases[t].b, 1);
    da_array c;
    TU_OK(ctx, da_matmul(a, b, &c));
    expect(c, 2, (const int64_t[]){1, 1}, cases[t].dt, &cases[t].want, "integer wrap");
    da_array_destroy(&c), da_array_destroy(&a), da_array_destroy(&b);
  }
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t500-matmul");
  rng = tu_rng_make(500);
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  TU_OK(NULL, da_ctx_create(MPI_COMM_SELF, &self));
  test_matmul_2d();
  test_integer_wrap();
  test_matmul_stacked();
  test_tensordot();
  test_small_ops();
  test_lazy();
  test_rank_bits();
  test_errors();
  tu_sync();
  int64_t cur = -1, peak;
  TU_OK(ctx, da_ctx_memory(ctx, &cur, &peak));
  CHECKF(cur == 0, "%lld bytes still counted after every array went", (long long)cur);
  da_ctx_destroy(&self);
  da_ctx_destroy(&ctx);
  return tu_finish();
}
