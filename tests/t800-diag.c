/* Diagnostics: the trace of a computation (Chrome trace-event JSON with every rank's tasks,
 * transfers, IO and waits, and the report of time per action and per operation), the graph
 * as Graphviz DOT, the progress bar on rank 0's stderr, and their errors. */
#define _GNU_SOURCE /* mkdtemp, posix_openpt, setenv */
#include "test_util.h"

#include <fcntl.h>
#include <unistd.h>

static da_ctx ctx;
static char dir[256]; /* a scratch directory every rank sees (rank 0 made it) */

/* The array shape and chunks of the traced computation: 6 x 3 = 18 blocks. */
#define N 240
#define M 180
#define BN 40
#define BM 60
#define NB ((N / BN) * (M / BM))
/* The rechunked array: 4 x 2 = 8 blocks. */
#define RN 60
#define RM 90
#define NR ((N / RN) * (M / RM))

/* Reads a whole text file (rank-local); NULL when it cannot. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += r;
    if (n + 1 == cap) {
      char *b = realloc(buf, cap *= 2);
      if (!b)
        free(buf);
      buf = b;
    }
  }
  fclose(f);
  if (buf)
    buf[n] = '\0';
  return buf;
}

static bool file_exists(const char *path) {
  return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------------- the trace */

/* Rank 0: the JSON validated and summarized by Python's json module into sum_path, one line
 * per fact: "events N", "process PID NAME", "count PID CAT NAME K", "bad EVENT" for an event
 * missing a field or with a negative time. Returns the summary text or NULL. */
static char *json_summary(const char *json_path) {
  char sum_path[512], cmd[2048];
  snprintf(sum_path, sizeof sum_path, "%s/summary.txt", dir);
  snprintf(
      cmd, sizeof cmd,
      "/usr/bin/python3 -c '\n"
      "import json, sys, collections\n"
      "d = json.load(open(sys.argv[1]))\n"
      "ev = d[\"traceEvents\"]\n"
      "out = open(sys.argv[2], \"w\")\n"
      "out.write(\"events %%d\\n\" %% len(ev))\n"
      "out.write(\"unit %%s\\n\" %% d[\"displayTimeUnit\"])\n"
      "c = collections.Counter()\n"
      "for e in ev:\n"
      "  if e[\"ph\"] == \"M\":\n"
      "    if e[\"name\"] == \"process_name\":\n"
      "      out.write(\"process %%d %%s\\n\" %% (e[\"pid\"], e[\"args\"][\"name\"].replace(\" \", "
      "\"_\")))\n"
      "    continue\n"
      "  ok = e[\"ph\"] == \"X\" and e[\"ts\"] >= 0 and e[\"dur\"] >= 0 and e[\"tid\"] in "
      "(0, 1)\n"
      "  ok = ok and e[\"cat\"] in (\"compute\", \"comm\", \"io\", \"wait\")\n"
      "  if not ok: out.write(\"bad %%r\\n\" %% e)\n"
      "  c[(e[\"pid\"], e[\"cat\"], e[\"name\"].replace(\" \", \"_\"))] += 1\n"
      "for (p, cat, n), k in sorted(c.items()):\n"
      "  out.write(\"count %%d %%s %%s %%d\\n\" %% (p, cat, n, k))\n"
      "' %s %s",
      json_path, sum_path);
  int st = system(cmd);
  CHECKF(st == 0, "python3 could not parse the trace %s (status %d)", json_path, st);
  return st == 0 ? slurp(sum_path) : NULL;
}

/* The events of one category and name, on rank pid (-1: all ranks), from the summary. */
static long count_of(const char *sum, int pid, const char *cat, const char *name) {
  long total = 0;
  for (const char *line = sum; line && *line;) {
    int p;
    long k;
    char c[64], n[128];
    if (sscanf(line, "count %d %63s %127s %ld", &p, c, n, &k) == 4 && (pid < 0 || p == pid) &&
        !strcmp(c, cat) && (!name || !strcmp(n, name)))
      total += k;
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : NULL;
  }
  return total;
}

/* The row of an operation in the report's table of compute time per operation: its tasks, or
 * -1 when it has no row. */
