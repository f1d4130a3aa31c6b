/* Private hooks of the diagnostics (progress bar and trace) that the scheduler and the IO
 * layers call. Each is one predictable branch on ctx->diag when diagnostics are off. */
#ifndef DARRAY_DIAG_H
#define DARRAY_DIAG_H

#include "core/internal.h"

/* Bits of ctx->diag. */
#define DA_DIAG_PROGRESS 1u /* set on rank 0 only: the other ranks never print */
#define DA_DIAG_TRACE 2u

/* Kinds of trace events. DA_EV_XFER is a message in flight (shown on a lane of its own, not
 * counted in the time per action, as it overlaps the rank's own work). */
enum { DA_EV_COMPUTE, DA_EV_COMM, DA_EV_IO, DA_EV_WAIT, DA_EV_XFER, DA_EV_NKINDS };

/* Seconds since the trace started when tracing, else 0 (no clock read). */
double da_trace_now_impl(da_ctx ctx);
static inline double da_trace_now(da_ctx ctx) {
  return (ctx->diag & DA_DIAG_TRACE) ? da_trace_now_impl(ctx) : 0.0;
}

/* Records an event that began at t0 (from da_trace_now) and ends now. name must be a string
 * that outlives the trace (a layer's ops->name or a literal). peer: -1 when none. */
void da_trace_event_impl(da_ctx ctx, int kind, const char *name, int64_t block, int peer,
                         int64_t bytes, double t0);
static inline void da_trace_event(da_ctx ctx, int kind, const char *name, int64_t block, int peer,
                                  int64_t bytes, double t0) {
  if (ctx->diag & DA_DIAG_TRACE)
    da_trace_event_impl(ctx, kind, name, block, peer, bytes, t0);
}
/* da_agree recorded as a wait: for operations that run outside the scheduler, which records
 * its own. */
static inline int da_agree_traced(da_ctx ctx, int rc) {
  double t0 = da_trace_now(ctx);
  rc = da_agree(ctx, rc);
  da_trace_event(ctx, DA_EV_WAIT, "agree", -1, -1, 0, t0);
  return rc;
}
/* MPI_Allreduce in place, recorded as communication named what (a literal): for the
 * tables that operations outside the scheduler agree on. */
static inline int da_allreduce_traced(da_ctx ctx, void *buf, int count, MPI_Datatype t, MPI_Op op,
                                      const char *what) {
  double t0 = da_trace_now(ctx);
  int size, e = MPI_Allreduce(MPI_IN_PLACE, buf, count, t, op, ctx->comm);
  MPI_Type_size(t, &size);
  da_trace_event(ctx, DA_EV_COMM, what, -1, -1, (int64_t)count * size, t0);
  return e == MPI_SUCCESS ? DA_OK : DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce of %s failed", what);
}
/* A block read or written by an IO layer; inside a task its time counts as IO, not compute. */
static inline void da_trace_io(da_ctx ctx, const char *name, int64_t block, int64_t bytes,
                               double t0) {
  da_trace_event(ctx, DA_EV_IO, name, block, -1, bytes, t0);
}

/* Around each task the scheduler runs: da_task_begin gives the start time, da_task_end
 * records the task (layer name, block) and advances the progress bar. */
double da_task_begin_impl(da_ctx ctx);
static inline double da_task_begin(da_ctx ctx) {
  return ctx->diag ? da_task_begin_impl(ctx) : 0.0;
}
void da_task_end_impl(da_ctx ctx, const char *name, int64_t block, double t0);
static inline void da_task_end(da_ctx ctx, const char *name, int64_t block, double t0) {
  if (ctx->diag)
    da_task_end_impl(ctx, name, block, t0);
}

/* A computation of local_total tasks on this rank, global_total on all, begins / ends (rc:
 * how it ended). Nested computations join the outer one's bar. begin returns the tasks of
 * all ranks known done before it, the base of its da_progress_sync counts. */
int64_t da_progress_begin_impl(da_ctx ctx, int64_t local_total, int64_t global_total);
void da_progress_end_impl(da_ctx ctx, int rc);
static inline bool da_progress_on(da_ctx ctx) {
  return (ctx->diag & DA_DIAG_PROGRESS) != 0;
}

/* A task of the computation in progress is done (rank 0). */
void da_progress_tick(da_ctx ctx);
/* Every rank's tasks done so far, summed at a wave's closing agreement (rank 0). */
void da_progress_sync(da_ctx ctx, int64_t all_done);

/* Messages of one wave in flight, for the trace: da_trace_xfer_add sums the bytes of each item
 * per peer; da_trace_xfer_flush records one event per peer ("send" or "recv") from t0 until
 * now, when the wait that completes them returned. */
void da_trace_xfer_add(da_ctx ctx, int peer, int64_t bytes);
void da_trace_xfer_flush(da_ctx ctx, const char *name, double t0);

/* Context creation and destruction: options from the environment, and freeing the state. */
void da_diag_init(da_ctx ctx);
void da_diag_free(da_ctx ctx);
void da_trace_discard(da_ctx ctx);

#endif
