/* C prototypes for the Fortran ScaLAPACK, PBLAS and BLACS symbols darray calls (Debian's
 * libscalapack-openmpi ships no C header). Internal. */
#ifndef DARRAY_SCALAPACK_H
#define DARRAY_SCALAPACK_H

#include <mpi.h>
#include <stddef.h>

/* Fortran passes every argument by reference; a CHARACTER argument also gets a hidden length
 * after the last argument (gfortran: size_t). The lengths are declared and must be passed
 * (1 for a one-letter option): omitting them is undefined and has broken LAPACK callers
 * when gfortran reuses that stack space for a tail call. */
typedef size_t la_flen;

/* BLACS (C interface). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_get(int ictxt, int what, int *val);
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_gridinit(int *ictxt, const char *order, int nprow, int npcol);
void Cblacs_gridmap(int *ictxt, int *usermap, int ldumap, int nprow, int npcol);
void Cblacs_gridinfo(int ictxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ictxt);

/* Tools. */
void descinit_(int desc[9], const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);

/* One declaration per routine for float (p = ps, T = float) and double (pd, double). */
#define LA_SCALAPACK_DECLARE(P, T)                                                                 \
  void P##gemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,  \
                const T *alpha, const T *a, const int *ia, const int *ja, const int desca[9],      \
                const T *b, const int *ib, const int *jb, const int descb[9], const T *beta, T *c, \
                const int *ic, const int *jc, const int descc[9], la_flen, la_flen);               \
  void P##tran_(const int *m, const int *n, const T *alpha, const T *a, const int *ia,             \
                const int *ja, const int desca[9], const T *beta, T *c, const int *ic,             \
                const int *jc, const int descc[9]);                                                \
  void P##gemr2d_(const int *m, const int *n, const T *a, const int *ia, const int *ja,            \
                  const int desca[9], T *b, const int *ib, const int *jb, const int descb[9],      \
                  const int *ictxt);                                                               \
  void P##trsm_(const char *side, const char *uplo, const char *transa, const char *diag,          \
                const int *m, const int *n, const T *alpha, const T *a, const int *ia,             \
                const int *ja, const int desca[9], T *b, const int *ib, const int *jb,             \
                const int descb[9], la_flen, la_flen, la_flen, la_flen);                           \
  void P##geqrf_(const int *m, const int *n, T *a, const int *ia, const int *ja,                   \
                 const int desca[9], T *tau, T *work, const int *lwork, int *info);                \
  void P##orgqr_(const int *m, const int *n, const int *k, T *a, const int *ia, const int *ja,     \
                 const int desca[9], const T *tau, T *work, const int *lwork, int *info);          \
  void P##gesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, T *a,            \
                 const int *ia, const int *ja, const int desca[9], T *s, T *u, const int *iu,      \
                 const int *ju, const int descu[9], T *vt, const int *ivt, const int *jvt,         \
                 const int descvt[9], T *work, const int *lwork, int *info, la_flen, la_flen);     \
  void P##gesv_(const int *n, const int *nrhs, T *a, const int *ia, const int *ja,                 \
                const int desca[9], int *ipiv, T *b, const int *ib, const int *jb,                 \
                const int descb[9], int *info);                                                    \
  void P##getrf_(const int *m, const int *n, T *a, const int *ia, const int *ja,                   \
                 const int desca[9], int *ipiv, int *info);                                        \
  void P##getrs_(const char *trans, const int *n, const int *nrhs, const T *a, const int *ia,      \
                 const int *ja, const int desca[9], const int *ipiv, T *b, const int *ib,          \
                 const int *jb, const int descb[9], int *info, la_flen);                           \
  void P##getri_(const int *n, T *a, const int *ia, const int *ja, const int desca[9],             \
                 const int *ipiv, T *work, const int *lwork, int *iwork, const int *liwork,        \
                 int *info);                                                                       \
  void P##potrf_(const char *uplo, const int *n, T *a, const int *ia, const int *ja,               \
                 const int desca[9], int *info, la_flen);                                          \
  void P##potrs_(const char *uplo, const int *n, const int *nrhs, const T *a, const int *ia,       \
                 const int *ja, const int desca[9], T *b, const int *ib, const int *jb,            \
                 const int descb[9], int *info, la_flen);                                          \
  void P##gels_(const char *trans, const int *m, const int *n, const int *nrhs, T *a,              \
                const int *ia, const int *ja, const int desca[9], T *b, const int *ib,             \
                const int *jb, const int descb[9], T *work, const int *lwork, int *info, la_flen); \
  void P##syev_(const char *jobz, const char *uplo, const int *n, T *a, const int *ia,             \
                const int *ja, const int desca[9], T *w, T *z, const int *iz, const int *jz,       \
                const int descz[9], T *work, const int *lwork, int *info, la_flen, la_flen);       \
  T P##lange_(const char *norm, const int *m, const int *n, const T *a, const int *ia,             \
              const int *ja, const int desca[9], T *work, la_flen);                                \
  void P##lacpy_(const char *uplo, const int *m, const int *n, const T *a, const int *ia,          \
                 const int *ja, const int desca[9], T *b, const int *ib, const int *jb,            \
                 const int descb[9], la_flen);                                                     \
  void P##laset_(const char *uplo, const int *m, const int *n, const T *alpha, const T *beta,      \
                 T *a, const int *ia, const int *ja, const int desca[9], la_flen);

LA_SCALAPACK_DECLARE(ps, float)
LA_SCALAPACK_DECLARE(pd, double)

#undef LA_SCALAPACK_DECLARE

#endif
