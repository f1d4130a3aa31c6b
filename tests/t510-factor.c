/* Factorizations on ScaLAPACK: qr (reduced, complete, r), svd (thin, full, values only),
 * solve, cholesky, lstsq, inv, det and norm over random shapes, square and not, with uneven
 * chunks, in float32, float64 and int32; each checked by its defining identity to a tolerance
 * scaled by the size and conditioning, det and singular values against serial references;
 * bad input (shapes, singular and indefinite matrices) as one error on every rank. */
#include "test_util.h"

static tu_rng rng;
static da_ctx ctx;

/* ---------------------------------------------------------------- matrices */

/* A matrix: its values (as stored, in double, row-major) on every rank and the array. */
typedef struct {
  int64_t m, n;
  da_dtype dt;
  double *h;
  da_array a;
} mat;

enum { GENERAL, DOMINANT, SPD };

static double eps_of(da_dtype dt) {
  return dt == DA_FLOAT32 ? 0x1p-23 : 0x1p-52;
}

/* A random m x n matrix of kind GENERAL (entries in [-1, 1)), DOMINANT (plus n on the
 * diagonal: well conditioned) or SPD (M Mᵀ + n I); random uneven chunks or square ones. */
static void mat_make(mat *x, int64_t m, int64_t n, da_dtype dt, int kind) {
  x->m = m, x->n = n, x->dt = dt;
  x->h = tu_malloc((size_t)(m * n) * sizeof(double));
  bool integer = !tu_is_float(dt);
  for (int64_t i = 0; i < m * n; i++)
    x->h[i] = integer ? (double)tu_int(&rng, -4, 4) : tu_unit(&rng) * 2 - 1;
  if (kind == SPD) {
    double *s = tu_malloc((size_t)(n * n) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) {
        double t = i == j ? (double)n : 0;
        for (int64_t k = 0; k < n; k++)
          t += x->h[i * n + k] * x->h[j * n + k];
        s[i * n + j] = t;
      }
    free(x->h);
    x->h = s;
  } else if (kind == DOMINANT) {
    for (int64_t i = 0; i < m && i < n; i++)
      x->h[i * n + i] += (double)n * (integer ? 5 : 1); /* beyond the row sum of |entries| */
  }
  size_t es = da_dtype_size(dt);
  void *buf = tu_malloc((size_t)(m * n) * es);
  for (int64_t i = 0; i < m * n; i++) {
    tu_set(dt, buf, i, x->h[i]);
    x->h[i] = tu_get(dt, buf, i);
  }
  int64_t shape[2] = {m, n};
  tu_chunking ck;
  if (tu_chance(&rng, 0.4)) {
    memset(&ck, 0, sizeof ck);
    ck.c.size[0] = ck.c.size[1] = tu_int(&rng, 2, 9);
  } else {
    tu_random_chunks(&rng, 2, shape, 16, &ck);
  }
  int root = (int)tu_int(&rng, 0, da_ctx_size(ctx) - 1);
  TU_OK(ctx, da_from_root(ctx, root, 2, shape, &ck.c, dt, buf, (size_t)(m * n) * es, &x->a));
  free(buf);
}

static void mat_free(mat *x) {
  free(x->h);
  da_array_destroy(&x->a);
}

/* The whole of a computed array as doubles, its shape checked. */
static double *fetch(da_array a, int nd, int64_t d0, int64_t d1, da_dtype want_dt) {
  CHECKF(da_array_ndim(a) == nd, "ndim %d, want %d", da_array_ndim(a), nd);
  CHECKF(nd < 1 || da_array_shape(a)[0] == d0, "shape[0] %lld, want %lld",
         (long long)da_array_shape(a)[0], (long long)d0);
  CHECKF(nd < 2 || da_array_shape(a)[1] == d1, "shape[1] %lld, want %lld",
         (long long)da_array_shape(a)[1], (long long)d1);
  CHECKF(da_array_dtype(a) == want_dt, "dtype %s, want %s", da_dtype_name(da_array_dtype(a)),
         da_dtype_name(want_dt));
  void *raw = tu_gather_all(a);
  int64_t n = da_array_size(a);
  double *out = tu_malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++)
    out[i] = tu_get(da_array_dtype(a), raw, i);
  free(raw);
  return out;
}

static da_dtype result_dt(da_dtype dt) {
  return dt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
}

/* C (m x n) = A (m x k) B (k x n), row-major, transposes by flag. */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double *A,
                 const double *B, double *C) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double t = 0;
      for (int64_t l = 0; l < k; l++)
        t += (ta ? A[l * m + i] : A[i * k + l]) * (tb ? B[j * k + l] : B[l * n + j]);
      C[i * n + j] = t;
    }
}

