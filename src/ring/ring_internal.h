/*
 * Private state of driver-side (struct vtio_vq) and device-side (struct
 * vtio_devq) queues, shared by both ring layouts, and the helpers both
 * layouts use: ring-memory accessors, wire conversions, barrier selection,
 * broken-marking, DMA map/unmap, token bookkeeping and the layout-independent
 * device-side descriptor checks.
 *
 * Layout code lives in vq_split.c / devq_split.c (split) and vq_packed.c /
 * devq_packed.c (packed); vq.c and devq.c hold the public functions, which
 * check arguments and then `switch (layout)` to the vtio__*_split_* or
 * vtio__*_packed_* function by name (no function pointer per ring op).
 */
#ifndef VTIO_RING_INTERNAL_H
#define VTIO_RING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio/port.h"
#include "vtio/error.h"
#include "vtio/spec.h"
#include "vtio/mem.h"
#include "vtio/vq.h"
#include "vtio/devq.h"
#include "vtio/dma.h"

/* ---- Per-layout state --------------------------------------------------------- */

/** Driver-side split state. */
struct vtio__vq_split {
	/* CPU-order shadow of the descriptor table: the driver never reads the
	 * ring's table back (read-free placement). Free descriptors are linked
	 * through shadow[i].next. */
	struct vtio_split_desc *shadow;
	/* CPU-order copy of avail->ring[] as the driver last wrote it: an add
	 * whose head is already there (and whose descriptor already holds its
	 * addr/len/flags, per the shadow above) writes nothing, so a line the
	 * device has cached stays valid (fixed buffers re-posted in order). */
	uint16_t *avail_shadow;
	uint16_t avail_idx;	  /* next avail idx (includes unpublished heads) */
	uint16_t avail_published; /* avail idx as last written to the ring */
	uint16_t kick_old;	  /* avail idx at the last kick_prepare decision */
	uint16_t last_used;	  /* next used slot to reap (free-running) */
	uint16_t used_idx;	  /* last used->idx read from the ring */
	uint16_t free_head;	  /* head of the free descriptor list */
	uint16_t avail_flags;	  /* shadow of avail->flags */
	uint16_t used_event;	  /* shadow of used_event */
	uint16_t mask;		  /* num - 1 (the hot paths' slot mask) */
	/* VIRTIO_F_IN_ORDER: sequential allocation and batched used entries. */
	uint16_t next_desc;  /* next descriptor to hand out */
	uint16_t oldest;     /* head of the oldest buffer in flight */
	uint16_t batch_last; /* id of the last buffer of the pending batch */
	bool batch_pending;  /* buffers up to batch_last are used */
	/* vtio_vq_detach_unused() took buffers out of the middle: the heads in
	 * flight may no longer follow each other (until reset). */
	bool io_holes;
	uint32_t batch_len; /* len of the batch's last buffer */
};

/** Device-side split state. */
struct vtio__devq_split {
	/* Wire copy of each used element as the device last wrote it through
	 * its local pointer (all ones: unknown): a push of the same id and len
	 * to the same slot writes nothing (the driver's cached line stays
	 * valid). The device still never reads the used ring. */
	uint64_t *used_shadow;
	uint16_t last_avail;	 /* next avail slot to take (free-running) */
	uint16_t avail_idx;	 /* last avail->idx read from the ring */
	uint16_t used_idx;	 /* shadow of used->idx (the device never reads the used ring) */
	uint16_t signalled_used; /* used idx at the last notify decision */
	bool signalled_valid;	 /* signalled_used is meaningful */
	uint16_t used_flags;	 /* shadow of used->flags */
	uint16_t mask;		 /* num - 1 (the hot paths' slot mask) */
};

#if VTIO_CONFIG_PACKED
#include "ring_packed.h"
#endif

/* ---- Driver-side queue -------------------------------------------------------- */

/** Ring areas by number (index of area_ptr / area_addr). */
enum { VTIO__AREA_DESC = 0, VTIO__AREA_DRIVER = 1, VTIO__AREA_DEVICE = 2 };

/** Private record of one mapped indirect-table entry (for its unmap). */
struct vtio__seg_rec {
	uint64_t bus;	/* device address the map returned */
	uint32_t len;	/* mapped length */
	uint32_t write; /* mapped FROM_DEVICE */
};

/** Per-buffer bookkeeping: split indexes it by head descriptor, packed by buffer id. */
struct vtio__vq_buf {
	void *token;	     /* NULL when the slot holds no buffer in flight */
	uint64_t indir_addr; /* device address of its indirect table (set only when indir != 0) */
	uint32_t wr_len;     /* writable bytes (used len is clamped to this) */
	uint32_t indir;	     /* indirect table number + 1, 0 when direct */
	uint16_t ndesc;	     /* ring descriptors the buffer holds */
	uint16_t last;	     /* split: last descriptor of the chain; packed: free for its use */
	uint32_t nseg;	     /* table entries (split: set only when indir != 0) */
};

/*
 * The record of a direct one-descriptor buffer @p id (split: its head,
 * packed: its buffer id): token, wr_len, indir 0, ndesc 1, last = id. Three
 * stores, not five: wr_len with indir 0 as one 64-bit store, ndesc with
 * last as one 32-bit store (compilers keep the five apart). indir_addr and
 * nseg are only read when indir != 0. Every straight-line add writes it
 * here.
 */
