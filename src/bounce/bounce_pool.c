/* Bounce pool: storage layout, initialisation, address mapping (the slow
 * paths), registration support and statistics. The slot allocator and the
 * per-pool halves of map/sync/unmap/alloc/free are in bounce_slots.h. */
#include "bounce_internal.h"

#if VTIO_CONFIG_BOUNCE

/* ---- Storage layout ------------------------------------------------------------ */

static size_t round_up(size_t x, size_t a)
{
	return (x + (a - 1)) & ~(a - 1);
}

static bool is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static uint32_t log2_u32(uint32_t x)
{
	uint32_t r = 0;
	while ((1u << r) < x)
		r++;
	return r;
}

/* First slot of area i: areas share the slots as evenly as possible. */
static uint32_t area_start(uint32_t nslots, uint32_t nareas, uint32_t i)
{
	/* The first (nslots % nareas) areas get one slot more; 32-bit
	 * arithmetic only (no 64-bit division helper on 32-bit targets). */
	uint32_t q = nslots / nareas, r = nslots % nareas;
	return i * q + (i < r ? i : r);
}

/* Bytes of bitmap for an area of n slots, padded to whole cache lines so
 * two areas never write the same line. */
static size_t bitmap_bytes(uint32_t n)
{
	return round_up(((size_t)n + 63u) / 64u * sizeof(uint64_t), VTIO__BOUNCE_LINE);
}

struct pool_layout {
	size_t areas, bits, breaks, by_dev, slots, tags, total;
};

/* Validate the geometry of @p cfg and lay out the storage. */
static int pool_layout(const struct vtio_bounce_pool_config *cfg, struct pool_layout *lay,
		       uint32_t *slot_size_out, uint32_t *nslots_out, uint32_t *maxseg_out,
		       uint32_t *nareas_out)
{
	if (cfg == NULL || cfg->size == 0)
		return VTIO_EINVAL;
	uint32_t slot = cfg->slot_size ? cfg->slot_size : VTIO_BOUNCE_SLOT_SIZE;
	if (!is_pow2(slot) || slot < 16u || slot > (1u << 20))
		return VTIO_EINVAL;
	if (cfg->size % slot != 0 || cfg->size / slot > 0x7fffffffu)
		return VTIO_EINVAL;
	uint32_t nslots = (uint32_t)(cfg->size / slot);
	uint32_t maxseg = cfg->max_segment ? cfg->max_segment : VTIO_BOUNCE_MAX_SEGMENT;
	/* A mapping's length must fit the 32-bit record. */
	if (maxseg > (1u << 31) / slot)
		return VTIO_EINVAL;
	uint32_t nareas = cfg->nareas ? cfg->nareas : 1u;
	if (nareas > nslots || nareas > 0xffffu)
		return VTIO_EINVAL;
	if (cfg->mapping != VTIO_BOUNCE_MAP_LINEAR && cfg->mapping != VTIO_BOUNCE_MAP_PIECES &&
	    cfg->mapping != VTIO_BOUNCE_MAP_CALLBACK)
		return VTIO_EINVAL;
	uint32_t npieces = 0;
	if (cfg->mapping == VTIO_BOUNCE_MAP_PIECES) {
		if (cfg->npieces == 0 || cfg->npieces > VTIO_BOUNCE_MAX_PIECES)
			return VTIO_EINVAL;
		npieces = cfg->npieces;
	}
	if ((uint64_t)nslots * (sizeof(struct vtio__bounce_slot) + sizeof(uint32_t)) >
	    (uint64_t)(SIZE_MAX / 2))
		return VTIO_EINVAL;

	size_t off = round_up(sizeof(struct vtio_bounce_pool), VTIO__BOUNCE_LINE);
	lay->areas = off;
	off += (size_t)nareas * sizeof(struct vtio__bounce_area);
	lay->bits = off;
	for (uint32_t i = 0; i < nareas; i++)
		off +=
		    bitmap_bytes(area_start(nslots, nareas, i + 1) - area_start(nslots, nareas, i));
	lay->breaks = off;
	if (npieces)
		off += bitmap_bytes(nslots);
	lay->by_dev = off;
	off += round_up((size_t)npieces * sizeof(uint16_t), VTIO__BOUNCE_LINE);
	lay->slots = off;
	off += (size_t)nslots * sizeof(struct vtio__bounce_slot);
	lay->tags = off;
	off += (size_t)nslots * sizeof(uint32_t);
	lay->total = off;
	*slot_size_out = slot;
	*nslots_out = nslots;
	*maxseg_out = maxseg < nslots ? maxseg : nslots;
	*nareas_out = nareas;
	return 0;
}

