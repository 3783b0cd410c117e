/* Driver side of the split ring.
 *
 * The driver keeps a CPU-order shadow of the descriptor table and of
 * avail->idx and never reads the descriptor table or the avail ring back
 * (read-free placement): it only writes them. It reads the used ring. */
#include "ring_internal.h"

#if VTIO_CONFIG_DRIVER && VTIO_CONFIG_SPLIT

size_t vtio__vq_split_state_size(uint32_t num)
{
	/* The descriptor shadow, then the avail ring's (16-byte aligned). */
	return (size_t)num * sizeof(struct vtio_split_desc) + vtio__align16((size_t)num * 2u);
}

void vtio__vq_split_reset(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	struct vtio_split_desc *shadow = s->shadow;
	uint16_t *avail_shadow = s->avail_shadow;
	/* Buffers added since the last kick_prepare are counted there (see
	 * vtio__vq_split_pending_added): fold them in before the indexes go. */
	vq->stats.added += vtio__vq_split_pending_added(vq);
	VTIO_MEMSET(s, 0, sizeof(*s));
	s->shadow = shadow;
	s->avail_shadow = avail_shadow;
	/* The areas were zeroed (reset_common): so are the shadows. */
	VTIO_MEMSET(avail_shadow, 0, (size_t)vq->num * 2u);
	s->mask = (uint16_t)(vq->num - 1u);
	for (uint32_t i = 0; i < vq->num; i++) {
		shadow[i].addr = 0;
		shadow[i].len = 0;
		shadow[i].flags = 0;
		shadow[i].next = (uint16_t)((i + 1u) & (vq->num - 1u));
	}
}

int vtio__vq_split_init(struct vtio_vq *vq, void *extra)
{
	VTIO_MEMSET(&vq->u.split, 0, sizeof(vq->u.split));
	vq->u.split.shadow = extra;
	vq->u.split.avail_shadow =
	    (uint16_t *)(void *)((unsigned char *)extra +
				 (size_t)vq->num * sizeof(struct vtio_split_desc));
	vtio__vq_split_reset(vq);
	return 0;
}

/* Write shadow descriptor i to the ring (wire format). @return 0 or the view's error. */
static inline int put_desc(struct vtio_vq *vq, uint16_t i)
{
	const struct vtio_split_desc *d = &vq->u.split.shadow[i];
	struct vtio_split_desc w;
	w.addr = vtio__w64(vq->legacy, d->addr);
	w.len = vtio__w32(vq->legacy, d->len);
	w.flags = vtio__w16(vq->legacy, d->flags);
	w.next = vtio__w16(vq->legacy, d->next);
	return vtio__vq_ring_write(vq, VTIO__AREA_DESC, (size_t)i * 16u, &w, sizeof(w));
}

/* Unmap the direct descriptors of a chain starting at @head (n of them),
 * from the private shadow. */
static void unmap_chain(struct vtio_vq *vq, uint16_t head, unsigned n)
{
	const struct vtio_split_desc *sh = vq->u.split.shadow;
	uint16_t i = head;
	for (unsigned k = 0; k < n; k++) {
		vtio__vq_unmap(vq, sh[i].addr, sh[i].len, (sh[i].flags & VTIO_DESC_F_WRITE) != 0);
		i = sh[i].next;
	}
}

/* Everything one added buffer needs recorded. */
struct add_rec {
	uint16_t head, last, ndesc;
	uint32_t indir; /* table number + 1, 0 when direct */
	uint64_t indir_addr;
	uint64_t wr_len; /* summed in 64 bits: a chain may carry exactly 4 GiB */
	uint32_t nseg;
};

/*
 * SPLIT-DRV-10: head into avail->ring[idx % num] (idx is published by
 * kick_prepare), then record the buffer as in flight. On a ring write error
 * nothing is recorded: the caller undoes its maps and breaks the queue.
 */
