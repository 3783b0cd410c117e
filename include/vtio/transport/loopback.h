/**
 * @file loopback.h
 * @brief Loopback transport: a driver side and a device side in one
 *        process, for tests, the demo and the benchmarks.
 *
 * The driver sees an ordinary struct vtio_transport (vtio_loopback_transport())
 * and runs the usual initialisation sequence over it. The device side is a
 * device core (struct vtio_dev, include/vtio/dev.h) inside the loopback: the
 * loopback is only the wire between them. Each driver-side transport op
 * becomes the matching vtio_dev wire-side call (status, feature words,
 * config space, queue registers, notifications), and the device core's
 * notifications towards the driver become vtio_transport_irq_vq() /
 * vtio_transport_irq_config(). Every status, feature and queue rule is the
 * device core's (see dev.h): e.g. a reset (status 0) stops every queue and
 * clears the negotiated state (RESET-DEV-1, RESET-DEV-2), kicks and
 * used-buffer notifications cross only while DRIVER_OK is set and the queue
 * is live (NOTIF-DRV-1, NOTIF-DEV-1), a driver write that would clear a
 * status bit is refused and sets DEVICE_NEEDS_RESET, FAILED stops every
 * queue. When DRIVER_OK is set (or a queue is re-enabled after a
 * RING_RESET) the device core creates a struct vtio_devq over the memory
 * view for every enabled queue, in caller-provided storage.
 *
 * Portable core code: no heap, no libc. Delivery is synchronous: a kick runs
 * the device's kick op in the driver's thread, a device notification runs
 * the driver's handler in the device's thread. A device reset must not race
 * with device-side use of any queue, and a queue reset (RING_RESET) or
 * re-enable with device-side use of that queue: stop the device's user of
 * the queue first (the vtio_loopback_device_ops::queue_state hook tells it
 * when its queue stops). Other queues may keep running concurrently.
 */
