/* Set of bounce pools: run-time registration guarded by a sequence counter
 * (readers never write shared memory, so the fast path takes no global
 * lock), pool choice by addressing limit and affinity, and lookup of the
 * owning pool of a device address by binary search. */
#include "bounce_slots.h"

#if VTIO_CONFIG_BOUNCE

size_t vtio_bounce_set_size(void)
{
	return sizeof(struct vtio_bounce_set);
}

int vtio_bounce_set_init(struct vtio_bounce_set **out, void *storage, size_t storage_size)
{
	if (out == NULL || storage == NULL || storage_size < sizeof(struct vtio_bounce_set) ||
	    ((uintptr_t)storage % VTIO__BOUNCE_LINE) != 0)
		return VTIO_EINVAL;
	struct vtio_bounce_set *set = storage;
	VTIO_MEMSET(set, 0, sizeof(*set));
	VTIO_LOCK_INIT(&set->lock);
	*out = set;
	return 0;
}

void vtio_bounce_dev_init(struct vtio_bounce_dev *dev, uint64_t mask)
{
	VTIO_ASSERT(dev != NULL);
	dev->mask = mask;
	dev->pool_id = VTIO_BOUNCE_ANY_POOL;
	dev->flags = 0;
	dev->min_align_mask = 0;
	dev->area_hint = 0;
}

/* ---- Writers (set lock held) ------------------------------------------------------- */

static void write_begin(struct vtio_bounce_set *set)
{
	__atomic_store_n(&set->seq, set->seq + 1u, __ATOMIC_RELAXED);
	VTIO_BOUNCE_FENCE_REL();
}

static void write_end(struct vtio_bounce_set *set)
{
	VTIO_BOUNCE_STORE_REL32(&set->seq, set->seq + 1u);
}

int vtio_bounce_set_register(struct vtio_bounce_set *set, struct vtio_bounce_pool *pool)
{
	VTIO_ASSERT(set != NULL && pool != NULL);
	int r = 0;
	VTIO_LOCK(&set->lock);
	uint32_t n = set->npools;
	uint32_t pos = 0;
	if (pool->owner != NULL) {
		r = VTIO_EEXIST;
		goto out;
	}
	if (n >= VTIO_CONFIG_BOUNCE_MAX_POOLS) {
		r = VTIO_ENOSPC;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct vtio_bounce_pool *q = set->pools[i];
		if (q->id == pool->id || !(pool->dev_hi < q->dev_lo || pool->dev_lo > q->dev_hi)) {
			r = VTIO_EEXIST;
			goto out;
		}
		if (q->dev_lo < pool->dev_lo)
			pos = i + 1u;
	}
	pool->owner = set;
	vtio__bounce_pool_open(pool);
	write_begin(set);
	for (uint32_t i = n; i > pos; i--)
		VTIO_BOUNCE_STORE_RELPTR(&set->pools[i], set->pools[i - 1u]);
	VTIO_BOUNCE_STORE_RELPTR(&set->pools[pos], pool);
	__atomic_store_n(&set->npools, n + 1u, __ATOMIC_RELAXED);
	write_end(set);
out:
	VTIO_UNLOCK(&set->lock);
	return r;
}

int vtio_bounce_set_unregister(struct vtio_bounce_set *set, struct vtio_bounce_pool *pool)
{
	VTIO_ASSERT(set != NULL && pool != NULL);
	int r = VTIO_ENOENT;
	VTIO_LOCK(&set->lock);
	uint32_t n = set->npools;
	for (uint32_t i = 0; i < n; i++) {
		if (set->pools[i] != pool)
			continue;
		/* Closing the areas first makes concurrent maps skip the pool,
		 * and proves (under each area lock) that nothing is in use. */
		r = vtio__bounce_pool_close(pool);
		if (r != 0)
			break;
		write_begin(set);
		for (uint32_t j = i; j + 1u < n; j++)
			VTIO_BOUNCE_STORE_RELPTR(&set->pools[j], set->pools[j + 1u]);
		VTIO_BOUNCE_STORE_RELPTR(&set->pools[n - 1u], (struct vtio_bounce_pool *)NULL);
		__atomic_store_n(&set->npools, n - 1u, __ATOMIC_RELAXED);
		write_end(set);
		pool->owner = NULL;
		break;
	}
	VTIO_UNLOCK(&set->lock);
	return r;
}

/* ---- Readers ------------------------------------------------------------------------- */

/* A read section over the pool table: reads the table's entries (n of
 * them; an entry may read NULL while a writer moves them) and writes only
 * its own context, so it can run again. */