static inline int commit_buf(struct vtio_vq *vq, const struct add_rec *r, void *token, bool direct)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t slot = (uint16_t)(s->avail_idx & (vq->num - 1u));
	uint16_t h = vtio__w16(vq->legacy, r->head);
	s->avail_shadow[slot] = r->head; /* what the ring holds from now on */
	if (direct || VTIO_LIKELY(!VTIO__VQ_RING_MEM(vq)))
		VTIO_MEMCPY(vq->area_ptr[VTIO__AREA_DRIVER] + vtio_split_avail_ring_off(slot), &h,
			    2);
	else if (VTIO_UNLIKELY(vtio__vq_ring_write(vq, VTIO__AREA_DRIVER,
						   vtio_split_avail_ring_off(slot), &h, 2) != 0))
		return VTIO_EFAULT;
	struct vtio__vq_buf *b = &vq->bufs[r->head];
	b->token = token;
	b->wr_len = vtio__vq_sat32(r->wr_len);
	b->indir = r->indir;
	if (VTIO__VQ_INDIR(r->indir)) { /* only read for indirect buffers */
		b->indir_addr = r->indir_addr;
		b->nseg = r->nseg;
	}
	b->ndesc = r->ndesc;
	b->last = r->last;
	if (VTIO__VQ_IN_ORDER(vq))
		s->next_desc = (uint16_t)((r->head + r->ndesc) & (vq->num - 1u));
	else
		s->free_head = s->shadow[r->last].next;
	vq->num_free -= r->ndesc;
	vq->inflight++;
	s->avail_idx++;
	return 0;
}

/* A ring write failed during an add: undo the maps, break the queue. */
static VTIO__NOINLINE int add_failed(struct vtio_vq *vq, const struct add_rec *r)
{
	if (VTIO__VQ_INDIR(r->indir)) {
		vtio__vq_unmap_indirect(vq, r->indir - 1u, r->nseg, r->indir_addr);
		vtio__vq_indir_put(vq, r->indir);
	} else if (vq->do_map) {
		unmap_chain(vq, r->head, r->ndesc);
	}
	vtio__vq_break(vq, VTIO__VQ_ENOWRITE);
	return VTIO_EFAULT;
}

static VTIO__NOINLINE int add_chain(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned out_num,
				    unsigned in_num, void *token)
{
	struct vtio__vq_split *s = &vq->u.split;
	struct vtio_split_desc *sh = s->shadow;
	const uint16_t mask = (uint16_t)(vq->num - 1u);
	unsigned n = out_num + in_num;
	bool fits = n <= vq->num_free;
	struct add_rec r;
	int werr = 0;
	r.head = VTIO__VQ_IN_ORDER(vq) ? s->next_desc : s->free_head;
	r.wr_len = 0;
	r.nseg = n;

	if (n >= 2 && vtio__vq_want_indirect(vq, n, fits) && vq->num_free >= 1) {
		for (unsigned k = out_num; k < n; k++)
			r.wr_len += sg[k].len;
		uint32_t t = vtio__vq_indir_get(vq);
		uint64_t taddr;
		int err = vtio__vq_fill_indirect(vq, t - 1u, sg, out_num, in_num, &taddr);
		if (VTIO_UNLIKELY(err != 0)) {
			vtio__vq_indir_put(vq, t);
			return err;
		}
		sh[r.head].addr = taddr;
		sh[r.head].len = (uint32_t)(n * 16u);
		sh[r.head].flags = VTIO_DESC_F_INDIRECT;
		if (VTIO__VQ_IN_ORDER(vq))
			sh[r.head].next = (uint16_t)((r.head + 1u) & mask);
		werr = put_desc(vq, r.head);
		r.indir = t;
		r.indir_addr = taddr;
		r.ndesc = 1;
		r.last = r.head;
		vq->stats.indirect++;
	} else {
		if (VTIO_UNLIKELY(!fits))
			return VTIO_ENOSPC;
		/* Map and write each descriptor. On a map failure the ones
		 * written are unmapped; they were never exposed (neither the
		 * avail ring nor its idx was written), so the ring is unchanged
		 * as far as the device can tell. */
		uint16_t i = r.head;
		uint16_t last = r.head;
		for (unsigned k = 0; k < n; k++) {
			bool w = k >= out_num;
			uint64_t bus;
			int err = vtio__vq_map_fast(vq, sg[k].addr, sg[k].len, w, &bus);
			if (VTIO_UNLIKELY(err != 0)) {
				unmap_chain(vq, r.head, k);
				return err;
			}
			if (VTIO__VQ_IN_ORDER(vq))
				sh[i].next = (uint16_t)((i + 1u) & mask);
			sh[i].addr = bus;
			sh[i].len = sg[k].len;
			sh[i].flags = (uint16_t)((w ? VTIO_DESC_F_WRITE : 0u) |
						 (k + 1u < n ? VTIO_DESC_F_NEXT : 0u));
			if (w)
				r.wr_len += sg[k].len;
			werr |= put_desc(vq, i);
			last = i;
			i = sh[i].next;
		}
		r.indir = 0;
		r.indir_addr = 0;
		r.ndesc = (uint16_t)n;
		r.last = last;
	}
	if (VTIO_UNLIKELY(werr != 0 || commit_buf(vq, &r, token, false) != 0))
		return add_failed(vq, &r);
	return 0;
}

