/* Factorizations and norms on ScaLAPACK: qr, svd, solve, cholesky, lstsq, inv, det and norm.
 * One dtype-generic driver per operation over a table of kernels (ps* and pd*). */
#include "ops/linalg.h"
#include "ops/scalapack.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Not in scalapack.h: the LQ pair completes Vᵀ's rows to a full basis in svd. */
void psgelqf_(const int *m, const int *n, float *a, const int *ia, const int *ja,
              const int desca[9], float *tau, float *work, const int *lwork, int *info);
void pdgelqf_(const int *m, const int *n, double *a, const int *ia, const int *ja,
              const int desca[9], double *tau, double *work, const int *lwork, int *info);
void psorglq_(const int *m, const int *n, const int *k, float *a, const int *ia, const int *ja,
              const int desca[9], const float *tau, float *work, const int *lwork, int *info);
void pdorglq_(const int *m, const int *n, const int *k, double *a, const int *ia, const int *ja,
              const int desca[9], const double *tau, double *work, const int *lwork, int *info);

/* ---------------------------------------------------------------- typed kernels */

/* The routines the drivers call, with sizes by value and the matrices as void *. Every
 * matrix starts at (1, 1) unless given (ia, ja). */
typedef struct {
  void (*geqrf)(int m, int n, void *a, const int *desc, void *tau, void *work, int lwork,
                int *info);
  void (*orgqr)(int m, int n, int k, void *a, const int *desc, const void *tau, void *work,
                int lwork, int *info);
  void (*gelqf)(int m, int n, void *a, const int *desc, void *tau, void *work, int lwork,
                int *info);
  void (*orglq)(int m, int n, int k, void *a, const int *desc, const void *tau, void *work,
                int lwork, int *info);
  void (*gesvd)(const char *job, int m, int n, void *a, const int *desca, void *s, void *u,
                const int *descu, void *vt, const int *descvt, void *work, int lwork, int *info);
  void (*gesv)(int n, int nrhs, void *a, const int *desca, int *ipiv, void *b, const int *descb,
               int *info);
  void (*getrf)(int n, void *a, const int *desc, int *ipiv, int *info);
  void (*getri)(int n, void *a, const int *desc, const int *ipiv, void *work, int lwork, int *iwork,
                int liwork, int *info);
  void (*potrf)(int n, void *a, const int *desc, int *info);
  void (*gels)(int m, int n, int nrhs, void *a, const int *desca, void *b, const int *descb,
               void *work, int lwork, int *info);
  void (*lacpy)(const char *uplo, int m, int n, const void *a, const int *desca, void *b,
                const int *descb);
  void (*laset)(const char *uplo, int m, int n, double alpha, double beta, void *a, int ia, int ja,
                const int *desc);
  double (*get)(const void *p, int64_t i);
} la_kernels;

static const int one = 1;

#define LA_KERNELS(P, T)                                                                           \
  static void P##_geqrf(int m, int n, void *a, const int *desc, void *tau, void *work, int lwork,  \
                        int *info) {                                                               \
    P##geqrf_(&m, &n, a, &one, &one, desc, tau, work, &lwork, info);                               \
  }                                                                                                \
  static void P##_orgqr(int m, int n, int k, void *a, const int *desc, const void *tau,            \
                        void *work, int lwork, int *info) {                                        \
    P##orgqr_(&m, &n, &k, a, &one, &one, desc, tau, work, &lwork, info);                           \
  }                                                                                                \
  static void P##_gelqf(int m, int n, void *a, const int *desc, void *tau, void *work, int lwork,  \
                        int *info) {                                                               \
    P##gelqf_(&m, &n, a, &one, &one, desc, tau, work, &lwork, info);                               \
  }                                                                                                \
  static void P##_orglq(int m, int n, int k, void *a, const int *desc, const void *tau,            \
                        void *work, int lwork, int *info) {                                        \
    P##orglq_(&m, &n, &k, a, &one, &one, desc, tau, work, &lwork, info);                           \
  }                                                                                                \
  static void P##_gesvd(const char *job, int m, int n, void *a, const int *desca, void *s,         \
                        void *u, const int *descu, void *vt, const int *descvt, void *work,        \
                        int lwork, int *info) {                                                    \
    P##gesvd_(job, job, &m, &n, a, &one, &one, desca, s, u, &one, &one, descu, vt, &one, &one,     \
              descvt, work, &lwork, info, 1, 1);                                                   \
  }                                                                                                \
  static void P##_gesv(int n, int nrhs, void *a, const int *desca, int *ipiv, void *b,             \
                       const int *descb, int *info) {                                              \
    P##gesv_(&n, &nrhs, a, &one, &one, desca, ipiv, b, &one, &one, descb, info);                   \
  }                                                                                                \
  static void P##_getrf(int n, void *a, const int *desc, int *ipiv, int *info) {                   \
    P##getrf_(&n, &n, a, &one, &one, desc, ipiv, info);                                            \
  }                                                                                                \
  static void P##_getri(int n, void *a, const int *desc, const int *ipiv, void *work, int lwork,   \
                        int *iwork, int liwork, int *info) {                                       \
    P##getri_(&n, a, &one, &one, desc, ipiv, work, &lwork, iwork, &liwork, info);                  \
  }                                                                                                \
  static void P##_potrf(int n, void *a, const int *desc, int *info) {                              \
    P##potrf_("L", &n, a, &one, &one, desc, info, 1);                                              \
  }                                                                                                \
  static void P##_gels(int m, int n, int nrhs, void *a, const int *desca, void *b,                 \
                       const int *descb, void *work, int lwork, int *info) {                       \
    P##gels_("N", &m, &n, &nrhs, a, &one, &one, desca, b, &one, &one, descb, work, &lwork, info,   \
             1);                                                                                   \
  }                                                                                                \
  static void P##_lacpy(const char *uplo, int m, int n, const void *a, const int *desca, void *b,  \
                        const int *descb) {                                                        \
    P##lacpy_(uplo, &m, &n, a, &one, &one, desca, b, &one, &one, descb, 1);                        \
  }                                                                                                \
  static void P##_laset(const char *uplo, int m, int n, double alpha, double beta, void *a,        \
                        int ia, int ja, const int *desc) {                                         \
    T al = (T)alpha, be = (T)beta;                                                                 \
    P##laset_(uplo, &m, &n, &al, &be, a, &ia, &ja, desc, 1);                                       \
  }                                                                                                \
  static double P##_get(const void *p, int64_t i) {                                                \
    return (double)((const T *)p)[i];                                                              \
  }                                                                                                \
  static const la_kernels P##_kernels = {P##_geqrf, P##_orgqr, P##_gelqf, P##_orglq, P##_gesvd,    \
                                         P##_gesv,  P##_getrf, P##_getri, P##_potrf, P##_gels,     \
                                         P##_lacpy, P##_laset, P##_get};

