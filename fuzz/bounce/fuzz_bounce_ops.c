/*
 * Fuzz target: drives the bounce pool API with sequences of map / unmap /
 * partial syncs / device writes / CPU writes / alloc / free / register /
 * unregister decoded from the input, and checks every step against a
 * simple reference model:
 *   - no two live mappings or allocations share a byte of pool memory;
 *   - every byte of every buffer follows the swiotlb copy rules by direction
 *     (map copies in always, sync_for_device / sync_for_cpu / unmap copy the
 *     synced range in the direction allowed), so no stale data is seen;
 *   - the device sees zeros in the rest of a new mapping's or allocation's
 *     slot run (the kept min_align offset, the tail of the last slot), never
 *     what earlier mappings or device writes left there (the harness's
 *     device also writes into that slack, except in pool 0, whose
 *     VTIO_BOUNCE_POOL_F_TRUSTED_DMA promises it never does);
 *   - bus addresses respect the device mask, pool affinity and min_align_mask;
 *   - errors are the documented ones (double unmap, size/dir mismatch,
 *     unknown address, too big, busy pool) and change nothing;
 *   - slot accounting: in_use equals the model's slot count at every step,
 *     and returns to zero at the end (no leak);
 *   - the per-thread caches (vtio_bounce_cache): one per device preset, used
 *     for about half of the maps, follow all of the above; their mappings
 *     are unmapped through them with the same errors (and refused by the
 *     plain unmap); a failed map while caches hold free slots is retried
 *     after draining them, and that answer must be exact; pools are
 *     unregistered after their caches are detached.
 * The same function runs under ctest (corpus replay) and from
 * tests/bounce/test_bounce_model.c with random inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/bounce.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: model check failed: %s\n", __FILE__, __LINE__,     \
				#c);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- Input reader -------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static unsigned u16(struct rd *r)
{
	unsigned a = u8(r);
	return a | (u8(r) << 8);
}

/* ---- The pools ------------------------------------------------------------------- */

enum { NPOOLS = 3, MAXLIVE = 48, MAXLEN = 1400, STRIDE = MAXLEN + 64, ARENA = MAXLIVE * STRIDE };

static _Alignas(4096) unsigned char pool_mem[NPOOLS][8192];
static _Alignas(64) unsigned char pool_store[NPOOLS][16384];
static _Alignas(64) unsigned char set_store[1024];
static unsigned char arena[ARENA]; /* original buffers (private memory) */

/* Pool 1: three pieces scattered in device space, out of pool order. */
static const struct vtio_bounce_piece pieces1[3] = {
    {0, 2048, 0x90004000u},
    {2048, 4096, 0x80000000u},
    {6144, 2048, 0xA0000000u},
};

/* Pool 2: callback mapping, segments (4 slots of 256 B = 1 KiB) in reverse
 * order with gaps between them. */
static int cb_to_dev(void *ctx, size_t off, uint64_t *dev)
{
	(void)ctx;
	if (off >= 8192)
		return -14;
	size_t seg = off / 1024, in = off % 1024;
	*dev = 0x200000000ull + (uint64_t)(7 - seg) * 0x1000u + in;
	return 0;
}

static int cb_to_off(void *ctx, uint64_t dev, size_t *off)
{
	(void)ctx;
	if (dev < 0x200000000ull)
		return -2;
	uint64_t rel = dev - 0x200000000ull;
	uint64_t k = rel / 0x1000u, in = rel % 0x1000u;
	if (k > 7 || in >= 1024)
		return -2;
	*off = (size_t)((7 - k) * 1024 + in);
	return 0;
}

static const struct vtio_bounce_xlate_ops cb_ops = {cb_to_dev, cb_to_off};

struct mpool {
	struct vtio_bounce_pool *p;
	bool registered;
	bool trusted; /* VTIO_BOUNCE_POOL_F_TRUSTED_DMA: the device writes inside its mappings only
		       */
	uint32_t slot, seg, nareas;
};

