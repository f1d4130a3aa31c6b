/* Order keys and the local sort behind da_sort, for other operations that compare values in
 * NumPy's sort order (unique, searchsorted): a key's unsigned order is the values' order. */
#ifndef DARRAY_SORT_H
#define DARRAY_SORT_H

#include "core/internal.h"

/* Converts n elements of dt to keys whose unsigned order is NumPy's sort order: integers
 * by value, bool false < true, floats with NaN last (every NaN one key). With zero_equal,
 * -0.0 and +0.0 share a key, as they compare equal (argsort, searchsorted); without it
 * -0.0 sorts just before +0.0, so that keys convert back to the exact values (sort). */
void da_sort_keys(da_dtype dt, const void *in, int64_t n, bool zero_equal, uint64_t *keys);
/* The n values of keys made by da_sort_keys without zero_equal (a NaN comes back as the
 * default quiet NaN). */
void da_sort_values(da_dtype dt, const uint64_t *keys, int64_t n, void *out);
/* The key of one double, as da_sort_keys gives it for float64 data. */
uint64_t da_sort_key_f64(double v, bool zero_equal);

/* Sorts n keys ascending, using tmp (n entries) as scratch; returns the buffer holding the
 * result (keys or tmp). Stable; radix sort for large n. */
uint64_t *da_sort_u64(uint64_t *keys, uint64_t *tmp, int64_t n);

/* Big work buffers, counted in the context's memory (free with their size). */
void *da_work_alloc(da_ctx ctx, size_t bytes);
void da_work_free(da_ctx ctx, void *p, size_t bytes);

#endif
