/*
 * Packed-ring straight-line paths, inline: vq.c and devq.c put them in the
 * public functions (vtio_vq_add, vtio_vq_get_used, vtio_devq_pop,
 * vtio_devq_push*), so a hot packed queue pays one call per operation, not
 * two, and nothing is re-loaded or re-checked between the public function
 * and the ring code (docs/packed-hot-paths.md). Each falls back to an
 * out-of-line function in vq_packed.c / devq_packed.c for everything off
 * the straight line, from the values it has already read (never re-read
 * from the ring: the peer may have rewritten them).
 *
 * Included by ring_internal.h after the queue structures. The caller has
 * checked vtio_vq::hot_packed / vtio_devq::hot_packed (VERSION_1, local
 * ring pointers, nothing to map, not broken; driver: not IN_ORDER).
 */
#ifndef VTIO_RING_PACKED_HOT_H
#define VTIO_RING_PACKED_HOT_H

#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS

/** AVAIL and USED bits of a packed descriptor's flags. */
#define VTIO__PK_AU (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED)

#if VTIO_CONFIG_DRIVER
/* The hot get_used's refusal of a used id (out of range, not in flight):
 * breaks the queue. @return NULL. */
void *vtio__vq_packed_used_bad_id(struct vtio_vq *vq, uint16_t id);

/*
 * One segment on a hot queue with a free slot (checked by the caller): the
 * descriptor's addr, len and id, the release store of its flags
 * (PACKED-DRV-7/8), then private bookkeeping. indir_addr and nseg are only
 * read for indirect buffers, ext[] addr/len/flags only for mapped ones.
 */
VTIO__ALWAYS_INLINE int vtio__vq_packed_add_one(struct vtio_vq *vq, const struct vtio_sg *sg,
						unsigned in, void *token)
{
	/* @p in is 1 for a device-writable segment, else 0 (in_num of the
	 * call): WRITE and the writable length follow from it without a
	 * branch or a compare. */
	struct vtio__vq_packed *p = &vq->u.packed;
	uint32_t head = p->next_avail;
	uint16_t id = p->free_head;
	uint32_t len = sg->len;
	struct vtio_packed_desc *d =
	    (struct vtio_packed_desc *)(void *)vq->area_ptr[VTIO__AREA_DESC] + head;
	d->addr = vtio_le64(sg->addr + vq->bus_offset);
	d->len = vtio_le32(len);
	d->id = vtio_le16(id); /* PACKED-DRV-12 */
	if (vq->dma_barriers)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16(&d->flags,
			     vtio_le16((uint16_t)(p->avail_used | in * VTIO_DESC_F_WRITE)));
	vtio__vq_buf_set_one(&vq->bufs[id], token, len & (0u - in), id);
	p->free_head = p->ext[id].next;
	/* PACKED-DRV-4: flip after slot num-1. */
	if (VTIO_UNLIKELY(++head >= vq->num)) {
		head = 0;
		vtio__vq_pk_flip_avail_wrap(p, vq->num);
	}
	p->next_avail = (uint16_t)head;
	/* No added or in-flight counts: kick_prepare and vtio_vq_get_stats()
	 * derive them from the position and num_free (vtio__vq_pk_posted(),
	 * vtio__vq_pk_inflight()). */
	vq->num_free--;
	return 0;
}

/*
 * get_used on a hot queue. The flags of the next slot are read only while
 * buffers are in flight (some descriptor held; with none, no slot can hold
 * a used descriptor of ours); id and len once each, after the flags (PACKED-DRV-14); the id
 * checked for range and flight before use; len clamped (PACKED-DRV-15).
 */
