/* What a stored array is, from its metadata alone (HDF5 datasets, Zarr v2 arrays, .npy files
 * and .npz members), the names a file holds, and an SVG picture of a chunk grid. */
#define _POSIX_C_SOURCE 200809L
#include "io/npy.h"

#include <hdf5.h>
#include <jansson.h>
#include <zip.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { FMT_NONE, FMT_HDF5, FMT_ZARR, FMT_NPY, FMT_NPZ } file_format;

/* The format of path from its contents. */
static int detect(da_ctx ctx, const char *path, file_format *fmt) {
  *fmt = FMT_NONE;
  struct stat st;
  if (stat(path, &st))
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    char name[PATH_MAX];
    if (snprintf(name, sizeof name, "%s/.zarray", path) >= (int)sizeof name)
      return DA_ERR(ctx, DA_ERR_ARG, "path '%s' is too long", path);
    if (access(name, R_OK))
      return DA_ERR(ctx, DA_ERR_IO, "'%s' is a directory without .zarray (not a Zarr v2 array)",
                    path);
    *fmt = FMT_ZARR;
    return DA_OK;
  }
  unsigned char head[8] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  if (n >= 6 && !memcmp(head, "\x93NUMPY", 6))
    *fmt = FMT_NPY;
  else if (n >= 4 && (!memcmp(head, "PK\x03\x04", 4) || !memcmp(head, "PK\x05\x06", 4)))
    *fmt = FMT_NPZ;
  else if (n == 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8))
    *fmt = FMT_HDF5;
  else {
    /* An HDF5 file may start after a user block. */
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) > 0)
      *fmt = FMT_HDF5;
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
  }
  if (*fmt == FMT_NONE)
    return DA_ERR(ctx, DA_ERR_IO,
                  "'%s' is not an array file darray knows (HDF5, Zarr v2, .npy or .npz)", path);
  return DA_OK;
}

static void shape_copy(da_file_info *info, int nd, const int64_t shape[]) {
  info->ndim = nd;
  for (int d = 0; d < nd; d++)
    info->shape[d] = info->chunks[d] = shape[d];
}

static void set_nbytes(da_file_info *info, size_t itemsize) {
  int64_t n = (int64_t)itemsize;
  for (int d = 0; d < info->ndim && n >= 0; d++)
    if (__builtin_mul_overflow(n, info->shape[d], &n))
      n = -1;
  info->nbytes = itemsize ? n : -1;
}

/* ---------------------------------------------------------------- npy and npz */

static int inspect_npy(da_ctx ctx, const char *path, da_file_info *info) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  char what[PATH_MAX + 8];
  snprintf(what, sizeof what, "'%s'", path);
  unsigned char *buf = NULL;
  size_t n = 0;
  struct stat st;
  da_npy_header h;
  int rc = fstat(fd, &st) ? DA_ERR(ctx, DA_ERR_IO, "cannot inspect '%s': %s", path, strerror(errno))
                          : da_npy_read_prefix(ctx, what, fd, &buf, &n);
  close(fd);
  if (!rc)
    rc = da_npy_parse(ctx, what, buf, n, &h);
  free(buf);
  if (!rc && h.itemsize && (rc = da_npy_check(ctx, what, &h, (int64_t)st.st_size)) == DA_ERR_DTYPE)
    rc = DA_OK; /* a dtype darray lacks is still described */
  DA_TRY(rc);
  shape_copy(info, h.ndim, h.shape);
  info->dtype = h.dtype;
  snprintf(info->dtype_text, sizeof info->dtype_text, "%s", h.descr);
  set_nbytes(info, h.itemsize);
  info->stored_bytes = (int64_t)st.st_size;
  snprintf(info->compression, sizeof info->compression, "none");
  info->order = h.fortran ? 'F' : 'C';
  return DA_OK;
}

