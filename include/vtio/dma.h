/**
 * @file dma.h
 * @brief Stackable DMA ops: per-device stacks of layers (debug, paravirtual,
 *        IOMMU, address window, bounce/direct), each able to call the layer
 *        below, missing ops falling through, dispatch resolved once when the
 *        stack is built.
 *
 * Shape (the project's one ops-table shape): a layer is a `static const`
 * ops table plus an instance (struct vtio_dma_layer) holding the ops first,
 * its private data, and the resolved links to the layers below. A DMA device
 * (struct vtio_dma_dev) is a stack of layers; for each op it remembers the
 * topmost layer implementing it, and each layer remembers, per op, the
 * nearest layer below implementing it. A call therefore costs one indirect
 * call per layer that does work, and never walks the stack.
 *
 * Order, top (called first) to bottom: debug -> paravirtual -> IOMMU ->
 * address window -> bounce/direct. Layers are pushed bottom first
 * (initialisation order), so calls run in the reverse of initialisation
 * order, as in the 2007 stackable dma-ops discussion.
 */
#ifndef VTIO_DMA_H
#define VTIO_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_dma Stackable DMA ops
 * @{
 */

/** Direction of a mapping, as seen from memory. */
enum vtio_dma_dir {
	VTIO_DMA_BIDIRECTIONAL = 0, /**< Device reads and writes. */
	VTIO_DMA_TO_DEVICE = 1,	    /**< Device only reads. */
	VTIO_DMA_FROM_DEVICE = 2    /**< Device only writes. */
};

/** Skip CPU cache maintenance / bounce copies for this call. */
#define VTIO_DMA_ATTR_SKIP_CPU_SYNC 0x1u
/**
 * Hand-down request (set by an address-window layer, seen by the layers below
 * it): the buffer's own bus address is not reachable by the device, so a
 * layer able to bounce (copy through memory the device can reach) must
 * bounce this mapping; layers that cannot bounce pass the call on unchanged.
 * The window layer checks the result again and fails with VTIO_ERANGE when
 * the bus address is still outside its window.
 */
#define VTIO_DMA_ATTR_BOUNCE 0x2u

/** Layer classes; a stack must be ordered by class, top to bottom. */
enum vtio_dma_class {
	VTIO_DMA_CLASS_DEBUG = 0,    /**< Checkers (must be on top). */
	VTIO_DMA_CLASS_PARAVIRT = 1, /**< Hypercall / paravirtual layers. */
	VTIO_DMA_CLASS_IOMMU = 2,    /**< IOVA translation. */
	VTIO_DMA_CLASS_WINDOW = 3,   /**< Address window / DMA mask. */
	VTIO_DMA_CLASS_BOTTOM = 4    /**< Direct or bounce: the bottom of every stack. */
};

/** Op numbers (index of the resolved dispatch tables). */
enum vtio_dma_op {
	VTIO_DMA_OP_MAP = 0,
	VTIO_DMA_OP_UNMAP,
	VTIO_DMA_OP_MAP_SG,
	VTIO_DMA_OP_UNMAP_SG,
	VTIO_DMA_OP_SYNC_FOR_CPU,
	VTIO_DMA_OP_SYNC_FOR_DEVICE,
	VTIO_DMA_OP_ALLOC,
	VTIO_DMA_OP_FREE,
	VTIO_DMA_OP_CAPS,
	VTIO_DMA_NOPS /**< Number of ops. */
};

/** One element of a scatter list for map_sg / unmap_sg. */
struct vtio_dma_sg {
	void *cpu;    /**< CPU address of the segment. */
	uint64_t bus; /**< Bus address, filled by map_sg. */
	uint32_t len; /**< Length in bytes. */
};

/** What a device (or a layer and everything below it) can address. */
struct vtio_dma_caps {
	uint64_t mask;	      /**< Highest bus address reachable, as a mask (e.g. 2^30 - 1). */
	uint64_t max_mapping; /**< Largest single mapping in bytes. */
};

struct vtio_dma_layer;

/**
 * A layer's ops. Any op may be NULL: calls fall through to the nearest
 * layer below that implements it. An op may call the same op of the layer
 * below with the vtio_dma_prev_*() helpers, or not, as it decides.
 */
struct vtio_dma_ops {
	const char *name;	   /**< For diagnostics. */
	enum vtio_dma_class klass; /**< Position class in a stack. */
	/** Map [cpu, cpu+len) for @p dir; store the bus address in `*bus`. */
	int (*map)(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs, uint64_t *bus);
	/** Undo a map of exactly (bus, len, dir). */
	int (*unmap)(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs);
	/** Map @p n segments; on failure nothing stays mapped. */
	int (*map_sg)(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
		      enum vtio_dma_dir dir, uint32_t attrs);
	/** Unmap @p n segments mapped by map_sg. */
	int (*unmap_sg)(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
			enum vtio_dma_dir dir, uint32_t attrs);
	/** Make what the device wrote in [bus, bus+len) visible to the CPU. */
	int (*sync_for_cpu)(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			    enum vtio_dma_dir dir);
	/** Make what the CPU wrote visible to the device. */
	int (*sync_for_device)(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			       enum vtio_dma_dir dir);
	/** Allocate coherent memory shared with the device. */
	int (*alloc)(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus);
	/** Free memory from alloc. */
	int (*free)(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus);
	/** Report what this layer and those below can address. */
	int (*caps)(struct vtio_dma_layer *l, struct vtio_dma_caps *out);
};

/**
 * A layer instance. The layer's own init function fills @ref ops and
 * @ref priv; vtio_dma_dev_build() fills the rest.
 */
struct vtio_dma_layer {
	const struct vtio_dma_ops *ops; /**< Ops table (first member). */
	void *priv;			/**< Layer private data. */
	struct vtio_dma_layer *below;	/**< Next layer down (NULL at the bottom). */
	/**
	 * Per op: nearest layer below implementing it (resolved at build).
	 * Never NULL after a build: when no layer below implements the op it
	 * points at a terminal layer (map/unmap/alloc/free: VTIO_ENOSYS;
	 * syncs: 0; caps: no limits). For MAP_SG/UNMAP_SG it is the nearest
	 * layer implementing map_sg *or* map (resp. unmap_sg or unmap): call
	 * it through vtio_dma_prev_map_sg(), which loops over map when needed.
	 */
	struct vtio_dma_layer *prev[VTIO_DMA_NOPS];
	/** VTIO_DMA_LAYER_F_* flags, set by the layer's init (0 otherwise). */
	uint32_t flags;
	/** With VTIO_DMA_LAYER_F_LINEAR: map gives bus = cpu + linear_offset. */
	uint64_t linear_offset;
};

/** Layer flag: map is the identity with no side effect (a coherent direct
 * layer with no offset). Implies VTIO_DMA_LAYER_F_LINEAR with offset 0. */
#define VTIO_DMA_LAYER_F_IDENTITY 0x1u
/** Layer flag: map is bus = cpu + vtio_dma_layer::linear_offset (modulo
 * 2^64) for every buffer and never fails; unmap and syncs do nothing. */
#define VTIO_DMA_LAYER_F_LINEAR 0x2u

/** A DMA device: one stack of layers and its resolved dispatch. */
struct vtio_dma_dev {
	struct vtio_dma_layer *layers[VTIO_CONFIG_DMA_MAX_LAYERS]; /**< Top first. */
	unsigned nlayers;					   /**< Layers in the stack. */
	struct vtio_dma_layer *impl[VTIO_DMA_NOPS]; /**< Per op: topmost implementing layer. */
	/** True when map is the identity for every address (a direct layer
	 * with no offset alone, or under layers implementing no mapping op):
	 * ring code may skip map/unmap calls entirely. */
	bool identity;
	/** True when every mapping-path op (map, unmap, map_sg, unmap_sg, syncs)
	 * resolves to one VTIO_DMA_LAYER_F_LINEAR layer (or to nothing):
	 * vtio_dma_map() then computes the address inline, with no call. */
	bool linear;
	bool built;		/**< vtio_dma_dev_build() succeeded. */
	uint64_t linear_offset; /**< When @ref linear is set, bus = cpu + linear_offset. */
};

/**
 * Start an empty DMA device.
 * @param dev  the device to initialise (caller memory).
 * Context: setup.
 */
void vtio_dma_dev_init(struct vtio_dma_dev *dev);

/**
 * Push a layer on top of the stack (push the bottom layer first). Layers of
 * equal class may stack in any number; a layer of a lower class (nearer the
 * bottom) than the current top is refused. A layer instance belongs to one
 * device.
 * @param dev  the device, not yet built.
 * @param l    the layer, its ops (and priv) set by its init function.
 * @return 0; VTIO_EINVAL (NULL layer or ops, unknown class, class order
 *         violated, layer already in this stack, stack already built);
 *         VTIO_E2BIG (more than VTIO_CONFIG_DMA_MAX_LAYERS).
 * Context: setup.
 */
int vtio_dma_dev_push(struct vtio_dma_dev *dev, struct vtio_dma_layer *l);

/**
 * Resolve the dispatch tables once (per op, the topmost implementing layer,
 * and for each layer the nearest implementing layer below), compute
 * vtio_dma_dev::identity; the stack is then fixed.
 * @param dev  the device with its layers pushed.
 * @return 0; VTIO_ENODEV when the bottom layer is not of class
 *         VTIO_DMA_CLASS_BOTTOM (or the stack is empty) or no layer
 *         implements map or unmap; VTIO_EINVAL when already built.
 * Context: setup.
 */
int vtio_dma_dev_build(struct vtio_dma_dev *dev);

/* ---- Calls on a device (dispatch to the topmost implementing layer) ------------- */

/**
 * Out-of-line part of vtio_dma_map(): one indirect call to the topmost layer
 * implementing map. Internal.
 * @param dev    a built device.
 * @param cpu    CPU address of the buffer.
 * @param len    its length in bytes.
 * @param dir    direction of the transfer.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @param bus    receives the bus address.
 * @return as vtio_dma_map().
 * Context: any.
 */
int vtio__dma_map(struct vtio_dma_dev *dev, void *cpu, size_t len, enum vtio_dma_dir dir,
		  uint32_t attrs, uint64_t *bus);

/**
 * Out-of-line part of vtio_dma_unmap(). Internal.
 * @param dev    a built device.
 * @param bus    the bus address map returned.
 * @param len    the length that was mapped.
 * @param dir    the direction that was mapped.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return as vtio_dma_unmap().
 * Context: any.
 */
int vtio__dma_unmap(struct vtio_dma_dev *dev, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		    uint32_t attrs);

/**
 * Map a buffer for the device. Inline: a linear stack (vtio_dma_dev::linear,
 * e.g. a lone coherent direct layer with an offset) costs one addition and
 * no call; any other stack one indirect call to the topmost layer
 * implementing map.
 * @param dev    a built device.
 * @param cpu    CPU address of the buffer.
 * @param len    its length in bytes.
 * @param dir    direction of the transfer.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @param bus    receives the bus address the device must use.
 * @return 0 with `*bus` set; VTIO_EFAULT / VTIO_ENOMEM / VTIO_EMSGSIZE /
 *         VTIO_ERANGE (or another negative code) from the layer that refuses.
 * Context: any; layers that share state lock internally.
 */
VTIO_INLINE int vtio_dma_map(struct vtio_dma_dev *dev, void *cpu, size_t len, enum vtio_dma_dir dir,
			     uint32_t attrs, uint64_t *bus)
{
	if (VTIO_LIKELY(dev->linear)) {
		*bus = (uint64_t)(uintptr_t)cpu + dev->linear_offset;
		return 0;
	}
	return vtio__dma_map(dev, cpu, len, dir, attrs, bus);
}

/**
 * Unmap a buffer mapped by vtio_dma_map() (see vtio_dma_ops::unmap). Inline:
 * nothing to do on a linear stack.
 * @param dev    a built device.
 * @param bus    the bus address map returned.
 * @param len    the length that was mapped.
 * @param dir    the direction that was mapped.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return 0 or the refusing layer's error (e.g. VTIO_ENOENT, VTIO_EALREADY).
 * Context: any.
 */
VTIO_INLINE int vtio_dma_unmap(struct vtio_dma_dev *dev, uint64_t bus, size_t len,
			       enum vtio_dma_dir dir, uint32_t attrs)
{
	if (VTIO_LIKELY(dev->linear))
		return 0;
	return vtio__dma_unmap(dev, bus, len, dir, attrs);
}

/**
 * Map a scatter list, all or nothing. Segments go through the topmost layer
 * implementing map_sg, or one by one through map when a layer above it maps
 * single buffers only.
 * @param dev    a built device.
 * @param sg     segments; each vtio_dma_sg::bus is filled.
 * @param n      number of segments.
 * @param dir    direction of the transfer.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return 0 or the first error (then nothing stays mapped).
 * Context: any.
 */
int vtio_dma_map_sg(struct vtio_dma_dev *dev, struct vtio_dma_sg *sg, unsigned n,
		    enum vtio_dma_dir dir, uint32_t attrs);

/**
 * Unmap a scatter list mapped by vtio_dma_map_sg().
 * @param dev    a built device.
 * @param sg     the segments as mapped.
 * @param n      number of segments.
 * @param dir    the direction that was mapped.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return 0 or the first error (every segment is still attempted).
 * Context: any.
 */
int vtio_dma_unmap_sg(struct vtio_dma_dev *dev, struct vtio_dma_sg *sg, unsigned n,
		      enum vtio_dma_dir dir, uint32_t attrs);

/**
 * Make what the device wrote in [bus, bus+len) visible to the CPU (cache
 * invalidation, bounce copy-back).
 * @param dev  a built device.
 * @param bus  bus address inside a live mapping.
 * @param len  bytes to sync.
 * @param dir  direction of the mapping.
 * @return 0 (also when no layer needs to do anything) or the layer's error.
 * Context: any.
 */
int vtio_dma_sync_for_cpu(struct vtio_dma_dev *dev, uint64_t bus, size_t len,
			  enum vtio_dma_dir dir);

/**
 * Make what the CPU wrote in [bus, bus+len) visible to the device.
 * @param dev  a built device.
 * @param bus  bus address inside a live mapping.
 * @param len  bytes to sync.
 * @param dir  direction of the mapping.
 * @return 0 (also when no layer needs to do anything) or the layer's error.
 * Context: any.
 */
int vtio_dma_sync_for_device(struct vtio_dma_dev *dev, uint64_t bus, size_t len,
			     enum vtio_dma_dir dir);

/**
 * Allocate coherent memory shared with the device (rings, indirect tables).
 * @param dev   a built device.
 * @param size  bytes wanted.
 * @param cpu   receives the CPU pointer.
 * @param bus   receives the address the device uses.
 * @return 0, VTIO_ENOMEM, VTIO_EINVAL (size 0), VTIO_ERANGE (outside a
 *         window), VTIO_ENOSYS (no layer allocates).
 * Context: setup (layers lock internally).
 */
int vtio_dma_alloc(struct vtio_dma_dev *dev, size_t size, void **cpu, uint64_t *bus);

/**
 * Free memory from vtio_dma_alloc().
 * @param dev   a built device.
 * @param size  the size allocated.
 * @param cpu   the CPU pointer alloc returned.
 * @param bus   the bus address alloc returned.
 * @return 0 or the layer's error (VTIO_EINVAL, VTIO_EALREADY, VTIO_ENOSYS).
 * Context: setup or teardown.
 */
int vtio_dma_free(struct vtio_dma_dev *dev, size_t size, void *cpu, uint64_t bus);

/**
 * Query what the device can address through this stack.
 * @param dev  a built device.
 * @param out  receives the limits (no limit: all ones).
 * @return 0 or the layer's error.
 * Context: any.
 */
int vtio_dma_caps(struct vtio_dma_dev *dev, struct vtio_dma_caps *out);

/* ---- Calls from a layer to the layers below (resolved prev links) ----------------- */

/**
 * Map through the nearest layer below @p l that implements map.
 * @return as vtio_dma_map(); VTIO_ENOSYS when no layer below maps.
 * Context: inside a layer's map op.
 */
VTIO_INLINE int vtio_dma_prev_map(struct vtio_dma_layer *l, void *cpu, size_t len,
				  enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_MAP];
	return p->ops->map(p, cpu, len, dir, attrs, bus);
}

