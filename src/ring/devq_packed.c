/* Device side of the packed ring.
 *
 * The device reads available descriptors by their AVAIL/USED bits against
 * its wrap counter, copies each one to private memory before checking it
 * (TOCTOU), and writes used descriptors in place over slots it has already
 * consumed. The descriptor ring is therefore read AND written by both sides;
 * the event suppression areas are each written by one side only. */
#include "ring_internal.h"

#if VTIO_CONFIG_DEVICE && VTIO_CONFIG_PACKED

#define PK_AU (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED)

size_t vtio__devq_packed_state_size(uint32_t num)
{
	(void)num;
	return 0;
}

int vtio__devq_packed_check_areas(uint32_t num, size_t size[3], size_t align[3])
{
	if (num == 0 || num > VTIO_PACKED_MAX_SIZE)
		return VTIO_EINVAL; /* CHECKLIST 3.8: size 0 would divide by zero */
	size[VTIO__AREA_DESC] = (size_t)16 * num;
	size[VTIO__AREA_DRIVER] = sizeof(struct vtio_packed_event);
	size[VTIO__AREA_DEVICE] = sizeof(struct vtio_packed_event);
	align[VTIO__AREA_DESC] = VTIO_PACKED_DESC_ALIGN;
	align[VTIO__AREA_DRIVER] = VTIO_PACKED_EVENT_ALIGN;
	align[VTIO__AREA_DEVICE] = VTIO_PACKED_EVENT_ALIGN;
	return 0;
}

void vtio__devq_packed_reset(struct vtio_devq *q)
{
	struct vtio__devq_packed *p = &q->u.packed;
	VTIO_MEMSET(p, 0, sizeof(*p));
	/* RESET-DEV-4: indices 0, both wrap counters 1. */
	vtio__devq_pk_set_avail_wrap(p, true);
	vtio__devq_pk_set_used_wrap(p, true);
	p->event_flags = VTIO_RING_EVENT_FLAGS_ENABLE;
}

int vtio__devq_packed_init(struct vtio_devq *q, void *extra)
{
	(void)extra;
	/* The device writes used descriptors into the descriptor ring, so the
	 * view must let it write there too (devq.c checked read access only). */
	uint64_t a = q->area_addr[VTIO__AREA_DESC];
	uint64_t left = q->area_size[VTIO__AREA_DESC];
	while (left > 0) {
		void *ptr;
		uint64_t n;
		int err = vtio_mem_translate(q->mem, a, left, VTIO_MEM_RW, &ptr, &n);
		if (err == VTIO_ENOTSUP)
			break; /* accessor ops: checked at each access */
		if (err != 0)
			return VTIO_EFAULT;
		a += n;
		left -= n;
	}
	vtio__devq_packed_reset(q);
	return 0;
}

/* ---- Ring accessors ------------------------------------------------------------------- */

static inline size_t flags_off(uint32_t slot)
{
	return (size_t)slot * 16u + 14u;
}

/* PACKED-DEV-4: available when AVAIL == the expected wrap and USED != it. */
static inline bool is_avail(uint16_t flags, bool wrap)
{
	bool avail = (flags & VTIO_DESC_F_AVAIL) != 0;
	bool used = (flags & VTIO_DESC_F_USED) != 0;
	return avail == wrap && used != wrap;
}

/* Read the flags of @slot (acquire). @return 0 or the view's error. */
static inline int load_flags(const struct vtio_devq *q, uint32_t slot, uint16_t *flags)
{
	uint16_t raw;
	int err = vtio__devq_load16_acquire(q, VTIO__AREA_DESC, flags_off(slot), &raw);
	*flags = vtio__w16(q->legacy, raw);
	return err;
}

