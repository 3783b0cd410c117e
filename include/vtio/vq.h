/**
 * @file vq.h
 * @brief Driver-side virtqueue (what Linux calls virtio_ring): make buffers
 *        available, notify, reap used buffers. Split and packed layouts
 *        behind one API, chosen at init.
 *
 * Memory: the caller owns everything. The queue object and its per-descriptor
 * state live in one caller buffer sized by vtio_vq_state_size(); the ring
 * areas are three caller-provided areas (descriptor, driver, device) sized by
 * vtio_vq_area_sizes(), placed anywhere the device can reach (they may be
 * three unrelated addresses, as virtio 1.x allows).
 *
 * Read-free placement (split): the driver keeps its own shadow of the
 * descriptor table and of avail->idx and never reads back the descriptor
 * table or the available ring, so both can live in the device's memory
 * behind a slow link where only posted writes are cheap.
 *
 * Packed rings are not read-free: the device writes each used descriptor in
 * place, over a slot the driver made available, so the driver must read the
 * descriptor ring (flags, then id and len) to reap, and the device reads it
 * to take buffers. Both sides therefore read the shared descriptor ring;
 * place it where both can read it at acceptable cost (the event areas are
 * still each read by one side only: the driver area by the device, the
 * device area by the driver).
 *
 * Concurrency: one driver-side user at a time per queue (the caller
 * serialises calls); the device side runs concurrently without locks.
 *
 * Legacy queues: without VIRTIO_F_VERSION_1 in the features, ring fields are
 * written and read in host byte order (CHECKLIST 1.1); otherwise little-endian.
 *
 * Broken queues: a used entry the device should never have written (id out of
 * range or not in flight, used->idx moving past the buffers in flight, an
 * IN_ORDER device completing out of order) marks the queue broken with a
 * reason; every later call fails (VTIO_EIO / NULL / false) until
 * vtio_vq_reset(). vtio_vq_detach_unused() still works on a broken queue.
 */