static long report_tasks(const char *report, const char *op) {
  const char *t = strstr(report, "Compute time per operation");
  if (!t)
    return -1;
  for (const char *line = t; line && *line;) {
    char name[128];
    double sec, ms;
    long tasks;
    if (sscanf(line, " %127s %lf %ld %lf", name, &sec, &tasks, &ms) == 4 && !strcmp(name, op)) {
      CHECKF(sec >= 0 && ms >= 0, "report row %s: %g s, %g ms", op, sec, ms);
      return tasks;
    }
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : NULL;
  }
  return -1;
}

/* The seconds and share of an action in the report's first table; false when missing. */
static bool report_action(const char *report, const char *action, double *sec, double *pct) {
  char key[64];
  snprintf(key, sizeof key, "\n  %s ", action);
  const char *at = strstr(report, key);
  return at && sscanf(at + strlen(key), " %lf %lf%%", sec, pct) == 2;
}

/* Stops the trace, writing its events to json and (rank 0) its report to rpath. */
static void trace_stop(const char *json, const char *rpath) {
  FILE *rep = da_ctx_rank(ctx) == 0 ? fopen(rpath, "w") : NULL;
  CHECK(da_ctx_rank(ctx) != 0 || rep);
  TU_OK(ctx, da_ctx_trace_stop(ctx, json, rep));
  if (rep)
    fclose(rep);
}

