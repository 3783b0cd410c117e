/**
 * @file config.h
 * @brief Build-time configuration: every option has a working default.
 *
 * A user configuration header may be named with `-DVTIO_CONFIG_FILE="my.h"`;
 * it is included first, so anything it defines wins over the defaults below.
 * Inconsistent combinations are rejected at compile time.
 */
#ifndef VTIO_CONFIG_H
#define VTIO_CONFIG_H

#ifdef VTIO_CONFIG_FILE
#include VTIO_CONFIG_FILE
#endif

/** @defgroup vtio_config Build configuration
 * @{
 */

/** Compile the split ring layout (1) or leave it out (0). */
#ifndef VTIO_CONFIG_SPLIT
#define VTIO_CONFIG_SPLIT 1
#endif

/** Compile the packed ring layout (1) or leave it out (0). */
#ifndef VTIO_CONFIG_PACKED
#define VTIO_CONFIG_PACKED 1
#endif

/** Compile the driver role (`vtio_vq_*`). 0 makes a device-only core: the
 * driver queue and its helpers (DMA mapping of segments, indirect table
 * fill) are left out; keep VTIO_CONFIG_DMA / VTIO_CONFIG_BOUNCE at 0 too,
 * only the driver uses them. */
#ifndef VTIO_CONFIG_DRIVER
#define VTIO_CONFIG_DRIVER 1
#endif

/** Compile the device role (`vtio_devq_*`). 0 makes a driver-only core. */
#ifndef VTIO_CONFIG_DEVICE
#define VTIO_CONFIG_DEVICE 1
#endif

/** Compile indirect descriptor support, on both sides (a device built
 * without it treats an indirect descriptor as a protocol error: do not offer
 * VIRTIO_F_INDIRECT_DESC). */
#ifndef VTIO_CONFIG_INDIRECT
#define VTIO_CONFIG_INDIRECT 1
#endif

/** Compile VIRTIO_F_EVENT_IDX support. */
#ifndef VTIO_CONFIG_EVENT_IDX
#define VTIO_CONFIG_EVENT_IDX 1
#endif

/** Compile the stackable DMA layer (without it queues pass addresses through). */
#ifndef VTIO_CONFIG_DMA
#define VTIO_CONFIG_DMA 1
#endif

/** Compile the bounce pools (needs the DMA layer). */
#ifndef VTIO_CONFIG_BOUNCE
#define VTIO_CONFIG_BOUNCE 1
#endif

/**
 * Compile the fast paths of the split driver ring (the "hot" one-segment
 * add and get_used beside the general paths), of the device rings (the
 * one-descriptor pops and the split single push) and of the bounce slot
 * caches (the common map and unmap). 0 keeps the general paths only: same
 * results, less code, a few more instructions per buffer.
 */
#ifndef VTIO_CONFIG_FAST_PATHS
#define VTIO_CONFIG_FAST_PATHS 1
#endif

/**
 * Compile VIRTIO_F_IN_ORDER support in the driver and device rings. With 0,
 * vtio_vq_init() and vtio_devq_init() refuse a queue whose features include
 * IN_ORDER (VTIO_ENOTSUP): do not negotiate it.
 */
#ifndef VTIO_CONFIG_IN_ORDER
#define VTIO_CONFIG_IN_ORDER 1
#endif

/**
 * Compile driver rings accessed through a memory view
 * (vtio_vq_config::ring_mem). With 0, vtio_vq_init() refuses a non-NULL
 * ring_mem (VTIO_ENOTSUP) and the rings are always accessed through their
 * CPU pointers.
 */
#ifndef VTIO_CONFIG_RING_MEM
#define VTIO_CONFIG_RING_MEM 1
#endif

/** Host is big-endian (1) or little-endian (0); detected from the compiler by default. */
#ifndef VTIO_CONFIG_BIG_ENDIAN
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) &&                                    \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VTIO_CONFIG_BIG_ENDIAN 1
#else
#define VTIO_CONFIG_BIG_ENDIAN 0
#endif
#endif

/** Maximum number of layers in one DMA stack. */
#ifndef VTIO_CONFIG_DMA_MAX_LAYERS
#define VTIO_CONFIG_DMA_MAX_LAYERS 8
#endif

/** Maximum number of pools in one bounce pool set. */
#ifndef VTIO_CONFIG_BOUNCE_MAX_POOLS
#define VTIO_CONFIG_BOUNCE_MAX_POOLS 8
#endif

/** @} */

#if !VTIO_CONFIG_SPLIT && !VTIO_CONFIG_PACKED
#error "vtio: at least one ring layout (VTIO_CONFIG_SPLIT or VTIO_CONFIG_PACKED) must be enabled"
#endif
#if !VTIO_CONFIG_DRIVER && !VTIO_CONFIG_DEVICE
#error "vtio: at least one role (VTIO_CONFIG_DRIVER or VTIO_CONFIG_DEVICE) must be enabled"
#endif
#if VTIO_CONFIG_BOUNCE && !VTIO_CONFIG_DMA
#error "vtio: VTIO_CONFIG_BOUNCE needs VTIO_CONFIG_DMA"
#endif
#if (VTIO_CONFIG_FAST_PATHS != 0 && VTIO_CONFIG_FAST_PATHS != 1) ||                                \
    (VTIO_CONFIG_IN_ORDER != 0 && VTIO_CONFIG_IN_ORDER != 1) ||                                    \
    (VTIO_CONFIG_RING_MEM != 0 && VTIO_CONFIG_RING_MEM != 1)
#error "vtio: VTIO_CONFIG_FAST_PATHS, VTIO_CONFIG_IN_ORDER and VTIO_CONFIG_RING_MEM must be 0 or 1"
#endif

#endif /* VTIO_CONFIG_H */
