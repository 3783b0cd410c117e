/* Device-side queue: public functions. Argument checks, then a switch on the
 * layout calling the split or packed code by name. */
#include "ring_internal.h"

#if VTIO_CONFIG_DEVICE

#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_PACKED
#define VTIO__DDISPATCH(q, fn, ...)                                                                \
	((q)->layout == VTIO_LAYOUT_SPLIT ? vtio__devq_split_##fn(__VA_ARGS__)                     \
					  : vtio__devq_packed_##fn(__VA_ARGS__))
#elif VTIO_CONFIG_SPLIT
#define VTIO__DDISPATCH(q, fn, ...) ((void)(q), vtio__devq_split_##fn(__VA_ARGS__))
#else
#define VTIO__DDISPATCH(q, fn, ...) ((void)(q), vtio__devq_packed_##fn(__VA_ARGS__))
#endif

/* Sizes/alignments of the areas; the layout's own size for its extra state. */
static int layout_info(enum vtio_layout layout, uint32_t num, size_t size[3], size_t align[3],
		       size_t *extra)
{
#if VTIO_CONFIG_SPLIT
	if (layout == VTIO_LAYOUT_SPLIT) {
		*extra = vtio__devq_split_state_size(num);
		return vtio__devq_split_check_areas(num, size, align);
	}
#endif
#if VTIO_CONFIG_PACKED
	if (layout == VTIO_LAYOUT_PACKED) {
		*extra = vtio__devq_packed_state_size(num);
		return vtio__devq_packed_check_areas(num, size, align);
	}
#endif
	(void)num;
	(void)size;
	(void)align;
	(void)extra;
	return layout == VTIO_LAYOUT_SPLIT || layout == VTIO_LAYOUT_PACKED ? VTIO_ENOTSUP
									   : VTIO_EINVAL;
}

size_t vtio_devq_state_size(enum vtio_layout layout, uint32_t num)
{
	size_t size[3], align[3], extra;
	if (layout_info(layout, num, size, align, &extra) != 0)
		return 0;
	return vtio__align16(sizeof(struct vtio_devq)) + vtio__align16(extra);
}

/*
 * Accessor-only memory: no translate to check a range with. Read the first
 * and the last byte through the ops (a write would change ring memory the
 * driver owns), so an area running off the view fails here. A write-only
 * area may refuse the read with VTIO_EACCES: that still shows the bytes
 * exist, and every later access is checked anyway.
 */
static int probe_area(const struct vtio_mem *m, uint64_t first, uint64_t last, uint32_t perm)
{
	unsigned char b;
	uint64_t at[2] = {first, last};
	for (int k = 0; k < 2; k++) {
		int err = vtio_mem_read(m, at[k], &b, 1);
		if (err != 0 && !(err == VTIO_EACCES && !(perm & VTIO_MEM_READ)))
			return VTIO_EFAULT;
	}
	return 0;
}

/*
 * Validate one ring area against the view. Returns the local pointer in
 * *ptr when the whole area is one readable/writable piece (fast path), NULL
 * when it must go through vtio_mem_read/write.
 */
static int check_area(const struct vtio_mem *m, uint64_t addr, size_t len, uint32_t perm,
		      size_t align, unsigned char **ptr)
{
	*ptr = NULL;
	if (addr + (len - 1u) < addr)
		return VTIO_EFAULT;
	uint64_t a = addr, left = len;
	bool first = true;
	while (left > 0) {
		void *p;
		uint64_t n;
		int err = vtio_mem_translate(m, a, left, perm, &p, &n);
		if (err == VTIO_ENOTSUP)
			return probe_area(m, a, addr + (len - 1u), perm);
		if (err != 0)
			return VTIO_EFAULT;
		if (first && n == len && ((uintptr_t)p & (align - 1u)) == 0) {
			*ptr = p;
			return 0;
		}
		first = false;
		a += n;
		left -= n;
	}
	return 0;
}

/* vtio_devq::hot_packed of a queue that is not broken. */
static uint8_t hot_packed_mode(const struct vtio_devq *q)
{
	if (!(VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_PACKED && q->layout == VTIO_LAYOUT_PACKED &&
	      q->fast && !q->legacy))
		return 0;
	return q->dma_barriers ? VTIO__DEVQ_HOT_DMA : VTIO__DEVQ_HOT_CPU;
}

int vtio_devq_init(struct vtio_devq **out, void *state, size_t state_size,
		   const struct vtio_devq_config *cfg)
{
	size_t size[3], align[3], extra;
	if (out == NULL || state == NULL || cfg == NULL)
		return VTIO_EINVAL;
	*out = NULL;
	int err = layout_info(cfg->layout, cfg->num, size, align, &extra);
	if (err != 0)
		return err;
	size_t need = vtio__align16(sizeof(struct vtio_devq)) + vtio__align16(extra);
	if (((uintptr_t)state & 15u) != 0 || state_size < need || cfg->mem == NULL ||
	    cfg->notify == NULL)
		return VTIO_EINVAL;
	uint64_t addr[3] = {cfg->desc_addr, cfg->driver_addr, cfg->device_addr};
	for (int a = 0; a < 3; a++)
		if ((addr[a] & (align[a] - 1u)) != 0)
			return VTIO_EINVAL;
	if ((cfg->features & VTIO_FEATURE(VTIO_F_EVENT_IDX)) && !VTIO_CONFIG_EVENT_IDX)
		return VTIO_ENOTSUP;
	if ((cfg->features & VTIO_FEATURE(VTIO_F_IN_ORDER)) && !VTIO_CONFIG_IN_ORDER)
		return VTIO_ENOTSUP;

	unsigned char *ptr[3];
	/* The device reads the descriptor and driver areas, and only writes
	 * the device area (it never reads the used ring). */
	static const uint32_t perm[3] = {VTIO_MEM_READ, VTIO_MEM_READ, VTIO_MEM_WRITE};
	for (int a = 0; a < 3; a++) {
		err = check_area(cfg->mem, addr[a], size[a], perm[a], align[a], &ptr[a]);
		if (err != 0)
			return err;
	}

	unsigned char *base = state;
	VTIO_MEMSET(base, 0, need);
	struct vtio_devq *q = (struct vtio_devq *)(void *)base;
	q->layout = cfg->layout;
	q->index = cfg->index;
	q->num = cfg->num;
	q->features = cfg->features;
	q->flags = cfg->flags;
	q->dma_barriers = (cfg->flags & VTIO_DEVQ_F_DMA_BARRIERS) ||
			  (cfg->features & VTIO_FEATURE(VTIO_F_ORDER_PLATFORM));
	q->legacy = !(cfg->features & VTIO_FEATURE(VTIO_F_VERSION_1));
	q->event_idx = (cfg->features & VTIO_FEATURE(VTIO_F_EVENT_IDX)) != 0;
	q->indirect = VTIO_CONFIG_INDIRECT && (cfg->features & VTIO_FEATURE(VTIO_F_INDIRECT_DESC));
	q->in_order = (cfg->features & VTIO_FEATURE(VTIO_F_IN_ORDER)) != 0;
	q->mem = cfg->mem;
	for (int a = 0; a < 3; a++) {
		q->area_ptr[a] = ptr[a];
		q->area_addr[a] = addr[a];
		q->area_size[a] = size[a];
	}
	q->fast = ptr[0] != NULL && ptr[1] != NULL && ptr[2] != NULL;
	q->hot = VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_SPLIT && q->layout == VTIO_LAYOUT_SPLIT &&
		 q->fast;
	q->hot_packed = hot_packed_mode(q);
	q->r0_first[0] = q->r0_first[1] = UINT64_MAX; /* with r0_last 0: no buffer passes */
	q->r0_last[0] = q->r0_last[1] = 0;
	/* Cached only when the region does not wrap past 2^64 (vtio_mem_init
	 * refuses those; a hand-built view might not): then off < len also
	 * proves addr >= r0_addr. */
	if (cfg->mem->nregions != 0 && cfg->mem->regions[0].len != 0 &&
	    cfg->mem->regions[0].len - 1u <= UINT64_MAX - cfg->mem->regions[0].addr) {
		const struct vtio_mem_region *r0 = &cfg->mem->regions[0];
		q->r0_addr = r0->addr;
		q->r0_host = (uintptr_t)r0->host;
		q->r0_len[0] = (r0->perm & VTIO_MEM_READ) ? r0->len : 0u;
		q->r0_len[1] = (r0->perm & VTIO_MEM_WRITE) ? r0->len : 0u;
		q->r0_delta = q->r0_host - (uintptr_t)r0->addr;
		for (int w = 0; w < 2; w++)
			if (q->r0_len[w] != 0) {
				q->r0_first[w] = r0->addr;
				q->r0_last[w] = r0->addr + (r0->len - 1u);
			}
	}
	if (cfg->max_indirect != 0)
		q->max_indirect = cfg->max_indirect;
	else
		q->max_indirect = cfg->num > VTIO_DEVQ_DEFAULT_MAX_INDIRECT
				      ? cfg->num
				      : VTIO_DEVQ_DEFAULT_MAX_INDIRECT;
	q->notify = cfg->notify;
	q->notify_ctx = cfg->notify_ctx;
	err = VTIO__DDISPATCH(q, init, q, base + vtio__align16(sizeof(struct vtio_devq)));
	if (err != 0)
		return err;
	*out = q;
	return 0;
}

/*
 * Error of a call on a broken queue: the specific error that broke it, once,
 * when it broke inside a call that could not return it (enable_notify,
 * more_avail, notify_prepare, disable_notify); else VTIO_EIO.
 */
static VTIO__NOINLINE int broken_error(struct vtio_devq *q)
{
	if (q->broken_err_pending) {
		q->broken_err_pending = false;
		return q->broken_err;
	}
	return VTIO_EIO;
}

/* After a call that cannot return an error: if it broke the queue, keep the
 * error for the next pop/push. (Pop and push return theirs themselves and
 * stay tail calls.) */
static inline void keep_breaking_error(struct vtio_devq *q)
{
	if (VTIO_UNLIKELY(q->broken))
		q->broken_err_pending = true;
}

int vtio_devq_pop(struct vtio_devq *q, struct vtio_devq_chain *c)
{
	VTIO_ASSERT(q != NULL && c != NULL);
	VTIO_ASSERT((c->rd != NULL || c->rd_max == 0) && (c->wr != NULL || c->wr_max == 0));
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot))
		return vtio__devq_split_pop_fast(q, c);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	/* DMA barriers: vtio__devq_packed_pop() picks the straight line too. */
	if (VTIO_LIKELY(q->hot_packed == VTIO__DEVQ_HOT_CPU))
		return vtio__devq_packed_pop_hot(q, c);
