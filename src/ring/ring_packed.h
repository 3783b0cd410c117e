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
	uint32_t added;		  /* descriptors made available since the last kick_prepare */
	uint32_t detach_cursor;	  /* where vtio_vq_detach_unused() looks next */
	/* VIRTIO_F_IN_ORDER: buffer id = head slot; one used descriptor may
	 * complete every buffer up to the one it names. */
	bool batch_pending;  /* buffers up to batch_last are used */
	uint16_t batch_last; /* id of the batch's last buffer */
	uint32_t batch_len;  /* its used len */
};

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
	uint32_t pushed;      /* descriptors returned since the last notify decision */
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
static inline void vtio__devq_pk_flip_used_wrap(struct vtio__devq_packed *p)
{
	p->used_wrap = !p->used_wrap;
	p->used_au = (uint16_t)(p->used_au ^ (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED));
}

#endif /* VTIO_RING_PACKED_H */