static double fro(int64_t n, const double *x) {
  double t = 0;
  for (int64_t i = 0; i < n; i++)
    t += x[i] * x[i];
  return sqrt(t);
}

/* max |got - want| <= tol, reporting the first offender. */
#define CLOSE(what, got, want, n, tol)                                                             \
  close_at(__FILE__, __LINE__, (what), (got), (want), (n), (tol))
static void close_at(const char *file, int line, const char *what, const double *got,
                     const double *want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol)) {
      tu_record(false, file, line, "%s: element %lld: got %.17g, want %.17g (tol %g)", what,
                (long long)i, got[i], want[i], tol);
      return;
    }
  tu_record(true, file, line, "%s", what);
}

/* Columns (rows with by_rows) of the m x n x orthonormal to tol. */
static void check_orthonormal(const char *what, const double *x, int64_t m, int64_t n, bool by_rows,
                              double tol) {
  int64_t k = by_rows ? m : n;
  double *g = tu_malloc((size_t)(k * k) * sizeof(double)), *id = tu_malloc((size_t)(k * k) * 8);
  if (by_rows)
    gemm(false, true, m, m, n, x, x, g);
  else
    gemm(true, false, n, n, m, x, x, g);
  for (int64_t i = 0; i < k * k; i++)
    id[i] = i / k == i % k;
  CLOSE(what, g, id, k * k, tol);
  free(g), free(id);
}

/* Serial LU with partial pivoting of the n x n a (overwritten); returns the det, and solves
 * for the nrhs columns of b (n x nrhs, row-major) when b is given. */
static double serial_lu(int64_t n, double *a, int64_t nrhs, double *b) {
  double det = 1;
  for (int64_t c = 0; c < n; c++) {
    int64_t p = c;
    for (int64_t i = c + 1; i < n; i++)
      if (fabs(a[i * n + c]) > fabs(a[p * n + c]))
        p = i;
    if (p != c) {
      det = -det;
      for (int64_t j = 0; j < n; j++) {
        double t = a[c * n + j];
        a[c * n + j] = a[p * n + j], a[p * n + j] = t;
      }
      for (int64_t j = 0; b && j < nrhs; j++) {
        double t = b[c * nrhs + j];
        b[c * nrhs + j] = b[p * nrhs + j], b[p * nrhs + j] = t;
      }
    }
    det *= a[c * n + c];
    if (a[c * n + c] == 0)
      continue;
    for (int64_t i = c + 1; i < n; i++) {
      double f = a[i * n + c] / a[c * n + c];
      for (int64_t j = c; j < n; j++)
        a[i * n + j] -= f * a[c * n + j];
      for (int64_t j = 0; b && j < nrhs; j++)
        b[i * nrhs + j] -= f * b[c * nrhs + j];
    }
  }
  for (int64_t c = n - 1; b && c >= 0; c--)
    for (int64_t j = 0; j < nrhs; j++) {
      double t = b[c * nrhs + j];
      for (int64_t l = c + 1; l < n; l++)
        t -= a[c * n + l] * b[l * nrhs + j];
      b[c * nrhs + j] = t / a[c * n + c];
    }
  return det;
}

/* Serial singular values of m x n a (one-sided Jacobi on the columns), descending. */
static void serial_sv(int64_t m, int64_t n, const double *a, double *sv) {
  bool tr = m < n; /* work on the tall one: the same singular values */
  int64_t r = tr ? n : m, c = tr ? m : n;
  double *w = tu_malloc((size_t)(r * c) * sizeof(double));
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < c; j++)
      w[i * c + j] = tr ? a[j * n + i] : a[i * n + j];
  for (int sweep = 0; sweep < 60; sweep++) {
    double off = 0;
    for (int64_t p = 0; p < c; p++)
      for (int64_t q = p + 1; q < c; q++) {
        double al = 0, be = 0, ga = 0;
        for (int64_t i = 0; i < r; i++) {
          al += w[i * c + p] * w[i * c + p];
          be += w[i * c + q] * w[i * c + q];
          ga += w[i * c + p] * w[i * c + q];
        }
        if (fabs(ga) <= 1e-300 || fabs(ga) <= 1e-17 * sqrt(al * be))
          continue;
        off = fmax(off, fabs(ga) / sqrt(al * be));
        double zeta = (be - al) / (2 * ga);
        double t = (zeta >= 0 ? 1 : -1) / (fabs(zeta) + sqrt(1 + zeta * zeta));
        double cs = 1 / sqrt(1 + t * t), sn = cs * t;
        for (int64_t i = 0; i < r; i++) {
          double x = w[i * c + p], y = w[i * c + q];
          w[i * c + p] = cs * x - sn * y, w[i * c + q] = sn * x + cs * y;
        }
      }
    if (off < 1e-15)
      break;
  }
  for (int64_t j = 0; j < c; j++) {
    double t = 0;
    for (int64_t i = 0; i < r; i++)
      t += w[i * c + j] * w[i * c + j];
    sv[j] = sqrt(t);
  }
  for (int64_t i = 1; i < c; i++) /* insertion sort, descending */
    for (int64_t j = i; j > 0 && sv[j - 1] < sv[j]; j--) {
      double t = sv[j];
      sv[j] = sv[j - 1], sv[j - 1] = t;
    }
  free(w);
}

