/*
 * Split-ring straight-line paths, inline: vq.c and devq.c put them in the
 * public functions (one call for an add, a get_used, a pop or a push on a
 * hot queue: no second call, no argument re-load), and vq_split.c /
 * devq_split.c use them on their own entries. Each falls back to an
 * out-of-line general function, declared here, for everything off the
 * straight line (which then re-checks and breaks the queue as needed).
 *
 * Included by ring_internal.h after the queue structures.
 */
#ifndef VTIO_RING_SPLIT_H
#define VTIO_RING_SPLIT_H

#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_DEVICE

/*
 * A used element {id, len} in wire format as the 8 bytes the ring holds,
 * as one integer (built in a register: no round trip through memory or
 * vector registers).
 */
static inline uint64_t vtio__devq_split_used_word(bool legacy, uint32_t id, uint32_t len)
{
	uint64_t wid = vtio__w32(legacy, id), wlen = vtio__w32(legacy, len);
#if VTIO_CONFIG_BIG_ENDIAN
	return (wid << 32) | wlen; /* id's bytes first in memory */
#else
	return wid | (wlen << 32);
#endif
}

/*
 * Write used element @p slot of the local used ring @p used, unless the
 * device's shadow @p sh says it already holds element word @p v (written
 * there a lap ago: the line the driver has cached stays valid).
 */
static inline void vtio__devq_split_put_used_word(uint64_t *sh, unsigned char *used, uint32_t slot,
						  uint64_t v)
{
	if (sh[slot] != v) {
		VTIO_MEMCPY(used + vtio_split_used_ring_off(slot), &v, 8);
		sh[slot] = v;
	}
}

/* The same for one element {id, len} of queue @p q. */
static inline void vtio__devq_split_put_used(struct vtio_devq *q, unsigned char *used,
					     uint32_t slot, uint32_t id, uint32_t len)
{
	vtio__devq_split_put_used_word(q->u.split.used_shadow, used, slot,
				       vtio__devq_split_used_word(q->legacy, id, len));
}
#endif

#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS

#if VTIO_CONFIG_DRIVER
/* The general get_used (any split queue: view, unmapping, IN_ORDER, and
 * every refusal of a used entry, which breaks the queue). */
void *vtio__vq_split_get_used_slow(struct vtio_vq *vq, uint32_t *len);
/* IN_ORDER: a used entry naming a later buffer than the oldest (one entry
 * for a batch): validate and record it. False when the queue broke. */
bool vtio__vq_split_in_order_batch(struct vtio_vq *vq, uint32_t uid, uint32_t ulen);
/* The same from the straight line, as a tail call (no registers kept
 * across it): records the batch, then takes its oldest buffer. */
void *vtio__vq_split_get_used_io_batch(struct vtio_vq *vq, uint32_t *len, uint32_t uid,
				       uint32_t ulen);

/*
 * One segment as descriptor @p head, named by avail->ring[@p slot], on a
 * fast queue: the descriptor, the ring entry and the buffer's record; no
 * index or counter (the single add and the batch loop keep those their own
 * way). A linear DMA stack adds its offset here. The next link of a free
 * descriptor stays as it is (IN_ORDER does not use it).
 */
static inline void vtio__vq_split_put_one(struct vtio_vq *vq, const struct vtio_sg *sg, bool w,
					  void *token, uint16_t head, uint32_t slot)
{
	struct vtio__vq_split *s = &vq->u.split;
	/* addr, len, flags; not next: without NEXT the device ignores it
	 * (SPLIT-DRV-9 / INORD-DRV-1 concern chained descriptors only). The
	 * shadow holds what the ring's descriptor holds (every write of the
	 * table goes through it): when it already says this, nothing is
	 * written, and the line the device read last time stays valid in its
	 * cache. The device never writes the table (SPLIT-DRV-14); the driver
	 * never reads it. */
	uint32_t len = sg[0].len;
	uint64_t addr = sg[0].addr + vq->bus_offset;
	uint16_t flags = w ? VTIO_DESC_F_WRITE : 0u;
	struct vtio_split_desc *sd = &s->shadow[head];
	if (sd->addr != addr || sd->len != len || sd->flags != flags) {
		unsigned char *dp = vq->area_ptr[VTIO__AREA_DESC] + (size_t)head * 16u;
		uint64_t waddr = vtio__w64(vq->legacy, addr);
		uint32_t wlen = vtio__w32(vq->legacy, len);
		uint16_t wflags = vtio__w16(vq->legacy, flags);
		VTIO_MEMCPY(dp, &waddr, 8);
		VTIO_MEMCPY(dp + 8, &wlen, 4);
		VTIO_MEMCPY(dp + 12, &wflags, 2);
		sd->addr = addr;
		sd->len = len;
		sd->flags = flags;
	}
	/* SPLIT-DRV-10: head into avail->ring[idx % num] (unless it is there
	 * already, per the shadow); publish / kick_prepare publishes idx. */
	if (s->avail_shadow[slot] != head) {
		uint16_t h = vtio__w16(vq->legacy, head);
		VTIO_MEMCPY(vq->area_ptr[VTIO__AREA_DRIVER] + vtio_split_avail_ring_off(slot), &h,
			    2);
		s->avail_shadow[slot] = head;
	}
	/* Direct buffer: indir_addr and nseg are only read when indir != 0. */
	vtio__vq_buf_set_one(&vq->bufs[head], token, w ? len : 0u, head);
}

