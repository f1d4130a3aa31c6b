/* The performance trace: every task, transfer, IO call and wait recorded per rank into a
 * growable buffer, gathered to rank 0 at the end as Chrome trace-event JSON and a report of
 * time per action and compute time per operation. */
#define _GNU_SOURCE /* mkstemp */
#include "diag/diag.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One event. name is a pointer to a string that outlives the trace while recording, and an
 * index into the string table once gathered. */
typedef struct {
  double t0, t1; /* seconds since the trace started */
  double sub;    /* a task: seconds of IO inside it */
  int64_t block; /* -1: none */
  int64_t bytes;
  union {
    const char *ptr;
    int64_t id;
  } name;
  int32_t kind, peer;
} trace_ev;

struct da_trace {
  double origin; /* MPI_Wtime when the trace started */
  trace_ev *v;
  int64_t n, cap;
  bool lost;           /* an event could not be stored */
  bool in_task;        /* between da_task_begin and da_task_end */
  double task_io;      /* seconds of IO inside the running task */
  int64_t *peer_bytes; /* per peer, the wave's messages (da_trace_xfer_add) */
};

static const char *const kind_cat[DA_EV_NKINDS] = {"compute", "comm", "io", "wait", "comm"};

void da_trace_discard(da_ctx ctx) {
  struct da_trace *t = ctx->trace;
  if (!t)
    return;
  free(t->v);
  free(t->peer_bytes);
  free(t);
  ctx->trace = NULL;
  ctx->diag &= ~DA_DIAG_TRACE;
}

double da_trace_now_impl(da_ctx ctx) {
  return MPI_Wtime() - ctx->trace->origin;
}

static void push(struct da_trace *t, const trace_ev *e) {
  if (t->n == t->cap) {
    int64_t ncap = t->cap ? 2 * t->cap : 1024;
    trace_ev *v = realloc(t->v, (size_t)ncap * sizeof *v);
    if (!v) {
      t->lost = true;
      return;
    }
    t->v = v;
    t->cap = ncap;
  }
  t->v[t->n++] = *e;
}

void da_trace_event_impl(da_ctx ctx, int kind, const char *name, int64_t block, int peer,
                         int64_t bytes, double t0) {
  struct da_trace *t = ctx->trace;
  trace_ev e = {.t0 = t0,
                .t1 = da_trace_now_impl(ctx),
                .block = block,
                .bytes = bytes,
                .name.ptr = name,
                .kind = kind,
                .peer = peer};
  if (kind == DA_EV_IO && t->in_task)
    t->task_io += e.t1 - e.t0;
  push(t, &e);
}

double da_task_begin_impl(da_ctx ctx) {
  if (!(ctx->diag & DA_DIAG_TRACE))
    return 0.0;
  ctx->trace->in_task = true;
  ctx->trace->task_io = 0;
  return da_trace_now_impl(ctx);
}

void da_task_end_impl(da_ctx ctx, const char *name, int64_t block, double t0) {
  if (ctx->diag & DA_DIAG_TRACE) {
    struct da_trace *t = ctx->trace;
    trace_ev e = {.t0 = t0,
                  .t1 = da_trace_now_impl(ctx),
                  .sub = t->task_io,
                  .block = block,
                  .bytes = 0,
                  .name.ptr = name,
                  .kind = DA_EV_COMPUTE,
                  .peer = -1};
    t->in_task = false;
    push(t, &e);
  }
  if (ctx->diag & DA_DIAG_PROGRESS)
    da_progress_tick(ctx);
}

void da_trace_xfer_add(da_ctx ctx, int peer, int64_t bytes) {
  if ((ctx->diag & DA_DIAG_TRACE) && peer >= 0 && peer < ctx->size)
    ctx->trace->peer_bytes[peer] += bytes;
}

