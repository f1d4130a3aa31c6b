/* The context: a duplicated communicator, options, and the last error.
 * Two contexts on two communicators live side by side; nothing is global. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

int da_ctx_create(MPI_Comm comm, da_ctx *out) {
  if (!out)
    return DA_ERR_ARG;
  *out = NULL;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited || comm == MPI_COMM_NULL)
    return DA_ERR_ARG;
  da_ctx ctx = calloc(1, sizeof *ctx);
  int ok = ctx != NULL, all_ok = 0;
  /* Every rank learns whether all allocated, so none goes on alone. */
  if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS || !all_ok) {
    free(ctx);
    return ok ? DA_ERR_REMOTE : DA_ERR_NOMEM;
  }
  if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
    free(ctx);
    return DA_ERR_MPI;
  }
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  ctx->chunk_bytes = 128 << 20;
  ctx->tag = 1;
  const char *env = getenv("DARRAY_CHUNK_BYTES");
  if (env) {
    char *end = NULL;
    long long v = strtoll(env, &end, 10);
    if (end != env && v > 0)
      ctx->chunk_bytes = v;
  }
  *out = ctx;
  return DA_OK;
}

int da_ctx_destroy(da_ctx *pctx) {
  if (!pctx || !*pctx)
    return DA_OK;
  da_ctx ctx = *pctx;
  MPI_Comm_free(&ctx->comm);
  free(ctx);
  *pctx = NULL;
  return DA_OK;
}

int da_ctx_rank(da_ctx ctx) {
  return ctx ? ctx->rank : -1;
}
int da_ctx_size(da_ctx ctx) {
  return ctx ? ctx->size : 0;
}
const char *da_ctx_errmsg(da_ctx ctx) {
  return ctx ? ctx->errmsg : "no context";
}

int da_ctx_set_chunk_bytes(da_ctx ctx, int64_t bytes) {
  if (!ctx)
    return DA_ERR_ARG;
  if (bytes <= 0)
    return DA_ERR(ctx, DA_ERR_ARG, "chunk bytes must be positive, got %lld", (long long)bytes);
  ctx->chunk_bytes = bytes;
  return DA_OK;
}

int da_next_tag(da_ctx ctx) {
  int t = ctx->tag;
  ctx->tag = ctx->tag >= 30000 ? 1 : ctx->tag + 1;
  return t;
}
