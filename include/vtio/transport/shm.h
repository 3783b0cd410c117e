/**
 * @file shm.h
 * @brief Shared-memory + doorbell transport: a window of memory both sides
 *        see (NTB, ivshmem, a PCIe endpoint BAR, a memfd between two
 *        processes), a device directory in it, a register block per device
 *        and doorbells behind hooks.
 *
 * **Window layout** (every field little-endian, offsets from the window
 * start; the window is the device side's memory, which the driver reaches
 * across the link):
 *
 *  - a header (struct vtio_shm_header) with magic, version, the window size,
 *    the device address of offset 0 (@ref vtio_shm_header::dev_base) and
 *    where the directory is;
 *  - the directory: a table of entries (struct vtio_shm_entry), one per
 *    device, created and removed at run time by the device side
 *    (vtio_shm_dir_add(), vtio_shm_dir_remove()); an entry gives the device
 *    id, the virtio device type, its state, where its register block,
 *    config space mirror, queue table and bounce-pool area are, and its
 *    doorbell numbers;
 *  - per device: the register block (struct vtio_shm_regs: status and
 *    feature mirrors plus one command slot), the queue table (struct
 *    vtio_shm_queue per queue: maximum size, the ring addresses and size
 *    the driver set, and a kick counter) and the config space mirror; and
 *    a bounce area the driver uses for its rings and buffers when it has no
 *    memory of its own that the device can reach.
 *
 * **Register protocol.** The device answers, the driver asks. Every read
 * the driver needs (status, device features, queue maxima, config bytes,
 * config generation) is a mirror the device keeps up to date in the
 * register block; every write the driver makes (status, driver features,
 * queue registers, config bytes, queue reset) is a command: the driver
 * fills the command slot, bumps vtio_shm_regs::req_seq, rings the device's
 * doorbell and waits (vtio_shm_hooks::wait) until vtio_shm_regs::ack_seq
 * equals it; the device turns the command into one vtio_dev call
 * (include/vtio/dev.h: no status or feature rule lives here), refreshes the
 * mirrors and answers. Config bytes are mirrored under a sequence lock, so
 * vtio_transport_config_read_stable() never returns a torn read.
 *
 * **Notifications** carry no data across the link: a driver kick stores a
 * new value in the queue's kick counter (a posted write into device
 * memory; the driver keeps its own count, it never reads the counter back)
 * and rings the device's doorbell; the device compares every live queue's
 * counter with the last one it saw. The device rings the driver's doorbell
 * @ref vtio_shm_entry::drv_bell for used buffers and drv_bell + 1 for a
 * configuration change (and a command answer). Doorbells are hooks
 * (vtio_shm_hooks::ring) so eventfds, NTB doorbell registers, ivshmem
 * interrupts or a PCIe endpoint's MSI plug in below.
 *
 * **Trust.** Each side validates what the other wrote: the driver parses the
 * directory with vtio_shm_dir_entry(), which checks every offset and size
 * against the window and copies the entry once (the device cannot change
 * the driver's idea of the layout afterwards); the device keeps its own
 * record of the directory (the driver can write the whole window, so the
 * window copy is output only), reads each command once and hands its values
 * to the device core, which checks them against the phase. Bad input gives a VTIO_E* error, never a
 * crash.
 *
 * Portable core code: no heap, no libc beyond memcpy/memset.
 *
 * Concurrency: one thread per side per device for the control path
 * (commands on the driver side, vtio_shm_dev_poll() on the device side);
 * queues run on their own threads as usual (devq / vq rules).
 */