void da_trace_xfer_flush(da_ctx ctx, const char *name, double t0) {
  if (!(ctx->diag & DA_DIAG_TRACE))
    return;
  int64_t *pb = ctx->trace->peer_bytes;
  for (int r = 0; r < ctx->size; r++)
    if (pb[r]) {
      da_trace_event_impl(ctx, DA_EV_XFER, name, -1, r, pb[r], t0);
      pb[r] = 0;
    }
}

int da_ctx_trace_start(da_ctx ctx) {
  if (!ctx)
    return DA_ERR_ARG;
  da_trace_discard(ctx); /* starting again starts afresh */
  struct da_trace *t = calloc(1, sizeof *t);
  int rc = t && (t->peer_bytes = calloc((size_t)ctx->size, sizeof *t->peer_bytes))
               ? DA_OK
               : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the trace");
  if (da_agree(ctx, rc)) {
    if (t)
      free(t->peer_bytes);
    free(t);
    return da_agree(ctx, rc);
  }
  /* Every rank's clock starts together (to within a barrier's skew). */
  if (MPI_Barrier(ctx->comm) != MPI_SUCCESS) {
    free(t->peer_bytes);
    free(t);
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Barrier failed while starting the trace");
  }
  t->origin = MPI_Wtime();
  ctx->trace = t;
  ctx->diag |= DA_DIAG_TRACE;
  return DA_OK;
}

/* ---------------------------------------------------------------- gathering */

/* Replaces each event's name pointer by its index in a table of the distinct names, written
 * NUL-separated into *strs (*nstr bytes). */
static int intern_names(da_ctx ctx, struct da_trace *t, char **strs, int64_t *nstr) {
  const char **names = NULL;
  int64_t n = 0, cap = 0, last = -1, bytes = 0;
  for (int64_t i = 0; i < t->n; i++) {
    const char *s = t->v[i].name.ptr ? t->v[i].name.ptr : "?";
    int64_t k = last >= 0 && names[last] == s ? last : -1;
    for (int64_t j = 0; j < n && k < 0; j++)
      if (names[j] == s)
        k = j;
    if (k < 0) {
      if (n == cap) {
        cap = cap ? 2 * cap : 32;
        const char **v = realloc(names, (size_t)cap * sizeof *v);
        if (!v) {
          free(names);
          return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the trace's name table");
        }
        names = v;
      }
      names[n] = s;
      bytes += (int64_t)strlen(s) + 1;
      k = n++;
    }
    t->v[i].name.id = k;
    last = k;
  }
  *strs = malloc((size_t)(bytes ? bytes : 1));
  if (!*strs) {
    free(names);
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the trace's name table");
  }
  char *at = *strs;
  for (int64_t j = 0; j < n; j++) {
    size_t len = strlen(names[j]) + 1;
    memcpy(at, names[j], len);
    at += len;
  }
  *nstr = bytes;
  free(names);
  return DA_OK;
}

/* What rank 0 holds after the gather: every rank's events and names. */
typedef struct {
  int size;
  trace_ev *ev;      /* all events, rank by rank */
  int64_t *first;    /* size + 1 offsets into ev */
  char *strs;        /* all ranks' name tables */
  int64_t *strfirst; /* size + 1 offsets into strs */
  const char **name; /* per rank, its names' starts: name[nameoff[r] + id] */
  int64_t *nameoff;
  double *window; /* per rank, seconds traced */
} gathered;

static void gathered_free(gathered *g) {
  free(g->ev);
  free(g->first);
  free(g->strs);
  free(g->strfirst);
  free(g->name);
  free(g->nameoff);
  free(g->window);
}

static const char *ev_name(const gathered *g, int r, const trace_ev *e) {
  return g->name[g->nameoff[r] + e->name.id];
}

