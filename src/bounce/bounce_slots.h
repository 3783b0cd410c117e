/* The slot allocator and the per-pool halves of map / sync / unmap / alloc /
 * free, inline so the public calls in bounce_set.c compile into one
 * function each (the fast path makes no call but memcpy and, for
 * non-linear pools, the translation). Private to src/bounce. */
#ifndef VTIO_BOUNCE_SLOTS_H
#define VTIO_BOUNCE_SLOTS_H

#include "bounce_internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define VTIO__BOUNCE_HOT static inline __attribute__((always_inline))
#else
#define VTIO__BOUNCE_HOT static inline
#endif

/* Device address of pool offset off: linear pools inline, others out of line. */
VTIO__BOUNCE_HOT int fast_off_to_dev(const struct vtio_bounce_pool *p, size_t off, uint64_t *dev)
{
	if (VTIO_LIKELY(p->mapping == VTIO_BOUNCE_MAP_LINEAR)) {
		*dev = p->dev_base + off;
		return 0;
	}
	return vtio__bounce_off_to_dev(p, off, dev);
}

/* Pool offset of device address dev, or VTIO_ENOENT. */
VTIO__BOUNCE_HOT int fast_dev_off(const struct vtio_bounce_pool *p, uint64_t dev, size_t *off)
{
	if (VTIO_LIKELY(p->mapping == VTIO_BOUNCE_MAP_LINEAR)) {
		if (dev < p->dev_lo || dev > p->dev_hi)
			return VTIO_ENOENT;
		*off = (size_t)(dev - p->dev_base);
		return 0;
	}
	return vtio__bounce_dev_off(p, dev, off);
}

/* ---- Slot allocator ---------------------------------------------------------------- */

/* First clear bit in [i, end) of an area bitmap, or end. */
VTIO__BOUNCE_HOT uint32_t next_zero(const uint64_t *bits, uint32_t i, uint32_t end)
{
	while (i < end) {
		uint32_t w = i / 64u;
		uint64_t word = ~bits[w] & (~0ull << (i % 64u));
		if (word != 0) {
			uint32_t r = w * 64u + VTIO_BOUNCE_CTZ64(word);
			return r < end ? r : end;
		}
		i = (w + 1u) * 64u;
	}
	return end;
}

/* First set bit in [i, end), or end. */
VTIO__BOUNCE_HOT uint32_t next_one(const uint64_t *bits, uint32_t i, uint32_t end)
{
	while (i < end) {
		uint32_t w = i / 64u;
		uint64_t word = bits[w] & (~0ull << (i % 64u));
		if (word != 0) {
			uint32_t r = w * 64u + VTIO_BOUNCE_CTZ64(word);
			return r < end ? r : end;
		}
		i = (w + 1u) * 64u;
	}
	return end;
}

VTIO__BOUNCE_HOT void set_bits(uint64_t *bits, uint32_t i, uint32_t n, bool on)
{
	if (VTIO_LIKELY(n == 1)) {
		uint64_t m = 1ull << (i % 64u);
		if (on)
			bits[i / 64u] |= m;
		else
			bits[i / 64u] &= ~m;
		return;
	}
	while (n > 0) {
		uint32_t w = i / 64u, b = i % 64u;
		uint32_t k = 64u - b < n ? 64u - b : n;
		uint64_t m = (k == 64u ? ~0ull : ((1ull << k) - 1u)) << b;
		if (on)
			bits[w] |= m;
		else
			bits[w] &= ~m;
		i += k;
		n -= k;
	}
}

/* Constraints on a run of slots. */
struct run_req {
	uint32_t n;	/* slots */
	bool segment;	/* must not cross a segment boundary */
	uint64_t amask; /* device address of the first slot & amask must be aval */
	uint64_t aval;
};

/*
 * First-fit search for a run in area a (its lock held). Bounded: every
 * step moves the candidate forward, so the worst case is a pass over the
 * area's bitmap (one word per 64 slots) plus, only with alignment needs
 * beyond the slot size, one address check per slot. Returns the first slot
 * or UINT32_MAX.
 */