/* Copy addr/len/id of @slot into private memory, in CPU order. */
static inline int fetch_desc(const struct vtio_devq *q, uint32_t slot, uint64_t *addr,
			     uint32_t *len, uint16_t *id)
{
	if (VTIO_LIKELY(q->area_ptr[VTIO__AREA_DESC] != NULL)) {
		/* One volatile load per field: read exactly once (the driver may
		 * rewrite the slot at any time), and each load matches the width
		 * of the field, so nothing waits on a partial store forward. */
		const volatile struct vtio_packed_desc *d =
		    (const volatile struct vtio_packed_desc *)(const void *)
			q->area_ptr[VTIO__AREA_DESC] +
		    slot;
		*addr = vtio__w64(q->legacy, d->addr);
		*len = vtio__w32(q->legacy, d->len);
		*id = vtio__w16(q->legacy, d->id);
		VTIO__PEER_FETCHED(d, 14);
		return 0;
	}
	unsigned char w[14];
	int err = vtio__devq_ring_read(q, VTIO__AREA_DESC, (size_t)slot * 16u, w, sizeof(w));
	if (VTIO_UNLIKELY(err != 0))
		return err;
	uint64_t a;
	uint32_t l;
	uint16_t i;
	VTIO_MEMCPY(&a, w, 8);
	VTIO_MEMCPY(&l, w + 8, 4);
	VTIO_MEMCPY(&i, w + 12, 2);
	*addr = vtio__w64(q->legacy, a);
	*len = vtio__w32(q->legacy, l);
	*id = vtio__w16(q->legacy, i);
	return 0;
}

/* ---- Pop ------------------------------------------------------------------------------- */

/* Walk packed indirect table [taddr, taddr+tlen): INDIR-DEV-3/4. */
static int walk_table(struct vtio_devq *q, struct vtio__walk *w, uint64_t taddr, uint32_t tlen)
{
	if (VTIO_UNLIKELY(!VTIO__DEVQ_INDIRECT(q)))
		return vtio__devq_fail(q, VTIO_EPROTO, "indirect descriptor without INDIRECT_DESC");
#if !VTIO_CONFIG_INDIRECT
	(void)w;
	(void)taddr;
	(void)tlen;
	return 0; /* not reached: the test above is constant true */
#else
	int32_t n = vtio__devq_indirect_entries(q, tlen);
	if (VTIO_UNLIKELY(n < 0))
		return vtio__devq_fail(q, n,
				       n == VTIO_E2BIG
					   ? "indirect table larger than the policy"
					   : "indirect table length not a multiple of 16");
	struct vtio__table t;
	int err = vtio__devq_map_table(q, taddr, (uint32_t)n, &t);
	if (VTIO_UNLIKELY(err != 0))
		return vtio__devq_fail(q, err, "indirect table outside the view");
	w->c->flags = VTIO_DEVQ_CHAIN_F_INDIRECT;
	/* Entries are consumed by count, each read once; NEXT and id inside
	 * are ignored. */
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		struct vtio_packed_desc e;
		if (VTIO_UNLIKELY(vtio__devq_table_entry(q, &t, i, &e) != 0))
			return vtio__devq_fail(q, VTIO_EFAULT, "indirect table outside the view");
		uint16_t f = vtio__w16(q->legacy, e.flags);
		if (VTIO_UNLIKELY(f & VTIO_DESC_F_INDIRECT))
			return vtio__devq_fail(q, VTIO_EBADMSG,
					       "indirect descriptor inside an indirect table");
		err = vtio__walk_add(q, w, vtio__w64(q->legacy, e.addr),
				     vtio__w32(q->legacy, e.len), (f & VTIO_DESC_F_WRITE) != 0);
		if (VTIO_UNLIKELY(err != 0))
			return err;
	}
	return 0;
#endif
}

static const char *walk_reason(int err)
{
	return err == VTIO_EBADMSG     ? "readable descriptor after a writable one"
	       : err == VTIO_EOVERFLOW ? "chain longer than 4 GiB"
				       : "buffer outside the view";
}