static VTIO__NOINLINE int add_general(struct vtio_vq *vq, const struct vtio_sg *sg,
				      unsigned out_num, unsigned in_num, void *token)
{
	struct vtio__vq_split *s = &vq->u.split;
	if (out_num + in_num == 1) {
		/* One segment: the common case, straight line. */
		struct add_rec r;
		uint64_t bus;
		bool w = in_num != 0;
		if (VTIO_UNLIKELY(vq->num_free == 0))
			return VTIO_ENOSPC;
		r.head = VTIO__VQ_IN_ORDER(vq) ? s->next_desc : s->free_head;
		int err = vtio__vq_map_fast(vq, sg[0].addr, sg[0].len, w, &bus);
		if (VTIO_UNLIKELY(err != 0))
			return err;
		struct vtio_split_desc *d = &s->shadow[r.head];
		if (VTIO__VQ_IN_ORDER(vq))
			d->next = (uint16_t)((r.head + 1u) & (vq->num - 1u));
		d->addr = bus;
		d->len = sg[0].len;
		d->flags = w ? VTIO_DESC_F_WRITE : 0;
		r.last = r.head;
		r.ndesc = 1;
		r.indir = 0;
		r.indir_addr = 0;
		r.wr_len = w ? sg[0].len : 0;
		r.nseg = 1;
		if (VTIO_UNLIKELY(put_desc(vq, r.head) != 0 ||
				  commit_buf(vq, &r, token, false) != 0))
			return add_failed(vq, &r);
		return 0;
	}
	return add_chain(vq, sg, out_num, in_num, token);
}

#if VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_IN_ORDER
void *vtio__vq_split_get_used_io(struct vtio_vq *vq, uint32_t *len)
{
	return vtio__vq_split_used_in_order_hot(vq, len);
}

/* NOLINTNEXTLINE(misc-no-recursion): one level (see vtio__vq_split_used_in_order_hot) */
VTIO__NOINLINE void *vtio__vq_split_get_used_io_batch(struct vtio_vq *vq, uint32_t *len,
						      uint32_t uid, uint32_t ulen)
{
	if (!vtio__vq_split_in_order_batch(vq, uid, ulen))
		return NULL;
	return vtio__vq_split_used_in_order_hot(vq, len); /* batch pending: takes the oldest */
}
#endif

int vtio__vq_split_add(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned out_num,
		       unsigned in_num, void *token)
{
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(out_num + in_num == 1 && vq->fast && vq->num_free != 0))
		return vtio__vq_split_add_one(vq, sg, in_num != 0, token, VTIO__VQ_IN_ORDER(vq));
#endif
	return add_general(vq, sg, out_num, in_num, token);
}

/*
 * Publish avail idx (SPLIT-DRV-12: descriptors and ring entries before idx,
 * a release store, with the DMA write barrier first on DMA-grade queues).
 * Reads nothing back. False when the ring refused the write (queue broken).
 */
bool vtio__vq_split_publish(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t new_idx = s->avail_idx;
	if (s->avail_published == new_idx)
		return true;
	if (VTIO_UNLIKELY(VTIO__VQ_RING_MEM(vq))) {
		if (VTIO_UNLIKELY(vtio__vq_store16_release(vq, VTIO__AREA_DRIVER, 2,
							   vtio__w16(vq->legacy, new_idx)) != 0)) {
			/* The device would never see these buffers: the queue is dead. */
			vtio__vq_break(vq, VTIO__VQ_ENOWRITE);
			return false;
		}
	} else {
		if (vq->dma_barriers)
			VTIO_DMA_WMB();
		VTIO_STORE_RELEASE16((uint16_t *)(void *)(vq->area_ptr[VTIO__AREA_DRIVER] + 2),
				     vtio__w16(vq->legacy, new_idx));
	}
	/* Counted when published, not per add (see vtio__vq_split_pending_added). */
	vq->stats.added += (uint16_t)(new_idx - s->avail_published);
	s->avail_published = new_idx;
	return true;
}

