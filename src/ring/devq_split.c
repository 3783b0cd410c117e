/* Device side of the split ring.
 *
 * Everything the driver wrote is copied to private memory before it is
 * checked (TOCTOU) and checked before it is used. The device reads the
 * descriptor table and the avail ring and only writes the used ring (it
 * keeps a shadow of used->idx and used->flags and never reads them back). */
#include "ring_internal.h"

#if VTIO_CONFIG_DEVICE && VTIO_CONFIG_SPLIT

size_t vtio__devq_split_state_size(uint32_t num)
{
	return (size_t)num * sizeof(uint64_t); /* the used-element shadow */
}

int vtio__devq_split_check_areas(uint32_t num, size_t size[3], size_t align[3])
{
	if (num == 0 || num > VTIO_SPLIT_MAX_SIZE || (num & (num - 1u)) != 0)
		return VTIO_EINVAL;
	size[VTIO__AREA_DESC] = vtio_split_desc_size(num);
	size[VTIO__AREA_DRIVER] = vtio_split_avail_size(num);
	size[VTIO__AREA_DEVICE] = vtio_split_used_size(num);
	align[VTIO__AREA_DESC] = VTIO_SPLIT_DESC_ALIGN;
	align[VTIO__AREA_DRIVER] = VTIO_SPLIT_AVAIL_ALIGN;
	align[VTIO__AREA_DEVICE] = VTIO_SPLIT_USED_ALIGN;
	return 0;
}

/* The used ring's contents are not known (after init, reset or a new
 * position): all ones is no element a push writes (ids are < 2^15). */
void vtio__devq_split_forget_used(struct vtio_devq *q)
{
	VTIO_MEMSET(q->u.split.used_shadow, 0xff, (size_t)q->num * sizeof(uint64_t));
}

void vtio__devq_split_reset(struct vtio_devq *q)
{
	uint64_t *used_shadow = q->u.split.used_shadow;
	VTIO_MEMSET(&q->u.split, 0, sizeof(q->u.split));
	q->u.split.used_shadow = used_shadow;
	q->u.split.mask = (uint16_t)(q->num - 1u);
	vtio__devq_split_forget_used(q);
}

int vtio__devq_split_init(struct vtio_devq *q, void *extra)
{
	q->u.split.used_shadow = extra;
	vtio__devq_split_reset(q);
	return 0;
}

/* Read avail->idx (acquire) and validate it: SPLIT-DEV-8. */
static int read_avail_idx(struct vtio_devq *q, uint16_t *out)
{
	struct vtio__devq_split *s = &q->u.split;
	uint16_t raw;
	int err = vtio__devq_load16_acquire(q, VTIO__AREA_DRIVER, 2, &raw);
	if (VTIO_UNLIKELY(err != 0))
		return vtio__devq_fail(q, VTIO_EFAULT, "avail ring not readable");
	uint16_t idx = vtio__w16(q->legacy, raw);
	if (VTIO_UNLIKELY((uint16_t)(idx - s->last_avail) > q->num))
		return vtio__devq_fail(q, VTIO_EPROTO,
				       "avail idx moved by more than the queue size");
	s->avail_idx = idx;
	*out = idx;
	return 0;
}

/* Wire descriptor to CPU order. */
static inline void desc_from_wire(const struct vtio_devq *q, const struct vtio_split_desc *w,
				  struct vtio_split_desc *d)
{
	d->addr = vtio__w64(q->legacy, w->addr);
	d->len = vtio__w32(q->legacy, w->len);
	d->flags = vtio__w16(q->legacy, w->flags);
	d->next = vtio__w16(q->legacy, w->next);
}

/* Fetch descriptor @i of the ring's table (@t NULL) or of indirect table @t
 * into private memory, each byte once, in CPU order. */
static int fetch_desc(struct vtio_devq *q, const struct vtio__table *t, uint32_t i,
		      struct vtio_split_desc *d)
{
	struct vtio_split_desc w;
	int err;
	if (t == NULL)
		err = vtio__devq_ring_read(q, VTIO__AREA_DESC, (size_t)i * 16u, &w, sizeof(w));
	else
		err = vtio__devq_table_entry(q, t, i, &w);
	if (VTIO_UNLIKELY(err != 0))
		return err;
	VTIO__PEER_COPY_BARRIER();
	desc_from_wire(q, &w, d);
	return 0;
}

static int walk_chain(struct vtio_devq *q, struct vtio_devq_chain *c, uint16_t head,
		      const struct vtio_split_desc *first);

