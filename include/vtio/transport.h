/**
 * @file transport.h
 * @brief Transports behind one small ops table, and the driver-side helpers
 *        that walk the virtio initialisation sequence over any of them.
 *
 * A transport is what carries the device status, the feature words, the
 * device-specific configuration space, the queue registers and the
 * notifications between a driver and a device: loopback (in-process),
 * virtio-mmio, shared memory + doorbell, message queue, vhost-user.
 *
 * Shape (the project's one ops-table shape): a transport is a `static const`
 * struct vtio_transport_ops plus an instance (struct vtio_transport) that
 * holds the ops pointer first. vtio_transport_init() resolves the ops once
 * into the instance, replacing the optional ones that are NULL by defaults,
 * so no call site ever tests an op for NULL.
 *
 * The driver-side helpers (vtio_transport_negotiate(),
 * vtio_transport_vq_setup(), vtio_transport_driver_ok()) follow the spec's
 * driver initialisation sequence (CHECKLIST INIT-DRV-1..12, FEAT-DRV-1..13):
 * reset -> ACKNOWLEDGE -> DRIVER -> feature words -> FEATURES_OK and its
 * re-read -> queue setup -> DRIVER_OK, setting FAILED when a step fails.
 *
 * Concurrency: the calls on one transport instance are serialised by the
 * caller, except vtio_transport_notify() (and vtio_transport_vq_notify_cb()),
 * which a driver may call from its queue's thread once DRIVER_OK is set, as
 * long as the transport's notify op allows it (every transport of this
 * library does).
 */