static void test_trace(void) {
  int rank = da_ctx_rank(ctx), size = da_ctx_size(ctx);
  char json[512], zpath[512], rpath[512], h5path[512];
  snprintf(json, sizeof json, "%s/trace.json", dir);
  snprintf(zpath, sizeof zpath, "%s/r.zarr", dir);
  snprintf(rpath, sizeof rpath, "%s/report.txt", dir);
  snprintf(h5path, sizeof h5path, "%s/r.h5", dir);

  da_array x, y, z, s, r, back;
  TU_OK(ctx,
        da_random_uniform(ctx, 7, -1, 1, 2, (int64_t[]){N, M}, DA_CHUNKS(BN, BM), DA_FLOAT64, &x));
  TU_OK(ctx, da_ctx_trace_start(ctx));
  /* uniform: one task per block. */
  TU_OK(ctx, da_persist(x));
  /* sum(x * 2 + 1): the elementwise layers fuse into the partial sums (one task per block of
   * x), and one task adds the partials. */
  TU_OK(ctx, da_multiply(DA_V(x), DA_V(2.0), &y));
  TU_OK(ctx, da_add(DA_V(y), DA_V(1.0), &z));
  TU_OK(ctx, da_sum(z, 0, NULL, 0, &s));
  TU_OK(ctx, da_persist(s));
  /* rechunk: one task per output block, with transfers between ranks; written to Zarr (one
   * IO write per block) and read back (one read per block). */
  TU_OK(ctx, da_rechunk(x, DA_CHUNKS(RN, RM), &r));
  TU_OK(ctx, da_to_zarr(r, zpath, NULL));
  TU_OK(ctx, da_from_zarr(ctx, zpath, NULL, &back));
  TU_OK(ctx, da_persist(back));
  /* The same blocks through HDF5: a write and a read per block. */
  da_array h5;
  TU_OK(ctx, da_to_hdf5(back, h5path, "r", NULL));
  TU_OK(ctx, da_from_hdf5(ctx, h5path, "r", DA_CHUNKS(RN, RM), DA_DTYPE_NATIVE, &h5));
  TU_OK(ctx, da_persist(h5));
  trace_stop(json, rpath);

  /* The traced computation is right: sum(2x + 1) against a serial sum of x. */
  double *whole = rank == 0 ? malloc(sizeof(double) * N * M) : NULL;
  double got = 0;
  TU_OK(ctx, da_compute(x, 0, whole, rank == 0 ? sizeof(double) * N * M : 0));
  TU_OK(ctx, da_compute(s, 0, &got, rank == 0 ? sizeof got : 0));
  if (rank == 0) {
    double want = 0;
    for (int64_t i = 0; i < (int64_t)N * M; i++)
      want += whole[i] * 2 + 1;
    CHECKF(fabs(got - want) <= 1e-9 * fabs(want) + 1e-9, "sum %.17g, serial %.17g", got, want);
  }
  double *rb = rank == 0 ? malloc(sizeof(double) * N * M) : NULL;
  TU_OK(ctx, da_compute(back, 0, rb, rank == 0 ? sizeof(double) * N * M : 0));
  if (rank == 0)
    COMPARE("zarr round trip", DA_FLOAT64, rb, whole, 2, ((int64_t[]){N, M}), 0);
  TU_OK(ctx, da_compute(h5, 0, rb, rank == 0 ? sizeof(double) * N * M : 0));
  if (rank == 0)
    COMPARE("hdf5 round trip", DA_FLOAT64, rb, whole, 2, ((int64_t[]){N, M}), 0);
  free(rb);
  free(whole);

  if (rank == 0) {
    char *sum = json_summary(json);
    CHECKF(sum && !strstr(sum, "bad "), "malformed events:\n%s", sum ? sum : "");
    CHECK(sum && strstr(sum, "unit ms"));
    for (int p = 0; p < size && sum; p++) {
      char want[64];
      snprintf(want, sizeof want, "process %d rank_%d\n", p, p);
      CHECKF(strstr(sum, want) != NULL, "no process_name for rank %d:\n%s", p, sum);
      /* Every rank computed blocks and waited at the waves' agreements. */
      CHECKF(count_of(sum, p, "compute", NULL) > 0, "rank %d has no task", p);
      CHECKF(count_of(sum, p, "wait", NULL) > 0, "rank %d has no wait", p);
    }
    /* Tasks: one per block of each layer that ran; the fused elementwise layers have none. */
    CHECKF(count_of(sum, -1, "compute", "uniform") == NB, "uniform tasks %ld, want %d",
           count_of(sum, -1, "compute", "uniform"), NB);
    CHECKF(count_of(sum, -1, "compute", "reduce-partial") == NB, "partial tasks %ld, want %d",
           count_of(sum, -1, "compute", "reduce-partial"), NB);
    CHECK(count_of(sum, -1, "compute", "sum") == 1);
    CHECKF(count_of(sum, -1, "compute", "rechunk") == NR, "rechunk tasks %ld, want %d",
           count_of(sum, -1, "compute", "rechunk"), NR);
    CHECKF(count_of(sum, -1, "compute", "zarr") == NR, "zarr read tasks %ld, want %d",
           count_of(sum, -1, "compute", "zarr"), NR);
    CHECKF(count_of(sum, -1, "compute", "from-hdf5") == NR, "hdf5 read tasks %ld, want %d",
           count_of(sum, -1, "compute", "from-hdf5"), NR);
    CHECK(count_of(sum, -1, "compute", "multiply") == 0);
    CHECK(count_of(sum, -1, "compute", "add") == 0);
    long tasks = count_of(sum, -1, "compute", NULL);
    CHECKF(tasks == 2 * NB + 1 + 3 * NR, "tasks %ld, want %d", tasks, 2 * NB + 1 + 3 * NR);
    /* IO: each block written and read once. */
    CHECK(count_of(sum, -1, "io", "zarr_write") == NR);
    CHECK(count_of(sum, -1, "io", "zarr_read") == NR);
    CHECK(count_of(sum, -1, "io", "hdf5_write") == NR);
    CHECK(count_of(sum, -1, "io", "hdf5_read") == NR);
    /* Transfers: the rechunk and the partial sums move blocks between ranks when there are
     * several; a send on one rank is a receive on another. */
    long sends = count_of(sum, -1, "comm", "send"), recvs = count_of(sum, -1, "comm", "recv");
    CHECKF(size == 1 ? sends == 0 && recvs == 0 : sends > 0 && recvs > 0, "sends %ld, recvs %ld",
           sends, recvs);
    free(sum);

    char *report = slurp(rpath);
    CHECK(report && strstr(report, "Aggregate time per action"));
    if (report) {
      double pct_sum = 0, sec, pct, total_sec = -1, total_pct;
      const char *actions[] = {"compute", "communication", "IO", "waiting", "other"};
      for (int k = 0; k < 5; k++) {
        bool ok = report_action(report, actions[k], &sec, &pct);
        CHECKF(ok && sec >= 0 && pct >= 0, "report row %s:\n%s", actions[k], report);
        pct_sum += ok ? pct : 0;
        if (k == 0)
          CHECKF(ok && sec > 0, "no compute time:\n%s", report);
        if (k == 2)
          CHECKF(ok && sec > 0, "no IO time:\n%s", report);
      }
      CHECK(report_action(report, "total", &total_sec, &total_pct) && total_sec > 0);
      CHECKF(fabs(pct_sum - 100) < 0.6, "the actions' shares add up to %g%%", pct_sum);
      CHECKF(report_tasks(report, "uniform") == NB, "report: uniform %ld tasks\n%s",
             report_tasks(report, "uniform"), report);
      CHECK(report_tasks(report, "reduce-partial") == NB);
      CHECK(report_tasks(report, "sum") == 1);
      CHECK(report_tasks(report, "rechunk") == NR);
      CHECK(report_tasks(report, "zarr") == NR);
      CHECK(report_tasks(report, "from-hdf5") == NR);
      CHECK(report_tasks(report, "multiply") == -1);
    }
    free(report);
  }

  /* Tracing is off now: a computation records nothing, and a new trace starts empty. */
  da_array m;
  TU_OK(ctx, da_mean(x, 0, NULL, 0, &m));
  TU_OK(ctx, da_persist(m));
  TU_OK(ctx, da_ctx_trace_start(ctx));
  TU_OK(ctx, da_ctx_trace_stop(ctx, json, NULL));
  if (rank == 0) {
    char *sum = json_summary(json);
    CHECKF(sum && count_of(sum, -1, "compute", NULL) == 0 && count_of(sum, -1, "wait", NULL) == 0,
           "an empty trace has events:\n%s", sum ? sum : "");
    for (int p = 0; p < size && sum; p++) {
      char want[64];
      snprintf(want, sizeof want, "process %d rank_%d\n", p, p);
      CHECK(strstr(sum, want) != NULL);
    }
    free(sum);
  }
  da_array_destroy(&m);
  da_array_destroy(&h5);
  da_array_destroy(&back);
  da_array_destroy(&r);
  da_array_destroy(&s);
  da_array_destroy(&z);
  da_array_destroy(&y);
  da_array_destroy(&x);
}