VTIO__ALWAYS_INLINE void *vtio__vq_packed_used_one(struct vtio_vq *vq, uint32_t *len)
{
	struct vtio__vq_packed *p = &vq->u.packed;
	if (vtio__vq_pk_idle(vq))
		return NULL;
	uint32_t slot = p->last_used;
	const volatile struct vtio_packed_desc *d =
	    (const volatile struct vtio_packed_desc *)(const void *)vq->area_ptr[VTIO__AREA_DESC] +
	    slot;
	uint16_t f = vtio_le16(vtio__load16_acquire_ptr(
	    (const unsigned char *)(const volatile void *)&d->flags, vq->dma_barriers));
	/* is_used(): AVAIL == USED == the wrap counter, as one compare. */
	if ((f & VTIO__PK_AU) != p->used_au)
		return NULL;
	uint16_t id = vtio_le16(d->id);
	uint32_t ulen = vtio_le32(d->len); /* CHECKLIST 3.3: whatever WRITE says */
	if (VTIO_UNLIKELY(id >= vq->num || vq->bufs[id].token == NULL))
		return vtio__vq_packed_used_bad_id(vq, id);
	/* The queue's fields are loaded again after the checks (compiler
	 * only; id and ulen are locals): fewer values live, no callee-saved
	 * register to save. */
	VTIO__PEER_COPY_BARRIER();
	struct vtio__vq_buf *b = &vq->bufs[id];
	void *token = b->token;
	uint32_t ndesc = b->ndesc;
	/* PACKED-DRV-14: advance by the buffer's own descriptor count. */
	slot += ndesc;
	if (slot >= vq->num) {
		slot -= vq->num;
		vtio__vq_pk_flip_used_wrap(p);
	}
	p->last_used = (uint16_t)slot;
	p->ext[b->last].next = p->free_head;
	p->free_head = id;
	vq->num_free += ndesc;
	/* A chain's further descriptors, counted back (no in-flight count:
	 * vtio__vq_pk_inflight()); never taken by one-segment buffers. */
	if (VTIO_UNLIKELY(ndesc != 1u))
		p->chained_back += ndesc - 1u;
	/* After the counts: fewer values live, no callee-saved register. */
	vtio__vq_indir_put(vq, b->indir); /* hot: nothing to unmap */
	b->token = NULL;
	/* PACKED-DRV-15/16: len clamped to the writable bytes (a clamp
	 * counted; stats.used is derived, vtio__vq_pk_used()). */
	return vtio__vq_clamp_used(vq, token, ulen, b->wr_len, len);
}
/*
 * more_used on a hot queue: the next slot's flags (acquire), only while
 * buffers are in flight, compared as get_used compares them. Not IN_ORDER
 * (hot_packed excludes it), so no batch is ever pending.
 */
static inline bool vtio__vq_packed_more_used_one(const struct vtio_vq *vq)
{
	const struct vtio__vq_packed *p = &vq->u.packed;
	if (vtio__vq_pk_idle(vq))
		return false;
	const volatile struct vtio_packed_desc *d =
	    (const volatile struct vtio_packed_desc *)(const void *)vq->area_ptr[VTIO__AREA_DESC] +
	    p->last_used;
	uint16_t f = vtio_le16(vtio__load16_acquire_ptr(
	    (const unsigned char *)(const volatile void *)&d->flags, vq->dma_barriers));
	return (f & VTIO__PK_AU) == p->used_au;
}
#endif /* VTIO_CONFIG_DRIVER */

#if VTIO_CONFIG_DEVICE
/*
 * The general pop from a head slot the straight line has already read
 * (flags found available, addr/len/id copied): lists, indirect tables,
 * buffers outside the view's first region, every refusal. The copies are
 * used, the slot is not read again.
 */
int vtio__devq_packed_pop_head(struct vtio_devq *q, struct vtio_devq_chain *c, uint64_t addr,
			       uint32_t len, uint16_t id, uint16_t flags);

/* The copies in the straight line's widths. */
static inline int vtio__devq_pk_general(struct vtio_devq *q, struct vtio_devq_chain *c,
					uint64_t addr, uint64_t len, uint64_t id, uint32_t flags)
{
	return vtio__devq_packed_pop_head(q, c, addr, (uint32_t)len, (uint16_t)id, (uint16_t)flags);
}

/*
 * Compiler-only barrier between the checks of a pop and its stores (no
 * instruction): the queue fields the checks loaded are loaded again after
 * it (one load, or a memory operand) instead of being held in registers
 * through the whole pop. Fewer values live at once, fewer callee-saved
 * registers to save and restore (GCC 12, x86-64, when it was added: 3
 * instead of 6, 70 -> 62 instructions per pop); nothing read from the ring
 * is affected (those are locals, read once before it).
 */
#define VTIO__PK_RELOAD() VTIO__PEER_COPY_BARRIER()