/* Devices the harness maps for. */
static void dev_preset(unsigned k, struct vtio_bounce_dev *d)
{
	switch (k % 5) {
	case 0: /* 31-bit device: pool 0 only */
		vtio_bounce_dev_init(d, 0x7fffffffu);
		break;
	case 1: /* 32-bit device with a min_align_mask inside a slot */
		vtio_bounce_dev_init(d, 0xffffffffu);
		d->min_align_mask = 0x3f;
		d->area_hint = 1;
		break;
	case 2: /* named restricted pool, strict */
		vtio_bounce_dev_init(d, UINT64_MAX);
		d->pool_id = 2;
		d->flags = VTIO_BOUNCE_DEV_F_STRICT;
		break;
	case 3: /* min_align_mask wider than a 128-byte slot */
		vtio_bounce_dev_init(d, UINT64_MAX);
		d->min_align_mask = 0x1ff;
		d->area_hint = VTIO_BOUNCE_AREA_CPU;
		break;
	default: /* affinity for pool 1, fall back allowed */
		vtio_bounce_dev_init(d, UINT64_MAX);
		d->pool_id = 1;
		d->area_hint = 3;
		break;
	}
}

/* ---- Model -------------------------------------------------------------------------- */

struct live {
	bool used;
	bool is_alloc;
	int pool;
	uint64_t bus;
	unsigned char *tlb; /* pool memory of the mapping */
	unsigned char *run; /* first byte of its slot run */
	unsigned char *orig;
	size_t len;
	enum vtio_dma_dir dir;
	uint32_t nslots;
	unsigned char want_orig[MAXLEN]; /* what orig must hold */
	unsigned char dev_view[MAXLEN];	 /* what the slots must hold */
	unsigned char fill;		 /* allocations: pattern byte */
	int cache;			 /* preset of the cache it was mapped through, or -1 */
};

enum { NPRESETS = 5 };

struct model {
	struct vtio_bounce_set *set;
	struct mpool pools[NPOOLS];
	struct live live[MAXLIVE];
	struct vtio_bounce_cache cache[NPRESETS];
	bool cache_on[NPRESETS]; /* attached */
	uint64_t in_use;
	uint32_t rnd;
};

static uint32_t mrand(struct model *m)
{
	m->rnd = m->rnd * 1103515245u + 12345u;
	return m->rnd >> 8;
}

static int pool_index(struct model *m, const struct vtio_bounce_pool *p)
{
	for (int i = 0; i < NPOOLS; i++)
		if (m->pools[i].p == p)
			return i;
	return -1;
}

static bool eligible(struct model *m, const struct vtio_bounce_dev *d, int i)
{
	if (!m->pools[i].registered)
		return false;
	uint64_t lo, hi;
	vtio_bounce_pool_dev_range(m->pools[i].p, &lo, &hi);
	if (hi > d->mask)
		return false;
	uint32_t id = vtio_bounce_pool_id(m->pools[i].p);
	if (d->pool_id != VTIO_BOUNCE_ANY_POOL && (d->flags & VTIO_BOUNCE_DEV_F_STRICT))
		return id == d->pool_id;
	if (i == 2) /* restricted */
		return id == d->pool_id;
	return true;
}

static void check_no_overlap(struct model *m, const struct live *n)
{
	for (int i = 0; i < MAXLIVE; i++) {
		const struct live *o = &m->live[i];
		if (!o->used || o == n)
			continue;
		CHECK(n->tlb + n->len <= o->tlb || o->tlb + o->len <= n->tlb);
	}
}

static void check_live(const struct live *l)
{
	if (l->is_alloc) {
		for (size_t k = 0; k < l->len; k++)
			CHECK(l->tlb[k] == l->fill);
		return;
	}
	CHECK(memcmp(l->tlb, l->dev_view, l->len) == 0);
	CHECK(memcmp(l->orig, l->want_orig, l->len) == 0);
}

static void check_stats(struct model *m)
{
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(m->set, &st);
	/* Unregistered pools are not summed by the set: add them back. */
	uint64_t extra = 0;
	for (int i = 0; i < NPOOLS; i++) {
		if (m->pools[i].registered)
			continue;
		struct vtio_bounce_stats ps;
		vtio_bounce_pool_get_stats(m->pools[i].p, &ps);
		extra += ps.in_use;
	}
	CHECK(st.in_use + extra == m->in_use);
}

