/*
 * Bounce pool unit tests: configuration checks, swiotlb copy semantics by
 * direction (map always copies in: no stale-data leak, CVE-2022-0854),
 * partial syncs from any slot, errors (unknown address, double unmap,
 * size/direction mismatch, larger than a segment), exhaustion,
 * fragmentation, segment boundaries, alignment (min_align_mask, alloc
 * alignment), alloc/free, scrubbing, areas and statistics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bounce_test_util.h"

#define DEV_BASE 0x10000000ull

struct fx {
	struct tpool tp;
	struct vtio_bounce_set *set;
	struct vtio_bounce_dev dev;
};

static struct fx *fx_new(struct vtio_bounce_pool_config cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(tpool_init(&f->tp, &cfg), 0);
	f->set = tset_new();
	assert_int_equal(vtio_bounce_set_register(f->set, f->tp.pool), 0);
	vtio_bounce_dev_init(&f->dev, UINT64_MAX);
	return f;
}

static void fx_free(struct fx *f)
{
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.in_use, 0); /* no leak */
	assert_int_equal(vtio_bounce_set_unregister(f->set, f->tp.pool), 0);
	free(f->set);
	tpool_fini(&f->tp);
	free(f);
}

/* 64 slots of 2 KiB, one area, default segment (128 slots, clamped to 64). */
static struct fx *fx_default(void)
{
	return fx_new(tcfg_linear(64 * 2048, DEV_BASE));
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 31u + (i >> 8));
}

/* ---- Configuration ------------------------------------------------------------- */

static void test_config_validation(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c = tcfg_linear(64 * 2048, DEV_BASE);
	assert_true(vtio_bounce_pool_size(&c) > 0);
	c.slot_size = 3000; /* not a power of two */
	assert_int_equal(vtio_bounce_pool_size(&c), 0);
	c.slot_size = 8; /* too small */
	assert_int_equal(vtio_bounce_pool_size(&c), 0);
	c = tcfg_linear(64 * 2048 + 100, DEV_BASE); /* not whole slots */
	assert_int_equal(vtio_bounce_pool_size(&c), 0);
	c = tcfg_linear(4 * 2048, DEV_BASE);
	c.nareas = 5; /* more areas than slots */
	assert_int_equal(vtio_bounce_pool_size(&c), 0);
	c = tcfg_linear(4 * 2048, DEV_BASE);
	c.mapping = VTIO_BOUNCE_MAP_PIECES; /* no pieces */
	assert_int_equal(vtio_bounce_pool_size(&c), 0);

	/* Device base not slot aligned, storage too small, misaligned storage. */
	struct tpool tp;
	c = tcfg_linear(4 * 2048, DEV_BASE + 100);
	assert_int_equal(tpool_init(&tp, &c), VTIO_EINVAL);
	tpool_fini(&tp);
	c = tcfg_linear(4 * 2048, DEV_BASE);
	assert_int_equal(tpool_init(&tp, &c), 0);
	struct vtio_bounce_pool *p2;
	size_t need = vtio_bounce_pool_size(&c);
	assert_int_equal(vtio_bounce_pool_init(&p2, tp.store, need - 1, &c), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_pool_init(&p2, (char *)tp.store + 8, need - 8, &c),
			 VTIO_EINVAL);
	c.base = (char *)c.base + 64; /* pool area not slot aligned */
	assert_int_equal(vtio_bounce_pool_init(&p2, tp.store, need, &c), VTIO_EINVAL);
	tpool_fini(&tp);
}

/* ---- Copy semantics --------------------------------------------------------------- */

/* Map copies in for every direction, even FROM_DEVICE and with
 * SKIP_CPU_SYNC, so the device never sees an earlier mapping's bytes. */
