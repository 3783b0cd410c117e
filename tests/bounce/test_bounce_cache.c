/*
 * Per-thread slot caches (vtio_bounce_cache): the fast path keeps every
 * guarantee of the plain map/unmap. Copies by direction, the slack zeroed
 * per the pool's contract (default, TRUSTED_DMA, SCRUB) so no stale byte
 * of an earlier mapping or device write is readable, the unmap checks
 * (double unmap, length, direction, not the start, tail slot, another
 * cache, an address no pool owns) with the plain call's errors and
 * counters, magazines refilled and given back without losing a slot,
 * fallbacks to the plain calls, and the pool pinned while a cache is
 * attached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bounce_test_util.h"

#define SLOT	 2048u
#define NSLOTS	 32u
#define DEV_BASE 0x10000000ull

struct fx {
	struct tpool tp;
	struct vtio_bounce_set *set;
	struct vtio_bounce_dev dev;
	struct vtio_bounce_cache cache;
};

static void fx_init(struct fx *f, uint32_t flags, uint32_t nareas)
{
	memset(f, 0, sizeof(*f));
	struct vtio_bounce_pool_config c = tcfg_linear(NSLOTS * SLOT, DEV_BASE);
	c.flags = flags;
	c.nareas = nareas;
	assert_int_equal(tpool_init(&f->tp, &c), 0);
	f->set = tset_new();
	assert_int_equal(vtio_bounce_set_register(f->set, f->tp.pool), 0);
	vtio_bounce_dev_init(&f->dev, UINT64_MAX);
	assert_int_equal(vtio_bounce_cache_init(&f->cache, f->set, &f->dev), 0);
}

static void fx_fini(struct fx *f)
{
	assert_int_equal(vtio_bounce_cache_fini(&f->cache), 0);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(f->set, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.cached, 0);
	assert_int_equal(st.maps, st.unmaps);
	assert_int_equal(vtio_bounce_set_unregister(f->set, f->tp.pool), 0);
	tpool_fini(&f->tp);
	free(f->set);
}

static struct vtio_bounce_stats stats(struct fx *f)
{
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(f->set, &st);
	return st;
}

static unsigned char *cpu_of(struct fx *f, uint64_t bus)
{
	return f->tp.mem + (bus - DEV_BASE);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 13u);
}

/* Every byte of the run of the mapping at bus other than its data is zero. */
static void assert_slack_zero(struct fx *f, uint64_t bus, size_t len)
{
	size_t off = (size_t)(bus - DEV_BASE);
	size_t run = off / SLOT * SLOT, end = (off + len + SLOT - 1) / SLOT * SLOT;
	for (size_t k = run; k < end; k++)
		if (k < off || k >= off + len)
			assert_int_equal(f->tp.mem[k], 0);
}

static void test_cache_copies_by_direction(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 2);
	static unsigned char buf[4096], keep[4096];
	static const size_t lens[] = {1, 64, 2048, 2049, 4096};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li];
		for (int dir = 0; dir < 3; dir++) {
			fill(buf, len, (unsigned)(len + (size_t)dir));
			memcpy(keep, buf, len);
			uint64_t bus;
			assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, len,
							       (enum vtio_dma_dir)dir, 0, &bus),
					 0);
			assert_true(bus >= DEV_BASE && bus + len <= DEV_BASE + NSLOTS * SLOT);
			/* Copied in whatever the direction (CVE-2022-0854). */
			assert_memory_equal(cpu_of(&f, bus), buf, len);
			assert_slack_zero(&f, bus, len);
			struct vtio_bounce_stats st = stats(&f);
			assert_int_equal(st.in_use, len > SLOT ? 2 : 1);
			/* The device writes the first half. */
			memset(cpu_of(&f, bus), 0xC3, len / 2);
			assert_int_equal(
			    vtio_bounce_cache_unmap(&f.cache, bus, len, (enum vtio_dma_dir)dir, 0),
			    0);
			if (dir == VTIO_DMA_TO_DEVICE) {
				assert_memory_equal(buf, keep, len);
			} else {
				/* Copied back: the device's half, the rest as it was. */
				for (size_t k = 0; k < len; k++)
					assert_int_equal(buf[k], k < len / 2 ? 0xC3 : keep[k]);
			}
			st = stats(&f);
			assert_int_equal(st.in_use, 0);
			assert_true(st.cached > 0);
		}
	}
	/* SKIP_CPU_SYNC: no copy back at unmap (the copy in still happens). */
	fill(buf, 100, 7);
	memcpy(keep, buf, 100);
	uint64_t bus;
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 100, VTIO_DMA_FROM_DEVICE,
					       VTIO_DMA_ATTR_SKIP_CPU_SYNC, &bus),
			 0);
	assert_memory_equal(cpu_of(&f, bus), keep, 100);
	memset(cpu_of(&f, bus), 0x11, 100);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 100, VTIO_DMA_FROM_DEVICE,
						 VTIO_DMA_ATTR_SKIP_CPU_SYNC),
			 0);
	assert_memory_equal(buf, keep, 100);
	struct vtio_bounce_stats st = stats(&f);
	assert_int_equal(st.maps, 16);
	assert_int_equal(st.unmaps, 16);
	fx_fini(&f);
}