static inline void vtio__vq_buf_set_one(struct vtio__vq_buf *b, void *token, uint32_t wr_len,
					uint16_t id)
{
	VTIO_STATIC_ASSERT(offsetof(struct vtio__vq_buf, indir) ==
			       offsetof(struct vtio__vq_buf, wr_len) + 4u,
			   "wr_len and indir adjacent");
	VTIO_STATIC_ASSERT(offsetof(struct vtio__vq_buf, last) ==
			       offsetof(struct vtio__vq_buf, ndesc) + 2u,
			   "ndesc and last adjacent");
	b->token = token;
	/* Built as integers, in memory order: wr_len then indir (0); ndesc (1)
	 * then last. */
#if VTIO_CONFIG_BIG_ENDIAN
	uint64_t wi = (uint64_t)wr_len << 32;
	uint32_t nl = (uint32_t)1u << 16 | id;
#else
	uint64_t wi = wr_len;
	uint32_t nl = (uint32_t)id << 16 | 1u;
#endif
	VTIO_MEMCPY((unsigned char *)b + offsetof(struct vtio__vq_buf, wr_len), &wi, 8);
	VTIO_MEMCPY((unsigned char *)b + offsetof(struct vtio__vq_buf, ndesc), &nl, 4);
}

struct vtio_vq {
	enum vtio_layout layout;
	uint16_t index;
	uint32_t num;
	uint64_t features;
	uint32_t flags;	   /* VTIO_VQ_F_* */
	bool dma_barriers; /* DMA-grade barriers (VTIO_VQ_F_DMA_BARRIERS or ORDER_PLATFORM) */
	bool legacy;	   /* no VERSION_1: ring fields in host order */
	bool event_idx;
	bool indirect; /* INDIRECT_DESC negotiated and tables given */
	bool in_order;
	bool notif_data;
	bool do_map;	   /* buffers go through vtio_dma_map (out of line, unmapped on used) */
	bool map_tables;   /* indirect tables go through vtio_dma_map (even when PREMAPPED) */
	bool unmap_tables; /* ... and must be unmapped on used (map_tables, stack not linear) */
	bool fast;	   /* no ring_mem, nothing to unmap: the straight-line paths apply */
	/* Decided at init and reset, cleared when the queue breaks: the public
	 * calls go straight to the split straight-line paths on one test
	 * (no broken / layout / fast tests on the way). */
	bool hot;	     /* split && fast && !in_order && !broken */
	bool hot_io;	     /* split && fast && in_order && !broken (the IN_ORDER straight line) */
	bool hot_packed;     /* the same for packed, && !legacy (ring_packed_hot.h) */
	uint64_t bus_offset; /* added to buffer addresses when !do_map (linear DMA stack) */
	bool broken;
	const char *broken_reason;

	struct vtio_vq_areas areas;
	unsigned char *area_ptr[3]; /* CPU pointers of the areas */
	uint64_t area_addr[3];	    /* device addresses of the areas */
	const struct vtio_mem *ring_mem;
	vtio_notify_fn notify;
	void *notify_ctx;
	struct vtio_dma_dev *dma;

	/* num_free and inflight are kept apart: adjacent, gcc turns the pair of
	 * updates into a 64-bit vector add (8 instructions for 2 in get_used). */
	uint32_t num_free; /* free ring descriptors (slots) */
	struct vtio__vq_buf *bufs;
	/* Buffers in flight, split only: packed derives it from num_free
	 * (vtio__vq_inflight()). */
	uint32_t inflight;

	/* Indirect table pool (in the state buffer). */
	uint32_t indir_tables;
	uint32_t indir_max;
	uint32_t indir_threshold;
	uint32_t indir_nfree;
	uint32_t *indir_free; /* stack of free table numbers */
	unsigned char *indir_base;
	/* Private unmap records of the table entries (indir_tables * indir_max,
	 * only with VTIO_CONFIG_DMA): what was mapped, never read back from the
	 * device-visible table. */
	struct vtio__seg_rec *indir_rec;

	struct vtio_vq_stats stats;

	union {
		struct vtio__vq_split split;
#if VTIO_CONFIG_PACKED
		struct vtio__vq_packed packed;
#endif
	} u;
};

#if VTIO_CONFIG_PACKED
/** Packed: buffers in flight, from the descriptors held (each buffer holds
 * one, a chain one more per further descriptor). */
static inline uint32_t vtio__vq_pk_inflight(const struct vtio_vq *vq)
{
	const struct vtio__vq_packed *p = &vq->u.packed;
	return vq->num - vq->num_free - (uint32_t)(p->chained - p->chained_back);
}
/** Packed: no buffer in flight (no descriptor held), as one compare. */
static inline bool vtio__vq_pk_idle(const struct vtio_vq *vq)
{
	return vq->num_free == vq->num;
}
/** Buffers reaped since the reset: every one added is used, in flight or detached. */
static inline uint64_t vtio__vq_pk_used(const struct vtio_vq *vq)
{
	return vtio__vq_pk_added(&vq->u.packed) - vtio__vq_pk_inflight(vq) - vq->u.packed.detached;
}
#endif
/** Buffers in flight, either layout. */
static inline uint32_t vtio__vq_inflight(const struct vtio_vq *vq)
{
#if VTIO_CONFIG_PACKED
	if (vq->layout == VTIO_LAYOUT_PACKED)
		return vtio__vq_pk_inflight(vq);
#endif
	return vq->inflight;
}

/* ---- Device-side queue ------------------------------------------------------- */

/** vtio_devq::hot_packed: hot, with CPU (SMP) barriers / with DMA barriers. */
enum { VTIO__DEVQ_HOT_CPU = 1, VTIO__DEVQ_HOT_DMA = 2 };

struct vtio_devq {
	enum vtio_layout layout;
	uint16_t index;
	uint32_t num;
	uint64_t features;
	uint32_t flags; /* VTIO_DEVQ_F_* */
	bool dma_barriers;
	bool legacy;
	bool event_idx;
	bool indirect;
	bool in_order;
	bool fast; /* all three areas translated to local pointers at init */
	bool hot;  /* split && fast && !broken (see vtio_vq::hot); cleared on break */
	/* packed && fast && !legacy && !broken: a VTIO__DEVQ_HOT_* (0 when not
	 * hot), so the public calls pick the barrier variant of the straight
	 * line with the test they make anyway. */
	uint8_t hot_packed;
	bool broken;
	const char *broken_reason;
	int broken_err;		 /* the error that broke the queue */
	bool broken_err_pending; /* it broke in a bool/void call: the next pop/push returns it */