static struct live *free_live(struct model *m)
{
	for (int i = 0; i < MAXLIVE; i++)
		if (!m->live[i].used)
			return &m->live[i];
	return NULL;
}

static struct live *pick_live(struct model *m, unsigned k)
{
	unsigned n = 0;
	for (int i = 0; i < MAXLIVE; i++)
		n += m->live[i].used;
	if (n == 0)
		return NULL;
	k %= n;
	for (int i = 0; i < MAXLIVE; i++)
		if (m->live[i].used && k-- == 0)
			return &m->live[i];
	return NULL;
}

/* Locate the pool memory of a bus address through the public lookup. */
static unsigned char *tlb_of(struct model *m, uint64_t bus, int *pool)
{
	struct vtio_bounce_pool *p;
	uint32_t slot;
	CHECK(vtio_bounce_set_find(m->set, bus, &p, &slot) == 0);
	void *cpu;
	CHECK(vtio_bounce_pool_dev_to_cpu(p, bus, &cpu) == 0);
	*pool = pool_index(m, p);
	CHECK(*pool >= 0);
	CHECK(((unsigned char *)cpu - pool_mem[*pool]) / m->pools[*pool].slot == slot);
	return cpu;
}

/*
 * Independent brute-force answer to "is there a run the allocator should
 * have found?": n free slots inside one area, not crossing a segment
 * boundary (when @p seg), nor a piece start (pool 1), first slot's device
 * address matching (dev & amask) == aval. A VTIO_ENOMEM while this finds
 * a run means the allocator lost free space.
 */
static bool run_exists(struct model *m, int pi, uint32_t n, bool seg, uint64_t amask, uint64_t aval)
{
	struct mpool *mp = &m->pools[pi];
	uint32_t nslots = 8192 / mp->slot;
	bool busy[64] = {false};
	for (int i = 0; i < MAXLIVE; i++) {
		const struct live *l = &m->live[i];
		if (!l->used || l->pool != pi)
			continue;
		uint32_t h = (uint32_t)((size_t)(l->tlb - pool_mem[pi]) / mp->slot);
		for (uint32_t k = 0; k < l->nslots; k++)
			busy[h + k] = true;
	}
	for (uint32_t a = 0; a < mp->nareas; a++) {
		/* Areas split the slots evenly, the first ones one slot larger. */
		uint32_t q = nslots / mp->nareas, r = nslots % mp->nareas;
		uint32_t lo = a * q + (a < r ? a : r), hi = (a + 1) * q + (a + 1 < r ? a + 1 : r);
		for (uint32_t s = lo; s + n <= hi; s++) {
			bool ok = true;
			for (uint32_t k = 0; k < n && ok; k++) {
				ok = !busy[s + k];
				if (k > 0 && pi == 1 && (s + k == 16 || s + k == 48))
					ok = false; /* piece boundary (2048 / 128, 6144 / 128) */
				if (k > 0 && seg && (s + k) % mp->seg == 0)
					ok = false;
			}
			uint64_t dev;
			CHECK(vtio_bounce_pool_cpu_to_dev(
				  mp->p, pool_mem[pi] + (size_t)s * mp->slot, &dev) == 0);
			if (ok && (dev & amask) == aval)
				return true;
		}
	}
	return false;
}

/* The cache of device preset k, attached on first use; NULL when the cache
 * refuses the device (min_align_mask above a slot) or no pool is usable. */
static struct vtio_bounce_cache *cache_of(struct model *m, unsigned k)
{
	k %= NPRESETS;
	if (m->cache_on[k])
		return &m->cache[k];
	struct vtio_bounce_dev d;
	dev_preset(k, &d);
	int rc = vtio_bounce_cache_init(&m->cache[k], m->set, &d);
	CHECK(rc == 0 || rc == VTIO_EINVAL || rc == VTIO_ENODEV);
	if (rc == VTIO_EINVAL) /* only for an alignment wider than the first pool's slot */
		CHECK((d.min_align_mask & ~(uint64_t)127u) != 0);
	m->cache_on[k] = rc == 0;
	return rc == 0 ? &m->cache[k] : NULL;
}

