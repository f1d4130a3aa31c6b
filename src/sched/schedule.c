/* The BSP scheduler: every rank derives the same plan from the graph, keeps its own tasks
 * and transfers, and runs one superstep per computed layer, overlapping transfers with
 * the tasks whose inputs are already local. A dependency may be a box of a block: only that
 * box travels. Under a memory limit a step runs in waves of tasks. Blocks and received
 * pieces are freed after their last use, and every buffer is counted in the context. */
#define _GNU_SOURCE /* madvise */
#include "core/internal.h"
#include "diag/diag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Boxes, and whole blocks up to this size, travel packed: one message per peer and wave. */
#define DA_PACK_MAX ((size_t)64 << 10)
/* Packs from this size sit on transparent huge pages: one fault per 2 MiB, not per 4 KiB. */
#define DA_HUGE ((size_t)2 << 20)
/* Items sit at multiples of this in a pack, so a task reads them in place. */
#define DA_PACK_ALIGN ((size_t)16)
#define DA_MAX_FUSED_INPUTS 16
#define MAXD DA_MAX_NDIM

/* A buffer of packed items, freed with the last of them (and the wave's own reference). */
typedef struct {
  char *mem;
  size_t bytes, used; /* allocated (and counted), and filled by items */
  int64_t live;
} rpack;

typedef struct {
  da_array node;
  bool fused;   /* evaluated inside its consumer's tasks */
  bool whole;   /* fused as whole blocks into a scratch buffer, not tile by tile */
  bool compute; /* has tasks */
  bool target;
  uint8_t *need;  /* per block: needed by the plan */
  void **data;    /* per block: in memory on this rank */
  rpack **home;   /* per block: the pack a received block sits in (NULL: its own buffer) */
  int32_t *uses;  /* per block: uses left on this rank */
  int64_t *spill; /* per block, once one is spilled: its offset in the spill file + 1, or 0 */
  int consumers;  /* graph edges into this node */
} pnode;

/* A box of a remote block that travels to dest: on the source what to send, on dest the
 * received copy and the uses left of it. */
typedef struct {
  int64_t node, block;
  int64_t box; /* lo[nd] then n[nd] at boxes[box], nd the node's ndim */
  int dest;
  size_t bytes;
  void *data;
  rpack *home;
  int32_t uses;
} piece;

typedef struct {
  int peer;
  int64_t node, block;
  int64_t piece; /* the box that travels, -1: the whole block */
  int64_t task;  /* the step's first task needing it: its wave moves it */
  size_t bytes;
  size_t at; /* its place in its peer's pack */
  void *buf; /* on the receiver, a large whole block's own buffer */
} xfer;

typedef struct {
  xfer *v;
  int64_t n, cap;
} xfer_list;

typedef struct {
  int64_t node; /* the computed node */
  int64_t *tasks, ntasks;
  xfer_list sends, recvs;
} pstep;

typedef struct {
  da_ctx ctx;
  pnode *pn;
  int64_t nnodes;
  pstep *steps;
  int64_t nsteps;
  piece *pieces;
  int64_t npieces, piececap;
  int64_t *boxes, nboxes, boxcap;
  int64_t *pmap, pmapcap; /* open addressing over pieces: index + 1, 0 = empty */
  /* scratch: effective dependencies of one task; dbox[k] when only the box at
   * dlo/dn + k * MAXD is read */
  int64_t *dnode, *dblock, dcap;
  int *din;
  int64_t *dtmp;
  uint8_t *dbox;
  int64_t *dlo, *dn;
  da_block_sink sink; /* when set, the target's blocks go here as they are computed, */
  void *sink_user;
  void *sink_buf; /* each into this buffer of the largest block, counted */
  size_t sink_bytes;
  /* Blocks spilled past the memory limit: an unlinked file, appended to. */
  int spill_fd; /* valid when spill_open */
  bool spill_open;
  int64_t spill_end;
  /* Tasks this rank has run, and (rank 0, progress on) every rank's done before the plan. */
  int64_t ran, progress_base;
} plan;

/* ---------------------------------------------------------------- counted buffers */

/* Large blocks sit on transparent huge pages too: a block is written once, right after it
 * is allocated, and faulting it in 4 KiB at a time costs as much as writing it. */
static void *held_alloc(plan *p, size_t bytes) {
  void *m = NULL;
  if (bytes >= 2 * DA_HUGE) {
    size_t whole = (bytes + DA_HUGE - 1) / DA_HUGE * DA_HUGE;
    if ((m = aligned_alloc(DA_HUGE, whole))) {
#ifdef MADV_HUGEPAGE
      madvise(m, whole, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    } else {
      DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
    }
  } else {
    m = da_malloc(p->ctx, bytes);
  }
  if (m)
    da_mem_add(p->ctx, (int64_t)bytes);
  return m;
}

static void held_free(plan *p, void *m, size_t bytes) {
  if (!m)
    return;
  free(m);
  da_mem_add(p->ctx, -(int64_t)bytes);
}

/* Frees an item: its own buffer, or its place in a pack (the pack goes with the last). */
static void item_free(plan *p, void *data, rpack *home, size_t bytes) {
  if (!home) {
    held_free(p, data, bytes);
    return;
  }
  if (--home->live > 0)
    return;
  held_free(p, home->mem, home->bytes);
  free(home);
}

static size_t block_bytes(const da_array a, int64_t b) {
  return (size_t)da_block_size_of(a, b) * a->elsize;
}

/* ---------------------------------------------------------------- a set of (node, block, rank) */

typedef struct {
  uint64_t *keys; /* 3 words per slot; node + 1 in the first, 0 = empty */
  int64_t cap, n;
} triple_set;

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Inserts the triple; returns 1 if it was new, 0 if present, -1 when out of memory. */
static int triple_insert(triple_set *s, uint64_t a, uint64_t b, uint64_t c) {
  if (2 * (s->n + 1) > s->cap) {
    int64_t ncap = s->cap ? s->cap * 2 : 1024;
    uint64_t *k = calloc((size_t)ncap * 3, sizeof *k);
    if (!k)
      return -1;
    for (int64_t i = 0; i < s->cap; i++) {
      uint64_t *o = &s->keys[3 * i];
      if (!o[0])
        continue;
      uint64_t h = mix64(o[0] * 31 + mix64(o[1]) + o[2] * 0x9e3779b97f4a7c15ULL);
      for (int64_t j = (int64_t)(h & (uint64_t)(ncap - 1));; j = (j + 1) & (ncap - 1))
        if (!k[3 * j]) {
          memcpy(&k[3 * j], o, 3 * sizeof *o);
          break;
        }
    }
    free(s->keys);
    s->keys = k;
    s->cap = ncap;
  }
  a += 1;
  uint64_t h = mix64(a * 31 + mix64(b) + c * 0x9e3779b97f4a7c15ULL);
  for (int64_t j = (int64_t)(h & (uint64_t)(s->cap - 1));; j = (j + 1) & (s->cap - 1)) {
    uint64_t *k = &s->keys[3 * j];
    if (!k[0]) {
      k[0] = a, k[1] = b, k[2] = c;
      s->n++;
      return 1;
    }
    if (k[0] == a && k[1] == b && k[2] == c)
      return 0;
  }
}

static int xfer_push(da_ctx ctx, xfer_list *l, xfer x) {
  if (l->n == l->cap) {
    int64_t ncap = l->cap ? l->cap * 2 : 16;
    xfer *v = realloc(l->v, (size_t)ncap * sizeof *v);
    if (!v)
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the transfer list");
    l->v = v;
    l->cap = ncap;
  }
  l->v[l->n++] = x;
  return DA_OK;
}

/* ---------------------------------------------------------------- pieces: boxes that travel */

static uint64_t piece_hash(int64_t node, int64_t block, int dest, int nd, const int64_t *lo,
                           const int64_t *n) {
  uint64_t h = mix64((uint64_t)node * 0x9e3779b97f4a7c15ULL + (uint64_t)block);
  h = mix64(h ^ (uint64_t)(unsigned)dest);
  for (int d = 0; d < nd; d++)
    h = mix64(h ^ ((uint64_t)lo[d] * 0x100000001b3ULL + (uint64_t)n[d]));
  return h;
}

static bool piece_is(const plan *p, const piece *c, int64_t node, int64_t block, int dest, int nd,
                     const int64_t *lo, const int64_t *n) {
  size_t bytes = (size_t)nd * sizeof(int64_t);
  return c->node == node && c->block == block && c->dest == dest &&
         !memcmp(p->boxes + c->box, lo, bytes) && !memcmp(p->boxes + c->box + nd, n, bytes);
}

static int pmap_grow(plan *p) {
  int64_t ncap = p->pmapcap ? p->pmapcap * 2 : 256;
  int64_t *m = calloc((size_t)ncap, sizeof *m);
  if (!m)
    return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate the piece table");
  for (int64_t i = 0; i < p->npieces; i++) {
    const piece *c = &p->pieces[i];
    int nd = p->pn[c->node].node->ndim;
    uint64_t h =
        piece_hash(c->node, c->block, c->dest, nd, p->boxes + c->box, p->boxes + c->box + nd);
    int64_t j = (int64_t)(h & (uint64_t)(ncap - 1));
    while (m[j])
      j = (j + 1) & (ncap - 1);
    m[j] = i + 1;
  }
  free(p->pmap);
  p->pmap = m;
  p->pmapcap = ncap;
  return DA_OK;
}

/* The piece (node, block, dest, box) when it is known, else -1; with add, a new one is made
 * (*fresh tells which) and -2 means out of memory. */
static int64_t piece_get(plan *p, int64_t node, int64_t block, int dest, const int64_t *lo,
                         const int64_t *n, bool add, bool *fresh) {
  da_array x = p->pn[node].node;
  int nd = x->ndim;
  if (fresh)
    *fresh = false;
  if (add && 2 * (p->npieces + 1) > p->pmapcap && pmap_grow(p))
    return -2;
  if (!p->pmapcap)
    return -1;
  uint64_t h = piece_hash(node, block, dest, nd, lo, n);
  int64_t j = (int64_t)(h & (uint64_t)(p->pmapcap - 1));
  for (; p->pmap[j]; j = (j + 1) & (p->pmapcap - 1))
    if (piece_is(p, &p->pieces[p->pmap[j] - 1], node, block, dest, nd, lo, n))
      return p->pmap[j] - 1;
  if (!add)
    return -1;
  if (p->npieces == p->piececap) {
    int64_t ncap = p->piececap ? p->piececap * 2 : 64;
    piece *v = realloc(p->pieces, (size_t)ncap * sizeof *v);
    if (!v)
      return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate the piece list"), -2;
    p->pieces = v;
    p->piececap = ncap;
  }
  if (p->nboxes + 2 * nd > p->boxcap) {
    int64_t ncap = p->boxcap ? p->boxcap * 2 : 256;
    while (ncap < p->nboxes + 2 * nd)
      ncap *= 2;
    int64_t *v = realloc(p->boxes, (size_t)ncap * sizeof *v);
    if (!v)
      return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate the piece list"), -2;
    p->boxes = v;
    p->boxcap = ncap;
  }
  int64_t elems = 1;
  for (int d = 0; d < nd; d++)
    elems *= n[d];
  piece *c = &p->pieces[p->npieces];
  *c = (piece){.node = node,
               .block = block,
               .box = p->nboxes,
               .dest = dest,
               .bytes = (size_t)elems * x->elsize};
  memcpy(p->boxes + p->nboxes, lo, (size_t)nd * sizeof *lo);
  memcpy(p->boxes + p->nboxes + nd, n, (size_t)nd * sizeof *n);
  p->nboxes += 2 * nd;
  p->pmap[j] = ++p->npieces;
  *fresh = true;
  return p->npieces - 1;
}

/* Copies the box lo/n of a C-order block of shape bs into a compact C-order buffer. */
static void box_pack(const char *block, int nd, const int64_t *bs, const int64_t *lo,
                     const int64_t *n, size_t es, char *out) {
  int64_t rows = 1, idx[MAXD] = {0};
  for (int d = 0; d < nd; d++)
    rows *= n[d];
  if (rows == 0)
    return;
  size_t run = (size_t)n[nd - 1] * es;
  rows /= n[nd - 1];
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++)
      off = off * bs[d] + lo[d] + (d < nd - 1 ? idx[d] : 0);
    memcpy(out, block + off * (int64_t)es, run);
    out += run;
    for (int d = nd - 2; d >= 0 && ++idx[d] == n[d]; d--)
      idx[d] = 0;
  }
}

