/* Private structures of the bounce pools (src/bounce only). */
#ifndef VTIO_BOUNCE_INTERNAL_H
#define VTIO_BOUNCE_INTERNAL_H

#include "vtio/bounce.h"

/* Atomics the set's sequence counter and pool table need beyond port.h's
 * ring helpers; overridable like every port hook. */
#ifndef VTIO_BOUNCE_LOAD_ACQ32
#define VTIO_BOUNCE_LOAD_ACQ32(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define VTIO_BOUNCE_STORE_REL32(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define VTIO_BOUNCE_LOAD_ACQPTR(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define VTIO_BOUNCE_STORE_RELPTR(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define VTIO_BOUNCE_FENCE_ACQ()	       __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define VTIO_BOUNCE_FENCE_REL()	       __atomic_thread_fence(__ATOMIC_RELEASE)
/* Counter of rare events (32-bit so it is lock-free on every target). */
#define VTIO_BOUNCE_COUNT(p) ((void)__atomic_fetch_add((p), 1u, __ATOMIC_RELAXED))
#endif

#ifndef VTIO_BOUNCE_CTZ64
#if defined(__LP64__) || defined(_WIN64)
/* Count trailing zeros of a non-zero 64-bit word. */
#define VTIO_BOUNCE_CTZ64(x) ((uint32_t)__builtin_ctzll(x))
#else
/* 32-bit targets: two 32-bit counts, so no libgcc helper (__ctzdi2) is needed. */
#define VTIO_BOUNCE_CTZ64(x)                                                                       \
	((uint32_t)(x) != 0u ? (uint32_t)__builtin_ctz((uint32_t)(x))                              \
			     : 32u + (uint32_t)__builtin_ctz((uint32_t)((x) >> 32)))
#endif
#endif

#define VTIO__BOUNCE_LINE 64u

/* Slot states. */
enum {
	VTIO__SLOT_FREE = 0,
	VTIO__SLOT_MAP = 1,   /* part of a mapping */
	VTIO__SLOT_ALLOC = 2, /* part of an allocation */
	/* Head only: an unmap or free owns the run (copying back or
	 * scrubbing outside the area lock); the slots stay taken, and a
	 * second unmap or free of it is refused as a double one. */
	VTIO__SLOT_RELEASING = 3,
	/* Held free by a vtio_bounce_cache (bitmap bits set, in no mapping). */
	VTIO__SLOT_CACHED = 4,
	/* Part of a mapping made through a vtio_bounce_cache. */
	VTIO__SLOT_CMAP = 5
};

/* A slot's state, read by code that may not own it (plain unmap under the
 * area lock, sync) while a cache's owner writes it without the lock. */
#define VTIO__SLOT_STATE(r)	   __atomic_load_n(&(r)->state, __ATOMIC_RELAXED)
#define VTIO__SLOT_SET_STATE(r, v) __atomic_store_n(&(r)->state, (uint8_t)(v), __ATOMIC_RELAXED)

/* Per-slot record. Every slot of an allocation names its head; the head
 * alone holds the original address, length, offset and direction, so a
 * partial sync finds them from any slot. Records change only under the
 * lock of their area (the exceptions: reads by syncs, whose caller owns
 * the mapping, and the slots a vtio_bounce_cache holds: their head and
 * nslots change under the lock, when the cache takes or gives back the
 * run, the rest only by the cache's owner, without it). */
struct vtio__bounce_slot {
	uintptr_t orig;	 /* head: original CPU address (mappings) */
	uint32_t head;	 /* index of the allocation's first slot */
	uint32_t nslots; /* head: slots taken */
	uint32_t len;	 /* head: bytes mapped / allocated */
	uint32_t off;	 /* head: offset of the data in the first slot */
	uint16_t area;	 /* area of this slot: set at init, never written again
			  * (so it may be read without the lock) */
	uint8_t dir;	 /* head: enum vtio_dma_dir */
	uint8_t state;	 /* VTIO__SLOT_* (every slot) */
	/* VTIO_BOUNCE_POOL_F_TRUSTED_DMA pools only: bytes of this slot
	 * outside [dlo, dhi) << dirty_shift are zero (written by the run's
	 * owner, between a take and the release: the area lock orders it
	 * with the next owner). Fits the padding of the record on LP64. */
	uint16_t dlo, dhi;
};