#ifndef VTIO_VQ_H
#define VTIO_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "spec.h"
#include "mem.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_vq Driver-side virtqueue
 * @{
 */

/** Ring layout of a queue. */
enum vtio_layout {
	VTIO_LAYOUT_SPLIT = 0, /**< Split ring (descriptor table, avail ring, used ring). */
	VTIO_LAYOUT_PACKED = 1 /**< Packed ring (descriptor ring, two event structs). */
};

/** One segment of a buffer: an address and a length. */
struct vtio_sg {
	/**
	 * CPU address of the segment (`(uintptr_t)ptr`), mapped through the
	 * queue's DMA device when mapping is on; a bus address already when the
	 * queue is premapped (VTIO_VQ_F_PREMAPPED).
	 */
	uint64_t addr;
	uint32_t len; /**< Length in bytes (non-zero). */
};

/** Fill a segment from a CPU pointer. */
VTIO_INLINE struct vtio_sg vtio_sg_of(const void *p, uint32_t len)
{
	struct vtio_sg sg;
	sg.addr = (uint64_t)(uintptr_t)p;
	sg.len = len;
	return sg;
}

/**
 * Notification callback ("kick" for the driver side, "interrupt" for the
 * device side).
 *
 * @param ctx   the context given at init.
 * @param data  the queue index, or with VIRTIO_F_NOTIFICATION_DATA on the
 *              driver side the 32-bit notification value (see
 *              vtio_notification_data()).
 * @return 0, or a negative VTIO_E* code the notify call passes through.
 */
typedef int (*vtio_notify_fn)(void *ctx, uint32_t data);

struct vtio_dma_dev;

/** @name Queue flags (vtio_vq_config::flags)
 * @{ */
/** The peer is hardware (or ORDER_PLATFORM): use DMA barriers, not SMP ones. */
#define VTIO_VQ_F_DMA_BARRIERS 0x1u
/** Map every buffer through the DMA device even without VIRTIO_F_ACCESS_PLATFORM. */
#define VTIO_VQ_F_MAP 0x2u
/** The caller maps buffers itself: vtio_sg::addr is a bus address and buffers
 * are not mapped. Indirect tables live in the library's state buffer, which
 * the caller cannot map: when the queue would otherwise map (DMA device set,
 * not the identity, ACCESS_PLATFORM or VTIO_VQ_F_MAP) they are still mapped
 * TO_DEVICE through the DMA device, as Linux does. */
#define VTIO_VQ_F_PREMAPPED 0x4u
/** @} */

/** Where the three ring areas of a queue are. */
struct vtio_vq_areas {
	void *desc;	    /**< Descriptor table (split) / descriptor ring (packed). */
	void *driver;	    /**< Driver area: avail ring (split) / driver event struct (packed). */
	void *device;	    /**< Device area: used ring (split) / device event struct (packed). */
	uint64_t desc_addr; /**< Address of @ref desc as the device sees it. */
	uint64_t driver_addr; /**< Address of @ref driver as the device sees it. */
	uint64_t device_addr; /**< Address of @ref device as the device sees it. */
};

/** Everything needed to set up a driver-side queue. */
struct vtio_vq_config {
	enum vtio_layout layout; /**< Split or packed. */
	uint16_t index;		 /**< Queue index (sent in notifications). */
	uint32_t num;		 /**< Queue size: split a power of 2 <= 32768; packed 1..32768. */
	uint64_t features;	 /**< Negotiated feature bits (VTIO_FEATURE(VTIO_F_*)). */
	uint32_t flags;		 /**< VTIO_VQ_F_*. */
	struct vtio_vq_areas areas; /**< Ring areas, zeroed by init. */
	/**
	 * Optional view through which the driver accesses its ring areas, by
	 * their device addresses (areas.*_addr), instead of the CPU pointers:
	 * for rings in memory with no CPU mapping (areas.desc / driver / device
	 * may then be NULL: they are never used), and for the counting view of
	 * the read-free tests. NULL for direct access (the fast path). 16-bit
	 * fields go through a 2-byte-aligned translated pointer as one atomic
	 * access, else through the view's ops (2-byte accesses untorn, mem.h).
	 * A read or write the view refuses breaks the queue ("ring memory not
	 * readable" / "ring memory not writable"): no value is invented.
	 */
	const struct vtio_mem *ring_mem;
	/** Indirect tables the queue may use: @ref indirect_tables tables of
	 * @ref indirect_max descriptors each, held in the state buffer. 0 = none.
	 * Used only with VIRTIO_F_INDIRECT_DESC. */
	uint32_t indirect_tables;
	uint32_t indirect_max; /**< Descriptors per indirect table. */
	/** A buffer of at least this many segments goes indirect (when a
	 * table is free); 0 selects the default (2). A buffer that does not fit
	 * in the free descriptors goes indirect whatever this says. */
	uint32_t indirect_threshold;
	vtio_notify_fn notify; /**< Available-buffer notification; required. */
	void *notify_ctx;      /**< First argument of @ref notify. */
	/** DMA device buffers are mapped through (see dma.h); NULL passes
	 * addresses straight through. */
	struct vtio_dma_dev *dma;
};

/** Sizes of the three ring areas of a queue. */
struct vtio_vq_area_sizes {
	size_t desc;	     /**< Descriptor area bytes. */
	size_t driver;	     /**< Driver area bytes. */
	size_t device;	     /**< Device area bytes. */
	size_t desc_align;   /**< Required alignment of the descriptor area. */
	size_t driver_align; /**< Required alignment of the driver area. */
	size_t device_align; /**< Required alignment of the device area. */
};

/**
 * Sizes and alignments of the ring areas for @p layout and @p num.
 * @param layout ring layout.
 * @param num queue size.
 * @param out receives the sizes and alignments.
 * @return 0 or VTIO_EINVAL for an impossible size (split: not a power of 2).
 * Context: any; pure.
 */
int vtio_vq_area_sizes(enum vtio_layout layout, uint32_t num, struct vtio_vq_area_sizes *out);

/**
 * Bytes needed to hold all three areas contiguously, each aligned, with the
 * device area starting on an @p align boundary (the legacy layout when
 * @p align is 4096). 0 when @p layout / @p num are invalid.
 * Use vtio_vq_areas_in() to carve the block.
 * @param layout ring layout.
 * @param num queue size.
 * @param align alignment of the device area in the block (a power of 2; 4096 gives the legacy
 * layout). Context: any; pure.
 * @return the block size in bytes, or 0 when the parameters are invalid.
 */
size_t vtio_vq_ring_size(enum vtio_layout layout, uint32_t num, size_t align);

/**
 * Carve one contiguous block of vtio_vq_ring_size() bytes into the three areas.
 * @param block       CPU pointer of the block (16-byte aligned).
 * @param block_addr  device address of the block.
 * @param layout ring layout.
 * @param num queue size.
 * @param align alignment of the device area in the block (a power of 2; 4096 gives the legacy
 * layout).
 * @param out receives the three areas (CPU pointers and device addresses).
 * @return 0 or VTIO_EINVAL.
 * Context: any; pure.
 */
int vtio_vq_areas_in(enum vtio_layout layout, uint32_t num, size_t align, void *block,
		     uint64_t block_addr, struct vtio_vq_areas *out);

/**
 * Bytes of state buffer a queue needs (queue object, per-descriptor shadow,
 * tokens, indirect tables). Align the buffer to 16 bytes.
 * @param layout ring layout.
 * @param num queue size.
 * @param indirect_tables number of indirect tables to hold (0 = none).
 * @param indirect_max descriptors per indirect table.
 * @return the size, or 0 when the parameters are invalid or the size does
 *         not fit in size_t (e.g. 2^32 bytes of tables on a 32-bit host).
 * Context: any; pure.
 */
size_t vtio_vq_state_size(enum vtio_layout layout, uint32_t num, uint32_t indirect_tables,
			  uint32_t indirect_max);

/** Opaque driver-side queue; lives inside the caller's state buffer. */
struct vtio_vq;

/**
 * Initialise a driver-side queue in @p state and zero its ring areas.
 *
 * @param out         receives the queue handle (points into @p state).
 * @param state       caller buffer of vtio_vq_state_size() bytes, 16-byte
 *                    aligned; owned by the queue until the caller stops using it.
 * @param state_size  size of @p state.
 * @param cfg         configuration; copied, need not outlive the call.
 * @return 0; VTIO_EINVAL (bad size, misaligned area, NULL area pointer
 *         without ring_mem, missing notify, state too small or the
 *         parameters' state size not representable in size_t);
 *         VTIO_ENOTSUP (layout or feature not compiled in, or mapping asked
 *         for without DMA support); VTIO_EFAULT (ring_mem refused the
 *         zeroing of an area).
 *
 * Context: driver side, setup.
 */
int vtio_vq_init(struct vtio_vq **out, void *state, size_t state_size,
		 const struct vtio_vq_config *cfg);

/**
 * Make a buffer available: @p out_num device-readable segments followed by
 * @p in_num device-writable ones, identified by @p token.
 *
 * Split: the buffer becomes visible to the device at the next
 * vtio_vq_kick_prepare() (which publishes avail->idx once for all buffers
 * added since). Packed: it is visible when this call returns (descriptors,
 * write barrier, then the head's flags, PACKED-DRV-7/8); kick_prepare only
 * decides about the notification. Packed buffer ids come from a free-id
 * list, one id per ring slot the buffer takes (ids < num, unique while in
 * flight); with VIRTIO_F_IN_ORDER the id is the buffer's head slot.
 *
 * Indirect: with VIRTIO_F_INDIRECT_DESC and tables given at init, a buffer
 * of at least vtio_vq_config::indirect_threshold segments (and at most
 * indirect_max) uses one ring descriptor pointing at a free table; a
 * buffer that does not fit in the free descriptors goes indirect whatever
 * the threshold. Split tables chain entries with next = 1, 2, 3...
 * With VIRTIO_F_IN_ORDER descriptors are allocated sequentially.
 *
 * Mapping is on when vtio_vq_config::dma is set, VIRTIO_F_ACCESS_PLATFORM is
 * negotiated or VTIO_VQ_F_MAP is given, and the DMA device is not the
 * identity: out segments are mapped TO_DEVICE, in segments FROM_DEVICE
 * (unless VTIO_VQ_F_PREMAPPED), an indirect table TO_DEVICE (even with
 * VTIO_VQ_F_PREMAPPED); all are unmapped when the buffer comes back from
 * vtio_vq_get_used() or vtio_vq_detach_unused(), from records the queue
 * keeps privately (never from the table the device can see). A linear
 * stack (vtio_dma_dev::linear: bus = cpu + offset, unmap a no-op) costs
 * one addition per segment and no call. Otherwise addresses pass straight
 * through with no call. If mapping the k-th fails, the k-1 done are
 * unmapped, nothing is consumed and the mapping error is returned. The
 * writable length the used length is clamped to is summed in 64 bits and
 * kept saturated at UINT32_MAX (a chain of exactly 4 GiB).
 *
 * @param token  non-NULL value handed back by vtio_vq_get_used().
 * @param vq the queue.
 * @param sg @p out_num + @p in_num segments, device-readable ones first.
 * @param out_num number of device-readable segments.
 * @param in_num number of device-writable segments.
 * @return 0; VTIO_ENOSPC (not enough free descriptors); VTIO_EINVAL (no
 *         segments, zero length, NULL token); VTIO_E2BIG (more segments than
 *         the queue can ever hold, or more than 4 GiB in total, SPLIT-DRV-7);
 *         VTIO_EIO (queue broken); VTIO_EFAULT (ring_mem refused a ring
 *         write: the buffer is not added, its mappings are undone and the
 *         queue is broken); a DMA error.
 *
 * Context: driver side, serialised with other driver-side calls.
 */
int vtio_vq_add(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned out_num, unsigned in_num,
		void *token);

/**
 * Add up to @p n buffers of one segment each, all in one direction: the
 * same as calling vtio_vq_add(vq, &sg[i], ..., tokens[i]) for i = 0, 1, ...
 * (one device-readable or one device-writable segment each) until one does
 * not return 0, with the same checks, mapping and visibility (a packed
 * buffer is available when its flags are stored; split buffers wait for
 * vtio_vq_publish() or vtio_vq_kick_prepare()). On a packed queue whose
 * ring is local memory and needs no mapping (VERSION_1, not IN_ORDER) the
 * ring position, free list and counters are loaded and stored once per call
 * instead of once per buffer.
 *
 * @param vq the queue.
 * @param sg @p n segments, one per buffer.
 * @param n number of buffers (at least 1).
 * @param device_writable true: every buffer is one device-writable segment
 *        (a receive buffer); false: one device-readable segment.
 * @param tokens @p n non-NULL tokens, handed back by vtio_vq_get_used() or
 *        vtio_vq_get_used_batch().
 * @return the number of buffers added, 1..@p n (sg[0..k-1], in order): the
 *         buffer after them was not added (the ring is full, or it is
 *         invalid, or it failed, and the next call returns why); when none
 *         was added: VTIO_EINVAL (@p n 0, @p sg or @p tokens NULL), or what
 *         vtio_vq_add() returns for sg[0] (VTIO_ENOSPC, VTIO_EINVAL,
 *         VTIO_EIO, a DMA error...).
 * Context: driver side, serialised with other driver-side calls.
 */
int vtio_vq_add_batch(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n,
		      bool device_writable, void *const *tokens);

/**
 * Publish added buffers and decide whether the device wants a notification
 * (honours VTIO_USED_F_NO_NOTIFY / EVENT_IDX / packed event suppression).
 * Split: release-stores avail->idx, then a full barrier, then reads
 * used->flags or avail_event (vtio_need_event() over the buffers added since
 * the previous call).
 * @param vq the queue.
 * @return true when vtio_vq_notify() should be called; false when nothing
 *         was added since the previous call or the queue is broken (also
 *         when ring_mem refuses the idx store or the suppression read:
 *         the queue is then broken).
 * Context: driver side, serialised.
 */
bool vtio_vq_kick_prepare(struct vtio_vq *vq);

/**
 * Make the buffers added so far visible to the device without deciding
 * whether to notify it: no barrier beyond the release store of the index and
 * nothing read back, for a device that polls (Linux publishes in
 * virtqueue_add() the same way). vtio_vq_kick_prepare() still decides about
 * notification for everything added since the previous kick_prepare,
 * published or not. Packed queues publish in vtio_vq_add(): a no-op there.
 *
 * @param vq  the queue.
 * @return 0, or VTIO_EIO when the queue is broken (a refused ring write
 *         through vtio_vq_config::ring_mem breaks it).
 * Context: driver side, serialised with other driver-side calls.
 */
int vtio_vq_publish(struct vtio_vq *vq);

/**
 * Call the notify callback (with notification data when negotiated: split
 * `index | avail_idx << 16`, the idx as published by the last
 * vtio_vq_kick_prepare(); packed `index | next_off << 16 | wrap << 31`,
 * the next slot to be made available and the driver ring wrap counter).
 * @param vq the queue.
 * @return 0, VTIO_EIO if broken, or the callback's error.
 * Context: driver side; may run concurrently with other driver calls only
 * if the callback allows it.
 */
int vtio_vq_notify(struct vtio_vq *vq);

/**
 * vtio_vq_kick_prepare() then, if needed, vtio_vq_notify().
 * @param vq the queue.
 * @return 0 or the notify error.
 * Context: driver side, serialised with the other driver calls.
 */
int vtio_vq_kick(struct vtio_vq *vq);

/**
 * Take the next used buffer.
 *
 * Used len policy (CHECKLIST 3.3): a len larger than the buffer's writable
 * size is clamped to that size and counted in vtio_vq_stats::len_clamped;
 * the queue is not broken (legacy devices commonly misreport). Packed: len
 * is taken whether or not the device set WRITE in the used descriptor (the
 * spec reserves it without WRITE, but QEMU never sets WRITE and Linux reads
 * len anyway), then clamped the same way. With VIRTIO_F_IN_ORDER one used
 * entry may complete a batch: the earlier buffers are returned one per call
 * with len = their writable size; a used entry naming a buffer that is not
 * in flight (e.g. one a previous batch already completed) breaks the queue.
 *
 * @param len  receives the number of bytes the device wrote (clamped as
 *             above). May be NULL.
 * @param vq the queue.
 * @return the buffer's token, or NULL when nothing is used yet or the queue
 *         is broken (check vtio_vq_is_broken(), or use vtio_vq_take_used(),
 *         which tells the two apart). A used entry naming an id
 *         that is out of range or not in flight breaks the queue, and so
 *         does a ring_mem read error ("ring memory not readable"); a wrong
 *         token is never returned.
 *
 * Context: driver side, serialised.
 */
void *vtio_vq_get_used(struct vtio_vq *vq, uint32_t *len);

/**
 * Take up to @p n used buffers: the same as calling vtio_vq_get_used()
 * into tokens[i] and lens[i] until it returns NULL, with the same checks
 * and the same length clamp (PACKED-DRV-15, SPLIT-DRV-16). On a packed
 * queue whose ring is local memory and needs no unmapping (VERSION_1, not
 * IN_ORDER) the ring position, free list and counters are loaded and
 * stored once per call instead of once per buffer.
 *
 * @param vq the queue.
 * @param tokens receives up to @p n tokens, in the order the device used them.
 * @param lens NULL, or receives the @p n used lengths (clamped).
 * @param n capacity of @p tokens and @p lens (at least 1).
 * @return the number of buffers taken, 1..@p n; if a bad used entry broke
 *         the queue after them, the next call returns VTIO_EIO. When none
 *         was taken: VTIO_EAGAIN (nothing used yet), VTIO_EIO (the queue is
 *         broken, also when it broke in this call), VTIO_EINVAL (@p n 0 or
 *         @p tokens NULL).
 * Context: driver side, serialised.
 */
int vtio_vq_get_used_batch(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n);

/**
 * Take the next used buffer, telling "nothing used yet" from "the queue is
 * broken" in one call: vtio_vq_get_used() with the reason for a NULL.
 *
 * @param vq the queue.
 * @param token receives the buffer's token, or NULL when none is returned.
 * @param len receives the used length, clamped as in vtio_vq_get_used()
 *            (may be NULL; left unchanged when no buffer is returned).
 * @return 0 with @p token set; VTIO_EAGAIN when nothing is used yet;
 *         VTIO_EIO when the queue is broken, also when it broke in this
 *         call (a bad used entry, a ring_mem read error: the reason is in
 *         vtio_vq_broken_reason()).
 * Context: driver side, serialised.
 */
int vtio_vq_take_used(struct vtio_vq *vq, void **token, uint32_t *len);

/**
 * True when a used buffer is waiting (cheap poll).
 * @param vq the queue.
 * Context: driver side.
 * @return true when vtio_vq_get_used() would return a buffer (or find a
 *         protocol error, or a ring_mem read error it then reports).
 */
bool vtio_vq_more_used(const struct vtio_vq *vq);

/**
 * Ask the device not to send used-buffer notifications (a hint).
 * @param vq the queue.
 * Context: driver side, serialised.
 */
void vtio_vq_disable_cb(struct vtio_vq *vq);

/**
 * Re-enable used-buffer notifications for the next used buffer.
 * @param vq the queue.
 * @return true if no used buffer is pending (safe to wait for the
 *         notification), false if one arrived meanwhile (poll again).
 * Context: driver side, serialised.
 */
bool vtio_vq_enable_cb(struct vtio_vq *vq);

/**
 * Like vtio_vq_enable_cb() but asks for the notification only after about
 * 3/4 of the in-flight work is used (EVENT_IDX; otherwise the same as
 * vtio_vq_enable_cb()). Split counts buffers (avail idx - last used);
 * packed counts ring descriptors (slots), so a queue of multi-descriptor
 * buffers is notified after 3/4 of its descriptors.
 * @param vq the queue.
 * @return as vtio_vq_enable_cb().
 * Context: driver side, serialised with the other driver calls.
 */
bool vtio_vq_enable_cb_delayed(struct vtio_vq *vq);

/**
 * Take back a buffer the device never used (after the device or queue is
 * reset, or before freeing the queue). Unmaps it.
 * @param vq the queue.
 * @return a token, or NULL when none is left. Each token is returned once.
 * Context: driver side, only while the device is not using the queue.
 */
void *vtio_vq_detach_unused(struct vtio_vq *vq);

/**
 * Return the queue to its initial state (shadow state reset, ring areas
 * zeroed, broken flag cleared), for a device reset or RING_RESET re-enable.
 * @param vq the queue.
 * @return 0, VTIO_EBUSY while buffers are still in flight (detach them
 *         first), or VTIO_EFAULT when ring_mem refuses the zeroing (the
 *         queue is then broken).
 * Context: driver side, device not using the queue.
 */
int vtio_vq_reset(struct vtio_vq *vq);

/**
 * True when the queue saw the device break the protocol.
 * @param vq the queue.
 * @return true when broken.
 * Context: driver side.
 */
bool vtio_vq_is_broken(const struct vtio_vq *vq);

/**
 * Why the queue is broken.
 * @param vq the queue.
 * @return a static string, or NULL when the queue is not broken.
 * Context: driver side.
 */
const char *vtio_vq_broken_reason(const struct vtio_vq *vq);

/**
 * Mark the queue broken by the caller (e.g. the transport saw the device fail).
 * @param vq the queue.
 * @param reason static string kept by reference (NULL gives a generic reason).
 * Context: driver side, serialised with the other driver calls.
 */
void vtio_vq_set_broken(struct vtio_vq *vq, const char *reason);

/**
 * Queue size.
 * @param vq the queue.
 * @return the queue size.
 * Context: driver side.
 */
uint32_t vtio_vq_size(const struct vtio_vq *vq);

/**
 * Free descriptors (ring slots) now.
 * @param vq the queue.
 * @return free descriptors (ring slots).
 * Context: driver side.
 */
uint32_t vtio_vq_num_free(const struct vtio_vq *vq);

/**
 * Queue index given at init.
 * @param vq the queue.
 * @return the queue index.
 * Context: driver side.
 */
uint16_t vtio_vq_index(const struct vtio_vq *vq);

/**
 * Layout chosen at init.
 * @param vq the queue.
 * @return the layout.
 * Context: driver side.
 */
enum vtio_layout vtio_vq_layout(const struct vtio_vq *vq);

/**
 * Ring areas (CPU pointers and device addresses) given at init.
 * @param vq the queue.
 * @return the areas given at init (valid while the queue lives).
 * Context: driver side.
 */
const struct vtio_vq_areas *vtio_vq_get_areas(const struct vtio_vq *vq);

/** Counters of a driver-side queue. */
struct vtio_vq_stats {
	uint64_t added;	      /**< Buffers made available. */
	uint64_t used;	      /**< Buffers reaped. */
	uint64_t notifies;    /**< Notifications sent. */
	uint64_t indirect;    /**< Buffers that went indirect. */
	uint64_t len_clamped; /**< Used lengths larger than the writable size (clamped). */
};

/**
 * Read the queue's counters.
 * @param vq the queue.
 * @param out receives a copy of the counters.
 * Context: driver side.
 */
void vtio_vq_get_stats(const struct vtio_vq *vq, struct vtio_vq_stats *out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_VQ_H */