#endif
	if (VTIO_UNLIKELY(q->broken))
		return broken_error(q);
	return VTIO__DDISPATCH(q, pop, q, c);
}

int vtio_devq_pop_batch(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned n)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(n == 0 || c == NULL))
		return VTIO_EINVAL;
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot_packed))
		return vtio__devq_packed_pop_batch(q, c, n);
#endif
	unsigned k = 0;
	for (; k < n; k++) {
		int err = vtio_devq_pop(q, &c[k]);
		if (err != 0) {
			if (k == 0)
				return err;
			/* Chains were taken before it broke: the next call reports it. */
			keep_breaking_error(q);
			break;
		}
	}
	return (int)k;
}

/* A single push off the straight lines (its arguments checked). Out of
 * line: its frame is not set up on the way to the inline packed push. */
static VTIO__NOINLINE int push_general(struct vtio_devq *q, struct vtio_devq_handle h, uint32_t len)
{
	if (VTIO_UNLIKELY(q->broken))
		return broken_error(q);
	struct vtio_devq_done d;
	d.h = h;
	d.len = len;
	return VTIO__DDISPATCH(q, push_batch, q, &d, 1, true);
}

int vtio_devq_push(struct vtio_devq *q, const struct vtio_devq_chain *c, uint32_t len)
{
	VTIO_ASSERT(q != NULL && c != NULL);
	if (VTIO_UNLIKELY(len > c->wr_len))
		return q->broken ? broken_error(q) : VTIO_EINVAL;
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot))
		return vtio__devq_split_push_one(q, c->id, len);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	/* DMA barriers: the packed push_batch takes its straight line too. */
	if (VTIO_LIKELY(q->hot_packed == VTIO__DEVQ_HOT_CPU))
		return vtio__devq_packed_push_one(q, c->id, c->ndesc, len, false);