	const struct vtio_mem *mem;
	unsigned char *area_ptr[3]; /* local pointers when the whole area translates, else NULL */
	uint64_t area_addr[3];
	size_t area_size[3];
	uint32_t max_indirect; /* most entries in one indirect table */
	/* The view's first region, cached at init (a view is immutable after
	 * init, mem.h): the one-descriptor pop checks a buffer against it
	 * without loading the view. r0_len[w] is the region's length when its
	 * permission allows reading (w = 0) / writing (w = 1), else 0 (no
	 * address passes; the general path reports the error). */
	uint64_t r0_addr;
	uintptr_t r0_host;
	uint64_t r0_len[2];
	/* The packed pop's form of the same: r0_first[w] / r0_last[w] the
	 * region's first and last address when its permission allows reading
	 * (w = 0) / writing (w = 1), else UINT64_MAX / 0 (no address passes);
	 * r0_delta = r0_host - r0_addr modulo the pointer width (a local
	 * pointer is the address plus this). */
	uint64_t r0_first[2];
	uint64_t r0_last[2];
	uintptr_t r0_delta;
	vtio_notify_fn notify;
	void *notify_ctx;

	union {
		struct vtio__devq_split split;
#if VTIO_CONFIG_PACKED
		struct vtio__devq_packed packed;
#endif
	} u;
};

/* ---- Per-layout functions (split in *_split.c, packed in *_packed.c) -------------- */

/*
 * Driver side. vq.c has already checked arguments and filled the common
 * fields (bufs, indirect pool, areas zeroed) before *_init is called;
 * @extra is the layout's own part of the state buffer, *_state_size(num)
 * bytes, 16-byte aligned.
 */
#define VTIO__DECLARE_VQ_LAYOUT(L)                                                                 \
	size_t vtio__vq_##L##_state_size(uint32_t num);                                            \
	int vtio__vq_##L##_init(struct vtio_vq *vq, void *extra);                                  \
	int vtio__vq_##L##_add(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned out_num,     \
			       unsigned in_num, void *token);                                      \
	bool vtio__vq_##L##_kick_prepare(struct vtio_vq *vq);                                      \
	uint32_t vtio__vq_##L##_notify_data(const struct vtio_vq *vq);                             \
	void *vtio__vq_##L##_get_used(struct vtio_vq *vq, uint32_t *len);                          \
	bool vtio__vq_##L##_more_used(const struct vtio_vq *vq);                                   \
	void vtio__vq_##L##_disable_cb(struct vtio_vq *vq);                                        \
	bool vtio__vq_##L##_enable_cb(struct vtio_vq *vq);                                         \
	bool vtio__vq_##L##_enable_cb_delayed(struct vtio_vq *vq);                                 \
	void *vtio__vq_##L##_detach_unused(struct vtio_vq *vq);                                    \
	void vtio__vq_##L##_reset(struct vtio_vq *vq);

/*
 * Device side. devq.c has checked the configuration and translated the
 * areas; @extra is *_state_size(num) bytes, 16-byte aligned.
 */
#define VTIO__DECLARE_DEVQ_LAYOUT(L)                                                               \
	size_t vtio__devq_##L##_state_size(uint32_t num);                                          \
	int vtio__devq_##L##_check_areas(uint32_t num, size_t size[3], size_t align[3]);           \
	int vtio__devq_##L##_init(struct vtio_devq *q, void *extra);                               \
	int vtio__devq_##L##_pop(struct vtio_devq *q, struct vtio_devq_chain *c);                  \
	int vtio__devq_##L##_push_batch(struct vtio_devq *q, const struct vtio_devq_done *u,       \
					unsigned n, bool checked);                                 \
	bool vtio__devq_##L##_notify_prepare(struct vtio_devq *q);                                 \
	bool vtio__devq_##L##_enable_notify(struct vtio_devq *q);                                  \
	void vtio__devq_##L##_disable_notify(struct vtio_devq *q);                                 \
	bool vtio__devq_##L##_more_avail(struct vtio_devq *q);                                     \
	void vtio__devq_##L##_reset(struct vtio_devq *q);

#if VTIO_CONFIG_SPLIT
VTIO__DECLARE_VQ_LAYOUT(split)
VTIO__DECLARE_DEVQ_LAYOUT(split)
/*
 * The split straight-line paths are inline in ring_split.h (included at the
 * end of this file): the public functions run them when the queue is hot
 * (vtio_vq::hot, vtio_vq::hot_io, vtio_devq::hot). The IN_ORDER get_used
 * is one call away (inline in the public function, it would make the
 * other one spill).
 */
void *vtio__vq_split_get_used_io(struct vtio_vq *vq, uint32_t *len);
#if VTIO_CONFIG_FAST_PATHS
/* vtio_vq_add_batch on a fast queue (hot or hot_io), vtio_vq_get_used_batch
 * on a hot one (n >= 1, arrays non-NULL: checked by vq.c). */
int vtio__vq_split_add_batch(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n, bool w,
			     void *const *tokens);
int vtio__vq_split_get_used_batch(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n);
#endif
/* Device: forget the used-element shadow (vtio_devq_set_pos). */
void vtio__devq_split_forget_used(struct vtio_devq *q);
/* Publish avail idx without a notification decision (vtio_vq_publish). */
bool vtio__vq_split_publish(struct vtio_vq *vq);
/*
 * Split counts stats.added when it publishes (kick_prepare or publish), not
 * per add: vtio_vq_get_stats() adds the ones not published yet.
 */
