/*
 * The bounce sources compiled with a user configuration file
 * (bounce_test_config.h): counting cache-maintenance hooks show when map,
 * unmap and the syncs flush or invalidate, and that
 * VTIO_DMA_ATTR_SKIP_CPU_SYNC skips the maintenance (and the copy back at
 * unmap) but never the copy in at map; the CPU-id hook drives
 * VTIO_BOUNCE_AREA_CPU. The invalidate hook, which unmap calls between
 * checking a mapping and freeing its slots, lets one thread replay the
 * interleaving of a double unmap racing a new mapping of the same slots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
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

/* Called once from inside the next invalidate (then cleared). */
static void (*bt_window)(void);

void bt_invalidate(void *p, size_t n)
{
	(void)p;
	(void)n;
	bt_invalidates++;
	void (*w)(void) = bt_window;
	bt_window = NULL;
	if (w != NULL)
		w();
}

#define DEV 0x40000000u

static struct vtio_bounce_set *set;
static struct tpool tp;

static int setup(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config c = tcfg_linear(16 * 2048, DEV);
	c.nareas = 4;
	if (tpool_init(&tp, &c) != 0)
		return -1;
	set = tset_new();
	return vtio_bounce_set_register(set, tp.pool);
}

static int teardown(void **state)
{
	(void)state;
	int r = vtio_bounce_set_unregister(set, tp.pool);
	free(set);
	tpool_fini(&tp);
	return r;
}

static void counts(unsigned flushes, unsigned invalidates)
{
	assert_int_equal(bt_flushes, flushes);
	assert_int_equal(bt_invalidates, invalidates);
	bt_flushes = bt_invalidates = 0;
}