/* ---------------------------------------------------------------- the factorizations */

static void test_qr(int64_t m, int64_t n, da_dtype dt) {
  mat A;
  mat_make(&A, m, n, dt, GENERAL);
  int64_t k = m < n ? m : n;
  double tol = 30 * eps_of(result_dt(dt)) * (double)(m + n) * (fro(m * n, A.h) + 1);
  double *rr = NULL;
  for (int mode = DA_QR_REDUCED; mode <= DA_QR_R; mode++) {
    da_array q = NULL, r = NULL;
    TU_OK(ctx, da_qr(A.a, (da_qr_mode)mode, mode == DA_QR_R ? NULL : &q, &r));
    int64_t qc = mode == DA_QR_COMPLETE ? m : k, rm = mode == DA_QR_COMPLETE ? m : k;
    CHECKF(k == 0 || (da_array_is_lazy(r) && (!q || da_array_is_lazy(q))), "qr: results not lazy");
    if (mode == DA_QR_REDUCED) { /* Q and R in one graph: one factorization feeds both */
      da_array qr = NULL;
      TU_OK(ctx, da_matmul(q, r, &qr));
      double *QR = fetch(qr, 2, m, n, result_dt(dt));
      CLOSE("qr: (Q @ R) lazily = A", QR, A.h, m * n, tol);
      free(QR);
      da_array_destroy(&qr);
    }
    double *R = fetch(r, 2, rm, n, result_dt(dt));
    for (int64_t i = 0; i < rm; i++)
      for (int64_t j = 0; j < i && j < n; j++)
        if (!CHECKF(R[i * n + j] == 0, "qr: R[%lld, %lld] = %g below the diagonal", (long long)i,
                    (long long)j, R[i * n + j]))
          i = rm;
    if (mode == DA_QR_REDUCED)
      rr = R, R = NULL;
    else if (mode == DA_QR_R)
      CLOSE("qr: mode r against reduced", R, rr, k * n, tol);
    if (q) {
      double *Q = fetch(q, 2, m, qc, result_dt(dt));
      check_orthonormal("qr: Q orthonormal", Q, m, qc, false, tol);
      double *QR = tu_malloc((size_t)(m * n) * sizeof(double) + 1);
      gemm(false, false, m, n, qc, Q, mode == DA_QR_REDUCED ? rr : R, QR);
      CLOSE("qr: Q R = A", QR, A.h, m * n, tol);
      free(Q), free(QR);
    }
    free(R);
    da_array_destroy(&q), da_array_destroy(&r);
  }
  free(rr);
  mat_free(&A);
}