/* Default pool: whatever a device wrote anywhere in a run is gone when the
 * run is mapped again through the cache (LIFO: it gets the same slots). */
static void test_cache_no_stale_data(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 1);
	static _Alignas(64) unsigned char buf[4096];
	fill(buf, sizeof(buf), 3);
	for (int round = 0; round < 2; round++) {
		uint64_t a, b;
		size_t big = round ? 3000 : 2000, small = round ? 2100 : 64;
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, buf, big, VTIO_DMA_FROM_DEVICE, 0, &a), 0);
		size_t run = (big + SLOT - 1) / SLOT * SLOT;
		memset(cpu_of(&f, a), 0xAB, run); /* the device writes the whole run */
		assert_int_equal(vtio_bounce_cache_unmap(&f.cache, a, big, VTIO_DMA_FROM_DEVICE, 0),
				 0);
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, buf, small, VTIO_DMA_TO_DEVICE, 0, &b), 0);
		assert_int_equal(b, a); /* the same, warm slots */
		assert_memory_equal(cpu_of(&f, b), buf, small);
		assert_slack_zero(&f, b, small);
		assert_int_equal(vtio_bounce_cache_unmap(&f.cache, b, small, VTIO_DMA_TO_DEVICE, 0),
				 0);
		fill(buf, sizeof(buf), 3); /* undo the copy back */
	}
	/* min_align_mask inside a slot: the kept offset before the data is zeroed too. */
	struct vtio_bounce_dev d = f.dev;
	d.min_align_mask = 0x3f;
	struct vtio_bounce_cache c2;
	assert_int_equal(vtio_bounce_cache_init(&c2, f.set, &d), 0);
	uint64_t a;
	assert_int_equal(vtio_bounce_cache_map(&c2, buf, 500, VTIO_DMA_TO_DEVICE, 0, &a), 0);
	memset(cpu_of(&f, a) - (a % SLOT), 0x5C, SLOT);
	assert_int_equal(vtio_bounce_cache_unmap(&c2, a, 500, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_map(&c2, buf + 0x21, 100, VTIO_DMA_TO_DEVICE, 0, &a), 0);
	assert_int_equal(a & 0x3f, 0x21);
	assert_memory_equal(cpu_of(&f, a), buf + 0x21, 100);
	assert_slack_zero(&f, a, 100);
	assert_int_equal(vtio_bounce_cache_unmap(&c2, a, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_fini(&c2), 0);
	fx_fini(&f);
}

/* TRUSTED_DMA: only what the earlier mapping's data covered is zeroed, and
 * it is; SCRUB: a run is all zero once its mapping is gone. */
static void test_cache_pool_contracts(void **state)
{
	(void)state;
	static unsigned char buf[4096];
	fill(buf, sizeof(buf), 9);
	struct fx f;
	fx_init(&f, VTIO_BOUNCE_POOL_F_TRUSTED_DMA, 1);
	uint64_t a, b;
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 1500, VTIO_DMA_TO_DEVICE, 0, &a), 0);
	assert_slack_zero(&f, a, 1500); /* first use: the whole slot was dirty */
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, a, 1500, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf + 7, 64, VTIO_DMA_TO_DEVICE, 0, &b),
			 0);
	assert_int_equal(b, a);
	assert_memory_equal(cpu_of(&f, b), buf + 7, 64);
	assert_slack_zero(&f, b, 64); /* bytes 64 .. 1500 of the last mapping zeroed */
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, b, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	fx_fini(&f);

	fx_init(&f, VTIO_BOUNCE_POOL_F_SCRUB, 1);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 3000, VTIO_DMA_BIDIRECTIONAL, 0, &a),
			 0);
	unsigned char *p = cpu_of(&f, a);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, a, 3000, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	for (size_t k = 0; k < 2 * SLOT; k++)
		assert_int_equal(p[k], 0);
	fx_fini(&f);
}