LA_KERNELS(ps, float)
LA_KERNELS(pd, double)

static const la_kernels *kernels(da_dtype dt) {
  return dt == DA_FLOAT32 ? &ps_kernels : &pd_kernels;
}

/* ---------------------------------------------------------------- shared checks */

/* NumPy's linalg computes in float64 unless every operand is float32. */
static da_dtype float_type(da_dtype a, da_dtype b) {
  return a == DA_FLOAT32 && b == DA_FLOAT32 ? DA_FLOAT32 : DA_FLOAT64;
}

/* a must be a matrix (square when asked); ScaLAPACK indexes with int. */
static int check_matrix(da_array a, const char *op, bool square) {
  da_ctx ctx = a->ctx;
  if (a->ndim != 2)
    return DA_ERR(ctx, DA_ERR_SHAPE, "%s: %d-dimensional array given; the array must be 2-D", op,
                  a->ndim);
  char s[64];
  if (square && a->shape[0] != a->shape[1])
    return DA_ERR(ctx, DA_ERR_SHAPE, "%s: the matrix must be square, not %s", op,
                  da_shape_str(2, a->shape, s, sizeof s));
  if (a->shape[0] > INT_MAX / 2 || a->shape[1] > INT_MAX / 2)
    return DA_ERR(ctx, DA_ERR_OVERFLOW, "%s: a %s matrix is beyond ScaLAPACK's int indices", op,
                  da_shape_str(2, a->shape, s, sizeof s));
  return DA_OK;
}

/* The right-hand side b of a (m x n) system: 1-D of length m or 2-D (m, k). */
static int check_rhs(da_array a, da_array b, const char *op) {
  da_ctx ctx = a->ctx;
  char sa[64], sb[64];
  if (b->ctx != ctx)
    return DA_ERR(ctx, DA_ERR_ARG, "%s: a and b belong to different contexts", op);
  if (b->ndim != 1 && b->ndim != 2)
    return DA_ERR(ctx, DA_ERR_SHAPE, "%s: b must be 1-D or 2-D, not %d-D %s", op, b->ndim,
                  da_shape_str(b->ndim, b->shape, sb, sizeof sb));
  if (b->shape[0] != a->shape[0])
    return DA_ERR(ctx, DA_ERR_SHAPE,
                  "%s: a is %s but b is %s: b's first axis must have length %lld (a's rows)", op,
                  da_shape_str(2, a->shape, sa, sizeof sa),
                  da_shape_str(b->ndim, b->shape, sb, sizeof sb), (long long)a->shape[0]);
  if (b->ndim == 2 && b->shape[1] > INT_MAX / 2)
    return DA_ERR(ctx, DA_ERR_OVERFLOW, "%s: b has too many columns for ScaLAPACK", op);
  return DA_OK;
}

/* Whether the chunks along axis are one length but for a shorter last one. */
static bool uniform_chunks(const da_array a, int axis) {
  for (int64_t i = 0; i + 1 < a->numblocks[axis]; i++)
    if (a->chunks[axis][i] != a->chunksize[axis])
      return false;
  return true;
}

/* The square block size of the block-cyclic matrices: the array's own square chunks when
 * they are uniform (la_from_array then packs them where they are), else one that gives every
 * rank of a 2 x 2 grid a few blocks, at most 64 (ScaLAPACK's usual panel width). */
static int64_t block_for(const da_array a) {
  int64_t c = a->chunksize[0];
  if (c > 0 && c == a->chunksize[1] && c <= 512 && uniform_chunks(a, 0) && uniform_chunks(a, 1))
    return c;
  int64_t big = a->shape[0] > a->shape[1] ? a->shape[0] : a->shape[1];
  int64_t nb = (big + 7) / 8;
  return nb < 1 ? 1 : nb > 64 ? 64 : nb;
}

/* A square grid-wide setting for one problem: block size and process grid. */
typedef struct {
  int64_t nb;
  int nprow, npcol;
  da_dtype dt;
  const la_kernels *k;
} la_plan;

static la_plan plan_for(const da_array a, da_dtype dt) {
  la_plan p = {block_for(a), 1, 1, dt, kernels(dt)};
  la_grid_for(a->ctx, a->shape[0], a->shape[1], p.nb, p.nb, &p.nprow, &p.npcol);
  return p;
}

static int plan_new(da_ctx ctx, const la_plan *p, int64_t m, int64_t n, la_matrix *out) {
  return la_new(ctx, m, n, p->nb, p->nb, p->nprow, p->npcol, p->dt, out);
}

static int plan_from(da_array a, const la_plan *p, la_matrix *out) {
  return la_from_array(a, p->dt, p->nb, p->nb, p->nprow, p->npcol, out);
}

/* A workspace size from a query's answer (rounded up: float32 answers lose low bits). */
static int work_size(da_ctx ctx, const la_plan *p, const void *w, int *lwork) {
  double v = ceil(p->k->get(w, 0) * (1 + 1e-6)) + 1;
  if (!(v < INT_MAX))
    return DA_ERR(ctx, DA_ERR_OVERFLOW, "ScaLAPACK asks for %g workspace elements", v);
  *lwork = (int)v;
  return DA_OK;
}

static void *work_alloc(da_ctx ctx, const la_plan *p, int64_t n) {
  return da_malloc(ctx, (size_t)(n > 1 ? n : 1) * da_dtype_size(p->dt));
}

static void la_init(la_matrix *m) {
  memset(m, 0, sizeof *m);
  m->blacs = -1;
}

/* Collective. A local failure (rc, on some ranks) or else ScaLAPACK's info, as one agreed
 * code: every rank must come here, in or outside the grid. */