/* A head descriptor already copied from the ring (CPU order). */
struct pk_head {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/*
 * Any chain: lists, indirect tables, accessor views; every check with its
 * error. @pre: the head slot's fields when the caller (the fast pop) has
 * already read them, so they are not read twice; NULL to read them here.
 */
static VTIO__NOINLINE int pop_general(struct vtio_devq *q, struct vtio_devq_chain *c,
				      const struct pk_head *pre)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const uint32_t num = q->num;
	uint32_t slot = p->last_avail;
	bool wrap = p->avail_wrap;
	uint16_t flags;
	int err;

	/* PACKED-DEV-9: flags (acquire) first, then the other fields. */
	if (pre != NULL)
		flags = pre->flags; /* the caller found it available */
	else if (VTIO_UNLIKELY(load_flags(q, slot, &flags) != 0))
		return vtio__devq_fail(q, VTIO_EFAULT, "descriptor ring not readable");
	if (!is_avail(flags, wrap))
		return VTIO_EAGAIN;
	if (VTIO_UNLIKELY(p->outstanding >= num))
		return vtio__devq_fail(q, VTIO_EPROTO,
				       "descriptor made available over one not yet used");

	struct vtio__walk w;
	vtio__walk_begin(&w, c);
	uint32_t count = 0;
	uint16_t id;
	for (;;) {
		uint64_t addr;
		uint32_t len;
		if (count == 0 && pre != NULL) {
			addr = pre->addr;
			len = pre->len;
			id = pre->id;
		} else {
			if (count > 0) {
				/* Every descriptor of a list carries the bits of its own
				 * lap (PACKED-DRV-12); the head's release made them
				 * visible. */
				uint16_t raw;
				if (VTIO_UNLIKELY(vtio__devq_read16(q, VTIO__AREA_DESC,
								    flags_off(slot), &raw)))
					return vtio__devq_fail(q, VTIO_EFAULT,
							       "descriptor ring not readable");
				flags = vtio__w16(q->legacy, raw);
				if (VTIO_UNLIKELY(!is_avail(flags, wrap)))
					return vtio__devq_fail(
					    q, VTIO_EPROTO,
					    "descriptor of a list not available (wrap bits)");
			}
			if (VTIO_UNLIKELY(fetch_desc(q, slot, &addr, &len, &id) != 0))
				return vtio__devq_fail(q, VTIO_EFAULT,
						       "descriptor ring not readable");
		}
		count++;
		if (++slot >= num) {
			slot = 0;
			wrap = !wrap;
		}
		if (flags & VTIO_DESC_F_INDIRECT) {
			/* INDIR-DRV-8: a list is all direct or one indirect descriptor. */
			if (VTIO_UNLIKELY(count > 1 || (flags & VTIO_DESC_F_NEXT)))
				return vtio__devq_fail(q, VTIO_EBADMSG,
						       "indirect descriptor inside a NEXT list");
			err = walk_table(q, &w, addr, len);
			if (VTIO_UNLIKELY(err != 0))
				return q->broken ? err : vtio__devq_fail(q, err, walk_reason(err));
			break;
		}
		err = vtio__walk_add(q, &w, addr, len, (flags & VTIO_DESC_F_WRITE) != 0);
		if (VTIO_UNLIKELY(err != 0))
			return vtio__devq_fail(q, err, walk_reason(err));
		if (!(flags & VTIO_DESC_F_NEXT))
			break;
		/* PACKED-DEV-9 / PACKED-DRV-10: bound the list by the queue size. */
		if (VTIO_UNLIKELY(count >= num))
			return vtio__devq_fail(q, VTIO_ELOOP,
					       "descriptor list longer than the queue");
	}
	/* The buffer id is in the last descriptor (PACKED-DEV-7). */
	if (VTIO_UNLIKELY(id >= num))
		return vtio__devq_fail(q, VTIO_ERANGE, "buffer id out of range");
	if (VTIO_UNLIKELY(p->outstanding + count > num))
		return vtio__devq_fail(q, VTIO_EPROTO,
				       "descriptor made available over one not yet used");
	err = vtio__walk_end(&w);
	if (err != 0)
		return err; /* VTIO_ENOBUFS: nothing consumed, retry with larger arrays */
	vtio__devq_chain_set_id(c, id, (uint16_t)count);
	p->last_avail = (uint16_t)slot;
	vtio__devq_pk_set_avail_wrap(p, wrap);
	p->outstanding += count;
	return 0;
}