#endif
	struct vtio_devq_handle h = {c->id, c->ndesc, len}; /* len checked above */
	return push_general(q, h, len);
}

int vtio_devq_push_handle(struct vtio_devq *q, struct vtio_devq_handle h, uint32_t len)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(len > h.wr_cap || h.id >= q->num))
		return q->broken ? broken_error(q) : VTIO_EINVAL;
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot))
		return vtio__devq_split_push_one(q, h.id, len);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	/* DMA barriers: the packed push_batch takes its straight line too. */
	if (VTIO_LIKELY(q->hot_packed == VTIO__DEVQ_HOT_CPU))
		return vtio__devq_packed_push_one(q, h.id, h.ndesc, len, false);
#endif
	return push_general(q, h, len);
}

int vtio_devq_push_batch(struct vtio_devq *q, const struct vtio_devq_done *d, unsigned n)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(q->broken))
		return broken_error(q);
	if (n == 0)
		return 0;
	if (d == NULL || n > q->num)
		return VTIO_EINVAL;
	/* Each entry's id and len are checked by the layout, in the loop that
	 * handles the entry, before anything is published. */
	return VTIO__DDISPATCH(q, push_batch, q, d, n, false);
}

bool vtio_devq_notify_prepare(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(q->broken))
		return false;
	bool r = VTIO__DDISPATCH(q, notify_prepare, q);
	keep_breaking_error(q);
	return r;
}