static void test_cache_hooks(void **state)
{
	(void)state;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	unsigned char buf[300];
	memset(buf, 0x21, sizeof(buf));
	uint64_t bus;
	bt_flushes = bt_invalidates = 0;

	/* Map: copy in and flush; with SKIP_CPU_SYNC still copy in, no flush. */
	assert_int_equal(vtio_bounce_map(set, &d, buf, 300, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	counts(1, 0);
	assert_int_equal(vtio_bounce_sync_for_device(set, bus, 300, VTIO_DMA_TO_DEVICE), 0);
	counts(1, 0);
	assert_int_equal(vtio_bounce_sync_for_cpu(set, bus, 300, VTIO_DMA_TO_DEVICE), 0);
	counts(0, 0);
	assert_int_equal(vtio_bounce_unmap(set, bus, 300, VTIO_DMA_TO_DEVICE, 0), 0);
	counts(0, 0);

	assert_int_equal(vtio_bounce_map(set, &d, buf, 300, VTIO_DMA_FROM_DEVICE,
					 VTIO_DMA_ATTR_SKIP_CPU_SYNC, &bus),
			 0);
	counts(0, 0);
	unsigned char *tlb = tset_cpu(set, bus);
	assert_memory_equal(tlb, buf, 300); /* copied in anyway (CVE-2022-0854) */
	assert_int_equal(vtio_bounce_sync_for_device(set, bus, 300, VTIO_DMA_FROM_DEVICE), 0);
	counts(0, 0);
	memset(tlb, 0x42, 10);
	assert_int_equal(vtio_bounce_sync_for_cpu(set, bus, 10, VTIO_DMA_FROM_DEVICE), 0);
	counts(0, 1);
	assert_int_equal(buf[9], 0x42);
	memset(tlb, 0x43, 300);
	/* Unmap with SKIP_CPU_SYNC: no invalidate, no copy back. */
	assert_int_equal(
	    vtio_bounce_unmap(set, bus, 300, VTIO_DMA_FROM_DEVICE, VTIO_DMA_ATTR_SKIP_CPU_SYNC), 0);
	counts(0, 0);
	assert_int_equal(buf[0], 0x42);
	assert_int_equal(buf[10], 0x21);

	/* BIDIRECTIONAL: unmap invalidates and copies back. */
	assert_int_equal(vtio_bounce_map(set, &d, buf, 300, VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	counts(1, 0);
	tlb = tset_cpu(set, bus);
	memset(tlb, 0x44, 300);
	assert_int_equal(vtio_bounce_unmap(set, bus, 300, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	counts(0, 1);
	assert_int_equal(buf[299], 0x44);
}

struct cpu_arg {
	unsigned cpu;
	uint64_t bus;
	int err;
};

static void *map_on_cpu(void *p)
{
	struct cpu_arg *a = p;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = VTIO_BOUNCE_AREA_CPU;
	static unsigned char b[16];
	bt_cpu = a->cpu;
	a->err = vtio_bounce_map(set, &d, b, sizeof(b), VTIO_DMA_TO_DEVICE, 0, &a->bus);
	return NULL;
}

/* VTIO_BOUNCE_AREA_CPU starts at the area of VTIO_BOUNCE_CPU_ID() (4 areas of 4 slots). */
static void test_area_follows_cpu(void **state)
{
	(void)state;
	unsigned cpus[] = {2, 5, 3, 0};
	uint64_t expect_slot[] = {8, 4, 12, 0};
	struct cpu_arg a[4];
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		a[i].cpu = cpus[i];
		assert_int_equal(pthread_create(&t, NULL, map_on_cpu, &a[i]), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(a[i].err, 0);
		assert_int_equal((a[i].bus - DEV) / 2048, expect_slot[i]);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(vtio_bounce_unmap(set, a[i].bus, 16, VTIO_DMA_TO_DEVICE, 0), 0);
}

/*
 * A double unmap racing a new mapping of the same slots, replayed in one
 * thread: unmap #1 of mapping M (FROM_DEVICE, so it copies back between
 * its checks and the release) is interrupted, in that window, by unmap #2
 * of M (the double unmap) and by a map M' of the same length and
 * direction, which first fit would place on M's slots once they are free.
 * Unmap #2 must be refused as a double unmap, M' must get other slots,
 * M's copy back must deliver M's bytes, and M' must survive intact: the
 * late release of unmap #1 must never free M''s slots.
 */
static unsigned char w_buf[300], w_buf2[300];
static uint64_t w_bus, w_bus2;
static int w_rc_unmap2, w_rc_map;

static void window_calls(void)
{
	w_rc_unmap2 = vtio_bounce_unmap(set, w_bus, sizeof(w_buf), VTIO_DMA_FROM_DEVICE, 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	memset(w_buf2, 0x3C, sizeof(w_buf2));
	w_rc_map =
	    vtio_bounce_map(set, &d, w_buf2, sizeof(w_buf2), VTIO_DMA_FROM_DEVICE, 0, &w_bus2);
}

static void test_double_unmap_window(void **state)
{
	(void)state;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	struct vtio_bounce_stats st0, st;
	vtio_bounce_pool_get_stats(tp.pool, &st0);
	memset(w_buf, 0x11, sizeof(w_buf));
	assert_int_equal(
	    vtio_bounce_map(set, &d, w_buf, sizeof(w_buf), VTIO_DMA_FROM_DEVICE, 0, &w_bus), 0);
	memset(tset_cpu(set, w_bus), 0x77, sizeof(w_buf)); /* the device's answer */
	bt_window = window_calls;
	assert_int_equal(vtio_bounce_unmap(set, w_bus, sizeof(w_buf), VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_null(bt_window); /* the window ran */
	assert_int_equal(w_rc_unmap2, VTIO_EALREADY);
	assert_int_equal(w_rc_map, 0);
	assert_int_not_equal(w_bus2, w_bus); /* M's slots were still taken */
	for (size_t i = 0; i < sizeof(w_buf); i++)
		assert_int_equal(w_buf[i], 0x77);
	/* M' is still mapped, with its own bytes, and unmaps once. */
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.in_use, st0.in_use + 1);
	assert_int_equal(st.fail_double, st0.fail_double + 1);
	unsigned char *tlb2 = tset_cpu(set, w_bus2);
	for (size_t i = 0; i < sizeof(w_buf2); i++)
		assert_int_equal(tlb2[i], 0x3C);
	assert_int_equal(vtio_bounce_sync_for_cpu(set, w_bus2, 10, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(vtio_bounce_unmap(set, w_bus2, sizeof(w_buf2), VTIO_DMA_FROM_DEVICE, 0),
			 0);
	assert_int_equal(vtio_bounce_unmap(set, w_bus2, sizeof(w_buf2), VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EALREADY);
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.in_use, st0.in_use);
	bt_flushes = bt_invalidates = 0;
}

/*
 * VTIO_BOUNCE_POOL_F_TRUSTED_DMA: a map zeroes only what earlier users of
 * its slots may have left (each slot's dirty extent), never more, and the
 * device still reads zeros outside the data; without the flag every map
 * zeroes all of its slack. Counted through the VTIO_MEMSET hook.
 */
static void test_trusted_dma_zeroes_only_dirty(void **state)
{
	(void)state;
	for (int trusted = 0; trusted < 2; trusted++) {
		struct tpool tq;
		struct vtio_bounce_pool_config c = tcfg_linear(8 * 2048, DEV + 0x100000u);
		c.flags = trusted ? VTIO_BOUNCE_POOL_F_TRUSTED_DMA : 0u;
		assert_int_equal(tpool_init(&tq, &c), 0);
		memset(tq.mem, 0xEE, tq.size); /* stale bytes everywhere */
		struct vtio_bounce_set *s2 = tset_new();
		assert_int_equal(vtio_bounce_set_register(s2, tq.pool), 0);
		struct vtio_bounce_dev d;
		vtio_bounce_dev_init(&d, UINT64_MAX);
		unsigned char big[3 * 2048], small[64];
		memset(big, 0x5A, sizeof(big));
		memset(small, 0x11, sizeof(small));
		uint64_t bus;

		/* First use of slot 0: its contents are unknown, all slack is zeroed. */
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_map(s2, &d, small, 64, VTIO_DMA_TO_DEVICE, 0, &bus),
				 0);
		assert_int_equal(bt_zeroed, 2048 - 64);
		unsigned char *run = tset_cpu(s2, bus);
		for (size_t i = 64; i < 2048; i++)
			assert_int_equal(run[i], 0);
		assert_int_equal(vtio_bounce_unmap(s2, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);

		/* Same slot, same size again: nothing left to zero when trusted. */
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_map(s2, &d, small, 64, VTIO_DMA_FROM_DEVICE, 0, &bus),
				 0);
		assert_int_equal(bt_zeroed, trusted ? 0u : 2048u - 64u);
		assert_int_equal(vtio_bounce_unmap(s2, bus, 64, VTIO_DMA_FROM_DEVICE, 0), 0);

		/* A secret over three whole slots, then 100 bytes at offset 0x345
		 * (min_align kept): every secret byte outside the data is zeroed. */
		assert_int_equal(
		    vtio_bounce_map(s2, &d, big, sizeof(big), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_ptr_equal(tset_cpu(s2, bus), run);
		assert_int_equal(vtio_bounce_unmap(s2, bus, sizeof(big), VTIO_DMA_TO_DEVICE, 0), 0);
		static _Alignas(2048) unsigned char raw[2 * 2048];
		unsigned char *p = raw + 0x345;
		memset(p, 0x33, 100);
		d.min_align_mask = 0x7ff;
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_map(s2, &d, p, 100, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_int_equal(bt_zeroed, 2048u - 100u);
		assert_ptr_equal(tset_cpu(s2, bus) - 0x345, run);
		for (size_t i = 0; i < 3 * 2048; i++)
			assert_int_equal(
			    run[i], i >= 0x345 && i < 0x345 + 100 ? 0x33 : (i < 2048 ? 0 : 0x5A));
		assert_int_equal(vtio_bounce_unmap(s2, bus, 100, VTIO_DMA_TO_DEVICE, 0), 0);
		d.min_align_mask = 0;

		/* 2049 bytes from offset 0 over slots 0..1: slot 0 had [0x345, +100)
		 * dirty (covered by data now), slot 1 the secret (all but 1 byte
		 * zeroed when trusted). */
		unsigned char mid[2049];
		memset(mid, 0x44, sizeof(mid));
		bt_zeroed = 0;
		assert_int_equal(
		    vtio_bounce_map(s2, &d, mid, sizeof(mid), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_int_equal(bt_zeroed, 2047u);
		for (size_t i = 0; i < 2 * 2048; i++)
			assert_int_equal(run[i], i < sizeof(mid) ? 0x44 : 0);
		assert_int_equal(vtio_bounce_unmap(s2, bus, sizeof(mid), VTIO_DMA_TO_DEVICE, 0), 0);

		/* An allocation hands its owner the whole run: the next map zeroes it all. */
		void *cpu;
		uint64_t abus;
		assert_int_equal(vtio_bounce_alloc(s2, &d, 100, 0, &cpu, &abus), 0);
		memset(cpu, 0x77, 2048);
		assert_int_equal(vtio_bounce_free(s2, 100, cpu, abus), 0);
		bt_zeroed = 0;
		assert_int_equal(vtio_bounce_map(s2, &d, small, 64, VTIO_DMA_TO_DEVICE, 0, &bus),
				 0);
		assert_int_equal(bt_zeroed, 2048u - 64u);
		for (size_t i = 64; i < 2048; i++)
			assert_int_equal(run[i], 0);
		assert_int_equal(vtio_bounce_unmap(s2, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);

		assert_int_equal(vtio_bounce_set_unregister(s2, tq.pool), 0);
		free(s2);
		tpool_fini(&tq);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_hooks),
	    cmocka_unit_test(test_area_follows_cpu),
	    cmocka_unit_test(test_double_unmap_window),
	    cmocka_unit_test(test_trusted_dma_zeroes_only_dirty),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
