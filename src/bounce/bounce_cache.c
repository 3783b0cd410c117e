/* Per-thread slot caches: magazines of free one- and two-slot runs taken
 * from one area in batches under its lock, so that a map and an unmap of a
 * common size take no lock, do no set lookup and write only the cache (the
 * caller's, one per thread or queue) and the records of its own slots.
 * Which slots a cache holds is marked per slot (pool->cache_tag) under the
 * area lock, so an unmap can tell its own mappings from anything else with
 * one read, and leaves everything else to the plain, locked calls. */
#include "bounce_slots.h"

#if VTIO_CONFIG_BOUNCE

VTIO_STATIC_ASSERT(VTIO_BOUNCE_CACHE_DEPTH >= 2u && VTIO_BOUNCE_CACHE_DEPTH <= 1024u &&
		       VTIO_BOUNCE_CACHE_DEPTH % 2u == 0u,
		   "VTIO_BOUNCE_CACHE_DEPTH must be even, 2 .. 1024");

/* The guards must keep the fast path's bytes at least a line away from
 * both ends (bounce.h): nothing but them may sit before the first field
 * or after the magazines. */
VTIO_STATIC_ASSERT(VTIO_BOUNCE_CACHE_GUARD >= 1u, "VTIO_BOUNCE_CACHE_GUARD must be at least 1");
VTIO_STATIC_ASSERT(offsetof(struct vtio_bounce_cache, set) == VTIO_BOUNCE_CACHE_GUARD &&
		       offsetof(struct vtio_bounce_cache, guard_tail) ==
			   offsetof(struct vtio_bounce_cache, run) +
			       sizeof(((struct vtio_bounce_cache *)0)->run),
		   "vtio_bounce_cache: the guards must be the first and last fields");

/* The magazine sizes and the counters (vtio__pend), which the owner writes
 * with relaxed stores and vtio_bounce_pool_get_stats() reads under the area
 * lock with relaxed loads: bounce_internal.h. */

/* Magazine k holds run[k][0 .. n) from now on. */
static inline void mag_set(struct vtio_bounce_cache *c, uint32_t k, uint32_t n)
{
	__atomic_store_n(&c->nfree[k], n, __ATOMIC_RELAXED);
	if (n != 0)
		c->top[k] = c->base + ((size_t)c->run[k][n - 1u] << c->slot_shift);
}

/* vtio__bounce_slot::off of the tail slot of a cache's two-slot run. */
#define TAIL_OFF UINT32_MAX

/* With the area lock held: move the cache's counters into the area's (the
 * unmaps derived, cache_unmaps(): exact here, where the owner folds). */
static void fold_locked(struct vtio_bounce_cache *c, struct vtio__bounce_area *a)
{
	vtio__pend v = pend_read(c);
	a->maps += pend_maps(v);
	a->unmaps += cache_unmaps(c, v);
	a->bounced += pend_bytes(v);
	pend_write(c, pend_zero());
	c->mapped_at_fold = cache_mapped(c);
}

#if defined(__GNUC__) || defined(__clang__)
#define COLD	 __attribute__((noinline, cold))
#define NOINLINE __attribute__((noinline))
#else
#define COLD
#define NOINLINE
#endif

/* @return 0, so that the calls' tails can end in it (a jump). */
static COLD int fold(struct vtio_bounce_cache *c)
{
	struct vtio__bounce_area *a = &c->pool->areas[c->area];
	VTIO_LOCK(&a->lock);
	fold_locked(c, a);
	VTIO_UNLOCK(&a->lock);
	return 0;
}

/* With the area lock held: give the runs run[k][0 .. cnt) back to the area. */
static void give_back_locked(struct vtio_bounce_cache *c, struct vtio__bounce_area *a, uint32_t k,
			     uint32_t cnt)
{
	struct vtio_bounce_pool *p = c->pool;
	uint32_t n = k + 1u;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t s = c->run[k][i];
		for (uint32_t j = 0; j < n; j++)
			__atomic_store_n(&p->cache_tag[s + j], 0u, __ATOMIC_RELAXED);
		free_run_locked(p, a, s, n);
	}
	c->runs[k] -= cnt;
}

/* Take up to half a magazine of runs of k + 1 slots from the cache's area;
 * returns how many it took (0: the area has none, or is closing). */