static void test_no_stale_data_leak(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	unsigned char secret[1000], buf[1000];
	memset(secret, 0x5A, sizeof(secret));
	uint64_t bus, bus2;
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, secret, sizeof(secret), VTIO_DMA_TO_DEVICE, 0, &bus),
	    0);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(secret), VTIO_DMA_TO_DEVICE, 0), 0);
	for (int attr = 0; attr < 2; attr++) {
		for (int d = 0; d < 3; d++) {
			fill(buf, sizeof(buf), (unsigned)(d + 3 * attr));
			uint32_t attrs = attr ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0;
			assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, sizeof(buf),
							 (enum vtio_dma_dir)d, attrs, &bus2),
					 0);
			assert_int_equal(bus2, bus); /* first fit: the secret's slot again */
			unsigned char *tlb = tset_cpu(f->set, bus2);
			assert_memory_equal(tlb, buf, sizeof(buf));
			assert_int_equal(vtio_bounce_unmap(f->set, bus2, sizeof(buf),
							   (enum vtio_dma_dir)d,
							   VTIO_DMA_ATTR_SKIP_CPU_SYNC),
					 0);
		}
	}
	fx_free(f);
}

/*
 * The device may read every byte of a mapping's slot run, not only the
 * mapped bytes: the kept min_align offset before the data and the tail of
 * the last slot after it must never hold bytes of an earlier mapping
 * (DESIGN.md: no information leak through bounce slots). Earlier users
 * here: the pool's initial 0xEE fill, a mapping that filled three whole
 * slots, and device writes over the whole run (slack included).
 */
static void test_no_stale_slack(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	static _Alignas(8192) unsigned char raw[3 * 8192];
	const size_t run3 = 3 * 2048;
	/* Fresh pool (0xEE everywhere): a 100-byte map at offset 0x345 in slot 0. */
	f->dev.min_align_mask = 0x7ff;
	unsigned char *p = raw + 0x345;
	fill(p, 100, 9);
	uint64_t bus;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, p, 100, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	unsigned char *run = tset_cpu(f->set, bus) - 0x345;
	for (size_t i = 0; i < 2048; i++)
		assert_int_equal(run[i], i >= 0x345 && i < 0x345 + 100 ? p[i - 0x345] : 0);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);

	/* A secret fills slots 0..2 whole; the device then scribbles over all of them. */
	f->dev.min_align_mask = 0;
	unsigned char secret[3 * 2048];
	memset(secret, 0x5A, sizeof(secret));
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, secret, sizeof(secret),
					 VTIO_DMA_BIDIRECTIONAL, 0, &bus),
			 0);
	assert_ptr_equal(tset_cpu(f->set, bus), run);
	memset(run, 0xD7, run3);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(secret), VTIO_DMA_BIDIRECTIONAL,
					   VTIO_DMA_ATTR_SKIP_CPU_SYNC),
			 0);

	/* New mappings of every direction, with and without SKIP_CPU_SYNC and a
	 * kept offset, land on those slots: outside [off, off+len) the device
	 * reads zeros only. */
	static const struct {
		uint64_t mask;
		size_t off, len;
	} cases[] = {{0, 0, 1},		 {0, 0, 2047},	      {0, 0, 2049},
		     {0x7ff, 0x10, 64},	 {0x7ff, 0x7f0, 100}, {0x7ff, 0x400, 4000},
		     {0x3f, 0x21, 3000}, {0, 0, 3 * 2048}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int d = 0; d < 3; d++) {
			for (int skip = 0; skip < 2; skip++) {
				f->dev.min_align_mask = cases[c].mask;
				p = raw + 8192 + cases[c].off;
				size_t len = cases[c].len;
				fill(p, len, (unsigned)(c * 7 + (size_t)d));
				uint32_t attrs = skip ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0;
				assert_int_equal(vtio_bounce_map(f->set, &f->dev, p, len,
								 (enum vtio_dma_dir)d, attrs, &bus),
						 0);
				size_t off = (size_t)(bus & 2047u);
				assert_int_equal(off, cases[c].off & cases[c].mask);
				unsigned char *tlb = tset_cpu(f->set, bus);
				assert_ptr_equal(tlb - off, run); /* first fit: the same slots */
				size_t nslots = (off + len + 2047) / 2048;
				for (size_t i = 0; i < nslots * 2048; i++) {
					if (i >= off && i < off + len)
						assert_int_equal(run[i], p[i - off]);
					else
						assert_int_equal(run[i], 0);
				}
				/* The device writes the whole run before the next round. */
				memset(run, 0xD0 + d, run3);
				assert_int_equal(vtio_bounce_unmap(f->set, bus, len,
								   (enum vtio_dma_dir)d,
								   VTIO_DMA_ATTR_SKIP_CPU_SYNC),
						 0);
			}
		}
	}

	/* Allocations come back zeroed over their whole run too. */
	memset(run, 0xD9, run3);
	void *cpu;
	uint64_t abus;
	assert_int_equal(vtio_bounce_alloc(f->set, &f->dev, 2100, 0, &cpu, &abus), 0);
	assert_ptr_equal(cpu, run);
	for (size_t i = 0; i < 2 * 2048; i++)
		assert_int_equal(run[i], 0);
	assert_int_equal(vtio_bounce_free(f->set, 2100, cpu, abus), 0);
	fx_free(f);
}