static VTIO__NOINLINE int pop_general(struct vtio_devq *q, struct vtio_devq_chain *c)
{
	struct vtio__devq_split *s = &q->u.split;
	const uint16_t mask = (uint16_t)(q->num - 1u);
	int err;

	if (s->last_avail == s->avail_idx) {
		uint16_t idx;
		err = read_avail_idx(q, &idx);
		if (err != 0)
			return err;
		if (idx == s->last_avail)
			return VTIO_EAGAIN;
	}
	uint16_t raw;
	err = vtio__devq_ring_read(q, VTIO__AREA_DRIVER,
				   vtio_split_avail_ring_off((uint16_t)(s->last_avail & mask)),
				   &raw, 2);
	if (VTIO_UNLIKELY(err != 0))
		return vtio__devq_fail(q, VTIO_EFAULT, "avail ring not readable");
	VTIO__PEER_COPY_BARRIER();
	uint16_t head = vtio__w16(q->legacy, raw);
	if (VTIO_UNLIKELY(head >= q->num))
		return vtio__devq_fail(q, VTIO_ERANGE, "avail head out of range");

	return walk_chain(q, c, head, NULL);
}

/*
 * The general chain walk: NEXT chains, indirect tables, every check.
 * @first: the head descriptor (CPU order) when the caller has already
 * copied it from the ring (the hot pop), so it is not read twice; NULL to
 * fetch it here.
 */
static VTIO__NOINLINE int walk_chain(struct vtio_devq *q, struct vtio_devq_chain *c, uint16_t head,
				     const struct vtio_split_desc *first)
{
	struct vtio__devq_split *s = &q->u.split;
	int err;
	struct vtio__walk w;
	vtio__walk_begin(&w, c);
#if VTIO_CONFIG_INDIRECT
	struct vtio__table table; /* the indirect table, once entered */
#endif
	const struct vtio__table *t = NULL; /* NULL: walking the ring's table */
	uint32_t bound = q->num;	    /* entries of the table being walked */
	uint32_t count = 0;		    /* descriptors walked in that table */
	uint32_t i = head;
	uint16_t ndesc = 0;
	for (;;) {
		struct vtio_split_desc d;
		if (first != NULL) {
			d = *first;
			first = NULL;
		} else {
			err = fetch_desc(q, t, i, &d);
			if (VTIO_UNLIKELY(err != 0))
				return vtio__devq_fail(q, VTIO_EFAULT,
						       "descriptor table not readable");
		}
		if (t == NULL)
			ndesc++;
		if (d.flags & VTIO_DESC_F_INDIRECT) {
			if (VTIO_UNLIKELY(t != NULL))
				return vtio__devq_fail(
				    q, VTIO_EBADMSG,
				    "indirect descriptor inside an indirect table");
			if (VTIO_UNLIKELY(!VTIO__DEVQ_INDIRECT(q)))
				return vtio__devq_fail(q, VTIO_EPROTO,
						       "indirect descriptor without INDIRECT_DESC");
#if VTIO_CONFIG_INDIRECT
			if (VTIO_UNLIKELY(d.flags & VTIO_DESC_F_NEXT))
				return vtio__devq_fail(q, VTIO_EBADMSG,
						       "descriptor has both INDIRECT and NEXT");
			int32_t n = vtio__devq_indirect_entries(q, d.len);
			if (VTIO_UNLIKELY(n < 0))
				return vtio__devq_fail(
				    q, n,
				    n == VTIO_E2BIG ? "indirect table larger than the policy"
						    : "indirect table length not a multiple of 16");
			err = vtio__devq_map_table(q, d.addr, (uint32_t)n, &table);
			if (VTIO_UNLIKELY(err != 0))
				return vtio__devq_fail(q, err, "indirect table outside the view");
			t = &table;
			c->flags = VTIO_DEVQ_CHAIN_F_INDIRECT;
			bound = (uint32_t)n;
			count = 0;
			i = 0;
			continue;
#endif
		}
		err = vtio__walk_add(q, &w, d.addr, d.len, (d.flags & VTIO_DESC_F_WRITE) != 0);
		if (VTIO_UNLIKELY(err != 0)) {
			const char *why = err == VTIO_EBADMSG
					      ? "readable descriptor after a writable one"
					  : err == VTIO_EOVERFLOW ? "chain longer than 4 GiB"
								  : "buffer outside the view";
			return vtio__devq_fail(q, err, why);
		}
		count++;
		if (!(d.flags & VTIO_DESC_F_NEXT))
			break;
		if (VTIO_UNLIKELY(d.next >= bound))
			return vtio__devq_fail(q, VTIO_ERANGE, "next descriptor out of range");
		if (VTIO_UNLIKELY(count >= bound))
			return vtio__devq_fail(q, VTIO_ELOOP,
					       "descriptor chain loops or exceeds its table");
		i = d.next;
	}
	err = vtio__walk_end(&w);
	if (err != 0)
		return err; /* VTIO_ENOBUFS: nothing consumed, retry with larger arrays */
	vtio__devq_chain_set_id(c, head, ndesc);
	s->last_avail++;
	return 0;
}

