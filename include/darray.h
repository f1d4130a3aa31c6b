/* darray: parallel, larger-than-memory n-dimensional arrays on MPI.
 * The one public header: contexts, arrays, creation, movement to and from user memory. */
#ifndef DARRAY_H
#define DARRAY_H

#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "darray/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DA_EXPORT __attribute__((visibility("default")))
#define DA_NODISCARD __attribute__((warn_unused_result))
#else
#define DA_EXPORT
#define DA_NODISCARD
#endif
#define DA_API DA_EXPORT DA_NODISCARD

/* ---------------------------------------------------------------- errors */

/* Every fallible function returns one of these (0 = success). */
#define DA_ERROR_TABLE(X)                                                                          \
  X(OK, 0, "success")                                                                              \
  X(ERR_ARG, 1, "invalid argument")                                                                \
  X(ERR_SHAPE, 2, "invalid or mismatched shape")                                                   \
  X(ERR_CHUNKS, 3, "invalid chunks")                                                               \
  X(ERR_DTYPE, 4, "unsupported dtype")                                                             \
  X(ERR_OVERFLOW, 5, "value out of range or size overflow")                                        \
  X(ERR_BOUNDS, 6, "index out of bounds")                                                          \
  X(ERR_NOMEM, 7, "out of memory")                                                                 \
  X(ERR_BUFFER, 8, "buffer too small")                                                             \
  X(ERR_MPI, 9, "MPI error")                                                                       \
  X(ERR_IO, 10, "I/O error")                                                                       \
  X(ERR_UNSUPPORTED, 11, "operation not supported")                                                \
  X(ERR_USER, 12, "user function failed")                                                          \
  X(ERR_REMOTE, 13, "another rank failed")                                                         \
  X(ERR_INTERNAL, 14, "internal error")

typedef enum {
#define DA_ERROR_ENUM_(name, code, text) DA_##name = code,
  DA_ERROR_TABLE(DA_ERROR_ENUM_)
#undef DA_ERROR_ENUM_
} da_error;

/* Local. A static description of an error code. */
DA_EXPORT const char *da_strerror(int code);

/* ---------------------------------------------------------------- dtypes */

typedef enum {
  DA_BOOL,
  DA_INT8,
  DA_INT16,
  DA_INT32,
  DA_INT64,
  DA_UINT8,
  DA_UINT16,
  DA_UINT32,
  DA_UINT64,
  DA_FLOAT32,
  DA_FLOAT64,
  DA_NDTYPES
} da_dtype;

/* Local. Bytes per element (0 for an unknown dtype), and NumPy's name ("float64"). */
DA_EXPORT size_t da_dtype_size(da_dtype dt);
DA_EXPORT const char *da_dtype_name(da_dtype dt);

/* ---------------------------------------------------------------- context */

#define DA_MAX_NDIM 16
/* As `root` of a gather: every rank receives the data. */
#define DA_ALL_RANKS (-1)

typedef struct da_ctx_s *da_ctx;
typedef struct da_array_s *da_array;

/* Collective over comm. A context on a duplicate of comm; no global state is kept. */
DA_API int da_ctx_create(MPI_Comm comm, da_ctx *ctx);
/* Collective. Frees the context (NULL is a no-op); arrays must be destroyed first. */
DA_EXPORT int da_ctx_destroy(da_ctx *ctx);
/* Local. This rank and the number of ranks. */
DA_EXPORT int da_ctx_rank(da_ctx ctx);
DA_EXPORT int da_ctx_size(da_ctx ctx);
/* Local. The message of the last error on this context ("" when none). */
DA_EXPORT const char *da_ctx_errmsg(da_ctx ctx);
/* Collective (same value on every rank). Target bytes of one chunk for "auto" chunks
 * (default 128 MiB, or the DARRAY_CHUNK_BYTES environment variable). */
DA_API int da_ctx_set_chunk_bytes(da_ctx ctx, int64_t bytes);
/* Collective. The per-rank memory limit in bytes (0: none, the default; or the
 * DARRAY_MEMORY_LIMIT environment variable, bytes with an optional K, M, G or T suffix).
 * Ranks given different values all take the smallest. A step whose outputs and transfer
 * buffers would pass it runs in waves of tasks, each moving, computing and freeing its own
 * pieces, so a rank holds at most its input and output blocks of the step plus about one
 * block of buffers; a task that cannot fit alone still runs, one wave to itself. A block-wise
 * layer with several consumers is recomputed in each rather than held, and past the limit
 * blocks that a later step needs wait in a spill file (DARRAY_SPILL_DIR, else TMPDIR, else
 * /tmp). */
DA_API int da_ctx_set_memory_limit(da_ctx ctx, int64_t bytes);
/* Local. The memory limit in force (0: none). */
DA_EXPORT int64_t da_ctx_memory_limit(da_ctx ctx);
/* Local. Bytes darray holds on this rank in blocks (of materialized arrays and of running
 * graphs) and transfer buffers: now, and the most since the context was made or the peak
 * was last reset. Either pointer may be NULL. */
DA_API int da_ctx_memory(da_ctx ctx, int64_t *current, int64_t *peak);
/* Local. Starts a new peak from the current value. */
DA_API int da_ctx_reset_memory_peak(da_ctx ctx);

/* ---------------------------------------------------------------- chunks */

/* Per-axis chunk request: a size > 0, DA_CHUNK_WHOLE (one chunk along the axis) or
 * DA_CHUNK_AUTO (near-cubic chunks of the context's target bytes). An explicit list of
 * chunk lengths on an axis (list[a], nlist[a] entries summing to the axis length) wins over
 * size[a]. A NULL `const da_chunks *` means "auto" on every axis. */
#define DA_CHUNK_WHOLE (-1)
#define DA_CHUNK_AUTO (-2)

typedef struct da_chunks {
  int64_t size[DA_MAX_NDIM];
  const int64_t *list[DA_MAX_NDIM];
  int64_t nlist[DA_MAX_NDIM];
  int64_t auto_bytes; /* target bytes for DA_CHUNK_AUTO axes; 0: the context's */
} da_chunks;

/* DA_CHUNKS(2000, 2000): one chunk size per axis, in order. */
#define DA_CHUNKS(...) (&(const da_chunks){.size = {__VA_ARGS__}})

/* ---------------------------------------------------------------- arrays */

/* Local. Metadata of an array; pointers stay valid while the array lives. */
DA_EXPORT da_ctx da_array_ctx(da_array a);
DA_EXPORT int da_array_ndim(da_array a);
DA_EXPORT const int64_t *da_array_shape(da_array a);
DA_EXPORT da_dtype da_array_dtype(da_array a);
DA_EXPORT int64_t da_array_size(da_array a);   /* elements */
DA_EXPORT int64_t da_array_nbytes(da_array a); /* bytes */
/* Blocks per axis, their product, and the largest chunk per axis. */
DA_EXPORT const int64_t *da_array_numblocks(da_array a);
DA_EXPORT int64_t da_array_nblocks(da_array a);
DA_EXPORT const int64_t *da_array_chunksize(da_array a);
/* The chunk lengths along `axis` (da_array_numblocks(a)[axis] of them). */
DA_EXPORT const int64_t *da_array_chunks(da_array a, int axis);
/* The process grid: ranks along each axis (block (b0, b1, ...) lives at (b0 % P0, ...)). */
DA_EXPORT const int *da_array_procgrid(da_array a);
/* Nonzero when the array is a lazy graph node, zero when its blocks are materialized. */
DA_EXPORT int da_array_is_lazy(da_array a);

/* Local. The rank owning block bidx[], its shape and its global offset. */
DA_API int da_array_block_owner(da_array a, const int64_t bidx[], int *rank);
DA_API int da_array_block_shape(da_array a, const int64_t bidx[], int64_t shape[]);
DA_API int da_array_block_offset(da_array a, const int64_t bidx[], int64_t offset[]);

/* Local. This rank's blocks, in ascending C order of block index: their count, and the
 * block index of the k-th one. */
DA_EXPORT int64_t da_array_local_nblocks(da_array a);
DA_API int da_array_local_block_index(da_array a, int64_t k, int64_t bidx[]);
/* Local. Pointer to the k-th local block of a materialized array (C order, the block's
 * shape): read it, or write it to change the array in place. */