typedef void (*table_reader)(void *ctx, struct vtio_bounce_set *set, uint32_t n);

/*
 * The one read loop of the sequence counter: run @p body until it has seen
 * the table unchanged by writers from start to end (so what it computed is
 * consistent with one table). Inlined with @p body a constant, so each
 * reader compiles to a straight loop with no indirect call.
 */
VTIO__BOUNCE_HOT void seq_read(struct vtio_bounce_set *set, table_reader body, void *ctx)
{
	for (;;) {
		uint32_t s1 = VTIO_BOUNCE_LOAD_ACQ32(&set->seq);
		if (VTIO_UNLIKELY(s1 & 1u)) {
			VTIO_CPU_RELAX();
			continue;
		}
		uint32_t n = __atomic_load_n(&set->npools, __ATOMIC_RELAXED);
		if (n > VTIO_CONFIG_BOUNCE_MAX_POOLS)
			n = VTIO_CONFIG_BOUNCE_MAX_POOLS;
		body(ctx, set, n);
		VTIO_BOUNCE_FENCE_ACQ();
		if (__atomic_load_n(&set->seq, __ATOMIC_RELAXED) == s1)
			return;
	}
}

VTIO__BOUNCE_HOT struct vtio_bounce_pool *pool_at(struct vtio_bounce_set *set, uint32_t i)
{
	return VTIO_BOUNCE_LOAD_ACQPTR(&set->pools[i]);
}

struct snap {
	struct vtio_bounce_pool **out;
	uint32_t n;
};

VTIO__BOUNCE_HOT void snap_body(void *ctx, struct vtio_bounce_set *set, uint32_t n)
{
	struct snap *c = ctx;
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct vtio_bounce_pool *p = pool_at(set, i);
		if (p != NULL) /* NULL only mid-change: the sequence check retries */
			c->out[k++] = p;
	}
	c->n = k;
}

/* Snapshot of the pool table, consistent with one sequence value. */
static uint32_t snapshot(struct vtio_bounce_set *set,
			 struct vtio_bounce_pool *out[VTIO_CONFIG_BOUNCE_MAX_POOLS])
{
	struct snap c = {out, 0};
	seq_read(set, snap_body, &c);
	return c.n;
}

struct find {
	uint64_t dev;
	struct vtio_bounce_pool *found;
};

/* Binary search of the table (sorted by device address). */
VTIO__BOUNCE_HOT void find_body(void *ctx, struct vtio_bounce_set *set, uint32_t n)
{
	struct find *c = ctx;
	uint32_t lo = 0, hi = n;
	c->found = NULL;
	if (VTIO_LIKELY(n == 1)) { /* the common single pool */
		struct vtio_bounce_pool *p = pool_at(set, 0);
		if (p != NULL && c->dev >= p->dev_lo && c->dev <= p->dev_hi)
			c->found = p;
		return;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2u;
		struct vtio_bounce_pool *p = pool_at(set, mid);
		if (p == NULL)
			return;
		if (c->dev < p->dev_lo) {
			hi = mid;
		} else if (c->dev > p->dev_hi) {
			lo = mid + 1u;
		} else {
			c->found = p;
			return;
		}
	}
}

/* Pool owning device address dev and the offset of dev in it. */
VTIO__BOUNCE_HOT int find_pool(struct vtio_bounce_set *set, uint64_t dev,
			       struct vtio_bounce_pool **pool, size_t *off)
{
	struct find c = {dev, NULL};
	seq_read(set, find_body, &c);
	if (c.found == NULL || fast_dev_off(c.found, dev, off) != 0)
		return VTIO_ENOENT;
	*pool = c.found;
	return 0;
}

int vtio_bounce_set_find(struct vtio_bounce_set *set, uint64_t dev, struct vtio_bounce_pool **pool,
			 uint32_t *slot)
{
	VTIO_ASSERT(set != NULL);
	struct vtio_bounce_pool *p;
	size_t off;
	int r = find_pool(set, dev, &p, &off);
	if (r != 0)
		return r;
	if (pool)
		*pool = p;
	if (slot)
		*slot = (uint32_t)(off >> p->slot_shift);
	return 0;
}

/*
 * Pools the device may use, best first: its affinity pool, then the others
 * it reaches, highest addresses first so low pools stay free for devices
 * with narrow masks. Restricted pools only when named.
 */
