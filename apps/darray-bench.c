/* darray-bench: the benchmark workloads of the issues, each timed best-of-3 on the ranks
 * of mpirun, one JSON object per workload on rank 0. Usage: darray-bench [NAME ...] */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include <darray.h>

#include <cblas.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

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
  double seconds;   /* best of the repeats */
  int64_t blocks;   /* when set, the best time per block is reported too */
  char extra[1024]; /* more JSON fields, starting with ", " */
  /* When set: bytes read, and the stream workload's time for them, to report the
   * bandwidth reached as a fraction of the machine's. */
  double bytes, stream_seconds;
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

/* stream and fused share one persisted uniform (20000, 20000) array in (2000, 2000) chunks,
 * made once and never timed. */
static da_array fused_x;
static double stream_seconds;
static const int64_t fused_shape[2] = {20000, 20000};
#define FUSED_BYTES (20000.0 * 20000.0 * 8.0)

static int fused_input(da_ctx ctx, da_array *x) {
  if (!fused_x) {
    TRY(da_random_uniform(ctx, 7, 0, 1, 2, fused_shape, DA_CHUNKS(2000, 2000), DA_FLOAT64,
                          &fused_x));
    TRY(da_persist(fused_x));
  }
  *x = fused_x;
  return 0;
}

/* Reads n doubles; four accumulators keep the loop bound by memory, not by add latency. */
static double read_sum(const double *v, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    s0 += v[i], s1 += v[i + 1], s2 += v[i + 2], s3 += v[i + 3];
  for (; i < n; i++)
    s0 += v[i];
  return (s0 + s1) + (s2 + s3);
}

/* stream: this machine's read bandwidth, a plain loop over the local blocks of the array
 * fused reads, on the same ranks. */