/* The operations that run their own MPI outside the scheduler (the 1-D sort, unique, the
 * exact quantile) show their local work as compute and their exchanges as communication. */
static void test_trace_eager(void) {
  int rank = da_ctx_rank(ctx), size = da_ctx_size(ctx);
  char json[512], rpath[512];
  snprintf(json, sizeof json, "%s/eager.json", dir);
  snprintf(rpath, sizeof rpath, "%s/eager.txt", dir);
  da_array x, sorted, values, counts, inverse, med;
  TU_OK(ctx,
        da_random_randint(ctx, 11, 0, 500, 1, (int64_t[]){20000}, DA_CHUNKS(2300), DA_INT32, &x));
  TU_OK(ctx, da_persist(x));
  TU_OK(ctx, da_ctx_trace_start(ctx));
  TU_OK(ctx, da_sort(x, 0, &sorted));
  TU_OK(ctx, da_unique(x, &values, &counts, &inverse));
  TU_OK(ctx, da_persist(inverse));
  TU_OK(ctx, da_median(x, 0, NULL, 0, &med));
  TU_OK(ctx, da_persist(med));
  trace_stop(json, rpath);
  if (rank == 0) {
    char *sum = json_summary(json);
    CHECKF(sum && !strstr(sum, "bad "), "malformed events:\n%s", sum ? sum : "");
    for (int p = 0; p < size && sum; p++) {
      /* Two sorts (da_sort's and unique's), each: keys, splitters, exchange, merge. */
      CHECKF(count_of(sum, p, "compute", "sort-keys") == 2, "rank %d: sort-keys %ld\n%s", p,
             count_of(sum, p, "compute", "sort-keys"), sum);
      CHECK(count_of(sum, p, "comm", "sort_splitters") == 2);
      CHECK(count_of(sum, p, "comm", "sort_exchange") == 2);
      CHECK(count_of(sum, p, "compute", "sort-merge") == 2);
      /* unique: the run tables, its values, and the inverse's two record exchanges. */
      CHECK(count_of(sum, p, "compute", "unique-runs") == 1);
      CHECK(count_of(sum, p, "compute", "unique-values") == 1);
      CHECK(count_of(sum, p, "comm", "run_counts") == 1);
      CHECK(count_of(sum, p, "comm", "block_keys") == 2);
      CHECK(count_of(sum, p, "comm", "record_exchange") == 2);
      CHECK(count_of(sum, p, "compute", "searchsorted") == 3);
      /* The median: a pass per radix level, each with its counts summed. */
      CHECKF(count_of(sum, p, "comm", "quantile_counts") >= 2, "rank %d: quantile counts %ld", p,
             count_of(sum, p, "comm", "quantile_counts"));
      CHECK(count_of(sum, p, "compute", "quantile-pass") >= 1);
    }
    free(sum);
    char *report = slurp(rpath);
    CHECKF(report && report_tasks(report, "sort-keys") == 2 * size &&
               report_tasks(report, "sort-merge") == 2 * size,
           "report:\n%s", report ? report : "");
    free(report);
  }
  /* The results are the untraced ones. */
  int64_t n = 20000;
  int32_t *a = malloc(sizeof(int32_t) * (size_t)n), *b = malloc(sizeof(int32_t) * (size_t)n);
  TU_OK(ctx, da_compute(x, 0, a, rank == 0 ? sizeof(int32_t) * (size_t)n : 0));
  TU_OK(ctx, da_compute(sorted, 0, b, rank == 0 ? sizeof(int32_t) * (size_t)n : 0));
  if (rank == 0) {
    int64_t hist[500] = {0};
    for (int64_t i = 0; i < n; i++)
      hist[a[i]]++;
    bool ok = true;
    for (int64_t i = 0, at = 0; i < 500; i++)
      for (int64_t k = 0; k < hist[i]; k++)
        ok = ok && b[at++] == i;
    CHECK(ok);
  }
  free(a);
  free(b);
  da_array_destroy(&med);
  da_array_destroy(&inverse);
  da_array_destroy(&counts);
  da_array_destroy(&values);
  da_array_destroy(&sorted);
  da_array_destroy(&x);
}

