/* Parallel HDF5: lazy reads of datasets block by block with hyperslabs, parallel writes over
 * MPI-IO into a file staged aside and renamed over the target, scalar attributes, stacks. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod, fsync */
#include "core/internal.h"
#include "diag/diag.h"

#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- errors */

/* HDF5 prints its error stack by default; darray reports errors itself, so each entry point
 * silences it and puts the user's handler back on the way out. */
typedef struct {
  H5E_auto2_t fn;
  void *data;
} h5_quiet;

static h5_quiet quiet_begin(void) {
  h5_quiet q = {0};
  H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}

static void quiet_end(h5_quiet q) {
  H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
}

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *ud) {
  if (n == 0 && e->desc)
    snprintf(ud, 256, "%s", e->desc);
  return 0;
}

/* DA_ERR_IO with HDF5's innermost (most specific) message appended. */
__attribute__((format(printf, 2, 3))) static int h5_err(da_ctx ctx, const char *fmt, ...) {
  char what[256], detail[256] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, detail);
  H5Eclear2(H5E_DEFAULT);
  return DA_ERR(ctx, DA_ERR_IO, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

/* ---------------------------------------------------------------- types */

/* The HDF5 memory type of dt (a new handle): native numbers, bool as h5py's enum. */
static hid_t type_new(da_dtype dt) {
  switch (dt) {
  case DA_BOOL: {
    hid_t t = H5Tenum_create(H5T_NATIVE_SCHAR);
    signed char no = 0, yes = 1;
    if (t >= 0 && (H5Tenum_insert(t, "FALSE", &no) < 0 || H5Tenum_insert(t, "TRUE", &yes) < 0)) {
      H5Tclose(t);
      return H5I_INVALID_HID;
    }
    return t;
  }
  case DA_INT8:
    return H5Tcopy(H5T_NATIVE_INT8);
  case DA_INT16:
    return H5Tcopy(H5T_NATIVE_INT16);
  case DA_INT32:
    return H5Tcopy(H5T_NATIVE_INT32);
  case DA_INT64:
    return H5Tcopy(H5T_NATIVE_INT64);
  case DA_UINT8:
    return H5Tcopy(H5T_NATIVE_UINT8);
  case DA_UINT16:
    return H5Tcopy(H5T_NATIVE_UINT16);
  case DA_UINT32:
    return H5Tcopy(H5T_NATIVE_UINT32);
  case DA_UINT64:
    return H5Tcopy(H5T_NATIVE_UINT64);
  case DA_FLOAT32:
    return H5Tcopy(H5T_NATIVE_FLOAT);
  case DA_FLOAT64:
    return H5Tcopy(H5T_NATIVE_DOUBLE);
  default:
    return H5I_INVALID_HID;
  }
}

/* The darray dtype of an HDF5 file type, or DA_ERR_DTYPE. */
static int dtype_of(da_ctx ctx, hid_t ft, const char *what, da_dtype *dt) {
  H5T_class_t cls = H5Tget_class(ft);
  size_t size = H5Tget_size(ft);
  if (cls == H5T_INTEGER) {
    bool sign = H5Tget_sign(ft) == H5T_SGN_2;
    static const da_dtype s[] = {DA_INT8, DA_INT16, 0, DA_INT32, 0, 0, 0, DA_INT64};
    static const da_dtype u[] = {DA_UINT8, DA_UINT16, 0, DA_UINT32, 0, 0, 0, DA_UINT64};
    if (size == 1 || size == 2 || size == 4 || size == 8) {
      *dt = sign ? s[size - 1] : u[size - 1];
      return DA_OK;
    }
  } else if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
    *dt = size == 4 ? DA_FLOAT32 : DA_FLOAT64;
    return DA_OK;
  } else if (cls == H5T_ENUM && size == 1 && H5Tget_nmembers(ft) == 2) {
    /* h5py's bool: FALSE = 0, TRUE = 1; conversion to our enum goes by names. */
    signed char v[2] = {-1, -1};
    char *n0 = H5Tget_member_name(ft, 0), *n1 = H5Tget_member_name(ft, 1);
    bool ok = n0 && n1 && H5Tget_member_value(ft, 0, &v[0]) >= 0 &&
              H5Tget_member_value(ft, 1, &v[1]) >= 0 && !strcmp(n0, "FALSE") &&
              !strcmp(n1, "TRUE") && v[0] == 0 && v[1] == 1;
    H5free_memory(n0);
    H5free_memory(n1);
    if (ok) {
      *dt = DA_BOOL;
      return DA_OK;
    }
  }
  static const char *names[] = {"integer",  "float",           "time",     "string",
                                "bitfield", "opaque",          "compound", "reference",
                                "enum",     "variable-length", "array"};
  const char *cname = cls >= 0 && cls < 11 ? names[cls] : "unknown";
  return DA_ERR(ctx, DA_ERR_DTYPE, "%s has an HDF5 type darray cannot hold (%s of %zu bytes)", what,
                cname, size);
}

/* ---------------------------------------------------------------- opening */

/* A file access list for independent reads: the sec2 driver, file locking where the file
 * system has it. */
static hid_t read_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0)
    H5Pset_file_locking(fapl, true, true);
  return fapl;
}