static int la_done(da_ctx ctx, int rc, int info, const char *routine, int code, const char *what) {
  rc = da_agree(ctx, rc);
  return rc ? rc : la_info(ctx, info, routine, code, what);
}

/* Collective. b as a matrix: 1-D b as one column. */
static int rhs_matrix(da_array b, da_array *out) {
  if (b->ndim == 2)
    return da_array_ref(b, out);
  int64_t shape[2] = {b->shape[0], 1};
  return da_reshape(b, 2, shape, out);
}

static int zeros(da_ctx ctx, int ndim, int64_t m, int64_t n, da_dtype dt, da_array *out) {
  int64_t shape[2] = {m, n};
  return da_zeros(ctx, ndim, shape, NULL, dt, out);
}

#define CHECK_OUT(ctx, p, op)                                                                      \
  do {                                                                                             \
    if (!(p))                                                                                      \
      return da_agree((ctx), DA_ERR((ctx), DA_ERR_ARG, "%s: an output pointer is NULL", (op)));    \
    *(p) = NULL;                                                                                   \
  } while (0)

/* ---------------------------------------------------------------- qr */

/* Local, on grid ranks. Overwrites q's first k columns (Householder vectors of geqrf, tau
 * beside them) with the explicit m x n factor. */
static int orgqr_run(da_ctx ctx, const la_plan *p, la_matrix *q, int64_t n, int64_t k,
                     const void *tau, int *info) {
  double query[2];
  p->k->orgqr((int)q->m, (int)n, (int)k, q->data, q->desc, tau, query, -1, info);
  int lwork = 0;
  DA_TRY(work_size(ctx, p, query, &lwork));
  void *work = work_alloc(ctx, p, lwork);
  if (!work)
    return DA_ERR_NOMEM;
  p->k->orgqr((int)q->m, (int)n, (int)k, q->data, q->desc, tau, work, lwork, info);
  free(work);
  return DA_OK;
}

static int geqrf_run(da_ctx ctx, const la_plan *p, la_matrix *a, int64_t m, int64_t n, void *tau,
                     int *info) {
  double query[2];
  p->k->geqrf((int)m, (int)n, a->data, a->desc, tau, query, -1, info);
  int lwork = 0;
  DA_TRY(work_size(ctx, p, query, &lwork));
  void *work = work_alloc(ctx, p, lwork);
  if (!work)
    return DA_ERR_NOMEM;
  p->k->geqrf((int)m, (int)n, a->data, a->desc, tau, work, lwork, info);
  free(work);
  return DA_OK;
}

/* ---------------------------------------------------------------- several results */

/* qr and svd give several arrays from one factorization. Each is a lazy collective node; the
 * first one computed runs the factorization and keeps the matrices of the others still
 * alive here until their nodes take them, so computing them one after another factors once
 * (and until then holds their memory). */
#define MAX_PARTS 3

typedef struct multi multi;
struct multi {
  int refs, nparts;
  bool alive[MAX_PARTS], ready[MAX_PARTS];
  la_matrix part[MAX_PARTS];
  la_plan p;
  int mode; /* qr: da_qr_mode; svd: full_matrices */
  int (*factor)(da_array a, const multi *m, la_matrix out[]);
};

typedef struct {
  multi *m;
  int which;
} part_params;

static void part_free(void *pp) {
  part_params *p = pp;
  multi *m = p->m;
  la_free(&m->part[p->which]);
  m->ready[p->which] = m->alive[p->which] = false;
  if (--m->refs == 0)
    free(m);
  free(p);
}

static int part_collective(da_array node) {
  const part_params *pp = node->params;
  multi *m = pp->m;
  int w = pp->which, rc = DA_OK;
  la_matrix mine;
  la_init(&mine);
  if (m->ready[w]) {
    mine = m->part[w];
    la_init(&m->part[w]);
    m->ready[w] = false;
  } else {
    la_matrix out[MAX_PARTS];
    for (int i = 0; i < MAX_PARTS; i++)
      la_init(&out[i]);
    rc = m->factor(node->inputs[0], m, out);
    for (int i = 0; i < m->nparts; i++) {
      if (i == w)
        mine = out[i];
      else if (!rc && m->alive[i] && !m->ready[i])
        m->part[i] = out[i], m->ready[i] = true;
      else
        la_free(&out[i]);
    }
  }
  if (!rc)
    rc = la_unpack_into(&mine, true, node);
  la_free(&mine);
  return rc;
}

static const da_layer_ops qr_ops = {
    .name = "qr", .collective = part_collective, .free_params = part_free};
static const da_layer_ops svd_ops = {
    .name = "svd", .collective = part_collective, .free_params = part_free};

/* Collective. The lazy result part `which` of m, rows x cols, of a (1-D: a column reshaped);
 * the node holds a reference to m. */
static int part_node(const da_layer_ops *ops, multi *m, int which, da_array a, int64_t rows,
                     int64_t cols, int ndim, da_array *out) {
  da_ctx ctx = a->ctx;
  part_params *pp = malloc(sizeof *pp);
  if (!pp)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate parameters", ops->name));
  *pp = (part_params){m, which};
  m->refs++, m->alive[which] = true;
  da_array node = NULL;
  const la_plan *p = &m->p;
  DA_TRY(
      la_node_new(ctx, rows, cols, p->nb, p->nb, p->nprow, p->npcol, p->dt, ops, pp, 1, &a, &node));
  if (ndim == 2) {
    *out = node;
    return DA_OK;
  }
  int rc = da_reshape(node, 1, &rows, out);
  da_array_destroy(&node);
  return rc;
}

/* Collective. The nodes of the parts want[i] of a new multi (out[i]), or an error and none. */
static int parts_new(const da_layer_ops *ops, multi *m, da_array a, const int64_t shape[][2],
                     const int ndim[], da_array *const out[]) {
  int rc = DA_OK;
  m->refs = 1; /* this call's own, until every node holds one */
  for (int i = 0; i < m->nparts && !rc; i++)
    if (out[i])
      rc = part_node(ops, m, i, a, shape[i][0], shape[i][1], ndim[i], out[i]);
  for (int i = 0; i < m->nparts && rc; i++)
    if (out[i])
      da_array_destroy(out[i]);
  if (--m->refs == 0)
    free(m);
  return rc;
}

/* ---------------------------------------------------------------- qr */