static uint32_t candidates(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev,
			   struct vtio_bounce_pool *out[VTIO_CONFIG_BOUNCE_MAX_POOLS])
{
	struct vtio_bounce_pool *all[VTIO_CONFIG_BOUNCE_MAX_POOLS];
	uint32_t n = snapshot(set, all), k = 0;
	bool any = dev->pool_id == VTIO_BOUNCE_ANY_POOL;
	if (!any) {
		for (uint32_t i = 0; i < n; i++)
			if (all[i]->id == dev->pool_id && all[i]->dev_hi <= dev->mask)
				out[k++] = all[i];
		if (dev->flags & VTIO_BOUNCE_DEV_F_STRICT)
			return k;
	}
	for (uint32_t i = n; i-- > 0;) {
		struct vtio_bounce_pool *p = all[i];
		if ((!any && p->id == dev->pool_id) || p->dev_hi > dev->mask ||
		    (p->flags & VTIO_BOUNCE_POOL_F_RESTRICTED))
			continue;
		out[k++] = p;
	}
	return k;
}

struct first {
	const struct vtio_bounce_dev *dev;
	struct vtio_bounce_pool *best;
};

VTIO__BOUNCE_HOT void first_body(void *ctx, struct vtio_bounce_set *set, uint32_t n)
{
	struct first *c = ctx;
	const struct vtio_bounce_dev *dev = c->dev;
	bool any = dev->pool_id == VTIO_BOUNCE_ANY_POOL;
	struct vtio_bounce_pool *best = NULL;
	if (!any)
		for (uint32_t i = 0; i < n && best == NULL; i++) {
			struct vtio_bounce_pool *p = pool_at(set, i);
			if (p != NULL && p->id == dev->pool_id && p->dev_hi <= dev->mask)
				best = p;
		}
	if (best == NULL && (any || !(dev->flags & VTIO_BOUNCE_DEV_F_STRICT)))
		for (uint32_t i = n; i-- > 0 && best == NULL;) {
			struct vtio_bounce_pool *p = pool_at(set, i);
			if (p != NULL && p->dev_hi <= dev->mask &&
			    !(p->flags & VTIO_BOUNCE_POOL_F_RESTRICTED) &&
			    (any || p->id != dev->pool_id))
				best = p;
		}
	c->best = best;
}

/* The first pool candidates() would list, read in one pass with no copy:
 * the fast path of every map. NULL when the device may use none. */
VTIO__BOUNCE_HOT struct vtio_bounce_pool *first_candidate(struct vtio_bounce_set *set,
							  const struct vtio_bounce_dev *dev)
{
	struct first c = {dev, NULL};
	seq_read(set, first_body, &c);
	return c.best;
}

struct vtio_bounce_pool *vtio__bounce_first_pool(struct vtio_bounce_set *set,
						 const struct vtio_bounce_dev *dev)
{
	return first_candidate(set, dev);
}

/* Fold one pool's refusal into the error to report: exhaustion outranks
 * "too big", which outranks "pool leaving" (VTIO_ENODEV). */
static int worse(int err, int r)
{
	if (r == VTIO_ENOMEM || (r == VTIO_EMSGSIZE && err != VTIO_ENOMEM) || err == VTIO_ENODEV)
		return r;
	return err;
}

/* ---- Public map / sync / alloc ----------------------------------------------------- */

