/**
 * @file dma_layers.h
 * @brief Built-in DMA layers: direct, address window, IOMMU-style
 *        translation and a debug checker (see dma.h for stacks).
 *
 * Each layer is a struct the caller allocates, with its vtio_dma_layer
 * first: initialise it with its `*_init()` function, then push
 * `&x.layer` on a vtio_dma_dev (bottom first) and build the device. Every
 * table a layer needs is caller memory sized by the layer's `*_size()`
 * function; nothing allocates. A layer instance belongs to one device.
 *
 * Layers that keep shared state (direct arena, IOMMU table, debug table)
 * take an internal lock (VTIO_LOCK from port.h), so a driver thread and a
 * device thread may use them at the same time.
 */
#ifndef VTIO_DMA_LAYERS_H
#define VTIO_DMA_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "dma.h"
#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_dma_layers Built-in DMA layers
 * @{
 */

/* ==== Direct layer ============================================================== */

/** How the direct layer turns CPU addresses into bus addresses. */
enum vtio_dma_direct_mode {
	VTIO_DMA_DIRECT_IDENTITY = 0, /**< bus = (uintptr_t)cpu. */
	VTIO_DMA_DIRECT_OFFSET = 1,   /**< bus = (uintptr_t)cpu + offset (modulo 2^64). */
	VTIO_DMA_DIRECT_CALLBACK = 2  /**< bus = to_bus(cpu) (firmware where they differ). */
};

/**
 * Translate a CPU range to a bus address (callback mode).
 * @return 0 with `*bus` set, or a negative VTIO_E* (e.g. VTIO_EFAULT when the
 *         range has no bus address); the error is returned by map.
 */
typedef int (*vtio_dma_to_bus_fn)(void *ctx, const void *cpu, size_t len, uint64_t *bus);
/** Translate a bus address back to a CPU pointer (callback mode; NULL when none). */
typedef void *(*vtio_dma_to_cpu_fn)(void *ctx, uint64_t bus);
/** Allocate coherent memory (callback alloc). @return 0, VTIO_ENOMEM. */
typedef int (*vtio_dma_alloc_fn)(void *ctx, size_t size, void **cpu, uint64_t *bus);
/** Free memory from a vtio_dma_alloc_fn. @return 0 or an error. */
typedef int (*vtio_dma_free_fn)(void *ctx, size_t size, void *cpu, uint64_t bus);

/** Configuration of a direct layer. Zero-initialise, then set what you need. */
struct vtio_dma_direct_config {
	enum vtio_dma_direct_mode mode; /**< Address translation. */
	uint64_t offset;		/**< VTIO_DMA_DIRECT_OFFSET: added to the CPU address. */
	vtio_dma_to_bus_fn to_bus;	/**< VTIO_DMA_DIRECT_CALLBACK: required. */
	vtio_dma_to_cpu_fn to_cpu;	/**< CALLBACK: optional, needed for noncoherent syncs. */
	void *xlate_ctx;		/**< First argument of to_bus / to_cpu. */
	/** Highest reachable bus address as a mask (caps); 0 means all 64 bits. Mappings
	 * ending above it fail with VTIO_ERANGE. */
	uint64_t mask;
	uint64_t max_mapping; /**< Largest mapping (caps, VTIO_EMSGSIZE above); 0: no limit. */
	/** Memory is not cache-coherent with the device: map, unmap and syncs
	 * call VTIO_CACHE_FLUSH / VTIO_CACHE_INVALIDATE (then the layer is not
	 * an identity layer, so ring code does not skip it). */
	bool noncoherent;
	/** Coherent memory, option 1: an arena of caller memory carved by
	 * vtio_dma_alloc(). NULL for none. */
	void *arena;
	size_t arena_size; /**< Bytes in @ref arena. */
	/** Allocation granule of the arena (power of two >= 8; 0: 64). Blocks are
	 * aligned to the largest power of two not above their size, capped at
	 * 4096, and at least to the granule. The arena itself must be 4096-aligned
	 * for that to hold for large blocks. */
	size_t arena_granule;
	/** Bitmap storage of vtio_dma_direct_arena_map_size() bytes (uint32_t aligned). */
	void *arena_map;
	/** Coherent memory, option 2 (used when @ref arena is NULL): callbacks. */
	vtio_dma_alloc_fn alloc;
	vtio_dma_free_fn free; /**< Frees what @ref alloc returned. */
	void *alloc_ctx;       /**< First argument of alloc / free. */
};

/** A direct layer (class VTIO_DMA_CLASS_BOTTOM). Fields are private. */
struct vtio_dma_direct {
	struct vtio_dma_layer layer;	   /**< Push `&d.layer`. */
	struct vtio_dma_direct_config cfg; /**< Copy of the configuration. */
	uint64_t mask;			   /**< Effective mask. */
	size_t granules;		   /**< Arena granules. */
	size_t granule;			   /**< Arena granule bytes. */
	unsigned granule_shift;		   /**< log2(granule). */
	size_t in_use;			   /**< Arena bytes allocated (granules * granule). */
	VTIO_LOCK_T lock;		   /**< Arena lock. */
};

/**
 * Bytes of bitmap the direct layer's arena needs.
 * @param arena_size  bytes of the arena.
 * @param granule     the arena granule (0: 64).
 * @return bytes for vtio_dma_direct_config::arena_map (a multiple of 4).
 * Context: any; pure.
 */
size_t vtio_dma_direct_arena_map_size(size_t arena_size, size_t granule);

/**
 * Initialise a direct layer. A coherent identity layer (mode IDENTITY,
 * coherent, mask 0 or all ones, no max_mapping) is flagged
 * VTIO_DMA_LAYER_F_IDENTITY: a device made of it alone has
 * vtio_dma_dev::identity set and rings skip mapping.
 * @param d      the layer (caller memory).
 * @param cfg    configuration; copied.
 * @return 0; VTIO_EINVAL (callback mode without to_bus, bad granule, arena
 *         without bitmap, alloc without free).
 * Context: setup.
 */
int vtio_dma_direct_init(struct vtio_dma_direct *d, const struct vtio_dma_direct_config *cfg);

/**
 * Arena bytes currently allocated (rounded to granules).
 * @param d      an initialised direct layer.
 * @return bytes; 0 without an arena.
 * Context: any.
 */
size_t vtio_dma_direct_arena_in_use(struct vtio_dma_direct *d);

/* ==== Address window / DMA mask ================================================= */

/** Configuration of an address window layer. */
struct vtio_dma_window_config {
	uint64_t base; /**< Lowest bus address the device reaches. */
	/** Highest reachable bus address as a mask, e.g. (1 << 30) - 1 for a
	 * 30-bit device. Every mapping must satisfy base <= bus and
	 * bus + len - 1 <= mask. */
	uint64_t mask;
	/** When a mapping lands outside the window: false fails it with
	 * VTIO_ERANGE; true retries below with VTIO_DMA_ATTR_BOUNCE (a bounce
	 * layer below then bounces it) and fails only if that is outside too. */
	bool hand_down;
};

/** An address window layer (class VTIO_DMA_CLASS_WINDOW). */
struct vtio_dma_window {
	struct vtio_dma_layer layer;	   /**< Push `&w.layer`. */
	struct vtio_dma_window_config cfg; /**< Copy of the configuration. */
	uint64_t rejected;		   /**< Mappings failed with VTIO_ERANGE. */
	uint64_t handed_down;		   /**< Mappings retried with VTIO_DMA_ATTR_BOUNCE. */
	uint64_t last_bus;		   /**< Bus address of the last out-of-window mapping. */
	uint64_t last_len;		   /**< Its length. */
	VTIO_LOCK_T lock;		   /**< Guards the counters (slow path only). */
};

/**
 * Initialise an address window layer.
 * @param w      the layer (caller memory).
 * @param cfg    configuration; copied.
 * @return 0 or VTIO_EINVAL (base above mask).
 * Context: setup.
 */
int vtio_dma_window_init(struct vtio_dma_window *w, const struct vtio_dma_window_config *cfg);

/* ==== IOMMU-style translation =================================================== */

/** A recorded IOMMU fault. */
struct vtio_dma_iommu_fault {
	uint64_t iova; /**< Faulting IOVA. */
	uint64_t len;  /**< Length of the access. */
	uint32_t perm; /**< Access wanted (VTIO_MEM_READ / VTIO_MEM_WRITE). */
	int err;       /**< VTIO_EFAULT (not mapped) or VTIO_EACCES (not permitted). */
};

/** Called on each fault (from the thread that faulted). */
typedef void (*vtio_dma_iommu_fault_fn)(void *ctx, const struct vtio_dma_iommu_fault *f);

/** Configuration of an IOMMU layer. */
struct vtio_dma_iommu_config {
	uint64_t iova_base; /**< First IOVA (page aligned). */
	size_t page_size;   /**< IOMMU page (power of two >= 64; 0: 4096). */
	size_t npages;	    /**< Pages of IOVA space. */
	/** Page table storage: vtio_dma_iommu_table_size(npages) bytes, 8-byte aligned. */
	void *table;
	vtio_dma_iommu_fault_fn fault; /**< Optional fault report. */
	void *fault_ctx;	       /**< First argument of @ref fault. */
};

/** An IOMMU layer (class VTIO_DMA_CLASS_IOMMU). Fields are private except the counters. */
struct vtio_dma_iommu {
	struct vtio_dma_layer layer;	  /**< Push `&m.layer`. */
	struct vtio_dma_iommu_config cfg; /**< Copy of the configuration. */
	uint64_t *pte;			  /**< Page table (one entry per IOVA page). */
	unsigned page_shift;		  /**< log2(page_size). */
	size_t cursor;			  /**< Next-fit allocation hint. */
	size_t pages_used;		  /**< Pages currently mapped. */
	uint64_t faults;		  /**< Faults recorded. */
	struct vtio_dma_iommu_fault last; /**< Last fault. */
	VTIO_LOCK_T lock;		  /**< Table lock. */
};

/**
 * Bytes of page table for @p npages IOVA pages.
 * @param npages pages of IOVA space.
 * @return npages * 8.
 * Context: any; pure.
 */
size_t vtio_dma_iommu_table_size(size_t npages);

/**
 * Initialise an IOMMU layer over an empty IOVA space.
 * @param m      the layer (caller memory).
 * @param cfg    configuration; copied (the table is kept by reference and zeroed).
 * @return 0 or VTIO_EINVAL (page size not a power of two >= 64, base not page
 *         aligned, no table, zero pages, space wrapping past 2^64).
 * Context: setup.
 */
int vtio_dma_iommu_init(struct vtio_dma_iommu *m, const struct vtio_dma_iommu_config *cfg);

/**
 * Device side: translate [iova, iova+len) for access @p perm to the bus
 * address below the IOMMU. Faults are recorded and reported.
 * @param maplen  set to the bytes contiguous from @p iova (<= len; pages of one
 *                mapping are contiguous below, so usually all of it).
 * @param m      the IOMMU layer.
 * @param iova   first IOVA of the access.
 * @param len    bytes of the access (> 0).
 * @param perm   VTIO_MEM_READ and/or VTIO_MEM_WRITE.
 * @param bus    receives the bus address below the IOMMU.
 * @return 0; VTIO_EFAULT (not mapped); VTIO_EACCES (mapped without @p perm).
 * Context: any thread.
 */
int vtio_dma_iommu_translate(struct vtio_dma_iommu *m, uint64_t iova, uint64_t len, uint32_t perm,
			     uint64_t *bus, uint64_t *maplen);

/**
 * Pages currently mapped.
 * @param m      the IOMMU layer.
 * @return the count.
 * Context: any.
 */
size_t vtio_dma_iommu_pages_used(struct vtio_dma_iommu *m);

/** A device-side memory view translating through an IOMMU (vringh's iotlb flavour). */
struct vtio_dma_iommu_mem {
	struct vtio_mem view;	      /**< Hand `&v.view` to the device queue. */
	struct vtio_dma_iommu *mmu;   /**< Translation. */
	const struct vtio_mem *below; /**< View of bus addresses below the IOMMU. */
};

/**
 * Set up a view whose addresses are IOVAs of @p mmu, resolved to bus
 * addresses below it and then through @p below. Accesses to unmapped or
 * wrongly-permitted IOVAs fail with VTIO_EFAULT / VTIO_EACCES and are recorded
 * as IOMMU faults.
 * @param v      the view to set up (caller memory, must outlive its users).
 * @param mmu    the IOMMU whose IOVAs the view takes.
 * @param below  view of the bus addresses below the IOMMU (kept by reference).
 * @return 0 or VTIO_EINVAL.
 * Context: setup.
 */
int vtio_dma_iommu_mem_init(struct vtio_dma_iommu_mem *v, struct vtio_dma_iommu *mmu,
			    const struct vtio_mem *below);

/* ==== Debug checker ============================================================= */

/** What the debug layer found. */
enum vtio_dma_debug_kind {
	VTIO_DMA_DEBUG_OK = 0,		/**< Nothing. */
	VTIO_DMA_DEBUG_LEAK,		/**< Mapping or allocation alive at teardown. */
	VTIO_DMA_DEBUG_DOUBLE_UNMAP,	/**< Unmap of a mapping already unmapped. */
	VTIO_DMA_DEBUG_UNMAP_UNKNOWN,	/**< Unmap of an address never mapped. */
	VTIO_DMA_DEBUG_UNMAP_SIZE,	/**< Unmap with a different length than mapped. */
	VTIO_DMA_DEBUG_UNMAP_DIR,	/**< Unmap with a different direction than mapped. */
	VTIO_DMA_DEBUG_SYNC_UNMAPPED,	/**< Sync of a range that is not mapped. */
	VTIO_DMA_DEBUG_SYNC_RANGE,	/**< Sync running past the end of its mapping. */
	VTIO_DMA_DEBUG_SYNC_DIR,	/**< Sync with a direction the mapping does not have. */
	VTIO_DMA_DEBUG_USE_AFTER_UNMAP, /**< Access or sync of a mapping after its unmap. */
	VTIO_DMA_DEBUG_ACCESS_UNMAPPED, /**< Device access to an address never mapped. */
	VTIO_DMA_DEBUG_ACCESS_DIR,	/**< Device write to TO_DEVICE or read of FROM_DEVICE. */
	VTIO_DMA_DEBUG_FREE_UNKNOWN,	/**< Free of coherent memory not allocated / wrong size. */
	VTIO_DMA_DEBUG_TABLE_FULL,	/**< Table full: this mapping is not tracked. */
	VTIO_DMA_DEBUG_NKINDS		/**< Number of kinds. */
};

/** One finding of the debug layer. */
struct vtio_dma_debug_report {
	enum vtio_dma_debug_kind kind; /**< What was found. */
	uint64_t bus;		       /**< Bus address of the call or access. */
	uint64_t len;		       /**< Its length. */
	int dir;		       /**< Its direction (enum vtio_dma_dir), -1 for none. */
	uint64_t map_bus;	       /**< The matching mapping's bus address (if any). */
	uint64_t map_len;	       /**< The matching mapping's length. */
	int map_dir;		       /**< The matching mapping's direction, -1 for none. */
};

/** Called on each finding (with the layer's lock released). */
typedef void (*vtio_dma_debug_report_fn)(void *ctx, const struct vtio_dma_debug_report *r);

/** One tracked mapping (opaque; sized by vtio_dma_debug_table_size()). */
struct vtio_dma_debug_entry {
	uint64_t bus;	/**< Bus address. */
	uint64_t len;	/**< Length. */
	uint64_t seq;	/**< Order of the last state change (newest tombstone wins). */
	uint32_t next;	/**< Next live entry (index), UINT32_MAX for none. */
	uint32_t prev;	/**< Previous live entry (index), UINT32_MAX for none. */
	uint8_t dir;	/**< enum vtio_dma_dir. */
	uint8_t state;	/**< Free, live or unmapped (tombstone). */
	uint8_t kind;	/**< Streaming mapping or coherent allocation. */
	uint8_t pad[5]; /**< Padding. */
};

/** Configuration of a debug layer. */
struct vtio_dma_debug_config {
	/** Table storage: vtio_dma_debug_table_size(n) bytes, 8-byte aligned. Entries
	 * of unmapped mappings stay as tombstones until reused, oldest first, which
	 * is how double unmaps and uses after unmap are told from unknown addresses. */
	void *table;
	size_t table_size;		 /**< Bytes at @ref table. */
	vtio_dma_debug_report_fn report; /**< Optional per-finding callback. */
	void *report_ctx;		 /**< First argument of @ref report. */
};

/** A debug layer (class VTIO_DMA_CLASS_DEBUG). Counters are public. */
struct vtio_dma_debug {
	struct vtio_dma_layer layer;	  /**< Push `&d.layer`. */
	struct vtio_dma_debug_entry *tab; /**< Table. */
	size_t n;			  /**< Entries. */
	size_t live;			  /**< Live mappings and allocations. */
	size_t hw;			  /**< Entries ever used (scan bound). */
	size_t cursor;			  /**< Next slot to try (oldest tombstone first). */
	uint32_t live_head;		  /**< First live entry (index), UINT32_MAX for none. */
	uint64_t seq;			  /**< State-change counter. */
	bool overflowed;		  /**< Some mapping went untracked. */
	vtio_dma_debug_report_fn report;  /**< Callback. */
	void *report_ctx;		  /**< Its argument. */
	uint64_t counts[VTIO_DMA_DEBUG_NKINDS]; /**< Findings per kind. */
	struct vtio_dma_debug_report last;	/**< Last finding. */
	VTIO_LOCK_T lock;			/**< Table lock. */
};

/**
 * Bytes of table for tracking @p n mappings (live ones plus tombstones).
 * Checks on the success path cost O(live mappings); only error paths scan
 * the tombstones.
 * @param n      entries (live mappings plus tombstones).
 * @return n * sizeof(struct vtio_dma_debug_entry).
 * Context: any; pure.
 */
size_t vtio_dma_debug_table_size(size_t n);

/**
 * Initialise a debug layer.
 * @param d      the layer (caller memory).
 * @param cfg    configuration; the table is kept by reference and zeroed.
 * @return 0 or VTIO_EINVAL (no table or a table smaller than one entry).
 * Context: setup.
 */
int vtio_dma_debug_init(struct vtio_dma_debug *d, const struct vtio_dma_debug_config *cfg);

/**
 * Report every live mapping and allocation as a leak (VTIO_DMA_DEBUG_LEAK),
 * e.g. at device teardown. Does not unmap anything.
 * @param d      the debug layer.
 * @return the number of leaks (0 when everything was unmapped and freed).
 * Context: any; typically teardown.
 */
size_t vtio_dma_debug_check_leaks(struct vtio_dma_debug *d);

/**
 * Live mappings and allocations.
 * @param d      the debug layer.
 * @return the count.
 * Context: any.
 */
size_t vtio_dma_debug_live(struct vtio_dma_debug *d);

/**
 * Findings so far of one kind, or of all kinds except TABLE_FULL when
 * @p kind is VTIO_DMA_DEBUG_OK.
 * @param d      the debug layer.
 * @param kind   a finding kind, or VTIO_DMA_DEBUG_OK for all.
 * @return the count.
 * Context: any.
 */
uint64_t vtio_dma_debug_count(struct vtio_dma_debug *d, enum vtio_dma_debug_kind kind);

/**
 * Device side: check an access to [bus, bus+len) with @p perm against the
 * live mappings (reported as ACCESS_UNMAPPED, USE_AFTER_UNMAP or ACCESS_DIR).
 * @param d      the debug layer.
 * @param bus    first bus address of the access.
 * @param len    bytes of the access.
 * @param perm   VTIO_MEM_READ and/or VTIO_MEM_WRITE.
 * @return 0, VTIO_EFAULT (not mapped, or unmapped already) or VTIO_EACCES
 *         (direction does not allow @p perm).
 * Context: any thread.
 */
int vtio_dma_debug_check_access(struct vtio_dma_debug *d, uint64_t bus, uint64_t len,
				uint32_t perm);

/** A device-side view that checks every access with vtio_dma_debug_check_access(). */
struct vtio_dma_debug_mem {
	struct vtio_mem view;	      /**< Hand `&v.view` to the device queue. */
	struct vtio_dma_debug *dbg;   /**< Checker. */
	const struct vtio_mem *below; /**< Where checked accesses go. */
};

/**
 * Set up a checking view over @p below. Offers translate as well as
 * read/write, so the device side keeps its zero-copy path.
 * @param v      the view to set up (caller memory, must outlive its users).
 * @param dbg    the checker.
 * @param below  where checked accesses go (kept by reference).
 * @return 0 or VTIO_EINVAL.
 * Context: setup.
 */
int vtio_dma_debug_mem_init(struct vtio_dma_debug_mem *v, struct vtio_dma_debug *dbg,
			    const struct vtio_mem *below);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_DMA_LAYERS_H */