int vtio_devq_notify(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(q->broken))
		return VTIO_EIO;
	return q->notify(q->notify_ctx, q->index);
}

int vtio_devq_kick(struct vtio_devq *q)
{
	if (vtio_devq_notify_prepare(q))
		return vtio_devq_notify(q);
	return q->broken ? VTIO_EIO : 0;
}

bool vtio_devq_enable_notify(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
	if (VTIO_UNLIKELY(q->broken))
		return false;
	bool r = VTIO__DDISPATCH(q, enable_notify, q);
	keep_breaking_error(q);
	return r;
}

void vtio_devq_disable_notify(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
	if (!q->broken) {
		VTIO__DDISPATCH(q, disable_notify, q);
		keep_breaking_error(q);
	}
}

bool vtio_devq_more_avail(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(q->hot)) {
		bool r = vtio__devq_split_more_avail_hot(q);
		keep_breaking_error(q);
		return r;
	}
#endif
	if (VTIO_UNLIKELY(q->broken))
		return false;
	bool r = VTIO__DDISPATCH(q, more_avail, q);
	keep_breaking_error(q);
	return r;
}

/* Copy between a local buffer and the chain's pieces, from byte @off. */
static int64_t chain_copy(struct vtio_devq *q, const struct vtio_iov *iov, unsigned n, uint64_t off,
			  unsigned char *local, size_t len, bool write)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].len) {
			off -= iov[i].len;
			continue;
		}
		size_t room = (size_t)(iov[i].len - off);
		size_t k = len - done < room ? len - done : room;
		if (iov[i].ptr != NULL) {
			unsigned char *p = (unsigned char *)iov[i].ptr + (size_t)off;
			if (write)
				VTIO_MEMCPY(p, local + done, k);
			else
				VTIO_MEMCPY(local + done, p, k);
		} else {
			int err = write ? vtio_mem_write(q->mem, iov[i].addr + off, local + done, k)
					: vtio_mem_read(q->mem, iov[i].addr + off, local + done, k);
			if (err != 0)
				return err;
		}
		done += k;
		off = 0;
	}
	return (int64_t)done;
}