size_t vtio_bounce_pool_size(const struct vtio_bounce_pool_config *cfg)
{
	struct pool_layout lay;
	uint32_t a, b, c, d;
	if (pool_layout(cfg, &lay, &a, &b, &c, &d) != 0)
		return 0;
	return lay.total;
}

/* Check the pieces table and build the device-sorted index and the break bitmap. */
static int init_pieces(struct vtio_bounce_pool *p, const struct vtio_bounce_pool_config *cfg)
{
	const struct vtio_bounce_piece *pc = cfg->pieces;
	size_t slot = p->slot_size;
	if (pc == NULL)
		return VTIO_EINVAL;
	size_t expect = 0;
	for (uint32_t i = 0; i < cfg->npieces; i++) {
		if (pc[i].off != expect || pc[i].len == 0 || pc[i].len % slot != 0 ||
		    (pc[i].dev & (slot - 1u)) != 0 || pc[i].len > p->size - pc[i].off)
			return VTIO_EINVAL;
		if (pc[i].dev + (pc[i].len - 1) < pc[i].dev)
			return VTIO_EINVAL; /* wraps past 2^64 */
		expect += pc[i].len;
		p->breaks[(pc[i].off / slot) / 64u] |= 1ull << ((pc[i].off / slot) % 64u);
		/* insertion sort by device address (tables are short) */
		uint32_t j = i;
		while (j > 0 && pc[p->by_dev[j - 1]].dev > pc[i].dev) {
			p->by_dev[j] = p->by_dev[j - 1];
			j--;
		}
		p->by_dev[j] = (uint16_t)i;
	}
	if (expect != p->size)
		return VTIO_EINVAL;
	for (uint32_t k = 1; k < cfg->npieces; k++) {
		const struct vtio_bounce_piece *a = &pc[p->by_dev[k - 1]];
		const struct vtio_bounce_piece *b = &pc[p->by_dev[k]];
		if (b->dev <= a->dev + (a->len - 1))
			return VTIO_EINVAL; /* device ranges overlap */
	}
	p->dev_lo = pc[p->by_dev[0]].dev;
	const struct vtio_bounce_piece *last = &pc[p->by_dev[cfg->npieces - 1]];
	p->dev_hi = last->dev + (last->len - 1);
	return 0;
}

int vtio_bounce_pool_init(struct vtio_bounce_pool **out, void *storage, size_t storage_size,
			  const struct vtio_bounce_pool_config *cfg)
{
	struct pool_layout lay;
	uint32_t slot, nslots, maxseg, nareas;
	if (out == NULL || storage == NULL || ((uintptr_t)storage % VTIO__BOUNCE_LINE) != 0)
		return VTIO_EINVAL;
	int r = pool_layout(cfg, &lay, &slot, &nslots, &maxseg, &nareas);
	if (r != 0)
		return r;
	if (storage_size < lay.total || cfg->base == NULL || ((uintptr_t)cfg->base % slot) != 0)
		return VTIO_EINVAL;
	if ((uintptr_t)cfg->base + (cfg->size - 1) < (uintptr_t)cfg->base)
		return VTIO_EINVAL;

	unsigned char *st = storage;
	VTIO_MEMSET(st, 0, lay.total);
	struct vtio_bounce_pool *p = (struct vtio_bounce_pool *)(void *)st;
	p->base = cfg->base;
	p->size = cfg->size;
	p->slot_size = slot;
	p->slot_shift = log2_u32(slot);
	p->dirty_shift = p->slot_shift > 15u ? p->slot_shift - 15u : 0u;
	p->nslots = nslots;
	p->max_segment = maxseg;
	p->seg_mask = is_pow2(maxseg) ? maxseg - 1u : 0u;
	p->nareas = nareas;
	p->id = cfg->id;
	p->flags = cfg->flags;
	p->mapping = cfg->mapping;
	p->areas = (struct vtio__bounce_area *)(void *)(st + lay.areas);
	p->slots = (struct vtio__bounce_slot *)(void *)(st + lay.slots);
	p->cache_tag = (uint32_t *)(void *)(st + lay.tags);

	switch (cfg->mapping) {
	case VTIO_BOUNCE_MAP_LINEAR:
		if ((cfg->dev_base & (slot - 1u)) != 0 ||
		    cfg->dev_base + (cfg->size - 1) < cfg->dev_base)
			return VTIO_EINVAL;
		p->dev_base = cfg->dev_base;
		p->dev_lo = cfg->dev_base;
		p->dev_hi = cfg->dev_base + (cfg->size - 1);
		break;
	case VTIO_BOUNCE_MAP_PIECES:
		p->breaks = (uint64_t *)(void *)(st + lay.breaks);
		p->by_dev = (uint16_t *)(void *)(st + lay.by_dev);
		p->pieces = cfg->pieces;
		p->npieces = cfg->npieces;
		r = init_pieces(p, cfg);
		if (r != 0)
			return r;
		break;
	case VTIO_BOUNCE_MAP_CALLBACK:
		if (cfg->xlate == NULL || cfg->xlate->to_dev == NULL ||
		    cfg->xlate->to_off == NULL || cfg->dev_lo > cfg->dev_hi)
			return VTIO_EINVAL;
		p->xlate = cfg->xlate;
		p->xlate_ctx = cfg->xlate_ctx;
		p->dev_lo = cfg->dev_lo;
		p->dev_hi = cfg->dev_hi;
		break;
	}

	unsigned char *bits = st + lay.bits;
	for (uint32_t i = 0; i < nareas; i++) {
		struct vtio__bounce_area *a = &p->areas[i];
		VTIO_LOCK_INIT(&a->lock);
		a->closing = 1; /* opened when registered with a set */
		a->next_tag = 0;
		a->start = area_start(nslots, nareas, i);
		a->end = area_start(nslots, nareas, i + 1);
		a->hint = a->start;
		a->bits = (uint64_t *)(void *)bits;
		uint32_t n = a->end - a->start;
		for (uint32_t k = a->start; k < a->end; k++) {
			p->slots[k].area = (uint16_t)i;
			/* Contents unknown: the whole slot may be non-zero. */
			p->slots[k].dlo = 0;
			p->slots[k].dhi = (uint16_t)(p->slot_size >> p->dirty_shift);
		}
		/* Bits past the area's end read as in use. */
		if (n % 64u)
			a->bits[n / 64u] = ~0ull << (n % 64u);
		bits += bitmap_bytes(n);
	}
	*out = p;
	return 0;
}

