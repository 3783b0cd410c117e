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

/* Pool offset of device address dev on a pool known to be linear, or VTIO_ENOENT. */
VTIO__BOUNCE_HOT int linear_dev_off(const struct vtio_bounce_pool *p, uint64_t dev, size_t *off)
{
	if (dev < p->dev_lo || dev > p->dev_hi)
		return VTIO_ENOENT;
	*off = (size_t)(dev - p->dev_base);
	return 0;
}

/* Pool offset of device address dev, or VTIO_ENOENT. */
VTIO__BOUNCE_HOT int fast_dev_off(const struct vtio_bounce_pool *p, uint64_t dev, size_t *off)
{
	if (VTIO_LIKELY(p->mapping == VTIO_BOUNCE_MAP_LINEAR))
		return linear_dev_off(p, dev, off);
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
	uint32_t b = i % 64u;
	if (VTIO_UNLIKELY(n == 0))
		return;
	if (VTIO_LIKELY(b + n <= 64u)) { /* one word */
		uint64_t m = (~0ull >> (64u - n)) << b;
		if (on)
			bits[i / 64u] |= m;
		else
			bits[i / 64u] &= ~m;
		return;
	}
	while (n > 0) {
		uint32_t w = i / 64u;
		b = i % 64u;
		uint32_t k = 64u - b < n ? 64u - b : n;
		uint64_t m = (k >= 64u ? ~0ull : ((1ull << k) - 1u)) << b;
		if (on)
			bits[w] |= m;
		else
			bits[w] &= ~m;
		i += k;
		n -= k;
	}
}

/* First slot of the segment after the one holding slot gs. */
VTIO__BOUNCE_HOT uint32_t segment_end(const struct vtio_bounce_pool *p, uint32_t gs)
{
	uint32_t in = p->seg_mask != 0 ? gs & p->seg_mask : gs % p->max_segment;
	return gs - in + p->max_segment;
}

/* Constraints on a run of slots. */
struct run_req {
	uint32_t n;	/* slots */
	bool segment;	/* must not cross a segment boundary */
	uint64_t amask; /* device address of the first slot & amask must be aval */
	uint64_t aval;
};

/*
 * First-fit search for a run in area a (its lock held), the general case.
 * Bounded: every step moves the candidate forward, so the worst case is a
 * pass over the area's bitmap (one word per 64 slots) plus, only with
 * alignment needs beyond the slot size, one address check per slot.
 * Returns the first slot or UINT32_MAX.
 */