/* Collective. Every rank's events and names to rank 0. */
static int gather_all(da_ctx ctx, struct da_trace *t, double window, gathered *g) {
  int size = ctx->size, rank = ctx->rank;
  char *strs = NULL;
  int64_t nstr = 0;
  int rc = da_agree(ctx, intern_names(ctx, t, &strs, &nstr));
  if (rc)
    return rc;
  double mine[3] = {(double)t->n, (double)nstr, window};
  double *all = malloc((size_t)size * 3 * sizeof *all);
  rc = all ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the trace's counts");
  if (da_agree(ctx, rc)) {
    free(all);
    free(strs);
    return DA_ERR_NOMEM;
  }
  if (MPI_Allgather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, ctx->comm) != MPI_SUCCESS) {
    free(all);
    free(strs);
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_MPI, "MPI_Allgather of trace sizes failed"));
  }
  double evbytes = 0, strbytes = 0;
  for (int r = 0; r < size; r++)
    evbytes += all[3 * r] * (double)sizeof(trace_ev), strbytes += all[3 * r + 1];
  /* Gatherv counts in ints: every rank sees the same totals, so all refuse together. */
  if (evbytes > INT_MAX || strbytes > INT_MAX) {
    free(all);
    free(strs);
    return DA_ERR(ctx, DA_ERR_NOMEM, "the trace is too large to gather (%.0f events)",
                  evbytes / (double)sizeof(trace_ev));
  }
  int *cnt = NULL, *dsp = NULL, *scnt = NULL, *sdsp = NULL;
  memset(g, 0, sizeof *g);
  g->size = size;
  if (rank == 0) {
    cnt = malloc((size_t)size * sizeof *cnt);
    dsp = malloc((size_t)size * sizeof *dsp);
    scnt = malloc((size_t)size * sizeof *scnt);
    sdsp = malloc((size_t)size * sizeof *sdsp);
    g->ev = malloc((size_t)evbytes + 1);
    g->strs = malloc((size_t)strbytes + 1);
    g->first = malloc((size_t)(size + 1) * sizeof *g->first);
    g->strfirst = malloc((size_t)(size + 1) * sizeof *g->strfirst);
    g->window = malloc((size_t)size * sizeof *g->window);
    g->nameoff = malloc((size_t)(size + 1) * sizeof *g->nameoff);
    if (!cnt || !dsp || !scnt || !sdsp || !g->ev || !g->strs || !g->first || !g->strfirst ||
        !g->window || !g->nameoff) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the gathered trace");
    } else {
      int64_t e = 0, s = 0;
      for (int r = 0; r < size; r++) {
        g->first[r] = e, g->strfirst[r] = s;
        cnt[r] = (int)(all[3 * r] * (double)sizeof(trace_ev));
        dsp[r] = (int)(e * (int64_t)sizeof(trace_ev));
        scnt[r] = (int)all[3 * r + 1];
        sdsp[r] = (int)s;
        g->window[r] = all[3 * r + 2];
        e += (int64_t)all[3 * r], s += (int64_t)all[3 * r + 1];
      }
      g->first[size] = e, g->strfirst[size] = s;
    }
  }
  free(all);
  rc = da_agree(ctx, rc);
  if (!rc && (MPI_Gatherv(t->v, (int)(t->n * (int64_t)sizeof(trace_ev)), MPI_BYTE, g->ev, cnt, dsp,
                          MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS ||
              MPI_Gatherv(strs, (int)nstr, MPI_BYTE, g->strs, scnt, sdsp, MPI_BYTE, 0, ctx->comm) !=
                  MPI_SUCCESS))
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Gatherv of the trace failed");
  free(cnt);
  free(dsp);
  free(scnt);
  free(sdsp);
  free(strs);
  /* Rank 0: the start of every name, rank by rank. */
  if (!rc && rank == 0) {
    int64_t total = 0;
    for (int r = 0; r < size; r++)
      for (int64_t at = g->strfirst[r]; at < g->strfirst[r + 1]; at++)
        total += g->strs[at] == '\0';
    if (!(g->name = malloc((size_t)(total ? total : 1) * sizeof *g->name)))
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the gathered trace");
    for (int r = 0, k = 0; r < size && !rc; r++) {
      g->nameoff[r] = k;
      for (int64_t at = g->strfirst[r]; at < g->strfirst[r + 1];) {
        g->name[k++] = g->strs + at;
        at += (int64_t)strlen(g->strs + at) + 1;
      }
    }
  }
  rc = da_agree(ctx, rc);
  if (rc)
    gathered_free(g);
  return rc;
}

