/* The text summary of an array, after Dask's table: bytes of the array and of one chunk,
 * shapes, graph layers and tasks, dtype, and where the blocks live. */
#include "core/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void human_bytes(double v, char *out, size_t len) {
  static const char *units[] = {"B", "kiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (v >= 1024 && u < 6)
    v /= 1024, u++;
  if (u == 0)
    snprintf(out, len, "%.0f B", v);
  else
    snprintf(out, len, "%.2f %s", v, units[u]);
}

static void tuple(int n, const int64_t *v, char *out, size_t len) {
  size_t at = (size_t)snprintf(out, len, "(");
  for (int i = 0; i < n && at < len; i++)
    at += (size_t)snprintf(out + at, len - at, i ? ", %lld" : "%lld", (long long)v[i]);
  if (at < len)
    snprintf(out + at, len - at, n == 1 ? ",)" : ")");
}

typedef struct {
  char *buf;
  size_t len, at;
} sink;

static void put(sink *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *dst = s->at < s->len ? s->buf + s->at : NULL;
  int n = vsnprintf(dst, dst ? s->len - s->at : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    s->at += (size_t)n;
}

int da_array_summary(da_array a, char *buf, size_t len) {
  if (!a)
    return -1;
  if (buf && len)
    buf[0] = '\0';
  sink s = {buf, buf ? len : 0, 0};
  int64_t layers = 1, tasks = a->nblocks;
  da_array *nodes = NULL;
  int64_t n = 0;
  if (!da_graph_collect(a, &nodes, &n)) {
    layers = n, tasks = 0;
    for (int64_t i = 0; i < n; i++)
      tasks += nodes[i]->nblocks;
    free(nodes);
  }
  char ab[32], cb[32], as[256], cs[256], grid[128];
  human_bytes((double)a->size * (double)a->elsize, ab, sizeof ab);
  double chunk = (double)a->elsize;
  for (int d = 0; d < a->ndim; d++)
    chunk *= (double)a->chunksize[d];
  human_bytes(chunk, cb, sizeof cb);
  tuple(a->ndim, a->shape, as, sizeof as);
  tuple(a->ndim, a->chunksize, cs, sizeof cs);
  size_t g = 0;
  grid[0] = '\0';
  for (int d = 0; d < a->ndim && g < sizeof grid; d++)
    g += (size_t)snprintf(grid + g, sizeof grid - g, d ? " x %d" : "%d", a->grid[d]);
  put(&s, "%-12s %-22s %s\n", "", "Array", "Chunk");
  put(&s, "%-12s %-22s %s\n", "Bytes", ab, cb);
  put(&s, "%-12s %-22s %s\n", "Shape", as, cs);
  put(&s, "%-12s %lld chunks in %lld graph layer%s (%lld tasks)\n", "Graph", (long long)a->nblocks,
      (long long)layers, layers == 1 ? "" : "s", (long long)tasks);
  put(&s, "%-12s %s\n", "Data type", da_dtype_name(a->dtype));
  put(&s, "%-12s %s over %d rank%s, process grid %s\n", "Layout",
      a->materialized ? "materialized" : "lazy", a->ctx->size, a->ctx->size == 1 ? "" : "s",
      a->ndim ? grid : "()");
  return (int)s.at;
}
