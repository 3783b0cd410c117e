/*
 * The per-thread cache path with the bounce sources compiled against a user
 * configuration file (bounce_test_config.h, as test_bounce_hooks): counting
 * cache-maintenance hooks show that a map through a cache flushes the run
 * (unless VTIO_DMA_ATTR_SKIP_CPU_SYNC) and an unmap invalidates before the
 * copy back exactly when the plain unmap does; the counting memset shows
 * the zeroing each pool contract asks for, and no more; the CPU-id hook
 * picks the cache's area with VTIO_BOUNCE_AREA_CPU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bounce_test_util.h"

unsigned bt_flushes, bt_invalidates;
_Thread_local unsigned bt_cpu;
size_t bt_zeroed;

void *bt_memset(void *d, int c, size_t n)
{
	bt_zeroed += n;
	return memset(d, c, n);
}

void bt_invalidate(void *p, size_t n)
{
	(void)p;
	(void)n;
	bt_invalidates++;
}

#define DEV 0x40000000u

struct fx {
	struct vtio_bounce_set *set;
	struct tpool tp;
	struct vtio_bounce_cache c;
};

static void fx_init(struct fx *f, uint32_t flags)
{
	struct vtio_bounce_pool_config cfg = tcfg_linear(16 * 2048, DEV);
	cfg.nareas = 4;
	cfg.flags = flags;
	assert_int_equal(tpool_init(&f->tp, &cfg), 0);
	f->set = tset_new();
	assert_int_equal(vtio_bounce_set_register(f->set, f->tp.pool), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = VTIO_BOUNCE_AREA_CPU;
	assert_int_equal(vtio_bounce_cache_init(&f->c, f->set, &d), 0);
}

static void fx_fini(struct fx *f)
{
	assert_int_equal(vtio_bounce_cache_fini(&f->c), 0);
	assert_int_equal(vtio_bounce_set_unregister(f->set, f->tp.pool), 0);
	tpool_fini(&f->tp);
	free(f->set);
}

static void test_cache_maintenance(void **state)
{
	(void)state;
	struct fx f;
	bt_cpu = 0;
	fx_init(&f, 0);
	static unsigned char buf[4096];
	for (int dir = 0; dir < 3; dir++) {
		for (int skip = 0; skip < 2; skip++) {
			uint32_t attrs = skip ? VTIO_DMA_ATTR_SKIP_CPU_SYNC : 0;
			uint64_t bus;
			unsigned fl = bt_flushes, inv = bt_invalidates;
			assert_int_equal(vtio_bounce_cache_map(&f.c, buf, 3000,
							       (enum vtio_dma_dir)dir, attrs, &bus),
					 0);
			assert_int_equal(bt_flushes - fl, skip ? 0u : 1u);
			assert_int_equal(
			    vtio_bounce_cache_unmap(&f.c, bus, 3000, (enum vtio_dma_dir)dir, attrs),
			    0);
			bool back = dir != VTIO_DMA_TO_DEVICE && !skip;
			assert_int_equal(bt_invalidates - inv, back ? 1u : 0u);
			assert_int_equal(bt_flushes - fl, skip ? 0u : 1u);
		}
	}
	fx_fini(&f);
}

/* Default pool: every map zeroes its slack; TRUSTED_DMA: only what the
 * previous mapping of the slot left; SCRUB: the whole run at unmap. */
static void test_cache_zeroing(void **state)
{
	(void)state;
	static unsigned char buf[4096];
	static const uint32_t flags[] = {0, VTIO_BOUNCE_POOL_F_TRUSTED_DMA,
					 VTIO_BOUNCE_POOL_F_SCRUB};
	for (int i = 0; i < 3; i++) {
		struct fx f;
		bt_cpu = 0;
		fx_init(&f, flags[i]);
		uint64_t bus;
		/* first use of the slot: its contents are unknown */
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_cache_map(&f.c, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus),
				 0);
		assert_int_equal(bt_zeroed, 2048u - 64u);
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_cache_unmap(&f.c, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
		assert_int_equal(bt_zeroed, flags[i] == VTIO_BOUNCE_POOL_F_SCRUB ? 2048u : 0u);
		/* the same slot again (LIFO) */
		uint64_t again;
		bt_zeroed = 0;
		assert_int_equal(
		    vtio_bounce_cache_map(&f.c, buf, 64, VTIO_DMA_TO_DEVICE, 0, &again), 0);
		assert_int_equal(again, bus);
		assert_int_equal(bt_zeroed,
				 flags[i] == VTIO_BOUNCE_POOL_F_TRUSTED_DMA ? 0u : 2048u - 64u);
		assert_int_equal(vtio_bounce_cache_unmap(&f.c, again, 64, VTIO_DMA_TO_DEVICE, 0),
				 0);
		/* a full two-slot run has no slack */
		bt_zeroed = 0;
		assert_int_equal(
		    vtio_bounce_cache_map(&f.c, buf, 4096, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_int_equal(bt_zeroed, 0u);
		assert_int_equal(vtio_bounce_cache_unmap(&f.c, bus, 4096, VTIO_DMA_TO_DEVICE, 0),
				 0);
		fx_fini(&f);
	}
}

/* VTIO_BOUNCE_AREA_CPU: the cache takes its runs from the CPU's area
 * (4 areas of 4 slots), read once at init. */
static void test_cache_area_follows_cpu(void **state)
{
	(void)state;
	static unsigned char buf[64];
	for (unsigned cpu = 0; cpu < 6; cpu++) {
		struct fx f;
		bt_cpu = cpu;
		fx_init(&f, 0);
		bt_cpu = 0; /* read at init only */
		uint64_t bus;
		assert_int_equal(vtio_bounce_cache_map(&f.c, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus),
				 0);
		assert_int_equal((bus - DEV) / 2048u / 4u, cpu % 4u);
		assert_int_equal(vtio_bounce_cache_unmap(&f.c, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
		fx_fini(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_maintenance),
	    cmocka_unit_test(test_cache_zeroing),
	    cmocka_unit_test(test_cache_area_follows_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
