/* Distributed dense linear algebra on ScaLAPACK: darray matrices as ScaLAPACK block-cyclic
 * matrices and back. Internal. */
#ifndef DARRAY_LINALG_H
#define DARRAY_LINALG_H

#include "core/internal.h"

/* A matrix in ScaLAPACK's 2-D block-cyclic layout over a BLACS grid of the context's ranks
 * (row-major: grid (r, c) is rank r * npcol + c, as darray's default layout of a 2-D array
 * with grid (nprow, npcol)). Ranks outside the grid hold nothing (lrows = lcols = 0). */
typedef struct {
  da_ctx ctx;
  int blacs; /* BLACS context; -1 on ranks outside the grid */
  int nprow, npcol, myrow, mycol;
  int desc[9];
  int64_t m, n, mb, nb;
  int64_t lrows, lcols, lld; /* the local part: column-major, lld >= max(1, lrows) */
  da_dtype dtype;            /* DA_FLOAT32 or DA_FLOAT64 */
  void *data;
} la_matrix;

/* Collective. The grid la_ uses for an m x n problem on the context's ranks: near-square,
 * never more process rows than block rows (or columns) where avoidable. */
void la_grid_for(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int *nprow, int *npcol);

/* Collective. A zeroed m x n matrix in blocks mb x nb over an nprow x npcol grid. */
int la_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
           da_dtype dtype, la_matrix *out);

/* Collective. The 2-D array a (computed first if lazy), cast to dtype, as a block-cyclic
 * matrix in blocks mb x nb over an nprow x npcol grid. When a already has uniform chunks
 * (mb, nb) on that grid with darray's default layout, its local blocks are packed as they
 * are; otherwise darray moves them there first (rechunk). */
int la_from_array(da_array a, da_dtype dtype, int64_t mb, int64_t nb, int nprow, int npcol,
                  la_matrix *out);

/* Collective. m as a persisted darray with chunks (mb, nb) on the same grid: no data moves
 * between ranks. Takes nothing from m (free it after). */
int la_to_array(const la_matrix *m, da_array *out);

void la_free(la_matrix *m);

/* Collective. A ScaLAPACK info code as an agreed darray error: info < 0 is an internal
 * error naming the argument; info > 0 is reported with what (e.g. "the matrix is
 * singular") and code. Returns DA_OK when every rank's info is 0. */
int la_info(da_ctx ctx, int info, const char *routine, int code, const char *what);

/* ---- For the products (src/ops/linalg_products.c), and for any routine that wants more control.
 */

/* Collective. The cached BLACS context of an nprow x npcol grid over the context's ranks in
 * order 'R' (rank r * npcol + c) or 'C' (rank r + c * nprow); -1 on ranks outside it. Kept
 * until the context is destroyed: every matrix on one grid shares it, as ScaLAPACK needs. */
int la_grid_get(da_ctx ctx, int nprow, int npcol, char order, int *ictxt);

/* Collective. la_new on a grid of either order (no data moves between orders). */
int la_setup(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
             char order, da_dtype dtype, la_matrix *out);

/* Local. Whether the 2-D array a has uniform chunks (mb, nb), cyclic over an nprow x npcol
 * grid in darray's default (row-major) order: then its blocks are a block-cyclic matrix. */
bool la_fits(const da_array a, int64_t mb, int64_t nb, int nprow, int npcol);

/* Collective. A 2-D array of shape (m, n) in uniform chunks (mb, nb) on an nprow x npcol grid
 * in the default order: src seen that way (a lazy view that moves src's blocks there), or,
 * when src is NULL, empty metadata of dtype dt to fill (la_unpack_into). */
int la_layout_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
                  da_dtype dt, const da_array src, da_array *out);

/* Collective. la_from_array; without colmajor the result is a's transpose (n x m, blocks
 * nb x mb) on the transposed grid in 'C' order, whose local matrix is a's in row-major
 * order: packing it copies block rows, no element is transposed. */
int la_pack(da_array a, da_dtype dtype, int64_t mb, int64_t nb, int nprow, int npcol, bool colmajor,
            la_matrix *out);

/* Collective. Fills a's local blocks from m (a made by la_layout_new with m's blocks and grid,
 * of m's dtype; without colmajor, m is a's transpose as la_pack makes it) and marks a
 * materialized. */
int la_unpack_into(const la_matrix *m, bool colmajor, da_array a);

/* Collective. A lazy collective node (ops->collective set) of shape (m, n) in uniform chunks
 * (mb, nb) on an nprow x npcol grid in the default order, ready for la_unpack_into. Takes
 * params as da_node_new does. */
int la_node_new(da_ctx ctx, int64_t m, int64_t n, int64_t mb, int64_t nb, int nprow, int npcol,
                da_dtype dt, const da_layer_ops *ops, void *params, int ninputs,
                const da_array inputs[], da_array *out);

#endif