/* The device writes into the slots; unmap copies back only for FROM_DEVICE
 * and BIDIRECTIONAL, and not with SKIP_CPU_SYNC. */
static void test_unmap_copy_back_by_direction(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	unsigned char buf[3000], want[3000];
	for (int skip = 0; skip < 2; skip++) {
		for (int d = 0; d < 3; d++) {
			fill(buf, sizeof(buf), 7);
			memcpy(want, buf, sizeof(buf));
			uint64_t bus;
			assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, sizeof(buf),
							 (enum vtio_dma_dir)d, 0, &bus),
					 0);
			unsigned char *tlb = tset_cpu(f->set, bus);
			fill(tlb + 100, 2000, 99); /* device writes part of the buffer */
			bool back = d != VTIO_DMA_TO_DEVICE && !skip;
			if (back)
				fill(want + 100, 2000, 99);
			assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(buf),
							   (enum vtio_dma_dir)d,
							   skip ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0),
					 0);
			/* Bytes the device did not write keep the original (map copied them in). */
			assert_memory_equal(buf, want, sizeof(buf));
		}
	}
	fx_free(f);
}

/* Partial syncs may start in any slot of a mapping (each slot knows its head). */
static void test_partial_syncs(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	f->dev.min_align_mask = 0x7ff; /* keep a 0x123 offset in the first slot */
	static _Alignas(4096) unsigned char raw[16384];
	unsigned char *buf = raw + 0x123;
	size_t len = 9000; /* 5 slots with the offset */
	fill(buf, len, 1);
	uint64_t bus;
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, buf, len, VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	assert_int_equal(bus & 0x7ff, 0x123);
	unsigned char *tlb = tset_cpu(f->set, bus);

	/* Device writes [5000, 5200): sync only [5100, 5150) for the CPU. */
	memset(tlb + 5000, 0xAB, 200);
	assert_int_equal(vtio_bounce_sync_for_cpu(f->set, bus + 5100, 50, VTIO_DMA_BIDIRECTIONAL),
			 0);
	unsigned char expect_orig[9000];
	fill(expect_orig, len, 1);
	memset(expect_orig + 5100, 0xAB, 50);
	assert_memory_equal(buf, expect_orig, len);

	/* CPU writes [8000, 8999): sync for the device from the last slot. */
	memset(buf + 8000, 0xCD, 999);
	assert_int_equal(
	    vtio_bounce_sync_for_device(f->set, bus + 8000, 999, VTIO_DMA_BIDIRECTIONAL), 0);
	for (size_t i = 8000; i < 8999; i++)
		assert_int_equal(tlb[i], 0xCD);

	/* Out of range, wrong direction, unmapped address. */
	assert_int_equal(vtio_bounce_sync_for_cpu(f->set, bus + 8990, 11, VTIO_DMA_BIDIRECTIONAL),
			 VTIO_ERANGE);
	assert_int_equal(vtio_bounce_sync_for_cpu(f->set, bus + 10, 11, VTIO_DMA_FROM_DEVICE),
			 VTIO_EINVAL);
	assert_int_equal(
	    vtio_bounce_sync_for_cpu(f->set, bus - 0x123 + 20 * 2048, 16, VTIO_DMA_BIDIRECTIONAL),
	    VTIO_ENOENT);
	/* Bytes before the mapping in its first slot are not part of it. */
	assert_int_equal(vtio_bounce_sync_for_cpu(f->set, bus - 1, 2, VTIO_DMA_BIDIRECTIONAL),
			 VTIO_ENOENT);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, len, VTIO_DMA_BIDIRECTIONAL, 0), 0);

	/* TO_DEVICE: sync_for_cpu copies nothing; FROM_DEVICE: sync_for_device copies nothing. */
	fill(buf, 100, 3);
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 100, VTIO_DMA_TO_DEVICE, 0, &bus),
			 0);
	tlb = tset_cpu(f->set, bus);
	memset(tlb, 0x11, 100);
	assert_int_equal(vtio_bounce_sync_for_cpu(f->set, bus, 100, VTIO_DMA_TO_DEVICE), 0);
	assert_int_not_equal(buf[0], 0x11);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 100, VTIO_DMA_FROM_DEVICE, 0, &bus),
			 0);
	tlb = tset_cpu(f->set, bus);
	memset(buf, 0x22, 100);
	assert_int_equal(vtio_bounce_sync_for_device(f->set, bus, 100, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_not_equal(tlb[0], 0x22);
	assert_int_equal(
	    vtio_bounce_unmap(f->set, bus, 100, VTIO_DMA_FROM_DEVICE, VTIO_DMA_ATTR_SKIP_CPU_SYNC),
	    0);
	fx_free(f);
}

/* ---- Errors ------------------------------------------------------------------------- */

static void test_clear_errors(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	unsigned char buf[4096];
	uint64_t bus;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 0, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 10, (enum vtio_dma_dir)7, 0, &bus),
			 VTIO_EINVAL);
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, buf, sizeof(buf), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	/* Unknown address: below the pool, above it. */
	assert_int_equal(vtio_bounce_unmap(f->set, DEV_BASE - 2048, 10, VTIO_DMA_TO_DEVICE, 0),
			 VTIO_ENOENT);
	assert_int_equal(vtio_bounce_unmap(f->set, DEV_BASE + 64 * 2048, 10, VTIO_DMA_TO_DEVICE, 0),
			 VTIO_ENOENT);
	/* Inside the mapping but not its start (second slot). */
	assert_int_equal(
	    vtio_bounce_unmap(f->set, bus + 2048, sizeof(buf) - 2048, VTIO_DMA_TO_DEVICE, 0),
	    VTIO_ENOENT);
	/* Size and direction mismatches change nothing. */
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(buf) - 1, VTIO_DMA_TO_DEVICE, 0),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EINVAL);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(f->set, &st);
	assert_int_equal(st.in_use, 2);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(buf), VTIO_DMA_TO_DEVICE, 0), 0);
	/* Double unmap. */
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(buf), VTIO_DMA_TO_DEVICE, 0),
			 VTIO_EALREADY);
	vtio_bounce_set_get_stats(f->set, &st);
	assert_int_equal(st.fail_unknown, 3);
	assert_int_equal(st.fail_mismatch, 2);
	assert_int_equal(st.fail_double, 1);
	assert_int_equal(st.maps, 1);
	assert_int_equal(st.unmaps, 1);
	fx_free(f);
}