/* Every refusal of the plain unmap, through the cache, with its counter;
 * none of them changes the mapping. */
static void test_cache_unmap_checks(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 2);
	static unsigned char buf[4096];
	fill(buf, sizeof(buf), 1);
	uint64_t bus;
	assert_int_equal(
	    vtio_bounce_cache_map(&f.cache, buf, 3000, VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	struct vtio_bounce_stats st0 = stats(&f), st;
	/* wrong length, wrong direction */
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 2999, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 3000, VTIO_DMA_TO_DEVICE, 0),
			 VTIO_EINVAL);
	st = stats(&f);
	assert_int_equal(st.fail_mismatch, st0.fail_mismatch + 2);
	/* not the start; inside the tail slot */
	assert_int_equal(
	    vtio_bounce_cache_unmap(&f.cache, bus + 1, 2999, VTIO_DMA_BIDIRECTIONAL, 0),
	    VTIO_ENOENT);
	assert_int_equal(
	    vtio_bounce_cache_unmap(&f.cache, bus + SLOT, 952, VTIO_DMA_BIDIRECTIONAL, 0),
	    VTIO_ENOENT);
	st = stats(&f);
	assert_int_equal(st.fail_unknown, st0.fail_unknown + 2);
	/* an address no pool owns */
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, 0x1000, 64, VTIO_DMA_TO_DEVICE, 0),
			 VTIO_ENOENT);
	st = stats(&f);
	assert_int_equal(st.fail_unknown, st0.fail_unknown + 3);
	/* the plain calls refuse a cache's mapping; so does another cache */
	assert_int_equal(vtio_bounce_unmap(f.set, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_free(f.set, 3000, cpu_of(&f, bus), bus), VTIO_EINVAL);
	struct vtio_bounce_cache other;
	assert_int_equal(vtio_bounce_cache_init(&other, f.set, &f.dev), 0);
	assert_int_equal(vtio_bounce_cache_unmap(&other, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EINVAL);
	st = stats(&f);
	assert_int_equal(st.fail_mismatch, st0.fail_mismatch + 5);
	assert_int_equal(st.in_use, 2);
	/* still intact: sync works, the right unmap copies back */
	memset(cpu_of(&f, bus), 0x77, 10);
	assert_int_equal(vtio_bounce_sync_for_cpu(f.set, bus, 10, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_int_equal(buf[9], 0x77);
	buf[20] = 0x99;
	assert_int_equal(vtio_bounce_sync_for_device(f.set, bus + 20, 1, VTIO_DMA_BIDIRECTIONAL),
			 0);
	assert_int_equal(cpu_of(&f, bus)[20], 0x99);
	assert_int_equal(vtio_bounce_sync_for_cpu(f.set, bus, 3001, VTIO_DMA_BIDIRECTIONAL),
			 VTIO_ERANGE);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 0);
	/* double unmap: through the cache, the other cache, the plain call */
	st0 = stats(&f);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EALREADY);
	assert_int_equal(vtio_bounce_unmap(f.set, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EALREADY);
	st = stats(&f);
	assert_int_equal(st.fail_double, st0.fail_double + 2);
	/* a sync of slots free in a cache finds no mapping */
	assert_int_equal(vtio_bounce_sync_for_cpu(f.set, bus, 10, VTIO_DMA_BIDIRECTIONAL),
			 VTIO_ENOENT);
	/* after a drain the slots are plainly free: still a double unmap */
	vtio_bounce_cache_drain(&f.cache);
	assert_int_equal(stats(&f).cached, 0);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 3000, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EALREADY);
	/* a plain mapping unmapped through a cache (it falls back) */
	assert_int_equal(vtio_bounce_map(f.set, &f.dev, buf, 100, VTIO_DMA_FROM_DEVICE, 0, &bus),
			 0);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 99, VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 100, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 100, VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EALREADY);
	assert_int_equal(vtio_bounce_cache_fini(&other), 0);
	fx_fini(&f);
}