int64_t vtio_devq_read(struct vtio_devq *q, const struct vtio_devq_chain *c, uint64_t off,
		       void *dst, size_t len)
{
	VTIO_ASSERT(q != NULL && c != NULL && (dst != NULL || len == 0));
	return chain_copy(q, c->rd, c->rd_num < c->rd_max ? c->rd_num : c->rd_max, off, dst, len,
			  false);
}

int64_t vtio_devq_write(struct vtio_devq *q, const struct vtio_devq_chain *c, uint64_t off,
			const void *src, size_t len)
{
	VTIO_ASSERT(q != NULL && c != NULL && (src != NULL || len == 0));
	union {
		const void *c;
		unsigned char *v;
	} u = {.c = src};
	return chain_copy(q, c->wr, c->wr_num < c->wr_max ? c->wr_num : c->wr_max, off, u.v, len,
			  true);
}

void vtio_devq_reset(struct vtio_devq *q)
{
	VTIO_ASSERT(q != NULL);
	q->broken = false;
	q->broken_reason = NULL;
	q->broken_err = 0;
	q->broken_err_pending = false;
	q->hot = VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_SPLIT && q->layout == VTIO_LAYOUT_SPLIT &&
		 q->fast;
	q->hot_packed = hot_packed_mode(q);
	VTIO__DDISPATCH(q, reset, q);
}

bool vtio_devq_is_broken(const struct vtio_devq *q)
{
	return q->broken;
}

const char *vtio_devq_broken_reason(const struct vtio_devq *q)
{
	return q->broken ? q->broken_reason : NULL;
}

int vtio_devq_set_pos(struct vtio_devq *q, const struct vtio_devq_pos *pos)
{
	VTIO_ASSERT(q != NULL && pos != NULL);
#if VTIO_CONFIG_PACKED
	if (q->layout == VTIO_LAYOUT_PACKED) {
		struct vtio__devq_packed *p = &q->u.packed;
		if (pos->avail_idx >= q->num || pos->used_idx >= q->num)
			return VTIO_ERANGE;
		if (p->outstanding != 0)
			return VTIO_EBUSY;
		p->last_avail = pos->avail_idx;
		vtio__devq_pk_set_avail_wrap(p, pos->avail_wrap);
		p->next_used = pos->used_idx;
		vtio__devq_pk_set_used_wrap(p, pos->used_wrap);
		p->notified = vtio__devq_pk_returned(p); /* nothing returned since */
		return 0;
	}
#endif
#if VTIO_CONFIG_SPLIT
	struct vtio__devq_split *s = &q->u.split;
	s->last_avail = pos->avail_idx;
	s->avail_idx = pos->avail_idx;
	s->used_idx = pos->used_idx;
	s->signalled_valid = false;
	vtio__devq_split_forget_used(q);
#endif
	return 0;
}

void vtio_devq_get_pos(const struct vtio_devq *q, struct vtio_devq_pos *pos)
{
	VTIO_ASSERT(q != NULL && pos != NULL);
	VTIO_MEMSET(pos, 0, sizeof(*pos));
#if VTIO_CONFIG_PACKED
	if (q->layout == VTIO_LAYOUT_PACKED) {
		const struct vtio__devq_packed *p = &q->u.packed;
		pos->avail_idx = p->last_avail;
		pos->avail_wrap = p->avail_wrap;
		pos->used_idx = p->next_used;
		pos->used_wrap = p->used_wrap;
		pos->in_flight = p->outstanding;
		return;
	}
#endif
#if VTIO_CONFIG_SPLIT
	pos->avail_idx = q->u.split.last_avail;
	pos->used_idx = q->u.split.used_idx;
#endif
}

#endif /* VTIO_CONFIG_DEVICE */