/* ---------------------------------------------------------------- dependencies */

static int deps_reserve(plan *p, int64_t need) {
  if (need <= p->dcap)
    return DA_OK;
  int64_t cap = p->dcap ? p->dcap : 64;
  while (cap < need)
    cap *= 2;
  int64_t *n = realloc(p->dnode, (size_t)cap * sizeof *n);
  if (n)
    p->dnode = n;
  int64_t *b = realloc(p->dblock, (size_t)cap * sizeof *b);
  if (b)
    p->dblock = b;
  int64_t *t = realloc(p->dtmp, (size_t)cap * sizeof *t);
  if (t)
    p->dtmp = t;
  int *in = realloc(p->din, (size_t)cap * sizeof *in);
  if (in)
    p->din = in;
  uint8_t *x = realloc(p->dbox, (size_t)cap);
  if (x)
    p->dbox = x;
  int64_t *lo = realloc(p->dlo, (size_t)cap * MAXD * sizeof *lo);
  if (lo)
    p->dlo = lo;
  int64_t *ln = realloc(p->dn, (size_t)cap * MAXD * sizeof *ln);
  if (ln)
    p->dn = ln;
  if (!n || !b || !t || !in || !x || !lo || !ln)
    return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate dependency lists");
  p->dcap = cap;
  return DA_OK;
}

/* The dependencies of block b of a view in p->din / p->dtmp; returns how many. */
static int view_deps(plan *p, da_array v, int64_t b, int64_t *cnt) {
  *cnt = v->ops->deps(v, b, p->din, p->dtmp, p->dcap);
  if (*cnt > p->dcap) {
    DA_TRY(deps_reserve(p, *cnt));
    *cnt = v->ops->deps(v, b, p->din, p->dtmp, p->dcap);
  }
  return DA_OK;
}

/* The box of its k-th dependency (block blk of input x) that block b of layer a reads, in
 * lo/n; false when a reads the whole block. */
static bool dep_region(const da_array a, int64_t b, int64_t k, const da_array x, int64_t blk,
                       int64_t *lo, int64_t *n) {
  if (!a->ops->region)
    return false;
  a->ops->region(a, b, k, lo, n);
  int64_t bs[MAXD];
  da_block_shape_of(x, blk, bs);
  for (int d = 0; d < x->ndim; d++)
    if (lo[d] != 0 || n[d] != bs[d])
      return true;
  return false;
}

/* Records dependency slot of the task: the k-th dependency of block b of layer a. */
static void dep_set(plan *p, int64_t slot, const da_array a, int64_t b, int64_t k, int input,
                    int64_t blk) {
  da_array x = a->inputs[input];
  p->dnode[slot] = x->topo;
  p->dblock[slot] = blk;
  p->dbox[slot] = dep_region(a, b, k, x, blk, p->dlo + slot * MAXD, p->dn + slot * MAXD);
}

/* Appends the blocks in memory that block b of aligned node a reads, through fused inputs. */
static int aligned_deps(plan *p, da_array a, int64_t b, int64_t *n) {
  for (int i = 0; i < a->ninputs; i++) {
    da_array in = a->inputs[i];
    if (p->pn[in->topo].fused && in->ops->gather) {
      int64_t cnt;
      DA_TRY(view_deps(p, in, b, &cnt));
      DA_TRY(deps_reserve(p, *n + cnt));
      for (int64_t k = 0; k < cnt; k++, (*n)++)
        dep_set(p, *n, in, b, k, p->din[k], p->dtmp[k]);
      continue;
    }
    if (p->pn[in->topo].fused) {
      DA_TRY(aligned_deps(p, in, b, n));
      continue;
    }
    DA_TRY(deps_reserve(p, *n + 1));
    p->dnode[*n] = in->topo;
    p->dblock[*n] = b;
    p->dbox[*n] = 0;
    (*n)++;
  }
  return DA_OK;
}

/* The blocks in memory that task (a, b) reads, in p->dnode/p->dblock, and the box of each
 * read only in part (p->dbox, p->dlo, p->dn). */
static int task_deps(plan *p, da_array a, int64_t b, int64_t *n) {
  *n = 0;
  if (a->ops->aligned)
    return aligned_deps(p, a, b, n);
  int64_t cnt;
  DA_TRY(view_deps(p, a, b, &cnt));
  for (int64_t k = 0; k < cnt; k++)
    dep_set(p, k, a, b, k, p->din[k], p->dtmp[k]);
  *n = cnt;
  return DA_OK;
}

/* Points in at a dependency of a task of this rank: the block in memory, or the received box
 * when only a box (lo, n) of a remote block is read. Returns the piece, -1 for a block, -2
 * when the piece is unknown. */