static void test_svd(int64_t m, int64_t n, da_dtype dt) {
  mat A;
  mat_make(&A, m, n, dt, GENERAL);
  int64_t k = m < n ? m : n;
  double tol = 50 * eps_of(result_dt(dt)) * (double)(m + n) * (fro(m * n, A.h) + 1);
  double *want = tu_malloc((size_t)k * sizeof(double) + 1);
  serial_sv(m, n, A.h, want);
  for (int full = 0; full <= 1; full++) {
    da_array u = NULL, s = NULL, vt = NULL;
    TU_OK(ctx, da_svd(A.a, full, &u, &s, &vt));
    int64_t uc = full ? m : k, vr = full ? n : k;
    double *S = fetch(s, 1, k, 0, result_dt(dt));
    double *U = fetch(u, 2, m, uc, result_dt(dt)), *V = fetch(vt, 2, vr, n, result_dt(dt));
    for (int64_t i = 1; i < k; i++)
      CHECKF(S[i - 1] >= S[i] && S[i] >= 0, "svd: s not descending at %lld", (long long)i);
    CLOSE("svd: s against serial Jacobi", S, want, k, tol);
    check_orthonormal("svd: U orthonormal", U, m, uc, false, tol);
    check_orthonormal("svd: Vt orthonormal", V, vr, n, true, tol);
    double *us = tu_malloc((size_t)(m * k) * sizeof(double) + 1);
    double *usv = tu_malloc((size_t)(m * n) * sizeof(double) + 1);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < k; j++)
        us[i * k + j] = U[i * uc + j] * S[j];
    gemm(false, false, m, n, k, us, V, usv); /* Vt's first k rows */
    CLOSE("svd: U S Vt = A", usv, A.h, m * n, tol);
    free(us), free(usv), free(S), free(U), free(V);
    da_array_destroy(&u), da_array_destroy(&s), da_array_destroy(&vt);
  }
  { /* U dropped before anything is computed: S and Vt still come, in either order. */
    da_array u = NULL, s = NULL, vt = NULL;
    TU_OK(ctx, da_svd(A.a, 1, &u, &s, &vt));
    da_array_destroy(&u);
    double *V = fetch(vt, 2, n, n, result_dt(dt)), *S = fetch(s, 1, k, 0, result_dt(dt));
    check_orthonormal("svd: Vt orthonormal, U dropped", V, n, n, true, tol);
    CLOSE("svd: s, U dropped", S, want, k, tol);
    free(V), free(S);
    da_array_destroy(&s), da_array_destroy(&vt);
  }
  da_array s = NULL;
  TU_OK(ctx, da_svd(A.a, 0, NULL, &s, NULL));
  double *S = fetch(s, 1, k, 0, result_dt(dt));
  CLOSE("svd: values only", S, want, k, tol);
  free(S), free(want);
  da_array_destroy(&s);
  mat_free(&A);
}

static void test_solve(int64_t n, int64_t nrhs, bool vector, da_dtype dt, da_dtype bdt) {
  nrhs = vector ? 1 : nrhs;
  mat A, B;
  mat_make(&A, n, n, dt, DOMINANT);
  mat_make(&B, n, nrhs, bdt, GENERAL);
  da_array b = B.a;
  if (vector)
    TU_OK(ctx, da_reshape(B.a, 1, &n, &b));
  da_array x = NULL;
  TU_OK(ctx, da_solve(A.a, b, &x));
  da_dtype rdt = dt == DA_FLOAT32 && bdt == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
  double *X = fetch(x, vector ? 1 : 2, n, nrhs, rdt);
  double *lu = tu_malloc((size_t)(n * n) * sizeof(double)),
         *ref = tu_malloc((size_t)(n * nrhs) * 8);
  memcpy(lu, A.h, (size_t)(n * n) * sizeof(double));
  memcpy(ref, B.h, (size_t)(n * nrhs) * sizeof(double));
  serial_lu(n, lu, nrhs, ref);
  /* A is diagonally dominant: cond(A) is a small constant, so x itself is accurate. */
  char what[128];
  snprintf(what, sizeof what, "solve: n %lld nrhs %lld vector %d %s/%s: x against serial LU",
           (long long)n, (long long)nrhs, vector, da_dtype_name(dt), da_dtype_name(bdt));
  CLOSE(what, X, ref, n * nrhs, 100 * eps_of(rdt) * (double)n);
  double *ax = tu_malloc((size_t)(n * nrhs) * sizeof(double));
  gemm(false, false, n, nrhs, n, A.h, X, ax);
  CLOSE("solve: A x = b", ax, B.h, n * nrhs, 100 * eps_of(rdt) * (double)n * (double)n);
  free(X), free(lu), free(ref), free(ax);
  if (vector)
    da_array_destroy(&b);
  da_array_destroy(&x);
  mat_free(&A), mat_free(&B);
}

static void test_cholesky(int64_t n, da_dtype dt) {
  mat A;
  mat_make(&A, n, n, dt, SPD);
  da_array l = NULL;
  TU_OK(ctx, da_cholesky(A.a, &l));
  double *L = fetch(l, 2, n, n, result_dt(dt)), *llt = tu_malloc((size_t)(n * n) * 8);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++)
      if (!CHECKF(L[i * n + j] == 0, "cholesky: L[%lld, %lld] = %g above the diagonal",
                  (long long)i, (long long)j, L[i * n + j]))
        i = n;
  gemm(false, true, n, n, n, L, L, llt);
  CLOSE("cholesky: L Lt = A", llt, A.h, n * n,
        30 * eps_of(result_dt(dt)) * (double)n * fro(n * n, A.h));
  free(L), free(llt);
  da_array_destroy(&l);
  mat_free(&A);
}