int vtio__devq_packed_pop(struct vtio_devq *q, struct vtio_devq_chain *c)
{
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot_packed))
		return q->dma_barriers ? vtio__devq_packed_pop_hot_dma(q, c)
				       : vtio__devq_packed_pop_hot(q, c);
#endif
	return pop_general(q, c, NULL);
}

#if VTIO_CONFIG_FAST_PATHS
/* pop_general from a head slot the hot pop (ring_packed_hot.h) has
 * already read, so it is not read twice. */
VTIO__COLD int vtio__devq_packed_pop_head(struct vtio_devq *q, struct vtio_devq_chain *c,
					  uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct pk_head h = {addr, len, id, flags};
	return pop_general(q, c, &h);
}

int vtio__devq_packed_pop_hot(struct vtio_devq *q, struct vtio_devq_chain *c)
{
	return vtio__devq_packed_pop_one(q, c, false);
}

int vtio__devq_packed_pop_hot_dma(struct vtio_devq *q, struct vtio_devq_chain *c)
{
	return vtio__devq_packed_pop_one(q, c, true);
}

/*
 * vtio_devq_pop_batch on a hot queue: the single pop's straight line
 * (vtio__devq_packed_pop_one(), the same reads and checks of every
 * descriptor, the general pop from the copies for anything else) once per
 * chain, with the barrier variant picked once per batch. The batch stops
 * at the first chain not taken.
 */
VTIO__ALWAYS_INLINE int pop_batch_hot(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned n,
				      const bool dma)
{
	struct vtio_devq_chain *ck = c, *end = c + n;
	int err;
	do {
		VTIO_ASSERT((ck->rd != NULL || ck->rd_max == 0) &&
			    (ck->wr != NULL || ck->wr_max == 0));
		err = vtio__devq_packed_pop_one(q, ck, dma);
		if (err != 0)
			break;
	} while (++ck != end);
	if (ck == c)
		return err;
	if (VTIO_UNLIKELY(q->broken))
		q->broken_err_pending = true; /* taken chains first; the next call reports it */
	return (int)(ck - c);
}

int vtio__devq_packed_pop_batch(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned n)
{
	/* The barrier choice made once per batch, not per descriptor. */
	if (q->dma_barriers)
		return pop_batch_hot(q, c, n, true);
	return pop_batch_hot(q, c, n, false);
}
#endif

/* ---- Push ------------------------------------------------------------------------------- */

/* Write id/len of a used descriptor at @slot (not its flags). */
static inline int put_used(struct vtio_devq *q, uint32_t slot, uint16_t id, uint32_t len)
{
	if (VTIO_LIKELY(q->area_ptr[VTIO__AREA_DESC] != NULL)) {
		struct vtio_packed_desc *d =
		    (struct vtio_packed_desc *)(void *)q->area_ptr[VTIO__AREA_DESC] + slot;
		d->len = vtio__w32(q->legacy, len);
		d->id = vtio__w16(q->legacy, id);
		return 0;
	}
	unsigned char w[6];
	uint32_t l = vtio__w32(q->legacy, len);
	uint16_t i = vtio__w16(q->legacy, id);
	VTIO_MEMCPY(w, &l, 4);
	VTIO_MEMCPY(w + 4, &i, 2);
	return vtio__devq_ring_write(q, VTIO__AREA_DESC, (size_t)slot * 16u + 8u, w, sizeof(w));
}

#if VTIO_CONFIG_FAST_PATHS
/*
 * A refused hot batch wrote id/len/flags of entries 1..k-1 before entry k
 * failed its check: put those slots back to a pattern that does not read as
 * used (AVAIL = the slot's lap, USED the other), so a later push that
 * publishes the head cannot expose them. Until the head's flags are stored
 * the driver reads none of them (it looks at a used descriptor only from
 * the head on), and the device does not read them again before the driver
 * makes them available on its next lap.
 */