/* Larger than a segment: VTIO_EMSGSIZE, counted. Exactly a segment fits. */
static void test_segment_limit(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c = tcfg_linear(32 * 256, DEV_BASE);
	c.slot_size = 256;
	c.max_segment = 4;
	struct fx *f = fx_new(c);
	static unsigned char raw[4096];
	uint64_t bus, b1;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, raw, 1025, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_EMSGSIZE);
	/* One slot taken at slot 0: a full-segment mapping must start at slot 4
	 * (never straddle the boundary at 4). */
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, raw, 10, VTIO_DMA_TO_DEVICE, 0, &b1), 0);
	assert_int_equal(b1, DEV_BASE);
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, raw, 1024, VTIO_DMA_TO_DEVICE, 0, &bus),
			 0);
	assert_int_equal(bus, DEV_BASE + 4 * 256);
	/* A 3-slot mapping fits in slots 1..3, before the boundary. */
	uint64_t b3;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, raw, 700, VTIO_DMA_TO_DEVICE, 0, &b3), 0);
	assert_int_equal(b3, DEV_BASE + 256);
	/* With a kept offset of 0x80 a 1024-byte buffer needs 5 slots: too big. */
	f->dev.min_align_mask = 0xff;
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, raw + 0x80, 1024, VTIO_DMA_TO_DEVICE, 0, &bus),
	    VTIO_EMSGSIZE);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.fail_too_big, 2);
	assert_int_equal(vtio_bounce_unmap(f->set, b1, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(f->set, DEV_BASE + 1024, 1024, VTIO_DMA_TO_DEVICE, 0),
			 0);
	assert_int_equal(vtio_bounce_unmap(f->set, b3, 700, VTIO_DMA_TO_DEVICE, 0), 0);
	fx_free(f);
}

