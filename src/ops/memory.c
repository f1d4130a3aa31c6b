/* Moving arrays between user memory and darray: scatter from one rank, adopt each rank's
 * own blocks, gather to one or all ranks, persist, and copy out local blocks. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of all blocks rank r owns. */
static size_t rank_bytes(da_array a, int r) {
  size_t n = 0;
  for (int64_t b = 0; b < a->nblocks; b++)
    if (da_block_owner_of(a, b) == r)
      n += (size_t)da_block_size_of(a, b) * a->elsize;
  return n;
}

/* Between rank r's packed blocks (ascending block order) and a whole C-order array. */
static void pack_whole(da_array a, int r, char *pack, void *whole, bool to_whole) {
  for (int64_t b = 0; b < a->nblocks; b++) {
    if (da_block_owner_of(a, b) != r)
      continue;
    da_block_copy_whole(a, b, pack, whole, to_whole);
    pack += (size_t)da_block_size_of(a, b) * a->elsize;
  }
}

static int alloc_local_blocks(da_array a) {
  a->lblocks = calloc((size_t)(a->nlocal ? a->nlocal : 1), sizeof(void *));
  if (!a->lblocks)
    return DA_ERR(a->ctx, DA_ERR_NOMEM, "cannot allocate the block table");
  for (int64_t k = 0; k < a->nlocal; k++) {
    size_t bytes = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (!(a->lblocks[k] = da_malloc(a->ctx, bytes)))
      return DA_ERR_NOMEM;
    da_array_hold(a, (int64_t)bytes);
  }
  return DA_OK;
}