VTIO__BOUNCE_HOT uint32_t find_run(const struct vtio_bounce_pool *p, struct vtio__bounce_area *a,
				   const struct run_req *rq)
{
	uint32_t end = a->end - a->start;
	uint32_t n = rq->n;
	if (n > end)
		return UINT32_MAX;
	uint32_t first = next_zero(a->bits, a->hint - a->start, end);
	uint32_t s = first;
	/* The common case: one slot, no alignment beyond the slot size. */
	if (VTIO_LIKELY(n == 1 && rq->amask == 0)) {
		if (s >= end)
			return UINT32_MAX;
		a->hint = a->start + s + 1u;
		return a->start + s;
	}
	for (;;) {
		s = next_zero(a->bits, s, end);
		if (s >= end || n > end - s)
			return UINT32_MAX;
		uint32_t gs = a->start + s; /* slot index in the pool */
		if (rq->amask != 0) {
			uint64_t d;
			if (fast_off_to_dev(p, (size_t)gs << p->slot_shift, &d) != 0 ||
			    (d & rq->amask) != rq->aval) {
				s++;
				continue;
			}
		}
		if (rq->segment && n > 1) { /* one slot never crosses a boundary */
			uint32_t seg_end = (gs / p->max_segment + 1u) * p->max_segment;
			if (gs + n > seg_end) {
				s = seg_end - a->start;
				continue;
			}
		}
		if (p->breaks != NULL && n > 1) {
			uint32_t b = next_one(p->breaks, gs + 1u, gs + n);
			if (b < gs + n) {
				s = b - a->start;
				continue;
			}
		}
		if (n > 1) {
			uint32_t z = next_one(a->bits, s + 1u, s + n);
			if (z < s + n) {
				s = z + 1u;
				continue;
			}
		}
		/* Keep the hint exact: everything below it is in use. */
		a->hint = a->start + (s == first ? s + n : first);
		return gs;
	}
}

/* Take a run in the first area (from area_hint on) that has one, and fill
 * its records from @p tmpl (head fields) under the area lock. */
VTIO__BOUNCE_HOT int take_run(struct vtio_bounce_pool *p, uint32_t area_hint,
			      const struct run_req *rq, const struct vtio__bounce_slot *tmpl,
			      uint32_t *slot_out)
{
	uint32_t na = p->nareas;
	if (area_hint == VTIO_BOUNCE_AREA_CPU)
		area_hint = (uint32_t)(VTIO_BOUNCE_CPU_ID());
	uint32_t ai = area_hint < na ? area_hint : (na > 1u ? area_hint % na : 0u);
	for (uint32_t k = 0; k < na; k++, ai = (ai + 1u == na ? 0u : ai + 1u)) {
		struct vtio__bounce_area *a = &p->areas[ai];
		VTIO_LOCK(&a->lock);
		if (VTIO_UNLIKELY(a->closing)) {
			VTIO_UNLOCK(&a->lock);
			return VTIO_ENODEV;
		}
		uint32_t s = find_run(p, a, rq);
		if (s == UINT32_MAX) {
			VTIO_UNLOCK(&a->lock);
			continue;
		}
		set_bits(a->bits, s - a->start, rq->n, true);
		struct vtio__bounce_slot *h = &p->slots[s];
		*h = *tmpl;
		h->head = s;
		h->nslots = rq->n;
		h->area = (uint16_t)ai;
		for (uint32_t i = 1; i < rq->n; i++) {
			p->slots[s + i].head = s;
			p->slots[s + i].state = tmpl->state;
		}
		a->in_use += rq->n;
		if (a->in_use > a->high_water)
			a->high_water = a->in_use;
		if (tmpl->state == VTIO__SLOT_MAP) {
			a->maps++;
			a->bounced += tmpl->len;
		} else {
			a->allocs++;
		}
		VTIO_UNLOCK(&a->lock);
		*slot_out = s;
		return 0;
	}
	VTIO_BOUNCE_COUNT(&p->fail_nospace);
	return VTIO_ENOMEM;
}

/* Give back the run of head slot s; the caller checked it. 0 or VTIO_EALREADY
 * when a concurrent free won the race. */
VTIO__BOUNCE_HOT int release_run(struct vtio_bounce_pool *p, uint32_t s, uint8_t state, bool count,
				 uint64_t bounced)
{
	struct vtio__bounce_slot *h = &p->slots[s];
	struct vtio__bounce_area *a = &p->areas[h->area];
	uint32_t n = h->nslots;
	VTIO_LOCK(&a->lock);
	if (VTIO_UNLIKELY(h->state != state || h->head != s)) {
		VTIO_UNLOCK(&a->lock);
		VTIO_BOUNCE_COUNT(&p->fail_double);
		return VTIO_EALREADY;
	}
	for (uint32_t i = 0; i < n; i++)
		p->slots[s + i].state = VTIO__SLOT_FREE;
	set_bits(a->bits, s - a->start, n, false);
	if (s < a->hint)
		a->hint = s;
	a->in_use -= n;
	if (count) {
		if (state == VTIO__SLOT_MAP)
			a->unmaps++;
		else
			a->frees++;
		a->bounced += bounced;
	}
	VTIO_UNLOCK(&a->lock);
	return 0;
}

