/**
 * @file mmio_dev.h
 * @brief virtio-mmio (version 2) device side: a register model over the
 *        device core (struct vtio_dev).
 *
 * The register model turns register accesses into calls on a struct vtio_dev
 * (dev.h): it keeps only what is the register file's own, the select
 * registers (DeviceFeaturesSel, DriverFeaturesSel, QueueSel, SHMSel), a shadow
 * of every queue's size and area registers until the driver sets QueueReady,
 * InterruptStatus and the shared memory region table. Status, feature and
 * queue rules are the core's. Any bus feeds it: a trap handler of a
 * hypervisor, a hypercall, a message (seed 002), or direct calls in a test.
 *
 * Every access gets a defined answer and never crashes the device:
 *
 * - Control registers (below 0x100) take aligned 32-bit accesses only
 *   (MMIO-DRV-2); config space (0x100 up to 0x100 + the core's config
 *   length) takes 8-, 16- and 32-bit accesses aligned to their width.
 * - A read of a write-only register, of a gap or legacy register
 *   (GuestPageSize, QueueAlign, QueuePFN: this is a version 2 device), of
 *   config bytes beyond the config space, or with a bad width, returns 0; the
 *   matching write is ignored. Each is counted (struct vtio_mmio_dev_stats)
 *   and classified by the return code, which a bus with no way to report it
 *   may ignore.
 * - Register semantics (MMIO-DEV-1..10): MagicValue 0x74726976, Version 2,
 *   DeviceFeatures the selected word (0 beyond the defined ones),
 *   QueueSizeMax 0 for a queue that does not exist, QueueReady the core's
 *   view (0 after a reset, MMIO-DEV-4), QueueReset 0 (the core completes a
 *   queue reset before the write returns: MMIO-DEV-7..9), an unknown SHMSel
 *   id reads length and base all ones, ConfigGeneration the core's counter.
 * - The shadow of a queue's registers is written to the core
 *   (vtio_dev_queue_set()) when the driver writes QueueReady = 1, then the
 *   queue is enabled (vtio_dev_queue_enable()); a refusal (bad size, wrong
 *   phase) leaves QueueReady reading 0 and is counted. Writes to the
 *   registers of an enabled queue are ignored and counted (MMIO-DRV-10).
 * - InterruptStatus bits are set by the core's notifications (used buffer:
 *   bit 0, configuration change: bit 1) and stay set until the driver
 *   acknowledges them through InterruptACK (MMIO-DEV-3); a device reset
 *   clears them (MMIO-DEV-4). The bus hears the interrupt line's level
 *   through vtio_mmio_dev_ops::irq_line.
 *
 * Portable core code: no heap, no libc; per-queue shadows in caller storage.
 * Concurrency: register accesses are serialised by the bus (as the core's
 * wire-side calls are). The core's used-buffer notifications may come from
 * the device type's queue threads concurrently: InterruptStatus is updated
 * under a VTIO_LOCK_T lock.
 */