/* ---------------------------------------------------------------- output */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_events(FILE *f, const gathered *g) {
  fprintf(f, "{\"traceEvents\": [\n");
  bool first = true;
  for (int r = 0; r < g->size; r++) {
    fprintf(f,
            "%s{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
            "\"args\": {\"name\": \"rank %d\"}},\n"
            "{\"name\": \"process_sort_index\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
            "\"args\": {\"sort_index\": %d}},\n"
            "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
            "\"args\": {\"name\": \"tasks\"}},\n"
            "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 1, "
            "\"args\": {\"name\": \"transfers\"}}",
            first ? "" : ",\n", r, r, r, r, r, r);
    first = false;
    for (int64_t i = g->first[r]; i < g->first[r + 1]; i++) {
      const trace_ev *e = &g->ev[i];
      fprintf(f, ",\n{\"name\": ");
      json_string(f, ev_name(g, r, e));
      fprintf(f,
              ", \"cat\": \"%s\", \"ph\": \"X\", \"ts\": %.3f, \"dur\": %.3f, \"pid\": %d, "
              "\"tid\": %d, \"args\": {",
              kind_cat[e->kind], e->t0 * 1e6, (e->t1 - e->t0) * 1e6, r,
              e->kind == DA_EV_XFER ? 1 : 0);
      const char *sep = "";
      if (e->block >= 0)
        fprintf(f, "\"block\": %lld", (long long)e->block), sep = ", ";
      if (e->kind != DA_EV_COMPUTE && e->bytes)
        fprintf(f, "%s\"bytes\": %lld", sep, (long long)e->bytes), sep = ", ";
      if (e->peer >= 0)
        fprintf(f, "%s\"peer\": %d", sep, e->peer), sep = ", ";
      if (e->kind == DA_EV_COMPUTE && e->sub > 0)
        fprintf(f, "%s\"io_us\": %.3f", sep, e->sub * 1e6);
      fputc('}', f);
      fputc('}', f);
    }
  }
  fprintf(f, "\n], \"displayTimeUnit\": \"ms\"}\n");
}

/* Writes the JSON into a temporary file next to path and renames it over path when whole. */
static int write_json(da_ctx ctx, const gathered *g, const char *path) {
  size_t len = strlen(path);
  char *tmp = malloc(len + 16);
  if (!tmp)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a file name");
  snprintf(tmp, len + 16, "%s.da-tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd >= 0) { /* mkstemp makes it 0600: give it a new file's usual mode */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
  }
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return DA_ERR(ctx, DA_ERR_IO, "cannot write the trace '%s': %s", path, strerror(e));
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    int e = errno;
    close(fd);
    unlink(tmp);
    free(tmp);
    return DA_ERR(ctx, DA_ERR_IO, "cannot write the trace '%s': %s", path, strerror(e));
  }
  json_events(f, g);
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  int e = errno;
  if (!bad && rename(tmp, path) != 0)
    bad = 1, e = errno;
  int rc = DA_OK;
  if (bad) {
    unlink(tmp);
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write the trace '%s': %s", path, strerror(e));
  }
  free(tmp);
  return rc;
}

typedef struct {
  const char *name;
  double seconds;
  int64_t tasks;
} op_time;

static int op_cmp(const void *a, const void *b) {
  const op_time *x = a, *y = b;
  if (x->seconds != y->seconds)
    return x->seconds < y->seconds ? 1 : -1;
  return strcmp(x->name, y->name);
}