static int bench_stream(da_ctx ctx, double *seconds, result *r) {
  da_array x;
  if (fused_input(ctx, &x))
    return 1;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime(), s = 0;
  for (int64_t k = 0; k < da_array_local_nblocks(x); k++) {
    void *blk;
    int64_t bidx[2], bshape[2];
    TRY(da_array_local_block(x, k, &blk));
    TRY(da_array_local_block_index(x, k, bidx));
    TRY(da_array_block_shape(x, bidx, bshape));
    s += read_sum(blk, bshape[0] * bshape[1]);
  }
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  *seconds = MPI_Wtime() - t0;
  double slowest = *seconds;
  MPI_Allreduce(MPI_IN_PLACE, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (!(fabs(s / 4e8 - 0.5) < 1e-3)) {
    fprintf(stderr, "darray-bench: stream: mean is %.17g, not 0.5\n", s / 4e8);
    return 1;
  }
  if (stream_seconds == 0 || slowest < stream_seconds)
    stream_seconds = slowest;
  snprintf(r->extra, sizeof r->extra, ", \"bytes\": %.0f, \"read_GBps\": %.2f", FUSED_BYTES,
           FUSED_BYTES / stream_seconds / 1e9);
  return 0;
}

/* fused: ((x*2 + 1)**2 - x).sum() over the persisted array, one pass in cache-sized tiles. */
static int bench_fused(da_ctx ctx, double *seconds, result *r) {
  da_array x, t1, t2, t3, t4, s;
  if (fused_input(ctx, &x))
    return 1;
  for (int i = 0, alone = stream_seconds == 0; alone && i < REPEATS; i++) { /* stream too */
    result sr = {0};
    double st = 0;
    if (bench_stream(ctx, &st, &sr))
      return 1;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime(), v = 0;
  TRY(da_multiply(da_value_array(x), da_value_float(2), &t1));
  TRY(da_add(da_value_array(t1), da_value_float(1), &t2));
  TRY(da_power(da_value_array(t2), da_value_float(2), &t3));
  TRY(da_subtract(da_value_array(t3), da_value_array(x), &t4));
  TRY(da_sum(t4, 0, NULL, 0, &s));
  TRY(da_compute(s, 0, &v, sizeof v));
  *seconds = MPI_Wtime() - t0;
  da_array_destroy(&s);
  da_array_destroy(&t4);
  da_array_destroy(&t3);
  da_array_destroy(&t2);
  da_array_destroy(&t1);
  /* E[(2x+1)^2 - x] = 4/3 + 3/2 + 1 for x uniform on [0, 1). */
  if (da_ctx_rank(ctx) == 0 && !(fabs(v / 4e8 - 23.0 / 6.0) < 1e-3)) {
    fprintf(stderr, "darray-bench: fused: mean is %.17g, not %.17g\n", v / 4e8, 23.0 / 6.0);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra, ", \"dask_seconds\": 0.70, \"target_fraction\": 0.6");
  r->bytes = FUSED_BYTES;
  r->stream_seconds = stream_seconds;
  return 0;
}

/* reshape: the seeds' (5000, 5000) in (1000, 1000) chunks -> (1000, 5000, 5) -> sum(axis=2),
 * which Dask refuses ("Shapes not compatible"). x is made and persisted untimed; the time is
 * the reshape, the fused sum and the gather of the (1000, 5000) result to rank 0. */
static int bench_reshape(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {5000, 5000}, to[3] = {1000, 5000, 5};
  double *m = da_ctx_rank(ctx) == 0 ? malloc(1000 * 5000 * sizeof *m) : NULL;
  if (da_ctx_rank(ctx) == 0 && !m)
    return 1;
  da_array x, y, s, tot;
  double total = 0, x00[1000] = {0};
  TRY(da_random_uniform(ctx, 11, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &x));
  TRY(da_persist(x));
  TRY(da_sum(x, 0, NULL, 0, &tot));
  TRY(da_compute(tot, 0, &total, sizeof total));
  if (da_ctx_rank(ctx) == 0) { /* row 0 of block (0, 0), rank 0's first block */
    void *blk;
    TRY(da_array_local_block(x, 0, &blk));
    memcpy(x00, blk, sizeof x00);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_reshape(x, 3, to, &y));
  TRY(da_sum(y, 1, (int[]){2}, 0, &s));
  TRY(da_compute(s, 0, m, m ? 1000 * 5000 * sizeof *m : 0));
  *seconds = MPI_Wtime() - t0;
  const int64_t *ck = da_array_chunksize(y);
  snprintf(r->extra, sizeof r->extra,
           ", \"chunks\": [%lld, %lld, %lld], \"timed\": \"reshape + sum(axis=2) + gather to "
           "rank 0; x persisted untimed\", \"dask_seconds\": null, \"dask\": \"ValueError: "
           "Shapes not compatible\"",
           (long long)ck[0], (long long)ck[1], (long long)ck[2]);
  da_array_destroy(&tot);
  da_array_destroy(&s);
  da_array_destroy(&y);
  da_array_destroy(&x);
  int bad = 0;
  if (m) { /* the result sums to x's sum; its first 200 entries are sums of x[0, 5j:5j+5] */
    double got = 0;
    for (int64_t i = 0; i < 1000 * 5000; i++)
      got += m[i], bad += !(m[i] >= 0 && m[i] < 5);
    bad += !(fabs(got - total) <= 1e-9 * total);
    for (int j = 0; j < 200; j++) {
      double w = x00[5 * j] + x00[5 * j + 1] + x00[5 * j + 2] + x00[5 * j + 3] + x00[5 * j + 4];
      bad += !(fabs(m[j] - w) <= 1e-15 * 5);
    }
    if (bad)
      fprintf(stderr, "darray-bench: reshape: %d checks failed (sum %.17g, want %.17g)\n", bad, got,
              total);
  }
  free(m);
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return bad ? 1 : 0;
}

/* rechunk: uniform (8000, 8000) in (1000, 1000) chunks, persisted untimed; timed: rechunk to
 * (8000, 125) and sum(), the view fused into the sum. Only block intersections whose owners
 * differ cross ranks; their bytes per second are set against the stream bandwidth. */
static da_array rechunk_x;
static double rechunk_best, rechunk_want;

/* Bytes of x's blocks that y's owners need from other ranks (2-d, from the metadata). */
static int64_t rechunk_moved(da_array x, da_array y) {
  const int64_t *nx = da_array_numblocks(x), *ny = da_array_numblocks(y);
  int64_t moved = 0;
  for (int64_t i = 0; i < nx[0]; i++)
    for (int64_t j = 0; j < nx[1]; j++)
      for (int64_t k = 0; k < ny[0]; k++)
        for (int64_t l = 0; l < ny[1]; l++) {
          int64_t xb[2] = {i, j}, yb[2] = {k, l}, xo[2], xs[2], yo[2], ys[2], e = 8;
          int xr, yr;
          if (da_array_block_owner(x, xb, &xr) || da_array_block_owner(y, yb, &yr) ||
              da_array_block_offset(x, xb, xo) || da_array_block_shape(x, xb, xs) ||
              da_array_block_offset(y, yb, yo) || da_array_block_shape(y, yb, ys))
            return -1;
          for (int d = 0; d < 2; d++) {
            int64_t lo = xo[d] > yo[d] ? xo[d] : yo[d];
            int64_t hi = xo[d] + xs[d] < yo[d] + ys[d] ? xo[d] + xs[d] : yo[d] + ys[d];
            e *= hi > lo ? hi - lo : 0;
          }
          moved += xr != yr ? e : 0;
        }
  return moved;
}

static int bench_rechunk(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  if (!rechunk_x) {
    da_array s0;
    TRY(da_random_uniform(ctx, 5, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &rechunk_x));
    TRY(da_persist(rechunk_x));
    TRY(da_sum(rechunk_x, 0, NULL, 0, &s0));
    TRY(da_compute(s0, DA_ALL_RANKS, &rechunk_want, sizeof rechunk_want));
    da_array_destroy(&s0);
    for (int i = 0, alone = stream_seconds == 0; alone && i < REPEATS; i++) { /* stream too */
      result sr = {0};
      double st = 0;
      if (bench_stream(ctx, &st, &sr))
        return 1;
    }
  }
  da_array y, s;
  double v = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_rechunk(rechunk_x, DA_CHUNKS(8000, 125), &y));
  TRY(da_sum(y, 0, NULL, 0, &s));
  TRY(da_compute(s, 0, &v, sizeof v));
  *seconds = MPI_Wtime() - t0;
  double slowest = *seconds;
  MPI_Allreduce(MPI_IN_PLACE, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  rechunk_best = rechunk_best == 0 || slowest < rechunk_best ? slowest : rechunk_best;
  int64_t moved = rechunk_moved(rechunk_x, y);
  da_array_destroy(&s);
  da_array_destroy(&y);
  if (da_ctx_rank(ctx) == 0 && !(fabs(v - rechunk_want) <= 1e-9 * fabs(rechunk_want))) {
    fprintf(stderr, "darray-bench: rechunk: sum is %.17g, not %.17g\n", v, rechunk_want);
    return 1;
  }
  double bps = (double)moved / rechunk_best, stream_bps = FUSED_BYTES / stream_seconds;
  snprintf(r->extra, sizeof r->extra,
           ", \"bytes_moved\": %lld, \"moved_GBps\": %.2f, \"stream_GBps\": %.2f, "
           "\"fraction_of_stream\": %.3f, \"dask_seconds\": 0.26",
           (long long)moved, bps / 1e9, stream_bps / 1e9, bps / stream_bps);
  return 0;
}

/* mask: x[x < 0.5].sum() on the rechunk workload's array (persisted, untimed). The mask's
 * true elements are counted per block first, so the selection has exact chunks. */
static int bench_mask(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  if (!rechunk_x) {
    TRY(da_random_uniform(ctx, 5, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &rechunk_x));
    TRY(da_persist(rechunk_x));
  }
  da_array m, y, s;
  double v = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_less(DA_V(rechunk_x), DA_V(0.5), &m));
  TRY(da_mask_select(rechunk_x, m, &y));
  TRY(da_sum(y, 0, NULL, 0, &s));
  TRY(da_compute(s, 0, &v, sizeof v));
  *seconds = MPI_Wtime() - t0;
  int64_t kept = da_array_shape(y)[0];
  da_array_destroy(&s);
  da_array_destroy(&y);
  da_array_destroy(&m);
  /* About half the elements, averaging 0.25. */
  if (da_ctx_rank(ctx) == 0 &&
      !(fabs((double)kept / 64e6 - 0.5) < 0.01 && fabs(v / (double)kept - 0.25) < 0.01)) {
    fprintf(stderr, "darray-bench: mask: %lld kept, sum %.17g\n", (long long)kept, v);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra,
           ", \"kept\": %lld, \"dask_seconds\": 0.49, \"target_speedup_vs_dask\": 2",
           (long long)kept);
  return 0;
}

/* histogram: 100 bins on [0, 1] of a uniform (8000, 8000) array in (1000, 1000) chunks,
 * timed from generating the array, as Dask's 2.28 s is. */
static int bench_histogram(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  const double range[2] = {0, 1};
  int64_t counts[100];
  da_array x, h;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 17, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &x));
  TRY(da_histogram(x, 100, range, NULL, 0, &h, NULL));
  TRY(da_compute(h, DA_ALL_RANKS, counts, sizeof counts));
  *seconds = MPI_Wtime() - t0;
  da_array_destroy(&h);
  da_array_destroy(&x);
  int64_t total = 0, least = INT64_MAX;
  for (int i = 0; i < 100; i++)
    total += counts[i], least = counts[i] < least ? counts[i] : least;
  /* Every element counted, each bin near 640,000. */
  if (total != 64000000 || least < 630000) {
    fprintf(stderr, "darray-bench: histogram: %lld counted, smallest bin %lld\n", (long long)total,
            (long long)least);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra,
           ", \"timed\": \"generate + histogram\", \"dask_seconds\": 2.28, "
           "\"target_speedup_vs_dask\": 10");
  return 0;
}

