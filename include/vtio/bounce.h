/**
 * @file bounce.h
 * @brief Bounce pools modelled on Linux swiotlb: several pools of shared
 *        memory, each with its own (possibly non-linear) CPU <-> device
 *        address mapping, a slot allocator split into areas with their own
 *        locks, alloc/free of pool memory for long-lived shared objects,
 *        map/sync/unmap with copy semantics by direction, and a bottom DMA
 *        layer that bounces every mapping handed to it.
 *
 * Memory: the caller owns everything. A pool lives in a caller buffer sized
 * by vtio_bounce_pool_size() (pool header, per-area state, allocation
 * bitmaps, per-slot records); the pool area itself (the shared memory the
 * device sees) is a separate caller range. A set of pools lives in a buffer
 * of vtio_bounce_set_size() bytes.
 *
 * Slots: a pool is cut into slots of `slot_size` bytes (default 2 KiB). A
 * mapping takes a run of whole slots that never crosses a segment boundary
 * (every `max_segment` slots from the pool start, default 128, i.e. 256
 * KiB), nor an area boundary, nor a break in device-address contiguity. Each
 * slot remembers the head of its allocation, so a sync may start anywhere
 * inside a mapping.
 *
 * Direction semantics (swiotlb): vtio_bounce_map() always copies the
 * original buffer into the slots, whatever the direction and even with
 * VTIO_DMA_ATTR_SKIP_CPU_SYNC, so a device never sees the stale contents of
 * an earlier mapping (the fix for CVE-2022-0854) and a partial device write
 * leaves the rest of the buffer intact; the rest of the mapping's slots (the
 * kept min_align offset before the data, the tail of the last slot) is
 * zeroed, so nothing a device can read in the run comes from an earlier
 * mapping; sync_for_device copies CPU -> slots
 * for TO_DEVICE and BIDIRECTIONAL; sync_for_cpu copies slots -> CPU for
 * FROM_DEVICE and BIDIRECTIONAL; unmap copies back for FROM_DEVICE and
 * BIDIRECTIONAL (unless VTIO_DMA_ATTR_SKIP_CPU_SYNC) and frees the slots.
 *
 * Concurrency: map, unmap, sync, alloc and free may run on any number of
 * threads at once. Each area has its own lock (VTIO_LOCK_T from port.h);
 * unmap and free check the mapping and release it under that lock (the
 * copy back and scrubbing run unlocked while the slots stay taken), so a
 * double unmap racing other calls is refused and never frees slots mapped
 * in between. The set is read without a lock (a sequence counter guards
 * registration), so there is no global lock on the fast path. Give each
 * thread (or each device/queue) its own area hint so threads rarely meet.
 *
 * Per-thread caches (vtio_bounce_cache, below): the fast path of map and
 * unmap for one thread or queue, taking no lock and writing no line another
 * thread writes; see vtio_bounce_cache_init().
 */