/*
 * The same checks on the fast path's own cases: TO_DEVICE runs that the
 * data fills (one slot and two), at offset 0. A two-slot mapping's tail
 * slot keeps its cached state while the head is mapped (one record per
 * map and unmap): syncs inside the tail still find the mapping, a plain
 * unmap or free of the tail is refused as a cache's, and an unmap through
 * the cache at the tail is not the start of a mapping.
 */
static void test_cache_fast_path_checks(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 1);
	static unsigned char buf[2 * SLOT], back[2 * SLOT];
	fill(buf, sizeof(buf), 5);
	for (size_t len = SLOT; len <= 2 * SLOT; len += SLOT) {
		uint64_t bus;
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, buf, len, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_memory_equal(cpu_of(&f, bus), buf, len);
		struct vtio_bounce_stats st0 = stats(&f), st;
		assert_int_equal(st0.in_use, len / SLOT);
		/* wrong length, wrong direction: the mismatch counter */
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus, len - 1, VTIO_DMA_TO_DEVICE, 0),
		    VTIO_EINVAL);
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus, len + 1, VTIO_DMA_TO_DEVICE, 0),
		    VTIO_EINVAL);
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus, len, VTIO_DMA_FROM_DEVICE, 0),
		    VTIO_EINVAL);
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus, len, (enum vtio_dma_dir)7, 0),
		    VTIO_EINVAL);
		st = stats(&f);
		assert_int_equal(st.fail_mismatch, st0.fail_mismatch + 4);
		/* not the start: inside the head slot; past the pool */
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus + 64, len - 64, VTIO_DMA_TO_DEVICE, 0),
		    VTIO_ENOENT);
		assert_int_equal(vtio_bounce_cache_unmap(&f.cache, DEV_BASE + NSLOTS * SLOT, len,
							 VTIO_DMA_TO_DEVICE, 0),
				 VTIO_ENOENT);
		st = stats(&f);
		assert_int_equal(st.fail_unknown, st0.fail_unknown + 2);
		if (len == 2 * SLOT) {
			uint64_t tail = bus + SLOT;
			/* at the tail: through the cache not a start; the plain
			 * calls refuse a cache's mapping */
			assert_int_equal(
			    vtio_bounce_cache_unmap(&f.cache, tail, SLOT, VTIO_DMA_TO_DEVICE, 0),
			    VTIO_ENOENT);
			assert_int_equal(
			    vtio_bounce_unmap(f.set, tail, SLOT, VTIO_DMA_TO_DEVICE, 0),
			    VTIO_EINVAL);
			assert_int_equal(vtio_bounce_free(f.set, SLOT, cpu_of(&f, tail), tail),
					 VTIO_EINVAL);
			/* a sync inside the tail copies the caller's bytes again */
			memset(cpu_of(&f, tail + 10), 0, 20);
			assert_int_equal(
			    vtio_bounce_sync_for_device(f.set, tail + 10, 20, VTIO_DMA_TO_DEVICE),
			    0);
			assert_memory_equal(cpu_of(&f, tail + 10), buf + SLOT + 10, 20);
			assert_int_equal(
			    vtio_bounce_sync_for_device(f.set, tail + 10, SLOT, VTIO_DMA_TO_DEVICE),
			    VTIO_ERANGE);
		}
		st = stats(&f);
		assert_int_equal(st.in_use, len / SLOT);
		assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, len, VTIO_DMA_TO_DEVICE, 0),
				 0);
		/* double unmap; a sync of the freed run finds no mapping */
		assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, len, VTIO_DMA_TO_DEVICE, 0),
				 VTIO_EALREADY);
		assert_int_equal(
		    vtio_bounce_sync_for_device(f.set, bus + len - 10, 10, VTIO_DMA_TO_DEVICE),
		    VTIO_ENOENT);
		st = stats(&f);
		assert_int_equal(st.fail_double, st0.fail_double + 1);
		assert_int_equal(st.in_use, 0);
		assert_int_equal(st.unmaps, st0.unmaps + 1);
		/* the same run again (LIFO), with the new data and no stale byte */
		uint64_t again;
		fill(back, len, 9);
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, back, len, VTIO_DMA_TO_DEVICE, 0, &again), 0);
		assert_int_equal(again, bus);
		assert_memory_equal(cpu_of(&f, again), back, len);
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, again, len, VTIO_DMA_TO_DEVICE, 0), 0);
	}
	fx_fini(&f);
}