/*
 * id, ndesc = 1 and flags = 0 of a one-descriptor chain. Where the three
 * end in the chain's padding (LP64, ILP32), one 64-bit store; it covers
 * the 32-bit id/ndesc load of vtio_devq_handle_of() right after the pop,
 * so that load is forwarded from it (vtio__devq_chain_set_id()).
 */
static inline void vtio__devq_pk_chain_head(struct vtio_devq_chain *c, uint16_t id)
{
	const size_t at = offsetof(struct vtio_devq_chain, id);
	if (offsetof(struct vtio_devq_chain, ndesc) == at + 2u &&
	    offsetof(struct vtio_devq_chain, flags) == at + 4u &&
	    sizeof(struct vtio_devq_chain) >= at + 8u) {
		/* Built as an integer (a struct with padding makes GCC keep the
		 * padding's old bits): id, then ndesc 1, in memory order. */
#if VTIO_CONFIG_BIG_ENDIAN
		uint64_t v = (uint64_t)id << 48 | (uint64_t)1u << 32;
#else
		uint64_t v = (uint64_t)id | (uint64_t)1u << 16;
#endif
		VTIO_MEMCPY((unsigned char *)c + at, &v, 8);
	} else {
		vtio__devq_chain_set_id(c, id, 1);
		c->flags = 0;
	}
}

/*
 * The one-descriptor buffer (addr, len, id) of direction @p wr (a constant
 * at each call), checked by the caller except for what depends on the
 * direction: @p last = addr + len - 1, found without a carry (so len != 0).
 * When it lies in the view's first region with the permission the
 * direction needs (r0_first[wr] <= addr, last <= r0_last[wr]) and the
 * caller's array has room, take it: the ring position and the outstanding
 * count move on, the chain is filled, true. Else false, nothing written
 * (the general pop decides, and reports the error).
 */
VTIO__ALWAYS_INLINE bool vtio__devq_pk_take1(struct vtio_devq *q, struct vtio_devq_chain *c,
					     uint64_t last, uint64_t addr, uint64_t len,
					     uint64_t id, bool wr)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const int w = wr ? 1 : 0;
	if (VTIO_UNLIKELY((wr ? c->wr_max : c->rd_max) == 0 || addr < q->r0_first[w] ||
			  last > q->r0_last[w]))
		return false;
	VTIO__PK_RELOAD();
	/* The queue first: a store to the chain may alias it (reloads). */
	uint32_t slot = p->last_avail + 1u;
	if (VTIO_UNLIKELY(slot >= q->num)) {
		slot = 0;
		vtio__devq_pk_flip_avail_wrap(p);
	}
	p->last_avail = (uint16_t)slot;
	p->outstanding++;
	struct vtio_iov *v = wr ? c->wr : c->rd;
	v->ptr = (void *)((uintptr_t)addr + q->r0_delta); /* r0_host + off; host may be 0 */
	v->addr = addr;
	v->len = (uint32_t)len;
	/* The used direction first: the two directions' stores differ in
	 * order, so the compiler keeps them apart with immediates instead of
	 * merging them into one tail fed by registers. */
	if (wr) {
		c->wr_num = 1u;
		c->wr_len = len;
		c->rd_num = 0u;
		c->rd_len = 0u;
	} else {
		c->rd_num = 1u;
		c->rd_len = len;
		c->wr_num = 0u;
		c->wr_len = 0u;
	}
	vtio__devq_pk_chain_head(c, (uint16_t)id);
	return true;
}

/*
 * pop on a hot queue, @p dma its barrier kind (a constant at each call):
 * the head's flags (acquire), then addr, len and id, each read once
 * (PACKED-DEV-9); one descriptor without NEXT/INDIRECT in the first region
 * is done here, anything else goes to the general pop with the copies.
 * The id range and the outstanding count (a driver making more available
 * than the ring holds) are checked before use.
 */