static void test_trace_errors(void) {
  int rank = da_ctx_rank(ctx);
  /* Stopping what never started: every rank says so. */
  CHECK(da_ctx_trace_stop(ctx, NULL, NULL) == DA_ERR_ARG);
  /* An unwritable path: DA_ERR_IO on every rank, and no file. */
  da_array x;
  TU_OK(ctx, da_ones(ctx, 1, (int64_t[]){100}, DA_CHUNKS(10), DA_FLOAT64, &x));
  TU_OK(ctx, da_ctx_trace_start(ctx));
  TU_OK(ctx, da_persist(x));
  int rc = da_ctx_trace_stop(ctx, "/nonexistent-darray-dir/t.json", NULL);
  CHECKF(rc == DA_ERR_IO, "unwritable trace path gave %d", rc);
  CHECK(strstr(da_ctx_errmsg(ctx), "nonexistent-darray-dir") != NULL);
  CHECK(!file_exists("/nonexistent-darray-dir/t.json"));
  /* The trace ended with the failure. */
  CHECK(da_ctx_trace_stop(ctx, NULL, NULL) == DA_ERR_ARG);
  /* No path: the report alone (on a file no one reads). */
  TU_OK(ctx, da_ctx_trace_start(ctx));
  TU_OK(ctx, da_ctx_trace_stop(ctx, NULL, NULL));
  CHECK(da_ctx_trace_start(NULL) == DA_ERR_ARG);
  CHECK(da_ctx_trace_stop(NULL, NULL, NULL) == DA_ERR_ARG);
  (void)rank;
  da_array_destroy(&x);
}

/* ---------------------------------------------------------------- the graph */

/* Lines of text that start with prefix and contain piece (NULL: any). */
static int count_lines(const char *text, const char *prefix, const char *piece) {
  int n = 0;
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    n += !strncmp(buf, prefix, strlen(prefix)) && (!piece || strstr(buf, piece));
    line = nl ? nl + 1 : NULL;
  }
  return n;
}

/* Edge lines "  nA -> nB;". */
static int count_edges(const char *text) {
  int n = 0;
  for (const char *at = text; (at = strstr(at, " -> ")); at += 4)
    n++;
  return n;
}