static COLD uint32_t refill(struct vtio_bounce_cache *c, uint32_t k)
{
	struct vtio_bounce_pool *p = c->pool;
	struct vtio__bounce_area *a = &p->areas[c->area];
	struct run_req rq;
	rq.n = k + 1u;
	rq.segment = true;
	rq.amask = 0;
	rq.aval = 0;
	uint32_t got = 0;
	VTIO_LOCK(&a->lock);
	if (VTIO_LIKELY(!a->closing)) {
		while (got < VTIO_BOUNCE_CACHE_DEPTH / 2u) {
			uint32_t s = find_run(p, a, &rq);
			if (s == UINT32_MAX)
				break;
			set_bits(a->bits, s - a->start, rq.n, true);
			for (uint32_t j = 0; j < rq.n; j++) {
				struct vtio__bounce_slot *r = &p->slots[s + j];
				r->head = s;
				VTIO__SLOT_SET_STATE(r, VTIO__SLOT_CACHED);
				__atomic_store_n(&p->cache_tag[s + j], c->tag, __ATOMIC_RELAXED);
			}
			p->slots[s].nslots = rq.n;
			/* A tail's offset can never match a mapping's, so the
			 * offset check of an unmap also refuses tail slots. */
			if (rq.n > 1u)
				p->slots[s + 1u].off = TAIL_OFF;
			c->run[k][got++] = s;
		}
		a->in_use += got * rq.n;
		if (a->in_use > a->high_water)
			a->high_water = a->in_use;
		c->runs[k] += got;
		mag_set(c, k, got);
		fold_locked(c, a);
	}
	VTIO_UNLOCK(&a->lock);
	return got;
}

/* Magazine k is full: give its older half back (the top, most recently
 * used and so warmest in the CPU cache, stays). */
static COLD void spill(struct vtio_bounce_cache *c, uint32_t k)
{
	struct vtio__bounce_area *a = &c->pool->areas[c->area];
	const uint32_t half = VTIO_BOUNCE_CACHE_DEPTH / 2u;
	VTIO_LOCK(&a->lock);
	give_back_locked(c, a, k, half);
	for (uint32_t i = 0; i < VTIO_BOUNCE_CACHE_DEPTH - half; i++)
		c->run[k][i] = c->run[k][half + i];
	mag_set(c, k, VTIO_BOUNCE_CACHE_DEPTH - half);
	fold_locked(c, a);
	VTIO_UNLOCK(&a->lock);
}

int vtio_bounce_cache_init(struct vtio_bounce_cache *c, struct vtio_bounce_set *set,
			   const struct vtio_bounce_dev *dev)
{
	if (c == NULL || set == NULL || dev == NULL)
		return VTIO_EINVAL;
	/* Everything but the guards, which nothing writes (bounce.h). */
	VTIO_MEMSET(&c->set, 0,
		    offsetof(struct vtio_bounce_cache, guard_tail) -
			offsetof(struct vtio_bounce_cache, set));
	struct vtio_bounce_pool *p = vtio__bounce_first_pool(set, dev);
	if (p == NULL)
		return VTIO_ENODEV;
	uint64_t slot_mask = (uint64_t)p->slot_size - 1u;
	if ((dev->min_align_mask & ~slot_mask) != 0)
		return VTIO_EINVAL;
	c->set = set;
	c->pool = p;
	c->dev = *dev;
	c->off_mask = dev->min_align_mask & slot_mask;
	c->max_need = p->slot_size * (p->max_segment >= 2u ? 2u : 1u);
	c->base = p->base;
	c->slots = p->slots;
	c->tags = p->cache_tag;
	c->slot_size = p->slot_size;
	c->slot_shift = p->slot_shift;
	if (p->mapping == VTIO_BOUNCE_MAP_LINEAR) {
		c->dev_base = p->dev_base;
		/* A SCRUB pool zeroes at every unmap: the general way. */
		if (!(p->flags & VTIO_BOUNCE_POOL_F_SCRUB))
			c->span = (uint64_t)p->nslots << p->slot_shift;
		c->fast_len = c->max_need;
	}
	c->slack_mask =
	    (p->flags & VTIO_BOUNCE_POOL_F_TRUSTED_DMA) ? UINT32_MAX : p->slot_size - 1u;
	uint32_t hint = dev->area_hint;
	if (hint == VTIO_BOUNCE_AREA_CPU)
		hint = (uint32_t)(VTIO_BOUNCE_CPU_ID());
	c->area = hint % p->nareas;
	struct vtio__bounce_area *a = &p->areas[c->area];
	int r = 0;
	VTIO_LOCK(&a->lock);
	if (a->closing) {
		r = VTIO_ENODEV;
	} else {
		/* Tags only tell caches apart; 0 means "no cache". Each area
		 * counts its own under its lock (no atomic read-modify-write,
		 * which Cortex-M0+ lacks), and tag % nareas names the area, so
		 * tags from two areas never meet. */
		uint32_t tag;
		do
			tag = ++a->next_tag * p->nareas + c->area + 1u;
		while (tag == 0u);
		c->tag = tag;
		c->next = a->caches;
		a->caches = c;
	}
	VTIO_UNLOCK(&a->lock);
	if (r != 0) {
		c->pool = NULL;
		c->fast_len = 0;
		c->span = 0;
	}
	return r;
}