static int64_t dep_bind(plan *p, int64_t node, int64_t b, bool box, const int64_t *lo,
                        const int64_t *n, da_input *in) {
  pnode *d = &p->pn[node];
  in->node = d->node;
  in->block = b;
  in->part = false;
  if (!box || da_block_owner_of(d->node, b) == p->ctx->rank) {
    in->data = d->data[b];
    return -1;
  }
  int64_t i = piece_get(p, node, b, p->ctx->rank, lo, n, false, NULL);
  in->data = i >= 0 ? p->pieces[i].data : NULL;
  in->part = true;
  int nd = d->node->ndim;
  if (lo != in->lo)
    memcpy(in->lo, lo, (size_t)nd * sizeof *lo);
  if (n != in->n)
    memcpy(in->n, n, (size_t)nd * sizeof *n);
  return i >= 0 ? i : -2;
}

/* ---------------------------------------------------------------- planning */

static bool accepts_fusion(da_array c) {
  return c->ops && c->ops->aligned && (c->ops->tile || c->ops->fuses_inputs || c->ops->run);
}

/* The graph edges into node i from consumers that would take it fused (decided already:
 * consumers come later in topological order). */
static int fusable_consumers(const plan *p, int64_t i) {
  da_array a = p->pn[i].node;
  int k = 0;
  for (int64_t j = i + 1; j < p->nnodes; j++) {
    da_array c = p->pn[j].node;
    if (c->materialized || (!p->pn[j].compute && !p->pn[j].fused) || !accepts_fusion(c))
      continue;
    for (int e = 0; e < c->ninputs; e++)
      k += c->inputs[e] == a;
  }
  return k;
}

/* Whether a can be computed again inside each of its consumers: a block-wise layer over
 * blocks in memory, or over sources and such layers that feed only it (a view gathers from
 * blocks in memory only). */
static bool recomputable(const plan *p, da_array a, int depth) {
  if (a->materialized)
    return true;
  bool tile = a->ops->tile && a->ops->aligned && a->ninputs <= DA_MAX_FUSED_INPUTS;
  bool run = a->ops->run && a->ops->aligned;
  if (!(tile || run || a->ops->gather) || a->ops->collective || depth > 64)
    return false;
  for (int j = 0; j < a->ninputs; j++) {
    da_array in = a->inputs[j];
    if (in->materialized)
      continue;
    if (!(tile || run) || p->pn[in->topo].consumers != 1 || !recomputable(p, in, depth + 1))
      return false;
  }
  return true;
}

/* This rank's even share of a's bytes. */
static double share_bytes(const plan *p, da_array a) {
  double bytes = (double)a->elsize;
  for (int d = 0; d < a->ndim; d++)
    bytes *= (double)a->shape[d];
  return bytes / p->ctx->size;
}

static void plan_free(plan *p) {
  for (int64_t i = 0; i < p->npieces; i++) {
    piece *c = &p->pieces[i];
    if (c->data)
      item_free(p, c->data, c->home, c->bytes);
  }
  for (int64_t i = 0; i < p->nnodes; i++) {
    pnode *q = &p->pn[i];
    if (q->data) {
      for (int64_t b = 0; b < q->node->nblocks; b++) {
        if (!q->data[b])
          continue;
        /* Materialized nodes keep their own blocks; a target's were moved out on success. */
        bool own = da_block_owner_of(q->node, b) == p->ctx->rank;
        if (!own || q->compute)
          item_free(p, q->data[b], q->home ? q->home[b] : NULL, block_bytes(q->node, b));
      }
    }
    free(q->need);
    free(q->data);
    free(q->home);
    free(q->uses);
    free(q->spill);
  }
  if (p->spill_open)
    close(p->spill_fd);
  for (int64_t s = 0; s < p->nsteps; s++) {
    free(p->steps[s].tasks);
    free(p->steps[s].sends.v);
    free(p->steps[s].recvs.v);
  }
  if (p->sink_buf)
    held_free(p, p->sink_buf, p->sink_bytes);
  free(p->pn);
  free(p->steps);
  free(p->pieces);
  free(p->boxes);
  free(p->pmap);
  free(p->dnode);
  free(p->dblock);
  free(p->din);
  free(p->dtmp);
  free(p->dbox);
  free(p->dlo);
  free(p->dn);
}

/* Adds the task of block b to the step's tasks, uses and transfers of this rank. */
static int plan_task(plan *p, pstep *st, triple_set *seen, int64_t b) {
  da_ctx ctx = p->ctx;
  int me = ctx->rank;
  pnode *q = &p->pn[st->node];
  int o = da_block_owner_of(q->node, b);
  if (o == me)
    st->tasks[st->ntasks++] = b;
  int64_t nd;
  DA_TRY(task_deps(p, q->node, b, &nd));
  for (int64_t k = 0; k < nd; k++) {
    pnode *d = &p->pn[p->dnode[k]];
    int64_t lb = p->dblock[k];
    int src = da_block_owner_of(d->node, lb);
    bool box = p->dbox[k] && src != o; /* a box matters only when it travels */
    if (o == me && !box)
      d->uses[lb]++;
    if (src == o || (src != me && o != me))
      continue;
    xfer x = {src == me ? o : src, p->dnode[k], lb, -1, b, 0, 0, NULL};
    if (box) {
      bool fresh;
      int64_t i =
          piece_get(p, p->dnode[k], lb, o, p->dlo + k * MAXD, p->dn + k * MAXD, true, &fresh);
      if (i < 0)
        return DA_ERR_NOMEM;
      if (o == me)
        p->pieces[i].uses++;
      if (!fresh)
        continue;
      x.piece = i;
      x.bytes = p->pieces[i].bytes;
    } else {
      int fresh = triple_insert(seen, (uint64_t)p->dnode[k], (uint64_t)lb, (uint64_t)o);
      if (fresh < 0)
        return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the transfer set");
      if (!fresh)
        continue;
      x.bytes = block_bytes(d->node, lb);
    }
    if (src == me) {
      d->uses[lb]++; /* the send reads it */
      DA_TRY(xfer_push(ctx, &st->sends, x));
    } else {
      DA_TRY(xfer_push(ctx, &st->recvs, x));
    }
  }
  return DA_OK;
}

static int plan_build(plan *p, da_array target) {
  da_ctx ctx = p->ctx;
  da_array *nodes = NULL;
  int64_t n = 0;
  DA_TRY(da_graph_collect(target, &nodes, &n));
  p->nnodes = n;
  p->pn = calloc((size_t)n, sizeof *p->pn);
  if (!p->pn) {
    free(nodes);
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the plan");
  }
  for (int64_t i = 0; i < n; i++) {
    pnode *q = &p->pn[i];
    q->node = nodes[i];
    q->target = nodes[i] == target;
    if (!nodes[i]->materialized)
      for (int j = 0; j < nodes[i]->ninputs; j++)
        p->pn[nodes[i]->inputs[j]->topo].consumers++;
  }
  free(nodes);
  /* Fuse a producer into its only consumer when the consumer reads block b of it for its own
   * block b: tile by tile when both sides work in tiles, else a whole block at a time into a
   * scratch buffer reused from block to block, so no intermediate block is ever stored. */
  for (int64_t i = n - 1; i >= 0; i--) {
    pnode *q = &p->pn[i];
    da_array a = q->node;
    if (a->materialized)
      continue;
    q->compute = true;
    bool tile = a->ops->tile && a->ops->aligned && a->ninputs <= DA_MAX_FUSED_INPUTS;
    bool run = a->ops->run && a->ops->aligned;
    if (q->target || !(tile || run || a->ops->gather))
      continue;
    /* A layer with several consumers would be a step of its own, all its local blocks held
     * at once; when that share alone passes the memory limit, each consumer recomputes it
     * instead, block by block, from its sources (reading a file once per consumer). */
    if (q->consumers != 1 &&
        !(q->consumers > 1 && ctx->mem_limit > 0 && share_bytes(p, a) > (double)ctx->mem_limit &&
          recomputable(p, a, 0) && fusable_consumers(p, i) == q->consumers))
      continue;
    for (int64_t j = i + 1; j < n; j++) {
      da_array c = p->pn[j].node;
      if (c->materialized || (!p->pn[j].compute && !p->pn[j].fused))
        continue;
      for (int k = 0; k < c->ninputs; k++)
        if (c->inputs[k] == a && accepts_fusion(c)) {
          q->fused = true, q->compute = false;
          /* Whole blocks serve any consumer; tiles only those that read tiles. */
          q->whole = q->whole || run || !(c->ops->tile || c->ops->fuses_inputs);
        }
    }
  }
  for (int64_t i = 0; i < n; i++) {
    pnode *q = &p->pn[i];
    int64_t nb = q->node->nblocks;
    q->need = calloc((size_t)nb, 1);
    q->data = calloc((size_t)nb, sizeof(void *));
    q->home = calloc((size_t)nb, sizeof(rpack *));
    q->uses = calloc((size_t)nb, sizeof(int32_t));
    if (!q->need || !q->data || !q->home || !q->uses)
      return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the plan");
    if (q->node->materialized)
      for (int64_t k = 0; k < q->node->nlocal; k++)
        q->data[da_block_global_index(q->node, k)] = q->node->lblocks[k];
  }
  /* Needed blocks, from the target down. */
  memset(p->pn[target->topo].need, 1, (size_t)target->nblocks);
  for (int64_t i = n - 1; i >= 0; i--) {
    pnode *q = &p->pn[i];
    if (!q->compute)
      continue;
    for (int64_t b = 0; b < q->node->nblocks; b++) {
      if (!q->need[b])
        continue;
      int64_t nd;
      DA_TRY(task_deps(p, q->node, b, &nd));
      for (int64_t k = 0; k < nd; k++)
        p->pn[p->dnode[k]].need[p->dblock[k]] = 1;
    }
  }
  /* Steps, tasks, uses and transfers, in one deterministic order on every rank. */
  for (int64_t i = 0; i < n; i++)
    p->nsteps += p->pn[i].compute;
  p->steps = calloc((size_t)(p->nsteps ? p->nsteps : 1), sizeof *p->steps);
  if (!p->steps)
    return DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the plan");
  triple_set seen = {0};
  int rc = DA_OK, me = ctx->rank;
  int64_t s = 0;
  for (int64_t i = 0; i < n && !rc; i++) {
    pnode *q = &p->pn[i];
    if (!q->compute)
      continue;
    pstep *st = &p->steps[s++];
    st->node = i;
    int64_t count = 0;
    for (int64_t b = 0; b < q->node->nblocks; b++)
      count += q->need[b] && da_block_owner_of(q->node, b) == me;
    st->tasks = malloc((size_t)(count ? count : 1) * sizeof(int64_t));
    if (!st->tasks) {
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the task list");
      break;
    }
    for (int64_t b = 0; b < q->node->nblocks && !rc; b++)
      if (q->need[b])
        rc = plan_task(p, st, &seen, b);
  }
  free(seen.keys);
  return rc;
}