static inline uint32_t find_run_slow(const struct vtio_bounce_pool *p, struct vtio__bounce_area *a,
				     const struct run_req *rq)
{
	uint32_t end = a->end - a->start;
	uint32_t n = rq->n;
	uint32_t first = next_zero(a->bits, a->hint - a->start, end);
	uint32_t s = first;
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
			uint32_t seg_end = segment_end(p, gs);
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

/*
 * First-fit search for a run in area a (its lock held). The common case
 * (no alignment beyond the slot size, no piece breaks, a free run in the
 * bitmap word holding the hint, not crossing a segment boundary) is
 * answered from that one word: the runs of n free slots starting in it
 * are found with log2(n) shift-and-steps, and the lowest is the first fit
 * (a run starting earlier in the word and crossing its end would contain
 * it). Anything else goes to find_run_slow(), which gives the same answer.
 */
VTIO__BOUNCE_HOT uint32_t find_run(const struct vtio_bounce_pool *p, struct vtio__bounce_area *a,
				   const struct run_req *rq)
{
	uint32_t end = a->end - a->start;
	uint32_t n = rq->n;
	uint32_t h = a->hint - a->start;
	if (n > end || h >= end)
		return UINT32_MAX;
	if (VTIO_LIKELY(rq->amask == 0 && n <= 64u && p->breaks == NULL)) {
		uint32_t w = h / 64u;
		/* Bits past the area's end read as in use, so no run leaves the area. */
		uint64_t fr = ~a->bits[w] & (~0ull << (h % 64u));
		uint64_t c = fr;
		for (uint32_t have = 1; have < n && c != 0;) {
			uint32_t k = have < n - have ? have : n - have;
			c &= c >> k; /* bit i: slots i .. i+have+k-1 of the word are free */
			have += k;
		}
		if (c != 0) {
			uint32_t s = w * 64u + VTIO_BOUNCE_CTZ64(c);
			uint32_t gs = a->start + s;
			if (!rq->segment || n == 1 || gs + n <= segment_end(p, gs)) {
				uint32_t first = w * 64u + VTIO_BOUNCE_CTZ64(fr);
				a->hint = a->start + (s == first ? s + n : first);
				return gs;
			}
		}
	}
	return find_run_slow(p, a, rq);
}

/* Take a run in the first area (from area_hint on) that has one and fill
 * its records (the head's from @p tmpl) under the area lock. */
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
		uint32_t n = rq->n;
		set_bits(a->bits, s - a->start, n, true);
		/* Field by field: the constant `area` is never written. */
		struct vtio__bounce_slot *h = &p->slots[s];
		h->orig = tmpl->orig;
		h->head = s;
		h->nslots = n;
		h->len = tmpl->len;
		h->off = tmpl->off;
		h->dir = tmpl->dir;
		h->state = tmpl->state;
		for (struct vtio__bounce_slot *t = h + 1, *e = h + n; t < e; t++) {
			t->head = s;
			t->state = tmpl->state;
		}
		a->in_use += n;
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

/* Give back the n slots of the run headed by s (area a's lock held). */
VTIO__BOUNCE_HOT void free_run_locked(struct vtio_bounce_pool *p, struct vtio__bounce_area *a,
				      uint32_t s, uint32_t n)
{
	struct vtio__bounce_slot *h = &p->slots[s], *e = h + n;
	do
		h->state = VTIO__SLOT_FREE;
	while (++h < e);
	set_bits(a->bits, s - a->start, n, false);
	if (s < a->hint)
		a->hint = s;
	a->in_use -= n;
}

/* Undo take_run() after a failure that followed it (nothing counted). */
static inline void untake_run(struct vtio_bounce_pool *p, uint32_t s)
{
	struct vtio__bounce_area *a = &p->areas[p->slots[s].area];
	VTIO_LOCK(&a->lock);
	uint32_t n = p->slots[s].nslots;
	if (p->slots[s].state == VTIO__SLOT_MAP) {
		a->maps--;
		a->bounced -= p->slots[s].len;
	} else {
		a->allocs--;
	}
	free_run_locked(p, a, s, n);
	VTIO_UNLOCK(&a->lock);
}

/*
 * With area lock of slot s held: is s the head of a live run of kind
 * @p state whose data starts at pool offset off? 0, or the error and its
 * counter: VTIO_EALREADY (free, or being released: a double unmap/free),
 * VTIO_ENOENT (not the start of a run), VTIO_EINVAL (a run of the other
 * kind). Runs never cross areas, so the whole check is under the one lock.
 */
VTIO__BOUNCE_HOT int check_head_locked(struct vtio_bounce_pool *p, uint32_t s, size_t off,
				       uint8_t state)
{
	const struct vtio__bounce_slot *r = &p->slots[s];
	uint8_t st = VTIO__SLOT_STATE(r);
	if (VTIO_LIKELY(st == state && r->head == s &&
			((size_t)s << p->slot_shift) + r->off == off))
		return 0;
	/* The tail of a cache's mapped run stays CACHED (record_map()). */
	if (st == VTIO__SLOT_CACHED && r->head < s &&
	    VTIO__SLOT_STATE(&p->slots[r->head]) == VTIO__SLOT_CMAP)
		st = VTIO__SLOT_CMAP;
	if (st == VTIO__SLOT_FREE || st == VTIO__SLOT_CACHED ||
	    (st == VTIO__SLOT_RELEASING && r->head == s)) {
		VTIO_BOUNCE_COUNT(&p->fail_double);
		return VTIO_EALREADY;
	}
	if (st == VTIO__SLOT_CMAP) {
		/* A cache's mapping: only its cache may release it (its owner
		 * writes the record without this lock, so read no more of it). */
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_EINVAL;
	}
	uint32_t hs = r->head;
	if (hs > s || p->slots[hs].state != r->state ||
	    ((size_t)hs << p->slot_shift) + p->slots[hs].off != off) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT; /* a tail slot, or not where the data starts */
	}
	VTIO_BOUNCE_COUNT(&p->fail_mismatch);
	return VTIO_EINVAL; /* the head of a run of the other kind */
}

/* ---- Map / sync / unmap -------------------------------------------------------------- */

/* Zero [lo, hi) of the slot at @p base minus the data range [dlo, dhi). */
VTIO__BOUNCE_HOT void zero_outside(unsigned char *base, size_t lo, size_t hi, size_t dlo,
				   size_t dhi)
{
	if (hi <= lo)
		return; /* clean slot */
	if (lo < dlo)
		VTIO_MEMSET(base + lo, 0, (hi < dlo ? hi : dlo) - lo);
	if (hi > dhi) {
		size_t from = lo > dhi ? lo : dhi;
		VTIO_MEMSET(base + from, 0, hi - from);
	}
}