/* Give back every cache's free slots; true when any held some. */
static bool drain_caches(struct model *m)
{
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(m->set, &st);
	if (st.cached == 0)
		return false;
	for (int k = 0; k < NPRESETS; k++)
		if (m->cache_on[k])
			vtio_bounce_cache_drain(&m->cache[k]);
	vtio_bounce_set_get_stats(m->set, &st);
	CHECK(st.cached == 0);
	return true;
}

static int do_unmap(struct model *m, const struct live *l, uint64_t bus, size_t len,
		    enum vtio_dma_dir dir, uint32_t attrs)
{
	if (l->cache >= 0)
		return vtio_bounce_cache_unmap(&m->cache[l->cache], bus, len, dir, attrs);
	return vtio_bounce_unmap(m->set, bus, len, dir, attrs);
}

static void op_map(struct model *m, struct rd *r)
{
	struct vtio_bounce_dev d;
	unsigned preset = u8(r);
	dev_preset(preset, &d);
	size_t len = 1 + u16(r) % MAXLEN;
	enum vtio_dma_dir dir = (enum vtio_dma_dir)(u8(r) % 3);
	size_t aoff = u8(r) % 64; /* vary the low address bits */
	struct live *l = free_live(m);
	if (l == NULL)
		return;
	/* Each live entry owns its own range of the arena. */
	unsigned char *orig = arena + (size_t)(l - m->live) * STRIDE + aoff;
	for (size_t k = 0; k < len; k++)
		orig[k] = (unsigned char)mrand(m);

	uint64_t bus = 0;
	/* SKIP_CPU_SYNC skips cache maintenance only: the copy in still happens. */
	uint32_t attrs = (aoff & 1) ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0;
	struct vtio_bounce_cache *c = ((preset / NPRESETS) & 1) ? cache_of(m, preset) : NULL;
	int rc = c ? vtio_bounce_cache_map(c, orig, len, dir, attrs, &bus)
		   : vtio_bounce_map(m->set, &d, orig, len, dir, attrs, &bus);
	/* Slots free in caches are not free to others: after a drain the
	 * answer must be exact. */
	if (rc == VTIO_ENOMEM && drain_caches(m))
		rc = c ? vtio_bounce_cache_map(c, orig, len, dir, attrs, &bus)
		       : vtio_bounce_map(m->set, &d, orig, len, dir, attrs, &bus);
	bool any = false, fits = false;
	for (int i = 0; i < NPOOLS; i++) {
		if (!eligible(m, &d, i))
			continue;
		any = true;
		uint32_t slot = m->pools[i].slot;
		size_t off = (size_t)((uintptr_t)orig & d.min_align_mask & (slot - 1));
		if (off + len <= (size_t)slot * m->pools[i].seg)
			fits = true;
	}
	if (!any) {
		CHECK(rc == VTIO_ENODEV);
		return;
	}
	if (!fits) {
		CHECK(rc == VTIO_EMSGSIZE);
		return;
	}
	if (rc != 0) {
		CHECK(rc == VTIO_ENOMEM);
		for (int i = 0; i < NPOOLS; i++) {
			if (!eligible(m, &d, i))
				continue;
			uint32_t slot = m->pools[i].slot;
			size_t off = (size_t)((uintptr_t)orig & d.min_align_mask & (slot - 1));
			uint32_t n = (uint32_t)((off + len + slot - 1) / slot);
			uint64_t amask = d.min_align_mask & ~(uint64_t)(slot - 1);
			if (n <= m->pools[i].seg)
				CHECK(!run_exists(m, i, n, true, amask, (uintptr_t)orig & amask));
		}
		check_stats(m);
		return;
	}
	CHECK(bus + len - 1 <= d.mask);
	CHECK((bus & d.min_align_mask) == ((uintptr_t)orig & d.min_align_mask));
	int pi;
	l->tlb = tlb_of(m, bus, &pi);
	CHECK(eligible(m, &d, pi));
	/* The mapping must be contiguous in device space and in the pool. */
	unsigned char *last;
	int pj;
	last = tlb_of(m, bus + len - 1, &pj);
	CHECK(pj == pi && last == l->tlb + len - 1);
	l->used = true;
	l->is_alloc = false;
	l->cache = c ? (int)(preset % NPRESETS) : -1;
	l->pool = pi;
	l->bus = bus;
	l->orig = orig;
	l->len = len;
	l->dir = dir;
	uint32_t slot = m->pools[pi].slot;
	size_t off = (size_t)((uintptr_t)orig & d.min_align_mask & (slot - 1));
	l->nslots = (uint32_t)((off + len + slot - 1) / slot);
	l->run = l->tlb - off;
	/* No stale byte anywhere in the run the device can read. */
	for (size_t k = 0; k < (size_t)l->nslots * slot; k++)
		if (k < off || k >= off + len)
			CHECK(l->run[k] == 0);
	memcpy(l->want_orig, orig, len);
	memcpy(l->dev_view, orig, len); /* map copies in, whatever the direction */
	m->in_use += l->nslots;
	check_no_overlap(m, l);
	check_live(l);
	check_stats(m);
}