/* Collective. R (out[0]) and, unless the mode is R alone, Q (out[1]) of a. */
static int qr_factor(da_array a, const multi *mp, la_matrix out[]) {
  da_ctx ctx = a->ctx;
  la_plan p = mp->p;
  da_qr_mode mode = (da_qr_mode)mp->mode;
  int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
  int64_t rrows = mode == DA_QR_COMPLETE ? m : k, qcols = mode == DA_QR_COMPLETE ? m : k;
  la_matrix A, *R = &out[0], *Q = &out[1];
  la_init(&A);
  void *tau = NULL;
  int info = 0, rc = plan_from(a, &p, &A);
  if (!rc) {
    tau = work_alloc(ctx, &p, A.lcols + 1);
    rc = da_agree(ctx, tau ? DA_OK : DA_ERR_NOMEM);
  }
  if (!rc && A.blacs >= 0)
    rc = geqrf_run(ctx, &p, &A, m, n, tau, &info);
  rc = la_done(ctx, rc, info, "qr (p?geqrf)", DA_ERR_INTERNAL, "failed");
  if (!rc)
    rc = plan_new(ctx, &p, rrows, n, R);
  if (!rc && R->blacs >= 0)
    p.k->lacpy("U", (int)rrows, (int)n, A.data, A.desc, R->data, R->desc);
  if (!rc && mode != DA_QR_R) {
    rc = plan_new(ctx, &p, m, qcols, Q);
    if (!rc && Q->blacs >= 0) {
      p.k->lacpy("A", (int)m, (int)(n < qcols ? n : qcols), A.data, A.desc, Q->data, Q->desc);
      rc = orgqr_run(ctx, &p, Q, qcols, k, tau, &info);
    }
    rc = la_done(ctx, rc, info, "qr (p?orgqr)", DA_ERR_INTERNAL, "failed");
  }
  if (rc)
    la_free(R), la_free(Q);
  free(tau);
  la_free(&A);
  return rc;
}

int da_qr(da_array a, da_qr_mode mode, da_array *q, da_array *r) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, r, "qr");
  if (mode != DA_QR_R)
    CHECK_OUT(ctx, q, "qr");
  else if (q)
    *q = NULL;
  if (mode != DA_QR_REDUCED && mode != DA_QR_COMPLETE && mode != DA_QR_R)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "qr: unknown mode %d", (int)mode));
  DA_TRY(check_matrix(a, "qr", false));
  int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
  int64_t rrows = mode == DA_QR_COMPLETE ? m : k, qcols = mode == DA_QR_COMPLETE ? m : k;
  la_plan p = plan_for(a, float_type(a->dtype, a->dtype));
  if (k == 0) { /* nothing to factor: Q is the identity, R is empty or zeros */
    DA_TRY(zeros(ctx, 2, rrows, n, p.dt, r));
    int rc = mode == DA_QR_R ? DA_OK : da_eye(ctx, m, qcols, 0, NULL, p.dt, q);
    if (rc)
      da_array_destroy(r);
    return rc;
  }
  multi *mp = calloc(1, sizeof *mp);
  if (!mp)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "qr: cannot allocate parameters"));
  mp->nparts = 2, mp->p = p, mp->mode = mode, mp->factor = qr_factor;
  for (int i = 0; i < MAX_PARTS; i++)
    la_init(&mp->part[i]);
  const int64_t shape[2][2] = {{rrows, n}, {m, qcols}};
  return parts_new(&qr_ops, mp, a, shape, (const int[]){2, 2},
                   (da_array *const[]){r, mode == DA_QR_R ? NULL : q});
}

/* ---------------------------------------------------------------- svd */

/* Collective. w (n x n) with rows (lq) or columns (qr) 0..k-1 from the orthonormal x, the rest
 * an orthonormal basis of their complement: the Householder factor of x's own QR (LQ),
 * with x copied back over its first k (where the factor holds ±x). */
static int complete_basis(da_ctx ctx, const la_plan *p, const la_matrix *x, bool rows, int64_t n,
                          int64_t k, la_matrix *w) {
  DA_TRY(plan_new(ctx, p, n, n, w));
  int info = 0, rc = DA_OK;
  if (w->blacs >= 0) {
    int64_t xm = rows ? k : n, xn = rows ? n : k;
    p->k->lacpy("A", (int)xm, (int)xn, x->data, x->desc, w->data, w->desc);
    void *tau = work_alloc(ctx, p, (rows ? w->lrows : w->lcols) + 1);
    double query[2];
    int lwork = 0;
    void *work = NULL;
    if (!tau)
      rc = DA_ERR_NOMEM;
    if (!rc) { /* one workspace serves both calls */
      if (rows)
        p->k->gelqf((int)k, (int)n, w->data, w->desc, tau, query, -1, &info);
      else
        p->k->geqrf((int)n, (int)k, w->data, w->desc, tau, query, -1, &info);
      rc = work_size(ctx, p, query, &lwork);
    }
    if (!rc) {
      int l2 = 0;
      if (rows)
        p->k->orglq((int)n, (int)n, (int)k, w->data, w->desc, tau, query, -1, &info);
      else
        p->k->orgqr((int)n, (int)n, (int)k, w->data, w->desc, tau, query, -1, &info);
      rc = work_size(ctx, p, query, &l2);
      lwork = l2 > lwork ? l2 : lwork;
    }
    if (!rc && !(work = work_alloc(ctx, p, lwork)))
      rc = DA_ERR_NOMEM;
    if (!rc && rows) {
      p->k->gelqf((int)k, (int)n, w->data, w->desc, tau, work, lwork, &info);
      if (!info)
        p->k->orglq((int)n, (int)n, (int)k, w->data, w->desc, tau, work, lwork, &info);
    } else if (!rc) {
      p->k->geqrf((int)n, (int)k, w->data, w->desc, tau, work, lwork, &info);
      if (!info)
        p->k->orgqr((int)n, (int)n, (int)k, w->data, w->desc, tau, work, lwork, &info);
    }
    if (!rc && !info)
      p->k->lacpy("A", (int)xm, (int)xn, x->data, x->desc, w->data, w->desc);
    free(work);
    free(tau);
  }
  rc = la_done(ctx, rc, info, "svd (p?orgqr)", DA_ERR_INTERNAL, "failed");
  if (rc)
    la_free(w);
  return rc;
}