/* sort: 1e8 uniform float64 in chunks of 1e7, sorted (generate + sort, the result
 * materialized), against one rank's qsort of the same values (timed once, on rank 0, the
 * other ranks waiting). The result is checked sorted across block boundaries. */
#define SORT_N 100000000
#define SORT_CHUNK 10000000
static double sort_qsort_seconds;

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static int sort_check(da_ctx ctx, da_array s) {
  int64_t nl = da_array_local_nblocks(s), bad = 0;
  const int64_t nb = da_array_nblocks(s);
  double *edge = calloc((size_t)(2 * nb), sizeof *edge); /* first and last of each block */
  if (!edge)
    return 1;
  for (int64_t k = 0; k < nl; k++) {
    int64_t b, len;
    double *d;
    TRY(da_array_local_block_index(s, k, &b));
    TRY(da_array_block_shape(s, &b, &len));
    TRY(da_array_local_block(s, k, (void **)&d));
    for (int64_t i = 1; i < len; i++)
      bad += !(d[i - 1] <= d[i]);
    edge[2 * b] = len ? d[0] : 0, edge[2 * b + 1] = len ? d[len - 1] : 0;
  }
  MPI_Allreduce(MPI_IN_PLACE, edge, (int)(2 * nb), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int64_t b = 1; b < nb; b++)
    bad += !(edge[2 * b - 1] <= edge[2 * b]);
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  free(edge);
  if (bad)
    fprintf(stderr, "darray-bench: sort: %lld elements out of order\n", (long long)bad);
  return bad != 0;
}

static int bench_sort(da_ctx ctx, double *seconds, result *r) {
  const int64_t n = SORT_N;
  da_array x, s;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 23, 0, 1, 1, &n, DA_CHUNKS(SORT_CHUNK), DA_FLOAT64, &x));
  TRY(da_sort(x, 0, &s));
  TRY(da_persist(s));
  *seconds = MPI_Wtime() - t0;
  int bad = sort_check(ctx, s);
  da_array_destroy(&s);
  if (!bad && sort_qsort_seconds == 0) {
    int root = da_ctx_rank(ctx) == 0;
    double *all = root ? malloc((size_t)n * sizeof *all) : NULL;
    if (root && !all)
      return 1;
    TRY(da_compute(x, 0, all, root ? (size_t)n * sizeof *all : 0));
    if (root) {
      double q0 = MPI_Wtime();
      qsort(all, (size_t)n, sizeof *all, cmp_double);
      sort_qsort_seconds = MPI_Wtime() - q0;
    }
    free(all);
    MPI_Bcast(&sort_qsort_seconds, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  }
  da_array_destroy(&x);
  if (bad)
    return 1;
  snprintf(r->extra, sizeof r->extra,
           ", \"timed\": \"generate + sort\", \"qsort_one_rank_seconds\": %.3f, "
           "\"speedup_vs_qsort\": %.2f",
           sort_qsort_seconds, sort_qsort_seconds / *seconds);
  return 0;
}