static VTIO__COLD int push_batch_undo(struct vtio_devq *q, const struct vtio_devq_done *u,
				      unsigned k)
{
	struct vtio__devq_packed *p = &q->u.packed;
	struct vtio_packed_desc *ring =
	    (struct vtio_packed_desc *)(void *)q->area_ptr[VTIO__AREA_DESC];
	uint32_t slot = p->next_used;
	bool wrap = p->used_wrap;
	for (unsigned j = 0; j < k; j++) {
		if (j != 0)
			VTIO_WRITE_ONCE16(&ring[slot].flags,
					  vtio_le16(wrap ? VTIO_DESC_F_AVAIL : VTIO_DESC_F_USED));
		slot += u[j].h.ndesc;
		if (slot >= q->num) {
			slot -= q->num;
			wrap = !wrap;
		}
	}
	return VTIO_EINVAL; /* nothing published */
}

/* The running state of a hot push_batch. */
struct pk_push {
	struct vtio_packed_desc *ring;
	uint32_t num;
	uint32_t left; /* outstanding descriptors not yet returned */
	uint32_t slot;
	uint16_t au, auw; /* used flags of this lap without / with WRITE */
};

/*
 * One entry of a hot push_batch: checked (its descriptor count against
 * what is outstanding; unless @p checked, its id range and len against its
 * writable capacity), its len and id written, the position moved on.
 * @return its descriptor, *f its flags (PACKED-DEV-7: WRITE whenever
 * len > 0) for the caller to store; NULL when the entry is refused.
 */
static inline struct vtio_packed_desc *push_entry(const struct vtio_devq *q, struct pk_push *s,
						  const struct vtio_devq_done *e, bool checked,
						  uint16_t *f)
{
	uint32_t nd = e->h.ndesc;
	uint32_t len = e->len;
	/* nd == 0 wraps: one compare refuses it and nd > left. */
	if (VTIO_UNLIKELY(nd - 1u >= s->left || (!checked && vtio__devq_done_bad(q, e))))
		return NULL;
	s->left -= nd;
	struct vtio_packed_desc *d = s->ring + s->slot;
	d->len = vtio_le32(len);
	d->id = vtio_le16(e->h.id);
	*f = len ? s->auw : s->au;
	s->slot += nd;
	if (VTIO_UNLIKELY(s->slot >= s->num)) {
		s->slot -= s->num;
		s->au ^= PK_AU;
		s->auw ^= PK_AU;
	}
	return d;
}

/*
 * push_batch on a hot queue, not IN_ORDER: one pass. Each entry is checked
 * in the loop that writes it; the head's flags go last (PACKED-DEV-8), so
 * a refused batch publishes nothing (push_batch_undo() clears what it
 * wrote). The batch's consecutive one-descriptor chains fill each
 * descriptor line in turn. The head is peeled off the loop, which then
 * stores every entry's flags without a test. Out of line: its prologue is
 * its own, not the general push_batch's.
 */
static VTIO__NOINLINE int push_batch_hot(struct vtio_devq *q, const struct vtio_devq_done *u,
					 unsigned n, bool checked)
{
	struct vtio__devq_packed *p = &q->u.packed;
	struct pk_push s;
	s.ring = (struct vtio_packed_desc *)(void *)q->area_ptr[VTIO__AREA_DESC];
	s.num = q->num;
	s.left = p->outstanding;
	s.slot = p->next_used;
	s.au = p->used_au;
	s.auw = (uint16_t)(s.au | VTIO_DESC_F_WRITE);
	uint16_t head_flags;
	struct vtio_packed_desc *head = push_entry(q, &s, u, checked, &head_flags);
	if (VTIO_UNLIKELY(head == NULL))
		return push_batch_undo(q, u, 0);
	for (const struct vtio_devq_done *e = u + 1; e != u + n; e++) {
		uint16_t f;
		struct vtio_packed_desc *d = push_entry(q, &s, e, checked, &f);
		if (VTIO_UNLIKELY(d == NULL))
			return push_batch_undo(q, u, (unsigned)(e - u));
		VTIO_WRITE_ONCE16(&d->flags, vtio_le16(f));
	}
	vtio__devq_pk_set_used_pos(p, s.slot, s.au != 0, s.num);
	p->outstanding = s.left;
	if (q->dma_barriers)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16(&head->flags, vtio_le16(head_flags));
	return 0;
}
#endif