static int inspect_npz(da_ctx ctx, const char *path, const char *name, da_file_info *info) {
  int zerr = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    int rc = DA_ERR(ctx, DA_ERR_IO, "cannot open the .npz archive '%s': %s", path,
                    zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
  }
  int rc = DA_OK;
  zip_int64_t idx = zip_get_num_entries(za, 0) > 0 ? 0 : -1;
  if (idx < 0)
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has no members", path);
  if (!rc && name) {
    idx = zip_name_locate(za, name, 0);
    char with[1024];
    if (idx < 0 && (size_t)snprintf(with, sizeof with, "%s.npy", name) < sizeof with)
      idx = zip_name_locate(za, with, 0);
    if (idx < 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has no member '%s'", path, name);
  }
  zip_stat_t st;
  if (!rc && (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) || !(st.valid & ZIP_STAT_SIZE)))
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot read a member of '%s': %s", path, zip_strerror(za));
  char what[PATH_MAX + 300];
  snprintf(what, sizeof what, "member '%s' of '%s'", !rc ? st.name : "", path);
  /* The header alone: the first bytes of the inflated member. */
  unsigned char *buf = NULL;
  size_t want = !rc && st.size < DA_NPY_MAX_HEADER + 12 ? (size_t)st.size : DA_NPY_MAX_HEADER + 12;
  zip_int64_t got = 0;
  if (!rc && !(buf = da_malloc(ctx, want + 1)))
    rc = DA_ERR_NOMEM;
  zip_file_t *zf = rc ? NULL : zip_fopen_index(za, (zip_uint64_t)idx, 0);
  if (!rc && !zf)
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open %s: %s", what, zip_strerror(za));
  while (!rc && (size_t)got < want) {
    zip_int64_t r = zip_fread(zf, buf + got, want - (size_t)got);
    if (r < 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "cannot read %s: %s", what, zip_file_strerror(zf));
    if (r <= 0)
      break;
    got += r;
  }
  if (zf)
    zip_fclose(zf);
  da_npy_header h;
  if (!rc)
    rc = da_npy_parse(ctx, what, buf, (size_t)got, &h);
  free(buf);
  if (!rc && h.itemsize && (rc = da_npy_check(ctx, what, &h, (int64_t)st.size)) == DA_ERR_DTYPE)
    rc = DA_OK;
  if (!rc) {
    shape_copy(info, h.ndim, h.shape);
    info->dtype = h.dtype;
    snprintf(info->dtype_text, sizeof info->dtype_text, "%s", h.descr);
    set_nbytes(info, h.itemsize);
    info->stored_bytes = st.valid & ZIP_STAT_COMP_SIZE ? (int64_t)st.comp_size : -1;
    bool deflated = st.valid & ZIP_STAT_COMP_METHOD && st.comp_method == ZIP_CM_DEFLATE;
    bool stored = st.valid & ZIP_STAT_COMP_METHOD && st.comp_method == ZIP_CM_STORE;
    if (stored || deflated)
      snprintf(info->compression, sizeof info->compression, "%s", stored ? "none" : "zip deflate");
    else
      snprintf(info->compression, sizeof info->compression, "zip method %d",
               st.valid & ZIP_STAT_COMP_METHOD ? (int)st.comp_method : -1);
    info->order = h.fortran ? 'F' : 'C';
  }
  zip_discard(za);
  return rc;
}

/* ---------------------------------------------------------------- zarr */

/* Bytes of the regular files under dir but its metadata: the chunks (depth-limited, for the
 * '/' separator's nested directories). */
static int64_t chunk_bytes(const char *dir, int depth) {
  DIR *dp = opendir(dir);
  if (!dp)
    return 0;
  int64_t sum = 0;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.')
      continue; /* ".", "..", .zarray, .zattrs, .zgroup */
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
      continue;
    struct stat st;
    if (lstat(p, &st))
      continue;
    if (S_ISREG(st.st_mode))
      sum += (int64_t)st.st_size;
    else if (S_ISDIR(st.st_mode) && depth < DA_MAX_NDIM)
      sum += chunk_bytes(p, depth + 1);
  }
  closedir(dp);
  return sum;
}

static int zarr_dims(da_ctx ctx, const json_t *root, const char *key, int64_t out[], int *n) {
  const json_t *v = json_object_get(root, key);
  if (!json_is_array(v) || json_array_size(v) > DA_MAX_NDIM)
    return DA_ERR(ctx, DA_ERR_IO, ".zarray %s is missing or not a list of at most %d integers", key,
                  DA_MAX_NDIM);
  *n = (int)json_array_size(v);
  for (int d = 0; d < *n; d++) {
    const json_t *e = json_array_get(v, (size_t)d);
    if (!json_is_integer(e) || json_integer_value(e) < 0)
      return DA_ERR(ctx, DA_ERR_IO, ".zarray %s[%d] is not a non-negative integer", key, d);
    out[d] = (int64_t)json_integer_value(e);
  }
  return DA_OK;
}