DA_API int da_array_local_block(da_array a, int64_t k, void **data);

/* Local. Another reference to the same array. */
DA_API int da_array_ref(da_array a, da_array *out);
/* Local. Drops a reference and sets *a to NULL (NULL is a no-op). Every rank should destroy
 * its handles in the same order, as the arrays are one distributed object. */
DA_EXPORT int da_array_destroy(da_array *a);

/* Local. Writes a text summary (bytes, shape, chunks, graph layers and tasks, dtype,
 * process grid) into buf; returns the length it needed, like snprintf. */
DA_EXPORT int da_array_summary(da_array a, char *buf, size_t len);

/* ---------------------------------------------------------------- creation (lazy) */

/* Collective: every rank passes the same arguments. */
DA_API int da_empty(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                    da_dtype dt, da_array *out);
DA_API int da_zeros(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                    da_dtype dt, da_array *out);
DA_API int da_ones(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                   da_dtype dt, da_array *out);
DA_API int da_full(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                   da_dtype dt, double value, da_array *out);
/* Collective. Values start + i*step for i in [0, ceil((stop - start) / step)). */
DA_API int da_arange(da_ctx ctx, double start, double stop, double step, const da_chunks *chunks,
                     da_dtype dt, da_array *out);
/* Collective. num values from start to stop (stop included when endpoint is nonzero). */
DA_API int da_linspace(da_ctx ctx, double start, double stop, int64_t num, int endpoint,
                       const da_chunks *chunks, da_dtype dt, da_array *out);
/* Collective. n x m with ones on diagonal k (k > 0 above the main diagonal). */
DA_API int da_eye(da_ctx ctx, int64_t n, int64_t m, int64_t k, const da_chunks *chunks, da_dtype dt,
                  da_array *out);
/* Collective. Same shape, chunks and dtype as a. */
DA_API int da_empty_like(da_array a, da_array *out);
DA_API int da_zeros_like(da_array a, da_array *out);
DA_API int da_ones_like(da_array a, da_array *out);
DA_API int da_full_like(da_array a, double value, da_array *out);

/* Collective. Random arrays from a counter-based generator keyed by (seed, global element
 * index): the same seed gives the same array for any chunking and any number of ranks.
 * uniform: [low, high); normal: mean loc, standard deviation scale (float32 or float64);
 * randint: integers in [low, high) of an integer dtype. */
DA_API int da_random_uniform(da_ctx ctx, uint64_t seed, double low, double high, int ndim,
                             const int64_t shape[], const da_chunks *chunks, da_dtype dt,
                             da_array *out);
DA_API int da_random_normal(da_ctx ctx, uint64_t seed, double loc, double scale, int ndim,
                            const int64_t shape[], const da_chunks *chunks, da_dtype dt,
                            da_array *out);
DA_API int da_random_randint(da_ctx ctx, uint64_t seed, int64_t low, int64_t high, int ndim,
                             const int64_t shape[], const da_chunks *chunks, da_dtype dt,
                             da_array *out);

/* ---------------------------------------------------------------- user memory */

/* What darray does with a buffer it is given: copy it, borrow it (the caller keeps it
 * alive and unchanged until the array is destroyed), or own it (darray free()s it). */
typedef enum { DA_COPY, DA_BORROW, DA_OWN } da_ownership;

/* Collective. A materialized array from a whole C-order array held on rank `root` (buf and
 * bufbytes are read on root only); the blocks are scattered to their owners. */
DA_API int da_from_root(da_ctx ctx, int root, int ndim, const int64_t shape[],
                        const da_chunks *chunks, da_dtype dt, const void *buf, size_t bufbytes,
                        da_array *out);
/* Collective. A materialized array from each rank's own blocks: blocks[k] holds the k-th
 * local block (see da_array_local_block_index) in C order, bytes[k] its size in bytes. */
DA_API int da_from_blocks(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *chunks,
                          da_dtype dt, void *const blocks[], const size_t bytes[], da_ownership own,
                          da_array *out);

/* Collective. Runs the graph and gathers the whole array in C order into buf on rank `root`
 * (or on every rank with DA_ALL_RANKS); buf is ignored on the other ranks. */
DA_API int da_compute(da_array a, int root, void *buf, size_t bufbytes);
/* Collective. Runs the graph and keeps the result distributed: a becomes materialized. */
DA_API int da_persist(da_array a);
/* Collective. Runs the graph and copies each local block k into bufs[k] (bytes[k] long). */
DA_API int da_to_blocks(da_array a, void *const bufs[], const size_t bytes[]);

/* ---------------------------------------------------------------- blocks */

/* Collective. The lazy sub-array of blocks start[a] <= b < stop[a] along each axis (like
 * arr.blocks[s0:e0, s1:e1]); negative values count from the end. */
DA_API int da_blocks(da_array a, const int64_t start[], const int64_t stop[], da_array *out);
/* Collective. The single block bidx[] as a lazy array (arr.blocks[i, j]). */
DA_API int da_block(da_array a, const int64_t bidx[], da_array *out);

/* ---------------------------------------------------------------- elementwise (lazy) */

/* An operand: an array or a scalar. Scalars are "weak", as Python numbers are in NumPy 2
 * (NEP 50): an int scalar takes an integer array's dtype (it must fit: int8 + 300 is an
 * error), a float scalar takes a float array's dtype and makes an integer array float64. */
typedef enum {
  DA_VALUE_ARRAY,
  DA_VALUE_BOOL,
  DA_VALUE_INT,
  DA_VALUE_UINT,
  DA_VALUE_FLOAT
} da_value_kind;

typedef struct da_value {
  da_value_kind kind;
  da_array array; /* DA_VALUE_ARRAY */
  int64_t i;      /* DA_VALUE_INT, DA_VALUE_BOOL */
  uint64_t u;     /* DA_VALUE_UINT */
  double f;       /* DA_VALUE_FLOAT */
} da_value;

static inline da_value da_value_array(da_array a) {
  da_value v = {DA_VALUE_ARRAY, a, 0, 0, 0};
  return v;
}
static inline da_value da_value_bool(int b) {
  da_value v = {DA_VALUE_BOOL, NULL, b != 0, 0, 0};
  return v;
}
static inline da_value da_value_int(int64_t i) {
  da_value v = {DA_VALUE_INT, NULL, i, 0, 0};
  return v;
}
static inline da_value da_value_uint(uint64_t u) {
  da_value v = {DA_VALUE_UINT, NULL, 0, u, 0};
  return v;
}
static inline da_value da_value_float(double f) {
  da_value v = {DA_VALUE_FLOAT, NULL, 0, 0, f};
  return v;
}
static inline da_value da_value_same(da_value v) {
  return v;
}

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/* DA_V(x): an operand from an array, a C number or a da_value, by its C type. C's `true`
 * is the int 1, so DA_V(true) is an int scalar; a bool scalar is da_value_bool(1). */
#define DA_V(x)                                                                                    \
  _Generic((x), da_array                                                                           \
           : da_value_array, da_value                                                              \
           : da_value_same, _Bool                                                                  \
           : da_value_bool, char                                                                   \
           : da_value_int, signed char                                                             \
           : da_value_int, short                                                                   \
           : da_value_int, int                                                                     \
           : da_value_int, long                                                                    \
           : da_value_int, long long                                                               \
           : da_value_int, unsigned char                                                           \
           : da_value_uint, unsigned short                                                         \
           : da_value_uint, unsigned int                                                           \
           : da_value_uint, unsigned long                                                          \
           : da_value_uint, unsigned long long                                                     \
           : da_value_uint, float                                                                  \
           : da_value_float, double                                                                \
           : da_value_float)(x)
#endif