int vtio__devq_packed_push_batch(struct vtio_devq *q, const struct vtio_devq_done *u, unsigned n,
				 bool checked)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const uint32_t num = q->num;
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot_packed && !VTIO__DEVQ_IN_ORDER(q)))
		return push_batch_hot(q, u, n, checked);
#endif
	uint32_t total = 0;
	for (unsigned k = 0; k < n; k++) {
		/* Every entry checked before the first write. */
		if (VTIO_UNLIKELY(u[k].h.ndesc == 0 || (!checked && vtio__devq_done_bad(q, &u[k]))))
			return VTIO_EINVAL;
		total += u[k].h.ndesc;
	}
	if (VTIO_UNLIKELY(total > p->outstanding))
		return VTIO_EINVAL; /* returning more than was popped: a caller bug */

	/* IN_ORDER (INORD-DEV-2): one used descriptor with the last buffer's id,
	 * written over the batch's first descriptor; the rest are skipped. */
	unsigned first = VTIO__DEVQ_IN_ORDER(q) && n > 1 ? n - 1u : 0u;
	uint32_t slot = p->next_used;
	bool wrap = p->used_wrap;
	uint32_t head_slot = slot;
	uint16_t head_flags = 0;
	for (unsigned k = first; k < n; k++) {
		/* PACKED-DEV-7, used len policy: WRITE whenever len > 0. */
		uint16_t f = (uint16_t)((wrap ? PK_AU : 0u) | (u[k].len ? VTIO_DESC_F_WRITE : 0u));
		if (VTIO_UNLIKELY(put_used(q, slot, u[k].h.id, u[k].len) != 0))
			return vtio__devq_fail(q, VTIO_EFAULT, "descriptor ring not writable");
		if (k == first) {
			head_flags = f;
		} else if (VTIO_UNLIKELY(vtio__devq_write16(q, VTIO__AREA_DESC, flags_off(slot),
							    vtio__w16(q->legacy, f)) != 0)) {
			return vtio__devq_fail(q, VTIO_EFAULT, "descriptor ring not writable");
		}
		/* Skip by the list's descriptor count (the whole batch when in order). */
		uint32_t adv = u[k].h.ndesc;
		if (k == first && first != 0)
			adv = total;
		slot += adv;
		if (slot >= num) {
			slot -= num;
			wrap = !wrap;
		}
	}
	vtio__devq_pk_set_used_pos(p, slot, wrap, num);
	p->outstanding -= total;
	/* PACKED-DEV-8: id/len, write barrier (release), then the flags of the
	 * first used descriptor of the batch, last. */
	if (VTIO_UNLIKELY(vtio__devq_store16_release(q, VTIO__AREA_DESC, flags_off(head_slot),
						     vtio__w16(q->legacy, head_flags)) != 0))
		return vtio__devq_fail(q, VTIO_EFAULT, "descriptor ring not writable");
	return 0;
}

/* ---- Notifications ------------------------------------------------------------------------ */

