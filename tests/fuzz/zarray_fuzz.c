/* libFuzzer target for the Zarr v2 .zarray parser: any bytes must parse or fail cleanly.
 * Built with -DDARRAY_FUZZ=ON and clang; `ctest -L fuzz` (and ./darray.sh test) runs it for 30 s
 * from a copy of corpus/. By hand: zarray_fuzz -max_total_time=60 NEW_DIR corpus/ (new inputs go
 * to the first directory). */
#include "io/zarr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  da_zarr_meta m;
  /* No context: the parser must not need MPI, and errors are only codes here. */
  if (da_zarr_parse_meta(NULL, (const char *)data, size, &m) == DA_OK && m.ndim > DA_MAX_NDIM)
    __builtin_trap();
  return 0;
}