/*
 * VTIO_BOUNCE_POOL_F_TRUSTED_DMA: before a mapping of the run of @p n slots
 * headed by @p s whose data is [off, need) in run coordinates, zero what
 * earlier users may have left outside the data (each slot's dirty extent),
 * and record the data as the new extents. Only the first and the last
 * slot have slack; the middle ones are covered by the data.
 */
VTIO__BOUNCE_HOT void zero_dirty_slack(struct vtio_bounce_pool *p, uint32_t s, uint32_t n,
				       uint32_t off, size_t need)
{
	const uint32_t sh = p->dirty_shift, unit = (1u << sh) - 1u;
	const size_t S = p->slot_size;
	struct vtio__bounce_slot *f = &p->slots[s];
	unsigned char *base = p->base + ((size_t)s << p->slot_shift);
	size_t end0 = n == 1u ? need : S; /* data end in the first slot */
	zero_outside(base, (size_t)f->dlo << sh, (size_t)f->dhi << sh, off, end0);
	f->dlo = (uint16_t)(off >> sh);
	f->dhi = (uint16_t)((end0 + unit) >> sh);
	if (n == 1u)
		return;
	for (uint32_t k = 1; k + 1u < n; k++) {
		p->slots[s + k].dlo = 0;
		p->slots[s + k].dhi = (uint16_t)(S >> sh);
	}
	struct vtio__bounce_slot *l = &p->slots[s + n - 1u];
	size_t e = need - (size_t)(n - 1u) * S; /* data end in the last slot, in (0, S] */
	zero_outside(base + (size_t)(n - 1u) * S, (size_t)l->dlo << sh, (size_t)l->dhi << sh, 0, e);
	l->dlo = 0;
	l->dhi = (uint16_t)((e + unit) >> sh);
}

/* Zero what the device may read in the run of @p n slots headed by @p s
 * besides the data [off, need): with VTIO_BOUNCE_POOL_F_TRUSTED_DMA only
 * what earlier users may have left there, otherwise all of it (the kept
 * min_align offset before the data, the rest of the last slot after it). */