/* One segment on a fast queue with a free descriptor (checked by the caller). */
VTIO__ALWAYS_INLINE int vtio__vq_split_add_one(struct vtio_vq *vq, const struct vtio_sg *sg, bool w,
					       void *token, bool in_order)
{
	struct vtio__vq_split *s = &vq->u.split;
	/* One segment, direct ring, nothing to map out of line: no calls,
	 * so no spills. */
	const uint16_t mask = s->mask;
	uint16_t head;
	if (in_order) {
		head = s->next_desc;
		s->next_desc = (uint16_t)((head + 1u) & mask);
	} else {
		head = s->free_head;
		s->free_head = s->shadow[head].next;
	}
	vtio__vq_split_put_one(vq, sg, w, token, head, (uint32_t)s->avail_idx & mask);
	vq->num_free--;
	vq->inflight++;
	s->avail_idx++;
	return 0;
}

static inline void *vtio__vq_split_used_hot(struct vtio_vq *vq, uint32_t *len)
{
	struct vtio__vq_split *s = &vq->u.split;
	if (s->last_used == s->used_idx) {
		uint16_t idx = vtio__w16(
		    vq->legacy, vtio__load16_acquire_ptr(vq->area_ptr[VTIO__AREA_DEVICE] + 2,
							 vq->dma_barriers));
		if (idx == s->last_used)
			return NULL;
		if (VTIO_UNLIKELY((uint16_t)(idx - s->last_used) > vq->inflight))
			return vtio__vq_split_get_used_slow(vq, len); /* breaks the queue */
		s->used_idx = idx;
	}
	struct vtio_split_used_elem e;
	VTIO_MEMCPY(&e,
		    vq->area_ptr[VTIO__AREA_DEVICE] +
			vtio_split_used_ring_off((uint32_t)s->last_used & s->mask),
		    sizeof(e));
	VTIO__PEER_COPY_BARRIER();
	uint32_t id = vtio__w32(vq->legacy, e.id);
	uint32_t ulen = vtio__w32(vq->legacy, e.len);
	if (VTIO_UNLIKELY(id >= vq->num || vq->bufs[id].token == NULL))
		return vtio__vq_split_get_used_slow(
		    vq, len); /* re-reads the entry and breaks the queue */
	struct vtio__vq_buf *b = &vq->bufs[id];
	void *token = b->token;
	vtio__vq_indir_put(vq, b->indir); /* fast: nothing to unmap on this path */
	s->shadow[b->last].next = s->free_head;
	s->free_head = (uint16_t)id;
	vq->num_free += b->ndesc;
	vq->inflight--;
	b->token = NULL;
	s->last_used++;
	return vtio__vq_finish_used(vq, token, ulen, b->wr_len, len);
}

/*
 * IN_ORDER reaping on a fast queue (local ring, nothing to unmap): the
 * straight-line path. The buffer taken is always the oldest in flight;
 * a used entry is read only when no batch is pending, and only an entry
 * naming another buffer (one entry for a batch) leaves the line.
 */
/* Recursion is one level deep: the batch call sets batch_pending, so the
 * call back takes the pending branch and never recurses again. */