static void test_dot(void) {
  int rank = da_ctx_rank(ctx);
  char path[512];
  snprintf(path, sizeof path, "%s/graph%d.dot", dir, rank);
  /* x (in memory), a = 2x, b = a + x, s = sum(b) along axis 0: 5 layers, and the edges
   * x -> multiply, multiply -> add, x -> add, add -> partial, partial -> sum. */
  da_array x, a, b, s;
  TU_OK(ctx,
        da_random_uniform(ctx, 3, 0, 1, 2, (int64_t[]){N, M}, DA_CHUNKS(BN, BM), DA_FLOAT32, &x));
  TU_OK(ctx, da_persist(x));
  TU_OK(ctx, da_multiply(DA_V(x), DA_V(2.0), &a));
  TU_OK(ctx, da_add(DA_V(a), DA_V(x), &b));
  TU_OK(ctx, da_sum(b, 1, (int[]){0}, 0, &s));
  TU_OK(ctx, da_array_dot(s, path));
  char *t = slurp(path);
  CHECK(t != NULL);
  if (t) {
    /* The layer count agrees with the array's own summary. */
    char summary[2048];
    CHECK(da_array_summary(s, summary, sizeof summary) > 0);
    int layers = -1;
    const char *g = strstr(summary, "chunks in ");
    CHECK(g && sscanf(g, "chunks in %d graph layer", &layers) == 1);
    CHECK(!strncmp(t, "digraph darray {\n", 17));
    CHECK(strlen(t) > 2 && !strcmp(t + strlen(t) - 2, "}\n"));
    int nodes = count_lines(t, "  n", "[label=");
    CHECKF(nodes == 5 && nodes == layers, "%d node lines, %d layers:\n%s", nodes, layers, t);
    CHECKF(count_edges(t) == 5, "%d edges:\n%s", count_edges(t), t);
    CHECK(count_lines(t, "  n", "multiply") == 1);
    CHECK(count_lines(t, "  n", "\\nshape (240, 180)\\nchunks (40, 60)\\n18 blocks\\nfloat32") ==
          3);
    CHECK(count_lines(t, "  n", "reduce-partial") == 1);
    /* The leaf in memory is drawn filled; the array asked for has a double border. */
    CHECK(count_lines(t, "  n", "style=filled") == 1);
    CHECK(count_lines(t, "  n", "materialized") == 1);
    CHECK(count_lines(t, "  n", "peripheries=2") == 1);
    CHECK(count_lines(t, "  n", "\\nshape (180,)\\nchunks (60,)\\n3 blocks\\nfloat32") == 1);
    /* Every edge joins two declared nodes: A -> B with A, B < nodes. */
    for (const char *at = t; (at = strstr(at, "  n")); at += 3) {
      int from, to;
      if (sscanf(at, "  n%d -> n%d;", &from, &to) == 2)
        CHECKF(from >= 0 && from < nodes && to >= 0 && to < nodes && from != to, "edge %d -> %d",
               from, to);
    }
    /* Graphviz itself, where installed, reads it. */
    if (system("command -v dot >/dev/null 2>&1") == 0) {
      char cmd[1200];
      snprintf(cmd, sizeof cmd, "dot -Tsvg %s -o %s.svg", path, path);
      CHECK(system(cmd) == 0);
    }
  }
  free(t);
  /* A materialized array alone: one node, no edge. */
  TU_OK(ctx, da_array_dot(x, path));
  t = slurp(path);
  CHECK(t && count_lines(t, "  n", "[label=") == 1 && count_edges(t) == 0);
  free(t);
  /* Errors: no array, no path, a path that cannot be written (nothing left behind). */
  CHECK(da_array_dot(NULL, path) == DA_ERR_ARG);
  CHECK(da_array_dot(s, NULL) == DA_ERR_ARG);
  CHECK(da_array_dot(s, "/nonexistent-darray-dir/g.dot") == DA_ERR_IO);
  CHECK(strstr(da_ctx_errmsg(ctx), "/nonexistent-darray-dir/g.dot") != NULL);
  da_array_destroy(&s);
  da_array_destroy(&b);
  da_array_destroy(&a);
  da_array_destroy(&x);
}

/* ---------------------------------------------------------------- the progress bar */

/* Runs a computation of NB tasks on c with this rank's stderr sent to path; returns what it
 * printed (read_back), or NULL. */