#ifndef VTIO_BOUNCE_H
#define VTIO_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "dma.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_bounce Bounce pools
 * @{
 */

/** Default slot size in bytes (swiotlb's IO_TLB_SIZE). */
#define VTIO_BOUNCE_SLOT_SIZE 2048u
/** Default maximum slots in one mapping (swiotlb's IO_TLB_SEGSIZE). */
#define VTIO_BOUNCE_MAX_SEGMENT 128u
/** Maximum pieces of a non-linear pool mapping. */
#define VTIO_BOUNCE_MAX_PIECES 1024u
/** "No pool affinity" value of vtio_bounce_dev::pool_id. */
#define VTIO_BOUNCE_ANY_POOL UINT32_MAX
/** vtio_bounce_dev::area_hint value: start at area VTIO_BOUNCE_CPU_ID()
 * (modulo the pool's areas), as swiotlb starts at the current CPU's area. */
#define VTIO_BOUNCE_AREA_CPU UINT32_MAX

#ifndef VTIO_BOUNCE_CPU_ID
/**
 * Port hook: index of the CPU (or thread) running the call, used with
 * VTIO_BOUNCE_AREA_CPU. Define it in the configuration file (e.g. a core-id
 * register read on firmware, a thread-local index on a host); the default,
 * 0, makes VTIO_BOUNCE_AREA_CPU start every search at area 0.
 */
#define VTIO_BOUNCE_CPU_ID() 0u
#endif

/** @name Pool flags (vtio_bounce_pool_config::flags)
 * @{ */
/** Restricted pool: serves only devices that name it (vtio_bounce_dev::pool_id). */
#define VTIO_BOUNCE_POOL_F_RESTRICTED 0x1u
/** Zero the slots of every mapping and allocation when they are freed, so
 * the shared pool never holds the data of a finished mapping. */
#define VTIO_BOUNCE_POOL_F_SCRUB 0x2u
/**
 * The devices of this pool write only inside the bytes of the mappings
 * they are given (an IOMMU confines them, or they are trusted to follow
 * the DMA API). A mapping then zeroes only the bytes of its slots that an
 * earlier mapping or allocation may have left there (each slot remembers
 * the extent that can be non-zero) instead of all of the slack around the
 * data: a 64-byte map into a 2 KiB slot that was last used for 64 bytes
 * zeroes nothing. Without the flag (the default) every map zeroes all of
 * its slack, because a device may have written anywhere in a run it was
 * given, and the next device must not read that.
 */
#define VTIO_BOUNCE_POOL_F_TRUSTED_DMA 0x4u
/** @} */

/** @name Device flags (vtio_bounce_dev::flags)
 * @{ */
/** Use only the pool named by vtio_bounce_dev::pool_id (never fall back). */
#define VTIO_BOUNCE_DEV_F_STRICT 0x1u
/** @} */

/** How a pool's CPU offsets map to device addresses. */
enum vtio_bounce_mapping {
	/** device address = dev_base + offset in the pool. */
	VTIO_BOUNCE_MAP_LINEAR = 0,
	/** A table of pieces (vtio_bounce_piece), each linear. */
	VTIO_BOUNCE_MAP_PIECES = 1,
	/** Callbacks (vtio_bounce_xlate_ops); each segment maps contiguously. */
	VTIO_BOUNCE_MAP_CALLBACK = 2
};

/**
 * One piece of a non-linear mapping: pool bytes [off, off+len) are seen by
 * the device at [dev, dev+len). Pieces are given sorted by @ref off and
 * cover the pool without gaps; off, len and dev are multiples of the slot
 * size; device ranges do not overlap.
 */
struct vtio_bounce_piece {
	size_t off;   /**< Offset of the piece in the pool area. */
	size_t len;   /**< Length of the piece in bytes. */
	uint64_t dev; /**< Device address of the piece's first byte. */
};

/**
 * Translation callbacks of a VTIO_BOUNCE_MAP_CALLBACK pool. They must be
 * pure (same answer every time) and thread-safe. Each segment
 * (max_segment slots from a segment boundary) must be contiguous in device
 * space, slot-aligned offsets must map to slot-aligned device addresses,
 * and device addresses must lie in [dev_lo, dev_hi] of the config.
 */
struct vtio_bounce_xlate_ops {
	/** Device address of pool offset @p off (slot aligned). 0 or VTIO_EFAULT. */
	int (*to_dev)(void *ctx, size_t off, uint64_t *dev);
	/** Pool offset of device address @p dev. 0 or VTIO_ENOENT when not in the pool. */
	int (*to_off)(void *ctx, uint64_t dev, size_t *off);
};

/** Everything needed to set up a pool. Zero fields select the defaults. */
struct vtio_bounce_pool_config {
	void *base;	      /**< CPU address of the pool area (slot-size aligned). */
	size_t size;	      /**< Bytes in the pool area (a multiple of the slot size). */
	uint32_t slot_size;   /**< Power of two, 16 .. 1 MiB; 0 = VTIO_BOUNCE_SLOT_SIZE. */
	uint32_t max_segment; /**< Slots per segment; 0 = VTIO_BOUNCE_MAX_SEGMENT. */
	uint32_t nareas;      /**< Areas (locks); 0 = 1. At most the number of slots. */
	uint32_t id;	      /**< Caller's pool id (for affinity); unique in a set. */
	uint32_t flags;	      /**< VTIO_BOUNCE_POOL_F_*. */
	enum vtio_bounce_mapping mapping; /**< Address mapping kind. */
	uint64_t dev_base; /**< LINEAR: device address of @ref base (slot aligned). */
	/** PIECES: table of @ref npieces pieces, kept by reference (must outlive the pool). */
	const struct vtio_bounce_piece *pieces;
	uint32_t npieces; /**< PIECES: number of pieces (1..VTIO_BOUNCE_MAX_PIECES). */
	const struct vtio_bounce_xlate_ops *xlate; /**< CALLBACK: translation ops. */
	void *xlate_ctx;			   /**< CALLBACK: first argument of the ops. */
	uint64_t dev_lo; /**< CALLBACK: lowest device address the pool uses. */
	uint64_t dev_hi; /**< CALLBACK: highest device address the pool uses. */
};

/** Counters of a pool (or, summed, of a set). */
struct vtio_bounce_stats {
	uint64_t slots;	 /**< Slots in the pool(s). */
	uint64_t in_use; /**< Slots in use now (mappings and allocations). */
	/** Sum over areas of each area's highest in_use (exact with one area);
	 * slots held free by caches count here as in use. */
	uint64_t high_water;
	uint64_t maps;	       /**< Successful maps. */
	uint64_t unmaps;       /**< Successful unmaps. */
	uint64_t allocs;       /**< Successful allocations. */
	uint64_t frees;	       /**< Successful frees. */
	uint64_t bounced;      /**< Bytes copied by map (in) and unmap (back); syncs not counted. */
	uint64_t fail_nospace; /**< Map/alloc failed: no free run of slots (exhaustion or
				  fragmentation). */
	uint64_t fail_too_big; /**< Map larger than a segment / alloc larger than an area. */
	uint64_t fail_no_pool; /**< No registered pool the device can use (set only). */
	uint64_t fail_unknown; /**< Unmap/sync/free of an address no pool owns, or a tail slot. */
	uint64_t fail_double;  /**< Unmap/free of slots already free. */
	uint64_t fail_mismatch; /**< Size, direction or kind does not match the mapping. */
	/** Slots held free by per-thread caches (vtio_bounce_cache): taken from
	 * the areas' bitmaps but in no mapping; not counted in @ref in_use. */
	uint64_t cached;
};

/** Opaque pool; lives in the caller's storage. */
struct vtio_bounce_pool;
/** Opaque set of pools; lives in the caller's storage. */
struct vtio_bounce_set;
/* A slot record (private). */
struct vtio__bounce_slot;

/**
 * Bytes of storage a pool with @p cfg needs (header, areas, bitmaps, slot
 * records). Only size, slot_size, max_segment, nareas, mapping and npieces
 * are read.
 * @param cfg  the configuration the pool will be initialised with.
 * @return the size, or 0 when the configuration is invalid.
 * Context: any; pure.
 */
size_t vtio_bounce_pool_size(const struct vtio_bounce_pool_config *cfg);

/**
 * Initialise a pool in @p storage over the caller's pool area.
 *
 * @param out           receives the pool handle (points into @p storage).
 * @param storage       caller buffer of vtio_bounce_pool_size() bytes,
 *                      64-byte aligned; owned by the pool until it is dropped.
 * @param storage_size  size of @p storage.
 * @param cfg           configuration; copied (the pieces table is kept by reference).
 * @return 0; VTIO_EINVAL (bad size or alignment, slot size not a power of
 *         two, pieces unsorted, overlapping, with gaps or misaligned,
 *         missing callbacks, storage too small or misaligned).
 *
 * Context: setup; not concurrently with other calls on the pool.
 */
int vtio_bounce_pool_init(struct vtio_bounce_pool **out, void *storage, size_t storage_size,
			  const struct vtio_bounce_pool_config *cfg);

/**
 * Read a pool's counters (takes each area lock in turn).
 * @param pool  the pool.
 * @param out   receives the counters.
 * Context: any thread.
 */
void vtio_bounce_pool_get_stats(struct vtio_bounce_pool *pool, struct vtio_bounce_stats *out);

/**
 * Lowest and highest device address of a pool (its bounding range).
 * @param pool  the pool.
 * @param lo    receives the lowest address (may be NULL).
 * @param hi    receives the highest address, inclusive (may be NULL).
 * Context: any; the values never change.
 */
void vtio_bounce_pool_dev_range(const struct vtio_bounce_pool *pool, uint64_t *lo, uint64_t *hi);

/**
 * Device address of a CPU pointer inside the pool area.
 * @param pool  the pool.
 * @param cpu   a pointer into the pool area.
 * @param dev   receives the device address.
 * @return 0 with `*dev` set; VTIO_EFAULT when @p cpu is outside the pool.
 * Context: any.
 */
int vtio_bounce_pool_cpu_to_dev(const struct vtio_bounce_pool *pool, const void *cpu,
				uint64_t *dev);

/**
 * CPU pointer of a device address owned by the pool.
 * @param pool  the pool.
 * @param dev   a device address.
 * @param cpu   receives the CPU pointer.
 * @return 0 with `*cpu` set; VTIO_ENOENT when the pool does not own @p dev.
 * Context: any.
 */
int vtio_bounce_pool_dev_to_cpu(const struct vtio_bounce_pool *pool, uint64_t dev, void **cpu);

/**
 * The caller's id of a pool (vtio_bounce_pool_config::id).
 * @param pool  the pool.
 * @return the id given at init.
 * Context: any.
 */
uint32_t vtio_bounce_pool_id(const struct vtio_bounce_pool *pool);

/**
 * Bytes of storage a set of pools needs.
 * @return the size (at most VTIO_CONFIG_BOUNCE_MAX_POOLS pools).
 * Context: any; pure.
 */
size_t vtio_bounce_set_size(void);

/**
 * Initialise an empty set of pools in @p storage.
 * @param out           receives the set handle.
 * @param storage       buffer of vtio_bounce_set_size() bytes, 64-byte aligned.
 * @param storage_size  size of @p storage.
 * @return 0 or VTIO_EINVAL (storage too small or misaligned).
 * Context: setup.
 */
int vtio_bounce_set_init(struct vtio_bounce_set **out, void *storage, size_t storage_size);

/**
 * Register a pool with a set, at run time (concurrent maps go on).
 * A pool belongs to at most one set at a time.
 * @param set   the set.
 * @param pool  an initialised pool not registered anywhere.
 * @return 0; VTIO_EEXIST (already registered, same id, or device range
 *         overlapping a registered pool); VTIO_ENOSPC (set full).
 * Context: any thread; serialised against other register/unregister
 * calls by the set's own lock.
 */
int vtio_bounce_set_register(struct vtio_bounce_set *set, struct vtio_bounce_pool *pool);

/**
 * Remove a pool from a set. Refused while any slot of the pool is in use;
 * while the removal runs, maps that pick this pool fail over to others.
 * After a successful return no new mapping lands in the pool; the caller
 * may reuse its storage once calls that started before have returned.
 * @param set   the set.
 * @param pool  the pool to remove.
 * @return 0; VTIO_EBUSY (mappings or allocations live in the pool, or a
 *         vtio_bounce_cache is attached to it); VTIO_ENOENT (not registered
 *         with this set).
 * Context: any thread.
 */
int vtio_bounce_set_unregister(struct vtio_bounce_set *set, struct vtio_bounce_pool *pool);

/**
 * Find the pool and slot that own a device address, in O(log pools).
 * @param set   the set.
 * @param dev   a device address.
 * @param pool  receives the pool (may be NULL).
 * @param slot  receives the slot index inside the pool (may be NULL).
 * @return 0 or VTIO_ENOENT when no registered pool owns @p dev.
 * Context: any thread.
 */
int vtio_bounce_set_find(struct vtio_bounce_set *set, uint64_t dev, struct vtio_bounce_pool **pool,
			 uint32_t *slot);

/**
 * Sum the counters of every registered pool, plus the set's own failures
 * (no usable pool, unknown address).
 * @param set  the set.
 * @param out  receives the sums.
 * Context: any thread.
 */
void vtio_bounce_set_get_stats(struct vtio_bounce_set *set, struct vtio_bounce_stats *out);

/**
 * What a device can use: its addressing limit, pool affinity, alignment
 * needs and preferred area. Plain data set up by vtio_bounce_dev_init();
 * read-only during calls, so one may be shared by threads.
 */
struct vtio_bounce_dev {
	uint64_t mask; /**< Highest device address the device reaches (e.g. 2^32 - 1). */
	/** Preferred pool id, or VTIO_BOUNCE_ANY_POOL. Restricted pools are
	 * used only when named here. */
	uint32_t pool_id;
	uint32_t flags; /**< VTIO_BOUNCE_DEV_F_*. */
	/** Device's minimum alignment mask (swiotlb min_align_mask): the bits
	 * of the original address under this mask are kept in the bounce
	 * address. 0 = none. */
	uint64_t min_align_mask;
	/** Area to try first (areas are tried in order from here, modulo the
	 * pool's areas); give each thread or queue its own to avoid lock
	 * contention, or VTIO_BOUNCE_AREA_CPU to follow VTIO_BOUNCE_CPU_ID(). */
	uint32_t area_hint;
};

/**
 * Fill @p dev with defaults: mask @p mask, no affinity, no alignment needs, area 0.
 * @param dev   the description to fill.
 * @param mask  highest device address the device reaches.
 * Context: any.
 */
void vtio_bounce_dev_init(struct vtio_bounce_dev *dev, uint64_t mask);

/**
 * Bounce-map [cpu, cpu+len) for @p dev: take slots in a usable pool
 * (affinity pool first, then the highest-addressed pools the device
 * reaches), copy the buffer in (always, see the file comment) and return
 * the device address of the copy.
 *
 * @param set    the pools.
 * @param dev    the device's limits and preferences.
 * @param cpu    original buffer (private memory).
 * @param len    bytes, 1 .. a segment (minus the kept min_align offset).
 * @param dir    direction of the transfer.
 * @param attrs  VTIO_DMA_ATTR_SKIP_CPU_SYNC skips cache maintenance only.
 * @param bus    receives the device address of the bounce copy.
 * @return 0 with `*bus` set; VTIO_EINVAL (len 0 or above 4 GiB, bad dir);
 *         VTIO_EMSGSIZE (larger than a segment of every usable pool);
 *         VTIO_ENODEV (no registered pool the device may use);
 *         VTIO_ENOMEM (usable pools exhausted or too fragmented).
 * Context: any thread.
 */
int vtio_bounce_map(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev, void *cpu,
		    size_t len, enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus);

/**
 * Undo vtio_bounce_map(): copy back for FROM_DEVICE / BIDIRECTIONAL
 * (unless VTIO_DMA_ATTR_SKIP_CPU_SYNC) and free the slots.
 * @param set    the pools.
 * @param bus    the address vtio_bounce_map() returned.
 * @param len    the length mapped.
 * @param dir    the direction mapped.
 * @param attrs  VTIO_DMA_ATTR_SKIP_CPU_SYNC: free without copying back.
 * @return 0; VTIO_ENOENT (no pool owns @p bus, or it is not the start of a
 *         mapping); VTIO_EALREADY (slots already free, or being unmapped
 *         by another call: double unmap); VTIO_EINVAL (@p len or @p dir
 *         differ from the mapping, or the address is a pool allocation).
 *         A double unmap is detected unless the slots were mapped again in
 *         between with the same length, direction and offset: the address
 *         alone cannot tell that new mapping from the old one. A mapping
 *         made through a vtio_bounce_cache is refused with VTIO_EINVAL
 *         (unmap it through its cache), and one of its slots held free in a
 *         cache with VTIO_EALREADY.
 * Context: any thread; the caller owns the mapping.
 */
int vtio_bounce_unmap(struct vtio_bounce_set *set, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs);

/**
 * Copy what the device wrote in [bus, bus+len), any sub-range of a mapping,
 * back to the original buffer (FROM_DEVICE / BIDIRECTIONAL; nothing to do
 * for TO_DEVICE).
 * @param set  the pools.
 * @param bus  start of the range (anywhere inside a mapping).
 * @param len  bytes (the range must stay inside the mapping; 0 does nothing).
 * @param dir  the direction mapped.
 * @return 0; VTIO_ENOENT (address not mapped); VTIO_ERANGE (range runs
 *         past the mapping); VTIO_EINVAL (direction differs from the mapping).
 * Context: any thread; the caller owns the mapping.
 */
int vtio_bounce_sync_for_cpu(struct vtio_bounce_set *set, uint64_t bus, size_t len,
			     enum vtio_dma_dir dir);

/**
 * Copy what the CPU wrote to the original buffer into the slots for
 * [bus, bus+len), any sub-range of a mapping (TO_DEVICE / BIDIRECTIONAL;
 * nothing to do for FROM_DEVICE).
 * @param set  the pools.
 * @param bus  start of the range (anywhere inside a mapping).
 * @param len  bytes (the range must stay inside the mapping; 0 does nothing).
 * @param dir  the direction mapped.
 * @return as vtio_bounce_sync_for_cpu().
 * Context: any thread; the caller owns the mapping.
 */
int vtio_bounce_sync_for_device(struct vtio_bounce_set *set, uint64_t bus, size_t len,
				enum vtio_dma_dir dir);

/**
 * Allocate zeroed pool memory for a long-lived shared object (rings,
 * indirect tables). The block may span segments but never an area or a
 * break in device contiguity.
 *
 * @param set    the pools.
 * @param dev    the device's limits and preferences (mask, affinity, area hint).
 * @param size   bytes.
 * @param align  required device-address alignment (power of two; 0 = slot size).
 * @param cpu    receives the CPU pointer.
 * @param bus    receives the device address.
 * @return 0 with `*cpu` and `*bus` set; VTIO_EINVAL (size 0, bad align);
 *         VTIO_EMSGSIZE (larger than any usable area); VTIO_ENODEV;
 *         VTIO_ENOMEM.
 * Context: any thread.
 */
int vtio_bounce_alloc(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev, size_t size,
		      size_t align, void **cpu, uint64_t *bus);

/**
 * Free memory from vtio_bounce_alloc().
 * @param set   the pools.
 * @param size  the size allocated.
 * @param cpu   the CPU pointer returned.
 * @param bus   the device address returned.
 * @return 0; VTIO_ENOENT (unknown address); VTIO_EALREADY (already free);
 *         VTIO_EINVAL (size or CPU pointer differ, or it is a mapping).
 * Context: any thread.
 */
int vtio_bounce_free(struct vtio_bounce_set *set, size_t size, void *cpu, uint64_t bus);

/* ---- Per-thread slot caches ---------------------------------------------------- */

#ifndef VTIO_BOUNCE_CACHE_DEPTH
/** Runs of each size (one slot, two slots) a vtio_bounce_cache holds at
 * most; it refills and gives back half of that at a time, under the area
 * lock. Even, 2 .. 1024. */
#define VTIO_BOUNCE_CACHE_DEPTH 16u
#endif

#ifndef VTIO_BOUNCE_CACHE_GUARD
/**
 * Bytes at each end of a vtio_bounce_cache that no call ever writes (nor
 * reads; vtio_bounce_cache_init() leaves them as they are): at least
 * the CPU's cache-line size (64 by default; 128 for CPUs with 128-byte
 * lines), so that whatever the caller places next to a cache (another
 * thread's cache in an array, the fields of a queue structure) shares no
 * line with the bytes the cache's fast path reads and writes, wherever the
 * cache is placed and however it is aligned.
 */
#define VTIO_BOUNCE_CACHE_GUARD 64u
#endif

/**
 * A per-thread (or per-queue, per-CPU) cache of free slot runs of one pool:
 * two magazines, of single-slot and of two-slot runs, taken from one area
 * in batches under its lock and used without it. Maps and unmaps of up to
 * two slots through the cache (e.g. 4 KiB with the default 2 KiB slots)
 * take no lock, do no set lookup and write no cache line that another
 * thread writes; other sizes, and addresses of other pools, go to the
 * plain calls.
 *
 * The caller owns the storage (static, on a stack, inside a queue) and
 * serialises the calls on one cache (one thread at a time). The caches of
 * two threads may sit side by side (an array, one allocation): the guards
 * at both ends (VTIO_BOUNCE_CACHE_GUARD) keep them off each other's lines,
 * without any alignment requirement. No thread-local storage is
 * needed: the core never finds a cache by itself. A mapping made through a
 * cache is unmapped through the same cache; syncs (vtio_bounce_sync_for_cpu()
 * and vtio_bounce_sync_for_device()) work on it as on any mapping.
 * Everything a plain map guarantees holds: the copy in, the zeroing of the
 * slack the pool's flags ask for (VTIO_BOUNCE_POOL_F_TRUSTED_DMA,
 * VTIO_BOUNCE_POOL_F_SCRUB), the checks of unmap (double unmap, length,
 * direction, an address no pool owns) with the same errors and counters.
 *
 * While a cache is attached its pool cannot be unregistered
 * (vtio_bounce_set_unregister() returns VTIO_EBUSY): vtio_bounce_cache_fini()
 * it first. All fields are private.
 */
struct vtio_bounce_cache {
	/** private: never written, so the lines the fast path writes hold
	 * nothing of the object before the cache (see VTIO_BOUNCE_CACHE_GUARD) */
	unsigned char guard_head[VTIO_BOUNCE_CACHE_GUARD];
	struct vtio_bounce_set *set;	/**< private: the set (plain calls) */
	struct vtio_bounce_pool *pool;	/**< private: the pool the runs come from */
	struct vtio_bounce_cache *next; /**< private: the area's list of caches */
	struct vtio_bounce_dev dev;	/**< private: copy of the device description */
	uint64_t off_mask;		/**< private: min_align_mask bits inside a slot */
	uint32_t max_need;		/**< private: most bytes (offset + length) served */
	/** private: the pool's constants the fast paths read, copied so that
	 * they address everything from the cache (few registers, no spills) */
	unsigned char *base;
	struct vtio__bounce_slot *slots; /**< private: the pool's slot records */
	uint32_t *tags;			 /**< private: the pool's cache_tag array */
	uint64_t dev_base;		 /**< private: linear pools: device address of base */
	/** private: linear pools: bytes of whole slots (0, so that the
	 * unmap's fast path never applies: other pools, SCRUB pools, a
	 * detached cache) */
	uint64_t span;
	uint32_t slot_size;  /**< private: the pool's slot size */
	uint32_t slot_shift; /**< private: log2 of slot_size */
	/** private: longest map the fast path takes: max_need on a linear
	 * pool, 0 otherwise (every map goes the general way) */
	uint32_t fast_len;
	/** private: a map through the fast path has slack to zero when
	 * len & slack_mask: slot_size - 1, or all ones on a TRUSTED_DMA pool
	 * (whose extents every map keeps) */
	uint32_t slack_mask;
	uint32_t area;	   /**< private: the area the runs come from */
	uint32_t tag;	   /**< private: owner tag of the cache's slots */
	uint32_t nfree[2]; /**< private: runs in each magazine */
	/** private: CPU address of the run on top of each magazine,
	 * run[k][nfree[k] - 1] (when nfree[k] > 0): where the next map
	 * copies, one load away (docs/bounce_cache.md, fourth pass) */
	unsigned char *top[2];
	/** private: runs of each size taken from the area (free in the
	 * magazine or mapped), so runs[k] less the magazine's are mapped */
	uint32_t runs[2];
	/** private: runs mapped at the last fold of the counters: unmaps are
	 * not counted but derived, maps - (mapped now - mapped then) */
	uint32_t mapped_at_fold;
#if UINTPTR_MAX > 0xFFFFFFFFu
	/** private: maps << 40 | bytes bounced, not yet counted in the area
	 * (one store a map) */
	uint64_t pend;
#else
	uint32_t maps;	  /**< private: maps not yet counted in the area */
	uint32_t bounced; /**< private: bytes not yet counted in the area */
#endif
	uint32_t run[2][VTIO_BOUNCE_CACHE_DEPTH]; /**< private: the magazines (head slots) */
	/** private: never written, so the lines the fast path writes hold
	 * nothing of the object after the cache */
	unsigned char guard_tail[VTIO_BOUNCE_CACHE_GUARD];
};

/**
 * Attach @p c to the pool a plain map for @p dev would try first (its
 * affinity pool, else the highest-addressed pool it reaches) and to one of
 * that pool's areas: `dev->area_hint` modulo the pool's areas
 * (VTIO_BOUNCE_AREA_CPU: VTIO_BOUNCE_CPU_ID(), read once here). The cache
 * starts empty and fills on its first map.
 * @param c    caller storage for the cache (not attached).
 * @param set  the pools.
 * @param dev  the device's limits and preferences (copied).
 * @return 0; VTIO_ENODEV (no registered pool the device may use, or the
 *         pool is being removed); VTIO_EINVAL (NULL argument, or
 *         `dev->min_align_mask` has bits above the pool's slot size: the
 *         cache only keeps offsets inside a slot).
 * Context: any thread; not concurrently with other calls on @p c.
 */
int vtio_bounce_cache_init(struct vtio_bounce_cache *c, struct vtio_bounce_set *set,
			   const struct vtio_bounce_dev *dev);

/**
 * As vtio_bounce_map() for the cache's device: a mapping of up to two slots
 * (offset kept by min_align_mask plus @p len) takes a run from the cache
 * (refilling it from its area when empty); anything else, or an empty area,
 * goes to vtio_bounce_map().
 * @param c      an attached cache.
 * @param cpu    original buffer.
 * @param len    bytes.
 * @param dir    direction of the transfer.
 * @param attrs  as vtio_bounce_map().
 * @param bus    receives the device address of the bounce copy.
 * @return as vtio_bounce_map() (VTIO_EFAULT when a non-linear pool's
 *         translation fails).
 * Context: the thread that owns @p c (calls on one cache serialised).
 */
int vtio_bounce_cache_map(struct vtio_bounce_cache *c, void *cpu, size_t len, enum vtio_dma_dir dir,
			  uint32_t attrs, uint64_t *bus);

/**
 * As vtio_bounce_unmap(): a mapping made through @p c goes back to the
 * cache (half a magazine returns to the area when one is full); any other
 * address goes to vtio_bounce_unmap().
 * @param c      the cache the mapping was made through.
 * @param bus    the address vtio_bounce_cache_map() returned.
 * @param len    the length mapped.
 * @param dir    the direction mapped.
 * @param attrs  as vtio_bounce_unmap().
 * @return 0; VTIO_ENOENT (no pool owns @p bus, or it is not the start of a
 *         mapping); VTIO_EALREADY (double unmap); VTIO_EINVAL (@p len or
 *         @p dir differ from the mapping, it is an allocation, or it was
 *         mapped through another cache). Errors are counted as by
 *         vtio_bounce_unmap().
 * Context: the thread that owns @p c.
 */
int vtio_bounce_cache_unmap(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
			    enum vtio_dma_dir dir, uint32_t attrs);

/**
 * Give every free run the cache holds back to its area (its live mappings
 * stay), e.g. before a thread sleeps for long or to see exact counters.
 * @param c  an attached cache.
 * Context: the thread that owns @p c.
 */
void vtio_bounce_cache_drain(struct vtio_bounce_cache *c);

/**
 * Drain @p c and detach it from its pool; its storage may then be reused.
 * @param c  an attached cache.
 * @return 0; VTIO_EBUSY (mappings made through it are still live: it stays
 *         attached, drained).
 * Context: the thread that owns @p c.
 */
int vtio_bounce_cache_fini(struct vtio_bounce_cache *c);

/* ---- The bounce DMA layer ------------------------------------------------------ */

/** @name Bounce layer flags (vtio_bounce_layer_init())
 * @{ */
/**
 * Bounce only the mappings a window layer above hands down with
 * VTIO_DMA_ATTR_BOUNCE; pass the others (and the unmaps and syncs of
 * addresses no pool owns) to the layer below, e.g. a direct layer. Pool
 * device ranges must not alias bus addresses the layer below produces.
 * Coherent allocations still come from the pools.
 */
#define VTIO_BOUNCE_LAYER_F_ON_REQUEST 0x1u
/** @} */

/**
 * A bottom-class DMA layer that bounces every mapping handed to it through a
 * set of pools and serves coherent allocations from them, so a queue using
 * it makes the device see only pool memory. Above a window layer it sees
 * (and bounces) only the buffers the window could not reach.
 */
struct vtio_bounce_layer {
	struct vtio_dma_layer layer; /**< Push this on a vtio_dma_dev (bottom first). */
	struct vtio_bounce_set *set; /**< Pools used. */
	struct vtio_bounce_dev dev;  /**< The device's limits and preferences. */
	uint32_t flags;		     /**< VTIO_BOUNCE_LAYER_F_*. */
	/** Cache the maps and unmaps go through (vtio_bounce_layer_set_cache()), or NULL. */
	struct vtio_bounce_cache *cache;
};

/**
 * Set up a bounce layer over @p set for a device described by @p dev
 * (copied). Then push `&bl->layer` on a DMA device (below any window layer;
 * in on-request mode above the layer that handles the rest).
 * @param bl     the layer to set up.
 * @param set    the pools it bounces through.
 * @param dev    the device's limits and preferences.
 * @param flags  0 (bounce every mapping) or VTIO_BOUNCE_LAYER_F_ON_REQUEST.
 * @return 0 or VTIO_EINVAL (NULL set or dev, unknown flag).
 * Context: setup.
 */
int vtio_bounce_layer_init(struct vtio_bounce_layer *bl, struct vtio_bounce_set *set,
			   const struct vtio_bounce_dev *dev, uint32_t flags);

/**
 * Send the layer's maps and unmaps (single and scatter lists) through
 * @p cache (attached to the layer's set), or, with NULL, back to the plain
 * calls. Only for a layer whose DMA device is used by one thread at a time
 * (e.g. a DMA device per queue, the queue's calls serialised by its
 * caller): a cache takes no lock. Syncs, allocations and frees are
 * unchanged. Switch only while no mapping made through the layer is live.
 * @param bl     an initialised layer.
 * @param cache  an attached cache, or NULL.
 * Context: setup.
 */
void vtio_bounce_layer_set_cache(struct vtio_bounce_layer *bl, struct vtio_bounce_cache *cache);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_BOUNCE_H */