int vtio__devq_split_pop(struct vtio_devq *q, struct vtio_devq_chain *c)
{
#if VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->fast))
		return vtio__devq_split_pop_fast(q, c);
#endif
	return pop_general(q, c);
}

#if VTIO_CONFIG_FAST_PATHS
/* The general walk from a head descriptor the hot pop has already copied
 * (wire format, passed by value: it stays in registers), so it is not read
 * twice. */
VTIO__NOINLINE int vtio__devq_split_walk_from_head(struct vtio_devq *q, struct vtio_devq_chain *c,
						   uint16_t head, struct vtio_split_desc w)
{
	struct vtio_split_desc d;
	desc_from_wire(q, &w, &d);
	return walk_chain(q, c, head, &d);
}

/* The hot pop's refusals, out of line: the queue breaks with the error. */
VTIO__NOINLINE int vtio__devq_split_bad_idx(struct vtio_devq *q)
{
	return vtio__devq_fail(q, VTIO_EPROTO, "avail idx moved by more than the queue size");
}
VTIO__NOINLINE int vtio__devq_split_bad_head(struct vtio_devq *q)
{
	return vtio__devq_fail(q, VTIO_ERANGE, "avail head out of range");
}

#endif /* VTIO_CONFIG_FAST_PATHS */

/* push_batch through the view (used ring not mapped to a local pointer). */
static VTIO__NOINLINE int push_batch_view(struct vtio_devq *q, const struct vtio_devq_done *u,
					  unsigned first, unsigned n, bool checked)
{
	struct vtio__devq_split *s = &q->u.split;
	const uint16_t mask = (uint16_t)(q->num - 1u);
	uint16_t slot = s->used_idx;
	for (unsigned k = first; k < n; k++) {
		if (VTIO_UNLIKELY(!checked && vtio__devq_done_bad(q, &u[k])))
			return VTIO_EINVAL; /* nothing published */
		struct vtio_split_used_elem e;
		e.id = vtio__w32(q->legacy, u[k].h.id);
		e.len = vtio__w32(q->legacy, u[k].len);
		int err = vtio__devq_ring_write(q, VTIO__AREA_DEVICE,
						vtio_split_used_ring_off((uint16_t)(slot & mask)),
						&e, sizeof(e));
		if (VTIO_UNLIKELY(err != 0))
			return vtio__devq_fail(q, VTIO_EFAULT, "used ring not writable");
		slot++;
	}
	/* SPLIT-DEV-5/7: elements, write barrier (release), then idx once. */
	s->used_idx = (uint16_t)(s->used_idx + n);
	int err =
	    vtio__devq_store16_release(q, VTIO__AREA_DEVICE, 2, vtio__w16(q->legacy, s->used_idx));
	if (VTIO_UNLIKELY(err != 0))
		return vtio__devq_fail(q, VTIO_EFAULT, "used ring not writable");
	return 0;
}

int vtio__devq_split_push_batch(struct vtio_devq *q, const struct vtio_devq_done *u, unsigned n,
				bool checked)
{
	struct vtio__devq_split *s = &q->u.split;
	unsigned first = 0;
	if (VTIO__DEVQ_IN_ORDER(q) && n > 1) {
		first = n - 1u; /* one entry names the batch's last buffer (CHECKLIST 3.11) */
		for (unsigned k = 0; k < first; k++)
			if (VTIO_UNLIKELY(!checked && vtio__devq_done_bad(q, &u[k])))
				return VTIO_EINVAL; /* the entries not written are checked too */
	}
	unsigned char *used = q->area_ptr[VTIO__AREA_DEVICE];
	if (VTIO_UNLIKELY(used == NULL))
		return push_batch_view(q, u, first, n, checked);
	/* Local used ring (fast path): element stores without a call. The
	 * mask is below 2^16, so the free-running slot needs no truncation. */
	const unsigned mask = s->mask;
	unsigned slot = s->used_idx;
	/* Kept in locals: the element stores could alias *q as far as the
	 * compiler knows, which would reload each per element. */
	uint64_t *const sh = s->used_shadow;
	const bool legacy = q->legacy;
	const uint32_t num = q->num;
	for (unsigned k = first; k < n; k++) {
		uint32_t id = u[k].h.id, len = u[k].len;
		/* Checked as it is written (vtio__devq_done_bad()): an element
		 * past used->idx is not seen by the driver, so a refused batch
		 * publishes nothing. */
		if (VTIO_UNLIKELY(!checked && (id >= num || len > u[k].h.wr_cap)))
			return VTIO_EINVAL;
		vtio__devq_split_put_used_word(sh, used, slot & mask,
					       vtio__devq_split_used_word(legacy, id, len));
		slot++;
	}
	/* SPLIT-DEV-5/7: elements, write barrier (release), then idx once. */
	s->used_idx = (uint16_t)(s->used_idx + n);
	if (q->dma_barriers)
		VTIO_DMA_WMB();
	VTIO_STORE_RELEASE16((uint16_t *)(void *)(used + 2), vtio__w16(q->legacy, s->used_idx));
	return 0;
}