/* The singular values sv (on every grid rank) as the k x 1 matrix S. */
static void values_column(const la_plan *p, const void *sv, la_matrix *S) {
  size_t es = da_dtype_size(p->dt);
  for (int64_t l = 0; S->lcols > 0 && l < S->lrows; l++) {
    int64_t g = ((l / S->mb) * S->nprow + S->myrow) * S->mb + l % S->mb;
    memcpy((char *)S->data + (size_t)l * es, (const char *)sv + (size_t)g * es, es);
  }
}

/* Collective. S (out[0], k x 1) and, with vectors, U (out[1]) and Vt (out[2]) of a. */
static int svd_factor(da_array a, const multi *mp, la_matrix out[]) {
  da_ctx ctx = a->ctx;
  la_plan p = mp->p;
  bool uv = mp->nparts == 3, full_matrices = mp->mode;
  int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
  la_matrix A, W, *S = &out[0], *U = &out[1], *VT = &out[2];
  la_init(&A), la_init(&W);
  void *sv = work_alloc(ctx, &p, k), *work = NULL;
  int rc = da_agree(ctx, sv ? DA_OK : DA_ERR_NOMEM);
  if (!rc)
    rc = plan_from(a, &p, &A);
  if (!rc && uv)
    rc = plan_new(ctx, &p, m, k, U);
  if (!rc && uv)
    rc = plan_new(ctx, &p, k, n, VT);
  int info = 0;
  if (!rc && A.blacs >= 0) {
    /* Without vectors U and VT are not referenced; A stands in for their descriptors. */
    la_matrix *pu = uv ? U : &A, *pv = uv ? VT : &A;
    const char *job = uv ? "V" : "N";
    double query[2];
    int lwork = 0;
    p.k->gesvd(job, (int)m, (int)n, A.data, A.desc, sv, pu->data, pu->desc, pv->data, pv->desc,
               query, -1, &info);
    rc = work_size(ctx, &p, query, &lwork);
    if (!rc && !(work = work_alloc(ctx, &p, lwork)))
      rc = DA_ERR_NOMEM;
    if (!rc)
      p.k->gesvd(job, (int)m, (int)n, A.data, A.desc, sv, pu->data, pu->desc, pv->data, pv->desc,
                 work, lwork, &info);
    free(work);
  }
  rc = la_done(ctx, rc, info, "svd (p?gesvd)", DA_ERR_ARG, "the SVD did not converge");
  if (!rc)
    rc = plan_new(ctx, &p, k, 1, S);
  if (!rc)
    values_column(&p, sv, S);
  if (!rc && uv && full_matrices && m > k) {
    rc = complete_basis(ctx, &p, U, false, m, k, &W);
    if (!rc)
      la_free(U), *U = W, la_init(&W);
  }
  if (!rc && uv && full_matrices && n > k) {
    rc = complete_basis(ctx, &p, VT, true, n, k, &W);
    if (!rc)
      la_free(VT), *VT = W, la_init(&W);
  }
  if (rc)
    la_free(S), la_free(U), la_free(VT);
  free(sv);
  la_free(&A), la_free(&W);
  return rc;
}

int da_svd(da_array a, int full_matrices, da_array *u, da_array *s, da_array *vt) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, s, "svd");
  if (!u != !vt)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "svd: give both u and vt, or neither"));
  bool uv = u != NULL;
  if (uv)
    *u = NULL, *vt = NULL;
  DA_TRY(check_matrix(a, "svd", false));
  int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
  int64_t ucols = full_matrices ? m : k, vrows = full_matrices ? n : k;
  la_plan p = plan_for(a, float_type(a->dtype, a->dtype));
  int rc = DA_OK;
  if (k == 0) { /* no singular values; the bases are identities */
    DA_TRY(zeros(ctx, 1, 0, 0, p.dt, s));
    if (uv) {
      rc = da_eye(ctx, m, ucols, 0, NULL, p.dt, u);
      if (!rc)
        rc = da_eye(ctx, vrows, n, 0, NULL, p.dt, vt);
      if (rc)
        da_array_destroy(s), da_array_destroy(u);
    }
    return rc;
  }
  multi *mp = calloc(1, sizeof *mp);
  if (!mp)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "svd: cannot allocate parameters"));
  mp->nparts = uv ? 3 : 1, mp->p = p, mp->mode = full_matrices != 0, mp->factor = svd_factor;
  for (int i = 0; i < MAX_PARTS; i++)
    la_init(&mp->part[i]);
  const int64_t shape[3][2] = {{k, 1}, {m, ucols}, {vrows, n}};
  return parts_new(&svd_ops, mp, a, shape, (const int[]){1, 2, 2},
                   (da_array *const[]){s, uv ? u : NULL, uv ? vt : NULL});
}

/* ---------------------------------------------------------------- lazy results */

/* solve, lstsq, cholesky, inv and det are lazy: a collective node whose run computes the
 * result matrix from its materialized inputs (the matrix, and b) with one of these. */
typedef int (*factor_core)(da_array a, da_array b, const la_plan *p, la_matrix *out);

typedef struct {
  la_plan p;
  factor_core core;
} factor_params;

static int factor_collective(da_array node) {
  const factor_params *fp = node->params;
  la_matrix r;
  la_init(&r);
  int rc = fp->core(node->inputs[0], node->ninputs > 1 ? node->inputs[1] : NULL, &fp->p, &r);
  if (!rc)
    rc = la_unpack_into(&r, true, node);
  la_free(&r);
  return rc;
}

/* Collective. The lazy m x n result of core on a (and b) in blocks of the plan; a 1-D
 * (vector) or 0-d (scalar) result is a reshape of it. */
static int factor_node(const da_layer_ops *ops, factor_core core, const la_plan *p, int64_t m,
                       int64_t n, int64_t nb, int nprow, int npcol, da_array a, da_array b,
                       int out_ndim, da_array *out) {
  da_ctx ctx = a->ctx;
  factor_params *fp = malloc(sizeof *fp);
  if (!fp)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "%s: cannot allocate parameters", ops->name));
  fp->p = *p, fp->core = core;
  da_array in[2] = {a, b}, node = NULL;
  DA_TRY(la_node_new(ctx, m, n, nb, nb, nprow, npcol, p->dt, ops, fp, b ? 2 : 1, in, &node));
  if (out_ndim == 2) {
    *out = node;
    return DA_OK;
  }
  int rc = da_reshape(node, out_ndim, &m, out);
  da_array_destroy(&node);
  return rc;
}