/**
 * Unmap through the nearest layer below @p l that implements unmap.
 * @return as vtio_dma_unmap(); VTIO_ENOSYS when no layer below unmaps.
 * Context: inside a layer's unmap op.
 */
VTIO_INLINE int vtio_dma_prev_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				    enum vtio_dma_dir dir, uint32_t attrs)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_UNMAP];
	return p->ops->unmap(p, bus, len, dir, attrs);
}

/**
 * Map a scatter list at layer @p p: its map_sg, or a loop over its map
 * (rolling back with the unmap resolved at @p p on failure). Internal:
 * use vtio_dma_prev_map_sg() or vtio_dma_map_sg().
 * @param p      a resolved layer implementing map_sg or map.
 * @param sg     segments; bus addresses are filled.
 * @param n      number of segments.
 * @param dir    direction.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return 0 or the first error (then nothing stays mapped).
 * Context: any.
 */
int vtio__dma_map_sg_at(struct vtio_dma_layer *p, struct vtio_dma_sg *sg, unsigned n,
			enum vtio_dma_dir dir, uint32_t attrs);

/**
 * Unmap a scatter list at layer @p p: its unmap_sg, or a loop over unmap.
 * Internal: use vtio_dma_prev_unmap_sg() or vtio_dma_unmap_sg().
 * @param p      a resolved layer implementing unmap_sg or unmap.
 * @param sg     the segments as mapped.
 * @param n      number of segments.
 * @param dir    direction.
 * @param attrs  VTIO_DMA_ATTR_* flags.
 * @return 0 or the first error (every segment is still attempted).
 * Context: any.
 */