/* The suppression field read through vq->ring_mem. */
static VTIO__NOINLINE bool kick_decide_view(struct vtio_vq *vq, uint16_t old, uint16_t new_idx)
{
	uint16_t raw;
	size_t off = vq->event_idx ? vtio_split_avail_event_off(vq->num) : 0u;
	if (VTIO_UNLIKELY(vtio__vq_get16(vq, VTIO__AREA_DEVICE, off, &raw) != 0)) {
		vtio__vq_break(vq, VTIO__VQ_ENOREAD);
		return false;
	}
	if (vq->event_idx)
		return vtio_need_event(vtio__w16(vq->legacy, raw), new_idx, old) != 0;
	return (vtio__w16(vq->legacy, raw) & VTIO_USED_F_NO_NOTIFY) == 0;
}

bool vtio__vq_split_kick_prepare(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	/* The decision covers everything added since the last kick_prepare,
	 * whether or not vtio_vq_publish() already made it visible. */
	uint16_t old = s->kick_old;
	uint16_t new_idx = s->avail_idx;
	if (old == new_idx)
		return false;
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot | vq->hot_io))
		vtio__vq_split_publish_hot(vq);
	else
#endif
	    if (VTIO_UNLIKELY(!vtio__vq_split_publish(vq)))
		return false;
	s->kick_old = new_idx;
	/* Full barrier between publishing idx and reading the device's
	 * suppression field (CHECKLIST 3.6). */
	vtio__mb(vq->dma_barriers);
	if (VTIO_UNLIKELY(VTIO__VQ_RING_MEM(vq)))
		return kick_decide_view(vq, old, new_idx);
	unsigned char *used = vq->area_ptr[VTIO__AREA_DEVICE];
	if (vq->event_idx) {
		uint16_t ev = VTIO_READ_ONCE16(
		    (uint16_t *)(void *)(used + vtio_split_avail_event_off(vq->num)));
		return vtio_need_event(vtio__w16(vq->legacy, ev), new_idx, old) != 0;
	}
	uint16_t flags = VTIO_READ_ONCE16((uint16_t *)(void *)used);
	return (vtio__w16(vq->legacy, flags) & VTIO_USED_F_NO_NOTIFY) == 0;
}

uint32_t vtio__vq_split_notify_data(const struct vtio_vq *vq)
{
	/* NOTIF: the full 16-bit avail idx in bits 16-31. */
	return vtio_notification_data(vq->index, vq->u.split.avail_published);
}

/* Return buffer @head's descriptors to the free pool, unmapping them. */
static inline void detach(struct vtio_vq *vq, uint16_t head)
{
	struct vtio__vq_split *s = &vq->u.split;
	struct vtio__vq_buf *b = &vq->bufs[head];
	if (VTIO__VQ_INDIR(b->indir)) {
		vtio__vq_unmap_indirect(vq, b->indir - 1u, b->nseg, b->indir_addr);
		vtio__vq_indir_put(vq, b->indir);
	} else if (vq->do_map) {
		unmap_chain(vq, head, b->ndesc);
	}
	if (!VTIO__VQ_IN_ORDER(vq)) {
		s->shadow[b->last].next = s->free_head;
		s->free_head = head;
	}
	vq->num_free += b->ndesc;
	vq->inflight--;
	b->token = NULL;
}

/* Used idx from the ring, validated. Returns false (and breaks) on a jump
 * or a ring read error. */
static bool refresh_used_idx(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t raw;
	if (VTIO_UNLIKELY(vtio__vq_get16_acquire(vq, VTIO__AREA_DEVICE, 2, &raw) != 0)) {
		vtio__vq_break(vq, VTIO__VQ_ENOREAD);
		return false;
	}
	uint16_t idx = vtio__w16(vq->legacy, raw);
	if (VTIO_UNLIKELY((uint16_t)(idx - s->last_used) > vq->inflight)) {
		vtio__vq_break(vq, "used idx moved past the buffers in flight");
		return false;
	}
	s->used_idx = idx;
	return true;
}