bool vtio__devq_split_notify_prepare(struct vtio_devq *q)
{
	struct vtio__devq_split *s = &q->u.split;
	uint16_t old = s->signalled_used;
	uint16_t new_idx = s->used_idx;
	bool valid = s->signalled_valid;
	s->signalled_used = new_idx;
	s->signalled_valid = true;
	if (valid && old == new_idx)
		return false; /* nothing used since the last decision */
	/* Full barrier between publishing used->idx and reading the driver's
	 * suppression field (CHECKLIST 3.6). */
	vtio__mb(q->dma_barriers);
	uint16_t raw;
	if (VTIO__DEVQ_EVENT_IDX(q)) {
		if (vtio__devq_read16(q, VTIO__AREA_DRIVER, vtio_split_used_event_off(q->num),
				      &raw) != 0) {
			(void)vtio__devq_fail(q, VTIO_EFAULT, "avail ring not readable");
			return false;
		}
		if (!valid)
			return true;
		return vtio_need_event(vtio__w16(q->legacy, raw), new_idx, old) != 0;
	}
	if (vtio__devq_read16(q, VTIO__AREA_DRIVER, 0, &raw) != 0) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "avail ring not readable");
		return false;
	}
	return (vtio__w16(q->legacy, raw) & VTIO_AVAIL_F_NO_INTERRUPT) == 0;
}

bool vtio__devq_split_enable_notify(struct vtio_devq *q)
{
	struct vtio__devq_split *s = &q->u.split;
	int err;
	if (VTIO__DEVQ_EVENT_IDX(q)) {
		err = vtio__devq_write16(q, VTIO__AREA_DEVICE, vtio_split_avail_event_off(q->num),
					 vtio__w16(q->legacy, s->last_avail));
	} else {
		s->used_flags &= (uint16_t)~VTIO_USED_F_NO_NOTIFY;
		err = vtio__devq_write16(q, VTIO__AREA_DEVICE, 0,
					 vtio__w16(q->legacy, s->used_flags));
	}
	if (VTIO_UNLIKELY(err != 0)) {
		(void)vtio__devq_fail(q, VTIO_EFAULT, "used ring not writable");
		return false;
	}
	/* Write avail_event / flags, full barrier, re-read avail->idx. */
	vtio__mb(q->dma_barriers);
	uint16_t idx;
	if (read_avail_idx(q, &idx) != 0)
		return false;
	return idx == s->last_avail;
}

void vtio__devq_split_disable_notify(struct vtio_devq *q)
{
	struct vtio__devq_split *s = &q->u.split;
	if (VTIO__DEVQ_EVENT_IDX(q))
		return; /* avail_event is only moved by enable_notify */
	if (!(s->used_flags & VTIO_USED_F_NO_NOTIFY)) {
		s->used_flags |= VTIO_USED_F_NO_NOTIFY;
		if (vtio__devq_write16(q, VTIO__AREA_DEVICE, 0,
				       vtio__w16(q->legacy, s->used_flags)))
			(void)vtio__devq_fail(q, VTIO_EFAULT, "used ring not writable");
	}
}

bool vtio__devq_split_more_avail(struct vtio_devq *q)
{
	struct vtio__devq_split *s = &q->u.split;
	if (s->last_avail != s->avail_idx)
		return true;
	uint16_t idx;
	if (read_avail_idx(q, &idx) != 0)
		return false;
	return idx != s->last_avail;
}

#endif /* VTIO_CONFIG_DEVICE && VTIO_CONFIG_SPLIT */
