/* Private: the parsed form of a Zarr v2 .zarray document, shared by the reader, the writer
 * and the fuzz target of the parser. */
#ifndef DARRAY_IO_ZARR_H
#define DARRAY_IO_ZARR_H

#include "core/internal.h"

typedef enum {
  DA_ZCODEC_NONE,
  DA_ZCODEC_ZLIB,
  DA_ZCODEC_GZIP,
  DA_ZCODEC_ZSTD,
  DA_ZCODEC_BLOSC
} da_zcodec;

typedef struct {
  int ndim;
  int64_t shape[DA_MAX_NDIM], chunks[DA_MAX_NDIM];
  da_dtype dtype;
  bool swap; /* stored byte order differs from this machine's */
  da_zcodec codec;
  _Alignas(8) unsigned char fill[8]; /* the fill value in dtype, native byte order */
  char sep;                          /* dimension_separator: '.' or '/' */
} da_zarr_meta;

/* Local. Parses and validates a .zarray document of len bytes (need not be NUL-terminated).
 * ctx may be NULL (no message is kept then). Returns DA_ERR_IO for malformed JSON or fields,
 * DA_ERR_DTYPE / DA_ERR_UNSUPPORTED for what darray cannot read. */
int da_zarr_parse_meta(da_ctx ctx, const char *json, size_t len, da_zarr_meta *meta);

#endif