/* ---------------------------------------------------------------- waves */

/* A contiguous run of a step's blocks [b0, b1) and this rank's share of it: tasks, sends and
 * receives, as index ranges of the step's lists (all kept in block order). */
typedef struct {
  int64_t b0, b1, t0, t1, s0, s1, r0, r1;
} wave;

/* What a send costs its source in buffers: small items and boxes go in a pack; a large
 * whole block is sent from where it is. */
static size_t send_cost(size_t bytes, bool box) {
  return bytes <= DA_PACK_MAX || box ? bytes : 0;
}

/* The transfer buffers task (a, b) needs on each rank, appended as (rank, bytes) pairs;
 * shared boxes are counted at every use, so the sum only overestimates. */
static int task_costs(plan *p, da_array a, int64_t b, int **rank, int64_t **cost, int64_t *cap,
                      int64_t *m) {
  int64_t nd;
  DA_TRY(task_deps(p, a, b, &nd));
  if (2 * nd > *cap) {
    int64_t ncap = 2 * nd;
    int *r = realloc(*rank, (size_t)ncap * sizeof *r);
    if (r)
      *rank = r;
    int64_t *c = realloc(*cost, (size_t)ncap * sizeof *c);
    if (c)
      *cost = c;
    if (!r || !c)
      return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate wave costs");
    *cap = ncap;
  }
  int o = da_block_owner_of(a, b);
  *m = 0;
  for (int64_t k = 0; k < nd; k++) {
    da_array x = p->pn[p->dnode[k]].node;
    int64_t lb = p->dblock[k];
    int src = da_block_owner_of(x, lb);
    if (src == o)
      continue;
    size_t bytes = block_bytes(x, lb);
    if (p->dbox[k]) {
      int64_t e = 1;
      for (int d = 0; d < x->ndim; d++)
        e *= p->dn[k * MAXD + d];
      bytes = (size_t)e * x->elsize;
    }
    (*rank)[*m] = o, (*cost)[(*m)++] = (int64_t)bytes;
    (*rank)[*m] = src, (*cost)[(*m)++] = (int64_t)send_cost(bytes, p->dbox[k]);
  }
  return DA_OK;
}

/* Cuts the step's blocks into waves whose transfer buffers fit budget on every rank (every
 * rank computes the same cuts from the same plan). A budget below the largest task's needs is
 * raised to it: such tasks then go in waves of their own. */
static int cut_waves(plan *p, pstep *st, int64_t budget, int64_t *cuts, int64_t *nw) {
  da_array a = p->pn[st->node].node;
  int size = p->ctx->size;
  int64_t *load = calloc((size_t)size, sizeof *load), cap = 0, m = 0, maxc = 0;
  int *wr = malloc((size_t)size * sizeof *wr), *rank = NULL, nwr = 0;
  int64_t *cost = NULL;
  int rc = load && wr ? DA_OK : DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate wave loads");
  /* The largest per-rank need of one task. */
  for (int64_t b = 0; b < a->nblocks && !rc; b++) {
    if (!p->pn[st->node].need[b] || (rc = task_costs(p, a, b, &rank, &cost, &cap, &m)))
      continue;
    for (int64_t i = 0; i < m; i++)
      load[rank[i]] += cost[i];
    for (int64_t i = 0; i < m; i++)
      maxc = load[rank[i]] > maxc ? load[rank[i]] : maxc;
    for (int64_t i = 0; i < m; i++)
      load[rank[i]] = 0;
  }
  budget = budget > maxc ? budget : maxc;
  int64_t in_wave = 0;
  *nw = 0;
  cuts[0] = 0;
  for (int64_t b = 0; b < a->nblocks && !rc; b++) {
    if (!p->pn[st->node].need[b] || (rc = task_costs(p, a, b, &rank, &cost, &cap, &m)))
      continue;
    for (int pass = 0; pass < 2; pass++) {
      bool over = false;
      for (int64_t i = 0; i < m; i++) {
        if (!load[rank[i]] && cost[i])
          wr[nwr++] = rank[i];
        load[rank[i]] += cost[i];
      }
      for (int64_t i = 0; i < m; i++)
        over |= load[rank[i]] > budget;
      if (!over || in_wave == 0 || pass == 1)
        break;
      /* This task starts the next wave. */
      for (int i = 0; i < nwr; i++)
        load[wr[i]] = 0;
      nwr = 0;
      cuts[++*nw] = b;
      in_wave = 0;
    }
    in_wave++;
  }
  cuts[++*nw] = a->nblocks;
  free(load);
  free(wr);
  free(rank);
  free(cost);
  return rc;
}

/* The step's waves as block boundaries (cuts[0..nw]): one wave unless a memory limit is set
 * and this step's outputs and transfer buffers would pass it on some rank; then the buffers
 * of each wave get what the limit leaves beside the blocks held and the step's outputs.
 * Collective. */
static int step_waves(plan *p, pstep *st, int64_t **cuts, int64_t *nw) {
  da_ctx ctx = p->ctx;
  da_array a = p->pn[st->node].node;
  *nw = 1;
  *cuts = malloc((size_t)(a->nblocks + 2) * sizeof **cuts);
  int rc = *cuts ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the waves");
  if (!rc) {
    (*cuts)[0] = 0;
    (*cuts)[1] = a->nblocks;
  }
  if (ctx->mem_limit <= 0)
    return da_agree(ctx, rc);
  int64_t out = 0, moved = 0;
  for (int64_t t = 0; t < st->ntasks; t++) {
    int64_t bytes = (int64_t)block_bytes(a, st->tasks[t]);
    /* A streamed target holds one block at a time. */
    out = p->pn[st->node].target && p->sink ? (bytes > out ? bytes : out) : out + bytes;
  }
  for (int64_t i = 0; i < st->recvs.n; i++)
    moved += (int64_t)st->recvs.v[i].bytes;
  for (int64_t i = 0; i < st->sends.n; i++)
    moved += (int64_t)send_cost(st->sends.v[i].bytes, st->sends.v[i].piece >= 0);
  int64_t room[2] = {ctx->mem_limit - ctx->mem_current - out - moved,
                     ctx->mem_limit - ctx->mem_current - out};
  if (MPI_Allreduce(MPI_IN_PLACE, room, 2, MPI_INT64_T, MPI_MIN, ctx->comm) != MPI_SUCCESS)
    rc = DA_ERR(ctx, DA_ERR_MPI, "MPI_Allreduce failed while sizing waves");
  if (!rc && room[0] < 0)
    rc = cut_waves(p, st, room[1], *cuts, nw);
  return da_agree(ctx, rc);
}