/* ---------------------------------------------------------------- solve, lstsq */

static int solve_core(da_array a, da_array b, const la_plan *p, la_matrix *B) {
  da_ctx ctx = a->ctx;
  la_matrix A;
  la_init(&A);
  int *ipiv = NULL, info = 0;
  int rc = plan_from(a, p, &A);
  if (!rc)
    rc = plan_from(b, p, B);
  if (!rc) {
    ipiv = da_malloc(ctx, (size_t)(A.lrows + p->nb) * sizeof *ipiv);
    rc = da_agree(ctx, ipiv ? DA_OK : DA_ERR_NOMEM);
  }
  if (!rc && A.blacs >= 0)
    p->k->gesv((int)a->shape[0], (int)b->shape[1], A.data, A.desc, ipiv, B->data, B->desc, &info);
  if (!rc)
    rc = la_info(ctx, info, "solve (p?gesv)", DA_ERR_ARG, "the matrix is singular");
  free(ipiv);
  la_free(&A);
  return rc;
}

static const da_layer_ops solve_ops = {.name = "solve", .collective = factor_collective};

int da_solve(da_array a, da_array b, da_array *x) {
  if (!a || !b)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, x, "solve");
  DA_TRY(check_matrix(a, "solve", true));
  DA_TRY(check_rhs(a, b, "solve"));
  int64_t n = a->shape[0], nrhs = b->ndim == 2 ? b->shape[1] : 1;
  la_plan p = plan_for(a, float_type(a->dtype, b->dtype));
  if (n == 0 || nrhs == 0)
    return zeros(ctx, b->ndim, n, nrhs, p.dt, x);
  da_array b2 = NULL;
  DA_TRY(rhs_matrix(b, &b2));
  int rc =
      factor_node(&solve_ops, solve_core, &p, n, nrhs, p.nb, p.nprow, p.npcol, a, b2, b->ndim, x);
  da_array_destroy(&b2);
  return rc;
}

static int lstsq_core(da_array a, da_array b, const la_plan *p, la_matrix *X) {
  da_ctx ctx = a->ctx;
  int64_t m = a->shape[0], n = a->shape[1], nrhs = b->shape[1], big = m > n ? m : n;
  la_matrix A, B, W;
  la_init(&A), la_init(&B), la_init(&W);
  void *work = NULL;
  int info = 0, rc = plan_from(a, p, &A);
  if (!rc)
    rc = plan_from(b, p, &B);
  /* p?gels overwrites max(m, n) rows of b: the solution's n, or m residual rows. */
  if (!rc)
    rc = plan_new(ctx, p, big, nrhs, &W);
  if (!rc)
    rc = plan_new(ctx, p, n, nrhs, X);
  if (!rc && A.blacs >= 0) {
    p->k->lacpy("A", (int)m, (int)nrhs, B.data, B.desc, W.data, W.desc);
    double query[2];
    int lwork = 0;
    p->k->gels((int)m, (int)n, (int)nrhs, A.data, A.desc, W.data, W.desc, query, -1, &info);
    rc = work_size(ctx, p, query, &lwork);
    if (!rc && !(work = work_alloc(ctx, p, lwork)))
      rc = DA_ERR_NOMEM;
    if (!rc)
      p->k->gels((int)m, (int)n, (int)nrhs, A.data, A.desc, W.data, W.desc, work, lwork, &info);
    if (!rc && !info)
      p->k->lacpy("A", (int)n, (int)nrhs, W.data, W.desc, X->data, X->desc);
  }
  rc = la_done(ctx, rc, info, "lstsq (p?gels)", DA_ERR_ARG, "the matrix does not have full rank");
  free(work);
  la_free(&A), la_free(&B), la_free(&W);
  return rc;
}

static const da_layer_ops lstsq_ops = {.name = "lstsq", .collective = factor_collective};

int da_lstsq(da_array a, da_array b, da_array *x) {
  if (!a || !b)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, x, "lstsq");
  DA_TRY(check_matrix(a, "lstsq", false));
  DA_TRY(check_rhs(a, b, "lstsq"));
  int64_t m = a->shape[0], n = a->shape[1], nrhs = b->ndim == 2 ? b->shape[1] : 1;
  la_plan p = plan_for(a, float_type(a->dtype, b->dtype));
  if (m == 0 || n == 0 || nrhs == 0) /* NumPy: the minimum-norm solution is zero */
    return zeros(ctx, b->ndim, n, nrhs, p.dt, x);
  da_array b2 = NULL;
  DA_TRY(rhs_matrix(b, &b2));
  int rc =
      factor_node(&lstsq_ops, lstsq_core, &p, n, nrhs, p.nb, p.nprow, p.npcol, a, b2, b->ndim, x);
  da_array_destroy(&b2);
  return rc;
}

/* ---------------------------------------------------------------- cholesky, inv, det */

static int cholesky_core(da_array a, da_array b, const la_plan *p, la_matrix *A) {
  (void)b;
  int64_t n = a->shape[0];
  int info = 0;
  DA_TRY(plan_from(a, p, A));
  if (A->blacs >= 0)
    p->k->potrf((int)n, A->data, A->desc, &info);
  DA_TRY(la_info(a->ctx, info, "cholesky (p?potrf)", DA_ERR_ARG,
                 "the matrix is not positive definite"));
  /* p?potrf leaves the strict upper triangle as it was; NumPy's L has zeros there. */
  if (A->blacs >= 0 && n > 1)
    p->k->laset("U", (int)n - 1, (int)n - 1, 0, 0, A->data, 1, 2, A->desc);
  return DA_OK;
}

static const da_layer_ops cholesky_ops = {.name = "cholesky", .collective = factor_collective};

int da_cholesky(da_array a, da_array *l) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, l, "cholesky");
  DA_TRY(check_matrix(a, "cholesky", true));
  int64_t n = a->shape[0];
  la_plan p = plan_for(a, float_type(a->dtype, a->dtype));
  if (n == 0)
    return zeros(ctx, 2, 0, 0, p.dt, l);
  return factor_node(&cholesky_ops, cholesky_core, &p, n, n, p.nb, p.nprow, p.npcol, a, NULL, 2, l);
}

