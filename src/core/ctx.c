/* The context: a duplicated communicator, options, and the last error.
 * Two contexts on two communicators live side by side; nothing is global. */
#include "core/internal.h"
#include "diag/diag.h"

#include <stdlib.h>
#include <string.h>

/* Bytes from text: an integer with an optional K, M, G or T suffix (powers of 1024); 0 for
 * none, or for text that is not a positive size. */
static int64_t parse_bytes(const char *text) {
  if (!text)
    return 0;
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (end == text || v <= 0)
    return 0;
  int shift = 0;
  switch (*end) {
  case 'k':
  case 'K':
    shift = 10;
    break;
  case 'm':
  case 'M':
    shift = 20;
    break;
  case 'g':
  case 'G':
    shift = 30;
    break;
  case 't':
  case 'T':
    shift = 40;
    break;
  case '\0':
    return v;
  default:
    return 0;
  }
  return v > (INT64_MAX >> shift) ? INT64_MAX : (int64_t)v << shift;
}

/* The smallest limit over the ranks, none (0) counting as no bound. Collective. */
static int agree_limit(da_ctx ctx, int64_t mine, int64_t *out) {
  int64_t v = mine > 0 ? mine : INT64_MAX;
  if (MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT64_T, MPI_MIN, ctx->comm) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce failed while ranks agreed on a memory limit");
  *out = v == INT64_MAX ? 0 : v;
  return DA_OK;
}

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
  /* Every rank must cut a step into the same waves, so all take the smallest limit. */
  int64_t limit = parse_bytes(getenv("DARRAY_MEMORY_LIMIT"));
  if (agree_limit(ctx, limit, &ctx->mem_limit)) {
    MPI_Comm_free(&ctx->comm);
    free(ctx);
    return DA_ERR_MPI;
  }
  da_diag_init(ctx); /* DARRAY_PROGRESS */
  *out = ctx;
  return DA_OK;
}

int da_ctx_destroy(da_ctx *pctx) {
  if (!pctx || !*pctx)
    return DA_OK;
  da_ctx ctx = *pctx;
  if (ctx->la_grids_free)
    ctx->la_grids_free(ctx);
  da_diag_free(ctx);
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

int da_ctx_set_memory_limit(da_ctx ctx, int64_t bytes) {
  if (!ctx)
    return DA_ERR_ARG;
  int rc = bytes < 0
               ? DA_ERR(ctx, DA_ERR_ARG, "memory limit must be 0 (none) or positive, got %lld",
                        (long long)bytes)
               : DA_OK;
  DA_TRY(da_agree(ctx, rc));
  return da_agree(ctx, agree_limit(ctx, bytes, &ctx->mem_limit));
}

int64_t da_ctx_memory_limit(da_ctx ctx) {
  return ctx ? ctx->mem_limit : 0;
}

int da_ctx_memory(da_ctx ctx, int64_t *current, int64_t *peak) {
  if (!ctx)
    return DA_ERR_ARG;
  if (current)
    *current = ctx->mem_current;
  if (peak)
    *peak = ctx->mem_peak;
  return DA_OK;
}

int da_ctx_reset_memory_peak(da_ctx ctx) {
  if (!ctx)
    return DA_ERR_ARG;
  ctx->mem_peak = ctx->mem_current;
  return DA_OK;
}

void da_mem_add(da_ctx ctx, int64_t delta) {
  ctx->mem_current += delta;
  if (ctx->mem_current > ctx->mem_peak)
    ctx->mem_peak = ctx->mem_current;
}

void da_array_hold(da_array a, int64_t delta) {
  a->held += delta;
  da_mem_add(a->ctx, delta);
}

int da_next_tag(da_ctx ctx) {
  int t = ctx->tag;
  ctx->tag = ctx->tag >= 30000 ? 1 : ctx->tag + 1;
  return t;
}