/* One area: a contiguous range of slots with its own lock, bitmap and
 * counters, padded to its own cache lines so areas never share one. */
struct vtio__bounce_area {
	_Alignas(VTIO__BOUNCE_LINE) VTIO_LOCK_T lock;
	uint8_t closing;     /* pool not registered (or being removed): refuse new slots */
	uint32_t start, end; /* slots [start, end) */
	uint32_t hint;	     /* every slot in [start, hint) is in use */
	uint32_t in_use, high_water;
	uint64_t *bits; /* bit i = slot start + i in use */
	uint64_t maps, unmaps, allocs, frees, bounced;
	/* Caches attached to this area (their slots count in in_use). */
	struct vtio_bounce_cache *caches;
	uint32_t next_tag; /* caches tagged on this area so far (under the lock) */
};

struct vtio_bounce_pool {
	unsigned char *base;
	size_t size;
	uint32_t slot_shift, slot_size, nslots, max_segment, nareas, id, flags;
	uint32_t seg_mask;    /* max_segment - 1 when it is a power of two, else 0 */
	uint32_t dirty_shift; /* unit of vtio__bounce_slot::dlo/dhi: 1 << dirty_shift bytes */
	enum vtio_bounce_mapping mapping;
	uint64_t dev_base; /* linear */
	uint64_t dev_lo, dev_hi;
	const struct vtio_bounce_piece *pieces;
	uint32_t npieces;
	uint16_t *by_dev; /* piece indexes sorted by device address */
	uint64_t *breaks; /* pieces: bit s = a piece starts at slot s (NULL otherwise) */
	const struct vtio_bounce_xlate_ops *xlate;
	void *xlate_ctx;
	struct vtio__bounce_area *areas;
	struct vtio__bounce_slot *slots;
	/* Per slot: tag of the vtio_bounce_cache holding it, 0 for none. Set
	 * and cleared under the area lock; read without it by the cache's
	 * owner (the only one for which the answer can be its own tag). */
	uint32_t *cache_tag;
	struct vtio_bounce_set *owner; /* set registered with (under the set lock) */
	/* rare failures, relaxed atomics */
	uint32_t fail_nospace, fail_too_big, fail_unknown, fail_double, fail_mismatch;
};

struct vtio_bounce_set {
	_Alignas(VTIO__BOUNCE_LINE) VTIO_LOCK_T lock; /* register / unregister */
	uint32_t seq;				      /* odd while the table changes */
	uint32_t npools;
	struct vtio_bounce_pool *pools[VTIO_CONFIG_BOUNCE_MAX_POOLS]; /* sorted by dev_lo */
	uint32_t fail_no_pool, fail_unknown;
};

/* ---- A vtio_bounce_cache's counters (bounce_cache.c writes, get_stats reads) ---------- */

/* Maps and bytes bounced through a cache not yet folded into its area,
 * written by the cache's owner alone with relaxed stores: on 64-bit
 * targets one word, maps << 40 | bytes, so a map makes one counter store.
 * Folded under the area lock before a field can overflow (pend_full()). */