static void test_lstsq(int64_t m, int64_t n, int64_t nrhs, bool vector, da_dtype dt) {
  nrhs = vector ? 1 : nrhs;
  mat A, B;
  mat_make(&A, m, n, dt, DOMINANT); /* full rank, well conditioned */
  mat_make(&B, m, nrhs, dt, GENERAL);
  da_array b = B.a, x = NULL;
  if (vector)
    TU_OK(ctx, da_reshape(B.a, 1, &m, &b));
  TU_OK(ctx, da_lstsq(A.a, b, &x));
  da_dtype rdt = result_dt(dt);
  double *X = fetch(x, vector ? 1 : 2, n, nrhs, rdt);
  /* Reference: the normal equations (m >= n) or x = Aᵀ (A Aᵀ)⁻¹ b (m < n, minimum norm). */
  int64_t s = m < n ? m : n;
  double *g = tu_malloc((size_t)(s * s) * 8), *rhs = tu_malloc((size_t)(s * nrhs) * 8);
  double *ref = tu_malloc((size_t)(n * nrhs) * 8);
  if (m >= n) {
    gemm(true, false, n, n, m, A.h, A.h, g);
    gemm(true, false, n, nrhs, m, A.h, B.h, rhs);
    serial_lu(n, g, nrhs, rhs);
    memcpy(ref, rhs, (size_t)(n * nrhs) * 8);
  } else {
    gemm(false, true, m, m, n, A.h, A.h, g);
    memcpy(rhs, B.h, (size_t)(m * nrhs) * 8);
    serial_lu(m, g, nrhs, rhs);
    gemm(true, false, n, nrhs, m, A.h, rhs, ref);
  }
  CLOSE("lstsq: x against the normal equations", X, ref, n * nrhs,
        200 * eps_of(rdt) * (double)(m + n) * (fro(n * nrhs, ref) + 1));
  free(X), free(g), free(rhs), free(ref);
  if (vector)
    da_array_destroy(&b);
  da_array_destroy(&x);
  mat_free(&A), mat_free(&B);
}

static void test_inv_det(int64_t n, da_dtype dt, int kind) {
  mat A;
  mat_make(&A, n, n, dt, kind);
  da_array x = NULL, d = NULL;
  TU_OK(ctx, da_inv(A.a, &x));
  TU_OK(ctx, da_det(A.a, &d));
  da_dtype rdt = result_dt(dt);
  double *X = fetch(x, 2, n, n, rdt), *D = fetch(d, 0, 0, 0, rdt);
  double *ax = tu_malloc((size_t)(n * n) * 8 + 8), *id = tu_malloc((size_t)(n * n) * 8 + 8);
  gemm(false, false, n, n, n, A.h, X, ax);
  for (int64_t i = 0; i < n * n; i++)
    id[i] = i / n == i % n;
  double cond = fro(n * n, A.h) * fro(n * n, X); /* Frobenius condition number */
  CLOSE("inv: A inv(A) = I", ax, id, n * n, 30 * eps_of(rdt) * (double)n * cond);
  memcpy(ax, A.h, (size_t)(n * n) * 8);
  double want = serial_lu(n, ax, 0, NULL);
  CHECKF(fabs(D[0] - want) <= 30 * eps_of(rdt) * (double)n * cond * fabs(want),
         "det: got %.17g, want %.17g", D[0], want);
  free(X), free(D), free(ax), free(id);
  da_array_destroy(&x), da_array_destroy(&d);
  mat_free(&A);
}

/* det of a row permutation of the identity (sign from the pivots) and of a matrix with a
 * zero row (exactly singular: 0, not an error). */
