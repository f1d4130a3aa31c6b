/* Private: the parsed header of a NumPy .npy file, shared by the reader and writer (npy.c) and
 * by file inspection (inspect.c). */
#ifndef DARRAY_IO_NPY_H
#define DARRAY_IO_NPY_H

#include "core/internal.h"

/* Longest header read: NumPy itself refuses headers over 10000 bytes by default. */
#define DA_NPY_MAX_HEADER ((size_t)1 << 20)

typedef struct {
  int version; /* 1, 2 or 3 */
  int ndim;
  int64_t shape[DA_MAX_NDIM];
  da_dtype dtype;  /* DA_NDTYPES when darray has no such dtype */
  size_t itemsize; /* bytes per element, 0 when the descr is not a plain type */
  bool swap;       /* stored byte order differs from this machine's */
  bool fortran;
  char descr[32];      /* as written, cut short when longer */
  int64_t data_offset; /* where the elements start */
  int64_t nelems;
} da_npy_header;

/* Local. The dtype of a NumPy/Zarr type string ('<f8', '>i4', '|b1'): *dt is DA_NDTYPES for
 * one darray cannot hold; *itemsize 0 when it is not a plain type. */
void da_npy_descr(const char *s, da_dtype *dt, size_t *itemsize, bool *swap);

/* Local. Parses the header at the start of buf (n bytes: at least the whole header). Malformed
 * or truncated headers are DA_ERR_IO naming `what`; an unsupported dtype is not an error here
 * (h->dtype is DA_NDTYPES). */
int da_npy_parse(da_ctx ctx, const char *what, const unsigned char *buf, size_t n,
                 da_npy_header *h);

/* Local. Checks that darray can read h and that total (the file's bytes) matches it:
 * DA_ERR_DTYPE or DA_ERR_IO naming `what`. */
int da_npy_check(da_ctx ctx, const char *what, const da_npy_header *h, int64_t total);

/* Local. Reads the first bytes of the open file fd, up to the whole header (at most
 * DA_NPY_MAX_HEADER), into a malloc'ed *buf of *n bytes. */
int da_npy_read_prefix(da_ctx ctx, const char *what, int fd, unsigned char **buf, size_t *n);

#endif