#if UINTPTR_MAX > 0xFFFFFFFFu
typedef uint64_t vtio__pend;
#define VTIO__PEND_MAP	((uint64_t)1 << 40)
#define VTIO__PEND_FOLD (((uint64_t)1 << 63) | ((uint64_t)1 << 39)) /* 2^23 maps, 2^39 bytes */
static inline vtio__pend pend_zero(void)
{
	return 0;
}
static inline vtio__pend pend_add(vtio__pend v, uint32_t maps, uint32_t bytes)
{
	return v + maps * VTIO__PEND_MAP + bytes;
}
static inline bool pend_full(vtio__pend v)
{
	return (v & VTIO__PEND_FOLD) != 0;
}
static inline uint64_t pend_maps(vtio__pend v)
{
	return v >> 40;
}
static inline uint64_t pend_bytes(vtio__pend v)
{
	return v & (VTIO__PEND_MAP - 1u);
}
static inline vtio__pend pend_read(const struct vtio_bounce_cache *c)
{
	return __atomic_load_n(&c->pend, __ATOMIC_RELAXED);
}
static inline void pend_write(struct vtio_bounce_cache *c, vtio__pend v)
{
	__atomic_store_n(&c->pend, v, __ATOMIC_RELAXED);
}
#else
/* 32-bit targets: two 32-bit words (single-copy atomic everywhere). */
typedef struct {
	uint32_t maps, bytes;
} vtio__pend;
static inline vtio__pend pend_zero(void)
{
	vtio__pend v = {0u, 0u};
	return v;
}
static inline vtio__pend pend_add(vtio__pend v, uint32_t maps, uint32_t bytes)
{
	v.maps += maps;
	v.bytes += bytes;
	return v;
}
static inline bool pend_full(vtio__pend v)
{
	return (v.maps | v.bytes) >= 0x80000000u;
}
static inline uint64_t pend_maps(vtio__pend v)
{
	return v.maps;
}
static inline uint64_t pend_bytes(vtio__pend v)
{
	return v.bytes;
}
static inline vtio__pend pend_read(const struct vtio_bounce_cache *c)
{
	vtio__pend v;
	v.maps = __atomic_load_n(&c->maps, __ATOMIC_RELAXED);
	v.bytes = __atomic_load_n(&c->bounced, __ATOMIC_RELAXED);
	return v;
}
static inline void pend_write(struct vtio_bounce_cache *c, vtio__pend v)
{
	__atomic_store_n(&c->maps, v.maps, __ATOMIC_RELAXED);
	__atomic_store_n(&c->bounced, v.bytes, __ATOMIC_RELAXED);
}
#endif

/* Runs in a cache's magazine k, read by a thread that may not own it. */
static inline uint32_t mag_count(const struct vtio_bounce_cache *c, uint32_t k)
{
	return __atomic_load_n(&c->nfree[k], __ATOMIC_RELAXED);
}

/* Runs mapped through cache c now (the magazine sizes read relaxed: the
 * owner writes them without the lock; runs[] changes under it). */
static inline uint32_t cache_mapped(const struct vtio_bounce_cache *c)
{
	return c->runs[0] - mag_count(c, 0) + c->runs[1] - mag_count(c, 1);
}

/* Unmaps through cache c not yet folded, derived (a cache does not count
 * them): maps since the last fold less the growth of its mapped runs.
 * Exact for its owner and for an idle cache; a reader racing a map may see
 * the magazine before the counter, so a negative answer reads as 0. */
static inline uint64_t cache_unmaps(const struct vtio_bounce_cache *c, vtio__pend v)
{
	int64_t u = (int64_t)pend_maps(v) + (int64_t)c->mapped_at_fold - (int64_t)cache_mapped(c);
	return u > 0 ? (uint64_t)u : 0u;
}

/* Address translation slow paths (bounce_pool.c). */
int vtio__bounce_off_to_dev(const struct vtio_bounce_pool *p, size_t off, uint64_t *dev);
/* Offset in the pool area of a device address, or VTIO_ENOENT. */
int vtio__bounce_dev_off(const struct vtio_bounce_pool *p, uint64_t dev, size_t *off);
/* Close (refuse new slots) every area; VTIO_EBUSY, reopening them, when any slot is in use. */
int vtio__bounce_pool_close(struct vtio_bounce_pool *p);
void vtio__bounce_pool_open(struct vtio_bounce_pool *p);
/* The first pool a map for dev tries (NULL: none usable). */
struct vtio_bounce_pool *vtio__bounce_first_pool(struct vtio_bounce_set *set,
						 const struct vtio_bounce_dev *dev);

#endif /* VTIO_BOUNCE_INTERNAL_H */
