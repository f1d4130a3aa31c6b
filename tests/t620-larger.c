/* Larger than memory: an HDF5 dataset four times larger than the per-rank memory limit is
 * reduced (mean of the whole array, std along axis 0, then both in one graph) straight from
 * the lazy da_from_hdf5 array. Checks the results against a serial reference computed from the
 * formula that wrote the file, the peak darray counted, and the growth of the process's peak
 * resident memory. Then a transform of it is written to HDF5 and to Zarr under the same limit,
 * streamed, and read back. At 2 ranks a 64 MiB dataset (32 MiB per rank, a limit of 8 MiB); at
 * other counts a 16 MiB one with smaller blocks, the same ratio. */
#define _GNU_SOURCE /* mkdtemp, malloc_trim */
#include "test_util.h"

#include <inttypes.h>
#include <malloc.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static da_ctx ctx;
static char dir[64], path[96];

/* The value at (i, j): smooth along both axes plus a small periodic term, so that neither
 * the mean nor any column's std is trivial. */
static double formula(int64_t i, int64_t j) {
  return sin(0.01 * (double)i) + 0.5 * cos(0.003 * (double)j) + 0.1 * (double)((i + 3 * j) % 7);
}

static int fill_block(const da_block_info *info, void *user) {
  (void)user;
  double *o = info->out;
  int64_t n0 = info->out_shape[0], n1 = info->out_shape[1];
  for (int64_t i = 0; i < n0; i++)
    for (int64_t j = 0; j < n1; j++)
      o[i * n1 + j] = formula(info->block_offset[0] + i, info->block_offset[1] + j);
  return 0;
}

/* Peak resident bytes of this process (VmHWM), or -1 when /proc cannot tell. */
static int64_t peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int64_t kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %" SCNd64 " kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

/* Starts a new VmHWM from the current resident size (Linux >= 4.0); false when refused. */
static bool reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