static void test_det_special(int64_t n) {
  double *h = tu_malloc((size_t)(n * n) * sizeof(double));
  int64_t *perm = tu_malloc((size_t)n * sizeof(int64_t)), shape[2] = {n, n};
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  int sign = 1;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = tu_int(&rng, 0, i);
    if (j != i)
      sign = -sign;
    int64_t t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  for (int pass = 0; pass < 2; pass++) {
    memset(h, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
      h[i * n + perm[i]] = pass == 0 ? 1 : 2;
    if (pass == 1) {
      int64_t r = tu_int(&rng, 0, n - 1);
      for (int64_t j = 0; j < n; j++)
        h[r * n + j] = 0;
    }
    da_array a = NULL, d = NULL;
    TU_OK(ctx, da_from_root(ctx, 0, 2, shape, DA_CHUNKS(tu_int(&rng, 1, 4), tu_int(&rng, 1, 4)),
                            DA_FLOAT64, h, (size_t)(n * n) * sizeof(double), &a));
    TU_OK(ctx, da_det(a, &d));
    double got = 0;
    TU_OK(ctx, da_compute(d, DA_ALL_RANKS, &got, sizeof got));
    if (pass == 0)
      CHECKF(got == sign, "det of a permutation: got %g, want %d", got, sign);
    else
      CHECKF(got == 0, "det of a matrix with a zero row: got %g, want 0", got);
    da_array_destroy(&a), da_array_destroy(&d);
  }
  free(h), free(perm);
}

/* ---------------------------------------------------------------- norms */

/* The serial vector norm of n values x[i * stride]. */
static double vnorm(const double *x, int64_t n, int64_t stride, da_norm_kind kind, double ord) {
  if (kind == DA_NORM_DEFAULT)
    ord = 2;
  double t = isinf(ord) ? (ord > 0 ? 0 : INFINITY) : 0;
  for (int64_t i = 0; i < n; i++) {
    double v = fabs(x[i * stride]);
    if (isinf(ord))
      t = ord > 0 ? fmax(t, v) : fmin(t, v);
    else if (ord == 0)
      t += v != 0;
    else
      t += pow(v, ord);
  }
  return isinf(ord) || ord == 0 ? t : pow(t, 1 / ord);
}

/* The serial matrix norm of m x n x. */
static double mnorm(const double *x, int64_t m, int64_t n, da_norm_kind kind, double ord) {
  if (kind == DA_NORM_DEFAULT || kind == DA_NORM_FRO)
    return fro(m * n, x);
  if (kind == DA_NORM_NUC || fabs(ord) == 2) {
    int64_t k = m < n ? m : n;
    double *sv = tu_malloc((size_t)k * sizeof(double)), t = 0;
    serial_sv(m, n, x, sv);
    for (int64_t i = 0; i < k; i++)
      t += sv[i];
    t = kind == DA_NORM_NUC ? t : ord > 0 ? sv[0] : sv[k - 1];
    free(sv);
    return t;
  }
  bool rows = isinf(ord); /* inf: row sums; 1: column sums */
  int64_t outer = rows ? m : n, inner = rows ? n : m;
  double best = ord > 0 ? 0 : INFINITY;
  for (int64_t o = 0; o < outer; o++) {
    double t = 0;
    for (int64_t i = 0; i < inner; i++)
      t += fabs(rows ? x[o * n + i] : x[i * n + o]);
    best = ord > 0 ? fmax(best, t) : fmin(best, t);
  }
  return best;
}

static void test_norms(int64_t m, int64_t n, da_dtype dt) {
  mat A;
  mat_make(&A, m, n, dt, GENERAL);
  da_dtype rdt = result_dt(dt);
  double tol = 100 * eps_of(rdt) * (double)(m + n);
  static const double vord[] = {2, 1, INFINITY, -INFINITY, 0, 3, 0.5, -1.5};
  /* Vector norms along each axis, keepdims or not. */
  for (int axis = -2; axis < 2; axis++) {
    int ax = axis < 0 ? axis + 2 : axis;
    int64_t len = ax == 0 ? m : n, other = ax == 0 ? n : m;
    for (int o = -1; o < (int)(sizeof vord / sizeof *vord); o++) {
      da_norm_kind kind = o < 0 ? DA_NORM_DEFAULT : DA_NORM_ORD;
      double ord = o < 0 ? 0 : vord[o];
      int keep = (int)tu_int(&rng, 0, 1);
      da_array r = NULL;
      TU_OK(ctx, da_norm(A.a, kind, ord, 1, &axis, keep, &r));
      double *got =
          fetch(r, keep ? 2 : 1, keep && ax == 0 ? 1 : other, keep && ax == 0 ? n : 1, rdt);
      for (int64_t j = 0; j < other; j++) {
        double want = vnorm(ax == 0 ? A.h + j : A.h + j * n, len, ax == 0 ? n : 1, kind, ord);
        if (!CHECKF(fabs(got[j] - want) <= tol * (want + 1),
                    "vector norm ord %g axis %d at %lld: got %.17g, want %.17g", ord, axis,
                    (long long)j, got[j], want))
          break;
      }
      free(got);
      da_array_destroy(&r);
    }
  }
  /* Matrix norms over (0, 1) and (1, 0), and with no axes. */
  static const struct {
    da_norm_kind kind;
    double ord;
  } mord[] = {{DA_NORM_DEFAULT, 0}, {DA_NORM_FRO, 0},        {DA_NORM_NUC, 0},
              {DA_NORM_ORD, 1},     {DA_NORM_ORD, -1},       {DA_NORM_ORD, 2},
              {DA_NORM_ORD, -2},    {DA_NORM_ORD, INFINITY}, {DA_NORM_ORD, -INFINITY}};
  for (size_t o = 0; o < sizeof mord / sizeof *mord; o++)
    for (int style = 0; style < 3; style++) {
      int axes[2] = {style == 2 ? 1 : 0, style == 2 ? 0 : 1}, keep = (int)tu_int(&rng, 0, 1);
      da_array r = NULL;
      TU_OK(ctx, da_norm(A.a, mord[o].kind, mord[o].ord, style ? 2 : 0, axes, keep, &r));
      double *got = fetch(r, keep ? 2 : 0, 1, 1, rdt);
      /* Over (1, 0) the matrix is transposed: 1 and inf norms swap. */
      double ord = mord[o].ord;
      if (style == 2 && (fabs(ord) == 1 || isinf(ord)))
        ord = isinf(ord) ? (ord > 0 ? 1 : -1) : ord * INFINITY;
      double want = mnorm(A.h, m, n, mord[o].kind, ord);
      CHECKF(fabs(got[0] - want) <= tol * (want + 1),
             "matrix norm kind %d ord %g style %d: got %.17g, want %.17g", (int)mord[o].kind,
             mord[o].ord, style, got[0], want);
      free(got);
      da_array_destroy(&r);
    }
  mat_free(&A);
}

/* ---------------------------------------------------------------- bad input */

/* rc must be code on every rank, with a message naming what went wrong. */
#define EXPECT_ERR(call, code, text)                                                               \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    CHECKF(rc_ == (code) && strstr(da_ctx_errmsg(ctx), (text)),                                    \
           "%s: got %d (%s), want %d with \"%s\"", #call, rc_, da_ctx_errmsg(ctx), (code),         \
           (text));                                                                                \
  } while (0)