/* Read used element at s->last_used into private memory. Returns false (and
 * breaks) when the ring view refuses: a zeroed element would name id 0. */
static bool read_used_elem(struct vtio_vq *vq, uint32_t *id, uint32_t *ulen)
{
	struct vtio__vq_split *s = &vq->u.split;
	struct vtio_split_used_elem e;
	/* SPLIT-DRV-15: idx (acquire) before the element. */
	if (VTIO_UNLIKELY(vtio__vq_ring_read(
			      vq, VTIO__AREA_DEVICE,
			      vtio_split_used_ring_off((uint16_t)(s->last_used & (vq->num - 1u))),
			      &e, sizeof(e)) != 0)) {
		vtio__vq_break(vq, VTIO__VQ_ENOREAD);
		return false;
	}
	VTIO__PEER_COPY_BARRIER();
	*id = vtio__w32(vq->legacy, e.id);
	*ulen = vtio__w32(vq->legacy, e.len);
	return true;
}

/*
 * IN_ORDER: the used entry at last_used names @p uid, not the oldest buffer
 * in flight: one entry for a batch (CHECKLIST 3.11). @p uid must be in
 * flight and reached from the oldest buffer, walking in order, within the
 * buffers used->idx says are used. Records the batch (the buffers up to
 * uid are used, uid with @p ulen) and returns true; false when the entry
 * is bad (the queue is broken).
 */
VTIO__NOINLINE bool vtio__vq_split_in_order_batch(struct vtio_vq *vq, uint32_t uid, uint32_t ulen)
{
	struct vtio__vq_split *s = &vq->u.split;
	const uint16_t mask = (uint16_t)(vq->num - 1u);
	if (VTIO_UNLIKELY(uid >= vq->num)) {
		vtio__vq_break(vq, "used id out of range");
		return false;
	}
	if (VTIO_UNLIKELY(vq->bufs[uid].token == NULL)) {
		vtio__vq_break(vq, "used id not in flight");
		return false;
	}
	uint16_t h = s->oldest;
	uint32_t k = 1;
	if (VTIO_LIKELY(!s->io_holes && vq->num - vq->num_free == vq->inflight)) {
		/* Every buffer in flight holds one descriptor (each holds at
		 * least one, and they hold inflight together): their heads are
		 * oldest, oldest + 1, ... in ring order, so the walk below would
		 * step one slot at a time. Its result without the walk (no
		 * chain of loads per buffer): uid is reached at step d + 1 when
		 * the walk gets that far (d <= inflight). */
		uint32_t d = (uid - h) & mask;
		k = d + 1u;
		if (d <= vq->inflight)
			h = (uint16_t)uid;
	} else {
		while (h != uid && k <= vq->inflight) {
			h = (uint16_t)((h + vq->bufs[h].ndesc) & mask);
			k++;
		}
	}
	if (VTIO_UNLIKELY(h != uid || k > (uint16_t)(s->used_idx - s->last_used))) {
		vtio__vq_break(vq, "used buffer out of order (IN_ORDER)");
		return false;
	}
	s->batch_pending = true;
	s->batch_last = (uint16_t)uid;
	s->batch_len = ulen;
	return true;
}

/* IN_ORDER reaping through the view or with unmapping (the general path). */
static VTIO__NOINLINE void *get_used_in_order(struct vtio_vq *vq, uint32_t *len)
{
	struct vtio__vq_split *s = &vq->u.split;
	const uint16_t mask = (uint16_t)(vq->num - 1u);
	uint16_t id = s->oldest;
	uint32_t ulen;

	if (s->batch_pending) {
		/* IN_ORDER batch: buffers before the named one are fully used. */
		if (id == s->batch_last) {
			s->batch_pending = false;
			ulen = s->batch_len;
		} else {
			ulen = vq->bufs[id].wr_len;
		}
	} else {
		if (s->last_used == s->used_idx) {
			if (!refresh_used_idx(vq) || s->last_used == s->used_idx)
				return NULL;
		}
		uint32_t uid;
		if (!read_used_elem(vq, &uid, &ulen))
			return NULL;
		if (uid != id || VTIO_UNLIKELY(vq->bufs[id].token == NULL)) {
			/* One entry for a batch: the buffers up to it, oldest first. */
			if (!vtio__vq_split_in_order_batch(vq, uid, ulen))
				return NULL;
			ulen = vq->bufs[id].wr_len;
		}
	}
	struct vtio__vq_buf *b = &vq->bufs[id];
	void *token = b->token;
	uint32_t wr_len = b->wr_len;
	s->oldest = (uint16_t)((id + b->ndesc) & mask);
	detach(vq, id);
	s->last_used++;
	return vtio__vq_finish_used(vq, token, ulen, wr_len, len);
}

