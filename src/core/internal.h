/* Private declarations shared by every layer of darray: the context and array structs,
 * error helpers, chunk grids and ownership, graph nodes and the layer ops table. */
#ifndef DARRAY_INTERNAL_H
#define DARRAY_INTERNAL_H

#include "darray.h"

#include <stdbool.h>
#include <stdio.h>

/* ---------------------------------------------------------------- errors */

#define DA_ERRMSG_LEN 512

struct da_ctx_s {
  MPI_Comm comm;
  int rank, size;
  int64_t chunk_bytes; /* target bytes of an auto chunk */
  int tag;             /* next message tag, so steps never match each other's messages */
  int narrays;         /* live arrays, to catch a context destroyed too early */
  uint64_t visit;      /* graph walks done so far */
  int tile_rc;         /* first error raised inside a tile loop, which returns nothing */
  /* Per-rank memory limit (0: none) and the bytes darray holds in blocks and transfer
   * buffers on this rank, now and at most since the last reset. */
  int64_t mem_limit, mem_current, mem_peak;
  char errmsg[DA_ERRMSG_LEN];
  /* BLACS grids of the linear algebra, made on first use and kept, as every matrix of one
   * ScaLAPACK call must share one; la_grids_free (set with them) releases them. */
  void *la_grids;
  void (*la_grids_free)(da_ctx ctx);
  /* Diagnostics (src/diag/diag.h): DA_DIAG_* bits that every hook tests first (0: all off),
   * the progress bar's state (rank 0) and the trace being recorded. */
  unsigned diag;
  struct da_progress *progress;
  struct da_trace *trace;
};

