/*
 * Several pools: non-linear mappings (a table of pieces, a callback), pools
 * with different addressing limits chosen by the device's mask, pool
 * affinity and restricted pools, run-time registration and removal (busy
 * removal refused), and lookup of the owning pool and slot of a device
 * address (seed 002: several pools, non-linear paddr/vaddr, register API).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bounce_test_util.h"

/* Four pieces of a 16-slot pool, out of order in device space with gaps. */
static const struct vtio_bounce_piece pieces[4] = {
    {0, 3 * 2048, 0x70000000u},
    {3 * 2048, 5 * 2048, 0x50000000u},
    {8 * 2048, 2 * 2048, 0x60010000u},
    {10 * 2048, 6 * 2048, 0x60000000u},
};

static void test_pieces_mapping(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c;
	memset(&c, 0, sizeof(c));
	c.size = 16 * 2048;
	c.mapping = VTIO_BOUNCE_MAP_PIECES;
	c.pieces = pieces;
	c.npieces = 4;
	struct tpool tp;
	assert_int_equal(tpool_init(&tp, &c), 0);
	uint64_t lo, hi;
	vtio_bounce_pool_dev_range(tp.pool, &lo, &hi);
	assert_int_equal(lo, 0x50000000u);
	assert_int_equal(hi, 0x70000000u + 3 * 2048 - 1);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);

	/* Every slot round-trips CPU -> device -> CPU, and lookup names the slot. */
	for (uint32_t s = 0; s < 16; s++) {
		uint64_t dev;
		void *cpu;
		struct vtio_bounce_pool *owner;
		uint32_t slot;
		assert_int_equal(vtio_bounce_pool_cpu_to_dev(tp.pool, tp.mem + s * 2048 + 5, &dev),
				 0);
		assert_int_equal(vtio_bounce_pool_dev_to_cpu(tp.pool, dev, &cpu), 0);
		assert_ptr_equal(cpu, tp.mem + s * 2048 + 5);
		assert_int_equal(vtio_bounce_set_find(set, dev, &owner, &slot), 0);
		assert_ptr_equal(owner, tp.pool);
		assert_int_equal(slot, s);
	}
	/* Gaps between pieces belong to nobody. */
	assert_int_equal(vtio_bounce_set_find(set, 0x50000000u + 5 * 2048, NULL, NULL),
			 VTIO_ENOENT);
	assert_int_equal(vtio_bounce_set_find(set, 0x6000f000u, NULL, NULL), VTIO_ENOENT);
	assert_int_equal(vtio_bounce_pool_cpu_to_dev(tp.pool, tp.mem + 16 * 2048, &lo),
			 VTIO_EFAULT);

	/* Mappings never cross a piece boundary: with slots 0 and 1 taken a
	 * 2-slot mapping cannot use slots 2..3 (piece 0 ends at 3). */
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	static unsigned char buf[8 * 2048];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 13);
	uint64_t b0, b1, b2, b3;
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_TO_DEVICE, 0, &b0), 0);
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_TO_DEVICE, 0, &b1), 0);
	assert_int_equal(b0, 0x70000000u);
	assert_int_equal(b1, 0x70000800u);
	assert_int_equal(vtio_bounce_map(set, &d, buf, 4000, VTIO_DMA_BIDIRECTIONAL, 0, &b2), 0);
	assert_int_equal(b2, 0x50000000u); /* slots 3..4, the start of piece 1 */
	/* A 5-slot mapping fits only in piece 3 (6 slots): slots 10.. */
	assert_int_equal(vtio_bounce_map(set, &d, buf, 5 * 2048, VTIO_DMA_BIDIRECTIONAL, 0, &b3),
			 0);
	assert_int_equal(b3, 0x60000000u);
	/* The device sees the bytes contiguously at the returned bus address. */
	unsigned char *tlb = tset_cpu(set, b3);
	assert_memory_equal(tlb, buf, 5 * 2048);
	assert_ptr_equal(tset_cpu(set, b3 + 5 * 2048 - 1), tlb + 5 * 2048 - 1);
	/* Partial sync in the 4th slot of the mapping. */
	memset(tlb + 3 * 2048 + 7, 0xEE, 33);
	assert_int_equal(
	    vtio_bounce_sync_for_cpu(set, b3 + 3 * 2048 + 7, 33, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_int_equal(buf[3 * 2048 + 7], 0xEE);
	assert_int_equal(buf[3 * 2048 + 39], 0xEE);
	assert_int_not_equal(buf[3 * 2048 + 40], 0xEE);
	assert_int_equal(vtio_bounce_unmap(set, b0, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, b1, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, b2, 4000, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, b3, 5 * 2048, VTIO_DMA_BIDIRECTIONAL, 0), 0);

	/* Bad tables: gap, overlap in device space, misaligned piece. */
	struct vtio_bounce_piece bad[2] = {{0, 2048, 0x1000}, {4096, 2048, 0x8000}};
	struct vtio_bounce_pool_config cb = c;
	cb.base = NULL;
	cb.size = 4096;
	cb.pieces = bad;
	cb.npieces = 2;
	struct tpool t2;
	assert_int_equal(tpool_init(&t2, &cb), VTIO_EINVAL);
	tpool_fini(&t2);
	bad[1].off = 2048;
	bad[1].dev = 0x1000; /* overlaps piece 0 in device space */
	cb.base = NULL;
	assert_int_equal(tpool_init(&t2, &cb), VTIO_EINVAL);
	tpool_fini(&t2);
	bad[1].dev = 0x8100; /* not slot aligned */
	cb.base = NULL;
	assert_int_equal(tpool_init(&t2, &cb), VTIO_EINVAL);
	tpool_fini(&t2);

	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	free(set);
	tpool_fini(&tp);
}

/* Callback mapping: 1 KiB segments placed in reverse order, 64 KiB apart. */
static int rev_to_dev(void *ctx, size_t off, uint64_t *dev)
{
	(void)ctx;
	*dev = 0x300000000ull + (uint64_t)(7 - off / 1024) * 0x10000u + off % 1024;
	return 0;
}

static int rev_to_off(void *ctx, uint64_t dev, size_t *off)
{
	(void)ctx;
	uint64_t rel = dev - 0x300000000ull;
	if (dev < 0x300000000ull || rel / 0x10000u > 7 || rel % 0x10000u >= 1024)
		return VTIO_ENOENT;
	*off = (size_t)((7 - rel / 0x10000u) * 1024 + rel % 0x10000u);
	return 0;
}

static void test_callback_mapping(void **state)
{
	(void)state;
	static const struct vtio_bounce_xlate_ops ops = {rev_to_dev, rev_to_off};
	struct vtio_bounce_pool_config c;
	memset(&c, 0, sizeof(c));
	c.size = 8192;
	c.slot_size = 256;
	c.max_segment = 4;
	c.mapping = VTIO_BOUNCE_MAP_CALLBACK;
	c.xlate = &ops;
	c.dev_lo = 0x300000000ull;
	c.dev_hi = 0x300070000ull + 1023;
	struct tpool tp;
	assert_int_equal(tpool_init(&tp, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	unsigned char a[1024], b[1000];
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	uint64_t ba, bb;
	assert_int_equal(vtio_bounce_map(set, &d, a, 100, VTIO_DMA_TO_DEVICE, 0, &ba), 0);
	assert_int_equal(ba, 0x300070000ull); /* pool offset 0 */
	/* 1000 bytes = 4 slots: the whole second segment (offset 1024). */
	assert_int_equal(vtio_bounce_map(set, &d, b, 1000, VTIO_DMA_FROM_DEVICE, 0, &bb), 0);
	assert_int_equal(bb, 0x300060000ull);
	unsigned char *tlb = tset_cpu(set, bb);
	assert_ptr_equal(tlb, tp.mem + 1024);
	memset(tlb, 9, 1000);
	assert_int_equal(vtio_bounce_unmap(set, bb, 1000, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(b[999], 9);
	assert_int_equal(vtio_bounce_unmap(set, ba, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	/* Allocations in a callback pool stay inside one segment too. */
	void *cpu;
	uint64_t bus;
	assert_int_equal(vtio_bounce_alloc(set, &d, 1025, 0, &cpu, &bus), VTIO_EMSGSIZE);
	assert_int_equal(vtio_bounce_alloc(set, &d, 1024, 0, &cpu, &bus), 0);
	assert_int_equal(vtio_bounce_free(set, 1024, cpu, bus), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	free(set);
	tpool_fini(&tp);
}

/* Three pools at different heights; devices get pools they reach, the
 * highest first, so low memory stays for narrow devices. */
static void test_pools_by_addressing_limit(void **state)
{
	(void)state;
	struct tpool low, mid, high;
	struct vtio_bounce_pool_config c = tcfg_linear(4 * 2048, 0x10000000u);
	c.id = 10;
	assert_int_equal(tpool_init(&low, &c), 0);
	c = tcfg_linear(4 * 2048, 0x80000000u);
	c.id = 11;
	assert_int_equal(tpool_init(&mid, &c), 0);
	c = tcfg_linear(4 * 2048, 0x400000000ull);
	c.id = 12;
	assert_int_equal(tpool_init(&high, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	/* Register out of order: the set keeps them sorted for lookups. */
	assert_int_equal(vtio_bounce_set_register(set, high.pool), 0);
	assert_int_equal(vtio_bounce_set_register(set, low.pool), 0);
	assert_int_equal(vtio_bounce_set_register(set, mid.pool), 0);

	struct vtio_bounce_dev d30, d32, d64, d20;
	vtio_bounce_dev_init(&d30, (1u << 30) - 1);
	vtio_bounce_dev_init(&d32, 0xffffffffu);
	vtio_bounce_dev_init(&d64, UINT64_MAX);
	vtio_bounce_dev_init(&d20, (1u << 20) - 1);
	unsigned char b[100] = {0};
	uint64_t bus;
	assert_int_equal(vtio_bounce_map(set, &d64, b, 100, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true(bus >= 0x400000000ull);
	assert_int_equal(vtio_bounce_unmap(set, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_map(set, &d32, b, 100, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_true(bus >= 0x80000000u && bus < 0x80000000u + 8192);
	assert_int_equal(vtio_bounce_unmap(set, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	/* The 30-bit device fills the low pool, then gets VTIO_ENOMEM (never a pool above). */
	uint64_t lb[4];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vtio_bounce_map(set, &d30, b, 100, VTIO_DMA_TO_DEVICE, 0, &lb[i]),
				 0);
		assert_true(lb[i] + 99 <= d30.mask);
	}
	assert_int_equal(vtio_bounce_map(set, &d30, b, 100, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_ENOMEM);
	/* The 32-bit device spills from mid into nothing else it reaches but low (full). */
	uint64_t mb[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(vtio_bounce_map(set, &d32, b, 100, VTIO_DMA_TO_DEVICE, 0, &mb[i]),
				 0);
	assert_int_equal(vtio_bounce_map(set, &d32, b, 100, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_ENOMEM);
	/* No pool below 1 MiB. */
	assert_int_equal(vtio_bounce_map(set, &d20, b, 100, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_ENODEV);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.fail_no_pool, 1);
	assert_int_equal(st.in_use, 8);
	assert_int_equal(st.slots, 12);
	/* Lookups find the right pool for each. */
	struct vtio_bounce_pool *owner;
	assert_int_equal(vtio_bounce_set_find(set, lb[2], &owner, NULL), 0);
	assert_ptr_equal(owner, low.pool);
	assert_int_equal(vtio_bounce_set_find(set, mb[3], &owner, NULL), 0);
	assert_ptr_equal(owner, mid.pool);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vtio_bounce_unmap(set, lb[i], 100, VTIO_DMA_TO_DEVICE, 0), 0);
		assert_int_equal(vtio_bounce_unmap(set, mb[i], 100, VTIO_DMA_TO_DEVICE, 0), 0);
	}
	/* 8 pools at most (VTIO_CONFIG_BOUNCE_MAX_POOLS). */
	struct tpool more[VTIO_CONFIG_BOUNCE_MAX_POOLS];
	int n = 0;
	for (; n < VTIO_CONFIG_BOUNCE_MAX_POOLS; n++) {
		c = tcfg_linear(2048, 0x1000000000ull + (uint64_t)n * 0x100000u);
		c.id = 100u + (uint32_t)n;
		assert_int_equal(tpool_init(&more[n], &c), 0);
		int r = vtio_bounce_set_register(set, more[n].pool);
		if (n < VTIO_CONFIG_BOUNCE_MAX_POOLS - 3)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, VTIO_ENOSPC);
	}
	for (int i = 0; i < n; i++) {
		if (i < VTIO_CONFIG_BOUNCE_MAX_POOLS - 3)
			assert_int_equal(vtio_bounce_set_unregister(set, more[i].pool), 0);
		tpool_fini(&more[i]);
	}
	assert_int_equal(vtio_bounce_set_unregister(set, low.pool), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, mid.pool), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, high.pool), 0);
	free(set);
	tpool_fini(&low);
	tpool_fini(&mid);
	tpool_fini(&high);
}

/* Affinity: the named pool first; restricted pools only when named; strict never falls back. */
static void test_affinity_and_restricted(void **state)
{
	(void)state;
	struct tpool shared, priv;
	struct vtio_bounce_pool_config c = tcfg_linear(2 * 2048, 0x20000000u);
	c.id = 1;
	assert_int_equal(tpool_init(&shared, &c), 0);
	c = tcfg_linear(2 * 2048, 0x30000000u);
	c.id = 2;
	c.flags = VTIO_BOUNCE_POOL_F_RESTRICTED;
	assert_int_equal(tpool_init(&priv, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, shared.pool), 0);
	assert_int_equal(vtio_bounce_set_register(set, priv.pool), 0);
	unsigned char b[10] = {0};
	uint64_t bus[3];
	struct vtio_bounce_dev anyd, named, strict;
	vtio_bounce_dev_init(&anyd, UINT64_MAX);
	vtio_bounce_dev_init(&named, UINT64_MAX);
	named.pool_id = 2;
	vtio_bounce_dev_init(&strict, UINT64_MAX);
	strict.pool_id = 2;
	strict.flags = VTIO_BOUNCE_DEV_F_STRICT;
	/* An ordinary device never lands in the restricted pool, even when the shared one is full.
	 */
	assert_int_equal(vtio_bounce_map(set, &anyd, b, 10, VTIO_DMA_TO_DEVICE, 0, &bus[0]), 0);
	assert_int_equal(vtio_bounce_map(set, &anyd, b, 10, VTIO_DMA_TO_DEVICE, 0, &bus[1]), 0);
	assert_true(bus[0] < 0x30000000u && bus[1] < 0x30000000u);
	assert_int_equal(vtio_bounce_map(set, &anyd, b, 10, VTIO_DMA_TO_DEVICE, 0, &bus[2]),
			 VTIO_ENOMEM);
	assert_int_equal(vtio_bounce_unmap(set, bus[1], 10, VTIO_DMA_TO_DEVICE, 0), 0);
	/* The strict device fills its pool and then fails instead of using the shared one. */
	uint64_t s0, s1, s2;
	assert_int_equal(vtio_bounce_map(set, &strict, b, 10, VTIO_DMA_TO_DEVICE, 0, &s0), 0);
	assert_int_equal(vtio_bounce_map(set, &strict, b, 10, VTIO_DMA_TO_DEVICE, 0, &s1), 0);
	assert_true(s0 >= 0x30000000u && s1 >= 0x30000000u);
	assert_int_equal(vtio_bounce_map(set, &strict, b, 10, VTIO_DMA_TO_DEVICE, 0, &s2),
			 VTIO_ENOMEM);
	/* The named, non-strict device falls back to the shared pool. */
	assert_int_equal(vtio_bounce_map(set, &named, b, 10, VTIO_DMA_TO_DEVICE, 0, &s2), 0);
	assert_true(s2 < 0x30000000u);
	assert_int_equal(vtio_bounce_unmap(set, s0, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	/* ... and prefers its own pool when it has room. */
	uint64_t s3;
	assert_int_equal(vtio_bounce_map(set, &named, b, 10, VTIO_DMA_TO_DEVICE, 0, &s3), 0);
	assert_int_equal(s3, s0);
	assert_int_equal(vtio_bounce_unmap(set, s1, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, s2, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, s3, 10, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, bus[0], 10, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, shared.pool), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, priv.pool), 0);
	free(set);
	tpool_fini(&shared);
	tpool_fini(&priv);
}

/* Registration at run time; removal of a busy pool is refused and harmless. */
static void test_register_unregister(void **state)
{
	(void)state;
	struct tpool a, b, clash, same_id;
	struct vtio_bounce_pool_config c = tcfg_linear(4 * 2048, 0x40000000u);
	c.id = 1;
	assert_int_equal(tpool_init(&a, &c), 0);
	c = tcfg_linear(4 * 2048, 0x50000000u);
	c.id = 2;
	assert_int_equal(tpool_init(&b, &c), 0);
	c = tcfg_linear(4 * 2048, 0x40001000u); /* overlaps a */
	c.id = 3;
	assert_int_equal(tpool_init(&clash, &c), 0);
	c = tcfg_linear(4 * 2048, 0x60000000u);
	c.id = 1; /* same id as a */
	assert_int_equal(tpool_init(&same_id, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	struct vtio_bounce_set *other = tset_new();
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	unsigned char buf[100] = {1};
	uint64_t bus;

	/* Empty set: no pool. */
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_ENODEV);
	assert_int_equal(vtio_bounce_set_unregister(set, a.pool), VTIO_ENOENT);
	assert_int_equal(vtio_bounce_set_register(set, a.pool), 0);
	assert_int_equal(vtio_bounce_set_register(set, a.pool), VTIO_EEXIST);
	assert_int_equal(vtio_bounce_set_register(other, a.pool), VTIO_EEXIST);
	assert_int_equal(vtio_bounce_set_register(set, clash.pool), VTIO_EEXIST);
	assert_int_equal(vtio_bounce_set_register(set, same_id.pool), VTIO_EEXIST);

	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	assert_true(bus >= 0x40000000u && bus < 0x40002000u);
	/* Busy: refused, and the pool keeps working. */
	assert_int_equal(vtio_bounce_set_unregister(set, a.pool), VTIO_EBUSY);
	uint64_t bus2;
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_BIDIRECTIONAL, 0, &bus2), 0);
	assert_int_equal(vtio_bounce_unmap(set, bus2, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	/* A new pool joins while a mapping is live; higher pools come first. */
	assert_int_equal(vtio_bounce_set_register(set, b.pool), 0);
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_BIDIRECTIONAL, 0, &bus2), 0);
	assert_true(bus2 >= 0x50000000u);
	assert_int_equal(vtio_bounce_unmap(set, bus2, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	/* An allocation keeps a pool busy too. */
	void *cpu;
	uint64_t abus;
	assert_int_equal(vtio_bounce_alloc(set, &d, 64, 0, &cpu, &abus), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, b.pool), VTIO_EBUSY);
	assert_int_equal(vtio_bounce_free(set, 64, cpu, abus), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, b.pool), 0);
	/* After removal its addresses are unknown and new maps go elsewhere. */
	assert_int_equal(vtio_bounce_set_find(set, abus, NULL, NULL), VTIO_ENOENT);
	assert_int_equal(vtio_bounce_unmap(set, abus, 64, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOENT);
	assert_int_equal(vtio_bounce_map(set, &d, buf, 100, VTIO_DMA_BIDIRECTIONAL, 0, &bus2), 0);
	assert_true(bus2 < 0x50000000u);
	assert_int_equal(vtio_bounce_unmap(set, bus2, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(vtio_bounce_unmap(set, bus, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(vtio_bounce_set_unregister(set, a.pool), 0);
	/* Re-registering (in another set too) works. */
	assert_int_equal(vtio_bounce_set_register(other, a.pool), 0);
	assert_int_equal(vtio_bounce_map(other, &d, buf, 100, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(vtio_bounce_unmap(other, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_bounce_set_unregister(other, a.pool), 0);
	free(set);
	free(other);
	tpool_fini(&a);
	tpool_fini(&b);
	tpool_fini(&clash);
	tpool_fini(&same_id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pieces_mapping),
	    cmocka_unit_test(test_callback_mapping),
	    cmocka_unit_test(test_pools_by_addressing_limit),
	    cmocka_unit_test(test_affinity_and_restricted),
	    cmocka_unit_test(test_register_unregister),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