void vtio_bounce_cache_drain(struct vtio_bounce_cache *c)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	struct vtio__bounce_area *a = &c->pool->areas[c->area];
	VTIO_LOCK(&a->lock);
	for (uint32_t k = 0; k < 2u; k++) {
		give_back_locked(c, a, k, c->nfree[k]);
		mag_set(c, k, 0u);
	}
	fold_locked(c, a);
	VTIO_UNLOCK(&a->lock);
}

int vtio_bounce_cache_fini(struct vtio_bounce_cache *c)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	vtio_bounce_cache_drain(c);
	if (c->runs[0] != 0 || c->runs[1] != 0)
		return VTIO_EBUSY;
	struct vtio__bounce_area *a = &c->pool->areas[c->area];
	VTIO_LOCK(&a->lock);
	for (struct vtio_bounce_cache **pp = &a->caches; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	VTIO_UNLOCK(&a->lock);
	c->pool = NULL;
	c->next = NULL;
	/* Every later call goes the general way, which asserts. */
	c->fast_len = 0;
	c->span = 0;
	return 0;
}

/*
 * The record of a mapping through the cache, in the head of its run. The
 * tail of a two-slot run keeps VTIO__SLOT_CACHED for as long as the cache
 * holds the run, mapped or not: the head's state is the run's (see
 * lookup_head() and check_head_locked()), so a map and an unmap write one
 * record, not two.
 */
VTIO__BOUNCE_HOT void record_map(struct vtio__bounce_slot *h, void *cpu, size_t len, uint32_t off,
				 enum vtio_dma_dir dir)
{
	/* Only the owner writes these fields while the cache holds the run.
	 * (Writing only the fields that changed measured no faster.) */
	h->orig = (uintptr_t)cpu;
	h->len = (uint32_t)len;
	h->off = off;
	h->dir = (uint8_t)dir;
	VTIO__SLOT_SET_STATE(h, VTIO__SLOT_CMAP);
}

/* The copy of a map whose run has slack to zero (or a TRUSTED_DMA pool's
 * extents to keep): as a plain map, the slack zeroed per the pool's
 * contract, then the buffer copied in whatever the direction (see
 * slots_map()). map_general()'s; map_slack() does the same at offset 0
 * with the run's address known (inlining this there measured slower). */