#ifndef VTIO_TRANSPORT_SHM_H
#define VTIO_TRANSPORT_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../transport.h"
#include "../mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_shm Shared-memory transport
 * @ingroup vtio_transport
 * @{
 */

struct vtio_dev; /* the device core (dev.h), used by the device role */

/* ---- Wire layout ------------------------------------------------------------------------ */

/** vtio_shm_header::magic: "VTSH" little-endian. */
#define VTIO_SHM_MAGIC 0x48535456u
/** Layout version this code speaks. */
#define VTIO_SHM_VERSION 1u
/** Most directory entries a window may declare. */
#define VTIO_SHM_MAX_ENTRIES 64u
/** Most queues of one device in the directory. */
#define VTIO_SHM_MAX_QUEUES 64u
/** Alignment of every area the directory points at. */
#define VTIO_SHM_ALIGN 64u
/** Bytes of config data one command carries. */
#define VTIO_SHM_CMD_DATA 64u

/** Window header, at offset 0 (64 bytes). */
struct vtio_shm_header {
	uint32_t magic;	      /**< VTIO_SHM_MAGIC. */
	uint16_t version;     /**< VTIO_SHM_VERSION. */
	uint16_t header_size; /**< sizeof(struct vtio_shm_header). */
	uint64_t window_size; /**< Bytes of the window as the device side formatted it. */
	uint64_t dev_base;    /**< Device address of window offset 0. */
	uint32_t dir_off;     /**< Offset of the directory. */
	uint32_t dir_entries; /**< Entries in it (1..VTIO_SHM_MAX_ENTRIES). */
	uint32_t entry_size;  /**< sizeof(struct vtio_shm_entry). */
	uint32_t dir_gen;     /**< Bumped on every add / remove (rescan hint). */
	uint32_t heap_off;    /**< Where per-device areas are carved from. */
	uint32_t heap_size;   /**< Bytes there. */
	uint32_t reserved[4]; /**< Zero. */
};

/** vtio_shm_entry::state values. */
enum vtio_shm_state {
	VTIO_SHM_FREE = 0, /**< Unused slot. */
	VTIO_SHM_LIVE = 1, /**< Device present: the driver may bind it. */
	VTIO_SHM_GONE = 2  /**< Device removed: a bound driver must let go. */
};

/** One directory entry (64 bytes). */
struct vtio_shm_entry {
	uint32_t state;	      /**< enum vtio_shm_state (written last on add, first on remove). */
	uint32_t id;	      /**< Directory id: unique for the life of the window. */
	uint32_t device_type; /**< Virtio device id (7 rpmsg, 2 block, ...). */
	uint16_t num_queues;  /**< Queues (1..VTIO_SHM_MAX_QUEUES). */
	uint16_t dev_bell;    /**< Doorbell the driver rings (commands and kicks). */
	uint16_t drv_bell;    /**< Doorbell the device rings (+0 used, +1 config / answer). */
	uint16_t reserved0;   /**< Zero. */
	uint32_t regs_off;    /**< Register block (struct vtio_shm_regs). */
	uint32_t queues_off;  /**< Queue table (num_queues x struct vtio_shm_queue). */
	uint32_t config_off;  /**< Config space mirror. */
	uint32_t config_size; /**< Its bytes. */
	uint32_t bounce_off;  /**< Bounce-pool area for the driver (0 with size 0: none). */
	uint32_t bounce_size; /**< Its bytes. */
	uint32_t reserved[5]; /**< Zero. */
};

/** Command codes (vtio_shm_regs::op). */
enum vtio_shm_op {
	VTIO_SHM_OP_NONE = 0,	      /**< Nothing. */
	VTIO_SHM_OP_STATUS = 1,	      /**< arg0 = status byte. */
	VTIO_SHM_OP_FEATURES = 2,     /**< arg0 = word, arg1 = value. */
	VTIO_SHM_OP_QUEUE_SET = 3,    /**< index, arg0 = num, addr[0..2] = desc/driver/device. */
	VTIO_SHM_OP_QUEUE_ENABLE = 4, /**< index. */
	VTIO_SHM_OP_QUEUE_RESET = 5,  /**< index. */
	VTIO_SHM_OP_CONFIG_WRITE = 6  /**< arg0 = offset, arg1 = length, data. */
};

/** Per-device register block (256 bytes). */
struct vtio_shm_regs {
	/* Mirrors, written by the device. */
	uint32_t status;	  /**< Device status. */
	uint32_t dev_features[2]; /**< Offered feature words. */
	uint32_t drv_features[2]; /**< Driver feature words as the device holds them. */
	uint32_t config_gen;	  /**< Config generation. */
	uint32_t config_seq;	  /**< Sequence lock over the config mirror (odd: writing). */
	uint32_t ack_seq;	  /**< Last command answered. */
	int32_t result;		  /**< Its result (0 or VTIO_E*). */
	uint32_t reserved0[7];	  /**< Zero. */
	/* Command slot, written by the driver. */
	uint32_t req_seq;		 /**< Bumped (release) once the command is filled in. */
	uint32_t op;			 /**< enum vtio_shm_op. */
	uint32_t index;			 /**< Queue index. */
	uint32_t arg0;			 /**< First argument. */
	uint32_t arg1;			 /**< Second argument. */
	uint32_t reserved1[3];		 /**< Zero. */
	uint64_t addr[3];		 /**< Queue area addresses. */
	uint64_t reserved2;		 /**< Zero. */
	uint8_t data[VTIO_SHM_CMD_DATA]; /**< Config bytes. */
	uint8_t reserved3[256 - 192];	 /**< Pad to 256. */
};

/** Per-queue entry of the queue table (48 bytes). */
struct vtio_shm_queue {
	uint32_t max;	     /**< Largest size (device writes; 0: no such queue). */
	uint32_t num;	     /**< Size the driver set (device mirror). */
	uint32_t ready;	     /**< Enabled (device mirror). */
	uint32_t kick;	     /**< Driver's kick counter (driver writes only). */
	uint64_t desc;	     /**< Descriptor area address (device mirror). */
	uint64_t driver;     /**< Driver area address (device mirror). */
	uint64_t device;     /**< Device area address (device mirror). */
	uint64_t ring_bytes; /**< Bytes of the three areas for @ref num (device mirror). */
};

/* ---- Hooks -------------------------------------------------------------------------------- */

/** Doorbells and waiting, provided by what carries the window. */
struct vtio_shm_hooks {
	/**
	 * Ring the peer's doorbell @p which (the entry's dev_bell on the driver
	 * side, drv_bell / drv_bell + 1 on the device side). Required.
	 * @return 0 or an error (handed back to the caller of the notify).
	 */
	int (*ring)(void *ctx, uint32_t which);
	/**
	 * Driver side: wait a little for the device to answer a command (block
	 * on a doorbell for about a millisecond, or, in one process, run the
	 * device's vtio_shm_dev_poll()). Optional (default: spin with
	 * VTIO_CPU_RELAX()). @return 0 to keep waiting, a negative VTIO_E* to
	 * give up (e.g. VTIO_ENOTCONN when the peer is gone).
	 */
	int (*wait)(void *ctx);
	void *ctx; /**< First argument of the hooks. */
};

/** How many vtio_shm_hooks::wait calls a command waits for its answer. */
#ifndef VTIO_SHM_CMD_WAITS
#define VTIO_SHM_CMD_WAITS 5000u
#endif

/**
 * An asynchronous copy engine ("DMA engine", seed 000): moves @p len bytes
 * between device addresses and completes later by calling @p done. A device
 * that sits across a slow link uses it to move payloads instead of reading
 * remote memory with the CPU. The library defines only the hook shape; a
 * platform provides the engine (a software one in the tests).
 */
struct vtio_copy_engine {
	/**
	 * Queue a copy of [@p src, @p src + @p len) to @p dst (both device
	 * addresses; either may be local or remote). @p done(@p cookie, result)
	 * runs when it finished (result 0 or VTIO_EFAULT), from the engine's
	 * completion context. @return 0 when queued; VTIO_EAGAIN when the
	 * engine is full; VTIO_EFAULT for an address it cannot reach.
	 */
	int (*submit)(void *ctx, uint64_t dst, uint64_t src, size_t len,
		      void (*done)(void *cookie, int result), void *cookie);
	void *ctx; /**< First argument of submit. */
};

/* ---- Directory (device side: the window's owner) ---------------------------------------- */

/** The device side's own record of one directory slot. The window copy is
 *  output only: the driver can write the whole window, so the device never
 *  reads the directory back. */
struct vtio_shm_slot {
	uint32_t id;	      /**< Directory id (0: slot never used or reclaimed). */
	uint32_t state;	      /**< enum vtio_shm_state. */
	uint32_t regs_off;    /**< Register block. */
	uint32_t queues_off;  /**< Queue table. */
	uint32_t config_off;  /**< Config mirror. */
	uint32_t config_size; /**< Its bytes. */
	uint32_t heap_lo;     /**< Heap bump pointer before its areas. */
	uint32_t heap_hi;     /**< Heap bump pointer after them. */
	uint16_t num_queues;  /**< Queues. */
	uint16_t drv_bell;    /**< Bell towards the driver. */
};

/** Device side's handle on a window it formatted. Fields private. */
struct vtio_shm_dir {
	unsigned char *win; /**< Window (local pointer). */
	size_t size;	    /**< Its bytes. */
	uint64_t dev_base;  /**< Device address of offset 0. */
	uint32_t dir_off;   /**< Directory offset. */
	uint32_t dir_gen;   /**< Directory generation. */
	uint32_t next_id;   /**< Next directory id. */
	uint32_t heap_off;  /**< Heap start. */
	uint32_t heap_end;  /**< Heap end. */
	uint32_t heap_next; /**< Bump pointer. */
	uint32_t entries;   /**< Directory entries. */
	uint32_t bells;	    /**< Doorbells handed out per direction so far. */
	struct vtio_shm_slot slots[VTIO_SHM_MAX_ENTRIES]; /**< Own record of every slot. */
};

/**
 * Format a window: header and an empty directory of @p entries slots; the
 * rest becomes the heap per-device areas are carved from.
 * @param dir       handle to set up.
 * @param win       the window (8-byte aligned; page aligned recommended).
 * @param size      its bytes (at most 4 GiB - 1).
 * @param dev_base  device address of window offset 0 (where the driver's
 *                  rings and buffers in the window appear to the device).
 * @param entries   directory slots (1..VTIO_SHM_MAX_ENTRIES).
 * @return 0 or VTIO_EINVAL (bad arguments, window too small).
 * Context: device side, setup (before the driver looks).
 */
int vtio_shm_dir_format(struct vtio_shm_dir *dir, void *win, size_t size, uint64_t dev_base,
			unsigned entries);

/** What vtio_shm_dir_add() reserves for a device. */
struct vtio_shm_dir_request {
	uint32_t device_type;  /**< Virtio device id. */
	uint16_t num_queues;   /**< Queues (1..VTIO_SHM_MAX_QUEUES). */
	uint32_t config_size;  /**< Config mirror bytes (its device core's config_len). */
	uint32_t bounce_size;  /**< Bounce area bytes for the driver (0: none). */
	uint32_t bounce_align; /**< Alignment of the bounce area (power of 2; 0: 4096). */
};

/**
 * Reserve a directory slot and areas for a new device. The entry stays
 * FREE (invisible to the driver) until vtio_shm_dev_init() publishes it
 * LIVE, once the device is ready (seed 001: the device first).
 * @param dir   directory.
 * @param req   what to reserve.
 * @param slot  receives the slot index.
 * @return 0; VTIO_EINVAL (bad request); VTIO_ENOSPC (no free slot);
 *         VTIO_ENOMEM (heap exhausted).
 * Context: device side, serialised with other directory calls.
 */
int vtio_shm_dir_add(struct vtio_shm_dir *dir, const struct vtio_shm_dir_request *req,
		     unsigned *slot);

/**
 * Remove the device in @p slot: marks it GONE (a bound driver sees it and
 * stops), bumps the directory generation. The slot is free for reuse after
 * vtio_shm_dir_reclaim(). The areas of the last device added are given back
 * to the heap; others stay reserved (the heap is a bump allocator).
 * @param dir   directory.
 * @param slot  slot index.
 * @return 0; VTIO_ERANGE (no such slot); VTIO_ENOENT (slot not in use).
 * Context: device side; the slot's vtio_shm_dev must not be polled any more.
 */
int vtio_shm_dir_remove(struct vtio_shm_dir *dir, unsigned slot);

/**
 * Mark a GONE slot FREE (after the driver let go, or when it never bound).
 * @param dir   directory.
 * @param slot  slot index.
 * @return 0; VTIO_ERANGE; VTIO_EBUSY (the slot is LIVE).
 */
int vtio_shm_dir_reclaim(struct vtio_shm_dir *dir, unsigned slot);

/* ---- Directory parser (driver side, and anyone who reads a window) ------------------------ */

/** A validated copy of a window header. */
struct vtio_shm_info {
	uint64_t size;	      /**< Window bytes (min of the header's and the real size). */
	uint64_t dev_base;    /**< Device address of offset 0. */
	uint32_t dir_off;     /**< Directory offset. */
	uint32_t dir_entries; /**< Directory slots. */
	uint32_t dir_gen;     /**< Directory generation when read. */
};

/**
 * Parse and validate a window header.
 * @param win   the window (local pointer).
 * @param size  its real size in bytes.
 * @param out   receives the validated header.
 * @return 0; VTIO_EINVAL (NULL, size too small for a header); VTIO_EBADMSG
 *         (bad magic or header size, directory outside the window, too
 *         many entries, bad entry size); VTIO_ENOTSUP (version);
 *         VTIO_ERANGE (header claims more bytes than the window has).
 * Context: any.
 */
int vtio_shm_dir_parse(const void *win, size_t size, struct vtio_shm_info *out);

/** A validated copy of one directory entry. */
struct vtio_shm_entry_info {
	unsigned slot;	      /**< Slot index. */
	uint32_t state;	      /**< enum vtio_shm_state. */
	uint32_t id;	      /**< Directory id. */
	uint32_t device_type; /**< Virtio device id. */
	uint16_t num_queues;  /**< Queues. */
	uint16_t dev_bell;    /**< Bell the driver rings. */
	uint16_t drv_bell;    /**< Bell the device rings (+0, +1). */
	uint32_t regs_off;    /**< Register block. */
	uint32_t queues_off;  /**< Queue table. */
	uint32_t config_off;  /**< Config mirror. */
	uint32_t config_size; /**< Its bytes. */
	uint32_t bounce_off;  /**< Bounce area (0 with size 0: none). */
	uint32_t bounce_size; /**< Its bytes. */
	uint64_t dev_base;    /**< Device address of window offset 0. */
};

/**
 * Read directory slot @p slot: copy it once and check every area against
 * the window (inside it, aligned, register block and queue table not
 * overlapping the header or the directory, sizes within bounds).
 * @param win   the window.
 * @param size  its real size.
 * @param slot  slot index.
 * @param out   receives the entry.
 * @return 0 (LIVE or GONE entry); VTIO_ENOENT (FREE slot); VTIO_ERANGE (no
 *         such slot); VTIO_EBADMSG (an area outside the window, misaligned
 *         or overlapping the directory, bad state, bad queue count); the
 *         errors of vtio_shm_dir_parse().
 * Context: any.
 */
int vtio_shm_dir_entry(const void *win, size_t size, unsigned slot,
		       struct vtio_shm_entry_info *out);

/**
 * Find the first LIVE entry of device type @p device_type (0: any) at slot
 * @p from or later.
 * @param win          the window.
 * @param size         its real size.
 * @param from         first slot to look at.
 * @param device_type  virtio device id, or 0.
 * @param out          receives the entry.
 * @return 0; VTIO_ENOENT (none); the errors of vtio_shm_dir_parse(). A
 *         malformed entry is skipped (it is not returned).
 */
int vtio_shm_dir_find(const void *win, size_t size, unsigned from, uint32_t device_type,
		      struct vtio_shm_entry_info *out);

/* ---- Device role ------------------------------------------------------------------------ */

/** Device role configuration. */
struct vtio_shm_dev_config {
	struct vtio_shm_dir *dir; /**< The window's directory. */
	unsigned slot;		  /**< Slot from vtio_shm_dir_add(). */
	struct vtio_dev *dev;	  /**< Device core, initialised, not bound. */
	/** Device view of driver memory. NULL: a view of the window alone
	 *  (window offset o at device address dev_base + o). */
	const struct vtio_mem *mem;
	struct vtio_shm_hooks hooks; /**< ring (required); wait unused. */
};

/** Device role of one directory entry. Fields private. */
struct vtio_shm_dev {
	struct vtio_shm_dir *dir;		 /**< Directory. */
	struct vtio_dev *dev;			 /**< Device core. */
	struct vtio_shm_hooks hooks;		 /**< Doorbells. */
	struct vtio_shm_regs *regs;		 /**< Register block. */
	struct vtio_shm_queue *queues;		 /**< Queue table. */
	unsigned char *config;			 /**< Config mirror. */
	struct vtio_mem_region region;		 /**< Default view's region. */
	struct vtio_mem view;			 /**< Default view. */
	uint32_t last_req;			 /**< Last command seen. */
	uint32_t mirrored_gen;			 /**< Config generation last mirrored. */
	uint32_t config_seq;			 /**< Sequence lock value (own copy). */
	uint32_t config_size;			 /**< Config mirror bytes. */
	uint32_t kick_seen[VTIO_SHM_MAX_QUEUES]; /**< Last kick counter seen per queue. */
	uint16_t num_queues;			 /**< Queues. */
	uint16_t drv_bell;			 /**< Bell to ring. */
	unsigned slot;				 /**< Directory slot. */
	uint64_t commands;			 /**< Commands handled. */
	uint64_t bad_commands;			 /**< Commands refused as malformed. */
};

/**
 * Publish a device: bind the device core to this transport, give it the
 * memory view, fill the entry's register block, queue table (maxima) and
 * config mirror from the core, then mark the entry LIVE.
 * @param sd   device role object.
 * @param cfg  configuration.
 * @return 0; VTIO_EINVAL (bad arguments, slot not reserved, queue count or
 *         config size different from the reservation); the error of
 *         vtio_dev_bind().
 * Context: device side, setup.
 */
int vtio_shm_dev_init(struct vtio_shm_dev *sd, const struct vtio_shm_dev_config *cfg);

/**
 * Handle what the driver did: answer a pending command (one vtio_dev call)
 * and deliver the kicks of every queue whose kick counter moved. Call it
 * when the device's doorbell rings (and now and then: doorbells may be
 * merged).
 * @param sd  device role.
 * @return the number of events handled (command + kicks), >= 0; or
 *         VTIO_ENODEV when the entry was removed.
 * Context: device side, the device's control thread.
 */
int vtio_shm_dev_poll(struct vtio_shm_dev *sd);

/**
 * The driver went away (its process died, the link dropped): reset the
 * device core as a status write of 0 would (every queue stops) and refresh
 * the mirrors, so the next driver starts from a clean device.
 * @param sd  device role.
 * Context: device side, serialised with vtio_shm_dev_poll().
 */
void vtio_shm_dev_reset(struct vtio_shm_dev *sd);

/**
 * Remove the device from the directory (vtio_shm_dir_remove()) and ring the
 * driver's configuration doorbell so a bound driver notices at once.
 * @param sd  device role.
 * @return 0 or the error of vtio_shm_dir_remove().
 * Context: device side; do not poll @p sd afterwards.
 */
int vtio_shm_dev_remove(struct vtio_shm_dev *sd);

/**
 * The device changed its config space: mirror it for the driver and raise
 * a configuration-change notification (vtio_dev_config_changed()).
 * @param sd  device role.
 * Context: device side, serialised with vtio_shm_dev_poll().
 */
void vtio_shm_dev_config_changed(struct vtio_shm_dev *sd);

/* ---- Driver role ------------------------------------------------------------------------ */

/** Driver role of one directory entry. Fields private; use vtio_shm_drv_transport(). */
struct vtio_shm_drv {
	struct vtio_transport tr;	     /**< Driver-side transport (first member). */
	struct vtio_shm_entry_info e;	     /**< Validated entry. */
	struct vtio_shm_hooks hooks;	     /**< Doorbells and waiting. */
	unsigned char *win;		     /**< Window. */
	size_t size;			     /**< Window bytes. */
	struct vtio_shm_regs *regs;	     /**< Register block. */
	struct vtio_shm_queue *queues;	     /**< Queue table. */
	const unsigned char *config;	     /**< Config mirror. */
	uint32_t req_seq;		     /**< Last command sent. */
	uint32_t kicks[VTIO_SHM_MAX_QUEUES]; /**< Own kick counters (never read back). */
	uint64_t enabled;		     /**< Queues the driver enabled (bit per queue < 64). */
	uint32_t cfg_seen;		     /**< Config sequence at the last config interrupt. */
	bool needs_reset_seen;		     /**< DEVICE_NEEDS_RESET already reported. */
	bool gone;			     /**< The device was removed or stopped answering. */
};

/**
 * Bind a directory entry found with vtio_shm_dir_entry() / _find().
 * @param d      driver role object.
 * @param win    the window (local pointer).
 * @param size   its real size.
 * @param e      validated entry (copied).
 * @param hooks  ring (required) and wait.
 * @return 0; VTIO_EINVAL (bad arguments); VTIO_ENODEV (entry not LIVE).
 * Context: driver side, setup.
 */
int vtio_shm_drv_init(struct vtio_shm_drv *d, void *win, size_t size,
		      const struct vtio_shm_entry_info *e, const struct vtio_shm_hooks *hooks);

/**
 * The driver-side transport.
 * @param d  driver role.
 * @return its transport.
 */
VTIO_INLINE struct vtio_transport *vtio_shm_drv_transport(struct vtio_shm_drv *d)
{
	return &d->tr;
}

/**
 * The driver's doorbell @p which rang: deliver the used-buffer interrupt
 * of every enabled queue (which == drv_bell) and/or the configuration
 * interrupt (drv_bell + 1); any other value delivers both (merged bells).
 * Checks whether the entry was removed (then nothing is delivered).
 * @param d      driver role.
 * @param which  the bell number.
 * @return 0, or VTIO_ENODEV when the device was removed.
 * Context: driver side, the interrupt / event thread.
 */
int vtio_shm_drv_interrupt(struct vtio_shm_drv *d, uint32_t which);

/**
 * The driver's view of its bounce area: the pointer and device address of
 * the area the device reserved for it (for a bounce pool with a linear
 * mapping: vtio_bounce_pool_config::base / dev_base).
 * @param d     driver role.
 * @param cpu   receives the local pointer.
 * @param bus   receives the device address.
 * @param size  receives the bytes.
 * @return 0, or VTIO_ENOENT when the entry has no bounce area.
 */
int vtio_shm_drv_bounce_area(const struct vtio_shm_drv *d, void **cpu, uint64_t *bus, size_t *size);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_SHM_H */