typedef enum {
  DA_ADD,          /* x + y */
  DA_SUBTRACT,     /* x - y */
  DA_MULTIPLY,     /* x * y */
  DA_DIVIDE,       /* x / y, true division: integers give float64 */
  DA_FLOOR_DIVIDE, /* x // y, rounded down; integer division by zero gives 0 */
  DA_REMAINDER,    /* x % y with the sign of y; integer remainder by zero gives 0 */
  DA_POWER,        /* x ** y; integers to negative integer powers are an error */
  DA_MAXIMUM,      /* NaN propagates */
  DA_MINIMUM,      /* NaN propagates */
  DA_ARCTAN2,      /* floats */
  DA_HYPOT,        /* floats */
  DA_EQUAL,        /* comparisons give bool */
  DA_NOT_EQUAL,
  DA_LESS,
  DA_LESS_EQUAL,
  DA_GREATER,
  DA_GREATER_EQUAL,
  DA_LOGICAL_AND, /* logical operations take any dtype (nonzero is true), give bool */
  DA_LOGICAL_OR,
  DA_LOGICAL_XOR,
  DA_BITWISE_AND, /* bitwise operations take integers and bool */
  DA_BITWISE_OR,
  DA_BITWISE_XOR,
  DA_NBINARY
} da_binary_op;

typedef enum {
  DA_NEGATIVE,
  DA_ABSOLUTE,
  DA_EXP, /* math functions give float64 for integers (float32 for 8-bit ones and bool) */
  DA_EXPM1,
  DA_LOG,
  DA_LOG1P,
  DA_LOG2,
  DA_LOG10,
  DA_SQRT,
  DA_SQUARE,
  DA_SIN,
  DA_COS,
  DA_TAN,
  DA_ARCSIN,
  DA_ARCCOS,
  DA_ARCTAN,
  DA_SINH,
  DA_COSH,
  DA_TANH,
  DA_FLOOR, /* floor, ceil and rint keep integer dtypes */
  DA_CEIL,
  DA_RINT, /* round half to even */
  DA_SIGN,
  DA_LOGICAL_NOT, /* gives bool */
  DA_BITWISE_NOT, /* integers and bool */
  DA_ISNAN,       /* give bool */
  DA_ISINF,
  DA_ISFINITE,
  DA_NUNARY
} da_unary_op;

/* Collective. Elementwise x op y with NumPy's broadcasting (axes of length 1 stretch, missing
 * leading axes are added) and type promotion. At least one operand is an array. When the
 * arrays' chunks differ, the result takes the chunks of the largest operand and the others'
 * blocks are moved to match. */
DA_API int da_binary(da_binary_op op, da_value x, da_value y, da_array *out);
/* Collective. Elementwise op of a. */
DA_API int da_unary(da_unary_op op, da_array a, da_array *out);
/* Local. The dtype NumPy gives x op y (comparisons and logical ops aside: their inputs are
 * promoted to it, their result is bool). */
DA_API int da_result_type(da_value x, da_value y, da_dtype *out);

DA_API int da_add(da_value x, da_value y, da_array *out);
DA_API int da_subtract(da_value x, da_value y, da_array *out);
DA_API int da_multiply(da_value x, da_value y, da_array *out);
DA_API int da_divide(da_value x, da_value y, da_array *out);
DA_API int da_floor_divide(da_value x, da_value y, da_array *out);
DA_API int da_remainder(da_value x, da_value y, da_array *out);
DA_API int da_power(da_value x, da_value y, da_array *out);
DA_API int da_maximum(da_value x, da_value y, da_array *out);
DA_API int da_minimum(da_value x, da_value y, da_array *out);
DA_API int da_arctan2(da_value x, da_value y, da_array *out);
DA_API int da_hypot(da_value x, da_value y, da_array *out);
DA_API int da_equal(da_value x, da_value y, da_array *out);
DA_API int da_not_equal(da_value x, da_value y, da_array *out);
DA_API int da_less(da_value x, da_value y, da_array *out);
DA_API int da_less_equal(da_value x, da_value y, da_array *out);
DA_API int da_greater(da_value x, da_value y, da_array *out);
DA_API int da_greater_equal(da_value x, da_value y, da_array *out);
DA_API int da_logical_and(da_value x, da_value y, da_array *out);
DA_API int da_logical_or(da_value x, da_value y, da_array *out);
DA_API int da_logical_xor(da_value x, da_value y, da_array *out);
DA_API int da_bitwise_and(da_value x, da_value y, da_array *out);
DA_API int da_bitwise_or(da_value x, da_value y, da_array *out);
DA_API int da_bitwise_xor(da_value x, da_value y, da_array *out);

DA_API int da_negative(da_array a, da_array *out);
DA_API int da_absolute(da_array a, da_array *out);
DA_API int da_exp(da_array a, da_array *out);
DA_API int da_expm1(da_array a, da_array *out);
DA_API int da_log(da_array a, da_array *out);
DA_API int da_log1p(da_array a, da_array *out);
DA_API int da_log2(da_array a, da_array *out);
DA_API int da_log10(da_array a, da_array *out);
DA_API int da_sqrt(da_array a, da_array *out);
DA_API int da_square(da_array a, da_array *out);
DA_API int da_sin(da_array a, da_array *out);
DA_API int da_cos(da_array a, da_array *out);
DA_API int da_tan(da_array a, da_array *out);
DA_API int da_arcsin(da_array a, da_array *out);
DA_API int da_arccos(da_array a, da_array *out);
DA_API int da_arctan(da_array a, da_array *out);
DA_API int da_sinh(da_array a, da_array *out);
DA_API int da_cosh(da_array a, da_array *out);
DA_API int da_tanh(da_array a, da_array *out);
DA_API int da_floor(da_array a, da_array *out);
DA_API int da_ceil(da_array a, da_array *out);
DA_API int da_rint(da_array a, da_array *out);
DA_API int da_sign(da_array a, da_array *out);
DA_API int da_logical_not(da_array a, da_array *out);
DA_API int da_bitwise_not(da_array a, da_array *out);
DA_API int da_isnan(da_array a, da_array *out);
DA_API int da_isinf(da_array a, da_array *out);
DA_API int da_isfinite(da_array a, da_array *out);
/* Collective. Round half to even at `decimals` digits (negative: left of the point), as
 * np.round; integer dtypes stay integers. */
DA_API int da_round(da_array a, int decimals, da_array *out);
/* Collective. min(max(a, lo), hi) elementwise, broadcast, NaN propagating. */
DA_API int da_clip(da_value a, da_value lo, da_value hi, da_array *out);
/* Collective. x where cond is nonzero, else y; broadcast over all three. */
DA_API int da_where(da_value cond, da_value x, da_value y, da_array *out);
/* Collective. a converted to dt (float to integer: NaN gives 0, out of range saturates). */
DA_API int da_astype(da_array a, da_dtype dt, da_array *out);
/* Collective. a broadcast to shape (a view: no data is copied until computed); the result
 * keeps a's chunks on its own axes. */
DA_API int da_broadcast_to(da_array a, int ndim, const int64_t shape[], da_array *out);

/* ---------------------------------------------------------------- rechunk (lazy) */

/* Collective. a with new chunks: per axis a size, an explicit list, DA_CHUNK_WHOLE or
 * DA_CHUNK_AUTO (NULL chunks: auto on every axis), like darr.rechunk({0: -1, 1: 100,
 * 2: "auto"}). Only the intersections of old and new blocks move between ranks, each as one
 * packed box; fused into an elementwise op or a reduction the result is never stored. The
 * same chunks give a new reference to a. */
DA_API int da_rechunk(da_array a, const da_chunks *chunks, da_array *out);

/* ---------------------------------------------------------------- indexing (lazy) */

/* One entry of an index expression, as in NumPy's x[...]: a slice (start/stop may be
 * DA_NONE, as an omitted bound; step nonzero, negative too), an integer (drops the axis;
 * negative counts from the end), a new axis of length 1, Ellipsis (the rest of the axes),
 * or a list of integer indices along one axis ("fancy" indexing; repeats, any order). */
typedef enum {
  DA_IDX_SLICE,
  DA_IDX_INT,
  DA_IDX_NEWAXIS,
  DA_IDX_ELLIPSIS,
  DA_IDX_LIST
} da_index_kind;
#define DA_NONE INT64_MIN
typedef struct da_index {
  da_index_kind kind;
  int64_t start, stop, step; /* slice; an integer is start */
  const int64_t *list;       /* list: nlist indices */
  int64_t nlist;
} da_index;
#define DA_SLICE(start, stop, step) ((da_index){DA_IDX_SLICE, (start), (stop), (step), NULL, 0})
#define DA_ALL DA_SLICE(DA_NONE, DA_NONE, 1)
#define DA_AT(i) ((da_index){DA_IDX_INT, (i), 0, 0, NULL, 0})
#define DA_NEWAXIS ((da_index){DA_IDX_NEWAXIS, 0, 0, 0, NULL, 0})
#define DA_ELLIPSIS ((da_index){DA_IDX_ELLIPSIS, 0, 0, 0, NULL, 0})
#define DA_LIST(list, n) ((da_index){DA_IDX_LIST, 0, 0, 0, (list), (n)})
/* The count and array of an index expression: da_getitem(x, DA_INDEX(DA_ALL, DA_AT(3)), &y). */
#define DA_INDEX(...)                                                                              \
  (int)(sizeof((const da_index[]){__VA_ARGS__}) / sizeof(da_index)), (const da_index[]) {          \
    __VA_ARGS__                                                                                    \
  }