static NOINLINE int copy_in_slack(struct vtio_bounce_pool *p, uint32_t s, uint32_t off, void *cpu,
				  size_t len, uint32_t attrs)
{
	size_t need = (size_t)off + len;
	uint32_t n = need > p->slot_size ? 2u : 1u;
	unsigned char *slots = p->base + ((size_t)s << p->slot_shift);
	zero_slack(p, s, n, off, need);
	VTIO_MEMCPY(slots + off, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(slots, (size_t)n << p->slot_shift);
	return 0;
}

/* Every map the common one does not take: bad arguments and sizes it does
 * not serve (to the plain call), an empty magazine (refilled), a pool that
 * is not linear, counters due for a fold. */
static NOINLINE int map_general(struct vtio_bounce_cache *c, void *cpu, size_t len,
				enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL && bus != NULL);
	struct vtio_bounce_pool *p = c->pool;
	uint32_t off = (uint32_t)((uint64_t)(uintptr_t)cpu & c->off_mask);
	/* len 0 wraps to a huge size: the plain call refuses it. */
	if (len - 1u >= (size_t)c->max_need - off || cpu == NULL ||
	    (unsigned)dir > VTIO_DMA_FROM_DEVICE)
		return vtio_bounce_map(c->set, &c->dev, cpu, len, dir, attrs, bus);
	size_t need = (size_t)off + len;
	uint32_t k = need > p->slot_size ? 1u : 0u; /* magazine: runs of k + 1 slots */
	uint32_t nf = c->nfree[k];
	if (nf == 0) {
		nf = refill(c, k);
		if (nf == 0)
			return vtio_bounce_map(c->set, &c->dev, cpu, len, dir, attrs, bus);
	}
	uint32_t s = c->run[k][nf - 1u];
	uint64_t d;
	if (VTIO_UNLIKELY(fast_off_to_dev(p, ((size_t)s << p->slot_shift) + off, &d) != 0))
		return VTIO_EFAULT; /* the run stays in the magazine */
	mag_set(c, k, nf - 1u);
	vtio__pend v = pend_add(pend_read(c), 1u, (uint32_t)len);
	pend_write(c, v);
	if (VTIO_UNLIKELY(pend_full(v)))
		(void)fold(c);
	record_map(&p->slots[s], cpu, len, off, dir);
	*bus = d;
	return copy_in_slack(p, s, off, cpu, len, attrs);
}

#if VTIO_CONFIG_FAST_PATHS
/*
 * The bookkeeping of a map through the common path, into the run on top
 * of magazine k (nf runs) whose CPU address is dst: *bus, the magazine,
 * the counters, the record. @return the run's head slot.
 */
VTIO__BOUNCE_HOT uint32_t map_take(struct vtio_bounce_cache *c, uint32_t k, uint32_t nf,
				   const unsigned char *dst, void *cpu, size_t len,
				   enum vtio_dma_dir dir, uint64_t *bus)
{
	/* The slot from the magazine rather than from dst: no variable shift,
	 * which x86 wants in cl, and so one register more for the rest. */
	uint32_t s = c->run[k][nf - 1u];
	*bus = c->dev_base + (size_t)(dst - c->base);
	record_map(&c->slots[s], cpu, len, 0u, dir);
	__atomic_store_n(&c->nfree[k], nf - 1u, __ATOMIC_RELAXED);
	if (nf >= 2u)
		c->top[k] = c->base + (size_t)c->run[k][nf - 2u] * c->slot_size;
	pend_write(c, pend_add(pend_read(c), 1u, (uint32_t)len));
	return s;
}

/* The common map of a run with slack to zero (or a TRUSTED_DMA pool's
 * extents to keep): checked by the caller, as the common map, and kept out
 * of line so that the common map has no call but the copy's. */