/* The .zarray fill_value as written: "none" for null, "NaN", "0", "-1.5". */
static void zarr_fill(const json_t *v, char *out, size_t len) {
  if (!v || json_is_null(v))
    snprintf(out, len, "none");
  else if (json_is_string(v))
    snprintf(out, len, "%s", json_string_value(v));
  else if (json_is_boolean(v))
    snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
  else if (json_is_integer(v))
    snprintf(out, len, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(out, len, "%.17g", json_real_value(v));
  else
    snprintf(out, len, "unknown");
}

/* "blosc lz4 level 5 shuffle", "zstd level 3", "none". */
static void zarr_compression(const json_t *c, const json_t *filters, char *out, size_t len) {
  size_t at = 0;
  if (!c || json_is_null(c)) {
    at = (size_t)snprintf(out, len, "none");
  } else {
    const char *id = json_string_value(json_object_get(c, "id"));
    at = (size_t)snprintf(out, len, "%s", id ? id : "unknown");
    const char *cname = json_string_value(json_object_get(c, "cname"));
    if (cname && at < len)
      at += (size_t)snprintf(out + at, len - at, " %s", cname);
    const json_t *lv = json_object_get(c, "clevel");
    if (!lv)
      lv = json_object_get(c, "level");
    if (json_is_integer(lv) && at < len)
      at += (size_t)snprintf(out + at, len - at, " level %lld", (long long)json_integer_value(lv));
    const json_t *sh = json_object_get(c, "shuffle");
    if (json_is_integer(sh) && at < len) {
      json_int_t s = json_integer_value(sh);
      at += (size_t)snprintf(out + at, len - at, "%s",
                             s == 0   ? " noshuffle"
                             : s == 1 ? " shuffle"
                             : s == 2 ? " bitshuffle"
                                      : " autoshuffle");
    }
  }
  if (json_is_array(filters))
    for (size_t i = 0; i < json_array_size(filters) && at < len; i++) {
      const char *id = json_string_value(json_object_get(json_array_get(filters, i), "id"));
      at += (size_t)snprintf(out + at, len - at, "%s%s", i ? ", " : ", filters ",
                             id ? id : "unknown");
    }
}

static int inspect_zarr(da_ctx ctx, const char *path, da_file_info *info) {
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%s/.zarray", path);
  json_error_t jerr;
  json_t *root = json_load_file(name, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return DA_ERR(ctx, DA_ERR_IO, "'%s' is not valid JSON: %s (line %d)", name, jerr.text,
                  jerr.line);
  int rc = DA_OK, nc = 0;
  if (!json_is_object(root) || json_integer_value(json_object_get(root, "zarr_format")) != 2)
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' is not Zarr v2 array metadata", name);
  if (!rc)
    rc = zarr_dims(ctx, root, "shape", info->shape, &info->ndim);
  if (!rc)
    rc = zarr_dims(ctx, root, "chunks", info->chunks, &nc);
  if (!rc && nc != info->ndim)
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has %d shape entries but %d chunks", name, info->ndim, nc);
  if (!rc) {
    const json_t *dt = json_object_get(root, "dtype");
    size_t itemsize = 0;
    bool swap;
    info->dtype = DA_NDTYPES;
    if (json_is_string(dt)) {
      snprintf(info->dtype_text, sizeof info->dtype_text, "%s", json_string_value(dt));
      da_npy_descr(info->dtype_text, &info->dtype, &itemsize, &swap);
    } else {
      snprintf(info->dtype_text, sizeof info->dtype_text, "structured");
    }
    set_nbytes(info, itemsize);
    const char *order = json_string_value(json_object_get(root, "order"));
    info->order = order && !strcmp(order, "F") ? 'F' : 'C';
    zarr_compression(json_object_get(root, "compressor"), json_object_get(root, "filters"),
                     info->compression, sizeof info->compression);
    info->stored_bytes = chunk_bytes(path, 0);
    zarr_fill(json_object_get(root, "fill_value"), info->fill, sizeof info->fill);
  }
  json_decref(root);
  return rc;
}

/* ---------------------------------------------------------------- hdf5 */

typedef struct {
  char *buf;
  size_t len, at;
  char first[1024]; /* the first dataset's path */
} name_list;

static herr_t visit_dataset(hid_t obj, const char *name, const H5O_info_t *oi, void *ud) {
  (void)obj;
  name_list *l = ud;
  if (oi->type != H5O_TYPE_DATASET)
    return 0;
  if (!l->first[0])
    snprintf(l->first, sizeof l->first, "/%s", name);
  int n = snprintf(l->at < l->len ? l->buf + l->at : NULL, l->at < l->len ? l->len - l->at : 0,
                   "/%s\n", name);
  l->at += n > 0 ? (size_t)n : 0;
  return 0;
}

static int h5_open(da_ctx ctx, const char *path, hid_t *file) {
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0)
    return DA_ERR(ctx, DA_ERR_IO, "cannot open '%s' as an HDF5 file", path);
  return DA_OK;
}

/* The type of a dataset as darray and HDF5 name it. */
static void h5_type(hid_t t, da_file_info *info) {
  H5T_class_t cls = H5Tget_class(t);
  size_t size = H5Tget_size(t);
  const char *order = H5Tget_order(t) == H5T_ORDER_BE ? "BE" : "LE";
  info->dtype = DA_NDTYPES;
  if (cls == H5T_INTEGER) {
    bool sign = H5Tget_sign(t) == H5T_SGN_2;
    char s[8];
    snprintf(s, sizeof s, "|%c%zu", sign ? 'i' : 'u', size);
    size_t is;
    bool swap;
    da_npy_descr(s, &info->dtype, &is, &swap);
    snprintf(info->dtype_text, sizeof info->dtype_text, "H5T_STD_%c%zu%s", sign ? 'I' : 'U',
             size * 8, order);
  } else if (cls == H5T_FLOAT) {
    info->dtype = size == 4 ? DA_FLOAT32 : size == 8 ? DA_FLOAT64 : DA_NDTYPES;
    snprintf(info->dtype_text, sizeof info->dtype_text, "H5T_IEEE_F%zu%s", size * 8, order);
  } else if (cls == H5T_ENUM && size == 1 && H5Tget_nmembers(t) == 2) {
    char *n0 = H5Tget_member_name(t, 0), *n1 = H5Tget_member_name(t, 1);
    if (n0 && n1 && !strcmp(n0, "FALSE") && !strcmp(n1, "TRUE"))
      info->dtype = DA_BOOL;
    H5free_memory(n0);
    H5free_memory(n1);
    snprintf(info->dtype_text, sizeof info->dtype_text, "H5T_ENUM (%s)",
             info->dtype == DA_BOOL ? "bool" : "2 members");
  } else {
    static const char *names[] = {"INTEGER",  "FLOAT",     "TIME", "STRING", "BITFIELD", "OPAQUE",
                                  "COMPOUND", "REFERENCE", "ENUM", "VLEN",   "ARRAY"};
    snprintf(info->dtype_text, sizeof info->dtype_text, "H5T_%s of %zu bytes",
             cls >= 0 && cls < 11 ? names[cls] : "UNKNOWN", size);
  }
  set_nbytes(info, size);
}

/* The dataset's fill value: "none" when undefined, "0 (default)", or the user's value. */
static void h5_fill(hid_t dcpl, hid_t ft, char *out, size_t len) {
  H5D_fill_value_t st;
  if (H5Pfill_value_defined(dcpl, &st) < 0) {
    snprintf(out, len, "unknown");
    return;
  }
  if (st == H5D_FILL_VALUE_UNDEFINED) {
    snprintf(out, len, "none");
    return;
  }
  if (st == H5D_FILL_VALUE_DEFAULT) {
    snprintf(out, len, "0 (default)");
    return;
  }
  H5T_class_t cls = H5Tget_class(ft);
  long long i;
  unsigned long long u;
  double x;
  if (cls == H5T_INTEGER && H5Tget_sign(ft) == H5T_SGN_NONE &&
      H5Pget_fill_value(dcpl, H5T_NATIVE_ULLONG, &u) >= 0)
    snprintf(out, len, "%llu", u);
  else if (cls == H5T_INTEGER && H5Pget_fill_value(dcpl, H5T_NATIVE_LLONG, &i) >= 0)
    snprintf(out, len, "%lld", i);
  else if (cls == H5T_FLOAT && H5Pget_fill_value(dcpl, H5T_NATIVE_DOUBLE, &x) >= 0)
    snprintf(out, len, "%.17g", x);
  else
    snprintf(out, len, "user-defined");
}

/* "gzip level 4 shuffle", "none". */
static void h5_filters(hid_t dcpl, char *out, size_t len) {
  int nf = H5Pget_nfilters(dcpl);
  char main[64] = "", mods[128] = "";
  size_t mat = 0;
  for (int i = 0; i < nf; i++) {
    unsigned flags, cd[8], config;
    size_t ncd = 8;
    char fname[64] = "";
    H5Z_filter_t id =
        H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &config);
    if (id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32) {
      if (mat < sizeof mods)
        mat += (size_t)snprintf(mods + mat, sizeof mods - mat, " %s",
                                id == H5Z_FILTER_SHUFFLE ? "shuffle" : "fletcher32");
    } else if (id == H5Z_FILTER_DEFLATE) {
      snprintf(main, sizeof main, "gzip level %u", ncd ? cd[0] : 0);
    } else if (id == H5Z_FILTER_SZIP) {
      snprintf(main, sizeof main, "szip");
    } else if (id == H5Z_FILTER_NBIT || id == H5Z_FILTER_SCALEOFFSET) {
      if (mat < sizeof mods)
        mat += (size_t)snprintf(mods + mat, sizeof mods - mat, " %s",
                                id == H5Z_FILTER_NBIT ? "nbit" : "scaleoffset");
    } else {
      static const struct {
        int id;
        const char *name;
      } known[] = {
          {32000, "lzf"}, {32001, "blosc"}, {32004, "lz4"}, {32008, "bitshuffle"}, {32015, "zstd"}};
      const char *nm = NULL;
      for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (known[k].id == id)
          nm = known[k].name;
      snprintf(main, sizeof main, "%s", nm ? nm : fname[0] ? fname : "filter");
      if (!nm)
        snprintf(main + strlen(main), sizeof main - strlen(main), " %d", (int)id);
    }
  }
  const char *a = main[0]   ? main
                  : mods[0] ? ""
                            : "none",
             *b = main[0]   ? mods
                  : mods[0] ? mods + 1
                            : "";
  size_t na = strlen(a), nb = strlen(b);
  na = na < len - 1 ? na : len - 1;
  nb = nb < len - 1 - na ? nb : len - 1 - na;
  memcpy(out, a, na);
  memcpy(out + na, b, nb);
  out[na + nb] = '\0';
}