static int open_read(da_ctx ctx, const char *path, hid_t *file) {
  *file = H5I_INVALID_HID;
  if (access(path, R_OK) != 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
  if (H5Fis_hdf5(path) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return DA_ERR(ctx, DA_ERR_IO, "'%s' is not an HDF5 file", path);
  }
  hid_t fapl = read_fapl();
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (*file < 0)
    return h5_err(ctx, "cannot open '%s'", path);
  return DA_OK;
}

/* Checks that every group on the way to object exists, for a message naming the missing
 * one (H5Lexists fails, rather than answering, below a missing group). */
static int check_path(da_ctx ctx, hid_t file, const char *fname, const char *object) {
  size_t n = strlen(object);
  char *p = da_malloc(ctx, n + 1);
  if (!p)
    return DA_ERR_NOMEM;
  int rc = DA_OK;
  for (size_t i = 1; i <= n && !rc; i++) {
    if (i < n && object[i] != '/')
      continue;
    memcpy(p, object, i);
    p[i] = '\0';
    if (!strcmp(p, "/"))
      continue;
    if (H5Lexists(file, p, H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has no %s '%s'", fname, i < n ? "group" : "object", p);
    }
  }
  free(p);
  return rc;
}

/* ---------------------------------------------------------------- reading */

typedef struct {
  hid_t file, dset, mtype;
} read_params;

static void read_free(void *params) {
  read_params *p = params;
  h5_quiet q = quiet_begin();
  if (p->mtype >= 0)
    H5Tclose(p->mtype);
  if (p->dset >= 0)
    H5Dclose(p->dset);
  if (p->file >= 0)
    H5Fclose(p->file);
  quiet_end(q);
  free(p);
}

/* Block b: one hyperslab read, independent, into the block's C-order buffer. */
static int read_run(const da_array a, int64_t b, da_input *ins, int nins, void *out) {
  (void)ins, (void)nins;
  const read_params *p = a->params;
  if (da_block_size_of(a, b) == 0)
    return DA_OK;
  int64_t shape[DA_MAX_NDIM], off[DA_MAX_NDIM];
  da_block_shape_of(a, b, shape);
  da_block_offset_of(a, b, off);
  hsize_t st[DA_MAX_NDIM], cn[DA_MAX_NDIM];
  for (int d = 0; d < a->ndim; d++)
    st[d] = (hsize_t)off[d], cn[d] = (hsize_t)shape[d];
  h5_quiet q = quiet_begin();
  int rc = DA_OK;
  double t0 = da_trace_now(a->ctx); /* the trace's IO time */
  hid_t fs = H5Dget_space(p->dset);
  hid_t ms = a->ndim ? H5Screate_simple(a->ndim, cn, NULL) : H5Screate(H5S_SCALAR);
  if (fs < 0 || ms < 0 ||
      (a->ndim && H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cn, NULL) < 0) ||
      H5Dread(p->dset, p->mtype, ms, fs, H5P_DEFAULT, out) < 0) {
    char buf[160];
    rc = h5_err(a->ctx, "cannot read block %s of an HDF5 dataset",
                da_shape_str(a->ndim, off, buf, sizeof buf));
  }
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  da_trace_io(a->ctx, "hdf5 read", b, da_block_size_of(a, b) * (int64_t)a->elsize, t0);
  quiet_end(q);
  return rc;
}

static const da_layer_ops read_ops = {
    .name = "from-hdf5", .aligned = true, .run = read_run, .free_params = read_free};

#define DA_HDF5_MAX_GROWN ((int64_t)64 << 20)
#define DA_HDF5_SMALL_CHUNK ((int64_t)1 << 20)

/* Default blocks: the dataset's chunks, doubled along the last axes first while a chunk of
 * less than 1 MiB stays within the target, so each block reads whole HDF5 chunks. */
static void grow_chunks(int nd, const int64_t shape[], int64_t c[], size_t es, int64_t target) {
  int64_t bytes = (int64_t)es;
  for (int d = 0; d < nd; d++)
    bytes *= c[d];
  if (bytes >= DA_HDF5_SMALL_CHUNK)
    return;
  for (bool grew = true; grew;) {
    grew = false;
    for (int d = nd - 1; d >= 0; d--) {
      if (c[d] >= shape[d] || bytes * 2 > target)
        continue;
      int64_t n = c[d] * 2 < shape[d] ? c[d] * 2 : shape[d];
      bytes = bytes / c[d] * n;
      c[d] = n;
      grew = true;
    }
  }
}

/* Opens the dataset on this rank and makes the node (shared by every rank's call). */
static int from_hdf5_local(da_ctx ctx, const char *path, const char *dataset, read_params *p,
                           int *nd, int64_t shape[], da_dtype *dt, int64_t dchunk[],
                           bool *chunked) {
  DA_TRY(open_read(ctx, path, &p->file));
  DA_TRY(check_path(ctx, p->file, path, dataset));
  H5O_info_t info;
  if (H5Oget_info_by_name(p->file, dataset, &info, H5P_DEFAULT) < 0)
    return h5_err(ctx, "cannot inspect '%s' in '%s'", dataset, path);
  if (info.type != H5O_TYPE_DATASET)
    return DA_ERR(ctx, DA_ERR_IO, "'%s' in '%s' is not a dataset", dataset, path);
  if ((p->dset = H5Dopen2(p->file, dataset, H5P_DEFAULT)) < 0)
    return h5_err(ctx, "cannot open dataset '%s' in '%s'", dataset, path);
  hid_t ft = H5Dget_type(p->dset);
  if (ft < 0)
    return h5_err(ctx, "cannot read the type of '%s'", dataset);
  char what[300];
  snprintf(what, sizeof what, "dataset '%s' of '%s'", dataset, path);
  int rc = dtype_of(ctx, ft, what, dt);
  H5Tclose(ft);
  DA_TRY(rc);
  if ((p->mtype = type_new(*dt)) < 0)
    return h5_err(ctx, "cannot make an HDF5 type");
  hid_t sp = H5Dget_space(p->dset);
  int n = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t dims[H5S_MAX_RANK];
  if (n < 0 || H5Sget_simple_extent_type(sp) == H5S_NULL ||
      H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
    if (sp >= 0)
      H5Sclose(sp);
    return DA_ERR(ctx, DA_ERR_SHAPE, "%s has no usable dataspace", what);
  }
  H5Sclose(sp);
  if (n > DA_MAX_NDIM)
    return DA_ERR(ctx, DA_ERR_SHAPE, "%s has %d dimensions, more than darray's %d", what, n,
                  DA_MAX_NDIM);
  *nd = n;
  for (int d = 0; d < n; d++)
    shape[d] = (int64_t)dims[d];
  hid_t dcpl = H5Dget_create_plist(p->dset);
  *chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED;
  if (*chunked) {
    hsize_t cd[H5S_MAX_RANK];
    if (H5Pget_chunk(dcpl, n, cd) < 0)
      *chunked = false;
    for (int d = 0; d < n && *chunked; d++)
      dchunk[d] = (int64_t)cd[d] < 1 ? 1 : (int64_t)cd[d];
  }
  if (dcpl >= 0)
    H5Pclose(dcpl);
  return DA_OK;
}

/* The lazy read of one file, in its own dtype. */
static int from_hdf5_native(da_ctx ctx, const char *path, const char *dataset,
                            const da_chunks *chunks, da_array *out) {
  read_params *p = malloc(sizeof *p);
  if (!p)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate layer parameters"));
  *p = (read_params){H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  int nd = 0;
  int64_t shape[DA_MAX_NDIM] = {0}, dchunk[DA_MAX_NDIM] = {0};
  da_dtype dt = DA_FLOAT64;
  bool chunked = false;
  h5_quiet q = quiet_begin();
  int rc = from_hdf5_local(ctx, path, dataset, p, &nd, shape, &dt, dchunk, &chunked);
  quiet_end(q);
  if ((rc = da_agree(ctx, rc))) {
    read_free(p);
    return rc;
  }
  int64_t target = ctx->chunk_bytes < DA_HDF5_MAX_GROWN ? ctx->chunk_bytes : DA_HDF5_MAX_GROWN;
  da_chunks req = {.auto_bytes = target};
  if (chunks) {
    req = *chunks;
  } else {
    for (int d = 0; d < nd; d++)
      req.size[d] = DA_CHUNK_AUTO;
    if (chunked) {
      grow_chunks(nd, shape, dchunk, da_dtype_size(dt), target);
      for (int d = 0; d < nd; d++)
        req.size[d] = shape[d] == 0 ? DA_CHUNK_WHOLE : dchunk[d];
    }
  }
  int64_t *ck[DA_MAX_NDIM], nck[DA_MAX_NDIM];
  if ((rc = da_chunks_resolve(ctx, nd, shape, &req, da_dtype_size(dt), ck, nck))) {
    read_free(p);
    return da_agree(ctx, rc);
  }
  rc = da_node_new(ctx, nd, shape, (const int64_t *const *)ck, nck, dt, da_dtype_size(dt), NULL,
                   &read_ops, p, 0, NULL, out);
  for (int d = 0; d < nd; d++)
    free(ck[d]);
  return rc;
}

int da_from_hdf5(da_ctx ctx, const char *path, const char *dataset, const da_chunks *chunks,
                 da_dtype dtype, da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (!path || !dataset || !*dataset)
    return DA_ERR(ctx, DA_ERR_ARG, "path and dataset must be given");
  if (dtype != DA_DTYPE_NATIVE && !da_dtype_valid(dtype))
    return DA_ERR(ctx, DA_ERR_DTYPE, "unknown dtype %d", (int)dtype);
  da_array a;
  DA_TRY(from_hdf5_native(ctx, path, dataset, chunks, &a));
  if (dtype == DA_DTYPE_NATIVE || dtype == a->dtype) {
    *out = a;
    return DA_OK;
  }
  int rc = da_astype(a, dtype, out);
  da_array_destroy(&a);
  return rc;
}

int da_from_hdf5_stack(da_ctx ctx, int nfiles, const char *const paths[], const char *dataset,
                       const da_chunks *chunks, da_dtype dtype, da_hdf5_join join, int axis,
                       da_array *out) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!out)
    return DA_ERR(ctx, DA_ERR_ARG, "out is NULL");
  *out = NULL;
  if (nfiles < 1 || !paths)
    return DA_ERR(ctx, DA_ERR_ARG, "a stack needs at least one file");
  if (join != DA_HDF5_STACK && join != DA_HDF5_CONCATENATE)
    return DA_ERR(ctx, DA_ERR_ARG, "unknown join %d", (int)join);
  da_array *parts = calloc((size_t)nfiles, sizeof *parts);
  if (!parts)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate %d arrays", nfiles);
  int rc = DA_OK;
  for (int i = 0; i < nfiles && !rc; i++)
    rc = da_from_hdf5(ctx, paths[i], dataset, chunks, dtype, &parts[i]);
  if (!rc)
    rc = join == DA_HDF5_STACK ? da_stack(nfiles, parts, axis, out)
                               : da_concatenate(nfiles, parts, axis, out);
  for (int i = 0; i < nfiles; i++)
    da_array_destroy(&parts[i]);
  free(parts);
  return rc;
}