/* percentile: the exact median of the histogram workload's array (uniform (8000, 8000) in
 * (1000, 1000) chunks), timed from generation; checked against the approximate median and
 * its bound. */
static int bench_percentile(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  da_array x, m;
  double med = 0, approx = 0, bound = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 17, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &x));
  TRY(da_median(x, 0, NULL, 0, &m));
  TRY(da_compute(m, DA_ALL_RANKS, &med, sizeof med));
  *seconds = MPI_Wtime() - t0;
  da_array_destroy(&m);
  double t1 = MPI_Wtime();
  TRY(da_quantile_approx(x, 1, (const double[]){0.5}, &approx, &bound));
  double approx_seconds = MPI_Wtime() - t1;
  da_array_destroy(&x);
  if (!(fabs(med - 0.5) < 1e-3) || !(fabs(approx - med) <= bound)) {
    fprintf(stderr, "darray-bench: percentile: median %.17g, approximate %.17g +- %.3g\n", med,
            approx, bound);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra,
           ", \"timed\": \"generate + exact median\", \"median\": %.17g, "
           "\"approx_seconds\": %.4f, \"approx_bound\": %.3g",
           med, approx_seconds, bound);
  return 0;
}

/* stencil: the 4-neighbour sum b[:-2,1:-1] + b[2:,1:-1] + b[1:-1,:-2] + b[1:-1,2:] of a
 * uniform (8000, 8000) array in (1000, 1000) chunks, via map_overlap (depth 1, reflect), then
 * sum(). Timed from generating the array, as Dask's 0.39 s is; then on the array persisted,
 * against a hand-written MPI halo exchange over the same blocks, the physical reference. */
/* Best times: generate, darray on the persisted array, hand-written, darray from generation. */
static double stencil_best[4];

static int stencil_block(const da_block_info *info, void *user) {
  (void)user;
  const double *b = info->in[0];
  double *o = info->out;
  int64_t n0 = info->out_shape[0], n1 = info->out_shape[1], e1 = info->in_shape[0][1];
  for (int64_t i = 0; i < n0; i++) {
    const double *mid = b + (i + info->halo_lo[0]) * e1 + info->halo_lo[1];
    const double *up = mid - e1, *dn = mid + e1;
    double *row = o + i * n1;
    for (int64_t j = 0; j < n1; j++)
      row[j] = up[j] + dn[j] + mid[j - 1] + mid[j + 1];
  }
  return 0;
}

static int stencil_darray(da_ctx ctx, da_array x, double *v) {
  const int64_t depth[2] = {1, 1};
  const da_boundary bd[2] = {DA_BOUNDARY_REFLECT, DA_BOUNDARY_REFLECT};
  da_array y, s;
  TRY(da_map_overlap(stencil_block, NULL, x, depth, bd, 0, DA_FLOAT64,
                     DA_OVERLAP_TRIM | DA_OVERLAP_LOCAL, &y));
  TRY(da_sum(y, 0, NULL, 0, &s));
  TRY(da_compute(s, DA_ALL_RANKS, v, sizeof *v));
  da_array_destroy(&s);
  da_array_destroy(&y);
  return 0;
}

/* The stencil summed over one n0 x n1 block from its halo lines: the rows above and below,
 * the columns left and right. Four accumulators keep it bound by memory. */
static double stencil_block_sum(const double *blk, int64_t n0, int64_t n1, const double *top,
                                const double *bot, const double *left, const double *right) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i < n0; i++) {
    const double *mid = blk + i * n1, *up = i ? mid - n1 : top, *dn = i + 1 < n0 ? mid + n1 : bot;
    if (n1 == 1) {
      s0 += up[0] + dn[0] + left[i] + right[i];
      continue;
    }
    s0 += up[0] + dn[0] + left[i] + mid[1];
    int64_t j = 1;
    for (; j + 4 <= n1 - 1; j += 4) {
      s0 += up[j] + dn[j] + mid[j - 1] + mid[j + 1];
      s1 += up[j + 1] + dn[j + 1] + mid[j] + mid[j + 2];
      s2 += up[j + 2] + dn[j + 2] + mid[j + 1] + mid[j + 3];
      s3 += up[j + 3] + dn[j + 3] + mid[j + 2] + mid[j + 4];
    }
    for (; j < n1 - 1; j++)
      s0 += up[j] + dn[j] + mid[j - 1] + mid[j + 1];
    s1 += up[n1 - 1] + dn[n1 - 1] + mid[n1 - 2] + right[i];
  }
  return (s0 + s1) + (s2 + s3);
}

enum { HALO_TOP, HALO_BOT, HALO_LEFT, HALO_RIGHT };

/* The hand-written version: x's local blocks (darray made and persisted them) get their four
 * halo lines from the neighbouring blocks, by MPI_Isend / MPI_Irecv between owners and by a
 * copy within a rank; at the array edges the block's own edge line (reflect). Then a local
 * sum and MPI_Allreduce. Corners are not needed for 4 neighbours. */