static int inspect_hdf5(da_ctx ctx, const char *path, const char *name, da_file_info *info) {
  hid_t file, dset = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID,
              dcpl = H5I_INVALID_HID;
  DA_TRY(h5_open(ctx, path, &file));
  int rc = DA_OK;
  name_list l = {0};
  if (!name) {
    if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, visit_dataset, &l) < 0 || !l.first[0])
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' holds no dataset", path);
    name = l.first;
  }
  /* Each group on the way must exist before H5Oget_info_by_name can answer. */
  char part[1024];
  size_t nl = strlen(name);
  for (size_t i = 1; !rc && i <= nl && nl < sizeof part; i++) {
    if (i < nl && name[i] != '/')
      continue;
    memcpy(part, name, i);
    part[i] = '\0';
    if (strcmp(part, "/") && H5Lexists(file, part, H5P_DEFAULT) <= 0)
      rc = DA_ERR(ctx, DA_ERR_IO, "'%s' has no %s '%s'", path, i < nl ? "group" : "dataset", part);
  }
  H5O_info_t oi;
  if (!rc && (H5Oget_info_by_name(file, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET))
    rc = DA_ERR(ctx, DA_ERR_IO, "'%s' in '%s' is not a dataset", name, path);
  if (!rc && ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0 || (sp = H5Dget_space(dset)) < 0 ||
              (ft = H5Dget_type(dset)) < 0 || (dcpl = H5Dget_create_plist(dset)) < 0))
    rc = DA_ERR(ctx, DA_ERR_IO, "cannot open dataset '%s' in '%s'", name, path);
  int nd = rc ? 0 : H5Sget_simple_extent_ndims(sp);
  if (!rc && (nd < 0 || nd > DA_MAX_NDIM))
    rc = DA_ERR(ctx, DA_ERR_SHAPE, "dataset '%s' has %d dimensions (darray: at most %d)", name, nd,
                DA_MAX_NDIM);
  if (!rc) {
    hsize_t dims[DA_MAX_NDIM], cd[DA_MAX_NDIM];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    info->ndim = nd;
    for (int d = 0; d < nd; d++)
      info->shape[d] = info->chunks[d] = (int64_t)dims[d];
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, nd, cd) == nd)
      for (int d = 0; d < nd; d++)
        info->chunks[d] = (int64_t)cd[d];
    h5_type(ft, info);
    h5_filters(dcpl, info->compression, sizeof info->compression);
    info->stored_bytes = (int64_t)H5Dget_storage_size(dset);
    info->order = 'C';
    h5_fill(dcpl, ft, info->fill, sizeof info->fill);
  }
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (ft >= 0)
    H5Tclose(ft);
  if (sp >= 0)
    H5Sclose(sp);
  if (dset >= 0)
    H5Dclose(dset);
  H5Fclose(file);
  return rc;
}