static inline uint64_t vtio__vq_split_pending_added(const struct vtio_vq *vq)
{
	return (uint16_t)(vq->u.split.avail_idx - vq->u.split.avail_published);
}
#endif
#if VTIO_CONFIG_PACKED
VTIO__DECLARE_VQ_LAYOUT(packed)
VTIO__DECLARE_DEVQ_LAYOUT(packed)
#if VTIO_CONFIG_FAST_PATHS
/*
 * Packed straight-line entries, called when vtio_vq::hot_packed /
 * vtio_devq::hot_packed is set: out-of-line bodies of the inline paths in
 * ring_packed_hot.h (inlined into vtio_vq_add, vtio_vq_more_used,
 * vtio_devq_push and vtio_devq_push_handle only: in the other public
 * functions an inline packed path costs the split path registers).
 */
void *vtio__vq_packed_get_used_hot(struct vtio_vq *vq, uint32_t *len);
/* pop_hot: hot_packed == VTIO__DEVQ_HOT_CPU (vtio_devq_pop calls it);
 * pop_hot_dma: VTIO__DEVQ_HOT_DMA (vtio__devq_packed_pop() calls it, as a
 * push with DMA barriers takes the hot push_batch). */
int vtio__devq_packed_pop_hot(struct vtio_devq *q, struct vtio_devq_chain *c);
int vtio__devq_packed_pop_hot_dma(struct vtio_devq *q, struct vtio_devq_chain *c);
/* vtio_devq_pop_batch on a hot queue (n >= 1, c != NULL: checked by devq.c). */
int vtio__devq_packed_pop_batch(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned n);
/* vtio_vq_add_batch / vtio_vq_get_used_batch on a hot queue (n >= 1,
 * arrays non-NULL: checked by vq.c). */
int vtio__vq_packed_add_batch(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n, bool w,
			      void *const *tokens);
int vtio__vq_packed_get_used_batch(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n);
#endif
#endif

/* ---- Shared helpers ------------------------------------------------------------ */

/*
 * Compiler barrier after copying peer-written bytes to private memory: the
 * compiler may not re-read shared memory in place of the copy (a re-read
 * after a check would be a double fetch: TOCTOU on a bounds check).
 */
#define VTIO__PEER_COPY_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/*
 * Read-once accounting. Every device-side read of driver memory through a
 * local pointer (ring fields, descriptors, indirect tables, region copies in
 * mem_view.c) names the bytes it read with VTIO__PEER_FETCHED(). It compiles
 * to nothing, except in the read-once test (tests/ring/test_devq_read_once.c),
 * which builds the ring sources with VTIO__TEST_PEER_FETCH defined and counts
 * the reads per byte; reads through accessor ops are counted by the ops
 * themselves. Each descriptor byte must be fetched once per pop.
 */
#ifdef VTIO__TEST_PEER_FETCH
void vtio__test_peer_fetched(const volatile void *p, size_t len);
#define VTIO__PEER_FETCHED(p, len) vtio__test_peer_fetched((p), (len))
#else
#define VTIO__PEER_FETCHED(p, len) ((void)0)
#endif

/** Copy @p len peer-written bytes at @p src to private memory, read once. */
static inline void vtio__peer_copy(void *dst, const void *src, size_t len)
{
	VTIO_MEMCPY(dst, src, len);
	VTIO__PEER_FETCHED(src, len);
	VTIO__PEER_COPY_BARRIER();
}

/* Keep a rare path out of line so the hot path gets a light prologue. */
#if defined(__GNUC__) || defined(__clang__)
#define VTIO__NOINLINE __attribute__((noinline))
#else
#define VTIO__NOINLINE
#endif
/* A straight-line path written once and pasted into each of its callers
 * (the public function, each barrier variant): GCC inlines these by itself,
 * clang 14 keeps several out of line (a call, a runtime test of a
 * constant argument, register saves per operation) without this. */
#if defined(__GNUC__) || defined(__clang__)
#define VTIO__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define VTIO__ALWAYS_INLINE static inline
#endif
/* A rarely taken path: out of line, and the caller's registers are kept for
 * its hot path (the compiler lays the call out as unlikely). */
#if defined(__GNUC__) || defined(__clang__)
#define VTIO__COLD __attribute__((noinline, cold))
#else
#define VTIO__COLD
#endif

/** Round @p x up to a multiple of 16. */
static inline size_t vtio__align16(size_t x)
{
	return (x + 15u) & ~(size_t)15u;
}

/** Wire conversion: little-endian, or host order for legacy (no VERSION_1) queues. */
static inline uint16_t vtio__w16(bool legacy, uint16_t x)
{
	return legacy ? x : vtio_le16(x);
}
/** 32-bit wire conversion (see vtio__w16). */
static inline uint32_t vtio__w32(bool legacy, uint32_t x)
{
	return legacy ? x : vtio_le32(x);
}
/** 64-bit wire conversion (see vtio__w16). */
static inline uint64_t vtio__w64(bool legacy, uint64_t x)
{
	return legacy ? x : vtio_le64(x);
}

/** Full barrier of the queue's family. */
static inline void vtio__mb(bool dma)
{
	if (dma)
		VTIO_DMA_MB();
	else
		VTIO_SMP_MB();
}
/** Read barrier of the queue's family. */
static inline void vtio__rmb(bool dma)
{
	if (dma)
		VTIO_DMA_RMB();
	else
		VTIO_SMP_RMB();
}
/** Write barrier of the queue's family. */
static inline void vtio__wmb(bool dma)
{
	if (dma)
		VTIO_DMA_WMB();
	else
		VTIO_SMP_WMB();
}

/*
 * 16-bit ring fields (indexes, flags, event fields) in one untorn access.
 * The pointer forms are the fast paths of both sides; the view forms
 * translate the 2 bytes and use the pointer form when they map to one
 * 2-byte-aligned local pointer, else the view's ops (which mem.h requires to
 * do 2-byte accesses untorn and in order) with an SMP barrier for the
 * acquire/release order.
 */