/* ---- Exhaustion and fragmentation ------------------------------------------------------ */

static void test_exhaustion(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	static unsigned char bufs[64][100];
	uint64_t bus[64];
	for (int i = 0; i < 64; i++) {
		fill(bufs[i], 100, (unsigned)i);
		assert_int_equal(vtio_bounce_map(f->set, &f->dev, bufs[i], 100,
						 VTIO_DMA_BIDIRECTIONAL, 0, &bus[i]),
				 0);
	}
	uint64_t extra;
	unsigned char one[10] = {0};
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, one, 10, VTIO_DMA_BIDIRECTIONAL, 0, &extra),
	    VTIO_ENOMEM);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.in_use, 64);
	assert_int_equal(st.high_water, 64);
	assert_int_equal(st.fail_nospace, 1);
	/* Nothing corrupted: every mapping still holds its own bytes. */
	for (int i = 0; i < 64; i++)
		assert_memory_equal(tset_cpu(f->set, bus[i]), bufs[i], 100);
	/* Free one in the middle: the next map takes exactly that slot. */
	assert_int_equal(vtio_bounce_unmap(f->set, bus[37], 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, one, 10, VTIO_DMA_BIDIRECTIONAL, 0, &extra), 0);
	assert_int_equal(extra, bus[37]);
	assert_int_equal(vtio_bounce_unmap(f->set, extra, 10, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	for (int i = 0; i < 64; i++)
		if (i != 37)
			assert_int_equal(
			    vtio_bounce_unmap(f->set, bus[i], 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.high_water, 64);
	fx_free(f);
}

static void test_fragmentation(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	static unsigned char buf[8192];
	uint64_t bus[64];
	for (int i = 0; i < 64; i++)
		assert_int_equal(
		    vtio_bounce_map(f->set, &f->dev, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus[i]), 0);
	for (int i = 0; i < 64; i += 2)
		assert_int_equal(vtio_bounce_unmap(f->set, bus[i], 64, VTIO_DMA_TO_DEVICE, 0), 0);
	/* Half the pool is free, but no two free slots touch. */
	uint64_t b;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 3000, VTIO_DMA_TO_DEVICE, 0, &b),
			 VTIO_ENOMEM);
	/* Free slot 41: slots 40..42 make the first run of 3. */
	assert_int_equal(vtio_bounce_unmap(f->set, bus[41], 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 5000, VTIO_DMA_TO_DEVICE, 0, &b), 0);
	assert_int_equal(b, DEV_BASE + 40 * 2048);
	/* Single slots still come first-fit from the bottom. */
	uint64_t s1;
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, buf, 1, VTIO_DMA_TO_DEVICE, 0, &s1), 0);
	assert_int_equal(s1, DEV_BASE);
	assert_int_equal(vtio_bounce_unmap(f->set, s1, 1, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(f->set, b, 5000, VTIO_DMA_TO_DEVICE, 0), 0);
	for (int i = 1; i < 64; i += 2)
		if (i != 41)
			assert_int_equal(
			    vtio_bounce_unmap(f->set, bus[i], 64, VTIO_DMA_TO_DEVICE, 0), 0);
	fx_free(f);
}