static void op_alloc(struct model *m, struct rd *r)
{
	struct vtio_bounce_dev d;
	dev_preset(u8(r), &d);
	size_t size = 1 + u16(r) % 3000;
	size_t align = (size_t)1 << (u8(r) % 12);
	struct live *l = free_live(m);
	if (l == NULL)
		return;
	void *cpu;
	uint64_t bus;
	int rc = vtio_bounce_alloc(m->set, &d, size, align, &cpu, &bus);
	if (rc == VTIO_ENOMEM && drain_caches(m))
		rc = vtio_bounce_alloc(m->set, &d, size, align, &cpu, &bus);
	if (rc == VTIO_ENOMEM) {
		for (int i = 0; i < NPOOLS; i++) {
			if (!eligible(m, &d, i))
				continue;
			uint32_t slot = m->pools[i].slot;
			uint32_t n = (uint32_t)((size + slot - 1) / slot);
			uint64_t amask = align > slot ? align - 1 : 0;
			CHECK(!run_exists(m, i, n, i == 2, amask, 0));
		}
	}
	if (rc != 0) {
		CHECK(rc == VTIO_ENOMEM || rc == VTIO_EMSGSIZE || rc == VTIO_ENODEV);
		return;
	}
	CHECK(bus % align == 0);
	CHECK(bus + size - 1 <= d.mask);
	int pi;
	CHECK(tlb_of(m, bus, &pi) == cpu);
	CHECK(eligible(m, &d, pi));
	l->used = true;
	l->is_alloc = true;
	l->cache = -1;
	l->pool = pi;
	l->bus = bus;
	l->tlb = cpu;
	l->orig = NULL;
	l->len = size;
	uint32_t slot = m->pools[pi].slot;
	l->nslots = (uint32_t)((size + slot - 1) / slot);
	l->run = l->tlb;
	for (size_t k = 0; k < (size_t)l->nslots * slot; k++)
		CHECK(l->tlb[k] == 0); /* zeroed, the whole run */
	l->fill = (unsigned char)(1 + mrand(m) % 255);
	memset(l->tlb, l->fill, size);
	m->in_use += l->nslots;
	check_no_overlap(m, l);
	check_stats(m);
}

static void release(struct model *m, struct live *l)
{
	m->in_use -= l->nslots;
	l->used = false;
}