/* Collective. a[index...]: basic slicing, integers, new axes, Ellipsis and at most one list.
 * The result keeps the blocks it was cut from on the ranks that hold them: a slice inside
 * blocks moves no data. */
DA_API int da_getitem(da_array a, int n, const da_index index[], da_array *out);
/* Collective. a with the elements a[index...] replaced by value (a scalar, or an array that
 * broadcasts to the selection's shape): a new lazy array; a is unchanged. */
DA_API int da_setitem(da_array a, int n, const da_index index[], da_value value, da_array *out);
/* Collective. Elements of a along axis at the integer positions in the 1-D array indices
 * (computed first, on every rank); as a[..., indices, ...]. */
DA_API int da_take(da_array a, da_array indices, int axis, da_array *out);
/* Collective. a[mask]: mask is bool with a's shape, or 1-D along axis (axis ignored for a
 * mask of a's shape). The result is 1-D in C order (the kept slices along axis for a 1-D
 * mask). Its chunk sizes are exact: the planning step counts the mask's true elements per
 * block (computing the mask once) and the ranks exchange those counts. */
DA_API int da_compress(da_array a, da_array mask, int axis, da_array *out);
DA_API int da_mask_select(da_array a, da_array mask, da_array *out);
/* Collective. a[mask] = value (where(mask, value, a)): mask broadcasts to a's shape. */
DA_API int da_mask_assign(da_array a, da_array mask, da_value value, da_array *out);

/* Collective. Axes permuted (axes NULL: reversed, as a.T); moveaxis, swapaxes, squeeze
 * (axes NULL: every axis of length 1), expand_dims (new axes at the result's positions
 * axes[]), flip (axes NULL: every axis), roll (shift along each listed axis; elements
 * leaving one end come back at the other), as NumPy. No data moves: the result's blocks
 * are the source blocks, read in another order. */
DA_API int da_transpose(da_array a, const int axes[], da_array *out);
DA_API int da_moveaxis(da_array a, int n, const int source[], const int destination[],
                       da_array *out);
DA_API int da_swapaxes(da_array a, int axis1, int axis2, da_array *out);
DA_API int da_squeeze(da_array a, int naxes, const int axes[], da_array *out);
DA_API int da_expand_dims(da_array a, int naxes, const int axes[], da_array *out);
DA_API int da_flip(da_array a, int naxes, const int axes[], da_array *out);
DA_API int da_roll(da_array a, int naxes, const int64_t shift[], const int axes[], da_array *out);
/* Collective. n-th discrete difference along axis: a[1:] - a[:-1], n times. */
DA_API int da_diff(da_array a, int n, int axis, da_array *out);
/* Collective. a padded by width[d][0] elements before and width[d][1] after each axis d. */
typedef enum { DA_PAD_CONSTANT, DA_PAD_EDGE, DA_PAD_REFLECT, DA_PAD_WRAP } da_pad_mode;
DA_API int da_pad(da_array a, const int64_t width[][2], da_pad_mode mode, double constant,
                  da_array *out);

/* ---------------------------------------------------------------- joining (lazy) */

/* Collective. The n arrays joined along an existing axis (negative counts from the end), as
 * np.concatenate: all other lengths must match; the dtype is their common one (as
 * da_result_type). The result keeps each array's chunks along axis and the largest array's
 * chunks on the other axes; where the arrays' process grids agree, blocks stay where they are. */
DA_API int da_concatenate(int n, const da_array arrays[], int axis, da_array *out);
/* Collective. The n arrays, all of one shape, joined along a new axis placed at position axis
 * (-(ndim + 1) <= axis <= ndim), as np.stack. */
DA_API int da_stack(int n, const da_array arrays[], int axis, da_array *out);
/* Collective. np.block over a regular nested list: depth levels, counts[l] entries at level l,
 * arrays[] in row-major order over counts (e.g. [[a, b], [c, d]]: depth 2, counts {2, 2},
 * arrays {a, b, c, d}). Arrays gain leading axes of length 1 up to max(depth, their ndims);
 * the innermost lists join along the last axis, the next level along the one before it. */
DA_API int da_assemble(int depth, const int64_t counts[], const da_array arrays[], da_array *out);

/* ---------------------------------------------------------------- reshape (lazy) */

/* Collective. a with another shape of the same element count, elements in C order, as
 * np.reshape; one entry of shape may be -1 (inferred). The result's chunks line up with a's
 * blocks in C order where the shapes allow it, so an output block reads few input blocks and
 * blocks that map one to one stay on their ranks. The same shape gives a new reference to a. */
DA_API int da_reshape(da_array a, int ndim, const int64_t shape[], da_array *out);
/* Collective. a as a 1-D array in C order (da_reshape to (size,)). */
DA_API int da_ravel(da_array a, da_array *out);

/* ---------------------------------------------------------------- block functions (lazy) */

/* What a block function sees of one output block. Inputs are C-order blocks of their own
 * dtype; out is the output block to fill (out_shape, in the output dtype). For map_overlap
 * the inputs are extended by halo_lo[d] / halo_hi[d] cells before / after the block along
 * each axis d (0 at an array edge with DA_BOUNDARY_NONE); block_offset is the global index
 * of the block's first element without its halo. */
typedef struct da_block_info {
  int nin;
  const void *const *in;
  const int64_t *const *in_shape;
  const da_dtype *in_dtype;
  int in_ndim;
  void *out;
  int out_ndim;
  /* The declared shape of the output block. A function that produced another shape may
   * write it here: darray then fails with DA_ERR_SHAPE on every rank. */
  int64_t *out_shape;
  da_dtype out_dtype;
  const int64_t *block_index;  /* of the input blocks, per input axis */
  const int64_t *block_offset; /* per input axis */
  const int64_t *halo_lo, *halo_hi;
} da_block_info;
/* Returns 0, or nonzero for an error (reported on every rank as DA_ERR_USER). */
typedef int (*da_block_fn)(const da_block_info *info, void *user);

/* The output of a block function, per output axis d: src[d] is the input axis it follows
 * (-1: a new axis of one block, of length size[d]); its chunks are the input's (size[d] 0,
 * list[d] NULL), size[d] per block, or list[d] (numblocks of that input axis entries). Input
 * axes no output axis follows are dropped and must have one block. NULL: same as input. */
typedef struct da_map_out {
  int ndim;
  int src[DA_MAX_NDIM];
  int64_t size[DA_MAX_NDIM];
  const int64_t *list[DA_MAX_NDIM];
} da_map_out;

/* Collective. fn on every block of the n inputs, which are first broadcast and aligned to
 * one block grid (the largest input's). The output has dtype out_dtype and the chunks out
 * declares. */
DA_API int da_map_blocks(da_block_fn fn, void *user, int n, const da_array in[], da_dtype out_dtype,
                         const da_map_out *out_chunks, da_array *out);

/* Boundary rules of an overlap, per axis: the array edge gets no halo (NONE), or the halo
 * wraps around (PERIODIC), mirrors the edge cells including the edge (REFLECT, as Dask's
 * and scipy.ndimage's 'reflect', NumPy's pad mode 'symmetric'), repeats the edge cell
 * (NEAREST) or holds a constant. */
typedef enum {
  DA_BOUNDARY_NONE,
  DA_BOUNDARY_PERIODIC,
  DA_BOUNDARY_REFLECT,
  DA_BOUNDARY_NEAREST,
  DA_BOUNDARY_CONSTANT
} da_boundary;

