/*
 * Packed-ring private state (driver side in vq_packed.c, device side in
 * devq_packed.c), included by ring_internal.h into the per-layout unions.
 *
 * Positions in the ring are a slot number (0..num-1) plus a wrap counter;
 * num need not be a power of two, so every advance is
 * `idx += n; if (idx >= num) { idx -= num; wrap ^= 1; }` (CHECKLIST 3.1),
 * which also flips on an advance of exactly num.
 */
#ifndef VTIO_RING_PACKED_H
#define VTIO_RING_PACKED_H

#include <stdbool.h>
#include <stdint.h>

#include "vtio/spec.h"

/*
 * Driver-side bookkeeping entry, one per buffer id (== one per ring slot:
 * a chain of n descriptors takes n ids, as Linux does, so free ids and free
 * slots always agree). The buffer id is the chain's first entry; the others
 * only hold DMA unmap information and the free-list link.
 */
struct vtio__pk_ext {
	uint64_t addr;	/* bus address of the descriptor (unmap; only with do_map) */
	uint32_t len;	/* its length */
	uint16_t flags; /* VTIO_DESC_F_WRITE when device-writable */
	uint16_t next;	/* next free id / next entry of the chain */
};

/** Driver-side packed state. */
struct vtio__vq_packed {
	struct vtio__pk_ext *ext; /* num entries, in the layout's part of the state */
	uint16_t next_avail;	  /* next descriptor slot to fill */
	uint16_t avail_used;	  /* AVAIL/USED bits for slots of the current lap */
	bool avail_wrap;	  /* driver ring wrap counter */
	bool used_wrap;		  /* driver-side used wrap counter */
	uint16_t used_au;	  /* AVAIL|USED of a used slot this lap (used_wrap ? both : 0) */
	uint16_t last_used;	  /* next slot to look at for a used descriptor */
	uint16_t free_head;	  /* head of the free id list (not IN_ORDER) */
	uint16_t event_flags;	  /* shadow of the driver event suppression flags */
	uint32_t detach_cursor;	  /* where vtio_vq_detach_unused() looks next */
	/* Counts kept off the per-buffer path (each add would otherwise
	 * increment two counters): lap_base + next_avail is every descriptor
	 * made available since the reset (vtio__vq_pk_posted()); lap_base
	 * moves by num at each flip of avail_wrap. */
	uint64_t lap_base; /* descriptors of the laps before this one */
	uint64_t kicked;   /* posted at the last kick_prepare (since then: the rest) */
	uint64_t chained;  /* descriptors past the first of each chain (posted - buffers) */
	/* The same for chains reaped or taken back: chained - chained_back are
	 * the descriptors in flight past each buffer's first, so the buffers in
	 * flight are num - num_free - (chained - chained_back)
	 * (vtio__vq_pk_inflight()): nothing counts them per add or reap. */
	uint64_t chained_back;
	uint64_t detached; /* buffers taken back by vtio_vq_detach_unused() */
	/* VIRTIO_F_IN_ORDER: buffer id = head slot; one used descriptor may
	 * complete every buffer up to the one it names. */
	bool batch_pending;  /* buffers up to batch_last are used */
	uint16_t batch_last; /* id of the batch's last buffer */
	uint32_t batch_len;  /* its used len */
};

/** Descriptors made available since the reset. */
static inline uint64_t vtio__vq_pk_posted(const struct vtio__vq_packed *p)
{
	return p->lap_base + p->next_avail;
}
/** Buffers made available since the reset (vtio_vq_get_stats()). */
static inline uint64_t vtio__vq_pk_added(const struct vtio__vq_packed *p)
{
	return vtio__vq_pk_posted(p) - p->chained;
}
/* The driver's avail wrap counter flipped (an add passed slot num - 1). */
static inline void vtio__vq_pk_flip_avail_wrap(struct vtio__vq_packed *p, uint32_t num)
{
	p->avail_wrap = !p->avail_wrap;
	p->avail_used = (uint16_t)(p->avail_used ^ (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED));
	p->lap_base += num;
}

/** Device-side packed state. */
struct vtio__devq_packed {
	uint16_t last_avail; /* next slot to look at for an available descriptor */
	bool avail_wrap;     /* device's expected avail wrap counter */
	bool used_wrap;	     /* device ring wrap counter (for used descriptors) */
	uint16_t
	    avail_au;	  /* AVAIL|USED of an available slot this lap (avail_wrap ? AVAIL : USED) */
	uint16_t used_au; /* AVAIL|USED of a used slot this lap (used_wrap ? both : 0) */
	uint16_t next_used;   /* next slot to write a used descriptor */
	uint16_t event_flags; /* shadow of the device event suppression flags */
	uint32_t outstanding; /* descriptors popped and not yet returned */
	/* used_base + next_used is every descriptor returned since the reset
	 * (vtio__devq_pk_returned()), kept off the per-push path: used_base
	 * moves by num at each flip of used_wrap. */
	uint64_t used_base; /* descriptors of the used laps before this one */
	uint64_t notified;  /* returned at the last notify decision (since then: the rest) */
};

/*
 * The wrap counters are only written through these, so the flags pattern
 * each implies (what the hot paths compare and store: one load, no
 * arithmetic per descriptor) always matches it.
 */
static inline void vtio__vq_pk_set_used_wrap(struct vtio__vq_packed *p, bool w)
{
	p->used_wrap = w;
	p->used_au = w ? (uint16_t)(VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED) : 0u;
}
/* The driver's used wrap counter flipped: one XOR for the pattern (no
 * constant in a register on the get_used paths). */
static inline void vtio__vq_pk_flip_used_wrap(struct vtio__vq_packed *p)
{
	p->used_wrap = !p->used_wrap;
	p->used_au = (uint16_t)(p->used_au ^ (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED));
}
static inline void vtio__devq_pk_set_avail_wrap(struct vtio__devq_packed *p, bool w)
{
	p->avail_wrap = w;
	p->avail_au = w ? VTIO_DESC_F_AVAIL : VTIO_DESC_F_USED; /* PACKED-DEV-4 */
}
static inline void vtio__devq_pk_set_used_wrap(struct vtio__devq_packed *p, bool w)
{
	p->used_wrap = w;
	p->used_au = w ? (uint16_t)(VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED) : 0u;
}
/* The device's wrap counters flipped (the lap after slot num - 1): both
 * patterns change bits AVAIL and USED, so one XOR each, no constant in a
 * register (devq hot paths). */
static inline void vtio__devq_pk_flip_avail_wrap(struct vtio__devq_packed *p)
{
	p->avail_wrap = !p->avail_wrap;
	p->avail_au = (uint16_t)(p->avail_au ^ (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED));
}
static inline void vtio__devq_pk_flip_used_wrap(struct vtio__devq_packed *p, uint32_t num)
{
	p->used_wrap = !p->used_wrap;
	p->used_au = (uint16_t)(p->used_au ^ (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED));
	p->used_base += num;
}
/* The used position after a push of at most num descriptors (one flip at
 * most). */
static inline void vtio__devq_pk_set_used_pos(struct vtio__devq_packed *p, uint32_t slot, bool wrap,
					      uint32_t num)
{
	if (wrap != p->used_wrap)
		p->used_base += num;
	p->next_used = (uint16_t)slot;
	vtio__devq_pk_set_used_wrap(p, wrap);
}
/** Descriptors returned since the reset. */
static inline uint64_t vtio__devq_pk_returned(const struct vtio__devq_packed *p)
{
	return p->used_base + p->next_used;
}

#endif /* VTIO_RING_PACKED_H */