static int stencil_handwritten(da_ctx ctx, da_array x, double *v) {
  const int64_t *nb = da_array_numblocks(x);
  int64_t nloc = da_array_local_nblocks(x), nblk = nb[0] * nb[1];
  int me = da_ctx_rank(ctx);
  double **blk = calloc((size_t)nloc + 1, sizeof *blk),
         **halo = calloc((size_t)nloc + 1, sizeof *halo);
  double **packed = calloc((size_t)nloc + 1, sizeof *packed);
  int64_t(*bidx)[2] = calloc((size_t)nloc + 1, sizeof *bidx);
  int64_t(*bs)[2] = calloc((size_t)nloc + 1, sizeof *bs);
  int64_t *local = malloc((size_t)nblk * sizeof *local); /* block -> local k, or -1 */
  MPI_Request *req = malloc((size_t)(8 * nloc + 1) * sizeof *req);
  int nreq = 0, rc = 0;
  if (!blk || !halo || !packed || !bidx || !bs || !local || !req)
    rc = 1;
  for (int64_t b = 0; !rc && b < nblk; b++)
    local[b] = -1;
  for (int64_t k = 0; !rc && k < nloc; k++) {
    void *p;
    if (da_array_local_block(x, k, &p) || da_array_local_block_index(x, k, bidx[k]) ||
        da_array_block_shape(x, bidx[k], bs[k])) {
      rc = 1;
      break;
    }
    blk[k] = p;
    local[bidx[k][0] * nb[1] + bidx[k][1]] = k;
    /* top, bottom (n1 each), left, right (n0 each); packed: first and last column */
    halo[k] = malloc((size_t)(2 * (bs[k][0] + bs[k][1])) * sizeof(double));
    packed[k] = malloc((size_t)(2 * bs[k][0]) * sizeof(double));
    rc = !halo[k] || !packed[k];
  }
  /* Receives first, then sends of edge lines to remote neighbours (columns packed). */
  for (int pass = 0; pass < 2 && !rc; pass++)
    for (int64_t k = 0; k < nloc && !rc; k++) {
      int64_t i = bidx[k][0], j = bidx[k][1], n0 = bs[k][0], n1 = bs[k][1];
      double *h[4] = {halo[k], halo[k] + n1, halo[k] + 2 * n1, halo[k] + 2 * n1 + n0};
      const int64_t nbr[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (int dir = 0; dir < 4 && !rc; dir++) {
        int64_t ni = nbr[dir][0], nj = nbr[dir][1];
        if (ni < 0 || ni >= nb[0] || nj < 0 || nj >= nb[1])
          continue;
        int owner;
        if (da_array_block_owner(x, nbr[dir], &owner)) {
          rc = 1;
          break;
        }
        if (owner == me)
          continue;
        int len = (int)(dir < 2 ? n1 : n0);
        if (pass == 0) { /* my halo line dir comes from that neighbour */
          rc = MPI_Irecv(h[dir], len, MPI_DOUBLE, owner, (int)((i * nb[1] + j) * 4 + dir),
                         MPI_COMM_WORLD, &req[nreq++]) != MPI_SUCCESS;
        } else { /* the neighbour's halo on the side facing me is my edge line */
          const double *line = dir == HALO_TOP   ? blk[k]
                               : dir == HALO_BOT ? blk[k] + (n0 - 1) * n1
                                                 : packed[k] + (dir == HALO_RIGHT) * n0;
          if (dir >= HALO_LEFT)
            for (int64_t r = 0; r < n0; r++)
              packed[k][(dir == HALO_RIGHT) * n0 + r] =
                  blk[k][r * n1 + (dir == HALO_RIGHT) * (n1 - 1)];
          int facing = dir ^ 1; /* TOP <-> BOT, LEFT <-> RIGHT */
          rc = MPI_Isend(line, len, MPI_DOUBLE, owner, (int)((ni * nb[1] + nj) * 4 + facing),
                         MPI_COMM_WORLD, &req[nreq++]) != MPI_SUCCESS;
        }
      }
    }
  /* Local neighbours and reflected edges, while the messages travel. */
  for (int64_t k = 0; k < nloc && !rc; k++) {
    int64_t i = bidx[k][0], j = bidx[k][1], n0 = bs[k][0], n1 = bs[k][1];
    double *top = halo[k], *bot = top + n1, *left = bot + n1, *right = left + n0;
    int64_t up = i > 0 ? local[(i - 1) * nb[1] + j] : k,
            dn = i + 1 < nb[0] ? local[(i + 1) * nb[1] + j] : k;
    int64_t lf = j > 0 ? local[i * nb[1] + j - 1] : k,
            rt = j + 1 < nb[1] ? local[i * nb[1] + j + 1] : k;
    if (up >= 0)
      memcpy(top, up == k ? blk[k] : blk[up] + (bs[up][0] - 1) * n1, (size_t)n1 * sizeof *top);
    if (dn >= 0)
      memcpy(bot, dn == k ? blk[k] + (n0 - 1) * n1 : blk[dn], (size_t)n1 * sizeof *bot);
    for (int64_t r = 0; lf >= 0 && r < n0; r++)
      left[r] = lf == k ? blk[k][r * n1] : blk[lf][r * bs[lf][1] + bs[lf][1] - 1];
    for (int64_t r = 0; rt >= 0 && r < n0; r++)
      right[r] = rt == k ? blk[k][r * n1 + n1 - 1] : blk[rt][r * bs[rt][1]];
  }
  if (nreq && MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
    rc = 1;
  double s = 0;
  for (int64_t k = 0; k < nloc && !rc; k++) {
    int64_t n0 = bs[k][0], n1 = bs[k][1];
    s += stencil_block_sum(blk[k], n0, n1, halo[k], halo[k] + n1, halo[k] + 2 * n1,
                           halo[k] + 2 * n1 + n0);
  }
  MPI_Allreduce(&s, v, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (int64_t k = 0; k < nloc && halo && packed; k++)
    free(halo[k]), free(packed[k]);
  free(blk), free(halo), free(packed), free(bidx), free(bs), free(local), free(req);
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rc)
    fprintf(stderr, "darray-bench: stencil: the hand-written version failed\n");
  return rc;
}

static double slowest_since(double t0) {
  double t = MPI_Wtime() - t0;
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

static int bench_stencil(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  double v[3] = {0}, t[4];
  da_array x;
  /* As Dask: generation, halo exchange, stencil and sum in one graph. */
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 13, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &x));
  if (stencil_darray(ctx, x, &v[0]))
    return 1;
  *seconds = MPI_Wtime() - t0;
  t[3] = slowest_since(t0);
  da_array_destroy(&x);
  /* The same array persisted, then both versions on it. */
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 13, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &x));
  TRY(da_persist(x));
  t[0] = slowest_since(t0);
  /* Short runs on a shared machine: the best of several, the two versions interleaved. */
  t[1] = t[2] = INFINITY;
  for (int rep = 0; rep < 5; rep++) {
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    if (stencil_darray(ctx, x, &v[1]))
      return 1;
    t[1] = fmin(t[1], slowest_since(t0));
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    if (stencil_handwritten(ctx, x, &v[2]))
      return 1;
    t[2] = fmin(t[2], slowest_since(t0));
  }
  da_array_destroy(&x);
  for (int i = 0; i < 4; i++)
    stencil_best[i] = stencil_best[i] == 0 || t[i] < stencil_best[i] ? t[i] : stencil_best[i];
  /* Each of 4 neighbours averages 0.5: about 2 per cell. */
  if (!(fabs(v[1] - v[0]) <= 1e-12 * v[0] && fabs(v[2] - v[0]) <= 1e-12 * v[0] &&
        fabs(v[0] / 64e6 - 2) < 1e-3)) {
    if (da_ctx_rank(ctx) == 0)
      fprintf(stderr,
              "darray-bench: stencil: sums %.17g (lazy), %.17g (persisted), %.17g (hand-written)\n",
              v[0], v[1], v[2]);
    return 1;
  }
  const double *b = stencil_best;
  snprintf(r->extra, sizeof r->extra,
           ", \"sum\": %.17g, \"generate_seconds\": %.4f, \"persisted_seconds\": %.4f, "
           "\"handwritten_seconds\": %.4f, \"ratio\": %.3f, \"ratio_with_generation\": %.3f, "
           "\"timed\": \"seconds: generate + overlap + stencil + sum; persisted_seconds and "
           "handwritten_seconds: on x persisted; ratio: persisted / handwritten; "
           "ratio_with_generation: seconds / (generate + handwritten)\", "
           "\"dask_seconds\": 0.39, \"target_ratio\": 1.5",
           v[0], b[0], b[1], b[2], b[1] / b[2], b[3] / (b[0] + b[2]));
  return 0;
}

