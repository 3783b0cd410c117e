/**
 * @file mmio.h
 * @brief virtio-mmio (version 2) driver transport over replaceable
 *        register-access hooks.
 *
 * A struct vtio_mmio is a struct vtio_transport (its first member) whose ops
 * speak the virtio-mmio register layout (spec 4.2.2, constants VTIO_MMIO_* in
 * spec.h). Run the usual driver sequence over vtio_mmio_transport():
 * vtio_transport_negotiate(), vtio_transport_vq_setup(),
 * vtio_transport_driver_ok(), and call vtio_mmio_irq() from the device's
 * interrupt handler.
 *
 * Every register access goes through a struct vtio_mmio_ops (one read and one
 * write hook, each with an access width), so a platform whose hypervisor
 * traps no MMIO routes the accesses to hypercalls or messages (seed 002,
 * `mmio_ops`). Without hooks, vtio_mmio_window_ops does volatile loads and
 * stores on a mapped register window with the port layer's DMA barriers.
 *
 * Access widths (MMIO-DRV-2, MMIO-DRV-3): control registers (below 0x100)
 * are always one aligned 32-bit access. Device-specific configuration space
 * (0x100 and up) is accessed per field: a vtio_transport_config_read() or
 * _write() of 1, 2 or 4 bytes at an offset aligned to its length is one
 * access of that width; 8 bytes at a 4-aligned offset are two 32-bit accesses
 * (low word first); any other length or alignment is taken to be a byte
 * array and accessed byte by byte. So read a structure field by field, with
 * the field's own offset and size. Configuration bytes land in the
 * destination in wire order (little-endian): convert with vtio_le16() /
 * vtio_le32() / vtio_le64(), exactly as with every other transport.
 *
 * Legacy devices (Version 1) are refused with VTIO_ENOTSUP: this transport
 * never drives the legacy register set (no GuestPageSize / QueuePFN).
 *
 * Misbehaving devices (the peer is hostile): every wait is bounded
 * (VTIO_TRANSPORT_RESET_POLLS for the device reset, VTIO_MMIO_POLLS for
 * QueueReady and QueueReset, VTIO_TRANSPORT_CONFIG_RETRIES for the
 * configuration generation). A protocol violation found by the transport
 * (device features that change between reads, VERSION_1 not offered,
 * QueueReady set on a queue the driver did not enable) and the first error a
 * hook reports during the serialised calls are latched in the transport:
 * every later op that can return an error returns it (see vtio_mmio_error()),
 * the FEATURES_OK step is refused (not written, and the status never reads
 * FEATURES_OK while an error is latched) so the negotiation fails, and the next
 * device reset (status 0) clears it. vtio_transport_notify() and
 * vtio_mmio_irq() return a hook's error without latching it. A device that sets
 * DEVICE_NEEDS_RESET makes queue setup, enable and reset return VTIO_EIO.
 * Register offsets never leave the register table or the configured window.
 *
 * Portable core code: no heap, no libc. Concurrency: as for every transport,
 * calls are serialised by the caller, except vtio_transport_notify() (one
 * write of QueueNotify) and vtio_mmio_irq() (InterruptStatus and
 * InterruptACK only), which touch no select register and may run
 * concurrently with the others.
 */