/** Acquire load of a raw 16-bit value at @p p (+ DMA read barrier when @p dma). */
static inline uint16_t vtio__load16_acquire_ptr(const unsigned char *p, bool dma)
{
	uint16_t v = VTIO_LOAD_ACQUIRE16((const uint16_t *)(const void *)p);
	VTIO__PEER_FETCHED(p, 2);
	if (dma)
		VTIO_DMA_RMB();
	return v;
}

/**
 * Untorn 16-bit load through view @p m at @p addr; @p acquire orders later
 * accesses after it. @return 0 or the view's error (VTIO_EFAULT / VTIO_EACCES).
 */
int vtio__mem_load16(const struct vtio_mem *m, uint64_t addr, uint16_t *v, bool acquire);
/**
 * Untorn 16-bit store through view @p m at @p addr; @p release orders earlier
 * accesses before it. @return 0 or the view's error.
 */
int vtio__mem_store16(const struct vtio_mem *m, uint64_t addr, uint16_t v, bool release);

/* Queue flags folded with the compile-time options: constant false when
 * the option is compiled out, the flag itself otherwise. */
#define VTIO__VQ_RING_MEM(vq) (VTIO_CONFIG_RING_MEM && (vq)->ring_mem != NULL)
#define VTIO__VQ_IN_ORDER(vq) (VTIO_CONFIG_IN_ORDER && (vq)->in_order)
#define VTIO__VQ_HOT(vq)      (VTIO_CONFIG_FAST_PATHS && (vq)->hot)
/* Device-queue flags folded with the compile-time options (as above). */
#define VTIO__DEVQ_HOT(q)	(VTIO_CONFIG_FAST_PATHS && (q)->hot)
#define VTIO__DEVQ_INDIRECT(q)	(VTIO_CONFIG_INDIRECT && (q)->indirect)
#define VTIO__DEVQ_EVENT_IDX(q) (VTIO_CONFIG_EVENT_IDX && (q)->event_idx)
#define VTIO__DEVQ_IN_ORDER(q)	(VTIO_CONFIG_IN_ORDER && (q)->in_order)
/* An indirect buffer (vtio__vq_buf::indir / add_rec::indir != 0). */
#define VTIO__VQ_INDIR(x) (VTIO_CONFIG_INDIRECT && (x) != 0)

/* Driver-side ring accessors: through the CPU pointer (fast path), or
 * through vq->ring_mem at the area's device address when one is set. Every
 * accessor reports the view's error; the caller breaks the queue. */

/** Copy @p len bytes to ring area @p a at @p off. @return 0 or the view's error. */
static inline int vtio__vq_ring_write(struct vtio_vq *vq, int a, size_t off, const void *src,
				      size_t len)
{
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		VTIO_MEMCPY(vq->area_ptr[a] + off, src, len);
		return 0;
	}
	return vtio_mem_write(vq->ring_mem, vq->area_addr[a] + off, src, len);
}
/** Copy @p len bytes from ring area @p a at @p off. @return 0 or the view's error. */
static inline int vtio__vq_ring_read(const struct vtio_vq *vq, int a, size_t off, void *dst,
				     size_t len)
{
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		VTIO_MEMCPY(dst, vq->area_ptr[a] + off, len);
		return 0;
	}
	return vtio_mem_read(vq->ring_mem, vq->area_addr[a] + off, dst, len);
}
/**
 * Release store of a raw (wire) 16-bit value: publishes everything written
 * before. @return 0 or the view's error.
 */
VTIO__ALWAYS_INLINE int vtio__vq_store16_release(struct vtio_vq *vq, int a, size_t off,
						 uint16_t wire)
{
	if (vq->dma_barriers)
		VTIO_DMA_WMB();
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		VTIO_STORE_RELEASE16((uint16_t *)(void *)(vq->area_ptr[a] + off), wire);
		return 0;
	}
	return vtio__mem_store16(vq->ring_mem, vq->area_addr[a] + off, wire, true);
}
/**
 * Acquire load of a raw 16-bit value: what the peer wrote before it is
 * visible after. @return 0 with *v set, or the view's error.
 */
static inline int vtio__vq_get16_acquire(const struct vtio_vq *vq, int a, size_t off, uint16_t *v)
{
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		*v = vtio__load16_acquire_ptr(vq->area_ptr[a] + off, vq->dma_barriers);
		return 0;
	}
	int err = vtio__mem_load16(vq->ring_mem, vq->area_addr[a] + off, v, true);
	if (vq->dma_barriers)
		VTIO_DMA_RMB();
	return err;
}
/** Untorn relaxed load of a raw 16-bit value. @return 0 with *v set, or the view's error. */
static inline int vtio__vq_get16(const struct vtio_vq *vq, int a, size_t off, uint16_t *v)
{
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		*v = VTIO_READ_ONCE16((uint16_t *)(void *)(vq->area_ptr[a] + off));
		return 0;
	}
	return vtio__mem_load16(vq->ring_mem, vq->area_addr[a] + off, v, false);
}
/** Untorn relaxed store of a raw 16-bit value (event fields, flags). @return 0 or the error. */
static inline int vtio__vq_write16(struct vtio_vq *vq, int a, size_t off, uint16_t wire)
{
	if (VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq))) {
		VTIO_WRITE_ONCE16((uint16_t *)(void *)(vq->area_ptr[a] + off), wire);
		return 0;
	}
	return vtio__mem_store16(vq->ring_mem, vq->area_addr[a] + off, wire, false);
}
/** Reason a driver queue breaks with when its ring view refuses a read. */
#define VTIO__VQ_ENOREAD "ring memory not readable"
/** Reason a driver queue breaks with when its ring view refuses a write. */
#define VTIO__VQ_ENOWRITE "ring memory not writable"

