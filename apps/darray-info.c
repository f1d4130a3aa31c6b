/* darray-info: what an HDF5 dataset, a Zarr array or a .npy/.npz file holds, from its metadata
 * (shape, dtype, storage chunks, bytes, compression), then darray's own summary of it opened
 * lazily, and optionally a picture of its chunk grid.
 *
 *   darray-info [--svg FILE] [--list] PATH [NAME]
 *
 * NAME is the HDF5 dataset or the .npz member (default: the first). Runs alone or under mpirun;
 * rank 0 prints. Exit status 1 on every rank when PATH is not an array darray can describe. */
#include "darray.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank;

static void usage(void) {
  if (rank == 0)
    fprintf(stderr, "usage: darray-info [--svg FILE] [--list] PATH [NAME]\n"
                    "  PATH   an HDF5 file, a Zarr v2 directory, a .npy or an .npz file\n"
                    "  NAME   the HDF5 dataset or .npz member (default: the first)\n"
                    "  --list list the datasets (HDF5) or members (.npz) and exit\n"
                    "  --svg  write a picture of darray's chunk grid to FILE\n");
}

static void human(int64_t v, char *out, size_t len) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = (double)v;
  int u = 0;
  while (x >= 1024 && u < 6)
    x /= 1024, u++;
  if (u == 0)
    snprintf(out, len, "%lld B", (long long)v);
  else
    snprintf(out, len, "%.1f %s (%lld bytes)", x, units[u], (long long)v);
}

static void tuple(int n, const int64_t *v, char *out, size_t len) {
  size_t at = (size_t)snprintf(out, len, "(");
  for (int i = 0; i < n && at < len; i++)
    at += (size_t)snprintf(out + at, len - at, i ? ", %lld" : "%lld", (long long)v[i]);
  if (at < len)
    snprintf(out + at, len - at, n == 1 ? ",)" : ")");
}