/* NOLINTNEXTLINE(misc-no-recursion) */
VTIO__ALWAYS_INLINE void *vtio__vq_split_used_in_order_hot(struct vtio_vq *vq, uint32_t *len)
{
	struct vtio__vq_split *s = &vq->u.split;
	const uint16_t mask = s->mask;
	uint16_t id = s->oldest;
	uint32_t ulen;
	if (VTIO_UNLIKELY(s->batch_pending)) {
		if (id == s->batch_last) {
			s->batch_pending = false;
			ulen = s->batch_len;
		} else {
			ulen = vq->bufs[id].wr_len;
		}
	} else {
		if (s->last_used == s->used_idx) {
			uint16_t idx = vtio__w16(
			    vq->legacy, vtio__load16_acquire_ptr(
					    vq->area_ptr[VTIO__AREA_DEVICE] + 2, vq->dma_barriers));
			if (idx == s->last_used)
				return NULL;
			if (VTIO_UNLIKELY((uint16_t)(idx - s->last_used) > vq->inflight))
				return vtio__vq_split_get_used_slow(
				    vq, len); /* re-reads idx, breaks the queue */
			s->used_idx = idx;
		}
		/* SPLIT-DRV-15: idx (acquire) before the element, copied once. */
		struct vtio_split_used_elem e;
		VTIO_MEMCPY(&e,
			    vq->area_ptr[VTIO__AREA_DEVICE] +
				vtio_split_used_ring_off((uint16_t)(s->last_used & mask)),
			    sizeof(e));
		VTIO__PEER_COPY_BARRIER();
		uint32_t uid = vtio__w32(vq->legacy, e.id);
		ulen = vtio__w32(vq->legacy, e.len);
		/* The oldest buffer is in flight whenever used->idx is ahead
		 * (checked against inflight above); the token test guards a
		 * queue emptied by vtio_vq_detach_unused(). */
		if (VTIO_UNLIKELY(uid != id || vq->bufs[id].token == NULL))
			return vtio__vq_split_get_used_io_batch(vq, len, uid, ulen);
	}
	struct vtio__vq_buf *b = &vq->bufs[id];
	void *token = b->token;
	vtio__vq_indir_put(vq, b->indir); /* fast: nothing to unmap on this path */
	s->oldest = (uint16_t)((id + b->ndesc) & mask);
	vq->num_free += b->ndesc;
	vq->inflight--;
	b->token = NULL;
	s->last_used++;
	return vtio__vq_finish_used(vq, token, ulen, b->wr_len, len);
}
/*
 * Publish avail idx on a hot queue (local ring): SPLIT-DRV-12, descriptors
 * and ring entries before idx, a release store (the DMA write barrier first
 * on DMA-grade queues). Reads nothing back. Counts the buffers published.
 */
static inline void vtio__vq_split_publish_hot(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t new_idx = s->avail_idx;
	uint16_t old = s->avail_published;
	if (new_idx == old)
		return;
	if (vq->dma_barriers)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16((uint16_t *)(void *)(vq->area_ptr[VTIO__AREA_DRIVER] + 2),
			     vtio__w16(vq->legacy, new_idx));
	/* Counted when published, not per add (see vtio__vq_split_pending_added). */
	vq->stats.added += (uint16_t)(new_idx - old);
	s->avail_published = new_idx;
}

/*
 * more_used on a hot queue: the shadow first; used->idx (acquire) only when
 * the shadow says nothing is left. Validated by the get_used that follows.
 */
static inline bool vtio__vq_split_more_used_hot(const struct vtio_vq *vq)
{
	const struct vtio__vq_split *s = &vq->u.split;
	if (s->batch_pending || s->last_used != s->used_idx)
		return true;
	return vtio__w16(vq->legacy, vtio__load16_acquire_ptr(vq->area_ptr[VTIO__AREA_DEVICE] + 2,
							      vq->dma_barriers)) != s->last_used;
}
#endif /* VTIO_CONFIG_DRIVER */

#if VTIO_CONFIG_DEVICE
/* The general walk from a head descriptor the fast pop has copied (wire
 * format, by value: read once). */
int vtio__devq_split_walk_from_head(struct vtio_devq *q, struct vtio_devq_chain *c, uint16_t head,
				    struct vtio_split_desc w);
/* The fast pop's refusals, out of line: the queue breaks with the error. */
int vtio__devq_split_bad_idx(struct vtio_devq *q);
int vtio__devq_split_bad_head(struct vtio_devq *q);