#ifndef VTIO_TRANSPORT_MMIO_H
#define VTIO_TRANSPORT_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_mmio virtio-mmio driver transport
 * @ingroup vtio_transport
 * @{
 */

#ifndef VTIO_MMIO_MAX_QUEUES
/** Queues per device the transport tracks for interrupt dispatch (a multiple
 *  of 32); queues with a higher index cannot be enabled (VTIO_ERANGE). */
#define VTIO_MMIO_MAX_QUEUES 64u
#endif

#ifndef VTIO_MMIO_POLLS
/** How many times QueueReady / QueueReset are read back before VTIO_ETIMEDOUT. */
#define VTIO_MMIO_POLLS 100000u
#endif

/** Window size assumed when vtio_mmio_config::window_size is 0 (the usual
 *  device-tree `reg` size: 0x100 bytes of registers and 0x100 of config). */
#define VTIO_MMIO_DEFAULT_WINDOW 0x200u

/**
 * Register-access hooks. Both are required. Values are in CPU order: the
 * hook converts from the bus's little-endian layout (vtio_mmio_window_ops
 * does) or carries the register's numeric value (a message bus).
 *
 * The transport calls them only with @p width 4 and a 4-aligned @p off below
 * 0x100 (control registers), or with @p width 1, 2 or 4 and @p off aligned to
 * it inside the configuration space of the window (0x100 up to
 * vtio_mmio_config::window_size).
 */
struct vtio_mmio_ops {
	const char *name; /**< For diagnostics (may be NULL). */
	/**
	 * Read the register or config bytes at @p off.
	 * @param ctx    vtio_mmio_config::ctx.
	 * @param off    byte offset in the register window.
	 * @param width  access width in bytes: 1, 2 or 4.
	 * @param val    receives the value (zero-extended).
	 * @return 0, or a negative VTIO_E* code (the bus failed: latched).
	 */
	int (*read)(void *ctx, uint32_t off, unsigned width, uint32_t *val);
	/**
	 * Write @p val (its low @p width bytes) to the register or config
	 * bytes at @p off.
	 * @param ctx    vtio_mmio_config::ctx.
	 * @param off    byte offset in the register window.
	 * @param width  access width in bytes: 1, 2 or 4.
	 * @param val    value in CPU order.
	 * @return 0, or a negative VTIO_E* code (the bus failed: latched).
	 */
	int (*write)(void *ctx, uint32_t off, unsigned width, uint32_t val);
};

/**
 * Default hooks: volatile accesses on a mapped register window whose
 * address is the hook context (`volatile void *`), little-endian converted
 * with vtio_le16() / vtio_le32(). A write is preceded by VTIO_DMA_WMB() (ring
 * updates are visible before a QueueNotify write) and a read followed by
 * VTIO_DMA_RMB() (ring reads after an InterruptStatus read see what the
 * device wrote before raising it). They never fail.
 */
extern const struct vtio_mmio_ops vtio_mmio_window_ops;

/** How to reach a virtio-mmio device. */
struct vtio_mmio_config {
	/** Register hooks; NULL: vtio_mmio_window_ops on @ref base. */
	const struct vtio_mmio_ops *ops;
	/** Context of @ref ops (ignored when @ref ops is NULL). */
	void *ctx;
	/** Mapped register window for the default hooks. */
	volatile void *base;
	/** Bytes of the window (registers and config space, at least 0x100);
	 *  config accesses beyond it fail with VTIO_ERANGE. 0: VTIO_MMIO_DEFAULT_WINDOW. */
	uint32_t window_size;
};

/**
 * A virtio-mmio driver transport. Allocate it anywhere; set it up with
 * vtio_mmio_init(). Fields are private (use the functions).
 */
struct vtio_mmio {
	struct vtio_transport tr;		  /**< The transport (first member). */
	const struct vtio_mmio_ops *ops;	  /**< Register hooks. */
	void *ctx;				  /**< Their context. */
	uint32_t window_size;			  /**< Window bytes. */
	uint32_t version;			  /**< Version register (2). */
	uint32_t device_id;			  /**< DeviceID register. */
	uint32_t vendor_id;			  /**< VendorID register. */
	int err;				  /**< Latched error (0: none). */
	uint32_t live[VTIO_MMIO_MAX_QUEUES / 32]; /**< Queues enabled since the last reset. */
};

/**
 * Probe a virtio-mmio device and set up the transport (MMIO-DRV-15): read
 * MagicValue, Version and DeviceID in that order and, when they check out,
 * VendorID. Writes no register: the device is reset by
 * vtio_transport_negotiate().
 *
 * @param m  transport object.
 * @param c  how to reach the device (copied).
 * @return 0; VTIO_ENODEV when DeviceID is 0 (an empty slot: skip it silently,
 *         MMIO-DRV-6; no register after DeviceID was touched); VTIO_EPROTO
 *         when MagicValue is not 0x74726976 or Version is neither 1 nor 2
 *         (MMIO-DRV-4, MMIO-DRV-5); VTIO_ENOTSUP for a legacy device
 *         (Version 1; never driven); VTIO_EINVAL for a bad configuration
 *         (NULL pointer, a hook missing, no base without hooks, window
 *         smaller than 0x100 or not a multiple of 4); a hook's error. After
 *         an error @p m is not a usable transport.
 * Context: driver side, setup.
 */
int vtio_mmio_init(struct vtio_mmio *m, const struct vtio_mmio_config *c);

/**
 * The transport to run the driver sequence on.
 * @param m  transport object.
 * @return its struct vtio_transport.
 */
VTIO_INLINE struct vtio_transport *vtio_mmio_transport(struct vtio_mmio *m)
{
	return &m->tr;
}

/**
 * Device type (DeviceID register, read by vtio_mmio_init()).
 * @param m  transport object.
 * @return the virtio device ID (1 net, 2 block, 3 console, 4 entropy, ...).
 */
VTIO_INLINE uint32_t vtio_mmio_device_id(const struct vtio_mmio *m)
{
	return m->device_id;
}

/**
 * Vendor (VendorID register, read by vtio_mmio_init()).
 * @param m  transport object.
 * @return the vendor ID (QEMU: 0x554d4551, "QEMU").
 */
VTIO_INLINE uint32_t vtio_mmio_vendor_id(const struct vtio_mmio *m)
{
	return m->vendor_id;
}

/**
 * Error latched by the transport: the first hook failure or device protocol
 * violation since the last reset.
 * @param m  transport object.
 * @return 0; VTIO_EPROTO (the device features changed between two reads,
 *         or QueueReady read 1 on a queue the driver had not enabled); VTIO_ENOTSUP (the device
 *         does not offer VERSION_1: this transport drives modern devices only);
 *         a hook's error.
 * Context: driver side.
 */
VTIO_INLINE int vtio_mmio_error(const struct vtio_mmio *m)
{
	return m->err;
}

/**
 * Handle the device's interrupt (MMIO-DRV-18, MMIO-DRV-12, MMIO-DRV-13):
 * read InterruptStatus, write the defined bits that were set to
 * InterruptACK (never undefined bits), then dispatch. A used-buffer bit
 * calls the driver's used-buffer handler (vtio_transport_set_irq()) once for
 * every queue enabled since the last reset, in index order (the register has
 * one bit for all queues: each handler checks its queue). A
 * configuration-change bit calls the configuration handler, which should
 * read the status for DEVICE_NEEDS_RESET (vtio_transport_get_status()) and
 * re-read the configuration.
 *
 * @param m  transport object.
 * @return the VTIO_MMIO_INT_VRING / VTIO_MMIO_INT_CONFIG bits handled (0: the
 *         interrupt was not this device's, e.g. on a shared line), or a
 *         hook's error (nothing dispatched).
 * Context: driver side, interrupt handler or polling loop; may run
 *          concurrently with the transport's other calls (touches no select
 *          register). The handlers run in the caller's context.
 */
int vtio_mmio_irq(struct vtio_mmio *m);

/**
 * Look up shared memory region @p id (SHMSel, SHMLen, SHMBase). Only
 * drivers of device types that define shared memory should call it
 * (MMIO-DRV-16).
 *
 * @param m     transport object.
 * @param id    region id (device-type specific).
 * @param base  receives the region's guest-physical base address.
 * @param len   receives its length in bytes.
 * @return 0; VTIO_ENOENT when the device has no such region (length reads
 *         all ones, MMIO-DEV-10); VTIO_EPROTO when base + len wraps;
 *         a latched or hook error. @p base and @p len are written only on
 *         success.
 * Context: driver side, serialised (uses the SHMSel register).
 */
int vtio_mmio_shm_region(struct vtio_mmio *m, uint32_t id, uint64_t *base, uint64_t *len);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_MMIO_H */
