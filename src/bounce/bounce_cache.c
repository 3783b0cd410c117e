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

/* Counters a cache keeps before folding them into its area's (32-bit, so
 * they are single-copy atomic on every target): folded under the lock at
 * every refill and give-back, and when one reaches 2^31. */
#define CACHE_FOLD_AT 0x80000000u

/* Single-writer counters and magazine sizes: written by the cache's owner
 * with plain arithmetic and relaxed stores, read by vtio_bounce_pool_get_stats()
 * under the area lock with relaxed loads. */
#define SET_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* vtio__bounce_slot::off of the tail slot of a cache's two-slot run. */
#define TAIL_OFF UINT32_MAX

/* With the area lock held: move the cache's counters into the area's. */
static void fold_locked(struct vtio_bounce_cache *c, struct vtio__bounce_area *a)
{
	a->maps += c->maps;
	a->unmaps += c->unmaps;
	a->bounced += c->bounced;
	SET_RELAXED(&c->maps, 0u);
	SET_RELAXED(&c->unmaps, 0u);
	SET_RELAXED(&c->bounced, 0u);
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
	c->held -= cnt * n;
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
		c->held += got * rq.n;
		SET_RELAXED(&c->nfree[k], got);
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
	SET_RELAXED(&c->nfree[k], VTIO_BOUNCE_CACHE_DEPTH - half);
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
	if (r != 0)
		c->pool = NULL;
	return r;
}

void vtio_bounce_cache_drain(struct vtio_bounce_cache *c)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	struct vtio__bounce_area *a = &c->pool->areas[c->area];
	VTIO_LOCK(&a->lock);
	for (uint32_t k = 0; k < 2u; k++) {
		give_back_locked(c, a, k, c->nfree[k]);
		SET_RELAXED(&c->nfree[k], 0u);
	}
	fold_locked(c, a);
	VTIO_UNLOCK(&a->lock);
}

int vtio_bounce_cache_fini(struct vtio_bounce_cache *c)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	vtio_bounce_cache_drain(c);
	if (c->held != 0)
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
	return 0;
}

int vtio_bounce_cache_map(struct vtio_bounce_cache *c, void *cpu, size_t len, enum vtio_dma_dir dir,
			  uint32_t attrs, uint64_t *bus)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL && bus != NULL);
	struct vtio_bounce_pool *p = c->pool;
	uint32_t off = (uint32_t)((uint64_t)(uintptr_t)cpu & c->off_mask);
	/* len 0 wraps to a huge size: the plain call refuses it. */
	if (VTIO_UNLIKELY(len - 1u >= (size_t)c->max_need - off || cpu == NULL ||
			  (unsigned)dir > VTIO_DMA_FROM_DEVICE))
		return vtio_bounce_map(c->set, &c->dev, cpu, len, dir, attrs, bus);
	size_t need = (size_t)off + len;
	uint32_t k = need > p->slot_size ? 1u : 0u; /* magazine: runs of k + 1 slots */
	uint32_t nf = c->nfree[k];
	if (VTIO_UNLIKELY(nf == 0)) {
		nf = refill(c, k);
		if (nf == 0)
			return vtio_bounce_map(c->set, &c->dev, cpu, len, dir, attrs, bus);
	}
	uint32_t s = c->run[k][nf - 1u];
	size_t run = (size_t)s << p->slot_shift;
	uint64_t d;
	if (VTIO_UNLIKELY(fast_off_to_dev(p, run + off, &d) != 0))
		return VTIO_EFAULT; /* the run stays in the magazine */
	SET_RELAXED(&c->nfree[k], nf - 1u);
	struct vtio__bounce_slot *h = &p->slots[s];
	h->orig = (uintptr_t)cpu;
	h->len = (uint32_t)len;
	h->off = off;
	h->dir = (uint8_t)dir;
	VTIO__SLOT_SET_STATE(h, VTIO__SLOT_CMAP);
	if (k != 0)
		VTIO__SLOT_SET_STATE(h + 1, VTIO__SLOT_CMAP);
	uint32_t maps = c->maps + 1u, bounced = c->bounced + (uint32_t)len;
	SET_RELAXED(&c->maps, maps);
	SET_RELAXED(&c->bounced, bounced);
	if (VTIO_UNLIKELY((maps | bounced) >= CACHE_FOLD_AT))
		(void)fold(c);
	*bus = d;
	/* As a plain map: the slack zeroed per the pool's contract, then the
	 * buffer copied in whatever the direction (see slots_map()); last, so
	 * little stays live across the calls. */
	unsigned char *slots = p->base + run;
	zero_slack(p, s, k + 1u, off, need);
	VTIO_MEMCPY(slots + off, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(slots, (size_t)(k + 1u) << p->slot_shift);
	return 0;
}