/* Many mappings in flight: the magazines refill, fill up and give half
 * back, and no slot is lost or handed out twice. */
static void test_cache_refill_and_give_back(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 1);
	enum { N = NSLOTS };
	static unsigned char buf[N][64], big[4096];
	uint64_t bus[N];
	for (int round = 0; round < 3; round++) {
		/* all slots of the pool through the cache */
		for (int i = 0; i < N; i++) {
			memset(buf[i], i + round, 64);
			assert_int_equal(vtio_bounce_cache_map(&f.cache, buf[i], 64,
							       VTIO_DMA_TO_DEVICE, 0, &bus[i]),
					 0);
			for (int j = 0; j < i; j++)
				assert_true(bus[j] != bus[i]);
		}
		struct vtio_bounce_stats st = stats(&f);
		assert_int_equal(st.in_use, N);
		assert_int_equal(st.cached, 0);
		uint64_t extra;
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, buf[0], 64, VTIO_DMA_TO_DEVICE, 0, &extra),
		    VTIO_ENOMEM);
		for (int i = 0; i < N; i++)
			assert_int_equal(cpu_of(&f, bus[i])[63], (unsigned char)(i + round));
		for (int i = 0; i < N; i++)
			assert_int_equal(
			    vtio_bounce_cache_unmap(&f.cache, bus[i], 64, VTIO_DMA_TO_DEVICE, 0),
			    0);
		st = stats(&f);
		assert_int_equal(st.in_use, 0);
		assert_true(st.cached > 0 && st.cached <= VTIO_BOUNCE_CACHE_DEPTH);
		/* two-slot runs next, once the single slots went back */
		vtio_bounce_cache_drain(&f.cache);
		for (int i = 0; i < N / 2; i++)
			assert_int_equal(vtio_bounce_cache_map(&f.cache, big, 4096 - 64 * (size_t)i,
							       VTIO_DMA_TO_DEVICE, 0, &bus[i]),
					 0);
		assert_int_equal(stats(&f).in_use, N);
		for (int i = 0; i < N / 2; i++)
			assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus[i],
								 4096 - 64 * (size_t)i,
								 VTIO_DMA_TO_DEVICE, 0),
					 0);
		vtio_bounce_cache_drain(&f.cache);
		st = stats(&f);
		assert_int_equal(st.in_use, 0);
		assert_int_equal(st.cached, 0);
		/* the plain allocator sees the whole pool free again */
		void *cpu;
		uint64_t b;
		assert_int_equal(vtio_bounce_alloc(f.set, &f.dev, NSLOTS * SLOT, 0, &cpu, &b), 0);
		assert_int_equal(vtio_bounce_free(f.set, NSLOTS * SLOT, cpu, b), 0);
	}
	fx_fini(&f);
}