/* Collective. x with each block extended by depth[d] cells of its neighbours on both sides
 * of axis d (boundary[d] at the array edges; constant for DA_BOUNDARY_CONSTANT). A depth
 * larger than the neighbouring block reaches into the blocks beyond it. Only the halo
 * slabs cross ranks. The result has x's block grid and larger chunks. */
DA_API int da_overlap(da_array x, const int64_t depth[], const da_boundary boundary[],
                      double constant, da_array *out);
/* Collective. Removes the halos da_overlap(x of the same depth and boundary) added. */
DA_API int da_trim_overlap(da_array x, const int64_t depth[], const da_boundary boundary[],
                           da_array *out);
/* map_overlap flags. TRIM: fn writes only the block's own cells (out_shape is the block's
 * shape without halo, the cheapest form); without it fn writes the extended block and the
 * result keeps the halos (da_trim_overlap removes them). LOCAL, with TRIM: fn is a stencil,
 * each output cell depending only on the input within depth of it and not on where the
 * block ends, so darray may call it on slabs of a block (fewer cells along axis 0, each
 * slab with halos of depth rows, block_offset its own) to keep the work in cache. */
#define DA_OVERLAP_TRIM 1
#define DA_OVERLAP_LOCAL 2
/* Collective. fn on the extended blocks of x (da_overlap); flags as above (1: TRIM, as a
 * boolean trim). */
DA_API int da_map_overlap(da_block_fn fn, void *user, da_array x, const int64_t depth[],
                          const da_boundary boundary[], double constant, da_dtype out_dtype,
                          int trim, da_array *out);

/* Collective. Filters on map_overlap, results in float64 (float32 for float32 input),
 * boundary per axis (NULL: DA_BOUNDARY_REFLECT on every axis). uniform_filter: the mean
 * over a window of size[d] cells along each axis (scipy.ndimage.uniform_filter: centred
 * at size/2). convolve: scipy.ndimage.convolve with a kernel of x's ndim (kshape, C order,
 * float64). laplace: the sum of second differences along every axis. gradient: NumPy's
 * central differences along axis, one-sided at the array edges, spacing 1. */
DA_API int da_uniform_filter(da_array x, const int64_t size[], const da_boundary boundary[],
                             da_array *out);
DA_API int da_convolve(da_array x, const double *kernel, const int64_t kshape[],
                       const da_boundary boundary[], double constant, da_array *out);
DA_API int da_laplace(da_array x, const da_boundary boundary[], da_array *out);
DA_API int da_gradient(da_array x, int axis, da_array *out);

/* ---------------------------------------------------------------- reductions (lazy) */

/* Collective. Reduce over `naxes` axes listed in axes[] (naxes == 0 or axes == NULL: every
 * axis), keeping them with length 1 when keepdims is nonzero. NumPy's result dtypes: sums of
 * integers are int64 (uint64 for unsigned), mean is float64 (float32 for float32). */