/* Why the record of slot s (held by this cache) is not the head of a
 * mapping at off with this len and dir: the error, counted as the plain
 * unmap counts it. */
static COLD int refuse(struct vtio_bounce_pool *p, uint32_t s, size_t off)
{
	const struct vtio__bounce_slot *r = &p->slots[s];
	if (r->state == VTIO__SLOT_CACHED) {
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
 * already back: the run on top of its magazine, which holds @p nf < DEPTH
 * runs (read before the record's stores, which may alias it), and the
 * counters (@p back: bytes copied back).
 */
VTIO__BOUNCE_HOT int unmap_finish(struct vtio_bounce_cache *c, struct vtio__bounce_slot *h,
				  uint32_t s, uint32_t k, uint32_t nf, uint32_t back)
{
	VTIO__SLOT_SET_STATE(h, VTIO__SLOT_CACHED);
	if (k != 0)
		VTIO__SLOT_SET_STATE(h + 1, VTIO__SLOT_CACHED);
	c->run[k][nf] = s;
	SET_RELAXED(&c->nfree[k], nf + 1u);
	uint32_t unmaps = c->unmaps + 1u, bounced = c->bounced;
	SET_RELAXED(&c->unmaps, unmaps);
	if (back != 0) {
		bounced += back;
		SET_RELAXED(&c->bounced, bounced);
	}
	if (VTIO_UNLIKELY((unmaps | bounced) >= CACHE_FOLD_AT))
		return fold(c);
	return 0;
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
	return unmap_finish(c, h, s, k, c->nfree[k], back ? (uint32_t)len : 0u);
}

/* The unmap, @p linear as for cache_map(). */
VTIO__BOUNCE_HOT int cache_unmap(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs, const bool linear)
{
	struct vtio_bounce_pool *p = c->pool;
	size_t off;
	/* The cache's pool first: attached, it cannot leave the set, so no
	 * sequence-counter read is needed. */
	if (VTIO_UNLIKELY((linear ? linear_dev_off(p, bus, &off) : fast_dev_off(p, bus, &off)) !=
			  0))
		return vtio_bounce_unmap(c->set, bus, len, dir, attrs);
	uint32_t s = (uint32_t)(off >> p->slot_shift);
	if (VTIO_UNLIKELY(s >= p->nslots ||
			  __atomic_load_n(&p->cache_tag[s], __ATOMIC_RELAXED) != c->tag))
		return vtio_bounce_unmap(c->set, bus, len, dir, attrs);
	/* From here the record is this cache's: no other thread writes it. */
	struct vtio__bounce_slot *h = &p->slots[s];
	if (VTIO_UNLIKELY(h->state != VTIO__SLOT_CMAP ||
			  h->off != (uint32_t)(off & (p->slot_size - 1u)) || h->len != len ||
			  h->dir != (uint8_t)dir))
		return refuse(p, s, off);
	uint32_t k = h->nslots - 1u;
	uint32_t nf = c->nfree[k];
	bool back = (dir == VTIO_DMA_FROM_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) &&
		    !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	if (VTIO_UNLIKELY(back || (p->flags & VTIO_BOUNCE_POOL_F_SCRUB) ||
			  nf == VTIO_BOUNCE_CACHE_DEPTH))
		return unmap_slow(c, s, off, len, back);
	/* Nothing to copy or zero, room on the magazine: no call. */
	return unmap_finish(c, h, s, k, nf, 0u);
}

/* The unmap on a pool that is not linear. */
static NOINLINE int unmap_any(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
			      enum vtio_dma_dir dir, uint32_t attrs)
{
	return cache_unmap(c, bus, len, dir, attrs, false);
}

int vtio_bounce_cache_unmap(struct vtio_bounce_cache *c, uint64_t bus, size_t len,
			    enum vtio_dma_dir dir, uint32_t attrs)
{
	VTIO_ASSERT(c != NULL && c->pool != NULL);
	if (VTIO_UNLIKELY(c->pool->mapping != VTIO_BOUNCE_MAP_LINEAR))
		return unmap_any(c, bus, len, dir, attrs);
	return cache_unmap(c, bus, len, dir, attrs, true);
}

#endif /* VTIO_CONFIG_BOUNCE */