static void test_bad_input(void) {
  mat sq, rect, spd;
  mat_make(&sq, 6, 6, DA_FLOAT64, GENERAL);
  mat_make(&rect, 7, 5, DA_FLOAT64, GENERAL);
  mat_make(&spd, 6, 6, DA_FLOAT64, SPD);
  da_array v = NULL, c3 = NULL, out = NULL, o2 = NULL, o3 = NULL;
  int64_t s3[3] = {2, 3, 3};
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){6}, NULL, DA_FLOAT64, &v));
  TU_OK(ctx, da_ones(ctx, 3, s3, NULL, DA_FLOAT64, &c3));

  EXPECT_ERR(da_qr(v, DA_QR_REDUCED, &out, &o2), DA_ERR_SHAPE, "must be 2-D");
  EXPECT_ERR(da_svd(c3, 0, &out, &o2, &o3), DA_ERR_SHAPE, "must be 2-D");
  EXPECT_ERR(da_cholesky(rect.a, &out), DA_ERR_SHAPE, "square");
  EXPECT_ERR(da_inv(rect.a, &out), DA_ERR_SHAPE, "square");
  EXPECT_ERR(da_det(rect.a, &out), DA_ERR_SHAPE, "square");
  EXPECT_ERR(da_det(c3, &out), DA_ERR_SHAPE, "must be 2-D");
  EXPECT_ERR(da_solve(rect.a, v, &out), DA_ERR_SHAPE, "square");
  EXPECT_ERR(da_solve(sq.a, rect.a, &out), DA_ERR_SHAPE, "first axis");
  EXPECT_ERR(da_solve(sq.a, c3, &out), DA_ERR_SHAPE, "1-D or 2-D");
  EXPECT_ERR(da_lstsq(rect.a, v, &out), DA_ERR_SHAPE, "first axis");
  EXPECT_ERR(da_qr(sq.a, (da_qr_mode)7, &out, &o2), DA_ERR_ARG, "mode");
  EXPECT_ERR(da_svd(sq.a, 0, &out, &o2, NULL), DA_ERR_ARG, "both");
  EXPECT_ERR(da_norm(c3, DA_NORM_ORD, 1, 0, NULL, 0, &out), DA_ERR_SHAPE, "dimensions");
  EXPECT_ERR(da_norm(sq.a, DA_NORM_ORD, 3, 2, (int[]){0, 1}, 0, &out), DA_ERR_ARG, "order");
  EXPECT_ERR(da_norm(v, DA_NORM_FRO, 0, 0, NULL, 0, &out), DA_ERR_ARG, "fro");
  EXPECT_ERR(da_norm(sq.a, DA_NORM_ORD, 1, 2, (int[]){1, -1}, 0, &out), DA_ERR_ARG, "duplicate");
  EXPECT_ERR(da_norm(sq.a, DA_NORM_ORD, 1, 1, (int[]){2}, 0, &out), DA_ERR_BOUNDS, "out of bounds");
  EXPECT_ERR(da_norm(c3, DA_NORM_ORD, 2, 2, (int[]){1, 2}, 0, &out), DA_ERR_UNSUPPORTED, "stacked");
  CHECK(out == NULL && o2 == NULL && o3 == NULL);

  /* Singular: a zero column gives an exact zero pivot. */
  double *h = tu_malloc(36 * sizeof(double));
  memcpy(h, sq.h, 36 * sizeof(double));
  int64_t zc = tu_int(&rng, 0, 5), shape[2] = {6, 6};
  for (int64_t i = 0; i < 6; i++)
    h[i * 6 + zc] = 0;
  da_array sing = NULL;
  TU_OK(ctx,
        da_from_root(ctx, 0, 2, shape, DA_CHUNKS(4, 4), DA_FLOAT64, h, 36 * sizeof(double), &sing));
  /* These are found when the lazy result is computed, on every rank. */
  TU_OK(ctx, da_solve(sing, v, &out));
  EXPECT_ERR(da_persist(out), DA_ERR_ARG, "the matrix is singular");
  da_array_destroy(&out);
  TU_OK(ctx, da_inv(sing, &out));
  EXPECT_ERR(da_persist(out), DA_ERR_ARG, "the matrix is singular");
  da_array_destroy(&out);
  /* Not positive definite: -A of an SPD A. */
  da_array neg = NULL;
  TU_OK(ctx, da_negative(spd.a, &neg));
  TU_OK(ctx, da_cholesky(neg, &out));
  double buf[36];
  EXPECT_ERR(da_compute(out, 0, buf, sizeof buf), DA_ERR_ARG, "not positive definite");
  da_array_destroy(&out);
  /* The context still works after the errors. */
  TU_OK(ctx, da_inv(spd.a, &out));
  da_array_destroy(&out);

  free(h);
  da_array_destroy(&sing), da_array_destroy(&neg), da_array_destroy(&v), da_array_destroy(&c3);
  mat_free(&sq), mat_free(&rect), mat_free(&spd);
}