int main(int argc, char **argv) {
  tu_init(&argc, &argv, "t620-larger");
  TU_OK(NULL, da_ctx_create(MPI_COMM_WORLD, &ctx));
  int size = da_ctx_size(ctx), rank = da_ctx_rank(ctx);
  /* The real check at 2 ranks; elsewhere a quarter of it, with blocks a quarter as big, so
   * that a rank still holds many blocks and a limit of several blocks. */
  bool big = size == 2;
  const int64_t n0 = big ? 2048 : 1024, n1 = big ? 4096 : 2048;
  const int64_t c0 = big ? 256 : 128, c1 = big ? 512 : 256;
  const int64_t shape[2] = {n0, n1}, nbytes = n0 * n1 * 8, block = c0 * c1 * 8;
  const int64_t limit = nbytes / size / 4;
  if (rank == 0) {
    snprintf(dir, sizeof dir, "/tmp/t620-XXXXXX");
    if (!mkdtemp(dir))
      MPI_Abort(MPI_COMM_WORLD, 4);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  snprintf(path, sizeof path, "%s/big.h5", dir);

  /* Write the dataset with no limit. */
  da_array z, w;
  TU_OK(ctx, da_zeros(ctx, 2, shape, DA_CHUNKS(c0, c1), DA_FLOAT64, &z));
  TU_OK(ctx, da_map_blocks(fill_block, NULL, 1, &z, DA_FLOAT64, NULL, &w));
  TU_OK(ctx, da_to_hdf5(w, path, "/data", NULL));
  da_array_destroy(&w);
  da_array_destroy(&z);

  /* The serial reference, in long double, from the formula. */
  double *colstd = malloc((size_t)n1 * sizeof *colstd), *got = malloc((size_t)n1 * sizeof *got),
         *got2 = malloc((size_t)n1 * sizeof *got2);
  long double total = 0;
  if (!colstd || !got || !got2)
    MPI_Abort(MPI_COMM_WORLD, 3);
  for (int64_t j = 0; j < n1; j++) {
    long double s = 0, ss = 0;
    for (int64_t i = 0; i < n0; i++)
      s += formula(i, j);
    long double m = s / (long double)n0;
    for (int64_t i = 0; i < n0; i++) {
      long double d = formula(i, j) - m;
      ss += d * d;
    }
    total += s;
    colstd[j] = (double)sqrtl(ss / (long double)n0);
  }
  double mean_ref = (double)(total / (long double)(n0 * n1));

  /* Freed write buffers go back to the system, so the RSS baseline is what stays in use. */
  malloc_trim(0);
  TU_OK(ctx, da_ctx_set_memory_limit(ctx, limit));
  CHECK(da_ctx_memory_limit(ctx) == limit);
  int64_t cur0 = 0, peak = 0;
  TU_OK(ctx, da_ctx_memory(ctx, &cur0, NULL));
  TU_OK(ctx, da_ctx_reset_memory_peak(ctx));
  bool rss_ok = reset_peak_rss();
  int64_t rss0 = peak_rss();

  da_array x, m, s;
  double mean = 0;
  TU_OK(ctx, da_from_hdf5(ctx, path, "/data", DA_CHUNKS(c0, c1), DA_FLOAT64, &x));
  TU_OK(ctx, da_mean(x, 0, NULL, 0, &m));
  TU_OK(ctx, da_compute(m, DA_ALL_RANKS, &mean, sizeof mean));
  TU_OK(ctx, da_std(x, 1, (int[]){0}, 0, 0, &s));
  TU_OK(ctx, da_compute(s, DA_ALL_RANKS, got, (size_t)n1 * sizeof *got));
  /* Both in one graph, mean + std: the read now has two consumers, so it cannot simply fuse
   * into one reduction; the scheduler must not hold all of it in a step of its own. */
  da_array both;
  TU_OK(ctx, da_add(DA_V(m), DA_V(s), &both));
  TU_OK(ctx, da_compute(both, DA_ALL_RANKS, got2, (size_t)n1 * sizeof *got2));
  TU_OK(ctx, da_ctx_memory(ctx, NULL, &peak));
  int64_t rss1 = peak_rss();
  da_array_destroy(&both);
  da_array_destroy(&s);
  da_array_destroy(&m);
  da_array_destroy(&x);

  CHECKF(fabs(mean - mean_ref) <= 1e-12 * fabs(mean_ref), "mean %.17g, want %.17g", mean, mean_ref);
  int bad = 0, bad2 = 0;
  for (int64_t j = 0; j < n1; j++) {
    bad += !(fabs(got[j] - colstd[j]) <= 1e-10 * colstd[j] + 1e-14);
    bad2 += !(fabs(got2[j] - (mean_ref + colstd[j])) <= 1e-10 * (fabs(mean_ref) + colstd[j]));
  }
  CHECKF(bad == 0, "%d of %lld column stds are off (first: %.17g, want %.17g)", bad, (long long)n1,
         got[0], colstd[0]);
  CHECKF(bad2 == 0, "%d of %lld entries of mean + std are off", bad2, (long long)n1);

  /* What darray counted: at most the limit, plus one block (a task runs even when the limit
   * leaves no room for it; here each read block goes into the fused reduction's scratch
   * buffer, one at a time) plus 1 MiB for the per-block partial records and the transfer
   * buffers that carry them. Under it, the data never all sat in memory: the dataset's share
   * per rank is four times the limit. */
  int64_t counted_cap = limit + block + ((int64_t)1 << 20);
  /* A transform with two consumers in one graph, sum(y) + max(y) for y = 2 x + 1: y would be
   * a step of its own, held whole; over the limit each consumer recomputes it instead. */
  da_array y2, y, ys, ym, yb;
  double ysm = 0;
  TU_OK(ctx, da_from_hdf5(ctx, path, "/data", DA_CHUNKS(c0, c1), DA_FLOAT64, &x));
  TU_OK(ctx, da_multiply(DA_V(x), DA_V(2.0), &y2));
  TU_OK(ctx, da_add(DA_V(y2), DA_V(1.0), &y));
  TU_OK(ctx, da_sum(y, 0, NULL, 0, &ys));
  TU_OK(ctx, da_max(y, 0, NULL, 0, &ym));
  TU_OK(ctx, da_add(DA_V(ys), DA_V(ym), &yb));
  TU_OK(ctx, da_compute(yb, DA_ALL_RANKS, &ysm, sizeof ysm));
  TU_OK(ctx, da_ctx_memory(ctx, NULL, &peak));
  rss1 = peak_rss();
  double ymax_ref = -INFINITY;
  for (int64_t i = 0; i < n0; i++)
    for (int64_t j = 0; j < n1; j++)
      ymax_ref = fmax(ymax_ref, 2 * formula(i, j) + 1);
  double ysm_ref = (double)(2 * total + (long double)(n0 * n1)) + ymax_ref;
  CHECKF(fabs(ysm - ysm_ref) <= 1e-12 * fabs(ysm_ref), "sum + max of 2 x + 1: %.17g, want %.17g",
         ysm, ysm_ref);
  da_array_destroy(&yb);
  da_array_destroy(&ym);
  da_array_destroy(&ys);
  da_array_destroy(&y);
  da_array_destroy(&y2);
  da_array_destroy(&x);

  CHECKF(peak - cur0 <= counted_cap, "darray held %lld bytes at peak, over %lld (limit %lld)",
         (long long)(peak - cur0), (long long)counted_cap, (long long)limit);
  /* Resident memory: the same bound plus 24 MiB for what darray does not count (HDF5's
   * chunk cache and metadata, MPI's buffers, allocator slack, the result vectors). */
  int64_t rss_cap = counted_cap + ((int64_t)24 << 20);
  if (rss_ok && rss0 > 0 && rss1 > 0)
    CHECKF(rss1 - rss0 <= rss_cap, "peak RSS grew by %lld bytes, over %lld (limit %lld)",
           (long long)(rss1 - rss0), (long long)rss_cap, (long long)limit);
  if (getenv("T620_VERBOSE"))
    printf("t620: rank %d: dataset %lld B, limit %lld B, darray peak %lld B, RSS growth %lld B"
           " (reset %s)\n",
           rank, (long long)nbytes, (long long)limit, (long long)(peak - cur0),
           (long long)(rss1 - rss0), rss_ok ? "ok" : "refused");

  /* The last resort: a rechunk reads blocks of the read, which must then be held as a step of
   * its own, four times the limit; past the limit they wait in the spill file. */
  {
    da_array r, rs;
    double rsum = 0;
    int64_t cur1 = 0, peak1 = 0;
    TU_OK(ctx, da_ctx_memory(ctx, &cur1, NULL));
    TU_OK(ctx, da_ctx_reset_memory_peak(ctx));
    TU_OK(ctx, da_from_hdf5(ctx, path, "/data", DA_CHUNKS(c0, c1), DA_FLOAT64, &x));
    TU_OK(ctx, da_rechunk(x, DA_CHUNKS(c0 * 3 / 2, c1 / 2 * 3), &r));
    TU_OK(ctx, da_sum(r, 0, NULL, 0, &rs));
    TU_OK(ctx, da_compute(rs, DA_ALL_RANKS, &rsum, sizeof rsum));
    TU_OK(ctx, da_ctx_memory(ctx, NULL, &peak1));
    CHECKF(fabs(rsum - (double)total) <= 1e-12 * fabs((double)total),
           "sum of the rechunked read %.17g, want %.17g", rsum, (double)total);
    /* The limit, the blocks one task reads (up to four of the read, and their boxes from
     * other ranks) and its partial records. */
    int64_t spill_cap = limit + 8 * block + ((int64_t)1 << 20);
    CHECKF(peak1 - cur1 <= spill_cap, "rechunk: darray held %lld bytes at peak, over %lld",
           (long long)(peak1 - cur1), (long long)spill_cap);
    if (getenv("T620_VERBOSE"))
      printf("t620: rank %d: rechunk with spilling, darray peak %lld B\n", rank,
             (long long)(peak1 - cur1));
    da_array_destroy(&rs);
    da_array_destroy(&r);
    /* A spill directory that does not exist: a clear error, the same on every rank. */
    setenv("DARRAY_SPILL_DIR", "/nonexistent-t620", 1);
    TU_OK(ctx, da_rechunk(x, DA_CHUNKS(c0 * 3 / 2, c1 / 2 * 3), &r));
    TU_OK(ctx, da_sum(r, 0, NULL, 0, &rs));
    int rc = da_compute(rs, DA_ALL_RANKS, &rsum, sizeof rsum), lo = rc, hi = rc;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    /* Every rank fails alike where some rank had to spill (a small share may fit). */
    CHECKF(lo == hi, "spill failure: ranks returned %d .. %d", lo, hi);
    if (size <= 2)
      CHECKF(rc == DA_ERR_IO, "spill failure returned %d (%s)", rc, da_ctx_errmsg(ctx));
    if (size == 1)
      CHECKF(strstr(da_ctx_errmsg(ctx), "spill") != NULL, "message: %s", da_ctx_errmsg(ctx));
    unsetenv("DARRAY_SPILL_DIR");
    da_array_destroy(&rs);
    da_array_destroy(&r);
    da_array_destroy(&x);
  }

  /* Writers stream under the same limit: 2 x + 1, computed from the read, goes to a new
   * HDF5 file and to a Zarr array block by block, never held whole. */
  char path2[128], zpath[128];
  snprintf(path2, sizeof path2, "%s/twice.h5", dir);
  snprintf(zpath, sizeof zpath, "%s/twice.zarr", dir);
  da_array t2, t;
  TU_OK(ctx, da_from_hdf5(ctx, path, "/data", DA_CHUNKS(c0, c1), DA_FLOAT64, &x));
  TU_OK(ctx, da_multiply(DA_V(x), DA_V(2.0), &t2));
  TU_OK(ctx, da_add(DA_V(t2), DA_V(1.0), &t));
  TU_OK(ctx, da_ctx_memory(ctx, &cur0, NULL));
  TU_OK(ctx, da_ctx_reset_memory_peak(ctx));
  rss_ok = reset_peak_rss();
  rss0 = peak_rss();
  TU_OK(ctx, da_to_hdf5(t, path2, "/twice", NULL));
  TU_OK(ctx, da_to_zarr(t, zpath, NULL));
  TU_OK(ctx, da_ctx_memory(ctx, NULL, &peak));
  rss1 = peak_rss();
  CHECKF(peak - cur0 <= counted_cap, "writing: darray held %lld bytes at peak, over %lld",
         (long long)(peak - cur0), (long long)counted_cap);
  /* AddressSanitizer keeps freed memory aside (its quarantine), and the IO libraries free
   * some per write: resident memory tells nothing there. */
  if (rss_ok && rss0 > 0 && rss1 > 0 && !SANITIZED)
    CHECKF(rss1 - rss0 <= rss_cap, "writing: peak RSS grew by %lld bytes, over %lld",
           (long long)(rss1 - rss0), (long long)rss_cap);
  if (getenv("T620_VERBOSE"))
    printf("t620: rank %d: writing, darray peak %lld B, RSS growth %lld B\n", rank,
           (long long)(peak - cur0), (long long)(rss1 - rss0));
  /* What was written equals 2 x + 1 everywhere: the largest difference, still under the
   * limit, is exactly zero. */
  for (int f = 0; f < 2; f++) {
    da_array r, d, a, mx;
    double worst = -1;
    if (f == 0)
      TU_OK(ctx, da_from_hdf5(ctx, path2, "/twice", DA_CHUNKS(c0, c1), DA_FLOAT64, &r));
    else
      TU_OK(ctx, da_from_zarr(ctx, zpath, NULL, &r));
    TU_OK(ctx, da_subtract(DA_V(r), DA_V(t), &d));
    TU_OK(ctx, da_absolute(d, &a));
    TU_OK(ctx, da_max(a, 0, NULL, 0, &mx));
    TU_OK(ctx, da_compute(mx, DA_ALL_RANKS, &worst, sizeof worst));
    CHECKF(worst == 0, "%s holds 2 x + 1 up to %g", f ? "the Zarr array" : "the HDF5 copy", worst);
    da_array_destroy(&mx);
    da_array_destroy(&a);
    da_array_destroy(&d);
    da_array_destroy(&r);
  }
  da_array_destroy(&t);
  da_array_destroy(&t2);
  da_array_destroy(&x);

  free(colstd);
  free(got);
  free(got2);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    unlink(path);
    unlink(path2);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", zpath);
    if (system(cmd) != 0)
      fprintf(stderr, "t620: cannot remove %s\n", zpath);
    rmdir(dir);
  }
  da_ctx_destroy(&ctx);
  return tu_finish();
}