bool vtio__devq_packed_notify_prepare(struct vtio_devq *q)
{
	struct vtio__devq_packed *p = &q->u.packed;
	const uint64_t returned = vtio__devq_pk_returned(p);
	const uint64_t pushed = returned - p->notified; /* descriptors since the last decision */
	if (pushed == 0)
		return false; /* nothing used since the last decision */
	p->notified = returned;
	/* NOTIF-DEV-3: used flags published, full barrier, then the driver's
	 * event suppression area (EVT-DEV-7). */
	vtio__mb(q->dma_barriers);
	uint16_t raw;
	if (VTIO_UNLIKELY(vtio__devq_read16(q, VTIO__AREA_DRIVER, 2, &raw) != 0)) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "driver event area not readable");
		return false;
	}
	uint16_t flags = vtio__w16(q->legacy, raw) & VTIO_RING_EVENT_FLAGS_MASK;
	if (flags == VTIO_RING_EVENT_FLAGS_DISABLE)
		return false;
	/* ENABLE, DESC without EVENT_IDX (EVT-DEV-1), reserved 3, or a
	 * stretch so long the offsets are ambiguous (EVT-DEV-9): notify. */
	if (flags != VTIO_RING_EVENT_FLAGS_DESC || !VTIO__DEVQ_EVENT_IDX(q) || pushed >= q->num)
		return true;
	vtio__rmb(q->dma_barriers);
	if (VTIO_UNLIKELY(vtio__devq_read16(q, VTIO__AREA_DRIVER, 0, &raw) != 0)) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "driver event area not readable");
		return false;
	}
	uint16_t ow = vtio__w16(q->legacy, raw);
	uint16_t event = (uint16_t)(ow & 0x7fffu);
	if (((ow >> VTIO_RING_EVENT_WRAP_SHIFT) != 0) != p->used_wrap)
		event = (uint16_t)(event - q->num);
	uint16_t new_idx = p->next_used;
	return vtio_need_event(event, new_idx, (uint16_t)(new_idx - pushed)) != 0;
}

static bool set_event_flags(struct vtio_devq *q, uint16_t flags)
{
	struct vtio__devq_packed *p = &q->u.packed;
	if (p->event_flags == flags)
		return true;
	p->event_flags = flags;
	if (VTIO_UNLIKELY(
		vtio__devq_write16(q, VTIO__AREA_DEVICE, 2, vtio__w16(q->legacy, flags)))) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "device event area not writable");
		return false;
	}
	return true;
}

bool vtio__devq_packed_enable_notify(struct vtio_devq *q)
{
	struct vtio__devq_packed *p = &q->u.packed;
	/* EVT-DEV-8: off_wrap before flags; DESC only with EVENT_IDX. */
	if (VTIO__DEVQ_EVENT_IDX(q)) {
		uint16_t ow = (uint16_t)(p->last_avail |
					 ((unsigned)p->avail_wrap << VTIO_RING_EVENT_WRAP_SHIFT));
		if (VTIO_UNLIKELY(vtio__devq_write16(q, VTIO__AREA_DEVICE, 0,
						     vtio__w16(q->legacy, ow)) != 0)) {
			(void)vtio__devq_fail(q, VTIO_EFAULT, "device event area not writable");
			return false;
		}
		vtio__wmb(q->dma_barriers);
		if (!set_event_flags(q, VTIO_RING_EVENT_FLAGS_DESC))
			return false;
	} else if (!set_event_flags(q, VTIO_RING_EVENT_FLAGS_ENABLE)) {
		return false;
	}
	/* Full barrier, then re-check the ring (no lost wake-up). */
	vtio__mb(q->dma_barriers);
	return !vtio__devq_packed_more_avail(q);
}

void vtio__devq_packed_disable_notify(struct vtio_devq *q)
{
	(void)set_event_flags(q, VTIO_RING_EVENT_FLAGS_DISABLE);
}

bool vtio__devq_packed_more_avail(struct vtio_devq *q)
{
	struct vtio__devq_packed *p = &q->u.packed;
	uint16_t flags;
	if (VTIO_UNLIKELY(load_flags(q, p->last_avail, &flags) != 0)) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "descriptor ring not readable");
		return false;
	}
	return is_avail(flags, p->avail_wrap);
}

#endif /* VTIO_CONFIG_DEVICE && VTIO_CONFIG_PACKED */