/* Empty matrices follow NumPy's shapes. */
static void test_empty(void) {
  da_array a = NULL, q = NULL, r = NULL, d = NULL;
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){4, 0}, NULL, DA_FLOAT64, &a));
  TU_OK(ctx, da_qr(a, DA_QR_COMPLETE, &q, &r));
  CHECK(da_array_shape(q)[0] == 4 && da_array_shape(q)[1] == 4);
  CHECK(da_array_shape(r)[0] == 4 && da_array_shape(r)[1] == 0);
  da_array_destroy(&a), da_array_destroy(&q), da_array_destroy(&r);
  TU_OK(ctx, da_zeros(ctx, 2, (int64_t[]){0, 0}, NULL, DA_FLOAT32, &a));
  TU_OK(ctx, da_det(a, &d));
  float one = 0;
  TU_OK(ctx, da_compute(d, DA_ALL_RANKS, &one, sizeof one));
  CHECK(one == 1 && da_array_dtype(d) == DA_FLOAT32);
  da_array_destroy(&a), da_array_destroy(&d);
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t510-factor");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  rng = tu_rng_make(510);
  static const da_dtype dts[] = {DA_FLOAT64, DA_FLOAT32, DA_INT32};
  for (int round = 0; round < 3; round++)
    for (size_t t = 0; t < sizeof dts / sizeof *dts; t++) {
      da_dtype dt = dts[t];
      int64_t m = tu_int(&rng, 1, 24), n = tu_int(&rng, 1, 24), s = tu_int(&rng, 1, 24);
      test_qr(m, n, dt);
      test_svd(n, m, dt);
      test_solve(s, tu_int(&rng, 1, 4), tu_chance(&rng, 0.5), dt,
                 tu_chance(&rng, 0.7) ? dt : DA_FLOAT64);
      test_cholesky(s, dt);
      test_lstsq(m > n ? m : n, m > n ? n : m, tu_int(&rng, 1, 3), tu_chance(&rng, 0.5), dt);
      test_lstsq(m < n ? m : n, m < n ? n : m, tu_int(&rng, 1, 3), tu_chance(&rng, 0.5), dt);
      test_inv_det(s, dt, DOMINANT);
      test_inv_det(tu_int(&rng, 1, 8), dt, GENERAL);
      test_norms(m, n, dt);
      tu_sync();
    }
  test_det_special(tu_int(&rng, 2, 12));
  test_bad_input();
  test_empty();
  tu_sync();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  return tu_finish();
}
