/* The high-level graph of an array as Graphviz DOT, like Dask's `visualize()`: one node per
 * layer with its operation, shape, chunks, block count and dtype; edges from inputs. */
#define _GNU_SOURCE /* mkstemp */
#include "core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A DOT string's body: quotes and backslashes escaped. */
static void dot_text(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
}

static void write_graph(FILE *f, da_array root, da_array *nodes, int64_t n) {
  fprintf(f, "digraph darray {\n");
  fprintf(f, "  rankdir=BT;\n");
  fprintf(f, "  node [fontname=\"Helvetica\", fontsize=10];\n");
  for (int64_t i = 0; i < n; i++) {
    da_array a = nodes[i];
    char shape[256], chunks[256];
    da_shape_str(a->ndim, a->shape, shape, sizeof shape);
    da_shape_str(a->ndim, a->chunksize, chunks, sizeof chunks);
    const char *op = a->ops ? a->ops->name : "materialized";
    fprintf(f, "  n%lld [label=\"", (long long)i);
    dot_text(f, op);
    if (a->materialized && a->ops)
      fprintf(f, "\\n(materialized)");
    fprintf(f, "\\nshape %s\\nchunks %s\\n%lld block%s\\n%s\"", shape, chunks,
            (long long)a->nblocks, a->nblocks == 1 ? "" : "s", da_dtype_name(a->dtype));
    /* Leaves held in memory are filled boxes; lazy layers rounded ones; the array asked for
     * has a double border. */
    if (a->materialized)
      fprintf(f, ", shape=box, style=filled, fillcolor=\"#d9e8f5\"");
    else
      fprintf(f, ", shape=box, style=rounded");
    if (a == root)
      fprintf(f, ", peripheries=2");
    fprintf(f, "];\n");
  }
  for (int64_t i = 0; i < n; i++) {
    da_array a = nodes[i];
    if (a->materialized)
      continue; /* its inputs, if it had any, are not part of its graph any more */
    for (int k = 0; k < a->ninputs; k++)
      fprintf(f, "  n%lld -> n%lld;\n", (long long)a->inputs[k]->topo, (long long)i);
  }
  fprintf(f, "}\n");
}

int da_array_dot(da_array a, const char *path) {
  if (!a)
    return DA_ERR_ARG;
  da_ctx ctx = a->ctx;
  if (!path || !*path)
    return DA_ERR(ctx, DA_ERR_ARG, "da_array_dot: no file name given");
  da_array *nodes = NULL;
  int64_t n = 0;
  DA_TRY(da_graph_collect(a, &nodes, &n));
  /* A temporary file renamed over path when whole: a failed write leaves no partial graph. */
  size_t len = strlen(path);
  char *tmp = malloc(len + 16);
  if (!tmp) {
    free(nodes);
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a file name");
  }
  snprintf(tmp, len + 16, "%s.da-tmp-XXXXXX", path);
  int fd = mkstemp(tmp), e = errno;
  if (fd >= 0) { /* mkstemp makes it 0600: give it a new file's usual mode */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
  }
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  int rc = DA_OK;
  if (!f) {
    e = fd >= 0 ? errno : e;
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write the graph '%s': %s", path, strerror(e));
  } else {
    write_graph(f, a, nodes, n);
    bool bad = ferror(f) != 0;
    bad = (fclose(f) != 0) || bad;
    e = errno;
    if (!bad && rename(tmp, path) != 0)
      bad = true, e = errno;
    if (bad) {
      unlink(tmp);
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot write the graph '%s': %s", path, strerror(e));
    }
  }
  free(tmp);
  free(nodes);
  return rc;
}