/* The other usable pools, in order, after @p first refused with @p err.
 * Out of line so the fast path keeps a small frame. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int
map_slow(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev, void *cpu, size_t len,
	 enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus, const struct vtio_bounce_pool *first,
	 int err)
{
	struct vtio_bounce_pool *c[VTIO_CONFIG_BOUNCE_MAX_POOLS];
	uint32_t n = candidates(set, dev, c);
	for (uint32_t i = 0; i < n; i++) {
		if (c[i] == first)
			continue;
		int r = slots_map(c[i], dev, cpu, len, dir, attrs, bus);
		if (r == 0)
			return 0;
		err = worse(err, r);
	}
	if (n == 0 && first == NULL)
		VTIO_BOUNCE_COUNT(&set->fail_no_pool);
	return err;
}

int vtio_bounce_map(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev, void *cpu,
		    size_t len, enum vtio_dma_dir dir, uint32_t attrs, uint64_t *bus)
{
	VTIO_ASSERT(set != NULL && dev != NULL && bus != NULL);
	if (len == 0 || len > UINT32_MAX || cpu == NULL || (unsigned)dir > VTIO_DMA_FROM_DEVICE)
		return VTIO_EINVAL;
	struct vtio_bounce_pool *first = first_candidate(set, dev);
	int err = VTIO_ENODEV;
	if (VTIO_LIKELY(first != NULL)) {
		err = slots_map(first, dev, cpu, len, dir, attrs, bus);
		if (VTIO_LIKELY(err == 0))
			return 0;
	}
	return map_slow(set, dev, cpu, len, dir, attrs, bus, first, err);
}

int vtio_bounce_unmap(struct vtio_bounce_set *set, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs)
{
	VTIO_ASSERT(set != NULL);
	struct vtio_bounce_pool *p;
	size_t off;
	if (find_pool(set, bus, &p, &off) != 0) {
		VTIO_BOUNCE_COUNT(&set->fail_unknown);
		return VTIO_ENOENT;
	}
	return slots_unmap(p, off, len, dir, attrs);
}

static int sync(struct vtio_bounce_set *set, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		bool for_cpu)
{
	VTIO_ASSERT(set != NULL);
	struct vtio_bounce_pool *p;
	size_t off;
	if (len == 0)
		return 0;
	if (find_pool(set, bus, &p, &off) != 0) {
		VTIO_BOUNCE_COUNT(&set->fail_unknown);
		return VTIO_ENOENT;
	}
	return slots_sync(p, off, len, dir, for_cpu);
}

int vtio_bounce_sync_for_cpu(struct vtio_bounce_set *set, uint64_t bus, size_t len,
			     enum vtio_dma_dir dir)
{
	return sync(set, bus, len, dir, true);
}

int vtio_bounce_sync_for_device(struct vtio_bounce_set *set, uint64_t bus, size_t len,
				enum vtio_dma_dir dir)
{
	return sync(set, bus, len, dir, false);
}

int vtio_bounce_alloc(struct vtio_bounce_set *set, const struct vtio_bounce_dev *dev, size_t size,
		      size_t align, void **cpu, uint64_t *bus)
{
	VTIO_ASSERT(set != NULL && dev != NULL && cpu != NULL && bus != NULL);
	if (size == 0 || (align != 0 && (align & (align - 1u)) != 0))
		return VTIO_EINVAL;
	struct vtio_bounce_pool *first = first_candidate(set, dev);
	int err = VTIO_ENODEV;
	if (VTIO_LIKELY(first != NULL)) {
		err = slots_alloc(first, dev->area_hint, size, align, cpu, bus);
		if (VTIO_LIKELY(err == 0))
			return 0;
	}
	struct vtio_bounce_pool *c[VTIO_CONFIG_BOUNCE_MAX_POOLS];
	uint32_t n = candidates(set, dev, c);
	for (uint32_t i = 0; i < n; i++) {
		if (c[i] == first)
			continue;
		int r = slots_alloc(c[i], dev->area_hint, size, align, cpu, bus);
		if (r == 0)
			return 0;
		err = worse(err, r);
	}
	if (n == 0 && first == NULL)
		VTIO_BOUNCE_COUNT(&set->fail_no_pool);
	return err;
}

int vtio_bounce_free(struct vtio_bounce_set *set, size_t size, void *cpu, uint64_t bus)
{
	VTIO_ASSERT(set != NULL);
	struct vtio_bounce_pool *p;
	size_t off;
	if (find_pool(set, bus, &p, &off) != 0) {
		VTIO_BOUNCE_COUNT(&set->fail_unknown);
		return VTIO_ENOENT;
	}
	return slots_free(p, off, size, cpu);
}

void vtio_bounce_set_get_stats(struct vtio_bounce_set *set, struct vtio_bounce_stats *out)
{
	VTIO_ASSERT(set != NULL && out != NULL);
	struct vtio_bounce_pool *all[VTIO_CONFIG_BOUNCE_MAX_POOLS];
	uint32_t n = snapshot(set, all);
	VTIO_MEMSET(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		struct vtio_bounce_stats s;
		vtio_bounce_pool_get_stats(all[i], &s);
		out->slots += s.slots;
		out->in_use += s.in_use;
		out->high_water += s.high_water;
		out->maps += s.maps;
		out->unmaps += s.unmaps;
		out->allocs += s.allocs;
		out->frees += s.frees;
		out->bounced += s.bounced;
		out->fail_nospace += s.fail_nospace;
		out->fail_too_big += s.fail_too_big;
		out->fail_unknown += s.fail_unknown;
		out->fail_double += s.fail_double;
		out->fail_mismatch += s.fail_mismatch;
		out->cached += s.cached;
	}
	out->fail_no_pool = __atomic_load_n(&set->fail_no_pool, __ATOMIC_RELAXED);
	out->fail_unknown += __atomic_load_n(&set->fail_unknown, __ATOMIC_RELAXED);
}

#endif /* VTIO_CONFIG_BOUNCE */