/* The cache's area full: maps fall back to the plain call (other areas),
 * and their unmaps through the cache too; sizes above two slots as well. */
static void test_cache_fallbacks(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 2); /* area 0: slots 0..15, area 1: 16..31 */
	static unsigned char buf[8192];
	fill(buf, sizeof(buf), 5);
	uint64_t bus[NSLOTS];
	for (unsigned i = 0; i < NSLOTS; i++) {
		assert_int_equal(
		    vtio_bounce_cache_map(&f.cache, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus[i]), 0);
		/* the first 16 come from the cache's area, the rest from area 1 */
		assert_int_equal((bus[i] - DEV_BASE) / SLOT < 16, i < 16);
	}
	for (unsigned i = 0; i < NSLOTS; i++)
		assert_int_equal(
		    vtio_bounce_cache_unmap(&f.cache, bus[i], 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(stats(&f).in_use, 0);
	/* above two slots: a plain mapping */
	assert_int_equal(
	    vtio_bounce_cache_map(&f.cache, buf, 5000, VTIO_DMA_FROM_DEVICE, 0, &bus[0]), 0);
	assert_memory_equal(cpu_of(&f, bus[0]), buf, 5000);
	assert_slack_zero(&f, bus[0], 5000);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus[0], 5000, VTIO_DMA_FROM_DEVICE, 0),
			 0);
	/* bad arguments: the plain call's answers */
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 0, VTIO_DMA_TO_DEVICE, 0, &bus[0]),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 64, (enum vtio_dma_dir)7, 0, &bus[0]),
			 VTIO_EINVAL);
	assert_int_equal(
	    vtio_bounce_cache_map(&f.cache, buf, 1u << 20, VTIO_DMA_TO_DEVICE, 0, &bus[0]),
	    VTIO_EMSGSIZE);
	fx_fini(&f);
}

/* An attached cache pins its pool; fini refuses while its mappings live;
 * init refuses what it cannot serve. */