VTIO__NOINLINE void *vtio__vq_split_get_used_slow(struct vtio_vq *vq, uint32_t *len)
{
	struct vtio__vq_split *s = &vq->u.split;
	if (VTIO_UNLIKELY(VTIO__VQ_IN_ORDER(vq)))
		return get_used_in_order(vq, len);
	if (s->last_used == s->used_idx) {
		if (!refresh_used_idx(vq) || s->last_used == s->used_idx)
			return NULL;
	}
	/* SPLIT-DRV-15: idx (acquire) before the element; id < num and in flight. */
	uint32_t id, ulen;
	if (!read_used_elem(vq, &id, &ulen))
		return NULL;
	if (VTIO_UNLIKELY(id >= vq->num)) {
		vtio__vq_break(vq, "used id out of range");
		return NULL;
	}
	struct vtio__vq_buf *b = &vq->bufs[id];
	void *token = b->token;
	if (VTIO_UNLIKELY(token == NULL)) {
		vtio__vq_break(vq, "used id not in flight");
		return NULL;
	}
	uint32_t wr_len = b->wr_len;
	if (VTIO_LIKELY(!VTIO__VQ_INDIR(b->indir) && !vq->do_map)) {
		/* Direct, unmapped: give the chain back to the free list. */
		s->shadow[b->last].next = s->free_head;
		s->free_head = (uint16_t)id;
		vq->num_free += b->ndesc;
		vq->inflight--;
		b->token = NULL;
	} else {
		detach(vq, (uint16_t)id);
	}
	s->last_used++;
	return vtio__vq_finish_used(vq, token, ulen, wr_len, len);
}

#if VTIO_CONFIG_FAST_PATHS
/*
 * vtio_vq_add_batch on a fast queue (hot or hot_io): vtio__vq_split_put_one()
 * per buffer with the free list head (or IN_ORDER's next descriptor), the
 * avail index and the counters in registers, stored once. Nothing is
 * published: vtio_vq_publish() / vtio_vq_kick_prepare() do that, as after
 * single adds. An entry that is not a valid one-segment buffer (len 0,
 * NULL token) ends the batch before it.
 */
static inline int add_batch_fast(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n, bool w,
				 void *const *tokens, bool in_order)
{
	struct vtio__vq_split *s = &vq->u.split;
	const uint16_t mask = s->mask;
	const struct vtio_split_desc *shadow = s->shadow;
	uint16_t free_head = s->free_head, next_desc = s->next_desc;
	uint16_t avail_idx = s->avail_idx;
	unsigned k = n < vq->num_free ? n : vq->num_free;
	unsigned i = 0;
	for (; i < k; i++) {
		void *token = tokens[i];
		if (VTIO_UNLIKELY(sg[i].len == 0 || token == NULL))
			break;
		uint16_t head;
		if (in_order) {
			head = next_desc;
			next_desc = (uint16_t)((head + 1u) & mask);
		} else {
			head = free_head;
			free_head = shadow[head].next;
		}
		vtio__vq_split_put_one(vq, &sg[i], w, token, head, (uint32_t)avail_idx & mask);
		avail_idx++;
	}
	if (in_order)
		s->next_desc = next_desc;
	else
		s->free_head = free_head;
	s->avail_idx = avail_idx;
	vq->num_free -= i;
	vq->inflight += i;
	if (VTIO_LIKELY(i != 0))
		return (int)i;
	/* Nothing added: the first entry's answer, as vtio_vq_add() gives it. */
	return sg[0].len == 0 || tokens[0] == NULL ? VTIO_EINVAL : VTIO_ENOSPC;
}