static NOINLINE int map_slack(struct vtio_bounce_cache *c, void *cpu, size_t len,
			      enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus)
{
	uint32_t k = len > c->slot_size ? 1u : 0u;
	unsigned char *dst = c->top[k];
	uint32_t s = map_take(c, k, c->nfree[k], dst, cpu, len, dir, bus);
	/* as copy_in_slack(), at offset 0 and with the run's address known */
	zero_slack(c->pool, s, k + 1u, 0u, len);
	VTIO_MEMCPY(dst, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(dst, (size_t)(k + 1u) << c->slot_shift);
	return 0;
}

/*
 * The common map, into magazine @p k, a constant: the two callers below
 * are two copies, so that no address waits for the comparison that picks
 * the magazine (a predicted branch picks it instead).
 *
 * Beside a copy of a few KiB nothing the bookkeeping does hides behind the
 * copy (docs/bounce_cache.md, fourth pass): every instruction counts. So
 * the copy's destination is one load away (top[k], which the last unmap
 * stored), the stores are few (*bus, the magazine size and top, one
 * counter word, the record) and the only call is the copy's. It takes a linear pool, an address the
 * min_align_mask keeps at offset 0 and counters not due for a fold;
 * everything else is map_general()'s, and a run with slack map_slack()'s
 * (tail calls). A detached cache has fast_len 0, so it reaches
 * map_general(), which asserts that it is attached.
 */
VTIO__BOUNCE_HOT int cache_map(struct vtio_bounce_cache *c, void *cpu, size_t len,
			       enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus,
			       const uint32_t k)
{
	uint32_t nf = c->nfree[k];
	/* len 0 wraps to a huge size; fast_len is 0 on a pool that is not linear. */
	if (VTIO_UNLIKELY(len - 1u >= c->fast_len || ((uintptr_t)cpu & c->off_mask) != 0 ||
			  cpu == NULL || (unsigned)dir > VTIO_DMA_FROM_DEVICE || nf == 0 ||
			  pend_full(pend_read(c))))
		return map_general(c, cpu, len, dir, attrs, bus);
	if (VTIO_UNLIKELY((len & c->slack_mask) != 0))
		return map_slack(c, cpu, len, dir, attrs, bus);
	/* No slack: the run is the data. */
	unsigned char *dst = c->top[k];
	(void)map_take(c, k, nf, dst, cpu, len, dir, bus);
	VTIO_MEMCPY(dst, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(dst, len);
	return 0;
}

#endif /* VTIO_CONFIG_FAST_PATHS */

int vtio_bounce_cache_map(struct vtio_bounce_cache *c, void *cpu, size_t len, enum vtio_dma_dir dir,
			  uint32_t attrs, uint64_t *bus)
{
	/* A NULL dereference need not fault (address 0 is memory on many MCUs). */
	VTIO_ASSERT(c != NULL && bus != NULL);
#if VTIO_CONFIG_FAST_PATHS
	/* magazine: runs of one slot, or of two */
	if (len > c->slot_size)
		return cache_map(c, cpu, len, dir, attrs, bus, 1u);
	return cache_map(c, cpu, len, dir, attrs, bus, 0u);
#else
	return map_general(c, cpu, len, dir, attrs, bus);
#endif
}

/* Why the record of slot s (held by this cache) is not the head of a
 * mapping at off with this len and dir: the error, counted as the plain
 * unmap counts it. */
static COLD int refuse(struct vtio_bounce_pool *p, uint32_t s, size_t off)
{
	const struct vtio__bounce_slot *r = &p->slots[s];
	if (r->state == VTIO__SLOT_CACHED && r->head == s) {
		VTIO_BOUNCE_COUNT(&p->fail_double);
		return VTIO_EALREADY;
	}
	if (r->head != s || ((size_t)s << p->slot_shift) + r->off != off) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT; /* a tail slot, or not where the data starts */
	}
	VTIO_BOUNCE_COUNT(&p->fail_mismatch);
	return VTIO_EINVAL; /* length or direction */
}

/*
 * The end of an unmap of the run headed by slot s (k + 1 slots), its data
 * already back: the record free again and the run on top of its magazine,
 * which holds @p nf < DEPTH runs (read before the record's store, which
 * may alias it). Unmaps are not counted (cache_unmaps() derives them).
 */
VTIO__BOUNCE_HOT void unmap_finish(struct vtio_bounce_cache *c, struct vtio__bounce_slot *h,
				   uint32_t s, uint32_t k, uint32_t nf, unsigned char *cpu)
{
	VTIO__SLOT_SET_STATE(h, VTIO__SLOT_CACHED);
	c->run[k][nf] = s;
	c->top[k] = cpu; /* the next map's copy waits for this store alone */
	__atomic_store_n(&c->nfree[k], nf + 1u, __ATOMIC_RELAXED);
}

/* An unmap with more to do than the bookkeeping (checked by the caller):
 * the copy back (FROM_DEVICE, BIDIRECTIONAL), a SCRUB pool's zeroing, or
 * a full magazine. */
static NOINLINE int unmap_slow(struct vtio_bounce_cache *c, uint32_t s, size_t off, size_t len,
			       bool back)
{
	struct vtio_bounce_pool *p = c->pool;
	struct vtio__bounce_slot *h = &p->slots[s];
	uint32_t n = h->nslots, k = n - 1u;
	if (back) {
		unsigned char *tlb = p->base + off;
		VTIO_CACHE_INVALIDATE(tlb, len);
		VTIO_MEMCPY((void *)h->orig, tlb, len);
	}
	if (VTIO_UNLIKELY(p->flags & VTIO_BOUNCE_POOL_F_SCRUB))
		VTIO_MEMSET(p->base + ((size_t)s << p->slot_shift), 0, (size_t)n << p->slot_shift);
	if (c->nfree[k] == VTIO_BOUNCE_CACHE_DEPTH)
		spill(c, k);
	unmap_finish(c, h, s, k, c->nfree[k], p->base + ((size_t)s << p->slot_shift));
	if (back) {
		vtio__pend v = pend_add(pend_read(c), 0u, (uint32_t)len);
		pend_write(c, v);
		if (VTIO_UNLIKELY(pend_full(v)))
			return fold(c);
	}
	return 0;
}

/* Every unmap through the cache: the checks of every field of the record
 * an address and the caller's arguments must match, then the copy back
 * or the zeroing the pool asks for, if any, and the run back on top of its
 * magazine. */
static NOINLINE int unmap_general(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
				  enum vtio_dma_dir dir, uint32_t attrs)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	struct vtio_bounce_pool *p = c->pool;
	size_t off;
	/* The cache's pool first: attached, it cannot leave the set, so no
	 * sequence-counter read is needed. */
	if (fast_dev_off(p, bus, &off) != 0)
		return vtio_bounce_unmap(c->set, bus, len, dir, attrs);
	uint32_t s = (uint32_t)(off >> p->slot_shift);
	if (s >= p->nslots || __atomic_load_n(&p->cache_tag[s], __ATOMIC_RELAXED) != c->tag)
		return vtio_bounce_unmap(c->set, bus, len, dir, attrs);
	/* From here the record is this cache's: no other thread writes it. */
	struct vtio__bounce_slot *h = &p->slots[s];
	if (h->state != VTIO__SLOT_CMAP || h->off != (uint32_t)(off & (p->slot_size - 1u)) ||
	    h->len != len || h->dir != (uint8_t)dir)
		return refuse(p, s, off);
	bool back = (dir == VTIO_DMA_FROM_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) &&
		    !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	return unmap_slow(c, s, off, len, back);
}