/* ---------------------------------------------------------------- execution */

/* Fused producers of an aligned node: a tree of inputs, built once per step. Whole-block
 * producers get their scratch block when they first run. */
static int inputs_build(plan *p, da_array a, da_input **out) {
  *out = calloc((size_t)(a->ninputs ? a->ninputs : 1), sizeof(da_input));
  if (!*out)
    return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate task inputs");
  for (int i = 0; i < a->ninputs; i++) {
    da_input *in = &(*out)[i];
    in->node = a->inputs[i];
    pnode *q = &p->pn[in->node->topo];
    if (!q->fused)
      continue;
    if (!q->whole && !(in->scratch = malloc(DA_TILE * in->node->elsize)))
      return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate a tile buffer");
    if (!in->node->ops->gather) /* a view's inputs are bound per block */
      DA_TRY(inputs_build(p, in->node, &in->sub));
  }
  return DA_OK;
}

static void inputs_free(plan *p, da_input *ins, int n) {
  if (!ins)
    return;
  for (int i = 0; i < n; i++) {
    if (ins[i].scratch_bytes)
      held_free(p, ins[i].scratch, ins[i].scratch_bytes);
    else
      free(ins[i].scratch);
    if (ins[i].pack_bytes)
      held_free(p, ins[i].pack, ins[i].pack_bytes);
    if (ins[i].sub && ins[i].node->ops->gather)
      free(ins[i].sub);
    else if (ins[i].sub)
      inputs_free(p, ins[i].sub, ins[i].node->ninputs);
  }
  free(ins);
}

static int inputs_bind(plan *p, da_input *ins, int n, int64_t b);

/* Computes block b of a whole-block fused producer into its scratch block, from its inputs
 * (bound already), and points the input at it. */
static int whole_run(plan *p, da_input *in, int64_t b) {
  da_array a = in->node;
  size_t bytes = block_bytes(a, b);
  if (bytes > in->scratch_bytes || !in->scratch) {
    size_t most = 1; /* the largest block, so that one buffer serves every block */
    for (int64_t k = 0; k < a->nblocks; k++)
      most = block_bytes(a, k) > most ? block_bytes(a, k) : most;
    if (in->scratch_bytes)
      held_free(p, in->scratch, in->scratch_bytes);
    in->scratch_bytes = 0;
    if (!(in->scratch = held_alloc(p, most)))
      return DA_ERR_NOMEM;
    in->scratch_bytes = most;
  }
  int64_t total = (int64_t)(bytes / a->elsize);
  int rc = DA_OK;
  if (a->ops->gather) {
    a->ops->gather(a, b, in->sub, in->nsub, 0, total, in->scratch);
  } else if (a->ops->run) {
    rc = a->ops->run(a, b, in->sub, a->ninputs, in->scratch);
  } else {
    const void *tiles[DA_MAX_FUSED_INPUTS];
    for (int64_t start = 0; start < total; start += DA_TILE) {
      int64_t cnt = total - start < DA_TILE ? total - start : DA_TILE;
      for (int i = 0; i < a->ninputs; i++)
        tiles[i] = da_input_tile(&in->sub[i], start, cnt);
      a->ops->tile(a, b, start, cnt, tiles, (char *)in->scratch + start * (int64_t)a->elsize);
    }
  }
  in->data = in->scratch;
  return rc;
}

/* Whether box lo/n of block b of x is worth copying compact before a view reads it: a small
 * part of the block, not contiguous in it (a column of a 2-D block, say). */
static bool thin_box(const da_array x, int64_t b, const int64_t *lo, const int64_t *n) {
  int64_t bs[MAXD], box = 1, all = 1;
  (void)lo;
  da_block_shape_of(x, b, bs);
  bool strided = false, outer = false; /* outer: an axis before holds more than one index */
  for (int d = 0; d < x->ndim; d++) {
    box *= n[d], all *= bs[d];
    strided = strided || (outer && n[d] < bs[d]);
    outer = outer || n[d] > 1;
  }
  return strided && box > 0 && box * 4 <= all;
}

/* Copies the boxes marked by inputs_bind into the view input's pack and points them there. */
static int pack_boxes(plan *p, da_input *in) {
  size_t need = 0;
  for (int64_t k = 0; k < in->nsub; k++) {
    const da_input *s = &in->sub[k];
    if (s->block >= 0)
      continue;
    size_t e = s->node->elsize;
    for (int d = 0; d < s->node->ndim; d++)
      e *= (size_t)s->n[d];
    need += (e + 63) & ~(size_t)63;
  }
  if (need == 0)
    return DA_OK;
  if (need > in->pack_bytes) {
    if (in->pack_bytes)
      held_free(p, in->pack, in->pack_bytes);
    in->pack_bytes = 0;
    if (!(in->pack = held_alloc(p, need)))
      return DA_ERR_NOMEM;
    in->pack_bytes = need;
  }
  char *at = in->pack;
  for (int64_t k = 0; k < in->nsub; k++) {
    da_input *s = &in->sub[k];
    if (s->block >= 0)
      continue;
    s->block = -1 - s->block;
    int64_t bs[MAXD];
    size_t e = s->node->elsize;
    da_block_shape_of(s->node, s->block, bs);
    box_pack(s->data, s->node->ndim, bs, s->lo, s->n, s->node->elsize, at);
    for (int d = 0; d < s->node->ndim; d++)
      e *= (size_t)s->n[d];
    s->data = at;
    s->part = true;
    at += (e + 63) & ~(size_t)63;
  }
  return DA_OK;
}

/* Points the inputs of an aligned task at block b: blocks in memory, fused producers'
 * inputs, and the blocks (or received boxes) fused views gather from. */
static int inputs_bind(plan *p, da_input *ins, int n, int64_t b) {
  for (int i = 0; i < n; i++) {
    da_input *in = &ins[i];
    in->block = b;
    if (!p->pn[in->node->topo].fused) {
      in->data = p->pn[in->node->topo].data[b];
    } else if (in->node->ops->gather) {
      int64_t cnt;
      DA_TRY(view_deps(p, in->node, b, &cnt));
      if (cnt > in->subcap) {
        da_input *v = realloc(in->sub, (size_t)cnt * sizeof *v);
        if (!v)
          return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate view inputs");
        in->sub = v;
        in->subcap = cnt;
      }
      in->nsub = cnt;
      for (int64_t k = 0; k < cnt; k++) {
        da_array src = in->node->inputs[p->din[k]];
        da_input *s = &in->sub[k];
        memset(s, 0, sizeof *s);
        bool box = dep_region(in->node, b, k, src, p->dtmp[k], s->lo, s->n);
        if (dep_bind(p, src->topo, p->dtmp[k], box, s->lo, s->n, s) == -2)
          return DA_ERR(p->ctx, DA_ERR_INTERNAL, "a received box of %s is missing",
                        in->node->ops->name);
        if (box && !s->part && s->data && thin_box(src, p->dtmp[k], s->lo, s->n))
          s->block = -1 - s->block; /* marked for packing */
      }
      DA_TRY(pack_boxes(p, in));
    } else {
      DA_TRY(inputs_bind(p, in->sub, in->node->ninputs, b));
    }
    if (p->pn[in->node->topo].whole)
      DA_TRY(whole_run(p, in, b));
  }
  return DA_OK;
}

/* ---------------------------------------------------------------- spilling */

static bool over_limit(const plan *p) {
  return p->ctx->mem_limit > 0 && p->ctx->mem_current > p->ctx->mem_limit;
}

static bool spilled(const plan *p, int64_t node, int64_t b) {
  const pnode *d = &p->pn[node];
  return d->spill && d->spill[b] && !d->data[b];
}

/* The spill file: in DARRAY_SPILL_DIR, else TMPDIR, else /tmp; unlinked at once, so that
 * it goes with the process however it ends. */
static int spill_file(plan *p) {
  if (p->spill_open)
    return DA_OK;
  const char *dir = getenv("DARRAY_SPILL_DIR");
  if (!dir || !*dir)
    dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = "/tmp";
  char name[4096];
  if (snprintf(name, sizeof name, "%s/darray-spill-XXXXXX", dir) >= (int)sizeof name)
    return DA_ERR(p->ctx, DA_ERR_IO, "the spill directory '%s' has too long a name", dir);
  int fd = mkstemp(name);
  if (fd < 0)
    return DA_ERR(p->ctx, DA_ERR_IO, "cannot make a spill file in '%s': %s", dir, strerror(errno));
  unlink(name);
  p->spill_fd = fd;
  p->spill_open = true;
  return DA_OK;
}