static char *progress_run(da_ctx c, const char *path, bool read_back) {
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(saved >= 0 && fd >= 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
  da_array x;
  int rc = da_random_normal(c, 5, 0, 1, 2, (int64_t[]){N, M}, DA_CHUNKS(BN, BM), DA_FLOAT64, &x);
  if (!rc)
    rc = da_persist(x);
  da_array_destroy(&x);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  CHECKF(rc == 0, "computation with progress: %d", rc);
  return read_back ? slurp(path) : NULL;
}

/* The last line of text. */
static const char *last_line(const char *text) {
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
    n--;
  while (n > 0 && text[n - 1] != '\n' && text[n - 1] != '\r')
    n--;
  return text + n;
}

static void test_progress(void) {
  int rank = da_ctx_rank(ctx);
  char path[512], want[64];
  snprintf(path, sizeof path, "%s/progress%d.txt", dir, rank);
  snprintf(want, sizeof want, "100%% %d/%d tasks", NB, NB);

  /* DARRAY_PROGRESS=1 from the environment, printing from the first task
   * (DARRAY_PROGRESS_DELAY=0, a knob for tests; by default the first second is silent). */
  setenv("DARRAY_PROGRESS", "1", 1);
  setenv("DARRAY_PROGRESS_DELAY", "0", 1);
  da_ctx c;
  TU_OK(ctx, da_ctx_create(MPI_COMM_WORLD, &c));
  unsetenv("DARRAY_PROGRESS_DELAY");
  char *out = progress_run(c, path, true);
  CHECK(out != NULL);
  if (out && rank == 0) {
    /* Not a terminal: plain lines, the last one of every task done. */
    CHECKF(strstr(last_line(out), want) && strstr(last_line(out), "s elapsed"),
           "last progress line \"%s\", want \"%s\"", last_line(out), want);
    CHECK(!strchr(out, '\r'));
    CHECK(!strncmp(out, "[", 1) && strstr(out, "] "));
    int lines = count_lines(out, "[", " tasks  ");
    CHECKF(lines >= 2 && lines <= 3, "%d progress lines:\n%s", lines, out);
  } else if (out) {
    CHECKF(out[0] == '\0', "rank %d printed progress: %s", rank, out); /* rank 0 alone */
  }
  free(out);

  /* On a terminal: one line redrawn with carriage returns, ended by a newline. */
  if (rank == 0) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    const char *slave =
        master >= 0 && !grantpt(master) && !unlockpt(master) ? ptsname(master) : NULL;
    CHECK(slave != NULL);
    if (slave) {
      fcntl(master, F_SETFL, O_NONBLOCK);
      char name[256];
      snprintf(name, sizeof name, "%s", slave);
      progress_run(c, name, false); /* what it printed waits on the master side */
      char buf[8192];
      ssize_t n = 0;
      for (ssize_t r; (r = read(master, buf + n, sizeof buf - 1 - (size_t)n)) > 0;)
        n += r;
      buf[n] = '\0';
      CHECKF(n > 0 && buf[0] == '\r' && strstr(buf, want) && buf[n - 1] == '\n',
             "terminal progress: \"%s\"", buf);
    }
    if (master >= 0)
      close(master);
  } else {
    progress_run(c, path, false); /* the collective computation on the other ranks */
  }

  /* Off: nothing. */
  TU_OK(c, da_ctx_set_progress(c, 0));
  out = progress_run(c, path, true);
  CHECKF(out && out[0] == '\0', "progress off printed: %s", out ? out : "");
  free(out);
  CHECK(da_ctx_set_progress(c, 2) == DA_ERR_ARG);
  CHECK(da_ctx_set_progress(NULL, 1) == DA_ERR_ARG);
  TU_OK(ctx, da_ctx_destroy(&c));

  /* On by the call, with the default delay: a computation of well under a second prints
   * nothing. */
  unsetenv("DARRAY_PROGRESS");
  TU_OK(ctx, da_ctx_create(MPI_COMM_WORLD, &c));
  TU_OK(c, da_ctx_set_progress(c, 1));
  out = progress_run(c, path, true);
  CHECKF(out && out[0] == '\0', "a short computation printed: %s", out ? out : "");
  free(out);
  TU_OK(ctx, da_ctx_destroy(&c));
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t800-diag");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  if (da_ctx_rank(ctx) == 0) {
    snprintf(dir, sizeof dir, "%s/t800-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
      dir[0] = '\0';
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (!dir[0]) {
    fprintf(stderr, "t800-diag: cannot make a scratch directory\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  test_trace();
  test_trace_eager();
  test_trace_errors();
  test_dot();
  test_progress();
  TU_OK(ctx, da_ctx_destroy(&ctx));
  MPI_Barrier(MPI_COMM_WORLD);
  if (tu_st()->rank == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "t800-diag: could not remove %s\n", dir);
  }
  return tu_finish();
}
