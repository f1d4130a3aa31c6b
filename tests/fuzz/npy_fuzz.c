/* libFuzzer target for the .npy header parser (files darray-info and da_from_npy open): any
 * bytes must parse or fail cleanly, and a parsed header must describe data inside its own
 * bounds. Run as zarray_fuzz is (see there). */
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  da_npy_header h;
  if (da_npy_parse(NULL, "fuzz", data, size, &h) != DA_OK)
    return 0;
  if (h.ndim < 0 || h.ndim > DA_MAX_NDIM || h.data_offset < 0 || (size_t)h.data_offset > size ||
      h.nelems < 0)
    __builtin_trap();
  int64_t n = 1;
  for (int d = 0; d < h.ndim; d++) {
    if (h.shape[d] < 0)
      __builtin_trap();
    n = h.shape[d] && n > INT64_MAX / h.shape[d] ? -1 : n * h.shape[d];
  }
  if (n >= 0 && n != h.nelems)
    __builtin_trap();
  (void)da_npy_check(NULL, "fuzz", &h, (int64_t)size);
  return 0;
}