/* Every rank agrees: the worst of all ranks' codes. */
static int agree(int rc) {
  int all = rc;
  MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

static int fail(da_ctx ctx, const char *what) {
  if (rank == 0)
    fprintf(stderr, "darray-info: %s: %s\n", what, da_ctx_errmsg(ctx));
  return 1;
}

static void print_info(const char *path, const char *name, const da_file_info *in) {
  char s[512], c[512], b[64], sb[64];
  int64_t nchunks = 1;
  for (int d = 0; d < in->ndim; d++)
    nchunks *= in->chunks[d] ? (in->shape[d] + in->chunks[d] - 1) / in->chunks[d] : 1;
  tuple(in->ndim, in->shape, s, sizeof s);
  tuple(in->ndim, in->chunks, c, sizeof c);
  printf("path:         %s%s%s\n", path, name ? " : " : "", name ? name : "");
  printf("format:       %s\n", in->format);
  printf("shape:        %s\n", s);
  printf("dtype:        %s (stored as %s)\n",
         in->dtype < DA_NDTYPES ? da_dtype_name(in->dtype) : "none in darray", in->dtype_text);
  printf("chunks:       %s, %lld chunk%s\n", c, (long long)nchunks, nchunks == 1 ? "" : "s");
  if (in->nbytes >= 0) {
    human(in->nbytes, b, sizeof b);
    printf("bytes:        %s\n", b);
  } else {
    printf("bytes:        unknown\n");
  }
  if (in->stored_bytes >= 0) {
    human(in->stored_bytes, sb, sizeof sb);
    if (in->stored_bytes > 0 && in->nbytes >= 0)
      printf("stored bytes: %s, ratio %.2f\n", sb, (double)in->nbytes / (double)in->stored_bytes);
    else
      printf("stored bytes: %s\n", sb);
  } else {
    printf("stored bytes: unknown\n");
  }
  printf("compression:  %s\n", in->compression);
  printf("order:        %c\n", in->order);
  if (in->fill[0])
    printf("fill value:   %s\n", in->fill);
}

/* Opens the array with darray, lazily, in its own format. */
static int open_array(da_ctx ctx, const da_file_info *in, const char *path, const char *name,
                      da_array *a) {
  if (!strcmp(in->format, "hdf5"))
    return da_from_hdf5(ctx, path, name, NULL, DA_DTYPE_NATIVE, a);
  if (!strcmp(in->format, "zarr"))
    return da_from_zarr(ctx, path, NULL, a);
  if (!strcmp(in->format, "npy"))
    return da_from_npy(ctx, path, NULL, a);
  return da_from_npz(ctx, path, name, NULL, a);
}

/* The chunk lists of the storage chunks of in, for a picture when darray cannot open it. */
static int storage_svg(const da_file_info *in, const char *file) {
  int64_t *lists[DA_MAX_NDIM] = {0}, nb[DA_MAX_NDIM];
  int rc = 0;
  for (int d = 0; d < in->ndim && !rc; d++) {
    int64_t c = in->chunks[d] > 0 ? in->chunks[d] : 1, len = in->shape[d];
    nb[d] = len ? (len + c - 1) / c : 1;
    if (!(lists[d] = malloc(sizeof(int64_t) * (size_t)nb[d]))) {
      rc = DA_ERR_NOMEM;
      break;
    }
    for (int64_t j = 0; j < nb[d]; j++)
      lists[d][j] = len ? (j + 1 < nb[d] ? c : len - c * (nb[d] - 1)) : 0;
  }
  if (!rc)
    rc = da_chunks_svg(in->ndim, in->shape, (const int64_t *const *)lists, nb, file);
  for (int d = 0; d < in->ndim; d++)
    free(lists[d]);
  return rc;
}

static int run(da_ctx ctx, const char *path, const char *name, const char *svg, int list) {
  if (list) {
    size_t need = 0;
    int rc = agree(da_file_list(ctx, path, NULL, 0, &need));
    char *buf = rc ? NULL : malloc(need + 1);
    if (!rc && !buf)
      rc = DA_ERR_NOMEM;
    if (!rc)
      rc = da_file_list(ctx, path, buf, need + 1, NULL);
    if (agree(rc)) {
      free(buf);
      return fail(ctx, "cannot list it");
    }
    if (rank == 0)
      fputs(*buf ? buf : "(a single array)\n", stdout);
    free(buf);
    return 0;
  }
  da_file_info in;
  if (agree(da_file_inspect(ctx, path, name, &in)))
    return fail(ctx, "cannot inspect it");
  if (rank == 0)
    print_info(path, name, &in);
  /* HDF5 without a name: the first dataset, as da_file_inspect took. */
  char first[1024] = "";
  if (!name && !strcmp(in.format, "hdf5")) {
    if (da_file_list(ctx, path, first, sizeof first, NULL) == 0 && strchr(first, '\n'))
      *strchr(first, '\n') = '\0';
    name = first;
  }
  da_array a = NULL;
  int rc = open_array(ctx, &in, path, name, &a);
  if (rc) {
    if (rank == 0)
      printf("\ndarray cannot open it: %s\n", da_ctx_errmsg(ctx));
  } else if (rank == 0) {
    int need = da_array_summary(a, NULL, 0);
    char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
    if (text) {
      da_array_summary(a, text, (size_t)need + 1);
      printf("\ndarray:\n%s%s", text, need && text[need - 1] == '\n' ? "" : "\n");
    }
    free(text);
  }
  if (svg) {
    int src = 0;
    if (rank == 0) {
      if (a) {
        const int64_t *lists[DA_MAX_NDIM];
        for (int d = 0; d < da_array_ndim(a); d++)
          lists[d] = da_array_chunks(a, d);
        src = da_chunks_svg(da_array_ndim(a), da_array_shape(a), lists, da_array_numblocks(a), svg);
      } else {
        src = storage_svg(&in, svg);
      }
      if (src)
        fprintf(stderr, "darray-info: cannot write '%s': %s\n", svg, da_strerror(src));
      else
        printf("picture:      %s\n", svg);
    }
    if (agree(src)) {
      da_array_destroy(&a);
      return 1;
    }
  }
  da_array_destroy(&a);
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *svg = NULL, *path = NULL, *name = NULL;
  int list = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--svg") && i + 1 < argc)
      svg = argv[++i];
    else if (!strcmp(argv[i], "--list"))
      list = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      bad = 2;
    else if (argv[i][0] == '-' && argv[i][1])
      bad = 1;
    else if (!path)
      path = argv[i];
    else if (!name)
      name = argv[i];
    else
      bad = 1;
  }
  if (bad || !path) {
    usage();
    MPI_Finalize();
    return bad == 2 ? 0 : 1;
  }
  da_ctx ctx;
  int status = 1;
  if (da_ctx_create(MPI_COMM_WORLD, &ctx) == 0) {
    status = run(ctx, path, name, svg, list);
    da_ctx_destroy(&ctx);
  } else if (rank == 0) {
    fprintf(stderr, "darray-info: cannot create a darray context\n");
  }
  fflush(stdout);
  MPI_Finalize();
  return status;
}
