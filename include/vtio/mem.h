/**
 * @file mem.h
 * @brief Memory views: how one side turns the peer's addresses into access.
 *
 * The device side reads driver memory only through a view: rings and buffers
 * alike. A view is either
 *  - a table of regions (driver address range -> local pointer, with
 *    permissions), with an inline fast path for the first region, or
 *  - accessor ops (read / write / optional translate) for memory that is not
 *    mapped: a copy engine, an MMIO window, an IOTLB. This is Linux vringh's
 *    kern / user / iotlb flavours in one interface.
 * A view with ops and regions uses the regions first and the ops for
 * addresses no region covers.
 *
 * A view is immutable after init and may be shared by any number of queues
 * and threads.
 */
#ifndef VTIO_MEM_H
#define VTIO_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_mem Memory views
 * @{
 */

#define VTIO_MEM_READ  1u /**< The region may be read by the side using the view. */
#define VTIO_MEM_WRITE 2u /**< The region may be written. */
#define VTIO_MEM_RW    3u /**< Both. */

/** One contiguous range of peer addresses backed by local memory. */
struct vtio_mem_region {
	uint64_t addr; /**< First peer address of the range. */
	uint64_t len;  /**< Length in bytes (non-zero). */
	void *host;    /**< Local pointer that @ref addr maps to. */
	uint32_t perm; /**< VTIO_MEM_READ / VTIO_MEM_WRITE. */
};

/** Accessor ops for memory that has no (or not always a) local mapping. */
struct vtio_mem_ops {
	/**
	 * Copy @p len bytes at peer address @p addr to @p dst. 0 or VTIO_EFAULT /
	 * VTIO_EACCES. Ring indexes and flags are read with @p len 2: such a
	 * read must be one untorn access, and reads and writes must reach
	 * memory in program order (the ring code puts barriers between calls).
	 */
	int (*read)(void *ctx, uint64_t addr, void *dst, size_t len);
	/** Copy @p len bytes from @p src to peer address @p addr. 0 or VTIO_EFAULT /
	 * VTIO_EACCES. A 2-byte write must be one untorn access (see read). */
	int (*write)(void *ctx, uint64_t addr, const void *src, size_t len);
	/**
	 * Optional. Give a local pointer for the start of [addr, addr+len) with
	 * @p perm; `*maplen` is how many bytes are contiguous there (may be less
	 * than @p len: the caller continues at addr + *maplen). Return
	 * VTIO_ENOTSUP when the range has no pointer (the caller then uses
	 * read/write), VTIO_EFAULT / VTIO_EACCES when it is not accessible.
	 * On success `1 <= *maplen <= len` is required; a view whose op breaks
	 * that gets VTIO_EFAULT from vtio_mem_translate_slow().
	 */
	int (*translate)(void *ctx, uint64_t addr, uint64_t len, uint32_t perm, void **ptr,
			 uint64_t *maplen);
};

/** A memory view. Set up with vtio_mem_init() and/or vtio_mem_set_ops(). */
struct vtio_mem {
	const struct vtio_mem_region *regions; /**< Sorted, non-overlapping; may be NULL. */
	unsigned nregions;		       /**< Number of regions. */
	const struct vtio_mem_ops *ops;	       /**< Accessors for other addresses; may be NULL. */
	void *ctx;			       /**< First argument of every op. */
};

/**
 * Initialise a region-table view.
 *
 * @param m        view to initialise.
 * @param regions  array of @p n regions, kept by reference (not copied): it
 *                 must outlive the view. Must be sorted by address with no
 *                 overlap, each non-empty, not wrapping past 2^64 and no
 *                 longer than the host's address space. An identity view
 *                 (peer addresses are local addresses) is one region
 *                 `{0, UINTPTR_MAX, NULL, VTIO_MEM_RW}`.
 * @param n        number of regions (0 allowed: every access faults unless
 *                 ops are set).
 * @return 0, or VTIO_EINVAL for an unsorted, overlapping or empty region.
 *
 * Context: setup; not concurrently with users of @p m.
 */
int vtio_mem_init(struct vtio_mem *m, const struct vtio_mem_region *regions, unsigned n);

/**
 * Add accessor ops to a view, for addresses its regions do not cover.
 *
 * @param m    view (initialised by vtio_mem_init(), possibly with 0 regions).
 * @param ops  accessor ops; read and write are required, translate optional.
 * @param ctx  passed to every op.
 * @return 0 or VTIO_EINVAL when read or write is missing.
 *
 * Context: setup.
 */
int vtio_mem_set_ops(struct vtio_mem *m, const struct vtio_mem_ops *ops, void *ctx);

/**
 * Translate a range to a local pointer, out of line (all regions, then ops).
 * See vtio_mem_translate(), which tries the first region inline first.
 *
 * @param m       the view.
 * @param addr    first peer address of the range.
 * @param len     length of the range (> 0).
 * @param perm    VTIO_MEM_READ and/or VTIO_MEM_WRITE.
 * @param ptr     receives the local pointer of @p addr.
 * @param maplen  receives how many bytes are contiguous at `*ptr`.
 * @return 0 with `*ptr`/`*maplen` set, VTIO_ENOTSUP when the range is
 *         accessible only through read/write, VTIO_EFAULT when no region or
 *         op covers @p addr, VTIO_EACCES when @p perm is not allowed.
 */
int vtio_mem_translate_slow(const struct vtio_mem *m, uint64_t addr, uint64_t len, uint32_t perm,
			    void **ptr, uint64_t *maplen);

/**
 * Translate [addr, addr+len) to a local pointer for access @p perm.
 *
 * @param m       the view.
 * @param addr    first peer address of the range.
 * @param len     length of the range (> 0).
 * @param perm    VTIO_MEM_READ and/or VTIO_MEM_WRITE.
 * @param ptr     receives the local pointer of @p addr.
 * @param maplen  receives how many bytes are contiguous at `*ptr`.
 *
 * On success `*ptr` is the local address of @p addr and `*maplen` the number
 * of contiguous bytes there, `1 <= *maplen <= len` (a range crossing regions
 * needs several calls). Pass len > 0.
 *
 * @return 0, VTIO_ENOTSUP (use vtio_mem_read()/vtio_mem_write() instead),
 *         VTIO_EFAULT (address not in the view) or VTIO_EACCES.
 *
 * Context: any thread; the view is read-only.
 */
VTIO_INLINE int vtio_mem_translate(const struct vtio_mem *m, uint64_t addr, uint64_t len,
				   uint32_t perm, void **ptr, uint64_t *maplen)
{
	if (VTIO_LIKELY(m->nregions != 0)) {
		const struct vtio_mem_region *r = &m->regions[0];
		uint64_t off = addr - r->addr;
		if (VTIO_LIKELY(addr >= r->addr && off < r->len && (r->perm & perm) == perm)) {
			uint64_t room = r->len - off;
			/* Through uintptr_t: an identity view maps address 0 to host NULL. */
			*ptr = (void *)((uintptr_t)r->host + (uintptr_t)off);
			*maplen = len < room ? len : room;
			return 0;
		}
	}
	return vtio_mem_translate_slow(m, addr, len, perm, ptr, maplen);
}

/**
 * Copy @p len bytes from peer address @p addr into @p dst.
 * @param m the view. @param addr peer address. @param dst local destination.
 * @param len bytes to copy.
 * @return 0, VTIO_EFAULT or VTIO_EACCES (then @p dst may be partly written).
 * Context: any thread.
 */
int vtio_mem_read(const struct vtio_mem *m, uint64_t addr, void *dst, size_t len);

/**
 * Copy @p len bytes from @p src to peer address @p addr.
 * @param m the view. @param addr peer address. @param src local source.
 * @param len bytes to copy.
 * @return 0, VTIO_EFAULT or VTIO_EACCES (then the target may be partly written).
 * Context: any thread.
 */
int vtio_mem_write(const struct vtio_mem *m, uint64_t addr, const void *src, size_t len);

/* ---- Counting view (tests, diagnostics) ---------------------------------------- */

/** Maximum watched ranges of a counting view. */
#define VTIO_MEM_COUNT_RANGES 8

/** One watched range of a counting view and its access counts. */
struct vtio_mem_count_range {
	uint64_t addr;	 /**< Start of the watched range (peer address). */
	uint64_t len;	 /**< Length of the watched range. */
	uint64_t reads;	 /**< Read accesses that touched the range. */
	uint64_t writes; /**< Write accesses that touched the range. */
};

/**
 * A view that forwards to an inner view and counts, per watched range, every
 * read and write that touches it. It offers no translate, so users of the
 * view go through read/write for every access and all of them are counted.
 */
struct vtio_mem_counter {
	struct vtio_mem view;					   /**< Hand this to the queue. */
	const struct vtio_mem *inner;				   /**< Where accesses really go. */
	struct vtio_mem_count_range ranges[VTIO_MEM_COUNT_RANGES]; /**< Watched ranges. */
	unsigned nranges;					   /**< Number of watched ranges. */
	uint64_t reads;						   /**< All read accesses. */
	uint64_t writes;					   /**< All write accesses. */
};

/**
 * Set up a counting view over @p inner.
 * @param c the counter to initialise. @param inner the view accesses go to.
 * @return 0 or VTIO_EINVAL.
 * Context: setup. Counts are updated without atomics: one user thread.
 */
int vtio_mem_counter_init(struct vtio_mem_counter *c, const struct vtio_mem *inner);

/**
 * Watch [addr, addr+len): accesses touching it are counted in the returned slot.
 * @param c the counter. @param addr start of the range. @param len its length.
 * @return the range index (>= 0) or VTIO_ENOSPC when all slots are taken.
 */
int vtio_mem_counter_watch(struct vtio_mem_counter *c, uint64_t addr, uint64_t len);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_MEM_H */