#ifndef VTIO_TRANSPORT_LOOPBACK_H
#define VTIO_TRANSPORT_LOOPBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../transport.h"
#include "../devq.h"
#include "../mem.h"
#include "../dev.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_loopback Loopback transport
 * @ingroup vtio_transport
 * @{
 */

/**
 * The device model's hooks: those of vtio_dev_ops (same meaning, same
 * defaults), kept under this name for the loopback's users. Every op is
 * optional (defaults: accept, ignore).
 */
struct vtio_loopback_device_ops {
	/**
	 * Available-buffer notification for queue @p index (only while the
	 * queue is live). @p data is the raw notification (queue index or
	 * notification-data word). Runs in the driver's thread.
	 * @return 0 or an error handed back to the driver's notify call.
	 */
	int (*kick)(void *ctx, uint16_t index, uint32_t data);
	/**
	 * The driver sets FEATURES_OK with @p features (already checked to be
	 * a subset of the offer). @return 0 to accept, non-zero to refuse
	 * (FEATURES_OK then does not read back: FEAT-DEV-2).
	 */
	int (*features_ok)(void *ctx, uint64_t features);
	/**
	 * Queue @p index became live (@p q is its device queue) or stopped
	 * (@p q is NULL: reset, queue reset). After a stop the old queue must
	 * not be used any more.
	 */
	void (*queue_state)(void *ctx, uint16_t index, struct vtio_devq *q);
	/** The driver reset the device (status written 0). */
	void (*reset)(void *ctx);
	/**
	 * The driver wrote config bytes (already copied into the config
	 * space). @return 0 or an error for the driver.
	 */
	int (*config_written)(void *ctx, uint32_t off, size_t len);
};

/** Device side of the loopback. */
struct vtio_loopback_config {
	uint64_t device_features; /**< Offered features (VTIO_FEATURE() bits). */
	uint16_t num_queues;	  /**< Number of queues (>= 1). */
	/** Largest queue size of every queue (1..32768); a split queue may use
	 *  any power of two not above it. */
	uint32_t queue_max;
	/** Device view of driver memory (rings and buffers); must outlive the loopback. */
	const struct vtio_mem *mem;
	/** Device-specific config space (device owns it; may be NULL with len 0). */
	void *config;
	uint32_t config_len;			    /**< Bytes of @ref config. */
	const struct vtio_loopback_device_ops *dev; /**< Device hooks (NULL: none). */
	void *dev_ctx;				    /**< First argument of the hooks. */
	uint32_t devq_flags;			    /**< VTIO_DEVQ_F_* for the device queues. */
	uint32_t max_indirect; /**< vtio_devq_config::max_indirect for the device queues. */
};

/** Counters of a loopback. */
struct vtio_loopback_stats {
	uint64_t kicks; /**< Driver notifications delivered to the device. */
	uint64_t
	    kicks_dropped;     /**< Driver notifications dropped (no DRIVER_OK / queue not live). */
	uint64_t irqs;	       /**< Device notifications delivered to the driver. */
	uint64_t irqs_dropped; /**< Device notifications dropped. */
	uint64_t config_irqs;  /**< Configuration-change notifications delivered. */
	uint64_t resets;       /**< Device resets. */
	uint64_t queue_resets; /**< Queue resets. */
};

/**
 * A loopback transport. Allocate it anywhere; all fields are private
 * (use the functions).
 */
struct vtio_loopback {
	struct vtio_transport tr; /**< Driver-side transport (first member). */
	struct vtio_dev dev;	  /**< Device side: the device core. */
};

/**
 * Bytes of storage a loopback with @p num_queues queues of at most
 * @p queue_max entries needs (per-queue state and device queue state).
 * @param num_queues  number of queues.
 * @param queue_max   largest queue size.
 * @return the size, or 0 for invalid parameters.
 */
size_t vtio_loopback_storage_size(uint16_t num_queues, uint32_t queue_max);

/**
 * Set up a loopback: status 0, nothing negotiated.
 * @param lb            loopback object.
 * @param storage       vtio_loopback_storage_size() bytes, 16-byte aligned.
 * @param storage_size  size of @p storage.
 * @param cfg           device configuration (copied, except what it points to).
 * @return 0 or VTIO_EINVAL (bad parameters, storage too small or misaligned,
 *         no memory view, or an offer the device core refuses:
 *         VERSION_1 missing (FEAT-DEV-5), bit 30 or bits 42..49
 *         (FEAT-DEV-3), or a transport-dependent bit of 24..41 beyond the
 *         ring bits (SR_IOV, NOTIF_CONFIG_DATA, ADMIN_VQ, the legacy
 *         NOTIFY_ON_EMPTY / ANY_LAYOUT: FEAT-DEV-3, FEAT-DEV-7)).
 * Context: setup.
 */
int vtio_loopback_init(struct vtio_loopback *lb, void *storage, size_t storage_size,
		       const struct vtio_loopback_config *cfg);

/**
 * The driver-side transport of a loopback.
 * @param lb  loopback.
 * @return its transport.
 */
VTIO_INLINE struct vtio_transport *vtio_loopback_transport(struct vtio_loopback *lb)
{
	return &lb->tr;
}

/**
 * Device queue of queue @p index while it is live (DRIVER_OK set and the
 * queue enabled), else NULL.
 * @param lb     loopback.
 * @param index  queue index.
 * @return the device queue or NULL.
 * Context: device side.
 */
struct vtio_devq *vtio_loopback_devq(struct vtio_loopback *lb, uint16_t index);

/**
 * Device status as the device sees it.
 * @param lb  loopback.
 * @return the status byte.
 */
VTIO_INLINE uint8_t vtio_loopback_status(const struct vtio_loopback *lb)
{
	return vtio_dev_status(&lb->dev);
}

/**
 * Features accepted at FEATURES_OK (0 before).
 * @param lb  loopback.
 * @return the feature bits.
 */
VTIO_INLINE uint64_t vtio_loopback_features(const struct vtio_loopback *lb)
{
	return vtio_dev_features(&lb->dev);
}

/**
 * The device core of a loopback, for device code written against
 * include/vtio/dev.h (the same device type then runs over any transport).
 * @param lb  loopback.
 * @return its device core.
 */
VTIO_INLINE struct vtio_dev *vtio_loopback_dev(struct vtio_loopback *lb)
{
	return &lb->dev;
}

/**
 * Device side: the config space changed. Bumps the generation and, with
 * DRIVER_OK set, sends a configuration-change notification.
 * @param lb  loopback.
 * Context: device side.
 */
void vtio_loopback_config_changed(struct vtio_loopback *lb);

/**
 * Device side: set DEVICE_NEEDS_RESET and, with DRIVER_OK set, send a
 * configuration-change notification (NOTIF-DEV-2, INIT-DEV-3).
 * @param lb  loopback.
 */
void vtio_loopback_needs_reset(struct vtio_loopback *lb);

/**
 * Read the counters.
 * @param lb   loopback.
 * @param out  receives a copy.
 */
void vtio_loopback_get_stats(const struct vtio_loopback *lb, struct vtio_loopback_stats *out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_LOOPBACK_H */
