/**
 * @file dev.h
 * @brief The device core: the device-side mirror of the driver's
 *        initialisation sequence, written once for every device-role
 *        transport.
 *
 * A struct vtio_dev holds everything the virtio spec says a device keeps
 * about its driver: the device status, the offered and negotiated features,
 * the device-specific configuration space and its generation counter, the
 * queue registers of every queue, and (from DRIVER_OK on) one struct
 * vtio_devq per enabled queue, built in caller storage over a memory view.
 *
 * Three parties use it:
 *
 * - The **device type** (a block device, an rpmsg endpoint, a test model)
 *   creates it with vtio_dev_init(), gives it its hooks (struct vtio_dev_ops:
 *   accept or refuse features, a queue went live or stopped, a kick, a
 *   reset, a config write) and uses the device-side calls
 *   (vtio_dev_devq(), vtio_dev_config_changed(), vtio_dev_needs_reset(), ...).
 * - A **device-role transport** (loopback, the virtio-mmio register model,
 *   shared memory, message queue, vhost-user) binds itself with
 *   vtio_dev_bind() (how used-buffer and configuration-change notifications
 *   reach the driver) and turns its registers or messages into the
 *   wire-side calls (vtio_dev_set_status(), vtio_dev_get_features(),
 *   vtio_dev_queue_set(), vtio_dev_notify(), ...). It keeps no status or
 *   feature rule of its own: the rules live here.
 * - The **driver** is on the far side of the transport and is not trusted:
 *   every wire-side call validates its arguments against the phase the
 *   device is in, and nothing a driver does makes the core crash or hand
 *   the device a queue before DRIVER_OK.
 *
 * Rules enforced (CHECKLIST IDs):
 *
 * - Status starts at 0 (INIT-DEV-1). Writing 0 resets the device
 *   (RESET-DEV-1): every queue stops (the device type hears
 *   vtio_dev_ops::queue_state(NULL) for each live one, then
 *   vtio_dev_ops::reset), every queue register returns to its initial
 *   value, the negotiated and driver feature words are cleared, and the
 *   configuration generation is *not* reset (it only ever moves forward, so
 *   a driver never sees an old generation again: INIT-DEV-5).
 * - The driver may only add status bits (INIT-DRV-6). A non-zero write that
 *   would clear a bit the device holds is a protocol violation: it is
 *   refused as a whole (no bit of it is taken), counted in
 *   vtio_dev_stats::protocol_errors, and the device sets
 *   DEVICE_NEEDS_RESET (INIT-DEV-3: the driver and device no longer agree
 *   on the state, and only a reset brings them back together). Queues
 *   that are live stay live: a violation never takes DRIVER_OK away from
 *   a running device type behind its back. DEVICE_NEEDS_RESET in a driver
 *   write is ignored (it belongs to the device; drivers write back what
 *   they read), and so are the bits this core does not implement
 *   (SUSPEND, 0x20).
 * - FEATURES_OK needs DRIVER already set (or set in the same write), the
 *   driver's feature words to be a subset of the offer that contains
 *   VERSION_1 (this core has no legacy interface: FEAT-DEV-5 lets a device
 *   refuse to work without it), and vtio_dev_ops::features_ok to accept.
 *   Otherwise FEATURES_OK is refused: it does not read back (FEAT-DEV-2),
 *   the other bits of the write are kept.
 * - Driver feature words are written only while DRIVER is set and
 *   FEATURES_OK is not; other writes change nothing and are counted
 *   (FEAT-DEV-8). The offer is fixed before a transport is bound, so no
 *   driver can see it change (vtio_dev_set_offer()).
 * - DRIVER_OK without FEATURES_OK is a protocol violation: the bit is
 *   recorded (the driver reads back what it wrote) but no queue goes live,
 *   and DEVICE_NEEDS_RESET is set with a configuration-change notification
 *   (NOTIF-DEV-2).
 * - FAILED stops every queue; nothing goes live again before a reset.
 * - Queue registers (vtio_dev_queue_set(), vtio_dev_queue_enable()) are
 *   writable only with FEATURES_OK set, FAILED not set, and DRIVER_OK not
 *   yet set (INIT-DRV-12), or, after DRIVER_OK, for a queue reset with
 *   vtio_dev_queue_reset() and not yet re-enabled (RESET-DEV-5). An
 *   enabled queue's registers are read-only until it is reset.
 * - No queue is touched before DRIVER_OK (NOTIF-DEV-1, INIT-DEV-2, seed
 *   001): the struct vtio_devq is created at DRIVER_OK (or when a reset
 *   queue is re-enabled after it), kicks before that are dropped and
 *   counted, and used-buffer notifications of a queue that is not live are
 *   dropped and counted (RESET-DEV-2, RESET-DEV-3).
 * - A queue reset (VIRTIO_F_RING_RESET) stops the queue and returns its
 *   registers and ring state to the defaults (RESET-DEV-4); it completes
 *   before the call returns (MMIO-DEV-9: QueueReset reads 0 at once).
 * - DEVICE_NEEDS_RESET, once set, stays until reset; with DRIVER_OK set
 *   it raises a configuration-change notification (NOTIF-DEV-2,
 *   INIT-DEV-3). A device queue the driver broke (vtio_devq_is_broken())
 *   sets it: checked after every kick the device type handled, and on
 *   request with vtio_dev_check_queue().
 * - Config space reads are allowed in every phase (INIT-DEV-4), writes
 *   except during feature negotiation (INIT-DRV-2); both bounds-checked.
 *
 * Portable core code: freestanding, no heap; every per-queue structure
 * lives in caller storage sized by vtio_dev_storage_size().
 *
 * Concurrency: wire-side calls are serialised by the transport (they come
 * from one register window, one socket, one message queue). Device-side
 * calls that change state (vtio_dev_config_changed(),
 * vtio_dev_needs_reset(), vtio_dev_set_mem()) are serialised with them by
 * the caller. A struct vtio_devq is used by the device type's queue thread
 * between the queue_state(devq) and queue_state(NULL) hooks; those hooks
 * run in the thread of the wire-side call that caused them (DRIVER_OK,
 * reset, queue reset), so the device type stops its queue user inside the
 * queue_state(NULL) hook before returning. Used-buffer notifications
 * (vtio_devq_notify() -> vtio_dev_transport_ops::vq_irq) run in the
 * device's queue thread.
 */