/* matmul: a @ a for a random uniform (8000, 8000) in (1000, 1000) chunks, persisted untimed;
 * the product is computed and persisted (p?gemm over the array's own blocks). The machine's
 * peak: single-threaded OpenBLAS dgemm of 4000 x 4000 on every rank at once, summed. */
static da_array matmul_x;
static double matmul_best, dgemm_best;

/* The mean of x (all ranks). */
static int mean_of(da_ctx ctx, da_array x, double *v) {
  da_array m;
  TRY(da_mean(x, 0, NULL, 0, &m));
  TRY(da_compute(m, DA_ALL_RANKS, v, sizeof *v));
  da_array_destroy(&m);
  return 0;
}

static double dgemm_gflops(void) {
  const int n = 4000;
  double *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
         *c = malloc((size_t)n * n * sizeof *c);
  double g = 0;
  if (a && b && c) {
    for (int64_t i = 0; i < (int64_t)n * n; i++)
      a[i] = (double)(i % 7) / 7, b[i] = (double)(i % 5) / 5, c[i] = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    g = 2.0 * n * n * n / (MPI_Wtime() - t0) / 1e9;
  }
  free(a), free(b), free(c);
  MPI_Allreduce(MPI_IN_PLACE, &g, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return g;
}

static int bench_matmul(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {8000, 8000};
  if (!matmul_x) {
    TRY(da_random_uniform(ctx, 17, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &matmul_x));
    TRY(da_persist(matmul_x));
  }
  da_array c;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_matmul(matmul_x, matmul_x, &c));
  TRY(da_persist(c));
  *seconds = slowest_since(t0);
  double v;
  if (mean_of(ctx, c, &v))
    return 1;
  da_array_destroy(&c);
  if (!(fabs(v / 2000 - 1) < 0.01)) { /* 8000 products of two U(0, 1): 2000 on average */
    fprintf(stderr, "darray-bench: matmul: mean is %.17g, not about 2000\n", v);
    return 1;
  }
  openblas_set_num_threads(1);
  double g = dgemm_gflops();
  dgemm_best = g > dgemm_best ? g : dgemm_best;
  matmul_best = matmul_best == 0 || *seconds < matmul_best ? *seconds : matmul_best;
  double gf = 2.0 * 8000 * 8000 * 8000 / matmul_best / 1e9;
  snprintf(r->extra, sizeof r->extra,
           ", \"GFLOPs\": %.2f, \"dgemm_peak_GFLOPs\": %.2f, \"fraction_of_peak\": %.3f, "
           "\"timed\": \"a @ a computed and persisted; peak: sum over ranks of single-threaded "
           "dgemm 4000^3 run at once\", \"target_fraction\": 0.85",
           gf, dgemm_best, gf / dgemm_best);
  return 0;
}

/* dot_seed: the seeds' dot(a, a + a.T), a random (5000, 5000) in (1000, 1000) chunks,
 * generation included; the product is persisted. */