DA_API int da_sum(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_mean(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_min(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_max(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* Product: integers in int64 (uint64 for unsigned), wrapping as NumPy does. */
DA_API int da_prod(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* Variance and standard deviation with divisor N - ddof (float64; float32 for float32).
 * Partials carry (count, mean, M2) and merge with Chan's formula. ddof >= N is an error. */
DA_API int da_var(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof,
                  da_array *out);
DA_API int da_std(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof,
                  da_array *out);
/* Index (int64) of the first minimum / maximum over the reduced axes, counted in C order
 * over those axes alone (over all axes: the flat index, as np.argmin(a)); NaN wins. */
DA_API int da_argmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_argmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* Bool: any element nonzero / all nonzero (NaN counts as nonzero). */
DA_API int da_any(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_all(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* int64: nonzero elements. */
DA_API int da_count_nonzero(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* NaN-skipping forms: NaN counts as absent (for integer dtypes they equal the plain ones).
 * nanmin/nanmax of an all-NaN slice give NaN; nanargmin/nanargmax of one are an error. */
DA_API int da_nansum(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_nanmean(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_nanmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_nanmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_nanvar(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof,
                     da_array *out);
DA_API int da_nanstd(da_array a, int naxes, const int axes[], int keepdims, int64_t ddof,
                     da_array *out);
DA_API int da_nanargmin(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
DA_API int da_nanargmax(da_array a, int naxes, const int axes[], int keepdims, da_array *out);

/* ---------------------------------------------------------------- histograms */

/* Collective. numpy.histogram of a's values with `bins` equal bins over range[0] ..
 * range[1], the last bin closed; values outside and NaN are not counted. range NULL: a's
 * own min and max, found first in one pass (NaN in a is then an error). *hist: int64
 * counts, lazy, (bins,) in one block; float64 with weights (an array of a's shape: the sum
 * of the weights per bin) or density (each bin's share of the total over its width).
 * edges, when not NULL, receives the bins + 1 edges. Bins are NumPy's exactly, and the
 * result is the same for any number of ranks. */
DA_API int da_histogram(da_array a, int64_t bins, const double range[2], da_array weights,
                        int density, da_array *hist, double *edges);
/* Collective. The same with nedges explicit, increasing (possibly uneven) bin edges. */
DA_API int da_histogram_edges(da_array a, int64_t nedges, const double edges[], da_array weights,
                              int density, da_array *hist);
/* Collective. numpy.histogramdd of N points in D dimensions, sample of shape (N, D): bins[d]
 * equal bins per column over range[d] (NULL: each column's own min and max, found first),
 * the last bin of each closed. weights: NULL or (N,). *hist has shape bins[0..D-1] (int64;
 * float64 with weights or density), lazy, in one block; edges, when not NULL, receives each
 * column's bins[d] + 1 edges in turn. */
DA_API int da_histogramdd(da_array sample, const int64_t bins[], const double range[][2],
                          da_array weights, int density, da_array *hist, double *edges);
/* Collective. numpy.histogram2d of 1-D x and y of one length: histogramdd of the (N, 2)
 * sample they make. */
DA_API int da_histogram2d(da_array x, da_array y, const int64_t bins[2], const double range[2][2],
                          da_array weights, int density, da_array *hist, double *edges);
/* Collective. numpy.bincount: how many times each value 0 .. max(a) occurs in a (an integer
 * array of any shape, read flat), or the sum of the weights (an array of a's shape, float64)
 * at those places; at least minlength bins. The length is found first, in one pass; a
 * negative value is an error. *out: int64 (float64 with weights), lazy, in one block. */
DA_API int da_bincount(da_array a, da_array weights, int64_t minlength, da_array *out);
/* Collective. numpy.digitize: for each element, the index of the bin it falls in, among
 * nbins monotonic (increasing or decreasing) bin edges; right chooses which side of a bin
 * is closed, as in NumPy. NaN goes past the last bin. *out: int64 of a's shape, lazy. */
DA_API int da_digitize(da_array a, int64_t nbins, const double bins[], int right, da_array *out);

/* ---------------------------------------------------------------- quantiles */

/* Collective. numpy.quantile (q in [0, 1]) / numpy.percentile (q in [0, 100]) with NumPy's
 * default linear interpolation, exact: the nq quantiles of a over naxes axes listed in
 * axes[] (naxes 0 or axes NULL: every axis), kept with length 1 when keepdims is nonzero.
 * *out has shape (nq,) + the remaining shape, float64 for every dtype, as np.quantile with
 * an array of q (bool counts as 0 and 1; integer differences b - a wrap in the input's type,
 * as NumPy's do); a lane holding NaN gives NaN. Over every axis the order statistics are found by
 * distributed selection (a few passes, each counting against candidate keys; no rank gathers the
 * data) and *out is materialized; over some axes the reduced axes are gathered per lane (rechunked
 * whole) and each lane is selected in place, lazily. A q outside its range, NaN in q or an
 * empty array is DA_ERR_ARG on every rank. median: np.median, with no leading axis: the
 * middle element, or the mean of the two middle ones (float32 for float32 input). */
DA_API int da_quantile(da_array a, int64_t nq, const double q[], int naxes, const int axes[],
                       int keepdims, da_array *out);
DA_API int da_percentile(da_array a, int64_t nq, const double q[], int naxes, const int axes[],
                         int keepdims, da_array *out);
DA_API int da_median(da_array a, int naxes, const int axes[], int keepdims, da_array *out);
/* Collective. Approximate quantiles of the whole of a (q in [0, 1]) from one histogram
 * sketch (a min/max pass, then a pass counting into 65536 bins): values[i] is within
 * bounds[i] of the exact quantile, which lies in the same bin. Both arrays receive nq
 * doubles on every rank; NaN in a gives NaN values and bounds. The bounds hold against
 * NumPy's value except where a signed integer b - a wraps or overflows to inf. */
DA_API int da_quantile_approx(da_array a, int64_t nq, const double q[], double values[],
                              double bounds[]);

/* ---------------------------------------------------------------- sorting and searching */

/* Collective. a sorted along axis (negative counts from the end) in ascending order, NaN
 * last, as np.sort; argsort gives the int64 indices along axis that sort it, equal elements
 * in index order (np.argsort(kind="stable")). Both keep a's shape and chunks. A 1-D array
 * is sorted by a distributed sample sort: each rank sorts its own elements, splitters found by
 * exact distributed selection cut the sorted order at the output's block boundaries, and each
 * element travels once, to the rank owning its output block (materialized, balanced as the
 * chunks are). Along an axis of an n-D array the axis is gathered whole per lane (rechunked)
 * and sorted in place, lazily. The bits are the same for any number of ranks: sort puts
 * -0.0 before +0.0 and writes every NaN as the default quiet NaN. */
DA_API int da_sort(da_array a, int axis, da_array *out);
DA_API int da_argsort(da_array a, int axis, da_array *out);
/* Collective. np.unique of a flattened: the sorted distinct values (NaN last, each NaN
 * distinct only once, as NumPy >= 1.21 with equal_nan, written as the default quiet NaN; a
 * zero is kept as -0.0 when any element is -0.0), and when not NULL their int64 counts and
 * the int64 inverse (a.size elements: a.flat[i] == values[inverse[i]], in the chunks of
 * a's ravel). All are materialized 1-D arrays; values and counts are in chunks of as many
 * elements as a's largest block. */
DA_API int da_unique(da_array a, da_array *values, da_array *counts, da_array *inverse);
/* Collective. np.searchsorted(a, v, side): for each element of v, the int64 index where it
 * would go in the sorted 1-D array a to keep it sorted (right nonzero: after equal
 * elements); NaN sorts last; values compare after NumPy's type promotion. The result has
 * v's shape and chunks, materialized, its blocks on v's ranks. Each element of v travels to
 * the rank holding the block of a it falls in and back; a is not gathered. An a that is
 * not sorted gives unspecified indices, as NumPy's. */
DA_API int da_searchsorted(da_array a, da_array v, int right, da_array *out);

/* ---------------------------------------------------------------- selection */

/* Collective. Dask's topk / argtopk along axis: the k largest elements (k > 0) in
 * descending order, or the -k smallest (k < 0) in ascending order; argtopk gives their
 * int64 indices along axis. NaN counts as the largest; ties go to the lower index. The
 * result has a's shape with |k| along axis, in one block there. Each block keeps its own
 * top |k| per lane first, then one combining step per lane merges those. |k| of 0 or
 * larger than the axis is DA_ERR_ARG on every rank. */
DA_API int da_topk(da_array a, int64_t k, int axis, da_array *out);
DA_API int da_argtopk(da_array a, int64_t k, int axis, da_array *out);
/* Collective. np.isin: a bool array of element's shape, true where the element is among
 * test's values (invert nonzero: where it is not). test is computed and sorted on every rank
 * first; element is then tested block by block, lazily. NaN is in no set. */
DA_API int da_isin(da_array element, da_array test, int invert, da_array *out);
/* Collective. np.nonzero: a->ndim int64 1-D arrays (written to out[0 .. ndim-1]) of the
 * indices of the nonzero elements in C order, one per axis; np.argwhere: those as the
 * columns of one (count, ndim) array. Lazy, with exact chunks (the nonzero elements are
 * counted per block first, as in da_mask_select). A 0-d array is DA_ERR_SHAPE. */
DA_API int da_nonzero(da_array a, da_array out[]);
DA_API int da_argwhere(da_array a, da_array *out);

/* Collective. Cumulative sum / product along axis (negative counts from the end), as a
 * blocked scan; same shape and chunks as a, NumPy's dtypes (those of sum and prod). */
DA_API int da_cumsum(da_array a, int axis, da_array *out);
DA_API int da_cumprod(da_array a, int axis, da_array *out);

/* ---------------------------------------------------------------- linear algebra: products */

/* Collective. Products, as NumPy: matmul (a @ b) of 2-D x 2-D, 2-D x 1-D, 1-D x 2-D and
 * 1-D x 1-D (a 0-d result), and stacked for > 2-D with the leading axes broadcast; dot
 * (a product over a's last axis and b's second to last; 0-d operands multiply); tensordot
 * over the naxes axis pairs (axes_a[i], axes_b[i]) (negative counting from the end); vdot
 * (both flattened; a 0-d result); outer (both flattened); trace (the sum of diagonal
 * offset of axes 0 and 1); diagonal (diagonal offset of axes axis1 and axis2, which move to
 * one last axis). A 2-D product is a block layer: block (i, j) of the result sums a's
 * blocks (i, k) times b's blocks (k, j) over k in order, one local gemm per pair (OpenBLAS,
 * one thread per rank), so its bits are the same on any number of ranks (ScaLAPACK's
 * p?gemm sums in an order that follows its process grid, so it is not used). Each rank
 * receives only the blocks (and the rows of them) its result blocks read; b's rows are
 * rechunked to a's column chunks when they differ, and the result's row blocks are a's, cut
 * in parts when that spreads the work more evenly. Stacked products use the local BLAS per
 * output block (whole matrices per block). Every result has NumPy's dtype: integer and
 * bool products sum in wrapping 64-bit integers, cast to it (so they wrap as NumPy's do).
 * Mismatched lengths are DA_ERR_SHAPE, 0-d matmul operands DA_ERR_SHAPE, bad axes DA_ERR_ARG, on
 * every rank. */
DA_API int da_matmul(da_array a, da_array b, da_array *out);
DA_API int da_dot(da_array a, da_array b, da_array *out);
DA_API int da_tensordot(da_array a, da_array b, int naxes, const int axes_a[], const int axes_b[],
                        da_array *out);
DA_API int da_vdot(da_array a, da_array b, da_array *out);
DA_API int da_outer(da_array a, da_array b, da_array *out);
DA_API int da_trace(da_array a, int64_t offset, da_array *out);
DA_API int da_diagonal(da_array a, int64_t offset, int axis1, int axis2, da_array *out);

/* ---------------------------------------------------------- linear algebra: factorizations */

/* Factorizations on ScaLAPACK over a block-cyclic copy of the input (ps* for float32, pd*
 * otherwise: integers and bool are computed in float64, as NumPy does). Each input must be a
 * 2-D matrix (stacks of matrices are not supported); results are ordinary arrays in square
 * chunks on a near-square process grid. Every result is lazy: one collective step when first
 * needed, so a singular matrix (solve, inv) or one that is not positive definite (cholesky)
 * is reported by the da_compute or da_persist that runs it (DA_ERR_ARG on every rank). qr's
 * and svd's results share one factorization: the first computed keeps the others' parts
 * until they are computed or destroyed. Bad shapes are errors of the call itself, on every
 * rank. */

/* NumPy's qr modes: 'reduced' (Q m x k, R k x n, k = min(m, n)), 'complete' (Q m x m,
 * R m x n) and 'r' (R k x n alone; q may be NULL). */
typedef enum { DA_QR_REDUCED, DA_QR_COMPLETE, DA_QR_R } da_qr_mode;
/* Collective. a = Q R with orthonormal columns in Q and R upper triangular (p?geqrf,
 * p?orgqr); as NumPy's, the signs of R's diagonal are LAPACK's (not made positive). */
DA_API int da_qr(da_array a, da_qr_mode mode, da_array *q, da_array *r);
/* Collective. a = U diag(S) Vt (p?gesvd): s holds the min(m, n) singular values in
 * descending order; u is m x k and vt k x n (full_matrices nonzero: m x m and n x n, the
 * extra columns and rows an orthonormal basis of the complement). u and vt both NULL:
 * singular values only (NumPy's compute_uv=False). */
DA_API int da_svd(da_array a, int full_matrices, da_array *u, da_array *s, da_array *vt);
/* Collective. x with a x = b for square a (p?gesv, LU with partial pivoting); b is 1-D of
 * length n or 2-D (n, k), and x has b's shape. */
DA_API int da_solve(da_array a, da_array b, da_array *x);
/* Collective. Lower-triangular L with a = L Lᵀ (p?potrf; only a's lower triangle is read, as
 * NumPy's); L's upper triangle is zero. */
DA_API int da_cholesky(da_array a, da_array *l);
/* Collective. The least-squares solution x of a x = b (m x n a, b 1-D of length m or (m, k);
 * x is (n,) or (n, k)); for m < n the minimum-norm solution (p?gels). a must have full rank:
 * unlike NumPy's lstsq (SVD-based), rank-deficient a is not handled, and residuals, rank and
 * singular values are not returned (da_svd gives the last two). */
DA_API int da_lstsq(da_array a, da_array b, da_array *x);
/* Collective. The inverse of square a (p?getrf, p?getri). */
DA_API int da_inv(da_array a, da_array *out);
/* Collective. The determinant of square a as a 0-d array, as NumPy computes it: sign (from
 * the LU pivots and the signs of U's diagonal) times exp(sum of log |U_ii|); an exactly
 * singular a gives 0. The 0 x 0 matrix gives 1. */
DA_API int da_det(da_array a, da_array *out);

/* The order of a norm (NumPy's ord). DEFAULT is ord=None: the 2-norm of vectors, Frobenius
 * of matrices, and with no axes the 2-norm of the flattened array of any ndim. ORD takes the
 * number `ord`: for vectors any p (sum |x|^p)^(1/p), with INFINITY (max |x|), -INFINITY
 * (min |x|) and 0 (count of nonzeros); for matrices 1 / -1 (largest / smallest column sum
 * of |x|), INFINITY / -INFINITY (row sums), 2 / -2 (largest / smallest singular value). */
typedef enum { DA_NORM_DEFAULT, DA_NORM_ORD, DA_NORM_FRO, DA_NORM_NUC } da_norm_kind;
/* Collective. np.linalg.norm(x, ord, axis, keepdims): naxes 0 (axes ignored) is axis=None
 * (x must be 1-D or 2-D unless kind is DEFAULT), 1 a vector norm along axes[0], 2 a matrix
 * norm over rows axes[0] and columns axes[1] (2, -2 and nuclear norms need a 2-D x: they
 * come from da_svd). The result is float64 (float32 for float32 x). */
DA_API int da_norm(da_array x, da_norm_kind kind, double ord, int naxes, const int axes[],
                   int keepdims, da_array *out);

/* ---------------------------------------------------------------- HDF5 (parallel) */

/* As the dtype of da_from_hdf5: the dataset's own. */
#define DA_DTYPE_NATIVE DA_NDTYPES

/* Collective. The dataset at `dataset` (groups included: "/group/sub/data") of the HDF5
 * file `path`, opened lazily: each block is read by its owner with a hyperslab selection
 * when the graph runs. Every rank opens the file read-only on its own (the sec2 driver, so
 * reads are independent and closing needs no collective call); the handle stays open until
 * the array and every array made from it are gone. chunks NULL: the dataset's own chunking,
 * grown by doubling while a block stays within min(the context's chunk bytes, 64 MiB) when
 * a chunk holds less than 1 MiB (so a dataset darray wrote reads back with its partitioning);
 * a contiguous dataset gets "auto" chunks of that size. dtype DA_DTYPE_NATIVE: the dataset's
 * own (integers and floats of every size darray has; h5py's bool enum, or any 1-byte enum
 * FALSE = 0, TRUE = 1, as bool); another dtype converts as da_astype does. Missing files,
 * groups or datasets, non-HDF5 files and unsupported types (strings, compounds, float16)
 * are errors on every rank (DA_ERR_IO, DA_ERR_DTYPE). */
DA_API int da_from_hdf5(da_ctx ctx, const char *path, const char *dataset, const da_chunks *chunks,
                        da_dtype dtype, da_array *out);

/* What da_from_hdf5_stack does with the files' arrays. */
typedef enum { DA_HDF5_STACK, DA_HDF5_CONCATENATE } da_hdf5_join;
/* Collective. The same dataset of nfiles files (one per day, say) as one array: joined
 * along a new axis (DA_HDF5_STACK, as da_stack) or an existing one (DA_HDF5_CONCATENATE,
 * as da_concatenate); chunks and dtype apply to each file as in da_from_hdf5. */
DA_API int da_from_hdf5_stack(da_ctx ctx, int nfiles, const char *const paths[],
                              const char *dataset, const da_chunks *chunks, da_dtype dtype,
                              da_hdf5_join join, int axis, da_array *out);

/* What da_to_hdf5 does with an existing file: add the dataset to it (replacing one of the
 * same name), or replace the whole file; both through a temporary file renamed over the
 * target. DA_HDF5_UPDATE_IN_PLACE adds the dataset to the file itself (made if absent):
 * no copy of what the file holds, but a failed write can leave it damaged. It is for files
 * a program fills in several calls and renames into place itself when all are written. */
typedef enum { DA_HDF5_UPDATE, DA_HDF5_TRUNCATE, DA_HDF5_UPDATE_IN_PLACE } da_hdf5_mode;

/* A scalar attribute: a string (string non-NULL, written as h5py writes strings) or a number
 * (*value of dtype). object: NULL for the dataset written, "/" for the file, or the path of
 * a group or dataset. */
typedef struct da_hdf5_attr {
  const char *object, *name;
  const char *string;
  da_dtype dtype;
  const void *value;
} da_hdf5_attr;

typedef struct da_hdf5_options {
  da_hdf5_mode mode;
  int deflate;               /* gzip level 1-9 (written with collective IO); 0: none */
  const int64_t *chunks;     /* the dataset's chunk shape; NULL: the array's largest chunks */
  int sync;                  /* non-zero: fsync the file before it replaces the target */
  const da_hdf5_attr *attrs; /* nattrs attributes written with the dataset, in the same pass */
  int nattrs;
} da_hdf5_options;

/* Collective. Computes x and writes it into dataset `dataset` (intermediate groups are
 * made) of the HDF5 file `path` over MPI-IO, each rank writing its own blocks as hyperslabs
 * as soon as they are computed, so a lazy x is never held whole (with deflate, whose writes
 * are collective, x is computed first). bool is written as h5py's enum. Nothing is lost:
 * the ranks write a temporary file next to the target (path.da-tmp-XXXXXX, a copy of the
 * existing file in DA_HDF5_UPDATE mode), and rank 0 renames it over the target only when
 * complete (and synced, with sync); a failed or killed write leaves the previous file as it
 * was (a killed job may leave the temporary file). Attributes in opt are set before the
 * rename (replacing ones of the same name); a bad one fails the whole write.
 * opt NULL: DA_HDF5_UPDATE, no compression, the array's chunks. The file must be on a
 * file system every rank sees. */
DA_API int da_to_hdf5(da_array x, const char *path, const char *dataset,
                      const da_hdf5_options *opt);

/* Collective. Scalar attributes of the object `object` ("/" for the file, a group or a
 * dataset) of an existing file. Setting one replaces an attribute of that name; the file is
 * changed as da_to_hdf5 changes it (a copy renamed over it, so it costs a copy of the
 * file: attributes given to da_to_hdf5 with the dataset cost nothing more). Strings are written as
 * h5py writes them (variable-length UTF-8); numbers as a scalar of dtype dt read from / written to
 * *value (reading converts to dt). Reading a string into len bytes too few is DA_ERR_BUFFER. */
DA_API int da_hdf5_set_attr_string(da_ctx ctx, const char *path, const char *object,
                                   const char *name, const char *value);
DA_API int da_hdf5_set_attr_number(da_ctx ctx, const char *path, const char *object,
                                   const char *name, da_dtype dt, const void *value);
DA_API int da_hdf5_get_attr_string(da_ctx ctx, const char *path, const char *object,
                                   const char *name, char *buf, size_t len);
DA_API int da_hdf5_get_attr_number(da_ctx ctx, const char *path, const char *object,
                                   const char *name, da_dtype dt, void *value);

/* ---------------------------------------------------------------- Zarr (format v2) */

/* Chunk compressors da_to_zarr writes; da_from_zarr reads all of them (blosc with any inner
 * codec this c-blosc has) and compressor null. */
typedef enum {
  DA_ZARR_BLOSC_LZ4, /* the default, as in zarr-python */
  DA_ZARR_BLOSC_LZ4HC,
  DA_ZARR_BLOSC_ZSTD,
  DA_ZARR_BLOSC_ZLIB,
  DA_ZARR_BLOSC_BLOSCLZ,
  DA_ZARR_ZLIB,
  DA_ZARR_GZIP,
  DA_ZARR_ZSTD,
  DA_ZARR_NONE, /* compressor null: raw chunks */
  DA_ZARR_NCOMPRESSORS
} da_zarr_compressor;

/* Blosc's shuffle filter before compression. */
typedef enum { DA_ZARR_SHUFFLE_BYTE, DA_ZARR_SHUFFLE_NONE, DA_ZARR_SHUFFLE_BIT } da_zarr_shuffle;

/* Options of da_to_zarr; a zeroed struct (or NULL) is blosc-lz4, level 5, byte shuffle. */
typedef struct da_zarr_options {
  da_zarr_compressor compressor;
  int level; /* 1..9 (zstd 1..22); 0: zarr-python's default (blosc 5, zlib/gzip/zstd 1) */
  da_zarr_shuffle shuffle; /* blosc only */
  int sync; /* non-zero: fsync every file and directory before the array replaces the target */
} da_zarr_options;

/* Collective. Opens the Zarr v2 array in directory path lazily: rank 0 reads .zarray, and each
 * block is read from the chunk files it meets when the graph runs (missing files read as
 * fill_value). chunks NULL: the store's own chunks. Reads C order, every darray dtype in either
 * byte order ('<f8', '>i4', '|b1'), compressors null, zlib, gzip, zstd and blosc, and
 * dimension_separator '.' or '/'. A corrupt chunk file fails the computation that reads it. */
DA_API int da_from_zarr(da_ctx ctx, const char *path, const da_chunks *chunks, da_array *out);
/* Collective. Stores x as a Zarr v2 array in directory path, chunked like x: x's chunks must
 * be equal along each axis except a shorter last one (otherwise DA_ERR_CHUNKS: rechunk
 * first). Each rank writes its own blocks' chunk files, as soon as they are computed, into a new
 * directory next to path (path.da-tmp-XXXXXX); when all are written rank 0 adds .zarray and
 * .zattrs and swaps the directory in atomically, then removes the old one. A failed or killed
 * write leaves path as it was (and may leave the temporary directory behind). path must be
 * absent, an empty directory or a Zarr array. options NULL: defaults. */
DA_API int da_to_zarr(da_array x, const char *path, const da_zarr_options *options);

/* ---------------------------------------------------------------- NumPy files (.npy, .npz) */

/* Collective. The array in the .npy file path (format 1.0-3.0; every darray dtype in either
 * byte order, C or Fortran order), opened lazily: each block is read by its owner from the
 * file (pread of the rows it needs) when the graph runs. chunks NULL: "auto". A missing or
 * malformed file, an unsupported dtype ('<c16', '|O', strings, float16) are DA_ERR_IO /
 * DA_ERR_DTYPE on every rank. */
DA_API int da_from_npy(da_ctx ctx, const char *path, const da_chunks *chunks, da_array *out);
/* Collective. The member `name` ("elevation" or "elevation.npy") of the .npz archive path
 * (a zip of .npy files, stored or deflated, as np.savez / np.savez_compressed write it).
 * Rank 0 reads and inflates the member and scatters it to the blocks' owners, so it must fit
 * in rank 0's memory. name NULL: the archive's only (or first) member. */
DA_API int da_from_npz(da_ctx ctx, const char *path, const char *name, const da_chunks *chunks,
                       da_array *out);
/* Collective. x written as a .npy file (format 1.0, little-endian, C order): rank 0 writes
 * the header and every rank writes its blocks' rows at their offsets, into a temporary file
 * renamed over path when complete. */
DA_API int da_to_npy(da_array x, const char *path);

/* ---------------------------------------------------------------- inspecting files */

/* What a stored array is, read from its metadata alone (no data is read). */
typedef struct da_file_info {
  char format[8]; /* "hdf5", "zarr", "npy", "npz" */
  int ndim;
  int64_t shape[DA_MAX_NDIM];
  da_dtype dtype;              /* DA_NDTYPES when darray has no such dtype */
  char dtype_text[32];         /* as stored: "<f8", "H5T_IEEE_F64LE", ... */
  int64_t chunks[DA_MAX_NDIM]; /* the storage chunk shape (the whole shape if contiguous) */
  int64_t nbytes;              /* elements * itemsize */
  int64_t stored_bytes;        /* bytes on disk (compressed), -1 when unknown */
  char compression[64];        /* "none", "gzip level 4", "blosc lz4 level 5 shuffle", ... */
  char order;                  /* 'C' or 'F' */
  char fill[40];               /* fill value of unwritten chunks as text, "none"; "" for npy/npz */
} da_file_info;
/* Local. Inspects the array at path: an HDF5 file (name: the dataset), a Zarr v2 directory
 * (name ignored), a .npy file, or a member of an .npz archive (name NULL: the first). The
 * format is found from the file's contents. Errors: DA_ERR_IO with a message on ctx. */
DA_API int da_file_inspect(da_ctx ctx, const char *path, const char *name, da_file_info *info);
/* Local. The names of the datasets of an HDF5 file (full paths, "/group/x"), or the members
 * of an .npz archive, one per line into buf (len bytes, NUL-terminated, cut short when too
 * small); *needed (may be NULL) receives the length the whole list needs. */
DA_API int da_file_list(da_ctx ctx, const char *path, char *buf, size_t len, size_t *needed);
/* Local. An SVG picture of a chunk grid, like Dask's array picture: up to 3 axes drawn as a
 * block diagram (the last axes of a higher-dimensional shape, the rest written as text),
 * written to path. */
DA_API int da_chunks_svg(int ndim, const int64_t shape[], const int64_t *const chunks[],
                         const int64_t numblocks[], const char *path);

/* ---------------------------------------------------------------- pictures */

/* Colour maps of da_to_png. */
typedef enum { DA_CMAP_GRAY, DA_CMAP_TERRAIN, DA_CMAP_VIRIDIS, DA_CMAP_MAGMA } da_colormap;
/* Collective. A 2-D array as a PNG picture (8-bit RGB, one pixel per element, row 0 at the
 * top) written by rank 0: values from lo to hi mapped through cmap (lo == hi: the array's
 * own min and max; NaN drawn black). The array is gathered to rank 0, so it must fit there;
 * downsample it first (e.g. a strided da_getitem) for big arrays. */
DA_API int da_to_png(da_array x, const char *path, da_colormap cmap, double lo, double hi);

/* ---------------------------------------------------------------- diagnostics */

/* Collective. Progress of long computations on rank 0's stderr: tasks done of total, elapsed
 * time and an estimate of the time left, redrawn in place on a terminal and as plain lines
 * (at most one every few seconds) otherwise. on: 1 on, 0 off. The default is off, or the
 * DARRAY_PROGRESS environment variable (1 or 0). Computations shorter than about a second
 * print nothing. */
DA_API int da_ctx_set_progress(da_ctx ctx, int on);
/* Local. The high-level graph of a as Graphviz DOT (layers as nodes labelled with their
 * operation, shape, chunks and block count; edges from inputs), written to path on any rank
 * that calls it. */
DA_API int da_array_dot(da_array a, const char *path);
/* Collective. Starts recording every task (its layer) and transfer on every rank. */
DA_API int da_ctx_trace_start(da_ctx ctx);
/* Collective. Stops recording; rank 0 writes all ranks' events to path (NULL: none) as
 * Chrome trace-event JSON (one process per rank; opens in Perfetto / chrome://tracing) and
 * prints to report (NULL: none) a table of aggregate time per action (compute,
 * communication, IO, waiting) summed over ranks, and compute time per operation. */
DA_API int da_ctx_trace_stop(da_ctx ctx, const char *path, FILE *report);

#ifdef __cplusplus
}
#endif
#endif