static void op_unmap(struct model *m, struct rd *r)
{
	struct live *l = pick_live(m, u8(r));
	unsigned how = u8(r) % 8;
	if (l == NULL)
		return;
	if (l->is_alloc) {
		if (how == 0) { /* unmap of an allocation: kind mismatch */
			CHECK(vtio_bounce_unmap(m->set, l->bus, l->len, VTIO_DMA_BIDIRECTIONAL,
						0) == VTIO_EINVAL);
			check_live(l);
			return;
		}
		check_live(l);
		if (how == 1) {
			CHECK(vtio_bounce_free(m->set, l->len + 1, l->tlb, l->bus) == VTIO_EINVAL);
			return;
		}
		CHECK(vtio_bounce_free(m->set, l->len, l->tlb, l->bus) == 0);
		release(m, l);
		CHECK(vtio_bounce_free(m->set, l->len, l->tlb, l->bus) == VTIO_EALREADY);
		check_stats(m);
		return;
	}
	switch (how) {
	case 0: /* wrong length */
		CHECK(do_unmap(m, l, l->bus, l->len + 1, l->dir, 0) == VTIO_EINVAL);
		/* The plain unmap refuses it too (a cache's mapping with right
		 * arguments as well: tests/bounce/test_bounce_cache.c, since a
		 * map through a cache may have fallen back to a plain one). */
		if (l->cache >= 0)
			CHECK(vtio_bounce_unmap(m->set, l->bus, l->len + 1, l->dir, 0) ==
			      VTIO_EINVAL);
		break;
	case 1: /* wrong direction */
		CHECK(do_unmap(m, l, l->bus, l->len, (enum vtio_dma_dir)((l->dir + 1) % 3), 0) ==
		      VTIO_EINVAL);
		break;
	case 2: /* not the start of the mapping */
		if (l->len > 1)
			CHECK(do_unmap(m, l, l->bus + 1, l->len - 1, l->dir, 0) == VTIO_ENOENT);
		break;
	default: {
		bool skip = how == 3;
		CHECK(do_unmap(m, l, l->bus, l->len, l->dir,
			       skip ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0) == 0);
		if (!skip && (l->dir == VTIO_DMA_FROM_DEVICE || l->dir == VTIO_DMA_BIDIRECTIONAL))
			memcpy(l->want_orig, l->dev_view, l->len);
		CHECK(memcmp(l->orig, l->want_orig, l->len) == 0);
		release(m, l);
		/* Double unmap is refused (the slots are free now, or free in a
		 * cache), through the cache and through the plain call. */
		int rc = do_unmap(m, l, l->bus, l->len, l->dir, 0);
		CHECK(rc == VTIO_EALREADY);
		if (l->cache >= 0)
			CHECK(vtio_bounce_unmap(m->set, l->bus, l->len, l->dir, 0) ==
			      VTIO_EALREADY);
		check_stats(m);
		return;
	}
	}
	check_live(l);
	check_stats(m);
}

static void op_sync(struct model *m, struct rd *r, bool for_cpu)
{
	struct live *l = pick_live(m, u8(r));
	size_t a = u16(r), b = u16(r);
	if (l == NULL || l->is_alloc)
		return;
	size_t off = a % l->len;
	size_t n = 1 + b % (l->len - off);
	if (u8(r) % 8 == 0) { /* past the end */
		CHECK((for_cpu ? vtio_bounce_sync_for_cpu : vtio_bounce_sync_for_device)(
			  m->set, l->bus + off, l->len - off + 1, l->dir) == VTIO_ERANGE);
		return;
	}
	int rc = (for_cpu ? vtio_bounce_sync_for_cpu
			  : vtio_bounce_sync_for_device)(m->set, l->bus + off, n, l->dir);
	CHECK(rc == 0);
	if (for_cpu && l->dir != VTIO_DMA_TO_DEVICE)
		memcpy(l->want_orig + off, l->dev_view + off, n);
	if (!for_cpu && l->dir != VTIO_DMA_FROM_DEVICE)
		memcpy(l->dev_view + off, l->want_orig + off, n);
	check_live(l);
}