/** Mark a driver queue broken (first reason wins). */
static inline void vtio__vq_break(struct vtio_vq *vq, const char *reason)
{
	if (!vq->broken) {
		vq->broken_reason = reason;
		vq->broken = true;
		vq->hot = false;
		vq->hot_io = false;
		vq->hot_packed = false;
	}
}

/** CPU pointer of indirect table @p t (0-based). */
static inline unsigned char *vtio__vq_indir_table(const struct vtio_vq *vq, uint32_t t)
{
	return vq->indir_base + (size_t)t * vq->indir_max * 16u;
}

/**
 * Take a free indirect table: returns its number + 1, or 0 when none is free.
 */
static inline uint32_t vtio__vq_indir_get(struct vtio_vq *vq)
{
	if (vq->indir_nfree == 0)
		return 0;
	return vq->indir_free[--vq->indir_nfree] + 1u;
}
/** Give back table number + 1 @p t (0 is ignored). */
static inline void vtio__vq_indir_put(struct vtio_vq *vq, uint32_t t)
{
	if (VTIO__VQ_INDIR(t))
		vq->indir_free[vq->indir_nfree++] = t - 1u;
}

/**
 * Common tail of every packed get_used: clamp the device's length to the
 * buffer's writable bytes (never expose bytes past the buffer:
 * SPLIT-DRV-16 / PACKED-DRV-15), count a clamp, store *len. @return
 * @p token. Packed derives stats.used (vtio__vq_pk_used()).
 */
static inline void *vtio__vq_clamp_used(struct vtio_vq *vq, void *token, uint32_t ulen,
					uint32_t wr_len, uint32_t *len)
{
	if (VTIO_UNLIKELY(ulen > wr_len)) {
		ulen = wr_len;
		vq->stats.len_clamped++;
	}
	if (len != NULL)
		*len = ulen;
	return token;
}

/** Common tail of every split get_used: vtio__vq_clamp_used(), counted. */
static inline void *vtio__vq_finish_used(struct vtio_vq *vq, void *token, uint32_t ulen,
					 uint32_t wr_len, uint32_t *len)
{
	vq->stats.used++;
	return vtio__vq_clamp_used(vq, token, ulen, wr_len, len);
}

/*
 * What vtio_vq_get_used_batch() returns after taking @p k buffers (every
 * path): k; or, when none was taken, VTIO_EIO on a broken queue (also one
 * that broke in this call), else VTIO_EAGAIN.
 */
static inline int vtio__vq_used_batch_result(const struct vtio_vq *vq, unsigned k)
{
	if (k != 0)
		return (int)k;
	return vq->broken ? VTIO_EIO : VTIO_EAGAIN;
}

/** Writable length stored for a buffer: summed in 64 bits, saturated (a chain may carry 4 GiB). */
static inline uint32_t vtio__vq_sat32(uint64_t x)
{
	return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/**
 * Should a buffer of @p n segments go indirect?
 * @p fits: the buffer fits in the free descriptors as a direct chain.
 */
static inline bool vtio__vq_want_indirect(const struct vtio_vq *vq, unsigned n, bool fits)
{
	if (!VTIO_CONFIG_INDIRECT || !vq->indirect || n > vq->indir_max || vq->indir_nfree == 0 ||
	    n < 2)
		return false;
	return n >= vq->indir_threshold || !fits;
}

/**
 * Map one segment for the device (or pass its address through).
 * @return 0 with *bus set, or the DMA layer's error.
 */
int vtio__vq_map(struct vtio_vq *vq, uint64_t cpu, uint32_t len, bool dev_writes, uint64_t *bus);
/** Undo vtio__vq_map(). */
void vtio__vq_unmap(struct vtio_vq *vq, uint64_t bus, uint32_t len, bool dev_writes);

/** vtio__vq_map() with the no-mapping case inline: costs nothing without DMA. */
static inline int vtio__vq_map_fast(struct vtio_vq *vq, uint64_t cpu, uint32_t len, bool dev_writes,
				    uint64_t *bus)
{
	if (VTIO_LIKELY(!vq->do_map)) {
		*bus = cpu + vq->bus_offset; /* identity, premapped, or a linear stack */
		return 0;
	}
	return vtio__vq_map(vq, cpu, len, dev_writes, bus);
}
/**
 * Fill indirect table @p t with the @p n segments and map them (and the
 * table): entries in the given layout's format (split: next = i+1 chained
 * with NEXT; packed: no NEXT). On failure everything mapped is unmapped.
 * @return 0 with *table_addr set (the device address of the table), or the
 *         DMA error.
 */
int vtio__vq_fill_indirect(struct vtio_vq *vq, uint32_t t, const struct vtio_sg *sg,
			   unsigned out_num, unsigned in_num, uint64_t *table_addr);
/**
 * Unmap the entries of indirect table @p t (n entries) and the table itself,
 * from the private records kept at fill time (never from the table, which
 * the device may be able to write).
 */
void vtio__vq_unmap_indirect(struct vtio_vq *vq, uint32_t t, unsigned n, uint64_t table_addr);

/* Device-side ring accessors: local pointer when the whole area translated
 * at init (fast path), else vtio_mem_read/write for every access. */

/** Read @p len bytes of area @p a at @p off. @return 0 or the view's error. */
static inline int vtio__devq_ring_read(const struct vtio_devq *q, int a, size_t off, void *dst,
				       size_t len)
{
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		VTIO_MEMCPY(dst, q->area_ptr[a] + off, len);
		VTIO__PEER_FETCHED(q->area_ptr[a] + off, len);
		return 0;
	}
	return vtio_mem_read(q->mem, q->area_addr[a] + off, dst, len);
}
/** Write @p len bytes to area @p a at @p off. @return 0 or the view's error. */
static inline int vtio__devq_ring_write(struct vtio_devq *q, int a, size_t off, const void *src,
					size_t len)
{
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		VTIO_MEMCPY(q->area_ptr[a] + off, src, len);
		return 0;
	}
	return vtio_mem_write(q->mem, q->area_addr[a] + off, src, len);
}
/** Acquire load of a raw 16-bit ring value. @return 0 or the view's error. */
static inline int vtio__devq_load16_acquire(const struct vtio_devq *q, int a, size_t off,
					    uint16_t *v)
{
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		*v = vtio__load16_acquire_ptr(q->area_ptr[a] + off, q->dma_barriers);
		return 0;
	}
	int err = vtio__mem_load16(q->mem, q->area_addr[a] + off, v, true);
	if (q->dma_barriers)
		VTIO_DMA_RMB();
	return err;
}
/** Release store of a raw 16-bit ring value. @return 0 or the view's error. */
VTIO__ALWAYS_INLINE int vtio__devq_store16_release(struct vtio_devq *q, int a, size_t off,
						   uint16_t v)
{
	if (q->dma_barriers)
		VTIO_DMA_WMB();
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		VTIO_STORE_RELEASE16((uint16_t *)(void *)(q->area_ptr[a] + off), v);
		return 0;
	}
	return vtio__mem_store16(q->mem, q->area_addr[a] + off, v, true);
}
/** Untorn relaxed load of a raw 16-bit value. @return 0 or the view's error. */
static inline int vtio__devq_read16(const struct vtio_devq *q, int a, size_t off, uint16_t *v)
{
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		*v = VTIO_READ_ONCE16((uint16_t *)(void *)(q->area_ptr[a] + off));
		VTIO__PEER_FETCHED(q->area_ptr[a] + off, 2);
		return 0;
	}
	return vtio__mem_load16(q->mem, q->area_addr[a] + off, v, false);
}
/** Untorn relaxed store of a raw 16-bit value. @return 0 or the view's error. */
static inline int vtio__devq_write16(struct vtio_devq *q, int a, size_t off, uint16_t v)
{
	if (VTIO_LIKELY(q->area_ptr[a] != NULL)) {
		VTIO_WRITE_ONCE16((uint16_t *)(void *)(q->area_ptr[a] + off), v);
		return 0;
	}
	return vtio__mem_store16(q->mem, q->area_addr[a] + off, v, false);
}

