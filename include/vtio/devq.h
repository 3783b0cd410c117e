/**
 * @file devq.h
 * @brief Device-side virtqueue (what Linux calls vringh / the vhost core):
 *        take available chains as readable and writable segment lists,
 *        return used buffers, decide when to notify the driver. Split and
 *        packed layouts behind one API, chosen at init.
 *
 * The device reaches driver memory only through a memory view (mem.h), for
 * the ring structures and the buffers alike. Everything the driver wrote is
 * validated before use (descriptors are copied to private memory first); a
 * protocol violation returns a specific error once, marks the queue broken
 * with a reason, and every later call returns VTIO_EIO. Nothing the driver
 * writes can crash, hang or make the device read outside the view.
 *
 * Concurrency: one device-side user at a time per queue; the driver side
 * runs concurrently without locks.
 */
#ifndef VTIO_DEVQ_H
#define VTIO_DEVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "error.h"
#include "spec.h"
#include "mem.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_devq Device-side virtqueue
 * @{
 */

/** One piece of a buffer as the device sees it. */
struct vtio_iov {
	/** Local pointer to the bytes, or NULL when the memory view has no
	 * mapping for them (use vtio_devq_read()/vtio_devq_write(), or
	 * vtio_mem_read()/vtio_mem_write() at @ref addr). */
	void *ptr;
	uint64_t addr; /**< Driver address of the piece. */
	uint32_t len;  /**< Length in bytes. */
};

/** @name Chain flags (vtio_devq_chain::flags)
 * @{ */
/** The chain's pieces came from an indirect table (after any direct
 * descriptors: split allows direct descriptors then one final indirect one). */
#define VTIO_DEVQ_CHAIN_F_INDIRECT 0x1u
/** @} */

/**
 * A chain taken from the available ring. The caller provides the two iov
 * arrays and their capacities; vtio_devq_pop() fills the rest.
 *
 * The chain, and the arrays, are needed only while the request's pieces are
 * read and written. To hold a request in flight keep its completion handle
 * (vtio_devq_handle_of(), 8 bytes) and reuse the chain and its arrays for
 * the next pop.
 */
struct vtio_devq_chain {
	struct vtio_iov *rd; /**< Caller array for device-readable pieces. */
	unsigned rd_max;     /**< Its capacity. */
	unsigned rd_num;     /**< Pieces filled. */
	struct vtio_iov *wr; /**< Caller array for device-writable pieces. */
	unsigned wr_max;     /**< Its capacity. */
	unsigned wr_num;     /**< Pieces filled. */
	uint64_t rd_len;     /**< Total readable bytes. */
	uint64_t wr_len;     /**< Total writable bytes. */
	/* id, ndesc and flags stay the last members, in this order: the packed
	 * pop stores them and the padding after them as one 8-byte word
	 * (vtio__devq_pk_chain_head() in src/ring/ring_packed_hot.h). */
	uint16_t id;	/**< Split: head descriptor index; packed: buffer id. */
	uint16_t ndesc; /**< Ring slots the chain occupies (packed skip count). */
	uint16_t flags; /**< VTIO_DEVQ_CHAIN_F_* */
};

/**
 * Completion handle of a popped request: all a back end needs to keep to
 * return it (vtio_devq_push_handle(), vtio_devq_push_batch()), in any order
 * and from any thread that is serialised with the queue's other device
 * calls. Take it with vtio_devq_handle_of() right after vtio_devq_pop();
 * pass it back unchanged.
 */
struct vtio_devq_handle {
	uint16_t id;	 /**< vtio_devq_chain::id. */
	uint16_t ndesc;	 /**< vtio_devq_chain::ndesc. */
	uint32_t wr_cap; /**< Writable bytes of the chain (vtio_devq_chain::wr_len,
			      saturated at UINT32_MAX): the most a push may report used. */
};

/**
 * The completion handle of a popped chain.
 * @param c a chain vtio_devq_pop() returned 0 for.
 * @return its handle; the chain and its arrays may be reused afterwards.
 * Context: any; pure.
 */
VTIO_INLINE struct vtio_devq_handle vtio_devq_handle_of(const struct vtio_devq_chain *c)
{
	struct vtio_devq_handle h;
	h.id = c->id;
	h.ndesc = c->ndesc;
	h.wr_cap = c->wr_len > UINT32_MAX ? UINT32_MAX : (uint32_t)c->wr_len;
	return h;
}

/** One used buffer of a batch (see vtio_devq_push_batch()). */
struct vtio_devq_done {
	struct vtio_devq_handle h; /**< The request's handle, as taken after pop. */
	uint32_t len;		   /**< Bytes written into its writable part (<= h.wr_cap). */
};

/** @name Device queue flags (vtio_devq_config::flags)
 * @{ */
/** The peer is hardware-like (or ORDER_PLATFORM): DMA barriers. */
#define VTIO_DEVQ_F_DMA_BARRIERS 0x1u
/** @} */

/** Default cap on descriptors in one indirect table (QEMU uses 1024). */
#define VTIO_DEVQ_DEFAULT_MAX_INDIRECT 1024u

/** Everything needed to set up a device-side queue. */
struct vtio_devq_config {
	enum vtio_layout layout;    /**< Split or packed. */
	uint16_t index;		    /**< Queue index. */
	uint32_t num;		    /**< Queue size as the driver configured it. */
	uint64_t features;	    /**< Negotiated feature bits. */
	uint32_t flags;		    /**< VTIO_DEVQ_F_*. */
	uint64_t desc_addr;	    /**< Driver address of the descriptor area. */
	uint64_t driver_addr;	    /**< Driver address of the driver area. */
	uint64_t device_addr;	    /**< Driver address of the device area. */
	const struct vtio_mem *mem; /**< View of driver memory: rings and buffers. */
	/**
	 * Policy for indirect tables: the most entries one table may have.
	 * The spec caps a whole chain at the queue size, but Linux emits
	 * indirect tables larger than that (spec issue #122); the default,
	 * 0, accepts up to max(num, VTIO_DEVQ_DEFAULT_MAX_INDIRECT) entries.
	 * Set it to num for strict checking.
	 */
	uint32_t max_indirect;
	vtio_notify_fn notify; /**< Used-buffer notification (interrupt); required. */
	void *notify_ctx;      /**< First argument of @ref notify. */
};

/**
 * Bytes of state a device-side queue needs (16-byte aligned buffer).
 * @param layout ring layout.
 * @param num queue size.
 * @return the size, or 0 for invalid parameters.
 * Context: any; pure.
 */
size_t vtio_devq_state_size(enum vtio_layout layout, uint32_t num);

/** Opaque device-side queue; lives inside the caller's state buffer. */
struct vtio_devq;

/**
 * Initialise a device-side queue in @p state. The ring areas are
 * validated (alignment, reachable through the view) but not written. Where
 * the view has regions or a translate op the whole area is checked; where
 * it has only accessor read/write ops, the first and the last byte of each
 * area are read through the ops (a refused read gives VTIO_EFAULT; for the
 * device area, which the device only writes, VTIO_EACCES is accepted) and
 * every later access is checked again.
 *
 * @param out receives the queue handle (points into @p state).
 * @param state caller buffer of vtio_devq_state_size() bytes, 16-byte aligned.
 * @param state_size size of @p state.
 * @param cfg configuration; copied, need not outlive the call.
 * @return 0; VTIO_EINVAL (bad size, misaligned area, missing view or
 *         notify); VTIO_EFAULT (a ring area not in the view; packed:
 *         also a descriptor ring the view does not let the device write,
 *         since used descriptors are written in place); VTIO_ENOTSUP (the
 *         layout, or EVENT_IDX / IN_ORDER in the features, compiled out:
 *         VTIO_CONFIG_*).
 * Context: device side, setup (after DRIVER_OK).
 */
int vtio_devq_init(struct vtio_devq **out, void *state, size_t state_size,
		   const struct vtio_devq_config *cfg);

/**
 * Take the next available chain.
 *
 * Each descriptor byte (ring slot, indirect table entry, avail ring entry)
 * is read from driver memory once per call, into private memory, then
 * checked, and only the private copy is used: a driver rewriting the ring
 * meanwhile cannot make the device use a value it did not check. (A pop
 * that returns VTIO_ENOBUFS consumes nothing: the next pop reads the chain
 * afresh and checks it again; a chain that loops is read until the loop
 * check refuses it.) Pieces
 * are translated through the view: a buffer crossing view regions becomes
 * several iovs; memory the view reaches only through accessor ops gives an
 * iov with ptr NULL (use vtio_devq_read()/vtio_devq_write()): such pieces
 * are not checked at pop (the ops have no range check) but at each access,
 * where vtio_devq_read()/vtio_devq_write() return VTIO_EFAULT / VTIO_EACCES
 * and the queue is not broken (the caller decides; the buffer can still be
 * pushed back). Zero-length
 * descriptors are accepted and produce no iov. Chain limits: at most the
 * queue size of descriptors in the ring's table, plus at most
 * vtio_devq_config::max_indirect entries in one indirect table; direct
 * descriptors followed by one final indirect descriptor are accepted; WRITE
 * on the descriptor pointing at a table is ignored.
 *
 * @param c  chain with rd/wr arrays and capacities set by the caller.
 * @param q the queue.
 * @return 0 with @p c filled (split: c->id is the head index, c->ndesc the
 *         descriptors taken from the ring's table; c->flags tells whether
 *         the pieces came through an indirect table);
 *         VTIO_EAGAIN when nothing is available;
 *         VTIO_ENOBUFS when @p c's arrays are too small: nothing consumed,
 *         queue not broken, c->rd_num / c->wr_num hold the numbers of pieces
 *         needed (the chain was fully validated first, so a malformed chain
 *         reports its own error, never VTIO_ENOBUFS);
 *         VTIO_EIO when the queue is already broken; except that when the
 *         queue broke inside a call that cannot return an error
 *         (vtio_devq_enable_notify(), vtio_devq_more_avail(),
 *         vtio_devq_notify_prepare(), vtio_devq_disable_notify()), the next
 *         pop or push returns that specific error once, then VTIO_EIO.
 *         On a driver protocol violation the queue is broken (reason in
 *         vtio_devq_broken_reason()) and the specific error is returned:
 *         - VTIO_EPROTO: avail idx moved by more than the queue size
 *           (SPLIT-DEV-8); an INDIRECT descriptor when VIRTIO_F_INDIRECT_DESC
 *           was not negotiated; packed: a descriptor of a list not marked
 *           available for its lap (wrong AVAIL/USED bits after the head), or
 *           a slot made available again before the device used it (more
 *           than num descriptors outstanding);
 *         - VTIO_ERANGE: avail head >= queue size; next >= queue size (or >=
 *           the table's entries inside an indirect table); packed: a buffer
 *           id >= queue size;
 *         - VTIO_ELOOP: the chain loops or has more descriptors than its
 *           table (queue size, or the indirect table's entries);
 *         - VTIO_EBADMSG: INDIRECT inside an indirect table; INDIRECT with
 *           NEXT; packed: INDIRECT inside a NEXT list; indirect len 0 or not
 *           a multiple of 16; a readable descriptor after a writable one;
 *         - VTIO_E2BIG: an indirect table with more entries than
 *           vtio_devq_config::max_indirect;
 *         - VTIO_EOVERFLOW: total chain length over 2^32 bytes (summed in
 *           64 bits);
 *         - VTIO_EFAULT / VTIO_EACCES: a buffer, an indirect table (checked
 *           as a whole) or a ring area outside the view or without the
 *           needed permission, or a range wrapping past 2^64.
 *
 * Context: device side, serialised.
 */
int vtio_devq_pop(struct vtio_devq *q, struct vtio_devq_chain *c);

/**
 * Take up to @p n available chains in one call: the same as calling
 * vtio_devq_pop() on c[0], c[1], ... until one does not return 0, with the
 * same checks of every descriptor, but on a packed queue whose ring the
 * device reaches through local pointers (VERSION_1) the ring position and
 * the view's first region are loaded once per call instead of once per
 * chain. Each c[i] needs its own rd/wr arrays and capacities, set by the
 * caller as for vtio_devq_pop().
 *
 * @param q the queue.
 * @param c @p n chains.
 * @param n number of chains in @p c (at least 1).
 * @return the number of chains filled, 1..@p n (c[0..k-1], in ring order);
 *         when the chain after them could not be taken, it is left in the
 *         ring: nothing available, or VTIO_ENOBUFS (retry it with larger
 *         arrays), or an error that broke the queue, which the next pop or
 *         push returns once (see vtio_devq_pop());
 *         when no chain was filled: VTIO_EINVAL (@p n 0 or @p c NULL), or
 *         what vtio_devq_pop() returns for c[0] (VTIO_EAGAIN, VTIO_ENOBUFS,
 *         VTIO_EIO, or the protocol error that broke the queue).
 * Context: device side, serialised.
 */
int vtio_devq_pop_batch(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned n);

/**
 * Return one used buffer, from its chain (a convenience for a back end that
 * completes a request while it still has the chain): the same as
 * vtio_devq_push_handle(q, vtio_devq_handle_of(c), len).
 * @param c    the chain as popped.
 * @param len  bytes written into its writable part.
 * @param q the queue.
 * @return as vtio_devq_push_handle().
 * Context: device side, serialised.
 */
int vtio_devq_push(struct vtio_devq *q, const struct vtio_devq_chain *c, uint32_t len);

/**
 * Return one used buffer by its completion handle: the documented way to
 * complete a request held in flight (the chain and its iov arrays need not
 * be kept). Buffers may be returned in any order (except with
 * VIRTIO_F_IN_ORDER, see vtio_devq_push_batch()).
 * @param q the queue.
 * @param h the request's handle (vtio_devq_handle_of() after pop).
 * @param len  bytes written into its writable part.
 * @return 0; VTIO_EIO (broken; or once the error that broke it, see
 *         vtio_devq_pop()); VTIO_EINVAL (@p len larger than h.wr_cap, or
 *         h.id >= queue size; packed: h.ndesc 0 or more descriptors returned
 *         than popped); VTIO_EFAULT (used ring not writable: the queue is
 *         broken).
 * Context: device side, serialised with the other device calls.
 */
int vtio_devq_push_handle(struct vtio_devq *q, struct vtio_devq_handle h, uint32_t len);

/**
 * Return @p n used buffers: every entry is checked and written, then the
 * ring index (or the first packed flags) is published once; an entry that
 * fails its check stops the batch before anything is published.
 *
 * Split with VIRTIO_F_IN_ORDER: @p d must list buffers in the order they were
 * popped; a batch of n > 1 is written as one used entry naming the last
 * buffer (with its len), and used->idx advances by n: the driver counts the
 * earlier buffers as fully used (CHECKLIST 3.11).
 * Packed: used descriptors are written in completion order from the
 * device's next-used slot, each followed by a skip of its chain's ndesc
 * slots; the first one's flags are written last. With VIRTIO_F_IN_ORDER
 * (same ordering rule as split) a batch of n > 1 is one used descriptor
 * naming the last buffer, written over the batch's first slot, and the skip
 * covers the whole batch. Used len policy: the used descriptor carries
 * VTIO_DESC_F_WRITE exactly when len > 0, so strict drivers (len valid only
 * with WRITE) and Linux/QEMU-style ones read the same len.
 *
 * @param q the queue.
 * @param d @p n used buffers (handle and length each).
 * @param n number of entries in @p d.
 * @return 0, VTIO_EIO (broken), VTIO_EINVAL (nothing published, the queue
 *         not broken: an id >= queue size, a len larger than its handle's wr_cap, n larger than the
 *         queue size, @p d NULL; packed: an ndesc of 0, or more descriptors
 *         returned than popped), VTIO_EFAULT (used ring not writable: the
 *         queue is broken).
 * Context: device side, serialised with the other device calls.
 */
int vtio_devq_push_batch(struct vtio_devq *q, const struct vtio_devq_done *d, unsigned n);

/**
 * After pushing: does the driver want a used-buffer notification
 * (VTIO_AVAIL_F_NO_INTERRUPT / EVENT_IDX / packed event suppression)?
 * Issues the full barrier between publishing used->idx and reading the
 * driver's suppression field. With EVENT_IDX the decision covers every
 * buffer pushed since the previous call (vtio_need_event() over the range).
 * @param q the queue.
 * @return true when vtio_devq_notify() should be called; false also when
 *         nothing was pushed since the previous call.
 * Context: device side, serialised.
 */
bool vtio_devq_notify_prepare(struct vtio_devq *q);

/**
 * Call the notify callback.
 * @param q the queue.
 * @return 0, VTIO_EIO, or the callback's error.
 * Context: device side, serialised with the other device calls.
 */
int vtio_devq_notify(struct vtio_devq *q);

/**
 * vtio_devq_notify_prepare() then, if needed, vtio_devq_notify().
 * @param q the queue.
 * @return 0, VTIO_EIO, or the callback's error.
 * Context: device side, serialised with the other device calls.
 */
int vtio_devq_kick(struct vtio_devq *q);

/**
 * Ask the driver for available-buffer notifications again: clears
 * VTIO_USED_F_NO_NOTIFY, or with EVENT_IDX writes avail_event = the next
 * avail index the device will take; then a full barrier and a re-read of
 * the avail index.
 * @param q the queue.
 * @return true when the ring is empty (safe to wait), false when a chain
 *         arrived meanwhile (pop again) or the queue broke (a protocol
 *         violation or a view error found here: the next vtio_devq_pop()
 *         returns its specific error).
 * Context: device side, serialised with the other device calls.
 */
bool vtio_devq_enable_notify(struct vtio_devq *q);

/**
 * Ask the driver not to notify (a hint). Split: sets VTIO_USED_F_NO_NOTIFY;
 * with EVENT_IDX nothing is written and avail_event stays where the last
 * vtio_devq_enable_notify() put it. Packed: writes the device event
 * suppression flags = DISABLE, with or without EVENT_IDX.
 * @param q the queue.
 * Context: device side, serialised.
 */
void vtio_devq_disable_notify(struct vtio_devq *q);

/**
 * True when a chain is waiting to be popped (cheap poll).
 * @param q the queue.
 * @return true when vtio_devq_pop() would return something other than
 *         VTIO_EAGAIN; false also when the queue broke here (the next pop
 *         returns the specific error).
 * Context: device side, serialised with the other device calls.
 */
bool vtio_devq_more_avail(struct vtio_devq *q);

/**
 * Copy @p len bytes of the chain's readable part, from byte @p off, to @p dst.
 * @param q the queue.
 * @param c the chain as popped.
 * @param off byte offset in the chain part.
 * @param dst destination buffer.
 * @param len bytes to copy.
 * @return bytes copied (less when the chain is shorter) or a negative error.
 * Context: device side, serialised with the other device calls.
 */
int64_t vtio_devq_read(struct vtio_devq *q, const struct vtio_devq_chain *c, uint64_t off,
		       void *dst, size_t len);

/**
 * Copy @p len bytes from @p src into the chain's writable part at byte @p off.
 * @param q the queue.
 * @param c the chain as popped.
 * @param off byte offset in the chain part.
 * @param src source buffer.
 * @param len bytes to copy.
 * @return bytes copied (less when the chain is shorter) or a negative error.
 * Context: device side, serialised with the other device calls.
 */
int64_t vtio_devq_write(struct vtio_devq *q, const struct vtio_devq_chain *c, uint64_t off,
			const void *src, size_t len);

/**
 * Return the queue to its defaults (RESET-DEV-4).
 * @param q the queue.
 * Context: device side.
 */
void vtio_devq_reset(struct vtio_devq *q);

/**
 * True when the driver broke the protocol on this queue.
 * @param q the queue.
 * @return true when broken.
 * Context: device side.
 */
bool vtio_devq_is_broken(const struct vtio_devq *q);

/**
 * Why the queue is broken; NULL when it is not.
 * @param q the queue.
 * Context: device side.
 * @return a static string, or NULL when the queue is not broken.
 */
const char *vtio_devq_broken_reason(const struct vtio_devq *q);

/**
 * Ring position of a device-side queue: where the device resumes taking and
 * returning buffers. What vhost-user's SET/GET_VRING_BASE carry (a queue
 * handed from one device instance to another, or stopped and restarted).
 */
struct vtio_devq_pos {
	uint16_t avail_idx; /**< Split: next avail index (free-running); packed: next slot. */
	bool avail_wrap;    /**< Packed: the device's expected avail wrap counter. */
	uint16_t used_idx;  /**< Split: used->idx to continue from; packed: next used slot. */
	bool used_wrap;	    /**< Packed: the device ring wrap counter for used descriptors. */
	uint32_t in_flight; /**< (get only) Packed: descriptors popped and not returned;
				 split: 0 (not tracked). */
};

/**
 * Start a freshly initialised (or reset) queue at @p pos instead of at 0.
 * Call before the first vtio_devq_pop(); nothing already popped is kept.
 * @param q the queue.
 * @param pos the position; packed: slots must be below the queue size.
 * @return 0, VTIO_ERANGE (packed slot >= queue size), VTIO_EBUSY (packed:
 *         descriptors are outstanding).
 * Context: device side, serialised, before the queue is used.
 */
int vtio_devq_set_pos(struct vtio_devq *q, const struct vtio_devq_pos *pos);

/**
 * Read the queue's ring position (see vtio_devq_set_pos()).
 * @param q the queue.
 * @param pos receives the position.
 * Context: device side, serialised.
 */
void vtio_devq_get_pos(const struct vtio_devq *q, struct vtio_devq_pos *pos);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_DEVQ_H */