/* ---- Address mapping ------------------------------------------------------------- */

/* Piece holding pool offset off (pieces sorted by offset, covering the pool). */
static const struct vtio_bounce_piece *piece_of_off(const struct vtio_bounce_pool *p, size_t off)
{
	uint32_t lo = 0, hi = p->npieces;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->pieces[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &p->pieces[lo];
}

int vtio__bounce_off_to_dev(const struct vtio_bounce_pool *p, size_t off, uint64_t *dev)
{
	switch (p->mapping) {
	case VTIO_BOUNCE_MAP_LINEAR:
		*dev = p->dev_base + off;
		return 0;
	case VTIO_BOUNCE_MAP_PIECES: {
		const struct vtio_bounce_piece *pc = piece_of_off(p, off);
		*dev = pc->dev + (off - pc->off);
		return 0;
	}
	case VTIO_BOUNCE_MAP_CALLBACK: {
		/* The callback maps slot-aligned offsets; each segment is contiguous. */
		size_t aligned = off & ~((size_t)p->slot_size - 1u);
		uint64_t d;
		if (p->xlate->to_dev(p->xlate_ctx, aligned, &d) != 0 || d < p->dev_lo ||
		    d > p->dev_hi)
			return VTIO_EFAULT;
		*dev = d + (off - aligned);
		return 0;
	}
	}
	return VTIO_EFAULT;
}

int vtio__bounce_dev_off(const struct vtio_bounce_pool *p, uint64_t dev, size_t *off)
{
	if (dev < p->dev_lo || dev > p->dev_hi)
		return VTIO_ENOENT;
	switch (p->mapping) {
	case VTIO_BOUNCE_MAP_LINEAR:
		*off = (size_t)(dev - p->dev_base);
		return 0;
	case VTIO_BOUNCE_MAP_PIECES: {
		uint32_t lo = 0, hi = p->npieces;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			const struct vtio_bounce_piece *pc = &p->pieces[p->by_dev[mid]];
			if (dev < pc->dev)
				hi = mid;
			else if (dev - pc->dev >= pc->len)
				lo = mid + 1;
			else {
				*off = pc->off + (size_t)(dev - pc->dev);
				return 0;
			}
		}
		return VTIO_ENOENT;
	}
	case VTIO_BOUNCE_MAP_CALLBACK: {
		size_t o;
		if (p->xlate->to_off(p->xlate_ctx, dev, &o) != 0 || o >= p->size)
			return VTIO_ENOENT;
		*off = o;
		return 0;
	}
	}
	return VTIO_ENOENT;
}