/* ---------------------------------------------------------------- entry points */

int da_file_inspect(da_ctx ctx, const char *path, const char *name, da_file_info *info) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!path || !info)
    return DA_ERR(ctx, DA_ERR_ARG, "path and info must be given");
  memset(info, 0, sizeof *info);
  info->stored_bytes = -1;
  file_format fmt;
  DA_TRY(detect(ctx, path, &fmt));
  static const char *names[] = {"", "hdf5", "zarr", "npy", "npz"};
  snprintf(info->format, sizeof info->format, "%s", names[fmt]);
  if (fmt == FMT_NPY)
    return inspect_npy(ctx, path, info);
  if (fmt == FMT_NPZ)
    return inspect_npz(ctx, path, name, info);
  if (fmt == FMT_ZARR)
    return inspect_zarr(ctx, path, info);
  H5E_auto2_t fn;
  void *data;
  H5Eget_auto2(H5E_DEFAULT, &fn, &data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int rc = inspect_hdf5(ctx, path, name, info);
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, fn, data);
  return rc;
}

int da_file_list(da_ctx ctx, const char *path, char *buf, size_t len, size_t *needed) {
  if (!ctx)
    return DA_ERR_ARG;
  if (!path || (!buf && len))
    return DA_ERR(ctx, DA_ERR_ARG, "path must be given, and buf when len > 0");
  if (buf && len)
    buf[0] = '\0';
  if (needed)
    *needed = 0;
  file_format fmt;
  DA_TRY(detect(ctx, path, &fmt));
  name_list l = {buf, len, 0, ""};
  int rc = DA_OK;
  if (fmt == FMT_HDF5) {
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file;
    if (!(rc = h5_open(ctx, path, &file))) {
      if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, visit_dataset, &l) < 0)
        rc = DA_ERR(ctx, DA_ERR_IO, "cannot list the objects of '%s'", path);
      H5Fclose(file);
    }
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
  } else if (fmt == FMT_NPZ) {
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za)
      return DA_ERR(ctx, DA_ERR_IO, "cannot open the .npz archive '%s'", path);
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t k = 0; k < n; k++) {
      const char *m = zip_get_name(za, (zip_uint64_t)k, 0);
      int w = snprintf(l.at < l.len ? l.buf + l.at : NULL, l.at < l.len ? l.len - l.at : 0, "%s\n",
                       m ? m : "?");
      l.at += w > 0 ? (size_t)w : 0;
    }
    zip_discard(za);
  }
  /* A .npy file or a Zarr array holds one array: the list is empty. */
  if (buf && len && l.at >= len)
    buf[len - 1] = '\0';
  if (needed)
    *needed = l.at;
  return rc;
}