static inline int vtio__devq_split_pop_fast(struct vtio_devq *q, struct vtio_devq_chain *c)
{
	struct vtio__devq_split *s = &q->u.split;
	if (s->last_avail == s->avail_idx) {
		/* SPLIT-DEV-8: idx (acquire), validated, before ring entries. */
		uint16_t idx = vtio__w16(
		    q->legacy,
		    vtio__load16_acquire_ptr(q->area_ptr[VTIO__AREA_DRIVER] + 2, q->dma_barriers));
		if (idx == s->last_avail)
			return VTIO_EAGAIN;
		if (VTIO_UNLIKELY((uint16_t)(idx - s->last_avail) > q->num))
			return vtio__devq_split_bad_idx(q);
		s->avail_idx = idx;
	}
	/* Avail entry and head descriptor are each read once, here: the
	 * general walk gets the copies (read once, TOCTOU). */
	uint16_t raw;
	vtio__peer_copy(&raw,
			q->area_ptr[VTIO__AREA_DRIVER] +
			    vtio_split_avail_ring_off((uint32_t)s->last_avail & s->mask),
			2);
	uint16_t head = vtio__w16(q->legacy, raw);
	if (VTIO_UNLIKELY(head >= q->num))
		return vtio__devq_split_bad_head(q);
	/* One-descriptor chain in the view's first region: copied once to
	 * private memory, checked, used from the copy. */
	struct vtio_split_desc w;
	vtio__peer_copy(&w, q->area_ptr[VTIO__AREA_DESC] + (size_t)head * 16u, sizeof(w));
	uint16_t flags = vtio__w16(q->legacy, w.flags);
	uint64_t addr = vtio__w64(q->legacy, w.addr);
	uint32_t len = vtio__w32(q->legacy, w.len);
	/* No NEXT, no INDIRECT: one path per direction, each with
	 * constants (other flag bits are ignored, as in the walk). */
	uint16_t kind =
	    (uint16_t)(flags & (VTIO_DESC_F_NEXT | VTIO_DESC_F_INDIRECT | VTIO_DESC_F_WRITE));
	bool done = false;
	if (kind == VTIO_DESC_F_WRITE)
		done = vtio__devq_one_piece(q, c, addr, len, true);
	else if (kind == 0)
		done = vtio__devq_one_piece(q, c, addr, len, false);
	if (VTIO_LIKELY(done)) {
		vtio__devq_chain_set_id(c, head, 1);
		c->flags = 0;
		s->last_avail++;
		return 0;
	}
	return vtio__devq_split_walk_from_head(q, c, head, w); /* the copy, not the ring */
}

static inline int vtio__devq_split_push_one(struct vtio_devq *q, uint16_t id, uint32_t len)
{
	struct vtio__devq_split *s = &q->u.split;
	unsigned char *used = q->area_ptr[VTIO__AREA_DEVICE]; /* hot: local ring */
	vtio__devq_split_put_used(q, used, (uint32_t)s->used_idx & s->mask, id, len);
	/* SPLIT-DEV-5/7: element, write barrier (release), then idx. */
	s->used_idx++;
	if (q->dma_barriers)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16((uint16_t *)(void *)(used + 2), vtio__w16(q->legacy, s->used_idx));
	return 0;
}
/*
 * more_avail on a hot queue: the shadow first; avail->idx (acquire) only
 * when the shadow is exhausted, validated (SPLIT-DEV-8) and kept in the
 * shadow for the pops that follow.
 */
static inline bool vtio__devq_split_more_avail_hot(struct vtio_devq *q)
{
	struct vtio__devq_split *s = &q->u.split;
	if (s->last_avail != s->avail_idx)
		return true;
	uint16_t idx =
	    vtio__w16(q->legacy, vtio__load16_acquire_ptr(q->area_ptr[VTIO__AREA_DRIVER] + 2,
							  q->dma_barriers));
	if (idx == s->last_avail)
		return false;
	if (VTIO_UNLIKELY((uint16_t)(idx - s->last_avail) > q->num)) {
		(void)vtio__devq_split_bad_idx(q);
		return false;
	}
	s->avail_idx = idx;
	return true;
}
#endif /* VTIO_CONFIG_DEVICE */

#endif /* VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS */
#endif /* VTIO_RING_SPLIT_H */