/* The device writes into the slots of a mapping; the CPU writes its buffer. */
static void op_write(struct model *m, struct rd *r, bool device)
{
	struct live *l = pick_live(m, u8(r));
	size_t a = u16(r), b = u16(r);
	unsigned char v = (unsigned char)u8(r);
	if (l == NULL || l->is_alloc)
		return;
	if (device && (v & 3) == 0) {
		/* The device scribbles on the slack of the run (outside the data);
		 * a trusted pool's device never does. */
		if (m->pools[l->pool].trusted)
			return;
		size_t runlen = (size_t)l->nslots * m->pools[l->pool].slot;
		size_t pre = (size_t)(l->tlb - l->run), post = runlen - pre - l->len;
		if (pre != 0)
			memset(l->run, v | 1, 1 + a % pre);
		if (post != 0)
			memset(l->tlb + l->len, v | 1, 1 + b % post);
		return;
	}
	size_t off = a % l->len;
	size_t n = 1 + b % (l->len - off);
	for (size_t k = 0; k < n; k++) {
		unsigned char x = (unsigned char)(v + k * 7);
		if (device) {
			l->tlb[off + k] = x;
			l->dev_view[off + k] = x;
		} else {
			l->orig[off + k] = x;
			l->want_orig[off + k] = x;
		}
	}
}

static void op_pool(struct model *m, struct rd *r)
{
	int i = (int)(u8(r) % NPOOLS);
	struct mpool *mp = &m->pools[i];
	if (mp->registered) {
		/* Attached caches pin their pools: detach those with no live
		 * mapping (a cache with one pins a pool that is busy anyway). */
		for (int k = 0; k < NPRESETS; k++) {
			if (!m->cache_on[k])
				continue;
			bool live = false;
			for (int j = 0; j < MAXLIVE; j++)
				live |= m->live[j].used && m->live[j].cache == k;
			int rc = vtio_bounce_cache_fini(&m->cache[k]);
			/* A map through a cache may have fallen back to a plain
			 * one: with live ones the cache may still detach, and those
			 * were plain (unmapped with the plain call from now on). */
			CHECK(rc == 0 || (live && rc == VTIO_EBUSY));
			m->cache_on[k] = rc != 0;
			for (int j = 0; j < MAXLIVE && rc == 0; j++)
				if (m->live[j].used && m->live[j].cache == k)
					m->live[j].cache = -1;
		}
		bool busy = false;
		for (int k = 0; k < MAXLIVE; k++)
			busy |= m->live[k].used && m->live[k].pool == i;
		int rc = vtio_bounce_set_unregister(m->set, mp->p);
		CHECK(rc == (busy ? VTIO_EBUSY : 0));
		if (!busy)
			mp->registered = false;
	} else {
		CHECK(vtio_bounce_set_register(m->set, mp->p) == 0);
		CHECK(vtio_bounce_set_register(m->set, mp->p) == VTIO_EEXIST);
		mp->registered = true;
	}
	check_stats(m);
}

static void op_bogus(struct model *m, struct rd *r)
{
	uint64_t bus = 0x10000000ull * (u8(r) % 8) + u16(r);
	struct vtio_bounce_pool *p;
	if (vtio_bounce_set_find(m->set, bus, &p, NULL) != 0) {
		CHECK(vtio_bounce_unmap(m->set, bus, 16, VTIO_DMA_TO_DEVICE, 0) == VTIO_ENOENT);
		for (int k = 0; k < NPRESETS; k++)
			if (m->cache_on[k])
				CHECK(vtio_bounce_cache_unmap(&m->cache[k], bus, 16,
							      VTIO_DMA_TO_DEVICE,
							      0) == VTIO_ENOENT);
		CHECK(vtio_bounce_sync_for_cpu(m->set, bus, 16, VTIO_DMA_FROM_DEVICE) ==
		      VTIO_ENOENT);
	}
}