/* ---------------------------------------------------------------- pictures */

typedef struct {
  FILE *f;
} svg;

/* Per axis: the scaled positions of the chunk boundaries (n + 1 of them, 0 .. side). */
static double *boundaries(const int64_t *chunks, int64_t n, int64_t len, double side) {
  double *b = malloc(sizeof *b * (size_t)(n + 1));
  if (!b)
    return NULL;
  int64_t at = 0;
  b[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    at += chunks ? chunks[i] : 0;
    b[i + 1] = len > 0 ? side * (double)at / (double)len : side;
  }
  return b;
}

/* Stroke width of the inner lines of an axis: thinner when they crowd, 0 when too many. */
static double line_width(int64_t n, double side) {
  double spacing = n > 0 ? side / (double)n : side;
  return n > 500 || spacing < 2 ? 0 : spacing < 6 ? 0.5 : 1;
}

/* Side lengths in pixels: the longest 240, none below 24 so thin arrays stay visible. */
static void sides(int n, const int64_t len[], double px[]) {
  double longest = 1;
  for (int i = 0; i < n; i++)
    longest = (double)len[i] > longest ? (double)len[i] : longest;
  for (int i = 0; i < n; i++) {
    px[i] = 240.0 * (double)len[i] / longest;
    px[i] = px[i] < 24 ? 24 : px[i];
  }
}