/* ---- Map / sync / unmap -------------------------------------------------------------- */

VTIO__BOUNCE_HOT int slots_map(struct vtio_bounce_pool *p, const struct vtio_bounce_dev *dev,
			       void *cpu, size_t len, enum vtio_dma_dir dir, uint32_t attrs,
			       uint64_t *bus)
{
	uint64_t slot_mask = (uint64_t)p->slot_size - 1u;
	/* swiotlb's min_align_mask: low bits kept by the offset in the first
	 * slot, higher bits by the choice of slot. */
	uint32_t off = (uint32_t)((uint64_t)(uintptr_t)cpu & dev->min_align_mask & slot_mask);
	uint64_t need = (uint64_t)off + len;
	uint64_t nslots = (need + slot_mask) >> p->slot_shift;
	if (nslots > p->max_segment) {
		VTIO_BOUNCE_COUNT(&p->fail_too_big);
		return VTIO_EMSGSIZE;
	}
	struct run_req rq;
	rq.n = (uint32_t)nslots;
	rq.segment = true;
	rq.amask = dev->min_align_mask & ~slot_mask;
	rq.aval = (uint64_t)(uintptr_t)cpu & rq.amask;
	struct vtio__bounce_slot tmpl;
	tmpl.orig = (uintptr_t)cpu;
	tmpl.head = 0;
	tmpl.nslots = 0;
	tmpl.len = (uint32_t)len;
	tmpl.off = off;
	tmpl.area = 0;
	tmpl.dir = (uint8_t)dir;
	tmpl.state = VTIO__SLOT_MAP;
	uint32_t s;
	int r = take_run(p, dev->area_hint, &rq, &tmpl, &s);
	if (r != 0)
		return r;
	size_t poff = ((size_t)s << p->slot_shift) + off;
	uint64_t d;
	if (VTIO_UNLIKELY(fast_off_to_dev(p, poff, &d) != 0)) {
		release_run(p, s, VTIO__SLOT_MAP, false, 0);
		return VTIO_EFAULT;
	}
	/* Always copy in, FROM_DEVICE too: the device must never see what an
	 * earlier mapping left in the slots (CVE-2022-0854), and a partial
	 * device write must leave the rest of the buffer as it was. */
	unsigned char *tlb = p->base + poff;
	VTIO_MEMCPY(tlb, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(tlb, len);
	*bus = d;
	return 0;
}

/* Head slot of the mapping or allocation that holds pool offset off, with checks. */
VTIO__BOUNCE_HOT int lookup_head(struct vtio_bounce_pool *p, size_t off, uint32_t *head)
{
	uint32_t s = (uint32_t)(off >> p->slot_shift);
	if (s >= p->nslots)
		return VTIO_ENOENT;
	const struct vtio__bounce_slot *r = &p->slots[s];
	if (r->state == VTIO__SLOT_FREE)
		return VTIO_EALREADY;
	if (r->head > s || p->slots[r->head].state != r->state)
		return VTIO_ENOENT;
	*head = r->head;
	return 0;
}

VTIO__BOUNCE_HOT int slots_unmap(struct vtio_bounce_pool *p, size_t off, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs)
{
	uint32_t s;
	int r = lookup_head(p, off, &s);
	if (r == VTIO_EALREADY) {
		VTIO_BOUNCE_COUNT(&p->fail_double);
		return r;
	}
	if (r != 0 || ((size_t)s << p->slot_shift) + p->slots[s].off != off) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT; /* not the start of a mapping */
	}
	struct vtio__bounce_slot *h = &p->slots[s];
	if (h->state != VTIO__SLOT_MAP || h->len != len || h->dir != (uint8_t)dir) {
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_EINVAL;
	}
	unsigned char *tlb = p->base + off;
	bool copied = (dir == VTIO_DMA_FROM_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) &&
		      !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	if (copied) {
		VTIO_CACHE_INVALIDATE(tlb, len);
		VTIO_MEMCPY((void *)h->orig, tlb, len);
	}
	if (p->flags & VTIO_BOUNCE_POOL_F_SCRUB)
		VTIO_MEMSET(p->base + ((size_t)s << p->slot_shift), 0,
			    (size_t)h->nslots << p->slot_shift);
	return release_run(p, s, VTIO__SLOT_MAP, true, copied ? len : 0);
}