#ifndef VTIO_DEV_H
#define VTIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "spec.h"
#include "devq.h"
#include "mem.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_dev Device core
 * @{
 */

/** Feature words a device core carries (bits 0..63). */
#define VTIO_DEV_FEATURE_WORDS 2u

/** Vendor id reported when vtio_dev_config::vendor_id is 0 ("VTIO" is not a
 *  PCI vendor; 0x1AF4 is the virtio one, used by QEMU's mmio devices too). */
#define VTIO_DEV_DEFAULT_VENDOR_ID 0x1af4u

/**
 * The device type's hooks. Every op is optional: a NULL op gets a default
 * (accept, ignore) when vtio_dev_init() resolves the table, so the core
 * never tests for NULL. All run in the thread of the wire-side call that
 * triggers them, with @p ctx = vtio_dev_config::ctx.
 */
struct vtio_dev_ops {
	/**
	 * The driver sets FEATURES_OK with @p features (already checked to be
	 * a subset of the offer with VERSION_1). Default: accept.
	 * @return 0 to accept, non-zero to refuse (FEATURES_OK then does not
	 *         read back: FEAT-DEV-2).
	 */
	int (*features_ok)(void *ctx, uint64_t features);
	/**
	 * Queue @p index became live (@p q is its device queue, usable from
	 * now on) or stopped (@p q is NULL: device reset, queue reset, FAILED,
	 * queue disable). After a stop the old queue must not be used any
	 * more: stop its user before returning. Default: ignore.
	 */
	void (*queue_state)(void *ctx, uint16_t index, struct vtio_devq *q);
	/** The driver reset the device (status written 0), after every queue
	 *  stopped. Default: ignore. */
	void (*reset)(void *ctx);
	/**
	 * The driver wrote config bytes [@p off, @p off + @p len) (already
	 * copied into the config space). Default: accept.
	 * @return 0 or an error handed back to the wire-side write.
	 */
	int (*config_written)(void *ctx, uint32_t off, size_t len);
	/**
	 * Available-buffer notification for live queue @p index. @p data is
	 * the raw notification (queue index, or the notification-data word
	 * with VIRTIO_F_NOTIFICATION_DATA). Default: ignore.
	 * @return 0 or an error handed back to vtio_dev_notify().
	 */
	int (*kick)(void *ctx, uint16_t index, uint32_t data);
	/** DRIVER_OK was accepted and every enabled queue went live (their
	 *  queue_state hooks ran first). Default: ignore. */
	void (*driver_ok)(void *ctx);
};

/**
 * What a device-role transport provides to the core: how notifications
 * from the device reach the driver. Optional ops default to "nothing to
 * do" (the notification is still counted as delivered).
 */
struct vtio_dev_transport_ops {
	const char *name; /**< For diagnostics. */
	/**
	 * Transport-dependent feature bits (range 24..41) this transport can
	 * carry beyond the ring bits every transport carries (INDIRECT_DESC,
	 * EVENT_IDX, VERSION_1, ACCESS_PLATFORM, RING_PACKED, IN_ORDER,
	 * ORDER_PLATFORM, NOTIFICATION_DATA, RING_RESET): e.g. SR_IOV,
	 * NOTIF_CONFIG_DATA, ADMIN_VQ for PCI. vtio_dev_bind() refuses a
	 * device whose offer has a bit of that range in neither set (FEAT-DEV-3,
	 * FEAT-DEV-7).
	 */
	uint64_t extra_features;
	/**
	 * Used-buffer notification for queue @p index (the mmio model sets
	 * InterruptStatus bit 0 and raises its line; the loopback calls the
	 * driver's handler). Only called while the queue is live under
	 * DRIVER_OK. @return 0 or an error for vtio_devq_notify().
	 */
	int (*vq_irq)(void *ctx, uint16_t index);
	/** Configuration-change notification (config changed, or
	 *  DEVICE_NEEDS_RESET set). Only called with DRIVER_OK set. */
	void (*config_irq)(void *ctx);
};

/** Everything vtio_dev_init() needs. Copied, except what it points to. */
struct vtio_dev_config {
	uint32_t device_id; /**< Virtio device id (1 net, 2 block, 7 rpmsg, ...). */
	uint32_t vendor_id; /**< Vendor id; 0 gives VTIO_DEV_DEFAULT_VENDOR_ID. */
	/**
	 * Offered features (VTIO_FEATURE() bits). Must contain VERSION_1
	 * (FEAT-DEV-5) and none of: bit 30 (LEG-8), bits 42..49 (reserved or
	 * outside what this core supports, e.g. SUSPEND: FEAT-DEV-3). Transport-dependent
	 * bits are checked at vtio_dev_bind().
	 */
	uint64_t features;
	uint16_t num_queues; /**< Number of queues (>= 1). */
	/** Largest size of every queue (1..32768); a split queue may use any
	 *  power of two not above it. Also sizes the storage. */
	uint32_t queue_max;
	/** Optional per-queue maxima: NULL, or @ref num_queues entries, each
	 *  1..@ref queue_max (copied). */
	const uint32_t *queue_max_per;
	/**
	 * Device view of driver memory (rings and buffers), or NULL when it is
	 * only known later (vhost-user, shared memory: see vtio_dev_set_mem()
	 * and vtio_dev_queue_set_mem()). Must outlive every queue built on it.
	 */
	const struct vtio_mem *mem;
	/** Device-specific config space (the device owns and updates it; may
	 *  be NULL with @ref config_len 0). */
	void *config;
	uint32_t config_len;		/**< Bytes of @ref config. */
	const struct vtio_dev_ops *ops; /**< Device type hooks (NULL: all defaults). */
	void *ctx;			/**< First argument of the hooks. */
	uint32_t devq_flags;		/**< VTIO_DEVQ_F_* for the device queues (DMA_BARRIERS
					   is added when ORDER_PLATFORM is negotiated). */
	uint32_t max_indirect; /**< vtio_devq_config::max_indirect for the device queues. */
};

/** Counters of a device core. */
struct vtio_dev_stats {
	uint64_t kicks;		/**< Notifications delivered to the device type. */
	uint64_t kicks_dropped; /**< Notifications dropped: no DRIVER_OK, FAILED, queue not live. */
	uint64_t kicks_invalid; /**< Notifications naming a queue that does not exist. */
	uint64_t irqs;		/**< Used-buffer notifications passed to the transport. */
	uint64_t irqs_dropped;	/**< Used-buffer notifications dropped (queue not live). */
	uint64_t config_irqs;	/**< Configuration-change notifications raised. */
	uint64_t resets;	/**< Device resets (status written 0). */
	uint64_t queue_resets;	/**< Queue resets. */
	uint64_t features_refused; /**< FEATURES_OK refused. */
	uint64_t needs_reset;	   /**< Times DEVICE_NEEDS_RESET was set (0 -> 1). */
	/** Driver accesses refused for the phase or as a violation: status
	 *  writes that clear bits, feature writes out of the window, queue
	 *  register writes out of phase, config writes during negotiation,
	 *  queues that failed to go live. */
	uint64_t protocol_errors;
};

/** Per-queue state (private; lives in the caller's storage). */
struct vtio_dev_queue;

/**
 * A device core. Allocate it anywhere; all fields are private (use the
 * functions).
 */
struct vtio_dev {
	struct vtio_dev_ops ops;	  /**< Resolved device hooks. */
	void *ctx;			  /**< Their context. */
	struct vtio_dev_transport_ops tr; /**< Resolved transport hooks. */
	void *tr_ctx;			  /**< Their context. */
	bool bound;			  /**< A transport is bound. */
	const struct vtio_mem *mem;	  /**< Device-wide memory view (may be NULL). */
	unsigned char *config;		  /**< Config space. */
	uint32_t config_len;		  /**< Its size. */
	uint32_t generation;		  /**< Config generation. */
	uint32_t device_id;		  /**< Device id. */
	uint32_t vendor_id;		  /**< Vendor id. */
	uint64_t offered;		  /**< Offered features. */
	uint64_t driver_features;	  /**< Feature words as the driver wrote them. */
	uint64_t features;		  /**< Accepted at FEATURES_OK (0 before). */
	uint32_t queue_max;		  /**< Largest queue size (storage). */
	uint32_t devq_flags;		  /**< Device queue flags. */
	uint32_t max_indirect;		  /**< Device queue indirect policy. */
	size_t devq_stride;		  /**< Device queue state bytes per queue. */
	struct vtio_dev_queue *queues;	  /**< Per-queue state (in storage). */
	uint16_t num_queues;		  /**< Number of queues. */
	uint8_t status;			  /**< Device status. */
	struct vtio_dev_stats stats;	  /**< Counters. */
};

/* ---- Setup ------------------------------------------------------------------------------ */

/**
 * Bytes of storage a device core with @p num_queues queues of at most
 * @p queue_max entries needs (per-queue state and device queue state for
 * either layout).
 * @param num_queues  number of queues.
 * @param queue_max   largest queue size.
 * @return the size, or 0 for invalid parameters (0 queues, size 0 or above
 *         32768).
 * Context: any; pure.
 */
size_t vtio_dev_storage_size(uint16_t num_queues, uint32_t queue_max);

/**
 * Set up a device core: status 0 (INIT-DEV-1), nothing negotiated, no
 * transport bound (notifications are dropped until vtio_dev_bind()).
 * @param dev           device core object.
 * @param storage       vtio_dev_storage_size() bytes, 16-byte aligned.
 * @param storage_size  size of @p storage.
 * @param cfg           configuration (copied, except what it points to).
 * @return 0, or VTIO_EINVAL (NULL arguments, storage too small or
 *         misaligned, config buffer NULL with a length, bad queue maxima,
 *         VERSION_1 not offered (FEAT-DEV-5), bit 30 or a bit of 42..49
 *         offered (FEAT-DEV-3)).
 * Context: device side, setup.
 */
int vtio_dev_init(struct vtio_dev *dev, void *storage, size_t storage_size,
		  const struct vtio_dev_config *cfg);

/**
 * Replace the offered features before a transport is bound (a mediator
 * that learns what the far side offers only after init: seed 001). The
 * same checks as vtio_dev_init() apply.
 * @param dev       device core.
 * @param features  new offer.
 * @return 0; VTIO_EBUSY (a transport is bound: a driver may have read the
 *         offer); VTIO_EINVAL (an offer vtio_dev_init() would refuse).
 * Context: device side, setup.
 */
int vtio_dev_set_offer(struct vtio_dev *dev, uint64_t features);

/**
 * Bind the transport that carries this device to a driver. From now on the
 * offer is fixed and notifications go to @p ops.
 * @param dev  device core.
 * @param ops  transport hooks, normally `static const`; kept by reference.
 * @param ctx  first argument of the hooks.
 * @return 0; VTIO_EBUSY (already bound); VTIO_EINVAL (NULL @p ops, or the
 *         offer has a transport-dependent bit the transport cannot carry:
 *         FEAT-DEV-3, FEAT-DEV-7).
 * Context: setup, before the driver can reach the device.
 */
int vtio_dev_bind(struct vtio_dev *dev, const struct vtio_dev_transport_ops *ops, void *ctx);

/**
 * Set the device-wide memory view used by queues that go live from now on
 * (queues with their own view from vtio_dev_queue_set_mem() keep it; live
 * queues keep the view they were built with). NULL clears it: a queue with
 * no view at DRIVER_OK cannot go live and the device sets
 * DEVICE_NEEDS_RESET.
 * @param dev  device core.
 * @param mem  view, or NULL; must outlive every queue built on it.
 * Context: device side, serialised with the wire-side calls.
 */
void vtio_dev_set_mem(struct vtio_dev *dev, const struct vtio_mem *mem);

/**
 * Give queue @p index its own memory view (overrides the device-wide one;
 * NULL goes back to it).
 * @param dev    device core.
 * @param index  queue index.
 * @param mem    view or NULL.
 * @return 0; VTIO_ENODEV (no such queue); VTIO_EBUSY (the queue is live).
 * Context: device side, serialised with the wire-side calls.
 */
int vtio_dev_queue_set_mem(struct vtio_dev *dev, uint16_t index, const struct vtio_mem *mem);

/* ---- Wire side: what a transport turns its registers / messages into --------------------- */

/**
 * Device status as the driver reads it.
 * @param dev  device core.
 * @return the status byte.
 * Context: wire side (also fine from the device side).
 */
VTIO_INLINE uint8_t vtio_dev_get_status(const struct vtio_dev *dev)
{
	return dev->status;
}

/**
 * The driver writes the device status. 0 resets the device; any other value
 * is checked against the rules in the file comment (bits only added,
 * FEATURES_OK checked, DRIVER_OK builds the queues, FAILED stops them). A
 * refused or partly refused write is not an error the driver is told
 * about: it sees the result by reading the status back, as on hardware.
 * @param dev     device core.
 * @param status  the value written.
 * Context: wire side, serialised.
 */
void vtio_dev_set_status(struct vtio_dev *dev, uint8_t status);

/**
 * Device (offered) feature word @p word (bits 32*word .. 32*word+31).
 * @param dev   device core.
 * @param word  word index.
 * @return the word; 0 beyond VTIO_DEV_FEATURE_WORDS (MMIO-DEV-10).
 * Context: wire side, any phase.
 */
uint32_t vtio_dev_get_features(const struct vtio_dev *dev, uint32_t word);

/**
 * The driver writes its (accepted) feature word @p word. Taken only while
 * DRIVER is set and FEATURES_OK is not (FEAT-DEV-8); otherwise, and for a
 * non-zero value beyond VTIO_DEV_FEATURE_WORDS, nothing changes and
 * vtio_dev_stats::protocol_errors counts it.
 * @param dev    device core.
 * @param word   word index.
 * @param value  the bits.
 * @return 0, or VTIO_EPERM when the write was not taken (a transport with
 *         no way to report it ignores the value).
 * Context: wire side, serialised.
 */
int vtio_dev_set_driver_features(struct vtio_dev *dev, uint32_t word, uint32_t value);

/**
 * Driver feature word @p word as the driver wrote it (PCI's
 * `driver_feature` reads it back).
 * @param dev   device core.
 * @param word  word index.
 * @return the word, 0 beyond VTIO_DEV_FEATURE_WORDS.
 * Context: wire side.
 */
uint32_t vtio_dev_get_driver_features(const struct vtio_dev *dev, uint32_t word);

/**
 * The driver reads config bytes (any phase: INIT-DEV-4).
 * @param dev  device core.
 * @param off  byte offset in the config space.
 * @param dst  destination.
 * @param len  bytes.
 * @return 0, or VTIO_ERANGE when [@p off, @p off + @p len) is not inside
 *         the config space (nothing copied).
 * Context: wire side.
 */
int vtio_dev_config_read(const struct vtio_dev *dev, uint32_t off, void *dst, size_t len);

/**
 * The driver writes config bytes: copied into the config space, then
 * vtio_dev_ops::config_written.
 * @param dev  device core.
 * @param off  byte offset.
 * @param src  source.
 * @param len  bytes.
 * @return 0; VTIO_ERANGE (outside the config space, nothing copied);
 *         VTIO_EPERM (during feature negotiation: DRIVER set, FEATURES_OK
 *         not yet (INIT-DRV-2), or after FAILED; nothing copied, counted);
 *         the config_written hook's error.
 * Context: wire side, serialised.
 */
int vtio_dev_config_write(struct vtio_dev *dev, uint32_t off, const void *src, size_t len);

/**
 * Configuration generation (MMIO ConfigGeneration, PCI config_generation).
 * Monotonic over the life of the object, resets included.
 * @param dev  device core.
 * @return the generation.
 * Context: wire side.
 */
VTIO_INLINE uint32_t vtio_dev_config_generation(const struct vtio_dev *dev)
{
	return dev->generation;
}

/**
 * Largest size of queue @p index.
 * @param dev    device core.
 * @param index  queue index.
 * @return the maximum; 0 when the queue does not exist (MMIO-DEV-10).
 * Context: wire side, any phase.
 */
uint32_t vtio_dev_queue_max(const struct vtio_dev *dev, uint16_t index);

/**
 * The driver writes size and area addresses of queue @p index. A register
 * model that receives the fields one by one (QueueNum, QueueDescLow, ...)
 * keeps them in its own shadow and calls this once, when the driver
 * enables the queue, followed by vtio_dev_queue_enable(); or it reads the
 * current values with vtio_dev_queue_get(), changes one field and writes
 * them back (the size is then checked on every write).
 * @param dev    device core.
 * @param index  queue index.
 * @param q      the registers.
 * @return 0; VTIO_ENODEV (no such queue); VTIO_EPERM (wrong phase: before
 *         FEATURES_OK, after FAILED, after DRIVER_OK unless the queue was
 *         reset and not re-enabled; counted); VTIO_EBUSY (queue enabled);
 *         VTIO_ERANGE (size 0 or above the queue's maximum); VTIO_EINVAL
 *         (split layout and size not a power of two).
 * Context: wire side, serialised.
 */
int vtio_dev_queue_set(struct vtio_dev *dev, uint16_t index, const struct vtio_transport_queue *q);

/**
 * Read back the registers of queue @p index (all 0 after a reset).
 * @param dev    device core.
 * @param index  queue index.
 * @param out    receives them.
 * @return 0 or VTIO_ENODEV.
 * Context: wire side.
 */
int vtio_dev_queue_get(const struct vtio_dev *dev, uint16_t index,
		       struct vtio_transport_queue *out);

/**
 * The driver enables queue @p index (MMIO QueueReady = 1, PCI
 * queue_enable = 1). Before DRIVER_OK the queue goes live at DRIVER_OK;
 * re-enabled after a queue reset under DRIVER_OK it goes live at once
 * (RESET-DEV-5). A queue whose ring the core cannot use (bad alignment,
 * outside the memory view, no view) does not go live: the device sets
 * DEVICE_NEEDS_RESET (the enable itself is accepted).
 * @param dev    device core.
 * @param index  queue index.
 * @return 0; VTIO_ENODEV; VTIO_EPERM (wrong phase, as for
 *         vtio_dev_queue_set()); VTIO_EBUSY (already enabled); VTIO_EINVAL
 *         (no size written).
 * Context: wire side, serialised.
 */
int vtio_dev_queue_enable(struct vtio_dev *dev, uint16_t index);

/**
 * The driver disables queue @p index (MMIO QueueReady = 0): the queue
 * stops if it was live, its registers are kept. Re-enabling it under
 * DRIVER_OK needs a queue reset first (its ring state is gone).
 * @param dev    device core.
 * @param index  queue index.
 * @return 0 or VTIO_ENODEV.
 * Context: wire side, serialised.
 */
int vtio_dev_queue_disable(struct vtio_dev *dev, uint16_t index);

/**
 * Whether queue @p index is enabled (MMIO QueueReady, PCI queue_enable
 * read back; 0 after a device or queue reset: MMIO-DEV-4).
 * @param dev    device core.
 * @param index  queue index.
 * @return true when enabled (false for a queue that does not exist).
 * Context: wire side.
 */
bool vtio_dev_queue_ready(const struct vtio_dev *dev, uint16_t index);

/**
 * The driver resets queue @p index (VIRTIO_F_RING_RESET, MMIO QueueReset,
 * PCI queue_reset): the queue stops (RESET-DEV-3), its registers and ring
 * state return to the defaults (RESET-DEV-4), and it may be configured and
 * re-enabled, also under DRIVER_OK. Complete on return (MMIO-DEV-9).
 * @param dev    device core.
 * @param index  queue index.
 * @return 0; VTIO_ENOTSUP (RING_RESET not negotiated); VTIO_ENODEV.
 * Context: wire side, serialised.
 */
int vtio_dev_queue_reset(struct vtio_dev *dev, uint16_t index);

/**
 * Available-buffer notification from the driver. @p data is the queue
 * index, or with VIRTIO_F_NOTIFICATION_DATA the notification-data word
 * whose low 16 bits are the queue index (vtio_notify_data layout). Delivered
 * to vtio_dev_ops::kick only while DRIVER_OK is set, FAILED is not and the
 * queue is live; otherwise dropped and counted (NOTIF-DEV-1). After the
 * hook, a queue the driver broke sets DEVICE_NEEDS_RESET.
 * @param dev   device core.
 * @param data  the notification.
 * @return 0 (also when dropped); VTIO_EINVAL (no such queue; counted in
 *         vtio_dev_stats::kicks_invalid); the kick hook's error.
 * Context: wire side (any thread the transport receives kicks in; the
 *          queue must not be reset or the device reset concurrently).
 */
int vtio_dev_notify(struct vtio_dev *dev, uint32_t data);

/* ---- Device side ---------------------------------------------------------------------- */

/**
 * Device queue of queue @p index while it is live (DRIVER_OK set, FAILED
 * not, queue enabled and built), else NULL.
 * @param dev    device core.
 * @param index  queue index.
 * @return the device queue or NULL.
 * Context: device side.
 */
struct vtio_devq *vtio_dev_devq(const struct vtio_dev *dev, uint16_t index);

/**
 * Whether queue @p index is live (same as vtio_dev_devq() != NULL).
 * @param dev    device core.
 * @param index  queue index.
 * @return true when live.
 */
VTIO_INLINE bool vtio_dev_queue_live(const struct vtio_dev *dev, uint16_t index)
{
	return vtio_dev_devq(dev, index) != NULL;
}

/**
 * Features accepted at FEATURES_OK (0 before, and after a reset).
 * @param dev  device core.
 * @return the feature bits.
 */
VTIO_INLINE uint64_t vtio_dev_features(const struct vtio_dev *dev)
{
	return dev->features;
}

/**
 * True when feature bit @p bit was negotiated.
 * @param dev  device core.
 * @param bit  VTIO_F_* bit number.
 * @return whether it is set in vtio_dev_features().
 */
VTIO_INLINE bool vtio_dev_has(const struct vtio_dev *dev, unsigned bit)
{
	return (dev->features & VTIO_FEATURE(bit)) != 0;
}

/**
 * Offered features.
 * @param dev  device core.
 * @return the offer.
 */
VTIO_INLINE uint64_t vtio_dev_offered(const struct vtio_dev *dev)
{
	return dev->offered;
}

/**
 * Device status (same as vtio_dev_get_status(), named for the device side).
 * @param dev  device core.
 * @return the status byte.
 */
VTIO_INLINE uint8_t vtio_dev_status(const struct vtio_dev *dev)
{
	return dev->status;
}

/**
 * Virtio device id.
 * @param dev  device core.
 * @return the id from vtio_dev_config::device_id.
 */
VTIO_INLINE uint32_t vtio_dev_device_id(const struct vtio_dev *dev)
{
	return dev->device_id;
}

/**
 * Vendor id.
 * @param dev  device core.
 * @return the id (VTIO_DEV_DEFAULT_VENDOR_ID when configured 0).
 */
VTIO_INLINE uint32_t vtio_dev_vendor_id(const struct vtio_dev *dev)
{
	return dev->vendor_id;
}

/**
 * Number of queues.
 * @param dev  device core.
 * @return vtio_dev_config::num_queues.
 */
VTIO_INLINE uint16_t vtio_dev_num_queues(const struct vtio_dev *dev)
{
	return dev->num_queues;
}

/**
 * Config space length.
 * @param dev  device core.
 * @return vtio_dev_config::config_len.
 */
VTIO_INLINE uint32_t vtio_dev_config_len(const struct vtio_dev *dev)
{
	return dev->config_len;
}

/**
 * The device changed its config space (it writes its own buffer directly):
 * bumps the generation (INIT-DEV-5) and, with DRIVER_OK set and FAILED not,
 * raises a configuration-change notification.
 * @param dev  device core.
 * Context: device side, serialised with the wire-side calls.
 */
void vtio_dev_config_changed(struct vtio_dev *dev);

/**
 * Copy @p len bytes into the config space at @p off, then
 * vtio_dev_config_changed().
 * @param dev  device core.
 * @param off  byte offset.
 * @param src  source.
 * @param len  bytes.
 * @return 0 or VTIO_ERANGE (outside the config space, nothing changed).
 * Context: device side, serialised with the wire-side calls.
 */
int vtio_dev_config_set(struct vtio_dev *dev, uint32_t off, const void *src, size_t len);

/**
 * The device hit an error it cannot recover from: set DEVICE_NEEDS_RESET
 * and, with DRIVER_OK set, raise a configuration-change notification
 * (NOTIF-DEV-2, INIT-DEV-3). Idempotent: the notification is raised when
 * the bit goes from 0 to 1. Queues stay live (the driver resets).
 * @param dev  device core.
 * Context: device side, serialised with the wire-side calls.
 */
void vtio_dev_needs_reset(struct vtio_dev *dev);

/**
 * Report a broken queue the easy way: if queue @p index is live and its
 * device queue is broken (the driver violated the ring protocol), set
 * DEVICE_NEEDS_RESET. Call it after a pop or push returned an error;
 * vtio_dev_notify() does it after every kick.
 * @param dev    device core.
 * @param index  queue index.
 * @return true when the queue is broken (DEVICE_NEEDS_RESET is set).
 * Context: device side, serialised with the wire-side calls.
 */
bool vtio_dev_check_queue(struct vtio_dev *dev, uint16_t index);

/**
 * Read the counters.
 * @param dev  device core.
 * @param out  receives a copy.
 */
void vtio_dev_get_stats(const struct vtio_dev *dev, struct vtio_dev_stats *out);

/* ---- Feature mediation (seed 001) -------------------------------------------------------- */

/** vtio_dev_mediation::flags: the mediator hands the ring itself through
 *  (the far party reads or writes the same ring memory, vDPA / EPF style)
 *  instead of terminating it and copying into a second ring. */
#define VTIO_DEV_MEDIATE_RING_THROUGH 0x1u

/** "Anything": vtio_dev_mediation::peer when computing an offer. */
#define VTIO_DEV_MEDIATE_ANY (~(uint64_t)0)

/**
 * Inputs of vtio_dev_mediate_features(). A mediator sits between two
 * parties and runs one link to each (seed 001: an EPF/NTB "vhost" device
 * facing a remote driver and a virtio driver facing a local device, or the
 * reverse). The helper computes the feature set for ONE link, L, given
 * what is already known of the other link (the far side).
 *
 * Typical use, mediator built as "device towards the remote driver, driver
 * towards the local device":
 * 1. The local device offered F. Offer on the remote link:
 *    `far = F, peer = VTIO_DEV_MEDIATE_ANY` -> vtio_dev_set_offer().
 * 2. The remote driver accepted Z (vtio_dev_ops::features_ok). Accept on
 *    the local link: `far = Z, peer = F` -> what the mediator's driver
 *    side writes (and Z is a subset of what it would accept, so the
 *    features_ok hook can check that the result keeps every type bit of Z).
 */
struct vtio_dev_mediation {
	/** Features of the far link: the far device's offer, or what the far
	 *  driver accepted. */
	uint64_t far;
	/** What the party on link L offers (when computing what to accept
	 *  from it), or VTIO_DEV_MEDIATE_ANY (when computing an offer). */
	uint64_t peer;
	/** Device-type bits (0..23, 50..63) the mediator understands and can
	 *  forward; others are never passed on. */
	uint64_t type_mask;
	/** Ring and transport bits (24..49) the mediator's own code implements
	 *  on link L: its ring capabilities, ACCESS_PLATFORM / ORDER_PLATFORM
	 *  when link L's memory access needs them, and transport-dependent
	 *  bits of link L's transport (e.g. NOTIF_CONFIG_DATA on PCI). */
	uint64_t link;
	unsigned flags; /**< VTIO_DEV_MEDIATE_*. */
};

/**
 * Feature mediation: the set for link L from what the far link has and
 * what the mediator implements. Per class:
 *
 * - Device-type bits (outside 24..49): intersected,
 *   `far & peer & type_mask`: a request is forwarded, so both parties must
 *   support a feature for the mediator to offer or accept it.
 * - VERSION_1: required on both links (`far` and `peer` must have it and
 *   the result always has it): this library has no legacy rings, and a
 *   mediator cannot translate legacy framing.
 * - Ring capabilities (VTIO_FEATURES_RING_CAPS: INDIRECT_DESC, EVENT_IDX,
 *   RING_PACKED, IN_ORDER, NOTIFICATION_DATA, RING_RESET): a property of
 *   one ring. Terminated rings (default): decided by the mediator,
 *   `link & peer`, whatever the far side does (each link has its own
 *   ring). With VTIO_DEV_MEDIATE_RING_THROUGH the same ring is seen by
 *   both parties, so `far & peer & link`: never RING_PACKED (or
 *   EVENT_IDX, IN_ORDER, ...) unless both ends do it.
 * - Platform bits (VTIO_FEATURES_PLATFORM: ACCESS_PLATFORM,
 *   ORDER_PLATFORM): a device requirement. Terminated: `link & peer` (the
 *   mediator's own memory access on link L). Ring through: `(far | link) &
 *   peer`: when the far device needs translated addresses or hardware
 *   barriers, the near driver must know.
 * - Other bits of 24..49 (SR_IOV, NOTIF_CONFIG_DATA, ADMIN_VQ, the legacy
 *   NOTIFY_ON_EMPTY / ANY_LAYOUT, bit 30, reserved bits): never passed
 *   through; `link & peer` minus bit 30 and the bits the device core
 *   cannot offer (42..49), so the result is always a valid offer for
 *   vtio_dev_set_offer() when @ref vtio_dev_mediation::link is.
 *
 * @param m    inputs.
 * @param out  receives the set.
 * @return 0; VTIO_ENOTSUP when VERSION_1 is missing from @ref
 *         vtio_dev_mediation::far or @ref vtio_dev_mediation::peer (@p out
 *         is set to 0); VTIO_EINVAL for NULL arguments.
 * Context: any; pure. Built with the device role (VTIO_CONFIG_DEVICE), like
 * everything in this header.
 */
int vtio_dev_mediate_features(const struct vtio_dev_mediation *m, uint64_t *out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_DEV_H */