static void line(FILE *f, double x1, double y1, double x2, double y2, double w) {
  fprintf(
      f, "  <line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" style=\"stroke-width:%.1f\" />\n",
      x1, y1, x2, y2, w);
}

static void text(FILE *f, double x, double y, double rot, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void text(FILE *f, double x, double y, double rot, const char *fmt, ...) {
  fprintf(f,
          "  <text x=\"%.1f\" y=\"%.1f\" font-size=\"1.0rem\" font-weight=\"100\" "
          "text-anchor=\"middle\"",
          x, y);
  if (rot)
    fprintf(f, " transform=\"rotate(%.0f,%.1f,%.1f)\"", rot, x, y);
  fputc('>', f);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputs("</text>\n", f);
}

/* The lines of one axis across a face: for each inner boundary t (0..side along the axis),
 * from origin + t * u to origin + t * u + v. */
static void axis_lines(FILE *f, const double *b, int64_t n, double side, double ox, double oy,
                       double ux, double uy, double vx, double vy) {
  double w = line_width(n, side);
  for (int64_t i = 0; i <= n; i++) {
    bool edge = i == 0 || i == n;
    if (!edge && w == 0)
      continue;
    double t = b[i] / side;
    line(f, ox + t * ux, oy + t * uy, ox + t * ux + vx, oy + t * uy + vy, edge ? 2 : w);
  }
}

int da_chunks_svg(int ndim, const int64_t shape[], const int64_t *const chunks[],
                  const int64_t numblocks[], const char *path) {
  if (ndim < 0 || ndim > DA_MAX_NDIM || !path || (ndim && (!shape || !chunks || !numblocks)))
    return DA_ERR_ARG;
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0 || numblocks[d] < 1 || !chunks[d])
      return DA_ERR_ARG;
  FILE *f = fopen(path, "w");
  if (!f)
    return DA_ERR_IO;
  /* The last (up to) three axes are drawn: z (depth), y (down), x (across). */
  int drawn = ndim < 3 ? ndim : 3, lead = ndim - drawn;
  int64_t len[3] = {1, 1, 1}, nb[3] = {1, 1, 1};
  const int64_t *ck[3] = {NULL, NULL, NULL};
  static const int64_t one = 1;
  for (int i = 0; i < 3; i++)
    ck[i] = &one;
  for (int i = 0; i < drawn; i++) {
    int d = lead + i, slot = 3 - drawn + i;
    len[slot] = shape[d], nb[slot] = numblocks[d], ck[slot] = chunks[d];
  }
  double px[3];
  sides(3, len, px);
  if (drawn < 3)
    px[0] = 0; /* no depth */
  if (drawn < 2)
    px[1] = 25; /* a 1-D array is a bar */
  int notes = lead ? 1 : 0;
  for (int i = 3 - drawn; i < 3; i++)
    notes += nb[i] > 1 && line_width(nb[i], px[i]) == 0;
  double dz = px[0] * 0.5, x0 = 10, y0 = 10 + dz;
  double width = x0 + px[2] + dz + 60, height = y0 + px[1] + 60 + 20 * notes;
  width = width < 280 ? 280 : width;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "style=\"stroke:rgb(0,0,0)\">\n",
          width, height);
  double *bx = boundaries(ck[2], nb[2], len[2], px[2]);
  double *by = boundaries(ck[1], nb[1], len[1], px[1]);
  double *bz = boundaries(ck[0], nb[0], len[0], px[0] > 0 ? px[0] : 1);
  int rc = bx && by && bz ? DA_OK : DA_ERR_NOMEM;
  if (!rc) {
    const char *fill = "fill:#ECB172A0;stroke-width:0";
    if (drawn == 3) {
      /* Top and side faces, skewed back by (dz, -dz); z's index 0 is at the back. */
      fprintf(f, "  <polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" style=\"%s\" />\n",
              x0, y0, x0 + dz, y0 - dz, x0 + px[2] + dz, y0 - dz, x0 + px[2], y0, fill);
      fprintf(f, "  <polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" style=\"%s\" />\n",
              x0 + px[2], y0, x0 + px[2] + dz, y0 - dz, x0 + px[2] + dz, y0 + px[1] - dz,
              x0 + px[2], y0 + px[1], fill);
      /* Top face: x lines run back, z lines run across; side face: y lines back, z lines down. */
      axis_lines(f, bx, nb[2], px[2], x0, y0, px[2], 0, dz, -dz);
      axis_lines(f, bz, nb[0], px[0], x0 + dz, y0 - dz, -dz, dz, px[2], 0);
      axis_lines(f, by, nb[1], px[1], x0 + px[2], y0, 0, px[1], dz, -dz);
      axis_lines(f, bz, nb[0], px[0], x0 + px[2] + dz, y0 - dz, -dz, dz, 0, px[1]);
    }
    fprintf(f, "  <rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" style=\"%s\" />\n", x0,
            y0, px[2], px[1], fill);
    axis_lines(f, by, nb[1], px[1], x0, y0, 0, px[1], px[2], 0);
    axis_lines(f, bx, nb[2], px[2], x0, y0, px[2], 0, 0, px[1]);
    /* Sizes: x under the front face, y beside it, z along the side's diagonal. */
    text(f, x0 + px[2] / 2, y0 + px[1] + 20, 0, "%lld", (long long)len[2]);
    if (drawn >= 2)
      text(f, x0 + px[2] + dz + 20, y0 - dz + px[1] / 2, -90, "%lld", (long long)len[1]);
    if (drawn == 3)
      text(f, x0 + px[2] + dz / 2 + 14, y0 + px[1] - dz / 2 + 14, -45, "%lld", (long long)len[0]);
    double ty = y0 + px[1] + 40;
    int64_t total = 1;
    for (int d = 0; d < ndim; d++)
      total *= numblocks[d];
    text(f, width / 2, ty, 0, "%lld chunk%s", (long long)total, total == 1 ? "" : "s");
    if (lead) {
      char s[DA_MAX_NDIM * 22] = "";
      size_t at = 0;
      for (int d = 0; d < lead && at < sizeof s; d++)
        at +=
            (size_t)snprintf(s + at, sizeof s - at, "%s%lld", d ? " x " : "", (long long)shape[d]);
      text(f, width / 2, ty += 20, 0, "leading axes %s not drawn", s);
    }
    for (int i = 3 - drawn; i < 3; i++)
      if (nb[i] > 1 && line_width(nb[i], px[i]) == 0)
        text(f, width / 2, ty += 20, 0, "axis %d: %lld chunks, too many to draw",
             lead + i - (3 - drawn), (long long)nb[i]);
    fputs("</svg>\n", f);
  }
  free(bx);
  free(by);
  free(bz);
  if (ferror(f))
    rc = DA_ERR_IO;
  if (fclose(f) && !rc)
    rc = DA_ERR_IO;
  if (rc)
    remove(path);
  return rc;
}