VTIO__BOUNCE_HOT int slots_sync(struct vtio_bounce_pool *p, size_t off, size_t len,
				enum vtio_dma_dir dir, bool for_cpu)
{
	uint32_t s;
	int r = lookup_head(p, off, &s);
	if (r != 0) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT;
	}
	const struct vtio__bounce_slot *h = &p->slots[s];
	size_t start = ((size_t)s << p->slot_shift) + h->off;
	if (h->state != VTIO__SLOT_MAP || off < start) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT;
	}
	size_t pos = off - start;
	if (len > h->len || pos > h->len - len) {
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_ERANGE;
	}
	if (h->dir != (uint8_t)dir) {
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_EINVAL;
	}
	unsigned char *tlb = p->base + off;
	unsigned char *orig = (unsigned char *)h->orig + pos;
	if (for_cpu) {
		if (dir == VTIO_DMA_FROM_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) {
			VTIO_CACHE_INVALIDATE(tlb, len);
			VTIO_MEMCPY(orig, tlb, len);
		}
	} else if (dir == VTIO_DMA_TO_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) {
		VTIO_MEMCPY(tlb, orig, len);
		VTIO_CACHE_FLUSH(tlb, len);
	}
	return 0;
}

/* ---- Alloc / free -------------------------------------------------------------------- */

VTIO__BOUNCE_HOT int slots_alloc(struct vtio_bounce_pool *p, uint32_t area_hint, size_t size,
				 size_t align, void **cpu, uint64_t *bus)
{
	uint64_t slot_mask = (uint64_t)p->slot_size - 1u;
	uint64_t nslots = ((uint64_t)size + slot_mask) >> p->slot_shift;
	/* Area 0 is the largest (the first areas take the odd slots). */
	uint32_t biggest = p->areas[0].end - p->areas[0].start;
	bool seg = p->mapping == VTIO_BOUNCE_MAP_CALLBACK;
	if (nslots > biggest || size > UINT32_MAX || (seg && nslots > p->max_segment)) {
		VTIO_BOUNCE_COUNT(&p->fail_too_big);
		return VTIO_EMSGSIZE;
	}
	struct run_req rq;
	rq.n = (uint32_t)nslots;
	/* Only callback pools promise contiguity no further than a segment. */
	rq.segment = seg;
	rq.amask = align > p->slot_size ? ((uint64_t)align - 1u) : 0u;
	rq.aval = 0;
	struct vtio__bounce_slot tmpl;
	VTIO_MEMSET(&tmpl, 0, sizeof(tmpl));
	tmpl.len = (uint32_t)size;
	tmpl.dir = VTIO_DMA_BIDIRECTIONAL;
	tmpl.state = VTIO__SLOT_ALLOC;
	uint32_t s;
	int r = take_run(p, area_hint, &rq, &tmpl, &s);
	if (r != 0)
		return r;
	size_t poff = (size_t)s << p->slot_shift;
	uint64_t d;
	if (VTIO_UNLIKELY(fast_off_to_dev(p, poff, &d) != 0)) {
		release_run(p, s, VTIO__SLOT_ALLOC, false, 0);
		return VTIO_EFAULT;
	}
	VTIO_MEMSET(p->base + poff, 0, size);
	*cpu = p->base + poff;
	*bus = d;
	return 0;
}

VTIO__BOUNCE_HOT int slots_free(struct vtio_bounce_pool *p, size_t off, size_t size, void *cpu)
{
	uint32_t s;
	int r = lookup_head(p, off, &s);
	if (r == VTIO_EALREADY) {
		VTIO_BOUNCE_COUNT(&p->fail_double);
		return r;
	}
	if (r != 0 || ((size_t)s << p->slot_shift) != off) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT;
	}
	struct vtio__bounce_slot *h = &p->slots[s];
	if (h->state != VTIO__SLOT_ALLOC || h->len != size ||
	    (unsigned char *)cpu != p->base + off) {
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_EINVAL;
	}
	if (p->flags & VTIO_BOUNCE_POOL_F_SCRUB)
		VTIO_MEMSET(p->base + off, 0, (size_t)h->nslots << p->slot_shift);
	return release_run(p, s, VTIO__SLOT_ALLOC, true, 0);
}

#endif /* VTIO_BOUNCE_SLOTS_H */