void vtio_bounce_pool_dev_range(const struct vtio_bounce_pool *pool, uint64_t *lo, uint64_t *hi)
{
	VTIO_ASSERT(pool != NULL);
	if (lo)
		*lo = pool->dev_lo;
	if (hi)
		*hi = pool->dev_hi;
}

int vtio_bounce_pool_cpu_to_dev(const struct vtio_bounce_pool *pool, const void *cpu, uint64_t *dev)
{
	VTIO_ASSERT(pool != NULL && dev != NULL);
	uintptr_t c = (uintptr_t)cpu, b = (uintptr_t)pool->base;
	if (c < b || c - b >= pool->size)
		return VTIO_EFAULT;
	return vtio__bounce_off_to_dev(pool, (size_t)(c - b), dev);
}

int vtio_bounce_pool_dev_to_cpu(const struct vtio_bounce_pool *pool, uint64_t dev, void **cpu)
{
	VTIO_ASSERT(pool != NULL && cpu != NULL);
	size_t off;
	int r = vtio__bounce_dev_off(pool, dev, &off);
	if (r != 0)
		return r;
	*cpu = pool->base + off;
	return 0;
}

uint32_t vtio_bounce_pool_id(const struct vtio_bounce_pool *pool)
{
	VTIO_ASSERT(pool != NULL);
	return pool->id;
}

/* ---- Registration support and statistics ------------------------------------------ */

int vtio__bounce_pool_close(struct vtio_bounce_pool *p)
{
	for (uint32_t i = 0; i < p->nareas; i++) {
		struct vtio__bounce_area *a = &p->areas[i];
		VTIO_LOCK(&a->lock);
		bool busy = a->in_use != 0 || a->caches != NULL;
		if (!busy)
			a->closing = 1;
		VTIO_UNLOCK(&a->lock);
		if (busy) {
			for (uint32_t j = 0; j < i; j++) {
				VTIO_LOCK(&p->areas[j].lock);
				p->areas[j].closing = 0;
				VTIO_UNLOCK(&p->areas[j].lock);
			}
			return VTIO_EBUSY;
		}
	}
	return 0;
}

void vtio__bounce_pool_open(struct vtio_bounce_pool *p)
{
	for (uint32_t i = 0; i < p->nareas; i++) {
		VTIO_LOCK(&p->areas[i].lock);
		p->areas[i].closing = 0;
		VTIO_UNLOCK(&p->areas[i].lock);
	}
}

void vtio_bounce_pool_get_stats(struct vtio_bounce_pool *pool, struct vtio_bounce_stats *out)
{
	VTIO_ASSERT(pool != NULL && out != NULL);
	VTIO_MEMSET(out, 0, sizeof(*out));
	out->slots = pool->nslots;
	for (uint32_t i = 0; i < pool->nareas; i++) {
		struct vtio__bounce_area *a = &pool->areas[i];
		VTIO_LOCK(&a->lock);
		/* A cache's magazines and counters change without the lock (by
		 * its owner alone): relaxed reads, exact when it is idle. */
		uint64_t cached = 0;
		for (const struct vtio_bounce_cache *c = a->caches; c != NULL; c = c->next) {
			cached += mag_count(c, 0) + 2u * (uint64_t)mag_count(c, 1);
			vtio__pend v = pend_read(c);
			out->maps += pend_maps(v);
			out->unmaps += cache_unmaps(c, v);
			out->bounced += pend_bytes(v);
		}
		out->in_use += a->in_use - cached;
		out->cached += cached;
		out->high_water += a->high_water;
		out->maps += a->maps;
		out->unmaps += a->unmaps;
		out->allocs += a->allocs;
		out->frees += a->frees;
		out->bounced += a->bounced;
		VTIO_UNLOCK(&a->lock);
	}
	out->fail_nospace = __atomic_load_n(&pool->fail_nospace, __ATOMIC_RELAXED);
	out->fail_too_big = __atomic_load_n(&pool->fail_too_big, __ATOMIC_RELAXED);
	out->fail_unknown = __atomic_load_n(&pool->fail_unknown, __ATOMIC_RELAXED);
	out->fail_double = __atomic_load_n(&pool->fail_double, __ATOMIC_RELAXED);
	out->fail_mismatch = __atomic_load_n(&pool->fail_mismatch, __ATOMIC_RELAXED);
}

#endif /* VTIO_CONFIG_BOUNCE */