/**
 * Mark a device queue broken (first reason wins) and return @p err, so
 * callers can write `return vtio__devq_fail(q, VTIO_ELOOP, "...")`.
 */
static inline int vtio__devq_fail(struct vtio_devq *q, int err, const char *reason)
{
	if (!q->broken) {
		q->broken_reason = reason;
		q->broken = true;
		q->hot = false;
		q->hot_packed = 0;
		q->broken_err = err; /* see broken_err_pending (devq.c) */
	}
	return err;
}

/**
 * A used buffer of vtio_devq_push_batch() the caller got wrong: an id out
 * of range, or a len over its handle's writable capacity. The layouts
 * check each entry in the loop that writes it (split: nothing is published
 * until all pass; packed: in the loop that counts descriptors, before any
 * write), so the check costs no pass of its own; a single push, checked by
 * devq.c already, passes checked = true and skips it.
 */
static inline bool vtio__devq_done_bad(const struct vtio_devq *q, const struct vtio_devq_done *d)
{
	return d->h.id >= q->num || d->len > d->h.wr_cap;
}

/**
 * Layout-independent state of one chain walk on the device side: length
 * accumulation in 64 bits, readable-after-writable, iov capacity. The walk
 * keeps validating after the caller's arrays are full, so a malformed chain
 * reports its own error rather than VTIO_ENOBUFS; on VTIO_ENOBUFS
 * c->rd_num / c->wr_num hold the number of pieces needed.
 */
struct vtio__walk {
	struct vtio_devq_chain *c;
	uint64_t total;	 /* bytes so far (readable + writable) */
	bool seen_write; /* a writable descriptor was seen */
	bool overflow;	 /* an iov array was too small */
};

/** Start a walk over chain @p c (resets its counters). */
static inline void vtio__walk_begin(struct vtio__walk *w, struct vtio_devq_chain *c)
{
	w->c = c;
	w->total = 0;
	w->seen_write = false;
	w->overflow = false;
	c->rd_num = 0;
	c->wr_num = 0;
	c->rd_len = 0;
	c->wr_len = 0;
	c->flags = 0;
}

/** Out-of-line part of vtio__walk_add(): ranges that are not one piece of the first region. */
int vtio__walk_add_slow(const struct vtio_devq *q, struct vtio__walk *w, uint64_t addr,
			uint32_t len, bool write);

/**
 * Add one descriptor (copied to private memory by the caller) to the walk:
 * checks order and total length, translates [addr, addr+len) through the
 * view (several iovs when it crosses regions; ptr NULL where the view has
 * only accessor ops).
 * @return 0; VTIO_EBADMSG (readable after writable); VTIO_EOVERFLOW (total
 *         over 2^32 bytes); VTIO_EFAULT / VTIO_EACCES (outside the view).
 *         The caller breaks the queue with the error.
 */
static inline int vtio__walk_add(const struct vtio_devq *q, struct vtio__walk *w, uint64_t addr,
				 uint32_t len, bool write)
{
	struct vtio_devq_chain *c = w->c;
	if (write)
		w->seen_write = true;
	else if (VTIO_UNLIKELY(w->seen_write))
		return VTIO_EBADMSG; /* SPLIT-DRV-5: readable after writable */
	w->total += len;
	if (VTIO_UNLIKELY(w->total > ((uint64_t)1 << 32)))
		return VTIO_EOVERFLOW; /* SPLIT-DEV-9 */
	/* Fast path: the whole piece in the view's first region, room in the array. */
	const struct vtio_mem *m = q->mem;
	unsigned *num = write ? &c->wr_num : &c->rd_num;
	unsigned max = write ? c->wr_max : c->rd_max;
	if (VTIO_LIKELY(m->nregions != 0 && len != 0 && *num < max)) {
		const struct vtio_mem_region *r = &m->regions[0];
		uint64_t off = addr - r->addr;
		uint32_t perm = write ? VTIO_MEM_WRITE : VTIO_MEM_READ;
		if (VTIO_LIKELY(addr >= r->addr && off < r->len && r->len - off >= len &&
				(r->perm & perm) == perm)) {
			struct vtio_iov *v = (write ? c->wr : c->rd) + *num;
			v->ptr = (void *)((uintptr_t)r->host +
					  (uintptr_t)off); /* host may be NULL (identity) */
			v->addr = addr;
			v->len = len;
			(*num)++;
			if (write)
				c->wr_len += len;
			else
				c->rd_len += len;
			return 0;
		}
	}
	return vtio__walk_add_slow(q, w, addr, len, write);
}