VTIO__ALWAYS_INLINE int vtio__devq_packed_pop_one(struct vtio_devq *q, struct vtio_devq_chain *c,
						  const bool dma)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const volatile struct vtio_packed_desc *d =
	    (const volatile struct vtio_packed_desc *)(const void *)q->area_ptr[VTIO__AREA_DESC] +
	    p->last_avail;
	/* The fields in locals of the widths they are used in (flags 32-bit,
	 * len and id 64-bit): fewer copies to zero-extend. */
	uint32_t flags = vtio_le16(
	    vtio__load16_acquire_ptr((const unsigned char *)(const volatile void *)&d->flags, dma));
	/* PACKED-DEV-4 (is_avail): AVAIL == wrap, USED != wrap, as one compare,
	 * which also finds NEXT and INDIRECT clear (a list or a table: the
	 * general pop, from the copies; addr/len/id still read after the
	 * flags, once). */
	if (VTIO_UNLIKELY((flags & (VTIO__PK_AU | VTIO_DESC_F_NEXT | VTIO_DESC_F_INDIRECT)) !=
			  p->avail_au)) {
		if ((flags & VTIO__PK_AU) != p->avail_au)
			return VTIO_EAGAIN;
		uint64_t a = vtio_le64(d->addr);
		uint32_t l = vtio_le32(d->len);
		uint16_t i = vtio_le16(d->id);
		VTIO__PEER_FETCHED(d, 14);
		return vtio__devq_pk_general(q, c, a, l, i, flags);
	}
	uint64_t addr = vtio_le64(d->addr);
	uint64_t len = vtio_le32(d->len); /* one register for the 32- and 64-bit uses */
	uint64_t id = vtio_le16(d->id);
	VTIO__PEER_FETCHED(d, 14);
	/* [addr, last] with last = addr + len - 1 not carrying: no wrap past
	 * 2^64, and len != 0 (len 0 makes len - 1 all ones, which carries
	 * unless addr is 0; then last is UINT64_MAX, and a region holding both
	 * 0 and UINT64_MAX would be 2^64 long, so take1 refuses it). take1
	 * checks [addr, last] against the region. */
	uint64_t last = addr + (len - 1u);
	if (VTIO_LIKELY(p->outstanding < q->num && id < q->num && last >= addr)) {
		if (flags & VTIO_DESC_F_WRITE) {
			if (VTIO_LIKELY(vtio__devq_pk_take1(q, c, last, addr, len, id, true)))
				return 0;
		} else if (VTIO_LIKELY(vtio__devq_pk_take1(q, c, last, addr, len, id, false))) {
			return 0;
		}
	}
	/* the copies */
	return vtio__devq_pk_general(q, c, addr, len, id, flags);
}

/*
 * push of one chain of @p ndesc descriptors on a hot queue, @p dma its
 * barrier kind (a constant at each call); id from a popped chain, len
 * checked against it by the caller: len and id, the release store of the
 * flags (PACKED-DEV-7/8).
 * @return 0, or VTIO_EINVAL when more is returned than was popped.
 */
VTIO__ALWAYS_INLINE int vtio__devq_packed_push_one(struct vtio_devq *q, uint16_t id, uint16_t ndesc,
						   uint32_t len, const bool dma)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const uint32_t outstanding = p->outstanding;
	/* ndesc 0 wraps: one compare refuses it and ndesc > outstanding. */
	if (VTIO_UNLIKELY((uint32_t)ndesc - 1u >= outstanding))
		return VTIO_EINVAL; /* returning more than was popped: a caller bug */
	/* The queue first (fewer values live at once), then the ring: a ring
	 * store may alias the queue. */
	p->outstanding = outstanding - ndesc;
	/* No returned count: notify_prepare derives it from the position
	 * (vtio__devq_pk_returned()). */
	const uint32_t slot = p->next_used;
	/* PACKED-DEV-7, used len policy: WRITE whenever len > 0. */
	uint16_t f = (uint16_t)(p->used_au | (len ? VTIO_DESC_F_WRITE : 0u));
	uint32_t next = slot + ndesc;
	if (VTIO_UNLIKELY(next >= q->num)) {
		next -= q->num;
		vtio__devq_pk_flip_used_wrap(p, q->num);
	}
	p->next_used = (uint16_t)next;
	struct vtio_packed_desc *d =
	    (struct vtio_packed_desc *)(void *)q->area_ptr[VTIO__AREA_DESC] + slot;
	d->len = vtio_le32(len);
	d->id = vtio_le16(id);
	/* PACKED-DEV-8: id/len, write barrier (release), then the flags. */
	if (dma)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16(&d->flags, vtio_le16(f));
	return 0;
}
#endif /* VTIO_CONFIG_DEVICE */

#endif /* VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS */

#endif /* VTIO_RING_PACKED_HOT_H */