/* Collective. The LU factors of square a in A (pivots in *ipiv); *info as p?getrf's. */
static int lu(da_array a, const la_plan *p, la_matrix *A, int **ipiv, int *info) {
  da_ctx ctx = a->ctx;
  *info = 0;
  DA_TRY(plan_from(a, p, A));
  *ipiv = da_malloc(ctx, (size_t)(A->lrows + p->nb) * sizeof **ipiv);
  int rc = da_agree(ctx, *ipiv ? DA_OK : DA_ERR_NOMEM);
  if (!rc && A->blacs >= 0)
    p->k->getrf((int)a->shape[0], A->data, A->desc, *ipiv, info);
  return rc;
}

static int inv_core(da_array a, da_array b, const la_plan *p, la_matrix *A) {
  (void)b;
  da_ctx ctx = a->ctx;
  int64_t n = a->shape[0];
  int *ipiv = NULL, *iwork = NULL, info = 0;
  void *work = NULL;
  int rc = lu(a, p, A, &ipiv, &info);
  if (!rc)
    rc = la_info(ctx, info, "inv (p?getrf)", DA_ERR_ARG, "the matrix is singular");
  if (!rc) {
    if (A->blacs >= 0) {
      double query[2];
      int iquery = 0, lwork = 0, liwork = 0;
      p->k->getri((int)n, A->data, A->desc, ipiv, query, -1, &iquery, -1, &info);
      rc = work_size(ctx, p, query, &lwork);
      liwork = iquery + 1;
      if (!rc && (!(work = work_alloc(ctx, p, lwork)) ||
                  !(iwork = da_malloc(ctx, (size_t)liwork * sizeof *iwork))))
        rc = DA_ERR_NOMEM;
      if (!rc)
        p->k->getri((int)n, A->data, A->desc, ipiv, work, lwork, iwork, liwork, &info);
    }
    rc = la_done(ctx, rc, info, "inv (p?getri)", DA_ERR_ARG, "the matrix is singular");
  }
  free(work), free(iwork), free(ipiv);
  return rc;
}

static const da_layer_ops inv_ops = {.name = "inv", .collective = factor_collective};

int da_inv(da_array a, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, out, "inv");
  DA_TRY(check_matrix(a, "inv", true));
  int64_t n = a->shape[0];
  la_plan p = plan_for(a, float_type(a->dtype, a->dtype));
  if (n == 0)
    return zeros(ctx, 2, 0, 0, p.dt, out);
  return factor_node(&inv_ops, inv_core, &p, n, n, p.nb, p.nprow, p.npcol, a, NULL, 2, out);
}

/* The determinant into a 1 x 1 matrix on rank 0. NumPy's det is sign * exp(logdet) over the
 * LU diagonal; a zero pivot (p?getrf's info > 0, an exactly singular matrix) gives sign 0
 * and det 0, not an error. */
static int det_core(da_array a, da_array b, const la_plan *p, la_matrix *out) {
  (void)b;
  da_ctx ctx = a->ctx;
  int64_t n = a->shape[0];
  double acc[2] = {1.0, 0.0}; /* sign, log|det| */
  la_matrix A;
  la_init(&A);
  int *ipiv = NULL, info = 0;
  int rc = lu(a, p, &A, &ipiv, &info);
  if (!rc)
    rc = la_info(ctx, info < 0 ? info : 0, "det (p?getrf)", DA_ERR_INTERNAL, "failed");
  if (!rc && A.blacs >= 0) {
    int64_t nb = p->nb, rsrc = A.desc[6], csrc = A.desc[7];
    for (int64_t i = 0; i < n; i++) {
      int64_t blk = i / nb;
      if ((rsrc + blk) % A.nprow != A.myrow || (csrc + blk) % A.npcol != A.mycol)
        continue;
      int64_t lr = blk / A.nprow * nb + i % nb, lc = blk / A.npcol * nb + i % nb;
      double d = p->k->get(A.data, lr + lc * A.lld);
      if (ipiv[lr] != i + 1)
        acc[0] = -acc[0];
      acc[0] *= d < 0 ? -1.0 : d > 0 ? 1.0 : 0.0;
      acc[1] += log(fabs(d));
    }
  }
  if (!rc) {
    int e = MPI_Allreduce(MPI_IN_PLACE, &acc[0], 1, MPI_DOUBLE, MPI_PROD, ctx->comm);
    if (e == MPI_SUCCESS)
      e = MPI_Allreduce(MPI_IN_PLACE, &acc[1], 1, MPI_DOUBLE, MPI_SUM, ctx->comm);
    if (e != MPI_SUCCESS)
      rc = da_agree(ctx, DA_ERR(ctx, DA_ERR_MPI, "det: MPI_Allreduce failed"));
  }
  free(ipiv);
  la_free(&A);
  if (!rc)
    rc = la_new(ctx, 1, 1, 1, 1, 1, 1, p->dt, out);
  if (!rc && out->blacs >= 0)
    da_convert_from_f64(p->dt, &(double){acc[0] * exp(acc[1])}, out->data, 1);
  return rc;
}

static const da_layer_ops det_ops = {.name = "det", .collective = factor_collective};

int da_det(da_array a, da_array *out) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  CHECK_OUT(ctx, out, "det");
  DA_TRY(check_matrix(a, "det", true));
  la_plan p = plan_for(a, float_type(a->dtype, a->dtype));
  if (a->shape[0] == 0)
    return da_full(ctx, 0, NULL, NULL, p.dt, 1.0, out);
  return factor_node(&det_ops, det_core, &p, 1, 1, 1, 1, 1, a, NULL, 0, out);
}

/* ---------------------------------------------------------------- norm */

/* Collective. sum over axes of |x|^2, then sqrt: the 2-norm and Frobenius norm. */
static int norm_sqsum(da_array x, int naxes, const int axes[], int keepdims, da_array *out) {
  da_array sq = NULL, s = NULL;
  DA_TRY(da_multiply(da_value_array(x), da_value_array(x), &sq));
  int rc = da_sum(sq, naxes, axes, keepdims, &s);
  if (!rc)
    rc = da_sqrt(s, out);
  da_array_destroy(&sq), da_array_destroy(&s);
  return rc;
}

