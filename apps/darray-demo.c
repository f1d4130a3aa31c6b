/* darray-demo: the main job until the topography analysis lands. A 20000 x 20000 random
 * normal array, its summary, and statistics of its mean over axis 0, as in the seeds. */
#include <darray.h>

#include <stdio.h>
#include <stdlib.h>

#define TRY(call)                                                                                  \
  do {                                                                                             \
    if ((rc = (call)) != DA_OK) {                                                                  \
      fprintf(stderr, "darray-demo: %s\n", da_ctx_errmsg(ctx));                                    \
      goto done;                                                                                   \
    }                                                                                              \
  } while (0)

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int64_t n = argc > 1 ? atoll(argv[1]) : 20000, chunk = argc > 2 ? atoll(argv[2]) : 2000;
  da_ctx ctx = NULL;
  da_array x = NULL, m = NULL, lo = NULL, hi = NULL, avg = NULL;
  int rc = da_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rc) {
    fprintf(stderr, "darray-demo: cannot create a context: %s\n", da_strerror(rc));
    MPI_Finalize();
    return 1;
  }
  int rank = da_ctx_rank(ctx);
  char text[1024];
  double t0 = MPI_Wtime();
  TRY(da_random_normal(ctx, 2026, 10, 0.1, 2, (int64_t[]){n, n}, DA_CHUNKS(chunk, chunk),
                       DA_FLOAT64, &x));
  if (rank == 0) {
    da_array_summary(x, text, sizeof text);
    printf("x = random.normal(10, 0.1, size=(%lld, %lld), chunks=(%lld, %lld))\n%s\n", (long long)n,
           (long long)n, (long long)chunk, (long long)chunk, text);
  }
  TRY(da_mean(x, 1, (int[]){0}, 0, &m));
  if (rank == 0) {
    da_array_summary(m, text, sizeof text);
    printf("m = x.mean(axis=0)\n%s\n", text);
  }
  TRY(da_persist(m));
  double t1 = MPI_Wtime();
  TRY(da_min(m, 0, NULL, 0, &lo));
  TRY(da_max(m, 0, NULL, 0, &hi));
  TRY(da_mean(m, 0, NULL, 0, &avg));
  double vlo, vhi, vavg;
  TRY(da_compute(lo, 0, &vlo, sizeof vlo));
  TRY(da_compute(hi, 0, &vhi, sizeof vhi));
  TRY(da_compute(avg, 0, &vavg, sizeof vavg));
  if (rank == 0) {
    printf("mean(axis=0) statistics over %lld columns:\n", (long long)n);
    printf("  min  %.6f\n  max  %.6f\n  mean %.6f\n", vlo, vhi, vavg);
    printf("computed on %d ranks in %.3f s (statistics %.3f s)\n", da_ctx_size(ctx),
           MPI_Wtime() - t0, MPI_Wtime() - t1);
  }
done:
  da_array_destroy(&avg);
  da_array_destroy(&hi);
  da_array_destroy(&lo);
  da_array_destroy(&m);
  da_array_destroy(&x);
  da_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc ? 1 : 0;
}