static int bench_dot_seed(da_ctx ctx, double *seconds, result *r) {
  const int64_t shape[2] = {5000, 5000};
  da_array a, at, s, c;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  TRY(da_random_uniform(ctx, 19, 0, 1, 2, shape, DA_CHUNKS(1000, 1000), DA_FLOAT64, &a));
  TRY(da_transpose(a, NULL, &at));
  TRY(da_add(DA_V(a), DA_V(at), &s));
  TRY(da_dot(a, s, &c));
  TRY(da_persist(c));
  *seconds = slowest_since(t0);
  double v;
  if (mean_of(ctx, c, &v))
    return 1;
  da_array_destroy(&c), da_array_destroy(&s), da_array_destroy(&at), da_array_destroy(&a);
  if (!(fabs(v / 2500 - 1) < 0.01)) {
    fprintf(stderr, "darray-bench: dot_seed: mean is %.17g, not about 2500\n", v);
    return 1;
  }
  snprintf(r->extra, sizeof r->extra,
           ", \"timed\": \"generate + a + a.T + dot, persisted\", \"dask_seconds\": 4.08, "
           "\"speedup_vs_dask\": %.2f, \"target_speedup_vs_dask\": 2",
           4.08 / *seconds);
  return 0;
}

/* hdf5 and zarr: write, then read and sum, a uniform (16384, 16384) float64 array (2 GiB) in
 * (2048, 2048) chunks, in a temporary directory under /tmp removed afterwards. Timed: write
 * = generation + write (into the page cache, not synced), as Dask's to_hdf5 / to_zarr of a random
 * array; read+sum = open + read + sum. In the same run, a dd-like reference: each rank writes its
 * share of the bytes to a file of its own (write, then also fsync) and reads it back. */
#define IO_N 16384
#define IO_CHUNK 2048
#define IO_BYTES ((double)IO_N * IO_N * 8)
#define IO_MIN_FREE ((unsigned long long)6 << 30)

typedef struct {
  double write, read, dd_write, dd_sync, dd_read; /* best of each, slowest rank */
  double want, gen; /* the array's sum, from the generator, and the time to make it */
} io_best;
static io_best hdf5_best, zarr_best;
static char io_dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* A fresh temporary directory on rank 0, shared; 1 when /tmp has too little room (every rank
 * agrees), -1 on failure. */