/*
 * Set c->id and c->ndesc with one 32-bit store (both layouts). A caller that keeps the
 * handle (vtio_devq_handle_of()) reads the two as one 32-bit load right
 * after the pop; two 16-bit stores (or an id store next to a merged
 * ndesc+flags store) cannot forward to that load, which then waits for
 * both stores to reach the cache: a store-forwarding stall on every pop.
 */
static inline void vtio__devq_chain_set_id(struct vtio_devq_chain *c, uint16_t id, uint16_t ndesc)
{
	struct {
		uint16_t id, ndesc;
	} v = {id, ndesc};
	VTIO_STATIC_ASSERT(offsetof(struct vtio_devq_chain, ndesc) ==
			       offsetof(struct vtio_devq_chain, id) + 2u,
			   "id and ndesc adjacent");
	VTIO_MEMCPY((unsigned char *)c + offsetof(struct vtio_devq_chain, id), &v, 4);
}

/**
 * One device-side descriptor of direction @p wr, copied from the ring: when
 * the whole buffer lies in the view's first region (cached at init) with
 * the permission the direction needs and the caller's array has room, fill
 * the chain's pieces and lengths and return true; else false, nothing
 * written (the general walk decides, and reports the error). @p wr is a
 * constant at each call. The split straight lines use it (ring_split.h);
 * the packed ones check against r0_first/r0_last (ring_packed_hot.h).
 */
static inline bool vtio__devq_one_piece(const struct vtio_devq *q, struct vtio_devq_chain *c,
					uint64_t addr, uint32_t len, bool wr)
{
	uint64_t rlen = q->r0_len[wr ? 1 : 0];
	uint64_t off = addr - q->r0_addr;
	unsigned max = wr ? c->wr_max : c->rd_max;
	/* off < rlen also means addr >= r0_addr (the cached region does not
	 * wrap, devq.c); len - 1 < rlen - off is len != 0 && len <= rlen - off. */
	if (VTIO_UNLIKELY(max == 0 || off >= rlen || (uint64_t)len - 1u >= rlen - off))
		return false;
	struct vtio_iov *v = wr ? c->wr : c->rd;
	v->ptr = (void *)(q->r0_host + (uintptr_t)off); /* host may be 0 (identity) */
	v->addr = addr;
	v->len = len;
	c->rd_num = wr ? 0u : 1u;
	c->wr_num = wr ? 1u : 0u;
	c->rd_len = wr ? 0u : len;
	c->wr_len = wr ? len : 0u;
	return true;
}

/** End a walk: @return 0 or VTIO_ENOBUFS (not an error of the driver). */
static inline int vtio__walk_end(const struct vtio__walk *w)
{
	return VTIO_UNLIKELY(w->overflow) ? VTIO_ENOBUFS : 0;
}

/**
 * Check an indirect descriptor's length: non-zero multiple of 16 and at
 * most q->max_indirect entries.
 * @return the number of entries (> 0), VTIO_EBADMSG or VTIO_E2BIG.
 */
int32_t vtio__devq_indirect_entries(const struct vtio_devq *q, uint32_t len);

/**
 * An indirect table being walked. Checked as a whole when it is mapped
 * (vtio__devq_map_table()); where the view has only accessor ops that check
 * reads the table's last entry, and the copy is kept here so the walk uses
 * it instead of reading the entry a second time (read once: the driver may
 * rewrite it between the two reads).
 */
struct vtio__table {
	const unsigned char *ptr; /* whole table in one local piece, else NULL */
	uint64_t addr;		  /* driver address of the table */
	uint32_t n;		  /* entries */
	bool have_last;		  /* last[] holds entry n - 1, read by the check */
	unsigned char last[16];
};

/**
 * Check indirect table [addr, addr + 16 * n) for reading and set up @p t
 * (local pointer when the view maps it in one piece).
 * @return 0, or VTIO_EFAULT / VTIO_EACCES when the table is not readable.
 */
int vtio__devq_map_table(const struct vtio_devq *q, uint64_t addr, uint32_t n,
			 struct vtio__table *t);

/**
 * Copy entry @p i (< t->n) of table @p t to @p dst (16 bytes, wire format),
 * each byte read once. @return 0 or the view's error.
 */
static inline int vtio__devq_table_entry(const struct vtio_devq *q, const struct vtio__table *t,
					 uint32_t i, void *dst)
{
	if (VTIO_LIKELY(t->ptr != NULL)) {
		vtio__peer_copy(dst, t->ptr + (size_t)i * 16u, 16);
		return 0;
	}
	if (t->have_last && i == t->n - 1u) {
		VTIO_MEMCPY(dst, t->last, 16); /* the private copy the check read */
		return 0;
	}
	int err = vtio_mem_read(q->mem, t->addr + (uint64_t)i * 16u, dst, 16);
	VTIO__PEER_COPY_BARRIER();
	return err;
}

/* The split and packed straight-line paths (inline). */
#include "ring_split.h"
#include "ring_packed_hot.h"

#endif /* VTIO_RING_INTERNAL_H */