/* Records a message on ctx (may be NULL) and returns code. */
int da_error_impl(da_ctx ctx, int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define DA_ERR(ctx, code, ...) da_error_impl((ctx), (code), __FILE__, __LINE__, __VA_ARGS__)

/* Propagates a nonzero code to the caller (the message was set where it arose). */
#define DA_TRY(call)                                                                               \
  do {                                                                                             \
    int da_try_rc_ = (call);                                                                       \
    if (da_try_rc_)                                                                                \
      return da_try_rc_;                                                                           \
  } while (0)

/* Same, but jumps to a cleanup label. Needs `int rc` in scope. */
#define DA_TRY_GOTO(call, label)                                                                   \
  do {                                                                                             \
    rc = (call);                                                                                   \
    if (rc)                                                                                        \
      goto label;                                                                                  \
  } while (0)

/* Collective. Makes every rank agree on rc: if any rank failed, all return the code and
 * message of the lowest failing rank. */
int da_agree(da_ctx ctx, int rc);
/* Collective. da_agree that also sums *count over the ranks into *count, in one allreduce
 * when no rank failed. */
int da_agree_sum(da_ctx ctx, int rc, int64_t *count);

/* malloc/calloc that record DA_ERR_NOMEM on failure. Zero bytes gives a valid pointer. */
void *da_malloc(da_ctx ctx, size_t bytes);
void *da_calloc(da_ctx ctx, size_t n, size_t size);

/* ---------------------------------------------------------------- dtypes */

/* X-macro over every dtype: X(DA_ENUM, c_type, suffix). */
#define DA_FOR_EACH_DTYPE(X)                                                                       \
  X(DA_BOOL, _Bool, bool)                                                                          \
  X(DA_INT8, int8_t, i8)                                                                           \
  X(DA_INT16, int16_t, i16)                                                                        \
  X(DA_INT32, int32_t, i32)                                                                        \
  X(DA_INT64, int64_t, i64)                                                                        \
  X(DA_UINT8, uint8_t, u8)                                                                         \
  X(DA_UINT16, uint16_t, u16)                                                                      \
  X(DA_UINT32, uint32_t, u32)                                                                      \
  X(DA_UINT64, uint64_t, u64)                                                                      \
  X(DA_FLOAT32, float, f32)                                                                        \
  X(DA_FLOAT64, double, f64)

bool da_dtype_valid(da_dtype dt);
bool da_dtype_is_float(da_dtype dt);
bool da_dtype_is_signed(da_dtype dt); /* signed integers */
bool da_dtype_is_unsigned(da_dtype dt);
/* Writes count copies of value converted to dt (C's conversion; NaN to integer gives 0). */
void da_fill_value(da_dtype dt, double value, void *out, int64_t count);
/* Converts count doubles to dt. */
void da_convert_from_f64(da_dtype dt, const double *in, void *out, int64_t count);

/* ---------------------------------------------------------------- arrays and nodes */

typedef struct da_layer_ops da_layer_ops;
typedef struct da_input da_input;

struct da_array_s {
  int refcount;
  da_ctx ctx;
  int ndim;
  int64_t shape[DA_MAX_NDIM];
  da_dtype dtype;
  size_t elsize; /* bytes per element: the dtype's, or a partial record's */
  int64_t size;  /* elements */
  int64_t numblocks[DA_MAX_NDIM];
  int64_t chunksize[DA_MAX_NDIM];
  int64_t *chunks[DA_MAX_NDIM];  /* chunk lengths per axis */
  int64_t *offsets[DA_MAX_NDIM]; /* numblocks + 1 prefix sums per axis */
  int64_t nblocks;
  int grid[DA_MAX_NDIM];      /* process grid */
  int gridcoord[DA_MAX_NDIM]; /* this rank's place in it (-1 on every axis: outside it) */
  /* Per axis: the grid coordinate owning each block index (b mod grid, unless the array
   * was cut from another and keeps its blocks where they were), this rank's block indices
   * along the axis and each block index's place among them (-1: not this rank's). */
  int *gcoord[DA_MAX_NDIM];
  int64_t *lidx[DA_MAX_NDIM], *lpos[DA_MAX_NDIM];
  /* The owner of grid coordinates c: rbase + sum of c[d] * rstride[d]. A C-order grid by
   * default; a transposed or integer-indexed array keeps the strides it was cut with. */
  int rstride[DA_MAX_NDIM], rbase;
  int64_t nlocal; /* blocks this rank owns */
  int64_t localcount[DA_MAX_NDIM];

  /* A lazy node: an operation, its parameters and its inputs. */
  const da_layer_ops *ops;
  void *params;
  int ninputs;
  da_array *inputs;

  /* A materialized array: its local blocks (nlocal of them, in local order). */
  bool materialized;
  void **lblocks;
  bool borrowed; /* lblocks point into the user's memory */
  int64_t held;  /* bytes of lblocks counted in the context's memory (see da_array_hold) */

  /* Scratch for graph walks: the walk that last saw this node, and its place in it. */
  uint64_t visit;
  int64_t topo;
};

/* Where blocks live: a process grid and, per axis, the grid coordinate of each block index
 * (coord NULL, or coord[d] NULL: cyclic, b mod grid[d]). */
typedef struct {
  const int *grid;
  const int *const *coord;
  const int *rstride; /* NULL: C order over grid, rbase 0 */
  int rbase;
} da_layout;
/* The layout of x, for an array with x's block counts whose blocks stay with x's. */
#define DA_LAYOUT_OF(x)                                                                            \
  (&(const da_layout){(x)->grid, (const int *const *)(x)->gcoord, (x)->rstride, (x)->rbase})

/* Creates array metadata from resolved chunk lists (chunks[a] holds numblocks[a] lengths).
 * The process grid is chosen from the block counts (cyclic), or taken from layout. */
int da_array_new(da_ctx ctx, int ndim, const int64_t shape[], const int64_t *const chunks[],
                 const int64_t nchunks[], da_dtype dt, size_t elsize, const da_layout *layout,
                 da_array *out);
/* Resolves a user chunk request into per-axis lists (chunks[a] allocated, free with free()). */
int da_chunks_resolve(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *req,
                      size_t elsize, int64_t *chunks[], int64_t nchunks[]);
/* Creates array metadata straight from a user chunk request. */
int da_array_from_request(da_ctx ctx, int ndim, const int64_t shape[], const da_chunks *req,
                          da_dtype dt, da_array *out);
/* Validates ndim, shape and dtype of a request. */
int da_check_shape(da_ctx ctx, int ndim, const int64_t shape[], da_dtype dt);

/* Block index helpers: linear index <-> per-axis index (C order). */
void da_block_unravel(const da_array a, int64_t b, int64_t bidx[]);
int64_t da_block_ravel(const da_array a, const int64_t bidx[]);
int da_block_owner_of(const da_array a, int64_t b);
int64_t da_block_local_index(const da_array a, int64_t b); /* for a block this rank owns */
int64_t da_block_global_index(const da_array a, int64_t k);
void da_block_shape_of(const da_array a, int64_t b, int64_t shape[]);
int64_t da_block_size_of(const da_array a, int64_t b); /* elements */
/* The chunk along axis holding element i (0 <= i < shape; the non-empty one where
 * zero-length chunks share its offset). */
int64_t da_chunk_of(const da_array a, int axis, int64_t i);
/* "(3, 4)" (NumPy's "(3,)" for one entry) into buf, for messages; returns buf. */
const char *da_shape_str(int n, const int64_t v[], char *buf, size_t len);
void da_block_offset_of(const da_array a, int64_t b, int64_t offset[]);

/* Frees materialized blocks that darray owns and drops the node's inputs. */
void da_array_release_data(da_array a);

/* Memory accounting: delta bytes of blocks or transfer buffers taken (or given back, when
 * negative) on this rank; da_array_hold also counts them as held by a's local blocks. */
void da_mem_add(da_ctx ctx, int64_t delta);
void da_array_hold(da_array a, int64_t delta);

/* ---------------------------------------------------------------- graph layers */

/* Elements per tile when fused chains are evaluated: a few tens of KiB, cache resident. */
#define DA_TILE 1024

/* One input of a task. Either a whole block in memory (data), or a fused producer that
 * evaluates tiles of its block on demand from its own inputs. */
struct da_input {
  const void *data;
  da_array node; /* fused producer when data == NULL */
  int64_t block;
  /* When part is set, data holds only a box of the block (from a layer that asks for
   * regions): elements lo[d] .. lo[d] + n[d] - 1 along each axis, block-local, in C order. */
  bool part;
  int64_t lo[DA_MAX_NDIM], n[DA_MAX_NDIM];
  da_input *sub; /* node->ninputs entries; for a view: its nsub dependencies */
  int64_t nsub, subcap;
  void *scratch;        /* DA_TILE elements of node, or a whole block of it */
  size_t scratch_bytes; /* for a whole block: its bytes, counted as held */
  /* For a view: the thin strided boxes it reads of local blocks, copied compact once per
   * block, so that the view's many short runs read them in order (pack_bytes are held). */
  void *pack;
  size_t pack_bytes;
};

/* The element at block-local coordinates c[] of a dependency held in memory (in->data),
 * whole or a box of it; x is the dependency's node. */
const char *da_input_at(const da_input *in, const da_array x, const int64_t c[]);

/* Records an error found inside a tile loop; the task that ran it reports it. */
void da_tile_fail(da_ctx ctx, int code, const char *msg);

/* Elements [start, start + count) of the input's block (count <= DA_TILE when fused). */
const void *da_input_tile(da_input *in, int64_t start, int64_t count);

struct da_layer_ops {
  const char *name;
  /* Block b of the output needs exactly block b of every input, and all share one block
   * grid. Such layers need no deps function and may be fused into their consumer. */
  bool aligned;
  /* For layers that are not aligned: the input blocks block b needs. Writes up to cap
   * (input, block) pairs and returns how many there are. */
  int64_t (*deps)(const da_array a, int64_t b, int *input, int64_t *block, int64_t cap);
  /* Optional, with deps: the box of the k-th dependency that block b reads, block-local:
   * lo[d] .. lo[d] + n[d] - 1 along each axis of that input. The scheduler then moves only
   * that box of a remote block and hands the task a da_input with part set. */
  void (*region)(const da_array a, int64_t b, int64_t k, int64_t lo[], int64_t n[]);
  /* Computes block b into out. For aligned layers ins[i] is input i; otherwise ins[k] is
   * the k-th dependency. NULL for tile layers: they run tile by tile. */
  int (*run)(const da_array a, int64_t b, da_input *ins, int nins, void *out);
  /* Elementwise and generator layers: elements [start, start + count) of block b (C order
   * within the block) from the same elements of each input. */
  void (*tile)(const da_array a, int64_t b, int64_t start, int64_t count, const void *const *in,
               void *out);
  /* Views (broadcast, rechunk): elements [start, start + count) of block b gathered from
   * the input blocks deps() lists, whole or the boxes region() gives (ins[k] is the k-th).
   * A view may be fused into an aligned consumer, which then reads it tile by tile without
   * materializing it. */
  void (*gather)(const da_array a, int64_t b, const da_input *ins, int64_t nins, int64_t start,
                 int64_t count, void *out);
  /* Optional, with gather: a pointer to elements [start, start + count) of block b where the
   * layer keeps them already, or NULL; the consumer then gathers them into its tile. */
  const void *(*peek)(const da_array a, int64_t b, const da_input *ins, int64_t nins, int64_t start,
                      int64_t count);
  /* May the producer of input i be fused into this layer's tasks? */
  bool fuses_inputs;
  /* The tile function may write over an input tile of the same element size. */
  bool in_place;
  /* x op y of two inputs of the node's own dtype, no scalar: the op (a reduction may then
   * fold it into its own loop); DA_NBINARY otherwise. */
  da_binary_op (*pair_op)(const da_array a);
  void (*free_params)(void *params);
  /* Collective layers (ScaLAPACK products and factorizations) compute the whole array at
   * once on every rank: da_schedule first materializes their inputs, then calls this, which
   * fills a->lblocks (nlocal blocks, counted with da_array_hold) or returns an error; the
   * ranks agree on it. Such a layer has no deps, run, tile or gather. */
  int (*collective)(da_array a);
};

/* Combines the nins records ins[i].data of `bytes` bytes each pairwise in a fixed tree over
 * their order (so over block indices, whatever the rank count), add(src, dst) folding one
 * into another: the result in *out (NULL when nins is 0), for the caller to free. */
int da_combine_pairwise(da_ctx ctx, const da_input *ins, int nins, size_t bytes,
                        void (*add)(const void *src, void *dst, void *user), void *user,
                        void **out);

/* Frees a lazy node's materialized blocks: it is a node again (recomputed when needed). */
void da_drop_blocks(da_array a);

/* The default process grid for nb blocks per axis over nprocs ranks (like MPI_Dims_create,
 * but a factor goes to an axis with enough blocks for it when one has). */
void da_choose_grid(int nprocs, int ndim, const int64_t nb[], int grid[]);

/* Creates a lazy node. Takes ownership of params (freed through ops->free_params, or free()),
 * references the inputs. */
int da_node_new(da_ctx ctx, int ndim, const int64_t shape[], const int64_t *const chunks[],
                const int64_t nchunks[], da_dtype dt, size_t elsize, const da_layout *layout,
                const da_layer_ops *ops, void *params, int ninputs, const da_array inputs[],
                da_array *out);

/* The graph below a, in dependency order (inputs first), each node once. Materialized
 * nodes end the walk. *nodes is malloc'ed. */
int da_graph_collect(da_array a, da_array **nodes, int64_t *n);

/* Calls fn(ud, offset, gidx, glin, len) for each run of elements along the last axis within
 * elements [start, start + count) of block b: offset is the element's place in the block,
 * gidx its global index, glin its global C-order linear index. */
typedef void (*da_run_fn)(void *ud, int64_t offset, const int64_t gidx[], int64_t glin,
                          int64_t len);
void da_block_runs(const da_array a, int64_t b, int64_t start, int64_t count, da_run_fn fn,
                   void *ud);

/* Copies a block between its own buffer and a whole C-order array (to_whole: block -> whole). */
void da_block_copy_whole(const da_array a, int64_t b, void *block, void *whole, bool to_whole);

/* ---------------------------------------------------------------- views */

/* Collective. x seen with shape and chunks (layout may be NULL): x's axes align with the
 * trailing ones, each of x's lengths equal to the view's or 1 (broadcast). */
int da_view_new(da_array x, int ndim, const int64_t shape[], const int64_t *const chunks[],
                const int64_t nchunks[], const da_layout *layout, da_array *out);
/* Collective. The n arrays broadcast to their common shape, with one common chunking (the
 * largest operand's, so its blocks stay where they are). out[i] is a new reference: in[i]
 * itself when it already fits, otherwise a view. *lead: the operand whose chunks were taken. */
int da_broadcast_arrays(da_ctx ctx, int n, const da_array in[], da_array out[], int *lead);

/* ---------------------------------------------------------------- block functions */

/* What a block function is told about halos (src/ops/map.c), per axis d of the aligned
 * inputs' block grid (the one input's own grid when n == 1), each table numblocks[d]
 * entries long: lo[d][j] / hi[d][j] the halo cells before / after the block's own cells
 * along d for block index j (NULL: 0), offset[d][j] the global index along d of block j's
 * first own cell in the array without halos (NULL: the inputs' own offsets). The tables
 * are copied. */
typedef struct {
  const int64_t *lo[DA_MAX_NDIM], *hi[DA_MAX_NDIM];
  const int64_t *offset[DA_MAX_NDIM];
} da_map_halo;

/* Collective. da_map_blocks whose block function sees halo (NULL: none) in its info's
 * halo_lo, halo_hi and block_offset; for map_overlap, whose inputs are already extended
 * blocks (da_overlap) and whose out_chunks give the trimmed or extended output. With
 * user_free, the call owns user: the node frees it when it goes (or the call, on failure). */
int da_map_blocks_halo(da_block_fn fn, void *user, void (*user_free)(void *), int n,
                       const da_array in[], const da_map_halo *halo, da_dtype out_dtype,
                       const da_map_out *out_chunks, da_array *out);
/* Local. Runs fn on info (out_shape: the declared shape, writable) and turns its error, or
 * an output shape it changed, into DA_ERR_USER / DA_ERR_SHAPE naming op and the block. */
int da_block_call(da_ctx ctx, const char *op, da_block_fn fn, void *user, da_block_info *info);
/* Collective. da_map_overlap owning user as da_map_blocks_halo does. */
int da_map_overlap_owned(da_block_fn fn, void *user, void (*user_free)(void *), da_array x,
                         const int64_t depth[], const da_boundary boundary[], double constant,
                         da_dtype out_dtype, int trim, da_array *out);

/* ---------------------------------------------------------------- scheduler */

/* Materializes the blocks of target on their owners, in supersteps. On success target is
 * materialized. Collective. */
int da_schedule(da_array target);

/* Receives block b of the array being streamed, on its owner; non-zero stops the computation
 * (the message set with DA_ERR). */
typedef int (*da_block_sink)(void *user, const da_array x, int64_t b, const void *data);
/* Collective. Computes target as da_schedule does, but hands each block to sink on its owner
 * as soon as it is computed and frees it, so target is never held whole (it stays lazy); a
 * materialized target hands over its own blocks. Writers stream through it. */
int da_schedule_sink(da_array target, da_block_sink sink, void *user);

/* Large-message helpers: counts above MPI's int range are split. */
int da_send_bytes(da_ctx ctx, const void *buf, size_t bytes, int dest, int tag, MPI_Request **req,
                  int *nreq, int *cap);
int da_recv_bytes(da_ctx ctx, void *buf, size_t bytes, int src, int tag, MPI_Request **req,
                  int *nreq, int *cap);
int da_next_tag(da_ctx ctx);

#endif