static void setup(struct model *m)
{
	memset(m, 0, sizeof(*m));
	memset(pool_mem, 0xEE, sizeof(pool_mem)); /* "stale" data of earlier users */
	CHECK(vtio_bounce_set_init(&m->set, set_store, sizeof(set_store)) == 0);
	struct vtio_bounce_pool_config c[NPOOLS];
	memset(c, 0, sizeof(c));
	c[0].base = pool_mem[0];
	c[0].size = 8192;
	c[0].slot_size = 128;
	c[0].max_segment = 8;
	c[0].nareas = 2;
	c[0].id = 0;
	c[0].mapping = VTIO_BOUNCE_MAP_LINEAR;
	c[0].dev_base = 0x40000000u;
	c[0].flags = VTIO_BOUNCE_POOL_F_TRUSTED_DMA; /* zeroes only the dirty extents */

	c[1].base = pool_mem[1];
	c[1].size = 8192;
	c[1].slot_size = 128;
	c[1].max_segment = 12;
	c[1].nareas = 3;
	c[1].id = 1;
	c[1].flags = VTIO_BOUNCE_POOL_F_SCRUB;
	c[1].mapping = VTIO_BOUNCE_MAP_PIECES;
	c[1].pieces = pieces1;
	c[1].npieces = 3;

	c[2].base = pool_mem[2];
	c[2].size = 8192;
	c[2].slot_size = 256;
	c[2].max_segment = 4;
	c[2].nareas = 1;
	c[2].id = 2;
	c[2].flags = VTIO_BOUNCE_POOL_F_RESTRICTED;
	c[2].mapping = VTIO_BOUNCE_MAP_CALLBACK;
	c[2].xlate = &cb_ops;
	c[2].dev_lo = 0x200000000ull;
	c[2].dev_hi = 0x200007fffull;
	for (int i = 0; i < NPOOLS; i++) {
		size_t need = vtio_bounce_pool_size(&c[i]);
		CHECK(need != 0 && need <= sizeof(pool_store[i]));
		CHECK(vtio_bounce_pool_init(&m->pools[i].p, pool_store[i], need, &c[i]) == 0);
		CHECK(vtio_bounce_set_register(m->set, m->pools[i].p) == 0);
		m->pools[i].registered = true;
		m->pools[i].trusted = (c[i].flags & VTIO_BOUNCE_POOL_F_TRUSTED_DMA) != 0;
		m->pools[i].slot = c[i].slot_size;
		m->pools[i].seg = c[i].max_segment;
		m->pools[i].nareas = c[i].nareas;
	}
}

static void teardown(struct model *m)
{
	for (int i = 0; i < MAXLIVE; i++) {
		struct live *l = &m->live[i];
		if (!l->used)
			continue;
		check_live(l);
		if (l->is_alloc) {
			CHECK(vtio_bounce_free(m->set, l->len, l->tlb, l->bus) == 0);
		} else {
			CHECK(do_unmap(m, l, l->bus, l->len, l->dir, 0) == 0);
			if (l->dir != VTIO_DMA_TO_DEVICE)
				memcpy(l->want_orig, l->dev_view, l->len);
			CHECK(memcmp(l->orig, l->want_orig, l->len) == 0);
		}
		release(m, l);
	}
	CHECK(m->in_use == 0);
	check_stats(m);
	for (int k = 0; k < NPRESETS; k++)
		if (m->cache_on[k])
			CHECK(vtio_bounce_cache_fini(&m->cache[k]) == 0);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(m->set, &st);
	CHECK(st.cached == 0 && st.maps == st.unmaps);
	for (int i = 0; i < NPOOLS; i++) {
		struct vtio_bounce_stats ps;
		vtio_bounce_pool_get_stats(m->pools[i].p, &ps);
		CHECK(ps.in_use == 0);
		if (m->pools[i].registered)
			CHECK(vtio_bounce_set_unregister(m->set, m->pools[i].p) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct rd r = {data, size};
	setup(&m);
	m.rnd = (uint32_t)size * 2654435761u;
	unsigned steps = 0;
	while (r.n > 0 && steps++ < 2000) {
		switch (u8(&r) % 10) {
		case 0:
		case 1:
			op_map(&m, &r);
			break;
		case 2:
			op_unmap(&m, &r);
			break;
		case 3:
			op_sync(&m, &r, true);
			break;
		case 4:
			op_sync(&m, &r, false);
			break;
		case 5:
			op_write(&m, &r, true);
			break;
		case 6:
			op_write(&m, &r, false);
			break;
		case 7:
			op_alloc(&m, &r);
			break;
		case 8:
			op_pool(&m, &r);
			break;
		default:
			op_bogus(&m, &r);
			break;
		}
		if (steps % 16 == 0)
			for (int i = 0; i < MAXLIVE; i++)
				if (m.live[i].used)
					check_live(&m.live[i]);
	}
	teardown(&m);
	return 0;
}