VTIO__BOUNCE_HOT void zero_slack(struct vtio_bounce_pool *p, uint32_t s, uint32_t n, uint32_t off,
				 size_t need)
{
	if (VTIO_UNLIKELY(p->flags & VTIO_BOUNCE_POOL_F_TRUSTED_DMA)) {
		zero_dirty_slack(p, s, n, off, need);
		return;
	}
	unsigned char *slots = p->base + ((size_t)s << p->slot_shift);
	size_t tail = ((size_t)n << p->slot_shift) - need;
	if (off != 0)
		VTIO_MEMSET(slots, 0, off);
	if (tail != 0)
		VTIO_MEMSET(slots + need, 0, tail);
}

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
	size_t run = (size_t)s << p->slot_shift;
	uint64_t d;
	if (VTIO_UNLIKELY(fast_off_to_dev(p, run + off, &d) != 0)) {
		untake_run(p, s);
		return VTIO_EFAULT;
	}
	/* The device may read every byte of the run: the buffer, copied in
	 * always (FROM_DEVICE too: the device must never see what an earlier
	 * mapping left in the slots, CVE-2022-0854, and a partial device
	 * write must leave the rest of the buffer as it was), and zeros
	 * around it (the kept min_align offset before it, the rest of the
	 * last slot after it). */
	unsigned char *slots = p->base + run;
	zero_slack(p, s, (uint32_t)nslots, off, (size_t)need);
	VTIO_MEMCPY(slots + off, cpu, len);
	if (!(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(slots, (size_t)nslots << p->slot_shift);
	*bus = d;
	return 0;
}

/* Head slot of the mapping or allocation that holds pool offset off, with
 * checks (no lock: for syncs, whose caller owns the mapping). */
VTIO__BOUNCE_HOT int lookup_head(struct vtio_bounce_pool *p, size_t off, uint32_t *head)
{
	uint32_t s = (uint32_t)(off >> p->slot_shift);
	if (s >= p->nslots)
		return VTIO_ENOENT;
	const struct vtio__bounce_slot *r = &p->slots[s];
	uint8_t st = VTIO__SLOT_STATE(r);
	/* The tail of a cache's run stays CACHED while the run is mapped
	 * (record_map()): the head's state is the run's. */
	if (st == VTIO__SLOT_CACHED && r->head < s)
		st = VTIO__SLOT_STATE(&p->slots[r->head]);
	if (st == VTIO__SLOT_FREE || st == VTIO__SLOT_CACHED)
		return VTIO_EALREADY;
	if (r->head > s || VTIO__SLOT_STATE(&p->slots[r->head]) != st)
		return VTIO_ENOENT;
	*head = r->head;
	return 0;
}

/*
 * Unmap and free share this: with the area lock held, check that off is
 * where the data of a live run of kind @p state headed by its slot starts
 * (and, for unmaps, that len and dir match), so a check and the release
 * it allows are one critical section and a racing double unmap cannot
 * free a run mapped in between. When there is work to do on the slots
 * before they are free (copy back, scrub), the head is marked RELEASING
 * under the lock, the work runs unlocked, and a second critical section
 * frees the run; the mark keeps the slots taken and refuses a second
 * unmap/free meanwhile.
 */
VTIO__BOUNCE_HOT int release_run(struct vtio_bounce_pool *p, size_t off, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs, uint8_t state, void *cpu)
{
	uint32_t s = (uint32_t)(off >> p->slot_shift);
	if (VTIO_UNLIKELY(s >= p->nslots)) {
		VTIO_BOUNCE_COUNT(&p->fail_unknown);
		return VTIO_ENOENT;
	}
	struct vtio__bounce_slot *h = &p->slots[s];
	struct vtio__bounce_area *a = &p->areas[h->area];
	bool map = state == VTIO__SLOT_MAP;
	VTIO_LOCK(&a->lock);
	int r = check_head_locked(p, s, off, state);
	if (VTIO_UNLIKELY(r != 0)) {
		VTIO_UNLOCK(&a->lock);
		return r;
	}
	if (VTIO_UNLIKELY(h->len != len ||
			  (map ? h->dir != (uint8_t)dir : (unsigned char *)cpu != p->base + off))) {
		VTIO_UNLOCK(&a->lock);
		VTIO_BOUNCE_COUNT(&p->fail_mismatch);
		return VTIO_EINVAL;
	}
	uint32_t n = h->nslots;
	bool back = map && (dir == VTIO_DMA_FROM_DEVICE || dir == VTIO_DMA_BIDIRECTIONAL) &&
		    !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	bool scrub = (p->flags & VTIO_BOUNCE_POOL_F_SCRUB) != 0;
	if (VTIO_UNLIKELY(back || scrub)) {
		void *orig = (void *)h->orig;
		h->state = VTIO__SLOT_RELEASING;
		VTIO_UNLOCK(&a->lock);
		unsigned char *tlb = p->base + off;
		if (back) {
			VTIO_CACHE_INVALIDATE(tlb, len);
			VTIO_MEMCPY(orig, tlb, len);
		}
		if (scrub)
			VTIO_MEMSET(p->base + ((size_t)s << p->slot_shift), 0,
				    (size_t)n << p->slot_shift);
		VTIO_LOCK(&a->lock);
	}
	free_run_locked(p, a, s, n);
	if (map) {
		a->unmaps++;
		a->bounced += back ? len : 0u;
	} else {
		a->frees++;
	}
	VTIO_UNLOCK(&a->lock);
	return 0;
}

VTIO__BOUNCE_HOT int slots_unmap(struct vtio_bounce_pool *p, size_t off, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs)
{
	return release_run(p, off, len, dir, attrs, VTIO__SLOT_MAP, NULL);
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
	if ((h->state != VTIO__SLOT_MAP && h->state != VTIO__SLOT_CMAP) || off < start) {
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
		untake_run(p, s);
		return VTIO_EFAULT;
	}
	/* The whole run, not only size bytes: the device sees all of it. */
	VTIO_MEMSET(p->base + poff, 0, (size_t)nslots << p->slot_shift);
	if (p->flags & VTIO_BOUNCE_POOL_F_TRUSTED_DMA) {
		/* The owner may write any byte of the run. */
		for (uint32_t k = 0; k < (uint32_t)nslots; k++) {
			p->slots[s + k].dlo = 0;
			p->slots[s + k].dhi = (uint16_t)(p->slot_size >> p->dirty_shift);
		}
	}
	*cpu = p->base + poff;
	*bus = d;
	return 0;
}

VTIO__BOUNCE_HOT int slots_free(struct vtio_bounce_pool *p, size_t off, size_t size, void *cpu)
{
	return release_run(p, off, size, VTIO_DMA_BIDIRECTIONAL, 0, VTIO__SLOT_ALLOC, cpu);
}

#endif /* VTIO_BOUNCE_SLOTS_H */
