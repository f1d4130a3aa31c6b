/* Error codes, messages, and the agreement of ranks on failure.
 * A message is kept on the context; da_agree makes every rank report the same failure. */
#include "core/internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *da_strerror(int code) {
  switch (code) {
#define DA_ERROR_CASE_(name, value, text)                                                          \
  case value:                                                                                      \
    return text;
    DA_ERROR_TABLE(DA_ERROR_CASE_)
#undef DA_ERROR_CASE_
  }
  return "unknown error code";
}

int da_error_impl(da_ctx ctx, int code, const char *file, int line, const char *fmt, ...) {
  if (!ctx)
    return code;
  char msg[DA_ERRMSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  /* A long message is cut, never overrun. */
  if (snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s: %s [rank %d, %s:%d]", da_strerror(code), msg,
               ctx->rank, base, line) < 0)
    ctx->errmsg[0] = '\0';
  return code;
}

int da_agree(da_ctx ctx, int rc) {
  int mine = rc ? ctx->rank : INT_MAX, first = INT_MAX;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce failed while ranks agreed on an error");
  if (first == INT_MAX)
    return DA_OK;
  struct {
    int code;
    char msg[DA_ERRMSG_LEN];
  } e;
  if (ctx->rank == first) {
    e.code = rc;
    memcpy(e.msg, ctx->errmsg, sizeof e.msg);
  }
  if (MPI_Bcast(&e, sizeof e, MPI_BYTE, first, ctx->comm) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast failed while ranks agreed on an error");
  e.msg[DA_ERRMSG_LEN - 1] = '\0';
  memcpy(ctx->errmsg, e.msg, sizeof e.msg);
  return e.code;
}

int da_agree_sum(da_ctx ctx, int rc, int64_t *count) {
  int64_t v[2] = {rc != 0, *count};
  if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce failed while ranks agreed on an error");
  *count = v[1];
  return v[0] ? da_agree(ctx, rc) : DA_OK; /* the failing ranks' first message */
}

void *da_malloc(da_ctx ctx, size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p)
    DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
  return p;
}

void *da_calloc(da_ctx ctx, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %zu x %zu bytes", n, size);
  return p;
}
