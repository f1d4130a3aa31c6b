/* Minimal downstream consumer of an installed darray (see tests/install/run.sh). */
#include <darray.h>

#include <stdint.h>
#include <stdio.h>

#define CHECK(call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != 0) {                                                                                \
      fprintf(stderr, "consumer: %s failed with %d\n", #call, rc_);                                \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                                \
    }                                                                                              \
  } while (0)

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  da_ctx ctx = NULL;
  da_array x = NULL;
  da_array s = NULL;
  double v = 0.0;

  CHECK(da_ctx_create(MPI_COMM_WORLD, &ctx));
  CHECK(da_ones(ctx, 1, (int64_t[]){1000}, DA_CHUNKS(100), DA_FLOAT64, &x));
  CHECK(da_sum(x, 0, NULL, 0, &s));
  CHECK(da_compute(s, DA_ALL_RANKS, &v, sizeof v));

  if (v != 1000.0) {
    fprintf(stderr, "consumer: rank %d expected 1000, got %.17g\n", rank, v);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (rank == 0) {
    printf("consumer ok (darray %s)\n", DARRAY_VERSION_STRING);
  }

  CHECK(da_array_destroy(&x));
  CHECK(da_array_destroy(&s));
  CHECK(da_ctx_destroy(&ctx));
  MPI_Finalize();
  return 0;
}