static void test_cache_lifecycle(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 2);
	static unsigned char buf[64];
	uint64_t bus;
	assert_int_equal(vtio_bounce_set_unregister(f.set, f.tp.pool), VTIO_EBUSY);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(vtio_bounce_cache_fini(&f.cache), VTIO_EBUSY);
	assert_int_equal(stats(&f).cached, 0); /* drained even so */
	assert_int_equal(vtio_bounce_set_unregister(f.set, f.tp.pool), VTIO_EBUSY);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_fini(&f.cache), 0);
	assert_int_equal(vtio_bounce_set_unregister(f.set, f.tp.pool), 0);
	/* no pool: ENODEV; alignment wider than a slot: EINVAL */
	assert_int_equal(vtio_bounce_cache_init(&f.cache, f.set, &f.dev), VTIO_ENODEV);
	assert_int_equal(vtio_bounce_set_register(f.set, f.tp.pool), 0);
	struct vtio_bounce_dev d = f.dev;
	d.min_align_mask = 0xfff;
	assert_int_equal(vtio_bounce_cache_init(&f.cache, f.set, &d), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_cache_init(NULL, f.set, &d), VTIO_EINVAL);
	/* the CPU-id hint: the default hook is 0, so area 0 */
	d.min_align_mask = 0;
	d.area_hint = VTIO_BOUNCE_AREA_CPU;
	assert_int_equal(vtio_bounce_cache_init(&f.cache, f.set, &d), 0);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true((bus - DEV_BASE) / SLOT < 16);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	/* a hint past the areas wraps: 3 % 2 = area 1 */
	struct vtio_bounce_cache c1;
	d.area_hint = 3;
	assert_int_equal(vtio_bounce_cache_init(&c1, f.set, &d), 0);
	assert_int_equal(vtio_bounce_cache_map(&c1, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true((bus - DEV_BASE) / SLOT >= 16);
	assert_int_equal(vtio_bounce_cache_unmap(&c1, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_fini(&c1), 0);
	fx_fini(&f);
}

/* White box: a cache's pending counters (bounce_internal.h, vtio__pend):
 * on 64-bit targets one word, maps << 40 | bytes, folded at 2^23 maps or
 * 2^39 bytes; on 32-bit targets two words folded at 2^31. A map that
 * finds a field at its limit folds. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define BYTES_NEAR_FOLD ((uint64_t)1 << 39) - 0x100u
#define MAPS_NEAR_FOLD	((uint64_t)1 << 23)
static void pend_bump(struct vtio_bounce_cache *c, uint64_t maps, uint64_t bytes)
{
	c->pend += maps << 40 | bytes;
}
static uint64_t pend_maps_of(const struct vtio_bounce_cache *c)
{
	return c->pend >> 40;
}
static uint64_t pend_bytes_of(const struct vtio_bounce_cache *c)
{
	return c->pend & (((uint64_t)1 << 40) - 1u);
}
#else
#define BYTES_NEAR_FOLD 0x7fffff00u
#define MAPS_NEAR_FOLD	0x80000000u
static void pend_bump(struct vtio_bounce_cache *c, uint64_t maps, uint64_t bytes)
{
	c->maps += (uint32_t)maps;
	c->bounced += (uint32_t)bytes;
}
static uint64_t pend_maps_of(const struct vtio_bounce_cache *c)
{
	return c->maps;
}
static uint64_t pend_bytes_of(const struct vtio_bounce_cache *c)
{
	return c->bounced;
}
#endif

/* The cache's counters fold into the area's 64-bit ones before they can
 * wrap (white box: a counter is set close to its limit), and the unmaps,
 * which a cache derives rather than counts, come out exact. */
static void test_cache_counters_fold(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, 0, 1);
	static unsigned char buf[256];
	uint64_t bus;
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 256, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	struct vtio_bounce_stats st0 = stats(&f);
	pend_bump(&f.cache, 0, BYTES_NEAR_FOLD); /* as if that many bytes went through */
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 256, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 256, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true(pend_bytes_of(&f.cache) < 0x1000u && pend_maps_of(&f.cache) < 2u); /* folded */
	struct vtio_bounce_stats st = stats(&f);
	assert_int_equal(st.bounced, st0.bounced + BYTES_NEAR_FOLD + 256u);
	assert_int_equal(st.maps, st0.maps + 1u);
	assert_int_equal(st.unmaps, st0.unmaps + 1u);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 256, VTIO_DMA_TO_DEVICE, 0), 0);
	struct vtio_bounce_stats end = stats(&f);
	assert_int_equal(end.maps, end.unmaps);

	/* The maps field: as if that many maps and unmaps went through (the
	 * unmaps follow, derived from the maps and the mapped runs). */
	st0 = stats(&f);
	pend_bump(&f.cache, MAPS_NEAR_FOLD, 0);
	assert_int_equal(vtio_bounce_cache_map(&f.cache, buf, 256, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true(pend_maps_of(&f.cache) == 0u && pend_bytes_of(&f.cache) == 0u); /* folded */
	st = stats(&f);
	assert_int_equal(st.maps, st0.maps + MAPS_NEAR_FOLD + 1u);
	assert_int_equal(st.unmaps, st0.unmaps + MAPS_NEAR_FOLD);
	assert_int_equal(st.bounced, st0.bounced + 256u);
	assert_int_equal(st.in_use, st0.in_use + 1u);
	assert_int_equal(vtio_bounce_cache_unmap(&f.cache, bus, 256, VTIO_DMA_TO_DEVICE, 0), 0);
	end = stats(&f);
	assert_int_equal(end.maps, end.unmaps);
	assert_int_equal(end.in_use, st0.in_use);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_copies_by_direction),
	    cmocka_unit_test(test_cache_no_stale_data),
	    cmocka_unit_test(test_cache_pool_contracts),
	    cmocka_unit_test(test_cache_unmap_checks),
	    cmocka_unit_test(test_cache_fast_path_checks),
	    cmocka_unit_test(test_cache_refill_and_give_back),
	    cmocka_unit_test(test_cache_fallbacks),
	    cmocka_unit_test(test_cache_lifecycle),
	    cmocka_unit_test(test_cache_counters_fold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