#ifndef VTIO_TRANSPORT_MMIO_DEV_H
#define VTIO_TRANSPORT_MMIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dev.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_mmio_dev virtio-mmio register model
 * @ingroup vtio_transport
 * @{
 */

/** Hooks of the bus that carries the register model's interrupt. */
struct vtio_mmio_dev_ops {
	/**
	 * The interrupt line changed level: @p level is true when
	 * InterruptStatus went from 0 to non-zero, false when an InterruptACK
	 * or a reset cleared its last bit. Optional (NULL: the bus polls
	 * vtio_mmio_dev_irq_pending()). Runs with the model's interrupt lock
	 * held, in the thread that raised or cleared the bit: it must not call
	 * back into the register model (inject the interrupt, or record it).
	 */
	void (*irq_line)(void *ctx, bool level);
};

/** A shared memory region the device exposes (SHMSel id = its index). */
struct vtio_mmio_dev_shm {
	uint64_t base; /**< Guest-physical base address. */
	uint64_t len;  /**< Length in bytes (all ones is "no region"). */
};

/** Everything vtio_mmio_dev_init() needs. Copied, except what it points to. */
struct vtio_mmio_dev_config {
	/** Device core, initialised (vtio_dev_init()) and not yet bound: the
	 *  model binds itself to it. Must outlive the model. */
	struct vtio_dev *dev;
	const struct vtio_mmio_dev_ops *ops; /**< Bus hooks (NULL: none). */
	void *ctx;			     /**< First argument of the hooks. */
	/** Shared memory regions (NULL with @ref num_shm 0: none); kept by
	 *  reference. */
	const struct vtio_mmio_dev_shm *shm;
	uint32_t num_shm; /**< Entries of @ref shm. */
};

/** Counters of a register model. */
struct vtio_mmio_dev_stats {
	uint64_t reads;		/**< Register reads. */
	uint64_t writes;	/**< Register writes. */
	uint64_t bad_width;	/**< Accesses with a bad width or alignment (VTIO_EINVAL). */
	uint64_t bad_offset;	/**< Accesses to no register (VTIO_ERANGE). */
	uint64_t bad_direction; /**< Reads of W registers, writes of R ones (VTIO_EPERM). */
	/** Writes the model or the core did not take: queue registers of an
	 *  enabled queue or of a queue that does not exist, QueueReady = 1
	 *  refused, a QueueReset the core refused, values other than 0 / 1 in
	 *  QueueReady or other than 1 in QueueReset, feature words out of phase. */
	uint64_t refused;
	uint64_t irq_raised; /**< Interrupt line raised (0 -> non-zero InterruptStatus). */
};

/** Per-queue register shadow (private; lives in the caller's storage). */
struct vtio_mmio_dev_queue;

/**
 * A virtio-mmio register model. Allocate it anywhere; all fields are
 * private (use the functions).
 */
struct vtio_mmio_dev {
	struct vtio_dev *dev;		     /**< The device core. */
	struct vtio_mmio_dev_ops ops;	     /**< Bus hooks (resolved). */
	void *ctx;			     /**< Their context. */
	const struct vtio_mmio_dev_shm *shm; /**< Regions. */
	uint32_t num_shm;		     /**< Their number. */
	struct vtio_mmio_dev_queue *queues;  /**< Shadows (in storage). */
	uint16_t num_queues;		     /**< Number of queues. */
	uint32_t dev_features_sel;	     /**< DeviceFeaturesSel. */
	uint32_t drv_features_sel;	     /**< DriverFeaturesSel. */
	uint32_t queue_sel;		     /**< QueueSel. */
	uint32_t shm_sel;		     /**< SHMSel. */
	uint32_t isr;			     /**< InterruptStatus. */
	VTIO_LOCK_T isr_lock;		     /**< Guards isr and the line. */
	struct vtio_mmio_dev_stats stats;    /**< Counters. */
};

/**
 * Bytes of storage a register model for @p num_queues queues needs.
 * @param num_queues  vtio_dev_num_queues() of the core.
 * @return the size, 0 for 0 queues.
 * Context: any; pure.
 */
size_t vtio_mmio_dev_storage_size(uint16_t num_queues);

/**
 * Set up a register model over an initialised device core and bind it to
 * the core (vtio_dev_bind()). Every register holds its reset value.
 * @param m             register model object.
 * @param storage       vtio_mmio_dev_storage_size() bytes, 8-byte aligned.
 * @param storage_size  size of @p storage.
 * @param c             configuration.
 * @return 0; VTIO_EINVAL (NULL arguments, storage too small or misaligned,
 *         regions NULL with a count); the core's vtio_dev_bind() error
 *         (VTIO_EBUSY: already bound; VTIO_EINVAL: the core offers a bit
 *         that virtio-mmio cannot carry: SR_IOV, NOTIF_CONFIG_DATA, ADMIN_VQ).
 * Context: device side, setup.
 */
int vtio_mmio_dev_init(struct vtio_mmio_dev *m, void *storage, size_t storage_size,
		       const struct vtio_mmio_dev_config *c);

/**
 * The driver reads the register or config bytes at @p off.
 * @param m      register model.
 * @param off    byte offset in the register window.
 * @param width  access width in bytes (1, 2 or 4).
 * @param val    receives the value in CPU order (little-endian config bytes
 *               assembled); 0 for a refused access.
 * @return 0; VTIO_EINVAL (bad width or alignment); VTIO_ERANGE (no register
 *         there); VTIO_EPERM (write-only register). The access is counted
 *         either way.
 * Context: wire side, serialised by the bus.
 */
int vtio_mmio_dev_read(struct vtio_mmio_dev *m, uint32_t off, unsigned width, uint32_t *val);

/**
 * The driver writes @p val (its low @p width bytes) to the register or
 * config bytes at @p off.
 * @param m      register model.
 * @param off    byte offset in the register window.
 * @param width  access width in bytes (1, 2 or 4).
 * @param val    value in CPU order.
 * @return 0 (also for a write the core refused by the rules of its phase:
 *         the driver sees the result by reading back, as on hardware;
 *         counted in vtio_mmio_dev_stats::refused); VTIO_EINVAL (bad width
 *         or alignment); VTIO_ERANGE (no register there, config bytes
 *         beyond the config space); VTIO_EPERM (read-only register);
 *         vtio_dev_notify()'s error for QueueNotify (VTIO_EINVAL: no such
 *         queue; the kick hook's error); vtio_dev_config_write()'s error
 *         for config space (VTIO_EPERM during feature negotiation; the
 *         config_written hook's error).
 * Context: wire side, serialised by the bus.
 */
int vtio_mmio_dev_write(struct vtio_mmio_dev *m, uint32_t off, unsigned width, uint32_t val);

/**
 * InterruptStatus as the driver would read it.
 * @param m  register model.
 * @return the VTIO_MMIO_INT_* bits set.
 * Context: any.
 */
VTIO_INLINE uint32_t vtio_mmio_dev_interrupt_status(const struct vtio_mmio_dev *m)
{
	return VTIO_READ_ONCE32(&m->isr);
}

/**
 * Whether the interrupt line is raised (InterruptStatus non-zero).
 * @param m  register model.
 * @return true when an event waits for the driver's InterruptACK.
 * Context: any.
 */
VTIO_INLINE bool vtio_mmio_dev_irq_pending(const struct vtio_mmio_dev *m)
{
	return vtio_mmio_dev_interrupt_status(m) != 0;
}

/**
 * Read the counters.
 * @param m    register model.
 * @param out  receives a copy.
 * Context: any (a snapshot; counters may move while it is taken).
 */
void vtio_mmio_dev_get_stats(const struct vtio_mmio_dev *m, struct vtio_mmio_dev_stats *out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_MMIO_DEV_H */