/* Writes block b of node (in memory, computed here) to the spill file, once, and frees it. */
static int spill_out(plan *p, int64_t node, int64_t b) {
  pnode *d = &p->pn[node];
  size_t bytes = block_bytes(d->node, b);
  if (!d->spill && !(d->spill = calloc((size_t)d->node->nblocks, sizeof *d->spill)))
    return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate the spill table");
  if (!d->spill[b]) {
    DA_TRY(spill_file(p));
    for (size_t done = 0; done < bytes;) {
      ssize_t w = pwrite(p->spill_fd, (const char *)d->data[b] + done, bytes - done,
                         (off_t)((size_t)p->spill_end + done));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return DA_ERR(p->ctx, DA_ERR_IO, "cannot spill a block to disk: %s",
                      w < 0 ? strerror(errno) : "no room");
      done += (size_t)w;
    }
    d->spill[b] = p->spill_end + 1;
    p->spill_end += (int64_t)bytes;
  }
  item_free(p, d->data[b], d->home[b], bytes);
  d->data[b] = NULL;
  d->home[b] = NULL;
  return DA_OK;
}

/* Reads a spilled block back into memory, where it stays until its last use or until the
 * limit is passed again. */
static int spill_in(plan *p, int64_t node, int64_t b) {
  if (!spilled(p, node, b))
    return DA_OK;
  pnode *d = &p->pn[node];
  size_t bytes = block_bytes(d->node, b);
  char *m = held_alloc(p, bytes);
  if (!m)
    return DA_ERR_NOMEM;
  for (size_t done = 0; done < bytes;) {
    ssize_t r =
        pread(p->spill_fd, m + done, bytes - done, (off_t)(d->spill[b] - 1 + (int64_t)done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      held_free(p, m, bytes);
      return DA_ERR(p->ctx, DA_ERR_IO, "cannot read a spilled block back: %s",
                    r < 0 ? strerror(errno) : "short read");
    }
    done += (size_t)r;
  }
  d->data[b] = m;
  return DA_OK;
}

/* Drops one use of a block, freeing it when it was the last and darray owns it; a block read
 * back from the spill file goes again while others still need it, when over the limit. */
static void release_use(plan *p, int64_t node, int64_t b) {
  pnode *d = &p->pn[node];
  if (--d->uses[b] > 0 && d->spill && d->spill[b] && d->data[b] && over_limit(p)) {
    item_free(p, d->data[b], d->home[b], block_bytes(d->node, b));
    d->data[b] = NULL;
    d->home[b] = NULL;
    return;
  }
  if (d->uses[b] > 0 || d->target || !d->data[b])
    return;
  bool own = da_block_owner_of(d->node, b) == p->ctx->rank;
  if (!own || d->compute) {
    item_free(p, d->data[b], d->home[b], block_bytes(d->node, b));
    d->data[b] = NULL;
    d->home[b] = NULL;
  }
}

/* Drops one use of each dependency of the task just run (in p->d*). */
static void release_deps(plan *p, int64_t nd) {
  for (int64_t k = 0; k < nd; k++) {
    da_input in;
    int64_t i = dep_bind(p, p->dnode[k], p->dblock[k], p->dbox[k], p->dlo + k * MAXD,
                         p->dn + k * MAXD, &in);
    if (i == -1) {
      release_use(p, p->dnode[k], p->dblock[k]);
    } else if (i >= 0 && --p->pieces[i].uses == 0 && p->pieces[i].data) {
      piece *c = &p->pieces[i];
      item_free(p, c->data, c->home, c->bytes);
      c->data = NULL;
      c->home = NULL;
    }
  }
}

static bool task_ready(plan *p, da_array a, int64_t b) {
  int64_t nd;
  if (task_deps(p, a, b, &nd))
    return true; /* let run_task report it */
  for (int64_t k = 0; k < nd; k++) {
    da_input in;
    int64_t i = dep_bind(p, p->dnode[k], p->dblock[k], p->dbox[k], p->dlo + k * MAXD,
                         p->dn + k * MAXD, &in);
    if (i == -2)
      return true;
    if (!in.data && !spilled(p, p->dnode[k], p->dblock[k]))
      return false;
  }
  return true;
}

static int run_task(plan *p, pstep *st, da_input *aligned_ins, da_input **dep_ins, int64_t *dep_cap,
                    int64_t b) {
  pnode *q = &p->pn[st->node];
  da_array a = q->node;
  size_t bytes = block_bytes(a, b);
  bool sunk = q->target && p->sink;
  if (sunk && !p->sink_buf) {
    for (int64_t k = 0; k < a->nblocks; k++)
      p->sink_bytes = block_bytes(a, k) > p->sink_bytes ? block_bytes(a, k) : p->sink_bytes;
    p->sink_bytes += !p->sink_bytes;
    if (!(p->sink_buf = held_alloc(p, p->sink_bytes)))
      return DA_ERR_NOMEM;
  }
  void *out = sunk ? p->sink_buf : held_alloc(p, bytes);
  if (!out)
    return DA_ERR_NOMEM;
  int64_t nd;
  int rc = task_deps(p, a, b, &nd);
  for (int64_t k = 0; k < nd && !rc; k++)
    rc = spill_in(p, p->dnode[k], p->dblock[k]);
  da_input *ins = aligned_ins;
  int nins = a->ninputs;
  if (rc) {
  } else if (!a->ops->aligned) {
    if (nd > *dep_cap) {
      da_input *v = realloc(*dep_ins, (size_t)nd * sizeof *v);
      if (v) {
        *dep_ins = v;
        *dep_cap = nd;
      } else {
        rc = DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate task inputs");
      }
    }
    ins = *dep_ins;
    nins = (int)nd;
    for (int64_t k = 0; k < nd && !rc; k++) {
      memset(&ins[k], 0, sizeof ins[k]);
      if (dep_bind(p, p->dnode[k], p->dblock[k], p->dbox[k], p->dlo + k * MAXD, p->dn + k * MAXD,
                   &ins[k]) == -2)
        rc = DA_ERR(p->ctx, DA_ERR_INTERNAL, "a received box of %s is missing", a->ops->name);
    }
  } else {
    rc = inputs_bind(p, ins, nins, b);
  }
  if (rc) {
  } else if (a->ops->run) {
    rc = a->ops->run(a, b, ins, nins, out);
  } else if (a->ops->gather) {
    a->ops->gather(a, b, ins, nins, 0, (int64_t)(bytes / a->elsize), out);
  } else {
    const void *tiles[DA_MAX_FUSED_INPUTS];
    int64_t total = (int64_t)(bytes / a->elsize);
    for (int64_t start = 0; start < total; start += DA_TILE) {
      int64_t cnt = total - start < DA_TILE ? total - start : DA_TILE;
      for (int i = 0; i < nins; i++)
        tiles[i] = da_input_tile(&ins[i], start, cnt);
      a->ops->tile(a, b, start, cnt, tiles, (char *)out + start * (int64_t)a->elsize);
    }
  }
  if (!rc && p->ctx->tile_rc)
    rc = p->ctx->tile_rc;
  p->ctx->tile_rc = DA_OK;
  if (!rc && sunk) {
    rc = p->sink(p->sink_user, a, b, out);
    if (!rc)
      release_deps(p, nd);
    return rc;
  }
  if (rc && sunk)
    return rc;
  if (rc) {
    held_free(p, out, bytes);
    return rc;
  }
  q->data[b] = out;
  release_deps(p, nd); /* binding fused views used din/dtmp only: the d* lists still hold */
  /* Past the limit, a block for a later step waits on disk (the last resort: waves and
   * recomputation keep most graphs under it). */
  if (over_limit(p) && !q->target && bytes > 0)
    return spill_out(p, st->node, b);
  return DA_OK;
}

/* How an item travels: not at all (empty), in its peer's pack (small items and boxes, packed
 * straight out of their blocks), or as a large whole block sent from where it is into a
 * buffer of its own. */
enum { XF_EMPTY, XF_PACKED, XF_WHOLE };

static int xfer_kind(const xfer *x) {
  if (x->bytes == 0)
    return XF_EMPTY;
  return x->bytes <= DA_PACK_MAX || x->piece >= 0 ? XF_PACKED : XF_WHOLE;
}

/* Packs and requests of one wave's transfers with every peer. */
typedef struct {
  rpack **pack; /* per peer */
  size_t *packbytes;
  MPI_Request *req;
  int nreq, cap;
} exchange;

static void exchange_free(plan *p, exchange *e) {
  if (e->pack)
    for (int r = 0; r < p->ctx->size; r++)
      if (e->pack[r])
        item_free(p, NULL, e->pack[r], 0); /* the wave's own reference */
  free(e->pack);
  free(e->packbytes);
  free(e->req);
}

static size_t align_up(size_t v) {
  return (v + DA_PACK_ALIGN - 1) / DA_PACK_ALIGN * DA_PACK_ALIGN;
}

/* A pack of bytes for peer r, counted; large ones on huge pages, so that filling fresh memory
 * takes one fault per 2 MiB instead of one per 4 KiB. */
static int pack_new(plan *p, exchange *e, int r, size_t bytes) {
  rpack *k = calloc(1, sizeof *k);
  if (!k)
    return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate a pack");
  e->pack[r] = k;
  k->live = 1; /* held by the wave until it ends */
  k->used = bytes;
  if (bytes >= 2 * DA_HUGE) {
    k->bytes = (bytes + DA_HUGE - 1) / DA_HUGE * DA_HUGE;
    if (!(k->mem = aligned_alloc(DA_HUGE, k->bytes)))
      return DA_ERR(p->ctx, DA_ERR_NOMEM, "cannot allocate %zu bytes", k->bytes);
#ifdef MADV_HUGEPAGE
    madvise(k->mem, k->bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    da_mem_add(p->ctx, (int64_t)k->bytes);
  } else {
    k->bytes = bytes;
    if (!(k->mem = held_alloc(p, bytes)))
      return DA_ERR_NOMEM;
  }
  return DA_OK;
}

/* Places the packed items of xs[i0, i1) in their peers' packs (x->at, aligned, in plan order:
 * both sides lay a pack out alike) and allocates the packs. */
static int packs_alloc(plan *p, xfer *xs, int64_t i0, int64_t i1, exchange *e) {
  for (int64_t i = i0; i < i1; i++)
    if (xfer_kind(&xs[i]) == XF_PACKED) {
      size_t at = align_up(e->packbytes[xs[i].peer]);
      xs[i].at = at;
      e->packbytes[xs[i].peer] = at + xs[i].bytes;
    }
  for (int r = 0; r < p->ctx->size; r++)
    if (e->packbytes[r])
      DA_TRY(pack_new(p, e, r, e->packbytes[r]));
  return DA_OK;
}

/* Copies what send x carries (the block, or its box) to out. */
static void send_fill(plan *p, const xfer *x, char *out) {
  da_array node = p->pn[x->node].node;
  const char *blk = p->pn[x->node].data[x->block];
  if (x->piece < 0) {
    memcpy(out, blk, x->bytes);
    return;
  }
  const piece *c = &p->pieces[x->piece];
  int64_t bs[MAXD];
  da_block_shape_of(node, x->block, bs);
  box_pack(blk, node->ndim, bs, p->boxes + c->box, p->boxes + c->box + node->ndim, node->elsize,
           out);
}

/* Every buffer of the wave, before any rank posts: packs both ways and the own buffers of
 * large whole blocks received. */
static int wave_alloc(plan *p, pstep *st, const wave *w, exchange *rx, exchange *tx) {
  for (int64_t i = w->s0; i < w->s1; i++)
    DA_TRY(spill_in(p, st->sends.v[i].node, st->sends.v[i].block));
  for (int64_t i = w->r0; i < w->r1; i++) {
    xfer *x = &st->recvs.v[i];
    if (xfer_kind(x) == XF_WHOLE && !(x->buf = held_alloc(p, x->bytes)))
      return DA_ERR_NOMEM;
  }
  DA_TRY(packs_alloc(p, st->recvs.v, w->r0, w->r1, rx));
  return packs_alloc(p, st->sends.v, w->s0, w->s1, tx);
}

static int post_transfers(plan *p, pstep *st, const wave *w, exchange *rx, exchange *tx, int tag) {
  da_ctx ctx = p->ctx;
  /* Per peer the same order on both sides: the pack, then large blocks in plan order. */
  for (int r = 0; r < ctx->size; r++)
    if (rx->pack[r])
      DA_TRY(da_recv_bytes(ctx, rx->pack[r]->mem, rx->pack[r]->used, r, tag, &rx->req, &rx->nreq,
                           &rx->cap));
  for (int64_t i = w->r0; i < w->r1; i++) {
    xfer *x = &st->recvs.v[i];
    if (xfer_kind(x) == XF_WHOLE)
      DA_TRY(da_recv_bytes(ctx, x->buf, x->bytes, x->peer, tag, &rx->req, &rx->nreq, &rx->cap));
  }
  for (int64_t i = w->s0; i < w->s1; i++) {
    xfer *x = &st->sends.v[i];
    if (xfer_kind(x) == XF_PACKED)
      send_fill(p, x, tx->pack[x->peer]->mem + x->at);
  }
  for (int r = 0; r < ctx->size; r++)
    if (tx->pack[r])
      DA_TRY(da_send_bytes(ctx, tx->pack[r]->mem, tx->pack[r]->used, r, tag, &tx->req, &tx->nreq,
                           &tx->cap));
  for (int64_t i = w->s0; i < w->s1; i++) {
    xfer *x = &st->sends.v[i];
    if (xfer_kind(x) == XF_WHOLE)
      DA_TRY(da_send_bytes(ctx, p->pn[x->node].data[x->block], x->bytes, x->peer, tag, &tx->req,
                           &tx->nreq, &tx->cap));
  }
  return DA_OK;
}

/* Places received items: packed ones where they sit in their pack (which then lives until
 * the last of them is freed), large blocks in their own buffers. */
static int recv_place(plan *p, pstep *st, const wave *w, exchange *rx) {
  for (int64_t i = w->r0; i < w->r1; i++) {
    xfer *x = &st->recvs.v[i];
    int kind = xfer_kind(x);
    void *data = x->buf;
    rpack *home = NULL;
    if (kind == XF_PACKED) {
      home = rx->pack[x->peer];
      data = home->mem + x->at;
      home->live++;
    } else if (kind == XF_EMPTY && !(data = held_alloc(p, 0))) {
      return DA_ERR_NOMEM;
    }
    x->buf = NULL;
    if (x->piece >= 0) {
      p->pieces[x->piece].data = data;
      p->pieces[x->piece].home = home;
    } else {
      p->pn[x->node].data[x->block] = data;
      p->pn[x->node].home[x->block] = home;
    }
  }
  return DA_OK;
}

static int wait_all(da_ctx ctx, exchange *e) {
  if (e->nreq && MPI_Waitall(e->nreq, e->req, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
    return DA_ERR(ctx, DA_ERR_MPI, "MPI_Waitall failed");
  e->nreq = 0;
  return DA_OK;
}

/* run_task, timed for the trace and counted by the progress bar (hooks: one branch when off). */
static int run_task_diag(plan *p, pstep *st, da_input *ins, da_input **dep_ins, int64_t *dep_cap,
                         int64_t b) {
  double t0 = da_task_begin(p->ctx);
  int rc = run_task(p, st, ins, dep_ins, dep_cap, b);
  da_task_end(p->ctx, p->pn[st->node].node->ops->name, b, t0);
  p->ran++;
  return rc;
}

/* Tracing: the wave's messages xs[i0, i1) as one event per peer, from posting (t0) to now. */
static void trace_xfers(da_ctx ctx, const xfer *xs, int64_t i0, int64_t i1, const char *name,
                        double t0) {
  if (!(ctx->diag & DA_DIAG_TRACE))
    return;
  for (int64_t i = i0; i < i1; i++)
    da_trace_xfer_add(ctx, xs[i].peer, (int64_t)xs[i].bytes);
  da_trace_xfer_flush(ctx, name, t0);
}

/* One wave: buffers, an agreement, transfers posted, the tasks with local inputs run while
 * they fly, then the rest; the wave's sends release their blocks. Collective. */
static int run_wave(plan *p, pstep *st, const wave *w, da_input *ins, int prior) {
  da_ctx ctx = p->ctx;
  int size = ctx->size, tag = da_next_tag(ctx);
  exchange rx = {0}, tx = {0};
  rx.pack = calloc((size_t)size, sizeof(rpack *));
  rx.packbytes = calloc((size_t)size, sizeof(size_t));
  tx.pack = calloc((size_t)size, sizeof(rpack *));
  tx.packbytes = calloc((size_t)size, sizeof(size_t));
  int rc = prior;
  if (!rc && !(rx.pack && rx.packbytes && tx.pack && tx.packbytes))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate step buffers");
  if (!rc)
    rc = wave_alloc(p, st, w, &rx, &tx);
  /* No rank posts a message until every rank has its buffers. */
  double tw = da_trace_now(ctx), tp = 0;
  rc = da_agree(ctx, rc);
  da_trace_event(ctx, DA_EV_WAIT, "agree", -1, -1, 0, tw);
  da_array a = p->pn[st->node].node;
  da_input *dep_ins = NULL;
  int64_t dep_cap = 0;
  if (!rc) {
    tp = da_trace_now(ctx);
    rc = post_transfers(p, st, w, &rx, &tx, tag);
    da_trace_event(ctx, DA_EV_COMM, "post transfers", -1, -1, 0, tp);
    if (rc) {
      /* Transfers already posted must still complete before their buffers go. */
      wait_all(ctx, &rx);
      wait_all(ctx, &tx);
    }
  }
  if (!rc) {
    int64_t nt = w->t1 - w->t0;
    bool *later = calloc((size_t)(nt ? nt : 1), sizeof *later);
    if (!later)
      rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the task queue");
    for (int64_t t = 0; t < nt && !rc; t++) {
      if (!task_ready(p, a, st->tasks[w->t0 + t]))
        later[t] = true;
      else
        rc = run_task_diag(p, st, ins, &dep_ins, &dep_cap, st->tasks[w->t0 + t]);
    }
    tw = da_trace_now(ctx);
    int wrc = wait_all(ctx, &rx);
    da_trace_event(ctx, DA_EV_WAIT, "wait receives", -1, -1, 0, tw);
    trace_xfers(ctx, st->recvs.v, w->r0, w->r1, "recv", tp);
    if (!rc)
      rc = wrc;
    if (!rc)
      rc = recv_place(p, st, w, &rx);
    for (int64_t t = 0; t < nt && !rc; t++)
      if (later[t])
        rc = run_task_diag(p, st, ins, &dep_ins, &dep_cap, st->tasks[w->t0 + t]);
    tw = da_trace_now(ctx);
    wrc = wait_all(ctx, &tx);
    da_trace_event(ctx, DA_EV_WAIT, "wait sends", -1, -1, 0, tw);
    trace_xfers(ctx, st->sends.v, w->s0, w->s1, "send", tp);
    if (!rc)
      rc = wrc;
    for (int64_t i = w->s0; i < w->s1; i++)
      release_use(p, st->sends.v[i].node, st->sends.v[i].block);
    free(later);
  }
  for (int64_t i = w->r0; i < w->r1; i++) { /* left unplaced by a failure */
    xfer *x = &st->recvs.v[i];
    held_free(p, x->buf, x->bytes);
    x->buf = NULL;
  }
  free(dep_ins);
  exchange_free(p, &rx);
  exchange_free(p, &tx);
  tw = da_trace_now(ctx);
  int64_t all = p->ran; /* summed in the same message, for the progress bar */
  rc = da_agree_sum(ctx, rc, &all);
  da_trace_event(ctx, DA_EV_WAIT, "agree", -1, -1, 0, tw);
  if (!rc && da_progress_on(ctx))
    da_progress_sync(ctx, p->progress_base + all);
  return rc;
}

static int run_step(plan *p, pstep *st) {
  da_array a = p->pn[st->node].node;
  int64_t *cuts = NULL, nw = 0;
  int rc = step_waves(p, st, &cuts, &nw);
  if (rc) {
    free(cuts);
    return rc;
  }
  da_input *ins = NULL;
  int brc = a->ops->aligned ? inputs_build(p, a, &ins) : DA_OK;
  wave w = {0};
  for (int64_t k = 0; k < nw && !rc; k++) {
    w.b0 = cuts[k], w.b1 = cuts[k + 1];
    w.t0 = w.t1, w.s0 = w.s1, w.r0 = w.r1;
    while (w.t1 < st->ntasks && st->tasks[w.t1] < w.b1)
      w.t1++;
    while (w.s1 < st->sends.n && st->sends.v[w.s1].task < w.b1)
      w.s1++;
    while (w.r1 < st->recvs.n && st->recvs.v[w.r1].task < w.b1)
      w.r1++;
    rc = run_wave(p, st, &w, ins, brc);
  }
  inputs_free(p, ins, a->ninputs);
  free(cuts);
  return rc;
}

/* The progress bar's totals (rank 0): this rank's tasks and every rank's, as each rank
 * derives the whole plan. */
static void progress_begin(plan *p) {
  int64_t mine = 0, all = 0;
  for (int64_t s = 0; s < p->nsteps; s++) {
    const pnode *q = &p->pn[p->steps[s].node];
    mine += p->steps[s].ntasks;
    for (int64_t b = 0; b < q->node->nblocks; b++)
      all += q->need[b];
  }
  p->progress_base = da_progress_begin_impl(p->ctx, mine, all);
}

static int schedule_plan(da_array target, da_block_sink sink, void *user) {
  da_ctx ctx = target->ctx;
  plan p = {.ctx = ctx, .sink = sink, .sink_user = user};
  int rc = da_agree(ctx, plan_build(&p, target));
  bool progress = !rc && da_progress_on(ctx);
  if (progress)
    progress_begin(&p);
  for (int64_t s = 0; s < p.nsteps && !rc; s++)
    rc = run_step(&p, &p.steps[s]);
  if (progress)
    da_progress_end_impl(ctx, rc);
  if (!rc && !sink) {
    target->lblocks = calloc((size_t)(target->nlocal ? target->nlocal : 1), sizeof(void *));
    rc = da_agree(ctx,
                  target->lblocks ? DA_OK : DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate blocks"));
  }
  if (sink) {
  } else if (!rc) {
    pnode *t = &p.pn[target->topo];
    for (int64_t k = 0; k < target->nlocal; k++) {
      int64_t b = da_block_global_index(target, k);
      target->lblocks[k] = t->data[b];
      target->held += (int64_t)block_bytes(target, b); /* already counted when computed */
      t->data[b] = NULL;
    }
    target->materialized = true;
    target->borrowed = false;
  } else if (target->lblocks) {
    free(target->lblocks);
    target->lblocks = NULL;
  }
  plan_free(&p);
  return rc;
}

/* ---------------------------------------------------------------- collective layers */

/* Runs the collective layers below target, inputs first, each as a whole on every rank (the
 * plan cannot split them into block tasks). What they materialize on the way, but target,
 * is listed in *temp, to drop once target is done. */
static int run_collectives(da_array target, da_array **temp, int64_t *ntemp) {
  da_ctx ctx = target->ctx;
  da_array *nodes = NULL;
  int64_t n = 0, cap = 0;
  DA_TRY(da_agree(ctx, da_graph_collect(target, &nodes, &n)));
  int rc = DA_OK;
  for (int64_t i = 0; i < n; i++)
    if (!nodes[i]->materialized && nodes[i]->ops->collective)
      cap += 1 + nodes[i]->ninputs;
  if (cap && !(*temp = malloc((size_t)cap * sizeof **temp)))
    rc = DA_ERR(ctx, DA_ERR_NOMEM, "cannot allocate the collective layers' list");
  rc = da_agree(ctx, rc);
  for (int64_t i = 0; i < n && !rc; i++) {
    da_array a = nodes[i];
    if (a->materialized || !a->ops->collective)
      continue;
    for (int j = 0; j < a->ninputs && !rc; j++) {
      da_array in = a->inputs[j];
      if (in->materialized)
        continue;
      rc = da_schedule(in);
      if (!rc)
        (*temp)[(*ntemp)++] = in;
    }
    if (!rc) {
      double t0 = da_task_begin(ctx); /* traced as one task of the whole layer */
      rc = a->ops->collective(a);
      da_task_end(ctx, a->ops->name, -1, t0);
      rc = da_agree(ctx, rc);
    }
    if (!rc && a != target)
      (*temp)[(*ntemp)++] = a;
  }
  free(nodes);
  return rc;
}

static int schedule(da_array target, da_block_sink sink, void *user) {
  da_array *temp = NULL;
  int64_t ntemp = 0;
  int rc = run_collectives(target, &temp, &ntemp);
  if (!rc && !target->materialized)
    rc = schedule_plan(target, sink, user);
  else if (!rc && sink) { /* a collective layer made it whole */
    rc = da_schedule_sink(target, sink, user);
    da_drop_blocks(target);
  }
  for (int64_t i = 0; i < ntemp; i++)
    if (temp[i] != target && temp[i]->materialized && temp[i]->ops)
      da_drop_blocks(temp[i]); /* computed only for a collective layer: a node again */
  free(temp);
  return rc;
}

int da_schedule(da_array target) {
  return target->materialized ? DA_OK : schedule(target, NULL, NULL);
}

int da_schedule_sink(da_array target, da_block_sink sink, void *user) {
  if (!target->materialized)
    return schedule(target, sink, user);
  int rc = DA_OK;
  for (int64_t k = 0; k < target->nlocal && !rc; k++)
    rc = sink(user, target, da_block_global_index(target, k), target->lblocks[k]);
  return da_agree(target->ctx, rc);
}