#ifndef VTIO_TRANSPORT_H
#define VTIO_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "spec.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_transport Transports
 * @{
 */

#ifndef VTIO_TRANSPORT_RESET_POLLS
/** How many times vtio_transport_reset() reads the status back waiting for 0. */
#define VTIO_TRANSPORT_RESET_POLLS 1000000u
#endif

#ifndef VTIO_TRANSPORT_CONFIG_RETRIES
/** How many generation mismatches vtio_transport_config_read_stable() tolerates. */
#define VTIO_TRANSPORT_CONFIG_RETRIES 64u
#endif

/** Feature words the helpers exchange (bits 0..63). */
#define VTIO_TRANSPORT_FEATURE_WORDS 2u

struct vtio_transport;

/** Queue registers written by the driver before it enables a queue. */
struct vtio_transport_queue {
	uint32_t num;	      /**< Queue size chosen by the driver. */
	uint64_t desc_addr;   /**< Device address of the descriptor area. */
	uint64_t driver_addr; /**< Device address of the driver area. */
	uint64_t device_addr; /**< Device address of the device area. */
};

/**
 * Used-buffer interrupt handler: the device used buffers on queue @p index.
 * @param ctx    the context given to vtio_transport_set_irq().
 * @param index  queue index.
 */
typedef void (*vtio_transport_vq_irq_fn)(void *ctx, uint16_t index);

/**
 * Configuration-change interrupt handler (config space changed, or the
 * device set DEVICE_NEEDS_RESET).
 * @param ctx  the context given to vtio_transport_set_irq().
 */
typedef void (*vtio_transport_config_irq_fn)(void *ctx);

/**
 * A transport's ops, as seen by the driver. Required ops: get_status,
 * set_status, get_features, set_features, queue_max, queue_setup,
 * queue_enable, notify. The others may be NULL and get defaults.
 */
struct vtio_transport_ops {
	const char *name; /**< For diagnostics. */
	/**
	 * Transport-dependent feature bits (range 24..41) this transport can
	 * carry beyond the ring features every transport supports
	 * (INDIRECT_DESC, EVENT_IDX, VERSION_1, ACCESS_PLATFORM, RING_PACKED,
	 * IN_ORDER, ORDER_PLATFORM, NOTIFICATION_DATA, RING_RESET): e.g.
	 * SR_IOV, NOTIF_CONFIG_DATA, ADMIN_VQ for PCI. The negotiation helper
	 * never accepts a bit of that range that is in neither set (FEAT-DRV-3).
	 */
	uint64_t extra_features;
	/** Read the device status byte. */
	uint8_t (*get_status)(struct vtio_transport *t);
	/** Write the device status byte (0 resets the device). */
	void (*set_status)(struct vtio_transport *t, uint8_t status);
	/** Read device feature word @p word (bits 32*word .. 32*word+31). */
	uint32_t (*get_features)(struct vtio_transport *t, uint32_t word);
	/** Write driver (accepted) feature word @p word. */
	void (*set_features)(struct vtio_transport *t, uint32_t word, uint32_t value);
	/** Read device-specific config bytes. Optional: default has no config space
	 *  (VTIO_ERANGE for any access). @return 0 or a negative VTIO_E* code. */
	int (*config_read)(struct vtio_transport *t, uint32_t off, void *dst, size_t len);
	/** Write device-specific config bytes. Optional (default VTIO_ERANGE). */
	int (*config_write)(struct vtio_transport *t, uint32_t off, const void *src, size_t len);
	/** Config generation counter. Optional (default: always 0). */
	uint32_t (*config_generation)(struct vtio_transport *t);
	/** Largest size of queue @p index; 0 when the queue does not exist. */
	uint32_t (*queue_max)(struct vtio_transport *t, uint16_t index);
	/** Write size and area addresses of queue @p index (queue not enabled). */
	int (*queue_setup)(struct vtio_transport *t, uint16_t index,
			   const struct vtio_transport_queue *q);
	/** Enable queue @p index (the ready / queue_enable register). */
	int (*queue_enable)(struct vtio_transport *t, uint16_t index);
	/** Reset queue @p index (RING_RESET) and return once the reset is
	 *  complete. Optional (default VTIO_ENOTSUP). */
	int (*queue_reset)(struct vtio_transport *t, uint16_t index);
	/** Available-buffer notification: @p data is the queue index, or the
	 *  notification-data word with VIRTIO_F_NOTIFICATION_DATA. */
	int (*notify)(struct vtio_transport *t, uint32_t data);
};

/**
 * A transport instance. Transports embed it (usually first) in their own
 * object and set it up with vtio_transport_init(). Fields are read-only
 * for users; use the functions below.
 */
struct vtio_transport {
	const struct vtio_transport_ops *ops; /**< Ops as given (first member). */
	struct vtio_transport_ops fn;	      /**< Resolved ops: no NULL entries. */
	void *priv;			      /**< Transport private data. */
	uint64_t offered;		      /**< Device features read by the last negotiation. */
	uint64_t features; /**< Negotiated features (valid once FEATURES_OK is set). */
	uint8_t status;	   /**< Status bits the driver has set since the last reset. */
	vtio_transport_vq_irq_fn vq_irq;	 /**< Used-buffer interrupt handler. */
	vtio_transport_config_irq_fn config_irq; /**< Config-change interrupt handler. */
	void *irq_ctx;				 /**< Context of both handlers. */
};

/**
 * Set up a transport instance over @p ops.
 *
 * @param t     instance to initialise.
 * @param ops   the transport's ops, normally `static const`; kept by reference.
 * @param priv  transport private data (vtio_transport::priv).
 * @return 0, or VTIO_EINVAL when a required op is missing.
 * Context: setup.
 */
int vtio_transport_init(struct vtio_transport *t, const struct vtio_transport_ops *ops, void *priv);

/**
 * Register the driver's interrupt handlers (either may be NULL).
 * @param t           transport.
 * @param vq_irq      called when the device used buffers on a queue.
 * @param config_irq  called on a configuration change.
 * @param ctx         first argument of both.
 * Context: driver side, setup.
 */
void vtio_transport_set_irq(struct vtio_transport *t, vtio_transport_vq_irq_fn vq_irq,
			    vtio_transport_config_irq_fn config_irq, void *ctx);

/**
 * For transport implementations: deliver a used-buffer interrupt for
 * queue @p index to the driver's handler, if one is registered.
 * @param t      transport.
 * @param index  queue index.
 * Context: wherever the transport receives the interrupt.
 */
VTIO_INLINE void vtio_transport_irq_vq(struct vtio_transport *t, uint16_t index)
{
	if (t->vq_irq)
		t->vq_irq(t->irq_ctx, index);
}

/**
 * For transport implementations: deliver a configuration-change interrupt.
 * @param t  transport.
 * Context: wherever the transport receives the interrupt.
 */
VTIO_INLINE void vtio_transport_irq_config(struct vtio_transport *t)
{
	if (t->config_irq)
		t->config_irq(t->irq_ctx);
}

/**
 * Read the device status.
 * @param t  transport.
 * @return the status byte.
 * Context: driver side.
 */
VTIO_INLINE uint8_t vtio_transport_get_status(struct vtio_transport *t)
{
	return t->fn.get_status(t);
}

/**
 * OR @p bits into the device status (a status bit is never cleared except
 * by a reset: INIT-DRV-5, INIT-DRV-6).
 * @param t     transport.
 * @param bits  VTIO_STATUS_* bits to add.
 * @return 0, or VTIO_EINVAL when @p bits is 0.
 * Context: driver side, serialised.
 */
int vtio_transport_add_status(struct vtio_transport *t, uint8_t bits);

/**
 * Reset the device: write status 0 and read it back until it is 0
 * (RESET-DRV-1), at most VTIO_TRANSPORT_RESET_POLLS times. Forgets the
 * negotiated features. The caller must then detach the buffers of its
 * queues and reset or free them.
 * @param t  transport.
 * @return 0, or VTIO_ETIMEDOUT when the status never reads 0.
 * Context: driver side, serialised; no queue of the device may be in use.
 */
int vtio_transport_reset(struct vtio_transport *t);

/**
 * Set FAILED (the driver gave up on the device: INIT-DRV-4). A reset is
 * needed before any new initialisation (INIT-DRV-7).
 * @param t  transport.
 * Context: driver side, serialised.
 */
void vtio_transport_fail(struct vtio_transport *t);

/** What the driver can do, for vtio_transport_negotiate(). */
struct vtio_transport_negotiation {
	/** Every feature the driver can use: device-type bits and ring bits
	 *  (e.g. VTIO_FEATURE(VTIO_F_INDIRECT_DESC)). VERSION_1 and
	 *  ORDER_PLATFORM are accepted whenever offered whatever this says
	 *  (FEAT-DRV-6, FEAT-DRV-10). */
	uint64_t supported;
	/** Features the driver cannot work without (accepted as if they were
	 *  in @ref supported). If one is not offered the helper sets FAILED and
	 *  fails (FEAT-DRV-4). */
	uint64_t required;
	/**
	 * Optional: adjust the accepted set before it is written, e.g. to
	 * drop a feature whose prerequisite is missing (FEAT-DRV-2). It may
	 * only clear bits (the helper masks the result with the offered set:
	 * FEAT-DRV-1). A negative return aborts (FAILED is set).
	 */
	int (*validate)(void *ctx, uint64_t offered, uint64_t *accept);
	void *validate_ctx; /**< First argument of @ref validate. */
};

/**
 * Walk the first half of the initialisation sequence (INIT-DRV-1): reset,
 * ACKNOWLEDGE, DRIVER, read device feature words 0 and 1 (FEAT-DRV-13),
 * compute and write the accepted subset, set FEATURES_OK and re-read it.
 *
 * Accepted = offered & (supported | required | VERSION_1 | ORDER_PLATFORM), minus the
 * bits 24..49 this library does not describe or the transport cannot carry
 * (FEAT-DRV-3: never bit 30, never reserved bits), then @ref
 * vtio_transport_negotiation::validate. Unknown offered bits never make it
 * fail (FEAT-DRV-5).
 *
 * @param t    transport.
 * @param n    what the driver supports and requires.
 * @return 0 with vtio_transport_features() set; VTIO_ENOTSUP when a
 *         required feature is not offered (FAILED set); VTIO_EPERM when the
 *         device refused FEATURES_OK (it did not read back; FAILED set:
 *         INIT-DRV-4); VTIO_ETIMEDOUT when the reset did not complete; the
 *         validate callback's error (FAILED set).
 * Context: driver side, serialised; device not in use.
 */
int vtio_transport_negotiate(struct vtio_transport *t, const struct vtio_transport_negotiation *n);

/**
 * Negotiated features.
 * @param t  transport.
 * @return the features accepted by the last successful negotiation, 0 before.
 */
VTIO_INLINE uint64_t vtio_transport_features(const struct vtio_transport *t)
{
	return t->features;
}

/**
 * True when feature bit @p bit was negotiated.
 * @param t    transport.
 * @param bit  feature bit number (VTIO_F_*).
 * @return whether it is set in vtio_transport_features().
 */
VTIO_INLINE bool vtio_transport_has(const struct vtio_transport *t, unsigned bit)
{
	return (t->features & VTIO_FEATURE(bit)) != 0;
}

/**
 * Largest size of queue @p index as the device reports it.
 * @param t      transport.
 * @param index  queue index.
 * @return the maximum, 0 when the queue does not exist.
 * Context: driver side.
 */
VTIO_INLINE uint32_t vtio_transport_queue_max(struct vtio_transport *t, uint16_t index)
{
	return t->fn.queue_max(t, index);
}

/**
 * Tell the device where an initialised driver queue is and enable it:
 * checks the size against the device maximum, writes size and the three
 * area addresses, then enables the queue.
 *
 * Allowed after FEATURES_OK and before DRIVER_OK (INIT-DRV-12), or after
 * DRIVER_OK to re-enable a queue reset with vtio_transport_queue_reset()
 * (RESET-DRV-5).
 *
 * @param t   transport.
 * @param vq  the queue (its index, size and areas are used).
 * @return 0; VTIO_EPERM (wrong phase, or after DRIVER_OK without
 *         RING_RESET); VTIO_ENODEV (no such queue); VTIO_ERANGE (size above
 *         the device maximum); the transport's error.
 * Context: driver side, serialised.
 */
int vtio_transport_queue_attach(struct vtio_transport *t, struct vtio_vq *vq);

/** Everything vtio_transport_vq_setup() needs for one queue. */
struct vtio_transport_vq_config {
	uint16_t index; /**< Queue index. */
	/** Queue size; 0 picks the device maximum (for split, the largest
	 *  power of two not above it). */
	uint32_t num;
	uint32_t flags;		  /**< VTIO_VQ_F_* (DMA_BARRIERS is added with ORDER_PLATFORM). */
	uint32_t indirect_tables; /**< See vtio_vq_config::indirect_tables. */
	uint32_t indirect_max;	  /**< See vtio_vq_config::indirect_max. */
	uint32_t indirect_threshold; /**< See vtio_vq_config::indirect_threshold. */
	/** DMA device: ring memory comes from vtio_dma_alloc() on it and
	 *  buffers are mapped through it. NULL: the ring is @ref ring. */
	struct vtio_dma_dev *dma;
	/** Caller ring memory when @ref dma is NULL: a block of at least
	 *  vtio_transport_vq_ring_size() bytes, 16-byte aligned, whose device
	 *  address is its CPU address. */
	void *ring;
	size_t ring_size; /**< Size of @ref ring. */
	/** Queue state buffer (vtio_vq_state_size() bytes for the layout and
	 *  size the negotiation implies), 16-byte aligned. */
	void *state;
	size_t state_size; /**< Size of @ref state. */
};

/** Alignment of the device area inside rings set up by vtio_transport_vq_setup(). */
#define VTIO_TRANSPORT_RING_ALIGN 64u

/**
 * Bytes of ring memory vtio_transport_vq_setup() needs for a queue.
 * @param layout  ring layout.
 * @param num     queue size.
 * @return the size, 0 for invalid parameters.
 */
size_t vtio_transport_vq_ring_size(enum vtio_layout layout, uint32_t num);

/**
 * Layout the negotiated features select (packed when RING_PACKED was negotiated).
 * @param t  transport.
 * @return the layout.
 */
VTIO_INLINE enum vtio_layout vtio_transport_layout(const struct vtio_transport *t)
{
	return vtio_transport_has(t, VTIO_F_RING_PACKED) ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
}

/**
 * Create a driver queue for the negotiated features and attach it: picks
 * the size, allocates the ring (DMA or caller memory), initialises the
 * queue with the negotiated features and vtio_transport_vq_notify_cb() as
 * notify callback, then vtio_transport_queue_attach().
 *
 * @param t    transport (after vtio_transport_negotiate()).
 * @param c    queue configuration.
 * @param out  receives the queue.
 * @return 0; VTIO_EPERM (wrong phase); VTIO_ENODEV (no such queue);
 *         VTIO_ERANGE (size above the maximum); VTIO_EINVAL (bad size,
 *         ring or state too small); a DMA allocation error; a vq init error.
 *         On error nothing stays allocated.
 * Context: driver side, serialised.
 */
int vtio_transport_vq_setup(struct vtio_transport *t, const struct vtio_transport_vq_config *c,
			    struct vtio_vq **out);

/**
 * Free the ring of a queue created by vtio_transport_vq_setup() with a DMA
 * device (nothing to do for caller memory). The queue must be idle: the
 * device reset or the queue reset, buffers detached.
 * @param vq   the queue.
 * @param dma  the DMA device it was created with, or NULL.
 * @return 0 or the DMA free error.
 * Context: driver side.
 */
int vtio_transport_vq_release(struct vtio_vq *vq, struct vtio_dma_dev *dma);

/**
 * Finish initialisation: set DRIVER_OK (INIT-DRV-1 last step). After this
 * the driver may notify and the device may use the queues.
 * @param t  transport.
 * @return 0, or VTIO_EPERM when FEATURES_OK is not set.
 * Context: driver side, serialised.
 */
int vtio_transport_driver_ok(struct vtio_transport *t);

/**
 * Reset one queue (VIRTIO_F_RING_RESET): the device stops using it and
 * forgets its state. Afterwards take back its buffers with
 * vtio_vq_detach_unused(), vtio_vq_reset() it and re-enable it with
 * vtio_transport_queue_attach() (RESET-DRV-3..6).
 * @param t      transport.
 * @param index  queue index.
 * @return 0; VTIO_ENOTSUP (RING_RESET not negotiated: RESET-DRV-6);
 *         VTIO_EPERM (DRIVER_OK not set); the transport's error.
 * Context: driver side, serialised with the queue's users.
 */
int vtio_transport_queue_reset(struct vtio_transport *t, uint16_t index);

/**
 * Send an available-buffer notification, refusing it before DRIVER_OK
 * (NOTIF-DRV-1) or after FAILED / a reset.
 * @param t     transport.
 * @param data  queue index or notification-data word.
 * @return 0; VTIO_EPERM (DRIVER_OK not set); the transport's error.
 * Context: driver side, from the queue's user.
 */
VTIO_INLINE int vtio_transport_notify(struct vtio_transport *t, uint32_t data)
{
	if (VTIO_UNLIKELY((t->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) !=
			  VTIO_STATUS_DRIVER_OK))
		return VTIO_EPERM;
	return t->fn.notify(t, data);
}

/**
 * A vtio_notify_fn for driver queues: @p ctx is the struct vtio_transport.
 * @param ctx   the transport.
 * @param data  queue index or notification-data word.
 * @return as vtio_transport_notify().
 */
int vtio_transport_vq_notify_cb(void *ctx, uint32_t data);

/**
 * Read device-specific config bytes (raw, one transport access sequence).
 * @param t    transport.
 * @param off  byte offset in the config space.
 * @param dst  destination.
 * @param len  bytes.
 * @return 0, VTIO_ERANGE (outside the config space), or the transport's error.
 * Context: driver side.
 */
VTIO_INLINE int vtio_transport_config_read(struct vtio_transport *t, uint32_t off, void *dst,
					   size_t len)
{
	return t->fn.config_read(t, off, dst, len);
}

/**
 * Read config bytes consistently: retry while the generation changes
 * across the read (INIT-DRV-9).
 * @param t    transport.
 * @param off  byte offset.
 * @param dst  destination.
 * @param len  bytes.
 * @return 0; VTIO_EAGAIN after VTIO_TRANSPORT_CONFIG_RETRIES changes; a read error.
 * Context: driver side.
 */
int vtio_transport_config_read_stable(struct vtio_transport *t, uint32_t off, void *dst,
				      size_t len);

/**
 * Write device-specific config bytes. Refused during feature negotiation
 * (DRIVER set, FEATURES_OK not yet: INIT-DRV-2).
 * @param t    transport.
 * @param off  byte offset.
 * @param src  source.
 * @param len  bytes.
 * @return 0, VTIO_EPERM, VTIO_ERANGE or the transport's error.
 * Context: driver side, serialised.
 */
int vtio_transport_config_write(struct vtio_transport *t, uint32_t off, const void *src,
				size_t len);

/**
 * Config generation counter.
 * @param t  transport.
 * @return the current generation.
 */
VTIO_INLINE uint32_t vtio_transport_config_generation(struct vtio_transport *t)
{
	return t->fn.config_generation(t);
}

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_H */