/* ---- Alignment --------------------------------------------------------------------- */

static void test_min_align_mask(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	static _Alignas(8192) unsigned char raw[3 * 8192];
	uint64_t bus, pad;
	/* Take slot 0 so alignment has to skip slots. */
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, raw, 8, VTIO_DMA_TO_DEVICE, 0, &pad), 0);
	uint64_t masks[] = {0x3, 0x7ff, 0xfff, 0x1fff};
	size_t offs[] = {0x2, 0x7fe, 0xc01, 0x1803};
	for (int i = 0; i < 4; i++) {
		f->dev.min_align_mask = masks[i];
		unsigned char *p = raw + 8192 + offs[i];
		assert_int_equal(
		    vtio_bounce_map(f->set, &f->dev, p, 300, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_int_equal(bus & masks[i], (uintptr_t)p & masks[i]);
		assert_memory_equal(tset_cpu(f->set, bus), p, 300);
		assert_int_equal(vtio_bounce_unmap(f->set, bus, 300, VTIO_DMA_TO_DEVICE, 0), 0);
	}
	assert_int_equal(vtio_bounce_unmap(f->set, pad, 8, VTIO_DMA_TO_DEVICE, 0), 0);
	fx_free(f);
}

static void test_alloc_free(void **state)
{
	(void)state;
	struct fx *f = fx_default();
	void *cpu, *big;
	uint64_t bus, bbus, b8k;
	memset(f->tp.mem, 0x77, f->tp.size); /* allocations must come back zeroed */
	assert_int_equal(vtio_bounce_alloc(f->set, &f->dev, 100, 0, &cpu, &bus), 0);
	assert_int_equal(bus % 2048, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(((unsigned char *)cpu)[i], 0);
	/* 8 KiB alignment skips slots that are not 8 KiB aligned. */
	void *c8k;
	assert_int_equal(vtio_bounce_alloc(f->set, &f->dev, 100, 8192, &c8k, &b8k), 0);
	assert_int_equal(b8k % 8192, 0);
	assert_int_not_equal(b8k, bus);
	/* Long-lived objects may be larger than a segment (rings). */
	struct vtio_bounce_pool_config c = tcfg_linear(256 * 2048, DEV_BASE);
	c.max_segment = 16;
	struct fx *g = fx_new(c);
	assert_int_equal(vtio_bounce_alloc(g->set, &g->dev, 100 * 2048, 0, &big, &bbus), 0);
	assert_int_equal(vtio_bounce_alloc(g->set, &g->dev, 300 * 2048, 0, &big, &bbus),
			 VTIO_EMSGSIZE);
	assert_int_equal(vtio_bounce_free(g->set, 100 * 2048, tset_cpu(g->set, DEV_BASE), DEV_BASE),
			 0);
	fx_free(g);
	/* Errors: wrong size, wrong cpu, unmap of an allocation, double free. */
	assert_int_equal(vtio_bounce_free(f->set, 101, cpu, bus), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_free(f->set, 100, (char *)cpu + 1, bus), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, 100, VTIO_DMA_BIDIRECTIONAL, 0),
			 VTIO_EINVAL);
	assert_int_equal(vtio_bounce_free(f->set, 100, cpu, bus), 0);
	assert_int_equal(vtio_bounce_free(f->set, 100, cpu, bus), VTIO_EALREADY);
	assert_int_equal(vtio_bounce_free(f->set, 100, c8k, b8k), 0);
	assert_int_equal(vtio_bounce_alloc(f->set, &f->dev, 0, 0, &cpu, &bus), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_alloc(f->set, &f->dev, 10, 3, &cpu, &bus), VTIO_EINVAL);
	/* free() of a mapping is refused. */
	unsigned char b[10];
	assert_int_equal(vtio_bounce_map(f->set, &f->dev, b, 10, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(vtio_bounce_free(f->set, 10, tset_cpu(f->set, bus), bus), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.allocs, 2);
	assert_int_equal(st.frees, 2);
	fx_free(f);
}

/* A scrubbing pool leaves no data of a finished mapping in shared memory. */
static void test_scrub(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c = tcfg_linear(8 * 2048, DEV_BASE);
	c.flags = VTIO_BOUNCE_POOL_F_SCRUB;
	struct fx *f = fx_new(c);
	unsigned char secret[3000];
	memset(secret, 0x5A, sizeof(secret));
	uint64_t bus;
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, secret, sizeof(secret), VTIO_DMA_TO_DEVICE, 0, &bus),
	    0);
	unsigned char *tlb = tset_cpu(f->set, bus);
	assert_int_equal(vtio_bounce_unmap(f->set, bus, sizeof(secret), VTIO_DMA_TO_DEVICE, 0), 0);
	for (size_t i = 0; i < 2 * 2048; i++)
		assert_int_equal(tlb[i], 0);
	fx_free(f);
}

/* Areas: the hint picks the area; a full area spills into the next one. */
static void test_areas(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c = tcfg_linear(16 * 2048, DEV_BASE);
	c.nareas = 4; /* 4 slots each */
	struct fx *f = fx_new(c);
	unsigned char b[10] = {0};
	uint64_t bus[6];
	f->dev.area_hint = 2;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(
		    vtio_bounce_map(f->set, &f->dev, b, 10, VTIO_DMA_TO_DEVICE, 0, &bus[i]), 0);
		uint64_t slot = (bus[i] - DEV_BASE) / 2048;
		assert_int_equal(slot, i < 4 ? 8 + i : 12 + (i - 4));
	}
	/* A 5-slot mapping never spans two areas (4 slots each). */
	static unsigned char big[5 * 2048];
	uint64_t bb;
	assert_int_equal(
	    vtio_bounce_map(f->set, &f->dev, big, 4 * 2048 + 1, VTIO_DMA_TO_DEVICE, 0, &bb),
	    VTIO_ENOMEM);
	for (int i = 0; i < 6; i++)
		assert_int_equal(vtio_bounce_unmap(f->set, bus[i], 10, VTIO_DMA_TO_DEVICE, 0), 0);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(f->tp.pool, &st);
	assert_int_equal(st.high_water, 6);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_validation),
	    cmocka_unit_test(test_no_stale_data_leak),
	    cmocka_unit_test(test_no_stale_slack),
	    cmocka_unit_test(test_unmap_copy_back_by_direction),
	    cmocka_unit_test(test_partial_syncs),
	    cmocka_unit_test(test_clear_errors),
	    cmocka_unit_test(test_segment_limit),
	    cmocka_unit_test(test_exhaustion),
	    cmocka_unit_test(test_fragmentation),
	    cmocka_unit_test(test_min_align_mask),
	    cmocka_unit_test(test_alloc_free),
	    cmocka_unit_test(test_scrub),
	    cmocka_unit_test(test_areas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