/* The tables of time per action and compute time per operation. */
static int write_report(da_ctx ctx, const gathered *g, FILE *out) {
  double act[5] = {0}, total = 0, wmax = 0; /* compute, comm, io, wait, other */
  op_time *ops = NULL;
  int64_t nops = 0, cap = 0;
  for (int r = 0; r < g->size; r++) {
    double busy = 0;
    total += g->window[r];
    wmax = g->window[r] > wmax ? g->window[r] : wmax;
    for (int64_t i = g->first[r]; i < g->first[r + 1]; i++) {
      const trace_ev *e = &g->ev[i];
      double d = e->t1 - e->t0;
      if (e->kind == DA_EV_XFER)
        continue; /* in flight while the rank does other things */
      if (e->kind == DA_EV_COMPUTE) {
        d -= e->sub; /* the IO inside is counted as IO */
        const char *name = ev_name(g, r, e);
        int64_t k = 0;
        while (k < nops && strcmp(ops[k].name, name))
          k++;
        if (k == nops) {
          if (nops == cap) {
            cap = cap ? 2 * cap : 16;
            op_time *v = realloc(ops, (size_t)cap * sizeof *v);
            if (!v) {
              free(ops);
              return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the report");
            }
            ops = v;
          }
          ops[nops++] = (op_time){name, 0, 0};
        }
        ops[k].seconds += d;
        ops[k].tasks++;
      }
      act[e->kind] += d;
      busy += d;
    }
    act[4] += g->window[r] > busy ? g->window[r] - busy : 0;
  }
  static const char *const label[5] = {"compute", "communication", "IO", "waiting", "other"};
  fprintf(out, "Aggregate time per action (%d rank%s, %.3f s traced)\n", g->size,
          g->size == 1 ? "" : "s", wmax);
  fprintf(out, "  %-16s %12s %8s\n", "action", "seconds", "%");
  for (int k = 0; k < 5; k++)
    fprintf(out, "  %-16s %12.6f %7.1f%%\n", label[k], act[k],
            total > 0 ? 100 * act[k] / total : 0.0);
  fprintf(out, "  %-16s %12.6f %7.1f%%\n", "total", total, total > 0 ? 100.0 : 0.0);
  if (nops)
    qsort(ops, (size_t)nops, sizeof *ops, op_cmp);
  fprintf(out, "Compute time per operation\n");
  fprintf(out, "  %-24s %12s %10s %12s\n", "operation", "seconds", "tasks", "ms/task");
  for (int64_t k = 0; k < nops; k++)
    fprintf(out, "  %-24s %12.6f %10lld %12.4f\n", ops[k].name, ops[k].seconds,
            (long long)ops[k].tasks, 1e3 * ops[k].seconds / (double)ops[k].tasks);
  fflush(out);
  free(ops);
  return DA_OK;
}

int da_ctx_trace_stop(da_ctx ctx, const char *path, FILE *report) {
  if (!ctx)
    return DA_ERR_ARG;
  struct da_trace *t = ctx->trace;
  double window = t ? da_trace_now_impl(ctx) : 0;
  ctx->diag &= ~DA_DIAG_TRACE; /* nothing more is recorded */
  int rc = t ? DA_OK
             : DA_ERR(ctx, DA_ERR_ARG,
                      "da_ctx_trace_stop: no trace was started "
                      "(da_ctx_trace_start)");
  if (!rc && t->lost)
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "the trace lost events: no memory to record them");
  rc = da_agree(ctx, rc);
  gathered g;
  if (!rc)
    rc = gather_all(ctx, t, window, &g);
  da_trace_discard(ctx);
  if (rc)
    return rc;
  if (ctx->rank == 0 && report)
    rc = write_report(ctx, &g, report);
  if (!rc && ctx->rank == 0 && path)
    rc = write_json(ctx, &g, path);
  if (ctx->rank == 0)
    gathered_free(&g);
  return da_agree(ctx, rc);
}