#if VTIO_CONFIG_FAST_PATHS
/*
 * The common unmap, of a run of magazine @p k (a constant, as for
 * cache_map()): an address of the cache's linear pool at the start of one
 * of its slots (offset 0, as the common map makes), every field of the
 * record checked against the address and the arguments, then the record's
 * state, the magazine's top and size, when there is nothing to copy back
 * and room on the magazine (else unmap_slow()'s). Everything else is
 * unmap_general()'s (span is 0 on a detached cache or a SCRUB pool, and
 * unmap_general() asserts that the cache is attached).
 */
VTIO__BOUNCE_HOT int cache_unmap(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs, const uint32_t k)
{
	uint64_t off = bus - c->dev_base; /* below dev_base wraps past span */
	/* span is 0 on a pool that is not linear. */
	if (VTIO_UNLIKELY(off >= c->span || (off & (c->slot_size - 1u)) != 0))
		return unmap_general(c, bus, len, dir, attrs);
	uint32_t s = (uint32_t)(off >> c->slot_shift);
	struct vtio__bounce_slot *h = &c->slots[s];
	if (VTIO_UNLIKELY(__atomic_load_n(&c->tags[s], __ATOMIC_RELAXED) != c->tag ||
			  h->state != VTIO__SLOT_CMAP || h->off != 0u || h->len != len ||
			  h->dir != (uint8_t)dir))
		return unmap_general(c, bus, len, dir, attrs);
	/* The run's size follows from len, the record's (offset 0), as the
	 * map chose the magazine. A copy back (the record's dir is valid) or
	 * a full magazine: the slow end, the checks done. */
	uint32_t nf = c->nfree[k];
	if (VTIO_UNLIKELY(dir != VTIO_DMA_TO_DEVICE || nf == VTIO_BOUNCE_CACHE_DEPTH))
		return unmap_slow(c, s, (size_t)off, len,
				  dir != VTIO_DMA_TO_DEVICE &&
				      !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC));
	unmap_finish(c, h, s, k, nf, c->base + off);
	return 0;
}

#endif /* VTIO_CONFIG_FAST_PATHS */

int vtio_bounce_cache_unmap(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
			    enum vtio_dma_dir dir, uint32_t attrs)
{
	VTIO_ASSERT(c != NULL);
#if VTIO_CONFIG_FAST_PATHS
	if (len > c->slot_size)
		return cache_unmap(c, bus, len, dir, attrs, 1u);
	return cache_unmap(c, bus, len, dir, attrs, 0u);
#else
	return unmap_general(c, bus, len, dir, attrs);
#endif
}

#endif /* VTIO_CONFIG_BOUNCE */
