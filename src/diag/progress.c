/* The progress bar of long computations on rank 0's stderr: a bar redrawn in place on a
 * terminal, plain lines now and then otherwise, nothing for computations of under a second. */
#include "diag/diag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define TTY_EVERY 0.1  /* seconds between redraws on a terminal */
#define LINE_EVERY 5.0 /* seconds between plain lines */

struct da_progress {
  bool wanted;  /* the setting (rank 0 alone acts on it) */
  double delay; /* seconds before the first print: DARRAY_PROGRESS_DELAY, 1 by default */
  int depth;    /* computations begun and not ended: nested ones join the outer bar */
  double start, last;
  /* Rank 0 counts its own tasks; every wave's closing agreement also sums all ranks' (synced,
   * when rank 0 had done done_at_sync). Between waves the bar moves on from synced at rank
   * 0's own pace, scaled to the global total. */
  int64_t done, local_total, global_total, synced, done_at_sync;
  bool shown, tty;
  int width; /* of the last line drawn in place, to blank what a shorter one leaves */
};

/* "1" (or any nonzero number) is on; "0", empty or text is off. */
static bool env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strtol(v, NULL, 10) != 0;
}

void da_diag_init(da_ctx ctx) {
  if (ctx->rank != 0)
    return;
  struct da_progress *g = calloc(1, sizeof *g);
  if (!g)
    return; /* da_ctx_set_progress reports it */
  g->delay = 1.0;
  /* A test knob: DARRAY_PROGRESS_DELAY=0 prints from the first task. */
  const char *d = getenv("DARRAY_PROGRESS_DELAY");
  if (d && *d) {
    char *end = NULL;
    double v = strtod(d, &end);
    if (end != d && v >= 0 && isfinite(v))
      g->delay = v;
  }
  g->wanted = env_on("DARRAY_PROGRESS");
  ctx->progress = g;
  if (g->wanted)
    ctx->diag |= DA_DIAG_PROGRESS;
}

void da_diag_free(da_ctx ctx) {
  da_trace_discard(ctx);
  free(ctx->progress);
  ctx->progress = NULL;
  ctx->diag = 0;
}

int da_ctx_set_progress(da_ctx ctx, int on) {
  if (!ctx)
    return DA_ERR_ARG;
  int rc = on == 0 || on == 1
               ? DA_OK
               : DA_ERR(ctx, DA_ERR_ARG, "da_ctx_set_progress: on must be 0 or 1, got %d", on);
  if (!rc && ctx->rank == 0 && !ctx->progress)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the progress bar");
  DA_TRY(da_agree(ctx, rc));
  if (ctx->rank == 0) {
    ctx->progress->wanted = on;
    ctx->diag = on ? ctx->diag | DA_DIAG_PROGRESS : ctx->diag & ~DA_DIAG_PROGRESS;
  }
  return DA_OK;
}

int64_t da_progress_begin_impl(da_ctx ctx, int64_t local_total, int64_t global_total) {
  struct da_progress *g = ctx->progress;
  if (g->depth++ > 0) {
    g->local_total += local_total;
    g->global_total += global_total;
    return g->synced;
  }
  g->start = g->last = MPI_Wtime();
  g->done = g->synced = g->done_at_sync = 0;
  g->local_total = local_total;
  g->global_total = global_total;
  g->shown = false;
  g->tty = isatty(STDERR_FILENO);
  g->width = 0;
  return 0;
}

/* One line: "[#####     ]  52% 1040/2000 tasks  3.2 s elapsed  ~2.9 s left". */
static void draw(struct da_progress *g, double now, int final_rc, bool final) {
  double est = (double)g->synced;
  if (g->local_total > 0)
    est += (double)(g->done - g->done_at_sync) * (double)g->global_total / (double)g->local_total;
  double f = g->global_total > 0 ? est / (double)g->global_total : 1.0;
  f = f > 1 ? 1 : f;
  int64_t done = final && !final_rc ? g->global_total : llround(f * (double)g->global_total);
  char bar[BAR_WIDTH + 1], tail[64] = "";
  int fill = (int)(f * BAR_WIDTH);
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < fill ? '#' : ' ';
  bar[BAR_WIDTH] = '\0';
  double elapsed = now - g->start;
  if (final && final_rc)
    snprintf(tail, sizeof tail, "  stopped by an error");
  else if (!final && f > 0)
    snprintf(tail, sizeof tail, "  ~%.1f s left", elapsed * (1 - f) / f);
  char line[256];
  int n = snprintf(line, sizeof line, "[%s] %3d%% %lld/%lld tasks  %.1f s elapsed%s", bar,
                   (int)(f * 100), (long long)done, (long long)g->global_total, elapsed, tail);
  if (g->tty) {
    /* Blanks cover what a longer line drew before; no escape codes, for dumb terminals. */
    fprintf(stderr, "\r%s%*s%s", line, g->width > n ? g->width - n : 0, "", final ? "\n" : "");
    g->width = n;
  } else {
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);
  g->shown = true;
  g->last = now;
}

static void maybe_draw(struct da_progress *g) {
  /* A clock read per task is cheap beside the task (a vDSO call of tens of ns). */
  double now = MPI_Wtime();
  if (now - g->start < g->delay)
    return;
  if (!g->shown || now - g->last >= (g->tty ? TTY_EVERY : LINE_EVERY))
    draw(g, now, DA_OK, false);
}

void da_progress_tick(da_ctx ctx) {
  struct da_progress *g = ctx->progress;
  if (g->depth == 0) /* a task outside a planned computation (a collective layer) */
    return;
  g->done++;
  maybe_draw(g);
}

void da_progress_sync(da_ctx ctx, int64_t all_done) {
  struct da_progress *g = ctx->progress;
  if (g->depth == 0)
    return;
  /* A nested computation's tasks are missing from its outer one's counts: never go back. */
  g->synced = all_done > g->synced ? all_done : g->synced;
  g->done_at_sync = g->done;
  maybe_draw(g);
}

void da_progress_end_impl(da_ctx ctx, int rc) {
  struct da_progress *g = ctx->progress;
  if (g->depth == 0 || --g->depth > 0)
    return;
  /* A computation that never showed (shorter than the delay) stays silent. */
  if (g->shown)
    draw(g, MPI_Wtime(), rc, true);
}