int vtio__dma_unmap_sg_at(struct vtio_dma_layer *p, struct vtio_dma_sg *sg, unsigned n,
			  enum vtio_dma_dir dir, uint32_t attrs);

/**
 * Map a scatter list through the layers below @p l (their map_sg, or map
 * segment by segment when the nearest mapping layer has no map_sg).
 * @return 0 or the first error; on error nothing stays mapped.
 * Context: inside a layer's map_sg op.
 */
VTIO_INLINE int vtio_dma_prev_map_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
				     enum vtio_dma_dir dir, uint32_t attrs)
{
	return vtio__dma_map_sg_at(l->prev[VTIO_DMA_OP_MAP_SG], sg, n, dir, attrs);
}

/**
 * Unmap a scatter list through the layers below @p l.
 * @return 0 or the first error.
 * Context: inside a layer's unmap_sg op.
 */
VTIO_INLINE int vtio_dma_prev_unmap_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
				       enum vtio_dma_dir dir, uint32_t attrs)
{
	return vtio__dma_unmap_sg_at(l->prev[VTIO_DMA_OP_UNMAP_SG], sg, n, dir, attrs);
}

/**
 * Sync for the CPU through the layers below @p l.
 * @return 0 (also when no layer below syncs) or the layer's error.
 * Context: inside a layer's sync_for_cpu op.
 */