static int io_dir_make(da_ctx ctx, double *free_bytes) {
  int st = 0;
  if (da_ctx_rank(ctx) == 0) {
    struct statvfs vfs;
    *free_bytes = statvfs("/tmp", &vfs) ? 0 : (double)vfs.f_bavail * (double)vfs.f_frsize;
    snprintf(io_dir, sizeof io_dir, "/tmp/darray-bench-XXXXXX");
    if (*free_bytes < (double)IO_MIN_FREE)
      st = 1;
    else if (!mkdtemp(io_dir))
      st = -1;
  }
  MPI_Bcast(&st, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(free_bytes, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(io_dir, sizeof io_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  return st;
}

static void io_dir_remove(da_ctx ctx) {
  MPI_Barrier(MPI_COMM_WORLD);
  if (da_ctx_rank(ctx) == 0)
    nftw(io_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  MPI_Barrier(MPI_COMM_WORLD);
}

/* The dd-like reference: this rank's share of IO_BYTES written to its own file in 8 MiB
 * pieces (into the page cache, as darray and Dask write by default; *ssec adds the fsync),
 * then read back; the slowest rank's times. */
static int io_dd(da_ctx ctx, double *wsec, double *ssec, double *rsec) {
  const size_t piece = (size_t)8 << 20;
  size_t share = (size_t)(IO_BYTES / da_ctx_size(ctx));
  char *buf = malloc(piece), file[96];
  int rc = !buf;
  snprintf(file, sizeof file, "%s/dd.%d", io_dir, da_ctx_rank(ctx));
  if (buf)
    for (size_t i = 0; i < piece; i++)
      buf[i] = (char)(i * 131);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  int fd = rc ? -1 : open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  for (size_t done = 0; fd >= 0 && !rc && done < share; done += piece) {
    size_t n = share - done < piece ? share - done : piece;
    rc = write(fd, buf, n) != (ssize_t)n;
  }
  *wsec = slowest_since(t0);
  rc |= fd < 0 || fsync(fd) != 0;
  if (fd >= 0)
    close(fd);
  *ssec = slowest_since(t0);
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  fd = rc ? -1 : open(file, O_RDONLY);
  for (ssize_t got = 1; fd >= 0 && got > 0;)
    got = read(fd, buf, piece);
  rc |= fd < 0;
  if (fd >= 0)
    close(fd);
  *rsec = slowest_since(t0);
  unlink(file);
  free(buf);
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rc)
    fprintf(stderr, "darray-bench: the dd reference failed in %s\n", io_dir);
  return rc;
}

static double io_min(double best, double t) {
  return best == 0 || t < best ? t : best;
}

static int io_round(da_ctx ctx, bool zarr, io_best *b, double *seconds) {
  const int64_t shape[2] = {IO_N, IO_N};
  char path[128];
  snprintf(path, sizeof path, "%s/x.%s", io_dir, zarr ? "zarr" : "h5");
  da_array x, y, s;
  if (b->want == 0) { /* the sum to expect; its time tells what generation alone costs */
    double tg = MPI_Wtime();
    TRY(da_random_uniform(ctx, 23, 0, 1, 2, shape, DA_CHUNKS(IO_CHUNK, IO_CHUNK), DA_FLOAT64, &x));
    TRY(da_sum(x, 0, NULL, 0, &s));
    TRY(da_compute(s, DA_ALL_RANKS, &b->want, sizeof b->want));
    b->gen = slowest_since(tg);
    da_array_destroy(&s);
    da_array_destroy(&x);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime(), v = 0;
  TRY(da_random_uniform(ctx, 23, 0, 1, 2, shape, DA_CHUNKS(IO_CHUNK, IO_CHUNK), DA_FLOAT64, &x));
  if (zarr)
    TRY(da_to_zarr(x, path, NULL)); /* blosc-lz4, level 5, byte shuffle */
  else
    TRY(da_to_hdf5(x, path, "/x", &(da_hdf5_options){.mode = DA_HDF5_TRUNCATE}));
  double tw = slowest_since(t0);
  da_array_destroy(&x);
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  if (zarr)
    TRY(da_from_zarr(ctx, path, NULL, &y));
  else
    TRY(da_from_hdf5(ctx, path, "/x", DA_CHUNKS(IO_CHUNK, IO_CHUNK), DA_FLOAT64, &y));
  TRY(da_sum(y, 0, NULL, 0, &s));
  TRY(da_compute(s, DA_ALL_RANKS, &v, sizeof v));
  double tr = slowest_since(t0);
  da_array_destroy(&s);
  da_array_destroy(&y);
  if (!(fabs(v - b->want) <= 1e-9 * fabs(b->want))) {
    if (da_ctx_rank(ctx) == 0)
      fprintf(stderr, "darray-bench: %s: read sum %.17g, written %.17g\n", zarr ? "zarr" : "hdf5",
              v, b->want);
    return 1;
  }
  double dw, ds, dr;
  if (io_dd(ctx, &dw, &ds, &dr))
    return 1;
  b->write = io_min(b->write, tw), b->read = io_min(b->read, tr);
  b->dd_write = io_min(b->dd_write, dw), b->dd_read = io_min(b->dd_read, dr);
  b->dd_sync = io_min(b->dd_sync, ds);
  *seconds = tw + tr;
  return 0;
}

static int bench_io(da_ctx ctx, bool zarr, double *seconds, result *r) {
  io_best *b = zarr ? &zarr_best : &hdf5_best;
  const double dask_w = zarr ? 4.2 : 8.1, dask_r = zarr ? 0.58 : 1.10;
  double free_bytes = 0;
  int st = io_dir_make(ctx, &free_bytes);
  if (st < 0) {
    fprintf(stderr, "darray-bench: cannot make a temporary directory under /tmp\n");
    return 1;
  }
  if (st > 0) { /* reported, not failed: the machine cannot run it */
    *seconds = 0;
    snprintf(r->extra, sizeof r->extra,
             ", \"skipped\": \"only %.2f GiB free under /tmp, %.0f GiB needed\"",
             free_bytes / (1 << 30), (double)(IO_MIN_FREE >> 30));
    return 0;
  }
  int rc = io_round(ctx, zarr, b, seconds);
  io_dir_remove(ctx);
  if (rc)
    return rc;
  snprintf(
      r->extra, sizeof r->extra,
      ", \"bytes\": %.0f, \"write_seconds\": %.3f, \"read_sum_seconds\": %.3f, "
      "\"dask_write_seconds\": %.2f, \"dask_read_sum_seconds\": %.2f, "
      "\"write_speedup_vs_dask\": %.2f, \"read_speedup_vs_dask\": %.2f, "
      "\"dd_write_seconds\": %.3f, \"dd_write_synced_seconds\": %.3f, "
      "\"dd_read_seconds\": %.3f, "
      "\"write_fraction_of_dd\": %.3f, \"read_fraction_of_dd\": %.3f, "
      "\"generate_sum_seconds\": %.3f, "
      "\"timed\": \"seconds: write + read_sum, each the best of the repeats; write: "
      "generate + %s (not synced, as Dask); read_sum: open + read + sum; generate_sum_seconds: "
      "generate + sum, no IO\", "
      "\"target_speedup_vs_dask\": {\"write\": 3, \"read\": 1.5}",
      IO_BYTES, b->write, b->read, dask_w, dask_r, dask_w / b->write, dask_r / b->read, b->dd_write,
      b->dd_sync, b->dd_read, b->dd_write / b->write, b->dd_read / b->read, b->gen,
      zarr ? "to_zarr (blosc-lz4)" : "to_hdf5");
  *seconds = b->write + b->read;
  return 0;
}

static int bench_hdf5(da_ctx ctx, double *seconds, result *r) {
  return bench_io(ctx, false, seconds, r);
}

static int bench_zarr(da_ctx ctx, double *seconds, result *r) {
  return bench_io(ctx, true, seconds, r);
}

typedef struct {
  const char *name;
  int (*run)(da_ctx ctx, double *seconds, result *r);
} workload;

static const workload workloads[] = {
    {"overhead", bench_overhead},   {"mean0", bench_mean0},       {"stream", bench_stream},
    {"fused", bench_fused},         {"rechunk", bench_rechunk},   {"mask", bench_mask},
    {"histogram", bench_histogram}, {"reshape", bench_reshape},   {"stencil", bench_stencil},
    {"matmul", bench_matmul},       {"dot_seed", bench_dot_seed}, {"hdf5", bench_hdf5},
    {"zarr", bench_zarr},           {"sort", bench_sort},         {"percentile", bench_percentile},
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
    char bw[160] = "";
    if (r.bytes > 0 && r.stream_seconds > 0)
      snprintf(bw, sizeof bw,
               ", \"read_GBps\": %.2f, \"stream_GBps\": %.2f, \"fraction_of_stream\": %.3f",
               r.bytes / r.seconds / 1e9, r.bytes / r.stream_seconds / 1e9,
               r.stream_seconds / r.seconds);
    printf("{\"workload\": \"%s\", \"ranks\": %d, \"seconds\": %.4f%s%s%s}\n", w->name,
           da_ctx_size(ctx), r.seconds, per_block, bw, r.extra);
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
  da_array_destroy(&fused_x);
  da_array_destroy(&rechunk_x);
  da_array_destroy(&matmul_x);
  da_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc ? 1 : 0;
}