int vtio__vq_split_add_batch(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n, bool w,
			     void *const *tokens)
{
	if (VTIO__VQ_IN_ORDER(vq))
		return add_batch_fast(vq, sg, n, w, tokens, true);
	return add_batch_fast(vq, sg, n, w, tokens, false);
}

/*
 * vtio_vq_get_used_batch on a hot queue (not IN_ORDER): the checks of
 * vtio__vq_split_used_hot() per entry (used->idx acquire before the
 * entries and no further ahead than the buffers in flight, each entry
 * copied once, the id's range and flight, the clamp), with the ring
 * position, the free list head and the counters in registers. used->idx is
 * read again only when the entries it announced are taken. Anything off
 * the line stores the state back and goes to the general get_used, which
 * re-reads and breaks the queue (or takes the entry if it is good now).
 */
static inline int used_batch_hot(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n,
				 bool barriers)
{
	struct vtio__vq_split *s = &vq->u.split;
	const unsigned char *used = vq->area_ptr[VTIO__AREA_DEVICE];
	struct vtio_split_desc *shadow = s->shadow;
	const uint16_t mask = s->mask;
	const uint32_t num = vq->num;
	const bool legacy = vq->legacy;
	uint16_t last_used = s->last_used, used_idx = s->used_idx;
	uint16_t free_head = s->free_head;
	uint32_t inflight = vq->inflight, freed = 0, clamped = 0;
	bool slow = false;
	unsigned k = 0;
	while (k < n) {
		if (last_used == used_idx) {
			uint16_t idx =
			    vtio__w16(legacy, vtio__load16_acquire_ptr(used + 2, barriers));
			if (idx == last_used)
				break;
			if (VTIO_UNLIKELY((uint16_t)(idx - last_used) > inflight)) {
				slow = true;
				break;
			}
			used_idx = idx;
		}
		struct vtio_split_used_elem e;
		VTIO_MEMCPY(&e, used + vtio_split_used_ring_off((uint32_t)last_used & mask),
			    sizeof(e));
		VTIO__PEER_COPY_BARRIER();
		uint32_t id = vtio__w32(legacy, e.id);
		uint32_t ulen = vtio__w32(legacy, e.len);
		if (VTIO_UNLIKELY(id >= num || vq->bufs[id].token == NULL)) {
			slow = true;
			break;
		}
		/* As vtio__vq_split_used_hot() takes it (nothing to unmap). */
		struct vtio__vq_buf *b = &vq->bufs[id];
		tokens[k] = b->token;
		vtio__vq_indir_put(vq, b->indir);
		shadow[b->last].next = free_head;
		free_head = (uint16_t)id;
		freed += b->ndesc;
		b->token = NULL;
		/* SPLIT-DRV-16: len clamped to the writable bytes, counted. */
		if (VTIO_UNLIKELY(ulen > b->wr_len)) {
			ulen = b->wr_len;
			clamped++;
		}
		inflight--;
		last_used++;
		if (lens != NULL)
			lens[k] = ulen;
		k++;
	}
	s->last_used = last_used;
	s->used_idx = used_idx;
	s->free_head = free_head;
	vq->num_free += freed;
	vq->inflight = inflight;
	vq->stats.used += k;
	vq->stats.len_clamped += clamped;
	if (VTIO_UNLIKELY(slow)) {
		uint32_t l;
		void *t = vtio__vq_split_get_used_slow(vq, &l);
		if (t != NULL) {
			tokens[k] = t;
			if (lens != NULL)
				lens[k] = l;
			k++;
		}
	}
	return vtio__vq_used_batch_result(vq, k);
}

int vtio__vq_split_get_used_batch(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n)
{
	if (vq->dma_barriers)
		return used_batch_hot(vq, tokens, lens, n, true);
	return used_batch_hot(vq, tokens, lens, n, false);
}
#endif

void *vtio__vq_split_get_used(struct vtio_vq *vq, uint32_t *len)
{
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot))
		return vtio__vq_split_used_hot(vq, len);
	if (VTIO__VQ_IN_ORDER(vq) && vq->hot_io)
		return vtio__vq_split_used_in_order_hot(vq, len);
#endif
	return vtio__vq_split_get_used_slow(vq, len); /* ring_mem or unmapping */
}

