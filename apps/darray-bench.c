/* darray-bench: the benchmark workloads of the issues, each timed best-of-3 on the ranks
 * of mpirun, one JSON object per workload on rank 0. Usage: darray-bench [NAME ...] */
#include <darray.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPEATS 3

#define TRY(call)                                                                                  \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) {                                                                                     \
      fprintf(stderr, "darray-bench: %s: %s\n", #call, da_ctx_errmsg(ctx));                        \
      return rc_;                                                                                  \
    }                                                                                              \
  } while (0)

typedef struct {
  double seconds;  /* best of the repeats */
  int64_t blocks;  /* when set, the best time per block is reported too */
  char extra[512]; /* more JSON fields, starting with ", " */
} result;

/* overhead: the per-block cost of planning, scheduling and running tasks. */
static int bench_overhead(da_ctx ctx, double *seconds, result *r) {
  const int64_t n = 50000000, chunk = 2500;
  double t0 = MPI_Wtime(), v = 0;
  da_array x, s;
  TRY(da_ones(ctx, 1, &n, DA_CHUNKS(chunk), DA_FLOAT64, &x));
  TRY(da_sum(x, 0, NULL, 0, &s));
  TRY(da_compute(s, 0, &v, sizeof v));
  *seconds = MPI_Wtime() - t0;
  da_array_destroy(&s);
  da_array_destroy(&x);
  if (da_ctx_rank(ctx) == 0 && v != (double)n) {
    fprintf(stderr, "darray-bench: overhead: sum is %.17g, not %lld\n", v, (long long)n);
    return 1;
  }
  r->blocks = n / chunk;
  snprintf(r->extra, sizeof r->extra, ", \"dask_seconds\": 2.85, \"target_seconds\": 0.05");
  return 0;
}

/* mean0: the seeds' random normal (20000, 20000) mean over axis 0. */
static int bench_mean0(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {20000, 20000};
  double t0 = MPI_Wtime();
  double *m = malloc(20000 * sizeof *m);
  if (!m)
    return 1;
  da_array x, y;
  TRY(da_random_normal(ctx, 1, 10, 0.1, 2, shape, DA_CHUNKS(2000, 2000), DA_FLOAT64, &x));
  TRY(da_mean(x, 1, (int[]){0}, 0, &y));
  TRY(da_compute(y, 0, m, 20000 * sizeof *m));
  *seconds = MPI_Wtime() - t0;
  da_array_destroy(&y);
  da_array_destroy(&x);
  int bad = 0;
  if (da_ctx_rank(ctx) == 0)
    for (int j = 0; j < 20000; j++)
      bad += !(fabs(m[j] - 10) < 0.01);
  free(m);
  if (bad) {
    fprintf(stderr, "darray-bench: mean0: %d column means are off\n", bad);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra,
           ", \"elements\": 400000000, \"dask_seconds\": 3.77, \"numpy_seconds\": 14.4, "
           "\"target_speedup_vs_dask\": 4");
  return 0;
}

typedef struct {
  const char *name;
  int (*run)(da_ctx ctx, double *seconds, result *r);
} workload;

static const workload workloads[] = {
    {"overhead", bench_overhead},
    {"mean0", bench_mean0},
};
#define NWORK ((int)(sizeof workloads / sizeof workloads[0]))

static int run_workload(da_ctx ctx, const workload *w) {
  result r = {.seconds = INFINITY};
  for (int i = 0; i < REPEATS; i++) {
    double s = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    int rc = w->run(ctx, &s, &r);
    if (rc)
      return rc;
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (s < r.seconds)
      r.seconds = s;
  }
  if (da_ctx_rank(ctx) == 0) {
    char per_block[64] = "";
    if (r.blocks)
      snprintf(per_block, sizeof per_block, ", \"blocks\": %lld, \"us_per_block\": %.3f",
               (long long)r.blocks, r.seconds / (double)r.blocks * 1e6);
    printf("{\"workload\": \"%s\", \"ranks\": %d, \"seconds\": %.4f%s%s}\n", w->name,
           da_ctx_size(ctx), r.seconds, per_block, r.extra);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  da_ctx ctx = NULL;
  int rc = da_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    fprintf(stderr, "darray-bench: cannot create a context: %s\n", da_strerror(rc));
    MPI_Finalize();
    return 1;
  }
  for (int i = 1; i < argc && !rc; i++) {
    int found = 0;
    for (int w = 0; w < NWORK; w++)
      found |= strcmp(argv[i], workloads[w].name) == 0;
    if (!found) {
      if (da_ctx_rank(ctx) == 0) {
        fprintf(stderr, "darray-bench: unknown workload '%s'; known:", argv[i]);
        for (int w = 0; w < NWORK; w++)
          fprintf(stderr, " %s", workloads[w].name);
        fprintf(stderr, "\n");
      }
      rc = 2;
    }
  }
  for (int w = 0; w < NWORK && !rc; w++) {
    int chosen = argc == 1;
    for (int i = 1; i < argc; i++)
      chosen |= strcmp(argv[i], workloads[w].name) == 0;
    if (chosen)
      rc = run_workload(ctx, &workloads[w]);
  }
  da_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc ? 1 : 0;
}