/* Collective. NumPy's vector norms of float x along one axis. */
static int norm_vector(da_array x, da_norm_kind kind, double ord, int axis, int keepdims,
                       da_array *out) {
  if (kind == DA_NORM_DEFAULT || (kind == DA_NORM_ORD && ord == 2))
    return norm_sqsum(x, 1, &axis, keepdims, out);
  if (kind != DA_NORM_ORD)
    return DA_ERR(x->ctx, DA_ERR_ARG, "norm: invalid norm order '%s' for vectors",
                  kind == DA_NORM_FRO ? "fro" : "nuc");
  da_array t = NULL, u = NULL;
  int rc;
  if (ord == 0) { /* the count of nonzeros, as a float */
    rc = da_not_equal(da_value_array(x), da_value_int(0), &t);
    if (!rc)
      rc = da_astype(t, x->dtype, &u);
    if (!rc)
      rc = da_sum(u, 1, &axis, keepdims, out);
    da_array_destroy(&t), da_array_destroy(&u);
    return rc;
  }
  DA_TRY(da_absolute(x, &t));
  if (isinf(ord))
    rc = (ord > 0 ? da_max : da_min)(t, 1, &axis, keepdims, out);
  else if (ord == 1)
    rc = da_sum(t, 1, &axis, keepdims, out);
  else { /* sum(|x|^p)^(1/p) */
    da_array s = NULL;
    rc = da_power(da_value_array(t), da_value_float(ord), &u);
    if (!rc)
      rc = da_sum(u, 1, &axis, keepdims, &s);
    if (!rc)
      rc = da_power(da_value_array(s), da_value_float(1.0 / ord), out);
    da_array_destroy(&s);
  }
  da_array_destroy(&t), da_array_destroy(&u);
  return rc;
}

/* Collective. The singular values of the 2-D x reduced by max, min or sum, as a 0-d array
 * (a (1, 1) one with keepdims). */
static int norm_svd(da_array x, int which, int keepdims, da_array *out) {
  if (x->ndim != 2)
    return DA_ERR(x->ctx, DA_ERR_UNSUPPORTED,
                  "norm: 2, -2 and nuclear norms of stacked matrices are not supported");
  da_array s = NULL, r = NULL;
  DA_TRY(da_svd(x, 0, NULL, &s, NULL));
  int rc = (which > 0 ? da_max : which < 0 ? da_min : da_sum)(s, 0, NULL, 0, &r);
  da_array_destroy(&s);
  if (!rc && keepdims) {
    int64_t shape[2] = {1, 1};
    rc = da_reshape(r, 2, shape, out);
    da_array_destroy(&r);
  } else if (!rc) {
    *out = r;
  }
  return rc;
}

/* Collective. NumPy's matrix norms of float x over axes (row, col). */
static int norm_matrix(da_array x, da_norm_kind kind, double ord, int row, int col, int keepdims,
                       da_array *out) {
  da_ctx ctx = x->ctx;
  int axes[2] = {row, col};
  if (kind == DA_NORM_DEFAULT || kind == DA_NORM_FRO)
    return norm_sqsum(x, 2, axes, keepdims, out);
  if (kind == DA_NORM_NUC)
    return norm_svd(x, 0, keepdims, out);
  if (ord == 2 || ord == -2)
    return norm_svd(x, ord > 0 ? 1 : -1, keepdims, out);
  if (ord != 1 && ord != -1 && !isinf(ord))
    return DA_ERR(ctx, DA_ERR_ARG, "norm: invalid norm order %g for matrices", ord);
  /* 1: the largest column sum of |x|; inf: the largest row sum (negative: smallest). */
  int sum_axis = isinf(ord) ? col : row, pick_axis = isinf(ord) ? row : col;
  da_array t = NULL, s = NULL, r = NULL;
  DA_TRY(da_absolute(x, &t));
  int rc = da_sum(t, 1, &sum_axis, 1, &s);
  if (!rc)
    rc = (ord > 0 ? da_max : da_min)(s, 1, &pick_axis, 1, keepdims ? out : &r);
  if (!rc && !keepdims)
    rc = da_squeeze(r, 2, axes, out);
  da_array_destroy(&t), da_array_destroy(&s), da_array_destroy(&r);
  return rc;
}

int da_norm(da_array x, da_norm_kind kind, double ord, int naxes, const int axes[], int keepdims,
            da_array *out) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  CHECK_OUT(ctx, out, "norm");
  if (kind < DA_NORM_DEFAULT || kind > DA_NORM_NUC || (kind == DA_NORM_ORD && isnan(ord)))
    return DA_ERR(ctx, DA_ERR_ARG, "norm: invalid norm order");
  if (naxes < 0 || naxes > 2 || (naxes > 0 && !axes))
    return DA_ERR(ctx, DA_ERR_ARG, "norm: improper number of axes (%d) to norm", naxes);
  int nd = x->ndim, ax[2] = {0, 1};
  for (int i = 0; i < naxes; i++) {
    if (axes[i] < -nd || axes[i] >= nd)
      return DA_ERR(ctx, DA_ERR_BOUNDS, "norm: axis %d is out of bounds for array of dimension %d",
                    axes[i], nd);
    ax[i] = axes[i] < 0 ? axes[i] + nd : axes[i];
  }
  if (naxes == 2 && ax[0] == ax[1])
    return DA_ERR(ctx, DA_ERR_ARG, "norm: duplicate axes given");
  if (naxes == 0 && kind != DA_NORM_DEFAULT && nd != 1 && nd != 2)
    return DA_ERR(ctx, DA_ERR_SHAPE, "norm: improper number of dimensions (%d) to norm", nd);
  /* NumPy works on a float copy: integers and bool become float64. */
  da_array f = NULL;
  DA_TRY(da_astype(x, float_type(x->dtype, x->dtype), &f));
  int rc;
  if (naxes == 0 && kind == DA_NORM_DEFAULT)
    rc = norm_sqsum(f, 0, NULL, keepdims, out);
  else if (naxes == 1 || (naxes == 0 && nd == 1))
    rc = norm_vector(f, kind, ord, ax[0], keepdims, out);
  else
    rc = norm_matrix(f, kind, ord, ax[0], ax[1], keepdims, out);
  da_array_destroy(&f);
  return rc;
}