bool vtio__vq_split_more_used(const struct vtio_vq *vq)
{
	const struct vtio__vq_split *s = &vq->u.split;
	if (s->batch_pending || s->last_used != s->used_idx)
		return true;
	uint16_t raw;
	if (VTIO_UNLIKELY(vtio__vq_get16_acquire(vq, VTIO__AREA_DEVICE, 2, &raw) != 0))
		return true; /* the next get_used re-reads, breaks and returns NULL */
	return vtio__w16(vq->legacy, raw) != s->last_used;
}

void vtio__vq_split_disable_cb(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	int err = 0;
	if (vq->event_idx) {
		/* With EVENT_IDX the flags stay 0 (CHECKLIST 3.4); an event half the
		 * index space away is never crossed by one burst of at most num. */
		s->used_event = (uint16_t)(s->last_used + 0x8000u);
		err = vtio__vq_write16(vq, VTIO__AREA_DRIVER, vtio_split_used_event_off(vq->num),
				       vtio__w16(vq->legacy, s->used_event));
	} else if (!(s->avail_flags & VTIO_AVAIL_F_NO_INTERRUPT)) {
		s->avail_flags |= VTIO_AVAIL_F_NO_INTERRUPT;
		err = vtio__vq_write16(vq, VTIO__AREA_DRIVER, 0,
				       vtio__w16(vq->legacy, s->avail_flags));
	}
	if (VTIO_UNLIKELY(err != 0))
		vtio__vq_break(vq, VTIO__VQ_ENOWRITE);
}

/* Write the event/flags, full barrier, re-read used->idx into *idx.
 * Returns false (queue broken) on a ring access error. */
static bool enable_at(struct vtio_vq *vq, uint16_t event, uint16_t *idx)
{
	struct vtio__vq_split *s = &vq->u.split;
	int err = 0;
	if (vq->event_idx) {
		s->used_event = event;
		err = vtio__vq_write16(vq, VTIO__AREA_DRIVER, vtio_split_used_event_off(vq->num),
				       vtio__w16(vq->legacy, event));
	} else if (s->avail_flags & VTIO_AVAIL_F_NO_INTERRUPT) {
		s->avail_flags &= (uint16_t)~VTIO_AVAIL_F_NO_INTERRUPT;
		err = vtio__vq_write16(vq, VTIO__AREA_DRIVER, 0,
				       vtio__w16(vq->legacy, s->avail_flags));
	}
	if (VTIO_UNLIKELY(err != 0)) {
		vtio__vq_break(vq, VTIO__VQ_ENOWRITE);
		return false;
	}
	/* CHECKLIST 3.6: a plain wmb here loses wake-ups. */
	vtio__mb(vq->dma_barriers);
	uint16_t raw;
	if (VTIO_UNLIKELY(vtio__vq_get16_acquire(vq, VTIO__AREA_DEVICE, 2, &raw) != 0)) {
		vtio__vq_break(vq, VTIO__VQ_ENOREAD);
		return false;
	}
	*idx = vtio__w16(vq->legacy, raw);
	return true;
}

bool vtio__vq_split_enable_cb(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t idx;
	if (!enable_at(vq, s->last_used, &idx))
		return true; /* broken: as vtio_vq_enable_cb() on a broken queue */
	if (s->batch_pending)
		return false;
	return idx == s->last_used;
}

bool vtio__vq_split_enable_cb_delayed(struct vtio_vq *vq)
{
	struct vtio__vq_split *s = &vq->u.split;
	uint16_t pending = (uint16_t)(s->avail_idx - s->last_used);
	uint16_t bufs = (uint16_t)(pending * 3u / 4u);
	uint16_t idx;
	if (!enable_at(vq, (uint16_t)(s->last_used + bufs), &idx))
		return true;
	if (s->batch_pending)
		return false;
	return (uint16_t)(idx - s->last_used) <= bufs;
}

void *vtio__vq_split_detach_unused(struct vtio_vq *vq)
{
	for (uint32_t i = 0; i < vq->num; i++) {
		void *token = vq->bufs[i].token;
		if (token != NULL) {
			if (VTIO__VQ_IN_ORDER(vq))
				vq->u.split.io_holes = true; /* cleared by reset */
			detach(vq, (uint16_t)i);
			return token;
		}
	}
	return NULL;
}

#endif /* VTIO_CONFIG_DRIVER && VTIO_CONFIG_SPLIT */