VTIO_INLINE int vtio_dma_prev_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
					   enum vtio_dma_dir dir)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_SYNC_FOR_CPU];
	return p->ops->sync_for_cpu(p, bus, len, dir);
}

/**
 * Sync for the device through the layers below @p l.
 * @return 0 (also when no layer below syncs) or the layer's error.
 * Context: inside a layer's sync_for_device op.
 */
VTIO_INLINE int vtio_dma_prev_sync_for_device(struct vtio_dma_layer *l, uint64_t bus, size_t len,
					      enum vtio_dma_dir dir)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_SYNC_FOR_DEVICE];
	return p->ops->sync_for_device(p, bus, len, dir);
}

/**
 * Allocate coherent memory through the layers below @p l.
 * @return 0, VTIO_ENOMEM, VTIO_ENOSYS (no layer below allocates).
 * Context: inside a layer's alloc op.
 */
VTIO_INLINE int vtio_dma_prev_alloc(struct vtio_dma_layer *l, size_t size, void **cpu,
				    uint64_t *bus)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_ALLOC];
	return p->ops->alloc(p, size, cpu, bus);
}

/**
 * Free coherent memory through the layers below @p l.
 * @return 0 or the layer's error; VTIO_ENOSYS when no layer below frees.
 * Context: inside a layer's free op.
 */
VTIO_INLINE int vtio_dma_prev_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_FREE];
	return p->ops->free(p, size, cpu, bus);
}

/**
 * Limits of the layers below @p l (no limits when none reports any).
 * @return 0 or the layer's error.
 * Context: inside a layer's caps op.
 */
VTIO_INLINE int vtio_dma_prev_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct vtio_dma_layer *p = l->prev[VTIO_DMA_OP_CAPS];
	return p->ops->caps(p, out);
}

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_DMA_H */
