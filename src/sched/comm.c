/* Point-to-point transfers of byte ranges of any size: MPI counts are ints, so a
 * message over 1 GiB goes as several, matched in order by MPI's non-overtaking rule. */
#include "core/internal.h"

#include <stdlib.h>

#define DA_MSG_PIECE ((size_t)1 << 30)

static int grow(da_ctx ctx, MPI_Request **req, int *cap, int need) {
  if (need <= *cap)
    return DA_OK;
  int ncap = *cap ? *cap : 16;
  while (ncap < need)
    ncap *= 2;
  MPI_Request *r = realloc(*req, (size_t)ncap * sizeof *r);
  if (!r)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %d MPI requests", ncap);
  *req = r;
  *cap = ncap;
  return DA_OK;
}

static int transfer(da_ctx ctx, bool send, void *buf, size_t bytes, int peer, int tag,
                    MPI_Request **req, int *nreq, int *cap) {
  size_t pieces = bytes / DA_MSG_PIECE + 1;
  DA_TRY(grow(ctx, req, cap, *nreq + (int)pieces));
  for (size_t p = 0; p < pieces; p++) {
    size_t off = p * DA_MSG_PIECE, len = bytes - off < DA_MSG_PIECE ? bytes - off : DA_MSG_PIECE;
    char *at = (char *)buf + off;
    int err = send ? MPI_Isend(at, (int)len, MPI_BYTE, peer, tag, ctx->comm, &(*req)[*nreq])
                   : MPI_Irecv(at, (int)len, MPI_BYTE, peer, tag, ctx->comm, &(*req)[*nreq]);
    if (err != MPI_SUCCESS)
      return DA_ERR(ctx, DA_ERR_MPI, "%s of %zu bytes with rank %d failed",
                    send ? "MPI_Isend" : "MPI_Irecv", len, peer);
    (*nreq)++;
  }
  return DA_OK;
}

int da_send_bytes(da_ctx ctx, const void *buf, size_t bytes, int dest, int tag, MPI_Request **req,
                  int *nreq, int *cap) {
  return transfer(ctx, true, (void *)buf, bytes, dest, tag, req, nreq, cap);
}

int da_recv_bytes(da_ctx ctx, void *buf, size_t bytes, int src, int tag, MPI_Request **req,
                  int *nreq, int *cap) {
  return transfer(ctx, false, buf, bytes, src, tag, req, nreq, cap);
}