/* ---------------------------------------------------------------- staging */

/* Copies path into the open file fd. */
static int copy_into(da_ctx ctx, const char *path, int fd, const char *tmp) {
  int in = open(path, O_RDONLY);
  if (in < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
  char *buf = da_malloc(ctx, 1 << 20);
  int rc = buf ? DA_OK : DA_ERR_NOMEM;
  while (!rc) {
    ssize_t n = read(in, buf, 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    if (n <= 0)
      break;
    for (ssize_t at = 0; at < n && !rc;) {
      ssize_t w = write(fd, buf + at, (size_t)(n - at));
      if (w < 0 && errno != EINTR)
        rc = DA_ERR(ctx, DA_ERR_IO, "cannot copy '%s' to '%s': %s", path, tmp, strerror(errno));
      at += w > 0 ? w : 0;
    }
  }
  free(buf);
  close(in);
  return rc;
}

/* Rank 0's half of staging: an HDF5 file next to path (a copy of path when copy is set, a
 * new empty one otherwise) with path's mode, or the umask's default for a new file, and
 * `reserve` more bytes allocated: a full disk or a file size limit then fails here, before
 * HDF5 has the file open (a failed flush at H5Fclose leaves HDF5 unable to let it go). */
static int stage_local(da_ctx ctx, const char *path, bool copy, int64_t reserve, char *tmp,
                       size_t len) {
  if ((size_t)snprintf(tmp, len, "%s.da-tmp-XXXXXX", path) >= len)
    return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    tmp[0] = '\0';
    return DA_ERR(ctx, DA_ERR_IO, "cannot create a file next to '%s': %s", path, strerror(e));
  }
  struct stat st;
  mode_t mode;
  if (copy && stat(path, &st) == 0) {
    mode = st.st_mode & 07777;
  } else {
    mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  int rc = DA_OK;
  if (fchmod(fd, mode) != 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot set the mode of '%s': %s", tmp, strerror(errno));
  if (!rc && copy)
    rc = copy_into(ctx, path, fd, tmp);
  if (close(fd) != 0 && !rc)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  if (!rc && !copy) {
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 || H5Fclose(f) < 0)
      rc = h5_err(ctx, "cannot create '%s'", tmp);
  }
  if (!rc && reserve > 0 && (fd = open(tmp, O_WRONLY)) >= 0) {
    int e = fstat(fd, &st) ? errno : posix_fallocate(fd, st.st_size, (off_t)reserve);
    if (e)
      rc = DA_ERR(ctx, DA_ERR_IO, "no room for %lld more bytes in '%s': %s", (long long)reserve,
                  tmp, strerror(e));
    close(fd);
  }
  return rc;
}

/* Collective. Stages path into a temporary file whose name every rank receives in tmp. */
static int stage_begin(da_ctx ctx, const char *path, bool copy, int64_t reserve, char *tmp,
                       size_t len) {
  int rc = DA_OK;
  if (ctx->rank == 0) {
    h5_quiet q = quiet_begin();
    rc = stage_local(ctx, path, copy, reserve, tmp, len);
    quiet_end(q);
  }
  if (rc && ctx->rank == 0 && tmp[0])
    unlink(tmp);
  DA_TRY(da_agree(ctx, rc));
  if (MPI_Bcast(tmp, (int)len, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_MPI, "MPI_Bcast failed"));
  return DA_OK;
}

/* Collective. Renames tmp over path when every rank succeeded (rc agreed), after syncing
 * it when asked; removes it otherwise. The rename alone is atomic against a killed job. */
static int stage_end(da_ctx ctx, const char *tmp, const char *path, bool sync, int rc) {
  rc = da_agree(ctx, rc);
  if (ctx->rank == 0) {
    if (!rc && sync) {
      int fd = open(tmp, O_RDONLY);
      if (fd < 0 || fsync(fd) != 0)
        rc = DA_ERR(ctx, DA_ERR_IO, "cannot sync '%s': %s", tmp, strerror(errno));
      if (fd >= 0)
        close(fd);
    }
    if (!rc && rename(tmp, path) != 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc)
      unlink(tmp);
  }
  return da_agree(ctx, rc);
}

/* ---------------------------------------------------------------- writing */

/* The dataset creation list: chunks of the array's largest blocks (or the caller's), within
 * HDF5's 4 GiB chunk limit, and deflate; contiguous for 0-d and empty arrays. */
static int dataset_plist(da_array x, const da_hdf5_options *o, hid_t *dcpl) {
  da_ctx ctx = x->ctx;
  *dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (*dcpl < 0)
    return h5_err(ctx, "cannot make a dataset property list");
  if (x->ndim == 0 || x->size == 0)
    return DA_OK;
  hsize_t c[DA_MAX_NDIM];
  uint64_t bytes = x->elsize;
  for (int d = 0; d < x->ndim; d++) {
    int64_t v = o->chunks ? o->chunks[d] : x->chunksize[d];
    if (o->chunks && v < 1)
      return DA_ERR(ctx, DA_ERR_CHUNKS, "dataset chunk %lld on axis %d is not positive",
                    (long long)v, d);
    c[d] = (hsize_t)(v < 1 ? 1 : v > x->shape[d] ? x->shape[d] : v);
    bytes *= c[d];
  }
  while (bytes >= ((uint64_t)1 << 32)) {
    int big = 0;
    for (int d = 1; d < x->ndim; d++)
      big = c[d] > c[big] ? d : big;
    bytes = bytes / c[big] * ((c[big] + 1) / 2);
    c[big] = (c[big] + 1) / 2;
  }
  if (H5Pset_chunk(*dcpl, x->ndim, c) < 0)
    return h5_err(ctx, "cannot set dataset chunks");
  if (o->deflate && H5Pset_deflate(*dcpl, (unsigned)o->deflate) < 0)
    return h5_err(ctx, "cannot set deflate");
  return DA_OK;
}

/* One H5Dwrite of block b of x (b < 0 or an empty block: nothing, for a collective call). */
static int write_block(da_array x, hid_t dset, hid_t mtype, hid_t dxpl, int64_t b,
                       const void *data) {
  bool empty = b < 0 || da_block_size_of(x, b) == 0;
  hsize_t st[DA_MAX_NDIM] = {0}, cn[DA_MAX_NDIM], one[DA_MAX_NDIM];
  for (int d = 0; d < DA_MAX_NDIM; d++)
    one[d] = 1;
  if (!empty) {
    int64_t shape[DA_MAX_NDIM], off[DA_MAX_NDIM];
    da_block_shape_of(x, b, shape);
    da_block_offset_of(x, b, off);
    for (int d = 0; d < x->ndim; d++)
      st[d] = (hsize_t)off[d], cn[d] = (hsize_t)shape[d];
  }
  double t0 = da_trace_now(x->ctx); /* the trace's IO time */
  hid_t fs = H5Dget_space(dset);
  hid_t ms =
      x->ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(x->ndim, empty ? one : cn, NULL);
  bool ok = fs >= 0 && ms >= 0;
  if (ok && empty)
    ok = H5Sselect_none(fs) >= 0 && H5Sselect_none(ms) >= 0;
  else if (ok && x->ndim)
    ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cn, NULL) >= 0;
  /* A rank that failed still joins a collective call, with nothing selected. */
  if (!ok && fs >= 0 && ms >= 0)
    H5Sselect_none(fs), H5Sselect_none(ms);
  int rc = DA_OK;
  if (H5Dwrite(dset, mtype, ms, fs, dxpl, empty ? NULL : data) < 0 || !ok)
    rc = h5_err(x->ctx, "cannot write block %lld of the dataset", (long long)b);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  da_trace_io(x->ctx, "hdf5 write", b, empty ? 0 : da_block_size_of(x, b) * (int64_t)x->elsize, t0);
  return rc;
}

typedef struct {
  hid_t dset, mtype, dxpl;
} block_writer;

static int write_sink(void *user, const da_array x, int64_t b, const void *data) {
  const block_writer *w = user;
  return da_block_size_of(x, b) ? write_block(x, w->dset, w->mtype, w->dxpl, b, data) : DA_OK;
}

/* Each rank writes its blocks. Without filters each write is independent, so blocks are
 * written as they are computed (x, when lazy, is never held whole). With filters every call
 * is collective: x is computed first and all ranks make the same number of calls, with
 * empty selections past their own blocks. */
static int write_blocks(da_array x, hid_t dset, hid_t mtype, bool collective) {
  da_ctx ctx = x->ctx;
  long long mine = x->nlocal, calls = mine;
  if (collective &&
      MPI_Allreduce(&mine, &calls, 1, MPI_LONG_LONG, MPI_MAX, ctx->comm) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce failed");
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (dxpl < 0 ||
      H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT) < 0) {
    if (dxpl >= 0)
      H5Pclose(dxpl);
    return h5_err(ctx, "cannot make a transfer property list");
  }
  int rc = DA_OK;
  if (!collective) {
    block_writer w = {dset, mtype, dxpl};
    rc = da_schedule_sink(x, write_sink, &w);
  }
  for (long long k = 0; collective && k < calls; k++) {
    int64_t b = k < mine ? da_block_global_index(x, k) : -1;
    int brc = write_block(x, dset, mtype, dxpl, b, b < 0 ? NULL : x->lblocks[k]);
    rc = rc ? rc : brc;
  }
  H5Pclose(dxpl);
  return rc;
}

/* Replaces or creates the dataset in the open (staged) file. */
static int write_dataset(da_array x, hid_t file, const char *dataset, const da_hdf5_options *o) {
  da_ctx ctx = x->ctx;
  int rc = DA_OK;
  hid_t dcpl = H5I_INVALID_HID, space = H5I_INVALID_HID, mtype = H5I_INVALID_HID,
        lcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  /* The same answer on every rank: they all see the same file. */
  bool exists = check_path(ctx, file, "", dataset) == DA_OK;
  ctx->errmsg[0] = '\0';
  if (exists && H5Ldelete(file, dataset, H5P_DEFAULT) < 0)
    rc = h5_err(ctx, "cannot replace dataset '%s'", dataset);
  if (!rc)
    rc = dataset_plist(x, o, &dcpl);
  if (!rc) {
    hsize_t dims[DA_MAX_NDIM];
    for (int d = 0; d < x->ndim; d++)
      dims[d] = (hsize_t)x->shape[d];
    space = x->ndim ? H5Screate_simple(x->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    mtype = type_new(x->dtype);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (space < 0 || mtype < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
      rc = h5_err(ctx, "cannot describe the dataset");
  }
  /* Little-endian file types as h5py writes them (the native ones on this machine). */
  if (!rc && (dset = H5Dcreate2(file, dataset, mtype, space, lcpl, dcpl, H5P_DEFAULT)) < 0)
    rc = h5_err(ctx, "cannot create dataset '%s'", dataset);
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = write_blocks(x, dset, mtype, o->deflate > 0);
  if (dset >= 0 && H5Dclose(dset) < 0 && !rc)
    rc = h5_err(ctx, "cannot close dataset '%s'", dataset);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (mtype >= 0)
    H5Tclose(mtype);
  if (space >= 0)
    H5Sclose(space);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  return rc;
}

static int write_staged(da_array x, const char *tmp, const char *dataset,
                        const da_hdf5_options *o) {
  da_ctx ctx = x->ctx;
  int rc = DA_OK;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0)
    rc = h5_err(ctx, "cannot set up MPI-IO access");
  hid_t file = H5I_INVALID_HID;
  if (!rc) {
    file = H5Fopen(tmp, H5F_ACC_RDWR, fapl);
    if (file < 0)
      rc = h5_err(ctx, "cannot open '%s' for writing", tmp);
  }
  if (fapl >= 0)
    H5Pclose(fapl);
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = write_dataset(x, file, dataset, o);
  /* Collective on every rank that opened the file; it flushes the metadata. */
  if (file >= 0 && H5Fclose(file) < 0 && !rc)
    rc = h5_err(ctx, "cannot close '%s'", tmp);
  return rc;
}

/* ---------------------------------------------------------------- attributes */

/* One attribute into the open file; object NULL is `dataset`. */
static int attr_put(da_ctx ctx, hid_t file, const char *path, const char *dataset,
                    const da_hdf5_attr *a) {
  const char *object = a->object ? a->object : dataset;
  int rc = strcmp(object, "/") ? check_path(ctx, file, path, object) : DA_OK;
  hid_t obj = rc ? H5I_INVALID_HID : H5Oopen(file, object, H5P_DEFAULT);
  if (!rc && obj < 0)
    rc = h5_err(ctx, "cannot open '%s' in '%s'", object, path);
  if (!rc && H5Aexists(obj, a->name) > 0 && H5Adelete(obj, a->name) < 0)
    rc = h5_err(ctx, "cannot replace attribute '%s'", a->name);
  hid_t t = H5I_INVALID_HID, sp = H5I_INVALID_HID, at = H5I_INVALID_HID;
  if (!rc) {
    if (a->string) {
      t = H5Tcopy(H5T_C_S1);
      if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0))
        H5Tclose(t), t = H5I_INVALID_HID;
    } else {
      t = type_new(a->dtype);
    }
    sp = H5Screate(H5S_SCALAR);
    if (t < 0 || sp < 0 || (at = H5Acreate2(obj, a->name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(at, t, a->string ? (const void *)&a->string : a->value) < 0)
      rc = h5_err(ctx, "cannot write attribute '%s' of '%s'", a->name, object);
  }
  if (at >= 0)
    H5Aclose(at);
  if (sp >= 0)
    H5Sclose(sp);
  if (t >= 0)
    H5Tclose(t);
  if (obj >= 0)
    H5Oclose(obj);
  return rc;
}

/* Rank 0 alone writes the attributes into file (the serial driver: no collective
 * metadata), after the parallel writes have closed it. */
static int attrs_write(da_ctx ctx, const char *file_name, const char *path, const char *dataset,
                       int n, const da_hdf5_attr *attrs) {
  h5_quiet q = quiet_begin();
  hid_t fapl = read_fapl();
  hid_t file = H5Fopen(file_name, H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  int rc = file < 0 ? h5_err(ctx, "cannot open '%s' for writing", path) : DA_OK;
  for (int i = 0; i < n && !rc; i++)
    rc = attr_put(ctx, file, path, dataset, &attrs[i]);
  if (file >= 0 && H5Fclose(file) < 0 && !rc)
    rc = h5_err(ctx, "cannot close '%s'", path);
  quiet_end(q);
  return rc;
}

/* The same checks on every rank, before any file is touched. */
static int attrs_check(da_ctx ctx, int n, const da_hdf5_attr *attrs, bool with_dataset) {
  if (n < 0 || (n > 0 && !attrs))
    return DA_ERR(ctx, DA_ERR_ARG, "%d attributes at %p", n, (const void *)attrs);
  for (int i = 0; i < n; i++) {
    const da_hdf5_attr *a = &attrs[i];
    if (!a->name || !*a->name || (!a->object && !with_dataset))
      return DA_ERR(ctx, DA_ERR_ARG, "attribute %d: object and name must be given", i);
    if (!a->string && !da_dtype_valid(a->dtype))
      return DA_ERR(ctx, DA_ERR_DTYPE, "attribute '%s': unknown dtype %d", a->name, (int)a->dtype);
    if (!a->string && !a->value)
      return DA_ERR(ctx, DA_ERR_ARG, "attribute '%s': value is NULL", a->name);
  }
  return DA_OK;
}

/* Rank 0's half of an in-place update: path made an HDF5 file if absent (else checked to
 * be one), with `reserve` more bytes allocated as stage_local does. */
static int in_place_local(da_ctx ctx, const char *path, int64_t reserve) {
  int rc = DA_OK;
  if (access(path, F_OK) != 0) {
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 || H5Fclose(f) < 0)
      rc = h5_err(ctx, "cannot create '%s'", path);
  } else if (H5Fis_hdf5(path) <= 0) {
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' exists and is not an HDF5 file", path);
  }
  H5Eclear2(H5E_DEFAULT);
  int fd = rc || reserve <= 0 ? -1 : open(path, O_WRONLY);
  if (!rc && fd < 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open '%s' for writing: %s", path, strerror(errno));
  struct stat st;
  int e = fd < 0 ? 0 : fstat(fd, &st) ? errno : posix_fallocate(fd, st.st_size, (off_t)reserve);
  if (e)
    rc = DA_ERR(ctx, DA_ERR_IO, "no room for %lld more bytes in '%s': %s", (long long)reserve, path,
                strerror(e));
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Collective. The dataset written into the file itself, then its attributes, then a sync
 * when asked. */
static int write_in_place(da_array x, const char *path, const char *dataset,
                          const da_hdf5_options *o, int64_t reserve) {
  da_ctx ctx = x->ctx;
  int rc = DA_OK;
  h5_quiet q = quiet_begin();
  if (ctx->rank == 0)
    rc = in_place_local(ctx, path, reserve);
  rc = da_agree(ctx, rc);
  if (!rc)
    rc = da_agree(ctx, write_staged(x, path, dataset, o));
  if (!rc && ctx->rank == 0 && o->nattrs)
    rc = attrs_write(ctx, path, path, dataset, o->nattrs, o->attrs);
  if (!rc && ctx->rank == 0 && o->sync) {
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot sync '%s': %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
  }
  quiet_end(q);
  return da_agree(ctx, rc);
}

int da_to_hdf5(da_array x, const char *path, const char *dataset, const da_hdf5_options *opt) {
  if (!x)
    return DA_ERR_ARG;
  da_ctx ctx = x->ctx;
  da_hdf5_options o = opt ? *opt : (da_hdf5_options){.mode = DA_HDF5_UPDATE};
  int rc = DA_OK;
  if (!path || !*path || !dataset || !*dataset)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path and dataset must be given");
  else if (o.mode != DA_HDF5_UPDATE && o.mode != DA_HDF5_TRUNCATE &&
           o.mode != DA_HDF5_UPDATE_IN_PLACE)
    rc = DA_ERR(ctx, DA_ERR_ARG, "unknown mode %d", (int)o.mode);
  else if (o.deflate < 0 || o.deflate > 9)
    rc = DA_ERR(ctx, DA_ERR_ARG, "deflate level %d is not in 0-9", o.deflate);
  else if (o.deflate && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
    rc = DA_ERR(ctx, DA_ERR_UNSUPPORTED, "this HDF5 has no deflate filter");
  else
    rc = attrs_check(ctx, o.nattrs, o.attrs, true);
  if (x->ndim == 0 || x->size == 0)
    o.deflate = 0; /* contiguous: nothing to filter */
  /* Rank 0 decides whether there is a file to update, for all. */
  int existing = 0;
  if (!rc && ctx->rank == 0 && o.mode == DA_HDF5_UPDATE && access(path, F_OK) == 0) {
    existing = 1;
    h5_quiet q = quiet_begin();
    if (H5Fis_hdf5(path) <= 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' exists and is not an HDF5 file", path);
    H5Eclear2(H5E_DEFAULT);
    quiet_end(q);
  }
  DA_TRY(da_agree(ctx, rc));
  MPI_Bcast(&existing, 1, MPI_INT, 0, ctx->comm);
  /* Filters need collective writes: x is computed first. Otherwise it streams. */
  bool ran = !x->materialized && o.deflate > 0;
  if (ran)
    DA_TRY(da_schedule(x));
  /* The raw data, deflate's worst case, and room for the chunk index and other metadata. */
  int64_t reserve = x->size * (int64_t)x->elsize;
  reserve += reserve / 64 + x->nblocks * 1024 + (1 << 20);
  if (o.mode == DA_HDF5_UPDATE_IN_PLACE) {
    rc = write_in_place(x, path, dataset, &o, reserve);
  } else {
    size_t len = strlen(path) + 32;
    char *tmp = calloc(len, 1);
    rc = tmp ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a file name");
    rc = da_agree(ctx, rc);
    if (!rc && !(rc = stage_begin(ctx, path, existing, reserve, tmp, len))) {
      h5_quiet q = quiet_begin();
      rc = da_agree(ctx, write_staged(x, tmp, dataset, &o));
      quiet_end(q);
      if (!rc && ctx->rank == 0 && o.nattrs)
        rc = attrs_write(ctx, tmp, path, dataset, o.nattrs, o.attrs);
      rc = stage_end(ctx, tmp, path, o.sync, rc);
    }
    free(tmp);
  }
  if (ran)
    da_drop_blocks(x);
  return rc;
}

/* ---------------------------------------------------------------- attribute calls */

static int attr_set(da_ctx ctx, const char *path, const da_hdf5_attr *a) {
  int rc = DA_OK;
  if (!path)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path, object and name must be given");
  else
    rc = attrs_check(ctx, 1, a, false);
  if (!rc && ctx->rank == 0) {
    h5_quiet q = quiet_begin();
    if (access(path, F_OK) != 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    else if (H5Fis_hdf5(path) <= 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' is not an HDF5 file", path);
    H5Eclear2(H5E_DEFAULT);
    quiet_end(q);
  }
  DA_TRY(da_agree(ctx, rc));
  size_t len = strlen(path) + 32;
  char *tmp = calloc(len, 1);
  rc = da_agree(ctx, tmp ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate a file name"));
  if (!rc && !(rc = stage_begin(ctx, path, true, 1 << 16, tmp, len))) {
    if (ctx->rank == 0)
      rc = attrs_write(ctx, tmp, path, NULL, 1, a);
    rc = stage_end(ctx, tmp, path, false, rc);
  }
  free(tmp);
  return rc;
}

int da_hdf5_set_attr_string(da_ctx ctx, const char *path, const char *object, const char *name,
                            const char *value) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!value)
    return DA_ERR(ctx, DA_ERR_ARG, "value is NULL");
  return attr_set(ctx, path, &(da_hdf5_attr){.object = object, .name = name, .string = value});
}

int da_hdf5_set_attr_number(da_ctx ctx, const char *path, const char *object, const char *name,
                            da_dtype dt, const void *value) {
  if (!ctx)
    return DA_ERR_ARG;
  return attr_set(ctx, path,
                  &(da_hdf5_attr){.object = object, .name = name, .dtype = dt, .value = value});
}

/* Every rank reads the attribute on its own: into buf (a string of len bytes) or value. */
static int attr_read(da_ctx ctx, const char *path, const char *object, const char *name, char *buf,
                     size_t len, da_dtype dt, void *value) {
  hid_t file;
  DA_TRY(open_read(ctx, path, &file));
  int rc = strcmp(object, "/") ? check_path(ctx, file, path, object) : DA_OK;
  hid_t obj = rc ? H5I_INVALID_HID : H5Oopen(file, object, H5P_DEFAULT);
  if (!rc && obj < 0)
    rc = h5_err(ctx, "cannot open '%s' in '%s'", object, path);
  hid_t at = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
  if (!rc && H5Aexists(obj, name) <= 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' in '%s' has no attribute '%s'", object, path, name);
  if (!rc && ((at = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (ft = H5Aget_type(at)) < 0))
    rc = h5_err(ctx, "cannot open attribute '%s'", name);
  if (!rc) {
    hid_t sp = H5Aget_space(at);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
      H5Sclose(sp);
    if (n != 1)
      rc = DA_ERR(ctx, DA_ERR_SHAPE, "attribute '%s' is not a scalar", name);
  }
  bool is_str = !rc && H5Tget_class(ft) == H5T_STRING;
  if (!rc && buf && !is_str)
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "attribute '%s' is not a string", name);
  else if (!rc && !buf && is_str)
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "attribute '%s' is a string, not a number", name);
  if (!rc && buf) {
    char *s = NULL;
    bool vlen = H5Tis_variable_str(ft) > 0;
    size_t n = vlen ? 0 : H5Tget_size(ft);
    mt = H5Tcopy(H5T_C_S1);
    if (mt < 0 || H5Tset_size(mt, vlen ? H5T_VARIABLE : n + 1) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
      rc = h5_err(ctx, "cannot make a string type");
    if (!rc && !vlen && !(s = da_calloc(ctx, n + 1, 1)))
      rc = DA_ERR_NOMEM;
    if (!rc && H5Aread(at, mt, vlen ? (void *)&s : (void *)s) < 0)
      rc = h5_err(ctx, "cannot read attribute '%s'", name);
    size_t need = s ? strlen(s) + 1 : 1;
    if (!rc && need > len)
      rc = DA_ERR(ctx, DA_ERR_BUFFER, "attribute '%s' needs %zu bytes, the buffer has %zu", name,
                  need, len);
    if (!rc)
      memcpy(buf, s ? s : "", need);
    if (vlen && s)
      H5free_memory(s);
    else
      free(s);
  } else if (!rc) {
    da_dtype fdt;
    char what[300];
    snprintf(what, sizeof what, "attribute '%s'", name);
    rc = dtype_of(ctx, ft, what, &fdt);
    if (!rc && (mt = type_new(dt)) < 0)
      rc = h5_err(ctx, "cannot make an HDF5 type");
    /* HDF5 converts between numbers, not between them and the bool enum. */
    if (!rc && (fdt == DA_BOOL) != (dt == DA_BOOL))
      rc = DA_ERR(ctx, DA_ERR_DTYPE, "attribute '%s' is %s, not readable as %s", name,
                  da_dtype_name(fdt), da_dtype_name(dt));
    if (!rc && H5Aread(at, mt, value) < 0)
      rc = h5_err(ctx, "cannot read attribute '%s'", name);
  }
  if (mt >= 0)
    H5Tclose(mt);
  if (ft >= 0)
    H5Tclose(ft);
  if (at >= 0)
    H5Aclose(at);
  if (obj >= 0)
    H5Oclose(obj);
  H5Fclose(file);
  return rc;
}

static int attr_get(da_ctx ctx, const char *path, const char *object, const char *name, char *buf,
                    size_t len, da_dtype dt, void *value) {
  if (!ctx)
    return DA_ERR_ARG;
  int rc = DA_OK;
  if (!path || !object || !name)
    rc = DA_ERR(ctx, DA_ERR_ARG, "path, object and name must be given");
  else if (!buf && !value)
    rc = DA_ERR(ctx, DA_ERR_ARG, "the result pointer is NULL");
  else if (!buf && !da_dtype_valid(dt))
    rc = DA_ERR(ctx, DA_ERR_DTYPE, "unknown dtype %d", (int)dt);
  if (!rc) {
    h5_quiet q = quiet_begin();
    rc = attr_read(ctx, path, object, name, buf, len, dt, value);
    quiet_end(q);
  }
  return da_agree(ctx, rc);
}

int da_hdf5_get_attr_string(da_ctx ctx, const char *path, const char *object, const char *name,
                            char *buf, size_t len) {
  if (ctx && !buf)
    return da_agree(ctx, DA_ERR(ctx, DA_ERR_ARG, "buf is NULL"));
  return attr_get(ctx, path, object, name, buf, len, DA_FLOAT64, NULL);
}

int da_hdf5_get_attr_number(da_ctx ctx, const char *path, const char *object, const char *name,
                            da_dtype dt, void *value) {
  return attr_get(ctx, path, object, name, NULL, 0, dt, value);
}