static int wait_requests(da_ctx ctx, MPI_Request *req, int n) {
  if (n && MPI_Waitall(n, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Waitall failed");
  return DA_OK;
}

int da_from_root(da_ctx ctx, int root, int ndim, const int64_t shape[], const da_chunks *chunks,
                 da_dtype dt, const void *buf, size_t bufbytes, da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (root < 0 || root >= ctx->size)
    return DA_ERR(ctx, DA_ERR_ARG, "root %d is not a rank of the context", root);
  da_array a;
  DA_TRY(da_array_from_request(ctx, ndim, shape, chunks, dt, &a));
  int rc = DA_OK;
  size_t nbytes = (size_t)a->size * a->elsize;
  if (ctx->rank == root && !buf && nbytes)
    rc = DA_ERR(ctx, DA_ERR_ARG, "buf is NULL on the root");
  else if (ctx->rank == root && bufbytes < nbytes)
    rc = DA_ERR(ctx, DA_ERR_BUFFER, "the buffer holds %zu bytes but the array needs %zu", bufbytes,
                nbytes);
  if (!rc)
    rc = alloc_local_blocks(a);
  /* The root packs one rank at a time into one buffer, so it never holds the array twice. */
  size_t mine = rank_bytes(a, ctx->rank), packbytes = mine;
  if (ctx->rank == root)
    for (int r = 0; r < ctx->size; r++)
      if (r != root && rank_bytes(a, r) > packbytes)
        packbytes = rank_bytes(a, r);
  char *pack = NULL;
  if (!rc && !(pack = da_malloc(ctx, packbytes)))
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  int tag = da_next_tag(ctx);
  MPI_Request *req = NULL;
  int nreq = 0, cap = 0;
  if (!rc && ctx->rank == root) {
    for (int r = 0; r < ctx->size && !rc; r++) {
      if (r == root)
        continue;
      size_t n = rank_bytes(a, r);
      pack_whole(a, r, pack, (void *)buf, false);
      nreq = 0;
      rc = da_send_bytes(ctx, pack, n, r, tag, &req, &nreq, &cap);
      int wrc = wait_requests(ctx, req, nreq);
      if (!rc)
        rc = wrc;
    }
    for (int64_t k = 0; k < a->nlocal && !rc; k++)
      da_block_copy_whole(a, da_block_global_index(a, k), a->lblocks[k], (void *)buf, false);
  } else if (!rc) {
    rc = da_recv_bytes(ctx, pack, mine, root, tag, &req, &nreq, &cap);
    int wrc = wait_requests(ctx, req, nreq);
    if (!rc)
      rc = wrc;
    for (int64_t k = 0, at = 0; k < a->nlocal && !rc; k++) {
      size_t n = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
      memcpy(a->lblocks[k], pack + at, n);
      at += (int64_t)n;
    }
  }
  free(pack);
  free(req);
  rc = da_agree(ctx, rc);
  if (rc) {
    da_array_destroy(&a);
    return rc;
  }
  a->materialized = true;
  *out = a;
  return DA_OK;
}

int da_from_blocks(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                   da_dtype dt, void *const blocks[], const size_t bytes[], da_ownership own,
                   da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (own != DA_COPY && own != DA_BORROW && own != DA_OWN)
    return DA_ERR(ctx, DA_ERR_ARG, "unknown ownership %d", (int)own);
  da_array a;
  DA_TRY(da_array_from_request(ctx, ndim, shape, chunks, dt, &a));
  int rc = DA_OK;
  if (a->nlocal > 0 && (!blocks || !bytes))
    rc = DA_ERR(ctx, DA_ERR_ARG, "blocks or bytes is NULL but this rank owns %lld blocks",
                (long long)a->nlocal);
  for (int64_t k = 0; k < a->nlocal && !rc; k++) {
    size_t need = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (!blocks[k] && need)
      rc = DA_ERR(ctx, DA_ERR_ARG, "local block %lld is NULL", (long long)k);
    else if (bytes[k] < need)
      rc = DA_ERR(ctx, DA_ERR_BUFFER, "local block %lld has %zu bytes but needs %zu", (long long)k,
                  bytes[k], need);
  }
  if (!rc && !(a->lblocks = calloc((size_t)(a->nlocal ? a->nlocal : 1), sizeof(void *))))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the block table");
  for (int64_t k = 0; k < a->nlocal && !rc; k++) {
    size_t need = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (own != DA_COPY) {
      a->lblocks[k] = blocks[k];
      if (own == DA_OWN)
        da_array_hold(a, (int64_t)need);
      continue;
    }
    if (!(a->lblocks[k] = da_malloc(ctx, need))) {
      rc = DA_ERR_NOMEM;
    } else {
      memcpy(a->lblocks[k], blocks[k], need);
      da_array_hold(a, (int64_t)need);
    }
  }
  a->borrowed = own == DA_BORROW;
  rc = da_agree(ctx, rc);
  if (rc) {
    /* Blocks we were to own stay the caller's when we fail. */
    if (own == DA_OWN && a->lblocks)
      memset(a->lblocks, 0, (size_t)a->nlocal * sizeof(void *));
    da_array_destroy(&a);
    return rc;
  }
  a->materialized = true;
  *out = a;
  return DA_OK;
}

/* Runs a's graph when lazy; *ran tells the caller to drop the blocks afterwards. */
static int materialize(da_array a, bool *ran) {
  *ran = !a->materialized;
  return da_schedule(a);
}

void da_drop_blocks(da_array a) {
  if (a->lblocks) {
    da_array_hold(a, -a->held);
    for (int64_t k = 0; k < a->nlocal; k++)
      free(a->lblocks[k]);
    free(a->lblocks);
    a->lblocks = NULL;
  }
  a->materialized = false;
}

int da_compute(da_array a, int root, void *buf, size_t bufbytes) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (root != DA_ALL_RANKS && (root < 0 || root >= ctx->size))
    return DA_ERR(ctx, DA_ERR_ARG, "root %d is not a rank of the context", root);
  bool receiver = root == DA_ALL_RANKS || root == ctx->rank;
  size_t nbytes = (size_t)a->size * a->elsize;
  int rc = DA_OK;
  if (receiver && !buf && nbytes)
    rc = DA_ERR(ctx, DA_ERR_ARG, "buf is NULL");
  else if (receiver && bufbytes < nbytes)
    rc = DA_ERR(ctx, DA_ERR_BUFFER, "the buffer holds %zu bytes but the array needs %zu", bufbytes,
                nbytes);
  DA_TRY(da_agree(ctx, rc));
  bool ran;
  DA_TRY(materialize(a, &ran));
  /* Each rank packs its blocks once and sends them to every receiver. */
  size_t mine = rank_bytes(a, ctx->rank);
  char *pack = NULL, *rbuf = NULL;
  size_t rmax = 0;
  if (receiver)
    for (int r = 0; r < ctx->size; r++)
      if (r != ctx->rank && rank_bytes(a, r) > rmax)
        rmax = rank_bytes(a, r);
  if (!(pack = da_malloc(ctx, mine)))
    rc = DA_ERR_NOMEM;
  else if (receiver && !(rbuf = da_malloc(ctx, rmax)))
    rc = DA_ERR_NOMEM;
  rc = da_agree(ctx, rc);
  int tag = da_next_tag(ctx);
  MPI_Request *req = NULL, *rreq = NULL;
  int nreq = 0, cap = 0, nrreq = 0, rcap = 0;
  if (!rc) {
    char *at = pack;
    for (int64_t k = 0; k < a->nlocal; k++) {
      size_t n = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
      memcpy(at, a->lblocks[k], n);
      at += n;
    }
    for (int r = 0; r < ctx->size && !rc; r++)
      if (r != ctx->rank && (root == DA_ALL_RANKS || root == r))
        rc = da_send_bytes(ctx, pack, mine, r, tag, &req, &nreq, &cap);
    if (receiver) {
      pack_whole(a, ctx->rank, pack, buf, true);
      for (int r = 0; r < ctx->size && !rc; r++) {
        if (r == ctx->rank)
          continue;
        nrreq = 0;
        rc = da_recv_bytes(ctx, rbuf, rank_bytes(a, r), r, tag, &rreq, &nrreq, &rcap);
        int wrc = wait_requests(ctx, rreq, nrreq);
        if (!rc)
          rc = wrc;
        if (!rc)
          pack_whole(a, r, rbuf, buf, true);
      }
    }
    int wrc = wait_requests(ctx, req, nreq);
    if (!rc)
      rc = wrc;
  }
  free(pack);
  free(rbuf);
  free(req);
  free(rreq);
  if (ran)
    da_drop_blocks(a);
  return da_agree(ctx, rc);
}

int da_persist(da_array a) {
  if (!a)
    return DA_ERR_ARG;
  if (a->materialized)
    return DA_OK;
  DA_TRY(da_schedule(a));
  /* The graph below is no longer needed: the blocks are the array now. */
  void **blocks = a->lblocks;
  a->lblocks = NULL;
  da_array_release_data(a);
  a->lblocks = blocks;
  a->materialized = true;
  return DA_OK;
}

int da_to_blocks(da_array a, void *const bufs[], const size_t bytes[]) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  int rc = DA_OK;
  if (a->nlocal > 0 && (!bufs || !bytes))
    rc = DA_ERR(ctx, DA_ERR_ARG, "bufs or bytes is NULL");
  for (int64_t k = 0; k < a->nlocal && !rc; k++) {
    size_t need = (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize;
    if (bytes[k] < need)
      rc = DA_ERR(ctx, DA_ERR_BUFFER, "buffer %lld has %zu bytes but the block needs %zu",
                  (long long)k, bytes[k], need);
    else if (!bufs[k] && need)
      rc = DA_ERR(ctx, DA_ERR_ARG, "buffer %lld is NULL", (long long)k);
  }
  DA_TRY(da_agree(ctx, rc));
  bool ran;
  DA_TRY(materialize(a, &ran));
  for (int64_t k = 0; k < a->nlocal; k++)
    memcpy(bufs[k], a->lblocks[k],
           (size_t)da_block_size_of(a, da_block_global_index(a, k)) * a->elsize);
  if (ran)
    da_drop_blocks(a);
  return DA_OK;
}
